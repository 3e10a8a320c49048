"""Input checks shared by the Python layer.

Each helper turns user input into a C-contiguous array of the dtype the native module expects,
or raises a :mod:`credo.exceptions` error whose message starts with the argument's name.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterable
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np

from credo._array_api import host_view
from credo.exceptions import (
    CredoError,
    EmptyInputError,
    InvalidArgumentError,
    NonFiniteError,
    NotFittedError,
    ShapeError,
)


def as_native(arr: np.ndarray, dtype: Any = None) -> np.ndarray:
    """``arr`` (cast to ``dtype`` if given) in native byte order, C-contiguous and aligned, as the
    native module reads it; copies only what does not already conform (a big-endian array is
    byte-swapped, a view at an odd byte offset copied)."""
    target = np.dtype(dtype) if dtype is not None else arr.dtype
    if not target.isnative:
        target = target.newbyteorder("=")
    return np.require(arr, dtype=target, requirements=["C", "A"])


def as_real_array(x: Any, name: str, dtype: Any = np.float64) -> np.ndarray:
    """``x`` as a native, C-contiguous, aligned array of real numbers of ``dtype``: ragged lists
    and complex input (whose imaginary part a cast would drop) are refused."""
    try:
        arr = host_view(x, name)  # zero-copy for CPU arrays of any library; refuses device arrays
    except CredoError:
        raise
    except (TypeError, ValueError, OverflowError) as exc:  # ragged lists, huge integers
        raise InvalidArgumentError(f"{name}: cannot be read as a numeric array ({exc})") from None
    if arr.dtype.kind not in "biuf":
        raise InvalidArgumentError(f"{name}: cannot be read as a numeric array of real numbers (dtype {arr.dtype})")
    try:
        return as_native(arr, dtype)
    except MemoryError:  # a broadcast view of astronomic shape, say
        raise InvalidArgumentError(f"{name}: too large to lay out in memory (shape {arr.shape})") from None


@contextmanager
def text_argument(name: str):  # type: ignore[no-untyped-def]
    """Turns the UnicodeEncodeError of a string the native module cannot take as UTF-8 (a lone
    surrogate) into an InvalidArgumentError naming ``name``; costs nothing when the text is fine."""
    try:
        yield
    except UnicodeEncodeError as exc:
        raise InvalidArgumentError(f"{name}: text is not valid Unicode ({exc.reason} at {exc.start})") from None


def as_float_array(
    x: Any,
    name: str,
    *,
    ndim: int | Iterable[int] | None = None,
    dtype: Any = np.float64,
    finite: bool = True,
    allow_empty: bool = False,
    n: int | None = None,
) -> np.ndarray:
    """``x`` as a C-contiguous float array of ``dtype``, checked for rank, emptiness and finiteness;
    with ``n``, for a first dimension of ``n``, checked before any copy or pass over the data."""
    try:
        arr = host_view(x, name)  # zero-copy for CPU arrays of any library; refuses device arrays
    except CredoError:
        raise
    except (TypeError, ValueError, OverflowError) as exc:  # ragged lists and the like
        raise InvalidArgumentError(f"{name}: cannot be read as a numeric array ({exc})") from None
    if arr.dtype.kind not in "biuf":
        raise InvalidArgumentError(f"{name}: expected numbers, got an array of dtype {arr.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ShapeError(f"{name}: expected a {want} array, got shape {arr.shape}")
    if n is not None:
        check_same_length(n, **{name: arr})
    if arr.size == 0 and not allow_empty:
        raise EmptyInputError(f"{name}: is empty")
    try:
        arr = as_native(arr, dtype)
    except MemoryError:  # a broadcast view of astronomic shape, say
        raise InvalidArgumentError(f"{name}: too large to lay out in memory (shape {arr.shape})") from None
    if finite and arr.size and not np.isfinite(arr).all():
        bad = np.flatnonzero(~np.isfinite(arr.reshape(-1)))[0]
        idx = np.unravel_index(bad, arr.shape)
        where = idx[0] if len(idx) == 1 else tuple(int(i) for i in idx)
        raise NonFiniteError(f"{name}: non-finite value {arr.reshape(-1)[bad]} at index {where}")
    return arr


def as_probabilities(x: Any, name: str, *, ndim: int | Iterable[int] | None = None) -> np.ndarray:
    """A float64 array of values in [0, 1]."""
    arr = as_float_array(x, name, ndim=ndim)
    if arr.size and (arr.min() < 0.0 or arr.max() > 1.0):
        raise InvalidArgumentError(
            f"{name}: probabilities must lie in [0, 1], got values in [{arr.min():g}, {arr.max():g}]"
        )
    return arr


def as_labels(
    y: Any, name: str, *, n_classes: int | None = None, binary: bool = False, n: int | None = None
) -> np.ndarray:
    """Integer class labels as int64, in [0, n_classes) (or {0, 1} when ``binary``); with ``n``,
    exactly ``n`` of them, checked before any pass over the labels (a broadcast view of 10**10
    labels is refused at once, not scanned)."""
    try:
        arr = host_view(y, name)
    except CredoError:
        raise
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidArgumentError(f"{name}: cannot be read as an array of labels ({exc})") from None
    if arr.ndim != 1:
        raise ShapeError(f"{name}: expected a 1-D array of labels, got shape {arr.shape}")
    if arr.size == 0:
        raise EmptyInputError(f"{name}: is empty")
    if n is not None:
        check_same_length(n, **{name: arr})
    if arr.dtype == bool:
        arr = arr.astype(np.int64)
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise NonFiniteError(f"{name}: labels must be finite")
        if not np.array_equal(arr, np.round(arr)):
            raise InvalidArgumentError(f"{name}: labels must be whole numbers")
    elif arr.dtype.kind not in "iu":
        raise InvalidArgumentError(f"{name}: labels must be integers or booleans, got dtype {arr.dtype}")
    if arr.dtype.kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
        raise InvalidArgumentError(f"{name}: labels must be below 2**63, got {arr.max()}")
    arr = as_native(arr, np.int64)
    hi = 2 if binary else n_classes
    if arr.min() < 0 or (hi is not None and arr.max() >= hi):
        allowed = "{0, 1}" if binary else f"[0, {hi})" if hi is not None else "non-negative"
        raise InvalidArgumentError(f"{name}: labels must be in {allowed}, got values in [{arr.min()}, {arr.max()}]")
    return arr


def check_same_length(n: int, **arrays: np.ndarray | None) -> None:
    """Raises ShapeError naming the first array whose first dimension is not ``n`` (a 0-d array,
    a scalar, has none)."""
    for name, arr in arrays.items():
        if arr is None:
            continue
        if getattr(arr, "ndim", 1) == 0 or not hasattr(arr, "__len__"):
            raise ShapeError(f"{name}: expected an array of {n} entries, got a scalar ({reprlib.repr(arr)})")
        if len(arr) != n:
            raise ShapeError(f"{name}: has {len(arr)} entries but there are {n} samples")


def as_sample_weight(w: Any, n: int, name: str = "sample_weight") -> np.ndarray | None:
    """None, or a float64 vector of ``n`` non-negative finite weights with a positive sum."""
    if w is None:
        return None
    arr = as_float_array(w, name, ndim=1)
    check_same_length(n, **{name: arr})
    if (arr < 0).any():
        raise InvalidArgumentError(f"{name}: weights must be non-negative")
    with np.errstate(over="ignore"):
        total = arr.sum()
    if total <= 0:
        raise InvalidArgumentError(f"{name}: weights must not all be zero")
    if not np.isfinite(total):  # the kernels' weighted sums would overflow into NaN predictions
        raise InvalidArgumentError(
            f"{name}: weights sum to more than the largest float; rescale them (only their ratios matter)"
        )
    return arr


def check_real(value: Any, name: str) -> float:
    """A real number (Python or NumPy; not a bool, not text) as a float; NaN refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidArgumentError(f"{name}: must be a number, got {value!r}")
    try:
        v = float(value)
    except OverflowError:
        raise InvalidArgumentError(f"{name}: must be a finite number, got {value!r}") from None
    if v != v:
        raise InvalidArgumentError(f"{name}: must not be NaN")
    return v


