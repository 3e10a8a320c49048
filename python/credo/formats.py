"""Readers that turn what servers and libraries return into credo's arrays (docs/definitions/signals.md#server-formats).

* :func:`from_openai` — an OpenAI-compatible response: a chat completion
  (``choices[i].logprobs.content[*]``), a legacy completion (``choices[i].logprobs.{tokens,
  token_logprobs, top_logprobs}``), a list of its ``stream=True`` chunks (concatenated in order),
  its ``logprobs`` or ``content`` alone — as the raw body (``bytes``/``str``/``bytearray``/
  ``memoryview``), as parsed dicts, or as the SDK's objects. Read natively (credo-core's
  schema-directed scanner: only the logprobs are parsed, everything else is skipped).
* :func:`from_gemini` — a Gemini ``generateContent`` response (``logprobsResult``,
  ``avgLogprobs``), body or dicts.
* :func:`from_vllm` — vLLM: its OpenAI-compatible server's responses (as :func:`from_openai`), or
  the offline outputs (per-position dicts of token id → ``Logprob`` or float).
* :func:`from_hf_scores` — the per-step ``scores`` tuple of transformers'
  ``generate(output_scores=True)`` and the generated ``sequences``.
* :class:`OpenAIStream` — what an OpenAI-compatible server streams, fed as it arrives, with the
  running top-k summary at any point.

The −9999 sentinel (OpenAI, vLLM) means "outside the top-k" and becomes NaN, rows with fewer
than k entries are padded with NaN, vLLM's k+1 entries (the chosen token appended) are kept and
trimmed to k by :func:`credo.topk_signals`, and a chosen token with no logprob is NaN (LM-Polygraph
inserts −100 instead; pass ``missing_chosen=-100.0`` to reproduce it). A server that returns the
chosen tokens' logprobs but ignores ``top_logprobs`` gives ``k == 0`` (provenance mode
``"chosen-only"``): the chosen-token signals are defined, the top-k ones NaN. Each result records
its :class:`~credo.signals.Provenance`. Malformed input raises a :class:`credo.CredoError` naming
the JSON path of the bad value (``response.choices[0].logprobs.content[17].top_logprobs[3].
logprob: ...``).
"""

from __future__ import annotations

import dataclasses
import reprlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from credo import _credo
from credo._validate import check_bool, check_positive_int
from credo.exceptions import CredoError, EmptyInputError, InvalidArgumentError, ShapeError
from credo.signals import Provenance, TokenSignals, TopkSignals, TopkSummary, token_signals, topk_signals

__all__ = [
    "DenseLogits",
    "OpenAIStream",
    "TopkLogprobs",
    "from_gemini",
    "from_hf_scores",
    "from_openai",
    "from_vllm",
]

SENTINEL = -9999.0


class TopkLogprobs:
    """Top-k logprobs of one generated sequence.

    ``top_logprobs``: ``[T, width]`` float64, sorted descending, NaN where missing;
    ``chosen_logprob``: ``[T]`` (NaN where the server gave none); ``tokens``: the chosen tokens
    (strings for OpenAI, ids for vLLM's offline outputs); ``top_tokens``: per position, the tokens
    of ``top_logprobs`` in the same order; ``k``: the declared top-k (0: chosen logprobs only);
    ``avg_logprob``: Gemini's ``avgLogprobs`` when given. Tokens read from a body are decoded on
    first access.
    """

    __slots__ = (
        "_native",
        "_tokens",
        "_top_tokens",
        "avg_logprob",
        "chosen_logprob",
        "k",
        "provenance",
        "top_logprobs",
    )

    def __init__(
        self,
        top_logprobs: np.ndarray,
        chosen_logprob: np.ndarray,
        tokens: list[Any] | None,
        top_tokens: list[list[Any]] | None,
        k: int,
        provenance: Provenance,
        *,
        avg_logprob: float | None = None,
        native: Any = None,
    ) -> None:
        self.top_logprobs = top_logprobs
        self.chosen_logprob = chosen_logprob
        self._tokens = tokens
        self._top_tokens = top_tokens
        self.k = k
        self.provenance = provenance
        self.avg_logprob = avg_logprob
        self._native = native

    def _load_tokens(self) -> None:
        if self._tokens is None:
            t = self._native.tokens()
            self._tokens, self._top_tokens = t.tokens, t.top_tokens

    @property
    def tokens(self) -> list[Any]:
        self._load_tokens()
        return self._tokens  # type: ignore[return-value]

    @property
    def top_tokens(self) -> list[list[Any]]:
        self._load_tokens()
        return self._top_tokens  # type: ignore[return-value]

    def __repr__(self) -> str:
        t, w = self.top_logprobs.shape
        return f"TopkLogprobs(positions={t}, width={w}, k={self.k}, source={self.provenance.source!r})"

    def signals(self, *, policy: str = "bounds", vocab_size: int | None = None) -> TopkSignals:
        """:func:`credo.topk_signals` of these logprobs (provenance carried over)."""
        return topk_signals(
            self.top_logprobs,
            self.chosen_logprob,
            policy=policy,
            vocab_size=vocab_size if vocab_size is not None else self.provenance.vocab_size,
            k=self.k or None,
            source=self.provenance.source,
            processed=self.provenance.processed,
        )

    def summary(self, *, policy: str = "bounds", vocab_size: int | None = None) -> TopkSummary:
        """:func:`credo.signals.topk_summary` of these logprobs (one native pass)."""
        from credo.signals import topk_summary

        return topk_summary(
            self.top_logprobs,
            self.chosen_logprob,
            policy=policy,
            vocab_size=vocab_size if vocab_size is not None else self.provenance.vocab_size,
            k=self.k or None,
        )


