//! Privacy models over full-domain generalization with record suppression, and an optimal search over the
//! generalization lattice, reproducing ARX's definitions and results.
//!
//! A *transformation* picks one generalization level per quasi-identifier; all transformations form a
//! lattice ordered componentwise. For a transformation, rows with equal generalized values form an
//! equivalence class. A class that fails any [`PrivacyModel`] (k-anonymity, l-diversity variants,
//! t-closeness; see `models.rs`) is suppressed, which is allowed when at most
//! `floor(suppression_limit × n_rows)` rows are suppressed. [`anonymize_with`] returns the valid
//! transformation with the least loss under the chosen [`Metric`] (see `metrics.rs`), ties broken by the
//! lowest sum of levels, then the lexicographically smallest level vector. [`anonymize`] is the
//! k-anonymity-only shorthand with ARX's default "Loss" metric.
//!
//! The search is exact (every transformation is either evaluated or excluded by a proof):
//!
//! 1. *Classification* by a monotonic predicate with predictive tagging: walk paths upwards from the lowest
//!    unclassified node and binary-search each for the first satisfying node; a check marks all successors
//!    (satisfied) or all predecessors (failed). The predicate is full validity when the models are monotonic
//!    (no suppression allowed, or only k-anonymity and distinct-l-diversity, which stay satisfied when
//!    classes merge), and otherwise its monotonic part: "rows in classes smaller than the minimal class size
//!    fit in the suppression limit" (ARX's partial monotonicity). A node failing it is invalid.
//! 2. *Optimization* over the remaining nodes. Metrics that decompose per quasi-identifier have a lower
//!    bound from the levels alone (the loss if nothing were suppressed): nodes are visited in ascending bound
//!    and evaluated until the bound exceeds the best loss. Discernibility is bounded by DM* (`Σ |class|²`),
//!    which never decreases upwards: nodes are visited bottom-up and skipped when an evaluated predecessor's
//!    DM* already reaches the best loss.
//!
//! Where ARX's own search assumes monotonicity (its "practical monotonicity") it may return a transformation
//! that is not optimal; this search always returns the optimum.
//!
//! [`anonymize_with_strategy`] offers two more searches ([`SearchStrategy`]): ARX's Flash algorithm, to
//! reproduce ARX's answer when ARX is told to assume practical monotonicity, and a budgeted best-first
//! heuristic for lattices too large to search fully. [`Solution::is_optimal`] says whether the answer is
//! proven optimal.

use std::collections::HashMap;
use std::fmt;

use crate::hierarchy::Hierarchy;

mod groupify;
mod lattice;
mod metrics;
mod models;
#[cfg(test)]
mod tests;

use groupify::{ClassList, Groups, Table};
use lattice::Lattice;
use metrics::{LevelStats, Measured};
use models::{Check, HierarchicalEmd};

pub use metrics::Metric;
pub use models::PrivacyModel;

/// The largest lattice the exact and Flash searches accept.
pub const MAX_TRANSFORMATIONS: usize = 1 << 22;

