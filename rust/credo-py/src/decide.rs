//! Bindings of `credo_core::decide`: a compiled model and policy whose calls read their
//! arguments, release the GIL for the whole decision, and return its compact [`Outcome`] (codes
//! of `credo_core::decide::{Rule, Action, Tier}`; the words are Python's). From arrays too: the
//! decision is the call's whole work, so other Python threads run while it does, though on a
//! busy 2-core VM a hand-over costs about what a 256 × 20 decision does (the README's threads
//! paragraph); the Python path's short kernels keep the GIL instead ([`crate::arrays::maybe_detach`]).

use credo_core::decide::{self, Action, Calibrator, Decider, DomainRules, Request, Rule, Scorer};
use credo_core::signals::{TopkLogprobs, TopkPolicy, TopkResponse};
use credo_core::CredoError;
use numpy::PyReadonlyArray1;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};
use pyo3::{ffi, intern, IntoPyObjectExt};

use crate::arrays::{c_array, slice1, Float2};
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

/// A keyword argument told apart from its default: None when the caller left it out, the
/// object as given otherwise (an explicit None included, which the Python layer refuses where
/// the default is not None).
struct Given<'py>(Option<Bound<'py, PyAny>>);

impl<'a, 'py> FromPyObject<'a, 'py> for Given<'py> {
    type Error = std::convert::Infallible;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> Result<Self, Self::Error> {
        Ok(Self(Some(obj.to_owned())))
    }
}

impl<'py> Given<'py> {
    /// The object as given, else the default `made`.
    fn or(self, made: impl FnOnce() -> PyResult<Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
        self.0.map_or_else(made, Ok)
    }
}

/// An argument whose default is None, when given as something else.
fn given<'a, 'py>(x: Option<&'a Bound<'py, PyAny>>) -> Option<&'a Bound<'py, PyAny>> {
    x.filter(|x| !x.is_none())
}

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
///
/// `decide` (the public `credo.serving.NativeDecider.decide`: that class is a Python subclass)
/// and `_try_decide_body` read a request in its common form themselves
/// ([`NativeDecision::plain`]): a server's request then holds the GIL only for this module's
/// argument reading and the result, not for a Python layer's checks.
#[pyclass(frozen, subclass, module = "credo._credo")]
struct NativeDecision {
    core: Decider,
    /// `words(domain, rule, confidence, action, tier, threshold) -> dict`, codes as `Outcome`'s.
    words: Py<PyAny>,
    /// The decision class and `object.__new__` (an instance without running `__init__`).
    decision: Py<PyType>,
    new_object: Py<PyAny>,
    /// `object.__new__`'s slot when it is the decision class's own (no `__new__` of its own):
    /// the same instance as `new_object(decision)` without a Python-level call.
    tp_new: Option<ffi::newfunc>,
    /// [`WORDED_PER_DOMAIN`] slots per domain ([`band_slot`]).
    worded: Box<[PyOnceLock<Py<PyDict>>]>,
    /// Domain name → index (the order of `domains`), and the default domain's name and index:
    /// the one copy of the compiled domains, read by both paths ([`Self::plain`], `domain`).
    index: Py<PyDict>,
    default_name: Py<PyString>,
    default: usize,
}

/// The `Py_tp_new` slot of `tp` (null when it has none).
fn tp_new_slot(tp: *mut ffi::PyTypeObject) -> *mut std::ffi::c_void {
    // SAFETY: `tp` is a live type object; `PyType_GetSlot` takes static types since 3.10, the
    // oldest this module is built for.
    unsafe { ffi::PyType_GetSlot(tp, ffi::Py_tp_new) }
}

