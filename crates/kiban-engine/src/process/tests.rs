//! Tests of processing linked records into an anonymized dataset.

use std::collections::{BTreeMap, HashMap};

use kiban_columnar::{ColumnData, Table};
use kiban_crypto::{DateShiftKey, PseudonymKey, SecretKey};
use kiban_model::{
    Encounter, EncounterClass, IdentifiedPerson, Insurance, LocalPatientId, NaiveDate, PatientRecord,
    PersonName, ProviderCode, Sex,
};

use super::*;
use crate::dataset::ProcessingSummary;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// `n` persons, each at one provider, with two encounters 10 days apart; ages spread over a few bands.
fn records(n: usize) -> Vec<PatientRecord> {
    (0..n)
        .map(|idx| {
            let provider = ProviderCode::new("1310000001").unwrap();
            let mut person =
                IdentifiedPerson::new(provider, LocalPatientId::new(&format!("LOCAL{idx:05}")).unwrap());
            person.name_kanji = Some(PersonName::new("試験", &format!("太郎{idx}")));
            person.name_kana = Some(PersonName::new("シケン", "タロウ"));
            person.birth_date = Some(date(1940 + (idx % 4) as i32 * 7, 1 + (idx % 12) as u32, 10));
            person.sex = if idx % 2 == 0 { Sex::Male } else { Sex::Female };
            person.address =
                Some(if idx % 3 == 0 { "東京都千代田区1-1" } else { "大阪府大阪市北区2-2" }.to_owned());
            person.phone = Some(format!("03-0000-{idx:04}"));
            person
                .insurances
                .push(Insurance { insurer_number: "01130012".to_owned(), ..Insurance::default() });
            let mut record = PatientRecord::new(person);
            let start = date(2020, 1, 1) + chrono::Duration::days(idx as i64);
            record.encounters.push(Encounter {
                class: EncounterClass::Outpatient,
                start,
                end: None,
                department: Some("内科".to_owned()),
            });
            record.encounters.push(Encounter {
                class: EncounterClass::Inpatient,
                start: start + chrono::Duration::days(10),
                end: Some(start + chrono::Duration::days(14)),
                department: None,
            });
            record
        })
        .collect()
}

fn keys(seed: u8) -> ReleaseKeys {
    let master = SecretKey::from_bytes([seed; 32]);
    ReleaseKeys {
        pseudonym: PseudonymKey::derive_from(&master, b"release-1"),
        date_shift: DateShiftKey::derive_from(&master, b"release-1"),
    }
}

fn policy(k: usize) -> ReleasePolicy {
    let mut policy = ReleasePolicy::default_anonymized(crate::policy::Recipient {
        name: "U".to_owned(),
        address: "A".to_owned(),
    });
    policy.privacy.k = k;
    policy.privacy.suppression_limit = 0.1;
    policy.reference_date = Some(date(2026, 4, 1));
    policy
}

fn linked(records: &[PatientRecord]) -> Vec<LinkedPerson<'_>> {
    records
        .iter()
        .enumerate()
        .map(|(idx, record)| LinkedPerson { person_id: format!("P{idx}"), records: vec![record] })
        .collect()
}

/// What a test looks at: the released tables and the summary.
struct Output {
    tables: Vec<Table>,
    summary: ProcessingSummary,
}

fn run_policy(records: &[PatientRecord], policy: &ReleasePolicy, seed: u8) -> Result<Output, ProcessError> {
    let no_ids = BTreeMap::new();
    let inputs = ProcessInputs { release_date: date(2026, 4, 1), provision_ids: &no_ids };
    let persons = linked(records);
    let keys = keys(seed);
    let dataset = process(&persons, policy, &keys, &inputs)?;
    Ok(Output { tables: dataset.tables()?, summary: dataset.summary().clone() })
}

fn run(records: &[PatientRecord], k: usize, seed: u8) -> Output {
    run_policy(records, &policy(k), seed).unwrap()
}

fn table<'a>(output: &'a Output, name: &str) -> &'a Table {
    output.tables.iter().find(|table| table.name() == name).unwrap()
}

