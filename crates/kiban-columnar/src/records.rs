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

use kiban_model::{
    Diagnosis, DrugCodeSystem, Encounter, EncounterClass, IdentifiedPerson, Insurance, LabResult, LabValue,
    LocalPatientId, NaiveDate, PatientRecord, PersonName, Prescription, Procedure, ProviderCode, Sex,
};

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

fn find<'a>(tables: &'a [Table], name: &str) -> Result<Columns<'a>, TableError> {
    tables
        .iter()
        .find(|table| table.name() == name)
        .map(|table| Columns { table, offset: 0 })
        .ok_or_else(|| TableError::MissingTable { table: name.to_owned() })
}

fn name(family: &[Option<String>], given: &[Option<String>], row: usize) -> Option<PersonName> {
    family[row]
        .as_ref()
        .map(|family| PersonName { family: family.clone(), given: given[row].clone().unwrap_or_default() })
}

/// Decodes the tables written by [`records_to_tables`] (in any order) back into records.
///
/// # Errors
/// [`TableError::MissingTable`], [`TableError::MissingColumn`], [`TableError::ColumnType`] or
/// [`TableError::InvalidValue`] naming the table, column and row.
pub fn tables_to_records(tables: &[Table]) -> Result<Vec<PatientRecord>, TableError> {
    let mut records = decode_persons(&find(tables, "persons")?)?;
    decode_insurances(&find(tables, "insurances")?, &mut records)?;
    decode_encounters(&find(tables, "encounters")?, &mut records)?;
    decode_diagnoses(&find(tables, "diagnoses")?, &mut records)?;
    decode_prescriptions(&find(tables, "prescriptions")?, &mut records)?;
    decode_labs(&find(tables, "labs")?, &mut records)?;
    decode_procedures(&find(tables, "procedures")?, &mut records)?;
    Ok(records)
}

pub(crate) fn parse_sex(code: &str) -> Option<Sex> {
    [Sex::Male, Sex::Female, Sex::Other, Sex::Unknown].into_iter().find(|sex| sex.hl7_code() == code)
}

pub(crate) fn parse_drug_code_system(name: &str) -> Option<DrugCodeSystem> {
    [DrugCodeSystem::Hot, DrugCodeSystem::Yj, DrugCodeSystem::Other]
        .into_iter()
        .find(|system| system.name() == name)
}

fn decode_persons(columns: &Columns<'_>) -> Result<Vec<PatientRecord>, TableError> {
    let record_idx = columns.int64("record_idx")?;
    let provider = columns.utf8("provider")?;
    let local_id = columns.utf8("local_id")?;
    let (kanji_family, kanji_given) = (columns.utf8("name_kanji_family")?, columns.utf8("name_kanji_given")?);
    let (kana_family, kana_given) = (columns.utf8("name_kana_family")?, columns.utf8("name_kana_given")?);
    let birth_date = columns.date("birth_date")?;
    let sex = columns.utf8("sex")?;
    let (postal_code, address, phone) =
        (columns.utf8("postal_code")?, columns.utf8("address")?, columns.utf8("phone")?);
    (0..columns.table.n_rows())
        .map(|row| {
            if usize::try_from(columns.required(record_idx, "record_idx", row)?).ok() != Some(row) {
                return Err(columns.invalid("record_idx", row, "persons rows must be numbered 0, 1, 2, ..."));
            }
            let provider_code = ProviderCode::new(&columns.required(provider, "provider", row)?)
                .map_err(|_| columns.invalid("provider", row, "not a valid provider code"))?;
            let patient_id = LocalPatientId::new(&columns.required(local_id, "local_id", row)?)
                .map_err(|_| columns.invalid("local_id", row, "not a valid provider-local patient ID"))?;
            let sex_code = columns.required(sex, "sex", row)?;
            let person = IdentifiedPerson {
                provider: provider_code,
                local_id: patient_id,
                name_kanji: name(kanji_family, kanji_given, row),
                name_kana: name(kana_family, kana_given, row),
                birth_date: birth_date[row],
                sex: parse_sex(&sex_code)
                    .ok_or_else(|| columns.invalid("sex", row, "expected M, F, O or U"))?,
                postal_code: postal_code[row].clone(),
                address: address[row].clone(),
                phone: phone[row].clone(),
                insurances: Vec::new(),
            };
            Ok(PatientRecord::new(person))
        })
        .collect()
}

fn decode_insurances(columns: &Columns<'_>, records: &mut [PatientRecord]) -> Result<(), TableError> {
    let owners = columns.record_indices(records.len())?;
    let insurer_number = columns.utf8("insurer_number")?;
    let (symbol, number, branch) =
        (columns.utf8("symbol")?, columns.utf8("number")?, columns.utf8("branch")?);
    let valid_from = columns.date("valid_from")?;
    for (row, owner) in owners.into_iter().enumerate() {
        records[owner].person.insurances.push(Insurance {
            insurer_number: columns.required(insurer_number, "insurer_number", row)?,
            symbol: symbol[row].clone(),
            number: number[row].clone(),
            branch: branch[row].clone(),
            valid_from: valid_from[row],
        });
    }
    Ok(())
}

