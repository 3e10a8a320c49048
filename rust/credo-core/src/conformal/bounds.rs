//! Tail bounds behind the guaranteed thresholds.
//!
//! - Hoeffding–Bentkus p-value (Learn-then-Test, docs/definitions/conformal.md#learn-then-test), with MAPIE's conventions.
//! - The exact binomial p-value for 0/1 losses.
//! - The SGR risk bound of Geifman & El-Yaniv (d.5): bisection on BinomCDF(k; m, b) = δ.
//! - Conformal risk control's adjusted risk R̂⁺ (d.2).

use crate::error::{check_open_unit, Result};
use crate::special::binom_cdf;

/// h₁(a, b) = a·ln(a/b) + (1−a)·ln((1−a)/(1−b)), with a·ln(a/b) = 0 at a = 0 (as MAPIE).
fn h1(a: f64, b: f64) -> f64 {
    let first = if a == 0.0 { 0.0 } else { a * (a / b).ln() };
    first + (1.0 - a) * ((1.0 - a) / (1.0 - b)).ln()
}

/// The Hoeffding–Bentkus p-value of H₀: risk > α from mean loss `r_hat` over `n` points, exactly
/// as MAPIE 1.6 `compute_hoeffding_bentkus_p_value` (Bentkus term at ⌈n·r̂⌉ evaluated in
/// float64; `binary` drops the factor e, valid for 0/1 losses).
#[must_use]
pub fn hb_p_value(r_hat: f64, n: u64, alpha: f64, binary: bool) -> f64 {
    let nf = n as f64;
    let hoeffding = (-nf * h1(r_hat.min(alpha), alpha)).exp();
    let factor = if binary { 1.0 } else { std::f64::consts::E };
    let bentkus = factor * binom_cdf((nf * r_hat).ceil(), n, alpha);
    hoeffding.min(bentkus)
}

/// The Hoeffding–Bentkus p-value from an integer count of errors (0/1 losses): the Bentkus
/// term uses k itself, avoiding the float rounding of ⌈n·(k/n)⌉.
#[must_use]
pub fn hb_p_value_counts(errors: u64, n: u64, alpha: f64, binary: bool) -> f64 {
    let (k, nf) = (errors as f64, n as f64);
    let hoeffding = (-nf * h1((k / nf).min(alpha), alpha)).exp();
    let factor = if binary { 1.0 } else { std::f64::consts::E };
    hoeffding.min(factor * binom_cdf(k, n, alpha))
}

/// Which p-value a Learn-then-Test threshold uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PValueKind {
    /// min(Hoeffding, e·Bentkus): valid for any loss in [0, 1].
    HoeffdingBentkus,
    /// The exact binomial tail BinomCDF(k; n, α): valid (and tightest) for 0/1 losses.
    Binomial,
}

impl PValueKind {
    /// p-value of H₀: risk > α after `errors` errors among `n` answered points.
    #[must_use]
    pub fn p_value(self, errors: u64, n: u64, alpha: f64) -> f64 {
        if n == 0 {
            return 1.0;
        }
        match self {
            Self::HoeffdingBentkus => hb_p_value_counts(errors, n, alpha, false),
            Self::Binomial => binom_cdf(errors as f64, n, alpha),
        }
    }

    /// The (1 − δ) upper confidence bound on the risk: the smallest α whose p-value is ≤ δ
    /// (1.0 when none is), by bisection to 1e-10.
    #[must_use]
    pub fn upper_bound(self, errors: u64, n: u64, delta: f64) -> f64 {
        if n == 0 || errors >= n || self.p_value(errors, n, 1.0 - 1e-12) > delta {
            return 1.0;
        }
        let (mut lo, mut hi) = (errors as f64 / n as f64, 1.0 - 1e-12);
        while hi - lo > 1e-10 {
            let mid = 0.5 * (lo + hi);
            if self.p_value(errors, n, mid) <= delta {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        hi
    }
}
crate::choices!(PValueKind, "p_value", {
    "hoeffding_bentkus" => PValueKind::HoeffdingBentkus,
    "binomial" => PValueKind::Binomial,
});

/// SGR's bound B*: solves BinomCDF(k; m, b) = δ for b ∈ [k/m, 1] by bisection, stopping when
/// |f| < 1e-7 as the reference script does (k is the integer error count, i.e. ⌊m·r̂⌋).
#[must_use]
pub fn sgr_bound(errors: u64, m: u64, delta: f64) -> f64 {
    if m == 0 {
        return 1.0;
    }
    let (k, mut lo) = (errors as f64, errors as f64 / m as f64);
    let mut hi = 1.0;
    let mut mid = 0.5 * (lo + hi);
    for _ in 0..200 {
        mid = 0.5 * (lo + hi);
        let f = binom_cdf(k, m, mid) - delta;
        if f.abs() < 1e-7 {
            break;
        }
        if f > 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    mid
}

/// Conformal risk control's R̂⁺ = n/(n+1)·R̂ + B/(n+1).
#[must_use]
pub fn crc_r_hat_plus(r_hat: f64, n: u64, b: f64) -> f64 {
    let nf = n as f64;
    nf / (nf + 1.0) * r_hat + b / (nf + 1.0)
}

/// Validates a (target, delta) pair.
pub fn check_levels(target: f64, delta: f64) -> Result<()> {
    check_open_unit("target_risk", target)?;
    check_open_unit("delta", delta)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn hoeffding_bentkus_check_values() {
        // docs/definitions/conformal.md#learn-then-test (MAPIE 1.6)
        assert!(close(hb_p_value(0.09, 1000, 0.1, false), 0.43014, 5e-6));
        assert!(close(hb_p_value(0.09, 1000, 0.1, true), 0.15824, 5e-6));
        assert!(close(hb_p_value(0.08, 500, 0.1, false), 0.20411, 5e-6));
        assert!(close(hb_p_value(0.08, 500, 0.1, true), 0.07509, 5e-6));
        assert!(close(hb_p_value(0.10, 100, 0.1, false), 1.0, 1e-12));
        assert!(close(hb_p_value(0.10, 100, 0.1, true), 0.58316, 5e-6));
        assert!(close(hb_p_value_counts(90, 1000, 0.1, false), 0.43014, 5e-6));
    }

    #[test]
    fn sgr_check_value() {
        // docs/definitions/conformal.md#selective-guaranteed-risk-sgr: delta = 1e-4, m = 1000, r = 0.02 gives B* ≈ 0.041963
        assert!(close(sgr_bound(20, 1000, 1e-4), 0.041963, 2e-6));
    }

    #[test]
    fn crc_check_value() {
        assert!(close(crc_r_hat_plus(0.08, 999, 1.0), 0.08092, 1e-12));
    }

    #[test]
    fn upper_bound_inverts_p_value() {
        for kind in [PValueKind::Binomial, PValueKind::HoeffdingBentkus] {
            let ub = kind.upper_bound(20, 1000, 0.05);
            assert!(kind.p_value(20, 1000, ub) <= 0.05);
            assert!(kind.p_value(20, 1000, ub - 1e-8) > 0.05);
            assert!(ub > 0.02);
        }
        assert_eq!(PValueKind::Binomial.upper_bound(3, 3, 0.1), 1.0);
    }
}
