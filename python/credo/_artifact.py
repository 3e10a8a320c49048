"""Versioned JSON artefacts for fitted objects: ``obj.save(path)`` and ``credo.load(path)``.

The file is one JSON object::

    {"format": "credo-artifact", "schema_version": 1, "kind": "IsotonicCalibrator",
     "credo_version": "...", "created": "...", "params": {...}, "state": {...},
     "summary": {...}, "sha256": "..."}

``sha256`` covers the canonical JSON of everything else, so an edited, truncated or corrupted
file is refused. Loading never executes anything (no pickle): each kind's class rebuilds itself
from plain numbers and lists. Files are written to a temporary file beside the target, flushed,
fsynced and renamed over it, so a crash never leaves a half-written artefact and the previous
file survives a failed save.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import importlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from credo.exceptions import ArtifactError

FORMAT = "credo-artifact"
SCHEMA_VERSION = 1

_KINDS: dict[str, type] = {}
# The modules whose classes register kinds: `import credo` imports them lazily, so a kind not yet
# registered is looked up after importing them.
_KIND_MODULES = ("credo.calibration", "credo.conformal", "credo.confidence", "credo.monitor")


class Artifact(Protocol):
    def _artifact_state(self) -> dict[str, Any]: ...

    @classmethod
    def _from_artifact(cls, params: dict[str, Any], state: dict[str, Any]) -> Any: ...


T = TypeVar("T", bound=type)


def register(cls: T) -> T:
    """Class decorator: makes ``cls`` loadable by :func:`load` under its class name.

    The class provides ``get_params()`` (constructor keywords), ``_artifact_state()`` (fitted
    state as JSON-able values), optionally ``_artifact_summary()``, and the classmethod
    ``_from_artifact(params, state)``.
    """
    _KINDS[cls.__name__] = cls
    return cls


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (np.floating, float)):
        v = float(value)
        if np.isnan(v):
            return "nan"
        if np.isinf(v):
            return "inf" if v > 0 else "-inf"
        return v
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def data_hash(*arrays: Any) -> str:
    """A short SHA-256 of the arrays a model was fitted on (recorded in the fit summary)."""
    h = hashlib.sha256()
    for a in arrays:
        if a is None:
            continue
        arr = np.ascontiguousarray(a)
        h.update(str(arr.dtype).encode() + str(arr.shape).encode())
        h.update(arr.tobytes())
    return h.hexdigest()[:16]


def to_dict(obj: Any) -> dict[str, Any]:
    """The artefact body of a fitted object (what :func:`save` writes)."""
    from credo import __version__

    kind = type(obj).__name__
    if _KINDS.get(kind) is not type(obj):
        raise ArtifactError(f"{kind} objects cannot be saved as credo artefacts")
    summary = obj._artifact_summary() if hasattr(obj, "_artifact_summary") else {}
    body = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "kind": kind,
        "credo_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "params": _jsonable(obj.get_params()),
        "state": _jsonable(obj._artifact_state()),
        "summary": _jsonable(summary),
    }
    body["sha256"] = hashlib.sha256(_canonical(body)).hexdigest()
    return body


def write_json_atomic(path: str | os.PathLike[str], payload: dict[str, Any]) -> Path:
    """Writes ``payload`` as JSON to ``path`` atomically (temp file + fsync + rename)."""
    text = json.dumps(payload, indent=1, sort_keys=True, allow_nan=False) + "\n"
    return write_text_atomic(path, text)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Writes ``text`` (UTF-8) to ``path`` atomically: a temporary file beside it, flushed and
    fsynced, then renamed over it, so a crash or a failed write never leaves a partial file and
    the previous file survives (artefacts, HTML reports, monitor state)."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise ArtifactError(f"path: directory {str(directory)!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def save(obj: Any, path: str | os.PathLike[str]) -> Path:
    """Saves a fitted object as a versioned, checksummed JSON artefact."""
    return write_json_atomic(path, to_dict(obj))


def from_dict(body: Any, *, source: str = "artefact") -> Any:
    """Rebuilds an object from an artefact body, verifying format, version and checksum."""
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise ArtifactError(f"{source}: not a credo artefact")
    version = body.get("schema_version")
    if not isinstance(version, int):
        raise ArtifactError(f"{source}: missing schema_version")
    if version > SCHEMA_VERSION:
        raise ArtifactError(
            f"{source}: written by a newer credo (schema version {version}, this credo reads "
            f"up to {SCHEMA_VERSION}); upgrade credo to load it"
        )
    digest = body.get("sha256")
    unsigned = {k: v for k, v in body.items() if k != "sha256"}
    try:
        expected = hashlib.sha256(_canonical(unsigned)).hexdigest()
    except (TypeError, ValueError) as exc:
        raise ArtifactError(f"{source}: malformed content ({exc})") from None
    if digest != expected:
        raise ArtifactError(f"{source}: checksum mismatch (the file was modified or corrupted)")
    kind = body.get("kind")
    if isinstance(kind, str) and kind not in _KINDS:
        for module in _KIND_MODULES:
            importlib.import_module(module)
    cls = _KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ArtifactError(f"{source}: unknown artefact kind {kind!r}")
    params, state = body.get("params"), body.get("state")
    if not isinstance(params, dict) or not isinstance(state, dict):
        raise ArtifactError(f"{source}: params and state must be JSON objects")
    try:
        return cls._from_artifact(params, state)
    except ArtifactError:
        raise
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ArtifactError(f"{source}: inconsistent {kind} state ({exc})") from None


def load(path: str | os.PathLike[str]) -> Any:
    """Loads any credo artefact saved with ``save``; never executes code from the file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ArtifactError(f"path: no such file {str(p)!r}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"path: cannot read {str(p)!r} ({exc})") from None
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{p}: not valid JSON, the file is corrupt or truncated ({exc})") from None
    return from_dict(body, source=str(p))


def decode_float(value: Any) -> float:
    """Inverse of the JSON encoding of non-finite floats ("nan", "inf", "-inf")."""
    if isinstance(value, str):
        if value in ("nan", "inf", "-inf"):
            return float(value)
        raise ArtifactError(f"expected a number, got {value!r}")
    return float(value)


def decode_array(values: Any, dtype: Any = np.float64) -> np.ndarray:
    """A list from an artefact back to an array (non-finite floats decoded)."""
    if dtype == np.float64:
        return np.array(_decode_nested(values), dtype=np.float64)
    return np.asarray(values, dtype=dtype)


def _decode_nested(values: Any) -> Any:
    if isinstance(values, list):
        return [_decode_nested(v) for v in values]
    return decode_float(values)