fn strings(table: &Table, column: &str) -> Vec<String> {
    (0..table.n_rows())
        .map(|row| table.column(column).unwrap().data.text_at(row).unwrap_or_default())
        .collect()
}

#[test]
fn every_person_class_is_at_least_k() {
    let dataset = run(&records(200), 5, 1);
    let persons = table(&dataset, "persons");
    let mut classes: HashMap<(String, String, String), usize> = HashMap::new();
    let (ages, sexes, prefectures) =
        (strings(persons, "age_band"), strings(persons, "sex"), strings(persons, "prefecture"));
    for row in 0..persons.n_rows() {
        *classes.entry((ages[row].clone(), sexes[row].clone(), prefectures[row].clone())).or_default() += 1;
    }
    assert!(classes.values().all(|size| *size >= 5), "a class is smaller than k");
    let summary = &dataset.summary;
    let kanon = summary.kanon.as_ref().unwrap();
    assert_eq!(summary.n_persons_released + kanon.n_persons_suppressed, 200);
    assert_eq!(persons.n_rows(), summary.n_persons_released);
}

#[test]
fn no_identifier_reaches_any_table() {
    let source = records(50);
    let dataset = run(&source, 2, 1);
    let mut forbidden: Vec<String> = Vec::new();
    for record in &source {
        let person = &record.person;
        forbidden.push(person.local_id.as_str().to_owned());
        forbidden.push(person.name_kanji.as_ref().unwrap().joined());
        forbidden.push(person.phone.clone().unwrap());
        forbidden.push(person.address.clone().unwrap());
        forbidden.push(person.birth_date.unwrap().format("%Y-%m-%d").to_string());
        forbidden.push(person.insurances[0].insurer_number.clone());
    }
    for table in &dataset.tables {
        for column in table.columns() {
            for row in 0..table.n_rows() {
                if let Some(cell) = column.data.text_at(row) {
                    assert!(
                        !forbidden.iter().any(|value| cell.contains(value.as_str())),
                        "{}.{} row {row} holds a source identifier",
                        table.name(),
                        column.name
                    );
                }
            }
        }
    }
}

#[test]
fn dates_shift_but_intervals_stay_exact() {
    let source = records(40);
    let dataset = run(&source, 2, 1);
    let encounters = table(&dataset, "encounters");
    let ColumnData::Date(starts) = &encounters.column("start_date").unwrap().data else { panic!("type") };
    let ColumnData::Date(ends) = &encounters.column("end_date").unwrap().data else { panic!("type") };
    let persons = strings(encounters, "person");
    let mut by_person: HashMap<&str, Vec<(NaiveDate, Option<NaiveDate>)>> = HashMap::new();
    for row in 0..encounters.n_rows() {
        by_person.entry(&persons[row]).or_default().push((starts[row].unwrap(), ends[row]));
    }
    let mut shifted = 0;
    for events in by_person.values() {
        assert_eq!(events.len(), 2);
        assert_eq!((events[1].0 - events[0].0).num_days(), 10, "interval between visit and admission");
        assert_eq!((events[1].1.unwrap() - events[1].0).num_days(), 4, "length of stay");
        if !source.iter().any(|record| record.encounters[0].start == events[0].0) {
            shifted += 1;
        }
    }
    assert!(shifted > 0, "dates must move");
}

#[test]
fn pseudonyms_differ_between_releases_and_repeat_within_one() {
    let source = records(30);
    let first = strings(table(&run(&source, 2, 1), "persons"), "person");
    let again = strings(table(&run(&source, 2, 1), "persons"), "person");
    let other = strings(table(&run(&source, 2, 2), "persons"), "person");
    assert_eq!(first, again, "same keys, same output");
    assert!(
        first.iter().all(|pseudonym| !other.contains(pseudonym)),
        "another release key, other pseudonyms"
    );
}

#[test]
fn too_few_persons_is_an_error_not_an_empty_release() {
    let source = records(3);
    let mut strict = policy(5);
    strict.privacy.suppression_limit = 0.0;
    assert!(matches!(run_policy(&source, &strict, 1), Err(ProcessError::Anonymization(_))));
}

