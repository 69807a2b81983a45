//! The special functions the population models need, for positive real arguments: the logarithm of the
//! gamma function, differences of it at nearby arguments, and its first two logarithmic derivatives
//! (digamma and trigamma).
//!
//! Each function moves a small argument up with the functional equation `Γ(x + 1) = x Γ(x)` and then sums
//! the asymptotic (Stirling) series, truncated where the next term is below 1e-16 of the result at the
//! threshold. No dependency offers these without pulling in far more than four functions, and the
//! population models need differences of `ln Γ` at arguments near 10⁸ that a plain subtraction would
//! compute to seven digits only (see [`ln_gamma_difference`]).
//!
//! Arguments must be positive and finite; anything else returns NaN, which the callers treat as a model
//! that failed.

/// The argument from which the Stirling series for `ln Γ` is summed directly: its first omitted term,
/// `3617 / (122400 x¹⁵)`, is below 1e-19 there.
const LN_GAMMA_ASYMPTOTIC_FROM: f64 = 15.0;

/// The argument from which the asymptotic series for digamma and trigamma are summed directly: their first
/// omitted terms (`1/(12 x¹⁴)` and `7/(6 x¹⁵)`) are below 1e-16 there.
const POLYGAMMA_ASYMPTOTIC_FROM: f64 = 12.0;

/// `ln(2π) / 2`.
const HALF_LN_TWO_PI: f64 = 0.918_938_533_204_672_8;

/// The Stirling correction `ln Γ(x) − [(x − ½) ln x − x + ½ ln 2π]` for `x ≥ 15`: the series
/// `Σ B₂ₖ / (2k (2k − 1) x²ᵏ⁻¹)` up to `k = 7`.
fn stirling_correction(x: f64) -> f64 {
    let inverse = 1.0 / x;
    let inverse_squared = inverse * inverse;
    // Horner's scheme in 1/x², coefficients B₂ₖ / (2k (2k − 1)).
    let series = 1.0 / 12.0
        + inverse_squared
            * (-1.0 / 360.0
                + inverse_squared
                    * (1.0 / 1260.0
                        + inverse_squared
                            * (-1.0 / 1680.0
                                + inverse_squared
                                    * (1.0 / 1188.0
                                        + inverse_squared
                                            * (-691.0 / 360_360.0 + inverse_squared / 156.0)))));
    series * inverse
}

/// `ln Γ(x)` for `x > 0`.
pub(super) fn ln_gamma(x: f64) -> f64 {
    if !(x > 0.0 && x.is_finite()) {
        return f64::NAN;
    }
    // ln Γ(x) = ln Γ(x + k) − ln(x (x + 1) … (x + k − 1)). The product of at most 15 factors below 30
    // cannot overflow, and for tiny x its logarithm keeps the −ln x that dominates the result.
    let mut shifted = x;
    let mut product = 1.0;
    while shifted < LN_GAMMA_ASYMPTOTIC_FROM {
        product *= shifted;
        shifted += 1.0;
    }
    (shifted - 0.5) * shifted.ln() - shifted + HALF_LN_TWO_PI + stirling_correction(shifted) - product.ln()
}

/// `ln Γ(z + delta) − ln Γ(z)` for `z > 0` and `z + delta > 0`.
///
/// For large `z` both terms are large and nearly equal (ln Γ(10⁸) ≈ 1.7·10⁹), so subtracting them would
/// keep only about seven significant digits of the difference. Instead the Stirling series is differenced
/// term by term: `(z − ½) ln(1 + δ/z) + δ ln(z + δ) − δ + s(z + δ) − s(z)`, whose parts are all of the
/// size of the result.
pub(super) fn ln_gamma_difference(z: f64, delta: f64) -> f64 {
    let shifted = z + delta;
    if !(z > 0.0 && shifted > 0.0 && z.is_finite() && shifted.is_finite()) {
        return f64::NAN;
    }
    if z < LN_GAMMA_ASYMPTOTIC_FROM || shifted < LN_GAMMA_ASYMPTOTIC_FROM {
        // Both values are small enough (or one of them is) that the subtraction loses nothing that
        // matters: the error is a few ulps of ln Γ at the larger argument.
        return ln_gamma(shifted) - ln_gamma(z);
    }
    (z - 0.5) * (delta / z).ln_1p() + delta * shifted.ln() - delta + stirling_correction(shifted)
        - stirling_correction(z)
}

