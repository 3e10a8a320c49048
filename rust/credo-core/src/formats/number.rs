//! The body scanner's number parser for the form logprobs are written in: `-0.31326168775558472`
//! (a sign, an integer part, a fraction: up to 19 significant digits and 22 places, no exponent
//! but a short negative one). Digits are read
//! eight at a time; the value is the correctly rounded double, by the Eisel–Lemire algorithm
//! (as `fast-float` computes it, restricted to the powers of ten 10^-22 … 10^0, where it never
//! needs its slow fallback). Every other number (an exponent, more digits, a larger power)
//! returns `None` for the general parser.

use super::scan::Scan;

/// 5^q for q in -22..=0, as the 128-bit normalised products the algorithm multiplies by (the
/// rows of fast-float's `POWER_OF_FIVE_128` table for these powers; regenerated from
/// `floor(2^b / 5^-q) + 1` and checked against it).
const POW5: [(u64, u64); 23] = [
    (0xf1c9_0080_baf7_2cb1, 0x5324_c68b_12dd_6339), // 5^-22
    (0x971d_a050_74da_7bee, 0xd3f6_fc16_ebca_5e04), // 5^-21
    (0xbce5_0864_9211_1aea, 0x88f4_bb1c_a6bc_f585), // 5^-20
    (0xec1e_4a7d_b695_61a5, 0x2b31_e9e3_d06c_32e6), // 5^-19
    (0x9392_ee8e_921d_5d07, 0x3aff_322e_6243_9fd0), // 5^-18
    (0xb877_aa32_36a4_b449, 0x09be_feb9_fad4_87c3), // 5^-17
    (0xe695_94be_c44d_e15b, 0x4c2e_be68_7989_a9b4), // 5^-16
    (0x901d_7cf7_3ab0_acd9, 0x0f9d_3701_4bf6_0a11), // 5^-15
    (0xb424_dc35_095c_d80f, 0x5384_84c1_9ef3_8c95), // 5^-14
    (0xe12e_1342_4bb4_0e13, 0x2865_a5f2_06b0_6fba), // 5^-13
    (0x8cbc_cc09_6f50_88cb, 0xf93f_87b7_442e_45d4), // 5^-12
    (0xafeb_ff0b_cb24_aafe, 0xf78f_69a5_1539_d749), // 5^-11
    (0xdbe6_fece_bded_d5be, 0xb573_440e_5a88_4d1c), // 5^-10
    (0x8970_5f41_36b4_a597, 0x3168_0a88_f895_3031), // 5^-9
    (0xabcc_7711_8461_cefc, 0xfdc2_0d2b_36ba_7c3e), // 5^-8
    (0xd6bf_94d5_e57a_42bc, 0x3d32_9076_0469_1b4d), // 5^-7
    (0x8637_bd05_af6c_69b5, 0xa63f_9a49_c2c1_b110), // 5^-6
    (0xa7c5_ac47_1b47_8423, 0x0fcf_80dc_3372_1d54), // 5^-5
    (0xd1b7_1758_e219_652b, 0xd3c3_6113_404e_a4a9), // 5^-4
    (0x8312_6e97_8d4f_df3b, 0x645a_1cac_0831_26ea), // 5^-3
    (0xa3d7_0a3d_70a3_d70a, 0x3d70_a3d7_0a3d_70a4), // 5^-2
    (0xcccc_cccc_cccc_cccc, 0xcccc_cccc_cccc_cccd), // 5^-1
    (0x8000_0000_0000_0000, 0x0000_0000_0000_0000), // 5^0
];

/// The most digits whose value always fits a `u64` (10^19 < 2^64).
const MAX_DIGITS: usize = 19;

/// Whether all eight bytes of `v` (little-endian) are ASCII digits.
#[inline(always)]
fn eight_digits(v: u64) -> bool {
    let a = v.wrapping_add(0x4646_4646_4646_4646);
    let b = v.wrapping_sub(0x3030_3030_3030_3030);
    (a | b) & 0x8080_8080_8080_8080 == 0
}

