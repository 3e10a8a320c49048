"""The native readers (credo-core's formats module) on real bytes: bodies in the exact layouts
OpenAI, vLLM and Gemini return, the same responses as dicts and as the openai SDK's objects,
differential tests against the pure-Python reader credo shipped before (tests/_formats_ref.py),
and a bad-input test for every malformed case."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import credo
from credo import formats
from tests import _formats_data as data
from tests._formats_ref import from_openai as reference


def bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float64).view(np.uint64)


def assert_same(r: formats.TopkLogprobs, ref: tuple[Any, ...], *, tokens: bool = True) -> None:
    """Bit-identical arrays (NaN payloads included) and equal tokens."""
    top, chosen, toks, top_toks, k, _ = ref
    assert r.top_logprobs.shape == top.shape
    np.testing.assert_array_equal(bits(r.top_logprobs), bits(top))
    np.testing.assert_array_equal(bits(r.chosen_logprob), bits(chosen))
    if tokens:
        assert r.tokens == toks
        assert r.top_tokens == top_toks
    assert r.k == k or (r.k == 0 and k == 1)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.mark.parametrize("server", ["openai", "vllm"])
@pytest.mark.parametrize("compact", [False, True])
@pytest.mark.parametrize("ascii_only", [True, False])
def test_body_dict_and_reference_agree_bit_for_bit(
    rng: np.random.Generator, server: str, compact: bool, ascii_only: bool
) -> None:
    resp = data.chat_completion(rng, 64, 20, server=server)
    b = data.body(resp, compact=compact, ensure_ascii=ascii_only)
    ref = reference(json.loads(b))
    read = formats.from_vllm if server == "vllm" else formats.from_openai
    for x in (b, b.decode(), bytearray(b), memoryview(b), json.loads(b)):
        r = read(x)
        assert_same(r, ref)
        assert r.provenance.source == server and r.provenance.mode == "top-k"
    assert read(b).provenance.processed is (server == "openai")


def test_openai_sdk_objects_are_read_natively(rng: np.random.Generator) -> None:
    openai_types = pytest.importorskip("openai.types.chat")
    resp = data.chat_completion(rng, 48, 10, n_choices=2)
    obj = openai_types.ChatCompletion.model_validate(resp)
    for c in (0, 1):
        ref = reference(resp, choice=c)
        assert_same(formats.from_openai(obj, choice=c), ref)
        assert_same(formats.from_openai(obj.choices[c].logprobs), ref)
        assert_same(formats.from_openai(obj.choices[c].logprobs.content), ref)
    chunk_objs = [openai_types.ChatCompletionChunk.model_validate(c) for c in data.chunks(resp)]
    for c in (0, 1):
        assert_same(formats.from_openai(chunk_objs, choice=c), reference(resp, choice=c))


def test_objects_of_every_entry_shape_read_as_their_dicts() -> None:
    """Plain entries are read in one pass (two lookups each, an object's instance dict read
    directly once its type is known); an entry that is not plain — an integer or null logprob,
    a null token, a missing member, an object with an empty ``__dict__`` that dumps its fields,
    a dict among objects — sends the row to the general walk, which reads the same values."""
    from types import SimpleNamespace

    class Dumps:  # fields only through model_dump(), as a wrapper keeps them
        def __init__(self, d: dict[str, Any]):
            object.__setattr__(self, "_d", d)

        @property
        def __dict__(self) -> dict[str, Any]:  # type: ignore[override]
            return {}

        def model_dump(self) -> dict[str, Any]:
            return self._d

    rows = [
        [{"token": "a", "logprob": -0.1}, {"token": "b", "logprob": -1.5, "bytes": [98]}],
        [{"token": "a", "logprob": -1}, {"token": "b", "logprob": -2.0}],
        [{"token": None, "logprob": -0.5}, {"token": "c", "logprob": None}],
        [{"token": "x", "logprob": -0.25}, {"logprob": -3.0}],
        [{"token": "y", "logprob": -9999.0}, {"token": "z", "logprob": -0.0}],
        [{"token": "u", "logprob": -0.3}, {"token": "v", "logprob": -4.0}],
    ]
    content = [{"token": "t", "logprob": -0.2, "top_logprobs": r} for r in rows]
    resp = {"choices": [{"index": 0, "logprobs": {"content": content}}]}
    ref = reference(resp)
    ns = SimpleNamespace
    for wrap in (ns, Dumps):
        objs = [
            ns(token="t", logprob=-0.2, top_logprobs=[wrap(**e) if wrap is ns else wrap(e) for e in r]) for r in rows
        ]
        objs[5].top_logprobs[1] = rows[5][1]  # a dict among objects
        for _ in range(2):  # the second time with the object type already known
            got = formats.from_openai(ns(choices=[ns(index=0, logprobs=ns(content=objs))]))
            assert_same(got, ref)


def test_several_choices_and_the_choice_argument(rng: np.random.Generator) -> None:
    resp = data.chat_completion(rng, 16, 5, n_choices=3)
    b = data.body(resp)
    for c in range(3):
        assert_same(formats.from_openai(b, choice=c), reference(resp, choice=c))
    with pytest.raises(credo.InvalidArgumentError, match="choice: 3 is not among the response's 3 choices"):
        formats.from_openai(b, choice=3)
    for bad in (-1, 1.5, True, "0", None):
        with pytest.raises(credo.InvalidArgumentError, match="choice:"):
            formats.from_openai(b, choice=bad)


def test_legacy_completions_with_echo_and_repeated_keys(rng: np.random.Generator) -> None:
    resp = data.legacy_completion(rng, 40, 5, echo=True)
    b = data.body(resp)
    r = formats.from_openai(b)
    assert_same(r, reference(resp))
    assert r.provenance.source == "openai-legacy" and math.isnan(r.chosen_logprob[0])
    # A repeated key keeps its first place and its last value, as json.loads builds the dict.
    dup = b'{"choices":[{"logprobs":{"tokens":["a"],"token_logprobs":[-0.5],'
    dup += b'"top_logprobs":[{"x":-2.0,"y":-0.5,"x":-0.1}]}}]}'
    r = formats.from_openai(dup)
    assert_same(r, reference(json.loads(dup)))
    assert r.top_logprobs.tolist() == [[-0.1, -0.5]] and r.top_tokens == [["x", "y"]]


def test_chunk_lists_are_concatenated_in_order(rng: np.random.Generator) -> None:
    resp = data.chat_completion(rng, 30, 8, n_choices=2)
    ch = data.chunks(resp)
    for c in (0, 1):
        ref = reference(resp, choice=c)
        assert_same(formats.from_openai(ch, choice=c), ref)
        assert_same(formats.from_openai(json.dumps(ch).encode(), choice=c), ref)
    # Chunks without logprobs are refused, never read as NaN positions.
    bare = [{**c, "choices": [{**x, "logprobs": None} for x in c["choices"]]} for c in ch]
    with pytest.raises(credo.EmptyInputError, match="request them with logprobs=True"):
        formats.from_openai(bare)
    with pytest.raises(credo.InvalidArgumentError, match="mixes stream chunks and content entries"):
        formats.from_openai([ch[1], resp["choices"][0]["logprobs"]["content"][0]])


def test_chosen_only_servers_give_chosen_signals_with_provenance(rng: np.random.Generator) -> None:
    resp = data.chat_completion(rng, 32, 5, chosen_only=True)
    r = formats.from_openai(data.body(resp))
    assert r.k == 0 and r.provenance.mode == "chosen-only" and r.provenance.k == 0
    assert r.top_logprobs.shape == (32, 1) and np.isnan(r.top_logprobs).all()
    ref = reference(resp)
    np.testing.assert_array_equal(bits(r.chosen_logprob), bits(ref[1]))
    s = r.summary()
    want = [e["logprob"] for e in resp["choices"][0]["logprobs"]["content"]]
    assert s.mean_logprob == pytest.approx(np.mean(want), rel=1e-12)
    assert math.isnan(s.mean_entropy)


@pytest.mark.parametrize("snake", [False, True])
def test_gemini_logprobs_result_and_avg_logprobs(rng: np.random.Generator, snake: bool) -> None:
    resp = data.gemini_response(rng, 24, 5)
    if snake:  # the google-genai SDK's model_dump() names
        text = json.dumps(resp)
        for camel, sn in [
            ("logprobsResult", "logprobs_result"),
            ("chosenCandidates", "chosen_candidates"),
            ("topCandidates", "top_candidates"),
            ("logProbability", "log_probability"),
            ("avgLogprobs", "avg_logprobs"),
        ]:
            text = text.replace(f'"{camel}"', f'"{sn}"')
        resp = json.loads(text)
    cand = resp["candidates"][0]
    result = cand["logprobs_result" if snake else "logprobsResult"]
    lp_key = "log_probability" if snake else "logProbability"
    chosen = [c.get(lp_key, 0.0) for c in result["chosen_candidates" if snake else "chosenCandidates"]]
    top = [
        [c.get(lp_key, 0.0) for c in row["candidates"]]
        for row in result["top_candidates" if snake else "topCandidates"]
    ]
    for x in (data.body(resp), resp):
        r = formats.from_gemini(x)
        assert r.provenance.source == "gemini" and r.k == 5
        np.testing.assert_array_equal(r.chosen_logprob, chosen)
        np.testing.assert_array_equal(r.top_logprobs, top)
        assert r.chosen_logprob[0] == 0.0  # absent logProbability: protobuf's default
        assert r.avg_logprob == cand["avg_logprobs" if snake else "avgLogprobs"]
        assert r.tokens[:3] == [c["token"] for c in result["chosen_candidates" if snake else "chosenCandidates"][:3]]
    chosen_only = data.gemini_response(rng, 8, 5, top=False)
    r = formats.from_gemini(data.body(chosen_only))
    assert r.k == 0 and r.provenance.mode == "chosen-only"
    with pytest.raises(credo.InvalidArgumentError, match="not a Gemini response"):
        formats.from_gemini(data.body(data.chat_completion(rng, 4, 2)))


def test_unicode_and_escaped_tokens() -> None:
    toks = ["é", "中文", "🙂", '"q"', "a\\b", "\n", "\u2028", "bytes:\\xe4"]
    content = [{"token": t, "logprob": -0.5, "top_logprobs": [{"token": t, "logprob": -0.5}]} for t in toks]
    resp = {"choices": [{"logprobs": {"content": content}}]}
    for ascii_only in (True, False):
        r = formats.from_openai(data.body(resp, ensure_ascii=ascii_only))
        assert r.tokens == toks and [row[0] for row in r.top_tokens] == toks
    # Escaped keys are keys too; a surrogate pair is one character.
    b = rb'{"choices":[{"logpro\u0062s":{"content":[{"token":"\ud83d\ude00","logprob":-1}]}}]}'
    assert formats.from_openai(b).tokens == ["\U0001f600"]


def test_sentinels_nulls_and_missing_fields() -> None:
    b = (
        b'{"choices":[{"logprobs":{"content":[{"token":"a","logprob":-9999.0,"top_logprobs":null},'
        b'{"token":null,"logprob":null,"top_logprobs":[{"token":"x","logprob":-9999},{"token":"y","logprob":-0.25},'
        b'{"logprob":-1e3}]},{"token":"c","logprob":-Infinity,"top_logprobs":[]}]}}]}'
    )
    r = formats.from_openai(b)
    assert r.tokens == ["a", None, "c"] and np.isnan(r.chosen_logprob).all()
    assert r.top_tokens == [[], ["y", None, "x"], []]
    np.testing.assert_array_equal(r.top_logprobs[1], [-0.25, -1000.0, np.nan])
    assert formats.from_openai(b, missing_chosen=-100.0).chosen_logprob.tolist() == [-100.0] * 3


def test_extra_fields_of_any_shape_are_skipped() -> None:
    extra = {"x": [1, {"y": [True, False, None, 'z\\"', -1.5e-300]}], "w": {}, "v": [], "u": "\u00e9"}
    resp = {
        **extra,
        "choices": [{**extra, "logprobs": {**extra, "content": [{**extra, "token": "a", "logprob": -0.5}]}}],
    }
    r = formats.from_openai(data.body(resp))
    assert r.tokens == ["a"] and r.chosen_logprob.tolist() == [-0.5]


# --- bad input: a CredoError naming the JSON path, never a panic or unbounded memory ---------

CHAT = data.body(data.chat_completion(np.random.default_rng(7), 20, 5))


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (CHAT[: len(CHAT) // 2], "truncated"),
        (CHAT[:-1], "truncated"),
        (b"", "truncated"),
        (CHAT + b" x", "extra data"),
        (b'{"choices": [{"logprobs": {"content": "notalist"}}]}', r"content: expected a list, got a string"),
        (b'{"choices": {"logprobs": 1}}', r"response\.choices: expected a list, got an object"),
        (
            b'{"choices": [{"logprobs": {"content": [{"logprob": "-0.5"}]}}]}',
            r"content\[0\]\.logprob: expected a number, got a string",
        ),
        (
            b'{"choices": [{"logprobs": {"content": [{"logprob": NaN}]}}]}',
            r"content\[0\]\.logprob: NaN is not a logprob",
        ),
        (
            b'{"choices": [{"logprobs": {"content": [{"logprob": 0.5}]}}]}',
            r"content\[0\]\.logprob: logprob 0.5 is above 0",
        ),
        (b'{"choices": [{"logprobs": {"content": [{"logprob": Infinity}]}}]}', "logprob inf is above 0"),
        (b'{"choices": [{"logprobs": {"content": [{"logprob": true}]}}]}', "expected a number, got a boolean"),
        (
            b'{"choices": [{"logprobs": {"content": [{"logprob": -0.5, "token": 7}]}}]}',
            r"content\[0\]\.token: expected a string",
        ),
        (b'{"choices": [{"logprobs": {"content": [{"logprob": -01}]}}]}', "invalid JSON at byte 53"),
        (b'{"choices": [{"logprobs": {"content": [{"logprob": -1.}]}}]}', "malformed number"),
        (b'{"choices": [{"logprobs": {"content": [{"token": "\\ud800", "logprob": -1}]}}]}', "surrogate"),
        (b'{"choices": [{"logprobs": {"content": [{"token": "\\udc00\\ud800", "logprob": -1}]}}]}', "surrogate"),
        (b'{"choices": [{"logprobs": {"content": [{"token": "\\u12x4", "logprob": -1}]}}]}', "four hex digits"),
        (b'{"choices": [{"logprobs": {"content": [{"token": "a\x01", "logprob": -1}]}}]}', "control character"),
        (b'{"choices": [{"logprobs": {"content": [{"token": "\\q", "logprob": -1}]}}]}', "invalid escape"),
        (b'{"choices": [{"logprobs": {"content": [{},]}}]}', "trailing comma"),
        (b'{"choices": [{"logprobs": {"content": [{"a" 1}]}}]}', "expected ':'"),
        (b'{"choices": [{"logprobs": {"tokens": ["a", "b"], "token_logprobs": [-1]}}]}', "differ in length"),
        (b'{"choices": [{"logprobs": null}]}', "no logprobs"),
        (b'{"choices": [{"logprobs": {"content": []}}]}', "no tokens"),
        (b'{"id": "x"}', "no choices"),
        (b"[1, 2]", r"response\[0\]: expected an object"),
        (b'"just a string"', "expected a response"),
        (b'{"x": ' + b"[" * 100_000, "nested deeper than 128"),
        (b'{"a":' * 100_000, "nested deeper than 128"),
        (b"\xff\xfe{}", "invalid JSON at byte 0"),
    ],
)
def test_malformed_bodies_name_the_path(body: bytes, match: str) -> None:
    with pytest.raises(credo.CredoError, match=match):
        formats.from_openai(body)


def test_the_path_names_the_exact_entry() -> None:
    resp = data.chat_completion(np.random.default_rng(3), 20, 5)
    resp["choices"][0]["logprobs"]["content"][17]["top_logprobs"][3]["logprob"] = "oops"
    for x in (data.body(resp), resp):
        with pytest.raises(
            credo.InvalidArgumentError,
            match=r"^response\.choices\[0\]\.logprobs\.content\[17\]\.top_logprobs\[3\]\.logprob: ",
        ):
            formats.from_openai(x)


def test_every_truncation_is_an_error() -> None:
    b = data.body(
        {
            "choices": [
                {
                    "logprobs": {
                        "content": [
                            {
                                "token": '\u00e9"',
                                "logprob": -0.5,
                                "bytes": [1, 2],
                                "top_logprobs": [{"token": "a", "logprob": -1e-3}],
                            }
                        ]
                    }
                }
            ]
        }
    )
    for n in range(len(b)):
        with pytest.raises(credo.CredoError):
            formats.from_openai(b[:n])
    formats.from_openai(b)


class _Liar(list):  # type: ignore[type-arg]
    """A list that claims to hold 2**31 items."""

    def __len__(self) -> int:
        return 2**31


@pytest.mark.parametrize(
    ("obj", "match"),
    [
        ({"choices": [{"logprobs": {"content": "notalist"}}]}, "content: expected a list, got a string"),
        ({"choices": [{"logprobs": {"content": [{"logprob": 1j}]}}]}, "expected a number, got complex"),
        ({"choices": [{"logprobs": {"content": [{"logprob": float("nan")}]}}]}, "NaN is not a logprob"),
        ({"choices": [{"logprobs": {"content": [{"logprob": 2**70}]}}]}, "above 0"),
        ({"choices": [{"logprobs": {"content": [{"logprob": -(2**1100)}]}}]}, "too large"),
        ({"choices": [{"logprobs": {"content": [{"logprob": "x"}]}}]}, "expected a number, got a string"),
        ({"choices": [{"logprobs": {"content": (x for x in [])}}]}, "expected a list, got generator"),
        ({"choices": [{"logprobs": {"content": [{1: 2}]}}]}, "keys must be strings"),
        (
            {"choices": [{"logprobs": {"tokens": ["a"], "top_logprobs": [{"a": "b"}]}}]},
            r"top_logprobs\[0\]\.a: expected a number",
        ),
        (42, "expected a response"),
    ],
)
def test_malformed_objects_name_the_path(obj: Any, match: str) -> None:
    with pytest.raises(credo.CredoError, match=match):
        formats.from_openai(obj)


def test_a_length_claim_allocates_nothing() -> None:
    liar = _Liar([{"token": "a", "logprob": -0.5}])
    r = formats.from_openai({"choices": [{"logprobs": {"content": liar}}]})
    assert r.chosen_logprob.tolist() == [-0.5]  # the items are read, the claimed length ignored
    # Rows of wildly different widths would need far more memory than the input: refused.
    wide = [{"token": "a", "logprob": -1.0, "top_logprobs": [{"token": "a", "logprob": -1.0}] * 3000}]
    narrow = [{"token": "a", "logprob": -1.0}] * 30000
    with pytest.raises(credo.ShapeError, match="very different lengths"):
        formats.from_openai({"choices": [{"logprobs": {"content": wide + narrow}}]})


@pytest.mark.parametrize("k", [0, -3, True, 2.5, 1j, "5"])
def test_bad_k(k: Any) -> None:
    with pytest.raises(credo.InvalidArgumentError, match="k:"):
        formats.from_openai(CHAT, k=k)


# --- differential: native (body and dicts) against the pure-Python reference ------------------

logprob_values = st.one_of(
    st.floats(min_value=-60.0, max_value=0.0, allow_nan=False),
    st.just(-9999.0),
    st.none(),
    st.integers(min_value=-30, max_value=0),
    st.just(-0.0),
)
token_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=6)
# With `bytes` last, as servers write the entries: the scanner's one-step reading of an entry.
top_entry = st.fixed_dictionaries(
    {"token": token_text, "logprob": logprob_values},
    optional={"bytes": st.one_of(st.none(), st.lists(st.integers(0, 255), max_size=20))},
)
content_entry = st.fixed_dictionaries(
    {"token": token_text, "logprob": logprob_values},
    optional={
        "top_logprobs": st.one_of(st.none(), st.lists(top_entry, max_size=6)),
        "bytes": st.one_of(st.none(), st.lists(st.integers(0, 255), max_size=4)),
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    content=st.lists(content_entry, min_size=1, max_size=12),
    extra=st.dictionaries(st.text(max_size=4), st.one_of(st.none(), st.integers(), st.text(max_size=5)), max_size=3),
    compact=st.booleans(),
    ascii_only=st.booleans(),
    k=st.one_of(st.none(), st.integers(1, 8)),
)
def test_native_matches_the_python_reader(
    content: list[dict[str, Any]], extra: dict[str, Any], compact: bool, ascii_only: bool, k: int | None
) -> None:
    resp = {**extra, "choices": [{"index": 0, "logprobs": {"content": content, "refusal": None}}]}
    ref = reference(resp, k=k)
    b = data.body(resp, compact=compact, ensure_ascii=ascii_only)
    for x in (b, resp):
        assert_same(formats.from_openai(x, k=k), ref)


@settings(max_examples=80, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            token_text, logprob_values, st.one_of(st.none(), st.dictionaries(token_text, logprob_values, max_size=5))
        ),
        min_size=1,
        max_size=10,
    )
)
def test_native_matches_the_python_reader_on_legacy(rows: list[tuple[str, Any, Any]]) -> None:
    lp = {"tokens": [r[0] for r in rows], "token_logprobs": [r[1] for r in rows], "top_logprobs": [r[2] for r in rows]}
    resp = {"choices": [{"logprobs": lp}]}
    ref = reference(resp)
    for x in (data.body(resp), resp):
        assert_same(formats.from_openai(x), ref)


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(
        st.one_of(
            st.floats(min_value=-1e4, max_value=0.0, allow_nan=False),
            st.floats(min_value=-1.0, max_value=0.0, allow_nan=False, allow_subnormal=False),
            # The tail of a top-20 list: two digits before the point (-12.345678), as float64's
            # 17 digits and as float32's shortest text (OpenAI's).
            st.floats(min_value=-99.99, max_value=-10.0),
            st.floats(min_value=-99.5, max_value=-10.0, width=32).map(lambda v: float(str(np.float32(v)))),
        ),
        min_size=1,
        max_size=40,
    ),
    compact=st.booleans(),
)
def test_logprobs_are_read_to_the_last_bit(values: list[float], compact: bool) -> None:
    """Every logprob of a body (as ``json.dumps`` writes floats: shortest round-trip text,
    exponents below 1e-4) is the double ``json.loads`` gives, bit for bit."""
    top = [{"token": f"t{i}", "logprob": v, "bytes": [116, 48 + i % 10]} for i, v in enumerate(values)]
    resp = {
        "choices": [{"index": 0, "logprobs": {"content": [{"token": "t", "logprob": values[0], "top_logprobs": top}]}}]
    }
    b = data.body(resp, compact=compact)
    assert_same(formats.from_openai(b), reference(json.loads(b)))
