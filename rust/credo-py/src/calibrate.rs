//! Bindings of `credo_core::calibrate`: fit functions returning frozen model classes whose
//! `predict` releases the GIL for large inputs and whose `predict_one` / `__call__` take a plain
//! float (the sub-microsecond path behind `calibrator(0.73)`).

use credo_core::calibrate::{
    beta, histogram, isotonic, multiclass, pava, platt, temperature, BetaModel, Binning, HistogramModel, Increasing,
    IsotonicModel, IsotonicOptions, OutOfBounds, PlattModel, TemperatureModel,
};
use credo_core::choice::Choice;
use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;

use crate::arrays::{maybe_detach, slice1, slice2, to_numpy, with_float2, Float2, Threads};
use crate::errors::py_result;
use crate::options::Wrap;

type Arr1<'py> = Bound<'py, PyArray1<f64>>;

/// The `predict` of every fitted calibrator: scores in, calibrated values out, GIL released on
/// large inputs.
fn predict_array<'py>(
    py: Python<'py>,
    x: &PyReadonlyArray1<'py, f64>,
    predict: impl FnOnce(&[f64]) -> credo_core::Result<Vec<f64>> + Send,
) -> PyResult<Arr1<'py>> {
    let xs = slice1(x, "X")?;
    let out = py_result(maybe_detach(py, xs.len(), || predict(xs))?)?;
    Ok(PyArray1::from_vec(py, out))
}

fn opt_slice<'a>(w: &'a Option<PyReadonlyArray1<'_, f64>>) -> PyResult<Option<&'a [f64]>> {
    w.as_ref().map(|w| slice1(w, "sample_weight")).transpose()
}

fn to_2d<'py>(py: Python<'py>, v: Vec<f64>, n: usize, k: usize) -> PyResult<Bound<'py, PyArray2<f64>>> {
    PyArray1::from_vec(py, v).reshape([n, k])
}

/// The `#[pymethods]` of a binary calibrator model: `predict_one` / `__call__` on one float and
/// `predict` on a float64 vector (all from the core model's own `predict_one` / `predict`, or
/// the methods named in parentheses, the vector method's Python name after `=>`), then the
/// class's own constructor and getters.
macro_rules! binary_calibrator {
    ($class:ident { $($rest:tt)* }) => {
        binary_calibrator! { $class (predict_one, predict => predict) { $($rest)* } }
    };
    ($class:ident ($one:ident, $many:ident => $py_many:ident) { $($rest:tt)* }) => {
        #[pymethods]
        impl $class {
            /// The calibrated value of one float (`calibrator(0.73)`).
            fn predict_one(&self, x: f64) -> PyResult<f64> {
                py_result(self.0.$one(x))
            }
            fn __call__(&self, x: f64) -> PyResult<f64> {
                py_result(self.0.$one(x))
            }
            /// Calibrated values of a contiguous float64 vector.
            fn $py_many<'py>(&self, py: Python<'py>, x: PyReadonlyArray1<'py, f64>) -> PyResult<Arr1<'py>> {
                predict_array(py, &x, |xs| self.0.$many(xs))
            }
            $($rest)*
        }
    };
}

// ---------------------------------------------------------------- isotonic

#[pyclass(frozen, module = "credo._credo", name = "IsotonicModel")]
pub struct PyIsotonic(pub(crate) IsotonicModel);

binary_calibrator! {
PyIsotonic {
    #[new]
    fn new(
        x_thresholds: Vec<f64>,
        y_thresholds: Vec<f64>,
        increasing: bool,
        out_of_bounds: Wrap<OutOfBounds>,
    ) -> PyResult<Self> {
        py_result(IsotonicModel::from_parts(
            x_thresholds,
            y_thresholds,
            increasing,
            out_of_bounds.0,
        ))
        .map(Self)
    }
    #[getter]
    fn x_thresholds<'py>(&self, py: Python<'py>) -> Arr1<'py> {
        PyArray1::from_slice(py, self.0.x_thresholds())
    }
    #[getter]
    fn y_thresholds<'py>(&self, py: Python<'py>) -> Arr1<'py> {
        PyArray1::from_slice(py, self.0.y_thresholds())
    }
    #[getter]
    fn increasing(&self) -> bool {
        self.0.increasing()
    }
    #[getter]
    fn out_of_bounds(&self) -> &'static str {
        Choice::name(self.0.out_of_bounds())
    }
}
}

