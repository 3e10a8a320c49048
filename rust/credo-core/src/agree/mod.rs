//! Agreement between sampled answers: normalisation, pairwise equivalence, clustering, the
//! majority answer and its agreement rate, semantic entropies, spectral measures, stopping rules.
//!
//! One question is a list of answers (plus, optionally, per-token log-probabilities, embeddings or
//! a pairwise matrix). [`agree`] handles one, [`agree_batch`] many in parallel; both give the
//! same numbers for the same question.

pub mod batch;
pub mod cluster;
pub mod entropy;
pub mod normalize;
#[cfg(target_arch = "x86_64")]
mod normalize_avx2;
mod numbers;
mod pairwise;
pub mod similarity;
pub mod spectral;
pub mod stopping;

pub use batch::{agree_batch_columns, agree_batch_columns_by, agree_batch_columns_fed, Columns, FedAnswers};
pub use cluster::{cluster_by, Linkage};
pub use entropy::SeqLogProbs;
pub use normalize::{normalize, NormalizeOptions};
pub use spectral::Spectral;

use crate::error::{CredoError, Result};
use crate::parallel::{map_range_init, with_threads};
use normalize::Scratch;
use pairwise::{exact_labels, Pairwise};

/// How two answers are judged equivalent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Method {
    /// Equal after normalisation (transitive: both linkages give the same partition).
    Exact,
    /// The last number of each normalised answer within `tolerance` · max(1, |a|, |b|); answers
    /// without a number compare as normalised strings and never equal a number.
    Numeric { tolerance: f64 },
    /// Jaccard similarity of the normalised answers' token sets ≥ `threshold`.
    Jaccard { threshold: f64 },
    /// ROUGE-L F1 over the normalised answers' tokens ≥ `threshold`.
    RougeL { threshold: f64 },
    /// Cosine of the caller's embedding vectors ≥ `threshold`.
    Embedding { threshold: f64 },
    /// Entailment probability ≥ `threshold` in both directions (P[i, j] = P(i entails j)).
    Entailment { threshold: f64 },
    /// A caller's symmetric similarity matrix in [0, 1], ≥ `threshold`.
    Similarity { threshold: f64 },
}

/// A method by name, before its threshold is attached (`callable` is the Python layer's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MethodName {
    Exact,
    Numeric,
    Jaccard,
    RougeL,
    Embedding,
    Entailment,
    Similarity,
}
crate::choices!(MethodName, "method", {
    "exact" => MethodName::Exact,
    "numeric" => MethodName::Numeric,
    "jaccard" => MethodName::Jaccard,
    "rouge_l" => MethodName::RougeL,
    "embedding" => MethodName::Embedding,
    "entailment" => MethodName::Entailment,
    "similarity" => MethodName::Similarity,
});

impl Method {
    /// The method `name` with its threshold (the tolerance for `numeric`, unused by `exact`).
    pub fn new(name: MethodName, threshold: f64) -> Result<Self> {
        let m = match name {
            MethodName::Exact => Self::Exact,
            MethodName::Numeric => Self::Numeric { tolerance: threshold },
            MethodName::Jaccard => Self::Jaccard { threshold },
            MethodName::RougeL => Self::RougeL { threshold },
            MethodName::Embedding => Self::Embedding { threshold },
            MethodName::Entailment => Self::Entailment { threshold },
            MethodName::Similarity => Self::Similarity { threshold },
        };
        m.check()?;
        Ok(m)
    }

    fn check(self) -> Result<()> {
        let (arg, v, lo, hi) = match self {
            Self::Exact => return Ok(()),
            Self::Numeric { tolerance } => ("tolerance", tolerance, 0.0, f64::MAX),
            Self::Embedding { threshold } => ("threshold", threshold, -1.0, 1.0),
            Self::Jaccard { threshold }
            | Self::RougeL { threshold }
            | Self::Entailment { threshold }
            | Self::Similarity { threshold } => ("threshold", threshold, 0.0, 1.0),
        };
        if v.is_finite() && v >= lo && v <= hi {
            Ok(())
        } else {
            Err(CredoError::invalid(
                arg,
                format!("must be a finite number in [{lo}, {hi}], got {v}"),
            ))
        }
    }

