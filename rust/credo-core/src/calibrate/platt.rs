//! Platt scaling exactly as scikit-learn's `_sigmoid_calibration` (docs/definitions/calibrators.md#platt-scaling):
//! p = 1 / (1 + exp(A·f + B)), fitted on Platt's smoothed targets t₊ = (N₊+1)/(N₊+2),
//! t₋ = 1/(N₋+2) (N counted with sample weights), after dividing f by max|f| when that is ≥ 30.
//! scikit-learn stops L-BFGS-B at a gradient tolerance; this solver goes to the optimum.
//!
//! With `logit_input`, scores are probabilities and the map is applied to their log-odds
//! ln(p / (1 − p)) (p clipped to [1e-12, 1 − 1e-12]): Platt on a probability itself can only
//! bend it a little, Platt on its log-odds is the usual way to recalibrate a confidence.

use super::{check_binary_labels, check_unit_interval, check_weights, logistic, sigmoid, CHUNK};
use crate::error::{check_finite, check_same_len, CredoError, Result};

/// A fitted Platt map. Note scikit-learn's sign convention: A < 0 for scores that grow with y.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlattModel {
    pub a: f64,
    pub b: f64,
    pub logit_input: bool,
}

const LOGIT_EPS: f64 = 1e-12;

/// ln(p / (1 − p)) with p clipped away from 0 and 1.
#[inline]
#[must_use]
pub fn logit(p: f64) -> f64 {
    let p = p.clamp(LOGIT_EPS, 1.0 - LOGIT_EPS);
    (p / (1.0 - p)).ln()
}

impl PlattModel {
    pub fn new(a: f64, b: f64, logit_input: bool) -> Result<Self> {
        if !a.is_finite() || !b.is_finite() {
            return Err(CredoError::non_finite("a", "Platt coefficients must be finite"));
        }
        Ok(Self { a, b, logit_input })
    }

    #[inline]
    fn map(&self, f: f64) -> f64 {
        let f = if self.logit_input { logit(f) } else { f };
        sigmoid(-(self.a * f + self.b))
    }

    fn check(&self, f: &[f64]) -> Result<()> {
        if self.logit_input {
            return check_unit_interval("X", f);
        }
        match f.iter().position(|v| v.is_nan()) {
            None => Ok(()),
            Some(i) => Err(CredoError::non_finite("X", format!("NaN at index {i}"))),
        }
    }

    #[inline]
    pub fn predict_one(&self, f: f64) -> Result<f64> {
        self.check(&[f])?;
        Ok(self.map(f))
    }

    pub fn predict(&self, f: &[f64]) -> Result<Vec<f64>> {
        self.check(f)?;
        let mut out = vec![0.0; f.len()];
        crate::parallel::for_each_chunk_mut(&mut out, CHUNK, |c, o| {
            let f = &f[c * CHUNK..c * CHUNK + o.len()];
            for (o, &v) in o.iter_mut().zip(f) {
                *o = self.map(v);
            }
        });
        Ok(out)
    }
}

/// Fits (A, B) on scores `f` and labels `y` ∈ {0, 1} with optional non-negative weights.
/// With `logit_input`, `f` holds probabilities and the fit is on their log-odds.
pub fn fit(f: &[f64], y: &[f64], w: Option<&[f64]>, logit_input: bool) -> Result<PlattModel> {
    let n = f.len();
    if n == 0 {
        return Err(CredoError::empty("X", "is empty"));
    }
    check_same_len("y", y.len(), n)?;
    check_finite("X", f)?;
    let odds: Vec<f64>;
    let f = if logit_input {
        check_unit_interval("X", f)?;
        odds = f.iter().map(|&p| logit(p)).collect();
        &odds
    } else {
        f
    };
    check_weights(w, n)?;
    check_binary_labels(y, w)?;
    let max_abs = f.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let scale = if max_abs >= 30.0 { max_abs } else { 1.0 };
    let scaled: Vec<f64>;
    let f = if scale == 1.0 {
        f
    } else {
        scaled = f.iter().map(|v| v / scale).collect();
        &scaled
    };
    let (mut prior0, mut prior1) = (0.0, 0.0);
    for (i, &v) in y.iter().enumerate() {
        let wi = w.map_or(1.0, |w| w[i]);
        if v > 0.0 {
            prior1 += wi;
        } else {
            prior0 += wi;
        }
    }
    let (t_pos, t_neg) = ((prior1 + 1.0) / (prior1 + 2.0), 1.0 / (prior0 + 2.0));
    let t: Vec<f64> = y.iter().map(|&v| if v > 0.0 { t_pos } else { t_neg }).collect();
    let ones = vec![1.0; n];
    // Logistic model z = a·f + b with p = σ(z), i.e. A = −a, B = −b.
    let b0 = -((prior0 + 1.0) / (prior1 + 1.0)).ln();
    let theta = logistic::fit(&[f, &ones], &t, w, 0.0, [0.0, b0]);
    PlattModel::new(-theta[0] / scale, -theta[1], logit_input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotone_and_sign_convention() {
        let f: Vec<f64> = (0..100).map(|i| f64::from(i) / 10.0 - 5.0).collect();
        let y: Vec<f64> = f
            .iter()
            .enumerate()
            .map(|(i, &v)| f64::from(u8::from(v + if i % 3 == 0 { 2.0 } else { 0.0 } > 0.0)))
            .collect();
        let m = fit(&f, &y, None, false).unwrap();
        assert!(m.a < 0.0);
        let p = m.predict(&f).unwrap();
        assert!(p.windows(2).all(|w| w[0] <= w[1]));
        // Large scores are rescaled internally; the map is the same function of f.
        let big: Vec<f64> = f.iter().map(|v| v * 100.0).collect();
        let mb = fit(&big, &y, None, false).unwrap();
        assert!((mb.a * 100.0 - m.a).abs() < 1e-8 && (mb.b - m.b).abs() < 1e-8);
        // On log-odds input the map is a function of logit(p).
        let p: Vec<f64> = f.iter().map(|&v| sigmoid(v)).collect();
        let ml = fit(&p, &y, None, true).unwrap();
        assert!((ml.a - m.a).abs() < 1e-7 && (ml.b - m.b).abs() < 1e-7, "{ml:?} {m:?}");
        assert!(ml.predict_one(1.5).is_err());
    }

    #[test]
    fn refuses_bad_labels() {
        assert!(fit(&[0.1, 0.2], &[0.0, 2.0], None, false).is_err());
        assert!(fit(&[0.1, 0.2], &[1.0, 1.0], None, false).is_err());
        assert!(fit(&[0.1, 0.2], &[0.0, 1.0], Some(&[1.0, 0.0]), false).is_err());
        assert!(fit(&[], &[], None, false).is_err());
    }
}
