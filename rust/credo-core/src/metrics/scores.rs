//! Proper scoring rules: Brier score and negative log-likelihood, binary and multiclass,
//! weighted means over samples (scikit-learn's conventions, docs/definitions/metrics.md#brier-score-and-nll).

use super::{check_labels, check_outcomes, check_probs, check_weights, wt};
use crate::error::{check_same_len, CredoError, Result};

/// Probabilities are clipped to [eps, 1 − eps] before the logarithm, as scikit-learn's `log_loss`.
const EPS: f64 = f64::EPSILON;

fn weighted_mean(n: usize, w: Option<&[f64]>, f: impl Fn(usize) -> f64) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    for i in 0..n {
        let wi = wt(w, i);
        num += wi * f(i);
        den += wi;
    }
    num / den
}

/// Binary Brier score: mean (y − p)² (scikit-learn's `brier_score_loss` on p(y = 1)).
pub fn brier_binary(p: &[f64], y: &[f64], w: Option<&[f64]>) -> Result<f64> {
    check_probs("y_prob", p)?;
    check_outcomes("y_true", y, p.len())?;
    check_weights(w, p.len())?;
    Ok(weighted_mean(p.len(), w, |i| (y[i] - p[i]).powi(2)))
}

/// Binary NLL: −mean [y log p + (1 − y) log(1 − p)], p clipped to [eps, 1 − eps].
pub fn nll_binary(p: &[f64], y: &[f64], w: Option<&[f64]>) -> Result<f64> {
    check_probs("y_prob", p)?;
    check_outcomes("y_true", y, p.len())?;
    check_weights(w, p.len())?;
    Ok(weighted_mean(p.len(), w, |i| {
        let q = p[i].clamp(EPS, 1.0 - EPS);
        -(y[i] * q.ln() + (1.0 - y[i]) * (1.0 - q).ln())
    }))
}

/// [`brier_binary`] on validated inputs with explicit weights (bootstrap resamples).
pub fn brier_binary_unchecked(p: &[f64], y: &[f64], w: &[f64]) -> f64 {
    weighted_mean(p.len(), Some(w), |i| (y[i] - p[i]).powi(2))
}

/// [`nll_binary`] on validated inputs with explicit weights (bootstrap resamples).
pub fn nll_binary_unchecked(p: &[f64], y: &[f64], w: &[f64]) -> f64 {
    weighted_mean(p.len(), Some(w), |i| {
        let q = p[i].clamp(EPS, 1.0 - EPS);
        -(y[i] * q.ln() + (1.0 - y[i]) * (1.0 - q).ln())
    })
}

fn check_multiclass(probs: &[f64], k: usize, labels: &[i64], w: Option<&[f64]>) -> Result<usize> {
    if k == 0 {
        return Err(CredoError::shape("y_prob", "has no classes"));
    }
    let n = probs.len() / k;
    check_probs("y_prob", probs)?;
    check_same_len("y_true", labels.len(), n)?;
    check_labels(labels, k)?;
    check_weights(w, n)?;
    Ok(n)
}

/// Multiclass Brier score: mean over samples of Σ_k (1[y = k] − p_k)² (not halved).
pub fn brier_multiclass(probs: &[f64], k: usize, labels: &[i64], w: Option<&[f64]>) -> Result<f64> {
    let n = check_multiclass(probs, k, labels, w)?;
    Ok(weighted_mean(n, w, |i| {
        let row = &probs[i * k..(i + 1) * k];
        let y = labels[i] as usize;
        row.iter()
            .enumerate()
            .map(|(c, &p)| if c == y { (1.0 - p).powi(2) } else { p * p })
            .sum()
    }))
}

/// Multiclass NLL: −mean log p_y, p clipped to [eps, 1 − eps].
pub fn nll_multiclass(probs: &[f64], k: usize, labels: &[i64], w: Option<&[f64]>) -> Result<f64> {
    let n = check_multiclass(probs, k, labels, w)?;
    Ok(weighted_mean(n, w, |i| {
        -probs[i * k + labels[i] as usize].clamp(EPS, 1.0 - EPS).ln()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brier_and_nll_small_cases() {
        let p = [0.9, 0.2];
        let y = [1.0, 0.0];
        assert!((brier_binary(&p, &y, None).unwrap() - (0.01 + 0.04) / 2.0).abs() < 1e-15);
        let expect = -(0.9f64.ln() + 0.8f64.ln()) / 2.0;
        assert!((nll_binary(&p, &y, None).unwrap() - expect).abs() < 1e-15);
        let probs = [0.7, 0.2, 0.1];
        assert!((brier_multiclass(&probs, 3, &[0], None).unwrap() - (0.09 + 0.04 + 0.01)).abs() < 1e-15);
        assert!(nll_multiclass(&probs, 3, &[3], None).is_err());
    }
}
