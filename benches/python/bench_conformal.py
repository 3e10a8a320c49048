"""credo.conformal against MAPIE 1.6 and numpy, timed in the same run.

- LAC conformalize + predict sets on 10⁵ × 100 (target: ≥ 5× MAPIE; numpy recorded).
- The conformal quantile of 10⁶ scores (numpy's ``np.quantile(..., method='lower')`` recorded).
- One conformal p-value from Python on a fitted calibration set (bound: < 1 µs; in the quick run
  as a ratio to NumPy's searchsorted lookup). Targets and margins: benches/targets.toml.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from _harness import QUICK, median_times_interleaved, record, record_bound

from credo.conformal import ConformalPValues, ConformalSets, conformal_quantile

N = 20_000 if QUICK else 100_000
K = 100
ALPHA = 0.1


@pytest.fixture(scope="module")
def lac_data():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.full(K, 0.1), size=2 * N)
    labels = np.array([rng.choice(K, p=p) for p in probs[:N]])
    return probs[:N], labels, probs[N:]


def _numpy_lac(cal, labels, test):
    scores = 1.0 - cal[np.arange(len(labels)), labels]
    n = len(scores)
    q = np.quantile(scores, math.ceil((n + 1) * (1 - ALPHA)) / n, method="lower")
    return (1.0 - test) <= q


def _mapie_lac(cal, labels, test):
    from mapie.classification import SplitConformalClassifier
    from sklearn.base import BaseEstimator, ClassifierMixin

    class Prefit(ClassifierMixin, BaseEstimator):
        def fit(self, X, y=None):
            self.classes_ = np.arange(K)
            return self

        def predict_proba(self, X):
            return X

        def predict(self, X):
            return X.argmax(1)

    m = SplitConformalClassifier(Prefit().fit(None), confidence_level=1 - ALPHA, prefit=True)
    return m.conformalize(cal, labels).predict_set(test)[1][:, :, 0]


def test_lac_conformalize_and_predict(benchmark, lac_data):
    cal, labels, test = lac_data

    def credo_lac():
        return ConformalSets(ALPHA, mode="compat").fit(cal, labels).predict_sets(test)

    benchmark(credo_lac)  # first, so a failing ratio below is the test's only error
    ours = credo_lac()
    np.testing.assert_array_equal(ours, _numpy_lac(cal, labels, test))
    pytest.importorskip("mapie")
    mapie_sets = _mapie_lac(cal, labels, test)
    assert (ours != mapie_sets).mean() < 1e-5  # MAPIE adds a 1e-8 slack to the comparison

    # credo, numpy, MAPIE and the reads of the test matrix timed in turn, the same number of
    # rounds each; medians.
    with ThreadPoolExecutor(2) as pool:
        t_credo, t_numpy, t_mapie, t_read, t_read2 = median_times_interleaved(
            [
                credo_lac,
                lambda: _numpy_lac(cal, labels, test),
                lambda: _mapie_lac(cal, labels, test),
                test.max,
                _read_in_halves(pool, test),
            ],
            repeat=5 if QUICK else 9,
        )
    work = f"LAC conformalize + predict {N}x{K}"
    record(work, t_credo, "MAPIE 1.6 (median)", t_mapie, "lac.mapie")
    # The fair peer: numpy's gather + quantile + compare. credo gathers n values, selects, and
    # compares in one pass over the test matrix; numpy builds a float64 temporary of it.
    record(work, t_credo, "numpy gather + quantile + >= (median)", t_numpy, "lac.numpy")
    _record_read(work, t_credo, test, t_read, t_read2)


def _read_in_halves(pool, test):
    """One read of ``test`` by two threads, a half each (NumPy's max releases the GIL): the
    read as credo's two threads make it."""
    halves = np.array_split(test, 2)
    return lambda: list(pool.map(np.max, halves))


def _record_read(work, t_credo, test, t_read, t_read2):
    """credo's time as a factor of one read of the test matrix (NumPy's max, ungated): the
    machine's floor for the sets pass, which reads every value once and writes one bool per
    value; the fit's gather and the bools' writes come on top. And of the read split over two
    threads (``t_read2``), as credo splits it: the lower floor where one core cannot draw the
    machine's memory bandwidth alone."""
    mb = f"{test.nbytes / 1e6:.0f} MB"
    record_bound(work, t_credo, f"read of the {mb} test matrix (numpy max)", t_read)
    record_bound(work, t_credo, f"read of the {mb} test matrix, 2 threads (numpy max of halves)", t_read2)


def test_lac_float32(lac_data):
    cal, labels, test = (a.astype(np.float32) if a.dtype == np.float64 else a for a in lac_data)

    def credo_lac():
        return ConformalSets(ALPHA, mode="compat").fit(cal, labels).predict_sets(test)

    np.testing.assert_array_equal(credo_lac(), _numpy_lac(cal.astype(np.float64), labels, test.astype(np.float64)))
    # float32 read in place (no float64 copy); numpy computes 1 - p in float32 on its side
    with ThreadPoolExecutor(2) as pool:
        t_credo, t_numpy, t_read, t_read2 = median_times_interleaved(
            [credo_lac, lambda: _numpy_lac(cal, labels, test), test.max, _read_in_halves(pool, test)],
            repeat=7 if QUICK else 15,
        )
    work = f"LAC conformalize + predict {N}x{K} float32"
    record(work, t_credo, "numpy float32 (median)", t_numpy, "lac.numpy_f32")
    _record_read(work, t_credo, test, t_read, t_read2)


def test_quantile_1e6(benchmark):
    n = 200_000 if QUICK else 1_000_000
    scores = np.random.default_rng(1).random(n)

    def numpy_q():
        return np.quantile(scores, math.ceil((n + 1) * (1 - ALPHA)) / n, method="lower")

    assert conformal_quantile(scores, ALPHA, mode="compat") == numpy_q()
    benchmark(conformal_quantile, scores, ALPHA)
    t_credo, t_numpy = median_times_interleaved([lambda: conformal_quantile(scores, ALPHA), numpy_q], repeat=15)
    record(f"conformal quantile n={n}", t_credo, "numpy quantile(lower)", t_numpy, "quantile.numpy")


def test_p_value_latency(benchmark):
    cal = np.random.default_rng(2).random(100_000)
    pv = ConformalPValues().fit(cal)
    s = 0.37
    assert pv.p_value(s) == ((cal >= s).sum() + 1) / (len(cal) + 1)
    sorted_cal = np.sort(cal)

    def numpy_lookup():
        return (len(sorted_cal) - np.searchsorted(sorted_cal, s, side="left") + 1) / (len(sorted_cal) + 1)

    benchmark(pv.p_value, s)
    t_credo, t_numpy = median_times_interleaved([lambda: pv.p_value(s), numpy_lookup], repeat=15)
    work = "one conformal p-value (n=1e5 calibration)"
    # the bound (< 1 µs from Python) as a ratio to NumPy's lookup timed in the same run
    record(work, t_credo, "numpy searchsorted", t_numpy, "pvalue.numpy")
    record_bound(work, t_credo, "1 µs", 1e-6, None if QUICK else "pvalue.1us")
