//! AVX2 + FMA + F16C lanes: 8 float32 lanes (half types widened on load) and 4 float64 lanes
//! (float64 input in float64 arithmetic with `exp64`'s table-driven exponential that permutes
//! 2^(j/8) out of registers: the degree-13 polynomial of `exp64::avx2` took 1.9x the AVX-512
//! time, the temperature kernel's 2^(j/256) with four scalar table loads per vector 1.6x, this
//! one 1.45x on [256, 32000], and 1.28x with the sums loop software-pipelined, [`sums_f64`]). The
//! loop is [`lanes::row`]; flags are all-ones vector lanes instead of mask registers.

use std::arch::x86_64::*;

use half::{bf16, f16};

use super::lanes::{self, intrinsics, F32Lanes, Lanes, Load};
use super::RowStats;
use crate::signals::exp64::avx2_table::{arg4_perm, expm1_perm, finish4_perm, reduce4_perm};
use crate::signals::exp64::EXP64_ZERO;

/// AVX2 float32 lanes; made only inside the `avx2,fma,f16c` entry points below.
#[derive(Clone, Copy)]
pub(super) struct Avx2(());

impl Lanes for Avx2 {
    type F = f32;
    type V = __m256;
    type M = __m256;
    type Count = __m256i;
    const N: usize = 8;

    intrinsics! {
        splat(x: f32) -> __m256 = _mm256_set1_ps(x);
        add(a: __m256, b: __m256) -> __m256 = _mm256_add_ps(a, b);
        mul(a: __m256, b: __m256) -> __m256 = _mm256_mul_ps(a, b);
        mul_add(a: __m256, b: __m256, c: __m256) -> __m256 = _mm256_fmadd_ps(a, b, c);
        mul_sub(a: __m256, b: __m256, c: __m256) -> __m256 = _mm256_fmsub_ps(a, b, c);
        neg_mul_add(a: __m256, b: __m256, c: __m256) -> __m256 = _mm256_fnmadd_ps(a, b, c);
        max(a: __m256, b: __m256) -> __m256 = _mm256_max_ps(a, b);
        min(a: __m256, b: __m256) -> __m256 = _mm256_min_ps(a, b);
        gt(a: __m256, b: __m256) -> __m256 = _mm256_cmp_ps::<_CMP_GT_OQ>(a, b);
        ge(a: __m256, b: __m256) -> __m256 = _mm256_cmp_ps::<_CMP_GE_OQ>(a, b);
        unordered(a: __m256, b: __m256) -> __m256 = _mm256_cmp_ps::<_CMP_UNORD_Q>(a, b);
        or(a: __m256, b: __m256) -> __m256 = _mm256_or_ps(a, b);
        any(m: __m256) -> bool = _mm256_movemask_ps(m) != 0;
        none() -> __m256 = _mm256_setzero_ps();
        count_zero() -> __m256i = _mm256_setzero_si256();
        // A true comparison is all ones (−1): subtracting it counts.
        count(c: __m256i, m: __m256) -> __m256i = _mm256_sub_epi32(c, _mm256_castps_si256(m));
        store(v: __m256, out: &mut [f32; 16]) -> () = _mm256_storeu_ps(out.as_mut_ptr(), v);
    }

    #[inline(always)]
    fn total(self, c: __m256i) -> u64 {
        let mut n = [0u32; 8];
        // SAFETY: `n` holds 8 ints; the token proves AVX2.
        unsafe { _mm256_storeu_si256(n.as_mut_ptr().cast(), c) };
        n.iter().map(|&c| u64::from(c)).sum()
    }
    #[inline(always)]
    fn hmax(self, v: __m256) -> f32 {
        let mut out = [0.0f32; 16];
        self.store(v, &mut out);
        out[..8].iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b))
    }
    #[inline(always)]
    fn hsum(self, v: __m256) -> f64 {
        let mut out = [0.0f32; 16];
        self.store(v, &mut out);
        super::sum_f64(&out[..8])
    }
}

impl F32Lanes for Avx2 {
    #[inline(always)]
    fn scale_pow2(self, q: __m256, k: __m256) -> __m256 {
        // SAFETY: the token proves AVX2 and FMA.
        unsafe {
            // 2ⁿ: n + 127 shifted into the exponent field (n + 127 = 0 gives 0).
            let p = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_castps_si256(k)));
            _mm256_fmadd_ps(p, q, p)
        }
    }
}

