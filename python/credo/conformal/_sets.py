"""Split-conformal prediction sets over classes or candidate answers (LAC / APS / RAPS),
marginal or Mondrian (per class, per segment)."""

from __future__ import annotations

from typing import Any

import numpy as np

from credo import _artifact, _credo
from credo._base import Estimator
from credo._inputs import codes_for, encode_labels, to_numpy
from credo._validate import (
    as_float_array,
    as_labels,
    as_native,
    check_choice,
    check_is_fitted,
    check_open_unit,
    check_positive_int,
    check_real,
    check_same_length,
    check_seed,
)
from credo.conformal._quantile import IF_INFINITE, min_calibration_size
from credo.exceptions import EmptyInputError, InvalidArgumentError, ShapeError

SCORES = ("lac", "aps", "raps")
MONDRIAN = (None, "class", "segment")
# Test-time uniforms come from a different stream than the calibration ones.
_PREDICT_STREAM = 0x5DEECE66D


def _mask(sets: Any) -> np.ndarray:
    """Prediction sets as a 2-D boolean mask: booleans, or integers that are all 0 or 1 (a
    float or any other value is refused, not truncated)."""
    try:
        mask = np.asarray(to_numpy(sets, "sets"))
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"sets: cannot be read as a boolean mask ({exc})") from None
    if mask.ndim != 2:
        raise ShapeError(f"sets: expected a 2-D boolean mask, got shape {mask.shape}")
    if mask.dtype != bool:
        if mask.dtype.kind not in "iu" or not np.isin(mask, (0, 1)).all():
            raise InvalidArgumentError(f"sets: expected a boolean mask (or 0/1 integers), got dtype {mask.dtype}")
        mask = mask.astype(bool)
    return mask


def coverage(sets: Any, labels: Any) -> float:
    """Fraction of rows whose set (boolean mask [n, K]) contains the true label (an integer
    column index; map other labels with ``ConformalSets.classes_``)."""
    mask = _mask(sets)
    y = as_labels(labels, "labels", n_classes=mask.shape[1], n=mask.shape[0])
    return float(mask[np.arange(len(y)), y].mean())


def set_sizes(sets: Any) -> np.ndarray:
    """Number of candidates in each row's set."""
    mask = _mask(sets)
    sizes: np.ndarray = mask.sum(axis=1)
    return sizes


def _probs_array(probs: Any) -> np.ndarray:
    """``probs`` as the native module reads it: float32 stays float32 (read in place, scores
    computed in float64), anything else becomes float64; range and finiteness are checked in
    Rust, in the kernel's own pass."""
    arr = as_float_array(to_numpy(probs, "probs"), "probs", ndim=2, dtype=None, finite=False)
    return arr if arr.dtype == np.float32 else as_native(arr, np.float64)


def _column_labels(labels: Any, n: int) -> np.ndarray | None:
    """``labels`` as the kernel reads them in place when they may already be column indices: a
    1-D native integer array of any width, of ``n`` labels (their range is checked in the
    kernel's gather); None for anything else, which goes through ``encode_labels``."""
    if not (isinstance(labels, np.ndarray) and labels.ndim == 1 and labels.shape[0] == n):
        return None
    if labels.dtype.kind not in "iu" or not labels.dtype.isnative:
        return None
    return labels if labels.flags.c_contiguous and labels.flags.aligned else None


