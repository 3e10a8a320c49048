//! Pairwise similarity of normalised answers: token-set Jaccard, ROUGE-L F1 over tokens, cosine of
//! caller-supplied vectors, and tolerant numeric equality.

/// A 64-bit hash of one token (FxHash-style multiply-rotate over 8-byte words): token sets are
/// compared as sorted hash vectors, so no string is copied.
#[must_use]
pub fn token_hash(token: &str) -> u64 {
    hash_bytes(token.as_bytes())
}

const HASH_K: u64 = 0x517c_c1b7_2722_0a95;

pub(super) fn hash_bytes(bytes: &[u8]) -> u64 {
    let n = bytes.len();
    let mut h: u64 = n as u64;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = (h.rotate_left(5) ^ w).wrapping_mul(HASH_K);
    }
    let tail = match bytes.last_chunk::<8>() {
        // The tail is the top `n % 8` bytes of the last 8: a shift, not a branch on the
        // tail's length (which varies from text to text, and mispredicts).
        Some(last) => u64::from_le_bytes(*last)
            .checked_shr(8 * (8 - (n % 8)) as u32)
            .unwrap_or(0),
        None => tail_word(chunks.remainder()),
    };
    h = (h.rotate_left(5) ^ tail).wrapping_mul(HASH_K);
    h ^ (h >> 29)
}

/// A fingerprint of a string for equality look-ups among a few candidates: its length and its
/// first and last 8 bytes (all of them when shorter). Equal strings have equal keys; a match is
/// still compared in full, since strings alike at both ends collide. No loop over the string:
/// [`hash_bytes`] costs a loop trip per 8 bytes and a mispredicted exit, ~50 instructions for a
/// short normalised answer where this takes about a dozen.
#[inline]
pub(super) fn edge_key(bytes: &[u8]) -> u64 {
    let (head, tail) = match (bytes.first_chunk::<8>(), bytes.last_chunk::<8>()) {
        (Some(h), Some(t)) => (u64::from_le_bytes(*h), u64::from_le_bytes(*t)),
        _ => (tail_word(bytes), 0),
    };
    (head.wrapping_mul(HASH_K) ^ tail).wrapping_mul(HASH_K) ^ bytes.len() as u64
}

/// [`hash_bytes`] of a word of `len` bytes (1 to 7) given as the little-endian `word` of its
/// first 8 bytes, whatever follows the word in them: a mask and two multiplies, no branch.
#[inline(always)]
pub(super) fn hash_short(word: u64, len: usize) -> u64 {
    debug_assert!((1..8).contains(&len));
    let w = word & (u64::MAX >> (64 - 8 * len));
    let h = ((len as u64).rotate_left(5) ^ w).wrapping_mul(HASH_K);
    h ^ (h >> 29)
}

/// The last 0–7 bytes of a token as a little-endian word padded with zero bytes, from two
/// overlapping loads instead of a copy into a buffer (most tokens are shorter than 8 bytes, so
/// this runs once per token; the copy was a `memcpy` call each time).
#[inline]
fn tail_word(rem: &[u8]) -> u64 {
    let n = rem.len();
    let u16_at = |i: usize| u64::from(u16::from_le_bytes([rem[i], rem[i + 1]]));
    let u32_at = |i: usize| u64::from(u32::from_le_bytes([rem[i], rem[i + 1], rem[i + 2], rem[i + 3]]));
    match n {
        0 => 0,
        1 => u64::from(rem[0]),
        2..=3 => u16_at(0) | (u16_at(n - 2) << (8 * (n - 2))),
        _ => u32_at(0) | (u32_at(n - 4) << (8 * (n - 4))),
    }
}

/// Appends the whitespace tokens of `text` as hashes, in order.
pub fn token_hashes(text: &str, out: &mut Vec<u64>) {
    if text.is_ascii() {
        // Byte-level split: same tokens as `split_whitespace` on ASCII, without char decoding.
        let spaces = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r');
        out.extend(text.as_bytes().split(spaces).filter(|t| !t.is_empty()).map(hash_bytes));
    } else {
        out.extend(text.split_whitespace().map(token_hash));
    }
}

/// Jaccard similarity of two sorted, de-duplicated hash sets; two empty sets are identical (1).
#[must_use]
pub fn jaccard_sorted(a: &[u64], b: &[u64]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    if a.len() * b.len() <= 64 {
        // Short answers: count equal pairs branch-free (sets are de-duplicated, so this is |a ∩ b|).
        let inter: usize = a.iter().map(|x| b.iter().filter(|&y| y == x).count()).sum();
        return ratio(inter, a.len() + b.len() - inter);
    }
    let (mut i, mut j, mut inter) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                inter += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let union = a.len() + b.len() - inter;
    ratio(inter, union)
}

fn ratio(num: usize, den: usize) -> f64 {
    num as f64 / den as f64
}

