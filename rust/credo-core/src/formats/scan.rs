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
    /// A `top_logprobs` entry from its `{` at `b[i]` in the layout `SPACED` says: its token,
    /// its logprob and the index after its `}` (the `json` module's `top_entry_in_layout`, whose
    /// reading this is; a level may read the common form in fewer steps first).
    #[inline(always)]
    fn top_entry<const SPACED: bool>(self, b: &[u8], i: usize) -> Option<(Span, f64, usize)> {
        top_entry_in_layout::<SPACED, Self>(b, i, self)
    }
    /// [`Scan::next_top_entry`] of the common form in one step, where a level has a kernel for
    /// it; `None` where it gives way (always, by default). Apart from it, so that a loop keeps
    /// what the kernel reads in registers, apart from what an out-of-line reading returns.
    #[inline(always)]
    fn next_top_entry_quick<const SPACED: bool>(self, b: &[u8], i: usize) -> Option<(Span, f64, usize)> {
        let _ = (b, i);
        None
    }
    /// The next `top_logprobs` entry from the separator before it at `b[i]`, the layout's
    /// exactly (`", "` or `","`): what [`Scan::top_entry`] reads after it.
    #[inline(always)]
    fn next_top_entry<const SPACED: bool>(self, b: &[u8], i: usize) -> Option<(Span, f64, usize)> {
        let sep = if SPACED { lit(b, i, b", ") } else { lit(b, i, b",") };
        if !sep {
            return None;
        }
        self.top_entry::<SPACED>(b, i + if SPACED { 2 } else { 1 })
    }
    /// The members an entry starts with, from its `{` at `b[i]` (the `json` module's
    /// `entry_head_in_layout`, whose reading this is; a level may read the common form in fewer
    /// steps first).
    #[inline(always)]
    fn entry_head<const SPACED: bool>(self, b: &[u8], i: usize) -> Option<(Span, f64, usize)> {
        entry_head_in_layout::<SPACED, Self>(b, i, self)
    }
}

use super::json::{entry_head_in_layout, lit, top_entry_in_layout, Span};

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
    #[inline(always)]
    fn top_entry<const SPACED: bool>(self, b: &[u8], i: usize) -> Option<(Span, f64, usize)> {
        match avx2::top_entry::<SPACED>(self, b, i) {
            Some(read) => Some(read),
            None => gave_way::top_entry::<SPACED>(b, i),
        }
    }
    #[inline(always)]
    fn next_top_entry_quick<const SPACED: bool>(self, b: &[u8], i: usize) -> Option<(Span, f64, usize)> {
        avx2::next_top_entry::<SPACED>(self, b, i)
    }
    #[inline(always)]
    fn next_top_entry<const SPACED: bool>(self, b: &[u8], i: usize) -> Option<(Span, f64, usize)> {
        gave_way::next_top_entry::<SPACED>(b, i)
    }
    #[inline(always)]
    fn entry_head<const SPACED: bool>(self, b: &[u8], i: usize) -> Option<(Span, f64, usize)> {
        match avx2::entry_head::<SPACED>(self, b, i) {
            Some(read) => Some(read),
            None => gave_way::entry_head::<SPACED>(b, i),
        }
    }
}

/// The general entry readings where the AVX2 kernels give way, out of line and with the
/// baseline kernels (which read to the same values: the tests hold the levels to each other),
/// so that the AVX2 loops hold none of their code or constants.
#[cfg(target_arch = "x86_64")]
mod gave_way {
    use super::{entry_head_in_layout, lit, top_entry_in_layout, Baseline, Scan, Span};

    #[cold]
    #[inline(never)]
    pub(super) fn top_entry<const SPACED: bool>(b: &[u8], i: usize) -> Option<(Span, f64, usize)> {
        top_entry_in_layout::<SPACED, _>(b, i, Baseline(true))
    }

    #[cold]
    #[inline(never)]
    pub(super) fn next_top_entry<const SPACED: bool>(b: &[u8], i: usize) -> Option<(Span, f64, usize)> {
        let sep = if SPACED { lit(b, i, b", ") } else { lit(b, i, b",") };
        if !sep {
            return None;
        }
        Baseline(true).top_entry::<SPACED>(b, i + if SPACED { 2 } else { 1 })
    }

