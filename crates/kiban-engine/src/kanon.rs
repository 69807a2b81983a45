//! k-anonymity (k-匿名性) by full-domain generalization and record suppression, with an optimal search
//! over the generalization lattice.
//!
//! A *transformation* picks one generalization level per quasi-identifier; all transformations form a
//! lattice ordered componentwise. For a transformation, rows with equal generalized values form an
//! equivalence class; rows in classes smaller than `k` are suppressed, which is allowed when their number is
//! at most `floor(suppression_limit × n_rows)`. [`anonymize`] returns the allowed transformation with the
//! least information loss, ties broken by the lowest sum of levels, then the lexicographically smallest
//! level vector.
//!
//! The search relies on monotonicity of k-anonymity with suppression: generalizing merges classes, so a row
//! in a class of at least `k` stays in one and the number of suppressed rows never grows. If a
//! transformation satisfies, every more general one does; if it fails, every less general one fails.
//!
//! 1. *Classification*: starting from the lowest unclassified node, walk a path upwards and binary-search
//!    it for the first satisfying node; every check marks all successors (satisfied) or predecessors
//!    (failed), so most nodes are classified without being evaluated.
//! 2. *Optimization*: the loss of a satisfying node is at least its generalization-only loss (the loss as
//!    if no row were suppressed), which needs no grouping. Satisfying nodes are visited in ascending order
//!    of that bound and evaluated exactly until the bound exceeds the best loss found. Without suppression
//!    the bound *is* the loss and nothing needs evaluating.
//!
//! Information loss is ARX's default "Loss" metric (MetricMDNMLoss with generalization/suppression factor
//! 0.5, geometric-mean aggregate), see [`NodeResult::loss`].

use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

use crate::hierarchy::Hierarchy;

mod groupify;
mod lattice;
#[cfg(test)]
mod tests;

use groupify::{ClassList, Groups, Table};
use lattice::Lattice;

/// The largest lattice the search accepts.
pub const MAX_TRANSFORMATIONS: usize = 1 << 22;

/// Why anonymization could not run or found nothing. Names quasi-identifiers and row positions, never values.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    #[error("k must be at least 1")]
    InvalidK,
    #[error("suppression limit must be a number from 0.0 to 1.0")]
    InvalidSuppressionLimit,
    #[error("no quasi-identifiers given; at least one is needed")]
    NoQuasiIdentifiers,
    #[error("quasi-identifier {qi} has {found} rows, expected {expected} like the first one")]
    RowCountMismatch { qi: String, expected: usize, found: usize },
    #[error(
        "row {row} of quasi-identifier {qi} has a value that is not in its hierarchy; map or top-code it first"
    )]
    UnknownValue { qi: String, row: usize },
    #[error("expected {expected} levels, one per quasi-identifier, found {found}")]
    LevelCountMismatch { expected: usize, found: usize },
    #[error("level {level} of quasi-identifier {qi} is above its top level {top}")]
    LevelOutOfRange { qi: String, level: usize, top: usize },
    #[error("the lattice has more than {max} transformations; use fewer quasi-identifiers or shallower hierarchies", max = MAX_TRANSFORMATIONS)]
    LatticeTooLarge,
    #[error(
        "no transformation is {k}-anonymous within the suppression limit, not even full generalization of \
         {n_rows} rows; lower k or raise the suppression limit"
    )]
    NoSolution { k: usize, n_rows: usize },
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
        let mut leaves = Vec::new();
        for (row, value) in values.into_iter().enumerate() {
            match hierarchy.leaf(value.as_ref()) {
                Some(leaf) => leaves.push(leaf),
                None => return Err(EngineError::UnknownValue { qi: name, row }),
            }
        }
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

impl fmt::Debug for QuasiIdentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QuasiIdentifier")
            .field("name", &self.name)
            .field("n_rows", &self.leaves.len())
            .field("hierarchy", &self.hierarchy)
            .finish()
    }
}

/// The privacy requirement: every released row is in a class of at least `k` rows, and at most
/// `floor(suppression_limit × n_rows)` rows are suppressed to get there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KAnonymityConfig {
    pub k: usize,
    /// The largest share of rows that may be suppressed, `0.0..=1.0`.
    pub suppression_limit: f64,
}

