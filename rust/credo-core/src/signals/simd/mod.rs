//! The fused per-row logit pass, one kernel per instruction-set level.
//!
//! The level comes from the crate's one dispatch, [`crate::simd`] (re-exported here for the
//! callers that name it through `signals::simd`).
//!
//! Every kernel returns the same [`RowStats`] for one row; the scalar kernel is the reference
//! (float64 arithmetic throughout). The vector kernels are one loop (`lanes.rs`) over each
//! level's lane operations: float32 lanes with float64 accumulation per chunk for float32,
//! float16 and bfloat16 input, float64 lanes for float64 input (AVX-512 and AVX2).

use half::{bf16, f16};

pub use crate::simd::{active, detected, resolve, supported_levels, SimdLevel};

mod exp;
#[cfg_attr(not(any(target_arch = "x86_64", target_arch = "aarch64")), allow(dead_code))]
mod lanes;
#[cfg(target_arch = "aarch64")]
mod neon;
pub(crate) mod scalar;
#[cfg(target_arch = "x86_64")]
mod x86_avx2;
#[cfg(target_arch = "x86_64")]
mod x86_avx512;

/// What one pass over a row of logits yields; all derived signals follow from it.
///
/// `max`/`second`/`argmax`/`greater` are on the raw logits; `s` and `w` are
/// Σ exp(xᵢ/T − m) and Σ exp(xᵢ/T − m)·(xᵢ/T − m) for the scaled reference `m`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RowStats {
    pub max: f64,
    pub second: f64,
    pub argmax: usize,
    /// The reference maximum of the scaled logits (`max / T` as the kernel computed it).
    pub m: f64,
    /// The 1/T the kernel scaled by: 1/T itself in float64, rounded to float32 in the float32
    /// lanes (a relative change below 6e-8, under the input's own precision). Log-probabilities
    /// are formed with this same scale, so they are consistent with `s` and `w` to the last
    /// bits: every scaled logit is `x·inv_t − m` with one rounding (a fused multiply-subtract),
    /// and `max·inv_t − m` is exact in float64.
    pub inv_t: f64,
    pub s: f64,
    pub w: f64,
    /// Entries strictly greater than the chosen logit (0 when no token was chosen).
    pub greater: u64,
    /// A NaN or `+inf` entry was seen (the other fields are then meaningless).
    pub bad: bool,
}

/// An input element type the kernels accept.
pub trait Logit: Copy + Send + Sync + 'static {
    const NEG_INF: Self;
    /// The dtype's name, for messages.
    const NAME: &'static str;
    fn to_f64(self) -> f64;
    /// The row's statistics at `level` (the level must be supported; callers use [`resolve`]).
    fn row_stats(level: SimdLevel, row: &[Self], inv_t: f64, chosen: Option<usize>) -> RowStats;
}

impl Logit for f64 {
    const NEG_INF: Self = f64::NEG_INFINITY;
    const NAME: &'static str = "float64";
    fn to_f64(self) -> f64 {
        self
    }
    fn row_stats(level: SimdLevel, row: &[Self], inv_t: f64, chosen: Option<usize>) -> RowStats {
        // float64 input keeps float64 precision: float64 lanes, or the float64 reference.
        match level {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `resolve` only hands out levels the CPU supports.
            SimdLevel::Avx512 => unsafe { x86_avx512::row_f64(row, inv_t, chosen) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above (avx2 and fma were detected).
            SimdLevel::Avx2 => unsafe { x86_avx2::row_f64(row, inv_t, chosen) },
            _ => scalar::row_stats(row, inv_t, chosen),
        }
    }
}

/// Vector dispatch for the float32-lane types.
macro_rules! lane_type {
    ($t:ty, $name:literal, $neg:expr, $conv:expr) => {
        impl Logit for $t {
            const NEG_INF: Self = $neg;
            const NAME: &'static str = $name;
            #[inline]
            fn to_f64(self) -> f64 {
                let conv: fn($t) -> f64 = $conv;
                conv(self)
            }
            fn row_stats(level: SimdLevel, row: &[Self], inv_t: f64, chosen: Option<usize>) -> RowStats {
                match level {
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: `resolve` only hands out levels the CPU supports.
                    SimdLevel::Avx512 => unsafe { x86_avx512::row(row, inv_t as f32, chosen) },
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: as above (avx2, fma and f16c were detected).
                    SimdLevel::Avx2 => unsafe { x86_avx2::row(row, inv_t as f32, chosen) },
                    #[cfg(target_arch = "aarch64")]
                    // SAFETY: as above (neon was detected).
                    SimdLevel::Neon => unsafe { neon::row(row, inv_t as f32, chosen) },
                    _ => within_float32_lanes(scalar::row_stats(row, inv_t, chosen), inv_t),
                }
            }
        }
    };
}

/// The scalar reference for the float32-lane types keeps the lanes' range. The vector kernels
/// scale by 1/T in float32, so a row whose scaled maximum is not finite there is refused (as a
/// temperature that overflows float32); the float64 reference would have read it, and a row
/// must not be valid only when the scalar level is forced.
fn within_float32_lanes(mut st: RowStats, inv_t: f64) -> RowStats {
    if st.max.is_finite() && !((st.max as f32) * (inv_t as f32)).is_finite() {
        st.bad = true;
    }
    st
}

lane_type!(f32, "float32", f32::NEG_INFINITY, |x| f64::from(x));
lane_type!(f16, "float16", f16::NEG_INFINITY, |x| x.to_f64());
lane_type!(bf16, "bfloat16", bf16::NEG_INFINITY, |x| x.to_f64());

/// Combines per-lane top-1/top-2 into the row's (top-1, top-2). A tie for the maximum makes
/// top-2 equal top-1. Lanes of float32 or float64 (float32 → float64 is exact, so the
/// comparisons are the lanes' own).
pub(crate) fn merge_lanes<F: Copy + Into<f64>>(m1: &[F], m2: &[F]) -> (f64, f64) {
    let best = m1.iter().fold(f64::NEG_INFINITY, |a, &v| a.max(v.into()));
    // One lane holding the maximum gives it as top-1; any other lane's top-1 may be the top-2.
    let best_lane = m1.iter().position(|&v| v.into() == best);
    let mut second = f64::NEG_INFINITY;
    for (lane, (&a, &b)) in m1.iter().zip(m2).enumerate() {
        if Some(lane) != best_lane {
            second = second.max(a.into());
        }
        second = second.max(b.into());
    }
    (best, second)
}

/// Sum of float32 lanes in float64 (once per chunk, so the order cost is nil).
#[inline]
pub(crate) fn sum_f64(lanes: &[f32]) -> f64 {
    lanes.iter().map(|&x| f64::from(x)).sum()
}

/// Rescales running sums (s, w) from reference `old` to a larger reference `new`:
/// s' = s·e^d, w' = e^d·(w + d·s) with d = old − new.
#[inline]
pub(crate) fn rescale(s: &mut f64, w: &mut f64, old: f64, new: f64) {
    if *s > 0.0 {
        let d = old - new;
        let e = d.exp();
        *w = e * (*w + d * *s);
        *s *= e;
    }
}

#[cfg(test)]
pub(crate) mod tests;
