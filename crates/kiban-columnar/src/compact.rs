//! [`CompactRecords`]: many provider records held in little memory, read straight from the vault's tables.
//!
//! A million persons' records as [`PatientRecord`] objects take about 10 GiB, mostly the heap strings of
//! their 33 million events: every code, name and unit is its own allocation although a few thousand
//! distinct values repeat millions of times. Here each event is one fixed-size row (dates as
//! `NaiveDate`, four bytes; enums as bytes) whose texts are numbers into one dictionary of distinct strings;
//! the identified person fields that rarely repeat (local ID, address, phone, insurance symbol and number)
//! sit in one text arena instead. Rows are grouped by record, so a record's events of one kind are one
//! range. The vault's tables decode into this form chunk by chunk ([`CompactRecords::batch`]), so neither
//! a batch's [`Table`]s nor its [`PatientRecord`]s are ever whole in memory.
//!
//! A *record* here is what [`tables_to_records`](crate::tables_to_records) and intake give: one provider's
//! patient. [`CompactRecords::merge_patients`] merges the records of one provider-local patient sent in
//! several batches into one, as [`PatientRecord::merge`] does; record numbers then follow (provider, local
//! ID) order. [`CompactRecords::record`] materializes any record back as a [`PatientRecord`], equal to the
//! one the same tables decode into.
//!
//! Nothing here prints a value: the types have no `Debug` beyond counts.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

use kiban_model::{
    Diagnosis, DrugCodeSystem, Encounter, EncounterClass, IdentifiedPerson, Insurance, LabResult, LabValue,
    LocalPatientId, NaiveDate, PatientRecord, PersonName, Prescription, Procedure, ProviderCode, Sex,
};

use crate::records::{Columns, parse_drug_code_system, parse_sex};
use crate::table::{Table, TableError};

/// The null of a dictionary or arena reference.
const NONE: u32 = u32::MAX;

/// The kinds of clinical events, in the order of the record model and the release tables.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum EventKind {
    Encounter,
    Diagnosis,
    Prescription,
    Lab,
    Procedure,
}

impl EventKind {
    pub const ALL: [EventKind; 5] = [
        EventKind::Encounter,
        EventKind::Diagnosis,
        EventKind::Prescription,
        EventKind::Lab,
        EventKind::Procedure,
    ];
}

/// One encounter, borrowed from [`CompactRecords`].
#[derive(Clone, Copy)]
pub struct EncounterRef<'a> {
    pub class: EncounterClass,
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
    pub department: Option<&'a str>,
}

/// One diagnosis, borrowed from [`CompactRecords`].
#[derive(Clone, Copy)]
pub struct DiagnosisRef<'a> {
    pub icd10: Option<&'a str>,
    pub medis_code: Option<&'a str>,
    pub name: Option<&'a str>,
    pub onset: Option<NaiveDate>,
    pub suspected: bool,
    pub main: bool,
}

/// One prescription, borrowed from [`CompactRecords`].
#[derive(Clone, Copy)]
pub struct PrescriptionRef<'a> {
    pub drug_code: &'a str,
    pub code_system: DrugCodeSystem,
    pub drug_name: Option<&'a str>,
    pub dose: Option<f64>,
    pub unit: Option<&'a str>,
    pub days: Option<u32>,
    pub date: NaiveDate,
}

/// A lab result value, borrowed from [`CompactRecords`].
#[derive(Clone, Copy)]
pub enum LabValueRef<'a> {
    Numeric(f64),
    Text(&'a str),
}

/// One lab result, borrowed from [`CompactRecords`].
#[derive(Clone, Copy)]
pub struct LabRef<'a> {
    pub code: &'a str,
    pub name: Option<&'a str>,
    pub value: LabValueRef<'a>,
    pub unit: Option<&'a str>,
    pub reference_range: Option<&'a str>,
    pub date: NaiveDate,
}

/// One procedure, borrowed from [`CompactRecords`].
#[derive(Clone, Copy)]
pub struct ProcedureRef<'a> {
    pub code: &'a str,
    pub code_system: Option<&'a str>,
    pub name: Option<&'a str>,
    pub date: NaiveDate,
}

