//! Array intake helpers shared by every binding: contiguous read-only slices, and the rule for
//! when to release the GIL.

use numpy::ndarray::Dimension;
use numpy::{
    Element, PyArray1, PyArray2, PyArrayDescrMethods, PyArrayMethods, PyReadonlyArray, PyReadonlyArray1,
    PyReadonlyArray2, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::prelude::*;
use pyo3::types::PyBool;

use crate::errors::{catch_panic, invalid};

/// A vector handed to NumPy without a copy, for a result class's field.
pub fn to_numpy<T: Element>(py: Python<'_>, v: Vec<T>) -> Py<PyArray1<T>> {
    PyArray1::from_vec(py, v).unbind()
}

/// Below this many elements the GIL round-trip costs more than the work it frees.
pub const GIL_MIN_ELEMENTS: usize = 4096;

/// A C-contiguous, aligned array of any rank as its flat row-major slice, or an error
/// naming `arg` (the Python layer makes inputs contiguous and aligned first, so this only fires
/// on direct use of the private module and on the fast paths that try the kernel before
/// converting). `as_slice` alone would also take Fortran order, whose flat memory is not
/// row-major, and misaligned data (a view at an odd byte offset), which as a Rust slice would be
/// undefined behaviour.
pub fn flat_slice<'a, T: Element, D: Dimension>(arr: &'a PyReadonlyArray<'_, T, D>, arg: &str) -> PyResult<&'a [T]> {
    if !arr.data().is_aligned() {
        return Err(invalid(arg, "array data must be aligned"));
    }
    if !arr.is_c_contiguous() {
        return Err(invalid(arg, "array must be C-contiguous"));
    }
    arr.as_slice().map_err(|_| invalid(arg, "array must be C-contiguous"))
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

/// A C-contiguous, aligned `ndim`-D array of `T` (native byte order) read in place: its flat
/// row-major memory and its shape; None for anything else (the caller's Python layer converts it
/// or names what is wrong), and nothing raised.
///
/// For per-request calls, whose fixed costs are a fair share of the call and are paid with the
/// GIL held: this takes no entry in numpy's borrow registry (a lock and two hash-map updates per
/// array). The registry orders only borrows that Rust code takes through it; a Python thread
/// writing into the array while the GIL is released races the read with or without it (as with
/// numpy's own kernels, which also read without the GIL). Callers pass arrays they hold for the
/// call; credo takes one writable borrow anywhere (a metric's `counts` accumulator), which a
/// caller would have to pass as both at once from two threads to race this read.
pub fn c_array<'a, T: Element>(arr: &'a Bound<'_, PyAny>, ndim: usize) -> Option<(&'a [T], &'a [usize])> {
    let a = arr.cast::<PyUntypedArray>().ok()?;
    if a.ndim() != ndim || !a.is_c_contiguous() || !a.dtype().is_equiv_to(&T::get_dtype(arr.py())) {
        return None;
    }
    // SAFETY: `a` is a live ndarray (checked above), whose fields numpy keeps valid while `arr`
    // holds it.
    let fields = unsafe { &*numpy::npyffi::objects::_PyArray_GET_ITEM_DATA(a.as_array_ptr()) };
    if fields.flags & numpy::npyffi::NPY_ARRAY_ALIGNED == 0 {
        return None;
    }
    let shape: &'a [usize] = a.shape();
    let len = shape.iter().product::<usize>();
    if len == 0 {
        return Some((&[], shape));
    }
    // SAFETY: a C-contiguous, aligned array of `len` elements of `T` (its dtype is `T`'s) starts
    // at `data`; the memory lives as long as the array, which `arr` keeps alive for `'a`. See
    // above on concurrent writers.
    let data = unsafe { std::slice::from_raw_parts(fields.data.cast::<T>().cast_const(), len) };
    Some((data, shape))
}

/// Runs the kernel call `f` with the GIL released when `work` is large enough to be worth it.
/// A panic in `f` (a bug) becomes a `CredoError` here, where every kernel call passes.
pub fn maybe_detach<T: Send>(py: Python<'_>, work: usize, f: impl FnOnce() -> T + Send) -> PyResult<T> {
    if work >= GIL_MIN_ELEMENTS {
        py.detach(|| catch_panic(f))
    } else {
        catch_panic(f)
    }
}

/// A `threads=` argument given as an integer (`None` is PyO3's `Option`): a positive integer (the
/// core caps a pool at the CPU count). Anything else, a negative or a huge integer included, is
/// an `InvalidArgumentError` naming `threads` instead of PyO3's `OverflowError` / `TypeError`.
#[derive(Clone, Copy)]
pub struct Threads(usize);

impl Threads {
    /// The requested worker count of an optional `threads=` argument.
    pub fn count(t: Option<Self>) -> Option<usize> {
        t.map(|t| t.0)
    }
}

impl FromPyObject<'_, '_> for Threads {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, '_, PyAny>) -> PyResult<Self> {
        let refuse = || {
            let shown = obj.repr().map_or_else(|_| "an object".to_owned(), |r| r.to_string());
            invalid("threads", format!("must be a positive integer or None, got {shown}"))
        };
        if obj.is_instance_of::<PyBool>() {
            return Err(refuse());
        }
        match obj.extract::<u64>() {
            Ok(n) if n >= 1 => Ok(Self(usize::try_from(n).unwrap_or(usize::MAX))),
            _ => Err(refuse()),
        }
    }
}

/// A 2-D float array read in place as float64 or float32 (kernels generic over the element type
/// take either; no float64 copy of float32 input).
pub enum Float2<'py> {
    F64(PyReadonlyArray2<'py, f64>),
    F32(PyReadonlyArray2<'py, f32>),
}

impl<'py> Float2<'py> {
    /// `arr` borrowed read-only if it is a 2-D float64 or float32 array, else an error naming `arg`.
    pub fn borrow(arr: &Bound<'py, PyAny>, arg: &str) -> PyResult<Self> {
        if let Ok(a) = arr.cast::<PyArray2<f64>>() {
            Ok(Self::F64(a.readonly()))
        } else if let Ok(a) = arr.cast::<PyArray2<f32>>() {
            Ok(Self::F32(a.readonly()))
        } else {
            Err(invalid(arg, "expected a 2-D float64 or float32 array"))
        }
    }
}

/// The dtype dispatch of a [`Float2`]: `$body` with `$s` the flat slice of either element type,
/// `$n` rows and `$k` columns (layout errors name `$arg`).
macro_rules! with_float2 {
    ($arr:expr, $arg:expr, |$s:ident, $n:ident, $k:ident| $body:expr) => {
        match &$arr {
            $crate::arrays::Float2::F64(a) => {
                let ($s, $n, $k) = $crate::arrays::slice2(a, $arg)?;
                $body
            }
            $crate::arrays::Float2::F32(a) => {
                let ($s, $n, $k) = $crate::arrays::slice2(a, $arg)?;
                $body
            }
        }
    };
}
pub(crate) use with_float2;
