"""The token-signal pass as one fused Triton kernel for CUDA torch tensors: each program reads
its logits row once and keeps, per lane, the running maximum, the second largest value and the
first index of the maximum (of the logits), and an online log-sum-exp with its entropy term
(of the logits / T); the lanes are merged at the end into the per-row statistics of the scalar
kernel (``simd/scalar.rs``), and these are finished into the signals in float64 exactly as
:func:`credo._array_api._finish` does, so that a call is one launch. Imported only when a CUDA
tensor arrives and triton is installed; ``tests/test_array_api.py`` checks it against the
array-API path and the CPU kernel.
"""

from __future__ import annotations

from typing import Any

import torch
import triton
import triton.language as tl


@triton.jit
def _token_kernel(
    X,  # [R, V] logits (bf16, f16, f32 or f64), unit stride along V
    stride,  # elements between rows
    V,
    R,
    INV,  # [1] 1/T in the compute dtype (f64 for f64 logits, else f32)
    C,  # [rows] int64 chosen ids (unused without HAS_C)
    OUT_F,  # [6, R] float64: entropy, logsumexp, max_logprob, margin_logit, margin_prob, chosen_logprob
    OUT_I,  # [3, R] int64: argmax, chosen_rank (#{x > x_chosen}), invalid row
    HAS_C: tl.constexpr,
    BLOCK: tl.constexpr,
):
    row = tl.program_id(0).to(tl.int64)
    base = X + row * stride
    inv = tl.load(INV)
    dt = inv.dtype
    ninf = float("-inf")
    offs = tl.arange(0, BLOCK)
    best = tl.full([BLOCK], ninf, dt)
    second = tl.full([BLOCK], ninf, dt)
    idx = tl.zeros([BLOCK], tl.int32)
    m = tl.full([BLOCK], ninf, dt)
    s = tl.zeros([BLOCK], dt)
    w = tl.zeros([BLOCK], dt)
    bad = tl.zeros([BLOCK], tl.int32)
    cnt = tl.zeros([BLOCK], tl.int32)
    xc = tl.zeros([1], dt)
    if HAS_C:
        xc = tl.load(base + tl.load(C + row) + tl.zeros([1], tl.int64)).to(dt)
    for start in range(0, V, BLOCK):
        o = start + offs
        x = tl.load(base + o, mask=o < V, other=ninf).to(dt)
        nonfinite = (x != x) | (x == float("inf"))  # NaN or +inf: the row is invalid
        bad = bad | nonfinite.to(tl.int32)
        x = tl.where(nonfinite, ninf, x)
        if HAS_C:
            cnt += (x > xc).to(tl.int32)
        up = x > best  # strict: each lane keeps the first index of its maximum
        second = tl.where(up, best, tl.maximum(second, x))
        best = tl.where(up, x, best)
        idx = tl.where(up, o, idx)
        xs = x * inv
        m_new = tl.maximum(m, xs)
        alpha = tl.where(m_new > ninf, tl.exp(m - m_new), 1.0)
        d = xs - m_new
        e = tl.where(xs > ninf, tl.exp(d), 0.0)
        # w = Σ e·(xs − m) under the running shift m; moving the shift to m_new rescales it.
        w = alpha * (w + tl.where(s > 0, s * (m - m_new), 0.0)) + tl.where(e > 0, e * d, 0.0)
        s = alpha * s + e
        m = m_new
    top = tl.max(best, axis=0)
    am = tl.min(tl.where(best == top, idx, 2147483647), axis=0)
    runner = tl.maximum(tl.max(second, axis=0), tl.max(tl.where(idx == am, ninf, best), axis=0))
    big_m = top * inv
    scale = tl.where(s > 0, tl.exp(m - big_m), 0.0)
    # The finish (token.rs, _array_api._finish) in float64: per row, a handful of operations.
    s_tot = tl.sum(s * scale, axis=0).to(tl.float64)
    w_tot = tl.sum(tl.where(s > 0, scale * (w + s * (m - big_m)), 0.0), axis=0).to(tl.float64)
    ok = (tl.max(bad, axis=0) == 0) & (s_tot > 0)  # NaN, +inf, or no finite entry: an invalid row
    top1 = big_m.to(tl.float64)
    top2 = (runner * inv).to(tl.float64)
    ls = tl.log(s_tot)
    lse = top1 + ls
    nan = float("nan")
    tl.store(OUT_F + row, tl.where(ok, tl.maximum(ls - w_tot / s_tot, 0.0), nan))
    tl.store(OUT_F + R + row, tl.where(ok, lse, nan))
    tl.store(OUT_F + 2 * R + row, tl.where(ok, top1 - lse, nan))
    tl.store(OUT_F + 3 * R + row, tl.where(ok, top1 - top2, nan))
    tl.store(OUT_F + 4 * R + row, tl.where(ok, tl.exp(top1 - lse) - tl.exp(top2 - lse), nan))
    tl.store(OUT_I + row, tl.where(ok, am, -1))
    tl.store(OUT_I + 2 * R + row, tl.where(ok, 0, 1))
    if HAS_C:
        one = tl.zeros([1], tl.int64)
        clp = (xc * inv).to(tl.float64) - lse
        tl.store(OUT_F + 5 * R + row + one, tl.where(ok, clp, nan))
        tl.store(OUT_I + R + row, tl.where(ok, tl.sum(cnt, axis=0), -1))


def token_signals(x2: Any, inv_t: float, ids: Any) -> tuple[dict[str, Any], Any]:
    """The token signals of ``x2`` ([rows, V], CUDA) in one read of the logits and one launch:
    the signal arrays (float64, argmax and rank int64, as the array-API path returns them) and
    the invalid-row mask."""
    rows, vocab = (int(d) for d in x2.shape)
    if x2.stride(1) != 1:
        x2 = x2.contiguous()
    dt = torch.float64 if x2.dtype == torch.float64 else torch.float32
    inv = torch.full((1,), inv_t, dtype=dt, device=x2.device)
    out_f = torch.empty((6, rows), dtype=torch.float64, device=x2.device)
    out_i = torch.empty((3, rows), dtype=torch.int64, device=x2.device)
    chosen = ids if ids is not None else out_i
    block = 1024 if dt == torch.float64 else 2048
    _token_kernel[(rows,)](
        x2, x2.stride(0), vocab, rows, inv, chosen, out_f, out_i, HAS_C=ids is not None, BLOCK=block, num_warps=8
    )
    names = ("entropy", "logsumexp", "max_logprob", "margin_logit", "margin_prob")
    out: dict[str, Any] = {name: out_f[j] for j, name in enumerate(names)}
    out["argmax"] = out_i[0]
    out["chosen_logprob"] = out_f[5] if ids is not None else None
    out["chosen_rank"] = out_i[1] if ids is not None else None
    return out, out_i[2] != 0
