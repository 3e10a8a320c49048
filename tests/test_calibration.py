"""Calibrators: cross-checks against scikit-learn / scipy, properties, artefacts and bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import credo
from credo import _credo
from credo.calibration import (
    BetaCalibration,
    HistogramBinning,
    IsotonicCalibrator,
    MulticlassCalibrator,
    PlattScaling,
    SegmentedCalibrator,
    TemperatureScaling,
)

sklearn = pytest.importorskip("sklearn")
from sklearn.base import BaseEstimator, ClassifierMixin  # noqa: E402
from sklearn.calibration import CalibratedClassifierCV, _sigmoid_calibration  # noqa: E402
from sklearn.frozen import FrozenEstimator  # noqa: E402
from sklearn.isotonic import IsotonicRegression  # noqa: E402


class _Decision(ClassifierMixin, BaseEstimator):
    """A 'classifier' whose decision values are its input, so CalibratedClassifierCV calibrates
    exactly the arrays we give credo."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def decision_function(self, X):
        X = np.asarray(X)
        return X[:, 0] if X.shape[1] == 1 else X

    def predict(self, X):
        return np.asarray(X).argmax(axis=1)


class _Proba(_Decision):
    """Same, exposing the input as predict_proba (and no decision_function)."""

    decision_function = None  # type: ignore[assignment]

    def predict_proba(self, X):
        return np.asarray(X)


def _sklearn_calibrated(X, y, method, kind, w=None):
    import warnings

    clf = (_Decision if kind == "decision_function" else _Proba)().fit(X, y)
    with warnings.catch_warnings():
        # the frozen estimator ignores weights: exactly what we want, the calibrator uses them
        warnings.filterwarnings("ignore", message="Since FrozenEstimator", category=UserWarning)
        return CalibratedClassifierCV(FrozenEstimator(clf), method=method).fit(X, y, sample_weight=w)


def _tied_binary(rng, n=3000):
    x = np.round(rng.random(n), 2)
    y = (rng.random(n) < x**1.5).astype(np.int64)
    return x, y


def _logit_data(rng, n=4000, k=10, t=2.0, scale=3.0):
    z = rng.normal(size=(n, k)) * scale
    p = np.exp((z - z.max(1, keepdims=True)) / t)
    p /= p.sum(1, keepdims=True)
    y = (p.cumsum(1) < rng.random((n, 1))).sum(1)
    return z, np.minimum(y, k - 1)


# ------------------------------------------------------------------------------------ isotonic
def test_isotonic_reference_check_values():
    x, y = [0.1, 0.2, 0.2, 0.3, 0.4], [0, 1, 0, 0, 1]
    nan = IsotonicCalibrator(out_of_bounds="nan").fit(x, y)
    np.testing.assert_array_equal(nan.X_thresholds_, [0.1, 0.2, 0.3, 0.4])
    np.testing.assert_allclose(nan.y_thresholds_, [0, 1 / 3, 1 / 3, 1], rtol=0, atol=1e-15)
    assert nan(0.15) == pytest.approx(1 / 6, abs=1e-12)
    assert math.isnan(nan(0.0))
    assert IsotonicCalibrator(out_of_bounds="clip").fit(x, y)(0.0) == 0.0
    with pytest.raises(credo.InvalidArgumentError, match=r"^X"):
        IsotonicCalibrator(out_of_bounds="raise").fit(x, y).predict([0.0])


