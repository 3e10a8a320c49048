//! Array intake helpers shared by every binding: contiguous read-only slices, and the rule for
//! when to release the GIL.
//!
//! Two readers, one per purpose, over one layout rule ([`c_layout`]):
//! - [`flat_slice`] (with [`slice1`], [`slice2`], [`Float2`]) reads an array borrowed through
//!   numpy's borrow registry (`PyReadonlyArray`) and refuses another layout with an error naming
//!   the argument. Every binding reads this way but the per-request fast path.
//! - [`c_array`] reads an array in place without the registry, and answers None for anything
//!   else (the caller's Python layer converts it). Only for per-request calls
//!   (`NativeDecision::try_decide`), whose fixed costs are a fair share of the call and are paid
//!   with the GIL held: the registry costs a lock and two hash-map updates per array.
//!
//! What the registry guards, which is why both stay: it orders the borrows Rust code takes
//! through it (this module's, and any other extension's built on rust-numpy), so that a writable
//! borrow never overlaps a read — in one call (`hist_update(x, lo, hi, x)`, whose `counts` is
//! credo's one writable borrow, is refused) or across threads while a kernel runs with the GIL
//! released. It does not order writers outside it: a Python thread or a C extension writing into
//! the array while the GIL is released races a read with or without it (as with numpy's own
//! kernels, which also read without the GIL). A [`c_array`] read is invisible to it, so a
//! registered writer could also overlap that read: `try_decide` takes no writable argument and
//! holds its arrays for the call, so that takes another thread passing the same memory as
//! `hist_update`'s `counts` (or to another extension's writable borrow) during the decision —
//! the exposure it already has to any C writer. The bindings whose kernels run long with the GIL
//! released keep the registry, whose cost is nothing there; read without it, `hist_update(x, lo,
//! hi, x)` would alias a read and a write in one call.

use numpy::ndarray::Dimension;
use numpy::npyffi::{objects::_PyArray_GET_ITEM_DATA, NPY_ARRAY_C_CONTIGUOUS};
use numpy::{
    Element, PyArray1, PyArray2, PyArrayDescrMethods, PyArrayMethods, PyReadonlyArray, PyReadonlyArray1,
    PyReadonlyArray2, PyReadwriteArray, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::prelude::*;
use pyo3::types::PyBool;

use crate::errors::{catch_panic, invalid};

/// A vector handed to NumPy without a copy, for a result class's field.
pub fn to_numpy<T: Element>(py: Python<'_>, v: Vec<T>) -> Py<PyArray1<T>> {
    PyArray1::from_vec(py, v).unbind()
}

/// Below this many elements (of a simple kernel's pass: about 20-60 µs here) the GIL is kept for
/// the call. Released, it is a hand-over as soon as another Python thread waits for it: that
/// thread is woken, takes the GIL, and the caller waits for it back at the call's end — two
/// context switches and their wake-up latency, which cost more than a call of a few microseconds
/// frees. On this project's 2-core VM a request path of ~13 µs whose 256 × 5 top-k summary
/// (~3 µs) released the GIL ran 0.5× as fast on a 2-thread pool as on one thread, ~25 µs of
/// hand-over per call; with the GIL kept it runs ~1.0× (benches/python/bench_decision.py).
pub const GIL_MIN_ELEMENTS: usize = 1 << 16;

/// The layout rule of both readers: an array's memory is its row-major slice of `T` when it is
/// C-contiguous and its data aligned for `T`; else what is wrong, for the caller to name its
/// argument (the Python layer makes inputs contiguous and aligned first, so that only happens on
/// direct use of the private module). `as_slice` alone would also take Fortran order, whose flat
/// memory is not row-major; misaligned data (a view at an odd byte offset) would be undefined
/// behaviour as a Rust slice. The array's element type must be `T` (the caller's check).
fn c_layout<T>(a: &Bound<'_, PyUntypedArray>) -> Result<*const T, &'static str> {
    // SAFETY: `a` is a live ndarray, whose fields numpy keeps valid while `a` holds it.
    let fields = unsafe { &*_PyArray_GET_ITEM_DATA(a.as_array_ptr()) };
    let data = fields.data.cast::<T>().cast_const();
    if !data.is_aligned() {
        return Err("array data must be aligned");
    }
    if fields.flags & NPY_ARRAY_C_CONTIGUOUS == 0 {
        return Err("array must be C-contiguous");
    }
    Ok(data)
}

/// A borrowed array in [`c_layout`] as its flat row-major slice, or an error naming `arg`.
pub fn flat_slice<'a, T: Element, D: Dimension>(arr: &'a PyReadonlyArray<'_, T, D>, arg: &str) -> PyResult<&'a [T]> {
    c_layout::<T>(arr.as_untyped()).map_err(|msg| invalid(arg, msg))?;
    // Fails only where numpy's own alignment flag disagrees with the pointer's.
    arr.as_slice().map_err(|_| invalid(arg, "array data must be aligned"))
}

/// [`flat_slice`] of a writable borrow.
pub fn flat_slice_mut<'a, T: Element, D: Dimension>(
    arr: &'a mut PyReadwriteArray<'_, T, D>,
    arg: &str,
) -> PyResult<&'a mut [T]> {
    c_layout::<T>(arr.as_untyped()).map_err(|msg| invalid(arg, msg))?;
    arr.as_slice_mut()
        .map_err(|_| invalid(arg, "array data must be aligned"))
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

/// An `ndim`-D array of `T` (native byte order) in [`c_layout`], read in place without numpy's
/// borrow registry (see the module's comment for when that is sound): its flat row-major memory
/// and its shape; None for anything else, and nothing raised.
pub fn c_array<'a, T: Element>(arr: &'a Bound<'_, PyAny>, ndim: usize) -> Option<(&'a [T], &'a [usize])> {
    let a = arr.cast::<PyUntypedArray>().ok()?;
    if a.ndim() != ndim {
        return None;
    }
    let (dtype, want) = (a.dtype(), T::get_dtype(arr.py()));
    // numpy gives most arrays of a builtin type that type's one descriptor: a pointer compare
    // then settles it, where the call into numpy's equivalence test costs about 150
    // instructions (a per-call cost of the native decision); any other descriptor goes
    // through that test.
    if !dtype.is(&want) && !dtype.is_equiv_to(&want) {
        return None;
    }
    let data = c_layout::<T>(a).ok()?;
    let shape: &'a [usize] = a.shape();
    let len = shape.iter().product::<usize>();
    if len == 0 {
        return Some((&[], shape)); // an empty array's data pointer may be null
    }
    // SAFETY: a C-contiguous array of `len` elements of `T` (its dtype is `T`'s) starts at
    // `data`, aligned; the memory lives as long as the array, which `arr` keeps alive for `'a`.
    // No registered writer is excluded: see the module's comment.
    let data = unsafe { std::slice::from_raw_parts(data, len) };
    Some((data, shape))
}

/// Runs the blocking part of a fed kernel (the `wait` of `credo_core::parallel::pipeline`) with the
/// GIL released when `work`, counted as [`maybe_detach`] counts it, is large enough to be worth it.
pub fn detach_if(py: Python<'_>, work: usize, block: &mut (dyn FnMut() + Send)) {
    if work >= GIL_MIN_ELEMENTS {
        py.detach(block);
    } else {
        block();
    }
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
