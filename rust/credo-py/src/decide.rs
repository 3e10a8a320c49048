//! Bindings of `credo_core::decide`: a compiled model and policy whose calls read their
//! arguments, release the GIL for the whole decision, and return its compact [`Outcome`] (codes
//! of `credo_core::decide::{Rule, Action, Tier}`; the words are Python's).

use credo_core::decide::{self, Action, Calibrator, Decider, DomainRules, Request, Rule, Scorer};
use credo_core::signals::TopkPolicy;
use credo_core::CredoError;
use numpy::PyReadonlyArray1;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyType};
use pyo3::{intern, IntoPyObjectExt};

use crate::arrays::{slice1, Float2};
use crate::calibrate::{PyBeta, PyHistogram, PyIsotonic, PyPlatt, PyTemperature};
use crate::errors::py_result;
use crate::options::Wrap;
use crate::results::IntoField;
use crate::signals::{topk_options, topk_response};

result_class! {
    /// One native decision, before the policy words it. Its fields are Python objects made
    /// once, so that reading one is a struct-member load (the policy reads them all).
    Outcome from decide::Outcome {
        /// The calibrated P(correct).
        confidence: Py<PyFloat>,
        /// The rule that fired (`credo_core::decide::Rule` code).
        rule: Py<PyInt>,
        /// The action (`credo_core::decide::Action` code: the order of `credo.Action`).
        action: Py<PyInt>,
        /// The tier (`credo_core::decide::Tier` code).
        tier: Py<PyInt>,
        /// The threshold the confidence was held to.
        threshold: Py<PyFloat>,
        /// The coverage rule noted low coverage and let the confidence decide.
        coverage_noted: Py<PyBool>,
        /// The confidence to two decimals ×100, as `f"{confidence:.2f}"` prints them.
        hundredths: Py<PyInt>,
    }
}

/// Rules, actions and tiers cross as their codes.
macro_rules! code_field {
    ($($t:ty),+) => {$(
        impl IntoField<Py<PyInt>> for $t {
            fn into_field(self, py: Python<'_>) -> PyResult<Py<PyInt>> {
                Ok((self as u8).into_pyobject(py)?.unbind())
            }
        }
    )+};
}
code_field!(decide::Rule, decide::Action, decide::Tier);

/// The confidence's hundredths cross as an int.
impl IntoField<Py<PyInt>> for u8 {
    fn into_field(self, py: Python<'_>) -> PyResult<Py<PyInt>> {
        Ok(self.into_pyobject(py)?.unbind())
    }
}

/// The band rules, whose decision depends on the confidence only through its two decimals
/// ([`decide::Outcome::hundredths`]): worded once per (domain, rule, action, hundredths).
const BANDS: [Rule; 4] = [Rule::Clears, Rule::GrayCheck, Rule::GrayExhausted, Rule::Below];
/// Actions (`credo_core::decide::Action` codes 0 … 6) and values of the hundredths (0 … 100).
const ACTIONS: usize = 7;
const HUNDREDTHS: usize = 101;
/// Worded decisions per domain.
const WORDED_PER_DOMAIN: usize = BANDS.len() * ACTIONS * HUNDREDTHS;

/// The slot of a band outcome among a domain's worded decisions (None for the other rules).
fn band_slot(o: &decide::Outcome) -> Option<usize> {
    let band = BANDS.iter().position(|&r| r == o.rule)?;
    Some((band * ACTIONS + o.action as usize) * HUNDREDTHS + usize::from(o.hundredths))
}

/// The core model behind one of credo's fitted binary calibrator models.
fn calibrator(obj: &Bound<'_, PyAny>) -> PyResult<Calibrator> {
    if let Ok(m) = obj.cast::<PyIsotonic>() {
        return Ok(Calibrator::Isotonic(m.get().0.clone()));
    }
    if let Ok(m) = obj.cast::<PyPlatt>() {
        return Ok(Calibrator::Platt(m.get().0));
    }
    if let Ok(m) = obj.cast::<PyBeta>() {
        return Ok(Calibrator::Beta(m.get().0));
    }
    if let Ok(m) = obj.cast::<PyHistogram>() {
        return Ok(Calibrator::Histogram(m.get().0.clone()));
    }
    if let Ok(m) = obj.cast::<PyTemperature>() {
        return Ok(Calibrator::Temperature(m.get().0));
    }
    py_result(Err(CredoError::invalid(
        "calibrator",
        "expected one of credo's binary calibrator models (IsotonicModel, PlattModel, BetaModel, \
         HistogramModel, TemperatureModel)",
    )))
}

fn action(code: u8) -> PyResult<Action> {
    py_result(Action::from_code(code))
}