    #[cold]
    #[inline(never)]
    pub(super) fn entry_head<const SPACED: bool>(b: &[u8], i: usize) -> Option<(Span, f64, usize)> {
        entry_head_in_layout::<SPACED, _>(b, i, Baseline(true))
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
    let e = k.close.trailing_zeros() as usize;
    plain_int_list_ending::<SPACED>(k, e).then_some(e)
}

/// Whether `k` holds a plain integer list ([`plain_int_list`]) whose first `]` is at `e`
/// (e < 64), which the caller knows: `k.close` is not read.
#[inline(always)]
fn plain_int_list_ending<const SPACED: bool>(k: &Classes, e: usize) -> bool {
    // The bytes through the first `]`, and those before it (classes past it are of other
    // values, and not read).
    let upto = u64::MAX >> (63 - e);
    let before = upto >> 1;
    // Where an element must start: the first byte, and after each separator.
    let starts = (if SPACED { k.comma << 2 } else { k.comma << 1 } | 1) & upto;
    // Every violation sets a bit: a byte before the `]` other than a digit, a comma or (spaced)
    // a space; spaced, a space other than exactly one after each comma (the `]` is none: nor a
    // trailing comma); an element start that is no digit (an empty element, a trailing
    // separator); an element of two digits or more starting with 0.
    let other = if SPACED {
        (before & !(k.digit | k.comma | k.space)) | (((k.comma << 1) ^ k.space) & upto)
    } else {
        before & !(k.digit | k.comma)
    };
    let bad = other | (starts & !k.digit) | (starts & k.zero & (k.digit >> 1));
    bad == 0
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
        __m128i, __m256i, _mm256_castsi256_si128, _mm256_cmpeq_epi8, _mm256_cmpgt_epi8, _mm256_loadu_si256,
        _mm256_min_epu8, _mm256_movemask_epi8, _mm256_or_si256, _mm256_set1_epi8, _mm256_sub_epi8,
    };