    fn needs_text(self) -> bool {
        matches!(
            self,
            Self::Exact | Self::Numeric { .. } | Self::Jaccard { .. } | Self::RougeL { .. }
        )
    }
}

/// Everything that is the same for all questions of a call.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub method: Method,
    pub linkage: Linkage,
    pub normalize: NormalizeOptions,
    /// Also compute the spectral measures (an eigen-solve per question unless `method` is exact).
    pub spectral: bool,
}

/// One question's inputs. Token log-probs are flat with `offsets` (answers + 1 entries) indexing
/// into `values`; embeddings are row-major `answers × dim`; `matrix` is row-major `answers²`
/// (entailment probabilities or similarities).
#[derive(Clone, Copy, Debug, Default)]
pub struct Question<'a> {
    pub answers: &'a [&'a str],
    pub logprobs: Option<(&'a [f64], &'a [usize])>,
    pub embeddings: Option<(&'a [f64], usize)>,
    pub matrix: Option<&'a [f64]>,
}

/// The agreement of one question's answers.
#[derive(Clone, Debug, PartialEq)]
pub struct Agreement {
    /// Cluster of each answer, numbered in order of first appearance.
    pub labels: Vec<usize>,
    /// Answers per cluster.
    pub sizes: Vec<usize>,
    /// Probability of each cluster: its share of the answers, or with log-probs the
    /// length-normalised sequence-probability mass (Farquhar et al.'s p(c)).
    pub cluster_probs: Vec<f64>,
    /// The most probable cluster (ties: the earliest).
    pub majority: usize,
    /// Index of the first answer of the majority cluster (its representative).
    pub majority_index: usize,
    /// Probability of the majority cluster, in (0, 1].
    pub agreement: f64,
    pub se_discrete: f64,
    /// NaN without log-probs (as are the other two log-prob variants).
    pub se_farquhar: f64,
    pub se_kuhn: f64,
    pub se_lm_polygraph: f64,
    /// NaN unless spectral measures were requested.
    pub eigval_laplacian: f64,
    pub degree: f64,
}

/// The per-question numbers of an [`Agreement`] (its vectors live in the caller's buffers).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    pub majority: usize,
    pub majority_index: usize,
    pub agreement: f64,
    pub se_discrete: f64,
    pub se_farquhar: f64,
    pub se_kuhn: f64,
    pub se_lm_polygraph: f64,
    pub eigval_laplacian: f64,
    pub degree: f64,
}

/// Summarises a partition (canonical labels) into an [`Agreement`], without spectral measures.
#[must_use]
pub fn summarize(labels: Vec<usize>, lp: Option<&SeqLogProbs>) -> Agreement {
    let (mut sizes, mut cluster_probs) = (Vec::new(), Vec::new());
    let st = stats_into(&labels, lp, &mut sizes, &mut cluster_probs);
    Agreement::from_parts(labels, sizes, cluster_probs, &st)
}

impl Agreement {
    fn from_parts(labels: Vec<usize>, sizes: Vec<usize>, cluster_probs: Vec<f64>, st: &Stats) -> Self {
        Self {
            labels,
            sizes,
            cluster_probs,
            majority: st.majority,
            majority_index: st.majority_index,
            agreement: st.agreement,
            se_discrete: st.se_discrete,
            se_farquhar: st.se_farquhar,
            se_kuhn: st.se_kuhn,
            se_lm_polygraph: st.se_lm_polygraph,
            eigval_laplacian: st.eigval_laplacian,
            degree: st.degree,
        }
    }
}