/// One domain's rules: `(threshold, gray_low, gray_high, gray_checks, gray_exhausted, below,
/// strict_action, min_coverage, max_retries, repetition_max, strict, hooked)`, actions as codes.
type DomainTuple = (f64, f64, f64, Vec<u8>, u8, u8, u8, f64, u64, f64, bool, bool);

fn domain(t: DomainTuple) -> PyResult<DomainRules> {
    let (
        threshold,
        gray_low,
        gray_high,
        checks,
        gray_exhausted,
        below,
        strict_action,
        min_coverage,
        max_retries,
        repetition_max,
        strict,
        hooked,
    ) = t;
    Ok(DomainRules {
        threshold,
        gray_low,
        gray_high,
        gray_checks: checks.into_iter().map(action).collect::<PyResult<_>>()?,
        gray_exhausted: action(gray_exhausted)?,
        below: action(below)?,
        strict_action: action(strict_action)?,
        min_coverage,
        max_retries,
        repetition_max,
        strict,
        hooked,
    })
}

/// A fitted confidence model and a policy compiled into one native decision.
///
/// A band outcome without a coverage note (most requests) returns its decision itself: the
/// policy words each (domain, rule, action, confidence to two decimals) once, through `words`,
/// as a dict of the decision's fields; each call copies that dict with its own confidence into a
/// new instance of the decision class. The other outcomes return an [`Outcome`] for the policy
/// to word. The table is bounded by construction (a compiled decider's thresholds do not move).
#[pyclass(frozen, module = "credo._credo")]
struct NativeDecision {
    core: Decider,
    /// `words(domain, rule, confidence, action, tier, threshold) -> dict`, codes as `Outcome`'s.
    words: Py<PyAny>,
    /// The decision class and `object.__new__` (an instance without running `__init__`).
    decision: Py<PyType>,
    new_object: Py<PyAny>,
    /// [`WORDED_PER_DOMAIN`] slots per domain ([`band_slot`]).
    worded: Box<[PyOnceLock<Py<PyDict>>]>,
}

impl NativeDecision {
    /// The decision of `o` (for `req`): the worded decision of a band outcome, else an [`Outcome`].
    fn answer(&self, py: Python<'_>, o: PyResult<decide::Outcome>, req: &Request) -> PyResult<Py<PyAny>> {
        let o = o?;
        let slot = band_slot(&o).filter(|_| !o.coverage_noted);
        let Some(slot) = slot else {
            return Outcome::from_core(py, o)?.into_py_any(py);
        };
        let fields = self.worded[req.domain * WORDED_PER_DOMAIN + slot].get_or_try_init(py, || {
            let args = (
                req.domain,
                o.rule as u8,
                o.confidence,
                o.action as u8,
                o.tier as u8,
                o.threshold,
            );
            self.words
                .bind(py)
                .call1(args)?
                .cast_into::<PyDict>()
                .map(Bound::unbind)
                .map_err(PyErr::from)
        })?;
        let fields = fields.bind(py).copy()?;
        fields.set_item(intern!(py, "confidence"), o.confidence)?;
        let obj = self.new_object.bind(py).call1((self.decision.bind(py),))?;
        // SAFETY: `obj` (an instance of a class with an instance dict) and `fields` (a dict) are
        // live and the GIL is held; the call returns 0, or −1 with an exception set.
        let rc = unsafe { pyo3::ffi::PyObject_GenericSetDict(obj.as_ptr(), fields.as_ptr(), std::ptr::null_mut()) };
        if rc != 0 {
            return Err(PyErr::fetch(py));
        }
        Ok(obj.unbind())
    }
}