@pytest.mark.parametrize("increasing", [True, False, "auto"])
@pytest.mark.parametrize("oob", ["clip", "nan"])
def test_isotonic_matches_sklearn_with_heavy_ties(rng, increasing, oob):
    x, y = _tied_binary(rng)
    y = y.astype(np.float64) + rng.normal(size=len(y)) * 0.1
    w = rng.random(len(x)) * (rng.random(len(x)) > 0.1)  # some zero weights
    kw = {"increasing": increasing, "y_min": 0.05, "y_max": 0.9, "out_of_bounds": oob}
    ours = IsotonicCalibrator(**kw).fit(x, y, sample_weight=w)
    ref = IsotonicRegression(**kw).fit(x, y, sample_weight=w)
    np.testing.assert_array_equal(ours.X_thresholds_, ref.X_thresholds_)
    np.testing.assert_allclose(ours.y_thresholds_, ref.y_thresholds_, rtol=0, atol=1e-12)
    assert ours.increasing_ == ref.increasing_
    t = rng.random(5000) * 1.2 - 0.1
    np.testing.assert_allclose(ours.predict(t), ref.predict(t), rtol=0, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize("increasing", [True, False])
@pytest.mark.parametrize("presorted", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_isotonic_matches_sklearn_on_inputs_fitted_in_parallel(rng, increasing, presorted, weighted):
    # above the sizes where the sort and PAVA split the work (2^18): the halves' blocks must
    # join up exactly as one sequential pass would
    n = 300_000
    x = np.where(rng.random(n) < 0.5, np.round(rng.random(n), 3), rng.random(n) ** 3)
    y = (rng.random(n) < x**1.5).astype(np.float64)
    if not increasing:
        y = 1.0 - y
    w = rng.random(n) * (rng.random(n) > 0.1) if weighted else None
    if presorted:
        order = np.argsort(x, kind="stable")
        x, y = x[order], y[order]
        w = None if w is None else w[order]
    ours = IsotonicCalibrator(increasing=increasing, out_of_bounds="clip").fit(x, y, sample_weight=w)
    ref = IsotonicRegression(increasing=increasing, out_of_bounds="clip").fit(x, y, sample_weight=w)
    np.testing.assert_array_equal(ours.X_thresholds_, ref.X_thresholds_)
    np.testing.assert_allclose(ours.y_thresholds_, ref.y_thresholds_, rtol=0, atol=1e-12)
    t = rng.random(20_000)
    np.testing.assert_allclose(ours.predict(t), ref.predict(t), rtol=0, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 400),
    st.sampled_from([0.0, 0.01, 0.1]),
    st.floats(0.2, 3),
    st.booleans(),
    st.booleans(),
    st.integers(0, 2**32 - 1),
)
def test_isotonic_on_labels_matches_sklearn(n, grid, power, increasing, presorted, seed):
    # 0/1 labels without weights take the integer PAVA over runs of labels, 64 at a time: sizes
    # across word boundaries, runs of one label, ties (x on a grid), presorted or not
    rng = np.random.default_rng(seed)
    x = rng.random(n)
    if grid:
        x = np.where(rng.random(n) < 0.7, np.round(x / grid) * grid, x)
    y = (rng.random(n) < x**power).astype(np.float64)
    if presorted:
        order = np.argsort(x, kind="stable")
        x, y = x[order], y[order]
    ours = IsotonicCalibrator(increasing=increasing).fit(x, y)
    ref = IsotonicRegression(increasing=increasing, out_of_bounds="clip").fit(x, y)
    np.testing.assert_array_equal(ours.X_thresholds_, ref.X_thresholds_)
    np.testing.assert_allclose(ours.y_thresholds_, ref.y_thresholds_, rtol=0, atol=1e-12)


def test_isotonic_float32_uses_sklearns_resolution():
    x = np.array([0.5, 0.5 + 5e-7, 0.7, 0.9], dtype=np.float32)
    y = np.array([0.0, 1.0, 0.5, 1.0], dtype=np.float32)
    ours = IsotonicCalibrator().fit(x, y)
    ref = IsotonicRegression().fit(x, y)
    assert len(ours.X_thresholds_) == len(ref.X_thresholds_) == 3
    np.testing.assert_allclose(ours.y_thresholds_, ref.y_thresholds_, atol=1e-6)
    # the same values as float64 are not pooled
    assert len(IsotonicCalibrator().fit(x.astype(np.float64), y).X_thresholds_) == 4


def test_pava_matches_scipy(rng):
    from scipy.optimize import isotonic_regression

    y = rng.normal(size=2000).cumsum() * 0.01 + rng.normal(size=2000)
    w = rng.random(2000) + 0.1
    for inc in (True, False):
        ref = isotonic_regression(y, weights=w, increasing=inc).x
        np.testing.assert_allclose(_credo.isotonic_regression(y, w, increasing=inc), ref, rtol=0, atol=1e-12)


# ------------------------------------------------------------------------------------ Platt
@pytest.mark.parametrize("scale", [1.0, 100.0])
def test_platt_matches_sklearn(rng, scale):
    f = rng.normal(size=2000) * scale
    y = (rng.random(2000) < 1 / (1 + np.exp(-1.3 * f / scale + 0.2))).astype(np.int64)
    w = rng.random(2000)
    for sw in (None, w):
        ours = PlattScaling().fit(f, y, sample_weight=sw)
        a, b = _sigmoid_calibration(f, y, sw)
        assert ours.a_ == pytest.approx(a, rel=1e-6, abs=1e-9)
        assert ours.b_ == pytest.approx(b, rel=1e-6, abs=1e-9)
    ref = _sklearn_calibrated(f[:, None], y, "sigmoid", "decision_function")
    np.testing.assert_allclose(PlattScaling().fit(f, y).predict(f), ref.predict_proba(f[:, None])[:, 1], atol=1e-7)


def test_platt_on_log_odds_equals_platt_on_logits(rng):
    f = rng.normal(size=1000) * 2
    y = (rng.random(1000) < 1 / (1 + np.exp(-f))).astype(int)
    p = 1 / (1 + np.exp(-f))
    a = PlattScaling(inputs="probabilities").fit(p, y)
    b = PlattScaling().fit(f, y)
    assert a.a_ == pytest.approx(b.a_, rel=1e-7) and a.b_ == pytest.approx(b.b_, abs=1e-8)
    np.testing.assert_allclose(a.predict(p), b.predict(f), atol=1e-9)


# ------------------------------------------------------------------------------------ temperature
def test_sklearn_has_temperature_calibration():
    assert "temperature" in CalibratedClassifierCV._parameter_constraints["method"][0].options


def _sk_beta(cal):
    return float(cal.calibrated_classifiers_[0].calibrators[0].beta_)


def test_temperature_matches_sklearn_on_logits(rng):
    z, y = _logit_data(rng)
    w = rng.random(len(y))
    for sw in (None, w):
        ref = _sklearn_calibrated(z, y, "temperature", "decision_function", sw)
        ours = TemperatureScaling().fit(z, y, sample_weight=sw)
        assert ours.beta_ == pytest.approx(_sk_beta(ref), rel=1e-6)
        np.testing.assert_allclose(ours.predict_proba(z), ref.predict_proba(z), atol=1e-6)
    # the recipe of docs/definitions/calibrators.md#temperature-scaling
    assert 0.45 < TemperatureScaling().fit(z, y).beta_ < 0.55


def test_temperature_matches_sklearn_on_probabilities_and_binary(rng):
    z, y = _logit_data(rng, n=3000, k=5)
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    ref = _sklearn_calibrated(p, y, "temperature", "predict_proba")
    ours = TemperatureScaling().fit(p, y)
    assert ours.inputs_ == "probabilities"
    assert ours.beta_ == pytest.approx(_sk_beta(ref), rel=1e-6)
    np.testing.assert_allclose(ours.predict_proba(p), ref.predict_proba(p), atol=1e-6)
    f = rng.normal(size=2000) * 3
    yb = (rng.random(2000) < 1 / (1 + np.exp(-f / 2))).astype(np.int64)
    refb = _sklearn_calibrated(f[:, None], yb, "temperature", "decision_function")
    oursb = TemperatureScaling().fit(f, yb)
    assert oursb.beta_ == pytest.approx(_sk_beta(refb), rel=1e-6)
    np.testing.assert_allclose(oursb.predict(f), refb.predict_proba(f[:, None])[:, 1], atol=1e-6)
    assert oursb(0.5) == pytest.approx(1 / (1 + math.exp(-2 * oursb.beta_ * 0.5)), abs=1e-15)


def test_temperature_float32_is_fitted_not_one(rng):
    z, y = _logit_data(rng)
    z32 = z.astype(np.float32)
    t32 = TemperatureScaling().fit(z32, y)
    t64 = TemperatureScaling().fit(z32.astype(np.float64), y)
    assert abs(t32.temperature_ - 1.0) > 0.5
    assert t32.beta_ == t64.beta_
    np.testing.assert_array_equal(t32.predict_proba(z32), t64.predict_proba(z32.astype(np.float64)))


def test_temperature_is_thread_independent(rng):
    z, y = _logit_data(rng, n=20000)
    a = TemperatureScaling(threads=1).fit(z, y)
    b = TemperatureScaling(threads=2).fit(z, y)
    assert a.beta_ == b.beta_
    np.testing.assert_array_equal(a.predict_proba(z), b.predict_proba(z))


@settings(max_examples=60, deadline=None)
@given(
    st.integers(2, 6).flatmap(
        lambda k: st.tuples(
            st.just(k),
            st.lists(st.lists(st.floats(-30, 30), min_size=k, max_size=k), min_size=1, max_size=30),
        )
    ),
    st.floats(-9.9, 9.9),
)
def test_temperature_keeps_argmax_and_gives_distributions(data, log_beta):
    _, rows = data
    z = np.array(rows, dtype=np.float64)
    p = _credo.TemperatureModel(math.exp(log_beta)).predict(z)
    assert np.array_equal(p.argmax(1), z.argmax(1))
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-12)
    assert (p >= 0).all()


