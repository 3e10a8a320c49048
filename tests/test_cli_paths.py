"""The command line's documented behaviour beyond the happy path: exit statuses, infeasible
targets, the report's artefact kinds, several score columns, --json everywhere, progress only on a
terminal, the fast and the pure-Python table readers agreeing, and an untruncated --help."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("click")

from credo.cli import EPILOG, _io, main


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def scored(tmp_path, rng):
    n = 2000
    conf = np.round(np.clip(rng.beta(8, 2, size=n), 1e-6, 1 - 1e-6), 6)
    correct = rng.random(n) < conf**2
    domain = np.where(rng.random(n) < 0.5, "math", "chat")
    p = tmp_path / "scored.csv"
    with open(p, "w") as f:
        f.write("confidence,correct,domain\n")
        f.writelines(f"{c:.6f},{k},{d}\n" for c, k, d in zip(conf, correct, domain, strict=True))  # True/False
    return p, conf, correct.astype(int), domain


COLS = ("--score-col", "confidence", "--label-col", "correct")


def test_help_lists_every_command_untruncated_with_exit_statuses(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    from credo.cli import _build_group

    group = _build_group()
    for name, cmd in group.commands.items():
        assert cmd.short_help and cmd.short_help in out, name  # the whole sentence, no "..."
    assert "..." not in out.split("Commands:")[1]
    for line in ("0  success", "1  data or file error", "2  usage error", "3  credo gate"):
        assert line in out and line in EPILOG


def test_infeasible_target_is_an_error_with_the_achievable_target(tmp_path, capsys, scored):
    path = scored[0]
    out = tmp_path / "thr.json"
    code, stdout, err = run(capsys, "fit", path, *COLS, "--kind", "threshold", "--target-risk", "0.0001", "-o", out)
    assert code == 1
    assert not out.exists()
    (line,) = err.splitlines()  # one line: no raw warning, no source line
    assert line.startswith("credo: error: --target-risk 0.0001 is infeasible on " + str(path))
    assert "Warning" not in err and "warnings.warn" not in err
    achievable = float(line.rsplit("about ", 1)[1])
    # The stated target is certifiable, and a clearly smaller one is not.
    code, stdout, _ = run(
        capsys, "fit", path, *COLS, "--kind", "threshold", "--target-risk", achievable, "-o", out, "--json"
    )
    assert code == 0 and json.loads(stdout)["threshold"] < 1
    code, _, _ = run(capsys, "fit", path, *COLS, "--kind", "threshold", "--target-risk", achievable * 0.8, "-o", out)
    assert code == 1


def test_infeasible_target_per_segment_names_the_segment(tmp_path, capsys, scored):
    code, _, err = run(
        capsys,
        "fit",
        scored[0],
        *COLS,
        "--segment-col",
        "domain",
        "--kind",
        "threshold",
        "--target-risk",
        "0.001",
        "-o",
        tmp_path / "t.json",
    )
    assert code == 1 and "segment 'chat'" in err and "segment 'math'" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--kind", "threshold", "--target-risk", "0"], "--target-risk"),
        (["--kind", "threshold", "--target-risk", "1.5"], "--target-risk"),
        (["--kind", "threshold", "--delta", "1"], "--delta"),
        (["--kind", "isotonic", "--score-col", "domain"], "--score-col"),
        (["--kind", "nope"], "--kind"),
    ],
)
def test_fit_usage_errors_exit_2(tmp_path, capsys, scored, argv, message):
    code, _, err = run(capsys, "fit", scored[0], *COLS, *argv, "-o", tmp_path / "x.json")
    assert code == 2 and message in err and "Usage:" in err


def test_report_shows_a_confidence_model_and_refuses_a_threshold(tmp_path, capsys, scored):
    path = scored[0]
    cm, thr, html = tmp_path / "cm.json", tmp_path / "thr.json", tmp_path / "r.html"
    assert run(capsys, "fit", path, *COLS, "--kind", "confidence-model", "-o", cm)[0] == 0
    assert run(capsys, "fit", path, *COLS, "--kind", "threshold", "--target-risk", "0.3", "-o", thr)[0] == 0
    code, stdout, err = run(capsys, "report", path, *COLS, "--calibrator", f"cm={cm}", "-o", html, "--json")
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["report"] == str(html) and summary["n"] == len(scored[1]) and html.read_text().count("cm") >= 1
    code, _, err = run(capsys, "report", path, *COLS, "--calibrator", f"t={thr}", "-o", html)
    assert code == 1 and "holds a SelectiveThreshold, not a calibrator" in err and len(err.splitlines()) == 1


def test_eval_with_several_score_columns_is_top_label(tmp_path, capsys, rng):
    from credo import metrics

    n, k = 1500, 3
    probs = rng.dirichlet(np.ones(k) * 0.7, size=n).round(6)
    probs[:, -1] = 1 - probs[:, :-1].sum(1)
    probs = np.clip(probs, 0, 1)
    labels = np.array([rng.choice(k, p=p / p.sum()) for p in probs])
    p = tmp_path / "probs.csv"
    with open(p, "w") as f:
        f.write("p0,p1,p2,label\n")
        f.writelines(",".join(f"{v:.6f}" for v in row) + f",{y}\n" for row, y in zip(probs, labels, strict=True))
    got = np.loadtxt(p, delimiter=",", skiprows=1)[:, :3]
    code, stdout, err = run(
        capsys, "eval", p, "--score-col", "p0", "--score-col", "p1", "--score-col", "p2", "--n-resamples", "0", "--json"
    )
    assert code == 0, err
    res = json.loads(stdout)
    (row,) = res["segments"]
    conf, correct = got.max(1), (got.argmax(1) == labels).astype(int)
    assert res["confidence"] == "top-label" and res["classes"] == 3
    assert row["accuracy"] == pytest.approx(correct.mean(), abs=1e-12)
    assert row["auroc"] == pytest.approx(metrics.auroc(correct, conf), abs=1e-12)
    code, _, err = run(capsys, "eval", p, "--score-col", "p0", "--score-col", "p1", "--n-resamples", "0")
    assert code == 1 and "column 'label', row" in err and "label 2 is not" in err


def test_no_progress_bar_when_stderr_is_not_a_terminal(capsys, scored):
    code, _, err = run(capsys, "eval", scored[0], *COLS, "--n-resamples", "20")
    assert code == 0 and err == ""


def test_score_json(tmp_path, capsys, rng):
    logits = rng.standard_normal((2, 4, 9)).astype(np.float32)
    np.savez(tmp_path / "a.npz", logits=logits, chosen=rng.integers(0, 9, (2, 4)))
    code, stdout, err = run(capsys, "score", tmp_path / "a.npz", "--json")
    assert code == 0 and err == ""
    rows = json.loads(stdout)
    assert [r["sequence"] for r in rows] == [0, 1] and "perplexity" in rows[0]


def test_score_without_chosen_leaves_columns_out_with_a_note(tmp_path, capsys, rng):
    np.save(tmp_path / "l.npy", rng.standard_normal((3, 4, 9)).astype(np.float32))
    code, stdout, err = run(capsys, "score", tmp_path / "l.npy")
    assert code == 0
    header = stdout.splitlines()[0].split(",")
    assert header == ["file", "sequence", "n_tokens", "mean_entropy", "max_entropy", "mean_margin", "min_margin"]
    assert "nan" not in stdout and ",-1" not in stdout
    assert "no chosen token ids" in err and "perplexity" in err


@pytest.mark.parametrize("reader", ["pyarrow", "pandas", "python"])
def test_table_readers_agree(tmp_path, monkeypatch, reader, scored):
    """The fast readers and the pure-Python fallback give the same columns (booleans as 1/0)."""
    path, conf, correct, domain = scored
    monkeypatch.setattr(_io, "FAST_MIN_BYTES", 0)  # the fast readers, whatever the file's size
    if reader == "pyarrow":
        pytest.importorskip("pyarrow")
    else:
        real_import = __import__

        def no_pyarrow(name, *a, **kw):
            if name == "pyarrow" or (reader == "python" and name == "pandas"):
                raise ImportError(name)
            return real_import(name, *a, **kw)

        if reader == "pandas":
            pytest.importorskip("pandas")
        monkeypatch.setattr("builtins.__import__", no_pyarrow)
    t = _io.read_table(path, ["confidence", "correct", "domain"])
    np.testing.assert_array_equal(t["confidence"], conf)
    np.testing.assert_array_equal(t["correct"], correct.astype(float))
    assert list(t["domain"]) == list(domain)


def test_exit_statuses_are_the_documented_ones(tmp_path, capsys, scored):
    assert run(capsys, "eval", scored[0], *COLS, "--n-resamples", "0")[0] == 0
    assert run(capsys, "eval", tmp_path / "missing.csv", *COLS)[0] == 1  # data / IO
    assert run(capsys, "score", tmp_path / "missing.npy")[0] == 1  # the same for .npy
    assert run(capsys, "eval", scored[0], "--no-such-option")[0] == 2  # usage
    assert run(capsys, "frobnicate")[0] == 2
    assert run(capsys, "eval", scored[0], *COLS, "--bins", "0")[0] == 2


def test_an_unexpected_exception_is_one_line_not_a_traceback(capsys, monkeypatch, scored):
    """A bug surfaces as one line naming the exception (exit 1), never as a traceback."""
    import credo.cli.eval as ev

    def boom(*args, **kwargs):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(ev, "evaluate", boom)
    code, _, err = run(capsys, "eval", scored[0], *COLS)
    assert code == 1 and err == "credo: error: internal error, please report it: RuntimeError: kaboom\n"