@dataclass(frozen=True)
class DenseLogits:
    """Full-vocabulary scores ``[B, T, V]`` with the chosen ids ``[B, T]``."""

    logits: np.ndarray
    chosen: np.ndarray
    provenance: Provenance

    def signals(self, *, temperature: float = 1.0, threads: int | None = None, invalid: str = "raise") -> TokenSignals:
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


_BODY_TYPES = (bytes, str, bytearray, memoryview)
_SOURCES = {"chat": "openai", "chunks": "openai", "legacy": "openai-legacy", "gemini": "gemini"}


def _missing_chosen(value: Any) -> float:
    """The logprob given to a chosen token the server gave none for: a number (NaN, the
    default, marks it missing), not a bool or text."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidArgumentError(f"missing_chosen: must be a number, got {reprlib.repr(value)}")
    return float(value)


def _read(
    response: Any,
    *,
    choice: int,
    k: int | None,
    missing_chosen: float,
    source: str | None,
    processed: bool | None,
    choice_arg: str = "choice",
) -> TopkLogprobs:
    """The native reader, wrapped as :class:`TopkLogprobs`; ``choice_arg`` is what the caller
    calls the choice (Gemini's ``candidate``), for the errors."""
    choice = check_positive_int(choice, choice_arg, minimum=0)
    if k is not None:
        k = check_positive_int(k, "k")
    fill = _missing_chosen(missing_chosen)
    try:
        r = _credo.read_logprobs(response, choice=choice, k=k, tokens=True, missing_chosen=fill)
    except CredoError as exc:
        if choice_arg != "choice" and str(exc).startswith("choice:"):
            raise type(exc)(choice_arg + str(exc)[len("choice") :]) from None
        raise
    prov = Provenance(
        source=source or _SOURCES[r.layout],
        mode="top-k" if r.k else "chosen-only",
        k=r.k,
        renormalization="raw",
        processed=processed,
    )
    return TopkLogprobs(r.top_logprobs, r.chosen_logprob, None, None, r.k, prov, avg_logprob=r.avg_logprob, native=r)


def from_openai(
    response: Any, *, choice: int = 0, k: int | None = None, missing_chosen: float = np.nan
) -> TopkLogprobs:
    """Top-k logprobs of choice ``choice`` of an OpenAI-compatible response.

    ``response``: the body (``bytes``, ``str``, ``bytearray``, ``memoryview``), the parsed
    response (dicts) or the SDK's object; or its ``choices[i].logprobs``, or the ``content`` list;
    or a list of its ``stream=True`` chunks (dicts or SDK objects; ``choice`` is then the chunks'
    ``index``). Chat and legacy completions; extra fields are skipped. ``k``: the
    ``top_logprobs`` requested (default: the widest position). Read natively: about 0.1 ms for a
    body of 256 tokens × top-20.

    >>> import credo
    >>> top = b'[{"token":"Hi","logprob":-0.1},{"token":"Yo","logprob":-2.4}]'
    >>> body = b'{"choices":[{"logprobs":{"content":[{"token":"Hi","logprob":-0.1,"top_logprobs":' + top + b"}]}}]}"
    >>> r = credo.formats.from_openai(body)
    >>> r.top_logprobs.tolist(), r.tokens, r.k
    ([[-0.1, -2.4]], ['Hi'], 2)
    """
    return _read(response, choice=choice, k=k, missing_chosen=missing_chosen, source=None, processed=True)


def from_gemini(
    response: Any, *, candidate: int = 0, k: int | None = None, missing_chosen: float = np.nan
) -> TopkLogprobs:
    """Top-k logprobs of a Gemini ``generateContent`` response (body, dicts, or ``model_dump()``
    of the SDK's object): ``candidates[i].logprobsResult`` (``chosenCandidates``, and
    ``topCandidates`` when ``logprobs`` was requested) and ``avgLogprobs`` (as ``avg_logprob``).
    A candidate whose ``logProbability`` is absent has logprob 0 (protobuf's JSON omits default
    values).
    """
    r = _read(
        response,
        choice=candidate,
        k=k,
        missing_chosen=missing_chosen,
        source=None,
        processed=True,
        choice_arg="candidate",
    )
    if r.provenance.source != "gemini":
        raise InvalidArgumentError("response: not a Gemini response (no candidates[i].logprobsResult)")
    return r


def _vllm_value(v: Any) -> float:
    if isinstance(v, Mapping):
        v = v.get("logprob")
    elif hasattr(v, "logprob"):
        v = v.logprob
    return _lp(v)


def _token_id(x: Any, what: str) -> int:
    """A token id (or rank): an integer, not a bool."""
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)):
        raise InvalidArgumentError(f"{what}: expected an integer, got {reprlib.repr(x)}")
    return int(x)


