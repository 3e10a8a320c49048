//! One response's top-k logprobs reduced to sequence-level features in a single pass: the
//! single-request path of the decision layer (signals → confidence → policy in microseconds).
//!
//! Per position the values are those of [`topk_signals`](super::topk::topk_signals) to a few
//! ulp: e^x of every entry is taken once, in one vectorised pass ([`super::exp64`]), rows already
//! sorted in descending order (as servers return them) skip the filtering and the sort, and
//! nothing is allocated per position. The aggregates skip NaN positions (a row with no valid entry, a
//! missing chosen logprob); an aggregate with no defined position is NaN.

use rayon::prelude::*;

use super::exp64::{exp_le0, exp_slice, xlogx_slice, EXP64_MIN};
use super::topk::{TopkOptions, TopkPolicy, POSITIVE_SLACK};
use crate::error::{CredoError, Result};

/// Sequence-level features of one response's top-k logprobs.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TopkSummary {
    /// Positions (rows).
    pub n_tokens: usize,
    /// Mean and max over positions of the policy's entropy (`bounds`: the lower bound).
    pub mean_entropy: f64,
    pub max_entropy: f64,
    /// Mean over positions of the entropy upper bound (NaN without `vocab_size`).
    pub mean_entropy_upper: f64,
    /// Mean and max of the tail mass 1 − Σp outside the returned entries.
    pub mean_tail_mass: f64,
    pub max_tail_mass: f64,
    /// Mean and min of p₁ − p₂ (renormalised under `renormalized`).
    pub mean_margin: f64,
    pub min_margin: f64,
    /// Mean of the top-1 logprob.
    pub mean_max_logprob: f64,
    /// Sum, mean and min of the chosen token's logprob (NaN without chosen logprobs).
    pub sum_logprob: f64,
    pub mean_logprob: f64,
    pub min_logprob: f64,
    /// Share of positions whose chosen token is not the top-1 entry (rank ≥ 1), over the
    /// positions with a chosen logprob (NaN without chosen logprobs).
    pub not_top1: f64,
}

/// `x.ln()` behind a call the optimiser cannot hoist: the `ln` intrinsic is speculatable, and
/// LLVM would otherwise turn `if renorm { ln } else { NaN }` into a select that always pays it.
#[inline(never)]
fn ln_not_speculated(x: f64) -> f64 {
    x.ln()
}

/// (Σp, −Σp·l) over a row, in four interleaved partial sums (the latency of one sequential
/// chain of adds would dominate the row); the order is fixed, so the result is deterministic.
#[inline]
fn mass_and_entropy(p: &[f64], l: &[f64]) -> (f64, f64) {
    let (mut m, mut h) = ([0.0f64; 4], [0.0f64; 4]);
    let (pc, lc) = (p.chunks_exact(4), l.chunks_exact(4));
    let (pr, lr) = (pc.remainder(), lc.remainder());
    for (pp, ll) in pc.zip(lc) {
        for i in 0..4 {
            m[i] += pp[i];
            h[i] -= pp[i] * ll[i];
        }
    }
    for (i, (&pp, &ll)) in pr.iter().zip(lr).enumerate() {
        m[i] += pp;
        h[i] -= pp * ll;
    }
    ((m[0] + m[1]) + (m[2] + m[3]), (h[0] + h[1]) + (h[2] + h[3]))
}

/// Per-row columns recorded by the row loop of [`summary`].
const COLUMNS: usize = 8;

/// ⌊q⌋ for q ≥ 0 (and q itself from 2⁵², where every float64 is an integer, and for +∞): adding
/// and removing 2⁵² rounds to the nearest integer, one less when that rounded up. No conversion
/// to an integer register, so loops over it vectorise.
#[inline]
fn floor_nonneg(q: f64) -> f64 {
    const TWO52: f64 = 4_503_599_627_370_496.0;
    let t = (q + TWO52) - TWO52;
    let t = if t > q { t - 1.0 } else { t };
    if q < TWO52 {
        t
    } else {
        q
    }
}