#[test]
fn ages_band_and_top_code() {
    assert_eq!(age_at(date(1950, 4, 2), date(2026, 4, 1)), 75);
    assert_eq!(age_at(date(1950, 4, 1), date(2026, 4, 1)), 76);
    assert_eq!(age_label(0, 5, 90), "0-4");
    assert_eq!(age_label(44, 5, 90), "40-44");
    assert_eq!(age_label(89, 5, 90), "85-89");
    assert_eq!(age_label(90, 5, 90), "90+");
    assert_eq!(age_label(116, 5, 90), "90+");
    assert_eq!(age_label(116, 1, 90), "90+");
    assert_eq!(age_label(89, 1, 90), "89");
    assert_eq!(age_label(85, 20, 90), "80+");
}

/// `n` persons with a common diagnosis, one of whom also has a rare one.
fn records_with_diagnoses(n: usize) -> Vec<PatientRecord> {
    let mut source = records(n);
    for (idx, record) in source.iter_mut().enumerate() {
        let diagnosis = |icd10: &str, medis: Option<&str>| kiban_model::Diagnosis {
            icd10: Some(icd10.to_owned()),
            medis_code: medis.map(str::to_owned),
            name: None,
            onset: Some(date(2020, 2, 1)),
            suspected: false,
            main: false,
        };
        record.diagnoses.push(diagnosis("E119", None));
        if idx == 0 {
            record.diagnoses.push(diagnosis("E752", Some("20060000")));
        }
    }
    source
}

#[test]
fn a_rare_code_is_treated_and_its_name_withheld_while_common_codes_stay() {
    let source = records_with_diagnoses(60);
    let output = run(&source, 5, 1);
    let diagnoses = table(&output, "diagnoses");
    let codes = strings(diagnoses, "icd10");
    assert!(!codes.iter().any(|code| code == "E752"), "the rare code is not released as it is");
    let common = codes.iter().filter(|code| *code == "E119").count();
    assert!(common >= 55, "the common code stays at full detail ({common} rows)");
    assert!(
        strings(diagnoses, "medis_code").iter().all(String::is_empty),
        "the rare code's MEDIS code is withheld"
    );
    assert!(output.summary.peculiar.iter().any(|decision| decision.column == "diagnoses.icd10"));
    // Pseudonymized: the rare code stays.
    let mut pseudonymized = policy(5);
    pseudonymized.mode = crate::policy::Mode::Pseudonymized;
    for table in pseudonymized.columns.values_mut() {
        for action in table.values_mut() {
            if *action == crate::policy::Action::DateShift {
                *action = crate::policy::Action::Keep;
            }
        }
    }
    pseudonymized.columns.get_mut("persons").unwrap().insert(
        "birth_date".to_owned(),
        crate::policy::Action::Generalize(crate::policy::Generalization::Year),
    );
    let output = run_policy(&source, &pseudonymized, 1).unwrap();
    assert!(strings(table(&output, "diagnoses"), "icd10").iter().any(|code| code == "E752"));
    assert!(output.summary.peculiar.is_empty());
}

#[test]
fn l_diversity_of_the_main_diagnosis_chapter_holds_in_every_class() {
    let mut source = records(300);
    for (idx, record) in source.iter_mut().enumerate() {
        // Chapters by age group, so some classes would be uniform without the model.
        let code = if idx % 4 == 0 || (idx % 4 == 1 && idx % 3 == 0) { "I10" } else { "E119" };
        record.diagnoses.push(kiban_model::Diagnosis {
            icd10: Some(code.to_owned()),
            medis_code: None,
            name: None,
            onset: Some(date(2020, 3, 1)),
            suspected: false,
            main: true,
        });
    }
    let mut diverse = policy(5);
    diverse.privacy.sensitive = vec![crate::policy::SensitiveModel::DistinctL(2)];
    let output = run_policy(&source, &diverse, 1).unwrap();
    let kanon = output.summary.kanon.as_ref().unwrap();
    assert!(kanon.models.iter().any(|model| model.contains("2-diversity")), "{:?}", kanon.models);
    // Each released person's chapter, from the diagnoses table; then per class the distinct chapters.
    let diagnoses = table(&output, "diagnoses");
    let chapter_of: HashMap<String, String> = strings(diagnoses, "person")
        .into_iter()
        .zip(strings(diagnoses, "icd10"))
        .map(|(person, code)| (person, if code.starts_with('I') { "I".to_owned() } else { "E".to_owned() }))
        .collect();
    let persons = table(&output, "persons");
    let (ages, sexes, prefectures, ids) = (
        strings(persons, "age_band"),
        strings(persons, "sex"),
        strings(persons, "prefecture"),
        strings(persons, "person"),
    );
    let mut classes: HashMap<(String, String, String), std::collections::BTreeSet<String>> = HashMap::new();
    for row in 0..persons.n_rows() {
        classes
            .entry((ages[row].clone(), sexes[row].clone(), prefectures[row].clone()))
            .or_default()
            .insert(chapter_of[&ids[row]].clone());
    }
    assert!(!classes.is_empty());
    assert!(classes.values().all(|chapters| chapters.len() >= 2), "a class has one main-diagnosis chapter");
}

