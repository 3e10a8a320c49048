//! Platt scaling exactly as scikit-learn's `_sigmoid_calibration` (REFERENCE.md §d.11):
//! p = 1 / (1 + exp(A·f + B)), fitted on Platt's smoothed targets t₊ = (N₊+1)/(N₊+2),
//! t₋ = 1/(N₋+2) (N counted with sample weights), after dividing f by max|f| when that is ≥ 30.
//! scikit-learn stops L-BFGS-B at a gradient tolerance; this solver goes to the optimum.

use rayon::prelude::*;

use super::{check_binary_labels, check_weights, logistic, sigmoid, CHUNK};
use crate::error::{check_finite, check_same_len, CredoError, Result};

/// A fitted Platt map. Note scikit-learn's sign convention: A < 0 for scores that grow with y.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlattModel {
    pub a: f64,
    pub b: f64,
}

impl PlattModel {
    pub fn new(a: f64, b: f64) -> Result<Self> {
        if !a.is_finite() || !b.is_finite() {
            return Err(CredoError::non_finite("a", "Platt coefficients must be finite"));
        }
        Ok(Self { a, b })
    }

    #[inline]
    pub fn predict_one(&self, f: f64) -> Result<f64> {
        if f.is_nan() {
            return Err(CredoError::non_finite("X", "NaN input"));
        }
        Ok(sigmoid(-(self.a * f + self.b)))
    }

    pub fn predict(&self, f: &[f64]) -> Result<Vec<f64>> {
        if let Some(i) = f.iter().position(|v| v.is_nan()) {
            return Err(CredoError::non_finite("X", format!("NaN at index {i}")));
        }
        let mut out = vec![0.0; f.len()];
        out.par_chunks_mut(CHUNK).zip(f.par_chunks(CHUNK)).for_each(|(o, f)| {
            for (o, &v) in o.iter_mut().zip(f) {
                *o = sigmoid(-(self.a * v + self.b));
            }
        });
        Ok(out)
    }
}

/// Fits (A, B) on scores `f` and labels `y` ∈ {0, 1} with optional non-negative weights.
pub fn fit(f: &[f64], y: &[f64], w: Option<&[f64]>) -> Result<PlattModel> {
    let n = f.len();
    if n == 0 {
        return Err(CredoError::empty("X", "is empty"));
    }
    check_same_len("y", y.len(), n)?;
    check_finite("X", f)?;
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
    PlattModel::new(-theta[0] / scale, -theta[1])
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
        let m = fit(&f, &y, None).unwrap();
        assert!(m.a < 0.0);
        let p = m.predict(&f).unwrap();
        assert!(p.windows(2).all(|w| w[0] <= w[1]));
        // Large scores are rescaled internally; the map is the same function of f.
        let big: Vec<f64> = f.iter().map(|v| v * 100.0).collect();
        let mb = fit(&big, &y, None).unwrap();
        assert!((mb.a * 100.0 - m.a).abs() < 1e-8 && (mb.b - m.b).abs() < 1e-8);
    }

    #[test]
    fn refuses_bad_labels() {
        assert!(fit(&[0.1, 0.2], &[0.0, 2.0], None).is_err());
        assert!(fit(&[0.1, 0.2], &[1.0, 1.0], None).is_err());
        assert!(fit(&[0.1, 0.2], &[0.0, 1.0], Some(&[1.0, 0.0])).is_err());
        assert!(fit(&[], &[], None).is_err());
    }
}
