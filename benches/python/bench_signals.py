"""Token signals: credo's fused pass vs NumPy's (and torch's, where installed) all-signal
pipeline at the same thread count, and vs the machine bound measured in the same run.

Targets (stated with their noise margins in benches/targets.toml): on [512, 128256] and
[2048, 32000] float32, all signals at least 3x faster than numpy written by an expert and torch
(1 thread each, medians of interleaved rounds; issue 14 replaced the 10x against a naive numpy
pipeline that computed exp twice), and at most 1.5x the bound max(bytes / np.sum read bandwidth
on the same array, elements / in-cache np.exp rate); 2 threads faster than 1 (checked when the
machine has a free core). float16 and bfloat16 are recorded without a target. float64 input
(issue 14) takes at most 2.2x the float32 time of the same shape (twice the bytes; float64 lanes).
"""

from __future__ import annotations

import numpy as np
import pytest
from _harness import QUICK, median_times_interleaved, record, record_bound, record_threads, settle_threads

import credo
from credo.cli.bench import numpy_token_signals  # the expert NumPy peer (one exp, masked top-2)
from credo.signals import simd_levels

SHAPES = [(64, 128_256), (256, 32_000)] if QUICK else [(512, 128_256), (2048, 32_000)]
# Rounds of credo and its peer timed in turn (both get the same number; medians compared).
PEER_REPEAT = 7 if QUICK else 11
# The targets and margins of every gated ratio here are in benches/targets.toml.


def _logits(shape: tuple[int, int], dtype=np.float32) -> np.ndarray:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    return (rng.standard_normal(shape, dtype=np.float32) * 3).astype(dtype)


def torch_pipeline(torch, x, chosen):  # type: ignore[no-untyped-def]
    lp = torch.log_softmax(x, dim=1)
    entropy = -(lp.exp() * lp).sum(dim=1)
    chosen_lp = lp.gather(1, chosen[:, None])[:, 0]
    top = torch.topk(x, 2, dim=1)
    rank = (x > x.gather(1, chosen[:, None])).sum(dim=1)
    return entropy, chosen_lp, top.values, rank


def credo_and_machine_bound(x: np.ndarray, chosen: np.ndarray, repeat: int) -> tuple[float, float]:
    """credo's median time and the machine bound max(bytes / np.sum bandwidth on this array,
    elements / in-cache np.exp rate), in seconds, the three timed in turn, medians."""
    small = np.random.default_rng(1).standard_normal(16_384).astype(np.float32)
    out = np.empty_like(small)
    t_credo, t_sum, t_exp = median_times_interleaved(
        [lambda: credo.token_signals(x, chosen, threads=1), lambda: np.sum(x), lambda: np.exp(small, out=out)],
        repeat=repeat,
    )
    return t_credo, max(t_sum, x.size / small.size * t_exp)


