//! End to end on a synthetic cohort: linked records from several providers → each release mode →
//! release files, checked cell by cell against the identified source.
//!
//! The cohort has 100,000 persons (`KIBAN_E2E_PERSONS` overrides it for a quicker local run). It is generated
//! in memory by kiban-synth and linked by its ground truth, so this test is about processing and release,
//! not intake or linkage (those have their own end-to-end tests in kiban-cli).

mod attacks;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;

use kiban_columnar::{ColumnData, Table};
use kiban_crypto::{DateShiftKey, PseudonymKey, SecretKey};
use kiban_engine::{LinkedPerson, Mode, ProcessInputs, ReleaseKeys, ReleasePolicy};
use kiban_model::{NaiveDate, PatientRecord};
use kiban_synth::{Cohort, SynthConfig};

const K: usize = 5;

fn n_persons() -> usize {
    std::env::var("KIBAN_E2E_PERSONS").ok().and_then(|n| n.parse().ok()).unwrap_or(100_000)
}

fn release_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 4, 1).expect("valid date")
}

fn keys(release_id: &str) -> ReleaseKeys {
    let master = SecretKey::from_bytes([42; 32]);
    ReleaseKeys {
        pseudonym: PseudonymKey::derive_from(&master, release_id.as_bytes()),
        date_shift: DateShiftKey::derive_from(&master, release_id.as_bytes()),
    }
}

/// Every patient record grouped by the person the generator says it is; the person ID is `person-N`.
fn linked(cohort: &Cohort) -> Vec<LinkedPerson<'_>> {
    let truth: HashMap<(&str, &str), u64> =
        cohort.truth.iter().map(|row| ((row.provider.as_str(), row.local_id.as_str()), row.person)).collect();
    let mut persons: BTreeMap<u64, Vec<&PatientRecord>> = BTreeMap::new();
    for record in cohort.records.iter().flatten() {
        let person = truth[&(record.person.provider.as_str(), record.person.local_id.as_str())];
        persons.entry(person).or_default().push(record);
    }
    persons
        .into_iter()
        .map(|(person, records)| LinkedPerson { person_id: format!("person-{person}"), records })
        .collect()
}

/// The identified source values no output cell may equal: names, kana, phone, address, postal code, insurance
/// numbers, provider-local IDs, provider codes, and the producer's person IDs.
fn forbidden(persons: &[LinkedPerson<'_>]) -> HashSet<String> {
    let mut values = HashSet::new();
    for person in persons {
        values.insert(person.person_id.clone());
        for record in &person.records {
            let p = &record.person;
            values.insert(p.local_id.as_str().to_owned());
            values.insert(p.provider.as_str().to_owned());
            for name in [&p.name_kanji, &p.name_kana].into_iter().flatten() {
                values.insert(name.joined());
                values.insert(format!("{}{}", name.family, name.given));
            }
            values.extend([p.phone.clone(), p.address.clone(), p.postal_code.clone()].into_iter().flatten());
            for insurance in &p.insurances {
                values.insert(insurance.insurer_number.clone());
                // Symbols and numbers of fewer than 6 characters cannot be told from counts, codes and lab
                // values ("2"), so only the longer ones are looked for; no released column is derived from
                // them at all (the catalog refuses every insurance column).
                values.extend(
                    [insurance.symbol.clone(), insurance.number.clone()]
                        .into_iter()
                        .flatten()
                        .filter(|code| code.chars().count() >= 6),
                );
            }
        }
    }
    values.retain(|value| !value.trim().is_empty());
    values
}

fn text_cells(table: &Table) -> impl Iterator<Item = (&str, String)> + '_ {
    table.columns().iter().filter(|column| matches!(column.data, ColumnData::Utf8(_))).flat_map(
        move |column| {
            (0..table.n_rows())
                .filter_map(move |row| column.data.text_at(row).map(|cell| (column.name.as_str(), cell)))
        },
    )
}

/// What the tests look at: the released tables, whole, and the summary.
struct Output {
    tables: Vec<Table>,
    summary: kiban_engine::ProcessingSummary,
}

fn table<'a>(dataset: &'a Output, name: &str) -> &'a Table {
    dataset.tables.iter().find(|table| table.name() == name).unwrap_or_else(|| panic!("no table {name}"))
}

