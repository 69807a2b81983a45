//! Peculiar values (特異な記述, Rule 18 ④) and code-set combinations (Rule 18 ⑤), found and treated
//! automatically in the anonymized modes, on the tables as built:
//!
//! - `diagnoses.icd10`: codes held by fewer than `peculiar.rare_code_persons` persons go up the ICD-10
//!   hierarchy (category → block → chapter) or are suppressed at the top; then each person's set of codes
//!   is made k^m-anonymous (`privacy.km`);
//! - drug, lab and procedure codes: rare codes go up their hierarchy (YJ, HOT, JLAC10 analyte) or are
//!   suppressed;
//! - a code's name or finer code (MEDIS code, drug name, lab name, procedure name) is released only on
//!   rows whose code is released unchanged, since the name would tell the code;
//! - numeric lab values outside the policy's percentiles, per lab code, are capped to them.
//!
//! Every decision is counted for the report; no value is named.

use std::collections::{BTreeMap, BTreeSet};

use kiban_columnar::ColumnData;

use crate::codes::{CodeHierarchy, Icd10Hierarchy, PrefixHierarchy, YjHierarchy};
use crate::dataset::PeculiarDecision;
use crate::kmanon;
use crate::policy::ReleasePolicy;

use super::Building;
use super::cells::Event;

/// Treats the peculiar values of one table; returns the decisions made.
pub(super) fn treat(table: &mut Building<'_>, policy: &ReleasePolicy) -> Vec<PeculiarDecision> {
    let rare = policy.peculiar.rare_code_persons;
    let mut decisions = Vec::new();
    match table.name() {
        "diagnoses" => {
            let family = |_: Event<'_>| Some(Family::Icd10);
            decisions.extend(rare_codes(table, "icd10", &family, rare, 1));
            if let Some(km) = policy.privacy.km {
                decisions.extend(rare_codes(table, "icd10", &family, km.k, km.m));
            }
            decisions.extend(names_follow_codes(table, "icd10", &["medis_code"], |event| match event {
                Event::Diagnosis(d) => d.icd10.clone(),
                _ => None,
            }));
            // A MEDIS code on a row whose ICD-10 code is released unchanged can still be rare on its own.
            decisions.extend(rare_codes(table, "medis_code", &|_| Some(Family::Flat), rare, 1));
        }
        "prescriptions" => {
            let family = |event: Event<'_>| match event {
                Event::Prescription(p) => Some(match p.code_system {
                    kiban_model::DrugCodeSystem::Yj => Family::Yj,
                    kiban_model::DrugCodeSystem::Hot => Family::Hot,
                    kiban_model::DrugCodeSystem::Other => Family::Flat,
                }),
                _ => None,
            };
            decisions.extend(rare_codes(table, "drug_code", &family, rare, 1));
            decisions.extend(names_follow_codes(table, "drug_code", &["drug_name"], |event| match event {
                Event::Prescription(p) => Some(p.drug_code.clone()),
                _ => None,
            }));
        }
        "labs" => {
            decisions.extend(rare_codes(table, "code", &|_| Some(Family::Jlac10), rare, 1));
            decisions.extend(names_follow_codes(table, "code", &["name"], |event| match event {
                Event::Lab(l) => Some(l.code.clone()),
                _ => None,
            }));
            decisions.extend(cap_lab_values(table, policy.peculiar.lab_percentiles));
        }
        "procedures" => {
            decisions.extend(rare_codes(table, "code", &|_| Some(Family::Flat), rare, 1));
            decisions.extend(names_follow_codes(table, "code", &["name"], |event| match event {
                Event::Procedure(p) => Some(p.code.clone()),
                _ => None,
            }));
        }
        _ => {}
    }
    decisions
}

/// The code systems a column can mix; each is recoded along its own hierarchy.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Family {
    Icd10,
    Yj,
    Hot,
    /// JLAC10: the 17-character code → its 5-character analyte code.
    Jlac10,
    /// No known hierarchy: a rare code is suppressed.
    Flat,
}

impl Family {
    fn hierarchy(self) -> Box<dyn CodeHierarchy> {
        match self {
            Family::Icd10 => Box::new(Icd10Hierarchy),
            Family::Yj => Box::new(YjHierarchy),
            Family::Hot => Box::new(PrefixHierarchy::hot9()),
            Family::Jlac10 => match PrefixHierarchy::named(&[5], &["JLAC10 code", "JLAC10 analyte"]) {
                Ok(hierarchy) => Box::new(hierarchy),
                Err(_) => Box::new(Flat),
            },
            Family::Flat => Box::new(Flat),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Family::Icd10 => "ICD-10",
            Family::Yj => "YJ",
            Family::Hot => "HOT",
            Family::Jlac10 => "JLAC10",
            Family::Flat => "code",
        }
    }
}

/// A hierarchy with nothing above the code: rare means suppressed.
struct Flat;

impl CodeHierarchy for Flat {
    fn parent(&self, _: &str) -> Option<String> {
        None
    }

    fn level(&self, _: &str) -> usize {
        0
    }

    fn level_name(&self, _: usize) -> &'static str {
        "code"
    }
}

