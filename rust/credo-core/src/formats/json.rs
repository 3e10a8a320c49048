//! A schema-directed scanner over a JSON body: the [`Node`] of a response read straight from its
//! bytes. Nothing is built for the values the reader does not ask for: they are skipped (checked
//! for JSON syntax, nesting bounded by [`MAX_DEPTH`]); strings are kept as byte spans and decoded
//! only on demand. Numbers are correctly rounded (every value is the double Python's `float()`
//! gives for the same text): the form logprobs take by the `number` module's parser, the rest by
//! `fast-float2`.
//!
//! The common layouts are read in few steps: strings and the `bytes` lists of integers are
//! found 16 bytes at a time (the `scan` module); keys are compared where the layout predicts them; a
//! `top_logprobs` entry in the form servers write is read in one pass
//! ([`Node::plain_top_entry`]). Each of these steps gives way to the general walk at the first
//! byte it does not expect, so errors and unusual layouts are read (and reported) as before; the
//! tests hold both to the same results.

use std::borrow::Cow;
use std::mem::MaybeUninit;

use super::scan::{self, Scan};
use super::{number, Kind, Node, ReadError, TakeTop};
use crate::simd::SimdLevel;

/// Deepest nesting of arrays and objects accepted (Python's `json` recursion limit is about 1000
/// frames; the layouts read here are at most six deep).
pub const MAX_DEPTH: u32 = 128;

/// A JSON string inside a body, between its quotes, escapes not yet decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    /// The string's text (escapes decoded), or an error for invalid UTF-8 (the scanner has
    /// already checked the escapes, surrogate pairs included).
    pub fn decode(self, body: &[u8]) -> Result<String, ReadError> {
        let raw = body
            .get(self.start as usize..self.end as usize)
            .ok_or_else(|| ReadError::invalid("the body changed since it was read"))?;
        let mut out = Vec::with_capacity(raw.len());
        let mut i = 0;
        while i < raw.len() {
            let c = raw[i];
            if c != b'\\' {
                out.push(c);
                i += 1;
                continue;
            }
            let e = raw.get(i + 1).copied().unwrap_or(0);
            i += 2;
            let simple = match e {
                b'"' => b'"',
                b'\\' => b'\\',
                b'/' => b'/',
                b'b' => 8,
                b'f' => 12,
                b'n' => b'\n',
                b'r' => b'\r',
                b't' => b'\t',
                b'u' => {
                    let (ch, used) = unicode_escape(raw, i - 2).map_err(ReadError::invalid)?;
                    i = i - 2 + used;
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                    continue;
                }
                _ => return Err(ReadError::invalid("invalid escape in a string")),
            };
            out.push(simple);
        }
        String::from_utf8(out).map_err(|_| ReadError::invalid("a string is not valid UTF-8"))
    }

    /// The same span in a body where the bytes it was found in start at `offset`.
    #[inline(always)]
    #[must_use]
    pub fn at(self, offset: usize) -> Self {
        // the body is at most 4 GiB
        let offset = offset as u32;
        Self {
            start: self.start + offset,
            end: self.end + offset,
        }
    }

    /// The raw bytes (escapes undecoded).
    pub fn raw(self, body: &[u8]) -> &[u8] {
        body.get(self.start as usize..self.end as usize).unwrap_or(&[])
    }
}

/// Each byte's value as a hex digit, or 0xFF for a byte that is none.
const HEX: [u8; 256] = {
    let mut t = [0xFFu8; 256];
    let mut c = 0;
    while c < 10 {
        t[b'0' as usize + c] = c as u8;
        c += 1;
    }
    let mut c = 0;
    while c < 6 {
        t[b'a' as usize + c] = 10 + c as u8;
        t[b'A' as usize + c] = 10 + c as u8;
        c += 1;
    }
    t
};

/// The value of the four hex digits at `s[at..]`, looked up (no branch per digit: `\u` escapes
/// mix digits and letters at random).
#[inline(always)]
pub(super) fn hex4(s: &[u8], at: usize) -> Option<u32> {
    let h: &[u8; 4] = s.get(at..at + 4)?.try_into().ok()?;
    let d = h.map(|c| HEX[usize::from(c)]);
    if (d[0] | d[1] | d[2] | d[3]) > 0xF {
        return None;
    }
    Some(u32::from(d[0]) << 12 | u32::from(d[1]) << 8 | u32::from(d[2]) << 4 | u32::from(d[3]))
}

/// The character of the `\uXXXX` escape (or surrogate pair) at `s[at]` (the backslash) and the
/// bytes it spans. A lone or reversed surrogate is an error (it is no Unicode character).
fn unicode_escape(s: &[u8], at: usize) -> Result<(char, usize), &'static str> {
    let hi = hex4(s, at + 2).ok_or("\\u must be followed by four hex digits")?;
    if (0xDC00..0xE000).contains(&hi) {
        return Err("a lone low surrogate escape (\\uDC00-\\uDFFF)");
    }
    if !(0xD800..0xDC00).contains(&hi) {
        return char::from_u32(hi).map(|c| (c, 6)).ok_or("invalid \\u escape");
    }
    if s.get(at + 6) != Some(&b'\\') || s.get(at + 7) != Some(&b'u') {
        return Err("a high surrogate escape not followed by a low one");
    }
    let lo = hex4(s, at + 8).ok_or("\\u must be followed by four hex digits")?;
    if !(0xDC00..0xE000).contains(&lo) {
        return Err("a high surrogate escape not followed by a low one");
    }
    let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
    char::from_u32(c).map(|c| (c, 12)).ok_or("invalid surrogate pair")
}

