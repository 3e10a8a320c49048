//! The split-conformal quantile: the k-th smallest of n scores with k = ⌈(n+1)(1−α)⌉.
//!
//! `Exact` reads α as the decimal it prints as (its shortest round-trip representation, so
//! `0.95` means 95/100) and computes k in integer arithmetic. `Compat` evaluates
//! `ceil((n+1)*(1-α))` in float64 as MAPIE 1.6 and TorchCP do; for a few (n, α) (e.g. n = 19,
//! α = 0.95) the float gives one order statistic more than the exact rule. Exact is therefore
//! sometimes one statistic lower, and never less valid for the decimal α the user wrote.

use std::mem::MaybeUninit;

use crate::error::{check_not_nan, check_open_unit, CredoError, Result};
use crate::simd::SimdLevel;

/// How k = ⌈(n+1)(1−α)⌉ is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantileMode {
    /// Integer arithmetic on α's shortest decimal representation.
    Exact,
    /// The float64 expression `ceil((n+1)*(1-α))` (MAPIE, TorchCP).
    Compat,
}

crate::choices!(QuantileMode, "mode", {
    "exact" => QuantileMode::Exact,
    "compat" => QuantileMode::Compat,
});

/// α as the exact fraction m / 10^d of its shortest decimal representation.
fn decimal_parts(alpha: f64) -> (u128, u32) {
    // `{:e}` prints the shortest representation that round-trips, e.g. "9.5e-1".
    let s = format!("{alpha:e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((s.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits: u128 = format!("{int_part}{frac_part}").parse().unwrap_or(0);
    let d = frac_part.len() as i32 - exp;
    // alpha < 1 always has a negative exponent here, so d >= 1.
    (digits, d.max(0).unsigned_abs())
}

/// The rank k = ⌈(n+1)(1−α)⌉ (1-based); k may be n + 1, meaning the quantile is +∞.
pub fn conformal_rank(n: usize, alpha: f64, mode: QuantileMode) -> Result<usize> {
    check_open_unit("alpha", alpha)?;
    let big_n = n as u128 + 1;
    match mode {
        QuantileMode::Exact => {
            // ⌈N − N·α⌉ = N − ⌊N·α⌋ with α = m / 10^d.
            let (m, d) = decimal_parts(alpha);
            let floor = if d >= 38 { 0 } else { big_n * m / 10u128.pow(d) };
            Ok((big_n - floor) as usize)
        }
        QuantileMode::Compat => {
            let k = ((n as f64 + 1.0) * (1.0 - alpha)).ceil();
            Ok(k.max(1.0) as usize)
        }
    }
}

/// The conformal quantile of `scores`, or `+∞` when k > n (too few scores for level 1 − α).
/// Scores of ±∞ are ordered values (−∞: a sample with nothing nonconforming, as a prompt with
/// no false claim); only NaN is refused.
/// With `raise_if_infinite`, that case is an error naming `scores` and the size needed instead.
pub fn conformal_quantile(scores: &[f64], alpha: f64, mode: QuantileMode, raise_if_infinite: bool) -> Result<f64> {
    if scores.is_empty() {
        return Err(CredoError::empty("scores", "needs at least one calibration score"));
    }
    let n = scores.len();
    let rank = conformal_rank(n, alpha, mode);
    if let Some(k) = rank.as_ref().ok().copied().filter(|&k| k <= n) {
        // the NaN check rides on the selection's one pass over the scores
        return kth_smallest_checked(scores, k).ok_or_else(|| nan_error(scores));
    }
    check_not_nan("scores", scores)?;
    let k = rank?;
    if k > n {
        if raise_if_infinite {
            let need = min_calibration_size(alpha, mode)?;
            return Err(CredoError::empty(
                "scores",
                format!("{n} calibration scores are too few for alpha={alpha}: at least {need} are needed for a finite quantile"),
            ));
        }
        return Ok(f64::INFINITY);
    }
    Ok(kth_smallest(scores, k))
}

fn nan_error(scores: &[f64]) -> CredoError {
    check_not_nan("scores", scores)
        .err()
        .unwrap_or_else(|| CredoError::non_finite("scores", "NaN"))
}

/// The k-th smallest (1-based, 1 ≤ k ≤ n) of values without NaN, in O(n), in the order of
/// [`f64::total_cmp`] (−0.0 before +0.0).
pub fn kth_smallest(values: &[f64], k: usize) -> f64 {
    let mut keys: Vec<u64> = values.iter().map(|&x| order_key(x)).collect();
    from_order_key(*keys.select_nth_unstable(k - 1).1)
}

/// A float's bits as an unsigned integer in the order of [`f64::total_cmp`], so that selection
/// compares plain integers.
#[inline(always)]
fn order_key(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | 1 << 63
    }
}

