"""Agreement between sampled answers: self-consistency, semantic entropy and adaptive sampling.

Sample a model several times, group the answers that mean the same thing, and read confidence off
the groups: the majority answer, the share of samples that agree with it, and the semantic-entropy
variants published by Farquhar et al. (2024), Kuhn et al. (2023) and LM-Polygraph, each under its
own name. :class:`AdaptiveStopping` decides after each sample whether more could still change the
majority, so confident questions cost a few samples and only the contested ones cost many.

Equivalence methods (``method=``):

``exact``       equal after :func:`normalize_answer` (the default)
``numeric``     the last number of each answer within ``tolerance`` · max(1, |a|, |b|)
``jaccard``     token-set Jaccard ≥ ``threshold`` (default 0.5)
``rouge_l``     ROUGE-L F1 over tokens ≥ ``threshold`` (default 0.5)
``embedding``   cosine of the caller's vectors (``embeddings=``) ≥ ``threshold`` (default 0.9)
``entailment``  ``entailment[i, j]`` = P(answer i entails answer j), ≥ ``threshold`` (default 0.5)
                both ways (bidirectional entailment, as the semantic-entropy papers)
``similarity``  a caller's symmetric similarity matrix in [0, 1], ≥ ``threshold`` (default 0.5)
``callable``    ``equivalent(a, b) -> bool``, each unordered pair asked at most once

Clustering (``clustering=``): ``"greedy"`` (the default) puts each answer into the first cluster
whose *first member* it is equivalent to, as the semantic-entropy papers do: published entropy
values are reproduced, no cluster chains dissimilar answers together, and an expensive
``equivalent`` (an NLI model, an LLM judge) is asked the fewest questions. ``"components"`` takes
connected components of the equivalence graph (LM-Polygraph's ``NumSemSets``): independent of
answer order, but a ~ b ~ c chains a and c. For ``exact`` both give the same partition.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from credo import _credo
from credo._validate import (
    as_float_array,
    check_bool,
    check_choice,
    check_open_unit,
    check_positive_int,
    check_real,
    text_argument,
)
from credo.exceptions import InvalidArgumentError, ShapeError

__all__ = [
    "AdaptiveStopping",
    "AgreementBatch",
    "AgreementResult",
    "StoppingResult",
    "agree",
    "agree_batch",
    "normalize_answer",
    "spectral_measures",
]

METHODS = ("exact", "numeric", "jaccard", "rouge_l", "embedding", "entailment", "similarity", "callable")
DEFAULT_THRESHOLD = {"jaccard": 0.5, "rouge_l": 0.5, "embedding": 0.9, "entailment": 0.5, "similarity": 0.5}
_STEPS = ("unicode", "lowercase", "punctuation", "articles", "whitespace", "numbers")


def normalize_answer(
    text: str,
    *,
    unicode: bool = True,
    lowercase: bool = True,
    punctuation: bool = True,
    articles: bool = True,
    whitespace: bool = True,
    numbers: bool = True,
) -> str:
    """Normalise an answer before comparison (each step can be switched off).

    In order: Unicode NFKC (``unicode``), lower-casing, canonical numbers (``"1,000"`` → ``"1000"``,
    ``"3.50"`` → ``"3.5"``, ``"+7"`` → ``"7"``, ``"½"`` → ``"0.5"``, ``"1/4"`` → ``"0.25"``; signs
    survive punctuation stripping, so ``"-80"`` ≠ ``"80"``), SQuAD-style punctuation deletion,
    removal of the articles *a*, *an*, *the*, and whitespace collapsing.

    >>> normalize_answer("The answer is $1,000.00!")
    'answer is 1000'
    """
    if not isinstance(text, str):
        raise InvalidArgumentError(f"text: expected a string, got {type(text).__name__}")
    steps: tuple[bool, ...] = (unicode, lowercase, punctuation, articles, whitespace, numbers)
    # Plain bools (the common case) cost one chained comparison; anything else is checked.
    plain = (
        unicode.__class__
        is lowercase.__class__
        is punctuation.__class__
        is articles.__class__
        is whitespace.__class__
        is numbers.__class__
        is bool
    )
    if not plain:
        steps = tuple(check_bool(s, name) for s, name in zip(steps, _STEPS, strict=True))
    try:  # not text_argument: a context manager costs more than the call it guards
        return _credo.agree_normalize(text, *steps)
    except UnicodeEncodeError as exc:
        raise InvalidArgumentError(f"text: text is not valid Unicode ({exc.reason} at {exc.start})") from None


# One flag per normalisation step, in _STEPS order (the native call takes exactly six).
_Flags = tuple[bool, bool, bool, bool, bool, bool]


def _flags(normalize: bool | Mapping[str, bool]) -> _Flags:
    if isinstance(normalize, (bool, np.bool_)):
        n = bool(normalize)
        return n, n, n, n, n, n
    if isinstance(normalize, Mapping):
        unknown = set(normalize) - set(_STEPS)
        if unknown:
            raise InvalidArgumentError(f"normalize: unknown steps {sorted(unknown)}; steps are {list(_STEPS)}")
        unicode, lowercase, punctuation, articles, whitespace, numbers = (
            check_bool(normalize.get(s, True), f"normalize[{s!r}]") for s in _STEPS
        )
        return unicode, lowercase, punctuation, articles, whitespace, numbers
    raise InvalidArgumentError(f"normalize: expected True/False or a mapping of steps, got {type(normalize).__name__}")


def _answer_list(answers: Any, name: str = "answers") -> list[Any]:
    if isinstance(answers, (str, bytes)) or not isinstance(answers, Sequence):
        raise InvalidArgumentError(f"{name}: expected a sequence of strings, got {type(answers).__name__}")
    return answers if isinstance(answers, list) else list(answers)


def _question_lists(questions: Any, *, here: bool) -> list[Sequence[str]]:
    """``questions`` as a list of answer sequences. Each question is checked (a sequence, not
    empty) natively, in one place: by the reader of ``agree_batch`` in the pass that reads the
    answers (a Python pass over 10k questions costs a tenth of a two-thread batch), or, when
    ``here`` (the caller reads the questions in Python first: per-question inputs, callables), by
    ``agree_questions``, which also copies other sequences than lists and tuples to lists."""
    if isinstance(questions, (str, bytes)) or not isinstance(questions, Sequence):
        raise InvalidArgumentError(f"questions: expected a sequence of answer lists, got {type(questions).__name__}")
    qs: list[Sequence[str]] = questions if type(questions) is list else list(questions)
    return _credo.agree_questions(qs) if here else qs


def _flat_logprobs(logprobs: Sequence[Any], n: int, name: str = "logprobs") -> tuple[np.ndarray, np.ndarray]:
    """Per-sample token log-probs (a scalar counts as one token) → flat values and offsets."""
    try:
        count = len(logprobs)
    except TypeError:  # a number, a 0-d array
        count = -1
    if isinstance(logprobs, (str, bytes)) or count < 0:
        raise InvalidArgumentError(f"{name}: expected one sequence of token log-probabilities per answer")
    if count != n:
        raise ShapeError(f"{name}: has {len(logprobs)} entries but there are {n} answers")
    parts = []
    for i, lp in enumerate(logprobs):
        arr = as_float_array(lp, f"{name}[{i}]", ndim=(0, 1)).reshape(-1)
        parts.append(arr)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum([len(p) for p in parts], out=offsets[1:])
    values = np.concatenate(parts) if parts else np.zeros(0)
    return np.ascontiguousarray(values, dtype=np.float64), offsets


def _square(m: Any, n: int, name: str) -> np.ndarray:
    arr = as_float_array(m, name, ndim=2)
    if arr.shape != (n, n):
        raise ShapeError(f"{name}: expected a {n} x {n} matrix for {n} answers, got shape {arr.shape}")
    return arr


def _infer_method(method: str | None, *, equivalent: Any, entailment: Any, similarity: Any, embeddings: Any) -> str:
    if method is None:
        if equivalent is not None:
            return "callable"
        if entailment is not None:
            return "entailment"
        if similarity is not None:
            return "similarity"
        if embeddings is not None:
            return "embedding"
        return "exact"
    return check_choice(method, "method", METHODS)


def _check_threshold_used(method: str, threshold: Any) -> None:
    """A threshold given to a method that compares no similarity is a slip (often a similarity
    matrix that was None, which makes the method "exact"): refused, not ignored."""
    if threshold is not None and method not in DEFAULT_THRESHOLD:
        uses = "tolerance=" if method == "numeric" else "no threshold"
        raise InvalidArgumentError(
            f"threshold: method {method!r} takes {uses}; a threshold goes with similarity=, "
            "embeddings=, entailment= or method='jaccard' / 'rouge_l'"
        )


def _threshold(method: str, threshold: float | None, tolerance: float) -> float:
    """The native call's one threshold: ``tolerance`` for ``numeric``, else ``threshold`` (or the
    method's default). Both are checked as numbers here (a bool or text is no threshold); the
    core checks their ranges and names them."""
    tol = check_real(tolerance, "tolerance")
    thr = None if threshold is None else check_real(threshold, "threshold")
    _check_threshold_used(method, thr)
    if method == "numeric":
        return tol
    return DEFAULT_THRESHOLD.get(method, 0.0) if thr is None else thr


def _opt(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


@dataclass(frozen=True)
class AgreementResult:
    """The agreement of one question's answers.

    ``labels[i]`` is the cluster of answer ``i`` (clusters numbered in order of first appearance);
    ``cluster_probs`` are the clusters' shares of the answers, or, when ``logprobs`` were given,
    their length-normalised sequence-probability mass (Farquhar et al.'s p(c)). ``agreement`` is
    the majority cluster's probability. Semantic entropies (natural log):

    - ``se_farquhar``: Farquhar et al. 2024, −Σ p(c) ln p(c) (needs logprobs; in [0, ln k]).
    - ``se_kuhn``: Kuhn et al. 2023's code, −mean_c [logsumexp ℓ̄ − 5.0] (a score, with their
      additive 5.0; needs logprobs).
    - ``se_discrete``: −Σ f_c ln f_c over cluster frequencies (always; in [0, ln k]).
    - ``se_lm_polygraph``: LM-Polygraph's ``SemanticEntropy`` (un-normalised sequence likelihoods;
      a score that goes negative when repeated samples push p(c) above 1, their issue #223).

    ``eigval_laplacian`` and ``degree`` (LM-Polygraph's spectral measures) are present when
    ``spectral=True`` was asked for.
    """

    answers: tuple[str, ...]
    labels: np.ndarray
    sizes: np.ndarray
    cluster_probs: np.ndarray
    majority_label: int
    majority_index: int
    agreement: float
    se_discrete: float
    se_farquhar: float | None = None
    se_kuhn: float | None = None
    se_lm_polygraph: float | None = None
    eigval_laplacian: float | None = None
    degree: float | None = None
    method: str = "exact"
    clustering: str = "greedy"

    @property
    def majority_answer(self) -> str:
        """The first answer of the majority cluster, as given."""
        return self.answers[self.majority_index]

    @property
    def n_clusters(self) -> int:
        """Number of semantic sets (clusters)."""
        return len(self.sizes)

    n_semantic_sets = n_clusters

    def members(self, label: int) -> list[str]:
        """The answers of one cluster."""
        return [a for a, lab in zip(self.answers, self.labels, strict=False) if lab == label]


@dataclass(frozen=True)
class AgreementBatch:
    """Agreement of many questions, as flat arrays (``batch[i]`` gives question ``i``'s
    :class:`AgreementResult`). Per-question arrays: ``agreement``, ``n_clusters``,
    ``majority_index``, ``se_*``, ``eigval_laplacian``, ``degree`` (NaN where not computed)."""

    questions: list[Sequence[str]]
    raw: dict[str, np.ndarray] = field(repr=False)
    method: str = "exact"
    clustering: str = "greedy"

    def __len__(self) -> int:
        return len(self.raw["agreement"])

    def __getattr__(self, name: str) -> np.ndarray:
        raw: dict[str, np.ndarray] = self.__dict__.get("raw", {})
        if name in raw:
            return raw[name]
        raise AttributeError(name)

    @property
    def majority_answers(self) -> list[str]:
        return [q[i] for q, i in zip(self.questions, self.raw["majority_index"], strict=False)]

    def labels_of(self, i: int) -> np.ndarray:
        o = self.raw["offsets"]
        return self.raw["labels"][o[i] : o[i + 1]]

    def __getitem__(self, i: int) -> AgreementResult:
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        i %= len(self)
        return _result(self.raw, i, self.questions[i], self.method, self.clustering)

    def __iter__(self) -> Iterator[AgreementResult]:
        return (self[i] for i in range(len(self)))


def _columns(native: _credo.AgreementColumns) -> dict[str, np.ndarray]:
    """The native columns as :attr:`AgreementBatch.raw` holds them (a dict by field name)."""
    return {name: getattr(native, name) for name in native._fields}


def _result(
    raw: Mapping[str, np.ndarray], i: int, answers: Sequence[str], method: str, clustering: str
) -> AgreementResult:
    o, k = raw["offsets"], raw["n_clusters"]
    return AgreementResult(
        answers=tuple(answers),
        labels=raw["labels"][o[i] : o[i + 1]].copy(),
        sizes=raw["sizes"][o[i] : o[i] + k[i]].copy(),
        cluster_probs=raw["cluster_probs"][o[i] : o[i] + k[i]].copy(),
        majority_label=int(raw["majority"][i]),
        majority_index=int(raw["majority_index"][i]),
        agreement=float(raw["agreement"][i]),
        se_discrete=float(raw["se_discrete"][i]),
        se_farquhar=_opt(raw["se_farquhar"][i]),
        se_kuhn=_opt(raw["se_kuhn"][i]),
        se_lm_polygraph=_opt(raw["se_lm_polygraph"][i]),
        eigval_laplacian=_opt(raw["eigval_laplacian"][i]),
        degree=_opt(raw["degree"][i]),
        method=method,
        clustering=clustering,
    )


def agree(
    answers: Sequence[str],
    *,
    method: str | None = None,
    threshold: float | None = None,
    tolerance: float = 1e-6,
    clustering: str = "greedy",
    normalize: bool | Mapping[str, bool] = True,
    logprobs: Sequence[Any] | None = None,
    embeddings: Any = None,
    entailment: Any = None,
    similarity: Any = None,
    equivalent: Callable[[str, str], bool] | None = None,
    spectral: bool = False,
) -> AgreementResult:
    """Cluster one question's sampled answers and measure how much they agree.

    Parameters
    ----------
    answers : sequence of str
        The sampled answers (at least one).
    method : str, optional
        How answers are judged equivalent (see the module docstring). Defaults to ``"callable"``
        when ``equivalent`` is given, ``"entailment"`` / ``"similarity"`` / ``"embedding"`` when
        that input is given, else ``"exact"``.
    threshold : float, optional
        Similarity at or above which two answers are equivalent (method-specific default). Only
        for the methods that compare a similarity; refused with ``exact``, ``numeric`` (which
        takes ``tolerance``) and ``callable``.
    tolerance : float
        ``numeric`` only: |a − b| ≤ tolerance · max(1, |a|, |b|).
    clustering : {"greedy", "components"}
    normalize : bool or mapping
        Normalisation before text comparison; a mapping switches single steps of
        :func:`normalize_answer` (e.g. ``{"articles": False}``).
    logprobs : sequence, optional
        Per answer, its token log-probabilities (a scalar counts as one token). Enables the
        log-prob semantic entropies and weights the agreement by sequence probability.
    embeddings : array (n, d), optional
        Vectors for ``method="embedding"`` (from any sentence encoder).
    entailment : array (n, n), optional
        ``entailment[i, j]`` = P(answer i entails answer j), for ``method="entailment"``.
    similarity : array (n, n), optional
        Symmetric similarities in [0, 1], for ``method="similarity"``.
    equivalent : callable, optional
        ``equivalent(a, b) -> bool`` for ``method="callable"`` (``a`` is the earlier answer).
    spectral : bool
        Also compute EigValLaplacian and Degree from the method's similarity matrix.
    """
    answers = _answer_list(answers)
    method = _infer_method(
        method, equivalent=equivalent, entailment=entailment, similarity=similarity, embeddings=embeddings
    )
    spectral = check_bool(spectral, "spectral")
    n = len(answers)
    lp = _flat_logprobs(logprobs, n) if logprobs is not None else (None, None)
    if method == "callable":
        _check_threshold_used(method, threshold)
        if not callable(equivalent):
            raise InvalidArgumentError("equivalent: method 'callable' needs a function equivalent(a, b) -> bool")
        if spectral:
            raise InvalidArgumentError(
                "spectral: not available with method 'callable' (it asks only the pairs it needs)"
            )
        with text_argument("answers"):
            raw = _columns(_credo.agree_callable(answers, equivalent, clustering, lp[0], lp[1]))
        return _result(raw, 0, answers, method, clustering)
    emb = None
    if embeddings is not None:
        emb = as_float_array(embeddings, "embeddings", ndim=2)
        if emb.shape[0] != n:
            raise ShapeError(f"embeddings: has {emb.shape[0]} rows but there are {n} answers")
    matrix = None
    if method in ("entailment", "similarity"):
        given = entailment if method == "entailment" else similarity
        if given is None:
            raise InvalidArgumentError(f"{method}: method '{method}' needs the pairwise matrix {method}=")
        matrix = _square(given, n, method).reshape(-1)
    with text_argument("answers"):
        raw = _columns(_credo.agree_batch(
            [answers], method, _threshold(method, threshold, tolerance), clustering, _flags(normalize),
            lp[0], lp[1], emb, matrix, spectral, None, True,
        ))  # fmt: skip
    return _result(raw, 0, answers, method, clustering)


def agree_batch(
    questions: Sequence[Sequence[str]],
    *,
    method: str | None = None,
    threshold: float | None = None,
    tolerance: float = 1e-6,
    clustering: str = "greedy",
    normalize: bool | Mapping[str, bool] = True,
    logprobs: Sequence[Sequence[Any]] | None = None,
    embeddings: Sequence[Any] | None = None,
    entailment: Sequence[Any] | None = None,
    similarity: Sequence[Any] | None = None,
    equivalent: Callable[[str, str], bool] | None = None,
    spectral: bool = False,
    threads: int | None = None,
) -> AgreementBatch:
    """:func:`agree` for many questions at once: parallel, with the GIL released.

    Same parameters as :func:`agree`, each per-question input given as a list over questions
    (``logprobs[q][i]``, ``embeddings[q]`` of shape (n_q, d), ``entailment[q]`` of shape
    (n_q, n_q)). Questions may have different numbers of answers. ``threads`` sets the worker
    count (results do not depend on it). ``batch[q]`` equals ``agree(questions[q], ...)``.
    """
    method = _infer_method(
        method, equivalent=equivalent, entailment=entailment, similarity=similarity, embeddings=embeddings
    )
    per_question = (logprobs, embeddings, entailment, similarity)
    qs = _question_lists(questions, here=method == "callable" or any(x is not None for x in per_question))
    spectral = check_bool(spectral, "spectral")
    if threads is not None:
        threads = check_positive_int(threads, "threads")
    for name, per_q in (
        ("logprobs", logprobs),
        ("embeddings", embeddings),
        ("entailment", entailment),
        ("similarity", similarity),
    ):
        if per_q is not None and len(per_q) != len(qs):
            raise ShapeError(f"{name}: has {len(per_q)} entries but there are {len(qs)} questions")
    if method == "callable":
        _check_threshold_used(method, threshold)
        results = [
            agree(
                q,
                method="callable",
                equivalent=equivalent,
                clustering=clustering,
                logprobs=None if logprobs is None else logprobs[i],
            )
            for i, q in enumerate(qs)
        ]
        return _batch_from_results(qs, results, method, clustering)
    lp_values = lp_offsets = None
    if logprobs is not None:
        flat = [
            _flat_logprobs(lp, len(q), f"logprobs[{i}]") for i, (q, lp) in enumerate(zip(qs, logprobs, strict=False))
        ]
        lp_values = np.concatenate([v for v, _ in flat]) if flat else np.zeros(0)
        sizes = [int(o[-1]) for _, o in flat]
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64) if flat else np.zeros(0, np.int64)
        lp_offsets = np.concatenate(
            [o[:-1] + s for (_, o), s in zip(flat, starts, strict=False)] + [[int(np.sum(sizes))]]
        ).astype(np.int64)
    emb = None
    if embeddings is not None:
        blocks = [as_float_array(e, f"embeddings[{i}]", ndim=2) for i, e in enumerate(embeddings)]
        for i, (b, q) in enumerate(zip(blocks, qs, strict=False)):
            if b.shape[0] != len(q):
                raise ShapeError(f"embeddings[{i}]: has {b.shape[0]} rows but question {i} has {len(q)} answers")
        dims = {b.shape[1] for b in blocks}
        if len(dims) > 1:
            raise ShapeError(f"embeddings: all questions need the same vector size, got {sorted(dims)}")
        emb = np.ascontiguousarray(np.concatenate(blocks)) if blocks else None
    matrices = None
    if method in ("entailment", "similarity"):
        given = entailment if method == "entailment" else similarity
        if given is None:
            raise InvalidArgumentError(f"{method}: method '{method}' needs one pairwise matrix per question")
        matrices = np.concatenate(
            [_square(m, len(q), f"{method}[{i}]").reshape(-1) for i, (m, q) in enumerate(zip(given, qs, strict=False))]
        )
    with text_argument("questions"):
        raw = _columns(_credo.agree_batch(
            qs, method, _threshold(method, threshold, tolerance), clustering, _flags(normalize),
            lp_values, lp_offsets, emb, matrices, spectral, threads, False,
        ))  # fmt: skip
    return AgreementBatch(qs, raw, method, clustering)


def _batch_from_results(
    qs: list[Sequence[str]], results: list[AgreementResult], method: str, clustering: str
) -> AgreementBatch:
    def cat(xs: list[np.ndarray], dtype: Any) -> np.ndarray:
        return np.concatenate(xs).astype(dtype) if xs else np.zeros(0, dtype)

    def padded(xs: list[np.ndarray], dtype: Any) -> np.ndarray:
        # Per-cluster values stored in each question's answer slots (the native layout).
        return cat([np.pad(x, (0, len(r.labels) - len(x))) for x, r in zip(xs, results, strict=True)], dtype)

    nan = float("nan")
    raw = {
        "labels": cat([r.labels for r in results], np.int64),
        "offsets": np.concatenate([[0], np.cumsum([len(r.labels) for r in results])]).astype(np.int64),
        "sizes": padded([r.sizes for r in results], np.int64),
        "n_clusters": np.array([len(r.sizes) for r in results], np.int64),
        "cluster_probs": padded([r.cluster_probs for r in results], np.float64),
        "majority": np.array([r.majority_label for r in results], np.int64),
        "majority_index": np.array([r.majority_index for r in results], np.int64),
    }
    for key in (
        "agreement",
        "se_discrete",
        "se_farquhar",
        "se_kuhn",
        "se_lm_polygraph",
        "eigval_laplacian",
        "degree",
    ):
        raw[key] = np.array([nan if getattr(r, key) is None else getattr(r, key) for r in results], np.float64)
    return AgreementBatch(qs, raw, method, clustering)


def spectral_measures(similarity: Any) -> tuple[float, float]:
    """LM-Polygraph's spectral uncertainty from a symmetric similarity matrix W in [0, 1]:
    ``(eigval_laplacian, degree)`` with L = I − D^{−1/2} W D^{−1/2},
    EigValLaplacian = Σ_k max(0, 1 − λ_k(L)) and Degree = 1 − Σ_j d_j / m²."""
    w = as_float_array(similarity, "similarity", ndim=2)
    s = _credo.agree_spectral(w)
    return s.eigval_laplacian, s.degree


# --- adaptive stopping ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StoppingResult:
    """What :meth:`AdaptiveStopping.run` returns: the majority ``answer`` (as first sampled), its
    share of the counted votes (``agreement``), the samples spent, every sample in order, the vote
    counts per normalised answer, whether the rule stopped before ``max_samples``, and the rule's
    final statistic."""

    answer: str | None
    agreement: float
    n_samples: int
    samples: list[Any]
    counts: dict[str, int]
    stopped_early: bool
    statistic: float


class AdaptiveStopping:
    """Stop sampling once the majority answer is settled (Aggarwal et al. 2023, "Adaptive-Consistency").

    Rules (all closed-form or a fixed quadrature, so deterministic):

    - ``"beta"``: P(p₁ > p₂) = 1 − I₀.₅(a + 1, b + 1) for the top two counts a, b; stop when it
      reaches ``confidence``.
    - ``"dirichlet"``: P(top answer has the largest probability) under Dirichlet(counts + 1) over all
      answers seen; stop at ``confidence``. Equals ``"beta"`` when two answers were seen.
    - ``"majority"``: the top answer's share reaches ``threshold`` (default 0.8; needs 2+ samples).
    - ``"entropy"``: H₂(counts) / log₂(#distinct) falls to ``threshold`` (default 0.75) or below,
      a lone answer getting a phantom count of 1.

    Never stops before ``min_samples`` votes; always stops at ``max_samples``. Answers are counted
    after :func:`normalize_answer` (``normalize=`` as in :func:`agree`); with ``ignore_empty``,
    ``None`` and answers that normalise to ``""`` (failed samples) are spent but not counted.
    """

    def __init__(
        self,
        rule: str = "beta",
        *,
        confidence: float = 0.95,
        threshold: float | None = None,
        min_samples: int = 1,
        max_samples: int = 40,
        normalize: bool | Mapping[str, bool] = True,
        ignore_empty: bool = True,
    ) -> None:
        default = _credo.agree_stopping_default_threshold(rule)  # the core parses (and refuses) rule
        self.rule = rule
        self.confidence = check_open_unit(confidence, "confidence")
        self.max_samples = check_positive_int(max_samples, "max_samples")
        self.min_samples = check_positive_int(min_samples, "min_samples")
        if self.min_samples > self.max_samples:  # the message names both: either may be the slip
            raise InvalidArgumentError(
                f"max_samples: must be at least min_samples = {self.min_samples}, got {self.max_samples}"
            )
        if threshold is None:
            self.threshold = self.confidence if rule in ("beta", "dirichlet") else default
        else:
            self.threshold = check_real(threshold, "threshold")
            if not 0.0 <= self.threshold <= 1.0:
                raise InvalidArgumentError(f"threshold: must lie in [0, 1], got {threshold!r}")
        self._flags = _flags(normalize)
        self.ignore_empty = check_bool(ignore_empty, "ignore_empty")

    def __repr__(self) -> str:
        return (
            f"AdaptiveStopping(rule={self.rule!r}, threshold={self.threshold}, "
            f"min_samples={self.min_samples}, max_samples={self.max_samples})"
        )

    def _key(self, answer: Any, name: str, i: int) -> str | None:
        """The vote of ``answer`` (item ``i`` of the caller's argument ``name``), None when it is
        a failed sample that is not counted."""
        if answer is None:
            if self.ignore_empty:
                return None
            raise InvalidArgumentError(
                f"{name}[{i}]: None is not an answer (pass ignore_empty=True to skip failed samples)"
            )
        if not isinstance(answer, str):
            raise InvalidArgumentError(f"{name}[{i}]: expected a string, got {type(answer).__name__}")
        try:
            key = _credo.agree_normalize(answer, *self._flags)
        except UnicodeEncodeError as exc:
            raise InvalidArgumentError(
                f"{name}[{i}]: text is not valid Unicode ({exc.reason} at {exc.start})"
            ) from None
        return None if (self.ignore_empty and key == "") else key

    def counts(self, answers: Sequence[Any]) -> dict[str, int]:
        """Votes per normalised answer, in order of first appearance."""
        return self._counts(answers, "answers")

    def _counts(self, answers: Any, name: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for i, a in enumerate(_answer_list(answers, name)):
            k = self._key(a, name, i)
            if k is not None:
                out[k] = out.get(k, 0) + 1
        return out

    def _count_array(self, answers_or_counts: Any) -> np.ndarray:
        x, name = answers_or_counts, "answers_or_counts"
        if isinstance(x, Mapping):
            vals = list(x.values())
        elif isinstance(x, np.ndarray) and x.dtype.kind in "iuf":
            vals = x.tolist()
        else:
            items = _answer_list(x, name)
            if items and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in items):
                vals = items
            else:
                vals = list(self._counts(items, name).values())
        if all(type(v) is int for v in vals):  # the common case: plain counts (negatives: Rust says so)
            return np.array(vals, dtype=np.int64)
        try:
            arr = np.asarray(vals, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError, OverflowError):
            raise InvalidArgumentError(f"{name}: counts must be non-negative whole numbers") from None
        if arr.size and (not np.all(np.isfinite(arr)) or np.any(arr < 0) or np.any(arr != np.round(arr))):
            raise InvalidArgumentError(f"{name}: counts must be non-negative whole numbers")
        return np.ascontiguousarray(arr, dtype=np.int64)

    def decide(self, answers_or_counts: Any) -> tuple[bool, float]:
        """``(stop, statistic)`` for the answers so far (a list of answers, a mapping answer →
        count, or a sequence of counts)."""
        counts = self._count_array(answers_or_counts)
        d = _credo.agree_stopping_decide(self.rule, self.threshold, counts, self.min_samples, self.max_samples)
        return d.stop, d.statistic

    def should_stop(self, answers_or_counts: Any) -> bool:
        """Whether to stop sampling given the answers (or counts) so far."""
        return self.decide(answers_or_counts)[0]

    def statistic(self, answers_or_counts: Any) -> float:
        """The rule's statistic (a probability for beta/dirichlet, a share, or an entropy ratio)."""
        return self.decide(answers_or_counts)[1]

    def run(self, sample: Callable[[], Any], *, max_samples: int | None = None) -> StoppingResult:
        """Call ``sample()`` until the rule says stop (or the budget is spent) and return the
        majority answer with its agreement and the number of samples spent. Every call counts as
        spent, including failed ones (``None`` or an empty answer)."""
        if not callable(sample):
            raise InvalidArgumentError("sample: expected a callable returning one answer per call")
        budget = self.max_samples if max_samples is None else check_positive_int(max_samples, "max_samples")
        samples: list[Any] = []
        counts: dict[str, int] = {}
        first: dict[str, Any] = {}
        stop, stat = False, float("nan")
        while len(samples) < budget:
            a = sample()
            samples.append(a)
            k = self._key(a, "samples", len(samples) - 1)
            if k is not None:
                counts[k] = counts.get(k, 0) + 1
                first.setdefault(k, a)
            decision = _credo.agree_stopping_decide(
                self.rule,
                self.threshold,
                np.fromiter(counts.values(), np.int64, len(counts)),
                self.min_samples,
                self.max_samples,
            )
            stop, stat = decision.stop, decision.statistic
            if stop:
                break
        total = sum(counts.values())
        if total:
            top = max(counts, key=lambda k: counts[k])  # first-seen wins ties (dicts keep order)
            answer, agreement = first[top], counts[top] / total
        else:
            answer, agreement = None, 0.0
        return StoppingResult(
            answer=answer,
            agreement=agreement,
            n_samples=len(samples),
            samples=samples,
            counts=counts,
            stopped_early=bool(stop) and len(samples) < self.max_samples,
            statistic=float(stat),
        )
