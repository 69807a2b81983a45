//! Information-loss metrics (情報損失), each computed exactly as ARX computes it, and the lower bounds
//! the search uses to skip transformations without grouping them.

use super::groupify::ClassList;
use crate::hierarchy::Hierarchy;

/// What the search minimizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Metric {
    /// ARX's default "Loss" (MetricMDNMLoss, generalization/suppression factor 0.5, geometric mean over
    /// quasi-identifiers). Per quasi-identifier: the mean over rows of `(leaves(v) − 1) / (D − 1)`, a
    /// suppressed row counting as fully generalized.
    #[default]
    Loss,
    /// Non-uniform entropy, ARX's `Metric.createPrecomputedEntropyMetric(threshold, monotonic)` (the
    /// threshold only decides whether ARX precomputes; it does not change the value). Per
    /// quasi-identifier: `Σ over rows of log2(n(generalized value) / n(original value))`, counts over all
    /// rows, summed over quasi-identifiers. `monotonic`: suppression is ignored (ARX's precomputed
    /// monotonic variant). Not monotonic: the suppressed rows additionally add the entropy of their
    /// generalized values among themselves, `−Σ c × log2(c / n_suppressed)` per quasi-identifier.
    NonUniformEntropy { monotonic: bool },
    /// Discernibility, ARX's `Metric.createDiscernabilityMetric(monotonic)`. `monotonic` (DM*): `Σ |class|²`
    /// over all classes, suppressed ones included. Otherwise (DM): released classes add `|class|²`, each
    /// suppressed row adds `n_rows`.
    Discernibility { monotonic: bool },
    /// Average equivalence-class size: `n_rows / n_classes`, the suppressed rows counting as one class.
    AverageClassSize,
    /// Sweeney's precision (reported as loss, 0 = nothing generalized): per quasi-identifier the mean over
    /// rows of `level / top level` (suppressed rows 1), averaged over quasi-identifiers.
    Precision,
}

impl Metric {
    /// Whether the metric is a sum or mean of per-quasi-identifier values.
    pub fn decomposes(self) -> bool {
        matches!(self, Metric::Loss | Metric::NonUniformEntropy { .. } | Metric::Precision)
    }

    /// Whether the loss can be bounded below without grouping (from the levels alone).
    pub(crate) fn has_level_bound(self) -> bool {
        self.decomposes()
    }

    /// Whether, among transformations that suppress nothing, the level bound is the exact loss.
    pub(crate) fn bound_exact_without_suppression(self) -> bool {
        self.decomposes()
    }
}

/// Per-level sums the metrics need, computed once per search.
pub(crate) struct LevelStats {
    n_rows: usize,
    // `loss_sums[qi][level]`: Σ over rows of `leaves(code at level)`.
    loss_sums: Vec<Vec<u64>>,
    // `entropy[qi][level]`: Σ over original values of `a × log2(a / b)` (≤ 0), `a` the value's count and
    // `b` the count of its generalization, ARX's order of summation (by leaf).
    entropy: Vec<Vec<f64>>,
    top_levels: Vec<usize>,
    domain_sizes: Vec<usize>,
}

fn log2(value: f64) -> f64 {
    value.ln() / std::f64::consts::LN_2
}

impl LevelStats {
    pub(crate) fn new(hierarchies: &[&Hierarchy], columns: &[&[u32]], n_rows: usize) -> LevelStats {
        let mut loss_sums = Vec::new();
        let mut entropy = Vec::new();
        for (hierarchy, leaves) in hierarchies.iter().zip(columns) {
            let mut leaf_rows = vec![0u64; hierarchy.domain_size()];
            for &leaf in *leaves {
                leaf_rows[leaf as usize] += 1;
            }
            let mut sums = Vec::new();
            let mut entropies = Vec::new();
            for level in 0..hierarchy.levels() {
                let codes = hierarchy.codes(level);
                let leaf_counts = hierarchy.leaf_counts(level);
                sums.push(
                    leaf_rows
                        .iter()
                        .zip(codes)
                        .map(|(&rows, &code)| rows * u64::from(leaf_counts[code as usize]))
                        .sum(),
                );
                let mut code_rows = vec![0u64; hierarchy.n_codes(level)];
                for (&rows, &code) in leaf_rows.iter().zip(codes) {
                    code_rows[code as usize] += rows;
                }
                let mut value = 0.0;
                for (&rows, &code) in leaf_rows.iter().zip(codes) {
                    if rows != 0 {
                        let a = rows as f64;
                        value += a * log2(a / code_rows[code as usize] as f64);
                    }
                }
                entropies.push(value);
            }
            loss_sums.push(sums);
            entropy.push(entropies);
        }
        LevelStats {
            n_rows,
            loss_sums,
            entropy,
            top_levels: hierarchies.iter().map(|hierarchy| hierarchy.top_level()).collect(),
            domain_sizes: hierarchies.iter().map(|hierarchy| hierarchy.domain_size()).collect(),
        }
    }

    fn loss_share(&self, qi: usize, numerator: f64) -> f64 {
        let denominator = self.n_rows as f64 * self.domain_sizes[qi].saturating_sub(1) as f64;
        if denominator == 0.0 { 0.0 } else { numerator / denominator }
    }