/// Spearman's rank correlation of x and y (what `increasing='auto'` takes the sign of).
#[pyfunction]
fn spearman_rho(x: PyReadonlyArray1<'_, f64>, y: PyReadonlyArray1<'_, f64>) -> PyResult<f64> {
    let (xs, ys) = (slice1(&x, "x")?, slice1(&y, "y")?);
    py_result(credo_core::error::check_same_len("y", ys.len(), xs.len()))?;
    Ok(credo_core::calibrate::isotonic::spearman_rho(xs, ys))
}

result_class! {
    /// A fitted isotonic map and the fingerprint of the data it was fitted on.
    IsotonicFit {
        /// The fitted map.
        model: Py<PyIsotonic>,
        /// 16 hex digits identifying (x, y, sample_weight).
        data_hash: String,
    }
}

/// Fits an isotonic map (scikit-learn's `IsotonicRegression` semantics); returns the model and
/// the fingerprint of (x, y, sample_weight).
#[pyfunction]
#[pyo3(signature = (x, y, sample_weight=None, *, increasing=Wrap(Increasing::Yes), y_min=None, y_max=None, out_of_bounds=Wrap(OutOfBounds::Nan), resolution=1e-15))]
#[allow(clippy::too_many_arguments)]
fn fit_isotonic(
    py: Python<'_>,
    x: PyReadonlyArray1<'_, f64>,
    y: PyReadonlyArray1<'_, f64>,
    sample_weight: Option<PyReadonlyArray1<'_, f64>>,
    increasing: Wrap<Increasing>,
    y_min: Option<f64>,
    y_max: Option<f64>,
    out_of_bounds: Wrap<OutOfBounds>,
    resolution: f64,
) -> PyResult<IsotonicFit> {
    let opts = IsotonicOptions {
        increasing: increasing.0,
        y_min,
        y_max,
        out_of_bounds: out_of_bounds.0,
        resolution,
    };
    let (xs, ys, ws) = (slice1(&x, "X")?, slice1(&y, "y")?, opt_slice(&sample_weight)?);
    let (model, hash) = py_result(maybe_detach(py, xs.len(), || {
        isotonic::fit_with_fingerprint(xs, ys, ws, &opts)
    })?)?;
    Ok(IsotonicFit {
        model: Py::new(py, PyIsotonic(model))?,
        data_hash: hash,
    })
}

/// The weighted isotonic regression of `y` taken in the given order (PAVA).
#[pyfunction]
#[pyo3(signature = (y, sample_weight=None, *, increasing=true))]
fn isotonic_regression<'py>(
    py: Python<'py>,
    y: PyReadonlyArray1<'py, f64>,
    sample_weight: Option<PyReadonlyArray1<'py, f64>>,
    increasing: bool,
) -> PyResult<Arr1<'py>> {
    let (ys, ws) = (slice1(&y, "y")?, opt_slice(&sample_weight)?);
    let out = py_result(maybe_detach(py, ys.len(), || {
        pava::isotonic_regression(ys, ws, increasing)
    })?)?;
    Ok(PyArray1::from_vec(py, out))
}

// ---------------------------------------------------------------- Platt and beta

#[pyclass(frozen, module = "credo._credo", name = "PlattModel")]
pub struct PyPlatt(pub(crate) PlattModel);

binary_calibrator! {
PyPlatt {
    #[new]
    #[pyo3(signature = (a, b, logit_input=false))]
    fn new(a: f64, b: f64, logit_input: bool) -> PyResult<Self> {
        py_result(PlattModel::new(a, b, logit_input)).map(Self)
    }
    #[getter]
    fn a(&self) -> f64 {
        self.0.a
    }
    #[getter]
    fn b(&self) -> f64 {
        self.0.b
    }
    #[getter]
    fn logit_input(&self) -> bool {
        self.0.logit_input
    }
}
}

