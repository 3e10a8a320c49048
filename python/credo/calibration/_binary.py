"""The one-score calibrators: Platt, beta, isotonic and histogram binning."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from credo import _artifact, _credo
from credo._inputs import encode_labels, to_numpy
from credo._validate import as_float_array, check_choice, check_positive_int, check_same_length
from credo.calibration._common import (
    CLASSES,
    BinaryCalibrator,
    binary_targets,
    check_sample_weight,
    scores_1d,
)
from credo.exceptions import DataWarning, InvalidArgumentError


@_artifact.register
class PlattScaling(BinaryCalibrator):
    """Platt's sigmoid, exactly as scikit-learn's ``_sigmoid_calibration``.

    p = 1 / (1 + exp(a·f + b)), fitted on Platt's smoothed targets (N₊+1)/(N₊+2) and
    1/(N₋+2) with sample weights; note the sign convention (``a_ < 0`` when scores grow with
    the label). Scores are any real numbers (decision values, logits or probabilities).

    Parameters
    ----------
    inputs : {'scores', 'probabilities'}
        'scores' (scikit-learn's behaviour) fits the sigmoid on the scores as given;
        'probabilities' fits it on their log-odds ln(p / (1 − p)) (p clipped to
        [1e-12, 1 − 1e-12]), the usual way to recalibrate a confidence: a sigmoid of a
        probability itself can only bend it a little.

    Attributes
    ----------
    a_, b_ : float
        The fitted slope and intercept (scikit-learn's ``a_``/``b_``).
    """

    def __init__(self, *, inputs: str = "scores") -> None:
        self.inputs = inputs

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> PlattScaling:
        check_choice(self.inputs, "inputs", ("scores", "probabilities"))
        x, _ = scores_1d(X)
        classes, t = binary_targets(y, len(x))
        w = check_sample_weight(sample_weight, len(x))
        self._model_ = _credo.fit_platt(x, t, w, logit_input=self.inputs == "probabilities")
        self.a_, self.b_ = self._model_.a, self._model_.b
        self._record_fit(x, t, w, classes)
        return self

    _ARTIFACT_SCHEMA = _artifact.Schema(
        params={"inputs": _artifact.text("scores", "probabilities")},
        state={"a": _artifact.real(), "b": _artifact.real(), **_artifact.FIT_RECORD, **CLASSES},
        optional=("classes",),
    )

    def _artifact_state(self) -> dict[str, Any]:
        return {"a": self.a_, "b": self.b_, **self._base_state()}

    @classmethod
    def _from_artifact(cls, params: dict[str, Any], state: dict[str, Any]) -> PlattScaling:
        obj = cls(**params)
        check_choice(obj.inputs, "inputs", ("scores", "probabilities"))
        obj._model_ = _credo.PlattModel(float(state["a"]), float(state["b"]), obj.inputs == "probabilities")
        obj.a_, obj.b_ = obj._model_.a, obj._model_.b
        obj._restore_base(state)
        return obj


@_artifact.register
class BetaCalibration(BinaryCalibrator):
    """Beta calibration (Kull, Silva Filho and Flach, 2017), the reference's "abm" map.

    p' = σ(a·ln p − b·ln(1 − p) + c) with a, b ≥ 0 (a slope that comes out negative is dropped and
    the model refitted, as ``betacal`` does). Scores must be probabilities in [0, 1]; they are
    clipped to [ε, 1 − ε] before the logs.

    Attributes
    ----------
    a_, b_, c_ : float
        The fitted coefficients.
    m_ : float or None
        The score mapped to 1/2 (``betacal``'s third parameter); None for a constant map.
    """

    def __init__(self) -> None:
        pass

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> BetaCalibration:
        x, _ = scores_1d(X)
        classes, t = binary_targets(y, len(x))
        w = check_sample_weight(sample_weight, len(x))
        self._model_ = _credo.fit_beta(x, t, w)
        self._set_coefs()
        self._record_fit(x, t, w, classes)
        return self

    def _set_coefs(self) -> None:
        m = self._model_
        self.a_, self.b_, self.c_, self.m_ = m.a, m.b, m.c, m.midpoint

    _ARTIFACT_SCHEMA = _artifact.Schema(
        params={},
        state={
            "a": _artifact.real(lo=0),
            "b": _artifact.real(lo=0),
            "c": _artifact.real(),
            **_artifact.FIT_RECORD,
            **CLASSES,
        },
        optional=("classes",),
    )

    def _artifact_state(self) -> dict[str, Any]:
        return {"a": self.a_, "b": self.b_, "c": self.c_, **self._base_state()}

    @classmethod
    def _from_artifact(cls, params: dict[str, Any], state: dict[str, Any]) -> BetaCalibration:
        obj = cls(**params)
        obj._model_ = _credo.BetaModel(float(state["a"]), float(state["b"]), float(state["c"]))
        obj._set_coefs()
        obj._restore_base(state)
        return obj


_INCREASING = {True: "increasing", False: "decreasing", "auto": "auto"}


@_artifact.register
class IsotonicCalibrator(BinaryCalibrator):
    """Isotonic regression with scikit-learn's ``IsotonicRegression`` semantics, fitted in Rust.

    Samples with zero weight are dropped; x values within ``finfo(dtype).resolution`` of their
    group's first value are pooled (1e-15 for float64, 1e-6 for float32 input) with the weighted
    mean target and the summed weight; weighted PAVA; clipping to [``y_min``, ``y_max``];
    prediction by linear interpolation between ``X_thresholds_``, in the input's float dtype
    (float32 in, float32 out, as scikit-learn). Targets ``y`` may be real numbers, fitted as
    they are (regression, as ``IsotonicRegression``: scikit-learn sees a regressor; 0/1 labels
    are such numbers), or labels of two values — strings, booleans, integers such as {−1, 1} or
    {1, 2}, categoricals — mapped through ``classes_`` to 0 / 1 (the positive class is
    ``classes_[1]``).

    Parameters
    ----------
    increasing : True, False or 'auto'
        'auto' takes the sign of Spearman's ρ between X and y, and warns (a
        :class:`credo.DataWarning`) when the 95 % Fisher interval of ρ spans zero, as
        scikit-learn's ``check_increasing``.
    y_min, y_max : float or None
        Bounds on the fitted values.
    out_of_bounds : {'clip', 'nan', 'raise'}
        Scores outside the fitted range are clamped to it (the default here, and what
        ``CalibratedClassifierCV`` uses), give NaN (``IsotonicRegression``'s default) or raise.
    """

    def __init__(
        self,
        *,
        increasing: bool | str = True,
        y_min: float | None = None,
        y_max: float | None = None,
        out_of_bounds: str = "clip",
    ) -> None:
        self.increasing = increasing
        self.y_min = y_min
        self.y_max = y_max
        self.out_of_bounds = out_of_bounds

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> IsotonicCalibrator:
        if not any(self.increasing is k or (isinstance(k, str) and self.increasing == k) for k in _INCREASING):
            raise InvalidArgumentError(f"increasing: must be True, False or 'auto', got {self.increasing!r}")
        bounds: dict[str, float | None] = {}
        for name in ("y_min", "y_max"):
            v = getattr(self, name)
            if v is not None:
                if isinstance(v, (bool, str, bytes, np.bool_)):
                    raise InvalidArgumentError(f"{name}: must be a number or None, got {v!r}")
                try:
                    bound = float(v)
                except (TypeError, ValueError, OverflowError):
                    raise InvalidArgumentError(f"{name}: must be a number or None, got {v!r}") from None
                if np.isnan(bound):  # ±inf is no bound on that side; NaN is no number
                    raise InvalidArgumentError(f"{name}: must be a number or None, got nan")
                bounds[name] = bound
            else:
                bounds[name] = None
        if bounds["y_min"] is not None and bounds["y_max"] is not None and bounds["y_min"] > bounds["y_max"]:
            raise InvalidArgumentError(f"y_min: {bounds['y_min']} is above y_max = {bounds['y_max']}")
        x, dtype = scores_1d(X)
        classes, t = _isotonic_targets(y, len(x))
        w = check_sample_weight(sample_weight, len(x))
        if self.increasing == "auto":
            _warn_if_direction_unclear(x, t)
        fit = _credo.fit_isotonic(
            x,
            t,
            w,
            increasing=_INCREASING[self.increasing],
            y_min=bounds["y_min"],
            y_max=bounds["y_max"],
            out_of_bounds=self.out_of_bounds,
            resolution=float(np.finfo(dtype).resolution),
        )
        self._model_, self.data_hash_ = fit.model, fit.data_hash
        self._set_thresholds()
        self.n_samples_ = len(x)  # data_hash_ came from the fit's own input scan
        self.n_features_in_ = 1
        if classes is not None:
            self.classes_ = classes
        elif hasattr(self, "classes_"):
            del self.classes_
        return self

    def predict(self, X: Any) -> Any:
        """Fitted values at ``X``, of shape (n,) for (n,) or (n, 1), in X's float dtype."""
        p = super().predict(X)
        dtype = getattr(X, "dtype", None)
        if isinstance(p, np.ndarray) and dtype == np.float32:
            return p.astype(np.float32)
        return p

    def _set_thresholds(self) -> None:
        m = self._model_
        self.X_thresholds_ = m.x_thresholds
        self.y_thresholds_ = m.y_thresholds
        self.increasing_ = m.increasing
        self.X_min_, self.X_max_ = float(self.X_thresholds_[0]), float(self.X_thresholds_[-1])

    _ARTIFACT_SCHEMA = _artifact.Schema(
        params={
            "increasing": _artifact.one_of(True, False, "auto"),
            "y_min": _artifact.nullable(_artifact.real(inf=True)),
            "y_max": _artifact.nullable(_artifact.real(inf=True)),
            "out_of_bounds": _artifact.text("clip", "nan", "raise"),
        },
        state={
            "X_thresholds": _artifact.numbers(min_len=1, increasing=True),
            "y_thresholds": _artifact.numbers(min_len=1),
            "increasing": _artifact.boolean,
            **_artifact.FIT_RECORD,
            **CLASSES,
        },
        optional=("classes",),
        consistent=lambda params, state: _artifact.same_length(state, "X_thresholds", "y_thresholds"),
    )

    def _artifact_state(self) -> dict[str, Any]:
        return {
            "X_thresholds": self.X_thresholds_,
            "y_thresholds": self.y_thresholds_,
            "increasing": self.increasing_,
            **self._base_state(),
        }

    @classmethod
    def _from_artifact(cls, params: dict[str, Any], state: dict[str, Any]) -> IsotonicCalibrator:
        obj = cls(**params)
        obj._model_ = _credo.IsotonicModel(
            _artifact.decode_array(state["X_thresholds"]).tolist(),
            _artifact.decode_array(state["y_thresholds"]).tolist(),
            bool(state["increasing"]),
            obj.out_of_bounds,
        )
        obj._set_thresholds()
        obj._restore_base(state, labels=False)
        return obj


def _isotonic_targets(y: Any, n: int) -> tuple[np.ndarray | None, np.ndarray]:
    """``(classes_ or None, targets)`` for ``n`` samples: floats and 0/1 integers as they are;
    two-valued labels of any other kind as 0 / 1 for ``classes_[1]``."""
    arr = to_numpy(y, "y")
    try:
        arr = np.asarray(arr)
    except (TypeError, ValueError):
        return None, as_float_array(arr, "y", ndim=1, finite=False)  # raises, naming y
    if arr.ndim == 1:  # the length before any pass over the labels
        check_same_length(n, y=arr)
    kind = arr.dtype.kind
    if kind == "f" or (kind in "iu" and (np.isin(arr, (0, 1)).all() or len(np.unique(arr)) != 2)):
        return None, as_float_array(arr, "y", ndim=1, finite=False)
    classes, codes = encode_labels(arr, "y", binary=True, n=n)
    return classes, codes.astype(np.float64)


def _warn_if_direction_unclear(x: np.ndarray, y: np.ndarray) -> None:
    """scikit-learn's ``check_increasing`` warning: the 95 % Fisher interval of Spearman's ρ
    spans zero, so the sign 'auto' picks may be wrong."""
    rho = _credo.spearman_rho(x, y)
    if not math.isfinite(rho) or rho in (-1.0, 1.0) or len(x) <= 3:
        return
    f, se = math.atanh(rho), 1.0 / math.sqrt(len(x) - 3)
    lo, hi = math.tanh(f - 1.96 * se), math.tanh(f + 1.96 * se)
    if np.sign(lo) != np.sign(hi):
        warnings.warn(
            f"increasing='auto': the 95% confidence interval of Spearman's rho ({rho:.3g}) spans "
            f"zero [{lo:.3g}, {hi:.3g}], so the direction chosen "
            f"({'increasing' if rho >= 0 else 'decreasing'}) may be wrong; pass increasing=True or False",
            DataWarning,
            stacklevel=3,
        )


@_artifact.register
class HistogramBinning(BinaryCalibrator):
    """Histogram binning: each bin of [0, 1] maps to its fraction of positives at fit time.

    Bins are (a, b] with the first bin closed, [0, b], at fit and at predict alike (netcal fits
    with [a, b) and predicts with (a, b]). ``strategy='uniform'`` gives equal-width bins;
    ``'quantile'`` gives equal-mass bins from ``np.quantile`` of the fit scores with the ends
    forced to 0 and 1 (repeated edges from ties are merged, so there may be fewer bins). An empty
    bin predicts its own midpoint.

    Attributes
    ----------
    bin_edges_, bin_values_, bin_counts_ : ndarray
        Edges (length n_bins + 1), calibrated value and (weighted) count per bin.
    """

    def __init__(self, *, n_bins: int = 10, strategy: str = "uniform") -> None:
        self.n_bins = n_bins
        self.strategy = strategy

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> HistogramBinning:
        n_bins = check_positive_int(self.n_bins, "n_bins")
        x, _ = scores_1d(X)
        classes, t = binary_targets(y, len(x))
        w = check_sample_weight(sample_weight, len(x))
        self._model_ = _credo.fit_histogram(x, t, w, n_bins=n_bins, strategy=self.strategy)
        self._set_bins()
        self._record_fit(x, t, w, classes)
        return self

    def _set_bins(self) -> None:
        m = self._model_
        self.bin_edges_, self.bin_values_, self.bin_counts_ = m.edges, m.values, m.counts

    _ARTIFACT_SCHEMA = _artifact.Schema(
        params={"n_bins": _artifact.integer(lo=1), "strategy": _artifact.text("uniform", "quantile")},
        state={
            "edges": _artifact.numbers(min_len=2, increasing=True, lo=0, hi=1),
            "values": _artifact.numbers(min_len=1, lo=0, hi=1),
            "counts": _artifact.numbers(min_len=1, lo=0),
            **_artifact.FIT_RECORD,
            **CLASSES,
        },
        optional=("classes",),
        consistent=lambda params, state: _artifact.same_length(state, "values", "counts", edges=1),
    )

    def _artifact_state(self) -> dict[str, Any]:
        return {
            "edges": self.bin_edges_,
            "values": self.bin_values_,
            "counts": self.bin_counts_,
            **self._base_state(),
        }

    @classmethod
    def _from_artifact(cls, params: dict[str, Any], state: dict[str, Any]) -> HistogramBinning:
        obj = cls(**params)
        obj._model_ = _credo.HistogramModel(
            _artifact.decode_array(state["edges"]).tolist(),
            _artifact.decode_array(state["values"]).tolist(),
            _artifact.decode_array(state["counts"]).tolist(),
        )
        obj._set_bins()
        obj._restore_base(state)
        return obj
