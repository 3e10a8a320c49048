//! Beta calibration (Kull, Silva Filho and Flach, 2017), the reference implementation's default
//! "abm" map: p' = σ(a·ln p − b·ln(1 − p) + c) with a, b ≥ 0. It is a logistic regression on
//! (ln p, −ln(1 − p)); when one fitted slope comes out negative the model is refitted without that
//! feature (its slope set to 0), as `betacal` does. Scores are clipped to [ε, 1 − ε] (ε = machine
//! epsilon) before taking logs, and the slopes carry the same negligible L2 penalty (1e-11) as
//! `betacal`'s `LogisticRegression(C=99999999999)`.

use super::{check_binary_labels, check_unit_interval, check_weights, logistic, sigmoid, CHUNK};
use crate::error::{check_same_len, CredoError, Result};

const L2: f64 = 1.0 / 99_999_999_999.0;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BetaModel {
    pub a: f64,
    pub b: f64,
    pub c: f64,
}

#[inline]
fn features(p: f64) -> (f64, f64) {
    let p = p.clamp(f64::EPSILON, 1.0 - f64::EPSILON);
    (p.ln(), -(1.0 - p).ln())
}

impl BetaModel {
    pub fn new(a: f64, b: f64, c: f64) -> Result<Self> {
        if !(a.is_finite() && b.is_finite() && c.is_finite()) {
            return Err(CredoError::non_finite(
                "a",
                "beta calibration coefficients must be finite",
            ));
        }
        Ok(Self { a, b, c })
    }

    #[inline]
    fn map(&self, p: f64) -> f64 {
        let (lp, l1p) = features(p);
        sigmoid(self.a * lp + self.b * l1p + self.c)
    }

    pub fn predict_one(&self, p: f64) -> Result<f64> {
        check_unit_interval("X", &[p])?;
        Ok(self.map(p))
    }

    pub fn predict(&self, p: &[f64]) -> Result<Vec<f64>> {
        check_unit_interval("X", p)?;
        let mut out = vec![0.0; p.len()];
        crate::parallel::for_each_chunk_mut(&mut out, CHUNK, |c, o| {
            let p = &p[c * CHUNK..c * CHUNK + o.len()];
            for (o, &v) in o.iter_mut().zip(p) {
                *o = self.map(v);
            }
        });
        Ok(out)
    }

    /// The score m mapped to 1/2 (the reference's third parameter), found by bisection; None when
    /// both slopes are zero (a constant map).
    #[must_use]
    pub fn midpoint(&self) -> Option<f64> {
        if self.a <= 0.0 && self.b <= 0.0 {
            return None;
        }
        let g = |m: f64| {
            let (lp, l1p) = features(m);
            self.a * lp + self.b * l1p + self.c
        };
        let (mut lo, mut hi) = (0.0f64, 1.0f64);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if g(mid) < 0.0 {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Some(0.5 * (lo + hi))
    }
}

/// Fits the beta map on scores `p` ∈ [0, 1] and labels `y` ∈ {0, 1}.
pub fn fit(p: &[f64], y: &[f64], w: Option<&[f64]>) -> Result<BetaModel> {
    let n = p.len();
    if n == 0 {
        return Err(CredoError::empty("X", "is empty"));
    }
    check_same_len("y", y.len(), n)?;
    check_unit_interval("X", p)?;
    check_weights(w, n)?;
    check_binary_labels(y, w)?;
    let (lp, l1p): (Vec<f64>, Vec<f64>) = p.iter().map(|&v| features(v)).unzip();
    let ones = vec![1.0; n];
    let full = logistic::fit(&[&lp, &l1p, &ones], y, w, L2, [0.0; 3]);
    let (a, b, c) = if full[0] < 0.0 {
        let th = logistic::fit(&[&l1p, &ones], y, w, L2, [0.0; 2]);
        (0.0, th[0], th[1])
    } else if full[1] < 0.0 {
        let th = logistic::fit(&[&lp, &ones], y, w, L2, [0.0; 2]);
        (th[0], 0.0, th[1])
    } else {
        (full[0], full[1], full[2])
    };
    BetaModel::new(a, b, c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_family_is_recovered() {
        // With soft-label-like data drawn exactly from p' = p (a = b = 1, c = 0) on a fine grid
        // and both outcomes weighted by their probabilities, the fit is the identity.
        let mut p = Vec::new();
        let mut y = Vec::new();
        let mut w = Vec::new();
        for i in 1..200 {
            let v = f64::from(i) / 200.0;
            p.extend([v, v]);
            y.extend([1.0, 0.0]);
            w.extend([v, 1.0 - v]);
        }
        let m = fit(&p, &y, Some(&w)).unwrap();
        assert!(
            (m.a - 1.0).abs() < 1e-6 && (m.b - 1.0).abs() < 1e-6 && m.c.abs() < 1e-6,
            "{m:?}"
        );
        assert!((m.midpoint().unwrap() - 0.5).abs() < 1e-6);
        assert!((m.predict_one(0.3).unwrap() - 0.3).abs() < 1e-6);
    }

    #[test]
    fn refuses_scores_outside_the_unit_interval() {
        assert!(fit(&[0.1, 1.2], &[0.0, 1.0], None).is_err());
        let m = BetaModel::new(1.0, 1.0, 0.0).unwrap();
        assert!(m.predict(&[-0.1]).is_err());
    }
}
