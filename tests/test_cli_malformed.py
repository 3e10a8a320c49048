"""Malformed inputs to the command line: every one exits with a one-line message naming the file
and a documented exit status (1: data or file, 2: usage), never a traceback or an internal error.

The matrix runs in-process through credo.cli.main (fast); a few cases whose point is the process
(an empty .npy once printed "Aborted.", a zip bomb's memory) run as real subprocesses.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("click")

from credo.cli import main

from .conftest import subprocess_env

GOOD_CSV = "confidence,correct\n0.9,1\n0.4,0\n0.7,1\n0.2,0\n"


def _write(path: Path, content: bytes | str) -> Path:
    if isinstance(content, str):
        path.write_text(content)
    else:
        path.write_bytes(content)
    return path


def _npy_bytes(arr: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def _safetensors(header: object, data: bytes = b"") -> bytes:
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


def _parquet(tmp: Path) -> bytes:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    p = tmp / "_good.parquet"
    pq.write_table(pa.table({"confidence": [0.9, 0.4, 0.7], "correct": [1, 0, 1]}), p)
    return p.read_bytes()


def _lying_npz(tmp: Path) -> bytes:
    """An .npz whose member's .npy header claims 10**10 float64 (80 GB) but holds 100 bytes."""
    header = _npy_bytes(np.zeros(1))[:10]  # magic + version + header length (patched below)
    text = "{'descr': '<f8', 'fortran_order': False, 'shape': (10000000000,), }"
    text = text + " " * (64 - (10 + len(text) + 1) % 64) + "\n"
    member = header[:8] + struct.pack("<H", len(text)) + text.encode() + b"\0" * 100
    p = tmp / "_lying.npz"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("logits.npy", member)
    return p.read_bytes()


def _declared_bomb(tmp: Path) -> bytes:
    """A small .npz whose central directory declares 2 GiB decompressed (the default limit is 1 GiB)."""
    p = tmp / "_bomb.npz"
    np.savez_compressed(p, logits=np.zeros((4, 8), np.float32))
    raw = bytearray(p.read_bytes())
    at = raw.index(b"PK\x01\x02")  # central directory entry: uncompressed size at offset 24
    raw[at + 24 : at + 28] = struct.pack("<I", 2**31)
    return bytes(raw)


