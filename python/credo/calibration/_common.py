"""Shared plumbing of the calibrators: input conversion, fit fingerprints, the scalar fast path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from credo import _artifact
from credo._base import Estimator
from credo._inputs import encode_labels, to_numpy
from credo._validate import as_float_array, check_is_fitted
from credo.exceptions import ShapeError

#: The labels a classifier-like calibrator was fitted with (absent in artefacts written before
#: ``classes_`` existed: the labels were then 0..K-1).
CLASSES = {"classes": _artifact.list_of(_artifact.any_scalar, min_len=2)}


class ScalarCalibrator(Protocol):
    """A fitted calibrator with a fast path for one score: ``scalar_predictor()`` returns a
    function from one float score to one float probability (no NumPy), or None when this fit
    has none. :class:`credo.ConfidenceModel` calls it on the single-request path."""

    def scalar_predictor(self) -> Callable[[float], float] | None: ...


fingerprint = _artifact.data_hash  # the calibrators' data_hash_: one algorithm for every object


def scores_1d(x: Any, name: str = "X") -> tuple[np.ndarray, np.dtype]:
    """Scores as contiguous float64 (finiteness is checked in Rust), accepting (n,) or (n, 1);
    also returns the input's float dtype (float32 changes isotonic's tie resolution)."""
    arr = as_float_array(to_numpy(x, name), name, ndim=(1, 2), finite=False, dtype=None)
    if arr.ndim == 2:
        if arr.shape[1] != 1:
            raise ShapeError(
                f"{name}: expected scores of shape (n,) or (n, 1), got {arr.shape}; for [n, K] "
                "class probabilities use TemperatureScaling or MulticlassCalibrator"
            )
        arr = arr.reshape(-1)
    dtype = arr.dtype if arr.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    return np.ascontiguousarray(arr, dtype=np.float64), dtype


def binary_targets(y: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(classes_, targets)``: labels of any two values (strings, booleans, {-1, 1}, {1, 2},
    pandas categoricals; {0, 1} keep their meaning) as float64 targets 1.0 for ``classes_[1]``."""
    classes, codes = encode_labels(y, "y", binary=True, n=n)
    return classes, codes.astype(np.float64)


class BinaryCalibrator(Estimator):
    """Base of the calibrators that map one score to one probability.

    ``fit(X, y, sample_weight=None)`` takes scores ``X`` of shape (n,) or (n, 1) and labels of
    any two values (``classes_``; the positive class is ``classes_[1]``, so {0, 1}, {False,
    True}, {-1, 1} and {1, 2} all mean what they say); ``predict(X)`` returns P(y = classes_[1])
    of shape (n,) for (n,) and (n, 1) alike (a float for a float), as scikit-learn's
    calibrators (``IsotonicRegression``, ``_SigmoidCalibration``) do, which is why scikit-learn
    sees them as regressors; ``predict_proba(X)`` returns [n, 2] in ``classes_`` order. Calling
    the fitted object on a Python float, ``cal(0.73)``, goes straight to the Rust model (no
    NumPy), well under a microsecond.
    """

    _model_: Any
    _sklearn_type = "regressor"
    _sklearn_one_d = True

    def __call__(self, x: Any) -> Any:
        if type(x) is float:
            try:
                return self._model_.predict_one(x)
            except AttributeError:
                check_is_fitted(self, "_model_")
                raise
        return self.predict(x)

    def scalar_predictor(self) -> Callable[[float], float]:
        """P(y = 1) of one float score: the fitted Rust model's own ``predict_one`` (what
        ``cal(0.73)`` calls), without a Python frame in between (:class:`ScalarCalibrator`)."""
        check_is_fitted(self, "_model_")
        predict_one: Callable[[float], float] = self._model_.predict_one
        return predict_one

    def predict(self, X: Any) -> Any:
        """Calibrated P(y = 1) for each score (a float for a scalar)."""
        check_is_fitted(self, "_model_")
        if isinstance(X, (float, int, np.floating, np.integer)) and not isinstance(X, bool):
            return self._model_.predict_one(float(X))
        x, _ = scores_1d(X)
        return self._model_.predict(x)

    def predict_proba(self, X: Any) -> np.ndarray:
        """[n, 2] array of (P(y = 0), P(y = 1))."""
        check_is_fitted(self, "_model_")
        x, _ = scores_1d(X)
        p = self._model_.predict(x)
        return np.column_stack([1.0 - p, p])

    def _record_fit(self, x: np.ndarray, y: np.ndarray, w: np.ndarray | None, classes: np.ndarray | None) -> None:
        self.n_samples_ = len(x)
        self.n_features_in_ = 1
        self.data_hash_ = fingerprint(x, y, w)
        if classes is not None:
            self.classes_ = classes

    def _artifact_summary(self) -> dict[str, Any]:
        return {"n": self.n_samples_, "data_hash": self.data_hash_}

    def _base_state(self) -> dict[str, Any]:
        state = {"n_samples": self.n_samples_, "data_hash": self.data_hash_}
        if hasattr(self, "classes_"):
            state["classes"] = self.classes_.tolist()
        return state

    def _restore_base(self, state: dict[str, Any], *, labels: bool = True) -> None:
        self.n_samples_ = int(state["n_samples"])
        self.n_features_in_ = 1
        self.data_hash_ = str(state["data_hash"])
        if "classes" in state:
            self.classes_ = np.asarray(state["classes"])
        elif labels:  # written before classes_ existed: labels were {0, 1}
            self.classes_ = np.arange(2)


def check_sample_weight(w: Any, n: int) -> np.ndarray | None:
    from credo._validate import as_sample_weight

    return as_sample_weight(w, n)
