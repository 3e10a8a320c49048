"""credo.formats readers on hand-built OpenAI, vLLM and transformers outputs
(docs/definitions/signals.md#server-formats)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import credo
from credo import formats


def chat_response(entries):  # type: ignore[no-untyped-def]
    content = [
        {
            "token": tok,
            "logprob": lp,
            "bytes": None,
            "top_logprobs": [{"token": t, "logprob": v} for t, v in top],
        }
        for tok, lp, top in entries
    ]
    return {"object": "chat.completion", "choices": [{"index": 0, "logprobs": {"content": content}}]}


ENTRIES = [
    ("Paris", -0.01, [("Paris", -0.01), ("Lyon", -5.0), ("Nice", -6.0)]),
    (".", -0.3, [(".", -0.3), ("!", -1.5)]),  # fewer than k entries
    ("<eos>", -9999.0, [("x", -0.2), ("y", -9999.0), ("z", -3.0)]),  # sentinels
]


def test_openai_chat_sentinels_short_rows_and_missing_chosen() -> None:
    r = formats.from_openai(chat_response(ENTRIES))
    assert r.k == 3 and r.tokens == ["Paris", ".", "<eos>"]
    np.testing.assert_array_equal(r.top_logprobs[0], [-0.01, -5.0, -6.0])
    assert np.isnan(r.top_logprobs[1, 2]) and np.isnan(r.top_logprobs[2, 2])
    assert r.top_tokens[2][:2] == ["x", "z"]
    assert np.isnan(r.chosen_logprob[2])
    assert r.provenance.source == "openai" and r.provenance.mode == "top-k" and r.provenance.processed
    s = r.signals(policy="raw")
    np.testing.assert_array_equal(s.n_valid, [3, 2, 2])
    np.testing.assert_array_equal(s.chosen_rank, [0, 0, -1])
    np.testing.assert_allclose(s.entropy[1], -(np.exp(-0.3) * -0.3 + np.exp(-1.5) * -1.5))
    lp = formats.from_openai(chat_response(ENTRIES), missing_chosen=-100.0)  # LM-Polygraph's fill
    assert lp.chosen_logprob[2] == -100.0


def test_openai_sdk_objects_and_content_list() -> None:
    resp = chat_response(ENTRIES)

    class Model:
        def model_dump(self):  # type: ignore[no-untyped-def]
            return resp

    a = formats.from_openai(Model())
    b = formats.from_openai(resp["choices"][0]["logprobs"]["content"])
    ns = SimpleNamespace(
        choices=[
            SimpleNamespace(
                logprobs=SimpleNamespace(
                    content=[
                        SimpleNamespace(**{**e, "top_logprobs": [SimpleNamespace(**t) for t in e["top_logprobs"]]})
                        for e in resp["choices"][0]["logprobs"]["content"]
                    ]
                )
            )
        ]
    )
    c = formats.from_openai(ns)
    for x in (b, c):
        np.testing.assert_array_equal(np.nan_to_num(x.top_logprobs), np.nan_to_num(a.top_logprobs))


def test_openai_legacy_completions() -> None:
    resp = {
        "choices": [
            {
                "text": " yes",
                "logprobs": {
                    "tokens": [" yes", "."],
                    "token_logprobs": [-0.2, -9999.0],
                    "top_logprobs": [{" yes": -0.2, " no": -1.8}, {".": -0.05, "!": -3.2}],
                    "text_offset": [0, 4],
                },
            }
        ]
    }
    r = formats.from_openai(resp)
    assert r.provenance.source == "openai-legacy" and r.k == 2
    np.testing.assert_array_equal(r.top_logprobs, [[-0.2, -1.8], [-0.05, -3.2]])
    assert r.chosen_logprob[0] == -0.2 and np.isnan(r.chosen_logprob[1])


def test_openai_errors() -> None:
    with pytest.raises(credo.InvalidArgumentError, match="choice:"):
        formats.from_openai(chat_response(ENTRIES), choice=3)
    with pytest.raises(credo.InvalidArgumentError, match="no logprobs"):
        formats.from_openai({"choices": [{"logprobs": None}]})
    with pytest.raises(credo.InvalidArgumentError, match=r"response\.choices\[0\]\.logprobs: no logprobs\.content"):
        formats.from_openai({"choices": [{"logprobs": {"foo": 1}}]})
    with pytest.raises(credo.EmptyInputError, match="response:"):
        formats.from_openai({"choices": [{"logprobs": {"content": []}}]})
    with pytest.raises(credo.InvalidArgumentError, match=r"content\[0\]\.logprob: expected a number, got a string"):
        formats.from_openai(chat_response([("a", "x", [])]))


class Logprob:
    """Stand-in for vllm.sequence.Logprob."""

    def __init__(self, logprob: float, rank: int | None = None, decoded_token: str | None = None) -> None:
        self.logprob, self.rank, self.decoded_token = logprob, rank, decoded_token


def test_vllm_k_plus_one_and_ranks() -> None:
    positions = [
        {11: Logprob(-0.1, 1), 12: Logprob(-2.5, 2)},  # chosen 11 in the top-2
        {21: Logprob(-0.4, 1), 22: Logprob(-1.2, 2), 29: Logprob(-6.0, 9)},  # chosen 29 appended (k+1)
        {31: Logprob(-0.7, 1), 32: Logprob(-0.9, 2)},
    ]
    out = SimpleNamespace(outputs=[SimpleNamespace(token_ids=[11, 29, 33], logprobs=positions)])
    r = formats.from_vllm(out)
    assert r.k == 2 and r.tokens == [11, 29, 33] and r.provenance.source == "vllm"
    assert r.provenance.processed is False
    np.testing.assert_array_equal(r.chosen_logprob[:2], [-0.1, -6.0])
    assert np.isnan(r.chosen_logprob[2])  # chosen token absent
    s = r.signals(policy="raw")
    np.testing.assert_array_equal(s.n_valid, [2, 2, 2])  # the appended entry is not in the top-2
    np.testing.assert_array_equal(s.chosen_rank, [0, 2, -1])
    # Plain floats and an explicit k work too, and a plain list needs token ids.
    plain = [{t: v.logprob for t, v in p.items()} for p in positions]
    r2 = formats.from_vllm(plain, [11, 29, 33], k=2)
    np.testing.assert_array_equal(np.nan_to_num(r2.top_logprobs), np.nan_to_num(r.top_logprobs))
    with pytest.raises(credo.InvalidArgumentError, match="token_ids:"):
        formats.from_vllm(plain)
    with pytest.raises(credo.ShapeError, match="token_ids:"):
        formats.from_vllm(plain, [1, 2])


def test_hf_scores_to_token_signals(rng: np.random.Generator) -> None:
    b, t, v, prompt = 2, 4, 30, 3
    steps = [rng.standard_normal((b, v)).astype(np.float32) for _ in range(t)]
    steps[1][0, :10] = -np.inf  # a top-p filtered step
    gen = rng.integers(10, v, (b, t))
    seqs = np.concatenate([np.zeros((b, prompt), np.int64), gen], axis=1)
    d = formats.from_hf_scores(tuple(steps), seqs)
    assert d.logits.shape == (b, t, v) and d.provenance.processed and d.provenance.source == "hf_scores"
    np.testing.assert_array_equal(d.chosen, gen)
    s = d.signals()
    want = credo.token_signals(np.stack(steps, 1), gen)
    np.testing.assert_array_equal(s.chosen_logprob, want.chosen_logprob)
    assert s.provenance.source == "hf_scores"
    with pytest.raises(credo.ShapeError, match="sequences:"):
        formats.from_hf_scores(tuple(steps), seqs[:, :2])
    with pytest.raises(credo.EmptyInputError, match="scores:"):
        formats.from_hf_scores((), seqs)
    with pytest.raises(credo.ShapeError, match="scores:"):
        formats.from_hf_scores((steps[0], steps[1][:, :5]), seqs)
