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

__all__ = ["ReliabilityDisplay", "RiskCoverageDisplay"]


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
        **line_kwargs: Any,
    ) -> ReliabilityDisplay:
        """Draws the diagram on ``ax`` (a new figure when None); returns ``self``."""
        ax = _axes(ax)
        name = self.name if name is None else name
        label = f"{name + ': ' if name else ''}ECE = {self.ece:.4f}"
        if ref_line and not getattr(ax, "_credo_ref_line", False):
            ax.plot([0, 1], [0, 1], linestyle=":", color="0.5", label="perfectly calibrated")
            ax._credo_ref_line = True
        line_kwargs = {"marker": "o", "label": label} | line_kwargs
        (self.line_,) = ax.plot(self.prob_pred, self.prob_true, **line_kwargs)
        self.gap_bars_ = None
        if show_gap:
            # The gap is drawn from the diagonal at each bin's mean confidence to its accuracy.
            width = np.maximum((self.upper - self.lower) * 0.8, 0.004)
            self.gap_bars_ = ax.bar(
                self.prob_pred,
                self.prob_true - self.prob_pred,
                bottom=self.prob_pred,
                width=width,
                color=self.line_.get_color(),
                alpha=0.2,
                edgecolor="none",
            )
        self.counts_ax_ = None
        if show_counts:
            cax = ax.inset_axes([0.0, 0.0, 1.0, 0.18], sharex=ax)
            cax.bar(
                (self.lower + self.upper) / 2,
                self.counts,
                width=np.maximum(self.upper - self.lower, 0.004),
                color=self.line_.get_color(),
                alpha=0.35,
            )
            cax.set_axis_off()
            self.counts_ax_ = cax
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence", ylabel="accuracy (observed frequency)")
        ax.legend(loc="upper left")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self


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

    def plot(self, ax: Any = None, *, name: str | None = None, **line_kwargs: Any) -> RiskCoverageDisplay:
        ax = _axes(ax)
        name = self.name if name is None else name
        label = f"{name + ': ' if name else ''}AURC = {self.aurc:.4f}"
        cov = np.r_[0.0, self.coverage]
        risk = np.r_[self.risk[0], self.risk]
        (self.line_,) = ax.plot(cov, risk, drawstyle="steps-pre", **({"label": label} | line_kwargs))
        ax.set(xlim=(0, 1), xlabel="coverage", ylabel="selective risk (error rate among accepted)")
        ax.set_ylim(bottom=0)
        ax.legend(loc="upper left")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self
