//! aarch64 Advanced SIMD lanes: 4 float32 lanes. The loop is [`lanes::row`]. float16 is
//! widened through `half` (stable Rust has no NEON half-precision vector type); bfloat16 by a
//! shift. float64 input runs the scalar reference here.

use std::arch::aarch64::*;

use half::{bf16, f16};

use super::lanes::{self, intrinsics, F32Lanes, Lanes, Load};
use super::RowStats;

/// NEON float32 lanes; made only inside the `neon` entry point below.
#[derive(Clone, Copy)]
pub(super) struct Neon(());

impl Lanes for Neon {
    type F = f32;
    type V = float32x4_t;
    type M = uint32x4_t;
    type Count = uint32x4_t;
    const N: usize = 4;

    intrinsics! {
        splat(x: f32) -> float32x4_t = vdupq_n_f32(x);
        add(a: float32x4_t, b: float32x4_t) -> float32x4_t = vaddq_f32(a, b);
        sub(a: float32x4_t, b: float32x4_t) -> float32x4_t = vsubq_f32(a, b);
        mul(a: float32x4_t, b: float32x4_t) -> float32x4_t = vmulq_f32(a, b);
        mul_add(a: float32x4_t, b: float32x4_t, c: float32x4_t) -> float32x4_t = vfmaq_f32(c, a, b);
        // −(c − a·b): one rounding, as the x86 kernels' fmsub.
        mul_sub(a: float32x4_t, b: float32x4_t, c: float32x4_t) -> float32x4_t = vnegq_f32(vfmsq_f32(c, a, b));
        neg_mul_add(a: float32x4_t, b: float32x4_t, c: float32x4_t) -> float32x4_t = vfmsq_f32(c, a, b);
        max(a: float32x4_t, b: float32x4_t) -> float32x4_t = vmaxq_f32(a, b);
        min(a: float32x4_t, b: float32x4_t) -> float32x4_t = vminq_f32(a, b);
        gt(a: float32x4_t, b: float32x4_t) -> uint32x4_t = vcgtq_f32(a, b);
        ge(a: float32x4_t, b: float32x4_t) -> uint32x4_t = vcgeq_f32(a, b);
        // `fmax` gives NaN where either is NaN, and a NaN is not equal to itself.
        unordered(a: float32x4_t, b: float32x4_t) -> uint32x4_t = {
            let c = vmaxq_f32(a, b);
            vmvnq_u32(vceqq_f32(c, c))
        };
        or(a: uint32x4_t, b: uint32x4_t) -> uint32x4_t = vorrq_u32(a, b);
        any(m: uint32x4_t) -> bool = vmaxvq_u32(m) != 0;
        none() -> uint32x4_t = vdupq_n_u32(0);
        count_zero() -> uint32x4_t = vdupq_n_u32(0);
        // A true comparison is all ones: subtracting it counts.
        count(c: uint32x4_t, m: uint32x4_t) -> uint32x4_t = vsubq_u32(c, m);
        total(c: uint32x4_t) -> u64 = u64::from(vaddvq_u32(c));
        hmax(v: float32x4_t) -> f32 = vmaxvq_f32(v);
        store(v: float32x4_t, out: &mut [f32; 16]) -> () = vst1q_f32(out.as_mut_ptr(), v);
    }

    #[inline(always)]
    fn hsum(self, v: float32x4_t) -> f64 {
        let mut out = [0.0f32; 16];
        self.store(v, &mut out);
        super::sum_f64(&out[..4])
    }
}

impl F32Lanes for Neon {
    #[inline(always)]
    fn scale_pow2(self, q: float32x4_t, k: float32x4_t) -> float32x4_t {
        // SAFETY: the token proves NEON.
        unsafe {
            // 2ⁿ: n + 127 shifted into the exponent field (n + 127 = 0 gives 0).
            let p = vreinterpretq_f32_u32(vshlq_n_u32::<23>(vreinterpretq_u32_f32(k)));
            vfmaq_f32(p, p, q)
        }
    }
}

impl Load<Neon> for f32 {
    #[inline(always)]
    unsafe fn load(_: Neon, p: *const f32) -> float32x4_t {
        // SAFETY: the caller guarantees 4 readable floats; the token proves NEON.
        unsafe { vld1q_f32(p) }
    }
}

impl Load<Neon> for f16 {
    #[inline(always)]
    unsafe fn load(_: Neon, p: *const f16) -> float32x4_t {
        // SAFETY: the caller guarantees 4 readable halves.
        let h = unsafe { std::slice::from_raw_parts(p, 4) };
        let w = [h[0].to_f32(), h[1].to_f32(), h[2].to_f32(), h[3].to_f32()];
        // SAFETY: `w` holds 4 floats.
        unsafe { vld1q_f32(w.as_ptr()) }
    }
}

impl Load<Neon> for bf16 {
    #[inline(always)]
    unsafe fn load(_: Neon, p: *const bf16) -> float32x4_t {
        // SAFETY: 4 readable bfloat16; bfloat16 is the top half of a float32.
        unsafe { vreinterpretq_f32_u32(vshll_n_u16::<16>(vld1_u16(p.cast()))) }
    }
}

lanes::chunk_loops!("neon", Neon);

/// The statistics of one row of float32, float16 or bfloat16 in float32 lanes.
#[target_feature(enable = "neon")]
pub(super) fn row<T: Load<Neon>>(r: &[T], inv_t: f32, chosen: Option<usize>) -> RowStats {
    lanes::row(Neon(()), r, inv_t, chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// At T = 1 the sums' unit form has the scaled form's bits, in every lane dtype.
    #[test]
    fn unit_sums_have_the_bits_of_the_scaled_sums() {
        if !std::arch::is_aarch64_feature_detected!("neon") {
            return;
        }
        let (f, h, b, _) = crate::signals::simd::tests::unit_rows();
        lanes::assert_unit_sums_are_scaled(Neon(()), &f);
        lanes::assert_unit_sums_are_scaled(Neon(()), &h);
        lanes::assert_unit_sums_are_scaled(Neon(()), &b);
    }
}
