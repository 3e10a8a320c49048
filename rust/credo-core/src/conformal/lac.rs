//! The LAC set pass with one threshold: `o[j] = p[j] ≥ floor` and whether any `p[j]` lies
//! outside [0, 1] (NaN included), in one read of the probabilities.
//!
//! The probabilities are compared where they lie, float32 or float64 (the floor is the exact
//! float image of the score threshold, `sets::Prob::lac_floor`), so the pass is bound by memory
//! bandwidth: the comparison bits of a vector (an AVX-512 mask register, an AVX2 movemask) become
//! bools through a 256-entry table, 8 per 8-byte store. The level is [`crate::simd::active`]; the
//! scalar loop is the reference every vector path is tested against.

use crate::simd::SimdLevel;

/// Which float type a kernel reads; the scalar reference and the vector paths per type.
pub trait LacKernel: Copy + PartialOrd + 'static {
    /// The scalar reference: the membership mask and whether a value was out of [0, 1].
    fn single_scalar(p: &[Self], o: &mut [bool], floor: Self) -> bool;
    /// The kernel at `level` (a level this CPU supports; the scalar loop for levels without a
    /// vector path here).
    fn single_at(level: SimdLevel, p: &[Self], o: &mut [bool], floor: Self) -> bool;
    /// The kernel at the process-wide level.
    fn single(p: &[Self], o: &mut [bool], floor: Self) -> bool {
        Self::single_at(crate::simd::active(), p, o, floor)
    }
}

macro_rules! scalar_single {
    ($t:ty) => {
        fn single_scalar(p: &[$t], o: &mut [bool], floor: $t) -> bool {
            let mut bad = false;
            for (m, &x) in o.iter_mut().zip(p) {
                *m = x >= floor;
                bad |= !(0.0..=1.0).contains(&x);
            }
            bad
        }
    };
}

impl LacKernel for f64 {
    scalar_single!(f64);
    fn single_at(level: SimdLevel, p: &[f64], o: &mut [bool], floor: f64) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            if level >= SimdLevel::Avx512 && level.supported() {
                // SAFETY: the CPU supports AVX-512F (checked just above).
                return unsafe { x86::single_f64_avx512(p, o, floor) };
            }
            if level >= SimdLevel::Avx2 && level.supported() {
                // SAFETY: the CPU supports AVX2 (checked just above).
                return unsafe { x86::single_f64_avx2(p, o, floor) };
            }
        }
        let _ = level;
        Self::single_scalar(p, o, floor)
    }
}

