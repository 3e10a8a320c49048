//! Binned calibration error: ECE (L1), RMS calibration error (L2, plain or debiased), MCE (max),
//! and the adaptive/average variant, on top-label, binary, classwise or full-vector (canonical)
//! views of the predictions.

use std::collections::HashMap;

use super::binning::{
    bin_at_or_below, bin_below, uniform_bin_by_edges, uniform_edges, Binning, Convention, Fast, Strategy,
};
use super::{check_outcomes, check_probs, check_weights, wt};
use crate::error::{check_same_len, CredoError, Result};
use crate::simd::SimdLevel;

/// Above this many samples the per-bin sums are computed in parallel, in fixed-size chunks
/// merged in index order (so the result does not depend on the thread count).
const PAR_MIN: usize = 1 << 17;
const CHUNK: usize = 1 << 16;

/// How per-bin gaps are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Norm {
    /// Σ_b w_b |acc_b − conf_b| (ECE).
    L1,
    /// sqrt(Σ_b w_b (acc_b − conf_b)²) (RMS calibration error).
    L2,
    /// Kumar et al. (2019): sqrt(max(0, Σ_b w_b [(acc_b − conf_b)² − acc_b(1 − acc_b)/(n_b − 1)])),
    /// bins with fewer than 2 samples contribute 0.
    L2Debiased,
    /// max_b |acc_b − conf_b| over non-empty bins (MCE).
    Max,
}

crate::choices!(Norm, "norm", {
    "l1" => Norm::L1,
    "l2" => Norm::L2,
    "l2_debiased" => Norm::L2Debiased,
    "max" => Norm::Max,
});

/// Everything that defines one binned calibration error.
#[derive(Clone, Copy, Debug)]
pub struct EceOptions {
    pub n_bins: usize,
    pub convention: Convention,
    pub strategy: Strategy,
    pub norm: Norm,
    /// Weight bins by their mass (ECE) or average the non-empty bins equally (adaptive/ACE).
    pub bin_weighted: bool,
}

impl Default for EceOptions {
    fn default() -> Self {
        Self {
            n_bins: 15,
            convention: Convention::Credo,
            strategy: Strategy::Uniform,
            norm: Norm::L1,
            bin_weighted: true,
        }
    }
}

/// Per-bin sums: weight, sample count, Σ w·conf, Σ w·outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct BinStats {
    pub weight: Vec<f64>,
    pub count: Vec<u64>,
    pub conf_sum: Vec<f64>,
    pub acc_sum: Vec<f64>,
    pub edges: Vec<f64>,
}

impl BinStats {
    fn zeros(n: usize, edges: Vec<f64>) -> Self {
        Self {
            weight: vec![0.0; n],
            count: vec![0; n],
            conf_sum: vec![0.0; n],
            acc_sum: vec![0.0; n],
            edges,
        }
    }

    fn add(&mut self, other: &Self) {
        for b in 0..self.weight.len() {
            self.weight[b] += other.weight[b];
            self.count[b] += other.count[b];
            self.conf_sum[b] += other.conf_sum[b];
            self.acc_sum[b] += other.acc_sum[b];
        }
    }
}

/// Bins pre-assigned to samples, for repeated weighted evaluation (the bootstrap).
pub fn assign_bins(conf: &[f64], binning: &Binning) -> (Vec<u32>, Vec<f64>) {
    let vals: Vec<f64> = conf.iter().map(|&p| binning.value(p)).collect();
    let bins = vals.iter().map(|&p| binning.assign(p) as u32).collect();
    (bins, vals)
}

/// Samples per block of the pass by rule: a block is checked to lie in [0, 1] before its bins
/// are computed (the edge walks need in-range input), while it is still in L1.
const BLOCK: usize = 1024;

/// One (bin, copy) cell of the running sums: Σ w·conf, Σ w·outcome, Σ w and the sample count
/// (exact in a float up to 2⁵³), so that a sample is one 32-byte add. Aligned so that no cell
/// straddles a cache line.
#[derive(Clone, Copy, Default)]
#[repr(C, align(32))]
struct Cell([f64; 4]);

/// Running per-bin sums in 2^`shift` copies: sample j goes to copy j mod 2^`shift`, so runs of
/// samples in one bin (the common case: confidences crowd near 1) do not wait on a single
/// add–store–load chain. The copies are added in a fixed order, so the sums do not depend on
/// the thread count or on the vector level.
struct Tally {
    /// The cell of bin b, copy c is `cells[(b << shift) | c]`.
    cells: Vec<Cell>,
    shift: u32,
}

impl Tally {
    fn new(n_bins: usize) -> Self {
        // 8 copies while the tables are small (8 KiB at 32 bins), 4 up to 1024 bins (128 KiB,
        // in L2), then one: the tables would outgrow the caches, and runs are rare.
        let shift = match n_bins {
            0..=32 => 3,
            33..=1024 => 2,
            _ => 0,
        };
        Self {
            cells: vec![Cell::default(); n_bins << shift],
            shift,
        }
    }

