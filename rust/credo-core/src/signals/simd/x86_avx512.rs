//! AVX-512F kernel: 16 float32 lanes, half types widened on load.
//!
//! Per chunk of [`CHUNK`] elements: one scan (per-lane top-1, top-2, first argmax, count above
//! the chosen logit, NaN/+inf flag), a horizontal max that updates the row's reference (running
//! sums rescaled when it grows), then Σe and Σe·t over the same chunk while it is in L1.

use std::arch::x86_64::*;

use half::{bf16, f16};

use super::exp::{EXP_CLAMP, EXP_FLUSH, LN2_HI, LN2_LO, LOG2E, P0, P1, P2, P3, P4, P5};
use super::{merge_lanes, rescale, sum_f64, Logit, RowStats, CHUNK};

const LANES: usize = 16;

/// Loads 16 elements widened to float32.
trait Load: Logit {
    /// # Safety
    /// `p` must point to 16 readable elements and the CPU must support AVX-512F.
    unsafe fn load(p: *const Self) -> __m512;
}

impl Load for f32 {
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn load(p: *const f32) -> __m512 {
        // SAFETY: the caller guarantees 16 readable floats.
        unsafe { _mm512_loadu_ps(p) }
    }
}

impl Load for f16 {
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn load(p: *const f16) -> __m512 {
        // SAFETY: 16 readable halves = 32 bytes; unaligned load.
        _mm512_cvtph_ps(unsafe { _mm256_loadu_si256(p.cast()) })
    }
}

impl Load for bf16 {
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn load(p: *const bf16) -> __m512 {
        // SAFETY: 16 readable bfloat16 = 32 bytes. bfloat16 is the top half of a float32.
        let h = unsafe { _mm256_loadu_si256(p.cast()) };
        _mm512_castsi512_ps(_mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(h)))
    }
}

/// Per-lane scan state carried across the whole row.
struct Scan {
    m1: __m512,
    m2: __m512,
    idx: __m512i,
    cur: __m512i,
    chosen: __m512,
    greater: u64,
    bad: __mmask16,
}

#[inline]
#[target_feature(enable = "avx512f")]
fn scan_step(st: &mut Scan, x: __m512) {
    // NaN (unordered) or +inf: "not less than +inf".
    st.bad |= _mm512_cmp_ps_mask::<_CMP_NLT_UQ>(x, _mm512_set1_ps(f32::INFINITY));
    let gt = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(x, st.m1);
    st.idx = _mm512_mask_blend_epi32(gt, st.idx, st.cur);
    st.m2 = _mm512_max_ps(st.m2, _mm512_min_ps(st.m1, x));
    st.m1 = _mm512_max_ps(st.m1, x);
    st.greater += u64::from(_mm512_cmp_ps_mask::<_CMP_GT_OQ>(x, st.chosen).count_ones());
    st.cur = _mm512_add_epi32(st.cur, _mm512_set1_epi32(LANES as i32));
}

/// Adds exp(t) and exp(t)·t for t = x/T − m to the lane sums (masked lanes add exactly 0).
#[inline]
#[target_feature(enable = "avx512f")]
fn exp_step(x: __m512, inv_t: __m512, m: __m512, sv: &mut __m512, wv: &mut __m512) {
    let t = _mm512_max_ps(_mm512_fmsub_ps(x, inv_t, m), _mm512_set1_ps(EXP_CLAMP));
    let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm512_mul_ps(
        t,
        _mm512_set1_ps(LOG2E),
    ));
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), t);
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), r);
    let mut y = _mm512_fmadd_ps(_mm512_set1_ps(P0), r, _mm512_set1_ps(P1));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(P2));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(P3));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(P4));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(P5));
    y = _mm512_fmadd_ps(y, _mm512_mul_ps(r, r), r);
    y = _mm512_add_ps(y, _mm512_set1_ps(1.0));
    let keep = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(t, _mm512_set1_ps(EXP_FLUSH));
    let e = _mm512_maskz_scalef_ps(keep, y, n);
    *sv = _mm512_add_ps(*sv, e);
    *wv = _mm512_fmadd_ps(e, t, *wv);
}

#[inline]
#[target_feature(enable = "avx512f")]
fn lanes(v: __m512) -> [f32; LANES] {
    let mut out = [0.0f32; LANES];
    // SAFETY: `out` holds 16 floats.
    unsafe { _mm512_storeu_ps(out.as_mut_ptr(), v) };
    out
}

#[target_feature(enable = "avx512f")]
fn row<T: Load>(row: &[T], inv_t: f32, chosen: Option<usize>) -> RowStats {
    let n = row.len();
    let p = row.as_ptr();
    let cv = chosen.map_or(f32::NAN, |c| row[c].to_f64() as f32);
    let mut st = Scan {
        m1: _mm512_set1_ps(f32::NEG_INFINITY),
        m2: _mm512_set1_ps(f32::NEG_INFINITY),
        idx: _mm512_setzero_si512(),
        cur: _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        chosen: _mm512_set1_ps(cv),
        greater: 0,
        bad: 0,
    };
    let vinv = _mm512_set1_ps(inv_t);
    let mut tail = [T::NEG_INF; LANES];
    let (mut m, mut s, mut w) = (f32::NEG_INFINITY, 0.0f64, 0.0f64);
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
            // SAFETY: i + 16 <= full <= n.
            scan_step(&mut st, unsafe { T::load(p.add(i)) });
            i += LANES;
        }
        if has_tail {
            // SAFETY: `tail` holds 16 elements.
            scan_step(&mut st, unsafe { T::load(tail.as_ptr()) });
        }
        let cm = _mm512_reduce_max_ps(st.m1) * inv_t;
        if cm > m {
            rescale(&mut s, &mut w, f64::from(m), f64::from(cm));
            m = cm;
        }
        if m > f32::NEG_INFINITY {
            let vm = _mm512_set1_ps(m);
            let (mut sv, mut wv) = (_mm512_setzero_ps(), _mm512_setzero_ps());
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
    let mut idx = [0i32; LANES];
    // SAFETY: `idx` holds 16 ints.
    unsafe { _mm512_storeu_si512(idx.as_mut_ptr().cast(), st.idx) };
    let (max, second, argmax) = merge_lanes(&lanes(st.m1), &lanes(st.m2), &idx);
    RowStats {
        max,
        second,
        argmax,
        m: f64::from(m),
        inv_t: f64::from(inv_t),
        s,
        w,
        greater: st.greater,
        bad: st.bad != 0,
    }
}

#[target_feature(enable = "avx512f")]
pub(super) fn row_f32(r: &[f32], inv_t: f32, chosen: Option<usize>) -> RowStats {
    row(r, inv_t, chosen)
}

#[target_feature(enable = "avx512f")]
pub(super) fn row_f16(r: &[f16], inv_t: f32, chosen: Option<usize>) -> RowStats {
    row(r, inv_t, chosen)
}

#[target_feature(enable = "avx512f")]
pub(super) fn row_bf16(r: &[bf16], inv_t: f32, chosen: Option<usize>) -> RowStats {
    row(r, inv_t, chosen)
}
