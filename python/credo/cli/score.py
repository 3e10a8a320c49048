"""``credo score FILE...``: sequence signals for every sequence in logit files.

Reads ``.npy``, ``.npz`` and ``.safetensors`` files holding logits ``[T, V]`` (one sequence) or
``[B, T, V]`` (B sequences), float16/bfloat16/float32/float64; ``.npy`` and ``.safetensors``
are memory-mapped, so files larger than memory stream through in blocks. Optional arrays in the
same file give the chosen token ids (``[T]``/``[B, T]``) and per-sequence lengths. Writes one
row per sequence as CSV (default, to stdout without ``-o``), Parquet (needs pyarrow) or JSON.

Without chosen token ids the columns that need them (log-probabilities, perplexity, repetition)
are left out, with a note on stderr. A malformed file of any kind is a one-line error naming the
file (exit status 1); an ``.npz`` is checked before it is read: its members' declared sizes must
stay under ``--max-npz-bytes`` decompressed (a zip bomb is refused, not inflated) and each
member's array header must fit its declared size. Sequence and position indices in messages and
in the ``sequence`` column count from 0, as NumPy indexes the array.
"""

from __future__ import annotations

import csv
import json
import sys
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import numpy as np

from credo.cli._common import echo_json
from credo.cli._common import progress as progress_bar
from credo.cli._io import check_file
from credo.exceptions import CredoError, InvalidArgumentError, ShapeError

# Elements per block handed to the engine (bounds the memory touched at once).
_BLOCK_ELEMENTS = 1 << 26

COLUMNS = [
    "file",
    "sequence",
    "n_tokens",
    "mean_entropy",
    "max_entropy",
    "sum_logprob",
    "mean_logprob",
    "min_logprob",
    "perplexity",
    "mean_margin",
    "min_margin",
    "repeated_ngram_fraction",
    "longest_repeat_run",
]

# Columns computed from the chosen token ids: left out when a file has none.
NEED_CHOSEN = (
    "sum_logprob",
    "mean_logprob",
    "min_logprob",
    "perplexity",
    "repeated_ngram_fraction",
    "longest_repeat_run",
)
# Default bound on an .npz's decompressed size (the sum of its members' declared sizes).
MAX_NPZ_BYTES = 1 << 30
# The safetensors format caps its JSON header at 100 MB.
_ST_MAX_HEADER = 100_000_000
# Errors NumPy, zipfile and the OS raise on a malformed or truncated array file.
_READ_ERRORS = (ValueError, EOFError, OSError, KeyError, TypeError, OverflowError, zipfile.BadZipFile, zlib.error)

_ST_DTYPES = {
    "F16": "float16",
    "BF16": "bfloat16",
    "F32": "float32",
    "F64": "float64",
    "I64": "int64",
    "I32": "int32",
}


