//! Bindings of `credo_core::evidence`: coverage of answers by passages, as result classes;
//! `credo.evidence` adds the claims' text.

use credo_core::evidence::{self, EvidenceOptions};
use pyo3::prelude::*;

use crate::arrays::{maybe_detach, Threads};
use crate::errors::py_result;

result_class! {
    /// How well one claim of an answer is supported (`credo_core::evidence::ClaimSupport`).
    ClaimSupport from evidence::ClaimSupport {
        /// Character span of the claim in the answer.
        start: usize,
        end: usize,
        /// Distinct content tokens (the claim's weight in the coverage).
        weight: usize,
        /// Best passage (0-based).
        passage: usize,
        /// Support score in [0, 1].
        score: f64,
        /// Content recall in the best passage.
        recall: f64,
        supported: bool,
        /// Character span of the supporting window in the best passage.
        span: Option<(usize, usize)>,
        missing_numbers: Vec<String>,
        missing_entities: Vec<String>,
        /// Passage numbers cited by the claim, as written (1-based).
        citations: Vec<usize>,
        /// For each citation: the cited passage exists and supports the claim.
        citation_ok: Vec<bool>,
    }
}

result_class! {
    /// The coverage of one answer (`credo_core::evidence::CoverageReport`).
    CoverageReport {
        claims: Vec<Py<ClaimSupport>>,
        /// Supported share of the claims, weighted by content tokens (None: no checkable claim).
        coverage: Option<f64>,
        /// Share of citations whose passage supports the claim (None: the answer cites nothing).
        citation_precision: Option<f64>,
        /// Indices into `claims` of claims without a citation, in answers that cite at all.
        missing_citations: Vec<usize>,
    }
}

fn report_to_py(py: Python<'_>, r: evidence::CoverageReport) -> PyResult<CoverageReport> {
    let claims = r
        .claims
        .into_iter()
        .map(|c| Py::new(py, ClaimSupport::from_core(py, c)?))
        .collect::<PyResult<_>>()?;
    Ok(CoverageReport {
        claims,
        coverage: r.coverage,
        citation_precision: r.citation_precision,
        missing_citations: r.missing_citations,
    })
}

/// Evidence coverage of one answer by its passages (see `credo.evidence.coverage`).
#[pyfunction]
#[pyo3(signature = (answer, passages, *, min_support=0.6, citations=true, max_chars=2_000_000, max_passages=1_000))]
fn evidence_coverage(
    py: Python<'_>,
    answer: String,
    passages: Vec<String>,
    min_support: f64,
    citations: bool,
    max_chars: usize,
    max_passages: usize,
) -> PyResult<CoverageReport> {
    let opts = EvidenceOptions {
        min_support,
        citations,
        max_chars,
        max_passages,
    };
    let work = answer.len() + passages.iter().map(String::len).sum::<usize>();
    let refs: Vec<&str> = passages.iter().map(String::as_str).collect();
    let r = py_result(maybe_detach(py, work, || evidence::coverage(&answer, &refs, &opts))?)?;
    report_to_py(py, r)
}

/// Evidence coverage of many answers, each with its own passages, in parallel.
#[pyfunction]
#[pyo3(signature = (answers, passages, *, min_support=0.6, citations=true, max_chars=2_000_000, max_passages=1_000, threads=None))]
#[allow(clippy::too_many_arguments)]
fn evidence_coverage_batch(
    py: Python<'_>,
    answers: Vec<String>,
    passages: Vec<Vec<String>>,
    min_support: f64,
    citations: bool,
    max_chars: usize,
    max_passages: usize,
    threads: Option<Threads>,
) -> PyResult<Vec<CoverageReport>> {
    let opts = EvidenceOptions {
        min_support,
        citations,
        max_chars,
        max_passages,
    };
    let a: Vec<&str> = answers.iter().map(String::as_str).collect();
    let p: Vec<Vec<&str>> = passages
        .iter()
        .map(|ps| ps.iter().map(String::as_str).collect())
        .collect();
    let reports = py_result(py.detach(|| evidence::coverage_batch(&a, &p, &opts, Threads::count(threads))))?;
    reports.into_iter().map(|r| report_to_py(py, r)).collect()
}

/// For each needle, whether it occurs in `haystack`, all as bytes (one linear pass; see
/// `credo_core::evidence::text::occurring`). Python encodes with "surrogatepass", so text holding
/// lone surrogates is searched too.
#[pyfunction]
fn text_occurring(py: Python<'_>, haystack: Vec<u8>, needles: Vec<Vec<u8>>) -> PyResult<Vec<bool>> {
    let work = haystack.len() + needles.iter().map(Vec::len).sum::<usize>();
    let refs: Vec<&[u8]> = needles.iter().map(Vec::as_slice).collect();
    maybe_detach(py, work, || evidence::text::occurring(&haystack, &refs))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(text_occurring, m)?)?;
    m.add_function(wrap_pyfunction!(evidence_coverage, m)?)?;
    m.add_function(wrap_pyfunction!(evidence_coverage_batch, m)?)?;
    m.add_class::<ClaimSupport>()?;
    m.add_class::<CoverageReport>()?;
    Ok(())
}
