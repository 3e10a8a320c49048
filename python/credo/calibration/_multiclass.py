"""Multiclass calibration from one-score calibrators: top-label or one-vs-rest."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from credo import _artifact, _credo
from credo._base import Estimator
from credo._inputs import encode_labels, to_numpy
from credo._validate import as_probabilities, check_choice, check_is_fitted
from credo.calibration._common import CLASSES, check_sample_weight, fingerprint
from credo.exceptions import InvalidArgumentError, ShapeError

#: One-score calibrators by ``method`` name (filled in by the package ``__init__``).
BINARY_METHODS: dict[str, type[Any]] = {}


def make_calibrator(method: str, params: dict[str, Any] | None, registry: dict[str, type]) -> Any:
    check_choice(method, "method", tuple(registry))
    if params is not None and not isinstance(params, dict):
        raise InvalidArgumentError(f"params: must be a dict of keyword arguments or None, got {params!r}")
    try:
        return registry[method](**(params or {}))
    except TypeError as exc:
        raise InvalidArgumentError(f"params: not valid for method {method!r} ({exc})") from None


def dump_calibrator(cal: Any) -> dict[str, Any]:
    return {"kind": type(cal).__name__, "params": cal.get_params(), "state": cal._artifact_state()}


def load_calibrator(entry: dict[str, Any], allowed: Mapping[str, type[_artifact.Artifact]]) -> Any:
    kinds = {cls.__name__: cls for cls in allowed.values()}
    cls = kinds.get(entry["kind"])
    if cls is None:
        raise _artifact.ArtifactError(f"unexpected calibrator kind {entry['kind']!r} inside a wrapper")
    return cls._from_artifact(entry["params"], entry["state"])


@_artifact.register
class MulticlassCalibrator(Estimator):
    """Calibrates ``[n, K]`` class probabilities with one-score calibrators.

    ``y`` holds integer labels 0..K−1 naming the columns, or K distinct labels of any kind,
    sorted into ``classes_``. ``predict_proba`` returns the calibrated [n, K] probabilities and
    ``predict`` the label of each row's most probable class, as scikit-learn's classifiers.

    Parameters
    ----------
    method : {'isotonic', 'platt', 'beta', 'histogram'}
        The one-score calibrator.
    strategy : {'one-vs-rest', 'top-label'}
        'one-vs-rest' fits one calibrator per class on (p_k, y == k) and divides each row by its
        sum (an all-zero row becomes uniform), as scikit-learn's ``CalibratedClassifierCV``.
        'top-label' fits one calibrator on (max p, prediction correct); the calibrated row puts
        the calibrated confidence on the predicted class and shares the rest in proportion.
    params : dict or None
        Keyword arguments of the one-score calibrator.

    Attributes
    ----------
    calibrators_ : list
        K fitted calibrators (one-vs-rest) or one (top-label).
    classes_ : ndarray
    n_classes_ : int
    n_features_in_ : int
        K, the columns of X.
    """

    _sklearn_type = "classifier"

    def __init__(
        self, *, method: str = "isotonic", strategy: str = "one-vs-rest", params: dict[str, Any] | None = None
    ) -> None:
        self.method = method
        self.strategy = strategy
        self.params = params

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MulticlassCalibrator:
        check_choice(self.strategy, "strategy", ("one-vs-rest", "top-label"))
        make_calibrator(self.method, self.params, BINARY_METHODS)
        p = as_probabilities(to_numpy(X, "X"), "X", ndim=2)
        n, k = p.shape
        if k < 2:
            raise ShapeError(f"X: needs at least 2 classes (columns), got {k}")
        classes, labels = encode_labels(y, "y", n_classes=k, n=n)
        w = check_sample_weight(sample_weight, n)
        if self.strategy == "top-label":
            top = _credo.top_probability(p)
            conf, idx = top.confidence, top.index
            cal = make_calibrator(self.method, self.params, BINARY_METHODS)
            self.calibrators_ = [cal.fit(conf, (idx == labels).astype(np.int64), w)]
        else:
            counts = np.bincount(labels, minlength=k)
            missing = np.flatnonzero((counts == 0) | (counts == n))
            if missing.size:
                raise InvalidArgumentError(
                    f"y: class {classes[missing[0]]!r} has no positive or no negative samples; "
                    "one-vs-rest needs both for every class (use strategy='top-label')"
                )
            self.calibrators_ = [
                make_calibrator(self.method, self.params, BINARY_METHODS).fit(
                    np.ascontiguousarray(p[:, j]), (labels == j).astype(np.int64), w
                )
                for j in range(k)
            ]
        self.n_classes_ = self.n_features_in_ = k
        self.classes_ = classes
        self.n_samples_ = n
        self.data_hash_ = fingerprint(p, labels, w)
        return self

    def _check(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "calibrators_")
        p = as_probabilities(to_numpy(X, "X"), "X", ndim=2)
        if p.shape[1] != self.n_classes_:
            raise ShapeError(f"X: has {p.shape[1]} columns but the model was fitted on {self.n_classes_} classes")
        return p

    def predict_proba(self, X: Any) -> np.ndarray:
        """Calibrated ``[n, K]`` probabilities (rows sum to 1)."""
        p = self._check(X)
        if self.strategy == "top-label":
            conf = _credo.top_probability(p).confidence
            return _credo.rescale_top_label(p, self.calibrators_[0].predict(conf))
        cols = np.column_stack([cal.predict(np.ascontiguousarray(p[:, j])) for j, cal in enumerate(self.calibrators_)])
        return _credo.normalize_one_vs_rest(np.ascontiguousarray(cols))

    def predict(self, X: Any) -> np.ndarray:
        """The label (``classes_``) of each row's most probable calibrated class."""
        labels: np.ndarray = self.classes_[np.argmax(self.predict_proba(X), axis=1)]
        return labels

    def predict_confidence(self, X: Any) -> np.ndarray:
        """The calibrated probability of each row's predicted class."""
        p = self._check(X)
        if self.strategy == "top-label":
            conf = _credo.top_probability(p).confidence
            top: np.ndarray = self.calibrators_[0].predict(conf)
            return top
        return _credo.top_probability(self.predict_proba(p)).confidence

    _ARTIFACT_SCHEMA = _artifact.Schema(
        params={
            "method": _artifact.text(*("isotonic", "platt", "beta", "histogram")),
            "strategy": _artifact.text("one-vs-rest", "top-label"),
            "params": _artifact.nullable(_artifact.mapping(_artifact.any_json)),
        },
        state={
            "calibrators": _artifact.list_of(_artifact.nested_state(lambda: BINARY_METHODS), min_len=1),
            "n_classes": _artifact.integer(lo=2),
            **_artifact.FIT_RECORD,
            **CLASSES,
        },
        optional=("classes",),
    )

    def _artifact_state(self) -> dict[str, Any]:
        return {
            "calibrators": [dump_calibrator(c) for c in self.calibrators_],
            "n_classes": self.n_classes_,
            "classes": self.classes_.tolist(),
            "n_samples": self.n_samples_,
            "data_hash": self.data_hash_,
        }

    def _artifact_summary(self) -> dict[str, Any]:
        return {"n": self.n_samples_, "data_hash": self.data_hash_}

    @classmethod
    def _from_artifact(cls, params: dict[str, Any], state: dict[str, Any]) -> MulticlassCalibrator:
        obj = cls(**params)
        obj.calibrators_ = [load_calibrator(e, BINARY_METHODS) for e in state["calibrators"]]
        obj.n_classes_ = obj.n_features_in_ = int(state["n_classes"])
        obj.classes_ = np.asarray(state["classes"]) if "classes" in state else np.arange(obj.n_classes_)
        obj.n_samples_ = int(state["n_samples"])
        obj.data_hash_ = str(state["data_hash"])
        expected = 1 if obj.strategy == "top-label" else obj.n_classes_
        if len(obj.calibrators_) != expected:
            raise _artifact.ArtifactError(f"expected {expected} calibrators, found {len(obj.calibrators_)}")
        return obj