def _safetensors(path: Path) -> dict[str, np.ndarray]:
    """Memory-mapped tensors of a .safetensors file (8-byte header length, JSON header, data),
    every offset and shape checked against the file before it is mapped."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) != 8:
            raise InvalidArgumentError(f"{path}: not a safetensors file (truncated header)")
        n = int.from_bytes(head, "little")
        if n > min(_ST_MAX_HEADER, size - 8):
            raise InvalidArgumentError(
                f"{path}: not a safetensors file (header length {n} exceeds the file or the format's 100 MB cap)"
            )
        try:
            header = json.loads(f.read(n))
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise InvalidArgumentError(f"{path}: not a safetensors file (bad JSON header)") from None
    if not isinstance(header, dict):
        raise InvalidArgumentError(f"{path}: not a safetensors file (the header is not a JSON object)")
    data_size = size - 8 - n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(info, dict):
            raise InvalidArgumentError(f"{path}: tensor {name!r}: header entry is not a JSON object")
        dt = _ST_DTYPES.get(info.get("dtype"))  # type: ignore[arg-type]
        if dt is None:
            continue
        shape, offsets = info.get("shape"), info.get("data_offsets")
        if not (
            isinstance(shape, list) and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
        ):
            raise InvalidArgumentError(f"{path}: tensor {name!r}: shape must be a list of non-negative integers")
        if not (
            isinstance(offsets, list)
            and len(offsets) == 2
            and all(type(o) is int for o in offsets)
            and 0 <= offsets[0] <= offsets[1] <= data_size
        ):
            raise InvalidArgumentError(f"{path}: tensor {name!r}: data_offsets outside the file")
        begin, end = offsets
        np_dt = np.dtype(np.uint16) if dt == "bfloat16" else np.dtype(dt)
        if int(np.prod(shape, dtype=object)) * np_dt.itemsize != end - begin:
            raise InvalidArgumentError(f"{path}: tensor {name!r} has inconsistent offsets")
        if end == begin:
            arr = np.zeros(tuple(shape), dtype=np_dt)
        else:
            arr = np.memmap(path, dtype=np_dt, mode="r", offset=8 + n + begin, shape=tuple(shape))
        if dt == "bfloat16":
            arr = _as_bf16(arr)
        out[name] = arr
    return out


def _as_bf16(bits: np.ndarray) -> np.ndarray:
    try:
        import ml_dtypes
    except ImportError:
        raise InvalidArgumentError("bfloat16 logits need ml_dtypes: pip install 'credo[dtypes]'") from None
    return bits.view(ml_dtypes.bfloat16)


def _load(path: Path, max_npz_bytes: int = MAX_NPZ_BYTES) -> dict[str, np.ndarray]:
    """The arrays in ``path``, or a one-line error naming the file when it is malformed."""
    check_file(path)
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".npz", ".safetensors"):
        raise InvalidArgumentError(f"{path}: unsupported file type {suffix!r} (expected .npy, .npz or .safetensors)")
    kind = suffix[1:]
    try:
        if suffix == ".npy":
            return {"logits": np.load(path, mmap_mode="r", allow_pickle=False)}
        if suffix == ".npz":
            _check_npz(path, max_npz_bytes)
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        return _safetensors(path)
    except CredoError:
        raise
    except MemoryError:
        raise InvalidArgumentError(f"{path}: the arrays do not fit in memory") from None
    except _READ_ERRORS as exc:
        raise InvalidArgumentError(f"{path}: not a valid .{kind} file ({_why(exc)})") from None


def _why(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _check_npz(path: Path, limit: int) -> None:
    """Refuses an .npz whose members would decompress to more than ``limit`` bytes, or whose
    array headers claim more data than the member holds, before anything is decompressed.
    zipfile stops reading a member at its declared size, so the declared sizes bound memory."""
    with zipfile.ZipFile(path) as z:
        infos = z.infolist()
        total = sum(i.file_size for i in infos)
        if total > limit:
            raise InvalidArgumentError(
                f"{path}: decompresses to {total} bytes, over the --max-npz-bytes limit of {limit} "
                f"(compressed {path.stat().st_size} bytes; store large logits as .npy or .safetensors, "
                "which are memory-mapped)"
            )
        for info in infos:
            with z.open(info) as member:
                try:
                    version = np.lib.format.read_magic(member)
                    read = (
                        np.lib.format.read_array_header_1_0
                        if version == (1, 0)
                        else np.lib.format.read_array_header_2_0
                    )
                    shape, _, dtype = read(member)
                except ValueError as exc:
                    raise InvalidArgumentError(
                        f"{path}: member {info.filename!r} is not a .npy array ({exc})"
                    ) from None
                need = int(np.prod(shape, dtype=object)) * dtype.itemsize
                if need > info.file_size:
                    raise InvalidArgumentError(
                        f"{path}: member {info.filename!r} declares shape {shape} ({need} bytes) but holds "
                        f"{info.file_size} bytes"
                    )


def _pick(arrays: dict[str, np.ndarray], key: str | None, path: Path) -> np.ndarray:
    if key is not None:
        if key not in arrays:
            raise InvalidArgumentError(f"--key: no array {key!r} in {path} (has: {', '.join(sorted(arrays))})")
        return arrays[key]
    if "logits" in arrays:
        return arrays["logits"]
    floats = [k for k, a in arrays.items() if a.dtype.kind == "f" or a.dtype.name == "bfloat16"]
    if len(floats) != 1:
        raise InvalidArgumentError(f"--key: {path} holds {sorted(arrays)}; name the logits array with --key")
    return arrays[floats[0]]


def _optional(arrays: dict[str, np.ndarray], key: str | None, default: str, path: Path, opt: str) -> Any:
    if key is None:
        return arrays.get(default)
    if key not in arrays:
        raise InvalidArgumentError(f"{opt}: no array {key!r} in {path} (has: {', '.join(sorted(arrays))})")
    return arrays[key]


def _native(block: np.ndarray) -> np.ndarray:
    """A block in native byte order (a big-endian file is converted block by block)."""
    block = np.asarray(block)
    return block.astype(block.dtype.newbyteorder("=")) if block.dtype.byteorder == ">" else block


def _check_dtype(arr: np.ndarray, what: str, kinds: str, path: Path) -> None:
    if arr.dtype.kind not in kinds and arr.dtype.name != "bfloat16":
        want = "floating point (float16/32/64, bfloat16)" if "f" in kinds else "integer"
        raise InvalidArgumentError(f"{path}: {what} have dtype {arr.dtype}, expected {want}")


def _rows(path: Path, opts: dict[str, Any], progress: Any, has_chosen: list[bool]) -> Iterator[dict[str, Any]]:
    from credo.signals import sequence_signals, token_signals

    arrays = _load(path, opts["max_npz_bytes"])
    logits = _pick(arrays, opts["key"], path)
    chosen = _optional(arrays, opts["chosen_key"], "chosen", path, "--chosen-key")
    lengths = _optional(arrays, opts["lengths_key"], "lengths", path, "--lengths-key")
    _check_dtype(logits, "logits", "f", path)
    if chosen is not None:
        _check_dtype(chosen, "chosen token ids", "iu", path)
    if lengths is not None:
        _check_dtype(lengths, "lengths", "iu", path)
    has_chosen.append(chosen is not None)
    if logits.ndim == 2:
        logits = logits[None]
        chosen = None if chosen is None else np.asarray(chosen)[None]
        lengths = None if lengths is None else np.atleast_1d(np.asarray(lengths))
    if logits.ndim != 3:
        raise ShapeError(f"{path}: logits must be [T, V] or [B, T, V], got shape {logits.shape}")
    b, t, v = logits.shape
    if chosen is not None and np.shape(chosen) != (b, t):
        raise ShapeError(f"{path}: chosen ids have shape {np.shape(chosen)}, expected {(b, t)}")
    if lengths is not None and np.shape(lengths) != (b,):
        raise ShapeError(f"{path}: lengths have shape {np.shape(lengths)}, expected {(b,)}")
    step = max(1, _BLOCK_ELEMENTS // max(1, t * v))
    for start in range(0, b, step):
        stop = min(b, start + step)
        try:
            tok = token_signals(
                _native(logits[start:stop]),
                None if chosen is None else _native(chosen[start:stop]),
                temperature=opts["temperature"],
                threads=opts["threads"],
                invalid=opts["invalid"],
            )
            seq = sequence_signals(
                tok,
                lengths=None if lengths is None else _native(lengths[start:stop]),
                include_eos=opts["include_eos"],
            )
        except CredoError as exc:
            raise type(exc)(f"{path} (sequences {start}..{stop - 1}, indices from 0): {exc}") from None
        cols = seq.to_dict()
        for i in range(stop - start):
            row: dict[str, Any] = {"file": str(path), "sequence": start + i}
            for c in COLUMNS[2:]:
                val = cols[c][i]
                row[c] = int(val) if cols[c].dtype.kind == "i" else float(val)
            yield row
        progress.update(stop - start)


def _count_sequences(path: Path, key: str | None) -> int | None:
    """Sequences in a file without reading its data (None when unknown up front)."""
    try:
        suffix = path.suffix.lower()
        if suffix == ".npy":
            a = np.load(path, mmap_mode="r", allow_pickle=False)
        elif suffix == ".safetensors":
            arrays = _safetensors(path)
            a = _pick(arrays, key, path)
        else:
            return None
    except (*_READ_ERRORS, CredoError):
        return None
    return 1 if a.ndim == 2 else int(a.shape[0]) if a.ndim == 3 else None


def _write(rows: list[dict[str, Any]], columns: list[str], output: Path | None, fmt: str) -> None:
    if fmt == "json":
        payload = [{c: r[c] for c in columns} for r in rows]
        if output is None:
            echo_json(payload)
        else:
            with open(output, "w") as f:
                json.dump(payload, f, indent=1)
                f.write("\n")
        return
    if fmt == "parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise click.UsageError("--format: parquet output needs pyarrow: pip install 'credo[io]'") from None
        table = pa.Table.from_pydict({c: [r[c] for r in rows] for c in columns})
        pq.write_table(table, output)
        return
    if output is None:
        w = csv.DictWriter(sys.stdout, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
        return
    with open(output, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


@click.command("score", short_help="Score every sequence in logit files (.npy, .npz, .safetensors).")
# Not exists=True: a missing file is a data error (exit 1) like every other malformed input.
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output file (default: CSV on stdout).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "parquet", "json"]),
    default=None,
    help="Output format (default: from the output suffix, else csv).",
)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json (a JSON list of rows).")
@click.option("--key", default=None, help="Name of the logits array (default: 'logits', or the only float array).")
@click.option(
    "--chosen-key",
    default=None,
    help="Array of chosen token ids [T] or [B, T] (default: 'chosen' if present).",
)
@click.option("--lengths-key", default=None, help="Array of per-sequence lengths [B] (default: 'lengths' if present).")
@click.option(
    "--temperature",
    type=click.FloatRange(0, min_open=True),
    default=1.0,
    show_default=True,
    help="Divide the logits by this first.",
)
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Worker threads (default: all cores).")
@click.option(
    "--include-eos/--exclude-eos",
    default=True,
    show_default=True,
    help="Count each sequence's last position.",
)
@click.option(
    "--invalid",
    type=click.Choice(["raise", "nan"]),
    default="raise",
    show_default=True,
    help="Rows with NaN/+inf or no finite logit: fail, or score them NaN.",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar on stderr (default: when stderr is a terminal).",
)
@click.option(
    "--max-npz-bytes",
    type=click.IntRange(min=1),
    default=MAX_NPZ_BYTES,
    show_default=True,
    help="Refuse an .npz that decompresses to more than this many bytes (zip bombs).",
)
def command(
    files: tuple[Path, ...],
    output: Path | None,
    fmt: str | None,
    as_json: bool,
    key: str | None,
    chosen_key: str | None,
    lengths_key: str | None,
    temperature: float,
    threads: int | None,
    include_eos: bool,
    invalid: str,
    progress: bool | None,
    max_npz_bytes: int,
) -> None:
    """Score every sequence in logit FILES (.npy, .npz, .safetensors): one row per sequence
    with mean/max entropy, log-probabilities of the chosen tokens, perplexity, margins and
    repetition. Without chosen token ids (an array 'chosen', or --chosen-key) the columns that
    need them are left out, with a note on stderr. Sequence indices count from 0.

    \b
    Examples:
      credo score run1.npy run2.safetensors -o scores.csv
      credo score batch.npz --chosen-key ids --lengths-key lengths -o scores.parquet --threads 8
    """
    if as_json:
        if fmt not in (None, "json"):
            raise click.UsageError(f"--json: conflicts with --format {fmt}")
        fmt = "json"
    if fmt is None:
        suffix = "" if output is None else output.suffix.lower()
        fmt = {".parquet": "parquet", ".json": "json"}.get(suffix, "csv")
    if fmt == "parquet" and output is None:
        raise click.UsageError("--format: parquet output needs a file (-o OUTPUT.parquet)")
    opts = {
        "key": key,
        "chosen_key": chosen_key,
        "lengths_key": lengths_key,
        "temperature": temperature,
        "threads": threads,
        "include_eos": include_eos,
        "invalid": invalid,
        "max_npz_bytes": max_npz_bytes,
    }
    for f in files:
        check_file(f)
    counts = [_count_sequences(f, key) for f in files]
    total = None if any(c is None for c in counts) else sum(c or 0 for c in counts)
    rows: list[dict[str, Any]] = []
    has_chosen: list[bool] = []
    bar = progress_bar(total, "scoring", enabled=progress, unit="seq")
    try:
        for f in files:
            rows.extend(_rows(f, opts, bar, has_chosen))
    finally:
        bar.close()
    columns = COLUMNS
    if not all(has_chosen):
        columns = [c for c in COLUMNS if c not in NEED_CHOSEN]
        without = [str(f) for f, h in zip(files, has_chosen, strict=True) if not h]
        click.echo(
            f"credo: note: no chosen token ids in {', '.join(without)} (an array 'chosen', or --chosen-key): "
            f"left out {', '.join(NEED_CHOSEN)}",
            err=True,
        )
    _write(rows, columns, output, fmt)
    if output is not None:
        click.echo(f"scored {len(rows)} sequences from {len(files)} file(s) -> {output}", err=True)