def _segment_codes(segments: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    seg = np.asarray(segments)
    if seg.ndim != 1:
        raise ShapeError(f"segments: expected a 1-D array, got shape {seg.shape}")
    check_same_length(n, segments=seg)
    keys, codes = np.unique(seg, return_inverse=True)
    return keys, codes


@_artifact.register
class ConformalSets(Estimator):
    """Split-conformal prediction sets: each set holds the true label with probability
    ≥ 1 − alpha over exchangeable calibration and test points.

    Parameters
    ----------
    alpha : float in (0, 1)
        Miscoverage level.
    score : {'lac', 'aps', 'raps'}
        Nonconformity score: LAC ``1 - p_y`` (smallest sets), APS (mass of the classes ranked
        above y plus ``u * p_y``: adaptive sets), RAPS (APS plus
        ``raps_lambda * max(0, rank - raps_k_reg)``, rank 1-based).
    include_last_label : True, False or 'randomized'
        APS / RAPS only, as MAPIE's ``include_last_label``: a set takes classes in decreasing
        probability while their cumulative score stays within the quantile, and the class whose
        cumulative score crosses it is included (True, the default: never an empty set, coverage
        at least 1 − alpha), left out (False: never empty either, the top class always being
        in), or included at random so that coverage is exact ('randomized': sets may be empty).
        With True and 'randomized' the calibration scores are randomised (``u ~ U(0, 1)``
        seeded by ``seed``, as MAPIE and Romano et al.); with False they are not (u = 1), which
        is what makes False's coverage guarantee hold (MAPIE randomises them there too, so its
        False sets are smaller but can under-cover).
    mondrian : {None, 'class', 'segment'}
        Conditional coverage: per true class (one quantile per class, computed from that class's
        calibration points) or per segment (``segments=`` in ``fit`` and ``predict_sets``).
    mode : {'exact', 'compat'}
        How the quantile rank is computed (see :func:`conformal_quantile`).
    raps_lambda, raps_k_reg : float, int
        RAPS regularisation.
    if_infinite : {'raise', 'inf'}
        A calibration group too small for level 1 − alpha (see :func:`min_calibration_size`):
        raise, or use an infinite quantile (that group's sets hold every candidate).
    seed : int
        Seed of the randomised scores and sets.

    Attributes
    ----------
    quantile_ : float or ndarray
        The conformal threshold: one value, one per class (``mondrian='class'``), or one per
        segment in ``segments_`` order (``mondrian='segment'``).
    classes_ : ndarray
        The label of each column of ``probs``: 0..K−1 for integer labels, else the K sorted
        distinct labels seen in ``fit`` (strings, booleans, {−1, 1}, ...).
    n_classes_ : int
    n_features_in_ : int
        K, the number of columns of ``probs``.
    n_calibration_ : int
    calibration_scores_ : ndarray
        The calibration nonconformity scores (not saved in artefacts; their hash is).
    segments_ : ndarray (``mondrian='segment'`` only)
    """

    def __init__(
        self,
        alpha: float = 0.1,
        *,
        score: str = "lac",
        include_last_label: bool | str = True,
        mondrian: str | None = None,
        mode: str = "exact",
        raps_lambda: float = 0.01,
        raps_k_reg: int = 1,
        if_infinite: str = "raise",
        seed: int = 0,
    ) -> None:
        self.alpha = alpha
        self.score = score
        self.include_last_label = include_last_label
        self.mondrian = mondrian
        self.mode = mode
        self.raps_lambda = raps_lambda
        self.raps_k_reg = raps_k_reg
        self.if_infinite = if_infinite
        self.seed = seed

    def _check_params(self) -> float:
        alpha = check_open_unit(self.alpha, "alpha")
        check_choice(self.mondrian, "mondrian", MONDRIAN)
        check_choice(self.if_infinite, "if_infinite", IF_INFINITE)
        last = self.include_last_label
        if not (isinstance(last, (bool, np.bool_)) or (isinstance(last, str) and last == "randomized")):
            raise InvalidArgumentError(f"include_last_label: must be True, False or 'randomized', got {last!r}")
        check_seed(self.seed)
        check_positive_int(self.raps_k_reg, "raps_k_reg", minimum=0)
        if not 0.0 <= check_real(self.raps_lambda, "raps_lambda") < np.inf:
            raise InvalidArgumentError(f"raps_lambda: must be a non-negative finite number, got {self.raps_lambda!r}")
        return alpha

    def _score_args(self) -> tuple[str, bool, float, int]:
        """Arguments of the calibration scores: randomised unless include_last_label is False."""
        last = self.include_last_label
        randomized = isinstance(last, str) or bool(last)
        return self.score, randomized, float(self.raps_lambda), int(self.raps_k_reg)

    def _set_args(self) -> tuple[str, str, float, int]:
        last = self.include_last_label
        rule = last if isinstance(last, str) else "true" if last else "false"
        return self.score, rule, float(self.raps_lambda), int(self.raps_k_reg)

    def _group_quantile(self, scores: np.ndarray, alpha: float, group: str) -> float:
        if scores.size == 0:
            return float("inf")
        q = float(_credo.conformal_quantile(scores, alpha, self.mode, False))
        if np.isinf(q) and self.if_infinite == "raise":
            need = min_calibration_size(alpha, mode=self.mode)
            raise EmptyInputError(
                f"labels: {group} has {scores.size} calibration points, too few for alpha={alpha} "
                f"(at least {need} are needed); pass if_infinite='inf' to include every candidate there"
            )
        return q

    def fit(self, probs: Any, labels: Any, *, segments: Any = None) -> ConformalSets:
        """Calibrates on ``probs`` (n, K) — class probabilities or any per-candidate scores in
        [0, 1] — and the true ``labels`` (n,): integers 0..K−1 naming columns, or K distinct
        labels of any kind, sorted into ``classes_``.

        float32 ``probs`` are read in place (the scores are computed in float64). With
        ``score='lac'`` the fit reads only each row's label probability (one gather, not a pass
        over the matrix), and those are the values checked to lie in [0, 1]; APS and RAPS read
        and check every value, as ``predict_sets`` does."""
        alpha = self._check_params()
        p = _probs_array(probs)
        n, k = p.shape
        if self.mondrian == "segment" and segments is None:
            raise InvalidArgumentError("segments: required when mondrian='segment'")
        if self.mondrian != "segment" and segments is not None:
            raise InvalidArgumentError("segments: only used when mondrian='segment'")
        s, classes, y = self._scores(p, labels)
        if self.mondrian is None:
            self.quantile_: float | np.ndarray = self._group_quantile(s, alpha, "the calibration set")
        elif self.mondrian == "class":
            self.quantile_ = np.array([self._group_quantile(s[y == c], alpha, f"class {c}") for c in range(k)])
        else:
            keys, codes = _segment_codes(segments, n)
            self.segments_ = keys
            self.quantile_ = np.array(
                [self._group_quantile(s[codes == g], alpha, f"segment {key!r}") for g, key in enumerate(keys)]
            )
        self.classes_ = classes
        self.n_classes_ = self.n_features_in_ = k
        self.n_calibration_ = n
        self.calibration_scores_ = s
        return self

    def _scores(self, p: np.ndarray, labels: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(scores, classes_, label codes)``. Integer labels are first tried as column indices
        read in place (any width, no conversion pass); labels the kernel finds outside [0, K) —
        other class names, or errors — are then encoded (or refused) by ``encode_labels``."""
        n, k = p.shape
        args = (*self._score_args(), int(self.seed))
        y = _column_labels(labels, n)
        if y is not None:
            try:
                return _credo.class_scores(p, y, *args), np.arange(k), y
            except InvalidArgumentError as exc:
                if not str(exc).startswith("labels:"):
                    raise
        classes, codes = encode_labels(labels, "labels", n_classes=k, n=n)
        return _credo.class_scores(p, codes, *args), classes, codes

    def predict_sets(self, probs: Any, *, segments: Any = None, threads: int | None = None) -> np.ndarray:
        """Boolean mask (n, K): ``True`` where the candidate is in the row's prediction set.

        ``threads`` bounds the worker threads (None: all cores); the result does not depend on it.
        """
        check_is_fitted(self, "quantile_")
        if threads is not None:
            threads = check_positive_int(threads, "threads")
        p = _probs_array(probs)
        if p.shape[1] != self.n_classes_:
            raise ShapeError(f"probs: has {p.shape[1]} columns but the sets were fitted on {self.n_classes_}")
        args = (*self._set_args(), int(self.seed) ^ _PREDICT_STREAM)
        if self.mondrian is None:
            return _credo.predict_sets(p, *args, q_single=float(self.quantile_), threads=threads)
        if self.mondrian == "class":
            return _credo.predict_sets(p, *args, q_class=np.ascontiguousarray(self.quantile_), threads=threads)
        if segments is None:
            raise InvalidArgumentError("segments: required when mondrian='segment'")
        seg = np.asarray(segments)
        if seg.ndim != 1:
            raise ShapeError(f"segments: expected a 1-D array, got shape {seg.shape}")
        check_same_length(p.shape[0], segments=seg)
        pos = np.searchsorted(self.segments_, seg)
        pos = np.clip(pos, 0, len(self.segments_) - 1)
        unseen = self.segments_[pos] != seg
        if unseen.any():
            raise InvalidArgumentError(f"segments: {seg[np.flatnonzero(unseen)[0]].item()!r} was not seen in fit")
        q_row = np.ascontiguousarray(np.asarray(self.quantile_)[pos], dtype=np.float64)
        return _credo.predict_sets(p, *args, q_row=q_row, threads=threads)

    def evaluate(self, probs: Any, labels: Any, *, segments: Any = None) -> dict[str, Any]:
        """Empirical coverage and set sizes on labelled data: ``coverage``, ``mean_size``,
        ``empty_fraction``, ``size_counts`` (rows with set size 0..K), and per class (or per
        segment) ``group_coverage`` / ``group_mean_size``."""
        sets = self.predict_sets(probs, segments=segments)
        y = codes_for(labels, self.classes_, "labels", sets.shape[0])
        hit = sets[np.arange(len(y)), y]
        size = sets.sum(axis=1)
        out: dict[str, Any] = {
            "coverage": float(hit.mean()),
            "target_coverage": 1.0 - float(self.alpha),
            "mean_size": float(size.mean()),
            "empty_fraction": float((size == 0).mean()),
            "size_counts": np.bincount(size, minlength=self.n_classes_ + 1),
        }
        if self.mondrian is not None:
            if self.mondrian == "class":
                keys, codes = np.arange(self.n_classes_), y
            else:
                keys, codes = _segment_codes(segments, len(y))
            out["group_coverage"] = {
                k.item() if hasattr(k, "item") else k: float(hit[codes == g].mean())
                for g, k in enumerate(keys)
                if (codes == g).any()
            }
            out["group_mean_size"] = {
                k.item() if hasattr(k, "item") else k: float(size[codes == g].mean())
                for g, k in enumerate(keys)
                if (codes == g).any()
            }
        return out

    _ARTIFACT_SCHEMA = _artifact.Schema(
        params={
            "alpha": _artifact.real(lo=0, hi=1),
            "score": _artifact.text(*SCORES),
            "mondrian": _artifact.one_of(*MONDRIAN),
            "mode": _artifact.text("exact", "compat"),
            "include_last_label": _artifact.one_of(True, False, "randomized"),
            "randomized": _artifact.boolean,  # before include_last_label
            "raps_lambda": _artifact.real(lo=0),
            "raps_k_reg": _artifact.integer(),
            "if_infinite": _artifact.text("inf", "raise"),
            "seed": _artifact.integer(),
        },
        # A quantile is +inf when a group had too few samples (if_infinite="inf"); never NaN.
        state={
            "quantile": _artifact.numbers(min_len=1, inf=True),
            "n_classes": _artifact.integer(lo=2),
            "n_calibration": _artifact.integer(lo=1),
            "segments": _artifact.list_of(_artifact.any_scalar),
            "classes": _artifact.list_of(_artifact.any_scalar, min_len=2),
        },
        optional=("segments", "classes"),
    )

    def _artifact_state(self) -> dict[str, Any]:
        check_is_fitted(self, "quantile_")
        state: dict[str, Any] = {
            "quantile": np.atleast_1d(np.asarray(self.quantile_, dtype=np.float64)),
            "n_classes": self.n_classes_,
            "n_calibration": self.n_calibration_,
            "classes": self.classes_.tolist(),
        }
        if self.mondrian == "segment":
            state["segments"] = self.segments_.tolist()
        return state

    def _artifact_summary(self) -> dict[str, Any]:
        scores = getattr(self, "calibration_scores_", None)
        return {
            "n": getattr(self, "n_calibration_", 0),
            "data_hash": None if scores is None else _artifact.data_hash(scores),
        }

    @classmethod
    def _from_artifact(cls, params: dict[str, Any], state: dict[str, Any]) -> ConformalSets:
        params = dict(params)
        if "randomized" in params:  # written before include_last_label: same sets
            params["include_last_label"] = "randomized" if params.pop("randomized") else False
        obj = cls(**params)
        obj._check_params()
        q = _artifact.decode_array(state["quantile"])
        obj.quantile_ = float(q[0]) if obj.mondrian is None else q
        obj.n_classes_ = obj.n_features_in_ = int(state["n_classes"])
        obj.n_calibration_ = int(state["n_calibration"])
        obj.classes_ = np.asarray(state["classes"]) if "classes" in state else np.arange(obj.n_classes_)
        if obj.mondrian == "segment":
            obj.segments_ = np.asarray(state["segments"])
        return obj
