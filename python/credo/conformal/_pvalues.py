"""Conformal p-values (crepes' definitions, docs/definitions/conformal.md#conformal-p-values)."""

from __future__ import annotations

from typing import Any

import numpy as np

from credo import _artifact, _credo
from credo._base import Estimator
from credo._validate import as_float_array, check_bool, check_is_fitted, check_open_unit, check_seed
from credo.exceptions import InvalidArgumentError, NotFittedError


def _seed(seed: Any) -> int:
    if seed is None:
        return int(np.random.default_rng().integers(0, 2**63))
    return check_seed(seed)


def conformal_p_values(
    calibration_scores: Any, test_scores: Any, *, smoothed: bool = False, seed: int | None = None
) -> np.ndarray:
    """Conformal p-values of ``test_scores`` against ``calibration_scores`` (nonconformity:
    higher is stranger).

    Plain: ``(#{cal >= s} + 1) / (n + 1)``. Smoothed: ``(#{cal > s} + theta (#{cal = s} + 1)) /
    (n + 1)`` with ``theta ~ U(0, 1)`` drawn from ``seed`` (exactly uniform under exchangeability).
    ``test_scores`` of any 1-D or 2-D shape (an empty one too) give p-values of that shape.
    """
    cal = as_float_array(calibration_scores, "calibration_scores", ndim=1)
    test = as_float_array(test_scores, "test_scores", ndim=(1, 2), allow_empty=True)
    return ConformalPValues(smoothed=smoothed, seed=seed).fit(cal).p_values(test)


@_artifact.register
class ConformalPValues(Estimator):
    """A fitted calibration set answering conformal p-values in O(log n).

    Parameters
    ----------
    smoothed : bool
        Whether :meth:`p_values` breaks ties with a uniform draw (seeded by ``seed``).
    seed : int or None
        Seed of the tie-breaking draws (None: fresh entropy on each call).

    Attributes
    ----------
    n_ : int
        Number of calibration scores.

    Examples
    --------
    >>> pv = ConformalPValues().fit([0.1, 0.2, 0.2, 0.4, 0.5])
    >>> round(pv.p_value(0.2), 4)
    0.8333
    """

    def __init__(self, *, smoothed: bool = False, seed: int | None = None) -> None:
        self.smoothed = smoothed
        self.seed = seed

    def fit(self, scores: Any) -> ConformalPValues:
        """Stores the sorted calibration nonconformity ``scores``."""
        check_bool(self.smoothed, "smoothed")
        if self.seed is not None:
            _seed(self.seed)
        arr = as_float_array(scores, "scores", ndim=1, finite=False)  # checked in Rust
        self._native = _credo.PValues(arr)
        self.n_ = int(self._native.n)
        return self

    def p_value(self, score: float) -> float:
        """The plain p-value of one score (sub-microsecond: one native call, O(log n))."""
        if isinstance(score, (bool, np.bool_)):  # a number to the native call, not a score
            raise InvalidArgumentError(f"score: must be one number, got {score!r}")
        try:
            return self._native.p_value(score)
        except AttributeError:
            raise NotFittedError("ConformalPValues is not fitted yet: call fit(...) before using it") from None
        except TypeError:  # not a real number (an array, a string, ...)
            raise InvalidArgumentError(f"score: must be one number, got {type(score).__name__}") from None

    def p_values(self, scores: Any) -> np.ndarray:
        """p-values of many scores (smoothed and seeded when ``smoothed=True``), of the shape of
        ``scores`` (1-D or 2-D; an empty batch gives an empty result)."""
        check_is_fitted(self, "_native")
        arr = as_float_array(scores, "scores", ndim=(1, 2), allow_empty=True, finite=False)
        flat = np.ascontiguousarray(arr.reshape(-1))
        seed = _seed(self.seed) if self.smoothed else None
        return self._native.p_values(flat, seed).reshape(arr.shape)

    def prediction_set(self, scores: Any, confidence: float) -> np.ndarray:
        """Boolean mask of candidates whose p-value is at least ``1 - confidence``; ``scores``
        holds each candidate's nonconformity (shape (n_candidates,) or (n, n_candidates))."""
        confidence = check_open_unit(confidence, "confidence")
        return self.p_values(scores) >= 1.0 - confidence

    _ARTIFACT_SCHEMA = _artifact.Schema(
        params={"smoothed": _artifact.boolean, "seed": _artifact.nullable(_artifact.integer())},
        state={"sorted_scores": _artifact.numbers(min_len=1, increasing=True, inf=True)},
    )

    def _artifact_state(self) -> dict[str, Any]:
        check_is_fitted(self, "_native")
        return {"sorted_scores": self._native.sorted()}

    def _artifact_summary(self) -> dict[str, Any]:
        return {"n": self.n_}

    @classmethod
    def _from_artifact(cls, params: dict[str, Any], state: dict[str, Any]) -> ConformalPValues:
        return cls(**params).fit(_artifact.decode_array(state["sorted_scores"]))