# (name, file name, content factory (tmp -> bytes|str), extra arguments, exit code, message part)
TABLE_CASES = [
    ("empty csv", "d.csv", lambda t: "", [], 1, "the file is empty"),
    ("header only", "d.csv", lambda t: "confidence,correct\n", [], 1, "no rows"),
    ("binary garbage csv", "d.csv", lambda t: bytes(range(256)) * 8, [], 1, "d.csv"),
    ("NUL bytes", "d.csv", lambda t: "confidence,correct\n0.5\x00,1\n", [], 1, "d.csv"),
    ("not UTF-8", "d.csv", lambda t: b"confidence,correct\n0.5,1\n\xff\xfe,0\n", [], 1, "d.csv"),
    ("ragged row", "d.csv", lambda t: "confidence,correct\n0.5,1\n0.6,1,7\n", [], 1, "row 2 (line 3) has 3 fields"),
    ("truncated row", "d.csv", lambda t: GOOD_CSV + "0.3", [], 1, "row 5 (line 6) has 1 fields"),
    ("open quote", "d.csv", lambda t: 'confidence,correct\n"0.5,1\n0.6,0\n', [], 1, "d.csv"),
    ("duplicate column", "d.csv", lambda t: "confidence,confidence,correct\n0.5,0.5,1\n", [], 1, "d.csv"),
    ("text score", "d.csv", lambda t: GOOD_CSV + "high,1\n", [], 1, "column 'confidence', row 5: 'high'"),
    ("empty score", "d.csv", lambda t: GOOD_CSV + ",1\n", [], 1, "column 'confidence', row 5"),
    ("nan score", "d.csv", lambda t: GOOD_CSV + "nan,1\n", [], 1, "column 'confidence', row 5"),
    ("inf score", "d.csv", lambda t: GOOD_CSV + "inf,1\n", [], 1, "column 'confidence', row 5: inf"),
    ("score above 1", "d.csv", lambda t: GOOD_CSV + "1.5,1\n", [], 1, "row 5: 1.5 is not a probability"),
    ("label 2", "d.csv", lambda t: GOOD_CSV + "0.5,2\n", [], 1, "column 'correct', row 5: label 2"),
    ("label text", "d.csv", lambda t: GOOD_CSV + "0.5,maybe\n", [], 1, "column 'correct', row 5: 'maybe'"),
    ("missing column", "d.csv", lambda t: GOOD_CSV, ["--score-col", "conf"], 1, "missing column(s) 'conf'"),
    ("unknown type", "d.xlsx", lambda t: GOOD_CSV, [], 1, "unknown file type '.xlsx'"),
    ("empty tsv", "d.tsv", lambda t: "", [], 1, "the file is empty"),
    ("jsonl truncated", "d.jsonl", lambda t: '{"confidence": 0.5, "correct": 1}\n{"confid', [], 1, "row 2 (line 2)"),
    ("jsonl not object", "d.jsonl", lambda t: "[0.5, 1]\n", [], 1, "row 1 (line 1) is not a JSON object"),
    ("jsonl nested", "d.jsonl", lambda t: '{"confidence": [0.5], "correct": 1}\n', [], 1, "column 'confidence', row 1"),
    ("jsonl deep", "d.jsonl", lambda t: "[" * 100_000 + "]" * 100_000 + "\n", [], 1, "d.jsonl"),
    ("jsonl garbage", "d.jsonl", lambda t: bytes(range(256)) * 4, [], 1, "d.jsonl"),
    ("parquet garbage", "d.parquet", lambda t: b"PAR1" + b"\x00" * 64, [], 1, "not a readable Parquet file"),
    ("parquet truncated", "d.parquet", lambda t: _parquet(t)[:-40], [], 1, "not a readable Parquet file"),
]


@pytest.mark.parametrize(
    ("name", "fname", "make", "extra", "code", "message"), TABLE_CASES, ids=[c[0] for c in TABLE_CASES]
)
@pytest.mark.parametrize("fast", [False, True], ids=["python-reader", "fast-reader"])
def test_malformed_tables(tmp_path, capsys, monkeypatch, fast, name, fname, make, extra, code, message):
    """Each case through the pure-Python reader and through the fast path (pyarrow or pandas when
    installed), which hands any file it refuses to the pure-Python reader."""
    from credo.cli import _io

    monkeypatch.setattr(_io, "FAST_MIN_BYTES", 0 if fast else 1 << 62)
    path = _write(tmp_path / fname, make(tmp_path))
    argv = ["eval", str(path), "--label-col", "correct", "--n-resamples", "0"]
    argv += extra or ["--score-col", "confidence"]
    assert main(argv) == code, name
    err = capsys.readouterr().err
    _assert_clean(err, message, path)


def _assert_clean(err: str, message: str, path: Path | None = None) -> None:
    assert "Traceback" not in err and "internal error" not in err, err
    assert message in err, err
    if path is not None:
        assert str(path) in err, err
    lines = [ln for ln in err.splitlines() if ln.startswith("credo: error:")]
    assert len(lines) == 1, err


def test_true_false_labels_are_accepted(tmp_path, capsys):
    """Labels as pandas writes booleans; the same numbers as with 1/0."""
    a = _write(tmp_path / "a.csv", GOOD_CSV.replace(",1\n", ",True\n").replace(",0\n", ",False\n"))
    b = _write(tmp_path / "b.csv", GOOD_CSV)
    results = []
    for p in (a, b):
        assert (
            main(
                ["eval", str(p), "--score-col", "confidence", "--label-col", "correct", "--n-resamples", "0", "--json"]
            )
            == 0
        )
        results.append(json.loads(capsys.readouterr().out)["segments"])
    assert results[0] == results[1]


