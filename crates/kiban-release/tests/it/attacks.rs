//! Attacks on what leaves: each declared attacker model is tried on the released CSV files by code written
//! here, apart from the engine's enforcement and the report's measurement (`measure.rs`), and must find
//! no class below the model's k; the figures of `report.json` must equal the attack's.
//!
//! The attacker's knowledge, per model:
//! - demographics: the person's released person-level values;
//! - codes: up to m of the person's distinct codes at the model's hierarchy level (with the demographics
//!   when the model says so);
//! - events: up to m of the person's distinct (code, date) events, the codes at the model's level and the
//!   distance of each from the earliest chosen date known to within the window (in whole windows, in the
//!   released date granularity);
//! - counts: the number of the person's rows in a table;
//! - the date sequence (residual): every interval between the person's encounter dates.
//!
//! A person's class is the number of released persons the attacker cannot tell them from: for set
//! knowledge, the fewest persons holding any min(m, n) of the person's n items.
//!
//! The cohort has 20,000 persons generated in memory; nothing here needs `../shared/data`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use kiban_engine::{Knowledge, ReleasePolicy};
use kiban_model::NaiveDate;
use kiban_synth::SynthConfig;

use super::{Output, linked, release};

const PERSONS: usize = 20_000;

/// One released CSV table: its header and its rows, cells as text ("" for an empty cell).
struct Csv {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Csv {
    fn read(dir: &Path, table: &str) -> Csv {
        let path = dir.join(format!("csv/{table}.csv"));
        let mut reader =
            csv::Reader::from_path(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        let header = reader.headers().expect("header").iter().map(str::to_owned).collect();
        let rows = reader
            .records()
            .map(|record| record.expect("a CSV row").iter().map(str::to_owned).collect())
            .collect();
        Csv { header, rows }
    }

    fn index(&self, column: &str) -> usize {
        self.header.iter().position(|name| name == column).unwrap_or_else(|| panic!("no column {column}"))
    }
}

/// The released persons: each pseudonym's demographic values joined into one key.
struct Persons {
    demographics: BTreeMap<String, String>,
}

impl Persons {
    fn read(dir: &Path) -> Persons {
        let csv = Csv::read(dir, "persons");
        let person = csv.index("person");
        let columns: Vec<usize> = (0..csv.header.len())
            .filter(|idx| !matches!(csv.header[*idx].as_str(), "person" | "provision_id"))
            .collect();
        assert!(!columns.is_empty(), "the persons table releases demographics");
        let demographics = csv
            .rows
            .iter()
            .map(|row| {
                let key: Vec<&str> = columns.iter().map(|idx| row[*idx].as_str()).collect();
                (row[person].clone(), key.join("\u{1f}"))
            })
            .collect();
        Persons { demographics }
    }

