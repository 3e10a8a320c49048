"""Bootstrap intervals against scipy: the core's BCa arithmetic is checked against
``scipy.stats.bootstrap(method='BCa')`` given the same resamples (``bootstrap_result`` with
``n_resamples=0``, so scipy reads credo's distribution and runs its own leave-one-out jackknife);
the native path and the Python path (any callable) agree; the report and ``credo eval`` use the
bias-corrected interval, say which, and flag an interval that excludes its estimate."""

from __future__ import annotations

import json
import types

import numpy as np
import pytest

import credo
from credo import _credo
from credo import metrics as M

stats = pytest.importorskip("scipy.stats")


def _data(n, seed=0, skew=1.0):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.05, 0.95, n)
    y = (rng.uniform(size=n) < p**skew).astype(np.float64)
    return y, p


def _calibrated(n=3000, seed=3):
    """Calibrated confidences: this seed's ECE lies below all but a few of its resamples'."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 1, n)
    return (rng.uniform(size=n) < p).astype(np.float64), p


def _scipy_bca(metric, y, p, dist, level=0.95):
    """scipy's BCa interval from credo's resampled values (its jackknife is leave-one-out)."""
    prior = types.SimpleNamespace(bootstrap_distribution=np.asarray(dist))
    res = stats.bootstrap(
        (y, p),
        lambda a, b: metric(a, b),
        paired=True,
        vectorized=False,
        n_resamples=0,
        bootstrap_result=prior,
        confidence_level=level,
        method="BCa",
    )
    return res.confidence_interval.low, res.confidence_interval.high


@pytest.mark.parametrize(
    ("metric", "n", "level"),
    [(M.auroc, 300, 0.95), (M.brier_score, 250, 0.9), (M.ece, 400, 0.95), (M.nll, 200, 0.8), (M.aurc, 150, 0.95)],
)
def test_bca_matches_scipy_on_the_same_resamples(metric, n, level):
    y, p = _data(n, seed=n, skew=1.3)  # miscalibrated: a real bias correction and acceleration
    ours = M.bootstrap(metric, y, p, n_resamples=999, seed=3, confidence_level=level, method="bca")
    lo, hi = _scipy_bca(metric, y, p, ours.distribution, level)
    assert ours.method == "bca"
    np.testing.assert_allclose([ours.low, ours.high], [lo, hi], rtol=1e-12, atol=1e-14)
    pct = M.bootstrap(metric, y, p, n_resamples=999, seed=3, confidence_level=level)
    assert (pct.low, pct.high) != (ours.low, ours.high)  # the correction is not a no-op here


def test_percentile_and_basic_match_scipy_on_the_same_resamples():
    y, p = _data(300, seed=1)
    for ours_m, scipy_m in (("percentile", "percentile"), ("basic", "basic")):
        ours = M.bootstrap(M.auroc, y, p, n_resamples=500, seed=2, method=ours_m)
        prior = types.SimpleNamespace(bootstrap_distribution=ours.distribution)
        ref = stats.bootstrap(
            (y, p), M.auroc, paired=True, vectorized=False, n_resamples=0, bootstrap_result=prior, method=scipy_m
        )
        np.testing.assert_allclose(
            [ours.low, ours.high], [ref.confidence_interval.low, ref.confidence_interval.high], rtol=1e-12
        )


@pytest.mark.parametrize("n", [300, 2500])  # leave-one-out, then 1000 groups of 2–3
@pytest.mark.parametrize("metric", [M.ece, M.auroc, M.brier_score])
def test_native_and_python_paths_agree(metric, n):
    """The Rust resampler and the Python loop (any callable) on the same index sets and the same
    jackknife groups give the same BCa interval."""
    y, p = _data(n, seed=7, skew=1.5)
    native = M.bootstrap(metric, y, p, n_resamples=200, seed=5, method="bca")
    generic = M.bootstrap(lambda a, b, **kw: metric(a, b, **kw), y, p, n_resamples=200, seed=5, method="bca")
    np.testing.assert_allclose(native.distribution, generic.distribution, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose([native.low, native.high], [generic.low, generic.high], rtol=1e-12, atol=1e-15)


def test_jackknife_groups_are_numpy_array_split():
    for n in (1, 7, 1000, 1001, 2500):
        want = [(int(g[0]), int(g[-1]) + 1) for g in np.array_split(np.arange(n), min(n, 1000))]
        assert [(g.start, g.stop) for g in _credo.bootstrap_jackknife_groups(n)] == want


def test_bias_corrected_interval_and_flag_on_a_biased_ece():
    """ECE of calibrated data is biased upwards: every resample lies above the estimate, the
    percentile interval excludes it (the issue's example), and so does any interval made of
    resample quantiles; 'bias_corrected' falls back to the basic interval and flags it."""
    y, p = _calibrated()
    pct = M.bootstrap(M.ece, y, p, n_resamples=200, seed=0)
    assert not pct.contains_estimate and pct.low > pct.estimate
    bca = M.bootstrap(M.ece, y, p, n_resamples=200, seed=0, method="bca")
    basic = M.bootstrap(M.ece, y, p, n_resamples=200, seed=0, method="basic")
    chosen = M.bootstrap(M.ece, y, p, n_resamples=200, seed=0, method="bias_corrected")
    assert not bca.contains_estimate
    assert chosen.method == "basic" and (chosen.low, chosen.high) == (basic.low, basic.high)
    assert not chosen.contains_estimate and chosen.high < chosen.estimate  # shifted below by the bias
    # A statistic whose BCa interval contains it keeps BCa.
    ok = M.bootstrap(M.auroc, y, p, n_resamples=200, seed=0, method="bias_corrected")
    assert ok.method == "bca" and ok.contains_estimate


def test_interval_arguments_are_checked():
    y, p = _data(100)
    with pytest.raises(credo.CredoError, match="method"):
        M.bootstrap(M.auroc, y, p, method="BCa")
    with pytest.raises(credo.CredoError, match="metric"):
        _credo.bootstrap_interval("basic", float("nan"), np.arange(5.0))
    with pytest.raises(credo.CredoError, match="confidence_level"):
        _credo.bootstrap_interval("percentile", 0.0, np.arange(5.0), confidence_level=1.0)
    with pytest.raises(credo.CredoError, match="undefined on every resample"):
        _credo.bootstrap_interval("bca", 0.0, np.full(5, np.nan), np.zeros(3))


def test_report_table_names_the_interval_and_flags_it():
    from credo import report

    y, p = _calibrated()
    row = report.metrics_table(y, p, n_resamples=200)
    assert row["ece_ci_method"] == "basic" and row["ece_ci_contains_estimate"] is False
    ref = M.bootstrap(M.ece, y, p, n_resamples=200, seed=0, method="bias_corrected")
    assert (row["ece_low"], row["ece_high"]) == (ref.low, ref.high)
    assert report._ci_cell(row).endswith("basic \N{DAGGER}")
    yb, pb = _data(2000, seed=4, skew=2.0)  # clearly miscalibrated: BCa contains its ECE
    row = report.metrics_table(yb, pb, n_resamples=200)
    assert row["ece_ci_method"] == "bca" and row["ece_ci_contains_estimate"]
    assert report._ci_cell(row).endswith("] BCa")
    assert report.metrics_table(yb, pb, n_resamples=0)["ece_ci_method"] == ""


def test_report_html_states_the_method(tmp_path):
    pytest.importorskip("matplotlib")
    from credo import report

    y, p = _data(2000, seed=4, skew=2.0)
    out = report.html(tmp_path / "r.html", y, p, n_resamples=100)
    text = out.read_text()
    assert "] BCa</td>" in text and "bias-corrected bootstrap" in text


def test_cli_eval_reports_method_and_flag(tmp_path, capsys):
    pytest.importorskip("click")
    from credo.cli import main

    y, p = _calibrated()
    path = tmp_path / "scored.csv"
    path.write_text("confidence,correct\n" + "".join(f"{a!r},{int(b)}\n" for a, b in zip(p.tolist(), y, strict=True)))
    args = ["eval", str(path), "--score-col", "confidence", "--label-col", "correct", "--n-resamples", "200"]
    assert main([*args, "--json"]) == 0
    row = json.loads(capsys.readouterr().out)["segments"][0]
    assert row["ece_ci_method"] == "basic" and row["ece_ci_contains_estimate"] is False
    assert row["auroc_ci_method"] == "bca" and row["auroc_ci_contains_estimate"] is True
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "bias-corrected bootstrap intervals" in text and "basic*" in text and "BCa" in text
    assert "excludes its estimate" in text
