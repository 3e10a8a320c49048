"""Conformal factuality (Mohri & Hashimoto, ICML 2024): keep only the claims of a long answer
whose score clears a calibrated threshold, so that every kept claim is correct with
probability ≥ 1 − alpha."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from credo import _artifact, _credo
from credo._base import Estimator
from credo._validate import as_float_array, check_choice, check_is_fitted, check_open_unit
from credo.conformal._quantile import IF_INFINITE, min_calibration_size
from credo.exceptions import EmptyInputError, InvalidArgumentError, ShapeError


def _flatten(scores: Any, labels: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not isinstance(scores, Sequence) or isinstance(scores, (str, bytes)):
        raise InvalidArgumentError("scores: expected a sequence with one array of claim scores per prompt")
    if not isinstance(labels, Sequence) or isinstance(labels, (str, bytes)):
        raise InvalidArgumentError("labels: expected a sequence with one array of claim labels per prompt")
    if len(scores) == 0:
        raise EmptyInputError("scores: needs at least one calibration prompt")
    if len(labels) != len(scores):
        raise ShapeError(f"labels: has {len(labels)} prompts but scores has {len(scores)}")
    flat_s, flat_y, offsets = [], [], [0]
    for i, (s, y) in enumerate(zip(scores, labels, strict=True)):
        s_arr = as_float_array(s, f"scores[{i}]", ndim=1, allow_empty=True)
        y_arr = np.asarray(y)
        if y_arr.ndim != 1 or len(y_arr) != len(s_arr):
            raise ShapeError(f"labels[{i}]: has shape {y_arr.shape} but scores[{i}] has {len(s_arr)} claims")
        if y_arr.dtype != bool:
            if y_arr.size and (y_arr.dtype.kind not in "biuf" or not np.isin(y_arr, (0, 1)).all()):
                raise InvalidArgumentError(f"labels[{i}]: must hold booleans or 0/1 (True = correct claim)")
            y_arr = y_arr.astype(bool)
        flat_s.append(s_arr)
        flat_y.append(y_arr)
        offsets.append(offsets[-1] + len(s_arr))
    return (
        np.ascontiguousarray(np.concatenate(flat_s)),
        np.ascontiguousarray(np.concatenate(flat_y)),
        np.asarray(offsets, dtype=np.uint64),
    )


@_artifact.register
class ClaimFilter(Estimator):
    """Conformal claim filtering: keep claims with score > ``threshold_``.

    Each calibration prompt's nonconformity is the highest score among its false claims (−inf
    when all are true); ``threshold_`` is their conformal quantile at level 1 − alpha, so for a
    new exchangeable prompt, P(all kept claims are correct) ≥ 1 − alpha.

    Parameters
    ----------
    alpha : float in (0, 1)
        Allowed probability that a filtered answer still holds a false claim.
    mode : {'exact', 'compat'}
        Quantile rank rule (see :func:`conformal_quantile`).
    if_infinite : {'raise', 'inf'}
        Too few calibration prompts for level 1 − alpha: raise, or keep no claim at all.

    Attributes
    ----------
    threshold_ : float
    n_prompts_ : int
    calibration_retained_ : float
        Fraction of calibration claims the threshold keeps.
    """

    def __init__(self, alpha: float = 0.1, *, mode: str = "exact", if_infinite: str = "raise") -> None:
        self.alpha = alpha
        self.mode = mode
        self.if_infinite = if_infinite

    def fit(self, scores: Sequence[Any], labels: Sequence[Any]) -> ClaimFilter:
        """``scores[i]`` and ``labels[i]`` are prompt i's claim scores and correctness (True =
        correct)."""
        alpha = check_open_unit(self.alpha, "alpha")
        check_choice(self.if_infinite, "if_infinite", IF_INFINITE)
        s, y, offsets = _flatten(scores, labels)
        tau = _credo.claim_threshold(s, y, offsets, alpha, self.mode).threshold
        if np.isinf(tau) and tau > 0 and self.if_infinite == "raise":
            need = min_calibration_size(alpha, mode=self.mode)
            raise EmptyInputError(
                f"scores: {len(offsets) - 1} calibration prompts are too few for alpha={alpha} "
                f"(at least {need} are needed); pass if_infinite='inf' to keep no claim instead"
            )
        self.threshold_ = float(tau)
        self.n_prompts_ = len(offsets) - 1
        self.calibration_retained_ = float((s > tau).mean()) if s.size else 0.0
        return self

    def keep(self, scores: Any) -> np.ndarray:
        """Boolean mask of the claims (of one answer) to keep: score > threshold_."""
        check_is_fitted(self, "threshold_")
        arr = as_float_array(scores, "scores", ndim=1, allow_empty=True)
        return arr > self.threshold_

    def filter(self, claims: Sequence[Any], scores: Any) -> list[Any]:
        """The claims of one answer whose score clears the threshold, in their original order."""
        mask = self.keep(scores)
        if len(claims) != len(mask):
            raise ShapeError(f"claims: has {len(claims)} entries but scores has {len(mask)}")
        return [c for c, k in zip(claims, mask, strict=True) if k]

    _ARTIFACT_SCHEMA = _artifact.Schema(
        params={
            "alpha": _artifact.real(lo=0, hi=1),
            "mode": _artifact.text("exact", "compat"),
            "if_infinite": _artifact.text("inf", "raise"),
        },
        state={
            "threshold": _artifact.real(inf=True),
            "n_prompts": _artifact.integer(lo=1),
            "calibration_retained": _artifact.real(lo=0, hi=1),
        },
    )

    def _artifact_state(self) -> dict[str, Any]:
        check_is_fitted(self, "threshold_")
        return {
            "threshold": self.threshold_,
            "n_prompts": self.n_prompts_,
            "calibration_retained": self.calibration_retained_,
        }

    def _artifact_summary(self) -> dict[str, Any]:
        return {"n": self.n_prompts_}

    @classmethod
    def _from_artifact(cls, params: dict[str, Any], state: dict[str, Any]) -> ClaimFilter:
        obj = cls(**params)
        obj.threshold_ = _artifact.decode_float(state["threshold"])
        obj.n_prompts_ = int(state["n_prompts"])
        obj.calibration_retained_ = float(state["calibration_retained"])
        return obj
