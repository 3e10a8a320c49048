//! The body scanner's byte-classification kernels: where a string stops, and where a plain array
//! of integers (every token's `bytes`) ends, found 16 bytes at a time.
//!
//! The vector path is SSE2 on x86-64 (part of its baseline, so the kernels inline into the
//! scanner without a dispatch call); elsewhere, and when `CREDO_SIMD=scalar` lowers the crate's
//! level ([`crate::simd::active`]), the portable path runs. Each kernel has a byte-at-a-time
//! reference here, and the tests hold every path to it.

/// The kernels a scanning loop runs with, chosen once per call: the loops over a body's entries
/// are generic over it and monomorphised in each level's entry point, so a level's kernels
/// inline into the loop (the AVX2 ones inside a `#[target_feature]` function).
pub trait Scan: Copy {
    /// [`string_stop`] at this level.
    fn string_stop(self, b: &[u8], i: usize) -> usize;
    /// [`int_list_end`] at this level.
    fn int_list_end<const SPACED: bool>(self, b: &[u8], i: usize) -> Option<usize>;
    /// The number's digits kernel at this level: the ASCII digits `w` starts with, their value
    /// and how many (the portable one: `number::digits16`).
    fn digits16(self, w: &[u8; 16]) -> (u64, usize);
}

/// The baseline kernels: SSE2 on x86-64 when the flag says vector kernels run, else portable.
#[derive(Clone, Copy, Debug)]
pub struct Baseline(pub bool);

impl Scan for Baseline {
    #[inline(always)]
    fn string_stop(self, b: &[u8], i: usize) -> usize {
        string_stop(b, i, self.0)
    }
    #[inline(always)]
    fn int_list_end<const SPACED: bool>(self, b: &[u8], i: usize) -> Option<usize> {
        int_list_end::<SPACED>(b, i, self.0)
    }
    #[inline(always)]
    fn digits16(self, w: &[u8; 16]) -> (u64, usize) {
        // Eight bytes at a time in a register: SSE2 has no multiply-add of bytes.
        super::number::digits16(w)
    }
}

/// The AVX2 kernels: 32 bytes a step. Made only where AVX2 is known to run ([`Avx2::assume`]).
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy, Debug)]
pub struct Avx2(());

#[cfg(target_arch = "x86_64")]
impl Avx2 {
    /// The token.
    ///
    /// # Safety
    /// The CPU runs AVX2 (the caller checked it, e.g. with [`crate::simd::SimdLevel::supported`]).
    #[inline(always)]
    pub unsafe fn assume() -> Self {
        Self(())
    }
}

/// [`int_array_end`] with the AVX2 classes (the scanner's `bytes` lists outside the common
/// layouts take the baseline kernel; the tests hold the AVX2 classes to it).
#[cfg(all(test, target_arch = "x86_64"))]
impl Avx2 {
    fn int_array_end(self, b: &[u8], i: usize) -> Option<usize> {
        if i + 64 > b.len() {
            return None;
        }
        plain_int_run(&avx2::int_classes(self, b, i)).map(|e| i + e + 1)
    }
}

#[cfg(target_arch = "x86_64")]
impl Scan for Avx2 {
    #[inline(always)]
    fn string_stop(self, b: &[u8], i: usize) -> usize {
        let mut i = i;
        while i + 32 <= b.len() {
            let m = avx2::string_stops(self, b, i);
            if m != 0 {
                return i + m.trailing_zeros() as usize;
            }
            i += 32;
        }
        string_stop(b, i, true)
    }
    #[inline(always)]
    fn int_list_end<const SPACED: bool>(self, b: &[u8], i: usize) -> Option<usize> {
        if i + 64 > b.len() {
            return None;
        }
        plain_int_list::<SPACED>(&avx2::int_classes(self, b, i)).map(|e| i + e + 1)
    }
    #[inline(always)]
    fn digits16(self, w: &[u8; 16]) -> (u64, usize) {
        avx2::digits16(self, w)
    }
}

