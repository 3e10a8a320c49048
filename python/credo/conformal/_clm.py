"""Conformal Language Modeling (Quach et al., ICLR 2024): set scores over sampled generations,
the stopping rule, and the fixed-sequence choice of a configuration
(docs/definitions/conformal.md#conformal-language-modeling)."""

from __future__ import annotations

from typing import Any

import numpy as np

from credo import _credo
from credo._validate import as_float_array, check_open_unit, check_positive_int, check_real
from credo.exceptions import NonFiniteError


def clm_set_scores(scores: Any, *, kind: str = "geometric") -> np.ndarray:
    """Set scores after each of G sampled generations, from per-generation scores (n, G).

    ``'geometric'``: −Σ ln(max(1 − p, 1e-8)) (cumulative); ``'first_k'``: the count;
    ``'max'``: the cumulative max; ``'sum'``: the cumulative sum.
    """
    arr = as_float_array(scores, "scores", ndim=2, finite=False)
    return _credo.clm_set_scores(arr, kind)


def clm_stop_index(set_scores: Any, lam: float) -> np.ndarray:
    """Per row, the number of generations whose cumulative-max set score is < ``lam``, clipped
    to [0, G − 1]: the index of the generation at which sampling stops."""
    arr = as_float_array(set_scores, "set_scores", ndim=2, finite=False)  # NaN refused in Rust
    if isinstance(lam, (float, np.floating)) and lam != lam:
        raise NonFiniteError("lam: must not be NaN")  # ±inf are ordered thresholds
    return _credo.clm_stop_index(arr, check_real(lam, "lam")).astype(np.int64)


def clm_p_values(loss: Any, n: int, epsilon: float) -> np.ndarray:
    """CLM's p-values BinomCDF(n·L̂; n, ε) (k floored as scipy) for mean losses ``loss``."""
    n = check_positive_int(n, "n")
    epsilon = check_open_unit(epsilon, "epsilon")
    arr = as_float_array(loss, "loss", ndim=1)
    return np.array([_credo.clm_p_value(float(v), n, epsilon) for v in arr])


def clm_select(loss: Any, n: int, epsilon: float, delta: float, *, cost: Any = None) -> int | None:
    """The configuration CLM certifies: among the (loss, cost) Pareto front sorted by increasing
    loss (every configuration, in the given order, when ``cost`` is None), the last one whose
    p-value is ≤ ``delta`` before the first that is not (fixed-sequence testing). Returns its
    index into ``loss``, or None when the first one already fails.
    """
    n = check_positive_int(n, "n")
    epsilon = check_open_unit(epsilon, "epsilon")
    delta = check_open_unit(delta, "delta")
    arr = as_float_array(loss, "loss", ndim=1, finite=False)
    if cost is None:
        order = np.arange(len(arr), dtype=np.uint64)
    else:
        c = as_float_array(cost, "cost", ndim=1, finite=False)
        order = _credo.clm_pareto_front(arr, c)
    return _credo.clm_select(arr, order, n, epsilon, delta)