/// The value of eight ASCII digits (little-endian `v`, first digit in the low byte).
#[inline(always)]
fn eight_digit_value(v: u64) -> u64 {
    const MASK: u64 = 0x0000_00FF_0000_00FF;
    const MUL1: u64 = 0x000F_4240_0000_0064; // 100 + (1_000_000 << 32)
    const MUL2: u64 = 0x0000_2710_0000_0001; // 1 + (10_000 << 32)
    let v = v.wrapping_sub(0x3030_3030_3030_3030);
    // Pairs of digits, then groups of four, then all eight.
    let v = v.wrapping_mul(10).wrapping_add(v >> 8);
    let v1 = (v & MASK).wrapping_mul(MUL1);
    let v2 = ((v >> 16) & MASK).wrapping_mul(MUL2);
    u64::from((v1.wrapping_add(v2) >> 32) as u32)
}

/// The number at the start of `b` and the bytes it spans, when it is written
/// `-?(0|[1-9][0-9]*)(\.[0-9]+)?` with at most 19 significant digits (from the first that is
/// not 0), at most 22 places, and is not followed
/// by `e`, `E` or a digit. `None` otherwise (the general parser reads it, and reports what is
/// wrong if anything is). The value is `str::parse::<f64>`'s, to the last bit.
#[inline(always)]
pub fn plain_decimal(b: &[u8]) -> Option<(f64, usize)> {
    plain_decimal_with(b, super::scan::Baseline(false))
}

/// [`plain_decimal`] with the digit kernel of `kernels` ([`Scan::digits16`]) for the common form.
#[inline(always)]
pub fn plain_decimal_with<S: Scan>(b: &[u8], kernels: S) -> Option<(f64, usize)> {
    if let Some(read) = short_point(b, kernels) {
        return Some(read);
    }
    let neg = b.first() == Some(&b'-');
    let mut i = usize::from(neg);
    let mut w: u64 = 0;
    let mut digits = 0;
    match b.get(i) {
        Some(b'0') => i += 1,
        // One digit before the point (most logprobs): no loop.
        Some(&c @ b'1'..=b'9') if b.get(i + 1) == Some(&b'.') => {
            w = u64::from(c - b'0');
            digits = 1;
            i += 1;
        }
        Some(b'1'..=b'9') => {
            while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
                w = w.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
                i += 1;
                digits += 1;
            }
        }
        _ => return None,
    }
    let mut q = 0usize;
    if b.get(i) == Some(&b'.') {
        i += 1;
        // The fraction as a block of 8 or 16 places (its digits, then zeros: the same number,
        // read without a loop), when the integer and the block fit 19 digits.
        if let Some((f, q_wide, n)) = fraction_block(b, i) {
            // A negative exponent (the form small float32 logprobs take: `-1.9361265e-07`)
            // adds to the places.
            let (places, used) = negative_exponent(b, i + n)?;
            let q = q_wide + places;
            if digits + q_wide <= MAX_DIGITS && q < POW5.len() {
                let magnitude = decimal(w * POW10[q_wide] + f, q)?;
                return Some((if neg { -magnitude } else { magnitude }, i + n + used));
            }
        }
        let start = i;
        while let Some(chunk) = b.get(i..i + 8) {
            let v = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
            if !eight_digits(v) {
                break;
            }
            w = w.wrapping_mul(100_000_000).wrapping_add(eight_digit_value(v));
            i += 8;
        }
        while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            w = w.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
            i += 1;
        }
        q = i - start;
        if q == 0 {
            return None;
        }
        // The significant digits: after an integer part 0, from the fraction's first that is
        // not 0 (the zeros before it add nothing to `w`).
        let zeros = if digits == 0 {
            b[start..i].iter().take_while(|&&c| c == b'0').count()
        } else {
            0
        };
        digits += q - zeros;
    }
    if digits > MAX_DIGITS || q >= POW5.len() || matches!(b.get(i), Some(b'e' | b'E' | b'0'..=b'9')) {
        return None;
    }
    let magnitude = if w == 0 { 0.0 } else { eisel_lemire(w, q)? };
    Some((if neg { -magnitude } else { magnitude }, i))
}