def _vocab(shape: tuple[int, int]) -> str:
    """The part of a gate's key naming the shape (the vocabulary is the same in both modes)."""
    return f"v{shape[1]}"


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_all_signals_float32(benchmark, shape: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    x = _logits(shape)
    chosen = np.random.default_rng(2).integers(0, shape[1], shape[0])
    work = f"all token signals [{shape[0]}, {shape[1]}] f32, 1 thread"
    benchmark(lambda: credo.token_signals(x, chosen, threads=1))
    # The peer: credo and expert NumPy timed in turn, the same number of times, medians.
    credo_med, numpy_med = median_times_interleaved(
        [lambda: credo.token_signals(x, chosen, threads=1), lambda: numpy_token_signals(x, chosen)],
        repeat=PEER_REPEAT,
    )
    record(
        work,
        credo_med,
        "numpy, expert (1 thread; one exp, masked top-2; median)",
        numpy_med,
        f"signals.numpy.{_vocab(shape)}",
    )
    credo_s, bound_s = credo_and_machine_bound(x, chosen, PEER_REPEAT)
    record_bound(work, credo_s, "bound max(np.sum bytes, np.exp in-cache)", bound_s, f"signals.bound.{_vocab(shape)}")


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_all_signals_torch_peer(shape: tuple[int, int]) -> None:
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    x = _logits(shape)
    chosen = np.random.default_rng(2).integers(0, shape[1], shape[0])
    tx, tc = torch.from_numpy(x), torch.from_numpy(chosen)
    credo_s, torch_s = median_times_interleaved(
        [lambda: credo.token_signals(x, chosen, threads=1), lambda: torch_pipeline(torch, tx, tc)],
        repeat=PEER_REPEAT,
    )
    work = f"all token signals [{shape[0]}, {shape[1]}] f32, 1 thread"
    record(work, credo_s, "torch (1 thread; median)", torch_s, f"signals.torch.{_vocab(shape)}")


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_inputs(benchmark, dtype: str) -> None:  # type: ignore[no-untyped-def]
    ml_dtypes = pytest.importorskip("ml_dtypes")
    shape = SHAPES[0]
    dt = np.float16 if dtype == "float16" else ml_dtypes.bfloat16
    x = _logits(shape, dt)
    x32 = x.astype(np.float32)
    chosen = np.random.default_rng(2).integers(0, shape[1], shape[0])
    benchmark(lambda: credo.token_signals(x, chosen, threads=1))
    credo_s, numpy_s, t_sum32 = median_times_interleaved(
        [
            lambda: credo.token_signals(x, chosen, threads=1),
            lambda: numpy_token_signals(x32, chosen),
            lambda: np.sum(x32),
        ],
        repeat=PEER_REPEAT,
    )
    t_sum = t_sum32 * x.itemsize / x32.itemsize
    record(
        f"all token signals [{shape[0]}, {shape[1]}] {dtype}, 1 thread",
        credo_s,
        "numpy f32 (1 thread)",
        numpy_s,
        None,
    )
    record(
        f"all token signals [{shape[0]}, {shape[1]}] {dtype}, 1 thread",
        credo_s,
        "np.sum bandwidth on the half-size bytes",
        t_sum,
        None,
    )


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_two_threads(shape: tuple[int, int]) -> None:
    x = _logits(shape)
    chosen = np.random.default_rng(2).integers(0, shape[1], shape[0])

    def times() -> tuple[float, float]:
        settle_threads(lambda: credo.token_signals(x, chosen, threads=2))
        one, two = median_times_interleaved(
            [lambda: credo.token_signals(x, chosen, threads=1), lambda: credo.token_signals(x, chosen, threads=2)],
            repeat=PEER_REPEAT,
        )
        return two, one

    two, one = times()
    work = f"all token signals [{shape[0]}, {shape[1]}] f32, 2 threads vs 1"
    record_threads(work, two, one, f"signals.threads.{_vocab(shape)}", remeasure=times)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_float64_against_float32(shape: tuple[int, int]) -> None:
    """float64 logits read directly in float64 lanes: twice the bytes of float32, so about twice
    its time when both are memory-bound (the float64 path was the scalar reference, 11x). On the
    AVX-512 Zen 4 neither is: the scan streams the row at the memory's rate, but the sums over
    each chunk (from L1) are bound by the multiply-add ports, and a float64 vector holds 8 lanes
    against 16. float64 ran at 2.05x float32, then 2.25-2.5x once float32's scan and exponential
    lost operations. The token signals' float64 exponential (exp64::avx512::reduce8_scaled) now
    takes r in one multiply-add, 2^(j/16) from its high double alone and 2^e by one integer
    add, and needs no mask (t clamped to -1023 ln2, where that add makes exactly 0): a
    multiply-add, an add, a permute, a compare and an and fewer a vector, float64 5.9 -> 4.8 ms
    on [256, 32000], about 2.0x float32."""
    x32 = _logits(shape)
    x64 = x32.astype(np.float64)
    chosen = np.random.default_rng(2).integers(0, shape[1], shape[0])
    t32, t64 = median_times_interleaved(
        [lambda: credo.token_signals(x32, chosen, threads=1), lambda: credo.token_signals(x64, chosen, threads=1)],
        repeat=9 if QUICK else 21,
    )
    work = f"all token signals [{shape[0]}, {shape[1]}] f64, 1 thread"
    record_bound(work, t64, "credo float32, same shape (median, interleaved)", t32, f"signals.f64.{_vocab(shape)}")


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_avx2_against_avx512(shape: tuple[int, int]) -> None:
    """The AVX2 level against AVX-512 on the same input, float32 and float64, timed in turn.

    Issue 14 asks for AVX2 within 1.3x of AVX-512. On Zen 4 a 512-bit operation runs as two
    256-bit halves, so both levels have the same lane throughput on the ports, and the scan,
    which streams the row from memory, takes the same time at both (scan alone, [256, 32000]:
    1.69 ms AVX2, 1.71 ms AVX-512). The 2x measured before was not half the lanes: the AVX2
    row function spilled its scan state (a store-to-load round trip on every vector's
    loop-carried chain), and the float32 exponential's dependency chain (about 60 cycles) bound
    the AVX2 sums loop by latency, not by the ports, so a vector took about the same time at
    either width. With the two AVX2 loops as functions of their own and a shorter chain, float32
    ran at 1.2-1.3x; then AVX-512 got faster too (popcnt enabled for its mask counts, about 15%;
    float64: the degree-6 exponential in Estrin's form, inlined loops), and AVX2 float32 ran at
    1.35-1.4x alone, 1.49-1.54x (medians of six) inside the whole quick suite. Then both loops
    lost operations at every level: the scan no longer tracks the argmax per vector (it is found
    after the row, in the last chunk where the maximum grew), checks NaN once per pair of
    vectors and counts entries above the chosen logit only once the row's maximum passes it; the
    float32 exponential lost its mask, a reduction constant and a polynomial degree (AVX2 sums
    2.80 -> 2.03 ns per 8 lanes, AVX-512 2.13 -> 1.62). AVX2 float32 now runs at about 1.3x
    (1.16-1.47x over three quick runs of this test; 1.30-1.37x in process CPU time, the random
    chosen logit costing AVX2 most). What is left is mostly the sums: each vector's chain of
    about 50 cycles bounds AVX2 by latency, where AVX-512 is bound by the ports. float64 ran at
    1.7-1.8x while its AVX2 exponential looked 2^(j/256) up with four scalar loads per vector
    (AVX-512 permutes a 16-entry table held in registers); with 2^(j/8) permuted out of
    registers and the sums loop software-pipelined (three vectors in flight, so the window covers
    the chain) it ran at 1.2-1.35x (1.30x in process CPU time), until AVX-512 float64 got an
    exponential of its own (one two-source permute of a 16-entry table, degree 6, no mask):
    AVX-512 5.9 -> 4.8 ms, AVX2 (the same one-step reduction and clamp) 7.8 -> 7.3 ms, about
    1.5x. What keeps AVX2 there, measured on [256, 32000]: the scan alone (sums skipped) takes
    about the same at both levels (2.4-2.6 ms, the memory's rate); the sums take 4.6-4.9 ms at
    AVX2 against 2.4-2.9 at AVX-512, and removing AVX2's table lookup altogether (wrong values,
    timing only) brings the row only to 6.8 ms, 1.41x. AVX2 has no 64-bit cross-lane permute:
    its 8-entry table costs two 32-bit permutes, a copy of the index and a blend, and 8 entries
    need a polynomial a degree higher. The AVX2 sums loops (float32 and float64) then went to
    assembly, with five vectors in flight and the registers placed by hand (sixteen are too few
    for the compiler, which reloaded seven constants and copied eight values a vector): the
    float64 loop alone 9.2 -> 8.0 cycles a vector (AVX-512 5.6; the same instructions without
    the dependencies from vector to vector, 6.8), float32 6.7 -> 6.2 per 8 lanes (AVX-512 5.3).
    Rows [256, 32000] in process CPU time, quiet: float64 AVX2 7.0 -> 6.45-6.7 ms against
    AVX-512 4.9-5.5 (1.20-1.32x), float32 3.2-3.3 -> 2.88-2.92 ms against 2.43-2.62 (1.12-1.19x).
    What bounds the float64 loop now, timed alone over one 8 KiB chunk from L1 (best of 15 x
    20,000 passes): 2.10 ns a vector as it stands. A polynomial three multiply-adds deep instead
    of four (one multiply more): 2.13-2.15. Each vector loaded a step earlier (the clamp a memory
    operand, to free the register): 2.13-2.16. x - m in place of x*inv_t - m (right at T = 1
    only; one multiply-add fewer): 2.00. 2^(j/256) read by the hardware gather
    (`vpgatherqq`), a polynomial of degree 4 (five instructions fewer than the 8-entry table's,
    three of them multiply-adds): 3.13, the gather costing more than all it saves. Shorter
    chains and earlier loads gain nothing, one operation fewer gains 5%: the loop is bound by
    the throughput of its operations, 21 vector
    operations for four lanes (twelve of them multiply-adds: the 8-entry table needs degree 7)
    where AVX-512 issues 17 for eight. x - m is now the T = 1 form at every level (the same
    bits, `lanes::scaled_t`): rows [64, 128256] and [256, 32000], medians of eight alternating
    processes, float64 1-2% faster at AVX2 and 3-4% at AVX-512 (the ratio no lower), float32
    at AVX-512 5%; float64 stays at 1.3-1.35x. No gate: the rows record the ratio so that a
    change in it shows."""
    levels = simd_levels()
    if "avx2" not in levels or "avx512" not in levels:
        pytest.skip(f"needs both AVX2 and AVX-512 (this CPU: {', '.join(levels)})")
    chosen = np.random.default_rng(2).integers(0, shape[1], shape[0])
    avx2: dict[type, float] = {}
    for dtype in (np.float32, np.float64):
        x = _logits(shape, dtype)
        t2, t512 = median_times_interleaved(
            [
                lambda x=x: credo.token_signals(x, chosen, threads=1, _simd="avx2"),
                lambda x=x: credo.token_signals(x, chosen, threads=1, _simd="avx512"),
            ],
            repeat=9 if QUICK else 21,
        )
        avx2[dtype] = t2
        work = f"all token signals [{shape[0]}, {shape[1]}] {np.dtype(dtype).name}, 1 thread, AVX2"
        record_bound(work, t2, "credo AVX-512, same input (median, interleaved)", t512)
    # float64 below AVX-512 runs in AVX2 float64 lanes (it was the scalar reference, 6.5x).
    record_bound(
        f"all token signals [{shape[0]}, {shape[1]}] float64, 1 thread, AVX2",
        avx2[np.float64],
        "credo float32 at AVX2, same shape (medians)",
        avx2[np.float32],
    )
