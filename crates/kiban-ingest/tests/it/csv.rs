//! CSV export folders (docs/formats/csv-intake.md).

use std::path::Path;

use kiban_ingest::{IngestError, read_csv};
use kiban_model::{EncounterClass, LabValue, NaiveDate, PersonName, Sex};

use crate::provider;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (name, content) in files {
        std::fs::write(dir.join(name), content).unwrap();
    }
}

#[test]
fn rows_map_and_a_bad_row_is_quarantined_alone() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            (
                "patients.csv",
                "\u{feff}patient_id,name_kanji,name_kana,birth_date,sex,insurer_number,insurance_symbol,extra\n\
                 P1,山田　花子,ヤマダ ハナコ,S23.04.05,女,06131234,記号,x\n\
                 P2,鈴木一郎,スズキイチロウ,昭和23年4月5日,M,,,\n\
                 P3,佐藤,サトウ,not-a-date,F,,,\n",
            ),
            (
                "encounters.csv",
                "patient_id,class,start_date,end_date,department\n\
                 P1,inpatient,2024-01-02,2024/01/09,内科\n\
                 P1,E,R6.2.1,,\n\
                 P1,ward,2024-01-02,,\n\
                 P9,O,2024-01-02,,\n\
                 P2,O,2024-01-02\n",
            ),
            ("diagnoses.csv", "patient_id,icd10,name,suspected,main\nP2,E11.9,糖尿病,1,true\nP2,,,0,0\n"),
            (
                "labs.csv",
                "patient_id,code,value,unit,date\nP1,3A010000002327101,7.2,g/dl,20240102\nP1,X,陰性,,H31.4.30\n",
            ),
            ("notes.csv", "a\n1\n"),
        ],
    );
    let output = read_csv(dir.path(), &provider(), &mut |_| {}).unwrap();
    assert_eq!(output.n_files, 5);
    let reasons: Vec<String> =
        output.quarantined.iter().map(|q| format!("{}: {}", q.path.display(), q.reason)).collect();
    assert_eq!(
        reasons,
        [
            "patients.csv: line 4: column birth_date: not a date",
            "encounters.csv: line 4: column class: expected outpatient/inpatient/emergency or O/I/E",
            "encounters.csv: line 5: column patient_id: not in patients.csv",
            "encounters.csv: line 6: 3 fields, the header has 5",
            "diagnoses.csv: line 3: columns icd10, medis_code, name: all empty",
        ]
    );
    assert!(output.warnings.iter().any(|w| w == "patients.csv: unknown column extra ignored"));
    assert!(output.warnings.iter().any(|w| w.starts_with("notes.csv")));

    assert_eq!(output.records.len(), 2);
    let first = &output.records[0];
    assert_eq!(first.person.local_id.as_str(), "P1");
    assert_eq!(first.person.name_kanji, Some(PersonName::new("山田", "花子")));
    assert_eq!(first.person.name_kana, Some(PersonName::new("ヤマダ", "ハナコ")));
    assert_eq!(first.person.birth_date, Some(date(1948, 4, 5)));
    assert_eq!(first.person.sex, Sex::Female);
    assert_eq!(first.person.insurances[0].symbol.as_deref(), Some("記号"));
    assert_eq!(first.encounters.len(), 2);
    assert_eq!(first.encounters[0].end, Some(date(2024, 1, 9)));
    assert_eq!(
        (first.encounters[1].class, first.encounters[1].start),
        (EncounterClass::Emergency, date(2024, 2, 1))
    );
    assert_eq!(first.labs[0].value, LabValue::Numeric(7.2));
    assert_eq!(
        (first.labs[1].value.clone(), first.labs[1].date),
        (LabValue::Text("陰性".to_owned()), date(2019, 4, 30))
    );
    let second = &output.records[1];
    assert_eq!(
        second.person.name_kanji,
        Some(PersonName::new("鈴木一郎", "")),
        "no separator: all in family"
    );
    assert_eq!(second.person.birth_date, Some(date(1948, 4, 5)));
    assert_eq!(second.diagnoses[0].icd10.as_deref(), Some("E119"));
    assert!(second.diagnoses[0].suspected && second.diagnoses[0].main);
    for quarantined in &output.quarantined {
        assert!(!quarantined.reason.contains("not-a-date") && !quarantined.reason.contains("ward"));
    }
}

#[test]
fn patients_csv_is_mandatory() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &[("labs.csv", "patient_id,code,value,date\n")]);
    let error = read_csv(dir.path(), &provider(), &mut |_| {}).unwrap_err();
    assert!(matches!(error, IngestError::MissingFile { file: "patients.csv", .. }), "{error}");
}

#[test]
fn a_file_without_a_required_column_is_quarantined_whole() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[("patients.csv", "patient_id\nP1\n"), ("labs.csv", "patient_id,code,date\nP1,X,2024-01-01\n")],
    );
    let output = read_csv(dir.path(), &provider(), &mut |_| {}).unwrap();
    assert_eq!(output.records.len(), 1);
    assert_eq!(output.quarantined.len(), 1);
    assert_eq!(output.quarantined[0].reason, "missing required columns: value");
}
