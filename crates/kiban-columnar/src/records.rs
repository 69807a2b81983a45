//! The vault's table encoding of [`PatientRecord`]s: one table per record kind, joined by `record_idx`.
//!
//! Tables and columns (every column nullable in the file; required ones are checked on decode):
//! - `persons`: `record_idx` (= row number), `provider`, `local_id`, `name_kanji_family`,
//!   `name_kanji_given`, `name_kana_family`, `name_kana_given` (a name is absent when its family part is
//!   null), `birth_date`, `sex` (HL7 code `M`/`F`/`O`/`U`), `postal_code`, `address`, `phone`;
//! - `insurances`: `record_idx`, `insurer_number`, `symbol`, `number`, `branch`, `valid_from`;
//! - `encounters`: `record_idx`, `class` (`outpatient`…), `start`, `end`, `department`;
//! - `diagnoses`: `record_idx`, `icd10`, `medis_code`, `name`, `onset`, `suspected`, `main`;
//! - `prescriptions`: `record_idx`, `drug_code`, `code_system` (`HOT`/`YJ`/`other`), `drug_name`, `dose`,
//!   `unit`, `days`, `date`;
//! - `labs`: `record_idx`, `code`, `name`, `value_numeric`, `value_text` (exactly one is set), `unit`,
//!   `reference_range`, `date`;
//! - `procedures`: `record_idx`, `code`, `code_system`, `name`, `date`.
//!
//! Event rows keep their order within a record, so a round trip gives back identical records.

use kiban_model::{DrugCodeSystem, IdentifiedPerson, LabResult, LabValue, NaiveDate, PatientRecord, Sex};

use crate::table::{Column, ColumnData, Table, TableError};

/// The names of the tables [`records_to_tables`] produces, in order.
pub const RECORD_TABLES: [&str; 7] =
    ["persons", "insurances", "encounters", "diagnoses", "prescriptions", "labs", "procedures"];

fn idx(record_idx: usize) -> Option<i64> {
    Some(i64::try_from(record_idx).expect("a slice index fits in i64"))
}

fn table(name: &str, columns: Vec<(&str, ColumnData)>) -> Table {
    let columns = columns.into_iter().map(|(column, data)| Column::new(column, data)).collect();
    Table::new(name, columns).expect("record tables have fixed, unique, plain names and equal column lengths")
}

/// Encodes records as the seven tables of [`RECORD_TABLES`], in that order.
pub fn records_to_tables(records: &[PatientRecord]) -> Vec<Table> {
    vec![
        persons_table(records),
        insurances_table(records),
        encounters_table(records),
        diagnoses_table(records),
        prescriptions_table(records),
        labs_table(records),
        procedures_table(records),
    ]
}

fn persons_table(records: &[PatientRecord]) -> Table {
    let persons: Vec<&IdentifiedPerson> = records.iter().map(|record| &record.person).collect();
    let text = |get: &dyn Fn(&IdentifiedPerson) -> Option<String>| {
        ColumnData::Utf8(persons.iter().map(|person| get(person)).collect())
    };
    table(
        "persons",
        vec![
            ("record_idx", ColumnData::Int64((0..persons.len()).map(idx).collect())),
            ("provider", text(&|person| Some(person.provider.as_str().to_owned()))),
            ("local_id", text(&|person| Some(person.local_id.as_str().to_owned()))),
            ("name_kanji_family", text(&|person| person.name_kanji.as_ref().map(|name| name.family.clone()))),
            ("name_kanji_given", text(&|person| person.name_kanji.as_ref().map(|name| name.given.clone()))),
            ("name_kana_family", text(&|person| person.name_kana.as_ref().map(|name| name.family.clone()))),
            ("name_kana_given", text(&|person| person.name_kana.as_ref().map(|name| name.given.clone()))),
            ("birth_date", ColumnData::Date(persons.iter().map(|person| person.birth_date).collect())),
            ("sex", text(&|person| Some(person.sex.hl7_code().to_owned()))),
            ("postal_code", text(&|person| person.postal_code.clone())),
            ("address", text(&|person| person.address.clone())),
            ("phone", text(&|person| person.phone.clone())),
        ],
    )
}

/// Flattens one kind of event into `(record_idx, event)` rows.
fn rows<T>(records: &[PatientRecord], events: fn(&PatientRecord) -> &[T]) -> Vec<(Option<i64>, &T)> {
    records
        .iter()
        .enumerate()
        .flat_map(|(record_idx, record)| events(record).iter().map(move |event| (idx(record_idx), event)))
        .collect()
}

fn record_idx_column<T>(rows: &[(Option<i64>, &T)]) -> ColumnData {
    ColumnData::Int64(rows.iter().map(|(record_idx, _)| *record_idx).collect())
}

