//! SS-MIX2 standardized storage: the NHO testing-tool tree, the support-documents sample, synthetic trees.

use std::path::{Path, PathBuf};

use kiban_ingest::{Progress, read_ssmix2, read_ssmix2_message};
use kiban_model::{DrugCodeSystem, EncounterClass, LabValue, NaiveDate, PersonName, Sex};

use crate::{provider, shared_data};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

#[test]
fn nho_testing_tool_tree_is_read_and_the_malformed_files_quarantined() {
    let Some(root) = shared_data("ssmix2/nho-testing-tool") else { return };
    let mut reports = Vec::new();
    let output = read_ssmix2(&root, &provider(), &mut |progress| reports.push(progress)).unwrap();
    assert_eq!(output.n_files, 22);
    assert_eq!(reports.last(), Some(&Progress { done: 22, total: 22 }));

    let quarantined: Vec<&Path> = output.quarantined.iter().map(|q| q.path.as_path()).collect();
    assert_eq!(
        quarantined,
        [
            Path::new(
                "000/000/0000001/20000401/ADT-31/9999013_20110630_OMP-11_123456789012345_20110701113813225_01_1"
            ),
            Path::new(
                "000/000/0000001/20000401/OMP-11/0000001_20000401_OMP-11_123456789012345_20110701113813225_01_1"
            ),
        ],
        "{:#?}",
        output.quarantined
    );
    for quarantined in &output.quarantined {
        assert!(
            !quarantined.reason.contains("9999013"),
            "a reason never shows a value: {}",
            quarantined.reason
        );
    }
    assert!(output.warnings.iter().any(|w| w.contains("_0: condition flag 0 (deleted), skipped")));

    assert_eq!(output.records.len(), 1, "only patient 9999013 has mapped messages");
    let record = &output.records[0];
    let person = &record.person;
    assert_eq!(person.local_id.as_str(), "9999013");
    assert_eq!(person.birth_date, Some(date(1948, 4, 5)), "ADT-00 demographics win");
    assert_eq!(person.sex, Sex::Male);
    assert_eq!(person.name_kana, Some(PersonName::new("カンジャ", "タロウ")));
    assert_eq!(person.name_kanji, Some(PersonName::new("患者", "太郎")));
    assert_eq!(person.postal_code.as_deref(), Some("422-8033"));
    assert_eq!(person.address.as_deref(), Some("静岡県静岡市登呂１\u{ff0d}３\u{ff0d}５"));
    assert_eq!(person.phone.as_deref(), Some("054-000-0000"));
    assert_eq!(person.insurances[0].insurer_number, "67999991");
    assert_eq!(person.insurances[0].valid_from, Some(date(2009, 12, 1)));
    let zi1 =
        person.insurances.iter().find(|i| i.insurer_number == "1130012").expect("the PPR-01 ZI1 insurance");
    assert_eq!((zi1.symbol.as_deref(), zi1.number.as_deref()), (Some("123456"), Some("11010203")));

    // ADT-22 admission on 2011-11-20, closed by the ADT-52 discharge on 2011-12-20.
    assert_eq!(record.encounters.len(), 1);
    let stay = &record.encounters[0];
    assert_eq!(stay.class, EncounterClass::Inpatient);
    assert_eq!((stay.start, stay.end), (date(2011, 11, 20), Some(date(2011, 12, 20))));
    assert_eq!(stay.department.as_deref(), Some("01"));

    assert_eq!(record.diagnoses.len(), 1);
    let diagnosis = &record.diagnoses[0];
    assert_eq!(diagnosis.icd10.as_deref(), Some("K297"));
    assert_eq!(diagnosis.medis_code.as_deref(), Some("20054174"));
    assert_eq!(diagnosis.name.as_deref(), Some("胃炎"));
    assert_eq!(diagnosis.onset, Some(date(2011, 8, 31)));
    assert!(diagnosis.main);
    assert!(!diagnosis.suspected);

    // OMP-11 (folder 20110630, read first): two RXA administrations; OMP-01: three RXE orders with days.
    assert_eq!(record.prescriptions.len(), 5);
    let (rxa, rxe) = record.prescriptions.split_at(2);
    assert!(rxe.iter().all(|p| p.date == date(2011, 7, 1)));
    assert_eq!(rxe.len(), 3);
    assert_eq!(rxe[0].drug_code, "108665201");
    assert_eq!(rxe[0].code_system, DrugCodeSystem::Hot);
    assert_eq!(rxe[0].drug_name.as_deref(), Some("ダーゼン錠（５mg)"));
    assert_eq!((rxe[0].dose, rxe[0].unit.as_deref(), rxe[0].days), (Some(3.0), Some("錠"), Some(5)));
    assert_eq!(
        (rxe[2].dose, rxe[2].unit.as_deref(), rxe[2].days),
        (Some(100.0), Some("ミリグラム"), Some(14))
    );
    assert_eq!((rxa[1].drug_code.as_str(), rxa[1].dose, rxa[1].days), ("110626901", Some(2.0), None));
    assert_eq!(rxa[1].date, date(2011, 7, 1), "RXA-3 start of administration");

    assert_eq!(record.labs.len(), 3);
    let protein = record.labs.iter().find(|lab| lab.code == "3A010000002327101").expect("total protein");
    assert_eq!(protein.value, LabValue::Numeric(7.2));
    assert_eq!(protein.unit.as_deref(), Some("g/dl"));
    assert_eq!(protein.reference_range.as_deref(), Some("6.70-8.3"));
    assert_eq!(protein.date, date(2011, 12, 19));

    for datatype in ["ADT-42", "ADT-61", "OMD", "OMG-01", "OMG-13", "OML-01", "OMP-02", "OMP-12"] {
        assert_eq!(output.unmapped.get(datatype), Some(&1), "{datatype}: {:?}", output.unmapped);
    }
    assert!(output.warnings.iter().any(|w| w.contains("PPR-01") && w.contains("PID-3 does not match")));
}