    /// The attacker's starting point: the demographics, or nothing.
    fn prefix(&self, person: &str, with_demographics: bool) -> String {
        if with_demographics { self.demographics[person].clone() } else { String::new() }
    }
}

/// An ICD-10 code at a level as an attacker reading the codes would take it: a range label (block or
/// chapter) is already coarser than a category and stays; a code of the letter-digit-digit shape becomes
/// its first three characters at the category level. Other levels are not attacked here.
fn icd10_at(code: &str, level: usize) -> String {
    match level {
        0 => code.to_owned(),
        1 => {
            let bytes = code.as_bytes();
            let shaped = bytes.len() >= 3
                && bytes[0].is_ascii_uppercase()
                && bytes[1].is_ascii_digit()
                && bytes[2].is_ascii_digit()
                && !code.contains('-');
            if shaped { code[..3].to_owned() } else { code.to_owned() }
        }
        _ => panic!("the attack knows ICD-10 codes and categories only"),
    }
}

/// Each person's class from the item sets: the fewest persons (with the same prefix) holding any
/// min(m, n) of the person's n items. `items` are canonical strings; persons without items are in a
/// class with everyone of their prefix.
fn set_classes(
    persons: &Persons,
    items: &BTreeMap<String, Vec<Item>>,
    m: usize,
    demographics: bool,
) -> Vec<usize> {
    let mut holders: HashMap<String, BTreeSet<&str>> = HashMap::new();
    let mut prefix_sizes: HashMap<String, usize> = HashMap::new();
    let mut wanted: Vec<(String, Vec<String>)> = Vec::new();
    for person in persons.demographics.keys() {
        let prefix = persons.prefix(person, demographics);
        *prefix_sizes.entry(prefix.clone()).or_default() += 1;
        let set = items.get(person).map(Vec::as_slice).unwrap_or_default();
        let mut own = Vec::new();
        for size in 1..=m.min(set.len()) {
            for chosen in choose(set, size) {
                let key = format!("{prefix}\u{1e}{}", describe(&chosen));
                holders.entry(key.clone()).or_default().insert(person);
                if size == m.min(set.len()) {
                    own.push(key);
                }
            }
        }
        wanted.push((prefix, own));
    }
    wanted
        .iter()
        .map(|(prefix, own)| match own.iter().map(|key| holders[key].len()).min() {
            Some(smallest) => smallest,
            None => prefix_sizes[prefix],
        })
        .collect()
}

/// One distinct item of a person: a code and, for events, a time in units of the released granularity.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Item {
    time: Option<i64>,
    code: String,
    step: i64,
}

/// The attacker's view of chosen items: each code with how many windows its date lies after the
/// earliest chosen date, as a sorted list (the attacker knows which events, not in which order they were
/// picked); one item is its code alone.
fn describe(chosen: &[&Item]) -> String {
    let earliest = chosen.iter().filter_map(|item| item.time).min();
    let mut parts: Vec<String> = chosen
        .iter()
        .map(|item| match (chosen.len(), earliest, item.time) {
            (1, _, _) => item.code.clone(),
            (_, Some(earliest), Some(time)) => {
                format!("{}@{}", item.code, (time - earliest).div_euclid(item.step))
            }
            _ => format!("{}@?", item.code),
        })
        .collect();
    parts.sort();
    parts.join("|")
}

/// Every choice of `size` items of `set`, each in the set's order.
fn choose(set: &[Item], size: usize) -> Vec<Vec<&Item>> {
    if size == 0 {
        return vec![Vec::new()];
    }
    let mut out = Vec::new();
    for (idx, item) in set.iter().enumerate() {
        for mut rest in choose(&set[idx + 1..], size - 1) {
            rest.insert(0, item);
            out.push(rest);
        }
    }
    out
}

/// A released date in units of a granularity, with the step that a window of `window_days` covers.
fn time_of(text: &str, granularity: &str, window_days: u32) -> Option<(i64, i64)> {
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    let epoch = NaiveDate::from_ymd_opt(1, 1, 1).expect("valid date");
    let days = (date - epoch).num_days();
    let window = i64::from(window_days);
    Some(match granularity {
        "day" => (days, window.max(1)),
        "week" => (days.div_euclid(7), (window + 6).div_euclid(7).max(1)),
        "month" => {
            use chrono::Datelike;
            (i64::from(date.year()) * 12 + i64::from(date.month0()), (window + 29).div_euclid(30).max(1))
        }
        other => panic!("unknown granularity {other}"),
    })
}

/// A table's rows grouped by person, each row as the values of `columns`.
fn by_person(dir: &Path, table: &str, columns: &[&str]) -> BTreeMap<String, Vec<Vec<String>>> {
    let csv = Csv::read(dir, table);
    let person = csv.index("person");
    let indices: Vec<usize> = columns.iter().map(|column| csv.index(column)).collect();
    let mut grouped: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
    for row in &csv.rows {
        grouped
            .entry(row[person].clone())
            .or_default()
            .push(indices.iter().map(|idx| row[*idx].clone()).collect());
    }
    grouped
}

/// For knowledge that is one key per person: each person's class is the persons with the same key.
fn partition_classes(keys: &[String]) -> Vec<usize> {
    let mut sizes: HashMap<&str, usize> = HashMap::new();
    for key in keys {
        *sizes.entry(key).or_default() += 1;
    }
    keys.iter().map(|key| sizes[key.as_str()]).collect()
}

/// Each released person's class under one attacker model, tried on the files in `dir`.
fn attack(dir: &Path, persons: &Persons, knowledge: &Knowledge) -> Vec<usize> {
    match knowledge {
        Knowledge::Demographics => {
            partition_classes(&persons.demographics.values().cloned().collect::<Vec<_>>())
        }
        Knowledge::Codes { table, column, level, m, demographics, .. } => {
            assert_eq!(table, "diagnoses", "the attack reads ICD-10 codes");
            let items = by_person(dir, table, &[column])
                .into_iter()
                .map(|(person, rows)| {
                    let set: BTreeSet<Item> = rows
                        .iter()
                        .filter(|row| !row[0].is_empty())
                        .map(|row| Item { time: None, code: icd10_at(&row[0], *level), step: 1 })
                        .collect();
                    (person, set.into_iter().collect())
                })
                .collect();
            set_classes(persons, &items, *m, *demographics)
        }
        Knowledge::Events {
            table,
            column,
            date_column,
            granularity,
            level,
            m,
            window_days,
            demographics,
            ..
        } => {
            assert_eq!(table, "diagnoses", "the attack reads ICD-10 codes");
            let date_column = date_column.as_deref().expect("an events model has dates");
            let items = by_person(dir, table, &[column, date_column])
                .into_iter()
                .map(|(person, rows)| {
                    let set: BTreeSet<Item> = rows
                        .iter()
                        .filter(|row| !row[0].is_empty())
                        .map(|row| {
                            let time = time_of(&row[1], granularity, *window_days);
                            Item {
                                time: time.map(|(time, _)| time),
                                code: icd10_at(&row[0], *level),
                                step: time.map_or(1, |(_, step)| step),
                            }
                        })
                        .collect();
                    (person, set.into_iter().collect())
                })
                .collect();
            set_classes(persons, &items, *m, *demographics)
        }
        Knowledge::Counts { table, demographics } => {
            let rows = by_person(dir, table, &[]);
            let keys: Vec<String> = persons
                .demographics
                .keys()
                .map(|person| {
                    let count = rows.get(person).map_or(0, Vec::len);
                    format!("{}\u{1e}{count}", persons.prefix(person, *demographics))
                })
                .collect();
            partition_classes(&keys)
        }
        Knowledge::Sequence { table, date_column, demographics } => {
            let rows = by_person(dir, table, &[date_column]);
            let keys: Vec<String> = persons
                .demographics
                .keys()
                .map(|person| {
                    let mut dates: Vec<NaiveDate> = rows
                        .get(person)
                        .into_iter()
                        .flatten()
                        .filter_map(|row| NaiveDate::parse_from_str(&row[0], "%Y-%m-%d").ok())
                        .collect();
                    dates.sort();
                    let gaps: Vec<String> =
                        dates.windows(2).map(|pair| (pair[1] - pair[0]).num_days().to_string()).collect();
                    format!("{}\u{1e}{}", persons.prefix(person, *demographics), gaps.join(","))
                })
                .collect();
            partition_classes(&keys)
        }
    }
}

/// What the attack found for one model.
#[derive(Debug, PartialEq)]
struct Found {
    n_persons: usize,
    n_unique: usize,
    n_below_k: usize,
    smallest_class: Option<usize>,
}

fn found(classes: &[usize], k: usize) -> Found {
    Found {
        n_persons: classes.len(),
        n_unique: classes.iter().filter(|size| **size == 1).count(),
        n_below_k: classes.iter().filter(|size| **size < k).count(),
        smallest_class: classes.iter().copied().min(),
    }
}

/// The same figures as `report.json` gives them for the model named `name`, with its average risk.
fn reported(dir: &Path, name: &str) -> (Found, f64) {
    let text = std::fs::read_to_string(dir.join("report.json")).expect("report.json");
    let report: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let model = report["risk"]["models"]
        .as_array()
        .expect("risk.models")
        .iter()
        .find(|model| model["name"] == name)
        .unwrap_or_else(|| panic!("report.json has no model {name}"));
    let count = |field: &str| model[field].as_u64().unwrap_or_else(|| panic!("{field}")) as usize;
    let found = Found {
        n_persons: count("n_persons"),
        n_unique: count("n_unique"),
        n_below_k: count("n_below_k"),
        smallest_class: model["smallest_class"].as_u64().map(|size| size as usize),
    };
    (found, model["average"].as_f64().expect("average"))
}

/// Tries every model of the release (declared and residual) on its files, checks that the report says
/// what the attack found, and returns the declared models' findings by name.
fn attack_release(dir: &Path, output: &Output) -> BTreeMap<String, (usize, Found)> {
    let persons = Persons::read(dir);
    assert_eq!(persons.demographics.len(), output.summary.n_persons_released);
    let mut declared = BTreeMap::new();
    for model in &output.summary.models {
        let classes = attack(dir, &persons, &model.knowledge);
        let ours = found(&classes, model.k);
        let average = classes.iter().map(|size| 1.0 / *size as f64).sum::<f64>() / classes.len() as f64;
        let (theirs, reported_average) = reported(dir, &model.name);
        assert_eq!(theirs, ours, "report.json and the attack disagree on {}", model.name);
        assert!(
            (reported_average - average).abs() < 1e-9,
            "{}: average {reported_average} vs {average}",
            model.name
        );
        if !model.residual {
            declared.insert(model.name.clone(), (model.k, ours));
        }
    }
    declared
}

fn cohort_persons() -> kiban_synth::Cohort {
    kiban_synth::generate(&SynthConfig {
        n_patients: PERSONS,
        n_providers: 3,
        seed: 11,
        ..SynthConfig::default()
    })
}

fn models_policy(mode: &str) -> ReleasePolicy {
    let dates = if mode == "pseudonymized" { "keep" } else { "date_shift" };
    let text = format!(
        r#"
mode = "{mode}"
reference_date = 2026-04-01
[recipient]
name = "Test University"
address = "Tokyo"
[privacy]
k = 5
suppression_limit = 0.05
population = 200000
[[privacy.codes]]
table = "diagnoses"
level = "category"
m = 2
k = 5
[[privacy.events]]
table = "diagnoses"
level = "category"
m = 2
window_days = 180
k = 3
demographics = false
suppression_limit = 0.2
[[privacy.counts]]
table = "encounters"
k = 5
demographics = false
suppression_limit = 0.05
[columns.persons]
person_id = "pseudonym"
birth_date = {{ generalize = "age_band", width = 10 }}
sex = "keep"
address = {{ generalize = "prefecture" }}
[columns.encounters]
class = "keep"
start_date = "{dates}"
[columns.diagnoses]
icd10 = "keep"
onset_date = "{dates}"
[columns.prescriptions]
drug_code = "keep"
date = "{dates}"
"#
    );
    ReleasePolicy::parse(&text).unwrap_or_else(|errors| panic!("{errors}"))
}

#[test]
fn every_declared_model_holds_against_an_attack_on_the_released_files() {
    let cohort = cohort_persons();
    let persons = linked(&cohort);
    let no_ids = BTreeMap::new();
    let work = tempfile::tempdir().expect("temp dir");

    let dir = work.path().join("anonymized");
    let (output, _) = release(&persons, &models_policy("anonymized"), "R0101", &no_ids, &dir);
    assert!(output.summary.n_persons_released * 100 >= persons.len() * 90, "most persons are released");
    let declared = attack_release(&dir, &output);
    let kinds: BTreeSet<&str> = output
        .summary
        .models
        .iter()
        .filter(|model| !model.residual)
        .map(|model| match model.knowledge {
            Knowledge::Demographics => "demographics",
            Knowledge::Codes { .. } => "codes",
            Knowledge::Events { .. } => "events",
            Knowledge::Counts { .. } => "counts",
            Knowledge::Sequence { .. } => "sequence",
        })
        .collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["codes", "counts", "demographics", "events"]),
        "all four kinds declared"
    );
    for (name, (k, found)) in &declared {
        assert_eq!(found.n_below_k, 0, "{name}: {found:?} below k = {k}");
        assert!(found.smallest_class.is_some_and(|size| size >= *k), "{name}: {found:?}");
    }

    // The same models on a pseudonymized release are measured, not enforced: the report shows what an
    // attacker would find, and it is what the attack finds.
    let dir = work.path().join("pseudonymized");
    let (output, _) = release(&persons, &models_policy("pseudonymized"), "R0102", &no_ids, &dir);
    assert_eq!(output.summary.n_persons_released, persons.len(), "nobody is suppressed");
    let declared = attack_release(&dir, &output);
    assert!(
        declared.values().all(|(_, found)| found.n_below_k > 0),
        "the cohort has persons every unenforced model singles out, so the anonymized release's \
         findings mean something: {declared:?}"
    );
}

