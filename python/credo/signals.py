"""Confidence signals from what a language model emits.

* :func:`token_signals` — per position, from full-vocabulary logits ``[T, V]`` or ``[B, T, V]``
  (float32, float16, bfloat16 via ``ml_dtypes``, float64, or a torch tensor through DLPack),
  computed in one fused SIMD pass per row with the GIL released.
* :func:`sequence_signals` — per sequence, from token signals (or straight from logits), over
  the valid positions given by ``lengths`` or ``mask``.
* :func:`topk_signals` — per position, from the top-k logprobs a server returns, under an
  explicit renormalisation ``policy``.
* :func:`topk_summary` — one response's top-k logprobs straight to sequence-level features in
  one native pass (the single-request path of the decision layer, a few microseconds);
  :func:`topk_summary_batch` does many responses in one call, in parallel, without the GIL.

Every result carries a :class:`Provenance`: entropy over 20 processed top-k logprobs is not
comparable with full-vocabulary entropy, and the provenance says which one you hold.
Inputs are borrowed without copying when C-contiguous; do not mutate them during a call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, NamedTuple

import numpy as np

from credo import _array_api as _xp
from credo import _credo
from credo._validate import as_native, as_real_array, check_bool, check_choice, check_positive_int, check_real
from credo.exceptions import CredoError, EmptyInputError, InvalidArgumentError, ShapeError

__all__ = [
    "Provenance",
    "SequenceSignals",
    "TokenSignals",
    "TopkSignals",
    "TopkSummary",
    "sequence_signals",
    "simd_level",
    "simd_levels",
    "token_signals",
    "topk_signals",
    "topk_summary",
    "topk_summary_batch",
]

_SIMD_CHOICES = ("auto", "scalar", "neon", "avx2", "avx512")
#: Where signals can come from (:attr:`Provenance.source`; ``topk_signals(source=...)``).
SOURCES = ("top_logprobs", "logits", "openai", "openai-legacy", "gemini", "vllm", "hf_scores")


@dataclass(frozen=True)
class Provenance:
    """Where a signal came from, so that only like is compared with like.

    ``source``: ``"logits"``, ``"openai"``, ``"openai-legacy"``, ``"gemini"``, ``"vllm"``,
    ``"hf_scores"`` or ``"top_logprobs"``;
    ``mode``: ``"full"`` (whole vocabulary) or ``"top-k"``; ``k``: entries per position in top-k
    mode; ``vocab_size``: V when known; ``temperature`` the logits were divided by;
    ``renormalization``: ``"softmax"`` (full vocabulary), or the top-k policy (``"raw"``,
    ``"renormalized"``, ``"bounds"``); ``processed``: whether the values had passed the sampler's
    logits processors (temperature, top-p, penalties), ``None`` when unknown.
    """

    source: str = "logits"
    mode: str = "full"
    k: int | None = None
    vocab_size: int | None = None
    temperature: float = 1.0
    renormalization: str = "softmax"
    processed: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fields(obj: Any) -> dict[str, np.ndarray]:
    # Arrays of any library (device results are arrays of the input's library).
    return {k: v for k, v in vars(obj).items() if hasattr(v, "shape") and hasattr(v, "dtype")}


_NATIVE_NAMES: dict[tuple[type, type], tuple[str, ...]] = {}


def _native_fields(native: Any, cls: type, lead: tuple[int, ...] | None = None) -> dict[str, Any]:
    """The fields of dataclass ``cls`` that the native result ``native`` holds (its flat arrays
    reshaped to ``lead`` when given; None stays None), by name."""
    key = (type(native), cls)
    names = _NATIVE_NAMES.get(key)
    if names is None:
        names = _NATIVE_NAMES[key] = tuple(f.name for f in fields(cls) if hasattr(type(native), f.name))
    out = {}
    for name in names:
        v = getattr(native, name)
        out[name] = v.reshape(lead) if lead is not None and isinstance(v, np.ndarray) else v
    return out


@dataclass(frozen=True)
class TokenSignals:
    """Per-position signals; every array has the logits' leading shape (``[T]`` or ``[B, T]``).

    ``entropy`` (nats), ``logsumexp``, ``max_logprob``, ``margin_logit`` (top-1 − top-2, of
    logits/temperature; ``inf`` when one entry is finite, 0 on a tie), ``margin_prob``
    (p₁ − p₂) and ``argmax`` always; ``chosen_logprob`` and ``chosen_rank`` (0 = the argmax;
    the number of tokens with a strictly larger logit) when ``chosen`` ids were given.
    """

    entropy: np.ndarray
    logsumexp: np.ndarray
    max_logprob: np.ndarray
    argmax: np.ndarray
    margin_logit: np.ndarray
    margin_prob: np.ndarray
    chosen_logprob: np.ndarray | None
    chosen_rank: np.ndarray | None
    chosen: np.ndarray | None
    provenance: Provenance
    simd: str = field(default="scalar", compare=False)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.entropy.shape)

    def to_dict(self) -> dict[str, np.ndarray]:
        """The signal arrays by name (those that were computed)."""
        return _fields(self)


@dataclass(frozen=True)
class SequenceSignals:
    """Per-sequence aggregates (arrays of length B) over each sequence's valid positions.

    The last valid position (EOS) is included unless ``include_eos=False`` was passed.
    ``perplexity`` = exp(−mean_logprob); ``mean_margin``/``min_margin`` are over p₁ − p₂;
    ``repeated_ngram_fraction`` = 1 − distinct/total n-grams of the chosen ids and
    ``longest_repeat_run`` the longest run of one id repeated back to back (NaN / −1 without
    chosen ids). A sequence with no valid position has NaN aggregates.
    """

    n_tokens: np.ndarray
    mean_entropy: np.ndarray
    max_entropy: np.ndarray
    sum_logprob: np.ndarray
    mean_logprob: np.ndarray
    min_logprob: np.ndarray
    perplexity: np.ndarray
    mean_margin: np.ndarray
    min_margin: np.ndarray
    repeated_ngram_fraction: np.ndarray
    longest_repeat_run: np.ndarray
    provenance: Provenance
    include_eos: bool = True

    def to_dict(self) -> dict[str, np.ndarray]:
        return _fields(self)

    def lm_polygraph(self) -> dict[str, np.ndarray]:
        """LM-Polygraph's sequence estimators (docs/definitions/signals.md#sequence-estimators), as
        uncertainties (higher = less confident): ``MaximumSequenceProbability`` = −Σ log p(yₜ), ``Perplexity`` =
        −mean log p(yₜ) (no exp), ``MeanTokenEntropy`` = mean entropy, EOS included."""
        return {
            "MaximumSequenceProbability": -self.sum_logprob,
            "Perplexity": -self.mean_logprob,
            "MeanTokenEntropy": self.mean_entropy.copy(),
        }

    def uqlm(self) -> dict[str, np.ndarray]:
        """UQLM's white-box confidences: length-normalised ``sequence_probability`` =
        exp(mean log p), its unnormalised product, ``min_probability`` = min p."""
        return {
            "sequence_probability": np.exp(self.mean_logprob),
            "sequence_probability_unnormalized": np.exp(self.sum_logprob),
            "min_probability": np.exp(self.min_logprob),
        }


@dataclass(frozen=True)
class TopkSignals:
    """Per-position signals from top-k logprobs (arrays of the input's leading shape).

    ``entropy`` follows the policy (``bounds``: the lower bound); ``entropy_lower`` and
    ``entropy_upper`` bound the full-vocabulary entropy (upper is NaN without ``vocab_size``);
    ``tail_mass`` = 1 − Σp; ``negentropy`` = UQLM's 1 − H_renormalised/log k (NaN with fewer
    than k entries); ``chosen_rank`` = entries above the chosen logprob (``n_valid`` when the
    chosen token is outside the returned top-k, −1 when it is missing).
    """

    entropy: np.ndarray
    entropy_lower: np.ndarray
    entropy_upper: np.ndarray
    tail_mass: np.ndarray
    negentropy: np.ndarray
    max_logprob: np.ndarray
    margin_prob: np.ndarray
    n_valid: np.ndarray
    chosen_logprob: np.ndarray | None
    chosen_rank: np.ndarray | None
    provenance: Provenance

    def to_dict(self) -> dict[str, np.ndarray]:
        return _fields(self)


def simd_level() -> str:
    """The instruction-set level used by default (``CREDO_SIMD`` may lower it)."""
    return _credo.simd_level()


def simd_levels() -> list[str]:
    """Every instruction-set level this CPU supports, lowest first."""
    return list(_credo.simd_levels())


def _threads(threads: Any) -> int | None:
    return None if threads is None else check_positive_int(threads, "threads")


def _temperature(t: Any) -> float:
    v = check_real(t, "temperature")
    if not (np.isfinite(v) and v > 0):
        raise InvalidArgumentError(f"temperature: must be a finite positive number, got {t!r}")
    return v


def _processed(processed: Any) -> bool | None:
    """``processed`` (True, False or None: unknown) as a Python bool or None."""
    return None if processed is None else check_bool(processed, "processed")


def _from_tensor(x: Any) -> np.ndarray:
    """A NumPy view of a CPU torch (or other DLPack / ``__array__``) array, bfloat16 included."""
    return _xp.host_view(x, "logits")


def _bf16_dtype() -> Any:
    try:
        import ml_dtypes
    except ImportError:  # pragma: no cover - the marker dtype is only used to label the view
        return np.dtype(np.uint16)
    return np.dtype(ml_dtypes.bfloat16)


def _as_logits(logits: Any) -> tuple[np.ndarray, str]:
    """C-contiguous logits and the dtype name the native module is told."""
    if isinstance(logits, np.ndarray):
        arr = logits
    elif hasattr(logits, "__dlpack__") or type(logits).__module__.startswith("torch"):
        arr = _from_tensor(logits)
    else:
        try:
            arr = np.asarray(logits)
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(f"logits: cannot be read as an array ({exc})") from None
    if arr.ndim not in (2, 3):
        raise ShapeError(f"logits: expected a 2-D [T, V] or 3-D [B, T, V] array, got shape {arr.shape}")
    if arr.size == 0:
        raise EmptyInputError(f"logits: is empty (shape {arr.shape})")
    try:
        return _laid_out(arr)
    except MemoryError:  # a broadcast view of astronomic shape, say
        raise InvalidArgumentError(f"logits: too large to lay out in memory (shape {arr.shape})") from None


def _laid_out(arr: np.ndarray) -> tuple[np.ndarray, str]:
    """:func:`_as_logits` of an array of the right rank and size: the layout and dtype name."""
    name = arr.dtype.name
    # C-contiguous and aligned (a memory-mapped file may place data at any byte offset):
    # already-conforming arrays pass through without a copy.
    if name == "bfloat16":
        return np.require(
            arr.view(np.uint16) if arr.flags.c_contiguous else np.ascontiguousarray(arr).view(np.uint16),
            requirements=["C", "A"],
        ), "bfloat16"
    if name in ("float16", "float32", "float64"):
        return as_native(arr), name
    if arr.dtype.kind == "f":  # longdouble and friends
        return np.require(arr, dtype=np.float64, requirements=["C", "A"]), "float64"
    raise InvalidArgumentError(
        f"logits: expected floating-point logits (float16, bfloat16, float32 or float64), got dtype {arr.dtype}"
    )


def _small_array(x: Any, name: str) -> np.ndarray:
    """``x`` as a NumPy array, or an error naming ``name`` (ragged or deeply nested lists)."""
    try:
        return np.asarray(x)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidArgumentError(f"{name}: cannot be read as an array ({exc})") from None


def _as_ids(chosen: Any, shape: tuple[int, ...], name: str = "chosen") -> np.ndarray:
    try:
        arr = np.asarray(chosen)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"{name}: cannot be read as an array of token ids ({exc})") from None
    if arr.dtype.kind not in "iu":
        raise InvalidArgumentError(f"{name}: token ids must be integers, got dtype {arr.dtype}")
    if arr.shape != shape:
        raise ShapeError(f"{name}: has shape {arr.shape} but the logits have {shape} positions")
    return np.require(arr, dtype=np.int64, requirements=["C", "A"]).reshape(-1)


def token_signals(
    logits: Any,
    chosen: Any = None,
    *,
    temperature: float = 1.0,
    threads: int | None = None,
    invalid: str = "raise",
    processed: bool | None = None,
    _simd: str | None = None,
) -> TokenSignals:
    """Token signals of ``logits`` (``[T, V]`` or ``[B, T, V]``) divided by ``temperature``.

    ``chosen``: the sampled token ids (shape ``[T]`` / ``[B, T]``) for ``chosen_logprob`` and
    ``chosen_rank``. ``-inf`` logits are masked tokens and contribute nothing. A row with NaN,
    ``+inf`` or no finite entry raises :class:`~credo.NonFiniteError` naming it, or yields NaN
    signals (argmax and rank −1) with ``invalid="nan"``. ``threads``: worker threads (default:
    all cores); results are bit-identical for any count. ``processed`` is recorded in the
    provenance (whether these are post-processor scores).

    >>> import numpy as np, credo
    >>> s = credo.token_signals(np.log([[0.5, 0.25, 0.25]]), chosen=[1])
    >>> round(float(s.entropy[0]), 4), int(s.chosen_rank[0])
    (1.0397, 1)
    """
    t = _temperature(temperature)
    processed = _processed(processed)
    if (xp := _xp.namespace_of(logits)) is not None:  # a device array: computed on its device
        on_device: TokenSignals = _xp.token_signals(
            xp, logits, chosen, temperature=t, invalid=invalid, processed=processed
        )
        return on_device
    arr, dtype = _as_logits(logits)
    if _simd is not None:
        check_choice(_simd, "_simd", _SIMD_CHOICES)
    lead = tuple(arr.shape[:-1])
    ids = None if chosen is None else _as_ids(chosen, lead)
    batch = arr.shape[0] if arr.ndim == 3 else None
    out = _credo.token_signals(
        arr, dtype, batch, arr.shape[-2], arr.shape[-1], ids, t, _threads(threads), _simd, invalid
    )
    prov = Provenance(source="logits", mode="full", vocab_size=int(arr.shape[-1]), temperature=t, processed=processed)
    return TokenSignals(
        **_native_fields(out, TokenSignals, lead),
        chosen=None if ids is None else ids.reshape(lead),
        provenance=prov,
    )


def sequence_signals(
    signals: TokenSignals | Any,
    chosen: Any = None,
    *,
    lengths: Any = None,
    mask: Any = None,
    include_eos: bool = True,
    ngram: int = 3,
    temperature: float = 1.0,
    threads: int | None = None,
    invalid: str = "raise",
) -> SequenceSignals:
    """Per-sequence signals from :class:`TokenSignals` (or from logits, computed on the way).

    ``lengths`` (one per sequence: the first ``lengths[b]`` positions are valid) or ``mask``
    (``[B, T]`` booleans) select the valid positions of a padded batch; by default all are.
    ``include_eos=False`` drops each sequence's last valid position (LM-Polygraph's
    token-level convention); the default keeps it (its ``MeanTokenEntropy``,
    ``MaximumSequenceProbability`` and ``Perplexity``, see :meth:`SequenceSignals.lm_polygraph`).
    ``ngram``: n for ``repeated_ngram_fraction``. Token signals of a single ``[T]`` sequence
    give arrays of length 1.
    """
    include_eos = check_bool(include_eos, "include_eos")
    if not isinstance(signals, TokenSignals):
        try:
            signals = token_signals(signals, chosen, temperature=temperature, threads=threads, invalid=invalid)
        except CredoError as exc:  # token_signals calls its array "logits"; here it is "signals"
            if str(exc).startswith("logits:"):
                raise type(exc)("signals" + str(exc)[len("logits") :]) from None
            raise
    elif chosen is not None:
        raise InvalidArgumentError("chosen: pass chosen ids to token_signals, not with precomputed signals")
    _xp.refuse_device(signals.entropy, "signals")  # the sequence aggregates run on the CPU only
    shape = signals.shape
    b, t = (1, shape[0]) if len(shape) == 1 else shape
    if lengths is not None and mask is not None:
        raise InvalidArgumentError("lengths: give either lengths or mask, not both")
    lens = None
    if lengths is not None:
        lens = _small_array(lengths, "lengths")
        if lens.ndim == 0:
            lens = lens.reshape(1)
        if lens.dtype.kind not in "iu":
            raise InvalidArgumentError(f"lengths: must be integers, got dtype {lens.dtype}")
        if lens.shape != (b,):
            raise ShapeError(f"lengths: has shape {lens.shape} but there are {b} sequences")
        lens = np.require(lens, dtype=np.int64, requirements=["C", "A"])
    m = None
    if mask is not None:
        m = _small_array(mask, "mask")
        if m.dtype.kind not in "biu":
            raise InvalidArgumentError(f"mask: must be booleans, got dtype {m.dtype}")
        if m.shape != shape:
            raise ShapeError(f"mask: has shape {m.shape} but the signals have shape {shape}")
        m = np.ascontiguousarray(m != 0, dtype=np.uint8).reshape(-1)
    n = check_positive_int(ngram, "ngram")

    def flat(x: np.ndarray, dtype: Any) -> np.ndarray:
        return np.require(x, dtype=dtype, requirements=["C", "A"]).reshape(-1)

    out = _credo.sequence_signals(
        b,
        t,
        flat(signals.entropy, np.float64),
        flat(signals.margin_prob, np.float64),
        None if signals.chosen_logprob is None else flat(signals.chosen_logprob, np.float64),
        None if signals.chosen is None else flat(signals.chosen, np.int64),
        lens,
        m,
        not include_eos,
        n,
    )
    return SequenceSignals(
        **_native_fields(out, SequenceSignals), provenance=signals.provenance, include_eos=include_eos
    )


def topk_signals(
    top_logprobs: Any,
    chosen_logprob: Any = None,
    *,
    policy: str = "bounds",
    vocab_size: int | None = None,
    k: int | None = None,
    sentinel: float = -9999.0,
    source: str = "top_logprobs",
    processed: bool | None = None,
) -> TopkSignals:
    """Signals from top-k logprobs ``[T, k]`` (or ``[B, T, k]``) and the chosen token's logprob.

    Entries that are NaN, ``-inf`` or at most ``sentinel`` (OpenAI/vLLM's −9999; a finite
    number) are missing, so rows may hold fewer than k. With ``k`` given, only the k largest
    entries count (vLLM can return k+1, the chosen token appended). ``policy``: ``"raw"``
    (no renormalisation, LM-Polygraph), ``"renormalized"`` (over the returned entries, UQLM) or
    ``"bounds"`` (default: lower and upper bounds on the full-vocabulary entropy from the tail
    mass 1 − Σp; the upper bound needs ``vocab_size``).
    """
    sentinel = check_real(sentinel, "sentinel")  # the kernel refuses ±inf, naming it
    source = check_choice(source, "source", SOURCES)
    processed = _processed(processed)
    if (xp := _xp.namespace_of(top_logprobs, chosen_logprob)) is not None:
        device_signals: TopkSignals = _xp.topk_signals(
            xp,
            top_logprobs,
            chosen_logprob,
            policy=policy,
            vocab_size=vocab_size,
            k=k,
            sentinel=sentinel,
            source=source,
            processed=processed,
        )
        return device_signals
    top = as_real_array(top_logprobs, "top_logprobs")
    if top.ndim not in (2, 3):
        raise ShapeError(f"top_logprobs: expected a 2-D [T, k] or 3-D [B, T, k] array, got shape {top.shape}")
    if top.size == 0:
        raise EmptyInputError(f"top_logprobs: is empty (shape {top.shape})")
    lead = tuple(top.shape[:-1])
    chosen = None
    if chosen_logprob is not None:
        chosen = as_real_array(chosen_logprob, "chosen_logprob")
        if chosen.shape != lead:
            raise ShapeError(f"chosen_logprob: has shape {chosen.shape} but top_logprobs have {lead} positions")
        chosen = np.require(chosen, requirements=["C", "A"]).reshape(-1)
    kk = None if k is None else check_positive_int(k, "k")
    v = None if vocab_size is None else check_positive_int(vocab_size, "vocab_size")
    flat = np.require(top.reshape(-1, top.shape[-1]), requirements=["C", "A"])
    out = _credo.topk_signals(flat, chosen, policy, v, kk, sentinel)
    prov = Provenance(
        source=source,
        mode="top-k",
        k=kk if kk is not None else int(top.shape[-1]),
        vocab_size=v,
        renormalization=policy,
        processed=processed,
    )
    return TopkSignals(**_native_fields(out, TopkSignals, lead), provenance=prov)


class TopkSummary(NamedTuple):
    """Sequence-level features of one response's top-k logprobs (:func:`topk_summary`).

    Each is an aggregate over positions of the matching :class:`TopkSignals` field, skipping
    NaN positions (NaN when none is defined): ``mean_entropy``/``max_entropy`` of the policy's
    entropy, ``mean_entropy_upper`` (NaN without ``vocab_size``), ``mean_tail_mass``/
    ``max_tail_mass``, ``mean_margin``/``min_margin`` (p₁ − p₂), ``mean_max_logprob``, and of the
    chosen token's logprob ``sum_logprob``/``mean_logprob``/``min_logprob``; ``not_top1`` is the
    share of positions whose chosen token is not the top-1 entry. The chosen-token fields are NaN
    without ``chosen_logprob``.
    """

    n_tokens: int
    mean_entropy: float
    max_entropy: float
    mean_entropy_upper: float
    mean_tail_mass: float
    max_tail_mass: float
    mean_margin: float
    min_margin: float
    mean_max_logprob: float
    sum_logprob: float
    mean_logprob: float
    min_logprob: float
    not_top1: float


_np_ndarray = np.ndarray
_F64 = np.dtype(np.float64)
_F32 = np.dtype(np.float32)
_summary = _credo.topk_summary
_summary_batch = _credo.topk_summary_batch
_make_summary = TopkSummary._make


def topk_summary(
    top_logprobs: Any,
    chosen_logprob: Any = None,
    *,
    policy: str = "bounds",
    vocab_size: int | None = None,
    k: int | None = None,
    sentinel: float = -9999.0,
) -> TopkSummary:
    """Sequence-level features of one response from its top-k logprobs ``[T, k]`` and the chosen
    tokens' logprobs ``[T]`` (as :func:`credo.formats.from_openai` / ``from_vllm`` give them), in
    one native pass: :func:`topk_signals` followed by the per-sequence aggregates, without the
    intermediate arrays.

    Same missing-entry rules, ``policy``, ``k`` and ``vocab_size`` as :func:`topk_signals`, and the
    same per-position values up to a few ulp (the native pass takes each ``exp`` once, in a
    vectorised loop). A C-contiguous float64 or float32 array goes straight to the kernel; other
    inputs are converted first. For the single-request path (a few microseconds for 256 × 20
    records, the GIL released for the larger ones).

    >>> import numpy as np, credo
    >>> top = np.log([[0.6, 0.3], [0.9, 0.05]])
    >>> s = credo.signals.topk_summary(top, top[:, 0], policy="raw")
    >>> s.n_tokens, round(s.mean_logprob, 4), s.not_top1
    (2, -0.3081, 0.0)
    """
    if policy == "bounds" and vocab_size is None and k is None and sentinel.__class__ is float and not _xp.FORCE:
        # The per-request fast path: the kernel checks its input itself (dtype, layout, shapes,
        # values), so arrays already in its layout with the default options go straight in.
        # Anything it refuses — input to convert, or an error — takes the checked path below,
        # which converts it or raises the documented error.
        try:
            return _make_summary(_summary(top_logprobs, chosen_logprob, "bounds", None, None, sentinel))
        except (TypeError, ValueError):
            pass
    if (xp := _xp.namespace_of(top_logprobs, chosen_logprob)) is not None:
        device_summary: TopkSummary = _xp.topk_summary(
            xp, top_logprobs, chosen_logprob, policy=policy, vocab_size=vocab_size, k=k, sentinel=sentinel
        )
        return device_summary
    top, chosen = _topk_arrays(top_logprobs, chosen_logprob, "")
    policy, vocab_size, k, sentinel = _summary_options(policy, vocab_size, k, sentinel)
    return _make_summary(_summary(top, chosen, policy, vocab_size, k, sentinel))


def _topk_arrays(top_logprobs: Any, chosen_logprob: Any, where: str) -> tuple[np.ndarray, np.ndarray | None]:
    """One response's arrays as the kernel takes them: ``top`` a C-contiguous 2-D float64 or
    float32 array, ``chosen`` None or C-contiguous float64 ``[T]``; ``where`` (``"[i]"`` in a
    batch) goes into the error messages."""
    # The fast path: a contiguous 2-D float array and float64 chosen logprobs need no conversion.
    top = top_logprobs
    if not (
        top.__class__ is _np_ndarray
        and top.ndim == 2
        and (top.dtype == _F64 or top.dtype == _F32)
        and top.flags.c_contiguous
        and top.flags.aligned
    ):
        _xp.refuse_device(top_logprobs, f"top_logprobs{where}")
        top = as_real_array(top_logprobs, f"top_logprobs{where}")
        if top.ndim != 2:
            raise ShapeError(
                f"top_logprobs{where}: expected a 2-D [T, k] array for one response, got shape {top.shape}"
            )
    chosen = chosen_logprob
    if chosen is not None and not (
        chosen.__class__ is _np_ndarray
        and chosen.dtype == _F64
        and chosen.ndim == 1
        and chosen.flags.c_contiguous
        and chosen.flags.aligned
    ):
        _xp.refuse_device(chosen, f"chosen_logprob{where}")
        chosen = as_real_array(chosen_logprob, f"chosen_logprob{where}")
    if chosen is not None and chosen.shape != top.shape[:1]:
        raise ShapeError(
            f"chosen_logprob{where}: has shape {chosen.shape} but top_logprobs{where} have {top.shape[0]} positions"
        )
    if top.size == 0:
        raise EmptyInputError(f"top_logprobs{where}: is empty (shape {top.shape})")
    return top, chosen


def _summary_options(policy: Any, vocab_size: Any, k: Any, sentinel: Any) -> tuple[str, int | None, int | None, float]:
    if k is not None:
        k = check_positive_int(k, "k")
    if vocab_size is not None:
        vocab_size = check_positive_int(vocab_size, "vocab_size")
    if sentinel.__class__ is not float:  # a float goes as it is: the kernel refuses NaN and ±inf
        sentinel = check_real(sentinel, "sentinel")
    return policy, vocab_size, k, sentinel


def topk_summary_batch(
    top_logprobs: Sequence[Any],
    chosen_logprob: Sequence[Any] | None = None,
    *,
    policy: str = "bounds",
    vocab_size: int | None = None,
    k: int | None = None,
    sentinel: float = -9999.0,
    threads: int | None = None,
) -> dict[str, np.ndarray]:
    """:func:`topk_summary` of many responses at once: one native call that releases the GIL and
    spreads the responses over ``threads`` workers (default: all cores).

    ``top_logprobs`` is a sequence of ``[T_i, k_i]`` arrays (lengths may differ), and
    ``chosen_logprob`` None or a sequence of ``[T_i]`` arrays. Returns a dict with one array per
    :class:`TopkSummary` field (``n_tokens`` as int64), in response order, ready for
    :meth:`credo.ConfidenceModel.predict_proba`; every row equals :func:`topk_summary` of that
    response, whatever the thread count. This is the throughput path of the decision layer:
    a server that collects concurrent requests decides them in one call.

    >>> import numpy as np, credo
    >>> top = np.log([[0.6, 0.3], [0.9, 0.05]])
    >>> b = credo.signals.topk_summary_batch([top, top[:1]], [top[:, 0], top[:1, 0]], policy="raw")
    >>> b["n_tokens"].tolist(), b["mean_logprob"].round(4).tolist()
    ([2, 1], [-0.3081, -0.5108])
    """
    if isinstance(top_logprobs, (np.ndarray, str, bytes)) or not isinstance(top_logprobs, Sequence):
        raise InvalidArgumentError(
            "top_logprobs: expected a sequence of [T, k] arrays, one per response "
            f"(got {type(top_logprobs).__name__}; use topk_summary for one response)"
        )
    if chosen_logprob is not None:
        if isinstance(chosen_logprob, (np.ndarray, str, bytes)) or not isinstance(chosen_logprob, Sequence):
            raise InvalidArgumentError(
                "chosen_logprob: expected a sequence of [T] arrays, one per response, "
                f"got {type(chosen_logprob).__name__}"
            )
        if len(chosen_logprob) != len(top_logprobs):
            raise ShapeError(
                f"chosen_logprob: has {len(chosen_logprob)} responses but top_logprobs has {len(top_logprobs)}"
            )
    policy, vocab_size, k, sentinel = _summary_options(policy, vocab_size, k, sentinel)
    threads = _threads(threads)
    # Arrays already in the kernel's layout go straight in (it checks each one); anything else,
    # or any refusal, takes the converting path below, which also words the errors.
    tops, chosen = list(top_logprobs), None if chosen_logprob is None else list(chosen_logprob)
    if _only_ndarrays(tops) and (chosen is None or _only_ndarrays(chosen)):
        try:
            return _batch_columns(_summary_batch(tops, chosen, policy, vocab_size, k, sentinel, threads))
        except (TypeError, ValueError):
            pass
    tops, chosen = [], None if chosen_logprob is None else []
    for i, t in enumerate(top_logprobs):
        if chosen_logprob is not None and chosen_logprob[i] is None:
            raise InvalidArgumentError(
                f"chosen_logprob[{i}]: is None; give the chosen logprobs of every response, or chosen_logprob=None"
            )
        top, ch = _topk_arrays(t, None if chosen_logprob is None else chosen_logprob[i], f"[{i}]")
        tops.append(top)
        if chosen is not None:
            chosen.append(ch)
    return _batch_columns(_summary_batch(tops, chosen, policy, vocab_size, k, sentinel, threads))


def _only_ndarrays(items: list[Any]) -> bool:
    """Whether every item is a plain ndarray (no subclass), in C: a generator's per-item step
    costs about 100 ns, a fifth of the native step's own serial part at 1,024 responses."""
    return set(map(type, items)) <= {_np_ndarray}


def _batch_columns(rows: np.ndarray) -> dict[str, np.ndarray]:
    out = {name: np.ascontiguousarray(rows[:, j]) for j, name in enumerate(TopkSummary._fields)}
    out["n_tokens"] = out["n_tokens"].astype(np.int64)
    return out
