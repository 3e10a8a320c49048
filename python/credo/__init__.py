"""credo: calibrated confidence and guaranteed decisions for language-model outputs.

``import credo`` needs only NumPy and loads almost nothing up front: each public name below is
imported from its module the first time it is used (PEP 562 module ``__getattr__``), so
``import credo`` stays fast and a program that only scores logits never imports the decision
layer, asyncio or the plotting code. Plotting, reports, the CLI and integrations import their
optional dependencies when first used.
"""

from __future__ import annotations

import importlib

from credo._credo import __version__
from credo.exceptions import (
    ArtifactError,
    ConfigError,
    CredoError,
    CredoWarning,
    DataWarning,
    EmptyInputError,
    InvalidArgumentError,
    NonFiniteError,
    NotFittedError,
    ShapeError,
    UndefinedMetricWarning,
)

# Public name -> the module it lives in (a name equal to its module's last part is the module).
_LAZY: dict[str, str] = {}


def _lazy(module: str, *names: str) -> None:
    for name in names or (module.rpartition(".")[2],):
        _LAZY[name] = module


_lazy("credo._artifact", "load")

# --- signals (issue: foundation) ---
_lazy("credo.formats")
_lazy("credo.signals", "sequence_signals", "token_signals", "topk_signals", "topk_summary", "topk_summary_batch")

# --- calibration ---
_lazy("credo.calibration")
_lazy(
    "credo.calibration",
    "BetaCalibration",
    "HistogramBinning",
    "IsotonicCalibrator",
    "MulticlassCalibrator",
    "PlattScaling",
    "SegmentedCalibrator",
    "TemperatureScaling",
)

# --- conformal ---
_lazy("credo.conformal")
_lazy("credo.conformal", "ClaimFilter", "ConformalPValues", "ConformalSets", "SelectiveThreshold", "conformal_quantile")

# --- agreement ---
_lazy("credo.agreement")
_lazy("credo.agreement", "AdaptiveStopping", "agree", "agree_batch", "normalize_answer")

# --- metrics ---
# plots and report import matplotlib only when a figure is drawn.
for _module in ("metrics", "monitor", "plots", "report"):
    _lazy(f"credo.{_module}")

# --- decision layer ---
for _module in ("evidence", "risk", "verify"):
    _lazy(f"credo.{_module}")
del _module
_lazy("credo.cascade", "Cascade")
_lazy("credo.confidence", "ConfidenceModel")
_lazy("credo.policy", "Action", "Decision", "Policy")


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'credo' has no attribute {name!r}")
    mod = importlib.import_module(module)
    value = mod if module.rpartition(".")[2] == name else getattr(mod, name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


# What the lazy names are, for type checkers and IDEs (a plain False: importing typing for its
# TYPE_CHECKING would cost `import credo` several milliseconds).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from credo import (
        agreement,
        calibration,
        conformal,
        evidence,
        formats,
        metrics,
        monitor,
        plots,
        report,
        risk,
        verify,
    )
    from credo._artifact import load
    from credo.agreement import AdaptiveStopping, agree, agree_batch, normalize_answer
    from credo.calibration import (
        BetaCalibration,
        HistogramBinning,
        IsotonicCalibrator,
        MulticlassCalibrator,
        PlattScaling,
        SegmentedCalibrator,
        TemperatureScaling,
    )
    from credo.cascade import Cascade
    from credo.confidence import ConfidenceModel
    from credo.conformal import ClaimFilter, ConformalPValues, ConformalSets, SelectiveThreshold, conformal_quantile
    from credo.policy import Action, Decision, Policy
    from credo.signals import sequence_signals, token_signals, topk_signals, topk_summary, topk_summary_batch

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
    "CredoWarning",
    "DataWarning",
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
    "UndefinedMetricWarning",
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