/// NaN-skipping running mean / extreme.
#[derive(Clone, Copy)]
struct Acc {
    sum: f64,
    n: usize,
    ext: f64,
}

impl Acc {
    const fn new(ext: f64) -> Self {
        Self { sum: 0.0, n: 0, ext }
    }
    #[inline]
    fn push_max(&mut self, x: f64) {
        if !x.is_nan() {
            self.sum += x;
            self.n += 1;
            if x > self.ext {
                self.ext = x;
            }
        }
    }
    #[inline]
    fn push_min(&mut self, x: f64) {
        if !x.is_nan() {
            self.sum += x;
            self.n += 1;
            if x < self.ext {
                self.ext = x;
            }
        }
    }
    fn mean(&self) -> f64 {
        if self.n == 0 {
            f64::NAN
        } else {
            self.sum / self.n as f64
        }
    }
    fn extreme(&self) -> f64 {
        if self.n == 0 {
            f64::NAN
        } else {
            self.ext
        }
    }
}

/// One response's `[rows, width]` top-k logprobs (row-major) for [`topk_summary_batch`].
#[derive(Clone, Copy, Debug)]
pub enum TopkLogprobs<'a> {
    F64(&'a [f64]),
    F32(&'a [f32]),
}

/// One response of a [`topk_summary_batch`].
#[derive(Clone, Copy, Debug)]
pub struct TopkResponse<'a> {
    pub top: TopkLogprobs<'a>,
    pub rows: usize,
    pub width: usize,
    pub chosen: Option<&'a [f64]>,
}

impl TopkResponse<'_> {
    /// [`topk_summary`] (or [`topk_summary_f32`]) of this response alone.
    pub fn summary(&self, opts: &TopkOptions) -> Result<TopkSummary> {
        match self.top {
            TopkLogprobs::F64(t) => topk_summary(t, self.rows, self.width, self.chosen, opts),
            TopkLogprobs::F32(t) => topk_summary_f32(t, self.rows, self.width, self.chosen, opts),
        }
    }
}

/// [`topk_summary`] of many responses, in parallel, one task per response: each summary is
/// computed exactly as alone, so the result does not depend on the thread count. An error names
/// the first failing response by its index (`top_logprobs[i]: ...`).
pub fn topk_summary_batch(responses: &[TopkResponse<'_>], opts: &TopkOptions) -> Result<Vec<TopkSummary>> {
    let results: Vec<Result<TopkSummary>> = responses.par_iter().map(|r| r.summary(opts)).collect();
    results
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.map_err(|e| e.at(i)))
        .collect()
}

/// Sequence-level features from `top` (row-major `[rows, width]`) and the optional chosen
/// logprobs; same validation and per-position semantics as `topk_signals`.
pub fn topk_summary(
    top: &[f64],
    rows: usize,
    width: usize,
    chosen: Option<&[f64]>,
    opts: &TopkOptions,
) -> Result<TopkSummary> {
    summary(top, rows, width, chosen, opts)
}

/// [`topk_summary`] of float32 logprobs (widened exactly to f64 entry by entry).
pub fn topk_summary_f32(
    top: &[f32],
    rows: usize,
    width: usize,
    chosen: Option<&[f64]>,
    opts: &TopkOptions,
) -> Result<TopkSummary> {
    let wide: Vec<f64> = top.iter().map(|&x| f64::from(x)).collect();
    summary(&wide, rows, width, chosen, opts)
}

