"""credo.sequence_signals against plain NumPy/Python aggregation, with lengths, masks and the
LM-Polygraph / UQLM conventions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import credo


def python_reference(ent, mar, lp, ids, valid, drop_last=False, n=3):  # type: ignore[no-untyped-def]
    rows = []
    for b in range(ent.shape[0]):
        pos = [t for t in range(ent.shape[1]) if valid[b, t]]
        if drop_last and pos:
            pos = pos[:-1]
        e, m, l_, i = ent[b, pos], mar[b, pos], lp[b, pos], [int(x) for x in ids[b, pos]]
        grams = [tuple(i[j : j + n]) for j in range(len(i) - n + 1)]
        run, best = 0, 0
        for j, tok in enumerate(i):
            run = run + 1 if j and i[j - 1] == tok else 1
            best = max(best, run)
        nan = float("nan")
        rows.append(
            {
                "n_tokens": len(pos),
                "mean_entropy": e.mean() if pos else nan,
                "max_entropy": e.max() if pos else nan,
                "sum_logprob": l_.sum() if pos else nan,
                "mean_logprob": l_.mean() if pos else nan,
                "min_logprob": l_.min() if pos else nan,
                "perplexity": np.exp(-l_.mean()) if pos else nan,
                "mean_margin": m.mean() if pos else nan,
                "min_margin": m.min() if pos else nan,
                "repeated_ngram_fraction": 1 - len(set(grams)) / len(grams) if grams else 0.0,
                "longest_repeat_run": best,
            }
        )
    return {k: np.array([r[k] for r in rows]) for k in rows[0]}


def compare(got: credo.signals.SequenceSignals, want: dict) -> None:
    for k, w in want.items():
        np.testing.assert_allclose(getattr(got, k), w, rtol=1e-12, atol=1e-12, err_msg=k)


@pytest.fixture
def batch(rng: np.random.Generator):  # type: ignore[no-untyped-def]
    logits = rng.standard_normal((4, 12, 50)).astype(np.float32)
    ids = rng.integers(0, 4, (4, 12))  # small alphabet: repeats happen
    return logits, ids, credo.token_signals(logits, ids)


def test_lengths_mask_and_eos(batch) -> None:  # type: ignore[no-untyped-def]
    _, ids, tok = batch
    lengths = np.array([12, 5, 0, 1])
    valid = np.arange(12)[None, :] < lengths[:, None]
    args = (tok.entropy, tok.margin_prob, tok.chosen_logprob, ids)
    for drop in (False, True):
        got = credo.sequence_signals(tok, lengths=lengths, include_eos=not drop)
        compare(got, python_reference(*args, valid, drop_last=drop))
    mask = np.random.default_rng(1).random((4, 12)) < 0.6
    compare(credo.sequence_signals(tok, mask=mask, ngram=2), python_reference(*args, mask, n=2))
    compare(credo.sequence_signals(tok), python_reference(*args, np.ones((4, 12), bool)))


def test_from_logits_and_single_sequence(batch) -> None:  # type: ignore[no-untyped-def]
    logits, ids, tok = batch
    a = credo.sequence_signals(logits, ids, lengths=[3, 4, 5, 6])
    b = credo.sequence_signals(tok, lengths=[3, 4, 5, 6])
    for k, v in a.to_dict().items():
        np.testing.assert_array_equal(v, getattr(b, k))
    one = credo.sequence_signals(logits[0], ids[0])
    assert one.n_tokens.shape == (1,) and one.n_tokens[0] == 12
    np.testing.assert_allclose(one.mean_entropy[0], tok.entropy[0].mean(), rtol=1e-12)


def test_lm_polygraph_and_uqlm_conventions(batch) -> None:  # type: ignore[no-untyped-def]
    _, _, tok = batch
    s = credo.sequence_signals(tok, lengths=[12, 7, 3, 1])
    lp = s.lm_polygraph()
    for b, n in enumerate([12, 7, 3, 1]):
        lps = tok.chosen_logprob[b, :n]
        # docs/definitions/signals.md#sequence-estimators: MSP = -sum log p (EOS included);
        # Perplexity = -mean log p, no exp.
        np.testing.assert_allclose(lp["MaximumSequenceProbability"][b], -lps.sum(), rtol=1e-12)
        np.testing.assert_allclose(lp["Perplexity"][b], -lps.mean(), rtol=1e-12)
        np.testing.assert_allclose(lp["MeanTokenEntropy"][b], tok.entropy[b, :n].mean(), rtol=1e-12)
        uq = s.uqlm()
        np.testing.assert_allclose(uq["sequence_probability"][b], np.exp(lps.mean()), rtol=1e-12)
        np.testing.assert_allclose(uq["sequence_probability_unnormalized"][b], np.prod(np.exp(lps)), rtol=1e-9)
        np.testing.assert_allclose(uq["min_probability"][b], np.exp(lps).min(), rtol=1e-12)
    np.testing.assert_allclose(s.perplexity, np.exp(-s.mean_logprob))


def test_without_chosen_ids_logprob_signals_are_nan(rng: np.random.Generator) -> None:
    tok = credo.token_signals(rng.standard_normal((2, 5, 9)))
    s = credo.sequence_signals(tok)
    assert np.isnan(s.sum_logprob).all() and (s.longest_repeat_run == -1).all()
    assert np.isfinite(s.mean_entropy).all()


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"lengths": [1, 2]}, credo.ShapeError, "lengths: has shape"),
        ({"lengths": [1, 2, 3, 13]}, credo.InvalidArgumentError, "lengths: length 13 of sequence 3"),
        ({"lengths": [1, 2, 3, -1]}, credo.InvalidArgumentError, "lengths:"),
        ({"lengths": [1.5, 2, 3, 4]}, credo.InvalidArgumentError, "lengths: must be integers"),
        ({"mask": np.ones((4, 11), bool)}, credo.ShapeError, "mask: has shape"),
        ({"mask": np.ones((4, 12), bool), "lengths": [1, 1, 1, 1]}, credo.InvalidArgumentError, "lengths:"),
        ({"ngram": 0}, credo.InvalidArgumentError, "ngram:"),
        ({"chosen": [1]}, credo.InvalidArgumentError, "chosen: pass chosen ids"),
    ],
)
def test_bad_input(batch, kwargs, exc, match) -> None:  # type: ignore[no-untyped-def]
    _, _, tok = batch
    chosen = kwargs.pop("chosen", None)
    with pytest.raises(exc, match=match):
        credo.sequence_signals(tok, chosen, **kwargs)


@settings(max_examples=40, deadline=None)
@given(b=st.integers(1, 4), t=st.integers(1, 15), n=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_property_against_python(b: int, t: int, n: int, seed: int) -> None:
    r = np.random.default_rng(seed)
    logits = r.standard_normal((b, t, 7))
    ids = r.integers(0, 3, (b, t))
    tok = credo.token_signals(logits, ids)
    lengths = r.integers(0, t + 1, b)
    valid = np.arange(t)[None, :] < lengths[:, None]
    got = credo.sequence_signals(tok, lengths=lengths, ngram=n)
    compare(got, python_reference(tok.entropy, tok.margin_prob, tok.chosen_logprob, ids, valid, n=n))
    assert np.all((got.repeated_ngram_fraction >= 0) & (got.repeated_ngram_fraction < 1))
