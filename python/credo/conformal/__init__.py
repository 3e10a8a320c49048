"""Conformal prediction and selective answering with finite-sample guarantees.

- :func:`conformal_quantile` — the split-conformal order statistic, exact or MAPIE-compatible.
- :func:`conformal_p_values` and :class:`ConformalPValues` — plain and smoothed p-values.
- :class:`ConformalSets` — LAC / APS / RAPS prediction sets, optionally Mondrian.
- :class:`SelectiveThreshold` — answer only above a threshold that keeps P(error | answered) below
  a target with probability 1 − δ (Learn-then-Test, SGR) or the joint risk in expectation (CRC).
- :class:`ClaimFilter` — conformal factuality for answers split into claims.
- :func:`clm_set_scores`, :func:`clm_stop_index`, :func:`clm_select` — Conformal Language Modeling.
- :func:`rcps_upper_bound` — Hoeffding / Bernstein / WSR bounds for risk-controlling sets.

Definitions and check values: docs/definitions/conformal.md. Every number is computed in ``credo-core``.
"""

from __future__ import annotations

from credo.conformal._claims import ClaimFilter
from credo.conformal._clm import clm_p_values, clm_select, clm_set_scores, clm_stop_index
from credo.conformal._pvalues import ConformalPValues, conformal_p_values
from credo.conformal._quantile import conformal_quantile, conformal_rank, min_calibration_size
from credo.conformal._selective import (
    NoThresholdWarning,
    SelectiveThreshold,
    rcps_upper_bound,
    risk_p_value,
    sgr_bound,
)
from credo.conformal._sets import ConformalSets, coverage, set_sizes

__all__ = [
    "ClaimFilter",
    "ConformalPValues",
    "ConformalSets",
    "NoThresholdWarning",
    "SelectiveThreshold",
    "clm_p_values",
    "clm_select",
    "clm_set_scores",
    "clm_stop_index",
    "conformal_p_values",
    "conformal_quantile",
    "conformal_rank",
    "coverage",
    "min_calibration_size",
    "rcps_upper_bound",
    "risk_p_value",
    "set_sizes",
    "sgr_bound",
]
