//! Sequence signals: per-sequence aggregates of token signals over the valid positions of a
//! padded `[B, T]` batch, and repetition statistics over the chosen token ids.
//!
//! Conventions (docs/definitions/signals.md#sequence-estimators): all valid positions count, the last one (EOS) included, unless
//! `drop_last` is set (LM-Polygraph's token-level `TokenEntropy` drops it). A sequence with no
//! valid position gets NaN aggregates and zero counts.

use std::collections::HashSet;

use crate::error::{CredoError, Result};

/// Which positions of each sequence are valid.
#[derive(Debug, Clone, Copy)]
pub enum Valid<'a> {
    /// Every position.
    All,
    /// The first `lengths[b]` positions of sequence b.
    Lengths(&'a [i64]),
    /// `mask[b * T + t] != 0` marks a valid position (need not be a prefix).
    Mask(&'a [u8]),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequenceOptions {
    /// Drop each sequence's last valid position (the EOS token) before aggregating.
    pub drop_last: bool,
    /// n for the repeated n-gram fraction.
    pub ngram: usize,
}

impl Default for SequenceOptions {
    fn default() -> Self {
        Self {
            drop_last: false,
            ngram: 3,
        }
    }
}

/// One value per sequence.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SequenceSignals {
    pub n_tokens: Vec<i64>,
    pub mean_entropy: Vec<f64>,
    pub max_entropy: Vec<f64>,
    /// Σ log p(chosen) (NaN without chosen logprobs); LM-Polygraph's MSP is its negative.
    pub sum_logprob: Vec<f64>,
    pub mean_logprob: Vec<f64>,
    pub min_logprob: Vec<f64>,
    /// exp(−mean_logprob).
    pub perplexity: Vec<f64>,
    /// Mean and minimum of the per-token probability margin p₁ − p₂.
    pub mean_margin: Vec<f64>,
    pub min_margin: Vec<f64>,
    /// 1 − distinct n-grams / n-grams over the chosen ids (0 when the sequence is shorter than n).
    pub repeated_ngram_fraction: Vec<f64>,
    /// Longest run of one token id repeated back to back.
    pub longest_repeat_run: Vec<i64>,
}

/// Per-token inputs of a `[batch, seq]` batch, row-major.
#[derive(Debug, Clone, Copy)]
pub struct SequenceInput<'a> {
    pub batch: usize,
    pub seq: usize,
    pub entropy: &'a [f64],
    pub margin_prob: &'a [f64],
    pub chosen_logprob: Option<&'a [f64]>,
    pub chosen: Option<&'a [i64]>,
}

fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        f64::NAN
    } else {
        xs.iter().sum::<f64>() / xs.len() as f64
    }
}

fn fold_or_nan(xs: &[f64], f: fn(f64, f64) -> f64) -> f64 {
    xs.iter().copied().reduce(f).unwrap_or(f64::NAN)
}

