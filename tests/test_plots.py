"""credo.plots: displays built from predictions, overlays, and lazy matplotlib."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from credo import metrics as M

from .conftest import subprocess_env

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")


def test_importing_plots_and_report_does_not_import_matplotlib():
    code = "import sys, credo, credo.plots, credo.report; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=subprocess_env())
    assert out.stdout.strip() == "False"


def test_reliability_display_data_and_overlay(rng):
    import matplotlib.pyplot as plt

    from credo.plots import ReliabilityDisplay

    probs = rng.dirichlet(np.ones(4) * 0.4, size=3000)
    labels = rng.integers(0, 4, 3000)
    d = ReliabilityDisplay.from_predictions(labels, probs, n_bins=10, name="raw")
    t = M.reliability_table(labels, probs, n_bins=10)
    keep = t["count"] > 0
    np.testing.assert_array_equal(d.prob_true, t["accuracy"][keep])
    np.testing.assert_array_equal(d.counts, t["count"][keep])
    assert d.ece == M.ece(labels, probs, n_bins=10)
    np.testing.assert_array_equal(d.line_.get_xdata(), d.prob_pred)
    assert d.gap_bars_ is not None and len(d.gap_bars_.get_segments()) == keep.sum()
    sharp = probs**3 / (probs**3).sum(1, keepdims=True)
    d2 = ReliabilityDisplay.from_predictions(labels, sharp, n_bins=10, name="sharpened", ax=d.ax_, show_counts=False)
    assert d2.ax_ is d.ax_ and d2.counts_ax_ is None
    labels_shown = [t.get_text() for t in d.ax_.get_legend().get_texts()]
    assert any(s.startswith("raw: ECE") for s in labels_shown) and any(s.startswith("sharpened") for s in labels_shown)
    assert sum(s == "perfectly calibrated" for s in labels_shown) == 1
    plt.close("all")


def test_risk_coverage_display(rng):
    import matplotlib.pyplot as plt

    from credo.plots import RiskCoverageDisplay

    conf = rng.uniform(size=500)
    correct = (rng.uniform(size=500) < conf).astype(int)
    d = RiskCoverageDisplay.from_predictions(correct, conf, name="m")
    rc = M.risk_coverage_curve(correct, conf)
    np.testing.assert_array_equal(d.coverage, rc.coverage)
    assert d.aurc == M.aurc(correct, conf)
    assert d.line_.get_xdata()[-1] == pytest.approx(1.0)
    _, ax = plt.subplots()
    assert RiskCoverageDisplay.from_predictions(correct, 1 - conf, ax=ax).ax_ is ax
    plt.close("all")


def test_display_bad_input_names_argument():
    from credo.plots import ReliabilityDisplay

    with pytest.raises(ValueError, match=r"^y_prob"):
        ReliabilityDisplay.from_predictions([0, 1], [0.5, 1.5])


def test_measurement_modules_are_exported():
    import credo

    assert callable(credo.report.html) and callable(credo.metrics.ece)
    assert credo.plots.ReliabilityDisplay and credo.monitor.DriftMonitor
    assert {"metrics", "monitor", "plots", "report"} <= set(credo.__all__)
