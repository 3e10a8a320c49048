//! The LAC set pass with one threshold: `o[j] = p[j] ≥ floor` and whether any `p[j]` may lie
//! outside [0, 1] (NaN included), in one read of the probabilities.
//!
//! The probabilities are compared where they lie, float32 or float64 (the floor is the exact
//! float image of the score threshold, `sets::Prob::lac_floor`), and the bools are written
//! straight into the caller's (possibly uninitialised) output, so the pass is bound by memory
//! bandwidth; output larger than the cache is written with non-temporal stores ([`Store`]),
//! which skip reading each output line from memory before writing it. With AVX-512 (BW for the
//! byte stores) the comparison bits of 64 values become 64 bools in one masked byte move and
//! one store, and the range check is one unsigned maximum of
//! the values' bit patterns per vector: every value in [0, 1] has bits ≤ those of 1.0, and every
//! value outside (NaN and negatives included) has more, as has −0.0, so a vector verdict is a
//! superset the caller resolves with an exact scan. With AVX2 the comparison masks of 32 values
//! are packed to 32 bools by saturating packs and stored at once (the same on float32 and float64:
//! fewer instructions per byte than a bit mask spread through a table, which showed on float32,
//! whose pass is not bound by memory alone); float32 keeps the unsigned maximum, float64 (no
//! 64-bit unsigned maximum) one comparison with 1 (NaN included) and the OR of the sign bits.
//! The level is [`crate::simd::active`]; the scalar loop is the reference every vector path is
//! tested against.

use std::mem::MaybeUninit;

use crate::simd::SimdLevel;

/// Which float type a kernel reads; the scalar reference and the vector paths per type.
///
/// Every kernel writes all of `o[..n]` (`n = min(p.len(), o.len())`) and returns whether a value
/// of `p[..n]` may lie outside [0, 1]: always true when one does; a vector path may also say true
/// for a negative zero (a valid 0), so callers locate the culprit with an exact scan.
pub trait LacKernel: Copy + PartialOrd + 'static {
    /// The scalar reference: the membership mask and whether a value was out of [0, 1] (exact).
    fn single_scalar(p: &[Self], o: &mut [MaybeUninit<bool>], floor: Self) -> bool;
    /// The kernel at `level` (a level this CPU supports; the scalar loop for levels without a
    /// vector path here), its stores as `store` says (the same bools either way).
    fn single_at(level: SimdLevel, p: &[Self], o: &mut [MaybeUninit<bool>], floor: Self, store: Store) -> bool;
    /// The kernel at the process-wide level.
    fn single(p: &[Self], o: &mut [MaybeUninit<bool>], floor: Self, store: Store) -> bool {
        Self::single_at(crate::simd::active(), p, o, floor, store)
    }
}

/// How the vector kernels write the bools (the scalar path always caches them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// Through the cache: for output the caller reads while it is still cached.
    Cached,
    /// Non-temporal (streaming) stores of aligned blocks (32 bytes with AVX2, 64 with AVX-512):
    /// for output larger than the cache, whose lines a cached store would first read from
    /// memory (a tenth more traffic on float64, a fifth on float32) only to be evicted before
    /// the caller reads them.
    Stream,
}

macro_rules! scalar_single {
    ($t:ty) => {
        fn single_scalar(p: &[$t], o: &mut [MaybeUninit<bool>], floor: $t) -> bool {
            let mut bad = false;
            for (m, &x) in o.iter_mut().zip(p) {
                m.write(x >= floor);
                bad |= !(0.0..=1.0).contains(&x);
            }
            bad
        }
    };
}

/// Whether the byte-mask path runs: the AVX-512 level and BW (every AVX-512 CPU but Xeon Phi).
#[cfg(target_arch = "x86_64")]
fn avx512_bytes(level: SimdLevel) -> bool {
    level >= SimdLevel::Avx512 && level.supported() && is_x86_feature_detected!("avx512bw")
}

macro_rules! dispatch {
    ($t:ty, $avx512:ident, $avx2:ident) => {
        impl LacKernel for $t {
            scalar_single!($t);
            fn single_at(level: SimdLevel, p: &[$t], o: &mut [MaybeUninit<bool>], floor: $t, store: Store) -> bool {
                #[cfg(target_arch = "x86_64")]
                {
                    if avx512_bytes(level) {
                        // SAFETY: the CPU supports AVX-512 F and BW (checked just above).
                        return unsafe { x86::$avx512(p, o, floor, store) };
                    }
                    if level >= SimdLevel::Avx2 && level.supported() {
                        // SAFETY: the CPU supports AVX2 (checked just above).
                        return unsafe { x86::$avx2(p, o, floor, store) };
                    }
                }
                let _ = (level, store);
                Self::single_scalar(p, o, floor)
            }
        }
    };
}
dispatch!(f64, single_f64_avx512, single_f64_avx2);
dispatch!(f32, single_f32_avx512, single_f32_avx2);

