"""What users hand credo's estimators, turned into NumPy: one place for the conversion.

Accepted: NumPy arrays, lists, pandas / polars Series and DataFrames, and any object exposing
``__array__`` or ``__dlpack__`` whose memory is on the CPU (torch, JAX, CuPy host arrays). An
array that lives on an accelerator is refused with a :class:`~credo.CredoError` saying how to
move it: credo never copies device memory behind the user's back. Labels of any kind (strings,
booleans, {-1, 1}, 1-based integers, pandas categoricals) are encoded against ``classes_``.
The checks of rank, range and finiteness stay in :mod:`credo._validate`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from credo._validate import check_same_length
from credo.exceptions import CredoError, EmptyInputError, InvalidArgumentError, ShapeError

# DLPack device types that are CPU memory (kDLCPU, kDLCUDAHost, kDLROCMHost, kDLCUDAManaged is
# not: it may migrate); the rest are named in the error.
_CPU_DEVICES = {1, 3, 11}
_DEVICE_NAMES = {
    2: "cuda",
    4: "opencl",
    7: "vulkan",
    8: "metal",
    9: "vpi",
    10: "rocm",
    13: "cuda (managed)",
    14: "oneapi",
}
_HOW_TO_MOVE = "move it to the CPU first (torch: x.cpu(); JAX: jax.device_get(x); CuPy: x.get())"


def _device_of(x: Any) -> tuple[int, int] | None:
    probe = getattr(x, "__dlpack_device__", None)
    if probe is None:
        return None
    try:
        kind, index = probe()
        return int(kind), int(index)
    except Exception:
        return None


def to_numpy(x: Any, name: str) -> Any:
    """``x`` as something ``np.asarray`` reads without a device copy (a NumPy array where the
    input is array-like); lists and scalars pass through unchanged."""
    if isinstance(x, np.ndarray) or isinstance(x, (list, tuple, float, int)):
        return x
    if type(x).__module__.startswith("scipy.sparse"):
        raise InvalidArgumentError(f"{name}: sparse input is not supported; pass a dense array ({name}.toarray())")
    device = _device_of(x)
    if device is not None and device[0] not in _CPU_DEVICES:
        where = _DEVICE_NAMES.get(device[0], f"device type {device[0]}")
        raise InvalidArgumentError(
            f"{name}: is an array on {where}:{device[1]}; credo computes on the CPU: {_HOW_TO_MOVE}"
        )
    if hasattr(x, "__array__"):
        detach = getattr(x, "detach", None)  # a torch tensor that requires grad refuses __array__
        if callable(detach) and getattr(x, "requires_grad", False):
            x = detach()
        try:
            return np.asarray(x)
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(f"{name}: cannot be read as an array ({exc})") from None
    if hasattr(x, "__dlpack__"):
        try:
            return np.from_dlpack(x)
        except (TypeError, ValueError, BufferError, RuntimeError) as exc:
            raise InvalidArgumentError(f"{name}: cannot be read through DLPack ({exc})") from None
    return x


def read_array(x: Any, name: str) -> np.ndarray:
    """``x`` (any CPU array-like) as a NumPy array of rank >= 1, without a copy where ``x`` is
    an array: the one reading whose failures (ragged or too deeply nested lists, a scalar, None)
    are errors naming ``name``, for the code that needs a length or a rank before a kernel
    checks the values."""
    try:
        arr = np.asarray(to_numpy(x, name))
    except (TypeError, ValueError, OverflowError) as exc:  # ragged lists, 65+ nesting levels
        if isinstance(exc, CredoError):
            raise
        raise InvalidArgumentError(f"{name}: cannot be read as an array ({exc})") from None
    if arr.ndim == 0:
        shown = repr(x) if len(repr(x)) <= 60 else repr(x)[:57] + "..."
        raise ShapeError(f"{name}: expected an array, got a scalar ({shown})")
    return arr


def label_array(y: Any, name: str = "y", n: int | None = None) -> np.ndarray:
    """Labels as a 1-D NumPy array ((n, 1) columns are flattened, as scikit-learn does); with
    ``n``, exactly ``n`` of them, checked before any pass over the labels."""
    try:
        arr = np.asarray(to_numpy(y, name))
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"{name}: cannot be read as an array of labels ({exc})") from None
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        raise ShapeError(f"{name}: expected a 1-D array of labels, got shape {arr.shape}")
    if arr.size == 0:
        raise EmptyInputError(f"{name}: is empty")
    if n is not None:
        check_same_length(n, **{name: arr})
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise InvalidArgumentError(f"{name}: labels must not be NaN or infinite")
    elif arr.dtype.kind == "O":
        if any(v is None or (isinstance(v, float) and v != v) for v in arr):
            raise InvalidArgumentError(f"{name}: labels must not be missing (None or NaN)")
    elif arr.dtype.kind not in "biuUS":
        raise InvalidArgumentError(f"{name}: labels must be numbers, booleans or strings, got dtype {arr.dtype}")
    return arr


def _unique(arr: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        return np.unique(arr, return_inverse=True)
    except TypeError:
        kinds = sorted({type(v).__name__ for v in arr})
        raise InvalidArgumentError(f"{name}: labels of mixed types ({', '.join(kinds)}) cannot be ordered") from None


def encode_labels(
    y: Any, name: str = "y", *, n_classes: int | None = None, binary: bool = False, n: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(classes_, codes)``: the sorted distinct labels and each label's index in them (int64).

    Integer labels already in ``[0, n_classes)`` (or {0, 1} when ``binary``) keep their meaning
    as column indices, so a class absent from this sample still has its column; any other labels
    are sorted (as scikit-learn's ``LabelEncoder``) and must be exactly ``n_classes`` (2 when
    ``binary``) distinct values, the positive class of a binary problem being ``classes_[1]``.
    ``n``: the number of samples the labels must match.
    """
    arr = label_array(y, name, n)
    k = 2 if binary else n_classes
    if arr.dtype.kind in "iuf" and k is not None:
        whole = arr.dtype.kind != "f" or np.array_equal(arr, np.round(arr))
        if whole and arr.min() >= 0 and arr.max() < k:
            return np.arange(k), np.ascontiguousarray(arr, dtype=np.int64)
    if arr.dtype.kind == "b" and binary:
        return np.array([False, True]), arr.astype(np.int64)
    classes, codes = _unique(arr, name)
    if k is not None and len(classes) != k:
        what = "2 classes" if binary else f"{k} classes (the columns of X)"
        shown = ", ".join(repr(c) for c in classes[:6].tolist()) + (", ..." if len(classes) > 6 else "")
        raise InvalidArgumentError(
            f"{name}: expected labels of {what}, got {len(classes)} distinct labels ({shown}); "
            f"integer labels 0..{k - 1} name the columns directly"
        )
    return classes, np.ascontiguousarray(codes, dtype=np.int64)


