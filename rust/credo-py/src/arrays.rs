//! Array intake helpers shared by every binding: contiguous read-only slices, and the rule for
//! when to release the GIL.

use numpy::ndarray::Dimension;
use numpy::{Element, PyArrayMethods, PyReadonlyArray, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// Below this many elements the GIL round-trip costs more than the work it frees.
pub const GIL_MIN_ELEMENTS: usize = 4096;

/// A C-contiguous, aligned array of any rank as its flat row-major slice, or a `ValueError`
/// naming `arg` (the Python layer makes inputs contiguous and aligned first, so this only fires
/// on direct use of the private module and on the fast paths that try the kernel before
/// converting). `as_slice` alone would also take Fortran order, whose flat memory is not
/// row-major, and misaligned data (a view at an odd byte offset), which as a Rust slice would be
/// undefined behaviour.
pub fn flat_slice<'a, T: Element, D: Dimension>(arr: &'a PyReadonlyArray<'_, T, D>, arg: &str) -> PyResult<&'a [T]> {
    if !arr.data().is_aligned() {
        return Err(PyValueError::new_err(format!("{arg}: array data must be aligned")));
    }
    if !arr.is_c_contiguous() {
        return Err(PyValueError::new_err(format!("{arg}: array must be C-contiguous")));
    }
    arr.as_slice()
        .map_err(|_| PyValueError::new_err(format!("{arg}: array must be C-contiguous")))
}

/// A C-contiguous, aligned 1-D slice (see [`flat_slice`]).
pub fn slice1<'a, T: Element>(arr: &'a PyReadonlyArray1<'_, T>, arg: &str) -> PyResult<&'a [T]> {
    flat_slice(arr, arg)
}

/// A C-contiguous, aligned 2-D array as (flat slice, rows, cols) (see [`flat_slice`]).
pub fn slice2<'a, T: Element>(arr: &'a PyReadonlyArray2<'_, T>, arg: &str) -> PyResult<(&'a [T], usize, usize)> {
    let (rows, cols) = (arr.shape()[0], arr.shape()[1]);
    Ok((flat_slice(arr, arg)?, rows, cols))
}

/// Runs `f` with the GIL released when `work` is large enough to be worth it.
pub fn maybe_detach<T: Send>(py: Python<'_>, work: usize, f: impl FnOnce() -> T + Send) -> T {
    if work >= GIL_MIN_ELEMENTS {
        py.detach(f)
    } else {
        f()
    }
}
