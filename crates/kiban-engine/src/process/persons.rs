//! The person-level quasi-identifiers and the k-anonymity search over them (Rule 18 ⑤).
//!
//! Each released person column (other than the pseudonym and the provision ID) is a quasi-identifier. Its
//! base value is what the policy's action gives; above it, a ladder of coarser values built from the
//! value itself (5-year band → 10-year band → …, prefecture → region, postal digits → fewer digits), with
//! `*` on top. The engine's search then picks the levels with the least loss that reach k-anonymity within
//! the suppression limit.

use std::collections::BTreeSet;

use crate::hierarchy::Hierarchy;
use crate::kanon::{
    self, AnonymizationConfig, Metric, PrivacyModel, QuasiIdentifier, SensitiveAttribute, Solution,
};
use crate::policy::{Action, Generalization, Privacy, SensitiveModel};
use crate::risk::{self, RiskProfile};

use super::ProcessError;
use super::cells::age_label;

/// The person-level sensitive attribute the l-diversity and t-closeness models protect.
const MAIN_CHAPTER: &str = "main_diagnosis_chapter";

/// The value a null cell takes inside the search; released as null again.
pub(super) const NULL: &str = "\u{0}null";
const TOP: &str = "*";

/// How a quasi-identifier's values get coarser, level by level.
#[derive(Clone, Debug)]
pub(super) enum Ladder {
    /// Released as is, or not at all.
    Flat,
    /// Age bands of widening widths.
    Ages { widths: Vec<u32>, top: u32 },
    /// `YYYY` → decade; top-coded labels stay as they are.
    Years,
    /// `YYYY-MM` → `YYYY`.
    Months,
    /// Prefecture → region.
    Prefecture,
    /// Postal digits → one digit fewer per level.
    Digits(usize),
}

impl Ladder {
    /// The ladder for a person column released with `action`.
    pub(super) fn of(action: &Action, age_top_code: u32) -> Ladder {
        match action {
            Action::Generalize(Generalization::AgeBand { width }) => {
                let mut widths = vec![*width];
                for wider in [5, 10, 20, 40] {
                    let last = widths[widths.len() - 1];
                    if wider > last && wider % last == 0 {
                        widths.push(wider);
                    }
                }
                Ladder::Ages { widths, top: age_top_code }
            }
            Action::Generalize(Generalization::Year) => Ladder::Years,
            Action::Generalize(Generalization::Month) => Ladder::Months,
            Action::Generalize(Generalization::Prefecture) => Ladder::Prefecture,
            Action::Generalize(Generalization::PostalDigits(digits)) => Ladder::Digits(*digits),
            _ => Ladder::Flat,
        }
    }

    /// The coarser values of `value`, one per level above the base, `*` excluded.
    fn parents(&self, value: &str) -> Vec<String> {
        if value == NULL {
            return match self {
                Ladder::Flat => Vec::new(),
                Ladder::Ages { widths, .. } => vec![NULL.to_owned(); widths.len() - 1],
                Ladder::Years | Ladder::Months | Ladder::Prefecture => vec![NULL.to_owned()],
                Ladder::Digits(digits) => vec![NULL.to_owned(); digits.saturating_sub(1)],
            };
        }
        match self {
            Ladder::Flat => Vec::new(),
            Ladder::Ages { widths, top } => {
                // The band's lower bound decides every coarser band.
                let low: u32 = value.split(['-', '+']).next().and_then(|low| low.parse().ok()).unwrap_or(0);
                widths[1..].iter().map(|width| age_label(low, *width, *top)).collect()
            }
            Ladder::Years => vec![match value.parse::<u32>() {
                Ok(year) => format!("{}s", year / 10 * 10),
                Err(_) => value.to_owned(),
            }],
            Ladder::Months => vec![value.split('-').next().unwrap_or(value).to_owned()],
            Ladder::Prefecture => vec![
                kiban_model::PREFECTURES
                    .iter()
                    .find(|prefecture| prefecture.name == value)
                    .map_or(value, |prefecture| prefecture.region)
                    .to_owned(),
            ],
            Ladder::Digits(digits) => {
                (1..*digits).rev().map(|len| value.chars().take(len).collect()).collect()
            }
        }
    }

    /// What each level means, for the report.
    pub(super) fn level_names(&self) -> Vec<String> {
        let mut names: Vec<String> = match self {
            Ladder::Flat => vec!["kept".to_owned()],
            Ladder::Ages { widths, top } => {
                widths
                    .iter()
                    .map(|width| {
                        if *width == 1 {
                            format!("age, {top}+")
                        } else {
                            format!("{width}-year band, {top}+")
                        }
                    })
                    .collect()
            }
            Ladder::Years => vec!["year".to_owned(), "decade".to_owned()],
            Ladder::Months => vec!["month".to_owned(), "year".to_owned()],
            Ladder::Prefecture => vec!["prefecture".to_owned(), "region".to_owned()],
            Ladder::Digits(digits) => (1..=*digits).rev().map(|len| format!("first {len} digits")).collect(),
        };
        names.push("suppressed (*)".to_owned());
        names
    }
}

