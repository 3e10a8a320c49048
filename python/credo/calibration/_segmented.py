"""One calibrator per workload segment, with a pooled fallback for small segments."""

from __future__ import annotations

from typing import Any

import numpy as np

from credo import _artifact
from credo._base import Estimator
from credo._inputs import read_array
from credo._validate import check_is_fitted, check_positive_int, check_same_length
from credo.calibration._common import check_sample_weight, fingerprint
from credo.calibration._multiclass import dump_calibrator, load_calibrator, make_calibrator
from credo.exceptions import InvalidArgumentError, ShapeError

#: Every calibrator usable inside a segment, by ``method`` name (filled in by the package).
ALL_METHODS: dict[str, type[Any]] = {}


def _segment_keys(segments: Any, n: int) -> np.ndarray:
    arr = read_array(segments, "segments")
    if arr.ndim != 1:
        raise ShapeError(f"segments: expected a 1-D array of segment labels, got shape {arr.shape}")
    check_same_length(n, segments=arr)
    if arr.dtype.kind not in "iuUSOb":
        raise InvalidArgumentError(f"segments: labels must be strings or integers, got dtype {arr.dtype}")
    return arr


def _segment_key(v: Any, path: str) -> None:
    if isinstance(v, bool) or not isinstance(v, (str, int)):
        raise _artifact.ArtifactError(f"{path}: expected a segment label (string or integer), got {v!r}")


_SEGMENT_KEY = _segment_key


def _key(v: Any) -> str | int:
    if isinstance(v, (bool, np.bool_)):
        return int(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (str, np.str_)):
        return str(v)
    raise InvalidArgumentError(f"segments: labels must be strings or integers, got {v!r}")


