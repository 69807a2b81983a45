//! Population uniqueness: how many people of the population are alone in their equivalence class,
//! estimated from the class sizes of a released sample and the size of the population it was drawn from.
//! These are the models ARX offers, with the decision rule ARX takes from Dankar et al. (2012):
//!
//! - **Pitman** (Hoshino 2001): the population partition follows Pitman's sampling formula with parameters
//!   `θ > −α`, `0 < α < 1`, fitted to the sample partition by maximum likelihood (Newton–Raphson on the two
//!   score equations). The estimate is the model's expected number of singletons among `N` records,
//!   `N (θ + α)_(N−1) / (θ + 1)_(N−1)` (rising factorials), which for large `N` is Hoshino's
//!   `Γ(θ + 1) / Γ(θ + α) · N^α`; we use the exact form because it costs nothing more.
//! - **Zayatz** (1991): the share of sample classes of each size stands in for the population's, and
//!   Bayes' rule with hypergeometric sampling gives the probability that a sample unique is a population
//!   unique; the estimate is that probability times the sample uniques, divided by the sampling fraction.
//! - **SNB** (Chen & Keller-McNulty 1998): population class sizes are `1 +` a negative binomial `NB(α, β)`
//!   over `K` non-empty classes, the sample takes each record independently with the sampling fraction
//!   `q`, and `α, β` solve "expected sample classes of size 1 and 2 = observed" (Newton–Raphson). `K` is
//!   Haas et al.'s (1995) refinement of Shlosser's estimate of the number of distinct values. The estimate
//!   is `K β^α`, the expected number of population classes of size 1.
//!
//! Dankar et al.'s rule: with a sampling fraction of at most 0.1 take Pitman (Zayatz where Pitman fails);
//! above it take the smaller of Zayatz and SNB (Zayatz where SNB fails).
//!
//! Two deliberate differences from ARX's implementation. ARX's SNB equation for classes of size 2
//! multiplies by `(1 − d)^(α+2)` where the model divides by it (`d = (1 − q)(1 − β)`; the derivation is in
//! the comment on `SnbEquations::evaluate`), and its Shlosser–Haas sum subtracts 1 once per class size
//! instead of once per class; we follow the papers. And where the sample is the whole population, its
//! uniques are counted instead of estimated.
//!
//! Everything works on the frequency of frequencies (how many classes have each size), so the cost grows
//! with the number of distinct class sizes, not with the number of classes. Pure: no I/O, no randomness.

use std::collections::BTreeMap;

use super::special::{digamma, ln_gamma_difference, trigamma};

#[cfg(test)]
mod tests;

/// The sampling fraction up to which Dankar et al.'s rule chooses Pitman's model.
const PITMAN_UP_TO_SAMPLING_FRACTION: f64 = 0.1;

/// The model behind an estimate of population uniques.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PopulationModel {
    /// Pitman's sampling formula, fitted by maximum likelihood (Hoshino 2001).
    Pitman,
    /// Zayatz's (1991) conditional probability of a sample unique being a population unique.
    Zayatz,
    /// The shifted negative binomial model (Chen & Keller-McNulty 1998).
    Snb,
    /// The sample is the whole population: its uniques are counted, not estimated.
    Census,
    /// The sample has no uniques, so no model is consulted and the estimate is 0 (as in ARX: a record that
    /// shares its class in the sample shares it in the population too).
    NoSampleUniques,
}

/// Estimates of how many records of the population are unique in it (alone in their equivalence class).
#[derive(Debug, Clone, PartialEq)]
pub struct PopulationUniqueness {
    /// The population size `N` used: the one given, or the sample size if that was larger.
    pub population: u64,
    /// The sample size `n` (released rows).
    pub n_rows: usize,
    /// The number of classes of size 1 in the sample.
    pub sample_uniques: usize,
    /// `n / N`.
    pub sampling_fraction: f64,
    /// Pitman's estimate; `None` where the likelihood has no interior maximum that Newton–Raphson finds
    /// (e.g. one class, or every class of size 1) or the estimate is outside `0..=N`.
    pub pitman: Option<f64>,
    /// Zayatz's estimate. It always exists: its probability is a ratio whose denominator includes the
    /// positive numerator, so the estimate lies in `0..=N`.
    pub zayatz: f64,
    /// The SNB estimate; `None` where the equations have no solution that Newton–Raphson finds (always when
    /// the sample has no class of size 2) or the estimate is outside `0..=N`.
    pub snb: Option<f64>,
    /// The model Dankar et al.'s rule chose.
    pub model: PopulationModel,
    /// The chosen model's estimate of population uniques, in `0..=N`.
    pub uniques: f64,
}