def _is_server_response(x: Any) -> bool:
    """A response of vLLM's OpenAI-compatible server (body, dicts or SDK object)."""
    if isinstance(x, _BODY_TYPES):
        return True
    if isinstance(x, Mapping):
        return "choices" in x
    return hasattr(x, "choices") and not hasattr(x, "outputs")


def from_vllm(
    outputs: Any,
    token_ids: Sequence[int] | None = None,
    *,
    k: int | None = None,
    processed: bool | None = False,
    missing_chosen: float = np.nan,
) -> TopkLogprobs:
    """Top-k logprobs from vLLM: its OpenAI-compatible server's response (body, dicts or the
    openai SDK's object: read as :func:`from_openai`, source ``"vllm"``), a ``RequestOutput`` (its first completion), a
    ``CompletionOutput`` (``.logprobs`` and ``.token_ids``), or a list of per-position dicts
    {token id: ``Logprob`` | float} with ``token_ids``.

    vLLM returns the top-k plus the chosen token when it is outside them (k+1 entries); ``k``
    is taken from the ``Logprob.rank`` values when present, else from the shortest position
    (pass it to be exact). ``processed``: vLLM V1 returns raw logprobs by default (False).
    """
    if k is not None:
        k = check_positive_int(k, "k")
    if processed is not None:
        processed = check_bool(processed, "processed")
    missing_chosen = _missing_chosen(missing_chosen)
    if _is_server_response(outputs):
        return _read(outputs, choice=0, k=k, missing_chosen=missing_chosen, source="vllm", processed=processed)
    if hasattr(outputs, "outputs") and not isinstance(outputs, (list, tuple)):
        outputs = outputs.outputs[0]
    if hasattr(outputs, "logprobs") and not isinstance(outputs, (list, tuple)):
        if token_ids is None:
            token_ids = list(outputs.token_ids)
        outputs = outputs.logprobs
    if outputs is None:
        raise InvalidArgumentError("outputs: no logprobs (request them with SamplingParams(logprobs=k))")
    if not isinstance(outputs, Sequence) or isinstance(outputs, (str, bytes)):
        raise InvalidArgumentError(f"outputs: expected a list of per-position dicts, got {type(outputs).__name__}")
    positions = list(outputs)
    for i, pos in enumerate(positions):
        if not isinstance(pos, Mapping):
            raise InvalidArgumentError(
                f"outputs[{i}]: each position must be a dict of token id -> logprob, got {type(pos).__name__}"
            )
    if token_ids is None:
        raise InvalidArgumentError("token_ids: needed with a plain list of per-position dicts")
    if not isinstance(token_ids, Sequence) or isinstance(token_ids, (str, bytes)):
        raise InvalidArgumentError(f"token_ids: expected a list of token ids, got {type(token_ids).__name__}")
    ids = [_token_id(t, f"token_ids[{i}]") for i, t in enumerate(token_ids)]
    if len(ids) != len(positions):
        raise ShapeError(f"token_ids: has {len(ids)} ids but there are {len(positions)} positions")
    if not positions:
        raise EmptyInputError("outputs: no positions")
    rows: list[list[tuple[Any, float]]] = []
    chosen: list[float] = []
    ranks_k = 0
    for tok, pos in zip(ids, positions, strict=True):
        rows.append([(_token_id(t, "outputs: a token id"), _vllm_value(v)) for t, v in pos.items()])
        chosen.append(_vllm_value(pos[tok]) if tok in pos else float("nan"))
        for t, v in pos.items():
            r = getattr(v, "rank", None) if not isinstance(v, Mapping) else v.get("rank")
            if r is not None and t != tok:
                ranks_k = max(ranks_k, _token_id(r, "outputs: a Logprob.rank"))
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


