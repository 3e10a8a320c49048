//! Text handling for evidence matching: tokens with character offsets, citation markers, and the
//! split of an answer into claims (sentences, then clauses).
//!
//! All offsets count Unicode scalar values (Python `str` indices), not bytes.

use std::collections::HashSet;
use std::sync::OnceLock;

/// Function words that carry no claim content (matched claims are judged on the rest).
const STOP_WORDS: &str = "\
    a about above according after again against all also although am among an and any are around as at be \
    because been before being below between both but by can could did do does doing down during each either few \
    for from further had has have having he her here hers herself him himself his how however i if in into is \
    it its itself just may me might more most must my myself neither no nor not now of off on once only or \
    other our ours ourselves out over own per s same shall she should so some such t than that the their theirs \
    them themselves then there therefore these they this those through thus to too under until up upon very via \
    was we were what when where whereas which while who whom whose why will with within without would yes yet \
    you your yours yourself yourselves";

/// Abbreviations whose full stop does not end a sentence.
const ABBREVIATIONS: &str = "\
    al approx apr aug capt co col corp dec dept dr e.g est etc feb fig gen i.e inc jan jr jul jun lt ltd mar mr \
    mrs ms mt no nov oct ph.d prof rev sep sept sgt sr st u.k u.s vs";

/// Conjunctions after a comma that start a new clause (a separately checkable claim).
const CLAUSE_CONJUNCTIONS: &[&str] = &["and", "but", "while", "whereas", "although", "though", "yet", "so"];

fn word_set(words: &'static str) -> HashSet<&'static str> {
    words.split_whitespace().collect()
}

pub fn is_stop_word(w: &str) -> bool {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| word_set(STOP_WORDS)).contains(w)
}

fn is_abbreviation_word(w: &str) -> bool {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| word_set(ABBREVIATIONS)).contains(w)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Word,
    Number,
}

/// One token: its normalised form, kind, character span and whether it looked like a name.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub norm: String,
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
    pub capitalized: bool,
}

/// A `[1]`, `[2, 3]` or `[1-3]` citation marker (1-based passage numbers as written).
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    pub start: usize,
    pub end: usize,
    pub ids: Vec<usize>,
}

/// Light plural folding so "planets" supports "planet" (the only stemming: it never merges
/// unrelated words the way aggressive stemmers do).
fn fold_word(mut w: String) -> String {
    let n = w.len();
    if n > 4 && w.ends_with("ies") {
        w.truncate(n - 3);
        w.push('y');
    } else if n > 3 && w.ends_with('s') && !w.ends_with("ss") && !w.ends_with("us") && !w.ends_with("is") {
        w.truncate(n - 1);
    }
    w
}

/// Lower-cased text of `chars` in one allocation.
fn lower(chars: &[char]) -> String {
    let mut s = String::with_capacity(chars.len());
    for c in chars {
        if c.is_ascii() {
            s.push(c.to_ascii_lowercase());
        } else {
            s.extend(c.to_lowercase());
        }
    }
    s
}

/// Canonical digits of a number token: thousands separators dropped, trailing fractional zeros
/// removed ("1,000.50" → "1000.5", "3.0" → "3").
fn fold_number(raw: &str) -> String {
    let mut s: String = raw.chars().filter(|&c| c != ',').collect();
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    s
}

/// Citation markers in `chars`. Only brackets holding numbers, commas, spaces and ranges count.
pub fn find_markers(chars: &[char]) -> Vec<Marker> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '[' {
            let mut j = i + 1;
            while j < chars.len()
                && j - i <= 64
                && (chars[j].is_ascii_digit() || matches!(chars[j], ',' | ' ' | '-' | '–'))
            {
                j += 1;
            }
            if j < chars.len() && chars[j] == ']' && j > i + 1 {
                let body: String = chars[i + 1..j].iter().collect();
                if let Some(ids) = parse_marker_body(&body) {
                    out.push(Marker {
                        start: i,
                        end: j + 1,
                        ids,
                    });
                    i = j + 1;
                    continue;
                }
            }
        }
        i += 1;
    }
    out
}