/// A JSON string stops at a quote, a backslash or a control character (below 0x20).
#[inline(always)]
fn stops_string(c: u8) -> bool {
    c == b'"' || c == b'\\' || c < 0x20
}

/// The first index at or after `i` whose byte ends or interrupts a string's plain run (a quote,
/// a backslash, a control character); `b.len()` if none.
#[inline(always)]
pub fn string_stop(b: &[u8], i: usize, vector: bool) -> usize {
    let mut i = i;
    #[cfg(target_arch = "x86_64")]
    if vector {
        while i + 16 <= b.len() {
            let m = sse2::string_stops(b, i);
            if m != 0 {
                return i + m.trailing_zeros() as usize;
            }
            i += 16;
        }
    }
    let _ = vector;
    // Eight bytes at a time (a lane below the first hit can never be a false positive).
    while i + 8 <= b.len() {
        let w = u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or([0; 8]));
        let stop = has_byte(w, b'"') | has_byte(w, b'\\') | has_below(w, 0x20);
        if stop != 0 {
            return i + (stop.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    string_stop_bytes(b, i)
}

/// [`string_stop`] a byte at a time (the reference).
pub fn string_stop_bytes(b: &[u8], i: usize) -> usize {
    b.get(i..)
        .and_then(|rest| rest.iter().position(|&c| stops_string(c)))
        .map_or(b.len(), |p| i + p)
}

/// A bit set in the byte lanes of `w` equal to `c` (exact for the lowest set lane, which is the
/// only one read).
#[inline(always)]
fn has_byte(w: u64, c: u8) -> u64 {
    has_zero(w ^ (0x0101_0101_0101_0101u64 * u64::from(c)))
}

#[inline(always)]
fn has_zero(v: u64) -> u64 {
    v.wrapping_sub(0x0101_0101_0101_0101) & !v & 0x8080_8080_8080_8080
}

/// A bit set in the byte lanes of `w` below `n` (n ≤ 128; exact for the lowest set lane).
#[inline(always)]
fn has_below(w: u64, n: u8) -> u64 {
    w.wrapping_sub(0x0101_0101_0101_0101u64 * u64::from(n)) & !w & 0x8080_8080_8080_8080
}

/// The classes of up to 64 bytes, one bit per byte (bit j for byte `at + j`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Classes {
    digit: u64,
    zero: u64,
    comma: u64,
    space: u64,
    close: u64,
}

#[cfg(test)]
impl Classes {
    fn of_byte(&mut self, j: usize, c: u8) {
        let bit = 1u64 << j;
        if c.is_ascii_digit() {
            self.digit |= bit;
        }
        if c == b'0' {
            self.zero |= bit;
        }
        if c == b',' {
            self.comma |= bit;
        }
        if c == b' ' {
            self.space |= bit;
        }
        if c == b']' {
            self.close |= bit;
        }
    }

    /// Bytes `b[at..at + n]` (n ≤ 64, in bounds) a byte at a time.
    fn bytes(b: &[u8], at: usize, n: usize) -> Self {
        let mut k = Self::default();
        for (j, &c) in b[at..at + n].iter().enumerate() {
            k.of_byte(j, c);
        }
        k
    }
}

/// Where the array whose first element is at `i` ends (the index after its `]`), when the rest
/// of it is plain: non-negative integers without leading zeros, each comma followed by at most
/// one space, the `]` within 64 bytes. `None` otherwise, and always on the portable path (the
/// caller's byte loop then reads it, and reports what is wrong if anything is).
#[inline(always)]
pub fn int_array_end(b: &[u8], i: usize, vector: bool) -> Option<usize> {
    if !vector || i + 64 > b.len() {
        return None;
    }
    #[cfg(target_arch = "x86_64")]
    {
        plain_int_run(&sse2::int_classes(b, i)).map(|e| i + e + 1)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        None
    }
}

/// [`int_array_end`] for a list in one layout: its elements separated by `", "` exactly
/// (`SPACED`, as Python's `json.dumps` writes them) or by `","` exactly. It takes a subset of
/// what [`int_array_end`] takes, in fewer steps (one rule per separator instead of three).
#[inline(always)]
pub fn int_list_end<const SPACED: bool>(b: &[u8], i: usize, vector: bool) -> Option<usize> {
    if !vector || i + 64 > b.len() {
        return None;
    }
    #[cfg(target_arch = "x86_64")]
    {
        plain_int_list::<SPACED>(&sse2::int_classes(b, i)).map(|e| i + e + 1)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        None
    }
}

/// [`plain_int_run`] for one separator layout ([`int_list_end`]).
#[inline(always)]
fn plain_int_list<const SPACED: bool>(k: &Classes) -> Option<usize> {
    if k.close == 0 {
        return None;
    }
    let e = k.close.trailing_zeros();
    let before = (1u64 << e) - 1;
    // Through the `]` (classes past it are of other values, and not read).
    let upto = before | (1u64 << e);
    let d = k.digit & before;
    // Every violation sets a bit: a byte before the `]` other than a digit, a comma or a space;
    // no digit first; a number of two digits or more starting with 0; then, spaced, a space
    // exactly after each comma (the `]` is no space: nor a trailing comma) and a digit after it;
    // compact, no space and a digit after each comma.
    let run_starts = d & !(d << 1);
    let common = (before & !(d | k.comma | k.space)) | (1 & !d) | (run_starts & k.zero & (d >> 1));
    let separators = if SPACED {
        (((k.comma << 1) ^ k.space) & upto) | ((k.comma << 2) & upto & !d)
    } else {
        (k.space & before) | ((k.comma << 1) & upto & !d)
    };
    ((common | separators) == 0).then_some(e as usize)
}

/// The offset of the `]` closing a plain integer list that `k` (the classes of the bytes from the
/// list's first element on) holds, or `None` when the bytes before it are not such a list.
#[inline(always)]
fn plain_int_run(k: &Classes) -> Option<usize> {
    if k.close == 0 {
        return None;
    }
    let e = k.close.trailing_zeros();
    let before = (1u64 << e) - 1;
    let last = (before + 1) >> 1;
    let (d, c, s) = (k.digit & before, k.comma & before, k.space & before);
    // Every violation sets a bit (one test, no branch per rule): a byte before the `]` other than
    // a digit, a comma or a space; no digit first or last; a comma not right after a digit or
    // not right before a digit or one space; a space not right after a comma or not right
    // before a digit; a number of two digits or more starting with 0.
    let run_starts = d & !(d << 1);
    let bad = (before & !(d | c | s))
        | (1 & !d)
        | (last & !d)
        | (c & !(d << 1))
        | ((c << 1) & !(d | s))
        | (s & !(c << 1))
        | ((s << 1) & !d)
        | (run_starts & k.zero & (d >> 1));
    (bad == 0).then_some(e as usize)
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_cmplt_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8, _mm_sub_epi8,
    };

    use super::Classes;

    /// The 16 bytes at `b[i..]`; the caller checks `i + 16 <= b.len()`.
    #[inline(always)]
    fn load(b: &[u8], i: usize) -> __m128i {
        assert!(i + 16 <= b.len());
        // SAFETY: the 16 bytes read are in bounds (asserted); SSE2 is part of x86-64's baseline
        // and an unaligned load has no alignment requirement.
        unsafe { _mm_loadu_si128(b.as_ptr().add(i).cast()) }
    }

    #[inline(always)]
    fn eq(x: __m128i, c: u8) -> __m128i {
        // SAFETY: SSE2 is part of x86-64's baseline (here and below).
        unsafe { _mm_cmpeq_epi8(x, _mm_set1_epi8(c as i8)) }
    }

    #[inline(always)]
    fn bits(x: __m128i) -> u64 {
        // SAFETY: as above.
        u64::from(unsafe { _mm_movemask_epi8(x) } as u16)
    }

    /// Bit j set when `b[i + j]` is a quote, a backslash or below 0x20.
    #[inline(always)]
    pub(super) fn string_stops(b: &[u8], i: usize) -> u32 {
        let x = load(b, i);
        // SAFETY: as above.
        unsafe {
            // x ≤ 0x1F unsigned exactly when min(x, 0x1F) == x.
            let ctl = _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(0x1F)), x);
            _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(eq(x, b'"'), eq(x, b'\\')), ctl)) as u32
        }
    }

    /// [`Classes`] of `b[i..i + 64]`; the caller checks the bounds.
    #[inline(always)]
    pub(super) fn int_classes(b: &[u8], i: usize) -> Classes {
        let mut k = Classes::default();
        for q in 0..4 {
            let x = load(b, i + 16 * q);
            // Digits: x - '0' below 10, compared signed after moving 0 to -128.
            // SAFETY: as above.
            let digit = unsafe {
                let shifted = _mm_sub_epi8(x, _mm_set1_epi8((b'0' as i8).wrapping_add(-128)));
                _mm_cmplt_epi8(shifted, _mm_set1_epi8(-128 + 10))
            };
            let at = 16 * q;
            k.digit |= bits(digit) << at;
            k.zero |= bits(eq(x, b'0')) << at;
            k.comma |= bits(eq(x, b',')) << at;
            k.space |= bits(eq(x, b' ')) << at;
            k.close |= bits(eq(x, b']')) << at;
            if k.close != 0 {
                // The list ends in this block: the rest is not read.
                break;
            }
        }
        k
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_cmpgt_epi8, _mm256_loadu_si256, _mm256_min_epu8, _mm256_movemask_epi8,
        _mm256_or_si256, _mm256_set1_epi8, _mm256_sub_epi8,
    };

    use super::{Avx2, Classes};

    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_cvtsi128_si64, _mm_loadu_si128, _mm_madd_epi16, _mm_maddubs_epi16, _mm_min_epu8,
        _mm_movemask_epi8, _mm_packus_epi32, _mm_set1_epi16, _mm_set1_epi32, _mm_set1_epi8, _mm_shuffle_epi8,
        _mm_sub_epi8,
    };

    /// Shuffle controls that move the first `n` bytes of 16 to the last `n` and zero the rest:
    /// the 16 bytes from `ALIGN[n]` (`0x80` zeroes a lane).
    const ALIGN: [u8; 32] = {
        let mut t = [0x80u8; 32];
        let mut j = 0;
        while j < 16 {
            t[16 + j] = j as u8;
            j += 1;
        }
        t
    };

    /// The ASCII digits `w` starts with, their value and how many: the digits found by one
    /// compare, moved to the end of the register (zeros before them), then summed pairwise by
    /// multiply-adds (10·a + b, 100·ab + cd, 10⁴·abcd + efgh) into two 8-digit halves.
    #[inline(always)]
    pub(super) fn digits16(_: Avx2, w: &[u8; 16]) -> (u64, usize) {
        // SAFETY: the token proves AVX2, and with it SSSE3 and SSE4.1; the loads read `w`'s 16
        // bytes and `ALIGN[n..n + 16]` (n ≤ 16, within its 32).
        unsafe {
            let x = _mm_loadu_si128(w.as_ptr().cast());
            let d = _mm_sub_epi8(x, _mm_set1_epi8(b'0' as i8));
            // A digit is a byte whose distance from '0' is at most 9 (unsigned).
            let digit = _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d);
            let n = (!(_mm_movemask_epi8(digit) as u32)).trailing_zeros() as usize;
            let d = _mm_shuffle_epi8(d, _mm_loadu_si128(ALIGN.as_ptr().add(n).cast()));
            let pairs = _mm_maddubs_epi16(d, _mm_set1_epi16(0x010A));
            let quads = _mm_madd_epi16(pairs, _mm_set1_epi32(0x0001_0064));
            let quads = _mm_packus_epi32(quads, quads);
            let halves = _mm_madd_epi16(quads, _mm_set1_epi32(0x0001_2710));
            let v = _mm_cvtsi128_si64(halves) as u64;
            ((v & 0xFFFF_FFFF) * 100_000_000 + (v >> 32), n)
        }
    }

    // Every function here takes the `Avx2` token, which exists only where AVX2 runs; they are
    // `#[inline(always)]` into the `#[target_feature(enable = "avx2")]` entry points that hold it.

    /// The 32 bytes at `b[i..]`.
    #[inline(always)]
    fn load(_: Avx2, b: &[u8], i: usize) -> __m256i {
        assert!(i + 32 <= b.len());
        // SAFETY: the 32 bytes read are in bounds (asserted); the token proves AVX2; an
        // unaligned load has no alignment requirement.
        unsafe { _mm256_loadu_si256(b.as_ptr().add(i).cast()) }
    }

    #[inline(always)]
    fn eq(_: Avx2, x: __m256i, c: u8) -> __m256i {
        // SAFETY: the token proves AVX2 (here and below).
        unsafe { _mm256_cmpeq_epi8(x, _mm256_set1_epi8(c as i8)) }
    }

    #[inline(always)]
    fn bits(_: Avx2, x: __m256i) -> u64 {
        // SAFETY: as above.
        u64::from(unsafe { _mm256_movemask_epi8(x) } as u32)
    }

    /// Bit j set when `b[i + j]` is a quote, a backslash or below 0x20 (32 bytes).
    #[inline(always)]
    pub(super) fn string_stops(t: Avx2, b: &[u8], i: usize) -> u32 {
        let x = load(t, b, i);
        // SAFETY: as above.
        let ctl = unsafe { _mm256_cmpeq_epi8(_mm256_min_epu8(x, _mm256_set1_epi8(0x1F)), x) };
        // SAFETY: as above.
        let any = unsafe { _mm256_or_si256(_mm256_or_si256(eq(t, x, b'"'), eq(t, x, b'\\')), ctl) };
        bits(t, any) as u32
    }

    /// [`Classes`] of `b[i..i + 64]` (the second 32 only when the first hold no `]`); the caller
    /// checks the bounds.
    #[inline(always)]
    pub(super) fn int_classes(t: Avx2, b: &[u8], i: usize) -> Classes {
        let mut k = Classes::default();
        for half in 0..2 {
            let x = load(t, b, i + 32 * half);
            // Digits: x - '0' below 10, compared signed after moving 0 to -128.
            // SAFETY: as above.
            let digit = unsafe {
                let shifted = _mm256_sub_epi8(x, _mm256_set1_epi8((b'0' as i8).wrapping_add(-128)));
                _mm256_cmpgt_epi8(_mm256_set1_epi8(-128 + 10), shifted)
            };
            let at = 32 * half;
            k.digit |= bits(t, digit) << at;
            k.zero |= bits(t, eq(t, x, b'0')) << at;
            k.comma |= bits(t, eq(t, x, b',')) << at;
            k.space |= bits(t, eq(t, x, b' ')) << at;
            k.close |= bits(t, eq(t, x, b']')) << at;
            if k.close != 0 {
                break;
            }
        }
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference for [`int_array_end`]: the plain integer list a byte at a time, each
    /// separator a comma and at most one space.
    fn int_array_end_bytes(b: &[u8], i: usize) -> Option<usize> {
        int_list_end_bytes_in(b, i, None)
    }

    /// Bytes drawn mostly from the classes the kernels tell apart.
    fn noisy(seed: u64, n: usize, alphabet: &[u8]) -> Vec<u8> {
        let mut g = crate::rng::SplitMix64::new(seed);
        (0..n)
            .map(|_| alphabet[(g.next_f64() * alphabet.len() as f64) as usize % alphabet.len()])
            .collect()
    }

    #[test]
    fn string_stop_matches_the_byte_loop() {
        let alphabet = b"abc\"\\\x01\x1f \x7f\x80\xe9\xff";
        for seed in 0..400 {
            let n = (seed % 70) as usize;
            // Sparse stops: most plain bytes, so long runs cross the 8- and 16-byte steps.
            let mut b = noisy(seed, n, b"abcdefgh xyz\x80\xff");
            let marks = noisy(seed ^ 0xABCD, n, alphabet);
            for (j, m) in marks.iter().enumerate() {
                if j % 11 == (seed % 11) as usize {
                    b[j] = *m;
                }
            }
            for i in 0..=n {
                let want = string_stop_bytes(&b, i);
                assert_eq!(string_stop(&b, i, true), want, "{b:?} from {i}");
                assert_eq!(string_stop(&b, i, false), want, "{b:?} from {i}");
            }
        }
    }

    #[test]
    fn int_array_end_matches_the_byte_loop() {
        let mut agree = 0;
        for seed in 0..3000u64 {
            let mut b = noisy(seed, 90, b"0123456789012345678901234567890123456789,,,,, ]");
            if seed % 3 == 0 {
                // Well-formed lists of several spacings, then noise.
                let mut g = crate::rng::SplitMix64::new(seed);
                let n = 1 + (g.next_f64() * 12.0) as usize;
                let sep = if seed % 2 == 0 { ", " } else { "," };
                let items: Vec<String> = (0..n).map(|_| ((g.next_f64() * 300.0) as u32).to_string()).collect();
                let s = items.join(sep) + "]";
                b[..s.len().min(90)].copy_from_slice(&s.as_bytes()[..s.len().min(90)]);
            }
            for i in 0..=b.len() {
                let want = int_array_end_bytes(&b, i);
                if cfg!(target_arch = "x86_64") {
                    assert_eq!(
                        int_array_end(&b, i, true),
                        want,
                        "{:?} from {i}",
                        String::from_utf8_lossy(&b)
                    );
                }
                assert_eq!(int_array_end(&b, i, false), None);
                #[cfg(target_arch = "x86_64")]
                if i + 64 <= b.len() {
                    let (v, r) = (sse2::int_classes(&b, i), Classes::bytes(&b, i, 64));
                    let upto = if v.close == 0 {
                        u64::MAX
                    } else {
                        (v.close & v.close.wrapping_neg()).wrapping_mul(2).wrapping_sub(1)
                    };
                    assert_eq!(v.close & upto, r.close & upto);
                    assert_eq!(
                        (v.digit & upto, v.zero & upto, v.comma & upto, v.space & upto),
                        (r.digit & upto, r.zero & upto, r.comma & upto, r.space & upto)
                    );
                }
                agree += usize::from(want.is_some());
            }
        }
        assert!(agree > 1000, "too few plain lists drawn ({agree})");
    }

    /// The AVX2 kernels where this CPU runs them.
    #[cfg(target_arch = "x86_64")]
    fn avx2() -> Option<Avx2> {
        // SAFETY: checked just before.
        crate::simd::SimdLevel::Avx2
            .supported()
            .then(|| unsafe { Avx2::assume() })
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_kernels_match_the_byte_loops_and_sse2() {
        let Some(avx2) = avx2() else { return };
        // Strings: runs long enough to cross the 16- and 32-byte steps, with sparse stops.
        let alphabet = b"abc\"\\\x01\x1f \x7f\x80\xe9\xff";
        for seed in 0..400 {
            let n = (seed % 150) as usize;
            let mut b = noisy(seed, n, b"abcdefgh xyz\x80\xff");
            let marks = noisy(seed ^ 0xABCD, n, alphabet);
            for (j, m) in marks.iter().enumerate() {
                if j % 23 == (seed % 23) as usize {
                    b[j] = *m;
                }
            }
            for i in 0..=n {
                let want = string_stop_bytes(&b, i);
                assert_eq!(avx2.string_stop(&b, i), want, "{b:?} from {i}");
                assert_eq!(Baseline(true).string_stop(&b, i), want, "{b:?} from {i}");
            }
        }
        // Integer lists: the reference's answer, and SSE2's, from every start.
        let mut agree = 0;
        for seed in 0..3000u64 {
            let mut b = noisy(seed, 100, b"0123456789012345678901234567890123456789,,,,, ]");
            if seed % 3 == 0 {
                let mut g = crate::rng::SplitMix64::new(seed);
                let n = 1 + (g.next_f64() * 14.0) as usize;
                let sep = if seed % 2 == 0 { ", " } else { "," };
                let items: Vec<String> = (0..n).map(|_| ((g.next_f64() * 300.0) as u32).to_string()).collect();
                let s = items.join(sep) + "]";
                let at = (seed as usize / 3) % 40;
                let len = s.len().min(100 - at);
                b[at..at + len].copy_from_slice(&s.as_bytes()[..len]);
            }
            for i in 0..=b.len() {
                let want = int_array_end_bytes(&b, i);
                assert_eq!(
                    avx2.int_array_end(&b, i),
                    want,
                    "{:?} from {i}",
                    String::from_utf8_lossy(&b)
                );
                assert_eq!(int_array_end(&b, i, true), want);
                agree += usize::from(want.is_some());
            }
        }
        assert!(agree > 1000, "too few plain lists drawn ({agree})");
    }

    /// A stop (an escape's backslash, a quote, a control character) or a list's `]` just before,
    /// at and after each 16- and 32-byte step of the scans.
    #[test]
    fn stops_straddling_the_block_boundaries() {
        for at in [14, 15, 16, 17, 30, 31, 32, 33, 34, 47, 48, 63] {
            for stop in [b'\\', b'"', 0x1f] {
                let mut b = vec![b'a'; 100];
                b[at] = stop;
                // An escape whose second byte lies in the next block.
                b[at + 1] = b'n';
                for i in 0..=at {
                    assert_eq!(string_stop(&b, i, true), at);
                    assert_eq!(string_stop(&b, i, false), at);
                    #[cfg(target_arch = "x86_64")]
                    if let Some(avx2) = avx2() {
                        assert_eq!(avx2.string_stop(&b, i), at);
                    }
                }
            }
            // A list whose `]` is at `at`: "1, 22, 1, 22, …]" (the `]` within 64 bytes).
            let mut list = String::new();
            while list.len() < at {
                list.push_str(if list.len().is_multiple_of(2) { "1, " } else { "22, " });
            }
            let mut list = list.into_bytes();
            list.truncate(at);
            while list.last().is_some_and(|c| !c.is_ascii_digit()) {
                list.pop();
            }
            let end = list.len();
            list.push(b']');
            list.resize(140, b' ');
            let want = int_array_end_bytes(&list, 0);
            assert_eq!(want, Some(end + 1), "{}", String::from_utf8_lossy(&list));
            #[cfg(target_arch = "x86_64")]
            {
                assert_eq!(int_array_end(&list, 0, true), want);
                if let Some(avx2) = avx2() {
                    assert_eq!(avx2.int_array_end(&list, 0), want);
                }
            }
        }
    }

    /// The reference for [`int_list_end`]: the list a byte at a time, each separator exactly
    /// `", "` (`spaced`) or `","`.
    fn int_list_end_bytes(b: &[u8], i: usize, spaced: bool) -> Option<usize> {
        int_list_end_bytes_in(b, i, Some(spaced))
    }

    /// Both references: a list of plain integers (no leading zero) ending in `]` within 64
    /// bytes of `i`; `layout` `Some(spaced)` asks every separator to be exactly `", "` or `","`,
    /// `None` takes a comma and at most one space.
    fn int_list_end_bytes_in(b: &[u8], i: usize, layout: Option<bool>) -> Option<usize> {
        if i + 64 > b.len() {
            return None;
        }
        let mut j = i;
        loop {
            let start = j;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            if j == start || (b[start] == b'0' && j - start > 1) {
                return None;
            }
            match b.get(j) {
                Some(b']') => return (j - i < 64).then_some(j + 1),
                Some(b',') => {
                    j += 1;
                    let space = b.get(j) == Some(&b' ');
                    if layout.is_some_and(|spaced| spaced != space) {
                        return None;
                    }
                    j += usize::from(space);
                }
                _ => return None,
            }
        }
    }

    #[test]
    fn int_list_end_matches_the_byte_loop_in_each_layout() {
        let mut agree = [0, 0];
        for seed in 0..4000u64 {
            let mut b = noisy(seed, 110, b"0123456789012345678901234567890123456789,,,,,  ]");
            if seed % 2 == 0 {
                // Well-formed lists in either layout (or mixed), then noise.
                let mut g = crate::rng::SplitMix64::new(seed);
                let n = 1 + (g.next_f64() * 14.0) as usize;
                let mut s = String::new();
                for k in 0..n {
                    if k > 0 {
                        s.push_str(match seed % 12 {
                            0 => pick_sep(&mut g),
                            2 | 4 | 6 | 8 => ", ",
                            _ => ",",
                        });
                    }
                    s.push_str(&((g.next_f64() * 300.0) as u32).to_string());
                }
                s.push(']');
                let at = (seed as usize / 2) % 40;
                let len = s.len().min(110 - at);
                b[at..at + len].copy_from_slice(&s.as_bytes()[..len]);
            }
            for i in 0..=b.len() {
                for (k, spaced) in [false, true].into_iter().enumerate() {
                    let want = int_list_end_bytes(&b, i, spaced);
                    let what = || format!("{:?} from {i}, spaced {spaced}", String::from_utf8_lossy(&b));
                    let got = |vector| {
                        if spaced {
                            int_list_end::<true>(&b, i, vector)
                        } else {
                            int_list_end::<false>(&b, i, vector)
                        }
                    };
                    if cfg!(target_arch = "x86_64") {
                        assert_eq!(got(true), want, "{}", what());
                    }
                    assert_eq!(got(false), None);
                    #[cfg(target_arch = "x86_64")]
                    if let Some(avx2) = avx2() {
                        let got = if spaced {
                            avx2.int_list_end::<true>(&b, i)
                        } else {
                            avx2.int_list_end::<false>(&b, i)
                        };
                        assert_eq!(got, want, "avx2: {}", what());
                    }
                    // A subset of what the general kernel takes, to the same end.
                    if want.is_some() {
                        assert_eq!(int_array_end_bytes(&b, i), want, "{}", what());
                    }
                    agree[k] += usize::from(want.is_some());
                }
            }
        }
        assert!(
            agree[0] > 1000 && agree[1] > 1000,
            "too few plain lists drawn ({agree:?})"
        );
    }

    fn pick_sep(g: &mut crate::rng::SplitMix64) -> &'static str {
        [",", ", ", ",  ", " ,", ",,"][(g.next_f64() * 5.0) as usize % 5]
    }

    #[test]
    fn int_array_end_refuses_what_is_not_plain() {
        let pad = " ".repeat(64);
        for (s, want) in [
            ("1, 2, 3]", Some(8)),
            ("0,10,200]", Some(9)),
            ("1]", Some(2)),
            ("01, 2]", None),
            ("1, 02]", None),
            ("1,,2]", None),
            ("1,]", None),
            ("1 ,2]", None),
            ("1,  2]", None),
            ("1 2]", None),
            ("-1, 2]", None),
            ("1.5]", None),
            ("]", None),
            (" 1]", None),
            ("1\n,2]", None),
        ] {
            let b = format!("{s}{pad}");
            if cfg!(target_arch = "x86_64") {
                assert_eq!(int_array_end(b.as_bytes(), 0, true), want, "{s}");
            }
            #[cfg(target_arch = "x86_64")]
            if let Some(avx2) = avx2() {
                assert_eq!(avx2.int_array_end(b.as_bytes(), 0), want, "{s}");
            }
        }
    }
}
