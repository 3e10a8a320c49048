//! Scoring claims against passages.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use super::text::{self, Kind, Token};
use super::EvidenceOptions;

/// One claim of the answer and how well the passages support it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimSupport {
    /// Character span of the claim in the answer.
    pub start: usize,
    pub end: usize,
    /// Number of distinct content tokens (the claim's weight in the coverage).
    pub weight: usize,
    /// Best passage (0-based), the one that supports the claim or comes closest.
    pub passage: usize,
    /// Support score in [0, 1]: content recall in the best passage, 0 when a number or entity
    /// of the claim is missing from it.
    pub score: f64,
    /// Content recall in the best passage, whatever the numbers and entities.
    pub recall: f64,
    pub supported: bool,
    /// Character span of the supporting window in the best passage (None when nothing matched).
    pub span: Option<(usize, usize)>,
    pub missing_numbers: Vec<String>,
    pub missing_entities: Vec<String>,
    /// Passage numbers cited by the claim, as written (1-based).
    pub citations: Vec<usize>,
    /// For each citation: the cited passage exists and supports the claim.
    pub citation_ok: Vec<bool>,
}

/// The coverage of one answer.
#[derive(Debug, Clone, PartialEq)]
pub struct CoverageReport {
    pub claims: Vec<ClaimSupport>,
    /// Supported share of the claims, weighted by content tokens (None: no checkable claim).
    pub coverage: Option<f64>,
    /// Share of citations whose passage supports the claim (None: the answer cites nothing).
    pub citation_precision: Option<f64>,
    /// Indices (into `claims`) of claims without a citation, in answers that cite at all.
    pub missing_citations: Vec<usize>,
}

/// FNV-1a: passages are tokenised and hashed per call, where SipHash's DoS resistance buys
/// nothing and costs a third of the run time.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
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

type FnvMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

/// Spans already found, by (passage, sorted matched token ids).
type SpanMemo = HashMap<(usize, Vec<u32>), Option<(usize, usize)>>;

/// The most citation ids one claim keeps (the first ones as written): a sentence's trailing
/// markers are shared by each of its clauses, so without a cap a sentence of many clauses and
/// many markers would make an output quadratic in its length.
pub const MAX_CITATIONS_PER_CLAIM: usize = 64;

/// Token ids shared by every passage of one answer (each distinct passage token once).
#[derive(Default)]
struct Vocabulary<'a> {
    ids: FnvMap<&'a str, u32>,
}

impl<'a> Vocabulary<'a> {
    fn intern(&mut self, w: &'a str) -> u32 {
        let next = u32::try_from(self.ids.len()).unwrap_or(u32::MAX);
        *self.ids.entry(w).or_insert(next)
    }
    fn get(&self, w: &str) -> Option<u32> {
        self.ids.get(w).copied()
    }
}

/// One passage: its tokens and, for each of its token ids, the positions (token indices) where
/// it occurs, in order.
struct Passage<'a> {
    tokens: &'a [Token],
    positions: FnvMap<u32, Vec<u32>>,
}

impl<'a> Passage<'a> {
    fn new(tokens: &'a [Token], vocab: &mut Vocabulary<'a>) -> Self {
        let mut positions: FnvMap<u32, Vec<u32>> = FnvMap::default();
        for (i, t) in tokens.iter().enumerate() {
            let id = vocab.intern(t.norm.as_str());
            positions
                .entry(id)
                .or_default()
                .push(u32::try_from(i).unwrap_or(u32::MAX));
        }
        Self { tokens, positions }
    }
    fn has(&self, id: Option<u32>) -> bool {
        id.is_some_and(|id| self.positions.contains_key(&id))
    }
}

fn passage_tokens(s: &str) -> Vec<Token> {
    let chars: Vec<char> = s.chars().collect();
    text::tokenize(&chars, &[])
}

/// A claim's distinct content tokens, numbers and entities, each with its passage token id
/// (None: in no passage).
struct ClaimTokens {
    content: Vec<(String, Option<u32>)>,
    numbers: Vec<(String, Option<u32>)>,
    entities: Vec<(String, Option<u32>)>,
}

fn distinct<'t>(it: impl Iterator<Item = &'t Token>, vocab: &Vocabulary) -> Vec<(String, Option<u32>)> {
    let mut seen = HashSet::new();
    it.filter(|t| seen.insert(t.norm.as_str()))
        .map(|t| (t.norm.clone(), vocab.get(&t.norm)))
        .collect()
}

