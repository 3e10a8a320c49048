"""credo: calibrated confidence and guaranteed decisions for language-model outputs.

``import credo`` needs only NumPy; plotting, reports, the CLI and integrations import their
optional dependencies when first used.
"""

from __future__ import annotations

from credo._artifact import load
from credo._credo import __version__
from credo.exceptions import (
    ArtifactError,
    ConfigError,
    CredoError,
    EmptyInputError,
    InvalidArgumentError,
    NonFiniteError,
    NotFittedError,
    ShapeError,
)

# --- signals (issue: foundation) ---
# isort: split
from credo import formats
from credo.signals import sequence_signals, token_signals, topk_signals, topk_summary, topk_summary_batch

# --- calibration ---
from credo import calibration
from credo.calibration import (
    BetaCalibration,
    HistogramBinning,
    IsotonicCalibrator,
    MulticlassCalibrator,
    PlattScaling,
    SegmentedCalibrator,
    TemperatureScaling,
)

# --- conformal ---
from credo import conformal
from credo.conformal import (
    ClaimFilter,
    ConformalPValues,
    ConformalSets,
    SelectiveThreshold,
    conformal_quantile,
)

# --- agreement ---
from credo import agreement
from credo.agreement import AdaptiveStopping, agree, agree_batch, normalize_answer

# --- metrics ---
# plots and report import matplotlib only when a figure is drawn.
from credo import metrics, monitor, plots, report

# --- decision layer ---
from credo import evidence, risk, verify
from credo.cascade import Cascade
from credo.confidence import ConfidenceModel
from credo.policy import Action, Decision, Policy

__all__ = [
    "Action",
    "AdaptiveStopping",
    "ArtifactError",
    "BetaCalibration",
    "Cascade",
    "ClaimFilter",
    "ConfidenceModel",
    "ConfigError",
    "ConformalPValues",
    "ConformalSets",
    "CredoError",
    "Decision",
    "EmptyInputError",
    "HistogramBinning",
    "InvalidArgumentError",
    "IsotonicCalibrator",
    "MulticlassCalibrator",
    "NonFiniteError",
    "NotFittedError",
    "PlattScaling",
    "Policy",
    "SegmentedCalibrator",
    "SelectiveThreshold",
    "ShapeError",
    "TemperatureScaling",
    "__version__",
    "agree",
    "agree_batch",
    "agreement",
    "calibration",
    "conformal",
    "conformal_quantile",
    "evidence",
    "formats",
    "load",
    "metrics",
    "monitor",
    "normalize_answer",
    "plots",
    "report",
    "risk",
    "sequence_signals",
    "token_signals",
    "topk_signals",
    "topk_summary",
    "topk_summary_batch",
    "verify",
]
