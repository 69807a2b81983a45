//! The canonical, provider-neutral medical record model that every intake format maps into.
//!
//! Every provider's data (SS-MIX2, FHIR JP Core, CSV) becomes one [`PatientRecord`] per provider-local
//! patient: the identified demographics ([`IdentifiedPerson`]) plus the clinical events (encounters,
//! diagnoses, prescriptions, lab results, procedures).
//!
//! Design decisions:
//! - Direct identifiers (names, address, phone, birth date, insurance numbers, the provider-local patient ID)
//!   live only in [`IdentifiedPerson`] and [`LocalPatientId`]. Nothing downstream of processing may hold them.
//! - Domain types are not `Serialize`: every file, HTTP or database format has its own types, converted
//!   explicitly, so a record cannot leak into an output by accident.
//! - `Debug` never prints a patient's value: every type carrying patient data has a hand-written `Debug`
//!   that prints the structure and `***` in place of values.
//! - This crate does no I/O and reads no clock.

use std::fmt;

pub use chrono::{Datelike, NaiveDate};

mod codes;
pub use codes::{PREFECTURES, Prefecture, insurer_check_digit, insurer_number_is_valid};

/// Writes `***` for a value that must never be shown (patient data, secrets).
pub struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A medical institution code (医療機関コード): 2-digit prefecture, 1-digit point table, 7 digits.
///
/// The code identifies an institution, not a patient, so it may be printed.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct ProviderCode(String);

impl ProviderCode {
    /// Builds a provider code from any non-empty string of ASCII letters, digits, `-` or `_`.
    ///
    /// # Errors
    /// Returns an error naming the problem when the code is empty, longer than 32 characters, or
    /// contains anything else.
    pub fn new(code: &str) -> Result<ProviderCode, ModelError> {
        let valid = !code.is_empty()
            && code.len() <= 32
            && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if valid { Ok(ProviderCode(code.to_owned())) } else { Err(ModelError::InvalidProviderCode) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProviderCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The patient ID a provider uses internally (患者ID). It links back to the source record, so it is an
/// identifier: it never leaves the core zone and its `Debug` is redacted.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LocalPatientId(String);

impl LocalPatientId {
    /// # Errors
    /// Returns an error when the ID is empty or contains a control character or a path separator.
    pub fn new(id: &str) -> Result<LocalPatientId, ModelError> {
        let valid =
            !id.is_empty() && id.len() <= 64 && !id.chars().any(|c| c.is_control() || c == '/' || c == '\\');
        if valid { Ok(LocalPatientId(id.to_owned())) } else { Err(ModelError::InvalidLocalPatientId) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for LocalPatientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LocalPatientId(***)")
    }
}

/// Errors from building model values. They never carry the rejected value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelError {
    InvalidProviderCode,
    InvalidLocalPatientId,
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelError::InvalidProviderCode => {
                f.write_str("invalid provider code: expected 1-32 ASCII letters, digits, '-' or '_'")
            }
            ModelError::InvalidLocalPatientId => f.write_str(
                "invalid provider-local patient ID: expected 1-64 characters without control characters or '/'",
            ),
        }
    }
}

impl std::error::Error for ModelError {}

/// Administrative sex (HL7 table 0001 / FHIR administrative-gender).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Sex {
    Male,
    Female,
    Other,
    Unknown,
}

impl Sex {
    /// The HL7 v2 code: `M`, `F`, `O`, `U`.
    pub fn hl7_code(self) -> &'static str {
        match self {
            Sex::Male => "M",
            Sex::Female => "F",
            Sex::Other => "O",
            Sex::Unknown => "U",
        }
    }

    /// The FHIR code: `male`, `female`, `other`, `unknown`.
    pub fn fhir_code(self) -> &'static str {
        match self {
            Sex::Male => "male",
            Sex::Female => "female",
            Sex::Other => "other",
            Sex::Unknown => "unknown",
        }
    }

    /// Reads HL7 (`M`/`F`/`O`/`U`/`A`/`N`), FHIR (`male`…) or Japanese (`男`/`女`, `1`/`2` as in JIS X 0303)
    /// codes; anything else is `Unknown`.
    pub fn parse_lenient(code: &str) -> Sex {
        match code.trim() {
            "M" | "m" | "male" | "Male" | "男" | "男性" | "1" => Sex::Male,
            "F" | "f" | "female" | "Female" | "女" | "女性" | "2" => Sex::Female,
            "O" | "A" | "other" => Sex::Other,
            _ => Sex::Unknown,
        }
    }
}