/// NaN-propagating max / min (an invalid token makes the aggregate invalid, visibly).
fn nmax(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}
fn nmin(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

fn repetition(ids: &[i64], n: usize) -> (f64, i64) {
    let frac = if n == 0 || ids.len() < n {
        0.0
    } else {
        let total = ids.len() - n + 1;
        let distinct: HashSet<&[i64]> = ids.windows(n).collect();
        1.0 - distinct.len() as f64 / total as f64
    };
    let mut longest = 0i64;
    let mut run = 0i64;
    for (i, id) in ids.iter().enumerate() {
        run = if i > 0 && ids[i - 1] == *id { run + 1 } else { 1 };
        longest = longest.max(run);
    }
    (frac, longest)
}

/// Aggregates token signals per sequence.
pub fn sequence_signals(inp: &SequenceInput<'_>, valid: Valid<'_>, opts: &SequenceOptions) -> Result<SequenceSignals> {
    let (b, t) = (inp.batch, inp.seq);
    let n = b * t;
    if b == 0 {
        return Err(CredoError::empty("signals", "no sequences"));
    }
    for (name, len) in [
        ("entropy", Some(inp.entropy.len())),
        ("margin_prob", Some(inp.margin_prob.len())),
        ("chosen_logprob", inp.chosen_logprob.map(<[f64]>::len)),
        ("chosen", inp.chosen.map(<[i64]>::len)),
    ] {
        if let Some(len) = len {
            if len != n {
                return Err(CredoError::shape(
                    name,
                    format!("has {len} values, expected {b} x {t} = {n}"),
                ));
            }
        }
    }
    if opts.ngram == 0 {
        return Err(CredoError::invalid("ngram", "must be at least 1"));
    }
    match valid {
        Valid::All => {}
        Valid::Lengths(l) => {
            if l.len() != b {
                return Err(CredoError::shape(
                    "lengths",
                    format!("has {} entries but there are {b} sequences", l.len()),
                ));
            }
            if let Some(i) = l.iter().position(|&x| x < 0 || x as u64 > t as u64) {
                return Err(CredoError::invalid(
                    "lengths",
                    format!("length {} of sequence {i} is outside [0, {t}]", l[i]),
                ));
            }
        }
        Valid::Mask(m) => {
            if m.len() != n {
                return Err(CredoError::shape(
                    "mask",
                    format!("has {} values, expected {b} x {t} = {n}", m.len()),
                ));
            }
        }
    }
    type Row = (i64, [f64; 8], f64, i64);
    let one = |s: usize| -> Row {
        let mut pos: Vec<usize> = match valid {
            Valid::All => (0..t).collect(),
            Valid::Lengths(l) => (0..l[s] as usize).collect(),
            Valid::Mask(m) => (0..t).filter(|&j| m[s * t + j] != 0).collect(),
        };
        if opts.drop_last {
            pos.pop();
        }
        let gather = |xs: &[f64]| -> Vec<f64> { pos.iter().map(|&j| xs[s * t + j]).collect() };
        let ent = gather(inp.entropy);
        let mar = gather(inp.margin_prob);
        let (sum_lp, mean_lp, min_lp) = match inp.chosen_logprob {
            Some(c) => {
                let lp = gather(c);
                let sum = if lp.is_empty() { f64::NAN } else { lp.iter().sum() };
                (sum, mean(&lp), fold_or_nan(&lp, nmin))
            }
            None => (f64::NAN, f64::NAN, f64::NAN),
        };
        let (frac, run) = match inp.chosen {
            Some(c) => {
                let ids: Vec<i64> = pos.iter().map(|&j| c[s * t + j]).collect();
                repetition(&ids, opts.ngram)
            }
            None => (f64::NAN, -1),
        };
        let vals = [
            mean(&ent),
            fold_or_nan(&ent, nmax),
            sum_lp,
            mean_lp,
            min_lp,
            (-mean_lp).exp(),
            mean(&mar),
            fold_or_nan(&mar, nmin),
        ];
        (pos.len() as i64, vals, frac, run)
    };
    let rows: Vec<Row> = crate::parallel::map_range(b, 64, one);
    let mut out = SequenceSignals::default();
    for (count, v, frac, run) in rows {
        out.n_tokens.push(count);
        out.mean_entropy.push(v[0]);
        out.max_entropy.push(v[1]);
        out.sum_logprob.push(v[2]);
        out.mean_logprob.push(v[3]);
        out.min_logprob.push(v[4]);
        out.perplexity.push(v[5]);
        out.mean_margin.push(v[6]);
        out.min_margin.push(v[7]);
        out.repeated_ngram_fraction.push(frac);
        out.longest_repeat_run.push(run);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_with_lengths_and_eos_drop() {
        let ent = [1.0, 2.0, 3.0, 9.0, 0.5, 0.25, 0.0, 0.0];
        let mar = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8];
        let lp = [-1.0, -2.0, -0.5, -9.0, -0.1, -0.2, 0.0, 0.0];
        let ids = [5, 5, 5, 7, 1, 2, 3, 4];
        let inp = SequenceInput {
            batch: 2,
            seq: 4,
            entropy: &ent,
            margin_prob: &mar,
            chosen_logprob: Some(&lp),
            chosen: Some(&ids),
        };
        let s = sequence_signals(
            &inp,
            Valid::Lengths(&[3, 2]),
            &SequenceOptions {
                drop_last: false,
                ngram: 2,
            },
        )
        .unwrap();
        assert_eq!(s.n_tokens, vec![3, 2]);
        assert_eq!(s.mean_entropy, vec![2.0, 0.375]);
        assert_eq!(s.max_entropy, vec![3.0, 0.5]);
        assert_eq!(s.sum_logprob, vec![-3.5, -0.30000000000000004]);
        assert_eq!(s.min_logprob, vec![-2.0, -0.2]);
        assert!((s.perplexity[0] - (3.5f64 / 3.0).exp()).abs() < 1e-15);
        assert_eq!(s.longest_repeat_run, vec![3, 1]);
        // bigrams of [5,5,5]: (5,5),(5,5) -> 1 distinct of 2.
        assert_eq!(s.repeated_ngram_fraction, vec![0.5, 0.0]);
        let d = sequence_signals(
            &inp,
            Valid::Lengths(&[3, 2]),
            &SequenceOptions {
                drop_last: true,
                ngram: 2,
            },
        )
        .unwrap();
        assert_eq!(d.n_tokens, vec![2, 1]);
        assert_eq!(d.mean_entropy, vec![1.5, 0.5]);
        let m = sequence_signals(
            &inp,
            Valid::Mask(&[1, 0, 1, 0, 0, 0, 0, 0]),
            &SequenceOptions::default(),
        )
        .unwrap();
        assert_eq!(m.n_tokens, vec![2, 0]);
        assert_eq!(m.mean_entropy[0], 2.0);
        assert!(m.mean_entropy[1].is_nan());
    }

    #[test]
    fn rejects_bad_lengths() {
        let z = [0.0; 4];
        let inp = SequenceInput {
            batch: 2,
            seq: 2,
            entropy: &z,
            margin_prob: &z,
            chosen_logprob: None,
            chosen: None,
        };
        assert!(sequence_signals(&inp, Valid::Lengths(&[3, 1]), &SequenceOptions::default()).is_err());
        assert!(sequence_signals(&inp, Valid::Lengths(&[1]), &SequenceOptions::default()).is_err());
        assert!(sequence_signals(&inp, Valid::Mask(&[1, 1]), &SequenceOptions::default()).is_err());
    }
}
