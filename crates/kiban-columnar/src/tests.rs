//! Tests for the Parquet/CSV encodings and the record table encoding.

use kiban_model::{
    Diagnosis, DrugCodeSystem, Encounter, EncounterClass, IdentifiedPerson, Insurance, LabResult, LabValue,
    LocalPatientId, NaiveDate, PatientRecord, PersonName, Prescription, Procedure, ProviderCode, Sex,
};

use super::*;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn text(value: &str) -> Option<String> {
    Some(value.to_owned())
}

/// A table with every column type, nulls in each, and dates on both sides of 1970.
fn sample_table() -> Table {
    Table::new(
        "sample",
        vec![
            Column::new("name", ColumnData::Utf8(vec![text("山田"), None, text("")])),
            Column::new("count", ColumnData::Int64(vec![Some(-3), Some(i64::MAX), None])),
            Column::new("value", ColumnData::Float64(vec![None, Some(4.25), Some(-0.5)])),
            Column::new("flag", ColumnData::Bool(vec![Some(true), None, Some(false)])),
            Column::new(
                "day",
                ColumnData::Date(vec![Some(date(1931, 2, 28)), Some(date(2024, 12, 31)), None]),
            ),
        ],
    )
    .unwrap()
}

/// Two records that between them use every field, with both `None` and `Some`, and both lab value kinds.
fn sample_records() -> Vec<PatientRecord> {
    let mut full = IdentifiedPerson::new(
        ProviderCode::new("1310000001").unwrap(),
        LocalPatientId::new("0000123").unwrap(),
    );
    full.name_kanji = Some(PersonName::new("山田", "花子"));
    full.name_kana = Some(PersonName::new("ヤマダハナコ", ""));
    full.birth_date = Some(date(1950, 5, 6));
    full.sex = Sex::Female;
    full.postal_code = text("1000001");
    full.address = text("東京都千代田区千代田1-1");
    full.phone = text("03-1234-5678");
    full.insurances = vec![
        Insurance {
            insurer_number: "06131234".to_owned(),
            symbol: text("12"),
            number: text("345"),
            branch: text("01"),
            valid_from: Some(date(2020, 4, 1)),
        },
        Insurance { insurer_number: "01130012".to_owned(), ..Insurance::default() },
    ];
    let mut first = PatientRecord::new(full);
    first.encounters = vec![
        Encounter {
            class: EncounterClass::Inpatient,
            start: date(2023, 1, 5),
            end: Some(date(2023, 1, 20)),
            department: text("内科"),
        },
        Encounter { class: EncounterClass::Emergency, start: date(2023, 3, 1), end: None, department: None },
    ];
    first.diagnoses = vec![
        Diagnosis {
            icd10: text("E119"),
            medis_code: text("ABCD1234"),
            name: text("2型糖尿病"),
            onset: Some(date(2019, 7, 1)),
            suspected: false,
            main: true,
        },
        Diagnosis { icd10: None, medis_code: None, name: None, onset: None, suspected: true, main: false },
    ];
    first.prescriptions = vec![
        Prescription {
            drug_code: "123456789".to_owned(),
            code_system: DrugCodeSystem::Hot,
            drug_name: text("メトホルミン"),
            dose: Some(750.0),
            unit: text("mg"),
            days: Some(28),
            date: date(2023, 1, 20),
        },
        Prescription {
            drug_code: "X1".to_owned(),
            code_system: DrugCodeSystem::Other,
            drug_name: None,
            dose: None,
            unit: None,
            days: None,
            date: date(2023, 2, 1),
        },
    ];
    first.labs = vec![
        LabResult {
            code: "3D010000001926101".to_owned(),
            name: text("HbA1c"),
            value: LabValue::Numeric(7.1),
            unit: text("%"),
            reference_range: text("4.6-6.2"),
            date: date(2023, 1, 6),
        },
        LabResult {
            code: "LOCAL-UA".to_owned(),
            name: None,
            value: LabValue::Text("(+)".to_owned()),
            unit: None,
            reference_range: None,
            date: date(2023, 1, 6),
        },
    ];
    first.procedures = vec![
        Procedure {
            code: "K0001".to_owned(),
            code_system: text("K"),
            name: text("処置"),
            date: date(2023, 1, 7),
        },
        Procedure { code: "P2".to_owned(), code_system: None, name: None, date: date(2023, 1, 8) },
    ];

    // A bare person between two full ones, so record_idx values are not all equal.
    let bare = PatientRecord::new(IdentifiedPerson::new(
        ProviderCode::new("1310000001").unwrap(),
        LocalPatientId::new("0000124").unwrap(),
    ));
    let mut third = PatientRecord::new(IdentifiedPerson::new(
        ProviderCode::new("2710000002").unwrap(),
        LocalPatientId::new("A-9").unwrap(),
    ));
    third.person.sex = Sex::Male;
    third.prescriptions.push(Prescription {
        drug_code: "620000000000".to_owned(),
        code_system: DrugCodeSystem::Yj,
        drug_name: None,
        dose: Some(1.5),
        unit: None,
        days: Some(0),
        date: date(2024, 2, 29),
    });
    third.labs.push(LabResult {
        code: "3A015000002327101".to_owned(),
        name: None,
        value: LabValue::Numeric(-1.0),
        unit: None,
        reference_range: None,
        date: date(2024, 3, 1),
    });
    vec![first, bare, third]
}

