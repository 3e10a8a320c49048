//! The row kernel written once, over the lane operations of [`Lanes`].
//!
//! Each instruction set implements the operations on a zero-sized token (`x86_avx512.rs`,
//! `x86_avx2.rs`, `neon.rs`) that is only made inside that level's `#[target_feature]` entry
//! point; the operations are `#[inline(always)]`, so the generic loop, monomorphised in the entry
//! point, compiles to the level's own instructions (the benchmark in `benches/rust/signals.rs`
//! shows no cost against the per-level kernels this replaced).
//!
//! Per chunk of [`CHUNK_BYTES`]: one scan (per-lane top-1 and top-2, count above the chosen
//! logit, NaN flag), a horizontal max that updates the row's reference (running sums rescaled
//! when it grows; the chunk where it last grew holds the argmax, found once the row is scanned,
//! see [`row`]), then Σe and Σe·t over the same chunk while it is in L1, so the row is read from
//! memory once. The two loops are functions of their own where registers are few
//! ([`ChunkLoops`]).

use super::exp::{EXP_CLAMP, LN2, LOG2E, P0, P1, P2, P3, P4, SHIFTER};
use super::{merge_lanes, rescale, Logit, RowStats};

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
    const ONE: Self;
    fn from_f64(x: f64) -> Self;
    fn is_finite(self) -> bool;
}

impl LaneFloat for f32 {
    const NEG_INF: Self = f32::NEG_INFINITY;
    const NAN: Self = f32::NAN;
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
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
    const ONE: Self = 1.0;
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
    /// One flag per lane.
    type M: Copy;
    /// Per-lane counts of entries above the chosen logit, drained every chunk.
    type Count: Copy;
    const N: usize;

    fn splat(self, x: Self::F) -> Self::V;
    fn add(self, a: Self::V, b: Self::V) -> Self::V;
    /// a − b.
    fn sub(self, a: Self::V, b: Self::V) -> Self::V;
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
    /// The lanes where `a` or `b` is NaN.
    fn unordered(self, a: Self::V, b: Self::V) -> Self::M;
    fn or(self, a: Self::M, b: Self::M) -> Self::M;
    fn any(self, m: Self::M) -> bool;
    /// No lane set.
    fn none(self) -> Self::M;
    fn count_zero(self) -> Self::Count;
    /// Adds one to the count of each lane set in `m`.
    fn count(self, c: Self::Count, m: Self::M) -> Self::Count;
    fn total(self, c: Self::Count) -> u64;
    fn hmax(self, v: Self::V) -> Self::F;
    /// The sum of the lanes in float64.
    fn hsum(self, v: Self::V) -> f64;
    /// The lanes into `out[..N]`.
    fn store(self, v: Self::V, out: &mut [Self::F; MAX_LANES]);
}

/// The operation float32 lanes add for [`exp_f32`].
pub(super) trait F32Lanes: Lanes<F = f32> {
    /// (1 + q)·2ⁿ as 2ⁿ·q + 2ⁿ (one rounding), for −127 ≤ n ≤ 0 given as `k`, a float whose
    /// low mantissa bits hold n + 127 (2⁻¹²⁷ as 0).
    fn scale_pow2(self, q: Self::V, k: Self::V) -> Self::V;
}

/// Loads `N` input elements widened to the lanes' float type.
pub(super) trait Load<L: Lanes>: Logit {
    /// # Safety
    /// `p` must point to `L::N` readable elements.
    unsafe fn load(l: L, p: *const Self) -> L::V;