/// A user-supplied hierarchy (ARX's format) generalizes a code column to the level the policy names; a
/// code the hierarchy does not list is suppressed, and a policy whose hierarchy was not attached is refused.
#[test]
fn a_user_hierarchy_generalizes_codes_to_its_level() {
    use crate::policy::{Action, Generalization, UserHierarchy};
    let mut source = records_with_diagnoses(60);
    // One person's code is not in the hierarchy.
    source[1].diagnoses[0].icd10 = Some("Z999".to_owned());
    let mut policy = policy(5);
    policy.columns.get_mut("diagnoses").unwrap().insert(
        "icd10".to_owned(),
        Action::Generalize(Generalization::Hierarchy(UserHierarchy::new("dx.csv".to_owned(), 2))),
    );
    assert_eq!(policy.hierarchy_files(), ["dx.csv"]);
    assert!(matches!(run_policy(&source, &policy, 1), Err(ProcessError::HierarchyNotLoaded { .. })));

    let rows = |lines: &[&str]| -> Vec<Vec<String>> {
        lines.iter().map(|line| line.split(';').map(str::to_owned).collect()).collect()
    };
    let hierarchy = rows(&["E119;E11;diabetes;*", "E752;E75;metabolic;*", "I10;I10;circulatory;*"]);
    // A level the hierarchy does not have, and a broken hierarchy, name the column.
    let mut too_deep = policy.clone();
    if let Some(Action::Generalize(Generalization::Hierarchy(h))) =
        too_deep.columns.get_mut("diagnoses").unwrap().get_mut("icd10")
    {
        *h = UserHierarchy::new("dx.csv".to_owned(), 4);
    }
    let error = too_deep.attach_hierarchy("dx.csv", &hierarchy).unwrap_err().to_string();
    assert!(error.contains("columns.diagnoses.icd10") && error.contains("level 4"), "{error}");
    let duplicated = rows(&["E119;E11;diabetes;*", "E119;E11;diabetes;*"]);
    assert!(policy.clone().attach_hierarchy("dx.csv", &duplicated).is_err());

    policy.attach_hierarchy("dx.csv", &hierarchy).unwrap();
    let output = run_policy(&source, &policy, 1).unwrap();
    let codes = strings(table(&output, "diagnoses"), "icd10");
    assert!(codes.iter().filter(|code| *code == "diabetes").count() >= 55, "{codes:?}");
    assert!(
        !codes.iter().any(|code| code.starts_with('E') || code == "Z999"),
        "no code at full detail: {codes:?}"
    );
    let treatment = output
        .summary
        .columns
        .iter()
        .find(|column| column.table == "diagnoses" && column.column == "icd10")
        .unwrap();
    assert!(treatment.action.contains("dx.csv"), "the report names the hierarchy: {}", treatment.action);
}

// ---------------------------------------------------------------------------------------------------------
// Attacker models (issue 13)
// ---------------------------------------------------------------------------------------------------------

fn diagnosis(icd10: &str, onset: NaiveDate) -> kiban_model::Diagnosis {
    kiban_model::Diagnosis {
        icd10: Some(icd10.to_owned()),
        medis_code: None,
        name: None,
        onset: Some(onset),
        suspected: false,
        main: false,
    }
}