fn from_order_key(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

/// Below this many values, selection runs on a plain copy of all keys.
const SAMPLED_SELECT_MIN: usize = 8192;
/// Values sampled to bracket the k-th (Floyd & Rivest's idea).
const SAMPLE: usize = 1024;

/// [`kth_smallest`], or `None` when a value is NaN, in one pass over `values`: the k-th lies,
/// with high probability, between two order statistics of an evenly spaced sample; the pass
/// counts the values below that bracket and keeps the few inside it (branch-free; 4 values per
/// step with AVX2), then selects among those. When the bracket misses (rare; any input is still answered exactly), all keys
/// are selected from.
pub fn kth_smallest_checked(values: &[f64], k: usize) -> Option<f64> {
    let n = values.len();
    assert!((1..=n).contains(&k), "rank {k} outside 1..={n}");
    if n < SAMPLED_SELECT_MIN {
        let mut nan = false;
        let mut keys: Vec<u64> = (values.iter())
            .map(|&x| {
                nan |= x.is_nan();
                order_key(x)
            })
            .collect();
        return (!nan).then(|| from_order_key(*keys.select_nth_unstable(k - 1).1));
    }
    let (lo, hi) = bracket(values, k);
    let mut inside: Vec<u64> = Vec::with_capacity(n);
    let slots = &mut inside.spare_capacity_mut()[..n];
    let Pass { below, len, nan } = bracket_pass_at(crate::simd::active(), values, lo, hi, slots);
    if nan {
        return None;
    }
    // SAFETY: slots[..len] were written (each kept key is written before len passes it).
    unsafe { inside.set_len(len) };
    if below < k && k <= below + len {
        return Some(from_order_key(*inside.select_nth_unstable(k - 1 - below).1));
    }
    Some(kth_smallest(values, k))
}

/// What the bracket pass found: how many keys lie below the bracket, how many inside it (the
/// first `len` slots), and whether a value was NaN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Pass {
    below: usize,
    len: usize,
    nan: bool,
}

/// The pass of [`kth_smallest_checked`] over `values` at `level`: the keys within `[lo, hi]`
/// written in order to `slots[..len]` (`slots` as long as `values`; the others may be written
/// too), counted below, NaN noted. The scalar loop is the reference the AVX2 path is tested
/// against; levels without a vector path here run it.
fn bracket_pass_at(level: SimdLevel, values: &[f64], lo: u64, hi: u64, slots: &mut [MaybeUninit<u64>]) -> Pass {
    assert!(slots.len() >= values.len(), "a slot per value");
    #[cfg(target_arch = "x86_64")]
    if level >= SimdLevel::Avx2 && level.supported() {
        // SAFETY: the CPU supports AVX2 (checked just above); slots are as many as values.
        return unsafe { bracket_pass_avx2(values, lo, hi, slots) };
    }
    let _ = level;
    bracket_pass_scalar(values, lo, hi, Pass::default(), slots)
}

/// The scalar pass, continuing from `at` (branch-free: every key is written to the next slot,
/// which only a key inside the bracket keeps).
fn bracket_pass_scalar(values: &[f64], lo: u64, hi: u64, at: Pass, slots: &mut [MaybeUninit<u64>]) -> Pass {
    let mut p = at;
    for &x in values {
        let key = order_key(x);
        p.nan |= x.is_nan();
        p.below += usize::from(key < lo);
        slots[p.len].write(key);
        p.len += usize::from(key >= lo && key <= hi);
    }
    p
}

/// For each 4-bit mask of kept lanes, the 32-bit lane indices that move the kept 64-bit lanes,
/// in order, to the front of a vector.
#[cfg(target_arch = "x86_64")]
const COMPRESS_4X64: [[i32; 8]; 16] = {
    let mut t = [[0i32; 8]; 16];
    let mut m = 0;
    while m < 16 {
        let (mut lane, mut out) = (0usize, 0usize);
        while lane < 4 {
            if m >> lane & 1 == 1 {
                t[m][2 * out] = 2 * lane as i32;
                t[m][2 * out + 1] = 2 * lane as i32 + 1;
                out += 1;
            }
            lane += 1;
        }
        m += 1;
    }
    t
};