impl PopulationUniqueness {
    /// The estimated share of the population that is unique (`uniques / N`). Under uniform sampling it is
    /// also the expected share of released rows that are unique in the population: the share a journalist
    /// attacker matches with certainty. 0 for an empty population.
    pub fn share(&self) -> f64 {
        if self.population == 0 { 0.0 } else { self.uniques / self.population as f64 }
    }
}

/// Estimates the number of population uniques from the sizes of the sample's equivalence classes (one
/// size per class; sizes of 0 are ignored) and the population size (taken as the sample size when
/// smaller: the population contains the sample).
pub fn population_uniqueness(class_sizes: &[usize], population: u64) -> PopulationUniqueness {
    let histogram = Histogram::of(class_sizes);
    let population = population.max(histogram.n_rows);
    let sampling_fraction = if population == 0 { 1.0 } else { histogram.n_rows as f64 / population as f64 };
    let sample_uniques = histogram.classes_of_size(1);
    let counted = |estimate: f64, model: PopulationModel| PopulationUniqueness {
        population,
        n_rows: histogram.n_rows as usize,
        sample_uniques: sample_uniques as usize,
        sampling_fraction,
        pitman: Some(estimate),
        zayatz: estimate,
        snb: Some(estimate),
        model,
        uniques: estimate,
    };
    if sample_uniques == 0 {
        return counted(0.0, PopulationModel::NoSampleUniques);
    }
    if population == histogram.n_rows {
        return counted(sample_uniques as f64, PopulationModel::Census);
    }

    let population_size = population as f64;
    let within_population =
        |estimate: f64| estimate.is_finite() && (0.0..=population_size).contains(&estimate);
    let pitman = pitman(&histogram, population_size).filter(|&estimate| within_population(estimate));
    let zayatz = zayatz(&histogram, population_size).clamp(0.0, population_size);
    let snb = snb(&histogram, population_size).filter(|&estimate| within_population(estimate));
    let (model, uniques) = if sampling_fraction <= PITMAN_UP_TO_SAMPLING_FRACTION {
        match pitman {
            Some(estimate) => (PopulationModel::Pitman, estimate),
            None => (PopulationModel::Zayatz, zayatz),
        }
    } else {
        match snb {
            Some(estimate) if estimate <= zayatz => (PopulationModel::Snb, estimate),
            _ => (PopulationModel::Zayatz, zayatz),
        }
    };
    PopulationUniqueness {
        population,
        n_rows: histogram.n_rows as usize,
        sample_uniques: sample_uniques as usize,
        sampling_fraction,
        pitman,
        zayatz,
        snb,
        model,
        uniques,
    }
}

/// The frequency of frequencies of a sample: how many classes have each size.
struct Histogram {
    /// `(size, number of classes of that size)`.
    /// Invariant: sorted by size; sizes distinct and ≥ 1; counts ≥ 1.
    classes_of_size: Vec<(u64, u64)>,
    n_rows: u64,
    n_classes: u64,
}

impl Histogram {
    /// Sizes below this are counted in an array; the few larger ones in an ordered map. Counting this way
    /// takes about a nanosecond per class, where sorting ten million sizes would take most of a second.
    const DENSE_SIZES: usize = 4096;

    fn of(class_sizes: &[usize]) -> Histogram {
        let mut dense = vec![0u64; Histogram::DENSE_SIZES];
        let mut sparse: BTreeMap<u64, u64> = BTreeMap::new();
        let mut n_rows = 0u64;
        for &size in class_sizes {
            match dense.get_mut(size) {
                Some(count) => *count += 1,
                None => *sparse.entry(size as u64).or_insert(0) += 1,
            }
            n_rows += size as u64;
        }
        let classes_of_size: Vec<(u64, u64)> = dense
            .iter()
            .enumerate()
            .skip(1)
            .filter(|&(_, &count)| count > 0)
            .map(|(size, &count)| (size as u64, count))
            .chain(sparse)
            .collect();
        let n_classes = classes_of_size.iter().map(|&(_, count)| count).sum();
        Histogram { classes_of_size, n_rows, n_classes }
    }