def check_text(value: Any, name: str) -> str:
    """A string as it is; anything else (bytes, None, a number) an InvalidArgumentError naming it."""
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{name}: expected a string, got {type(value).__name__}")
    return value


def check_texts(
    values: Any, name: str, *, what: str = "a list of strings", error: type[CredoError] = InvalidArgumentError
) -> tuple[str, ...]:
    """Strings in a list or any other iterable (not one bare string) as a tuple; else ``error``
    naming ``name`` (``what`` says what was expected), or ``name[i]`` for an item not a string."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise error(f"{name}: expected {what}, got {type(values).__name__}")
    out = tuple(values)
    for i, v in enumerate(out):
        if not isinstance(v, str):
            raise error(f"{name}[{i}]: expected a string, got {type(v).__name__}")
    return out


def check_bool(value: Any, name: str) -> bool:
    """True or False (a NumPy bool too) as a Python bool; 0, 1, NaN, None and text are refused,
    not read as truth values."""
    if not isinstance(value, (bool, np.bool_)):
        raise InvalidArgumentError(f"{name}: must be True or False, got {reprlib.repr(value)}")
    return bool(value)


#: The largest seed the native random streams take (an unsigned 64-bit integer).
MAX_SEED = 2**64 - 1


def check_seed(value: Any, name: str = "seed") -> int:
    """A seed: an integer in [0, 2**64 - 1] (bools refused), as a Python int."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 0:
        raise InvalidArgumentError(f"{name}: must be a non-negative integer, got {reprlib.repr(value)}")
    if value > MAX_SEED:
        raise InvalidArgumentError(f"{name}: must be at most 2**64 - 1, got {reprlib.repr(value)}")
    return int(value)


