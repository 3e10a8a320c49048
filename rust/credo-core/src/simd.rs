//! The crate's one CPU dispatch: which instruction-set level every vector kernel runs at.
//!
//! The level is detected once (`OnceLock`) and may be lowered with the environment variable
//! `CREDO_SIMD=scalar|avx2|avx512|neon|auto`; a request the CPU cannot honour falls back to the
//! best supported level (never to an illegal instruction). Callers may also force a level per
//! call ([`resolve`]), which is how the tests compare every path with the scalar reference.
//! Kernels consult [`active`] (or a level handed down from it) and never detect features
//! themselves, so one environment variable moves every kernel to the same path.

use std::sync::OnceLock;

use crate::error::{CredoError, Result};

/// An instruction-set level the kernels are compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SimdLevel {
    /// Portable float64 reference (also float64 input's path on NEON).
    Scalar,
    /// aarch64 Advanced SIMD (4 float32 lanes).
    Neon,
    /// x86-64 AVX2 + FMA + F16C (8 float32 lanes).
    Avx2,
    /// x86-64 AVX-512 F, DQ and VL (16 float32 lanes).
    Avx512,
}

impl SimdLevel {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Scalar => "scalar",
            Self::Neon => "neon",
            Self::Avx2 => "avx2",
            Self::Avx512 => "avx512",
        }
    }

    /// Parses `scalar|neon|avx2|avx512` (`auto` is handled by the callers).
    #[must_use]
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
    #[must_use]
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
            // DQ and VL give the fingerprint scan its 64-bit lane multiplies; POPCNT the top-k
            // row kernel its mask counts. Every AVX-512 CPU since Skylake-SP has all four.
            #[cfg(target_arch = "x86_64")]
            Self::Avx512 => {
                is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx512dq")
                    && is_x86_feature_detected!("avx512vl")
                    && is_x86_feature_detected!("popcnt")
            }
            #[cfg(target_arch = "aarch64")]
            Self::Neon => std::arch::is_aarch64_feature_detected!("neon"),
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }
}

/// Every level this CPU supports, lowest first (the scalar reference is always there).
#[must_use]
pub fn supported_levels() -> Vec<SimdLevel> {
    [SimdLevel::Scalar, SimdLevel::Neon, SimdLevel::Avx2, SimdLevel::Avx512]
        .into_iter()
        .filter(|l| l.supported())
        .collect()
}

/// The best level this CPU supports.
#[must_use]
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
///
/// # Errors
/// [`CredoError::InvalidArgument`] naming `simd` when the forced level is not supported by this CPU.
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
