"""Writes the README's performance table and its Serving section's table from a benchmark run's
summary (by default the committed baseline, benches/baseline.json), between their markers in
README.md.

    python benches/python/readme_table.py            # rewrite the tables (make bench-readme)
    python benches/python/readme_table.py --check    # exit 1 when README.md is not up to date
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import README_END, README_START, SERVING_END, SERVING_START, readme_table, serving_table

ROOT = Path(__file__).resolve().parents[2]


def render(readme: str, summary: dict) -> str:  # type: ignore[type-arg]
    """``readme`` with the text between each pair of markers (the markers included) regenerated:
    the performance table and the Serving section's table."""
    for first, last, table in ((README_START, README_END, readme_table), (SERVING_START, SERVING_END, serving_table)):
        start, end = readme.index(first), readme.index(last) + len(last)
        readme = readme[:start] + table(summary) + readme[end:]
    return readme


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--summary", type=Path, default=ROOT / "benches" / "baseline.json")
    ap.add_argument("--readme", type=Path, default=ROOT / "README.md")
    ap.add_argument("--check", action="store_true", help="fail when the README's table is not up to date")
    args = ap.parse_args(argv)
    readme = args.readme.read_text()
    new = render(readme, json.loads(args.summary.read_text()))
    if args.check:
        if new != readme:
            print(f"{args.readme}: a table is not generated from {args.summary}; run make bench-readme")
            return 1
        return 0
    args.readme.write_text(new)
    print(f"{args.readme}: performance table written from {args.summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
