"""Signals and metrics on arrays of any library, computed where the arrays live.

Routing (:func:`namespace_of`): NumPy arrays, lists and CPU arrays of other libraries go to the
Rust kernels — through DLPack without a copy (:func:`host_view`, bfloat16 included). An array on
another device (a CUDA torch tensor, a CuPy array, a JAX array on a GPU) is computed on that
device by the one implementation below, written against the Python array API standard, and the
results are arrays of the same library on the same device. Nothing is copied to the host behind
the user's back: what cannot run on the device raises :class:`~credo.CredoError` saying so.

The definitions are the Rust kernels' (``rust/credo-core/src/signals`` and ``metrics``), term
for term; ``tests/test_array_api.py`` holds the two against each other. Results are float64
where the namespace has float64 on the device (JAX only with ``jax_enable_x64``), else float32.
``array-api-compat`` supplies the namespace of torch and CuPy arrays; it is imported only when a
device array arrives. ``FORCE`` (tests) routes NumPy and every array-API array through this
implementation too.
"""

from __future__ import annotations

import ctypes
import math
import warnings
from typing import Any

import numpy as np

from credo.exceptions import EmptyInputError, InvalidArgumentError, NonFiniteError, ShapeError

#: Tests set this to run NumPy and array-API arrays through the array-API implementation.
FORCE = False
#: Whether CUDA torch tensors take the fused Triton kernel (when triton is installed).
TRITON = True

_KDL_HOST = (1, 3, 11)  # CPU, CUDA pinned host memory, ROCm pinned host memory: readable by the CPU
_KDL_BFLOAT = 4
_MOVE_HINT = "move it to the host first (torch: .cpu(), CuPy: .get(), JAX: jax.device_get) if a copy is what you want"


# --- routing -----------------------------------------------------------------------------------


def _device_type(x: Any) -> int | None:
    """The DLPack device type of ``x`` (1 = CPU), or None when it does not say."""
    dev = getattr(x, "__dlpack_device__", None)
    if dev is None:
        return None
    try:
        return int(dev()[0])
    except Exception:  # a library that cannot name its device for this array
        return None


def on_device(x: Any) -> bool:
    """Whether ``x`` is an array whose memory the CPU kernels cannot read (not host memory)."""
    if x is None or isinstance(x, (np.ndarray, list, tuple, float, int, np.generic)):
        return False
    kind = _device_type(x)
    if kind is not None and kind not in _KDL_HOST:
        return True
    if type(x).__module__.startswith("array_api_strict"):
        # Its extra devices (tests' stand-ins for accelerators) also say "CPU" through DLPack.
        return "CPU_DEVICE" not in str(x.device)
    if kind is not None:
        return False
    dev = getattr(x, "device", None)
    return hasattr(x, "__array_namespace__") and dev is not None and str(dev) not in ("cpu", "CPU")


def _arrayish(x: Any) -> bool:
    return hasattr(x, "__array_namespace__") or hasattr(x, "__dlpack__") or isinstance(x, np.ndarray)


def active(*xs: Any) -> bool:
    """Whether these arguments take the array-API path (cheap for NumPy input)."""
    if FORCE:
        return any(_arrayish(x) and not isinstance(x, np.generic) for x in xs)
    return any(on_device(x) for x in xs)


def namespace_of(*xs: Any) -> Any:
    """The array namespace to compute in, or None for the CPU kernels. Arrays on two different
    devices are refused."""
    if not active(*xs):
        return None
    lead = [x for x in xs if (on_device(x) or (FORCE and _arrayish(x))) and not isinstance(x, np.generic)]
    x = lead[0]
    devices = {_where(x) for x in lead if on_device(x)}
    if len(devices) > 1:
        raise InvalidArgumentError(
            f"arrays: the arguments live on different devices ({', '.join(sorted(devices))}); put them on one device"
        )
    return _namespace(x)


def _namespace(x: Any) -> Any:
    try:
        import array_api_compat
    except ImportError:
        if hasattr(x, "__array_namespace__"):
            return x.__array_namespace__()
        raise InvalidArgumentError(
            f"arrays: computing on the device of a {type(x).__module__}.{type(x).__name__} needs the "
            "array-api-compat package (pip install array-api-compat); or " + _MOVE_HINT
        ) from None
    try:
        return array_api_compat.array_namespace(x)
    except TypeError:  # a library array-api-compat does not know: no way to compute there
        raise InvalidArgumentError(
            f"arrays: a {type(x).__module__}.{type(x).__name__} on {_where(x)} has no array API namespace, so "
            "credo cannot compute on its device; " + _MOVE_HINT
        ) from None


def _device(x: Any) -> Any:
    try:
        import array_api_compat

        return array_api_compat.device(x)
    except ImportError:
        return x.device


def _where(x: Any) -> str:
    """The device of ``x`` in words, for messages."""
    try:
        return str(_device(x))
    except Exception:
        return f"DLPack device {tuple(x.__dlpack_device__())}"


def refuse_device(x: Any, name: str) -> None:
    """Raises for an array that lives on a device, for paths that only run on the CPU."""
    if on_device(x):
        raise InvalidArgumentError(
            f"{name}: is an array on {_where(x)}, and this computation runs only on the CPU; " + _MOVE_HINT
        )


def unsupported(what: str, name: str, x: Any) -> InvalidArgumentError:
    return InvalidArgumentError(
        f"{name}: {what} is not available on the device of this array ({_where(x)}); " + _MOVE_HINT
    )


# --- CPU arrays of other libraries: NumPy views through DLPack ---------------------------------


def host_view(x: Any, name: str = "array") -> np.ndarray:
    """A NumPy view of a CPU array of any library (DLPack), without a copy; bfloat16 arrives as
    ``ml_dtypes.bfloat16`` (raw uint16 without ml_dtypes). Device arrays are refused."""
    if isinstance(x, np.ndarray):
        return np.asarray(x)  # subclasses (masked, matrix) as plain arrays, as before
    if hasattr(x, "detach"):  # a torch tensor that requires grad cannot be exported
        x = x.detach()
    if hasattr(x, "__dlpack__"):
        refuse_device(x, name)
        try:
            return np.from_dlpack(x)
        except (BufferError, TypeError, RuntimeError, ValueError):
            view = _bfloat16_view(x)
            if view is not None:
                return view
    return np.asarray(x)


