"""The array-API implementation (credo/_array_api.py) against the Rust kernels and float64 NumPy
references: token signals, top-k signals and summaries, binned calibration error under every
convention, reliability tables, Brier, NLL and AUROC, with the CPU tests' dtypes, shapes and edge
cases, on every namespace at hand.

Backends: NumPy and ``array-api-strict`` with the array-API path forced (``_array_api.FORCE``);
``array-api-strict`` arrays on its extra devices ("device1", and "no_float64", which has no
float64), routed as device arrays without forcing — they refuse any conversion to NumPy, so a
silent copy to the host would fail; torch on the CPU when installed, JAX with
``CREDO_TEST_JAX=1`` (it makes later forks in the session unsafe). With
``CREDO_DEVICE_TESTS=1`` (benches/gpu/device_check.sh) also CUDA torch tensors (through the fused
Triton kernel when triton is installed), CuPy arrays and JAX arrays on a GPU."""

from __future__ import annotations

import importlib
import importlib.util
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import credo
from credo import _array_api as X
from credo import metrics as M
from credo.signals import TopkSummary, topk_summary

from .test_signals import reference as token_reference
from .test_signals_topk_summary import response

xs = pytest.importorskip("array_api_strict")
ml_dtypes = pytest.importorskip("ml_dtypes")

BF16 = np.dtype(ml_dtypes.bfloat16)
DEVICE_TESTS = os.environ.get("CREDO_DEVICE_TESTS") == "1"
# JAX's runtime threads make any later os.fork() in the session unsafe (the Ray and fork tests):
# its cases run only when asked for, or in the device check.
JAX_TESTS = DEVICE_TESTS or os.environ.get("CREDO_TEST_JAX") == "1"


@dataclass
class Backend:
    name: str
    to: Callable[[np.ndarray], Any]
    forced: bool
    dtypes: tuple[np.dtype, ...]
    wide: bool = True  # has float64 on its device

    def module(self) -> str:
        return {"numpy": "numpy", "torch": "torch", "cupy": "cupy", "jax": "jax"}.get(
            self.name.split("-")[0], "array_api_strict"
        )


F16, F32, F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)


def _strict(device: str) -> Callable[[np.ndarray], Any]:
    dev = xs.Device(device)

    def to(a: np.ndarray) -> Any:
        a = np.ascontiguousarray(a)
        if device == "no_float64" and a.dtype == np.float64:
            a = a.astype(np.float32)
        return xs.asarray(a, device=dev)

    return to


def _torch(device: str) -> Callable[[np.ndarray], Any]:
    def to(a: np.ndarray) -> Any:
        import torch  # imported when a test runs, not at collection (forked tests elsewhere)

        a = np.asarray(a)
        if a.dtype == BF16:
            return torch.from_numpy(a.astype(np.float32)).to(device=device, dtype=torch.bfloat16)
        return torch.from_numpy(np.ascontiguousarray(a)).to(device)

    return to


def _jax(platform: str) -> Callable[[np.ndarray], Any]:
    def to(a: np.ndarray) -> Any:
        import jax  # imported when a test runs: its runtime threads must not exist at collection

        return jax.device_put(np.asarray(a), jax.devices(platform)[0])

    return to


def _backends() -> list[Backend]:
    out = [
        Backend("numpy", lambda a: a, True, (F16, BF16, F32, F64)),
        Backend("strict", _strict("CPU_DEVICE"), True, (F32, F64)),
        Backend("strict-device1", _strict("device1"), False, (F32, F64)),
        Backend("strict-no_float64", _strict("no_float64"), False, (F32,), wide=False),
    ]
    if JAX_TESTS and importlib.util.find_spec("jax") is not None:
        out.append(Backend("jax", _jax("cpu"), True, (F16, BF16, F32), wide=False))
    if importlib.util.find_spec("torch") is not None:
        out.append(Backend("torch", _torch("cpu"), True, (F16, BF16, F32, F64)))
    if DEVICE_TESTS:
        out.append(Backend("torch-cuda", _torch("cuda"), False, (F16, BF16, F32, F64)))
        out.append(Backend("cupy", lambda a: importlib.import_module("cupy").asarray(a), False, (F16, F32, F64)))
        out.append(Backend("jax-gpu", _jax("gpu"), False, (F16, BF16, F32), wide=False))
    return out


BACKENDS = _backends()


@pytest.fixture(params=BACKENDS, ids=lambda b: b.name)
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Backend:
    b: Backend = request.param
    if b.name.startswith("jax"):
        pytest.importorskip("jax")
    monkeypatch.setattr(X, "FORCE", b.forced)
    return b


