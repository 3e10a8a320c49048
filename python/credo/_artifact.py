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
import math
import os
import re
import stat
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar, cast

import numpy as np

from credo.exceptions import ArtifactError as ArtifactError  # re-exported for the kinds' modules
from credo.exceptions import NotFittedError

FORMAT = "credo-artifact"
SCHEMA_VERSION = 1
#: Largest artefact ``load`` reads by default (parsing JSON takes several times the file's size).
MAX_BYTES = 64 << 20
#: Deepest nesting of JSON arrays and objects ``load`` accepts (credo's own artefacts nest < 12).
MAX_DEPTH = 64

_KINDS: dict[str, type[Artifact]] = {}
# The modules whose classes register kinds: `import credo` imports them lazily, so a kind not yet
# registered is looked up after importing them.
_KIND_MODULES = ("credo.calibration", "credo.conformal", "credo.confidence", "credo.monitor")


class Artifact(Protocol):
    """What :func:`register` asks of an artefact kind."""

    _ARTIFACT_SCHEMA: ClassVar[Schema]

    def get_params(self) -> dict[str, Any]: ...

    def _artifact_state(self) -> dict[str, Any]: ...

    @classmethod
    def _from_artifact(cls, params: dict[str, Any], state: dict[str, Any]) -> Any: ...


T = TypeVar("T", bound=type)


def register(cls: T) -> T:
    """Class decorator: makes ``cls`` loadable by :func:`load` under its class name.

    The class provides ``get_params()`` (constructor keywords), ``_artifact_state()`` (fitted
    state as JSON-able values), optionally ``_artifact_summary()``, the classmethod
    ``_from_artifact(params, state)``, and ``_ARTIFACT_SCHEMA``, a :class:`Schema` of every
    parameter and state field (checked on load, before ``_from_artifact`` sees the values).
    """
    if not isinstance(getattr(cls, "_ARTIFACT_SCHEMA", None), Schema):
        raise TypeError(f"{cls.__name__}: an artefact kind needs an _ARTIFACT_SCHEMA")
    _KINDS[cls.__name__] = cast("type[Artifact]", cls)
    return cls


# ----------------------------------------------------------------------------------- field specs
#
# A checksum proves that a file is what was written, not that what was written (or re-signed by
# hand) makes sense. Each kind declares, next to its save and load code, the type and range of
# every field; ``from_dict`` checks them all and names the first wrong one by its JSON path
# (``state.quantile[2]``). Non-finite floats are stored as the strings "nan", "inf", "-inf".

Check = Callable[[Any, str], None]


def _fail(path: str, what: str, value: Any) -> ArtifactError:
    shown = repr(value)
    return ArtifactError(f"{path}: expected {what}, got {shown[:60] + '…' if len(shown) > 60 else shown}")


def real(*, lo: float = -math.inf, hi: float = math.inf, inf: bool = False, nan: bool = False) -> Check:
    """A number in [lo, hi]; ``inf``: ±inf allowed (if within the bounds); ``nan``: NaN allowed."""

    what = ("a number" if inf else "a finite number") + (
        f" in [{lo:g}, {hi:g}]" if math.isfinite(lo) or math.isfinite(hi) else ""
    )

    def check(v: Any, path: str) -> None:
        if isinstance(v, str) and v in ("nan", "inf", "-inf"):
            x = float(v)
            if (math.isnan(x) and nan) or (math.isinf(x) and inf and lo <= x <= hi):
                return
            raise _fail(path, what, v)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:  # NaN fails too
            raise _fail(path, what, v)

    return check


def integer(*, lo: int = 0, hi: int = 2**63 - 1) -> Check:
    def check(v: Any, path: str) -> None:
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise _fail(path, f"an integer in [{lo}, {hi}]", v)

    return check


def boolean(v: Any, path: str) -> None:
    if not isinstance(v, bool):
        raise _fail(path, "true or false", v)


def text(*choices: str, max_len: int = 10_000) -> Check:
    """A string (one of ``choices`` when given)."""

    def check(v: Any, path: str) -> None:
        if not isinstance(v, str) or len(v) > max_len:
            raise _fail(path, "a string", v)
        if choices and v not in choices:
            raise _fail(path, f"one of {', '.join(map(repr, choices))}", v)

    return check


