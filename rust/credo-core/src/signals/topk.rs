//! Signals from truncated distributions: per position, the top-k logprobs a server returned
//! (OpenAI: up to 20) and the chosen token's logprob.
//!
//! An entry is missing when it is NaN, `-inf` or at most the sentinel (OpenAI and vLLM use
//! −9999). With a declared `k`, only the k largest entries are kept (vLLM may return k+1: the
//! chosen token appended). Let pᵢ = exp(ℓᵢ) over the n kept entries, mass = Σpᵢ, τ = 1 − mass:
//!
//! * `raw` (LM-Polygraph): H = −Σ pᵢ ℓᵢ, no renormalisation.
//! * `renormalized` (UQLM): qᵢ = pᵢ/mass, H = −Σ qᵢ log qᵢ; chosen logprob ℓ − log mass when the
//!   chosen token is among the entries (NaN otherwise).
//! * `bounds` (default): the full-vocabulary entropy lies in [lower, upper]. The tail τ is spread
//!   over the V − n unseen tokens, none above the smallest returned pᵢ; entropy is
//!   Schur-concave, so the lower bound packs τ into as few tokens as allowed and the upper bound
//!   spreads it uniformly (τ·log((V − n)/τ); NaN when V is unknown). `entropy` is the lower bound.

use crate::error::{CredoError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TopkPolicy {
    Raw,
    Renormalized,
    #[default]
    Bounds,
}

crate::choices!(TopkPolicy, "policy", {
    "raw" => TopkPolicy::Raw,
    "renormalized" => TopkPolicy::Renormalized,
    "bounds" => TopkPolicy::Bounds,
}, aliases {
    "renormalised" => TopkPolicy::Renormalized,
});

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TopkOptions {
    pub policy: TopkPolicy,
    /// Full vocabulary size (for the entropy upper bound).
    pub vocab_size: Option<usize>,
    /// The declared k (entries beyond the k largest are ignored); defaults to the row width.
    pub k: Option<usize>,
    /// Values at or below this are missing.
    pub sentinel: f64,
}

impl TopkOptions {
    /// Whether a logprob is missing: NaN, −∞ or at most the sentinel.
    #[inline]
    pub(super) fn is_missing(&self, x: f64) -> bool {
        x.is_nan() || x <= self.sentinel || x == f64::NEG_INFINITY
    }
}

/// The error for a top-k entry above 0 (beyond the rounding slack).
pub(super) fn entry_above_zero(position: usize, entry: usize, x: f64) -> CredoError {
    CredoError::invalid(
        "top_logprobs",
        format!("logprob {x} at position {position}, entry {entry} is above 0"),
    )
}

/// The error for a chosen logprob above 0 (beyond the rounding slack).
pub(super) fn chosen_above_zero(position: usize, x: f64) -> CredoError {
    CredoError::invalid(
        "chosen_logprob",
        format!("logprob {x} at position {position} is above 0"),
    )
}

impl Default for TopkOptions {
    fn default() -> Self {
        Self {
            policy: TopkPolicy::Bounds,
            vocab_size: None,
            k: None,
            sentinel: -9999.0,
        }
    }
}

/// One value per position.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TopkSignals {
    pub n_valid: Vec<i64>,
    pub tail_mass: Vec<f64>,
    pub entropy: Vec<f64>,
    pub entropy_lower: Vec<f64>,
    pub entropy_upper: Vec<f64>,
    /// UQLM's 1 − H_renormalised / log k (NaN with fewer than k entries).
    pub negentropy: Vec<f64>,
    pub max_logprob: Vec<f64>,
    pub margin_prob: Vec<f64>,
    pub chosen_logprob: Option<Vec<f64>>,
    /// Entries strictly above the chosen logprob; n_valid means "not in the returned top-k".
    pub chosen_rank: Option<Vec<i64>>,
}

/// Processed logprobs may exceed 0 by rounding; beyond this they are an error.
pub(crate) const POSITIVE_SLACK: f64 = 1e-3;

fn xlogx_neg(p: f64) -> f64 {
    if p > 0.0 {
        -p * p.ln()
    } else {
        0.0
    }
}

