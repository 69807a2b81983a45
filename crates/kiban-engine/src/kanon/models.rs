//! Privacy models (プライバシーモデル) checked per equivalence class, with ARX's exact definitions:
//! k-anonymity, distinct-, entropy- and recursive-(c,l)-diversity, and t-closeness with equal or
//! hierarchical ground distance.
//!
//! A class that fails any model is suppressed; a transformation is valid when the suppressed rows stay
//! within the limit. The t-closeness reference distribution is the sensitive attribute's distribution over
//! *all* input rows, including rows that a transformation suppresses (as ARX computes it once from the
//! input).

use crate::hierarchy::Hierarchy;

/// A privacy requirement on every released equivalence class. `attribute` names a
/// [`super::SensitiveAttribute`] (機微属性).
#[derive(Debug, Clone, PartialEq)]
pub enum PrivacyModel {
    /// Every class has at least `k` rows.
    KAnonymity { k: usize },
    /// Every class has at least `l` distinct sensitive values.
    DistinctLDiversity { attribute: String, l: usize },
    /// The Shannon entropy (base 2) of the class's sensitive values is at least `log2(l)`, and the class has
    /// at least `ceil(l)` distinct values (ARX's definition).
    EntropyLDiversity { attribute: String, l: f64 },
    /// With the class's value frequencies sorted descending `r1 ≥ r2 ≥ … ≥ rm`: `m ≥ l` and
    /// `r1 < c × (r_l + … + r_m)`.
    RecursiveCLDiversity { attribute: String, c: f64, l: usize },
    /// The earth mover's distance between the class's and the whole table's sensitive distribution, with
    /// every two distinct values at distance 1, is at most `t`.
    EqualDistanceTCloseness { attribute: String, t: f64 },
    /// As [`PrivacyModel::EqualDistanceTCloseness`] with the hierarchical ground distance of Li et al.
    /// (two values are `level(lowest common ancestor) / height` apart) over the sensitive attribute's
    /// hierarchy, which it then must have.
    HierarchicalDistanceTCloseness { attribute: String, t: f64 },
}

impl PrivacyModel {
    /// The sensitive attribute the model is about, if any.
    pub fn attribute(&self) -> Option<&str> {
        match self {
            PrivacyModel::KAnonymity { .. } => None,
            PrivacyModel::DistinctLDiversity { attribute, .. }
            | PrivacyModel::EntropyLDiversity { attribute, .. }
            | PrivacyModel::RecursiveCLDiversity { attribute, .. }
            | PrivacyModel::EqualDistanceTCloseness { attribute, .. }
            | PrivacyModel::HierarchicalDistanceTCloseness { attribute, .. } => Some(attribute),
        }
    }

    /// Whether the model stays satisfied when suppression is allowed and classes merge: a class that
    /// satisfies it, merged with any other class, still satisfies it. Then the number of suppressed rows
    /// never grows with generalization and validity is monotonic in the lattice.
    pub(crate) fn monotonic_with_suppression(&self) -> bool {
        matches!(self, PrivacyModel::KAnonymity { .. } | PrivacyModel::DistinctLDiversity { .. })
    }
}

/// One model prepared for checking: parameters resolved, reference distributions computed.
#[derive(Debug)]
pub(crate) enum Check {
    DistinctL { attribute: usize, l: usize },
    EntropyL { attribute: usize, min_size: usize, log2_l: f64 },
    RecursiveCL { attribute: usize, c: f64, l: usize },
    EqualT { attribute: usize, t: f64, global: Vec<f64> },
    HierarchicalT { attribute: usize, t: f64, emd: HierarchicalEmd },
}

fn log2(value: f64) -> f64 {
    value.ln() / std::f64::consts::LN_2
}

impl Check {
    pub(crate) fn attribute(&self) -> usize {
        match self {
            Check::DistinctL { attribute, .. }
            | Check::EntropyL { attribute, .. }
            | Check::RecursiveCL { attribute, .. }
            | Check::EqualT { attribute, .. }
            | Check::HierarchicalT { attribute, .. } => *attribute,
        }
    }