def one_of(*values: Any) -> Check:
    """Exactly one of ``values`` (compared by type and value: True is not 1)."""

    def check(v: Any, path: str) -> None:
        if not any(type(v) is type(x) and v == x for x in values):
            raise _fail(path, f"one of {', '.join(map(repr, values))}", v)

    return check


def nullable(inner: Check) -> Check:
    def check(v: Any, path: str) -> None:
        if v is not None:
            inner(v, path)

    return check


def list_of(item: Check, *, min_len: int = 0, max_len: int = 100_000_000) -> Check:
    def check(v: Any, path: str) -> None:
        if not isinstance(v, list) or not min_len <= len(v) <= max_len:
            raise _fail(path, f"a list of {min_len} to {max_len} items", v)
        for i, x in enumerate(v):
            item(x, f"{path}[{i}]")

    return check


def numbers(*, min_len: int = 0, increasing: bool = False, **bounds: Any) -> Check:
    """A list of numbers (each checked as ``real(**bounds)``), optionally non-decreasing."""
    each = real(**bounds)

    def check(v: Any, path: str) -> None:
        list_of(each, min_len=min_len)(v, path)
        if increasing:
            x = np.array([float(t) for t in v])
            if np.any(x[1:] < x[:-1]):
                raise _fail(path, "non-decreasing numbers", v)

    return check


def pair(first: Check, second: Check) -> Check:
    def check(v: Any, path: str) -> None:
        if not isinstance(v, list) or len(v) != 2:
            raise _fail(path, "a pair [a, b]", v)
        first(v[0], f"{path}[0]")
        second(v[1], f"{path}[1]")

    return check


def mapping(value: Check, *, key: Check | None = None) -> Check:
    """A JSON object with any keys (strings; ``key`` checks them) and values checked by ``value``."""

    def check(v: Any, path: str) -> None:
        if not isinstance(v, dict):
            raise _fail(path, "an object", v)
        for k, x in v.items():
            if key is not None:
                key(k, f"{path} key")
            value(x, f"{path}.{k}")

    return check


def record(fields: Mapping[str, Check], *, optional: tuple[str, ...] = ()) -> Check:
    """A JSON object with exactly these keys (those in ``optional`` may be absent)."""

    def check(v: Any, path: str) -> None:
        if not isinstance(v, dict):
            raise _fail(path, "an object", v)
        unknown = sorted(set(v) - set(fields))
        if unknown:
            raise ArtifactError(f"{path}: unexpected field {unknown[0]!r}")
        for name, spec in fields.items():
            if name not in v:
                if name in optional:
                    continue
                raise ArtifactError(f"{path}.{name}: missing")
            spec(v[name], f"{path}.{name}")

    return check


def any_json(v: Any, path: str) -> None:
    """Any JSON value (checked by the code that reads it)."""


def hex_digest(v: Any, path: str) -> None:
    if not isinstance(v, str) or not re.fullmatch(r"[0-9a-f]{1,128}", v):
        raise _fail(path, "a hexadecimal digest", v)


class Schema:
    """Every parameter and state field of one artefact kind, and optionally a check across
    fields (``consistent(params, state)`` raising ArtifactError). Parameters may be absent (the
    constructor's default applies: artefacts of an older credo lack newer parameters); state
    fields may not, unless listed in ``optional``."""

    def __init__(
        self,
        *,
        params: Mapping[str, Check],
        state: Mapping[str, Check],
        optional: tuple[str, ...] = (),
        consistent: Callable[[dict[str, Any], dict[str, Any]], None] | None = None,
    ) -> None:
        self.params = record(params, optional=tuple(params))
        self.state = record(state, optional=optional)
        self.consistent = consistent

    def check(self, params: Any, state: Any, path: str = "") -> None:
        self.params(params, f"{path}params")
        self.state(state, f"{path}state")
        if self.consistent is not None:
            self.consistent(params, state)


