"""Scale-out on Ray Data: a multi-block dataset scored on a local cluster gives exactly the
in-process results (same kernels, same numbers, bit for bit)."""

from __future__ import annotations

import numpy as np
import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")

import credo  # noqa: E402
from credo.integrations import ray as credo_ray  # noqa: E402

from .conftest import subprocess_env  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    # Workers are separate processes: they must import this checkout's credo too.
    env = {"PYTHONPATH": subprocess_env()["PYTHONPATH"]}
    ray.init(
        num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False, runtime_env={"env_vars": env}
    )
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    yield
    ray.shutdown()


def _blocks(ds) -> int:
    return ds.materialize().num_blocks()


def test_score_logits_matches_in_process(cluster, rng):
    logits = rng.normal(size=(600, 3000)).astype(np.float32) * 3
    chosen = rng.integers(0, 3000, size=600)
    ds = ray.data.from_items(
        [{"logits": row, "chosen": int(c), "row": i} for i, (row, c) in enumerate(zip(logits, chosen, strict=True))]
    )
    ds = ds.repartition(4)
    assert _blocks(ds) == 4
    scored = credo_ray.score_logits(ds, chosen_column="chosen", batch_size=64).sort("row").take_all()
    local = credo.token_signals(logits, chosen)
    for name in [
        "entropy",
        "logsumexp",
        "max_logprob",
        "argmax",
        "margin_logit",
        "margin_prob",
        "chosen_logprob",
        "chosen_rank",
    ]:
        got = np.array([r[name] for r in scored])
        np.testing.assert_array_equal(got, np.asarray(getattr(local, name)), err_msg=name)
    assert "logits" not in scored[0]


def test_calibrate_in_actors_matches_in_process(cluster, rng):
    from credo.calibration import IsotonicCalibrator

    x = rng.random(5000)
    y = (rng.random(5000) < x**2).astype(int)
    cal = IsotonicCalibrator(out_of_bounds="clip").fit(x[:2500], y[:2500])
    ds = ray.data.from_items([{"confidence": float(v), "row": i} for i, v in enumerate(x[2500:])]).repartition(3)
    out = credo_ray.calibrate(ds, cal, concurrency=1).sort("row").take_all()
    np.testing.assert_array_equal(np.array([r["calibrated"] for r in out]), cal.predict(x[2500:]))


def test_evaluate_matches_in_process(cluster, rng):
    from credo import metrics

    conf = rng.random(4000)
    correct = (rng.random(4000) < conf).astype(int)
    seg = np.where(rng.random(4000) < 0.3, "a", "b")
    ds = ray.data.from_items(
        [{"confidence": float(c), "correct": int(k), "seg": s} for c, k, s in zip(conf, correct, seg, strict=True)]
    )
    ds = ds.repartition(5)
    got = credo_ray.evaluate(ds, segment_column="seg")
    assert got["n"] == 4000
    assert got["ece"] == pytest.approx(metrics.ece(correct, conf, n_bins=15), abs=0, rel=1e-12)
    assert got["auroc"] == pytest.approx(metrics.auroc(correct, conf), rel=1e-12)
    assert set(got["segments"]) == {"a", "b"}


def test_missing_column_is_a_clear_error(cluster, rng):
    ds = ray.data.from_items([{"x": 1.0}])
    with pytest.raises(Exception, match="column"):
        credo_ray.score_logits(ds, column="logits").take_all()
