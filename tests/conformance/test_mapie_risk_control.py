"""Ported from MAPIE 1.6 ``mapie/tests/risk_control/test_risk_control.py``: the cases of the
Hoeffding–Bentkus p-values, the RCPS bounds and the argument checks, on
:func:`credo.conformal.risk_p_value` and :func:`credo.conformal.rcps_upper_bound`, with MAPIE's
inputs, manual reference formulas and tolerances. credo's p-value takes the error count and the
sample size (r̂ = errors / n); MAPIE's ``binary=True`` bound min(Hoeffding, P(Bin ≤ n r̂)) is
credo's ``kind="binomial"`` (the exact binomial tail, which is never above Hoeffding's term by
Chernoff's bound), ``binary=False`` is ``kind="hoeffding_bentkus"``.

Not ported: the FWER procedures on arbitrary p-value vectors (``test_fwer_control.py``), the
multi-risk and multi-parameter controllers and the risk objects of
``test_binary_classification_control.py``: credo applies LTT with fixed-sequence or Bonferroni
testing inside :class:`credo.SelectiveThreshold` only (checked against MAPIE's
``ltt_procedure`` in ``tests/test_conformal.py``)."""

from __future__ import annotations

import numpy as np
import pytest

import credo
from credo.conformal import rcps_upper_bound, risk_p_value

pytest.importorskip("mapie")
from scipy.stats import binom


@pytest.mark.parametrize(
    ("risk_hat", "binary"), [(r, b) for r in [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9] for b in [True, False]]
)
def test_computed_hb_p_value_matches_manual_calculation(risk_hat, binary):
    n = 10
    alpha = 0.1
    factor = 1 if binary else np.e

    def h1(a, b):
        return a * np.log(a / b) + (1 - a) * np.log((1 - a) / (1 - b))

    term1 = np.exp(-n * h1(min(risk_hat, alpha), alpha))
    term2 = factor * binom.cdf(np.ceil(n * risk_hat), n, alpha)
    manual_bound = min(term1, term2)
    errors = round(risk_hat * n)
    hb_bound = risk_p_value(errors, n, alpha, kind="binomial" if binary else "hoeffding_bentkus")
    assert np.isclose(manual_bound, hb_bound, atol=1e-12)


@pytest.mark.parametrize(("i", "j"), [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_hb_p_values_n_obs_int_vs_array(i, j):
    # MAPIE checks its vectorised form against one call per sample size; here credo's value for
    # each (r̂, n, alpha) of that test against MAPIE's, rtol as MAPIE's test
    from mapie.risk_control.methods import compute_hoeffding_bentkus_p_value

    r_hat = np.array([0.5, 0.8])
    n_obs = np.array([1100, 1200])
    alpha = np.array([0.6, 0.7])
    mapie = compute_hoeffding_bentkus_p_value(r_hat, n_obs, alpha)
    ours = risk_p_value(round(r_hat[i] * n_obs[i]), int(n_obs[i]), float(alpha[j]), kind="hoeffding_bentkus")
    np.testing.assert_allclose(ours, mapie[i, j], rtol=1e-12)


def test_bernstein_bound_uses_each_lambda_variance():
    # all losses 1: the Bernstein bound must stay finite (MAPIE's bug was a NaN)
    risks = np.array([[1.0], [1.0], [1.0], [1.0], [1.0]])
    r_hat_plus = rcps_upper_bound(risks, 0.1, bound="bernstein")
    assert not np.isnan(r_hat_plus).any()


@pytest.mark.parametrize("wrong_alpha", [0, 1, -0.5, 1.5])
def test_invalid_alpha_hb(wrong_alpha):
    with pytest.raises(credo.CredoError, match="alpha"):
        risk_p_value(5, 10, wrong_alpha, kind="hoeffding_bentkus")


def test_ltt_procedure_n_obs_negative():
    # MAPIE returns no valid parameter when the risk's sample size is -1 (an undefined risk);
    # credo refuses a negative sample size with an error naming the argument
    with pytest.raises(credo.CredoError, match="n: must be an integer >= 0"):
        risk_p_value(0, -1, 0.6, kind="binomial")
