//! k^m-anonymity of each person's set of codes (Rule 18 ⑤), by global generalization along a
//! [`CodeHierarchy`], after Terrovitis, Mamoulis and Kalnis, "Privacy-preserving anonymization of
//! set-valued data" (VLDB 2008). With `m = 1` it is the treatment of rare codes (peculiar values, Rule 18
//! ④): a code held by fewer than `k` persons goes up its hierarchy.
//!
//! A family of sets is *k^m-anonymous* when every itemset of at most `m` codes that is contained in some
//! person's set is contained in the sets of at least `k` persons: an adversary who knows up to `m` of a
//! person's codes always finds at least `k` candidates. [`km_violations`] counts the itemsets that break it.
//!
//! # Recoding
//!
//! The result is a *global* recoding ([`KmSolution`]): each original code is released as itself, as one of
//! its ancestors, or suppressed (removed from the sets), identically in every person's set. The released
//! nodes form a *cut* through the hierarchy: no released code is an ancestor of another, so `E11` and
//! `E119` are never released together — generalizing `E119` to `E11` takes every observed `E11x` with it.
//! When the input itself holds a code and one of its ancestors, the finer code starts at that ancestor.
//! A code is suppressed when that costs less than generalizing: suppressing a rare code costs its few
//! items, while generalizing it can take a whole common sibling group up with it.
//!
//! # Information loss
//!
//! NCP-like, per (person, code) item, averaged over the items of the input: with `n` distinct codes
//! observed, an item whose code covers `c₀` observed codes (1 for a leaf) released as a node covering `c`
//! of them costs `(c − c₀) / (n − 1)` (`(c − 1) / (n − 1)` for a leaf, 0 when unchanged, 1 for a node
//! covering every observed code); a suppressed item costs 1. With a single observed code nothing but
//! suppression costs anything.
//!
//! # Algorithm
//!
//! The Apriori strategy of the paper's AA algorithm, with a greedy choice of generalizations:
//!
//! 1. for itemset sizes `i = 1..=m`, repeat passes until no `i`-itemset is violating (generalization is
//!    monotone: it never breaks a smaller size already fixed, so sizes are fixed in increasing order);
//! 2. a pass counts the supports of all `i`-itemsets of the generalized sets and collects the violating ones;
//! 3. a violating itemset can be repaired by a *step* on one of its items: replacing the item's cut node,
//!    and every cut node under the same ancestor, by its lowest ancestor that covers more observed codes,
//!    or suppressing the item; the loss each adds decides;
//! 4. steps are chosen like a weighted set cover: least loss added per violating itemset touched first
//!    (lazily re-scored), each violating itemset claimed by at most one step per pass, and no two chosen
//!    steps on one root-to-leaf path; all chosen steps are applied, and the next pass re-counts.
//!
//! Every pass applies at least one step and every step moves part of the cut strictly up or suppresses it,
//! so the search terminates. Decisions depend only on supports, costs and code strings (ties go to the
//! smaller code), never on the order of persons or hash iteration, so the output is deterministic.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::hash::{BuildHasherDefault, Hash, Hasher};

use crate::codes::{CodeHierarchy, MAX_HIERARCHY_DEPTH};

#[cfg(test)]
mod tests;

/// Makes `sets` k^m-anonymous by global generalization along `hierarchy`, with the least information loss
/// the greedy finds, and returns the recoding (see the module documentation).
///
/// Codes repeated within a person count once; empty sets are fine. `k <= 1` or `m == 0` asks for nothing
/// and releases every code unchanged (apart from a code that the input also holds an ancestor of). The
/// cost grows with the number of `m`-subsets of each set: keep `m` small (1–3) for large sets.
///
/// Fails closed: should the codes and their ancestors exceed 2³² − 1 distinct strings, every code is
/// suppressed.
#[must_use]
pub fn anonymize<S: AsRef<str>>(
    sets: &[Vec<S>],
    k: usize,
    m: usize,
    hierarchy: &dyn CodeHierarchy,
) -> KmSolution {
    let Some(input) = Interned::new(sets) else { return KmSolution::suppressing_all(sets, k, m) };
    let Some(forest) = Forest::build(&input.codes, hierarchy) else {
        return KmSolution::suppressing_all(sets, k, m);
    };
    let persons = input.persons.map(|code| forest.node_of_code[code as usize]);
    let mut search = Search::new(&forest, persons, to_u64(k), usize::MAX);
    let initial_violations = if k > 1 { count_violations(&input.persons, to_u64(k), m) } else { 0 };
    if k > 1 {
        search.run(m);
    }
    KmSolution::from_search(&search, hierarchy, k, m, initial_violations)
}

