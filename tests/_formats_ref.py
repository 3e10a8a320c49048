"""The pure-Python OpenAI reader credo shipped before the native one (kept verbatim as the
independent reference of the differential tests and the baseline of benches/python/bench_serving.py).

``from_openai`` returns ``(top_logprobs, chosen_logprob, tokens, top_tokens, k, source)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from credo.exceptions import EmptyInputError, InvalidArgumentError, ShapeError

SENTINEL = -9999.0


def _get(obj: Any, key: str, default: Any = None) -> Any:
    """``obj[key]`` for mappings, ``obj.key`` for SDK objects."""
    if obj is None:
        return default
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _lp(value: Any) -> float:
    """A logprob, NaN for None or the −9999 sentinel."""
    if value is None:
        return float("nan")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"response: logprob {value!r} is not a number") from None
    return float("nan") if v <= SENTINEL else v


def _pack(rows: list[list[tuple[Any, float]]], k: int | None) -> tuple[np.ndarray, list[list[Any]], int]:
    """Sorted, NaN-padded [T, width] logprobs and their tokens."""
    width = max((len(r) for r in rows), default=0)
    kk = k if k is not None else width
    width = max(width, 1)
    top = np.full((len(rows), width), np.nan)
    toks: list[list[Any]] = []
    for i, r in enumerate(rows):
        r = sorted(r, key=lambda e: -np.inf if np.isnan(e[1]) else e[1], reverse=True)
        top[i, : len(r)] = [e[1] for e in r]
        toks.append([e[0] for e in r])
    return top, toks, max(kk, 1)


def from_openai(
    response: Any, *, choice: int = 0, k: int | None = None, missing_chosen: float = np.nan
) -> tuple[Any, ...]:
    """Top-k logprobs of choice ``choice`` of an OpenAI response (chat or legacy completions).

    Accepts the response (dict or SDK object), its ``choices[i].logprobs``, or the ``content``
    list itself. ``k``: the ``top_logprobs`` requested (default: the widest position).
    """
    if hasattr(response, "model_dump") and not isinstance(response, Mapping):
        response = response.model_dump()
    logprobs = response
    choices = _get(response, "choices") if not isinstance(response, list) else None
    if choices is not None:
        if not isinstance(choices, Sequence) or not (0 <= choice < len(choices)):
            raise InvalidArgumentError(f"choice: {choice} is not among the response's {len(choices)} choices")
        logprobs = _get(choices[choice], "logprobs")
        if logprobs is None:
            raise InvalidArgumentError("response: the choice has no logprobs (request them with logprobs=True)")
    content = logprobs if isinstance(logprobs, list) else _get(logprobs, "content")
    rows: list[list[tuple[Any, float]]] = []
    tokens: list[Any] = []
    chosen: list[float] = []
    legacy = False
    if content is None and _get(logprobs, "tokens") is not None:
        legacy = True
        tokens = list(_get(logprobs, "tokens"))
        lps = list(_get(logprobs, "token_logprobs") or [None] * len(tokens))
        tops = list(_get(logprobs, "top_logprobs") or [None] * len(tokens))
        if not (len(lps) == len(tokens) == len(tops)):
            raise ShapeError("response: tokens, token_logprobs and top_logprobs differ in length")
        for lp, top in zip(lps, tops, strict=True):
            chosen.append(_lp(lp))
            rows.append([(tok, _lp(v)) for tok, v in (top or {}).items()])
    elif content is not None:
        for entry in content:
            tokens.append(_get(entry, "token"))
            chosen.append(_lp(_get(entry, "logprob")))
            rows.append([(_get(e, "token"), _lp(_get(e, "logprob"))) for e in (_get(entry, "top_logprobs") or [])])
    else:
        raise InvalidArgumentError("response: no logprobs.content (chat) or logprobs.tokens (legacy completions) found")
    if not rows:
        raise EmptyInputError("response: the logprobs hold no tokens")
    top, top_tokens, kk = _pack(rows, k)
    ch = np.asarray(chosen, dtype=np.float64)
    ch[np.isnan(ch)] = missing_chosen
    return top, ch, tokens, top_tokens, kk, "openai-legacy" if legacy else "openai"