impl Load<Avx2> for f32 {
    #[inline(always)]
    unsafe fn load(_: Avx2, p: *const f32) -> __m256 {
        // SAFETY: the caller guarantees 8 readable floats; the token proves AVX2.
        unsafe { _mm256_loadu_ps(p) }
    }
}

impl Load<Avx2> for f16 {
    #[inline(always)]
    unsafe fn load(_: Avx2, p: *const f16) -> __m256 {
        // SAFETY: 8 readable halves = 16 bytes; unaligned load; the token proves F16C.
        unsafe { _mm256_cvtph_ps(_mm_loadu_si128(p.cast())) }
    }
}

impl Load<Avx2> for bf16 {
    #[inline(always)]
    unsafe fn load(_: Avx2, p: *const bf16) -> __m256 {
        // SAFETY: 8 readable bfloat16 = 16 bytes. bfloat16 is the top half of a float32.
        unsafe {
            _mm256_castsi256_ps(_mm256_slli_epi32::<16>(_mm256_cvtepu16_epi32(_mm_loadu_si128(
                p.cast(),
            ))))
        }
    }
}

/// AVX2 float64 lanes.
#[derive(Clone, Copy)]
struct Avx2F64;

impl Lanes for Avx2F64 {
    type F = f64;
    type V = __m256d;
    type M = __m256d;
    type Count = __m256i;
    const N: usize = 4;

    intrinsics! {
        splat(x: f64) -> __m256d = _mm256_set1_pd(x);
        add(a: __m256d, b: __m256d) -> __m256d = _mm256_add_pd(a, b);
        mul(a: __m256d, b: __m256d) -> __m256d = _mm256_mul_pd(a, b);
        mul_add(a: __m256d, b: __m256d, c: __m256d) -> __m256d = _mm256_fmadd_pd(a, b, c);
        mul_sub(a: __m256d, b: __m256d, c: __m256d) -> __m256d = _mm256_fmsub_pd(a, b, c);
        neg_mul_add(a: __m256d, b: __m256d, c: __m256d) -> __m256d = _mm256_fnmadd_pd(a, b, c);
        max(a: __m256d, b: __m256d) -> __m256d = _mm256_max_pd(a, b);
        min(a: __m256d, b: __m256d) -> __m256d = _mm256_min_pd(a, b);
        gt(a: __m256d, b: __m256d) -> __m256d = _mm256_cmp_pd::<_CMP_GT_OQ>(a, b);
        ge(a: __m256d, b: __m256d) -> __m256d = _mm256_cmp_pd::<_CMP_GE_OQ>(a, b);
        unordered(a: __m256d, b: __m256d) -> __m256d = _mm256_cmp_pd::<_CMP_UNORD_Q>(a, b);
        or(a: __m256d, b: __m256d) -> __m256d = _mm256_or_pd(a, b);
        any(m: __m256d) -> bool = _mm256_movemask_pd(m) != 0;
        none() -> __m256d = _mm256_setzero_pd();
        count_zero() -> __m256i = _mm256_setzero_si256();
        count(c: __m256i, m: __m256d) -> __m256i = _mm256_sub_epi64(c, _mm256_castpd_si256(m));
        store(v: __m256d, out: &mut [f64; 16]) -> () = _mm256_storeu_pd(out.as_mut_ptr(), v);
    }

    #[inline(always)]
    fn total(self, c: __m256i) -> u64 {
        let mut n = [0u64; 4];
        // SAFETY: `n` holds 4 64-bit ints; the token proves AVX2.
        unsafe { _mm256_storeu_si256(n.as_mut_ptr().cast(), c) };
        n.iter().sum()
    }
    #[inline(always)]
    fn hmax(self, v: __m256d) -> f64 {
        let mut out = [0.0f64; 16];
        self.store(v, &mut out);
        out[..4].iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b))
    }
    #[inline(always)]
    fn hsum(self, v: __m256d) -> f64 {
        let mut out = [0.0f64; 16];
        self.store(v, &mut out);
        out[..4].iter().sum()
    }
}

impl Load<Avx2F64> for f64 {
    #[inline(always)]
    unsafe fn load(_: Avx2F64, p: *const f64) -> __m256d {
        // SAFETY: the caller guarantees 4 readable doubles; the token proves AVX2.
        unsafe { _mm256_loadu_pd(p) }
    }
}

