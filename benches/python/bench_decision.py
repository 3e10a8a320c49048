"""One complete decision from 256 top-k logprob records: signals → combined calibrated confidence
→ policy. Target: p99 < 25 µs per decision, single-threaded.

The top-k signal function (credo.topk_signals) is not part of this branch yet: the per-response
features (renormalised top-k entropy, chosen log-probability, margin, tail mass) are computed
with NumPy in the setup, and the timed path is ``ConfidenceModel.predict_one`` (Rust logistic +
calibrator) followed by ``Policy.decide``. Also recorded: evidence coverage in batch over 1 and 2
threads (the GIL is released there).
"""

from __future__ import annotations

import math
import time

import numpy as np
from _harness import QUICK, best_time, record, record_bound

from credo import ConfidenceModel, Policy, evidence

T, K = 256, 20  # records per response, logprobs per record


class PlattDouble:
    """Stand-in for credo.calibration.PlattScaling (fit/predict, scalar fast path) until merged."""

    def fit(self, scores, y):
        p = np.clip(np.asarray(scores, dtype=np.float64), 1e-6, 1 - 1e-6)
        z = np.log(p / (1 - p))
        self.a_, self.b_ = 1.0, float(np.log(np.mean(y) / (1 - np.mean(y))) - np.mean(z))
        return self

    def predict(self, scores):
        if scores.__class__ is float:
            p = min(max(scores, 1e-6), 1 - 1e-6)
            return 1.0 / (1.0 + math.exp(-(self.a_ * math.log(p / (1 - p)) + self.b_)))
        p = np.clip(np.asarray(scores, dtype=np.float64), 1e-6, 1 - 1e-6)
        return 1.0 / (1.0 + np.exp(-(self.a_ * np.log(p / (1 - p)) + self.b_)))


def topk_features(rng: np.random.Generator, n: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Synthetic top-k logprob responses [n, T, K] and the features a server would derive."""
    sharp = rng.uniform(0.5, 4.0, size=(n, 1, 1))
    logits = rng.normal(size=(n, T, K)) * sharp
    logits.sort(axis=-1)
    logits = logits[..., ::-1]
    lp = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True)) - rng.uniform(0.0, 0.2, size=(n, T, 1))
    p = np.exp(lp)
    tail = 1.0 - p.sum(axis=-1)  # mass outside the top k
    q = p / p.sum(axis=-1, keepdims=True)
    entropy = -(q * np.log(q)).sum(axis=-1)
    chosen = lp[..., 0]
    feats = {
        "mean_entropy": entropy.mean(axis=1),
        "max_entropy": entropy.max(axis=1),
        "mean_logprob": chosen.mean(axis=1),
        "min_logprob": chosen.min(axis=1),
        "mean_margin": (lp[..., 0] - lp[..., 1]).mean(axis=1),
        "mean_tail": tail.mean(axis=1),
    }
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(2.0 * feats["mean_logprob"] + 1.5)))).astype(float)
    return feats, y


POLICY = Policy(
    {
        "threshold": 0.8,
        "gray_zone": [0.5, 0.8],
        "domains": {"general": {}, "medical": {"stakes": "high", "threshold": 0.9, "gray_zone": [0.6, 0.9]}},
    }
)


def test_decision_latency(benchmark):
    rng = np.random.default_rng(0)
    feats, y = topk_features(rng, 2000)
    model = ConfidenceModel(calibrator=PlattDouble(), holdout=0.2).fit(feats, y)
    assert model.pooled_.scalar_cal
    names = model.features_
    requests = [{k: float(feats[k][i]) for k in names} for i in range(512)]
    domains = ["general", "medical"] * 256

    def decide(i: int):
        conf = model.predict_one(requests[i])
        return POLICY.decide(conf, domain=domains[i], coverage=0.9)

    for i in range(512):  # warm-up
        decide(i)
    n = 5_000 if QUICK else 50_000
    times = np.empty(n)
    clock = time.perf_counter_ns
    for j in range(n):
        i = j & 511
        t0 = clock()
        decide(i)
        times[j] = clock() - t0
    p50, p99 = (float(v) for v in np.percentile(times, [50, 99]) / 1e3)
    print(
        f"\none decide() from 256 top-k records: p50 {p50:.2f} µs, p99 {p99:.2f} µs ({n} decisions, 1 thread)"
    )
    record_bound("decide() p99, 256 top-k records", p99 * 1e-6, "p99 target 25 µs", 25e-6, 1.0)
    record("decide() p50, 256 top-k records", p50 * 1e-6, "p99 target 25 µs", 25e-6, None)
    benchmark(decide, 7)


def test_evidence_batch_threads(benchmark):
    passage = (
        "The Eiffel Tower was completed in 1889 for the World's Fair in Paris. Gustave Eiffel's company "
        "designed and built it. The tower is 330 metres tall and is painted in three shades of brown. "
    ) * 20
    answer = "The Eiffel Tower was completed in 1889 [1]. It is 330 metres tall [2]. It is painted green [1]."
    n = 500 if QUICK else 4000
    answers = [answer] * n
    passages = [[passage, passage[::-1]]] * n
    one = best_time(lambda: evidence.coverage_batch(answers, passages, threads=1), repeat=3)
    two = best_time(lambda: evidence.coverage_batch(answers, passages, threads=2), repeat=3)
    loop = (
        best_time(
            lambda: [evidence.coverage(a, p) for a, p in zip(answers[:200], passages[:200], strict=False)],
            repeat=3,
        )
        * n
        / 200
    )
    record(f"evidence coverage_batch, {n} answers, 2 threads vs 1", two, "1 thread", one, None)
    record(
        f"evidence coverage_batch, {n} answers, 1 thread vs per-answer loop",
        one,
        "Python loop of coverage()",
        loop,
        None,
    )
    benchmark(evidence.coverage_batch, answers[:100], passages[:100])