def nested_state(allowed: Callable[[], Mapping[str, type[Artifact]]]) -> Check:
    """A calibrator stored inside another artefact as {"kind", "params", "state"}: its kind among
    ``allowed()`` (name -> class), its fields checked by that kind's schema."""

    def check(v: Any, path: str) -> None:
        if not isinstance(v, dict) or set(v) != {"kind", "params", "state"}:
            raise _fail(path, 'an object with "kind", "params" and "state"', v)
        kinds = {cls.__name__: cls for cls in allowed().values()}
        cls = kinds.get(v["kind"]) if isinstance(v["kind"], str) else None
        if cls is None:
            raise _fail(f"{path}.kind", f"one of {', '.join(sorted(kinds))}", v["kind"])
        cls._ARTIFACT_SCHEMA.check(v["params"], v["state"], f"{path}.")

    return check


def nested_artefact(v: Any, path: str) -> None:
    """A whole artefact nested in another (checked, checksum included, by ``from_dict``)."""
    if not isinstance(v, dict):
        raise _fail(path, "an artefact object", v)


def any_scalar(v: Any, path: str) -> None:
    """A string, a number or a boolean (a segment label)."""
    if not isinstance(v, (str, int, float, bool)):
        raise _fail(path, "a label (string or number)", v)


def per_segment(inner: Check) -> Check:
    """One value, or (fitted per segment) a list of them."""

    def check(v: Any, path: str) -> None:
        if isinstance(v, list):
            list_of(inner)(v, path)
        else:
            inner(v, path)

    return check


def same_length(state: Mapping[str, Any], *names: str, **offsets: int) -> None:
    """Raises unless the lists ``names`` (and ``offsets`` name: extra length) match in length."""
    for n in (*names, *offsets):
        if not isinstance(state[n], list):
            raise ArtifactError(f"state.{n}: expected a list, got {state[n]!r}")
    lengths = {n: len(state[n]) for n in names} | {n: len(state[n]) - k for n, k in offsets.items()}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{n} {len(state[n])}" for n in lengths)
        raise ArtifactError(f"state: lengths do not match ({detail})")


def all_scalar(state: Mapping[str, Any], *names: str) -> None:
    for n in names:
        if isinstance(state[n], list):
            raise ArtifactError(f"state.{n}: a list without segments")


#: The fit fingerprint every calibrator records.
FIT_RECORD = {"n_samples": integer(lo=1), "data_hash": hex_digest}


def to_jsonable(value: Any) -> Any:
    """``value`` as plain JSON data: credo's one convention for every JSON it writes (artefacts,
    the CLI's ``--json`` output). NumPy scalars and arrays become numbers and lists, paths
    strings, and non-finite floats the strings ``"nan"``, ``"inf"`` and ``"-inf"`` (JSON has no
    such numbers, and ``null`` would lose which one it was); :func:`decode_float` reads them back.
    """
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, (np.floating, float)):
        v = float(value)
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return v
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "__fspath__"):
        return str(value)
    return value


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def data_hash(*arrays: Any) -> str:
    """The fingerprint (16 hex digits) of the arrays a model was fitted on, for its fit summary.

    One algorithm for every object: the 64-bit fingerprint of each array's bytes, then of their
    hex digests joined (``credo_core::calibrate::fingerprint`` and ``combine_fingerprints``, in
    Rust; the isotonic fit returns the same value from its own input scan). Not cryptographic:
    it tells whether two fits saw the same data. ``None`` entries are skipped. Float arrays are
    fingerprinted as the float64 values they hold (float32 widened in Rust, without a copy), so
    the same numbers give the same fingerprint whatever width they came in.
    """
    from credo import _credo

    parts = []
    for a in arrays:
        if a is None:
            continue
        arr = np.ascontiguousarray(a)
        if arr.dtype in (np.float32, np.float16):
            parts.append(_credo.fingerprint_f32(np.ascontiguousarray(arr, dtype=np.float32).reshape(-1)))
            continue
        if arr.dtype.kind == "f" and arr.dtype != np.float64:  # big-endian, longdouble
            arr = np.ascontiguousarray(arr, dtype=np.float64)
        if arr.dtype == object:  # no fixed-width bytes: hash the values' text instead
            raw = np.frombuffer(repr(arr.tolist()).encode(), dtype=np.uint8)
        else:
            raw = arr.reshape(-1).view(np.uint8)
        parts.append(_credo.fingerprint(raw))
    return str(_credo.fingerprint(np.frombuffer("".join(parts).encode(), dtype=np.uint8)))


