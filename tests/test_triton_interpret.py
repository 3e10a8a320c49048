"""The fused Triton token-signal kernel (``credo._triton``), run by Triton's CPU interpreter
(``TRITON_INTERPRET=1``) against the Rust kernel: the same per-row arithmetic as on a GPU, checked
where no GPU is at hand. Needs torch and triton (not in CI's environment: large CUDA wheels);
skips cleanly without them. On a GPU machine ``benches/gpu/device_check.sh`` runs the compiled
kernel through ``tests/test_array_api.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("triton")

SCRIPT = textwrap.dedent(
    """
    import numpy as np, torch
    import credo
    from credo import _triton

    rng = np.random.default_rng(0)
    cases = [(7, 3000, 1.0, torch.float32), (5, 5000, 0.7, torch.float32), (4, 2049, 1.3, torch.float64),
             (6, 4100, 1.0, torch.bfloat16), (3, 2, 1.0, torch.float16)]
    for rows, vocab, temp, dt in cases:
        x = (3 * rng.standard_normal((rows, vocab))).astype(np.float32)
        x[0, 1] = -np.inf  # a masked token
        x[1, :] = x[1, 0]  # a row of ties: the first index is the argmax
        xt = torch.from_numpy(x).to(dt)
        ref_in = xt.to(torch.float32).numpy() if dt in (torch.bfloat16, torch.float16) else xt.numpy()
        ids = rng.integers(0, vocab, rows)
        out, bad = _triton.token_signals(xt, 1.0 / temp, torch.from_numpy(ids))
        ref = credo.token_signals(ref_in, ids, temperature=temp)
        tol = 1e-12 if dt == torch.float64 else 1e-5
        for k in ("entropy", "logsumexp", "max_logprob", "margin_logit", "margin_prob", "chosen_logprob"):
            np.testing.assert_allclose(out[k].numpy(), getattr(ref, k), rtol=tol, atol=tol, err_msg=f"{dt} {k}")
        assert np.array_equal(out["chosen_rank"].numpy(), ref.chosen_rank), dt
        assert np.array_equal(out["argmax"].numpy(), ref_in.argmax(1)), dt
        assert not bad.numpy().any()
    x = np.zeros((3, 100), np.float32)
    x[1, 3] = np.nan
    x[2, :] = -np.inf
    out, bad = _triton.token_signals(torch.from_numpy(x), 1.0, None)
    assert bad.numpy().tolist() == [False, True, True]
    assert np.isnan(out["entropy"].numpy()[1:]).all() and abs(out["entropy"].numpy()[0] - np.log(100)) < 1e-6
    print("triton interpreter: OK")
    """
)


def test_fused_kernel_matches_the_cpu_kernel_in_the_interpreter():
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "TRITON_INTERPRET": "1", "PYTHONPATH": str(root / "python")}
    r = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "triton interpreter: OK" in r.stdout
