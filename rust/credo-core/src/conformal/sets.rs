//! Class nonconformity scores and split-conformal prediction sets.
//!
//! - LAC (Sadinle et al. 2019): s(x, y) = 1 − p̂_y(x).
//! - APS (Romano et al. 2020): the probability mass of the classes ranked above y (ties broken by
//!   class index) plus u·p̂_y, with u ~ U(0, 1) when randomised (MAPIE's calibration score, up to
//!   u ↔ 1 − u) and u = 1 otherwise.
//! - RAPS (Angelopoulos et al. 2021): APS + λ·max(0, o(x, y) − k_reg), o the 1-based rank.
//!
//! For APS and RAPS the set of x takes classes in decreasing probability while the cumulative
//! score c_r (mass of ranks 0..=r plus the RAPS penalty of rank r) stays within q̂, with MAPIE's
//! three rules for the class whose cumulative score crosses q̂ ([`LastLabel`]). Thresholds are
//! compared exactly (as TorchCP; MAPIE adds a 1e-8 slack).

use std::mem::MaybeUninit;

use super::lac::{LacKernel, Store};
use crate::error::{check_same_len, CredoError, Result};
use crate::rng::uniforms;

/// Which nonconformity score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Score {
    Lac,
    Aps {
        randomized: bool,
    },
    Raps {
        randomized: bool,
        lambda: f64,
        k_reg: usize,
    },
}

/// A score by name, before its RAPS parameters are attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoreName {
    Lac,
    Aps,
    Raps,
}
crate::choices!(ScoreName, "score", {
    "lac" => ScoreName::Lac,
    "aps" => ScoreName::Aps,
    "raps" => ScoreName::Raps,
});

impl Score {
    /// The score `name` with its randomisation and RAPS parameters (ignored where unused).
    pub fn new(name: ScoreName, randomized: bool, lambda: f64, k_reg: usize) -> Result<Self> {
        match name {
            ScoreName::Lac => Ok(Self::Lac),
            ScoreName::Aps => Ok(Self::Aps { randomized }),
            ScoreName::Raps => {
                if !(lambda.is_finite() && lambda >= 0.0) {
                    return Err(CredoError::invalid(
                        "raps_lambda",
                        format!("must be finite and >= 0, got {lambda}"),
                    ));
                }
                Ok(Self::Raps {
                    randomized,
                    lambda,
                    k_reg,
                })
            }
        }
    }

    fn randomized(self) -> bool {
        matches!(
            self,
            Self::Aps { randomized: true } | Self::Raps { randomized: true, .. }
        )
    }
}

/// What an APS / RAPS set does with the class whose cumulative score first exceeds q̂
/// (MAPIE's `include_last_label`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LastLabel {
    /// Include it (MAPIE's `True`): the set is every class up to and including the first whose
    /// cumulative score reaches q̂; never empty.
    Include,
    /// Leave it out (MAPIE's `False`): every class whose cumulative score is within q̂, and the
    /// top class always; never empty.
    Exclude,
    /// Include it with the probability that makes coverage exact (Romano et al.'s randomised
    /// set: class y is in iff mass above y + u·p̂_y + penalty ≤ q̂); may be empty.
    Randomized,
}

crate::choices!(LastLabel, "include_last_label", {
    "true" => LastLabel::Include,
    "false" => LastLabel::Exclude,
    "randomized" => LastLabel::Randomized,
});

/// The RAPS penalty λ·max(0, rank − k_reg) of a 1-based rank (0 for APS and LAC).
fn penalty(score: Score, rank: usize) -> f64 {
    match score {
        Score::Raps { lambda, k_reg, .. } => lambda * rank.saturating_sub(k_reg) as f64,
        _ => 0.0,
    }
}

/// One row of an APS / RAPS set: `order` holds the classes by decreasing probability (ties by
/// index), `q(y)` the threshold of candidate y, `u` the row's uniform (Randomized only).
fn adaptive_row(
    prow: &[f64],
    order: &[usize],
    score: Score,
    last: LastLabel,
    u: f64,
    q: impl Fn(usize) -> f64,
    orow: &mut [bool],
) {
    let mut above = 0.0;
    for (rank, &y) in order.iter().enumerate() {
        let py = prow[y];
        orow[y] = rank == 0 && last != LastLabel::Randomized
            || match last {
                // c_{r-1} = mass above y + penalty of the previous rank
                LastLabel::Include => above + penalty(score, rank) < q(y),
                LastLabel::Exclude => above + py + penalty(score, rank + 1) <= q(y),
                LastLabel::Randomized => above + u * py + penalty(score, rank + 1) <= q(y),
            };
        above += py;
    }
    if last != LastLabel::Randomized {
        // A class tied in probability with an included one is included too (as MAPIE), so the
        // set does not depend on the order ties were broken in.
        let floor = order
            .iter()
            .filter(|&&y| orow[y])
            .map(|&y| prow[y])
            .fold(f64::INFINITY, f64::min);
        for (m, &p) in orow.iter_mut().zip(prow) {
            *m |= p >= floor;
        }
    }
}

