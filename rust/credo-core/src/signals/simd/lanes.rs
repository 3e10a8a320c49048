//! The row kernel written once, over the lane operations of [`Lanes`].
//!
//! Each instruction set implements the operations on a zero-sized token (`x86_avx512.rs`,
//! `x86_avx2.rs`, `neon.rs`) that is only made inside that level's `#[target_feature]` entry
//! point; the operations are `#[inline(always)]`, so the generic loop, monomorphised in the entry
//! point, compiles to the level's own instructions (the benchmark in `benches/rust/signals.rs`
//! shows no cost against the per-level kernels this replaced).
//!
//! Per chunk of [`CHUNK_BYTES`]: one scan (per-lane top-1, top-2, first argmax, count above the
//! chosen logit, NaN/+inf flag), a horizontal max that updates the row's reference (running sums
//! rescaled when it grows), then Σe and Σe·t over the same chunk while it is in L1, so the row is
//! read from memory once. The two loops are functions of their own where registers are few
//! ([`ChunkLoops`]).

use super::exp::{EXP_CLAMP, EXP_FLUSH, LN2_HI, LN2_LO, LOG2E, P0, P1, P2, P3, P4, P5, SHIFTER};
use super::{merge_lanes, rescale, Logit, RowStats};
use crate::signals::exp64::EXP64_MIN;

/// Bytes per chunk: 8 KiB (2048 float32 or 1024 float64 lanes' worth) stays in L1 between the
/// scan and the sums.
pub(super) const CHUNK_BYTES: usize = 8192;
/// The widest lane count of any level (AVX-512 float32).
pub(super) const MAX_LANES: usize = 16;

/// The float type of a lane: float32 (float32, float16 and bfloat16 input) or float64.
pub(super) trait LaneFloat: Copy + PartialOrd + std::ops::Mul<Output = Self> + Into<f64> {
    const NEG_INF: Self;
    const NAN: Self;
    const ZERO: Self;
    /// e^t is exactly 0 below this t (the lanes' exponential would leave its normal range).
    const EXP_FLUSH: Self;
    /// Arguments of the exponential are clamped up to this, so that a masked `-inf` stays
    /// finite in e·t (and adds 0·t = 0).
    const EXP_CLAMP: Self;
    fn from_f64(x: f64) -> Self;
    fn is_finite(self) -> bool;
}

impl LaneFloat for f32 {
    const NEG_INF: Self = f32::NEG_INFINITY;
    const NAN: Self = f32::NAN;
    const ZERO: Self = 0.0;
    const EXP_FLUSH: Self = EXP_FLUSH;
    const EXP_CLAMP: Self = EXP_CLAMP;
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn is_finite(self) -> bool {
        f32::is_finite(self)
    }
}

impl LaneFloat for f64 {
    const NEG_INF: Self = f64::NEG_INFINITY;
    const NAN: Self = f64::NAN;
    const ZERO: Self = 0.0;
    const EXP_FLUSH: Self = EXP64_MIN;
    const EXP_CLAMP: Self = EXP64_MIN;
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn is_finite(self) -> bool {
        f64::is_finite(self)
    }
}

/// One instruction set's float lanes: the operations the row kernel is written in. A value of the
/// implementing type proves that the CPU runs these instructions.
pub(super) trait Lanes: Copy {
    type F: LaneFloat;
    /// `N` float lanes.
    type V: Copy;
    /// `N` index lanes.
    type I: Copy;
    /// One flag per lane.
    type M: Copy;
    /// Per-lane counts of entries above the chosen logit, drained every chunk.
    type Count: Copy;
    const N: usize;
    /// Whether [`Lanes::exp`] takes any t, NaN and `-inf` included, in the lanes not set in
    /// `keep` (it gives 0 there whatever they hold). Then the sums loop hands it t before the
    /// clamp, and the clamp (which only e·t needs) leaves the chain from load to sum that bounds
    /// the AVX2 loop.
    const EXP_ANY_T: bool = false;

