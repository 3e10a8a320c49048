"""Policy: every rule, the tiers, configuration from TOML and dicts, and bad configurations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import credo
from credo import Action, Decision, Policy
from credo.exceptions import ConfigError, InvalidArgumentError
from credo.risk import InputRisk, RegulatedContent, SeveralQuestions
from credo.verify import VerifierResult

TOML = """
default_domain = "general"
threshold = 0.8
gray_zone = [0.5, 0.8]
gray_zone_checks = ["verify", "retrieve"]
min_coverage = 0.6
max_retries = 1

[domains.general]
stakes = "low"

[domains.medical]
stakes = "high"
threshold = 0.9
gray_zone = [0.6, 0.9]
strict_action = "abstain"

[domains.finance]
stakes = "critical"
threshold = 0.95
gray_zone = [0.7, 0.95]

[costs]
verify = 2.0
escalate = 25
"""


@pytest.fixture
def policy() -> Policy:
    return Policy.from_toml(TOML)


class FixedThreshold:
    """A stand-in for credo.conformal.SelectiveThreshold: anything with accept() and threshold_."""

    def __init__(self, t):
        self.threshold_ = t
        self.calls = []

    def accept(self, conf):
        self.calls.append(conf)
        return conf >= self.threshold_


def readable(d: Decision) -> bool:
    return all(r[0].isupper() and r.endswith(".") for r in d.reasons) and len(d.reasons) >= 1


def test_answer_above_threshold(policy):
    d = policy.decide(0.85)
    assert (d.action, d.tier, d.domain, d.threshold, d.cost) == (
        Action.ANSWER,
        "baseline",
        "general",
        0.8,
        0.0,
    )
    assert d.reasons == ("Confidence 0.85 clears the threshold 0.80 of domain 'general'.",)
    assert d.settled and d.explain() == d.reasons[0]
    assert policy.decide(0.8).action is Action.ANSWER  # the threshold itself answers


def test_actions_hash_as_their_values():
    # An Action equals its value, so it hashes like it: either finds the other in a dict or set.
    assert all(hash(a) == hash(a.value) for a in Action)
    assert {"answer": 1}[Action.ANSWER] == 1 and {Action.RETRY: 2}["retry"] == 2
    assert Action.VERIFY in {"verify"} and "abstain" in {Action.ABSTAIN}


def test_threshold_wording_follows_a_changed_threshold(policy):
    policy.domains["general"].threshold = 0.9
    d = policy.decide(0.95)
    assert d.reasons == ("Confidence 0.95 clears the threshold 0.90 of domain 'general'.",)


def test_gray_zone_runs_checks_in_order_then_gives_up(policy):
    d = policy.decide(0.6, retrieval_available=True)
    assert (d.action, d.tier, d.cost) == (Action.VERIFY, "gray_zone", 2.0) and not d.settled
    assert "gray zone [0.50, 0.80)" in d.reasons[0]
    d = policy.decide(0.6, retrieval_available=True, checks_done={"verify"})
    assert d.action is Action.RETRIEVE and d.cost == 1.0
    # Retrieval is skipped when not available.
    d = policy.decide(0.6, checks_done=["verify"])
    assert (d.action, d.tier) == (Action.ABSTAIN, "gray_zone")
    assert "still below the threshold 0.80 after the gray-zone checks" in d.reasons[-1]
    assert readable(d)


def test_below_gray_zone(policy):
    d = policy.decide(0.3)
    assert (d.action, d.tier) == (Action.ABSTAIN, "baseline")
    assert d.reasons == ("Confidence 0.30 is below the threshold 0.80 and the gray zone, so the request is declined.",)
    p = Policy({"below": "ask", "domains": {"general": {}}})
    assert p.decide(0.01).action is Action.ASK


def test_ambiguous_input_asks_first(policy):
    r = InputRisk("general", "low", (), ("several_questions",), (SeveralQuestions(2),))
    d = policy.decide(0.99, risk=r, verifier=False, repetition=1.0)
    assert d.action is Action.ASK and d.settled
    assert d.reasons == (
        "The request asks 2 questions at once.",
        "The request is ambiguous, so the user is asked to clarify.",
    )


def test_repetition_loop_retries_then_stops(policy):
    d = policy.decide(0.99, repetition=0.7)
    assert d.action is Action.RETRY and "repeats itself (repetition 0.70 ≥ 0.50)" in d.reasons[0]
    assert policy.decide(0.99, repetition=0.7, attempt=1).action is Action.ABSTAIN
    assert policy.decide(0.99, repetition=0.7, attempt=1, domain="finance").action is Action.ESCALATE
    assert policy.decide(0.99, repetition=0.49).action is Action.ANSWER


def test_verifier_failure_retries_or_verifies(policy):
    fail = VerifierResult(False, 0.0, "12 * 12 = 140 is wrong.", "arithmetic")
    ok = VerifierResult(True, 1.0, "fine", "schema")
    d = policy.decide(0.99, verifier=[ok, fail])
    assert d.action is Action.RETRY and d.reasons[0] == "A verifier failed: arithmetic: 12 * 12 = 140 is wrong."
    assert policy.decide(0.99, verifier=fail, attempt=1).action is Action.ABSTAIN
    assert policy.decide(0.99, verifier=[ok, True]).action is Action.ANSWER
    assert policy.decide(0.99, verifier=False).action is Action.RETRY
    p = Policy({"on_verifier_failure": "verify", "domains": {"general": {}}})
    assert p.decide(0.99, verifier=fail).action is Action.VERIFY
    assert p.decide(0.99, verifier=fail, checks_done=("verify",)).action is Action.ABSTAIN
    with pytest.raises(InvalidArgumentError, match=r"^verifier"):
        policy.decide(0.9, verifier=["passed"])


def test_low_coverage_retrieves_or_abstains(policy):
    d = policy.decide(0.95, coverage=0.4, retrieval_available=True)
    assert d.action is Action.RETRIEVE
    assert d.reasons == (
        "Evidence covers 40% of the answer, below the required 60%.",
        "Retrieving more evidence.",
    )
    # Low stakes without retrieval: the confidence decides, with the reason recorded.
    d = policy.decide(0.95, coverage=0.4)
    assert d.action is Action.ANSWER and "No retrieval is available; the confidence decides." in d.reasons
    # High stakes: retrieve first, then abstain.
    assert policy.decide(0.99, coverage=0.4, domain="medical", retrieval_available=True).action is Action.RETRIEVE
    d = policy.decide(0.99, coverage=0.4, domain="medical", retrieval_available=True, checks_done={"retrieve"})
    assert (d.action, d.tier) == (Action.ABSTAIN, "strict")
    assert policy.decide(0.95, coverage=0.6).action is Action.ANSWER


def test_strict_path_escalates_or_abstains(policy):
    d = policy.decide(0.5, domain="finance")
    assert (d.action, d.tier, d.cost) == (Action.ESCALATE, "strict", 25.0)
    assert d.reasons == (
        "Confidence 0.50 is below the threshold 0.95 in a critical-stakes domain, so the request is escalated.",
    )
    assert policy.decide(0.5, domain="medical").action is Action.ABSTAIN  # per-domain action
    assert policy.decide(0.92, domain="medical").action is Action.ANSWER
    d = policy.decide(0.8, domain="finance")  # gray zone of a strict domain: checks first
    assert (d.action, d.tier) == (Action.VERIFY, "strict")
    assert policy.decide(0.8, domain="finance", checks_done={"verify"}).action is Action.ESCALATE


def test_guaranteed_threshold_object_on_the_strict_path(policy):
    thr = FixedThreshold(0.97)
    p = Policy.from_toml(TOML, thresholds={"finance": thr})
    d = p.decide(0.96, domain="finance")
    assert d.action is not Action.ANSWER and thr.calls == [0.96]
    d = p.decide(0.975, domain="finance")
    assert d.action is Action.ANSWER and d.threshold == 0.97
    assert "clears the guaranteed threshold 0.970" in d.reasons[0]
    # Not used outside the strict path.
    p.set_threshold("general", FixedThreshold(0.99))
    assert p.decide(0.85).action is Action.ANSWER
    with pytest.raises(ConfigError, match=r"^thresholds: domain 'nope'"):
        p.set_threshold("nope", thr)
    with pytest.raises(ConfigError, match=r"^thresholds.general"):
        p.set_threshold("general", 0.9)


def test_input_risk_raises_stakes_to_strict(policy):
    r = InputRisk("general", "high", ("medical",), (), (RegulatedContent("medical"),))
    d = policy.decide(0.3, risk=r)
    assert (d.action, d.tier) == (Action.ESCALATE, "strict")
    assert d.reasons[:2] == (
        "The request touches regulated medical content.",
        "The input raises the stakes to high, and the threshold to 0.90.",
    )
    # The raised threshold (stakes_thresholds, high = 0.9 by default) applies, and the gray zone,
    # which reached the old threshold, follows it.
    d = policy.decide(0.86, risk=r)
    assert (d.action, d.tier, d.threshold) == (Action.VERIFY, "strict", 0.9)
    assert "gray zone [0.50, 0.90)" in d.reasons[-1]
    assert policy.decide(0.86, risk=r, checks_done={"verify"}).action is Action.ESCALATE
    assert policy.decide(0.91, risk=r).action is Action.ANSWER
    # A domain that is high-stakes already keeps its own threshold and reasons.
    d = policy.decide(0.92, domain="medical", risk=r)
    assert d.action is Action.ANSWER and d.threshold == 0.9 and len(d.reasons) == 1
    lenient = Policy.from_toml(TOML.replace("[costs]", "[stakes_thresholds]\nhigh = 0.5\n\n[costs]"))
    d = lenient.decide(0.81, risk=r)
    assert d.action is Action.ANSWER and "The input raises the stakes to high." in d.reasons
    # The risk's domain is used when it is configured.
    assert policy.decide(0.85, risk=InputRisk("medical", "high")).domain == "medical"
    assert policy.decide(0.85, risk=InputRisk("unknown", "low")).domain == "general"


def test_assess_with_policy_rules():
    p = Policy(
        {
            "domains": {"general": {}, "medical": {"stakes": "high"}},
            "risk": {"domains": {"medical": {"stakes": "high", "keywords": ["dose"]}}},
        }
    )
    r = p.assess("What dose of aspirin is safe?")
    assert r.domain == "medical"
    assert p.decide(0.2, risk=r).action is Action.ESCALATE
    assert p.decide(0.2).action is Action.ABSTAIN


def test_deterministic_and_every_reason_readable(policy):
    grid = [0.0, 0.3, 0.5, 0.6, 0.79, 0.8, 0.9, 0.97, 1.0]
    for conf in grid:
        for domain in ("general", "medical", "finance"):
            for extra in (
                {},
                {"coverage": 0.2},
                {"repetition": 0.9},
                {"verifier": False},
                {"retrieval_available": True},
            ):
                a = policy.decide(conf, domain=domain, **extra)
                assert a == policy.decide(conf, domain=domain, **extra)
                assert readable(a), a.reasons
                assert a.cost == policy.costs[a.action]
                assert a.tier in ("baseline", "gray_zone", "strict")


@settings(max_examples=200, deadline=None)
@given(st.floats(0, 1), st.floats(0, 1), st.sampled_from(["general", "medical", "finance"]))
def test_answering_is_monotone_in_confidence(a, b, domain):
    p = Policy.from_toml(TOML)
    lo, hi = min(a, b), max(a, b)
    if p.decide(lo, domain=domain).action is Action.ANSWER:
        assert p.decide(hi, domain=domain).action is Action.ANSWER


def test_from_toml_file_and_dict(tmp_path, policy):
    f = tmp_path / "policy.toml"
    f.write_text(TOML)
    assert Policy.from_toml(f).decide(0.6).action is policy.decide(0.6).action
    assert Policy.from_toml(str(f)).domains.keys() == policy.domains.keys()
    p = Policy.from_dict({"policy": {"threshold": 0.6}, "domains": {"general": {}}})
    assert p.decide(0.65).action is Action.ANSWER
    assert Policy().decide(0.75).action is Action.ANSWER  # defaults: threshold 0.75
    assert credo.Policy is Policy and str(Action.ANSWER) == "answer"


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"domains": {"general": {"below": "panic"}}}, r"^domains.general.below: unknown action 'panic'"),
        (
            {"domains": {"general": {"strict_action": "answer"}}},
            r"^domains.general.strict_action: 'answer' is not allowed",
        ),
        (
            {"gray_zone_checks": ["verify", "shout"], "domains": {"general": {}}},
            r"gray_zone_checks: unknown action 'shout'",
        ),
        ({"costs": {"dance": 1}, "domains": {"general": {}}}, r"^costs.dance: unknown action"),
        (
            {"threshold": 0.7, "gray_zone": [0.5, 0.8], "domains": {"general": {}}},
            r"gray_zone: the band \[0.5, 0.8\) overlaps the answer band",
        ),
        (
            {"domains": {"general": {}, "medical": {"threshold": 0.6, "gray_zone": [0.55, 0.65]}}},
            r"^domains.medical.gray_zone: the band .* overlaps",
        ),
        ({"gray_zone": [0.6, 0.5], "domains": {"general": {}}}, r"gray_zone: low 0.6 is above high 0.5"),
        (
            {"threshold": 1.2, "domains": {"general": {}}},
            r"^domains.general.threshold: must lie in \[0, 1\], got 1.2",
        ),
        ({"domains": {"general": {"threshold": -0.1}}}, r"^domains.general.threshold: must lie in \[0, 1\]"),
        ({"domains": {"general": {"min_coverage": math.nan}}}, r"min_coverage: must be a number in \[0, 1\]"),
        ({"domains": {"general": {"gray_zone": [0.1, 2]}}}, r"gray_zone: must lie in \[0, 1\]"),
        ({"domains": {"general": {"gray_zone": [0.1]}}}, r"gray_zone: expected \[low, high\]"),
        ({"domains": {"general": {"stakes": "huge"}}}, r"^domains.general.stakes"),
        ({"domains": {"general": {"max_retries": -1}}}, r"max_retries"),
        ({"domains": {}}, r"^domains: missing"),
        ({"threshold": 0.5}, r"^domains: missing"),
        ({"domains": {"medical": {}}}, r"^default_domain: missing, and there is no 'general' domain"),
        (
            {"default_domain": "legal", "domains": {"general": {}}},
            r"^default_domain: 'legal' is not among the domains",
        ),
        (
            {"domains": {"general": {}}, "risk": {"domains": {"legal": {"stakes": "high"}}}},
            r"^risk.domains: \['legal'\] are not among",
        ),
        ({"domains": {"general": {"treshold": 0.5}}}, r"^domains.general: unknown keys \['treshold'\]"),
        ({"tresh": 1, "domains": {"general": {}}}, r"^policy: unknown keys"),
        ({"strict_stakes": "extreme", "domains": {"general": {}}}, r"^strict_stakes"),
        (
            {"stakes_thresholds": {"huge": 0.9}, "domains": {"general": {}}},
            r"^stakes_thresholds.huge: unknown",
        ),
        (
            {"stakes_thresholds": {"high": 1.5}, "domains": {"general": {}}},
            r"^stakes_thresholds.high: must lie",
        ),
        (
            {"costs": {"verify": -1}, "domains": {"general": {}}},
            r"^costs.verify: must be a non-negative number",
        ),
    ],
)
def test_invalid_configurations(config, match):
    with pytest.raises(ConfigError, match=match):
        Policy(config)


def test_invalid_toml(tmp_path):
    with pytest.raises(ConfigError, match=r"^policy: not valid TOML"):
        Policy.from_toml("threshold = = 1\n[domains.general]\n")
    with pytest.raises(ConfigError, match=r"^path: cannot read policy file"):
        Policy.from_toml(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="unknown action 'hide'"):
        Policy.from_toml('[domains.general]\nbelow = "hide"\n')
    with pytest.raises(ConfigError, match=r"^config"):
        Policy.from_dict(["not", "a", "mapping"])


@pytest.mark.parametrize("bad", [math.nan, 1.5, -0.1, "high", None, True])
def test_decide_refuses_bad_confidence(policy, bad):
    with pytest.raises(InvalidArgumentError, match=r"^confidence"):
        policy.decide(bad)


def test_decide_unknown_domain(policy):
    with pytest.raises(InvalidArgumentError, match=r"^domain: 'legal' is not configured"):
        policy.decide(0.9, domain="legal")


def test_numpy_scalars_accepted(policy):
    np = pytest.importorskip("numpy")
    assert policy.decide(np.float32(0.85)).action is Action.ANSWER
    assert policy.decide(np.float64(0.3)).action is Action.ABSTAIN


# ----------------------------------------------------------------- a real guaranteed threshold


def test_strict_path_with_a_real_selective_threshold(mmlu):
    """SelectiveThreshold fitted on half of LLaMA-13B's MMLU answers (confidence = top option
    probability); on the other half the strict path answers exactly when accept() says so, and
    the reason names the certified threshold and its target."""
    import warnings

    from credo.conformal import NoThresholdWarning, SelectiveThreshold

    conf = np.concatenate([p.max(axis=1) for p, _ in mmlu.values()])
    correct = np.concatenate([p.argmax(axis=1) == t for p, t in mmlu.values()])
    perm = np.random.default_rng(0).permutation(len(conf))
    cal, test = perm[: len(conf) // 2], perm[len(conf) // 2 :]
    thr = SelectiveThreshold(target_risk=0.3, delta=0.1).fit(conf[cal], correct[cal])
    assert thr.feasible_ and 0.0 < thr.threshold_ < 1.0
    p = Policy.from_toml(TOML, thresholds={"finance": thr})
    answered = []
    for c in conf[test][:400]:
        c = float(c)
        d = p.decide(c, domain="finance")
        assert d.tier == "strict"
        assert (d.action is Action.ANSWER) == thr.accept(c) == (c >= thr.threshold_)
        if d.action is Action.ANSWER:
            assert d.threshold == thr.threshold_
            assert d.reasons[-1] == (
                f"Confidence {c:.2f} clears the guaranteed threshold {thr.threshold_:.3f} (error rate "
                "at most 30.0% among answered requests, with probability 90%) of domain 'finance'."
            )
        else:
            assert f"the guaranteed threshold {thr.threshold_:.3f}" in d.reasons[-1]
            # Not accepted: gray-zone checks, then the strict action; never an answer.
            final = p.decide(c, domain="finance", checks_done={"verify", "retrieve", "escalate"})
            assert final.action is Action.ESCALATE
        answered.append(d.action is Action.ANSWER)
    # The guarantee carries over to fresh data: the error rate among answered stays near 30 %.
    acc = correct[test][:400][np.array(answered)]
    assert 0 < len(acc) < 400 and 1 - acc.mean() <= 0.35
    # Not fitted / fitted per segment / infeasible: clear errors or a reason that says so.
    with pytest.raises(ConfigError, match=r"^thresholds.finance: SelectiveThreshold is not fitted"):
        Policy.from_toml(TOML, thresholds={"finance": SelectiveThreshold()})
    seg = SelectiveThreshold(target_risk=0.3).fit(conf[cal], correct[cal], segments=cal % 2)
    with pytest.raises(ConfigError, match=r"^thresholds.finance: SelectiveThreshold was fitted per segment"):
        Policy.from_toml(TOML, thresholds={"finance": seg})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoThresholdWarning)
        none = SelectiveThreshold(target_risk=0.001, delta=0.01).fit(conf[cal][:50], correct[cal][:50])
    assert not none.feasible_
    d = Policy.from_toml(TOML, thresholds={"finance": none}).decide(0.999, domain="finance")
    assert d.action is not Action.ANSWER
    assert "none could be certified on the calibration data" in d.explain()
