"""Absurd arguments and unusual arrays get a CredoError naming the argument: never a Rust
panic (PyO3's PanicException escapes ``except Exception``), never an aborted process, never a
plain ValueError / OverflowError / TypeError from the array intake."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import credo
from credo import _credo, metrics
from tests.conftest import subprocess_env

rng = np.random.default_rng(11)
P = rng.uniform(0.01, 0.99, 2000)
Y = (rng.uniform(size=P.size) < P).astype(np.int64)


# --- panics: root causes validated in the core --------------------------------------------------


@pytest.mark.parametrize("bound", ["y_min", "y_max"])
def test_nan_isotonic_bounds_are_refused_by_the_core(bound: str) -> None:
    with pytest.raises(credo.InvalidArgumentError, match=rf"^{bound}: "):
        _credo.fit_isotonic(P, Y.astype(np.float64), **{bound: float("nan")})


@pytest.mark.parametrize("n_bins", [2**63 - 1, 2**63, 2**64, 10**30])
def test_huge_bin_counts_are_refused(n_bins: int) -> None:
    with pytest.raises(credo.InvalidArgumentError, match=r"^n_bins: must be at most"):
        metrics.ece(Y, P, n_bins=n_bins)
    with pytest.raises(credo.InvalidArgumentError, match=r"^n_bins: must be at most"):
        credo.HistogramBinning(n_bins=n_bins).fit(P, Y)


def test_the_core_bound_on_bins_is_exact() -> None:
    limit = 1 << 20  # credo_core::error::MAX_BINS
    assert np.isfinite(_credo.ece(P, Y.astype(np.float64), n_bins=limit))
    with pytest.raises(credo.InvalidArgumentError, match=rf"^n_bins: must be at most {limit}, got {limit + 1}"):
        _credo.ece(P, Y.astype(np.float64), n_bins=limit + 1)


def test_a_panic_in_native_code_becomes_a_credo_error() -> None:
    """The binding boundary's last line of defence (errors::catch_panic), exercised through the
    one hook that panics on purpose."""
    if not hasattr(_credo, "_panic_for_tests"):
        pytest.skip("native module built without the test hook")
    with pytest.raises(credo.CredoError, match="internal error"):
        _credo._panic_for_tests()


# --- allocations derived from an argument ------------------------------------------------------

ALLOCATIONS = {
    "histogram_bins": "credo.HistogramBinning(n_bins=10**9).fit(P, Y)",
    "ece_bins": "metrics.ece(Y, P, n_bins=10**9)",
    "reliability_bins": "metrics.reliability_table(Y, P, n_bins=10**9)",
    "bootstrap_resamples": "metrics.bootstrap(metrics.brier_score, Y, P, n_resamples=2**40)",
    "smooth_sigma": "metrics.smooth_ece(Y, P, sigma=1e-300)",
    "bootstrap_indices": "_credo.bootstrap_indices(2**31, 2**31, 0)",
}


@pytest.mark.parametrize("name", sorted(ALLOCATIONS))
def test_huge_allocations_are_refused_not_attempted(name: str) -> None:
    """Run in a child: before the fix these aborted the process or took gigabytes."""
    code = f"""
        import numpy as np, credo
        from credo import _credo, metrics
        P = np.random.default_rng(0).uniform(0.01, 0.99, 500)
        Y = (P > 0.5).astype(np.int64)
        try:
            {ALLOCATIONS[name]}
        except credo.CredoError as e:
            print("CredoError", e)
    """
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        env=subprocess_env(),
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("CredoError"), out.stdout


# --- unusual arrays: converted when safe, refused with a CredoError otherwise ------------------


def _misaligned(a: np.ndarray) -> np.ndarray:
    buf = np.zeros(a.nbytes + 1, np.uint8)
    m = np.frombuffer(buf.data, dtype=a.dtype, count=a.size, offset=1).reshape(a.shape)
    m[...] = a
    assert not m.flags.aligned
    return m


LOGITS = rng.normal(size=(4, 16)).astype(np.float32)
TOP = np.log(np.array([[0.5, 0.3, 0.1]] * 4))
ARRAY_FUNCTIONS = {
    "token_signals": (credo.token_signals, LOGITS),
    "token_signals_f64": (credo.token_signals, LOGITS.astype(np.float64)),
    "sequence_signals": (credo.sequence_signals, LOGITS.astype(np.float64)),
    "topk_signals": (credo.topk_signals, TOP),
    "topk_summary": (credo.topk_summary, TOP),
    "topk_summary_batch": (lambda x: credo.topk_summary_batch([x]), TOP),
    "ece": (lambda x: metrics.ece(Y, x), P),
    "auroc": (lambda x: metrics.auroc(Y, x), P),
    "isotonic": (lambda x: credo.IsotonicCalibrator().fit(x, Y).predict(P), P),
    "platt": (lambda x: credo.PlattScaling().fit(x, Y).predict(P), P),
    "conformal_quantile": (lambda x: credo.conformal_quantile(x, 0.1), P),
    "p_values": (lambda x: credo.ConformalPValues().fit(x).p_values(P[:5]), P),
}
CONVERTIBLE = {
    "big_endian": lambda a: a.astype(a.dtype.newbyteorder(">")),
    "misaligned": _misaligned,
}
REFUSED = {
    "complex": lambda a: a.astype(np.complex128),
    "ragged": lambda a: [list(a.reshape(-1)), [1.0]],
    "huge_integers": lambda a: np.full(a.shape, 2**64, dtype=object).tolist(),
}


def _same(a: object, b: object) -> None:
    fields = list(a) if isinstance(a, dict) else getattr(a, "_fields", None) or list(getattr(a, "__dict__", {}))
    if fields:
        for f in fields:
            x, y = (a[f], b[f]) if isinstance(a, dict) else (getattr(a, f), getattr(b, f))
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y), err_msg=f)
    else:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("variant", sorted(CONVERTIBLE))
@pytest.mark.parametrize("name", sorted(ARRAY_FUNCTIONS))
def test_byte_swapped_and_misaligned_arrays_give_the_same_result(name: str, variant: str) -> None:
    run, base = ARRAY_FUNCTIONS[name]
    _same(run(CONVERTIBLE[variant](base)), run(base))


@pytest.mark.parametrize("variant", sorted(REFUSED))
@pytest.mark.parametrize("name", sorted(ARRAY_FUNCTIONS))
def test_complex_ragged_and_huge_integer_input_is_refused(name: str, variant: str) -> None:
    run, base = ARRAY_FUNCTIONS[name]
    with pytest.raises(credo.CredoError):
        run(REFUSED[variant](base))


@pytest.mark.parametrize(
    "call",
    [
        lambda s: credo.agree([s, "x"]),
        lambda s: credo.agree_batch([[s, "x"]]),
        lambda s: credo.normalize_answer(s),
    ],
    ids=["agree", "agree_batch", "normalize_answer"],
)
def test_lone_surrogates_are_credo_errors(call) -> None:
    with pytest.raises(credo.InvalidArgumentError, match="not valid Unicode"):
        call("a\udc80b")
