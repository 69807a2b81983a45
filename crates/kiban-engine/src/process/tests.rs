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
