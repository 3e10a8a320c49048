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

/// Whether code compiled for AVX2 with POPCNT and BMI1 (the isotonic sort's and PAVA's loops)
/// may run at `level`: the AVX2 and AVX-512 levels, on a CPU with those features (every CPU with
/// either level has them; the check makes sure).
#[cfg(target_arch = "x86_64")]
pub(crate) fn avx2_code(level: crate::simd::SimdLevel) -> bool {
    use crate::simd::SimdLevel;
    matches!(level, SimdLevel::Avx2 | SimdLevel::Avx512)
        && is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("popcnt")
        && is_x86_feature_detected!("bmi1")
}

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
    fingerprint_words(xs, |v| f64::from(v).to_bits())
}

/// [`fingerprint`] of the little-endian bytes of 64-bit values (`bits` gives each one's bits:
/// float64 bits, int64 labels), without a byte view of the slice.
pub(crate) fn fingerprint_words<V: Copy>(xs: &[V], bits: impl Fn(V) -> u64) -> u64 {
    let mut h = [1u64, 2, 3, 4];
    let blocks = xs.chunks_exact(4); // 4 values of 8 bytes: one 32-byte block of `fingerprint`
    let rest = blocks.remainder();
    for c in blocks {
        for l in 0..4 {
            h[l] = fp_step(h[l], bits(c[l]), FP_K[l]);
        }
    }
    for (i, b) in rest.iter().flat_map(|&x| bits(x).to_le_bytes()).enumerate() {
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
    match level {
        // SAFETY: the dispatch hands out Avx512 only when avx512f, dq and vl were detected.
        crate::simd::SimdLevel::Avx512 => return unsafe { scan_avx512(xs) },
        // SAFETY: the dispatch hands out Avx2 only when avx2 was detected.
        crate::simd::SimdLevel::Avx2 => return unsafe { scan_avx2(xs) },
        _ => {}
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

/// [`scan_portable`] compiled for AVX2: the checks of four values in one 256-bit step each.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn scan_avx2(xs: &[f64]) -> Scan {
    scan_portable(xs)
}

#[inline(always)]
fn scan_portable(xs: &[f64]) -> Scan {
    let mut h = [1u64, 2, 3, 4];
    // Flags as lanes of 0 / 1 and per-lane extremes, like the hash: no check chains one value
    // to the next (order compares each value with the one before, a load), so they vectorise.
    // Finite values have v·0 = ±0, so those sums stay 0 exactly when every value is finite.
    let (mut zero, mut ordered, mut other) = ([0.0f64; 4], [1u64; 4], [0u64; 4]);
    let (mut lows, mut highs) = ([f64::INFINITY; 4], [f64::NEG_INFINITY; 4]);
    let whole = xs.len() / 4 * 4;
    let mut prev = f64::NEG_INFINITY;
    // A few kB at a time, hashed in one loop and checked in another while in L1: the hash is
    // scalar (64-bit multiplies), the checks are vector operations, and apart neither waits on
    // moving values between the two.
    let mut start = 0;
    while start < whole {
        let end = (start + SCAN_PIECE).min(whole);
        for c in xs[start..end].chunks_exact(4) {
            for l in 0..4 {
                h[l] = fp_step(h[l], c[l].to_bits(), FP_K[l]);
            }
        }
        for c in xs[start..end].chunks_exact(4) {
            let before = [prev, c[0], c[1], c[2]];
            for l in 0..4 {
                let v = c[l];
                zero[l] += v * 0.0;
                ordered[l] &= u64::from(before[l] <= v);
                // v·(v − 1) is ±0 only for v in {0, 1}: otherwise one factor is at least ½
                // in size and the other a nonzero float, so the product does not round to 0
                // (NaN and ±inf give NaN or inf); the shift drops the sign
                other[l] |= (v * (v - 1.0)).to_bits() << 1;
                // plain comparisons: NaN never reaches a caller that uses the range (finite
                // is false)
                lows[l] = if v < lows[l] { v } else { lows[l] };
                highs[l] = if v > highs[l] { v } else { highs[l] };
            }
            prev = c[3];
        }
        start = end;
    }
    let mut finite = zero.iter().all(|&z| z == 0.0);
    let mut sorted = ordered.iter().all(|&b| b == 1);
    let mut binary = other.iter().all(|&b| b == 0);
    let mut lo = lows.iter().fold(f64::INFINITY, |a, &b| a.min(b));
    let mut hi = highs.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
    for (i, &v) in xs[whole..].iter().enumerate() {
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

/// Values per step of [`scan_portable`]: 4 kB, in L1 between its two loops.
const SCAN_PIECE: usize = 512;

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

    /// The flags and range of [`scan`] by their definitions, one value at a time.
    fn plain_scan(xs: &[f64]) -> (bool, bool, bool, f64, f64) {
        let finite = xs.iter().all(|v| v.is_finite());
        let sorted = xs.windows(2).all(|p| p[0] <= p[1]) && xs.first().is_none_or(|v| !v.is_nan());
        let binary = xs.iter().all(|&v| v == 0.0 || v == 1.0);
        let lo = xs.iter().fold(f64::INFINITY, |a, &b| a.min(b));
        let hi = xs.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
        (finite, sorted, binary, lo, hi)
    }

    #[test]
    fn scan_agrees_with_the_definitions() {
        let edge = [
            0.0,
            -0.0,
            1.0,
            1.0 + f64::EPSILON,
            1.0 - f64::EPSILON / 2.0,
            f64::MIN_POSITIVE / 4.0,
            -f64::MIN_POSITIVE / 4.0,
            5e-324,
            f64::MAX,
            -1.0,
            2.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        let mut g = crate::rng::SplitMix64::new(9);
        for n in [0usize, 1, 2, 3, 4, 5, 8, 9, 511, 512, 513, 1027, 3000] {
            for case in 0..40 {
                // labels, sorted labels, sorted values with repeats, or any mix, each with a
                // few edge values planted (or none)
                let mut xs: Vec<f64> = (0..n)
                    .map(|_| match case % 4 {
                        0 | 1 => (g.next_f64() * 2.0).floor(),
                        2 => (g.next_f64() * 8.0).floor() / 4.0,
                        _ => g.next_f64() - 0.5,
                    })
                    .collect();
                if case % 4 == 1 || case % 4 == 2 {
                    xs.sort_by(f64::total_cmp);
                }
                for _ in 0..(case / 4) % 3 {
                    if n > 0 {
                        let i = (g.next_f64() * n as f64) as usize;
                        xs[i] = edge[(g.next_f64() * edge.len() as f64) as usize];
                    }
                }
                let (finite, sorted, binary, lo, hi) = plain_scan(&xs);
                let s = scan(&xs);
                assert_eq!(
                    (s.finite, s.sorted, s.binary),
                    (finite, sorted, binary),
                    "n {n} case {case}"
                );
                if finite {
                    assert_eq!((s.min, s.max), (lo, hi), "n {n} case {case}");
                }
            }
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