/// The digamma function `ψ(x) = d/dx ln Γ(x)` for `x > 0`.
pub(super) fn digamma(x: f64) -> f64 {
    if !(x > 0.0 && x.is_finite()) {
        return f64::NAN;
    }
    // ψ(x) = ψ(x + 1) − 1/x.
    let mut shifted = x;
    let mut correction = 0.0;
    while shifted < POLYGAMMA_ASYMPTOTIC_FROM {
        correction -= 1.0 / shifted;
        shifted += 1.0;
    }
    let inverse_squared = 1.0 / (shifted * shifted);
    // ψ(x) ~ ln x − 1/(2x) − Σ B₂ₖ / (2k x²ᵏ), k = 1..7.
    let series = inverse_squared
        * (1.0 / 12.0
            + inverse_squared
                * (-1.0 / 120.0
                    + inverse_squared
                        * (1.0 / 252.0
                            + inverse_squared
                                * (-1.0 / 240.0
                                    + inverse_squared
                                        * (1.0 / 132.0
                                            + inverse_squared
                                                * (-691.0 / 32_760.0 + inverse_squared / 12.0))))));
    shifted.ln() - 0.5 / shifted - series + correction
}

/// The trigamma function `ψ₁(x) = d²/dx² ln Γ(x)` for `x > 0`.
pub(super) fn trigamma(x: f64) -> f64 {
    if !(x > 0.0 && x.is_finite()) {
        return f64::NAN;
    }
    // ψ₁(x) = ψ₁(x + 1) + 1/x².
    let mut shifted = x;
    let mut correction = 0.0;
    while shifted < POLYGAMMA_ASYMPTOTIC_FROM {
        correction += 1.0 / (shifted * shifted);
        shifted += 1.0;
    }
    let inverse = 1.0 / shifted;
    let inverse_squared = inverse * inverse;
    // ψ₁(x) ~ 1/x + 1/(2x²) + Σ B₂ₖ / x²ᵏ⁺¹, k = 1..7.
    let series = inverse
        * inverse_squared
        * (1.0 / 6.0
            + inverse_squared
                * (-1.0 / 30.0
                    + inverse_squared
                        * (1.0 / 42.0
                            + inverse_squared
                                * (-1.0 / 30.0
                                    + inverse_squared
                                        * (5.0 / 66.0
                                            + inverse_squared
                                                * (-691.0 / 2730.0 + inverse_squared * 7.0 / 6.0))))));
    inverse + 0.5 * inverse_squared + series + correction
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Relative error, or absolute error where the expected value is below 1.
    fn error(actual: f64, expected: f64) -> f64 {
        (actual - expected).abs() / expected.abs().max(1.0)
    }

    #[test]
    fn ln_gamma_matches_reference_values() {
        // Reference values from mpmath at 40 digits (loggamma).
        let cases = [
            (1e-10, 23.025850929882736),
            (0.5, 0.5723649429247001),
            (1.0, 0.0),
            (2.0, 0.0),
            (3.7, 1.4280723266653879),
            (14.9, 24.924132002217277),
            (15.0, 25.19122118273868),
            (100.5, 361.4355404677776),
            (1.24e8, 2186838214.923637),
        ];
        for (x, expected) in cases {
            assert!(error(ln_gamma(x), expected) < 5e-15, "ln Γ({x}) = {} ≠ {expected}", ln_gamma(x));
        }
        assert!(ln_gamma(0.0).is_nan() && ln_gamma(-1.0).is_nan() && ln_gamma(f64::NAN).is_nan());
    }

    #[test]
    fn ln_gamma_difference_keeps_its_digits_at_large_arguments() {
        // ln Γ(z + δ) − ln Γ(z) from mpmath at 40 digits.
        let cases = [
            (1.24e8 + 3.5, -0.35, -6.522527251223049),
            (3.0, 0.5, 0.5078264217871289),
            (20.0, -0.999, -2.941521059733179),
            (1e15, 0.25, 8.634694098727671),
        ];
        for (z, delta, expected) in cases {
            let actual = ln_gamma_difference(z, delta);
            assert!(
                (actual - expected).abs() < 1e-13 * expected.abs(),
                "D({z}, {delta}) = {actual} ≠ {expected}"
            );
        }
        assert!(ln_gamma_difference(1.0, -1.0).is_nan());
    }

    #[test]
    fn polygamma_match_reference_values() {
        // ψ and ψ₁ from mpmath at 40 digits.
        let cases = [
            (1e-8, -100000000.57721564, 1.0000000000000002e16),
            (0.3, -3.502524222200133, 12.24536454610773),
            (1.0, -0.5772156649015329, 1.6449340668482264),
            (11.99, 2.441792283668335, 0.08697741048698757),
            (12.0, 2.442661679975812, 0.08690187287176838),
            (1e7, 16.11809560095832, 1.0000000500000017e-7),
        ];
        for (x, expected_digamma, expected_trigamma) in cases {
            assert!(error(digamma(x), expected_digamma) < 5e-15, "ψ({x}) = {}", digamma(x));
            assert!(
                (trigamma(x) - expected_trigamma).abs() < 5e-15 * expected_trigamma,
                "ψ₁({x}) = {}",
                trigamma(x)
            );
        }
        assert!(digamma(0.0).is_nan() && trigamma(-2.5).is_nan());
    }
}
