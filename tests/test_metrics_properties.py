"""Invariants of credo.metrics checked with hypothesis."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credo import metrics as M

settings.register_profile("credo-metrics", max_examples=60, deadline=None)
settings.load_profile("credo-metrics")

# Confidences on a coarse grid, so ties and exact bin edges are common.
probs = st.lists(st.integers(0, 40).map(lambda v: v / 40), min_size=2, max_size=200)


@st.composite
def data(draw):
    p = np.array(draw(probs))
    y = np.array(draw(st.lists(st.integers(0, 1), min_size=len(p), max_size=len(p))))
    return p, y


@given(data(), st.sampled_from(M.CONVENTIONS), st.integers(1, 25))
def test_ece_bounded_and_permutation_invariant(d, convention, n_bins):
    p, y = d
    if convention == "mapie" and n_bins < 2:
        n_bins = 2
    e = M.ece(y, p, n_bins=n_bins, convention=convention)
    assert 0.0 <= e <= 1.0
    perm = np.random.default_rng(len(p)).permutation(len(p))
    assert np.isclose(M.ece(y[perm], p[perm], n_bins=n_bins, convention=convention), e, atol=1e-12)
    assert M.mce(y, p, n_bins=n_bins, convention=convention) >= e - 1e-12


@given(data(), st.integers(1, 4))
def test_integer_weights_equal_repetition(d, k):
    p, y = d
    w = np.full(len(p), float(k))
    w[0] = 1.0
    rep_p, rep_y = np.r_[np.repeat(p[:1], 1), np.repeat(p[1:], k)], np.r_[y[:1], np.repeat(y[1:], k)]
    # (smooth_ece rescales weights to mean 1, so only its scale invariance holds: test_metrics.py)
    for fn in (M.ece, M.brier_score, M.nll):
        assert np.isclose(fn(y, p, sample_weight=w), fn(rep_y, rep_p), atol=1e-10)
    if 0 < y.sum() < len(y):
        assert np.isclose(M.auroc(y, p, sample_weight=w), M.auroc(rep_y, rep_p), atol=1e-12)
        assert np.isclose(M.aurc(y, p, sample_weight=w), M.aurc(rep_y, rep_p), atol=1e-12)


@given(data())
def test_auroc_symmetry_and_sklearn(d):
    roc_auc_score = pytest.importorskip("sklearn.metrics").roc_auc_score
    p, y = d
    if not 0 < y.sum() < len(y):
        return
    a = M.auroc(y, p)
    assert np.isclose(a, roc_auc_score(y, p), atol=1e-12)
    assert np.isclose(M.auroc(y, -p), 1 - a, atol=1e-12)
    assert np.isclose(M.auroc(y, np.exp(3 * p)), a, atol=1e-12)  # rank-based


@given(data())
def test_risk_coverage_curve_shape(d):
    p, y = d
    rc = M.risk_coverage_curve(y, p)
    assert np.all(np.diff(rc.coverage) > 0) and np.isclose(rc.coverage[-1], 1.0)
    assert np.isclose(rc.risk[-1], 1 - y.mean())
    assert np.all(np.diff(rc.thresholds) < 0)
    aurc = M.aurc(y, p)
    assert 0.0 <= aurc <= 1.0
    assert M.eaurc(y, p) >= -1e-12
    assert np.isclose(M.augrc(y, p), np.sum(np.diff(np.r_[0, rc.coverage]) * rc.generalized_risk))


@given(data(), st.integers(0, 2**32))
def test_bootstrap_interval_contains_its_median(d, seed):
    p, y = d
    res = M.bootstrap(M.brier_score, y, p, n_resamples=40, seed=seed)
    assert res.low <= np.median(res.distribution) <= res.high
    again = M.bootstrap(M.brier_score, y, p, n_resamples=40, seed=seed)
    assert np.array_equal(res.distribution, again.distribution)


@given(data())
def test_smooth_ece_equals_relplot_algorithm(d):
    """The kernel's shortcuts (grids shared across bandwidths, the convolution only where the
    interpolation reads it) against relplot's algorithm step for step (tests/_metric_refs.py)."""
    from . import _metric_refs as R

    p, y = d
    value, sigma = M.smooth_ece(y, p, return_sigma=True)
    want_value, want_sigma = R.relplot_smece(p.astype(float), y.astype(float))
    assert sigma == want_sigma
    assert value == pytest.approx(want_value, rel=1e-9, abs=1e-13)


@given(data(), st.sampled_from([1.0, 0.2, 0.05, 0.013, 0.004]))
def test_smooth_ece_at_fixed_sigma_equals_relplot(d, sigma):
    relplot = pytest.importorskip("relplot")
    p, y = d
    want = relplot.smECE_sigma(p.astype(float), y.astype(float), sigma)
    assert M.smooth_ece(y, p, sigma=sigma) == pytest.approx(want, rel=1e-9, abs=1e-13)
