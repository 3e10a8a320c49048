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

# --- agreement ---

# --- metrics ---

# --- decision layer ---

__all__ = [
    "ArtifactError",
    "BetaCalibration",
    "ConfigError",
    "CredoError",
    "EmptyInputError",
    "HistogramBinning",
    "InvalidArgumentError",
    "IsotonicCalibrator",
    "MulticlassCalibrator",
    "NonFiniteError",
    "NotFittedError",
    "PlattScaling",
    "SegmentedCalibrator",
    "ShapeError",
    "TemperatureScaling",
    "__version__",
    "calibration",
    "load",
]
