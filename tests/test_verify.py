"""Verifiers: each built-in on valid and invalid answers, the exact evaluator, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credo.exceptions import ConfigError, InvalidArgumentError
from credo.verify import (
    ArithmeticVerifier,
    FormatVerifier,
    ProcessVerifier,
    SchemaVerifier,
    ToolResultVerifier,
    Verifier,
    VerifierResult,
    evaluate_expression,
)

from .conftest import subprocess_env

SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name", "age"],
    "additionalProperties": False,
}


def test_all_builtins_follow_the_protocol():
    pytest.importorskip("jsonschema")
    for v in (
        SchemaVerifier(SCHEMA),
        ArithmeticVerifier(),
        FormatVerifier("email"),
        ToolResultVerifier(),
        ProcessVerifier(required=["search"]),
    ):
        assert isinstance(v, Verifier)


# ----------------------------------------------------------------- schema


def test_schema_valid_and_fenced():
    pytest.importorskip("jsonschema")
    v = SchemaVerifier(SCHEMA)
    r = v.verify('{"name": "Ada", "age": 36}')
    assert r == VerifierResult(True, 1.0, r.detail, "schema") and r.passed
    assert v.verify('```json\n{"name": "Ada", "age": 36}\n```').passed
    assert not SchemaVerifier(SCHEMA, strip_fences=False).verify('```json\n{"name": "Ada", "age": 36}\n```').passed


def test_schema_violations_are_listed():
    pytest.importorskip("jsonschema")
    r = SchemaVerifier(SCHEMA).verify('{"name": 5, "age": -1, "extra": true}')
    assert not r.passed and r.score == 0.0
    assert "at age:" in r.detail and "at name:" in r.detail and "(root)" in r.detail


@pytest.mark.parametrize("bad", ['{"name": "Ada", "age": 36', "", "not json", "{'name': 'Ada'}", '{"a": 1,}'])
def test_schema_malformed_json_fails_with_the_parser_message(bad):
    pytest.importorskip("jsonschema")
    r = SchemaVerifier(SCHEMA).verify(bad)
    assert not r.passed
    assert r.detail.startswith("The answer is not valid JSON:") and "line 1 column" in r.detail


def test_schema_bad_schema_and_answer():
    pytest.importorskip("jsonschema")
    with pytest.raises(ConfigError, match=r"^schema: not a valid JSON Schema"):
        SchemaVerifier({"type": "no-such-type"})
    with pytest.raises(ConfigError, match=r"^schema"):
        SchemaVerifier("{}")
    with pytest.raises(InvalidArgumentError, match=r"^answer"):
        SchemaVerifier(SCHEMA).verify(None)


def test_jsonschema_is_imported_lazily():
    code = "import sys, credo.verify; print('jsonschema' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=subprocess_env())
    assert out.stdout.strip() == "False"


# ----------------------------------------------------------------- arithmetic


@pytest.mark.parametrize(
    ("expr", "value"),
    [
        ("1 + 2 * 3", Fraction(7)),
        ("(1 + 2) * 3", Fraction(9)),
        ("2 ^ 10", Fraction(1024)),
        ("2 ** -2", Fraction(1, 4)),
        ("-3 - -4", Fraction(1)),
        ("0.1 + 0.2", Fraction(3, 10)),
        ("7 ÷ 2 × 4", Fraction(14)),
        ("1,200 / 3", Fraction(400)),
        ("50% * 80", Fraction(40)),
        ("2 - 3 - 4", Fraction(-5)),
        ("64 / 4 / 2", Fraction(8)),
        ("-2 ^ 2", Fraction(-4)),
    ],
)
def test_exact_evaluator(expr, value):
    assert evaluate_expression(expr) == value


@pytest.mark.parametrize("bad", ["", "1 +", "(1 + 2", "1 / 0", "__import__('os')", "2 ^ 0.5", "2 ^ 100000", "1 2"])
def test_evaluator_refuses_without_running_code(bad):
    with pytest.raises(InvalidArgumentError, match=r"^expr: cannot evaluate"):
        evaluate_expression(bad)


OPS = st.sampled_from(["+", "-", "*"])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(-50, 50), min_size=1, max_size=6), st.lists(OPS, min_size=5, max_size=5))
def test_evaluator_agrees_with_integer_arithmetic(nums, ops):
    expr = str(nums[0]) + "".join(f" {op} ({n})" for op, n in zip(ops, nums[1:], strict=False))
    ref = nums[0]
    # Reference: precedence by hand (multiplication first), plain integers.
    terms, signs = [nums[0]], []
    for op, n in zip(ops, nums[1:], strict=False):
        if op == "*":
            terms[-1] *= n
        else:
            signs.append(op)
            terms.append(n)
    ref = terms[0]
    for s, t in zip(signs, terms[1:], strict=False):
        ref = ref + t if s == "+" else ref - t
    assert evaluate_expression(expr) == ref


def test_arithmetic_verifier_statements():
    v = ArithmeticVerifier()
    ok = v.verify("Each pack costs 153 / 3 = 51 dollars, so 4 packs cost 4 × 51 = 204.")
    assert ok.passed and ok.score == 1.0 and "2 arithmetic statements" in ok.detail
    bad = v.verify("We get 12 * 12 = 140, and 10 / 4 = 2.5.")
    assert not bad.passed and bad.score == 0.5
    assert "12 * 12 = 140 is wrong: 12 * 12 is 144" in bad.detail


def test_arithmetic_chains_and_sentence_boundaries():
    v = ArithmeticVerifier()
    found = [(c.expression, c.claimed, c.correct) for c in v.checks("3 × 4 = 12 + 1 = 14. I got 4. 5 * 5 = 25")]
    assert found == [("3 × 4", "12", True), ("12 + 1", "14", False), ("5 * 5", "25", True)]
    assert [c.expression for c in v.checks("So (1 + 2 = 3, and .5 + .25 = 0.75")] == ["1 + 2", ".5 + .25"]


def test_arithmetic_rounding_rules():
    v = ArithmeticVerifier()
    assert v.verify("10 / 3 = 3.33").passed  # correctly rounded to the digits shown
    assert not v.verify("10 / 3 = 3.34").passed
    assert not v.verify("10 / 3 = 3").passed  # a whole number must be exact
    assert v.verify("10 / 3 = ≈ 3").passed
    assert ArithmeticVerifier(rel_tol=0.15).verify("10 / 3 = 3").passed
    assert v.verify("1 / 8 = 12.5%").passed


def test_arithmetic_edge_cases():
    v = ArithmeticVerifier()
    r = v.verify("So 1 / 0 = 5.")
    assert not r.passed and "division by zero" in r.detail
    assert v.verify("No numbers here, x = 5 and the year 2020 = now.").detail.startswith("No arithmetic")
    assert not ArithmeticVerifier(require=True).verify("nothing").passed
    with pytest.raises(InvalidArgumentError, match=r"^rel_tol"):
        ArithmeticVerifier(rel_tol=-1)


# ----------------------------------------------------------------- formats


@pytest.mark.parametrize(
    ("verifier", "good", "bad"),
    [
        (FormatVerifier("regex", pattern=r"[A-Z]{3}-\d{4}"), "ABC-1234", "ABC-12345"),
        (FormatVerifier("date"), "2024-02-29", "2023-02-29"),
        (FormatVerifier("date", formats=["%d/%m/%Y", "%B %d, %Y"]), "March 5, 2021", "2021-03-05"),
        (FormatVerifier("email"), "ada.lovelace@example.org", "ada@example"),
        (FormatVerifier("number"), "-1,234.5", "12 apples"),
        (FormatVerifier("number_with_unit", units=["kg", "g"]), "3.5 kg", "3.5 lb"),
        (FormatVerifier("number_with_unit"), "12 km/h", "twelve km/h"),
    ],
)
def test_formats(verifier, good, bad):
    assert verifier.verify(f"  {good} ").passed
    r = verifier.verify(bad)
    assert not r.passed and r.score == 0.0 and "is not" in r.detail


def test_format_config_errors():
    with pytest.raises(ConfigError, match=r"^kind"):
        FormatVerifier("phone")
    with pytest.raises(ConfigError, match=r"^pattern"):
        FormatVerifier("regex")
    with pytest.raises(ConfigError, match=r"^pattern: not a valid regular expression"):
        FormatVerifier("regex", pattern="([")


# ----------------------------------------------------------------- tool results

TOOL = {
    "city": "Paris",
    "temperature_c": 21.5,
    "forecast": [{"day": "Monday", "high": 24}],
    "station": "Orly",
}


def test_tool_result_agreement():
    v = ToolResultVerifier()
    ok = v.verify("It is 21.5 degrees in Paris, with a high of 24 on Monday.", {"tool_result": TOOL})
    assert ok.passed and ok.score == 1.0
    r = v.verify("It is 23 degrees in Paris, says the Lyon station.", {"tool_result": json.dumps(TOOL)})
    assert not r.passed
    assert "the number 23" in r.detail and "'Lyon'" in r.detail
    assert r.score == pytest.approx(1 / 3)  # 23 wrong, Paris right, Lyon wrong
    assert ToolResultVerifier(ignore=[23], check_names=False).verify("It is 23 now.", {"tool_result": TOOL}).passed


def test_tool_result_bad_input():
    v = ToolResultVerifier()
    with pytest.raises(InvalidArgumentError, match=r"^context\['tool_result'\]: not valid JSON"):
        v.verify("21.5", {"tool_result": '{"temp": 21.5'})
    with pytest.raises(InvalidArgumentError, match=r"^context"):
        v.verify("21.5", None)


# ----------------------------------------------------------------- process


def test_process_checks():
    v = ProcessVerifier(required=["search", "answer"], order=["search", "read", "answer"], forbidden=["delete"])
    assert v.verify("", {"tool_calls": ["search", "read", "read", {"name": "answer"}]}).passed
    r = v.verify("", {"tool_calls": ["read", "search", "delete"]})
    assert not r.passed
    assert "'answer' was not called" in r.detail and "'delete' was called" in r.detail
    assert "'search' was called before 'read'" not in r.detail and "'read' was called before 'search'" in r.detail
    # 2 required + 1 forbidden + 2 ordered pairs; failed: answer missing (required), delete,
    # read before search, answer missing (ordered pair).
    assert r.score == pytest.approx(1 / 5)


def test_process_bad_config_and_input():
    with pytest.raises(ConfigError, match=r"^forbidden"):
        ProcessVerifier(required=["a"], forbidden=["a"])
    with pytest.raises(ConfigError, match=r"^order"):
        ProcessVerifier(order=["a", "b", "a"])
    with pytest.raises(ConfigError):
        ProcessVerifier()
    v = ProcessVerifier(required=["a"])
    with pytest.raises(InvalidArgumentError, match=r"^context\['tool_calls'\]\[1\]"):
        v.verify("", {"tool_calls": ["a", 3]})
    with pytest.raises(InvalidArgumentError, match=r"^context"):
        v.verify("", {})
