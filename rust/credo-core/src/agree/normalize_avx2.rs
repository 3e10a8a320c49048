//! The ASCII shortcut of [`normalize`](super::normalize) with AVX2 (the scalar shortcut spends
//! ~16 instructions a byte on its table look-up, word test and conditional advance, and sampled
//! answers are mostly a few short words).
//!
//! The text is taken 64 bytes at a time, cut after its last whitespace byte so that no word
//! straddles two pieces. Each piece is classified in two 32-byte vectors: lower-cased bytes into
//! a stack buffer, and one bit per byte for whitespace, punctuation and digits. Its words are then
//! found with bit tricks (a start is a non-space after a space, an end a space after a non-space)
//! and written the way the scalar shortcut writes them: a word whose kept bytes (its
//! non-punctuation) are contiguous is one copy of lower-cased bytes; a word with a digit (number
//! canonicalisation), with punctuation between kept bytes, or of 64 bytes or more goes through
//! the scalar word routines. The tests compare the two shortcuts on random ASCII and Unicode text
//! under every option.

use std::arch::x86_64::{
    __m256i, _mm256_and_si256, _mm256_andnot_si256, _mm256_blendv_epi8, _mm256_cmpeq_epi32, _mm256_cmpeq_epi8,
    _mm256_cmpgt_epi32, _mm256_cmpgt_epi8, _mm256_loadu_si256, _mm256_maskload_epi32, _mm256_movemask_epi8,
    _mm256_or_si256, _mm256_set1_epi32, _mm256_set1_epi8, _mm256_setr_epi32, _mm256_setr_epi8, _mm256_storeu_si256,
    _mm_loadl_epi64, _mm_loadu_si128, _mm_shuffle_epi8, _mm_storel_epi64,
};

use super::normalize::{push_mapped_word, push_number_word, NormalizeOptions};
use super::similarity::{hash_bytes, hash_short};

#[inline]
#[target_feature(enable = "avx2")]
fn splat(b: u8) -> __m256i {
    _mm256_set1_epi8(b as i8)
}

/// Lanes of `v` above `lo` and below `hi` (ASCII bytes: the signed comparison orders them as
/// unsigned).
#[inline]
#[target_feature(enable = "avx2")]
fn between(v: __m256i, lo: u8, hi: u8) -> __m256i {
    _mm256_and_si256(_mm256_cmpgt_epi8(v, splat(lo)), _mm256_cmpgt_epi8(splat(hi), v))
}

#[inline]
#[target_feature(enable = "avx2")]
fn lane_bits(m: __m256i) -> u32 {
    _mm256_movemask_epi8(m) as u32
}

/// Lower-cased bytes (whitespace and deleted punctuation as spaces) and whitespace / punctuation
/// / digit bits of 32 ASCII bytes, each class only where `opts` uses it (punctuation with `punctuation`, digits with `numbers`). Helper
/// functions rather than closures: a closure would not inherit the target feature, and each
/// intrinsic would become a call.
#[inline]
#[target_feature(enable = "avx2")]
fn classify(v: __m256i, opts: &NormalizeOptions) -> (__m256i, u32, u32, u32) {
    // What `split_whitespace` splits ASCII on: space, \t \n \v \f \r.
    let space = _mm256_or_si256(_mm256_cmpeq_epi8(v, splat(b' ')), between(v, 0x08, 0x0E));
    let folded = _mm256_or_si256(v, splat(0x20));
    let letter = between(folded, b'a' - 1, b'z' + 1);
    let digit = between(v, b'0' - 1, b'9' + 1);
    let lowered = if opts.lowercase {
        let upper = _mm256_and_si256(letter, _mm256_cmpgt_epi8(splat(b'Z' + 1), v));
        _mm256_or_si256(v, _mm256_and_si256(upper, splat(0x20)))
    } else {
        v
    };
    let (punct, blank) = if opts.punctuation {
        // ASCII punctuation: the printable non-space bytes that are neither letters nor digits.
        let printable = between(v, b' ', 0x7F);
        let punct = _mm256_andnot_si256(_mm256_or_si256(letter, digit), printable);
        (lane_bits(punct), _mm256_or_si256(space, punct))
    } else {
        (0, space)
    };
    let digit = if opts.numbers { lane_bits(digit) } else { 0 };
    // Bytes that are not kept become spaces: the word copies read only kept bytes, and the
    // packed path takes a word's separator from the byte before it.
    let lowered = _mm256_blendv_epi8(lowered, splat(b' '), blank);
    (lowered, lane_bits(space), punct, digit)
}

