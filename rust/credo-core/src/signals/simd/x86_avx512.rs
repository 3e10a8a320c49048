//! AVX-512F lanes: 16 float32 lanes (half types widened on load) and 8 float64 lanes (float64
//! input keeps float64 precision with the token signals' table-driven exponential of `exp64`,
//! `avx512::reduce8_scaled`). The loop is [`lanes::row`]; mask registers carry the flags.

use std::arch::x86_64::*;

use half::{bf16, f16};

use super::lanes::{self, intrinsics, F32Lanes, Lanes, Load};
use super::RowStats;
use crate::signals::exp64::avx512::{arg8, expm1_deg6, finish8_scaled, reduce8_scaled, ScaledTable};
use crate::signals::exp64::EXP64_ZERO;

/// AVX-512F float32 lanes; made only inside the `avx512f` entry points below.
#[derive(Clone, Copy)]
pub(super) struct Avx512(());

impl Lanes for Avx512 {
    type F = f32;
    type V = __m512;
    type M = __mmask16;
    type Count = u64;
    const N: usize = 16;

    intrinsics! {
        splat(x: f32) -> __m512 = _mm512_set1_ps(x);
        add(a: __m512, b: __m512) -> __m512 = _mm512_add_ps(a, b);
        sub(a: __m512, b: __m512) -> __m512 = _mm512_sub_ps(a, b);
        mul(a: __m512, b: __m512) -> __m512 = _mm512_mul_ps(a, b);
        mul_add(a: __m512, b: __m512, c: __m512) -> __m512 = _mm512_fmadd_ps(a, b, c);
        mul_sub(a: __m512, b: __m512, c: __m512) -> __m512 = _mm512_fmsub_ps(a, b, c);
        neg_mul_add(a: __m512, b: __m512, c: __m512) -> __m512 = _mm512_fnmadd_ps(a, b, c);
        max(a: __m512, b: __m512) -> __m512 = _mm512_max_ps(a, b);
        min(a: __m512, b: __m512) -> __m512 = _mm512_min_ps(a, b);
        gt(a: __m512, b: __m512) -> __mmask16 = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(a, b);
        ge(a: __m512, b: __m512) -> __mmask16 = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(a, b);
        unordered(a: __m512, b: __m512) -> __mmask16 = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(a, b);
        hmax(v: __m512) -> f32 = _mm512_reduce_max_ps(v);
        store(v: __m512, out: &mut [f32; 16]) -> () = _mm512_storeu_ps(out.as_mut_ptr(), v);
    }

    fn or(self, a: __mmask16, b: __mmask16) -> __mmask16 {
        a | b
    }
    fn any(self, m: __mmask16) -> bool {
        m != 0
    }
    fn none(self) -> __mmask16 {
        0
    }
    fn count_zero(self) -> u64 {
        0
    }
    #[inline(always)]
    fn count(self, c: u64, m: __mmask16) -> u64 {
        c + u64::from(m.count_ones())
    }
    fn total(self, c: u64) -> u64 {
        c
    }
    #[inline(always)]
    fn hsum(self, v: __m512) -> f64 {
        let mut out = [0.0f32; 16];
        self.store(v, &mut out);
        super::sum_f64(&out)
    }
}

impl F32Lanes for Avx512 {
    #[inline(always)]
    fn scale_pow2(self, q: __m512, k: __m512) -> __m512 {
        // SAFETY: the token proves AVX-512F.
        unsafe {
            // 2ⁿ as in AVX2 (not `scalef`, so that every level has the same bits).
            let p = _mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_castps_si512(k)));
            _mm512_fmadd_ps(p, q, p)
        }
    }
}

impl Load<Avx512> for f32 {
    #[inline(always)]
    unsafe fn load(_: Avx512, p: *const f32) -> __m512 {
        // SAFETY: the caller guarantees 16 readable floats; the token proves AVX-512F.
        unsafe { _mm512_loadu_ps(p) }
    }
}

impl Load<Avx512> for f16 {
    #[inline(always)]
    unsafe fn load(_: Avx512, p: *const f16) -> __m512 {
        // SAFETY: 16 readable halves = 32 bytes; unaligned load.
        unsafe { _mm512_cvtph_ps(_mm256_loadu_si256(p.cast())) }
    }
}