/// The measurements of one transformation, whether or not it satisfies the requirement.
///
/// Rows in classes smaller than `k` are counted as suppressed even when there are more of them than the
/// limit allows (then `k_anonymous` is false).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct NodeResult {
    /// One generalization level per quasi-identifier.
    pub levels: Vec<usize>,
    /// Whether the transformation is k-anonymous within the suppression limit.
    pub k_anonymous: bool,
    pub n_suppressed: usize,
    /// The number of released (not suppressed) equivalence classes.
    pub n_classes: usize,
    /// The size of the smallest released class, if any row is released.
    pub smallest_class: Option<usize>,
    /// ARX's "Loss" (0 = nothing lost, 1 = everything generalized away): the geometric mean of
    /// [`NodeResult::loss_per_qi`] as ARX aggregates it, `∏ᵢ (1 + lossᵢ)^(1/q) − 1` over the `q`
    /// quasi-identifiers (adding 1 keeps a zero loss from zeroing the product).
    pub loss: f64,
    /// ARX's "Loss" per quasi-identifier: the mean over rows of `(leaves(v) − 1) / (D − 1)`, where
    /// `leaves(v)` is the number of original values of the hierarchy under the row's generalized value `v`,
    /// `D` is the hierarchy's domain size, and a suppressed row counts as fully generalized (`leaves = D`,
    /// loss 1). It is 0 when there are no rows or `D = 1`.
    pub loss_per_qi: Vec<f64>,
    /// Discernibility (DM*): `Σ |class|²` over released classes `+ n_suppressed × n_rows`.
    pub discernibility: f64,
    /// Released rows divided by released classes (0 when nothing is released).
    pub average_class_size: f64,
}

/// An anonymization chosen by [`anonymize`]: the transformation, the suppressed rows and the released values.
///
/// Only this module builds a `Solution`, so holding one proves the values went through the search.
/// `Debug` prints the measurements, not the released values.
pub struct Solution {
    qi_names: Vec<String>,
    // Invariant: the transformation satisfies the configuration the search was given.
    result: NodeResult,
    suppressed: Vec<bool>,
    // `generalized[qi][row]` is the released value; `*` for suppressed rows.
    generalized: Vec<Vec<String>>,
    // Ascending.
    class_sizes: Vec<usize>,
    n_nodes_checked: usize,
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

    /// `generalized()[qi][row]`: the released value of each quasi-identifier in each row, [`SUPPRESSED`]
    /// (`*`) in suppressed rows.
    pub fn generalized(&self) -> &[Vec<String>] {
        &self.generalized
    }

    /// The sizes of the released equivalence classes, ascending.
    pub fn class_sizes(&self) -> &[usize] {
        &self.class_sizes
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
}

impl fmt::Debug for Solution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Solution")
            .field("qi_names", &self.qi_names)
            .field("result", &self.result)
            .field("n_rows", &self.suppressed.len())
            .field("n_nodes_checked", &self.n_nodes_checked)
            .finish_non_exhaustive()
    }
}

/// The released value of every quasi-identifier in a suppressed row.
pub const SUPPRESSED: &str = "*";

/// Finds the k-anonymous transformation with the least information loss (see the module documentation).
///
/// # Errors
/// Invalid configuration or inputs ([`EngineError::InvalidK`], [`EngineError::InvalidSuppressionLimit`],
/// [`EngineError::NoQuasiIdentifiers`], [`EngineError::RowCountMismatch`], [`EngineError::LatticeTooLarge`]),
/// or [`EngineError::NoSolution`] when not even the most general transformation satisfies the requirement.
pub fn anonymize(qis: &[QuasiIdentifier], cfg: &KAnonymityConfig) -> Result<Solution, EngineError> {
    let problem = Problem::new(qis, cfg)?;
    let mut search = Search::new(&problem);
    let top = problem.lattice.n_nodes() - 1;
    if !search.is_satisfied(top) {
        return Err(EngineError::NoSolution { k: cfg.k, n_rows: problem.table.n_rows });
    }
    search.classify();
    let best = search.optimize();
    let levels = problem.lattice.levels(best);
    let groups = problem.table.groupify(&levels);
    let result = problem.measure(&levels, &groups);
    Ok(problem.solution(qis, result, &groups, search.n_checked))
}

/// Measures one transformation (`levels`: one level per quasi-identifier).
///
/// # Errors
/// As [`anonymize`] for invalid inputs (never [`EngineError::NoSolution`]), plus
/// [`EngineError::LevelCountMismatch`] and [`EngineError::LevelOutOfRange`].
pub fn evaluate(
    qis: &[QuasiIdentifier],
    levels: &[usize],
    cfg: &KAnonymityConfig,
) -> Result<NodeResult, EngineError> {
    let problem = Problem::new(qis, cfg)?;
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
    Ok(problem.measure(levels, &problem.table.groupify(levels)))
}