    use super::{plain_int_list_ending, Avx2, Classes, Span};
    use crate::formats::json::hex4;
    use crate::formats::number::{long_places, point_value, short_int};

    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_cvtsi128_si64, _mm_loadu_si128, _mm_madd_epi16, _mm_maddubs_epi16, _mm_min_epu8,
        _mm_movemask_epi8, _mm_packus_epi32, _mm_set1_epi16, _mm_set1_epi32, _mm_set1_epi8, _mm_shuffle_epi8,
        _mm_sub_epi8,
    };

    /// Shuffle controls that move the first `n` bytes of 16 to the last `n` and zero the rest:
    /// the 16 bytes from `ALIGN[n]` (`0x80` zeroes a lane; n up to 32 reads in bounds).
    const ALIGN: [u8; 48] = {
        let mut t = [0x80u8; 48];
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
    pub(super) fn digits16(t: Avx2, w: &[u8; 16]) -> (u64, usize) {
        // SAFETY: the token proves AVX2, and with it SSE4.1; the load reads `w`'s 16 bytes.
        let (d, n) = unsafe {
            let x = _mm_loadu_si128(w.as_ptr().cast());
            let d = _mm_sub_epi8(x, _mm_set1_epi8(b'0' as i8));
            // A digit is a byte whose distance from '0' is at most 9 (unsigned).
            let digit = _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d);
            (d, (!(_mm_movemask_epi8(digit) as u32)).trailing_zeros() as usize)
        };
        (digits_value(t, d, n), n)
    }

    /// [`digits16`] of 32 bytes: how many digits `w` starts with (up to 32), and their value
    /// when they are 16 at most (else a value of no use), in as many steps: a count past 16
    /// costs the common form nothing.
    #[inline(always)]
    pub(super) fn digits32(t: Avx2, w: &[u8; 32]) -> (u64, usize) {
        // SAFETY: the token proves AVX2; the load reads `w`'s 32 bytes.
        let (d, n) = unsafe {
            let x = _mm256_loadu_si256(w.as_ptr().cast());
            let d = _mm256_sub_epi8(x, _mm256_set1_epi8(b'0' as i8));
            let digit = _mm256_cmpeq_epi8(_mm256_min_epu8(d, _mm256_set1_epi8(9)), d);
            let n = (!(_mm256_movemask_epi8(digit) as u32)).trailing_zeros() as usize;
            (_mm256_castsi256_si128(d), n)
        };
        (digits_value(t, d, n), n)
    }

    /// The value of the first `n` bytes of `d` (digits less `'0'`, n ≤ 16; up to 32 reads in
    /// bounds, to a value of no use).
    #[inline(always)]
    fn digits_value(_: Avx2, d: __m128i, n: usize) -> u64 {
        // SAFETY: the token proves AVX2, and with it SSSE3 and SSE4.1; the load reads
        // `ALIGN[n..n + 16]` (n ≤ 32, within its 48).
        unsafe {
            assert!(n <= 32);
            let d = _mm_shuffle_epi8(d, _mm_loadu_si128(ALIGN.as_ptr().add(n).cast()));
            let pairs = _mm_maddubs_epi16(d, _mm_set1_epi16(0x010A));
            let quads = _mm_madd_epi16(pairs, _mm_set1_epi32(0x0001_0064));
            let quads = _mm_packus_epi32(quads, quads);
            let halves = _mm_madd_epi16(quads, _mm_set1_epi32(0x0001_2710));
            let v = _mm_cvtsi128_si64(halves) as u64;
            (v & 0xFFFF_FFFF) * 100_000_000 + (v >> 32)
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

    /// A literal in the first bytes of 32 (the rest zero), and the bits of its bytes.
    struct Pattern {
        bytes: [u8; 32],
        mask: u32,
    }

    impl Pattern {
        /// `lit`, each byte `?` standing for any (not compared).
        const fn new(lit: &[u8]) -> Self {
            let mut bytes = [0u8; 32];
            let mut mask = 0u32;
            let mut j = 0;
            while j < lit.len() {
                if lit[j] != b'?' {
                    bytes[j] = lit[j];
                    mask |= 1 << j;
                }
                j += 1;
            }
            Self { bytes, mask }
        }

        /// Whether the 32 bytes of `x` start with the literal.
        #[inline(always)]
        fn found(&self, t: Avx2, x: __m256i) -> bool {
            self.matched(t, x) & self.mask == self.mask
        }

        /// The bits of the bytes of `x` equal to the literal's (those of the `?` and past the
        /// literal too: masked by the caller).
        #[inline(always)]
        fn matched(&self, t: Avx2, x: __m256i) -> u32 {
            // SAFETY: the token proves AVX2; the load reads the pattern's 32 bytes.
            let p = unsafe { _mm256_loadu_si256(self.bytes.as_ptr().cast()) };
            // SAFETY: as above.
            let eq = unsafe { _mm256_cmpeq_epi8(x, p) };
            bits(t, eq) as u32
        }
    }

    /// What comes before a token, and from its closing quote to a logprob's places (`-D.`, the
    /// digit `?` not compared; its `-` alone for `-DD.`), then to a `bytes` list's first
    /// element, in each layout.
    /// (Each opening also after the separator before it: `AFTER[1]`.)
    const OPEN: [[Pattern; 2]; 2] = [
        [Pattern::new(b"{\"token\":\""), Pattern::new(b"{\"token\": \"")],
        [Pattern::new(b",{\"token\":\""), Pattern::new(b", {\"token\": \"")],
    ];
    const KEY: [Pattern; 2] = [
        Pattern::new(b"\",\"logprob\":-?."),
        Pattern::new(b"\", \"logprob\": -?."),
    ];
    const BYTES: [Pattern; 2] = [Pattern::new(b",\"bytes\":["), Pattern::new(b", \"bytes\": [")];

    /// The bytes an entry's reading looks at from its `{`: the token ends within 64 of it, the
    /// 32 bytes the logprob's places are counted in within 114 (the places, 22 at most, within
    /// 104), a `bytes` list starts within 116 and ends within 64 more,
    /// the entry's `}` right after (one bounds check an entry: every index below is into this
    /// window).
    const WINDOW: usize = 192;

    /// The window from `b[i]`: one comparison, of `i` with the last start a window has (the
    /// loops hold it in a register), where `b.get(i..)` compared twice.
    #[inline(always)]
    fn window(b: &[u8], i: usize) -> Option<&[u8; WINDOW]> {
        let last = b.len().checked_sub(WINDOW)?;
        if i > last {
            return None;
        }
        b[i..i + WINDOW].try_into().ok()
    }

    /// `top_entry_in_layout` (the `json` module's) of the form nearly every entry takes:
    /// [`entry_head`] and the entry's `}`.
    #[inline(always)]
    pub(super) fn top_entry<const SPACED: bool>(t: Avx2, b: &[u8], i: usize) -> Option<(Span, f64, usize)> {
        let w = window(b, i)?;
        let (token, lp, end) = head::<SPACED, false, false>(t, w)?;
        (w[end] == b'}').then(|| (token.at(i), lp, i + end + 1))
    }

    /// [`top_entry`] of the entry after the separator at `b[i]` (the layout's, exactly),
    /// compared with the entry's opening.
    #[inline(always)]
    pub(super) fn next_top_entry<const SPACED: bool>(t: Avx2, b: &[u8], i: usize) -> Option<(Span, f64, usize)> {
        let w = window(b, i)?;
        let (token, lp, end) = head::<SPACED, true, false>(t, w)?;
        (w[end] == b'}').then(|| (token.at(i), lp, i + end + 1))
    }

    /// `entry_head_in_layout` (the `json` module's) of the form nearly every entry takes: a
    /// token ending within 64 bytes of the entry's start, a logprob `-D.` or `-DD.` and 1 to 16
    /// places (17 to 22 read out of line), then the entry's `}` or its next member other than `bytes` (neither read) or a
    /// `bytes` list of plain integers. Every literal is
    /// compared by one vector compare, the token's end found in the same 32 bytes as its
    /// opening; what this reads is read to the same values as the general reading would (the
    /// same string, number and list kernels), and anything else is `None` (the caller then reads
    /// the entry that way).
    #[inline(always)]
    pub(super) fn entry_head<const SPACED: bool>(t: Avx2, b: &[u8], i: usize) -> Option<(Span, f64, usize)> {
        let w = window(b, i)?;
        let (token, lp, end) = head::<SPACED, false, true>(t, w)?;
        Some((token.at(i), lp, i + end))
    }

    /// [`entry_head`] in the window from the entry's `{` (`AFTER`: from the separator before
    /// it): the token's span and the index after the last value read, both from the window's
    /// start. `MEMBERS`: a member other than `bytes` may follow the logprob (a content entry's
    /// head); else only the entry's `}` or `bytes` (a top entry: the loops over them compile
    /// without that case).
    #[inline(always)]
    fn head<const SPACED: bool, const AFTER: bool, const MEMBERS: bool>(
        t: Avx2,
        w: &[u8; WINDOW],
    ) -> Option<(Span, f64, usize)> {
        let layout = usize::from(SPACED);
        let opening = &OPEN[usize::from(AFTER)][layout];
        let open = opening.mask.count_ones() as usize;
        let x = load(t, w, 0);
        // The token's closing quote: the first quote, backslash or control byte past the opening
        // one when it is a quote; else the string's end as the general reading finds it (checking
        // its escapes), 64 bytes in at most.
        let quote = bits(t, eq(t, x, b'"'));
        // (Bit 32 stands for the bytes past these 32: a long token.)
        let stops = (u64::from(string_stops(t, w, 0)) | 1 << 32) & !((1 << open) - 1);
        let mut end = stops.trailing_zeros() as usize;
        if !opening.found(t, x) {
            return None;
        }
        if (quote >> end) & 1 == 0 {
            end = token_end(t, w, stops)?;
        }
        // `", "logprob": -D.` (or `-DD.`) from the closing quote, then the places.
        let y = load(t, w, end);
        let pattern = &KEY[layout];
        let key = end + pattern.mask.count_ones() as usize - 1;
        let matched = pattern.matched(t, y);
        let d = w[key].wrapping_sub(b'0');
        // A top-k list is sorted: its logprobs go from one digit to two once at most (a branch
        // mispredicted once a list at most, cheaper than reading both forms in one way).
        let (int, at) = if matched & pattern.mask == pattern.mask && d <= 9 {
            (u64::from(d), key + 2)
        } else {
            // The pattern's bytes up to the digits (not its point), then `D.` or `DD.`.
            let sign = (1u32 << (key - end)) - 1;
            if matched & sign != sign {
                return None;
            }
            let (int, point) = short_int(w[key], w[key + 1], w[key + 2])?;
            (int, key + point)
        };
        let places: &[u8; 32] = w[at..at + 32].try_into().ok()?;
        let (f, n) = digits32(t, places);
        // 1 to 16 places (17 to 22 out of line), then the entry's `}` or the `,` of `bytes`
        // (anything else, an exponent, fails the comparisons below).
        let (lp, n) = if n.wrapping_sub(1) < 16 {
            (-point_value(int, f, n)?, n)
        } else {
            let (v, n) = long_places(int, places)?;
            // (22 at most: told, so that the indices below need no bounds check.)
            (-v, n.min(22))
        };
        let next = w[at + n];
        let token = Span {
            start: open as u32,
            end: end as u32,
        };
        // An entry without `bytes` (some servers leave it out) ends here.
        if next == b'}' {
            return Some((token, lp, at + n));
        }
        // `, "bytes": [` and a plain list, its `]` within 64 bytes.
        let z = load(t, w, at + n);
        let bytes = &BYTES[layout];
        let matched = bytes.matched(t, z);
        if matched & bytes.mask != bytes.mask {
            if !MEMBERS {
                return None;
            }
            // Another member after the logprob (a content entry's `top_logprobs`, where a
            // server leaves `bytes` out): the head ends at the number, as the general reading's
            // does. `bytes` of another value (`null`) is that reading's, as is anything but a
            // `,` after the number.
            let key = bytes.mask >> 1;
            return (next == b',' && matched & key != key).then_some((token, lp, at + n));
        }
        let opening = BYTES[layout].mask.count_ones() as usize;
        let list = at + n + opening;
        // The list's `]`: the first one from where the list's first element stands at the
        // earliest (after one digit, the point and one place), found without the places' count
        // or the integer part's, so that the next entry's reading waits on a short chain of
        // loads. The list starts there or later, so no `]` stands between its start and `fin`:
        // the list rules then hold it read from its first element to end at `fin`.
        let from = key + 3 + opening;
        let near = bits(t, eq(t, load(t, w, from), b']')) | bits(t, eq(t, load(t, w, from + 32), b']')) << 32;
        let fin = if near != 0 {
            from + near.trailing_zeros() as usize
        } else {
            from + 64
                + (u64::from(bits(t, eq(t, load(t, w, from + 64), b']')) as u32) | 1 << 32).trailing_zeros() as usize
        };
        let e = fin.wrapping_sub(list);
        if fin < list || e >= 64 || !plain_int_list_ending::<SPACED>(&list_classes(t, w, list, e), e) {
            return None;
        }
        Some((token, lp, fin + 1))
    }

    /// The closing quote of the string in the window's first 64 bytes, `stops` the bits of its
    /// quotes, backslashes and control bytes among `w[..32]` from its first byte on (and bit
    /// 32): the escapes servers write (`\n`, `\"`, `\\`, `\u00e9`, a surrogate pair) are
    /// stepped over on those bits and those of the next 32 bytes, as `string_end` reads them.
    /// `None` for anything else (a control byte, another escape, no quote within 64 bytes): the
    /// general reading then reads the entry (and reports what is wrong). Nothing here calls
    /// out of the AVX2 code.
    #[inline(always)]
    fn token_end(t: Avx2, w: &[u8; WINDOW], stops: u64) -> Option<usize> {
        let mut stops = (stops & 0xFFFF_FFFF) | u64::from(string_stops(t, w, 32)) << 32;
        loop {
            if stops == 0 {
                return None;
            }
            let at = stops.trailing_zeros() as usize;
            let used = match w[at] {
                b'"' => return Some(at),
                b'\\' => match w[at + 1] {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => 2,
                    b'u' => match hex4(w, at + 2)? {
                        c if !(0xD800..0xE000).contains(&c) => 6,
                        // A high surrogate, then `\u` and a low one (an emoji's pair).
                        c if c < 0xDC00
                            && w[at + 6] == b'\\'
                            && w[at + 7] == b'u'
                            && hex4(w, at + 8).is_some_and(|l| (0xDC00..0xE000).contains(&l)) =>
                        {
                            12
                        }
                        _ => return None,
                    },
                    _ => return None,
                },
                _ => return None,
            };
            let from = at + used;
            if from >= 64 {
                return None;
            }
            // The stops inside the escape are none (its second byte may be a quote or a
            // backslash).
            stops &= !((1u64 << from) - 1);
        }
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

    /// Adds the digits, zeros, commas and spaces of the 32 bytes `x` to `k`, at bit `at`.
    #[inline(always)]
    fn int_list_bytes(t: Avx2, x: __m256i, at: usize, k: &mut Classes) {
        // Digits: x - '0' below 10, compared signed after moving 0 to -128.
        // SAFETY: as above.
        let digit = unsafe {
            let shifted = _mm256_sub_epi8(x, _mm256_set1_epi8((b'0' as i8).wrapping_add(-128)));
            _mm256_cmpgt_epi8(_mm256_set1_epi8(-128 + 10), shifted)
        };
        k.digit |= bits(t, digit) << at;
        k.zero |= bits(t, eq(t, x, b'0')) << at;
        k.comma |= bits(t, eq(t, x, b',')) << at;
        k.space |= bits(t, eq(t, x, b' ')) << at;
    }

    /// [`Classes`] but `close` of `b[i..=i + e]` (e < 64: the second 32 bytes only when `e`
    /// lies in them), those of a list whose `]` is known to be at `i + e`; the caller checks the
    /// bounds.
    #[inline(always)]
    pub(super) fn list_classes(t: Avx2, b: &[u8], i: usize, e: usize) -> Classes {
        let mut k = Classes::default();
        for half in 0..1 + usize::from(e >= 32) {
            let x = load(t, b, i + 32 * half);
            let at = 32 * half;
            int_list_bytes(t, x, at, &mut k);
        }
        k
    }

    /// [`Classes`] of `b[i..i + 64]` (the second 32 only when the first hold no `]`); the caller
    /// checks the bounds.
    #[inline(always)]
    pub(super) fn int_classes(t: Avx2, b: &[u8], i: usize) -> Classes {
        let mut k = Classes::default();
        for half in 0..2 {
            let x = load(t, b, i + 32 * half);
            let at = 32 * half;
            int_list_bytes(t, x, at, &mut k);
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
        #[cfg(target_arch = "x86_64")]
        let mut lists = 0;
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
                        // The entry kernel's reading: the classes up to a `]` it knows.
                        let k = (i + 64 <= b.len()).then(|| Classes::bytes(&b, i, 64));
                        if let Some(k) = k.filter(|k| k.close != 0) {
                            let e = k.close.trailing_zeros() as usize;
                            let classes = avx2::list_classes(avx2, &b, i, e);
                            let got = if spaced {
                                plain_int_list_ending::<true>(&classes, e)
                            } else {
                                plain_int_list_ending::<false>(&classes, e)
                            };
                            assert_eq!(got, want.is_some(), "list classes: {}", what());
                            lists += usize::from(got);
                        }
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
        #[cfg(target_arch = "x86_64")]
        assert!(avx2().is_none() || lists == agree[0] + agree[1], "{lists} of {agree:?}");
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

    /// A `top_logprobs` entry in one layout from its parts (`bytes` as written, or absent).
    fn entry(spaced: bool, token: &str, logprob: &str, bytes: Option<&str>) -> String {
        let (sep, colon) = if spaced { (", ", ": ") } else { (",", ":") };
        let mut s = format!("{{\"token\"{colon}{token}{sep}\"logprob\"{colon}{logprob}");
        if let Some(b) = bytes {
            s += &format!("{sep}\"bytes\"{colon}{b}");
        }
        s + "}"
    }

    /// The AVX2 entry reading, its one-step kernel alone, and the general reading of `b[0..]`
    /// (with the AVX2 kernels, and the same with SSE2's, which the other tests hold to the byte
    /// loops); then the one-step kernel's reading of the entry after its separator.
    #[cfg(target_arch = "x86_64")]
    fn entry_readings(avx2: Avx2, b: &[u8], spaced: bool) -> [Option<(Span, u64, usize)>; 4] {
        let bits = |r: Option<(Span, f64, usize)>| r.map(|(t, v, e)| (t, v.to_bits(), e));
        let [got, kernel, want, sse2] = if spaced {
            [
                avx2.top_entry::<true>(b, 0),
                avx2::top_entry::<true>(avx2, b, 0),
                top_entry_in_layout::<true, _>(b, 0, avx2),
                top_entry_in_layout::<true, _>(b, 0, Baseline(true)),
            ]
        } else {
            [
                avx2.top_entry::<false>(b, 0),
                avx2::top_entry::<false>(avx2, b, 0),
                top_entry_in_layout::<false, _>(b, 0, avx2),
                top_entry_in_layout::<false, _>(b, 0, Baseline(true)),
            ]
        };
        assert_eq!(bits(want), bits(sse2), "{}", String::from_utf8_lossy(b));
        // The entry's head (a content entry's members before its `top_logprobs`): the kernel
        // reads it to the general reading's values or gives way.
        let [head, head_kernel, head_want] = if spaced {
            [
                avx2.entry_head::<true>(b, 0),
                avx2::entry_head::<true>(avx2, b, 0),
                entry_head_in_layout::<true, _>(b, 0, avx2),
            ]
        } else {
            [
                avx2.entry_head::<false>(b, 0),
                avx2::entry_head::<false>(avx2, b, 0),
                entry_head_in_layout::<false, _>(b, 0, avx2),
            ]
        };
        let what = String::from_utf8_lossy(b);
        assert_eq!(bits(head), bits(head_want), "head: {what}");
        assert!(
            head_kernel.is_none() || bits(head_kernel) == bits(head_want),
            "head: {what}"
        );
        // The same entry after the layout's separator: the kernel that compares both at once
        // reads it to the same values or gives way, the general reading reads it as from its `{`.
        let sep: &[u8] = if spaced { b", " } else { b"," };
        let after = [sep, b].concat();
        let n = sep.len();
        let back = |r: Option<(Span, f64, usize)>| {
            r.map(|(t, v, e)| {
                let t = Span {
                    start: t.start - n as u32,
                    end: t.end - n as u32,
                };
                (t, v.to_bits(), e - n)
            })
        };
        let [quick, general] = if spaced {
            [
                avx2.next_top_entry_quick::<true>(&after, 0),
                avx2.next_top_entry::<true>(&after, 0),
            ]
        } else {
            [
                avx2.next_top_entry_quick::<false>(&after, 0),
                avx2.next_top_entry::<false>(&after, 0),
            ]
        };
        let what = String::from_utf8_lossy(&after);
        assert_eq!(back(general), bits(want), "{what}");
        assert!(quick.is_none() || back(quick) == bits(want), "{what}");
        [bits(got), bits(kernel), bits(want), back(quick)]
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_entry_kernel_reads_as_the_general_entry_reading() {
        let Some(avx2) = avx2() else { return };
        let mut g = crate::rng::SplitMix64::new(31);
        let tokens = [
            "\" word\"",
            "\"\"",
            "\"a\\\"b\"",
            "\"\\u00e9t\\u00e9\"",
            "\"\\ud83d\\ude00\"",
            "\"bytes:\\\\xe4\\\\xb8\"",
            "\"\u{e9}t\u{e9} \u{65e5}\"",
            "\"a token of more than twenty-one bytes\"",
            "\"a token with escapes \\n\\t\\\" far past thirty-two bytes, then more \\u2028\"",
            "\"\\n\"",
            "\"\\x\"",
            "\"\\ud800\"",
            "\"a\tb\"",
            // Escapes the kernel steps over on its stop bits, and those it leaves to the string
            // reading: upper-case digits, NUL, a lone low surrogate, a bad digit, an escape
            // across the 32nd byte (the token starts at the 11th or 12th), quotes and
            // backslashes escaped back to back.
            "\"\\u00E9\\uD83D\\uDE00\\u0000\"",
            "\"\\udc00\"",
            "\"\\u12g4\"",
            "\"abcdefghijklmnopqrs\\u00e9\"",
            "\"abcdefghijklmnopqr\\u00e9x\"",
            "\"abcdefghijklmnopqrst\\n\\\"\"",
            "\"abcdefghijklmnopqrstu\\\\\\\"\"",
            "\"\\\"\\\\\\/\\b\\f\\r\\t\\u2028\"",
            "\"\\u00e9\\\u{1}\"",
            "\"\\n\u{1}\"",
        ];
        let (mut fast, mut total, mut after) = (0, 0, 0);
        for case in 0..20_000 {
            let spaced = case % 2 == 0;
            let token = tokens[(g.next_f64() * tokens.len() as f64) as usize % tokens.len()];
            // Logprobs of -0.5 to -100 mostly (the forms the kernel reads: one or two digits
            // before the point, as a top-20 list's tail often takes), others now and then.
            let x = -(0.5 + g.next_f64() * if case % 4 == 0 { 99.5 } else { 9.5 });
            let y = -(g.next_f64() * 10f64.powi((g.next_f64() * 5.0) as i32 - 3));
            let logprob = match case % 9 {
                0 => format!("{y:e}"),
                1 => format!("{y:.*}", (g.next_f64() * 25.0) as usize),
                // Near 0, to the shortest text (17 to 20 places often).
                3 => format!("{:?}", y * 1e-3),
                2 => [
                    "-9999", "-0", "0.5", "-0.0", "-1.5e-07", "null", "-1.", "-01.5", "-12.", "-123.5", "-00.5",
                    "-99.9",
                ][case / 9 % 12]
                    .to_string(),
                _ => format!("{x:?}"),
            };
            let sep = if spaced { ", " } else { "," };
            let n = (g.next_f64() * 16.0) as usize;
            let list: Vec<String> = (0..n).map(|_| ((g.next_f64() * 256.0) as u32).to_string()).collect();
            let bytes = match case % 13 {
                0 => None,
                1 => Some("null".to_string()),
                2 => Some(format!("[{}]", list.join(", ,"))),
                _ => Some(format!("[{}]", list.join(sep))),
            };
            let mut b = entry(spaced, token, &logprob, bytes.as_deref()).into_bytes();
            // A content entry's head: another member after `logprob` or `bytes`.
            if case % 5 == 1 {
                b.pop();
                b.extend_from_slice(if spaced {
                    b", \"top_logprobs\": ["
                } else {
                    b",\"top_logprobs\":["
                });
            }
            // What follows an entry, then room for the window (or not: the general reading).
            b.extend_from_slice(if spaced { b", {\"token\": " } else { b",{\"token\":" });
            b.resize(b.len() + if case % 17 == 0 { 0 } else { 160 }, b' ');
            // One byte changed, often.
            if case % 3 == 0 {
                let at = (g.next_f64() * 100.0) as usize % b.len();
                b[at] = b"{}[],: 0-e\"\\.n9x\x01"[(g.next_f64() * 17.0) as usize % 17];
            }
            let [got, kernel, want, quick] = entry_readings(avx2, &b, spaced);
            assert_eq!(got, want, "{}", String::from_utf8_lossy(&b));
            // The one-step kernel reads nothing the general reading does not, to the same values.
            assert!(kernel.is_none() || kernel == want, "{}", String::from_utf8_lossy(&b));
            fast += usize::from(kernel.is_some());
            after += usize::from(quick.is_some());
            total += usize::from(want.is_some());
        }
        // Most of the entries read were read in one step.
        assert!(fast * 2 > total && total > 5000, "{fast} of {total}");
        assert!(after * 10 > fast * 9, "{after} of {fast} after a separator");
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_entry_kernel_gives_way_at_each_mismatch() {
        let Some(avx2) = avx2() else { return };
        let pad = |s: String| s + &" ".repeat(160);
        let plain = |spaced| entry(spaced, "\" word\"", "-1.8448494364328587", Some("[32, 119, 111]"));
        for spaced in [true, false] {
            let base = plain(spaced);
            let list = if spaced { "[32, 119, 111]" } else { "[32,119,111]" };
            let base = base.replace("[32, 119, 111]", list);
            let [got, kernel, want, quick] = entry_readings(avx2, pad(base.clone()).as_bytes(), spaced);
            assert!(
                kernel.is_some() && got == want && kernel == want && quick == want,
                "{base}"
            );
            // Each departure from the common form: the kernel declines, the general reading
            // decides (reads it or refuses it).
            let colon = if spaced { ": " } else { ":" };
            for (what, changed) in [
                ("opening", base.replacen("{\"token\"", "{ \"token\"", 1)),
                ("key", base.replacen("\"token\"", "\"tokem\"", 1)),
                ("layout", base.replacen(&format!("\"token\"{colon}"), "\"token\" : ", 1)),
                (
                    "long token",
                    base.replacen("\" word\"", &format!("\"{}\"", "w".repeat(70)), 1),
                ),
                ("control byte", base.replacen(" word", " wo\x01rd", 1)),
                ("bad escape", base.replacen(" word", " wo\\xrd", 1)),
                ("logprob key", base.replacen("\"logprob\"", "\"logprop\"", 1)),
                (
                    "unsigned",
                    base.replacen("-1.8448494364328587", "1.8448494364328587", 1),
                ),
                (
                    "integer part",
                    base.replacen("-1.8448494364328587", "-123.48494364328587", 1),
                ),
                (
                    "leading zero",
                    base.replacen("-1.8448494364328587", "-01.8448494364328587", 1),
                ),
                (
                    "20 significant digits",
                    base.replacen("-1.8448494364328587", "-12.844849436432858712", 1),
                ),
                (
                    "20 significant digits after zeros",
                    base.replacen("-1.8448494364328587", "-0.0012345678901234567890", 1),
                ),
                (
                    "23 places",
                    base.replacen("-1.8448494364328587", "-0.00000012345678901234567", 1),
                ),
                (
                    "33 places",
                    base.replacen("-1.8448494364328587", &format!("-0.{}", "0".repeat(33)), 1),
                ),
                (
                    "exponent",
                    base.replacen("-1.8448494364328587", "-1.8448494364328587e-05", 1),
                ),
                ("no places", base.replacen("-1.8448494364328587", "-1.", 1)),
                ("sentinel", base.replacen("-1.8448494364328587", "-9999", 1)),
                ("bytes key", base.replacen("\"bytes\"", "\"byte\"", 1)),
                ("bytes null", base.replacen(list, "null", 1)),
                ("list", base.replacen(list, "[32,, 119]", 1)),
                ("leading zero", base.replacen(list, "[032]", 1)),
                (
                    "no brace",
                    base.replacen(&format!("{list}}}"), &format!("{list} }}"), 1),
                ),
            ] {
                assert_ne!(changed, base, "{what}");
                let [got, kernel, want, _] = entry_readings(avx2, pad(changed.clone()).as_bytes(), spaced);
                assert!(kernel.is_none(), "{what}: {changed}");
                assert_eq!(got, want, "{what}: {changed}");
            }
            // Two digits before the point (the tail of a top-20 list), and 17 to 22 places (a
            // logprob near 0 to 17 significant digits: 20 places from -10^-3 on): read in one
            // step too.
            for lp in [
                "-12.448494364328587",
                "-99.9",
                "-10.0000000000000001",
                "-1.84484943643285871",
                "-12.84484943643285871",
                "-0.00012345678901234567",
                "-0.00099999999999999995",
                "-0.0000000000000000000001",
                "-0.0000000000000000000000",
                "-0.1234567890123456789",
                "-0.00000000000000000001",
            ] {
                let two = base.replacen("-1.8448494364328587", lp, 1);
                let [got, kernel, want, quick] = entry_readings(avx2, pad(two.clone()).as_bytes(), spaced);
                assert!(
                    kernel.is_some() && got == want && kernel == want && quick == want,
                    "{two}"
                );
            }
            // Without `bytes` (as some servers write it): read in one step too.
            let sep = if spaced { ", " } else { "," };
            let bare = base.replacen(&format!("{sep}\"bytes\"{colon}{list}"), "", 1);
            assert_ne!(bare, base);
            let [got, kernel, want, _] = entry_readings(avx2, pad(bare.clone()).as_bytes(), spaced);
            assert!(kernel.is_some() && got == want && kernel == want, "{bare}");
            // A content entry's head, with `bytes` or without (then its `top_logprobs` right
            // after the logprob): read in one step to the general reading's values; with
            // `bytes` written otherwise, or no member after the logprob, left to that reading.
            let members = format!("{sep}\"top_logprobs\"{colon}[");
            let spaced_members = format!(" {members}");
            for (entry, after, one_step) in [
                (&base, &members, true),
                (&bare, &members, true),
                (&base.replacen(list, "null", 1), &members, false),
                (&base.replacen(list, "7", 1), &members, false),
                (&bare, &spaced_members, false),
            ] {
                let b = pad(entry.replacen('}', after, 1));
                let head = |b: &[u8]| {
                    if spaced {
                        [
                            avx2::entry_head::<true>(avx2, b, 0),
                            entry_head_in_layout::<true, _>(b, 0, avx2),
                        ]
                    } else {
                        [
                            avx2::entry_head::<false>(avx2, b, 0),
                            entry_head_in_layout::<false, _>(b, 0, avx2),
                        ]
                    }
                };
                let [kernel, want] = head(b.as_bytes()).map(|r| r.map(|(t, v, e)| (t, v.to_bits(), e)));
                assert!(want.is_some() || !one_step, "{b}");
                assert_eq!(kernel.is_some(), one_step, "{b}");
                assert!(kernel.is_none() || kernel == want, "{b}");
            }
            // Too close to the end of the body for the window (not for the general reading).
            let short = base.clone() + &" ".repeat(70);
            let [got, kernel, want, _] = entry_readings(avx2, short.as_bytes(), spaced);
            assert!(kernel.is_none() && got == want && want.is_some(), "{base}");
        }
    }
}
