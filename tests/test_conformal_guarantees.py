"""The guarantees of credo.conformal, checked by simulation on real model outputs: over many
random calibration/test splits, coverage ≥ 1 − α and the frequency of selective-risk violations
≤ δ, each within Monte-Carlo error (3 standard errors)."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

from credo.conformal import ClaimFilter, ConformalSets, NoThresholdWarning, SelectiveThreshold
from tests.conftest import data_path

SPLITS = 500


def _pooled_mmlu(mmlu):
    subjects = sorted(mmlu)
    probs = np.concatenate([mmlu[s][0] for s in subjects])
    labels = np.concatenate([mmlu[s][1] for s in subjects])
    segment = np.concatenate([np.full(len(mmlu[s][1]), i) for i, s in enumerate(subjects)])
    return probs, labels, segment


def _coverage_runs(probs, labels, n_cal, alpha, seed, segments=None, **kw):
    rng = np.random.default_rng(seed)
    cov, size = np.empty(SPLITS), np.empty(SPLITS)
    for r in range(SPLITS):
        if segments is None:
            idx = rng.permutation(len(labels))
            cal, test = idx[:n_cal], idx[n_cal:]
        else:  # split within each segment so every segment is calibrated
            cal_parts, test_parts = [], []
            for g in np.unique(segments):
                members = rng.permutation(np.flatnonzero(segments == g))
                cal_parts.append(members[: len(members) // 2])
                test_parts.append(members[len(members) // 2 :])
            cal, test = np.concatenate(cal_parts), np.concatenate(test_parts)
        seg_cal = None if segments is None else segments[cal]
        seg_test = None if segments is None else segments[test]
        cs = ConformalSets(alpha, **kw).fit(probs[cal], labels[cal], segments=seg_cal)
        sets = cs.predict_sets(probs[test], segments=seg_test)
        cov[r] = sets[np.arange(len(test)), labels[test]].mean()
        size[r] = sets.sum(1).mean()
    return cov, size


def _check_coverage(cov, alpha, n_cal_min, tight=True):
    se = cov.std(ddof=1) / math.sqrt(len(cov))
    assert cov.mean() >= 1 - alpha - 3 * se, (cov.mean(), se)
    if tight:
        # not needlessly conservative: E[coverage] ≤ 1 − α + 1/(n+1) for tie-free scores
        # (plain APS ties at score 1 for the last-ranked label, so it may over-cover)
        assert cov.mean() <= 1 - alpha + 1 / (n_cal_min + 1) + 3 * se, (cov.mean(), se)


@pytest.mark.parametrize(
    ("score", "last"),
    [("lac", True), ("aps", False), ("aps", True), ("aps", "randomized"), ("raps", "randomized")],
)
@pytest.mark.parametrize("alpha", [0.1, 0.2])
def test_sets_cover_on_mmlu(mmlu, score, last, alpha):
    probs, labels, _ = _pooled_mmlu(mmlu)
    cov, size = _coverage_runs(
        probs, labels, len(labels) // 2, alpha, seed=int(alpha * 100), score=score, include_last_label=last
    )
    _check_coverage(cov, alpha, len(labels) // 2, tight=score == "lac" or last == "randomized")
    assert size.mean() < 4  # informative: fewer than all four options on average


def test_mondrian_sets_cover_each_mmlu_subject(mmlu):
    probs, labels, segment = _pooled_mmlu(mmlu)
    rng = np.random.default_rng(7)
    per_group = {g: [] for g in np.unique(segment)}
    for _ in range(SPLITS):
        cal, test = [], []
        for g in per_group:
            members = rng.permutation(np.flatnonzero(segment == g))
            cal.append(members[: len(members) // 2])
            test.append(members[len(members) // 2 :])
        cal, test = np.concatenate(cal), np.concatenate(test)
        cs = ConformalSets(0.1, mondrian="segment").fit(probs[cal], labels[cal], segments=segment[cal])
        sets = cs.predict_sets(probs[test], segments=segment[test])
        hit = sets[np.arange(len(test)), labels[test]]
        for g in per_group:
            per_group[g].append(hit[segment[test] == g].mean())
    for g, cov in per_group.items():
        cov = np.asarray(cov)
        se = cov.std(ddof=1) / math.sqrt(len(cov))
        assert cov.mean() >= 0.9 - 3 * se, (g, cov.mean(), se)


@pytest.mark.parametrize("model", ["densenet121", "resnet18", "vgg11_bn"])
@pytest.mark.parametrize("score", ["lac", "aps"])
def test_sets_cover_on_cifar(cifar_models, model, score):
    probs, labels = cifar_models[model]
    cov, _ = _coverage_runs(probs, labels, 1000, 0.05, seed=11, score=score)
    _check_coverage(cov, 0.05, 1000, tight=score == "lac")


def test_class_conditional_sets_cover_each_cifar_class(cifar_models):
    probs, labels = cifar_models["resnet18"]
    rng = np.random.default_rng(5)
    hits = np.zeros((SPLITS, 10))
    for r in range(SPLITS):
        idx = rng.permutation(len(labels))
        cal, test = idx[:2000], idx[2000:]
        sets = ConformalSets(0.05, mondrian="class").fit(probs[cal], labels[cal]).predict_sets(probs[test])
        hit = sets[np.arange(len(test)), labels[test]]
        hits[r] = np.bincount(labels[test], weights=hit, minlength=10) / np.bincount(labels[test], minlength=10)
    se = hits.std(0, ddof=1) / math.sqrt(SPLITS)
    assert (hits.mean(0) >= 0.95 - 3 * se).all(), hits.mean(0)


def _violations(conf, correct, n_cal, target, delta, seed, **kw):
    rng = np.random.default_rng(seed)
    viol = np.zeros(SPLITS, bool)
    feasible = np.zeros(SPLITS, bool)
    covered = np.zeros(SPLITS)
    joint = np.zeros(SPLITS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoThresholdWarning)
        for r in range(SPLITS):
            idx = rng.permutation(len(conf))
            cal, test = idx[:n_cal], idx[n_cal:]
            st = SelectiveThreshold(target, delta, **kw).fit(conf[cal], correct[cal])
            ans = st.accept(conf[test])
            feasible[r] = st.feasible_
            covered[r] = ans.mean()
            wrong = ans & ~correct[test]
            joint[r] = wrong.mean()
            if ans.any():
                viol[r] = wrong.sum() / ans.sum() > target
    return viol, feasible, covered, joint


def _mc_bound(delta):
    return delta + 3 * math.sqrt(delta * (1 - delta) / SPLITS)


LTT_VARIANTS = [
    {"method": "ltt", "p_value": "binomial"},
    {"method": "ltt", "p_value": "hoeffding_bentkus"},
    {"method": "ltt", "p_value": "binomial", "fwer": "bonferroni", "grid": 20},
    {"method": "sgr"},
]


@pytest.mark.parametrize("kw", LTT_VARIANTS, ids=lambda kw: "-".join(str(v) for v in kw.values()))
def test_selective_risk_violations_on_mmlu(mmlu, kw):
    probs, labels, _ = _pooled_mmlu(mmlu)
    conf, correct = probs.max(1), probs.argmax(1) == labels
    viol, feasible, covered, _ = _violations(conf, correct, 1000, 0.25, 0.1, seed=3, **kw)
    assert viol.mean() <= _mc_bound(0.1), viol.mean()
    assert feasible.mean() > 0.3 and covered[feasible].mean() > 0.05  # not vacuous


@pytest.mark.parametrize("kw", LTT_VARIANTS, ids=lambda kw: "-".join(str(v) for v in kw.values()))
def test_selective_risk_violations_on_cifar(cifar_models, kw):
    probs, labels = cifar_models["densenet121"]
    conf, correct = probs.max(1), probs.argmax(1) == labels
    viol, feasible, covered, _ = _violations(conf, correct, 3000, 0.02, 0.1, seed=4, **kw)
    assert viol.mean() <= _mc_bound(0.1), viol.mean()
    assert feasible.mean() > 0.9 and covered[feasible].mean() > 0.5


def test_crc_controls_expected_joint_risk(mmlu, cifar_models):
    probs, labels, _ = _pooled_mmlu(mmlu)
    for (p, y), target, n_cal in (((probs, labels), 0.15, 1000), (cifar_models["resnet18"], 0.01, 2000)):
        conf, correct = p.max(1), p.argmax(1) == y
        _, _, covered, joint = _violations(conf, correct, n_cal, target, 0.1, seed=9, method="crc")
        se = joint.std(ddof=1) / math.sqrt(SPLITS)
        assert joint.mean() <= target + 3 * se, (joint.mean(), se)
        assert joint.mean() >= target - 1 / (n_cal + 1) - 0.01 - 3 * se  # tight, not vacuous
        assert covered.mean() > 0.2


def _factuality(name):
    data = json.loads(data_path("factuality-gpt4", f"{name}_subclaims_with_scores.jsonl").read_text())["data"]
    scores = [np.array([c["frequency+gpt-score"] + c["noise"] for c in d["claims"]]) for d in data]
    labels = [np.array([c["annotation"].strip() == "Y" for c in d["claims"]]) for d in data]
    return scores, labels


@pytest.mark.parametrize(
    ("datasets", "alpha", "n_cal"),
    [(("nq", "factscore", "MATH"), 0.1, 100), (("factscore",), 0.2, 30), (("MATH",), 0.2, 30)],
)
def test_claim_filter_factuality_guarantee(datasets, alpha, n_cal):
    scores, labels = [], []
    for name in datasets:
        s, y = _factuality(name)
        scores += s
        labels += y
    rng = np.random.default_rng(2)
    frac = np.empty(SPLITS * 2)
    kept = np.empty(SPLITS * 2)
    for r in range(len(frac)):
        idx = rng.permutation(len(scores))
        cal, test = idx[:n_cal], idx[n_cal:]
        cf = ClaimFilter(alpha).fit([scores[i] for i in cal], [labels[i] for i in cal])
        ok = [bool(labels[i][cf.keep(scores[i])].all()) for i in test]
        frac[r] = np.mean(ok)
        kept[r] = np.mean(np.concatenate([cf.keep(scores[i]) for i in test]))
    se = frac.std(ddof=1) / math.sqrt(len(frac))
    assert frac.mean() >= 1 - alpha - 3 * se, (frac.mean(), se)
    assert kept.mean() > 0.05  # keeps something