    /// Adds sample `j`'s [w·conf, w·outcome, w, 1] to bin `b`.
    #[inline]
    fn add(&mut self, j: usize, b: usize, v: [f64; 4]) {
        let copy = j & ((1 << self.shift) - 1);
        let cell = &mut self.cells[(b << self.shift) | copy].0;
        for (s, x) in cell.iter_mut().zip(v) {
            *s += x;
        }
    }

    fn add_to(&self, stats: &mut BinStats) {
        for (b, copies) in self.cells.chunks_exact(1 << self.shift).enumerate() {
            for &Cell([c, a, w, n]) in copies {
                stats.conf_sum[b] += c;
                stats.acc_sum[b] += a;
                stats.weight[b] += w;
                stats.count[b] += n as u64;
            }
        }
    }
}

/// Whether every value lies in [0, 1] (NaN fails); one branch-free pass the compiler vectorises.
fn in_unit(v: &[f64]) -> bool {
    v.iter().fold(true, |ok, x| ok & (0.0..=1.0).contains(x))
}

/// Whether no value is negative or NaN (an infinite one leaves an infinite sum).
fn non_negative(v: &[f64]) -> bool {
    v.iter().fold(true, |ok, &x| ok & (x >= 0.0))
}

/// How the samples are binned: credo's uniform rule with vectors, or any rule one sample at a
/// time.
#[derive(Clone, Copy)]
enum BinPath {
    Scalar,
    #[cfg(target_arch = "x86_64")]
    Avx2,
}

impl BinPath {
    fn at(level: SimdLevel) -> Self {
        #[cfg(target_arch = "x86_64")]
        if level >= SimdLevel::Avx2 && level.supported() {
            return Self::Avx2;
        }
        let _ = level;
        Self::Scalar
    }
}

/// Adds the samples to `stats` in one pass over the data; with `check`, also whether every
/// confidence and outcome lies in [0, 1] and every weight is non-negative (false: `stats` may
/// then be incomplete, and the caller rejects the input). Some levels let NaN through: it
/// leaves a sum that is not finite, which the caller checks.
fn accumulate(
    stats: &mut BinStats,
    conf: &[f64],
    acc: &[f64],
    w: Option<&[f64]>,
    binning: &Binning,
    check: bool,
    path: BinPath,
) -> bool {
    let mut tally = Tally::new(binning.n_bins);
    let last = binning.n_bins - 1;
    let t = &mut tally;
    // The rule is matched once, outside the loop, so each rule gets its own compiled loop.
    let ok = match (path, binning.fast()) {
        #[cfg(target_arch = "x86_64")]
        (BinPath::Avx2, Fast::FloorMul(b)) => {
            let e = uniform_edges(b, last);
            // SAFETY: BinPath::Avx2 is only chosen when the CPU supports AVX2; the slices are
            // as long as `conf` (checked by the callers) and `e` is built for (b, last).
            let ok = unsafe { x86::tally_uniform_avx2(t, conf, acc, w, b, &e) };
            ok || !check
        }
        (_, Fast::FloorMul(b)) => {
            let e = uniform_edges(b, last);
            tally_by(t, conf, acc, w, binning, check, |p| {
                uniform_bin_by_edges(p, b, last, &e)
            })
        }
        (_, Fast::FloorDiv(d)) => tally_by(t, conf, acc, w, binning, check, |p| ((p / d) as usize).min(last)),
        (_, Fast::Below(e, g)) => tally_by(t, conf, acc, w, binning, check, |p| bin_below(e, p, g)),
        (_, Fast::AtOrBelow(e, g)) => tally_by(t, conf, acc, w, binning, check, |p| bin_at_or_below(e, p, g)),
    };
    tally.add_to(stats);
    ok
}