fn strings(table: &Table, column: &str) -> Vec<Option<String>> {
    let column = table.column(column).unwrap_or_else(|| panic!("no column {column} in {}", table.name()));
    (0..table.n_rows()).map(|row| column.data.text_at(row)).collect()
}

/// No text cell of any table, of the CSV files, or of the report equals a source identifier.
fn assert_no_identifier(
    dataset: &Output,
    dir: &Path,
    forbidden: &HashSet<String>,
    birth_dates: &HashSet<String>,
) {
    for table in &dataset.tables {
        for (column, cell) in text_cells(table) {
            assert!(!forbidden.contains(&cell), "{}.{column} holds a source identifier", table.name());
        }
    }
    // The persons table never holds an exact birth date.
    let persons = table(dataset, "persons");
    for column in persons.columns() {
        for row in 0..persons.n_rows() {
            if let Some(cell) = column.data.text_at(row) {
                assert!(!birth_dates.contains(&cell), "persons.{} holds a birth date", column.name);
            }
        }
    }
    // The files as the recipient gets them.
    for entry in std::fs::read_dir(dir.join("csv")).expect("csv folder") {
        let path = entry.expect("entry").path();
        // Text columns only: a short insurance number can equal a lab value by chance.
        let name = path.file_stem().and_then(|stem| stem.to_str()).expect("table name");
        let source = table(dataset, name);
        let mut reader = csv::Reader::from_path(&path).expect("csv");
        let text: Vec<bool> = reader
            .headers()
            .expect("header")
            .iter()
            .map(|header| {
                source.column(header).is_some_and(|column| matches!(column.data, ColumnData::Utf8(_)))
            })
            .collect();
        for record in reader.records() {
            for (cell, text) in record.expect("row").iter().zip(&text) {
                assert!(!*text || !forbidden.contains(cell), "{} holds a source identifier", path.display());
            }
        }
    }
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).expect("report")).expect("json");
    let mut stack = vec![&report];
    while let Some(value) = stack.pop() {
        match value {
            serde_json::Value::String(text) => {
                assert!(!forbidden.contains(text), "the report holds a source identifier")
            }
            serde_json::Value::Array(items) => stack.extend(items),
            serde_json::Value::Object(map) => stack.extend(map.values()),
            _ => {}
        }
    }
}

