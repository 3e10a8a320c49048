//! Answer normalisation before comparison: Unicode NFKC, case folding, number canonicalisation,
//! SQuAD-style punctuation and article stripping, whitespace collapsing. Each step can be turned off.
//!
//! Order: vulgar fractions are tagged, then NFKC, lower-casing, numbers, punctuation, articles,
//! whitespace. Numbers are canonicalised before punctuation is stripped and protected from it, so
//! "-80" stays distinct from "80" and "3.50" becomes "3.5" rather than "350".

use unicode_normalization::UnicodeNormalization;

use crate::simd::SimdLevel;

use super::numbers::ascii_number;
pub use super::numbers::{last_number, scan_numbers, NumberToken};

/// Which normalisation steps to apply (all on by default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)]
pub struct NormalizeOptions {
    /// Unicode NFKC (full-width letters, ligatures, "１２" → "12").
    pub unicode: bool,
    /// Lower-case.
    pub lowercase: bool,
    /// Delete punctuation characters (SQuAD deletes them without inserting a space).
    pub punctuation: bool,
    /// Drop the English articles "a", "an", "the" as whole words.
    pub articles: bool,
    /// Trim and collapse runs of whitespace to one space.
    pub whitespace: bool,
    /// Canonical numbers: "1,000" → "1000", "3.50" → "3.5", "+7" → "7", "½" → "0.5", "1/4" → "0.25".
    pub numbers: bool,
}

impl Default for NormalizeOptions {
    fn default() -> Self {
        Self {
            unicode: true,
            lowercase: true,
            punctuation: true,
            articles: true,
            whitespace: true,
            numbers: true,
        }
    }
}

impl NormalizeOptions {
    /// No step at all: answers compare verbatim.
    #[must_use]
    pub fn none() -> Self {
        Self {
            unicode: false,
            lowercase: false,
            punctuation: false,
            articles: false,
            whitespace: false,
            numbers: false,
        }
    }
}

// Number characters shielded from the punctuation step, restored at the end (private-use code
// points: NFKC, lower-casing and the punctuation test all leave them alone).
const GUARD_MINUS: char = '\u{E0F0}';
const GUARD_POINT: char = '\u{E0F1}';
// Vulgar fractions are tagged before NFKC, which would turn "1½" into "11⁄2".
const FRACTION_BASE: u32 = 0xE100;
const VULGAR: [(char, f64); 19] = [
    ('¼', 0.25),
    ('½', 0.5),
    ('¾', 0.75),
    ('⅐', 1.0 / 7.0),
    ('⅑', 1.0 / 9.0),
    ('⅒', 0.1),
    ('⅓', 1.0 / 3.0),
    ('⅔', 2.0 / 3.0),
    ('⅕', 0.2),
    ('⅖', 0.4),
    ('⅗', 0.6),
    ('⅘', 0.8),
    ('⅙', 1.0 / 6.0),
    ('⅚', 5.0 / 6.0),
    ('⅛', 0.125),
    ('⅜', 0.375),
    ('⅝', 0.625),
    ('⅞', 0.875),
    ('↉', 0.0),
];

fn vulgar_tag(c: char) -> Option<char> {
    let i = VULGAR.iter().position(|&(v, _)| v == c)?;
    char::from_u32(FRACTION_BASE + u32::try_from(i).ok()?)
}

pub(super) fn vulgar_value(c: char) -> Option<f64> {
    let i = (c as u32).checked_sub(FRACTION_BASE)? as usize;
    VULGAR.get(i).map(|&(_, v)| v)
}

