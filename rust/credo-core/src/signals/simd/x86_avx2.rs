//! AVX2 + FMA + F16C kernel: 8 float32 lanes, the same chunked single pass as the AVX-512 one
//! (see `x86_avx512.rs`), with vector masks instead of mask registers.

use std::arch::x86_64::*;

use half::{bf16, f16};

use super::exp::{EXP_CLAMP, EXP_FLUSH, LN2_HI, LN2_LO, LOG2E, P0, P1, P2, P3, P4, P5};
use super::{merge_lanes, rescale, sum_f64, Logit, RowStats, CHUNK};

const LANES: usize = 8;

/// Loads 8 elements widened to float32.
trait Load: Logit {
    /// # Safety
    /// `p` must point to 8 readable elements and the CPU must support AVX2, FMA and F16C.
    unsafe fn load(p: *const Self) -> __m256;
}

impl Load for f32 {
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn load(p: *const f32) -> __m256 {
        // SAFETY: the caller guarantees 8 readable floats.
        unsafe { _mm256_loadu_ps(p) }
    }
}

impl Load for f16 {
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn load(p: *const f16) -> __m256 {
        // SAFETY: 8 readable halves = 16 bytes; unaligned load.
        _mm256_cvtph_ps(unsafe { _mm_loadu_si128(p.cast()) })
    }
}

impl Load for bf16 {
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn load(p: *const bf16) -> __m256 {
        // SAFETY: 8 readable bfloat16 = 16 bytes. bfloat16 is the top half of a float32.
        let h = unsafe { _mm_loadu_si128(p.cast()) };
        _mm256_castsi256_ps(_mm256_slli_epi32::<16>(_mm256_cvtepu16_epi32(h)))
    }
}

