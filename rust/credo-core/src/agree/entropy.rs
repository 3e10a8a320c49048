//! The published semantic-entropy variants (docs/definitions/agreement.md#semantic-entropy-four-published-definitions), each under its own name.
//!
//! ℓ_i = Σ_t log p (sequence log-likelihood), ℓ̄_i = mean_t log p (length-normalised).
//! `farquhar` and `discrete` are entropies of a distribution over clusters: in [0, ln k].
//! `kuhn` and `lm_polygraph` reproduce those codebases' numbers for cross-checks and are scores,
//! not entropies: Kuhn's carries an additive 5.0 and LM-Polygraph's un-normalised p(c) exceeds 1
//! when samples repeat (its issue #223), which drives it below zero.

use crate::error::{CredoError, Result};

/// Sequence log-likelihoods of each sample, from per-token log-probabilities.
#[derive(Clone, Debug, PartialEq)]
pub struct SeqLogProbs {
    /// ℓ_i = Σ_t log p(y_t).
    pub sum: Vec<f64>,
    /// ℓ̄_i = mean_t log p(y_t).
    pub mean: Vec<f64>,
}

impl SeqLogProbs {
    /// From flat token log-probs and per-sample offsets (`offsets.len()` = samples + 1). Every
    /// sample needs at least one token; token log-probs must be finite and ≤ 0.
    pub fn from_tokens(values: &[f64], offsets: &[usize]) -> Result<Self> {
        let n = offsets.len().saturating_sub(1);
        let (mut sum, mut mean) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for i in 0..n {
            let (lo, hi) = (offsets[i], offsets[i + 1]);
            if hi <= lo || hi > values.len() {
                return Err(CredoError::empty(
                    "logprobs",
                    format!("sample {i} has no token log-probabilities"),
                ));
            }
            let toks = &values[lo..hi];
            if let Some(t) = toks.iter().position(|x| !x.is_finite()) {
                return Err(CredoError::non_finite(
                    "logprobs",
                    format!("sample {i}: non-finite token log-probability {} at token {t}", toks[t]),
                ));
            }
            if let Some(t) = toks.iter().position(|&x| x > 0.0) {
                return Err(CredoError::invalid(
                    "logprobs",
                    format!(
                        "sample {i}: log-probabilities must be <= 0, got {} at token {t}",
                        toks[t]
                    ),
                ));
            }
            let s: f64 = toks.iter().sum();
            sum.push(s);
            mean.push(s / toks.len() as f64);
        }
        Ok(Self { sum, mean })
    }
}