impl LacKernel for f32 {
    scalar_single!(f32);
    fn single_at(level: SimdLevel, p: &[f32], o: &mut [bool], floor: f32) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            if level >= SimdLevel::Avx512 && level.supported() {
                // SAFETY: the CPU supports AVX-512F (checked just above).
                return unsafe { x86::single_f32_avx512(p, o, floor) };
            }
            if level >= SimdLevel::Avx2 && level.supported() {
                // SAFETY: the CPU supports AVX2 (checked just above).
                return unsafe { x86::single_f32_avx2(p, o, floor) };
            }
        }
        let _ = level;
        Self::single_scalar(p, o, floor)
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod x86 {
    use super::LacKernel;
    use std::arch::x86_64::*;

    /// Byte i of `SPREAD[m]` is bit i of m (a bool per comparison bit).
    static SPREAD: [u64; 256] = {
        let mut t = [0u64; 256];
        let mut m = 0;
        while m < 256 {
            let mut i = 0;
            while i < 8 {
                t[m] |= ((m as u64 >> i) & 1) << (8 * i);
                i += 1;
            }
            m += 1;
        }
        t
    };

    /// Stores the low `8 * bytes` bits of `bits` as that many bools at `o`.
    #[inline(always)]
    unsafe fn spread(bits: u64, o: *mut bool, bytes: usize) {
        for b in 0..bytes {
            let v = SPREAD[((bits >> (8 * b)) & 0xFF) as usize];
            // SAFETY: the caller owns `8 * bytes` bools at `o`; every byte is 0 or 1.
            unsafe { o.add(8 * b).cast::<u64>().write_unaligned(v) };
        }
    }

    #[target_feature(enable = "avx2")]
    pub unsafe fn single_f64_avx2(p: &[f64], o: &mut [bool], floor: f64) -> bool {
        const BLOCK: usize = 16;
        let n = p.len().min(o.len());
        let blocks = n / BLOCK;
        let (f, zero, one) = (_mm256_set1_pd(floor), _mm256_setzero_pd(), _mm256_set1_pd(1.0));
        let mut bad = _mm256_setzero_pd();
        for b in 0..blocks {
            // SAFETY: block b lies within p and o (b < n / BLOCK).
            unsafe {
                let x = p.as_ptr().add(b * BLOCK);
                let mut bits = 0u64;
                for j in 0..BLOCK / 4 {
                    let v = _mm256_loadu_pd(x.add(4 * j));
                    bits |= (_mm256_movemask_pd(_mm256_cmp_pd::<_CMP_GE_OQ>(v, f)) as u64) << (4 * j);
                    let out = _mm256_or_pd(
                        _mm256_cmp_pd::<_CMP_NGE_UQ>(v, zero),
                        _mm256_cmp_pd::<_CMP_NLE_UQ>(v, one),
                    );
                    bad = _mm256_or_pd(bad, out);
                }
                spread(bits, o.as_mut_ptr().add(b * BLOCK), BLOCK / 8);
            }
        }
        let done = blocks * BLOCK;
        let tail = f64::single_scalar(&p[done..n], &mut o[done..n], floor);
        tail | (_mm256_movemask_pd(bad) != 0)
    }

    #[target_feature(enable = "avx2")]
    pub unsafe fn single_f32_avx2(p: &[f32], o: &mut [bool], floor: f32) -> bool {
        const BLOCK: usize = 32;
        let n = p.len().min(o.len());
        let blocks = n / BLOCK;
        let (f, zero, one) = (_mm256_set1_ps(floor), _mm256_setzero_ps(), _mm256_set1_ps(1.0));
        let mut bad = _mm256_setzero_ps();
        for b in 0..blocks {
            // SAFETY: block b lies within p and o (b < n / BLOCK).
            unsafe {
                let x = p.as_ptr().add(b * BLOCK);
                let mut bits = 0u64;
                for j in 0..BLOCK / 8 {
                    let v = _mm256_loadu_ps(x.add(8 * j));
                    bits |= (_mm256_movemask_ps(_mm256_cmp_ps::<_CMP_GE_OQ>(v, f)) as u32 as u64) << (8 * j);
                    let out = _mm256_or_ps(
                        _mm256_cmp_ps::<_CMP_NGE_UQ>(v, zero),
                        _mm256_cmp_ps::<_CMP_NLE_UQ>(v, one),
                    );
                    bad = _mm256_or_ps(bad, out);
                }
                spread(bits, o.as_mut_ptr().add(b * BLOCK), BLOCK / 8);
            }
        }
        let done = blocks * BLOCK;
        let tail = f32::single_scalar(&p[done..n], &mut o[done..n], floor);
        tail | (_mm256_movemask_ps(bad) != 0)
    }

    #[target_feature(enable = "avx512f")]
    pub unsafe fn single_f64_avx512(p: &[f64], o: &mut [bool], floor: f64) -> bool {
        const BLOCK: usize = 64;
        let n = p.len().min(o.len());
        let blocks = n / BLOCK;
        let (f, zero, one) = (_mm512_set1_pd(floor), _mm512_setzero_pd(), _mm512_set1_pd(1.0));
        let mut bad: __mmask8 = 0;
        for b in 0..blocks {
            // SAFETY: block b lies within p and o (b < n / BLOCK).
            unsafe {
                let x = p.as_ptr().add(b * BLOCK);
                let mut bits = 0u64;
                for j in 0..BLOCK / 8 {
                    let v = _mm512_loadu_pd(x.add(8 * j));
                    bits |= u64::from(_mm512_cmp_pd_mask::<_CMP_GE_OQ>(v, f)) << (8 * j);
                    bad |= _mm512_cmp_pd_mask::<_CMP_NGE_UQ>(v, zero) | _mm512_cmp_pd_mask::<_CMP_NLE_UQ>(v, one);
                }
                spread(bits, o.as_mut_ptr().add(b * BLOCK), BLOCK / 8);
            }
        }
        let done = blocks * BLOCK;
        let tail = f64::single_scalar(&p[done..n], &mut o[done..n], floor);
        tail | (bad != 0)
    }

    #[target_feature(enable = "avx512f")]
    pub unsafe fn single_f32_avx512(p: &[f32], o: &mut [bool], floor: f32) -> bool {
        const BLOCK: usize = 64;
        let n = p.len().min(o.len());
        let blocks = n / BLOCK;
        let (f, zero, one) = (_mm512_set1_ps(floor), _mm512_setzero_ps(), _mm512_set1_ps(1.0));
        let mut bad: __mmask16 = 0;
        for b in 0..blocks {
            // SAFETY: block b lies within p and o (b < n / BLOCK).
            unsafe {
                let x = p.as_ptr().add(b * BLOCK);
                let mut bits = 0u64;
                for j in 0..BLOCK / 16 {
                    let v = _mm512_loadu_ps(x.add(16 * j));
                    bits |= u64::from(_mm512_cmp_ps_mask::<_CMP_GE_OQ>(v, f)) << (16 * j);
                    bad |= _mm512_cmp_ps_mask::<_CMP_NGE_UQ>(v, zero) | _mm512_cmp_ps_mask::<_CMP_NLE_UQ>(v, one);
                }
                spread(bits, o.as_mut_ptr().add(b * BLOCK), BLOCK / 8);
            }
        }
        let done = blocks * BLOCK;
        let tail = f32::single_scalar(&p[done..n], &mut o[done..n], floor);
        tail | (bad != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(state: &mut u64) -> f64 {
        *state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (*state >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Every vector path this CPU runs gives the scalar reference's mask and range verdict, at
    /// every length around the block sizes and with a bad value anywhere.
    fn agrees<T: LacKernel + std::fmt::Debug>(make: impl Fn(f64) -> T, bad_values: &[T]) {
        let mut st = 11u64;
        let floor = make(0.37);
        for n in (0..200).chain([1000, 4099]) {
            let p: Vec<T> = (0..n).map(|_| make(lcg(&mut st))).collect();
            let mut want = vec![false; n];
            let want_bad = T::single_scalar(&p, &mut want, floor);
            assert!(!want_bad);
            let paths = crate::simd::supported_levels();
            for &level in &paths {
                let f = |p: &[T], o: &mut [bool], fl: T| T::single_at(level, p, o, fl);
                let name = level.name();
                let mut got = vec![true; n];
                assert!(!f(&p, &mut got, floor), "{name} n={n}");
                assert_eq!(got, want, "{name} n={n}");
                for &b in bad_values {
                    for at in [0, n / 2, n.saturating_sub(1)] {
                        if n == 0 {
                            continue;
                        }
                        let mut q = p.clone();
                        q[at] = b;
                        assert!(f(&q, &mut got, floor), "{name} n={n} bad {b:?} at {at}");
                    }
                }
            }
        }
    }

    #[test]
    fn vector_paths_match_the_scalar_reference() {
        agrees(
            |x| x,
            &[f64::NAN, -1e-300, 1.0 + f64::EPSILON, f64::INFINITY, f64::NEG_INFINITY],
        );
        agrees(|x| x as f32, &[f32::NAN, -1e-30, 1.0 + f32::EPSILON, f32::INFINITY]);
    }
}
