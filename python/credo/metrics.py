"""Calibration and selective-prediction metrics, with every convention named.

Every number is computed in the Rust core (``credo._credo``); this module validates inputs and
chooses the view of the data. Arguments follow scikit-learn: ``(y_true, y_prob)`` positional,
options keyword-only, ``sample_weight`` wherever a weighted mean makes sense.

Binned calibration error (:func:`ece`) is reported differently by every library because each
assigns values on a bin edge differently
(docs/definitions/metrics.md#binned-calibration-error-ece-and-bin-conventions). ``convention``
selects the rule:

========== =========================================================== ============
convention bin of a confidence p with B bins                           default B
========== =========================================================== ============
credo      min(⌊p·B⌋, B−1): [i/B, (i+1)/B), p = 1 in the last bin      15
sklearn    (a, b], the first bin [0, b] (``calibration_curve``)         5
netcal     p clipped to [eps, 1−eps]; [a, b), the last bin closed       10
torchmetrics [a, b) on ``torch.linspace`` edges; p = 1 gets an extra bin 15
mapie      B edges ``linspace(0, 1, B)``: B−1 intervals (a, b] + {0}    50
relplot    ⌊p/(1/B)⌋: p = 1 gets its own bin                            10
========== =========================================================== ============

The views (``kind``): ``"top_label"`` — confidence = max probability, outcome = whether the
argmax is right (1-D input is read as confidence and 0/1 correctness); ``"binary"`` — p(y = 1)
against y (a 2-column matrix uses its second column); ``"classwise"`` — the mean over classes of
the binary ECE of p_k against 1[y = k] (Kull et al. 2019); ``"canonical"`` — the full-vector ECE
of Widmann et al. (2019) as CalibrationErrors.jl's ``ECE(UniformBinning(B))``: every coordinate
in bin ⌈B·p⌉ ((a, b] bins), cells weighted by mass, total-variation distance per cell.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, NamedTuple, TypedDict, overload

import numpy as np

from credo import _array_api as _xp
from credo import _credo
from credo._inputs import read_array
from credo._validate import (
    as_float_array,
    as_labels,
    as_probabilities,
    as_real_array,
    as_sample_weight,
    check_bool,
    check_choice,
    check_open_unit,
    check_positive_int,
    check_real,
    check_same_length,
    check_seed,
    check_threads,
)
from credo.exceptions import (
    DataWarning,
    InvalidArgumentError,
    NonFiniteError,
    ShapeError,
    UndefinedMetricWarning,
)

__all__ = [
    "BootstrapResult",
    "CoverageAtRisk",
    "RiskCoverage",
    "SelectiveRisk",
    "adaptive_ece",
    "augrc",
    "auprc",
    "aurc",
    "auroc",
    "bootstrap",
    "brier_score",
    "by_segment",
    "calibration_curve",
    "coverage_at_risk",
    "eaurc",
    "ece",
    "mce",
    "nll",
    "prr",
    "reliability_table",
    "risk_coverage_curve",
    "selective_risk",
    "smooth_ece",
    "top_label",
]

CONVENTIONS = ("credo", "sklearn", "netcal", "torchmetrics", "mapie", "relplot")
DEFAULT_BINS = {"credo": 15, "sklearn": 5, "netcal": 10, "torchmetrics": 15, "mapie": 50, "relplot": 10}
KINDS = ("top_label", "binary", "classwise", "canonical")
NORMS = ("l1", "l2", "l2_debiased", "max")


# --- input views -------------------------------------------------------------------------------


# 1-D float inputs are only converted here: the kernels check finiteness and ranges in the
# same pass that reads them, with messages naming the same argument (one scan instead of four).


def _light(x: Any, name: str) -> np.ndarray:
    return as_float_array(x, name, ndim=1, finite=False)


def _outcomes(y: Any, n: int, name: str = "y_true") -> np.ndarray:
    """``n`` 0/1 labels, booleans or soft outcomes in [0, 1] as float64 (range checked in Rust;
    the length before any conversion)."""
    return as_float_array(y, name, ndim=1, finite=False, n=n)


#: CPU input of any kind users have (lists, pandas / polars, ``__array__``, DLPack) as a NumPy
#: array of rank >= 1, for the rank checks and the indexing done before the kernels validate it.
_array = read_array


def _ndim(x: Any) -> int:
    """The rank of ``x`` without copying a device array (which has ``ndim``)."""
    ndim = getattr(x, "ndim", None)
    return int(ndim) if isinstance(ndim, (int, np.integer)) else _array(x, "y_prob").ndim


def _scores(y_score: Any) -> np.ndarray:
    return _light(y_score, "y_score")


def _weights(sample_weight: Any, n: int) -> np.ndarray | None:
    return as_sample_weight(sample_weight, n)


def _light_weights(sample_weight: Any, n: int) -> np.ndarray | None:
    """``n`` weights as float64 for a kernel that checks them itself, in its one pass over the
    data (sign, finiteness, sum): the length before any conversion."""
    if sample_weight is None:
        return None
    return as_float_array(sample_weight, "sample_weight", ndim=1, finite=False, n=n)


def top_label(y_true: Any, y_prob: Any) -> tuple[np.ndarray, np.ndarray]:
    """(confidence, correctness) of a ``[n, K]`` probability matrix: the max probability and
    1.0 where the argmax (lowest index on ties) equals the label."""
    probs = as_probabilities(y_prob, "y_prob", ndim=2)
    labels = as_labels(y_true, "y_true", n_classes=probs.shape[1], n=probs.shape[0])
    t = _credo.top_label(probs, labels)
    return t.confidence, t.accuracy


def _binary_view(y_true: Any, y_prob: Any, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """(confidence, outcome) for the top-label or binary view of 1-D or 2-D input."""
    arr = as_real_array(y_prob, "y_prob", dtype=None)  # refuses a device array (no silent copy)
    if arr.ndim == 2:
        if kind == "binary":
            if arr.shape[1] != 2:
                raise ShapeError(f"y_prob: kind='binary' needs p(y=1) or 2 columns, got shape {arr.shape}")
            probs = as_probabilities(arr, "y_prob", ndim=2)
            labels = as_labels(y_true, "y_true", binary=True, n=probs.shape[0])
            return np.ascontiguousarray(probs[:, 1]), labels.astype(np.float64)
        return top_label(y_true, arr)
    p = _light(y_prob, "y_prob")
    return p, _outcomes(y_true, len(p))


def _bins(n_bins: int | None, convention: str) -> int:
    check_choice(convention, "convention", CONVENTIONS)
    if n_bins is None:
        return DEFAULT_BINS[convention]
    return check_positive_int(n_bins, "n_bins")


# --- binned calibration error ------------------------------------------------------------------


class _EceOptions(TypedDict):
    """The binning options every native ECE kernel takes."""

    n_bins: int
    convention: str
    strategy: str
    norm: str
    bin_weighted: bool


def ece(
    y_true: Any,
    y_prob: Any,
    *,
    kind: str = "top_label",
    n_bins: int | None = None,
    strategy: str = "uniform",
    norm: str = "l1",
    convention: str = "credo",
    adaptive: bool = False,
    sample_weight: Any = None,
    threads: int | None = None,
) -> float:
    """Binned expected calibration error.

    Parameters
    ----------
    y_true : labels ``[n]`` (class indices for 2-D ``y_prob``; 0/1 outcomes or correctness for 1-D).
    y_prob : ``[n, K]`` probabilities, or ``[n]`` confidences / p(y = 1).
    kind : ``"top_label"`` (default), ``"binary"``, ``"classwise"`` or ``"canonical"``.
    n_bins : number of bins; ``None`` takes the convention's default (credo: 15). With
        ``convention="mapie"`` this is MAPIE's ``num_bins`` (``num_bins − 1`` intervals).
    strategy : ``"uniform"`` (equal width) or ``"quantile"`` (equal mass; credo, sklearn, netcal).
    norm : ``"l1"`` (ECE), ``"l2"`` (RMS), ``"l2_debiased"`` (Kumar et al. 2019) or ``"max"`` (MCE).
    convention : whose bin-edge rule to apply (module docstring).
    adaptive : average non-empty bins equally instead of by mass (netcal's ACE; with
        ``strategy="quantile"`` this is the adaptive ECE).
    sample_weight : optional non-negative weights.
    threads : worker threads (``None``: all cores); the result does not depend on it.
    """
    check_choice(kind, "kind", KINDS)
    check_choice(norm, "norm", NORMS)
    check_choice(strategy, "strategy", ("uniform", "quantile"))
    if not isinstance(adaptive, (bool, np.bool_)):
        raise InvalidArgumentError(f"adaptive: must be True or False, got {adaptive!r}")
    bins = _bins(n_bins, convention)
    opts: _EceOptions = {
        "n_bins": bins,
        "convention": convention,
        "strategy": strategy,
        "norm": norm,
        "bin_weighted": not adaptive,
    }
    if (xp := _xp.namespace_of(y_true, y_prob, sample_weight)) is not None:  # computed on the device
        on_device: float = _xp.ece(xp, y_true, y_prob, kind=kind, sample_weight=sample_weight, **opts)
        return on_device
    if kind in ("classwise", "canonical"):
        probs = as_probabilities(y_prob, "y_prob", ndim=2)
        labels = as_labels(y_true, "y_true", n_classes=probs.shape[1], n=probs.shape[0])
        w = _weights(sample_weight, len(labels))
        if kind == "classwise":
            return _credo.ece_classwise(probs, labels, w, threads=threads, **opts)
        if convention != "credo" or strategy != "uniform" or norm != "l1" or adaptive:
            raise InvalidArgumentError(
                "kind: 'canonical' uses CalibrationErrors.jl's uniform per-coordinate bins and the "
                "total-variation distance; convention, strategy, norm and adaptive do not apply"
            )
        return _credo.ece_canonical(probs, labels, w, n_bins=bins)
    conf, acc = _binary_view(y_true, y_prob, kind)
    return _credo.ece(conf, acc, _light_weights(sample_weight, len(conf)), threads=threads, **opts)


def mce(y_true: Any, y_prob: Any, **kwargs: Any) -> float:
    """Maximum calibration error: :func:`ece` with ``norm="max"``."""
    return ece(y_true, y_prob, norm="max", **kwargs)


def adaptive_ece(y_true: Any, y_prob: Any, *, n_bins: int | None = None, **kwargs: Any) -> float:
    """Adaptive ECE: equal-mass bins, non-empty bins averaged equally (netcal's ACE; with
    ``kind="classwise"`` the ACE of Nixon et al. 2019)."""
    return ece(y_true, y_prob, n_bins=n_bins, strategy="quantile", adaptive=True, **kwargs)


def reliability_table(
    y_true: Any,
    y_prob: Any,
    *,
    kind: str = "top_label",
    n_bins: int | None = None,
    strategy: str = "uniform",
    convention: str = "credo",
    sample_weight: Any = None,
) -> dict[str, np.ndarray]:
    """Per-bin table behind :func:`ece`: ``lower``, ``upper`` (edges), ``count``, ``weight``,
    ``confidence`` (mean), ``accuracy`` (mean outcome) and ``gap`` (accuracy − confidence);
    empty bins hold NaN means."""
    check_choice(kind, "kind", ("top_label", "binary"))
    check_choice(strategy, "strategy", ("uniform", "quantile"))
    bins = _bins(n_bins, convention)
    if (xp := _xp.namespace_of(y_true, y_prob, sample_weight)) is not None:
        kw = dict(kind=kind, n_bins=bins, strategy=strategy, convention=convention, sample_weight=sample_weight)
        return _xp.reliability_table(xp, y_true, y_prob, **kw)
    conf, acc = _binary_view(y_true, y_prob, kind)
    w = _weights(sample_weight, len(conf))
    r = _credo.reliability(conf, acc, w, n_bins=bins, convention=convention, strategy=strategy)
    weight, count, conf_sum, acc_sum, edges = r.weight, r.count, r.conf_sum, r.acc_sum, r.edges
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.where(weight > 0, conf_sum / weight, np.nan)
        mean_acc = np.where(weight > 0, acc_sum / weight, np.nan)
    return {
        "lower": edges[:-1],
        "upper": edges[1:],
        "count": count.astype(np.int64),
        "weight": weight,
        "confidence": mean_conf,
        "accuracy": mean_acc,
        "gap": mean_acc - mean_conf,
    }


def calibration_curve(
    y_true: Any, y_prob: Any, *, n_bins: int = 5, strategy: str = "uniform"
) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's ``calibration_curve``: (fraction of positives, mean predicted value) over
    non-empty bins, with its (a, b] bins."""
    check_positive_int(n_bins, "n_bins")  # no None: that would be the convention's default, not 5
    t = reliability_table(y_true, y_prob, kind="binary", n_bins=n_bins, strategy=strategy, convention="sklearn")
    keep = t["count"] > 0
    return t["accuracy"][keep], t["confidence"][keep]