def _hf_array(x: Any, name: str, kinds: str, what: str) -> np.ndarray:
    """``x`` (a NumPy array, a list, or a torch tensor on any device) as a NumPy array whose
    dtype kind is one of ``kinds``, else an error naming ``name``."""
    try:
        arr = _to_numpy(x)
    except (TypeError, ValueError, OverflowError) as exc:  # ragged or deeply nested lists, huge ints
        raise InvalidArgumentError(f"{name}: cannot be read as an array ({exc})") from None
    if arr.dtype.kind not in kinds:
        raise InvalidArgumentError(f"{name}: expected {what}, got an array of dtype {arr.dtype}")
    return arr


def from_hf_scores(scores: Sequence[Any], sequences: Any, *, processed: bool = True) -> DenseLogits:
    """Dense logits from transformers' ``generate(..., output_scores=True,
    return_dict_in_generate=True)``: ``scores`` is a tuple of T arrays ``[B, V]`` (one per
    generated step), ``sequences`` is ``[B, prompt + T]``; the last T columns are the chosen ids,
    which must lie in [0, V).

    ``scores`` are *processed* (after temperature, top-k/top-p: filtered tokens are ``-inf``);
    pass ``output_logits`` with ``processed=False`` for raw logits. Scores are passed on as they
    are: a NaN (a numerical failure in the model) is left to :meth:`DenseLogits.signals`, which
    refuses the row or marks it NaN as its ``invalid=`` says.
    """
    processed = check_bool(processed, "processed")
    if isinstance(scores, (str, bytes, Mapping)) or not isinstance(scores, Iterable):
        raise InvalidArgumentError(
            f"scores: expected a sequence of T arrays [B, V] (one per step), got {type(scores).__name__}"
        )
    steps = [_hf_array(s, f"scores[{i}]", "iuf", "real-valued scores") for i, s in enumerate(scores)]
    if not steps:
        raise EmptyInputError("scores: no generation steps")
    if any(s.ndim != 2 for s in steps) or len({s.shape for s in steps}) != 1:
        raise ShapeError("scores: expected T arrays of the same shape [B, V]")
    seq = _hf_array(sequences, "sequences", "iu", "integer token ids")
    if seq.ndim == 1:
        seq = seq[None, :]
    b, v = steps[0].shape
    t = len(steps)
    if seq.ndim != 2 or seq.shape[0] != b or seq.shape[1] < t:
        raise ShapeError(f"sequences: expected shape [{b}, prompt + {t}], got {seq.shape}")
    ids = seq[:, -t:]
    if ids.min() < 0 or ids.max() >= v:
        raise InvalidArgumentError(
            f"sequences: the generated token ids must lie in [0, {v}) (the scores' vocabulary), "
            f"got values in [{ids.min()}, {ids.max()}]"
        )
    logits = np.stack(steps, axis=1)
    chosen = np.ascontiguousarray(ids, dtype=np.int64)
    prov = Provenance(source="hf_scores", mode="full", vocab_size=int(v), processed=processed)
    return DenseLogits(logits, chosen, prov)