impl NativeDecision {
    /// The request's arguments when in their common form — a configured domain's name (a `str`)
    /// or None, a float in [0, 1] or None (coverage, repetition), an int in [0, 2⁶⁴) (attempt), a
    /// bool, no checks done (an empty tuple); a left-out argument (None here) is its default —
    /// else None: then the Python layer checks them as `Policy.decide` does and words their
    /// errors.
    fn plain(&self, args: [Option<&Bound<'_, PyAny>>; 6]) -> Option<Request> {
        let [domain, coverage, repetition, attempt, retrieval_available, checks_done] = args;
        let domain = match given(domain) {
            None => self.default,
            Some(d) => self.index_of(d.cast_exact::<PyString>().ok()?).ok()??,
        };
        let unit = |x: Option<&Bound<'_, PyAny>>| -> Option<Option<f64>> {
            let Some(x) = given(x) else {
                return Some(None);
            };
            let v = x.cast_exact::<PyFloat>().ok()?.value();
            (0.0..=1.0).contains(&v).then_some(Some(v)) // NaN is not
        };
        let (coverage, repetition) = (unit(coverage)?, unit(repetition)?);
        let attempt = match attempt {
            None => 0,
            Some(a) => a.cast_exact::<PyInt>().ok()?.extract::<u64>().ok()?,
        };
        let retrieval_available = match retrieval_available {
            None => false,
            Some(r) => r.cast_exact::<PyBool>().ok()?.is_true(),
        };
        if let Some(c) = checks_done {
            if !c.cast_exact::<PyTuple>().ok()?.is_empty() {
                return None;
            }
        }
        Some(request(domain, coverage, repetition, attempt, retrieval_available, 0))
    }

