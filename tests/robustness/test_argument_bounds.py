"""Argument checks the bad-input matrix (``_matrix.py``) reaches only in part: lengths checked
before any pass over an array, the exact bounds of seeds and counts, arguments checked on
paths that do not use them, and errors naming the argument the caller wrote."""

from __future__ import annotations

import numpy as np
import pytest

import credo
from credo import metrics

rng = np.random.default_rng(5)
P = rng.uniform(0.05, 0.95, 40)
Y = (rng.uniform(size=P.size) < P).astype(np.int64)
PROBS = rng.dirichlet(np.ones(4), size=40)
CLASSES = PROBS.argmax(axis=1)
CLASSES[:4] = (0, 1, 2, 3)

# 10**10 labels in 8 bytes of memory: any copy (74.5 GiB) or pass over them (seconds) before the
# length check shows as a MemoryError or a stall.
HUGE = np.broadcast_to(np.int64(1), (10**10,))

LABEL_INTAKE = {  # name -> (the labels' argument, the call)
    "PlattScaling.fit": ("y", lambda y: credo.PlattScaling().fit(P, y)),
    "IsotonicCalibrator.fit": ("y", lambda y: credo.IsotonicCalibrator().fit(P, y)),
    "TemperatureScaling.fit": ("y", lambda y: credo.TemperatureScaling().fit(PROBS, y)),
    "MulticlassCalibrator.fit": ("y", lambda y: credo.MulticlassCalibrator().fit(PROBS, y)),
    "ConformalSets.fit": ("labels", lambda y: credo.ConformalSets(alpha=0.2).fit(PROBS, y)),
    "conformal.coverage": ("labels", lambda y: credo.conformal.coverage(PROBS > 0.2, y)),
    "metrics.top_label": ("y_true", lambda y: metrics.top_label(y, PROBS)),
    "metrics.brier_score": ("y_true", lambda y: metrics.brier_score(y, P)),
    "report.metrics_table": ("y_true", lambda y: credo.report.metrics_table(y, P, n_resamples=0)),
}


@pytest.mark.parametrize("name", sorted(LABEL_INTAKE))
def test_a_length_mismatch_is_refused_before_any_pass_over_the_labels(name: str) -> None:
    arg, call = LABEL_INTAKE[name]
    with pytest.raises(credo.ShapeError, match=rf"^{arg}: has 10000000000 entries but there are 40 samples"):
        call(HUGE)


@pytest.mark.parametrize("value", [None, 0.5, "0.5", np.float64(0.5)])
def test_a_scalar_where_an_array_belongs_is_a_shape_error_naming_it(value: object) -> None:
    with pytest.raises(credo.ShapeError, match=r"^y_true: "):
        metrics.bootstrap(lambda t, p: float(np.mean(p)), value, P, n_resamples=5)
    with pytest.raises(credo.ShapeError, match=r"^X: expected an array, got a scalar"):
        credo.SegmentedCalibrator(method="platt", min_samples=5).fit(value, Y, ["a", "b"] * 20)


def test_seeds_take_every_unsigned_64_bit_value_and_nothing_above() -> None:
    top = 2**64 - 1
    assert np.isfinite(metrics.bootstrap(metrics.brier_score, Y, P, n_resamples=5, seed=top).low)
    credo.ConformalSets(alpha=0.2, seed=top).fit(PROBS, CLASSES).predict_sets(PROBS)
    assert credo.conformal.conformal_p_values(P, P[:3], smoothed=True, seed=top).shape == (3,)
    for call in (
        lambda: metrics.bootstrap(metrics.brier_score, Y, P, n_resamples=5, seed=2**64),
        lambda: credo.ConformalSets(alpha=0.2, seed=2**64).fit(PROBS, CLASSES),
        lambda: credo.conformal.conformal_p_values(P, P[:3], smoothed=True, seed=2**64),
    ):
        with pytest.raises(credo.InvalidArgumentError, match=r"^seed: must be at most 2\*\*64 - 1"):
            call()


