"""credo.metrics against the check values of docs/definitions/metrics.md, scikit-learn, MAPIE and float64 NumPy
re-implementations of the anchors' algorithms (tests/_metric_refs.py)."""

from __future__ import annotations

import numpy as np
import pytest

import credo
from credo import metrics as M
from credo.exceptions import EmptyInputError, InvalidArgumentError, NonFiniteError, ShapeError

from . import _metric_refs as R

pytest.importorskip("sklearn")  # the reference implementation
from sklearn.calibration import calibration_curve as sk_calibration_curve
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

CONF = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.0, 0.05, 0.95, 0.0])
Y = np.array([0, 0, 1, 0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 0])


# --- docs/definitions/metrics.md: the 15-point vector under each convention ------------------------------


@pytest.mark.parametrize(
    ("convention", "expected"),
    [
        ("sklearn", 0.2267),
        ("netcal", 0.1867),
        ("torchmetrics", 0.2067),
        ("relplot", 0.2067),
        ("mapie", 0.2133),
    ],
)
def test_reference_check_vector(convention, expected):
    got = M.ece(Y, CONF, n_bins=10, convention=convention)
    assert got == pytest.approx(expected, abs=5e-5)


def test_check_vector_against_live_mapie_and_numpy_anchors():
    from mapie.metrics.calibration import expected_calibration_error

    assert M.ece(Y, CONF, n_bins=10, convention="mapie") == pytest.approx(
        expected_calibration_error(Y, CONF, num_bins=10), abs=1e-12
    )
    # MAPIE's num_bins=11 is scikit-learn's 10 (a, b] bins.
    assert expected_calibration_error(Y, CONF, num_bins=11) == pytest.approx(
        M.ece(Y, CONF, n_bins=10, convention="sklearn"), abs=1e-12
    )
    assert M.ece(Y, CONF, n_bins=10, convention="netcal") == pytest.approx(R.netcal_ece(CONF, Y), abs=1e-12)
    assert M.ece(Y, CONF, n_bins=10, convention="torchmetrics") == pytest.approx(
        R.torchmetrics_ece(CONF, Y, 10), abs=1e-12
    )
    assert M.ece(Y, CONF, n_bins=10, convention="relplot") == pytest.approx(
        R.relplot_binned_ece(CONF, Y, 10), abs=1e-12
    )


def test_conventions_default_bins_are_the_anchors():
    assert M.ece(Y, CONF, convention="netcal") == M.ece(Y, CONF, n_bins=10, convention="netcal")
    assert M.ece(Y, CONF, convention="torchmetrics") == M.ece(Y, CONF, n_bins=15, convention="torchmetrics")
    assert M.ece(Y, CONF, convention="mapie") == M.ece(Y, CONF, n_bins=50, convention="mapie")


@pytest.mark.parametrize("n_bins", [3, 7, 10, 15, 20])
def test_random_data_matches_anchor_algorithms(rng, n_bins):
    # Confidences on a 0.05 grid put many values exactly on bin edges.
    p = np.round(rng.uniform(size=3000) * 20) / 20
    y = (rng.uniform(size=3000) < p**1.5).astype(int)
    assert M.ece(y, p, n_bins=n_bins, convention="netcal") == pytest.approx(R.netcal_ece(p, y, n_bins), abs=1e-12)
    assert M.ece(y, p, n_bins=n_bins, convention="netcal", adaptive=True) == pytest.approx(
        R.netcal_ece(p, y, n_bins, "ace"), abs=1e-12
    )
    assert M.mce(y, p, n_bins=n_bins, convention="netcal") == pytest.approx(
        R.netcal_ece(p, y, n_bins, "mce"), abs=1e-12
    )
    for norm in ("l1", "l2", "max"):
        got = M.ece(y, p, n_bins=n_bins, convention="torchmetrics", norm=norm)
        assert got == pytest.approx(R.torchmetrics_ece(p, y, n_bins, norm), abs=1e-12)
    assert M.ece(y, p, n_bins=n_bins, convention="relplot") == pytest.approx(
        R.relplot_binned_ece(p, y, n_bins), abs=1e-12
    )
    assert M.ece(y, p, n_bins=n_bins, norm="l2_debiased") == pytest.approx(R.kumar_debiased_l2(p, y, n_bins), abs=1e-12)