fn summary(top: &[f64], rows: usize, width: usize, chosen: Option<&[f64]>, opts: &TopkOptions) -> Result<TopkSummary> {
    super::topk::check_shapes(top.len(), rows, width, chosen)?;
    let k = super::topk::check_k(width, opts)?;
    let sentinel = opts.sentinel;
    let missing = |x: f64| x.is_nan() || x <= sentinel || x == f64::NEG_INFINITY;
    let renorm = opts.policy == TopkPolicy::Renormalized;
    // e^x of every entry, one vectorised pass per block of rows (a block of at most BLOCK
    // entries lives on the stack: no allocation, and it is still in L1 when its rows are read);
    // rows that are clean (all entries valid, in [EXP64_MIN, 0], sorted descending, none beyond
    // k) use these directly, the others are rebuilt entry by entry below.
    const BLOCK: usize = 2048;
    let xs = top;
    let mut stack_buf = [0.0f64; BLOCK];
    let mut heap_buf: Vec<f64> = Vec::new();
    let block_rows = (BLOCK / width).max(1);
    let block_probs: &mut [f64] = if width <= BLOCK {
        &mut stack_buf[..block_rows * width]
    } else {
        heap_buf.resize(width, 0.0);
        &mut heap_buf
    };
    let mut kept: Vec<f64> = Vec::with_capacity(width);
    let mut probs: Vec<f64> = Vec::with_capacity(width);
    // The row loop only reduces each row to a few numbers (one column each); everything after
    // them is computed for all rows at once below, in loops without branches that vectorise
    // (the division and the floor of the entropy bound included).
    let mut cols = vec![0.0; COLUMNS * rows];
    let (mass, rest) = cols.split_at_mut(rows);
    let (raw_h, rest) = rest.split_at_mut(rows);
    let (pmin, rest) = rest.split_at_mut(rows);
    let (lmin, rest) = rest.split_at_mut(rows);
    let (kept_n, rest) = rest.split_at_mut(rows);
    let (margin_row, rest) = rest.split_at_mut(rows);
    let (top1_row, log_mass) = rest.split_at_mut(rows);
    let mut lp_acc = Acc::new(f64::INFINITY);
    let (mut off_top, mut with_chosen) = (0usize, 0usize);
    for r in 0..rows {
        let row = &xs[r * width..(r + 1) * width];
        let in_block = r % block_rows;
        if in_block == 0 {
            let end = (r + block_rows).min(rows);
            exp_slice(&xs[r * width..end * width], &mut block_probs[..(end - r) * width]);
        }
        let clean = k >= width
            && row[0] <= 0.0
            && row[width - 1] >= EXP64_MIN
            && row[width - 1] > sentinel
            // Branch-free (no early exit), so it vectorises; a false is the rare case.
            && row.windows(2).fold(true, |ok, w| ok & (w[0] >= w[1]));
        let (kept_row, probs_row): (&[f64], &[f64]) = if clean {
            (row, &block_probs[in_block * width..(in_block + 1) * width])
        } else {
            kept.clear();
            for (j, &x) in row.iter().enumerate() {
                if x == f64::INFINITY || x > POSITIVE_SLACK {
                    return Err(CredoError::invalid(
                        "top_logprobs",
                        format!("logprob {x} at position {r}, entry {j} is above 0"),
                    ));
                }
                if !missing(x) {
                    kept.push(x.min(0.0));
                }
            }
            if !kept.windows(2).all(|w| w[0] >= w[1]) {
                kept.sort_by(|a, b| b.total_cmp(a));
            }
            kept.truncate(k);
            probs.clear();
            probs.extend(kept.iter().map(|&l| if l >= EXP64_MIN { exp_le0(l) } else { l.exp() }));
            (&kept, &probs)
        };
        let n = kept_row.len();
        let (m, h) = mass_and_entropy(probs_row, kept_row);
        (mass[r], raw_h[r]) = (m, h);
        // Only the renormalised policy needs log Σp (a logarithm per row saved otherwise).
        let lm = if renorm { ln_not_speculated(m) } else { f64::NAN };
        log_mass[r] = lm;
        #[allow(clippy::cast_precision_loss)]
        {
            kept_n[r] = n as f64;
        }
        if n == 0 {
            (pmin[r], lmin[r], margin_row[r], top1_row[r]) = (0.0, 0.0, f64::NAN, f64::NAN);
        } else {
            (pmin[r], lmin[r]) = (probs_row[n - 1], kept_row[n - 1]);
            let gap = probs_row[0] - probs_row.get(1).copied().unwrap_or(0.0);
            margin_row[r] = if renorm { gap / m } else { gap };
            top1_row[r] = kept_row[0] - if renorm { lm } else { 0.0 };
        }
        if let Some(c) = chosen {
            let cl = c[r];
            if cl > POSITIVE_SLACK {
                return Err(CredoError::invalid(
                    "chosen_logprob",
                    format!("logprob {cl} at position {r} is above 0"),
                ));
            }
            if !missing(cl) {
                let cl = cl.min(0.0);
                // The kept entries are in descending order: the rank is how many exceed cl,
                // counted without a data-dependent branch.
                let rank: usize = kept_row.iter().map(|&l| usize::from(l > cl)).sum();
                with_chosen += 1;
                off_top += usize::from(rank >= 1);
                lp_acc.push_min(if !renorm {
                    cl
                } else if rank < n {
                    cl - lm
                } else {
                    f64::NAN
                });
            }
        }
    }
    // The entropy lower bound per row: the kept entries' entropy plus the tail mass spread as
    // ⌊tail/pmin⌋ entries of pmin and one remainder (REFERENCE.md), whose −rem·log rem term is
    // taken for all rows at once; with no tail the bound is the kept entropy.
    let mut partial = vec![0.0; rows];
    let mut rem = vec![0.0; rows];
    for r in 0..rows {
        let tail = (1.0 - mass[r]).max(0.0);
        let (p, l) = (pmin[r], lmin[r]);
        let full = floor_nonneg(tail / p);
        // −pmin·log pmin with log pmin = the kept logprob itself (no logarithm).
        let h_min = if p > 0.0 { -p * l } else { 0.0 };
        let spread = tail > 0.0;
        partial[r] = if kept_n[r] == 0.0 {
            f64::NAN
        } else if spread {
            raw_h[r] + full * h_min
        } else {
            raw_h[r]
        };
        rem[r] = if kept_n[r] != 0.0 && spread {
            tail - full * p
        } else {
            0.0
        };
    }
    let mut rem_term = vec![0.0; rows];
    xlogx_slice(&rem, &mut rem_term);
    let (mut entropy, mut upper_acc) = (Acc::new(f64::NEG_INFINITY), Acc::new(f64::NEG_INFINITY));
    let mut tail_acc = Acc::new(f64::NEG_INFINITY);
    let mut margin = Acc::new(f64::INFINITY);
    let mut top1 = Acc::new(f64::INFINITY);
    for r in 0..rows {
        let tail = (1.0 - mass[r]).max(0.0);
        let empty = kept_n[r] == 0.0;
        let lower = partial[r] + rem_term[r];
        let upper = match opts.vocab_size {
            _ if empty => f64::NAN,
            None => f64::NAN,
            #[allow(clippy::cast_precision_loss)]
            Some(v) if v as f64 <= kept_n[r] || tail == 0.0 => raw_h[r],
            #[allow(clippy::cast_precision_loss)]
            Some(v) => raw_h[r] + tail * ((v as f64 - kept_n[r]) / tail).ln(),
        };
        // Rounding can put a tight upper bound a hair below the lower one (NaN stays NaN).
        upper_acc.push_max(if upper.is_nan() { upper } else { upper.max(lower) });
        entropy.push_max(match opts.policy {
            _ if empty => f64::NAN,
            TopkPolicy::Bounds => lower,
            TopkPolicy::Raw => raw_h[r],
            TopkPolicy::Renormalized => (log_mass[r] + raw_h[r] / mass[r]).max(0.0),
        });
        tail_acc.push_max(tail);
        margin.push_min(margin_row[r]);
        top1.push_min(top1_row[r]);
    }
    let has_chosen = chosen.is_some();
    let nan_unless = |ok: bool, v: f64| if ok { v } else { f64::NAN };
    Ok(TopkSummary {
        n_tokens: rows,
        mean_entropy: entropy.mean(),
        max_entropy: entropy.extreme(),
        mean_entropy_upper: upper_acc.mean(),
        mean_tail_mass: tail_acc.mean(),
        max_tail_mass: tail_acc.extreme(),
        mean_margin: margin.mean(),
        min_margin: margin.extreme(),
        mean_max_logprob: top1.mean(),
        sum_logprob: nan_unless(has_chosen && lp_acc.n > 0, lp_acc.sum),
        mean_logprob: nan_unless(has_chosen, lp_acc.mean()),
        min_logprob: nan_unless(has_chosen, lp_acc.extreme()),
        not_top1: if with_chosen == 0 {
            f64::NAN
        } else {
            off_top as f64 / with_chosen as f64
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::topk::topk_signals;

    /// xorshift64*, enough for test data.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> f64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    fn nan_mean(v: &[f64]) -> f64 {
        let d: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
        if d.is_empty() {
            f64::NAN
        } else {
            d.iter().sum::<f64>() / d.len() as f64
        }
    }

    fn nan_fold(v: &[f64], f: fn(f64, f64) -> f64) -> f64 {
        v.iter().copied().filter(|x| !x.is_nan()).reduce(f).unwrap_or(f64::NAN)
    }

    fn same(a: f64, b: f64) -> bool {
        (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-12 * a.abs().max(1.0)
    }

    /// Random rows: sorted or shuffled, with sentinels, NaN, an occasional empty row, and chosen
    /// logprobs inside, outside or missing.
    fn data(rng: &mut Rng, rows: usize, width: usize) -> (Vec<f64>, Vec<f64>) {
        let mut top = Vec::with_capacity(rows * width);
        let mut chosen = Vec::with_capacity(rows);
        for _ in 0..rows {
            let mut row: Vec<f64> = (0..width).map(|_| -rng.next() * 6.0 - 0.01).collect();
            if rng.next() < 0.7 {
                row.sort_by(|a, b| b.total_cmp(a));
            }
            for x in row.iter_mut() {
                let u = rng.next();
                if u < 0.05 {
                    *x = -9999.0;
                } else if u < 0.07 {
                    *x = f64::NAN;
                }
            }
            if rng.next() < 0.03 {
                row.iter_mut().for_each(|x| *x = -9999.0);
            }
            let u = rng.next();
            chosen.push(if u < 0.1 {
                f64::NAN
            } else if u < 0.2 {
                -8.0
            } else {
                row[(rng.next() * width as f64) as usize].max(-7.0)
            });
            top.extend(row);
        }
        (top, chosen)
    }

    #[test]
    fn matches_per_position_signals_aggregated() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for case in 0..60 {
            let rows = 1 + (rng.next() * 40.0) as usize;
            let width = 1 + (rng.next() * 12.0) as usize;
            let (top, chosen) = data(&mut rng, rows, width);
            let policy = [TopkPolicy::Raw, TopkPolicy::Renormalized, TopkPolicy::Bounds][case % 3];
            let opts = TopkOptions {
                policy,
                vocab_size: if case % 2 == 0 { Some(1000) } else { None },
                k: if case % 4 == 1 { Some(width.div_ceil(2)) } else { None },
                ..Default::default()
            };
            let s = topk_signals(&top, rows, width, Some(&chosen), &opts).unwrap();
            let f = topk_summary(&top, rows, width, Some(&chosen), &opts).unwrap();
            let lp = s.chosen_logprob.as_ref().unwrap();
            let rank = s.chosen_rank.as_ref().unwrap();
            assert_eq!(f.n_tokens, rows);
            assert!(same(f.mean_entropy, nan_mean(&s.entropy)), "case {case}");
            assert!(same(f.max_entropy, nan_fold(&s.entropy, f64::max)));
            assert!(same(f.mean_entropy_upper, nan_mean(&s.entropy_upper)));
            assert!(same(f.mean_tail_mass, nan_mean(&s.tail_mass)));
            assert!(same(f.max_tail_mass, nan_fold(&s.tail_mass, f64::max)));
            assert!(same(f.mean_margin, nan_mean(&s.margin_prob)));
            assert!(same(f.min_margin, nan_fold(&s.margin_prob, f64::min)));
            assert!(same(f.mean_max_logprob, nan_mean(&s.max_logprob)));
            assert!(same(f.mean_logprob, nan_mean(lp)), "case {case}");
            assert!(same(f.min_logprob, nan_fold(lp, f64::min)));
            let with: Vec<i64> = rank.iter().copied().filter(|&r| r >= 0).collect();
            let want = with.iter().filter(|&&r| r >= 1).count() as f64 / with.len() as f64;
            assert!(same(f.not_top1, want));
            // f32 input gives the f64 result of the widened values.
            let t32: Vec<f32> = top.iter().map(|&x| x as f32).collect();
            let t64: Vec<f64> = t32.iter().map(|&x| f64::from(x)).collect();
            let a = topk_summary_f32(&t32, rows, width, Some(&chosen), &opts).unwrap();
            let b = topk_summary(&t64, rows, width, Some(&chosen), &opts).unwrap();
            assert_eq!(format!("{a:?}"), format!("{b:?}"));
        }
    }

    #[test]
    fn batch_is_each_response_alone_and_names_the_bad_one() {
        let mut rng = Rng(42);
        let opts = TopkOptions::default();
        let data: Vec<(Vec<f64>, Vec<f64>, usize, usize)> = (0..40)
            .map(|i| {
                let (rows, width) = (1 + i % 7 * 5, 1 + i % 5 * 3);
                let (top, chosen) = data(&mut rng, rows, width);
                (top, chosen, rows, width)
            })
            .collect();
        let t32: Vec<Vec<f32>> = data.iter().map(|d| d.0.iter().map(|&x| x as f32).collect()).collect();
        let reqs: Vec<TopkResponse> = data
            .iter()
            .zip(&t32)
            .enumerate()
            .map(|(i, ((top, chosen, rows, width), t32))| TopkResponse {
                top: if i % 3 == 0 {
                    TopkLogprobs::F32(t32)
                } else {
                    TopkLogprobs::F64(top)
                },
                rows: *rows,
                width: *width,
                chosen: (i % 4 != 1).then_some(&chosen[..]),
            })
            .collect();
        for threads in [1, 3] {
            let got = crate::parallel::with_threads(Some(threads), || topk_summary_batch(&reqs, &opts))
                .unwrap()
                .unwrap();
            for (r, g) in reqs.iter().zip(&got) {
                // each response alone, through the kernel of its dtype
                let alone = match r.top {
                    TopkLogprobs::F64(t) => topk_summary(t, r.rows, r.width, r.chosen, &opts),
                    TopkLogprobs::F32(t) => topk_summary_f32(t, r.rows, r.width, r.chosen, &opts),
                };
                assert_eq!(format!("{:?}", alone.unwrap()), format!("{g:?}"));
            }
        }
        let bad = [-0.1, 0.5];
        let mut with_bad = reqs[..3].to_vec();
        with_bad[2] = TopkResponse {
            top: TopkLogprobs::F64(&bad),
            rows: 1,
            width: 2,
            chosen: None,
        };
        let err = topk_summary_batch(&with_bad, &opts).unwrap_err().to_string();
        assert!(err.starts_with("top_logprobs[2]: "), "{err}");
    }

    #[test]
    fn without_chosen_and_bad_input() {
        let top = [-0.1, -2.5, -0.3, -1.5];
        let f = topk_summary(&top, 2, 2, None, &TopkOptions::default()).unwrap();
        assert!(f.mean_logprob.is_nan() && f.sum_logprob.is_nan() && f.not_top1.is_nan());
        assert!(f.mean_entropy > 0.0);
        let o = TopkOptions::default();
        assert!(topk_summary(&[], 0, 2, None, &o).is_err());
        assert!(topk_summary(&[0.5, -1.0], 1, 2, None, &o).is_err());
        assert!(topk_summary(&top, 2, 2, Some(&[-0.1]), &o).is_err());
        assert!(topk_summary(&top, 2, 2, Some(&[-0.1, 0.2]), &o).is_err());
        let k0 = TopkOptions { k: Some(0), ..o };
        assert!(topk_summary(&top, 2, 2, None, &k0).is_err());
    }
}