    /// Whether a class of `count` rows whose sensitive values have the frequencies `distribution`
    /// (`(value, frequency)`, values distinct, frequencies positive) satisfies the model.
    pub(crate) fn satisfies(&self, count: u32, distribution: &[(u32, u32)]) -> bool {
        match self {
            Check::DistinctL { l, .. } => distribution.len() >= *l,
            Check::EntropyL { min_size, log2_l, .. } => {
                if distribution.len() < *min_size {
                    return false;
                }
                let mut total = 0.0;
                let mut sum = 0.0;
                for &(_, frequency) in distribution {
                    let frequency = f64::from(frequency);
                    sum += frequency * log2(frequency);
                    total += frequency;
                }
                -((sum / total) - log2(total)) >= *log2_l
            }
            Check::RecursiveCL { c, l, .. } => {
                if distribution.len() < *l {
                    return false;
                }
                let mut frequencies: Vec<u32> =
                    distribution.iter().map(|&(_, frequency)| frequency).collect();
                frequencies.sort_unstable();
                // Ascending: the l-th largest and all smaller ones are the first `len − l + 1`.
                let tail: f64 = frequencies[..=frequencies.len() - l].iter().map(|&f| f64::from(f)).sum();
                let largest = frequencies.last().copied().map_or(0.0, f64::from);
                largest < c * tail
            }
            Check::EqualT { t, global, .. } => {
                let count = f64::from(count);
                let mut distance = 1.0;
                for &(value, frequency) in distribution {
                    let reference = global[value as usize];
                    distance += (reference - f64::from(frequency) / count).abs() - reference;
                }
                distance / 2.0 <= *t
            }
            Check::HierarchicalT { t, emd, .. } => emd.distance(count, distribution) <= *t,
        }
    }
}

/// The relative frequency of each sensitive value over all rows.
pub(crate) fn global_distribution(codes: &[u32], n_values: usize) -> Vec<f64> {
    let mut counts = vec![0u64; n_values];
    for &code in codes {
        counts[code as usize] += 1;
    }
    let total = codes.len() as f64;
    counts.iter().map(|&count| count as f64 / total).collect()
}

/// The earth mover's distance with hierarchical ground distance, computed bottom-up over the hierarchy's
/// levels as in Li et al.: each node passes up the net surplus of its subtree, and moving `min(surplus,
/// deficit)` within a node at level `i` costs `i / height` per unit.
#[derive(Debug)]
pub(crate) struct HierarchicalEmd {
    height: usize,
    // Row counts of each leaf over the whole table, and the table's row count.
    global: Vec<i64>,
    n_rows: i64,
    // `parents[level - 1][code at level − 1]` is the code at `level`, for levels 1..=height.
    parents: Vec<Vec<u32>>,
    n_codes: Vec<usize>,
}

impl HierarchicalEmd {
    /// `codes[row]` is each row's leaf in `hierarchy`.
    pub(crate) fn new(hierarchy: &Hierarchy, codes: &[u32]) -> HierarchicalEmd {
        let mut global = vec![0i64; hierarchy.domain_size()];
        for &code in codes {
            global[code as usize] += 1;
        }
        let height = hierarchy.top_level();
        let n_codes: Vec<usize> = (0..=height).map(|level| hierarchy.n_codes(level)).collect();
        let parents = (1..=height)
            .map(|level| {
                let mut parent = vec![0u32; n_codes[level - 1]];
                let below = hierarchy.codes(level - 1);
                let above = hierarchy.codes(level);
                for (&child, &code) in below.iter().zip(above) {
                    parent[child as usize] = code;
                }
                parent
            })
            .collect();
        HierarchicalEmd { height, global, n_rows: codes.len() as i64, parents, n_codes }
    }

    fn distance(&self, count: u32, distribution: &[(u32, u32)]) -> f64 {
        if self.height == 0 {
            return 0.0;
        }
        let class_rows = i64::from(count);
        // Scaled by n_rows × class_rows to stay in integers: surplus of leaf i is p_i·Q − q_i·P.
        let mut net: Vec<i64> = self.global.iter().map(|&global| global * class_rows).collect();
        for &(value, frequency) in distribution {
            net[value as usize] -= i64::from(frequency) * self.n_rows;
        }
        let mut cost = 0.0;
        for level in 1..=self.height {
            let mut positive = vec![0i64; self.n_codes[level]];
            let mut negative = vec![0i64; self.n_codes[level]];
            for (child, &extra) in net.iter().enumerate() {
                let parent = self.parents[level - 1][child] as usize;
                if extra > 0 {
                    positive[parent] += extra;
                } else {
                    negative[parent] -= extra;
                }
            }
            let moved: i64 = positive.iter().zip(&negative).map(|(&pos, &neg)| pos.min(neg)).sum();
            cost += level as f64 / self.height as f64 * moved as f64;
            net = positive.iter().zip(&negative).map(|(&pos, &neg)| pos - neg).collect();
        }
        cost / (self.n_rows as f64 * class_rows as f64)
    }
}