/// The `len` (< 32) bytes at `p` in a vector, spaces after them (which separate words, so the
/// padding adds none). Whole 4-byte lanes come from a masked load, which reads no byte past
/// them; the last `len % 4` bytes are read one by one.
///
/// # Safety
/// The CPU runs AVX2; `p` has `len` readable bytes.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn load_short(p: *const u8, len: usize) -> __m256i {
    let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let full = _mm256_set1_epi32((len / 4) as i32);
    // SAFETY: the masked load reads only lanes below `len / 4`, inside the `len` bytes; the tail
    // reads are at `len - 4 .. len` (with 4 bytes or more) or `len - len % 4 .. len`.
    let (v, tail) = unsafe {
        let v = _mm256_maskload_epi32(p.cast(), _mm256_cmpgt_epi32(full, lanes));
        let t = p.add(len & !3);
        let tail = if len >= 4 {
            // The top `len % 4` bytes of the last 4: a shift, not a jump on the tail's length
            // (which varies from answer to answer, and mispredicts).
            let last = u64::from(p.add(len - 4).cast::<u32>().read_unaligned());
            (last >> (8 * (4 - len % 4))) as u32
        } else {
            match len {
                0 => 0,
                1 => u32::from(*t),
                2 => u32::from(u16::from_le_bytes([*t, *t.add(1)])),
                _ => u32::from(u16::from_le_bytes([*t, *t.add(1)])) | (u32::from(*t.add(2)) << 16),
            }
        };
        (v, tail)
    };
    let v = _mm256_blendv_epi8(v, _mm256_set1_epi32(tail as i32), _mm256_cmpeq_epi32(full, lanes));
    let index = _mm256_setr_epi8(
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29,
        30, 31,
    );
    _mm256_blendv_epi8(splat(b' '), v, _mm256_cmpgt_epi8(_mm256_set1_epi8(len as i8), index))
}

/// `(1 << e) - (1 << s)`: bits `s..e` (both below 64).
#[inline(always)]
fn span(s: u32, e: u32) -> u64 {
    (1u64 << e).wrapping_sub(1u64 << s)
}

/// Where a word's output goes and what follows it: the arena, its length when this text began
/// (the first word written takes no separator), and the token hashes.
struct Sink<'a> {
    buf: &'a mut Vec<u8>,
    base: usize,
    tokens: Option<&'a mut Vec<u64>>,
}

impl Sink<'_> {
    /// Writes `word` (raw bytes) through the scalar word routines: numbers, punctuation between
    /// kept bytes, words of 64 bytes or more.
    #[inline(never)]
    fn scalar_word(&mut self, word: &[u8], opts: &NormalizeOptions, table: &[u8; 128]) {
        let start = self.buf.len();
        let sep = usize::from(start > self.base);
        if sep == 1 {
            self.buf.push(b' ');
        }
        if opts.numbers {
            push_number_word(self.buf, word, table);
        } else {
            push_mapped_word(self.buf, word, table);
        }
        self.finish_word(start, start + sep, opts);
    }

    /// Undoes everything this text appended (it holds a non-ASCII byte); returns `false`.
    fn decline(self, tokens_base: usize) -> bool {
        self.buf.truncate(self.base);
        if let Some(t) = self.tokens {
            t.truncate(tokens_base);
        }
        false
    }

    /// Drops the word written at `body..` (with its separator from `start`) if empty or an
    /// article, else hashes it into the tokens.
    #[inline(always)]
    fn finish_word(&mut self, start: usize, body: usize, opts: &NormalizeOptions) {
        let word = &self.buf[body..];
        if word.is_empty() || (opts.articles && matches!(word, b"a" | b"an" | b"the")) {
            self.buf.truncate(start);
        } else if let Some(t) = self.tokens.as_deref_mut() {
            t.push(hash_bytes(word));
        }
    }
}