/// The validated inputs of one search.
struct Problem<'a> {
    table: Table<'a>,
    lattice: Lattice,
    k: usize,
    max_suppressed: usize,
    // `generalization_sums[qi][level]`: Σ over rows of `leaves(code at level)`, the numerator of the
    // generalization-only loss before subtracting `n_rows`.
    generalization_sums: Vec<Vec<u64>>,
}

impl<'a> Problem<'a> {
    fn new(qis: &'a [QuasiIdentifier], cfg: &KAnonymityConfig) -> Result<Problem<'a>, EngineError> {
        if cfg.k == 0 {
            return Err(EngineError::InvalidK);
        }
        if !(0.0..=1.0).contains(&cfg.suppression_limit) {
            return Err(EngineError::InvalidSuppressionLimit);
        }
        let first = qis.first().ok_or(EngineError::NoQuasiIdentifiers)?;
        let n_rows = first.n_rows();
        if let Some(qi) = qis.iter().find(|qi| qi.n_rows() != n_rows) {
            return Err(EngineError::RowCountMismatch {
                qi: qi.name.clone(),
                expected: n_rows,
                found: qi.n_rows(),
            });
        }
        let top_levels: Vec<usize> = qis.iter().map(|qi| qi.hierarchy.top_level()).collect();
        let lattice = Lattice::new(&top_levels, MAX_TRANSFORMATIONS).ok_or(EngineError::LatticeTooLarge)?;
        let columns: Vec<&[u32]> = qis.iter().map(|qi| qi.leaves.as_slice()).collect();
        let table = Table::new(qis.iter().map(|qi| &qi.hierarchy).collect(), &columns, n_rows);

        let generalization_sums = qis
            .iter()
            .map(|qi| {
                (0..qi.hierarchy.levels())
                    .map(|level| {
                        let codes = qi.hierarchy.codes(level);
                        let leaf_counts = qi.hierarchy.leaf_counts(level);
                        qi.leaves
                            .iter()
                            .map(|&leaf| u64::from(leaf_counts[codes[leaf as usize] as usize]))
                            .sum()
                    })
                    .collect()
            })
            .collect();
        // The limit is in 0..=1, so the product lies in 0..=n_rows and the cast cannot truncate.
        let max_suppressed = (cfg.suppression_limit * n_rows as f64).floor() as usize;
        Ok(Problem { table, lattice, k: cfg.k, max_suppressed, generalization_sums })
    }

    /// Rows in classes smaller than k.
    fn n_small(&self, classes: &ClassList) -> usize {
        classes.counts.iter().filter(|&&count| (count as usize) < self.k).map(|&count| count as usize).sum()
    }

    /// The loss a node would have if no row were suppressed: a lower bound of its loss, and its exact loss
    /// when nothing is suppressed.
    fn bound(&self, node: usize) -> f64 {
        let numerators: Vec<u64> = self
            .generalization_sums
            .iter()
            .enumerate()
            .map(|(dimension, sums)| sums[self.lattice.level(node, dimension)] - self.table.n_rows as u64)
            .collect();
        aggregate(&self.losses(&numerators))
    }

    /// The exact loss numerators of a transformation: Σ over rows of `leaves − 1`, suppressed rows `D − 1`.
    fn numerators(&self, levels: &[usize], classes: &ClassList) -> Vec<u64> {
        let mut numerators = vec![0u64; levels.len()];
        for (dimension, (&level, hierarchy)) in levels.iter().zip(&self.table.hierarchies).enumerate() {
            let codes = hierarchy.codes(level);
            let leaf_counts = hierarchy.leaf_counts(level);
            let domain_size = hierarchy.domain_size() as u64;
            let mut sum = 0u64;
            for (&count, &rep) in classes.counts.iter().zip(&classes.reps) {
                let leaves = if (count as usize) < self.k {
                    domain_size
                } else {
                    u64::from(leaf_counts[codes[self.table.leaf(rep, dimension) as usize] as usize])
                };
                sum += u64::from(count) * (leaves - 1);
            }
            numerators[dimension] = sum;
        }
        numerators
    }

    fn losses(&self, numerators: &[u64]) -> Vec<f64> {
        let n_rows = self.table.n_rows as u64;
        numerators
            .iter()
            .zip(&self.table.hierarchies)
            .map(|(&numerator, hierarchy)| {
                let denominator = n_rows * (hierarchy.domain_size() as u64).saturating_sub(1);
                if denominator == 0 { 0.0 } else { numerator as f64 / denominator as f64 }
            })
            .collect()
    }

    fn measure(&self, levels: &[usize], groups: &Groups) -> NodeResult {
        let n_rows = self.table.n_rows;
        let mut released: Vec<usize> = groups
            .classes
            .counts
            .iter()
            .map(|&count| count as usize)
            .filter(|&count| count >= self.k)
            .collect();
        released.sort_unstable();
        let n_suppressed = n_rows - released.iter().sum::<usize>();
        let loss_per_qi = self.losses(&self.numerators(levels, &groups.classes));
        let discernibility = released.iter().map(|&size| (size as f64) * (size as f64)).sum::<f64>()
            + n_suppressed as f64 * n_rows as f64;
        let average_class_size =
            if released.is_empty() { 0.0 } else { (n_rows - n_suppressed) as f64 / released.len() as f64 };
        NodeResult {
            levels: levels.to_vec(),
            k_anonymous: n_suppressed <= self.max_suppressed,
            n_suppressed,
            n_classes: released.len(),
            smallest_class: released.first().copied(),
            loss: aggregate(&loss_per_qi),
            loss_per_qi,
            discernibility,
            average_class_size,
        }
    }

    fn solution(
        &self,
        qis: &[QuasiIdentifier],
        result: NodeResult,
        groups: &Groups,
        n_nodes_checked: usize,
    ) -> Solution {
        let suppressed: Vec<bool> = self
            .table
            .row_tuple
            .iter()
            .map(|&tuple| {
                (groups.classes.counts[groups.entry_class[tuple as usize] as usize] as usize) < self.k
            })
            .collect();
        let generalized = qis
            .iter()
            .zip(&result.levels)
            .map(|(qi, &level)| {
                let codes = qi.hierarchy.codes(level);
                qi.leaves
                    .iter()
                    .zip(&suppressed)
                    .map(|(&leaf, &is_suppressed)| {
                        if is_suppressed {
                            SUPPRESSED.to_owned()
                        } else {
                            qi.hierarchy.label(level, codes[leaf as usize]).to_owned()
                        }
                    })
                    .collect()
            })
            .collect();
        let mut class_sizes: Vec<usize> = groups
            .classes
            .counts
            .iter()
            .map(|&count| count as usize)
            .filter(|&count| count >= self.k)
            .collect();
        class_sizes.sort_unstable();
        Solution {
            qi_names: qis.iter().map(|qi| qi.name.clone()).collect(),
            result,
            suppressed,
            generalized,
            class_sizes,
            n_nodes_checked,
        }
    }
}

/// ARX's geometric-mean aggregate: `∏ᵢ (1 + lossᵢ)^(1/q) − 1`.
fn aggregate(losses: &[f64]) -> f64 {
    let exponent = 1.0 / losses.len().max(1) as f64;
    losses.iter().fold(1.0, |product, loss| product * (1.0 + loss).powf(exponent)) - 1.0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Unknown,
    Satisfied,
    Failed,
}

/// The search keeps the classes of evaluated nodes up to this many classes in total (8 bytes each), so that
/// their successors can be rolled up from them instead of from all distinct tuples.
const MAX_CACHED_CLASSES: usize = 1 << 22;

/// The state of one search: what is known about each node.
struct Search<'p, 'a> {
    problem: &'p Problem<'a>,
    status: Vec<Status>,
    n_checked: usize,
    cache: HashMap<usize, Rc<ClassList>>,
    n_cached_classes: usize,
}

impl<'p, 'a> Search<'p, 'a> {
    fn new(problem: &'p Problem<'a>) -> Search<'p, 'a> {
        Search {
            problem,
            status: vec![Status::Unknown; problem.lattice.n_nodes()],
            n_checked: 0,
            cache: HashMap::new(),
            n_cached_classes: 0,
        }
    }