    fn classes_of_size(&self, size: u64) -> u64 {
        self.classes_of_size
            .binary_search_by_key(&size, |&(class_size, _)| class_size)
            .map_or(0, |idx| self.classes_of_size[idx].1)
    }
}

/// Zayatz's estimate. With `c_s` sample classes of size `s`, `u` classes in all and `P(1 | s)` the
/// hypergeometric probability that a population class of `s` records leaves exactly one in a sample of `n`
/// from `N`, the probability that a sample unique is a population unique is
/// `(c₁/u) P(1 | 1) / Σ_s (c_s/u) P(1 | s)`. Since `P(1 | s) = q · s · Π_{j=1}^{s−1} (1 − (n − 1)/(N − j))`
/// (one given record in the sample, the other `s − 1` out) and `P(1 | 1) = q`, the estimate
/// `c₁ · probability / q` is `c₁² / (q Σ_s c_s s Π_{j<s} (1 − (n − 1)/(N − j)))`.
///
/// Requires `c₁ ≥ 1` and `n < N`.
fn zayatz(histogram: &Histogram, population: f64) -> f64 {
    let sample = histogram.n_rows as f64;
    let sample_uniques = histogram.classes_of_size(1) as f64;
    let sampling_fraction = sample / population;
    // The products are summed in log space, one factor per step up in size, so the walk costs the largest
    // size that still matters. A class of size s weighs s·e^log_product ≤ n·e^log_product against the
    // weight c₁ of the sample uniques, and the product only falls with s: once n·e^log_product/c₁ is below
    // 1e-17 no larger class changes the sum in double precision, and the walk stops.
    let negligible_below = (1e-17f64).ln() + sample_uniques.ln() - sample.ln();
    let mut log_product = 0.0; // Σ_{j=1}^{reached} ln(1 − (n − 1)/(N − j)).
    let mut reached = 0u64;
    let mut weighted = 0.0;
    for &(size, count) in &histogram.classes_of_size {
        while reached + 1 < size && log_product >= negligible_below {
            reached += 1;
            // N − j ≥ N − n + 1 ≥ 2 here (j < s ≤ n < N); the factor is 0 once j > N − n, which makes the
            // logarithm −∞ and ends the walk.
            log_product += (-(sample - 1.0) / (population - reached as f64)).ln_1p();
        }
        if log_product < negligible_below {
            break;
        }
        weighted += count as f64 * size as f64 * log_product.exp();
    }
    // weighted ≥ c₁ (the sizes-1 term, e^0), so the estimate is at most c₁/q ≤ N.
    sample_uniques * sample_uniques / (sampling_fraction * weighted)
}

/// The result of evaluating a system of two equations at a point, for [`solve_newton_2d`].
struct Evaluation {
    /// The left-hand sides; the solution makes both 0.
    residual: [f64; 2],
    /// `jacobian[i][j]` = ∂residual[i] / ∂point[j].
    jacobian: [[f64; 2]; 2],
    /// How large each residual's terms are, so that `residual / scale` is a relative error.
    scale: [f64; 2],
}

impl Evaluation {
    /// The squared relative error, with the residuals measured against `scale`.
    fn merit(&self, scale: [f64; 2]) -> f64 {
        (self.residual[0] / scale[0]).powi(2) + (self.residual[1] / scale[1]).powi(2)
    }
}

/// Newton–Raphson iterations before giving up; the models converge in well under 30 when they converge.
const MAX_NEWTON_ITERATIONS: usize = 100;
/// Halvings of a step that does not reduce the error before giving up (2⁻⁴⁰ ≈ 1e-12 of the full step).
const MAX_STEP_HALVINGS: usize = 40;
/// The squared relative error at which a point is a solution (relative error 1e-12).
const CONVERGED: f64 = 1e-24;
/// The squared relative error accepted when no step improves on it any more: the residuals are then
/// rounding noise (relative error 1e-7, far below what the estimates can resolve).
const ROUNDING_NOISE: f64 = 1e-14;

