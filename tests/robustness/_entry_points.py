"""Every public entry point whose kernel runs in credo's thread pools, with inputs large enough
that the kernel really goes parallel (each takes well under a second)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import credo
from credo import metrics

rng = np.random.default_rng(7)
N = 40_000
P = rng.uniform(0.01, 0.99, N)
Y = (rng.uniform(size=N) < P).astype(np.int64)
PROBS = rng.dirichlet(np.ones(5), 4000)
LABELS = np.array([rng.choice(5, p=p) for p in PROBS])
LOGITS = rng.normal(size=(2048, 512)).astype(np.float32)
TOP = [np.sort(rng.normal(-3, 2, size=(200, 5)), axis=1)[:, ::-1] - 0.1 for _ in range(300)]
TOP = [np.minimum(t, 0.0) for t in TOP]
ANSWERS = [[f"answer {rng.integers(4)}" for _ in range(8)] for _ in range(400)]
PASSAGES = "The Eiffel Tower is in Paris. It was completed in 1889 and is 330 metres tall."


def _token_signals() -> object:
    return credo.token_signals(LOGITS, temperature=0.7)


def _token_signals_threads() -> object:
    return credo.token_signals(LOGITS, threads=2)


def _sequence_signals() -> object:
    return credo.sequence_signals(rng.normal(size=(512, 64, 32)))


def _topk_summary_batch() -> object:
    return credo.topk_summary_batch(TOP)


CASES: dict[str, Callable[[], object]] = {
    "token_signals": _token_signals,
    "token_signals_threads2": _token_signals_threads,
    "sequence_signals": _sequence_signals,
    "topk_summary_batch": _topk_summary_batch,
    "isotonic_fit": lambda: credo.IsotonicCalibrator().fit(P, Y).predict(P),
    "histogram_fit": lambda: credo.HistogramBinning().fit(P, Y).predict(P),
    "platt_fit": lambda: credo.PlattScaling().fit(P, Y).predict(P),
    "beta_fit": lambda: credo.BetaCalibration().fit(P, Y).predict(P),
    "temperature_fit": lambda: credo.TemperatureScaling().fit(PROBS, LABELS).predict(PROBS),
    "temperature_fit_threads1": lambda: credo.TemperatureScaling(threads=1).fit(PROBS, LABELS).predict(PROBS),
    "multiclass_fit": lambda: credo.MulticlassCalibrator().fit(PROBS, LABELS).predict(PROBS),
    "conformal_sets": lambda: credo.ConformalSets(alpha=0.1).fit(PROBS, LABELS).predict_sets(PROBS),
    "agree_batch": lambda: credo.agree_batch(ANSWERS),
    "coverage_batch": lambda: credo.evidence.coverage_batch(
        ["The tower is in Paris and is 330 metres tall."] * 200, [[PASSAGES]] * 200
    ),
    "ece": lambda: metrics.ece(Y, P, n_bins=15),
    "ece_classwise": lambda: metrics.ece(LABELS, PROBS, kind="classwise"),
    "auroc": lambda: metrics.auroc(Y, P),
    "bootstrap": lambda: metrics.bootstrap(metrics.ece, Y, P, n_resamples=200, seed=1),
    "confidence_model": lambda: (
        credo.ConfidenceModel()
        .fit({"max_prob": P, "entropy": 1 - P}, Y)
        .predict_proba({"max_prob": P, "entropy": 1 - P})
    ),
}
