"""`credo gate`: a paired-bootstrap calibration gate for CI.

End to end in a subprocess on real LLM output (LLaMA-13B on 16 MMLU subjects, probabilities over
A-D averaged over 10 prompts): a planted regression (the same model's probabilities sharpened by
temperature 0.5, i.e. over-confident) must fail the gate; resampling noise alone (disjoint,
per-subject halves of the same model's outputs) must pass it. The statistics are checked in-process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from credo import gate, metrics

from .conftest import data_path, subprocess_env

pytest.importorskip("click")

SCORE_ARGS = [
    "--score-col",
    "p0",
    "--score-col",
    "p1",
    "--score-col",
    "p2",
    "--score-col",
    "p3",
    "--label-col",
    "label",
]


def _write(path: Path, probs: np.ndarray, labels: np.ndarray, subjects: np.ndarray, ids: np.ndarray) -> Path:
    with open(path, "w") as f:
        f.write("id,p0,p1,p2,p3,label,subject\n")
        for i, p, y, s in zip(ids, probs, labels, subjects, strict=True):
            f.write(f"{i}," + ",".join(f"{v:.9f}" for v in p) + f",{y},{s}\n")
    return path


@pytest.fixture(scope="module")
def mmlu_outputs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    z = np.load(data_path("mmlu-llama13b", "mmlu_llama13b_option_probs.npz"))
    probs, labels, subjects = [], [], []
    for key in sorted(z.files):
        if key.endswith("_scores"):
            subject = key[: -len("_scores")]
            p = z[key].mean(axis=0)
            probs.append(p)
            labels.append(z[f"{subject}_targets"])
            subjects += [subject] * len(p)
    return np.concatenate(probs), np.concatenate(labels), np.array(subjects)


def _gate(tmp: Path, baseline: Path, candidate: Path, *extra: str) -> tuple[int, dict, ET.Element, str]:
    junit, md = tmp / "gate.xml", tmp / "gate.md"
    argv = ["--baseline", str(baseline), "--candidate", str(candidate), *SCORE_ARGS, "--segment-col", "subject"]
    argv += ["--junit", str(junit), "--markdown", str(md), "--json", *extra]
    res = subprocess.run(
        [sys.executable, "-m", "credo", "gate", *argv],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=600,
    )
    assert "Traceback" not in res.stderr, res.stderr
    return res.returncode, json.loads(res.stdout), ET.parse(junit).getroot(), md.read_text()


def test_gate_catches_a_planted_miscalibration(tmp_path, mmlu_outputs):
    probs, labels, subjects = mmlu_outputs
    logp = np.log(np.clip(probs, 1e-12, 1)) / 0.5  # temperature 0.5: same argmax, over-confident
    sharp = np.exp(logp - logp.max(1, keepdims=True))
    sharp /= sharp.sum(1, keepdims=True)
    ids = np.arange(len(labels))
    base = _write(tmp_path / "base.csv", probs, labels, subjects, ids)
    order = np.random.default_rng(0).permutation(len(labels))  # rows shuffled: paired by --id-col
    cand = _write(tmp_path / "cand.csv", sharp[order], labels[order], subjects[order], ids[order])
    code, result, junit, md = _gate(tmp_path, base, cand, "--id-col", "id")
    assert code == 3
    assert result["failed"]
    overall = {c["metric"]: c for c in result["comparisons"] if c["segment"] == "(all)"}
    assert overall["ece"]["regression"] and overall["ece"]["p_adjusted"] <= 0.05
    # The reported ECEs are credo's own metric on each file's top-label confidences.
    conf, correct = probs.max(1), (probs.argmax(1) == labels)
    assert overall["ece"]["baseline"] == pytest.approx(metrics.ece(correct, np.round(conf, 9), n_bins=15), abs=1e-8)
    assert overall["ece"]["candidate"] > overall["ece"]["baseline"] + 0.03
    # JUnit: one test case per comparison, a failure for each regression, the test stated.
    suite = junit.find("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == len(result["comparisons"]) == int(suite.get("tests"))
    failed = [c for c in cases if c.find("failure") is not None]
    assert len(failed) == int(suite.get("failures")) == sum(c["regression"] for c in result["comparisons"]) >= 1
    assert any(c.get("classname") == "credo.gate.(all)" and c.get("name") == "ece" for c in failed)
    test = suite.find("properties/property").get("value")
    assert "paired bootstrap" in test and "Holm" in test and "alpha = 0.05" in test
    assert "❌ failed" in md and "**REGRESSION**" in md and "Holm" in md


@pytest.mark.parametrize("split_seed", [0, 1])
def test_gate_passes_resampling_noise(tmp_path, mmlu_outputs, split_seed):
    """Disjoint halves of the same model's outputs, split within each subject (so paired rows share
    a subject): only sampling noise differs, and the gate must pass."""
    probs, labels, subjects = mmlu_outputs
    rng = np.random.default_rng(split_seed)
    a, b = [], []
    for s in np.unique(subjects):
        idx = rng.permutation(np.flatnonzero(subjects == s))
        m = len(idx) // 2
        a.append(idx[:m])
        b.append(idx[m : 2 * m])
    a, b = np.concatenate(a), np.concatenate(b)
    ids = np.arange(len(a))
    base = _write(tmp_path / "a.csv", probs[a], labels[a], subjects[a], ids)
    cand = _write(tmp_path / "b.csv", probs[b], labels[b], subjects[b], ids)
    code, result, junit, md = _gate(tmp_path, base, cand, "--min-segment", "60")
    assert code == 0, [c for c in result["comparisons"] if c["regression"]]
    assert not result["failed"] and len({c["segment"] for c in result["comparisons"]}) > 1
    assert junit.find("testsuite").get("failures") == "0"
    assert "✅ passed" in md


def test_identical_outputs_never_regress_and_pairing_is_exact(rng):
    n = 600
    conf = rng.random(n)
    y = (rng.random(n) < conf).astype(float)
    res = gate.compare(y, conf, y, conf, n_resamples=200)
    assert not res.failed
    assert all(c.worse_by == 0 and c.ci_low == 0 and c.ci_high == 0 and c.p_value == 1 for c in res.comparisons)
    # The Python-evaluated path (selective risk) draws the same index sets as the native one.
    native = metrics.bootstrap(metrics.auroc, y, conf, n_resamples=50, seed=3).distribution
    python = metrics.bootstrap(lambda t, s: metrics.auroc(t, s), y, conf, n_resamples=50, seed=3).distribution
    np.testing.assert_allclose(python, native, rtol=0, atol=1e-12)


def test_holm_matches_its_definition():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1 -> max(0.06, 0.04)=0.06
    np.testing.assert_allclose(gate.holm(p), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(gate.holm([0.5, 0.9]), [1.0, 1.0])


def test_resamples_are_raised_so_a_regression_can_be_detected(rng):
    n = 400
    conf = rng.random(n)
    y = (rng.random(n) < conf).astype(float)
    res = gate.compare(y, conf, y, np.clip(conf * 0.3, 0, 1), n_resamples=100, alpha=0.05)
    assert res.n_resamples >= 4 * len(res.comparisons) / 0.05
    assert res.failed  # a gross miscalibration is significant even after Holm


def test_gate_usage_and_data_errors(tmp_path, capsys):
    from credo.cli import main

    a = tmp_path / "a.csv"
    b = tmp_path / "b.csv"
    a.write_text("score,label,seg\n" + "".join(f"0.{i % 9 + 1},{i % 2},{'x' if i < 5 else 'y'}\n" for i in range(10)))
    b.write_text("score,label,seg\n" + "".join(f"0.{i % 9 + 1},{i % 2},x\n" for i in range(9)))
    assert main(["gate", "--baseline", str(a), "--candidate", str(b)]) == 1
    assert "9 rows" in capsys.readouterr().err
    b.write_text("score,label,seg\n" + "".join(f"0.{i % 9 + 1},{i % 2},x\n" for i in range(10)))
    assert main(["gate", "--baseline", str(a), "--candidate", str(b), "--segment-col", "seg"]) == 1
    err = capsys.readouterr().err
    assert "column 'seg', row 6" in err and "same examples" in err
    assert main(["gate", "--baseline", str(a), "--candidate", str(b), "--tolerance", "ece"]) == 2
    assert "--tolerance" in capsys.readouterr().err
    assert main(["gate", "--baseline", str(a), "--candidate", str(tmp_path / "none.csv")]) == 1
    assert "no such file" in capsys.readouterr().err
