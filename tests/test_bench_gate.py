"""The benchmark gate (benches/python/_harness.py, benches/targets.toml) and the README's
performance table generated from the committed baseline (benches/baseline.json)."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHES = ROOT / "benches" / "python"


@pytest.fixture(scope="module")
def bench_modules():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(BENCHES))
    try:
        yield importlib.import_module("_harness"), importlib.import_module("_report")
    finally:
        sys.path.remove(str(BENCHES))


@pytest.fixture
def harness(bench_modules, monkeypatch):  # type: ignore[no-untyped-def]
    h, _ = bench_modules
    monkeypatch.setattr(h, "_RECORDS", [])
    h.FAILURES.clear()
    yield h
    h.FAILURES.clear()


def test_targets_table_is_consistent(bench_modules) -> None:  # type: ignore[no-untyped-def]
    h, _ = bench_modules
    gates = h.load_targets()
    assert gates, "benches/targets.toml states no gate"
    for key, g in gates.items():
        if g.kind == "threads":  # a thread gate that two threads no faster than one pass is none
            assert g.target * (1 - g.margin) > 1.1, key
        if g.median is not None:
            assert g.low <= g.median <= g.high, key
            assert g.runs >= 5, f"[{key}]: a spread needs at least 5 runs, not {g.runs}"
            # the quick gate lies beyond the measured noise on the bad side
            if g.kind == "speedup":
                assert g.median * (1 - g.margin) <= g.low, key
            else:
                assert g.median * (1 + g.margin) >= g.high, key
    # every gate a bench file names is in the table, and every entry is named by a bench file
    source = "\n".join(p.read_text() for p in BENCHES.glob("bench_*.py"))
    for key in gates:
        stem = key.rsplit(".", 1)[0] if any(c.isdigit() for c in key.rsplit(".", 1)[-1]) else key
        named = f'"{key}"' in source or f'f"{stem}.' in source or f'"{stem}"' in source
        assert named, f"[{key}] is named by no bench file"


def test_quick_gate_is_median_less_margin(harness, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    g = harness.Gate("x", "speedup", target=10.0, margin=0.2, median=30.0, low=26.0, high=33.0)
    b = harness.Gate("y", "bound", target=1.5, margin=0.3, median=1.2, low=1.1, high=1.35)
    monkeypatch.setattr(harness, "QUICK", True)
    # the target where the median is above it (speed-up) or below it (bound), less the margin
    assert g.required() == pytest.approx(8.0) and b.required() == pytest.approx(1.95)
    below = harness.Gate("w", "speedup", target=10.0, margin=0.2, median=5.0, low=4.5, high=5.5)
    assert below.required() == pytest.approx(4.0)  # below the target: held at what it reached
    assert harness.Gate("z", "speedup", 10.0, 0.2).required() == pytest.approx(8.0)  # no median: target less margin
    monkeypatch.setattr(harness, "QUICK", False)
    assert g.required() == 10.0 and b.required() == 1.5


def test_summary_never_says_yes_below_target(harness, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(harness, "QUICK", True)
    monkeypatch.setitem(harness.TARGETS, "t.speedup", harness.Gate("t.speedup", "speedup", 10.0, 0.3, median=9.0))
    harness.record("w", 1.0, "peer", 8.0, "t.speedup")  # 8x: passes the quick gate (6.3x), below 10x
    harness.record("w", 1.0, "peer2", 11.0, "t.speedup")
    harness.record("w", 1.0, "peer3", 5.0, "t.speedup")  # below the gate
    statuses = [r["status"] for r in harness._RECORDS]
    assert statuses == ["gate passed, target not met", "yes", "**NO**"]
    assert [r["passed"] for r in harness._RECORDS] == [True, True, False]
    assert len(harness.FAILURES) == 1 and "peer3" in harness.FAILURES[0]


def test_thread_gate_fails_when_two_threads_are_no_faster(harness, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(harness.TARGETS, "t.threads", harness.Gate("t.threads", "threads", 1.6, 0.2))
    monkeypatch.setattr(harness, "reference_thread_scaling", lambda: 1.95)  # a free second core
    harness.record_threads("w", 1.0, 1.0, "t.threads")  # 2 threads take as long as 1
    assert harness._RECORDS[-1]["passed"] is False and len(harness.FAILURES) == 1
    harness.FAILURES.clear()
    harness.record_threads("w", 1.0, 1.9, "t.threads")
    assert harness._RECORDS[-1]["status"] == "yes" and not harness.FAILURES
    # no free core: reported unchecked (never passed), not failed
    monkeypatch.setattr(harness, "reference_thread_scaling", lambda: 1.02)
    harness.record_threads("w", 1.0, 1.0, "t.threads")
    assert harness._RECORDS[-1]["passed"] is None and harness._RECORDS[-1]["status"].startswith("unchecked")


def test_reference_thread_scaling_is_a_ratio(harness) -> None:  # type: ignore[no-untyped-def]
    s = harness.reference_thread_scaling(repeat=3)
    assert 0.3 < s < 2.5


def test_change_against_baseline_is_signed_by_speed(bench_modules) -> None:  # type: ignore[no-untyped-def]
    _, report = bench_modules
    assert report.change({"kind": "speedup", "value": 12.0}, {"value": 10.0}) == pytest.approx(0.2)
    # a bound is a time factor: lower is faster
    assert report.change({"kind": "bound", "value": 0.5}, {"value": 1.0}) == pytest.approx(1.0)


def test_readme_table_is_generated_from_the_baseline() -> None:
    sys.path.insert(0, str(BENCHES))
    try:
        readme_table = importlib.import_module("readme_table")
    finally:
        sys.path.remove(str(BENCHES))
    baseline = json.loads((ROOT / "benches" / "baseline.json").read_text())
    readme = (ROOT / "README.md").read_text()
    assert readme_table.render(readme, baseline) == readme, "README's performance table is stale: make bench-readme"
    # every row of the baseline is in the table, with its peer
    for r in baseline["results"]:
        assert f"| {r['work']} | {r['peer']} |" in readme


@pytest.mark.slow
def test_credo_bench_quick_reports_rows_of_the_readme_table() -> None:
    """`credo bench --quick` times rows of the README's table: the same work and peer labels
    (its inputs, peers and method are the quick benchmark's)."""
    from click.testing import CliRunner

    from credo.cli.bench import command

    res = CliRunner().invoke(command, ["--quick", "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)["results"]
    readme = (ROOT / "README.md").read_text()
    timed = [r for r in rows if r["peer"]]
    assert len(timed) >= 6
    baseline_ids = {r["id"] for r in json.loads((ROOT / "benches" / "baseline.json").read_text())["results"]}
    for r in timed:
        assert r["credo_s"] > 0 and r["peer_s"] > 0 and r["speedup"] == pytest.approx(r["peer_s"] / r["credo_s"])
        if "torch" in r["peer"]:  # not installed where the baseline was measured
            continue
        assert f"{r['work']} | {r['peer']}" in baseline_ids, r
        assert f"| {r['work']} | {r['peer']} |" in readme