/// ROUGE-L F1 (β = 1) over token sequences: LCS / length on each side, harmonic mean.
/// Two empty answers are identical (1); one empty answer shares nothing (0).
#[must_use]
pub fn rouge_l(a: &[u64], b: &[u64], row: &mut Vec<usize>) -> f64 {
    if a.is_empty() || b.is_empty() {
        return if a.is_empty() && b.is_empty() { 1.0 } else { 0.0 };
    }
    let lcs = lcs_len(a, b, row);
    if lcs == 0 {
        return 0.0;
    }
    let p = ratio(lcs, a.len());
    let r = ratio(lcs, b.len());
    2.0 * p * r / (p + r)
}

/// Length of the longest common subsequence, one rolling DP row.
fn lcs_len(a: &[u64], b: &[u64], row: &mut Vec<usize>) -> usize {
    row.clear();
    row.resize(b.len() + 1, 0);
    for &x in a {
        let mut diag = 0;
        for (j, &y) in b.iter().enumerate() {
            let up = row[j + 1];
            row[j + 1] = if x == y { diag + 1 } else { up.max(row[j]) };
            diag = up;
        }
    }
    row[b.len()]
}

/// Cosine similarity of two vectors whose norms are given (both non-zero).
#[must_use]
pub fn cosine(a: &[f64], b: &[f64], norm_a: f64, norm_b: f64) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    (dot / (norm_a * norm_b)).clamp(-1.0, 1.0)
}

/// Numeric equality with tolerance: |a − b| ≤ tol · max(1, |a|, |b|) (absolute near zero,
/// relative for large values).
#[must_use]
pub fn numbers_close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * 1f64.max(a.abs()).max(b.abs())
}

#[cfg(test)]
mod tests {
    /// The hash as first written: the tail copied into a zeroed 8-byte buffer.
    fn hash_bytes_buffered(bytes: &[u8]) -> u64 {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut h: u64 = bytes.len() as u64;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            h = (h.rotate_left(5) ^ u64::from_le_bytes(c.try_into().unwrap())).wrapping_mul(K);
        }
        let mut tail = [0u8; 8];
        let rem = chunks.remainder();
        tail[..rem.len()].copy_from_slice(rem);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(tail)).wrapping_mul(K);
        h ^ (h >> 29)
    }

    #[test]
    fn hash_without_the_tail_copy_equals_the_buffered_hash() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut byte = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // every byte value, and zero bytes often (they are the padding's value)
            if state.is_multiple_of(5) {
                0
            } else {
                (state >> 32) as u8
            }
        };
        for len in 0..=40 {
            for _ in 0..500 {
                let b: Vec<u8> = (0..len).map(|_| byte()).collect();
                assert_eq!(hash_bytes(&b), hash_bytes_buffered(&b), "{b:?}");
                if (1..8).contains(&len) {
                    // any bytes after the word
                    let mut padded = [byte(); 8];
                    padded[..len].copy_from_slice(&b);
                    assert_eq!(
                        hash_short(u64::from_le_bytes(padded), len),
                        hash_bytes_buffered(&b),
                        "{b:?}"
                    );
                }
            }
        }
    }

    use super::*;

    fn toks(s: &str) -> Vec<u64> {
        let mut v = Vec::new();
        token_hashes(s, &mut v);
        v
    }

    fn set(s: &str) -> Vec<u64> {
        let mut v = toks(s);
        v.sort_unstable();
        v.dedup();
        v
    }

    #[test]
    fn jaccard_values() {
        assert!((jaccard_sorted(&set("a b c"), &set("b c d")) - 0.5).abs() < 1e-15);
        assert!((jaccard_sorted(&set("a a b"), &set("b a")) - 1.0).abs() < 1e-15);
        assert_eq!(jaccard_sorted(&set(""), &set("")), 1.0);
        assert_eq!(jaccard_sorted(&set("x"), &set("")), 0.0);
    }

    #[test]
    fn rouge_values() {
        let mut row = Vec::new();
        // LCS("the cat sat on mat", "the cat on the mat") = "the cat on mat" = 4 → P = R = 0.8.
        let f = rouge_l(&toks("the cat sat on mat"), &toks("the cat on the mat"), &mut row);
        assert!((f - 0.8).abs() < 1e-12, "{f}");
        assert_eq!(rouge_l(&toks("a"), &toks("b"), &mut row), 0.0);
        let f = rouge_l(&toks("a b c d"), &toks("a c"), &mut row);
        assert!((f - 2.0 * 0.5 / 1.5).abs() < 1e-12);
    }

    #[test]
    fn hashes_distinguish_tokens() {
        let words = [
            "a",
            "b",
            "ab",
            "ba",
            "abcdefgh",
            "abcdefghi",
            "abcdefgi",
            "",
            "12",
            "21",
        ];
        let mut hs: Vec<u64> = words.iter().map(|w| token_hash(w)).collect();
        hs.sort_unstable();
        hs.dedup();
        assert_eq!(hs.len(), words.len());
    }

    #[test]
    fn numeric_tolerance() {
        assert!(numbers_close(1.0, 1.0 + 1e-9, 1e-6));
        assert!(!numbers_close(1.0, 1.01, 1e-6));
        assert!(numbers_close(1e9, 1e9 + 1.0, 1e-6));
    }
}