/// How [`anonymize_with_strategy`] searches the generalization lattice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SearchStrategy {
    /// The exact search of the module documentation: always the optimum, ties broken by the lowest sum of
    /// levels, then the lexicographically smallest levels. [`EngineError::LatticeTooLarge`] beyond
    /// [`MAX_TRANSFORMATIONS`] transformations.
    #[default]
    Exact,
    /// ARX's Flash algorithm (Kohlmayer et al. 2012, as ARX 3 configures it): binary search along greedy
    /// paths ordered by ARX's strategy, with predictive tagging, and a depth-first linear phase where the
    /// models or the metric are not monotonic. The answer is the best transformation Flash actually checked.
    ///
    /// `practical_monotonicity: true` is ARX's setting of that name: every model and the metric are
    /// *assumed* monotonic, so a transformation above a valid one is tagged valid (and one below an invalid
    /// one invalid) without being checked. That is a heuristic: the answer is always valid, but may miss
    /// the optimum when the models are not monotonic under suppression (l-diversity other than distinct,
    /// t-closeness) or the metric is not; it is then ARX's answer. With `false`, Flash is exact and returns
    /// what [`SearchStrategy::Exact`] returns. Ties between equal losses are broken as there, not by ARX's
    /// check order. [`EngineError::LatticeTooLarge`] beyond [`MAX_TRANSFORMATIONS`] transformations.
    Flash { practical_monotonicity: bool },
    /// A best-first search in the manner of ARX's Lightning algorithm, for lattices of any size: from the
    /// bottom, expand the checked transformation with the least loss, every so often greedily following
    /// the cheapest successor up to the top, and stop after `max_checks` transformations were checked
    /// against the data. The top transformation is checked first, so whenever it is valid there is an
    /// answer. The answer is always valid; it is optimal only if the search ran out of transformations
    /// before the budget ([`Solution::is_optimal`]).
    Heuristic { max_checks: usize },
    /// [`SearchStrategy::Exact`] when the lattice has at most [`MAX_TRANSFORMATIONS`] transformations, else
    /// [`SearchStrategy::Heuristic`] with `max_checks`.
    ExactOrHeuristic { max_checks: usize },
}

/// Why anonymization could not run or found nothing. Names attributes and row positions, never values.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    #[error("k must be at least 1")]
    InvalidK,
    #[error(
        "l must be at least 1 (and c, t must be positive numbers) in the model for attribute {attribute}"
    )]
    InvalidModelParameter { attribute: String },
    #[error("no privacy model given; add at least k-anonymity")]
    NoPrivacyModel,
    #[error("suppression limit must be a number from 0.0 to 1.0")]
    InvalidSuppressionLimit,
    #[error("no quasi-identifiers given; at least one is needed")]
    NoQuasiIdentifiers,
    #[error("attribute {qi} has {found} rows, expected {expected} like the first quasi-identifier")]
    RowCountMismatch { qi: String, expected: usize, found: usize },
    #[error("row {row} of attribute {qi} has a value that is not in its hierarchy; map or top-code it first")]
    UnknownValue { qi: String, row: usize },
    #[error("a privacy model names sensitive attribute {attribute}, which was not given")]
    UnknownSensitiveAttribute { attribute: String },
    #[error("hierarchical t-closeness needs a hierarchy for sensitive attribute {attribute}")]
    MissingSensitiveHierarchy { attribute: String },
    #[error("expected {expected} levels, one per quasi-identifier, found {found}")]
    LevelCountMismatch { expected: usize, found: usize },
    #[error("level {level} of quasi-identifier {qi} is above its top level {top}")]
    LevelOutOfRange { qi: String, level: usize, top: usize },
    #[error("the lattice has more than {max} transformations; use fewer quasi-identifiers or shallower hierarchies", max = MAX_TRANSFORMATIONS)]
    LatticeTooLarge,
    #[error(
        "no transformation of {n_rows} rows satisfies the privacy models within the suppression limit; relax \
         the models or raise the suppression limit"
    )]
    NoSolution { n_rows: usize },
}

/// One quasi-identifier (準識別子): a column of the table, dictionary-encoded against its hierarchy.
///
/// `Debug` prints the name and shape, never the values.
pub struct QuasiIdentifier {
    name: String,
    // Invariant: `leaves[row]` is a leaf index of `hierarchy`.
    leaves: Vec<u32>,
    hierarchy: Hierarchy,
}

