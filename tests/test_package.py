"""The package's foundation: import surface, exception hierarchy, artefact files."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import credo
from credo import _artifact
from credo.exceptions import ArtifactError, CredoError, NotFittedError

from .conftest import subprocess_env


def test_import_needs_only_numpy():
    code = (
        "import sys, credo; "
        "heavy = {'scipy', 'sklearn', 'matplotlib', 'pandas', 'torch', 'ray', 'click', 'jsonschema'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=subprocess_env())
    assert out.stdout.strip() == "[]"


def test_exception_hierarchy():
    for name in ["InvalidArgumentError", "NonFiniteError", "ShapeError", "EmptyInputError", "ArtifactError"]:
        cls = getattr(credo, name)
        assert issubclass(cls, CredoError)
    assert issubclass(CredoError, ValueError)
    assert issubclass(NotFittedError, AttributeError)
    assert credo.__version__ == credo._credo.__version__


@_artifact.register
class _Toy:
    _ARTIFACT_SCHEMA = _artifact.Schema(
        params={"scale": _artifact.real()}, state={"values": _artifact.numbers(inf=True, nan=True)}
    )

    def __init__(self, *, scale=1.0):
        self.scale = scale

    def get_params(self):
        return {"scale": self.scale}

    def _artifact_state(self):
        return {"values": np.array([0.5, np.inf, np.nan])}

    @classmethod
    def _from_artifact(cls, params, state):
        obj = cls(**params)
        obj.values_ = _artifact.decode_array(state["values"])
        return obj


def test_artifact_round_trip(tmp_path):
    p = tmp_path / "toy.json"
    _artifact.save(_Toy(scale=2.5), p)
    loaded = credo.load(p)
    assert loaded.scale == 2.5
    np.testing.assert_array_equal(loaded.values_, [0.5, np.inf, np.nan])


def test_artifact_rejects_tampering_truncation_and_future_versions(tmp_path):
    p = tmp_path / "toy.json"
    _artifact.save(_Toy(), p)
    body = json.loads(p.read_text())

    tampered = dict(body, params={"scale": 3.0})
    p.write_text(json.dumps(tampered))
    with pytest.raises(ArtifactError, match="checksum"):
        credo.load(p)

    p.write_text(json.dumps(body)[:40])
    with pytest.raises(ArtifactError, match="corrupt or truncated"):
        credo.load(p)

    future = {k: v for k, v in body.items() if k != "sha256"}
    future["schema_version"] = 99
    p.write_text(json.dumps(future))
    with pytest.raises(ArtifactError, match="newer credo"):
        credo.load(p)

    with pytest.raises(ArtifactError, match="no such file"):
        credo.load(tmp_path / "missing.json")


def test_failed_save_keeps_previous_file(tmp_path, monkeypatch):
    p = tmp_path / "toy.json"
    _artifact.save(_Toy(scale=1.0), p)
    before = p.read_text()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(_artifact.os, "fsync", boom)
    with pytest.raises(credo.ArtifactError, match=r"^path: cannot write .*toy\.json.*disk full"):
        _artifact.save(_Toy(scale=9.0), p)
    assert p.read_text() == before
    assert [f.name for f in tmp_path.iterdir()] == ["toy.json"]
