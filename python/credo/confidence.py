"""Combined confidence: one calibrated P(correct) from any set of named signals.

:class:`ConfidenceModel` fits an L2-regularised logistic regression (exactly, by Newton's method
in Rust) on named signals — token and sequence signals, agreement, evidence coverage, verifier
outcomes, input risk — then, optionally, a calibrator (any object with ``fit(scores, y)`` and
``predict(scores)``, e.g. ``credo.calibration.IsotonicCalibrator``) on out-of-fold predictions,
optionally per segment. A share of the data is held out to report AUROC and ECE of the model as
shipped. ``predict_one`` is the single-request path: a dict of floats in, a float out, no NumPy.
"""

from __future__ import annotations

import copy
import math
import operator
import warnings
from collections.abc import Callable, Mapping, Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np

from credo import _artifact, _credo, metrics
from credo._base import Estimator
from credo._validate import (
    as_float_array,
    as_sample_weight,
    check_choice,
    check_is_fitted,
    check_same_length,
)
from credo.exceptions import (
    ArtifactError,
    EmptyInputError,
    InvalidArgumentError,
    ShapeError,
)
from credo.monitor import category_labels

__all__ = ["ConfidenceModel", "decision_signals"]

# The Rust models of credo's binary calibrators: what the native decision call applies itself.
_NATIVE_CALIBRATORS = (
    _credo.IsotonicModel,
    _credo.PlattModel,
    _credo.BetaModel,
    _credo.HistogramModel,
    _credo.TemperatureModel,
)


def decision_signals(
    *,
    verifier: Any = None,
    risk: Any = None,
    coverage: float | None = None,
    citation_precision: float | None = None,
) -> dict[str, float]:
    """Numeric signals for a :class:`ConfidenceModel` from the decision layer's outputs.

    ``verifier`` (a VerifierResult, a bool, or a sequence of them) gives ``verifier_score`` (mean
    score, a bool counting 0 or 1) and ``verifier_passed`` (1.0 when all passed); ``risk`` (an
    :class:`~credo.risk.InputRisk`) gives ``stakes`` (0 low … 1 critical), ``regulated`` (count of
    regulated-content tags) and ``ambiguous``; ``coverage`` and ``citation_precision`` (from
    :func:`credo.evidence.coverage`) pass through, with None read as 1.0 (nothing to contradict).
    Only the groups given appear in the result.
    """
    out: dict[str, float] = {}
    if verifier is not None:
        out.update(_verifier_signals(verifier))
    if risk is not None:
        from credo.risk import STAKES

        if getattr(risk, "stakes", None) not in STAKES:
            raise InvalidArgumentError(f"risk: expected a credo.risk.InputRisk, got {type(risk).__name__}")
        out["stakes"] = STAKES.index(risk.stakes) / (len(STAKES) - 1)
        out["regulated"] = float(len(risk.regulated))
        out["ambiguous"] = float(bool(risk.ambiguity))
    for name, value in (("coverage", coverage), ("citation_precision", citation_precision)):
        if value is not None and (
            isinstance(value, bool) or not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0)
        ):
            raise InvalidArgumentError(f"{name}: must lie in [0, 1] or be None, got {value!r}")
    if coverage is not None or citation_precision is not None:
        out["coverage"] = 1.0 if coverage is None else float(coverage)
        out["citation_precision"] = 1.0 if citation_precision is None else float(citation_precision)
    return out


def _verifier_signals(verifier: Any) -> dict[str, float]:
    """``verifier_score`` (the mean score, a bool counting 0 or 1) and ``verifier_passed``."""
    items = verifier if isinstance(verifier, (list, tuple)) else [verifier]
    if not items:
        raise InvalidArgumentError("verifier: no results given")
    scores, passed = [], []
    for i, v in enumerate(items):
        if isinstance(v, bool):
            scores.append(float(v))
            passed.append(v)
        elif isinstance(getattr(v, "passed", None), bool):
            scores.append(float(v.score))
            passed.append(v.passed)
        else:
            raise InvalidArgumentError(
                f"verifier: expected VerifierResult or bool entries, got {type(v).__name__} at {i}"
            )
    return {"verifier_score": sum(scores) / len(scores), "verifier_passed": float(all(passed))}