#[test]
fn support_documents_bacteriology_result_is_read() {
    let Some(root) = shared_data("ssmix2/support-documents-sample/standard_root") else { return };
    let output = read_ssmix2(&root, &provider(), &mut |_| {}).unwrap();
    assert!(output.quarantined.is_empty(), "{:?}", output.quarantined);
    assert_eq!(output.records.len(), 1);
    let record = &output.records[0];
    assert_eq!(record.person.local_id.as_str(), "0123456789");
    assert_eq!(record.person.name_kana, Some(PersonName::new("コクビョウ", "タロウ")));
    assert_eq!(record.labs.len(), 4);
    assert_eq!(record.labs[0].code, "6B010000001774214");
    assert_eq!(record.labs[0].value, LabValue::Text("E.Coli".to_owned()));
    assert_eq!(record.labs[1].value, LabValue::Text("(+)".to_owned()));
    assert_eq!(record.labs[0].date, date(2008, 1, 26), "SPM-17 collection date");
}

/// Writes one message into a temporary storage at its standard path.
fn write_message(root: &Path, id: &str, date_dir: &str, datatype: &str, order: &str, text: &str) -> PathBuf {
    let dir = root.join(&id[0..3]).join(&id[3..6]).join(id).join(date_dir).join(datatype);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{id}_{date_dir}_{datatype}_{order}_20240101120000000_01_1"));
    let text = text.replace('\n', "\r");
    let (bytes, _, had_errors) = encoding_rs::ISO_2022_JP.encode(&text);
    assert!(!had_errors);
    std::fs::write(&path, bytes).unwrap();
    path
}

const MSH: &str = "MSH|^~\\&|HIS|SEND|GW|RCV|20240101120000||";