/// The conformal threshold(s) a set is built with.
#[derive(Debug, Clone, Copy)]
pub enum Thresholds<'a> {
    /// One q̂ for everything.
    Single(f64),
    /// q̂ per candidate class (class-conditional Mondrian), length K.
    PerClass(&'a [f64]),
    /// q̂ per test row (segment Mondrian: the row's segment quantile), length n.
    PerRow(&'a [f64]),
}

/// A probability the set kernels read in place: float64, or float32 without a float64 copy.
/// Scores are computed in float64 from the value as stored (a float32 widens exactly).
pub trait Prob: LacKernel + Send + Sync {
    const ZERO: Self;
    const ONE: Self;
    fn to_f64(self) -> f64;
    /// The smallest value `p*` of this type such that, for every p of this type in [0, 1],
    /// `1 − p ≤ t` (evaluated in float64) iff `p ≥ p*`; +∞ when no p in [0, 1] qualifies.
    /// `fl(1 − p)` does not increase with p (rounding is monotone), so the qualifying p form an
    /// up-set and one comparison per value decides membership exactly as the score would.
    fn lac_floor(t: f64) -> Self;
}

macro_rules! impl_prob {
    ($t:ty, $bits:ty) => {
        impl Prob for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            #[inline(always)]
            fn to_f64(self) -> f64 {
                f64::from(self)
            }
            fn lac_floor(t: f64) -> Self {
                let qualifies = |b: $bits| 1.0 - f64::from(<$t>::from_bits(b)) <= t;
                // The bit patterns of the non-negative floats are ordered as their values.
                let (mut lo, mut hi) = (0, (1.0 as $t).to_bits());
                if !qualifies(hi) {
                    return <$t>::INFINITY;
                }
                while lo < hi {
                    let mid = lo + (hi - lo) / 2;
                    if qualifies(mid) {
                        hi = mid;
                    } else {
                        lo = mid + 1;
                    }
                }
                <$t>::from_bits(lo)
            }
        }
    };
}
impl_prob!(f64, u64);
impl_prob!(f32, u32);

/// A class label as the caller stores it, read in place: any integer type (no int64 copy).
pub trait Label: Copy + Send + Sync + std::fmt::Display {
    /// The column this label names, or `None` when it lies outside [0, k).
    fn column(self, k: usize) -> Option<usize>;
}

macro_rules! impl_label {
    ($($t:ty),*) => {$(
        impl Label for $t {
            #[inline(always)]
            fn column(self, k: usize) -> Option<usize> {
                usize::try_from(self).ok().filter(|&c| c < k)
            }
        }
    )*};
}
impl_label!(i8, i16, i32, i64, u8, u16, u32, u64);

fn bad_label<L: Label>(y: L, i: usize, k: usize) -> CredoError {
    CredoError::invalid("labels", format!("label {y} at index {i} is outside [0, {k})"))
}

fn check_shape<T>(probs: &[T], n: usize, k: usize) -> Result<()> {
    if n == 0 || k == 0 {
        return Err(CredoError::empty("probs", "needs at least one row and one class"));
    }
    if probs.len() != n * k {
        return Err(CredoError::shape(
            "probs",
            format!("{} values do not form {n} rows of {k}", probs.len()),
        ));
    }
    Ok(())
}

fn outside_unit<T: Prob>(x: T) -> bool {
    !(x >= T::ZERO && x <= T::ONE)
}

/// The error for a value outside [0, 1] (NaN and ±inf included) at flat index `i`.
fn bad_prob<T: Prob>(probs: &[T], i: usize, k: usize) -> CredoError {
    let (v, r, c) = (probs[i].to_f64(), i / k, i % k);
    if v.is_finite() {
        CredoError::invalid(
            "probs",
            format!("probabilities must lie in [0, 1], got {v} at index ({r}, {c})"),
        )
    } else {
        CredoError::non_finite("probs", format!("non-finite value {v} at index ({r}, {c})"))
    }
}

/// Whether any value of `p` lies outside [0, 1] (a branch-free scan that vectorises).
fn any_outside_unit<T: Prob>(p: &[T]) -> bool {
    p.iter().fold(false, |acc, &x| acc | outside_unit(x))
}

fn first_bad<T: Prob>(p: &[T]) -> Option<usize> {
    p.iter().position(|&x| outside_unit(x))
}

/// Checks the shape and that every value lies in [0, 1], in one parallel pass.
fn check_probs<T: Prob>(probs: &[T], n: usize, k: usize) -> Result<()> {
    check_shape(probs, n, k)?;
    const CHUNK: usize = 1 << 16;
    let bad = crate::parallel::map_range(probs.len().div_ceil(CHUNK), 1, |c| {
        let p = &probs[c * CHUNK..((c + 1) * CHUNK).min(probs.len())];
        // branch-free scan first; locate the index only on failure
        if any_outside_unit(p) {
            first_bad(p).map(|i| c * CHUNK + i)
        } else {
            None
        }
    })
    .into_iter()
    .flatten()
    .min();
    match bad {
        Some(i) => Err(bad_prob(probs, i, k)),
        None => Ok(()),
    }
}