def codes_for(y: Any, classes: np.ndarray, name: str = "y", n: int | None = None) -> np.ndarray:
    """Indices into ``classes`` of the labels ``y`` (labels never seen in ``fit`` are refused;
    with ``n``, exactly ``n`` labels)."""
    arr = label_array(y, name, n)
    if classes.dtype.kind in "iu" and arr.dtype.kind in "iuf" and np.array_equal(classes, np.arange(len(classes))):
        if arr.dtype.kind == "f" and not np.array_equal(arr, np.round(arr)):
            raise InvalidArgumentError(f"{name}: labels must be whole numbers")
        codes = np.ascontiguousarray(arr, dtype=np.int64)
        if codes.min() < 0 or codes.max() >= len(classes):
            raise InvalidArgumentError(
                f"{name}: labels must be in [0, {len(classes)}), got values in [{codes.min()}, {codes.max()}]"
            )
        return codes
    try:
        pos = np.clip(np.searchsorted(classes, arr), 0, len(classes) - 1)
        unseen = classes[pos] != arr
    except TypeError:
        raise InvalidArgumentError(f"{name}: labels of a different type than the classes seen in fit") from None
    if np.any(unseen):
        bad = arr[np.flatnonzero(unseen)[0]]
        raise InvalidArgumentError(f"{name}: label {bad!r} was not seen in fit (classes_: {classes.tolist()!r})")
    return np.ascontiguousarray(pos, dtype=np.int64)
