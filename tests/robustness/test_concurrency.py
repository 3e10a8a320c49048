"""Many threads on shared objects give exactly what the same calls give one after another.

A server shares one DriftMonitor, one fitted calibrator, one Policy and one ConfidenceModel
between its request threads. Each test starts the threads together (a barrier), shortens the
interpreter's switch interval so the threads interleave as often as possible, and compares the
result with a serial run of the same calls.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest

import credo
from credo.monitor import DriftMonitor
from credo.policy import Policy

N_THREADS = 8
PER_THREAD = 50


@contextmanager
def _fast_switching() -> Iterator[None]:
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def _run_threads(work: Callable[[int], Any]) -> list[Any]:
    """Runs work(i) for i in 0..N_THREADS-1 on as many threads started together; re-raises the
    first exception a thread raised."""
    barrier = threading.Barrier(N_THREADS)
    out: list[Any] = [None] * N_THREADS
    errors: list[BaseException] = []

    def target(i: int) -> None:
        barrier.wait()
        try:
            out[i] = work(i)
        except BaseException as exc:  # handed to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=target, args=(i,)) for i in range(N_THREADS)]
    with _fast_switching():
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    if errors:
        raise errors[0]
    return out


def _batches(rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for i in range(N_THREADS * PER_THREAD):
        # Small batches interleave at bytecode boundaries; large ones (the native kernel releases
        # the GIL from 65,536 values on: GIL_MIN_ELEMENTS) run truly in parallel.
        m = int(rng.integers(1, 40)) if i % 4 else 70_000
        out.append((rng.beta(5, 2, size=m), rng.choice(["answer", "abstain", "verify"], size=m)))
    return out


def _monitor(decay: float | None) -> DriftMonitor:
    rng = np.random.default_rng(1)
    ref = rng.beta(5, 2, size=2000)
    return DriftMonitor(decay=decay).fit(ref, decisions=rng.choice(["answer", "abstain"], size=2000))


def test_drift_monitor_concurrent_updates_equal_the_serial_ones() -> None:
    # Before the lock: "The given array is already borrowed" when two large updates overlapped.
    batches = _batches(np.random.default_rng(2))
    serial = _monitor(None)
    for x, d in batches:
        serial.update(x, decisions=d)
    shared = _monitor(None)

    def work(i: int) -> None:
        for x, d in batches[i::N_THREADS]:
            shared.update(x, decisions=d)

    _run_threads(work)
    np.testing.assert_array_equal(shared.current_counts_, serial.current_counts_)
    assert shared.current_decisions_ == serial.current_decisions_
    assert shared.current_sum_ == pytest.approx(serial.current_sum_, rel=1e-12)
    a, b = shared.check(), serial.check()
    assert a.decision_rates == b.decision_rates and a.alarms == b.alarms
    for key in ("n_reference", "n_current", "psi", "ks_statistic", "ks_pvalue", "wasserstein", "mean_shift"):
        assert getattr(a, key) == pytest.approx(getattr(b, key), rel=1e-12), key


def test_drift_monitor_concurrent_decayed_updates_keep_counts_and_decisions_together() -> None:
    # With decay each update rescales then adds: unlocked, two threads' rescales and adds
    # interleave and the decision counts drift away from the confidence counts. Identical batches
    # make the serial result independent of the order, so it must match bit for bit.
    rng = np.random.default_rng(3)
    x = rng.beta(5, 2, size=5000)
    d = np.array(["answer"] * 3000 + ["abstain"] * 2000)
    serial = _monitor(0.99)
    for _ in range(N_THREADS * PER_THREAD):
        serial.update(x, decisions=d)
    shared = _monitor(0.99)
    reports: list[Any] = []

    def work(i: int) -> None:
        for k in range(PER_THREAD):
            shared.update(x, decisions=d)
            if k % 10 == 0:
                r = shared.check()  # a consistent snapshot while others update
                reports.append(r)

    _run_threads(work)
    np.testing.assert_array_equal(shared.current_counts_, serial.current_counts_)
    assert shared.current_decisions_ == serial.current_decisions_
    assert sum(shared.current_decisions_.values()) == pytest.approx(shared.current_counts_.sum(), rel=1e-9)
    for r in reports:
        assert sum(c for _, c in r.decision_rates.values()) == pytest.approx(1.0, rel=1e-9)


def test_drift_monitor_with_its_lock_still_copies_and_pickles() -> None:
    import copy
    import pickle

    mon = _monitor(None)
    mon.update([0.5, 0.7])
    for other in (copy.deepcopy(mon), pickle.loads(pickle.dumps(mon))):
        other.update([0.1])
        assert other.current_counts_.sum() == 3 and mon.current_counts_.sum() == 2


def test_fitted_calibrators_predict_identically_across_threads() -> None:
    rng = np.random.default_rng(4)
    s = rng.uniform(size=3000)
    y = (rng.uniform(size=3000) < s).astype(int)
    cals = [
        credo.IsotonicCalibrator().fit(s, y),
        credo.PlattScaling().fit(s, y),
        credo.HistogramBinning(n_bins=15).fit(s, y),
        credo.BetaCalibration().fit(s, y),
    ]
    probes = [rng.uniform(size=int(rng.integers(1, 3000))) for _ in range(N_THREADS * 4)]
    serial = [[c.predict(p) for p in probes] + [c(float(p[0])) for p in probes] for c in cals]

    def work(i: int) -> list[list[Any]]:
        return [[c.predict(p) for p in probes] + [c(float(p[0])) for p in probes] for c in cals]

    for got in _run_threads(work):
        for a, b in zip(got, serial, strict=True):
            for u, v in zip(a, b, strict=True):
                np.testing.assert_array_equal(u, v)


def test_policy_decides_identically_across_threads() -> None:
    policy = Policy(
        {
            "gray_zone_checks": ["verify", "retrieve"],
            "domains": {"general": {}, "medical": {"stakes": "high", "threshold": 0.9}},
        }
    )
    rng = np.random.default_rng(5)
    calls = [
        {
            "confidence": float(c),
            "domain": dom,
            "coverage": float(cov),
            "repetition": float(rep),
            "attempt": int(att),
            "retrieval_available": bool(ra),
            "checks_done": {"verify"} if cd else (),
        }
        for c, dom, cov, rep, att, ra, cd in zip(
            rng.uniform(size=2000),
            rng.choice(["general", "medical"], size=2000),
            rng.uniform(size=2000),
            rng.uniform(0, 0.7, size=2000),
            rng.integers(0, 3, size=2000),
            rng.integers(0, 2, size=2000),
            rng.integers(0, 2, size=2000),
            strict=True,
        )
    ]
    serial = [policy.decide(**c) for c in calls]
    for got in _run_threads(lambda i: [policy.decide(**c) for c in calls]):
        assert got == serial


def test_confidence_model_predicts_identically_across_threads() -> None:
    rng = np.random.default_rng(6)
    X = {"a": rng.normal(size=1500), "b": rng.normal(size=1500)}
    y = (X["a"] - 0.5 * X["b"] + rng.normal(size=1500) > 0).astype(int)
    model = credo.ConfidenceModel(calibrator=credo.IsotonicCalibrator()).fit(X, y)
    rows = [{"a": float(a), "b": float(b)} for a, b in zip(X["a"][:300], X["b"][:300], strict=True)]
    serial_one = [model.predict_one(r) for r in rows]
    serial_batch = model.predict_proba(X)

    def work(i: int) -> tuple[list[float], np.ndarray]:
        return [model.predict_one(r) for r in rows], model.predict_proba(X)

    for one, batch in _run_threads(work):
        assert one == serial_one
        np.testing.assert_array_equal(batch, serial_batch)
