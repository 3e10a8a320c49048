//! Bindings for `credo_core::conformal`: quantiles, p-values, prediction sets, selective
//! thresholds and claim filtering. Arrays come in C-contiguous and checked by the Python layer.

use credo_core::conformal::bounds::{self, PValueKind};
use credo_core::conformal::quantile::{self, QuantileMode};
use credo_core::conformal::selective::{self, Fwer, MethodName};
use credo_core::conformal::sets::{self, LastLabel, ScoreName};
use credo_core::conformal::{claims, clm, pvalues, rcps};
use std::mem::MaybeUninit;

use numpy::{IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;

use crate::arrays::{maybe_detach, slice1, slice2, to_numpy, with_float2, Float2, Threads};
use crate::errors::{invalid, py_result};
use crate::options::{extract_as, Wrap};

/// The rank k = ceil((n+1)(1-alpha)) (1-based; n + 1 means the quantile is +inf).
#[pyfunction]
fn conformal_rank(n: usize, alpha: f64, mode: Wrap<QuantileMode>) -> PyResult<usize> {
    py_result(quantile::conformal_rank(n, alpha, mode.0))
}

/// The smallest calibration size for which the quantile at level alpha is finite.
#[pyfunction]
fn min_calibration_size(alpha: f64, mode: Wrap<QuantileMode>) -> PyResult<usize> {
    py_result(quantile::min_calibration_size(alpha, mode.0))
}

/// The k-th smallest score (+inf when k > n, or an error with raise_if_infinite).
#[pyfunction]
fn conformal_quantile(
    py: Python<'_>,
    scores: PyReadonlyArray1<'_, f64>,
    alpha: f64,
    mode: Wrap<QuantileMode>,
    raise_if_infinite: bool,
) -> PyResult<f64> {
    let s = slice1(&scores, "scores")?;
    py_result(maybe_detach(py, s.len(), || {
        quantile::conformal_quantile(s, alpha, mode.0, raise_if_infinite)
    })?)
}

/// A fitted calibration set of nonconformity scores: O(log n) conformal p-values.
#[pyclass(frozen, module = "credo._credo")]
pub struct PValues(pvalues::PValues);

#[pymethods]
impl PValues {
    #[new]
    fn new(py: Python<'_>, scores: PyReadonlyArray1<'_, f64>) -> PyResult<Self> {
        let s = slice1(&scores, "scores")?;
        py_result(maybe_detach(py, s.len(), || pvalues::PValues::fit(s))?).map(Self)
    }

    /// (#{cal >= s} + 1) / (n + 1).
    fn p_value(&self, score: f64) -> PyResult<f64> {
        py_result(self.0.p_value(score))
    }

    /// (#{cal > s} + theta * (#{cal = s} + 1)) / (n + 1).
    fn p_value_smoothed(&self, score: f64, theta: f64) -> PyResult<f64> {
        py_result(self.0.p_value_smoothed(score, theta))
    }

    /// p-values of many scores; smoothed when a seed is given.
    #[pyo3(signature = (scores, seed=None))]
    fn p_values<'py>(
        &self,
        py: Python<'py>,
        scores: PyReadonlyArray1<'py, f64>,
        seed: Option<u64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let s = slice1(&scores, "scores")?;
        let out = py_result(maybe_detach(py, s.len(), || self.0.p_values(s, seed))?)?;
        Ok(out.into_pyarray(py))
    }

    /// The sorted calibration scores.
    fn sorted<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, self.0.sorted())
    }

    #[getter]
    fn n(&self) -> usize {
        self.0.n()
    }
}