impl QuasiIdentifier {
    /// Encodes `values` (one per row, e.g. a `Vec<String>` or `&[&str]`) with `hierarchy`.
    ///
    /// # Errors
    /// [`EngineError::UnknownValue`] with the first row whose value is not in the hierarchy.
    pub fn new<S: AsRef<str>>(
        name: impl Into<String>,
        values: impl IntoIterator<Item = S>,
        hierarchy: Hierarchy,
    ) -> Result<QuasiIdentifier, EngineError> {
        let name = name.into();
        let leaves = encode(&name, values, &hierarchy)?;
        Ok(QuasiIdentifier { name, leaves, hierarchy })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn hierarchy(&self) -> &Hierarchy {
        &self.hierarchy
    }

    pub fn n_rows(&self) -> usize {
        self.leaves.len()
    }
}

fn encode<S: AsRef<str>>(
    name: &str,
    values: impl IntoIterator<Item = S>,
    hierarchy: &Hierarchy,
) -> Result<Vec<u32>, EngineError> {
    let mut leaves = Vec::new();
    for (row, value) in values.into_iter().enumerate() {
        match hierarchy.leaf(value.as_ref()) {
            Some(leaf) => leaves.push(leaf),
            None => return Err(EngineError::UnknownValue { qi: name.to_owned(), row }),
        }
    }
    Ok(leaves)
}

impl fmt::Debug for QuasiIdentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QuasiIdentifier")
            .field("name", &self.name)
            .field("n_rows", &self.leaves.len())
            .field("hierarchy", &self.hierarchy)
            .finish()
    }
}

/// A sensitive attribute (機微属性): released as is, protected by l-diversity or t-closeness.
///
/// `Debug` prints the name and shape, never the values.
pub struct SensitiveAttribute {
    name: String,
    // Invariant: `codes[row] < n_values`; leaf indices of `hierarchy` when there is one.
    codes: Vec<u32>,
    n_values: usize,
    hierarchy: Option<Hierarchy>,
    // A two-level hierarchy over the codes (each code, then one top), so the attribute can be grouped on as
    // an extra column: level 0 splits classes by sensitive value, level 1 ignores it.
    grouping: Hierarchy,
}

impl SensitiveAttribute {
    /// Encodes `values` (one per row) by their distinct values; enough for l-diversity and equal-distance
    /// t-closeness.
    pub fn new<S: AsRef<str>>(
        name: impl Into<String>,
        values: impl IntoIterator<Item = S>,
    ) -> SensitiveAttribute {
        let mut dictionary: HashMap<String, u32> = HashMap::new();
        let mut codes = Vec::new();
        for value in values {
            let next = dictionary.len() as u32;
            codes.push(*dictionary.entry(value.as_ref().to_owned()).or_insert(next));
        }
        let n_values = dictionary.len();
        SensitiveAttribute { name: name.into(), codes, n_values, hierarchy: None, grouping: flat(n_values) }
    }

    /// Encodes `values` with `hierarchy`, which hierarchical-distance t-closeness uses as ground distance.
    ///
    /// # Errors
    /// [`EngineError::UnknownValue`] with the first row whose value is not in the hierarchy.
    pub fn with_hierarchy<S: AsRef<str>>(
        name: impl Into<String>,
        values: impl IntoIterator<Item = S>,
        hierarchy: Hierarchy,
    ) -> Result<SensitiveAttribute, EngineError> {
        let name = name.into();
        let codes = encode(&name, values, &hierarchy)?;
        let n_values = hierarchy.domain_size();
        Ok(SensitiveAttribute { name, codes, n_values, hierarchy: Some(hierarchy), grouping: flat(n_values) })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn n_rows(&self) -> usize {
        self.codes.len()
    }
}

/// A hierarchy `code → *` over `n_values` codes. Its labels are the code numbers, never data.
fn flat(n_values: usize) -> Hierarchy {
    let rows: Vec<Vec<String>> =
        (0..n_values.max(1)).map(|code| vec![code.to_string(), "*".to_owned()]).collect();
    Hierarchy::from_rows(&rows).expect("numbered rows with one common top always form a hierarchy")
}

impl fmt::Debug for SensitiveAttribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SensitiveAttribute")
            .field("name", &self.name)
            .field("n_rows", &self.codes.len())
            .field("n_values", &self.n_values)
            .field("hierarchy", &self.hierarchy)
            .finish_non_exhaustive()
    }
}

