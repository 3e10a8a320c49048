"""What the README promises about top-k summaries across SIMD levels: within 1e-14 of the scalar
reference (absolute, or relative above 1). Each level runs in its own process (CREDO_SIMD is read
once)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from credo.signals import simd_levels
from tests.conftest import subprocess_env

CODE = textwrap.dedent(
    """
    import json, numpy as np, credo
    rng = np.random.default_rng(1)
    out = []
    for _ in range(40):
        T, k = rng.integers(1, 300), rng.integers(1, 21)
        top = np.sort(rng.normal(-3, 3, size=(T, k)), axis=1)[:, ::-1]
        top = np.minimum(top - np.log(np.exp(top).sum(1, keepdims=True)), 0)
        ch = top[:, 0] - rng.exponential(size=T) * (rng.uniform(size=T) < 0.3)
        out.append([float(v) for v in credo.topk_summary(top, ch)])
    print(json.dumps(out))
    """
)


def _summaries(level: str) -> np.ndarray:
    env = subprocess_env() | {"CREDO_SIMD": level}
    out = subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120, env=env,
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return np.array(json.loads(out.stdout.replace("NaN", "null")), dtype=float)


@pytest.mark.parametrize("level", [lvl for lvl in simd_levels() if lvl != "scalar"])
def test_simd_summaries_match_the_scalar_reference_within_the_documented_bound(level: str) -> None:
    ref, got = _summaries("scalar"), _summaries(level)
    np.testing.assert_array_equal(np.isnan(ref), np.isnan(got))
    ok = ~np.isnan(ref)
    err = np.abs(ref[ok] - got[ok]) / np.maximum(np.abs(ref[ok]), 1.0)
    assert err.max() <= 1e-14
