"""credo.formats.OpenAIStream on real streams: the server-sent events OpenAI and vLLM write, split
at every kind of boundary, SSE lines, dict chunks and the openai SDK's chunk objects; the final
summary equals the non-streamed response's, bit for bit."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import credo
from credo import formats
from credo.signals import topk_summary
from tests import _formats_data as data


def same_summary(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return np.array_equal(np.asarray(a, dtype=float).view(np.uint64), np.asarray(b, dtype=float).view(np.uint64))


@pytest.fixture(scope="module")
def response() -> dict:  # type: ignore[type-arg]
    return data.chat_completion(np.random.default_rng(5), 40, 20, n_choices=2)


@pytest.mark.parametrize("policy", ["bounds", "raw", "renormalized"])
def test_final_summary_equals_the_non_streamed_one(response: dict, policy: str) -> None:  # type: ignore[type-arg]
    sse = data.sse(data.chunks(response))
    s = formats.OpenAIStream(policy=policy, vocab_size=128_000)
    rng = np.random.default_rng(0)
    cuts = np.sort(rng.choice(len(sse), 60, replace=False))
    n = sum(s.feed(part.tobytes()) for part in np.split(np.frombuffer(sse, np.uint8), cuts))
    assert n == 80 and s.done and s.choices == [0, 1]
    for c in (0, 1):
        r = formats.from_openai(data.body(response), choice=c)
        want = r.summary(policy=policy, vocab_size=128_000)
        assert same_summary(s.summary(c), want)
        got = s.logprobs(c)
        np.testing.assert_array_equal(got.top_logprobs.view(np.uint64), r.top_logprobs.view(np.uint64))
        np.testing.assert_array_equal(got.chosen_logprob, r.chosen_logprob)


def test_running_summary_at_every_position_equals_the_prefix(response: dict) -> None:  # type: ignore[type-arg]
    chunk_list = data.chunks(response)
    s = formats.OpenAIStream()
    full = formats.from_openai(data.body(response))
    seen = 0
    for c in chunk_list:
        seen += s.feed(c) if c["choices"] and c["choices"][0]["index"] == 0 else 0 * s.feed(c)
        if seen and c["choices"] and c["choices"][0]["index"] == 0:
            want = topk_summary(full.top_logprobs[:seen], full.chosen_logprob[:seen])
            assert same_summary(s.summary(), want)
    assert s.summary().n_tokens == 40


def test_lines_dicts_sdk_objects_and_bodies_agree(response: dict) -> None:  # type: ignore[type-arg]
    chunk_list = data.chunks(response)
    sse = data.sse(chunk_list)
    ways = []
    a = formats.OpenAIStream()
    for line in sse.decode().split("\n"):
        a.feed_line(line)
    ways.append(a)
    b = formats.OpenAIStream()
    b.feed(chunk_list)
    ways.append(b)
    c = formats.OpenAIStream()
    for part in (sse[i : i + 7] for i in range(0, len(sse), 7)):
        c.feed(bytearray(part))
    ways.append(c)
    d = formats.OpenAIStream()
    d.feed(sse.decode().replace("\n", "\r\n"))
    ways.append(d)
    chat = pytest.importorskip("openai.types.chat")
    e = formats.OpenAIStream()
    for ch in chunk_list:
        e.feed(chat.ChatCompletionChunk.model_validate(ch))
    ways.append(e)
    for w in ways[1:]:
        for choice in (0, 1):
            assert same_summary(w.summary(choice), ways[0].summary(choice))


def test_comments_events_and_vllm_streams() -> None:
    resp = data.chat_completion(np.random.default_rng(9), 12, 5, server="vllm")
    lines = [": keep-alive\n", "event: message\n", "id: 7\n", "retry: 1000\n"]
    sse = "".join(lines).encode() + data.sse(data.chunks(resp, usage_chunk=False))
    s = formats.OpenAIStream()
    assert s.feed(sse) == 12
    assert same_summary(s.summary(), formats.from_vllm(data.body(resp)).summary())


def test_bad_streams() -> None:
    s = formats.OpenAIStream()
    with pytest.raises(credo.EmptyInputError, match="choice: no position of choice 0"):
        s.summary()
    bad = b'data: {"choices":[{"index":0,"logprobs":{"content":[{"token":"a","logprob":0.7}]}}]}\n'
    with pytest.raises(
        credo.InvalidArgumentError, match=r"^chunks\[0\]\.choices\[0\]\.logprobs\.content\[0\]\.logprob: logprob 0.7"
    ):
        s.feed(bad)
    with pytest.raises(credo.InvalidArgumentError, match=r"chunks\[0\]\.choices\[0\]: the JSON ends early"):
        s.feed(b'data: {"choices":[\n')
    with pytest.raises(credo.InvalidArgumentError, match="expected an object"):
        s.feed([1])
    with pytest.raises(credo.InvalidArgumentError, match="longer than"):
        s.feed(b"x" * (16 * 2**20 + 1))
    with pytest.raises(credo.InvalidArgumentError, match="k:"):
        formats.OpenAIStream(k=0)
    with pytest.raises(credo.InvalidArgumentError):
        formats.OpenAIStream(policy="nope")
    # Nothing half-read stays behind: a good chunk after the errors is read as usual.
    good = b'data: {"choices":[{"index":0,"logprobs":{"content":[{"token":"a","logprob":-0.7}]}}]}\n'
    t = formats.OpenAIStream()
    assert t.feed(good) == 1 and t.summary().mean_logprob == -0.7


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), step=st.integers(1, 400), n=st.integers(1, 30), k=st.integers(0, 6))
def test_any_split_gives_the_batch_summary(seed: int, step: int, n: int, k: int) -> None:
    resp = data.chat_completion(np.random.default_rng(seed), n, k, chosen_only=k == 0)
    sse = data.sse(data.chunks(resp))
    s = formats.OpenAIStream()
    for i in range(0, len(sse), step):
        s.feed(sse[i : i + step])
    want = formats.from_openai(json.dumps(resp)).summary()
    assert same_summary(s.summary(), want)
