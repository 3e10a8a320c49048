"""credo.metrics on real model outputs: 14 CIFAR-10 CNNs and LLaMA-13B on 16 MMLU subjects,
cross-checked against scikit-learn and float64 NumPy, stratified by model / subject."""

from __future__ import annotations

import numpy as np
import pytest

from credo import metrics as M

from . import _metric_refs as R

pytest.importorskip("sklearn")  # the reference implementation
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score


def numpy_bincount_ece(conf, correct, n_bins=15):
    idx = np.minimum((conf * n_bins).astype(np.int64), n_bins - 1)
    cnt = np.bincount(idx, minlength=n_bins)
    gap = np.abs(np.bincount(idx, correct, n_bins) - np.bincount(idx, conf, n_bins))
    return gap.sum() / len(conf) if cnt.sum() else 0.0


def test_cifar_models_against_references(cifar_models):
    assert len(cifar_models) == 14
    for name, (probs, labels) in cifar_models.items():
        probs = probs / probs.sum(1, keepdims=True)  # CSV rounding
        conf, correct = M.top_label(labels, probs)
        assert M.ece(labels, probs) == pytest.approx(numpy_bincount_ece(conf, correct), abs=1e-12), name
        assert M.ece(labels, probs, convention="netcal") == pytest.approx(R.netcal_ece(probs, labels), abs=1e-12), name
        assert M.auroc(correct, conf) == pytest.approx(roc_auc_score(correct, conf), abs=1e-12), name
        onehot_brier = brier_score_loss(labels, probs, labels=list(range(10)))
        assert M.brier_score(labels, probs) == pytest.approx(onehot_brier, abs=1e-12), name
        assert M.nll(labels, probs) == pytest.approx(log_loss(labels, probs, labels=list(range(10))), abs=1e-10), name


def test_cifar_by_model_table(cifar_models):
    names = sorted(cifar_models)
    conf = np.concatenate(
        [
            M.top_label(cifar_models[n][1], cifar_models[n][0] / cifar_models[n][0].sum(1, keepdims=True))[0]
            for n in names
        ]
    )
    correct = np.concatenate(
        [
            M.top_label(cifar_models[n][1], cifar_models[n][0] / cifar_models[n][0].sum(1, keepdims=True))[1]
            for n in names
        ]
    )
    model = np.repeat(names, 10000)
    table = M.by_segment({"ece": M.ece, "auroc": M.auroc, "aurc": M.aurc, "smece": M.smooth_ece}, correct, conf, model)
    assert list(table["segment"][1:]) == names and (table["count"][1:] == 10000).all()
    # Modern CNNs on CIFAR-10 are accurate and somewhat over-confident: ECE of a few percent, and
    # confidence ranks errors well.
    assert (table["ece"][1:] < 0.1).all() and (table["auroc"][1:] > 0.8).all()
    # smECE and binned ECE agree in order of magnitude on every model.
    ratio = table["smece"][1:] / table["ece"][1:]
    assert ((ratio > 0.3) & (ratio < 3)).all()


def test_mmlu_subjects(mmlu):
    rows = []
    for subject, (probs, targets) in mmlu.items():
        conf, correct = M.top_label(targets, probs)
        e = M.ece(targets, probs)
        assert e == pytest.approx(numpy_bincount_ece(conf, correct), abs=1e-12), subject
        if 0 < correct.sum() < len(correct):
            assert M.auroc(correct, conf) == pytest.approx(roc_auc_score(correct, conf), abs=1e-12), subject
        # Binned ECE bounds calibration-in-the-large: ECE ≥ |accuracy − mean confidence|.
        assert e >= abs(correct.mean() - conf.mean()) - 1e-12, subject
        ci = M.bootstrap(M.ece, targets, probs, n_resamples=200, seed=0)
        # ECE is biased upwards, so its percentile interval sits at or above the estimate on
        # these small subjects (n = 109…343); it still brackets it within the bias.
        assert ci.low - 0.01 <= e <= ci.high, subject
        rows.append(M.auroc(correct, conf))
    # Averaged over prompts, LLaMA-13B's confidence ranks its errors better than chance on almost
    # every subject (formal_logic is the exception).
    assert sum(a > 0.5 for a in rows) >= len(rows) - 2


def test_mmlu_by_subject_table_matches_loop(mmlu):
    subjects = sorted(mmlu)
    probs = np.concatenate([mmlu[s][0] for s in subjects])
    targets = np.concatenate([mmlu[s][1] for s in subjects])
    seg = np.concatenate([[s] * len(mmlu[s][1]) for s in subjects])
    table = M.by_segment(["ece", "brier_score", "nll"], targets, probs, seg, as_frame=False)
    for i, s in enumerate(subjects, start=1):
        assert table["ece"][i] == M.ece(*mmlu[s][::-1])
        assert table["nll"][i] == pytest.approx(log_loss(mmlu[s][1], mmlu[s][0], labels=[0, 1, 2, 3]), abs=1e-10)
