"""Cascade: each tier and rule over user callables, budgets, asyncio, and the SVAMP worked example
(one sample first, more only in the gray zone) against always-30-samples majority voting."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credo import Action, AdaptiveStopping, Cascade, Policy, agree
from credo.cascade import CascadeState, smoothed_majority
from credo.exceptions import InvalidArgumentError
from credo.risk import InputRisk, TooShort
from credo.verify import VerifierResult

from .conftest import data_path

POLICY = Policy(
    {
        "threshold": 0.75,
        "gray_zone": [0.0, 0.75],
        "gray_zone_checks": ["verify"],
        "max_retries": 1,
        "costs": {"verify": 2.0, "retrieve": 3.0, "escalate": 10.0},
        "domains": {"general": {}, "medical": {"stakes": "high", "threshold": 0.9, "gray_zone": [0.0, 0.9]}},
    }
)


def scripted(answers):
    """A sampler drawing the scripted answers in order."""
    it = iter(answers)
    return lambda request, state: next(it)


class HopelessStop:
    """A minimal stopping rule (only should_stop(counts)): stops once the leading answer can no
    longer reach the threshold within the sample budget."""

    def __init__(self, threshold, max_samples=30):
        self.threshold, self.max_samples = threshold, max_samples

    def should_stop(self, counts):
        n = sum(counts)
        top = counts[0] if counts else 0
        return (top + self.max_samples - n) / (self.max_samples + 1) < self.threshold


def test_smoothed_majority_and_state():
    st = CascadeState(request="q", samples=["a", None, "b", "a", "c"])
    assert st.counts == [2, 1, 1] and st.majority == "a"
    assert smoothed_majority(st) == pytest.approx(2 / 6)
    tie = CascadeState(request="q", samples=["b", "a", "a", "b"])
    assert tie.majority == "b"
    assert CascadeState(request="q", samples=[None]).majority is None


def test_gray_zone_samples_until_confident():
    c = Cascade(POLICY, sample=scripted(["7", "7", "7", "9"]))
    r = c.run("q")
    # 1 sample: 1/2; 2: 2/3; 3: 3/4 = 0.75 clears the threshold.
    assert (r.action, r.answer, r.n_samples, r.cost) == (Action.ANSWER, "7", 3, 3.0)
    steps = [s.step for s in r.trace]
    assert steps == ["sample", "decide", "sample", "decide", "sample", "decide"]
    assert r.trace[1].action == "verify" and "gray zone" in r.trace[1].detail
    assert r.decision.reasons[-1] == "Confidence 0.75 clears the threshold 0.75 of domain 'general'."


def test_confident_first_sample_answers_at_once():
    c = Cascade(POLICY, sample=scripted(["x"]), confidence=lambda st: 0.9)
    r = c.run("q")
    assert (r.action, r.answer, r.n_samples) == (Action.ANSWER, "x", 1)


def test_stopping_rule_ends_sampling_then_abstains():
    answers = ["1", "2", "3", "4", "5", "6", "7", "8"]
    c = Cascade(POLICY, sample=scripted(answers), stopping=HopelessStop(0.75, max_samples=8), max_samples=8)
    r = c.run("q")
    # After n samples with top = 1 the best reachable share is (1 + 8 - n) / 9 < 0.75 once n >= 3.
    assert (r.action, r.answer, r.n_samples) == (Action.ABSTAIN, None, 3)
    assert "sampling stopped" in r.trace[-2].detail


def test_verifier_failure_retries_with_fresh_samples():
    seen = []

    def verify(request, answer, state):
        seen.append((answer, state.attempt))
        return VerifierResult(False, 0.0, "12 * 12 = 140 is wrong.", "arithmetic")

    c = Cascade(POLICY, sample=scripted(["1", "2", "3", "4"]), verify=verify, max_samples=2)
    r = c.run("q")
    assert seen == [("1", 0), ("3", 1)]  # verified the majority of each attempt
    assert r.action is Action.ABSTAIN and r.n_samples == 2
    assert [s.step for s in r.trace if s.step != "decide"] == [
        "sample",
        "sample",
        "verify",
        "retry",
        "sample",
        "verify",
    ]
    assert r.cost == 1 + 1 + 2 + 1 + 1 + 2
    assert r.decision.reasons[0].startswith("A verifier failed: arithmetic")
    assert r.decision.reasons[-1] == "Nothing left to try, so the request is declined."


def test_passing_verifier_then_gray_zone_exhausted():
    c = Cascade(POLICY, sample=scripted(["1", "2"]), verify=lambda q, a, s: True, max_samples=2)
    r = c.run("q")
    assert r.action is Action.ABSTAIN and "after the gray-zone checks" in r.decision.reasons[-1]


def test_retrieval_raises_coverage():
    calls = []

    def retrieve(request, state):
        calls.append(request)
        return 0.9

    c = Cascade(
        POLICY,
        sample=scripted(["a"]),
        confidence=lambda st: {"confidence": 0.95, "coverage": 0.2},
        retrieve=retrieve,
    )
    r = c.run("q")
    assert calls == ["q"] and r.action is Action.ANSWER and r.cost == 1 + 3
    assert [s.step for s in r.trace] == ["sample", "decide", "retrieve", "decide"]


def test_strict_domain_escalates_through_the_hook():
    c = Cascade(POLICY, sample=scripted(["a", "b"]), escalate=lambda q, st: "expert answer", max_samples=2)
    r = c.run("q", domain="medical")
    assert (r.action, r.answer, r.decision.tier) == (Action.ESCALATE, "expert answer", "strict")
    assert r.trace[-1].step == "escalate" and r.cost == 2 + 10
    # Without the hook the decision is returned for the caller to act on.
    r = Cascade(POLICY, sample=scripted(["a", "b"]), max_samples=2).run("q", domain="medical")
    assert r.action is Action.ESCALATE and r.answer is None


def test_ambiguous_input_asks_without_sampling():
    drawn = []
    c = Cascade(POLICY, sample=lambda q, st: drawn.append(q))
    r = c.run(
        "it?",
        risk=InputRisk("general", "low", (), ("too_short",), (TooShort(1),)),
    )
    assert r.action is Action.ASK and drawn == [] and r.cost == 0.0


def test_repetition_signal_retries():
    c = Cascade(
        POLICY,
        sample=scripted(["loop", "fine", "fine", "fine"]),
        confidence=lambda st: {"confidence": 0.99, "repetition": 0.9 if st.attempt == 0 else 0.0},
    )
    r = c.run("q")
    assert r.action is Action.ANSWER and r.answer == "fine" and r.trace[2].step == "retry"


def test_cost_budget_stops_spending():
    c = Cascade(POLICY, sample=scripted(["1", "2", "3", "4"]), budget_cost=3.0)
    r = c.run("q")
    assert r.action is Action.ABSTAIN and r.n_samples == 3 and r.cost == 3.0
    assert "budget does not allow the sampling step" in r.decision.reasons[-1]
    r = Cascade(POLICY, sample=scripted(["1", "2"]), budget_cost=1.0, escalate=lambda q, s: "x").run(
        "q", domain="medical"
    )
    assert r.action is Action.ESCALATE and r.answer is None  # escalation itself is over budget
    with pytest.raises(InvalidArgumentError, match=r"^budget_cost"):
        Cascade(POLICY, sample=scripted(["1"]), budget_cost=0.5).run("q")


def test_latency_budget():
    c = Cascade(POLICY, sample=scripted(["1", "2", "3"]), budget_latency_s=0.0)
    r = c.run("q")
    assert r.action is Action.ABSTAIN and r.n_samples == 1 and r.latency_s > 0


def test_async_matches_sync_and_draws_concurrently():
    answers = ["5", "6", "5", "5", "6", "5", "5", "5", "5", "5", "5", "5", "5", "5", "5", "5"]
    sync = Cascade(POLICY, sample=scripted(answers), batch_size=3).run("q")
    live = {"now": 0, "peak": 0}
    it = iter(answers)

    async def sample(request, state):
        a = next(it)
        live["now"] += 1
        live["peak"] = max(live["peak"], live["now"])
        await asyncio.sleep(0.001)
        live["now"] -= 1
        return a

    async def verify(request, answer, state):
        return True

    res = asyncio.run(Cascade(POLICY, sample=sample, batch_size=3).arun("q"))
    assert (res.action, res.answer, res.n_samples, res.cost) == (
        sync.action,
        sync.answer,
        sync.n_samples,
        sync.cost,
    )
    assert [s.step for s in res.trace] == [s.step for s in sync.trace]
    assert live["peak"] == 3
    with pytest.raises(InvalidArgumentError, match=r"^sample: returned a coroutine"):
        Cascade(POLICY, sample=sample).run("q")


def test_bad_arguments():
    s = scripted(["a"])
    with pytest.raises(InvalidArgumentError, match=r"^policy"):
        Cascade({"threshold": 0.5}, sample=s)
    with pytest.raises(InvalidArgumentError, match=r"^sample"):
        Cascade(POLICY, sample=None)
    with pytest.raises(InvalidArgumentError, match=r"^verify"):
        Cascade(POLICY, sample=s, verify=3)
    with pytest.raises(InvalidArgumentError, match=r"^stopping"):
        Cascade(POLICY, sample=s, stopping=object())
    with pytest.raises(InvalidArgumentError, match=r"^initial_samples"):
        Cascade(POLICY, sample=s, initial_samples=5, max_samples=3)
    with pytest.raises(InvalidArgumentError, match=r"^batch_size"):
        Cascade(POLICY, sample=s, batch_size=0)
    with pytest.raises(InvalidArgumentError, match=r"^budget_cost"):
        Cascade(POLICY, sample=s, budget_cost=-1)
    with pytest.raises(InvalidArgumentError, match=r"^domain"):
        Cascade(POLICY, sample=s).run("q", domain="law")
    with pytest.raises(InvalidArgumentError, match=r"^confidence"):
        Cascade(POLICY, sample=s, confidence=lambda st: {"coverage": 1.0}).run("q")


# ----------------------------------------------------------------- SVAMP worked example


def correct(answer, gold):
    try:
        return abs(float(answer) - gold) < 1e-4 * max(1.0, abs(gold))
    except (TypeError, ValueError):
        return False


def agree_confidence(stopping):
    """Confidence callable: credo.agree clusters the votes by value; the confidence of the
    majority is the stopping rule's own statistic (beta: P(p1 > p2) given the top two counts)."""

    def confidence(state):
        votes = [a for a in state.samples if a]
        if not votes:
            return 0.0
        r = agree(votes, method="numeric")
        counts = sorted(r.sizes.tolist(), reverse=True)
        return {"confidence": stopping.statistic(counts), "answer": r.majority_answer, "counts": counts}

    return confidence


