//! CSV export folders (docs/formats/csv-intake.md).

use std::path::Path;

use kiban_ingest::{CsvMapping, IngestError, read_csv, read_csv_with_mapping};
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
    assert!(matches!(&error, IngestError::MissingFile { file, .. } if file == "patients.csv"), "{error}");
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

const PROVIDER_MAPPING: &str = r#"
# A provider's own export (docs/formats/csv-intake.md, "Column-mapping file").
date_format = "%Y/%m/%d"

[files.patients]
file = "KANJA.csv"
columns = { patient_id = "患者番号", name_kana = "カナ氏名", birth_date = "生年月日", sex = "性別", insurer_number = "保険者番号" }

[files.encounters]
file = "JUSHIN.csv"
columns = { patient_id = "患者番号", class = "区分", start_date = "受診日" }
values.class = { "外来" = "outpatient", "入院" = "inpatient" }

[files.labs]
file = "KENSA.csv"
date_format = "japanese-era"
columns = { patient_id = "患者番号", code = "JLAC10", value = "結果", date = "検査日" }
"#;

fn provider_export(dir: &Path) {
    write(
        dir,
        &[
            (
                "KANJA.csv",
                "患者番号,カナ氏名,生年月日,性別,保険者番号,備考\n\
                 A-001,ヤマダ ハナコ,1948/04/05,2,06131234,x\n\
                 A-002,スズキ イチロウ,1948-04-05,1,,\n",
            ),
            (
                "JUSHIN.csv",
                "患者番号,区分,受診日\nA-001,外来,2024/01/02\nA-001,入院,2024/02/03\nA-001,往診,2024/02/04\n",
            ),
            (
                "KENSA.csv",
                "患者番号,JLAC10,結果,検査日\nA-001,3A010000002327101,7.2,R6.1.2\nA-001,X,1,2024/01/02\n",
            ),
        ],
    );
}

fn mapping(text: &str) -> Result<CsvMapping, IngestError> {
    CsvMapping::from_toml(text, Path::new("mapping.toml"))
}

#[test]
fn a_provider_layout_is_read_through_its_mapping_file() {
    let dir = tempfile::tempdir().unwrap();
    provider_export(dir.path());
    let layout = mapping(PROVIDER_MAPPING).unwrap();
    let output = read_csv_with_mapping(dir.path(), &provider(), &layout, &mut |_| {}).unwrap();
    let reasons: Vec<String> =
        output.quarantined.iter().map(|q| format!("{}: {}", q.path.display(), q.reason)).collect();
    assert_eq!(
        reasons,
        [
            "KANJA.csv: line 3: column 生年月日 (birth_date): not a date",
            "JUSHIN.csv: line 4: column 区分 (class): expected outpatient/inpatient/emergency or O/I/E",
            "KENSA.csv: line 3: column 検査日 (date): not a date",
        ],
        "the provider's date format is enforced, values it did not map are refused"
    );
    assert!(output.warnings.iter().any(|w| w == "KANJA.csv: unknown column 備考 ignored"));
    assert_eq!(output.records.len(), 1);
    let record = &output.records[0];
    assert_eq!(record.person.local_id.as_str(), "A-001");
    assert_eq!(record.person.name_kana, Some(PersonName::new("ヤマダ", "ハナコ")));
    assert_eq!(record.person.birth_date, Some(date(1948, 4, 5)));
    assert_eq!(record.person.sex, Sex::Female);
    assert_eq!(record.person.insurances[0].insurer_number, "06131234");
    let encounters: Vec<_> = record.encounters.iter().map(|e| (e.class, e.start)).collect();
    assert_eq!(
        encounters,
        [(EncounterClass::Outpatient, date(2024, 1, 2)), (EncounterClass::Inpatient, date(2024, 2, 3))]
    );
    assert_eq!(
        (record.labs[0].value.clone(), record.labs[0].date),
        (LabValue::Numeric(7.2), date(2024, 1, 2))
    );

    // The mapping is part of the fingerprint: the same files under another mapping are another batch.
    let other = mapping(&PROVIDER_MAPPING.replace("%Y/%m/%d", "%Y-%m-%d")).unwrap();
    let again = read_csv_with_mapping(dir.path(), &provider(), &other, &mut |_| {}).unwrap();
    assert_ne!(output.fingerprint, again.fingerprint);
    let same = read_csv_with_mapping(dir.path(), &provider(), &layout, &mut |_| {}).unwrap();
    assert_eq!(output.fingerprint, same.fingerprint);
}

#[test]
fn a_bad_mapping_is_refused_naming_the_file_and_column() {
    let check = |text: &str, expected: &str| {
        let error = mapping(text).unwrap_err();
        assert_eq!(error.to_string(), format!("CSV mapping file mapping.toml: {expected}"));
    };
    check(
        "[files.labs]\ncolumns = { result = \"結果\" }\n",
        "[files.labs.columns]: result is not a column of labs.csv \
         (known: patient_id, code, value, date, name, unit, reference_range)",
    );
    check(
        "[files.kensa]\nfile = \"KENSA.csv\"\n",
        "[files.kensa]: not a file of the CSV intake format \
         (known: patients, encounters, diagnoses, prescriptions, labs, procedures)",
    );
    check(
        "date_format = \"yyyy/mm/dd\"\n",
        "date_format: expected \"auto\", \"japanese-era\" or a strftime pattern such as \"%Y/%m/%d\"",
    );
    check(
        "[files.labs]\nfile = \"X.csv\"\n[files.procedures]\nfile = \"X.csv\"\n",
        "two files are mapped to the same file name X.csv",
    );
    assert!(mapping("[files.labs]\ncolumn = {}\n").unwrap_err().to_string().contains("unknown field"));

    // A mapped column, or a required column, that the provider's file does not have.
    let dir = tempfile::tempdir().unwrap();
    provider_export(dir.path());
    let renamed = mapping(&PROVIDER_MAPPING.replace("\"結果\"", "\"検査値\"")).unwrap();
    let error = read_csv_with_mapping(dir.path(), &provider(), &renamed, &mut |_| {}).unwrap_err();
    assert_eq!(
        error.to_string(),
        "KENSA.csv: column 検査値 (mapped to labs.value) is not in the header row: fix the mapping file or the export"
    );
    let unmapped = mapping(&PROVIDER_MAPPING.replace(", start_date = \"受診日\"", "")).unwrap();
    let error = read_csv_with_mapping(dir.path(), &provider(), &unmapped, &mut |_| {}).unwrap_err();
    assert!(
        matches!(&error, IngestError::MappedColumnMissing { file, column, canonical }
            if file == "JUSHIN.csv" && column == "start_date" && canonical == "encounters.start_date"),
        "{error}"
    );
    let error = CsvMapping::read(&dir.path().join("absent.toml")).unwrap_err();
    assert!(matches!(error, IngestError::MappingUnreadable { .. }), "{error}");
}
