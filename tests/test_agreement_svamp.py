"""Self-consistency on real samples: 30 Codex programs per SVAMP question (Program of Thoughts).

Checks the majority answer and agreement rate against an independent pure-Python count, the AUROC
of agreement against correctness with scikit-learn, and that adaptive stopping, replaying the 30
samples in order, saves well over a third of the samples for under one point of accuracy.
"""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from credo.agreement import AdaptiveStopping, agree, agree_batch
from tests.conftest import data_path

pytest.importorskip("sklearn")  # the reference implementation
from sklearn.metrics import roc_auc_score


def is_correct(answer: str | None, gold: float) -> bool:
    try:
        return abs(float(answer) - gold) <= 1e-4 * max(1.0, abs(gold))
    except (TypeError, ValueError):
        return False


@pytest.fixture(scope="module")
def svamp() -> list[dict]:
    path = data_path("svamp-selfconsistency", "svamp_answers.jsonl")
    with path.open() as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope="module")
def batch(svamp):
    return agree_batch([r["answers"] for r in svamp], method="numeric")


def reference_vote(answers: list[str]) -> tuple[str, float]:
    """Majority by value (floats equal within 1e-6 relative), first-seen wins ties; share of all."""
    keys = []
    for a in answers:
        try:
            keys.append(round(float(a), 6))
        except ValueError:
            keys.append(a)
    counts = Counter(keys)
    best = max(counts.values())
    winner = next(k for k in keys if counts[k] == best)
    return answers[keys.index(winner)], best / len(answers)


def test_majority_and_agreement_match_a_plain_count(svamp, batch):
    assert len(batch) == len(svamp) == 999
    for i, row in enumerate(svamp):
        answer, share = reference_vote(row["answers"])
        assert batch.majority_answers[i] == answer
        assert batch.agreement[i] == pytest.approx(share, abs=1e-12)
    one = agree(svamp[4]["answers"], method="numeric")
    assert one.majority_answer == batch.majority_answers[4] and one.agreement == batch.agreement[4]


def test_majority_accuracy_and_auroc(svamp, batch):
    correct = np.array([is_correct(a, r["gold"]) for a, r in zip(batch.majority_answers, svamp, strict=True)])
    single = np.array([is_correct(r["answers"][0], r["gold"]) for r in svamp])
    auroc = roc_auc_score(correct, batch.agreement)
    # Voting beats a single sample, and agreement separates right from wrong majorities.
    assert correct.mean() > single.mean()
    assert auroc > 0.8
    # Lower semantic entropy also ranks correctness (discrete SE is a decreasing view of agreement).
    assert roc_auc_score(correct, -batch.se_discrete) > 0.8
    print(f"\nSVAMP: majority acc {correct.mean():.4f}, first sample {single.mean():.4f}, AUROC {auroc:.4f}")


def replay(svamp, stopper: AdaptiveStopping) -> tuple[float, float]:
    spent, right = [], []
    for row in svamp:
        stream = iter(row["answers"])
        res = stopper.run(stream.__next__)
        assert res.samples == row["answers"][: res.n_samples]
        spent.append(res.n_samples)
        right.append(is_correct(res.answer, row["gold"]))
    return float(np.mean(spent)), float(np.mean(right))


@pytest.mark.parametrize(
    ("rule", "kwargs"),
    [("beta", {"confidence": 0.99}), ("dirichlet", {"confidence": 0.99}), ("entropy", {"threshold": 0.5})],
)
def test_adaptive_stopping_saves_samples_for_under_a_point(svamp, batch, rule, kwargs):
    full = np.mean([is_correct(a, r["gold"]) for a, r in zip(batch.majority_answers, svamp, strict=True)])
    mean_spent, acc = replay(svamp, AdaptiveStopping(rule, max_samples=30, **kwargs))
    saved = 1 - mean_spent / 30
    print(f"\n{rule} {kwargs}: {mean_spent:.2f} samples/q, saved {saved:.1%}, acc {acc:.4f} vs {full:.4f}")
    assert saved > 0.5
    assert full - acc < 0.01
