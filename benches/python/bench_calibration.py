"""Calibrator speed against scikit-learn and scipy, measured in the same run.

Targets (issue 3): isotonic fit from unsorted data ≥ 10× scikit-learn's IsotonicRegression.fit;
on presorted input within 2× of scipy.optimize.isotonic_regression; one calibrated value from
Python < 1 µs (scikit-learn ≈ 63 µs: gated as ≥ 50× scikit-learn's call in the same run); batch
predict at 10⁶ and temperature fit on 10⁵ × 100 against scikit-learn. Every target and its noise
margin: benches/targets.toml.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from _harness import QUICK, median_times_interleaved, record

from credo.calibration import IsotonicCalibrator, TemperatureScaling

sklearn = pytest.importorskip("sklearn")
from scipy.optimize import isotonic_regression  # noqa: E402
from sklearn.isotonic import IsotonicRegression  # noqa: E402

SIZES = [10_000, 100_000] if QUICK else [10_000, 100_000, 1_000_000]


def _data(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.random(n)
    y = (rng.random(n) < x**1.3).astype(np.float64)
    return x, y


UNSORTED_SIZES = [1_000, 10_000, 100_000] if QUICK else [1_000, 10_000, 100_000, 1_000_000, 10_000_000]


@pytest.mark.parametrize("n", UNSORTED_SIZES)
def test_isotonic_fit_unsorted(benchmark, n):
    x, y = _data(n)

    def scipy_fit():  # the expert's route with scipy: sort by x, then PAVA on y in that order
        order = np.argsort(x)
        return isotonic_regression(y[order])

    # pytest-benchmark's timing first, so a failing ratio below is the test's only error
    if n <= 1_000_000:
        benchmark(lambda: IsotonicCalibrator().fit(x, y))
    else:
        benchmark.pedantic(lambda: IsotonicCalibrator().fit(x, y), rounds=1, iterations=1)
    # interleaved (credo, sklearn, scipy, credo, ...) medians: load hits every variant alike
    rounds = 3 if n >= 10_000_000 else 7 if n >= 1_000_000 else 15
    ours, peer, scipy_s = median_times_interleaved(
        [lambda: IsotonicCalibrator().fit(x, y), lambda: IsotonicRegression(out_of_bounds="clip").fit(x, y), scipy_fit],
        repeat=rounds,
    )
    record(
        f"isotonic fit, unsorted, n={n:.0e}", ours, "sklearn IsotonicRegression.fit", peer, f"isotonic.sklearn.n{n:.0e}"
    )
    record(f"isotonic fit, unsorted, n={n:.0e}", ours, "numpy argsort + scipy isotonic_regression", scipy_s, None)


@pytest.mark.parametrize("n", SIZES)
def test_isotonic_fit_presorted(benchmark, n):
    x, y = _data(n, 1)
    order = np.argsort(x, kind="stable")
    xs, ys = np.ascontiguousarray(x[order]), np.ascontiguousarray(y[order])
    benchmark(lambda: IsotonicCalibrator().fit(xs, ys))
    ours, peer = median_times_interleaved(
        [lambda: IsotonicCalibrator().fit(xs, ys), lambda: isotonic_regression(ys)], repeat=15
    )
    # "within 2x of scipy": credo's full fit (tie pooling, PAVA, thresholds) vs scipy's bare PAVA
    record(
        f"isotonic fit, presorted, n={n:.0e}", ours, "scipy isotonic_regression", peer, f"isotonic.presorted.n{n:.0e}"
    )


def test_isotonic_batch_predict(benchmark):
    n = 100_000 if QUICK else 1_000_000
    x, y = _data(n, 2)
    ours_cal = IsotonicCalibrator().fit(x, y)
    ref = IsotonicRegression(out_of_bounds="clip").fit(x, y)
    t = np.random.default_rng(3).random(n)
    np.testing.assert_allclose(ours_cal.predict(t), ref.predict(t), atol=1e-12)
    benchmark(lambda: ours_cal.predict(t))
    ours, peer = median_times_interleaved([lambda: ours_cal.predict(t), lambda: ref.predict(t)], repeat=15)
    work = f"isotonic predict, n={n:.0e} ({len(ours_cal.X_thresholds_)} thresholds)"
    record(work, ours, "sklearn predict", peer, "isotonic.predict")


def test_single_value_latency(benchmark):
    x, y = _data(10_000, 4)
    cal = IsotonicCalibrator().fit(x, y)
    ref = IsotonicRegression(out_of_bounds="clip").fit(x, y)
    assert cal(0.73) == pytest.approx(float(ref.predict([0.73])[0]), abs=1e-12)
    benchmark(lambda: cal(0.73))
    q = [0.73]
    # one call each, looped within a sample (about a millisecond), timed in turn; medians
    best, peer = median_times_interleaved([lambda: cal(0.73), lambda: ref.predict(q)], repeat=15)
    # The stated bound, under a microsecond per call from Python, as a ratio to scikit-learn's
    # call measured in the same run (53-63 µs on a quiet machine): at least 50x faster.
    record(
        "one calibrated value, cal(0.73)",
        best,
        "sklearn predict([x])",
        peer,
        "calibrated_value.sklearn",
        note=f"{best * 1e9:.0f} ns per call",
    )


def _torch_temperature(z, y):
    """The usual PyTorch recipe (Guo et al.'s reference code): LBFGS on log T over the logits."""
    import torch

    logits, labels = torch.from_numpy(z), torch.from_numpy(y)
    log_t = torch.zeros(1, dtype=logits.dtype, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=50, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    opt.step(closure)
    return float(1.0 / log_t.exp())


def test_temperature_fit(benchmark):
    from sklearn.calibration import _TemperatureScaling

    n, k = (20_000, 100) if QUICK else (100_000, 100)
    rng = np.random.default_rng(5)
    z = rng.normal(size=(n, k)) * 3
    y = rng.integers(0, k, n)
    y[: n // 2] = z[: n // 2].argmax(1)

    def sk():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _TemperatureScaling().fit(z, y)

    benchmark.pedantic(lambda: TemperatureScaling().fit(z, y), rounds=1, iterations=1)
    ref_beta = float(sk().beta_)
    assert TemperatureScaling().fit(z, y).beta_ == pytest.approx(ref_beta, rel=1e-6)
    # credo and scikit-learn (scipy's bounded search over the NLL) timed in turn; medians
    ours, peer = median_times_interleaved([lambda: TemperatureScaling().fit(z, y), sk], repeat=3)
    work = f"temperature fit, {n:.0e} x {k}"
    record(work, ours, "sklearn temperature (scipy bounded search, median)", peer, "temperature.sklearn")
    try:
        import torch  # noqa: F401
    except ImportError:
        pass
    else:
        assert 1.0 / _torch_temperature(z, y) == pytest.approx(ref_beta, rel=1e-3)
        ours, peer = median_times_interleaved(
            [lambda: TemperatureScaling().fit(z, y), lambda: _torch_temperature(z, y)], repeat=3
        )
        record(work, ours, "torch LBFGS on log T (median)", peer, "temperature.torch")