def test_adaptive_ece_is_unweighted_mean_over_quantile_bins(rng):
    p = rng.beta(4, 1.5, 2500)
    y = (rng.uniform(size=2500) < p).astype(float)
    edges = np.quantile(p, np.linspace(0, 1, 11))
    edges[0], edges[-1] = 0.0, 1.0
    idx = np.searchsorted(edges[1:-1], p, side="right")  # [a, b), last bin closed
    gaps = [abs(y[idx == b].mean() - p[idx == b].mean()) for b in range(10) if (idx == b).any()]
    assert M.adaptive_ece(y, p, n_bins=10) == pytest.approx(np.mean(gaps), abs=1e-12)
    weighted = sum((idx == b).mean() * abs(y[idx == b].mean() - p[idx == b].mean()) for b in range(10))
    assert M.ece(y, p, n_bins=10, strategy="quantile") == pytest.approx(weighted, abs=1e-12)


def test_multiclass_top_label_matches_netcal_and_mapie(rng):
    from mapie.metrics.calibration import expected_calibration_error

    probs = rng.dirichlet(np.ones(5) * 0.5, size=2000)
    labels = rng.integers(0, 5, 2000)
    assert M.ece(labels, probs, n_bins=10, convention="netcal") == pytest.approx(
        R.netcal_ece(probs, labels, 10), abs=1e-12
    )
    conf, correct = M.top_label(labels, probs)
    assert np.array_equal(conf, probs.max(1)) and np.array_equal(correct, (probs.argmax(1) == labels).astype(float))
    mapie = expected_calibration_error(correct.astype(int), probs, num_bins=12)
    assert M.ece(labels, probs, n_bins=12, convention="mapie") == pytest.approx(mapie, abs=1e-12)


def test_classwise_and_binary_views(rng):
    probs = rng.dirichlet(np.ones(3), size=1500)
    labels = rng.integers(0, 3, 1500)
    expect = np.mean([M.ece((labels == k).astype(int), probs[:, k], kind="binary") for k in range(3)])
    assert M.ece(labels, probs, kind="classwise") == pytest.approx(expect, abs=1e-14)
    p1 = rng.uniform(size=500)
    y = (rng.uniform(size=500) < p1).astype(int)
    two = np.column_stack([1 - p1, p1])
    assert M.ece(y, two, kind="binary") == M.ece(y, p1, kind="binary")