/// [`plain_decimal`] of the form most logprobs take, one or two digits, a point and 1 to 16
/// more (`-1.8448494364328587`, `-0.31725305`, `-12.345678`: the tail of a top-20 list is often
/// below -10), read straight: the places as one block of 16 bytes ([`Scan::digits16`]) from a
/// fixed window of 20 (one bounds check), no loop. `None` for anything else (another form, an
/// exponent, fewer than 20 bytes left): [`plain_decimal`] reads on.
#[inline(always)]
fn short_point<S: Scan>(b: &[u8], kernels: S) -> Option<(f64, usize)> {
    let neg = b.first() == Some(&b'-');
    let at = usize::from(neg);
    let window: &[u8; 20] = b.get(at..at + 20)?.try_into().ok()?;
    let (int, places) = short_int(window[0], window[1], window[2])?;
    let (f, n) = kernels.digits16(window[places..places + 16].try_into().ok()?);
    // 1 to 16 places: not none, not a 17th, and no exponent after them.
    let next = window[places + n];
    if n == 0 || next.is_ascii_digit() || next | 0x20 == b'e' {
        return None;
    }
    let magnitude = point_value(int, f, n)?;
    Some((if neg { -magnitude } else { magnitude }, at + places + n))
}

/// The integer part of a number from its first three bytes `c0 c1 c2`, when it is one digit and
/// a point (`D.`) or two digits and a point without a leading zero (`DD.`): its value and where
/// the places start (2 or 3). `None` otherwise.
#[inline(always)]
pub(super) fn short_int(c0: u8, c1: u8, c2: u8) -> Option<(u64, usize)> {
    let (d0, d1) = (c0.wrapping_sub(b'0'), c1.wrapping_sub(b'0'));
    let two = c1 != b'.';
    let dot = if two { c2 } else { c1 };
    let ok = (d0 <= 9) & (dot == b'.') & (!two | ((d0 != 0) & (d1 <= 9)));
    let int = if two {
        u64::from(d0) * 10 + u64::from(d1)
    } else {
        u64::from(d0)
    };
    ok.then_some((int, 2 + usize::from(two)))
}

/// The value of `int.f` where `f` holds the `n` places (1 ≤ n ≤ 16, int ≤ 99: the digits fit
/// a `u64`), correctly rounded.
#[inline(always)]
pub(super) fn point_value(int: u64, f: u64, n: usize) -> Option<f64> {
    decimal(int * POW10[n] + f, n)
}

/// `w × 10^-q` correctly rounded (q ≤ 22, any `w`).
#[inline(always)]
fn decimal(w: u64, q: usize) -> Option<f64> {
    if w <= 1 << 53 {
        // Clinger's fast path: both exact doubles, one correctly rounded division (0 included).
        Some(w as f64 / POW10_F64[q])
    } else {
        eisel_lemire(w, q)
    }
}

/// The value of `int.` and the places `p` starts with, and their count, when there are 17 to
/// 22 of them and the number's significant digits are at most 19 (its digits from the first
/// that is not 0: `-0.00012345678901234567`, the shortest text of a double in (-10^-3, -10^-4],
/// has 20 places and 17 such digits). `None` otherwise (16 places or fewer: the caller reads
/// those). Out of line: few logprobs are written so (a top-1 near 0, in a list of hundreds).
#[cold]
#[inline(never)]
pub(super) fn long_places(int: u64, p: &[u8; 32]) -> Option<(f64, usize)> {
    let (head, n) = digits16(p[..16].try_into().ok()?);
    let (tail, m) = digits16(p[16..].try_into().ok()?);
    let q = 16 + m;
    if n < 16 || m == 0 || q >= POW5.len() {
        return None;
    }
    let frac = head.checked_mul(POW10[m])?.checked_add(tail)?;
    let w = match int {
        0 => frac,
        _ => int.checked_mul(*POW10.get(q)?)?.checked_add(frac)?,
    };
    // At most 19 significant digits, as the general reading takes (`plain_decimal`).
    if w >= POW10[MAX_DIGITS] {
        return None;
    }
    Some((decimal(w, q)?, q))
}

/// The ASCII digits `w` starts with: their value and how many (0 to 16), eight bytes at a time
/// (the portable [`Scan::digits16`], and the reference of the vector ones).
#[inline(always)]
pub(super) fn digits16(w: &[u8; 16]) -> (u64, usize) {
    let lo = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
    let hi = u64::from_le_bytes([w[8], w[9], w[10], w[11], w[12], w[13], w[14], w[15]]);
    let stop = non_digits(lo);
    if stop != 0 {
        let n = (stop.trailing_zeros() / 8) as usize;
        return (eight_digit_value(right_aligned(lo, n)), n);
    }
    let head = eight_digit_value(lo);
    let stop = non_digits(hi);
    if stop == 0 {
        return (head * 100_000_000 + eight_digit_value(hi), 16);
    }
    let n = (stop.trailing_zeros() / 8) as usize;
    (head * POW10[n] + eight_digit_value(right_aligned(hi, n)), 8 + n)
}

