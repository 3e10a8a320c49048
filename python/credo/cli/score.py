"""``credo score FILE...``: sequence signals for every sequence in logit files.

Reads ``.npy``, ``.npz`` and ``.safetensors`` files holding logits ``[T, V]`` (one sequence) or
``[B, T, V]`` (B sequences), float16/bfloat16/float32/float64; ``.npy`` and ``.safetensors``
are memory-mapped, so files larger than memory stream through in blocks. Optional arrays in the
same file give the chosen token ids (``[T]``/``[B, T]``) and per-sequence lengths. Writes one
row per sequence as CSV (default, to stdout without ``-o``) or Parquet (needs pyarrow).
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import numpy as np

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

_ST_DTYPES = {
    "F16": "float16",
    "BF16": "bfloat16",
    "F32": "float32",
    "F64": "float64",
    "I64": "int64",
    "I32": "int32",
}


def _safetensors(path: Path) -> dict[str, np.ndarray]:
    """Memory-mapped tensors of a .safetensors file (8-byte header length, JSON header, data)."""
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) != 8:
            raise InvalidArgumentError(f"{path}: not a safetensors file (truncated header)")
        n = int.from_bytes(head, "little")
        try:
            header = json.loads(f.read(n))
        except (ValueError, UnicodeDecodeError):
            raise InvalidArgumentError(f"{path}: not a safetensors file (bad JSON header)") from None
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt = _ST_DTYPES.get(info.get("dtype"))
        if dt is None:
            continue
        begin, end = info["data_offsets"]
        shape = tuple(info["shape"])
        np_dt = np.uint16 if dt == "bfloat16" else np.dtype(dt)
        arr = np.memmap(path, dtype=np_dt, mode="r", offset=8 + n + begin, shape=shape)
        if end - begin != arr.nbytes:
            raise InvalidArgumentError(f"{path}: tensor {name!r} has inconsistent offsets")
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


def _load(path: Path) -> dict[str, np.ndarray]:
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return {"logits": np.load(path, mmap_mode="r", allow_pickle=False)}
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    if suffix == ".safetensors":
        return _safetensors(path)
    raise InvalidArgumentError(
        f"{path}: unsupported file type {suffix!r} (expected .npy, .npz or .safetensors)"
    )


def _pick(arrays: dict[str, np.ndarray], key: str | None, path: Path) -> np.ndarray:
    if key is not None:
        if key not in arrays:
            raise InvalidArgumentError(
                f"--key: no array {key!r} in {path} (has: {', '.join(sorted(arrays))})"
            )
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


def _rows(path: Path, opts: dict[str, Any], progress: Any) -> Iterator[dict[str, Any]]:
    from credo.signals import sequence_signals, token_signals

    arrays = _load(path)
    logits = _pick(arrays, opts["key"], path)
    chosen = _optional(arrays, opts["chosen_key"], "chosen", path, "--chosen-key")
    lengths = _optional(arrays, opts["lengths_key"], "lengths", path, "--lengths-key")
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
                logits[start:stop],
                None if chosen is None else np.asarray(chosen[start:stop]),
                temperature=opts["temperature"],
                threads=opts["threads"],
                invalid=opts["invalid"],
            )
            seq = sequence_signals(
                tok,
                lengths=None if lengths is None else np.asarray(lengths[start:stop]),
                include_eos=opts["include_eos"],
            )
        except CredoError as exc:
            raise type(exc)(f"{path} (sequences {start}..{stop - 1}): {exc}") from None
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
    except (OSError, ValueError, CredoError):
        return None
    return 1 if a.ndim == 2 else int(a.shape[0]) if a.ndim == 3 else None


def _write(rows: list[dict[str, Any]], output: Path | None, fmt: str) -> None:
    if fmt == "parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise InvalidArgumentError(
                "--format: parquet output needs pyarrow: pip install 'credo[io]'"
            ) from None
        if output is None:
            raise InvalidArgumentError("--format: parquet output needs a file (-o OUTPUT.parquet)")
        table = pa.Table.from_pydict({c: [r[c] for r in rows] for c in COLUMNS})
        pq.write_table(table, output)
        return
    if output is None:
        w = csv.DictWriter(sys.stdout, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        return
    with open(output, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)


@click.command(name="score")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output file (default: CSV on stdout).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "parquet"]),
    default=None,
    help="Output format (default: from the output suffix, else csv).",
)
@click.option(
    "--key", default=None, help="Name of the logits array (default: 'logits', or the only float array)."
)
@click.option(
    "--chosen-key",
    default=None,
    help="Array of chosen token ids [T] or [B, T] (default: 'chosen' if present).",
)
@click.option(
    "--lengths-key", default=None, help="Array of per-sequence lengths [B] (default: 'lengths' if present)."
)
@click.option(
    "--temperature", type=float, default=1.0, show_default=True, help="Divide the logits by this first."
)
@click.option(
    "--threads", type=click.IntRange(min=1), default=None, help="Worker threads (default: all cores)."
)
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
def command(
    files: tuple[Path, ...],
    output: Path | None,
    fmt: str | None,
    key: str | None,
    chosen_key: str | None,
    lengths_key: str | None,
    temperature: float,
    threads: int | None,
    include_eos: bool,
    invalid: str,
    progress: bool | None,
) -> None:
    """Score every sequence in logit FILES (.npy, .npz, .safetensors): one row per sequence
    with mean/max entropy, log-probabilities of the chosen tokens, perplexity, margins and
    repetition.

    \b
    Examples:
      credo score run1.npy run2.safetensors -o scores.csv
      credo score batch.npz --chosen-key ids --lengths-key lengths -o scores.parquet --threads 8
    """
    from tqdm import tqdm

    if fmt is None:
        fmt = "parquet" if output is not None and output.suffix.lower() == ".parquet" else "csv"
    if fmt == "parquet" and output is None:
        raise InvalidArgumentError("--format: parquet output needs a file (-o OUTPUT.parquet)")
    opts = {
        "key": key,
        "chosen_key": chosen_key,
        "lengths_key": lengths_key,
        "temperature": temperature,
        "threads": threads,
        "include_eos": include_eos,
        "invalid": invalid,
    }
    counts = [_count_sequences(f, key) for f in files]
    total = None if any(c is None for c in counts) else sum(c or 0 for c in counts)
    show = sys.stderr.isatty() if progress is None else progress
    rows: list[dict[str, Any]] = []
    with tqdm(total=total, unit="seq", disable=not show, file=sys.stderr, desc="scoring") as bar:
        for f in files:
            rows.extend(_rows(f, opts, bar))
    _write(rows, output, fmt)
    if output is not None:
        click.echo(f"scored {len(rows)} sequences from {len(files)} file(s) -> {output}", err=True)