/// The scanner: a position in the body and the current nesting depth.
pub struct Body<'a> {
    b: &'a [u8],
    pos: usize,
    depth: u32,
    /// Whether the vector kernels of [`scan`] run (the crate's SIMD level is above scalar).
    vector: bool,
    /// Whether the `top_logprobs` lists are read with the AVX2 kernels (the level is AVX2 or
    /// above, which this CPU runs); else SSE2's, or the portable ones.
    avx2: bool,
    /// Whether [`Node::plain_top_entry`] reads entries in one step (off: the general walk
    /// reads them, as the tests compare).
    shortcuts: bool,
}

impl<'a> Body<'a> {
    /// A scanner over `b` (at most 4 GiB: spans are 32-bit), at the crate's SIMD level.
    pub fn new(b: &'a [u8]) -> Result<Self, ReadError> {
        Self::at_level(b, crate::simd::active())
    }

    /// A scanner whose kernels run at `level` (the tests compare the levels).
    pub fn at_level(b: &'a [u8], level: SimdLevel) -> Result<Self, ReadError> {
        if u32::try_from(b.len()).is_err() {
            return Err(ReadError::invalid("the body is larger than 4 GiB"));
        }
        Ok(Self {
            b,
            pos: 0,
            depth: 0,
            vector: level != SimdLevel::Scalar,
            avx2: cfg!(target_arch = "x86_64") && level >= SimdLevel::Avx2 && SimdLevel::Avx2.supported(),
            shortcuts: true,
        })
    }

    /// The same scanner with the vector kernels on or off, and the AVX2 ones among them (the
    /// tests compare each set; AVX2 only where the CPU runs it).
    #[cfg(test)]
    #[must_use]
    pub(crate) fn kernels(mut self, vector: bool, avx2: bool) -> Self {
        self.vector = vector;
        self.avx2 = avx2 && vector && cfg!(target_arch = "x86_64") && SimdLevel::Avx2.supported();
        self
    }

    /// The same scanner with the one-step readings off (every value read by the general walk).
    #[must_use]
    pub fn general(mut self) -> Self {
        self.shortcuts = false;
        self
    }

    /// The cursor on the root value (leading whitespace and a UTF-8 byte-order mark skipped).
    pub fn root(&mut self) -> &mut Self {
        if self.b.starts_with(b"\xEF\xBB\xBF") {
            self.pos = 3;
        }
        self.ws();
        self
    }

    /// Fails unless only whitespace follows the root value.
    pub fn finish(&mut self) -> Result<(), ReadError> {
        self.ws();
        if self.pos < self.b.len() {
            return Err(self.syntax("extra data after the JSON value"));
        }
        Ok(())
    }