/// The pass, 4 values per step: the keys are compared as signed integers (each key with its top
/// bit flipped, so the unsigned order becomes the signed one AVX2 compares in), the kept ones
/// moved to the front of the vector by one permutation and stored at once at `slots[len]` (the
/// lanes past them are overwritten by the next store, or lie beyond `len`); the last values go
/// through the scalar loop.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn bracket_pass_avx2(values: &[f64], lo: u64, hi: u64, slots: &mut [MaybeUninit<u64>]) -> Pass {
    use std::arch::x86_64::*;
    let n = values.len();
    let top = _mm256_set1_epi64x(i64::MIN);
    let (slo, shi) = (
        _mm256_set1_epi64x((lo ^ 1 << 63) as i64),
        _mm256_set1_epi64x((hi ^ 1 << 63) as i64),
    );
    let (mut below, mut nan) = (_mm256_setzero_si256(), _mm256_setzero_pd());
    let mut len = 0usize;
    let blocks = n / 4;
    for b in 0..blocks {
        // SAFETY: values[4b..4b + 4] lies within values (b < n / 4).
        let v = unsafe { _mm256_loadu_pd(values.as_ptr().add(4 * b)) };
        nan = _mm256_or_pd(nan, _mm256_cmp_pd::<_CMP_UNORD_Q>(v, v));
        let bits = _mm256_castpd_si256(v);
        // order_key with the top bit flipped: a negative value's other bits inverted
        let neg = _mm256_cmpgt_epi64(_mm256_setzero_si256(), bits);
        let skey = _mm256_xor_si256(bits, _mm256_srli_epi64::<1>(neg));
        let under = _mm256_cmpgt_epi64(slo, skey);
        below = _mm256_sub_epi64(below, under);
        let out = _mm256_or_si256(under, _mm256_cmpgt_epi64(skey, shi));
        let keep = !_mm256_movemask_pd(_mm256_castsi256_pd(out)) & 0xF;
        // SAFETY: 32 bytes of a [i32; 8].
        let order = unsafe { _mm256_loadu_si256(COMPRESS_4X64[keep as usize].as_ptr().cast()) };
        let kept = _mm256_permutevar8x32_epi32(_mm256_xor_si256(skey, top), order);
        // SAFETY: len ≤ 4b (a step keeps at most its 4 values), so slots[len..len + 4] lies
        // within the first 4b + 4 ≤ n slots.
        unsafe { _mm256_storeu_si256(slots.as_mut_ptr().add(len).cast(), kept) };
        len += keep.count_ones() as usize;
    }
    let mut counts = [0u64; 4];
    // SAFETY: 32 bytes into a [u64; 4].
    unsafe { _mm256_storeu_si256(counts.as_mut_ptr().cast(), below) };
    let at = Pass {
        below: counts.iter().sum::<u64>() as usize,
        len,
        nan: _mm256_movemask_pd(nan) != 0,
    };
    bracket_pass_scalar(&values[4 * blocks..], lo, hi, at, slots)
}

/// Keys bracketing the k-th smallest of `values` (n ≥ [`SAMPLED_SELECT_MIN`]): the sample's
/// order statistics about 3 standard deviations either side of its rank k·m/n.
fn bracket(values: &[f64], k: usize) -> (u64, u64) {
    let n = values.len();
    let mut sample: Vec<u64> = (0..SAMPLE)
        .map(|i| order_key(values[(2 * i + 1) * n / (2 * SAMPLE)]))
        .collect();
    sample.sort_unstable();
    let m = SAMPLE as f64;
    let p = k as f64 / n as f64;
    let centre = p * m;
    let spread = 3.0 * (m * p * (1.0 - p)).sqrt() + 2.0;
    let (lo, hi) = (centre - spread, centre + spread);
    let lo = if lo < 0.0 { 0 } else { sample[lo as usize] };
    let hi = if hi >= m - 1.0 {
        u64::MAX
    } else {
        sample[hi.ceil() as usize]
    };
    (lo, hi)
}

