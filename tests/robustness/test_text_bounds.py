"""Hostile text meets a defined result: the verifiers, risk.assess and evidence.coverage bound
their input's length with a CredoError naming the argument, and the exact arithmetic evaluator
reports "cannot be verified" (never a pass) beyond its bounds: huge powers, numbers of
thousands of digits, deep nesting."""

from __future__ import annotations

from fractions import Fraction

import pytest

import credo
from credo import evidence, risk, verify


def test_huge_power_is_not_a_pass():
    r = verify.ArithmeticVerifier().verify("2 ^ 1000000000 = 4")
    assert not r.passed
    assert "cannot be verified" in r.detail and "too large" in r.detail
    (check,) = verify.ArithmeticVerifier().checks("2 ^ 1000000000 = 4")
    assert (check.expression, check.verifiable, check.exact) == ("2 ^ 1000000000", False, None)


def test_fractional_power_is_not_silently_skipped():
    r = verify.ArithmeticVerifier().verify("2 ^ 0.5 = 7")
    assert not r.passed and "whole-number exponents" in r.detail


@pytest.mark.parametrize("depth", [150, 5_000, 100_000])
def test_deep_parentheses_are_bounded(depth):
    text = "(" * depth + "1" + ")" * depth + " + 1 = 2"
    r = verify.ArithmeticVerifier().verify(text)
    assert not r.passed and "nested more than 100 deep" in r.detail
    with pytest.raises(credo.InvalidArgumentError, match=r"^expr: cannot evaluate .*nested"):
        verify.evaluate_expression("(" * depth + "1" + ")" * depth)


def test_moderate_nesting_still_evaluates():
    assert verify.evaluate_expression("(" * 60 + "2" + ")" * 60 + " * 3") == 6
    assert verify.evaluate_expression("-" * 5_000 + "2") == 2  # signs do not recurse
    assert verify.ArithmeticVerifier().verify("((1 + 2) * (3 + 4)) = 21").passed


@pytest.mark.parametrize("where", ["lhs", "rhs"])
def test_numbers_of_thousands_of_digits(where):
    big = "7" * 5_000
    text = f"{big} + 1 = 8" if where == "lhs" else f"1 + 1 = {big}"
    r = verify.ArithmeticVerifier().verify(text)
    assert not r.passed and "more than 1000 characters" in r.detail
    assert len(r.detail) < 400  # the number is not echoed in full
    with pytest.raises(credo.InvalidArgumentError, match="more than 1000"):
        verify.evaluate_expression(big)


def test_exact_results_near_the_bounds():
    assert verify.evaluate_expression("2 ^ 2000") == 2**2000
    assert verify.evaluate_expression("9" * 1000 + " + 1") == 10**1000
    assert verify.evaluate_expression("1 / 3") == Fraction(1, 3)


def _schema_verifier(max_chars: int) -> verify.SchemaVerifier:
    pytest.importorskip("jsonschema")
    return verify.SchemaVerifier({"type": "object"}, max_chars=max_chars)


VERIFIERS = [
    lambda m: verify.ArithmeticVerifier(max_chars=m),
    _schema_verifier,
    lambda m: verify.FormatVerifier("email", max_chars=m),
]


@pytest.mark.parametrize("make", VERIFIERS)
def test_verifiers_bound_the_answer(make):
    v = make(100)
    v.verify("x" * 100)
    with pytest.raises(credo.InvalidArgumentError, match=r"^answer: 101 characters exceed max_chars = 100"):
        v.verify("x" * 101)
    with pytest.raises(credo.InvalidArgumentError, match=r"^max_chars"):
        make(0)


def test_tool_result_verifier_bounds_answer_and_result():
    v = verify.ToolResultVerifier(max_chars=50)
    with pytest.raises(credo.InvalidArgumentError, match=r"^answer: "):
        v.verify("1" * 51, {"tool_result": {}})
    with pytest.raises(credo.InvalidArgumentError, match=r"^context\['tool_result'\]: 51 characters"):
        v.verify("1", {"tool_result": "[" + " " * 49 + "]"})


