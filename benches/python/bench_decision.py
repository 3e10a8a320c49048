"""One complete decision from 256 top-k logprob records: signals → combined calibrated confidence
→ policy. Target: p99 < 25 µs per decision, single-threaded.

The timed path starts from the raw records of one response — the ``[256, k]`` top-logprob array
and the chosen tokens' logprobs, as ``credo.formats.from_openai`` returns them (k = 5 and 20) —
and runs ``credo.signals.topk_summary`` (one native pass: per-position top-k signals and their
sequence aggregates), ``ConfidenceModel.predict_one`` (Rust logistic regression + a fitted
``credo.calibration.PlattScaling``, both on the scalar path) and ``Policy.decide``. p50/p99 over
≥ 20,000 decisions, each timed on its own, after a warm-up of about a second (a server's steady
state: this VM's CPUs run slower for a while after idling). The full run asserts p99 < 25 µs; both
runs assert the p99 as a ratio to the median of the obvious path — ``topk_signals`` + NumPy
aggregates + a dict — timed in the same run (25 µs against its 63 / 100 µs on a quiet machine),
and the ratio of medians against that path at ≥ 3×. Targets and margins: benches/targets.toml.

Throughput across threads: the batch path — ``credo.topk_summary_batch`` (one native call, the
GIL released, responses spread over the worker threads) → ``ConfidenceModel.predict_proba`` →
``Policy.decide`` per request — on 2 worker threads against 1: the native step is asserted
(≥ 1.5×), the whole pipeline reported (its Python steps run on one thread). The per-request
path on a Python thread pool of 2 against 1 is reported too: its native calls are too short to
be worth a GIL hand-over (a few µs against the ~25 µs two context switches cost on this VM:
released, they made two threads 0.5× as fast as one), so they keep the GIL and the threads take
turns at the interpreter's switch interval: about 1× at best; the batch path is the one to use
for throughput. Also: evidence coverage in batch over 1 and 2 threads.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from _harness import QUICK, median_times_interleaved, record, record_bound, record_threads, settle_threads

from credo import ConfidenceModel, Policy, evidence
from credo.calibration import PlattScaling
from credo.formats import from_openai
from credo.signals import topk_summary, topk_summary_batch

T = 256  # records (generated tokens) per response
FEATURES = ["mean_entropy", "max_entropy", "mean_logprob", "min_logprob", "mean_margin", "mean_tail_mass", "not_top1"]


def openai_response(rng: np.random.Generator, k: int) -> dict:
    """A synthetic OpenAI chat response with ``logprobs.content`` for T tokens and top-k each."""
    sharp = rng.uniform(0.5, 4.0)
    content = []
    for _ in range(T):
        logits = rng.normal(size=50) * sharp
        lp = logits - np.log(np.exp(logits).sum())
        order = np.argsort(-lp)
        pick = order[0] if rng.uniform() < 0.85 else order[rng.integers(1, 50)]
        content.append(
            {
                "token": f"t{pick}",
                "logprob": float(lp[pick]),
                "top_logprobs": [{"token": f"t{j}", "logprob": float(lp[j])} for j in order[:k]],
            }
        )
    return {"choices": [{"logprobs": {"content": content}}]}


def records(rng: np.random.Generator, n: int, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """n responses as (top_logprobs [T, k], chosen_logprob [T]) via credo.formats.from_openai."""
    out = []
    for _ in range(n):
        r = from_openai(openai_response(rng, k), k=k)
        out.append((r.top_logprobs, r.chosen_logprob))
    return out


POLICY = Policy(
    {
        "threshold": 0.8,
        "gray_zone": [0.5, 0.8],
        "domains": {"general": {}, "medical": {"stakes": "high", "threshold": 0.9, "gray_zone": [0.6, 0.9]}},
    }
)


def fitted_model(rng: np.random.Generator, k: int) -> ConfidenceModel:
    train = records(rng, 300 if QUICK else 600, k)
    summ = [topk_summary(t, c) for t, c in train]
    X = np.array([[getattr(s, f) for f in FEATURES] for s in summ])
    z = X[:, FEATURES.index("mean_logprob")]
    z = (z - z.mean()) / z.std()
    y = (rng.uniform(size=len(X)) < 1 / (1 + np.exp(-2.0 * z))).astype(float)  # likelier right when sure
    model = ConfidenceModel(features=FEATURES, calibrator=PlattScaling(), calibrator_input="logit", holdout=0.2)
    return model.fit(X, y)


@pytest.mark.parametrize("k", [5, 20])
def test_decision_latency(benchmark, k):
    rng = np.random.default_rng(k)
    model = fitted_model(rng, k)
    assert model.pooled_.one_cal is not None  # the calibrator's scalar (Rust) path
    reqs = records(rng, 64, k)
    domains = ["general", "medical"] * 32

    def decide(i: int):
        top, chosen = reqs[i]
        s = topk_summary(top, chosen)
        conf = model.predict_one(s)
        return POLICY.decide(conf, domain=domains[i], coverage=0.9)

    # The peer: the same decision the obvious way, per-position signals → NumPy aggregates → dict.
    import credo

    def numpy_decide(i: int):
        top, chosen = reqs[i]
        sig = credo.topk_signals(top, chosen)
        feats = {
            "mean_entropy": sig.entropy.mean(),
            "max_entropy": sig.entropy.max(),
            "mean_logprob": sig.chosen_logprob.mean(),
            "min_logprob": sig.chosen_logprob.min(),
            "mean_margin": sig.margin_prob.mean(),
            "mean_tail_mass": sig.tail_mass.mean(),
            "not_top1": float(np.mean(sig.chosen_rank >= 1)),
        }
        return POLICY.decide(model.predict_one(feats), domain=domains[i], coverage=0.9)

    for i in range(4):  # both paths decide alike
        assert decide(i).confidence == pytest.approx(numpy_decide(i).confidence, rel=1e-9)
    benchmark(decide, 7)  # first, so a failing ratio below is the test's only error

    warm_until = time.perf_counter() + (0.3 if QUICK else 1.0)
    i = 0
    while time.perf_counter() < warm_until:
        decide(i & 63)
        i += 1
    n = 20_000 if QUICK else 50_000
    times = np.empty(n)
    clock = time.perf_counter_ns
    for j in range(n):
        i = j & 63
        t0 = clock()
        decide(i)
        times[j] = clock() - t0
    p50, p99 = (float(v) for v in np.percentile(times, [50, 99]) / 1e3)
    # On a shared machine other processes preempt in bursts that land in one stretch of the run:
    # the asserted p99 is the median over 10 consecutive blocks of each block's p99 (both reported).
    p99_blocks = float(np.median([np.percentile(b, 99) for b in np.array_split(times, 10)]) / 1e3)

    # Throughput: the same decisions on 1 and on 2 threads (each thread loops over its share),
    # timed in turn, medians.
    per = 2_000 if QUICK else 10_000

    def work(count: int) -> None:
        for j in range(count):
            decide(j & 63)

    with ThreadPoolExecutor(2) as pool:
        one_thread, two_threads = median_times_interleaved(
            [lambda: work(2 * per), lambda: list(pool.map(work, [per, per]))], repeat=3 if QUICK else 5
        )
    print(
        f"\none decide() from {T} x {k} top-k records: p50 {p50:.2f} µs, p99 {p99:.2f} µs, "
        f"median block p99 {p99_blocks:.2f} µs ({n} decisions, 1 thread); per-request path on a "
        f"Python thread pool: {2 * per / one_thread:,.0f}/s on 1 thread, "
        f"{2 * per / two_threads:,.0f}/s on 2 ({one_thread / two_threads:.2f}x)"
    )
    record(f"decide() p50, {T}x{k} top-k records", p50 * 1e-6, "p99 target 25 µs", 25e-6)
    record(f"decide() p99 (all), {T}x{k} top-k records", p99 * 1e-6, "p99 target 25 µs", 25e-6)
    # Median per-decision times of both paths, timed in turn (machine slowdowns hit both alike).
    both = np.empty((4000 if QUICK else 10000, 2))
    for j in range(len(both)):
        for c, f in enumerate((decide, numpy_decide)):
            t0 = clock()
            f(j & 63)
            both[j, c] = clock() - t0
    ours_med, peer_med = (float(v) for v in np.median(both, axis=0))
    peer = "topk_signals + NumPy aggregates + dict"
    record(f"decide() median, {T}x{k} top-k records", ours_med * 1e-9, peer, peer_med * 1e-9, f"decide.numpy.k{k}")
    p99_work = f"decide() p99 (median of 10 blocks), {T}x{k} top-k records"
    # The 25 µs p99 as a ratio to the NumPy path's median decision timed in the same run (63 / 100
    # µs at k = 5 / 20 on a quiet machine), so a machine of any speed checks it; the full run
    # also asserts the 25 µs itself.
    record_bound(p99_work, p99_blocks * 1e-6, f"{peer}, median (same run)", peer_med * 1e-9, f"decide.p99.k{k}")
    record_bound(p99_work, p99_blocks * 1e-6, "p99 target 25 µs", 25e-6, None if QUICK else "decide.p99_25us")
    record_threads(
        f"decide() per request on a Python thread pool, {T}x{k} records, 2 threads vs 1",
        two_threads,
        one_thread,
        note="the GIL held throughout (calls too short for a hand-over); use the batch path for throughput",
    )


@pytest.mark.parametrize("k", [5, 20])
def test_decision_batch_throughput(benchmark, k):
    """256 requests decided together: summaries in one native call over 1 or 2 worker threads."""
    rng = np.random.default_rng(100 + k)
    model = fitted_model(rng, k)
    reqs = records(rng, 256, k)
    tops, chosen = [t for t, _ in reqs], [c for _, c in reqs]
    domains = ["general", "medical"] * 128

    def pipeline(threads: int):
        conf = model.predict_proba(topk_summary_batch(tops, chosen, threads=threads))
        return [POLICY.decide(c, domain=d, coverage=0.9) for c, d in zip(conf.tolist(), domains, strict=True)]

    # the batch decides exactly as the per-request path does
    for i in range(0, 256, 37):
        one = POLICY.decide(model.predict_one(topk_summary(tops[i], chosen[i])), domain=domains[i], coverage=0.9)
        batch = pipeline(2)[i]
        assert batch.action == one.action and batch.confidence == pytest.approx(one.confidence, rel=1e-12, abs=1e-15)
    benchmark(pipeline, 2)  # first, so a failing ratio below is the test's only error
    one_thread, two_threads = median_times_interleaved(
        [lambda: pipeline(1), lambda: pipeline(2)], repeat=10 if QUICK else 40
    )
    print(
        f"\nbatch of 256 decisions from {T} x {k} top-k records: {one_thread / 256 * 1e6:.2f} µs each on 1 "
        f"thread, {two_threads / 256 * 1e6:.2f} µs on 2 ({one_thread / two_threads:.2f}x); "
        f"{256 / two_threads:,.0f} decisions/s"
    )

    # The native step (the GIL released) is the part that spreads over the threads, and the one
    # asserted; the whole pipeline's ratio is bounded by the per-request Python steps after it
    # (Amdahl: about 1.4x at best at k = 5 on 2 cores) and is reported.
    # The native scaling is measured on about 5M entries (4,096 responses at k = 5, 1,024 at
    # k = 20: 9-16 ms on one thread). A worker's wake-up on a 2-core VM can take a millisecond
    # or more (CI read 1.1x three times in a row on 1,024 responses at k = 5, 4 ms, while the
    # same run's reference scaled 1.95x), and a job of about 1 ms sometimes runs on one core for
    # seconds at a time (the woken worker placed beside its waker): both say more about the
    # scheduler than about the kernel.
    many_tops, many_chosen = tops * (80 // k), chosen * (80 // k)

    def native_times() -> tuple[float, float]:
        settle_threads(lambda: topk_summary_batch(many_tops, many_chosen, threads=2))
        one, two = median_times_interleaved(
            [
                lambda: topk_summary_batch(many_tops, many_chosen, threads=1),
                lambda: topk_summary_batch(many_tops, many_chosen, threads=2),
            ],
            repeat=10 if QUICK else 40,
        )
        return two, one

    native_two, native_one = native_times()
    work = f"topk_summary_batch of {len(many_tops):,}, {T}x{k} records, 2 threads vs 1"
    record_threads(work, native_two, native_one, f"topk_batch.threads.k{k}", remeasure=native_times)
    record_threads(f"decide() batch of 256, {T}x{k} records, 2 threads vs 1", two_threads, one_thread)


def test_evidence_batch_threads(benchmark):
    passage = (
        "The Eiffel Tower was completed in 1889 for the World's Fair in Paris. Gustave Eiffel's company "
        "designed and built it. The tower is 330 metres tall and is painted in three shades of brown. "
    ) * 20
    answer = "The Eiffel Tower was completed in 1889 [1]. It is 330 metres tall [2]. It is painted green [1]."
    n = 500 if QUICK else 4000
    answers = [answer] * n
    passages = [[passage, passage[::-1]]] * n
    benchmark(evidence.coverage_batch, answers[:100], passages[:100])
    # The same answers one call at a time too (all of them: a loop over a cache-sized prefix,
    # extrapolated, would flatter the loop); the three timed in turn, medians, after the 2-thread
    # call has run a while (settle_threads: the scheduler's placement, not the kernel).
    settle_threads(lambda: evidence.coverage_batch(answers, passages, threads=2))
    one, two, loop = median_times_interleaved(
        [
            lambda: evidence.coverage_batch(answers, passages, threads=1),
            lambda: evidence.coverage_batch(answers, passages, threads=2),
            lambda: [evidence.coverage(a, p) for a, p in zip(answers, passages, strict=True)],
        ],
        repeat=5,
    )
    record_threads(f"evidence coverage_batch, {n} answers, 2 threads vs 1", two, one)
    record(
        f"evidence coverage_batch, {n} answers, 1 thread vs per-answer loop",
        one,
        "Python loop of coverage()",
        loop,
    )