/// Solves `residual(point) = 0` by Newton–Raphson from `start`, halving each step until it reduces the
/// relative error (measured against the current point's scales, so that the Newton direction is a descent
/// direction). Returns `None` when the Jacobian is singular, no step improves, or the iterations run out:
/// the caller's model has then failed. `evaluate` returns `None` outside its domain or on non-finite
/// values.
fn solve_newton_2d(start: [f64; 2], evaluate: impl Fn([f64; 2]) -> Option<Evaluation>) -> Option<[f64; 2]> {
    let mut point = start;
    let mut current = evaluate(point)?;
    for _ in 0..MAX_NEWTON_ITERATIONS {
        let merit = current.merit(current.scale);
        if merit <= CONVERGED {
            return Some(point);
        }
        let [[a, b], [c, d]] = current.jacobian;
        let determinant = a * d - b * c;
        if !(determinant.is_finite() && determinant != 0.0) {
            return None;
        }
        let [r0, r1] = current.residual;
        let step = [-(d * r0 - b * r1) / determinant, -(a * r1 - c * r0) / determinant];
        if !(step[0].is_finite() && step[1].is_finite()) {
            return None;
        }
        let mut length = 1.0;
        let mut accepted = None;
        for _ in 0..MAX_STEP_HALVINGS {
            let trial = [point[0] + length * step[0], point[1] + length * step[1]];
            if let Some(evaluation) = evaluate(trial)
                && evaluation.merit(current.scale) < merit
            {
                accepted = Some((trial, evaluation));
                break;
            }
            length *= 0.5;
        }
        match accepted {
            Some((trial, evaluation)) => {
                point = trial;
                current = evaluation;
            }
            None => return (merit <= ROUNDING_NOISE).then_some(point),
        }
    }
    (current.merit(current.scale) <= CONVERGED).then_some(point)
}

/// The logistic function `1 / (1 + e^−x)`.
fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// `ln(logistic(x))`, without the overflow of `e^−x` for very negative `x`.
fn ln_logistic(x: f64) -> f64 {
    if x >= 0.0 { -(-x).exp().ln_1p() } else { x - x.exp().ln_1p() }
}

/// The inverse of [`logistic`], for `0 < p < 1`.
fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

/// The log-likelihood of Pitman's sampling formula for the sample partition, with `u` classes of sizes
/// `n_j` in `n` records:
/// `L(θ, α) = Σ_{i=1}^{u−1} ln(θ + iα) − Σ_{i=1}^{n−1} ln(θ + i) + Σ_j Σ_{k=1}^{n_j−1} ln(k − α)`.
/// Its derivatives are sums of reciprocals, written with digamma and trigamma differences
/// (`Σ_{i=1}^{m−1} 1/(x + i) = ψ(x + m) − ψ(x + 1)`), so that each evaluation costs the number of distinct
/// class sizes.
struct PitmanLikelihood<'a> {
    histogram: &'a Histogram,
}

/// The score of [`PitmanLikelihood`] at a point, with the sums it is the difference of.
struct PitmanScore {
    /// `[∂L/∂θ, ∂L/∂α]`.
    score: [f64; 2],
    /// The sums each score is the difference of, added: the scale of its rounding error.
    scale: [f64; 2],
    /// The Hessian `[[∂²L/∂θ², ∂²L/∂θ∂α], [∂²L/∂α∂θ, ∂²L/∂α²]]`.
    hessian: [[f64; 2]; 2],
}