/// The smallest n for which the quantile at level α is finite.
pub fn min_calibration_size(alpha: f64, mode: QuantileMode) -> Result<usize> {
    check_open_unit("alpha", alpha)?;
    // k <= n  <=>  n >= 1/α − 1 roughly; search upward from that estimate.
    let mut n = ((1.0 / alpha - 1.0).floor().max(1.0) as usize).saturating_sub(2).max(1);
    while conformal_rank(n, alpha, mode)? > n {
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_artefact_n19_alpha095() {
        assert_eq!(conformal_rank(19, 0.95, QuantileMode::Exact).unwrap(), 1);
        assert_eq!(conformal_rank(19, 0.95, QuantileMode::Compat).unwrap(), 2);
    }

    #[test]
    fn exact_and_compat_differ_in_300_cells() {
        // docs/definitions/conformal.md#split-conformal-quantile: over n <= 5000 and the usual levels, 300 cells differ, all at 0.95/0.99.
        let mut diff = 0;
        for alpha in [0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.3, 0.5, 0.9, 0.95, 0.99] {
            for n in 1..=5000 {
                let e = conformal_rank(n, alpha, QuantileMode::Exact).unwrap();
                let c = conformal_rank(n, alpha, QuantileMode::Compat).unwrap();
                assert!(e <= c && c - e <= 1);
                if e != c {
                    diff += 1;
                    assert!(alpha == 0.95 || alpha == 0.99, "alpha {alpha}");
                }
            }
        }
        assert_eq!(diff, 300);
    }

    #[test]
    fn exact_is_never_above_compat() {
        for i in 1..100 {
            let alpha = f64::from(i) / 100.0;
            for n in 1..=2000 {
                let e = conformal_rank(n, alpha, QuantileMode::Exact).unwrap();
                let c = conformal_rank(n, alpha, QuantileMode::Compat).unwrap();
                assert!(e == c || e + 1 == c, "n={n} alpha={alpha}");
            }
        }
    }

    #[test]
    fn exact_rank_matches_rational_definition() {
        for n in 1..300usize {
            for i in 1..1000u32 {
                let alpha = f64::from(i) / 1000.0;
                // ⌈(n+1)(1000 − i)/1000⌉ in integers
                let num = (n as u64 + 1) * u64::from(1000 - i);
                let want = num.div_ceil(1000) as usize;
                assert_eq!(conformal_rank(n, alpha, QuantileMode::Exact).unwrap(), want);
            }
        }
    }

    #[test]
    fn quantile_and_infinity() {
        let s = [0.5, 0.1, 0.9, 0.3];
        // n=4, alpha=0.4: k = ceil(5*0.6) = 3 -> 0.5
        assert_eq!(conformal_quantile(&s, 0.4, QuantileMode::Exact, false).unwrap(), 0.5);
        // alpha=0.1: k = ceil(4.5) = 5 > 4
        assert_eq!(
            conformal_quantile(&s, 0.1, QuantileMode::Exact, false).unwrap(),
            f64::INFINITY
        );
        assert!(conformal_quantile(&s, 0.1, QuantileMode::Exact, true).is_err());
        assert!(conformal_quantile(&[], 0.1, QuantileMode::Exact, false).is_err());
        assert!(conformal_quantile(&[f64::NAN], 0.1, QuantileMode::Exact, false).is_err());
        let ninf = [f64::NEG_INFINITY, f64::NEG_INFINITY, 0.3, f64::INFINITY, 0.1];
        assert_eq!(conformal_quantile(&ninf, 0.5, QuantileMode::Exact, false).unwrap(), 0.1);
        assert_eq!(
            conformal_quantile(&ninf[..2], 0.4, QuantileMode::Exact, false).unwrap(),
            f64::NEG_INFINITY
        );
        assert!(conformal_quantile(&s, 1.0, QuantileMode::Exact, false).is_err());
        assert_eq!(min_calibration_size(0.1, QuantileMode::Exact).unwrap(), 9);
        assert_eq!(min_calibration_size(0.05, QuantileMode::Exact).unwrap(), 19);
    }

    fn lcg(state: &mut u64) -> u64 {
        *state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        *state >> 11
    }

    fn by_sorting(values: &[f64], k: usize) -> f64 {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        v[k - 1]
    }

    /// The sampled selection against a full sort, on inputs that bracket well and inputs made
    /// to defeat the sample (the exact fallback), at sizes either side of the sampling cut-off.
    #[test]
    fn selection_matches_sorting() {
        let mut st = 5u64;
        for n in [
            1,
            2,
            3,
            1000,
            SAMPLED_SELECT_MIN - 1,
            SAMPLED_SELECT_MIN,
            SAMPLED_SELECT_MIN + 1,
            50_000,
        ] {
            let uniform: Vec<f64> = (0..n)
                .map(|_| (lcg(&mut st) as f64 / (1u64 << 53) as f64).powi(3))
                .collect();
            let ties: Vec<f64> = (0..n).map(|_| (lcg(&mut st) % 5) as f64 / 4.0).collect();
            let sorted: Vec<f64> = (0..n).map(|i| i as f64).collect();
            let reversed: Vec<f64> = sorted.iter().rev().copied().collect();
            let specials: Vec<f64> = (0..n)
                .map(|i| [f64::NEG_INFINITY, -0.0, 0.0, f64::INFINITY, 0.5, -1.0][i % 6])
                .collect();
            // the sampled positions (2i + 1)·n / 2m hold 0, the rest 1: the sample sees only 0
            let mut fooled = vec![1.0; n];
            for i in 0..SAMPLE {
                if let Some(x) = fooled.get_mut((2 * i + 1) * n / (2 * SAMPLE)) {
                    *x = 0.0;
                }
            }
            for values in [&uniform, &ties, &sorted, &reversed, &specials, &fooled] {
                for k in [1, 2, n / 2, n * 9 / 10, n - 1, n] {
                    let k = k.clamp(1, n);
                    let want = by_sorting(values, k);
                    let got = kth_smallest_checked(values, k).unwrap();
                    assert_eq!(got.to_bits(), want.to_bits(), "n={n} k={k}");
                    assert_eq!(kth_smallest(values, k).to_bits(), want.to_bits());
                }
                for at in [0, n / 2, n - 1] {
                    let mut bad = values.clone();
                    bad[at] = f64::NAN;
                    assert_eq!(kth_smallest_checked(&bad, n.div_ceil(2)), None, "n={n} NaN at {at}");
                }
            }
        }
    }

    /// The AVX2 bracket pass keeps the scalar pass's keys, in order, with its counts and NaN
    /// verdict, at every length about its step, for brackets that keep none, some or all values
    /// (bounds on values, ties, ±0, ±∞ and NaN among them).
    #[test]
    fn bracket_pass_matches_the_scalar_loop() {
        let mut st = 3u64;
        let specials = [f64::NEG_INFINITY, -1.5, -0.0, 0.0, 0.25, 0.5, 1.0, f64::INFINITY];
        for n in (0..40).chain([1000, 1003]) {
            let mut values: Vec<f64> = (0..n)
                .map(|_| match lcg(&mut st) % 3 {
                    0 => specials[(lcg(&mut st) % 8) as usize],
                    _ => (lcg(&mut st) as f64 / (1u64 << 53) as f64) * 2.0 - 0.5,
                })
                .collect();
            for (lo, hi) in [
                (0, u64::MAX),
                (order_key(0.0), order_key(0.5)),
                (order_key(-0.0), order_key(0.0)),
                (order_key(0.3), order_key(0.2)),
                (order_key(f64::NEG_INFINITY), order_key(-1.5)),
                (order_key(1.0), u64::MAX),
            ] {
                for with_nan in [false, true] {
                    if with_nan && n > 0 {
                        values[n / 2] = f64::NAN;
                    }
                    let run = |level| {
                        let mut slots = vec![MaybeUninit::new(0u64); n];
                        let p = bracket_pass_at(level, &values, lo, hi, &mut slots);
                        // SAFETY: every slot was initialised.
                        let kept: Vec<u64> = slots[..p.len].iter().map(|s| unsafe { s.assume_init() }).collect();
                        (p, kept)
                    };
                    let want = run(SimdLevel::Scalar);
                    for &level in &crate::simd::supported_levels() {
                        assert_eq!(run(level), want, "{} n={n} lo={lo:x} hi={hi:x}", level.name());
                    }
                }
            }
        }
    }

    /// The quantile is the k-th order statistic with k = ⌈(n+1)(1−α)⌉ exactly at the edges: the
    /// smallest n with a finite quantile takes the maximum, one fewer gives +∞.
    #[test]
    fn quantile_index_at_the_edge_sizes() {
        let mut st = 9u64;
        for alpha in [0.5, 0.2, 0.1, 0.05, 0.01, 0.001, 1e-4] {
            for mode in [QuantileMode::Exact, QuantileMode::Compat] {
                let n_min = min_calibration_size(alpha, mode).unwrap();
                for n in [n_min.saturating_sub(1).max(1), n_min, n_min + 1, 10 * n_min + 7] {
                    let scores: Vec<f64> = (0..n).map(|_| lcg(&mut st) as f64 / (1u64 << 53) as f64).collect();
                    let k = conformal_rank(n, alpha, mode).unwrap();
                    let q = conformal_quantile(&scores, alpha, mode, false).unwrap();
                    if n < n_min {
                        assert!(k > n && q == f64::INFINITY, "alpha={alpha} n={n}");
                    } else {
                        assert!(k <= n);
                        assert_eq!(q, by_sorting(&scores, k), "alpha={alpha} n={n} k={k}");
                        if n == n_min {
                            assert_eq!(k, n, "the smallest finite size takes the largest score");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn tiny_alpha_decimal() {
        assert_eq!(conformal_rank(10, 1e-300, QuantileMode::Exact).unwrap(), 11);
        assert_eq!(
            conformal_rank(1_000_000, 1e-3, QuantileMode::Exact).unwrap(),
            1_000_000 - 1000 + 1
        );
    }
}
