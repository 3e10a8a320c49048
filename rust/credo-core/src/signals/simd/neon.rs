//! aarch64 Advanced SIMD kernel: 4 float32 lanes, the same chunked single pass as the x86
//! kernels (see `x86_avx512.rs`). float16 is widened through `half` (stable Rust has no NEON
//! half-precision vector type); bfloat16 is widened by a shift.

use std::arch::aarch64::*;

use half::{bf16, f16};

use super::exp::{EXP_CLAMP, EXP_FLUSH, LN2_HI, LN2_LO, LOG2E, P0, P1, P2, P3, P4, P5};
use super::{merge_lanes, rescale, sum_f64, Logit, RowStats, CHUNK};

const LANES: usize = 4;

trait Load: Logit {
    /// # Safety
    /// `p` must point to 4 readable elements.
    unsafe fn load(p: *const Self) -> float32x4_t;
}

impl Load for f32 {
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn load(p: *const f32) -> float32x4_t {
        // SAFETY: the caller guarantees 4 readable floats.
        unsafe { vld1q_f32(p) }
    }
}

impl Load for f16 {
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn load(p: *const f16) -> float32x4_t {
        // SAFETY: the caller guarantees 4 readable halves.
        let h = unsafe { std::slice::from_raw_parts(p, LANES) };
        let w = [h[0].to_f32(), h[1].to_f32(), h[2].to_f32(), h[3].to_f32()];
        // SAFETY: `w` holds 4 floats.
        unsafe { vld1q_f32(w.as_ptr()) }
    }
}

impl Load for bf16 {
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn load(p: *const bf16) -> float32x4_t {
        // SAFETY: 4 readable bfloat16; bfloat16 is the top half of a float32.
        let h = unsafe { vld1_u16(p.cast()) };
        vreinterpretq_f32_u32(vshll_n_u16::<16>(h))
    }
}

struct Scan {
    m1: float32x4_t,
    m2: float32x4_t,
    idx: uint32x4_t,
    cur: uint32x4_t,
    chosen: float32x4_t,
    greater: uint32x4_t,
    bad: uint32x4_t,
}

#[inline]
#[target_feature(enable = "neon")]
fn scan_step(st: &mut Scan, x: float32x4_t) {
    // NaN or +inf: not (x < +inf).
    st.bad = vorrq_u32(st.bad, vmvnq_u32(vcltq_f32(x, vdupq_n_f32(f32::INFINITY))));
    let gt = vcgtq_f32(x, st.m1);
    st.idx = vbslq_u32(gt, st.cur, st.idx);
    st.m2 = vmaxq_f32(st.m2, vminq_f32(st.m1, x));
    st.m1 = vmaxq_f32(st.m1, x);
    // A true comparison is all ones: subtracting it counts.
    st.greater = vsubq_u32(st.greater, vcgtq_f32(x, st.chosen));
    st.cur = vaddq_u32(st.cur, vdupq_n_u32(LANES as u32));
}

#[inline]
#[target_feature(enable = "neon")]
fn exp_step(x: float32x4_t, inv_t: float32x4_t, m: float32x4_t, sv: &mut float32x4_t, wv: &mut float32x4_t) {
    // x·inv_t − m with one rounding (as the x86 kernels' fmsub), so that the row's maximum
    // scales to exactly what the caller forms in float64.
    let t = vmaxq_f32(vnegq_f32(vfmsq_f32(m, x, inv_t)), vdupq_n_f32(EXP_CLAMP));
    let n = vrndnq_f32(vmulq_f32(t, vdupq_n_f32(LOG2E)));
    let r = vfmsq_f32(t, n, vdupq_n_f32(LN2_HI));
    let r = vfmsq_f32(r, n, vdupq_n_f32(LN2_LO));
    let mut y = vfmaq_f32(vdupq_n_f32(P1), vdupq_n_f32(P0), r);
    y = vfmaq_f32(vdupq_n_f32(P2), y, r);
    y = vfmaq_f32(vdupq_n_f32(P3), y, r);
    y = vfmaq_f32(vdupq_n_f32(P4), y, r);
    y = vfmaq_f32(vdupq_n_f32(P5), y, r);
    y = vfmaq_f32(r, y, vmulq_f32(r, r));
    y = vaddq_f32(y, vdupq_n_f32(1.0));
    let pow = vshlq_n_s32::<23>(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)));
    let keep = vcgeq_f32(t, vdupq_n_f32(EXP_FLUSH));
    let e = vreinterpretq_f32_u32(vandq_u32(
        vreinterpretq_u32_f32(vmulq_f32(y, vreinterpretq_f32_s32(pow))),
        keep,
    ));
    *sv = vaddq_f32(*sv, e);
    *wv = vfmaq_f32(*wv, e, t);
}

