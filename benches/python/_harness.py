"""Benchmark harness, imported by the bench_*.py files as ``_harness``.

Every speed goal is a ratio against a peer measured in the same run.

``CREDO_BENCH_QUICK=1`` (CI's smoke mode, ``make bench-smoke``) uses smaller inputs and fewer
repeats and checks each target with a safety margin (``QUICK_MARGIN``); the full run
(``make bench``) checks the targets as stated. Every comparison is written to
``bench-results/summary.json`` and ``bench-results/summary.md`` at the end of the session.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

QUICK = os.environ.get("CREDO_BENCH_QUICK") == "1"
# In quick mode a target ratio R passes at R * QUICK_MARGIN: shared CI machines are noisy and
# small inputs amortise fixed costs worse; a real regression (a lost SIMD path, a copy, the GIL
# held) costs far more than this margin.
QUICK_MARGIN = 0.5
RESULTS_DIR = Path(os.environ.get("CREDO_BENCH_DIR", Path(__file__).resolve().parents[2] / "bench-results"))

_RECORDS: list[dict[str, Any]] = []


def best_time(fn: Callable[[], Any], *, repeat: int | None = None, min_total: float = 0.2) -> float:
    """Best wall time of ``fn()`` in seconds over ``repeat`` runs (after one warm-up call);
    small calls are looped so each timed sample lasts at least ~1 ms."""
    fn()
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-9)
    inner = max(1, int(1e-3 / one))
    if repeat is None:
        repeat = 3 if QUICK else max(5, min(50, int(min_total / (one * inner)) + 1))
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        best = min(best, (time.perf_counter() - t0) / inner)
    return best


def best_times_interleaved(fns: list[Callable[[], Any]], *, repeat: int) -> list[float]:
    """Best wall time of each of ``fns``, timed in turn within each of ``repeat`` rounds: when the
    machine slows down for a while (another tenant on the host), every variant sees it alike, so
    their ratio stays fair."""
    for fn in fns:
        fn()
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t0)
    return best


def median_times_interleaved(fns: list[Callable[[], Any]], *, repeat: int) -> list[float]:
    """Median wall time of each of ``fns`` over ``repeat`` rounds, timed in turn (A B A B …) after
    one warm-up call each: load on a shared machine lands on every variant alike, and the median
    is not the luckiest sample of either."""
    for fn in fns:
        fn()
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            samples[i].append(time.perf_counter() - t0)
    return [statistics.median(s) for s in samples]


def record(work: str, credo_s: float, peer: str, peer_s: float, target: float | None, note: str = "") -> float:
    """Records credo vs one peer; with a ``target`` (credo must be ≥ target × faster), asserts it
    (with the quick-mode margin). Returns the speed-up peer_s / credo_s."""
    ratio = peer_s / credo_s
    required = None if target is None else target * (QUICK_MARGIN if QUICK else 1.0)
    _RECORDS.append(
        {
            "work": work,
            "credo_ms": credo_s * 1e3,
            "peer": peer,
            "peer_ms": peer_s * 1e3,
            "speedup": ratio,
            "target": target,
            "required_this_run": required,
            "passed": None if required is None else ratio >= required,
            "note": note,
        }
    )
    if required is not None:
        assert ratio >= required, (
            f"{work}: credo {credo_s * 1e3:.3f} ms vs {peer} {peer_s * 1e3:.3f} ms = {ratio:.2f}x, "
            f"target {target}x (required {required:.2f}x in this run)"
        )
    return ratio


def record_bound(work: str, credo_s: float, bound_name: str, bound_s: float, max_factor: float) -> float:
    """Records credo against a machine bound (credo must take at most ``max_factor`` × the bound)."""
    factor = credo_s / bound_s
    allowed = max_factor / (QUICK_MARGIN if QUICK else 1.0)
    _RECORDS.append(
        {
            "work": work,
            "credo_ms": credo_s * 1e3,
            "peer": bound_name,
            "peer_ms": bound_s * 1e3,
            "speedup": 1.0 / factor,
            "target": f"<= {max_factor}x bound",
            "required_this_run": f"<= {allowed:.2f}x bound",
            "passed": factor <= allowed,
            "note": "",
        }
    )
    assert factor <= allowed, f"{work}: {factor:.2f}x the machine bound ({bound_name}), allowed {allowed:.2f}x"
    return factor