/// Adds the samples to `tally` one at a time under the rule `bin`, block by block; with
/// `check`, each block is first checked to lie in [0, 1] (weights: to be non-negative), and the
/// first that fails stops the pass (false).
fn tally_by(
    tally: &mut Tally,
    conf: &[f64],
    acc: &[f64],
    w: Option<&[f64]>,
    binning: &Binning,
    check: bool,
    bin: impl Fn(f64) -> usize,
) -> bool {
    for lo in (0..conf.len()).step_by(BLOCK) {
        let hi = (lo + BLOCK).min(conf.len());
        let (c, a) = (&conf[lo..hi], &acc[lo..hi]);
        if check && !(in_unit(c) & in_unit(a) & w.is_none_or(|w| non_negative(&w[lo..hi]))) {
            return false;
        }
        let samples = (lo..).zip(c.iter().zip(a));
        match w {
            None => {
                for (j, (&c, &a)) in samples {
                    let p = binning.value(c);
                    tally.add(j, bin(p), [p, a, 1.0, 1.0]);
                }
            }
            Some(w) => {
                for ((j, (&c, &a)), &wi) in samples.zip(&w[lo..hi]) {
                    let p = binning.value(c);
                    tally.add(j, bin(p), [wi * p, wi * a, wi, 1.0]);
                }
            }
        }
    }
    true
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{uniform_bin_by_edges, Tally};

    /// [`tally_uniform`] for weighted or unweighted samples and `t`'s number of copies.
    ///
    /// # Safety
    /// As [`tally_uniform`].
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn tally_uniform_avx2(
        t: &mut Tally,
        conf: &[f64],
        acc: &[f64],
        w: Option<&[f64]>,
        b: f64,
        e: &[f64],
    ) -> bool {
        // SAFETY: forwarded from the caller.
        unsafe {
            match (w, t.shift) {
                (None, 3) => tally_uniform::<false, 3>(t, conf, acc, &[], b, e),
                (None, 2) => tally_uniform::<false, 2>(t, conf, acc, &[], b, e),
                (None, _) => tally_uniform::<false, 0>(t, conf, acc, &[], b, e),
                (Some(w), 3) => tally_uniform::<true, 3>(t, conf, acc, w, b, e),
                (Some(w), 2) => tally_uniform::<true, 2>(t, conf, acc, w, b, e),
                (Some(w), _) => tally_uniform::<true, 0>(t, conf, acc, w, b, e),
            }
        }
    }

    /// Adds the samples to `t` (which has 2^`SHIFT` copies) under credo's uniform bins, four a
    /// step, and returns whether every confidence and outcome lies in [0, 1] (NaN fails) and
    /// every weight is non-negative (a NaN weight is found by the caller in the sums).
    ///
    /// p·B is clamped to [½, B − ½], which keeps every bin in [0, B − 1] whatever the input and
    /// takes the outer edges 0 and B out of play. Adding 2⁵² − ½ rounds it to the nearest
    /// integer of p·B − ½, i.e. ⌊p·B⌋ unless p·B is an integer, in the low mantissa bits. That
    /// is the bin, unless p·B lies within 1e-6 of an interior edge k, where the rounding of p·B
    /// or of k/B could decide: those few samples take [`uniform_bin_by_edges`], the exact rule.
    /// A sample adds [w·p, w·y, w, 1] to its cell (w = 1 unweighted), in the same order and
    /// copies as [`Tally::add`].
    ///
    /// # Safety
    /// The CPU must support AVX2; `acc` (and `w` when `WEIGHTED`) must be as long as `conf`;
    /// `e` must be `uniform_edges(b, last)` for `t`'s last bin.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn tally_uniform<const WEIGHTED: bool, const SHIFT: u32>(
        t: &mut Tally,
        conf: &[f64],
        acc: &[f64],
        w: &[f64],
        b: f64,
        e: &[f64],
    ) -> bool {
        const TWO52: f64 = 4_503_599_627_370_496.0;
        let n = conf.len();
        let last = e.len() - 2;
        assert!(t.shift == SHIFT && t.cells.len() == (last + 1) << SHIFT);
        assert!(acc.len() == n && (!WEIGHTED || w.len() == n));
        let (zero, one) = (_mm256_setzero_pd(), _mm256_set1_pd(1.0));
        let (half, top, vb) = (_mm256_set1_pd(0.5), _mm256_set1_pd(b - 0.5), _mm256_set1_pd(b));
        let (magic, two52) = (_mm256_set1_pd(TWO52 - 0.5), _mm256_set1_pd(TWO52));
        let (lo, hi) = (_mm256_set1_pd(1e-6), _mm256_set1_pd(1.0 - 1e-6));
        // Sample j's cell: bin << (SHIFT + 5) bytes, plus 32 bytes × its copy j mod 2^SHIFT,
        // that is (j mod 2^SHIFT rounded down to 4) + k for the k-th sample of a step.
        let mask = (1usize << SHIFT) - 1;
        let cells = t.cells.as_mut_ptr().cast::<u8>();
        let mut ok = _mm256_cmp_pd::<_CMP_EQ_OQ>(zero, zero);
        let mut w_lo = one;
        let mut j = 0;
        while j + 4 <= n {
            // SAFETY: j + 4 <= n, the length of conf, acc and w; every offset is that of a
            // cell (each bin is at most `last`), and cells are 32-byte aligned.
            unsafe {
                let p = _mm256_loadu_pd(conf.as_ptr().add(j));
                let y = _mm256_loadu_pd(acc.as_ptr().add(j));
                // min(p, y) is y and max(y, p) is p when p is NaN, and the other way round, so
                // a NaN in either fails one of the two tests.
                let in_unit = _mm256_and_pd(
                    _mm256_cmp_pd::<_CMP_GE_OQ>(_mm256_min_pd(p, y), zero),
                    _mm256_cmp_pd::<_CMP_LE_OQ>(_mm256_max_pd(y, p), one),
                );
                ok = _mm256_and_pd(ok, in_unit);
                let x = _mm256_min_pd(_mm256_max_pd(_mm256_mul_pd(p, vb), half), top);
                let r = _mm256_add_pd(x, magic);
                let frac = _mm256_sub_pd(x, _mm256_sub_pd(r, two52));
                let near = _mm256_or_pd(
                    _mm256_cmp_pd::<_CMP_LT_OQ>(frac, lo),
                    _mm256_cmp_pd::<_CMP_GT_OQ>(frac, hi),
                );
                let edgy = _mm256_movemask_pd(near);
                let r = if edgy == 0 {
                    r
                } else {
                    exact_bins(r, edgy, &conf[j..j + 4], b, e)
                };
                // The bins go to integer registers without a round trip through memory (a
                // narrow load of a wide store is not forwarded).
                let r = _mm256_castpd_si256(r);
                let (r0, r1) = (_mm256_castsi256_si128(r), _mm256_extracti128_si256::<1>(r));
                let bins = [
                    _mm_cvtsi128_si64(r0),
                    _mm_extract_epi64::<1>(r0),
                    _mm_cvtsi128_si64(r1),
                    _mm_extract_epi64::<1>(r1),
                ];
                let (pw, yw, wl, wh) = if WEIGHTED {
                    let wv = _mm256_loadu_pd(w.as_ptr().add(j));
                    w_lo = _mm256_min_pd(w_lo, wv);
                    let (wl, wh) = (_mm256_unpacklo_pd(wv, one), _mm256_unpackhi_pd(wv, one));
                    (_mm256_mul_pd(wv, p), _mm256_mul_pd(wv, y), wl, wh)
                } else {
                    (p, y, one, one)
                };
                // [w·p, w·y] pairs of samples 0 and 2 (lo), 1 and 3 (hi), completed with [w, 1].
                let (pl, ph) = (_mm256_unpacklo_pd(pw, yw), _mm256_unpackhi_pd(pw, yw));
                let v = [
                    _mm256_permute2f128_pd::<0x20>(pl, wl),
                    _mm256_permute2f128_pd::<0x20>(ph, wh),
                    _mm256_permute2f128_pd::<0x31>(pl, wl),
                    _mm256_permute2f128_pd::<0x31>(ph, wh),
                ];
                let base = cells.add((j & mask & !3) << 5);
                for k in 0..4 {
                    let bin = bins[k] as u32 as usize;
                    let at = (bin << (SHIFT + 5)) + ((k & mask) << 5);
                    let cell = base.add(at).cast::<f64>();
                    _mm256_store_pd(cell, _mm256_add_pd(_mm256_load_pd(cell), v[k]));
                }
            }
            j += 4;
        }
        let mut good = _mm256_movemask_pd(_mm256_and_pd(ok, _mm256_cmp_pd::<_CMP_GE_OQ>(w_lo, zero))) == 0xF;
        for k in j..n {
            let (p, y) = (conf[k], acc[k]);
            let wk = if WEIGHTED { w[k] } else { 1.0 };
            good &= (0.0..=1.0).contains(&p) & (0.0..=1.0).contains(&y) & (wk >= 0.0);
            t.add(k, uniform_bin_by_edges(p, b, last, e), [wk * p, wk * y, wk, 1.0]);
        }
        good
    }

    /// `r` with the bins (in its low bits) of the samples flagged in `edgy` set by the exact
    /// rule.
    #[cold]
    #[inline(never)]
    #[target_feature(enable = "avx2")]
    fn exact_bins(r: __m256d, mut edgy: i32, p: &[f64], b: f64, e: &[f64]) -> __m256d {
        let mut bins = [0i64; 4];
        // SAFETY: `bins` holds 4 lanes of 64 bits.
        unsafe { _mm256_storeu_si256(bins.as_mut_ptr().cast(), _mm256_castpd_si256(r)) };
        while edgy != 0 {
            let k = edgy.trailing_zeros() as usize;
            bins[k] = uniform_bin_by_edges(p[k], b, e.len() - 2, e) as i64;
            edgy &= edgy - 1;
        }
        // SAFETY: as above.
        _mm256_castsi256_pd(unsafe { _mm256_loadu_si256(bins.as_ptr().cast()) })
    }
}

