//! AVX-512F kernel for float64 logits: 8 float64 lanes, float64 arithmetic throughout (the
//! table-driven exponential of `exp64`, within one ulp of `f64::exp`), so float64 input keeps
//! float64 precision at the speed of its memory traffic.
//!
//! The structure mirrors the float32 kernel: per chunk of [`CHUNK64`] elements, one scan (per-lane
//! top-1, top-2, first argmax, count above the chosen logit, NaN/+inf flag), a horizontal max
//! that updates the row's reference (running sums rescaled when it grows), then Σe and Σe·t over
//! the same chunk while it is in L1.

use std::arch::x86_64::*;

use super::{merge_lanes, rescale, RowStats};
use crate::signals::exp64::avx512::{exp8, Consts};
use crate::signals::exp64::EXP64_MIN;

const LANES: usize = 8;
/// Elements per chunk: 1024 float64 = 8 KiB, the float32 kernel's chunk size in bytes.
const CHUNK64: usize = 1024;

/// Per-lane scan state carried across the whole row.
struct Scan {
    m1: __m512d,
    m2: __m512d,
    idx: __m512i,
    cur: __m512i,
    chosen: __m512d,
    greater: u64,
    bad: __mmask8,
}

/// Loads lanes `i … i + 7` of `p`, the lanes at or past `end` as `-inf` (masked tokens).
///
/// # Safety
/// `p.add(i)` … `p.add(end - 1)` must be readable, with `i < end`.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn load(p: *const f64, i: usize, end: usize) -> __m512d {
    if i + LANES <= end {
        // SAFETY: the caller guarantees entries i … i + 7 are readable.
        unsafe { _mm512_loadu_pd(p.add(i)) }
    } else {
        let m = ((1u32 << (end - i)) - 1) as __mmask8;
        // SAFETY: the masked load reads only entries i … end − 1.
        unsafe { _mm512_mask_loadu_pd(_mm512_set1_pd(f64::NEG_INFINITY), m, p.add(i)) }
    }
}

#[inline]
#[target_feature(enable = "avx512f")]
fn scan_step(st: &mut Scan, x: __m512d) {
    // NaN (unordered) or +inf: "not less than +inf".
    st.bad |= _mm512_cmp_pd_mask::<_CMP_NLT_UQ>(x, _mm512_set1_pd(f64::INFINITY));
    let gt = _mm512_cmp_pd_mask::<_CMP_GT_OQ>(x, st.m1);
    st.idx = _mm512_mask_blend_epi64(gt, st.idx, st.cur);
    st.m2 = _mm512_max_pd(st.m2, _mm512_min_pd(st.m1, x));
    st.m1 = _mm512_max_pd(st.m1, x);
    st.greater += u64::from(_mm512_cmp_pd_mask::<_CMP_GT_OQ>(x, st.chosen).count_ones());
    st.cur = _mm512_add_epi64(st.cur, _mm512_set1_epi64(LANES as i64));
}

/// Adds exp(t) and exp(t)·t for t = x/T − m to the lane sums. Entries with t below
/// [`EXP64_MIN`] (masked `-inf` logits among them) add exactly 0: their true terms are under
/// 1e−307 each, while the row's maximum adds 1.
#[inline]
#[target_feature(enable = "avx512f")]
fn exp_step(c: &Consts, x: __m512d, inv_t: __m512d, m: __m512d, sv: &mut __m512d, wv: &mut __m512d) {
    let t = _mm512_fmsub_pd(x, inv_t, m);
    let keep = _mm512_cmp_pd_mask::<_CMP_GE_OQ>(t, _mm512_set1_pd(EXP64_MIN));
    // Clamped so that 0·t stays 0 for masked lanes (0·−inf would be NaN).
    let t = _mm512_max_pd(t, _mm512_set1_pd(EXP64_MIN));
    let e = _mm512_maskz_mov_pd(keep, exp8(c, t));
    *sv = _mm512_add_pd(*sv, e);
    *wv = _mm512_fmadd_pd(e, t, *wv);
}

#[inline]
#[target_feature(enable = "avx512f")]
fn lanes(v: __m512d) -> [f64; LANES] {
    let mut out = [0.0f64; LANES];
    // SAFETY: `out` holds 8 doubles.
    unsafe { _mm512_storeu_pd(out.as_mut_ptr(), v) };
    out
}

/// The statistics of one float64 row (see [`RowStats`]).
#[target_feature(enable = "avx512f")]
pub(super) fn row_f64(row: &[f64], inv_t: f64, chosen: Option<usize>) -> RowStats {
    let n = row.len();
    let p = row.as_ptr();
    let c = Consts::new();
    let mut st = Scan {
        m1: _mm512_set1_pd(f64::NEG_INFINITY),
        m2: _mm512_set1_pd(f64::NEG_INFINITY),
        idx: _mm512_setzero_si512(),
        cur: _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7),
        chosen: _mm512_set1_pd(chosen.map_or(f64::NAN, |c| row[c])),
        greater: 0,
        bad: 0,
    };
    let vinv = _mm512_set1_pd(inv_t);
    let (mut m, mut s, mut w) = (f64::NEG_INFINITY, 0.0f64, 0.0f64);
    let mut start = 0;
    while start < n {
        let end = (start + CHUNK64).min(n);
        let mut i = start;
        while i < end {
            // SAFETY: i < end <= n; `load` reads only entries below `end`.
            scan_step(&mut st, unsafe { load(p, i, end) });
            i += LANES;
        }
        let cm = _mm512_reduce_max_pd(st.m1) * inv_t;
        if cm > m {
            rescale(&mut s, &mut w, m, cm);
            m = cm;
        }
        // A non-finite reference (every entry -inf so far, or x/T overflowing) adds nothing;
        // the caller reports such rows.
        if m.is_finite() {
            let vm = _mm512_set1_pd(m);
            let (mut sv, mut wv) = (_mm512_setzero_pd(), _mm512_setzero_pd());
            let mut i = start;
            while i < end {
                // SAFETY: as in the scan.
                exp_step(&c, unsafe { load(p, i, end) }, vinv, vm, &mut sv, &mut wv);
                i += LANES;
            }
            s += _mm512_reduce_add_pd(sv);
            w += _mm512_reduce_add_pd(wv);
        }
        start = end;
    }
    let mut idx = [0i64; LANES];
    // SAFETY: `idx` holds 8 64-bit ints.
    unsafe { _mm512_storeu_si512(idx.as_mut_ptr().cast(), st.idx) };
    let (max, second, argmax) = merge_lanes(&lanes(st.m1), &lanes(st.m2), &idx);
    RowStats {
        max,
        second,
        argmax,
        m,
        inv_t,
        s,
        w,
        greater: st.greater,
        bad: st.bad != 0,
    }
}
