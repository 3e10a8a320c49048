//! Runtime CPU dispatch for the fused per-row logit pass.
//!
//! The level is detected once (`OnceLock`) and may be lowered with the environment variable
//! `CREDO_SIMD=scalar|avx2|avx512|neon|auto`; a request the CPU cannot honour falls back to the
//! best supported level (never to an illegal instruction). Callers may also force a level per
//! call ([`resolve`]), which is how the tests compare every path with the scalar reference.
//!
//! Every kernel returns the same [`RowStats`] for one row; the scalar kernel is the reference
//! (float64 arithmetic throughout), the vector kernels work in float32 lanes with float64
//! accumulation per chunk; float64 input has its own AVX-512 kernel in float64 lanes.

use std::sync::OnceLock;

use half::{bf16, f16};

use crate::error::{CredoError, Result};

mod exp;
#[cfg(target_arch = "aarch64")]
mod neon;
pub(crate) mod scalar;
#[cfg(target_arch = "x86_64")]
mod x86_avx2;
#[cfg(target_arch = "x86_64")]
mod x86_avx512;
#[cfg(target_arch = "x86_64")]
mod x86_avx512_f64;

/// Elements per chunk of the vector kernels: a chunk is scanned for its maximum and then summed
/// while it is still in L1, so the row is read from memory once. 2048 float32 = 8 KiB.
pub(crate) const CHUNK: usize = 2048;

/// An instruction-set level the kernels are compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SimdLevel {
    /// Portable float64 reference (also float64 input's path below AVX-512).
    Scalar,
    /// aarch64 Advanced SIMD (4 float32 lanes).
    Neon,
    /// x86-64 AVX2 + FMA + F16C (8 float32 lanes).
    Avx2,
    /// x86-64 AVX-512F (16 float32 lanes).
    Avx512,
}

impl SimdLevel {
    pub fn name(self) -> &'static str {
        match self {
            Self::Scalar => "scalar",
            Self::Neon => "neon",
            Self::Avx2 => "avx2",
            Self::Avx512 => "avx512",
        }
    }

    /// Parses `scalar|neon|avx2|avx512` (`auto` is handled by the callers).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "scalar" => Some(Self::Scalar),
            "neon" => Some(Self::Neon),
            "avx2" => Some(Self::Avx2),
            "avx512" | "avx512f" => Some(Self::Avx512),
            _ => None,
        }
    }

    /// Whether this CPU can run the level.
    pub fn supported(self) -> bool {
        match self {
            Self::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Self::Avx2 => {
                // POPCNT too (the top-k row kernel counts mask bits); every AVX2 CPU has it.
                is_x86_feature_detected!("avx2")
                    && is_x86_feature_detected!("fma")
                    && is_x86_feature_detected!("f16c")
                    && is_x86_feature_detected!("popcnt")
            }
            #[cfg(target_arch = "x86_64")]
            // POPCNT too: the top-k row kernel counts mask bits (every AVX-512 CPU has it).
            Self::Avx512 => is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("popcnt"),
            #[cfg(target_arch = "aarch64")]
            Self::Neon => std::arch::is_aarch64_feature_detected!("neon"),
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }
}

/// Every level this CPU supports, lowest first (the scalar reference is always there).
pub fn supported_levels() -> Vec<SimdLevel> {
    [SimdLevel::Scalar, SimdLevel::Neon, SimdLevel::Avx2, SimdLevel::Avx512]
        .into_iter()
        .filter(|l| l.supported())
        .collect()
}

/// The best level this CPU supports.
pub fn detected() -> SimdLevel {
    *supported_levels().last().unwrap_or(&SimdLevel::Scalar)
}

/// The process-wide level: detected once, lowered by `CREDO_SIMD` when set.
pub fn active() -> SimdLevel {
    static LEVEL: OnceLock<SimdLevel> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        let best = detected();
        match std::env::var("CREDO_SIMD").ok().as_deref().and_then(SimdLevel::parse) {
            Some(want) if want.supported() => want,
            // An unknown or unsupported request keeps the detected level: never a SIGILL.
            _ => best,
        }
    })
}

/// The level for one call: `None` is the process-wide level; a forced level must be supported.
pub fn resolve(forced: Option<SimdLevel>) -> Result<SimdLevel> {
    match forced {
        None => Ok(active()),
        Some(l) if l.supported() => Ok(l),
        Some(l) => Err(CredoError::invalid(
            "simd",
            format!(
                "{} is not supported by this CPU (supported: {})",
                l.name(),
                names(&supported_levels())
            ),
        )),
    }
}

fn names(levels: &[SimdLevel]) -> String {
    levels.iter().map(|l| l.name()).collect::<Vec<_>>().join(", ")
}

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
            SimdLevel::Avx512 => unsafe { x86_avx512_f64::row_f64(row, inv_t, chosen) },
            _ => scalar::row_stats(row, inv_t, chosen),
        }
    }
}

/// Vector dispatch for the float32-lane types; `$avx512`/`$avx2`/`$neon` are the kernel names.
macro_rules! lane_type {
    ($t:ty, $name:literal, $neg:expr, $conv:expr, $f:ident) => {
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
                    SimdLevel::Avx512 => unsafe { x86_avx512::$f(row, inv_t as f32, chosen) },
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: as above (avx2, fma and f16c were detected).
                    SimdLevel::Avx2 => unsafe { x86_avx2::$f(row, inv_t as f32, chosen) },
                    #[cfg(target_arch = "aarch64")]
                    // SAFETY: as above (neon was detected).
                    SimdLevel::Neon => unsafe { neon::$f(row, inv_t as f32, chosen) },
                    _ => scalar::row_stats(row, inv_t, chosen),
                }
            }
        }
    };
}

lane_type!(f32, "float32", f32::NEG_INFINITY, |x| f64::from(x), row_f32);
lane_type!(f16, "float16", f16::NEG_INFINITY, |x| x.to_f64(), row_f16);
lane_type!(bf16, "bfloat16", bf16::NEG_INFINITY, |x| x.to_f64(), row_bf16);

/// Combines per-lane top-1/top-2/argmax into the row's (top-1, top-2, argmax). The argmax is
/// the first index holding the maximum; a tie for the maximum makes top-2 equal top-1. Lanes of
/// float32 or float64, indices of 32 or 64 bits (float32 → float64 is exact, so the comparisons
/// are the lanes' own).
pub(crate) fn merge_lanes<F: Copy + Into<f64>, I: Copy + Into<i64>>(
    m1: &[F],
    m2: &[F],
    idx: &[I],
) -> (f64, f64, usize) {
    let mut best = f64::NEG_INFINITY;
    let mut arg = usize::MAX;
    let mut best_lane = usize::MAX;
    for (lane, (&v, &i)) in m1.iter().zip(idx).enumerate() {
        let (v, i) = (v.into(), i.into() as usize);
        if v > best || (v == best && i < arg) {
            best = v;
            arg = i;
            best_lane = lane;
        }
    }
    let mut second = f64::NEG_INFINITY;
    for (lane, (&a, &b)) in m1.iter().zip(m2).enumerate() {
        if lane != best_lane {
            second = second.max(a.into());
        }
        second = second.max(b.into());
    }
    if best_lane == usize::MAX {
        arg = 0;
    }
    (best, second, arg)
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