/// One event of any kind, borrowed from [`CompactRecords`].
#[derive(Clone, Copy)]
pub enum EventRef<'a> {
    Encounter(EncounterRef<'a>),
    Diagnosis(DiagnosisRef<'a>),
    Prescription(PrescriptionRef<'a>),
    Lab(LabRef<'a>),
    Procedure(ProcedureRef<'a>),
}

macro_rules! redacted_debug {
    ($($ty:ident),*) => {$(
        impl fmt::Debug for $ty<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($ty)).finish_non_exhaustive()
            }
        }
    )*};
}

redacted_debug!(EncounterRef, DiagnosisRef, PrescriptionRef, LabValueRef, LabRef, ProcedureRef, EventRef);

/// Distinct strings, each stored once: codes, names, units and other values that repeat.
#[derive(Default)]
struct Symbols {
    strings: Vec<Box<str>>,
    index: HashMap<Box<str>, u32>,
}

impl Symbols {
    fn intern(&mut self, value: &str) -> Result<u32, TableError> {
        if let Some(id) = self.index.get(value) {
            return Ok(*id);
        }
        let id = to_u32(self.strings.len(), "distinct values")?;
        self.strings.push(value.into());
        self.index.insert(value.into(), id);
        Ok(id)
    }

    fn intern_opt(&mut self, value: Option<&str>) -> Result<u32, TableError> {
        value.map_or(Ok(NONE), |value| self.intern(value))
    }

    fn get(&self, id: u32) -> &str {
        self.get_opt(id).unwrap_or_default()
    }

    fn get_opt(&self, id: u32) -> Option<&str> {
        (id != NONE).then(|| &*self.strings[id as usize])
    }
}

/// Strings that rarely repeat (local IDs, addresses, phone numbers), end to end in one buffer.
#[derive(Default)]
struct Texts {
    bytes: String,
    ends: Vec<usize>,
}

impl Texts {
    fn push(&mut self, value: Option<&str>) -> Result<u32, TableError> {
        let Some(value) = value else { return Ok(NONE) };
        let id = to_u32(self.ends.len(), "identifying values")?;
        self.bytes.push_str(value);
        self.ends.push(self.bytes.len());
        Ok(id)
    }

    fn get_opt(&self, id: u32) -> Option<&str> {
        if id == NONE {
            return None;
        }
        let id = id as usize;
        let start = if id == 0 { 0 } else { self.ends[id - 1] };
        Some(&self.bytes[start..self.ends[id]])
    }

    fn get(&self, id: u32) -> &str {
        self.get_opt(id).unwrap_or_default()
    }
}

fn to_u32(len: usize, what: &'static str) -> Result<u32, TableError> {
    u32::try_from(len).ok().filter(|id| *id < NONE).ok_or(TableError::Capacity { what })
}

/// A provider-local patient's identified fields (symbols `s`, texts `t`).
#[derive(Clone, Copy)]
struct PersonRow {
    provider: u32,     // s
    local_id: u32,     // t
    kanji_family: u32, // s; NONE when there is no kanji name
    kanji_given: u32,  // s
    kana_family: u32,  // s; NONE when there is no kana name
    kana_given: u32,   // s
    birth_date: Option<NaiveDate>,
    postal_code: u32, // s
    address: u32,     // t
    phone: u32,       // t
    sex: Sex,
}

#[derive(Clone, Copy)]
struct InsuranceRow {
    record: u32,
    insurer_number: u32, // s
    symbol: u32,         // t
    number: u32,         // t
    branch: u32,         // s
    valid_from: Option<NaiveDate>,
}

#[derive(Clone, Copy)]
struct EncounterRow {
    record: u32,
    start: NaiveDate,
    end: Option<NaiveDate>,
    department: u32,
    class: EncounterClass,
}

#[derive(Clone, Copy)]
struct DiagnosisRow {
    record: u32,
    icd10: u32,
    medis_code: u32,
    name: u32,
    onset: Option<NaiveDate>,
    suspected: bool,
    main: bool,
}

#[derive(Clone, Copy)]
struct PrescriptionRow {
    record: u32,
    drug_code: u32,
    drug_name: u32,
    unit: u32,
    date: NaiveDate,
    days: u32,
    dose: f64,
    code_system: DrugCodeSystem,
    has_days: bool,
    has_dose: bool,
}

#[derive(Clone, Copy)]
struct LabRow {
    record: u32,
    code: u32,
    name: u32,
    /// NONE for a numeric value.
    value_text: u32,
    unit: u32,
    reference_range: u32,
    date: NaiveDate,
    value_numeric: f64,
}

#[derive(Clone, Copy)]
struct ProcedureRow {
    record: u32,
    code: u32,
    code_system: u32,
    name: u32,
    date: NaiveDate,
}

trait Row: Copy {
    fn record(&self) -> u32;
}

macro_rules! rows {
    ($($ty:ident),*) => {$(
        impl Row for $ty {
            fn record(&self) -> u32 {
                self.record
            }
        }
    )*};
}

rows!(InsuranceRow, EncounterRow, DiagnosisRow, PrescriptionRow, LabRow, ProcedureRow);

/// The rows of one kind, grouped by (raw) record: record `r`'s rows are `starts[r]..starts[r + 1]`.
struct Rows<R> {
    rows: Vec<R>,
    starts: Vec<u32>,
}

impl<R: Row> Rows<R> {
    fn new() -> Rows<R> {
        Rows { rows: Vec::new(), starts: vec![0] }
    }

    fn range(&self, raw: u32) -> Range<u32> {
        self.starts[raw as usize]..self.starts[raw as usize + 1]
    }

    fn slice(&self, raw: u32) -> &[R] {
        let range = self.range(raw);
        &self.rows[range.start as usize..range.end as usize]
    }

    /// Closes the rows pushed since `first_row` for the raw records `first_raw..first_raw + n`: groups them
    /// by record (keeping their order within a record) and records where each record's rows start.
    fn close(
        &mut self,
        first_row: usize,
        first_raw: u32,
        n: usize,
        what: &'static str,
    ) -> Result<(), TableError> {
        let section = &mut self.rows[first_row..];
        if !section.is_sorted_by_key(Row::record) {
            section.sort_by_key(Row::record);
        }
        to_u32(self.rows.len(), what)?;
        let mut row = first_row;
        for record in 0..n {
            let raw = first_raw as usize + record;
            while row < self.rows.len() && self.rows[row].record() as usize == raw {
                row += 1;
            }
            self.starts.push(u32::try_from(row).map_err(|_| TableError::Capacity { what })?);
        }
        Ok(())
    }

    fn truncate(&mut self, rows: usize, raw: usize) {
        self.rows.truncate(rows);
        self.starts.truncate(raw + 1);
    }
}

/// Provider records held compactly; see the module documentation.
pub struct CompactRecords {
    symbols: Symbols,
    texts: Texts,
    /// One per raw record (a persons row as read or pushed).
    persons: Vec<PersonRow>,
    insurances: Rows<InsuranceRow>,
    encounters: Rows<EncounterRow>,
    diagnoses: Rows<DiagnosisRow>,
    prescriptions: Rows<PrescriptionRow>,
    labs: Rows<LabRow>,
    procedures: Rows<ProcedureRow>,
    /// The raw records of each record: record `r` is `parts[part_starts[r]..part_starts[r + 1]]`, in the
    /// order they were read (one part each until [`CompactRecords::merge_patients`]).
    part_starts: Vec<u32>,
    parts: Vec<u32>,
}

impl Default for CompactRecords {
    fn default() -> CompactRecords {
        CompactRecords::new()
    }
}

impl fmt::Debug for CompactRecords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompactRecords")
            .field("n_records", &self.n_records())
            .field("n_events", &self.n_events())
            .finish_non_exhaustive()
    }
}