    /// The decision of a request in its common form ([`Self::plain`]) from arrays in the kernel's
    /// layout (C-contiguous, aligned; `top_logprobs` 2-D float64 or float32, `chosen_logprob`
    /// None or 1-D float64), read in place: the worded decision or the [`Outcome`]; None when
    /// they are not in that form (the Python layer then checks and converts them).
    fn try_arrays(
        &self,
        py: Python<'_>,
        top_logprobs: &Bound<'_, PyAny>,
        chosen_logprob: Option<&Bound<'_, PyAny>>,
        args: [Option<&Bound<'_, PyAny>>; 6],
    ) -> PyResult<Option<Py<PyAny>>> {
        let Some(req) = self.plain(args) else {
            return Ok(None);
        };
        let chosen = match chosen_logprob {
            None => None,
            Some(c) => match c_array::<f64>(c, 1) {
                Some((c, _)) => Some(c),
                None => return Ok(None),
            },
        };
        let (top, shape) = if let Some((x, shape)) = c_array::<f64>(top_logprobs, 2) {
            (TopkLogprobs::F64(x), shape)
        } else if let Some((x, shape)) = c_array::<f32>(top_logprobs, 2) {
            (TopkLogprobs::F32(x), shape)
        } else {
            return Ok(None);
        };
        let response = TopkResponse {
            top,
            rows: shape[0],
            width: shape[1],
            chosen,
        };
        let outcome = py_result(py.detach(|| self.core.decide(&response, &req)));
        self.answer(py, outcome, &req).map(Some)
    }

    /// The index of the domain named `name`; None when no domain has that name.
    fn index_of(&self, name: &Bound<'_, PyString>) -> PyResult<Option<usize>> {
        match self.index.bind(name.py()).get_item(name)? {
            Some(i) => i.extract().map(Some),
            None => Ok(None),
        }
    }

    /// A new instance of the decision class, without its `__init__` (as `object.__new__(cls)`).
    fn new_decision<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let Some(new) = self.tp_new else {
            return self.new_object.bind(py).call1((self.decision.bind(py),));
        };
        let args = PyTuple::empty(py);
        // SAFETY: `new` is `object.__new__`'s slot and the decision class's own; called as
        // `type.__call__` calls it (the class, an empty argument tuple, no keywords), with the
        // GIL held. It returns a new reference, or null with an exception set.
        unsafe {
            let obj = new(self.decision.as_ptr().cast(), args.as_ptr(), std::ptr::null_mut());
            Bound::from_owned_ptr_or_err(py, obj)
        }
    }

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
        let obj = self.new_decision(py)?;
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
    #[pyo3(signature = (features, coef, intercept, to_logit, calibrator, domains, words, decision, names, default_domain, vocab_size=None))]
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
        names: Vec<String>,
        default_domain: &str,
        vocab_size: Option<usize>,
    ) -> PyResult<Self> {
        let cal = calibrator.map(self::calibrator).transpose()?;
        let scorer = py_result(Scorer::new(features, coef, intercept, to_logit, cal))?;
        let domains = domains.into_iter().map(domain).collect::<PyResult<Vec<_>>>()?;
        if domains.is_empty() {
            return py_result(Err(CredoError::empty("domains", "the policy has no domain")));
        }
        if names.len() != domains.len() {
            return py_result(Err(CredoError::invalid("names", "one name per domain")));
        }
        let Some(default) = names.iter().position(|n| n == default_domain) else {
            return py_result(Err(CredoError::invalid("default_domain", "not one of the names")));
        };
        let index = PyDict::new(py);
        for (i, name) in names.iter().enumerate() {
            index.set_item(name, i)?;
        }
        let default_name = PyString::new(py, &names[default]).unbind();
        let topk = topk_options(Wrap(TopkPolicy::Bounds), vocab_size, None, -9999.0);
        let worded = (0..domains.len() * WORDED_PER_DOMAIN)
            .map(|_| PyOnceLock::new())
            .collect();
        let new_object = py.get_type::<PyAny>().getattr(intern!(py, "__new__"))?.unbind();
        let own_new = tp_new_slot(decision.as_ptr().cast());
        let tp_new = (!own_new.is_null() && own_new == tp_new_slot(&raw mut ffi::PyBaseObject_Type)).then(|| {
            // SAFETY: a non-null `Py_tp_new` slot is a `newfunc`.
            unsafe { std::mem::transmute::<*mut std::ffi::c_void, ffi::newfunc>(own_new) }
        });
        Ok(Self {
            core: Decider { scorer, domains, topk },
            words,
            decision,
            new_object,
            tp_new,
            worded,
            index: index.unbind(),
            default_name,
            default,
        })
    }

    /// The full path's domain: `(name, index)` of `domain` — a configured domain's name (a
    /// `str`), or None for the default domain — else None (the Python layer words the error
    /// from `domains`).
    #[pyo3(name = "_domain")]
    fn domain<'py>(&self, domain: &Bound<'py, PyAny>) -> PyResult<Option<(Bound<'py, PyAny>, usize)>> {
        if domain.is_none() {
            return Ok(Some((
                self.default_name.bind(domain.py()).clone().into_any(),
                self.default,
            )));
        }
        let Ok(name) = domain.cast::<PyString>() else {
            return Ok(None);
        };
        Ok(self.index_of(name)?.map(|i| (domain.clone(), i)))
    }

    /// The compiled domains' names, in the order of their indices.
    #[getter(_domains)]
    fn domains<'py>(&self, py: Python<'py>) -> Bound<'py, PyList> {
        self.index.bind(py).keys()
    }

    /// The decision from one response's top-k logprobs ``[T, k]`` and chosen logprobs ``[T]`` (as
    /// :func:`credo.formats.from_openai` gives them).
    // `credo.serving.NativeDecider.decide` itself (a subclass's method, no Python frame of its
    // own): the common request — arrays in the kernel's layout ([`c_array`]), the request's
    // arguments in their common form ([`Self::plain`]), no Python hook — is decided here, and
    // one whose band decision is worded ([`Self::answer`]) returns without entering Python;
    // anything else goes to the subclass's `_decide_checked` with the arguments as given (the
    // left-out ones as their defaults) and the outcome when there is one, which checks and
    // converts them as `Policy.decide` does and words the outcome or the error.
    #[pyo3(signature = (top_logprobs, chosen_logprob=None, *, domain=None, coverage=None, repetition=None, attempt=Given(None), retrieval_available=Given(None), checks_done=Given(None), risk=None, verifier=None),
        text_signature = "(self, top_logprobs, chosen_logprob=None, *, domain=None, coverage=None, repetition=None, attempt=0, retrieval_available=False, checks_done=(), risk=None, verifier=None)")]
    #[allow(clippy::too_many_arguments)]
    fn decide<'py>(
        slf: &Bound<'py, Self>,
        top_logprobs: &Bound<'py, PyAny>,
        chosen_logprob: Option<&Bound<'py, PyAny>>,
        domain: Option<&Bound<'py, PyAny>>,
        coverage: Option<&Bound<'py, PyAny>>,
        repetition: Option<&Bound<'py, PyAny>>,
        attempt: Given<'py>,
        retrieval_available: Given<'py>,
        checks_done: Given<'py>,
        risk: Option<&Bound<'py, PyAny>>,
        verifier: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let this = slf.get();
        let mut outcome = None;
        if risk.is_none() && verifier.is_none() {
            let args = [
                domain,
                coverage,
                repetition,
                attempt.0.as_ref(),
                retrieval_available.0.as_ref(),
                checks_done.0.as_ref(),
            ];
            if let Some(o) = this.try_arrays(py, top_logprobs, chosen_logprob, args)? {
                if o.bind(py).get_type().is(this.decision.bind(py)) {
                    return Ok(o);
                }
                outcome = Some(o);
            }
        }
        let none = || py.None().into_bound(py);
        let args = (
            top_logprobs,
            chosen_logprob.map_or_else(none, |c| c.clone()),
            domain.map_or_else(none, |d| d.clone()),
            coverage.map_or_else(none, |c| c.clone()),
            repetition.map_or_else(none, |r| r.clone()),
            attempt.or(|| 0u8.into_bound_py_any(py))?,
            retrieval_available.or(|| false.into_bound_py_any(py))?,
            checks_done.or(|| PyTuple::empty(py).into_bound_py_any(py))?,
            risk.map_or_else(none, |r| r.clone()),
            verifier.map_or_else(none, |v| v.clone()),
            outcome,
        );
        Ok(slf.call_method1(intern!(py, "_decide_checked"), args)?.unbind())
    }

    /// The decision from one response's top-k logprobs `[T, k]` (float64/float32, C-contiguous)
    /// and its chosen logprobs `[T]`, the request's arguments checked (`_decide_checked`).
    #[pyo3(name = "_decide_arrays", signature = (top_logprobs, chosen_logprob, domain, coverage, repetition, attempt, retrieval_available, checks_done))]
    #[allow(clippy::too_many_arguments)]
    fn decide_arrays(
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

    /// [`Self::decide_body`] for a request in its common form ([`Self::plain`]), a `bytes` body
    /// and an int `choice` ≥ 0; None when they are not (the Python layer then checks them).
    #[pyo3(name = "_try_decide_body", signature = (body, choice, domain, coverage, repetition, attempt, retrieval_available, checks_done))]
    #[allow(clippy::too_many_arguments)]
    fn try_decide_body(
        &self,
        py: Python<'_>,
        body: &Bound<'_, PyAny>,
        choice: &Bound<'_, PyAny>,
        domain: &Bound<'_, PyAny>,
        coverage: &Bound<'_, PyAny>,
        repetition: &Bound<'_, PyAny>,
        attempt: &Bound<'_, PyAny>,
        retrieval_available: &Bound<'_, PyAny>,
        checks_done: &Bound<'_, PyAny>,
    ) -> PyResult<Option<Py<PyAny>>> {
        let args = [domain, coverage, repetition, attempt, retrieval_available, checks_done];
        let Some(req) = self.plain(args.map(Some)) else {
            return Ok(None);
        };
        let (Ok(body), Some(choice)) = (
            body.cast_exact::<PyBytes>(),
            choice
                .cast_exact::<PyInt>()
                .ok()
                .and_then(|c| c.extract::<usize>().ok()),
        ) else {
            return Ok(None);
        };
        let bytes = body.as_bytes();
        let outcome = py_result(py.detach(|| self.core.decide_body(bytes, choice, &req)));
        self.answer(py, outcome, &req).map(Some)
    }

    /// The decision from choice `choice` of a response body (UTF-8 JSON bytes), read natively.
    #[pyo3(name = "_decide_body", signature = (body, choice, domain, coverage, repetition, attempt, retrieval_available, checks_done))]
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
    #[pyo3(name = "_decide_summary", signature = (summary, domain, coverage, repetition, attempt, retrieval_available, checks_done))]
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
    #[pyo3(name = "_decide_bodies", signature = (bodies, domain, coverage, repetition, attempt, retrieval_available, checks_done, threads=None))]
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