@pytest.mark.parametrize("threads", [0, -1, True, 1.5, "2"])
def test_bootstrap_checks_threads_on_the_python_path_too(threads: object) -> None:
    """A callable that is not one of credo's metrics runs in Python, where threads is unused:
    it is refused all the same, as on the native path."""

    def mean_p(t: np.ndarray, p: np.ndarray) -> float:
        return float(np.mean(p))

    for metric in (mean_p, metrics.brier_score):
        with pytest.raises(credo.InvalidArgumentError, match=r"^threads: must be a positive integer or None"):
            metrics.bootstrap(metric, Y, P, n_resamples=5, threads=threads)


def test_conformal_p_values_errors_name_the_callers_arguments() -> None:
    bad = P.copy()
    bad[3] = np.inf
    with pytest.raises(credo.NonFiniteError, match=r"^calibration_scores: non-finite value inf at index 3"):
        credo.conformal.conformal_p_values(bad, P[:5])
    with pytest.raises(credo.NonFiniteError, match=r"^test_scores: non-finite value inf at index 3"):
        credo.conformal.conformal_p_values(P, bad)
    with pytest.raises(credo.InvalidArgumentError, match=r"^smoothed: must be True or False"):
        credo.conformal.conformal_p_values(P, P[:5], smoothed=1)


def test_conformal_p_values_keep_the_shape_of_the_test_scores() -> None:
    flat = credo.conformal.conformal_p_values(P, P[:6])
    np.testing.assert_array_equal(credo.conformal.conformal_p_values(P, P[:6].reshape(3, 2)), flat.reshape(3, 2))
    assert credo.conformal.conformal_p_values(P, P[:0]).shape == (0,)


def test_clm_stop_index_refuses_nan_set_scores_and_orders_infinities() -> None:
    s = np.array([[0.1, 0.5, np.inf], [0.2, 0.3, 0.4]])
    np.testing.assert_array_equal(credo.conformal.clm_stop_index(s, 0.45), [1, 2])
    s[1, 2] = np.nan
    with pytest.raises(credo.NonFiniteError, match=r"^set_scores: NaN at row 1, generation 2"):
        credo.conformal.clm_stop_index(s, 0.45)
    for lam in (True, "0.5", None):
        with pytest.raises(credo.InvalidArgumentError, match=r"^lam: must be a number"):
            credo.conformal.clm_stop_index(s[:1], lam)


@pytest.mark.parametrize("bad", ["y_true", "y_prob"])
@pytest.mark.parametrize("variant", ["complex", "text", "object_ints"])
def test_by_segment_refuses_what_no_metric_reads_instead_of_a_table_of_nan(bad: str, variant: str) -> None:
    v = {"y_true": Y, "y_prob": P}[bad]
    wrong = {
        "complex": v.astype(np.complex128) + 1j,
        "text": v.astype(str),
        "object_ints": [2**64] * len(v),
    }[variant]
    args = {"y_true": Y, "y_prob": P, bad: wrong}
    with pytest.raises(credo.InvalidArgumentError, match=rf"^{bad}: expected numbers"):
        metrics.by_segment("brier_score", args["y_true"], args["y_prob"], ["a", "b"] * 20)


def test_temperature_scaling_names_x_for_a_true_class_at_minus_infinity() -> None:
    z = np.log(PROBS)
    z[7, CLASSES[7]] = -np.inf
    with pytest.raises(credo.InvalidArgumentError, match=r"^X: row 7 gives its true class \(y\[7\]\) a logit of -inf"):
        credo.TemperatureScaling(inputs="logits").fit(z, CLASSES)


def test_fit_records_name_the_values_not_the_width_they_came_in() -> None:
    """float32 input and the same values as float64 fit the same model and record the same
    data_hash_ (float32 is fingerprinted widened, in Rust, without a float64 copy)."""
    x32 = PROBS.astype(np.float32)
    a = credo.TemperatureScaling().fit(x32, CLASSES)
    b = credo.TemperatureScaling().fit(x32.astype(np.float64), CLASSES)
    assert a.data_hash_ == b.data_hash_
    assert a.temperature_ == b.temperature_
    c = credo.TemperatureScaling().fit(x32[::-1].copy(), CLASSES)
    assert c.data_hash_ != a.data_hash_
