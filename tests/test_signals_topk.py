"""credo.topk_signals: the three policies against NumPy, entropy bounds that contain the true
full-vocabulary entropy, sentinels, short rows, k+1 rows and chosen tokens outside the top-k."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import credo


def entropy(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def test_policies_against_numpy(rng: np.random.Generator) -> None:
    v, k = 1000, 20
    logits = rng.standard_normal((8, v)) * 3
    lp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    top = -np.sort(-lp, axis=1)[:, :k]
    chosen = lp[:, 5]
    raw = credo.topk_signals(top, chosen, policy="raw")
    ren = credo.topk_signals(top, chosen, policy="renormalized")
    bnd = credo.topk_signals(top, chosen, vocab_size=v)
    p = np.exp(top)
    np.testing.assert_allclose(raw.entropy, -(p * top).sum(1), rtol=1e-12)
    q = p / p.sum(1, keepdims=True)
    h_ren = -(q * np.log(q)).sum(1)
    np.testing.assert_allclose(ren.entropy, h_ren, rtol=1e-12)
    np.testing.assert_allclose(ren.negentropy, 1 - h_ren / np.log(k), rtol=1e-12)  # UQLM
    np.testing.assert_allclose(ren.margin_prob, q[:, 0] - q[:, 1], rtol=1e-12)
    np.testing.assert_allclose(raw.margin_prob, p[:, 0] - p[:, 1], rtol=1e-12)
    np.testing.assert_allclose(bnd.tail_mass, 1 - p.sum(1), rtol=1e-10)
    full = np.array([entropy(np.exp(row)) for row in lp])
    assert np.all(bnd.entropy_lower <= full + 1e-12) and np.all(full <= bnd.entropy_upper + 1e-12)
    np.testing.assert_array_equal(bnd.entropy, bnd.entropy_lower)
    # The chosen token (index 5) is in the top-k of some rows and not of others.
    rank = (lp > lp[:, [5]]).sum(1)
    np.testing.assert_array_equal(raw.chosen_rank, np.minimum(rank, k))
    inside = rank < k
    np.testing.assert_allclose(raw.chosen_logprob, chosen)
    np.testing.assert_allclose(ren.chosen_logprob[inside], chosen[inside] - np.log(p.sum(1))[inside])
    assert np.isnan(ren.chosen_logprob[~inside]).all()
    assert bnd.provenance.mode == "top-k" and bnd.provenance.k == k and bnd.provenance.renormalization == "bounds"


def test_sentinel_short_rows_and_k_plus_one() -> None:
    top = np.array(
        [
            [-0.1, -3.0, -9999.0, np.nan],  # 2 valid of k = 3
            [-0.5, -1.5, -2.0, -4.0],  # vLLM k+1: the chosen (-4.0) appended
        ]
    )
    s = credo.topk_signals(top, [-9999.0, -4.0], k=3, policy="raw")
    np.testing.assert_array_equal(s.n_valid, [2, 3])
    assert np.isnan(s.negentropy[0]) and np.isfinite(s.negentropy[1])  # UQLM: NaN below k entries
    np.testing.assert_array_equal(s.chosen_rank, [-1, 3])  # missing; outside the top-3
    assert np.isnan(s.chosen_logprob[0]) and s.chosen_logprob[1] == -4.0
    np.testing.assert_allclose(s.entropy[1], -sum(np.exp(x) * x for x in (-0.5, -1.5, -2.0)))


def test_batched_shape_and_no_vocab_size(rng: np.random.Generator) -> None:
    top = np.log(rng.dirichlet(np.ones(30), (2, 3)))[..., :5]
    s = credo.topk_signals(-np.sort(-top, axis=-1))
    assert s.entropy.shape == (2, 3) and np.isnan(s.entropy_upper).all()


@pytest.mark.parametrize(
    ("args", "kwargs", "exc", "match"),
    [
        (([[0.5, -1.0]],), {}, credo.InvalidArgumentError, "top_logprobs: logprob 0.5"),
        (([[np.inf, -1.0]],), {}, credo.InvalidArgumentError, "top_logprobs:"),
        (([-1.0, -2.0],), {}, credo.ShapeError, "top_logprobs: expected a 2-D"),
        ((np.zeros((0, 3)),), {}, credo.EmptyInputError, "top_logprobs: is empty"),
        (([["a", "b"]],), {}, credo.InvalidArgumentError, "top_logprobs: cannot be read"),
        (([[-1.0]], [-1.0, -2.0]), {}, credo.ShapeError, "chosen_logprob: has shape"),
        (([[-1.0]], [0.7]), {}, credo.InvalidArgumentError, "chosen_logprob: logprob 0.7"),
        (([[-1.0]],), {"policy": "softmax"}, credo.InvalidArgumentError, "policy:"),
        (([[-1.0]],), {"k": 0}, credo.InvalidArgumentError, "k:"),
        (([[-1.0, -2.0]],), {"vocab_size": 1}, credo.InvalidArgumentError, "vocab_size:"),
    ],
)
def test_bad_input(args, kwargs, exc, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(exc, match=match):
        credo.topk_signals(*args, **kwargs)


@settings(max_examples=80, deadline=None)
@given(v=st.integers(2, 200), k=st.integers(1, 25), conc=st.floats(0.05, 5.0), seed=st.integers(0, 2**32 - 1))
def test_property_bounds_contain_true_entropy(v: int, k: int, conc: float, seed: int) -> None:
    k = min(k, v)
    p = np.random.default_rng(seed).dirichlet(np.full(v, conc))
    p = np.clip(p, 1e-300, None)
    p /= p.sum()
    top = np.log(np.sort(p)[::-1][:k])[None, :]
    s = credo.topk_signals(top, vocab_size=v)
    h = entropy(p)
    assert s.entropy_lower[0] <= h + 1e-9
    assert h <= s.entropy_upper[0] + 1e-9
    r = credo.topk_signals(top, policy="renormalized")
    assert 0 <= r.entropy[0] <= np.log(k) + 1e-9
