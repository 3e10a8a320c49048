//! The split-conformal quantile: the k-th smallest of n scores with k = ⌈(n+1)(1−α)⌉.
//!
//! `Exact` reads α as the decimal it prints as (its shortest round-trip representation, so
//! `0.95` means 95/100) and computes k in integer arithmetic. `Compat` evaluates
//! `ceil((n+1)*(1-α))` in float64 as MAPIE 1.6 and TorchCP do; for a few (n, α) (e.g. n = 19,
//! α = 0.95) the float gives one order statistic more than the exact rule. Exact is therefore
//! sometimes one statistic lower, and never less valid for the decimal α the user wrote.

use crate::error::{check_not_nan, check_open_unit, CredoError, Result};

/// How k = ⌈(n+1)(1−α)⌉ is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantileMode {
    /// Integer arithmetic on α's shortest decimal representation.
    Exact,
    /// The float64 expression `ceil((n+1)*(1-α))` (MAPIE, TorchCP).
    Compat,
}

crate::choices!(QuantileMode, "mode", {
    "exact" => QuantileMode::Exact,
    "compat" => QuantileMode::Compat,
});

/// α as the exact fraction m / 10^d of its shortest decimal representation.
fn decimal_parts(alpha: f64) -> (u128, u32) {
    // `{:e}` prints the shortest representation that round-trips, e.g. "9.5e-1".
    let s = format!("{alpha:e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((s.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits: u128 = format!("{int_part}{frac_part}").parse().unwrap_or(0);
    let d = frac_part.len() as i32 - exp;
    // alpha < 1 always has a negative exponent here, so d >= 1.
    (digits, d.max(0).unsigned_abs())
}

/// The rank k = ⌈(n+1)(1−α)⌉ (1-based); k may be n + 1, meaning the quantile is +∞.
pub fn conformal_rank(n: usize, alpha: f64, mode: QuantileMode) -> Result<usize> {
    check_open_unit("alpha", alpha)?;
    let big_n = n as u128 + 1;
    match mode {
        QuantileMode::Exact => {
            // ⌈N − N·α⌉ = N − ⌊N·α⌋ with α = m / 10^d.
            let (m, d) = decimal_parts(alpha);
            let floor = if d >= 38 { 0 } else { big_n * m / 10u128.pow(d) };
            Ok((big_n - floor) as usize)
        }
        QuantileMode::Compat => {
            let k = ((n as f64 + 1.0) * (1.0 - alpha)).ceil();
            Ok(k.max(1.0) as usize)
        }
    }
}

/// The conformal quantile of `scores`, or `+∞` when k > n (too few scores for level 1 − α).
/// Scores of ±∞ are ordered values (−∞: a sample with nothing nonconforming, as a prompt with
/// no false claim); only NaN is refused.
/// With `raise_if_infinite`, that case is an error naming `scores` and the size needed instead.
pub fn conformal_quantile(scores: &[f64], alpha: f64, mode: QuantileMode, raise_if_infinite: bool) -> Result<f64> {
    if scores.is_empty() {
        return Err(CredoError::empty("scores", "needs at least one calibration score"));
    }
    check_not_nan("scores", scores)?;
    let n = scores.len();
    let k = conformal_rank(n, alpha, mode)?;
    if k > n {
        if raise_if_infinite {
            let need = min_calibration_size(alpha, mode)?;
            return Err(CredoError::empty(
                "scores",
                format!("{n} calibration scores are too few for alpha={alpha}: at least {need} are needed for a finite quantile"),
            ));
        }
        return Ok(f64::INFINITY);
    }
    Ok(kth_smallest(scores, k))
}

/// The k-th smallest (1-based) of values without NaN, in O(n).
pub fn kth_smallest(values: &[f64], k: usize) -> f64 {
    let mut work = values.to_vec();
    let (_, kth, _) = work.select_nth_unstable_by(k - 1, f64::total_cmp);
    *kth
}

/// The smallest n for which the quantile at level α is finite.
pub fn min_calibration_size(alpha: f64, mode: QuantileMode) -> Result<usize> {
    check_open_unit("alpha", alpha)?;
    // k <= n  <=>  n >= 1/α − 1 roughly; search upward from that estimate.
    let mut n = ((1.0 / alpha - 1.0).floor().max(1.0) as usize).saturating_sub(2).max(1);
    while conformal_rank(n, alpha, mode)? > n {
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_artefact_n19_alpha095() {
        assert_eq!(conformal_rank(19, 0.95, QuantileMode::Exact).unwrap(), 1);
        assert_eq!(conformal_rank(19, 0.95, QuantileMode::Compat).unwrap(), 2);
    }

    #[test]
    fn exact_and_compat_differ_in_300_cells() {
        // docs/definitions/conformal.md#split-conformal-quantile: over n <= 5000 and the usual levels, 300 cells differ, all at 0.95/0.99.
        let mut diff = 0;
        for alpha in [0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.3, 0.5, 0.9, 0.95, 0.99] {
            for n in 1..=5000 {
                let e = conformal_rank(n, alpha, QuantileMode::Exact).unwrap();
                let c = conformal_rank(n, alpha, QuantileMode::Compat).unwrap();
                assert!(e <= c && c - e <= 1);
                if e != c {
                    diff += 1;
                    assert!(alpha == 0.95 || alpha == 0.99, "alpha {alpha}");
                }
            }
        }
        assert_eq!(diff, 300);
    }

    #[test]
    fn exact_is_never_above_compat() {
        for i in 1..100 {
            let alpha = f64::from(i) / 100.0;
            for n in 1..=2000 {
                let e = conformal_rank(n, alpha, QuantileMode::Exact).unwrap();
                let c = conformal_rank(n, alpha, QuantileMode::Compat).unwrap();
                assert!(e == c || e + 1 == c, "n={n} alpha={alpha}");
            }
        }
    }

    #[test]
    fn exact_rank_matches_rational_definition() {
        for n in 1..300usize {
            for i in 1..1000u32 {
                let alpha = f64::from(i) / 1000.0;
                // ⌈(n+1)(1000 − i)/1000⌉ in integers
                let num = (n as u64 + 1) * u64::from(1000 - i);
                let want = num.div_ceil(1000) as usize;
                assert_eq!(conformal_rank(n, alpha, QuantileMode::Exact).unwrap(), want);
            }
        }
    }

    #[test]
    fn quantile_and_infinity() {
        let s = [0.5, 0.1, 0.9, 0.3];
        // n=4, alpha=0.4: k = ceil(5*0.6) = 3 -> 0.5
        assert_eq!(conformal_quantile(&s, 0.4, QuantileMode::Exact, false).unwrap(), 0.5);
        // alpha=0.1: k = ceil(4.5) = 5 > 4
        assert_eq!(
            conformal_quantile(&s, 0.1, QuantileMode::Exact, false).unwrap(),
            f64::INFINITY
        );
        assert!(conformal_quantile(&s, 0.1, QuantileMode::Exact, true).is_err());
        assert!(conformal_quantile(&[], 0.1, QuantileMode::Exact, false).is_err());
        assert!(conformal_quantile(&[f64::NAN], 0.1, QuantileMode::Exact, false).is_err());
        let ninf = [f64::NEG_INFINITY, f64::NEG_INFINITY, 0.3, f64::INFINITY, 0.1];
        assert_eq!(conformal_quantile(&ninf, 0.5, QuantileMode::Exact, false).unwrap(), 0.1);
        assert_eq!(
            conformal_quantile(&ninf[..2], 0.4, QuantileMode::Exact, false).unwrap(),
            f64::NEG_INFINITY
        );
        assert!(conformal_quantile(&s, 1.0, QuantileMode::Exact, false).is_err());
        assert_eq!(min_calibration_size(0.1, QuantileMode::Exact).unwrap(), 9);
        assert_eq!(min_calibration_size(0.05, QuantileMode::Exact).unwrap(), 19);
    }

    #[test]
    fn tiny_alpha_decimal() {
        assert_eq!(conformal_rank(10, 1e-300, QuantileMode::Exact).unwrap(), 11);
        assert_eq!(
            conformal_rank(1_000_000, 1e-3, QuantileMode::Exact).unwrap(),
            1_000_000 - 1000 + 1
        );
    }
}
