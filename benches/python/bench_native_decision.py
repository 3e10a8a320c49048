"""The native decision call (``credo.serving.compile``): one request's whole decision — top-k
summary, ConfidenceModel (logistic + a fitted PlattScaling), Policy rules — in one Rust call that
releases the GIL, with the reasons worded in Python by the policy's own code.

Targets (issue 13), from 256 generated tokens with top-20 logprobs:

- from the response body (about 200 kB of JSON, read by the native reader inside the call):
  p99 ≤ 200 µs per decision; reported against the Python path a server ran before
  (``json.loads`` + ``from_openai`` + ``topk_summary`` + ``predict_one`` + ``Policy.decide``),
  medians timed in turn;
- from arrays (``[256, 20]`` top-k and ``[256]`` chosen logprobs): p99 ≤ 10 µs; against the Python
  path (``topk_summary`` + ``predict_one`` + ``Policy.decide``);
- throughput of the native call from the body on 2 Python threads ≥ 1.7× one thread (the GIL is
  held only to read the arguments and word the result).

p50/p99 over ≥ 20,000 calls each timed on its own after a warm-up; the asserted p99 is the median
of 10 consecutive blocks' p99 (a shared machine preempts in bursts), in the quieter of two
passes. The quick run (CI) reports
the absolute latencies and asserts the ratios with the harness's margin.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from _harness import QUICK, median_times_interleaved, record, record_bound, record_threads
from bench_decision import FEATURES, POLICY, fitted_model, openai_response

from credo.formats import from_openai
from credo.serving import compile
from credo.signals import topk_summary

T, K = 256, 20


@pytest.fixture(scope="module")
def setup():
    rng = np.random.default_rng(13)
    model = fitted_model(rng, K)
    assert list(model.features_) == FEATURES
    bodies = [json.dumps(openai_response(rng, K)).encode() for _ in range(16)]
    arrays = [(r.top_logprobs, r.chosen_logprob) for r in map(from_openai, bodies)]
    return model, compile(model, POLICY), bodies, arrays


def _latencies(fn, n: int) -> np.ndarray:
    """Per-call times in µs of ``fn(i)`` for i = 0 … n-1 (after about a second of warm-up)."""
    warm_until = time.perf_counter() + (0.3 if QUICK else 1.0)
    i = 0
    while time.perf_counter() < warm_until:
        fn(i)
        i += 1
    clock = time.perf_counter_ns
    times = np.empty(n)
    for j in range(n):
        t0 = clock()
        fn(j)
        times[j] = clock() - t0
    return times / 1e3


def _busy_wait_p99(us: float, n: int) -> float:
    """p99 in µs of a busy wait of ``us`` µs timed as the calls are: the tail this machine adds
    to any call that long (interrupts, preemption, a VM's steal), to read the calls' p99 against."""
    clock = time.perf_counter_ns
    length = int(us * 1e3)
    times = np.empty(n)
    for j in range(n):
        t0 = clock()
        while clock() - t0 < length:
            pass
        times[j] = clock() - t0
    return float(np.percentile(times, 99)) / 1e3


def _p99_blocks(times: np.ndarray) -> float:
    return float(np.median([np.percentile(b, 99) for b in np.array_split(times, 10)]))


def _medians_in_turn(fns, n: int) -> list[float]:
    clock = time.perf_counter_ns
    both = np.empty((n, len(fns)))
    for j in range(n):
        for c, f in enumerate(fns):
            t0 = clock()
            f(j)
            both[j, c] = clock() - t0
    return [float(v) for v in np.median(both, axis=0) / 1e9]


def _check(native_fn, python_fn, report: str, target_us: float, work: str, peer: str, gate: str) -> None:
    for i in range(4):
        assert native_fn(i) == python_fn(i)  # the same decision, field for field
    # A burst on a shared machine (the host, another process) can cover a whole pass of calls
    # (seen: one quick run in five at 4-6x the others' p99 while the busy-wait reference stayed
    # flat): the quieter of two passes is the call's own tail. Both are printed.
    passes = [_latencies(native_fn, 20_000 if QUICK else 50_000) for _ in range(2)]
    block_p99s = [_p99_blocks(t) for t in passes]
    times = passes[int(np.argmin(block_p99s))]
    p50, p99 = (float(v) for v in np.percentile(times, [50, 99]))
    p99b = min(block_p99s)
    wait_p99 = _busy_wait_p99(p50, len(times))
    ours, theirs = _medians_in_turn([native_fn, python_fn], 3000 if QUICK else 10000)
    print(
        f"\n{report}: p50 {p50:.2f} µs, p99 {p99:.2f} µs, median block p99 {p99b:.2f} µs "
        f"(passes: {block_p99s[0]:.2f}, {block_p99s[1]:.2f} µs) "
        f"(a {p50:.2f} µs busy wait: p99 {wait_p99:.2f} µs); "
        f"median {ours * 1e6:.2f} µs vs {theirs * 1e6:.2f} µs the Python path ({theirs / ours:.1f}x)"
    )
    record(f"{work} p50", p50 * 1e-6, f"p99 target {target_us:g} µs", target_us * 1e-6)
    record(f"{work} p99 (all)", p99 * 1e-6, f"p99 target {target_us:g} µs", target_us * 1e-6)
    name = f"{work} p99 (median of 10 blocks)"
    # The p99 target as a ratio to the Python path's median timed in the same run (a machine of
    # any speed checks it); the full run also asserts the absolute target.
    record_bound(name, p99b * 1e-6, "the Python path's median (same run)", theirs, f"{gate}.p99")
    bound = f"p99 target {target_us:g} µs"
    record_bound(name, p99b * 1e-6, bound, target_us * 1e-6, None if QUICK else f"{gate}.p99_abs")
    record(f"{work} median", ours, peer, theirs)


def test_native_decision_from_body(benchmark, setup):
    model, native, bodies, _ = setup
    domains = ["general", "medical"] * 8

    def ours(i: int):
        return native.decide_body(bodies[i & 15], domain=domains[i & 15], coverage=0.9)

    def python_path(i: int):
        top = from_openai(json.loads(bodies[i & 15]))
        conf = model.predict_one(topk_summary(top.top_logprobs, top.chosen_logprob))
        return POLICY.decide(conf, domain=domains[i & 15], coverage=0.9)

    # pytest-benchmark's own timing first: a ratio that fails below must not leave the fixture
    # unused (which pytest-benchmark reports as a second, misleading error)
    benchmark(ours, 3)
    _check(
        ours,
        python_path,
        f"native decision from a {T} x top-{K} body ({len(bodies[0]) // 1000} kB)",
        200.0,
        f"native decide_body, {T}x{K} body",
        "json.loads + from_openai + topk_summary + predict_one + decide",
        "native.body",
    )


def test_native_decision_from_arrays(benchmark, setup):
    model, native, _, arrays = setup
    domains = ["general", "medical"] * 8

    def ours(i: int):
        top, chosen = arrays[i & 15]
        return native.decide(top, chosen, domain=domains[i & 15], coverage=0.9)

    def python_path(i: int):
        top, chosen = arrays[i & 15]
        return POLICY.decide(model.predict_one(topk_summary(top, chosen)), domain=domains[i & 15], coverage=0.9)

    benchmark(ours, 3)  # first, as above
    _check(
        ours,
        python_path,
        f"native decision from {T} x {K} arrays",
        10.0,
        f"native decide (arrays), {T}x{K}",
        "topk_summary + predict_one + decide",
        "native.arrays",
    )


def test_native_decision_threads(benchmark, setup):
    """Per-request native calls from 1 and from 2 Python threads (the GIL released inside)."""
    _, native, bodies, arrays = setup
    per = 200 if QUICK else 1000

    def body_work(count: int) -> None:
        for j in range(count):
            native.decide_body(bodies[j & 15], coverage=0.9)

    def array_work(count: int) -> None:
        for j in range(count):
            top, chosen = arrays[j & 15]
            native.decide(top, chosen, coverage=0.9)

    benchmark(body_work, 4)  # first, as above
    with ThreadPoolExecutor(2) as pool:

        def on_two(work, count):
            return lambda: list(pool.map(work, [count, count]))

        one, two = median_times_interleaved(
            [lambda: body_work(2 * per), on_two(body_work, per)], repeat=5 if QUICK else 15
        )
        a_one, a_two = median_times_interleaved(
            [lambda: array_work(20 * per), on_two(array_work, 10 * per)], repeat=5 if QUICK else 15
        )
        b_one, b_two = median_times_interleaved(
            [lambda: native.decide_batch(bodies * 16, threads=1), lambda: native.decide_batch(bodies * 16, threads=2)],
            repeat=5 if QUICK else 15,
        )
    print(
        f"\nnative decide_body on Python threads: {2 * per / one:,.0f}/s on 1, {2 * per / two:,.0f}/s on 2 "
        f"({one / two:.2f}x); from arrays {20 * per / a_one:,.0f}/s on 1, {20 * per / a_two:,.0f}/s on 2 "
        f"({a_one / a_two:.2f}x); decide_batch of 256 bodies {256 / b_one:,.0f}/s on 1 worker, "
        f"{256 / b_two:,.0f}/s on 2 ({b_one / b_two:.2f}x)"
    )
    record_threads(f"native decide_body per request, {T}x{K}, 2 Python threads vs 1", two, one, "native.body.threads")
    record_threads(f"native decide (arrays) per request, {T}x{K}, 2 Python threads vs 1", a_two, a_one)
    record_threads(f"native decide_batch of 256 bodies, {T}x{K}, 2 workers vs 1", b_two, b_one)