/// Each released person's dates, table by table, differ from the source dates by one constant.
fn assert_intervals_exact(dataset: &Output, persons: &[LinkedPerson<'_>], keys: &ReleaseKeys) {
    let by_pseudonym: HashMap<String, &LinkedPerson<'_>> = persons
        .iter()
        .map(|p| (keys.pseudonym.pseudonym(p.person_id.as_bytes()).as_str().to_owned(), p))
        .collect();
    let mut offsets: HashMap<String, BTreeSet<i64>> = HashMap::new();
    let mut checked = 0usize;
    for (name, column, source) in [
        (
            "encounters",
            "start_date",
            &(|r: &PatientRecord| r.encounters.iter().map(|e| Some(e.start)).collect::<Vec<_>>())
                as &dyn Fn(&PatientRecord) -> Vec<Option<NaiveDate>>,
        ),
        ("labs", "date", &|r: &PatientRecord| r.labs.iter().map(|l| Some(l.date)).collect()),
        ("prescriptions", "date", &|r: &PatientRecord| {
            r.prescriptions.iter().map(|p| Some(p.date)).collect()
        }),
    ] {
        let released = table(dataset, name);
        let pseudonyms = strings(released, "person");
        let ColumnData::Date(dates) = &released.column(column).expect("date column").data else {
            panic!("type")
        };
        let mut released_dates: HashMap<&str, Vec<NaiveDate>> = HashMap::new();
        for (pseudonym, date) in pseudonyms.iter().zip(dates) {
            released_dates.entry(pseudonym.as_deref().expect("person")).or_default().extend(*date);
        }
        for (pseudonym, mut shifted) in released_dates {
            let person = by_pseudonym[pseudonym];
            let mut original: Vec<NaiveDate> =
                person.records.iter().flat_map(|r| source(r)).flatten().collect();
            original.sort();
            shifted.sort();
            assert_eq!(original.len(), shifted.len(), "{name}: every event of a released person is released");
            let deltas: BTreeSet<i64> =
                original.iter().zip(&shifted).map(|(o, s)| (*s - *o).num_days()).collect();
            assert_eq!(deltas.len(), 1, "{name}: one offset per person, so intervals are exact");
            offsets.entry(pseudonym.to_owned()).or_default().extend(deltas);
            checked += 1;
        }
    }
    assert!(checked > 0);
    assert!(offsets.values().all(|set| set.len() == 1), "the same offset in every table");
    assert!(offsets.values().any(|set| !set.contains(&0)), "dates move");
}

/// Every combination of released person-level columns is shared by ≥ k persons.
fn assert_k_anonymous(dataset: &Output) {
    let persons = table(dataset, "persons");
    let columns: Vec<&str> = persons
        .columns()
        .iter()
        .map(|column| column.name.as_str())
        .filter(|name| !matches!(*name, "person" | "provision_id"))
        .collect();
    assert!(!columns.is_empty());
    let values: Vec<Vec<Option<String>>> = columns.iter().map(|column| strings(persons, column)).collect();
    let mut classes: HashMap<Vec<Option<String>>, usize> = HashMap::new();
    for row in 0..persons.n_rows() {
        *classes.entry(values.iter().map(|column| column[row].clone()).collect()).or_default() += 1;
    }
    assert!(classes.values().all(|size| *size >= K), "a person class is smaller than k");
}

/// Every combination of up to two released diagnosis codes held by some person is held by ≥ k persons.
fn assert_k2_anonymous_codes(dataset: &Output) {
    let diagnoses = table(dataset, "diagnoses");
    let mut sets: HashMap<String, BTreeSet<String>> = HashMap::new();
    for (person, code) in strings(diagnoses, "person").into_iter().zip(strings(diagnoses, "icd10")) {
        if let (Some(person), Some(code)) = (person, code) {
            sets.entry(person).or_default().insert(code);
        }
    }
    let mut counts: HashMap<Vec<&String>, usize> = HashMap::new();
    for set in sets.values() {
        let codes: Vec<&String> = set.iter().collect();
        for (idx, first) in codes.iter().enumerate() {
            *counts.entry(vec![*first]).or_default() += 1;
            for second in &codes[idx + 1..] {
                *counts.entry(vec![*first, *second]).or_default() += 1;
            }
        }
    }
    assert!(!counts.is_empty());
    let small = counts.values().filter(|count| **count < K).count();
    assert_eq!(small, 0, "{small} combinations of ≤ 2 diagnosis codes are held by fewer than {K} persons");
}

/// The FHIR NDJSON files hold one resource per released row, every event refers to a released Patient,
/// and no string in them is a source identifier.
fn assert_fhir(dataset: &Output, dir: &Path, forbidden: &HashSet<String>) {
    let read = |resource: &str| -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(dir.join(format!("fhir/{resource}.ndjson"))).expect("fhir file");
        text.lines().map(|line| serde_json::from_str(line).expect("one JSON resource per line")).collect()
    };
    let patients = read("Patient");
    assert_eq!(patients.len(), table(dataset, "persons").n_rows());
    let ids: HashSet<&str> = patients.iter().map(|patient| patient["id"].as_str().expect("id")).collect();
    for (resource, name) in [("Encounter", "encounters"), ("Condition", "diagnoses"), ("Observation", "labs")]
    {
        let resources = read(resource);
        assert_eq!(resources.len(), table(dataset, name).n_rows(), "{resource}");
        for value in &resources {
            assert_eq!(value["resourceType"], resource);
            let reference = value["subject"]["reference"].as_str().expect("subject");
            assert!(
                ids.contains(reference.trim_start_matches("Patient/")),
                "{resource} refers to a released Patient"
            );
            let mut stack = vec![value];
            while let Some(value) = stack.pop() {
                match value {
                    serde_json::Value::String(text) => {
                        assert!(!forbidden.contains(text), "{resource} holds a source identifier")
                    }
                    serde_json::Value::Array(items) => stack.extend(items),
                    serde_json::Value::Object(map) => stack.extend(map.values()),
                    _ => {}
                }
            }
        }
    }
}