def test_adaptive_stopping_and_agree_drive_the_cascade():
    # "7" and "7.0" are one answer by value: credo.agree's cluster, its majority answer is the
    # first seen; the beta statistic after 4 agreeing votes is 1 - 0.5**5 = 0.96875.
    stop = AdaptiveStopping("beta", confidence=0.95, max_samples=30)
    pol = Policy({"threshold": 0.95, "gray_zone": [0.0, 0.95], "domains": {"general": {}}})
    c = Cascade(
        pol, sample=scripted(["7", "7.0", None, "7", "7.00", "3"]), confidence=agree_confidence(stop), stopping=stop
    )
    r = c.run("q")
    assert (r.action, r.answer, r.n_samples) == (Action.ANSWER, "7", 5)
    assert r.decision.confidence == pytest.approx(1 - 0.5**5)
    # A split vote never settles: sampling runs to the cascade's budget, the rule's statistic in
    # the trace, then the request is declined.
    stop = AdaptiveStopping("beta", confidence=0.95, max_samples=6)
    c = Cascade(pol, sample=scripted(["1", "2"] * 10), confidence=agree_confidence(stop), stopping=stop, max_samples=30)
    r = c.run("q")
    assert (r.action, r.answer, r.n_samples) == (Action.ABSTAIN, None, 6)
    assert "sampling stopped by the beta rule, statistic 0.500" in r.trace[-2].detail
    # The exact-match counts are used when the confidence callable gives none.
    c = Cascade(pol, sample=scripted(["a", "b", "c", "d"]), stopping=AdaptiveStopping("beta", max_samples=3))
    r = c.run("q")
    assert (r.action, r.n_samples) == (Action.ABSTAIN, 3)