/// Score of class `y` in one row given the row's uniform `u` (1.0 when not randomised).
fn row_score(row: &[f64], y: usize, score: Score, u: f64) -> f64 {
    let py = row[y];
    match score {
        Score::Lac => 1.0 - py,
        Score::Aps { .. } | Score::Raps { .. } => {
            let mut above = 0.0;
            let mut rank = 0usize;
            for (j, &p) in row.iter().enumerate() {
                if p > py || (p == py && j < y) {
                    above += p;
                    rank += 1;
                }
            }
            above + u * py + penalty(score, rank + 1)
        }
    }
}

fn widen<T: Prob>(row: &[T], buf: &mut Vec<f64>) {
    buf.clear();
    buf.extend(row.iter().map(|&x| x.to_f64()));
}

/// Calibration scores s(x_i, y_i); `seed` drives the uniforms of randomised scores.
///
/// LAC reads only the label's probability of each row (one gather of n values, not a pass over
/// the n × k matrix), checking each label in the same pass: those are the values the scores are
/// made of, and the ones checked to lie in [0, 1]. APS and RAPS read, and check, every value.
pub fn calibration_scores<T: Prob, L: Label>(
    probs: &[T],
    n: usize,
    k: usize,
    labels: &[L],
    score: Score,
    seed: u64,
) -> Result<Vec<f64>> {
    check_shape(probs, n, k)?;
    check_same_len("labels", labels.len(), n)?;
    if score == Score::Lac {
        return lac_scores(probs, k, labels);
    }
    if let Some(i) = labels.iter().position(|&y| y.column(k).is_none()) {
        return Err(bad_label(labels[i], i, k));
    }
    check_probs(probs, n, k)?;
    let u = if score.randomized() {
        uniforms(n, seed)
    } else {
        Vec::new()
    };
    let mut row = Vec::with_capacity(k);
    Ok(probs
        .chunks_exact(k)
        .zip(labels)
        .enumerate()
        .map(|(i, (r, &y))| {
            widen(r, &mut row);
            let y = y.column(k).unwrap_or(0); // every label was checked above
            row_score(&row, y, score, if u.is_empty() { 1.0 } else { u[i] })
        })
        .collect())
}

/// Asks for the cache line of `p[j]` ahead of its load, into the L2 cache (nothing when `j` is
/// out of range, or off x86-64).
///
/// Into L2, not L1 (T1, not T0): a prefetch into L1 holds one of the L1's few miss buffers
/// until its line arrives, which capped the misses in flight however far ahead they were asked
/// for (1e5 x 100 float64 gather, cold, one thread on Zen 4: 1.2-1.5 ms at 16 or 64 rows
/// ahead); L2 tracks many more, and the load then finds its line there.
#[inline(always)]
fn prefetch<T>(p: &[T], j: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(x) = p.get(j) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T1};
        // SAFETY: a prefetch loads nothing architecturally (and the address lies within p).
        unsafe { _mm_prefetch::<_MM_HINT_T1>(std::ptr::from_ref(x).cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (p, j);
}

/// Rows per task of the LAC gather: few enough tasks that claiming one costs nothing next to
/// its misses, enough that two threads share the work evenly; input of fewer rows is gathered
/// on the calling thread alone.
const GATHER_ROWS: usize = 8192;

/// What a chunk of the LAC gather found wrong: a label outside [0, k) (its row), or a
/// probability outside [0, 1] somewhere (located after the pass). The least fault is the error:
/// the first bad label, before any bad probability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum GatherFault {
    Label(usize),
    Prob,
}

/// LAC scores 1 − p[i, y_i], each label checked as it is read (the first bad label is the
/// error; a bad probability is reported after the pass, at its first index).
///
/// Each value read is a cache miss (k values between rows, the column varies), so the gather
/// is bound by how many misses are in flight: chunks of rows are claimed by the calling thread
/// and the pool's workers (a second core adds its own misses in flight where one core cannot
/// keep memory busy; on the 2-core Zen 4 VM one core does: 0.43 ms on one thread or two), and
/// each asks for the value `AHEAD` rows on early, into L2 (see [`prefetch`]). Each chunk writes
/// its own slice of the scores; the result does not depend on the thread count.
fn lac_scores<T: Prob, L: Label>(probs: &[T], k: usize, labels: &[L]) -> Result<Vec<f64>> {
    let n = labels.len();
    let mut scores: Vec<f64> = Vec::with_capacity(n);
    let faults = crate::parallel::map_chunks_mut(&mut scores.spare_capacity_mut()[..n], GATHER_ROWS, |c, out| {
        lac_gather_chunk(probs, k, labels, c * GATHER_ROWS, out)
    });
    match faults.into_iter().flatten().min() {
        Some(GatherFault::Label(i)) => Err(bad_label(labels[i], i, k)),
        Some(GatherFault::Prob) => {
            let i = (probs.chunks_exact(k).zip(labels).enumerate())
                .map(|(i, (_, &y))| i * k + y.column(k).unwrap_or(0))
                .find(|&j| outside_unit(probs[j]));
            Err(bad_prob(probs, i.unwrap_or(0), k))
        }
        None => {
            // SAFETY: every chunk wrote each of its slots (none found a fault), and the chunks
            // cover scores[..n].
            unsafe { scores.set_len(n) };
            Ok(scores)
        }
    }
}