impl Load<Avx512> for bf16 {
    #[inline(always)]
    unsafe fn load(_: Avx512, p: *const bf16) -> __m512 {
        // SAFETY: 16 readable bfloat16 = 32 bytes. bfloat16 is the top half of a float32.
        unsafe {
            _mm512_castsi512_ps(_mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(_mm256_loadu_si256(
                p.cast(),
            ))))
        }
    }
}

/// AVX-512F float64 lanes, with the table of the token signals' exponential
/// (`exp64::avx512::ScaledTable`) held in registers.
#[derive(Clone, Copy)]
struct Avx512F64<'a>(&'a ScaledTable);

impl Lanes for Avx512F64<'_> {
    type F = f64;
    type V = __m512d;
    type M = __mmask8;
    type Count = u64;
    const N: usize = 8;

    intrinsics! {
        splat(x: f64) -> __m512d = _mm512_set1_pd(x);
        add(a: __m512d, b: __m512d) -> __m512d = _mm512_add_pd(a, b);
        sub(a: __m512d, b: __m512d) -> __m512d = _mm512_sub_pd(a, b);
        mul(a: __m512d, b: __m512d) -> __m512d = _mm512_mul_pd(a, b);
        mul_add(a: __m512d, b: __m512d, c: __m512d) -> __m512d = _mm512_fmadd_pd(a, b, c);
        mul_sub(a: __m512d, b: __m512d, c: __m512d) -> __m512d = _mm512_fmsub_pd(a, b, c);
        neg_mul_add(a: __m512d, b: __m512d, c: __m512d) -> __m512d = _mm512_fnmadd_pd(a, b, c);
        max(a: __m512d, b: __m512d) -> __m512d = _mm512_max_pd(a, b);
        min(a: __m512d, b: __m512d) -> __m512d = _mm512_min_pd(a, b);
        gt(a: __m512d, b: __m512d) -> __mmask8 = _mm512_cmp_pd_mask::<_CMP_GT_OQ>(a, b);
        ge(a: __m512d, b: __m512d) -> __mmask8 = _mm512_cmp_pd_mask::<_CMP_GE_OQ>(a, b);
        unordered(a: __m512d, b: __m512d) -> __mmask8 = _mm512_cmp_pd_mask::<_CMP_UNORD_Q>(a, b);
        hmax(v: __m512d) -> f64 = _mm512_reduce_max_pd(v);
        hsum(v: __m512d) -> f64 = _mm512_reduce_add_pd(v);
        store(v: __m512d, out: &mut [f64; 16]) -> () = _mm512_storeu_pd(out.as_mut_ptr(), v);
    }

    fn or(self, a: __mmask8, b: __mmask8) -> __mmask8 {
        a | b
    }
    fn any(self, m: __mmask8) -> bool {
        m != 0
    }
    fn none(self) -> __mmask8 {
        0
    }
    fn count_zero(self) -> u64 {
        0
    }
    #[inline(always)]
    fn count(self, c: u64, m: __mmask8) -> u64 {
        c + u64::from(m.count_ones())
    }
    fn total(self, c: u64) -> u64 {
        c
    }
}

impl Load<Avx512F64<'_>> for f64 {
    #[inline(always)]
    unsafe fn load(_: Avx512F64<'_>, p: *const f64) -> __m512d {
        // SAFETY: the caller guarantees 8 readable doubles; the token proves AVX-512F.
        unsafe { _mm512_loadu_pd(p) }
    }
}

// `popcnt` beside `avx512f` (the level requires both, `simd.rs`): the count above the chosen
// logit is a mask's popcount, one instruction with the feature and about a dozen without (the
// float32 row 3.8 -> 3.2 ms on [256, 32000], 1 thread, this Zen 4).
// Both loops inlined into the row function: with 32 registers nothing spills, and loops apart
// cost about 2.5% of the float32 time (the calls, the state through memory: about 80 cycles a
// chunk of 128 vectors). The float64 loops measured 2-3% faster apart before popcnt was
// enabled; with it, and the Estrin exponential, inlined is about 4% faster (7.2 -> 6.9 ms on
// either shape).
lanes::chunk_loops!(inline Avx512);