def to_dict(obj: Any) -> dict[str, Any]:
    """The artefact body of a fitted object (what :func:`save` writes)."""
    from credo import __version__

    kind = type(obj).__name__
    if _KINDS.get(kind) is not type(obj):
        raise ArtifactError(f"{kind} objects cannot be saved as credo artefacts")
    saved: Artifact = obj
    try:
        state = saved._artifact_state()
        summary = obj._artifact_summary() if hasattr(obj, "_artifact_summary") else {}
    except NotFittedError:
        raise
    except AttributeError:  # a fitted attribute is missing: the object was never fitted
        raise NotFittedError(f"{kind} is not fitted yet: call fit(...) before save()") from None
    body = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "kind": kind,
        "credo_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "params": to_jsonable(saved.get_params()),
        "state": to_jsonable(state),
        "summary": to_jsonable(summary),
    }
    body["sha256"] = hashlib.sha256(_canonical(body)).hexdigest()
    return body


def write_json_atomic(path: str | os.PathLike[str], payload: dict[str, Any]) -> Path:
    """Writes ``payload`` as JSON to ``path`` atomically (temp file + fsync + rename)."""
    text = json.dumps(payload, indent=1, sort_keys=True, allow_nan=False) + "\n"
    return write_text_atomic(path, text)


_TMP_MARK = ".credo-tmp-"
_TMP_NAME = re.compile(r"^\..*\.credo-tmp-(\d+)-[^.]*\.tmp$")


