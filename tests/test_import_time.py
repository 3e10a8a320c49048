"""`import credo` stays cheap: the public names are imported lazily (PEP 562), so a bare import
loads neither NumPy-heavy modules nor asyncio, and no optional dependency. Time itself is
measured with `python -X importtime -c "import credo"` (README), not asserted here."""

from __future__ import annotations

import json
import subprocess
import sys

import credo

from .conftest import subprocess_env

HEAVY = [
    "asyncio",
    "matplotlib",
    "scipy",
    "pandas",
    "pyarrow",
    "sklearn",
    "torch",
    "ray",
    "click",
    "tqdm",
    "jsonschema",
]


def _child(code: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=subprocess_env(), timeout=120
    )
    return json.loads(out.stdout)


def test_bare_import_loads_no_heavy_module():
    got = _child(
        "import json, sys; import credo; "
        f"heavy = {HEAVY!r}; "
        "print(json.dumps({'heavy': [m for m in heavy if m in sys.modules], "
        "'credo': sorted(m for m in sys.modules if m.startswith('credo'))}))"
    )
    assert got["heavy"] == []
    # Only the package, its native module and the exceptions load up front.
    assert got["credo"] == ["credo", "credo._credo", "credo.exceptions"]


def test_every_public_name_resolves_and_the_cascade_defers_asyncio():
    got = _child(
        "import json, sys, credo; "
        "missing = [n for n in credo.__all__ if getattr(credo, n, None) is None]; "
        "credo.Cascade; credo.Policy; credo.metrics; "
        "print(json.dumps({'missing': missing, 'asyncio': 'asyncio' in sys.modules}))"
    )
    assert got == {"missing": [], "asyncio": False}


def test_lazy_names_are_the_module_objects():
    from credo.calibration import IsotonicCalibrator
    from credo.signals import token_signals

    assert credo.IsotonicCalibrator is IsotonicCalibrator
    assert credo.token_signals is token_signals
    assert set(credo.__all__) <= set(dir(credo))
    try:
        credo.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("credo.no_such_name did not raise AttributeError")


def test_load_finds_every_artifact_kind_in_a_fresh_process(tmp_path):
    """`credo.load` (and the private `_artifact.from_dict` the Ray integration uses) must find a
    kind whose module `import credo` has not imported yet."""
    import numpy as np

    p = tmp_path / "platt.json"
    rng = np.random.default_rng(0)
    s = rng.random(200)
    credo.PlattScaling().fit(s, (rng.random(200) < s).astype(int)).save(p)
    got = _child(
        "import json, credo._artifact as a; "
        f"m = a.load({str(p)!r}); "
        "print(json.dumps({'kind': type(m).__name__, 'p': float(m.predict([0.5])[0])}))"
    )
    assert got["kind"] == "PlattScaling"
    assert got["p"] == credo.load(p).predict([0.5])[0]
