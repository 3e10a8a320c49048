"""Evidence coverage on hand-written answer/passage pairs, citations, and bad input."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import credo
from credo import evidence
from credo.exceptions import EmptyInputError, InvalidArgumentError, ShapeError

PASSAGES = [
    "The Eiffel Tower was completed in 1889 for the World's Fair in Paris.",
    "Gustave Eiffel's engineering company designed and built the tower.",
    "The tower is 330 metres tall and is painted in three shades of brown.",
]


def test_supported_unsupported_and_weighting():
    answer = "The Eiffel Tower was completed in 1889. It stands 330 metres tall. It was painted bright green."
    r = evidence.coverage(answer, PASSAGES)
    assert [c.supported for c in r.claims] == [True, True, False]
    assert [c.passage for c in r.claims[:2]] == [0, 2]
    # Independent check of the weighting: content words of each claim, stop words removed.
    weights = [
        len({"eiffel", "tower", "completed", "1889"}),
        len({"stand", "330", "metre", "tall"}),
        len({"painted", "bright", "green"}),
    ]
    assert [c.weight for c in r.claims] == weights
    assert r.coverage == pytest.approx((weights[0] + weights[1]) / sum(weights))
    assert [c.text for c in r.unsupported] == ["It was painted bright green."]
    assert r.citation_precision is None and r.missing_citations == ()


def test_claim_offsets_and_span_point_into_the_texts():
    answer = "Gustave Eiffel's company built the tower. It opened in 1889."
    r = evidence.coverage(answer, PASSAGES)
    for c in r.claims:
        assert answer[c.start : c.end].startswith(c.text[:10])
        a, b = c.span
        window = PASSAGES[c.passage][a:b]
        # Every matched content word lies inside the span.
        assert window and window[0].isalnum() and window[-1].isalnum()
    a, b = r.claims[0].span
    assert PASSAGES[1][a:b] == "Gustave Eiffel's engineering company designed and built the tower"


def test_numbers_must_match_exactly():
    r = evidence.coverage("The tower was completed in 1887.", PASSAGES)
    c = r.claims[0]
    assert not c.supported and c.missing_numbers == ("1887",) and c.score == 0.0
    assert c.recall == pytest.approx(2 / 3)  # tower, completed match; 1887 does not
    # Formatting differences of the same number still match.
    r = evidence.coverage("The budget was 1,000,000.00 dollars.", ["A budget of 1000000 dollars was set."])
    assert r.claims[0].supported


def test_named_entities_must_match():
    r = evidence.coverage("The tower was designed by Alexandre Eiffel.", ["The tower was designed by Gustave Eiffel."])
    assert r.claims[0].missing_entities == ("alexandre",)
    assert not r.claims[0].supported


def test_clauses_are_separate_claims():
    r = evidence.coverage("The tower was completed in 1889, but it was designed by Leonardo da Vinci.", PASSAGES)
    assert len(r.claims) == 2
    assert [c.supported for c in r.claims] == [True, False]


def test_citations_correct_wrong_missing_and_out_of_range():
    answer = (
        "The Eiffel Tower was completed in 1889 [1]. "
        "Gustave Eiffel's company built the tower [3]. "  # wrong passage: [2] supports it
        "The tower is 330 metres tall. "  # no citation
        "It is painted in three shades of brown [3][9]."  # [9] does not exist
    )
    r = evidence.coverage(answer, PASSAGES)
    assert [c.citations for c in r.claims] == [(1,), (3,), (), (3, 9)]
    assert [c.citation_ok for c in r.claims] == [(True,), (False,), (), (True, False)]
    assert r.citation_precision == pytest.approx(2 / 4)
    assert [c.text for c in r.missing_citations] == ["The tower is 330 metres tall."]
    assert [c.text for c in r.wrong_citations] == [
        "Gustave Eiffel's company built the tower.",
        "It is painted in three shades of brown.",
    ]
    # The wrongly cited claim is still supported by passage 2.
    assert r.claims[1].supported and r.claims[1].passage == 1
    off = evidence.coverage(answer, PASSAGES, citations=False)
    assert off.citation_precision is None and all(c.citations == () for c in off.claims)


def test_sentence_markers_cover_every_clause():
    r = evidence.coverage("The tower is 330 metres tall, and it is painted brown [3].", PASSAGES)
    assert len(r.claims) == 2 and all(c.citations == (3,) for c in r.claims)
    assert r.citation_precision == 1.0 and r.missing_citations == ()


def test_no_checkable_claim_gives_none():
    r = evidence.coverage("Yes.", PASSAGES)
    assert r.claims == () and r.coverage is None


def test_batch_matches_single_for_any_thread_count():
    answers = ["The tower was completed in 1889.", "Paris is in Germany [1].", "It is 330 metres tall."] * 7
    passages = [PASSAGES, ["Paris is the capital of France."], PASSAGES[2:]] * 7
    singles = [evidence.coverage(a, p) for a, p in zip(answers, passages, strict=False)]
    for threads in (1, 2, None):
        assert evidence.coverage_batch(answers, passages, threads=threads) == singles


def test_bad_input():
    with pytest.raises(EmptyInputError, match=r"^passages"):
        evidence.coverage("x y z", [])
    with pytest.raises(InvalidArgumentError, match=r"^passages: expected a sequence of strings, got a single"):
        evidence.coverage("x", "a passage")
    with pytest.raises(InvalidArgumentError, match=r"^passages\[1\]"):
        evidence.coverage("x", ["ok", 3])
    with pytest.raises(InvalidArgumentError, match=r"^answer"):
        evidence.coverage(None, ["ok"])
    with pytest.raises(InvalidArgumentError, match=r"^min_support"):
        evidence.coverage("x", ["ok"], min_support=0)
    with pytest.raises(ShapeError, match=r"^passages"):
        evidence.coverage_batch(["a", "b"], [["p"]])
    with pytest.raises(EmptyInputError, match=r"^passages\[1\]"):
        evidence.coverage_batch(["a", "b"], [["p"], []])
    with pytest.raises(InvalidArgumentError, match=r"^threads"):
        evidence.coverage_batch(["a"], [["p"]], threads=0)


def test_huge_passages_are_refused_or_fast():
    with pytest.raises(InvalidArgumentError, match=r"^passages\[1\]: 2000001 characters exceed max_chars"):
        evidence.coverage("The tower is tall.", ["short", "a" * 2_000_001])
    with pytest.raises(InvalidArgumentError, match=r"^\[0\]: answer"):
        evidence.coverage_batch(["word " * 30], [["p"]], max_chars=100)
    # A big but allowed passage (1.4 M characters) works, and the claim found deep inside is located.
    filler = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 12_000
    big = filler + "The Eiffel Tower was completed in 1889." + filler
    t0 = time.perf_counter()
    r = evidence.coverage("The Eiffel Tower was completed in 1889.", [big])
    assert time.perf_counter() - t0 < 10
    a, b = r.claims[0].span
    assert big[a:b] == "Eiffel Tower was completed in 1889"
    assert r.coverage == 1.0


def test_claims_carry_the_native_fields_by_name():
    # The claims are built positionally from the native result: a field order that drifted
    # would put a value under another name.
    from dataclasses import fields

    from credo import _credo

    assert [f.name for f in fields(evidence.ClaimSupport)] == ["text", *_credo.ClaimSupport._fields]
    answer = "The Eiffel Tower was completed in 1889 [1][3]. It is 330 metres tall; it is painted green [2]."
    raw = _credo.evidence_coverage(answer, PASSAGES)
    got = evidence.coverage(answer, PASSAGES).claims
    assert len(got) == len(raw.claims) == 3
    for c, n in zip(got, raw.claims, strict=True):
        for name in _credo.ClaimSupport._fields:
            want = getattr(n, name)
            assert getattr(c, name) == (tuple(want) if isinstance(want, list) else want), name
    assert got[0].text == "The Eiffel Tower was completed in 1889." and got[1].text == "It is 330 metres tall"


def test_exported_from_package():
    assert credo.evidence is evidence


WORDS = st.sampled_from(["tower", "Paris", "1889", "built", "the", "is", "green", "Eiffel", "330", "of"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(WORDS, min_size=1, max_size=8), min_size=1, max_size=4), st.lists(WORDS, max_size=30))
def test_invariants(sentences, passage_words):
    answer = " ".join(" ".join(s) + "." for s in sentences)
    passage = " ".join(passage_words)
    r = evidence.coverage(answer, [passage])
    assert r.coverage is None or 0.0 <= r.coverage <= 1.0
    for c in r.claims:
        assert 0.0 <= c.score <= c.recall <= 1.0
        assert c.supported == (c.score >= 0.6)
        assert 0 <= c.start < c.end <= len(answer)
    # Adding the answer itself as a passage supports every claim.
    full = evidence.coverage(answer, [passage, answer])
    assert full.coverage in (None, 1.0)
    assert not re.search(r"\[\d", "".join(c.text for c in full.claims))