    pub fn bytes(&self) -> &'a [u8] {
        self.b
    }

    #[inline(always)]
    fn peek(&self) -> u8 {
        // 0 past the end: no JSON token starts with it, so every caller reports it.
        self.b.get(self.pos).copied().unwrap_or(0)
    }

    #[inline(always)]
    fn ws(&mut self) {
        // Most values follow their separator directly or after one space.
        match self.b.get(self.pos) {
            Some(&c) if c > b' ' => return,
            None => return,
            Some(b' ') if self.b.get(self.pos + 1).is_some_and(|&c| c > b' ') => {
                self.pos += 1;
                return;
            }
            _ => {}
        }
        while let Some(&c) = self.b.get(self.pos) {
            if c == b' ' || c == b'\n' || c == b'\r' || c == b'\t' {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    fn syntax(&self, what: &str) -> ReadError {
        if self.pos >= self.b.len() {
            ReadError::invalid(format!("the JSON ends early (truncated at byte {})", self.b.len()))
        } else {
            ReadError::invalid(format!("invalid JSON at byte {}: {what}", self.pos))
        }
    }

    fn enter(&mut self) -> Result<(), ReadError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ReadError::invalid(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    /// The string starting at the opening quote under the cursor; the cursor moves past its
    /// closing quote. Returns its span and whether it holds escapes.
    #[inline(always)]
    fn string(&mut self) -> Result<(Span, bool), ReadError> {
        debug_assert_eq!(self.peek(), b'"');
        let start = self.pos + 1;
        match string_end(self.b, start, scan::Baseline(self.vector)) {
            Ok((end, escaped)) => {
                self.pos = end + 1;
                // the body is at most 4 GiB
                let span = Span {
                    start: start as u32,
                    end: end as u32,
                };
                Ok((span, escaped))
            }
            Err((at, what)) => {
                self.pos = at;
                Err(self.syntax(what))
            }
        }
    }

    /// Scans a number under the cursor (JSON grammar, plus Python's `NaN`, `Infinity` and
    /// `-Infinity`), returning its text.
    #[inline(always)]
    fn number_text(&mut self) -> Result<&'a [u8], ReadError> {
        let b = self.b;
        let start = self.pos;
        let mut i = start;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        let digits = |mut i: usize| {
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            i
        };
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => i = digits(i + 1),
            Some(b'I') if b[i..].starts_with(b"Infinity") => {
                self.pos = i + 8;
                return Ok(&b[start..self.pos]);
            }
            Some(b'N') if i == start && b[i..].starts_with(b"NaN") => {
                self.pos = i + 3;
                return Ok(&b[start..self.pos]);
            }
            _ => {
                self.pos = i;
                return Err(self.syntax("a malformed number"));
            }
        }
        if b.get(i) == Some(&b'.') {
            let j = digits(i + 1);
            if j == i + 1 {
                self.pos = j;
                return Err(self.syntax("a malformed number (no digit after '.')"));
            }
            i = j;
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let j = digits(i);
            if j == i {
                self.pos = j;
                return Err(self.syntax("a malformed number (no exponent digits)"));
            }
            i = j;
        }
        self.pos = i;
        Ok(&b[start..i])
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), ReadError> {
        if self.b[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.syntax("an unknown literal"))
        }
    }

    /// Skips the value under the cursor, checking its syntax.
    fn skip(&mut self) -> Result<(), ReadError> {
        match self.peek() {
            b'"' => self.string().map(|_| ()),
            b'{' => {
                self.enter()?;
                self.pos += 1;
                self.ws();
                if self.peek() == b'}' {
                    self.pos += 1;
                } else {
                    loop {
                        if self.peek() != b'"' {
                            return Err(self.syntax("expected a key"));
                        }
                        self.string()?;
                        self.colon()?;
                        self.skip()?;
                        if self.after_item(b'}')? {
                            break;
                        }
                    }
                }
                self.depth -= 1;
                Ok(())
            }
            b'[' => {
                self.enter()?;
                self.pos += 1;
                self.ws();
                if self.peek() == b']' {
                    self.pos += 1;
                } else {
                    // Arrays of small integers (the `bytes` of every token) are the most
                    // common value skipped: checked 16 bytes at a time, or read by a tight
                    // loop, while they are plain.
                    if let Some(end) = scan::int_array_end(self.b, self.pos, self.vector) {
                        self.pos = end;
                    } else if !self.skip_plain_ints() {
                        loop {
                            self.skip()?;
                            if self.after_item(b']')? {
                                break;
                            }
                        }
                    }
                }
                self.depth -= 1;
                Ok(())
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' | b'N' | b'I' => self.number_text().map(|_| ()),
            _ => Err(self.syntax("expected a value")),
        }
    }

    /// Skips the rest of an array (the cursor on its first element) when it holds only
    /// non-negative integers without leading zeros, separated by ',' and spaces, and returns
    /// true; otherwise leaves the cursor at the first element it cannot take that way (an
    /// element boundary) and returns false, for the general loop to go on from there.
    #[inline(always)]
    fn skip_plain_ints(&mut self) -> bool {
        let b = self.b;
        let mut i = self.pos;
        loop {
            // The cursor is at the start of an element.
            let start = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == start || (b[start] == b'0' && i - start > 1) {
                // Not a plain integer (or a newline before it): the general loop reads on.
                self.pos = start;
                self.ws();
                return false;
            }
            while b.get(i) == Some(&b' ') {
                i += 1;
            }
            match b.get(i) {
                Some(b',') => {
                    i += 1;
                    while b.get(i) == Some(&b' ') {
                        i += 1;
                    }
                }
                Some(b']') => {
                    self.pos = i + 1;
                    return true;
                }
                // A fraction, an exponent, another kind of whitespace: the general loop
                // re-reads this element.
                _ => {
                    self.pos = start;
                    return false;
                }
            }
        }
    }

    /// Whitespace, ':' and whitespace between a key and its value.
    #[inline(always)]
    fn colon(&mut self) -> Result<(), ReadError> {
        // The common layouts put no space or one space around the colon.
        if self.peek() == b':' {
            self.pos += 1;
        } else {
            self.ws();
            if self.peek() != b':' {
                return Err(self.syntax("expected ':'"));
            }
            self.pos += 1;
        }
        self.ws();
        Ok(())
    }

    /// After a member of an object or array: true at its `close`, false at a ',' (the cursor then
    /// on the next member).
    #[inline(always)]
    fn after_item(&mut self, close: u8) -> Result<bool, ReadError> {
        self.ws();
        let c = self.peek();
        self.pos += 1;
        if c == b',' {
            self.ws();
            if self.peek() == close {
                return Err(self.syntax("a trailing comma"));
            }
            Ok(false)
        } else if c == close {
            Ok(true)
        } else {
            self.pos -= 1;
            Err(self.syntax(if close == b'}' {
                "expected ',' or '}'"
            } else {
                "expected ',' or ']'"
            }))
        }
    }
}

impl Body<'_> {
    fn wrong(&self, want: &str) -> ReadError {
        match self.kind() {
            Kind::Invalid => self.syntax("expected a value"),
            k => ReadError::invalid(format!("expected {want}, got {}", k.name())),
        }
    }
}