/// [`super::normalize`]'s ASCII shortcut for `bytes`, appending to `buf` and the word hashes to
/// `tokens`; returns `false`, having appended nothing, when `bytes` holds a non-ASCII byte. Same
/// output as the scalar shortcut.
///
/// # Safety
/// The CPU runs AVX2, BMI1, BMI2, LZCNT and POPCNT ([`bit_ops`]).
#[target_feature(enable = "avx2,bmi1,bmi2,lzcnt,popcnt")]
pub(super) unsafe fn normalize_ascii(
    bytes: &[u8],
    opts: &NormalizeOptions,
    table: &[u8; 128],
    buf: &mut Vec<u8>,
    tokens: Option<&mut Vec<u64>>,
) -> bool {
    let n = bytes.len();
    let tokens_base = tokens.as_deref().map_or(0, Vec::len);
    let mut sink = Sink {
        base: buf.len(),
        buf,
        tokens,
    };
    // SAFETY: this function's contract.
    if n < 32 && sink.tokens.is_none() && unsafe { short_packed(bytes, opts, &mut sink) } {
        return true;
    }
    // A piece's lower-cased bytes, then 64 spaces: a word is copied 32 bytes at a time from
    // any of its first 64 positions.
    let mut lowered = [b' '; 128];
    let mut pos = 0;
    while pos < n {
        let rest = n - pos;
        let src = bytes[pos..].as_ptr();
        // SAFETY: AVX2 is on; full loads read 32 bytes of the text, `load_short` reads only
        // the `rest - 32` or `rest` bytes left.
        let (v0, v1) = unsafe {
            if rest >= 64 {
                (_mm256_loadu_si256(src.cast()), _mm256_loadu_si256(src.add(32).cast()))
            } else if rest >= 32 {
                (_mm256_loadu_si256(src.cast()), load_short(src.add(32), rest - 32))
            } else {
                (load_short(src, rest), splat(b' '))
            }
        };
        if _mm256_movemask_epi8(_mm256_or_si256(v0, v1)) != 0 {
            return sink.decline(tokens_base);
        }
        let (l0, s0, p0, d0) = classify(v0, opts);
        let (l1, s1, p1, d1) = if rest > 32 {
            classify(v1, opts)
        } else {
            (v1, u32::MAX, 0, 0) // all padding: whitespace
        };
        // SAFETY: AVX2 is on; both stores are inside the first 64 bytes of `lowered`.
        unsafe {
            let lp = lowered.as_mut_ptr();
            _mm256_storeu_si256(lp.cast(), l0);
            _mm256_storeu_si256(lp.add(32).cast(), l1);
        }
        let join = |lo: u32, hi: u32| u64::from(lo) | (u64::from(hi) << 32);
        let (mut space, punct, digit) = (join(s0, s1), join(p0, p1), join(d0, d1));
        let mut piece_len = rest;
        if rest >= 64 {
            if space == 0 {
                // 64 bytes or more without whitespace: one long word, to its end.
                let end = bytes[pos..]
                    .iter()
                    .position(|&b| matches!(b, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r'))
                    .map_or(n, |i| pos + i);
                if !bytes[pos..end].is_ascii() {
                    return sink.decline(tokens_base);
                }
                sink.scalar_word(&bytes[pos..end], opts, table);
                pos = end;
                continue;
            }
            // Cut after the last whitespace byte: the words after it start the next piece.
            piece_len = 64 - space.leading_zeros() as usize;
            space |= !0u64 << (piece_len - 1);
        }
        let piece = &bytes[pos..];
        pos += piece_len;
        // Bit 63 is whitespace (padding, or past the cut), so every word ends inside the piece.
        let bits = Bits { space, punct, digit };
        // SAFETY: AVX2, BMI1, BMI2, LZCNT and POPCNT are on (this function's contract).
        unsafe {
            if sink.tokens.is_none() && digit == 0 && !split_kept(space, punct) {
                let articles = if opts.articles {
                    article_bits(l0, l1)
                } else {
                    Articles::default()
                };
                piece_packed(&lowered, &bits, &articles, &mut sink);
            } else {
                piece_words(&lowered, bits, piece, opts, table, &mut sink);
            }
        };
    }
    true
}

/// The packed path for a text shorter than 32 bytes (most sampled answers), without the piece
/// loop and its buffer: returns `false`, having appended nothing, for text the packed path does
/// not take (non-ASCII, a digit to canonicalise, punctuation inside a word), which the general
/// loop then handles.
///
/// # Safety
/// The CPU runs AVX2, BMI1, BMI2, LZCNT and POPCNT; `bytes` is shorter than 32 bytes.
#[inline]
#[target_feature(enable = "avx2,bmi1,bmi2,lzcnt,popcnt")]
unsafe fn short_packed(bytes: &[u8], opts: &NormalizeOptions, sink: &mut Sink<'_>) -> bool {
    // SAFETY: `bytes` has `bytes.len() < 32` readable bytes.
    let v = unsafe { load_short(bytes.as_ptr(), bytes.len()) };
    if lane_bits(v) != 0 {
        return false;
    }
    let (l, s, p, d) = classify(v, opts);
    let space = u64::from(s) | (u64::from(u32::MAX) << 32);
    let punct = u64::from(p);
    if d != 0 || split_kept(space, punct) {
        return false;
    }
    let mut lowered = [b' '; 40];
    // SAFETY: AVX2 is on; the store is inside the first 32 bytes of `lowered`.
    unsafe { _mm256_storeu_si256(lowered.as_mut_ptr().cast(), l) };
    let articles = if opts.articles {
        Articles {
            a: eq_bits32(l, b'a'),
            n: eq_bits32(l, b'n'),
            t: eq_bits32(l, b't'),
            h: eq_bits32(l, b'h'),
            e: eq_bits32(l, b'e'),
        }
    } else {
        Articles::default()
    };
    let bits = Bits { space, punct, digit: 0 };
    // SAFETY: this function's contract; the 4 groups read `lowered`'s first 40 bytes.
    unsafe { pack_words::<4>(&lowered, &bits, &articles, sink) };
    true
}

/// Whether the CPU has the bit instructions the word loop is compiled for (`tzcnt`, `lzcnt`,
/// `blsr`, `shlx`: about a third fewer instructions per word than `bsf` / `bsr` and shifts
/// through `cl`; `popcnt` for the packed path). Every AVX2 CPU has them; checked once all the same.
pub(super) fn bit_ops() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(|| {
        is_x86_feature_detected!("bmi1")
            && is_x86_feature_detected!("bmi2")
            && is_x86_feature_detected!("lzcnt")
            && is_x86_feature_detected!("popcnt")
    })
}

/// One piece's classes, bit `i` for byte `i`.
struct Bits {
    space: u64,
    punct: u64,
    digit: u64,
}

/// Writes the words of one piece: `lowered` holds its lower-cased bytes (and spaces after them),
/// `piece` its raw bytes (for the scalar routines), `bits` its classes, with bit 63 whitespace.
///
/// # Safety
/// The CPU runs AVX2, BMI1, BMI2, LZCNT and POPCNT.
#[inline]
#[target_feature(enable = "avx2,bmi1,bmi2,lzcnt,popcnt")]
unsafe fn piece_words(
    lowered: &[u8; 128],
    bits: Bits,
    piece: &[u8],
    opts: &NormalizeOptions,
    table: &[u8; 128],
    sink: &mut Sink<'_>,
) {
    let Bits { space, punct, digit } = bits;
    let mut starts = !space & ((space << 1) | 1);
    let mut ends = space & (!space << 1);
    while starts != 0 {
        let (s, e) = (starts.trailing_zeros(), ends.trailing_zeros());
        starts &= starts - 1;
        ends &= ends - 1;
        let word = span(s, e);
        let kept = word & !punct;
        if kept == 0 {
            continue; // all punctuation: an empty word, no separator
        }
        let (a, z) = (kept.trailing_zeros(), 64 - kept.leading_zeros());
        if word & digit != 0 || kept != span(a, z) {
            sink.scalar_word(&piece[s as usize..e as usize], opts, table);
            continue;
        }
        let (a, k) = (a as usize, (z - a) as usize);
        // The word's first 8 bytes (`lowered` holds `a + 8 ≤ 72` bytes): the article test and a
        // short word's hash read them whatever follows the word.
        // SAFETY: `a < 64`, so the 8 bytes at `a` are inside `lowered`.
        let head = unsafe { lowered.as_ptr().add(a).cast::<u64>().read_unaligned() }.to_le();
        // An article is written and then not kept (the arena's length and the token count
        // are not advanced): the same output as the scalar test, without its branches on the
        // word's length, which vary from word to word and mispredict.
        let article = opts.articles && is_article(head, k);
        let start = sink.buf.len();
        let sep = usize::from(start > sink.base);
        sink.buf.reserve(k + 33);
        // SAFETY: AVX2 is on. The reserve leaves room for the separator and `k` rounded up to 32
        // bytes; the source reads stay below `a + k + 32 ≤ 96` in `lowered`. The bytes are ASCII,
        // so the arena stays UTF-8.
        unsafe {
            let dst = sink.buf.as_mut_ptr().add(start);
            dst.write(b' ');
            let (src, dst) = (lowered.as_ptr().add(a), dst.add(sep));
            // Two fixed copies, not a loop (which the compiler turns into a `memcpy` call).
            _mm256_storeu_si256(dst.cast(), _mm256_loadu_si256(src.cast()));
            if k > 32 {
                _mm256_storeu_si256(dst.add(32).cast(), _mm256_loadu_si256(src.add(32).cast()));
            }
            sink.buf.set_len(if article { start } else { start + sep + k });
        }
        if let Some(t) = sink.tokens.as_deref_mut() {
            let h = if k < 8 {
                hash_short(head, k)
            } else {
                hash_bytes(&lowered[a..a + k])
            };
            t.push(h);
            // SAFETY: shortens the vector by at most the element just pushed.
            unsafe { t.set_len(t.len() - usize::from(article)) };
        }
    }
}

/// Whether a word of the piece has punctuation between two of its kept bytes ("a.b"), which
/// the packed path does not handle (its article test takes each run of kept bytes for a whole
/// word). A run of punctuation that follows a kept byte is added to its first bit: the carry
/// lands on the byte after the run, a kept byte exactly when the run splits a word.
#[inline(always)]
fn split_kept(space: u64, punct: u64) -> bool {
    let kept = !space & !punct;
    let after_kept = punct & (kept << 1);
    punct.wrapping_add(after_kept) & !punct & kept != 0
}

/// Bit `i` where byte `i` of the piece is `c`.
#[inline]
#[target_feature(enable = "avx2")]
fn eq_bits(l0: __m256i, l1: __m256i, c: u8) -> u64 {
    eq_bits32(l0, c) | (eq_bits32(l1, c) << 32)
}

/// Bit `i` where byte `i` of the 32 bytes of `l` is `c`.
#[inline]
#[target_feature(enable = "avx2")]
fn eq_bits32(l: __m256i, c: u8) -> u64 {
    u64::from(lane_bits(_mm256_cmpeq_epi8(l, splat(c))))
}

/// Where the piece's bytes are `a`, `n`, `t`, `h`, `e`: the letters of the articles.
#[derive(Default)]
struct Articles {
    a: u64,
    n: u64,
    t: u64,
    h: u64,
    e: u64,
}

#[inline]
#[target_feature(enable = "avx2")]
fn article_bits(l0: __m256i, l1: __m256i) -> Articles {
    Articles {
        a: eq_bits(l0, l1, b'a'),
        n: eq_bits(l0, l1, b'n'),
        t: eq_bits(l0, l1, b't'),
        h: eq_bits(l0, l1, b'h'),
        e: eq_bits(l0, l1, b'e'),
    }
}

/// Each 8-bit mask's set positions in order, then 0x80 (a `pshufb` index that gives 0).
static PACK: [[u8; 8]; 256] = {
    let mut t = [[0x80u8; 8]; 256];
    let mut m = 0;
    while m < 256 {
        let (mut i, mut k) = (0, 0);
        while i < 8 {
            if m & (1 << i) != 0 {
                t[m][k] = i as u8;
                k += 1;
            }
            i += 1;
        }
        m += 1;
    }
    t
};

/// Writes the words of a piece without a word loop, for pieces whose words each keep one run of
/// bytes (no digit to canonicalise, no punctuation inside a word: [`split_kept`]) and whose
/// hashes are not asked for. Each run of kept bytes is a word: it is dropped if it spells an
/// article; a kept word takes the byte before it (a space in `lowered`) as its separator, but
/// for the text's first word. The kept bytes are then packed 8 at a time with a `pshufb`.
/// Same output as [`piece_words`] (the tests compare the two shortcuts with the scalar one).
/// A piece of 32 bytes or fewer takes the 8 groups too (its bits past 32 are whitespace): shorter
/// texts take [`short_packed`] unless they have a digit or a split word, which this does not take
/// either, so only a text of exactly 32 bytes or the last piece of a longer one is that short.
///
/// # Safety
/// The CPU runs AVX2, BMI1, BMI2, LZCNT and POPCNT.
#[inline]
#[target_feature(enable = "avx2,bmi1,bmi2,lzcnt,popcnt")]
unsafe fn piece_packed(lowered: &[u8; 128], bits: &Bits, art: &Articles, sink: &mut Sink<'_>) {
    // SAFETY: this function's contract; 8 groups read the first 72 bytes of `lowered`.
    unsafe { pack_words::<8>(lowered, bits, art, sink) }
}

/// [`piece_packed`]'s work on the first `8 * GROUPS` bytes of `lowered` (bits past them are
/// whitespace). The group count is a constant so that each count has one caller, which the
/// compiler inlines (a call passed the bit masks through memory: ~30 instructions of the ~200
/// a short answer costs).
///
/// # Safety
/// The CPU runs AVX2, BMI1, BMI2, LZCNT and POPCNT; `lowered` holds at least `8 * GROUPS + 8`
/// bytes (each group's load reads 16).
#[inline]
#[target_feature(enable = "avx2,bmi1,bmi2,lzcnt,popcnt")]
unsafe fn pack_words<const GROUPS: usize>(lowered: &[u8], bits: &Bits, art: &Articles, sink: &mut Sink<'_>) {
    let kept = !bits.space & !bits.punct;
    let first = kept & !(kept << 1);
    let last = kept & !(kept >> 1);
    let one = first & last & art.a;
    let two = first & art.a & (art.n >> 1) & (last >> 1);
    let three = first & art.t & (art.h >> 1) & (art.e >> 2) & (last >> 2);
    let dropped = one | two | (two << 1) | three | (three << 1) | (three << 2);
    let kept = kept & !dropped;
    let starts = first & kept;
    let start = sink.buf.len();
    let had = start > sink.base;
    // Separators: the byte before each kept word but the text's first; a word at the piece's
    // first byte after earlier words takes a space written here.
    let lead = usize::from(had && starts & 1 != 0);
    let seps = if had {
        starts >> 1
    } else {
        (starts & starts.wrapping_sub(1)) >> 1
    };
    let mask = kept | seps;
    sink.buf.reserve(1 + 8 * GROUPS);
    // SAFETY: AVX2 is on. The reserve leaves room for the lead space and every group's 8-byte
    // store (each advances by at most 8); the loads stay inside `lowered`'s first `8 * GROUPS + 8`
    // bytes (this function's contract). The bytes are ASCII, so the arena stays UTF-8.
    unsafe {
        let base = sink.buf.as_mut_ptr().add(start);
        base.write(b' ');
        let mut dst = base.add(lead);
        for g in 0..GROUPS {
            let m = ((mask >> (8 * g)) & 0xFF) as usize;
            // 16 bytes, of which the shuffle reads the first 8: an 8-byte load, once inlined,
            // became a register form of `vmovq` that valgrind 3.19 cannot decode (callgrind is
            // how these kernels are measured here).
            let src = _mm_loadu_si128(lowered.as_ptr().add(8 * g).cast());
            let idx = _mm_loadl_epi64(PACK[m].as_ptr().cast());
            _mm_storel_epi64(dst.cast(), _mm_shuffle_epi8(src, idx));
            dst = dst.add(m.count_ones() as usize);
        }
        sink.buf.set_len(start + dst.offset_from(base) as usize);
    }
}

/// The bytes of a word of length 0 to 3 (by index; 4 for longer words) that can make it an
/// article: none for longer words.
const ARTICLE_MASK: [u32; 5] = [0, 0xFF, 0xFFFF, 0xFF_FFFF, 0];

/// Whether the word whose first 8 bytes are `head` (little-endian) and whose length is `len`
/// is "a", "an" or "the": its first `len` bytes against each (a kept word has no zero byte, so
/// the value masked to `len` bytes tells the three apart, and no longer word matches).
#[inline(always)]
fn is_article(head: u64, len: usize) -> bool {
    let w = (head as u32) & ARTICLE_MASK[len.min(4)];
    (w == u32::from_le_bytes(*b"a\0\0\0"))
        | (w == u32::from_le_bytes(*b"an\0\0"))
        | (w == u32::from_le_bytes(*b"the\0"))
}
