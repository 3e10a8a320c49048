"""Responses in the exact layouts OpenAI, vLLM and Gemini return, with realistic random logprobs
(used by tests/test_formats_native.py and benches/python/bench_serving.py).

Each generator returns the parsed response (dicts); ``json.dumps`` of it is the body a server
sends (OpenAI's and vLLM's servers write ``", "``/``": "`` separators off: both are produced by
``body()``). Logprobs are log-softmax values of random logits, sorted descending per position as
servers return them, the chosen token sampled (usually the top one, sometimes outside the top-k).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

# Tokens as tokenizers produce them: leading spaces, punctuation, quotes and backslashes that JSON
# escapes, newlines, accents, CJK, emoji, and the byte-level fragments OpenAI writes as
# "bytes:\\xe4\\xb8".
VOCAB = [
    " the",
    " of",
    " and",
    " to",
    " in",
    "The",
    " Paris",
    ",",
    ".",
    "\n",
    "\n\n",
    ' "',
    '"',
    "\\",
    "\\n",
    " é",
    "é",
    "café",
    " naïve",
    "中",
    "文",
    "日本",
    " 🙂",
    "🚀",
    "bytes:\\xe4\\xb8",
    "bytes:\\x9d",
    "\t",
    " </s>",
    "<|im_end|>",
    " ",
    "  ",
    "1",
    "23",
    " 4.5",
    "-",
    " —",
    "’",
    "\u2028",
    "\x7f",
    "'s",
] + [f" word{i}" for i in range(60)]


def _token_bytes(tok: str) -> list[int]:
    return list(tok.encode("utf-8"))


def _positions(
    rng: np.random.Generator, n: int, k: int, vocab: list[str]
) -> list[tuple[str, float, list[tuple[str, float]]]]:
    """n positions of (chosen token, its logprob, top-k [(token, logprob)] sorted descending)."""
    out = []
    v = len(vocab)
    for _ in range(n):
        sharp = rng.uniform(0.3, 5.0)
        logits = rng.standard_normal(v) * sharp
        lp = logits - np.log(np.exp(logits - logits.max()).sum()) - logits.max()
        order = np.argsort(-lp, kind="stable")
        u = rng.uniform()
        pick = order[0] if u < 0.8 else order[rng.integers(1, min(v, k + 5))]
        top = [(vocab[j], float(lp[j])) for j in order[:k]]
        out.append((vocab[pick], float(lp[pick]), top))
    return out


def _entry(tok: str, lp: float, top: list[tuple[str, float]], *, with_bytes: bool = True) -> dict[str, Any]:
    e: dict[str, Any] = {"token": tok, "logprob": lp, "bytes": _token_bytes(tok) if with_bytes else None}
    e["top_logprobs"] = [{"token": t, "logprob": v, "bytes": _token_bytes(t)} for t, v in top]
    return e


def chat_completion(
    rng: np.random.Generator,
    n_tokens: int = 256,
    k: int = 20,
    *,
    n_choices: int = 1,
    server: str = "openai",
    chosen_only: bool = False,
) -> dict[str, Any]:
    """A chat completion as OpenAI (``server="openai"``) or vLLM (``"vllm"``) returns it."""
    choices = []
    for i in range(n_choices):
        pos = _positions(rng, n_tokens, max(k, 1), VOCAB)
        content = [_entry(t, lp, [] if chosen_only else top) for t, lp, top in pos]
        text = "".join(t for t, _, _ in pos)
        if server == "vllm":
            # vLLM writes −inf logprobs as −9999.0.
            for e in content:
                for t in e["top_logprobs"]:
                    if t["logprob"] < -60:
                        t["logprob"] = -9999.0
            choices.append(
                {
                    "index": i,
                    "message": {"role": "assistant", "reasoning_content": None, "content": text, "tool_calls": []},
                    "logprobs": {"content": content},
                    "finish_reason": "length",
                    "stop_reason": None,
                }
            )
        else:
            choices.append(
                {
                    "index": i,
                    "message": {"role": "assistant", "content": text, "refusal": None, "annotations": []},
                    "logprobs": {"content": content, "refusal": None},
                    "finish_reason": "length",
                }
            )
    usage = {"prompt_tokens": 31, "completion_tokens": n_tokens * n_choices, "total_tokens": 31 + n_tokens * n_choices}
    if server == "vllm":
        return {
            "id": "chatcmpl-7f1c2b0e9a7d4c1e8b3f5a6d2c9e0b1a",
            "object": "chat.completion",
            "created": 1733312345,
            "model": "meta-llama/Llama-3.1-8B-Instruct",
            "choices": choices,
            "usage": {**usage, "prompt_tokens_details": None},
            "prompt_logprobs": None,
            "kv_transfer_params": None,
        }
    return {
        "id": "chatcmpl-AbC123xyz789DEF456ghi",
        "object": "chat.completion",
        "created": 1733312345,
        "model": "gpt-4o-2024-08-06",
        "choices": choices,
        "usage": {
            **usage,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": "fp_9faba9f038",
    }


def legacy_completion(
    rng: np.random.Generator, n_tokens: int = 64, k: int = 5, *, echo: bool = False
) -> dict[str, Any]:
    """A legacy completion (``/v1/completions``) with ``logprobs=k``; ``echo`` puts a prompt token
    with a null logprob first, as OpenAI does."""
    pos = _positions(rng, n_tokens, k, VOCAB)
    tokens = [t for t, _, _ in pos]
    lps: list[float | None] = [lp for _, lp, _ in pos]
    tops: list[dict[str, float] | None] = [dict(top) for _, _, top in pos]
    if echo:
        tokens.insert(0, "Say")
        lps.insert(0, None)
        tops.insert(0, None)
    offsets = np.cumsum([0] + [len(t) for t in tokens[:-1]]).tolist()
    return {
        "id": "cmpl-9xYz",
        "object": "text_completion",
        "created": 1733312345,
        "model": "gpt-3.5-turbo-instruct",
        "choices": [
            {
                "text": "".join(tokens),
                "index": 0,
                "logprobs": {"tokens": tokens, "token_logprobs": lps, "top_logprobs": tops, "text_offset": offsets},
                "finish_reason": "length",
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": n_tokens, "total_tokens": n_tokens + 5},
    }


def chunks(response: dict[str, Any], *, usage_chunk: bool = True) -> list[dict[str, Any]]:
    """The ``stream=True`` chunks of a chat completion: a role chunk, one chunk per token (its
    logprobs entry), a finish chunk per choice and the usage chunk, choices interleaved."""
    base = {k: response[k] for k in ("id", "created", "model") if k in response}
    base["object"] = "chat.completion.chunk"
    fp = {"system_fingerprint": response["system_fingerprint"]} if "system_fingerprint" in response else {}
    out: list[dict[str, Any]] = []
    for c in response["choices"]:
        delta = {"role": "assistant", "content": "", "refusal": None}
        out.append(
            {**base, **fp, "choices": [{"index": c["index"], "delta": delta, "logprobs": None, "finish_reason": None}]}
        )
    n = max(len(c["logprobs"]["content"]) for c in response["choices"])
    for t in range(n):
        for c in response["choices"]:
            content = c["logprobs"]["content"]
            if t < len(content):
                e = content[t]
                ch = {
                    "index": c["index"],
                    "delta": {"content": e["token"]},
                    "logprobs": {"content": [e], "refusal": None},
                    "finish_reason": None,
                }
                out.append({**base, **fp, "choices": [ch]})
    for c in response["choices"]:
        ch = {"index": c["index"], "delta": {}, "logprobs": None, "finish_reason": c["finish_reason"]}
        out.append({**base, **fp, "choices": [ch]})
    if usage_chunk:
        out.append({**base, **fp, "choices": [], "usage": response["usage"]})
    return out


def sse(chunk_list: list[dict[str, Any]]) -> bytes:
    """The server-sent events a server writes for these chunks, ``data: [DONE]`` last."""
    lines = [f"data: {json.dumps(c, separators=(',', ':'), ensure_ascii=False)}\n\n" for c in chunk_list]
    return ("".join(lines) + "data: [DONE]\n\n").encode()


def gemini_response(rng: np.random.Generator, n_tokens: int = 64, k: int = 5, *, top: bool = True) -> dict[str, Any]:
    """A Gemini ``generateContent`` response with ``responseLogprobs`` (and ``logprobs=k``)."""
    pos = _positions(rng, n_tokens, k, VOCAB)
    chosen = [{"token": t, "tokenId": 100 + i, "logProbability": lp} for i, (t, lp, _) in enumerate(pos)]
    result: dict[str, Any] = {"chosenCandidates": chosen}
    if top:
        result["topCandidates"] = [
            {"candidates": [{"token": tt, "tokenId": 7, "logProbability": v} for tt, v in tp]} for _, _, tp in pos
        ]
    # Protobuf's JSON leaves out a logProbability of exactly 0.
    chosen[0]["logProbability"] = 0.0
    del chosen[0]["logProbability"]
    if top:
        result["topCandidates"][0]["candidates"][0]["logProbability"] = 0.0
        del result["topCandidates"][0]["candidates"][0]["logProbability"]
    avg = float(np.mean([c.get("logProbability", 0.0) for c in chosen]))
    return {
        "candidates": [
            {
                "content": {"parts": [{"text": "".join(t for t, _, _ in pos)}], "role": "model"},
                "finishReason": "STOP",
                "avgLogprobs": avg,
                "logprobsResult": result,
                "index": 0,
            }
        ],
        "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": n_tokens, "totalTokenCount": n_tokens + 9},
        "modelVersion": "gemini-2.0-flash",
        "responseId": "abc123",
    }


def body(response: Any, *, compact: bool = False, ensure_ascii: bool = True) -> bytes:
    """The body a server sends (``compact``: no spaces after separators, as vLLM writes)."""
    seps = (",", ":") if compact else (", ", ": ")
    return json.dumps(response, separators=seps, ensure_ascii=ensure_ascii).encode()