fn claim_tokens(tokens: &[Token], sentence_start: usize, vocab: &Vocabulary) -> ClaimTokens {
    let content = distinct(tokens.iter().filter(|t| !text::is_stop_word(&t.norm)), vocab);
    let numbers = distinct(tokens.iter().filter(|t| t.kind == Kind::Number), vocab);
    // A capitalised word counts as a name unless it opens the sentence (where every word is).
    let entities = distinct(
        tokens
            .iter()
            .filter(|t| t.capitalized && t.start != sentence_start && !text::is_stop_word(&t.norm)),
        vocab,
    );
    ClaimTokens {
        content,
        numbers,
        entities,
    }
}

/// How one passage matches a claim: (score, recall), where the score is the recall when every
/// number and entity of the claim occurs in the passage, else 0.
fn score(claim: &ClaimTokens, p: &Passage) -> (f64, f64) {
    let hits = claim.content.iter().filter(|(_, id)| p.has(*id)).count();
    let recall = hits as f64 / claim.content.len() as f64;
    let complete = claim.numbers.iter().chain(&claim.entities).all(|(_, id)| p.has(*id));
    (if complete { recall } else { 0.0 }, recall)
}

fn missing(of: &[(String, Option<u32>)], p: &Passage) -> Vec<String> {
    of.iter()
        .filter(|(_, id)| !p.has(*id))
        .map(|(t, _)| t.clone())
        .collect()
}

/// Shortest window (in characters) of the passage containing every one of `ids` (each occurs
/// in it), the earliest-ending one among equals.
///
/// Exact without a pass over the whole passage per claim: the window holds an occurrence of the
/// rarest id (the anchor); given the anchor, every other id takes its nearest occurrence on the
/// left or on the right, and the best of those choices puts the ids whose left one is nearest on
/// the left. Cost: (occurrences of the rarest id) × ids × log.
fn support_span(ids: &[u32], p: &Passage) -> Option<(usize, usize)> {
    let lists: Vec<&[u32]> = ids.iter().map(|id| p.positions[id].as_slice()).collect();
    let rarest = (0..lists.len()).min_by_key(|&i| lists[i].len())?;
    let tok = |pos: u32| &p.tokens[pos as usize];
    let mut best: Option<(usize, usize)> = None;
    let mut sides: Vec<(usize, usize)> = Vec::with_capacity(lists.len());
    let mut right_max = vec![0usize; lists.len() + 1];
    // Anchors ascend, so each list's cut only moves right: galloping from the last one costs the
    // log of the distance moved, not of the list (linear overall when the lists are alike).
    let mut cuts = vec![0usize; lists.len()];
    for &anchor in lists[rarest] {
        let (a0, b0) = (tok(anchor).start, tok(anchor).end);
        sides.clear();
        for (i, list) in lists.iter().enumerate() {
            if i == rarest {
                continue;
            }
            let k = gallop(list, cuts[i], anchor);
            cuts[i] = k;
            // How far the window must reach left or right to take this id (usize::MAX: it can't).
            let left = k.checked_sub(1).map_or(usize::MAX, |k| a0 - tok(list[k]).start);
            let right = list.get(k).map_or(usize::MAX, |&q| tok(q).end - b0);
            sides.push((left, right));
        }
        sides.sort_unstable();
        // The first `split` ids (nearest on the left) go left, the rest right.
        right_max[sides.len()] = 0;
        for i in (0..sides.len()).rev() {
            right_max[i] = right_max[i + 1].max(sides[i].1);
        }
        for split in 0..=sides.len() {
            let left = if split == 0 { 0 } else { sides[split - 1].0 };
            let right = right_max[split];
            if left == usize::MAX || right == usize::MAX {
                continue;
            }
            let (a, b) = (a0 - left, b0 + right);
            if best.is_none_or(|(x, y)| (b - a, b) < (y - x, y)) {
                best = Some((a, b));
            }
        }
    }
    best
}

/// The first index at or after `from` whose position is not before `x` (`list` sorted, and every
/// entry before `from` before `x`), by exponential then binary search from `from`.
fn gallop(list: &[u32], from: usize, x: u32) -> usize {
    let (mut lo, mut hi, mut step) = (from, from, 1);
    while hi < list.len() && list[hi] < x {
        lo = hi + 1;
        hi = lo + step;
        step *= 2;
    }
    let hi = hi.min(list.len());
    lo + list[lo..hi].partition_point(|&q| q < x)
}