/// [`anonymize`] with at most `steps_per_pass` steps per pass, to compare with the pure greedy.
#[cfg(test)]
fn anonymize_stepwise<S: AsRef<str>>(
    sets: &[Vec<S>],
    k: usize,
    m: usize,
    hierarchy: &dyn CodeHierarchy,
    steps_per_pass: usize,
) -> Option<KmSolution> {
    let input = Interned::new(sets)?;
    let forest = Forest::build(&input.codes, hierarchy)?;
    let persons = input.persons.map(|code| forest.node_of_code[code as usize]);
    let mut search = Search::new(&forest, persons, to_u64(k), steps_per_pass);
    search.run(m);
    Some(KmSolution::from_search(&search, hierarchy, k, m, 0))
}

/// The number of itemsets of 1 to `m` codes contained in at least one and fewer than `k` of `sets` — 0
/// exactly when `sets` is k^m-anonymous. Codes repeated within a set count once.
#[must_use]
pub fn km_violations<S: AsRef<str>>(sets: &[Vec<S>], k: usize, m: usize) -> usize {
    match Interned::new(sets) {
        Some(input) => count_violations(&input.persons, to_u64(k), m),
        // Unreachable in practice (2³² distinct codes); report every itemset as unproven.
        None => usize::MAX,
    }
}

/// A global recoding of codes and the statistics of how it was found.
#[derive(Debug, Clone, PartialEq)]
pub struct KmSolution {
    // Every distinct input code → its released form; `None` is suppressed.
    recoding: BTreeMap<String, Option<String>>,
    stats: KmStats,
}

/// Statistics of a [`KmSolution`] for the release report. Counts of codes are of distinct codes; items are
/// (person, distinct code) pairs.
#[derive(Debug, Clone, PartialEq)]
pub struct KmStats {
    pub k: usize,
    pub m: usize,
    pub n_persons: usize,
    pub n_items: usize,
    pub distinct_codes_in: usize,
    /// Distinct codes released (after generalization and suppression).
    pub distinct_codes_out: usize,
    pub unchanged_codes: usize,
    /// Codes released as a coarser code, per hierarchy level of the released code, ascending.
    pub generalized: Vec<LevelCount>,
    pub suppressed_codes: usize,
    pub suppressed_items: usize,
    /// Information loss, 0 (none) to 1 (everything suppressed); see the module documentation.
    pub loss: f64,
    /// Violating itemsets of the input (see [`km_violations`]).
    pub initial_violations: usize,
    /// Counting passes the search made.
    pub passes: usize,
}

/// How many codes (and their items) were released at one level of the hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelCount {
    pub level: usize,
    pub name: &'static str,
    pub codes: usize,
    pub items: usize,
}

impl KmSolution {
    /// The released form of `code`, owned; `None` when it is suppressed. A code that was not in the input
    /// is suppressed too: nothing proves it safe.
    #[must_use]
    pub fn recode(&self, code: &str) -> Option<String> {
        self.released(code).map(str::to_owned)
    }

    /// The released form of `code`, borrowed; `None` when it is suppressed or was not in the input.
    #[must_use]
    pub fn released(&self, code: &str) -> Option<&str> {
        self.recoding.get(code).and_then(Option::as_deref)
    }

    /// Every input code with its released form (`None`: suppressed), in code order.
    pub fn recoding(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.recoding.iter().map(|(code, released)| (code.as_str(), released.as_deref()))
    }

    /// Applies the recoding to sets: each set's released codes, sorted and without duplicates.
    #[must_use]
    pub fn recode_sets<S: AsRef<str>>(&self, sets: &[Vec<S>]) -> Vec<Vec<String>> {
        sets.iter()
            .map(|set| {
                let released: BTreeSet<&str> =
                    set.iter().filter_map(|code| self.released(code.as_ref())).collect();
                released.into_iter().map(str::to_owned).collect()
            })
            .collect()
    }

    #[must_use]
    pub fn stats(&self) -> &KmStats {
        &self.stats
    }

    /// The information loss, 0 to 1 (see the module documentation).
    #[must_use]
    pub fn loss(&self) -> f64 {
        self.stats.loss
    }

    /// Distinct codes affected, per outcome, for a report: one entry per level codes were generalized to,
    /// named by `hierarchy` (the one the solution was computed with), then `("suppressed", n)`.
    #[must_use]
    pub fn outcome_counts(&self, hierarchy: &dyn CodeHierarchy) -> Vec<(String, usize)> {
        let mut counts: Vec<(String, usize)> = self
            .stats
            .generalized
            .iter()
            .map(|level| (hierarchy.level_name(level.level).to_owned(), level.codes))
            .collect();
        if self.stats.suppressed_codes > 0 {
            counts.push(("suppressed".to_owned(), self.stats.suppressed_codes));
        }
        counts
    }

