//! Array intake helpers shared by every binding: contiguous read-only slices, and the rule for
//! when to release the GIL.

use numpy::{Element, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// Below this many elements the GIL round-trip costs more than the work it frees.
pub const GIL_MIN_ELEMENTS: usize = 4096;

/// A C-contiguous, aligned 1-D slice, or a `ValueError` naming `arg` (the Python layer makes
/// inputs contiguous and aligned first, so this only fires on direct use of the private module
/// and on the fast paths that try the kernel before converting).
pub fn slice1<'a, T: Element>(arr: &'a PyReadonlyArray1<'_, T>, arg: &str) -> PyResult<&'a [T]> {
    check_aligned(arr.data(), arg)?;
    arr.as_slice()
        .map_err(|_| PyValueError::new_err(format!("{arg}: array must be C-contiguous")))
}

/// `as_slice` also accepts Fortran order, whose flat memory is not row-major: refuse it.
pub fn check_c_order(c_contiguous: bool, arg: &str) -> PyResult<()> {
    if c_contiguous {
        Ok(())
    } else {
        Err(PyValueError::new_err(format!("{arg}: array must be C-contiguous")))
    }
}

/// A C-contiguous, aligned 2-D array as (flat slice, rows, cols).
pub fn slice2<'a, T: Element>(arr: &'a PyReadonlyArray2<'_, T>, arg: &str) -> PyResult<(&'a [T], usize, usize)> {
    let (rows, cols) = (arr.shape()[0], arr.shape()[1]);
    check_aligned(arr.data(), arg)?;
    check_c_order(arr.is_c_contiguous(), arg)?;
    let flat = arr
        .as_slice()
        .map_err(|_| PyValueError::new_err(format!("{arg}: array must be C-contiguous")))?;
    Ok((flat, rows, cols))
}

/// NumPy can hold misaligned data (a view at an odd byte offset); a Rust slice of it would be
/// undefined behaviour, so it is refused.
pub fn check_aligned<T>(data: *mut T, arg: &str) -> PyResult<()> {
    if data.is_aligned() {
        Ok(())
    } else {
        Err(PyValueError::new_err(format!("{arg}: array data must be aligned")))
    }
}

/// Runs `f` with the GIL released when `work` is large enough to be worth it.
pub fn maybe_detach<T: Send>(py: Python<'_>, work: usize, f: impl FnOnce() -> T + Send) -> T {
    if work >= GIL_MIN_ELEMENTS {
        py.detach(f)
    } else {
        f()
    }
}