/// The k-anonymity requirement alone: every released row is in a class of at least `k` rows, and at most
/// `floor(suppression_limit × n_rows)` rows are suppressed to get there. Searched with the "Loss" metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KAnonymityConfig {
    pub k: usize,
    /// The largest share of rows that may be suppressed, `0.0..=1.0`.
    pub suppression_limit: f64,
}

/// The full requirement: every model must hold in every released class; at most
/// `floor(suppression_limit × n_rows)` rows are suppressed; `metric` is minimized.
#[derive(Debug, Clone, PartialEq)]
pub struct AnonymizationConfig {
    pub models: Vec<PrivacyModel>,
    /// The largest share of rows that may be suppressed, `0.0..=1.0`.
    pub suppression_limit: f64,
    pub metric: Metric,
}

impl From<&KAnonymityConfig> for AnonymizationConfig {
    fn from(cfg: &KAnonymityConfig) -> AnonymizationConfig {
        AnonymizationConfig {
            models: vec![PrivacyModel::KAnonymity { k: cfg.k }],
            suppression_limit: cfg.suppression_limit,
            metric: Metric::Loss,
        }
    }
}

/// The measurements of one transformation, whether or not it satisfies the requirement.
///
/// Rows in classes that fail a model are counted as suppressed even when there are more of them than the
/// limit allows (then `valid` is false).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct NodeResult {
    /// One generalization level per quasi-identifier.
    pub levels: Vec<usize>,
    /// Whether the transformation satisfies every model within the suppression limit.
    pub valid: bool,
    pub n_suppressed: usize,
    /// The number of released (not suppressed) equivalence classes.
    pub n_classes: usize,
    /// The size of the smallest released class, if any row is released.
    pub smallest_class: Option<usize>,
    /// The configured metric's value (see [`Metric`]); for [`KAnonymityConfig`] ARX's "Loss", 0 = nothing
    /// lost, 1 = everything generalized away.
    pub loss: f64,
    /// The metric's value per quasi-identifier when it decomposes ([`Metric::decomposes`]), else empty.
    pub loss_per_qi: Vec<f64>,
    /// Discernibility (DM): `Σ |class|²` over released classes `+ n_suppressed × n_rows`.
    pub discernibility: f64,
    /// Released rows divided by released classes (0 when nothing is released).
    pub average_class_size: f64,
}

/// One quasi-identifier's released values: the labels of the chosen level and one code per row, so a
/// table of millions of rows costs four bytes a cell rather than a string.
pub struct GeneralizedColumn {
    labels: Vec<String>,
    // `rows[row]` indexes `labels`, or is `SUPPRESSED_CODE`.
    rows: Vec<u32>,
}

impl GeneralizedColumn {
    const SUPPRESSED_CODE: u32 = u32::MAX;

    /// The released value of `row`; [`SUPPRESSED`] when the row is suppressed. Panics if `row` is out of range.
    pub fn get(&self, row: usize) -> &str {
        match self.rows[row] {
            GeneralizedColumn::SUPPRESSED_CODE => SUPPRESSED,
            code => &self.labels[code as usize],
        }
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The released values, row by row.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.rows.len()).map(|row| self.get(row))
    }

    /// The released values as owned strings.
    pub fn to_vec(&self) -> Vec<String> {
        self.iter().map(str::to_owned).collect()
    }
}

/// An anonymization chosen by the search: the transformation, the suppressed rows and the released values.
///
/// Only this module builds a `Solution`, so holding one proves the values went through the search.
/// `Debug` prints the measurements, not the released values.
pub struct Solution {
    qi_names: Vec<String>,
    // Invariant: the transformation satisfies the configuration the search was given.
    result: NodeResult,
    suppressed: Vec<bool>,
    // `generalized[qi].get(row)` is the released value; `*` for suppressed rows.
    generalized: Vec<GeneralizedColumn>,
    // Ascending.
    class_sizes: Vec<usize>,
    n_nodes_checked: usize,
    metric: Metric,
    // Whether the search proved the transformation optimal.
    optimal: bool,
}

