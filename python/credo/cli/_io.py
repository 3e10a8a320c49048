"""Reading tables of scores and labels for the CLI: CSV, TSV, JSON Lines and Parquet.

Returns plain columns (a dict of NumPy arrays). CSV/TSV and JSON Lines of 1 MiB or more are read
by pyarrow when it is installed, else by pandas (CSV/TSV), else by a pure-Python reader (5-10x
slower on a million rows; used for small files, where importing pyarrow would cost more); a file
the fast reader refuses is read again by the pure-Python reader, whose error names the row.
Parquet needs pyarrow.

Every problem (missing file, directory, FIFO, unknown format, malformed content, missing column, a
value that is not a number) raises a credo error naming the file and, where one is at fault, the
column and the row. Rows are counted from 1 = the first data row (a CSV header is not a row).
"""

from __future__ import annotations

import csv
import json
import math
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from credo.exceptions import InvalidArgumentError, ShapeError

FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}
# Files smaller than this are read by the pure-Python reader: importing pyarrow or pandas (about
# half a second) costs more than it saves below a few tens of thousands of rows.
FAST_MIN_BYTES = 1 << 20
# Bound on what a Parquet file may decode to, as --max-npz-bytes bounds an .npz: its footer's
# declared sizes (and rows x columns x 8 bytes, since run-length encoding makes a column of a
# billion equal values a few bytes on disk) are checked before any page is decoded, then the
# decoded row groups as they arrive (a footer that understates its pages is caught there).
MAX_PARQUET_BYTES = 1 << 30
# Spellings of booleans accepted in a label column (pandas writes True/False).
BOOLEANS = {"true": 1.0, "false": 0.0}