@pytest.mark.parametrize("kind", ["directory", "fifo", "missing"])
@pytest.mark.parametrize("command", ["eval", "score", "report-calibrator"])
def test_not_a_regular_file(tmp_path, capsys, kind, command):
    suffix = ".npy" if command == "score" else ".csv" if command == "eval" else ".json"
    path = tmp_path / f"x{suffix}"
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)  # reading it would block forever: must be refused before opening
    want = {"directory": "is a directory", "fifo": "not a regular file", "missing": "no such file"}[kind]
    if command == "report-calibrator":
        data = _write(tmp_path / "d.csv", GOOD_CSV)
        argv = ["report", str(data), "--score-col", "confidence", "--label-col", "correct"]
        argv += ["--calibrator", f"iso={path}", "-o", str(tmp_path / "r.html")]
    elif command == "eval":
        argv = ["eval", str(path), "--score-col", "confidence", "--label-col", "correct"]
    else:
        argv = ["score", str(path)]
    assert main(argv) == 1
    _assert_clean(capsys.readouterr().err, want, path)


def _logits(t: Path) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((2, 5, 16)).astype(np.float32)


# (name, file name, content factory, extra arguments, exit code, message part)
SCORE_CASES = [
    ("empty npy", "x.npy", lambda t: b"", [], 1, "the file is empty"),
    ("garbage npy", "x.npy", lambda t: bytes(range(256)) * 4, [], 1, "not a valid .npy file"),
    ("truncated npy header", "x.npy", lambda t: _npy_bytes(_logits(t))[:30], [], 1, "not a valid .npy file"),
    ("truncated npy data", "x.npy", lambda t: _npy_bytes(_logits(t))[:-100], [], 1, "not a valid .npy file"),
    ("int logits", "x.npy", lambda t: _npy_bytes(np.ones((2, 3, 4), np.int64)), [], 1, "dtype int64"),
    ("complex logits", "x.npy", lambda t: _npy_bytes(np.ones((2, 3, 4), np.complex64)), [], 1, "dtype complex64"),
    ("bool logits", "x.npy", lambda t: _npy_bytes(np.ones((2, 3, 4), bool)), [], 1, "dtype bool"),
    ("pickled npy", "x.npy", lambda t: _npy_bytes(np.array([{"a": 1}], dtype=object)), [], 1, "not a valid .npy"),
    ("1-D logits", "x.npy", lambda t: _npy_bytes(np.ones(7, np.float32)), [], 1, "[T, V] or [B, T, V]"),
    ("0-d logits", "x.npy", lambda t: _npy_bytes(np.float32(1.0)), [], 1, "[T, V] or [B, T, V]"),
    ("nan logits", "x.npy", lambda t: _npy_bytes(np.full((1, 2, 3), np.nan, np.float32)), [], 1, "NaN"),
    ("empty vocab", "x.npy", lambda t: _npy_bytes(np.ones((1, 2, 0), np.float32)), [], 1, "x.npy"),
    ("garbage npz", "x.npz", lambda t: bytes(range(256)) * 4, [], 1, "not a valid .npz file"),
    ("truncated npz", "x.npz", lambda t: _npz_bytes(t)[:-30], [], 1, "not a valid .npz file"),
    ("empty zip", "x.npz", lambda t: _empty_zip(t), [], 1, "--key"),
    ("lying npz header", "x.npz", lambda t: _lying_npz(t), [], 1, "declares shape (10000000000,)"),
    ("declared zip bomb", "x.npz", lambda t: _declared_bomb(t), [], 1, "over the --max-npz-bytes limit"),
    ("non-npy member", "x.npz", lambda t: _zip_with(t, "logits.npy", b"hello"), [], 1, "is not a .npy array"),
    ("float chosen", "x.npz", lambda t: _npz_bytes(t, chosen=np.ones((2, 5))), [], 1, "chosen token ids have dtype"),
    ("chosen out of range", "x.npz", lambda t: _npz_bytes(t, chosen=np.full((2, 5), 99)), [], 1, "x.npz"),
    (
        "chosen wrong shape",
        "x.npz",
        lambda t: _npz_bytes(t, chosen=np.ones((2, 4), int)),
        [],
        1,
        "chosen ids have shape",
    ),
    ("st truncated", "x.safetensors", lambda t: b"\x05\x00", [], 1, "truncated header"),
    ("st header too long", "x.safetensors", lambda t: struct.pack("<Q", 2**62) + b"{}", [], 1, "header length"),
    ("st header list", "x.safetensors", lambda t: _safetensors([1, 2]), [], 1, "not a JSON object"),
    ("st entry not object", "x.safetensors", lambda t: _safetensors({"logits": 3}), [], 1, "tensor 'logits'"),
    (
        "st offsets outside",
        "x.safetensors",
        lambda t: _safetensors({"logits": {"dtype": "F32", "shape": [1, 2, 2], "data_offsets": [0, 16]}}, b"\0" * 8),
        [],
        1,
        "data_offsets outside the file",
    ),
    (
        "st negative shape",
        "x.safetensors",
        lambda t: _safetensors({"logits": {"dtype": "F32", "shape": [-1, 2], "data_offsets": [0, 8]}}, b"\0" * 8),
        [],
        1,
        "shape must be a list of non-negative integers",
    ),
    (
        "st size mismatch",
        "x.safetensors",
        lambda t: _safetensors({"logits": {"dtype": "F32", "shape": [1, 2, 4], "data_offsets": [0, 8]}}, b"\0" * 8),
        [],
        1,
        "inconsistent offsets",
    ),
    ("unsupported type", "x.pt", lambda t: b"\x80\x02", [], 1, "unsupported file type '.pt'"),
    ("bad --threads", "x.npy", lambda t: _npy_bytes(_logits(t)), ["--threads", "0"], 2, "--threads"),
    ("bad --format", "x.npy", lambda t: _npy_bytes(_logits(t)), ["--format", "xml"], 2, "--format"),
    ("json and parquet", "x.npy", lambda t: _npy_bytes(_logits(t)), ["--json", "--format", "parquet"], 2, "--json"),
]