/// Fills `sizes` and `probs` for canonical `labels` and returns the per-question numbers.
fn stats_into(labels: &[usize], lp: Option<&SeqLogProbs>, sizes: &mut Vec<usize>, probs: &mut Vec<f64>) -> Stats {
    let k = labels.iter().max().map_or(0, |&m| m + 1);
    sizes.clear();
    sizes.resize(k, 0);
    for &l in labels {
        sizes[l] += 1;
    }
    probs.clear();
    let (se_farquhar, se_kuhn, se_lm_polygraph) = match lp {
        Some(lp) => {
            probs.extend(
                entropy::farquhar_log_probs(labels, k, lp)
                    .iter()
                    .map(|x| x.exp().min(1.0)),
            );
            (
                entropy::farquhar(labels, k, lp),
                entropy::kuhn(labels, k, lp),
                entropy::lm_polygraph(labels, k, lp),
            )
        }
        None => {
            let n = labels.len() as f64;
            probs.extend(sizes.iter().map(|&s| s as f64 / n));
            (f64::NAN, f64::NAN, f64::NAN)
        }
    };
    let majority = probs
        .iter()
        .enumerate()
        .fold(0, |best, (c, &p)| if p > probs[best] { c } else { best });
    Stats {
        majority,
        majority_index: labels.iter().position(|&l| l == majority).unwrap_or(0),
        agreement: probs.get(majority).copied().unwrap_or(f64::NAN),
        se_discrete: entropy::discrete(sizes),
        se_farquhar,
        se_kuhn,
        se_lm_polygraph,
        eigval_laplacian: f64::NAN,
        degree: f64::NAN,
    }
}

/// Per-thread buffers reused across questions.
#[derive(Default)]
pub struct Workspace {
    scratch: Scratch,
    text: String,
    spans: Vec<(usize, usize)>,
    /// Token hashes of every answer, flat: answer j's are `tokens[tok_spans[j].0..tok_spans[j].1]`
    /// (sorted and de-duplicated for Jaccard, in order for ROUGE-L).
    tokens: Vec<u64>,
    tok_spans: Vec<(usize, usize)>,
    row: Vec<usize>,
    hashes: Vec<u64>,
    firsts: Vec<usize>,
    src: Vec<usize>,
    /// The last question's labels, cluster sizes and cluster probabilities.
    labels: Vec<usize>,
    sizes: Vec<usize>,
    probs: Vec<f64>,
}

impl Workspace {
    /// Whether the buffers hold little enough to keep for the next chunk (a question of very
    /// many or very long answers leaves them large).
    fn worth_keeping(&self) -> bool {
        let words = self.tokens.capacity() + self.hashes.capacity() + 2 * self.spans.capacity();
        self.text.capacity() + 8 * words <= 1 << 20
    }
}

/// Agreement of one question.
pub fn agree(q: &Question<'_>, cfg: &Config) -> Result<Agreement> {
    agree_in(q, cfg, &mut Workspace::default())
}

