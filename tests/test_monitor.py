"""credo.monitor.DriftMonitor: statistics against scipy, no false alarm on exchangeable halves,
alarms across MMLU subjects and CIFAR models, save → load, Prometheus, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import credo
from credo import metrics as M
from credo.exceptions import (
    ArtifactError,
    EmptyInputError,
    InvalidArgumentError,
    NonFiniteError,
    NotFittedError,
)
from credo.monitor import DriftMonitor, ks_2samp


def test_exact_ks_matches_scipy(rng):
    stats = pytest.importorskip("scipy.stats")
    for n1, n2 in [(50, 80), (500, 300), (3000, 3000)]:
        a = rng.beta(2, 3, n1)
        b = rng.beta(2.3, 3, n2)
        d, p = ks_2samp(a, b)
        ref = stats.ks_2samp(a, b, method="asymp")
        assert d == pytest.approx(ref.statistic, abs=1e-15)
        assert p == pytest.approx(ref.pvalue, abs=0.02)
    tied = np.round(rng.uniform(size=400), 1)
    assert ks_2samp(tied, tied[::-1] * 0.9)[0] == pytest.approx(stats.ks_2samp(tied, tied[::-1] * 0.9).statistic)


def test_histogram_statistics_match_scipy_within_a_bin(rng):
    stats = pytest.importorskip("scipy.stats")
    a = rng.beta(5, 2, 20000)
    b = rng.beta(4, 2, 15000)
    mon = DriftMonitor(n_bins=2000).fit(a).update(b[:7000]).update(b[7000:])
    r = mon.check()
    ref = stats.ks_2samp(a, b, method="asymp")
    # The histogram can miss at most the mass of one bin (≈ n_bins⁻¹ × peak density).
    assert r.ks_statistic == pytest.approx(ref.statistic, abs=0.003)
    assert r.ks_pvalue == pytest.approx(ref.pvalue, abs=0.02)
    assert r.wasserstein == pytest.approx(stats.wasserstein_distance(a, b), abs=1e-3)
    assert r.mean_shift == pytest.approx(b.mean() - a.mean(), abs=1e-12)
    assert (r.n_reference, r.n_current) == (20000, 15000)
    edges = np.quantile(a, np.linspace(0, 1, 11))
    pa = np.histogram(a, edges)[0] / len(a)
    pb = np.histogram(np.clip(b, edges[0], edges[-1]), edges)[0] / len(b)
    assert r.psi == pytest.approx(np.sum((pb - pa) * np.log(pb / pa)), rel=0.05)


def _mmlu_conf(mmlu, subject):
    probs, targets = mmlu[subject]
    return M.top_label(targets, probs)[0]


def test_no_alarm_between_halves_of_the_same_data(mmlu, cifar_models):
    rng = np.random.default_rng(0)
    for conf in [
        np.concatenate([_mmlu_conf(mmlu, s) for s in sorted(mmlu)]),
        cifar_models["resnet18"][0].max(1),
    ]:
        perm = rng.permutation(len(conf))
        half = len(conf) // 2
        mon = DriftMonitor().fit(conf[perm[:half]])
        for chunk in np.array_split(conf[perm[half:]], 7):  # streamed in batches
            mon.update(chunk)
        r = mon.check()
        assert not r.alarm, r


def test_alarm_when_stream_is_another_subject_or_model(mmlu, cifar_models):
    means = {s: _mmlu_conf(mmlu, s).mean() for s in mmlu}
    lo, hi = min(means, key=means.get), max(means, key=means.get)
    r = DriftMonitor().fit(_mmlu_conf(mmlu, lo)).update(_mmlu_conf(mmlu, hi)).check()
    assert r.alarm and "ks_pvalue" in r.alarms, (lo, hi, r)
    ref = cifar_models["googlenet"][0].max(1)
    cur = cifar_models["resnet_orig"][0].max(1)
    r = DriftMonitor().fit(ref).update(cur).check()
    assert r.alarm and {"ks_pvalue", "psi"} <= set(r.alarms), r


def test_decision_rates_and_thresholds(rng):
    ref = rng.uniform(size=2000)
    mon = DriftMonitor(thresholds={"ks_pvalue": None, "psi": None, "wasserstein": None, "mean_shift": None})
    mon.fit(ref, decisions=np.where(ref > 0.3, "answer", "abstain"))
    cur = rng.uniform(size=1000)
    mon.update(cur, decisions=np.where(cur > 0.6, "answer", "abstain"))
    r = mon.check()
    assert r.decision_rates["abstain"] == (
        pytest.approx(np.mean(ref <= 0.3)),
        pytest.approx(np.mean(cur <= 0.6)),
    )
    assert r.alarms == ("decision_rate:abstain", "decision_rate:answer")
    mon.reset()
    with pytest.raises(EmptyInputError, match=r"^confidences"):
        mon.check()


def test_decay_forgets_a_past_shift(rng):
    ref = rng.beta(5, 2, 5000)
    mon = DriftMonitor(decay=0.999).fit(ref)
    mon.update(rng.beta(2, 5, 3000))  # a shifted period
    assert mon.check().alarm
    for _ in range(20):  # then 20,000 samples like the reference
        mon.update(rng.beta(5, 2, 1000))
    r = mon.check()
    assert r.n_current == pytest.approx(1000 / (1 - 0.999**1000), rel=0.01)
    assert not r.alarm, r
    still = DriftMonitor().fit(ref).update(rng.beta(2, 5, 3000))
    for _ in range(20):
        still.update(rng.beta(5, 2, 1000))
    assert still.check().alarm  # without decay the shifted period is never forgotten
    with pytest.raises(InvalidArgumentError, match=r"^decay"):
        DriftMonitor(decay=1.0).fit(ref)


def test_state_survives_save_and_load(tmp_path, rng):
    mon = DriftMonitor(n_bins=500, thresholds={"psi": 0.1}, decay=0.9999, name="svc").fit(
        rng.beta(2, 2, 3000), decisions=["a"] * 3000
    )
    mon.update(rng.beta(2, 3, 1000), decisions=["a"] * 900 + ["b"] * 100)
    path = tmp_path / "monitor.json"
    mon.save(path)
    loaded = credo.load(path)
    assert isinstance(loaded, DriftMonitor) and loaded.get_params() == mon.get_params()
    assert loaded.check() == mon.check()
    more = rng.beta(2, 3, 500)
    assert loaded.update(more).check() == mon.update(more).check()
    text = path.read_text()
    path.write_text(text.replace('"svc"', '"svd"'))
    with pytest.raises(ArtifactError, match="checksum"):
        credo.load(path)


def test_prometheus_exporter(rng):
    prom = pytest.importorskip("prometheus_client")
    reg = prom.CollectorRegistry()
    mon = DriftMonitor(name="m1").fit(rng.uniform(size=1000), decisions=["answer"] * 1000)
    mon.update(rng.uniform(size=1000) ** 2, decisions=["answer"] * 800 + ["abstain"] * 200)
    r = mon.export_prometheus(reg)
    assert reg.get_sample_value("credo_drift_psi", {"monitor": "m1"}) == r.psi
    assert reg.get_sample_value("credo_drift_ks_pvalue", {"monitor": "m1"}) == r.ks_pvalue
    assert reg.get_sample_value("credo_drift_samples", {"monitor": "m1", "window": "current"}) == 1000
    assert (
        reg.get_sample_value("credo_drift_decision_rate", {"monitor": "m1", "decision": "abstain", "window": "current"})
        == 0.2
    )
    assert reg.get_sample_value("credo_drift_alarm", {"monitor": "m1", "statistic": "ks_pvalue"}) == 1.0
    mon.export_prometheus(reg)  # a second export reuses the gauges


def test_bad_input():
    with pytest.raises(NotFittedError):
        DriftMonitor().update([0.5])
    with pytest.raises(NonFiniteError, match=r"^reference"):
        DriftMonitor().fit([0.1, np.nan])
    with pytest.raises(EmptyInputError, match=r"^reference"):
        DriftMonitor().fit([])
    with pytest.raises(InvalidArgumentError, match=r"^value_range"):
        DriftMonitor(value_range=(1.0, 0.0)).fit([0.5])
    with pytest.raises(InvalidArgumentError, match=r"^thresholds"):
        DriftMonitor(thresholds={"psii": 0.1}).fit([0.5])
    with pytest.raises(InvalidArgumentError, match=r"^n_bins"):
        DriftMonitor(n_bins=0).fit([0.5])
    mon = DriftMonitor().fit([0.5, 0.6])
    with pytest.raises(NonFiniteError, match=r"^confidences"):
        mon.update([np.inf])
    with pytest.raises(ValueError, match=r"^decisions"):
        mon.update([0.5, 0.6], decisions=["a"])