@overload
def smooth_ece(
    y_true: Any,
    y_prob: Any,
    *,
    kind: str = ...,
    sigma: float | None = ...,
    return_sigma: Literal[False] = ...,
    sample_weight: Any = ...,
) -> float: ...


@overload
def smooth_ece(
    y_true: Any,
    y_prob: Any,
    *,
    kind: str = ...,
    sigma: float | None = ...,
    return_sigma: Literal[True],
    sample_weight: Any = ...,
) -> tuple[float, float]: ...


@overload
def smooth_ece(
    y_true: Any,
    y_prob: Any,
    *,
    kind: str = ...,
    sigma: float | None = ...,
    return_sigma: bool = ...,
    sample_weight: Any = ...,
) -> float | tuple[float, float]: ...


def smooth_ece(
    y_true: Any,
    y_prob: Any,
    *,
    kind: str = "top_label",
    sigma: float | None = None,
    return_sigma: bool = False,
    sample_weight: Any = None,
) -> float | tuple[float, float]:
    """Smooth ECE (Błasiok & Nakkiran 2023) with relplot's algorithm: a reflected Gaussian
    kernel smoother whose width σ is the fixed point σ = smECE_σ (or the given ``sigma``).
    Returns smECE, or (smECE, σ) with ``return_sigma``. Weights are rescaled to mean 1."""
    check_choice(kind, "kind", ("top_label", "binary"))
    check_bool(return_sigma, "return_sigma")
    if sigma is not None and not 0.0 < check_real(sigma, "sigma") < np.inf:
        raise InvalidArgumentError(f"sigma: must be a positive finite number, got {sigma!r}")
    conf, acc = _binary_view(y_true, y_prob, kind)
    r = _credo.smooth_ece(conf, acc, _weights(sample_weight, len(conf)), sigma=sigma)
    return (r.value, r.sigma) if return_sigma else r.value


