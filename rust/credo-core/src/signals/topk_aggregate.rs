//! The second half of the top-k summary: from per-row columns (Σp, entropy of the kept
//! entries, smallest kept p and logprob, …) to the sequence-level features.
//!
//! Every step is a loop over whole columns without data-dependent branches, and each
//! NaN-skipping sum runs in eight interleaved lanes reduced in a fixed order, so the loops
//! vectorise; the same source is compiled again for AVX2 and AVX-512 (fixed operation order, no
//! contraction into fused multiply-adds: the same bits on both builds, which a test checks).

use super::exp64::xlogx_slice;
use super::simd::SimdLevel;
use super::topk::{TopkOptions, TopkPolicy};
use super::topk_rows::{reduce, LANES};
use super::topk_summary::TopkSummary;

/// Per-row columns, one value per position; the row loop fills the inputs, [`aggregate`]
/// overwrites the work columns.
pub(super) struct Columns<'a> {
    /// Σp of the kept entries.
    pub mass: &'a mut [f64],
    /// −Σp·l of the kept entries.
    pub raw_h: &'a mut [f64],
    /// The smallest kept p and its logprob (0 and 0 for a row with nothing kept).
    pub pmin: &'a mut [f64],
    pub lmin: &'a mut [f64],
    /// How many entries were kept.
    pub kept_n: &'a mut [f64],
    /// p₁ − p₂ and the top logprob (NaN for a row with nothing kept); renormalised in place.
    pub margin: &'a mut [f64],
    pub top1: &'a mut [f64],
    /// Kept entries above the chosen logprob; becomes the chosen logprob feature.
    pub above: &'a mut [f64],
    /// Work columns.
    pub log_mass: &'a mut [f64],
    pub partial: &'a mut [f64],
    pub rem: &'a mut [f64],
    pub rem_term: &'a mut [f64],
}

/// Columns in a [`Columns`].
pub(super) const COLUMNS: usize = 12;

impl<'a> Columns<'a> {
    /// Splits a buffer of `COLUMNS * rows` values.
    pub fn split(buf: &'a mut [f64], rows: usize) -> Self {
        let mut parts = buf.chunks_exact_mut(rows);
        let mut next = || parts.next().expect("COLUMNS * rows values");
        Self {
            mass: next(),
            raw_h: next(),
            pmin: next(),
            lmin: next(),
            kept_n: next(),
            margin: next(),
            top1: next(),
            above: next(),
            log_mass: next(),
            partial: next(),
            rem: next(),
            rem_term: next(),
        }
    }
}

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

/// NaN-skipping sum, count and extreme of a column.
#[derive(Clone, Copy, Debug)]
struct Acc {
    sum: f64,
    n: f64,
    ext: f64,
}

impl Acc {
    /// Over `v` in eight interleaved lanes (entry i in lane i mod 8), the lanes summed as
    /// ((0+4)+(2+6))+((1+5)+(3+7)). A lane sum starts at +0 and NaN adds +0, which never
    /// changes a sum (a sum of +0 and −0 is +0).
    #[inline(always)]
    fn over<const MAX: bool>(v: &[f64]) -> Self {
        let start = if MAX { f64::NEG_INFINITY } else { f64::INFINITY };
        let (mut sum, mut n, mut ext) = ([0.0f64; LANES], [0.0f64; LANES], [start; LANES]);
        let step = |l: usize, x: f64, sum: &mut [f64; LANES], n: &mut [f64; LANES], ext: &mut [f64; LANES]| {
            let ok = !x.is_nan();
            sum[l] += if ok { x } else { 0.0 };
            n[l] += if ok { 1.0 } else { 0.0 };
            // A comparison with NaN is false: the lane keeps its extreme.
            let better = if MAX { x > ext[l] } else { x < ext[l] };
            ext[l] = if better { x } else { ext[l] };
        };
        let chunks = v.chunks_exact(LANES);
        let rest = chunks.remainder();
        for c in chunks {
            for (l, &x) in c.iter().enumerate() {
                step(l, x, &mut sum, &mut n, &mut ext);
            }
        }
        for (l, &x) in rest.iter().enumerate() {
            step(l, x, &mut sum, &mut n, &mut ext);
        }
        let ext = ext
            .iter()
            .fold(start, |a, &b| if (MAX && b > a) || (!MAX && b < a) { b } else { a });
        Self {
            sum: reduce(&sum),
            n: reduce(&n),
            ext,
        }
    }

    /// [`Acc::over`] with the AVX2 kernel where `AVX2` (the caller runs under AVX2).
    #[inline(always)]
    fn over_at<const MAX: bool, const AVX2: bool>(v: &[f64]) -> Self {
        #[cfg(target_arch = "x86_64")]
        if AVX2 {
            // SAFETY: `AVX2` is set only by `aggregate_avx2`, which runs where the CPU has it.
            return unsafe { avx2_acc::over::<MAX>(v) };
        }
        Self::over::<MAX>(v)
    }