    /// The per-quasi-identifier values as if no row were suppressed: a lower bound of each.
    pub(crate) fn bound_per_qi(&self, metric: Metric, levels: &[usize]) -> Vec<f64> {
        levels
            .iter()
            .enumerate()
            .map(|(qi, &level)| match metric {
                Metric::Loss => self.loss_share(qi, (self.loss_sums[qi][level] - self.n_rows as u64) as f64),
                Metric::NonUniformEntropy { .. } => negate(self.entropy[qi][level]),
                Metric::Precision => self.precision_share(qi, level),
                Metric::Discernibility { .. } | Metric::AverageClassSize => 0.0,
            })
            .collect()
    }

    fn precision_share(&self, qi: usize, level: usize) -> f64 {
        if self.top_levels[qi] == 0 { 0.0 } else { level as f64 / self.top_levels[qi] as f64 }
    }
}

/// ARX flips the sign of the (non-positive) entropy sums, leaving an exact zero positive.
fn negate(value: f64) -> f64 {
    if value == 0.0 { 0.0 } else { -value }
}

/// Aggregates per-quasi-identifier values the way ARX does for `metric`.
pub(crate) fn aggregate(metric: Metric, values: &[f64]) -> f64 {
    match metric {
        Metric::Loss => {
            let exponent = 1.0 / values.len().max(1) as f64;
            values.iter().fold(1.0, |product, loss| product * (1.0 + loss).powf(exponent)) - 1.0
        }
        Metric::NonUniformEntropy { .. } => values.iter().sum(),
        Metric::Precision => values.iter().sum::<f64>() / values.len().max(1) as f64,
        Metric::Discernibility { .. } | Metric::AverageClassSize => 0.0,
    }
}

/// The value of every metric for one transformation.
pub(crate) struct Measured {
    pub(crate) loss: f64,
    pub(crate) loss_per_qi: Vec<f64>,
    pub(crate) discernibility: f64,
    pub(crate) discernibility_star: f64,
}

/// Measures `metric` on `classes`, where `released[class]` says whether each class is released.
/// `leaf(rep, qi)` reads a representative's leaf code.
pub(crate) fn measure(
    metric: Metric,
    stats: &LevelStats,
    hierarchies: &[&Hierarchy],
    levels: &[usize],
    classes: &ClassList,
    released: &[bool],
    leaf: impl Fn(u32, usize) -> u32,
) -> Measured {
    let n_rows = stats.n_rows as f64;
    let mut discernibility = 0.0;
    let mut discernibility_star = 0.0;
    let mut n_suppressed = 0u64;
    let mut n_released_classes = 0usize;
    for (&count, &is_released) in classes.counts.iter().zip(released) {
        let size = f64::from(count);
        discernibility_star += size * size;
        if is_released {
            discernibility += size * size;
            n_released_classes += 1;
        } else {
            discernibility += n_rows * size;
            n_suppressed += u64::from(count);
        }
    }
    let loss_per_qi: Vec<f64> = match metric {
        Metric::Loss => levels
            .iter()
            .enumerate()
            .map(|(qi, &level)| {
                let hierarchy = hierarchies[qi];
                let codes = hierarchy.codes(level);
                let leaf_counts = hierarchy.leaf_counts(level);
                let domain_size = hierarchy.domain_size() as u64;
                let mut sum = 0u64;
                for ((&count, &rep), &is_released) in classes.counts.iter().zip(&classes.reps).zip(released) {
                    let leaves = if is_released {
                        u64::from(leaf_counts[codes[leaf(rep, qi) as usize] as usize])
                    } else {
                        domain_size
                    };
                    sum += u64::from(count) * (leaves - 1);
                }
                stats.loss_share(qi, sum as f64)
            })
            .collect(),
        Metric::NonUniformEntropy { monotonic } => levels
            .iter()
            .enumerate()
            .map(|(qi, &level)| {
                let mut value = stats.entropy[qi][level];
                if !monotonic && n_suppressed > 0 {
                    let codes = hierarchies[qi].codes(level);
                    let mut suppressed_rows = vec![0u64; hierarchies[qi].n_codes(level)];
                    for ((&count, &rep), &is_released) in
                        classes.counts.iter().zip(&classes.reps).zip(released)
                    {
                        if !is_released {
                            suppressed_rows[codes[leaf(rep, qi) as usize] as usize] += u64::from(count);
                        }
                    }
                    let total = n_suppressed as f64;
                    for &rows in suppressed_rows.iter().filter(|&&rows| rows > 0) {
                        value += rows as f64 * log2(rows as f64 / total);
                    }
                }
                negate(value)
            })
            .collect(),
        Metric::Precision => levels
            .iter()
            .enumerate()
            .map(|(qi, &level)| {
                if n_rows == 0.0 {
                    return 0.0;
                }
                let released_rows = n_rows - n_suppressed as f64;
                (released_rows * stats.precision_share(qi, level) + n_suppressed as f64) / n_rows
            })
            .collect(),
        Metric::Discernibility { .. } | Metric::AverageClassSize => Vec::new(),
    };
    let loss = match metric {
        Metric::Discernibility { monotonic: true } => discernibility_star,
        Metric::Discernibility { monotonic: false } => discernibility,
        Metric::AverageClassSize => {
            let n_classes = n_released_classes + usize::from(n_suppressed > 0);
            if n_classes == 0 { 0.0 } else { n_rows / n_classes as f64 }
        }
        _ => aggregate(metric, &loss_per_qi),
    };
    Measured { loss, loss_per_qi, discernibility, discernibility_star }
}