fn parse_marker_body(body: &str) -> Option<Vec<usize>> {
    let mut ids = Vec::new();
    for part in body.split(',') {
        let part = part.trim();
        if let Some((a, b)) = part.split_once(['-', '–']) {
            let (a, b): (usize, usize) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
            if b < a || b - a > 100 {
                return None;
            }
            ids.extend(a..=b);
        } else {
            ids.push(part.parse().ok()?);
        }
    }
    (!ids.is_empty()).then_some(ids)
}

/// Tokens of `chars`, skipping the character ranges in `skip` (sorted, non-overlapping).
pub fn tokenize(chars: &[char], skip: &[Marker]) -> Vec<Token> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut m = 0;
    let n = chars.len();
    while i < n {
        while m < skip.len() && skip[m].end <= i {
            m += 1;
        }
        if m < skip.len() && skip[m].start <= i {
            i = skip[m].end;
            continue;
        }
        let c = chars[i];
        if c.is_ascii_digit() {
            // A number: digits with "," thousands groups and one "." fraction.
            let start = i;
            let mut j = i + 1;
            let mut seen_dot = false;
            while j < n {
                if chars[j].is_ascii_digit() {
                    j += 1;
                } else if chars[j] == ','
                    && j + 3 < n + 1
                    && (1..=3).all(|k| chars.get(j + k).is_some_and(char::is_ascii_digit))
                    && !chars.get(j + 4).is_some_and(char::is_ascii_digit)
                {
                    j += 4;
                } else if chars[j] == '.' && !seen_dot && chars.get(j + 1).is_some_and(char::is_ascii_digit) {
                    seen_dot = true;
                    j += 1;
                } else {
                    break;
                }
            }
            if j < n && chars[j].is_alphanumeric() {
                // "1990s", "3rd", "A380"-like tails: one word token.
                while j < n && chars[j].is_alphanumeric() {
                    j += 1;
                }
                out.push(Token {
                    norm: lower(&chars[start..j]),
                    kind: Kind::Word,
                    start,
                    end: j,
                    capitalized: false,
                });
            } else {
                let raw: String = chars[start..j].iter().collect();
                out.push(Token {
                    norm: fold_number(&raw),
                    kind: Kind::Number,
                    start,
                    end: j,
                    capitalized: false,
                });
            }
            i = j;
        } else if c.is_alphanumeric() {
            let start = i;
            let mut j = i + 1;
            while j < n
                && (chars[j].is_alphanumeric()
                    || (chars[j] == '\'' && chars.get(j + 1).is_some_and(|c| c.is_alphabetic())))
            {
                j += 1;
            }
            let mut w = lower(&chars[start..j]);
            if w.ends_with("'s") {
                w.truncate(w.len() - 2);
            }
            out.push(Token {
                norm: fold_word(w),
                kind: Kind::Word,
                start,
                end: j,
                capitalized: c.is_uppercase(),
            });
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

/// Characters in the longest abbreviation ("approx"): a longer word before a full stop is none,
/// so the backward scan stops there (unbounded, "a.a.a.a…" made it quadratic).
const LONGEST_ABBREVIATION: usize = 6;

fn is_abbreviation(chars: &[char], dot: usize) -> bool {
    // The word (letters and inner dots) right before the full stop.
    let mut s = dot;
    while s > 0 && (chars[s - 1].is_alphabetic() || (chars[s - 1] == '.' && s >= 2 && chars[s - 2].is_alphabetic())) {
        s -= 1;
        if dot - s > LONGEST_ABBREVIATION {
            return false;
        }
    }
    if s == dot {
        return false;
    }
    let word: String = chars[s..dot].iter().collect::<String>().to_lowercase();
    // A single capital letter is an initial ("J. K. Rowling").
    (dot - s == 1 && chars[s].is_uppercase()) || is_abbreviation_word(&word)
}

/// The marker starting at `at` (markers are sorted and do not overlap).
fn marker_at(markers: &[Marker], at: usize) -> Option<&Marker> {
    let i = markers.partition_point(|m| m.start < at);
    markers.get(i).filter(|m| m.start == at)
}

/// The tokens lying inside `[a, b)` (tokens are sorted and do not overlap), by binary search.
#[must_use]
pub fn tokens_within(tokens: &[Token], (a, b): (usize, usize)) -> &[Token] {
    let lo = tokens.partition_point(|t| t.start < a);
    let hi = tokens.partition_point(|t| t.end <= b).max(lo);
    &tokens[lo..hi]
}

/// The markers lying inside `[a, b)`, by binary search.
#[must_use]
pub fn markers_within(markers: &[Marker], (a, b): (usize, usize)) -> &[Marker] {
    let lo = markers.partition_point(|m| m.start < a);
    let hi = markers.partition_point(|m| m.end <= b).max(lo);
    &markers[lo..hi]
}

/// Sentence ranges of `chars` (trimmed, trailing citation markers included).
pub fn sentences(chars: &[char], markers: &[Marker]) -> Vec<(usize, usize)> {
    let n = chars.len();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let push = |out: &mut Vec<(usize, usize)>, a: usize, b: usize| {
        let (mut a, mut b) = (a, b);
        while a < b && chars[a].is_whitespace() {
            a += 1;
        }
        while b > a && chars[b - 1].is_whitespace() {
            b -= 1;
        }
        if b > a {
            out.push((a, b));
        }
    };
    while i < n {
        let c = chars[i];
        if c == '\n' {
            push(&mut out, start, i);
            start = i + 1;
        } else if matches!(c, '.' | '!' | '?') && !(c == '.' && is_abbreviation(chars, i)) {
            let mut j = i + 1;
            while j < n && matches!(chars[j], '.' | '!' | '?' | '"' | '\'' | ')' | '”' | '’') {
                j += 1;
            }
            let run_end = j;
            // Citation markers right after the full stop belong to this sentence.
            let mut k = j;
            loop {
                let mut t = k;
                while t < n && chars[t] == ' ' {
                    t += 1;
                }
                match marker_at(markers, t) {
                    Some(m) => k = m.end,
                    None => break,
                }
            }
            if k > j {
                j = k;
                while j < n && matches!(chars[j], '.' | '!' | '?') {
                    j += 1;
                }
            }
            let at_end = j >= n || chars[j].is_whitespace();
            let next = chars[j..].iter().find(|c| !c.is_whitespace());
            // A following lower-case word means the stop was not a sentence end ("approx. ten").
            if at_end && !next.is_some_and(|c| c.is_lowercase()) {
                push(&mut out, start, j);
                start = j;
                i = j;
                continue;
            }
            // The rest of this run of stops ends no sentence either (each would find the same
            // end); skipping it keeps "......… x" linear.
            i = run_end;
            continue;
        }
        i += 1;
    }
    push(&mut out, start, n);
    out
}

/// Splits one sentence at ";" and at `", <conjunction>"` when both sides keep at least two
/// content words; each piece is one claim. Linear in the sentence: its tokens are found by binary
/// search and counted through prefix sums.
pub fn clauses(chars: &[char], (a, b): (usize, usize), tokens: &[Token]) -> Vec<(usize, usize)> {
    let own = tokens_within(tokens, (a, b));
    // prefix[i]: content tokens among own[..i].
    let mut prefix = Vec::with_capacity(own.len() + 1);
    prefix.push(0usize);
    for t in own {
        prefix.push(prefix[prefix.len() - 1] + usize::from(!is_stop_word(&t.norm)));
    }
    let content = |x: usize, y: usize| {
        let lo = own.partition_point(|t| t.start < x);
        let hi = own.partition_point(|t| t.end <= y).max(lo);
        prefix[hi] - prefix[lo]
    };
    let mut cuts = Vec::new();
    let mut last = a;
    for (i, &ch) in chars.iter().enumerate().take(b).skip(a) {
        let cut = if ch == ';' {
            Some(i + 1)
        } else if ch == ',' {
            let next = own.get(own.partition_point(|t| t.start <= i)).filter(|t| t.start < b);
            // The conjunction itself is left out of the claim.
            next.filter(|t| CLAUSE_CONJUNCTIONS.contains(&t.norm.as_str()))
                .map(|t| t.end)
        } else {
            None
        };
        if let Some(c) = cut {
            if content(last, i) >= 2 && content(c, b) >= 2 {
                cuts.push((last, i));
                last = c;
            }
        }
    }
    cuts.push((last, b));
    cuts.into_iter()
        .map(|(x, y)| {
            let (mut x, mut y) = (x, y);
            while x < y && (chars[x].is_whitespace() || chars[x] == ',') {
                x += 1;
            }
            while y > x && (chars[y - 1].is_whitespace() || matches!(chars[y - 1], ',' | ';')) {
                y -= 1;
            }
            (x, y)
        })
        .filter(|(x, y)| y > x)
        .collect()
}

/// No state / no needle.
const NONE: u32 = u32::MAX;

/// For each of `needles`, whether it occurs in `haystack` as a byte substring (for UTF-8 text, a
/// substring of characters: UTF-8 is self-synchronising). An empty needle occurs everywhere.
///
/// One Aho-Corasick pass: a trie of the needles with failure links, walked over the haystack.
/// Time linear in the haystack plus the needles' total length, where one `contains` per needle
/// costs their product: each state's needles (its own and, through the dictionary links, those
/// ending in it) are collected the first time the walk enters it only, so needles nested in each
/// other ("a", "a a", "a a a", …) add nothing. (The `aho-corasick` crate's builder was found to
/// grow quadratically on tens of thousands of needles, hence this small one.)
#[must_use]
pub fn occurring(haystack: &[u8], needles: &[&[u8]]) -> Vec<bool> {
    let mut found: Vec<bool> = needles.iter().map(|n| n.is_empty()).collect();
    let total: usize = needles.iter().map(|n| n.len()).sum();
    if u32::try_from(total).is_err() || u32::try_from(needles.len()).is_err() {
        // Beyond 4 GiB of needles: one search each (never reached through max_chars).
        return needles
            .iter()
            .map(|n| n.is_empty() || haystack.windows(n.len()).any(|w| w == *n))
            .collect();
    }
    let step = |goto: &std::collections::HashMap<(u32, u8), u32, _>, s: u32, b: u8| goto.get(&(s, b)).copied();
    // The trie: goto[(state, byte)], the first needle ending at each state and the next needle
    // ending at the same state, each state's parent byte and depth.
    let mut goto: std::collections::HashMap<(u32, u8), u32, std::hash::BuildHasherDefault<Fnv>> =
        std::collections::HashMap::with_capacity_and_hasher(total, std::hash::BuildHasherDefault::default());
    let mut ends = vec![NONE];
    let mut parent = vec![(0u32, 0u8)];
    let mut depth = vec![0u32];
    let mut same_end = vec![NONE; needles.len()];
    for (i, needle) in needles.iter().enumerate() {
        if needle.is_empty() {
            continue;
        }
        let mut s = 0u32;
        for &b in *needle {
            s = match step(&goto, s, b) {
                Some(t) => t,
                None => {
                    let t = ends.len() as u32;
                    goto.insert((s, b), t);
                    ends.push(NONE);
                    parent.push((s, b));
                    depth.push(depth[s as usize] + 1);
                    t
                }
            };
        }
        same_end[i] = ends[s as usize];
        ends[s as usize] = i as u32;
    }
    // Failure links (longest proper suffix that is a trie state) and dictionary links (nearest
    // such suffix where a needle ends), state by state in order of depth.
    let n = ends.len();
    let mut order: Vec<u32> = (1..n as u32).collect();
    order.sort_unstable_by_key(|&s| depth[s as usize]);
    let mut fail = vec![0u32; n];
    let mut dict = vec![NONE; n];
    for &s in &order {
        let (p, b) = parent[s as usize];
        if p != 0 {
            let mut f = fail[p as usize];
            fail[s as usize] = loop {
                if let Some(t) = step(&goto, f, b) {
                    break t;
                }
                if f == 0 {
                    break 0;
                }
                f = fail[f as usize];
            };
        }
        let f = fail[s as usize] as usize;
        dict[s as usize] = if f != 0 && ends[f] != NONE { f as u32 } else { dict[f] };
    }
    let mut entered = vec![false; n];
    let mut s = 0u32;
    for &b in haystack {
        s = loop {
            if let Some(t) = step(&goto, s, b) {
                break t;
            }
            if s == 0 {
                break 0;
            }
            s = fail[s as usize];
        };
        let mut v = s;
        while v != 0 && v != NONE && !entered[v as usize] {
            entered[v as usize] = true;
            let mut id = ends[v as usize];
            while id != NONE {
                found[id as usize] = true;
                id = same_end[id as usize];
            }
            v = dict[v as usize];
        }
    }
    found
}

/// FNV-1a for the trie's small keys (no adversary controls the hash's seed to any use: the keys
/// are (state, byte) pairs numbered by the build).
#[derive(Default)]
struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn occurring_equals_contains_on_random_text() {
        let mut seed: u64 = 5;
        let mut next = || {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) as usize
        };
        for _ in 0..500 {
            let word =
                |next: &mut dyn FnMut() -> usize| -> Vec<u8> { (0..next() % 6).map(|_| b"abc"[next() % 3]).collect() };
            let hay = word(&mut next).repeat(1 + next() % 4);
            let needles: Vec<Vec<u8>> = (0..next() % 12).map(|_| word(&mut next)).collect();
            let refs: Vec<&[u8]> = needles.iter().map(Vec::as_slice).collect();
            let want: Vec<bool> = refs
                .iter()
                .map(|n| n.is_empty() || hay.windows(n.len()).any(|w| w == *n))
                .collect();
            assert_eq!(occurring(&hay, &refs), want, "{hay:?} {needles:?}");
        }
    }

    #[test]
    fn occurring_equals_contains() {
        let hay = "paris lyon station, the eiffel tower; saint-étienne";
        let needles = [
            "paris",
            "lyon station",
            "ris ly",
            "tower;",
            "marseille",
            "",
            "é",
            "saint-étienne",
            "saint-etienne",
            "a",
            "paris lyon station, the eiffel tower; saint-étiennex",
        ];
        let want: Vec<bool> = needles.iter().map(|n| hay.contains(n)).collect();
        let bytes = |v: &[&'static str]| v.iter().map(|s| s.as_bytes()).collect::<Vec<_>>();
        assert_eq!(occurring(hay.as_bytes(), &bytes(&needles)), want);
        assert_eq!(occurring(b"", &bytes(&["", "a"])), [true, false]);
        assert_eq!(occurring(b"aaa", &bytes(&["aa", "aa", "aaaa"])), [true, true, false]);
        // Needles that only occur as suffixes of longer ones (the dictionary links).
        let r = occurring(b"xabcd", &bytes(&["abcd", "bcd", "cd", "d", "bce"]));
        assert_eq!(r, [true, true, true, true, false]);
    }

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    #[test]
    fn numbers_are_canonical() {
        let c = chars("It cost $1,000.50 in 1990 and 3.0 kg, not 12,34.");
        let t: Vec<_> = tokenize(&c, &[])
            .into_iter()
            .filter(|t| t.kind == Kind::Number)
            .map(|t| t.norm)
            .collect();
        assert_eq!(t, ["1000.5", "1990", "3", "12", "34"]);
    }

    #[test]
    fn markers_and_sentences() {
        let s = "Dr. Smith won in 2001 [1]. He retired in 2010.[2][3] J. K. Rowling wrote it, approx. ten books [1-2].";
        let c = chars(s);
        let m = find_markers(&c);
        assert_eq!(
            m.iter().map(|m| m.ids.clone()).collect::<Vec<_>>(),
            [vec![1], vec![2], vec![3], vec![1, 2]]
        );
        let sents: Vec<String> = sentences(&c, &m)
            .iter()
            .map(|&(a, b)| c[a..b].iter().collect())
            .collect();
        assert_eq!(
            sents,
            [
                "Dr. Smith won in 2001 [1].",
                "He retired in 2010.[2][3]",
                "J. K. Rowling wrote it, approx. ten books [1-2]."
            ]
        );
    }

    #[test]
    fn clause_split_needs_content_on_both_sides() {
        let s = "Paris is the capital of France, and Berlin is the capital of Germany; yes, it is.";
        let c = chars(s);
        let t = tokenize(&c, &[]);
        let parts: Vec<String> = clauses(&c, (0, c.len()), &t)
            .iter()
            .map(|&(a, b)| c[a..b].iter().collect())
            .collect();
        assert_eq!(
            parts,
            [
                "Paris is the capital of France",
                "Berlin is the capital of Germany; yes, it is."
            ]
        );
    }

    #[test]
    fn offsets_count_characters() {
        let c = chars("Zürich hat 400000 Einwohner.");
        let t = tokenize(&c, &[]);
        assert_eq!((t[2].start, t[2].end), (11, 17));
        assert_eq!(t[0].norm, "zürich");
    }
}