class OpenAIStream:
    """The running top-k signals of a streamed (``stream=True``) OpenAI-compatible response.

    Feed it what arrives — raw server-sent-event bytes split anywhere (``bytes``, ``str``,
    ``bytearray``, ``memoryview``), single SSE lines (:meth:`feed_line`), or parsed chunks (dicts,
    the openai SDK's ``ChatCompletionChunk`` objects, or a list of them) — and ask for
    :meth:`summary` at any point, for example to stop a generation whose running confidence
    collapses. Each choice (by its ``index``) keeps its own state; the final summary equals
    :func:`credo.signals.topk_summary` of the non-streamed response, bit for bit. Each position
    costs about a microsecond beyond parsing its chunk (the row is reduced on arrival; the
    summary aggregates the reduced rows). ``policy``, ``vocab_size`` and ``k`` as for
    :func:`credo.signals.topk_summary`. Safe to share between threads.

    >>> import credo
    >>> s = credo.formats.OpenAIStream()
    >>> top = b'[{"token":"Hi","logprob":-0.1},{"token":"Yo","logprob":-2.4}]'
    >>> entry = b'{"token":"Hi","logprob":-0.1,"top_logprobs":' + top + b"}"
    >>> chunk = b'data: {"choices":[{"index":0,"logprobs":{"content":[' + entry + b"]}}]}\\n\\n"
    >>> s.feed(chunk[:50]), s.feed(chunk[50:] + b"data: [DONE]\\n\\n")
    (0, 1)
    >>> s.done, s.summary().n_tokens, round(s.summary().mean_logprob, 3)
    (True, 1, -0.1)
    """

    __slots__ = ("_native",)

    def __init__(self, *, policy: str = "bounds", vocab_size: int | None = None, k: int | None = None) -> None:
        if k is not None:
            k = check_positive_int(k, "k")
        if vocab_size is not None:
            vocab_size = check_positive_int(vocab_size, "vocab_size")
        self._native = _credo.OpenAIStream(policy=policy, vocab_size=vocab_size, k=k)

    def feed(self, data: Any) -> int:
        """Feeds what arrived; returns the number of new positions (over all choices)."""
        try:
            return self._native.feed(data)
        except UnicodeEncodeError as exc:  # a str with a lone surrogate is no UTF-8 text
            raise InvalidArgumentError(f"data: text is not valid Unicode ({exc.reason} at {exc.start})") from None

    def feed_line(self, line: str | bytes) -> int:
        """Feeds one complete SSE line (as ``httpx``'s ``iter_lines()`` yields them)."""
        if not isinstance(line, (str, bytes, bytearray, memoryview)):
            raise InvalidArgumentError(f"line: expected one SSE line (str or bytes), got {type(line).__name__}")
        try:
            return self._native.feed_line(line)
        except UnicodeEncodeError as exc:
            raise InvalidArgumentError(f"line: text is not valid Unicode ({exc.reason} at {exc.start})") from None

    def summary(self, choice: int = 0) -> TopkSummary:
        """The running summary of choice ``choice`` (its positions so far)."""
        return TopkSummary(*self._native.summary(check_positive_int(choice, "choice", minimum=0)))

    def logprobs(self, choice: int = 0) -> TopkLogprobs:
        """The positions of choice ``choice`` so far, as :func:`from_openai` gives them (without
        tokens: the stream keeps the numbers only)."""
        arrays = self._native.arrays(check_positive_int(choice, "choice", minimum=0))
        top, chosen = arrays.top_logprobs, arrays.chosen_logprob
        k = top.shape[1] if not np.isnan(top).all() else 0
        prov = Provenance(
            source="openai", mode="top-k" if k else "chosen-only", k=k, renormalization="raw", processed=True
        )
        return TopkLogprobs(top, chosen, [], [], k, prov)

    @property
    def done(self) -> bool:
        """Whether ``data: [DONE]`` has arrived."""
        return self._native.done

    @property
    def chunks(self) -> int:
        """Chunks read so far."""
        return self._native.chunks

    @property
    def choices(self) -> list[int]:
        """The ``index`` of every choice seen so far."""
        return self._native.choices