/// Class labels of any integer dtype, borrowed read-only and read in place (no int64 copy).
enum Labels<'py> {
    I8(PyReadonlyArray1<'py, i8>),
    I16(PyReadonlyArray1<'py, i16>),
    I32(PyReadonlyArray1<'py, i32>),
    I64(PyReadonlyArray1<'py, i64>),
    U8(PyReadonlyArray1<'py, u8>),
    U16(PyReadonlyArray1<'py, u16>),
    U32(PyReadonlyArray1<'py, u32>),
    U64(PyReadonlyArray1<'py, u64>),
}

impl<'py> Labels<'py> {
    fn borrow(arr: &Bound<'py, PyAny>) -> PyResult<Self> {
        macro_rules! try_as {
            ($($v:ident: $t:ty),*) => {$(
                if let Ok(a) = arr.cast::<PyArray1<$t>>() {
                    return Ok(Self::$v(a.readonly()));
                }
            )*};
        }
        try_as!(I64: i64, I32: i32, U8: u8, I8: i8, I16: i16, U16: u16, U32: u32, U64: u64);
        Err(invalid("labels", "expected a 1-D array of integers"))
    }
}

/// `$body` with `$y` the labels' slice, whatever their integer type.
macro_rules! with_labels {
    ($labels:expr, |$y:ident| $body:expr) => {
        match &$labels {
            Labels::I8(a) => {
                let $y = slice1(a, "labels")?;
                $body
            }
            Labels::I16(a) => {
                let $y = slice1(a, "labels")?;
                $body
            }
            Labels::I32(a) => {
                let $y = slice1(a, "labels")?;
                $body
            }
            Labels::I64(a) => {
                let $y = slice1(a, "labels")?;
                $body
            }
            Labels::U8(a) => {
                let $y = slice1(a, "labels")?;
                $body
            }
            Labels::U16(a) => {
                let $y = slice1(a, "labels")?;
                $body
            }
            Labels::U32(a) => {
                let $y = slice1(a, "labels")?;
                $body
            }
            Labels::U64(a) => {
                let $y = slice1(a, "labels")?;
                $body
            }
        }
    };
}

/// Calibration nonconformity scores s(x_i, y_i) for 'lac', 'aps' or 'raps'; `labels` of any
/// integer dtype (each checked to lie in [0, K)).
#[pyfunction]
#[pyo3(signature = (probs, labels, score, randomized, raps_lambda, raps_k_reg, seed))]
#[allow(clippy::too_many_arguments)]
fn class_scores<'py>(
    py: Python<'py>,
    probs: &Bound<'py, PyAny>,
    labels: &Bound<'py, PyAny>,
    score: Wrap<ScoreName>,
    randomized: bool,
    raps_lambda: f64,
    raps_k_reg: usize,
    seed: u64,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let probs = Float2::borrow(probs, "probs")?;
    let labels = Labels::borrow(labels)?;
    let sc = py_result(sets::Score::new(score.0, randomized, raps_lambda, raps_k_reg))?;
    let out = with_float2!(probs, "probs", |p, n, k| with_labels!(labels, |y| py_result(
        maybe_detach(py, p.len(), || sets::calibration_scores(p, n, k, y, sc, seed))?
    )?));
    Ok(out.into_pyarray(py))
}

/// Prediction sets [n, k] (bool) with q one value (`q_single`), one per class (`q_class`) or one
/// per row (`q_row`); `include_last_label` is "true", "false" or "randomized" (APS / RAPS).
#[pyfunction]
#[pyo3(signature = (probs, score, include_last_label, raps_lambda, raps_k_reg, seed, q_single=None, q_class=None, q_row=None, threads=None))]
#[allow(clippy::too_many_arguments)]
fn predict_sets<'py>(
    py: Python<'py>,
    probs: &Bound<'py, PyAny>,
    score: Wrap<ScoreName>,
    include_last_label: Wrap<LastLabel>,
    raps_lambda: f64,
    raps_k_reg: usize,
    seed: u64,
    q_single: Option<f64>,
    q_class: Option<PyReadonlyArray1<'py, f64>>,
    q_row: Option<PyReadonlyArray1<'py, f64>>,
    threads: Option<Threads>,
) -> PyResult<Bound<'py, PyArray2<bool>>> {
    let probs = Float2::borrow(probs, "probs")?;
    let sc = py_result(sets::Score::new(score.0, false, raps_lambda, raps_k_reg))?;
    let last = include_last_label.0;
    let q = match (q_single, &q_class, &q_row) {
        (Some(t), None, None) => sets::Thresholds::Single(t),
        (None, Some(v), None) => sets::Thresholds::PerClass(slice1(v, "thresholds")?),
        (None, None, Some(v)) => sets::Thresholds::PerRow(slice1(v, "thresholds")?),
        _ => return Err(invalid("thresholds", "give exactly one of q_single, q_class, q_row")),
    };
    // The kernel writes the bools straight into the NumPy array it returns (no Vec, no zeroing).
    with_float2!(probs, "probs", |p, n, k| {
        // SAFETY: uninitialised until predict_sets_into has written every bool; on an error
        // the array is dropped unread.
        let arr = unsafe { PyArray2::<bool>::new(py, [n, k], false) };
        let out: &mut [MaybeUninit<bool>] = if n * k == 0 {
            &mut []
        } else {
            // SAFETY: a new C-contiguous array of n * k bools; this slice is the only access to
            // its buffer until the array is returned.
            unsafe { std::slice::from_raw_parts_mut(arr.data().cast::<MaybeUninit<bool>>(), n * k) }
        };
        py_result(maybe_detach(py, p.len(), || {
            credo_core::parallel::with_threads(Threads::count(threads), || {
                sets::predict_sets_into(p, n, k, sc, last, q, seed, out)
            })
            .and_then(|r| r)
        })?)?;
        Ok(arr)
    })
}

/// MAPIE-compatible Hoeffding-Bentkus p-value of H0: risk > alpha (see docs/definitions/conformal.md#learn-then-test).
#[pyfunction]
#[pyo3(signature = (r_hat, n, alpha, binary=false))]
fn hb_p_value(r_hat: f64, n: u64, alpha: f64, binary: bool) -> f64 {
    bounds::hb_p_value(r_hat, n, alpha, binary)
}

/// p-value of H0: risk > alpha after `errors` errors among `n` ('hoeffding_bentkus' or 'binomial').
#[pyfunction]
fn risk_p_value(errors: u64, n: u64, alpha: f64, kind: &Bound<'_, PyAny>) -> PyResult<f64> {
    extract_as::<PValueKind>(kind.as_borrowed(), "kind").map(|k| k.p_value(errors, n, alpha))
}

/// The (1 - delta) upper confidence bound on a risk from `errors` among `n`.
#[pyfunction]
fn risk_upper_bound(errors: u64, n: u64, delta: f64, kind: &Bound<'_, PyAny>) -> PyResult<f64> {
    extract_as::<PValueKind>(kind.as_borrowed(), "kind").map(|k| k.upper_bound(errors, n, delta))
}

/// SGR's bound B*: BinomCDF(errors; m, b) = delta solved by bisection.
#[pyfunction]
fn sgr_bound(errors: u64, m: u64, delta: f64) -> f64 {
    bounds::sgr_bound(errors, m, delta)
}

/// Conformal risk control's adjusted risk n/(n+1) r_hat + B/(n+1).
#[pyfunction]
#[pyo3(signature = (r_hat, n, b=1.0))]
fn crc_r_hat_plus(r_hat: f64, n: u64, b: f64) -> f64 {
    bounds::crc_r_hat_plus(r_hat, n, b)
}

/// RCPS upper confidence bound on the mean of losses in [0, 1] ('hoeffding', 'bernstein', 'wsr').
#[pyfunction]
fn rcps_upper_bound(
    py: Python<'_>,
    losses: PyReadonlyArray1<'_, f64>,
    delta: f64,
    bound: Wrap<rcps::Bound>,
) -> PyResult<f64> {
    let x = slice1(&losses, "losses")?;
    py_result(maybe_detach(py, x.len(), || rcps::upper_bound(x, delta, bound.0))?)
}

result_class! {
    /// A fitted selective-answering threshold and what it buys on the calibration data
    /// (`credo_core::conformal::selective::Selection`).
    Selection {
        /// Answer iff confidence ≥ threshold (+inf when infeasible).
        threshold: f64,
        /// Whether some threshold certifies the target.
        feasible: bool,
        /// The certified bound (LTT: the upper bound on the selective risk; SGR: B*; CRC: the
        /// adjusted joint risk); 1.0 when infeasible.
        risk_bound: f64,
        /// Fraction of calibration points answered.
        coverage: f64,
        /// Error rate among the answered calibration points (0 when none).
        empirical_risk: f64,
        /// Calibration points answered.
        n_answered: usize,
        /// Errors among them.
        n_errors: usize,
    }
}

impl From<selective::Selection> for Selection {
    fn from(s: selective::Selection) -> Self {
        Self {
            threshold: s.threshold,
            feasible: s.feasible,
            risk_bound: s.risk_bound,
            coverage: s.coverage,
            empirical_risk: s.empirical_risk,
            n_answered: s.n_answered,
            n_errors: s.n_errors,
        }
    }
}

/// Fits a selective-answering threshold.
#[pyfunction]
#[pyo3(signature = (confidence, correct, target_risk, delta, method, p_value=Wrap(PValueKind::Binomial), fwer=Wrap(Fwer::FixedSequence), grid=50))]
#[allow(clippy::too_many_arguments)]
fn selective_fit(
    py: Python<'_>,
    confidence: PyReadonlyArray1<'_, f64>,
    correct: PyReadonlyArray1<'_, bool>,
    target_risk: f64,
    delta: f64,
    method: Wrap<MethodName>,
    p_value: Wrap<PValueKind>,
    fwer: Wrap<Fwer>,
    grid: usize,
) -> PyResult<Selection> {
    let c = slice1(&confidence, "confidence")?;
    let y = slice1(&correct, "correct")?;
    let m = selective::Method::new(method.0, p_value.0, fwer.0, grid);
    let s = py_result(maybe_detach(py, c.len(), || {
        selective::fit(c, y, target_risk, delta, m)
    })?)?;
    Ok(s.into())
}

result_class! {
    /// A conformal factuality threshold: keep the claims whose score exceeds it.
    ClaimThreshold {
        /// The threshold τ.
        threshold: f64,
        /// `[n_prompts]` each calibration prompt's score (the largest score of a wrong claim).
        scores: Py<PyArray1<f64>>,
    }
}

/// Conformal factuality threshold from per-claim scores grouped by prompt (`offsets`).
#[pyfunction]
fn claim_threshold(
    py: Python<'_>,
    scores: PyReadonlyArray1<'_, f64>,
    correct: PyReadonlyArray1<'_, bool>,
    offsets: PyReadonlyArray1<'_, u64>,
    alpha: f64,
    mode: Wrap<QuantileMode>,
) -> PyResult<ClaimThreshold> {
    let s = slice1(&scores, "scores")?;
    let y = slice1(&correct, "labels")?;
    let off: Vec<usize> = slice1(&offsets, "offsets")?.iter().map(|&o| o as usize).collect();
    let (t, r) = py_result(claims::claim_threshold(s, y, &off, alpha, mode.0))?;
    Ok(ClaimThreshold {
        threshold: t,
        scores: to_numpy(py, r),
    })
}

/// CLM cumulative set scores [n, g] ('geometric', 'first_k', 'max', 'sum').
#[pyfunction]
fn clm_set_scores<'py>(
    py: Python<'py>,
    scores: PyReadonlyArray2<'py, f64>,
    kind: Wrap<clm::SetScore>,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let (p, n, g) = slice2(&scores, "scores")?;
    let out = py_result(clm::set_scores(p, n, g, kind.0))?;
    out.into_pyarray(py).reshape([n, g])
}

/// CLM stop index per row: #{j : cummax_j < lam}, clipped to [0, g - 1].
#[pyfunction]
fn clm_stop_index<'py>(
    py: Python<'py>,
    set_scores: PyReadonlyArray2<'py, f64>,
    lam: f64,
) -> PyResult<Bound<'py, PyArray1<u64>>> {
    let (s, n, g) = slice2(&set_scores, "set_scores")?;
    let out = py_result(clm::stop_index(s, n, g, lam))?;
    Ok(out.into_iter().map(|i| i as u64).collect::<Vec<_>>().into_pyarray(py))
}

/// Pareto front of (loss, cost), sorted by increasing loss.
#[pyfunction]
fn clm_pareto_front<'py>(
    py: Python<'py>,
    loss: PyReadonlyArray1<'py, f64>,
    cost: PyReadonlyArray1<'py, f64>,
) -> PyResult<Bound<'py, PyArray1<u64>>> {
    let l = slice1(&loss, "loss")?;
    let c = slice1(&cost, "cost")?;
    let out = py_result(clm::pareto_front(l, c))?;
    Ok(out.into_iter().map(|i| i as u64).collect::<Vec<_>>().into_pyarray(py))
}

