"""Artefacts: what is loaded is valid, what is saved keeps the file system's conventions, and
nothing already saved is ever lost."""

from __future__ import annotations

from pathlib import Path

import numpy as np

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
