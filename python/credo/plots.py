"""Reliability and risk–coverage plots as scikit-learn-style ``Display`` objects.

matplotlib is imported only when a plot is drawn, so ``import credo.plots`` stays light. Build
a display with ``from_predictions(...)`` (which also draws it) or compute one and call
``plot(ax=None)``; plotting several displays on the same ``ax`` overlays them (before/after
calibration)::

    d = ReliabilityDisplay.from_predictions(y, p_raw, name="raw")
    ReliabilityDisplay.from_predictions(y, p_cal, name="temperature", ax=d.ax_, show_counts=False)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from credo import metrics as _m
from credo._validate import as_float_array, check_real
from credo.exceptions import InvalidArgumentError, ShapeError

__all__ = ["ReliabilityDisplay", "RiskCoverageDisplay", "wilson_interval"]


def _axes(ax: Any) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots()
    return ax


class ReliabilityDisplay:
    """Reliability diagram: mean outcome against mean confidence per bin, with the gap to the
    diagonal and the per-bin counts.

    Attributes (after ``plot``): ``ax_``, ``figure_``, ``line_``, ``gap_bars_`` (or None),
    ``counts_ax_`` (or None). Data: ``prob_pred``, ``prob_true``, ``counts``, ``lower``, ``upper``,
    ``ece`` (credo's ECE with the same bins), ``name``.
    """

    def __init__(
        self,
        *,
        prob_true: np.ndarray,
        prob_pred: np.ndarray,
        counts: np.ndarray,
        lower: np.ndarray,
        upper: np.ndarray,
        ece: float,
        name: str | None = None,
    ) -> None:
        self.prob_true = prob_true
        self.prob_pred = prob_pred
        self.counts = counts
        self.lower = lower
        self.upper = upper
        self.ece = ece
        self.name = name

    @classmethod
    def from_predictions(
        cls,
        y_true: Any,
        y_prob: Any,
        *,
        kind: str = "top_label",
        n_bins: int | None = None,
        strategy: str = "uniform",
        convention: str = "credo",
        sample_weight: Any = None,
        name: str | None = None,
        ax: Any = None,
        **plot_kwargs: Any,
    ) -> ReliabilityDisplay:
        """Bins the predictions (as :func:`credo.metrics.reliability_table`) and plots them."""
        t = _m.reliability_table(
            y_true,
            y_prob,
            kind=kind,
            n_bins=n_bins,
            strategy=strategy,
            convention=convention,
            sample_weight=sample_weight,
        )
        e = _m.ece(
            y_true,
            y_prob,
            kind=kind,
            n_bins=n_bins,
            strategy=strategy,
            convention=convention,
            sample_weight=sample_weight,
        )
        keep = t["count"] > 0
        disp = cls(
            prob_true=t["accuracy"][keep],
            prob_pred=t["confidence"][keep],
            counts=t["count"][keep],
            lower=t["lower"][keep],
            upper=t["upper"][keep],
            ece=e,
            name=name,
        )
        return disp.plot(ax=ax, **plot_kwargs)

    def plot(
        self,
        ax: Any = None,
        *,
        name: str | None = None,
        ref_line: bool = True,
        show_gap: bool = True,
        show_counts: bool = True,
        counts_ax: Any = None,
        scale: str = "linear",
        intervals: bool = False,
        legend: bool = True,
        **line_kwargs: Any,
    ) -> ReliabilityDisplay:
        """Draws the diagram on ``ax`` (a new figure when None); returns ``self``.

        ``scale="logit"`` spreads the confident region (0.9, 0.99, 0.999 … are equally spaced),
        where over-confident models put most of their answers; confidences closer to 0 or 1
        than 1e-6 are drawn at that edge. ``intervals`` adds each bin's 95 % Wilson interval
        for its accuracy (how far the observed frequency may be from the truth by chance alone).
        The per-bin counts go to ``counts_ax`` when given (e.g. a panel below, sharing x),
        otherwise to a labelled strip inset at the bottom of ``ax``.
        """
        if scale not in ("linear", "logit"):
            raise InvalidArgumentError(f"scale: must be 'linear' or 'logit', got {scale!r}")
        ax = _axes(ax)
        name = self.name if name is None else name
        label = f"{name + ': ' if name else ''}ECE = {self.ece:.4f}"
        x = self._x(self.prob_pred, scale)
        if ref_line and not getattr(ax, "_credo_ref_line", False):
            grid = np.linspace(0, 1, 201) if scale == "linear" else _logit_grid()
            ax.plot(grid, grid, linestyle=":", color="0.5", label="perfectly calibrated")
            ax._credo_ref_line = True
        line_kwargs = {"marker": "o", "label": label} | line_kwargs
        (self.line_,) = ax.plot(x, self.prob_true, **line_kwargs)
        color = self.line_.get_color()
        self.gap_bars_ = None
        if show_gap:
            # The gap is drawn from the diagonal at each bin's mean confidence to its accuracy.
            self.gap_bars_ = ax.vlines(
                x, np.minimum(self.prob_true, x), np.maximum(self.prob_true, x), color=color, alpha=0.35, lw=5
            )
        self.errorbars_ = None
        if intervals:
            lo, hi = wilson_interval(self.prob_true, self.counts)
            self.errorbars_ = ax.errorbar(
                x,
                self.prob_true,
                yerr=np.maximum([self.prob_true - lo, hi - self.prob_true], 0.0),
                fmt="none",
                ecolor=color,
                capsize=3,
                lw=1,
            )
        self.counts_ax_ = None
        if show_counts:
            cax = counts_ax
            if cax is None:
                cax = ax.inset_axes([0.0, 0.0, 1.0, 0.18], sharex=ax)
                cax.patch.set_alpha(0.0)
                cax.tick_params(labelbottom=False, labelsize="x-small")
            lower, upper = self._x(self.lower, scale), self._x(self.upper, scale)
            cax.bar(lower, self.counts, width=upper - lower, align="edge", color=color, alpha=0.35, edgecolor=color)
            cax.set_ylabel("answers\nper bin", fontsize="small")
            self.counts_ax_ = cax
        if scale == "logit":
            ax.set_xscale("logit")
            ax.set_xlabel("stated confidence (logit scale)")
        else:
            ax.set_xlim(0, 1)
            ax.set_xlabel("stated confidence")
        ax.set_ylim(0, 1.02)
        ax.set_ylabel("observed accuracy in the bin")
        if legend:
            ax.legend(loc="best", fontsize="small")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @staticmethod
    def _x(values: np.ndarray, scale: str) -> np.ndarray:
        return np.asarray(values, dtype=float) if scale == "linear" else np.clip(values, LOGIT_EPS, 1 - LOGIT_EPS)


#: How close to 0 or 1 a logit-scale plot draws a value (closer ones sit on that edge).
LOGIT_EPS = 1e-6


def _logit_grid() -> np.ndarray:
    z = np.linspace(np.log(LOGIT_EPS / (1 - LOGIT_EPS)), np.log((1 - LOGIT_EPS) / LOGIT_EPS), 401)
    return 1 / (1 + np.exp(-z))


def wilson_interval(p: Any, n: Any, z: float = 1.959963984540054) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for binomial proportions ``p`` observed over ``n`` trials
    (95 % by default): ``(low, high)`` arrays. Unlike the normal approximation it stays inside
    [0, 1] and is not zero-width at p = 0 or 1, which matters for small bins."""
    p = as_float_array(p, "p", ndim=1)
    n = as_float_array(n, "n", ndim=1)
    if len(n) != len(p):
        raise ShapeError(f"n: has {len(n)} entries but p has {len(p)}")
    if p.min() < 0.0 or p.max() > 1.0:
        raise InvalidArgumentError(f"p: proportions must lie in [0, 1], got values in [{p.min()}, {p.max()}]")
    if n.min() <= 0.0:
        raise InvalidArgumentError(f"n: trial counts must be positive, got {n.min()}")
    z = check_real(z, "z")
    if not 0.0 < z < np.inf:
        raise InvalidArgumentError(f"z: must be a positive finite number, got {z!r}")
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


class RiskCoverageDisplay:
    """Risk–coverage curve: selective risk against coverage as the confidence threshold falls.

    Attributes (after ``plot``): ``ax_``, ``figure_``, ``line_``. Data: ``coverage``, ``risk``,
    ``thresholds``, ``aurc``, ``name``.
    """

    def __init__(
        self,
        *,
        coverage: np.ndarray,
        risk: np.ndarray,
        thresholds: np.ndarray,
        aurc: float,
        name: str | None = None,
    ) -> None:
        self.coverage = coverage
        self.risk = risk
        self.thresholds = thresholds
        self.aurc = aurc
        self.name = name

    @classmethod
    def from_predictions(
        cls,
        y_true: Any,
        y_score: Any,
        *,
        sample_weight: Any = None,
        name: str | None = None,
        ax: Any = None,
        **plot_kwargs: Any,
    ) -> RiskCoverageDisplay:
        """``y_true`` is correctness (0/1) and ``y_score`` the confidence; a 2-D ``y_score`` of
        class probabilities with class labels in ``y_true`` is reduced to its top label first."""
        if np.ndim(y_score) == 2:
            y_score, y_true = _m.top_label(y_true, y_score)
        rc = _m.risk_coverage_curve(y_true, y_score, sample_weight=sample_weight)
        disp = cls(
            coverage=rc.coverage,
            risk=rc.risk,
            thresholds=rc.thresholds,
            aurc=_m.aurc(y_true, y_score, sample_weight=sample_weight),
            name=name,
        )
        return disp.plot(ax=ax, **plot_kwargs)

    def plot(
        self, ax: Any = None, *, name: str | None = None, legend: bool = True, **line_kwargs: Any
    ) -> RiskCoverageDisplay:
        """Draws the curve on ``ax`` (a new figure when None); returns ``self``."""
        ax = _axes(ax)
        name = self.name if name is None else name
        label = f"{name + ': ' if name else ''}AURC = {self.aurc:.4f}"
        cov = np.r_[0.0, self.coverage]
        risk = np.r_[self.risk[0], self.risk]
        (self.line_,) = ax.plot(cov, risk, drawstyle="steps-pre", **({"label": label} | line_kwargs))
        ax.set(xlim=(0, 1), xlabel="coverage", ylabel="selective risk (error rate among accepted)")
        ax.set_ylim(bottom=0)
        if legend:
            ax.legend(loc="best", fontsize="small")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self