fn logsumexp(xs: impl Iterator<Item = f64> + Clone) -> f64 {
    let m = xs.clone().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + xs.map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// Per-cluster logsumexp of `values` over the members of each cluster.
fn cluster_lse(labels: &[usize], k: usize, values: &[f64]) -> Vec<f64> {
    (0..k)
        .map(|c| logsumexp(labels.iter().zip(values).filter(move |(&l, _)| l == c).map(|(_, &v)| v)))
        .collect()
}

/// −Σ p ln p over a distribution given as log-probabilities (each clamped to ≤ 0), ≥ 0.
fn entropy_from_log(log_p: &[f64]) -> f64 {
    let h: f64 = log_p
        .iter()
        .map(|&lp| lp.min(0.0))
        .filter(|lp| lp.is_finite())
        .map(|lp| -lp.exp() * lp)
        .sum();
    h.max(0.0)
}

/// Farquhar et al. 2024: p(c) = Σ_{i∈c} exp(ℓ̄_i) / Σ_j exp(ℓ̄_j) — the cluster probabilities
/// credo's weighted agreement uses. Returns ln p(c) per cluster.
#[must_use]
pub fn farquhar_log_probs(labels: &[usize], k: usize, lp: &SeqLogProbs) -> Vec<f64> {
    let total = logsumexp(lp.mean.iter().copied());
    cluster_lse(labels, k, &lp.mean)
        .into_iter()
        .map(|x| (x - total).min(0.0))
        .collect()
}

/// Farquhar et al. 2024 (Nature) semantic entropy: −Σ_c p(c) ln p(c) with p(c) as above.
#[must_use]
pub fn farquhar(labels: &[usize], k: usize, lp: &SeqLogProbs) -> f64 {
    entropy_from_log(&farquhar_log_probs(labels, k, lp))
}

/// Kuhn et al. 2023 (ICLR code): −(1/|C|) Σ_c [logsumexp_{i∈c} ℓ̄_i − 5.0].
#[must_use]
pub fn kuhn(labels: &[usize], k: usize, lp: &SeqLogProbs) -> f64 {
    let lse = cluster_lse(labels, k, &lp.mean);
    let kf = k as f64;
    -lse.iter().map(|x| x - 5.0).sum::<f64>() / kf
}

/// s · ln s for small counts, tabulated once: the batch path computes one per cluster.
fn x_ln_x(s: usize) -> f64 {
    static TABLE: std::sync::OnceLock<Vec<f64>> = std::sync::OnceLock::new();
    let t = TABLE.get_or_init(|| {
        (0..=256u32)
            .map(|k| if k == 0 { 0.0 } else { f64::from(k) * f64::from(k).ln() })
            .collect()
    });
    t.get(s).copied().unwrap_or_else(|| s as f64 * (s as f64).ln())
}

/// Discrete semantic entropy (Farquhar): −Σ_c f_c ln f_c with f_c = |c| / N, computed as
/// ln N − (1/N) Σ_c |c| ln |c|.
#[must_use]
pub fn discrete(sizes: &[usize]) -> f64 {
    let n: usize = sizes.iter().sum();
    if n == 0 {
        return 0.0;
    }
    let nf = n as f64;
    let h = (x_ln_x(n) - sizes.iter().map(|&s| x_ln_x(s)).sum::<f64>()) / nf;
    h.max(0.0)
}

/// LM-Polygraph `SemanticEntropy` ("sum" + "mean"): ln p(c) = logsumexp_{i∈c} ℓ_i, then
/// −mean_i ln p(c(i)). Reproduced as published; negative when repeated samples push p(c) above 1.
#[must_use]
pub fn lm_polygraph(labels: &[usize], k: usize, lp: &SeqLogProbs) -> f64 {
    let lse = cluster_lse(labels, k, &lp.sum);
    let nf = labels.len() as f64;
    -labels.iter().map(|&l| lse[l]).sum::<f64>() / nf
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> (Vec<usize>, SeqLogProbs) {
        let values = [-0.1, -0.2, -0.1, -0.2, -0.5, -0.4, -0.3, -2.0];
        let offsets = [0, 2, 4, 7, 8];
        (vec![0, 0, 0, 1], SeqLogProbs::from_tokens(&values, &offsets).unwrap())
    }

    #[test]
    fn reference_toy_values() {
        let (labels, lp) = toy();
        assert!((farquhar(&labels, 2, &lp) - 0.208_850).abs() < 5e-7);
        assert!((kuhn(&labels, 2, &lp) - 5.563_990).abs() < 5e-7);
        assert!((discrete(&[3, 1]) - 0.562_335).abs() < 5e-7);
        assert!((lm_polygraph(&labels, 2, &lp) - 0.066_348).abs() < 5e-7);
    }

    #[test]
    fn farquhar_probs_sum_to_one() {
        let (labels, lp) = toy();
        let s: f64 = farquhar_log_probs(&labels, 2, &lp).iter().map(|x| x.exp()).sum();
        assert!((s - 1.0).abs() < 1e-12);
    }

    #[test]
    fn bad_logprobs() {
        assert!(SeqLogProbs::from_tokens(&[-0.1], &[0, 1, 1]).is_err());
        assert!(SeqLogProbs::from_tokens(&[0.5], &[0, 1]).is_err());
        assert!(SeqLogProbs::from_tokens(&[f64::NAN], &[0, 1]).is_err());
    }
}