lanes::chunk_loops!("avx2,fma,f16c", Avx2);

/// The float64 loops apart, as [`lanes::chunk_loops`] makes them, with a sums loop of their own:
/// [`sums_f64`].
impl lanes::ChunkLoops<f64> for Avx2F64 {
    #[inline(never)]
    fn scan<const CHOSEN: bool>(self, st: &mut lanes::Scan<Self>, x: &[f64]) {
        #[target_feature(enable = "avx2,fma")]
        fn scan<const CHOSEN: bool>(l: Avx2F64, st: &mut lanes::Scan<Avx2F64>, x: &[f64]) {
            lanes::scan::<Avx2F64, f64, CHOSEN>(l, st, x);
        }
        // SAFETY: the token is only made where the CPU supports its instructions.
        unsafe { scan::<CHOSEN>(self, st, x) }
    }
    #[inline(never)]
    fn sums(self, x: &[f64], inv_t: __m256d, m: __m256d, acc: lanes::Acc<Self>) -> lanes::Acc<Self> {
        // SAFETY: as above.
        unsafe { sums_f64(x, inv_t, m, acc) }
    }
}

/// [`lanes::sums`] for float64, software-pipelined ([`lanes::sums_pipelined`]): four vectors in
/// flight, each step takes the newest to k ([`arg4_perm`]: load, t clamped to EXP64_ZERO, k),
/// the next to r and its table entry ([`reduce4_perm`]), the next to e^r − 1 ([`expm1_perm`])
/// and the oldest to the sums ([`finish4_perm`]), each vector in the order of [`lanes::sums`]
/// (whose mask at EXP64_MIN this loop leaves out, as AVX-512's `sums_f64`). The chain from
/// load to sum is about 50 cycles, and in [`lanes::sums`]'s order the out-of-order window
/// (about 24 vector operations a vector, against AVX-512's as many for twice the lanes) holds
/// too few vectors to cover it; here each part waits on a quarter of the chain. The float64
/// row, 1 thread, this Zen 4, either shape: 9.3 ms in [`lanes::sums`]'s order, 8.5 in two
/// parts, 8.3 in three (AVX-512 6.5); since the one-step reduction and the clamp, 7.3 in three
/// parts and 7.0-7.2 in four (AVX-512 4.8-5.0). Two vectors a loop iteration (the values in
/// flight kept in their registers, 49 -> 40 instructions a vector) measured slower (7.6).
#[target_feature(enable = "avx2,fma")]
fn sums_f64(x: &[f64], inv_t: __m256d, m: __m256d, (mut sv, mut wv): lanes::Acc<Avx2F64>) -> lanes::Acc<Avx2F64> {
    let p = x.as_ptr();
    let zero_at = _mm256_set1_pd(EXP64_ZERO);
    let arg = |i: usize| {
        // SAFETY: `sums_pipelined` asks for whole vectors of `x` only.
        let t = _mm256_fmsub_pd(unsafe { _mm256_loadu_pd(p.add(i)) }, inv_t, m);
        // e^t is exactly 0 from EXP64_ZERO down, NaN included (max gives its second operand).
        let t = _mm256_max_pd(t, zero_at);
        (t, arg4_perm(t))
    };
    let finish = |(t, _), (_, scale), q| {
        let e = finish4_perm(scale, q);
        sv = _mm256_add_pd(sv, e);
        wv = _mm256_fmadd_pd(e, t, wv);
    };
    let reduce = |(t, k)| reduce4_perm(t, k);
    lanes::sums_pipelined(x, 4, arg, reduce, |(r, _)| expm1_perm(r), finish);
    (sv, wv)
}

/// The statistics of one row of float32, float16 or bfloat16 in float32 lanes.
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn row<T: Load<Avx2>>(r: &[T], inv_t: f32, chosen: Option<usize>) -> RowStats {
    lanes::row(Avx2(()), r, inv_t, chosen)
}

/// The statistics of one float64 row in float64 lanes.
#[target_feature(enable = "avx2,fma")]
pub(super) fn row_f64(r: &[f64], inv_t: f64, chosen: Option<usize>) -> RowStats {
    lanes::row(Avx2F64, r, inv_t, chosen)
}