/// The LAC scores of rows `first..first + out.len()` into `out`; stops at a bad label.
#[inline(always)]
fn lac_gather_chunk<T: Prob, L: Label>(
    probs: &[T],
    k: usize,
    labels: &[L],
    first: usize,
    out: &mut [MaybeUninit<f64>],
) -> Option<GatherFault> {
    // far enough ahead that the misses in flight keep memory busy (the cold gather above, one
    // thread, medians of one run: 64 rows 0.38 ms, 96 0.33, 128 0.31, 192 0.31, 256 0.32)
    const AHEAD: usize = 128;
    let ask = |i: usize| {
        if let Some(z) = labels.get(i).and_then(|z| z.column(k)) {
            prefetch(probs, i * k + z);
        }
    };
    // the chunk's first rows are asked for together, as the loop asks for the later ones
    (first..first + AHEAD.min(out.len())).for_each(ask);
    let mut bad = false;
    for (r, s) in out.iter_mut().enumerate() {
        let i = first + r;
        ask(i + AHEAD);
        let y = labels[i];
        let Some(c) = y.column(k) else {
            return Some(GatherFault::Label(i));
        };
        let p = probs[i * k + c];
        bad |= outside_unit(p);
        s.write(1.0 - p.to_f64());
    }
    bad.then_some(GatherFault::Prob)
}

/// LAC membership of a chunk of rows: `o[j] = p[j] ≥ floor(j)` with the [0, 1] check in the
/// same pass; returns whether a value was out of range. One floor goes to the vector kernels of
/// [`super::lac`] (storing as `store` says); k floors (PerClass) or one per row (PerRow) to this
/// loop, compiled for AVX2 where the CPU has it.
#[inline(always)]
fn lac_compare<T: Prob>(
    p: &[T],
    o: &mut [MaybeUninit<bool>],
    floor: &LacFloor<'_, T>,
    k: usize,
    first_row: usize,
    store: Store,
) -> bool {
    let mut bad = false;
    match *floor {
        LacFloor::Single(f) => return T::single(p, o, f, store),
        LacFloor::PerClass(fs) => {
            for (orow, prow) in o.chunks_exact_mut(k).zip(p.chunks_exact(k)) {
                for ((m, &x), &f) in orow.iter_mut().zip(prow).zip(fs) {
                    m.write(x >= f);
                    bad |= outside_unit(x);
                }
            }
        }
        LacFloor::PerRow(fs) => {
            for ((orow, prow), &f) in o.chunks_exact_mut(k).zip(p.chunks_exact(k)).zip(&fs[first_row..]) {
                for (m, &x) in orow.iter_mut().zip(prow) {
                    m.write(x >= f);
                    bad |= outside_unit(x);
                }
            }
        }
    }
    bad
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn lac_compare_avx2<T: Prob>(
    p: &[T],
    o: &mut [MaybeUninit<bool>],
    floor: &LacFloor<'_, T>,
    k: usize,
    first_row: usize,
    store: Store,
) -> bool {
    // The same loop, compiled for 256-bit vectors.
    lac_compare(p, o, floor, k, first_row, store)
}

/// [`lac_compare`] at the widest vector level this CPU runs.
fn lac_compare_dispatch<T: Prob>(
    p: &[T],
    o: &mut [MaybeUninit<bool>],
    floor: &LacFloor<'_, T>,
    k: usize,
    first_row: usize,
    store: Store,
) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        let level = crate::simd::active();
        if level >= crate::simd::SimdLevel::Avx2 && level.supported() {
            // SAFETY: the CPU supports AVX2 (checked just above).
            return unsafe { lac_compare_avx2(p, o, floor, k, first_row, store) };
        }
    }
    lac_compare(p, o, floor, k, first_row, store)
}