impl Solution {
    /// The quasi-identifier names, in input order.
    pub fn qi_names(&self) -> &[String] {
        &self.qi_names
    }

    /// One generalization level per quasi-identifier.
    pub fn levels(&self) -> &[usize] {
        &self.result.levels
    }

    /// Whether each row is suppressed (left out of the release).
    pub fn suppressed(&self) -> &[bool] {
        &self.suppressed
    }

    /// `generalized()[qi].get(row)`: the released value of each quasi-identifier in each row,
    /// [`SUPPRESSED`] (`*`) in suppressed rows.
    pub fn generalized(&self) -> &[GeneralizedColumn] {
        &self.generalized
    }

    /// The sizes of the released equivalence classes, ascending.
    pub fn class_sizes(&self) -> &[usize] {
        &self.class_sizes
    }

    /// The metric the search minimized.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// See [`NodeResult::loss`].
    pub fn loss(&self) -> f64 {
        self.result.loss
    }

    /// See [`NodeResult::loss_per_qi`].
    pub fn loss_per_qi(&self) -> &[f64] {
        &self.result.loss_per_qi
    }

    /// See [`NodeResult::discernibility`].
    pub fn discernibility(&self) -> f64 {
        self.result.discernibility
    }

    pub fn n_suppressed(&self) -> usize {
        self.result.n_suppressed
    }

    /// How many transformations the search grouped (evaluated against the data).
    pub fn n_nodes_checked(&self) -> usize {
        self.n_nodes_checked
    }

    /// All measurements of the chosen transformation.
    pub fn result(&self) -> &NodeResult {
        &self.result
    }

    /// Whether the search proved that no valid transformation has a lower loss: always for
    /// [`SearchStrategy::Exact`] and Flash without practical monotonicity; for Flash with it only when the
    /// models and the metric really are monotonic; for the heuristic only when it searched to the end
    /// within its budget.
    pub fn is_optimal(&self) -> bool {
        self.optimal
    }
}

impl fmt::Debug for Solution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Solution")
            .field("qi_names", &self.qi_names)
            .field("metric", &self.metric)
            .field("result", &self.result)
            .field("n_rows", &self.suppressed.len())
            .field("n_nodes_checked", &self.n_nodes_checked)
            .field("optimal", &self.optimal)
            .finish_non_exhaustive()
    }
}

/// The released value of every quasi-identifier in a suppressed row.
pub const SUPPRESSED: &str = "*";

/// Finds the k-anonymous transformation with the least ARX "Loss" (see the module documentation).
///
/// # Errors
/// As [`anonymize_with`].
pub fn anonymize(qis: &[QuasiIdentifier], cfg: &KAnonymityConfig) -> Result<Solution, EngineError> {
    anonymize_with(qis, &[], &AnonymizationConfig::from(cfg))
}

/// Finds the valid transformation with the least loss under `cfg` (see the module documentation).
/// `sensitive` holds the attributes the models name; they are released unchanged and are not
/// quasi-identifiers.
///
/// # Errors
/// Invalid configuration or inputs ([`EngineError::InvalidK`], [`EngineError::InvalidModelParameter`],
/// [`EngineError::NoPrivacyModel`], [`EngineError::InvalidSuppressionLimit`],
/// [`EngineError::NoQuasiIdentifiers`], [`EngineError::RowCountMismatch`],
/// [`EngineError::UnknownSensitiveAttribute`], [`EngineError::MissingSensitiveHierarchy`],
/// [`EngineError::LatticeTooLarge`]), or [`EngineError::NoSolution`] when no transformation is valid.
pub fn anonymize_with(
    qis: &[QuasiIdentifier],
    sensitive: &[SensitiveAttribute],
    cfg: &AnonymizationConfig,
) -> Result<Solution, EngineError> {
    anonymize_with_strategy(qis, sensitive, cfg, SearchStrategy::Exact)
}

