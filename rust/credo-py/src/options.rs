//! The one conversion of option strings into core enums (polars' `Wrap<T>` pattern): a binding
//! takes `Wrap<Strategy>` and receives the parsed enum, or PyO3 raises the core's
//! `InvalidArgumentError` naming the argument and listing the allowed values. The names live in
//! the core's `choices!` tables only; neither the bindings nor Python repeat them.

use credo_core::choice::{self, Choice};
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::errors::py_err;

/// An option parsed from a Python `str` by its core table.
#[derive(Clone, Copy, Debug)]
pub struct Wrap<T>(pub T);

impl<T: Choice> FromPyObject<'_, '_> for Wrap<T> {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, '_, PyAny>) -> PyResult<Self> {
        extract_as(obj, T::ARG).map(Wrap)
    }
}

/// Option `T` from a Python object where the caller exposes it as argument `arg` (usually
/// [`Choice::ARG`]; another name where one function takes the same option under another name).
pub fn extract_as<T: Choice>(obj: Borrowed<'_, '_, PyAny>, arg: &str) -> PyResult<T> {
    if let Ok(s) = obj.cast::<PyString>() {
        // A str that is not valid Unicode (a lone surrogate) names no option: refused below
        // like any other value, not raised as UnicodeEncodeError.
        if let Ok(text) = s.to_str() {
            return choice::parse_as(text, arg).map_err(py_err);
        }
    }
    let shown = obj.repr().map_or_else(|_| "an object".to_owned(), |r| r.to_string());
    Err(py_err(choice::refuse::<T>(arg, &shown)))
}