# ------------------------------------------------------------------------------------ beta, histogram
def test_beta_matches_a_logistic_regression_on_its_features(rng):
    from sklearn.linear_model import LogisticRegression

    p = np.clip(rng.beta(2, 1, size=3000), 1e-6, 1 - 1e-6)
    y = (rng.random(3000) < p**2).astype(int)
    ours = BetaCalibration().fit(p, y)
    feats = np.column_stack([np.log(p), -np.log1p(-p)])
    lr = LogisticRegression(C=99999999999, tol=1e-12, max_iter=10000).fit(feats, y)
    assert lr.coef_.min() > 0  # the full model applies
    np.testing.assert_allclose([ours.a_, ours.b_, ours.c_], [*lr.coef_[0], lr.intercept_[0]], rtol=1e-4, atol=1e-5)
    assert ours(float(ours.m_)) == pytest.approx(0.5, abs=1e-9)


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_histogram_matches_numpy(rng, strategy):
    p = np.round(rng.random(2000) ** 3, 3)
    y = (rng.random(2000) < p).astype(int)
    h = HistogramBinning(n_bins=12, strategy=strategy).fit(p, y)
    if strategy == "uniform":
        edges = np.linspace(0, 1, 13)
    else:
        edges = np.quantile(p, np.linspace(0, 1, 13))
        edges[0], edges[-1] = 0.0, 1.0
        edges = np.unique(edges)
    np.testing.assert_array_equal(h.bin_edges_, edges)
    b = np.searchsorted(edges[1:-1], p, side="left")  # (a, b], first bin closed
    counts = np.bincount(b, minlength=len(edges) - 1)
    pos = np.bincount(b, weights=y, minlength=len(edges) - 1)
    mid = (edges[:-1] + edges[1:]) / 2
    want = np.where(counts > 0, pos / np.maximum(counts, 1), mid)
    np.testing.assert_allclose(h.bin_values_, want, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(h.predict(p), want[b])  # same rule at fit and predict
    np.testing.assert_array_equal(h.predict(edges), want[np.searchsorted(edges[1:-1], edges, side="left")])


# ------------------------------------------------------------------------------------ multiclass
@pytest.mark.parametrize("method,sk", [("isotonic", "isotonic"), ("platt", "sigmoid")])
def test_one_vs_rest_matches_calibrated_classifier_cv(rng, method, sk):
    z, y = _logit_data(rng, n=3000, k=4, t=1.5, scale=2.0)
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    ours = MulticlassCalibrator(method=method, strategy="one-vs-rest").fit(p, y)
    ref = _sklearn_calibrated(p, y, sk, "predict_proba")
    q = rng.dirichlet(np.ones(4), size=500)
    np.testing.assert_allclose(ours.predict_proba(q), ref.predict_proba(q), atol=1e-6 if sk == "sigmoid" else 1e-12)


def test_top_label_puts_the_calibrated_confidence_on_the_prediction(rng):
    z, y = _logit_data(rng, n=3000, k=5)
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    cal = MulticlassCalibrator(method="isotonic", strategy="top-label").fit(p, y)
    iso = IsotonicCalibrator().fit(p.max(1), (p.argmax(1) == y).astype(int))
    q = cal.predict_proba(p)
    np.testing.assert_allclose(q.sum(1), 1.0, atol=1e-12)
    np.testing.assert_allclose(q[np.arange(len(p)), p.argmax(1)], iso.predict(p.max(1)), atol=1e-15)
    np.testing.assert_allclose(cal.predict_confidence(p), iso.predict(p.max(1)), atol=1e-15)


# ------------------------------------------------------------------------------------ segmented
def test_segmented_falls_back_to_pooled_for_small_segments(rng):
    z, y = _logit_data(rng, n=3000, k=4)
    seg = np.array(["big"] * 2000 + ["small"] * 50 + ["mid"] * 950)
    z[:2000] *= 3.0  # a differently calibrated segment
    cal = SegmentedCalibrator(method="temperature", min_samples=100).fit(z, y, seg)
    assert set(cal.calibrators_) == {"big", "mid"}
    assert cal.segment_counts_ == {"big": 2000, "mid": 950, "small": 50}
    pooled = TemperatureScaling().fit(z, y)
    big = TemperatureScaling().fit(z[:2000], y[:2000])
    assert cal.pooled_.beta_ == pooled.beta_ and cal.calibrators_["big"].beta_ == big.beta_
    out = cal.predict_proba(z, seg)
    np.testing.assert_array_equal(out[:2000], big.predict_proba(z[:2000]))
    np.testing.assert_array_equal(out[2000:2050], pooled.predict_proba(z[2000:2050]))
    np.testing.assert_array_equal(cal.predict_proba(z[:5], ["unseen"] * 5), pooled.predict_proba(z[:5]))
    x, yb = _tied_binary(rng)
    s = rng.integers(0, 3, len(x))
    sb = SegmentedCalibrator(method="isotonic", min_samples=10).fit(x, yb, s)
    assert sb(0.42, 1) == sb.calibrators_[1](0.42) and sb(0.42) == sb.pooled_(0.42)


# ------------------------------------------------------------------------------------ artefacts
def _fitted_all(rng):
    x, y = _tied_binary(rng, 500)
    z, yk = _logit_data(rng, n=500, k=3)
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    return [
        (PlattScaling().fit(x, y), x),
        (PlattScaling(inputs="probabilities").fit(x, y), x),
        (BetaCalibration().fit(x, y), x),
        (IsotonicCalibrator(increasing="auto", y_min=0.01).fit(x, y), x),
        (HistogramBinning(n_bins=7, strategy="quantile").fit(x, y), x),
        (TemperatureScaling().fit(z, yk), z),
        (TemperatureScaling().fit(p, yk), p),
        (MulticlassCalibrator(method="beta", strategy="top-label").fit(p, yk), p),
        (MulticlassCalibrator(method="isotonic").fit(p, yk), p),
    ]


def test_save_load_gives_identical_predictions(rng, tmp_path):
    for i, (cal, x) in enumerate(_fitted_all(rng)):
        path = tmp_path / f"c{i}.json"
        cal.save(path)
        back = credo.load(path)
        assert type(back) is type(cal) and back.get_params() == cal.get_params()
        np.testing.assert_array_equal(back.predict(x), cal.predict(x))
        body = json.loads(path.read_text())
        assert body["summary"]["n"] == 500 and len(body["summary"]["data_hash"]) == 16
    z, y = _logit_data(rng, n=600, k=3)
    seg = rng.choice(["a", "b", "c"], size=600, p=[0.6, 0.35, 0.05])
    sc = SegmentedCalibrator(method="multiclass", params={"method": "platt", "strategy": "top-label"}, min_samples=100)
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    sc.fit(p, y, seg)
    sc.save(tmp_path / "seg.json")
    back = credo.load(tmp_path / "seg.json")
    np.testing.assert_array_equal(back.predict_proba(p, seg), sc.predict_proba(p, seg))
    assert back.segment_counts_ == sc.segment_counts_


def test_corrupt_or_tampered_artefacts_are_refused(rng, tmp_path):
    cal, _ = _fitted_all(rng)[3]
    path = tmp_path / "iso.json"
    cal.save(path)
    text = path.read_text()
    (tmp_path / "trunc.json").write_text(text[: len(text) // 2])
    body = json.loads(text)
    body["state"]["y_thresholds"][0] = 0.5
    (tmp_path / "tampered.json").write_text(json.dumps(body))
    body = json.loads(text)
    body["schema_version"] = 99
    (tmp_path / "future.json").write_text(json.dumps(body))
    for name in ("trunc", "tampered", "future"):
        with pytest.raises(credo.ArtifactError):
            credo.load(tmp_path / f"{name}.json")
    # a consistent checksum over inconsistent state is still refused (non-increasing thresholds)
    from credo import _artifact

    body = json.loads(text)
    body["state"]["X_thresholds"] = body["state"]["X_thresholds"][::-1]
    del body["sha256"]
    with pytest.raises(credo.ArtifactError):
        _artifact.from_dict({**body, "sha256": _artifact.hashlib.sha256(_artifact._canonical(body)).hexdigest()})


# ------------------------------------------------------------------------------------ estimator API
ALL = [
    PlattScaling,
    BetaCalibration,
    IsotonicCalibrator,
    HistogramBinning,
    TemperatureScaling,
    MulticlassCalibrator,
    SegmentedCalibrator,
]


@pytest.mark.parametrize("cls", ALL)
def test_sklearn_estimator_conventions(cls):
    from sklearn.base import clone
    from sklearn.utils.estimator_checks import (
        check_get_params_invariance,
        check_no_attributes_set_in_init,
        check_parameters_default_constructible,
        check_set_params,
    )

    est = cls()
    check_no_attributes_set_in_init(cls.__name__, est)
    check_parameters_default_constructible(cls.__name__, est)
    check_get_params_invariance(cls.__name__, est)
    check_set_params(cls.__name__, est)
    c = clone(est)
    assert type(c) is cls and c.get_params() == est.get_params()


@pytest.mark.parametrize("cal", ["platt", "beta", "isotonic", "histogram"])
def test_scalar_fast_path_equals_batch(rng, cal):
    x, y = _tied_binary(rng, 500)
    est = {
        "platt": PlattScaling,
        "beta": BetaCalibration,
        "isotonic": IsotonicCalibrator,
        "histogram": HistogramBinning,
    }[cal]()
    est.fit(x, y)
    v = est(0.73)
    assert type(v) is float
    assert v == est.predict(np.array([0.73]))[0] == est.predict(0.73)
    np.testing.assert_array_equal(est([0.1, 0.73]), est.predict([0.1, 0.73]))
    np.testing.assert_allclose(est.predict_proba([0.73]), [[1 - v, v]])


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0, 1), st.floats(-2, 3), st.floats(0.01, 5)), min_size=2, max_size=60),
    st.floats(-1, 0.5),
    st.floats(0.6, 2),
)
def test_isotonic_is_monotone_and_bounded(rows, lo, hi):
    x, y, w = (np.array(c) for c in zip(*rows, strict=True))
    cal = IsotonicCalibrator(y_min=lo, y_max=hi).fit(x, y, sample_weight=w)
    grid = np.linspace(-0.1, 1.1, 301)
    p = cal.predict(grid)
    assert (np.diff(p) >= 0).all()
    assert ((p >= lo) & (p <= hi)).all()


