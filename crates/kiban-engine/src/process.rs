//! Processing linked, identified records into an anonymized dataset (匿名加工, Rule 18).
//!
//! This first policy is fixed (the release-policy language comes with issue 5):
//! - direct identifiers (names, address, phone, postal code, insurance numbers) are dropped (Rule 18 ①②);
//! - the provider-local patient ID and the producer's linking ID are replaced by a keyed pseudonym that
//!   differs per release (Rule 18 ③); provider codes are dropped (hospital names removed, seed 002);
//! - the birth date becomes a 5-year age band at the plan's reference date with `90+` top-coding
//!   (Rule 18 ④); the address becomes the prefecture;
//! - every date of one person is shifted by the same keyed offset, so intervals are exact (seed 002 ③);
//! - k-anonymity with record suppression on the person-level quasi-identifiers (age band, sex, prefecture),
//!   searched over the generalization lattice with the least information loss (Rule 18 ⑤). A suppressed
//!   person is left out of every table.
//!
//! Free-text disease names are dropped (they are provider-written text); coded diagnoses are kept.

use std::collections::BTreeMap;
use std::num::NonZeroU32;

use kiban_columnar::{Column, ColumnData, Table, TableError};
use kiban_crypto::{DateShiftKey, PseudonymKey};
use kiban_model::{Datelike, LabValue, NaiveDate, PatientRecord, Prefecture, Sex};

use crate::dataset::{AnonymizedDataset, ProcessingSummary, QuasiIdentifierSummary, ReleaseMode};
use crate::hierarchy::Hierarchy;
use crate::kanon::{self, KAnonymityConfig, QuasiIdentifier};

/// One person after linkage: the producer's internal linking ID and every provider record of theirs.
pub struct LinkedPerson<'a> {
    /// The producer's person ID (名寄せ ID). It links back to the vault, so it never leaves.
    pub person_id: String,
    pub records: Vec<&'a PatientRecord>,
}

/// The choices of an anonymized release.
#[derive(Clone, Debug)]
pub struct AnonymizationPlan {
    pub k: usize,
    /// Largest share of persons that may be suppressed, 0.0 to 1.0.
    pub suppression_limit: f64,
    /// The date ages are computed at (the release's reference date, passed in: the engine reads no clock).
    pub reference_date: NaiveDate,
    /// Dates are shifted by up to this many days either way.
    pub max_shift_days: NonZeroU32,
}

/// The secrets of one release (加工方法等情報). They never leave the producer; nothing derived from them
/// but the pseudonyms and the shifted dates reaches the dataset.
pub struct ReleaseKeys {
    pub pseudonym: PseudonymKey,
    pub date_shift: DateShiftKey,
}