/// Agreement of many questions, in parallel on `threads` workers (results do not depend on it).
/// An error names the question it comes from.
pub fn agree_batch(questions: &[Question<'_>], cfg: &Config, threads: Option<usize>) -> Result<Vec<Agreement>> {
    let results: Vec<Result<Agreement>> = with_threads(threads, || {
        map_range_init(questions.len(), 1, Workspace::default, |ws, i| {
            agree_in(&questions[i], cfg, ws).map_err(|e| in_question(e, i))
        })
    })?;
    results.into_iter().collect()
}

fn in_question(e: CredoError, i: usize) -> CredoError {
    match e {
        CredoError::InvalidArgument { arg, msg } => CredoError::invalid(arg, format!("question {i}: {msg}")),
        CredoError::NonFinite { arg, msg } => CredoError::non_finite(arg, format!("question {i}: {msg}")),
        CredoError::Shape { arg, msg } => CredoError::shape(arg, format!("question {i}: {msg}")),
        CredoError::Empty { arg, msg } => CredoError::empty(arg, format!("question {i}: {msg}")),
        other @ CredoError::Artifact(_) => other,
    }
}

/// Validates the per-question inputs the method needs.
fn check_question(q: &Question<'_>, method: Method) -> Result<()> {
    let n = q.answers.len();
    if n == 0 {
        return Err(CredoError::empty("answers", "no answers to compare"));
    }
    if let Some((_, offsets)) = q.logprobs {
        crate::error::check_same_len("logprobs", offsets.len().saturating_sub(1), n)?;
    }
    match method {
        Method::Embedding { .. } => {
            let Some((v, dim)) = q.embeddings else {
                return Err(CredoError::invalid("embeddings", "method 'embedding' needs embeddings"));
            };
            if dim == 0 {
                return Err(CredoError::shape("embeddings", "vectors have no dimensions"));
            }
            crate::error::check_same_len("embeddings", v.len() / dim, n)?;
            crate::error::check_finite("embeddings", v)?;
            if let Some(i) = v.chunks_exact(dim).position(|r| r.iter().all(|&x| x == 0.0)) {
                return Err(CredoError::invalid(
                    "embeddings",
                    format!("row {i} is all zeros (no direction)"),
                ));
            }
        }
        Method::Entailment { .. } | Method::Similarity { .. } => {
            let arg = if matches!(method, Method::Entailment { .. }) {
                "entailment"
            } else {
                "similarity"
            };
            let Some(w) = q.matrix else {
                return Err(CredoError::invalid(
                    arg,
                    format!("method '{arg}' needs a pairwise matrix"),
                ));
            };
            if w.len() != n * n {
                return Err(CredoError::shape(
                    arg,
                    format!("expected a {n} x {n} matrix, got {} values", w.len()),
                ));
            }
            if arg == "similarity" {
                spectral::check_similarity(arg, w, n)?;
            } else {
                crate::error::check_finite(arg, w)?;
                if let Some(k) = w.iter().position(|x| !(0.0..=1.0).contains(x)) {
                    return Err(CredoError::invalid(
                        arg,
                        format!(
                            "probabilities must lie in [0, 1], got {} at [{}, {}]",
                            w[k],
                            k / n,
                            k % n
                        ),
                    ));
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn agree_in(q: &Question<'_>, cfg: &Config, ws: &mut Workspace) -> Result<Agreement> {
    let st = analyse(q, cfg, ws)?;
    Ok(Agreement::from_parts(
        ws.labels.clone(),
        ws.sizes.clone(),
        ws.probs.clone(),
        &st,
    ))
}

/// Clusters one question into `ws.labels` / `ws.sizes` / `ws.probs` and returns its numbers.
fn analyse(q: &Question<'_>, cfg: &Config, ws: &mut Workspace) -> Result<Stats> {
    cfg.method.check()?;
    check_question(q, cfg.method)?;
    let lp = q.logprobs.map(|(v, o)| SeqLogProbs::from_tokens(v, o)).transpose()?;
    let n = q.answers.len();
    let Workspace {
        scratch,
        text,
        spans,
        tokens,
        tok_spans,
        row,
        hashes,
        firsts,
        src,
        labels,
        sizes,
        probs,
    } = ws;
    text.clear();
    spans.clear();
    tokens.clear();
    tok_spans.clear();
    let tokenised = matches!(cfg.method, Method::Jaccard { .. } | Method::RougeL { .. });
    let as_set = matches!(cfg.method, Method::Jaccard { .. });
    // Exact grouping of the usual handful of answers in one pass, without per-answer spans.
    let fused = matches!(cfg.method, Method::Exact) && n <= 64;
    if fused {
        exact_fused(q.answers, &cfg.normalize, text, scratch, spans, hashes, firsts, labels);
    } else if cfg.method.needs_text() {
        // Sampled answers often repeat verbatim: normalise each distinct raw answer once (for the
        // usual handful of samples; long lists skip the quadratic look-up). `src[j]` is the first
        // answer equal to answer j.
        let dedupe = n <= 64;
        firsts.clear();
        src.clear();
        for (j, a) in q.answers.iter().enumerate() {
            if dedupe {
                if let Some(&i) = firsts.iter().find(|&&i| q.answers[i] == *a) {
                    spans.push(spans[i]);
                    if tokenised {
                        tok_spans.push(tok_spans[i]);
                    }
                    src.push(i);
                    continue;
                }
                firsts.push(j);
            }
            src.push(j);
            let (start, tok_start) = (text.len(), tokens.len());
            let sink = if tokenised { Some(&mut *tokens) } else { None };
            normalize::normalize_append_tokens(a, &cfg.normalize, text, scratch, sink);
            spans.push((start, text.len()));
            if tokenised {
                if as_set {
                    sort_dedup_tail(tokens, tok_start);
                }
                tok_spans.push((tok_start, tokens.len()));
            }
        }
    }
    let sim = Pairwise::new(q, cfg.method, text, spans, tokens, tok_spans);
    match (cfg.method, cfg.linkage) {
        (Method::Exact, _) if fused => {}
        (Method::Exact, _) => exact_labels(text, spans, src, labels, hashes, firsts),
        (_, Linkage::Greedy) if cfg.method.needs_text() => {
            // Greedy linkage over the distinct answers (each compared with the first members of
            // the clusters so far); a verbatim repeat takes its original's label, as text
            // equivalences are reflexive. Same partition as `cluster_by`, without allocating.
            labels.clear();
            firsts.clear();
            for j in 0..n {
                if src[j] < j {
                    labels.push(labels[src[j]]);
                    continue;
                }
                let label = match firsts.iter().position(|&f| sim.equivalent(f, j, row)) {
                    Some(c) => c,
                    None => {
                        firsts.push(j);
                        firsts.len() - 1
                    }
                };
                labels.push(label);
            }
        }
        _ if cfg.method.needs_text() => {
            // Text equivalences are reflexive, so a verbatim repeat lands in its original's
            // cluster under either linkage: cluster the distinct answers, then copy labels.
            let uniq: Vec<usize> = (0..n).filter(|&j| src[j] == j).collect();
            let lu = match cluster_by::<std::convert::Infallible>(uniq.len(), cfg.linkage, |a, b| {
                Ok(sim.equivalent(uniq[a], uniq[b], row))
            }) {
                Ok(l) => l,
                Err(e) => match e {},
            };
            labels.clear();
            let mut k = 0;
            for j in 0..n {
                if src[j] == j {
                    labels.push(lu[k]);
                    k += 1;
                } else {
                    labels.push(labels[src[j]]);
                }
            }
        }
        _ => match cluster_by::<std::convert::Infallible>(n, cfg.linkage, |i, j| Ok(sim.equivalent(i, j, row))) {
            Ok(l) => *labels = l,
            Err(e) => match e {},
        },
    }
    let mut out = stats_into(labels, lp.as_ref(), sizes, probs);
    if cfg.spectral {
        let s = match cfg.method {
            Method::Exact => spectral::spectral_of_cliques(sizes),
            _ => spectral::spectral(&sim.matrix(n, row), n),
        };
        out.eigval_laplacian = s.eigval_laplacian;
        out.degree = s.degree;
    }
    Ok(out)
}

/// Exact agreement of a few answers (up to 64) into `labels`, in one pass: a verbatim repeat of
/// an earlier answer takes its label (`firsts` holds the distinct raw answers); any other answer
/// is normalised into `text` and compared with each cluster's normalised text (`spans`, with its
/// [`similarity::edge_key`] in `hashes`), by key first; a new cluster keeps its text, an old
/// one's is dropped.
/// Same labels as normalising every answer and then grouping ([`exact_labels`]).
#[allow(clippy::too_many_arguments)]
fn exact_fused(
    answers: &[&str],
    opts: &NormalizeOptions,
    text: &mut String,
    scratch: &mut Scratch,
    spans: &mut Vec<(usize, usize)>,
    hashes: &mut Vec<u64>,
    firsts: &mut Vec<usize>,
    labels: &mut Vec<usize>,
) {
    labels.clear();
    firsts.clear();
    hashes.clear();
    spans.clear();
    for (j, a) in answers.iter().enumerate() {
        if let Some(&i) = firsts.iter().find(|&&i| answers[i] == *a) {
            labels.push(labels[i]);
            continue;
        }
        firsts.push(j);
        let start = text.len();
        normalize::normalize_append_tokens(a, opts, text, scratch, None);
        let s = &text[start..];
        let h = similarity::edge_key(s.as_bytes());
        let found = (0..hashes.len()).find(|&c| hashes[c] == h && &text[spans[c].0..spans[c].1] == s);
        match found {
            Some(c) => {
                text.truncate(start);
                labels.push(c);
            }
            None => {
                labels.push(hashes.len());
                hashes.push(h);
                spans.push((start, text.len()));
            }
        }
    }
}

/// Sorts and de-duplicates `v[from..]` in place (one answer's token set, at the end of the flat
/// token buffer).
fn sort_dedup_tail(v: &mut Vec<u64>, from: usize) {
    let tail = &mut v[from..];
    tail.sort_unstable();
    let mut w = 0;
    for r in 0..tail.len() {
        if w == 0 || tail[r] != tail[w - 1] {
            tail[w] = tail[r];
            w += 1;
        }
    }
    v.truncate(from + w);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(method: Method) -> Config {
        Config {
            method,
            linkage: Linkage::Greedy,
            normalize: NormalizeOptions::default(),
            spectral: true,
        }
    }

    #[test]
    fn sort_dedup_tail_leaves_the_head() {
        let mut v = vec![9, 9, 5, 3, 5, 1, 3];
        sort_dedup_tail(&mut v, 2);
        assert_eq!(v, vec![9, 9, 1, 3, 5]);
        let mut e: Vec<u64> = vec![4];
        sort_dedup_tail(&mut e, 1);
        assert_eq!(e, vec![4]);
    }

    #[test]
    fn exact_majority_and_rate() {
        let answers = ["42", "The answer is 42", "42.0", "41", " 42 "];
        let q = Question {
            answers: &answers,
            ..Default::default()
        };
        let r = agree(&q, &cfg(Method::Exact)).unwrap();
        assert_eq!(r.labels, vec![0, 1, 0, 2, 0]);
        assert_eq!(r.sizes, vec![3, 1, 1]);
        assert_eq!(r.majority_index, 0);
        assert!((r.agreement - 0.6).abs() < 1e-15);
        assert!((r.eigval_laplacian - 3.0).abs() < 1e-12);
        let num = agree(&q, &cfg(Method::Numeric { tolerance: 1e-6 })).unwrap();
        assert_eq!(num.labels, vec![0, 0, 0, 1, 0]);
        assert!((num.eigval_laplacian - 2.0).abs() < 1e-9);
    }

    /// The one-pass exact grouping gives the labels of normalising each answer and numbering
    /// the distinct normalised strings in order of first appearance (repeats, near-repeats that
    /// normalise alike, hash-equal look-ups, more than 64 answers through the general path).
    #[test]
    fn exact_labels_are_those_of_the_normalised_strings() {
        let pool = [
            "Paris",
            "paris!",
            "The Paris",
            "Rome",
            "rome",
            "42",
            "42.0",
            "a",
            "",
            "the",
            "Paris ",
            "x y",
        ];
        let mut seed = 12_345u64;
        for case in 0..3000 {
            let n = 1 + case % 70;
            let answers: Vec<&str> = (0..n)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    pool[(seed >> 33) as usize % pool.len()]
                })
                .collect();
            let normalised: Vec<String> = answers
                .iter()
                .map(|a| normalize(a, &NormalizeOptions::default()))
                .collect();
            let mut want = Vec::new();
            for (j, s) in normalised.iter().enumerate() {
                let first = normalised.iter().position(|t| t == s).unwrap_or(j);
                let label = if first == j {
                    want.iter().max().map_or(0, |&m: &usize| m + 1)
                } else {
                    want[first]
                };
                want.push(label);
            }
            let q = Question {
                answers: &answers,
                ..Default::default()
            };
            assert_eq!(agree(&q, &cfg(Method::Exact)).unwrap().labels, want, "{answers:?}");
        }
    }

    #[test]
    fn toy_entropies_through_agree() {
        let answers = ["yes", "yes", "Yes.", "no"];
        let values = [-0.1, -0.2, -0.1, -0.2, -0.5, -0.4, -0.3, -2.0];
        let offsets = [0, 2, 4, 7, 8];
        let q = Question {
            answers: &answers,
            logprobs: Some((&values, &offsets)),
            ..Default::default()
        };
        let r = agree(&q, &cfg(Method::Exact)).unwrap();
        assert!((r.se_farquhar - 0.208_850).abs() < 5e-7);
        assert!((r.se_kuhn - 5.563_990).abs() < 5e-7);
        assert!((r.se_discrete - 0.562_335).abs() < 5e-7);
        assert!((r.se_lm_polygraph - 0.066_348).abs() < 5e-7);
        assert!(r.agreement > 0.75 && r.agreement <= 1.0);
    }

    #[test]
    fn batch_equals_single_for_any_threads() {
        let qs: Vec<Vec<String>> = (0..50)
            .map(|i| (0..7).map(|j| format!("answer {}", (i * j) % 4)).collect())
            .collect();
        let refs: Vec<Vec<&str>> = qs.iter().map(|q| q.iter().map(String::as_str).collect()).collect();
        let questions: Vec<Question<'_>> = refs
            .iter()
            .map(|a| Question {
                answers: a,
                ..Default::default()
            })
            .collect();
        let c = cfg(Method::Jaccard { threshold: 0.5 });
        let one = agree_batch(&questions, &c, Some(1)).unwrap();
        let two = agree_batch(&questions, &c, Some(2)).unwrap();
        // Debug text compares NaN fields as equal.
        assert_eq!(format!("{one:?}"), format!("{two:?}"));
        for (q, r) in questions.iter().zip(&one) {
            assert_eq!(format!("{:?}", agree(q, &c).unwrap()), format!("{r:?}"));
        }
    }

    #[test]
    fn errors_name_arguments() {
        let q = Question {
            answers: &[],
            ..Default::default()
        };
        assert!(matches!(agree(&q, &cfg(Method::Exact)), Err(CredoError::Empty { ref arg, .. }) if arg == "answers"));
        let a = ["x", "y"];
        let bad = [1.0, 0.5, 0.2, 1.0];
        let q = Question {
            answers: &a,
            matrix: Some(&bad),
            ..Default::default()
        };
        assert!(agree(&q, &cfg(Method::Similarity { threshold: 0.5 })).is_err());
        assert!(agree(&q, &cfg(Method::Entailment { threshold: 0.5 })).is_ok());
        let over = [1.0, 1.5, 0.2, 1.0];
        let q = Question {
            answers: &a,
            matrix: Some(&over),
            ..Default::default()
        };
        assert!(agree(&q, &cfg(Method::Entailment { threshold: 0.5 })).is_err());
        let emb = [1.0, 0.0, 0.0];
        let q = Question {
            answers: &a,
            embeddings: Some((&emb, 2)),
            ..Default::default()
        };
        assert!(matches!(
            agree(&q, &cfg(Method::Embedding { threshold: 0.9 })),
            Err(CredoError::Shape { .. })
        ));
        let qs = [
            Question {
                answers: &a,
                ..Default::default()
            },
            Question {
                answers: &[],
                ..Default::default()
            },
        ];
        let e = agree_batch(&qs, &cfg(Method::Exact), None).unwrap_err();
        assert!(e.to_string().contains("question 1"), "{e}");
    }
}