fn policy(mode: &str, extra: &str) -> ReleasePolicy {
    let dates = if mode == "pseudonymized" { "keep" } else { "date_shift" };
    // The pseudonymized release is also written as FHIR NDJSON.
    let fhir = mode == "pseudonymized";
    let text = format!(
        r#"
mode = "{mode}"
reference_date = 2026-04-01
fhir = {fhir}
[recipient]
name = "Test University"
address = "Tokyo"
[privacy]
k = {K}
suppression_limit = 0.05
km = {{ k = {K}, m = 2 }}
[columns.persons]
person_id = "pseudonym"
birth_date = {{ generalize = "age_band", width = 5 }}
sex = "keep"
address = {{ generalize = "prefecture" }}
{extra}
[columns.encounters]
provider = "pseudonym"
class = "keep"
start_date = "{dates}"
end_date = "{dates}"
[columns.diagnoses]
icd10 = "keep"
medis_code = "keep"
onset_date = "{dates}"
[columns.prescriptions]
drug_code = "keep"
drug_name = "keep"
date = "{dates}"
[columns.labs]
code = "keep"
name = "keep"
value_numeric = "keep"
date = "{dates}"
"#
    );
    ReleasePolicy::parse(&text).unwrap_or_else(|errors| panic!("{errors}"))
}

