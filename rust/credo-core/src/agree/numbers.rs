//! Finding numbers in answers and writing them canonically ("1,000" → "1000", "3.50" → "3.5",
//! "-0" → "0", "½" → "0.5", "1/4" → "0.25"): a char-level scanner for any text and a byte-level
//! twin for the ASCII shortcut, kept in agreement by the normalisation tests.

use super::normalize::vulgar_value;

/// A number found in text: its byte span and canonical value.
#[derive(Clone, Debug, PartialEq)]
pub struct NumberToken {
    pub start: usize,
    pub end: usize,
    pub negative: bool,
    /// Integer digits without leading zeros ("0" for none).
    pub int: String,
    /// Fraction digits without trailing zeros.
    pub frac: String,
    /// Set for fractions ("½", "1/4", "1½"), whose canonical form is the shortest float text.
    pub ratio: Option<f64>,
}

impl NumberToken {
    /// The numeric value (for the `numeric` comparison).
    #[must_use]
    pub fn value(&self) -> f64 {
        if let Some(r) = self.ratio {
            return r;
        }
        let text = if self.frac.is_empty() {
            self.int.clone()
        } else {
            format!("{}.{}", self.int, self.frac)
        };
        let v: f64 = text.parse().unwrap_or(f64::NAN);
        if self.negative {
            -v
        } else {
            v
        }
    }

    pub(super) fn write_canonical(&self, out: &mut String, minus: char, point: char) {
        if let Some(r) = self.ratio {
            let r = if r == 0.0 { 0.0 } else { r }; // no "-0"
            for c in format!("{r}").chars() {
                out.push(match c {
                    '-' => minus,
                    '.' => point,
                    c => c,
                });
            }
            return;
        }
        let zero = self.int == "0" && self.frac.is_empty();
        if self.negative && !zero {
            out.push(minus);
        }
        out.push_str(&self.int);
        if !self.frac.is_empty() {
            out.push(point);
            out.push_str(&self.frac);
        }
    }
}

fn is_word_char(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || vulgar_value(c).is_some())
}

/// Scans `text` for numbers: an optional sign, digits with optional thousands commas ("1,000"), an
/// optional decimal part, then optionally "/digits" (a ratio) or a tagged vulgar fraction. A number
/// must not start inside a word ("covid19" is left alone). Returns the tokens in order.
#[must_use]
pub fn scan_numbers(text: &str) -> Vec<NumberToken> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let scanner = Scanner {
        chars: &chars,
        len: text.len(),
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let prev = if i == 0 { None } else { scanner.at(i - 1) };
        if !is_word_char(prev) {
            if let Some((tok, next)) = scanner.number(i) {
                out.push(tok);
                i = next;
                continue;
            }
        }
        i += 1;
    }
    out
}

struct Scanner<'a> {
    chars: &'a [(usize, char)],
    len: usize,
}

impl Scanner<'_> {
    fn at(&self, i: usize) -> Option<char> {
        self.chars.get(i).map(|&(_, c)| c)
    }
    fn digit(&self, i: usize) -> bool {
        self.at(i).is_some_and(|c| c.is_ascii_digit())
    }
    fn byte(&self, i: usize) -> usize {
        self.chars.get(i).map_or(self.len, |&(b, _)| b)
    }
    fn digits(&self, mut i: usize, into: &mut String) -> usize {
        while let Some(c) = self.at(i).filter(char::is_ascii_digit) {
            into.push(c);
            i += 1;
        }
        i
    }

    fn number(&self, start: usize) -> Option<(NumberToken, usize)> {
        let mut i = start;
        let mut negative = false;
        if let Some(c @ ('-' | '+' | '\u{2212}')) = self.at(i) {
            negative = c != '+';
            i += 1;
        }
        let token = |negative, int: String, frac: String, ratio: Option<f64>, end: usize| {
            let trimmed = int.trim_start_matches('0');
            let int = if trimmed.is_empty() {
                "0".to_string()
            } else {
                trimmed.to_string()
            };
            let frac = frac.trim_end_matches('0').to_string();
            let ratio = ratio.map(|r| if negative { -r } else { r });
            (
                NumberToken {
                    start: self.byte(start),
                    end: self.byte(end),
                    negative,
                    int,
                    frac,
                    ratio,
                },
                end,
            )
        };
        // A lone vulgar fraction ("½", "-½").
        if let Some(v) = self.at(i).and_then(vulgar_value) {
            return Some(token(negative, String::new(), String::new(), Some(v), i + 1));
        }
        let mut int = String::new();
        i = self.digits(i, &mut int);
        // Thousands groups: a comma followed by exactly three digits.
        if !int.is_empty() {
            while self.at(i) == Some(',')
                && self.digit(i + 1)
                && self.digit(i + 2)
                && self.digit(i + 3)
                && !self.digit(i + 4)
            {
                i = self.digits(i + 1, &mut int);
            }
        }
        let mut frac = String::new();
        if self.at(i) == Some('.') && self.digit(i + 1) {
            i = self.digits(i + 1, &mut frac);
        }
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        if frac.is_empty() {
            let whole: f64 = int.parse().unwrap_or(f64::NAN);
            if let Some(v) = self.at(i).and_then(vulgar_value) {
                return Some(token(negative, int, frac, Some(whole + v), i + 1));
                // "1½" = 1.5
            }
            if matches!(self.at(i), Some('/' | '\u{2044}')) && self.digit(i + 1) {
                let mut den = String::new();
                let j = self.digits(i + 1, &mut den);
                let d: f64 = den.parse().unwrap_or(0.0);
                if d != 0.0 && !matches!(self.at(j), Some('.' | '/')) {
                    return Some(token(negative, int, frac, Some(whole / d), j));
                }
            }
        }
        Some(token(negative, int, frac, None, i))
    }
}

