"""credo.signals.topk_summary — the single-request top-k path — against credo.topk_signals
aggregated with float64 numpy, on random responses with sentinels, NaN and shuffled rows, every
policy, float32 input, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import credo
from credo.exceptions import EmptyInputError, InvalidArgumentError, ShapeError
from credo.signals import TopkSummary, topk_summary

from .conftest import data_path


def response(rng, t, k, *, holes=True, shuffle=True):
    logits = rng.normal(size=(t, 3 * k)) * rng.uniform(0.3, 3.0)
    lp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    top = -np.sort(-lp, axis=1)[:, :k]
    chosen = np.where(rng.uniform(size=t) < 0.8, top[:, 0], lp[:, -1])  # top-1 or outside top-k
    if shuffle:
        for r in np.flatnonzero(rng.uniform(size=t) < 0.3):
            rng.shuffle(top[r])
    if holes:
        top[rng.uniform(size=top.shape) < 0.05] = -9999.0
        top[rng.uniform(size=top.shape) < 0.02] = np.nan
        chosen[rng.uniform(size=t) < 0.05] = np.nan
    return np.ascontiguousarray(top), np.ascontiguousarray(chosen)


def reference(top, chosen, **kw):
    s = credo.topk_signals(top, chosen, **kw)
    lp = s.chosen_logprob if chosen is not None else np.full(top.shape[0], np.nan)
    rank = s.chosen_rank if chosen is not None else np.full(top.shape[0], -1)
    nanmean = lambda a: np.nan if np.isnan(a).all() else float(np.nanmean(a))  # noqa: E731
    nanmax = lambda a: np.nan if np.isnan(a).all() else float(np.nanmax(a))  # noqa: E731
    nanmin = lambda a: np.nan if np.isnan(a).all() else float(np.nanmin(a))  # noqa: E731
    with np.errstate(all="ignore"):
        return TopkSummary(
            n_tokens=top.shape[0],
            mean_entropy=nanmean(s.entropy),
            max_entropy=nanmax(s.entropy),
            mean_entropy_upper=nanmean(s.entropy_upper),
            mean_tail_mass=nanmean(s.tail_mass),
            max_tail_mass=nanmax(s.tail_mass),
            mean_margin=nanmean(s.margin_prob),
            min_margin=nanmin(s.margin_prob),
            mean_max_logprob=nanmean(s.max_logprob),
            sum_logprob=float(np.nansum(lp)) if not np.isnan(lp).all() else np.nan,
            mean_logprob=nanmean(lp),
            min_logprob=nanmin(lp),
            not_top1=float(np.mean(rank[rank >= 0] >= 1)) if (rank >= 0).any() else np.nan,
        )


def assert_close(got, want):
    assert got.n_tokens == want.n_tokens
    for name in TopkSummary._fields[1:]:
        g, w = getattr(got, name), getattr(want, name)
        assert (np.isnan(g) and np.isnan(w)) or g == pytest.approx(w, rel=1e-12, abs=1e-13), name


@pytest.mark.parametrize("name", ["Mistral-7B-v0.1_mmlu_10k_base_icl1", "Llama-2-13b-hf_hellaswag_10k_base_icl1"])
def test_real_model_option_logprobs(name):
    # A real model's log-probabilities over the six answer options of 10,000 questions (the data
    # has no labels), as one long response of top-5 records — the options sorted, as servers
    # return them; about 25 blocks of rows in the kernel — the chosen token one option per
    # question, sometimes outside the top 5.
    z = np.load(data_path("llm-option-logits", f"{name}.npz"))
    logits = z["logits"].astype(np.float64)
    m = logits.max(1, keepdims=True)
    lp = logits - m - np.log(np.exp(logits - m).sum(1, keepdims=True))
    top = np.ascontiguousarray(-np.sort(-lp, axis=1)[:, :5])
    chosen = np.ascontiguousarray(lp[np.arange(len(lp)), z["ids"] % 6])
    for policy in ("raw", "renormalized", "bounds"):
        kw = {"policy": policy, "vocab_size": 6}
        assert_close(topk_summary(top, chosen, **kw), reference(top, chosen, **kw))
    s = topk_summary(top, chosen, vocab_size=6)
    # Five of six options returned: the tail is the sixth option's probability.
    assert s.mean_tail_mass == pytest.approx(np.exp(-np.sort(-lp, axis=1)[:, 5]).mean(), rel=1e-9)
    assert s.not_top1 == pytest.approx(np.mean((lp > chosen[:, None]).any(axis=1)), abs=1e-12)
    assert s.mean_logprob == pytest.approx(chosen.mean(), rel=1e-12)
    # With one option missing, both entropy bounds close on the true entropy over the six: the
    # missing probability is at most the smallest returned one, so the lower bound spreads it as
    # a single remainder, and the upper bound has one slot left for it.
    exact = float(-(np.exp(lp) * lp).sum(axis=1).mean())
    assert s.mean_entropy == pytest.approx(exact, rel=1e-9)
    assert s.mean_entropy_upper == pytest.approx(exact, rel=1e-9)
    assert 0 < exact < np.log(6)


@pytest.mark.parametrize("policy", ["raw", "renormalized", "bounds"])
@pytest.mark.parametrize("k", [1, 5, 20])
def test_matches_topk_signals_aggregated(rng, policy, k):
    for case in range(6):
        top, chosen = response(rng, 256, k, holes=case % 2 == 0, shuffle=case % 3 != 0)
        kw = {"policy": policy, "vocab_size": 32000 if case % 2 else None}
        assert_close(topk_summary(top, chosen, **kw), reference(top, chosen, **kw))
        assert_close(topk_summary(top, None, **kw), reference(top, None, **kw))


def test_declared_k_float32_and_lists(rng):
    top, chosen = response(rng, 64, 6)
    assert_close(topk_summary(top, chosen, k=4), reference(top, chosen, k=4))
    t32 = top.astype(np.float32)
    assert_close(topk_summary(t32, chosen), reference(t32.astype(np.float64), chosen))
    # Non-contiguous, integer-free nested lists and Fortran order all go through conversion.
    assert_close(topk_summary(top.tolist(), chosen.tolist()), reference(top, chosen))
    assert_close(topk_summary(np.asfortranarray(top), chosen[::1]), reference(top, chosen))
    assert_close(topk_summary(top[:, ::-1], chosen), reference(top[:, ::-1].copy(), chosen))


def test_clean_sorted_rows_known_values():
    p = np.array([[0.6, 0.3, 0.1], [0.5, 0.25, 0.05]])
    top = np.log(p)
    s = topk_summary(top, top[:, 1], policy="raw")
    h = -(p * np.log(p)).sum(axis=1)
    assert s.n_tokens == 2
    assert s.mean_entropy == pytest.approx(h.mean(), rel=1e-14)
    assert s.max_entropy == pytest.approx(h.max(), rel=1e-14)
    assert s.mean_tail_mass == pytest.approx(0.1, rel=1e-12)  # (0 + 0.2) / 2
    assert s.mean_margin == pytest.approx(0.275, rel=1e-13)
    assert s.mean_logprob == pytest.approx(np.log([0.3, 0.25]).mean(), rel=1e-14)
    assert s.not_top1 == 1.0


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 40),
    st.integers(1, 8),
    st.sampled_from(["raw", "renormalized", "bounds"]),
    st.integers(0, 2**31),
)
def test_property_agrees_with_per_position_signals(t, k, policy, seed):
    top, chosen = response(np.random.default_rng(seed), t, k)
    assert_close(topk_summary(top, chosen, policy=policy), reference(top, chosen, policy=policy))


def test_bad_input():
    top = np.log([[0.6, 0.3], [0.5, 0.2]])
    with pytest.raises(ShapeError, match=r"^top_logprobs"):
        topk_summary(top[None])
    with pytest.raises(EmptyInputError, match=r"^top_logprobs"):
        topk_summary(np.zeros((0, 5)))
    with pytest.raises(InvalidArgumentError, match=r"^top_logprobs"):
        topk_summary([["a", "b"]])
    with pytest.raises(InvalidArgumentError, match=r"^top_logprobs: logprob 0.5"):
        topk_summary(np.array([[0.5, -1.0]]))
    with pytest.raises(ShapeError, match=r"^chosen_logprob"):
        topk_summary(top, np.array([-0.1]))
    with pytest.raises(InvalidArgumentError, match=r"^chosen_logprob: logprob 0.2"):
        topk_summary(top, np.array([-0.1, 0.2]))
    with pytest.raises(InvalidArgumentError, match=r"^chosen_logprob"):
        topk_summary(top, ["x", "y"])
    with pytest.raises(InvalidArgumentError, match=r"^policy"):
        topk_summary(top, policy="softmax")
    with pytest.raises(InvalidArgumentError, match=r"^k"):
        topk_summary(top, k=0)
    with pytest.raises(InvalidArgumentError, match=r"^vocab_size"):
        topk_summary(top, vocab_size=1)
    with pytest.raises(InvalidArgumentError, match=r"^sentinel"):
        topk_summary(top, sentinel="low")


# ------------------------------------------------------------------------------- batch
@pytest.mark.parametrize("policy", ["raw", "renormalized", "bounds"])
def test_batch_rows_equal_each_response_alone(rng, policy):
    # responses of different lengths and widths, float64 and float32, with holes and shuffles
    resp = [response(rng, int(rng.integers(1, 300)), int(rng.integers(1, 21))) for _ in range(60)]
    tops = [t.astype(np.float32) if i % 3 == 0 else t for i, (t, _) in enumerate(resp)]
    chosen = [c for _, c in resp]
    for threads in (1, 2):
        batch = credo.topk_summary_batch(tops, chosen, policy=policy, vocab_size=50_000, threads=threads)
        assert list(batch) == list(TopkSummary._fields)
        assert batch["n_tokens"].dtype == np.int64
        for i, (t, c) in enumerate(zip(tops, chosen, strict=True)):
            alone = topk_summary(t, c, policy=policy, vocab_size=50_000)
            row = TopkSummary(*(batch[f][i] for f in TopkSummary._fields))
            # the same kernel on the same input: equal, not merely close
            np.testing.assert_array_equal(np.array(row, dtype=float), np.array(alone, dtype=float))
            if i < 5:
                assert_close(alone, reference(t.astype(np.float64), c, policy=policy, vocab_size=50_000))


def test_batch_feeds_a_confidence_model(rng):
    # the throughput path: batch summaries → predict_proba agree with the single-request path
    resp = [response(rng, 64, 10, holes=False) for _ in range(200)]
    batch = credo.topk_summary_batch([t for t, _ in resp], [c for _, c in resp])
    feats = ["mean_entropy", "mean_logprob", "min_margin", "not_top1"]
    y = (batch["mean_logprob"] > np.median(batch["mean_logprob"])).astype(float)
    flip = rng.uniform(size=len(y)) < 0.2  # noisy labels
    y[flip] = 1.0 - y[flip]
    model = credo.ConfidenceModel(features=feats).fit({f: batch[f] for f in feats}, y)
    p = model.predict_proba(batch)
    one = [model.predict_one(topk_summary(t, c)) for t, c in resp]
    np.testing.assert_allclose(p, one, rtol=1e-12, atol=1e-15)


def test_batch_without_chosen_and_bad_input(rng):
    resp = [response(rng, 20, 5) for _ in range(3)]
    b = credo.topk_summary_batch([t for t, _ in resp])
    assert np.isnan(b["mean_logprob"]).all() and np.isnan(b["not_top1"]).all()
    assert (b["n_tokens"] == 20).all()
    empty = credo.topk_summary_batch([])
    assert all(len(v) == 0 for v in empty.values())
    tops = [t for t, _ in resp]
    with pytest.raises(InvalidArgumentError, match=r"^top_logprobs: expected a sequence"):
        credo.topk_summary_batch(tops[0])
    with pytest.raises(ShapeError, match=r"^chosen_logprob: has 2 responses"):
        credo.topk_summary_batch(tops, [c for _, c in resp][:2])
    with pytest.raises(ShapeError, match=r"^chosen_logprob\[1\]: has shape"):
        credo.topk_summary_batch(tops, [resp[0][1], resp[1][1][:5], resp[2][1]])
    bad = [*tops[:2], np.array([[-0.1, 0.5]])]
    with pytest.raises(InvalidArgumentError, match=r"^top_logprobs\[2\]: logprob 0.5"):
        credo.topk_summary_batch(bad)
    with pytest.raises(EmptyInputError, match=r"^top_logprobs\[1\]: is empty"):
        credo.topk_summary_batch([tops[0], np.zeros((0, 3))])
    with pytest.raises(InvalidArgumentError, match=r"^top_logprobs\[0\]: cannot be read"):
        credo.topk_summary_batch([["a", "b"]])
    with pytest.raises(InvalidArgumentError, match=r"^threads"):
        credo.topk_summary_batch(tops, threads=0)


def test_misaligned_and_strided_arrays_are_converted(rng):
    top, chosen = response(rng, 30, 6, holes=False)
    raw = bytearray(top.nbytes + 1)
    odd = np.frombuffer(raw, dtype=np.float64, offset=1, count=top.size).reshape(top.shape)
    odd[...] = top
    assert not odd.flags.aligned
    strided = np.asfortranarray(top)
    want = np.array(topk_summary(top, chosen), dtype=float)
    for t in (odd, strided):
        np.testing.assert_array_equal(np.array(topk_summary(t, chosen), dtype=float), want)
        batch = credo.topk_summary_batch([t, top], [chosen, chosen])
        np.testing.assert_array_equal([batch[f][0] for f in TopkSummary._fields], want)
    # the native module itself refuses what it cannot read as row-major, aligned memory
    from credo import _credo

    with pytest.raises(ValueError, match="C-contiguous"):
        _credo.topk_summary(strided, chosen)
    with pytest.raises(ValueError, match="aligned"):
        _credo.topk_summary(odd, chosen)
