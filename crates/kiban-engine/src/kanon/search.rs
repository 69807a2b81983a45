//! The validated problem (table, prepared models and metric) and the exact lattice search; ARX's Flash
//! (`flash.rs`) and the budgeted heuristic (`heuristic.rs`) reuse both.

use std::collections::HashMap;
use std::rc::Rc;

use super::{
    AnonymizationConfig, Check, ClassList, EngineError, GeneralizedColumn, Groups, HierarchicalEmd, Lattice,
    LevelStats, Measured, Metric, NodeResult, PrivacyModel, QuasiIdentifier, SensitiveAttribute, Solution,
    Table, metrics, models,
};

mod flash;
mod heuristic;

pub(super) use flash::flash;
pub(super) use heuristic::heuristic;

/// The validated inputs of one search.
pub(super) struct Problem<'a> {
    pub(super) table: Table<'a>,
    top_levels: Vec<usize>,
    n_qis: usize,
    n_sensitive: usize,
    max_suppressed: usize,
    // The largest minimal class size any model implies (k, or ceil(l) for l-diversity).
    min_class_size: usize,
    checks: Vec<Check>,
    // Whether validity itself is monotonic in the lattice.
    pub(super) monotonic: bool,
    // No class can ever satisfy the models and not every row may be suppressed.
    pub(super) unsatisfiable: bool,
    metric: Metric,
    stats: LevelStats,
}

fn positive(value: f64) -> bool {
    value.is_finite() && value > 0.0
}

impl<'a> Problem<'a> {
    pub(super) fn new(
        qis: &'a [QuasiIdentifier],
        sensitive: &'a [SensitiveAttribute],
        cfg: &AnonymizationConfig,
    ) -> Result<Problem<'a>, EngineError> {
        if !(0.0..=1.0).contains(&cfg.suppression_limit) {
            return Err(EngineError::InvalidSuppressionLimit);
        }
        if cfg.models.is_empty() {
            return Err(EngineError::NoPrivacyModel);
        }
        let first = qis.first().ok_or(EngineError::NoQuasiIdentifiers)?;
        let n_rows = first.n_rows();
        let mismatch = qis
            .iter()
            .map(|qi| (&qi.name, qi.n_rows()))
            .chain(sensitive.iter().map(|attribute| (&attribute.name, attribute.n_rows())))
            .find(|&(_, rows)| rows != n_rows);
        if let Some((name, found)) = mismatch {
            return Err(EngineError::RowCountMismatch { qi: name.clone(), expected: n_rows, found });
        }

        let mut min_class_size = 1;
        let mut checks = Vec::new();
        let mut unsatisfiable = false;
        for model in &cfg.models {
            let attribute = match model.attribute() {
                None => None,
                Some(name) => {
                    Some(sensitive.iter().position(|attribute| attribute.name == name).ok_or_else(|| {
                        EngineError::UnknownSensitiveAttribute { attribute: name.to_owned() }
                    })?)
                }
            };
            let invalid = || EngineError::InvalidModelParameter {
                attribute: model.attribute().unwrap_or("").to_owned(),
            };
            let n_present = attribute.map_or(0, |index| {
                let mut seen = vec![false; sensitive[index].n_values];
                sensitive[index].codes.iter().for_each(|&code| seen[code as usize] = true);
                seen.iter().filter(|&&is| is).count()
            });
            // `attribute` is Some for every model but k-anonymity.
            let index = attribute.unwrap_or(0);
            let check = match model {
                PrivacyModel::KAnonymity { k } => {
                    if *k == 0 {
                        return Err(EngineError::InvalidK);
                    }
                    min_class_size = min_class_size.max(*k);
                    None
                }
                PrivacyModel::DistinctLDiversity { l, .. } => {
                    if *l == 0 {
                        return Err(invalid());
                    }
                    min_class_size = min_class_size.max(*l);
                    unsatisfiable |= n_present < *l;
                    Some(Check::DistinctL { attribute: index, l: *l })
                }
                PrivacyModel::EntropyLDiversity { l, .. } => {
                    if !(l.is_finite() && *l >= 1.0) {
                        return Err(invalid());
                    }
                    // l ≥ 1 and finite, so the ceiling is a small positive integer.
                    let min_size = l.ceil() as usize;
                    min_class_size = min_class_size.max(min_size);
                    unsatisfiable |= n_present < min_size;
                    Some(Check::EntropyL {
                        attribute: index,
                        min_size,
                        log2_l: l.ln() / std::f64::consts::LN_2,
                    })
                }
                PrivacyModel::RecursiveCLDiversity { c, l, .. } => {
                    if *l == 0 || !positive(*c) {
                        return Err(invalid());
                    }
                    min_class_size = min_class_size.max(*l);
                    unsatisfiable |= n_present < *l;
                    Some(Check::RecursiveCL { attribute: index, c: *c, l: *l })
                }
                PrivacyModel::EqualDistanceTCloseness { t, .. } => {
                    if !(t.is_finite() && *t >= 0.0) {
                        return Err(invalid());
                    }
                    let attribute = &sensitive[index];
                    let global = models::global_distribution(&attribute.codes, attribute.n_values);
                    Some(Check::EqualT { attribute: index, t: *t, global })
                }
                PrivacyModel::HierarchicalDistanceTCloseness { t, .. } => {
                    if !(t.is_finite() && *t >= 0.0) {
                        return Err(invalid());
                    }
                    let attribute = &sensitive[index];
                    let hierarchy = attribute.hierarchy.as_ref().ok_or_else(|| {
                        EngineError::MissingSensitiveHierarchy { attribute: attribute.name.clone() }
                    })?;
                    Some(Check::HierarchicalT {
                        attribute: index,
                        t: *t,
                        emd: HierarchicalEmd::new(hierarchy, &attribute.codes),
                    })
                }
            };
            checks.extend(check);
        }