    fn from_search(
        search: &Search<'_>,
        hierarchy: &dyn CodeHierarchy,
        k: usize,
        m: usize,
        initial_violations: usize,
    ) -> KmSolution {
        let forest = search.forest;
        let n_observed = forest.n_observed();
        let mut recoding = BTreeMap::new();
        let mut released_nodes = BTreeSet::new();
        let mut by_level: BTreeMap<usize, LevelCount> = BTreeMap::new();
        let (mut unchanged_codes, mut suppressed_codes, mut suppressed_items) = (0, 0, 0);
        let mut total_loss = 0.0;
        for node in forest.observed_nodes() {
            let freq = search.freq[node as usize];
            let label = forest.label(node);
            let released = search.release[node as usize];
            match released {
                None => {
                    suppressed_codes += 1;
                    suppressed_items += freq;
                    total_loss += to_f64(freq);
                }
                Some(released) => {
                    released_nodes.insert(released);
                    let widened =
                        forest.covered[released as usize].saturating_sub(forest.covered[node as usize]);
                    if n_observed > 1 {
                        total_loss += to_f64(freq) * to_f64(widened) / to_f64(to_u64(n_observed - 1));
                    }
                    if released == node {
                        unchanged_codes += 1;
                    } else {
                        let level = hierarchy.level(forest.label(released));
                        let entry = by_level.entry(level).or_insert_with(|| LevelCount {
                            level,
                            name: hierarchy.level_name(level),
                            codes: 0,
                            items: 0,
                        });
                        entry.codes += 1;
                        entry.items += to_usize(freq);
                    }
                }
            }
            recoding.insert(label.to_owned(), released.map(|released| forest.label(released).to_owned()));
        }
        let n_items = search.persons.items.len();
        let stats = KmStats {
            k,
            m,
            n_persons: search.persons.len(),
            n_items,
            distinct_codes_in: n_observed,
            distinct_codes_out: released_nodes.len(),
            unchanged_codes,
            generalized: by_level.into_values().collect(),
            suppressed_codes,
            suppressed_items: to_usize(suppressed_items),
            loss: if n_items == 0 { 0.0 } else { total_loss / to_f64(to_u64(n_items)) },
            initial_violations,
            passes: search.passes,
        };
        KmSolution { recoding, stats }
    }