/// Fits Platt's sigmoid (scikit-learn's `_sigmoid_calibration`); with `logit_input`, on the
/// log-odds of probabilities.
#[pyfunction]
#[pyo3(signature = (x, y, sample_weight=None, *, logit_input=false))]
fn fit_platt(
    py: Python<'_>,
    x: PyReadonlyArray1<'_, f64>,
    y: PyReadonlyArray1<'_, f64>,
    sample_weight: Option<PyReadonlyArray1<'_, f64>>,
    logit_input: bool,
) -> PyResult<PyPlatt> {
    let (xs, ys, ws) = (slice1(&x, "X")?, slice1(&y, "y")?, opt_slice(&sample_weight)?);
    py_result(maybe_detach(py, xs.len(), || platt::fit(xs, ys, ws, logit_input))?).map(PyPlatt)
}

#[pyclass(frozen, module = "credo._credo", name = "BetaModel")]
pub struct PyBeta(pub(crate) BetaModel);

binary_calibrator! {
PyBeta {
    #[new]
    fn new(a: f64, b: f64, c: f64) -> PyResult<Self> {
        py_result(BetaModel::new(a, b, c)).map(Self)
    }
    #[getter]
    fn a(&self) -> f64 {
        self.0.a
    }
    #[getter]
    fn b(&self) -> f64 {
        self.0.b
    }
    #[getter]
    fn c(&self) -> f64 {
        self.0.c
    }
    #[getter]
    fn midpoint(&self) -> Option<f64> {
        self.0.midpoint()
    }
}
}

/// Fits beta calibration (Kull et al. 2017, the "abm" map).
#[pyfunction]
#[pyo3(signature = (x, y, sample_weight=None))]
fn fit_beta(
    py: Python<'_>,
    x: PyReadonlyArray1<'_, f64>,
    y: PyReadonlyArray1<'_, f64>,
    sample_weight: Option<PyReadonlyArray1<'_, f64>>,
) -> PyResult<PyBeta> {
    let (xs, ys, ws) = (slice1(&x, "X")?, slice1(&y, "y")?, opt_slice(&sample_weight)?);
    py_result(maybe_detach(py, xs.len(), || beta::fit(xs, ys, ws))?).map(PyBeta)
}

// ---------------------------------------------------------------- histogram binning

#[pyclass(frozen, module = "credo._credo", name = "HistogramModel")]
pub struct PyHistogram(pub(crate) HistogramModel);

binary_calibrator! {
PyHistogram {
    #[new]
    fn new(edges: Vec<f64>, values: Vec<f64>, counts: Vec<f64>) -> PyResult<Self> {
        py_result(HistogramModel::from_parts(edges, values, counts)).map(Self)
    }
    #[getter]
    fn edges<'py>(&self, py: Python<'py>) -> Arr1<'py> {
        PyArray1::from_slice(py, self.0.edges())
    }
    #[getter]
    fn values<'py>(&self, py: Python<'py>) -> Arr1<'py> {
        PyArray1::from_slice(py, self.0.values())
    }
    #[getter]
    fn counts<'py>(&self, py: Python<'py>) -> Arr1<'py> {
        PyArray1::from_slice(py, self.0.counts())
    }
}
}

/// Fits histogram binning with `strategy` 'uniform' (equal width) or 'quantile' (equal mass).
#[pyfunction]
#[pyo3(signature = (x, y, sample_weight=None, *, n_bins=10, strategy=Wrap(Binning::EqualWidth)))]
fn fit_histogram(
    py: Python<'_>,
    x: PyReadonlyArray1<'_, f64>,
    y: PyReadonlyArray1<'_, f64>,
    sample_weight: Option<PyReadonlyArray1<'_, f64>>,
    n_bins: usize,
    strategy: Wrap<Binning>,
) -> PyResult<PyHistogram> {
    let binning = strategy.0;
    let (xs, ys, ws) = (slice1(&x, "X")?, slice1(&y, "y")?, opt_slice(&sample_weight)?);
    py_result(maybe_detach(py, xs.len(), || {
        histogram::fit(xs, ys, ws, n_bins, binning)
    })?)
    .map(PyHistogram)
}