#[cfg(target_arch = "x86_64")]
pub(crate) mod x86 {
    use std::arch::x86_64::*;
    use std::mem::MaybeUninit;

    use super::{LacKernel, Store};

    /// The 32 comparison results of a block, as they come out of the saturating packs (−1 or 0
    /// per byte, in order): each pack halves the lane width within a 128-bit half, so the packed
    /// bytes come out interleaved by half and are put back in order by the given permutations.
    ///
    /// Of float32 masks (4 vectors of 8): the dwords come out as 0, 2, 4, 6 | 1, 3, 5, 7.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn pack_f32_masks(c: [__m256i; 4]) -> __m256i {
        let r = _mm256_packs_epi16(_mm256_packs_epi32(c[0], c[1]), _mm256_packs_epi32(c[2], c[3]));
        _mm256_permutevar8x32_epi32(r, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7))
    }

    /// Of float64 masks (8 vectors of 4, each mask two equal dwords): one more pack, then the
    /// 16-bit pairs come out as 0, 2, 4, 6, 8, 10, 12, 14 | 1, 3, ... and are interleaved back.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn pack_f64_masks(c: [__m256i; 8]) -> __m256i {
        let lo = _mm256_packs_epi16(_mm256_packs_epi32(c[0], c[1]), _mm256_packs_epi32(c[2], c[3]));
        let hi = _mm256_packs_epi16(_mm256_packs_epi32(c[4], c[5]), _mm256_packs_epi32(c[6], c[7]));
        let r = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_packs_epi16(lo, hi));
        #[rustfmt::skip]
        let pairs = _mm256_setr_epi8(
            0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15,
            0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15,
        );
        _mm256_shuffle_epi8(r, pairs)
    }

    /// How far ahead of the block being compared the cache lines are asked for (bytes): the
    /// loop's many instructions per line leave few of its own loads in flight, and the
    /// prefetches keep the memory busy (about 11% less CPU time at 1e5 x 100 on Zen 3).
    const AHEAD_BYTES: usize = 2048;

    /// Prefetches the 128 bytes `AHEAD_BYTES` past `x` (two cache lines).
    #[inline(always)]
    fn prefetch_ahead<T>(x: *const T) {
        let at = x.cast::<u8>().wrapping_add(AHEAD_BYTES);
        // SAFETY: a prefetch loads nothing architecturally, and does not fault past the end.
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(at.cast());
            _mm_prefetch::<_MM_HINT_T0>(at.wrapping_add(64).cast());
        }
    }

    /// For streamed stores, the values whose bools precede the first `ALIGN`-byte boundary of
    /// `o` (the kernel's store width) go through the scalar reference: its verdict, and the rest
    /// of `p` and `o` (all of them, verdict false, for cached stores).
    #[inline(always)]
    fn aligned_part<'a, 'b, T: LacKernel, const ALIGN: usize>(
        p: &'a [T],
        o: &'b mut [MaybeUninit<bool>],
        store: Store,
        floor: T,
    ) -> (bool, &'a [T], &'b mut [MaybeUninit<bool>]) {
        let n = p.len().min(o.len());
        let head = match store {
            Store::Cached => 0,
            Store::Stream => o.as_ptr().align_offset(ALIGN).min(n),
        };
        let (ph, p) = p[..n].split_at(head);
        let (oh, o) = o[..n].split_at_mut(head);
        (T::single_scalar(ph, oh, floor), p, o)
    }

    /// Stores the 32 bools of a block at `at` (32-byte aligned for [`Store::Stream`]).
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn store_block(at: *mut MaybeUninit<bool>, bools: __m256i, store: Store) {
        // SAFETY: the caller's: 32 writable bytes at `at`, aligned when streamed.
        unsafe {
            match store {
                Store::Cached => _mm256_storeu_si256(at.cast(), bools),
                Store::Stream => _mm256_stream_si256(at.cast(), bools),
            }
        }
    }

    /// Orders streamed stores before whatever follows (the thread that reads the bools
    /// synchronises with this one after it).
    #[inline(always)]
    fn fence(store: Store) {
        if store == Store::Stream {
            // SAFETY: SSE is part of x86-64.
            unsafe { _mm_sfence() };
        }
    }

    /// 32 float64 values per block: 32 bools stored at once; `over` keeps NaN and values above
    /// 1, `sign` the OR of the values (its sign bit: a negative value, or −0.0).
    #[target_feature(enable = "avx2")]
    pub unsafe fn single_f64_avx2(p: &[f64], o: &mut [MaybeUninit<bool>], floor: f64, store: Store) -> bool {
        const BLOCK: usize = 32;
        let (head, p, o) = aligned_part::<_, 32>(p, o, store, floor);
        let n = p.len().min(o.len());
        let blocks = n / BLOCK;
        let (f, one, bit) = (_mm256_set1_pd(floor), _mm256_set1_pd(1.0), _mm256_set1_epi8(1));
        let (mut over, mut sign) = (_mm256_setzero_pd(), _mm256_setzero_pd());
        for b in 0..blocks {
            let x = p.as_ptr().wrapping_add(b * BLOCK);
            prefetch_ahead(x);
            prefetch_ahead(x.wrapping_add(BLOCK / 2));
            let mut c = [_mm256_setzero_si256(); 8];
            for (j, cj) in c.iter_mut().enumerate() {
                // SAFETY: block b lies within p (b < n / BLOCK).
                let v = unsafe { _mm256_loadu_pd(p.as_ptr().add(b * BLOCK + 4 * j)) };
                *cj = _mm256_castpd_si256(_mm256_cmp_pd::<_CMP_GE_OQ>(v, f));
                over = _mm256_or_pd(over, _mm256_cmp_pd::<_CMP_NLE_UQ>(v, one));
                sign = _mm256_or_pd(sign, v);
            }
            let bools = _mm256_and_si256(pack_f64_masks(c), bit);
            // SAFETY: block b lies within o (aligned when streamed); every byte is 0 or 1.
            unsafe { store_block(o.as_mut_ptr().add(b * BLOCK), bools, store) };
        }
        fence(store);
        let done = blocks * BLOCK;
        let tail = f64::single_scalar(&p[done..n], &mut o[done..n], floor);
        head | tail | (_mm256_movemask_pd(_mm256_or_pd(over, sign)) != 0)
    }

    /// 32 float32 values per block, as [`single_f64_avx2`]; the range verdict is the unsigned
    /// maximum of the bit patterns, as on AVX-512 (see the module docs).
    #[target_feature(enable = "avx2")]
    pub unsafe fn single_f32_avx2(p: &[f32], o: &mut [MaybeUninit<bool>], floor: f32, store: Store) -> bool {
        const BLOCK: usize = 32;
        let (head, p, o) = aligned_part::<_, 32>(p, o, store, floor);
        let n = p.len().min(o.len());
        let blocks = n / BLOCK;
        let (f, bit) = (_mm256_set1_ps(floor), _mm256_set1_epi8(1));
        let mut top = _mm256_setzero_si256();
        for b in 0..blocks {
            prefetch_ahead(p.as_ptr().wrapping_add(b * BLOCK));
            let mut c = [_mm256_setzero_si256(); 4];
            for (j, cj) in c.iter_mut().enumerate() {
                // SAFETY: block b lies within p (b < n / BLOCK).
                let v = unsafe { _mm256_loadu_ps(p.as_ptr().add(b * BLOCK + 8 * j)) };
                *cj = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_GE_OQ>(v, f));
                top = _mm256_max_epu32(top, _mm256_castps_si256(v));
            }
            let bools = _mm256_and_si256(pack_f32_masks(c), bit);
            // SAFETY: block b lies within o (aligned when streamed); every byte is 0 or 1.
            unsafe { store_block(o.as_mut_ptr().add(b * BLOCK), bools, store) };
        }
        fence(store);
        let done = blocks * BLOCK;
        let tail = f32::single_scalar(&p[done..n], &mut o[done..n], floor);
        let limit = _mm256_set1_epi32(1.0f32.to_bits() as i32);
        // a lane above the limit is one the maximum with the limit changes
        let within = _mm256_cmpeq_epi32(_mm256_max_epu32(top, limit), limit);
        head | tail | (_mm256_movemask_epi8(within) != -1)
    }

    /// Stores the 64 bools of a block at `at` (64-byte aligned for [`Store::Stream`]).
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn store_block_512(at: *mut MaybeUninit<bool>, bools: __m512i, store: Store) {
        // SAFETY: the caller's: 64 writable bytes at `at`, aligned when streamed.
        unsafe {
            match store {
                Store::Cached => _mm512_storeu_si512(at.cast(), bools),
                Store::Stream => _mm512_stream_si512(at.cast(), bools),
            }
        }
    }

    /// 64 values per block: the comparison bits of the block's vectors gathered into one 64-bit
    /// mask, made 64 bools by one zero-masked byte move and stored at once (streamed as
    /// `store` says, as the AVX2 kernels); the largest bit pattern kept for the range verdict
    /// (see the module docs). No prefetches: on Zen 4 the hardware's keep up with this loop,
    /// and the AVX2 kernels' (2 KiB ahead) made the one-thread pass slower (1e5 x 100 float64,
    /// 2.3-2.6 -> 2.7-2.8 ms).
    #[target_feature(enable = "avx512f,avx512bw")]
    pub unsafe fn single_f64_avx512(p: &[f64], o: &mut [MaybeUninit<bool>], floor: f64, store: Store) -> bool {
        const BLOCK: usize = 64;
        let (head, p, o) = aligned_part::<_, 64>(p, o, store, floor);
        let n = p.len().min(o.len());
        let blocks = n / BLOCK;
        let (f, ones) = (_mm512_set1_pd(floor), _mm512_set1_epi8(1));
        let mut top = _mm512_setzero_si512();
        for b in 0..blocks {
            // SAFETY: block b lies within p and o (b < n / BLOCK); o's block is aligned when
            // streamed.
            unsafe {
                let x = p.as_ptr().add(b * BLOCK);
                let mut bits = 0u64;
                for j in 0..BLOCK / 8 {
                    let v = _mm512_loadu_pd(x.add(8 * j));
                    bits |= u64::from(_mm512_cmp_pd_mask::<_CMP_GE_OQ>(v, f)) << (8 * j);
                    top = _mm512_max_epu64(top, _mm512_castpd_si512(v));
                }
                store_block_512(o.as_mut_ptr().add(b * BLOCK), _mm512_maskz_mov_epi8(bits, ones), store);
            }
        }
        fence(store);
        let done = blocks * BLOCK;
        let tail = f64::single_scalar(&p[done..n], &mut o[done..n], floor);
        let limit = _mm512_set1_epi64(1.0f64.to_bits() as i64);
        head | tail | (_mm512_cmp_epu64_mask::<_MM_CMPINT_NLE>(top, limit) != 0)
    }

    /// As [`single_f64_avx512`], 16 values per vector.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub unsafe fn single_f32_avx512(p: &[f32], o: &mut [MaybeUninit<bool>], floor: f32, store: Store) -> bool {
        const BLOCK: usize = 64;
        let (head, p, o) = aligned_part::<_, 64>(p, o, store, floor);
        let n = p.len().min(o.len());
        let blocks = n / BLOCK;
        let (f, ones) = (_mm512_set1_ps(floor), _mm512_set1_epi8(1));
        let mut top = _mm512_setzero_si512();
        for b in 0..blocks {
            // SAFETY: block b lies within p and o (b < n / BLOCK); o's block is aligned when
            // streamed.
            unsafe {
                let x = p.as_ptr().add(b * BLOCK);
                let mut bits = 0u64;
                for j in 0..BLOCK / 16 {
                    let v = _mm512_loadu_ps(x.add(16 * j));
                    bits |= u64::from(_mm512_cmp_ps_mask::<_CMP_GE_OQ>(v, f)) << (16 * j);
                    top = _mm512_max_epu32(top, _mm512_castps_si512(v));
                }
                store_block_512(o.as_mut_ptr().add(b * BLOCK), _mm512_maskz_mov_epi8(bits, ones), store);
            }
        }
        fence(store);
        let done = blocks * BLOCK;
        let tail = f32::single_scalar(&p[done..n], &mut o[done..n], floor);
        let limit = _mm512_set1_epi32(1.0f32.to_bits() as i32);
        head | tail | (_mm512_cmp_epu32_mask::<_MM_CMPINT_NLE>(top, limit) != 0)
    }
}

