"""Selective answering with a certified error rate: answer when confidence ≥ threshold_."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from credo import _artifact, _credo
from credo._base import Estimator
from credo._inputs import read_array
from credo._validate import (
    as_float_array,
    check_is_fitted,
    check_open_unit,
    check_positive_int,
    check_same_length,
)
from credo.exceptions import CredoWarning, InvalidArgumentError, ShapeError

METHODS = ("ltt", "sgr", "crc")
P_VALUES = ("binomial", "hoeffding_bentkus")
FWERS = ("fixed_sequence", "bonferroni")
_FIELDS = ("threshold", "feasible", "risk_bound", "coverage", "empirical_risk", "n_answered", "n_errors")


class NoThresholdWarning(CredoWarning):
    """No threshold meets the target on the calibration data: the estimator abstains on everything."""


def risk_p_value(errors: int, n: int, alpha: float, *, kind: str = "binomial") -> float:
    """p-value of H0: risk > alpha after ``errors`` errors among ``n`` points: the exact
    binomial tail (0/1 losses) or Hoeffding–Bentkus (docs/definitions/conformal.md#learn-then-test)."""
    alpha = check_open_unit(alpha, "alpha")
    n = check_positive_int(n, "n", minimum=0)
    errors = check_positive_int(errors, "errors", minimum=0)
    if errors > n:
        raise InvalidArgumentError(f"errors: must be between 0 and n={n}, got {errors}")
    return float(_credo.risk_p_value(errors, n, alpha, kind))


def sgr_bound(errors: int, m: int, delta: float) -> float:
    """Geifman & El-Yaniv's risk bound B*: solves BinomCDF(errors; m, b) = delta (§d.5)."""
    delta = check_open_unit(delta, "delta")
    m = check_positive_int(m, "m")
    errors = check_positive_int(errors, "errors", minimum=0)
    if errors > m:
        raise InvalidArgumentError(f"errors: must be between 0 and m={m}, got {errors}")
    return float(_credo.sgr_bound(errors, m, delta))


def rcps_upper_bound(losses: Any, delta: float, *, bound: str = "wsr") -> float | np.ndarray:
    """The (1 − delta) upper confidence bound on the mean of ``losses`` in [0, 1], as used by
    risk-controlling prediction sets (docs/definitions/conformal.md#rcps-upper-bounds).

    ``bound='hoeffding'``: r̂ + sqrt(ln(1/δ)/(2n)); ``'bernstein'``: r̂ + sqrt(2σ̂² ln(2/δ)/n) +
    7 ln(2/δ)/(3(n−1)) (σ̂² with ddof=1); ``'wsr'``: the Waudby-Smith–Ramdas betting bound of the
    RCPS reference code (σ̂² initialised to 0.25), solved to 1e-10. MAPIE 1.6 evaluates WSR on
    its λ grid and sums the maximal log-wealth of the two halves of the sample, which gives a
    smaller value than the reference bound; credo follows the reference. ``losses`` of shape (n, m) gives one
    bound per column (e.g. per candidate threshold), in order.
    """
    delta = check_open_unit(delta, "delta")
    arr = as_float_array(losses, "losses", ndim=(1, 2), finite=False)
    if arr.ndim == 1:
        return float(_credo.rcps_upper_bound(arr, delta, bound))
    cols = np.ascontiguousarray(arr.T)
    return np.array([_credo.rcps_upper_bound(c, delta, bound) for c in cols])


def _as_correct(correct: Any, n: int) -> np.ndarray:
    arr = read_array(correct, "correct")
    if arr.ndim != 1:
        raise ShapeError(f"correct: expected a 1-D array, got shape {arr.shape}")
    check_same_length(n, correct=arr)
    if arr.dtype != bool:
        if arr.dtype.kind not in "biuf" or not np.isin(arr, (0, 1)).all():
            raise InvalidArgumentError("correct: must hold booleans or 0/1 values")
        arr = arr.astype(bool)
    return np.ascontiguousarray(arr)


@_artifact.register
class SelectiveThreshold(Estimator):
    """The lowest confidence threshold whose selective risk is certified.

    With ``method='ltt'`` or ``'sgr'``, answering only when ``confidence >= threshold_`` keeps
    P(error | answered) ≤ ``target_risk`` with probability ≥ 1 − ``delta`` over the calibration
    draw. With ``method='crc'`` (conformal risk control) the *joint* risk
    P(answered and wrong) ≤ ``target_risk`` holds in expectation (``delta`` unused).

    Parameters
    ----------
    target_risk : float in (0, 1)
        Highest acceptable error rate among answered requests.
    delta : float in (0, 1)
        Allowed probability that the calibration draw misleads (LTT, SGR).
    method : {'ltt', 'sgr', 'crc'}
        Learn-then-Test (Angelopoulos et al. 2021), selection with guaranteed risk (Geifman &
        El-Yaniv 2017), or conformal risk control (Angelopoulos et al. 2022).
    p_value : {'binomial', 'hoeffding_bentkus'}
        LTT's p-value: the exact binomial tail of the errors among answered points (0/1 losses),
        or Hoeffding–Bentkus (any loss in [0, 1], more conservative).
    fwer : {'fixed_sequence', 'bonferroni'}
        LTT's family-wise error control over thresholds, tested from the highest threshold down.
    grid : int
        LTT tests thresholds at ``grid`` label-free answered counts (ceil(i n / grid) most
        confident points); 0 tests every distinct confidence.
    segment_targets : dict or None
        Per-segment target risks (e.g. ``{'medical': 0.02}``); segments not listed use
        ``target_risk``. Used with ``fit(..., segments=...)``.

    Attributes
    ----------
    threshold_ : float
        Answer iff confidence ≥ threshold_ (+inf when infeasible).
    feasible_ : bool
        False when no threshold qualifies: a :class:`NoThresholdWarning` is issued and
        :meth:`accept` abstains on everything.
    risk_bound_ : float
        Certified bound: LTT's (1 − delta) upper bound on the selective risk at threshold_,
        SGR's B*, or CRC's adjusted joint risk R̂⁺.
    coverage_ : float
        Fraction of calibration points answered.
    empirical_risk_ : float
        Error rate among answered calibration points.
    n_answered_ : int

    With ``segments``, each of these is a dict keyed by segment and ``segments_`` lists them.
    """

    # The fitted attributes (set by fit and _from_artifact, one per _FIELDS entry): one value, or
    # a dict segment -> value when fitted per segment.
    threshold_: float | dict[Any, float]
    feasible_: bool | dict[Any, bool]
    risk_bound_: float | dict[Any, float]
    coverage_: float | dict[Any, float]
    empirical_risk_: float | dict[Any, float]
    n_answered_: int | dict[Any, int]
    n_errors_: int | dict[Any, int]
    n_calibration_: int | dict[Any, int]

    def __init__(
        self,
        target_risk: float = 0.1,
        delta: float = 0.1,
        *,
        method: str = "ltt",
        p_value: str = "binomial",
        fwer: str = "fixed_sequence",
        grid: int = 50,
        segment_targets: dict[Any, float] | None = None,
    ) -> None:
        self.target_risk = target_risk
        self.delta = delta
        self.method = method
        self.p_value = p_value
        self.fwer = fwer
        self.grid = grid
        self.segment_targets = segment_targets

    def _check_params(self) -> tuple[float, float]:
        target = check_open_unit(self.target_risk, "target_risk")
        delta = check_open_unit(self.delta, "delta")
        check_positive_int(self.grid, "grid", minimum=0)
        if self.segment_targets is not None:
            if not isinstance(self.segment_targets, dict):
                raise InvalidArgumentError("segment_targets: must be a dict {segment: target_risk}")
            for key, value in self.segment_targets.items():
                check_open_unit(value, f"segment_targets[{key!r}]")
        return target, delta

    def _fit_one(self, conf: np.ndarray, correct: np.ndarray, target: float, delta: float) -> dict[str, Any]:
        out = _credo.selective_fit(conf, correct, target, delta, self.method, self.p_value, self.fwer, int(self.grid))
        return {field: getattr(out, field) for field in _FIELDS}

    def fit(self, confidence: Any, correct: Any, *, segments: Any = None) -> SelectiveThreshold:
        """Calibrates on held-out ``confidence`` (higher = more confident) and ``correct``
        (bool or 0/1), optionally per ``segments``."""
        target, delta = self._check_params()
        conf = as_float_array(confidence, "confidence", ndim=1)
        y = _as_correct(correct, len(conf))
        if segments is None:
            if self.segment_targets:
                raise InvalidArgumentError("segments: required when segment_targets is given")
            res = self._fit_one(conf, y, target, delta)
            for field in _FIELDS:
                setattr(self, f"{field}_", res[field])
            self.n_calibration_ = len(conf)
            if not res["feasible"]:
                warnings.warn(self._infeasible_message(None, target, len(conf)), NoThresholdWarning, stacklevel=2)
        else:
            seg = read_array(segments, "segments")
            if seg.ndim != 1:
                raise ShapeError(f"segments: expected a 1-D array, got shape {seg.shape}")
            check_same_length(len(conf), segments=seg)
            keys, codes = np.unique(seg, return_inverse=True)
            self.segments_ = keys
            results = {}
            for g, key in enumerate(keys):
                k = key.item() if hasattr(key, "item") else key
                t = check_open_unit((self.segment_targets or {}).get(k, target), f"segment_targets[{k!r}]")
                mask = codes == g
                results[k] = self._fit_one(np.ascontiguousarray(conf[mask]), np.ascontiguousarray(y[mask]), t, delta)
                if not results[k]["feasible"]:
                    warnings.warn(self._infeasible_message(k, t, int(mask.sum())), NoThresholdWarning, stacklevel=2)
            for field in _FIELDS:
                setattr(self, f"{field}_", {k: r[field] for k, r in results.items()})
            self.n_calibration_ = {k: int((codes == g).sum()) for g, k in enumerate(results)}
        return self

    def _infeasible_message(self, segment: Any, target: float, n: int) -> str:
        where = "" if segment is None else f" for segment {segment!r}"
        return (
            f"no threshold certifies target_risk={target} with delta={self.delta}{where} "
            f"({self.method}, {n} calibration points): abstaining on everything; collect more "
            f"calibration data or relax the target"
        )

    def accept(self, confidence: Any, *, segments: Any = None) -> Any:
        """Whether to answer: ``confidence >= threshold_`` (never when infeasible). A scalar in,
        a bool out; an array in, a boolean array out."""
        check_is_fitted(self, "threshold_")
        threshold, feasible = self.threshold_, self.feasible_
        if segments is None:
            if isinstance(threshold, dict) or isinstance(feasible, dict):
                raise InvalidArgumentError("segments: required, the thresholds were fitted per segment")
            if isinstance(confidence, (float, int)) and not isinstance(confidence, bool):
                return bool(feasible and confidence >= threshold)
            conf = as_float_array(confidence, "confidence", ndim=(0, 1), allow_empty=True)
            out = (conf >= threshold) & bool(feasible)
            return bool(out) if out.ndim == 0 else out
        if not isinstance(threshold, dict) or not isinstance(feasible, dict):
            raise InvalidArgumentError("segments: these thresholds were fitted without segments")
        conf = as_float_array(confidence, "confidence", ndim=1, allow_empty=True)
        seg = np.asarray(segments)
        check_same_length(len(conf), segments=seg)
        keys = list(threshold)
        order = np.argsort(np.asarray(keys))
        sorted_keys = np.asarray(keys)[order]
        per_key = np.array([threshold[k] if feasible[k] else np.inf for k in keys])[order]
        if seg.ndim != 1:
            raise ShapeError(f"segments: expected a 1-D array, got shape {seg.shape}")
        if len(seg) == 0:
            return np.zeros(0, dtype=bool)
        try:
            pos = np.clip(np.searchsorted(sorted_keys, seg), 0, len(sorted_keys) - 1)
            unseen = sorted_keys[pos] != seg
        except TypeError:  # segment labels of another type than those seen in fit
            raise InvalidArgumentError(f"segments: {seg[0].item()!r} was not seen in fit") from None
        if unseen.any():
            raise InvalidArgumentError(f"segments: {seg[np.flatnonzero(unseen)[0]].item()!r} was not seen in fit")
        return conf >= per_key[pos]

    _ARTIFACT_SCHEMA = _artifact.Schema(
        params={
            "target_risk": _artifact.real(lo=0, hi=1),
            "delta": _artifact.real(lo=0, hi=1),
            "method": _artifact.text(*METHODS),
            "p_value": _artifact.text(*P_VALUES),
            "fwer": _artifact.text(*FWERS),
            "grid": _artifact.integer(),
            "segment_targets": _artifact.nullable(_artifact.mapping(_artifact.real(lo=0, hi=1))),
        },
        # One value per field, or one per segment when fitted per segment. An infeasible
        # threshold is +inf; every other field is finite.
        state={
            "segments": _artifact.list_of(_artifact.any_scalar, min_len=1),
            "threshold": _artifact.per_segment(_artifact.real(inf=True)),
            "feasible": _artifact.per_segment(_artifact.boolean),
            "risk_bound": _artifact.per_segment(_artifact.real(lo=0, hi=1)),
            "coverage": _artifact.per_segment(_artifact.real(lo=0, hi=1)),
            "empirical_risk": _artifact.per_segment(_artifact.real(lo=0, hi=1)),
            "n_answered": _artifact.per_segment(_artifact.integer()),
            "n_errors": _artifact.per_segment(_artifact.integer()),
            "n_calibration": _artifact.per_segment(_artifact.integer(lo=1)),
        },
        optional=("segments",),
        consistent=lambda params, state: (
            _artifact.same_length(state, "segments", *_FIELDS, "n_calibration")
            if "segments" in state
            else _artifact.all_scalar(state, *_FIELDS, "n_calibration")
        ),
    )

    def _artifact_state(self) -> dict[str, Any]:
        check_is_fitted(self, "threshold_")
        n_calibration = self.n_calibration_
        if isinstance(self.threshold_, dict) and isinstance(n_calibration, dict):
            keys = list(self.threshold_)
            return {
                "segments": keys,
                **{field: [getattr(self, f"{field}_")[k] for k in keys] for field in _FIELDS},
                "n_calibration": [n_calibration[k] for k in keys],
            }
        return {field: getattr(self, f"{field}_") for field in _FIELDS} | {"n_calibration": self.n_calibration_}

    def _artifact_summary(self) -> dict[str, Any]:
        return {"n": self.n_calibration_}

    @classmethod
    def _from_artifact(cls, params: dict[str, Any], state: dict[str, Any]) -> SelectiveThreshold:
        obj = cls(**params)
        obj._check_params()
        decode: dict[str, Callable[[Any], Any]] = {
            "threshold": _artifact.decode_float,
            "risk_bound": _artifact.decode_float,
            "coverage": float,
            "empirical_risk": float,
            "feasible": bool,
            "n_answered": int,
            "n_errors": int,
        }
        if "segments" in state:
            keys = state["segments"]
            obj.segments_ = np.asarray(keys)
            for field in _FIELDS:
                setattr(obj, f"{field}_", {k: decode[field](v) for k, v in zip(keys, state[field], strict=True)})
            obj.n_calibration_ = dict(zip(keys, (int(v) for v in state["n_calibration"]), strict=True))
        else:
            for field in _FIELDS:
                setattr(obj, f"{field}_", decode[field](state[field]))
            obj.n_calibration_ = int(state["n_calibration"])
        return obj