#[test]
fn records_round_trip_through_tables() {
    let records = sample_records();
    let tables = records_to_tables(&records);
    let names: Vec<&str> = tables.iter().map(Table::name).collect();
    assert_eq!(names, RECORD_TABLES);
    assert_eq!(tables[0].n_rows(), 3);
    assert_eq!(tables[0].column("local_id").unwrap().data.text_at(2).as_deref(), Some("A-9"));
    assert_eq!(
        tables[4].column("record_idx").unwrap().data,
        ColumnData::Int64(vec![Some(0), Some(0), Some(2)])
    );

    let mut shuffled = tables.clone();
    shuffled.reverse();
    let decoded = tables_to_records(&shuffled).unwrap();
    assert!(decoded == records, "round trip changed the records");
    assert!(tables_to_records(&records_to_tables(&[])).unwrap().is_empty());
}

#[test]
fn records_round_trip_through_parquet_files() {
    let dir = tempfile::tempdir().unwrap();
    let records = sample_records();
    let mut read_back = Vec::new();
    for table in records_to_tables(&records) {
        let path = dir.path().join(format!("{}.parquet", table.name()));
        write_parquet(&table, &path).unwrap();
        let read = read_parquet(&path, table.name()).unwrap();
        assert!(read == table, "table {} changed through Parquet", table.name());
        read_back.push(read);
    }
    assert!(tables_to_records(&read_back).unwrap() == records);
}

#[test]
fn parquet_round_trips_every_type_and_null() {
    let table = sample_table();
    let bytes = encode_parquet(&table, "mem").unwrap();
    assert_eq!(&bytes[..4], b"PAR1");
    let decoded = decode_parquet(bytes, "sample", "mem").unwrap();
    assert!(decoded == table);
    let empty = table.filter_rows(&[false, false, false]);
    assert!(decode_parquet(encode_parquet(&empty, "mem").unwrap(), "sample", "mem").unwrap() == empty);
}

#[test]
fn parquet_output_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
    write_parquet(&sample_table(), &a).unwrap();
    write_parquet(&sample_table(), &b).unwrap();
    let bytes = std::fs::read(&a).unwrap();
    assert_eq!(bytes, std::fs::read(&b).unwrap());
    let footer = String::from_utf8_lossy(&bytes);
    assert!(footer.contains("kiban-columnar version"), "created_by is fixed by us");
}

#[test]
fn csv_has_header_empty_nulls_and_iso_dates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sample.csv");
    write_csv(&sample_table(), &path).unwrap();
    let written = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        written,
        "name,count,value,flag,day\n山田,-3,,true,1931-02-28\n,9223372036854775807,4.25,,2024-12-31\n,,-0.5,false,\n"
    );
}

