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


def _deep(depth: int = 20_000) -> list:
    out: list = [0.5]
    for _ in range(depth):
        out = [out]
    return out


@pytest.mark.parametrize("name", ["checks_done", "coverage", "domain", "attempt"])
def test_decide_error_messages_stay_short_on_hostile_values(name: str) -> None:
    # Before: the message's repr of a 20,000-deep list raised RecursionError.
    with pytest.raises(credo.CredoError, match=rf"^{name}: ") as info:
        Policy().decide(0.5, **{name: _deep()})
    assert len(str(info.value)) < 300


@pytest.mark.parametrize("config", [3, "domains", [("domains", {})]])
def test_policy_refuses_a_config_that_is_not_a_mapping(config: object) -> None:
    with pytest.raises(credo.ConfigError, match=r"^config: expected a mapping"):
        Policy(config)  # type: ignore[arg-type]


def test_cascade_sample_cost_is_required() -> None:
    with pytest.raises(credo.CredoError, match=r"^sample_cost: "):
        Cascade(Policy(), sample=lambda r, s: "a", sample_cost=None)  # type: ignore[arg-type]


X01 = np.linspace(0.05, 0.95, 60)
Y01 = (X01 > 0.4).astype(int)


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"decay": "0.5"}, "decay"),
        ({"decay": True}, "decay"),
        ({"n_bins": 10**9}, "n_bins"),
        ({"psi_bins": 10**9}, "psi_bins"),
        ({"thresholds": [("psi", 0.2)]}, "thresholds"),
        ({"thresholds": {"psi": "0.2"}}, "thresholds"),
        ({"value_range": "01"}, "value_range"),
    ],
)
def test_drift_monitor_parameters_are_checked(params: dict, name: str) -> None:
    from credo.monitor import DriftMonitor

    with pytest.raises(credo.CredoError, match=rf"^{name}: "):
        DriftMonitor(**params).fit(X01).update(X01).check()


@pytest.mark.parametrize("decisions", [_deep(), [["a"], ["b"]], [{"a": 1}, {"b": 2}]])
def test_drift_monitor_decisions_must_be_flat_labels(decisions: object) -> None:
    from credo.monitor import DriftMonitor

    with pytest.raises(credo.CredoError, match=r"^decisions: "):
        DriftMonitor().fit(X01[:2], decisions=decisions)


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"max_iter": -1}, "max_iter"),
        ({"max_iter": 2**64}, "max_iter"),
        ({"max_iter": "3"}, "max_iter"),
        ({"max_iter": True}, "max_iter"),
        ({"random_state": 1.5}, "random_state"),
        ({"random_state": -1}, "random_state"),
        ({"standardize": "yes"}, "standardize"),
    ],
)
def test_confidence_model_parameters_are_checked(params: dict, name: str) -> None:
    with pytest.raises(credo.CredoError, match=rf"^{name}: "):
        credo.ConfidenceModel(holdout=0, **params).fit({"a": X01}, Y01)


def test_confidence_model_segments_and_signals_are_checked() -> None:
    with pytest.raises(credo.CredoError, match=r"^segments: "):
        credo.ConfidenceModel(holdout=0).fit({"a": X01}, Y01, segments=_deep())
    m = credo.ConfidenceModel(holdout=0).fit({"a": X01}, Y01)
    for bad in (None, 3, "a"):
        with pytest.raises(credo.CredoError, match=r"^signals: "):
            m.predict_one(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["coverage", "citation_precision"])
def test_decision_signals_refuse_bools(name: str) -> None:
    from credo.confidence import decision_signals

    with pytest.raises(credo.CredoError, match=rf"^{name}: "):
        decision_signals(**{name: True})


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"y_min": "0.1"}, "y_min"),
        ({"y_max": True}, "y_max"),
        ({"y_min": math.nan}, "y_min"),
        ({"y_min": 0.9, "y_max": 0.1}, "y_min"),
    ],
)
def test_isotonic_bounds_are_checked_in_python(params: dict, name: str) -> None:
    # y_min=nan reached the Rust core and panicked (PanicException escapes `except Exception`).
    with pytest.raises(credo.CredoError, match=rf"^{name}: "):
        credo.IsotonicCalibrator(**params).fit(X01, Y01)