    /// The equivalence classes of `node`, rolled up from the smallest cached direct predecessor if any.
    fn classes(&mut self, node: usize) -> Rc<ClassList> {
        if let Some(classes) = self.cache.get(&node) {
            return Rc::clone(classes);
        }
        let lattice = &self.problem.lattice;
        let levels = lattice.levels(node);
        let source = (0..lattice.n_dimensions())
            .filter_map(|dimension| lattice.predecessor(node, dimension))
            .filter_map(|predecessor| self.cache.get(&predecessor))
            .min_by_key(|classes| classes.counts.len());
        let groups = match source {
            Some(source) => self.problem.table.group(source, &levels),
            None => self.problem.table.groupify(&levels),
        };
        self.n_checked += 1;
        let classes = Rc::new(groups.classes);
        if self.n_cached_classes + classes.counts.len() <= MAX_CACHED_CLASSES {
            self.n_cached_classes += classes.counts.len();
            self.cache.insert(node, Rc::clone(&classes));
        }
        classes
    }

    /// Whether `node` satisfies the requirement: known, or checked against the data and recorded.
    fn is_satisfied(&mut self, node: usize) -> bool {
        match self.status[node] {
            Status::Satisfied => true,
            Status::Failed => false,
            Status::Unknown => {
                let classes = self.classes(node);
                let satisfied = self.problem.n_small(&classes) <= self.problem.max_suppressed;
                self.mark(node, if satisfied { Status::Satisfied } else { Status::Failed });
                satisfied
            }
        }
    }

