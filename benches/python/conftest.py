"""Writes the benchmark comparisons recorded by `_harness` to bench-results/ at the end (summary,
history) and prints each ratio's change against the committed baseline (benches/baseline.json)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import _harness
import pytest
from _harness import _RECORDS, BASELINE_FILE, FAILURES, QUICK, RESULTS_DIR

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _report

# Every attempt of a test that missed a gate, with its failures. `make bench-smoke` and `make
# bench` run such a test again (pytest-rerunfailures), so the summary's rows may come from a
# later attempt: the meta keeps what the earlier ones measured.
GATE_FAILURES: list[dict[str, object]] = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):  # type: ignore[no-untyped-def]
    """Fails a test whose recorded ratios missed their gates, after its body recorded them all.
    A rerun of the test replaces the rows of its earlier attempt."""
    _harness.CURRENT_TEST = item.nodeid
    _RECORDS[:] = [r for r in _RECORDS if r["test"] != item.nodeid]
    FAILURES.clear()
    result = yield
    if FAILURES:
        failures = list(FAILURES)
        FAILURES.clear()
        GATE_FAILURES.append(
            {"test": item.nodeid, "attempt": getattr(item, "execution_count", 1), "failures": failures}
        )
        raise AssertionError("ratio below its gate:\n" + "\n".join(failures))
    return result


def _summary() -> dict[str, object]:
    meta = {**_report.run_meta(QUICK), "gate_failures": GATE_FAILURES}
    return {"meta": meta, "results": _RECORDS}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not _RECORDS:
        return
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    summary = _summary()
    baseline = _report.load(BASELINE_FILE)
    (RESULTS_DIR / "summary.json").write_text(json.dumps(summary, indent=1))
    (RESULTS_DIR / "summary.md").write_text(_report.summary_markdown(summary, baseline))
    with (RESULTS_DIR / "history.jsonl").open("a") as f:
        f.write(json.dumps(_report.history_line(summary)) + "\n")


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:  # type: ignore[no-untyped-def]
    if not _RECORDS:
        return
    baseline = _report.load(BASELINE_FILE)
    lines = _report.change_lines(_summary(), baseline)
    terminalreporter.section("credo ratios against the committed baseline (benches/baseline.json)")
    for line in lines:
        terminalreporter.write_line(line)