impl Node for Body<'_> {
    type Text = Span;

    #[inline(always)]
    fn kind(&self) -> Kind {
        match self.peek() {
            b'{' => Kind::Object,
            b'[' => Kind::Array,
            b'"' => Kind::String,
            b't' | b'f' => Kind::Bool,
            b'n' => Kind::Null,
            b'-' | b'0'..=b'9' | b'N' | b'I' => Kind::Number,
            _ => Kind::Invalid,
        }
    }

    fn fields(&mut self, mut f: impl FnMut(&[u8], &Span, &mut Self) -> Result<(), ReadError>) -> Result<(), ReadError> {
        if self.peek() != b'{' {
            return Err(self.wrong("an object"));
        }
        self.enter()?;
        self.pos += 1;
        self.ws();
        if self.peek() == b'}' {
            self.pos += 1;
            self.depth -= 1;
            return Ok(());
        }
        let b = self.b;
        loop {
            let decoded: String;
            if self.peek() != b'"' {
                return Err(self.syntax("expected a key"));
            }
            let (span, escaped) = self.string()?;
            let name: &[u8] = if escaped {
                decoded = span.decode(b)?;
                decoded.as_bytes()
            } else {
                span.raw(b)
            };
            self.colon()?;
            let at = self.pos;
            f(name, &span, self).map_err(|e| e.in_field(name))?;
            if self.pos == at {
                self.skip().map_err(|e| e.in_field(name))?;
            }
            if self.after_item(b'}')? {
                break;
            }
        }
        self.depth -= 1;
        Ok(())
    }

    fn pick(
        &mut self,
        names: &[&'static str],
        mut f: impl FnMut(usize, &mut Self) -> Result<(), ReadError>,
    ) -> Result<(), ReadError> {
        if self.peek() != b'{' {
            return Err(self.wrong("an object"));
        }
        self.enter()?;
        self.pos += 1;
        self.ws();
        if self.peek() == b'}' {
            self.pos += 1;
            self.depth -= 1;
            return Ok(());
        }
        let b = self.b;
        // Servers write the members of every entry in the same order: the name after the last
        // one found is tried first.
        let mut guess = 0;
        loop {
            if self.peek() != b'"' {
                return Err(self.syntax("expected a key"));
            }
            let (which, name) = match self.predicted_key(names, guess) {
                Some(j) => (Some(j), names[j].as_bytes()),
                None => {
                    let (span, escaped) = self.string()?;
                    let name: Cow<'_, [u8]> = if escaped {
                        Cow::Owned(span.decode(b)?.into_bytes())
                    } else {
                        Cow::Borrowed(span.raw(b))
                    };
                    match names.iter().position(|n| n.as_bytes() == &*name) {
                        Some(j) => (Some(j), names[j].as_bytes()),
                        None => {
                            self.colon()?;
                            self.skip().map_err(|e| e.in_field(&name))?;
                            if self.after_item(b'}')? {
                                break;
                            }
                            continue;
                        }
                    }
                }
            };
            let Some(j) = which else { unreachable!() };
            guess = if j + 1 == names.len() { 0 } else { j + 1 };
            self.colon()?;
            let at = self.pos;
            f(j, self).map_err(|e| e.in_field(name))?;
            if self.pos == at {
                self.skip().map_err(|e| e.in_field(name))?;
            }
            if self.after_item(b'}')? {
                break;
            }
        }
        self.depth -= 1;
        Ok(())
    }

    fn plain_top_list(&mut self, want_token: bool, take: impl TakeTop<Span>) -> bool {
        // The list, its entries and their `bytes` nest three levels below the cursor.
        if !self.shortcuts || self.peek() != b'[' || self.depth + 3 > MAX_DEPTH {
            return false;
        }
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: `avx2` is set only where the CPU runs AVX2 (`Body::at_level`).
            return unsafe { self.plain_top_list_avx2(want_token, take) };
        }
        self.plain_top_list_with(scan::Baseline(self.vector), want_token, take)
    }

    fn plain_content_entry(
        &mut self,
        want_token: bool,
        chosen: impl FnOnce(Option<Span>, f64) -> bool,
        top: impl TakeTop<Span>,
    ) -> bool {
        // The entry, its list, the list's entries and their `bytes` nest four levels below the
        // cursor.
        if !self.shortcuts || self.peek() != b'{' || self.depth + 4 > MAX_DEPTH {
            return false;
        }
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: `avx2` is set only where the CPU runs AVX2 (`Body::at_level`).
            return unsafe { self.plain_content_entry_avx2(want_token, chosen, top) };
        }
        self.plain_content_entry_with(scan::Baseline(self.vector), want_token, chosen, top)
    }

    #[inline(always)]
    fn offset(&self) -> Option<(usize, usize)> {
        Some((self.pos, self.b.len()))
    }

    fn plain_top_entry(&mut self, want_token: bool) -> Option<(Option<Span>, f64)> {
        if !self.shortcuts {
            return None;
        }
        let start = self.pos;
        let read = self.plain_top_entry_here();
        if read.is_none() {
            self.pos = start;
        }
        read.map(|(token, lp)| (want_token.then_some(token), lp))
    }

    fn items(&mut self, mut f: impl FnMut(usize, &mut Self) -> Result<(), ReadError>) -> Result<(), ReadError> {
        if self.peek() != b'[' {
            return Err(self.wrong("a list"));
        }
        self.enter()?;
        self.pos += 1;
        self.ws();
        if self.peek() == b']' {
            self.pos += 1;
            self.depth -= 1;
            return Ok(());
        }
        let mut i = 0;
        loop {
            let at = self.pos;
            f(i, self).map_err(|e| e.at(i))?;
            if self.pos == at {
                self.skip().map_err(|e| e.at(i))?;
            }
            i += 1;
            if self.after_item(b']')? {
                break;
            }
        }
        self.depth -= 1;
        Ok(())
    }

    fn number(&mut self) -> Result<Option<f64>, ReadError> {
        match self.peek() {
            b'n' => self.literal(b"null").map(|()| None),
            b'-' | b'0'..=b'9' => {
                // The form logprobs take (`-0.0123456`, no exponent, ≤ 19 digits): one pass.
                if self.shortcuts {
                    if let Some((v, n)) = number::plain_decimal(&self.b[self.pos..]) {
                        self.pos += n;
                        return Ok(Some(v));
                    }
                }
                // Else one pass too: the float parser reads the number and says where it ends; the text
                // it took is then checked against JSON's grammar (no '+', no leading zeros, a
                // digit after the point) — anything else takes the checked path below.
                let rest = &self.b[self.pos..];
                if let Ok((v, n)) = fast_float2::parse_partial::<f64, _>(rest) {
                    if json_number(&rest[..n]) {
                        self.pos += n;
                        return Ok(Some(v));
                    }
                }
                self.number_checked()
            }
            b'N' | b'I' => self.number_checked(),
            _ => Err(self.wrong("a number")),
        }
    }

    #[inline(always)]
    fn text(&mut self) -> Result<Span, ReadError> {
        if self.peek() != b'"' {
            return Err(self.wrong("a string"));
        }
        self.string().map(|(s, _)| s)
    }
}