# ------------------------------------------------------------------------------------ bad input
def test_bad_input_names_the_argument(rng):
    x, y = _tied_binary(rng, 100)
    for cls in (PlattScaling, BetaCalibration, IsotonicCalibrator, HistogramBinning):
        est = cls()
        with pytest.raises(credo.NotFittedError):
            est.predict([0.5])
        with pytest.raises(credo.NotFittedError):
            est(0.5)
        bad = x.copy()
        bad[3] = np.nan
        with pytest.raises(credo.NonFiniteError, match=r"^X"):
            est.fit(bad, y)
        with pytest.raises(credo.ShapeError, match=r"^y"):
            est.fit(x, y[:-1])
        with pytest.raises(credo.InvalidArgumentError, match=r"^sample_weight"):
            est.fit(x, y, sample_weight=-np.ones(len(x)))
        with pytest.raises(credo.EmptyInputError, match=r"^X"):
            est.fit([], [])
        fitted = cls().fit(x, y)
        with pytest.raises(credo.NonFiniteError, match=r"^X"):
            fitted(float("nan"))
    for cls in (PlattScaling, BetaCalibration, HistogramBinning):
        # {1, 2} are two classes like any other (classes_), three values are not
        np.testing.assert_array_equal(cls().fit(x, y + 1).predict(x), cls().fit(x, y).predict(x))
        with pytest.raises(credo.InvalidArgumentError, match=r"^y: expected labels of 2 classes"):
            cls().fit(x, y + (np.arange(len(y)) % 3 == 0) * 5)
        with pytest.raises(credo.InvalidArgumentError, match=r"^y"):
            cls().fit(x, np.ones_like(y))  # a single class
    with pytest.raises(credo.InvalidArgumentError, match=r"^X"):
        BetaCalibration().fit(x * 2, y)
    with pytest.raises(credo.InvalidArgumentError, match=r"^X"):
        HistogramBinning().fit(x, y).predict([1.5])
    with pytest.raises(credo.InvalidArgumentError, match=r"^out_of_bounds"):
        IsotonicCalibrator(out_of_bounds="wrap").fit(x, y)
    with pytest.raises(credo.InvalidArgumentError, match=r"^increasing"):
        IsotonicCalibrator(increasing="up").fit(x, y)
    with pytest.raises(credo.InvalidArgumentError, match=r"^n_bins"):
        HistogramBinning(n_bins=0).fit(x, y)
    with pytest.raises(credo.InvalidArgumentError, match=r"^strategy"):
        HistogramBinning(strategy="kmeans").fit(x, y)
    with pytest.raises(credo.InvalidArgumentError, match=r"^inputs"):
        PlattScaling(inputs="odds").fit(x, y)
    with pytest.raises(credo.ShapeError, match=r"^X"):
        PlattScaling().fit(np.ones((100, 3)), y)