    /// The sums of a chunk of this type in float32 lanes: [`sums`], unless a level has a loop
    /// of its own for it (AVX2's float32).
    #[inline(always)]
    fn sums_loop<const UNIT: bool>(l: L, x: &[Self], inv_t: L::V, m: L::V, acc: Acc<L>) -> Acc<L>
    where
        L: F32Lanes,
    {
        sums::<L, Self, UNIT>(l, x, inv_t, m, acc)
    }
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

/// The float32 lanes' exponential (see `exp.rs`: one-constant Cody–Waite reduction, degree-6
/// polynomial, about 1 ulp), on t in [`EXP_CLAMP`, 0]: exactly 0 below `exp::EXP_FLUSH`
/// without a mask.
///
/// At AVX2 the sums loop is bound by the chain each vector runs through (load to sum, about 50
/// cycles), not by the multiply-add ports: each operation taken off the chain saved about a
/// cycle per 8 lanes, twice its port time (AVX-512, port-bound: half a cycle). So n =
/// round(t·log2e) comes from the shifter (k, whose low bits hold n + 127, also makes 2ⁿ: no
/// round, no conversion); the reduction is one multiply-add, as ln2's float32 rounding costs
/// less than t's own; the polynomial is Estrin's scheme and 2ⁿ·(1 + q) is one multiply-add. In
/// a loop of the sums alone, against the two-constant Cephes form (degree 7) masked by `keep`
/// that this replaced: the mask cost 9% of the AVX2 time, the degree 8%, the second ln2
/// constant 13% (2.80 -> 2.03 ns per 8 lanes; AVX-512 2.13 -> 1.62).
#[inline(always)]
pub(super) fn exp_f32<L: F32Lanes>(l: L, t: L::V) -> L::V {
    let k = exp_f32_k(l, t);
    l.scale_pow2(exp_f32_q(l, exp_f32_r(l, t, k)), k)
}

/// [`exp_f32`]'s k = t·log2e + shifter, whose low bits hold n = round(t·log2e) + 127.
#[inline(always)]
pub(super) fn exp_f32_k<L: F32Lanes>(l: L, t: L::V) -> L::V {
    l.mul_add(t, l.splat(LOG2E), l.splat(SHIFTER))
}

/// [`exp_f32`]'s r = t − n·ln2 from t and its k.
#[inline(always)]
pub(super) fn exp_f32_r<L: F32Lanes>(l: L, t: L::V, k: L::V) -> L::V {
    l.neg_mul_add(l.add(k, l.splat(-SHIFTER)), l.splat(LN2), t)
}

/// [`exp_f32`]'s q = e^r − 1.
#[inline(always)]
pub(super) fn exp_f32_q<L: F32Lanes>(l: L, r: L::V) -> L::V {
    let r2 = l.mul(r, r);
    let u = l.mul_add(l.splat(P3), r, l.splat(P4));
    let v = l.mul_add(l.splat(P0), r2, l.mul_add(l.splat(P1), r, l.splat(P2)));
    l.mul_add(l.mul_add(v, r2, u), r2, r)
}

/// Per-lane scan state carried across the whole row.
pub(super) struct Scan<L: Lanes> {
    m1: L::V,
    m2: L::V,
    chosen: L::V,
    greater: L::Count,
    nan: L::M,
}

/// Scans two vectors. Their top two per lane are merged into `m1`/`m2` as one pair (the
/// loop-carried chains take one operation per two vectors); the NaN flag takes one comparison
/// for both. With `CHOSEN`, the entries above the chosen logit are counted.
///
/// What the loop leaves out, since it would cost operations on every vector: the argmax (found
/// afterwards in one chunk, see [`row`]) and a `+inf` flag (a `+inf` stays in its lane's top-1,
/// so the row's maximum shows it; only a NaN could displace it, and a NaN flags the row anyway).
#[inline(always)]
fn scan_pair<L: Lanes, const CHOSEN: bool>(l: L, st: &mut Scan<L>, a: L::V, b: L::V) {
    st.nan = l.or(st.nan, l.unordered(a, b));
    // The top two of {m1 ≥ m2, hi ≥ lo}: max(m1, hi), and the larger of m2, lo, min(m1, hi).
    let hi = l.max(a, b);
    let lo = l.min(a, b);
    st.m2 = l.max(st.m2, l.max(lo, l.min(st.m1, hi)));
    st.m1 = l.max(st.m1, hi);
    if CHOSEN {
        st.greater = l.count(l.count(st.greater, l.gt(a, st.chosen)), l.gt(b, st.chosen));
    }
}

/// Adds e^t and e^t·t for t = x·inv_t − m (one rounding; x − m with `UNIT`) to the lane sums;
/// entries below the flush (masked `-inf` logits among them) add exactly 0.
#[inline(always)]
fn exp_step<L: F32Lanes, const UNIT: bool>(l: L, x: L::V, inv_t: L::V, m: L::V, sv: &mut L::V, wv: &mut L::V) {
    let t = clamped_t::<L, UNIT>(l, x, inv_t, m);
    let e = exp_f32(l, t);
    *sv = l.add(*sv, e);
    *wv = l.mul_add(e, t, *wv);
}

/// t = x·inv_t − m (one rounding), clamped so that a `-inf` (or NaN) stays finite in e·t, whose
/// e is 0 there. With `UNIT` (inv_t is 1) t = x − m ([`scaled_t`]).
#[inline(always)]
pub(super) fn clamped_t<L: F32Lanes, const UNIT: bool>(l: L, x: L::V, inv_t: L::V, m: L::V) -> L::V {
    l.max(scaled_t::<L, UNIT>(l, x, inv_t, m), l.splat(EXP_CLAMP))
}

/// x·inv_t − m in one rounding; with `UNIT`, where inv_t is 1, x − m: the same value (x·1 − m
/// rounded once is x − m rounded once), so the same bits, one multiply-add fewer a vector. The
/// sums loops are bound by their operations' throughput: at T = 1, the common case, the AVX2
/// float64 sums loop alone took 5% less time; rows [64, 128256] and [256, 32000], 1 thread,
/// this project's Zen 4: float32 5% less at AVX-512, float64 3-4% at AVX-512 and 1-2% at AVX2.
#[inline(always)]
pub(super) fn scaled_t<L: Lanes, const UNIT: bool>(l: L, x: L::V, inv_t: L::V, m: L::V) -> L::V {
    if UNIT {
        l.sub(x, m)
    } else {
        l.mul_sub(x, inv_t, m)
    }
}

/// The scan of `x`, a whole number of vectors, into `st` (entries above the chosen logit
/// counted with `CHOSEN`).
#[inline(always)]
pub(super) fn scan<L: Lanes, T: Load<L>, const CHOSEN: bool>(l: L, st: &mut Scan<L>, x: &[T]) {
    debug_assert_eq!(x.len() % L::N, 0);
    let p = x.as_ptr();
    let mut i = 0;
    while i + 2 * L::N <= x.len() {
        // SAFETY: i + 2N <= x.len().
        let (a, b) = unsafe { (T::load(l, p.add(i)), T::load(l, p.add(i + L::N))) };
        scan_pair::<L, CHOSEN>(l, st, a, b);
        i += 2 * L::N;
    }
    if i < x.len() {
        // An odd vector pairs with -inf, which is neither a top-1, a NaN nor above any logit.
        // SAFETY: i + N <= x.len().
        let a = unsafe { T::load(l, p.add(i)) };
        scan_pair::<L, CHOSEN>(l, st, a, l.splat(L::F::NEG_INF));
    }
}

/// The first index in `x` that holds `top`, where nothing in `x` lies above it (None only where
/// a NaN in the row made `top` meaningless).
#[inline(always)]
fn first_index<L: Lanes, T: Load<L>>(l: L, x: &[T], top: L::F) -> Option<usize> {
    let full = x.len() / L::N * L::N;
    let p = x.as_ptr();
    let vt = l.splat(top);
    let mut lanes = [L::F::NEG_INF; MAX_LANES];
    let mut i = 0;
    while i < full {
        // SAFETY: i + N <= full <= x.len().
        let v = unsafe { T::load(l, p.add(i)) };
        // Nothing lies above `top`: x ≥ top is x = top.
        if l.any(l.ge(v, vt)) {
            l.store(v, &mut lanes);
            return lanes[..L::N].iter().position(|&y| y >= top).map(|j| i + j);
        }
        i += L::N;
    }
    // Widening to float64 is exact for every input type and lane float.
    let top: f64 = top.into();
    x[full..].iter().position(|&y| y.to_f64() == top).map(|j| full + j)
}

/// The entries of `x`, a whole number of vectors (one chunk at most), above `c`.
#[inline(always)]
fn count_above<L: Lanes, T: Load<L>>(l: L, x: &[T], c: L::V) -> u64 {
    let p = x.as_ptr();
    let mut n = l.count_zero();
    let mut i = 0;
    while i < x.len() {
        // SAFETY: i + N <= x.len().
        n = l.count(n, l.gt(unsafe { T::load(l, p.add(i)) }, c));
        i += L::N;
    }
    l.total(n)
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
/// to `(sv, wv)`, in float32 lanes (the float64 lanes' loops are their levels' `sums_f64`);
/// `UNIT` where inv_t is 1 ([`scaled_t`]).
#[inline(always)]
pub(super) fn sums<L: F32Lanes, T: Load<L>, const UNIT: bool>(
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
        exp_step::<L, UNIT>(l, unsafe { T::load(l, p.add(i)) }, inv_t, m, &mut sv, &mut wv);
        i += L::N;
    }
    (sv, wv)
}

/// The vectors in flight in [`sums_pipelined`]: the oldest through `poly`, the next reduced,
/// the two newest through `arg`.
#[cfg(target_arch = "x86_64")]
pub(super) struct InFlight<A, R, Q> {
    pub(super) oldest: Q,
    pub(super) reduced: R,
    pub(super) older: A,
    pub(super) newest: A,
}

/// A sums loop software-pipelined over an exponential in four parts (the float64 lanes'
/// `sums_f64` of `x86_avx2.rs` and `x86_avx512.rs`, AVX2's float32 `sums_f32`): five vectors
/// in flight. Each step takes the newest vector, at element `i` of `x` (a whole number of
/// `n`-lane vectors), through `arg` (load, t, the exponential's first part), the vector two
/// before it through `reduce` (r and the scale), the next older through `poly` (e^r − 1) and
/// the oldest through `finish` into the sums `acc`. Each vector runs the same operations and
/// reaches `finish` in order, so the sums have the same bits as one loop over the four parts
/// ([`sums`]'s order); only the chain a step waits on is shorter (the arg's output waits a
/// step longer than the others: its part, with the load, is the longest). `trips` may take
/// the steps from a given element on in a loop of its own (AVX2's, in assembly), and returns
/// where it stopped; steps after that, and short slices, run here.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(super) fn sums_pipelined<F, A: Copy, R: Copy, Q: Copy, S>(
    x: &[F],
    n: usize,
    arg: impl Fn(usize) -> A,
    reduce: impl Fn(A) -> R,
    poly: impl Fn(R) -> Q,
    finish: impl Fn(S, Q) -> S,
    mut acc: S,
    trips: impl FnOnce(&mut InFlight<A, R, Q>, S, usize) -> (S, usize),
) -> S {
    debug_assert_eq!(x.len() % n, 0);
    let p = x.as_ptr();
    let ahead = CHUNK_BYTES / std::mem::size_of::<F>();
    if x.len() < 4 * n {
        for i in (0..x.len()).step_by(n) {
            acc = finish(acc, poly(reduce(arg(i))));
        }
        return acc;
    }
    let mut v = InFlight {
        oldest: poly(reduce(arg(0))),
        reduced: reduce(arg(n)),
        older: arg(2 * n),
        newest: arg(3 * n),
    };
    let (mut acc, start) = trips(&mut v, acc, 4 * n);
    for i in (start..x.len()).step_by(n) {
        // The next chunk, for the scan that follows (as in `sums`).
        prefetch(p.wrapping_add(i + ahead));
        acc = finish(acc, v.oldest);
        v.oldest = poly(v.reduced);
        v.reduced = reduce(v.older);
        (v.older, v.newest) = (v.newest, arg(i));
    }
    acc = finish(acc, v.oldest);
    acc = finish(acc, poly(v.reduced));
    acc = finish(acc, poly(reduce(v.older)));
    finish(acc, poly(reduce(v.newest)))
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
    fn scan<const CHOSEN: bool>(self, st: &mut Scan<Self>, x: &[T]);
    /// The sums of `x`; `UNIT` where inv_t is 1 ([`scaled_t`]).
    fn sums<const UNIT: bool>(self, x: &[T], inv_t: Self::V, m: Self::V, acc: Acc<Self>) -> Acc<Self>;
}

