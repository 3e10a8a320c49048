"""`credo score`: .npy / .npz / .safetensors in, one CSV or Parquet row per sequence out."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("click")  # the command line's extra (credo[cli])

import credo
from credo.cli import main

from .conftest import data_path


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path) as f:
        return list(csv.DictReader(f))


def write_safetensors(path: Path, tensors: dict[str, np.ndarray]) -> None:
    """A minimal independent safetensors writer (header JSON + raw little-endian data)."""
    names = {np.float32: "F32", np.float16: "F16", np.int64: "I64"}
    if any(arr.dtype.name == "bfloat16" for arr in tensors.values()):
        names[pytest.importorskip("ml_dtypes").bfloat16] = "BF16"
    header, blobs, offset = {}, [], 0
    for name, arr in tensors.items():
        data = np.ascontiguousarray(arr).tobytes()
        dt = next(v for k, v in names.items() if arr.dtype == np.dtype(k))
        header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header).encode()
    path.write_bytes(len(h).to_bytes(8, "little") + h + b"".join(blobs))


@pytest.fixture
def batch(rng: np.random.Generator):  # type: ignore[no-untyped-def]
    logits = rng.standard_normal((3, 6, 40)).astype(np.float32)
    chosen = rng.integers(0, 40, (3, 6))
    lengths = np.array([6, 2, 4])
    return logits, chosen, lengths


def expected(logits, chosen=None, lengths=None):  # type: ignore[no-untyped-def]
    tok = credo.token_signals(logits, chosen)
    return credo.sequence_signals(tok, lengths=lengths)


def test_npy_to_csv(tmp_path: Path, batch) -> None:  # type: ignore[no-untyped-def]
    logits, _, _ = batch
    np.save(tmp_path / "a.npy", logits)
    np.save(tmp_path / "b.npy", logits[0])  # a single [T, V] sequence
    out = tmp_path / "scores.csv"
    assert main(["score", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"), "-o", str(out), "--threads", "2"]) == 0
    rows = read_csv(out)
    assert len(rows) == 4 and [r["sequence"] for r in rows] == ["0", "1", "2", "0"]
    want = expected(logits)
    # Independent check of one value: mean entropy of sequence 1 in float64 numpy.
    x = logits[1].astype(np.float64)
    p = np.exp(x - x.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(float(rows[1]["mean_entropy"]), (-(p * np.log(p)).sum(1)).mean(), atol=1e-6)
    np.testing.assert_allclose([float(r["mean_entropy"]) for r in rows[:3]], want.mean_entropy, rtol=1e-12)
    assert rows[3]["mean_entropy"] == rows[0]["mean_entropy"]
    assert "sum_logprob" not in rows[0] and "longest_repeat_run" not in rows[0]  # no chosen ids: left out


def test_npz_with_chosen_and_lengths_to_parquet(tmp_path: Path, batch) -> None:  # type: ignore[no-untyped-def]
    pq = pytest.importorskip("pyarrow.parquet")
    logits, chosen, lengths = batch
    np.savez(tmp_path / "run.npz", scores=logits, ids=chosen, n=lengths)
    out = tmp_path / "s.parquet"
    args = [
        "score",
        str(tmp_path / "run.npz"),
        "--key",
        "scores",
        "--chosen-key",
        "ids",
        "--lengths-key",
        "n",
    ]
    assert main([*args, "-o", str(out)]) == 0
    table = pq.read_table(out).to_pydict()
    want = expected(logits, chosen, lengths)
    np.testing.assert_array_equal(table["n_tokens"], lengths)
    np.testing.assert_allclose(table["sum_logprob"], want.sum_logprob, rtol=1e-12)
    np.testing.assert_allclose(table["longest_repeat_run"], want.longest_repeat_run)


def test_safetensors_bf16_f16_and_default_keys(tmp_path: Path, batch) -> None:  # type: ignore[no-untyped-def]
    ml_dtypes = pytest.importorskip("ml_dtypes")
    logits, chosen, lengths = batch
    for dt in (ml_dtypes.bfloat16, np.float16):
        f = tmp_path / f"x_{np.dtype(dt).name}.safetensors"
        write_safetensors(f, {"logits": logits.astype(dt), "chosen": chosen, "lengths": lengths})
        out = tmp_path / f"{np.dtype(dt).name}.csv"
        assert main(["score", str(f), "-o", str(out), "--format", "csv"]) == 0
        want = expected(logits.astype(dt), chosen, lengths)
        np.testing.assert_allclose([float(r["mean_logprob"]) for r in read_csv(out)], want.mean_logprob, rtol=1e-12)


def test_safetensors_written_by_the_library(tmp_path: Path, batch) -> None:  # type: ignore[no-untyped-def]
    st = pytest.importorskip("safetensors.numpy")
    logits, _, _ = batch
    st.save_file({"logits": logits}, str(tmp_path / "lib.safetensors"))
    out = tmp_path / "o.csv"
    assert main(["score", str(tmp_path / "lib.safetensors"), "-o", str(out), "--exclude-eos"]) == 0
    want = credo.sequence_signals(credo.token_signals(logits), include_eos=False)
    np.testing.assert_allclose([float(r["mean_entropy"]) for r in read_csv(out)], want.mean_entropy, rtol=1e-12)


def test_stdout_csv_and_progress_bar(tmp_path: Path, batch, capsys) -> None:  # type: ignore[no-untyped-def]
    np.save(tmp_path / "a.npy", batch[0])
    assert main(["score", str(tmp_path / "a.npy"), "--progress"]) == 0
    cap = capsys.readouterr()
    assert cap.out.splitlines()[0].startswith("file,sequence,n_tokens")
    assert len(cap.out.splitlines()) == 4
    assert "scoring" in cap.err and "/3" in cap.err


def test_real_option_logits(tmp_path: Path) -> None:
    f = data_path("llm-option-logits", "Mistral-7B-v0.1_mmlu_10k_base_icl1.npz")
    out = tmp_path / "o.csv"
    assert main(["score", str(f), "-o", str(out)]) == 0
    (row,) = read_csv(out)
    x = np.load(f)["logits"].astype(np.float64)
    p = np.exp(x - x.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    assert int(row["n_tokens"]) == 10000
    np.testing.assert_allclose(float(row["mean_entropy"]), (-(p * np.log(p)).sum(1)).mean(), atol=1e-6)


@pytest.mark.parametrize(
    ("setup", "extra", "code", "message"),
    [
        ("nan", [], 1, "batch 1, position 2 contains NaN"),
        ("txt", [], 1, "unsupported file type '.txt'"),
        ("npy", ["--key", "nope"], 1, "--key: no array 'nope'"),
        ("npz2", [], 1, "--key:"),
        ("npy", ["--format", "parquet"], 2, "parquet output needs a file"),
        ("npy", ["--threads", "0"], 2, ""),
        ("npy", ["--temperature", "-1"], 2, "--temperature"),
        ("npy", ["--temperature", "0"], 2, "--temperature"),
        ("rank4", [], 1, "logits must be [T, V] or [B, T, V]"),
        ("badlen", [], 1, "lengths have shape"),
        ("badst", [], 1, "not a safetensors file"),
    ],
)
def test_errors(tmp_path: Path, batch, capsys, setup, extra, code, message) -> None:  # type: ignore[no-untyped-def]
    logits = batch[0].copy()
    if setup == "nan":
        logits[1, 2, 5] = np.nan
        f = tmp_path / "x.npy"
        np.save(f, logits)
    elif setup == "txt":
        f = tmp_path / "x.txt"
        f.write_text("1 2 3")
    elif setup == "npz2":
        f = tmp_path / "x.npz"
        np.savez(f, a=logits, b=logits)
    elif setup == "rank4":
        f = tmp_path / "x.npy"
        np.save(f, logits[None])
    elif setup == "badlen":
        f = tmp_path / "x.npz"
        np.savez(f, logits=logits, lengths=np.array([1, 2]))
    elif setup == "badst":
        f = tmp_path / "x.safetensors"
        f.write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00{oops")
    else:
        f = tmp_path / "x.npy"
        np.save(f, logits)
    assert main(["score", str(f), *extra]) == code
    assert message in capsys.readouterr().err


def test_missing_file_is_a_data_error(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """A missing file exits 1 like a missing CSV (data/IO errors 1, usage errors 2)."""
    assert main(["score", str(tmp_path / "missing.npy")]) == 1
    assert f"{tmp_path / 'missing.npy'}: no such file" in capsys.readouterr().err