/// One health-insurance entitlement (被保険者資格).
///
/// 保険者番号 is the insurer number (8 digits, 6 for national health insurance, with a check digit);
/// 記号・番号・枝番 (symbol, number, branch) identify the insured person. All of them are individual
/// identification codes (個人識別符号) under the Act.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Insurance {
    /// 保険者番号.
    pub insurer_number: String,
    /// 記号.
    pub symbol: Option<String>,
    /// 番号.
    pub number: Option<String>,
    /// 枝番.
    pub branch: Option<String>,
    /// Date the entitlement starts (資格取得日), when known.
    pub valid_from: Option<NaiveDate>,
}

impl fmt::Debug for Insurance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Insurance").finish_non_exhaustive()
    }
}

/// The identified demographics of one patient at one provider (患者基本情報).
///
/// Every field is a direct identifier or a quasi-identifier, so the type lives only in intake, the vault
/// and linkage.
#[derive(Clone, PartialEq, Eq)]
pub struct IdentifiedPerson {
    pub provider: ProviderCode,
    pub local_id: LocalPatientId,
    /// 漢字氏名, family and given name as the provider wrote them.
    pub name_kanji: Option<PersonName>,
    /// カナ氏名.
    pub name_kana: Option<PersonName>,
    pub birth_date: Option<NaiveDate>,
    pub sex: Sex,
    /// 郵便番号, 7 digits when well-formed (the provider's spelling is kept).
    pub postal_code: Option<String>,
    /// 住所, the full address text.
    pub address: Option<String>,
    pub phone: Option<String>,
    /// Insurance entitlements, the current one first.
    pub insurances: Vec<Insurance>,
}

impl IdentifiedPerson {
    /// A person with nothing known but who holds the record.
    pub fn new(provider: ProviderCode, local_id: LocalPatientId) -> IdentifiedPerson {
        IdentifiedPerson {
            provider,
            local_id,
            name_kanji: None,
            name_kana: None,
            birth_date: None,
            sex: Sex::Unknown,
            postal_code: None,
            address: None,
            phone: None,
            insurances: Vec::new(),
        }
    }
}

impl fmt::Debug for IdentifiedPerson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentifiedPerson").field("provider", &self.provider).finish_non_exhaustive()
    }
}

/// A personal name as family and given parts. Providers that send one string with no split put it all in
/// `family` and leave `given` empty; linkage normalizes both shapes to the same key.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct PersonName {
    pub family: String,
    pub given: String,
}

impl PersonName {
    pub fn new(family: &str, given: &str) -> PersonName {
        PersonName { family: family.to_owned(), given: given.to_owned() }
    }

    /// Family and given name joined without a separator.
    pub fn joined(&self) -> String {
        format!("{}{}", self.family, self.given)
    }
}

impl fmt::Debug for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PersonName(***)")
    }
}

/// Encounter class (外来・入院・救急).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum EncounterClass {
    Outpatient,
    Inpatient,
    Emergency,
}

impl EncounterClass {
    /// The HL7 v2 PV1-2 patient class: `O`, `I`, `E`.
    pub fn hl7_code(self) -> &'static str {
        match self {
            EncounterClass::Outpatient => "O",
            EncounterClass::Inpatient => "I",
            EncounterClass::Emergency => "E",
        }
    }

    /// The FHIR v3 ActCode: `AMB`, `IMP`, `EMER`.
    pub fn fhir_code(self) -> &'static str {
        match self {
            EncounterClass::Outpatient => "AMB",
            EncounterClass::Inpatient => "IMP",
            EncounterClass::Emergency => "EMER",
        }
    }

    /// A stable lowercase name used in CSV and release files.
    pub fn name(self) -> &'static str {
        match self {
            EncounterClass::Outpatient => "outpatient",
            EncounterClass::Inpatient => "inpatient",
            EncounterClass::Emergency => "emergency",
        }
    }

    /// Reads any of the codes above (HL7, FHIR, or the name).
    pub fn parse(code: &str) -> Option<EncounterClass> {
        match code.trim() {
            "O" | "AMB" | "outpatient" => Some(EncounterClass::Outpatient),
            "I" | "IMP" | "inpatient" => Some(EncounterClass::Inpatient),
            "E" | "EMER" | "emergency" => Some(EncounterClass::Emergency),
            _ => None,
        }
    }
}