def _umask() -> int:
    """The process umask, read without changing it (os.umask would, for every thread)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _remove_stale_temps(directory: Path) -> None:
    """Removes the temporary files of saves whose process died (kill -9 mid-save) in
    ``directory``: they are recognisable by name and carry the writer's process id."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        m = _TMP_NAME.match(name)
        if m and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1))):
            try:
                (directory / name).unlink()
            except OSError:
                pass


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Writes ``text`` (UTF-8) to ``path`` atomically: a temporary file beside it, flushed and
    fsynced, then renamed over it, so a crash or a failed write never leaves a partial file and
    the previous file survives (artefacts, HTML reports, monitor state).

    An existing file keeps its permission bits; a new one gets the usual mode (0666 less the
    umask). A symbolic link is written through: its target is replaced, the link stays.
    Temporary files are named ``.<name>.credo-tmp-<pid>-<random>.tmp``; those of processes that
    died mid-save are removed by the next save to the same folder. OS errors raise
    :class:`~credo.ArtifactError` naming the path."""
    if not isinstance(path, (str, os.PathLike)):
        raise ArtifactError(f"path: expected a file path, got {type(path).__name__}")
    shown = os.fsdecode(path) if isinstance(path, (str, os.PathLike)) else repr(path)
    try:
        link = Path(path)
        target = Path(os.path.realpath(link)) if link.is_symlink() else link
        directory = target.parent if str(target.parent) else Path(".")
        if not directory.is_dir():
            raise ArtifactError(f"path: directory {str(directory)!r} does not exist")
        try:
            mode = stat.S_IMODE(os.stat(target).st_mode)
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
        _remove_stale_temps(directory)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}{_TMP_MARK}{os.getpid()}-", suffix=".tmp", dir=directory)
    except ArtifactError:
        raise
    except (OSError, ValueError) as exc:  # ValueError: an embedded NUL byte
        raise ArtifactError(f"path: cannot write {shown!r} ({getattr(exc, 'strerror', None) or exc})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            os.fchmod(fh.fileno(), mode)
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise ArtifactError(f"path: cannot write {shown!r} ({exc.strerror or exc})") from None
        if isinstance(exc, UnicodeEncodeError):
            raise ArtifactError(f"path: cannot write {shown!r}: the content is not valid UTF-8 text") from None
        raise
    return link


def save(obj: Any, path: str | os.PathLike[str]) -> Path:
    """Saves a fitted object as a versioned, checksummed JSON artefact."""
    return write_json_atomic(path, to_dict(obj))


def from_dict(body: Any, *, source: str = "artefact") -> Any:
    """Rebuilds an object from an artefact body, verifying format, version, checksum and then
    the type and range of every field (the kind's ``_ARTIFACT_SCHEMA``)."""
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise ArtifactError(f"{source}: not a credo artefact")
    version = body.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ArtifactError(f"{source}: schema_version must be a positive integer, got {version!r}")
    if version > SCHEMA_VERSION:
        raise ArtifactError(
            f"{source}: written by a newer credo (schema version {version}, this credo reads "
            f"up to {SCHEMA_VERSION}); upgrade credo to load it"
        )
    digest = body.get("sha256")
    unsigned = {k: v for k, v in body.items() if k != "sha256"}
    try:
        expected = hashlib.sha256(_canonical(unsigned)).hexdigest()
    except (TypeError, ValueError, RecursionError) as exc:
        raise ArtifactError(f"{source}: malformed content ({type(exc).__name__})") from None
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
        cls._ARTIFACT_SCHEMA.check(params, state)
    except ArtifactError as exc:
        raise ArtifactError(f"{source}: {kind} {exc}") from None
    try:
        return cls._from_artifact(params, state)
    except ArtifactError as exc:
        raise ArtifactError(f"{source}: {kind} {exc}") from None
    except (KeyError, TypeError, ValueError, IndexError, OverflowError) as exc:
        raise ArtifactError(f"{source}: inconsistent {kind} state ({exc})") from None


def _nesting_depth(value: Any) -> int:
    """The deepest nesting of lists and dicts in a parsed JSON value (iteratively)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, (list, dict)):
            deepest = max(deepest, depth)
            if depth <= MAX_DEPTH:
                stack.extend((x, depth + 1) for x in (v.values() if isinstance(v, dict) else v))
    return deepest


def load(path: str | os.PathLike[str], *, max_bytes: int = MAX_BYTES) -> Any:
    """Loads any credo artefact saved with ``save``; never executes code from the file.

    Only a regular file is opened (a FIFO, a device or a directory is refused before opening);
    a file over ``max_bytes`` (64 MiB by default) or nested deeper than :data:`MAX_DEPTH` is
    refused; every field is checked for type and range before the object is rebuilt."""
    if not isinstance(path, (str, os.PathLike)):
        raise ArtifactError(f"path: expected a file path, got {type(path).__name__}")
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
        raise ArtifactError(f"max_bytes: must be a positive integer, got {max_bytes!r}")
    shown = os.fsdecode(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ArtifactError(f"path: no such file {shown!r}") from None
    except (OSError, ValueError) as exc:  # ValueError: an embedded NUL byte
        raise ArtifactError(f"path: cannot read {shown!r} ({getattr(exc, 'strerror', None) or exc})") from None
    if not stat.S_ISREG(st.st_mode):
        raise ArtifactError(f"path: {shown!r} is not a regular file")
    if st.st_size > max_bytes:
        raise ArtifactError(f"path: {shown!r} has {st.st_size} bytes, more than max_bytes = {max_bytes}")
    try:
        # O_NONBLOCK: should the path have been swapped for a FIFO since the stat, opening it
        # does not wait for a writer; the fstat below then refuses it.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise ArtifactError(f"path: {shown!r} is not a regular file")
            data = fh.read(max_bytes + 1)
    except ArtifactError:
        raise
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"path: cannot read {shown!r} ({getattr(exc, 'strerror', None) or exc})") from None
    if len(data) > max_bytes:
        raise ArtifactError(f"path: {shown!r} has more than max_bytes = {max_bytes} bytes")
    deep = f"{shown}: JSON nested deeper than {MAX_DEPTH} levels; not a credo artefact"
    try:
        body = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ArtifactError(f"{shown}: not UTF-8 text, the file is corrupt ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{shown}: not valid JSON, the file is corrupt or truncated ({exc})") from None
    except RecursionError:  # the JSON parser's own guard, far above MAX_DEPTH
        raise ArtifactError(deep) from None
    if _nesting_depth(body) > MAX_DEPTH:
        raise ArtifactError(deep)
    return from_dict(body, source=shown)


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
