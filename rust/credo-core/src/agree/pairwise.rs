//! Per-question pairwise work: token features, exact grouping, and the similarity / equivalence
//! test each method makes between two answers.

use super::{normalize, similarity, Method, Question};

/// Exact equality is transitive, so both linkages reduce to grouping equal strings. A verbatim
/// repeat (`src[j] < j`) takes its original's label; other strings are hashed once and compared
/// only when hashes match.
pub(super) fn exact_labels(
    text: &str,
    spans: &[(usize, usize)],
    src: &[usize],
    labels: &mut Vec<usize>,
    hashes: &mut Vec<u64>,
    firsts: &mut Vec<usize>,
) {
    let get = |i: usize| &text[spans[i].0..spans[i].1];
    labels.clear();
    if spans.len() <= 64 {
        hashes.clear();
        firsts.clear();
        for j in 0..spans.len() {
            if src[j] < j {
                labels.push(labels[src[j]]);
                hashes.push(hashes[src[j]]);
                continue;
            }
            let (h, s) = (similarity::token_hash(get(j)), get(j));
            hashes.push(h);
            let label = firsts
                .iter()
                .position(|&f| hashes[f] == h && get(f) == s)
                .unwrap_or_else(|| {
                    firsts.push(j);
                    firsts.len() - 1
                });
            labels.push(label);
        }
    } else {
        let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::with_capacity(spans.len());
        for j in 0..spans.len() {
            let next = seen.len();
            labels.push(*seen.entry(get(j)).or_insert(next));
        }
    }
}

/// The pairwise comparison a method makes, with its per-answer features precomputed.
pub(super) struct Pairwise<'q, 'w> {
    method: Method,
    q: &'q Question<'q>,
    text: &'w str,
    spans: &'w [(usize, usize)],
    numbers: Vec<Option<f64>>,
    tokens: &'w [u64],
    tok_spans: &'w [(usize, usize)],
    norms: Vec<f64>,
}

impl<'q, 'w> Pairwise<'q, 'w> {
    pub(super) fn new(
        q: &'q Question<'q>,
        method: Method,
        text: &'w str,
        spans: &'w [(usize, usize)],
        tokens: &'w [u64],
        tok_spans: &'w [(usize, usize)],
    ) -> Self {
        let mut numbers = Vec::new();
        let mut norms = Vec::new();
        match method {
            Method::Numeric { .. } => {
                numbers = spans
                    .iter()
                    .map(|&(a, b)| normalize::last_number(&text[a..b]))
                    .collect();
            }
            Method::Embedding { .. } => {
                if let Some((v, dim)) = q.embeddings {
                    norms = v
                        .chunks_exact(dim)
                        .map(|r| r.iter().map(|x| x * x).sum::<f64>().sqrt())
                        .collect();
                }
            }
            _ => {}
        }
        Self {
            method,
            q,
            text,
            spans,
            numbers,
            tokens,
            tok_spans,
            norms,
        }
    }

    fn text(&self, i: usize) -> &str {
        &self.text[self.spans[i].0..self.spans[i].1]
    }

    /// Answer `i`'s token hashes.
    fn tokens(&self, i: usize) -> &[u64] {
        &self.tokens[self.tok_spans[i].0..self.tok_spans[i].1]
    }

    /// Similarity in [0, 1] (for the spectral measures), with i ≠ j.
    fn similarity(&self, i: usize, j: usize, row: &mut Vec<usize>) -> f64 {
        let n = self.q.answers.len();
        match self.method {
            Method::Exact => f64::from(u8::from(self.text(i) == self.text(j))),
            Method::Numeric { .. } => f64::from(u8::from(self.equivalent(i, j, row))),
            Method::Jaccard { .. } => similarity::jaccard_sorted(self.tokens(i), self.tokens(j)),
            Method::RougeL { .. } => similarity::rouge_l(self.tokens(i), self.tokens(j), row),
            Method::Embedding { .. } => {
                let (v, d) = self.q.embeddings.unwrap_or((&[], 1));
                similarity::cosine(
                    &v[i * d..(i + 1) * d],
                    &v[j * d..(j + 1) * d],
                    self.norms[i],
                    self.norms[j],
                )
                .max(0.0)
            }
            Method::Entailment { .. } => {
                let w = self.q.matrix.unwrap_or(&[]);
                0.5 * (w[i * n + j] + w[j * n + i])
            }
            Method::Similarity { .. } => self.q.matrix.unwrap_or(&[])[i * n + j],
        }
    }

    pub(super) fn equivalent(&self, i: usize, j: usize, row: &mut Vec<usize>) -> bool {
        let n = self.q.answers.len();
        match self.method {
            Method::Exact => self.text(i) == self.text(j),
            Method::Numeric { tolerance } => match (self.numbers[i], self.numbers[j]) {
                (Some(a), Some(b)) => similarity::numbers_close(a, b, tolerance),
                (None, None) => self.text(i) == self.text(j),
                _ => false,
            },
            Method::Jaccard { threshold } | Method::RougeL { threshold } | Method::Similarity { threshold } => {
                self.similarity(i, j, row) >= threshold
            }
            Method::Embedding { threshold } => {
                let (v, d) = self.q.embeddings.unwrap_or((&[], 1));
                similarity::cosine(
                    &v[i * d..(i + 1) * d],
                    &v[j * d..(j + 1) * d],
                    self.norms[i],
                    self.norms[j],
                ) >= threshold
            }
            Method::Entailment { threshold } => {
                let w = self.q.matrix.unwrap_or(&[]);
                w[i * n + j] >= threshold && w[j * n + i] >= threshold
            }
        }
    }

    /// The full similarity matrix with a unit diagonal.
    pub(super) fn matrix(&self, n: usize, row: &mut Vec<usize>) -> Vec<f64> {
        let mut w = vec![1.0; n * n];
        for i in 0..n {
            for j in i + 1..n {
                let s = self.similarity(i, j, row);
                w[i * n + j] = s;
                w[j * n + i] = s;
            }
        }
        w
    }
}