def host(a: Any) -> np.ndarray | None:
    """A result back on the host, for comparison only (tests copy explicitly)."""
    if a is None:
        return None
    mod = type(a).__module__
    if mod.startswith("torch"):
        return a.detach().cpu().numpy()
    if mod.startswith("cupy"):
        return a.get()
    if mod.startswith("array_api_strict"):
        return np.from_dlpack(a.to_device(xs.Device("CPU_DEVICE")))
    return np.asarray(a)


def assert_lives_with(out: Any, like: Any, b: Backend) -> None:
    """A result is an array of the input's library on the input's device."""
    import array_api_compat

    assert type(out).__module__.startswith(b.module()), type(out)
    if b.name != "numpy":
        assert str(array_api_compat.device(out)) == str(array_api_compat.device(like))


def close(got: Any, want: Any, atol: float, rtol: float = 0.0, what: str = "") -> None:
    g, w = host(got), np.asarray(want)
    assert g.shape == w.shape, what
    if w.dtype.kind in "iu":
        np.testing.assert_array_equal(g, w, err_msg=what)
    else:
        np.testing.assert_allclose(g.astype(np.float64), w, atol=atol, rtol=rtol, err_msg=what)


def tol(b: Backend, dtype: np.dtype) -> float:
    if dtype == F64 and b.wide:
        return 1e-12
    return 1e-5 if b.wide else 3e-5


# --- token signals ---------------------------------------------------------------------------------


def check_tokens(b: Backend, x: np.ndarray, chosen: np.ndarray | None, t: float = 1.0, atol: float = 1e-5) -> Any:
    arr = b.to(x)
    got = credo.token_signals(arr, None if chosen is None else b.to(chosen), temperature=t)
    assert got.simd in ("array-api", "triton")
    cpu = credo.token_signals(x, chosen, temperature=t)  # the Rust kernel
    want = token_reference(x, chosen, t)
    for name, w in want.items():
        close(getattr(got, name), w, atol, what=f"{name} vs float64")
        close(getattr(got, name), getattr(cpu, name), 2 * atol, what=f"{name} vs kernel")
        assert_lives_with(getattr(got, name), arr, b)
    assert got.provenance == cpu.provenance
    assert set(got.to_dict()) == set(cpu.to_dict())
    return got


@pytest.mark.parametrize("dtype", [F16, BF16, F32, F64], ids=str)
def test_every_dtype_batched_masked_and_temperature(backend: Backend, dtype: np.dtype, rng) -> None:
    if dtype not in backend.dtypes:
        pytest.skip(f"{backend.name} has no {dtype}")
    x = (rng.standard_normal((2, 5, 3001)) * 3).astype(dtype)
    x[0, 1, ::3] = -np.inf
    chosen = rng.integers(0, 3001, (2, 5))
    for t in (1.0, 0.7):
        check_tokens(backend, x, chosen, t, tol(backend, dtype))
    check_tokens(backend, x[1], None, 1.0, tol(backend, dtype))  # [T, V], no chosen ids


def test_llama3_vocabulary(backend: Backend, rng) -> None:
    x = (rng.standard_normal((3, 128_256)) * 4).astype(np.float32)
    x[1, rng.integers(0, 128_256, 5000)] = -np.inf
    x[2, :10] = 25.0  # a peaked row
    chosen = rng.integers(0, 128_256, 3)
    for t in (1.0, 0.7):
        check_tokens(backend, x, chosen, t, 1e-5 if backend.wide else 5e-5)


def test_ties_masks_and_single_finite_entry(backend: Backend) -> None:
    x = np.array([[1.0, 3.0, 3.0, -np.inf], [-np.inf, -np.inf, 2.0, -np.inf], [0.0, 0.0, 0.0, 0.0]], dtype=np.float32)
    s = check_tokens(backend, x, np.array([2, 2, 3]), atol=1e-6)
    assert list(host(s.argmax)) == [1, 2, 0]  # the first of tied maxima
    assert host(s.margin_logit)[0] == 0 and host(s.margin_prob)[0] == 0
    assert host(s.chosen_rank)[0] == 0  # ties share the better rank
    assert host(s.entropy)[1] == 0 and host(s.max_logprob)[1] == 0 and np.isinf(host(s.margin_logit)[1])
    v1 = check_tokens(backend, np.array([[2.5], [-1.0]], np.float32), np.array([0, 0]), atol=1e-6)  # V = 1
    assert np.isinf(host(v1.margin_logit)).all() and (host(v1.margin_prob) == 1).all()


