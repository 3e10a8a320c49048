//! The batch path's output: one flat column per field, every question's entries in order, so the
//! bindings hand over a few arrays instead of one object per question.

use rayon::prelude::*;

use super::{analyse, in_question, Agreement, Config, Question, Stats, Workspace};
use crate::error::Result;
use crate::parallel::with_threads;

/// Questions per parallel task: big enough to amortise scheduling, small enough to balance.
const CHUNK: usize = 256;

fn int(x: usize) -> i64 {
    i64::try_from(x).unwrap_or(i64::MAX)
}

/// Agreement of many questions as flat columns (integers as i64, NumPy's default). Per-answer `labels` are split by `offsets`
/// (questions + 1 entries); per-cluster `sizes` and `cluster_probs` by `size_offsets`; the other
/// columns hold one value per question.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Columns {
    pub labels: Vec<i64>,
    pub offsets: Vec<i64>,
    pub sizes: Vec<i64>,
    pub cluster_probs: Vec<f64>,
    pub size_offsets: Vec<i64>,
    pub majority: Vec<i64>,
    pub majority_index: Vec<i64>,
    pub agreement: Vec<f64>,
    pub se_discrete: Vec<f64>,
    pub se_farquhar: Vec<f64>,
    pub se_kuhn: Vec<f64>,
    pub se_lm_polygraph: Vec<f64>,
    pub eigval_laplacian: Vec<f64>,
    pub degree: Vec<f64>,
}

impl Columns {
    /// Number of questions.
    #[must_use]
    pub fn len(&self) -> usize {
        self.agreement.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.agreement.is_empty()
    }

    /// Appends one question's agreement.
    pub fn push(&mut self, a: &Agreement) {
        let st = Stats {
            majority: a.majority,
            majority_index: a.majority_index,
            agreement: a.agreement,
            se_discrete: a.se_discrete,
            se_farquhar: a.se_farquhar,
            se_kuhn: a.se_kuhn,
            se_lm_polygraph: a.se_lm_polygraph,
            eigval_laplacian: a.eigval_laplacian,
            degree: a.degree,
        };
        self.push_parts(&a.labels, &a.sizes, &a.cluster_probs, &st);
    }

    fn with_capacity(questions: usize, answers: usize) -> Self {
        let mut c = Self {
            labels: Vec::with_capacity(answers),
            offsets: Vec::with_capacity(questions + 1),
            sizes: Vec::with_capacity(answers),
            cluster_probs: Vec::with_capacity(answers),
            size_offsets: Vec::with_capacity(questions + 1),
            majority: Vec::with_capacity(questions),
            majority_index: Vec::with_capacity(questions),
            agreement: Vec::with_capacity(questions),
            se_discrete: Vec::with_capacity(questions),
            se_farquhar: Vec::with_capacity(questions),
            se_kuhn: Vec::with_capacity(questions),
            se_lm_polygraph: Vec::with_capacity(questions),
            eigval_laplacian: Vec::with_capacity(questions),
            degree: Vec::with_capacity(questions),
        };
        c.offsets.push(0);
        c.size_offsets.push(0);
        c
    }

    fn push_parts(&mut self, labels: &[usize], sizes: &[usize], probs: &[f64], st: &Stats) {
        if self.offsets.is_empty() {
            self.offsets.push(0);
            self.size_offsets.push(0);
        }
        self.labels.extend(labels.iter().map(|&l| int(l)));
        self.offsets.push(int(self.labels.len()));
        self.sizes.extend(sizes.iter().map(|&l| int(l)));
        self.cluster_probs.extend_from_slice(probs);
        self.size_offsets.push(int(self.sizes.len()));
        self.majority.push(int(st.majority));
        self.majority_index.push(int(st.majority_index));
        self.agreement.push(st.agreement);
        self.se_discrete.push(st.se_discrete);
        self.se_farquhar.push(st.se_farquhar);
        self.se_kuhn.push(st.se_kuhn);
        self.se_lm_polygraph.push(st.se_lm_polygraph);
        self.eigval_laplacian.push(st.eigval_laplacian);
        self.degree.push(st.degree);
    }

    /// Appends every question of `other` after this one's.
    fn extend(&mut self, other: Self) {
        if self.offsets.is_empty() {
            *self = other;
            return;
        }
        let (lab, siz) = (int(self.labels.len()), int(self.sizes.len()));
        self.labels.extend(other.labels);
        self.offsets.extend(other.offsets.iter().skip(1).map(|o| o + lab));
        self.sizes.extend(other.sizes);
        self.cluster_probs.extend(other.cluster_probs);
        self.size_offsets
            .extend(other.size_offsets.iter().skip(1).map(|o| o + siz));
        self.majority.extend(other.majority);
        self.majority_index.extend(other.majority_index);
        self.agreement.extend(other.agreement);
        self.se_discrete.extend(other.se_discrete);
        self.se_farquhar.extend(other.se_farquhar);
        self.se_kuhn.extend(other.se_kuhn);
        self.se_lm_polygraph.extend(other.se_lm_polygraph);
        self.eigval_laplacian.extend(other.eigval_laplacian);
        self.degree.extend(other.degree);
    }
}

/// Agreement of many questions as columns, in parallel on fixed chunks of questions (results do
/// not depend on `threads`). An error names the first failing question.
pub fn agree_batch_columns(questions: &[Question<'_>], cfg: &Config, threads: Option<usize>) -> Result<Columns> {
    let parts: Vec<Result<Columns>> = with_threads(threads, || {
        questions
            .par_chunks(CHUNK)
            .enumerate()
            .map(|(c, chunk)| {
                let mut ws = Workspace::default();
                let answers = chunk.iter().map(|q| q.answers.len()).sum();
                let mut cols = Columns::with_capacity(chunk.len(), answers);
                for (k, q) in chunk.iter().enumerate() {
                    let st = analyse(q, cfg, &mut ws).map_err(|e| in_question(e, c * CHUNK + k))?;
                    cols.push_parts(&ws.labels, &ws.sizes, &ws.probs, &st);
                }
                Ok(cols)
            })
            .collect()
    })?;
    let mut out = Columns {
        offsets: vec![0],
        size_offsets: vec![0],
        ..Columns::default()
    };
    for part in parts {
        out.extend(part?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::{agree_batch, Linkage, Method, NormalizeOptions};
    use super::*;

    #[test]
    fn columns_match_per_question_results() {
        let qs: Vec<Vec<String>> = (0..700)
            .map(|i| (0..(i % 9 + 1)).map(|j| format!("a{}", (i + j) % 3)).collect())
            .collect();
        let refs: Vec<Vec<&str>> = qs.iter().map(|q| q.iter().map(String::as_str).collect()).collect();
        let questions: Vec<Question<'_>> = refs
            .iter()
            .map(|a| Question {
                answers: a,
                ..Default::default()
            })
            .collect();
        let cfg = Config {
            method: Method::Jaccard { threshold: 0.5 },
            linkage: Linkage::Greedy,
            normalize: NormalizeOptions::default(),
            spectral: true,
        };
        let cols = agree_batch_columns(&questions, &cfg, Some(2)).unwrap();
        let mut want = Columns {
            offsets: vec![0],
            size_offsets: vec![0],
            ..Columns::default()
        };
        for a in agree_batch(&questions, &cfg, Some(1)).unwrap() {
            want.push(&a);
        }
        assert_eq!(format!("{cols:?}"), format!("{want:?}"));
        assert_eq!(cols.len(), 700);
        assert!(agree_batch_columns(&[], &cfg, None).unwrap().is_empty());
    }
}
