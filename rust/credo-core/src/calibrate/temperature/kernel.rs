//! The row kernel of the temperature fit: for one row x = max(β·(z − m), −708) (m the row's
//! maximum), the four sums Σe^x, Σe^x·x, Σe^x·x², Σe^x·x³, each element loaded once (float32
//! widened in a register) and its exponential kept in a register (the vectorised exponential
//! of `signals::exp64`, called, not copied). One implementation per instruction set, chosen
//! once per chunk of rows ([`RowSums`]); they agree to rounding (the lanes add in a different
//! order).

use super::Real;
use crate::signals::exp64::{exp_le0, EXP64_MIN};

/// The four sums of one row (see the module documentation).
pub(super) trait RowSums {
    fn sums<T: Real>(&self, z: &[T], m: f64, beta: f64) -> [f64; 4];
}

/// Vector loads of an input element type, widened to float64 lanes: the sealed supertrait of
/// [`Real`] (public in a private module, so no other crate can implement `Real`).
pub trait Lanes: Copy {
    /// Four elements from `p` as float64.
    ///
    /// # Safety
    /// `p` must point to four readable elements, and the CPU must support AVX.
    #[cfg(target_arch = "x86_64")]
    unsafe fn load4(p: *const Self) -> std::arch::x86_64::__m256d;
    /// Eight elements from `p` as float64.
    ///
    /// # Safety
    /// `p` must point to eight readable elements, and the CPU must support AVX-512F.
    #[cfg(target_arch = "x86_64")]
    unsafe fn load8(p: *const Self) -> std::arch::x86_64::__m512d;
}

#[cfg(target_arch = "x86_64")]
impl Lanes for f64 {
    #[inline(always)]
    unsafe fn load4(p: *const Self) -> std::arch::x86_64::__m256d {
        // SAFETY: the caller's contract.
        unsafe { std::arch::x86_64::_mm256_loadu_pd(p) }
    }
    #[inline(always)]
    unsafe fn load8(p: *const Self) -> std::arch::x86_64::__m512d {
        // SAFETY: the caller's contract.
        unsafe { std::arch::x86_64::_mm512_loadu_pd(p) }
    }
}

#[cfg(target_arch = "x86_64")]
impl Lanes for f32 {
    #[inline(always)]
    unsafe fn load4(p: *const Self) -> std::arch::x86_64::__m256d {
        use std::arch::x86_64::*;
        // SAFETY: the caller's contract.
        unsafe { _mm256_cvtps_pd(_mm_loadu_ps(p)) }
    }
    #[inline(always)]
    unsafe fn load8(p: *const Self) -> std::arch::x86_64::__m512d {
        use std::arch::x86_64::*;
        // SAFETY: the caller's contract.
        unsafe { _mm512_cvtps_pd(_mm256_loadu_ps(p)) }
    }
}

#[cfg(not(target_arch = "x86_64"))]
impl Lanes for f64 {}
#[cfg(not(target_arch = "x86_64"))]
impl Lanes for f32 {}

/// The portable kernel: four partial sums per moment so that the loop vectorises where the
/// compiler can, the exponential of [`exp_le0`].
pub(super) struct Portable;

impl RowSums for Portable {
    #[inline(always)]
    fn sums<T: Real>(&self, z: &[T], m: f64, beta: f64) -> [f64; 4] {
        let mut s = [[0.0f64; 4]; 4];
        let chunks = z.chunks_exact(4);
        let rest = chunks.remainder();
        let mut add = |l: usize, v: T| {
            let x = clamp(beta * (v.f64() - m));
            let e = exp_le0(x);
            let ex = e * x;
            let ex2 = ex * x;
            s[0][l] += e;
            s[1][l] += ex;
            s[2][l] += ex2;
            s[3][l] += ex2 * x;
        };
        for c in chunks {
            for (l, &v) in c.iter().enumerate() {
                add(l, v);
            }
        }
        for (l, &v) in rest.iter().enumerate() {
            add(l, v);
        }
        s.map(|v| (v[0] + v[1]) + (v[2] + v[3]))
    }
}

/// max(x, −708): a masked class (−inf) and any x below −708 enter as −708, where
/// e^x·|x|³ < 1e−298, nothing next to the row maximum's term e⁰ = 1.
#[inline(always)]
fn clamp(x: f64) -> f64 {
    if x > EXP64_MIN {
        x
    } else {
        EXP64_MIN
    }
}

