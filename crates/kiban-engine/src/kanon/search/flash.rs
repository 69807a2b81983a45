//! ARX's Flash algorithm (Kohlmayer, Prasser, Eckert, Kemper, Kuhn 2012) as ARX 3 configures it, so that
//! the engine reproduces ARX's answer when ARX assumes "practical monotonicity".
//!
//! Flash visits the lattice level by level, the nodes of a level in ARX's strategy order (below). From each
//! node not yet classified it builds a greedy path upwards (always the first unclassified successor in
//! strategy order) and binary-searches the path for its lowest node satisfying the *binary predicate*. A
//! checked node is tagged predictively: satisfied tags all its successors, failed all its predecessors. The
//! unclassified successors of a failed node go to a priority queue (strategy order) and get paths of their
//! own. Where the models or the metric are not monotonic, a *linear phase* then walks depth-first upwards
//! from the lowest satisfying node of each path and checks every node it reaches.
//!
//! How ARX picks the configuration (`FLASHAlgorithm.create`): the models count as monotonic when nothing
//! may be suppressed, when each is monotonic under suppression, or when practical monotonicity is assumed;
//! the metric likewise (monotonic metrics: monotonic non-uniform entropy and DM*). Both monotonic: binary
//! phase on full validity only. Otherwise the binary phase runs on validity (models monotonic) or on its
//! monotonic part (rows in classes below the minimal class size fit in the limit), followed by the linear
//! phase. The answer is the best valid node among those actually checked, as ARX's `trackOptimum` keeps
//! it; nodes tagged valid without a check never compete.
//!
//! ARX's strategy order compares, in turn: the height; the mean over quasi-identifiers of `level / top`;
//! one minus the mean of `distinct values at the level / distinct values at level 0`, counting only values
//! that occur in the data. Exact ties, which ARX leaves to its array and heap order, are broken here by the
//! node index (lexicographic levels), and ties in loss as in the exact search (height, then index), where
//! ARX keeps the first one checked.
//!
//! Without practical monotonicity every valid node is checked or lies above a checked valid node with no
//! greater loss (monotonic metric), or is checked in the linear phase (else), so the answer is the exact
//! search's. The linear phase skips nodes whose level bound strictly exceeds the best loss, and, for a
//! monotonic metric, everything above a valid node: neither can be the optimum.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::{Evaluation, Lattice, Metric, Problem, Search, Status};

/// What Flash found.
pub(in crate::kanon) struct FlashOutcome {
    /// The best valid node Flash checked, if any.
    pub(in crate::kanon) best: Option<usize>,
    pub(in crate::kanon) n_checked: usize,
    /// Whether the configuration is exact (no heuristic assumption was made).
    pub(in crate::kanon) optimal: bool,
}

/// Runs Flash on `lattice`, the lattice of `problem`.
pub(in crate::kanon) fn flash(
    problem: &Problem<'_>,
    lattice: &Lattice,
    practical_monotonicity: bool,
) -> FlashOutcome {
    let metric_monotonic = problem.max_suppressed == 0
        || matches!(
            problem.metric,
            Metric::NonUniformEntropy { monotonic: true } | Metric::Discernibility { monotonic: true }
        );
    let models_monotonic = practical_monotonicity || problem.monotonic;
    let exact_binary_only = problem.monotonic && metric_monotonic;
    let mut flash = Flash {
        search: Search::new(problem, lattice, models_monotonic),
        order: StrategyOrder::new(problem, lattice),
        linear_phase: !(practical_monotonicity || exact_binary_only),
        metric_monotonic,
        prune_by_bound: !practical_monotonicity && problem.metric.has_level_bound(),
        visited: vec![false; lattice.n_nodes()],
        pruned: vec![false; lattice.n_nodes()],
        best: None,
    };
    flash.traverse();
    FlashOutcome {
        best: flash.best.map(|(_, _, node)| node),
        n_checked: flash.search.n_checked,
        optimal: !practical_monotonicity || exact_binary_only,
    }
}

/// ARX's `FLASHStrategy` keys of a node, compared in order.
#[derive(Debug, Clone, Copy)]
struct StrategyKey {
    height: usize,
    precision: f64,
    distinct: f64,
    node: usize,
}

/// Compares like Java's `<` / `>` on doubles: NaN (a quasi-identifier with a single level) compares equal.
fn java_compare(a: f64, b: f64) -> Ordering {
    if a < b {
        Ordering::Less
    } else if a > b {
        Ordering::Greater
    } else {
        Ordering::Equal
    }
}