impl Body<'_> {
    /// [`Node::plain_top_list`] with `kernels` (the cursor on the list's `[`, the depth checked).
    #[inline(always)]
    fn plain_top_list_with<S: Scan>(&mut self, kernels: S, want_token: bool, take: impl TakeTop<Span>) -> bool {
        let start = self.pos;
        self.pos += 1;
        self.ws();
        if self.peek() == b']' {
            self.pos += 1;
            return true;
        }
        // Servers write every entry of a body in one layout: the first entry's is expected of all
        // (an entry in another still reads, by the general one-step reading).
        self.by_layout(
            start,
            TopEntries {
                kernels,
                want_token,
                take,
            },
        )
    }

    /// `reading` in the layout of the entry under the cursor: `json.dumps`'s separators when
    /// byte 9 of its `{"token": "` is the space after the colon, else the compact one. On
    /// `false` the cursor goes back to `restore`.
    #[inline(always)]
    fn by_layout(&mut self, restore: usize, reading: impl InLayout) -> bool {
        let read = if self.b.get(self.pos + 9) == Some(&b' ') {
            reading.read::<true>(self)
        } else {
            reading.read::<false>(self)
        };
        if !read {
            self.pos = restore;
        }
        read
    }

    /// The entries of a `top_logprobs` list from the first (under the cursor) to the list's `]`,
    /// each read by [`top_entry_in_layout`] in the layout `SPACED` says (the separator the
    /// layout writes, `", "` or `","`, with the entry after it: [`Scan::next_top_entry_quick`],
    /// else [`Scan::next_top_entry`]), else
    /// by the whitespace loop and [`Body::plain_top_entry_here`]; the position kept in a local
    /// between them. The entries go to `take` a batch at a time ([`TakeTop::take_all`]), held
    /// until then in a [`Batch`]. `false` at the first entry neither reads or `take` refuses
    /// (the cursor then anywhere).
    #[inline(always)]
    fn plain_top_entries<const SPACED: bool, S: Scan>(
        &mut self,
        kernels: S,
        want_token: bool,
        mut take: impl TakeTop<Span>,
    ) -> bool {
        let b = self.b;
        let mut batch = Batch::new();
        let mut i = self.pos;
        loop {
            // An entry at `b[i]`, after the list's `[` or a separator.
            let (token, lp) = match kernels.top_entry::<SPACED>(b, i) {
                Some((token, lp, end)) => {
                    i = end;
                    (token, lp)
                }
                None => {
                    self.pos = i;
                    let Some(read) = self.plain_top_entry_gave_way() else {
                        return false;
                    };
                    i = self.pos;
                    read
                }
            };
            if !batch.push(token, lp, &mut take, want_token) {
                return false;
            }
            // The entries after it, each with the separator before it.
            loop {
                let (token, lp, end) = match kernels.next_top_entry_quick::<SPACED>(b, i) {
                    Some(read) => read,
                    None => match kernels.next_top_entry::<SPACED>(b, i) {
                        Some(read) => read,
                        None => break,
                    },
                };
                i = end;
                if !batch.push(token, lp, &mut take, want_token) {
                    return false;
                }
            }
            if b.get(i) == Some(&b']') {
                self.pos = i + 1;
                break;
            }
            // A separator with other whitespace, or before an entry out of the form.
            self.pos = i;
            self.ws();
            match self.peek() {
                b',' => {
                    self.pos += 1;
                    self.ws();
                    i = self.pos;
                }
                b']' => {
                    self.pos += 1;
                    break;
                }
                _ => return false,
            }
        }
        batch.finish(&mut take, want_token)
    }

    /// [`Node::plain_content_entry`] with `kernels` (the cursor on the entry's `{`, the depth
    /// checked), in the layout its first member's separator says.
    #[inline(always)]
    fn plain_content_entry_with<S: Scan>(
        &mut self,
        kernels: S,
        want_token: bool,
        chosen: impl FnOnce(Option<Span>, f64) -> bool,
        top: impl TakeTop<Span>,
    ) -> bool {
        let reading = ContentEntry {
            kernels,
            want_token,
            chosen,
            top,
        };
        self.by_layout(self.pos, reading)
    }

    /// A `content` entry in the layout `SPACED` says: its head ([`Scan::entry_head`]), then
    /// `, "top_logprobs": [` and the list ([`Body::plain_top_list_with`]), then its `}`. `false`
    /// at the first byte out of this form (the cursor then anywhere).
    #[inline(always)]
    fn content_entry_in_layout<const SPACED: bool, S: Scan>(
        &mut self,
        kernels: S,
        want_token: bool,
        chosen: impl FnOnce(Option<Span>, f64) -> bool,
        top: impl TakeTop<Span>,
    ) -> bool {
        let b = self.b;
        let Some((token, lp, i)) = kernels.entry_head::<SPACED>(b, self.pos) else {
            return false;
        };
        let list = if SPACED {
            lit(b, i, b", \"top_logprobs\": [")
        } else {
            lit(b, i, b",\"top_logprobs\":[")
        };
        if !list || !chosen(want_token.then_some(token), lp) {
            return false;
        }
        // The cursor on the list's `[`, one level down (inside the entry).
        self.pos = i + if SPACED { 18 } else { 16 };
        self.depth += 1;
        let read = self.plain_top_list_with(kernels, want_token, top);
        self.depth -= 1;
        read && self.eat(b"}")
    }

    /// [`Body::plain_content_entry_with`] with the AVX2 kernels, compiled for AVX2.
    ///
    /// # Safety
    /// The CPU runs AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn plain_content_entry_avx2(
        &mut self,
        want_token: bool,
        chosen: impl FnOnce(Option<Span>, f64) -> bool,
        top: impl TakeTop<Span>,
    ) -> bool {
        // SAFETY: the caller checked AVX2.
        let kernels = unsafe { scan::Avx2::assume() };
        self.plain_content_entry_with(kernels, want_token, chosen, top)
    }

    /// [`Body::plain_top_list_with`] with the AVX2 kernels, compiled for AVX2.
    ///
    /// # Safety
    /// The CPU runs AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn plain_top_list_avx2(&mut self, want_token: bool, take: impl TakeTop<Span>) -> bool {
        // SAFETY: the caller checked AVX2.
        let kernels = unsafe { scan::Avx2::assume() };
        self.plain_top_list_with(kernels, want_token, take)
    }
}