/// One person-level quasi-identifier: its released name, base values (one per person) and ladder.
pub(super) struct PersonQi {
    pub(super) name: String,
    pub(super) values: Vec<String>,
    pub(super) ladder: Ladder,
}

/// The outcome of the search, in the terms the rest of processing needs.
pub(super) struct KAnonymity {
    pub(super) solution: Solution,
    pub(super) qis: Vec<QuasiIdentifier>,
    pub(super) risk_before: RiskProfile,
    pub(super) risk_after: RiskProfile,
}

/// Runs the k-anonymity search over the person-level quasi-identifiers.
///
/// # Errors
/// [`ProcessError::Anonymization`] when no transformation reaches k within the suppression limit.
pub(super) fn k_anonymize(
    columns: &[PersonQi],
    n_persons: usize,
    privacy: &Privacy,
    main_chapters: &[String],
) -> Result<KAnonymity, ProcessError> {
    let (k, suppression_limit) = (privacy.k, privacy.suppression_limit);
    let mut qis = Vec::with_capacity(columns.len().max(1));
    for column in columns {
        qis.push(QuasiIdentifier::new(&column.name, &column.values, hierarchy(column)?)?);
    }
    if qis.is_empty() {
        // No person-level attribute is released: every person is in one class; k-anonymity then only asks
        // that there are at least k persons, which the search checks on a constant column.
        let constant = vec![String::new(); n_persons];
        qis.push(QuasiIdentifier::new("(none)", &constant, Hierarchy::from_rows(&[vec![String::new()]])?)?);
    }
    let threshold = 1.0 / k as f64;
    let before: Vec<Vec<&str>> = (0..n_persons)
        .map(|row| columns.iter().map(|column| column.values[row].as_str()).collect())
        .collect();
    let risk_before = RiskProfile::of_sample(&risk::class_sizes(before), threshold);
    let mut models = vec![PrivacyModel::KAnonymity { k }];
    let attribute = || MAIN_CHAPTER.to_owned();
    models.extend(privacy.sensitive.iter().map(|model| match *model {
        SensitiveModel::DistinctL(l) => PrivacyModel::DistinctLDiversity { attribute: attribute(), l },
        SensitiveModel::EntropyL(l) => PrivacyModel::EntropyLDiversity { attribute: attribute(), l },
        SensitiveModel::RecursiveCL { c, l } => {
            PrivacyModel::RecursiveCLDiversity { attribute: attribute(), c, l }
        }
        SensitiveModel::TCloseness(t) => PrivacyModel::EqualDistanceTCloseness { attribute: attribute(), t },
    }));
    let sensitive = if privacy.sensitive.is_empty() {
        Vec::new()
    } else {
        vec![SensitiveAttribute::new(MAIN_CHAPTER, main_chapters)]
    };
    let config = AnonymizationConfig { models, suppression_limit, metric: Metric::Loss };
    let solution = kanon::anonymize_with(&qis, &sensitive, &config)?;
    let risk_after = RiskProfile::of_sample(solution.class_sizes(), threshold);
    Ok(KAnonymity { solution, qis, risk_before, risk_after })
}

fn hierarchy(column: &PersonQi) -> Result<Hierarchy, ProcessError> {
    let distinct: BTreeSet<&str> = column.values.iter().map(String::as_str).collect();
    let rows: Vec<Vec<String>> = distinct
        .into_iter()
        .map(|value| {
            let mut row = vec![value.to_owned()];
            row.extend(column.ladder.parents(value));
            row.push(TOP.to_owned());
            row
        })
        .collect();
    Ok(Hierarchy::from_rows(&rows)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_ladders_widen_and_keep_the_top_band() {
        let ladder = Ladder::of(&Action::Generalize(Generalization::AgeBand { width: 5 }), 90);
        assert_eq!(ladder.parents("35-39"), ["30-39", "20-39", "0-39"]);
        assert_eq!(ladder.parents("85-89"), ["80-89", "80+", "80+"]);
        assert_eq!(ladder.parents("90+"), ["90+", "80+", "80+"]);
        let ladder = Ladder::of(&Action::Generalize(Generalization::AgeBand { width: 1 }), 90);
        assert_eq!(ladder.parents("37"), ["35-39", "30-39", "20-39", "0-39"]);
    }

    #[test]
    fn other_ladders() {
        assert_eq!(Ladder::Prefecture.parents("大阪府"), ["近畿"]);
        assert_eq!(Ladder::Digits(3).parents("113"), ["11", "1"]);
        assert_eq!(Ladder::Months.parents("1960-04"), ["1960"]);
        assert_eq!(Ladder::Years.parents("1963"), ["1960s"]);
        assert_eq!(Ladder::Digits(3).parents(NULL), [NULL, NULL]);
    }

    #[test]
    fn every_ladder_builds_a_functional_hierarchy() {
        let ages: Vec<String> = (0..=100).map(|age| age_label(age, 5, 90)).collect();
        let column = PersonQi {
            name: "age".to_owned(),
            values: ages,
            ladder: Ladder::of(&Action::Generalize(Generalization::AgeBand { width: 5 }), 90),
        };
        let hierarchy = hierarchy(&column).expect("functional");
        assert_eq!(hierarchy.levels(), 5);
    }
}