/// `v`'s first `n` bytes (n < 8) moved to its last `n`, `'0'`s before them: eight digits of the
/// same value as those `n`.
#[inline(always)]
fn right_aligned(v: u64, n: usize) -> u64 {
    if n == 0 {
        return 0x3030_3030_3030_3030;
    }
    let shift = 8 * (8 - n) as u32;
    (v << shift) | (0x3030_3030_3030_3030 >> (64 - shift))
}

/// 10^0 … 10^19.
const POW10: [u64; 20] = {
    let mut t = [1u64; 20];
    let mut i = 1;
    while i < 20 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// 10^0 … 10^22 as doubles (exact: every power of ten up to 10^22 is).
const POW10_F64: [f64; 23] = {
    let mut t = [1f64; 23];
    let mut i = 1;
    while i < 23 {
        t[i] = t[i - 1] * 10.0;
        i += 1;
    }
    t
};

/// The exponent at `b[i]`, if any, as `(places, bytes)`: `(0, 0)` for none, `(e, len)` for
/// `e-DD` or `E-DD` (one or two digits). `None` for any other exponent (a positive one, three
/// digits or more, a malformed one): the general parser reads those.
#[inline(always)]
fn negative_exponent(b: &[u8], i: usize) -> Option<(usize, usize)> {
    if !matches!(b.get(i), Some(b'e' | b'E')) {
        return Some((0, 0));
    }
    if b.get(i + 1) != Some(&b'-') {
        return None;
    }
    let d1 = b.get(i + 2).filter(|c| c.is_ascii_digit())?;
    let first = usize::from(d1 - b'0');
    match b.get(i + 3) {
        Some(d2) if d2.is_ascii_digit() => {
            if b.get(i + 4).is_some_and(u8::is_ascii_digit) {
                return None;
            }
            Some((first * 10 + usize::from(d2 - b'0'), 4))
        }
        _ => Some((first, 3)),
    }
}

/// A bit set in the high bit of each byte of `v` that is not an ASCII digit (exact up to and
/// including the lowest such byte, the only one read: no carry or borrow reaches it from below).
#[inline(always)]
fn non_digits(v: u64) -> u64 {
    (v.wrapping_add(0x4646_4646_4646_4646) | v.wrapping_sub(0x3030_3030_3030_3030)) & 0x8080_8080_8080_8080
}

/// `v`'s first `n` bytes (1 ≤ n ≤ 7) kept and the rest replaced by `'0'`.
#[inline(always)]
fn zero_filled(v: u64, n: usize) -> u64 {
    let keep = (1u64 << (8 * n)) - 1;
    (v & keep) | (0x3030_3030_3030_3030 & !keep)
}

/// The digits of a fraction starting at `b[i]` as `(f, q, n)`: its `n` digits (1 ≤ n, all of
/// them: a non-digit follows) then zeros up to `q` places (8 or 16; `q = n` past 16 digits, up
/// to 19), `f` their value, so that `f·10^-q` is the fraction. `None` where fewer than 16 bytes
/// remain, where no digit comes first, or past 19 digits (the digit loop reads those).
#[inline(always)]
fn fraction_block(b: &[u8], i: usize) -> Option<(u64, usize, usize)> {
    let chunk = b.get(i..i + 16)?;
    let lo = u64::from_le_bytes(chunk[..8].try_into().ok()?);
    let hi = u64::from_le_bytes(chunk[8..].try_into().ok()?);
    let stop = non_digits(lo);
    if stop != 0 {
        let n = (stop.trailing_zeros() / 8) as usize;
        return (n > 0).then(|| (eight_digit_value(zero_filled(lo, n)), 8, n));
    }
    let head = eight_digit_value(lo) * 100_000_000;
    let stop = non_digits(hi);
    if stop != 0 {
        let n = (stop.trailing_zeros() / 8) as usize;
        let tail = if n == 0 {
            0
        } else {
            eight_digit_value(zero_filled(hi, n))
        };
        return Some((head + tail, 16, 8 + n));
    }
    // 16 digits or more: the next three one at a time (10^19 still fits).
    let mut f = head + eight_digit_value(hi);
    let mut n = 16;
    while let Some(&c) = b.get(i + n).filter(|c| c.is_ascii_digit()) {
        if n == MAX_DIGITS {
            return None;
        }
        f = f * 10 + u64::from(c - b'0');
        n += 1;
    }
    Some((f, n, n))
}

/// `w × 10^-q` correctly rounded (w > 0, q ≤ 22), or `None` where the double is not normal
/// (never for these inputs; kept as the algorithm's guard).
#[inline(always)]
fn eisel_lemire(w: u64, q: usize) -> Option<f64> {
    const MANTISSA_BITS: i32 = 52;
    // Only the top 52 + 3 bits of the product matter unless they are all ones.
    const PRECISION_MASK: u64 = u64::MAX >> (MANTISSA_BITS + 3);
    let lz = w.leading_zeros();
    let w = w << lz;
    let (hi5, lo5) = POW5[POW5.len() - 1 - q];
    let product = u128::from(w) * u128::from(hi5);
    let (mut lo, mut hi) = (product as u64, (product >> 64) as u64);
    if hi & PRECISION_MASK == PRECISION_MASK {
        // The truncated product may be off by one in the bits kept: add the next word's part.
        let second = ((u128::from(w) * u128::from(lo5)) >> 64) as u64;
        lo = lo.wrapping_add(second);
        if second > lo {
            hi += 1;
        }
    }
    // (An all-ones `lo` would call for the slow path outside 10^-27 … 10^55; not here.)
    let upper = (hi >> 63) as i32;
    let shift = upper + 64 - MANTISSA_BITS - 3;
    let mut mantissa = hi >> shift;
    let q = -(q as i32);
    // floor(log2(10^q)) + 63, then the biased exponent.
    let mut power2 = ((q.wrapping_mul(152_170 + 65_536)) >> 16) + 63 + upper - lz as i32 + 1023;
    if power2 <= 0 {
        return None;
    }
    // Exactly halfway between two doubles (possible only for 10^-4 … 10^23): round to even.
    if lo <= 1 && q >= -4 && mantissa & 3 == 1 && (mantissa << shift) == hi {
        mantissa &= !1;
    }
    mantissa += mantissa & 1;
    mantissa >>= 1;
    if mantissa >= (2 << MANTISSA_BITS) {
        mantissa = 1 << MANTISSA_BITS;
        power2 += 1;
    }
    mantissa &= !(1u64 << MANTISSA_BITS);
    if power2 >= 0x7FF {
        return None;
    }
    Some(f64::from_bits(mantissa | (power2 as u64) << MANTISSA_BITS))
}

#[cfg(test)]
mod tests {
    use super::super::scan::Baseline;
    use super::*;
    use crate::rng::SplitMix64;

    /// Holds `plain_decimal` to `str::parse` on `s` (and to `None` where it declines), alone and
    /// followed by what comes after a logprob in a body (where the fraction is read by blocks);
    /// whether any of them was read.
    fn check(s: &str) -> bool {
        let want: f64 = s.parse().unwrap();
        let alone = plain_decimal(s.as_bytes());
        let mut read = alone.is_some();
        for tail in [
            "",
            ", \"bytes\": [32, 119, 111]}",
            "}, {\"token\"",
            "]}]}                    ",
        ] {
            let text = format!("{s}{tail}");
            let got = plain_decimal(text.as_bytes());
            match got {
                Some((v, n)) => {
                    assert_eq!(n, s.len(), "{text}");
                    assert_eq!(v.to_bits(), want.to_bits(), "{text}: {v} vs {want}");
                    read = true;
                }
                // The blocks take a subset of what the digit loop takes.
                None => assert!(alone.is_none(), "{text} declined"),
            }
        }
        read
    }

    #[test]
    fn fraction_blocks_end_at_every_place() {
        // 1 to 22 fraction digits after integer parts of 0 to 4 digits: the block path, the
        // 19-digit limit and the digit loop past it.
        let mut g = SplitMix64::new(5);
        for int in ["0", "7", "42", "1234"] {
            for n in 1..=22 {
                for _ in 0..20 {
                    let frac: String = (0..n)
                        .map(|_| char::from(b'0' + (g.next_f64() * 10.0) as u8 % 10))
                        .collect();
                    for s in [format!("-{int}.{frac}"), format!("{int}.{frac}")] {
                        let significant = format!("{int}{frac}").trim_start_matches('0').len();
                        let fits = significant <= MAX_DIGITS;
                        assert_eq!(check(&s), fits, "{s}");
                    }
                }
            }
        }
        // Positive or three-digit exponents, and malformed ones, go to the general parser.
        for text in [
            "-0.12345678E2}      ",
            "-0.1234567890123456e1        ",
            "-1.5e+07, \"bytes\": [1, 2]      ",
            "-1.5e-123, \"bytes\": [1, 2]     ",
            "-1.5e-, \"bytes\": [1, 2]        ",
            "-1.5e, \"bytes\": [1, 2]         ",
        ] {
            assert!(plain_decimal(text.as_bytes()).is_none(), "{text}");
        }
        // Negative exponents of one or two digits are read, exactly.
        for s in [
            "-0.5e-3",
            "-1.9361265e-07",
            "-5.5122365E-7",
            "-1.0e-14",
            "-9.999999e-14",
            "-0.0e-5",
        ] {
            assert!(check(s), "{s} declined");
        }
        assert!(zero_filled(u64::from_le_bytes(*b"12345678"), 3) == u64::from_le_bytes(*b"12300000"));
    }

    #[test]
    fn long_fractions_after_zeros_parse_exactly() {
        // z zeros then s significant digits after `0.`, `7.` or `42.`: read (by plain_decimal,
        // and by long_places from 17 places on) where s and the integer's digits are 19 at
        // most and the places 22 at most, to str::parse's value; declined otherwise.
        let mut g = SplitMix64::new(29);
        let mut long = 0;
        for int in ["0", "7", "42"] {
            for z in 0..=8 {
                for s in 1..=21 {
                    for _ in 0..40 {
                        let mut digits: Vec<u8> = (0..s).map(|_| b'0' + (g.next_f64() * 10.0) as u8 % 10).collect();
                        digits[0] = b'1' + (g.next_f64() * 9.0) as u8 % 9;
                        let frac = format!("{}{}", "0".repeat(z), String::from_utf8(digits).unwrap());
                        let text = format!("-{int}.{frac}");
                        let significant = int.trim_start_matches('0').len() + if int == "0" { s } else { z + s };
                        let places = z + s;
                        let fits = significant <= MAX_DIGITS && places <= 22;
                        assert_eq!(check(&text), fits, "{text}");
                        // The kernel's out-of-line reading of 17 places or more.
                        let mut p = [b','; 32];
                        p[..places.min(32)].copy_from_slice(&frac.as_bytes()[..places.min(32)]);
                        let want: f64 = text[1..].parse().unwrap();
                        match long_places(int.parse().unwrap(), &p) {
                            Some((v, n)) => {
                                assert!(fits && places > 16, "{text}");
                                assert_eq!((v.to_bits(), n), (want.to_bits(), places), "{text}");
                                long += 1;
                            }
                            None => assert!(!fits || places <= 16, "{text} declined"),
                        }
                    }
                }
            }
        }
        assert!(long > 2500, "{long}");
        // The shortest text of doubles in (-10^-3, -10^-4]: 17 significant digits, 20 places.
        for _ in 0..20_000 {
            let x = -(1e-4 + g.next_f64() * 9e-4);
            let text = format!("{x:?}");
            assert!(check(&text), "{text}");
        }
    }

    #[test]
    fn short_point_reads_its_form_exactly_and_nothing_else() {
        let mut g = SplitMix64::new(13);
        let tail = ", \"bytes\": [32, 119, 111]}, {\"token\"";
        let mut read = [0; 3];
        for int_digits in 1..=3 {
            for n in 1..=18 {
                for _ in 0..2000 {
                    let digits: String = (0..int_digits + n)
                        .map(|_| char::from(b'0' + (g.next_f64() * 10.0) as u8 % 10))
                        .collect();
                    let s = format!("-{}.{}", &digits[..int_digits], &digits[int_digits..]);
                    let text = format!("{s}{tail}");
                    let want: f64 = s.parse().unwrap();
                    // One digit, or two without a leading zero (JSON's grammar), and 1 to 16
                    // places: read, to the correctly rounded value; anything else declined.
                    let form = int_digits == 1 || (int_digits == 2 && !digits.starts_with('0'));
                    match short_point(text.as_bytes(), Baseline(false)) {
                        Some((v, used)) => {
                            assert!(form && n <= 16, "{s}");
                            assert_eq!((v.to_bits(), used), (want.to_bits(), s.len()), "{s}");
                            read[int_digits - 1] += 1;
                        }
                        None => assert!(!form || n > 16, "{s} declined"),
                    }
                    // Unsigned, and with an exponent (declined: the general reading takes it).
                    let u = &text[1..];
                    if let Some((v, _)) = short_point(u.as_bytes(), Baseline(false)) {
                        assert_eq!(v.to_bits(), (-want).to_bits(), "{u}");
                    }
                    let e = format!("{s}e-07{tail}");
                    assert!(short_point(e.as_bytes(), Baseline(false)).is_none(), "{e}");
                }
            }
        }
        assert!(read[0] > 30_000 && read[1] > 25_000 && read[2] == 0, "{read:?}");
        for text in [
            "-123.5, \"bytes\": [1, 2, 3]}",
            "-01.5, \"bytes\": [1, 2, 3]}",
            "-1., \"bytes\": [1, 2, 3]}}",
            "-12., \"bytes\": [1, 2, 3]}}",
            "-.5, \"bytes\": [1, 2, 3]}}",
            "-1-.5, \"bytes\": [1, 2, 3]}}",
            "-1a.5, \"bytes\": [1, 2, 3]}}",
            "-a1.5, \"bytes\": [1, 2, 3]}}",
            "-/1.5, \"bytes\": [1, 2, 3]}}",
            "-1:.5, \"bytes\": [1, 2, 3]}}",
        ] {
            assert!(short_point(text.as_bytes(), Baseline(false)).is_none(), "{text}");
        }
        assert!(short_point(b"-0.5}", Baseline(false)).is_none(), "fewer than 20 bytes");
        assert!(short_point(b"-12.5, \"bytes\": [1, 2]}", Baseline(false)).is_some());
    }

    #[test]
    fn short_int_reads_one_or_two_digits_and_a_point() {
        // Every three bytes from a set around the classes it tells apart, against the grammar.
        let set = b"0159./:-e ";
        for &c0 in set {
            for &c1 in set {
                for &c2 in set {
                    let digit = |c: u8| c.is_ascii_digit();
                    let want = if digit(c0) && c1 == b'.' {
                        Some((u64::from(c0 - b'0'), 2))
                    } else if digit(c0) && c0 != b'0' && digit(c1) && c2 == b'.' {
                        Some((u64::from(c0 - b'0') * 10 + u64::from(c1 - b'0'), 3))
                    } else {
                        None
                    };
                    assert_eq!(
                        short_int(c0, c1, c2),
                        want,
                        "{}",
                        String::from_utf8_lossy(&[c0, c1, c2])
                    );
                }
            }
        }
    }

    /// [`digits16`] a byte at a time.
    fn digits16_bytes(w: &[u8; 16]) -> (u64, usize) {
        let n = w.iter().position(|c| !c.is_ascii_digit()).unwrap_or(16);
        (w[..n].iter().fold(0, |v, &c| v * 10 + u64::from(c - b'0')), n)
    }

    /// 16 bytes: digits up to a random stop, then anything (digits again, often).
    fn digit_windows(seed: u64, count: usize) -> Vec<[u8; 16]> {
        let mut g = SplitMix64::new(seed);
        let noise = b"0123456789,]} e.-\x00\xff/:";
        (0..count)
            .map(|_| {
                let stop = (g.next_f64() * 18.0) as usize;
                let mut w = [0u8; 16];
                for (j, c) in w.iter_mut().enumerate() {
                    *c = if j < stop {
                        b'0' + (g.next_f64() * 10.0) as u8 % 10
                    } else {
                        noise[(g.next_f64() * noise.len() as f64) as usize % noise.len()]
                    };
                }
                w
            })
            .collect()
    }

    #[test]
    fn digits16_matches_the_byte_loop_at_every_level() {
        #[cfg(target_arch = "x86_64")]
        let avx2 = crate::simd::SimdLevel::Avx2.supported().then(|| {
            // SAFETY: checked just before.
            unsafe { super::super::scan::Avx2::assume() }
        });
        for w in digit_windows(17, 200_000) {
            let want = digits16_bytes(&w);
            assert_eq!(digits16(&w), want, "{:?}", String::from_utf8_lossy(&w));
            assert_eq!(Baseline(true).digits16(&w), want);
            #[cfg(target_arch = "x86_64")]
            if let Some(avx2) = avx2 {
                assert_eq!(avx2.digits16(&w), want, "avx2: {:?}", String::from_utf8_lossy(&w));
                // The whole reading with the AVX2 kernel, after a point.
                for int in [&b"-3."[..], b"-37."] {
                    let mut text = int.to_vec();
                    text.extend_from_slice(&w);
                    text.extend_from_slice(b", \"bytes\": [1]}");
                    assert_eq!(
                        short_point(&text, avx2).map(|(v, n)| (v.to_bits(), n)),
                        short_point(&text, Baseline(false)).map(|(v, n)| (v.to_bits(), n))
                    );
                }
            }
        }
    }

    #[test]
    fn eight_digits_at_a_time() {
        for s in ["00000000", "12345678", "99999999", "90000001"] {
            let v = u64::from_le_bytes(s.as_bytes().try_into().unwrap());
            assert!(eight_digits(v));
            assert_eq!(eight_digit_value(v), s.parse::<u64>().unwrap());
        }
        for s in ["1234567a", "/2345678", ":2345678", "1234 678", "-1234567"] {
            assert!(
                !eight_digits(u64::from_le_bytes(s.as_bytes().try_into().unwrap())),
                "{s}"
            );
        }
    }

    #[test]
    fn the_logprob_forms_parse_exactly() {
        for s in [
            "-0.31326168775558472",
            "-0.0",
            "0",
            "-9999",
            "-9999.0",
            "-1.5",
            "-0.000123",
            "-0.1",
            "-0.30000000000000004",
            "-2.2250738585072014",
            "-0.0000000000000000001",
            "-1234567890123456789",
            "9007199254740993",
            "-0.9999999999999999999",
            "0.5",
        ] {
            assert!(check(s), "{s} declined");
        }
        for s in [
            "-1e-5",
            "1.5E3",
            "01",
            "-",
            "-.5",
            "1.",
            "12345678901234567890",
            "0.12345678901234567890",
        ] {
            assert!(plain_decimal(s.as_bytes()).is_none(), "{s}");
        }
        // A number ends where its grammar does: the rest is the caller's.
        assert_eq!(plain_decimal(b"-0.25, "), Some((-0.25, 5)));
        assert_eq!(plain_decimal(b"3}"), Some((3.0, 1)));
    }

    #[test]
    fn random_doubles_parse_exactly() {
        let mut g = SplitMix64::new(7);
        let mut taken = 0;
        for i in 0..200_000 {
            // Shortest round-trip text of logprob-like values, and fixed precisions.
            let x = -(g.next_f64() * 10f64.powi((i % 7) as i32 - 3));
            let s = format!("{x:?}");
            taken += usize::from(check(&s));
            // Exponent forms as Python writes small values (`-1.9361265e-07`).
            let s = format!("{x:e}").replace("e-", "e-0");
            check(&s);
            check(&format!("{x:e}"));
            let s = format!("{x:.*}", i % 20);
            taken += usize::from(check(&s));
        }
        assert!(taken > 300_000, "{taken}");
    }

    #[test]
    fn random_digit_strings_parse_exactly() {
        // Every split of up to 19 random digits around the point, halfway cases included by
        // chance, and many trailing zeros and nines (the rounding edges).
        let mut g = SplitMix64::new(11);
        let mut taken = 0;
        for i in 0..300_000 {
            let n = 1 + (g.next_f64() * 19.0) as usize;
            let style = i % 4;
            let mut d: Vec<u8> = (0..n)
                .map(|_| match style {
                    0 => b'0' + (g.next_f64() * 10.0) as u8 % 10,
                    1 => {
                        if g.next_f64() < 0.8 {
                            b'0'
                        } else {
                            b'5'
                        }
                    }
                    2 => {
                        if g.next_f64() < 0.8 {
                            b'9'
                        } else {
                            b'0' + (g.next_f64() * 10.0) as u8 % 10
                        }
                    }
                    _ => {
                        if g.next_f64() < 0.5 {
                            b'0'
                        } else {
                            b'1'
                        }
                    }
                })
                .collect();
            let point = (g.next_f64() * (n as f64 + 1.0)) as usize;
            let (int, frac) = d.split_at_mut(point.min(n));
            let mut s = String::from(if i % 2 == 0 { "-" } else { "" });
            let int = std::str::from_utf8(int).unwrap().trim_start_matches('0');
            s.push_str(if int.is_empty() { "0" } else { int });
            if !frac.is_empty() {
                s.push('.');
                s.push_str(std::str::from_utf8(frac).unwrap());
            }
            taken += usize::from(check(&s));
        }
        assert!(taken > 250_000, "{taken}");
    }
}