/// The float64 loops, inlined as [`lanes::chunk_loops`] makes them, with a sums loop of their
/// own: [`sums_f64`].
impl lanes::ChunkLoops<f64> for Avx512F64<'_> {
    #[inline(always)]
    fn scan<const CHOSEN: bool>(self, st: &mut lanes::Scan<Self>, x: &[f64]) {
        lanes::scan::<Self, f64, CHOSEN>(self, st, x);
    }
    #[inline(always)]
    fn sums<const UNIT: bool>(self, x: &[f64], inv_t: __m512d, m: __m512d, acc: lanes::Acc<Self>) -> lanes::Acc<Self> {
        // SAFETY: the token is only made where the CPU supports AVX-512F.
        unsafe { sums_f64::<UNIT>(self, x, inv_t, m, acc) }
    }
}

/// [`lanes::sums`] for float64, software-pipelined as AVX2's ([`lanes::sums_pipelined`]): five
/// vectors in flight, each step takes the newest to its clamped t and k ([`arg8`]), the one
/// two before it to r and its scale ([`reduce8_scaled`]), the next to e^r − 1 ([`expm1_deg6`])
/// and the oldest to the sums ([`finish8_scaled`]), the sums in vector order. No mask: t is
/// clamped to EXP64_ZERO, where e^t is exactly 0, and between it and EXP64_MIN e^t is at most
/// e^EXP64_MIN. The float64 row on [256, 32000], 1 thread, this Zen 4, with the earlier
/// exponential: 6.0-6.4 ms in one vector's order, 5.7-5.9 ms in three parts; with this one,
/// 4.8-5.0 ms in three parts, four or five (the skeleton is AVX2's, which gains from five;
/// AVX-512, at its multiply-add limit, does not).
#[inline]
#[target_feature(enable = "avx512f")]
fn sums_f64<const UNIT: bool>(
    l: Avx512F64<'_>,
    x: &[f64],
    inv_t: __m512d,
    m: __m512d,
    acc: (__m512d, __m512d),
) -> (__m512d, __m512d) {
    let p = x.as_ptr();
    let zero_at = _mm512_set1_pd(EXP64_ZERO);
    let arg = |i: usize| {
        // SAFETY: `sums_pipelined` asks for whole vectors of `x` only.
        let t = lanes::scaled_t::<_, UNIT>(l, unsafe { _mm512_loadu_pd(p.add(i)) }, inv_t, m);
        // e^t is exactly 0 from EXP64_ZERO down, NaN included (max gives its second operand).
        let t = _mm512_max_pd(t, zero_at);
        (t, arg8(t))
    };
    let reduce = |(t, k)| {
        let (r, scale) = reduce8_scaled(l.0, t, k);
        (t, r, scale)
    };
    let poly = |(t, r, scale)| (t, scale, expm1_deg6(r));
    let finish = |(sv, wv), (t, scale, q)| {
        let e = finish8_scaled(scale, q);
        (_mm512_add_pd(sv, e), _mm512_fmadd_pd(e, t, wv))
    };
    lanes::sums_pipelined(x, 8, arg, reduce, poly, finish, acc, |_, acc, i| (acc, i))
}

/// The statistics of one row of float32, float16 or bfloat16 in float32 lanes.
#[target_feature(enable = "avx512f,popcnt")]
pub(super) fn row<T: Load<Avx512>>(r: &[T], inv_t: f32, chosen: Option<usize>) -> RowStats {
    lanes::row(Avx512(()), r, inv_t, chosen)
}

/// The statistics of one float64 row in float64 lanes.
#[target_feature(enable = "avx512f,popcnt")]
pub(super) fn row_f64(r: &[f64], inv_t: f64, chosen: Option<usize>) -> RowStats {
    let tab = ScaledTable::new();
    lanes::row(Avx512F64(&tab), r, inv_t, chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// At T = 1 the sums' unit form has the scaled form's bits, in every lane dtype.
    #[test]
    fn unit_sums_have_the_bits_of_the_scaled_sums() {
        if !is_x86_feature_detected!("avx512f") {
            return;
        }
        let (f, h, b, d) = crate::signals::simd::tests::unit_rows();
        lanes::assert_unit_sums_are_scaled(Avx512(()), &f);
        lanes::assert_unit_sums_are_scaled(Avx512(()), &h);
        lanes::assert_unit_sums_are_scaled(Avx512(()), &b);
        // SAFETY: the test checked AVX-512F.
        let tab = unsafe { ScaledTable::new() };
        lanes::assert_unit_sums_are_scaled(Avx512F64(&tab), &d);
    }
}