impl CompactRecords {
    pub fn new() -> CompactRecords {
        CompactRecords {
            symbols: Symbols::default(),
            texts: Texts::default(),
            persons: Vec::new(),
            insurances: Rows::new(),
            encounters: Rows::new(),
            diagnoses: Rows::new(),
            prescriptions: Rows::new(),
            labs: Rows::new(),
            procedures: Rows::new(),
            part_starts: vec![0],
            parts: Vec::new(),
        }
    }

    /// The number of records (after [`Self::merge_patients`], of provider-local patients).
    pub fn n_records(&self) -> usize {
        self.part_starts.len() - 1
    }

    /// The number of clinical events of all kinds.
    pub fn n_events(&self) -> usize {
        self.encounters.rows.len()
            + self.diagnoses.rows.len()
            + self.prescriptions.rows.len()
            + self.labs.rows.len()
            + self.procedures.rows.len()
    }

    /// Appends one record and returns its number.
    ///
    /// # Errors
    /// [`TableError::Capacity`] beyond 2³² − 2 records, rows of one kind or distinct values.
    pub fn push(&mut self, record: &PatientRecord) -> Result<usize, TableError> {
        let raw = to_u32(self.persons.len(), "records")?;
        let person = &record.person;
        fn name_parts(name: Option<&PersonName>) -> (Option<&str>, Option<&str>) {
            name.map_or((None, None), |name| (Some(name.family.as_str()), Some(name.given.as_str())))
        }
        let (kanji_family, kanji_given) = name_parts(person.name_kanji.as_ref());
        let (kana_family, kana_given) = name_parts(person.name_kana.as_ref());
        let row = PersonRow {
            provider: self.symbols.intern(person.provider.as_str())?,
            local_id: self.texts.push(Some(person.local_id.as_str()))?,
            kanji_family: self.symbols.intern_opt(kanji_family)?,
            kanji_given: self.symbols.intern_opt(kanji_given)?,
            kana_family: self.symbols.intern_opt(kana_family)?,
            kana_given: self.symbols.intern_opt(kana_given)?,
            birth_date: person.birth_date,
            postal_code: self.symbols.intern_opt(person.postal_code.as_deref())?,
            address: self.texts.push(person.address.as_deref())?,
            phone: self.texts.push(person.phone.as_deref())?,
            sex: person.sex,
        };
        for insurance in &person.insurances {
            let row = InsuranceRow {
                record: raw,
                insurer_number: self.symbols.intern(&insurance.insurer_number)?,
                symbol: self.texts.push(insurance.symbol.as_deref())?,
                number: self.texts.push(insurance.number.as_deref())?,
                branch: self.symbols.intern_opt(insurance.branch.as_deref())?,
                valid_from: insurance.valid_from,
            };
            self.insurances.rows.push(row);
        }
        for encounter in &record.encounters {
            let row = EncounterRow {
                record: raw,
                start: encounter.start,
                end: encounter.end,
                department: self.symbols.intern_opt(encounter.department.as_deref())?,
                class: encounter.class,
            };
            self.encounters.rows.push(row);
        }
        for diagnosis in &record.diagnoses {
            let row = DiagnosisRow {
                record: raw,
                icd10: self.symbols.intern_opt(diagnosis.icd10.as_deref())?,
                medis_code: self.symbols.intern_opt(diagnosis.medis_code.as_deref())?,
                name: self.symbols.intern_opt(diagnosis.name.as_deref())?,
                onset: diagnosis.onset,
                suspected: diagnosis.suspected,
                main: diagnosis.main,
            };
            self.diagnoses.rows.push(row);
        }
        for prescription in &record.prescriptions {
            let row = PrescriptionRow {
                record: raw,
                drug_code: self.symbols.intern(&prescription.drug_code)?,
                drug_name: self.symbols.intern_opt(prescription.drug_name.as_deref())?,
                unit: self.symbols.intern_opt(prescription.unit.as_deref())?,
                date: prescription.date,
                days: prescription.days.unwrap_or_default(),
                dose: prescription.dose.unwrap_or_default(),
                code_system: prescription.code_system,
                has_days: prescription.days.is_some(),
                has_dose: prescription.dose.is_some(),
            };
            self.prescriptions.rows.push(row);
        }
        for lab in &record.labs {
            let (value_numeric, value_text) = match &lab.value {
                LabValue::Numeric(value) => (*value, NONE),
                LabValue::Text(text) => (0.0, self.symbols.intern(text)?),
            };
            let row = LabRow {
                record: raw,
                code: self.symbols.intern(&lab.code)?,
                name: self.symbols.intern_opt(lab.name.as_deref())?,
                value_text,
                unit: self.symbols.intern_opt(lab.unit.as_deref())?,
                reference_range: self.symbols.intern_opt(lab.reference_range.as_deref())?,
                date: lab.date,
                value_numeric,
            };
            self.labs.rows.push(row);
        }
        for procedure in &record.procedures {
            let row = ProcedureRow {
                record: raw,
                code: self.symbols.intern(&procedure.code)?,
                code_system: self.symbols.intern_opt(procedure.code_system.as_deref())?,
                name: self.symbols.intern_opt(procedure.name.as_deref())?,
                date: procedure.date,
            };
            self.procedures.rows.push(row);
        }
        self.persons.push(row);
        let first_rows = [
            self.insurances.starts[raw as usize] as usize,
            self.encounters.starts[raw as usize] as usize,
            self.diagnoses.starts[raw as usize] as usize,
            self.prescriptions.starts[raw as usize] as usize,
            self.labs.starts[raw as usize] as usize,
            self.procedures.starts[raw as usize] as usize,
        ];
        self.close_rows(first_rows, raw, 1)?;
        Ok(self.n_records() - 1)
    }