    fn mean(&self) -> f64 {
        if self.n == 0.0 {
            f64::NAN
        } else {
            self.sum / self.n
        }
    }

    fn extreme(&self) -> f64 {
        if self.n == 0.0 {
            f64::NAN
        } else {
            self.ext
        }
    }
}

/// The sequence-level features from filled columns; `chosen` as given to the summary. `level`
/// picks the build (one this CPU supports; every build gives the same bits).
pub(super) fn aggregate(
    level: SimdLevel,
    cols: Columns<'_>,
    chosen: Option<&[f64]>,
    opts: &TopkOptions,
) -> TopkSummary {
    #[cfg(target_arch = "x86_64")]
    if level >= SimdLevel::Avx512 && level.supported() {
        // SAFETY: the CPU supports AVX-512F (checked just above).
        return unsafe { aggregate_avx512(cols, chosen, opts) };
    }
    #[cfg(target_arch = "x86_64")]
    if level >= SimdLevel::Avx2 && level.supported() {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { aggregate_avx2(cols, chosen, opts) };
    }
    let _ = level;
    aggregate_portable(cols, chosen, opts)
}

/// [`aggregate_portable`] compiled for AVX2: the same source, so the same result (its column
/// folds by [`avx2_acc`]: the same lanes, the same bits).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn aggregate_avx2(cols: Columns<'_>, chosen: Option<&[f64]>, opts: &TopkOptions) -> TopkSummary {
    aggregate_with::<true>(cols, chosen, opts)
}

/// [`Acc::over`] in two 4-lane registers (lanes 0–3 and 4–7 of the reference): the compiler's
/// own vectorisation of the eight-lane loop shuffles every chunk into place, about twice the
/// instructions.
#[cfg(target_arch = "x86_64")]
mod avx2_acc {
    use std::arch::x86_64::*;

    use super::{Acc, LANES};
    use crate::signals::topk_rows::avx2::reduce;

    /// One vector of entries into its lanes' sum, count and extreme, as the reference's step:
    /// NaN adds +0 to both; `max_pd(x, e)` is `x > e ? x : e` (`min_pd` with `<`), which keeps
    /// the lane's extreme on NaN and on ties, as the reference's comparison.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn step<const MAX: bool>(x: __m256d, s: &mut __m256d, n: &mut __m256d, e: &mut __m256d) {
        let ok = _mm256_cmp_pd::<_CMP_ORD_Q>(x, x);
        *s = _mm256_add_pd(*s, _mm256_and_pd(x, ok));
        *n = _mm256_add_pd(*n, _mm256_and_pd(_mm256_set1_pd(1.0), ok));
        *e = if MAX {
            _mm256_max_pd(x, *e)
        } else {
            _mm256_min_pd(x, *e)
        };
    }

    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn over<const MAX: bool>(v: &[f64]) -> Acc {
        let start = if MAX { f64::NEG_INFINITY } else { f64::INFINITY };
        let zero = _mm256_setzero_pd();
        let (mut s0, mut s1, mut n0, mut n1) = (zero, zero, zero, zero);
        let (mut e0, mut e1) = (_mm256_set1_pd(start), _mm256_set1_pd(start));
        let chunks = v.chunks_exact(LANES);
        let rest = chunks.remainder();
        for c in chunks {
            // SAFETY: the chunk holds eight values.
            let (x0, x1) = unsafe { (_mm256_loadu_pd(c.as_ptr()), _mm256_loadu_pd(c.as_ptr().add(4))) };
            step::<MAX>(x0, &mut s0, &mut n0, &mut e0);
            step::<MAX>(x1, &mut s1, &mut n1, &mut e1);
        }
        if !rest.is_empty() {
            // The last entries in their lanes, NaN (skipped) in the others.
            let mut last = [f64::NAN; LANES];
            last[..rest.len()].copy_from_slice(rest);
            // SAFETY: `last` holds eight values.
            let (x0, x1) = unsafe { (_mm256_loadu_pd(last.as_ptr()), _mm256_loadu_pd(last.as_ptr().add(4))) };
            step::<MAX>(x0, &mut s0, &mut n0, &mut e0);
            step::<MAX>(x1, &mut s1, &mut n1, &mut e1);
        }
        let mut ext = [0.0; LANES];
        // SAFETY: `ext` holds eight values.
        unsafe {
            _mm256_storeu_pd(ext.as_mut_ptr(), e0);
            _mm256_storeu_pd(ext.as_mut_ptr().add(4), e1);
        }
        let ext = ext
            .iter()
            .fold(start, |a, &b| if (MAX && b > a) || (!MAX && b < a) { b } else { a });
        Acc {
            sum: reduce(s0, s1),
            n: reduce(n0, n1),
            ext,
        }
    }
}