impl StrategyKey {
    fn compare(&self, other: &StrategyKey) -> Ordering {
        self.height
            .cmp(&other.height)
            .then_with(|| java_compare(self.precision, other.precision))
            .then_with(|| java_compare(self.distinct, other.distinct))
            .then_with(|| self.node.cmp(&other.node))
    }
}

// The heap pops the greatest element, so the order is reversed to pop the first node in strategy order.
impl Ord for StrategyKey {
    fn cmp(&self, other: &StrategyKey) -> Ordering {
        other.compare(self)
    }
}

impl PartialOrd for StrategyKey {
    fn partial_cmp(&self, other: &StrategyKey) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for StrategyKey {
    fn eq(&self, other: &StrategyKey) -> bool {
        self.node == other.node
    }
}

impl Eq for StrategyKey {}

/// ARX's strategy order over the nodes of one lattice.
struct StrategyOrder {
    // `distinct[qi][level]`: distinct generalized values at `level` among the values that occur.
    distinct: Vec<Vec<usize>>,
    top_levels: Vec<usize>,
}

impl StrategyOrder {
    fn new(problem: &Problem<'_>, lattice: &Lattice) -> StrategyOrder {
        let table = &problem.table;
        let distinct = (0..lattice.n_dimensions())
            .map(|qi| {
                let hierarchy = table.hierarchies[qi];
                let mut present = vec![false; hierarchy.domain_size()];
                for &tuple in &table.row_tuple {
                    present[table.leaf(tuple, qi) as usize] = true;
                }
                (0..hierarchy.levels())
                    .map(|level| {
                        let codes = hierarchy.codes(level);
                        let mut seen = vec![false; hierarchy.n_codes(level)];
                        let mut count = 0;
                        for (leaf, _) in present.iter().enumerate().filter(|&(_, &is)| is) {
                            let code = codes[leaf] as usize;
                            if !seen[code] {
                                seen[code] = true;
                                count += 1;
                            }
                        }
                        count
                    })
                    .collect()
            })
            .collect();
        StrategyOrder { distinct, top_levels: lattice.top_levels().to_vec() }
    }

    /// The keys of `node`, summed in ARX's order so that the doubles agree.
    fn key(&self, lattice: &Lattice, node: usize) -> StrategyKey {
        let levels = lattice.levels(node);
        let mut precision = 0.0;
        let mut distinct = 0.0;
        for (qi, &level) in levels.iter().enumerate() {
            distinct += self.distinct[qi][level] as f64 / self.distinct[qi][0] as f64;
            precision += level as f64 / self.top_levels[qi] as f64;
        }
        let n_qis = levels.len() as f64;
        StrategyKey {
            height: levels.iter().sum(),
            precision: precision / n_qis,
            distinct: 1.0 - distinct / n_qis,
            node,
        }
    }

    fn sort(&self, lattice: &Lattice, nodes: &mut [usize]) {
        let mut keyed: Vec<StrategyKey> = nodes.iter().map(|&node| self.key(lattice, node)).collect();
        keyed.sort_by(StrategyKey::compare);
        for (slot, key) in nodes.iter_mut().zip(keyed) {
            *slot = key.node;
        }
    }
}

/// The state of one Flash run.
struct Flash<'p, 'a> {
    // `search.status` holds the binary predicate (validity, or its monotonic part), checked or tagged.
    search: Search<'p, 'a>,
    order: StrategyOrder,
    linear_phase: bool,
    metric_monotonic: bool,
    prune_by_bound: bool,
    // Checked in the linear phase.
    visited: Vec<bool>,
    // Above a valid node under a monotonic metric: cannot beat it.
    pruned: Vec<bool>,
    // The best checked valid node: (loss, height, node).
    best: Option<(f64, usize, usize)>,
}

impl Flash<'_, '_> {
    fn traverse(&mut self) {
        let lattice = self.search.lattice;
        let max_height: usize = lattice.top_levels().iter().sum();
        let mut by_height: Vec<Vec<usize>> = vec![Vec::new(); max_height + 1];
        for node in 0..lattice.n_nodes() {
            by_height[lattice.height(node)].push(node);
        }
        let mut queue = BinaryHeap::new();
        for mut nodes in by_height {
            nodes.retain(|&node| self.search.status[node] == Status::Unknown);
            self.order.sort(lattice, &mut nodes);
            for node in nodes {
                self.binary_search(node, &mut queue);
            }
        }
    }

    /// Paths from `start` and from the successors of every failed node they meet, until the queue is empty.
    fn binary_search(&mut self, start: usize, queue: &mut BinaryHeap<StrategyKey>) {
        let lattice = self.search.lattice;
        queue.push(self.order.key(lattice, start));
        while let Some(head) = queue.pop() {
            if self.search.status[head.node] != Status::Unknown {
                continue;
            }
            let path = self.find_path(head.node);
            if let Some(lowest) = self.check_path(&path, queue)
                && self.linear_phase
            {
                self.linear_search(lowest);
            }
        }
    }

