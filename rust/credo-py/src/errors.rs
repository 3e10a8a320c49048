//! The exception hierarchy. `CredoError` subclasses `ValueError` (what NumPy and scikit-learn
//! users already catch); each `credo_core::CredoError` variant maps to its own subclass.

use credo_core::CredoError;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

pyo3::create_exception!(
    credo,
    CredoError_,
    PyValueError,
    "Base class of every error credo raises."
);
pyo3::create_exception!(
    credo,
    InvalidArgumentError,
    CredoError_,
    "A value outside its allowed domain."
);
pyo3::create_exception!(
    credo,
    NonFiniteError,
    CredoError_,
    "NaN or infinity where a finite number is required."
);
pyo3::create_exception!(
    credo,
    ShapeError,
    CredoError_,
    "Shapes or lengths that do not fit together."
);
pyo3::create_exception!(
    credo,
    EmptyInputError,
    CredoError_,
    "Empty input, or too little data for the statistic."
);
pyo3::create_exception!(
    credo,
    ArtifactError,
    CredoError_,
    "A saved artefact that is corrupt, tampered or from a newer version."
);

/// The one crossing of a core error into Python: each variant raises its own subclass of
/// `credo.CredoError`, with the core's message (which names the argument).
pub fn py_err(e: CredoError) -> PyErr {
    let msg = e.to_string();
    match e {
        CredoError::InvalidArgument { .. } => InvalidArgumentError::new_err(msg),
        CredoError::NonFinite { .. } => NonFiniteError::new_err(msg),
        CredoError::Shape { .. } => ShapeError::new_err(msg),
        CredoError::Empty { .. } => EmptyInputError::new_err(msg),
        CredoError::Artifact(_) => ArtifactError::new_err(msg),
    }
}

/// A core error on its way to Python (`PyErr::from` goes through [`py_err`]).
pub struct PyCredoError(pub CredoError);

impl From<PyCredoError> for PyErr {
    fn from(e: PyCredoError) -> PyErr {
        py_err(e.0)
    }
}

/// What stops a fed batch (the core's `*_fed` functions): a Python error reading an input on the
/// calling thread, or the core's.
pub enum FedError {
    Py(PyErr),
    Core(CredoError),
}

impl From<CredoError> for FedError {
    fn from(e: CredoError) -> Self {
        Self::Core(e)
    }
}

impl From<PyErr> for FedError {
    fn from(e: PyErr) -> Self {
        Self::Py(e)
    }
}

impl FedError {
    pub fn into_py(self) -> PyErr {
        match self {
            Self::Py(e) => e,
            Self::Core(e) => py_err(e),
        }
    }
}

/// An `InvalidArgumentError` naming `arg`, for checks only the bindings can make (dtypes,
/// memory layout, Python types).
pub fn invalid(arg: &str, msg: impl Into<String>) -> PyErr {
    py_err(CredoError::invalid(arg, msg))
}

/// Runs `f`, turning a Rust panic into a `CredoError` instead of PyO3's `PanicException` (a
/// `BaseException` that escapes `except Exception`). Panics are bugs: arguments are validated
/// before any kernel runs, so this is the last line of defence, not a way of reporting errors.
pub fn catch_panic<T>(f: impl FnOnce() -> T) -> PyResult<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        CredoError_::new_err(format!(
            "internal error in credo's native code ({what}); please report it"
        ))
    })
}

/// A core result as a `PyResult` (errors through [`py_err`]).
pub fn py_result<T>(r: credo_core::Result<T>) -> PyResult<T> {
    r.map_err(py_err)
}

/// Panics inside [`catch_panic`]: lets the test suite check that a panic reaches Python as a
/// `CredoError` (nothing else in credo panics on purpose).
#[pyfunction]
fn _panic_for_tests() -> PyResult<()> {
    catch_panic(|| panic!("deliberate panic for the test suite"))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_function(wrap_pyfunction!(_panic_for_tests, m)?)?;
    m.add("CredoError", py.get_type::<CredoError_>())?;
    m.add("InvalidArgumentError", py.get_type::<InvalidArgumentError>())?;
    m.add("NonFiniteError", py.get_type::<NonFiniteError>())?;
    m.add("ShapeError", py.get_type::<ShapeError>())?;
    m.add("EmptyInputError", py.get_type::<EmptyInputError>())?;
    m.add("ArtifactError", py.get_type::<ArtifactError>())?;
    Ok(())
}