pub(super) fn evaluate(answer: &str, passages: &[&str], opts: &EvidenceOptions) -> CoverageReport {
    let chars: Vec<char> = answer.chars().collect();
    let markers = if opts.citations {
        text::find_markers(&chars)
    } else {
        Vec::new()
    };
    let tokens = text::tokenize(&chars, &markers);
    let tokenized: Vec<Vec<Token>> = passages.iter().map(|p| passage_tokens(p)).collect();
    let mut vocab = Vocabulary::default();
    let indexed: Vec<Passage> = tokenized.iter().map(|t| Passage::new(t, &mut vocab)).collect();
    let mut spans = SpanMemo::new();
    let mut claims = Vec::new();
    for sentence in text::sentences(&chars, &markers) {
        let first_token = tokens
            .get(tokens.partition_point(|t| t.start < sentence.0))
            .map_or(usize::MAX, |t| t.start);
        let pieces = text::clauses(&chars, sentence, &tokens);
        // Markers after the sentence's last word cover clauses that carry none of their own.
        let last_word = text::tokens_within(&tokens, sentence).last().map(|t| t.end);
        let tail: Vec<usize> = last_word
            .map(|e| {
                text::markers_within(&markers, (e, sentence.1))
                    .iter()
                    .flat_map(|m| m.ids.iter().copied())
                    .take(MAX_CITATIONS_PER_CLAIM)
                    .collect()
            })
            .unwrap_or_default();
        for (a, b) in pieces {
            let ct = claim_tokens(text::tokens_within(&tokens, (a, b)), first_token, &vocab);
            if ct.content.is_empty() {
                continue;
            }
            let mut cites: Vec<usize> = text::markers_within(&markers, (a, b))
                .iter()
                .flat_map(|m| m.ids.iter().copied())
                .take(MAX_CITATIONS_PER_CLAIM)
                .collect();
            if cites.is_empty() {
                cites.clone_from(&tail);
            }
            claims.push(judge(&ct, &indexed, (a, b), cites, opts, &mut spans));
        }
    }
    let total: usize = claims.iter().map(|c| c.weight).sum();
    let coverage = (total > 0)
        .then(|| claims.iter().filter(|c| c.supported).map(|c| c.weight).sum::<usize>() as f64 / total as f64);
    let n_cites: usize = claims.iter().map(|c| c.citations.len()).sum();
    let cites_any = !markers.is_empty();
    let citation_precision = (cites_any && n_cites > 0).then(|| {
        claims
            .iter()
            .flat_map(|c| c.citation_ok.iter())
            .filter(|&&ok| ok)
            .count() as f64
            / n_cites as f64
    });
    let missing_citations = if cites_any {
        claims
            .iter()
            .enumerate()
            .filter(|(_, c)| c.citations.is_empty())
            .map(|(i, _)| i)
            .collect()
    } else {
        Vec::new()
    };
    CoverageReport {
        claims,
        coverage,
        citation_precision,
        missing_citations,
    }
}