fn release(
    persons: &[LinkedPerson<'_>],
    policy: &ReleasePolicy,
    release_id: &str,
    provision_ids: &BTreeMap<String, String>,
    dir: &Path,
) -> (Output, kiban_release::Manifest) {
    let inputs = ProcessInputs { release_date: release_date(), provision_ids };
    let keys = keys(release_id);
    let dataset = kiban_engine::process(persons, policy, &keys, &inputs).expect("processing");
    let manifest = kiban_release::write_release(&dataset, release_id, dir).expect("files");
    let context = kiban_release::ReportContext {
        release_id: release_id.to_owned(),
        recipient_name: policy.recipient.name.clone(),
        provided_on: release_date().to_string(),
        facts: Vec::new(),
    };
    kiban_release::write_report(&dataset, &manifest, &context, dir, kiban_release::AtRest::Plain)
        .expect("report");
    let output = Output { tables: dataset.tables().expect("tables"), summary: dataset.summary().clone() };
    // The files hold exactly the tables.
    for table in &output.tables {
        let file = manifest.files.iter().find(|file| file.table == table.name() && file.format == "parquet");
        assert_eq!(file.map(|file| file.rows), Some(table.n_rows()), "{}", table.name());
    }
    (output, manifest)
}

#[test]
fn every_mode_end_to_end_on_a_synthetic_cohort() {
    let cohort = kiban_synth::generate(&SynthConfig {
        n_patients: n_persons(),
        n_providers: 3,
        seed: 7,
        ..SynthConfig::default()
    });
    let persons = linked(&cohort);
    assert!(persons.iter().any(|person| person.records.len() > 1), "persons seen at several providers");
    let forbidden = forbidden(&persons);
    let birth_dates: HashSet<String> = persons
        .iter()
        .flat_map(|person| person.records.iter().filter_map(|r| r.person.birth_date.map(|d| d.to_string())))
        .collect();
    let provision_ids: BTreeMap<String, String> = persons
        .iter()
        .enumerate()
        .map(|(idx, person)| (person.person_id.clone(), format!("NDB{idx:09}")))
        .collect();
    let no_ids = BTreeMap::new();
    let work = tempfile::tempdir().expect("temp dir");

    // Anonymized: identifiers gone, intervals exact, k-anonymous persons, k^2-anonymous diagnosis codes.
    let anonymized = policy("anonymized", "");
    let (first, manifest) = release(&persons, &anonymized, "R0001", &no_ids, &work.path().join("a1"));
    assert_eq!(first.summary.mode, Mode::Anonymized);
    assert!(first.summary.n_persons_released * 100 >= persons.len() * 90, "most persons are released");
    assert_no_identifier(&first, &work.path().join("a1"), &forbidden, &birth_dates);
    assert_intervals_exact(&first, &persons, &keys("R0001"));
    assert_k_anonymous(&first);
    assert_k2_anonymous_codes(&first);
    assert!(!first.summary.peculiar.is_empty(), "rare codes are found and treated");

    // Deterministic: the same input, policy and keys give byte-identical files.
    let (_, again) = release(&persons, &anonymized, "R0001", &no_ids, &work.path().join("a1-again"));
    assert_eq!(manifest, again);

    // Another release of the same persons: other pseudonyms.
    let (second, _) = release(&persons, &anonymized, "R0002", &no_ids, &work.path().join("a2"));
    let first_ids: HashSet<Option<String>> =
        strings(table(&first, "persons"), "person").into_iter().collect();
    assert!(strings(table(&second, "persons"), "person").iter().all(|id| !first_ids.contains(id)));
    drop(second);

    // Anonymized and linkable: the same guarantees, plus each person's provision ID.
    let linkable = policy("anonymized-linkable", "provision_id = \"keep\"");
    let (dataset, _) = release(&persons, &linkable, "R0003", &provision_ids, &work.path().join("l"));
    assert_no_identifier(&dataset, &work.path().join("l"), &forbidden, &birth_dates);
    assert_k_anonymous(&dataset);
    assert_k2_anonymous_codes(&dataset);
    let keys3 = keys("R0003");
    let expected: HashMap<String, &String> = persons
        .iter()
        .map(|p| {
            (
                keys3.pseudonym.pseudonym(p.person_id.as_bytes()).as_str().to_owned(),
                &provision_ids[&p.person_id],
            )
        })
        .collect();
    let released = table(&dataset, "persons");
    for (person, id) in strings(released, "person").into_iter().zip(strings(released, "provision_id")) {
        assert_eq!(Some(expected[&person.expect("person")]), id.as_ref(), "the person's own provision ID");
    }
    drop(dataset);

    // Pseudonymized: identifiers gone, exact dates and rare codes kept, nobody suppressed.
    let pseudonymized = policy("pseudonymized", "");
    let (dataset, _) = release(&persons, &pseudonymized, "R0004", &no_ids, &work.path().join("p"));
    assert_no_identifier(&dataset, &work.path().join("p"), &forbidden, &birth_dates);
    assert_eq!(dataset.summary.n_persons_released, persons.len());
    assert!(dataset.summary.kanon.is_none() && dataset.summary.peculiar.is_empty());
    let source_codes: BTreeSet<String> = persons
        .iter()
        .flat_map(|p| p.records.iter().flat_map(|r| r.diagnoses.iter().filter_map(|d| d.icd10.clone())))
        .collect();
    let released_codes: BTreeSet<String> =
        strings(table(&dataset, "diagnoses"), "icd10").into_iter().flatten().collect();
    assert_eq!(released_codes, source_codes, "every code, rare ones included, is kept");
    assert_fhir(&dataset, &work.path().join("p"), &forbidden);
    let keys4 = keys("R0004");
    let by_pseudonym: HashMap<String, &LinkedPerson<'_>> = persons
        .iter()
        .map(|p| (keys4.pseudonym.pseudonym(p.person_id.as_bytes()).as_str().to_owned(), p))
        .collect();
    let labs = table(&dataset, "labs");
    let ColumnData::Date(dates) = &labs.column("date").expect("date").data else { panic!("type") };
    for (person, date) in strings(labs, "person").into_iter().zip(dates).take(1000) {
        let person = by_pseudonym[&person.expect("person")];
        let date = date.expect("date");
        assert!(person.records.iter().any(|r| r.labs.iter().any(|l| l.date == date)), "exact dates kept");
    }
}

#[test]
fn a_refused_policy_names_the_column_and_the_rule() {
    let text = "mode = \"anonymized\"\n[recipient]\nname = \"U\"\naddress = \"A\"\n[columns.persons]\nperson_id = \"pseudonym\"\ninsurance_number = \"keep\"\nphone = \"keep\"\n[columns.labs]\nlocal_patient_id = \"keep\"\n";
    let errors = ReleasePolicy::parse(text).expect_err("refused").to_string();
    assert!(
        errors.contains("line 7: columns.persons.insurance_number") && errors.contains("Rule 18 ②"),
        "{errors}"
    );
    assert!(errors.contains("line 8: columns.persons.phone") && errors.contains("Rule 18 ①"), "{errors}");
    assert!(
        errors.contains("line 10: columns.labs.local_patient_id") && errors.contains("Rule 18 ③"),
        "{errors}"
    );
}
