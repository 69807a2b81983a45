//! Peculiar values (特異な記述, Rule 18 ④) and code-set combinations (Rule 18 ⑤), found automatically in
//! the anonymized modes over every event of the released persons:
//!
//! - `diagnoses.icd10`: codes held by fewer than `peculiar.rare_code_persons` persons go up the ICD-10
//!   hierarchy (category → block → chapter) or are suppressed at the top; then each person's set of codes
//!   is made k^m-anonymous (`privacy.km`);
//! - drug, lab and procedure codes, and MEDIS codes: rare codes go up their hierarchy (YJ, HOT, JLAC10
//!   analyte; MEDIS and procedure codes have none) or are suppressed;
//! - a code's name or finer code (MEDIS code, drug name, lab name, procedure name) is released only on
//!   rows whose code is released unchanged, since the name would tell the code;
//! - numeric lab values outside the policy's percentiles, per lab code, are capped to them.
//!
//! [`prepare`] decides once, over all released persons (several passes over their events); [`Treatments::apply`]
//! then treats one row at a time while the tables are built. Decisions are counted for the report; no value
//! is named.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::codes::{CodeHierarchy, Icd10Hierarchy, PrefixHierarchy, YjHierarchy};
use crate::dataset::PeculiarDecision;
use crate::kmanon::{self, KmSolution};
use crate::policy::ReleasePolicy;

use super::Prepared;
use super::cells::{Cell, Event};

/// The code columns treated, in the order they are treated, with the columns that name the code.
const CODE_COLUMNS: [(&str, &str, &[&str]); 5] = [
    ("diagnoses", "icd10", &["medis_code"]),
    ("diagnoses", "medis_code", &[]),
    ("prescriptions", "drug_code", &["drug_name"]),
    ("labs", "code", &["name"]),
    ("procedures", "code", &["name"]),
];

/// What [`prepare`] decided, applied row by row.
#[derive(Default)]
pub(super) struct Treatments {
    codes: Vec<CodeTreatment>,
    /// Per source lab code, the bounds numeric values are capped to.
    caps: HashMap<String, (f64, f64)>,
}

struct CodeTreatment {
    table: &'static str,
    column: &'static str,
    /// Per code family, the recodings to apply one after the other.
    recodings: BTreeMap<Family, Vec<KmSolution>>,
    /// Columns withheld on rows whose code is not released as its source value.
    names: &'static [&'static str],
}

impl Treatments {
    /// Treats one row of `table`: `sources` names each cell's catalog column.
    pub(super) fn apply(&self, table: &str, sources: &[&str], cells: &mut [Cell], event: Event<'_>) {
        for treatment in self.codes.iter().filter(|treatment| treatment.table == table) {
            let Some(idx) = sources.iter().position(|source| *source == treatment.column) else { continue };
            if let (Cell::Text(Some(code)), Some(solutions)) =
                (&cells[idx], treatment.recodings.get(&family(treatment.column, event)))
            {
                let mut released = Some(code.clone());
                for solution in solutions {
                    released = released.and_then(|code| solution.recode(&code));
                }
                cells[idx] = Cell::Text(released);
            }
            // A row without a code keeps its names: there is nothing they could tell.
            let unchanged = match &cells[idx] {
                Cell::Text(code) => code.as_deref() == source_code(treatment.column, event),
                _ => false,
            };
            if !unchanged {
                for name in treatment.names {
                    if let Some(idx) = sources.iter().position(|source| source == name) {
                        cells[idx] = Cell::Text(None);
                    }
                }
            }
        }
        if let (Event::Lab(lab), Some(idx)) =
            (event, sources.iter().position(|source| *source == "value_numeric"))
            && let Cell::Number(Some(value)) = &mut cells[idx]
            && let Some((min, max)) = self.caps.get(lab.code)
        {
            *value = value.clamp(*min, *max);
        }
    }
}

/// Decides the treatments over every event of the released persons.
pub(super) fn prepare(
    prepared: &Prepared<'_>,
    policy: &ReleasePolicy,
) -> (Treatments, Vec<PeculiarDecision>) {
    let rare = policy.peculiar.rare_code_persons;
    let mut treatments = Treatments::default();
    let mut decisions = Vec::new();
    let all = 0..prepared.n_persons();
    for (table, column, names) in CODE_COLUMNS {
        let sources = prepared.sources(table);
        let Some(idx) = sources.iter().position(|source| *source == column) else { continue };
        let mut passes = vec![(rare, 1)];
        if column == "icd10"
            && let Some(km) = policy.privacy.km
        {
            passes.push((km.k, km.m));
        }
        treatments.codes.push(CodeTreatment { table, column, recodings: BTreeMap::new(), names });
        for (k, m) in passes {
            // Each person's set of codes per family, and the rows per code, as the treatments so far leave them.
            let mut sets: BTreeMap<Family, BTreeMap<usize, BTreeSet<String>>> = BTreeMap::new();
            let mut rows: BTreeMap<Family, HashMap<String, usize>> = BTreeMap::new();
            prepared.visit_events(table, all.clone(), |position, mut cells, event| {
                treatments.apply(table, &sources, &mut cells, event);
                if let Cell::Text(Some(code)) = &cells[idx] {
                    let family = family(column, event);
                    *rows.entry(family).or_default().entry(code.clone()).or_default() += 1;
                    sets.entry(family).or_default().entry(position).or_default().insert(code.clone());
                }
            });
            let treatment = treatments.codes.last_mut().expect("pushed above");
            for (family, persons) in sets {
                let sets: Vec<Vec<String>> =
                    persons.into_values().map(|set| set.into_iter().collect()).collect();
                let hierarchy = family.hierarchy();
                let solution = kmanon::anonymize(&sets, k, m, hierarchy.as_ref());
                let n_rows: usize = rows[&family]
                    .iter()
                    .filter(|(code, _)| solution.released(code) != Some(code.as_str()))
                    .map(|(_, count)| count)
                    .sum();
                if n_rows > 0 {
                    let rule = if m == 1 {
                        format!(
                            "{} codes held by fewer than {k} persons generalized up their hierarchy, or suppressed (Rule 18 ④)",
                            family.name()
                        )
                    } else {
                        format!(
                            "{k}^{m}-anonymity of each person's set of {} codes (Rule 18 ⑤)",
                            family.name()
                        )
                    };
                    decisions.push(PeculiarDecision {
                        column: format!("{table}.{column}"),
                        rule,
                        values: solution.outcome_counts(hierarchy.as_ref()),
                        n_rows,
                        loss: Some(solution.loss()),
                    });
                    treatment.recodings.entry(family).or_default().push(solution);
                }
            }
        }
        decisions.extend(count_withheld(prepared, &treatments, table, column, names));
    }
    if policy.action("labs", "value_numeric").is_some() {
        let (caps, decision) = lab_caps(prepared, &treatments, policy.peculiar.lab_percentiles);
        treatments.caps = caps;
        decisions.extend(decision);
    }
    (treatments, decisions)
}