def test_deeply_nested_json_fails_cleanly():
    pytest.importorskip("jsonschema")
    r = verify.SchemaVerifier({"type": "object"}).verify("[" * 100_000 + "]" * 100_000)
    assert not r.passed and "nested too deeply" in r.detail
    v = verify.ToolResultVerifier()
    with pytest.raises(credo.InvalidArgumentError, match=r"^context\['tool_result'\]: .*nested too deeply"):
        v.verify("1", {"tool_result": "[" * 100_000 + "]" * 100_000})
    deep: list = [1]
    for _ in range(5_000):  # a parsed object nested deeper than the recursion limit
        deep = [deep]
    assert v.verify("It is 1.", {"tool_result": deep}).passed


def test_fenced_json_is_still_unwrapped():
    pytest.importorskip("jsonschema")
    v = verify.SchemaVerifier({"type": "object"})
    assert v.verify('```json\n{"a": 1}\n```').passed
    assert v.verify('  ```\n{"a": 1}```  ').passed
    assert not v.verify("```" + " " * 100_000 + "x").passed


def test_risk_bounds_the_request():
    rules = risk.RiskRules(max_chars=10)
    rules.assess("a" * 10)
    with pytest.raises(credo.InvalidArgumentError, match=r"^text: 11 characters exceed max_chars = 10"):
        rules.assess("a" * 11)
    with pytest.raises(credo.InvalidArgumentError, match=r"^max_chars"):
        risk.RiskRules(max_chars=0)


def test_risk_email_rule_unchanged():
    assert "personal_data" in risk.assess("write to jane.doe+x@example.co.uk please").regulated
    assert "personal_data" not in risk.assess("1" * 5_000 + "x").regulated


def test_coverage_bounds():
    with pytest.raises(credo.InvalidArgumentError, match=r"^answer: "):
        evidence.coverage("word " * 30, ["p"], max_chars=100)
    with pytest.raises(credo.InvalidArgumentError, match=r"^passages\[1\]: "):
        evidence.coverage("a claim here", ["p", "x" * 101], max_chars=100)


def test_coverage_bounds_the_passage_count():
    passages = ["alpha beta"] * 3
    assert evidence.coverage("alpha beta.", passages, max_passages=3).coverage == 1.0
    with pytest.raises(credo.InvalidArgumentError, match=r"^passages: 3 passages exceed max_passages = 2"):
        evidence.coverage("alpha beta.", passages, max_passages=2)
    with pytest.raises(credo.InvalidArgumentError, match=r"^\[1\]: passages: 3 passages exceed"):
        evidence.coverage_batch(["a b.", "a b."], [["a b"], passages], max_passages=2)
    with pytest.raises(credo.InvalidArgumentError, match=r"^max_passages"):
        evidence.coverage("a", ["b"], max_passages=0)


def test_coverage_names_text_with_a_lone_surrogate():
    with pytest.raises(credo.InvalidArgumentError, match=r"^passages\[1\]: not valid Unicode"):
        evidence.coverage("fine text here", ["ok", "bad \ud800 text"])
    with pytest.raises(credo.InvalidArgumentError, match=r"^answers\[0\]: not valid Unicode"):
        evidence.coverage_batch(["\udfff"], [["ok"]])


def test_tool_result_names_found_in_one_pass():
    v = verify.ToolResultVerifier()
    tool = {"st": "Lyon Part-Dieu station", "city": "Saint-Étienne", "odd": "x \ud800 y"}
    assert v.verify("We took the train. Then Part-Dieu and Saint-Étienne.", {"tool_result": tool}).passed
    r = v.verify("It rained in Lyon, not Paris.", {"tool_result": tool})
    assert not r.passed and "'Paris'" in r.detail and "'Lyon'" not in r.detail
    # Lone surrogates on either side are compared as they are, not an error.
    assert v.verify("Now \ud800 Y here", {"tool_result": tool}).passed
    assert not v.verify("Now \udc00 Zed here", {"tool_result": tool}).passed