/// Per-bin sums of (conf, outcome) under `binning`; validated inputs assumed.
pub fn bin_stats(conf: &[f64], acc: &[f64], w: Option<&[f64]>, binning: &Binning) -> BinStats {
    bin_stats_checked(conf, acc, w, binning, false, BinPath::at(crate::simd::active())).0
}

/// Per-bin sums of (conf, outcome) under `binning`; with `check`, also whether every confidence
/// and outcome lay in [0, 1], checked block by block in the same pass over the data.
fn bin_stats_checked(
    conf: &[f64],
    acc: &[f64],
    w: Option<&[f64]>,
    binning: &Binning,
    check: bool,
    path: BinPath,
) -> (BinStats, bool) {
    let nb = binning.n_bins;
    if conf.len() < PAR_MIN {
        let mut s = BinStats::zeros(nb, binning.edges.clone());
        let ok = accumulate(&mut s, conf, acc, w, binning, check, path);
        return (s, ok);
    }
    let parts: Vec<(BinStats, bool)> = crate::parallel::map_range_shared(conf.len().div_ceil(CHUNK), |c| {
        let lo = c * CHUNK;
        let hi = (lo + CHUNK).min(conf.len());
        let mut s = BinStats::zeros(nb, Vec::new());
        let ok = accumulate(
            &mut s,
            &conf[lo..hi],
            &acc[lo..hi],
            w.map(|w| &w[lo..hi]),
            binning,
            check,
            path,
        );
        (s, ok)
    });
    let mut total = BinStats::zeros(nb, binning.edges.clone());
    let mut ok = true;
    for (p, good) in &parts {
        total.add(p);
        ok &= good;
    }
    (total, ok)
}