def test_invalid_rows_raise_like_the_kernel_or_give_nan(backend: Backend) -> None:
    x = np.zeros((2, 3, 4), np.float32)
    x[1, 2, 3] = np.nan
    with pytest.raises(credo.NonFiniteError, match=r"logits: batch 1, position 2 contains NaN at vocabulary index 3"):
        credo.token_signals(backend.to(x))
    x[1, 2, 3] = np.inf
    with pytest.raises(credo.NonFiniteError, match=r"\+inf at vocabulary index 3"):
        credo.token_signals(backend.to(x))
    y = np.zeros((3, 4), np.float32)
    y[1] = -np.inf
    with pytest.raises(credo.NonFiniteError, match=r"row 1 has no finite entry"):
        credo.token_signals(backend.to(y))
    s = credo.token_signals(backend.to(y), backend.to(np.array([0, 1, 2])), invalid="nan")
    cpu = credo.token_signals(y, [0, 1, 2], invalid="nan")
    for name, want in cpu.to_dict().items():
        np.testing.assert_allclose(host(getattr(s, name)), want, atol=1e-6, err_msg=name)  # NaN == NaN
    with pytest.raises(credo.InvalidArgumentError, match=r"temperature: 1e-40 makes the logits of row 0 overflow"):
        credo.token_signals(backend.to(np.full((1, 3), 100.0, np.float32)), temperature=1e-40)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"logits": np.zeros(5, np.float32)}, credo.ShapeError, "logits: expected a 2-D"),
        ({"logits": np.zeros((1, 2, 3, 4), np.float32)}, credo.ShapeError, "logits:"),
        ({"logits": np.zeros((0, 5), np.float32)}, credo.EmptyInputError, "logits: is empty"),
        ({"logits": np.zeros((2, 3), np.int64)}, credo.InvalidArgumentError, "logits: expected floating"),
        ({"chosen": np.array([0])}, credo.ShapeError, "chosen: has shape"),
        ({"chosen": np.array([0, 5])}, credo.InvalidArgumentError, r"chosen: token id 5 at row 1 is outside"),
        ({"chosen": np.array([-1, 0])}, credo.InvalidArgumentError, "chosen: token id -1"),
        ({"chosen": np.array([0.5, 1.0])}, credo.InvalidArgumentError, "chosen: token ids must be integers"),
        ({"temperature": 0.0}, credo.InvalidArgumentError, "temperature:"),
        ({"temperature": float("nan")}, credo.InvalidArgumentError, "temperature:"),
        ({"invalid": "skip"}, credo.InvalidArgumentError, "invalid:"),
    ],
)
def test_bad_input_names_the_argument(backend: Backend, kwargs: dict, exc: type, match: str) -> None:
    args = {"logits": np.zeros((2, 5), np.float32)} | kwargs
    logits = backend.to(args.pop("logits"))
    chosen = args.pop("chosen", None)
    for ids in (chosen, None if chosen is None else backend.to(chosen)):  # host or device ids
        with pytest.raises(exc, match=match):
            credo.token_signals(logits, ids, **args)
    with pytest.raises(exc, match=match):  # and the CPU kernel says the same
        _cpu_same(kwargs)


