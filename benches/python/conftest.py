"""Writes the benchmark comparisons recorded by `_harness` to bench-results/ at the end."""

from __future__ import annotations

import json
import os
import platform

import pytest
from _harness import _RECORDS, QUICK, RESULTS_DIR


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not _RECORDS:
        return
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    meta = {"quick": QUICK, "machine": platform.machine(), "processor": platform.processor(), "cpus": os.cpu_count()}
    (RESULTS_DIR / "summary.json").write_text(json.dumps({"meta": meta, "results": _RECORDS}, indent=1))
    lines = [
        f"# credo benchmarks ({'quick' if QUICK else 'full'} run, {os.cpu_count()} CPUs)",
        "",
        "| work | credo ms | peer | peer ms | speed-up | target | ok |",
        "|---|---:|---|---:|---:|---|---|",
    ]
    for r in _RECORDS:
        ok = "" if r["passed"] is None else ("yes" if r["passed"] else "**NO**")
        target = r["target"]
        if target is None:
            target = ""
        elif isinstance(target, (int, float)):
            target = f"≥ {target}x"
        lines.append(
            f"| {r['work']} | {r['credo_ms']:.3f} | {r['peer']} | {r['peer_ms']:.3f} "
            f"| {r['speedup']:.1f}x | {target} | {ok} |"
        )
    (RESULTS_DIR / "summary.md").write_text("\n".join(lines) + "\n")