def test_canonical_ece_against_numpy_cells(rng):
    probs = rng.dirichlet(np.ones(3), size=800)
    labels = rng.integers(0, 3, 800)
    # CalibrationErrors.jl UniformBinning: bin ⌈4p⌉ (1-based), p = 0 in the first.
    cells = np.maximum(np.ceil(probs * 4).astype(int), 1) - 1
    keys = cells[:, 0] * 16 + cells[:, 1] * 4 + cells[:, 2]
    onehot = np.eye(3)[labels]
    expect = 0.0
    for key in np.unique(keys):
        m = keys == key
        expect += m.mean() * 0.5 * np.abs(onehot[m].mean(0) - probs[m].mean(0)).sum()
    assert M.ece(labels, probs, kind="canonical", n_bins=4) == pytest.approx(expect, abs=1e-12)


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
@pytest.mark.parametrize("n_bins", [5, 10, 13])
def test_calibration_curve_equals_sklearn(rng, strategy, n_bins):
    p = np.round(rng.uniform(size=777), 2)
    y = (rng.uniform(size=777) < p).astype(int)
    got = M.calibration_curve(y, p, n_bins=n_bins, strategy=strategy)
    want = sk_calibration_curve(y, p, n_bins=n_bins, strategy=strategy)
    np.testing.assert_allclose(got[0], want[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(got[1], want[1], rtol=0, atol=1e-12)


def test_reliability_table_is_consistent_with_ece(rng):
    p = rng.uniform(size=1000)
    y = (rng.uniform(size=1000) < p).astype(int)
    t = M.reliability_table(y, p, n_bins=10)
    keep = t["count"] > 0
    assert t["count"].sum() == 1000
    assert np.sum(t["weight"][keep] / 1000 * np.abs(t["gap"][keep])) == pytest.approx(M.ece(y, p, n_bins=10), abs=1e-14)
    assert np.all(t["lower"] < t["upper"])


# --- §d.8 smooth ECE -----------------------------------------------------------------------------


def test_smooth_ece_reference_check_value():
    rng = np.random.default_rng(0)
    f = rng.uniform(0, 1, 2000)
    y = (rng.uniform(0, 1, 2000) < f**1.3).astype(float)
    value, sigma = M.smooth_ece(y, f, return_sigma=True)
    assert value == pytest.approx(0.066796, abs=5e-7)
    assert sigma == pytest.approx(0.067383, abs=5e-7)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_smooth_ece_matches_numpy_relplot(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 1500))
    f = rng.beta(2, 1, n)
    y = (rng.uniform(size=n) < f**2).astype(float)
    got = M.smooth_ece(y, f, return_sigma=True)
    want = R.relplot_smece(f, y)
    assert got[1] == want[1]
    assert got[0] == pytest.approx(want[0], rel=1e-9)
    assert M.smooth_ece(y, f, sigma=0.1) == pytest.approx(
        M.smooth_ece(y, f, sigma=0.1, sample_weight=np.full(n, 3.0)), rel=1e-12
    )


# --- §d.9 scores and ranking ---------------------------------------------------------------------


def test_brier_nll_against_sklearn(rng):
    p = rng.uniform(size=400)
    y = (rng.uniform(size=400) < p).astype(int)
    w = rng.uniform(0.1, 2, 400)
    assert M.brier_score(y, p) == pytest.approx(brier_score_loss(y, p), abs=1e-14)
    assert M.brier_score(y, p, sample_weight=w) == pytest.approx(brier_score_loss(y, p, sample_weight=w), abs=1e-14)
    two = np.column_stack([1 - p, p])
    assert M.brier_score(y, two) == pytest.approx(brier_score_loss(y, two), abs=1e-14)
    assert M.brier_score(y, p, scale_by_half=False) == pytest.approx(
        brier_score_loss(y, p, scale_by_half=False), abs=1e-14
    )
    probs = rng.dirichlet(np.ones(4), size=400)
    labels = rng.integers(0, 4, 400)
    assert M.brier_score(labels, probs) == pytest.approx(
        brier_score_loss(labels, probs, labels=[0, 1, 2, 3]), abs=1e-13
    )
    assert M.nll(labels, probs, sample_weight=w) == pytest.approx(log_loss(labels, probs, sample_weight=w), abs=1e-13)
    assert M.nll(y, p) == pytest.approx(log_loss(y, p), abs=1e-13)
    assert np.isfinite(M.nll([1, 0], [0.0, 1.0]))  # clipped like scikit-learn


def test_auprc_without_positives_is_zero_with_a_warning_like_sklearn():
    # it used to raise; scikit-learn returns 0.0 and warns, and so does credo now
    import warnings

    with pytest.warns(credo.UndefinedMetricWarning, match=r"^y_true: no positive"):
        ours = M.auprc([0, 0, 0], [0.2, 0.3, 0.9])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert ours == average_precision_score([0, 0, 0], [0.2, 0.3, 0.9]) == 0.0


def test_nll_warns_on_rows_not_summing_to_one_like_sklearn():
    from sklearn.metrics import log_loss

    p = np.array([[0.5, 0.4], [0.3, 0.7]])
    with pytest.warns(credo.DataWarning, match=r"^y_prob: rows do not sum to 1"):
        ours = M.nll([0, 1], p)
    with pytest.warns(UserWarning, match="do not sum to one"):
        assert ours == pytest.approx(log_loss([0, 1], p), rel=1e-12)


def test_bootstrap_basic_and_bca_intervals(rng):
    p = rng.uniform(size=400)
    y = (rng.uniform(size=400) < p).astype(int)
    pct = M.bootstrap(M.auroc, y, p, n_resamples=400, seed=1)
    basic = M.bootstrap(M.auroc, y, p, n_resamples=400, seed=1, method="basic")
    bca = M.bootstrap(M.auroc, y, p, n_resamples=400, seed=1, method="bca")
    np.testing.assert_array_equal(pct.distribution, bca.distribution)  # the same resamples
    assert (basic.low, basic.high) == pytest.approx((2 * pct.estimate - pct.high, 2 * pct.estimate - pct.low))
    assert bca.method == "bca" and bca.contains_estimate and pct.contains_estimate
    # scipy's BCa on the same resamples is not reachable (it draws its own); check against the
    # textbook formula with the full leave-one-out jackknife instead (400 groups = n)
    from statistics import NormalDist

    nd = NormalDist()
    d = pct.distribution
    z0 = nd.inv_cdf(np.mean(d < pct.estimate) + 0.5 * np.mean(d == pct.estimate))
    jk = np.array([M.auroc(np.delete(y, i), np.delete(p, i)) for i in range(400)])
    u = jk.mean() - jk
    a = (u**3).sum() / (6 * (u**2).sum() ** 1.5)
    lv = [nd.cdf(z0 + (z0 + z) / (1 - a * (z0 + z))) for z in (nd.inv_cdf(0.025), nd.inv_cdf(0.975))]
    assert (bca.low, bca.high) == pytest.approx(tuple(np.quantile(d, lv)), abs=1e-12)
    with pytest.raises(InvalidArgumentError, match=r"^method"):
        M.bootstrap(M.auroc, y, p, method="studentized")


def test_auroc_auprc_equal_sklearn_with_ties_and_weights(rng):
    s = np.round(rng.uniform(size=3000), 2)  # many ties
    y = (rng.uniform(size=3000) < s).astype(int)
    w = rng.uniform(0, 3, 3000)
    assert M.auroc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert M.auroc(y, s, sample_weight=w) == pytest.approx(roc_auc_score(y, s, sample_weight=w), abs=1e-12)
    assert M.auprc(y, s) == pytest.approx(average_precision_score(y, s), abs=1e-12)
    assert M.auprc(y, s, sample_weight=w) == pytest.approx(average_precision_score(y, s, sample_weight=w), abs=1e-12)


def test_aurc_family_against_numpy_references(rng):
    s = rng.permutation(2000) / 2000.0  # distinct scores
    y = (rng.uniform(size=2000) < 0.2 + 0.7 * s).astype(float)
    order = np.argsort(-s)
    risks = np.cumsum(1 - y[order]) / np.arange(1, 2001)
    assert M.aurc(y, s) == pytest.approx(risks.mean(), abs=1e-13)
    assert M.augrc(y, s) == pytest.approx(np.mean(np.cumsum(1 - y[order]) / 2000), abs=1e-13)
    assert M.aurc(y, s, convention="torch_uncertainty") == pytest.approx(R.torch_uncertainty_aurc(s, y), abs=1e-12)
    assert M.augrc(y, s, convention="torch_uncertainty") == pytest.approx(
        R.torch_uncertainty_aurc(s, y, True), abs=1e-12
    )
    oracle = np.cumsum(1 - np.sort(y)[::-1]) / np.arange(1, 2001)
    assert M.eaurc(y, s) == pytest.approx(risks.mean() - oracle.mean(), abs=1e-13)
    assert M.eaurc(y, s) > 0
    from mapie.metrics.uncertainty import auarc  # area under accuracy-rejection = 1 − AURC

    assert 1 - M.aurc(y, s) == pytest.approx(auarc(y, s), abs=1e-12)
    assert M.prr(y, s) == pytest.approx(R.lm_polygraph_prr(-s, y), abs=1e-12)
    quality = rng.uniform(size=2000) + s
    assert M.prr(quality, s) == pytest.approx(R.lm_polygraph_prr(-s, quality), abs=1e-12)


def test_risk_coverage_groups_ties_and_selective_queries():
    s = np.array([0.9, 0.9, 0.8, 0.7, 0.7, 0.7, 0.1])
    y = np.array([1, 0, 1, 1, 1, 0, 0])
    rc = M.risk_coverage_curve(y, s)
    np.testing.assert_allclose(rc.thresholds, [0.9, 0.8, 0.7, 0.1])
    np.testing.assert_allclose(rc.coverage, [2 / 7, 3 / 7, 6 / 7, 1.0])
    np.testing.assert_allclose(rc.risk, [1 / 2, 1 / 3, 2 / 6, 3 / 7])
    np.testing.assert_allclose(rc.generalized_risk, rc.risk * rc.coverage)
    assert M.aurc(y, s) == pytest.approx(np.sum(np.diff(np.r_[0, rc.coverage]) * rc.risk))
    sr = M.selective_risk(y, s, coverage=0.4)
    assert (sr.coverage, sr.threshold) == (pytest.approx(3 / 7), 0.8) and sr.risk == pytest.approx(1 / 3)
    car = M.coverage_at_risk(y, s, risk=0.34)
    assert car.coverage == pytest.approx(6 / 7) and car.threshold == 0.7
    none = M.coverage_at_risk(y, s, risk=0.2)
    assert none.coverage == 0.0 and none.threshold == np.inf


# --- bootstrap and segments ----------------------------------------------------------------------


def test_bootstrap_native_is_seeded_thread_independent_and_covers(rng):
    p = rng.uniform(size=5000)
    y = (rng.uniform(size=5000) < p**1.2).astype(int)
    a = M.bootstrap(M.ece, y, p, n_resamples=300, seed=7, threads=1)
    b = M.bootstrap(M.ece, y, p, n_resamples=300, seed=7, threads=2)
    np.testing.assert_array_equal(a.distribution, b.distribution)
    assert a.low < a.estimate < a.high
    c = M.bootstrap(M.ece, y, p, n_resamples=300, seed=8)
    assert not np.array_equal(a.distribution, c.distribution)
    # Native ECE resample r equals the ECE of the indices Python draws for stream r.
    from credo import _credo

    idx = _credo.bootstrap_indices(len(p), 3, 7)
    for r in range(3):
        assert a.distribution[r] == pytest.approx(M.ece(y[idx[r]], p[idx[r]]), abs=1e-12)
    auc = M.bootstrap(M.auroc, y, p, n_resamples=200, seed=1)
    idx = _credo.bootstrap_indices(len(p), 2, 1)
    assert auc.distribution[0] == pytest.approx(roc_auc_score(y[idx[0]], p[idx[0]]), abs=1e-12)


def test_bootstrap_python_fallback_and_generic_callable(rng):
    probs = rng.dirichlet(np.ones(3), size=600)
    labels = rng.integers(0, 3, 600)
    res = M.bootstrap(M.ece, labels, probs, kind="classwise", n_resamples=50, seed=3)
    assert res.low <= res.high and res.n_resamples == 50
    # Equal-mass bins are rebuilt on every resample (generic path, same index streams).
    from credo import _credo

    q = M.bootstrap(M.adaptive_ece, labels, probs, n_bins=5, n_resamples=5, seed=3)
    idx = _credo.bootstrap_indices(600, 5, 3)
    assert q.distribution[4] == M.adaptive_ece(labels[idx[4]], probs[idx[4]], n_bins=5)
    custom = M.bootstrap(lambda yt, yp: float(np.mean(yp.argmax(1) == yt)), labels, probs, n_resamples=50, seed=3)
    assert custom.low <= custom.estimate <= custom.high


def test_by_segment_dict_and_frame(rng):
    p = rng.uniform(size=900)
    y = (rng.uniform(size=900) < p).astype(int)
    seg = np.array(["a", "b", "c"])[rng.integers(0, 3, 900)]
    table = M.by_segment({"ece": M.ece, "auroc": "auroc"}, y, p, seg, as_frame=False)
    assert list(table["segment"]) == ["(all)", "a", "b", "c"]
    assert table["count"][0] == 900 and table["count"][1:].sum() == 900
    m = seg == "b"
    assert table["ece"][2] == M.ece(y[m], p[m]) and table["auroc"][2] == pytest.approx(roc_auc_score(y[m], p[m]))
    plain = M.by_segment(["ece", M.brier_score], y, p, seg)  # one type always: a dict of arrays
    assert isinstance(plain, dict) and list(plain) == ["segment", "count", "ece", "brier_score"]
    df = M.by_segment(["ece", M.brier_score], y, p, seg, as_frame=True)
    assert list(df.columns) == ["segment", "count", "ece", "brier_score"]
    np.testing.assert_array_equal(df["ece"].to_numpy(), plain["ece"])
    single = M.by_segment("auroc", np.r_[y, [1, 1]], np.r_[p, [0.5, 0.6]], np.r_[seg, ["z", "z"]], as_frame=False)
    assert np.isnan(single["auroc"][-1])  # one class in segment z


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "exc", "arg"),
    [
        (lambda: M.ece([0, 1], [0.2, np.nan]), NonFiniteError, "y_prob"),
        (lambda: M.ece([0, 1], [0.2, 1.2]), InvalidArgumentError, "y_prob"),
        (lambda: M.ece([], []), EmptyInputError, "y_prob"),
        (lambda: M.ece([0, 1, 1], [0.2, 0.3]), ShapeError, "y_true"),
        (lambda: M.ece([0, 2], [0.2, 0.3]), InvalidArgumentError, "y_true"),
        (lambda: M.ece([0, 1], [0.2, 0.3], sample_weight=[1.0]), ShapeError, "sample_weight"),
        (lambda: M.ece([0, 1], [0.2, 0.3], sample_weight=[1.0, -1.0]), InvalidArgumentError, "sample_weight"),
        (lambda: M.ece([0, 1], [0.2, 0.3], convention="torch"), InvalidArgumentError, "convention"),
        (lambda: M.ece([0, 1], [0.2, 0.3], n_bins=0), InvalidArgumentError, "n_bins"),
        (lambda: M.ece([0, 1], [0.2, 0.3], norm="l3"), InvalidArgumentError, "norm"),
        (
            lambda: M.ece([0, 1], [0.2, 0.3], strategy="quantile", convention="mapie"),
            InvalidArgumentError,
            "strategy",
        ),
        (lambda: M.ece([0, 3], [[0.5, 0.5], [0.1, 0.9]]), InvalidArgumentError, "y_true"),
        (lambda: M.ece([0, 1], [0.2, 0.3], kind="classwise"), ShapeError, "y_prob"),
        (lambda: M.auroc([1, 1, 1], [0.2, 0.3, 0.4]), InvalidArgumentError, "y_true"),
        (lambda: M.auroc([1, 0], [0.2, np.inf]), NonFiniteError, "y_score"),
        (lambda: M.prr([1, 1], [0.2, 0.3]), InvalidArgumentError, "y_true"),
        (lambda: M.selective_risk([1, 0], [0.2, 0.3], coverage=0.0), InvalidArgumentError, "coverage"),
        (lambda: M.coverage_at_risk([1, 0], [0.2, 0.3], risk=1.5), InvalidArgumentError, "risk"),
        (lambda: M.smooth_ece([1, 0], [0.2, 0.3], sigma=-1.0), InvalidArgumentError, "sigma"),
        (lambda: M.bootstrap(M.ece, [1, 0], [0.2, 0.3], n_resamples=0), InvalidArgumentError, "n_resamples"),
        (
            lambda: M.bootstrap(M.ece, [1, 0], [0.2, 0.3], confidence_level=1.0),
            InvalidArgumentError,
            "confidence_level",
        ),
        (lambda: M.by_segment("nope", [1, 0], [0.2, 0.3], ["a", "b"]), InvalidArgumentError, "metrics"),
        (lambda: M.by_segment("ece", [1, 0], [0.2, 0.3], ["a"]), ShapeError, "segments"),
        (lambda: M.brier_score([1, 0], [0.2, 0.3], scale_by_half="x"), InvalidArgumentError, "scale_by_half"),
    ],
)
def test_bad_input_names_the_argument(call, exc, arg):
    with pytest.raises(exc, match=f"^{arg}"):
        call()


def test_single_class_data_is_fine_where_defined():
    # ECE and Brier are defined with one class; AUROC is not (tested above).
    assert M.ece([1, 1, 1], [0.9, 0.8, 0.7]) == pytest.approx(0.2)
    assert M.brier_score([1, 1], [1.0, 1.0]) == 0.0
