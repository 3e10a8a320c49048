"""Smoke test of an installed credo wheel, run from outside the source tree in a fresh venv.

Proves the wheel carries the native module, the type information and a working public API.
"""

from __future__ import annotations

import importlib.resources
import sys
import tempfile
from pathlib import Path

import numpy as np

import credo
import credo._validate

assert "site-packages" in credo.__file__, f"imported credo from {credo.__file__}, not the installed wheel"
assert credo.__version__ == credo._credo.__version__
assert importlib.resources.files("credo").joinpath("py.typed").is_file(), "py.typed missing from the wheel"
assert importlib.resources.files("credo").joinpath("_credo.pyi").is_file(), "_credo.pyi missing from the wheel"

try:
    credo._validate.as_float_array([1.0, float("nan")], "scores")
except credo.NonFiniteError as exc:
    assert "scores" in str(exc)
else:
    raise AssertionError("NaN accepted")

rng = np.random.default_rng(0)
checks = ["import", "exceptions"]

if hasattr(credo, "token_signals"):
    logits = rng.normal(size=(4, 1000)).astype(np.float32)
    sig = credo.token_signals(logits)
    ref = np.log(np.exp(logits.astype(np.float64)).sum(axis=1))
    np.testing.assert_allclose(np.asarray(sig.logsumexp, dtype=np.float64), ref, rtol=1e-5)
    checks.append("token_signals")

if hasattr(credo, "calibration"):
    from credo.calibration import IsotonicCalibrator

    x = rng.random(500)
    y = (rng.random(500) < x).astype(int)
    cal = IsotonicCalibrator(out_of_bounds="clip").fit(x, y)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "iso.json"
        cal.save(path)
        again = credo.load(path)
        np.testing.assert_array_equal(cal.predict(x), again.predict(x))
    checks.append("calibration save/load")

print("wheel smoke OK:", ", ".join(checks), "| python", sys.version.split()[0], "|", credo.__file__)