# --- proper scores -----------------------------------------------------------------------------


def _score(kind: str, y_true: Any, y_prob: Any, sample_weight: Any) -> tuple[float, int]:
    if (xp := _xp.namespace_of(y_true, y_prob, sample_weight)) is not None:
        return _xp.score(xp, kind, y_true, y_prob, sample_weight)
    arr = _array(y_prob, "y_prob")
    if arr.ndim == 2:
        probs = as_probabilities(arr, "y_prob", ndim=2)
        labels = as_labels(y_true, "y_true", n_classes=probs.shape[1], n=probs.shape[0])
        return _credo.multiclass_score(kind, probs, labels, _weights(sample_weight, len(labels))), probs.shape[1]
    p = as_probabilities(y_prob, "y_prob", ndim=1)
    y = _outcomes(y_true, len(p))
    return _credo.binary_score(kind, p, y, _weights(sample_weight, len(p))), 2


def brier_score(y_true: Any, y_prob: Any, *, sample_weight: Any = None, scale_by_half: Any = "auto") -> float:
    """Brier score: mean over samples of Σ_k (1[y = k] − p_k)² for ``[n, K]`` input.

    ``scale_by_half`` follows scikit-learn's ``brier_score_loss``: ``"auto"`` halves the sum for
    two classes (so 1-D p(y = 1) input gives mean (y − p)²) and not for three or more; ``True`` or
    ``False`` force it.
    """
    if scale_by_half not in ("auto", True, False):
        raise InvalidArgumentError(f"scale_by_half: must be 'auto', True or False, got {scale_by_half!r}")
    value, k = _score("brier", y_true, y_prob, sample_weight)
    # The kernel returns the full sum over classes for 2-D input and mean (y − p)², the halved
    # two-class sum, for 1-D input.
    full = value if _ndim(y_prob) == 2 else 2.0 * value
    half = (k == 2) if scale_by_half == "auto" else bool(scale_by_half)
    return full / 2.0 if half else full