def check_file(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path if it is a readable regular file; a clear error otherwise (a FIFO or a
    device would block or never end, so they are refused before opening)."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise InvalidArgumentError(f"{p}: no such file") from None
    except OSError as exc:
        raise InvalidArgumentError(f"{p}: cannot read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise InvalidArgumentError(f"{p}: is a directory, expected a file")
    if not stat.S_ISREG(st.st_mode):
        raise InvalidArgumentError(f"{p}: not a regular file (a FIFO, socket or device)")
    if st.st_size == 0:
        raise InvalidArgumentError(f"{p}: the file is empty")
    if not os.access(p, os.R_OK):
        raise InvalidArgumentError(f"{p}: permission denied")
    return p


def read_table(path: str | os.PathLike[str], columns: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Reads ``path`` into a dict of columns: numeric and boolean columns become float64 arrays,
    others object arrays of strings (None for a missing value)."""
    p = Path(path)
    kind = FORMATS.get(p.suffix.lower())
    if kind is None:
        known = ", ".join(sorted(FORMATS))
        raise InvalidArgumentError(f"{p}: unknown file type {p.suffix!r} (expected one of {known})")
    size = check_file(p).stat().st_size
    raw: dict[str, np.ndarray] | None
    if kind == "parquet":
        raw = _parquet(p)
    else:
        raw = _fast(p, kind) if size >= FAST_MIN_BYTES else None
        if raw is None:
            raw = _csv(p, "," if kind == "csv" else "\t") if kind != "jsonl" else _jsonl(p)
    if not raw or not len(next(iter(raw.values()))):
        raise InvalidArgumentError(f"{p}: no rows")
    if columns is not None:
        missing = [c for c in columns if c not in raw]
        if missing:
            raise InvalidArgumentError(
                f"{p}: missing column(s) {', '.join(map(repr, missing))}; the file has {', '.join(map(repr, raw))}"
            )
    return raw


# --- fast paths: pyarrow, then pandas ---------------------------------------------------------


def _fast(p: Path, kind: str) -> dict[str, np.ndarray] | None:
    """The columns read by pyarrow or pandas, or None (not installed, or the file needs the
    pure-Python reader's row-level diagnosis)."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return _pandas(p, kind) if kind != "jsonl" else None
    try:
        if kind == "jsonl":
            import pyarrow.json as pj

            table = pj.read_json(p)
        else:
            import pyarrow.csv as pc

            table = pc.read_csv(
                p,
                parse_options=pc.ParseOptions(delimiter="," if kind == "csv" else "\t"),
                convert_options=pc.ConvertOptions(
                    strings_can_be_null=True, true_values=["True", "true"], false_values=["False", "false"]
                ),
            )
    except Exception:  # any refusal: the pure-Python reader re-reads and names the row at fault
        return None
    return _from_arrow(table)


def _from_arrow(table: Any) -> dict[str, np.ndarray] | None:
    import pyarrow as pa

    names = [n.strip() for n in table.column_names]
    if len(set(names)) != len(names):
        return None  # the pure-Python reader names the duplicated column
    out = {}
    for name, col in zip(table.column_names, table.columns, strict=True):
        t = col.type
        if pa.types.is_boolean(t) or pa.types.is_integer(t) or pa.types.is_floating(t):
            out[name.strip()] = col.cast(pa.float64()).to_numpy(zero_copy_only=False)
        elif pa.types.is_dictionary(t) and (pa.types.is_string(t.value_type) or pa.types.is_large_string(t.value_type)):
            out[name.strip()] = _dictionary_strings(col)
        elif pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t):
            out[name.strip()] = np.array(col.to_pylist(), dtype=object)
        else:  # nested JSON values and other types: the pure-Python reader reports them
            return None
    return out


def _dictionary_strings(col: Any) -> np.ndarray:
    """A dictionary-encoded string column as an object array whose rows share the dictionary's
    str objects (None where missing), without expanding the values row by row."""
    parts = []
    for chunk in col.chunks:
        values = np.array([*chunk.dictionary.to_pylist(), None], dtype=object)
        idx = chunk.indices.fill_null(len(values) - 1).to_numpy(zero_copy_only=False)
        parts.append(values[idx])
    return np.concatenate(parts) if parts else np.empty(0, dtype=object)


def _pandas(p: Path, kind: str) -> dict[str, np.ndarray] | None:
    try:
        import pandas as pd
    except ImportError:
        return None
    try:
        frame = pd.read_csv(p, sep="," if kind == "csv" else "\t", engine="c")
    except Exception:  # the pure-Python reader re-reads and names the row at fault
        return None
    out = {}
    for name in frame.columns:
        col = frame[name]
        if col.dtype.kind in "biuf":
            out[str(name).strip()] = col.to_numpy(dtype=np.float64)
        else:
            out[str(name).strip()] = _to_array([None if v is None or v != v else v for v in col.tolist()])
    return out


# --- the pure-Python readers (and the row-level diagnosis) -----------------------------------


def _open_text(p: Path) -> Any:
    return p.open(newline="", encoding="utf-8", errors="strict")


def _csv(p: Path, delimiter: str) -> dict[str, np.ndarray]:
    try:
        with _open_text(p) as fh:
            reader = csv.reader(fh, delimiter=delimiter, strict=True)
            try:
                header = next(reader)
            except StopIteration:
                raise InvalidArgumentError(f"{p}: the file is empty") from None
            rows: list[list[str]] = []
            for r in reader:
                if not r:
                    continue
                if len(r) != len(header):
                    raise ShapeError(
                        f"{p}: row {len(rows) + 1} (line {reader.line_num}) has {len(r)} fields, "
                        f"the header has {len(header)}"
                    )
                rows.append(r)
    except UnicodeDecodeError as exc:
        raise InvalidArgumentError(f"{p}: not UTF-8 text (byte {exc.start} is {exc.object[exc.start]:#04x})") from None
    except csv.Error as exc:
        raise InvalidArgumentError(f"{p}: malformed {'CSV' if delimiter == ',' else 'TSV'} ({exc})") from None
    names = [h.strip() for h in header]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise InvalidArgumentError(f"{p}: column {dup!r} appears twice in the header")
    return {h: _to_array([r[j] for r in rows]) for j, h in enumerate(names)}


def _jsonl(p: Path) -> dict[str, np.ndarray]:
    records: list[Any] = []
    try:
        with _open_text(p) as fh:
            for i, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except (json.JSONDecodeError, RecursionError) as exc:
                    why = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
                    raise InvalidArgumentError(
                        f"{p}: row {len(records) + 1} (line {i}) is not valid JSON ({why})"
                    ) from None
                if not isinstance(rec, dict):
                    raise InvalidArgumentError(f"{p}: row {len(records) + 1} (line {i}) is not a JSON object")
                records.append(rec)
    except UnicodeDecodeError as exc:
        raise InvalidArgumentError(f"{p}: not UTF-8 text (byte {exc.start} is {exc.object[exc.start]:#04x})") from None
    keys = list(dict.fromkeys(k for r in records for k in r))
    return {k: _to_array([r.get(k) for r in records]) for k in keys}


def _parquet(p: Path, limit: int | None = None) -> dict[str, np.ndarray]:
    """The columns of a Parquet file, decoded one row group at a time within ``limit`` bytes
    (default ``MAX_PARQUET_BYTES``). String columns stay dictionary-encoded while decoding, so a
    long value repeated on every row is held once, not once per row."""
    limit = MAX_PARQUET_BYTES if limit is None else limit
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise InvalidArgumentError(f"{p}: reading Parquet needs pyarrow (pip install 'credo[io]')") from None
    try:
        meta = pq.read_metadata(p)  # the footer only
        strings = [
            f.name
            for f in meta.schema.to_arrow_schema()
            if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
        ]
        declared = _declared_bytes(meta)
    except Exception as exc:  # pyarrow's ArrowInvalid / OSError family: a malformed file
        raise InvalidArgumentError(f"{p}: not a readable Parquet file ({str(exc).splitlines()[0]})") from None
    if declared > limit:
        raise InvalidArgumentError(
            f"{p}: decodes to at least {declared} bytes ({meta.num_rows} rows x {meta.num_columns} columns), over "
            f"the limit of {limit} bytes (compressed {p.stat().st_size} bytes); split the file"
        )
    groups, decoded = [], 0
    try:
        f = pq.ParquetFile(p, read_dictionary=strings)
        for i in range(f.num_row_groups):
            group = f.read_row_group(i)
            decoded += group.nbytes
            if decoded > limit:
                raise InvalidArgumentError(
                    f"{p}: row group {i} decodes past the limit of {limit} bytes (its footer declares "
                    f"{declared} bytes in all); split the file"
                )
            groups.append(group)
        table = pa.concat_tables(groups) if groups else f.schema_arrow.empty_table()
    except InvalidArgumentError:
        raise
    except Exception as exc:  # pyarrow's ArrowInvalid / OSError family: a malformed file
        raise InvalidArgumentError(f"{p}: not a readable Parquet file ({str(exc).splitlines()[0]})") from None
    out = _from_arrow(table)
    if out is None:
        raise InvalidArgumentError(f"{p}: a column holds nested values or a column name appears twice")
    return out


def _declared_bytes(meta: Any) -> int:
    """What a Parquet footer says its data decodes to: per row group, the larger of its
    uncompressed size and 8 bytes per value (what a float64 column of it takes in memory)."""
    total = 0
    for i in range(meta.num_row_groups):
        rg = meta.row_group(i)
        total += max(int(rg.total_byte_size), 8 * int(rg.num_rows) * int(rg.num_columns))
    return total


def _to_array(values: Sequence[Any]) -> np.ndarray:
    """float64 when every value is a number (or a boolean), else an object array of the values
    (strings; None for a missing value)."""
    try:
        return np.array([_number(v) for v in values], dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        return np.array([v if v is None or isinstance(v, str) else _text(v) for v in values], dtype=object)


def _number(v: Any) -> float:
    if isinstance(v, str):
        b = BOOLEANS.get(v.strip().lower())
        return b if b is not None else float(v)
    if isinstance(v, (bool, int, float)):
        return float(v)
    raise TypeError(type(v).__name__)


def _text(v: Any) -> str:
    return json.dumps(v) if isinstance(v, (dict, list)) else str(v)


# --- columns with their checks ---------------------------------------------------------------


def numeric_column(table: dict[str, np.ndarray], name: str, source: str, *, finite: bool = True) -> np.ndarray:
    """The column ``name`` as float64, or an error naming the first row that is not a (finite)
    number."""
    col = table[name]
    if col.dtype == object:
        out = np.empty(len(col), dtype=np.float64)
        for i, v in enumerate(col):
            try:
                out[i] = _number(v)
            except (TypeError, ValueError, OverflowError):
                shown = "an empty value" if v is None or (isinstance(v, str) and not v.strip()) else f"{v!r}"
                raise InvalidArgumentError(f"{source}: column {name!r}, row {i + 1}: {shown} is not a number") from None
        col = out
    if finite:
        bad = np.flatnonzero(~np.isfinite(col))
        if len(bad):
            i = int(bad[0])
            shown = "an empty value" if math.isnan(col[i]) and _was_empty(table[name], i) else f"{col[i]}"
            raise InvalidArgumentError(f"{source}: column {name!r}, row {i + 1}: {shown} is not a finite number")
    return col


def _was_empty(col: np.ndarray, i: int) -> bool:
    return col.dtype == object and (col[i] is None or not str(col[i]).strip())


def check_in_unit_interval(values: np.ndarray, name: str, source: str) -> None:
    """Every value in [0, 1] (confidences, probabilities), or an error naming the first row."""
    bad = np.flatnonzero((values < 0) | (values > 1))
    if len(bad):
        i = int(bad[0])
        raise InvalidArgumentError(
            f"{source}: column {name!r}, row {i + 1}: {values[i]} is not a probability in [0, 1]"
        )


def check_labels(labels: np.ndarray, name: str, source: str, n_classes: int = 2) -> np.ndarray:
    """Labels as int64 class ids in [0, n_classes) (0/1 or True/False when binary), or an error
    naming the first row at fault."""
    bad = np.flatnonzero((labels != np.round(labels)) | (labels < 0) | (labels >= n_classes))
    if len(bad):
        i = int(bad[0])
        want = "0/1 or True/False" if n_classes == 2 else f"a class id in 0..{n_classes - 1}"
        raise InvalidArgumentError(f"{source}: column {name!r}, row {i + 1}: label {labels[i]:g} is not {want}")
    return labels.astype(np.int64)
