"""Shared pieces of the CLI commands: JSON output, tables and progress."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from credo._artifact import to_jsonable


def echo_json(payload: Any) -> None:
    """Writes ``payload`` as JSON in credo's one convention (non-finite floats as "nan", "inf",
    "-inf": :func:`credo._artifact.to_jsonable`)."""
    json.dump(to_jsonable(payload), sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")


def fmt(value: Any, digits: int = 4) -> str:
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return "nan" if math.isnan(v) else f"{v:.{digits}f}"
    return str(value)


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A plain-text table with aligned columns (numbers right-aligned)."""
    cells = [list(map(str, header))] + [[fmt(c) for c in r] for r in rows]
    widths = [max(len(r[j]) for r in cells) for j in range(len(header))]

    def line(r: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if j and _numeric(c) else c.ljust(w) for j, (c, w) in enumerate(zip(r, widths, strict=True))
        ).rstrip()

    out = [line(cells[0]), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells[1:]]
    return "\n".join(out)


def _numeric(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def progress(total: int | None, desc: str, enabled: bool | None = None, unit: str = "it") -> Any:
    """A tqdm bar on stderr; ``enabled=None`` shows it only when stderr is a terminal (never in CI
    logs or redirected output). A no-op when disabled or tqdm is missing."""
    try:
        from tqdm import tqdm
    except ImportError:
        enabled = False
    if not (sys.stderr.isatty() if enabled is None else enabled):

        class _Null:
            def update(self, n: int = 1) -> None: ...
            def set_description(self, d: str) -> None: ...
            def close(self) -> None: ...
            def __enter__(self) -> _Null:
                return self

            def __exit__(self, *exc: object) -> None: ...

        return _Null()
    return tqdm(total=total, desc=desc, file=sys.stderr, leave=False, unit=unit)