    /// Records `status` for `node` and, by monotonicity, for all its successors (satisfied) or predecessors
    /// (failed) that are not known yet.
    fn mark(&mut self, node: usize, status: Status) {
        let lattice = &self.problem.lattice;
        let mut stack = vec![node];
        self.status[node] = status;
        while let Some(current) = stack.pop() {
            for dimension in 0..lattice.n_dimensions() {
                let neighbour = match status {
                    Status::Satisfied => lattice.successor(current, dimension),
                    _ => lattice.predecessor(current, dimension),
                };
                if let Some(neighbour) = neighbour
                    && self.status[neighbour] == Status::Unknown
                {
                    self.status[neighbour] = status;
                    stack.push(neighbour);
                }
            }
        }
    }

    /// Classifies every node as satisfied or failed.
    fn classify(&mut self) {
        let lattice = &self.problem.lattice;
        let mut order: Vec<usize> = (0..lattice.n_nodes()).collect();
        order.sort_by_key(|&node| (lattice.height(node), node));
        for node in order {
            if self.status[node] != Status::Unknown {
                continue;
            }
            let path = self.path_up(node);
            // Binary search for the first satisfying node on the path; past its end everything satisfies.
            let (mut low, mut high) = (0, path.len());
            while low < high {
                let middle = (low + high) / 2;
                if self.is_satisfied(path[middle]) {
                    high = middle;
                } else {
                    low = middle + 1;
                }
            }
        }
    }

    /// A path of unknown nodes from `node` upwards, raising at each step the quasi-identifier with the most
    /// levels left (the first such one on ties), until a known node or the top. A known node above an
    /// unknown one is always satisfied, because a failed one would have marked everything below it.
    fn path_up(&self, node: usize) -> Vec<usize> {
        let lattice = &self.problem.lattice;
        let mut path = vec![node];
        let mut current = node;
        loop {
            let mut best: Option<(usize, usize)> = None;
            for dimension in 0..lattice.n_dimensions() {
                let left = lattice.top_levels()[dimension] - lattice.level(current, dimension);
                if left > 0 && best.is_none_or(|(_, most)| left > most) {
                    best = Some((dimension, left));
                }
            }
            let Some((dimension, _)) = best else { break };
            let Some(next) = lattice.successor(current, dimension) else { break };
            if self.status[next] != Status::Unknown {
                break;
            }
            path.push(next);
            current = next;
        }
        path
    }

    /// The satisfying node with the least loss, ties broken by height, then index (lexicographic levels).
    ///
    /// Requires `classify` to have run and the top to be satisfied.
    fn optimize(&mut self) -> usize {
        let problem = self.problem;
        let lattice = &problem.lattice;
        let mut candidates: Vec<(f64, usize, usize)> = (0..lattice.n_nodes())
            .filter(|&node| self.status[node] == Status::Satisfied)
            .map(|node| (problem.bound(node), lattice.height(node), node))
            .collect();
        candidates.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));

        let mut best: Option<(f64, usize, usize)> = None;
        for (bound, height, node) in candidates {
            if let Some((best_loss, _, _)) = best
                && bound > best_loss
            {
                break;
            }
            let loss = if problem.max_suppressed == 0 {
                // Satisfying without suppression means nothing is suppressed: the bound is the loss.
                bound
            } else {
                let classes = self.classes(node);
                aggregate(&problem.losses(&problem.numerators(&lattice.levels(node), &classes)))
            };
            let better = match best {
                None => true,
                Some((best_loss, best_height, best_node)) => loss
                    .total_cmp(&best_loss)
                    .then(height.cmp(&best_height))
                    .then(node.cmp(&best_node))
                    .is_lt(),
            };
            if better {
                best = Some((loss, height, node));
            }
        }
        best.map_or(lattice.n_nodes() - 1, |(_, _, node)| node)
    }
}