#[pymethods]
impl NativeDecision {
    #[new]
    #[pyo3(signature = (features, coef, intercept, to_logit, calibrator, domains, words, decision, vocab_size=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        features: Vec<usize>,
        coef: Vec<f64>,
        intercept: f64,
        to_logit: bool,
        calibrator: Option<&Bound<'_, PyAny>>,
        domains: Vec<DomainTuple>,
        words: Py<PyAny>,
        decision: Py<PyType>,
        vocab_size: Option<usize>,
    ) -> PyResult<Self> {
        let cal = calibrator.map(self::calibrator).transpose()?;
        let scorer = py_result(Scorer::new(features, coef, intercept, to_logit, cal))?;
        let domains = domains.into_iter().map(domain).collect::<PyResult<Vec<_>>>()?;
        if domains.is_empty() {
            return py_result(Err(CredoError::empty("domains", "the policy has no domain")));
        }
        let topk = topk_options(Wrap(TopkPolicy::Bounds), vocab_size, None, -9999.0);
        let worded = (0..domains.len() * WORDED_PER_DOMAIN)
            .map(|_| PyOnceLock::new())
            .collect();
        let new_object = py.get_type::<PyAny>().getattr(intern!(py, "__new__"))?.unbind();
        Ok(Self {
            core: Decider { scorer, domains, topk },
            words,
            decision,
            new_object,
            worded,
        })
    }

    /// The decision from one response's top-k logprobs `[T, k]` (float64/float32, C-contiguous)
    /// and its chosen logprobs `[T]`.
    #[pyo3(signature = (top_logprobs, chosen_logprob, domain, coverage, repetition, attempt, retrieval_available, checks_done))]
    #[allow(clippy::too_many_arguments)]
    fn decide(
        &self,
        py: Python<'_>,
        top_logprobs: &Bound<'_, PyAny>,
        chosen_logprob: Option<PyReadonlyArray1<'_, f64>>,
        domain: usize,
        coverage: Option<f64>,
        repetition: Option<f64>,
        attempt: u64,
        retrieval_available: bool,
        checks_done: u8,
    ) -> PyResult<Py<PyAny>> {
        let req = request(domain, coverage, repetition, attempt, retrieval_available, checks_done);
        let chosen = chosen_logprob
            .as_ref()
            .map(|c| slice1(c, "chosen_logprob"))
            .transpose()?;
        let top = Float2::borrow(top_logprobs, "top_logprobs")?;
        let response = topk_response(&top, chosen, "top_logprobs")?;
        self.answer(py, py_result(py.detach(|| self.core.decide(&response, &req))), &req)
    }

    /// The decision from choice `choice` of a response body (UTF-8 JSON bytes), read natively.
    #[pyo3(signature = (body, choice, domain, coverage, repetition, attempt, retrieval_available, checks_done))]
    #[allow(clippy::too_many_arguments)]
    fn decide_body(
        &self,
        py: Python<'_>,
        body: &Bound<'_, PyBytes>,
        choice: usize,
        domain: usize,
        coverage: Option<f64>,
        repetition: Option<f64>,
        attempt: u64,
        retrieval_available: bool,
        checks_done: u8,
    ) -> PyResult<Py<PyAny>> {
        let req = request(domain, coverage, repetition, attempt, retrieval_available, checks_done);
        let bytes = body.as_bytes();
        self.answer(
            py,
            py_result(py.detach(|| self.core.decide_body(bytes, choice, &req))),
            &req,
        )
    }

    /// The decision from a top-k summary's 13 values (`credo.signals.TopkSummary` order).
    #[pyo3(signature = (summary, domain, coverage, repetition, attempt, retrieval_available, checks_done))]
    #[allow(clippy::too_many_arguments)]
    fn decide_summary(
        &self,
        py: Python<'_>,
        summary: [f64; 13],
        domain: usize,
        coverage: Option<f64>,
        repetition: Option<f64>,
        attempt: u64,
        retrieval_available: bool,
        checks_done: u8,
    ) -> PyResult<Py<PyAny>> {
        let req = request(domain, coverage, repetition, attempt, retrieval_available, checks_done);
        let summary = py_result(decide::summary_from_fields(&summary))?;
        self.answer(py, py_result(self.core.decide_summary(&summary, &req)), &req)
    }

    /// Decisions of many bodies (choice 0 of each, the same request fields) over `threads`
    /// workers; an error names the first failing body by its index.
    #[pyo3(signature = (bodies, domain, coverage, repetition, attempt, retrieval_available, checks_done, threads=None))]
    #[allow(clippy::too_many_arguments)]
    fn decide_bodies(
        &self,
        py: Python<'_>,
        bodies: Vec<Bound<'_, PyBytes>>,
        domain: usize,
        coverage: Option<f64>,
        repetition: Option<f64>,
        attempt: u64,
        retrieval_available: bool,
        checks_done: u8,
        threads: Option<usize>,
    ) -> PyResult<Vec<Py<PyAny>>> {
        let req = request(domain, coverage, repetition, attempt, retrieval_available, checks_done);
        let slices: Vec<&[u8]> = bodies.iter().map(|b| b.as_bytes()).collect();
        let results = py_result(
            py.detach(|| credo_core::parallel::with_threads(threads, || self.core.decide_bodies(&slices, &req))),
        )?;
        results
            .into_iter()
            .map(|r| self.answer(py, py_result(r), &req))
            .collect()
    }
}

fn request(
    domain: usize,
    coverage: Option<f64>,
    repetition: Option<f64>,
    attempt: u64,
    retrieval_available: bool,
    checks_done: u8,
) -> Request {
    Request {
        domain,
        coverage,
        repetition,
        attempt,
        retrieval_available,
        checks_done,
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeDecision>()?;
    m.add_class::<Outcome>()?;
    Ok(())
}