#[test]
fn decode_errors_name_table_column_and_row_but_no_value() {
    let mut tables = records_to_tables(&sample_records());
    // Corrupt the sex code of person 2 with a value that must not appear in the error.
    let persons = &tables[0];
    let columns = persons
        .columns()
        .iter()
        .map(|column| match column.name.as_str() {
            "sex" => Column::new("sex", ColumnData::Utf8(vec![text("F"), text("U"), text("SECRET")])),
            _ => column.clone(),
        })
        .collect();
    tables[0] = Table::new("persons", columns).unwrap();
    let message = tables_to_records(&tables).unwrap_err().to_string();
    assert_eq!(message, "table persons: row 2, column sex: expected M, F, O or U");

    let without_labs: Vec<Table> =
        records_to_tables(&sample_records()).into_iter().filter(|t| t.name() != "labs").collect();
    assert!(
        matches!(tables_to_records(&without_labs), Err(TableError::MissingTable { table }) if table == "labs")
    );

    let mut bad_owner = records_to_tables(&sample_records());
    let labs = bad_owner[5].columns().iter().map(|column| match column.name.as_str() {
        "record_idx" => Column::new("record_idx", ColumnData::Int64(vec![Some(0), Some(0), Some(3)])),
        _ => column.clone(),
    });
    bad_owner[5] = Table::new("labs", labs.collect()).unwrap();
    let message = tables_to_records(&bad_owner).unwrap_err().to_string();
    assert_eq!(message, "table labs: row 2, column record_idx: does not point at a persons row");

    let mut wrong_type = records_to_tables(&sample_records());
    let procedures = wrong_type[6].columns().iter().map(|column| match column.name.as_str() {
        "date" => Column::new("date", ColumnData::Utf8(vec![None, None])),
        _ => column.clone(),
    });
    wrong_type[6] = Table::new("procedures", procedures.collect()).unwrap();
    assert!(matches!(
        tables_to_records(&wrong_type),
        Err(TableError::ColumnType { column, expected: "date", actual: "string", .. }) if column == "date"
    ));
}

#[test]
fn unreadable_parquet_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.parquet");
    std::fs::write(&path, b"not parquet at all").unwrap();
    let message = read_parquet(&path, "broken").unwrap_err().to_string();
    assert!(message.starts_with(&path.display().to_string()), "{message}");
    let missing = read_parquet(&dir.path().join("absent.parquet"), "absent").unwrap_err().to_string();
    assert!(missing.contains("absent.parquet"), "{missing}");
}

/// Every record of `compact`, materialized.
fn materialized(compact: &CompactRecords) -> Vec<PatientRecord> {
    (0..compact.n_records()).map(|record| compact.record(record)).collect()
}

#[test]
fn compact_records_give_back_the_records_pushed_or_decoded() {
    let records = sample_records();
    let mut pushed = CompactRecords::new();
    for record in &records {
        pushed.push(record).unwrap();
    }
    assert!(materialized(&pushed) == records, "push then record changed the records");
    assert_eq!(pushed.n_events(), 12);

    // Decoded from the tables, in chunks of one row with the rows of each event table reversed: the
    // compact form groups rows by record and keeps their order within a record.
    let mut decoded = CompactRecords::new();
    let mut batch = decoded.batch();
    for table in records_to_tables(&records) {
        let n = table.n_rows();
        let order: Vec<usize> =
            if table.name() == "persons" { (0..n).collect() } else { (0..n).rev().collect() };
        for row in order {
            let keep: Vec<bool> = (0..n).map(|idx| idx == row).collect();
            batch.append(&table.filter_rows(&keep)).unwrap();
        }
        if n == 0 {
            batch.append(&table).unwrap();
        }
    }
    batch.finish().unwrap();
    let mut expected = records.clone();
    for record in &mut expected {
        // Rows of one record were reversed too.
        record.person.insurances.reverse();
        record.encounters.reverse();
        record.diagnoses.reverse();
        record.prescriptions.reverse();
        record.labs.reverse();
        record.procedures.reverse();
    }
    assert!(materialized(&decoded) == expected, "chunked decoding changed the records");

    let mut whole = CompactRecords::new();
    whole.append_tables(&records_to_tables(&records)).unwrap();
    // (`tables_to_records` is this same decoder, so the reference is the records themselves.)
    assert!(materialized(&whole) == records, "whole-table decoding changed the records");
    let lab = whole.events(EventKind::Lab, 0).next().unwrap();
    assert!(matches!(
        whole.event(EventKind::Lab, lab),
        EventRef::Lab(LabRef { code: "3D010000001926101", .. })
    ));
    assert_eq!(whole.event_source(EventKind::Lab, lab), ("1310000001", "0000123"));
    let shown = format!("{whole:?} {:?}", whole.event(EventKind::Lab, lab));
    assert!(!shown.contains("HbA1c") && !shown.contains("0000123"), "{shown}");
}