    /// The fail-closed answer: every code suppressed.
    fn suppressing_all<S: AsRef<str>>(sets: &[Vec<S>], k: usize, m: usize) -> KmSolution {
        let distinct: BTreeSet<&str> = sets.iter().flatten().map(AsRef::as_ref).collect();
        let n_items =
            sets.iter().map(|set| set.iter().map(AsRef::as_ref).collect::<BTreeSet<&str>>().len()).sum();
        let stats = KmStats {
            k,
            m,
            n_persons: sets.len(),
            n_items,
            distinct_codes_in: distinct.len(),
            distinct_codes_out: 0,
            unchanged_codes: 0,
            generalized: Vec::new(),
            suppressed_codes: distinct.len(),
            suppressed_items: n_items,
            loss: if n_items == 0 { 0.0 } else { 1.0 },
            initial_violations: 0,
            passes: 0,
        };
        KmSolution { recoding: distinct.into_iter().map(|code| (code.to_owned(), None)).collect(), stats }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Input: interned sets
// ---------------------------------------------------------------------------------------------------------

/// Rows of ids, each sorted and without duplicates (compressed sparse rows).
#[derive(Debug, Clone, Default)]
struct Rows {
    // Invariant: offsets[0] == 0, non-decreasing, last == items.len().
    offsets: Vec<usize>,
    items: Vec<u32>,
}

impl Rows {
    fn new() -> Rows {
        Rows { offsets: vec![0], items: Vec::new() }
    }

    fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    fn iter(&self) -> impl Iterator<Item = &[u32]> {
        self.offsets.windows(2).map(|bounds| &self.items[bounds[0]..bounds[1]])
    }

    /// Appends a row, sorting it and dropping duplicates.
    fn push_row(&mut self, row: &mut Vec<u32>) {
        row.sort_unstable();
        row.dedup();
        self.items.extend_from_slice(row);
        self.offsets.push(self.items.len());
    }

    /// The rows with every id mapped (then re-sorted and deduplicated).
    fn map(&self, mut f: impl FnMut(u32) -> u32) -> Rows {
        let mut mapped = Rows::new();
        mapped.items.reserve(self.items.len());
        let mut buffer = Vec::new();
        for row in self.iter() {
            buffer.clear();
            buffer.extend(row.iter().map(|&id| f(id)));
            mapped.push_row(&mut buffer);
        }
        mapped
    }
}

/// The input with codes interned: ids are ranks in string order, so comparing ids compares codes.
struct Interned {
    /// Distinct codes, sorted.
    codes: Vec<String>,
    persons: Rows,
}

impl Interned {
    /// `None` when there are more than `u32::MAX` distinct codes.
    fn new<S: AsRef<str>>(sets: &[Vec<S>]) -> Option<Interned> {
        let mut index: HashMap<&str, u32, FastBuild> = HashMap::default();
        let mut first_seen: Vec<&str> = Vec::new();
        let mut persons = Rows::new();
        let mut row = Vec::new();
        for set in sets {
            row.clear();
            for code in set {
                let code = code.as_ref();
                let id = if let Some(&id) = index.get(code) {
                    id
                } else {
                    let id = u32::try_from(first_seen.len()).ok().filter(|&id| id < u32::MAX)?;
                    index.insert(code, id);
                    first_seen.push(code);
                    id
                };
                row.push(id);
            }
            persons.push_row(&mut row);
        }
        let mut order: Vec<u32> = (0..to_u32(first_seen.len())).collect();
        order.sort_unstable_by_key(|&id| first_seen[id as usize]);
        let mut rank = vec![0u32; order.len()];
        for (position, &id) in order.iter().enumerate() {
            rank[id as usize] = to_u32(position);
        }
        let codes = order.iter().map(|&id| first_seen[id as usize].to_owned()).collect();
        Some(Interned { codes, persons: persons.map(|id| rank[id as usize]) })
    }
}

// ---------------------------------------------------------------------------------------------------------
// The forest of observed codes and their ancestors
// ---------------------------------------------------------------------------------------------------------

/// The observed codes and all their ancestors, as nodes numbered in string order.
struct Forest {
    labels: Vec<String>,
    // Invariant: acyclic; a node's parent chain ends at a root (None).
    parent: Vec<Option<u32>>,
    observed: Vec<bool>,
    /// Observed codes in the node's subtree, itself included (`c` in the loss).
    covered: Vec<u64>,
    /// The lowest proper ancestor covering more observed codes: where a generalization step goes.
    step_up: Vec<Option<u32>>,
    /// Node of each input code id.
    node_of_code: Vec<u32>,
}

impl Forest {
    /// Walks every code's chain of parents. A chain longer than [`MAX_HIERARCHY_DEPTH`] or one that would
    /// close a cycle is cut there (that node is taken as a root), so a faulty hierarchy still terminates.
    /// `None` when the nodes exceed `u32::MAX`.
    fn build(codes: &[String], hierarchy: &dyn CodeHierarchy) -> Option<Forest> {
        let mut labels: Vec<String> = codes.to_vec();
        let mut ids: HashMap<String, u32, FastBuild> =
            codes.iter().enumerate().map(|(id, code)| (code.clone(), to_u32(id))).collect();
        let mut parent: Vec<Option<u32>> = vec![None; codes.len()];
        let mut walked = vec![false; codes.len()];
        let mut chain: Vec<u32> = Vec::new();
        for start in 0..to_u32(codes.len()) {
            chain.clear();
            chain.push(start);
            let mut current = start;
            while !walked[current as usize] {
                walked[current as usize] = true;
                if chain.len() > MAX_HIERARCHY_DEPTH {
                    break;
                }
                let Some(label) = hierarchy.parent(&labels[current as usize]) else { break };
                let next = if let Some(&id) = ids.get(&label) {
                    id
                } else {
                    let id = u32::try_from(labels.len()).ok().filter(|&id| id < u32::MAX)?;
                    ids.insert(label.clone(), id);
                    labels.push(label);
                    parent.push(None);
                    walked.push(false);
                    id
                };
                if chain.contains(&next) {
                    break;
                }
                parent[current as usize] = Some(next);
                chain.push(next);
                current = next;
            }
        }
        Some(Forest::renumbered(labels, &parent, codes.len()))
    }

    /// Renumbers nodes in string order (so ties broken by id are broken by code) and derives the rest.
    fn renumbered(labels: Vec<String>, parent: &[Option<u32>], n_codes: usize) -> Forest {
        let mut order: Vec<u32> = (0..to_u32(labels.len())).collect();
        order.sort_unstable_by(|&a, &b| labels[a as usize].cmp(&labels[b as usize]));
        let mut rank = vec![0u32; order.len()];
        for (position, &id) in order.iter().enumerate() {
            rank[id as usize] = to_u32(position);
        }
        let mut slots: Vec<Option<String>> = labels.into_iter().map(Some).collect();
        let labels: Vec<String> =
            order.iter().map(|&id| slots[id as usize].take().unwrap_or_default()).collect();
        let parent: Vec<Option<u32>> =
            order.iter().map(|&id| parent[id as usize].map(|up| rank[up as usize])).collect();
        let observed: Vec<bool> = order.iter().map(|&id| (id as usize) < n_codes).collect();
        let node_of_code = rank[..n_codes].to_vec();
        let mut forest =
            Forest { labels, parent, observed, covered: Vec::new(), step_up: Vec::new(), node_of_code };
        forest.covered = forest.count_covered();
        forest.step_up = (0..to_u32(forest.labels.len())).map(|node| forest.find_step_up(node)).collect();
        forest
    }

    fn count_covered(&self) -> Vec<u64> {
        let mut covered = vec![0u64; self.labels.len()];
        for node in self.observed_nodes() {
            for ancestor in self.ancestors_or_self(node) {
                covered[ancestor as usize] += 1;
            }
        }
        covered
    }

    fn find_step_up(&self, node: u32) -> Option<u32> {
        let covered = self.covered[node as usize];
        self.ancestors_or_self(node).skip(1).find(|&ancestor| self.covered[ancestor as usize] > covered)
    }

    fn label(&self, node: u32) -> &str {
        &self.labels[node as usize]
    }

    fn n_nodes(&self) -> usize {
        self.labels.len()
    }

    fn n_observed(&self) -> usize {
        self.node_of_code.len()
    }

    fn observed_nodes(&self) -> impl Iterator<Item = u32> + '_ {
        (0..to_u32(self.labels.len())).filter(|&node| self.observed[node as usize])
    }

    fn ancestors_or_self(&self, node: u32) -> impl Iterator<Item = u32> + '_ {
        std::iter::successors(Some(node), |&node| self.parent[node as usize])
    }
}

