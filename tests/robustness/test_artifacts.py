"""Artefacts: what is loaded is valid, what is saved keeps the file system's conventions, and
nothing already saved is ever lost."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import stat
import subprocess
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import credo


def _signals(n: int = 600, seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    X = {"a": rng.normal(size=n), "b": rng.normal(size=n)}
    y = (X["a"] - 0.5 * X["b"] + rng.normal(size=n) > 0).astype(int)
    return X, y


def test_refitting_a_loaded_confidence_model_calibrates_again(tmp_path: Path) -> None:
    # Before: the loaded model's calibrator parameter was None, so a refit silently dropped it.
    X, y = _signals()
    model = credo.ConfidenceModel(calibrator=credo.PlattScaling(inputs="probabilities")).fit(X, y)
    model.save(tmp_path / "m.json")
    loaded = credo.load(tmp_path / "m.json")
    assert isinstance(loaded.calibrator, credo.PlattScaling)
    assert loaded.calibrator.get_params() == {"inputs": "probabilities"}
    assert not hasattr(loaded.calibrator, "a_")  # the template, not the fitted copy
    X2, y2 = _signals(seed=1)
    refit = loaded.fit(X2, y2)
    fresh = credo.ConfidenceModel(calibrator=credo.PlattScaling(inputs="probabilities")).fit(X2, y2)
    assert isinstance(refit.pooled_.calibrator, credo.PlattScaling)
    np.testing.assert_array_equal(refit.predict_proba(X2), fresh.predict_proba(X2))


def test_a_loaded_model_without_calibrator_refits_without_one(tmp_path: Path) -> None:
    X, y = _signals()
    credo.ConfidenceModel().fit(X, y).save(tmp_path / "m.json")
    loaded = credo.load(tmp_path / "m.json")
    assert loaded.calibrator is None
    assert loaded.fit(X, y).pooled_.calibrator is None


# ----------------------------------------------------------------------------------- loading


def _fitted_kinds() -> dict[str, Any]:
    """One fitted object of every artefact kind."""
    from credo.monitor import DriftMonitor

    rng = np.random.default_rng(7)
    x = rng.uniform(0.02, 0.98, 300)
    y = (rng.uniform(size=300) < x).astype(int)
    probs = np.c_[x, 1 - x]
    seg = np.array(["a", "b", "c"])[np.arange(300) % 3]
    X, yy = _signals(300)
    with warnings.catch_warnings():
        # One segment's SelectiveThreshold may be infeasible (threshold +inf): also a valid state.
        warnings.simplefilter("ignore")
        return _fit_all(x, y, probs, seg, X, yy, DriftMonitor)


def _fit_all(x: Any, y: Any, probs: Any, seg: Any, X: Any, yy: Any, DriftMonitor: Any) -> dict[str, Any]:
    return {
        "PlattScaling": credo.PlattScaling().fit(x, y),
        "BetaCalibration": credo.BetaCalibration().fit(x, y),
        "IsotonicCalibrator": credo.IsotonicCalibrator().fit(x, y),
        "HistogramBinning": credo.HistogramBinning(n_bins=8).fit(x, y),
        "TemperatureScaling": credo.TemperatureScaling().fit(probs, 1 - y),
        "MulticlassCalibrator": credo.MulticlassCalibrator(method="platt").fit(probs, 1 - y),
        "SegmentedCalibrator": credo.SegmentedCalibrator(method="platt", min_samples=50).fit(x, y, seg),
        "ConformalSets": credo.ConformalSets(alpha=0.2, mondrian="segment").fit(probs, 1 - y, segments=seg),
        "ConformalPValues": credo.ConformalPValues().fit(x),
        "SelectiveThreshold": credo.SelectiveThreshold(target_risk=0.3, delta=0.2).fit(x, y, segments=seg),
        "ClaimFilter": credo.ClaimFilter(alpha=0.3).fit(
            [x[i : i + 10] for i in range(0, 300, 10)], [y[i : i + 10] == 1 for i in range(0, 300, 10)]
        ),
        "DriftMonitor": DriftMonitor(n_bins=20).fit(x, decisions=np.where(y == 1, "answer", "abstain")).update(x[:50]),
        "ConfidenceModel": credo.ConfidenceModel(calibrator=credo.IsotonicCalibrator()).fit(
            X, yy, segments=np.arange(300) % 2
        ),
    }


def _resign(body: dict[str, Any]) -> dict[str, Any]:
    """A body with its checksum recomputed, as an attacker (or a careless script) would."""
    from credo import _artifact

    body = {k: v for k, v in body.items() if k != "sha256"}
    body["sha256"] = hashlib.sha256(_artifact._canonical(body)).hexdigest()
    return body


def _write(path: Path, body: dict[str, Any]) -> Path:
    path.write_text(json.dumps(body))
    return path


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("kinds")
    out = {}
    for kind, obj in _fitted_kinds().items():
        obj.save(folder / f"{kind}.json")
        out[kind] = json.loads((folder / f"{kind}.json").read_text())
    return out


def test_every_kind_round_trips_through_its_schema(saved: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    from credo import _artifact

    assert set(saved) == set(_artifact._KINDS) - {k for k in _artifact._KINDS if k.startswith(("_", "Shrink"))}
    for kind, body in saved.items():
        obj = credo.load(_write(tmp_path / f"{kind}.json", body))
        assert type(obj).__name__ == kind


def _field_cases() -> list[tuple[str, str, str, Any]]:
    """(kind, "params"/"state", field, wrong value): every field of every kind, given a value of
    the wrong type (an object), a NaN and, for booleans, a string."""
    out = []
    for kind, fields in _FIELDS.items():
        for part, names in fields.items():
            for name in names:
                for wrong in ({"wrong": [1]}, "nan", "no"):
                    out.append((kind, part, name, wrong))
    return out


# The fields of each kind as saved (kept in step with the kinds by test_field_list_is_complete).
_FIELDS: dict[str, dict[str, list[str]]] = {}


def test_field_list_is_complete(saved: dict[str, dict[str, Any]]) -> None:
    for kind, body in saved.items():
        _FIELDS.setdefault(kind, {"params": sorted(body["params"]), "state": sorted(body["state"])})
        assert _FIELDS[kind] == {"params": sorted(body["params"]), "state": sorted(body["state"])}


# Parameters whose type is free-form (keyword arguments handed to an inner calibrator, checked
# when that calibrator is built) accept an object.
_FREE_FORM = {("MulticlassCalibrator", "params", "params"), ("SegmentedCalibrator", "params", "params")}


def test_a_resigned_wrong_value_in_any_field_is_refused_naming_it(
    saved: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    test_field_list_is_complete(saved)
    tried, missed = 0, []
    for kind, fields in _FIELDS.items():
        for part, names in fields.items():
            for name in names:
                for wrong in ({"wrong": [1]}, "nan", "no", -1, None):
                    body = json.loads(json.dumps(saved[kind]))
                    if body[part][name] == wrong or (wrong is None and (kind, part, name) in _NULLABLE):
                        continue
                    if (kind, part, name) in _FREE_FORM and isinstance(wrong, dict):
                        continue
                    if wrong == -1 and (kind, part, name) in _SIGNED:
                        continue
                    if not isinstance(wrong, dict) and (kind, part, name, wrong) in _VALID:
                        continue
                    body[part][name] = wrong
                    path = _write(tmp_path / "x.json", _resign(body))
                    try:
                        credo.load(path)
                        missed.append(f"{kind} {part}.{name} = {wrong!r}: loaded")
                    except credo.ArtifactError as exc:
                        if not re.search(rf"{kind} {part}\.{name}\b", str(exc)):
                            missed.append(f"{kind} {part}.{name} = {wrong!r}: {exc}")
                    tried += 1
    assert not missed, "\n".join(missed)
    assert tried > 300


# Wrong-looking values that are valid for that field.
_VALID = {
    ("IsotonicCalibrator", "params", "out_of_bounds", "nan"),
    ("DriftMonitor", "params", "name", "nan"),
    ("DriftMonitor", "params", "name", "no"),
}

# Fields where None (JSON null) is a valid value, and fields where -1 is.
_NULLABLE = {
    ("IsotonicCalibrator", "params", "y_min"),
    ("IsotonicCalibrator", "params", "y_max"),
    ("TemperatureScaling", "params", "threads"),
    ("MulticlassCalibrator", "params", "params"),
    ("SegmentedCalibrator", "params", "params"),
    ("ConformalSets", "params", "mondrian"),
    ("ConformalPValues", "params", "seed"),
    ("SelectiveThreshold", "params", "segment_targets"),
    ("DriftMonitor", "params", "thresholds"),
    ("DriftMonitor", "params", "decay"),
    ("ConfidenceModel", "params", "features"),
    ("ConfidenceModel", "params", "calibrator"),
    ("ConfidenceModel", "params", "random_state"),
    ("ConfidenceModel", "state", "holdout"),
}
_SIGNED = {
    ("IsotonicCalibrator", "params", "y_min"),
    ("IsotonicCalibrator", "params", "y_max"),
    ("PlattScaling", "state", "a"),
    ("PlattScaling", "state", "b"),
    ("BetaCalibration", "state", "c"),
    ("DriftMonitor", "state", "reference_sum"),
    ("DriftMonitor", "state", "current_sum"),
    ("ClaimFilter", "state", "threshold"),
}


def test_nan_quantile_and_string_feasible_are_refused(saved: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    # The two the issue found: both loaded before (NaN quantile; "no" read as True).
    body = json.loads(json.dumps(saved["ConformalSets"]))
    body["state"]["quantile"][0] = "nan"
    with pytest.raises(credo.ArtifactError, match=r"state\.quantile\[0\]"):
        credo.load(_write(tmp_path / "q.json", _resign(body)))
    body = json.loads(json.dumps(saved["SelectiveThreshold"]))
    body["state"]["feasible"][0] = "no"
    with pytest.raises(credo.ArtifactError, match=r"state\.feasible\[0\]: expected true or false"):
        credo.load(_write(tmp_path / "f.json", _resign(body)))


def test_inconsistent_lengths_are_refused(saved: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    body = json.loads(json.dumps(saved["IsotonicCalibrator"]))
    body["state"]["y_thresholds"].pop()
    with pytest.raises(credo.ArtifactError, match="lengths do not match"):
        credo.load(_write(tmp_path / "i.json", _resign(body)))
    body = json.loads(json.dumps(saved["HistogramBinning"]))
    body["state"]["edges"] = sorted(body["state"]["edges"], reverse=True)
    with pytest.raises(credo.ArtifactError, match=r"state\.edges: expected non-decreasing"):
        credo.load(_write(tmp_path / "h.json", _resign(body)))


@pytest.mark.parametrize("version", [0, -1, True, 1.0, "1", None])
def test_schema_version_must_be_a_positive_integer(
    version: Any, saved: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    body = dict(saved["PlattScaling"], schema_version=version)
    with pytest.raises(credo.ArtifactError, match="schema_version"):
        credo.load(_write(tmp_path / "v.json", _resign(body)))


def test_load_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    outcome: list[BaseException | None] = []

    def target() -> None:
        try:
            credo.load(fifo)
            outcome.append(None)
        except BaseException as exc:  # handed to the test
            outcome.append(exc)

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(10)
    if t.is_alive():  # unblock the reader so the thread ends, then fail
        with open(fifo, "w"):
            pass
        pytest.fail("credo.load blocked on a FIFO")
    assert isinstance(outcome[0], credo.ArtifactError) and "not a regular file" in str(outcome[0])


@pytest.mark.parametrize("path", ["/dev/zero", "/dev/null", "/"])
def test_load_refuses_devices_and_directories(path: str) -> None:
    with pytest.raises(credo.ArtifactError, match=r"^path: .* is not a regular file"):
        credo.load(path)


def test_load_bounds_the_file_size(tmp_path: Path, saved: dict[str, dict[str, Any]]) -> None:
    p = _write(tmp_path / "p.json", saved["PlattScaling"])
    size = p.stat().st_size
    assert type(credo.load(p, max_bytes=size)).__name__ == "PlattScaling"
    with pytest.raises(credo.ArtifactError, match=r"^path: .* more than max_bytes"):
        credo.load(p, max_bytes=size - 1)
    big = tmp_path / "big.json"
    with open(big, "wb") as fh:  # sparse: 65 MiB of nothing, over the default bound
        fh.truncate(65 << 20)
    with pytest.raises(credo.ArtifactError, match="max_bytes"):
        credo.load(big)
    with pytest.raises(credo.ArtifactError, match=r"^max_bytes"):
        credo.load(p, max_bytes=0)


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"a":' * 70 + "1" + "}" * 70])
def test_load_bounds_the_nesting_depth(tmp_path: Path, text: str) -> None:
    p = tmp_path / "deep.json"
    p.write_text(text)
    with pytest.raises(credo.ArtifactError, match="nested deeper than"):
        credo.load(p)


@pytest.mark.parametrize(
    ("path", "match"),
    [
        (3, "^path: expected a file path"),
        (None, "^path: expected"),
        ("a\x00b", "^path: cannot read"),
        ("\udc80", "^path"),
    ],
)
def test_load_wraps_bad_paths(path: Any, match: str) -> None:
    with pytest.raises(credo.ArtifactError, match=match):
        credo.load(path)


# ----------------------------------------------------------------------------------- saving


def _platt() -> Any:
    x = np.linspace(0.05, 0.95, 40)
    return credo.PlattScaling().fit(x, (x > 0.5).astype(int))


def test_save_keeps_an_existing_files_mode(tmp_path: Path) -> None:
    p = tmp_path / "m.json"
    p.write_text("old")
    p.chmod(0o644)
    _platt().save(p)
    assert stat.S_IMODE(p.stat().st_mode) == 0o644
    p.chmod(0o640)
    _platt().save(p)
    assert stat.S_IMODE(p.stat().st_mode) == 0o640


def test_save_creates_new_files_with_the_umask_mode(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        _platt().save(tmp_path / "a.json")
        os.umask(0o022)
        _platt().save(tmp_path / "b.json")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "b.json").stat().st_mode) == 0o644


def test_save_writes_through_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "model.json"
    target.write_text("old")
    link = tmp_path / "current.json"
    link.symlink_to(target)
    _platt().save(link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert type(credo.load(target)).__name__ == "PlattScaling"
    assert sorted(p.name for p in (tmp_path / "real").iterdir()) == ["model.json"]


@pytest.mark.parametrize("where", ["missing-dir/x.json", "file/x.json", "ro/x.json", "x\x00.json", "dir"])
def test_save_wraps_os_errors_naming_the_path(tmp_path: Path, where: str) -> None:
    (tmp_path / "file").write_text("")
    (tmp_path / "dir").mkdir()
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro").chmod(0o500)
    try:
        if where == "ro/x.json" and os.access(tmp_path / "ro", os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        with pytest.raises(credo.ArtifactError, match=r"^path: "):
            _platt().save(tmp_path / where)
    finally:
        (tmp_path / "ro").chmod(0o700)


@pytest.mark.parametrize(
    "make",
    [
        lambda: credo.PlattScaling(),
        lambda: credo.IsotonicCalibrator(),
        lambda: credo.HistogramBinning(),
        lambda: credo.TemperatureScaling(),
        lambda: credo.MulticlassCalibrator(),
        lambda: credo.SegmentedCalibrator(),
        lambda: credo.ConformalPValues(),
        lambda: credo.ConfidenceModel(),
        lambda: __import__("credo.monitor").monitor.DriftMonitor(),
    ],
)
def test_saving_an_unfitted_object_raises_not_fitted(make: Any, tmp_path: Path) -> None:
    with pytest.raises(credo.NotFittedError):
        make().save(tmp_path / "u.json")
    assert not list(tmp_path.iterdir())


_STUCK_SAVE = """
import os, sys, time
from pathlib import Path
import numpy as np
import credo
from credo import _artifact
x = np.linspace(0.05, 0.95, 40)
cal = credo.PlattScaling().fit(x, (x > 0.5).astype(int))
def stuck(fd):
    print("writing", flush=True)
    time.sleep(600)
_artifact.os.fsync = stuck
cal.save(sys.argv[1])
"""


def test_a_save_killed_mid_write_leaves_a_temp_file_the_next_save_removes(tmp_path: Path) -> None:
    from tests.conftest import subprocess_env

    target = tmp_path / "model.json"
    _platt().save(target)
    before = target.read_text()
    proc = subprocess.Popen(
        [sys.executable, "-c", _STUCK_SAVE, str(target)], stdout=subprocess.PIPE, text=True, env=subprocess_env()
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    temps = [p.name for p in tmp_path.iterdir() if p.name != "model.json"]
    assert len(temps) == 1 and re.fullmatch(rf"\.model\.json\.credo-tmp-{proc.pid}-\w+\.tmp", temps[0])
    assert target.read_text() == before  # nothing already saved is lost
    # A temp file of a live process (this one, another writer) is left alone.
    mine = tmp_path / f".other.json.credo-tmp-{os.getpid()}-abc.tmp"
    mine.write_text("")
    _platt().save(tmp_path / "other.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["model.json", "other.json", mine.name])
    assert type(credo.load(target)).__name__ == "PlattScaling"