/// The LAC thresholds as floors on the probability (see [`Prob::lac_floor`]).
enum LacFloor<'a, T> {
    Single(T),
    PerClass(&'a [T]),
    PerRow(&'a [T]),
}

/// Prediction sets as a row-major boolean mask [n, k] (q̂ per class or per row for Mondrian
/// sets): for LAC, class y is in row i's set iff s(x_i, y) ≤ q̂; for APS and RAPS, as `last`
/// says (see [`LastLabel`]). Every value is checked to lie in [0, 1], in the same pass.
pub fn predict_sets<T: Prob>(
    probs: &[T],
    n: usize,
    k: usize,
    score: Score,
    last: LastLabel,
    q: Thresholds<'_>,
    seed: u64,
) -> Result<Vec<bool>> {
    check_shape(probs, n, k)?;
    let mut out = Vec::with_capacity(n * k);
    predict_sets_into(
        probs,
        n,
        k,
        score,
        last,
        q,
        seed,
        &mut out.spare_capacity_mut()[..n * k],
    )?;
    // SAFETY: predict_sets_into wrote all n * k bools (it returned Ok).
    unsafe { out.set_len(n * k) };
    Ok(out)
}

/// The LAC sets of rows in chunks of `rows` (in parallel when there are several), stored as
/// `store` says: each chunk's first value outside [0, 1], if any (shape and threshold lengths
/// already checked).
fn lac_sets_into<T: Prob>(
    probs: &[T],
    k: usize,
    q: Thresholds<'_>,
    out: &mut [MaybeUninit<bool>],
    rows: usize,
    store: Store,
) -> Vec<Option<usize>> {
    let floors: Vec<T> = match q {
        Thresholds::Single(t) => vec![T::lac_floor(t)],
        Thresholds::PerClass(v) | Thresholds::PerRow(v) => v.iter().map(|&t| T::lac_floor(t)).collect(),
    };
    let floor = match q {
        Thresholds::Single(_) => LacFloor::Single(floors[0]),
        Thresholds::PerClass(_) => LacFloor::PerClass(&floors),
        Thresholds::PerRow(_) => LacFloor::PerRow(&floors),
    };
    crate::parallel::map_chunks_mut(out, rows * k, |c, o| {
        let start = c * rows * k;
        let p = &probs[start..start + o.len()];
        lac_compare_dispatch(p, o, &floor, k, c * rows, store)
            .then(|| first_bad(p).map(|i| start + i))
            .flatten()
    })
}

/// The largest input (bytes) of the LAC set pass that runs on the calling thread alone, its bools
/// stored through the cache.
const LAC_SERIAL_BYTES: usize = 16 << 20;

/// All of `o` set to `false`, as initialised bools.
fn init_false(o: &mut [MaybeUninit<bool>]) -> &mut [bool] {
    o.fill(MaybeUninit::new(false));
    // SAFETY: every element was just initialised, and MaybeUninit<bool> has bool's layout.
    unsafe { &mut *(std::ptr::from_mut(o) as *mut [bool]) }
}

/// [`predict_sets`] written into `out` (n × k slots, e.g. a new NumPy array's buffer, which need
/// not be initialised): on `Ok` every slot holds its bool; on an error, `out` is unspecified.
#[allow(clippy::too_many_arguments)]
pub fn predict_sets_into<T: Prob>(
    probs: &[T],
    n: usize,
    k: usize,
    score: Score,
    last: LastLabel,
    q: Thresholds<'_>,
    seed: u64,
    out: &mut [MaybeUninit<bool>],
) -> Result<()> {
    check_shape(probs, n, k)?;
    check_same_len("out", out.len(), n * k)?;
    match q {
        Thresholds::PerClass(v) => check_same_len("thresholds", v.len(), k)?,
        Thresholds::PerRow(v) => check_same_len("thresholds", v.len(), n)?,
        Thresholds::Single(_) => {}
    }
    const ROWS: usize = 1024;
    let bad = if score == Score::Lac {
        // Input that fits a last-level cache is one chunk, compared on the calling thread: a
        // second thread gains nothing there (the pass is bound by the cache's bandwidth) and
        // its wake-up costs milliseconds on a loaded machine. Larger input is bound by memory
        // bandwidth, which a second core adds to; its bools are streamed past the cache, which
        // the input evicts them from before the caller reads them anyway (cached stores would
        // first read each output line from memory: 1e5 x 100 float32, 2.58 -> 2.31 ms thread
        // CPU on Zen 3; float64 4.62 -> 4.41 ms).
        let (rows, store) = if std::mem::size_of_val(probs) <= LAC_SERIAL_BYTES {
            (n, Store::Cached)
        } else {
            (ROWS, Store::Stream)
        };
        lac_sets_into(probs, k, q, out, rows, store)
    } else {
        let u = if last == LastLabel::Randomized {
            uniforms(n, seed)
        } else {
            Vec::new()
        };
        // The [0, 1] check is fused into the same pass over the rows (one read of probs).
        crate::parallel::map_chunks_mut(out, ROWS * k, |c, o| {
            let p = &probs[c * ROWS * k..c * ROWS * k + o.len()];
            if any_outside_unit(p) {
                return first_bad(p).map(|i| c * ROWS * k + i);
            }
            let o = init_false(o);
            let mut order: Vec<usize> = Vec::with_capacity(k);
            let mut prow = Vec::with_capacity(k);
            for (r, (orow, row)) in o.chunks_exact_mut(k).zip(p.chunks_exact(k)).enumerate() {
                let i = c * ROWS + r;
                let qrow = |y: usize| match q {
                    Thresholds::Single(t) => t,
                    Thresholds::PerClass(v) => v[y],
                    Thresholds::PerRow(v) => v[i],
                };
                widen(row, &mut prow);
                let ui = if u.is_empty() { 1.0 } else { u[i] };
                order.clear();
                order.extend(0..k);
                // descending probability, ties by class index (the order row_score uses)
                order.sort_by(|&a, &b| prow[b].total_cmp(&prow[a]).then(a.cmp(&b)));
                adaptive_row(&prow, &order, score, last, ui, qrow, orow);
            }
            None
        })
    };
    match bad.into_iter().flatten().min() {
        Some(i) => Err(bad_prob(probs, i, k)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::lac::run_kernel;
    use super::*;

    const P: [f64; 8] = [0.5, 0.3, 0.15, 0.05, 0.1, 0.2, 0.3, 0.4];

    #[test]
    fn lac_scores_and_sets() {
        let s = calibration_scores(&P, 2, 4, &[1, 3], Score::Lac, 0).unwrap();
        assert!((s[0] - 0.7).abs() < 1e-15 && (s[1] - 0.6).abs() < 1e-15);
        let m = predict_sets(&P, 2, 4, Score::Lac, LastLabel::Include, Thresholds::Single(0.7), 0).unwrap();
        assert_eq!(m, vec![true, true, false, false, false, false, true, true]);
    }

    /// Tiny deterministic generator for the property tests below.
    fn lcg(state: &mut u64) -> f64 {
        *state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (*state >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The LAC sets by definition, the score against the threshold: 1 − p[i, j] ≤ q̂ (of the row
    /// or class), in float64.
    fn exact_lac_sets(p: &[f64], k: usize, q: Thresholds<'_>) -> Vec<bool> {
        (p.iter().enumerate())
            .map(|(j, &x)| {
                1.0 - x
                    <= match q {
                        Thresholds::Single(t) => t,
                        Thresholds::PerClass(v) => v[j % k],
                        Thresholds::PerRow(v) => v[j / k],
                    }
            })
            .collect()
    }

    #[test]
    fn lac_floor_decides_exactly_as_the_score() {
        let mut st = 7u64;
        let mut ts: Vec<f64> = (0..300).map(|_| lcg(&mut st)).collect();
        ts.extend([
            0.0,
            1.0,
            -0.0,
            1e-300,
            0.5,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -1.0,
            2.0,
        ]);
        for &t in &ts {
            let f64_floor = f64::lac_floor(t);
            let f32_floor = f32::lac_floor(t);
            // near the floor (every neighbour within a few ulps) and at random points
            let mut ps: Vec<f64> = (0..200).map(|_| lcg(&mut st)).collect();
            ps.extend([0.0, -0.0, 1.0, 1.0 - t]);
            let mut x = if f64_floor.is_finite() { f64_floor } else { 1.0 };
            for _ in 0..4 {
                x = f64::from_bits(x.to_bits().saturating_sub(1));
            }
            for _ in 0..9 {
                ps.push(x);
                x = f64::from_bits(x.to_bits() + 1);
            }
            for &p in ps.iter().filter(|p| (0.0..=1.0).contains(*p)) {
                assert_eq!(p >= f64_floor, 1.0 - p <= t, "f64 p={p:e} t={t:e}");
                let p32 = p as f32;
                assert_eq!(p32 >= f32_floor, 1.0 - f64::from(p32) <= t, "f32 p={p32:e} t={t:e}");
            }
        }
    }

    #[test]
    fn lac_sets_of_float32_equal_those_of_the_widened_values() {
        let (n, k) = (2100, 7); // more than one chunk of rows
        let mut st = 3u64;
        let p32: Vec<f32> = (0..n * k).map(|_| lcg(&mut st) as f32).collect();
        let p64: Vec<f64> = p32.iter().map(|&x| f64::from(x)).collect();
        let labels: Vec<i64> = (0..n as i64).map(|i| i % k as i64).collect();
        let s32 = calibration_scores(&p32, n, k, &labels, Score::Lac, 0).unwrap();
        assert_eq!(s32, calibration_scores(&p64, n, k, &labels, Score::Lac, 0).unwrap());
        let per_class: Vec<f64> = s32[..k].to_vec();
        for q in [
            Thresholds::Single(s32[5]),
            Thresholds::PerClass(&per_class),
            Thresholds::PerRow(&s32),
        ] {
            let m = predict_sets(&p32, n, k, Score::Lac, LastLabel::Include, q, 0).unwrap();
            assert_eq!(
                m,
                predict_sets(&p64, n, k, Score::Lac, LastLabel::Include, q, 0).unwrap()
            );
            assert_eq!(m, exact_lac_sets(&p64, k, q));
            // the scalar loop and the dispatched (vector) loop agree
            let floors: Vec<f32> = per_class.iter().map(|&t| f32::lac_floor(t)).collect();
            let fl = LacFloor::PerClass(&floors);
            let (a, bad_a) = run_kernel(|p, o, _| lac_compare(p, o, &fl, k, 0, Store::Cached), &p32, 0.0);
            let (b, bad_b) = run_kernel(
                |p, o, _| lac_compare_dispatch(p, o, &fl, k, 0, Store::Cached),
                &p32,
                0.0,
            );
            assert!(!bad_a && !bad_b);
            assert_eq!(a, b);
        }
        // a bad value far from any label is found by the sets pass, with its index
        let mut bad = p32.clone();
        bad[1500 * k + 3] = f32::NAN;
        let e = predict_sets(&bad, n, k, Score::Lac, LastLabel::Include, Thresholds::Single(0.5), 0).unwrap_err();
        assert!(e.to_string().contains("(1500, 3)"), "{e}");
        bad[1500 * k + (1500 % k)] = 1.5;
        let e = calibration_scores(&bad, n, k, &labels, Score::Lac, 0).unwrap_err();
        assert!(e.to_string().contains(&format!("(1500, {})", 1500 % k)), "{e}");
    }

    /// The LAC pass gives the same sets and the same first bad index whatever the chunking (one
    /// chunk on the calling thread, or many, in parallel) and the thread count, for every kind
    /// of threshold.
    #[test]
    fn lac_sets_do_not_depend_on_the_chunking() {
        let (n, k) = (3001, 13);
        let mut st = 17u64;
        let p: Vec<f64> = (0..n * k).map(|_| lcg(&mut st)).collect();
        let per_class: Vec<f64> = (0..k).map(|_| lcg(&mut st)).collect();
        let per_row: Vec<f64> = (0..n).map(|_| lcg(&mut st)).collect();
        let sets = |p: &[f64], q, rows, threads| {
            let mut out = vec![MaybeUninit::new(true); n * k];
            let bad = crate::parallel::with_threads(threads, || lac_sets_into(p, k, q, &mut out, rows, Store::Cached))
                .unwrap()
                .into_iter()
                .flatten()
                .min();
            // SAFETY: lac_sets_into wrote every slot (and each was initialised before anyway).
            (
                out.iter().map(|m| unsafe { m.assume_init() }).collect::<Vec<bool>>(),
                bad,
            )
        };
        for q in [
            Thresholds::Single(0.6),
            Thresholds::PerClass(&per_class),
            Thresholds::PerRow(&per_row),
        ] {
            let (want, bad) = sets(&p, q, n, None);
            assert_eq!(bad, None);
            assert_eq!(want, exact_lac_sets(&p, k, q));
            let mut with_bad = p.clone();
            with_bad[2000 * k + 5] = 1.5;
            with_bad[2500 * k] = f64::NAN;
            for threads in [None, Some(1), Some(2), Some(3)] {
                for rows in [1, 7, 1024, n] {
                    assert_eq!(
                        sets(&p, q, rows, threads),
                        (want.clone(), None),
                        "rows={rows} {threads:?}"
                    );
                    let found = sets(&with_bad, q, rows, threads).1;
                    assert_eq!(found, Some(2000 * k + 5), "rows={rows} {threads:?}");
                }
            }
        }
    }

    /// The parallel LAC gather gives the scores of the definition, and as its error the first bad
    /// label (before any bad probability, wherever either lies) or else the first bad
    /// probability, whatever the thread count, at sizes either side of its chunk of rows.
    #[test]
    fn lac_gather_is_exact_for_any_thread_count() {
        let k = 7;
        let mut st = 29u64;
        for n in [1, 2, GATHER_ROWS - 1, GATHER_ROWS, GATHER_ROWS + 1, 3 * GATHER_ROWS + 5] {
            let p: Vec<f32> = (0..n * k).map(|_| lcg(&mut st) as f32).collect();
            let labels: Vec<u16> = (0..n).map(|_| (lcg(&mut st) * k as f64) as u16).collect();
            let want: Vec<f64> = (labels.iter().enumerate())
                .map(|(i, &y)| 1.0 - f64::from(p[i * k + usize::from(y)]))
                .collect();
            let (last, first) = (n - 1, n / 3);
            let mut bad_labels = labels.clone();
            bad_labels[last] = 7;
            let mut bad_p = p.clone();
            bad_p[first * k + usize::from(labels[first])] = f32::NAN;
            bad_p[last * k + usize::from(labels[last])] = -0.5;
            for threads in [None, Some(1), Some(2), Some(3)] {
                let scores = |p: &[f32], y: &[u16]| {
                    crate::parallel::with_threads(threads, || calibration_scores(p, n, k, y, Score::Lac, 0)).unwrap()
                };
                assert_eq!(scores(&p, &labels).unwrap(), want, "n={n} {threads:?}");
                let e = scores(&p, &bad_labels).unwrap_err().to_string();
                assert!(e.contains(&format!("label 7 at index {last} ")), "{e}");
                let e = scores(&bad_p, &bad_labels).unwrap_err().to_string();
                assert!(e.starts_with("labels:"), "{e}");
                let e = scores(&bad_p, &labels).unwrap_err().to_string();
                assert!(
                    e.contains(&format!("at index ({first}, {})", labels[first])),
                    "n={n} {e}"
                );
            }
        }
    }

    /// Streamed bools are the exact sets, in one chunk or in chunks of rows that start off any
    /// 32-byte boundary (k odd), with the first bad value found.
    #[test]
    fn streamed_lac_sets_are_exact() {
        let (n, k) = (3001, 101);
        let mut st = 23u64;
        let p: Vec<f32> = (0..n * k).map(|_| lcg(&mut st) as f32).collect();
        let p64: Vec<f64> = p.iter().map(|&x| f64::from(x)).collect();
        let q = Thresholds::Single(0.55);
        let want = exact_lac_sets(&p64, k, q);
        let mut bad = p.clone();
        bad[n * k - 40] = -0.5;
        bad[n * k - 3] = f32::NAN;
        for rows in [n, 7, 1024] {
            let mut out = vec![MaybeUninit::new(true); n * k];
            let found = lac_sets_into(&p, k, q, &mut out, rows, Store::Stream);
            assert_eq!(found.into_iter().flatten().min(), None);
            // SAFETY: every slot was initialised (and then written by lac_sets_into).
            let got: Vec<bool> = out.iter().map(|m| unsafe { m.assume_init() }).collect();
            assert!(got == want, "rows={rows}");
            let found = lac_sets_into(&bad, k, q, &mut out, rows, Store::Stream);
            assert_eq!(found.into_iter().flatten().min(), Some(n * k - 40), "rows={rows}");
        }
    }

    #[test]
    fn excluding_the_last_label_matches_the_calibration_score() {
        // Without the crossing label, y is in the set exactly when its own (non-randomised)
        // calibration score is within q, except the top class, which is always in.
        let aps = Score::Aps { randomized: false };
        let raps = Score::Raps {
            randomized: false,
            lambda: 0.1,
            k_reg: 1,
        };
        for score in [aps, raps] {
            for y in 0..4 {
                let s = calibration_scores(&P[..4], 1, 4, &[y], score, 0).unwrap()[0];
                let sets =
                    |q| predict_sets(&P[..4], 1, 4, score, LastLabel::Exclude, Thresholds::Single(q), 0).unwrap();
                assert!(sets(s)[y as usize]);
                assert_eq!(sets(s - 1e-12)[y as usize], y == 0);
            }
        }
        // APS of class 2 in row 0: 0.5 + 0.3 + 0.15
        let s = calibration_scores(&P[..4], 1, 4, &[2], aps, 0).unwrap()[0];
        assert!((s - 0.95).abs() < 1e-12);
    }

    #[test]
    fn including_the_last_label_adds_the_crossing_class_and_is_never_empty() {
        let aps = Score::Aps { randomized: false };
        let sets = |last, q| predict_sets(&P[..4], 1, 4, aps, last, Thresholds::Single(q), 0).unwrap();
        // cumulative masses 0.5, 0.8, 0.95, 1.0
        assert_eq!(sets(LastLabel::Include, 0.85), vec![true, true, true, false]);
        assert_eq!(sets(LastLabel::Exclude, 0.85), vec![true, true, false, false]);
        assert_eq!(sets(LastLabel::Include, 0.8), vec![true, true, false, false]);
        for last in [LastLabel::Include, LastLabel::Exclude] {
            assert_eq!(sets(last, 0.0), vec![true, false, false, false]);
        }
        assert_eq!(sets(LastLabel::Randomized, 0.0), vec![false; 4]);
        // q past the RAPS penalties: every class
        let raps = Score::Raps {
            randomized: false,
            lambda: 0.5,
            k_reg: 0,
        };
        let all = predict_sets(
            &P[..4],
            1,
            4,
            raps,
            LastLabel::Include,
            Thresholds::Single(f64::INFINITY),
            0,
        )
        .unwrap();
        assert_eq!(all, vec![true; 4]);
    }

    #[test]
    fn tied_classes_enter_together() {
        // class 1 crosses 0.65 and class 2 ties with it; without the crossing class, only 0 is in
        let p = [0.4, 0.3, 0.3];
        let aps = Score::Aps { randomized: false };
        let sets = |last| predict_sets(&p, 1, 3, aps, last, Thresholds::Single(0.65), 0).unwrap();
        assert_eq!(sets(LastLabel::Include), vec![true, true, true]);
        assert_eq!(sets(LastLabel::Exclude), vec![true, false, false]);
    }

    #[test]
    fn randomized_sets_use_the_same_uniforms() {
        let sc = Score::Aps { randomized: true };
        let s = calibration_scores(&P, 2, 4, &[2, 0], sc, 9).unwrap();
        let m = predict_sets(&P, 2, 4, sc, LastLabel::Randomized, Thresholds::PerRow(&s), 9).unwrap();
        assert!(m[2] && m[4]);
    }

    #[test]
    fn bad_input() {
        assert!(calibration_scores(&P, 2, 4, &[1, 4], Score::Lac, 0).is_err());
        assert!(calibration_scores(&P, 2, 4, &[1], Score::Lac, 0).is_err());
        assert!(calibration_scores(&P, 3, 4, &[1, 1, 1], Score::Lac, 0).is_err());
        assert!(predict_sets(
            &P,
            2,
            4,
            Score::Lac,
            LastLabel::Include,
            Thresholds::PerClass(&[0.1]),
            0
        )
        .is_err());
        assert!("maybe".parse::<LastLabel>().is_err());
        assert!("foo".parse::<ScoreName>().is_err());
        assert!(Score::new(ScoreName::Raps, false, -1.0, 0).is_err());
        let mut bad = P;
        bad[5] = 1.5;
        // LAC reads (and checks) the label's column; APS every column
        assert!(matches!(
            calibration_scores(&bad, 2, 4, &[0, 1], Score::Lac, 0),
            Err(CredoError::InvalidArgument { .. })
        ));
        assert!(matches!(
            calibration_scores(&bad, 2, 4, &[0, 0], Score::Aps { randomized: false }, 0),
            Err(CredoError::InvalidArgument { .. })
        ));
        bad[5] = f64::NAN;
        let e = predict_sets(&bad, 2, 4, Score::Lac, LastLabel::Include, Thresholds::Single(0.5), 0).unwrap_err();
        assert!(
            matches!(e, CredoError::NonFinite { .. }) && e.to_string().contains("(1, 1)"),
            "{e}"
        );
    }
}
