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

# --- conformal ---

# --- agreement ---
from credo import agreement
from credo.agreement import AdaptiveStopping, agree, agree_batch, normalize_answer

# --- metrics ---

# --- decision layer ---

__all__ = [
    "AdaptiveStopping",
    "ArtifactError",
    "ConfigError",
    "CredoError",
    "EmptyInputError",
    "InvalidArgumentError",
    "NonFiniteError",
    "NotFittedError",
    "ShapeError",
    "__version__",
    "agree",
    "agree_batch",
    "agreement",
    "load",
    "normalize_answer",
]