/// SQuAD deletes ASCII punctuation (Python's `string.punctuation`); we also delete the common
/// Unicode punctuation that NFKC leaves in place (curly quotes, dashes, ellipsis, CJK marks).
#[must_use]
pub fn is_punctuation(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_punctuation();
    }
    matches!(c,
        '\u{00A1}' | '\u{00A7}' | '\u{00AB}' | '\u{00B6}' | '\u{00B7}' | '\u{00BB}' | '\u{00BF}'
        | '\u{2010}'..='\u{2027}' | '\u{2030}'..='\u{205E}' | '\u{2212}'
        | '\u{3001}'..='\u{3003}' | '\u{3008}'..='\u{3011}' | '\u{3014}'..='\u{301F}'
        | '\u{FE50}'..='\u{FE6B}' | '\u{FF01}'..='\u{FF0F}')
}

fn is_article(w: &str) -> bool {
    matches!(w, "a" | "an" | "the")
}

/// Normalises `text` with `opts` into a new string.
#[must_use]
pub fn normalize(text: &str, opts: &NormalizeOptions) -> String {
    let mut out = String::with_capacity(text.len());
    let mut scratch = Scratch::default();
    normalize_into(text, opts, &mut out, &mut scratch);
    out
}

/// Reusable buffers so batch callers allocate once per thread, not once per answer.
#[derive(Default)]
pub struct Scratch {
    a: String,
    b: String,
    c: String,
}

/// Normalises `text` into `out` (cleared first), using `scratch` for intermediate steps.
pub fn normalize_into(text: &str, opts: &NormalizeOptions, out: &mut String, scratch: &mut Scratch) {
    out.clear();
    normalize_append(text, opts, out, scratch);
}

/// Normalises `text` and appends the result to `out` (the batch path's arena).
pub fn normalize_append(text: &str, opts: &NormalizeOptions, out: &mut String, scratch: &mut Scratch) {
    normalize_append_tokens(text, opts, out, scratch, None);
}

/// [`normalize_append`], also appending to `tokens` the hash ([`token_hash`]) of each
/// whitespace-separated word of the appended text, in order: the ASCII shortcut hashes each word
/// as it writes it, so the text is not scanned a second time to tokenise it.
///
/// [`token_hash`]: super::similarity::token_hash
pub fn normalize_append_tokens(
    text: &str,
    opts: &NormalizeOptions,
    out: &mut String,
    scratch: &mut Scratch,
    tokens: Option<&mut Vec<u64>>,
) {
    normalize_append_tokens_at(crate::simd::active(), text, opts, out, scratch, tokens);
}

