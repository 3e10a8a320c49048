"""Numerics against exact or float64 references: ECE's bin rule, NaN vs ±inf in the conformal
statistics."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import credo
from credo import _credo, metrics


def _exact_bin(p: float, n_bins: int) -> int:
    """The documented rule: i/B <= p < (i+1)/B with each edge the double nearest i/B (exact
    rational comparisons), p = 1 in the last bin."""
    edges = [Fraction(i / n_bins) for i in range(n_bins + 1)]
    exact = Fraction(p)
    return max(i for i in range(n_bins) if edges[i] <= exact)


def _bin_of(p: float, n_bins: int) -> int:
    """The bin credo's kernel put ``p`` in, read off its reliability table."""
    table = metrics.reliability_table(np.array([1.0]), np.array([p]), n_bins=n_bins)
    counts = np.asarray(table["count"] if isinstance(table, dict) else table.count)
    return int(np.flatnonzero(counts)[0])


def test_a_confidence_on_an_edge_is_in_the_bin_the_edge_opens() -> None:
    assert _bin_of(0.29, 100) == 29
    y, p = np.array([1.0, 0.0]), np.array([0.29, 0.285])
    # bin 29 holds 0.29 alone and bin 28 holds 0.285 alone: |1 - .29| + |0 - .285|, halved
    assert metrics.ece(y, p, n_bins=100) == pytest.approx((0.71 + 0.285) / 2, abs=1e-15)


@settings(max_examples=300, deadline=None)
@given(
    n_bins=st.integers(1, 2000),
    i=st.integers(0, 2000),
    nudge=st.sampled_from([-1, 0, 1]),
)
def test_bins_match_exact_rational_arithmetic_near_edges(n_bins: int, i: int, nudge: int) -> None:
    p = min(i, n_bins) / n_bins
    p = float(np.clip(np.nextafter(p, np.inf if nudge > 0 else -np.inf) if nudge else p, 0.0, 1.0))
    assert _bin_of(p, n_bins) == _exact_bin(p, n_bins)


@settings(max_examples=200, deadline=None)
@given(p=st.floats(0.0, 1.0), n_bins=st.integers(1, 500))
def test_bins_match_exact_rational_arithmetic_anywhere(p: float, n_bins: int) -> None:
    assert _bin_of(p, n_bins) == _exact_bin(p, n_bins)


def test_conformal_quantile_orders_infinite_scores() -> None:
    s = [-np.inf, -np.inf, 0.3, np.inf, 0.1]
    assert credo.conformal_quantile(s, 0.5) == 0.1
    assert credo.conformal_quantile([-np.inf, -np.inf], 0.4) == -np.inf
    with pytest.raises(credo.NonFiniteError, match=r"^scores: "):
        credo.conformal_quantile([0.1, np.nan], 0.5)


@settings(max_examples=100, deadline=None)
@given(
    finite=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=40),
    n_neg=st.integers(0, 5),
    n_pos=st.integers(0, 5),
    alpha=st.floats(0.01, 0.99),
)
def test_conformal_quantile_is_the_kth_order_statistic(
    finite: list[float], n_neg: int, n_pos: int, alpha: float
) -> None:
    s = np.array(finite + [-np.inf] * n_neg + [np.inf] * n_pos)
    n = s.size
    k = _credo.conformal_rank(n, alpha, "exact")
    want = np.inf if k > n else np.sort(s)[k - 1]
    assert credo.conformal_quantile(s, alpha) == want


def test_p_value_refuses_nan_like_the_array_form() -> None:
    pv = credo.ConformalPValues().fit([0.1, 0.2, 0.2, 0.4, 0.5])
    with pytest.raises(credo.NonFiniteError, match=r"^score"):
        pv.p_value(float("nan"))
    with pytest.raises(credo.NonFiniteError, match=r"^scores"):
        pv.p_values([float("nan")])
    assert pv.p_value(np.inf) == 1 / 6
    with pytest.raises(credo.InvalidArgumentError, match=r"^score"):
        pv.p_value(np.array([0.1, 0.2]))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "fit",
    [
        lambda w: credo.PlattScaling().fit([0.2, 0.8, 0.4, 0.6], [0, 1, 0, 1], sample_weight=w),
        lambda w: credo.IsotonicCalibrator().fit([0.2, 0.8, 0.4, 0.6], [0, 1, 0, 1], sample_weight=w),
        lambda w: credo.HistogramBinning(n_bins=2).fit([0.2, 0.8, 0.4, 0.6], [0, 1, 0, 1], sample_weight=w),
    ],
    ids=["platt", "isotonic", "histogram"],
)
def test_weights_summing_past_the_largest_float_are_refused_not_nan(fit) -> None:
    with pytest.raises(credo.InvalidArgumentError, match=r"^sample_weight: "):
        fit([1e308] * 4)
    assert np.isfinite(fit([1e306] * 4).predict([0.3, 0.7])).all()