/// Why processing failed. No variant carries a patient value.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("no person can be released: {0}")]
    Anonymization(#[from] kanon::EngineError),
    #[error("building the age hierarchy: {0}")]
    Hierarchy(#[from] crate::hierarchy::HierarchyError),
    #[error("building release table: {0}")]
    Table(#[from] TableError),
}

const UNKNOWN: &str = "不明";

/// Processes linked persons into an anonymized dataset under `plan`.
///
/// # Errors
/// [`ProcessError::Anonymization`] when no transformation reaches k-anonymity within the suppression limit
/// (for example fewer than k persons).
pub fn anonymize(
    persons: &[LinkedPerson<'_>],
    plan: &AnonymizationPlan,
    keys: &ReleaseKeys,
) -> Result<AnonymizedDataset, ProcessError> {
    // Persons without a birth date cannot be placed in an age band; they are left out and counted.
    let mut complete = Vec::with_capacity(persons.len());
    for person in persons {
        if let Some(birth_date) = consensus_birth_date(person) {
            complete.push((person, birth_date));
        }
    }
    let n_incomplete = persons.len() - complete.len();

    let ages: Vec<String> =
        complete.iter().map(|(_, birth)| age_band(age_at(*birth, plan.reference_date))).collect();
    let sexes: Vec<String> = complete.iter().map(|(person, _)| consensus_sex(person).to_owned()).collect();
    let prefectures: Vec<String> =
        complete.iter().map(|(person, _)| consensus_prefecture(person).to_owned()).collect();

    let qis = vec![
        QuasiIdentifier::new("age_band", ages, age_hierarchy()?)?,
        QuasiIdentifier::new("sex", sexes, sex_hierarchy()?)?,
        QuasiIdentifier::new("prefecture", prefectures, prefecture_hierarchy()?)?,
    ];
    let cfg = KAnonymityConfig { k: plan.k, suppression_limit: plan.suppression_limit };
    let solution = kanon::anonymize(&qis, &cfg)?;

    let mut released: Vec<ReleasedPerson<'_>> = Vec::new();
    for (row, (person, _)) in complete.iter().enumerate() {
        if solution.suppressed()[row] {
            continue;
        }
        let pseudonym = keys.pseudonym.pseudonym(person.person_id.as_bytes()).as_str().to_owned();
        let offset = keys.date_shift.offset_days(person.person_id.as_bytes(), plan.max_shift_days);
        let qi_values = solution.generalized().iter().map(|column| column.get(row).to_owned()).collect();
        released.push(ReleasedPerson { pseudonym, offset, qi_values, records: &person.records });
    }
    // Sort by pseudonym so row order says nothing about the source order.
    released.sort_by(|a, b| a.pseudonym.cmp(&b.pseudonym));

    let tables = build_tables(&released)?;
    let level_names = [
        vec!["5-year band, 90+", "10-year band, 90+", "20-year band, 80+", "suppressed"],
        vec!["kept", "suppressed"],
        vec!["prefecture", "region", "suppressed"],
    ];
    let quasi_identifiers = qis
        .iter()
        .enumerate()
        .map(|(idx, qi)| QuasiIdentifierSummary {
            name: qi.name().to_owned(),
            level: solution.levels()[idx],
            max_level: qi.hierarchy().levels() - 1,
            loss: solution.loss_per_qi()[idx],
            level_names: level_names[idx].iter().map(|name| (*name).to_owned()).collect(),
        })
        .collect();
    let summary = ProcessingSummary {
        mode: ReleaseMode::Anonymized,
        k: plan.k,
        suppression_limit: plan.suppression_limit,
        n_persons_in: persons.len(),
        n_persons_released: released.len(),
        n_persons_suppressed: solution.n_suppressed(),
        n_persons_incomplete: n_incomplete,
        quasi_identifiers,
        class_sizes: solution.class_sizes().to_vec(),
        loss: solution.loss(),
        n_transformations_checked: solution.n_nodes_checked(),
        max_shift_days: plan.max_shift_days.get(),
        treatments: vec![
            "persons.person: linking ID → per-release keyed pseudonym (HMAC-SHA-256)".to_owned(),
            "persons.age_band: birth date → age band at the reference date, 90+ top-coded".to_owned(),
            "persons.prefecture: address → prefecture (or region, or suppressed)".to_owned(),
            "*.date columns: shifted by one keyed offset per person".to_owned(),
            format!("persons: {}-anonymity on (age_band, sex, prefecture) with suppression", plan.k),
        ],
        removed: [
            "name_kanji",
            "name_kana",
            "birth_date",
            "postal_code",
            "address",
            "phone",
            "insurer_number",
            "insurance_symbol",
            "insurance_number",
            "insurance_branch",
            "provider",
            "local_patient_id",
            "diagnosis_name",
        ]
        .iter()
        .map(|name| (*name).to_owned())
        .collect(),
    };
    Ok(AnonymizedDataset::new(tables, summary))
}

struct ReleasedPerson<'a> {
    pseudonym: String,
    offset: i32,
    /// Generalized age band, sex, prefecture.
    qi_values: Vec<String>,
    records: &'a [&'a PatientRecord],
}

fn shift(date: NaiveDate, offset: i32) -> Option<NaiveDate> {
    date.checked_add_signed(chrono::Duration::days(i64::from(offset)))
}

/// Builds one column of a table from rows: each row is the pseudonym plus cells.
struct TableBuilder {
    name: &'static str,
    pseudonyms: Vec<Option<String>>,
    columns: Vec<(&'static str, ColumnData)>,
}

impl TableBuilder {
    fn new(name: &'static str, columns: Vec<(&'static str, ColumnData)>) -> TableBuilder {
        TableBuilder { name, pseudonyms: Vec::new(), columns }
    }

    fn finish(self) -> Result<Table, TableError> {
        let mut columns = vec![Column::new("person", ColumnData::Utf8(self.pseudonyms))];
        columns.extend(self.columns.into_iter().map(|(name, data)| Column::new(name, data)));
        Table::new(self.name, columns)
    }
}

macro_rules! push {
    ($builder:expr, $idx:expr, $variant:ident, $value:expr) => {
        match &mut $builder.columns[$idx].1 {
            ColumnData::$variant(values) => values.push($value),
            _ => unreachable!("column {} of {} is declared with another type", $idx, $builder.name),
        }
    };
}

fn build_tables(persons: &[ReleasedPerson<'_>]) -> Result<Vec<Table>, TableError> {
    let utf8 = || ColumnData::Utf8(Vec::new());
    let date = || ColumnData::Date(Vec::new());
    let mut person_table =
        TableBuilder::new("persons", vec![("age_band", utf8()), ("sex", utf8()), ("prefecture", utf8())]);
    let mut encounters = TableBuilder::new(
        "encounters",
        vec![("class", utf8()), ("start_date", date()), ("end_date", date()), ("department", utf8())],
    );
    let mut diagnoses = TableBuilder::new(
        "diagnoses",
        vec![
            ("icd10", utf8()),
            ("medis_code", utf8()),
            ("onset_date", date()),
            ("suspected", ColumnData::Bool(Vec::new())),
            ("main", ColumnData::Bool(Vec::new())),
        ],
    );
    let mut prescriptions = TableBuilder::new(
        "prescriptions",
        vec![
            ("drug_code", utf8()),
            ("code_system", utf8()),
            ("drug_name", utf8()),
            ("dose", ColumnData::Float64(Vec::new())),
            ("unit", utf8()),
            ("days", ColumnData::Int64(Vec::new())),
            ("date", date()),
        ],
    );
    let mut labs = TableBuilder::new(
        "labs",
        vec![
            ("code", utf8()),
            ("name", utf8()),
            ("value_numeric", ColumnData::Float64(Vec::new())),
            ("value_text", utf8()),
            ("unit", utf8()),
            ("reference_range", utf8()),
            ("date", date()),
        ],
    );
    let mut procedures = TableBuilder::new(
        "procedures",
        vec![("code", utf8()), ("code_system", utf8()), ("name", utf8()), ("date", date())],
    );

    for person in persons {
        let pseudonym = Some(person.pseudonym.clone());
        person_table.pseudonyms.push(pseudonym.clone());
        for (idx, value) in person.qi_values.iter().enumerate() {
            push!(person_table, idx, Utf8, Some(value.clone()));
        }
        let offset = person.offset;
        // Events of all the person's providers, in date order so the file reads as a timeline.
        let mut person_encounters: Vec<_> = person.records.iter().flat_map(|r| &r.encounters).collect();
        person_encounters.sort_by_key(|e| (e.start, e.end));
        for encounter in person_encounters {
            encounters.pseudonyms.push(pseudonym.clone());
            push!(encounters, 0, Utf8, Some(encounter.class.name().to_owned()));
            push!(encounters, 1, Date, shift(encounter.start, offset));
            push!(encounters, 2, Date, encounter.end.and_then(|end| shift(end, offset)));
            push!(encounters, 3, Utf8, encounter.department.clone());
        }
        let mut person_diagnoses: Vec<_> = person.records.iter().flat_map(|r| &r.diagnoses).collect();
        person_diagnoses
            .sort_by(|a, b| (a.onset, &a.icd10, &a.medis_code).cmp(&(b.onset, &b.icd10, &b.medis_code)));
        for diagnosis in person_diagnoses {
            diagnoses.pseudonyms.push(pseudonym.clone());
            push!(diagnoses, 0, Utf8, diagnosis.icd10.clone());
            push!(diagnoses, 1, Utf8, diagnosis.medis_code.clone());
            push!(diagnoses, 2, Date, diagnosis.onset.and_then(|onset| shift(onset, offset)));
            push!(diagnoses, 3, Bool, Some(diagnosis.suspected));
            push!(diagnoses, 4, Bool, Some(diagnosis.main));
        }
        let mut person_prescriptions: Vec<_> = person.records.iter().flat_map(|r| &r.prescriptions).collect();
        person_prescriptions.sort_by(|a, b| (a.date, &a.drug_code).cmp(&(b.date, &b.drug_code)));
        for prescription in person_prescriptions {
            prescriptions.pseudonyms.push(pseudonym.clone());
            push!(prescriptions, 0, Utf8, Some(prescription.drug_code.clone()));
            push!(prescriptions, 1, Utf8, Some(prescription.code_system.name().to_owned()));
            push!(prescriptions, 2, Utf8, prescription.drug_name.clone());
            push!(prescriptions, 3, Float64, prescription.dose);
            push!(prescriptions, 4, Utf8, prescription.unit.clone());
            push!(prescriptions, 5, Int64, prescription.days.map(i64::from));
            push!(prescriptions, 6, Date, shift(prescription.date, offset));
        }
        let mut person_labs: Vec<_> = person.records.iter().flat_map(|r| &r.labs).collect();
        person_labs.sort_by(|a, b| (a.date, &a.code).cmp(&(b.date, &b.code)));
        for lab in person_labs {
            labs.pseudonyms.push(pseudonym.clone());
            push!(labs, 0, Utf8, Some(lab.code.clone()));
            push!(labs, 1, Utf8, lab.name.clone());
            let (numeric, text) = match &lab.value {
                LabValue::Numeric(value) => (Some(*value), None),
                LabValue::Text(text) => (None, Some(text.clone())),
            };
            push!(labs, 2, Float64, numeric);
            push!(labs, 3, Utf8, text);
            push!(labs, 4, Utf8, lab.unit.clone());
            push!(labs, 5, Utf8, lab.reference_range.clone());
            push!(labs, 6, Date, shift(lab.date, offset));
        }
        let mut person_procedures: Vec<_> = person.records.iter().flat_map(|r| &r.procedures).collect();
        person_procedures.sort_by(|a, b| (a.date, &a.code).cmp(&(b.date, &b.code)));
        for procedure in person_procedures {
            procedures.pseudonyms.push(pseudonym.clone());
            push!(procedures, 0, Utf8, Some(procedure.code.clone()));
            push!(procedures, 1, Utf8, procedure.code_system.clone());
            push!(procedures, 2, Utf8, procedure.name.clone());
            push!(procedures, 3, Date, shift(procedure.date, offset));
        }
    }
    [person_table, encounters, diagnoses, prescriptions, labs, procedures]
        .into_iter()
        .map(TableBuilder::finish)
        .collect()
}

/// The birth date most of the person's records agree on; ties go to the earliest date.
fn consensus_birth_date(person: &LinkedPerson<'_>) -> Option<NaiveDate> {
    most_common(person.records.iter().filter_map(|record| record.person.birth_date))
}

fn consensus_sex(person: &LinkedPerson<'_>) -> &'static str {
    let sex = most_common(
        person.records.iter().map(|record| record.person.sex).filter(|sex| !matches!(sex, Sex::Unknown)),
    );
    match sex {
        Some(Sex::Male) => "M",
        Some(Sex::Female) => "F",
        Some(Sex::Other) => "O",
        Some(Sex::Unknown) | None => "U",
    }
}

/// The prefecture of the first record whose address names one.
fn consensus_prefecture(person: &LinkedPerson<'_>) -> &'static str {
    person
        .records
        .iter()
        .filter_map(|record| record.person.address.as_deref())
        .find_map(Prefecture::of_address)
        .map_or(UNKNOWN, |prefecture| prefecture.name)
}

fn most_common<T: Ord + Copy>(values: impl Iterator<Item = T>) -> Option<T> {
    let mut counts: BTreeMap<T, usize> = BTreeMap::new();
    for value in values {
        *counts.entry(value).or_default() += 1;
    }
    // max_by_key returns the last maximum; iterate in reverse so ties go to the smallest value.
    counts.into_iter().rev().max_by_key(|(_, count)| *count).map(|(value, _)| value)
}

/// Completed years of age at `at`.
pub fn age_at(birth: NaiveDate, at: NaiveDate) -> u32 {
    let mut years = at.year() - birth.year();
    if (at.month(), at.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    u32::try_from(years).unwrap_or(0)
}

/// The 5-year band of an age, `90+` from 90 on.
pub fn age_band(age: u32) -> String {
    if age >= 90 {
        return "90+".to_owned();
    }
    let low = age / 5 * 5;
    format!("{low}-{}", low + 4)
}

fn age_hierarchy() -> Result<Hierarchy, crate::hierarchy::HierarchyError> {
    let mut rows = Vec::new();
    for low in (0..90).step_by(5) {
        let ten = low / 10 * 10;
        let twenty =
            if low >= 80 { "80+".to_owned() } else { format!("{}-{}", low / 20 * 20, low / 20 * 20 + 19) };
        rows.push(vec![format!("{low}-{}", low + 4), format!("{ten}-{}", ten + 9), twenty, "*".to_owned()]);
    }
    rows.push(vec!["90+".to_owned(), "90+".to_owned(), "80+".to_owned(), "*".to_owned()]);
    Hierarchy::from_rows(&rows)
}

fn sex_hierarchy() -> Result<Hierarchy, crate::hierarchy::HierarchyError> {
    let rows: Vec<Vec<String>> =
        ["M", "F", "O", "U"].iter().map(|sex| vec![(*sex).to_owned(), "*".to_owned()]).collect();
    Hierarchy::from_rows(&rows)
}

fn prefecture_hierarchy() -> Result<Hierarchy, crate::hierarchy::HierarchyError> {
    let mut rows: Vec<Vec<String>> = kiban_model::PREFECTURES
        .iter()
        .map(|prefecture| vec![prefecture.name.to_owned(), prefecture.region.to_owned(), "*".to_owned()])
        .collect();
    rows.push(vec![UNKNOWN.to_owned(), UNKNOWN.to_owned(), "*".to_owned()]);
    Hierarchy::from_rows(&rows)
}

#[cfg(test)]
mod tests;
