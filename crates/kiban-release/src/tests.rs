//! Tests of writing, checking and publishing a release.

use std::collections::BTreeMap;

use kiban_crypto::{DateShiftKey, PseudonymKey, SecretKey};
use kiban_engine::policy::Recipient;
use kiban_engine::{LinkedPerson, ProcessInputs, ReleaseKeys, ReleasePolicy};
use kiban_model::{IdentifiedPerson, LocalPatientId, NaiveDate, PatientRecord, ProviderCode, Sex};

use super::*;

/// Runs `test` on a small anonymized dataset of 40 persons.
fn with_dataset(test: impl FnOnce(&AnonymizedDataset<'_>)) {
    let records: Vec<PatientRecord> = (0..40)
        .map(|idx| {
            let mut person = IdentifiedPerson::new(
                ProviderCode::new("2710000001").unwrap(),
                LocalPatientId::new(&format!("L{idx}")).unwrap(),
            );
            person.birth_date = NaiveDate::from_ymd_opt(1960 + idx % 3, 5, 5);
            person.sex = if idx % 2 == 0 { Sex::Male } else { Sex::Female };
            person.address = Some("大阪府大阪市北区".to_owned());
            PatientRecord::new(person)
        })
        .collect();
    let persons: Vec<LinkedPerson<'_>> = records
        .iter()
        .enumerate()
        .map(|(idx, record)| LinkedPerson { person_id: format!("P{idx}"), records: vec![record] })
        .collect();
    let master = SecretKey::from_bytes([7; 32]);
    let keys = ReleaseKeys {
        pseudonym: PseudonymKey::derive_from(&master, b"R1"),
        date_shift: DateShiftKey::derive_from(&master, b"R1"),
    };
    let mut policy =
        ReleasePolicy::default_anonymized(Recipient { name: "U".to_owned(), address: "A".to_owned() });
    policy.privacy.max_shift_days = 90;
    let no_ids = BTreeMap::new();
    let inputs =
        ProcessInputs { release_date: NaiveDate::from_ymd_opt(2026, 4, 1).unwrap(), provision_ids: &no_ids };
    test(&kiban_engine::process(&persons, &policy, &keys, &inputs).unwrap());
}

#[test]
fn manifest_lists_every_file_with_its_checksum_and_is_deterministic() {
    with_dataset(|dataset| {
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        let manifest = write_release(dataset, "R0001", first.path()).unwrap();
        let again = write_release(dataset, "R0001", second.path()).unwrap();
        assert_eq!(manifest, again, "same dataset, byte-identical files");
        assert_eq!(manifest.files.len(), dataset.table_columns().len() * 2);
        for file in &manifest.files {
            let bytes = std::fs::read(first.path().join(&file.path)).unwrap();
            assert_eq!(bytes.len() as u64, file.bytes);
            assert_eq!(hex::encode(Sha256::digest(&bytes)), file.sha256);
        }
        assert_eq!(manifest.n_persons, 40);
        assert!(verify_release(first.path()).unwrap().is_empty());
    });
}

#[test]
fn verify_release_names_a_changed_file() {
    with_dataset(|dataset| {
        let dir = tempfile::tempdir().unwrap();
        write_release(dataset, "R0002", dir.path()).unwrap();
        let target = dir.path().join("csv/persons.csv");
        let mut bytes = std::fs::read(&target).unwrap();
        bytes.push(b'\n');
        std::fs::write(&target, bytes).unwrap();
        assert_eq!(verify_release(dir.path()).unwrap(), vec!["csv/persons.csv".to_owned()]);
    });
}

#[test]
fn report_has_plots_and_no_record_values() {
    with_dataset(|dataset| {
        let dir = tempfile::tempdir().unwrap();
        let manifest = write_release(dataset, "R0003", dir.path()).unwrap();
        let context = ReportContext {
            release_id: "R0003".to_owned(),
            recipient_name: "研究機関".to_owned(),
            provided_on: "2026-04-01".to_owned(),
            facts: vec![],
        };
        let html_path = write_report(dataset, &manifest, &context, dir.path()).unwrap();
        let html = std::fs::read_to_string(html_path).unwrap();
        assert!(html.contains("<svg"), "plots are inline SVG");
        assert!(html.contains("5-anonymity"));
        let persons = dataset.tables().unwrap().into_iter().find(|table| table.name() == "persons").unwrap();
        let pseudonym = persons.column("person").unwrap().data.text_at(0).unwrap();
        let json = std::fs::read_to_string(dir.path().join("report.json")).unwrap();
        assert!(!html.contains(&pseudonym) && !json.contains(&pseudonym), "a report shows no record");
    });
}

#[test]
fn publish_refuses_to_overwrite() {
    let root = tempfile::tempdir().unwrap();
    let staging = root.path().join("staging");
    std::fs::create_dir(&staging).unwrap();
    let final_dir = root.path().join("R1");
    publish(&staging, &final_dir).unwrap();
    std::fs::create_dir(&staging).unwrap();
    assert!(matches!(publish(&staging, &final_dir), Err(ReleaseError::AlreadyPublished(_))));
}
