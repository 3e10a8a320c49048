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
            assert g.target * (1 - g.margin_here()) > 1.1, key
        for level, s in g.spreads.items():
            assert level in ("scalar", "avx2", "avx512", "neon"), f"[{key}]: unknown SIMD level {level}"
            assert s.low <= s.median <= s.high, key
            assert s.runs >= 5, f"[{key}]: a spread needs at least 5 runs, not {s.runs}"
            # the quick gate lies beyond the measured noise on the bad side
            if g.kind == "speedup":
                assert s.median * (1 - s.margin) <= s.low, key
            else:
                assert s.median * (1 + s.margin) >= s.high, key
    # every gate a bench file names is in the table, and every entry is named by a bench file
    source = "\n".join(p.read_text() for p in BENCHES.glob("bench_*.py"))
    for key in gates:
        stem = key.rsplit(".", 1)[0] if any(c.isdigit() for c in key.rsplit(".", 1)[-1]) else key
        named = f'"{key}"' in source or f'f"{stem}.' in source or f'"{stem}"' in source
        assert named, f"[{key}] is named by no bench file"


def _spread(median: float, low: float, high: float, margin: float):  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(BENCHES))
    try:
        return importlib.import_module("_harness").Spread(median, low, high, 6, margin)
    finally:
        sys.path.remove(str(BENCHES))


def test_quick_gate_is_median_less_margin(harness, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    g = harness.Gate("x", "speedup", target=10.0, spreads={"avx2": _spread(30.0, 26.0, 33.0, 0.2)})
    b = harness.Gate("y", "bound", target=1.5, spreads={"avx2": _spread(1.2, 1.1, 1.35, 0.3)})
    monkeypatch.setattr(harness, "QUICK", True)
    # the target where the median is above it (speed-up) or below it (bound), less the margin
    assert g.required("avx2") == pytest.approx(8.0) and b.required("avx2") == pytest.approx(1.95)
    below = harness.Gate("w", "speedup", target=10.0, spreads={"avx2": _spread(5.0, 4.5, 5.5, 0.2)})
    assert below.required("avx2") == pytest.approx(4.0)  # below the target: held at what it reached
    no_spread = harness.Gate("z", "speedup", 10.0, margin=0.2)
    assert no_spread.required("avx2") == pytest.approx(8.0)  # none measured: the target less the stated margin
    monkeypatch.setattr(harness, "QUICK", False)
    assert g.required("avx2") == 10.0 and b.required("avx2") == 1.5


def test_each_simd_level_keeps_its_spread(harness, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Ratios differ between the project's machines: a machine is held to its own level's spread,
    and one whose level was never measured to the most lenient measured level's."""
    monkeypatch.setattr(harness, "QUICK", True)
    spreads = {"avx512": _spread(6.0, 5.5, 6.5, 0.2), "avx2": _spread(4.0, 3.5, 4.2, 0.3)}
    g = harness.Gate("s", "speedup", target=10.0, spreads=spreads)
    assert g.required("avx512") == pytest.approx(4.8) and g.margin_here("avx512") == 0.2
    assert g.required("avx2") == pytest.approx(2.8) and g.margin_here("avx2") == 0.3
    assert g.required("neon") == pytest.approx(2.8)  # unmeasured: the lower requirement
    bound_spreads = {"avx512": _spread(1.2, 1.1, 1.3, 0.2), "avx2": _spread(2.0, 1.8, 2.3, 0.3)}
    b = harness.Gate("t", "bound", target=1.0, spreads=bound_spreads)
    assert b.required("avx512") == pytest.approx(1.44) and b.required("scalar") == pytest.approx(2.6)


def test_spread_writes_one_level_and_keeps_the_others(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(BENCHES))
    try:
        spread = importlib.import_module("spread")
    finally:
        sys.path.remove(str(BENCHES))
    targets = tmp_path / "targets.toml"
    targets.write_text(
        '["a"]\ntarget = 10.0\n'
        "quick.avx512 = { median = 6.0, low = 5.5, high = 6.5, runs = 6, margin = 0.20 }  # old\n\n"
        '["b"]\nkind = "bound"\ntarget = 1.0\nmargin = 0.3  # stated while none was measured\n'
    )
    monkeypatch.setattr(spread, "TARGETS_FILE", targets)
    by_gate = {
        "a": {"kind": "speedup", "values": [4.0, 3.8, 4.1, 4.0, 3.9, 4.2]},
        "b": {"kind": "bound", "values": [1.1, 1.2, 1.1, 1.15, 1.1, 1.1]},
    }
    spread.write(by_gate, "avx2", "6 quick runs")
    import tomllib

    raw = tomllib.loads(targets.read_text())
    assert raw["a"]["quick"]["avx512"]["median"] == 6.0  # the other level's spread is kept
    assert raw["a"]["quick"]["avx2"] == {"median": 4.0, "low": 3.8, "high": 4.2, "runs": 6, "margin": 0.2}
    assert "margin" not in raw["b"] and raw["b"]["quick"]["avx2"]["high"] == 1.2  # the spread carries it now
    spread.write(by_gate, "avx2", "again")  # rewriting a level replaces its line
    assert targets.read_text().count("quick.avx2") == 2


def test_summary_never_says_yes_below_target(harness, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(harness, "QUICK", True)
    nine = {"avx2": _spread(9.0, 8.5, 9.5, 0.3), "avx512": _spread(9.0, 8.5, 9.5, 0.3)}
    monkeypatch.setitem(harness.TARGETS, "t.speedup", harness.Gate("t.speedup", "speedup", 10.0, spreads=nine))
    harness.record("w", 1.0, "peer", 8.0, "t.speedup")  # 8x: passes the quick gate (6.3x), below 10x
    harness.record("w", 1.0, "peer2", 11.0, "t.speedup")
    harness.record("w", 1.0, "peer3", 5.0, "t.speedup")  # below the gate
    statuses = [r["status"] for r in harness._RECORDS]
    assert statuses == ["gate passed, target not met", "yes", "**NO**"]
    assert [r["passed"] for r in harness._RECORDS] == [True, True, False]
    assert len(harness.FAILURES) == 1 and "peer3" in harness.FAILURES[0]


def test_thread_gate_fails_when_two_threads_are_no_faster(harness, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(harness.TARGETS, "t.threads", harness.Gate("t.threads", "threads", 1.6, margin=0.2))
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
