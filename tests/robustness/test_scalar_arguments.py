"""Argument checks the bad-input matrix does not pin on its own: every path of an argument (fast
and checked, single and batch), the messages' names, and the documented results that replace a
refusal (a policy's domains in ``Policy.assess``, NaN scores passed on by ``from_hf_scores``)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import credo
from credo.agreement import AdaptiveStopping, agree, agree_batch, normalize_answer
from credo.signals import topk_signals, topk_summary, topk_summary_batch

NOT_BOOLS = [1, 0, 2, math.nan, "yes", None]


# --------------------------------------------------------------------------- agreement


@pytest.mark.parametrize("step", ["unicode", "lowercase", "punctuation", "articles", "whitespace", "numbers"])
@pytest.mark.parametrize("value", NOT_BOOLS)
def test_normalize_answer_steps_are_bools(step, value):
    with pytest.raises(credo.InvalidArgumentError, match=rf"^{step}: must be True or False"):
        normalize_answer("The Answer", **{step: value})
    assert normalize_answer("The Answer", **{step: np.bool_(True)}) == normalize_answer("The Answer")


def test_normalize_mapping_values_are_bools():
    with pytest.raises(credo.InvalidArgumentError, match=r"^normalize\['articles'\]"):
        agree(["a", "b"], normalize={"articles": "no"})
    assert agree(["The cat", "cat"], normalize={"articles": False}).n_clusters == 2


@pytest.mark.parametrize(("name", "value"), [("tolerance", True), ("tolerance", "0.1"), ("threshold", "0.5")])
def test_agree_numbers_are_numbers(name, value):
    # Checked whatever the method (a tolerance given with method="exact" is still a number).
    for method in ("numeric", "exact"):
        with pytest.raises(credo.InvalidArgumentError, match=rf"^{name}: must be a number"):
            agree(["4", "4.0"], method=method, **{name: value})


def test_agree_batch_names_questions():
    with pytest.raises(credo.EmptyInputError, match=r"^questions\[2\]: no answers"):
        agree_batch([["a"], ["b"], []])
    with pytest.raises(credo.InvalidArgumentError, match=r"^questions: answer 1 of question 0 is list"):
        agree_batch([["a", ["b"]]])
    with pytest.raises(credo.InvalidArgumentError, match=r"^spectral"):
        agree_batch([["a"]], spectral=1)
    # A single question keeps its own name.
    with pytest.raises(credo.InvalidArgumentError, match=r"^answers: answer 1 is list"):
        agree(["a", ["b"]])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"similarity": None},  # a similarity that was None made the method "exact"
        {"method": "numeric"},  # numeric takes tolerance=
        {"equivalent": lambda a, b: a == b},
    ],
)
def test_a_threshold_no_method_reads_is_refused(kwargs):
    with pytest.raises(credo.InvalidArgumentError, match=r"^threshold: method '\w+' takes"):
        agree(["a", "b"], threshold=0.7, **kwargs)
    with pytest.raises(credo.InvalidArgumentError, match=r"^threshold: method '\w+' takes"):
        agree_batch([["a", "b"]], threshold=0.7, **kwargs)
    assert agree(["a", "b"], **kwargs).n_clusters == 2


def test_agree_logprobs_need_one_entry_per_answer():
    with pytest.raises(credo.InvalidArgumentError, match=r"^logprobs: expected one sequence"):
        agree(["a", "b"], logprobs=np.asarray(-1.0))


def test_adaptive_stopping_checks_confidence_even_with_a_threshold():
    # threshold takes over from confidence, but a nonsense confidence is still refused.
    with pytest.raises(credo.CredoError, match=r"^confidence"):
        AdaptiveStopping("beta", confidence=math.nan, threshold=0.5)
    with pytest.raises(credo.InvalidArgumentError, match=r"^threshold: must lie in \[0, 1\]"):
        AdaptiveStopping("beta", threshold=1.5)  # named as written, not as "confidence"
    with pytest.raises(credo.InvalidArgumentError, match=r"^threshold: must be a number"):
        AdaptiveStopping("majority", threshold=True)
    with pytest.raises(credo.InvalidArgumentError, match=r"min_samples = 50"):
        AdaptiveStopping(min_samples=50, max_samples=40)
    with pytest.raises(credo.InvalidArgumentError, match=r"^ignore_empty"):
        AdaptiveStopping(ignore_empty="no")


def test_adaptive_stopping_names_the_argument_of_each_method():
    s = AdaptiveStopping(ignore_empty=False)
    with pytest.raises(credo.InvalidArgumentError, match=r"^answers_or_counts\[1\]: None"):
        s.decide(["a", None])
    with pytest.raises(credo.InvalidArgumentError, match=r"^answers\[0\]: text is not valid Unicode"):
        s.counts(["a\udc80"])
    with pytest.raises(credo.InvalidArgumentError, match=r"^samples\[0\]: expected a string, got int"):
        s.run(lambda: 3)
    # Counts and answers give the same decision (the documented forms of the argument).
    lenient = AdaptiveStopping()
    assert lenient.decide([3, 4]) == lenient.decide({"x": 3, "y": 4})
    assert lenient.decide(["a", "a", None]) == lenient.decide(["a", "a"])


# --------------------------------------------------------------------------- signals


@pytest.mark.parametrize("sentinel", [math.nan, math.inf, -math.inf])
def test_a_sentinel_that_is_not_finite_is_refused_on_every_path(sentinel):
    top = np.log([[0.6, 0.3], [0.9, 0.05]])
    calls = [
        lambda: topk_signals(top, sentinel=sentinel),
        lambda: topk_summary(top, sentinel=sentinel),  # a float: the kernel's fast path
        lambda: topk_summary(top.astype(np.float32).tolist(), sentinel=sentinel),  # the converting path
        lambda: topk_summary_batch([top, top], sentinel=sentinel),
    ]
    for call in calls:  # NaN may be a NonFiniteError, the others InvalidArgumentError
        with pytest.raises((credo.InvalidArgumentError, credo.NonFiniteError), match=r"^sentinel"):
            call()


@pytest.mark.parametrize("sentinel", [True, "-9999"])
def test_a_sentinel_is_a_number(sentinel):
    top = np.log([[0.6, 0.3]])
    for call in (topk_signals, topk_summary):
        with pytest.raises(credo.InvalidArgumentError, match=r"^sentinel: must be a number"):
            call(top, sentinel=sentinel)


def test_topk_source_and_processed():
    top = np.log([[0.6, 0.3]])
    assert topk_signals(top, source="gemini", processed=np.bool_(True)).provenance.processed is True
    with pytest.raises(credo.InvalidArgumentError, match=r"^source: must be one of"):
        topk_signals(top, source="anthropic")
    with pytest.raises(credo.InvalidArgumentError, match=r"^processed"):
        topk_signals(top, processed=1)
    with pytest.raises(credo.InvalidArgumentError, match=r"^chosen_logprob\[1\]: is None"):
        topk_summary_batch([top, top], [top[:, 0], None])


def test_sequence_signals_names_its_array_signals():
    logits = np.zeros((2, 3, 4))
    logits[1, 0, 2] = np.nan
    with pytest.raises(credo.NonFiniteError, match=r"^signals: batch 1"):
        credo.sequence_signals(logits)
    with pytest.raises(credo.EmptyInputError, match=r"^signals: is empty"):
        credo.sequence_signals(np.zeros((0, 3, 4)))
    # token_signals itself still calls it logits.
    with pytest.raises(credo.NonFiniteError, match=r"^logits: batch 1"):
        credo.token_signals(logits)
    with pytest.raises(credo.InvalidArgumentError, match=r"^include_eos"):
        credo.sequence_signals(np.zeros((2, 3, 4)), include_eos=0)


def test_sequence_signals_reads_lengths_and_mask_naming_them():
    logits = np.zeros((2, 3, 4))
    with pytest.raises(credo.InvalidArgumentError, match=r"^lengths: cannot be read as an array"):
        credo.sequence_signals(logits, lengths=[[1, 2], [1]])
    with pytest.raises(credo.InvalidArgumentError, match=r"^mask: cannot be read as an array"):
        credo.sequence_signals(logits, mask=[[1, 1, 0], [1]])


@pytest.mark.parametrize("temperature", [True, "0.7", [0.7]])
def test_temperature_is_a_number(temperature):
    with pytest.raises(credo.InvalidArgumentError, match=r"^temperature"):
        credo.token_signals(np.zeros((2, 4)), temperature=temperature)


# --------------------------------------------------------------------------- readers


def test_from_hf_scores_checks_ids_and_passes_nan_on():
    steps = [np.log(np.full((1, 4), 0.25)) for _ in range(2)]
    ok = credo.formats.from_hf_scores(steps, np.array([[9, 1, 3]]))  # the prompt id 9 is not read
    assert ok.chosen.tolist() == [[1, 3]]
    for bad in ([[0, 1, 4]], [[0, -1, 2]], np.array([[0, 1, 2]], dtype=np.uint64) + np.uint64(2**63)):
        with pytest.raises(
            credo.InvalidArgumentError, match=r"^sequences: the generated token ids must lie in \[0, 4\)"
        ):
            credo.formats.from_hf_scores(steps, bad)
    with pytest.raises(credo.InvalidArgumentError, match=r"^sequences: expected integer token ids"):
        credo.formats.from_hf_scores(steps, np.array([[0.0, 1.0, 2.0]]))
    with pytest.raises(credo.InvalidArgumentError, match=r"^scores\[1\]: expected real-valued scores"):
        credo.formats.from_hf_scores([steps[0], steps[1] + 0j], [[0, 1, 2]])
    with pytest.raises(credo.InvalidArgumentError, match=r"^scores: expected a sequence"):
        credo.formats.from_hf_scores(None, [[0, 1, 2]])
    # A NaN score (a numerical failure) is passed on; DenseLogits.signals decides, as documented.
    nan_steps = [steps[0], np.array([[np.nan, 0.0, 0.0, 0.0]])]
    dense = credo.formats.from_hf_scores(nan_steps, [[0, 1, 2]])
    with pytest.raises(credo.NonFiniteError, match=r"^logits"):
        dense.signals()
    marked = dense.signals(invalid="nan")
    assert math.isnan(marked.entropy[0, 1]) and not math.isnan(marked.entropy[0, 0])


def test_readers_missing_chosen_is_a_number():
    outputs = [{5: -0.1, 7: -2.5}, {3: -0.3, 1: -1.9}]
    assert credo.formats.from_vllm(outputs, [5, 2], missing_chosen=-100.0).chosen_logprob.tolist() == [-0.1, -100.0]
    body = b'{"choices":[{"logprobs":{"content":[{"token":"a","logprob":-0.1,"top_logprobs":[]}]}}]}'
    for bad in (True, "-100", None):
        with pytest.raises(credo.InvalidArgumentError, match=r"^missing_chosen: must be a number"):
            credo.formats.from_vllm(outputs, [5, 2], missing_chosen=bad)
        with pytest.raises(credo.InvalidArgumentError, match=r"^missing_chosen: must be a number"):
            credo.formats.from_openai(body, missing_chosen=bad)


def test_from_vllm_checks_k_and_positions_before_lengths():
    outputs = [{5: -0.1, 7: -2.5}, {3: -0.3, 1: -1.9}]
    for k in (0, -3, True, 1.5):
        with pytest.raises(credo.InvalidArgumentError, match=r"^k: must be"):
            credo.formats.from_vllm(outputs, [5, 3], k=k)
    with pytest.raises(credo.InvalidArgumentError, match=r"^outputs\[1\]: each position must be a dict"):
        credo.formats.from_vllm([outputs[0], [0.5]], [5, 3, 4])
    deep: list = [1]
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(credo.InvalidArgumentError, match=r"^token_ids\[0\]: expected an integer"):
        credo.formats.from_vllm(outputs, [deep, 3])


# --------------------------------------------------------------------------- verifiers, risk, evidence


def test_schema_verifier_bounds_its_schema_and_numbers():
    pytest.importorskip("jsonschema")
    from credo.verify import SchemaVerifier

    deep: dict = {}
    for _ in range(5000):  # a real schema nesting: the checker would recurse along it
        deep = {"type": "object", "properties": {"x": deep}}
    with pytest.raises(credo.ConfigError, match=r"^schema: nested"):
        SchemaVerifier(deep)
    for bad in (0, -1, True, 2.0, None):
        with pytest.raises(credo.InvalidArgumentError, match=r"^max_errors"):
            SchemaVerifier({"type": "object"}, max_errors=bad)
    r = SchemaVerifier({"type": "integer"}).verify("1" * 5000)
    assert not r.passed and "cannot be read" in r.detail


def test_verifier_lists_and_flags():
    from credo.verify import ArithmeticVerifier, FormatVerifier, ProcessVerifier, ToolResultVerifier

    assert FormatVerifier("date", formats=["%d.%m.%Y"]).verify("02.01.2024").passed
    with pytest.raises(credo.ConfigError, match=r"^formats: expected a list of strings, got str"):
        FormatVerifier("date", formats="%Y-%m-%d")
    with pytest.raises(credo.ConfigError, match=r"^units\[1\]: expected a string"):
        FormatVerifier("number_with_unit", units=["kg", 3])
    with pytest.raises(credo.ConfigError, match=r"^required\[0\]"):
        ProcessVerifier(required=[None])
    with pytest.raises(credo.InvalidArgumentError, match=r"^answer: expected a string"):
        ProcessVerifier(required=["search"]).verify(None, {"tool_calls": ["search"]})
    with pytest.raises(credo.InvalidArgumentError, match=r"^require"):
        ArithmeticVerifier(require=1)
    with pytest.raises(credo.InvalidArgumentError, match=r"^rel_tol"):
        ArithmeticVerifier(rel_tol=False)
    with pytest.raises(credo.InvalidArgumentError, match=r"^rel_tol"):
        ToolResultVerifier(rel_tol=False)
    with pytest.raises(credo.InvalidArgumentError, match=r"^check_names"):
        ToolResultVerifier(check_names="no")
    with pytest.raises(credo.InvalidArgumentError, match=r"^ignore\[1\]: must be a number"):
        ToolResultVerifier(ignore=[2024, "2025"])
    assert ToolResultVerifier(ignore=(2024,)).verify("In 2024 it was 5.", {"tool_result": {"n": 5}}).passed


def test_risk_domains_and_history():
    rules = credo.risk.RiskRules({"domains": {"medical": {"stakes": "high", "keywords": ["dose"]}}})
    assert rules.assess("Which dose?", domain="medical").stakes == "high"
    assert rules.assess("Hello there friend", domain="general").domain == "general"
    for bad in ("medcal", "", "general\x00", "\udc80"):
        with pytest.raises(credo.InvalidArgumentError, match=r"^domain: .* is not configured"):
            rules.assess("Which dose?", domain=bad)
    with pytest.raises(credo.InvalidArgumentError, match=r"^history\[1\]: expected a string"):
        rules.assess("Is it safe?", history=["hi", None])
    with pytest.raises(credo.InvalidArgumentError, match=r"^history: expected a list"):
        rules.assess("Is it safe?", history="hi")
    assert rules.assess("Is it safe?", history=(t for t in ["hi"])).ambiguity == ()
    with pytest.raises(credo.ConfigError, match=r"^config"):
        credo.risk.RiskRules(["domains"])
    # A policy's domains need not all be in its risk rules: Policy.assess checks them itself.
    policy = credo.Policy({"domains": {"general": {}, "legal": {"stakes": "high"}}})
    assert policy.assess("Can I break my lease?", domain="legal").domain == "legal"
    with pytest.raises(credo.InvalidArgumentError, match=r"^domain: 'nope' is not configured"):
        policy.assess("Can I break my lease?", domain="nope")


def test_evidence_options():
    answer, passages = "Paris is in France [1].", ["Paris is in France."]
    for name, bad in [("citations", 1), ("min_support", True), ("max_chars", 2**64), ("max_passages", 1.0)]:
        with pytest.raises(credo.InvalidArgumentError, match=rf"^{name}"):
            credo.evidence.coverage(answer, passages, **{name: bad})
        with pytest.raises(credo.InvalidArgumentError, match=rf"^{name}"):
            credo.evidence.coverage_batch([answer], [passages], **{name: bad})
    assert credo.evidence.coverage(answer, passages, citations=np.bool_(False)).citation_precision is None
