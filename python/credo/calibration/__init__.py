"""Post-hoc calibration: fit a small map on a labelled holdout so that a stated 80 % is right
about 80 % of the time. Fitting and prediction run in Rust; every calibrator follows
scikit-learn's estimator conventions, saves to versioned JSON (``save`` / ``credo.load``), and
answers a single Python float in well under a microsecond (``cal(0.73)``).

* :class:`TemperatureScaling` — multiclass logits or probabilities (and binary scores).
* :class:`PlattScaling`, :class:`BetaCalibration`, :class:`IsotonicCalibrator`,
  :class:`HistogramBinning` — one score to one probability.
* :class:`MulticlassCalibrator` — one-score calibrators on ``[n, K]`` probabilities, top-label
  or one-vs-rest.
* :class:`SegmentedCalibrator` — one calibrator per workload segment with a pooled fallback.
* :class:`ScalarCalibrator` — the protocol of a fitted calibrator's one-score fast path
  (``scalar_predictor()``), which :class:`credo.ConfidenceModel` uses for a single request.
"""

from __future__ import annotations

from credo.calibration import _multiclass, _segmented
from credo.calibration._binary import BetaCalibration, HistogramBinning, IsotonicCalibrator, PlattScaling
from credo.calibration._common import ScalarCalibrator
from credo.calibration._multiclass import MulticlassCalibrator
from credo.calibration._segmented import SegmentedCalibrator
from credo.calibration._temperature import TemperatureScaling

_multiclass.BINARY_METHODS.update(
    {
        "isotonic": IsotonicCalibrator,
        "platt": PlattScaling,
        "beta": BetaCalibration,
        "histogram": HistogramBinning,
    }
)
_segmented.ALL_METHODS.update(
    {**_multiclass.BINARY_METHODS, "temperature": TemperatureScaling, "multiclass": MulticlassCalibrator}
)

__all__ = [
    "BetaCalibration",
    "HistogramBinning",
    "IsotonicCalibrator",
    "MulticlassCalibrator",
    "PlattScaling",
    "ScalarCalibrator",
    "SegmentedCalibrator",
    "TemperatureScaling",
]