/// Implements [`ChunkLoops`] for a level's lanes (a type name, with its lifetime if it has one),
/// the loops compiled with the level's `features`, or (`inline`) inlined into the row function.
macro_rules! chunk_loops {
    (inline $name:ident $(<$lt:lifetime>)?) => {
        impl<$($lt,)? T: lanes::Load<$name$(<$lt>)?>> lanes::ChunkLoops<T> for $name$(<$lt>)? {
            #[inline(always)]
            fn scan<const CHOSEN: bool>(self, st: &mut lanes::Scan<Self>, x: &[T]) {
                lanes::scan::<Self, T, CHOSEN>(self, st, x);
            }
            #[inline(always)]
            fn sums<const UNIT: bool>(
                self,
                x: &[T],
                inv_t: Self::V,
                m: Self::V,
                acc: lanes::Acc<Self>,
            ) -> lanes::Acc<Self> {
                T::sums_loop::<UNIT>(self, x, inv_t, m, acc)
            }
        }
    };
    ($features:literal, $name:ident $(<$lt:lifetime>)?) => {
        impl<$($lt,)? T: lanes::Load<$name$(<$lt>)?>> lanes::ChunkLoops<T> for $name$(<$lt>)? {
            // Not inlined into the row function (rustc drops `inline(never)` from a
            // `target_feature` function, and the inner function cannot be inlined here, where
            // the features are not enabled).
            #[inline(never)]
            fn scan<const CHOSEN: bool>(self, st: &mut lanes::Scan<Self>, x: &[T]) {
                #[target_feature(enable = $features)]
                fn scan<$($lt,)? T: lanes::Load<$name$(<$lt>)?>, const CHOSEN: bool>(
                    l: $name$(<$lt>)?,
                    st: &mut lanes::Scan<$name$(<$lt>)?>,
                    x: &[T],
                ) {
                    lanes::scan::<_, T, CHOSEN>(l, st, x);
                }
                // SAFETY: the token is only made where the CPU supports its instructions.
                unsafe { scan::<T, CHOSEN>(self, st, x) }
            }
            #[inline(never)]
            fn sums<const UNIT: bool>(
                self,
                x: &[T],
                inv_t: Self::V,
                m: Self::V,
                acc: lanes::Acc<Self>,
            ) -> lanes::Acc<Self> {
                #[target_feature(enable = $features)]
                fn sums<$($lt,)? T: lanes::Load<$name$(<$lt>)?>, const UNIT: bool>(
                    l: $name$(<$lt>)?,
                    x: &[T],
                    inv_t: <$name$(<$lt>)? as lanes::Lanes>::V,
                    m: <$name$(<$lt>)? as lanes::Lanes>::V,
                    acc: lanes::Acc<$name$(<$lt>)?>,
                ) -> lanes::Acc<$name$(<$lt>)?> {
                    T::sums_loop::<UNIT>(l, x, inv_t, m, acc)
                }
                // SAFETY: as above.
                unsafe { sums::<T, UNIT>(self, x, inv_t, m, acc) }
            }
        }
    };
}
pub(super) use chunk_loops;