impl PitmanLikelihood<'_> {
    fn score(&self, theta: f64, alpha: f64) -> Option<PitmanScore> {
        if !(alpha > 0.0 && alpha < 1.0 && theta > -alpha) {
            return None;
        }
        let n = self.histogram.n_rows as f64;
        let u = self.histogram.n_classes as f64;
        // With c = θ/α: Σ_{i=1}^{u−1} 1/(θ + iα) = (ψ(c + u) − ψ(c + 1))/α and
        // Σ_{i=1}^{u−1} 1/(θ + iα)² = (ψ₁(c + 1) − ψ₁(c + u))/α².
        let ratio = theta / alpha;
        let classes_digamma = digamma(ratio + u) - digamma(ratio + 1.0);
        let classes_trigamma = trigamma(ratio + 1.0) - trigamma(ratio + u);
        let over_classes = classes_digamma / alpha; // Σ 1/(θ + iα)
        let over_rows = digamma(theta + n) - digamma(theta + 1.0); // Σ_{i=1}^{n−1} 1/(θ + i)
        // Σ i/(θ + iα) = ((u − 1) − c·ψ-difference)/α, from i/(c + i) = 1 − c/(c + i).
        let index_over_classes = ((u - 1.0) - ratio * classes_digamma) / alpha;
        // Σ_j Σ_{k=1}^{n_j−1} 1/(k − α) and 1/(k − α)², one term per distinct size.
        let (digamma_at_one, trigamma_at_one) = (digamma(1.0 - alpha), trigamma(1.0 - alpha));
        let mut within_classes = 0.0;
        let mut within_classes_squared = 0.0;
        for &(size, count) in &self.histogram.classes_of_size {
            if size > 1 {
                let size = size as f64;
                within_classes += count as f64 * (digamma(size - alpha) - digamma_at_one);
                within_classes_squared += count as f64 * (trigamma_at_one - trigamma(size - alpha));
            }
        }
        let alpha_squared = alpha * alpha;
        let theta_theta = -classes_trigamma / alpha_squared + (trigamma(theta + 1.0) - trigamma(theta + n));
        // Σ i/(θ + iα)² and Σ i²/(θ + iα)², from i/(c + i)² = 1/(c + i) − c/(c + i)² and
        // i²/(c + i)² = 1 − 2c/(c + i) + c²/(c + i)².
        let theta_alpha = -(classes_digamma - ratio * classes_trigamma) / alpha_squared;
        let alpha_alpha = -((u - 1.0) - 2.0 * ratio * classes_digamma + ratio * ratio * classes_trigamma)
            / alpha_squared
            - within_classes_squared;
        let result = PitmanScore {
            score: [over_classes - over_rows, index_over_classes - within_classes],
            scale: [over_classes + over_rows, index_over_classes + within_classes],
            hessian: [[theta_theta, theta_alpha], [theta_alpha, alpha_alpha]],
        };
        let finite = result.score.iter().chain(&result.scale).chain(result.hessian.iter().flatten());
        let scales_positive = result.scale.iter().all(|&scale| scale > 0.0);
        (finite.clone().all(|value| value.is_finite()) && scales_positive).then_some(result)
    }
}

/// Pitman's estimate of population uniques, or `None` where the maximum likelihood fit fails.
///
/// Requires `c₁ ≥ 1` and `n < N`.
fn pitman(histogram: &Histogram, population: f64) -> Option<f64> {
    let n = histogram.n_rows as f64;
    let u = histogram.n_classes as f64;
    let sample_uniques = histogram.classes_of_size(1) as f64;
    let doubles = histogram.classes_of_size(2) as f64;
    // One class, or only classes of size 1, leave the likelihood without an interior maximum (α → 0 or
    // θ → ∞).
    if u < 2.0 || u >= n {
        return None;
    }
    let likelihood = PitmanLikelihood { histogram };
    // Newton–Raphson runs on (ln(θ + α), logit α), where every point is inside the parameter space, so a
    // step cannot leave it; the Jacobian follows by the chain rule.
    let evaluate = |point: [f64; 2]| {
        let alpha = logistic(point[1]);
        let theta = point[0].exp() - alpha;
        let PitmanScore { score, scale, hessian } = likelihood.score(theta, alpha)?;
        let theta_per_shift = point[0].exp(); // ∂θ/∂point[0]
        let alpha_per_logit = alpha * (1.0 - alpha); // ∂α/∂point[1] = −∂θ/∂point[1]
        let jacobian = hessian.map(|[by_theta, by_alpha]| {
            [by_theta * theta_per_shift, (by_alpha - by_theta) * alpha_per_logit]
        });
        Some(Evaluation { residual: score, jacobian, scale })
    };

    // Starting points from the exact moments of Pitman's formula: α E[u] = (E[c₁]/n)(θ + α + n − 1) − θ
    // and E[c₁]/E[c₂] = 2(θ + α + n − 2)/((n − 1)(1 − α)). With the observed c₁, c₂, u both are linear
    // in θ and α; the first alone gives θ for a guessed α when there are no classes of size 2.
    let theta_for = |alpha: f64| (sample_uniques * (alpha + n - 1.0) - alpha * u * n) / (n - sample_uniques);
    let mut starts = Vec::new();
    if doubles > 0.0 {
        let ratio = sample_uniques * (n - 1.0) / (2.0 * doubles);
        let alpha = ((ratio - n + 2.0) * (n - sample_uniques) - sample_uniques * (n - 1.0))
            / ((ratio + 1.0) * (n - sample_uniques) + sample_uniques - u * n);
        starts.push((ratio * (1.0 - alpha) - alpha - n + 2.0, alpha));
    }
    for alpha in [(sample_uniques / u).clamp(0.05, 0.95), 0.5, 0.1, 0.9] {
        starts.push((theta_for(alpha), alpha));
    }
    let (theta, alpha) = starts
        .into_iter()
        .filter(|&(theta, alpha)| alpha > 0.0 && alpha < 1.0 && theta > -alpha && theta.is_finite())
        .find_map(|(theta, alpha)| {
            let [shift, logit_alpha] = solve_newton_2d([(theta + alpha).ln(), logit(alpha)], evaluate)?;
            let alpha = logistic(logit_alpha);
            let theta = shift.exp() - alpha;
            // A root of the score is the maximum likelihood estimate only where the Hessian is negative
            // definite; a saddle point is a failed fit.
            let [[theta_theta, theta_alpha], [_, alpha_alpha]] = likelihood.score(theta, alpha)?.hessian;
            let negative_definite =
                theta_theta < 0.0 && theta_theta * alpha_alpha - theta_alpha * theta_alpha > 0.0;
            negative_definite.then_some((theta, alpha))
        })?;
    // E[singletons among N] = N (θ + α)_(N−1) / (θ + 1)_(N−1)
    //                       = N exp([ln Γ(θ + N + α − 1) − ln Γ(θ + N)] − [ln Γ(θ + α) − ln Γ(θ + 1)]).
    let log_share =
        ln_gamma_difference(theta + population, alpha - 1.0) - ln_gamma_difference(theta + 1.0, alpha - 1.0);
    Some(population * log_share.exp())
}