/// `n` persons with diagnoses drawn from a few common categories and, every 17th person, a rare pair of
/// common codes; each person's diagnoses are `idx % 23` days apart so intervals vary.
fn records_with_code_sets(n: usize) -> Vec<PatientRecord> {
    let common = ["E119", "I10", "E785", "J069", "K219"];
    let mut source = records(n);
    for (idx, record) in source.iter_mut().enumerate() {
        let onset = date(2021, 1, 1) + chrono::Duration::days((idx % 300) as i64);
        let gap = chrono::Duration::days((idx % 23) as i64 + 1);
        record.diagnoses.push(diagnosis(common[idx % 2], onset));
        record.diagnoses.push(diagnosis(common[2 + idx % 3], onset + gap));
        if idx % 17 == 0 {
            record.diagnoses.push(diagnosis("C509", onset + gap + gap));
        }
    }
    source
}

/// Per released person (by pseudonym): their demographic tuple and their set of diagnosis codes taken to
/// the 3-character category (block and chapter labels stay as they are).
fn demographics_and_categories(
    output: &Output,
) -> (HashMap<String, Vec<String>>, HashMap<String, Vec<String>>) {
    let persons = table(output, "persons");
    let columns: Vec<String> =
        persons.columns().iter().map(|column| column.name.clone()).filter(|name| name != "person").collect();
    let ids = strings(persons, "person");
    let values: Vec<Vec<String>> = columns.iter().map(|column| strings(persons, column)).collect();
    let demographics = ids
        .iter()
        .enumerate()
        .map(|(row, id)| (id.clone(), values.iter().map(|column| column[row].clone()).collect()))
        .collect();
    let diagnoses = table(output, "diagnoses");
    let mut sets: HashMap<String, Vec<String>> = ids.iter().map(|id| (id.clone(), Vec::new())).collect();
    for (person, code) in strings(diagnoses, "person").into_iter().zip(strings(diagnoses, "icd10")) {
        if code.is_empty() {
            continue;
        }
        let category = if code.contains('-') { code } else { code.chars().take(3).collect() };
        let set = sets.get_mut(&person).unwrap();
        if !set.contains(&category) {
            set.push(category);
        }
    }
    for set in sets.values_mut() {
        set.sort();
    }
    (demographics, sets)
}

/// The smallest number of persons of a person's family holding any 2 (or all, with fewer) of their codes.
fn smallest_pair_class(family: &HashMap<String, Vec<String>>, sets: &HashMap<String, Vec<String>>) -> usize {
    let mut smallest = usize::MAX;
    for (person, set) in sets {
        let combos: Vec<Vec<&String>> = match set.len() {
            0 => continue,
            1 => vec![vec![&set[0]]],
            _ => (0..set.len())
                .flat_map(|a| (a + 1..set.len()).map(move |b| (a, b)))
                .map(|(a, b)| vec![&set[a], &set[b]])
                .collect(),
        };
        for combo in combos {
            let holders = sets
                .iter()
                .filter(|(other, codes)| {
                    family[*other] == family[person] && combo.iter().all(|code| codes.contains(code))
                })
                .count();
            smallest = smallest.min(holders);
        }
    }
    smallest
}

#[test]
fn the_engine_refuses_k_below_two_and_models_on_unreleased_tables() {
    let source = records_with_code_sets(40);
    let mut weak = policy(5);
    weak.privacy.k = 1;
    assert!(matches!(run_policy(&source, &weak, 1), Err(ProcessError::Models(_))), "k = 1 is refused");
    let mut weak = policy(5);
    weak.privacy.codes[0].k = 1;
    let Err(ProcessError::Models(errors)) = run_policy(&source, &weak, 1) else {
        panic!("codes k = 1 refused")
    };
    assert!(errors.to_string().contains("privacy.codes[0].k"), "{errors}");
    let mut unreleased = policy(5);
    unreleased.columns.remove("procedures");
    unreleased.privacy.counts.push(crate::policy::CountsModel {
        table: crate::policy::EventTable::Procedures,
        k: 5,
        demographics: false,
        suppression_limit: 0.05,
    });
    let Err(ProcessError::Models(errors)) = run_policy(&source, &unreleased, 1) else {
        panic!("a model on an unreleased table is refused")
    };
    assert!(errors.to_string().contains("does not release procedures"), "{errors}");
}