#[test]
fn outpatient_visits_and_type_mismatches() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_message(
        root,
        "1234567",
        "20240105",
        "ADT-12",
        "1",
        &format!(
            "{MSH}ADT^A04^ADT_A01|1|P|2.5\nPID|1||1234567^^^^PI||山田^花子^^^^^L^I~ヤマダ^ハナコ^^^^^L^P||19800102|F\nPV1|1|E|01^^^^^C|||||||05"
        ),
    );
    write_message(
        root,
        "1234567",
        "20240106",
        "ADT-12",
        "2",
        &format!("{MSH}ADT^A01^ADT_A01|2|P|2.5\nPID|1||1234567||山田^花子^^^^^L^I||19800102|F\nPV1|1|O"),
    );
    write_message(
        root,
        "1234567",
        "-",
        "ADT-00",
        "3",
        &format!(
            "{MSH}ADT^A08^ADT_A01|3|P|2.5\nPID|1||1234567||||19800102|F\nIN1|1||06131234|||||||記号|番号"
        ),
    );
    let output = read_ssmix2(root, &provider(), &mut |_| {}).unwrap();
    assert_eq!(output.records.len(), 1);
    let record = &output.records[0];
    assert_eq!(record.encounters.len(), 1);
    assert_eq!(record.encounters[0].class, EncounterClass::Emergency);
    assert_eq!(record.encounters[0].start, date(2024, 1, 5));
    assert_eq!(record.encounters[0].department.as_deref(), Some("05"));
    assert_eq!(record.person.name_kana, Some(PersonName::new("ヤマダ", "ハナコ")));
    assert_eq!(record.person.insurances[0].symbol.as_deref(), Some("記号"));
    assert_eq!(output.quarantined.len(), 1);
    assert_eq!(
        output.quarantined[0].reason,
        "MSH-9 message type ADT^A01 does not fit the datatype folder ADT-12"
    );
}

#[test]
fn a_missing_root_is_an_error_and_an_empty_root_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    assert!(read_ssmix2(&dir.path().join("absent"), &provider(), &mut |_| {}).is_err());
    let output = read_ssmix2(dir.path(), &provider(), &mut |_| {}).unwrap();
    assert_eq!((output.records.len(), output.n_files), (0, 0));
}

#[test]
fn fingerprint_is_stable_and_changes_with_a_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_message(
        dir.path(),
        "1234567",
        "-",
        "ADT-00",
        "1",
        &format!("{MSH}ADT^A08^ADT_A01|1|P|2.5\nPID|1||1234567||||19800102|F"),
    );
    let read = || read_ssmix2(dir.path(), &provider(), &mut |_| {}).unwrap().fingerprint;
    let first = read();
    assert_eq!(first.len(), 64);
    assert_eq!(read(), first);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] = b'M';
    std::fs::write(&path, bytes).unwrap();
    assert_ne!(read(), first);
}

#[test]
fn one_message_in_memory_reads_as_its_file_would() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{MSH}ADT^A08^ADT_A01|1|P|2.5\nPID|1||1234567||ヤマダ^ハナコ||19800102|F");
    let path = write_message(dir.path(), "1234567", "-", "ADT-00", "1", &text);
    let bytes = std::fs::read(&path).unwrap();
    let relative = path.strip_prefix(dir.path()).unwrap().to_str().unwrap().replace('\\', "/");
    let from_memory = read_ssmix2_message(&relative, &bytes, &provider());
    let from_disk = read_ssmix2(dir.path(), &provider(), &mut |_| {}).unwrap();
    assert_eq!(from_memory, from_disk);
    assert_eq!(from_memory.records[0].person.name_kana, Some(PersonName::new("ヤマダ", "ハナコ")));

    // The path still decides the datatype: the same bytes under OMP-01 do not fit.
    let misplaced = read_ssmix2_message(
        "123/456/1234567/20240101/OMP-01/1234567_20240101_OMP-01_1_20240101120000000_01_1",
        &bytes,
        &provider(),
    );
    assert!(misplaced.records.is_empty());
    assert_eq!(
        misplaced.quarantined[0].reason,
        "MSH-9 message type ADT^A08 does not fit the datatype folder OMP-01"
    );
}