def _auroc(y: np.ndarray, score: np.ndarray) -> float:
    """Holdout AUROC (ties counted ½, as scikit-learn's roc_auc_score); NaN with one outcome."""
    if y.min() == y.max():
        return float("nan")
    return float(metrics.auroc(y, score))


def _ece(y: np.ndarray, p: np.ndarray) -> float:
    """Holdout binary ECE of P(correct): 10 equal-width (a, b] bins, the first closed
    (scikit-learn's convention)."""
    return float(metrics.ece(y, p, kind="binary", n_bins=10, convention="sklearn"))


_EPS = 1e-12
_1_EPS = 1.0 - _EPS


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, _EPS, 1.0 - _EPS)
    logit: np.ndarray = np.log(q / (1.0 - q))
    return logit


# A logistic fit: _credo.LogisticFit, or one read back from an artefact (the same fields).
_LogisticFit = _credo.LogisticFit | SimpleNamespace


def _scalar_predictor(calibrator: Any) -> Callable[[float], float] | None:
    """The fitted calibrator's function of one float score (a
    :class:`~credo.calibration.ScalarCalibrator`), or None: then one score goes through
    ``predict`` on a one-element array."""
    method = getattr(calibrator, "scalar_predictor", None)
    if calibrator is None or not callable(method):
        return None
    one: Callable[[float], float] | None = method()
    return one


