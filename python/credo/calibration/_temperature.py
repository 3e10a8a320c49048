"""Temperature scaling: one inverse temperature for all classes, fitted exactly in Rust."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from credo import _artifact, _credo
from credo._base import Estimator
from credo._inputs import encode_labels, to_numpy
from credo._validate import as_float_array, check_choice, check_is_fitted
from credo.calibration._common import CLASSES, check_sample_weight, fingerprint
from credo.exceptions import InvalidArgumentError, ShapeError


def _looks_like_probabilities(x: np.ndarray) -> bool:
    """scikit-learn's rule (``_convert_to_logits``): entries in [0, 1] and rows summing to 1.
    Logits fail it on their first row almost always, so that row is tested alone first (the
    answer is the same; it spares logits a pass over the whole array)."""

    def holds(a: np.ndarray) -> bool:
        with np.errstate(invalid="ignore"):
            return bool(np.all((a >= 0) & (a <= 1)) and np.all(np.isclose(a.sum(axis=1, dtype=np.float64), 1.0)))

    return holds(x[:1]) and holds(x)


@_artifact.register
class TemperatureScaling(Estimator):
    """Temperature scaling: calibrated probabilities softmax(z / T) for logits z.

    Fitted like scikit-learn's temperature calibration (the same optimum): the multinomial
    negative log-likelihood of softmax(β·z) is minimised over β = 1/T with log β in [−10, 10],
    here by Newton's method on log β with exact derivatives (not a generic optimiser). float32
    input is read as float32 and computed in float64. β > 0 never changes the argmax.

    ``X`` is ``[n, K]`` logits (``-inf`` marks an impossible class), ``[n, K]`` probabilities
    (taken as ln(p + 1e-12), as scikit-learn does), or binary decision values of shape (n,) or
    (n, 1), taken as the logit rows (−f, f) so that P(y = 1) = σ(2f / T).

    ``y`` holds integer labels 0..K−1 naming the columns, or K distinct labels of any kind
    (strings, booleans, {−1, 1}, ...), sorted into ``classes_``. ``predict_proba`` returns
    [n, K] ([n, 2] for binary scores of shape (n,) or (n, 1)); ``predict`` returns, as
    scikit-learn's classifiers, the label (``classes_``) of each row's most probable class for
    [n, K] input, and for binary scores the calibrated P(y = ``classes_[1]``) of shape (n,) for
    (n,) and (n, 1) alike (the calibrator meaning of the one-score calibrators); ``cal(f)`` on a
    Python float is that probability.

    Parameters
    ----------
    inputs : {'auto', 'logits', 'probabilities'}
        How to read 2-D ``X``; 'auto' uses scikit-learn's test (entries in [0, 1] and rows that
        sum to 1 mean probabilities).
    threads : int or None
        Worker threads for fitting and batch prediction (None: all cores). Results are
        identical for any value.

    Attributes
    ----------
    beta_ : float
        The inverse temperature; ``temperature_`` = 1 / ``beta_``.
    inputs_ : str
        'logits', 'probabilities' or 'binary', as decided at fit time.
    classes_ : ndarray
        The label of each class (column).
    n_classes_ : int
    n_features_in_ : int
        Columns of X (1 for binary scores).
    """

    _sklearn_type = "classifier"

    def __init__(self, *, inputs: str = "auto", threads: int | None = None) -> None:
        self.inputs = inputs
        self.threads = threads

    # ---------------------------------------------------------------- input handling
    def _read(self, X: Any, fitting: bool) -> tuple[np.ndarray, str]:
        check_choice(self.inputs, "inputs", ("auto", "logits", "probabilities"))
        arr = as_float_array(to_numpy(X, "X"), "X", ndim=(1, 2), finite=False, dtype=None)
        if arr.dtype not in (np.float32, np.float64):
            arr = np.ascontiguousarray(arr, dtype=np.float64)
        if arr.ndim == 1 or arr.shape[1] == 1:
            return np.ascontiguousarray(arr.reshape(-1), dtype=np.float64), "binary"
        if not fitting and arr.shape[1] != self.n_classes_:
            raise ShapeError(f"X: has {arr.shape[1]} columns but the model was fitted on {self.n_classes_} classes")
        if self.inputs == "auto":
            kind = "probabilities" if _looks_like_probabilities(arr) else "logits"
        else:
            kind = self.inputs
        return arr, kind

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> TemperatureScaling:
        self._check_threads()
        x, kind = self._read(X, fitting=True)
        k = 2 if kind == "binary" else x.shape[1]
        classes, labels = encode_labels(y, "y", n_classes=k, n=len(x))
        if np.all(labels == labels[0]):
            raise InvalidArgumentError(
                f"y: only class {classes[labels[0]]!r} occurs; calibration needs at least two classes"
            )
        w = check_sample_weight(sample_weight, len(x))
        if kind == "binary":
            self._model_ = _credo.fit_temperature_binary(x, labels, w)
            self.data_hash_ = fingerprint(x, labels, w)
        else:
            # the fingerprint of (x, labels, w), taken in Rust beside the fit (not in a second
            # read of X after it): the same value as fingerprint(x, labels, w)
            fit = _credo.fit_temperature(x, labels, w, probabilities=kind == "probabilities", threads=self.threads)
            self._model_, self.data_hash_ = fit.model, fit.data_hash
        self.inputs_ = kind
        self._fast_ = self._model_.predict_one if kind == "binary" else None
        self.n_classes_ = k
        self.classes_ = classes
        self.n_features_in_ = 1 if kind == "binary" else k
        self.beta_ = self._model_.beta
        self.temperature_ = 1.0 / self.beta_
        self.n_samples_ = len(x)
        return self

    def _check_threads(self) -> None:
        t = self.threads
        if t is not None and (isinstance(t, bool) or not isinstance(t, (int, np.integer)) or t < 1):
            raise InvalidArgumentError(f"threads: must be a positive integer or None, got {t!r}")

    # ---------------------------------------------------------------- prediction
    def predict_proba(self, X: Any) -> np.ndarray:
        """Calibrated class probabilities, [n, K] ([n, 2] for binary scores)."""
        check_is_fitted(self, "_model_")
        self._check_threads()
        x, kind = self._read(X, fitting=False)
        if kind == "binary":
            if self.inputs_ != "binary" and self.n_classes_ != 2:
                raise ShapeError(f"X: expected [n, {self.n_classes_}] logits, got a vector of scores")
            p = self._model_.predict_binary(x)
            return np.column_stack([1.0 - p, p])
        if self.inputs_ == "binary" and x.shape[1] != 2:
            raise ShapeError(f"X: the model was fitted on binary scores, got shape {x.shape}")
        return self._model_.predict(x, probabilities=kind == "probabilities", threads=self.threads)

    def predict(self, X: Any) -> Any:
        """The most probable class's label (``classes_``) of each [n, K] row; for binary scores
        of shape (n,) or (n, 1), the calibrated P(y = ``classes_[1]``), shape (n,) (a float for
        a float)."""
        check_is_fitted(self, "_model_")
        if isinstance(X, (float, int, np.floating, np.integer)) and not isinstance(X, bool):
            self._check_binary()
            return self._model_.predict_one(float(X))
        x = np.asarray(to_numpy(X, "X"))
        if x.ndim == 1 or (x.ndim == 2 and x.shape[1] == 1):
            return self.predict_proba(x)[:, 1]
        return self.classes_[np.argmax(self.predict_proba(x), axis=1)]

    def scalar_predictor(self) -> Callable[[float], float] | None:
        """``cal(f)`` as a function of one binary decision value (:class:`ScalarCalibrator`);
        None when fitted on [n, K] logits or probabilities."""
        check_is_fitted(self, "_model_")
        return self.__call__ if self._fast_ is not None else None

    def __call__(self, x: Any) -> Any:
        """``cal(f)`` for one binary decision value f (a Python float): P(y = 1), no NumPy."""
        fast = getattr(self, "_fast_", None)  # None: not fitted, or fitted on [n, K]
        if fast is not None and type(x) is float:
            return fast(x)
        return self.predict(x)

    def _check_binary(self) -> None:
        if self.inputs_ != "binary":
            raise ShapeError(
                f"X: a single number is a binary decision value, but this model was fitted on "
                f"[n, {self.n_classes_}] {self.inputs_}; pass a row of {self.n_classes_} values"
            )

    # ---------------------------------------------------------------- artefacts
    _ARTIFACT_SCHEMA = _artifact.Schema(
        params={
            "inputs": _artifact.text("auto", "logits", "probabilities"),
            "threads": _artifact.nullable(_artifact.integer(lo=1, hi=1024)),
        },
        state={
            "beta": _artifact.real(lo=1e-300),
            "inputs": _artifact.text("logits", "probabilities", "binary"),
            "n_classes": _artifact.integer(lo=2),
            **_artifact.FIT_RECORD,
            **CLASSES,
        },
        optional=("classes",),
    )

    def _artifact_state(self) -> dict[str, Any]:
        return {
            "beta": self.beta_,
            "inputs": self.inputs_,
            "n_classes": self.n_classes_,
            "classes": self.classes_.tolist(),
            "n_samples": self.n_samples_,
            "data_hash": self.data_hash_,
        }

    def _artifact_summary(self) -> dict[str, Any]:
        return {"n": self.n_samples_, "data_hash": self.data_hash_, "temperature": self.temperature_}

    @classmethod
    def _from_artifact(cls, params: dict[str, Any], state: dict[str, Any]) -> TemperatureScaling:
        obj = cls(**params)
        obj._model_ = _credo.TemperatureModel(float(state["beta"]))
        obj.beta_ = obj._model_.beta
        obj.temperature_ = 1.0 / obj.beta_
        obj.inputs_ = check_choice(state["inputs"], "inputs", ("logits", "probabilities", "binary"))
        obj._fast_ = obj._model_.predict_one if obj.inputs_ == "binary" else None
        obj.n_classes_ = int(state["n_classes"])
        obj.classes_ = np.asarray(state["classes"]) if "classes" in state else np.arange(obj.n_classes_)
        obj.n_features_in_ = 1 if obj.inputs_ == "binary" else obj.n_classes_
        obj.n_samples_ = int(state["n_samples"])
        obj.data_hash_ = str(state["data_hash"])
        return obj