def nll(y_true: Any, y_prob: Any, *, sample_weight: Any = None) -> float:
    """Negative log-likelihood (log loss), probabilities clipped to [eps, 1 − eps] as
    scikit-learn's ``log_loss``; [n, K] rows that do not sum to 1 (within √eps, as scikit-learn)
    give a :class:`credo.DataWarning`, as scikit-learn warns."""
    sums = _xp.row_sum_range(y_prob)  # (min, max) row sum of 2-D input, computed where it lives
    if sums is not None and not max(abs(sums[0] - 1.0), abs(sums[1] - 1.0)) <= np.sqrt(np.finfo(np.float64).eps):
        warnings.warn(
            f"y_prob: rows do not sum to 1 (min {sums[0]:.6g}, max {sums[1]:.6g}); pass probabilities",
            DataWarning,
            stacklevel=2,
        )
    return _score("nll", y_true, y_prob, sample_weight)[0]


# --- ranking and selective prediction ----------------------------------------------------------


def _ranking(kind: str, y_true: Any, y_score: Any, sample_weight: Any, convention: str = "credo") -> float:
    if (xp := _xp.namespace_of(y_true, y_score, sample_weight)) is not None:
        on_device: float = _xp.ranking(xp, kind, y_true, y_score, sample_weight)
        return on_device
    s = _scores(y_score)
    y = _outcomes(y_true, len(s)) if kind != "prr" else _light(y_true, "y_true")
    check_same_length(len(s), y_true=y)
    return _credo.ranking_metric(kind, s, y, _weights(sample_weight, len(s)), convention=convention)