/// [`ChunkLoops::sums`] in its unit form where `unit` (inv_t is 1), else the scaled one. A
/// function, not a closure in [`row`]: a closure takes the target features of the function that
/// defines it, and `row` has none of its own (it is inlined into each level's entry point), so
/// AVX-512's inlined loops, compiled in such a closure, ran about 30 times slower.
#[inline(always)]
fn sums_at<L: ChunkLoops<T>, T>(l: L, unit: bool, x: &[T], inv_t: L::V, m: L::V, acc: Acc<L>) -> Acc<L> {
    if unit {
        l.sums::<true>(x, inv_t, m, acc)
    } else {
        l.sums::<false>(x, inv_t, m, acc)
    }
}

/// The statistics of one row (see [`RowStats`]) in the lanes of `l`, scaled by `inv_t`.
///
/// The argmax is not tracked per vector (a compare, a select and an index increment on each):
/// the first index of the row's maximum lies in the last chunk where the maximum grew (a chunk
/// whose top is above every entry before it), and once the row is scanned a second pass over
/// that one chunk (from L2, up to the maximum) finds it.
#[inline(always)]
pub(super) fn row<L: ChunkLoops<T>, T: Load<L>>(l: L, row: &[T], inv_t: L::F, chosen: Option<usize>) -> RowStats {
    debug_assert!(L::N <= MAX_LANES);
    let n = row.len();
    let chunk = CHUNK_BYTES / std::mem::size_of::<L::F>();
    let cv = chosen.map_or(L::F::NAN, |c| L::F::from_f64(row[c].to_f64()));
    let mut st = Scan::<L> {
        m1: l.splat(L::F::NEG_INF),
        m2: l.splat(L::F::NEG_INF),
        chosen: l.splat(cv),
        greater: l.count_zero(),
        nan: l.none(),
    };
    let vinv = l.splat(inv_t);
    // T = 1 (inv_t exactly 1) takes t = x − m: the same bits, an operation fewer ([`scaled_t`]).
    let unit = inv_t == L::F::ONE;
    let mut tail = [T::NEG_INF; MAX_LANES];
    let (mut m, mut s, mut w) = (L::F::NEG_INF, 0.0f64, 0.0f64);
    // The row's maximum so far and the chunk that holds its first index (none while every entry
    // is -inf, and the argmax is 0).
    let (mut top, mut top_chunk) = (L::F::NEG_INF, 0..0);
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
        // The scan counts the entries above the chosen logit only once the row's maximum is
        // above it: before, there are none, and the chunk where the maximum first passes it is
        // counted by a pass of its own. A chosen argmax (greedy decoding) is never counted.
        // (`cv` is NaN where no token is chosen: nothing is above it.)
        let counting = top > cv;
        if counting {
            l.scan::<true>(&mut st, whole);
            if has_tail {
                l.scan::<true>(&mut st, tail);
            }
            // Drain the lane counters every chunk (32-bit lanes cannot overflow within one).
            greater += l.total(st.greater);
            st.greater = l.count_zero();
        } else {
            l.scan::<false>(&mut st, whole);
            if has_tail {
                l.scan::<false>(&mut st, tail);
            }
        }
        let cmax = l.hmax(st.m1);
        if !counting && cmax > cv {
            greater += count_above(l, whole, st.chosen);
            if has_tail {
                greater += count_above(l, tail, st.chosen);
            }
        }
        if cmax > top {
            top = cmax;
            top_chunk = start..end;
        }
        let cm = cmax * inv_t;
        if cm > m {
            rescale(&mut s, &mut w, m.into(), cm.into());
            m = cm;
        }
        // A non-finite reference (every entry -inf so far, x/T overflowing, or +inf) adds
        // nothing; the caller reports such rows.
        if m.is_finite() {
            let vm = l.splat(m);
            let mut acc = sums_at(l, unit, whole, vinv, vm, (l.splat(L::F::ZERO), l.splat(L::F::ZERO)));
            if has_tail {
                acc = sums_at(l, unit, tail, vinv, vm, acc);
            }
            s += l.hsum(acc.0);
            w += l.hsum(acc.1);
        }
        start = end;
    }
    let (mut m1, mut m2) = ([L::F::NEG_INF; MAX_LANES], [L::F::NEG_INF; MAX_LANES]);
    l.store(st.m1, &mut m1);
    l.store(st.m2, &mut m2);
    let (max, second) = merge_lanes(&m1[..L::N], &m2[..L::N]);
    let argmax = first_index(l, &row[top_chunk.clone()], top).map_or(0, |j| top_chunk.start + j);
    RowStats {
        max,
        second,
        argmax,
        m: m.into(),
        inv_t: inv_t.into(),
        s,
        w,
        greater,
        // Without a NaN, a `+inf` stays in its lane's top-1.
        bad: l.any(st.nan) || max == f64::INFINITY,
    }
}

