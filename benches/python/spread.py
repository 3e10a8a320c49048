"""The spread of each gated ratio over repeated quick runs, and the noise margin it justifies.

    for i in 1 2 3 4 5; do CREDO_BENCH_QUICK=1 CREDO_BENCH_DIR=runs/$i make bench-smoke; done
    python benches/python/spread.py runs/*            # prints the table
    python benches/python/spread.py --write runs/*    # and writes them into benches/targets.toml
                                                      # as quick.<SIMD level of the runs>

The rule (stated in targets.toml's header): margin = 2 × the largest relative distance of a
run from the median on the bad side, rounded up to 0.05, at least 0.20. The runs must share one
SIMD level: the spread is written for that level only, and other levels' spreads are kept
(ratios differ between the project's machines). Thread gates are left alone (they are checked
against a same-run reference of the machine's free cores instead).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
from pathlib import Path
from typing import Any

TARGETS_FILE = Path(__file__).resolve().parents[1] / "targets.toml"
MIN_MARGIN = 0.20
SAFETY = 2.0


def margin_for(kind: str, values: list[float]) -> float:
    med = statistics.median(values)
    worst = (med - min(values)) / med if kind == "speedup" else (max(values) - med) / med
    m = max(MIN_MARGIN, math.ceil(SAFETY * worst * 20 - 1e-9) / 20)
    return min(m, 0.9) if kind == "speedup" else m


def collect(run_dirs: list[Path]) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    by_gate: dict[str, dict[str, Any]] = {}
    metas = []
    for d in run_dirs:
        s = json.loads((d / "summary.json").read_text())
        metas.append(s["meta"])
        assert s["meta"]["quick"], f"{d} is not a quick run"
        for r in s["results"]:
            if r.get("gate") is None or r["kind"] == "threads":
                continue
            e = by_gate.setdefault(r["gate"], {"kind": r["kind"], "values": [], "id": r["id"]})
            e["values"].append(r["value"])
    return by_gate, metas


def spread_line(level: str, kind: str, values: list[float], provenance: str) -> str:
    """The targets.toml line of one gate's spread at one SIMD level."""
    med = statistics.median(values)
    return (
        f"quick.{level} = {{ median = {med:.4g}, low = {min(values):.4g}, high = {max(values):.4g}, "
        f"runs = {len(values)}, margin = {margin_for(kind, values):.2f} }}  # {provenance}"
    )


def write(by_gate: dict[str, dict[str, Any]], level: str, provenance: str) -> None:
    text = TARGETS_FILE.read_text()
    for key, e in by_gate.items():
        line = spread_line(level, e["kind"], e["values"], provenance)
        head = f'["{key}"]\n'
        start = text.index(head) + len(head)
        end = text.find("\n[", start)
        end = len(text) if end < 0 else end + 1
        # the spread carries the margin: a top-level one (stated while none was measured) goes
        body = re.sub(rf"^(quick\.{level}|margin) = .*\n?", "", text[start:end], flags=re.M)
        body = body.rstrip("\n") + "\n" + line + "\n" + ("\n" if end < len(text) else "")
        text = text[:start] + body + text[end:]
    TARGETS_FILE.write_text(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path, help="bench output folders, each with a summary.json")
    ap.add_argument("--write", action="store_true", help="write the medians and margins into targets.toml")
    ap.add_argument("--only", action="append", default=[], help="only this gate (repeatable)")
    args = ap.parse_args(argv)
    by_gate, metas = collect(args.runs)
    if args.only:
        by_gate = {k: v for k, v in by_gate.items() if k in args.only}
    levels = {m["simd"] for m in metas}
    if len(levels) != 1:
        print(f"the runs were measured at different SIMD levels ({', '.join(sorted(levels))}): one level at a time")
        return 2
    level = levels.pop()
    loads = [m["load"][0] for m in metas]
    commit = f", commit {metas[0]['commit']}" if metas[0]["commit"] else ""
    provenance = (
        f"{len(metas)} quick runs, {metas[0]['date'][:10]}{commit}, "
        f"load {min(loads):g}-{max(loads):g} on {metas[0]['cpus']} CPUs, {metas[0]['cpu']}"
    )
    print(f"{provenance}; SIMD level {level}\n")
    print(f"{'gate':32} {'median':>8} {'low':>8} {'high':>8} {'spread':>7} {'margin':>7}  values")
    for key, e in sorted(by_gate.items()):
        v = e["values"]
        med = statistics.median(v)
        spread = (max(v) - min(v)) / med
        vals = " ".join(f"{x:.3g}" for x in v)
        print(f"{key:32} {med:8.3g} {min(v):8.3g} {max(v):8.3g} {spread:7.0%} {margin_for(e['kind'], v):7.2f}  {vals}")
    if args.write:
        write(by_gate, level, provenance)
        print(f"\nwritten to {TARGETS_FILE} as quick.{level}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
