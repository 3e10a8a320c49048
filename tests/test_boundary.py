"""The contract at the Rust/Python boundary: options are parsed by the core (one table per
option) and every refusal from the native module is a ``credo.CredoError`` naming its argument."""

import numpy as np
import pytest

import credo
from credo import _credo

X = np.array([0.1, 0.4, 0.6, 0.9])
Y = np.array([0.0, 0.0, 1.0, 1.0])


@pytest.mark.parametrize(
    ("call", "arg"),
    [
        (lambda v: _credo.fit_histogram(X, Y, strategy=v), "strategy"),
        (lambda v: _credo.fit_isotonic(X, Y, increasing=v), "increasing"),
        (lambda v: _credo.fit_isotonic(X, Y, out_of_bounds=v), "out_of_bounds"),
        (lambda v: _credo.ece(X, Y, norm=v), "norm"),
        (lambda v: _credo.ece(X, Y, convention=v), "convention"),
        (lambda v: _credo.ranking_metric("aurc", X, Y, convention=v), "convention"),
        (lambda v: _credo.conformal_rank(10, 0.1, v), "mode"),
        (lambda v: _credo.risk_p_value(1, 10, 0.1, v), "kind"),
        (lambda v: _credo.rcps_upper_bound(X, 0.1, v), "bound"),
        (lambda v: _credo.selective_fit(X, Y > 0, 0.2, 0.1, v), "method"),
        (lambda v: _credo.selective_fit(X, Y > 0, 0.2, 0.1, "ltt", fwer=v), "fwer"),
        (lambda v: _credo.clm_set_scores(X.reshape(2, 2), v), "kind"),
        (lambda v: _credo.agree_stopping_default_threshold(v), "rule"),
        (lambda v: _credo.token_signals(np.zeros((2, 3)), "float64", None, 2, 3, invalid=v), "invalid"),
        (lambda v: _credo.topk_summary(np.zeros((2, 3)) - 1.0, policy=v), "policy"),
    ],
)
@pytest.mark.parametrize("bad", ["nonsense", 3, None])
def test_an_unknown_option_is_a_credo_error_naming_it_and_its_choices(call, arg, bad):
    with pytest.raises(credo.InvalidArgumentError, match=rf"^{arg}: must be one of '") as e:
        call(bad)
    assert repr(bad) in str(e.value)


def test_layout_and_dtype_refusals_are_credo_errors():
    with pytest.raises(credo.InvalidArgumentError, match=r"^X: array must be C-contiguous"):
        _credo.fit_platt(np.zeros((4, 2))[:, 0], Y)
    odd = np.zeros(8 * 4 + 1, np.uint8)[1:].view(np.float64)  # float64 data at an odd address
    with pytest.raises(credo.InvalidArgumentError, match=r"^X: array data must be aligned"):
        _credo.fit_platt(odd, Y)
    # The one writable argument (a histogram's counts, updated in place) is read by the same rule.
    for counts, what in [(odd, "array data must be aligned"), (np.zeros(8)[::2], "array must be C-contiguous")]:
        with pytest.raises(credo.InvalidArgumentError, match=rf"^counts: {what}"):
            _credo.hist_update(X, 0.0, 1.0, counts)
    with pytest.raises(credo.InvalidArgumentError, match=r"^logits: unsupported dtype"):
        _credo.token_signals(np.zeros((2, 3)), "int8", None, 2, 3)
    with pytest.raises(credo.InvalidArgumentError, match=r"^thresholds"):
        _credo.predict_sets(np.full((2, 2), 0.5), "lac", "true", 0.0, 0, 0)


def test_text_that_is_not_utf8_names_no_option():
    with pytest.raises(credo.InvalidArgumentError, match=r"^strategy: must be one of .*got '\\udc80'"):
        _credo.fit_histogram(X, Y, strategy="\udc80")
