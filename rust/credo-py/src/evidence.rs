//! Bindings of `credo_core::evidence`: coverage of answers by passages. Results come back as
//! plain dicts; `credo.evidence` wraps them in dataclasses.

use credo_core::evidence::{self, CoverageReport, EvidenceOptions};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::arrays::{maybe_detach, Threads};
use crate::errors::py_result;

fn report_to_py<'py>(py: Python<'py>, r: CoverageReport) -> PyResult<Bound<'py, PyDict>> {
    let claims = r
        .claims
        .into_iter()
        .map(|c| {
            let d = PyDict::new(py);
            d.set_item("start", c.start)?;
            d.set_item("end", c.end)?;
            d.set_item("weight", c.weight)?;
            d.set_item("passage", c.passage)?;
            d.set_item("score", c.score)?;
            d.set_item("recall", c.recall)?;
            d.set_item("supported", c.supported)?;
            d.set_item("span", c.span)?;
            d.set_item("missing_numbers", c.missing_numbers)?;
            d.set_item("missing_entities", c.missing_entities)?;
            d.set_item("citations", c.citations)?;
            d.set_item("citation_ok", c.citation_ok)?;
            Ok(d)
        })
        .collect::<PyResult<Vec<_>>>()?;
    let out = PyDict::new(py);
    out.set_item("claims", claims)?;
    out.set_item("coverage", r.coverage)?;
    out.set_item("citation_precision", r.citation_precision)?;
    out.set_item("missing_citations", r.missing_citations)?;
    Ok(out)
}

/// Evidence coverage of one answer by its passages (see `credo.evidence.coverage`).
#[pyfunction]
#[pyo3(signature = (answer, passages, *, min_support=0.6, citations=true, max_chars=2_000_000, max_passages=1_000))]
fn evidence_coverage<'py>(
    py: Python<'py>,
    answer: String,
    passages: Vec<String>,
    min_support: f64,
    citations: bool,
    max_chars: usize,
    max_passages: usize,
) -> PyResult<Bound<'py, PyDict>> {
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
fn evidence_coverage_batch<'py>(
    py: Python<'py>,
    answers: Vec<String>,
    passages: Vec<Vec<String>>,
    min_support: f64,
    citations: bool,
    max_chars: usize,
    max_passages: usize,
    threads: Option<Threads>,
) -> PyResult<Vec<Bound<'py, PyDict>>> {
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
    Ok(())
}
