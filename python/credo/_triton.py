"""The token-signal pass as one fused Triton kernel for CUDA torch tensors: each program reads
its logits row once and keeps, per lane, the running maximum, the second largest value and the
first index of the maximum (of the logits), and an online log-sum-exp with its entropy term
(of the logits / T); the lanes are merged at the end. The outputs are the per-row statistics of
the scalar kernel (``simd/scalar.rs``), finished into signals by
:func:`credo._array_api._finish` — the same code as the array-API path. Imported only when a CUDA
tensor arrives and triton is installed.
"""

from __future__ import annotations

from typing import Any

import torch
import triton
import triton.language as tl


@triton.jit
def _row_stats_kernel(
    X,  # [rows, V] logits (bf16, f16, f32 or f64), unit stride along V
    stride,  # elements between rows
    V,
    INV,  # [1] 1/T in the compute dtype (f64 for f64 logits, else f32)
    C,  # [rows] int64 chosen ids (unused without HAS_C)
    OUT_F,  # [rows, 5] compute dtype: max/T, second/T, s, w, chosen/T
    OUT_I,  # [rows, 3] int32: argmax, #{x > x_chosen}, bad
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
    s_tot = tl.sum(s * scale, axis=0)
    w_tot = tl.sum(tl.where(s > 0, scale * (w + s * (m - big_m)), 0.0), axis=0)
    f = OUT_F + row * 5
    tl.store(f, big_m)
    tl.store(f + 1, runner * inv)
    tl.store(f + 2, s_tot)
    tl.store(f + 3, w_tot)
    tl.store(f + 4 + tl.zeros([1], tl.int64), xc * inv)
    i = OUT_I + row * 3
    tl.store(i, am)
    tl.store(i + 1, tl.sum(cnt, axis=0))
    tl.store(i + 2, tl.max(bad, axis=0))


def row_stats(x2: Any, inv_t: float, ids: Any) -> dict[str, Any]:
    """The per-row statistics of ``x2`` ([rows, V], CUDA) in one read of the logits."""
    rows, vocab = (int(d) for d in x2.shape)
    if x2.stride(1) != 1:
        x2 = x2.contiguous()
    wide = x2.dtype == torch.float64
    dt = torch.float64 if wide else torch.float32
    inv = torch.full((1,), inv_t, dtype=dt, device=x2.device)
    out_f = torch.empty((rows, 5), dtype=dt, device=x2.device)
    out_i = torch.empty((rows, 3), dtype=torch.int32, device=x2.device)
    chosen = ids if ids is not None else out_i
    block = 1024 if wide else 2048
    _row_stats_kernel[(rows,)](
        x2, x2.stride(0), vocab, inv, chosen, out_f, out_i, HAS_C=ids is not None, BLOCK=block, num_warps=8
    )
    out = {
        "m": out_f[:, 0],
        "second": out_f[:, 1],
        "s": out_f[:, 2],
        "w": out_f[:, 3],
        "argmax": out_i[:, 0],
        "bad": out_i[:, 2] != 0,
    }
    if ids is not None:
        out["chosen"] = out_f[:, 4]
        out["greater"] = out_i[:, 1]
    return out