// ---------------------------------------------------------------- temperature

#[pyclass(frozen, module = "credo._credo", name = "TemperatureModel")]
pub struct PyTemperature(pub(crate) TemperatureModel);

// One float and a vector are binary decision values f, calibrated to σ(2βf); `predict` is the
// multiclass softmax.
binary_calibrator! {
PyTemperature (predict_one_binary, predict_binary => predict_binary) {
    #[new]
    fn new(beta: f64) -> PyResult<Self> {
        py_result(TemperatureModel::new(beta)).map(Self)
    }
    /// softmax(β·z) of logits, or of ln(p + 1e-12) with `probabilities=True`.
    #[pyo3(signature = (x, *, probabilities=false, threads=None))]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        probabilities: bool,
        threads: Option<Threads>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let m = self.0;
        let x = Float2::borrow(x, "X")?;
        let (out, n, k) = with_float2!(x, "X", |s, n, k| {
            let r = maybe_detach(py, s.len(), || {
                credo_core::parallel::with_threads(Threads::count(threads), || {
                    if probabilities {
                        m.predict_probs(s, n, k)
                    } else {
                        m.predict_logits(s, n, k)
                    }
                })
            })?;
            (py_result(py_result(r)?)?, n, k)
        });
        to_2d(py, out, n, k)
    }
    #[getter]
    fn beta(&self) -> f64 {
        self.0.beta
    }
}
}

result_class! {
    /// A fitted temperature and the fingerprint of the data it was fitted on.
    TemperatureFit {
        /// The fitted model.
        model: Py<PyTemperature>,
        /// 16 hex digits identifying (X, y, sample_weight).
        data_hash: String,
    }
}

/// Fits the inverse temperature on `[n, K]` logits (or probabilities) with integer labels;
/// returns the model and the fingerprint of (X, y, sample_weight).
#[pyfunction]
#[pyo3(signature = (x, y, sample_weight=None, *, probabilities=false, threads=None))]
fn fit_temperature(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    y: PyReadonlyArray1<'_, i64>,
    sample_weight: Option<PyReadonlyArray1<'_, f64>>,
    probabilities: bool,
    threads: Option<Threads>,
) -> PyResult<TemperatureFit> {
    let (ys, ws) = (slice1(&y, "y")?, opt_slice(&sample_weight)?);
    let x = Float2::borrow(x, "X")?;
    let r = with_float2!(x, "X", |s, n, k| maybe_detach(py, s.len(), || {
        credo_core::parallel::with_threads(Threads::count(threads), || {
            temperature::fit_with_fingerprint(s, n, k, ys, ws, probabilities)
        })
    })?);
    let (model, hash) = py_result(py_result(r)?)?;
    Ok(TemperatureFit {
        model: Py::new(py, PyTemperature(model))?,
        data_hash: hash,
    })
}

/// Fits the inverse temperature on binary decision values f (logit rows (−f, f)).
#[pyfunction]
#[pyo3(signature = (x, y, sample_weight=None))]
fn fit_temperature_binary(
    py: Python<'_>,
    x: PyReadonlyArray1<'_, f64>,
    y: PyReadonlyArray1<'_, i64>,
    sample_weight: Option<PyReadonlyArray1<'_, f64>>,
) -> PyResult<PyTemperature> {
    let (xs, ys, ws) = (slice1(&x, "X")?, slice1(&y, "y")?, opt_slice(&sample_weight)?);
    py_result(maybe_detach(py, xs.len(), || temperature::fit_binary(xs, ys, ws))?).map(PyTemperature)
}

// ---------------------------------------------------------------- multiclass helpers

result_class! {
    /// The top class of each row of a probability matrix.
    TopProbability {
        /// `[n]` the largest probability of each row.
        confidence: Py<PyArray1<f64>>,
        /// `[n]` its column (the first on ties).
        index: Py<PyArray1<i64>>,
    }
}