def _npz_bytes(t: Path, **extra: np.ndarray) -> bytes:
    p = t / "_x.npz"
    np.savez(p, logits=_logits(t), **extra)
    return p.read_bytes()


def _empty_zip(t: Path) -> bytes:
    p = t / "_empty.npz"
    with zipfile.ZipFile(p, "w"):
        pass
    return p.read_bytes()


def _zip_with(t: Path, name: str, data: bytes) -> bytes:
    p = t / "_z.npz"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr(name, data)
    return p.read_bytes()


@pytest.mark.parametrize(
    ("name", "fname", "make", "extra", "code", "message"), SCORE_CASES, ids=[c[0] for c in SCORE_CASES]
)
def test_malformed_logit_files(tmp_path, capsys, name, fname, make, extra, code, message):
    path = _write(tmp_path / fname, make(tmp_path))
    assert main(["score", str(path), *extra]) == code, name
    err = capsys.readouterr().err
    if code == 2:  # click's usage message: "Error: ..." after the usage line
        assert "Traceback" not in err and message in err and "Usage:" in err, err
    else:
        _assert_clean(err, message, path)


def test_big_endian_logits_score_like_native(tmp_path, capsys):
    x = _logits(tmp_path)
    np.save(tmp_path / "le.npy", x)
    np.save(tmp_path / "be.npy", x.astype(">f4"))
    outs = []
    for f in ("le.npy", "be.npy"):
        assert main(["score", str(tmp_path / f), "--json"]) == 0
        outs.append([{k: v for k, v in r.items() if k != "file"} for r in json.loads(capsys.readouterr().out)])
    assert outs[0] == outs[1]