/// [`aggregate_portable`] compiled for AVX-512: the same source, so the same result.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn aggregate_avx512(cols: Columns<'_>, chosen: Option<&[f64]>, opts: &TopkOptions) -> TopkSummary {
    aggregate_portable(cols, chosen, opts)
}

#[inline(always)]
fn aggregate_portable(cols: Columns<'_>, chosen: Option<&[f64]>, opts: &TopkOptions) -> TopkSummary {
    aggregate_with::<false>(cols, chosen, opts)
}

/// The aggregation, its column folds by the AVX2 kernel where `AVX2` ([`Acc::over_at`]).
#[inline(always)]
fn aggregate_with<const AVX2: bool>(cols: Columns<'_>, chosen: Option<&[f64]>, opts: &TopkOptions) -> TopkSummary {
    let Columns {
        mass,
        raw_h,
        pmin,
        lmin,
        kept_n,
        margin,
        top1,
        above,
        log_mass,
        partial,
        rem,
        rem_term,
    } = cols;
    let rows = mass.len();
    // Every column cut to `rows` up front: the loops below index several at once, and only
    // with the lengths known equal does the compiler drop the bounds checks and vectorise.
    let (raw_h, pmin, lmin, kept_n) = (&raw_h[..rows], &pmin[..rows], &lmin[..rows], &kept_n[..rows]);
    let (margin, top1, above) = (&mut margin[..rows], &mut top1[..rows], &mut above[..rows]);
    let (log_mass, partial) = (&mut log_mass[..rows], &mut partial[..rows]);
    let (rem, rem_term) = (&mut rem[..rows], &mut rem_term[..rows]);
    let chosen = chosen.map(|c| &c[..rows]);
    let renorm = opts.policy == TopkPolicy::Renormalized;
    if renorm {
        // Renormalised over the kept entries: margin / Σp, logprobs − log Σp (a logarithm per
        // row only on this policy).
        for r in 0..rows {
            log_mass[r] = mass[r].ln();
            margin[r] /= mass[r];
            top1[r] -= log_mass[r];
        }
    }
    // The chosen token: its logprob (renormalised: minus log Σp, undefined when it is not among
    // the kept entries) and whether it is off the top (rank ≥ 1: a kept entry exceeds it);
    // positions without one (NaN, at or below the sentinel, −∞) are skipped.
    // Integer counts (a float sum would be an ordered chain that cannot vectorise).
    let (mut off_top, mut with_chosen) = (0usize, 0usize);
    if let Some(c) = chosen {
        for r in 0..rows {
            let cl = c[r];
            let valid = !opts.is_missing(cl);
            let cl = cl.min(0.0);
            let lp = if !renorm {
                cl
            } else if above[r] < kept_n[r] {
                cl - log_mass[r]
            } else {
                f64::NAN
            };
            with_chosen += usize::from(valid);
            off_top += usize::from(valid & (above[r] >= 1.0));
            above[r] = if valid { lp } else { f64::NAN };
        }
    }
    // The entropy lower bound per row: the kept entries' entropy plus the tail mass spread as
    // ⌊tail/pmin⌋ entries of pmin and one remainder (docs/definitions/signals.md#top-k-log-probabilities), whose −rem·log rem term is
    // taken for all rows at once; with no tail the bound is the kept entropy.
    for r in 0..rows {
        let tail = (1.0 - mass[r]).max(0.0);
        let (p, l) = (pmin[r], lmin[r]);
        let full = floor_nonneg(tail / p);
        // −pmin·log pmin with log pmin = the kept logprob itself (no logarithm).
        let h_min = if p > 0.0 { -p * l } else { 0.0 };
        let spread = tail > 0.0;
        let empty = kept_n[r] == 0.0;
        let with_tail = if spread { raw_h[r] + full * h_min } else { raw_h[r] };
        partial[r] = if empty { f64::NAN } else { with_tail };
        rem[r] = if !empty && spread { tail - full * p } else { 0.0 };
    }
    xlogx_slice(rem, rem_term);
    // `partial` becomes the lower bound, `rem` the upper bound.
    for r in 0..rows {
        partial[r] += rem_term[r];
    }
    let lower = &*partial;
    if let Some(v) = opts.vocab_size {
        let v = v as f64;
        for r in 0..rows {
            let tail = (1.0 - mass[r]).max(0.0);
            let upper = if kept_n[r] == 0.0 {
                f64::NAN
            } else if v <= kept_n[r] || tail == 0.0 {
                raw_h[r]
            } else {
                raw_h[r] + tail * ((v - kept_n[r]) / tail).ln()
            };
            // Rounding can put a tight upper bound a hair below the lower one (NaN stays NaN).
            rem[r] = if upper.is_nan() { upper } else { upper.max(lower[r]) };
        }
    }
    let upper = Acc::over_at::<true, AVX2>(if opts.vocab_size.is_some() { rem } else { &[] });
    let entropy = match opts.policy {
        TopkPolicy::Bounds => Acc::over_at::<true, AVX2>(lower),
        TopkPolicy::Raw | TopkPolicy::Renormalized => {
            for r in 0..rows {
                let h = if renorm {
                    (log_mass[r] + raw_h[r] / mass[r]).max(0.0)
                } else {
                    raw_h[r]
                };
                rem_term[r] = if kept_n[r] == 0.0 { f64::NAN } else { h };
            }
            Acc::over_at::<true, AVX2>(rem_term)
        }
    };
    // The tail mass, 1 − Σp, per row (in the work column `log_mass`, no longer needed).
    for r in 0..rows {
        log_mass[r] = (1.0 - mass[r]).max(0.0);
    }
    let tail = Acc::over_at::<true, AVX2>(log_mass);
    let margin = Acc::over_at::<false, AVX2>(margin);
    let top1 = Acc::over_at::<false, AVX2>(top1);
    let lp = Acc::over_at::<false, AVX2>(if chosen.is_some() { above } else { &[] });
    let has_chosen = chosen.is_some();
    let nan_unless = |ok: bool, v: f64| if ok { v } else { f64::NAN };
    TopkSummary {
        n_tokens: rows,
        mean_entropy: entropy.mean(),
        max_entropy: entropy.extreme(),
        mean_entropy_upper: upper.mean(),
        mean_tail_mass: tail.mean(),
        max_tail_mass: tail.extreme(),
        mean_margin: margin.mean(),
        min_margin: margin.extreme(),
        mean_max_logprob: top1.mean(),
        sum_logprob: nan_unless(has_chosen && lp.n > 0.0, lp.sum),
        mean_logprob: nan_unless(has_chosen, lp.mean()),
        min_logprob: nan_unless(has_chosen, lp.extreme()),
        not_top1: if with_chosen == 0 {
            f64::NAN
        } else {
            off_top as f64 / with_chosen as f64
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lane_folds_skip_nan_and_match_a_plain_fold() {
        for len in [0usize, 1, 7, 8, 9, 31, 256, 1001] {
            let v: Vec<f64> = (0..len)
                .map(|i| {
                    if i % 5 == 3 {
                        f64::NAN
                    } else {
                        ((i * 37 % 101) as f64 - 50.0) / 7.0
                    }
                })
                .collect();
            let ok: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
            let (mx, mn) = (Acc::over::<true>(&v), Acc::over::<false>(&v));
            #[cfg(target_arch = "x86_64")]
            if crate::signals::simd::SimdLevel::Avx2.supported() {
                // The AVX2 folds give the reference's bits (signed zeros and NaN included).
                let mut w = v.clone();
                w.iter_mut().step_by(7).for_each(|x| *x = -0.0);
                for (a, b) in [
                    // SAFETY: the CPU supports AVX2 (checked just above).
                    (unsafe { avx2_acc::over::<true>(&w) }, Acc::over::<true>(&w)),
                    // SAFETY: as above.
                    (unsafe { avx2_acc::over::<false>(&w) }, Acc::over::<false>(&w)),
                ] {
                    assert_eq!(format!("{a:?}"), format!("{b:?}"), "{len}");
                    assert_eq!(a.ext.to_bits(), b.ext.to_bits(), "{len}");
                }
            }
            assert_eq!(mx.n as usize, ok.len());
            if ok.is_empty() {
                assert!(mx.mean().is_nan() && mx.extreme().is_nan() && mn.extreme().is_nan());
                continue;
            }
            let mean = ok.iter().sum::<f64>() / ok.len() as f64;
            assert!((mx.mean() - mean).abs() < 1e-12, "{len}");
            assert_eq!(mx.extreme(), ok.iter().copied().fold(f64::NEG_INFINITY, f64::max));
            assert_eq!(mn.extreme(), ok.iter().copied().fold(f64::INFINITY, f64::min));
        }
        assert_eq!(floor_nonneg(2.999_999), 2.0);
        assert_eq!(floor_nonneg(3.0), 3.0);
        assert_eq!(floor_nonneg(0.5), 0.0);
        assert_eq!(floor_nonneg(1e300), 1e300);
        assert_eq!(floor_nonneg(f64::INFINITY), f64::INFINITY);
    }
}
