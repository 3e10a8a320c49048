"""The command line: every subcommand's success path and its error paths, via credo.cli.main."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

pytest.importorskip("click")

from credo.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def write_csv(path, rows, header):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture
def scored(tmp_path, rng):
    """A table of over-confident confidences with outcomes drawn from the true (lower) accuracy."""
    n = 3000
    conf = np.clip(rng.beta(8, 2, size=n), 1e-6, 1 - 1e-6)
    correct = (rng.random(n) < conf**2).astype(int)
    domain = np.where(rng.random(n) < 0.5, "math", "chat")
    rows = [[f"{c:.6f}", k, d] for c, k, d in zip(conf, correct, domain, strict=True)]
    return write_csv(tmp_path / "scored.csv", rows, ["confidence", "correct", "domain"]), conf, correct, domain


def test_help_lists_every_command(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for name in ["demo", "fit", "eval", "report", "bench"]:
        assert name in out


def test_unknown_command_is_a_usage_error(capsys):
    code, _stdout, err = run(capsys, "frobnicate")
    assert code == 2
    assert "No such command" in err


def test_fit_isotonic_matches_the_library(tmp_path, capsys, scored):
    from credo.calibration import IsotonicCalibrator

    path, conf, correct, _ = scored
    out = tmp_path / "iso.json"
    code, stdout, _ = run(
        capsys,
        "fit",
        str(path),
        "--score-col",
        "confidence",
        "--label-col",
        "correct",
        "--kind",
        "isotonic",
        "-o",
        str(out),
        "--json",
    )
    assert code == 0, stdout
    summary = json.loads(stdout)
    assert summary["n"] == len(conf)
    import credo

    loaded = credo.load(out)
    direct = IsotonicCalibrator(out_of_bounds="clip").fit(np.round(conf, 6), correct)
    np.testing.assert_allclose(loaded.predict(np.round(conf, 6)), direct.predict(np.round(conf, 6)), rtol=0, atol=1e-12)


def test_fit_threshold_and_segments(tmp_path, capsys, scored):
    path, *_ = scored
    out = tmp_path / "thr.json"
    code, stdout, _ = run(
        capsys,
        "fit",
        str(path),
        "--score-col",
        "confidence",
        "--label-col",
        "correct",
        "--kind",
        "threshold",
        "--target-risk",
        "0.2",
        "--delta",
        "0.1",
        "-o",
        str(out),
        "--json",
    )
    assert code == 0, stdout
    assert 0.0 <= json.loads(stdout)["threshold"] <= 1.0
    out2 = tmp_path / "seg.json"
    code, stdout, _ = run(
        capsys,
        "fit",
        str(path),
        "--score-col",
        "confidence",
        "--label-col",
        "correct",
        "--segment-col",
        "domain",
        "--kind",
        "platt",
        "-o",
        str(out2),
        "--json",
    )
    assert code == 0, stdout
    assert sorted(json.loads(stdout)["segments_with_own_fit"]) == ["chat", "math"]


def test_eval_matches_the_metrics_module(capsys, scored):
    from credo import metrics

    path, conf, correct, domain = scored
    code, stdout, _ = run(
        capsys,
        "eval",
        str(path),
        "--score-col",
        "confidence",
        "--label-col",
        "correct",
        "--segment-col",
        "domain",
        "--n-resamples",
        "200",
        "--json",
    )
    assert code == 0, stdout
    result = json.loads(stdout)
    rows = {r["segment"]: r for r in result["segments"]}
    c = np.round(conf, 6)
    assert rows["(all)"]["count"] == len(c)
    # independent float64 reference: 15 equal-width bins
    b = np.minimum((c * 15).astype(int), 14)
    ref = sum(abs(correct[b == i].mean() - c[b == i].mean()) * (b == i).mean() for i in range(15) if (b == i).any())
    assert rows["(all)"]["ece"] == pytest.approx(ref, abs=1e-12)
    m = domain == "math"
    assert rows["math"]["auroc"] == pytest.approx(metrics.auroc(correct[m], c[m]), abs=1e-12)
    lo, hi = rows["(all)"]["ece_ci"]
    assert lo <= rows["(all)"]["ece"] <= hi


def test_eval_table_output(capsys, scored):
    path, *_ = scored
    code, stdout, _ = run(
        capsys, "eval", str(path), "--score-col", "confidence", "--label-col", "correct", "--n-resamples", "0"
    )
    assert code == 0
    assert "ECE" in stdout and "AUROC" in stdout


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (None, [], "no such file"),
        ("confidence,correct\n0.5,1\n", ["--score-col", "conf"], "missing column"),
        ("confidence,correct\n0.5,1\nabc,0\n", [], "row 2"),
        ("confidence,correct\n0.5,1\n1.5,0\n", [], "[0, 1]"),
        ("confidence,correct\n0.5,1\n0.7,3\n", [], "column 'correct', row 2: label 3"),
        ("confidence,correct\n0.5,1,9\n", [], "fields"),
    ],
)
def test_eval_bad_input_is_a_clear_error(tmp_path, capsys, content, args, message):
    path = tmp_path / "data.csv"
    if content is not None:
        path.write_text(content)
    argv = ["eval", str(path), "--label-col", "correct", "--n-resamples", "0"]
    argv += args or ["--score-col", "confidence"]
    code, _stdout, err = run(capsys, *argv)
    assert code == 1
    assert message in err


def test_unknown_file_type(tmp_path, capsys):
    p = tmp_path / "data.xlsx"
    p.write_text("x")
    code, _stdout, err = run(capsys, "eval", str(p))
    assert code == 1 and "unknown file type" in err


def test_jsonl_and_report(tmp_path, capsys, scored):
    _, conf, correct, domain = scored
    p = tmp_path / "scored.jsonl"
    p.write_text(
        "".join(
            json.dumps({"confidence": float(c), "correct": int(k), "domain": d}) + "\n"
            for c, k, d in zip(conf, correct, domain, strict=True)
        )
    )
    cal = tmp_path / "iso.json"
    assert run(capsys, "fit", str(p), "--score-col", "confidence", "--label-col", "correct", "-o", str(cal))[0] == 0
    html = tmp_path / "r.html"
    code, _, err = run(
        capsys,
        "report",
        str(p),
        "--score-col",
        "confidence",
        "--label-col",
        "correct",
        "--segment-col",
        "domain",
        "--calibrator",
        f"isotonic={cal}",
        "-o",
        str(html),
    )
    assert code == 0, err
    text = html.read_text()
    assert text.count("data:image/png;base64,") >= 2
    assert "isotonic" in text and "math" in text


def test_report_rejects_bad_calibrator_spec(tmp_path, capsys, scored):
    path, *_ = scored
    code, _stdout, err = run(
        capsys,
        "report",
        str(path),
        "--score-col",
        "confidence",
        "--label-col",
        "correct",
        "--calibrator",
        "no-equals-sign",
        "-o",
        str(tmp_path / "r.html"),
    )
    assert code == 2 and "NAME=PATH" in err  # a usage error


def test_demo_runs_end_to_end(tmp_path, capsys):
    pytest.importorskip("sklearn")
    report = tmp_path / "demo.html"
    code, stdout, err = run(capsys, "demo", "--json", "-o", str(report))
    assert code == 0, err
    result = json.loads(stdout)
    assert report.exists() and report.read_text().count("data:image/png;base64,") >= 2
    cal = result["calibrators"]
    # calibration must help this over-confident model
    assert cal[result["chosen"]]["ece"] < cal["uncalibrated"]["ece"]
    assert cal[result["chosen"]]["nll"] < cal["uncalibrated"]["nll"]
    assert result["conformal_sets"]["coverage"] >= 0.8
    assert sum(result["decisions"]["actions"].values()) == result["n"]["test"]


def test_demo_numbers_match_an_independent_reference(tmp_path):
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    from credo import demo

    res = demo.run(None, seed=1)
    X, y = load_digits(return_X_y=True)
    train, _, _, test = demo._split(y, (0.4, 0.2, 0.2, 0.2), 1)
    p = LogisticRegression(C=1000.0, max_iter=10000).fit(X[train], y[train]).predict_proba(X[test])
    conf, correct = p.max(1), (p.argmax(1) == y[test])
    b = np.minimum((conf * 15).astype(int), 14)
    ece = sum(abs(correct[b == i].mean() - conf[b == i].mean()) * (b == i).mean() for i in range(15) if (b == i).any())
    assert res.accuracy == pytest.approx(correct.mean(), abs=1e-12)
    assert res.calibrators["uncalibrated"]["ece"] == pytest.approx(ece, abs=1e-6)


def test_demo_bad_output_directory(tmp_path, capsys):
    pytest.importorskip("sklearn")
    code, _stdout, err = run(capsys, "demo", "-o", str(tmp_path / "missing" / "r.html"))
    assert code == 1 and "does not exist" in err


@pytest.mark.slow
def test_bench_quick_json(capsys):
    code, stdout, err = run(capsys, "bench", "--quick", "--json")
    assert code == 0, err
    report = json.loads(stdout)
    from credo.signals import simd_level

    assert report["quick"] is True and report["simd"] == simd_level()
    results = report["results"]
    works = {r["work"] for r in results}
    assert any("token signals" in w for w in works) and any("AUROC" in w for w in works)
    assert all(r["credo_s"] > 0 for r in results)