/// [`normalize_append_tokens`] at SIMD level `level` (which the CPU must support: the tests force
/// each level; AVX2 and up take the AVX2 shortcut, with the same result).
pub(super) fn normalize_append_tokens_at(
    level: SimdLevel,
    text: &str,
    opts: &NormalizeOptions,
    out: &mut String,
    scratch: &mut Scratch,
    mut tokens: Option<&mut Vec<u64>>,
) {
    #[cfg(target_arch = "x86_64")]
    if opts.whitespace && level >= SimdLevel::Avx2 && super::normalize_avx2::bit_ops() {
        let table = &ASCII_TABLES[usize::from(opts.punctuation) * 2 + usize::from(opts.lowercase)];
        // SAFETY: the level is supported, so the CPU runs AVX2, and `bit_ops` checked BMI1, BMI2,
        // LZCNT and POPCNT; the shortcut appends only ASCII bytes (it declines non-ASCII text,
        // appending nothing), so `out` stays UTF-8.
        let done = unsafe {
            super::normalize_avx2::normalize_ascii(
                text.as_bytes(),
                opts,
                table,
                out.as_mut_vec(),
                tokens.as_deref_mut(),
            )
        };
        if done {
            return;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = level;
    normalize_append_scalar(text, opts, out, scratch, tokens);
}

/// [`normalize_append_tokens_at`] without the AVX2 shortcut: kept out of line, so that the
/// shortcut's caller (once per answer) saves and restores only the registers the shortcut needs.
#[inline(never)]
fn normalize_append_scalar(
    text: &str,
    opts: &NormalizeOptions,
    out: &mut String,
    scratch: &mut Scratch,
    tokens: Option<&mut Vec<u64>>,
) {
    // Shortcut (most answers): ASCII is NFKC-stable, so one pass over its bytes does every step.
    if opts.whitespace && text.is_ascii() {
        let table = &ASCII_TABLES[usize::from(opts.punctuation) * 2 + usize::from(opts.lowercase)];
        // SAFETY: only ASCII bytes are appended (the input bytes are ASCII, the tables map ASCII to
        // ASCII, canonical numbers are digits, '-', '.' and Rust's float text), so `out` stays UTF-8.
        let buf = unsafe { out.as_mut_vec() };
        normalize_ascii(text.as_bytes(), opts, table, buf, tokens);
        return;
    }
    let start = out.len();
    let mut tmp = std::mem::take(&mut scratch.c);
    normalize_general(text, opts, &mut tmp, scratch);
    out.push_str(&tmp);
    scratch.c = tmp;
    if let Some(t) = tokens {
        super::similarity::token_hashes(&out[start..], t);
    }
}

/// The ASCII shortcut: one pass over the bytes, each mapped through `table` (case, punctuation,
/// whitespace) straight into `buf`'s spare capacity; a word ends at a space and is then dropped
/// if empty or an article, redone by the number-aware loop if it holds a digit, and hashed into
/// `tokens` when asked. Words are joined by single spaces, without leading or trailing space.
fn normalize_ascii(
    bytes: &[u8],
    opts: &NormalizeOptions,
    table: &[u8; 128],
    buf: &mut Vec<u8>,
    mut tokens: Option<&mut Vec<u64>>,
) {
    let base = buf.len();
    let n = bytes.len();
    let mut i = 0;
    loop {
        while i < n && table[usize::from(bytes[i] & 0x7f)] == SPACE {
            i += 1;
        }
        if i == n {
            return;
        }
        let word_start = i;
        let start = buf.len();
        // Room for a separator and the rest of the text (the mapped word is never longer).
        buf.reserve(n - i + 1);
        let spare = buf.spare_capacity_mut();
        let mut w = 0;
        if start > base {
            spare[0].write(b' ');
            w = 1;
        }
        let body = w;
        let mut digits = false;
        // Branch-free per byte but for the word's end: a deleted byte is written and then
        // overwritten by the next one.
        while i < n {
            let c = bytes[i];
            let m = table[usize::from(c & 0x7f)];
            if m == SPACE {
                break;
            }
            spare[w].write(m);
            w += usize::from(m != DELETED);
            digits |= c.is_ascii_digit();
            i += 1;
        }
        // SAFETY: the loop initialised spare[..w] (w ≤ 1 + the word's length ≤ the reserve).
        unsafe { buf.set_len(start + w) };
        if opts.numbers && digits {
            buf.truncate(start + body);
            push_number_word(buf, &bytes[word_start..i], table);
        }
        let word = &buf[start + body..];
        if word.is_empty() || (opts.articles && matches!(word, b"a" | b"an" | b"the")) {
            buf.truncate(start);
        } else if let Some(t) = tokens.as_deref_mut() {
            t.push(super::similarity::hash_bytes(word));
        }
    }
}

/// A word through `table` alone (the shortcuts' words without numbers to canonicalise).
pub(super) fn push_mapped_word(out: &mut Vec<u8>, word: &[u8], table: &[u8; 128]) {
    out.extend(
        word.iter()
            .map(|&c| table[usize::from(c & 0x7f)])
            .filter(|&m| m != DELETED),
    );
}

/// A word that holds a digit, through the number-aware loop: each number that starts at a
/// non-alphanumeric boundary is written in canonical form, other bytes through `table` (a word
/// without a digit comes out as [`push_mapped_word`] writes it).
pub(super) fn push_number_word(out: &mut Vec<u8>, word: &[u8], table: &[u8; 128]) {
    let mut i = 0;
    while i < word.len() {
        let c = word[i];
        if (c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.')) && (i == 0 || !word[i - 1].is_ascii_alphanumeric()) {
            if let Some(end) = ascii_number(word, i, out) {
                i = end;
                continue;
            }
        }
        let m = table[usize::from(c & 0x7f)];
        if m != DELETED {
            out.push(m);
        }
        i += 1;
    }
}

/// The general path (any text, any options); [`normalize_into`] takes a one-pass shortcut for
/// ASCII text that gives the same result (checked by the tests).
fn normalize_general(text: &str, opts: &NormalizeOptions, out: &mut String, scratch: &mut Scratch) {
    out.clear();
    let Scratch { a, b, .. } = scratch;
    a.clear();
    // Step 1: fraction tags, NFKC, lower case (ASCII text skips the Unicode machinery).
    if text.is_ascii() {
        a.push_str(text);
        if opts.lowercase {
            a.make_ascii_lowercase();
        }
    } else {
        b.clear();
        for c in text.chars() {
            b.push(if opts.numbers { vulgar_tag(c).unwrap_or(c) } else { c });
        }
        if opts.unicode {
            for c in b.nfkc() {
                push_case(a, c, opts.lowercase);
            }
        } else {
            for c in b.chars() {
                push_case(a, c, opts.lowercase);
            }
        }
    }
    // Step 2: canonical numbers, guarded against the punctuation step.
    let mut guarded = false;
    let src: &str = if opts.numbers {
        b.clear();
        guarded = canonical_numbers(a, b, opts.punctuation);
        b
    } else {
        a
    };
    // Step 3: punctuation, articles and whitespace, word by word.
    if opts.whitespace {
        for word in src.split_whitespace() {
            push_word(out, word, opts, true);
        }
    } else {
        let mut rest = src;
        while !rest.is_empty() {
            let ws = rest.find(|c: char| !c.is_whitespace()).unwrap_or(rest.len());
            out.push_str(&rest[..ws]);
            rest = &rest[ws..];
            let we = rest.find(char::is_whitespace).unwrap_or(rest.len());
            push_word(out, &rest[..we], opts, false);
            rest = &rest[we..];
        }
    }
    if guarded {
        let restored: String = out
            .chars()
            .map(|c| {
                if c == GUARD_MINUS {
                    '-'
                } else if c == GUARD_POINT {
                    '.'
                } else {
                    c
                }
            })
            .collect();
        *out = restored;
    }
}

/// Marks a byte the shortcut deletes (never a valid ASCII output).
const DELETED: u8 = 0xFF;
/// Marks a whitespace byte, which ends a word (never a valid ASCII output).
const SPACE: u8 = 0xFE;

/// What each ASCII byte becomes, for (punctuation, lowercase) on/off, built at compile time.
const fn ascii_table(punctuation: bool, lowercase: bool) -> [u8; 128] {
    let mut t = [0u8; 128];
    let mut b = 0u8;
    while b < 128 {
        // Whitespace: the ASCII characters with Unicode's White_Space property (what
        // `split_whitespace` splits on).
        t[b as usize] = if matches!(b, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r') {
            SPACE
        } else if punctuation && b.is_ascii_punctuation() {
            DELETED
        } else if lowercase {
            b.to_ascii_lowercase()
        } else {
            b
        };
        b += 1;
    }
    t
}

static ASCII_TABLES: [[u8; 128]; 4] = [
    ascii_table(false, false),
    ascii_table(false, true),
    ascii_table(true, false),
    ascii_table(true, true),
];

fn push_case(out: &mut String, c: char, lower: bool) {
    if lower && !c.is_ascii() {
        out.extend(c.to_lowercase());
    } else if lower {
        out.push(c.to_ascii_lowercase());
    } else {
        out.push(c);
    }
}

fn push_word(out: &mut String, word: &str, opts: &NormalizeOptions, spaced: bool) {
    let start = out.len();
    if spaced && start > 0 {
        out.push(' ');
    }
    let body = out.len();
    if opts.punctuation {
        out.extend(word.chars().filter(|&c| !is_punctuation(c)));
    } else {
        out.push_str(word);
    }
    let empty = out.len() == body;
    if (spaced && empty) || (opts.articles && is_article(&out[body..])) {
        out.truncate(start);
    }
}

/// Rewrites every number of `src` in canonical form into `out`; returns whether guards were used.
fn canonical_numbers(src: &str, out: &mut String, guard: bool) -> bool {
    let (minus, point) = if guard { (GUARD_MINUS, GUARD_POINT) } else { ('-', '.') };
    let mut last = 0;
    let mut any = false;
    for tok in scan_numbers(src) {
        out.push_str(&src[last..tok.start]);
        tok.write_canonical(out, minus, point);
        last = tok.end;
        any = true;
    }
    out.push_str(&src[last..]);
    // Untouched tags (a vulgar fraction inside a word) go back to their characters.
    if out.chars().any(|c| vulgar_value(c).is_some()) {
        let restored: String = out
            .chars()
            .map(|c| vulgar_value(c).map_or(c, |_| VULGAR[(c as u32 - FRACTION_BASE) as usize].0))
            .collect();
        *out = restored;
    }
    any && guard
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> String {
        normalize(s, &NormalizeOptions::default())
    }

    #[test]
    fn squad_style() {
        assert_eq!(n("  The  Eiffel Tower! "), "eiffel tower");
        assert_eq!(n("an apple, a pear"), "apple pear");
        assert_eq!(n("don't"), "dont");
        assert_eq!(n("“Paris”…"), "paris");
        assert_eq!(n("ＰＡＲＩＳ"), "paris");
        assert_eq!(n(""), "");
        assert_eq!(n("the"), "");
    }

    #[test]
    fn numbers() {
        assert_eq!(n("1,000"), "1000");
        assert_eq!(n("$1,000,000.00"), "1000000");
        assert_eq!(n("3.50"), "3.5");
        assert_eq!(n("-80"), "-80");
        assert_eq!(n("+7"), "7");
        assert_eq!(n("-0.0"), "0");
        assert_eq!(n("007"), "7");
        assert_eq!(n("½"), "0.5");
        assert_eq!(n("1½ cups"), "1.5 cups");
        assert_eq!(n("1/4"), "0.25");
        assert_eq!(n(".5"), "0.5");
        assert_eq!(n("The answer is 42."), "answer is 42");
        assert_eq!(n("covid19"), "covid19");
        assert_eq!(n("1,2,3"), "123");
        assert_eq!(n("3.5%"), "3.5");
    }

    #[test]
    fn steps_switch_off() {
        let none = NormalizeOptions::none();
        assert_eq!(normalize(" The 3.50! ", &none), " The 3.50! ");
        let keep_case = NormalizeOptions {
            lowercase: false,
            ..NormalizeOptions::default()
        };
        assert_eq!(normalize("The Cat", &keep_case), "The Cat");
        let no_ws = NormalizeOptions {
            whitespace: false,
            ..NormalizeOptions::default()
        };
        assert_eq!(normalize(" a  b ", &no_ws), "   b ");
        let no_num = NormalizeOptions {
            numbers: false,
            ..NormalizeOptions::default()
        };
        assert_eq!(normalize("-3.50", &no_num), "350");
    }

    #[test]
    fn ascii_shortcut_matches_general_path() {
        let pieces = [
            "The",
            "a",
            "an",
            "42",
            "-80",
            "+7",
            "3.50",
            "1,000",
            "1,2",
            "$1,234.50",
            "x2",
            "5-3",
            "1/4",
            "3/0",
            "1/2/3",
            "0.0",
            "-0",
            "007",
            ".5",
            "-.5",
            "1.2.3",
            "Paris!",
            "don't",
            "--",
            "(",
            ")",
            "3.",
            "3.5%",
            "-",
            "1,000,000.00",
            "covid19",
            "2x",
            "a1b2",
            "--4",
            "'-4'",
            "1/4.",
            "10/20",
        ];
        let opts_list = [
            NormalizeOptions::default(),
            NormalizeOptions {
                punctuation: false,
                ..NormalizeOptions::default()
            },
            NormalizeOptions {
                numbers: false,
                ..NormalizeOptions::default()
            },
            NormalizeOptions {
                lowercase: false,
                articles: false,
                ..NormalizeOptions::default()
            },
        ];
        let mut seed: u64 = 7;
        for _ in 0..4000 {
            let mut text = String::new();
            for _ in 0..4 {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let p = pieces[(seed >> 33) as usize % pieces.len()];
                text.push_str(p);
                text.push_str(if (seed >> 20).is_multiple_of(3) { "" } else { " " });
            }
            for opts in &opts_list {
                let mut fast = String::new();
                normalize_into(&text, opts, &mut fast, &mut Scratch::default());
                let mut slow = String::new();
                normalize_general(&text, opts, &mut slow, &mut Scratch::default());
                assert_eq!(fast, slow, "{text:?} {opts:?}");
                assert_tokens_of_output(&text, opts);
            }
        }
    }

    /// The hashes `normalize_append_tokens` emits are those of the words of the text it appends.
    fn assert_tokens_of_output(text: &str, opts: &NormalizeOptions) {
        let mut out = String::from("prefix words");
        let mut toks = vec![7];
        normalize_append_tokens(text, opts, &mut out, &mut Scratch::default(), Some(&mut toks));
        let mut want = vec![7];
        super::super::similarity::token_hashes(&out["prefix words".len()..], &mut want);
        assert_eq!(toks, want, "{text:?} {opts:?}");
    }

    #[test]
    fn tokens_are_the_hashed_words_of_the_output() {
        for text in [
            "",
            "   ",
            "The Eiffel Tower!",
            "Zürich the city",
            "東京 タワー",
            "a an the",
            "x -3.50 1/4",
        ] {
            assert_tokens_of_output(text, &NormalizeOptions::default());
            assert_tokens_of_output(text, &NormalizeOptions::none());
        }
    }

    /// Random text for the shortcut comparisons: words, numbers, punctuation, every ASCII
    /// whitespace and control byte, upper case, and now and then non-ASCII characters, at lengths
    /// on both sides of the AVX2 path's 32-byte blocks, 64-byte words and 256-byte limit.
    fn random_text(seed: &mut u64) -> String {
        let mut next = || {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            *seed
        };
        let pieces = [
            "The",
            "a",
            "an",
            "the",
            "THE",
            "A",
            "An",
            // near articles: prefixes, extensions, and articles with punctuation around them
            "at",
            "and",
            "then",
            "th",
            "ann",
            "they",
            "a.",
            "the!",
            "(an)",
            "42",
            "-80",
            "+7",
            "3.50",
            "1,000",
            "1/4",
            ".5",
            "x2",
            "a1b2",
            "Paris!",
            "don't",
            "--",
            "(",
            ")",
            "\"q\"",
            "it's",
            "@",
            "`",
            "[x]",
            "{y}",
            "~",
            "^_^",
            "é",
            "Zürich",
            "東京",
            "½",
            "ＰＡＲＩＳ",
            "“Paris”…",
            "Ab-Cd",
            "e.g.",
            "...",
            "x,y",
            "3.5%",
        ];
        let spaces = [" ", "  ", "\t", "\n", "\u{b}", "\u{c}", "\r", " \r\n ", ""];
        let target = (next() % 300) as usize;
        let mut text = String::new();
        while text.len() < target {
            match next() % 10 {
                0 => {
                    // A long run of letters (words past 32 and 64 bytes).
                    let len = (next() % 90) as usize;
                    text.extend((0..len).map(|i| if i % 7 == 3 { 'Q' } else { 'k' }));
                }
                1 => text.push(char::from((next() % 128) as u8)),
                2 if next() % 8 == 0 => text.push(char::from_u32(0x80 + (next() % 0x3000) as u32).unwrap_or('é')),
                _ => text.push_str(pieces[(next() % pieces.len() as u64) as usize]),
            }
            text.push_str(spaces[(next() % spaces.len() as u64) as usize]);
        }
        text
    }

    #[test]
    fn avx2_shortcut_matches_scalar_on_random_text() {
        if !SimdLevel::Avx2.supported() {
            return;
        }
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for case in 0..6000 {
            let text = random_text(&mut seed);
            let bits = case % 64;
            let opts = NormalizeOptions {
                unicode: bits & 1 == 0,
                lowercase: bits & 2 == 0,
                punctuation: bits & 4 == 0,
                articles: bits & 8 == 0,
                whitespace: bits & 16 == 0 || case % 3 == 0,
                numbers: bits & 32 == 0,
            };
            let run = |level: SimdLevel, hashed: bool| {
                // A prefix in the arena: the first word of this text still takes no separator.
                let mut out = String::from(if case % 2 == 0 { "" } else { "prefix" });
                let mut toks = vec![1];
                let mut scratch = Scratch::default();
                let sink = if hashed { Some(&mut toks) } else { None };
                normalize_append_tokens_at(level, &text, &opts, &mut out, &mut scratch, sink);
                (out, toks)
            };
            for hashed in [true, false] {
                assert_eq!(
                    run(SimdLevel::Avx2, hashed),
                    run(SimdLevel::Scalar, hashed),
                    "{text:?} {opts:?}"
                );
            }
        }
    }

    /// Text the AVX2 shortcut packs without a word loop when no hashes are asked for: words
    /// without digits or punctuation inside them (punctuation around them, articles, near
    /// articles, every whitespace), at lengths on both sides of 32 and 64 bytes.
    #[test]
    fn avx2_packed_words_match_scalar() {
        if !SimdLevel::Avx2.supported() {
            return;
        }
        let words = [
            "a",
            "an",
            "the",
            "A",
            "An",
            "THE",
            "The",
            "at",
            "and",
            "then",
            "th",
            "he",
            "n",
            "e",
            "ann",
            "they",
            "tthe",
            "thee",
            "aan",
            "(a)",
            "\"the\"",
            "an!",
            "...",
            "!",
            "paris",
            "Eiffel",
            "tower",
            "x",
            "--the",
            "a--",
            "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk",
            "\u{1}",
            "\u{7f}",
        ];
        let spaces = [" ", "  ", "\t", "\n", "\u{b}", "\u{c}", "\r", " \r\n "];
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for case in 0..20_000 {
            let target = (next() % 140) as usize;
            let mut text = String::new();
            if next() % 4 == 0 {
                text.push_str(spaces[(next() % 8) as usize]);
            }
            while text.len() < target {
                text.push_str(words[(next() % words.len() as u64) as usize]);
                text.push_str(spaces[(next() % 8) as usize]);
            }
            let bits = case % 16;
            let opts = NormalizeOptions {
                lowercase: bits & 1 == 0,
                punctuation: bits & 2 == 0,
                articles: bits & 4 == 0,
                numbers: bits & 8 == 0,
                ..NormalizeOptions::default()
            };
            let run = |level: SimdLevel| {
                let mut out = String::from(if case % 3 == 0 { "" } else { "prefix" });
                normalize_append_tokens_at(level, &text, &opts, &mut out, &mut Scratch::default(), None);
                out
            };
            assert_eq!(run(SimdLevel::Avx2), run(SimdLevel::Scalar), "{text:?} {opts:?}");
        }
    }

    #[test]
    fn last_number_values() {
        assert_eq!(last_number("the answer is 1,234.5"), Some(1234.5));
        assert_eq!(last_number("-80"), Some(-80.0));
        assert_eq!(last_number("no number"), None);
        assert_eq!(last_number("x2"), None);
    }
}