def check_threads(value: Any, name: str = "threads") -> int | None:
    """A ``threads=`` argument: None (all cores) or a positive integer, as the native module's
    own check (``arrays::Threads``) reads it, for the paths that do not reach it."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InvalidArgumentError(f"{name}: must be a positive integer or None, got {reprlib.repr(value)}")
    return int(value)


def check_open_unit(value: Any, name: str) -> float:
    """A float strictly between 0 and 1 (for alpha, delta, target risks); text and bools are
    refused, not parsed."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidArgumentError(f"{name}: must be a number in (0, 1), got {value!r}")
    v = float(value)
    if not 0.0 < v < 1.0:
        raise InvalidArgumentError(f"{name}: must lie strictly between 0 and 1, got {value!r}")
    return v


_T = TypeVar("_T")


def check_choice(value: Any, name: str, choices: Iterable[_T]) -> _T:
    """``value`` if it is one of ``choices``, else an error listing them."""
    options = tuple(choices)
    if value not in options:
        listed = ", ".join(repr(c) for c in options)
        raise InvalidArgumentError(f"{name}: must be one of {listed}, got {value!r}")
    chosen: _T = value
    return chosen


#: The largest integer any native argument takes (a signed 64-bit integer); the core sets the
#: real bound of each count (bins, resamples, ...) and names it in its error.
MAX_NATIVE_INT = 2**63 - 1


def check_positive_int(value: Any, name: str, *, minimum: int = 1, maximum: int = MAX_NATIVE_INT) -> int:
    """An integer in [minimum, maximum] (bools refused), as a Python int."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InvalidArgumentError(f"{name}: must be an integer >= {minimum}, got {value!r}")
    if value > maximum:
        raise InvalidArgumentError(f"{name}: must be at most {maximum}, got {value!r}")
    return int(value)


def check_is_fitted(estimator: Any, attribute: str) -> None:
    """Raises NotFittedError unless ``estimator`` has the fitted ``attribute``."""
    if not hasattr(estimator, attribute):
        raise NotFittedError(f"{type(estimator).__name__} is not fitted yet: call fit(...) before using it")
