//! Bindings of `credo_core::linear`: the exact logistic-regression fit and a frozen model object
//! with a scalar fast path for one request.

use credo_core::linear::{self, LogisticOptions};
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;

use crate::arrays::{maybe_detach, slice1, slice2, Threads};
use crate::errors::py_result;

result_class! {
    /// A fitted logistic model on the original feature scale, and how the fit went.
    LogisticFit from linear::LogisticFit {
        /// `[d]` coefficients on the original feature scale.
        coef: Py<PyArray1<f64>>,
        intercept: f64,
        /// `[d]` coefficients on the standardised scale (equal to `coef` without
        /// standardisation): comparable across features.
        coef_standardized: Py<PyArray1<f64>>,
        /// `[d]` the features' means used to standardise.
        mean: Py<PyArray1<f64>>,
        /// `[d]` the features' scales used to standardise.
        scale: Py<PyArray1<f64>>,
        /// Newton iterations run.
        n_iter: usize,
        converged: bool,
        /// The objective at the solution.
        objective: f64,
    }
}

/// Fits L2-regularised logistic regression by Newton's method.
#[pyfunction]
#[pyo3(signature = (x, y, sample_weight=None, *, c=1.0, fit_intercept=true, standardize=true, max_iter=100, tol=1e-10))]
#[allow(clippy::too_many_arguments)]
fn logistic_fit<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f64>,
    y: PyReadonlyArray1<'py, f64>,
    sample_weight: Option<PyReadonlyArray1<'py, f64>>,
    c: f64,
    fit_intercept: bool,
    standardize: bool,
    max_iter: usize,
    tol: f64,
) -> PyResult<LogisticFit> {
    let (xs, n, d) = slice2(&x, "X")?;
    let ys = slice1(&y, "y")?;
    let ws = match &sample_weight {
        Some(w) => Some(slice1(w, "sample_weight")?),
        None => None,
    };
    let opts = LogisticOptions {
        c,
        fit_intercept,
        standardize,
        max_iter,
        tol,
    };
    let fit = py_result(maybe_detach(py, xs.len(), || {
        linear::fit_logistic(xs, n, d, ys, ws, &opts)
    })?)?;
    LogisticFit::from_core(py, fit)
}

/// A fitted logistic model: P(y = 1 | x) = σ(intercept + coef · x).
#[pyclass(frozen, module = "credo._credo")]
struct LogisticModel(linear::LogisticModel);

#[pymethods]
impl LogisticModel {
    #[new]
    fn new(coef: Vec<f64>, intercept: f64) -> PyResult<Self> {
        py_result(linear::LogisticModel::new(coef, intercept)).map(Self)
    }

    /// P(y = 1) for one feature vector given as a sequence of floats (no NumPy round trip).
    fn predict_one(&self, x: Vec<f64>) -> PyResult<f64> {
        py_result(self.0.predict_one("x", &x))
    }

    /// P(y = 1) for each row of a C-contiguous float64 matrix.
    #[pyo3(signature = (x, *, threads=None))]
    fn predict_proba<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
        threads: Option<Threads>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let (xs, _, d) = slice2(&x, "X")?;
        let out = py_result(maybe_detach(py, xs.len(), || {
            self.0.predict_proba(xs, d, Threads::count(threads))
        })?)?;
        Ok(out.into_pyarray(py))
    }

    #[getter]
    fn coef(&self) -> Vec<f64> {
        self.0.coef().to_vec()
    }

    #[getter]
    fn intercept(&self) -> f64 {
        self.0.intercept()
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(logistic_fit, m)?)?;
    m.add_class::<LogisticFit>()?;
    m.add_class::<LogisticModel>()?;
    Ok(())
}
