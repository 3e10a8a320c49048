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

type Vocab<'a> = HashSet<&'a str, BuildHasherDefault<Fnv>>;

struct Passage<'a> {
    tokens: &'a [Token],
    vocab: Vocab<'a>,
}

impl<'a> Passage<'a> {
    fn new(tokens: &'a [Token]) -> Self {
        let vocab = tokens.iter().map(|t| t.norm.as_str()).collect();
        Self { tokens, vocab }
    }
}

fn passage_tokens(s: &str) -> Vec<Token> {
    let chars: Vec<char> = s.chars().collect();
    text::tokenize(&chars, &[])
}

struct ClaimTokens {
    content: Vec<String>,
    numbers: Vec<String>,
    entities: Vec<String>,
}

fn distinct(it: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = HashSet::new();
    it.filter(|s| seen.insert(s.clone())).collect()
}

fn claim_tokens(tokens: &[&Token], sentence_start: usize) -> ClaimTokens {
    let content = distinct(
        tokens
            .iter()
            .filter(|t| !text::is_stop_word(&t.norm))
            .map(|t| t.norm.clone()),
    );
    let numbers = distinct(tokens.iter().filter(|t| t.kind == Kind::Number).map(|t| t.norm.clone()));
    // A capitalised word counts as a name unless it opens the sentence (where every word is).
    let entities = distinct(
        tokens
            .iter()
            .filter(|t| t.capitalized && t.start != sentence_start && !text::is_stop_word(&t.norm))
            .map(|t| t.norm.clone()),
    );
    ClaimTokens {
        content,
        numbers,
        entities,
    }
}

struct Match {
    score: f64,
    recall: f64,
    missing_numbers: Vec<String>,
    missing_entities: Vec<String>,
}

fn score(claim: &ClaimTokens, p: &Passage) -> Match {
    let hits = claim.content.iter().filter(|t| p.vocab.contains(t.as_str())).count();
    let recall = hits as f64 / claim.content.len() as f64;
    let missing_numbers: Vec<String> = claim
        .numbers
        .iter()
        .filter(|t| !p.vocab.contains(t.as_str()))
        .cloned()
        .collect();
    let missing_entities: Vec<String> = claim
        .entities
        .iter()
        .filter(|t| !p.vocab.contains(t.as_str()))
        .cloned()
        .collect();
    let score = if missing_numbers.is_empty() && missing_entities.is_empty() {
        recall
    } else {
        0.0
    };
    Match {
        score,
        recall,
        missing_numbers,
        missing_entities,
    }
}

/// Shortest window (in characters) of the passage containing every matched claim token.
fn support_span(claim: &ClaimTokens, p: &Passage) -> Option<(usize, usize)> {
    let ids: HashMap<&str, usize> = claim
        .content
        .iter()
        .filter(|t| p.vocab.contains(t.as_str()))
        .enumerate()
        .map(|(i, t)| (t.as_str(), i))
        .collect();
    if ids.is_empty() {
        return None;
    }
    let hits: Vec<(usize, usize)> = p
        .tokens
        .iter()
        .enumerate()
        .filter_map(|(pos, t)| ids.get(t.norm.as_str()).map(|&id| (pos, id)))
        .collect();
    let mut count = vec![0usize; ids.len()];
    let mut have = 0;
    let mut best: Option<(usize, usize)> = None;
    let mut lo = 0;
    for hi in 0..hits.len() {
        let id = hits[hi].1;
        count[id] += 1;
        if count[id] == 1 {
            have += 1;
        }
        while have == ids.len() {
            let (a, b) = (p.tokens[hits[lo].0].start, p.tokens[hits[hi].0].end);
            if best.is_none_or(|(x, y)| b - a < y - x) {
                best = Some((a, b));
            }
            let out = hits[lo].1;
            count[out] -= 1;
            if count[out] == 0 {
                have -= 1;
            }
            lo += 1;
        }
    }
    best
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
    let indexed: Vec<Passage> = tokenized.iter().map(|t| Passage::new(t)).collect();
    let mut claims = Vec::new();
    for sentence in text::sentences(&chars, &markers) {
        let first_token = tokens
            .iter()
            .find(|t| t.start >= sentence.0)
            .map_or(usize::MAX, |t| t.start);
        let pieces = text::clauses(&chars, sentence, &tokens);
        // Markers after the sentence's last word cover clauses that carry none of their own.
        let last_word = tokens
            .iter()
            .filter(|t| t.start >= sentence.0 && t.end <= sentence.1)
            .map(|t| t.end)
            .max();
        let tail: Vec<usize> = last_word
            .map(|e| {
                markers
                    .iter()
                    .filter(|m| m.start >= e && m.end <= sentence.1)
                    .flat_map(|m| m.ids.clone())
                    .collect()
            })
            .unwrap_or_default();
        for (a, b) in pieces {
            let own: Vec<&Token> = tokens.iter().filter(|t| t.start >= a && t.end <= b).collect();
            let ct = claim_tokens(&own, first_token);
            if ct.content.is_empty() {
                continue;
            }
            let mut cites: Vec<usize> = markers
                .iter()
                .filter(|m| m.start >= a && m.end <= b)
                .flat_map(|m| m.ids.clone())
                .collect();
            if cites.is_empty() {
                cites.clone_from(&tail);
            }
            claims.push(judge(&ct, &indexed, (a, b), cites, opts));
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
) -> ClaimSupport {
    let matches: Vec<Match> = passages.iter().map(|p| score(ct, p)).collect();
    let supports = |m: &Match| m.score >= opts.min_support;
    // The best passage: highest score, then highest recall, then the earliest.
    let mut best = 0;
    for (i, m) in matches.iter().enumerate().skip(1) {
        let b = &matches[best];
        if m.score > b.score || (m.score == b.score && m.recall > b.recall) {
            best = i;
        }
    }
    let citation_ok = citations
        .iter()
        .map(|&id| id >= 1 && id <= passages.len() && supports(&matches[id - 1]))
        .collect();
    let m = &matches[best];
    ClaimSupport {
        start,
        end,
        weight: ct.content.len(),
        passage: best,
        score: m.score,
        recall: m.recall,
        supported: supports(m),
        span: support_span(ct, &passages[best]),
        missing_numbers: m.missing_numbers.clone(),
        missing_entities: m.missing_entities.clone(),
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