impl Body<'_> {
    /// The literal `lit` under the cursor, passed over (a constant length: compared inline).
    #[inline(always)]
    fn eat<const N: usize>(&mut self, lit: &[u8; N]) -> bool {
        match self.b.get(self.pos..self.pos + N) {
            Some(s) if s == lit => {
                self.pos += N;
                true
            }
            _ => false,
        }
    }

    /// One optional space (the separators' layouts servers write: `", "` and `": "`, or none).
    #[inline(always)]
    fn space(&mut self) {
        if self.peek() == b' ' {
            self.pos += 1;
        }
    }

    /// [`Body::plain_top_entry_here`] out of line: where the kernels of a loop over entries
    /// give way (the loop then holds none of its code).
    #[cold]
    #[inline(never)]
    fn plain_top_entry_gave_way(&mut self) -> Option<(Span, f64)> {
        self.plain_top_entry_here()
    }

    /// [`Node::plain_top_entry`]'s reading, the cursor left wherever it stopped on `None`.
    #[inline(always)]
    fn plain_top_entry_here(&mut self) -> Option<(Span, f64)> {
        // The entry and its `bytes` list nest two levels below the cursor.
        if self.depth + 2 > MAX_DEPTH || !self.eat(b"{\"token\":") {
            return None;
        }
        self.space();
        if self.peek() != b'"' {
            return None;
        }
        let (token, _) = self.string().ok()?;
        if !self.eat(b",") {
            return None;
        }
        self.space();
        if !self.eat(b"\"logprob\":") {
            return None;
        }
        self.space();
        let (lp, used) = number::plain_decimal(&self.b[self.pos..])?;
        self.pos += used;
        // `bytes` is optional (several servers leave it out).
        if self.eat(b"}") {
            return Some((token, lp));
        }
        if !self.eat(b",") {
            return None;
        }
        self.space();
        if !self.eat(b"\"bytes\":") {
            return None;
        }
        self.space();
        if self.peek() == b'[' {
            match scan::int_array_end(self.b, self.pos + 1, self.vector) {
                Some(end) => self.pos = end,
                None => {
                    self.depth += 1;
                    let skipped = self.skip();
                    self.depth -= 1;
                    skipped.ok()?;
                }
            }
        } else if !self.eat(b"null") {
            return None;
        }
        self.eat(b"}").then_some((token, lp))
    }

    /// The key under the cursor (at its opening quote), when it is spelled exactly as one of
    /// `names` (tried from `guess` on): the cursor moves past its closing quote. Names hold no
    /// quote or backslash, so the raw bytes and the closing quote identify the key; a key
    /// written with escapes is left to the general path.
    #[inline(always)]
    fn predicted_key(&mut self, names: &[&'static str], guess: usize) -> Option<usize> {
        if !self.shortcuts {
            return None;
        }
        let at = self.pos + 1;
        for t in 0..names.len() {
            let j = if guess + t >= names.len() {
                guess + t - names.len()
            } else {
                guess + t
            };
            let n = names[j].as_bytes();
            debug_assert!(!n.contains(&b'"') && !n.contains(&b'\\'));
            // The closing quote first (it tells most names apart), then the bytes, compared
            // inline (a library `memcmp` call costs more than these few bytes).
            if self.b.get(at + n.len()) == Some(&b'"') && self.b[at..at + n.len()].iter().zip(n).all(|(a, b)| a == b) {
                self.pos = at + n.len() + 1;
                return Some(j);
            }
        }
        None
    }
}

/// The end of the JSON string whose first byte (after its opening quote) is at `start`: the index
/// of its closing quote and whether it holds escapes (each checked), or where and why it is
/// malformed.
#[inline(always)]
pub(super) fn string_end<S: Scan>(b: &[u8], start: usize, kernels: S) -> Result<(usize, bool), (usize, &'static str)> {
    let mut i = start;
    let mut escaped = false;
    loop {
        // Straight to the first quote, backslash or control character.
        i = kernels.string_stop(b, i);
        match b.get(i) {
            None => return Err((b.len(), "an unterminated string")),
            Some(b'"') => return Ok((i, escaped)),
            Some(b'\\') => {
                escaped = true;
                match b.get(i + 1) {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                    // A character outside the surrogates (most escapes): its digits alone.
                    Some(b'u') if hex4(b, i + 2).is_some_and(|c| !(0xD800..0xE000).contains(&c)) => i += 6,
                    Some(b'u') => match unicode_escape(b, i) {
                        Ok((_, used)) => i += used,
                        Err(e) => return Err((i, e)),
                    },
                    _ => return Err((i, "an invalid escape in a string")),
                }
            }
            Some(_) => return Err((i, "a control character inside a string")),
        }
    }
}

/// The top entries read and not yet handed over ([`Body::plain_top_entries`]): a row of
/// top-20 goes in one batch. Its arrays start unwritten (no memset a row): the first `n` of
/// each are written.
struct Batch {
    tokens: [MaybeUninit<Span>; Batch::SIZE],
    lps: [MaybeUninit<f64>; Batch::SIZE],
    n: usize,
}

impl Batch {
    const SIZE: usize = 32;

    #[inline(always)]
    fn new() -> Self {
        Self {
            tokens: [MaybeUninit::uninit(); Batch::SIZE],
            lps: [MaybeUninit::uninit(); Batch::SIZE],
            n: 0,
        }
    }

    /// Holds an entry; a full batch goes to `take` (`false` where it refuses).
    #[inline(always)]
    fn push(&mut self, token: Span, lp: f64, take: &mut impl TakeTop<Span>, want_token: bool) -> bool {
        // (The index masked: no bounds check.)
        let j = self.n % Batch::SIZE;
        self.tokens[j].write(token);
        self.lps[j].write(lp);
        self.n = j + 1;
        if self.n < Batch::SIZE {
            return true;
        }
        self.n = 0;
        self.hand_over(Batch::SIZE, take, want_token)
    }

