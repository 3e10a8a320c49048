"""Scale-out on Ray Data on a local cluster: scoring gives exactly the in-process results (same
kernels, bit for bit); evaluation aggregates on the workers and matches the in-process metrics
(exactly for ECE, Brier and NLL, within the stated bound for the grid's AUROC and AURC) while the
driver's memory stays flat."""

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


def _exact(conf, correct):
    from credo import metrics

    return {
        "ece": metrics.ece(correct, conf, n_bins=15),
        "brier": metrics.brier_score(correct, conf),
        "nll": metrics.nll(correct, conf),
        "auroc": metrics.auroc(correct, conf),
        "aurc": metrics.aurc(correct, conf),
    }


def _check_against_exact(got, conf, correct):
    want = _exact(conf, correct)
    assert got["n"] == len(conf)
    for name in ("ece", "brier", "nll"):  # exact statistics: only the summation order differs
        assert got[name] == pytest.approx(want[name], rel=1e-12, abs=1e-15), name
    for name in ("auroc", "aurc"):  # grid statistics: within their stated error bound
        bound = got[f"{name}_max_error"]
        assert abs(got[name] - want[name]) <= bound + 1e-12, (name, got[name], want[name], bound)


def test_evaluate_matches_in_process(cluster, rng):
    conf = rng.random(4000)
    correct = (rng.random(4000) < conf).astype(int)
    seg = np.where(rng.random(4000) < 0.3, "a", "b")
    ds = ray.data.from_items(
        [{"confidence": float(c), "correct": int(k), "seg": s} for c, k, s in zip(conf, correct, seg, strict=True)]
    )
    ds = ds.repartition(5)
    got = credo_ray.evaluate(ds, segment_column="seg")
    _check_against_exact(got, conf, correct)
    assert got["auroc_max_error"] < 1e-3 and got["aurc_max_error"] < 1e-3
    assert set(got["segments"]) == {"a", "b"}
    for s in ("a", "b"):
        _check_against_exact(got["segments"][s], conf[seg == s], correct[seg == s])
    rc = got["risk_coverage"]
    assert rc["coverage"][-1] == pytest.approx(1.0) and rc["risk"][-1] == pytest.approx(1 - correct.mean())
    assert np.all(np.diff(rc["confidence_below"]) < 0)  # highest confidence first


def test_evaluation_stats_merge_exactly_and_bound_ties(rng):
    # Over-confident scores: most of them within 1e-3 of 1, with exact ties (a histogram calibrator).
    conf = np.concatenate([1 - rng.exponential(1e-4, 3000), np.full(2000, 0.95), rng.random(1000)])
    correct = (rng.random(len(conf)) < conf**4).astype(float)
    parts = np.array_split(rng.permutation(len(conf)), 7)
    merged = sum(credo_ray.evaluation_stats(conf[i], correct[i]) for i in parts)
    whole = credo_ray.evaluation_stats(conf, correct)
    np.testing.assert_allclose(merged, whole, rtol=1e-12, atol=1e-9)
    got = credo_ray.metrics_from_stats(merged)
    _check_against_exact(got, conf, correct)
    # the 2000 exact ties at 0.95 are ties for the exact AUROC too, but the bound cannot know it
    assert 0 < got["auroc_max_error"] < 0.2


def test_evaluate_keeps_the_driver_flat(cluster):
    """10^7 rows generated on the workers: the driver's resident memory does not grow by the
    160 MB that collecting two float64 columns would take (the 10^8-row run is in the report)."""
    n = 10_000_000
    ds = ray.data.range(n, override_num_blocks=20).map_batches(_lazy_rows, batch_format="numpy", batch_size=500_000)
    before = _rss_mb()
    _reset_peak_rss()
    got = credo_ray.evaluate(ds)
    grown = _peak_rss_mb() - before
    assert got["n"] == n
    assert grown < 80, f"driver peak RSS grew by {grown:.0f} MB"
    sample = _lazy_rows({"id": np.arange(0, n, 97)})  # a systematic sample, checked in process
    want = _exact(sample["confidence"], sample["correct"])
    assert got["auroc"] == pytest.approx(want["auroc"], abs=0.01)
    assert got["ece"] == pytest.approx(want["ece"], abs=0.01)


def _lazy_rows(batch):
    """Deterministic per row id (whatever the batching): an over-confident model's scores."""
    i = np.asarray(batch["id"], dtype=np.float64)
    u = np.modf(i * 0.6180339887498949)[0]
    v = np.modf(i * 0.4142135623730951 + 0.5)[0]
    conf = 1 - 0.5 * u**3
    return {"confidence": conf, "correct": (v < conf**3).astype(np.int8)}


def _status(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    pytest.skip("no /proc/self/status on this system")


def _rss_mb():
    return _status("VmRSS")


def _peak_rss_mb():
    return _status("VmHWM")


def _reset_peak_rss():
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pytest.skip("cannot reset the peak RSS on this system")


def test_score_topk_matches_in_process(cluster, rng):
    tops, chosen = [], []
    for _ in range(300):
        t, k = int(rng.integers(1, 40)), 5
        logits = rng.normal(size=(t, 50)) * 2
        logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
        top = -np.sort(-logp, axis=1)[:, :k]
        top[rng.random(top.shape) < 0.05] = -9999.0  # missing entries, as OpenAI writes them
        tops.append(top)
        chosen.append(top[:, 0] - (rng.random(t) < 0.2) * rng.random(t))
    ds = ray.data.from_items(
        [{"top_logprobs": t, "chosen_logprob": c, "row": i} for i, (t, c) in enumerate(zip(tops, chosen, strict=True))]
    ).repartition(3)
    got = credo_ray.score_topk(ds, vocab_size=32000, batch_size=64).sort("row").take_all()
    want = credo.topk_summary_batch(tops, chosen, vocab_size=32000)
    assert "top_logprobs" not in got[0]
    for name, values in want.items():
        np.testing.assert_array_equal(np.array([r[name] for r in got]), values, err_msg=name)


def test_missing_column_is_a_clear_error(cluster, rng):
    ds = ray.data.from_items([{"x": 1.0}])
    with pytest.raises(Exception, match="column"):
        credo_ray.score_logits(ds, column="logits").take_all()