/// CLM p-value BinomCDF(n * loss; n, epsilon).
#[pyfunction]
fn clm_p_value(loss: f64, n: u64, epsilon: f64) -> f64 {
    clm::p_value(loss, n, epsilon)
}

/// CLM fixed-sequence selection over `order`: the last index with p <= delta before the first failure.
#[pyfunction]
fn clm_select(
    loss: PyReadonlyArray1<'_, f64>,
    order: PyReadonlyArray1<'_, u64>,
    n: u64,
    epsilon: f64,
    delta: f64,
) -> PyResult<Option<usize>> {
    let l = slice1(&loss, "loss")?;
    let o: Vec<usize> = slice1(&order, "order")?.iter().map(|&i| i as usize).collect();
    py_result(clm::select(l, &o, n, epsilon, delta))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Selection>()?;
    m.add_class::<ClaimThreshold>()?;
    m.add_function(wrap_pyfunction!(conformal_rank, m)?)?;
    m.add_function(wrap_pyfunction!(min_calibration_size, m)?)?;
    m.add_function(wrap_pyfunction!(conformal_quantile, m)?)?;
    m.add_class::<PValues>()?;
    m.add_function(wrap_pyfunction!(class_scores, m)?)?;
    m.add_function(wrap_pyfunction!(predict_sets, m)?)?;
    m.add_function(wrap_pyfunction!(hb_p_value, m)?)?;
    m.add_function(wrap_pyfunction!(risk_p_value, m)?)?;
    m.add_function(wrap_pyfunction!(risk_upper_bound, m)?)?;
    m.add_function(wrap_pyfunction!(sgr_bound, m)?)?;
    m.add_function(wrap_pyfunction!(crc_r_hat_plus, m)?)?;
    m.add_function(wrap_pyfunction!(rcps_upper_bound, m)?)?;
    m.add_function(wrap_pyfunction!(selective_fit, m)?)?;
    m.add_function(wrap_pyfunction!(claim_threshold, m)?)?;
    m.add_function(wrap_pyfunction!(clm_set_scores, m)?)?;
    m.add_function(wrap_pyfunction!(clm_stop_index, m)?)?;
    m.add_function(wrap_pyfunction!(clm_pareto_front, m)?)?;
    m.add_function(wrap_pyfunction!(clm_p_value, m)?)?;
    m.add_function(wrap_pyfunction!(clm_select, m)?)?;
    Ok(())
}