def test_svamp_cascade_vs_always_30_majority(capsys):
    """Start from one sample; in the gray zone draw one more at a time; credo.agree clusters the
    programs' answers by value and AdaptiveStopping(rule='beta') gives the confidence that the
    majority is settled, P(p1 > p2); answer as soon as it clears the threshold, abstain when 30
    samples are spent. Baseline: credo.agree's majority over all 30 samples, always answering."""
    rows = [
        json.loads(line) for line in data_path("svamp-selfconsistency", "svamp_answers.jsonl").read_text().splitlines()
    ]
    base = []
    for r in rows:
        votes = [a for a in r["answers"] if a]
        base.append(bool(votes) and correct(agree(votes, method="numeric").majority_answer, r["gold"]))
    # Independent check of the baseline: a plain count of the values.
    plain = []
    for r in rows:
        c = Counter(round(float(a), 6) for a in r["answers"] if a)
        plain.append(bool(c) and correct(c.most_common(1)[0][0], r["gold"]))
    base_acc = float(np.mean(base))
    assert base_acc == pytest.approx(float(np.mean(plain)), abs=0.002)
    # A stronger baseline: all 30 samples, answering the same share of questions, those whose
    # majority is largest (ties at the cut in question order).
    shares = np.array([max(Counter(a for a in r["answers"] if a).values(), default=0) for r in rows])
    order = np.argsort(-shares, kind="stable")
    table = []
    for thr in (0.9, 0.95, 0.99):
        pol = Policy({"threshold": thr, "gray_zone": [0.0, thr], "domains": {"general": {}}})
        out = []
        for r in rows:
            stop = AdaptiveStopping("beta", confidence=thr, max_samples=30)
            casc = Cascade(
                pol,
                sample=scripted([a or None for a in r["answers"]]),
                confidence=agree_confidence(stop),
                stopping=stop,
                max_samples=30,
            )
            res = casc.run(r["question"])
            assert res.action in (Action.ANSWER, Action.ABSTAIN)
            assert res.n_samples <= 30 and res.cost == res.n_samples
            assert res.action is Action.ABSTAIN or res.decision.confidence >= thr
            out.append((res.action is Action.ANSWER, correct(res.answer, r["gold"]), res.n_samples))
        a = np.array(out, dtype=float)
        answered = a[:, 0] == 1
        table.append((thr, a[answered, 1].mean(), answered.mean(), a[:, 2].mean()))
    with capsys.disabled():
        print(f"\nSVAMP ({len(rows)} questions): cascade (credo.agree + AdaptiveStopping beta) vs always-30")
        print("  policy                     acc(answered)  coverage  mean samples")
        print(f"  always 30, majority vote   {base_acc:.4f}         1.0000    30.00")
        for thr, acc, cov, ms in table:
            top = order[: round(cov * len(rows))]
            matched = float(np.mean(np.array(base)[top]))
            print(f"  cascade, threshold {thr:.2f}    {acc:.4f}         {cov:.4f}    {ms:5.2f}")
            print(f"    30 samples, same coverage {matched:.4f}        {cov:.4f}    30.00")
    by_thr = {t[0]: t for t in table}
    _, acc, cov, ms = by_thr[0.95]
    assert acc > base_acc and cov > 0.9 and ms < 8  # more accurate where it answers, ~5x fewer samples
    accs = [t[1] for t in table]
    covs = [t[2] for t in table]
    spent = [t[3] for t in table]
    # The threshold trades coverage (and samples) for accuracy.
    assert accs == sorted(accs) and covs == sorted(covs, reverse=True) and spent == sorted(spent)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from(["a", "b", "c", None]), min_size=30, max_size=30),
    st.sampled_from(["general", "medical"]),
    st.integers(1, 3),
    st.one_of(st.none(), st.floats(1, 12)),
    st.booleans(),
)
def test_cascade_invariants(answers, domain, batch, budget, with_verify):
    verify = (lambda q, a, s: a == "a") if with_verify else None
    c = Cascade(POLICY, sample=scripted(answers), batch_size=batch, max_samples=12, budget_cost=budget, verify=verify)
    r = c.run("q", domain=domain)
    assert r.decision.settled
    assert r.n_samples <= 12
    assert r.cost == pytest.approx(sum(s.cost for s in r.trace))
    assert budget is None or r.cost <= budget + 1e-9
    if r.action is Action.ANSWER:
        assert r.answer is not None and r.decision.confidence >= r.decision.threshold
    assert r.trace[-1].step in ("decide", "escalate")
