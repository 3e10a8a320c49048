"""Input-risk rules: stakes, regulated content, ambiguity, configuration errors."""

from __future__ import annotations

import pytest

from credo import risk
from credo.exceptions import ConfigError, InvalidArgumentError
from credo.risk import InputRisk, RiskRules

RULES = RiskRules(
    {
        "domains": {
            "medical": {"stakes": "high", "keywords": ["dose", "symptom"]},
            "billing": {"stakes": "medium", "keywords": ["invoice", "refund"]},
        },
        "regulated": {"export_control": {"stakes": "critical", "patterns": [r"\bITAR\b"]}},
    }
)


def test_plain_request_is_low_risk():
    r = RULES.assess("What is the capital of France?")
    assert r == InputRisk("general", "low", (), (), ())
    assert not r.ambiguous and not r.high_stakes


def test_domain_from_keywords_and_explicit_domain():
    r = RULES.assess("What dose of vitamin D is safe for children?")
    assert r.domain == "medical" and r.stakes == "high" and r.high_stakes
    assert "medical" in r.regulated  # the default medical pattern fires on "dose" as well
    r = RULES.assess("Where is my refund for the last invoice?")
    assert (r.domain, r.stakes) == ("billing", "medium")
    assert RULES.assess("Where is my refund?", domain="general").domain == "general"


@pytest.mark.parametrize(
    ("text", "tag", "stakes"),
    [
        ("Can I sue my landlord for the deposit?", "legal", "high"),
        ("Should I invest my pension in crypto?", "financial", "medium"),
        ("My SSN is 123-45-6789, is that safe to share?", "personal_data", "high"),
        ("Mail the report to jane.doe@example.com please", "personal_data", "high"),
        ("Is this part covered by ITAR rules?", "export_control", "critical"),
    ],
)
def test_regulated_content_raises_stakes(text, tag, stakes):
    r = RULES.assess(text)
    assert tag in r.regulated and r.stakes == stakes
    assert any(tag.replace("_", " ") in reason for reason in r.reasons)


def test_regulated_content_never_lowers_stakes():
    r = RULES.assess("What symptom and tax questions remain?", domain="medical")
    assert r.stakes == "high" and set(r.regulated) >= {"financial", "medical"}


@pytest.mark.parametrize(
    ("text", "tags"),
    [
        ("Help", ("too_short",)),
        ("Why? How? When?", ("several_questions",)),
        ("How much does it cost?", ("unresolved_reference",)),
        ("Can you fix that?", ("unresolved_reference",)),
        ("What is it? And why?", ("several_questions", "unresolved_reference")),
    ],
)
def test_ambiguity(text, tags):
    r = RULES.assess(text)
    assert r.ambiguity == tags and r.ambiguous
    assert len(r.reasons) == len(tags)


def test_references_resolved_by_the_request_or_history():
    assert not RULES.assess("How much does the Model 3 cost and is it fast?").ambiguous
    assert not RULES.assess("How much does it cost?", history=["Tell me about the Model 3."]).ambiguous
    assert not RiskRules({"check_references": False}).assess("How much does it cost?").ambiguous


def test_module_level_assess_uses_defaults():
    assert risk.assess("What is the maximum dose of ibuprofen for adults?").regulated == ("medical",)
    assert risk.stakes_rank("critical") == 3


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"typo": 1}, "risk: unknown keys"),
        ({"domains": {"x": {"stakes": "extreme"}}}, r"risk.domains.x.stakes"),
        ({"domains": {"x": {"keywords": "dose"}}}, r"risk.domains.x.keywords"),
        ({"regulated": {"x": {"patterns": ["("]}}}, r"risk.regulated.x.patterns"),
        ({"regulated": {"x": {"stakes": "high"}}}, r"risk.regulated.x"),
        ({"min_words": -1}, r"risk.min_words"),
        ({"max_questions": 0}, r"risk.max_questions"),
    ],
)
def test_bad_config(config, match):
    with pytest.raises(ConfigError, match=match):
        RiskRules(config)


def test_bad_text():
    with pytest.raises(InvalidArgumentError, match=r"^text"):
        RULES.assess(42)
    with pytest.raises(ConfigError, match=r"^stakes"):
        risk.stakes_rank("huge")