/// The value of the last number in `text` (the self-consistency convention for free-form
/// answers: "the answer is 42" → 42), or `None` when it holds no number.
#[must_use]
pub fn last_number(text: &str) -> Option<f64> {
    scan_numbers(text).last().map(NumberToken::value)
}

/// Byte-level twin of `Scanner::number` for ASCII words: writes the canonical number starting at
/// `start` into `out` and returns where it ends, or `None` (writing nothing) when none starts here.
pub(super) fn ascii_number(w: &[u8], start: usize, out: &mut Vec<u8>) -> Option<usize> {
    let digit = |i: usize| w.get(i).is_some_and(u8::is_ascii_digit);
    let digits_end = |mut i: usize| {
        while digit(i) {
            i += 1;
        }
        i
    };
    let mut i = start;
    let negative = matches!(w.get(i), Some(b'-' | b'+'));
    let negative = if negative {
        i += 1;
        w[start] == b'-'
    } else {
        false
    };
    let int_start = i;
    i = digits_end(i);
    if i > int_start {
        while w.get(i) == Some(&b',') && digit(i + 1) && digit(i + 2) && digit(i + 3) && !digit(i + 4) {
            i += 4;
        }
    }
    let int_end = i;
    let (mut frac_start, mut frac_end) = (i, i);
    if w.get(i) == Some(&b'.') && digit(i + 1) {
        frac_start = i + 1;
        frac_end = digits_end(frac_start);
        i = frac_end;
    }
    if int_end == int_start && frac_end == frac_start {
        return None;
    }
    let int_digits = || w[int_start..int_end].iter().copied().filter(|&b| b != b',');
    if frac_end == frac_start && w.get(i) == Some(&b'/') && digit(i + 1) {
        let j = digits_end(i + 1);
        let den: f64 = std::str::from_utf8(&w[i + 1..j]).ok()?.parse().ok()?;
        if den != 0.0 && !matches!(w.get(j), Some(b'.' | b'/')) {
            let num: f64 = int_digits().map(char::from).collect::<String>().parse().ok()?;
            let r = if negative { -num / den } else { num / den };
            let r = if r == 0.0 { 0.0 } else { r };
            out.extend_from_slice(format!("{r}").as_bytes());
            return Some(j);
        }
    }
    let lead = int_digits().take_while(|&b| b == b'0').count();
    let int_len = int_digits().count();
    let frac = &w[frac_start..frac_end];
    let frac = &frac[..frac.len() - frac.iter().rev().take_while(|&&b| b == b'0').count()];
    if negative && !(lead == int_len && frac.is_empty()) {
        out.push(b'-');
    }
    if lead == int_len {
        out.push(b'0');
    } else {
        out.extend(int_digits().skip(lead));
    }
    if !frac.is_empty() {
        out.push(b'.');
        out.extend_from_slice(frac);
    }
    Some(i)
}