    /// Appends the records of one batch's tables, as [`records_to_tables`](crate::records_to_tables)
    /// writes them (any order of tables).
    ///
    /// # Errors
    /// As [`tables_to_records`](crate::tables_to_records), and [`TableError::Capacity`]. On error nothing
    /// is appended.
    pub fn append_tables(&mut self, tables: &[Table]) -> Result<(), TableError> {
        let mut batch = self.batch();
        for name in crate::RECORD_TABLES {
            let table = tables
                .iter()
                .find(|table| table.name() == name)
                .ok_or_else(|| TableError::MissingTable { table: name.to_owned() })?;
            batch.append(table)?;
        }
        batch.finish()
    }

    /// Starts appending one batch of records read table by table, chunk by chunk: the `persons` table
    /// first, then the others of [`RECORD_TABLES`](crate::RECORD_TABLES), each at least once (an empty
    /// chunk for an empty table).
    pub fn batch(&mut self) -> BatchDecoder<'_> {
        let first_raw = self.persons.len();
        let first_rows = [
            self.insurances.rows.len(),
            self.encounters.rows.len(),
            self.diagnoses.rows.len(),
            self.prescriptions.rows.len(),
            self.labs.rows.len(),
            self.procedures.rows.len(),
        ];
        BatchDecoder {
            first_raw,
            first_rows,
            first_parts: self.parts.len(),
            n_persons: 0,
            rows_read: [0; 7],
            seen: [false; 7],
            finished: false,
            records: self,
        }
    }

    fn close_rows(&mut self, first_rows: [usize; 6], first_raw: u32, n: usize) -> Result<(), TableError> {
        self.insurances.close(first_rows[0], first_raw, n, "insurance rows")?;
        self.encounters.close(first_rows[1], first_raw, n, "encounters")?;
        self.diagnoses.close(first_rows[2], first_raw, n, "diagnoses")?;
        self.prescriptions.close(first_rows[3], first_raw, n, "prescriptions")?;
        self.labs.close(first_rows[4], first_raw, n, "lab results")?;
        self.procedures.close(first_rows[5], first_raw, n, "procedures")?;
        for raw in first_raw..first_raw + to_u32(n, "records")? {
            self.parts.push(raw);
            self.part_starts.push(to_u32(self.parts.len(), "records")?);
        }
        Ok(())
    }

    /// Merges the records of each provider-local patient (provider and local ID) into one, in the order
    /// they were appended, as [`PatientRecord::merge`] does; records are then numbered in (provider, local
    /// ID) order.
    pub fn merge_patients(&mut self) {
        let mut order: Vec<usize> = (0..self.n_records()).collect();
        // Stable: records of one patient keep the order they were appended in.
        order.sort_by(|a, b| self.patient_key(*a).cmp(&self.patient_key(*b)));
        let mut part_starts = Vec::with_capacity(order.len() + 1);
        let mut parts = Vec::with_capacity(self.parts.len());
        part_starts.push(0);
        for (position, record) in order.iter().enumerate() {
            if position > 0 && self.patient_key(order[position - 1]) != self.patient_key(*record) {
                part_starts.push(u32::try_from(parts.len()).unwrap_or(NONE));
            }
            parts.extend_from_slice(self.parts_of(*record));
        }
        if !order.is_empty() {
            part_starts.push(u32::try_from(parts.len()).unwrap_or(NONE));
        }
        self.part_starts = part_starts;
        self.parts = parts;
    }

    fn patient_key(&self, record: usize) -> (&str, &str) {
        (self.provider(record), self.local_id(record))
    }

    fn parts_of(&self, record: usize) -> &[u32] {
        &self.parts[self.part_starts[record] as usize..self.part_starts[record + 1] as usize]
    }

    fn person_rows(&self, record: usize) -> impl Iterator<Item = &PersonRow> + '_ {
        self.parts_of(record).iter().map(|raw| &self.persons[*raw as usize])
    }

    fn first_person(&self, record: usize) -> &PersonRow {
        &self.persons[self.parts_of(record)[0] as usize]
    }

    pub fn provider(&self, record: usize) -> &str {
        self.symbols.get(self.first_person(record).provider)
    }

    /// The provider-local patient ID (an identifier: never print it).
    pub fn local_id(&self, record: usize) -> &str {
        self.texts.get(self.first_person(record).local_id)
    }

    /// The birth date, as the merged [`IdentifiedPerson`] has it.
    pub fn birth_date(&self, record: usize) -> Option<NaiveDate> {
        self.person_rows(record).find_map(|person| person.birth_date)
    }

    /// The sex, as the merged [`IdentifiedPerson`] has it.
    pub fn sex(&self, record: usize) -> Sex {
        self.person_rows(record)
            .map(|person| person.sex)
            .find(|sex| *sex != Sex::Unknown)
            .unwrap_or(Sex::Unknown)
    }

    /// The postal code, as the merged [`IdentifiedPerson`] has it.
    pub fn postal_code(&self, record: usize) -> Option<&str> {
        self.person_rows(record).find_map(|person| self.symbols.get_opt(person.postal_code))
    }

    /// The address, as the merged [`IdentifiedPerson`] has it.
    pub fn address(&self, record: usize) -> Option<&str> {
        self.person_rows(record).find_map(|person| self.texts.get_opt(person.address))
    }

    /// The record's identified person, merged as [`PatientRecord::merge`] does.
    pub fn person(&self, record: usize) -> IdentifiedPerson {
        let mut parts = self.parts_of(record).iter();
        let first = parts.next().map_or_else(|| self.raw_person(0), |raw| self.raw_person(*raw));
        let mut merged = PatientRecord::new(first);
        for raw in parts {
            merged.merge(PatientRecord::new(self.raw_person(*raw)));
        }
        merged.person
    }

    /// The whole record as a [`PatientRecord`], merged as [`PatientRecord::merge`] does.
    pub fn record(&self, record: usize) -> PatientRecord {
        let mut parts = self.parts_of(record).iter();
        let mut merged = self.raw_record(parts.next().copied().unwrap_or(0));
        for raw in parts {
            merged.merge(self.raw_record(*raw));
        }
        merged
    }

    fn raw_person(&self, raw: u32) -> IdentifiedPerson {
        let row = &self.persons[raw as usize];
        let name = |family: u32, given: u32| {
            self.symbols.get_opt(family).map(|family| PersonName::new(family, self.symbols.get(given)))
        };
        let string = |value: Option<&str>| value.map(str::to_owned);
        IdentifiedPerson {
            // Both were checked when the record came in.
            provider: ProviderCode::new(self.symbols.get(row.provider)).expect("checked on the way in"),
            local_id: LocalPatientId::new(self.texts.get(row.local_id)).expect("checked on the way in"),
            name_kanji: name(row.kanji_family, row.kanji_given),
            name_kana: name(row.kana_family, row.kana_given),
            birth_date: row.birth_date,
            sex: row.sex,
            postal_code: string(self.symbols.get_opt(row.postal_code)),
            address: string(self.texts.get_opt(row.address)),
            phone: string(self.texts.get_opt(row.phone)),
            insurances: self
                .insurances
                .slice(raw)
                .iter()
                .map(|insurance| Insurance {
                    insurer_number: self.symbols.get(insurance.insurer_number).to_owned(),
                    symbol: string(self.texts.get_opt(insurance.symbol)),
                    number: string(self.texts.get_opt(insurance.number)),
                    branch: string(self.symbols.get_opt(insurance.branch)),
                    valid_from: insurance.valid_from,
                })
                .collect(),
        }
    }

    fn raw_record(&self, raw: u32) -> PatientRecord {
        let string = |value: Option<&str>| value.map(str::to_owned);
        let mut record = PatientRecord::new(self.raw_person(raw));
        let events = |kind| self.raw_events(kind, raw).map(move |row| self.event(kind, row));
        for event in EventKind::ALL.into_iter().flat_map(events) {
            match event {
                EventRef::Encounter(e) => record.encounters.push(Encounter {
                    class: e.class,
                    start: e.start,
                    end: e.end,
                    department: string(e.department),
                }),
                EventRef::Diagnosis(d) => record.diagnoses.push(Diagnosis {
                    icd10: string(d.icd10),
                    medis_code: string(d.medis_code),
                    name: string(d.name),
                    onset: d.onset,
                    suspected: d.suspected,
                    main: d.main,
                }),
                EventRef::Prescription(p) => record.prescriptions.push(Prescription {
                    drug_code: p.drug_code.to_owned(),
                    code_system: p.code_system,
                    drug_name: string(p.drug_name),
                    dose: p.dose,
                    unit: string(p.unit),
                    days: p.days,
                    date: p.date,
                }),
                EventRef::Lab(l) => record.labs.push(LabResult {
                    code: l.code.to_owned(),
                    name: string(l.name),
                    value: match l.value {
                        LabValueRef::Numeric(value) => LabValue::Numeric(value),
                        LabValueRef::Text(text) => LabValue::Text(text.to_owned()),
                    },
                    unit: string(l.unit),
                    reference_range: string(l.reference_range),
                    date: l.date,
                }),
                EventRef::Procedure(p) => record.procedures.push(Procedure {
                    code: p.code.to_owned(),
                    code_system: string(p.code_system),
                    name: string(p.name),
                    date: p.date,
                }),
            }
        }
        record
    }

    fn raw_events(&self, kind: EventKind, raw: u32) -> Range<u32> {
        match kind {
            EventKind::Encounter => self.encounters.range(raw),
            EventKind::Diagnosis => self.diagnoses.range(raw),
            EventKind::Prescription => self.prescriptions.range(raw),
            EventKind::Lab => self.labs.range(raw),
            EventKind::Procedure => self.procedures.range(raw),
        }
    }

    /// The record's events of `kind`, as numbers for [`Self::event`], in the record's order.
    pub fn events(&self, kind: EventKind, record: usize) -> impl Iterator<Item = u32> + '_ {
        self.parts_of(record).iter().flat_map(move |raw| self.raw_events(kind, *raw))
    }

    /// The event numbered `event` (from [`Self::events`]) of `kind`.
    ///
    /// # Panics
    /// When `event` is not a number [`Self::events`] gave for `kind`.
    pub fn event(&self, kind: EventKind, event: u32) -> EventRef<'_> {
        let symbols = &self.symbols;
        let event = event as usize;
        match kind {
            EventKind::Encounter => {
                let row = &self.encounters.rows[event];
                EventRef::Encounter(EncounterRef {
                    class: row.class,
                    start: row.start,
                    end: row.end,
                    department: symbols.get_opt(row.department),
                })
            }
            EventKind::Diagnosis => {
                let row = &self.diagnoses.rows[event];
                EventRef::Diagnosis(DiagnosisRef {
                    icd10: symbols.get_opt(row.icd10),
                    medis_code: symbols.get_opt(row.medis_code),
                    name: symbols.get_opt(row.name),
                    onset: row.onset,
                    suspected: row.suspected,
                    main: row.main,
                })
            }
            EventKind::Prescription => {
                let row = &self.prescriptions.rows[event];
                EventRef::Prescription(PrescriptionRef {
                    drug_code: symbols.get(row.drug_code),
                    code_system: row.code_system,
                    drug_name: symbols.get_opt(row.drug_name),
                    dose: row.has_dose.then_some(row.dose),
                    unit: symbols.get_opt(row.unit),
                    days: row.has_days.then_some(row.days),
                    date: row.date,
                })
            }
            EventKind::Lab => {
                let row = &self.labs.rows[event];
                EventRef::Lab(LabRef {
                    code: symbols.get(row.code),
                    name: symbols.get_opt(row.name),
                    value: match symbols.get_opt(row.value_text) {
                        Some(text) => LabValueRef::Text(text),
                        None => LabValueRef::Numeric(row.value_numeric),
                    },
                    unit: symbols.get_opt(row.unit),
                    reference_range: symbols.get_opt(row.reference_range),
                    date: row.date,
                })
            }
            EventKind::Procedure => {
                let row = &self.procedures.rows[event];
                EventRef::Procedure(ProcedureRef {
                    code: symbols.get(row.code),
                    code_system: symbols.get_opt(row.code_system),
                    name: symbols.get_opt(row.name),
                    date: row.date,
                })
            }
        }
    }

    /// The provider and provider-local patient ID of the record an event belongs to.
    pub fn event_source(&self, kind: EventKind, event: u32) -> (&str, &str) {
        let event = event as usize;
        let raw = match kind {
            EventKind::Encounter => self.encounters.rows[event].record,
            EventKind::Diagnosis => self.diagnoses.rows[event].record,
            EventKind::Prescription => self.prescriptions.rows[event].record,
            EventKind::Lab => self.labs.rows[event].record,
            EventKind::Procedure => self.procedures.rows[event].record,
        };
        let person = &self.persons[raw as usize];
        (self.symbols.get(person.provider), self.texts.get(person.local_id))
    }
}

