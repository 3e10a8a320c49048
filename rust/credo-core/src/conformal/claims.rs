//! Conformal factuality (Mohri & Hashimoto, ICML 2024): from calibration prompts whose answers
//! are split into scored, labelled claims, the score threshold τ̂ such that keeping only claims
//! with score > τ̂ leaves no false claim with probability ≥ 1 − α.
//!
//! Each prompt's nonconformity is r_i = the highest score of a false claim (−∞ when all are
//! true); τ̂ is the split-conformal quantile of the r_i (+∞ when there are too few prompts:
//! every claim is then removed).

use super::quantile::{conformal_rank, QuantileMode};
use crate::error::{check_finite, check_same_len, CredoError, Result};

/// Per-prompt nonconformity r_i; `offsets` delimit prompt i's claims as `offsets[i]..offsets[i+1]`.
pub fn prompt_scores(scores: &[f64], correct: &[bool], offsets: &[usize]) -> Result<Vec<f64>> {
    check_same_len("labels", correct.len(), scores.len())?;
    check_finite("scores", scores)?;
    if offsets.len() < 2 {
        return Err(CredoError::empty("scores", "needs at least one calibration prompt"));
    }
    if offsets[0] != 0 || offsets[offsets.len() - 1] != scores.len() || offsets.windows(2).any(|w| w[0] > w[1]) {
        return Err(CredoError::shape("offsets", "must rise from 0 to the number of claims"));
    }
    Ok(offsets
        .windows(2)
        .map(|w| {
            (w[0]..w[1])
                .filter(|&j| !correct[j])
                .map(|j| scores[j])
                .fold(f64::NEG_INFINITY, f64::max)
        })
        .collect())
}

/// The claim threshold τ̂ (keep claims with score > τ̂) and the per-prompt scores it came from.
pub fn claim_threshold(
    scores: &[f64],
    correct: &[bool],
    offsets: &[usize],
    alpha: f64,
    mode: QuantileMode,
) -> Result<(f64, Vec<f64>)> {
    let r = prompt_scores(scores, correct, offsets)?;
    let n = r.len();
    let k = conformal_rank(n, alpha, mode)?;
    if k > n {
        return Ok((f64::INFINITY, r));
    }
    let mut work = r.clone();
    let (_, kth, _) = work.select_nth_unstable_by(k - 1, f64::total_cmp);
    Ok((*kth, r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_from_highest_false_claim() {
        // prompt 0: false claim at 0.4; prompt 1: all true; prompt 2: false at 0.7 and 0.2
        let scores = [0.9, 0.4, 0.8, 0.1, 0.7, 0.2, 0.95];
        let correct = [true, false, true, true, false, false, true];
        let offsets = [0, 2, 4, 7];
        let r = prompt_scores(&scores, &correct, &offsets).unwrap();
        assert_eq!(r, vec![0.4, f64::NEG_INFINITY, 0.7]);
        // n = 3, alpha = 0.5: k = ceil(4 * 0.5) = 2 -> 0.4
        let (t, _) = claim_threshold(&scores, &correct, &offsets, 0.5, QuantileMode::Exact).unwrap();
        assert_eq!(t, 0.4);
        let (t, _) = claim_threshold(&scores, &correct, &offsets, 0.1, QuantileMode::Exact).unwrap();
        assert!(t.is_infinite());
        assert!(prompt_scores(&scores, &correct, &[0, 2]).is_err());
        assert!(prompt_scores(&scores, &correct[..3], &offsets).is_err());
    }
}