/// Runs a kernel into a fresh vector: the mask and the range verdict.
#[cfg(test)]
pub(crate) fn run_kernel<T: LacKernel>(
    f: impl Fn(&[T], &mut [MaybeUninit<bool>], T) -> bool,
    p: &[T],
    floor: T,
) -> (Vec<bool>, bool) {
    run_kernel_at(f, p, floor, 0)
}

/// [`run_kernel`] with the output starting `offset` bytes past a 64-byte boundary (the streamed
/// stores' head and blocks lie differently at each offset).
#[cfg(test)]
pub(crate) fn run_kernel_at<T: LacKernel>(
    f: impl Fn(&[T], &mut [MaybeUninit<bool>], T) -> bool,
    p: &[T],
    floor: T,
    offset: usize,
) -> (Vec<bool>, bool) {
    let mut buf: Vec<bool> = vec![true; p.len() + 128]; // every byte overwritten, or the test sees a stale `true`
    let start = buf.as_ptr().align_offset(64) + offset % 64;
    let o = &mut buf[start..start + p.len()];
    // SAFETY: a bool is a valid MaybeUninit<bool>; the kernel writes only 0 or 1 bytes.
    let slots = unsafe { std::slice::from_raw_parts_mut(o.as_mut_ptr().cast::<MaybeUninit<bool>>(), o.len()) };
    let bad = f(p, slots, floor);
    (o.to_vec(), bad)
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

    /// Every vector path this CPU runs, with cached and streamed stores, gives the scalar
    /// reference's mask, and a range verdict that is never false when a value is out of [0, 1],
    /// at every length around the block sizes, with a bad value anywhere, and with the output at
    /// several offsets from a 64-byte boundary (the AVX-512 streamed blocks' alignment; AVX2's is
    /// 32); a negative zero is a valid value to the reference.
    fn agrees<T: LacKernel + std::fmt::Debug>(make: impl Fn(f64) -> T, bad_values: &[T], neg_zero: T) {
        let mut st = 11u64;
        let floor = make(0.37);
        for n in (0..200).chain([1000, 4099]) {
            let mut p: Vec<T> = (0..n).map(|_| make(lcg(&mut st))).collect();
            if n > 3 {
                p[n / 3] = make(0.0);
                p[n / 4] = make(1.0);
            }
            let (want, want_bad) = run_kernel(T::single_scalar, &p, floor);
            assert!(!want_bad);
            for (&level, store) in crate::simd::supported_levels()
                .iter()
                .flat_map(|l| [(l, Store::Cached), (l, Store::Stream)])
            {
                let f = |p: &[T], o: &mut [MaybeUninit<bool>], fl: T| T::single_at(level, p, o, fl, store);
                let name = format!("{} {store:?}", level.name());
                for offset in [0, 1, 13, 31, 32, 45, 63] {
                    let (got, bad) = run_kernel_at(f, &p, floor, offset);
                    assert!(!bad, "{name} n={n} offset {offset}");
                    assert_eq!(got, want, "{name} n={n} offset {offset}");
                }
                for at in [0, n / 2, n.saturating_sub(1)] {
                    if n == 0 {
                        continue;
                    }
                    for &b in bad_values {
                        let mut q = p.clone();
                        q[at] = b;
                        assert!(run_kernel_at(f, &q, floor, 5).1, "{name} n={n} bad {b:?} at {at}");
                        assert!(run_kernel(T::single_scalar, &q, floor).1);
                    }
                    // −0.0 is in range (the reference says so); a vector path may only flag it
                    let mut q = p.clone();
                    q[at] = neg_zero;
                    assert!(!run_kernel(T::single_scalar, &q, floor).1);
                    let (got, _) = run_kernel_at(f, &q, floor, 5);
                    assert_eq!(
                        got,
                        run_kernel(T::single_scalar, &q, floor).0,
                        "{name} n={n} -0 at {at}"
                    );
                }
            }
        }
    }

    #[test]
    fn vector_paths_match_the_scalar_reference() {
        agrees(
            |x| x,
            &[
                f64::NAN,
                -f64::NAN,
                -1e-300,
                -5e-324,
                1.0 + f64::EPSILON,
                f64::INFINITY,
                f64::NEG_INFINITY,
            ],
            -0.0,
        );
        agrees(
            |x| x as f32,
            &[
                f32::NAN,
                -f32::NAN,
                -1e-30,
                -1e-45,
                1.0 + f32::EPSILON,
                f32::INFINITY,
                f32::NEG_INFINITY,
            ],
            -0.0,
        );
    }

    #[test]
    fn a_floor_of_zero_takes_negative_zero() {
        // floor 0 (a threshold ≥ 1): every value in [0, 1] is in, −0.0 included, at every level
        let p = vec![-0.0f64; 130];
        for &level in &crate::simd::supported_levels() {
            for store in [Store::Cached, Store::Stream] {
                let (got, _) = run_kernel_at(|p, o, f| f64::single_at(level, p, o, f, store), &p, 0.0, 3);
                assert!(got.iter().all(|&m| m), "{} {store:?}", level.name());
            }
        }
    }
}