# (name, file content, exit code, message part) for `credo report --calibrator NAME=PATH`
ARTIFACT_CASES = [
    ("truncated", lambda good: good[: len(good) // 2], 1, "corrupt or truncated"),
    ("garbage", lambda good: "\x00\x01not json", 1, "not valid JSON"),
    ("not an artefact", lambda good: json.dumps({"a": 1}), 1, "not a credo artefact"),
    ("tampered", lambda good: good.replace('"n"', '"m"', 1), 1, "checksum"),
]


@pytest.mark.parametrize(("name", "make", "code", "message"), ARTIFACT_CASES, ids=[c[0] for c in ARTIFACT_CASES])
def test_malformed_calibrator_files(tmp_path, capsys, name, make, code, message):
    data = _write(tmp_path / "d.csv", GOOD_CSV + GOOD_CSV.split("\n", 1)[1] * 20)
    good = tmp_path / "good.json"
    assert main(["fit", str(data), "--score-col", "confidence", "--label-col", "correct", "-o", str(good)]) == 0
    bad = _write(tmp_path / "bad.json", make(good.read_text()))
    capsys.readouterr()
    argv = ["report", str(data), "--score-col", "confidence", "--label-col", "correct"]
    assert main([*argv, "--calibrator", f"c={bad}", "-o", str(tmp_path / "r.html")]) == code
    _assert_clean(capsys.readouterr().err, message, None)


def test_processes_end_with_a_message_not_an_abort(tmp_path):
    """Real processes: an empty .npy (once "Aborted."), a FIFO (once a hang), and a real zip bomb
    (256 MB of zeros in ~250 KB) refused under a stated limit without inflating it."""
    (tmp_path / "empty.npy").write_bytes(b"")
    os.mkfifo(tmp_path / "pipe.csv")
    bomb = tmp_path / "bomb.npz"
    with (
        zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as z,
        z.open("logits.npy", "w", force_zip64=True) as m,
    ):
        m.write(_npy_bytes(np.zeros((0,), np.float32))[:0])
        header = _npy_bytes(np.zeros(1, np.float32))
        shape_header = header.replace(b"(1,)", b"(64, 1024, 1024)")
        m.write(shape_header[: len(header) - 4])
        chunk = b"\0" * (1 << 22)
        for _ in range(64):
            m.write(chunk)
    assert bomb.stat().st_size < 2_000_000
    script = (
        "import json, resource, subprocess, sys\n"
        "cases = json.loads(sys.argv[1])\n"
        "out = []\n"
        "for argv in cases:\n"
        "    p = subprocess.run([sys.executable, '-m', 'credo', *argv], capture_output=True, text=True, timeout=60)\n"
        "    out.append([p.returncode, p.stderr])\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(json.dumps({'runs': out, 'peak_kb': peak}))\n"
    )
    cases = [
        ["score", str(tmp_path / "empty.npy")],
        ["eval", str(tmp_path / "pipe.csv")],
        ["score", str(bomb), "--max-npz-bytes", "100000000"],
    ]
    res = subprocess.run(
        [sys.executable, "-c", script, json.dumps(cases)],
        capture_output=True,
        text=True,
        check=True,
        env=subprocess_env(),
        timeout=240,
    )
    got = json.loads(res.stdout)
    (c1, e1), (c2, e2), (c3, e3) = got["runs"]
    assert c1 == 1 and "the file is empty" in e1 and "Aborted" not in e1, e1
    assert c2 == 1 and "not a regular file" in e2, e2
    assert c3 == 1 and "over the --max-npz-bytes limit of 100000000" in e3, e3
    for err in (e1, e2, e3):
        assert "Traceback" not in err
    assert got["peak_kb"] < 250_000  # the 256 MB member was never inflated