/// One visit or stay (受診・入院).
#[derive(Clone, PartialEq)]
pub struct Encounter {
    pub class: EncounterClass,
    /// Visit date or admission date.
    pub start: NaiveDate,
    /// Discharge date for stays; `None` for a single-day visit or an ongoing stay.
    pub end: Option<NaiveDate>,
    /// 診療科 code or name as sent.
    pub department: Option<String>,
}

/// One diagnosis (病名).
#[derive(Clone, PartialEq)]
pub struct Diagnosis {
    /// ICD-10 code (e.g. `E119`), without the dot.
    pub icd10: Option<String>,
    /// MEDIS standard disease code (病名交換用コード, 8 characters).
    pub medis_code: Option<String>,
    /// The disease name as written by the provider.
    pub name: Option<String>,
    /// 発症日 / 診断日.
    pub onset: Option<NaiveDate>,
    /// 疑い病名.
    pub suspected: bool,
    /// 主病名.
    pub main: bool,
}

/// Which drug code system a prescription uses.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum DrugCodeSystem {
    /// HOT code (9-digit HOT9 or 13-digit HOT13).
    Hot,
    /// YJ code (個別医薬品コード, 12 characters).
    Yj,
    Other,
}

impl DrugCodeSystem {
    pub fn name(self) -> &'static str {
        match self {
            DrugCodeSystem::Hot => "HOT",
            DrugCodeSystem::Yj => "YJ",
            DrugCodeSystem::Other => "other",
        }
    }

    pub fn parse(name: &str) -> DrugCodeSystem {
        match name.trim() {
            "HOT" | "HOT7" | "HOT9" | "HOT13" | "hot" => DrugCodeSystem::Hot,
            "YJ" | "yj" => DrugCodeSystem::Yj,
            _ => DrugCodeSystem::Other,
        }
    }
}

/// One prescribed drug (処方).
#[derive(Clone, PartialEq)]
pub struct Prescription {
    pub drug_code: String,
    pub code_system: DrugCodeSystem,
    pub drug_name: Option<String>,
    /// Dose per day in `unit`.
    pub dose: Option<f64>,
    pub unit: Option<String>,
    /// 処方日数.
    pub days: Option<u32>,
    /// 処方日.
    pub date: NaiveDate,
}

/// A lab result value: numeric (`NM`) or text (`ST`, `CWE`…).
#[derive(Clone, PartialEq)]
pub enum LabValue {
    Numeric(f64),
    Text(String),
}

/// One lab result (検体検査結果).
#[derive(Clone, PartialEq)]
pub struct LabResult {
    /// JLAC10 code (17 characters), or the provider's local code when it has none.
    pub code: String,
    pub name: Option<String>,
    pub value: LabValue,
    pub unit: Option<String>,
    /// Reference range as sent, e.g. `3.7-5.5`.
    pub reference_range: Option<String>,
    /// Specimen collection date.
    pub date: NaiveDate,
}

/// One procedure (処置・手術), coded in the provider's or a national code system.
#[derive(Clone, PartialEq)]
pub struct Procedure {
    pub code: String,
    pub code_system: Option<String>,
    pub name: Option<String>,
    pub date: NaiveDate,
}

/// Everything one provider holds about one patient: the unit intake produces and linkage consumes.
#[derive(Clone, PartialEq)]
pub struct PatientRecord {
    pub person: IdentifiedPerson,
    pub encounters: Vec<Encounter>,
    pub diagnoses: Vec<Diagnosis>,
    pub prescriptions: Vec<Prescription>,
    pub labs: Vec<LabResult>,
    pub procedures: Vec<Procedure>,
}

impl PatientRecord {
    pub fn new(person: IdentifiedPerson) -> PatientRecord {
        PatientRecord {
            person,
            encounters: Vec::new(),
            diagnoses: Vec::new(),
            prescriptions: Vec::new(),
            labs: Vec::new(),
            procedures: Vec::new(),
        }
    }