/// The top probability and its column of every row of `[n, K]` probabilities.
#[pyfunction(name = "top_probability")]
fn top_label(py: Python<'_>, p: PyReadonlyArray2<'_, f64>) -> PyResult<TopProbability> {
    let (s, n, k) = slice2(&p, "X")?;
    let (c, i) = py_result(maybe_detach(py, s.len(), || multiclass::top_label(s, n, k))?)?;
    Ok(TopProbability {
        confidence: to_numpy(py, c),
        index: to_numpy(py, i),
    })
}

/// Rows with the top class set to `confidence` and the rest rescaled to sum to 1 − confidence.
#[pyfunction]
fn rescale_top_label<'py>(
    py: Python<'py>,
    p: PyReadonlyArray2<'py, f64>,
    confidence: PyReadonlyArray1<'py, f64>,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let (s, n, k) = slice2(&p, "X")?;
    let c = slice1(&confidence, "confidence")?;
    let out = py_result(maybe_detach(py, s.len(), || multiclass::rescale_top_label(s, n, k, c))?)?;
    to_2d(py, out, n, k)
}

/// Row-normalised one-vs-rest columns (all-zero rows become uniform), as scikit-learn.
#[pyfunction]
fn normalize_one_vs_rest<'py>(py: Python<'py>, p: PyReadonlyArray2<'py, f64>) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let (s, n, k) = slice2(&p, "X")?;
    let out = py_result(maybe_detach(py, s.len(), || {
        multiclass::normalize_one_vs_rest(s, n, k)
    })?)?;
    to_2d(py, out, n, k)
}

/// 16 hex digits identifying raw bytes (the data a calibrator was fitted on).
#[pyfunction]
fn fingerprint(py: Python<'_>, data: PyReadonlyArray1<'_, u8>) -> PyResult<String> {
    let b = slice1(&data, "data")?;
    Ok(format!(
        "{:016x}",
        maybe_detach(py, b.len() / 8, || credo_core::calibrate::fingerprint(b))?
    ))
}

/// [`fingerprint`] of float32 values as the float64 values they equal (no widened copy).
#[pyfunction]
fn fingerprint_f32(py: Python<'_>, data: PyReadonlyArray1<'_, f32>) -> PyResult<String> {
    let x = slice1(&data, "data")?;
    Ok(format!(
        "{:016x}",
        maybe_detach(py, x.len() / 2, || credo_core::calibrate::fingerprint_widened(x))?
    ))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<IsotonicFit>()?;
    m.add_class::<TemperatureFit>()?;
    m.add_class::<TopProbability>()?;
    m.add_class::<PyIsotonic>()?;
    m.add_class::<PyPlatt>()?;
    m.add_class::<PyBeta>()?;
    m.add_class::<PyHistogram>()?;
    m.add_class::<PyTemperature>()?;
    m.add_function(wrap_pyfunction!(fit_isotonic, m)?)?;
    m.add_function(wrap_pyfunction!(spearman_rho, m)?)?;
    m.add_function(wrap_pyfunction!(isotonic_regression, m)?)?;
    m.add_function(wrap_pyfunction!(fit_platt, m)?)?;
    m.add_function(wrap_pyfunction!(fit_beta, m)?)?;
    m.add_function(wrap_pyfunction!(fit_histogram, m)?)?;
    m.add_function(wrap_pyfunction!(fit_temperature, m)?)?;
    m.add_function(wrap_pyfunction!(fit_temperature_binary, m)?)?;
    m.add_function(wrap_pyfunction!(top_label, m)?)?;
    m.add_function(wrap_pyfunction!(rescale_top_label, m)?)?;
    m.add_function(wrap_pyfunction!(normalize_one_vs_rest, m)?)?;
    m.add_function(wrap_pyfunction!(fingerprint, m)?)?;
    m.add_function(wrap_pyfunction!(fingerprint_f32, m)?)?;
    Ok(())
}
