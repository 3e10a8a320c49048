//! Post-hoc calibrators: fit a small monotone map on a labelled holdout so that a stated 80 % is
//! right about 80 % of the time.
//!
//! Each calibrator is split into a `fit` function (validates input, returns a model) and an
//! immutable model with a scalar `predict_one` and a batch `predict`. The definitions follow
//! scikit-learn where it is the reference (isotonic, Platt, temperature), so results can be
//! cross-checked number for number; see docs/definitions/calibrators.md.

pub mod beta;
pub mod histogram;
pub mod isotonic;
mod logistic;
pub mod multiclass;
pub mod pava;
pub mod platt;
mod sort;
pub mod temperature;

pub use beta::BetaModel;
pub use histogram::{Binning, HistogramModel};
pub use isotonic::{Increasing, IsotonicModel, IsotonicOptions, OutOfBounds};
pub use platt::PlattModel;
pub use temperature::TemperatureModel;

pub(crate) use crate::error::check_weights;
use crate::error::{CredoError, Result};
pub use crate::special::{sigmoid, softplus};

/// Rows per parallel chunk: fixed, so that sums are reduced in the same order for any thread count.
pub(crate) const CHUNK: usize = 4096;

/// Validates binary labels given as floats: every value is exactly 0 or 1, and both classes occur
/// (with positive weight).
pub(crate) fn check_binary_labels(y: &[f64], w: Option<&[f64]>) -> Result<()> {
    if let Some(i) = y.iter().position(|&v| v != 0.0 && v != 1.0) {
        return Err(CredoError::invalid(
            "y",
            format!("labels must be 0 or 1, got {} at index {i}", y[i]),
        ));
    }
    let (mut neg, mut pos) = (0.0, 0.0);
    for (i, &v) in y.iter().enumerate() {
        let wi = w.map_or(1.0, |w| w[i]);
        if v > 0.5 {
            pos += wi;
        } else {
            neg += wi;
        }
    }
    if neg <= 0.0 || pos <= 0.0 {
        return Err(CredoError::invalid(
            "y",
            "both classes (0 and 1) must occur with positive weight",
        ));
    }
    Ok(())
}

/// Validates that every value lies in [0, 1] (probabilities), naming `arg`.
pub(crate) fn check_unit_interval(arg: &str, p: &[f64]) -> Result<()> {
    crate::error::check_finite(arg, p)?;
    match p.iter().position(|&v| !(0.0..=1.0).contains(&v)) {
        None => Ok(()),
        Some(i) => Err(CredoError::invalid(
            arg,
            format!("probabilities must lie in [0, 1], got {} at index {i}", p[i]),
        )),
    }
}

/// A 64-bit fingerprint of raw bytes (order-sensitive), recorded in fit summaries so a saved
/// calibrator names the data it was fitted on. Not cryptographic; four independent lanes over
/// 8-byte words keep it at memory speed.
#[must_use]
pub fn fingerprint(bytes: &[u8]) -> u64 {
    let mut h = [1u64, 2, 3, 4];
    let blocks = bytes.chunks_exact(32);
    let rest = blocks.remainder();
    for c in blocks {
        for l in 0..4 {
            let mut word = [0u8; 8];
            word.copy_from_slice(&c[8 * l..8 * l + 8]);
            h[l] = fp_step(h[l], u64::from_le_bytes(word), FP_K[l]);
        }
    }
    for (i, &b) in rest.iter().enumerate() {
        let l = i % 4;
        h[l] = fp_step(h[l], u64::from(b), FP_K[l]);
    }
    fp_finish(h, bytes.len())
}

/// [`fingerprint`] of the little-endian bytes of `xs` widened to f64, without the widened copy:
/// float32 data and the same values as float64 have one fingerprint (fit records name values,
/// not the width they arrived in).
#[must_use]
pub fn fingerprint_widened(xs: &[f32]) -> u64 {
    let mut h = [1u64, 2, 3, 4];
    let blocks = xs.chunks_exact(4); // 4 values of 8 bytes: one 32-byte block of `fingerprint`
    let rest = blocks.remainder();
    for c in blocks {
        for l in 0..4 {
            h[l] = fp_step(h[l], f64::from(c[l]).to_bits(), FP_K[l]);
        }
    }
    for (i, b) in rest.iter().flat_map(|&x| f64::from(x).to_le_bytes()).enumerate() {
        let l = i % 4;
        h[l] = fp_step(h[l], u64::from(b), FP_K[l]);
    }
    fp_finish(h, xs.len() * 8)
}

/// One pass over a float array: finiteness, min, max, non-decreasing order, whether every value
/// is 0 or 1, and [`fingerprint`] of its bytes (identical to hashing the little-endian bytes).
pub(crate) struct Scan {
    pub finite: bool,
    pub sorted: bool,
    pub binary: bool,
    pub min: f64,
    pub max: f64,
    pub hash: u64,
}

const FP_K: [u64; 4] = [
    0x9E37_79B9_7F4A_7C15,
    0xC2B2_AE3D_27D4_EB4F,
    0x1656_67B1_9E37_79F9,
    0x85EB_CA77_C2B2_AE63,
];

#[inline]
fn fp_step(h: u64, v: u64, k: u64) -> u64 {
    (h ^ v).wrapping_mul(k).rotate_left(29)
}

fn fp_finish(h: [u64; 4], len: usize) -> u64 {
    let mut out = len as u64;
    for (l, v) in h.iter().enumerate() {
        out = (out ^ v).wrapping_mul(FP_K[l]).rotate_left(31);
    }
    out ^ (out >> 33)
}