fn insurances_table(records: &[PatientRecord]) -> Table {
    let rows = rows(records, |record| &record.person.insurances);
    table(
        "insurances",
        vec![
            ("record_idx", record_idx_column(&rows)),
            (
                "insurer_number",
                ColumnData::Utf8(rows.iter().map(|(_, i)| Some(i.insurer_number.clone())).collect()),
            ),
            ("symbol", ColumnData::Utf8(rows.iter().map(|(_, i)| i.symbol.clone()).collect())),
            ("number", ColumnData::Utf8(rows.iter().map(|(_, i)| i.number.clone()).collect())),
            ("branch", ColumnData::Utf8(rows.iter().map(|(_, i)| i.branch.clone()).collect())),
            ("valid_from", ColumnData::Date(rows.iter().map(|(_, i)| i.valid_from).collect())),
        ],
    )
}

fn encounters_table(records: &[PatientRecord]) -> Table {
    let rows = rows(records, |record| &record.encounters);
    table(
        "encounters",
        vec![
            ("record_idx", record_idx_column(&rows)),
            ("class", ColumnData::Utf8(rows.iter().map(|(_, e)| Some(e.class.name().to_owned())).collect())),
            ("start", ColumnData::Date(rows.iter().map(|(_, e)| Some(e.start)).collect())),
            ("end", ColumnData::Date(rows.iter().map(|(_, e)| e.end).collect())),
            ("department", ColumnData::Utf8(rows.iter().map(|(_, e)| e.department.clone()).collect())),
        ],
    )
}

fn diagnoses_table(records: &[PatientRecord]) -> Table {
    let rows = rows(records, |record| &record.diagnoses);
    table(
        "diagnoses",
        vec![
            ("record_idx", record_idx_column(&rows)),
            ("icd10", ColumnData::Utf8(rows.iter().map(|(_, d)| d.icd10.clone()).collect())),
            ("medis_code", ColumnData::Utf8(rows.iter().map(|(_, d)| d.medis_code.clone()).collect())),
            ("name", ColumnData::Utf8(rows.iter().map(|(_, d)| d.name.clone()).collect())),
            ("onset", ColumnData::Date(rows.iter().map(|(_, d)| d.onset).collect())),
            ("suspected", ColumnData::Bool(rows.iter().map(|(_, d)| Some(d.suspected)).collect())),
            ("main", ColumnData::Bool(rows.iter().map(|(_, d)| Some(d.main)).collect())),
        ],
    )
}

fn prescriptions_table(records: &[PatientRecord]) -> Table {
    let rows = rows(records, |record| &record.prescriptions);
    table(
        "prescriptions",
        vec![
            ("record_idx", record_idx_column(&rows)),
            ("drug_code", ColumnData::Utf8(rows.iter().map(|(_, p)| Some(p.drug_code.clone())).collect())),
            (
                "code_system",
                ColumnData::Utf8(rows.iter().map(|(_, p)| Some(p.code_system.name().to_owned())).collect()),
            ),
            ("drug_name", ColumnData::Utf8(rows.iter().map(|(_, p)| p.drug_name.clone()).collect())),
            ("dose", ColumnData::Float64(rows.iter().map(|(_, p)| p.dose).collect())),
            ("unit", ColumnData::Utf8(rows.iter().map(|(_, p)| p.unit.clone()).collect())),
            ("days", ColumnData::Int64(rows.iter().map(|(_, p)| p.days.map(i64::from)).collect())),
            ("date", ColumnData::Date(rows.iter().map(|(_, p)| Some(p.date)).collect())),
        ],
    )
}

fn labs_table(records: &[PatientRecord]) -> Table {
    let rows = rows(records, |record| &record.labs);
    let numeric = |lab: &LabResult| match lab.value {
        LabValue::Numeric(value) => Some(value),
        LabValue::Text(_) => None,
    };
    let text = |lab: &LabResult| match &lab.value {
        LabValue::Numeric(_) => None,
        LabValue::Text(value) => Some(value.clone()),
    };
    table(
        "labs",
        vec![
            ("record_idx", record_idx_column(&rows)),
            ("code", ColumnData::Utf8(rows.iter().map(|(_, l)| Some(l.code.clone())).collect())),
            ("name", ColumnData::Utf8(rows.iter().map(|(_, l)| l.name.clone()).collect())),
            ("value_numeric", ColumnData::Float64(rows.iter().map(|(_, l)| numeric(l)).collect())),
            ("value_text", ColumnData::Utf8(rows.iter().map(|(_, l)| text(l)).collect())),
            ("unit", ColumnData::Utf8(rows.iter().map(|(_, l)| l.unit.clone()).collect())),
            (
                "reference_range",
                ColumnData::Utf8(rows.iter().map(|(_, l)| l.reference_range.clone()).collect()),
            ),
            ("date", ColumnData::Date(rows.iter().map(|(_, l)| Some(l.date)).collect())),
        ],
    )
}

