"""The split-conformal quantile (docs/definitions/conformal.md#split-conformal-quantile)."""

from __future__ import annotations

from typing import Any

from credo import _credo
from credo._validate import as_float_array, check_choice, check_open_unit, check_positive_int

IF_INFINITE = ("inf", "raise")


def conformal_rank(n: int, alpha: float, *, mode: str = "exact") -> int:
    """The rank ``k = ceil((n + 1) * (1 - alpha))`` of the conformal quantile (1-based).

    ``k == n + 1`` means the quantile is +inf. See :func:`conformal_quantile` for ``mode``.
    """
    n = check_positive_int(n, "n")
    alpha = check_open_unit(alpha, "alpha")
    return int(_credo.conformal_rank(n, alpha, mode))


def min_calibration_size(alpha: float, *, mode: str = "exact") -> int:
    """The smallest number of calibration scores for which the quantile at ``alpha`` is finite."""
    alpha = check_open_unit(alpha, "alpha")
    return int(_credo.min_calibration_size(alpha, mode))


def conformal_quantile(scores: Any, alpha: float, *, mode: str = "exact", if_infinite: str = "inf") -> float:
    """The split-conformal quantile: the k-th smallest score, ``k = ceil((n + 1)(1 - alpha))``.

    Parameters
    ----------
    scores : array-like of shape (n,)
        Nonconformity scores of the calibration set; ±inf are ordered values (−inf: nothing
        nonconforming), NaN is refused.
    alpha : float in (0, 1)
        Miscoverage level.
    mode : {'exact', 'compat'}
        ``'exact'`` reads ``alpha`` as the decimal it prints as (``0.95`` is 95/100) and computes
        k in integer arithmetic. ``'compat'`` evaluates ``ceil((n+1)*(1-alpha))`` in float64, as
        MAPIE 1.6 and TorchCP do; for a few (n, alpha) — e.g. n = 19, alpha = 0.95 — the float
        gives one order statistic more, so ``'exact'`` can be one statistic lower (never less
        valid for the alpha written).
    if_infinite : {'inf', 'raise'}
        When k > n (fewer than :func:`min_calibration_size` scores) the quantile is +inf and
        every candidate enters the set; ``'raise'`` raises :class:`credo.EmptyInputError`
        instead. Never clipped to the largest score.

    Returns
    -------
    float
    """
    alpha = check_open_unit(alpha, "alpha")
    check_choice(if_infinite, "if_infinite", IF_INFINITE)
    arr = as_float_array(scores, "scores", ndim=1, finite=False)  # checked in Rust
    return float(_credo.conformal_quantile(arr, alpha, mode, if_infinite == "raise"))