class _Sub:
    """One fitted logistic model (+ optional fitted calibrator)."""

    __slots__ = (
        "calibrator",
        "coef",
        "coef_standardized",
        "converged",
        "intercept",
        "mean",
        "model",
        "n_iter",
        "one_cal",
        "scalar_cal",
        "scale",
        "to_logit",
    )

    def __init__(self, fit: _LogisticFit, calibrator: Any = None, scalar_cal: bool = False, to_logit: bool = False):
        self.coef = np.asarray(fit.coef, dtype=np.float64)
        self.intercept = float(fit.intercept)
        self.coef_standardized = np.asarray(fit.coef_standardized, dtype=np.float64)
        self.mean = np.asarray(fit.mean, dtype=np.float64)
        self.scale = np.asarray(fit.scale, dtype=np.float64)
        self.n_iter = int(fit.n_iter)
        self.converged = bool(fit.converged)
        self.model = _credo.LogisticModel(self.coef.tolist(), self.intercept)
        self.calibrator = calibrator
        self.scalar_cal = scalar_cal
        self.to_logit = to_logit
        # The single-request path: the calibrator's own function of one float (credo's binary
        # calibrators: their Rust model's predict_one, no NumPy); None without one.
        self.one_cal = _scalar_predictor(calibrator)

    def raw(self, X: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(X)

    def proba(self, X: np.ndarray) -> np.ndarray:
        p = self.raw(X)
        if self.calibrator is None:
            return p
        s = _logit(p) if self.to_logit else p
        return np.clip(np.asarray(self.calibrator.predict(s), dtype=np.float64).reshape(-1), 0.0, 1.0)

    def one(self, x: Sequence[float]) -> float:
        p = self.model.predict_one(x)
        f = self.one_cal
        if f is not None:  # the single-request path: plain float arithmetic and one native call
            if self.to_logit:
                q = _EPS if p < _EPS else (_1_EPS if p > _1_EPS else p)
                p = math.log(q / (1.0 - q))
            r = f(p)
            return 1.0 if r > 1.0 else (0.0 if r < 0.0 else r)
        cal = self.calibrator
        if cal is None:
            return p
        if self.to_logit:
            q = min(max(p, _EPS), 1.0 - _EPS)
            p = math.log(q / (1.0 - q))
        if self.scalar_cal:
            r = cal.predict(p)
            return min(1.0, max(0.0, r if r.__class__ is float else float(np.asarray(r).reshape(-1)[0])))
        return min(1.0, max(0.0, float(np.asarray(cal.predict(np.array([p]))).reshape(-1)[0])))

    # The saved form of one fitted logistic model (+ its fitted calibrator, a nested artefact).
    SCHEMA = _artifact.record(
        {
            "coef": _artifact.numbers(min_len=1),
            "intercept": _artifact.real(),
            "coef_standardized": _artifact.numbers(min_len=1),
            "mean": _artifact.numbers(min_len=1),
            "scale": _artifact.numbers(min_len=1, lo=0),
            "n_iter": _artifact.integer(),
            "converged": _artifact.boolean,
            "scalar_cal": _artifact.boolean,
            "to_logit": _artifact.boolean,
            "calibrator": _artifact.nullable(_artifact.nested_artefact),
        }
    )

    def state(self) -> dict[str, Any]:
        st: dict[str, Any] = {
            "coef": self.coef,
            "intercept": self.intercept,
            "coef_standardized": self.coef_standardized,
            "mean": self.mean,
            "scale": self.scale,
            "n_iter": self.n_iter,
            "converged": self.converged,
            "scalar_cal": self.scalar_cal,
            "to_logit": self.to_logit,
            "calibrator": None,
        }
        if self.calibrator is not None:
            try:
                st["calibrator"] = _artifact.to_dict(self.calibrator)
            except (ArtifactError, AttributeError) as exc:
                raise ArtifactError(
                    f"calibrator: {type(self.calibrator).__name__} cannot be saved as a credo artefact ({exc})"
                ) from None
        return st

    @classmethod
    def from_state(cls, st: Mapping[str, Any]) -> _Sub:
        fit = SimpleNamespace(
            coef=_artifact.decode_array(st["coef"]),
            intercept=float(st["intercept"]),
            coef_standardized=_artifact.decode_array(st["coef_standardized"]),
            mean=_artifact.decode_array(st["mean"]),
            scale=_artifact.decode_array(st["scale"]),
            n_iter=int(st["n_iter"]),
            converged=bool(st["converged"]),
        )
        cal = None if st.get("calibrator") is None else _artifact.from_dict(st["calibrator"], source="calibrator")
        return cls(fit, cal, bool(st.get("scalar_cal", False)), bool(st.get("to_logit", False)))


@_artifact.register
class ConfidenceModel(Estimator):
    """P(correct) from named signals: logistic regression (+ optional calibrator), per segment.

    Parameters
    ----------
    features : sequence of str, optional
        Signal names, in order. Required when ``X`` is an array; taken from the keys (sorted)
        when ``X`` is a mapping of name → values.
    C : float
        Inverse L2 strength, as scikit-learn's ``LogisticRegression(C=...)`` (on standardised
        features when ``standardize``).
    calibrator : object with ``fit(scores, y)`` / ``predict(scores)``, optional
        Fitted on out-of-fold model outputs (``cv`` folds); a copy per segment.
    calibrator_input : {"probability", "logit"}
        What the calibrator sees: the model's probability, or its log-odds (natural for Platt
        and temperature scaling; isotonic calibration gives the same result on either).
    holdout : float in [0, 1)
        Share of the data kept out of fitting to report ``holdout_`` (AUROC, ECE). 0 fits on all.
    cv : int
        Folds for the out-of-fold predictions the calibrator is fitted on.
    min_segment_count : int
        Smallest segment (in the fitting part, with both outcomes present) that gets its own
        model; smaller and unseen segments use the pooled model.
    """

    def __init__(
        self,
        *,
        features: Sequence[str] | None = None,
        C: float = 1.0,
        calibrator: Any = None,
        calibrator_input: str = "probability",
        holdout: float = 0.2,
        cv: int = 5,
        min_segment_count: int = 100,
        standardize: bool = True,
        max_iter: int = 100,
        random_state: int = 0,
    ):
        self.features = features
        self.C = C
        self.calibrator = calibrator
        self.calibrator_input = calibrator_input
        self.holdout = holdout
        self.cv = cv
        self.min_segment_count = min_segment_count
        self.standardize = standardize
        self.max_iter = max_iter
        self.random_state = random_state

    # ----------------------------------------------------------------- input

    def _matrix(self, X: Any, names: Sequence[str] | None) -> tuple[np.ndarray, list[str]]:
        if hasattr(X, "columns") and not isinstance(X, np.ndarray):  # a DataFrame
            X = {str(c): np.asarray(X[c]) for c in X.columns}
        if isinstance(X, Mapping):
            if not X:
                raise EmptyInputError("X: no signals given")
            keys = list(names) if names is not None else sorted(X)
            missing = [k for k in keys if k not in X]
            if missing:
                raise InvalidArgumentError(f"X: missing signals {missing}")
            cols = [as_float_array(X[k], f"X[{k!r}]", ndim=1) for k in keys]
            n = len(cols[0])
            for k, c in zip(keys, cols, strict=False):
                check_same_length(n, **{f"X[{k!r}]": c})
            return np.ascontiguousarray(np.column_stack(cols)), keys
        arr = as_float_array(X, "X", ndim=(1, 2))
        if arr.ndim == 1:
            arr = arr.reshape(-1, 1)
        if names is None:
            raise InvalidArgumentError("features: name the columns (features=[...]) when X is an array")
        if len(names) != arr.shape[1]:
            raise ShapeError(f"X: has {arr.shape[1]} columns but {len(names)} features are named")
        return np.ascontiguousarray(arr), list(names)

    def _check_params(self) -> None:
        if (
            isinstance(self.C, bool)
            or not isinstance(self.C, (int, float))
            or not (math.isfinite(self.C) and self.C > 0)
        ):
            raise InvalidArgumentError(f"C: must be a positive number, got {self.C!r}")
        if not isinstance(self.holdout, (int, float)) or not 0.0 <= self.holdout < 1.0:
            raise InvalidArgumentError(f"holdout: must lie in [0, 1), got {self.holdout!r}")
        if isinstance(self.cv, bool) or not isinstance(self.cv, int) or self.cv < 2:
            raise InvalidArgumentError(f"cv: must be an integer >= 2, got {self.cv!r}")
        if (
            isinstance(self.min_segment_count, bool)
            or not isinstance(self.min_segment_count, int)
            or self.min_segment_count < 2
        ):
            raise InvalidArgumentError(f"min_segment_count: must be an integer >= 2, got {self.min_segment_count!r}")
        check_choice(self.calibrator_input, "calibrator_input", ("probability", "logit"))
        if not isinstance(self.standardize, (bool, np.bool_)):
            raise InvalidArgumentError(f"standardize: must be True or False, got {self.standardize!r}")
        if (
            isinstance(self.max_iter, bool)
            or not isinstance(self.max_iter, (int, np.integer))
            or not 1 <= self.max_iter <= 1_000_000
        ):
            raise InvalidArgumentError(f"max_iter: must be an integer in [1, 1000000], got {self.max_iter!r}")
        rs = self.random_state
        if rs is not None and (isinstance(rs, bool) or not isinstance(rs, (int, np.integer)) or rs < 0):
            raise InvalidArgumentError(f"random_state: must be a non-negative integer or None, got {rs!r}")
        cal = self.calibrator
        if cal is not None and not (callable(getattr(cal, "fit", None)) and callable(getattr(cal, "predict", None))):
            raise InvalidArgumentError(
                f"calibrator: expected an object with fit(scores, y) and predict(scores), got {type(cal).__name__}"
            )

    # ----------------------------------------------------------------- fitting

    def _fit_logistic(self, X: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> _LogisticFit:
        return _credo.logistic_fit(
            X, y, w, c=float(self.C), standardize=bool(self.standardize), max_iter=int(self.max_iter)
        )

    def _fit_sub(self, X: np.ndarray, y: np.ndarray, w: np.ndarray | None, rng: np.random.Generator) -> _Sub:
        fit = self._fit_logistic(X, y, w)
        if not fit.converged:
            warnings.warn(
                f"ConfidenceModel: the logistic fit did not converge in {self.max_iter} iterations",
                RuntimeWarning,
                stacklevel=3,
            )
        if self.calibrator is None:
            return _Sub(fit)
        # Out-of-fold probabilities, so the calibrator sees the model's errors on unseen data.
        folds = rng.permutation(len(y)) % self.cv
        oof = np.empty(len(y))
        for k in range(self.cv):
            tr, te = folds != k, folds == k
            if not te.any():
                continue
            if y[tr].min() == y[tr].max():
                oof[te] = y[tr].mean()
                continue
            f = self._fit_logistic(X[tr], y[tr], None if w is None else w[tr])
            oof[te] = _credo.LogisticModel(list(f.coef), f.intercept).predict_proba(np.ascontiguousarray(X[te]))
        to_logit = self.calibrator_input == "logit"
        cal = copy.deepcopy(self.calibrator)
        cal.fit(_logit(oof) if to_logit else oof, y.astype(np.int64))
        return _Sub(fit, cal, _scalar_predictor(cal) is not None, to_logit)

    def fit(self, X: Any, y: Any, *, segments: Any = None, sample_weight: Any = None) -> ConfidenceModel:
        """Fits on named signals ``X`` (mapping name → values, a DataFrame, or an array with
        ``features``) and outcomes ``y`` (1 = correct)."""
        self._check_params()
        Xm, names = self._matrix(X, self.features)
        n = Xm.shape[0]
        yv = as_float_array(y, "y", ndim=1)
        check_same_length(n, y=yv)
        if not np.isin(yv, (0.0, 1.0)).all():
            raise InvalidArgumentError("y: outcomes must be 0 (wrong) or 1 (correct)")
        if yv.min() == yv.max():
            raise InvalidArgumentError("y: needs both correct (1) and wrong (0) outcomes")
        w = as_sample_weight(sample_weight, n)
        seg = None
        if segments is not None:
            seg = category_labels(segments, "segments")
            check_same_length(n, segments=seg)
        rng = np.random.default_rng(self.random_state)
        fit_idx = np.arange(n)
        hold_idx = np.arange(0)
        if self.holdout > 0:
            perm = rng.permutation(n)
            n_hold = round(self.holdout * n)
            hold_idx, fit_idx = np.sort(perm[:n_hold]), np.sort(perm[n_hold:])
            if n_hold < 10 or yv[fit_idx].min() == yv[fit_idx].max() or yv[hold_idx].min() == yv[hold_idx].max():
                raise InvalidArgumentError(
                    f"holdout: {self.holdout} of {n} samples leaves a part without both outcomes or fewer "
                    "than 10 "
                    "holdout samples; use more data or holdout=0"
                )
        Xf, yf = Xm[fit_idx], yv[fit_idx]
        wf = None if w is None else w[fit_idx]
        self.__dict__.pop("_getters", None)  # named-tuple getters of a previous fit
        self.features_ = names
        self.n_features_in_ = len(names)
        self.pooled_ = self._fit_sub(Xf, yf, wf, rng)
        self.segment_models_: dict[str, _Sub] = {}
        if seg is not None:
            sf = seg[fit_idx]
            for s in sorted(set(sf.tolist())):
                m = sf == s
                if m.sum() >= self.min_segment_count and yf[m].min() != yf[m].max():
                    self.segment_models_[s] = self._fit_sub(Xf[m], yf[m], None if wf is None else wf[m], rng)
        self.coef_ = self.pooled_.coef
        self.intercept_ = self.pooled_.intercept
        self.n_iter_ = self.pooled_.n_iter
        self.converged_ = self.pooled_.converged
        self.n_samples_fit_ = len(fit_idx)
        self.holdout_: dict[str, Any] | None = None
        if len(hold_idx):
            Xh, yh = Xm[hold_idx], yv[hold_idx]
            p = self._predict_matrix(Xh, None if seg is None else seg[hold_idx])
            self.holdout_ = {
                "n": len(hold_idx),
                "auroc": _auroc(yh, p),
                "ece": _ece(yh, p),
                "single_auroc": {name: _auroc(yh, Xh[:, j]) for j, name in enumerate(names)},
            }
        self._data_hash = _artifact.data_hash(Xm, yv)
        return self

    # ----------------------------------------------------------------- prediction

    def _predict_matrix(self, Xm: np.ndarray, seg: np.ndarray | None) -> np.ndarray:
        if seg is None or not self.segment_models_:
            return self.pooled_.proba(Xm)
        out = np.empty(Xm.shape[0])
        used = np.zeros(Xm.shape[0], dtype=bool)
        for s, sub in self.segment_models_.items():
            m = seg == s
            if m.any():
                out[m] = sub.proba(np.ascontiguousarray(Xm[m]))
                used |= m
        if (~used).any():
            out[~used] = self.pooled_.proba(np.ascontiguousarray(Xm[~used]))
        return out

    def predict_proba(self, X: Any, *, segments: Any = None) -> np.ndarray:
        """P(correct) for each request (columns matched to ``features_`` by name)."""
        check_is_fitted(self, "pooled_")
        Xm, _ = self._matrix(X, self.features_)
        seg = None
        if segments is not None:
            seg = category_labels(segments, "segments")
            check_same_length(Xm.shape[0], segments=seg)
        return self._predict_matrix(Xm, seg)

    def predict_one(self, signals: Mapping[str, float] | Sequence[float], segment: Any = None) -> float:
        """P(correct) for one request from a mapping name → value, a named tuple whose fields
        include the features (e.g. :class:`credo.signals.TopkSummary`), or plain values in
        ``features_`` order: the scalar fast path, no NumPy on the way."""
        try:
            names = self.features_
        except AttributeError:
            check_is_fitted(self, "pooled_")
            raise
        cls = signals.__class__
        getters = self.__dict__.get("_getters")
        g = getters.get(cls) if getters is not None else None
        if g is not None:  # a named-tuple class seen before
            x = g(signals)
        elif cls is not dict and hasattr(cls, "_fields"):  # a named tuple: its fields by name
            x = self._getter(cls)(signals)
        elif isinstance(signals, (str, bytes)) or not hasattr(signals, "__iter__"):
            raise InvalidArgumentError(
                f"signals: expected a mapping name -> value or a sequence of values, got {type(signals).__name__}"
            )
        elif isinstance(signals, Mapping):
            try:
                x = [signals[k] for k in names]
            except KeyError as exc:
                raise InvalidArgumentError(
                    f"signals: missing signal {exc.args[0]!r} (needs {', '.join(names)})"
                ) from None
        else:
            x = list(signals)
        sub = self.pooled_ if segment is None else self.segment_models_.get(str(segment), self.pooled_)
        try:
            return sub.one(x)
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(f"signals: {exc}") from None

    def _getter(self, cls: type) -> Callable[[Any], tuple[Any, ...]]:
        """A cached itemgetter picking ``features_`` out of named tuples of class ``cls`` (its
        ``_fields``)."""
        cache: dict[type, Callable[[Any], tuple[Any, ...]]] = self.__dict__.setdefault("_getters", {})
        g = cache.get(cls)
        if g is None:
            fields: list[str] = list(getattr(cls, "_fields", ()))
            missing = [k for k in self.features_ if k not in fields]
            if missing:
                raise InvalidArgumentError(
                    f"signals: {cls.__name__} lacks the signals {missing} (needs {', '.join(self.features_)})"
                )
            idx = [fields.index(k) for k in self.features_]
            one = operator.itemgetter(*idx)
            g = one if len(idx) > 1 else (lambda t, _g=one: (_g(t),))
            cache[cls] = g
        return g

    def _native_parts(self) -> tuple[list[int], list[float], float, bool, Any]:
        """The pooled model as ``credo._credo.NativeDecision`` takes it: feature indices into
        :class:`credo.signals.TopkSummary`, coefficients, intercept, whether the calibrator sees
        log-odds, and the calibrator's Rust model (None without one). Raises
        :class:`~credo.CredoError` naming what has no native form."""
        from credo.signals import TopkSummary

        check_is_fitted(self, "pooled_")
        fields = TopkSummary._fields
        unknown = [f for f in self.features_ if f not in fields]
        if unknown:
            raise InvalidArgumentError(
                f"model.features_: {unknown} are not top-k summary fields ({', '.join(fields)}), so the "
                "model has no native form"
            )
        sub = self.pooled_
        cal_model = None
        if sub.calibrator is not None:
            one = sub.one_cal
            owner = getattr(one, "__self__", None)
            if getattr(one, "__name__", None) != "predict_one" or not isinstance(owner, _NATIVE_CALIBRATORS):
                raise InvalidArgumentError(
                    f"model.calibrator: {type(sub.calibrator).__name__} has no native form (credo's binary "
                    "calibrators have one: isotonic, Platt, beta, histogram)"
                )
            cal_model = owner
        return [fields.index(f) for f in self.features_], sub.coef.tolist(), sub.intercept, sub.to_logit, cal_model

    def feature_weights(self, *, standardized: bool = True) -> dict[str, float]:
        """Coefficient per signal of the pooled model; on the standardised scale (comparable
        across signals) by default."""
        check_is_fitted(self, "pooled_")
        c = self.pooled_.coef_standardized if standardized else self.pooled_.coef
        return {k: float(v) for k, v in zip(self.features_, c, strict=False)}

    # ----------------------------------------------------------------- artefacts

    _ARTIFACT_SCHEMA = _artifact.Schema(
        params={
            "features": _artifact.nullable(_artifact.list_of(_artifact.text())),
            "C": _artifact.real(lo=1e-300),
            "calibrator": _artifact.nullable(_artifact.text()),  # the template's class name
            "calibrator_input": _artifact.text("probability", "logit"),
            "holdout": _artifact.real(lo=0, hi=1),
            "cv": _artifact.integer(lo=2),
            "min_segment_count": _artifact.integer(lo=2),
            "standardize": _artifact.boolean,
            "max_iter": _artifact.integer(lo=1),
            "random_state": _artifact.nullable(_artifact.integer()),
        },
        state={
            "features": _artifact.list_of(_artifact.text(), min_len=1),
            "pooled": _Sub.SCHEMA,
            "segments": _artifact.mapping(_Sub.SCHEMA),
            "holdout": _artifact.nullable(
                _artifact.record(
                    {
                        "n": _artifact.integer(lo=1),
                        "auroc": _artifact.real(lo=0, hi=1, nan=True),
                        "ece": _artifact.real(lo=0, hi=1, nan=True),
                        "single_auroc": _artifact.mapping(_artifact.real(lo=0, hi=1, nan=True)),
                    }
                )
            ),
            "n_samples_fit": _artifact.integer(lo=1),
        },
    )

    def _artifact_state(self) -> dict[str, Any]:
        check_is_fitted(self, "pooled_")
        return {
            "features": list(self.features_),
            "pooled": self.pooled_.state(),
            "segments": {k: v.state() for k, v in self.segment_models_.items()},
            "holdout": self.holdout_,
            "n_samples_fit": self.n_samples_fit_,
        }

    def _artifact_summary(self) -> dict[str, Any]:
        return {
            "n": self.n_samples_fit_,
            "data_hash": getattr(self, "_data_hash", None),
            "holdout": self.holdout_,
        }

    def save(self, path: Any) -> Any:
        """Writes the fitted model (with its fitted calibrators) as a versioned JSON artefact;
        ``credo.load(path)`` reads it back."""
        check_is_fitted(self, "pooled_")
        return _artifact.write_json_atomic(path, self._artifact_dict())

    def _artifact_dict(self) -> dict[str, Any]:
        # The unfitted calibrator template is a parameter, not state: record only its class name
        # (the fitted copies travel in the state; pickle also carries the parameters).
        shallow = copy.copy(self)
        shallow.calibrator = None if self.calibrator is None else type(self.calibrator).__name__
        return _artifact.to_dict(shallow)

    @classmethod
    def _from_artifact(cls, params: dict[str, Any], state: dict[str, Any]) -> ConfidenceModel:
        template = params.get("calibrator")
        params = {k: v for k, v in params.items() if k != "calibrator"}
        obj = cls(**params)
        obj.features_ = list(state["features"])
        obj.n_features_in_ = len(obj.features_)
        obj.pooled_ = _Sub.from_state(state["pooled"])
        # The saved template is only its class name; the unfitted template comes back as a fresh
        # copy (same parameters) of the fitted pooled calibrator, so a refit calibrates again.
        fitted = obj.pooled_.calibrator
        if (template is None) != (fitted is None) or (fitted is not None and template != type(fitted).__name__):
            raise ArtifactError(
                f"params.calibrator: {template!r} does not match the fitted calibrator "
                f"({type(fitted).__name__ if fitted is not None else None})"
            )
        if fitted is not None:
            obj.calibrator = type(fitted)(**fitted.get_params())
        obj.segment_models_ = {k: _Sub.from_state(v) for k, v in state["segments"].items()}
        obj.coef_ = obj.pooled_.coef
        obj.intercept_ = obj.pooled_.intercept
        obj.n_iter_ = obj.pooled_.n_iter
        obj.converged_ = obj.pooled_.converged
        obj.holdout_ = state.get("holdout")
        obj.n_samples_fit_ = int(state["n_samples_fit"])
        if len(obj.pooled_.coef) != obj.n_features_in_:
            raise ArtifactError("ConfidenceModel: coefficient count does not match the features")
        return obj
