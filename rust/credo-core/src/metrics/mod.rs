//! Measurement: binned and smooth calibration error, proper scores, ranking and selective
//! prediction metrics, bootstrap intervals and drift statistics.
//!
//! Every metric accepts optional per-sample weights. A bootstrap resample is then nothing but a
//! weighted evaluation (weights = resample counts × user weights), so each metric is written once
//! and the bootstrap reuses its sorted or binned preparation across resamples.

pub mod binning;
pub mod bootstrap;
pub mod drift;
pub mod ece;
pub mod pairs;
pub mod ranking;
pub mod scores;
pub mod smooth;
pub mod sort;

use crate::error::{check_finite, check_same_len, CredoError, Result};

/// Checks a vector of probabilities (or confidences): non-empty, finite, inside [0, 1].
pub fn check_probs(arg: &str, p: &[f64]) -> Result<()> {
    if p.is_empty() {
        return Err(CredoError::empty(arg, "is empty"));
    }
    // One branch-free pass in the common case (NaN also fails the range test); the slow scans
    // below only run to word the error.
    if p.iter().fold(true, |ok, v| ok & (0.0..=1.0).contains(v)) {
        return Ok(());
    }
    check_finite(arg, p)?;
    let i = p.iter().position(|&v| !(0.0..=1.0).contains(&v)).unwrap_or(0);
    Err(CredoError::invalid(
        arg,
        format!("probabilities must lie in [0, 1], got {} at index {i}", p[i]),
    ))
}

/// Checks outcomes (labels, correctness or continuous quality): finite and inside [0, 1].
pub fn check_outcomes(arg: &str, y: &[f64], n: usize) -> Result<()> {
    check_same_len(arg, y.len(), n)?;
    if y.iter().fold(true, |ok, v| ok & (0.0..=1.0).contains(v)) {
        return Ok(());
    }
    check_finite(arg, y)?;
    let i = y.iter().position(|&v| !(0.0..=1.0).contains(&v)).unwrap_or(0);
    Err(CredoError::invalid(
        arg,
        format!("outcomes must lie in [0, 1], got {} at index {i}", y[i]),
    ))
}

pub use crate::error::check_weights;

/// The weight of sample `i` (1 when unweighted).
#[inline]
pub(crate) fn wt(w: Option<&[f64]>, i: usize) -> f64 {
    match w {
        Some(w) => w[i],
        None => 1.0,
    }
}

/// The top-label view of a probability matrix: (max probability, 1 if its argmax is the label).
/// Ties in the argmax go to the lowest class index, as `numpy.argmax`.
pub fn top_label(probs: &[f64], n_classes: usize, labels: &[i64]) -> Result<(Vec<f64>, Vec<f64>)> {
    if n_classes == 0 {
        return Err(CredoError::shape("y_prob", "has no classes"));
    }
    let n = probs.len() / n_classes;
    check_same_len("y_true", labels.len(), n)?;
    check_probs("y_prob", probs)?;
    check_labels(labels, n_classes)?;
    let mut conf = Vec::with_capacity(n);
    let mut correct = Vec::with_capacity(n);
    for (row, &label) in probs.chunks_exact(n_classes).zip(labels) {
        let (mut best, mut arg) = (row[0], 0usize);
        for (k, &v) in row.iter().enumerate().skip(1) {
            if v > best {
                best = v;
                arg = k;
            }
        }
        conf.push(best);
        correct.push(if arg as i64 == label { 1.0 } else { 0.0 });
    }
    Ok((conf, correct))
}

/// Checks class labels against the number of classes.
pub fn check_labels(labels: &[i64], n_classes: usize) -> Result<()> {
    if let Some(i) = labels.iter().position(|&l| l < 0 || l as usize >= n_classes) {
        return Err(CredoError::invalid(
            "y_true",
            format!("labels must be in [0, {n_classes}), got {} at index {i}", labels[i]),
        ));
    }
    Ok(())
}