fn decode_encounters(columns: &Columns<'_>, records: &mut [PatientRecord]) -> Result<(), TableError> {
    let owners = columns.record_indices(records.len())?;
    let class = columns.utf8("class")?;
    let (start, end) = (columns.date("start")?, columns.date("end")?);
    let department = columns.utf8("department")?;
    for (row, owner) in owners.into_iter().enumerate() {
        let class_name = columns.required(class, "class", row)?;
        records[owner].encounters.push(Encounter {
            class: EncounterClass::parse(&class_name)
                .ok_or_else(|| columns.invalid("class", row, "not an encounter class"))?,
            start: columns.required(start, "start", row)?,
            end: end[row],
            department: department[row].clone(),
        });
    }
    Ok(())
}

fn decode_diagnoses(columns: &Columns<'_>, records: &mut [PatientRecord]) -> Result<(), TableError> {
    let owners = columns.record_indices(records.len())?;
    let (icd10, medis_code, name) =
        (columns.utf8("icd10")?, columns.utf8("medis_code")?, columns.utf8("name")?);
    let onset = columns.date("onset")?;
    let (suspected, main) = (columns.bool("suspected")?, columns.bool("main")?);
    for (row, owner) in owners.into_iter().enumerate() {
        records[owner].diagnoses.push(Diagnosis {
            icd10: icd10[row].clone(),
            medis_code: medis_code[row].clone(),
            name: name[row].clone(),
            onset: onset[row],
            suspected: columns.required(suspected, "suspected", row)?,
            main: columns.required(main, "main", row)?,
        });
    }
    Ok(())
}

fn decode_prescriptions(columns: &Columns<'_>, records: &mut [PatientRecord]) -> Result<(), TableError> {
    let owners = columns.record_indices(records.len())?;
    let (drug_code, code_system, drug_name) =
        (columns.utf8("drug_code")?, columns.utf8("code_system")?, columns.utf8("drug_name")?);
    let dose = columns.float64("dose")?;
    let unit = columns.utf8("unit")?;
    let days = columns.int64("days")?;
    let date = columns.date("date")?;
    for (row, owner) in owners.into_iter().enumerate() {
        let system_name = columns.required(code_system, "code_system", row)?;
        let days = match days[row] {
            Some(days) => Some(
                u32::try_from(days)
                    .map_err(|_| columns.invalid("days", row, "out of range for a day count"))?,
            ),
            None => None,
        };
        records[owner].prescriptions.push(Prescription {
            drug_code: columns.required(drug_code, "drug_code", row)?,
            code_system: parse_drug_code_system(&system_name)
                .ok_or_else(|| columns.invalid("code_system", row, "expected HOT, YJ or other"))?,
            drug_name: drug_name[row].clone(),
            dose: dose[row],
            unit: unit[row].clone(),
            days,
            date: columns.required(date, "date", row)?,
        });
    }
    Ok(())
}

fn decode_labs(columns: &Columns<'_>, records: &mut [PatientRecord]) -> Result<(), TableError> {
    let owners = columns.record_indices(records.len())?;
    let (code, name) = (columns.utf8("code")?, columns.utf8("name")?);
    let (value_numeric, value_text) = (columns.float64("value_numeric")?, columns.utf8("value_text")?);
    let (unit, reference_range) = (columns.utf8("unit")?, columns.utf8("reference_range")?);
    let date = columns.date("date")?;
    for (row, owner) in owners.into_iter().enumerate() {
        let value = match (value_numeric[row], &value_text[row]) {
            (Some(number), None) => LabValue::Numeric(number),
            (None, Some(text)) => LabValue::Text(text.clone()),
            _ => {
                return Err(columns.invalid(
                    "value_numeric",
                    row,
                    "exactly one of value_numeric, value_text must be set",
                ));
            }
        };
        records[owner].labs.push(LabResult {
            code: columns.required(code, "code", row)?,
            name: name[row].clone(),
            value,
            unit: unit[row].clone(),
            reference_range: reference_range[row].clone(),
            date: columns.required(date, "date", row)?,
        });
    }
    Ok(())
}

fn decode_procedures(columns: &Columns<'_>, records: &mut [PatientRecord]) -> Result<(), TableError> {
    let owners = columns.record_indices(records.len())?;
    let (code, code_system, name) =
        (columns.utf8("code")?, columns.utf8("code_system")?, columns.utf8("name")?);
    let date = columns.date("date")?;
    for (row, owner) in owners.into_iter().enumerate() {
        records[owner].procedures.push(Procedure {
            code: columns.required(code, "code", row)?,
            code_system: code_system[row].clone(),
            name: name[row].clone(),
            date: columns.required(date, "date", row)?,
        });
    }
    Ok(())
}
