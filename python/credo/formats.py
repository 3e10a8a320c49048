"""Readers that turn what servers and libraries return into credo's arrays (docs/definitions/signals.md#server-formats).

* :func:`from_openai` — an OpenAI chat completion (``choices[i].logprobs.content[*]``) or a
  legacy completion (``choices[i].logprobs.{tokens, token_logprobs, top_logprobs}``), as dicts
  or as the SDK's objects.
* :func:`from_vllm` — vLLM outputs: per-position dicts of token id → ``Logprob`` (or float).
* :func:`from_hf_scores` — the per-step ``scores`` tuple of transformers'
  ``generate(output_scores=True)`` and the generated ``sequences``.

The −9999 sentinel (OpenAI, vLLM) means "outside the top-k" and becomes NaN, rows with fewer
than k entries are padded with NaN, vLLM's k+1 entries (the chosen token appended) are kept and
trimmed to k by :func:`credo.topk_signals`, and a chosen token with no logprob is NaN (LM-Polygraph
inserts −100 instead; pass ``missing_chosen=-100.0`` to reproduce it). Each result records its
:class:`~credo.signals.Provenance`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from credo.exceptions import EmptyInputError, InvalidArgumentError, ShapeError
from credo.signals import Provenance, TokenSignals, TopkSignals, token_signals, topk_signals

__all__ = ["DenseLogits", "TopkLogprobs", "from_hf_scores", "from_openai", "from_vllm"]

SENTINEL = -9999.0


@dataclass(frozen=True)
class TopkLogprobs:
    """Top-k logprobs of one generated sequence.

    ``top_logprobs``: ``[T, width]`` float64, sorted descending, NaN where missing;
    ``chosen_logprob``: ``[T]`` (NaN where the server gave none); ``tokens``: the chosen tokens
    (strings for OpenAI, ids for vLLM); ``top_tokens``: per position, the tokens of
    ``top_logprobs`` in the same order; ``k``: the declared top-k.
    """

    top_logprobs: np.ndarray
    chosen_logprob: np.ndarray
    tokens: list[Any]
    top_tokens: list[list[Any]]
    k: int
    provenance: Provenance

    def signals(self, *, policy: str = "bounds", vocab_size: int | None = None) -> TopkSignals:
        """:func:`credo.topk_signals` of these logprobs (provenance carried over)."""
        return topk_signals(
            self.top_logprobs,
            self.chosen_logprob,
            policy=policy,
            vocab_size=vocab_size if vocab_size is not None else self.provenance.vocab_size,
            k=self.k,
            source=self.provenance.source,
            processed=self.provenance.processed,
        )


@dataclass(frozen=True)
class DenseLogits:
    """Full-vocabulary scores ``[B, T, V]`` with the chosen ids ``[B, T]``."""

    logits: np.ndarray
    chosen: np.ndarray
    provenance: Provenance

    def signals(
        self, *, temperature: float = 1.0, threads: int | None = None, invalid: str = "raise"
    ) -> TokenSignals:
        """:func:`credo.token_signals` of these scores (provenance carried over)."""
        s = token_signals(
            self.logits,
            self.chosen,
            temperature=temperature,
            threads=threads,
            invalid=invalid,
            processed=self.provenance.processed,
        )
        prov = dataclasses.replace(self.provenance, temperature=s.provenance.temperature)
        return dataclasses.replace(s, provenance=prov)


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
) -> TopkLogprobs:
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
            raise InvalidArgumentError(
                "response: the choice has no logprobs (request them with logprobs=True)"
            )
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
            rows.append(
                [(_get(e, "token"), _lp(_get(e, "logprob"))) for e in (_get(entry, "top_logprobs") or [])]
            )
    else:
        raise InvalidArgumentError(
            "response: no logprobs.content (chat) or logprobs.tokens (legacy completions) found"
        )
    if not rows:
        raise EmptyInputError("response: the logprobs hold no tokens")
    top, top_tokens, kk = _pack(rows, k)
    ch = np.asarray(chosen, dtype=np.float64)
    ch[np.isnan(ch)] = missing_chosen
    prov = Provenance(
        source="openai-legacy" if legacy else "openai",
        mode="top-k",
        k=kk,
        renormalization="raw",
        processed=True,
    )
    return TopkLogprobs(top, ch, tokens, top_tokens, kk, prov)


def _vllm_value(v: Any) -> float:
    if isinstance(v, Mapping):
        v = v.get("logprob")
    elif hasattr(v, "logprob"):
        v = v.logprob
    return _lp(v)


def from_vllm(
    outputs: Any,
    token_ids: Sequence[int] | None = None,
    *,
    k: int | None = None,
    processed: bool | None = False,
    missing_chosen: float = np.nan,
) -> TopkLogprobs:
    """Top-k logprobs from vLLM: a ``RequestOutput`` (its first completion), a
    ``CompletionOutput`` (``.logprobs`` and ``.token_ids``), or a list of per-position dicts
    {token id: ``Logprob`` | float} with ``token_ids``.

    vLLM returns the top-k plus the chosen token when it is outside them (k+1 entries); ``k``
    is taken from the ``Logprob.rank`` values when present, else from the shortest position
    (pass it to be exact). ``processed``: vLLM V1 returns raw logprobs by default (False).
    """
    if hasattr(outputs, "outputs") and not isinstance(outputs, (list, tuple)):
        outputs = outputs.outputs[0]
    if hasattr(outputs, "logprobs") and not isinstance(outputs, (list, tuple)):
        if token_ids is None:
            token_ids = list(outputs.token_ids)
        outputs = outputs.logprobs
    if outputs is None:
        raise InvalidArgumentError("outputs: no logprobs (request them with SamplingParams(logprobs=k))")
    positions = list(outputs)
    if token_ids is None:
        raise InvalidArgumentError("token_ids: needed with a plain list of per-position dicts")
    ids = [int(t) for t in token_ids]
    if len(ids) != len(positions):
        raise ShapeError(f"token_ids: has {len(ids)} ids but there are {len(positions)} positions")
    if not positions:
        raise EmptyInputError("outputs: no positions")
    rows: list[list[tuple[Any, float]]] = []
    chosen: list[float] = []
    ranks_k = 0
    for tok, pos in zip(ids, positions, strict=True):
        if not isinstance(pos, Mapping):
            raise InvalidArgumentError(
                f"outputs: each position must be a dict of token id -> logprob, got {type(pos)}"
            )
        rows.append([(int(t), _vllm_value(v)) for t, v in pos.items()])
        chosen.append(_vllm_value(pos[tok]) if tok in pos else float("nan"))
        for t, v in pos.items():
            r = getattr(v, "rank", None) if not isinstance(v, Mapping) else v.get("rank")
            if r is not None and int(t) != tok:
                ranks_k = max(ranks_k, int(r))
    if k is None:
        k = ranks_k if ranks_k > 0 else min(len(r) for r in rows)
    top, top_tokens, kk = _pack(rows, k)
    ch = np.asarray(chosen, dtype=np.float64)
    ch[np.isnan(ch)] = missing_chosen
    prov = Provenance(source="vllm", mode="top-k", k=kk, renormalization="raw", processed=processed)
    return TopkLogprobs(top, ch, ids, top_tokens, kk, prov)


def _to_numpy(x: Any) -> np.ndarray:
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "detach"):
        x = x.detach()
    if hasattr(x, "cpu"):
        x = x.cpu()
    if str(getattr(x, "dtype", "")) == "torch.bfloat16":
        x = x.float()
    return np.asarray(x)


def from_hf_scores(scores: Sequence[Any], sequences: Any, *, processed: bool = True) -> DenseLogits:
    """Dense logits from transformers' ``generate(..., output_scores=True,
    return_dict_in_generate=True)``: ``scores`` is a tuple of T arrays ``[B, V]`` (one per
    generated step), ``sequences`` is ``[B, prompt + T]``; the last T columns are the chosen ids.

    ``scores`` are *processed* (after temperature, top-k/top-p: filtered tokens are ``-inf``);
    pass ``output_logits`` with ``processed=False`` for raw logits.
    """
    steps = [_to_numpy(s) for s in scores]
    if not steps:
        raise EmptyInputError("scores: no generation steps")
    if any(s.ndim != 2 for s in steps) or len({s.shape for s in steps}) != 1:
        raise ShapeError("scores: expected T arrays of the same shape [B, V]")
    seq = _to_numpy(sequences)
    if seq.ndim == 1:
        seq = seq[None, :]
    b, v = steps[0].shape
    t = len(steps)
    if seq.ndim != 2 or seq.shape[0] != b or seq.shape[1] < t:
        raise ShapeError(f"sequences: expected shape [{b}, prompt + {t}], got {seq.shape}")
    logits = np.stack(steps, axis=1)
    chosen = np.ascontiguousarray(seq[:, -t:], dtype=np.int64)
    prov = Provenance(source="hf_scores", mode="full", vocab_size=int(v), processed=processed)
    return DenseLogits(logits, chosen, prov)
