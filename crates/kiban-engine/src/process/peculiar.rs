//! Peculiar values (特異な記述, Rule 18 ④), found automatically in the anonymized modes over every event
//! of the released persons:
//!
//! - diagnosis, drug, lab and procedure codes, and MEDIS codes, held by fewer than
//!   `peculiar.rare_code_persons` persons go up their hierarchy (ICD-10 category → block → chapter, YJ, HOT,
//!   JLAC10 analyte; MEDIS and procedure codes have none) or are suppressed at the top;
//! - a code's name or finer code (MEDIS code, drug name, lab name, procedure name) is released only on
//!   rows whose code is released unchanged, since the name would tell the code;
//! - numeric lab values outside the policy's percentiles, per lab code, are capped to them.
//!
//! The attacker models of Rule 18 ⑤ (codes, events, counts) are in [`super::models`]. Each pass reads the
//! events as the treatments so far leave them and adds to them; decisions are counted for the report, no
//! value is named.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::dataset::PeculiarDecision;
use crate::kmanon;
use crate::policy::ReleasePolicy;

use super::Prepared;
use super::cells::{Cell, Event};
use super::treatments::{CODE_COLUMNS, Family, Step, Treatments};

/// Rare codes (Rule 18 ④): in every code column, a code held by fewer than `rare_code_persons` released
/// persons goes up its family's hierarchy or is suppressed, one global recoding per family.
pub(super) fn rare_codes(
    prepared: &Prepared<'_>,
    treatments: &mut Treatments,
    policy: &ReleasePolicy,
) -> Vec<PeculiarDecision> {
    let k = policy.peculiar.rare_code_persons;
    let mut decisions = Vec::new();
    for (table, column, _) in CODE_COLUMNS {
        let Some(idx) = prepared.sources(table).iter().position(|source| *source == column) else { continue };
        let (sets, rows) = code_sets(prepared, treatments, table, idx, column, |_, code| code.to_owned());
        let mut steps = Vec::new();
        for (family, persons) in sets {
            let sets: Vec<Vec<String>> = persons.into_values().map(|set| set.into_iter().collect()).collect();
            let solution = kmanon::anonymize(&sets, k, 1, family.hierarchy());
            let n_rows = changed_rows(&rows[&family], &solution);
            if n_rows > 0 {
                decisions.push(PeculiarDecision {
                    column: format!("{table}.{column}"),
                    rule: format!(
                        "{} codes held by fewer than {k} persons generalized up their hierarchy, or suppressed (Rule 18 ④)",
                        family.name()
                    ),
                    values: solution.outcome_counts(family.hierarchy()),
                    n_rows,
                    loss: Some(solution.loss()),
                });
                steps.push(Step { family, level: 0, class_of: None, solutions: [(0, solution)].into() });
            }
        }
        if let Some(treatment) = treatments.code_treatment_mut(table, column) {
            treatment.steps.extend(steps);
        }
    }
    decisions
}

/// Each released person's codes of `column` (cell `idx` of `table`) per family, as `key` maps them
/// (person position → set), and how many rows hold each mapped code, as the treatments leave them.
pub(super) type CodeSets = BTreeMap<Family, BTreeMap<usize, BTreeSet<String>>>;

pub(super) fn code_sets(
    prepared: &Prepared<'_>,
    treatments: &Treatments,
    table: &str,
    idx: usize,
    column: &str,
    key: impl Fn(Family, &str) -> String,
) -> (CodeSets, BTreeMap<Family, HashMap<String, usize>>) {
    let mut sets: CodeSets = BTreeMap::new();
    let mut rows: BTreeMap<Family, HashMap<String, usize>> = BTreeMap::new();
    treatments.visit(prepared, table, 0..prepared.n_persons(), |position, _, cells, event| {
        if let Cell::Text(Some(code)) = &cells[idx] {
            let family = Family::of(column, event);
            let code = key(family, code);
            *rows.entry(family).or_default().entry(code.clone()).or_default() += 1;
            sets.entry(family).or_default().entry(position).or_default().insert(code);
        }
    });
    (sets, rows)
}

/// Rows whose code a solution changes, from the rows per code.
pub(super) fn changed_rows(rows: &HashMap<String, usize>, solution: &kmanon::KmSolution) -> usize {
    rows.iter()
        .filter(|(code, _)| solution.released(code) != Some(code.as_str()))
        .map(|(_, count)| count)
        .sum()
}

/// How many rows lost a name column because their code changed, per code column.
pub(super) fn withheld_names(prepared: &Prepared<'_>, treatments: &Treatments) -> Vec<PeculiarDecision> {
    let mut decisions = Vec::new();
    for (table, column, names) in CODE_COLUMNS {
        let sources = prepared.sources(table);
        if !sources.contains(&column) {
            continue;
        }
        let name_idx: Vec<(&str, usize)> = names
            .iter()
            .filter_map(|name| sources.iter().position(|source| source == name).map(|idx| (*name, idx)))
            .collect();
        if name_idx.is_empty() {
            continue;
        }
        let mut withheld = vec![0usize; name_idx.len()];
        let dropped = &treatments.dropped[super::treatments::table_index(table)];
        // The cells before the treatments say which rows had a name; after them, which still have it.
        prepared.visit_events(table, 0..prepared.n_persons(), |position, number, mut cells, event| {
            if dropped.contains(number) {
                return;
            }
            let before: Vec<bool> = name_idx.iter().map(|(_, idx)| cells[*idx] != Cell::Text(None)).collect();
            treatments.apply(table, &sources, &mut cells, event, (position, number));
            for (count, ((_, idx), had)) in withheld.iter_mut().zip(name_idx.iter().zip(before)) {
                if had && cells[*idx] == Cell::Text(None) {
                    *count += 1;
                }
            }
        });
        decisions.extend(name_idx.iter().zip(withheld).filter(|(_, n_rows)| *n_rows > 0).map(
            |((name, _), n_rows)| PeculiarDecision {
                column: format!("{table}.{name}"),
                rule: format!(
                    "withheld where {table}.{column} was generalized or suppressed (the name tells the code)"
                ),
                values: Vec::new(),
                n_rows,
                loss: None,
            },
        ));
    }
    decisions
}

/// Caps numeric lab values to the policy's percentiles of their lab code (Rule 18 ④).
pub(super) fn cap_labs(
    prepared: &Prepared<'_>,
    treatments: &mut Treatments,
    policy: &ReleasePolicy,
) -> Option<PeculiarDecision> {
    policy.action("labs", "value_numeric")?;
    let (caps, decision) = lab_caps(prepared, treatments, policy.peculiar.lab_percentiles);
    treatments.caps = caps;
    decision
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
    treatments.visit(prepared, "labs", 0..prepared.n_persons(), |_, _, cells, event| {
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
