//! Reducing multiclass probabilities to binary calibration problems and back.
//!
//! * Top-label: calibrate the top probability as P(prediction correct); the calibrated row puts
//!   the calibrated confidence c on the predicted class and shares 1 − c among the others in
//!   proportion to their original probabilities (uniformly if they were all zero).
//! * One-vs-rest (scikit-learn's `CalibratedClassifierCV`): calibrate each column against
//!   "label = k", then divide each row by its sum; an all-zero row becomes uniform 1/K, and values
//!   in (1, 1 + 1e-5] are set to 1.

use super::CHUNK;
use crate::error::{check_finite, check_same_len, CredoError, Result};

fn check_shape(p: &[f64], n: usize, k: usize) -> Result<()> {
    if k == 0 {
        return Err(CredoError::shape("X", "has no columns"));
    }
    check_same_len("X", p.len(), n * k)
}

/// (top probability, its first column) of every row.
pub fn top_label(p: &[f64], n: usize, k: usize) -> Result<(Vec<f64>, Vec<i64>)> {
    check_shape(p, n, k)?;
    check_finite("X", p)?;
    let mut conf = vec![0.0; n];
    let mut idx = vec![0i64; n];
    let rows = (CHUNK / k).max(1);
    crate::parallel::for_each_chunk_pair_mut((&mut conf, rows), (&mut idx, rows), |ch, c, ix| {
        let p = &p[ch * rows * k..(ch * rows + c.len()) * k];
        for ((c, ix), row) in c.iter_mut().zip(ix.iter_mut()).zip(p.chunks(k)) {
            let mut best = 0;
            for j in 1..k {
                if row[j] > row[best] {
                    best = j;
                }
            }
            *c = row[best];
            *ix = i64::try_from(best).unwrap_or(i64::MAX);
        }
    });
    Ok((conf, idx))
}

/// Rows with the top class set to the calibrated confidence `conf` (see module docs).
pub fn rescale_top_label(p: &[f64], n: usize, k: usize, conf: &[f64]) -> Result<Vec<f64>> {
    check_shape(p, n, k)?;
    check_same_len("confidence", conf.len(), n)?;
    let (_, idx) = top_label(p, n, k)?;
    let mut out = p.to_vec();
    let rows = (CHUNK / k).max(1);
    crate::parallel::for_each_chunk_mut(&mut out, rows * k, |c, block| {
        for (r, row) in block.chunks_mut(k).enumerate() {
            let i = c * rows + r;
            let top = idx[i] as usize;
            let rest: f64 = row.iter().enumerate().filter(|&(j, _)| j != top).map(|(_, v)| v).sum();
            let c = conf[i].clamp(0.0, 1.0);
            for (j, v) in row.iter_mut().enumerate() {
                *v = if j == top {
                    c
                } else if rest > 0.0 {
                    *v / rest * (1.0 - c)
                } else if k > 1 {
                    (1.0 - c) / (k - 1) as f64
                } else {
                    0.0
                };
            }
        }
    });
    Ok(out)
}

/// Row-normalises one-vs-rest calibrated columns, as scikit-learn does.
pub fn normalize_one_vs_rest(p: &[f64], n: usize, k: usize) -> Result<Vec<f64>> {
    check_shape(p, n, k)?;
    check_finite("X", p)?;
    let mut out = p.to_vec();
    let rows = (CHUNK / k).max(1);
    crate::parallel::for_each_chunk_mut(&mut out, rows * k, |_, block| {
        for row in block.chunks_mut(k) {
            let s: f64 = row.iter().sum();
            for v in row.iter_mut() {
                *v = if s == 0.0 { 1.0 / k as f64 } else { *v / s };
                if *v > 1.0 && *v <= 1.0 + 1e-5 {
                    *v = 1.0;
                }
            }
        }
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_label_round_trip() {
        let p = [0.2, 0.5, 0.3, 0.0, 1.0, 0.0];
        let (c, i) = top_label(&p, 2, 3).unwrap();
        assert_eq!((c, i), (vec![0.5, 1.0], vec![1, 1]));
        let q = rescale_top_label(&p, 2, 3, &[0.6, 0.7]).unwrap();
        assert!((q[0] - 0.16).abs() < 1e-15 && (q[1] - 0.6).abs() < 1e-15 && (q[2] - 0.24).abs() < 1e-15);
        for (a, b) in q[3..].iter().zip(&[0.15, 0.7, 0.15]) {
            assert!((a - b).abs() < 1e-15);
        }
    }

    #[test]
    fn one_vs_rest_normalisation() {
        let q = normalize_one_vs_rest(&[0.2, 0.6, 0.0, 0.0], 2, 2).unwrap();
        for (a, b) in q.iter().zip(&[0.25, 0.75, 0.5, 0.5]) {
            assert!((a - b).abs() < 1e-15);
        }
    }
}