// ---------------------------------------------------------------------------------------------------------
// The search
// ---------------------------------------------------------------------------------------------------------

struct Search<'a> {
    forest: &'a Forest,
    /// Each person's observed codes, as node ids.
    persons: Rows,
    /// Persons holding each observed node.
    freq: Vec<u64>,
    /// The current recoding of each observed node (`None`: suppressed); other entries are unused.
    release: Vec<Option<u32>>,
    k: u64,
    /// At most this many steps per pass (tests compare batches with the one-step greedy).
    steps_per_pass: usize,
    passes: usize,
}

/// One generalization step, named by its target: a node to generalize the cut below it to, or a cut
/// node to suppress.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Candidate {
    /// Loss added, in units of `1 / (n − 1)` item.
    cost: u128,
    /// Violating itemsets it touches that no chosen step touches yet.
    benefit: u64,
    target: u32,
}

impl Ord for Candidate {
    /// Greater is better: less cost per itemset, then less cost, then the smaller code.
    fn cmp(&self, other: &Candidate) -> Ordering {
        let ours = self.cost * u128::from(other.benefit);
        let theirs = other.cost * u128::from(self.benefit);
        theirs
            .cmp(&ours)
            .then(other.cost.cmp(&self.cost))
            .then(other.target.cmp(&self.target))
            .then(self.benefit.cmp(&other.benefit))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Candidate) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The current cut: which nodes are released and how many items each carries.
struct Cut {
    member: Vec<bool>,
    items: Vec<u64>,
}

impl<'a> Search<'a> {
    /// Starts from the input, each code at its highest observed ancestor (or itself).
    fn new(forest: &'a Forest, persons: Rows, k: u64, steps_per_pass: usize) -> Search<'a> {
        let mut freq = vec![0u64; forest.n_nodes()];
        for &node in &persons.items {
            freq[node as usize] += 1;
        }
        let release = (0..to_u32(forest.n_nodes()))
            .map(|node| {
                let highest_observed = forest
                    .ancestors_or_self(node)
                    .filter(|&ancestor| forest.observed[ancestor as usize])
                    .last();
                highest_observed.filter(|_| forest.observed[node as usize])
            })
            .collect();
        Search { forest, persons, freq, release, k, steps_per_pass, passes: 0 }
    }

    fn run(&mut self, m: usize) {
        for size in 1..=m {
            loop {
                let sets = self.generalized_sets();
                let violations = violating_itemsets(&sets, size, self.k);
                if violations.is_empty() {
                    break;
                }
                let cut = self.cut();
                let chosen = self.choose_steps(&violations, &cut);
                self.apply(&chosen, &cut);
                self.passes += 1;
            }
        }
    }

    fn generalized_sets(&self) -> Rows {
        let mut sets = Rows::new();
        sets.items.reserve(self.persons.items.len());
        let mut buffer = Vec::new();
        for person in self.persons.iter() {
            buffer.clear();
            buffer.extend(person.iter().filter_map(|&node| self.release[node as usize]));
            sets.push_row(&mut buffer);
        }
        sets
    }

    fn cut(&self) -> Cut {
        let mut cut =
            Cut { member: vec![false; self.forest.n_nodes()], items: vec![0; self.forest.n_nodes()] };
        for node in self.forest.observed_nodes() {
            if let Some(released) = self.release[node as usize] {
                cut.member[released as usize] = true;
                cut.items[released as usize] += self.freq[node as usize];
            }
        }
        cut
    }

    /// Chooses the steps of one pass (see the module documentation, step 4).
    fn choose_steps(&self, violations: &Itemsets, cut: &Cut) -> Vec<u32> {
        let n_nodes = self.forest.n_nodes();
        let mut itemsets_of: Vec<Vec<u32>> = vec![Vec::new(); n_nodes];
        let mut targets = Vec::with_capacity(violations.size);
        for (index, itemset) in violations.iter().enumerate() {
            // Every item can go up a step or be suppressed; the cost decides. Suppressing one rare code
            // costs its few items, where taking it up to the lowest ancestor that covers more codes can
            // drag a whole common sibling group along (one rare E752 must not turn every E119 into E00-E90).
            targets.clear();
            for &node in itemset {
                if let Some(up) = self.forest.step_up[node as usize]
                    && !targets.contains(&up)
                {
                    targets.push(up);
                }
                if !targets.contains(&node) {
                    targets.push(node);
                }
            }
            for &target in &targets {
                itemsets_of[target as usize].push(to_u32(index));
            }
        }
        let costs = self.step_costs(cut);
        let mut heap: BinaryHeap<Candidate> = (0..to_u32(n_nodes))
            .filter(|&target| !itemsets_of[target as usize].is_empty())
            .map(|target| Candidate {
                cost: costs[target as usize],
                benefit: to_u64(itemsets_of[target as usize].len()),
                target,
            })
            .collect();
        let mut claimed = vec![false; violations.len()];
        let mut chosen_here = vec![false; n_nodes];
        let mut below_chosen = vec![false; n_nodes];
        let mut chosen = Vec::new();
        while let Some(candidate) = heap.pop() {
            let its_itemsets = &itemsets_of[candidate.target as usize];
            let fresh = to_u64(its_itemsets.iter().filter(|&&index| !claimed[index as usize]).count());
            if fresh == 0 {
                continue;
            }
            if fresh < candidate.benefit {
                heap.push(Candidate { benefit: fresh, ..candidate });
                continue;
            }
            for &index in its_itemsets {
                claimed[index as usize] = true;
            }
            // A step on the path of a chosen one waits for the next pass, and so do its itemsets.
            let on_chosen_path = below_chosen[candidate.target as usize]
                || self.forest.ancestors_or_self(candidate.target).any(|node| chosen_here[node as usize]);
            if on_chosen_path {
                continue;
            }
            chosen_here[candidate.target as usize] = true;
            for node in self.forest.ancestors_or_self(candidate.target) {
                below_chosen[node as usize] = true;
            }
            chosen.push(candidate.target);
            if chosen.len() >= self.steps_per_pass {
                break;
            }
        }
        chosen
    }

    /// The loss each step would add, per target node, in units of `1 / (n − 1)` item.
    fn step_costs(&self, cut: &Cut) -> Vec<u128> {
        let forest = self.forest;
        let n_observed = u128::from(to_u64(forest.n_observed()));
        let mut items_below = vec![0u128; forest.n_nodes()];
        let mut weighted_below = vec![0u128; forest.n_nodes()];
        for node in 0..to_u32(forest.n_nodes()) {
            if !cut.member[node as usize] {
                continue;
            }
            let items = u128::from(cut.items[node as usize]);
            let covered = u128::from(forest.covered[node as usize]);
            for ancestor in forest.ancestors_or_self(node).skip(1) {
                items_below[ancestor as usize] += items;
                weighted_below[ancestor as usize] += items * covered;
            }
        }
        (0..forest.n_nodes())
            .map(|node| {
                let covered = u128::from(forest.covered[node]);
                if cut.member[node] {
                    u128::from(cut.items[node]) * n_observed.saturating_sub(covered)
                } else {
                    (items_below[node] * covered).saturating_sub(weighted_below[node])
                }
            })
            .collect()
    }

    /// Applies chosen steps: every observed code released under a chosen target moves to it, or is
    /// suppressed when the target is a cut node.
    fn apply(&mut self, chosen: &[u32], cut: &Cut) {
        let mut is_chosen = vec![false; self.forest.n_nodes()];
        for &target in chosen {
            is_chosen[target as usize] = true;
        }
        for node in 0..self.release.len() {
            let Some(released) = self.release[node] else { continue };
            let Some(target) =
                self.forest.ancestors_or_self(released).find(|&ancestor| is_chosen[ancestor as usize])
            else {
                continue;
            };
            self.release[node] = if cut.member[target as usize] { None } else { Some(target) };
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Counting itemsets
// ---------------------------------------------------------------------------------------------------------

/// Itemsets of one size, flattened, sorted.
struct Itemsets {
    size: usize,
    items: Vec<u32>,
}

impl Itemsets {
    fn len(&self) -> usize {
        self.items.len() / self.size.max(1)
    }

    fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn iter(&self) -> impl Iterator<Item = &[u32]> {
        self.items.chunks_exact(self.size.max(1))
    }
}

/// The `size`-itemsets of `sets` with support in `[1, k)`, in itemset order.
fn violating_itemsets(sets: &Rows, size: usize, k: u64) -> Itemsets {
    let mut items = Vec::new();
    visit_violations(sets, size, k, |itemset| items.extend_from_slice(itemset));
    Itemsets { size, items }
}

/// The number of itemsets of sizes `1..=m` with support in `[1, k)`.
fn count_violations(sets: &Rows, k: u64, m: usize) -> usize {
    let largest = sets.iter().map(<[u32]>::len).max().unwrap_or(0);
    let mut count = 0;
    for size in 1..=m.min(largest) {
        visit_violations(sets, size, k, |_| count += 1);
    }
    count
}

/// Calls `visit` with every `size`-itemset of `sets` whose support is in `[1, k)`, in itemset order.
///
/// Singletons and pairs are counted in arrays over the ids present (pairs while the triangle of them
/// stays under [`MAX_DENSE_PAIRS`]), which is several times faster than hashing; larger itemsets, or
/// pairs over a large domain, in a hash map.
fn visit_violations(sets: &Rows, size: usize, k: u64, mut visit: impl FnMut(&[u32])) {
    let rare = |support: u32| support > 0 && u64::from(support) < k;
    match size {
        0 => {}
        1 => {
            let n_ids = sets.items.iter().max().map_or(0, |&id| id as usize + 1);
            let mut supports = vec![0u32; n_ids];
            for &id in &sets.items {
                supports[id as usize] = supports[id as usize].saturating_add(1);
            }
            for (id, &support) in supports.iter().enumerate() {
                if rare(support) {
                    visit(&[to_u32(id)]);
                }
            }
        }
        _ => {
            if size == 2
                && let Some(pairs) = DensePairs::count(sets)
            {
                pairs.visit(rare, visit);
            } else {
                // The narrowest key that holds `size` ids of `bits` bits each.
                let largest = sets.items.iter().max().map_or(0, |&id| id);
                let bits = (u32::BITS - largest.leading_zeros()).max(1);
                let total = u32::try_from(size).map_or(u32::MAX, |size| size.saturating_mul(bits));
                if total <= u64::BITS {
                    visit_hashed::<u64>(sets, size, bits, rare, visit);
                } else if total <= u128::BITS {
                    visit_hashed::<u128>(sets, size, bits, rare, visit);
                } else {
                    visit_hashed::<Box<[u32]>>(sets, size, bits, rare, visit);
                }
            }
        }
    }
}

/// The most pair counters [`DensePairs`] allocates (64 MiB): pairs over up to about 5,800 distinct codes.
const MAX_DENSE_PAIRS: usize = 1 << 24;

/// Supports of all pairs over the ids present, in a triangular array.
struct DensePairs {
    /// The ids present, ascending; their positions are the compact ids.
    ids: Vec<u32>,
    /// `row_start[i]`: where the pairs `(i, j > i)` start in `supports`.
    row_start: Vec<usize>,
    supports: Vec<u32>,
}

impl DensePairs {
    /// `None` when the pairs over the ids present exceed [`MAX_DENSE_PAIRS`].
    fn count(sets: &Rows) -> Option<DensePairs> {
        let mut present = vec![false; sets.items.iter().max().map_or(0, |&id| id as usize + 1)];
        for &id in &sets.items {
            present[id as usize] = true;
        }
        let ids: Vec<u32> = (0..to_u32(present.len())).filter(|&id| present[id as usize]).collect();
        let n = ids.len();
        if n.saturating_mul(n.saturating_sub(1)) / 2 > MAX_DENSE_PAIRS {
            return None;
        }
        let mut compact = vec![0u32; present.len()];
        for (position, &id) in ids.iter().enumerate() {
            compact[id as usize] = to_u32(position);
        }
        let mut row_start = Vec::with_capacity(n);
        let mut next = 0;
        for i in 0..n {
            row_start.push(next);
            next += n - i - 1;
        }
        let mut supports = vec![0u32; next];
        let mut row = Vec::new();
        for set in sets.iter() {
            row.clear();
            row.extend(set.iter().map(|&id| compact[id as usize] as usize));
            for (a, &i) in row.iter().enumerate() {
                // Pair (i, j) with j > i sits at row_start[i] + (j - i - 1).
                let base = row_start[i];
                for &j in &row[a + 1..] {
                    let at = base + (j - i - 1);
                    supports[at] = supports[at].saturating_add(1);
                }
            }
        }
        Some(DensePairs { ids, row_start, supports })
    }

    fn visit(&self, rare: impl Fn(u32) -> bool, mut visit: impl FnMut(&[u32])) {
        for (i, &start) in self.row_start.iter().enumerate() {
            let row = &self.supports[start..start + self.ids.len() - i - 1];
            for (offset, &support) in row.iter().enumerate() {
                if rare(support) {
                    visit(&[self.ids[i], self.ids[i + 1 + offset]]);
                }
            }
        }
    }
}

/// As [`visit_violations`], with the supports in a hash map keyed by `K`.
fn visit_hashed<K: ItemsetKey>(
    sets: &Rows,
    size: usize,
    bits: u32,
    rare: impl Fn(u32) -> bool,
    mut visit: impl FnMut(&[u32]),
) {
    let mut keys: Vec<K> = count_itemsets::<K>(sets, size, bits)
        .into_iter()
        .filter(|(_, support)| rare(*support))
        .map(|(key, _)| key)
        .collect();
    keys.sort_unstable();
    let mut itemset = Vec::with_capacity(size);
    for key in &keys {
        itemset.clear();
        key.unpack(size, bits, &mut itemset);
        visit(&itemset);
    }
}

/// The support of every `size`-itemset contained in some set.
fn count_itemsets<K: ItemsetKey>(sets: &Rows, size: usize, bits: u32) -> HashMap<K, u32, FastBuild> {
    let mut supports: HashMap<K, u32, FastBuild> = HashMap::default();
    let mut positions = Vec::with_capacity(size);
    let mut chosen = Vec::with_capacity(size);
    for set in sets.iter() {
        for_each_combination(set, size, &mut positions, &mut chosen, |itemset| {
            let support = supports.entry(K::pack(itemset, bits)).or_insert(0);
            *support = support.saturating_add(1);
        });
    }
    supports
}

/// Calls `f` with every `size`-subset of `set` (in lexicographic order of positions).
fn for_each_combination(
    set: &[u32],
    size: usize,
    positions: &mut Vec<usize>,
    chosen: &mut Vec<u32>,
    mut f: impl FnMut(&[u32]),
) {
    let n = set.len();
    if size == 0 || n < size {
        return;
    }
    positions.clear();
    positions.extend(0..size);
    loop {
        chosen.clear();
        chosen.extend(positions.iter().map(|&position| set[position]));
        f(chosen);
        // The rightmost position that can still move right.
        let Some(j) = (0..size).rev().find(|&j| positions[j] < n - size + j) else { return };
        positions[j] += 1;
        for next in j + 1..size {
            positions[next] = positions[next - 1] + 1;
        }
    }
}

/// A hashable, ordered key for an itemset of ids in ascending order, each id taking `bits` bits where the
/// key packs them (the first id in the most significant place, so that key order is itemset order).
trait ItemsetKey: Eq + Hash + Ord {
    fn pack(items: &[u32], bits: u32) -> Self;
    /// Appends the `size` ids of the key to `out`, ascending.
    fn unpack(&self, size: usize, bits: u32, out: &mut Vec<u32>);
}

impl ItemsetKey for u64 {
    fn pack(items: &[u32], bits: u32) -> u64 {
        items.iter().fold(0, |key, &item| (key << bits) | u64::from(item))
    }

    fn unpack(&self, size: usize, bits: u32, out: &mut Vec<u32>) {
        unpack_bits(u128::from(*self), size, bits, out);
    }
}

impl ItemsetKey for u128 {
    fn pack(items: &[u32], bits: u32) -> u128 {
        items.iter().fold(0, |key, &item| (key << bits) | u128::from(item))
    }

    fn unpack(&self, size: usize, bits: u32, out: &mut Vec<u32>) {
        unpack_bits(*self, size, bits, out);
    }
}

impl ItemsetKey for Box<[u32]> {
    fn pack(items: &[u32], _bits: u32) -> Box<[u32]> {
        items.into()
    }

    fn unpack(&self, _size: usize, _bits: u32, out: &mut Vec<u32>) {
        out.extend_from_slice(self);
    }
}

fn unpack_bits(key: u128, size: usize, bits: u32, out: &mut Vec<u32>) {
    let mask = (1u128 << bits) - 1;
    for position in (0..to_u32(size)).rev() {
        out.push(low_u32((key >> (bits * position)) & mask));
    }
}

/// A fast non-cryptographic hasher for integer keys (the `FxHash` mix with a final rotation). The keys
/// are ids, not attacker-chosen, so `SipHash`'s protection against collision attacks is not needed.
#[derive(Default, Clone, Copy)]
struct FastHasher {
    hash: u64,
}

type FastBuild = BuildHasherDefault<FastHasher>;

impl FastHasher {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(FastHasher::SEED);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, value: u8) {
        self.add(u64::from(value));
    }

    fn write_u32(&mut self, value: u32) {
        self.add(u64::from(value));
    }

    fn write_u64(&mut self, value: u64) {
        self.add(value);
    }

    fn write_u128(&mut self, value: u128) {
        self.add(low_u64(value));
        self.add(low_u64(value >> 64));
    }

    fn write_usize(&mut self, value: usize) {
        self.add(to_u64(value));
    }

    fn finish(&self) -> u64 {
        self.hash.rotate_left(26)
    }
}

// ---------------------------------------------------------------------------------------------------------
// Conversions
// ---------------------------------------------------------------------------------------------------------

/// A count as `u64`; `usize` is at most 64 bits on supported targets.
fn to_u64(value: usize) -> u64 {
    u64::try_from(value).unwrap_or(u64::MAX)
}

/// A count as `usize`, saturating (only reachable on 32-bit targets with more than 4 billion items).
fn to_usize(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

/// An index known to fit in `u32`: the callers bound their domain by `u32::MAX` first.
fn to_u32(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

#[allow(clippy::cast_precision_loss)] // Counts far below 2^53; the loss is a ratio for reports.
fn to_f64(value: u64) -> f64 {
    value as f64
}

#[allow(clippy::cast_possible_truncation)] // Taking the low bits is the point.
fn low_u32(value: u128) -> u32 {
    value as u32
}

#[allow(clippy::cast_possible_truncation)] // Taking the low bits is the point.
fn low_u64(value: u128) -> u64 {
    value as u64
}