/// How many rows lost a name column because their code changed.
fn count_withheld(
    prepared: &Prepared<'_>,
    treatments: &Treatments,
    table: &str,
    column: &str,
    names: &[&str],
) -> Vec<PeculiarDecision> {
    let sources = prepared.sources(table);
    let name_idx: Vec<(&str, usize)> = names
        .iter()
        .filter_map(|name| sources.iter().position(|source| source == name).map(|idx| (*name, idx)))
        .collect();
    if name_idx.is_empty() {
        return Vec::new();
    }
    let mut withheld = vec![0usize; name_idx.len()];
    prepared.visit_events(table, 0..prepared.n_persons(), |_, mut cells, event| {
        let before: Vec<bool> = name_idx.iter().map(|(_, idx)| cells[*idx] != Cell::Text(None)).collect();
        treatments.apply(table, &sources, &mut cells, event);
        for (count, ((_, idx), had)) in withheld.iter_mut().zip(name_idx.iter().zip(before)) {
            if had && cells[*idx] == Cell::Text(None) {
                *count += 1;
            }
        }
    });
    name_idx
        .iter()
        .zip(withheld)
        .filter(|(_, n_rows)| *n_rows > 0)
        .map(|((name, _), n_rows)| PeculiarDecision {
            column: format!("{table}.{name}"),
            rule: format!(
                "withheld where {table}.{column} was generalized or suppressed (the name tells the code)"
            ),
            values: Vec::new(),
            n_rows,
            loss: None,
        })
        .collect()
}

/// Per source lab code, the `(low, high)` percentiles of its numeric values, and the decision to cap.
fn lab_caps(
    prepared: &Prepared<'_>,
    treatments: &Treatments,
    (low, high): (f64, f64),
) -> (HashMap<String, (f64, f64)>, Option<PeculiarDecision>) {
    let sources = prepared.sources("labs");
    let Some(idx) = sources.iter().position(|source| *source == "value_numeric") else {
        return (HashMap::new(), None);
    };
    let mut values: HashMap<String, Vec<f64>> = HashMap::new();
    prepared.visit_events("labs", 0..prepared.n_persons(), |_, mut cells, event| {
        treatments.apply("labs", &sources, &mut cells, event);
        if let (Event::Lab(lab), Cell::Number(Some(value))) = (event, &cells[idx]) {
            values.entry(lab.code.to_owned()).or_default().push(*value);
        }
    });
    let mut caps = HashMap::with_capacity(values.len());
    let mut n_rows = 0;
    let mut n_codes = 0;
    for (code, mut values) in values {
        values.sort_by(f64::total_cmp);
        let bounds = (percentile(&values, low), percentile(&values, high));
        let outside = values.iter().filter(|value| **value < bounds.0 || **value > bounds.1).count();
        if outside > 0 {
            n_rows += outside;
            n_codes += 1;
        }
        caps.insert(code, bounds);
    }
    let decision = (n_rows > 0).then(|| PeculiarDecision {
        column: "labs.value_numeric".to_owned(),
        rule: format!(
            "values outside the {low}th-{high}th percentile of their lab code capped to it (Rule 18 ④)"
        ),
        values: vec![("lab codes with capped values".to_owned(), n_codes)],
        n_rows,
        loss: None,
    });
    (caps, decision)
}

/// The nearest-rank percentile `p` (0-100) of sorted, non-empty values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
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

fn family(column: &str, event: Event<'_>) -> Family {
    match (column, event) {
        ("icd10", _) => Family::Icd10,
        (_, Event::Prescription(p)) => match p.code_system {
            kiban_model::DrugCodeSystem::Yj => Family::Yj,
            kiban_model::DrugCodeSystem::Hot => Family::Hot,
            kiban_model::DrugCodeSystem::Other => Family::Flat,
        },
        (_, Event::Lab(_)) => Family::Jlac10,
        _ => Family::Flat,
    }
}

/// The event's own value of a code column, before any action.
fn source_code<'e>(column: &str, event: Event<'e>) -> Option<&'e str> {
    match (column, event) {
        ("icd10", Event::Diagnosis(d)) => d.icd10,
        ("medis_code", Event::Diagnosis(d)) => d.medis_code,
        ("drug_code", Event::Prescription(p)) => Some(p.drug_code),
        ("code", Event::Lab(l)) => Some(l.code),
        ("code", Event::Procedure(p)) => Some(p.code),
        _ => None,
    }
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
