"""Evidence coverage: how much of an answer the retrieved passages support.

The answer is split into claims (sentences, then clauses joined by ``;`` or ``, and`` / ``, but``
…). A claim's support by a passage is the share of its content words (stop words removed, plurals
folded) that occur in the passage, and it only counts when every number and every named entity of
the claim occurs there exactly. Each claim is judged against its best passage; coverage is the
supported share of claims weighted by their number of content words. For answers that cite
passages with ``[1]``-style markers (1-based), the citations are checked too. The matching runs in
Rust; ``coverage_batch`` scores many answers in parallel with the GIL released.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from credo import _credo
from credo._validate import check_bool, check_positive_int, check_real, check_text
from credo.exceptions import EmptyInputError, InvalidArgumentError, ShapeError

__all__ = ["ClaimSupport", "CoverageResult", "coverage", "coverage_batch"]

# A citation marker and the whitespace before it. The look-behind makes a search start only at
# the first of a run of spaces (else each space of a long run rescans the run: quadratic).
_MARKER = re.compile(r"(?<!\s)\s*\[[\d,\s\-–]+\]")


@dataclass(frozen=True)
class ClaimSupport:
    """One claim of the answer and its best supporting passage."""

    text: str
    start: int
    end: int
    weight: int
    passage: int
    score: float
    recall: float
    supported: bool
    span: tuple[int, int] | None
    missing_numbers: tuple[str, ...]
    missing_entities: tuple[str, ...]
    citations: tuple[int, ...]
    citation_ok: tuple[bool, ...]

    @property
    def cited_correctly(self) -> bool | None:
        """Whether every citation of the claim points at a passage that supports it (None
        without citations)."""
        return all(self.citation_ok) if self.citations else None


@dataclass(frozen=True)
class CoverageResult:
    """Evidence coverage of one answer."""

    coverage: float | None
    claims: tuple[ClaimSupport, ...]
    citation_precision: float | None
    missing_citations: tuple[ClaimSupport, ...] = field(default=())

    @property
    def unsupported(self) -> tuple[ClaimSupport, ...]:
        """The claims no passage supports."""
        return tuple(c for c in self.claims if not c.supported)

    @property
    def wrong_citations(self) -> tuple[ClaimSupport, ...]:
        """Claims citing a passage that does not support them (or does not exist)."""
        return tuple(c for c in self.claims if c.citations and not all(c.citation_ok))


def _check_passages(passages: Any, name: str) -> list[str]:
    if isinstance(passages, str):
        raise InvalidArgumentError(f"{name}: expected a sequence of strings, got a single string (wrap it in a list)")
    if not isinstance(passages, Sequence):
        raise InvalidArgumentError(f"{name}: expected a sequence of strings, got {type(passages).__name__}")
    if len(passages) == 0:
        raise EmptyInputError(f"{name}: no passages given (pass at least one)")
    return [check_text(p, f"{name}[{i}]") for i, p in enumerate(passages)]


def _check_options(citations: Any, min_support: Any, max_chars: Any, max_passages: Any) -> tuple[bool, float, int, int]:
    """The options of :func:`coverage` and :func:`coverage_batch`, checked (a bool is no
    number, a number no bool)."""
    if not 0.0 < check_real(min_support, "min_support") <= 1.0:
        raise InvalidArgumentError(f"min_support: must lie in (0, 1], got {min_support!r}")
    return (
        check_bool(citations, "citations"),
        float(min_support),
        check_positive_int(max_chars, "max_chars"),
        check_positive_int(max_passages, "max_passages"),
    )


def _not_utf8(named: list[tuple[str, str]]) -> InvalidArgumentError:
    """The error for text the native code cannot take (a lone surrogate), naming the first
    argument that holds one (looked for only once the call has failed)."""
    for name, text in named:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            return InvalidArgumentError(
                f"{name}: not valid Unicode text (a lone surrogate {text[exc.start]!r} at {exc.start})"
            )
    return InvalidArgumentError("answer: not valid Unicode text")


# The native claim's fields in its order, which is ClaimSupport's after ``text`` (a test holds
# them equal): one C call per claim and a positional construction, not a getattr per field and
# keywords (each keyword costs string comparisons: the names ``_fields`` gives are not the
# interned ones of the signature). coverage_batch wraps on the calling thread after its parallel
# part, so this is its serial part (500 answers of 3 claims: 16 ms of CPU with keywords, 12 ms).
_CLAIM_FIELDS = operator.attrgetter(*_credo.ClaimSupport._fields)


def _wrap(answer: str, raw: _credo.CoverageReport) -> CoverageResult:
    claims = tuple(_claim(answer, c) for c in raw.claims)
    return CoverageResult(
        coverage=raw.coverage,
        claims=claims,
        citation_precision=raw.citation_precision,
        missing_citations=tuple(claims[i] for i in raw.missing_citations),
    )


def _claim(answer: str, native: _credo.ClaimSupport) -> ClaimSupport:
    values: list[Any] = [tuple(v) if type(v) is list else v for v in _CLAIM_FIELDS(native)]
    return ClaimSupport(_claim_text(answer[native.start : native.end]), *values)


def _claim_text(span: str) -> str:
    """A claim's text without its citation markers (a marker holds a ``[``: most claims skip the
    search)."""
    return (_MARKER.sub("", span) if "[" in span else span).strip()


def coverage(
    answer: str,
    passages: Sequence[str],
    *,
    citations: bool = True,
    min_support: float = 0.6,
    max_chars: int = 2_000_000,
    max_passages: int = 1_000,
) -> CoverageResult:
    """Evidence coverage of ``answer`` by ``passages``.

    Parameters
    ----------
    answer : str
        The model's answer.
    passages : sequence of str
        The evidence; ``[n]`` markers in the answer refer to ``passages[n - 1]``.
    citations : bool
        Check ``[n]`` citation markers (citation precision and claims missing a citation).
    min_support : float in (0, 1]
        Content-word recall a passage needs to support a claim.
    max_chars : int
        Longest accepted answer or passage in characters; longer input raises
        :class:`~credo.InvalidArgumentError` naming it.
    max_passages : int
        Most passages accepted (more raise :class:`~credo.InvalidArgumentError`). Each claim is
        scored against each passage, so this bound is what keeps the work linear in the answer's
        length. A claim keeps at most its first 64 citation numbers.

    Returns
    -------
    CoverageResult
        ``coverage`` (None when the answer holds no checkable claim), per-claim support,
        ``unsupported`` claims, ``citation_precision`` (None when the answer cites nothing) and
        ``missing_citations``.
    """
    answer = check_text(answer, "answer")
    ps = _check_passages(passages, "passages")
    citations, min_support, max_chars, max_passages = _check_options(citations, min_support, max_chars, max_passages)
    try:
        raw = _credo.evidence_coverage(
            answer,
            ps,
            min_support=min_support,
            citations=citations,
            max_chars=max_chars,
            max_passages=max_passages,
        )
    except UnicodeEncodeError:
        raise _not_utf8([("answer", answer)] + [(f"passages[{i}]", p) for i, p in enumerate(ps)]) from None
    return _wrap(answer, raw)


def coverage_batch(
    answers: Sequence[str],
    passages: Sequence[Sequence[str]],
    *,
    citations: bool = True,
    min_support: float = 0.6,
    max_chars: int = 2_000_000,
    max_passages: int = 1_000,
    threads: int | None = None,
) -> list[CoverageResult]:
    """:func:`coverage` for many answers; ``passages[i]`` are the passages of ``answers[i]``.

    Runs in parallel over ``threads`` (all cores by default) with the GIL released; the results
    do not depend on the thread count.
    """
    if isinstance(answers, str) or not isinstance(answers, Sequence):
        raise InvalidArgumentError("answers: expected a sequence of strings")
    if isinstance(passages, str) or not isinstance(passages, Sequence):
        raise InvalidArgumentError("passages: expected one sequence of passages per answer")
    if len(passages) != len(answers):
        raise ShapeError(f"passages: has {len(passages)} entries but there are {len(answers)} answers")
    ans = [check_text(a, f"answers[{i}]") for i, a in enumerate(answers)]
    ps = [_check_passages(p, f"passages[{i}]") for i, p in enumerate(passages)]
    citations, min_support, max_chars, max_passages = _check_options(citations, min_support, max_chars, max_passages)
    if threads is not None:
        threads = check_positive_int(threads, "threads")
    try:
        raws = _credo.evidence_coverage_batch(
            ans,
            ps,
            min_support=min_support,
            citations=citations,
            max_chars=max_chars,
            max_passages=max_passages,
            threads=threads,
        )
    except UnicodeEncodeError:
        named = [(f"answers[{i}]", a) for i, a in enumerate(ans)]
        named += [(f"passages[{i}][{j}]", p) for i, pi in enumerate(ps) for j, p in enumerate(pi)]
        raise _not_utf8(named) from None
    return [_wrap(a, r) for a, r in zip(ans, raws, strict=False)]
