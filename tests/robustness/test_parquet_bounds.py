"""Parquet input is bounded like an .npz: a small file whose pages decode to far more than it
holds (run-length-encoded or dictionary-encoded values, compression) is refused from its footer
before anything is decoded, decoded row groups are counted as they arrive, and a long string
repeated on every row is held once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import credo
from credo.cli import _io

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def _zeros(path: Path, rows: int, groups: int = 1) -> Path:
    chunk = pa.table({"confidence": pa.array(np.zeros(rows // groups)), "correct": pa.array(np.ones(rows // groups))})
    with pq.ParquetWriter(path, chunk.schema, compression="zstd") as w:
        for _ in range(groups):
            w.write_table(chunk)
    return path


def test_a_decompression_bomb_is_refused_from_its_footer(tmp_path, monkeypatch):
    path = _zeros(tmp_path / "bomb.parquet", 1_000_000)
    assert path.stat().st_size < 100_000  # 16 MB of float64 in a few kilobytes
    monkeypatch.setattr(_io, "MAX_PARQUET_BYTES", 4_000_000)
    decoded = []
    monkeypatch.setattr(pq.ParquetFile, "read_row_group", lambda *a, **k: decoded.append(1))
    with pytest.raises(credo.CredoError, match=r"bomb\.parquet: decodes to at least 16000000 bytes .* over the limit"):
        _io.read_table(path)
    assert not decoded  # refused before any page was decoded


def test_the_cli_refuses_it_with_exit_status_1(tmp_path, monkeypatch, capsys):
    pytest.importorskip("click")
    from credo.cli import main

    path = _zeros(tmp_path / "bomb.parquet", 1_000_000)
    monkeypatch.setattr(_io, "MAX_PARQUET_BYTES", 4_000_000)
    code = main(["eval", str(path), "--score-col", "confidence", "--label-col", "correct", "--n-resamples", "0"])
    assert code == 1
    assert "over the limit" in capsys.readouterr().err


def test_a_footer_that_understates_is_caught_row_group_by_row_group(tmp_path, monkeypatch):
    path = _zeros(tmp_path / "liar.parquet", 400_000, groups=4)  # 1.6 MB per row group
    monkeypatch.setattr(_io, "MAX_PARQUET_BYTES", 4_000_000)
    monkeypatch.setattr(_io, "_declared_bytes", lambda meta: 0)  # as if the footer said nothing
    with pytest.raises(credo.CredoError, match=r"liar\.parquet: row group 2 decodes past the limit"):
        _io.read_table(path)


def test_within_the_limit_the_columns_are_read(tmp_path):
    path = _zeros(tmp_path / "ok.parquet", 10_000, groups=3)  # 3 row groups of 3333
    out = _io.read_table(path)
    assert len(out["confidence"]) == 9999 and out["correct"].sum() == 9999


def test_a_repeated_long_string_is_held_once(tmp_path):
    long = "x" * 200_000
    values = [long] * 100 + [None, "short"]
    path = tmp_path / "strings.parquet"
    pq.write_table(
        pa.table({"segment": pa.array(values), "confidence": pa.array(np.linspace(0, 1, 102))}),
        path,
        compression="zstd",
    )
    assert path.stat().st_size < 10_000  # 20 MB of text in a few kilobytes
    out = _io.read_table(path)
    seg = out["segment"]
    assert seg.dtype == object and seg.tolist() == values
    assert all(s is seg[0] for s in seg[:100])  # one str object, not one copy per row