    /// Appends `other`'s clinical events to this record. Demographics present in `other` fill fields this
    /// record lacks; fields already set are kept (the first message wins).
    pub fn merge(&mut self, other: PatientRecord) {
        let person = other.person;
        let mine = &mut self.person;
        if mine.name_kanji.is_none() {
            mine.name_kanji = person.name_kanji;
        }
        if mine.name_kana.is_none() {
            mine.name_kana = person.name_kana;
        }
        if mine.birth_date.is_none() {
            mine.birth_date = person.birth_date;
        }
        if mine.sex == Sex::Unknown {
            mine.sex = person.sex;
        }
        if mine.postal_code.is_none() {
            mine.postal_code = person.postal_code;
        }
        if mine.address.is_none() {
            mine.address = person.address;
        }
        if mine.phone.is_none() {
            mine.phone = person.phone;
        }
        for insurance in person.insurances {
            if !mine.insurances.contains(&insurance) {
                mine.insurances.push(insurance);
            }
        }
        self.encounters.extend(other.encounters);
        self.diagnoses.extend(other.diagnoses);
        self.prescriptions.extend(other.prescriptions);
        self.labs.extend(other.labs);
        self.procedures.extend(other.procedures);
    }

    /// The number of clinical events of all kinds.
    pub fn n_events(&self) -> usize {
        self.encounters.len()
            + self.diagnoses.len()
            + self.prescriptions.len()
            + self.labs.len()
            + self.procedures.len()
    }
}

macro_rules! redacted_debug {
    ($($ty:ident),*) => {$(
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($ty)).finish_non_exhaustive()
            }
        }
    )*};
}

redacted_debug!(Encounter, Diagnosis, Prescription, LabResult, Procedure);

impl fmt::Debug for LabValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LabValue(***)")
    }
}

impl fmt::Debug for PatientRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PatientRecord")
            .field("provider", &self.person.provider)
            .field("n_encounters", &self.encounters.len())
            .field("n_diagnoses", &self.diagnoses.len())
            .field("n_prescriptions", &self.prescriptions.len())
            .field("n_labs", &self.labs.len())
            .field("n_procedures", &self.procedures.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person() -> IdentifiedPerson {
        let mut person = IdentifiedPerson::new(
            ProviderCode::new("1310000001").unwrap(),
            LocalPatientId::new("0000123").unwrap(),
        );
        person.name_kanji = Some(PersonName::new("山田", "花子"));
        person.phone = Some("03-1234-5678".to_owned());
        person.insurances.push(Insurance { insurer_number: "06131234".to_owned(), ..Insurance::default() });
        person
    }

    #[test]
    fn debug_output_never_shows_patient_values() {
        let mut record = PatientRecord::new(person());
        record.labs.push(LabResult {
            code: "3A015000002327101".to_owned(),
            name: Some("アルブミン".to_owned()),
            value: LabValue::Numeric(4.9),
            unit: None,
            reference_range: None,
            date: NaiveDate::from_ymd_opt(2024, 1, 2).unwrap(),
        });
        let shown = format!("{record:?} {:?} {:?} {:?}", record.person, record.labs, record.person.local_id);
        for secret in ["山田", "花子", "03-1234", "06131234", "0000123", "アルブミン", "4.9", "2024"]
        {
            assert!(!shown.contains(secret), "Debug output shows a patient value: {shown}");
        }
        assert!(shown.contains("1310000001"), "the provider code is not patient data and helps debugging");
    }

    #[test]
    fn merge_keeps_first_demographics_and_appends_events() {
        let mut first = PatientRecord::new(person());
        first.encounters.push(Encounter {
            class: EncounterClass::Outpatient,
            start: NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
            end: None,
            department: None,
        });
        let mut second_person = person();
        second_person.name_kanji = Some(PersonName::new("別", "名"));
        second_person.birth_date = NaiveDate::from_ymd_opt(1950, 5, 6);
        second_person
            .insurances
            .push(Insurance { insurer_number: "01130012".to_owned(), ..Insurance::default() });
        let mut second = PatientRecord::new(second_person);
        second.encounters.push(first.encounters[0].clone());

        first.merge(second);
        assert_eq!(first.person.name_kanji, Some(PersonName::new("山田", "花子")));
        assert_eq!(first.person.birth_date, NaiveDate::from_ymd_opt(1950, 5, 6));
        assert_eq!(first.person.insurances.len(), 2, "a new insurer is added, a repeated one is not");
        assert_eq!(first.encounters.len(), 2);
    }

    #[test]
    fn identifiers_reject_malformed_input() {
        assert!(ProviderCode::new("").is_err());
        assert!(ProviderCode::new("13 100").is_err());
        assert!(LocalPatientId::new("../etc").is_err());
        assert!(LocalPatientId::new("A\u{0}").is_err());
        assert_eq!(Sex::parse_lenient("女"), Sex::Female);
        assert_eq!(Sex::parse_lenient("male"), Sex::Male);
        assert_eq!(EncounterClass::parse("IMP"), Some(EncounterClass::Inpatient));
    }
}
