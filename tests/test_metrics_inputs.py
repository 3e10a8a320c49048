"""Inputs users have, on every function of credo.metrics: lists, pandas / polars Series and
DataFrames, objects with ``__array__``, CPU ``__dlpack__`` objects (torch, JAX) give the NumPy
result; an array on an accelerator that credo cannot compute on gets a CredoError that says how
to move it, never a silent copy."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import credo
from credo import metrics as M

RNG = np.random.default_rng(0)
N = 60
Y = (RNG.uniform(size=N) < 0.6).astype(np.float64)
P = RNG.uniform(0.3, 1.0, N)
LABELS = (RNG.uniform(size=N) < 0.5).astype(np.int64)
PROBS = np.column_stack([1 - P, P])


class ArrayOnly:
    """Exposes only ``__array__`` (as many array libraries do)."""

    def __init__(self, a):
        self.a = np.asarray(a)

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.a, dtype=dtype)


class DLPackOnly:
    """Exposes only the DLPack protocol, on the CPU."""

    def __init__(self, a):
        self.a = np.asarray(a)

    def __dlpack__(self, **kw):
        return self.a.__dlpack__(**kw)

    def __dlpack_device__(self):
        return (1, 0)


class OnGPU:
    """An array of an unknown library that says (through DLPack) it lives on CUDA device 0."""

    def __init__(self, a):
        self.a = np.asarray(a)
        self.shape, self.ndim, self.dtype = self.a.shape, self.a.ndim, self.a.dtype

    def __dlpack__(self, **kw):
        raise BufferError("device memory")

    def __dlpack_device__(self):
        return (2, 0)

    def __len__(self):
        return len(self.a)

    def __array__(self, dtype=None, copy=None):
        raise AssertionError("credo must not copy a device array to the host")


def _pandas(a):
    pd = pytest.importorskip("pandas")
    return pd.Series(a) if a.ndim == 1 else pd.DataFrame(a)


def _polars(a):
    pl = pytest.importorskip("polars")
    return pl.Series(a) if a.ndim == 1 else pl.DataFrame(a)


def _torch(a):
    torch = pytest.importorskip("torch")
    return torch.from_numpy(np.ascontiguousarray(a))


KINDS = {
    "list": lambda a: a.tolist(),
    "pandas": _pandas,
    "polars": _polars,
    "__array__": ArrayOnly,
    "dlpack": DLPackOnly,
    "torch_cpu": _torch,
}

CASES = {
    "ece": (M.ece, Y, P),
    "ece_top_label_2d": (M.ece, LABELS, PROBS),
    "mce": (M.mce, Y, P),
    "adaptive_ece": (M.adaptive_ece, Y, P),
    "smooth_ece": (M.smooth_ece, Y, P),
    "brier_score": (M.brier_score, Y, P),
    "brier_score_2d": (M.brier_score, LABELS, PROBS),
    "nll": (M.nll, Y, P),
    "nll_2d": (M.nll, LABELS, PROBS),
    "auroc": (M.auroc, Y, P),
    "auprc": (M.auprc, Y, P),
    "aurc": (M.aurc, Y, P),
    "eaurc": (M.eaurc, Y, P),
    "augrc": (M.augrc, Y, P),
    "prr": (M.prr, Y, P),
    "calibration_curve": (M.calibration_curve, Y, P),
    "reliability_table": (M.reliability_table, Y, P),
    "risk_coverage_curve": (M.risk_coverage_curve, Y, P),
    "selective_risk": (lambda a, b: M.selective_risk(a, b, coverage=0.5), Y, P),
    "coverage_at_risk": (lambda a, b: M.coverage_at_risk(a, b, risk=0.3), Y, P),
    "top_label": (M.top_label, LABELS, PROBS),
    "bootstrap": (lambda a, b: M.bootstrap(M.auroc, a, b, n_resamples=20).low, Y, P),
    "bootstrap_callable": (lambda a, b: M.bootstrap(lambda t, s: M.brier_score(t, s), a, b, n_resamples=20).low, Y, P),
    "by_segment": (lambda a, b: M.by_segment("ece", a, b, np.arange(N) % 3)["ece"], Y, P),
}


def _same(want, got):
    """Equal results: arrays, numbers, tuples / named tuples, dicts and dataclasses of them."""
    import dataclasses

    if dataclasses.is_dataclass(want):
        want, got = dataclasses.asdict(want), dataclasses.asdict(got)
    if isinstance(want, dict):
        assert want.keys() == got.keys()
        for k in want:
            _same(want[k], got[k])
    elif isinstance(want, tuple):
        assert len(want) == len(got)
        for a, b in zip(want, got, strict=True):
            _same(a, b)
    else:
        np.testing.assert_array_equal(np.asarray(want), np.asarray(got))


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("case", list(CASES))
def test_inputs_users_have_give_the_numpy_result(case, kind):
    fn, y, p = CASES[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", credo.CredoWarning)
        want = fn(y, p)
        got = fn(KINDS[kind](y), KINDS[kind](p))
    _same(want, got)


@pytest.mark.parametrize("case", list(CASES))
def test_an_array_on_a_gpu_is_refused_with_how_to_move_it(case):
    fn, y, p = CASES[case]
    with pytest.raises(credo.CredoError, match=r"\.cpu\(\)"):
        fn(OnGPU(y), OnGPU(p))
