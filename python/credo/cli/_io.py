"""Reading tables of scores and labels for the CLI: CSV, JSON Lines and Parquet.

Returns plain columns (a dict of NumPy arrays), so the commands need neither pandas nor pyarrow
unless the file is Parquet. Every problem (missing file, unknown format, missing column, a value
that is not a number) raises a credo error that names the file, the column and the row.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from credo.exceptions import InvalidArgumentError, ShapeError

FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}


def _rows_csv(path: Path, delimiter: str) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            raise InvalidArgumentError(f"{path}: the file is empty") from None
        rows = [r for r in reader if r]
    for i, r in enumerate(rows, start=2):
        if len(r) != len(header):
            raise ShapeError(f"{path}: line {i} has {len(r)} fields, the header has {len(header)}")
    return [h.strip() for h in header], rows


def read_table(path: str | Path, columns: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Reads ``path`` into a dict of columns; numeric columns become float64 arrays, others object."""
    p = Path(path)
    if not p.exists():
        raise InvalidArgumentError(f"{p}: no such file")
    kind = FORMATS.get(p.suffix.lower())
    if kind is None:
        known = ", ".join(sorted(FORMATS))
        raise InvalidArgumentError(f"{p}: unknown file type {p.suffix!r} (expected one of {known})")
    raw: dict[str, list] = {}
    if kind in ("csv", "tsv"):
        header, rows = _rows_csv(p, "," if kind == "csv" else "\t")
        raw = {h: [r[j] for r in rows] for j, h in enumerate(header)}
    elif kind == "jsonl":
        records = []
        with p.open(encoding="utf-8") as fh:
            for i, line in enumerate(fh, start=1):
                if line.strip():
                    try:
                        rec = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise InvalidArgumentError(f"{p}: line {i} is not valid JSON ({exc.msg})") from None
                    if not isinstance(rec, dict):
                        raise InvalidArgumentError(f"{p}: line {i} is not a JSON object")
                    records.append(rec)
        keys = list(dict.fromkeys(k for r in records for k in r))
        raw = {k: [r.get(k) for r in records] for k in keys}
    else:
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise InvalidArgumentError(f"{p}: reading Parquet needs pyarrow (pip install 'credo[io]')") from None
        table = pq.read_table(p)
        raw = {name: table.column(name).to_pylist() for name in table.column_names}
    if not raw or not next(iter(raw.values()), None):
        raise InvalidArgumentError(f"{p}: no rows")
    if columns is not None:
        missing = [c for c in columns if c not in raw]
        if missing:
            raise InvalidArgumentError(
                f"{p}: missing column(s) {', '.join(map(repr, missing))}; the file has {', '.join(map(repr, raw))}"
            )
    return {name: _to_array(values) for name, values in raw.items()}


def _to_array(values: list) -> np.ndarray:
    try:
        return np.array([float(v) for v in values], dtype=np.float64)
    except (TypeError, ValueError):
        return np.array(["" if v is None else str(v) for v in values], dtype=object)


def numeric_column(table: dict[str, np.ndarray], name: str, source: str) -> np.ndarray:
    """The column ``name`` as float64, or an error naming the first row that is not a number."""
    col = table[name]
    if col.dtype != object:
        return col
    for i, v in enumerate(col, start=1):
        try:
            float(v)
        except ValueError:
            raise InvalidArgumentError(f"{source}: column {name!r}, row {i}: {v!r} is not a number") from None
    return col.astype(np.float64)