def auroc(y_true: Any, y_score: Any, *, sample_weight: Any = None) -> float:
    """AUROC of ``y_score`` (e.g. confidence) against binary ``y_true`` (e.g. correctness), ties
    counted ½: equal to scikit-learn's ``roc_auc_score``."""
    return _ranking("auroc", y_true, y_score, sample_weight)


def auprc(y_true: Any, y_score: Any, *, sample_weight: Any = None) -> float:
    """Area under the precision–recall curve as average precision (scikit-learn's
    ``average_precision_score``). With no positive in ``y_true`` it is undefined: like
    scikit-learn, this returns 0.0 with a warning (a :class:`credo.UndefinedMetricWarning`)."""
    s = _scores(y_score)
    y = _outcomes(y_true, len(s))
    check_same_length(len(s), y_true=y)
    w = _weights(sample_weight, len(s))
    if not np.any((y > 0) if w is None else (y > 0) & (w > 0)):
        warnings.warn(
            "y_true: no positive sample, so average precision is undefined; returning 0.0 as scikit-learn does",
            UndefinedMetricWarning,
            stacklevel=2,
        )
        return 0.0
    return _credo.ranking_metric("average_precision", s, y, w, convention="credo")


def aurc(y_true: Any, y_score: Any, *, convention: str = "credo", sample_weight: Any = None) -> float:
    """Area under the risk–coverage curve of correctness ``y_true`` ranked by ``y_score``.

    ``convention="credo"``: Σ over unique thresholds of Δcoverage × selective risk (ties grouped;
    for distinct scores the mean over k of the risk of the top k). ``"torch_uncertainty"``:
    per-sample steps (stable order), trapezoid, divided by 1 − 1/N."""
    return _ranking("aurc", y_true, y_score, sample_weight, convention)


def eaurc(y_true: Any, y_score: Any, *, convention: str = "credo", sample_weight: Any = None) -> float:
    """Excess AURC: AURC minus the AURC of the oracle ranking (correct samples first)."""
    return _ranking("eaurc", y_true, y_score, sample_weight, convention)


def augrc(y_true: Any, y_score: Any, *, convention: str = "credo", sample_weight: Any = None) -> float:
    """Area under the generalised risk–coverage curve (Traub et al. 2024): risk = accepted errors
    / all samples."""
    return _ranking("augrc", y_true, y_score, sample_weight, convention)


def prr(y_true: Any, y_score: Any, *, sample_weight: Any = None) -> float:
    """Prediction–rejection ratio (LM-Polygraph): how much of the oracle's gain over random
    rejection the ranking by ``y_score`` achieves; ``y_true`` is any quality (higher is better).
    1 is perfect, 0 random, negative worse than random."""
    return _ranking("prr", y_true, y_score, sample_weight)


class RiskCoverage(NamedTuple):
    coverage: np.ndarray
    risk: np.ndarray
    thresholds: np.ndarray
    generalized_risk: np.ndarray


class SelectiveRisk(NamedTuple):
    risk: float
    coverage: float
    threshold: float


class CoverageAtRisk(NamedTuple):
    coverage: float
    threshold: float
    risk: float


def _rc_inputs(y_true: Any, y_score: Any, sample_weight: Any) -> tuple[np.ndarray, np.ndarray, Any]:
    s = _scores(y_score)
    y = _outcomes(y_true, len(s))
    return s, y, _weights(sample_weight, len(s))


def risk_coverage_curve(y_true: Any, y_score: Any, *, sample_weight: Any = None) -> RiskCoverage:
    """Selective risk (error rate among accepted) and coverage when accepting every sample with
    ``y_score`` ≥ t, for each unique t from the highest down."""
    s, y, w = _rc_inputs(y_true, y_score, sample_weight)
    c = _credo.risk_coverage(s, y, w)
    return RiskCoverage(c.coverage, c.risk, c.thresholds, c.generalized_risk)


def selective_risk(y_true: Any, y_score: Any, *, coverage: float, sample_weight: Any = None) -> SelectiveRisk:
    """Selective risk at the highest threshold whose coverage reaches ``coverage`` (ties are
    accepted together, so the achieved coverage can exceed it)."""
    s, y, w = _rc_inputs(y_true, y_score, sample_weight)
    p = _credo.selective_risk_at(s, y, check_real(coverage, "coverage"), w)  # range checked in Rust
    return SelectiveRisk(p.risk, p.coverage, p.threshold)