fn judge(
    ct: &ClaimTokens,
    passages: &[Passage],
    (start, end): (usize, usize),
    citations: Vec<usize>,
    opts: &EvidenceOptions,
    spans: &mut SpanMemo,
) -> ClaimSupport {
    let matches: Vec<(f64, f64)> = passages.iter().map(|p| score(ct, p)).collect();
    let supports = |(score, _): (f64, f64)| score >= opts.min_support;
    // The best passage: highest score, then highest recall, then the earliest.
    let mut best = 0;
    for (i, m) in matches.iter().enumerate().skip(1) {
        let b = &matches[best];
        if m.0 > b.0 || (m.0 == b.0 && m.1 > b.1) {
            best = i;
        }
    }
    let citation_ok = citations
        .iter()
        .map(|&id| id >= 1 && id <= passages.len() && supports(matches[id - 1]))
        .collect();
    let (score, recall) = matches[best];
    let p = &passages[best];
    // Claims repeating the same matched words in the same passage share one span.
    let mut ids: Vec<u32> = ct
        .content
        .iter()
        .filter_map(|&(_, id)| id)
        .filter(|id| p.has(Some(*id)))
        .collect();
    ids.sort_unstable();
    let span = if ids.is_empty() {
        None
    } else {
        *spans
            .entry((best, ids))
            .or_insert_with_key(|(_, ids)| support_span(ids, p))
    };
    ClaimSupport {
        start,
        end,
        weight: ct.content.len(),
        passage: best,
        score,
        recall,
        supported: supports((score, recall)),
        span,
        missing_numbers: missing(&ct.numbers, p),
        missing_entities: missing(&ct.entities, p),
        citations,
        citation_ok,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(answer: &str, passages: &[&str]) -> CoverageReport {
        evaluate(answer, passages, &EvidenceOptions::default())
    }

    #[test]
    fn supported_and_unsupported_claims() {
        let r = run(
            "The Eiffel Tower is in Paris. It was completed in 1889. It is painted green.",
            &[
                "The Eiffel Tower, completed in 1889, stands in Paris.",
                "Gustave Eiffel's company built it.",
            ],
        );
        let sup: Vec<bool> = r.claims.iter().map(|c| c.supported).collect();
        assert_eq!(sup, [true, true, false]);
        // weights: {eiffel, tower, pari} = 3, {completed, 1889} = 2, {painted, green} = 2
        assert!((r.coverage.unwrap() - 5.0 / 7.0).abs() < 1e-12);
        assert_eq!(r.citation_precision, None);
    }

    #[test]
    fn numbers_and_entities_must_match_exactly() {
        let r = run("It was completed in 1887.", &["It was completed in 1889."]);
        assert!(!r.claims[0].supported);
        assert_eq!(r.claims[0].missing_numbers, ["1887"]);
        assert_eq!(r.claims[0].score, 0.0);
        assert_eq!(r.claims[0].recall, 0.5);
        let r = run("The prize went to Marie Curie.", &["The prize went to Pierre Curie."]);
        assert_eq!(r.claims[0].missing_entities, ["marie"]);
    }

    #[test]
    fn span_is_the_shortest_window() {
        let p = "Dogs are loyal and cats sleep; at night the wolves bark. Dogs bark.";
        let r = run("Dogs bark.", &[p]);
        let (a, b) = r.claims[0].span.unwrap();
        assert_eq!((&p[a..b], a), ("Dogs bark", 57));
    }

    /// The former span search: one sliding window over every hit of the passage.
    fn sliding_window(ids: &[u32], p: &Passage) -> Option<(usize, usize)> {
        let mut hits: Vec<(u32, usize)> = ids
            .iter()
            .enumerate()
            .flat_map(|(k, id)| p.positions[id].iter().map(move |&q| (q, k)))
            .collect();
        hits.sort_unstable();
        let (mut count, mut have, mut lo, mut best) = (vec![0usize; ids.len()], 0, 0, None::<(usize, usize)>);
        for hi in 0..hits.len() {
            count[hits[hi].1] += 1;
            have += usize::from(count[hits[hi].1] == 1);
            while have == ids.len() {
                let (a, b) = (p.tokens[hits[lo].0 as usize].start, p.tokens[hits[hi].0 as usize].end);
                if best.is_none_or(|(x, y)| b - a < y - x) {
                    best = Some((a, b));
                }
                count[hits[lo].1] -= 1;
                have -= usize::from(count[hits[lo].1] == 0);
                lo += 1;
            }
        }
        best
    }

    #[test]
    fn anchored_span_equals_the_sliding_window() {
        let words = ["ab", "c", "dddd", "e", "ff", "ghi", "j"];
        let mut seed: u64 = 11;
        let mut next = || {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) as usize
        };
        for _ in 0..3000 {
            let n = 1 + next() % 30;
            let text: Vec<&str> = (0..n).map(|_| words[next() % words.len()]).collect();
            let tokens = passage_tokens(&text.join(if next() % 2 == 0 { " " } else { "  " }));
            let mut vocab = Vocabulary::default();
            let p = Passage::new(&tokens, &mut vocab);
            let mut ids: Vec<u32> = p.positions.keys().copied().filter(|_| next() % 3 != 0).collect();
            ids.sort_unstable();
            if ids.is_empty() {
                continue;
            }
            assert_eq!(support_span(&ids, &p), sliding_window(&ids, &p), "{text:?} {ids:?}");
        }
    }

    #[test]
    fn citations_per_claim_are_capped() {
        let markers: String = (1..=200).map(|i| format!("[{i}]")).collect();
        let r = run(
            &format!("Alpha beta gamma; delta epsilon zeta {markers}."),
            &["Alpha beta gamma."],
        );
        assert_eq!(r.claims.len(), 2);
        for c in &r.claims {
            assert_eq!(c.citations, (1..=MAX_CITATIONS_PER_CLAIM).collect::<Vec<_>>());
        }
    }

    #[test]
    fn wrong_citation_is_caught() {
        let r = run(
            "Water boils at 100 degrees Celsius [2]. Ice melts at 0 degrees Celsius [1]. Salt is sodium chloride.",
            &[
                "Ice melts at 0 degrees Celsius.",
                "Water boils at 100 degrees Celsius at sea level.",
            ],
        );
        assert_eq!(
            r.claims.iter().map(|c| c.citation_ok.clone()).collect::<Vec<_>>(),
            [vec![true], vec![true], vec![]]
        );
        assert_eq!(r.missing_citations, [2]);
        let r = run(
            "Water boils at 100 degrees Celsius [1][7].",
            &["Ice melts at 0 degrees Celsius.", "Water boils at 100 degrees Celsius."],
        );
        assert_eq!(r.claims[0].citation_ok, [false, false]);
        assert_eq!(r.citation_precision, Some(0.0));
        assert!(r.claims[0].supported);
        assert_eq!(r.claims[0].passage, 1);
    }
}