#[test]
fn the_built_in_policy_leaves_nobody_unique_on_demographics_and_two_diagnosis_categories() {
    let cohort = cohort_persons();
    let persons = linked(&cohort);
    let no_ids = BTreeMap::new();
    let work = tempfile::tempdir().expect("temp dir");
    let recipient =
        kiban_engine::policy::Recipient { name: "Test University".to_owned(), address: "Tokyo".to_owned() };
    let policy = ReleasePolicy::default_anonymized(recipient);
    let dir = work.path().join("built-in");
    let (output, _) = release(&persons, &policy, "R0103", &no_ids, &dir);
    let declared = attack_release(&dir, &output);

    // Independently of the summary's model list: demographics + any 2 diagnosis categories.
    let knowledge = Knowledge::Codes {
        table: "diagnoses".to_owned(),
        column: "icd10".to_owned(),
        code_system: None,
        level: 1,
        m: 2,
        demographics: true,
    };
    let classes = attack(&dir, &Persons::read(&dir), &knowledge);
    let found = found(&classes, 5);
    assert_eq!(found.n_unique, 0, "{found:?}");
    assert_eq!(found.n_below_k, 0, "{found:?}");
    assert_eq!(found.n_persons, output.summary.n_persons_released);
    assert!(declared.values().any(|(_, theirs)| *theirs == found), "the built-in codes model is declared");
    assert!(declared.values().all(|(k, found)| found.n_below_k == 0 && *k >= 5), "{declared:?}");
}