/// Combines per-bin sums into one number under `norm`.
pub fn from_stats(s: &BinStats, norm: Norm, bin_weighted: bool) -> f64 {
    let total: f64 = s.weight.iter().sum();
    let mut acc_sum = 0.0;
    let mut max_gap: f64 = 0.0;
    let mut non_empty = 0usize;
    for b in 0..s.weight.len() {
        let wb = s.weight[b];
        if s.count[b] == 0 || wb <= 0.0 {
            continue;
        }
        non_empty += 1;
        let acc = s.acc_sum[b] / wb;
        let gap = acc - s.conf_sum[b] / wb;
        let share = if bin_weighted { wb / total } else { 1.0 };
        match norm {
            Norm::L1 => acc_sum += share * gap.abs(),
            Norm::L2 => acc_sum += share * gap * gap,
            Norm::L2Debiased => {
                if wb >= 2.0 {
                    acc_sum += share * (gap * gap - acc * (1.0 - acc) / (wb - 1.0));
                }
            }
            Norm::Max => max_gap = max_gap.max(gap.abs()),
        }
    }
    let denom = if bin_weighted { 1.0 } else { non_empty.max(1) as f64 };
    match norm {
        Norm::L1 => acc_sum / denom,
        Norm::L2 => (acc_sum / denom).sqrt(),
        Norm::L2Debiased => (acc_sum / denom).max(0.0).sqrt(),
        Norm::Max => max_gap,
    }
}

fn validate(conf: &[f64], acc: &[f64], w: Option<&[f64]>) -> Result<()> {
    check_probs("y_prob", conf)?;
    check_outcomes("y_true", acc, conf.len())?;
    check_weights(w, conf.len())
}

/// Calibration error of confidences `conf` against outcomes `acc` (0/1 correctness for the
/// top-label view, labels for the binary view).
///
/// With uniform bins the data is read once: the checks of `conf`, `acc` and `w` run inside the
/// binning pass (the full checks only word the error once it failed).
pub fn ece(conf: &[f64], acc: &[f64], w: Option<&[f64]>, opts: &EceOptions) -> Result<f64> {
    ece_at(conf, acc, w, opts, crate::simd::active())
}

/// [`ece`] with its bins computed at a given vector level (the tests compare the levels).
fn ece_at(conf: &[f64], acc: &[f64], w: Option<&[f64]>, opts: &EceOptions, level: SimdLevel) -> Result<f64> {
    if opts.strategy != Strategy::Uniform || conf.is_empty() {
        validate(conf, acc, w)?; // quantile edges are computed from the (checked) data first
    } else {
        check_same_len("y_true", acc.len(), conf.len())?;
        if let Some(w) = w {
            check_same_len("sample_weight", w.len(), conf.len())?;
        }
    }
    let binning = Binning::new(opts.convention, opts.strategy, opts.n_bins, conf)?;
    let (stats, ok) = bin_stats_checked(conf, acc, w, &binning, true, BinPath::at(level));
    // A NaN anywhere, an infinite weight or weighted sums too large for a float leave a sum
    // that is not finite; a positive total rules out weights that are all zero.
    let sums = [&stats.weight, &stats.conf_sum, &stats.acc_sum];
    let finite = sums.iter().all(|v| v.iter().all(|x| x.is_finite()));
    let total: f64 = stats.weight.iter().sum();
    if !(ok && finite && total > 0.0 && total.is_finite()) {
        validate(conf, acc, w)?;
        // every value is fine, but the weighted sums overflowed in the pass's order
        return Err(crate::error::weights_overflow());
    }
    Ok(from_stats(&stats, opts.norm, opts.bin_weighted))
}

/// The reliability table behind [`ece`] (per-bin sums and edges).
pub fn reliability(conf: &[f64], acc: &[f64], w: Option<&[f64]>, opts: &EceOptions) -> Result<BinStats> {
    validate(conf, acc, w)?;
    let binning = Binning::new(opts.convention, opts.strategy, opts.n_bins, conf)?;
    Ok(bin_stats(conf, acc, w, &binning))
}

/// Classwise ECE (Kull et al. 2019): the mean over classes k of the binary ECE of p_k against
/// 1[y = k].
pub fn ece_classwise(probs: &[f64], k: usize, labels: &[i64], w: Option<&[f64]>, opts: &EceOptions) -> Result<f64> {
    if k == 0 {
        return Err(CredoError::shape("y_prob", "has no classes"));
    }
    let n = probs.len() / k;
    check_probs("y_prob", probs)?;
    check_same_len("y_true", labels.len(), n)?;
    super::check_labels(labels, k)?;
    check_weights(w, n)?;
    let per_class: Vec<Result<f64>> = crate::parallel::map_range(k, 1, |c| {
        let col: Vec<f64> = (0..n).map(|i| probs[i * k + c]).collect();
        let hit: Vec<f64> = labels
            .iter()
            .map(|&l| if l as usize == c { 1.0 } else { 0.0 })
            .collect();
        let binning = Binning::new(opts.convention, opts.strategy, opts.n_bins, &col)?;
        Ok(from_stats(
            &bin_stats(&col, &hit, w, &binning),
            opts.norm,
            opts.bin_weighted,
        ))
    });
    let mut total = 0.0;
    for r in per_class {
        total += r?;
    }
    Ok(total / k as f64)
}