    /// The entries held go to `take`.
    #[inline(always)]
    fn finish(&self, take: &mut impl TakeTop<Span>, want_token: bool) -> bool {
        self.hand_over(self.n.min(Batch::SIZE), take, want_token)
    }

    /// The first `n` entries (n ≤ SIZE, all written) go to `take`.
    #[inline(always)]
    fn hand_over(&self, n: usize, take: &mut impl TakeTop<Span>, want_token: bool) -> bool {
        let (tokens, lps) = (&self.tokens[..n], &self.lps[..n]);
        // SAFETY: the first `n` of each array were written (`push` writes index j before it
        // counts j + 1; `n` is at most that count), and `MaybeUninit<T>` has `T`'s layout.
        let (tokens, lps) = unsafe {
            (
                std::slice::from_raw_parts(tokens.as_ptr().cast::<Span>(), n),
                std::slice::from_raw_parts(lps.as_ptr().cast::<f64>(), n),
            )
        };
        take.take_all(tokens, lps, want_token)
    }
}

/// A reading instanced for each of the two layouts servers write ([`Body::by_layout`] picks
/// one). A trait rather than closures: its `#[inline(always)]` instances inline into the AVX2
/// entry points, where a closure, compiled without AVX2, would call every kernel out of line.
trait InLayout {
    fn read<const SPACED: bool>(self, body: &mut Body<'_>) -> bool;
}

/// [`Body::plain_top_entries`]'s arguments.
struct TopEntries<S, F> {
    kernels: S,
    want_token: bool,
    take: F,
}

impl<S: Scan, F: TakeTop<Span>> InLayout for TopEntries<S, F> {
    #[inline(always)]
    fn read<const SPACED: bool>(self, body: &mut Body<'_>) -> bool {
        body.plain_top_entries::<SPACED, S>(self.kernels, self.want_token, self.take)
    }
}

/// [`Body::content_entry_in_layout`]'s arguments.
struct ContentEntry<S, C, F> {
    kernels: S,
    want_token: bool,
    chosen: C,
    top: F,
}

impl<S: Scan, C: FnOnce(Option<Span>, f64) -> bool, F: TakeTop<Span>> InLayout for ContentEntry<S, C, F> {
    #[inline(always)]
    fn read<const SPACED: bool>(self, body: &mut Body<'_>) -> bool {
        body.content_entry_in_layout::<SPACED, S>(self.kernels, self.want_token, self.chosen, self.top)
    }
}

/// Whether `b[i..]` starts with `lit` (a constant length: compared inline).
#[inline(always)]
pub(super) fn lit<const N: usize>(b: &[u8], i: usize, lit: &[u8; N]) -> bool {
    b.get(i..i + N).is_some_and(|s| s == lit)
}

/// A `top_logprobs` entry from its opening brace at `b[i]` in one of the two layouts servers
/// write: every separator `", "` and `": "` (`SPACED`, as Python's `json.dumps` writes them) or
/// `","` and `":"`; `{"token": "…", "logprob": -0.25, "bytes": [32, 119]}`, its `bytes` also
/// `null` or absent. Read by [`entry_head_in_layout`] and the closing brace: its token, its
/// logprob as written and the index after its closing brace. `None` for anything else
/// ([`Body::plain_top_entry_here`] then reads the entry: it takes all this does, and more, to
/// the same values). The caller checks the depth.
#[inline(always)]
pub(super) fn top_entry_in_layout<const SPACED: bool, S: Scan>(
    b: &[u8],
    i: usize,
    kernels: S,
) -> Option<(Span, f64, usize)> {
    let (token, lp, i) = entry_head_in_layout::<SPACED, S>(b, i, kernels)?;
    (b.get(i) == Some(&b'}')).then_some((token, lp, i + 1))
}

/// The members every entry of a chat completion starts with (a `top_logprobs` entry, and a
/// `content` entry before its `top_logprobs`), from the entry's opening brace at `b[i]`, in the
/// layout `SPACED` says ([`top_entry_in_layout`]): `{"token": "…", "logprob": -0.25`, then
/// `, "bytes": [32, 119]` (a plain list), `, "bytes": null` or neither. Read by a few constant
/// comparisons, the token's span, the number and the end of the plain `bytes` list: the token,
/// the logprob as written and the index after the last value read (where the entry's `}` or its
/// next member stands). `None` at the first byte out of this form.
#[inline(always)]
pub(super) fn entry_head_in_layout<const SPACED: bool, S: Scan>(
    b: &[u8],
    i: usize,
    kernels: S,
) -> Option<(Span, f64, usize)> {
    let open = if SPACED { 11 } else { 10 };
    let start = i + open;
    let layout = if SPACED {
        lit(b, i, b"{\"token\": \"")
    } else {
        lit(b, i, b"{\"token\":\"")
    };
    if !layout {
        return None;
    }
    let (end, _) = string_end(b, start, kernels).ok()?;
    // the body is at most 4 GiB
    let token = Span {
        start: start as u32,
        end: end as u32,
    };
    let mut i = end + 1;
    let key = if SPACED {
        lit(b, i, b", \"logprob\": ")
    } else {
        lit(b, i, b",\"logprob\":")
    };
    if !key {
        return None;
    }
    i += if SPACED { 13 } else { 11 };
    let (lp, used) = number::plain_decimal_with(b.get(i..)?, kernels)?;
    i += used;
    let list = if SPACED {
        lit(b, i, b", \"bytes\": [")
    } else {
        lit(b, i, b",\"bytes\":[")
    };
    if list {
        i = kernels.int_list_end::<SPACED>(b, i + if SPACED { 12 } else { 10 })?;
    } else if SPACED && lit(b, i, b", \"bytes\": null") {
        i += 15;
    } else if !SPACED && lit(b, i, b",\"bytes\":null") {
        i += 13;
    }
    Some((token, lp, i))
}

/// Whether `t` (a prefix a float parser accepted) is a number in JSON's grammar: an optional
/// '-', an integer part without leading zeros, a fraction with at least one digit. (The parser
/// takes an exponent only with digits, and never a '+' sign or a word once the first two
/// characters are checked.)
#[inline(always)]
fn json_number(t: &[u8]) -> bool {
    let mut i = usize::from(t.first() == Some(&b'-'));
    let start = i;
    while t.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    if i == start || (t[start] == b'0' && i - start > 1) {
        return false;
    }
    t.get(i) != Some(&b'.') || t.get(i + 1).is_some_and(u8::is_ascii_digit)
}

impl Body<'_> {
    /// A number read with the grammar checked first (the errors' path, and NaN / ±Infinity).
    fn number_checked(&mut self) -> Result<Option<f64>, ReadError> {
        match self.peek() {
            b'-' | b'0'..=b'9' | b'N' | b'I' => {
                let text = self.number_text()?;
                match text {
                    b"NaN" => Err(ReadError::invalid("NaN is not a logprob")),
                    b"Infinity" => Ok(Some(f64::INFINITY)),
                    b"-Infinity" => Ok(Some(f64::NEG_INFINITY)),
                    _ => fast_float2::parse::<f64, _>(text)
                        .map(Some)
                        .map_err(|_| ReadError::invalid("a malformed number")),
                }
            }
            _ => Err(self.wrong("a number")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(s: &str) -> Result<Option<f64>, ReadError> {
        let mut b = Body::new(s.as_bytes()).unwrap();
        let v = b.root().number()?;
        b.finish()?;
        Ok(v)
    }

    #[test]
    fn numbers_follow_the_json_grammar_and_round_correctly() {
        assert_eq!(number("-0.31326168775558472").unwrap(), Some(-0.313_261_687_755_584_7));
        assert_eq!(number("-1.2e-5").unwrap(), Some(-1.2e-5));
        assert_eq!(number("0").unwrap(), Some(0.0));
        assert_eq!(number("-9999").unwrap(), Some(-9999.0));
        assert_eq!(number("null").unwrap(), None);
        assert_eq!(number("-Infinity").unwrap(), Some(f64::NEG_INFINITY));
        assert_eq!(number("-1E-2").unwrap(), Some(-0.01));
        assert_eq!(number("1.5e+3").unwrap(), Some(1500.0));
        assert_eq!(number("-0.0").unwrap().map(f64::to_bits), Some((-0.0f64).to_bits()));
        for bad in [
            "01", "1.", ".5", "-", "1e", "+1", "1e+", "NaN", "nul", "--1", "0x10", "1.5.2",
        ] {
            assert!(number(bad).is_err(), "{bad}");
        }
    }

    fn skip(s: &str) -> Result<(), ReadError> {
        let mut b = Body::new(s.as_bytes())?;
        b.root();
        b.skip()?;
        b.finish()
    }

    #[test]
    fn skipping_checks_syntax_and_depth() {
        for ok in [
            r#"{"a": [1, 2, {"b": "c\"\\\u00e9\ud83d\ude00"}], "d": null}"#,
            "[]",
            "{}",
            " [true,false] ",
            "[1, 2 ,3]",
            "[0]",
            "[1.5, 2]",
            "[1,\n2]",
            "[7, -1, 2e3]",
            "[1, [2]]",
        ] {
            assert!(skip(ok).is_ok(), "{ok}");
        }
        for bad in [
            r#"{"a": 1,}"#,
            "[1,]",
            "[1 2]",
            "[01]",
            "[1, 02]",
            "[1,,2]",
            "[1, 2",
            "[1, 2,",
            r#"{"a" 1}"#,
            r#"{"a": 1"#,
            r#""abc"#,
            r#""\x""#,
            r#""\ud800""#,
            r#""\udc00\ud800""#,
            r#""\u12g4""#,
            "\"a\nb\"",
            "[1] 2",
            "tru",
            "{1: 2}",
        ] {
            assert!(skip(bad).is_err(), "{bad}");
        }
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(skip(&deep).unwrap_err().to_string().contains("nested deeper"));
    }

    #[test]
    fn hex4_reads_exactly_the_hex_digits() {
        // Every word over digits, both cases of letters and their neighbours.
        let alphabet = b"0123456789abcdefABCDEF/:@G`g \x00\xff";
        for &a in alphabet {
            for &b in alphabet {
                for &c in alphabet {
                    for &d in alphabet {
                        let w = [b'x', a, b, c, d];
                        let want = std::str::from_utf8(&w[1..])
                            .ok()
                            .filter(|t| t.bytes().all(|c| c.is_ascii_hexdigit()))
                            .and_then(|t| u32::from_str_radix(t, 16).ok());
                        assert_eq!(hex4(&w, 1), want, "{w:?}");
                    }
                }
            }
        }
        assert_eq!(hex4(b"12", 0), None);
    }

    #[test]
    fn strings_decode_escapes_and_pairs() {
        let src = r#""a\"b\\c\/\n\u00e9\ud83d\ude00 x""#;
        let mut b = Body::new(src.as_bytes()).unwrap();
        let span = b.root().text().unwrap();
        assert_eq!(span.decode(src.as_bytes()).unwrap(), "a\"b\\c/\n\u{e9}\u{1F600} x");
        // Every split point of the eight-byte scan finds the same end.
        for n in 0..40 {
            let s = format!("\"{}\"", "é".repeat(n));
            let mut b = Body::new(s.as_bytes()).unwrap();
            let span = b.root().text().unwrap();
            assert_eq!(span.decode(s.as_bytes()).unwrap(), "é".repeat(n));
        }
    }
}
