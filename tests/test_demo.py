"""credo demo's story: every number it prints is recomputed here from the per-request results,
every term it prints is explained where it appears, and the report carries the same sections."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")
pytest.importorskip("click")

from credo import demo

# Column headers that are plain words, not terms needing an explanation.
PLAIN = {
    "calibrator",
    "signal",
    "route",
    "requests",
    "errors",
    "error rate",
    "threshold",
    "answered (test)",
    "sets holding the truth",
}


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    return demo.run(tmp_path_factory.mktemp("demo") / "report.html", seed=0)


def test_every_printed_term_is_explained_where_it_is_printed(result):
    for section in demo.story(result):
        explained = {term for term, _ in section.terms}
        assert explained <= set(demo.GLOSSARY)
        for column in section.header:
            assert column in PLAIN or column in explained, (section.title, column)
        text = section.text()
        for term, meaning in section.terms:
            assert f"{term}: " in text and meaning.split()[0] in text


def test_routes_and_guarantee_recomputed_from_the_requests(result):
    req = result.requests
    t = result.threshold
    correct = req["prediction"] == req["label"]
    above = req["confidence"] >= t["threshold"]
    # The "answer" route is exactly the certified rule: confidence at or above the LTT threshold.
    np.testing.assert_array_equal(req["route"] == "answer", above)
    assert t["answered"] == above.sum() and t["errors"] == (~correct[above]).sum()
    assert t["risk"] == pytest.approx(1 - correct[above].mean(), abs=1e-15)
    assert t["feasible"] and t["risk"] <= t["target_risk"]  # what the guarantee promises, seen on test
    gray = (req["confidence"] >= demo.GRAY_LOW) & ~above
    np.testing.assert_array_equal(np.char.startswith(req["route"], "verify"), gray)
    passed = req["route"] == "verify → answer"
    assert np.all(req["set_size"][passed] == 1)
    for route, row in result.decisions["routes"].items():
        m = req["route"] == route
        assert row == {"requests": m.sum(), "errors": (~correct[m]).sum()}
    answered = above | passed
    assert result.decisions["answered"] == pytest.approx(answered.mean(), abs=1e-15)
    assert result.decisions["risk_answered"] == pytest.approx(1 - correct[answered].mean(), abs=1e-15)


def test_set_sizes_recomputed(result):
    req, c = result.requests, result.conformal
    sizes = req["set_size"]
    assert c["mean_size"] == pytest.approx(sizes.mean(), abs=1e-15)
    assert c["empty"] == pytest.approx((sizes == 0).mean(), abs=1e-15)
    assert sum(v[0] for v in c["by_size"].values()) == len(sizes)
    assert c["by_size"]["0"] == [int((sizes == 0).sum()), 0]  # an empty set never holds the truth
    wrong = req["prediction"] != req["label"]
    assert c["model_wrong_in_empty"] == wrong[sizes == 0].sum()
    # APS with include_last_label=True never leaves a set empty, and covers at least as well here
    assert c["aps"]["empty"] == 0 and c["aps"]["mean_size"] >= 1
    assert c["aps"]["coverage"] >= 1 - c["alpha"] - 0.05


def test_calibrator_table_invariants(result):
    raw = result.calibrators["uncalibrated"]
    n = result.n["test"]
    for m in result.calibrators.values():
        # a changed answer moves the accuracy by +1/n (now right) or -1/n (now wrong), nothing else does
        assert m["accuracy"] - raw["accuracy"] == pytest.approx((m["changed_right"] - m["changed_wrong"]) / n)
        assert m["changed_right"] + m["changed_wrong"] <= m["changed"]
        assert 1 / n <= m["ties"] <= 1 and (m["ties"] * n) == pytest.approx(round(m["ties"] * n))
    assert result.calibrators["temperature"]["changed"] == 0  # one temperature keeps the argmax
    assert result.calibrators["histogram (top-label)"]["ties"] > 0.9  # one value per bin


def test_story_states_the_guarantee_and_what_lies_outside_it(result):
    text = "\n".join(s.text() for s in demo.story(result))
    flat = " ".join(text.split())
    t, d = result.threshold, result.decisions
    assert f"at least {t['threshold']:.4f} keeps P(error | answered) <= 0.02 with probability >= 90 %" in flat
    assert "What lies outside the guarantee" in flat
    gray = d["routes"]["verify → answer"]
    assert f"the {gray['requests']} gray-zone answers" in flat and f"{gray['errors']} of them were wrong" in flat
    assert f"measured error rate of {d['risk_answered']:.4f}" in flat
    if result.conformal["empty"] > 0:
        assert "of the sets are empty" in flat
    for name, m in result.calibrators.items():
        if m["changed"]:
            assert f"{name}: {m['changed']} ({m['changed_right']} now right" in flat


def test_cli_prints_the_story_and_the_report_repeats_it(result, tmp_path, capsys):
    from credo.cli import main

    out_html = tmp_path / "r.html"
    assert main(["demo", "-o", str(out_html)]) == 0
    printed = capsys.readouterr().out
    page = html.unescape(re.sub(r"<[^>]+>", " ", out_html.read_text(encoding="utf-8")))
    page = " ".join(page.split())
    for section in demo.story(result):
        assert section.text() in printed
        assert section.title in page
        for para in section.paragraphs + section.notes:
            assert " ".join(para.split()) in page
    for route in result.decisions["routes"]:
        assert route in page
    assert page.count("credo version") == 1  # provenance names the version once