        let top_levels: Vec<usize> = qis.iter().map(|qi| qi.hierarchy.top_level()).collect();
        let hierarchies: Vec<_> = qis
            .iter()
            .map(|qi| &qi.hierarchy)
            .chain(sensitive.iter().map(|attribute| &attribute.grouping))
            .collect();
        let columns: Vec<&[u32]> = qis
            .iter()
            .map(|qi| qi.leaves.as_slice())
            .chain(sensitive.iter().map(|attribute| attribute.codes.as_slice()))
            .collect();
        let table = Table::new(hierarchies, &columns, n_rows);
        let stats = LevelStats::new(&table.hierarchies[..qis.len()], &columns[..qis.len()], n_rows);
        // The limit is in 0..=1, so the product lies in 0..=n_rows and the cast cannot truncate.
        let max_suppressed = (cfg.suppression_limit * n_rows as f64).floor() as usize;
        let monotonic =
            max_suppressed == 0 || cfg.models.iter().all(PrivacyModel::monotonic_with_suppression);
        Ok(Problem {
            table,
            top_levels,
            n_qis: qis.len(),
            n_sensitive: sensitive.len(),
            max_suppressed,
            min_class_size,
            checks,
            monotonic,
            unsatisfiable: unsatisfiable && n_rows > max_suppressed,
            metric: cfg.metric,
            stats,
        })
    }

    /// The top level of each quasi-identifier.
    pub(super) fn top_levels(&self) -> &[usize] {
        &self.top_levels
    }

    /// Levels for every table column: the quasi-identifiers' then `sensitive_level` for each sensitive one.
    fn table_levels(&self, levels: &[usize], sensitive_level: usize) -> Vec<usize> {
        let mut all = levels.to_vec();
        all.resize(self.n_qis + self.n_sensitive, sensitive_level);
        all
    }

    /// The fine grouping of a node: by generalized quasi-identifiers and exact sensitive values.
    fn fine(&self, source: Option<&ClassList>, levels: &[usize]) -> Groups {
        let table_levels = self.table_levels(levels, 0);
        match source {
            Some(source) => self.table.group(source, &table_levels),
            None => self.table.groupify(&table_levels),
        }
    }

    /// The equivalence classes of a node from its fine grouping, and which are released.
    fn classes(&self, fine: &ClassList, levels: &[usize]) -> (Groups, Vec<bool>) {
        let groups = if self.n_sensitive == 0 {
            Groups::identity(fine)
        } else {
            self.table.group(fine, &self.table_levels(levels, 1))
        };
        let released = self.released(fine, &groups);
        (groups, released)
    }

    /// Whether each class satisfies every model.
    fn released(&self, fine: &ClassList, groups: &Groups) -> Vec<bool> {
        let counts = &groups.classes.counts;
        let mut released: Vec<bool> =
            counts.iter().map(|&count| count as usize >= self.min_class_size).collect();
        if self.checks.is_empty() {
            return released;
        }
        // Fine entries of each class, contiguous: a counting sort by class.
        let n_classes = counts.len();
        let mut starts = vec![0usize; n_classes + 1];
        for &class in &groups.entry_class {
            starts[class as usize + 1] += 1;
        }
        for class in 0..n_classes {
            starts[class + 1] += starts[class];
        }
        let mut next = starts.clone();
        let mut order = vec![0u32; groups.entry_class.len()];
        for (entry, &class) in groups.entry_class.iter().enumerate() {
            order[next[class as usize]] = entry as u32;
            next[class as usize] += 1;
        }
        let mut frequency: Vec<Vec<u32>> = vec![Vec::new(); self.n_sensitive];
        let mut distribution: Vec<(u32, u32)> = Vec::new();
        for class in 0..n_classes {
            if !released[class] {
                continue;
            }
            let entries = &order[starts[class]..starts[class + 1]];
            for check in &self.checks {
                let attribute = check.attribute();
                let dimension = self.n_qis + attribute;
                let scratch = &mut frequency[attribute];
                distribution.clear();
                for &entry in entries {
                    let code = self.table.leaf(fine.reps[entry as usize], dimension);
                    if scratch.len() <= code as usize {
                        scratch.resize(code as usize + 1, 0);
                    }
                    if scratch[code as usize] == 0 {
                        distribution.push((code, 0));
                    }
                    scratch[code as usize] += fine.counts[entry as usize];
                }
                for (code, count) in distribution.iter_mut() {
                    *count = scratch[*code as usize];
                    scratch[*code as usize] = 0;
                }
                if !check.satisfies(counts[class], &distribution) {
                    released[class] = false;
                    break;
                }
            }
        }
        released
    }

    /// Whether the rows outside the released classes fit the suppression limit.
    pub(super) fn within_suppression_limit(&self, classes: &ClassList, released: &[bool]) -> bool {
        let n_released: u64 = classes
            .counts
            .iter()
            .zip(released)
            .filter(|&(_, &is)| is)
            .map(|(&count, _)| u64::from(count))
            .sum();
        self.table.n_rows - n_released as usize <= self.max_suppressed
    }

    /// Rows in classes smaller than the minimal class size: suppressed whatever the other models say.
    fn n_small(&self, fine: &ClassList, levels: &[usize]) -> usize {
        let counts: Vec<u32> = if self.n_sensitive == 0 {
            fine.counts.clone()
        } else {
            self.table.group(fine, &self.table_levels(levels, 1)).classes.counts
        };
        counts
            .iter()
            .filter(|&&count| (count as usize) < self.min_class_size)
            .map(|&count| count as usize)
            .sum()
    }

    fn measure(&self, levels: &[usize], classes: &ClassList, released: &[bool]) -> Measured {
        metrics::measure(
            self.metric,
            &self.stats,
            &self.table.hierarchies[..self.n_qis],
            levels,
            classes,
            released,
            |rep, qi| self.table.leaf(rep, qi),
        )
    }

    /// Whether the level bound is the exact loss of every valid node, which the searches then use as the
    /// loss, so that they agree to the bit.
    fn bound_is_loss(&self) -> bool {
        self.metric.has_level_bound()
            && (matches!(self.metric, Metric::NonUniformEntropy { monotonic: true })
                || (self.max_suppressed == 0 && self.metric.bound_exact_without_suppression()))
    }

    /// The level bound of a node: its loss if no row were suppressed.
    fn bound(&self, levels: &[usize]) -> f64 {
        metrics::aggregate(self.metric, &self.stats.bound_per_qi(self.metric, levels))
    }

    fn result(&self, levels: &[usize], classes: &ClassList, released: &[bool]) -> NodeResult {
        let measured = self.measure(levels, classes, released);
        let mut sizes: Vec<usize> = classes
            .counts
            .iter()
            .zip(released)
            .filter(|&(_, &is_released)| is_released)
            .map(|(&count, _)| count as usize)
            .collect();
        sizes.sort_unstable();
        let n_released: usize = sizes.iter().sum();
        let n_suppressed = self.table.n_rows - n_released;
        NodeResult {
            levels: levels.to_vec(),
            valid: n_suppressed <= self.max_suppressed,
            n_suppressed,
            n_classes: sizes.len(),
            smallest_class: sizes.first().copied(),
            loss: measured.loss,
            loss_per_qi: measured.loss_per_qi,
            discernibility: measured.discernibility,
            average_class_size: if sizes.is_empty() { 0.0 } else { n_released as f64 / sizes.len() as f64 },
        }
    }

    /// Evaluates a node from scratch, keeping what the solution needs: whether each row is released, the
    /// classes and whether each is released.
    pub(super) fn evaluate_rows(&self, levels: &[usize]) -> (NodeResult, Vec<bool>, ClassList, Vec<bool>) {
        let fine = self.fine(None, levels);
        let (groups, released) = self.classes(&fine.classes, levels);
        let result = self.result(levels, &groups.classes, &released);
        let row_released = self
            .table
            .row_tuple
            .iter()
            .map(|&tuple| released[groups.entry_class[fine.entry_class[tuple as usize] as usize] as usize])
            .collect();
        (result, row_released, groups.classes, released)
    }

    /// The solution for `levels`, which the search chose after grouping `n_nodes_checked` transformations;
    /// `optimal` when it proved that no valid transformation has a lower loss.
    pub(super) fn solution(
        &self,
        qis: &[QuasiIdentifier],
        levels: &[usize],
        n_nodes_checked: usize,
        optimal: bool,
    ) -> Solution {
        let (result, row_released, classes, released) = self.evaluate_rows(levels);
        let suppressed: Vec<bool> = row_released.iter().map(|&is| !is).collect();
        let generalized = qis
            .iter()
            .zip(&result.levels)
            .map(|(qi, &level)| {
                let codes = qi.hierarchy.codes(level);
                let labels = (0..qi.hierarchy.n_codes(level) as u32)
                    .map(|code| qi.hierarchy.label(level, code).to_owned())
                    .collect();
                let rows = qi
                    .leaves
                    .iter()
                    .zip(&suppressed)
                    .map(|(&leaf, &is_suppressed)| {
                        if is_suppressed { GeneralizedColumn::SUPPRESSED_CODE } else { codes[leaf as usize] }
                    })
                    .collect();
                GeneralizedColumn { labels, rows }
            })
            .collect();
        let mut class_sizes: Vec<usize> = classes
            .counts
            .iter()
            .zip(&released)
            .filter(|&(_, &is)| is)
            .map(|(&count, _)| count as usize)
            .collect();
        class_sizes.sort_unstable();
        Solution {
            qi_names: qis.iter().map(|qi| qi.name.clone()).collect(),
            result,
            suppressed,
            generalized,
            class_sizes,
            n_nodes_checked,
            metric: self.metric,
            optimal,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Unknown,
    Satisfied,
    Failed,
}

/// The search keeps the fine groupings of evaluated nodes up to this many entries in total (8 bytes each),
/// so that their successors can be rolled up from them instead of from all distinct tuples.
const MAX_CACHED_ENTRIES: usize = 1 << 22;

/// What evaluating one node found.
struct Evaluation {
    valid: bool,
    loss: f64,
    // DM*, a lower bound of discernibility that never decreases upwards in the lattice.
    discernibility_star: f64,
}

/// The state of one search.
pub(super) struct Search<'p, 'a> {
    problem: &'p Problem<'a>,
    lattice: &'p Lattice,
    // Whether the predicate is full validity (else "the rows in too small classes fit in the limit").
    predicate_is_validity: bool,
    // The predicate, monotonic (or, for Flash with practical monotonicity, assumed so): full validity when
    // the models are monotonic, else "the rows in too small classes fit in the limit". Failing it means
    // invalid.
    status: Vec<Status>,
    pub(super) n_checked: usize,
    cache: HashMap<usize, Rc<ClassList>>,
    n_cached_entries: usize,
}

impl<'p, 'a> Search<'p, 'a> {
    /// A search over `lattice`, which must be the lattice of `problem.top_levels()`. The predicate is full
    /// validity when `predicate_is_validity`, which must only be asked when validity is monotonic (or
    /// assumed so), else the monotonic part of validity.
    pub(super) fn new(
        problem: &'p Problem<'a>,
        lattice: &'p Lattice,
        predicate_is_validity: bool,
    ) -> Search<'p, 'a> {
        Search {
            problem,
            lattice,
            predicate_is_validity,
            status: vec![Status::Unknown; lattice.n_nodes()],
            n_checked: 0,
            cache: HashMap::new(),
            n_cached_entries: 0,
        }
    }

    /// The fine grouping of `node`, rolled up from the smallest cached direct predecessor if any.
    fn fine(&mut self, node: usize) -> Rc<ClassList> {
        if let Some(fine) = self.cache.get(&node) {
            return Rc::clone(fine);
        }
        let lattice = self.lattice;
        let levels = lattice.levels(node);
        let source = (0..lattice.n_dimensions())
            .filter_map(|dimension| lattice.predecessor(node, dimension))
            .filter_map(|predecessor| self.cache.get(&predecessor))
            .min_by_key(|fine| fine.counts.len());
        let groups = self.problem.fine(source.map(Rc::as_ref), &levels);
        self.n_checked += 1;
        let fine = Rc::new(groups.classes);
        if self.n_cached_entries + fine.counts.len() <= MAX_CACHED_ENTRIES {
            self.n_cached_entries += fine.counts.len();
            self.cache.insert(node, Rc::clone(&fine));
        }
        fine
    }

    /// Whether `node` passes the monotonic predicate: known, or checked against the data and recorded.
    pub(super) fn passes_predicate(&mut self, node: usize) -> bool {
        match self.status[node] {
            Status::Satisfied => true,
            Status::Failed => false,
            Status::Unknown => {
                let fine = self.fine(node);
                let levels = self.lattice.levels(node);
                let satisfied = if self.predicate_is_validity {
                    let (groups, released) = self.problem.classes(&fine, &levels);
                    self.problem.within_suppression_limit(&groups.classes, &released)
                } else {
                    self.problem.n_small(&fine, &levels) <= self.problem.max_suppressed
                };
                self.mark(node, if satisfied { Status::Satisfied } else { Status::Failed });
                satisfied
            }
        }
    }

    /// Records `status` for `node` and, by monotonicity, for all its successors (satisfied) or predecessors
    /// (failed) that are not known yet.
    fn mark(&mut self, node: usize, status: Status) {
        let lattice = self.lattice;
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

    /// Classifies every node by the monotonic predicate.
    pub(super) fn classify(&mut self) {
        let lattice = self.lattice;
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
                if self.passes_predicate(path[middle]) {
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
        let lattice = self.lattice;
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

    /// Groups `node` and measures it.
    fn evaluate(&mut self, node: usize) -> Evaluation {
        let fine = self.fine(node);
        let problem = self.problem;
        let levels = self.lattice.levels(node);
        let (groups, released) = problem.classes(&fine, &levels);
        let valid = problem.within_suppression_limit(&groups.classes, &released);
        let measured = problem.measure(&levels, &groups.classes, &released);
        Evaluation { valid, loss: measured.loss, discernibility_star: measured.discernibility_star }
    }

    /// The valid node with the least loss, ties broken by height, then index (lexicographic levels), or
    /// `None` when no node is valid. Requires `classify` to have run.
    pub(super) fn optimize(&mut self) -> Option<usize> {
        if self.problem.metric.has_level_bound() {
            self.optimize_by_level_bound()
        } else {
            self.optimize_bottom_up()
        }
    }

    fn optimize_by_level_bound(&mut self) -> Option<usize> {
        let problem = self.problem;
        let lattice = self.lattice;
        let mut candidates: Vec<(f64, usize, usize)> = (0..lattice.n_nodes())
            .filter(|&node| self.status[node] == Status::Satisfied)
            .map(|node| (problem.bound(&lattice.levels(node)), lattice.height(node), node))
            .collect();
        candidates.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        let bound_is_loss = problem.bound_is_loss();

        let mut best: Option<(f64, usize, usize)> = None;
        for (bound, height, node) in candidates {
            if let Some((best_loss, _, _)) = best
                && bound > best_loss
            {
                break;
            }
            let loss = if problem.monotonic && bound_is_loss {
                // Known valid and the bound is exact: nothing to group.
                bound
            } else {
                let evaluation = self.evaluate(node);
                if !evaluation.valid {
                    continue;
                }
                if bound_is_loss { bound } else { evaluation.loss }
            };
            if best.is_none_or(|best| (loss, height, node) < best) {
                best = Some((loss, height, node));
            }
        }
        best.map(|(_, _, node)| node)
    }

    /// For metrics without a level bound: bottom-up, each node bounded by its evaluated predecessors' DM*.
    fn optimize_bottom_up(&mut self) -> Option<usize> {
        let problem = self.problem;
        let lattice = self.lattice;
        let prunable = matches!(problem.metric, Metric::Discernibility { .. });
        let mut order: Vec<usize> = (0..lattice.n_nodes()).collect();
        order.sort_by_key(|&node| (lattice.height(node), node));
        let mut floor = vec![0.0f64; lattice.n_nodes()];
        let mut best: Option<(f64, usize)> = None;
        for node in order {
            let mut passed_up = floor[node];
            let skip = self.status[node] != Status::Satisfied
                || (prunable && best.is_some_and(|(best_loss, _)| floor[node] >= best_loss));
            if !skip {
                let evaluation = self.evaluate(node);
                passed_up = passed_up.max(evaluation.discernibility_star);
                if evaluation.valid && best.is_none_or(|(best_loss, _)| evaluation.loss < best_loss) {
                    best = Some((evaluation.loss, node));
                }
            }
            for dimension in 0..lattice.n_dimensions() {
                if let Some(successor) = lattice.successor(node, dimension) {
                    floor[successor] = floor[successor].max(passed_up);
                }
            }
        }
        best.map(|(_, node)| node)
    }
}