class _DLDevice(ctypes.Structure):
    _fields_ = (("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32))


class _DLDataType(ctypes.Structure):
    _fields_ = (("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16))


class _DLTensor(ctypes.Structure):
    _fields_ = (
        ("data", ctypes.c_void_p),
        ("device", _DLDevice),
        ("ndim", ctypes.c_int32),
        ("dtype", _DLDataType),
        ("shape", ctypes.POINTER(ctypes.c_int64)),
        ("strides", ctypes.POINTER(ctypes.c_int64)),
        ("byte_offset", ctypes.c_uint64),
    )


class _Borrowed:
    """Holds a DLPack capsule alive and shows its memory to NumPy as uint16 (the capsule's own
    destructor calls the producer's deleter once the last view is gone)."""

    def __init__(self, capsule: Any, interface: dict[str, Any]) -> None:
        self._capsule = capsule
        self.__array_interface__ = interface


def _bfloat16_view(x: Any) -> np.ndarray | None:
    """NumPy cannot import bfloat16 through DLPack; read the (unversioned) capsule ourselves."""
    try:
        capsule = x.__dlpack__()
        get = ctypes.pythonapi.PyCapsule_GetPointer
        get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
        ptr = get(capsule, b"dltensor")
    except Exception:
        return None
    t = _DLTensor.from_address(ptr)  # DLManagedTensor starts with its DLTensor
    if t.device.device_type not in _KDL_HOST or (t.dtype.code, t.dtype.bits, t.dtype.lanes) != (_KDL_BFLOAT, 16, 1):
        return None
    shape = tuple(int(t.shape[i]) for i in range(t.ndim))
    strides = None if not t.strides else tuple(2 * int(t.strides[i]) for i in range(t.ndim))
    if math.prod(shape) == 0:
        raw = np.zeros(shape, np.uint16)
    else:
        interface = {
            "shape": shape,
            "typestr": "<u2",
            "data": (int(t.data or 0) + int(t.byte_offset), True),
            "strides": strides,
            "version": 3,
        }
        raw = np.asarray(_Borrowed(capsule, interface))
    try:
        import ml_dtypes
    except ImportError:
        return raw
    bf16: np.ndarray = raw.view(ml_dtypes.bfloat16)
    return bf16


# --- array helpers ------------------------------------------------------------------------------


class _Ctx:
    """The namespace, device and float dtypes of one call."""

    def __init__(self, xp: Any, like: Any) -> None:
        self.xp = xp
        self.dev = _device(like)
        self.wide = _wide_float(xp, self.dev)

    def asarray(self, x: Any, dtype: Any = None) -> Any:
        if dtype is None and isinstance(x, np.ndarray) and x.dtype.kind == "f":
            dtype = self.wide  # host floats (edges, user lists) in the call's float dtype
        return self.xp.asarray(x, dtype=dtype, device=self.dev)

    def full(self, value: float, dtype: Any = None) -> Any:
        return self.xp.asarray(value, dtype=self.wide if dtype is None else dtype, device=self.dev)


def _wide_float(xp: Any, dev: Any) -> Any:
    """float64 where the namespace has it on this device, else float32."""
    try:
        have = xp.__array_namespace_info__().dtypes(device=dev, kind="real floating")
        return xp.float64 if "float64" in have else xp.float32
    except Exception:
        return xp.float64


def _is_float(dtype: Any) -> bool:
    name = str(dtype)
    return "float" in name and "complex" not in name


def _is_int(xp: Any, dtype: Any) -> bool:
    try:
        return bool(xp.isdtype(dtype, "integral"))
    except Exception:
        return "int" in str(dtype)


def _int64(xp: Any) -> Any:
    """int64, or the namespace's default integer where it has none (JAX without x64)."""
    try:
        return xp.__array_namespace_info__().default_dtypes()["indexing"]
    except Exception:
        return xp.int64


def _first(xp: Any, mask: Any) -> int:
    """Index of the first True in a 1-D boolean array that has one (synchronises a scalar)."""
    return int(xp.argmax(xp.astype(mask, xp.int32)))


def _errstate() -> Any:
    return np.errstate(all="ignore")  # the NumPy namespace warns where the kernels' rules decide


def _from_user(
    c: _Ctx, x: Any, name: str, ndim: tuple[int, ...] | None, *, integer: bool = False, want: str = ""
) -> Any:
    """``x`` as an array of the call's namespace on its device, checked for rank and emptiness;
    host data (lists, NumPy) is moved to the device (a device array of another library is not)."""
    xp = c.xp
    arr = None
    arrayish = hasattr(x, "__array_namespace__") and not isinstance(x, np.ndarray)
    if (on_device(x) or arrayish or FORCE) and not isinstance(x, (list, tuple)):
        try:
            arr = xp.asarray(x, device=c.dev)
        except Exception as exc:
            if on_device(x):  # never through the host
                raise InvalidArgumentError(
                    f"{name}: cannot join the other arguments on {c.dev} ({exc}); "
                    "pass arrays of one library on one device"
                ) from None
    if arr is None:
        try:
            host = np.asarray(x)
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(f"{name}: cannot be read as a numeric array ({exc})") from None
        if host.dtype.kind not in "biuf":
            raise InvalidArgumentError(f"{name}: expected numbers, got an array of dtype {host.dtype}")
        if host.dtype == bool:
            host = host.astype(np.int64)
        arr = c.asarray(host)
    if ndim is not None and arr.ndim not in ndim:
        want = want or " or ".join(f"{d}-D" for d in ndim)
        raise ShapeError(f"{name}: expected a {want} array, got shape {tuple(arr.shape)}")
    if ndim is not None and math.prod(arr.shape) == 0:
        raise EmptyInputError(f"{name}: is empty")
    if str(arr.dtype) == "bool" or "bool" in str(arr.dtype):
        arr = xp.astype(arr, _int64(xp))
    if not integer and not _is_float(arr.dtype) and not _is_int(xp, arr.dtype):
        raise InvalidArgumentError(f"{name}: expected numbers, got an array of dtype {arr.dtype}")
    return arr


def _floats(c: _Ctx, x: Any, name: str, ndim: tuple[int, ...] | None, want: str = "") -> Any:
    arr = _from_user(c, x, name, ndim, want=want)
    return arr if arr.dtype == c.wide else c.xp.astype(arr, c.wide)


def _check_range(c: _Ctx, x: Any, name: str, what: str) -> None:
    """Values in [0, 1] (NaN fails), with the kernels' messages."""
    xp = c.xp
    if bool(xp.all((x >= 0) & (x <= 1))):
        return
    flat = xp.reshape(x, (-1,))
    bad = ~xp.isfinite(flat)
    if bool(xp.any(bad)):
        i = _first(xp, bad)
        raise NonFiniteError(f"{name}: non-finite value {float(flat[i])} at index {i}")
    i = _first(xp, (flat < 0) | (flat > 1))
    raise InvalidArgumentError(f"{name}: {what} must lie in [0, 1], got {float(flat[i])} at index {i}")


def _same_length(n: int, name: str, x: Any) -> None:
    if x.shape[0] != n:
        raise ShapeError(f"{name}: has {x.shape[0]} entries but there are {n} samples")


def _weights(c: _Ctx, w: Any, n: int) -> Any:
    """The weights (ones when none are given), checked as the kernels check them."""
    xp = c.xp
    if w is None:
        return xp.ones((n,), dtype=c.wide, device=c.dev)
    arr = _floats(c, w, "sample_weight", (1,))
    _same_length(n, "sample_weight", arr)
    if not bool(xp.all(xp.isfinite(arr))):
        i = _first(xp, ~xp.isfinite(arr))
        raise NonFiniteError(f"sample_weight: non-finite value {float(arr[i])} at index {i}")
    if bool(xp.any(arr < 0)):
        i = _first(xp, arr < 0)
        raise InvalidArgumentError(f"sample_weight: weights must be non-negative, got {float(arr[i])} at index {i}")
    if not bool(xp.sum(arr) > 0):
        raise InvalidArgumentError("sample_weight: weights must not all be zero")
    return arr


def _labels(c: _Ctx, y: Any, n_classes: int) -> Any:
    xp = c.xp
    arr = _from_user(c, y, "y_true", (1,), integer=True)
    if _is_float(arr.dtype):
        if not bool(xp.all(xp.isfinite(arr))):
            raise NonFiniteError("y_true: labels must be finite")
        if not bool(xp.all(arr == xp.round(arr))):
            raise InvalidArgumentError("y_true: labels must be whole numbers")
    arr = xp.astype(arr, _int64(xp))
    bad = (arr < 0) | (arr >= n_classes)
    if bool(xp.any(bad)):
        i = _first(xp, bad)
        raise InvalidArgumentError(f"y_true: labels must be in [0, {n_classes}), got {int(arr[i])} at index {i}")
    return arr


# --- token signals -------------------------------------------------------------------------------


def _describe(batch: int | None, seq: int, r: int) -> str:
    return f"row {r}" if batch is None else f"batch {r // seq}, position {r % seq}"


def token_signals(xp: Any, logits: Any, chosen: Any, *, temperature: Any, invalid: str, processed: bool | None) -> Any:
    """:func:`credo.token_signals` on the logits' device (same checks, same definitions)."""
    from credo._validate import check_choice
    from credo.signals import Provenance, TokenSignals, _temperature

    x = logits
    if x.ndim not in (2, 3):
        raise ShapeError(f"logits: expected a 2-D [T, V] or 3-D [B, T, V] array, got shape {tuple(x.shape)}")
    if math.prod(x.shape) == 0:
        raise EmptyInputError(f"logits: is empty (shape {tuple(x.shape)})")
    if not _is_float(x.dtype):
        raise InvalidArgumentError(
            f"logits: expected floating-point logits (float16, bfloat16, float32 or float64), got dtype {x.dtype}"
        )
    t = _temperature(temperature)
    check_choice(invalid, "invalid", ("raise", "nan"))
    c = _Ctx(xp, x)
    lead = tuple(int(d) for d in x.shape[:-1])
    batch, seq, vocab = (lead[0] if len(lead) == 2 else None), lead[-1], int(x.shape[-1])
    rows = math.prod(lead)
    ids = None if chosen is None else _token_ids(c, chosen, lead, vocab, batch, seq)
    x2 = xp.reshape(x, (rows, vocab))
    with _errstate():
        fused = _fused(c, x2, 1.0 / t, ids)
        if fused is not None:
            (out, bad), simd = fused, "triton"
        else:
            out, bad = _finish(c, _row_stats_array_api(c, x2, 1.0 / t, ids), ids)
            simd = "array-api"
    if invalid == "raise" and bool(xp.any(bad)):
        r = _first(xp, bad)
        raise _invalid_row(c, x2[r, :], _describe(batch, seq, r), t)
    prov = Provenance(source="logits", mode="full", vocab_size=vocab, temperature=t, processed=processed)
    res: dict[str, Any] = {k: None if v is None else xp.reshape(v, lead) for k, v in out.items()}
    return TokenSignals(**res, chosen=None if ids is None else xp.reshape(ids, lead), provenance=prov, simd=simd)


def _token_ids(c: _Ctx, chosen: Any, lead: tuple[int, ...], vocab: int, batch: int | None, seq: int) -> Any:
    xp = c.xp
    if on_device(chosen) or (FORCE and hasattr(chosen, "__array_namespace__")):
        ids = xp.asarray(chosen, device=c.dev)
        if not _is_int(xp, ids.dtype):
            raise InvalidArgumentError(f"chosen: token ids must be integers, got dtype {ids.dtype}")
        if tuple(ids.shape) != lead:
            raise ShapeError(f"chosen: has shape {tuple(ids.shape)} but the logits have {lead} positions")
        ids = xp.reshape(xp.astype(ids, _int64(xp)), (-1,))
    else:
        from credo.signals import _as_ids

        ids = c.asarray(_as_ids(chosen, lead))
    bad = (ids < 0) | (ids >= vocab)
    if bool(xp.any(bad)):
        r = _first(xp, bad)
        raise InvalidArgumentError(
            f"chosen: token id {int(ids[r])} at {_describe(batch, seq, r)} is outside the vocabulary [0, {vocab})"
        )
    return ids


def _fused(c: _Ctx, x2: Any, inv_t: float, ids: Any) -> tuple[dict[str, Any], Any] | None:
    """The fused Triton kernel's signals and invalid rows, when it applies (a CUDA torch tensor
    with float64 at hand, triton installed)."""
    if FORCE or not TRITON or type(x2).__module__ != "torch" or not getattr(x2, "is_cuda", False):
        return None
    try:
        from credo import _triton
    except ImportError:  # no triton: the array-API path
        return None
    try:
        return _triton.token_signals(x2, inv_t, ids)
    except Exception as exc:  # a Triton or driver version the kernel does not build on
        warnings.warn(f"credo: the fused Triton kernel failed ({exc!r}); using the array-API path", stacklevel=4)
        return None


def _row_stats_array_api(c: _Ctx, x2: Any, inv_t: float, ids: Any) -> dict[str, Any]:
    """Per row, as the scalar kernel (``simd/scalar.rs``): max, second, argmax of the logits, the
    shift m = max/T, s = Σ e^(x/T − m), w = Σ e^(x/T − m)(x/T − m), the chosen logit and the count
    of logits above it; ``bad`` for a NaN or +inf entry, or no finite one."""
    xp = c.xp
    rows, vocab = (int(d) for d in x2.shape)
    f = xp.float64 if x2.dtype == xp.float64 else xp.float32  # bf16 and f16 widen exactly
    xf = x2 if x2.dtype == f else xp.astype(x2, f)
    xs = xf if inv_t == 1.0 else xf * inv_t
    m = xp.max(xs, axis=-1)  # NaN propagates (array API): a NaN row has m NaN
    inf = xp.asarray(math.inf, dtype=f, device=c.dev)
    zero = xp.asarray(0.0, dtype=f, device=c.dev)
    # A NaN or +inf entry (or x/T overflowing) makes s NaN below; no finite entry makes m −inf.
    bad = ~xp.isfinite(m)
    m_safe = xp.where(bad, zero, m)
    am = xp.argmax(xs, axis=-1)
    cols = xp.arange(vocab, device=c.dev)
    second = xp.max(xp.where(cols[None, :] == am[:, None], -inf, xs), axis=-1)
    d = xs - m_safe[:, None]
    e = xp.exp(d)
    s = xp.sum(e, axis=-1, dtype=c.wide)
    w = xp.sum(xp.where(e > 0, e * d, zero), axis=-1, dtype=c.wide)
    out = {"m": m, "second": second, "argmax": am, "s": s, "w": w, "bad": bad}
    if ids is not None:
        flat = xp.reshape(xf, (-1,))
        at = xp.arange(rows, dtype=ids.dtype, device=c.dev) * vocab + ids
        xc = xp.take(flat, at)
        out["chosen"] = xc * inv_t if inv_t != 1.0 else xc
        out["greater"] = xp.sum(xp.astype(xf > xc[:, None], _int64(xp)), axis=-1)
    return out


def _finish(c: _Ctx, st: dict[str, Any], ids: Any) -> tuple[dict[str, Any], Any]:
    """The signals from the per-row statistics (``token.rs``), NaN rows masked."""
    xp = c.xp
    wide = c.wide
    nan = c.full(math.nan)
    s, w = xp.astype(st["s"], wide), xp.astype(st["w"], wide)
    bad = st["bad"] | xp.isnan(s) | (s <= 0)
    top1 = xp.astype(st["m"], wide)
    top2 = xp.astype(st["second"], wide)
    ls = xp.log(s)
    lse = top1 + ls
    zero = c.full(0.0)

    def ok(v: Any) -> Any:
        return xp.where(bad, nan, v)

    neg1 = xp.asarray(-1, dtype=_int64(xp), device=c.dev)
    out = {
        "entropy": ok(xp.maximum(ls - w / s, zero)),
        "logsumexp": ok(lse),
        "max_logprob": ok(top1 - lse),
        "argmax": xp.where(bad, neg1, xp.astype(st["argmax"], _int64(xp))),
        "margin_logit": ok(top1 - top2),
        "margin_prob": ok(xp.exp(top1 - lse) - xp.exp(top2 - lse)),
        "chosen_logprob": None,
        "chosen_rank": None,
    }
    if ids is not None:
        out["chosen_logprob"] = ok(xp.astype(st["chosen"], wide) - lse)
        out["chosen_rank"] = xp.where(bad, neg1, xp.astype(st["greater"], _int64(xp)))
    return out, bad


def _invalid_row(c: _Ctx, row: Any, at: str, temperature: float) -> Exception:
    """The kernel's error for an invalid row (``describe_invalid`` in ``token.rs``)."""
    xp = c.xp
    f = xp.astype(row, xp.float32) if not _is_float(row.dtype) or "16" in str(row.dtype) else row
    if bool(xp.any(xp.isnan(f))):
        return NonFiniteError(f"logits: {at} contains NaN at vocabulary index {_first(xp, xp.isnan(f))}")
    if bool(xp.any(f == math.inf)):
        return NonFiniteError(f"logits: {at} contains +inf at vocabulary index {_first(xp, f == math.inf)}")
    if bool(xp.any(xp.isfinite(f))):
        return InvalidArgumentError(
            f"temperature: {temperature} makes the logits of {at} overflow (logits / temperature is not finite)"
        )
    return NonFiniteError(f"logits: {at} has no finite entry (every logit is -inf), so its softmax is undefined")


# --- top-k signals -------------------------------------------------------------------------------

_POSITIVE_SLACK = 1e-3  # topk.rs: processed logprobs may exceed 0 by rounding


def _xlogx_neg(xp: Any, p: Any, zero: Any) -> Any:
    return xp.where(p > 0, -p * xp.log(p), zero)


def topk_signals(
    xp: Any,
    top_logprobs: Any,
    chosen_logprob: Any,
    *,
    policy: str,
    vocab_size: int | None,
    k: int | None,
    sentinel: float,
    source: str,
    processed: bool | None,
) -> Any:
    """:func:`credo.topk_signals` on the device (``topk.rs``, vectorised over positions)."""
    from credo.signals import Provenance, TopkSignals

    c = _Ctx(xp, _lead(top_logprobs, chosen_logprob))
    top, lead, chosen, kk, v, sent = _topk_inputs(c, top_logprobs, chosen_logprob, policy, vocab_size, k, sentinel)
    with _errstate():
        res = _topk_rows(c, top, chosen, policy, v, kk, sent)
    width = int(top.shape[-1])
    prov = Provenance(
        source=source,
        mode="top-k",
        k=k if k is not None else width,
        vocab_size=v,
        renormalization=policy,
        processed=processed,
    )
    res = {name: None if a is None else xp.reshape(a, lead) for name, a in res.items()}
    return TopkSignals(**res, provenance=prov)


def _topk_inputs(
    c: _Ctx, top_logprobs: Any, chosen_logprob: Any, policy: str, vocab_size: Any, k: Any, sentinel: Any
) -> tuple[Any, tuple[int, ...], Any, int, int | None, float]:
    from credo._validate import check_choice, check_positive_int, check_real

    xp = c.xp
    check_choice(policy, "policy", ("raw", "renormalized", "bounds"))
    top = _floats(c, top_logprobs, "top_logprobs", (2, 3), want="2-D [T, k] or 3-D [B, T, k]")
    lead = tuple(int(d) for d in top.shape[:-1])
    width = int(top.shape[-1])
    chosen = None
    if chosen_logprob is not None:
        chosen = _floats(c, chosen_logprob, "chosen_logprob", None)
        if tuple(chosen.shape) != lead:
            raise ShapeError(f"chosen_logprob: has shape {tuple(chosen.shape)} but top_logprobs have {lead} positions")
        chosen = xp.reshape(chosen, (-1,))
    kk = width if k is None else check_positive_int(k, "k")
    v = None if vocab_size is None else check_positive_int(vocab_size, "vocab_size")
    sent = check_real(sentinel, "sentinel")
    if not math.isfinite(sent):  # as the kernel (topk.rs check_options)
        raise InvalidArgumentError(f"sentinel: must be a finite number, got {sent}")
    if v is not None and v < kk:
        raise InvalidArgumentError(f"vocab_size: {v} is smaller than k = {kk}")
    top = xp.reshape(top, (math.prod(lead), width))
    if chosen is not None and bool(xp.any(chosen > _POSITIVE_SLACK)):
        i = _first(xp, chosen > _POSITIVE_SLACK)
        raise InvalidArgumentError(f"chosen_logprob: logprob {float(chosen[i])} at position {i} is above 0")
    above = (top == math.inf) | (top > _POSITIVE_SLACK)
    if bool(xp.any(above)):
        i = _first(xp, xp.reshape(above, (-1,)))
        r, j = divmod(i, width)
        raise InvalidArgumentError(f"top_logprobs: logprob {float(top[r, j])} at position {r}, entry {j} is above 0")
    return top, lead, chosen, kk, v, sent


def _topk_rows(c: _Ctx, top: Any, chosen: Any, policy: str, vocab: int | None, k: int, sent: float) -> dict[str, Any]:
    xp = c.xp
    nan, zero, inf = c.full(math.nan), c.full(0.0), c.full(math.inf)
    missing = xp.isnan(top) | (top <= sent) | (top == -inf)
    kept = xp.sort(xp.where(missing, -inf, xp.minimum(top, zero)), axis=-1, descending=True)
    kept = kept[:, : min(k, int(top.shape[-1]))]
    valid = kept > -inf
    n = xp.sum(xp.astype(valid, _int64(xp)), axis=-1)
    p = xp.where(valid, xp.exp(kept), zero)
    mass = xp.sum(p, axis=-1)
    tail = xp.maximum(1.0 - mass, zero)
    raw_h = xp.sum(xp.where(valid, -p * kept, zero), axis=-1)
    log_mass = xp.log(mass)
    none = n == 0
    ren_h = xp.where(none, nan, xp.maximum(log_mass + raw_h / mass, zero))
    pmin = xp.min(xp.where(valid, p, inf), axis=-1)
    full = xp.floor(tail / pmin)
    rem = tail - full * pmin
    lower = xp.where(tail > 0, raw_h + full * _xlogx_neg(xp, pmin, zero) + _xlogx_neg(xp, rem, zero), raw_h)
    lower = xp.where(none, nan, lower)
    if vocab is None:
        upper = xp.where(none, nan, nan)
    else:
        nf = xp.astype(n, c.wide)
        upper = xp.where((nf >= vocab) | (tail == 0), raw_h, raw_h + tail * xp.log((vocab - nf) / tail))
        upper = xp.where(xp.isnan(upper) | xp.isnan(lower), upper, xp.maximum(upper, lower))
        upper = xp.where(none, nan, upper)
    renorm = policy == "renormalized"
    shift = log_mass if renorm else zero
    entropy = {"raw": xp.where(none, nan, raw_h), "renormalized": ren_h, "bounds": lower}[policy]
    if k >= 2:
        negentropy = xp.where(n < k, nan, 1.0 - ren_h / math.log(k))
    else:
        negentropy = xp.full(tuple(n.shape), math.nan, dtype=c.wide, device=c.dev)
    p1 = p[:, 0]
    p2 = p[:, 1] if p.shape[-1] > 1 else xp.zeros_like(p1)
    margin = (p1 - p2) / mass if renorm else p1 - p2
    out = {
        "entropy": entropy,
        "entropy_lower": lower,
        "entropy_upper": upper,
        "tail_mass": tail,
        "negentropy": negentropy,
        "max_logprob": xp.where(none, nan, kept[:, 0] - shift),
        "margin_prob": xp.where(none, nan, margin),
        "n_valid": n,
        "chosen_logprob": None,
        "chosen_rank": None,
    }
    if chosen is not None:
        miss = xp.isnan(chosen) | (chosen <= sent) | (chosen == -inf)
        cl = xp.minimum(chosen, zero)
        rank = xp.sum(xp.astype(valid & (kept > cl[:, None]), _int64(xp)), axis=-1)
        lp = xp.where(rank < n, cl - log_mass, nan) if renorm else cl
        out["chosen_logprob"] = xp.where(miss, nan, lp)
        out["chosen_rank"] = xp.where(miss, xp.asarray(-1, dtype=rank.dtype, device=c.dev), rank)
    return out


def topk_summary(
    xp: Any,
    top_logprobs: Any,
    chosen_logprob: Any,
    *,
    policy: str,
    vocab_size: int | None,
    k: int | None,
    sentinel: float,
) -> Any:
    """:func:`credo.signals.topk_summary` on the device: the per-position signals aggregated over
    positions, NaN positions skipped (``topk_aggregate.rs``); each field a 0-d device array."""
    from credo.signals import TopkSummary

    c = _Ctx(xp, _lead(top_logprobs, chosen_logprob))
    top, lead, chosen, kk, v, sent = _topk_inputs(c, top_logprobs, chosen_logprob, policy, vocab_size, k, sentinel)
    if len(lead) != 1:
        raise ShapeError(
            f"top_logprobs: expected a 2-D [T, k] array for one response, got shape {(*lead, int(top.shape[-1]))}"
        )
    with _errstate():
        s = _topk_rows(c, top, chosen, policy, v, kk, sent)
        nan = c.full(math.nan)

        def agg(a: Any, how: str) -> Any:
            ok = ~xp.isnan(a)
            cnt = xp.sum(xp.astype(ok, c.wide))
            if how == "mean":
                val = xp.sum(xp.where(ok, a, c.full(0.0))) / cnt
            elif how == "sum":
                val = xp.sum(xp.where(ok, a, c.full(0.0)))
            elif how == "max":
                val = xp.max(xp.where(ok, a, c.full(-math.inf)))
            else:
                val = xp.min(xp.where(ok, a, c.full(math.inf)))
            return xp.where(cnt > 0, val, nan)

        if chosen is None:
            lp, not_top1 = None, nan
        else:
            lp, rank = s["chosen_logprob"], s["chosen_rank"]
            has = rank >= 0
            n_has = xp.sum(xp.astype(has, c.wide))
            miss = xp.sum(xp.astype(has & (rank >= 1), c.wide))
            not_top1 = xp.where(n_has > 0, miss / n_has, nan)
        return TopkSummary(
            n_tokens=lead[0],
            mean_entropy=agg(s["entropy"], "mean"),
            max_entropy=agg(s["entropy"], "max"),
            mean_entropy_upper=agg(s["entropy_upper"], "mean"),
            mean_tail_mass=agg(s["tail_mass"], "mean"),
            max_tail_mass=agg(s["tail_mass"], "max"),
            mean_margin=agg(s["margin_prob"], "mean"),
            min_margin=agg(s["margin_prob"], "min"),
            mean_max_logprob=agg(s["max_logprob"], "mean"),
            sum_logprob=nan if lp is None else agg(lp, "sum"),
            mean_logprob=nan if lp is None else agg(lp, "mean"),
            min_logprob=nan if lp is None else agg(lp, "min"),
            not_top1=not_top1,
        )


# --- binned calibration error --------------------------------------------------------------------

_NETCAL_EPS = float(np.finfo(np.float64).eps)


def _np_linspace01(num: int) -> np.ndarray:
    """numpy.linspace(0, 1, num) as binning.rs builds it (i·step, the last set to 1)."""
    if num == 1:
        return np.zeros(1)
    step = 1.0 / (num - 1)
    v = np.arange(num, dtype=np.float64) * step
    v[-1] = 1.0
    return v


def _torch_linspace01(num: int) -> np.ndarray:
    """torch.linspace(0, 1, num, dtype=float64): the first half up from 0, the second down from 1."""
    if num == 1:
        return np.zeros(1)
    step = 1.0 / (num - 1)
    half = num // 2
    return np.array([i * step if i < half else 1.0 - (num - i - 1) * step for i in range(num)])


def _quantile_edges(c: _Ctx, conf: Any, qs: np.ndarray) -> Any:
    """``numpy.quantile(conf, qs)`` (method "linear") bit for bit, as ``np_quantiles``."""
    xp = c.xp
    srt = xp.sort(conf)
    n = int(conf.shape[0])
    lo, hi, gamma, last = [], [], [], []
    for q in qs:
        vi = (n - 1.0) * float(q)
        if vi >= n - 1:
            lo.append(n - 1)
            hi.append(n - 1)
            gamma.append(0.0)
            last.append(True)
            continue
        prev = math.floor(max(vi, 0.0))
        lo.append(prev)
        hi.append(min(prev + 1, n - 1))
        gamma.append(vi - prev)
        last.append(False)
    a = xp.take(srt, c.asarray(np.array(lo, np.int64)))
    b = xp.take(srt, c.asarray(np.array(hi, np.int64)))
    g = c.asarray(np.array(gamma))
    diff = b - a
    e = xp.where(g >= 0.5, b - diff * (1.0 - g), a + diff * g)
    return xp.where(c.asarray(np.array(last)), b, e)


def _binning(c: _Ctx, conf: Any, convention: str, strategy: str, n_bins: int) -> tuple[Any, Any, int, Any]:
    """(value, bin, number of bins, reported edges) for each confidence, as ``binning.rs``."""
    xp = c.xp
    if n_bins > 1 << 20:  # MAX_BINS in error.rs
        raise InvalidArgumentError(f"n_bins: must be at most {1 << 20}, got {n_bins}")
    if convention == "mapie" and n_bins < 2:
        raise InvalidArgumentError("n_bins: MAPIE's num_bins must be at least 2")
    b = float(n_bins)
    value = xp.clip(conf, _NETCAL_EPS, 1.0 - _NETCAL_EPS) if convention == "netcal" else conf
    i64 = _int64(xp)

    def count(edges: Any, side: str) -> Any:
        return xp.astype(xp.searchsorted(edges, value, side=side), i64)

    if strategy == "quantile":
        if convention not in ("credo", "netcal", "sklearn"):
            raise InvalidArgumentError(
                "strategy: 'quantile' bins are available for the 'credo', 'sklearn' and 'netcal' conventions"
            )
        qs = _np_linspace01(n_bins + 1)
        if convention == "sklearn":
            e = _quantile_edges(c, conf, qs * 100.0 / 100.0)
            return value, count(e[1:n_bins], "left"), n_bins, e
        e = _quantile_edges(c, conf, qs)
        e = xp.concat([c.full(0.0)[None], e[1:n_bins], c.full(1.0)[None]])
        return value, count(e[1:n_bins], "right"), n_bins, e
    if convention == "credo":
        idx = xp.minimum(xp.astype(xp.floor(value * b), i64), xp.asarray(n_bins - 1, dtype=i64, device=c.dev))
        return value, idx, n_bins, c.asarray(_np_linspace01(n_bins + 1))
    if convention in ("sklearn", "netcal"):
        e = c.asarray(_np_linspace01(n_bins + 1))
        return value, count(e[1:n_bins], "left" if convention == "sklearn" else "right"), n_bins, e
    if convention == "torchmetrics":
        e = _torch_linspace01(n_bins + 1)
        return value, count(c.asarray(e[1:]), "right"), n_bins + 1, c.asarray(np.append(e, 1.0))
    if convention == "mapie":
        e = _np_linspace01(n_bins)
        return value, count(c.asarray(e), "left"), n_bins, c.asarray(np.concatenate([[0.0], e]))
    width = 1.0 / b  # relplot
    cnt = int(1.0 / width) + 1
    idx = xp.minimum(xp.astype(xp.floor(value / width), i64), xp.asarray(cnt - 1, dtype=i64, device=c.dev))
    return value, idx, cnt, c.asarray(np.append(np.arange(cnt) * width, 1.0))


def _bin_sums(c: _Ctx, idx: Any, n_bins: int, columns: list[Any]) -> tuple[list[Any], Any]:
    """Per-bin sums of each column and per-bin counts (one-hot blocks: the array API has no
    scatter-add; blocks keep the temporary under 2^22 entries)."""
    xp = c.xp
    n = int(idx.shape[0])
    bins = xp.arange(n_bins, dtype=idx.dtype, device=c.dev)
    sums = [xp.zeros((n_bins,), dtype=c.wide, device=c.dev) for _ in columns]
    counts = xp.zeros((n_bins,), dtype=_int64(xp), device=c.dev)
    step = max(1, (1 << 22) // n_bins)
    zero = c.full(0.0)
    for lo in range(0, n, step):
        hi = min(lo + step, n)
        hot = idx[lo:hi, None] == bins[None, :]
        sums = [s + xp.sum(xp.where(hot, col[lo:hi, None], zero), axis=0) for s, col in zip(sums, columns, strict=True)]
        counts = counts + xp.sum(xp.astype(hot, _int64(xp)), axis=0)
    return sums, counts


def _stats(c: _Ctx, conf: Any, acc: Any, w: Any, convention: str, strategy: str, n_bins: int) -> dict[str, Any]:
    value, idx, nb, edges = _binning(c, conf, convention, strategy, n_bins)
    (weight, conf_sum, acc_sum), count = _bin_sums(c, idx, nb, [w, w * value, w * acc])
    return {"weight": weight, "count": count, "conf_sum": conf_sum, "acc_sum": acc_sum, "edges": edges}


def _from_stats(c: _Ctx, s: dict[str, Any], norm: str, bin_weighted: bool) -> Any:
    """One number from the per-bin sums (``from_stats`` in ``ece.rs``)."""
    xp = c.xp
    wb = s["weight"]
    zero, one = c.full(0.0), c.full(1.0)
    ne = (s["count"] > 0) & (wb > 0)
    safe = xp.where(ne, wb, one)
    acc = s["acc_sum"] / safe
    gap = acc - s["conf_sum"] / safe
    share = wb / xp.sum(wb) if bin_weighted else one
    denom = one if bin_weighted else xp.maximum(xp.sum(xp.astype(ne, c.wide)), one)
    if norm == "max":
        return xp.max(xp.where(ne, xp.abs(gap), zero))
    if norm == "l1":
        return xp.sum(xp.where(ne, share * xp.abs(gap), zero)) / denom
    if norm == "l2":
        return xp.sqrt(xp.sum(xp.where(ne, share * gap * gap, zero)) / denom)
    term = share * (gap * gap - acc * (1.0 - acc) / (wb - 1.0))
    return xp.sqrt(xp.maximum(xp.sum(xp.where(ne & (wb >= 2.0), term, zero)) / denom, zero))


def _probs2(c: _Ctx, y_prob: Any) -> Any:
    probs = _floats(c, y_prob, "y_prob", (2,))
    _check_range(c, probs, "y_prob", "probabilities")
    return probs


def _binary_view(c: _Ctx, y_true: Any, y_prob: Any, kind: str) -> tuple[Any, Any]:
    """(confidence, outcome) for the top-label or binary view (``metrics._binary_view``)."""
    xp = c.xp
    p = _floats(c, y_prob, "y_prob", (1, 2))
    if p.ndim == 2:
        if kind == "binary":
            if p.shape[1] != 2:
                raise ShapeError(f"y_prob: kind='binary' needs p(y=1) or 2 columns, got shape {tuple(p.shape)}")
            _check_range(c, p, "y_prob", "probabilities")
            labels = _labels(c, y_true, 2)
            _same_length(p.shape[0], "y_true", labels)
            return p[:, 1], xp.astype(labels, c.wide)
        _check_range(c, p, "y_prob", "probabilities")
        labels = _labels(c, y_true, int(p.shape[1]))
        _same_length(p.shape[0], "y_true", labels)
        hit = xp.astype(xp.argmax(p, axis=1), _int64(xp)) == labels
        return xp.max(p, axis=1), xp.astype(hit, c.wide)
    _check_range(c, p, "y_prob", "probabilities")
    y = _floats(c, y_true, "y_true", (1,))
    _same_length(p.shape[0], "y_true", y)
    _check_range(c, y, "y_true", "outcomes")
    return p, y


def ece(
    xp: Any,
    y_true: Any,
    y_prob: Any,
    *,
    kind: str,
    n_bins: int,
    strategy: str,
    norm: str,
    convention: str,
    bin_weighted: bool,
    sample_weight: Any,
) -> Any:
    """:func:`credo.metrics.ece` on the device (options already checked); a 0-d array."""
    c = _Ctx(xp, _lead(y_prob, y_true, sample_weight))
    with _errstate():
        if kind == "canonical":
            raise unsupported("kind='canonical' (CalibrationErrors.jl's cell hashing)", "y_prob", y_prob)
        if kind == "classwise":
            probs = _probs2(c, y_prob)
            k = int(probs.shape[1])
            labels = _labels(c, y_true, k)
            _same_length(probs.shape[0], "y_true", labels)
            w = _weights(c, sample_weight, int(probs.shape[0]))
            total = c.full(0.0)
            for cls in range(k):
                hit = xp.astype(labels == cls, c.wide)
                total = total + _from_stats(
                    c, _stats(c, probs[:, cls], hit, w, convention, strategy, n_bins), norm, bin_weighted
                )
            return total / k
        conf, acc = _binary_view(c, y_true, y_prob, kind)
        w = _weights(c, sample_weight, int(conf.shape[0]))
        return _from_stats(c, _stats(c, conf, acc, w, convention, strategy, n_bins), norm, bin_weighted)


def reliability_table(
    xp: Any, y_true: Any, y_prob: Any, *, kind: str, n_bins: int, strategy: str, convention: str, sample_weight: Any
) -> dict[str, Any]:
    """:func:`credo.metrics.reliability_table` on the device."""
    c = _Ctx(xp, _lead(y_prob, y_true, sample_weight))
    with _errstate():
        conf, acc = _binary_view(c, y_true, y_prob, kind)
        w = _weights(c, sample_weight, int(conf.shape[0]))
        s = _stats(c, conf, acc, w, convention, strategy, n_bins)
        nan = c.full(math.nan)
        has = s["weight"] > 0
        safe = xp.where(has, s["weight"], c.full(1.0))
        mean_conf = xp.where(has, s["conf_sum"] / safe, nan)
        mean_acc = xp.where(has, s["acc_sum"] / safe, nan)
        return {
            "lower": s["edges"][:-1],
            "upper": s["edges"][1:],
            "count": s["count"],
            "weight": s["weight"],
            "confidence": mean_conf,
            "accuracy": mean_acc,
            "gap": mean_acc - mean_conf,
        }


# --- proper scores and AUROC ----------------------------------------------------------------------


def score(xp: Any, kind: str, y_true: Any, y_prob: Any, sample_weight: Any) -> tuple[Any, int]:
    """``metrics._score`` on the device: (Brier's or NLL's weighted mean as a 0-d array, classes)."""
    c = _Ctx(xp, _lead(y_prob, y_true, sample_weight))
    with _errstate():
        p = _floats(c, y_prob, "y_prob", (1, 2))
        eps = float(xp.finfo(p.dtype).eps)  # scikit-learn's log_loss: the dtype's eps (float64 in the kernel)
        _check_range(c, p, "y_prob", "probabilities")
        n = int(p.shape[0])
        if p.ndim == 2:
            k = int(p.shape[1])
            labels = _labels(c, y_true, k)
            _same_length(n, "y_true", labels)
            hot = xp.astype(labels[:, None] == xp.arange(k, dtype=labels.dtype, device=c.dev)[None, :], c.wide)
            if kind == "brier":
                per = xp.sum((hot - p) ** 2, axis=1)
            else:
                per = -xp.log(xp.clip(xp.sum(hot * p, axis=1), eps, 1.0 - eps))
        else:
            k = 2
            y = _floats(c, y_true, "y_true", (1,))
            _same_length(n, "y_true", y)
            _check_range(c, y, "y_true", "outcomes")
            if kind == "brier":
                per = (y - p) ** 2
            else:
                q = xp.clip(p, eps, 1.0 - eps)
                per = -(y * xp.log(q) + (1.0 - y) * xp.log(1.0 - q))
        w = _weights(c, sample_weight, n)
        return xp.sum(w * per) / xp.sum(w), k


def row_sum_range(y_prob: Any) -> tuple[float, float] | None:
    """(min, max) of the row sums of a 2-D numeric ``y_prob`` (None for other input), summed where
    the array lives: only the two numbers reach the host."""
    xp = namespace_of(y_prob)
    if xp is None:
        try:
            arr = np.asarray(y_prob)
        except (TypeError, ValueError):  # ragged or too deep: the metric's intake refuses it
            return None
        if arr.ndim != 2 or not arr.size or arr.dtype.kind not in "biuf":
            return None
        sums = arr.sum(axis=1, dtype=np.float64)
        return float(sums.min()), float(sums.max())
    if y_prob.ndim != 2 or not math.prod(y_prob.shape) or not (_is_float(y_prob.dtype) or _is_int(xp, y_prob.dtype)):
        return None
    c = _Ctx(xp, y_prob)
    sums = xp.sum(xp.astype(y_prob, c.wide), axis=1)
    return float(xp.min(sums)), float(xp.max(sums))


def ranking(xp: Any, kind: str, y_true: Any, y_score: Any, sample_weight: Any) -> Any:
    """AUROC on the device (ties count ½, soft labels split between the classes, as
    ``auroc_ranked`` in ``ranking.rs``); the other ranking metrics are refused."""
    if kind != "auroc":
        raise unsupported(f"the {kind} metric", "y_score", _lead(y_score, y_true, sample_weight))
    c = _Ctx(xp, _lead(y_score, y_true, sample_weight))
    with _errstate():
        s = _floats(c, y_score, "y_score", (1,))
        if not bool(xp.all(xp.isfinite(s))):
            i = _first(xp, ~xp.isfinite(s))
            raise NonFiniteError(f"y_score: non-finite value {float(s[i])} at index {i}")
        n = int(s.shape[0])
        y = _floats(c, y_true, "y_true", (1,))
        _same_length(n, "y_true", y)
        _check_range(c, y, "y_true", "outcomes")
        w = _weights(c, sample_weight, n)
        pos, neg = w * y, w * (1.0 - y)
        order = xp.argsort(s)
        srt = xp.take(s, order)
        cum = xp.cumulative_sum(xp.take(pos, order))
        zero = c.full(0.0)

        def below(side: str) -> Any:  # positive weight at scores < s (left) or <= s (right)
            at = xp.astype(xp.searchsorted(srt, s, side=side), _int64(xp))
            return xp.where(at > 0, xp.take(cum, xp.maximum(at - 1, xp.zeros_like(at))), zero)

        lt, le = below("left"), below("right")
        tp, tn = xp.sum(pos), xp.sum(neg)
        if not bool((tp > 0) & (tn > 0)):
            raise InvalidArgumentError("y_true: needs both correct and incorrect samples (only one class is present)")
        area = xp.sum(neg * ((tp - le) + 0.5 * (le - lt)))
        return area / (tp * tn)


def _lead(*xs: Any) -> Any:
    """The argument whose device the computation follows."""
    for x in xs:
        if on_device(x):
            return x
    for x in xs:
        if _arrayish(x) and not isinstance(x, np.generic):
            return x
    return xs[0]