def test_bad_input_temperature_and_wrappers(rng):
    z, y = _logit_data(rng, n=200, k=4)
    # 1-based (or any) labels name the classes through classes_; a count that does not match
    # the columns is refused
    shifted = TemperatureScaling().fit(z, y + 4)
    assert shifted.classes_.tolist() == [4, 5, 6, 7] and shifted.beta_ == TemperatureScaling().fit(z, y).beta_
    with pytest.raises(credo.InvalidArgumentError, match=r"^y: expected labels of 4 classes"):
        TemperatureScaling().fit(z, y % 3 + 4)
    with pytest.raises(credo.InvalidArgumentError, match=r"^y"):
        TemperatureScaling().fit(z, np.zeros(200, dtype=int))
    bad = z.copy()
    bad[5, 1] = np.inf
    with pytest.raises(credo.NonFiniteError, match=r"^X"):
        TemperatureScaling().fit(bad, y)
    bad[5, 1] = np.nan
    with pytest.raises(credo.NonFiniteError, match=r"^X"):
        TemperatureScaling().fit(bad, y)
    masked = z.copy()
    masked[np.arange(200), (y + 1) % 4] = -np.inf  # -inf marks impossible classes: allowed
    assert TemperatureScaling().fit(masked, y).beta_ > 0
    with pytest.raises(credo.ShapeError, match=r"^y"):
        TemperatureScaling().fit(z, y[:-1])
    with pytest.raises(credo.InvalidArgumentError, match=r"^threads"):
        TemperatureScaling(threads=0).fit(z, y)
    with pytest.raises(credo.ShapeError, match=r"^X"):
        TemperatureScaling().fit(z, y).predict_proba(z[:, :3])
    with pytest.raises(credo.NotFittedError):
        TemperatureScaling().predict_proba(z)
    with pytest.raises(credo.NotFittedError):
        TemperatureScaling()(0.5)
    with pytest.raises(credo.ShapeError, match=r"^X"):
        TemperatureScaling().fit(z, y)(0.5)  # a float is a binary score, not a K-class row
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    with pytest.raises(credo.InvalidArgumentError, match=r"^method"):
        MulticlassCalibrator(method="temperature").fit(p, y)
    with pytest.raises(credo.InvalidArgumentError, match=r"^strategy"):
        MulticlassCalibrator(strategy="pairwise").fit(p, y)
    with pytest.raises(credo.InvalidArgumentError, match=r"^params"):
        MulticlassCalibrator(params={"nope": 1}).fit(p, y)
    with pytest.raises(credo.InvalidArgumentError, match=r"^X"):
        MulticlassCalibrator().fit(z, y)  # logits are not probabilities
    with pytest.raises(credo.ShapeError, match=r"^segments"):
        SegmentedCalibrator().fit(z, y, ["a"] * 10)
    with pytest.raises(credo.InvalidArgumentError, match=r"^min_samples"):
        SegmentedCalibrator(min_samples=0).fit(z, y, ["a"] * 200)