#[inline]
#[target_feature(enable = "neon")]
fn lanes(v: float32x4_t) -> [f32; LANES] {
    let mut out = [0.0f32; LANES];
    // SAFETY: `out` holds 4 floats.
    unsafe { vst1q_f32(out.as_mut_ptr(), v) };
    out
}

#[inline]
#[target_feature(enable = "neon")]
fn ints(v: uint32x4_t) -> [i32; LANES] {
    let mut out = [0u32; LANES];
    // SAFETY: `out` holds 4 ints.
    unsafe { vst1q_u32(out.as_mut_ptr(), v) };
    out.map(|x| x as i32)
}

#[target_feature(enable = "neon")]
fn row<T: Load>(row: &[T], inv_t: f32, chosen: Option<usize>) -> RowStats {
    let n = row.len();
    let p = row.as_ptr();
    let cv = chosen.map_or(f32::NAN, |c| row[c].to_f64() as f32);
    let iota = [0u32, 1, 2, 3];
    let mut st = Scan {
        m1: vdupq_n_f32(f32::NEG_INFINITY),
        m2: vdupq_n_f32(f32::NEG_INFINITY),
        idx: vdupq_n_u32(0),
        // SAFETY: `iota` holds 4 ints.
        cur: unsafe { vld1q_u32(iota.as_ptr()) },
        chosen: vdupq_n_f32(cv),
        greater: vdupq_n_u32(0),
        bad: vdupq_n_u32(0),
    };
    let vinv = vdupq_n_f32(inv_t);
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
            // SAFETY: i + 4 <= full <= n.
            scan_step(&mut st, unsafe { T::load(p.add(i)) });
            i += LANES;
        }
        if has_tail {
            // SAFETY: `tail` holds 4 elements.
            scan_step(&mut st, unsafe { T::load(tail.as_ptr()) });
        }
        greater += u64::from(vaddvq_u32(st.greater));
        st.greater = vdupq_n_u32(0);
        let cm = vmaxvq_f32(st.m1) * inv_t;
        if cm > m {
            rescale(&mut s, &mut w, f64::from(m), f64::from(cm));
            m = cm;
        }
        if m > f32::NEG_INFINITY {
            let vm = vdupq_n_f32(m);
            let (mut sv, mut wv) = (vdupq_n_f32(0.0), vdupq_n_f32(0.0));
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
    let bad = vmaxvq_u32(st.bad) != 0;
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

#[target_feature(enable = "neon")]
pub(super) fn row_f32(r: &[f32], inv_t: f32, chosen: Option<usize>) -> RowStats {
    row(r, inv_t, chosen)
}

#[target_feature(enable = "neon")]
pub(super) fn row_f16(r: &[f16], inv_t: f32, chosen: Option<usize>) -> RowStats {
    row(r, inv_t, chosen)
}

#[target_feature(enable = "neon")]
pub(super) fn row_bf16(r: &[bf16], inv_t: f32, chosen: Option<usize>) -> RowStats {
    row(r, inv_t, chosen)
}