    fn splat(self, x: Self::F) -> Self::V;
    fn add(self, a: Self::V, b: Self::V) -> Self::V;
    fn mul(self, a: Self::V, b: Self::V) -> Self::V;
    /// a·b + c, one rounding.
    fn mul_add(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// a·b − c, one rounding.
    fn mul_sub(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// c − a·b, one rounding.
    fn neg_mul_add(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    fn max(self, a: Self::V, b: Self::V) -> Self::V;
    fn min(self, a: Self::V, b: Self::V) -> Self::V;
    /// a > b (false where either is NaN).
    fn gt(self, a: Self::V, b: Self::V) -> Self::M;
    /// a ≥ b (false where either is NaN).
    fn ge(self, a: Self::V, b: Self::V) -> Self::M;
    /// The lanes holding NaN or `+inf`.
    fn nan_or_inf(self, x: Self::V) -> Self::M;
    fn or(self, a: Self::M, b: Self::M) -> Self::M;
    fn any(self, m: Self::M) -> bool;
    /// No lane set.
    fn none(self) -> Self::M;
    /// The lane numbers 0, 1, …, N − 1.
    fn iota(self) -> Self::I;
    /// Every index advanced by `N`.
    fn advance(self, i: Self::I) -> Self::I;
    /// `a` where `m` is set, else `b`.
    fn select(self, m: Self::M, a: Self::I, b: Self::I) -> Self::I;
    fn count_zero(self) -> Self::Count;
    /// Adds one to the count of each lane set in `m`.
    fn count(self, c: Self::Count, m: Self::M) -> Self::Count;
    fn total(self, c: Self::Count) -> u64;
    fn hmax(self, v: Self::V) -> Self::F;
    /// The sum of the lanes in float64.
    fn hsum(self, v: Self::V) -> f64;
    /// The lanes into `out[..N]`.
    fn store(self, v: Self::V, out: &mut [Self::F; MAX_LANES]);
    fn store_idx(self, i: Self::I, out: &mut [i64; MAX_LANES]);
    /// e^t for t in [`LaneFloat::EXP_CLAMP`, 0], exactly 0 in the lanes not set in `keep`.
    fn exp(self, t: Self::V, keep: Self::M) -> Self::V;
}

/// The operation float32 lanes add for [`exp_f32`].
pub(super) trait F32Lanes: Lanes<F = f32> {
    /// (1 + q)·2ⁿ as 2ⁿ·q + 2ⁿ (one rounding), for −127 ≤ n ≤ 0 given as `k`, a float whose
    /// low mantissa bits hold n + 127 (2⁻¹²⁷ as 0); 0 in the lanes not set in `keep`.
    fn scale_pow2(self, q: Self::V, k: Self::V, keep: Self::M) -> Self::V;
}

/// Loads `N` input elements widened to the lanes' float type.
pub(super) trait Load<L: Lanes>: Logit {
    /// # Safety
    /// `p` must point to `L::N` readable elements.
    unsafe fn load(l: L, p: *const Self) -> L::V;
}

/// Trait methods that are one intrinsic call, on a token that exists only where the CPU has the
/// instructions: `name(args) -> type = call;`.
macro_rules! intrinsics {
    ($($name:ident($($a:ident: $t:ty),*) -> $r:ty = $call:expr;)*) => {$(
        #[inline(always)]
        fn $name(self, $($a: $t),*) -> $r {
            // SAFETY: the token is only made where the CPU supports its instructions.
            unsafe { $call }
        }
    )*};
}
pub(super) use intrinsics;

/// The float32 lanes' exponential (see `exp.rs`: Cephes `expf`'s reduction and polynomial,
/// about 1 ulp), its dependency chain kept short. At AVX2 the sums loop is bound by the latency
/// of the chain each vector runs through (about 60 cycles from load to sum in the Horner form,
/// against about 7 cycles of multiply-add port time for 8 lanes): the out-of-order window holds
/// the operations of only a few vectors, so a vector took about the same time at either width,
/// and AVX2 1.65x the AVX-512 time for the sums alone. AVX-512 (double-pumped on Zen 4) is
/// bound by the ports instead. So n = round(t·log2e) comes from the shifter (k, whose low bits
/// hold n + 127, also makes 2ⁿ: no round, no conversion), the polynomial is evaluated in
/// Estrin's scheme (three steps deep instead of five) and 2ⁿ·(1 + q) is one multiply-add.
#[inline(always)]
pub(super) fn exp_f32<L: F32Lanes>(l: L, t: L::V, keep: L::M) -> L::V {
    let k = l.mul_add(t, l.splat(LOG2E), l.splat(SHIFTER));
    let n = l.add(k, l.splat(-SHIFTER));
    let r = l.neg_mul_add(n, l.splat(LN2_HI), t);
    let r = l.neg_mul_add(n, l.splat(LN2_LO), r);
    let r2 = l.mul(r, r);
    let a = l.mul_add(l.splat(P0), r, l.splat(P1));
    let b = l.mul_add(l.splat(P2), r, l.splat(P3));
    let c = l.mul_add(l.splat(P4), r, l.splat(P5));
    let y = l.mul_add(l.mul_add(a, r2, b), r2, c);
    // q = e^r − 1.
    let q = l.mul_add(y, r2, r);
    l.scale_pow2(q, k, keep)
}

/// Per-lane scan state carried across the whole row.
pub(super) struct Scan<L: Lanes> {
    m1: L::V,
    m2: L::V,
    idx: L::I,
    cur: L::I,
    chosen: L::V,
    greater: L::Count,
    bad: L::M,
}

#[inline(always)]
fn scan_step<L: Lanes>(l: L, st: &mut Scan<L>, x: L::V) {
    st.bad = l.or(st.bad, l.nan_or_inf(x));
    st.idx = l.select(l.gt(x, st.m1), st.cur, st.idx);
    st.m2 = l.max(st.m2, l.min(st.m1, x));
    st.m1 = l.max(st.m1, x);
    st.greater = l.count(st.greater, l.gt(x, st.chosen));
    st.cur = l.advance(st.cur);
}

/// Adds e^t and e^t·t for t = x·inv_t − m (one rounding) to the lane sums; entries below the
/// flush (masked `-inf` logits among them) add exactly 0.
#[inline(always)]
fn exp_step<L: Lanes>(l: L, x: L::V, inv_t: L::V, m: L::V, sv: &mut L::V, wv: &mut L::V) {
    let t = l.mul_sub(x, inv_t, m);
    let keep = l.ge(t, l.splat(L::F::EXP_FLUSH));
    // The same t where `keep` is set: EXP_FLUSH lies above EXP_CLAMP.
    let clamped = l.max(t, l.splat(L::F::EXP_CLAMP));
    let e = l.exp(if L::EXP_ANY_T { t } else { clamped }, keep);
    *sv = l.add(*sv, e);
    *wv = l.mul_add(e, clamped, *wv);
}

/// The scan of `x`, a whole number of vectors, into `st`.
#[inline(always)]
pub(super) fn scan<L: Lanes, T: Load<L>>(l: L, st: &mut Scan<L>, x: &[T]) {
    debug_assert_eq!(x.len() % L::N, 0);
    let p = x.as_ptr();
    let mut i = 0;
    while i < x.len() {
        // SAFETY: i + N <= x.len().
        scan_step(l, st, unsafe { T::load(l, p.add(i)) });
        i += L::N;
    }
}

/// Asks for the cache line at `p` ahead of its use: a hint, which never faults, so `p` may lie
/// past the row. aarch64 has no stable prefetch intrinsic; its hardware prefetchers are left to
/// it.
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch reads nothing and never faults; SSE is part of every x86_64 CPU.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Adds the lane sums (Σe, Σe·t) of `x`, a whole number of vectors, against the reference `m`
/// to `(sv, wv)`.
#[inline(always)]
pub(super) fn sums<L: Lanes, T: Load<L>>(
    l: L,
    x: &[T],
    inv_t: L::V,
    m: L::V,
    (mut sv, mut wv): (L::V, L::V),
) -> (L::V, L::V) {
    debug_assert_eq!(x.len() % L::N, 0);
    let p = x.as_ptr();
    let mut i = 0;
    let ahead = CHUNK_BYTES / std::mem::size_of::<L::F>();
    while i < x.len() {
        // The next chunk, for the scan that follows: without the hint the memory stands idle
        // while this loop runs from L1 (about 5% of the row's time at either x86 level).
        prefetch(p.wrapping_add(i + ahead));
        // SAFETY: i + N <= x.len().
        exp_step(l, unsafe { T::load(l, p.add(i)) }, inv_t, m, &mut sv, &mut wv);
        i += L::N;
    }
    (sv, wv)
}

/// The lane sums (Σe, Σe·t) carried from chunk to chunk.
pub(super) type Acc<L> = (<L as Lanes>::V, <L as Lanes>::V);

/// A level's two loops over a chunk, [`scan`] and [`sums`], compiled as functions of their own
/// where registers are short (AVX2, NEON) or inlined where they are not (AVX-512's 32), as
/// [`chunk_loops`] says per level. Inlined into the row function, with the scan state, the
/// exponential's constants and the sums live at once, they overflow the sixteen AVX2 registers,
/// and which values the compiler spilled changed from one build to the next: the scan's top-1
/// or top-2 in memory puts a store-to-load round trip on the loop-carried chain of every vector
/// (AVX2 float32 on [256, 32000] took 7.9 ms in the wheel and 17.7 ms in another binary of the
/// same source, against 3.5 ms at AVX-512). Apart, each loop has the registers to itself, in
/// every build; the calls cost a few per 8 KiB chunk.
pub(super) trait ChunkLoops<T>: Lanes {
    fn scan(self, st: &mut Scan<Self>, x: &[T]);
    fn sums(self, x: &[T], inv_t: Self::V, m: Self::V, acc: Acc<Self>) -> Acc<Self>;
}

/// Implements [`ChunkLoops`] for a level's lanes (a type name, with its lifetime if it has one),
/// the loops compiled with the level's `features`, or (`inline`) inlined into the row function.
macro_rules! chunk_loops {
    (inline $name:ident $(<$lt:lifetime>)?) => {
        impl<$($lt,)? T: lanes::Load<$name$(<$lt>)?>> lanes::ChunkLoops<T> for $name$(<$lt>)? {
            #[inline(always)]
            fn scan(self, st: &mut lanes::Scan<Self>, x: &[T]) {
                lanes::scan(self, st, x);
            }
            #[inline(always)]
            fn sums(self, x: &[T], inv_t: Self::V, m: Self::V, acc: lanes::Acc<Self>) -> lanes::Acc<Self> {
                lanes::sums(self, x, inv_t, m, acc)
            }
        }
    };
    ($features:literal, $name:ident $(<$lt:lifetime>)?) => {
        impl<$($lt,)? T: lanes::Load<$name$(<$lt>)?>> lanes::ChunkLoops<T> for $name$(<$lt>)? {
            // Not inlined into the row function (rustc drops `inline(never)` from a
            // `target_feature` function, and the inner function cannot be inlined here, where
            // the features are not enabled).
            #[inline(never)]
            fn scan(self, st: &mut lanes::Scan<Self>, x: &[T]) {
                #[target_feature(enable = $features)]
                fn scan<$($lt,)? T: lanes::Load<$name$(<$lt>)?>>(l: $name$(<$lt>)?, st: &mut lanes::Scan<$name$(<$lt>)?>, x: &[T]) {
                    lanes::scan(l, st, x);
                }
                // SAFETY: the token is only made where the CPU supports its instructions.
                unsafe { scan(self, st, x) }
            }
            #[inline(never)]
            fn sums(self, x: &[T], inv_t: Self::V, m: Self::V, acc: lanes::Acc<Self>) -> lanes::Acc<Self> {
                #[target_feature(enable = $features)]
                fn sums<$($lt,)? T: lanes::Load<$name$(<$lt>)?>>(
                    l: $name$(<$lt>)?,
                    x: &[T],
                    inv_t: <$name$(<$lt>)? as lanes::Lanes>::V,
                    m: <$name$(<$lt>)? as lanes::Lanes>::V,
                    acc: lanes::Acc<$name$(<$lt>)?>,
                ) -> lanes::Acc<$name$(<$lt>)?> {
                    lanes::sums(l, x, inv_t, m, acc)
                }
                // SAFETY: as above.
                unsafe { sums(self, x, inv_t, m, acc) }
            }
        }
    };
}
pub(super) use chunk_loops;

/// The statistics of one row (see [`RowStats`]) in the lanes of `l`, scaled by `inv_t`.
#[inline(always)]
pub(super) fn row<L: ChunkLoops<T>, T: Load<L>>(l: L, row: &[T], inv_t: L::F, chosen: Option<usize>) -> RowStats {
    debug_assert!(L::N <= MAX_LANES);
    let n = row.len();
    let chunk = CHUNK_BYTES / std::mem::size_of::<L::F>();
    let cv = chosen.map_or(L::F::NAN, |c| L::F::from_f64(row[c].to_f64()));
    let mut st = Scan::<L> {
        m1: l.splat(L::F::NEG_INF),
        m2: l.splat(L::F::NEG_INF),
        // A lane's index is read only once the lane has held a value above -inf.
        idx: l.iota(),
        cur: l.iota(),
        chosen: l.splat(cv),
        greater: l.count_zero(),
        bad: l.none(),
    };
    let vinv = l.splat(inv_t);
    let mut tail = [T::NEG_INF; MAX_LANES];
    let (mut m, mut s, mut w) = (L::F::NEG_INF, 0.0f64, 0.0f64);
    let mut greater = 0u64;
    let mut start = 0;
    while start < n {
        let end = (start + chunk).min(n);
        let full = start + (end - start) / L::N * L::N;
        let whole = &row[start..full];
        let has_tail = full < end;
        if has_tail {
            tail.fill(T::NEG_INF);
            tail[..end - full].copy_from_slice(&row[full..end]);
        }
        let tail = &tail[..L::N];
        l.scan(&mut st, whole);
        if has_tail {
            l.scan(&mut st, tail);
        }
        // Drain the lane counters every chunk (32-bit lanes cannot overflow within one).
        greater += l.total(st.greater);
        st.greater = l.count_zero();
        let cm = l.hmax(st.m1) * inv_t;
        if cm > m {
            rescale(&mut s, &mut w, m.into(), cm.into());
            m = cm;
        }
        // A non-finite reference (every entry -inf so far, x/T overflowing, or +inf) adds
        // nothing; the caller reports such rows.
        if m.is_finite() {
            let vm = l.splat(m);
            let mut acc = l.sums(whole, vinv, vm, (l.splat(L::F::ZERO), l.splat(L::F::ZERO)));
            if has_tail {
                acc = l.sums(tail, vinv, vm, acc);
            }
            s += l.hsum(acc.0);
            w += l.hsum(acc.1);
        }
        start = end;
    }
    let (mut m1, mut m2, mut idx) = (
        [L::F::NEG_INF; MAX_LANES],
        [L::F::NEG_INF; MAX_LANES],
        [0i64; MAX_LANES],
    );
    l.store(st.m1, &mut m1);
    l.store(st.m2, &mut m2);
    l.store_idx(st.idx, &mut idx);
    let (max, second, argmax) = merge_lanes(&m1[..L::N], &m2[..L::N], &idx[..L::N]);
    RowStats {
        max,
        second,
        argmax,
        m: m.into(),
        inv_t: inv_t.into(),
        s,
        w,
        greater,
        bad: l.any(st.bad),
    }
}