#[test]
fn the_built_in_codes_model_holds_within_every_demographic_class() {
    let source = records_with_code_sets(400);
    let output = run(&source, 5, 1);
    let (demographics, sets) = demographics_and_categories(&output);
    let smallest = smallest_pair_class(&demographics, &sets);
    assert!((5..usize::MAX).contains(&smallest), "a pair of categories singles out {smallest} persons");
    // Common codes stay at full detail for most rows.
    let codes = strings(table(&output, "diagnoses"), "icd10");
    let full = codes.iter().filter(|code| code.len() == 4 && !code.contains('-')).count();
    assert!(full * 2 > codes.len(), "{full} of {} rows keep their full code", codes.len());
    let decision =
        output.summary.peculiar.iter().find(|decision| decision.rule.starts_with("any 2 diagnosis codes"));
    assert!(
        decision.is_some_and(|decision| decision.n_rows > 0),
        "the rare pairs were repaired and reported"
    );
    // Without the model, the rare pairs stay (the test would not see a difference otherwise).
    let mut without = policy(5);
    without.privacy.codes.clear();
    let output = run_policy(&source, &without, 1).unwrap();
    let (demographics, sets) = demographics_and_categories(&output);
    assert!(smallest_pair_class(&demographics, &sets) < 5, "the cohort has pairs the model must repair");
}

#[test]
fn an_events_model_makes_every_pair_of_events_and_its_interval_shared() {
    let source = records_with_code_sets(400);
    let mut events = policy(5);
    events.privacy.codes.clear();
    events.privacy.events.push(crate::policy::EventsModel {
        table: crate::policy::EventTable::Diagnoses,
        level: 1,
        m: 2,
        window_days: 7,
        k: 5,
        demographics: false,
        suppression_limit: 0.5,
    });
    let output = run_policy(&source, &events, 1).unwrap();
    let diagnoses = table(&output, "diagnoses");
    let ColumnData::Date(dates) = &diagnoses.column("onset_date").unwrap().data else { panic!("dates") };
    let granularity =
        &output.summary.utility.iter().find(|t| t.table == "diagnoses").unwrap().date_granularity;
    let (unit, step) = match granularity.as_str() {
        "day" => (1, 7),
        "week" => (7, 1),
        _ => (30, 1),
    };
    let time = |date: NaiveDate| -> i64 {
        use kiban_model::Datelike as _;
        if unit == 30 {
            i64::from(date.year()) * 12 + i64::from(date.month0())
        } else {
            i64::from(date.num_days_from_ce()) / unit
        }
    };
    let mut items: HashMap<String, Vec<(i64, String)>> = HashMap::new();
    for ((person, code), date) in
        strings(diagnoses, "person").into_iter().zip(strings(diagnoses, "icd10")).zip(dates)
    {
        if let (false, Some(date)) = (code.is_empty(), date) {
            let code = if code.contains('-') { code } else { code.chars().take(3).collect() };
            let list = items.entry(person).or_default();
            if !list.contains(&(time(*date), code.clone())) {
                list.push((time(*date), code));
            }
        }
    }
    let keys = |list: &Vec<(i64, String)>| -> Vec<(String, String, i64)> {
        let mut sorted = list.clone();
        sorted.sort();
        let mut keys = Vec::new();
        for a in 0..sorted.len() {
            for b in a + 1..sorted.len() {
                keys.push((sorted[a].1.clone(), sorted[b].1.clone(), (sorted[b].0 - sorted[a].0) / step));
            }
        }
        keys.sort();
        keys.dedup();
        keys
    };
    let mut support: HashMap<(String, String, i64), usize> = HashMap::new();
    for list in items.values() {
        for key in keys(list) {
            *support.entry(key).or_default() += 1;
        }
    }
    assert!(!support.is_empty(), "pairs of dated events are released");
    let rare = support.values().filter(|count| **count < 5).count();
    assert_eq!(rare, 0, "{rare} pairs of events (codes and interval) are held by fewer than 5 persons");
    assert!(
        output.summary.peculiar.iter().any(|decision| decision.rule.starts_with("any 2 diagnosis events"))
    );
}