/// As [`anonymize_with`], searching with `strategy` (see [`SearchStrategy`]).
///
/// # Errors
/// As [`anonymize_with`]; [`EngineError::LatticeTooLarge`] only for [`SearchStrategy::Exact`] and
/// [`SearchStrategy::Flash`]. The heuristic strategies return [`EngineError::NoSolution`] when they found no
/// valid transformation within their budget, which happens only when the top transformation is invalid.
pub fn anonymize_with_strategy(
    qis: &[QuasiIdentifier],
    sensitive: &[SensitiveAttribute],
    cfg: &AnonymizationConfig,
    strategy: SearchStrategy,
) -> Result<Solution, EngineError> {
    let problem = Problem::new(qis, sensitive, cfg)?;
    let lattice = Lattice::new(problem.top_levels(), MAX_TRANSFORMATIONS);
    let no_solution = EngineError::NoSolution { n_rows: problem.table.n_rows };
    let (best, n_checked, optimal) = match (strategy, lattice) {
        (SearchStrategy::Heuristic { max_checks }, _)
        | (SearchStrategy::ExactOrHeuristic { max_checks }, None) => {
            if problem.unsatisfiable {
                return Err(no_solution);
            }
            let outcome = search::heuristic(&problem, max_checks);
            (outcome.best.ok_or(no_solution)?, outcome.n_checked, outcome.exhausted)
        }
        (SearchStrategy::Exact | SearchStrategy::Flash { .. }, None) => {
            return Err(EngineError::LatticeTooLarge);
        }
        (SearchStrategy::Exact | SearchStrategy::ExactOrHeuristic { .. }, Some(lattice)) => {
            if problem.unsatisfiable {
                return Err(no_solution);
            }
            let mut search = Search::new(&problem, &lattice, problem.monotonic);
            let top = lattice.n_nodes() - 1;
            if !search.passes_predicate(top) {
                return Err(no_solution);
            }
            search.classify();
            let best = search.optimize().ok_or(no_solution)?;
            (lattice.levels(best), search.n_checked, true)
        }
        (SearchStrategy::Flash { practical_monotonicity }, Some(lattice)) => {
            if problem.unsatisfiable {
                return Err(no_solution);
            }
            let outcome = search::flash(&problem, &lattice, practical_monotonicity);
            (lattice.levels(outcome.best.ok_or(no_solution)?), outcome.n_checked, outcome.optimal)
        }
    };
    Ok(problem.solution(qis, &best, n_checked, optimal))
}

/// Measures one transformation (`levels`: one level per quasi-identifier) under the k-anonymity config.
///
/// # Errors
/// As [`evaluate_with`].
pub fn evaluate(
    qis: &[QuasiIdentifier],
    levels: &[usize],
    cfg: &KAnonymityConfig,
) -> Result<NodeResult, EngineError> {
    evaluate_with(qis, &[], levels, &AnonymizationConfig::from(cfg))
}

/// Measures one transformation (`levels`: one level per quasi-identifier) under `cfg`.
///
/// # Errors
/// As [`anonymize_with`] for invalid inputs (never [`EngineError::NoSolution`], nor
/// [`EngineError::LatticeTooLarge`]: one transformation can be measured in a lattice of any size), plus
/// [`EngineError::LevelCountMismatch`] and [`EngineError::LevelOutOfRange`].
pub fn evaluate_with(
    qis: &[QuasiIdentifier],
    sensitive: &[SensitiveAttribute],
    levels: &[usize],
    cfg: &AnonymizationConfig,
) -> Result<NodeResult, EngineError> {
    let problem = Problem::new(qis, sensitive, cfg)?;
    if levels.len() != qis.len() {
        return Err(EngineError::LevelCountMismatch { expected: qis.len(), found: levels.len() });
    }
    for (qi, &level) in qis.iter().zip(levels) {
        if level > qi.hierarchy.top_level() {
            return Err(EngineError::LevelOutOfRange {
                qi: qi.name.clone(),
                level,
                top: qi.hierarchy.top_level(),
            });
        }
    }
    Ok(problem.evaluate_rows(levels).0)
}

mod search;
use search::{Problem, Search};
