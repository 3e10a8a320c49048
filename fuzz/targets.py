"""Fuzz targets: one per parser of text or files credo did not write.

Each target takes the fuzzer's bytes, turns them into the argument its parser reads, and calls the
public API. A ``credo.CredoError`` is a defined answer to bad input; any other exception (or a
crash, or a hang the fuzzer times out) is a bug. ``run.py`` drives these with atheris;
``tests/robustness/test_fuzz_targets.py`` replays the seed corpus through them.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable

import numpy as np

import credo
from credo import evidence, formats, risk, verify

_ARITHMETIC = verify.ArithmeticVerifier()
_SCHEMA = None  # built on first use: jsonschema is an optional dependency
_FORMATS = [verify.FormatVerifier(k) for k in ("email", "number", "number_with_unit", "date")]
_TOOL = verify.ToolResultVerifier()
_PROCESS = verify.ProcessVerifier(required=["search"], order=["search", "answer"], forbidden=["delete"])


def _text(data: bytes) -> str:
    # Lone surrogates and all: what a client decoding carelessly would pass on.
    return data.decode("utf-8", "surrogatepass") if _valid(data) else data.decode("latin-1")


def _valid(data: bytes) -> bool:
    try:
        data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return False
    return True


def _json(data: bytes) -> object:
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return _text(data)


def _split(data: bytes, parts: int) -> list[bytes]:
    """The input cut at its first ``parts - 1`` 0xFF bytes (a cheap structure for the fuzzer)."""
    return (data.split(b"\xff", parts - 1) + [b""] * parts)[:parts]


def fuzz_arithmetic(data: bytes) -> None:
    text = _text(data)
    result = _ARITHMETIC.verify(text)
    assert 0.0 <= result.score <= 1.0
    for check in _ARITHMETIC.checks(text):
        assert check.verifiable or not check.correct  # an unverifiable statement never passes
    try:
        verify.evaluate_expression(text)
    except credo.CredoError:
        pass


def fuzz_schema(data: bytes) -> None:
    global _SCHEMA
    if _SCHEMA is None:
        _SCHEMA = verify.SchemaVerifier(
            {
                "type": "object",
                "properties": {"name": {"type": "string"}, "items": {"type": "array", "items": {"type": "number"}}},
                "required": ["name"],
            }
        )
    result = _SCHEMA.verify(_text(data))
    assert result.passed == (result.score == 1.0)


def fuzz_formats(data: bytes) -> None:
    text = _text(data)
    for v in _FORMATS:
        v.verify(text)


def fuzz_tool_result(data: bytes) -> None:
    answer, result = _split(data, 2)
    _TOOL.verify(_text(answer), {"tool_result": _text(result)})
    _PROCESS.verify("", {"tool_calls": _json(result) if isinstance(_json(result), list) else []})


def fuzz_risk(data: bytes) -> None:
    text, domain = _split(data, 2)
    r = risk.assess(_text(text))
    assert r.stakes in risk.STAKES
    risk.assess(_text(text), domain=_text(domain) or None, history=["earlier turn"])


def fuzz_evidence(data: bytes) -> None:
    answer, *passages = _split(data, 4)
    opts = {"citations": bool(data[:1]) and data[0] % 2 == 0, "min_support": 0.6}
    r = evidence.coverage(_text(answer), [_text(p) for p in passages], **opts)
    assert r.coverage is None or 0.0 <= r.coverage <= 1.0
    for c in r.claims:
        assert 0 <= c.start < c.end <= len(_text(answer)) and 0 <= c.passage < len(passages)


def fuzz_load(data: bytes) -> None:
    fd, path = tempfile.mkstemp(suffix=".json", prefix="credo-fuzz-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            credo.load(path)
        except credo.CredoError:
            pass
    finally:
        os.unlink(path)


# An int key as vLLM writes one; "--7" or "²" are left as strings (int() would refuse them).
_TOKEN_ID = re.compile(r"-?[0-9]{1,19}")


def _int_keys(value: object) -> object:
    """vLLM's per-position dicts are keyed by token id: JSON's string keys back to ints."""
    if isinstance(value, dict):
        return {int(k) if _TOKEN_ID.fullmatch(k) else k: _int_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_int_keys(v) for v in value]
    return value


def _same_logprobs(body: bytes, response: object) -> None:
    """The native body reader (its one-step entry kernels included) reads the logprobs the dict
    reader reads from ``json.loads`` of the same body, wherever both read it: the same doubles
    (equal values are equal bits but for zeros: ``json.loads`` makes ``-0`` the int 0)."""
    try:
        native, ref = formats.from_openai(body), formats.from_openai(response)
    except credo.CredoError:
        return
    for name in ("top_logprobs", "chosen_logprob"):
        a, b = getattr(native, name), getattr(ref, name)
        assert np.array_equal(a, b, equal_nan=True), name


def fuzz_readers(data: bytes) -> None:
    head, body = _split(data, 2)
    response = _json(body)
    _same_logprobs(body, response)
    for call in (
        lambda: formats.from_openai(response),
        lambda: formats.from_openai(response, choice=len(head), k=(head[0] % 8) if head else None),
        lambda: formats.from_vllm(_int_keys(response), token_ids=list(head) or None),
        # The native body reader and the stream reader on the raw bytes themselves.
        lambda: formats.from_openai(body, choice=len(head)),
        lambda: formats.OpenAIStream().feed(body),
        lambda: formats.OpenAIStream().feed(b"data: " + body + b"\n"),
    ):
        try:
            call()
        except credo.CredoError:
            pass


TARGETS: dict[str, Callable[[bytes], None]] = {
    "arithmetic": fuzz_arithmetic,
    "schema": fuzz_schema,
    "formats": fuzz_formats,
    "tool_result": fuzz_tool_result,
    "risk": fuzz_risk,
    "evidence": fuzz_evidence,
    "load": fuzz_load,
    "readers": fuzz_readers,
}
"""Each target by name; every one of them lets only a CredoError through."""


def call(target: str, data: bytes) -> None:
    """Runs ``target`` on ``data``; a CredoError is a defined answer, anything else escapes."""
    try:
        TARGETS[target](data)
    except credo.CredoError:
        pass
