//! Array intake helpers shared by every binding: contiguous read-only slices, and the rule for
//! when to release the GIL.

use numpy::{Element, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// Below this many elements the GIL round-trip costs more than the work it frees.
pub const GIL_MIN_ELEMENTS: usize = 4096;

/// A C-contiguous 1-D slice, or a `ValueError` naming `arg` (the Python layer makes inputs
/// contiguous first, so this only fires on direct use of the private module).
pub fn slice1<'a, T: Element>(arr: &'a PyReadonlyArray1<'_, T>, arg: &str) -> PyResult<&'a [T]> {
    arr.as_slice()
        .map_err(|_| PyValueError::new_err(format!("{arg}: array must be C-contiguous")))
}

/// A C-contiguous 2-D array as (flat slice, rows, cols).
pub fn slice2<'a, T: Element>(arr: &'a PyReadonlyArray2<'_, T>, arg: &str) -> PyResult<(&'a [T], usize, usize)> {
    let (rows, cols) = (arr.shape()[0], arr.shape()[1]);
    let flat = arr
        .as_slice()
        .map_err(|_| PyValueError::new_err(format!("{arg}: array must be C-contiguous")))?;
    Ok((flat, rows, cols))
}

/// Runs `f` with the GIL released when `work` is large enough to be worth it.
pub fn maybe_detach<T: Send>(py: Python<'_>, work: usize, f: impl FnOnce() -> T + Send) -> T {
    if work >= GIL_MIN_ELEMENTS {
        py.detach(f)
    } else {
        f()
    }
}