struct Scan {
    m1: __m256,
    m2: __m256,
    idx: __m256i,
    cur: __m256i,
    chosen: __m256,
    greater: __m256i,
    bad: __m256,
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn scan_step(st: &mut Scan, x: __m256) {
    st.bad = _mm256_or_ps(st.bad, _mm256_cmp_ps::<_CMP_NLT_UQ>(x, _mm256_set1_ps(f32::INFINITY)));
    let gt = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_GT_OQ>(x, st.m1));
    st.idx = _mm256_blendv_epi8(st.idx, st.cur, gt);
    st.m2 = _mm256_max_ps(st.m2, _mm256_min_ps(st.m1, x));
    st.m1 = _mm256_max_ps(st.m1, x);
    // A true comparison is all ones (−1): subtracting it counts.
    let above = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_GT_OQ>(x, st.chosen));
    st.greater = _mm256_sub_epi32(st.greater, above);
    st.cur = _mm256_add_epi32(st.cur, _mm256_set1_epi32(LANES as i32));
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn exp_step(x: __m256, inv_t: __m256, m: __m256, sv: &mut __m256, wv: &mut __m256) {
    let t = _mm256_max_ps(_mm256_fmsub_ps(x, inv_t, m), _mm256_set1_ps(EXP_CLAMP));
    let n =
        _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_mul_ps(t, _mm256_set1_ps(LOG2E)));
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), t);
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
    let mut y = _mm256_fmadd_ps(_mm256_set1_ps(P0), r, _mm256_set1_ps(P1));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(P2));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(P3));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(P4));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(P5));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(r, r), r);
    y = _mm256_add_ps(y, _mm256_set1_ps(1.0));
    // 2^n from the exponent bits; n ≥ −127 after the clamp, and lanes below the flush are zeroed.
    let pow = _mm256_slli_epi32::<23>(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)));
    let keep = _mm256_cmp_ps::<_CMP_GE_OQ>(t, _mm256_set1_ps(EXP_FLUSH));
    let e = _mm256_and_ps(_mm256_mul_ps(y, _mm256_castsi256_ps(pow)), keep);
    *sv = _mm256_add_ps(*sv, e);
    *wv = _mm256_fmadd_ps(e, t, *wv);
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn lanes(v: __m256) -> [f32; LANES] {
    let mut out = [0.0f32; LANES];
    // SAFETY: `out` holds 8 floats.
    unsafe { _mm256_storeu_ps(out.as_mut_ptr(), v) };
    out
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn ints(v: __m256i) -> [i32; LANES] {
    let mut out = [0i32; LANES];
    // SAFETY: `out` holds 8 ints.
    unsafe { _mm256_storeu_si256(out.as_mut_ptr().cast(), v) };
    out
}

#[target_feature(enable = "avx2,fma,f16c")]
fn row<T: Load>(row: &[T], inv_t: f32, chosen: Option<usize>) -> RowStats {
    let n = row.len();
    let p = row.as_ptr();
    let cv = chosen.map_or(f32::NAN, |c| row[c].to_f64() as f32);
    let mut st = Scan {
        m1: _mm256_set1_ps(f32::NEG_INFINITY),
        m2: _mm256_set1_ps(f32::NEG_INFINITY),
        idx: _mm256_setzero_si256(),
        cur: _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
        chosen: _mm256_set1_ps(cv),
        greater: _mm256_setzero_si256(),
        bad: _mm256_setzero_ps(),
    };
    let vinv = _mm256_set1_ps(inv_t);
    let mut tail = [T::NEG_INF; LANES];
    let (mut m, mut s, mut w) = (f32::NEG_INFINITY, 0.0f64, 0.0f64);
    let mut greater = 0u64;
    let mut start = 0;
    while start < n {
        let end = (start + CHUNK).min(n);
        let full = start + (end - start) / LANES * LANES;
        let has_tail = full < end;
        if has_tail {
            tail.fill(T::NEG_INF);
            tail[..end - full].copy_from_slice(&row[full..end]);
        }
        let mut i = start;
        while i < full {
            // SAFETY: i + 8 <= full <= n.
            scan_step(&mut st, unsafe { T::load(p.add(i)) });
            i += LANES;
        }
        if has_tail {
            // SAFETY: `tail` holds 8 elements.
            scan_step(&mut st, unsafe { T::load(tail.as_ptr()) });
        }
        // Drain the 32-bit lane counters every chunk (they cannot overflow within one).
        greater += ints(st.greater).iter().map(|&c| c as u32 as u64).sum::<u64>();
        st.greater = _mm256_setzero_si256();
        let cm = lanes(st.m1).iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) * inv_t;
        if cm > m {
            rescale(&mut s, &mut w, f64::from(m), f64::from(cm));
            m = cm;
        }
        if m > f32::NEG_INFINITY {
            let vm = _mm256_set1_ps(m);
            let (mut sv, mut wv) = (_mm256_setzero_ps(), _mm256_setzero_ps());
            let mut i = start;
            while i < full {
                // SAFETY: as in the scan.
                exp_step(unsafe { T::load(p.add(i)) }, vinv, vm, &mut sv, &mut wv);
                i += LANES;
            }
            if has_tail {
                // SAFETY: as in the scan.
                exp_step(unsafe { T::load(tail.as_ptr()) }, vinv, vm, &mut sv, &mut wv);
            }
            s += sum_f64(&lanes(sv));
            w += sum_f64(&lanes(wv));
        }
        start = end;
    }
    let bad = _mm256_movemask_ps(st.bad) != 0;
    let (max, second, argmax) = merge_lanes(&lanes(st.m1), &lanes(st.m2), &ints(st.idx));
    RowStats {
        max,
        second,
        argmax,
        m: f64::from(m),
        inv_t: f64::from(inv_t),
        s,
        w,
        greater,
        bad,
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn row_f32(r: &[f32], inv_t: f32, chosen: Option<usize>) -> RowStats {
    row(r, inv_t, chosen)
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn row_f16(r: &[f16], inv_t: f32, chosen: Option<usize>) -> RowStats {
    row(r, inv_t, chosen)
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn row_bf16(r: &[bf16], inv_t: f32, chosen: Option<usize>) -> RowStats {
    row(r, inv_t, chosen)
}