/// Haas et al.'s (1995) refinement of Shlosser's estimate of the number of non-empty classes in the
/// population, from sample class counts `c_i` and sampling fraction `q`:
/// `K = u + c₁ · [Σ i q² (1 − q²)^(i−1) c_i / Σ ((1 − q²)^i − (1 − q)^i) c_i] · [Σ (1 − q)^i c_i / Σ i q (1 − q)^(i−1) c_i]²`.
fn estimated_population_classes(histogram: &Histogram, sampling_fraction: f64) -> f64 {
    let q = sampling_fraction;
    let ln_complement = (-q).ln_1p(); // ln(1 − q)
    let ln_complement_squared = (-q * q).ln_1p(); // ln(1 − q²)
    let ln_one_plus = q.ln_1p(); // ln(1 + q)
    let (mut first, mut second, mut third, mut fourth) = (0.0, 0.0, 0.0, 0.0);
    for &(size, count) in &histogram.classes_of_size {
        let (size, count) = (size as f64, count as f64);
        let complement_power = (size * ln_complement).exp(); // (1 − q)^i
        first += size * q * q * ((size - 1.0) * ln_complement_squared).exp() * count;
        // (1 − q²)^i − (1 − q)^i = (1 − q)^i ((1 + q)^i − 1), the second factor by expm1 so that small
        // q keeps its digits.
        second += complement_power * (size * ln_one_plus).exp_m1() * count;
        third += complement_power * count;
        fourth += size * q * ((size - 1.0) * ln_complement).exp() * count;
    }
    let sample_uniques = histogram.classes_of_size(1) as f64;
    histogram.n_classes as f64 + sample_uniques * (first / second) * (third / fourth).powi(2)
}

/// The SNB model's two equations in `(ln α, logit β)`: `ln E[c₁] − ln c₁ = 0` and `ln E[c₂] − ln c₂ = 0`.
struct SnbEquations {
    ln_classes: f64,
    sampling_fraction: f64,
    ln_sample_uniques: f64,
    ln_doubles: f64,
}

