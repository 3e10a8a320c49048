"""Token signals of GPU logits: credo's device paths against copying to the host and against
torch itself, for [512, 128256] logits (a Llama-3 vocabulary) in bfloat16 and float32.

Rows (issue 19's table): ``.cpu()`` into pageable memory then credo on the CPU; a copy into
pinned memory then credo; the same signals with torch eager and with ``torch.compile``; credo's
array-API path; credo's fused Triton kernel; and a device-to-device copy of the logits (the
bandwidth floor: one read and one write). GPU-only rows are timed with CUDA events, host rows
with the wall clock around a synchronised call; the rows are interleaved, round after round,
and the median is printed. Every path computes entropy, log-sum-exp, max logprob, argmax, the
top-1 − top-2 margins and the chosen token's logprob and rank. Needs a CUDA GPU, torch and
(for the fused row) triton.

    python benches/gpu/bench_gpu.py [--rows 512] [--vocab 128256] [--rounds 20]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

import credo
from credo import _array_api


def torch_signals(x: torch.Tensor, chosen: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The same signals in plain torch (float32 arithmetic)."""
    xf = x.float()
    lse = torch.logsumexp(xf, dim=-1)
    lp = xf - lse[:, None]
    p = lp.exp()
    entropy = -(p * torch.where(p > 0, lp, 0.0)).sum(-1)
    top2, arg = xf.topk(2, dim=-1)
    xc = xf.gather(1, chosen[:, None])[:, 0]
    rank = (xf > xc[:, None]).sum(-1)
    return (
        entropy,
        lse,
        top2[:, 0] - lse,
        arg[:, 0],
        top2[:, 0] - top2[:, 1],
        (top2[:, 0] - lse).exp() - (top2[:, 1] - lse).exp(),
        xc - lse,
        rank,
    )


def gpu_time(fn: Callable[[], Any]) -> float:
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    fn()
    end.record()
    end.synchronize()
    return start.elapsed_time(end)


def wall_time(fn: Callable[[], Any]) -> float:
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) * 1e3


def bench(dtype: torch.dtype, rows: int, vocab: int, rounds: int) -> dict[str, list[float]]:
    g = torch.Generator(device="cuda").manual_seed(0)
    x = (torch.randn((rows, vocab), generator=g, device="cuda") * 4).to(dtype)
    chosen = torch.randint(0, vocab, (rows,), device="cuda", generator=g)
    pinned = torch.empty(x.shape, dtype=dtype, pin_memory=True)
    chosen_host = chosen.cpu()
    floor = torch.empty_like(x)
    compiled = torch.compile(torch_signals)

    def array_api() -> Any:
        _array_api.TRITON = False
        try:
            return credo.token_signals(x, chosen)
        finally:
            _array_api.TRITON = True

    def pinned_credo() -> Any:
        pinned.copy_(x, non_blocking=True)
        torch.cuda.synchronize()
        return credo.token_signals(pinned, chosen_host)

    paths: dict[str, tuple[Callable[[], Any], Callable[[Callable[[], Any]], float]]] = {
        ".cpu() (pageable) + credo CPU": (lambda: credo.token_signals(x.cpu(), chosen_host), wall_time),
        "pinned copy + credo CPU": (pinned_credo, wall_time),
        "torch eager": (lambda: torch_signals(x, chosen), gpu_time),
        "torch.compile": (lambda: compiled(x, chosen), gpu_time),
        "credo array-API path": (array_api, gpu_time),
        "credo fused kernel": (lambda: credo.token_signals(x, chosen), gpu_time),
        "D2D copy (floor)": (lambda: floor.copy_(x), gpu_time),
    }
    fused = credo.token_signals(x, chosen)
    if fused.simd != "triton":
        del paths["credo fused kernel"]
    check(x, chosen, fused)
    for fn, _ in paths.values():  # warm-up: compilation, autotuning, allocator
        for _ in range(3):
            fn()
    times: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(rounds):
        for name, (fn, timer) in paths.items():
            times[name].append(timer(fn))
    return times


def check(x: torch.Tensor, chosen: torch.Tensor, dev: Any) -> None:
    """The device results equal the CPU kernel's (relative 1e-5) before anything is timed."""
    cpu = credo.token_signals(x.cpu(), chosen.cpu())
    worst = 0.0
    for name, want in cpu.to_dict().items():
        got = getattr(dev, name).cpu().numpy()
        if want.dtype.kind in "iu":
            assert np.array_equal(got, want), name
        else:
            worst = max(worst, float(np.max(np.abs(got - want) / np.maximum(np.abs(want), 1.0))))
    assert worst <= 1e-5, worst
    print(f"  device ({dev.simd}) vs CPU kernel: max relative difference {worst:.2e}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=512)
    ap.add_argument("--vocab", type=int, default=128_256)
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}, credo CPU threads: all cores")
    for dtype in (torch.bfloat16, torch.float32):
        print(f"\n[{args.rows}, {args.vocab}] {str(dtype).removeprefix('torch.')}, median of {args.rounds} rounds")
        times = bench(dtype, args.rows, args.vocab, args.rounds)
        compiled = statistics.median(times["torch.compile"])
        print(f"  {'path':<34} {'ms':>9} {'× torch.compile':>16}")
        for name, ts in times.items():
            med = statistics.median(ts)
            print(f"  {name:<34} {med:9.3f} {med / compiled:16.2f}")


if __name__ == "__main__":
    main()
