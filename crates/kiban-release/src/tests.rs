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
        let html_path = write_report(dataset, &manifest, &context, dir.path(), AtRest::Plain).unwrap().html;
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

/// Every file under `dir`, relative, with its bytes.
fn files_of(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for sub in ["parquet", "csv", "fhir"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            files.insert(
                format!("{sub}/{}", path.file_name().unwrap().to_string_lossy()),
                std::fs::read(path).unwrap(),
            );
        }
    }
    files
}

#[test]
fn a_sealed_release_holds_no_plaintext_and_exports_to_the_plain_files() {
    with_dataset(|dataset| {
        let root = tempfile::tempdir().unwrap();
        let plain = write_release(dataset, "R0004", &root.path().join("plain")).unwrap();
        let key = kiban_crypto::DataKey::from_bytes([5; 32]);
        let at_rest = AtRest::Sealed { key: &key, object: "release:R0004" };
        let kept = root.path().join("kept");
        let sealed = write_release_at(dataset, "R0004", &kept, at_rest).unwrap();
        assert_eq!(sealed, plain, "the manifest lists the plaintext, sealed or not");
        let manifest_sha = sealed.sha256().unwrap();

        let plain_files = files_of(&root.path().join("plain"));
        let persons = dataset.tables().unwrap().into_iter().find(|table| table.name() == "persons").unwrap();
        let pseudonym = persons.column("person").unwrap().data.text_at(0).unwrap();
        let kept_files = files_of(&kept);
        assert_eq!(kept_files.len(), plain_files.len());
        for (path, bytes) in &kept_files {
            assert!(kiban_crypto::is_sealed(bytes), "{path} is sealed");
            assert!(!bytes.windows(pseudonym.len()).any(|w| w == pseudonym.as_bytes()), "{path}");
            assert!(!bytes.windows(4).any(|w| w == b"PAR1"), "{path} shows no Parquet structure");
        }
        assert!(!verify_release(&kept).unwrap().is_empty(), "sealed files are not the manifest's plaintext");

        // The handover copy is the plain release, byte for byte, and verifies.
        let handover = root.path().join("handover");
        let export = export_release(&kept, at_rest, Some(&manifest_sha), &handover).unwrap();
        assert_eq!(export.n_files, plain_files.len());
        assert_eq!(export.copied, vec!["manifest.json".to_owned()]);
        assert_eq!(files_of(&handover), plain_files);
        assert!(verify_release(&handover).unwrap().is_empty());
        assert!(matches!(
            export_release(&kept, at_rest, Some(&manifest_sha), &handover),
            Err(ReleaseError::ExportTarget(_))
        ));
    });
}

#[test]
fn export_refuses_a_wrong_key_an_altered_file_and_a_forged_manifest() {
    with_dataset(|dataset| {
        let root = tempfile::tempdir().unwrap();
        let key = kiban_crypto::DataKey::from_bytes([5; 32]);
        let at_rest = AtRest::Sealed { key: &key, object: "release:R0005" };
        let kept = root.path().join("kept");
        write_release_at(dataset, "R0005", &kept, at_rest).unwrap();
        let to = root.path().join("out");

        let other = kiban_crypto::DataKey::from_bytes([6; 32]);
        let error = export_release(&kept, AtRest::Sealed { key: &other, object: "release:R0005" }, None, &to);
        assert!(matches!(error, Err(ReleaseError::Io { .. })), "{error:?}");
        assert!(!to.exists(), "a failed export leaves no partial copy");
        let error = export_release(&kept, AtRest::Sealed { key: &key, object: "release:R0006" }, None, &to);
        assert!(matches!(error, Err(ReleaseError::Io { .. })), "another release's label");

        // Files swapped between tables do not open under their new names.
        let (a, b) = (kept.join("csv/persons.csv"), kept.join("csv/diagnoses.csv"));
        let (bytes_a, bytes_b) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        std::fs::write(&a, &bytes_b).unwrap();
        std::fs::write(&b, &bytes_a).unwrap();
        let error = export_release(&kept, at_rest, None, &to).unwrap_err();
        assert!(error.to_string().contains("csv/"), "{error}");
        std::fs::write(&a, &bytes_a).unwrap();
        std::fs::write(&b, &bytes_b).unwrap();
        export_release(&kept, at_rest, None, &to).unwrap();
        std::fs::remove_dir_all(&to).unwrap();

        // A manifest naming a path outside the release's folders is refused.
        let manifest_path = kept.join("manifest.json");
        let manifest = std::fs::read_to_string(&manifest_path).unwrap();
        std::fs::write(&manifest_path, manifest.replacen("\"csv/persons.csv\"", "\"csv/../../x\"", 1))
            .unwrap();
        assert!(matches!(export_release(&kept, at_rest, None, &to), Err(ReleaseError::Checksum { .. })));
        // A manifest with a file left out still lists only good files, but no longer matches the ledger's
        // checksum.
        let expected = hex::encode(Sha256::digest(manifest.as_bytes()));
        std::fs::write(&manifest_path, &manifest).unwrap();
        export_release(&kept, at_rest, Some(&expected), &to).unwrap();
        std::fs::remove_dir_all(&to).unwrap();
        let mut fewer: serde_json::Value = serde_json::from_str(&manifest).unwrap();
        fewer["files"].as_array_mut().unwrap().pop();
        std::fs::write(&manifest_path, serde_json::to_vec_pretty(&fewer).unwrap()).unwrap();
        export_release(&kept, at_rest, None, &to).unwrap();
        std::fs::remove_dir_all(&to).unwrap();
        let error = export_release(&kept, at_rest, Some(&expected), &to).unwrap_err();
        assert!(matches!(&error, ReleaseError::Checksum { path } if path == "manifest.json"), "{error}");
        assert!(!to.exists());
    });
}