/// Distance between mean outcome and mean prediction vectors in one cell of the canonical ECE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Distance {
    /// ½ Σ_k |a_k − b_k| (CalibrationErrors.jl's default).
    TotalVariation,
    /// sqrt(Σ_k (a_k − b_k)²).
    Euclidean,
}

crate::choices!(Distance, "distance", {
    "tv" => Distance::TotalVariation,
    "euclidean" => Distance::Euclidean,
});

/// The canonical (full-vector) ECE of Widmann et al. (2019) as CalibrationErrors.jl's
/// `ECE(UniformBinning(n_bins))`: every coordinate p_k goes to bin ⌈B·p_k⌉ (p_k = 0 to the first),
/// i.e. (a, b] bins, the cells are the tuples of coordinate bins, and the estimate is
/// Σ_cells (w_c/W)·d(mean one-hot label, mean probability vector).
pub fn ece_canonical(
    probs: &[f64],
    k: usize,
    labels: &[i64],
    w: Option<&[f64]>,
    n_bins: usize,
    distance: Distance,
) -> Result<f64> {
    if k == 0 {
        return Err(CredoError::shape("y_prob", "has no classes"));
    }
    if n_bins == 0 || n_bins > u16::MAX as usize {
        return Err(CredoError::invalid(
            "n_bins",
            format!("must be in [1, 65535], got {n_bins}"),
        ));
    }
    let n = probs.len() / k;
    check_probs("y_prob", probs)?;
    check_same_len("y_true", labels.len(), n)?;
    super::check_labels(labels, k)?;
    check_weights(w, n)?;
    let b = n_bins as f64;
    // cell key -> (weight, Σ w·p, Σ w·onehot); stored flat as [weight, p_0.., y_0..].
    let mut cells: HashMap<Vec<u16>, Vec<f64>> = HashMap::new();
    let mut order: Vec<Vec<u16>> = Vec::new();
    for (i, row) in probs.chunks_exact(k).enumerate() {
        let key: Vec<u16> = row.iter().map(|&p| ((p * b).ceil() as u16).max(1) - 1).collect();
        let wi = wt(w, i);
        let entry = cells.entry(key).or_insert_with_key(|key| {
            order.push(key.clone());
            vec![0.0; 1 + 2 * k]
        });
        entry[0] += wi;
        for c in 0..k {
            entry[1 + c] += wi * row[c];
        }
        entry[1 + k + labels[i] as usize] += wi;
    }
    let total: f64 = w.map_or(n as f64, |w| w.iter().sum());
    // Cells are summed in first-seen order so the result is deterministic.
    let mut ece = 0.0;
    for key in &order {
        let e = &cells[key];
        if e[0] <= 0.0 {
            continue;
        }
        let d = match distance {
            Distance::TotalVariation => 0.5 * (0..k).map(|c| ((e[1 + k + c] - e[1 + c]) / e[0]).abs()).sum::<f64>(),
            Distance::Euclidean => (0..k)
                .map(|c| ((e[1 + k + c] - e[1 + c]) / e[0]).powi(2))
                .sum::<f64>()
                .sqrt(),
        };
        ece += e[0] / total * d;
    }
    Ok(ece)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: [f64; 15] = [
        0.1, 0.2, 0.3, 0.4, 0.5, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.0, 0.05, 0.95, 0.0,
    ];
    const Y: [f64; 15] = [0., 0., 1., 0., 1., 0., 1., 1., 1., 1., 1., 0., 0., 1., 0.];

    fn check(convention: Convention, expected: f64) {
        let opts = EceOptions {
            n_bins: 10,
            convention,
            ..EceOptions::default()
        };
        let got = ece(&CONF, &Y, None, &opts).unwrap();
        assert!((got - expected).abs() < 5e-5, "{convention:?}: {got} vs {expected}");
    }

    #[test]
    fn reference_check_vector() {
        check(Convention::Sklearn, 0.2267);
        check(Convention::Netcal, 0.1867);
        check(Convention::Torchmetrics, 0.2067);
        check(Convention::Relplot, 0.2067);
        check(Convention::Mapie, 0.2133);
    }

    #[test]
    fn parallel_equals_serial_chunks() {
        let n = PAR_MIN + 12_345;
        let conf: Vec<f64> = (0..n).map(|i| ((i as f64) * 0.618_033_988_7).fract()).collect();
        let acc: Vec<f64> = (0..n).map(|i| f64::from(u8::from(i % 3 == 0))).collect();
        let opts = EceOptions::default();
        let a = crate::parallel::with_threads(Some(1), || ece(&conf, &acc, None, &opts))
            .unwrap()
            .unwrap();
        let b = crate::parallel::with_threads(Some(2), || ece(&conf, &acc, None, &opts))
            .unwrap()
            .unwrap();
        assert_eq!(a.to_bits(), b.to_bits());
    }

    #[test]
    fn range_checks_in_the_binning_pass_word_the_first_bad_value() {
        for n in [1000, PAR_MIN + 5000] {
            let conf: Vec<f64> = (0..n).map(|i| (i % 997) as f64 / 997.0).collect();
            let acc: Vec<f64> = (0..n).map(|i| f64::from(u8::from(i % 3 == 0))).collect();
            let opts = EceOptions::default();
            let fused = ece(&conf, &acc, None, &opts).unwrap();
            let binning = Binning::new(opts.convention, opts.strategy, 15, &conf).unwrap();
            let mut two_pass = BinStats::zeros(15, Vec::new());
            for (&c, &a) in conf.iter().zip(&acc) {
                let b = binning.assign(c);
                two_pass.weight[b] += 1.0;
                two_pass.count[b] += 1;
                two_pass.conf_sum[b] += c;
                two_pass.acc_sum[b] += a;
            }
            assert!((fused - from_stats(&two_pass, Norm::L1, true)).abs() < 1e-12);
            for (at, v, in_conf) in [
                (n - 1, f64::NAN, true),
                (n / 2, 1.5, false),
                (3, -1e-300, true),
                (n - 2, f64::NEG_INFINITY, true),
            ] {
                let (mut c, mut a) = (conf.clone(), acc.clone());
                if in_conf {
                    c[at] = v;
                    a[0] = 2.0; // an earlier bad outcome: y_prob's error still comes first
                } else {
                    a[at] = v;
                }
                let e = ece(&c, &a, None, &opts).unwrap_err().to_string();
                assert_eq!(e, validate(&c, &a, None).unwrap_err().to_string());
                assert!(e.starts_with(if in_conf { "y_prob" } else { "y_true" }), "{e}");
            }
        }
    }

    /// Confidences on, just below and just above every edge k/B, 0, 1, and pseudo-random values.
    fn edge_heavy(nb: usize, n: usize) -> Vec<f64> {
        let b = nb as f64;
        let mut v = vec![0.0, -0.0, 1.0, 1.0f64.next_down()];
        for k in 0..=nb {
            let e = k as f64 / b;
            v.extend([
                e,
                e.next_down(),
                e.next_up(),
                (k as f64 + 3e-7) / b,
                (k as f64 - 3e-7) / b,
            ]);
        }
        v.retain(|p| (0.0..=1.0).contains(p));
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        while v.len() < n {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            v.push((state >> 11) as f64 / (1u64 << 53) as f64);
        }
        v
    }

    #[test]
    fn vector_bins_equal_the_scalar_rule() {
        for nb in [1usize, 2, 3, 7, 10, 15, 100, 1000, 1025, 12345] {
            let conf = edge_heavy(nb, 5003);
            let acc: Vec<f64> = (0..conf.len()).map(|i| ((i * 7) % 5) as f64 / 4.0).collect();
            let w: Vec<f64> = (0..conf.len()).map(|i| (i % 4) as f64 * 0.5).collect();
            let binning = Binning::new(Convention::Credo, Strategy::Uniform, nb, &conf).unwrap();
            // the reference: one sample at a time by the exact rule
            let mut want = BinStats::zeros(nb, binning.edges.clone());
            for (&c, &a) in conf.iter().zip(&acc) {
                let b = binning.assign(c);
                want.count[b] += 1;
                want.weight[b] += 1.0;
                want.conf_sum[b] += c;
                want.acc_sum[b] += a;
            }
            for level in crate::simd::supported_levels() {
                let path = BinPath::at(level);
                let (got, ok) = bin_stats_checked(&conf, &acc, None, &binning, true, path);
                assert!(ok);
                assert_eq!(got.count, want.count, "{nb} bins at {level:?}");
                assert_eq!(got.weight, want.weight);
                for b in 0..nb {
                    assert!((got.conf_sum[b] - want.conf_sum[b]).abs() < 1e-9, "{nb} bins, bin {b}");
                    assert!((got.acc_sum[b] - want.acc_sum[b]).abs() < 1e-9);
                }
                // every level gives the same bits (same bins, same summation order)
                let scalar = bin_stats_checked(&conf, &acc, Some(&w), &binning, true, BinPath::Scalar).0;
                let here = bin_stats_checked(&conf, &acc, Some(&w), &binning, true, path).0;
                assert_eq!(here, scalar, "{nb} bins, weighted, at {level:?}");
            }
        }
    }

    #[test]
    fn weighted_tables_equal_one_sample_at_a_time() {
        for (convention, nb) in [
            (Convention::Credo, 15),
            (Convention::Netcal, 10),
            (Convention::Sklearn, 2000),
        ] {
            let conf = edge_heavy(nb, 9001);
            let acc: Vec<f64> = (0..conf.len()).map(|i| f64::from(u8::from(i % 3 == 0))).collect();
            let w: Vec<f64> = (0..conf.len()).map(|i| ((i * 13) % 7) as f64 * 0.25).collect();
            let binning = Binning::new(convention, Strategy::Uniform, nb, &conf).unwrap();
            let got = bin_stats(&conf, &acc, Some(&w), &binning);
            let mut want = BinStats::zeros(nb, binning.edges.clone());
            for ((&c, &a), &wi) in conf.iter().zip(&acc).zip(&w) {
                let p = binning.value(c);
                let b = binning.assign(p);
                want.count[b] += 1;
                want.weight[b] += wi;
                want.conf_sum[b] += wi * p;
                want.acc_sum[b] += wi * a;
            }
            assert_eq!(got.count, want.count, "{convention:?}");
            for b in 0..nb {
                assert!((got.weight[b] - want.weight[b]).abs() < 1e-9);
                assert!((got.conf_sum[b] - want.conf_sum[b]).abs() < 1e-9);
                assert!((got.acc_sum[b] - want.acc_sum[b]).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn every_level_rejects_what_the_full_checks_reject() {
        let n = 3000;
        let conf: Vec<f64> = (0..n).map(|i| (i % 997) as f64 / 997.0).collect();
        let acc: Vec<f64> = (0..n).map(|i| f64::from(u8::from(i % 3 == 0))).collect();
        let opts = EceOptions::default();
        for level in crate::simd::supported_levels() {
            // bad values in the vector body and in the scalar tail of a block
            for at in [5, 1023, 1024 + 1022, n - 1] {
                for v in [f64::NAN, 1.0f64.next_up(), (-0.0f64).next_down(), f64::INFINITY] {
                    for in_conf in [true, false] {
                        let (mut c, mut a) = (conf.clone(), acc.clone());
                        if in_conf {
                            c[at] = v;
                        } else {
                            a[at] = v;
                        }
                        let e = ece_at(&c, &a, None, &opts, level).unwrap_err().to_string();
                        assert_eq!(e, validate(&c, &a, None).unwrap_err().to_string(), "{level:?}");
                    }
                }
            }
            let good = ece_at(&conf, &acc, None, &opts, level).unwrap();
            assert_eq!(good.to_bits(), ece(&conf, &acc, None, &opts).unwrap().to_bits());
        }
    }

    #[test]
    fn every_level_words_bad_weights_as_the_full_checks_do() {
        let n = 3000;
        let conf: Vec<f64> = (0..n).map(|i| (i % 997) as f64 / 997.0).collect();
        let acc: Vec<f64> = (0..n).map(|i| f64::from(u8::from(i % 3 == 0))).collect();
        let w: Vec<f64> = (0..n).map(|i| (i % 5) as f64 * 0.5).collect();
        let opts = EceOptions::default();
        for level in crate::simd::supported_levels() {
            // in a vector block, in the scalar tail
            for at in [5, 1023, n - 1] {
                for v in [-1.0, -1e-300, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                    let mut bad = w.clone();
                    bad[at] = v;
                    let e = ece_at(&conf, &acc, Some(&bad), &opts, level).unwrap_err().to_string();
                    assert_eq!(e, check_weights(Some(&bad), n).unwrap_err().to_string(), "{level:?}");
                    // a bad confidence is worded first, as by the full checks
                    let mut c = conf.clone();
                    c[n / 2] = 2.0;
                    let e = ece_at(&c, &acc, Some(&bad), &opts, level).unwrap_err().to_string();
                    assert!(e.starts_with("y_prob"), "{e}");
                }
            }
            for bad in [vec![0.0; n], vec![f64::MAX; n]] {
                let e = ece_at(&conf, &acc, Some(&bad), &opts, level).unwrap_err().to_string();
                assert_eq!(e, check_weights(Some(&bad), n).unwrap_err().to_string(), "{level:?}");
            }
            // finite, non-negative weights whose sum overflows in some order are refused
            for (a, b) in [(7, 8), (7, 500)] {
                let mut big = vec![0.0; n];
                big[a] = f64::MAX;
                big[b] = f64::MAX;
                let e = ece_at(&conf, &acc, Some(&big), &opts, level).unwrap_err().to_string();
                assert!(e.contains("largest float"), "{e}");
            }
            let ok = ece_at(&conf, &acc, Some(&w), &opts, level).unwrap();
            assert_eq!(ok.to_bits(), ece(&conf, &acc, Some(&w), &opts).unwrap().to_bits());
        }
    }

    #[test]
    fn weighted_ece_matches_a_sample_by_sample_reference() {
        let n = PAR_MIN + 777;
        let conf = edge_heavy(15, n);
        let acc: Vec<f64> = (0..n).map(|i| f64::from(u8::from(i % 3 != 0))).collect();
        let w: Vec<f64> = (0..n).map(|i| ((i * 13) % 7) as f64 * 0.25).collect();
        let binning = Binning::new(Convention::Credo, Strategy::Uniform, 15, &conf).unwrap();
        let mut want = BinStats::zeros(15, Vec::new());
        for ((&c, &a), &wi) in conf.iter().zip(&acc).zip(&w) {
            let b = binning.assign(c);
            want.count[b] += 1;
            want.weight[b] += wi;
            want.conf_sum[b] += wi * c;
            want.acc_sum[b] += wi * a;
        }
        let want = from_stats(&want, Norm::L1, true);
        for level in crate::simd::supported_levels() {
            for threads in [1, 2] {
                let got = crate::parallel::with_threads(Some(threads), || {
                    ece_at(&conf, &acc, Some(&w), &EceOptions::default(), level)
                })
                .unwrap()
                .unwrap();
                assert!(
                    (got - want).abs() < 1e-12,
                    "{level:?}, {threads} threads: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn perfectly_calibrated_bins_give_zero() {
        let conf = [0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 0.75];
        let acc = [1., 0., 0., 0., 1., 1., 1., 0.];
        assert!(ece(&conf, &acc, None, &EceOptions::default()).unwrap().abs() < 1e-15);
    }
}
