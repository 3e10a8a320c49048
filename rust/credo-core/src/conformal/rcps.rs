//! Upper confidence bounds on a mean loss in [0, 1] for risk-controlling prediction sets
//! (Bates et al. 2021; docs/definitions/conformal.md#rcps-upper-bounds, as in MAPIE 1.6 `get_r_hat_plus`):
//!
//! - Hoeffding: r̂ + sqrt(ln(1/δ) / (2n)).
//! - Bernstein: r̂ + sqrt(2 σ̂² ln(2/δ) / n) + 7 ln(2/δ) / (3(n − 1)), σ̂² with ddof = 1.
//! - WSR: the Waudby-Smith–Ramdas betting bound of the RCPS reference code (σ̂ initialised to
//!   0.25), solved by bisection to 1e-10 (MAPIE evaluates it on its λ grid instead).

use crate::error::{check_finite, check_open_unit, CredoError, Result};

/// Which RCPS bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Hoeffding,
    Bernstein,
    Wsr,
}

crate::choices!(Bound, "bound", {
    "hoeffding" => Bound::Hoeffding,
    "bernstein" => Bound::Bernstein,
    "wsr" => Bound::Wsr,
});

/// The (1 − δ) upper confidence bound on the mean of `losses` (each in [0, 1]).
pub fn upper_bound(losses: &[f64], delta: f64, bound: Bound) -> Result<f64> {
    check_open_unit("delta", delta)?;
    if losses.is_empty() {
        return Err(CredoError::empty("losses", "needs at least one loss"));
    }
    check_finite("losses", losses)?;
    if let Some(i) = losses.iter().position(|x| !(0.0..=1.0).contains(x)) {
        return Err(CredoError::invalid(
            "losses",
            format!("must lie in [0, 1], got {} at index {i}", losses[i]),
        ));
    }
    let n = losses.len() as f64;
    let mean = losses.iter().sum::<f64>() / n;
    Ok(match bound {
        Bound::Hoeffding => mean + ((1.0 / delta).ln() / (2.0 * n)).sqrt(),
        Bound::Bernstein => {
            if losses.len() < 2 {
                return Err(CredoError::empty(
                    "losses",
                    "the Bernstein bound needs at least two losses",
                ));
            }
            let var = losses.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
            let l = (2.0 / delta).ln();
            mean + (var * 2.0 * l / n).sqrt() + 7.0 * l / (3.0 * (n - 1.0))
        }
        Bound::Wsr => wsr(losses, delta),
    })
}

fn wsr(x: &[f64], delta: f64) -> f64 {
    let n = x.len() as f64;
    // predictable bets ν_i from the running mean and variance of x_1..x_{i-1}
    let mut nu = Vec::with_capacity(x.len());
    let (mut sum, mut sq) = (0.0, 0.0);
    let mut sigma2_prev = 0.25;
    for (i, &xi) in x.iter().enumerate() {
        nu.push((2.0 * (1.0 / delta).ln() / n / sigma2_prev).sqrt().min(1.0));
        sum += xi;
        let denom = i as f64 + 2.0;
        let mu = (sum + 0.5) / denom;
        sq += (xi - mu) * (xi - mu);
        sigma2_prev = (sq + 0.25) / denom;
    }
    // K(μ) = max_t Σ_{i ≤ t} ln(1 − ν_i (x_i − μ)) + ln δ, increasing in μ; the bound is its root.
    let k = |mu: f64| {
        let mut acc = 0.0;
        let mut best = f64::NEG_INFINITY;
        for (&xi, &v) in x.iter().zip(&nu) {
            acc += (1.0 - v * (xi - mu)).ln();
            best = best.max(acc);
        }
        best + delta.ln()
    };
    if k(1.0) < 0.0 {
        return 1.0;
    }
    let (mut lo, mut hi) = (1e-10, 1.0 - 1e-10);
    if k(lo) >= 0.0 {
        return lo;
    }
    while hi - lo > 1e-10 {
        let mid = 0.5 * (lo + hi);
        if k(mid) >= 0.0 {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_forms() {
        let x = [0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        let h = upper_bound(&x, 0.1, Bound::Hoeffding).unwrap();
        assert!((h - (0.2 + (10f64.ln() / 20.0).sqrt())).abs() < 1e-15);
        let b = upper_bound(&x, 0.1, Bound::Bernstein).unwrap();
        let var = (2.0 * 0.64 + 8.0 * 0.04) / 9.0;
        let want = 0.2 + (var * 2.0 * 20f64.ln() / 10.0).sqrt() + 7.0 * 20f64.ln() / 27.0;
        assert!((b - want).abs() < 1e-14);
    }

    #[test]
    fn wsr_is_a_valid_and_reasonable_bound() {
        let x: Vec<f64> = (0..2000).map(|i| if i % 10 == 0 { 1.0 } else { 0.0 }).collect();
        let w = upper_bound(&x, 0.1, Bound::Wsr).unwrap();
        assert!(w > 0.1 && w < 0.13, "{w}");
        assert_eq!(upper_bound(&[1.0], 0.1, Bound::Wsr).unwrap(), 1.0);
        assert!(upper_bound(&[1.5], 0.1, Bound::Wsr).is_err());
        assert!(upper_bound(&[], 0.1, Bound::Hoeffding).is_err());
        assert!(upper_bound(&[0.5], 0.1, Bound::Bernstein).is_err());
        assert!("x".parse::<Bound>().is_err());
    }
}