/// The shape checks shared by every top-k entry point: a non-empty `[rows, width]` buffer of
/// `len` entries and, when given, one chosen logprob per row.
pub(super) fn check_shapes(len: usize, rows: usize, width: usize, chosen: Option<&[f64]>) -> Result<()> {
    if rows == 0 || width == 0 {
        return Err(CredoError::empty("top_logprobs", "is empty"));
    }
    if len != rows * width {
        return Err(CredoError::shape(
            "top_logprobs",
            format!("buffer of {len} does not hold {rows} x {width}"),
        ));
    }
    if let Some(c) = chosen {
        if c.len() != rows {
            return Err(CredoError::shape(
                "chosen_logprob",
                format!("has {} values but there are {rows} positions", c.len()),
            ));
        }
    }
    Ok(())
}

/// The declared k (default: the row width), checked against the vocabulary size, and the
/// sentinel checked finite (NaN would mark nothing missing, +∞ everything; −∞ is no sentinel,
/// and NaN and −∞ entries are missing anyway).
pub(super) fn check_options(width: usize, opts: &TopkOptions) -> Result<usize> {
    if !opts.sentinel.is_finite() {
        return Err(CredoError::invalid(
            "sentinel",
            format!("must be a finite number, got {}", opts.sentinel),
        ));
    }
    let k = opts.k.unwrap_or(width);
    if k == 0 {
        return Err(CredoError::invalid("k", "must be at least 1"));
    }
    if let Some(v) = opts.vocab_size {
        if v < k {
            return Err(CredoError::invalid(
                "vocab_size",
                format!("{v} is smaller than k = {k}"),
            ));
        }
    }
    Ok(k)
}