def coverage_at_risk(y_true: Any, y_score: Any, *, risk: float, sample_weight: Any = None) -> CoverageAtRisk:
    """The largest coverage whose selective risk is at most ``risk`` (coverage 0 and threshold
    +inf when none is)."""
    s, y, w = _rc_inputs(y_true, y_score, sample_weight)
    p = _credo.coverage_at_risk(s, y, check_real(risk, "risk"), w)  # range checked in Rust
    return CoverageAtRisk(p.coverage, p.threshold, p.risk)


# --- bootstrap ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BootstrapResult:
    """A bootstrap interval [``low``, ``high``] around ``estimate``, of kind ``method``
    ('percentile', 'basic' or 'bca'); ``distribution`` holds the resampled values."""

    estimate: float
    low: float
    high: float
    confidence_level: float
    n_resamples: int
    distribution: np.ndarray = field(repr=False)
    method: str = "percentile"

    @property
    def contains_estimate(self) -> bool:
        """Whether low <= estimate <= high (a biased statistic such as ECE can fall outside its
        own percentile interval)."""
        return bool(self.low <= self.estimate <= self.high)


#: The ``method`` values of :func:`bootstrap`.
BOOTSTRAP_METHODS = ("percentile", "basic", "bca", "bias_corrected")


_NATIVE_RANKING = {
    auroc: "auroc",
    auprc: "average_precision",
    aurc: "aurc",
    eaurc: "eaurc",
    augrc: "augrc",
    prr: "prr",
}


def bootstrap(
    metric: Callable[..., float],
    y_true: Any,
    y_prob: Any,
    *,
    n_resamples: int = 1000,
    confidence_level: float = 0.95,
    seed: int = 0,
    sample_weight: Any = None,
    threads: int | None = None,
    method: str = "percentile",
    **metric_kwargs: Any,
) -> BootstrapResult:
    """Bootstrap interval of ``metric(y_true, y_prob, **metric_kwargs)``.

    ``method``: 'percentile' (the quantiles of the resampled values), 'basic' (those quantiles
    reflected about the estimate, 2θ̂ − q), 'bca' (bias-corrected and accelerated, Efron 1987:
    the bias correction from the share of resamples below the estimate, the acceleration from a
    jackknife of the same metric, leaving out each of up to 1000 contiguous groups) or
    'bias_corrected' (BCa if its interval contains the estimate, else the basic interval;
    ``result.method`` says which was used). A biased statistic such as ECE near 0 can lie
    outside its own percentile interval (nearly all resamples above the estimate); then BCa,
    whose bounds are quantiles of the resamples too, excludes it as well, and the basic interval
    is shifted below it by the bias — ``result.contains_estimate`` says whether the interval
    contains the estimate. The interval arithmetic is the Rust core's
    (checked against ``scipy.stats.bootstrap(method='BCa')`` on the same resamples).

    The metrics of this module on 1-D inputs (and top-label ECE on 2-D input) are resampled
    entirely in Rust; any other callable — and equal-mass ECE, whose bin edges depend on the
    resample — is evaluated in Python on index sets drawn in Rust (the same index sets).
    Resample r uses its own stream of ``seed``, so results are reproducible and independent of
    ``threads``.
    """
    n_res = check_positive_int(n_resamples, "n_resamples")
    check_open_unit(confidence_level, "confidence_level")
    seed = check_seed(seed)
    threads = check_threads(threads)  # also where the Python path does not use it
    check_choice(method, "method", BOOTSTRAP_METHODS)
    kind = "bca" if method == "bias_corrected" else method
    level = float(confidence_level)
    result = _bootstrap(metric, y_true, y_prob, n_res, level, int(seed), sample_weight, threads, kind, metric_kwargs)
    if method == "bias_corrected" and not result.contains_estimate:
        basic = _credo.bootstrap_interval("basic", result.estimate, result.distribution, confidence_level=level)
        result = replace(result, low=basic.low, high=basic.high, method="basic")
    return result


def _bootstrap(
    metric: Callable[..., float],
    y_true: Any,
    y_prob: Any,
    n_resamples: int,
    confidence_level: float,
    seed: int,
    sample_weight: Any,
    threads: int | None,
    method: str,
    metric_kwargs: dict[str, Any],
) -> BootstrapResult:
    """The ``method`` bootstrap: in Rust for this module's metrics, else in Python on index sets
    drawn in Rust."""
    n_res = n_resamples
    native = _native_bootstrap(metric, y_true, y_prob, metric_kwargs)
    if native is not None:
        name, conf, y, opts = native
        w = _weights(sample_weight, len(conf))
        r = _credo.bootstrap_metric(
            name,
            conf,
            y,
            w,
            n_resamples=n_res,
            confidence_level=float(confidence_level),
            seed=int(seed),
            threads=threads,
            method=method,
            **opts,
        )
        return BootstrapResult(r.estimate, r.low, r.high, float(confidence_level), n_res, r.distribution, method)
    return _python_bootstrap(
        metric, y_true, y_prob, n_res, float(confidence_level), int(seed), sample_weight, method, metric_kwargs
    )


