"""Differential property tests (hypothesis) against the installed peers: credo and
scikit-learn / MAPIE computed on the same random inputs must agree."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from credo import ConformalSets, IsotonicCalibrator, PlattScaling
from credo import metrics as M

pytest.importorskip("sklearn")

SETTINGS = settings(max_examples=60, deadline=None)
finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=64)


@SETTINGS
@given(
    n=st.integers(2, 40),
    data=st.data(),
    increasing=st.sampled_from([True, False]),
    weighted=st.booleans(),
)
def test_isotonic_matches_sklearn(n, data, increasing, weighted):
    from sklearn.isotonic import IsotonicRegression

    # ties in x are likely (values drawn from a small grid)
    x = data.draw(arrays(np.float64, n, elements=st.integers(0, 8).map(float)))
    y = data.draw(arrays(np.float64, n, elements=finite))
    w = data.draw(arrays(np.float64, n, elements=st.floats(0.01, 10))) if weighted else None
    ref = IsotonicRegression(increasing=increasing, out_of_bounds="clip").fit(x, y, sample_weight=w)
    ours = IsotonicCalibrator(increasing=increasing).fit(x, y, sample_weight=w)
    grid = np.linspace(-1, 9, 23)
    np.testing.assert_allclose(ours.predict(grid), ref.predict(grid), rtol=1e-9, atol=1e-9)


@SETTINGS
@given(n=st.integers(4, 60), data=st.data())
def test_platt_matches_sklearn_sigmoid(n, data):
    from sklearn.calibration import _sigmoid_calibration

    f = data.draw(arrays(np.float64, n, elements=st.floats(-5, 5)))
    y = data.draw(arrays(np.int64, n, elements=st.integers(0, 1)))
    assume(0 < y.sum() < n)
    a, b = _sigmoid_calibration(f, y)
    ours = PlattScaling().fit(f, y)
    p_ref = 1 / (1 + np.exp(a * f + b))
    p = ours.predict(f)
    if np.allclose(p, p_ref, atol=1e-6):
        return
    # On (nearly) separable data the optimum lies at an infinite slope and scikit-learn's L-BFGS
    # stops short of it (e.g. 0.33345 where Platt's target is exactly 1/3); credo's Newton solver
    # goes on. Then credo's fit must reach an objective (Platt's smoothed targets) at least as low.
    pos = y.sum()
    t = np.where(y == 1, (pos + 1) / (pos + 2), 1 / (n - pos + 2))

    def loss(q: np.ndarray) -> float:
        q = np.clip(q, 1e-15, 1 - 1e-15)
        return float(-np.sum(t * np.log(q) + (1 - t) * np.log1p(-q)))

    assert loss(p) <= loss(p_ref) + 1e-9, (p, p_ref)


@SETTINGS
@given(n=st.integers(1, 50), data=st.data())
def test_ranking_metrics_match_sklearn(n, data):
    from sklearn.metrics import average_precision_score, roc_auc_score

    s = data.draw(arrays(np.float64, n, elements=st.integers(0, 5).map(float)))  # ties
    y = data.draw(arrays(np.int64, n, elements=st.integers(0, 1)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert M.auprc(y, s) == pytest.approx(average_precision_score(y, s), abs=1e-12)
    if 0 < y.sum() < n:
        assert M.auroc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    concentration=st.sampled_from([0.1, 0.5, 1.0, 5.0]),
    k=st.integers(2, 8),
    q=st.floats(0.0, 1.0),
    last=st.sampled_from([True, False]),
)
def test_aps_sets_match_mapie_at_the_same_threshold(seed, concentration, k, q, last):
    pytest.importorskip("mapie")
    from mapie.conformity_scores.sets.aps import APSConformityScore

    p = np.random.default_rng(seed).dirichlet(np.full(k, concentration), size=40)
    # MAPIE compares with a 1e-8 slack and credo exactly: keep rows away from those margins
    srt = -np.sort(-p, axis=1)
    clear = (np.abs(np.cumsum(srt, 1) - q).min(1) > 1e-6) & (np.abs(np.diff(srt, axis=1)).min(1) > 1e-6)
    p = p[clear]
    assume(len(p) > 0)
    score = APSConformityScore()
    score.quantiles_ = np.array([q])
    score.random_state = 0
    theirs = score.get_prediction_sets(p[:, :, None], None, np.array([0.1]), cv="prefit", include_last_label=last)
    cs = ConformalSets(0.1, score="aps", include_last_label=last).fit(p, np.arange(len(p)) % k)
    cs.quantile_ = q
    np.testing.assert_array_equal(cs.predict_sets(p), theirs[:, :, 0])