/// Makes the code sets of `column` k^m-anonymous per family (m = 1: rare codes), rewriting the column.
fn rare_codes(
    table: &mut Building<'_>,
    column: &str,
    family_of: &dyn Fn(Event<'_>) -> Option<Family>,
    k: usize,
    m: usize,
) -> Vec<PeculiarDecision> {
    let table_name = table.name();
    let families: Vec<Option<Family>> = table.events().iter().map(|event| family_of(*event)).collect();
    let person_rows = table.person_rows().to_vec();
    let Some(ColumnData::Utf8(values)) = table.column_mut(column) else { return Vec::new() };
    let mut decisions = Vec::new();
    let distinct: BTreeSet<Family> = families.iter().flatten().copied().collect();
    for family in distinct {
        // Each person's set of codes of this family.
        let mut sets: BTreeMap<usize, BTreeSet<&str>> = BTreeMap::new();
        for (row, value) in values.iter().enumerate() {
            if let (Some(code), Some(true)) = (value, families[row].map(|f| f == family)) {
                sets.entry(person_rows[row]).or_default().insert(code.as_str());
            }
        }
        let sets: Vec<Vec<String>> =
            sets.into_values().map(|set| set.into_iter().map(str::to_owned).collect()).collect();
        let hierarchy = family.hierarchy();
        let solution = kmanon::anonymize(&sets, k, m, hierarchy.as_ref());
        let mut n_rows = 0;
        for (row, value) in values.iter_mut().enumerate() {
            if families[row] != Some(family) {
                continue;
            }
            if let Some(code) = value.as_deref() {
                let released = solution.recode(code);
                if released.as_deref() != Some(code) {
                    *value = released;
                    n_rows += 1;
                }
            }
        }
        if n_rows == 0 {
            continue;
        }
        let rule = if m == 1 {
            format!(
                "{} codes held by fewer than {k} persons generalized up the hierarchy, or suppressed",
                family.name()
            )
        } else {
            format!("{k}^{m}-anonymity of each person's set of {} codes (Rule 18 ⑤)", family.name())
        };
        decisions.push(PeculiarDecision {
            column: format!("{table_name}.{column}"),
            rule,
            values: solution.outcome_counts(hierarchy.as_ref()),
            n_rows,
            loss: Some(solution.loss()),
        });
    }
    decisions
}

/// Nulls the `names` columns on rows whose code in `code_column` is not released as its source value.
fn names_follow_codes(
    table: &mut Building<'_>,
    code_column: &str,
    names: &[&str],
    source_code: impl Fn(Event<'_>) -> Option<String>,
) -> Vec<PeculiarDecision> {
    let sources: Vec<Option<String>> = table.events().iter().map(|event| source_code(*event)).collect();
    let changed: Vec<bool> = match table.column_mut(code_column) {
        Some(ColumnData::Utf8(values)) => {
            values.iter().zip(&sources).map(|(released, source)| released != source).collect()
        }
        // The code is not released at all: the names would stand in for it, so they follow its treatment
        // through their own rare-code check only.
        _ => return Vec::new(),
    };
    let table_name = table.name();
    let mut decisions = Vec::new();
    for name in names {
        let Some(ColumnData::Utf8(values)) = table.column_mut(name) else { continue };
        let mut n_rows = 0;
        for (value, changed) in values.iter_mut().zip(&changed) {
            if *changed && value.is_some() {
                *value = None;
                n_rows += 1;
            }
        }
        if n_rows > 0 {
            decisions.push(PeculiarDecision {
                column: format!("{table_name}.{name}"),
                rule: format!("withheld where {table_name}.{code_column} was generalized or suppressed"),
                values: Vec::new(),
                n_rows,
                loss: None,
            });
        }
    }
    decisions
}

/// Caps numeric lab values outside the `(low, high)` percentiles of their lab code.
fn cap_lab_values(table: &mut Building<'_>, (low, high): (f64, f64)) -> Vec<PeculiarDecision> {
    let codes: Vec<Option<String>> = table
        .events()
        .iter()
        .map(|event| match event {
            Event::Lab(l) => Some(l.code.clone()),
            _ => None,
        })
        .collect();
    let Some(ColumnData::Float64(values)) = table.column_mut("value_numeric") else { return Vec::new() };
    let mut by_code: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for (value, code) in values.iter().zip(&codes) {
        if let (Some(value), Some(code)) = (value, code) {
            by_code.entry(code.as_str()).or_default().push(*value);
        }
    }
    let bounds: BTreeMap<&str, (f64, f64)> = by_code
        .into_iter()
        .map(|(code, mut values)| {
            values.sort_by(f64::total_cmp);
            (code, (percentile(&values, low), percentile(&values, high)))
        })
        .collect();
    let mut n_rows = 0;
    let mut n_codes = BTreeSet::new();
    for (value, code) in values.iter_mut().zip(&codes) {
        let (Some(number), Some(code)) = (value.as_mut(), code) else { continue };
        let Some((min, max)) = bounds.get(code.as_str()) else { continue };
        let capped = number.clamp(*min, *max);
        if capped.total_cmp(number).is_ne() {
            *number = capped;
            n_rows += 1;
            n_codes.insert(code.as_str());
        }
    }
    if n_rows == 0 {
        return Vec::new();
    }
    vec![PeculiarDecision {
        column: "labs.value_numeric".to_owned(),
        rule: format!("values outside the {low}th-{high}th percentile of their lab code capped to it"),
        values: vec![("lab codes with capped values".to_owned(), n_codes.len())],
        n_rows,
        loss: None,
    }]
}

/// The nearest-rank percentile `p` (0-100) of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}
