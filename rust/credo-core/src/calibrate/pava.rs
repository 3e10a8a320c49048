//! Weighted isotonic regression of a sequence by the pool-adjacent-violators algorithm, O(n).
//!
//! Blocks keep the exact weighted sum Σ w·y and the weight Σ w of their members, so a pooled
//! value is one division of two sums (no running means that drift with the merge order). Equal
//! neighbouring means are pooled too, as scipy's `isotonic_regression` does; that leaves the
//! fitted values unchanged.

use crate::error::{check_finite, check_same_len, CredoError, Result};

/// Fits the non-decreasing sequence closest to `y` in weighted least squares, in place.
/// Weights must be positive (callers drop zero weights first). With `increasing = false` the
/// non-increasing fit is returned (the increasing fit of −y, negated: both exact).
pub fn pava_in_place(y: &mut [f64], w: &[f64], increasing: bool) {
    debug_assert_eq!(y.len(), w.len());
    if !increasing {
        y.iter_mut().for_each(|v| *v = -*v);
    }
    // Finished blocks (Σ w·y, Σ w, mean, one past the last index) and the open last block,
    // which absorbs violating successors in registers (Busing 2022).
    let n = y.len();
    let mut blocks: Vec<(f64, f64, f64, usize)> = Vec::with_capacity(n);
    let mut top: Option<(f64, f64, f64, usize)> = None;
    for i in 0..n {
        let (yi, wi) = (y[i], w[i]);
        match &mut top {
            Some((s, ww, m, end)) if *m >= yi => {
                *s += wi * yi;
                *ww += wi;
                *m = *s / *ww;
                *end = i + 1;
                while let Some(&(ps, pw, pm, _)) = blocks.last() {
                    if pm < *m {
                        break;
                    }
                    *s += ps;
                    *ww += pw;
                    *m = *s / *ww;
                    blocks.pop();
                }
            }
            t => {
                if let Some(done) = t.replace((wi * yi, wi, yi, i + 1)) {
                    blocks.push(done);
                }
            }
        }
    }
    blocks.extend(top);
    let mut start = 0;
    for &(_, _, m, end) in &blocks {
        let v = if increasing { m } else { -m };
        y[start..end].fill(v);
        start = end;
    }
}

/// Checked entry point: the isotonic fit of `y` (given in order) with optional positive weights.
pub fn isotonic_regression(y: &[f64], w: Option<&[f64]>, increasing: bool) -> Result<Vec<f64>> {
    if y.is_empty() {
        return Err(CredoError::empty("y", "is empty"));
    }
    check_finite("y", y)?;
    let ones;
    let w = match w {
        Some(w) => {
            check_same_len("sample_weight", w.len(), y.len())?;
            check_finite("sample_weight", w)?;
            if let Some(i) = w.iter().position(|&v| v <= 0.0) {
                return Err(CredoError::invalid(
                    "sample_weight",
                    format!("weights must be positive, got {} at index {i}", w[i]),
                ));
            }
            w
        }
        None => {
            ones = vec![1.0; y.len()];
            &ones
        }
    };
    let mut out = y.to_vec();
    pava_in_place(&mut out, w, increasing);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference: the O(n²) definition (min over upper sets of max over lower sets of the mean),
    /// i.e. x_i = max_{a ≤ i} min_{b ≥ i} mean(y[a..=b]).
    fn brute(y: &[f64], w: &[f64]) -> Vec<f64> {
        let n = y.len();
        (0..n)
            .map(|i| {
                (0..=i)
                    .map(|a| {
                        (i..n)
                            .map(|b| {
                                let (s, ww) = (a..=b).fold((0.0, 0.0), |(s, ww), j| (s + w[j] * y[j], ww + w[j]));
                                s / ww
                            })
                            .fold(f64::INFINITY, f64::min)
                    })
                    .fold(f64::NEG_INFINITY, f64::max)
            })
            .collect()
    }

    #[test]
    fn matches_the_minimax_formula() {
        let mut state = 7u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for n in 1..30 {
            let y: Vec<f64> = (0..n).map(|_| (next() * 5.0).floor()).collect();
            let w: Vec<f64> = (0..n).map(|_| 0.1 + next()).collect();
            let fit = isotonic_regression(&y, Some(&w), true).unwrap();
            let want = brute(&y, &w);
            for (a, b) in fit.iter().zip(&want) {
                assert!((a - b).abs() < 1e-12, "{fit:?} vs {want:?}");
            }
            assert!(fit.windows(2).all(|p| p[0] <= p[1]));
            let dec = isotonic_regression(&y, Some(&w), false).unwrap();
            assert!(dec.windows(2).all(|p| p[0] >= p[1]));
        }
    }

    #[test]
    fn scipy_doc_example() {
        let y = [5.0, 3.0, 1.0, 2.0, 8.0, 10.0, 7.0, 9.0, 6.0, 4.0];
        let fit = isotonic_regression(&y, None, true).unwrap();
        assert_eq!(&fit[..4], &[2.75; 4]);
        assert!((fit[9] - 44.0 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(isotonic_regression(&[], None, true).is_err());
        assert!(isotonic_regression(&[1.0, f64::NAN], None, true).is_err());
        assert!(isotonic_regression(&[1.0, 2.0], Some(&[1.0, 0.0]), true).is_err());
        assert!(isotonic_regression(&[1.0, 2.0], Some(&[1.0]), true).is_err());
    }
}