fn procedures_table(records: &[PatientRecord]) -> Table {
    let rows = rows(records, |record| &record.procedures);
    table(
        "procedures",
        vec![
            ("record_idx", record_idx_column(&rows)),
            ("code", ColumnData::Utf8(rows.iter().map(|(_, p)| Some(p.code.clone())).collect())),
            ("code_system", ColumnData::Utf8(rows.iter().map(|(_, p)| p.code_system.clone()).collect())),
            ("name", ColumnData::Utf8(rows.iter().map(|(_, p)| p.name.clone()).collect())),
            ("date", ColumnData::Date(rows.iter().map(|(_, p)| Some(p.date)).collect())),
        ],
    )
}

/// Typed, checked access to one decoded table, or one chunk of it whose first row is row `offset` of the
/// table. Errors name the table, column and row, never a value.
pub(crate) struct Columns<'a> {
    table: &'a Table,
    offset: usize,
}

macro_rules! typed_column {
    ($method:ident, $variant:ident, $ty:ty, $type_name:literal) => {
        pub(crate) fn $method(&self, column: &str) -> Result<&'a [Option<$ty>], TableError> {
            let data = &self
                .table
                .column(column)
                .ok_or_else(|| TableError::MissingColumn {
                    table: self.table.name().to_owned(),
                    column: column.to_owned(),
                })?
                .data;
            match data {
                ColumnData::$variant(values) => Ok(values),
                other => Err(TableError::ColumnType {
                    table: self.table.name().to_owned(),
                    column: column.to_owned(),
                    expected: $type_name,
                    actual: other.type_name(),
                }),
            }
        }
    };
}

impl<'a> Columns<'a> {
    pub(crate) fn new(table: &'a Table, offset: usize) -> Columns<'a> {
        Columns { table, offset }
    }

    pub(crate) fn n_rows(&self) -> usize {
        self.table.n_rows()
    }

    typed_column!(utf8, Utf8, String, "string");
    typed_column!(int64, Int64, i64, "int64");
    typed_column!(float64, Float64, f64, "float64");
    typed_column!(bool, Bool, bool, "bool");
    typed_column!(date, Date, NaiveDate, "date");

    pub(crate) fn invalid(&self, column: &str, row: usize, reason: &'static str) -> TableError {
        TableError::InvalidValue {
            table: self.table.name().to_owned(),
            column: column.to_owned(),
            row: self.offset + row,
            reason,
        }
    }

    /// The value of a column that must not be null.
    fn required<T: Clone>(&self, values: &[Option<T>], column: &str, row: usize) -> Result<T, TableError> {
        self.required_ref(values, column, row).cloned()
    }

    /// The value of a column that must not be null, borrowed.
    pub(crate) fn required_ref<'v, T>(
        &self,
        values: &'v [Option<T>],
        column: &str,
        row: usize,
    ) -> Result<&'v T, TableError> {
        values[row].as_ref().ok_or_else(|| self.invalid(column, row, "required value is null"))
    }

    /// The record each row belongs to, checked against the number of persons.
    pub(crate) fn record_indices(&self, n_records: usize) -> Result<Vec<usize>, TableError> {
        let values = self.int64("record_idx")?;
        (0..self.table.n_rows())
            .map(|row| {
                let value = self.required(values, "record_idx", row)?;
                usize::try_from(value)
                    .ok()
                    .filter(|record_idx| *record_idx < n_records)
                    .ok_or_else(|| self.invalid("record_idx", row, "does not point at a persons row"))
            })
            .collect()
    }
}

/// Decodes the tables written by [`records_to_tables`] (in any order) back into records.
///
/// # Errors
/// [`TableError::MissingTable`], [`TableError::MissingColumn`], [`TableError::ColumnType`] or
/// [`TableError::InvalidValue`] naming the table, column and row.
pub fn tables_to_records(tables: &[Table]) -> Result<Vec<PatientRecord>, TableError> {
    // One decoder serves both forms: the compact one checks every row, and materializes records equal
    // to what the tables hold.
    let mut compact = crate::CompactRecords::new();
    compact.append_tables(tables)?;
    Ok((0..compact.n_records()).map(|record| compact.record(record)).collect())
}

pub(crate) fn parse_sex(code: &str) -> Option<Sex> {
    [Sex::Male, Sex::Female, Sex::Other, Sex::Unknown].into_iter().find(|sex| sex.hl7_code() == code)
}

pub(crate) fn parse_drug_code_system(name: &str) -> Option<DrugCodeSystem> {
    [DrugCodeSystem::Hot, DrugCodeSystem::Yj, DrugCodeSystem::Other]
        .into_iter()
        .find(|system| system.name() == name)
}