def _cpu_same(kwargs: dict) -> None:
    args = {"logits": np.zeros((2, 5), np.float32)} | kwargs
    credo.token_signals(args.pop("logits"), args.pop("chosen", None), **args)


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(1, 5),
    vocab=st.integers(1, 300),
    dtype=st.sampled_from([F16, BF16, F32, F64]),
    mask_frac=st.floats(0.0, 0.95),
    scale=st.floats(0.1, 30.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_property_numpy_path_matches_reference(rows, vocab, dtype, mask_frac, scale, seed) -> None:  # type: ignore[no-untyped-def]
    r = np.random.default_rng(seed)
    x = (r.standard_normal((rows, vocab)) * scale).astype(dtype)
    x[r.random((rows, vocab)) < mask_frac] = -np.inf
    x[np.arange(rows), r.integers(0, vocab, rows)] = dtype.type(1.0)
    chosen = r.integers(0, vocab, rows)
    X.FORCE = True
    try:
        got = credo.token_signals(x, chosen)
    finally:
        X.FORCE = False
    for name, w in token_reference(x, chosen).items():
        close(getattr(got, name), w, 2e-5 if dtype != F64 else 1e-12, what=name)


# --- top-k signals and summaries -------------------------------------------------------------------


def same(got: Any, want: np.ndarray, rtol: float, what: str) -> None:
    g = host(got)
    assert g.shape == np.shape(want), what
    np.testing.assert_allclose(
        g, want, rtol=rtol, atol=rtol * (1e-2 if rtol < 1e-6 else 1e-1), equal_nan=True, err_msg=what
    )


def check_topk(b: Backend, top: np.ndarray, chosen: np.ndarray | None, **kw: Any) -> Any:
    got = credo.topk_signals(b.to(top), None if chosen is None else b.to(chosen), **kw)
    cpu = credo.topk_signals(top, chosen, **kw)
    rtol = 1e-12 if b.wide else 2e-5
    for name, want in cpu.to_dict().items():
        same(getattr(got, name), want, rtol, f"{name} {kw}")
        assert_lives_with(getattr(got, name), b.to(top), b)
    assert got.provenance == cpu.provenance
    return got


def test_topk_policies_and_chosen_outside(backend: Backend, rng) -> None:
    v, k = 1000, 20
    logits = rng.standard_normal((8, v)) * 3
    lp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    top = -np.sort(-lp, axis=1)[:, :k]
    chosen = lp[:, 5]  # inside the top-k of some rows, not of others
    for policy in ("raw", "renormalized", "bounds"):
        for vocab in (None, v):
            check_topk(backend, top, chosen, policy=policy, vocab_size=vocab)
    shuffled = top[:, rng.permutation(k)]
    check_topk(backend, shuffled, chosen, policy="renormalized", k=7)


def test_topk_sentinels_short_rows_k_plus_one_and_batches(backend: Backend, rng) -> None:
    top = np.array([[-0.1, -3.0, -9999.0, np.nan], [-0.5, -1.5, -2.0, -4.0], [-np.inf, -9999.0, np.nan, -1e5]])
    for policy in ("raw", "renormalized", "bounds"):
        s = check_topk(backend, top, np.array([-9999.0, -4.0, -2.0]), k=3, policy=policy, vocab_size=50)
        assert list(host(s.n_valid)) == [2, 3, 0]
        check_topk(backend, top[:, :1], None, policy=policy)  # k = 1: negentropy undefined
    batched = np.log(rng.dirichlet(np.ones(30), (2, 3)))[..., :5]
    s = check_topk(backend, -np.sort(-batched, axis=-1), np.log(rng.uniform(0.01, 1, (2, 3))))
    assert tuple(s.entropy.shape) == (2, 3)


@pytest.mark.parametrize(
    ("args", "kwargs", "exc", "match"),
    [
        (([[0.5, -1.0]],), {}, credo.InvalidArgumentError, "top_logprobs: logprob 0.5 at position 0, entry 0"),
        (([[-1.0, np.inf]],), {}, credo.InvalidArgumentError, "top_logprobs: logprob inf at position 0, entry 1"),
        (([-1.0, -2.0],), {}, credo.ShapeError, "top_logprobs: expected a 2-D"),
        ((np.zeros((0, 3)),), {}, credo.EmptyInputError, "top_logprobs: is empty"),
        (([[-1.0]], [-1.0, -2.0]), {}, credo.ShapeError, "chosen_logprob: has shape"),
        (([[-1.0]], [0.7]), {}, credo.InvalidArgumentError, r"chosen_logprob: logprob 0\.(7|69)"),
        (([[-1.0]],), {"policy": "softmax"}, credo.InvalidArgumentError, "policy:"),
        (([[-1.0]],), {"k": 0}, credo.InvalidArgumentError, "k:"),
        (([[-1.0, -2.0]],), {"vocab_size": 1}, credo.InvalidArgumentError, "vocab_size:"),
    ],
)
def test_topk_bad_input(backend: Backend, args, kwargs, exc, match) -> None:  # type: ignore[no-untyped-def]
    arrays = [backend.to(np.asarray(a, dtype=np.float64 if backend.wide else np.float32)) for a in args]
    with pytest.raises(exc, match=match):
        credo.topk_signals(*arrays, **kwargs)
    with pytest.raises(exc, match=match):
        credo.topk_signals(*args, **kwargs)  # the kernel's wording


def summary_close(b: Backend, got: TopkSummary, want: TopkSummary) -> None:
    assert int(got.n_tokens) == want.n_tokens
    rtol = 1e-12 if b.wide else 2e-5
    for name in TopkSummary._fields[1:]:
        g, w = float(host(getattr(got, name))), getattr(want, name)
        assert (np.isnan(g) and np.isnan(w)) or g == pytest.approx(w, rel=rtol, abs=rtol * 1e-1), name


@pytest.mark.parametrize("policy", ["raw", "renormalized", "bounds"])
def test_topk_summary_matches_the_native_pass(backend: Backend, policy: str, rng) -> None:
    for case in range(4):
        top, chosen = response(rng, 128, 1 + 6 * case, holes=case % 2 == 0, shuffle=case % 3 != 0)
        kw = {"policy": policy, "vocab_size": 32000 if case % 2 else None}
        if not backend.wide:
            top, chosen = top.astype(np.float32), chosen.astype(np.float32)
        got = topk_summary(backend.to(top), backend.to(chosen), **kw)
        assert_lives_with(got.mean_entropy, backend.to(top), backend)
        summary_close(backend, got, topk_summary(top.astype(np.float64), chosen.astype(np.float64), **kw))
        summary_close(
            backend, topk_summary(backend.to(top), None, **kw), topk_summary(top.astype(np.float64), None, **kw)
        )


# --- metrics ---------------------------------------------------------------------------------------


def binned_inputs(rng, n: int = 3000, k: int = 4, on_edges: bool = True) -> dict[str, np.ndarray]:
    """Confidences and probability rows; ``on_edges``: many values exactly on bin edges, 0 and 1
    included (float32-only namespaces round them off the float64 edges: they get data off-grid)."""
    p = np.round(rng.uniform(size=n) * 20) / 20 if on_edges else rng.uniform(size=n)
    p[:2] = 0.0, 1.0
    y = (rng.uniform(size=n) < p**1.5).astype(np.int64)
    probs = rng.dirichlet(np.ones(k) * 0.7, n)
    if on_edges:
        probs[:50] = np.round(probs[:50] * 10) / 10  # edge values and ties in the argmax
        probs[:50] /= probs[:50].sum(1, keepdims=True)
    labels = rng.integers(0, k, n)
    w = rng.uniform(0, 2, n)
    return {"p": p, "y": y, "probs": probs, "labels": labels, "w": w}


def metric_close(b: Backend, got: Any, want: float, what: str) -> None:
    g = float(host(got))
    rtol = 1e-12 if b.wide else 1e-5
    assert g == pytest.approx(want, rel=rtol, abs=rtol), what


NORMS = ("l1", "l2", "l2_debiased", "max")
CONVENTIONS = ("credo", "sklearn", "netcal", "torchmetrics", "mapie", "relplot")


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_ece_every_convention_norm_strategy_and_view(backend: Backend, convention: str, rng) -> None:
    if backend.name == "strict":
        pytest.skip("array-api-strict runs as a device array (strict-device1)")
    d = binned_inputs(rng, on_edges=backend.wide)
    if not backend.wide:  # compare with the kernel on the values the namespace holds
        d = {k: v.astype(np.float32).astype(np.float64) if v.dtype == np.float64 else v for k, v in d.items()}
    strategies = ("uniform", "quantile") if convention in ("credo", "sklearn", "netcal") else ("uniform",)
    views = [
        ("binary", d["y"], d["p"]),
        ("top_label", d["labels"], d["probs"]),
        ("binary", d["y"] % 2, np.stack([1 - d["p"], d["p"]], 1)),
        ("classwise", d["labels"], d["probs"]),
    ]
    for kind, y, p in views:
        for strategy in strategies:
            for norm, n_bins, w in [(n, None, d["w"]) for n in NORMS] + [("l1", 7, None), ("l2_debiased", 3, None)]:
                kw = dict(kind=kind, convention=convention, strategy=strategy, norm=norm, n_bins=n_bins)
                want = M.ece(y, p.astype(np.float64), sample_weight=w, **kw)
                got = M.ece(backend.to(y), backend.to(p), sample_weight=None if w is None else backend.to(w), **kw)
                metric_close(backend, got, want, str(kw))
                kw = dict(kind=kind, convention=convention, strategy=strategy, adaptive=True)  # ACE
                want = M.ece(y, p.astype(np.float64), **kw)
                metric_close(backend, M.ece(backend.to(y), backend.to(p), **kw), want, f"adaptive {kw}")


def test_reliability_table_and_calibration_curve(backend: Backend, rng) -> None:
    if backend.name == "strict":
        pytest.skip("array-api-strict runs as a device array (strict-device1)")
    d = binned_inputs(rng, 500, on_edges=backend.wide)
    if not backend.wide:
        d = {k: v.astype(np.float32).astype(np.float64) if v.dtype == np.float64 else v for k, v in d.items()}
    for convention in CONVENTIONS:
        for strategy in ("uniform", "quantile") if convention in ("credo", "sklearn", "netcal") else ("uniform",):
            for kind, y, p in (("binary", d["y"], d["p"]), ("top_label", d["labels"], d["probs"])):
                kw = dict(kind=kind, convention=convention, strategy=strategy, n_bins=8)
                want = M.reliability_table(y, p, sample_weight=d["w"], **kw)
                got = M.reliability_table(backend.to(y), backend.to(p), sample_weight=backend.to(d["w"]), **kw)
                assert list(got) == list(want)
                for name, w in want.items():
                    same(got[name], w, 1e-12 if backend.wide else 1e-5, f"{name} {kw}")
    frac, mean = M.calibration_curve(backend.to(d["y"]), backend.to(d["p"]), n_bins=6)
    want_frac, want_mean = M.calibration_curve(d["y"], d["p"], n_bins=6)
    same(frac, want_frac, 1e-12 if backend.wide else 1e-5, "fraction")
    same(mean, want_mean, 1e-12 if backend.wide else 1e-5, "mean")


@pytest.mark.filterwarnings("ignore:y_prob. rows do not sum to 1")  # float32 rows, on the CPU too
def test_brier_nll_auroc(backend: Backend, rng) -> None:
    sk = pytest.importorskip("sklearn.metrics")
    brier_score_loss, log_loss, roc_auc_score = sk.brier_score_loss, sk.log_loss, sk.roc_auc_score

    d = binned_inputs(rng, 800, on_edges=backend.wide)
    if not backend.wide:
        d = {k: v.astype(np.float32).astype(np.float64) if v.dtype == np.float64 else v for k, v in d.items()}
    p = np.clip(d["p"], 0, 1)
    for w in (None, d["w"]):
        bw = None if w is None else backend.to(w)
        metric_close(
            backend,
            M.brier_score(backend.to(d["y"]), backend.to(p), sample_weight=bw),
            M.brier_score(d["y"], p, sample_weight=w),
            "brier 1-D",
        )
        metric_close(
            backend,
            M.nll(backend.to(d["y"]), backend.to(p), sample_weight=bw),
            M.nll(d["y"], p, sample_weight=w),
            "nll 1-D",
        )
        for half in ("auto", True, False):
            metric_close(
                backend,
                M.brier_score(backend.to(d["labels"]), backend.to(d["probs"]), sample_weight=bw, scale_by_half=half),
                M.brier_score(d["labels"], d["probs"], sample_weight=w, scale_by_half=half),
                "brier 2-D",
            )
        metric_close(
            backend,
            M.nll(backend.to(d["labels"]), backend.to(d["probs"]), sample_weight=bw),
            M.nll(d["labels"], d["probs"], sample_weight=w),
            "nll 2-D",
        )
        metric_close(
            backend,
            M.auroc(backend.to(d["y"]), backend.to(p), sample_weight=bw),
            M.auroc(d["y"], p, sample_weight=w),
            "auroc ties",
        )
    metric_close(
        backend, M.brier_score(backend.to(d["y"]), backend.to(p)), brier_score_loss(d["y"], p), "sklearn brier"
    )
    if backend.wide:  # (rounded to float32 the rows no longer sum to one for scikit-learn)
        nll = M.nll(backend.to(d["labels"]), backend.to(d["probs"]))
        metric_close(backend, nll, log_loss(d["labels"], d["probs"]), "sklearn nll")
    metric_close(backend, M.auroc(backend.to(d["y"]), backend.to(p)), roc_auc_score(d["y"], p), "sklearn auroc")
    soft = rng.uniform(size=len(p))  # soft labels split between the classes
    metric_close(backend, M.auroc(backend.to(soft), backend.to(p)), M.auroc(soft, p), "auroc soft")


def test_metric_errors_match_the_kernels(backend: Backend) -> None:
    y, p = np.array([0, 1, 1]), np.array([0.2, 0.7, 0.9])
    cases = [
        (
            M.ece,
            (y, np.array([0.2, 1.5, 0.3])),
            credo.InvalidArgumentError,
            r"y_prob: probabilities must lie in \[0, 1\]",
        ),
        (M.ece, (y, np.array([0.2, np.nan, 0.3])), credo.CredoError, r"y_prob:"),
        (M.ece, (np.array([0, 1]), p), credo.ShapeError, r"y_true: has 2 entries but there are 3 samples"),
        (M.ece, (np.array([0, 2, 1]), p), credo.InvalidArgumentError, r"y_true: outcomes must lie in \[0, 1\]"),
        (M.auroc, (np.array([1, 1, 1]), p), credo.InvalidArgumentError, r"y_true: needs both correct and incorrect"),
        (
            M.brier_score,
            (np.array([0, 3]), np.array([[0.5, 0.5], [0.2, 0.8]])),
            credo.InvalidArgumentError,
            r"y_true: labels must be in \[0, 2\)",
        ),
    ]
    for fn, args, exc, match in cases:
        with pytest.raises(exc, match=match):
            fn(*args)
        with pytest.raises(exc, match=match):
            fn(*(backend.to(a) for a in args))
    with pytest.raises(credo.InvalidArgumentError, match="sample_weight: weights must be non-negative"):
        M.ece(backend.to(y), backend.to(p), sample_weight=backend.to(np.array([1.0, -1.0, 1.0])))
    with pytest.raises(credo.InvalidArgumentError, match="strategy: 'quantile' bins are available"):
        M.ece(backend.to(y), backend.to(p), strategy="quantile", convention="mapie")


# --- routing, zero copy and refusals ----------------------------------------------------------------


class FakeDevice:
    """An array that says it lives on a CUDA device, and that nothing can read."""

    shape, ndim, dtype = (3,), 1, np.dtype(np.float64)

    def __dlpack_device__(self) -> tuple[int, int]:
        return (2, 0)

    def __dlpack__(self, **kw: Any) -> Any:
        raise AssertionError("a device array was read on the host")

    def __array__(self, *a: Any, **k: Any) -> Any:
        raise AssertionError("a device array was copied to the host")


def test_paths_that_only_run_on_the_cpu_refuse_device_arrays(monkeypatch) -> None:
    monkeypatch.setattr(X, "_namespace", lambda x: (_ for _ in ()).throw(AssertionError("routed")))
    y = np.array([0, 1, 1])
    with pytest.raises(credo.InvalidArgumentError, match=r"y_prob: is an array on .*runs only on the CPU.*\.cpu\(\)"):
        M.smooth_ece(y, FakeDevice())
    with pytest.raises(credo.InvalidArgumentError, match=r"y_score: is an array on .*runs only on the CPU"):
        M.risk_coverage_curve(y, FakeDevice())
    d1 = xs.Device("device1")
    monkeypatch.undo()
    with pytest.raises(credo.InvalidArgumentError, match=r"y_score: the aurc metric is not available on the device"):
        M.aurc(xs.asarray([0.0, 1.0, 1.0], device=d1), xs.asarray([0.2, 0.5, 0.9], device=d1))
    with pytest.raises(credo.InvalidArgumentError, match=r"kind='canonical' .* is not available on the device"):
        M.ece(xs.asarray([0, 1], device=d1), xs.asarray([[0.3, 0.7], [0.6, 0.4]], device=d1), kind="canonical")
    with pytest.raises(credo.InvalidArgumentError, match="live on different devices"):
        M.ece(xs.asarray([0.0, 1.0], device=d1), xs.asarray([0.3, 0.7], device=xs.Device("device2")))


def test_cpu_arrays_of_other_libraries_reach_the_kernel_without_a_copy(rng) -> None:
    x = rng.standard_normal((3, 50)).astype(np.float32)
    strict = xs.asarray(x)  # CPU_DEVICE: not forced, so the Rust kernel through DLPack
    view = X.host_view(strict)
    assert np.shares_memory(view, np.from_dlpack(strict))
    got = credo.token_signals(strict)
    assert isinstance(got.entropy, np.ndarray) and got.simd != "array-api"
    np.testing.assert_array_equal(got.entropy, credo.token_signals(x).entropy)
    assert M.ece(xs.asarray([0, 1, 1]), xs.asarray([0.2, 0.7, 0.9])) == M.ece([0, 1, 1], [0.2, 0.7, 0.9])


@pytest.mark.skipif(not JAX_TESTS, reason="JAX in the session breaks later fork tests; CREDO_TEST_JAX=1")
def test_bfloat16_through_dlpack_is_a_view() -> None:
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    x = np.random.default_rng(1).standard_normal((4, 300)).astype(BF16)
    a = jax.device_put(jnp.asarray(x), jax.devices("cpu")[0])
    view = X.host_view(a)
    assert view.dtype == BF16 and view.shape == x.shape
    assert view.__array_interface__["data"][0] == a.unsafe_buffer_pointer()  # no copy
    np.testing.assert_array_equal(view.view(np.uint16), x.view(np.uint16))
    got = credo.token_signals(a)  # a CPU array: the Rust kernel, bf16 lanes
    assert isinstance(got.entropy, np.ndarray)
    np.testing.assert_array_equal(got.entropy, credo.token_signals(x).entropy)
    del a
    np.testing.assert_array_equal(view.view(np.uint16), x.view(np.uint16))  # the view keeps it alive


def test_import_credo_needs_no_array_api_package() -> None:
    import subprocess
    import sys

    from .conftest import subprocess_env

    code = (
        "import sys, credo, numpy as np; credo.token_signals(np.zeros((1, 3), np.float32)); "
        "print(any(m.startswith(('array_api_compat', 'array_api_strict', 'torch', 'jax')) for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=subprocess_env(), capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- the fused kernel (a CUDA device) ---------------------------------------------------------------


@pytest.mark.skipif(not DEVICE_TESTS, reason="CUDA cases run with CREDO_DEVICE_TESTS=1 on a GPU machine")
@pytest.mark.parametrize("dtype", ["bfloat16", "float16", "float32", "float64"])
def test_triton_kernel_matches_array_api_path_and_cpu(dtype: str, monkeypatch) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("triton")
    g = torch.Generator(device="cuda").manual_seed(0)
    x = (torch.randn((37, 128_256), generator=g, device="cuda") * 4).to(getattr(torch, dtype))
    x[3, ::7] = -math.inf
    x[5, :10] = 40.0
    ids = torch.randint(0, 128_256, (37,), device="cuda", generator=g)
    for t in (1.0, 0.7):
        fused = credo.token_signals(x, ids, temperature=t)
        assert fused.simd == "triton"
        monkeypatch.setattr(X, "TRITON", False)
        plain = credo.token_signals(x, ids, temperature=t)
        monkeypatch.setattr(X, "TRITON", True)
        assert plain.simd == "array-api"
        cpu = credo.token_signals(x.cpu(), ids.cpu(), temperature=t)
        for name, want in cpu.to_dict().items():
            got = host(getattr(fused, name))
            if want.dtype.kind in "iu":
                np.testing.assert_array_equal(got, want, err_msg=name)
                np.testing.assert_array_equal(got, host(getattr(plain, name)), err_msg=name)
            else:
                np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=name)
                np.testing.assert_allclose(got, host(getattr(plain, name)), rtol=1e-5, atol=1e-5, err_msg=name)
    bad = x[:4].clone()
    bad[2, 9] = math.nan
    with pytest.raises(credo.NonFiniteError, match="row 2 contains NaN at vocabulary index 9"):
        credo.token_signals(bad)


def test_cpu_only_signal_paths_refuse_device_arrays() -> None:
    d1 = xs.Device("device1")
    logits = xs.asarray(np.zeros((2, 3, 5), np.float32), device=d1)
    on_device = credo.token_signals(logits)
    with pytest.raises(credo.InvalidArgumentError, match=r"signals: is an array on .*runs only on the CPU"):
        credo.sequence_signals(on_device)
    top = xs.asarray(np.log([[0.6, 0.3]]), device=d1)
    with pytest.raises(credo.InvalidArgumentError, match=r"top_logprobs\[0\]: is an array on"):
        credo.topk_summary_batch([top])


class Bf16DLPack:
    """A CPU bfloat16 array offered only through a (legacy, unversioned) DLPack capsule, as torch
    and JAX offer theirs; NumPy itself cannot import bfloat16 through DLPack."""

    def __init__(self, bits: np.ndarray) -> None:
        import ctypes

        class Managed(ctypes.Structure):
            _fields_ = (("dl_tensor", X._DLTensor), ("manager_ctx", ctypes.c_void_p), ("deleter", ctypes.c_void_p))

        self.bits = bits  # uint16 storage
        self.shape_ = (ctypes.c_int64 * bits.ndim)(*bits.shape)
        self.strides_ = (ctypes.c_int64 * bits.ndim)(*(s // 2 for s in bits.strides))
        m = Managed()
        m.dl_tensor.data = bits.ctypes.data
        m.dl_tensor.device.device_type, m.dl_tensor.ndim = 1, bits.ndim
        m.dl_tensor.dtype.code, m.dl_tensor.dtype.bits, m.dl_tensor.dtype.lanes = 4, 16, 1
        m.dl_tensor.shape, m.dl_tensor.strides = self.shape_, self.strides_
        self.managed = m
        self.new = ctypes.pythonapi.PyCapsule_New
        self.new.restype, self.new.argtypes = ctypes.py_object, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
        self.addr = ctypes.addressof(m)

    def __dlpack__(self, **kw: Any) -> Any:
        return self.new(self.addr, b"dltensor", None)  # no deleter: this object owns the memory

    def __dlpack_device__(self) -> tuple[int, int]:
        return (1, 0)


def test_bfloat16_capsules_are_read_as_views(rng) -> None:
    x = (rng.standard_normal((5, 301)) * 3).astype(BF16)
    x[1, ::4] = -np.inf
    for bits in (x.view(np.uint16), x.view(np.uint16)[:, ::2], x.view(np.uint16)[::-1]):
        src = Bf16DLPack(bits)
        view = X.host_view(src)
        assert view.dtype == BF16 and view.shape == bits.shape
        assert np.shares_memory(view.view(np.uint16), bits)  # no copy
        want = credo.token_signals(bits.view(BF16), np.arange(bits.shape[0]))
        got = credo.token_signals(src, np.arange(bits.shape[0]))
        for name, w in want.to_dict().items():
            np.testing.assert_array_equal(getattr(got, name), w, err_msg=name)


def test_nll_warns_on_device_rows_that_do_not_sum_to_one() -> None:
    d1 = xs.Device("device1")
    probs = np.array([[0.5, 0.4], [0.3, 0.7]])
    with pytest.warns(credo.exceptions.DataWarning, match=r"rows do not sum to 1 \(min 0.9, max 1\)"):
        got = M.nll(xs.asarray([0, 1], device=d1), xs.asarray(probs, device=d1))
    with pytest.warns(credo.exceptions.DataWarning, match=r"rows do not sum to 1 \(min 0.9, max 1\)"):
        want = M.nll([0, 1], probs)
    assert float(host(got)) == pytest.approx(want, rel=1e-12)