#[test]
fn a_counts_model_caps_rare_counts_by_leaving_out_the_latest_events() {
    // 60 persons with 2 encounters; 3 with 9 (a rare count): they are capped, their latest ones left out.
    let mut source = records(63);
    for record in source.iter_mut().take(3) {
        let last = record.encounters[1].start;
        for day in 1..=7 {
            record.encounters.push(Encounter {
                class: EncounterClass::Outpatient,
                start: last + chrono::Duration::days(30 * day),
                end: None,
                department: None,
            });
        }
    }
    let mut counts = policy(5);
    counts.privacy.codes.clear();
    counts.privacy.suppression_limit = 0.0;
    counts.privacy.counts.push(crate::policy::CountsModel {
        table: crate::policy::EventTable::Encounters,
        k: 5,
        demographics: false,
        suppression_limit: 0.2,
    });
    let output = run_policy(&source, &counts, 1).unwrap();
    let encounters = table(&output, "encounters");
    let mut per_person: HashMap<String, usize> = HashMap::new();
    for person in strings(encounters, "person") {
        *per_person.entry(person).or_default() += 1;
    }
    assert!(per_person.values().all(|count| *count == 2), "every count is shared: the 9s are capped at 2");
    assert_eq!(encounters.n_rows(), 63 * 2);
    let utility = output.summary.utility.iter().find(|t| t.table == "encounters").unwrap();
    assert_eq!((utility.events, utility.events_released), (63 * 2 + 21, 63 * 2));
    // The first two encounters are kept: the capped persons' dates are 10 days apart like everyone's.
    let ColumnData::Date(starts) = &encounters.column("start_date").unwrap().data else { panic!("dates") };
    let mut dates: HashMap<String, Vec<NaiveDate>> = HashMap::new();
    for (person, start) in strings(encounters, "person").into_iter().zip(starts) {
        dates.entry(person).or_default().push(start.unwrap());
    }
    for list in dates.values_mut() {
        list.sort();
        assert_eq!((list[1] - list[0]).num_days(), 10, "the earliest encounters are the ones kept");
    }
    // A limit too low to cap is refused, naming the model.
    counts.privacy.counts[0].suppression_limit = 0.05;
    let Err(ProcessError::Model { model, reason }) = run_policy(&source, &counts, 1) else {
        panic!("the suppression limit is enforced")
    };
    assert!(model.contains("encounters") && reason.contains("suppression limit"), "{model}: {reason}");
}

#[test]
fn the_summary_lists_the_declared_models_then_the_residual_ones() {
    let output = run(&records_with_code_sets(100), 5, 1);
    let models = &output.summary.models;
    assert!(matches!(models[0].knowledge, crate::dataset::Knowledge::Demographics));
    assert!(!models[0].residual && !models[1].residual);
    assert!(matches!(
        &models[1].knowledge,
        crate::dataset::Knowledge::Codes { table, level: 1, m: 2, demographics: true, .. } if table == "diagnoses"
    ));
    let residual: Vec<&str> =
        models.iter().filter(|model| model.residual).map(|model| model.name.as_str()).collect();
    for expected in
        ["one more code", "full codes", "exact event dates", "the date sequence", "the number of encounters"]
    {
        assert!(
            residual.iter().any(|name| name.starts_with(expected)),
            "{expected} missing from {residual:?}"
        );
    }
    assert_eq!(output.summary.demographics, ["age_band", "sex", "prefecture"]);
    assert!(!residual.iter().any(|name| name.starts_with("undeclared codes")), "{residual:?}");

    // With the codes model turned off, the report still measures the attacker it would have stopped.
    let mut off = policy(5);
    off.privacy.codes.clear();
    let output = run_policy(&records_with_code_sets(100), &off, 1).unwrap();
    let undeclared = output
        .summary
        .models
        .iter()
        .find(|model| model.name.starts_with("undeclared codes"))
        .expect("the built-in codes attacker is measured");
    assert!(undeclared.residual && undeclared.enforcement.is_none());
}