/// The sums of every prefix of `x` (whole vectors) at inv_t = 1 in the unit form (x − m) and
/// in the scaled one (x·1 − m), bit for bit ([`scaled_t`]), a NaN as any NaN: NEON's max keeps
/// a NaN logit's NaN in its lane's sums (x86's gives the clamp), with the sign of the operation
/// that made it (the scaled form negates), and the row is flagged then. The levels' tests call
/// it with their lanes.
#[cfg(test)]
pub(super) fn assert_unit_sums_are_scaled<L: ChunkLoops<T>, T: Load<L>>(l: L, x: &[T]) {
    let bits = |v: L::V| {
        let mut out = [L::F::ZERO; MAX_LANES];
        l.store(v, &mut out);
        let canonical = |f: f64| if f.is_nan() { f64::NAN.to_bits() } else { f.to_bits() };
        out[..L::N].iter().map(|&f| canonical(f.into())).collect::<Vec<_>>()
    };
    let (one, m) = (l.splat(L::F::ONE), l.splat(L::F::from_f64(20.0)));
    let acc = (l.splat(L::F::from_f64(0.25)), l.splat(L::F::from_f64(-0.5)));
    for len in (0..=x.len() / L::N * L::N).step_by(L::N) {
        let unit = l.sums::<true>(&x[..len], one, m, acc);
        let scaled = l.sums::<false>(&x[..len], one, m, acc);
        assert_eq!(bits(unit.0), bits(scaled.0), "Σe, {}, length {len}", T::NAME);
        assert_eq!(bits(unit.1), bits(scaled.1), "Σe·t, {}, length {len}", T::NAME);
    }
}