def _native_bootstrap(
    metric: Any, y_true: Any, y_prob: Any, kw: dict[str, Any]
) -> tuple[str, np.ndarray, np.ndarray, dict[str, Any]] | None:
    if metric in (ece, mce, adaptive_ece):
        kind = kw.get("kind", "top_label")
        if kind not in ("top_label", "binary") or set(kw) - {
            "kind",
            "n_bins",
            "strategy",
            "norm",
            "convention",
            "adaptive",
        }:
            return None
        if metric is adaptive_ece or kw.get("strategy", "uniform") != "uniform":
            return None  # quantile edges depend on the resample: recomputed in the generic path
        conf, acc = _binary_view(y_true, y_prob, kind)
        convention = kw.get("convention", "credo")
        opts = {
            "n_bins": _bins(kw.get("n_bins"), convention),
            "convention": convention,
            "strategy": "uniform",
            "norm": "max" if metric is mce else kw.get("norm", "l1"),
            "bin_weighted": not kw.get("adaptive", False),
        }
        return "ece", conf, acc, opts
    if metric in (brier_score, nll) and _ndim(y_prob) == 1 and not kw:
        p = as_probabilities(y_prob, "y_prob", ndim=1)
        return ("brier" if metric is brier_score else "nll"), p, _outcomes(y_true, len(p)), {}
    if metric in _NATIVE_RANKING and set(kw) <= {"convention"}:
        s = _scores(y_prob)
        y = as_float_array(y_true, "y_true", ndim=1) if metric is prr else _outcomes(y_true, len(s))
        check_same_length(len(s), y_true=y)
        return _NATIVE_RANKING[metric], s, y, {"area_convention": kw.get("convention", "credo")}
    return None


def _python_bootstrap(
    metric: Callable[..., float],
    y_true: Any,
    y_prob: Any,
    n_res: int,
    level: float,
    seed: int,
    sample_weight: Any,
    method: str,
    kw: dict[str, Any],
) -> BootstrapResult:
    if not callable(metric):
        raise InvalidArgumentError(f"metric: must be callable, got {metric!r}")
    yt, yp = _array(y_true, "y_true"), _array(y_prob, "y_prob")
    if yp.ndim == 0 or len(yp) == 0:
        raise ShapeError(f"y_prob: expected a non-empty array, got shape {yp.shape}")
    check_same_length(len(yp), y_true=yt)
    w = _weights(sample_weight, len(yp))

    def on(i: np.ndarray | slice) -> float:
        try:
            return float(metric(yt[i], yp[i], **({} if w is None else {"sample_weight": w[i]}), **kw))
        except ValueError:
            return np.nan  # e.g. a resample with a single class

    estimate = float(metric(yt, yp, **({} if w is None else {"sample_weight": w}), **kw))
    idx = _credo.bootstrap_indices(len(yp), n_res, seed)
    dist = np.array([on(idx[r]) for r in range(n_res)], dtype=np.float64)
    jackknife = None
    if method == "bca":  # the metric with each group of the core's jackknife left out
        keep = np.ones(len(yp), dtype=bool)
        values = []
        for group in _credo.bootstrap_jackknife_groups(len(yp)):
            keep[group] = False
            values.append(on(np.flatnonzero(keep)))
            keep[group] = True
        jackknife = np.asarray(values, dtype=np.float64)
    interval = _credo.bootstrap_interval(method, estimate, dist, jackknife, confidence_level=level)
    lo, hi = interval.low, interval.high
    return BootstrapResult(estimate, lo, hi, level, n_res, dist, method)


# --- per-segment tables ------------------------------------------------------------------------