impl SnbEquations {
    /// With `F = 1 + Y`, `Y ~ NB(α, β)` (generating function `z (β / (1 − (1 − β) z))^α`) and each record
    /// sampled with probability `q`, the sample class size has generating function `G(1 − q + q z)`, so
    /// `P(f = k) = q^k G⁽ᵏ⁾(1 − q) / k!`. Differentiating, with `d = (1 − q)(1 − β)`:
    ///
    /// - `P(f = 1) = q (β / (1 − d))^α (1 + α d / (1 − d))`;
    /// - `P(f = 2) = q² α β^α (1 − β) (2 − (1 − α) d) / (2 (1 − d)^(α+2))`.
    ///
    /// (Checked against the direct sums over `F` at 30 digits.) Expected counts are `K` times these. The
    /// equations are taken in logs, which makes their residuals relative errors and their Jacobian simple.
    fn evaluate(&self, point: [f64; 2]) -> Option<Evaluation> {
        let alpha = point[0].exp();
        let beta = logistic(point[1]);
        let one_minus_beta = logistic(-point[1]);
        let (ln_beta, ln_one_minus_beta) = (ln_logistic(point[1]), ln_logistic(-point[1]));
        let q = self.sampling_fraction;
        let d = (1.0 - q) * one_minus_beta;
        let ln_one_minus_d = (-d).ln_1p();
        let one_minus_d = 1.0 - d;
        let first_factor = 1.0 - d + alpha * d; // 1 + (α − 1) d > 0
        let second_factor = 2.0 - (1.0 - alpha) * d; // > 1 since d < 1
        let ln_expected_uniques =
            self.ln_classes + q.ln() + alpha * ln_beta - (alpha + 1.0) * ln_one_minus_d + first_factor.ln();
        let ln_expected_doubles =
            self.ln_classes + 2.0 * q.ln() + alpha.ln() + alpha * ln_beta + ln_one_minus_beta
                - std::f64::consts::LN_2
                - (alpha + 2.0) * ln_one_minus_d
                + second_factor.ln();
        // Partial derivatives in α and β (∂d/∂β = −(1 − q)), then by the chain rule in ln α (× α) and
        // logit β (× β(1 − β)).
        let uniques_by_alpha = ln_beta - ln_one_minus_d + d / first_factor;
        let uniques_by_beta =
            alpha / beta - (alpha + 1.0) * (1.0 - q) / one_minus_d - (alpha - 1.0) * (1.0 - q) / first_factor;
        let doubles_by_alpha = 1.0 / alpha + ln_beta - ln_one_minus_d + d / second_factor;
        let doubles_by_beta = alpha / beta - 1.0 / one_minus_beta - (alpha + 2.0) * (1.0 - q) / one_minus_d
            + (1.0 - alpha) * (1.0 - q) / second_factor;
        let beta_per_logit = beta * one_minus_beta;
        let evaluation = Evaluation {
            residual: [ln_expected_uniques - self.ln_sample_uniques, ln_expected_doubles - self.ln_doubles],
            jacobian: [
                [uniques_by_alpha * alpha, uniques_by_beta * beta_per_logit],
                [doubles_by_alpha * alpha, doubles_by_beta * beta_per_logit],
            ],
            scale: [1.0, 1.0],
        };
        let finite = evaluation.residual.iter().chain(evaluation.jacobian.iter().flatten());
        finite.clone().all(|value| value.is_finite()).then_some(evaluation)
    }
}

/// The SNB estimate of population uniques, or `None` where the equations have no solution found.
///
/// Requires `c₁ ≥ 1` and `n < N`.
fn snb(histogram: &Histogram, population: f64) -> Option<f64> {
    let doubles = histogram.classes_of_size(2) as f64;
    if doubles == 0.0 {
        // E[c₂] = 0 only at the boundary (α = 0 or β = 1): no solution inside the parameter space.
        return None;
    }
    let sampling_fraction = histogram.n_rows as f64 / population;
    let classes = estimated_population_classes(histogram, sampling_fraction);
    if !(classes.is_finite() && classes >= histogram.n_classes as f64) {
        return None;
    }
    let equations = SnbEquations {
        ln_classes: classes.ln(),
        sampling_fraction,
        ln_sample_uniques: (histogram.classes_of_size(1) as f64).ln(),
        ln_doubles: doubles.ln(),
    };
    // Start from several shapes α, each with the β that gives the population's mean class size N/K
    // (E[F] = 1 + α(1 − β)/β), and take the first that converges.
    let mean_class_size = population / classes;
    let [ln_alpha, logit_beta] = [1.0, 0.1, 10.0, 0.01, 100.0].into_iter().find_map(|alpha: f64| {
        let beta = if mean_class_size > 1.0 { alpha / (alpha + mean_class_size - 1.0) } else { 0.5 };
        let beta = beta.clamp(1e-12, 1.0 - 1e-12);
        solve_newton_2d([alpha.ln(), logit(beta)], |point| equations.evaluate(point))
    })?;
    Some((equations.ln_classes + ln_alpha.exp() * ln_logistic(logit_beta)).exp())
}