pub(crate) fn scan(xs: &[f64]) -> Scan {
    scan_at(crate::simd::active(), xs)
}

/// [`scan`] at a given level (the level must be supported: callers use [`crate::simd`]).
fn scan_at(level: crate::simd::SimdLevel, xs: &[f64]) -> Scan {
    #[cfg(target_arch = "x86_64")]
    if level == crate::simd::SimdLevel::Avx512 {
        // SAFETY: the dispatch hands out Avx512 only when avx512f, dq and vl were detected.
        return unsafe { scan_avx512(xs) };
    }
    let _ = level;
    scan_portable(xs)
}

/// [`scan_portable`] compiled for AVX-512 (DQ and VL give the four 64-bit multiplies of the
/// hash lanes in one instruction): the same source, so the same result, bit for bit.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl")]
unsafe fn scan_avx512(xs: &[f64]) -> Scan {
    scan_portable(xs)
}

#[inline(always)]
fn scan_portable(xs: &[f64]) -> Scan {
    let mut h = [1u64, 2, 3, 4];
    let (mut finite, mut sorted, mut binary) = (true, true, true);
    // Per-lane extremes, like the hash: one running min would chain every element's compare.
    let (mut lows, mut highs) = ([f64::INFINITY; 4], [f64::NEG_INFINITY; 4]);
    let mut prev = f64::NEG_INFINITY;
    let blocks = xs.chunks_exact(4);
    let rest = blocks.remainder();
    for c in blocks {
        for l in 0..4 {
            let v = c[l];
            h[l] = fp_step(h[l], v.to_bits(), FP_K[l]);
            finite &= v.is_finite();
            sorted &= prev <= v;
            binary &= v == 0.0 || v == 1.0;
            prev = v;
            // plain comparisons: NaN never reaches a caller that uses the range (finite is false)
            lows[l] = if v < lows[l] { v } else { lows[l] };
            highs[l] = if v > highs[l] { v } else { highs[l] };
        }
    }
    let mut lo = lows.iter().fold(f64::INFINITY, |a, &b| a.min(b));
    let mut hi = highs.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
    for (i, &v) in rest.iter().enumerate() {
        for (j, b) in v.to_le_bytes().iter().enumerate() {
            let l = (8 * i + j) % 4;
            h[l] = fp_step(h[l], u64::from(*b), FP_K[l]);
        }
        finite &= v.is_finite();
        sorted &= prev <= v;
        binary &= v == 0.0 || v == 1.0;
        prev = v;
        lo = lo.min(v);
        hi = hi.max(v);
    }
    Scan {
        finite,
        sorted,
        binary,
        min: lo,
        max: hi,
        hash: fp_finish(h, 8 * xs.len()),
    }
}

/// The fingerprint of several arrays: [`fingerprint`] of their 16-hex-digit fingerprints
/// concatenated (absent arrays skipped), as hex. The Python layer combines arrays the same way.
#[must_use]
pub fn combine_fingerprints(parts: &[Option<u64>]) -> String {
    let joined: String = parts.iter().flatten().map(|h| format!("{h:016x}")).collect();
    format!("{:016x}", fingerprint(joined.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigmoid_and_softplus_are_stable() {
        assert!((sigmoid(0.0) - 0.5).abs() < 1e-16);
        assert_eq!(sigmoid(-800.0), 0.0);
        assert_eq!(sigmoid(800.0), 1.0);
        assert!((softplus(800.0) - 800.0).abs() < 1e-12);
        assert!((softplus(0.0) - 2f64.ln()).abs() < 1e-16);
    }

    #[test]
    fn fingerprint_sees_order_and_length() {
        let a: Vec<u8> = (0..100u8).collect();
        let mut b = a.clone();
        b.swap(3, 40);
        assert_ne!(fingerprint(&a), fingerprint(&b));
        assert_ne!(fingerprint(&a), fingerprint(&a[..99]));
        assert_eq!(fingerprint(&a), fingerprint(&a.clone()));
        for n in [0usize, 3, 4, 7, 100] {
            let xs: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
            let bytes: Vec<u8> = xs.iter().flat_map(|v| v.to_le_bytes()).collect();
            assert_eq!(scan(&xs).hash, fingerprint(&bytes));
        }
    }

    #[test]
    fn widened_fingerprint_is_that_of_the_float64_values() {
        for n in [0usize, 1, 3, 4, 5, 8, 9, 101] {
            let xs: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let bytes: Vec<u8> = xs.iter().flat_map(|&v| f64::from(v).to_le_bytes()).collect();
            assert_eq!(fingerprint_widened(&xs), fingerprint(&bytes), "n = {n}");
        }
    }

    #[test]
    fn scan_is_the_same_on_every_path() {
        let mut g = crate::rng::SplitMix64::new(7);
        for n in [0usize, 1, 3, 4, 5, 17, 1000, 4099] {
            let mut xs: Vec<f64> = (0..n).map(|_| g.next_f64() - 0.5).collect();
            for variant in 0..3 {
                match variant {
                    1 => xs.sort_by(f64::total_cmp),
                    2 if n > 2 => xs[n / 2] = f64::NAN,
                    _ => {}
                }
                let slow = scan_portable(&xs);
                for level in crate::simd::supported_levels() {
                    let fast = scan_at(level, &xs);
                    assert_eq!(
                        (fast.hash, fast.finite, fast.sorted, fast.binary),
                        (slow.hash, slow.finite, slow.sorted, slow.binary)
                    );
                    if slow.finite {
                        assert_eq!(
                            (fast.min.to_bits(), fast.max.to_bits()),
                            (slow.min.to_bits(), slow.max.to_bits())
                        );
                    }
                }
            }
        }
    }
}
