"""Every argument of Policy.decide and Cascade is validated: a bad value raises a CredoError
naming it, never a decision taken on NaN or a nonsensical retry count."""

from __future__ import annotations

import math

import numpy as np
import pytest

import credo
from credo.cascade import Cascade
from credo.policy import Action, Policy
from credo.risk import InputRisk

HIGH_STAKES = {
    "min_coverage": 0.8,
    "domains": {"general": {}, "medical": {"stakes": "high", "threshold": 0.5}},
}


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"coverage": math.nan}, "coverage"),
        ({"coverage": math.inf}, "coverage"),
        ({"coverage": -0.1}, "coverage"),
        ({"coverage": 1.5}, "coverage"),
        ({"coverage": "0.9"}, "coverage"),
        ({"coverage": True}, "coverage"),
        ({"coverage": 1j}, "coverage"),
        ({"repetition": math.nan}, "repetition"),
        ({"repetition": -math.inf}, "repetition"),
        ({"repetition": [0.9]}, "repetition"),
        ({"attempt": -5}, "attempt"),
        ({"attempt": 1.0}, "attempt"),
        ({"attempt": True}, "attempt"),
        ({"attempt": "1"}, "attempt"),
        ({"attempt": None}, "attempt"),
        ({"checks_done": "verify"}, "checks_done"),
        ({"checks_done": ["verfy"]}, "checks_done"),
        ({"checks_done": 3}, "checks_done"),
        ({"checks_done": [None]}, "checks_done"),
        ({"domain": ["medical"]}, "domain"),
        ({"domain": 3}, "domain"),
        ({"domain": "\udc80"}, "domain"),
        ({"risk": "high"}, "risk"),
        ({"risk": {"stakes": "high"}}, "risk"),
        ({"retrieval_available": "yes"}, "retrieval_available"),
        ({"retrieval_available": None}, "retrieval_available"),
        ({"verifier": object()}, "verifier"),
    ],
)
def test_decide_refuses_each_bad_argument(kwargs: dict, name: str) -> None:
    p = Policy(HIGH_STAKES)
    with pytest.raises(credo.CredoError, match=rf"^{name}: "):
        p.decide(0.9, **({"domain": "medical"} | kwargs))


def test_nan_coverage_no_longer_answers_a_high_stakes_request() -> None:
    # Before: coverage=nan compared False with min_coverage, so the request was answered.
    p = Policy(HIGH_STAKES)
    assert p.decide(0.9, domain="medical", coverage=0.5).action is Action.ABSTAIN
    with pytest.raises(credo.InvalidArgumentError, match="coverage"):
        p.decide(0.9, domain="medical", coverage=float("nan"))


def test_nan_repetition_no_longer_answers_instead_of_retrying() -> None:
    p = Policy(HIGH_STAKES)
    assert p.decide(0.9, repetition=0.9).action is Action.RETRY
    with pytest.raises(credo.InvalidArgumentError, match="repetition"):
        p.decide(0.9, repetition=float("nan"))


def test_negative_attempt_is_refused_not_counted() -> None:
    p = Policy(HIGH_STAKES)
    d = p.decide(0.9, repetition=0.9, attempt=0)
    assert "attempt 1 of 1" in d.explain()
    with pytest.raises(credo.InvalidArgumentError, match="attempt"):
        p.decide(0.9, repetition=0.9, attempt=-5)


def test_valid_numpy_and_integer_arguments_still_decide() -> None:
    # The checks accept what a caller naturally passes: NumPy scalars, ints, any iterable of names.
    p = Policy(HIGH_STAKES)
    a = p.decide(np.float32(0.9), coverage=np.float64(0.9), repetition=0, attempt=np.int64(0))
    b = p.decide(0.8999999761581421, coverage=0.9, repetition=0.0, attempt=0)
    assert a.action is b.action is Action.ANSWER
    assert p.decide(0.6, checks_done=iter(["verify"]), retrieval_available=np.bool_(False)).action is Action.ABSTAIN
    r = InputRisk("medical", "high")
    assert p.decide(0.9, risk=r, checks_done=frozenset()).domain == "medical"


@pytest.mark.parametrize("name", ["sample_cost", "budget_cost", "budget_latency_s"])
@pytest.mark.parametrize("value", [math.nan, math.inf, -1.0, "1", True, 1j])
def test_cascade_refuses_non_finite_or_negative_costs(name: str, value: object) -> None:
    with pytest.raises(credo.CredoError, match=rf"^{name}: "):
        Cascade(Policy(), sample=lambda r, s: "a", **{name: value})


def test_cascade_budget_still_accepts_zero_and_finite_values() -> None:
    c = Cascade(Policy(), sample=lambda r, s: "a", sample_cost=0, budget_cost=5, budget_latency_s=1.5)
    assert c.run("q").n_samples >= 1