#[test]
fn compact_records_merge_a_patient_sent_twice_as_patient_record_merge_does() {
    let records = sample_records();
    let mut again = records[0].clone();
    again.person.name_kanji = None;
    again.person.birth_date = None;
    again.person.phone = Some("090-0000-0000".to_owned());
    again.person.insurances.push(Insurance { insurer_number: "39131234".to_owned(), ..Insurance::default() });
    again.labs.truncate(1);
    let mut compact = CompactRecords::new();
    compact.append_tables(&records_to_tables(&records[1..])).unwrap();
    compact.append_tables(&records_to_tables(&records[..1])).unwrap();
    compact.append_tables(&records_to_tables(std::slice::from_ref(&again))).unwrap();
    compact.merge_patients();

    let mut merged = records[0].clone();
    merged.merge(again);
    let expected = vec![merged, records[1].clone(), records[2].clone()];
    assert!(materialized(&compact) == expected, "merged records differ");
    assert_eq!(compact.n_records(), 3);
    assert_eq!(compact.birth_date(0), expected[0].person.birth_date);
    assert_eq!(compact.sex(0), Sex::Female);
    assert_eq!(compact.address(0), expected[0].person.address.as_deref());
    assert_eq!(compact.postal_code(2), None);
    assert!(compact.person(0) == expected[0].person);
    assert_eq!(compact.events(EventKind::Lab, 0).count(), 3);
}

#[test]
fn compact_decoding_checks_like_tables_to_records_and_takes_back_a_failed_batch() {
    let records = sample_records();
    let mut compact = CompactRecords::new();
    compact.append_tables(&records_to_tables(&records[..1])).unwrap();

    let mut bad_owner = records_to_tables(&records);
    let labs = bad_owner[5].columns().iter().map(|column| match column.name.as_str() {
        "record_idx" => Column::new("record_idx", ColumnData::Int64(vec![Some(0), Some(0), Some(3)])),
        _ => column.clone(),
    });
    bad_owner[5] = Table::new("labs", labs.collect()).unwrap();
    let message = compact.append_tables(&bad_owner).unwrap_err().to_string();
    assert_eq!(message, "table labs: row 2, column record_idx: does not point at a persons row");
    let without_labs: Vec<Table> =
        records_to_tables(&records).into_iter().filter(|t| t.name() != "labs").collect();
    assert!(
        matches!(compact.append_tables(&without_labs), Err(TableError::MissingTable { table }) if table == "labs")
    );

    // Chunk row numbers count from the start of the table.
    let mut batch = compact.batch();
    let persons = &records_to_tables(&records)[0];
    batch.append(&persons.filter_rows(&[true, true, false])).unwrap();
    let sex = persons.columns().iter().map(|column| match column.name.as_str() {
        "sex" => Column::new("sex", ColumnData::Utf8(vec![text("SECRET")])),
        "record_idx" => Column::new("record_idx", ColumnData::Int64(vec![Some(2)])),
        _ => Column::new(&column.name, column.data.filter(&[false, false, true])),
    });
    let message = batch.append(&Table::new("persons", sex.collect()).unwrap()).unwrap_err().to_string();
    assert_eq!(message, "table persons: row 2, column sex: expected M, F, O or U");
    drop(batch);

    assert_eq!(compact.n_records(), 1, "failed batches are taken back");
    assert!(materialized(&compact) == records[..1]);
    compact.append_tables(&records_to_tables(&records[1..])).unwrap();
    assert!(materialized(&compact) == records);
}

#[test]
fn parquet_decodes_chunk_by_chunk() {
    let table = sample_table();
    let mut chunks = Vec::new();
    decode_parquet_chunks(encode_parquet(&table, "mem").unwrap(), "sample", "mem", |chunk| {
        chunks.push(chunk.clone());
        Ok(())
    })
    .unwrap();
    assert_eq!(chunks.iter().map(Table::n_rows).sum::<usize>(), 3);
    let empty = table.filter_rows(&[false, false, false]);
    let mut calls = 0;
    decode_parquet_chunks(encode_parquet(&empty, "mem").unwrap(), "sample", "mem", |chunk| {
        assert!(*chunk == empty);
        calls += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(calls, 1, "an empty file still gives its columns once");
}