def _metric_map(metrics: Any) -> dict[str, Callable[..., float]]:
    if callable(metrics):
        return {getattr(metrics, "__name__", "metric"): metrics}
    if isinstance(metrics, str):
        metrics = [metrics]
    if isinstance(metrics, Mapping):
        items = list(metrics.items())
    elif isinstance(metrics, Sequence):
        items = [(m if isinstance(m, str) else getattr(m, "__name__", f"metric_{i}"), m) for i, m in enumerate(metrics)]
    else:
        raise InvalidArgumentError(
            f"metrics: expected a callable, a name, a list or a dict, got {type(metrics).__name__}"
        )
    out = {}
    for name, m in items:
        if isinstance(m, str):
            if m not in __all__ or not callable(globals().get(m)) or m in ("bootstrap", "by_segment", "top_label"):
                raise InvalidArgumentError(f"metrics: unknown metric {m!r}")
            m = globals()[m]
        if not callable(m):
            raise InvalidArgumentError(f"metrics: {name!r} is not callable")
        out[str(name)] = m
    if not out:
        raise InvalidArgumentError("metrics: no metric given")
    return out


def by_segment(
    metrics: Any,
    y_true: Any,
    y_prob: Any,
    segments: Any,
    *,
    sample_weight: Any = None,
    min_count: int = 1,
    overall: bool = True,
    as_frame: bool = False,
    **metric_kwargs: Any,
) -> Any:
    """Metrics stratified by segment (domain, workflow, prompt family, model, subject …).

    ``metrics`` is a metric (callable or name such as ``"ece"``), a list of them or a dict
    name → metric; each is called as ``metric(y_true[s], y_prob[s], **metric_kwargs)``. Segments
    with fewer than ``min_count`` samples get NaN. ``y_true`` and ``y_prob`` hold numbers (what
    every metric reads; text, complex and object arrays are refused, not turned into NaN).
    Returns a table with columns ``segment``, ``count`` and one per metric (plus a first row
    ``"(all)"`` when ``overall``), always as a dict of NumPy arrays (column name → array),
    whatever is installed; ``as_frame=True`` returns the same table as a pandas DataFrame
    instead (``pandas.DataFrame(table)`` of the dict is the same). A metric that is undefined on
    a segment (e.g. AUROC with one class) gives NaN.
    """
    for flag, value in (("as_frame", as_frame), ("overall", overall)):
        if not isinstance(value, (bool, np.bool_)):
            raise InvalidArgumentError(f"{flag}: must be True or False, got {value!r}")
    fns = _metric_map(metrics)
    seg = _array(segments, "segments")
    if seg.ndim != 1:
        raise ShapeError(f"segments: expected a 1-D array, got shape {seg.shape}")
    yt, yp = _array(y_true, "y_true"), _array(y_prob, "y_prob")
    if yp.ndim == 0 or len(yp) == 0:
        raise ShapeError(f"y_prob: expected a non-empty array, got shape {yp.shape}")
    check_same_length(len(yp), y_true=yt, segments=seg)
    for name, arr in (("y_true", yt), ("y_prob", yp)):  # what every metric reads: real numbers
        if arr.dtype.kind not in "biuf":
            raise InvalidArgumentError(f"{name}: expected numbers, got an array of dtype {arr.dtype}")
    # No metric is defined on NaN or infinite inputs: refused here, not turned into a table of
    # NaN by the per-segment "undefined on this segment" rule below.
    for name, arr in (("y_true", yt), ("y_prob", yp)):
        if arr.dtype.kind in "fc" and not np.isfinite(arr).all():
            bad = np.flatnonzero(~np.isfinite(arr.reshape(len(arr), -1)).all(axis=1))[0]
            raise NonFiniteError(f"{name}: non-finite value at index {bad}")
    w = _weights(sample_weight, len(yp))
    min_count = check_positive_int(min_count, "min_count")
    names, inverse = np.unique(seg, return_inverse=True)
    groups: list[tuple[Any, np.ndarray]] = []
    if overall:
        groups.append(("(all)", np.arange(len(yp))))
    groups += [(name, np.flatnonzero(inverse == g)) for g, name in enumerate(names)]
    table: dict[str, list[Any]] = {"segment": [], "count": []}
    for k in fns:
        table[k] = []
    for name, idx in groups:
        table["segment"].append(name.item() if isinstance(name, np.generic) else name)
        table["count"].append(len(idx))
        for k, fn in fns.items():
            if len(idx) < min_count:
                table[k].append(np.nan)
                continue
            kw = dict(metric_kwargs)
            if w is not None:
                kw["sample_weight"] = w[idx]
            try:
                table[k].append(float(fn(yt[idx], yp[idx], **kw)))
            except ValueError:
                table[k].append(np.nan)
    out = {k: np.asarray(v) if k != "segment" else np.asarray(v, dtype=object) for k, v in table.items()}
    out["count"] = out["count"].astype(np.int64)
    if not as_frame:
        return out
    try:
        import pandas as pd
    except ImportError:
        raise ImportError("by_segment(as_frame=True) needs pandas: pip install pandas") from None
    return pd.DataFrame(out)