#[cfg(target_arch = "x86_64")]
pub(super) use x86::{Avx2, Avx512};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{clamp, exp_le0, Real, RowSums, EXP64_MIN};
    use crate::signals::exp64::{avx2_table::exp4, avx512};

    /// Four float64 lanes with AVX2 and FMA (the tail of fewer than four entries scalar).
    /// Built only where the CPU has both (see `chunk_avx2` in the parent module). The
    /// exponential is the table-driven one (degree 5, within one ulp of `f64::exp`, as the
    /// AVX-512 kernel's): the pass is bound by the multiply-add ports, not by memory, and the
    /// degree-13 polynomial took a third more of them (process CPU of a 1e5 × 100 fit, with
    /// its fingerprint, 64.4 → 51.5 ms).
    pub(in crate::calibrate::temperature) struct Avx2(());

    impl Avx2 {
        /// # Safety
        /// The CPU must support AVX2 and FMA.
        pub(in crate::calibrate::temperature) unsafe fn new() -> Self {
            Self(())
        }
    }

    impl RowSums for Avx2 {
        #[inline(always)]
        fn sums<T: Real>(&self, z: &[T], m: f64, beta: f64) -> [f64; 4] {
            // SAFETY: an `Avx2` exists only where the CPU supports AVX2 and FMA.
            unsafe { sums_avx2(z, m, beta) }
        }
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn sums_avx2<T: Real>(z: &[T], m: f64, beta: f64) -> [f64; 4] {
        let (vm, vb, lo) = (_mm256_set1_pd(m), _mm256_set1_pd(beta), _mm256_set1_pd(EXP64_MIN));
        let mut s = [_mm256_setzero_pd(); 4];
        let chunks = z.chunks_exact(4);
        let rest = chunks.remainder();
        for c in chunks {
            // SAFETY: the chunk holds four elements; the CPU supports AVX2.
            let v = unsafe { T::load4(c.as_ptr()) };
            // max(lo, x): x wins unless below −708 (or NaN, which a checked row never holds)
            let x = _mm256_max_pd(lo, _mm256_mul_pd(vb, _mm256_sub_pd(v, vm)));
            let e = exp4(x);
            let ex = _mm256_mul_pd(e, x);
            let ex2 = _mm256_mul_pd(ex, x);
            s[0] = _mm256_add_pd(s[0], e);
            s[1] = _mm256_add_pd(s[1], ex);
            s[2] = _mm256_add_pd(s[2], ex2);
            s[3] = _mm256_fmadd_pd(ex2, x, s[3]);
        }
        let mut out = s.map(|v| {
            let mut l = [0.0; 4];
            // SAFETY: `l` holds four doubles.
            unsafe { _mm256_storeu_pd(l.as_mut_ptr(), v) };
            (l[0] + l[1]) + (l[2] + l[3])
        });
        for &v in rest {
            let x = clamp(beta * (v.f64() - m));
            let e = exp_le0(x);
            let (ex, ex2) = (e * x, e * x * x);
            out[0] += e;
            out[1] += ex;
            out[2] += ex2;
            out[3] += ex2 * x;
        }
        out
    }

    /// Eight float64 lanes with AVX-512F (the tail masked), the table of the exponential held
    /// in registers for the whole chunk.
    pub(in crate::calibrate::temperature) struct Avx512(avx512::Consts);

    impl Avx512 {
        /// # Safety
        /// The CPU must support AVX-512F.
        #[inline]
        #[target_feature(enable = "avx512f")]
        pub(in crate::calibrate::temperature) unsafe fn new() -> Self {
            Self(avx512::Consts::new())
        }
    }

    impl RowSums for Avx512 {
        #[inline(always)]
        fn sums<T: Real>(&self, z: &[T], m: f64, beta: f64) -> [f64; 4] {
            // SAFETY: an `Avx512` exists only where the CPU supports AVX-512F.
            unsafe { sums_avx512(&self.0, z, m, beta) }
        }
    }

    /// The moments' contributions of eight lanes (lanes outside `keep` contribute nothing).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn accumulate(c: &avx512::Consts, s: &mut [__m512d; 4], v: __m512d, vm: __m512d, vb: __m512d, keep: __mmask8) {
        let x = _mm512_max_pd(_mm512_set1_pd(EXP64_MIN), _mm512_mul_pd(vb, _mm512_sub_pd(v, vm)));
        let e = _mm512_maskz_mov_pd(keep, avx512::exp8(c, x));
        let ex = _mm512_mul_pd(e, x);
        let ex2 = _mm512_mul_pd(ex, x);
        s[0] = _mm512_add_pd(s[0], e);
        s[1] = _mm512_add_pd(s[1], ex);
        s[2] = _mm512_add_pd(s[2], ex2);
        s[3] = _mm512_fmadd_pd(ex2, x, s[3]);
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn sums_avx512<T: Real>(c: &avx512::Consts, z: &[T], m: f64, beta: f64) -> [f64; 4] {
        let (vm, vb) = (_mm512_set1_pd(m), _mm512_set1_pd(beta));
        let mut s = [_mm512_setzero_pd(); 4];
        let chunks = z.chunks_exact(8);
        let rest = chunks.remainder();
        for ch in chunks {
            // SAFETY: the chunk holds eight elements; the CPU supports AVX-512F.
            let v = unsafe { T::load8(ch.as_ptr()) };
            accumulate(c, &mut s, v, vm, vb, 0xFF);
        }
        if !rest.is_empty() {
            // the tail through a padded copy: the other lanes hold m (x = 0, finite), and the
            // mask drops their terms
            let mut tail = [m; 8];
            for (t, v) in tail.iter_mut().zip(rest) {
                *t = v.f64();
            }
            let keep = ((1u32 << rest.len()) - 1) as __mmask8;
            // SAFETY: `tail` holds eight doubles.
            let v = unsafe { _mm512_loadu_pd(tail.as_ptr()) };
            accumulate(c, &mut s, v, vm, vb, keep);
        }
        s.map(|v| _mm512_reduce_add_pd(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The four sums with `f64::exp`, term by term.
    fn reference(z: &[f64], m: f64, beta: f64) -> [f64; 4] {
        let mut s = [0.0; 4];
        for &v in z {
            let x = clamp(beta * (v - m));
            let e = x.exp();
            s[0] += e;
            s[1] += e * x;
            s[2] += e * x * x;
            s[3] += e * x * x * x;
        }
        s
    }

    /// A kernel behind one interface for both element types.
    trait Both {
        fn sums64(&self, z: &[f64], m: f64, beta: f64) -> [f64; 4];
        fn sums32(&self, z: &[f32], m: f64, beta: f64) -> [f64; 4];
    }
    impl<K: RowSums> Both for K {
        fn sums64(&self, z: &[f64], m: f64, beta: f64) -> [f64; 4] {
            self.sums(z, m, beta)
        }
        fn sums32(&self, z: &[f32], m: f64, beta: f64) -> [f64; 4] {
            self.sums(z, m, beta)
        }
    }

    fn kernels() -> Vec<(&'static str, Box<dyn Both>)> {
        let mut out: Vec<(&'static str, Box<dyn Both>)> = vec![("portable", Box::new(Portable))];
        #[cfg(target_arch = "x86_64")]
        {
            use crate::simd::SimdLevel;
            if SimdLevel::Avx2.supported() {
                // SAFETY: checked just above.
                out.push(("avx2", Box::new(unsafe { Avx2::new() })));
            }
            if SimdLevel::Avx512.supported() {
                // SAFETY: checked just above.
                out.push(("avx512", Box::new(unsafe { Avx512::new() })));
            }
        }
        out
    }

    #[test]
    fn every_kernel_matches_the_reference_at_every_length() {
        // every tail length of the 4- and 8-lane loops, a masked class, a far-below-range entry
        for len in 1..=35 {
            let mut z: Vec<f64> = (0..len).map(|i| ((i * 37 % 11) as f64) * 0.75 - 4.0).collect();
            if len > 3 {
                z[2] = f64::NEG_INFINITY;
                z[len - 1] = -1e6;
            }
            let m = z.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
            // float32 rows (these values are exact in float32) give the float64 rows' sums
            let z32: Vec<f32> = z.iter().map(|&v| v as f32).collect();
            for beta in [4.5e-5, 0.3, 1.0, 2.7, 2.2e4] {
                let want = reference(&z, m, beta);
                for (name, k) in kernels() {
                    let got = k.sums64(&z, m, beta);
                    for (g, w) in got.iter().zip(want) {
                        assert!(
                            (g - w).abs() <= 1e-13 * (1.0 + w.abs()),
                            "{name} len {len} beta {beta}: {got:?} vs {want:?}"
                        );
                    }
                    assert_eq!(k.sums32(&z32, m, beta), got, "{name} float32, len {len}");
                }
            }
        }
    }
}