def test_fit_fingerprint_names_the_data(rng):
    from credo.calibration._common import fingerprint

    x, y = _tied_binary(rng, 1001)
    w = rng.random(1001)
    iso = IsotonicCalibrator().fit(x, y, sample_weight=w)
    # computed in Rust during the fit's input scan: the same value as hashing the arrays
    assert iso.data_hash_ == fingerprint(x, y.astype(np.float64), w)
    assert iso.data_hash_ != IsotonicCalibrator().fit(x, y).data_hash_
    assert PlattScaling().fit(x, y).data_hash_ == fingerprint(x, y.astype(np.float64))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("inputs", ["logits", "probabilities"])
def test_temperature_fingerprint_is_that_of_the_arrays(rng, dtype, weighted, inputs):
    from credo.calibration._common import fingerprint

    # 4003 rows: no multiple of the hash's 4 lanes; computed in Rust beside the fit
    z = rng.normal(size=(4003, 7)).astype(dtype) * 2
    x = np.exp(z) / np.exp(z).sum(1, keepdims=True) if inputs == "probabilities" else z
    y = rng.integers(0, 7, 4003)
    w = rng.random(4003) if weighted else None
    cal = TemperatureScaling(inputs=inputs).fit(x, y, sample_weight=w)
    assert cal.data_hash_ == fingerprint(x, y.astype(np.int64), w)
    assert cal.data_hash_ == TemperatureScaling(inputs=inputs, threads=1).fit(x, y, sample_weight=w).data_hash_
    x2 = x.copy()
    x2[4002, 6] = np.nextafter(x2[4002, 6], dtype(1))  # the last value, in the hash's byte tail
    assert TemperatureScaling(inputs=inputs).fit(x2, y, sample_weight=w).data_hash_ != cal.data_hash_