@_artifact.register
class SegmentedCalibrator(Estimator):
    """One calibrator per workload segment (domain, workflow, prompt family).

    A segment with at least ``min_samples`` samples gets its own fit; smaller segments, segments
    whose own fit fails (one class only, say) and segments never seen at fit time use the fit on
    all the data, so calibration can be segmented by workload without overfitting small
    segments.

    Parameters
    ----------
    method : {'temperature', 'platt', 'beta', 'isotonic', 'histogram', 'multiclass'}
    params : dict or None
        Keyword arguments of that calibrator (for 'multiclass', e.g.
        ``{"method": "isotonic", "strategy": "top-label"}``).
    min_samples : int
        The smallest segment that gets its own calibrator.

    Attributes
    ----------
    pooled_ : the calibrator fitted on all samples
    calibrators_ : dict
        segment -> its own calibrator (only segments that have one).
    segment_counts_ : dict
        segment -> number of samples at fit time.
    """

    def __init__(
        self, *, method: str = "temperature", params: dict[str, Any] | None = None, min_samples: int = 100
    ) -> None:
        self.method = method
        self.params = params
        self.min_samples = min_samples

    def fit(self, X: Any, y: Any, segments: Any, sample_weight: Any = None) -> SegmentedCalibrator:
        min_n = check_positive_int(self.min_samples, "min_samples")
        make_calibrator(self.method, self.params, ALL_METHODS)
        X = read_array(X, "X")
        y = read_array(y, "y")
        n = len(X)
        check_same_length(n, y=y)
        seg = _segment_keys(segments, n)
        w = check_sample_weight(sample_weight, n)
        self.pooled_ = make_calibrator(self.method, self.params, ALL_METHODS).fit(X, y, w)
        self.calibrators_: dict[str | int, Any] = {}
        self.segment_counts_: dict[str | int, int] = {}
        self.fallback_reasons_: dict[str | int, str] = {}
        values, inverse = np.unique(seg, return_inverse=True)
        for i, v in enumerate(values):
            key = _key(v)
            mask = inverse == i
            count = int(mask.sum())
            self.segment_counts_[key] = count
            if count < min_n:
                self.fallback_reasons_[key] = f"{count} samples < min_samples={min_n}"
                continue
            cal = make_calibrator(self.method, self.params, ALL_METHODS)
            try:
                cal.fit(X[mask], y[mask], None if w is None else w[mask])
            except (InvalidArgumentError, ShapeError) as exc:
                self.fallback_reasons_[key] = f"own fit failed: {exc}"
                continue
            self.calibrators_[key] = cal
        self.n_samples_ = n
        self.data_hash_ = fingerprint(np.ascontiguousarray(X, dtype=np.float64), y.astype(np.float64), w)
        return self

    def calibrator_for(self, segment: Any) -> Any:
        """The calibrator used for ``segment`` (its own, or the pooled one)."""
        check_is_fitted(self, "pooled_")
        try:
            return self.calibrators_.get(_key(segment), self.pooled_)
        except InvalidArgumentError:
            return self.pooled_

    def _apply(self, X: Any, segments: Any, how: str) -> np.ndarray:
        check_is_fitted(self, "pooled_")
        X = read_array(X, "X")
        seg = _segment_keys(segments, len(X))
        values, inverse = np.unique(seg, return_inverse=True)
        out = None
        for i, v in enumerate(values):
            mask = inverse == i
            part = getattr(self.calibrator_for(v), how)(X[mask])
            part = np.asarray(part)
            if out is None:
                out = np.empty((len(X), *part.shape[1:]), dtype=np.float64)
            out[mask] = part
        assert out is not None
        return out

    def predict_proba(self, X: Any, segments: Any) -> np.ndarray:
        return self._apply(X, segments, "predict_proba")

    def predict(self, X: Any, segments: Any) -> np.ndarray:
        return self._apply(X, segments, "predict")

    def __call__(self, x: Any, segment: Any = None) -> Any:
        """``cal(0.73, "legal")``: one calibrated value through the segment's calibrator."""
        check_is_fitted(self, "pooled_")
        cal = self.pooled_ if segment is None else self.calibrators_.get(segment, self.pooled_)
        return cal(x)

    _ARTIFACT_SCHEMA = _artifact.Schema(
        params={
            "method": _artifact.text("temperature", "platt", "beta", "isotonic", "histogram", "multiclass"),
            "params": _artifact.nullable(_artifact.mapping(_artifact.any_json)),
            "min_samples": _artifact.integer(lo=1),
        },
        state={
            "pooled": _artifact.nested_state(lambda: ALL_METHODS),
            "segments": _artifact.list_of(_artifact.pair(_SEGMENT_KEY, _artifact.nested_state(lambda: ALL_METHODS))),
            "segment_counts": _artifact.list_of(_artifact.pair(_SEGMENT_KEY, _artifact.integer())),
            "fallback_reasons": _artifact.list_of(_artifact.pair(_SEGMENT_KEY, _artifact.text())),
            **_artifact.FIT_RECORD,
        },
    )

    def _artifact_state(self) -> dict[str, Any]:
        return {
            "pooled": dump_calibrator(self.pooled_),
            "segments": [[k, dump_calibrator(c)] for k, c in self.calibrators_.items()],
            "segment_counts": [[k, c] for k, c in self.segment_counts_.items()],
            "fallback_reasons": [[k, r] for k, r in self.fallback_reasons_.items()],
            "n_samples": self.n_samples_,
            "data_hash": self.data_hash_,
        }

    def _artifact_summary(self) -> dict[str, Any]:
        return {
            "n": self.n_samples_,
            "data_hash": self.data_hash_,
            "segment_counts": [[k, c] for k, c in self.segment_counts_.items()],
            "own_calibrator": sorted(map(str, self.calibrators_)),
        }

    @classmethod
    def _from_artifact(cls, params: dict[str, Any], state: dict[str, Any]) -> SegmentedCalibrator:
        obj = cls(**params)
        obj.pooled_ = load_calibrator(state["pooled"], ALL_METHODS)
        obj.calibrators_ = {_key(k): load_calibrator(e, ALL_METHODS) for k, e in state["segments"]}
        obj.segment_counts_ = {_key(k): int(c) for k, c in state["segment_counts"]}
        obj.fallback_reasons_ = {_key(k): str(r) for k, r in state["fallback_reasons"]}
        obj.n_samples_ = int(state["n_samples"])
        obj.data_hash_ = str(state["data_hash"])
        return obj