/// Appends one batch's tables to [`CompactRecords`], chunk by chunk (see [`CompactRecords::batch`]).
/// Dropped without [`Self::finish`] (after an error), it takes back everything it appended.
pub struct BatchDecoder<'r> {
    records: &'r mut CompactRecords,
    first_raw: usize,
    first_rows: [usize; 6],
    first_parts: usize,
    /// Persons rows read so far: the batch's records.
    n_persons: usize,
    /// Rows read so far per table of [`RECORD_TABLES`](crate::RECORD_TABLES), for error positions.
    rows_read: [usize; 7],
    seen: [bool; 7],
    finished: bool,
}

impl fmt::Debug for BatchDecoder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchDecoder").field("n_persons", &self.n_persons).finish_non_exhaustive()
    }
}

impl BatchDecoder<'_> {
    /// Appends one chunk of one of the batch's tables (named by the chunk).
    ///
    /// # Errors
    /// As [`tables_to_records`](crate::tables_to_records): a missing or mistyped column, a required value
    /// that is null, an invalid code, or a row pointing at no persons row (the `persons` table must come
    /// first); rows are numbered from the start of their table. Also [`TableError::Capacity`].
    pub fn append(&mut self, chunk: &Table) -> Result<(), TableError> {
        let Some(table) = crate::RECORD_TABLES.iter().position(|name| *name == chunk.name()) else {
            return Err(TableError::MissingTable { table: chunk.name().to_owned() });
        };
        self.seen[table] = true;
        let offset = self.rows_read[table];
        let columns = Columns::new(chunk, offset);
        match table {
            0 => self.persons(&columns)?,
            1 => self.insurances(&columns)?,
            2 => self.encounters(&columns)?,
            3 => self.diagnoses(&columns)?,
            4 => self.prescriptions(&columns)?,
            5 => self.labs(&columns)?,
            _ => self.procedures(&columns)?,
        }
        self.rows_read[table] += chunk.n_rows();
        Ok(())
    }

    /// Ends the batch.
    ///
    /// # Errors
    /// [`TableError::MissingTable`] when a table never came, [`TableError::Capacity`].
    pub fn finish(mut self) -> Result<(), TableError> {
        if let Some(missing) = self.seen.iter().position(|seen| !seen) {
            return Err(TableError::MissingTable { table: crate::RECORD_TABLES[missing].to_owned() });
        }
        let first_raw = to_u32(self.first_raw, "records")?;
        self.records.close_rows(self.first_rows, first_raw, self.n_persons)?;
        self.finished = true;
        Ok(())
    }

    fn raw(&self, record_idx: usize) -> u32 {
        // Checked against the number of persons, which fits in u32 (checked when each was pushed).
        u32::try_from(self.first_raw + record_idx).unwrap_or(NONE)
    }

    fn persons(&mut self, columns: &Columns<'_>) -> Result<(), TableError> {
        let record_idx = columns.int64("record_idx")?;
        let provider = columns.utf8("provider")?;
        let local_id = columns.utf8("local_id")?;
        let (kanji_family, kanji_given) =
            (columns.utf8("name_kanji_family")?, columns.utf8("name_kanji_given")?);
        let (kana_family, kana_given) = (columns.utf8("name_kana_family")?, columns.utf8("name_kana_given")?);
        let birth_date = columns.date("birth_date")?;
        let sex = columns.utf8("sex")?;
        let (postal_code, address, phone) =
            (columns.utf8("postal_code")?, columns.utf8("address")?, columns.utf8("phone")?);
        let records = &mut *self.records;
        for row in 0..columns.n_rows() {
            if usize::try_from(*columns.required_ref(record_idx, "record_idx", row)?).ok()
                != Some(self.n_persons)
            {
                return Err(columns.invalid("record_idx", row, "persons rows must be numbered 0, 1, 2, ..."));
            }
            let provider_code = columns.required_ref(provider, "provider", row)?;
            if ProviderCode::new(provider_code).is_err() {
                return Err(columns.invalid("provider", row, "not a valid provider code"));
            }
            let patient_id = columns.required_ref(local_id, "local_id", row)?;
            if LocalPatientId::new(patient_id).is_err() {
                return Err(columns.invalid("local_id", row, "not a valid provider-local patient ID"));
            }
            let sex = parse_sex(columns.required_ref(sex, "sex", row)?)
                .ok_or_else(|| columns.invalid("sex", row, "expected M, F, O or U"))?;
            to_u32(records.persons.len(), "records")?;
            // A name is absent when its family part is null; a null given part is empty.
            fn given<'v>(family: Option<&String>, given: Option<&'v String>) -> Option<&'v str> {
                family.map(|_| given.map_or("", String::as_str))
            }
            let person = PersonRow {
                provider: records.symbols.intern(provider_code)?,
                local_id: records.texts.push(Some(patient_id))?,
                kanji_family: records.symbols.intern_opt(kanji_family[row].as_deref())?,
                kanji_given: records
                    .symbols
                    .intern_opt(given(kanji_family[row].as_ref(), kanji_given[row].as_ref()))?,
                kana_family: records.symbols.intern_opt(kana_family[row].as_deref())?,
                kana_given: records
                    .symbols
                    .intern_opt(given(kana_family[row].as_ref(), kana_given[row].as_ref()))?,
                birth_date: birth_date[row],
                postal_code: records.symbols.intern_opt(postal_code[row].as_deref())?,
                address: records.texts.push(address[row].as_deref())?,
                phone: records.texts.push(phone[row].as_deref())?,
                sex,
            };
            records.persons.push(person);
            self.n_persons += 1;
        }
        Ok(())
    }

    fn insurances(&mut self, columns: &Columns<'_>) -> Result<(), TableError> {
        let owners = columns.record_indices(self.n_persons)?;
        let insurer_number = columns.utf8("insurer_number")?;
        let (symbol, number, branch) =
            (columns.utf8("symbol")?, columns.utf8("number")?, columns.utf8("branch")?);
        let valid_from = columns.date("valid_from")?;
        for (row, owner) in owners.into_iter().enumerate() {
            let record = self.raw(owner);
            let records = &mut *self.records;
            let insurance = InsuranceRow {
                record,
                insurer_number: records.symbols.intern(columns.required_ref(
                    insurer_number,
                    "insurer_number",
                    row,
                )?)?,
                symbol: records.texts.push(symbol[row].as_deref())?,
                number: records.texts.push(number[row].as_deref())?,
                branch: records.symbols.intern_opt(branch[row].as_deref())?,
                valid_from: valid_from[row],
            };
            records.insurances.rows.push(insurance);
        }
        Ok(())
    }

    fn encounters(&mut self, columns: &Columns<'_>) -> Result<(), TableError> {
        let owners = columns.record_indices(self.n_persons)?;
        let class = columns.utf8("class")?;
        let (start, end) = (columns.date("start")?, columns.date("end")?);
        let department = columns.utf8("department")?;
        for (row, owner) in owners.into_iter().enumerate() {
            let record = self.raw(owner);
            let records = &mut *self.records;
            let encounter = EncounterRow {
                record,
                class: EncounterClass::parse(columns.required_ref(class, "class", row)?)
                    .ok_or_else(|| columns.invalid("class", row, "not an encounter class"))?,
                start: *columns.required_ref(start, "start", row)?,
                end: end[row],
                department: records.symbols.intern_opt(department[row].as_deref())?,
            };
            records.encounters.rows.push(encounter);
        }
        Ok(())
    }

    fn diagnoses(&mut self, columns: &Columns<'_>) -> Result<(), TableError> {
        let owners = columns.record_indices(self.n_persons)?;
        let (icd10, medis_code, name) =
            (columns.utf8("icd10")?, columns.utf8("medis_code")?, columns.utf8("name")?);
        let onset = columns.date("onset")?;
        let (suspected, main) = (columns.bool("suspected")?, columns.bool("main")?);
        for (row, owner) in owners.into_iter().enumerate() {
            let record = self.raw(owner);
            let records = &mut *self.records;
            let diagnosis = DiagnosisRow {
                record,
                icd10: records.symbols.intern_opt(icd10[row].as_deref())?,
                medis_code: records.symbols.intern_opt(medis_code[row].as_deref())?,
                name: records.symbols.intern_opt(name[row].as_deref())?,
                onset: onset[row],
                suspected: *columns.required_ref(suspected, "suspected", row)?,
                main: *columns.required_ref(main, "main", row)?,
            };
            records.diagnoses.rows.push(diagnosis);
        }
        Ok(())
    }

    fn prescriptions(&mut self, columns: &Columns<'_>) -> Result<(), TableError> {
        let owners = columns.record_indices(self.n_persons)?;
        let (drug_code, code_system, drug_name) =
            (columns.utf8("drug_code")?, columns.utf8("code_system")?, columns.utf8("drug_name")?);
        let dose = columns.float64("dose")?;
        let unit = columns.utf8("unit")?;
        let days = columns.int64("days")?;
        let date = columns.date("date")?;
        for (row, owner) in owners.into_iter().enumerate() {
            let record = self.raw(owner);
            let system = parse_drug_code_system(columns.required_ref(code_system, "code_system", row)?)
                .ok_or_else(|| columns.invalid("code_system", row, "expected HOT, YJ or other"))?;
            let days = match days[row] {
                Some(days) => Some(
                    u32::try_from(days)
                        .map_err(|_| columns.invalid("days", row, "out of range for a day count"))?,
                ),
                None => None,
            };
            let drug_code = columns.required_ref(drug_code, "drug_code", row)?;
            let date = *columns.required_ref(date, "date", row)?;
            let records = &mut *self.records;
            let prescription = PrescriptionRow {
                record,
                drug_code: records.symbols.intern(drug_code)?,
                drug_name: records.symbols.intern_opt(drug_name[row].as_deref())?,
                unit: records.symbols.intern_opt(unit[row].as_deref())?,
                date,
                days: days.unwrap_or_default(),
                dose: dose[row].unwrap_or_default(),
                code_system: system,
                has_days: days.is_some(),
                has_dose: dose[row].is_some(),
            };
            records.prescriptions.rows.push(prescription);
        }
        Ok(())
    }

    fn labs(&mut self, columns: &Columns<'_>) -> Result<(), TableError> {
        let owners = columns.record_indices(self.n_persons)?;
        let (code, name) = (columns.utf8("code")?, columns.utf8("name")?);
        let (value_numeric, value_text) = (columns.float64("value_numeric")?, columns.utf8("value_text")?);
        let (unit, reference_range) = (columns.utf8("unit")?, columns.utf8("reference_range")?);
        let date = columns.date("date")?;
        for (row, owner) in owners.into_iter().enumerate() {
            let record = self.raw(owner);
            let records = &mut *self.records;
            let (numeric, text) = match (value_numeric[row], &value_text[row]) {
                (Some(number), None) => (number, NONE),
                (None, Some(text)) => (0.0, records.symbols.intern(text)?),
                _ => {
                    return Err(columns.invalid(
                        "value_numeric",
                        row,
                        "exactly one of value_numeric, value_text must be set",
                    ));
                }
            };
            let lab = LabRow {
                record,
                code: records.symbols.intern(columns.required_ref(code, "code", row)?)?,
                name: records.symbols.intern_opt(name[row].as_deref())?,
                value_text: text,
                unit: records.symbols.intern_opt(unit[row].as_deref())?,
                reference_range: records.symbols.intern_opt(reference_range[row].as_deref())?,
                date: *columns.required_ref(date, "date", row)?,
                value_numeric: numeric,
            };
            records.labs.rows.push(lab);
        }
        Ok(())
    }

    fn procedures(&mut self, columns: &Columns<'_>) -> Result<(), TableError> {
        let owners = columns.record_indices(self.n_persons)?;
        let (code, code_system, name) =
            (columns.utf8("code")?, columns.utf8("code_system")?, columns.utf8("name")?);
        let date = columns.date("date")?;
        for (row, owner) in owners.into_iter().enumerate() {
            let record = self.raw(owner);
            let records = &mut *self.records;
            let procedure = ProcedureRow {
                record,
                code: records.symbols.intern(columns.required_ref(code, "code", row)?)?,
                code_system: records.symbols.intern_opt(code_system[row].as_deref())?,
                name: records.symbols.intern_opt(name[row].as_deref())?,
                date: *columns.required_ref(date, "date", row)?,
            };
            records.procedures.rows.push(procedure);
        }
        Ok(())
    }
}

impl Drop for BatchDecoder<'_> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        // Take back a half-read batch; interned strings it added stay, unused.
        let records = &mut *self.records;
        let raw = self.first_raw;
        records.persons.truncate(raw);
        records.insurances.truncate(self.first_rows[0], raw);
        records.encounters.truncate(self.first_rows[1], raw);
        records.diagnoses.truncate(self.first_rows[2], raw);
        records.prescriptions.truncate(self.first_rows[3], raw);
        records.labs.truncate(self.first_rows[4], raw);
        records.procedures.truncate(self.first_rows[5], raw);
        records.parts.truncate(self.first_parts);
        let n_records = records.part_starts.iter().position(|start| *start as usize == self.first_parts);
        if let Some(last) = n_records {
            records.part_starts.truncate(last + 1);
        }
    }
}