    /// The successors of `node` in strategy order.
    fn sorted_successors(&self, node: usize) -> Vec<usize> {
        let lattice = self.search.lattice;
        let mut successors: Vec<usize> =
            (0..lattice.n_dimensions()).filter_map(|dimension| lattice.successor(node, dimension)).collect();
        self.order.sort(lattice, &mut successors);
        successors
    }

    /// A greedy path from `node`: each step to the first unclassified successor in strategy order.
    fn find_path(&self, node: usize) -> Vec<usize> {
        let mut path = vec![node];
        let mut current = node;
        while let Some(next) = self
            .sorted_successors(current)
            .into_iter()
            .find(|&successor| self.search.status[successor] == Status::Unknown)
        {
            path.push(next);
            current = next;
        }
        path
    }

    /// Binary-searches `path` for its lowest node satisfying the predicate, checking and tagging as it goes;
    /// queues the unclassified successors of each failed node.
    fn check_path(&mut self, path: &[usize], queue: &mut BinaryHeap<StrategyKey>) -> Option<usize> {
        let lattice = self.search.lattice;
        // Signed, as in ARX: `high` may fall to -1.
        let mut low: isize = 0;
        let mut high: isize = path.len() as isize - 1;
        let mut lowest = None;
        while low <= high {
            let middle = (low + high) / 2;
            // `low ≤ middle ≤ high < path.len()` and `low ≥ 0`.
            let node = path[middle as usize];
            if self.search.status[node] != Status::Unknown {
                high = middle - 1;
                continue;
            }
            let satisfied = self.check_binary(node);
            if satisfied {
                lowest = Some(node);
                high = middle - 1;
            } else {
                for dimension in 0..lattice.n_dimensions() {
                    if let Some(successor) = lattice.successor(node, dimension)
                        && self.search.status[successor] == Status::Unknown
                    {
                        queue.push(self.order.key(lattice, successor));
                    }
                }
                low = middle + 1;
            }
        }
        lowest
    }

    /// Checks `node` against the binary predicate and tags; a valid node competes for the optimum.
    fn check_binary(&mut self, node: usize) -> bool {
        if self.search.predicate_is_validity {
            let evaluation = self.search.evaluate(node);
            let status = if evaluation.valid { Status::Satisfied } else { Status::Failed };
            self.search.mark(node, status);
            self.track(node, &evaluation);
            evaluation.valid
        } else {
            // Only the monotonic part is known; the linear phase checks validity.
            self.search.passes_predicate(node)
        }
    }

    /// Depth-first from `start` over the nodes above it, checking each once.
    fn linear_search(&mut self, start: usize) {
        let mut stack = vec![start];
        while let Some(node) = stack.pop() {
            if self.skip_linear(node) {
                continue;
            }
            self.visited[node] = true;
            let evaluation = self.search.evaluate(node);
            self.track(node, &evaluation);
            if evaluation.valid && self.metric_monotonic {
                self.prune_above(node);
            }
            let successors = self.sorted_successors(node);
            stack.extend(successors.into_iter().rev());
        }
    }

    fn skip_linear(&self, node: usize) -> bool {
        if self.visited[node] || self.pruned[node] || self.search.status[node] == Status::Failed {
            return true;
        }
        let problem = self.search.problem;
        self.prune_by_bound
            && self
                .best
                .is_some_and(|(best_loss, _, _)| problem.bound(&self.search.lattice.levels(node)) > best_loss)
    }

    /// Marks every node strictly above `node` as unable to beat it.
    fn prune_above(&mut self, node: usize) {
        let lattice = self.search.lattice;
        let mut stack = vec![node];
        while let Some(current) = stack.pop() {
            for dimension in 0..lattice.n_dimensions() {
                if let Some(successor) = lattice.successor(current, dimension)
                    && !self.pruned[successor]
                {
                    self.pruned[successor] = true;
                    stack.push(successor);
                }
            }
        }
    }

    /// Keeps the best valid checked node: least loss, then height, then index. The loss is taken as the
    /// exact search takes it, so that both agree to the bit.
    fn track(&mut self, node: usize, evaluation: &Evaluation) {
        if !evaluation.valid {
            return;
        }
        let problem = self.search.problem;
        let lattice = self.search.lattice;
        let loss =
            if problem.bound_is_loss() { problem.bound(&lattice.levels(node)) } else { evaluation.loss };
        let candidate = (loss, lattice.height(node), node);
        if self.best.is_none_or(|best| candidate < best) {
            self.best = Some(candidate);
        }
    }
}