/// Computes top-k signals from `top` (row-major `[rows, width]`) and optional chosen logprobs.
pub fn topk_signals(
    top: &[f64],
    rows: usize,
    width: usize,
    chosen: Option<&[f64]>,
    opts: &TopkOptions,
) -> Result<TopkSignals> {
    check_shapes(top.len(), rows, width, chosen)?;
    if let Some(c) = chosen {
        if let Some(i) = c.iter().position(|&x| x > POSITIVE_SLACK) {
            return Err(chosen_above_zero(i, c[i]));
        }
    }
    let k = check_options(width, opts)?;
    let mut out = TopkSignals {
        chosen_logprob: chosen.map(|_| Vec::with_capacity(rows)),
        chosen_rank: chosen.map(|_| Vec::with_capacity(rows)),
        ..Default::default()
    };
    let mut kept: Vec<f64> = Vec::with_capacity(width);
    for r in 0..rows {
        let row = &top[r * width..(r + 1) * width];
        kept.clear();
        for (j, &x) in row.iter().enumerate() {
            if x == f64::INFINITY || x > POSITIVE_SLACK {
                return Err(entry_above_zero(r, j, x));
            }
            if !opts.is_missing(x) {
                kept.push(x.min(0.0));
            }
        }
        kept.sort_by(|a, b| b.total_cmp(a));
        kept.truncate(k);
        let n = kept.len();
        let mass: f64 = kept.iter().map(|l| l.exp()).sum();
        let tail = (1.0 - mass).max(0.0);
        let raw_h: f64 = kept.iter().map(|&l| -l.exp() * l).sum();
        let log_mass = mass.ln();
        // −Σ (p/M)(ℓ − log M) = H_raw/M + log M.
        let ren_h = if n == 0 {
            f64::NAN
        } else {
            (log_mass + raw_h / mass).max(0.0)
        };
        let (lower, upper) = if n == 0 {
            (f64::NAN, f64::NAN)
        } else {
            let pmin = kept[n - 1].exp();
            let lower = if tail > 0.0 {
                let full = (tail / pmin).floor();
                let rem = tail - full * pmin;
                raw_h + full * xlogx_neg(pmin) + xlogx_neg(rem)
            } else {
                raw_h
            };
            let upper = match opts.vocab_size {
                None => f64::NAN,
                Some(v) if v <= n || tail == 0.0 => raw_h,
                Some(v) => raw_h + tail * ((v - n) as f64 / tail).ln(),
            };
            // Rounding can put a tight upper bound a hair below the lower one (NaN stays NaN).
            (lower, if upper.is_nan() { upper } else { upper.max(lower) })
        };
        let renorm = opts.policy == TopkPolicy::Renormalized;
        let shift = if renorm { log_mass } else { 0.0 };
        let (p1, p2) = (
            kept.first().map_or(0.0, |l| l.exp()),
            kept.get(1).map_or(0.0, |l| l.exp()),
        );
        out.n_valid.push(n as i64);
        out.tail_mass.push(tail);
        out.entropy.push(match opts.policy {
            TopkPolicy::Raw => {
                if n == 0 {
                    f64::NAN
                } else {
                    raw_h
                }
            }
            TopkPolicy::Renormalized => ren_h,
            TopkPolicy::Bounds => lower,
        });
        out.entropy_lower.push(lower);
        out.entropy_upper.push(upper);
        out.negentropy.push(if n < k || k < 2 {
            f64::NAN
        } else {
            1.0 - ren_h / (k as f64).ln()
        });
        out.max_logprob.push(kept.first().map_or(f64::NAN, |l| l - shift));
        out.margin_prob.push(if n == 0 {
            f64::NAN
        } else if renorm {
            (p1 - p2) / mass
        } else {
            p1 - p2
        });
        if let Some(c) = chosen {
            let cl = c[r];
            let (lp, rank) = if opts.is_missing(cl) {
                (f64::NAN, -1)
            } else {
                let cl = cl.min(0.0);
                let rank = kept.iter().filter(|&&l| l > cl).count();
                // Outside the returned entries only when strictly below all n of them (or none kept).
                let inside = rank < n;
                let lp = if renorm {
                    if inside {
                        cl - log_mass
                    } else {
                        f64::NAN
                    }
                } else {
                    cl
                };
                (lp, rank as i64)
            };
            if let Some(v) = out.chosen_logprob.as_mut() {
                v.push(lp);
            }
            if let Some(v) = out.chosen_rank.as_mut() {
                v.push(rank);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entropy(p: &[f64]) -> f64 {
        p.iter().map(|&x| xlogx_neg(x)).sum()
    }

    #[test]
    fn policies_on_a_known_distribution() {
        // Full distribution over V = 6: top-3 returned.
        let full = [0.5, 0.2, 0.1, 0.1, 0.05, 0.05];
        let top: Vec<f64> = full[..3].iter().map(|p: &f64| p.ln()).collect();
        let opts = |policy| TopkOptions {
            policy,
            vocab_size: Some(6),
            ..Default::default()
        };
        let raw = topk_signals(&top, 1, 3, None, &opts(TopkPolicy::Raw)).unwrap();
        let want_raw: f64 = full[..3].iter().map(|&p| xlogx_neg(p)).sum();
        assert!((raw.entropy[0] - want_raw).abs() < 1e-12);
        let ren = topk_signals(&top, 1, 3, None, &opts(TopkPolicy::Renormalized)).unwrap();
        let q: Vec<f64> = full[..3].iter().map(|p| p / 0.8).collect();
        assert!((ren.entropy[0] - entropy(&q)).abs() < 1e-12);
        let b = topk_signals(&top, 1, 3, None, &opts(TopkPolicy::Bounds)).unwrap();
        let h = entropy(&full);
        assert!(b.entropy_lower[0] <= h + 1e-12 && h <= b.entropy_upper[0] + 1e-12);
        // Lower bound: tail 0.2 packed as 0.1 + 0.1 (the smallest top entry is 0.1).
        let lower = entropy(&[0.5, 0.2, 0.1, 0.1, 0.1]);
        assert!((b.entropy_lower[0] - lower).abs() < 1e-12);
        let upper = entropy(&[0.5, 0.2, 0.1, 0.2 / 3.0, 0.2 / 3.0, 0.2 / 3.0]);
        assert!((b.entropy_upper[0] - upper).abs() < 1e-12);
        assert!((b.tail_mass[0] - 0.2).abs() < 1e-12);
    }

    #[test]
    fn sentinels_extra_entries_and_chosen_outside() {
        let top = [-0.1, -9999.0, -3.0, f64::NAN, -0.2, -1.0, -2.0, -5.0];
        let opts = TopkOptions {
            policy: TopkPolicy::Raw,
            k: Some(3),
            ..Default::default()
        };
        let s = topk_signals(&top, 2, 4, Some(&[-7.0, -1.0]), &opts).unwrap();
        assert_eq!(s.n_valid, vec![2, 3]);
        assert_eq!(s.chosen_rank.as_ref().unwrap(), &vec![2, 1]);
        assert!(s.negentropy[0].is_nan());
        assert!(topk_signals(&[0.5], 1, 1, None, &opts).is_err());
        assert!(topk_signals(&[-0.5], 1, 1, Some(&[]), &TopkOptions::default()).is_err());
    }

    #[test]
    fn a_sentinel_that_is_not_finite_is_refused() {
        for sentinel in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let opts = TopkOptions {
                sentinel,
                ..Default::default()
            };
            let err = topk_signals(&[-0.5], 1, 1, None, &opts).unwrap_err();
            assert!(err.to_string().starts_with("sentinel:"), "{err}");
        }
    }
}
