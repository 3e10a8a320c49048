//! Evidence coverage: how much of an answer the given passages support, claim by claim.
//!
//! An answer is split into claims (sentences, then clauses). A claim's support by a passage is the
//! recall of its content tokens (stop words removed, plurals folded) in the passage, and it counts
//! only when every number and every named entity (a capitalised word inside a sentence) of the
//! claim appears in the passage exactly. The best passage per claim gives the claim's score and
//! the supporting span (the shortest passage window holding every matched token). Coverage is
//! the supported share of claims weighted by their number of content tokens. Answers that cite
//! `[n]` markers (1-based passage numbers) also get citation precision (cited passages that
//! support their claim) and the claims that carry no citation.

mod support;
pub mod text;

use crate::error::{CredoError, Result};
pub use support::{ClaimSupport, CoverageReport};

/// Knobs of [`coverage`].
#[derive(Debug, Clone, Copy)]
pub struct EvidenceOptions {
    /// Minimal content-token recall for a passage to support a claim, in (0, 1].
    pub min_support: f64,
    /// Check `[n]` citation markers.
    pub citations: bool,
    /// Longest accepted answer or passage, in characters (a guard against runaway inputs).
    pub max_chars: usize,
    /// Most passages accepted per answer: every claim is scored against every passage, so the
    /// work is (claims × passages); this bound keeps it linear in the answer.
    pub max_passages: usize,
}

impl Default for EvidenceOptions {
    fn default() -> Self {
        Self {
            min_support: 0.6,
            citations: true,
            max_chars: 2_000_000,
            max_passages: 1_000,
        }
    }
}

fn check(answer: &str, passages: &[&str], opts: &EvidenceOptions, prefix: &str) -> Result<()> {
    if !(opts.min_support > 0.0 && opts.min_support <= 1.0) {
        return Err(CredoError::invalid(
            "min_support",
            format!("must lie in (0, 1], got {}", opts.min_support),
        ));
    }
    if passages.is_empty() {
        return Err(CredoError::empty(
            format!("{prefix}passages"),
            "no passages given (pass at least one)",
        ));
    }
    if passages.len() > opts.max_passages {
        return Err(CredoError::invalid(
            format!("{prefix}passages"),
            format!(
                "{} passages exceed max_passages = {}",
                passages.len(),
                opts.max_passages
            ),
        ));
    }
    let too_long = |arg: String, s: &str| -> Result<()> {
        // Byte length bounds the character count from above; count only when it may exceed.
        if s.len() > opts.max_chars && s.chars().count() > opts.max_chars {
            return Err(CredoError::invalid(
                arg,
                format!("{} characters exceed max_chars = {}", s.chars().count(), opts.max_chars),
            ));
        }
        Ok(())
    };
    too_long(format!("{prefix}answer"), answer)?;
    for (i, p) in passages.iter().enumerate() {
        too_long(format!("{prefix}passages[{i}]"), p)?;
    }
    Ok(())
}

/// Coverage of one answer by its passages.
pub fn coverage(answer: &str, passages: &[&str], opts: &EvidenceOptions) -> Result<CoverageReport> {
    check(answer, passages, opts, "")?;
    Ok(support::evaluate(answer, passages, opts))
}

/// [`coverage`] for many answers, each with its own passages, in parallel (results do not depend
/// on the thread count: each answer is scored independently).
pub fn coverage_batch(
    answers: &[&str],
    passages: &[Vec<&str>],
    opts: &EvidenceOptions,
    threads: Option<usize>,
) -> Result<Vec<CoverageReport>> {
    crate::error::check_same_len("passages", passages.len(), answers.len())?;
    for (i, (a, p)) in answers.iter().zip(passages).enumerate() {
        check(a, p, opts, &format!("[{i}]: "))?;
    }
    crate::parallel::with_threads(threads, || {
        crate::parallel::map_range(answers.len(), 1, |i| support::evaluate(answers[i], &passages[i], opts))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_bad_input() {
        let o = EvidenceOptions::default();
        assert!(matches!(coverage("x", &[], &o), Err(CredoError::Empty { .. })));
        let bad = EvidenceOptions { min_support: 0.0, ..o };
        assert!(coverage("x", &["y"], &bad).is_err());
        let small = EvidenceOptions { max_chars: 10, ..o };
        let e = coverage("short", &["fine", "this passage is far too long"], &small).unwrap_err();
        assert!(e.to_string().starts_with("passages[1]:"), "{e}");
        assert!(coverage_batch(&["a"], &[], &o, None).is_err());
        let few = EvidenceOptions { max_passages: 2, ..o };
        let e = coverage("x", &["a", "b", "c"], &few).unwrap_err();
        assert_eq!(e.to_string(), "passages: 3 passages exceed max_passages = 2");
        assert!(coverage("x", &["a", "b"], &few).is_ok());
    }

    #[test]
    fn batch_equals_single() {
        let o = EvidenceOptions::default();
        let answers = ["Paris is the capital of France.", "The Moon orbits Mars [1]."];
        let passages = vec![
            vec!["Paris is the capital and largest city of France."],
            vec!["The Moon orbits the Earth."],
        ];
        let batch = coverage_batch(&answers, &passages, &o, Some(2)).unwrap();
        for (i, r) in batch.iter().enumerate() {
            assert_eq!(r, &coverage(answers[i], &passages[i], &o).unwrap());
        }
    }
}
