//! A budgeted best-first search for lattices too large to search fully, in the manner of ARX's Lightning
//! algorithm (`LIGHTNINGAlgorithm`): nodes are level vectors, never indexes, so the lattice may have any
//! size; only checked nodes are stored.
//!
//! First, with up to half the budget, a greedy descent from the top (as ARX's top-down Lightning variant):
//! check all predecessors of the current node and move to the valid one with the least loss, until none is
//! valid. It only ever moves through valid nodes, so its answer improves with every step, which matters on
//! lattices whose valid nodes all lie far above the bottom.
//!
//! Then, with the rest, best-first from the bottom as Lightning: repeatedly take the checked node with the
//! least loss that was not expanded yet and check all its successors; every `top height`-th step instead
//! follow the cheapest successor greedily towards the top (a depth-first dive without backtracking). A node
//! whose lower bound already reaches the best loss is not expanded. The search stops when it needs a check
//! beyond `max_checks`. The answer is the best valid node checked, so a valid top always yields one; it is
//! optimal when the queue ran empty within the budget (every node was checked or bounded out).

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::rc::Rc;

use super::{ClassList, MAX_CACHED_ENTRIES, Metric, Problem};

/// What the heuristic found.
pub(in crate::kanon) struct HeuristicOutcome {
    /// The levels of the best valid node checked, if any.
    pub(in crate::kanon) best: Option<Vec<usize>>,
    pub(in crate::kanon) n_checked: usize,
    /// Whether the search ran to the end within the budget, which proves the answer optimal.
    pub(in crate::kanon) exhausted: bool,
}

/// Runs the heuristic with a budget of `max_checks` checks (at least the bottom and the top are checked).
pub(in crate::kanon) fn heuristic(problem: &Problem<'_>, max_checks: usize) -> HeuristicOutcome {
    let top_levels = problem.top_levels().to_vec();
    let stepping = top_levels.iter().sum::<usize>().max(1);
    let mut state = Heuristic {
        problem,
        top_levels,
        max_checks,
        checked: HashMap::new(),
        expanded: HashSet::new(),
        cache: HashMap::new(),
        n_cached_entries: 0,
        queue: BinaryHeap::new(),
        best: None,
        cut_short: false,
    };
    let bottom = vec![0; state.top_levels.len()];
    let top = state.top_levels.clone();
    state.check(&top, None);
    state.check(&bottom, None);
    state.descend(top, max_checks / 2);
    state.queue.push(Queued { loss: state.checked[&bottom].loss, levels: bottom });
    let mut step = 0usize;
    while let Some(Queued { levels, .. }) = state.queue.pop() {
        if state.cut_short {
            break;
        }
        if state.expanded.contains(&levels) || state.bounded_out(&levels) {
            continue;
        }
        step += 1;
        if step.is_multiple_of(stepping) {
            state.dive(levels);
        } else {
            state.expand(&levels);
        }
    }
    HeuristicOutcome {
        best: state.best.map(|(_, _, levels)| levels),
        n_checked: state.checked.len(),
        exhausted: !state.cut_short,
    }
}

/// A checked node's measurements.
struct Checked {
    loss: f64,
    valid: bool,
    // A lower bound of the loss of this node and of every node above it, when the metric has one.
    bound: Option<f64>,
}

/// A queue entry: the least loss first, then the lowest, then the lexicographically smallest levels.
struct Queued {
    loss: f64,
    levels: Vec<usize>,
}

impl Queued {
    fn key(&self) -> (f64, usize, &[usize]) {
        (self.loss, self.levels.iter().sum(), &self.levels)
    }
}

// Reversed, so that the max-heap pops the cheapest node.
impl Ord for Queued {
    fn cmp(&self, other: &Queued) -> Ordering {
        let (loss, height, levels) = self.key();
        let (other_loss, other_height, other_levels) = other.key();
        other_loss.total_cmp(&loss).then(other_height.cmp(&height)).then(other_levels.cmp(levels))
    }
}

impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Queued) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Queued {
    fn eq(&self, other: &Queued) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Queued {}

struct Heuristic<'p, 'a> {
    problem: &'p Problem<'a>,
    top_levels: Vec<usize>,
    max_checks: usize,
    checked: HashMap<Vec<usize>, Checked>,
    expanded: HashSet<Vec<usize>>,
    // Fine groupings of checked nodes, to roll their successors up from, up to `MAX_CACHED_ENTRIES`.
    cache: HashMap<Vec<usize>, Rc<ClassList>>,
    n_cached_entries: usize,
    queue: BinaryHeap<Queued>,
    // The best valid node checked: (loss, height, levels).
    best: Option<(f64, usize, Vec<usize>)>,
    // The budget ran out while successors were left unchecked.
    cut_short: bool,
}

impl Heuristic<'_, '_> {
    fn must_stop(&self) -> bool {
        self.checked.len() >= self.max_checks
    }

    /// Greedy descent from `levels` (valid, or the top) through valid predecessors, while fewer than
    /// `max_checks` nodes are checked.
    fn descend(&mut self, levels: Vec<usize>, max_checks: usize) {
        let mut current = levels;
        loop {
            let mut cheapest: Option<(f64, Vec<usize>)> = None;
            for dimension in 0..current.len() {
                if current[dimension] == 0 {
                    continue;
                }
                let mut predecessor = current.clone();
                predecessor[dimension] -= 1;
                if !self.checked.contains_key(&predecessor) {
                    if self.checked.len() >= max_checks {
                        return;
                    }
                    self.check(&predecessor, None);
                }
                let checked = &self.checked[&predecessor];
                if checked.valid && cheapest.as_ref().is_none_or(|(least, _)| checked.loss < *least) {
                    cheapest = Some((checked.loss, predecessor));
                }
            }
            match cheapest {
                Some((_, next)) => current = next,
                None => return,
            }
        }
    }

    fn bounded_out(&self, levels: &[usize]) -> bool {
        let bound = self.checked.get(levels).and_then(|checked| checked.bound);
        match (bound, &self.best) {
            (Some(bound), Some((best_loss, _, _))) => bound >= *best_loss,
            _ => false,
        }
    }

    /// Groups and measures `levels` unless already checked, rolling up from `parent`'s grouping if cached.
    fn check(&mut self, levels: &[usize], parent: Option<&[usize]>) {
        if self.checked.contains_key(levels) {
            return;
        }
        let problem = self.problem;
        let source = parent.and_then(|parent| self.cache.get(parent)).cloned();
        let fine = Rc::new(problem.fine(source.as_deref(), levels).classes);
        let (groups, released) = problem.classes(&fine, levels);
        let valid = problem.within_suppression_limit(&groups.classes, &released);
        let measured = problem.measure(levels, &groups.classes, &released);
        let bound = if problem.metric.has_level_bound() {
            Some(problem.bound(levels))
        } else if matches!(problem.metric, Metric::Discernibility { .. }) {
            // DM* never decreases upwards and never exceeds DM.
            Some(measured.discernibility_star)
        } else {
            None
        };
        let height = levels.iter().sum();
        if valid
            && self.best.as_ref().is_none_or(|(loss, best_height, best_levels)| {
                (measured.loss, height, levels) < (*loss, *best_height, best_levels.as_slice())
            })
        {
            self.best = Some((measured.loss, height, levels.to_vec()));
        }
        if self.n_cached_entries + fine.counts.len() <= MAX_CACHED_ENTRIES {
            self.n_cached_entries += fine.counts.len();
            self.cache.insert(levels.to_vec(), fine);
        }
        self.checked.insert(levels.to_vec(), Checked { loss: measured.loss, valid, bound });
    }

    /// Checks and queues the successors of `levels` not expanded yet; returns the cheapest, or `None` when
    /// there is none or the budget ran out.
    fn expand(&mut self, levels: &[usize]) -> Option<Vec<usize>> {
        let mut cheapest: Option<(f64, Vec<usize>)> = None;
        for dimension in 0..levels.len() {
            if levels[dimension] == self.top_levels[dimension] {
                continue;
            }
            let mut successor = levels.to_vec();
            successor[dimension] += 1;
            if self.expanded.contains(&successor) {
                continue;
            }
            if !self.checked.contains_key(&successor) {
                if self.must_stop() {
                    self.cut_short = true;
                    return None;
                }
                self.check(&successor, Some(levels));
            }
            let loss = self.checked[&successor].loss;
            if cheapest.as_ref().is_none_or(|(least, _)| loss < *least) {
                cheapest = Some((loss, successor.clone()));
            }
            self.queue.push(Queued { loss, levels: successor });
        }
        self.expanded.insert(levels.to_vec());
        cheapest.map(|(_, successor)| successor)
    }

    /// Follows the cheapest successor from `levels` until the top or the budget.
    fn dive(&mut self, levels: Vec<usize>) {
        let mut current = levels;
        while let Some(next) = self.expand(&current) {
            current = next;
        }
    }
}
