"""Input risk: what is at stake in a request, before any model output is scored.

:class:`RiskRules` (built from a config dict, or the defaults) tags a request with

- its **domain** and the domain's **stakes** (``low`` < ``medium`` < ``high`` < ``critical``),
  from an explicit domain or from keyword rules;
- **regulated content** it touches (``medical``, ``legal``, ``financial``, ``personal_data`` by
  default), each able to raise the stakes;
- **ambiguity**: too short, several questions at once, or a reference (``it``, ``that``, ``they``)
  with nothing to resolve it.

The result, :class:`InputRisk`, is what :meth:`credo.Policy.decide` takes as ``risk=``. Each
finding is a typed tag (:class:`DomainMatch`, :class:`RegulatedContent`, :class:`TooShort`,
:class:`SeveralQuestions`, :class:`UnresolvedReference`) that carries its facts and words itself
as a sentence (``tag.reason``); the policy selects tags by their type, never by their words. A request
is read in time linear in its length (the default patterns cannot backtrack quadratically); one
longer than ``max_chars`` characters (default :data:`MAX_TEXT_CHARS`) raises
:class:`~credo.InvalidArgumentError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from credo._validate import check_text, check_texts
from credo.exceptions import ConfigError, InvalidArgumentError

__all__ = [
    "MAX_TEXT_CHARS",
    "STAKES",
    "DomainMatch",
    "InputRisk",
    "RegulatedContent",
    "RiskRules",
    "RiskTag",
    "SeveralQuestions",
    "TooShort",
    "UnresolvedReference",
    "assess",
    "stakes_rank",
]

STAKES = ("low", "medium", "high", "critical")
MAX_TEXT_CHARS = 1_000_000
"""Default bound on the length of a request (``RiskRules(max_chars=...)``)."""


def stakes_rank(stakes: str) -> int:
    """Position of ``stakes`` in ``STAKES`` (``low`` = 0 … ``critical`` = 3)."""
    try:
        return STAKES.index(stakes)
    except ValueError:
        raise ConfigError(f"stakes: must be one of {', '.join(STAKES)}, got {stakes!r}") from None


DEFAULT_REGULATED: dict[str, dict[str, Any]] = {
    "medical": {
        "stakes": "high",
        "patterns": [
            r"\b(diagnos\w*|symptom\w*|dosage|dose[sd]?|prescri\w+|medication\w*|side effects?|mg\b|"
            r"overdose|treatment|surgery|pregnan\w+|vaccin\w+|antibiotic\w*|chemotherapy|insulin)\b",
        ],
    },
    "legal": {
        "stakes": "high",
        "patterns": [
            r"\b(lawsuit|sue|suing|liab\w+|contract\w*|attorney|lawyer|court|custody|visa|immigration|"
            r"legal(?:ly)?|illegal|criminal|tenant|evict\w*)\b"
        ],
    },
    "financial": {
        "stakes": "medium",
        "patterns": [
            r"\b(invest\w*|stocks?|shares|portfolio|loan|mortgage|tax(?:es)?|crypto\w*|bitcoin|"
            r"retirement|pension|credit score|bankrupt\w*|interest rate)\b"
        ],
    },
    "personal_data": {
        "stakes": "high",
        "patterns": [
            # e-mail address; it opens where a run of address characters does (without the
            # look-behind, a search retries from inside a long run of letters: quadratic).
            r"(?<![\w.+-])[\w.+-]+@[\w-]+\.[\w.]+",
            r"\b\d{3}-\d{2}-\d{4}\b",  # US social security number
            r"\b(?:\d[ -]?){13,16}\b",  # payment card number
            r"\+?\d{1,3}[ .-]?\(?\d{2,4}\)?[ .-]?\d{3}[ .-]?\d{3,4}\b",  # phone number
            r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}\b",  # IBAN
        ],
    },
}

_REFERENCES = {
    "it",
    "its",
    "this",
    "that",
    "these",
    "those",
    "they",
    "them",
    "their",
    "he",
    "she",
    "him",
    "her",
    "his",
}
# Words that may precede a dangling reference without resolving it ("how much does it cost").
_FUNCTION = {
    "what",
    "which",
    "who",
    "whom",
    "whose",
    "when",
    "where",
    "why",
    "how",
    "much",
    "many",
    "does",
    "do",
    "did",
    "is",
    "are",
    "was",
    "were",
    "can",
    "could",
    "should",
    "would",
    "will",
    "shall",
    "may",
    "might",
    "must",
    "i",
    "we",
    "you",
    "me",
    "my",
    "our",
    "your",
    "a",
    "an",
    "the",
    "and",
    "or",
    "but",
    "so",
    "then",
    "about",
    "of",
    "to",
    "for",
    "in",
    "on",
    "at",
    "with",
    "tell",
    "explain",
    "describe",
    "give",
    "show",
    "please",
    "again",
    "still",
    "also",
    "just",
    "really",
    "fix",
    "use",
    "make",
    "get",
    "try",
    "has",
    "have",
    "had",
    "be",
    "been",
}
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*|\d+")


@dataclass(frozen=True)
class RiskTag:
    """One finding about a request. Subclasses are the kinds; ``ambiguity`` names the kind of
    ambiguity a tag is (None: not an ambiguity), and ``reason`` words the finding."""

    ambiguity: ClassVar[str | None] = None

    @property
    def reason(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class DomainMatch(RiskTag):
    """The domain's keyword rules matched ``domain``."""

    domain: str

    @property
    def reason(self) -> str:
        return f"The request mentions {self.domain} topics."


@dataclass(frozen=True)
class RegulatedContent(RiskTag):
    """A regulated-content rule (``medical``, ``personal_data``, …) matched: it may raise the
    stakes."""

    name: str

    @property
    def reason(self) -> str:
        return f"The request touches regulated {self.name.replace('_', ' ')} content."


@dataclass(frozen=True)
class TooShort(RiskTag):
    """Fewer words than ``min_words``."""

    ambiguity: ClassVar[str | None] = "too_short"
    words: int

    @property
    def reason(self) -> str:
        plural = "s" if self.words != 1 else ""
        return f"The request has only {self.words} word{plural}, too short to be clear."


@dataclass(frozen=True)
class SeveralQuestions(RiskTag):
    """More question marks than ``max_questions``."""

    ambiguity: ClassVar[str | None] = "several_questions"
    questions: int

    @property
    def reason(self) -> str:
        return f"The request asks {self.questions} questions at once."


@dataclass(frozen=True)
class UnresolvedReference(RiskTag):
    """A leading reference (``it``, ``that``, …) with nothing before it to resolve it."""

    ambiguity: ClassVar[str | None] = "unresolved_reference"
    word: str

    @property
    def reason(self) -> str:
        return f"The request refers to {self.word!r} without saying what it is."


@dataclass(frozen=True)
class InputRisk:
    """The input-risk tags of one request: the domain, the stakes, the names of the regulated
    content and of the ambiguities found, and the findings themselves as typed ``tags``."""

    domain: str
    stakes: str
    regulated: tuple[str, ...] = ()
    ambiguity: tuple[str, ...] = ()
    tags: tuple[RiskTag, ...] = ()

    @property
    def reasons(self) -> tuple[str, ...]:
        """The tags in words, one sentence each."""
        return tuple(t.reason for t in self.tags)

    @property
    def ambiguous(self) -> bool:
        return bool(self.ambiguity)

    @property
    def high_stakes(self) -> bool:
        return stakes_rank(self.stakes) >= stakes_rank("high")


_Rules = dict[str, tuple[str, tuple[re.Pattern[str], ...]]]


class RiskRules:
    """Input-risk rules from configuration.

    ``config`` keys (all optional)::

        default_domain = "general"
        min_words = 3             # fewer words → ambiguous ("too short")
        max_questions = 1         # more question marks → ambiguous ("several questions")
        check_references = true   # a leading it/that/they with nothing before it → ambiguous
        [domains.<name>]          # stakes and the keywords that select the domain
        stakes = "high"
        keywords = ["dose", "symptom"]
        [regulated.<name>]        # replaces or adds a regulated-content rule
        stakes = "high"
        patterns = ["regex", ...]

    The regulated defaults (medical, legal, financial, personal data) apply unless
    ``regulated_defaults = false``. ``max_chars`` bounds the length of a request (a longer one
    raises :class:`~credo.InvalidArgumentError`).
    """

    def __init__(self, config: Mapping[str, Any] | None = None, *, max_chars: int = MAX_TEXT_CHARS):
        if isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < 1:
            raise InvalidArgumentError(f"max_chars: must be a positive integer, got {max_chars!r}")
        self.max_chars = max_chars
        if config is not None and not isinstance(config, Mapping):
            raise ConfigError(f"config: expected a mapping of risk rules, got {type(config).__name__}")
        cfg = dict(config or {})
        known = {
            "default_domain",
            "min_words",
            "max_questions",
            "check_references",
            "domains",
            "regulated",
            "regulated_defaults",
        }
        unknown = set(cfg) - known
        if unknown:
            raise ConfigError(f"risk: unknown keys {sorted(unknown)} (known: {', '.join(sorted(known))})")
        self.default_domain = str(cfg.get("default_domain", "general"))
        self.min_words = _int(cfg.get("min_words", 3), "risk.min_words", 0)
        self.max_questions = _int(cfg.get("max_questions", 1), "risk.max_questions", 1)
        self.check_references = bool(cfg.get("check_references", True))
        self.domains: _Rules = _domain_rules(cfg.get("domains", {}))
        regulated = dict(DEFAULT_REGULATED) if cfg.get("regulated_defaults", True) else {}
        extra = cfg.get("regulated", {})
        if not isinstance(extra, Mapping):
            raise ConfigError("risk.regulated: expected a table of regulated-content rules")
        regulated.update(extra)
        self.regulated: _Rules = {str(name): _regulated_rule(str(name), r) for name, r in regulated.items()}

    def domain_stakes(self, domain: str) -> str:
        return self.domains[domain][0] if domain in self.domains else "low"

    def assess(self, text: str, *, domain: str | None = None, history: Sequence[str] = ()) -> InputRisk:
        """Tags ``text``. ``domain`` (one of the configured domains or the default domain)
        overrides keyword detection; ``history`` (earlier turns, strings) resolves references."""
        if domain is not None:
            if not isinstance(domain, str):
                raise InvalidArgumentError(f"domain: expected a domain name (str) or None, got {type(domain).__name__}")
            if domain != self.default_domain and domain not in self.domains:
                known = ", ".join(dict.fromkeys([self.default_domain, *self.domains]))
                raise InvalidArgumentError(f"domain: {domain!r} is not configured (domains: {known})")
        return self._assess(text, domain, history)

    def _assess(self, text: str, domain: str | None, history: Iterable[str]) -> InputRisk:
        """:meth:`assess` for a domain the caller has checked (a policy's, say)."""
        check_text(text, "text")
        if len(text) > self.max_chars:
            raise InvalidArgumentError(f"text: {len(text)} characters exceed max_chars = {self.max_chars}")
        history = _check_history(history)
        tags: list[RiskTag] = []
        if domain is None:
            domain = self._detect_domain(text)
            if domain != self.default_domain:
                tags.append(DomainMatch(domain))
        stakes = self.domain_stakes(domain)
        regulated = tuple(n for n, (_, pats) in self.regulated.items() if any(p.search(text) for p in pats))
        for n in regulated:
            tags.append(RegulatedContent(n))
            stakes = max(stakes, self.regulated[n][0], key=stakes_rank)
        tags.extend(self._ambiguities(text, history))
        ambiguity = tuple(t.ambiguity for t in tags if t.ambiguity is not None)
        return InputRisk(domain, stakes, regulated, ambiguity, tuple(tags))

    def _detect_domain(self, text: str) -> str:
        """The first domain whose keywords occur in ``text``, else the default domain."""
        return next(
            (n for n, (_, pats) in self.domains.items() if any(p.search(text) for p in pats)),
            self.default_domain,
        )

    def _ambiguities(self, text: str, history: Sequence[str]) -> list[RiskTag]:
        """Too short, several questions, an unresolved leading reference (in this order)."""
        found: list[RiskTag] = []
        words = _WORD.findall(text)
        if len(words) < self.min_words:
            found.append(TooShort(len(words)))
        n_q = text.count("?")
        if n_q > self.max_questions:
            found.append(SeveralQuestions(n_q))
        if self.check_references and not history:
            ref = _leading_reference(words)
            if ref is not None:
                found.append(UnresolvedReference(ref))
        return found


def _check_history(history: Any) -> tuple[str, ...]:
    """Earlier turns: strings, in a list or any other iterable (not one bare string, not a mapping)."""
    if isinstance(history, Mapping):
        raise InvalidArgumentError(f"history: expected a list of earlier turns (strings), got {type(history).__name__}")
    return check_texts(history, "history", what="a list of earlier turns (strings)")


def _leading_reference(words: Sequence[str]) -> str | None:
    """The first reference word when only function words come before it, else None."""
    for w in words:
        lw = w.lower()
        if lw in _REFERENCES:
            return w
        if lw not in _FUNCTION:
            return None
    return None


def _stakes_of(value: Any, key: str) -> str:
    if value not in STAKES:
        raise ConfigError(f"{key}: must be one of {', '.join(STAKES)}, got {value!r}")
    return str(value)


def _domain_rules(domains: Any) -> _Rules:
    """The ``[domains]`` table: name → (stakes, keyword patterns)."""
    if not isinstance(domains, Mapping):
        raise ConfigError("risk.domains: expected a table of domains")
    out: _Rules = {}
    for name, d in domains.items():
        if not isinstance(d, Mapping):
            raise ConfigError(f"risk.domains.{name}: expected a table with stakes and keywords")
        stakes = _stakes_of(d.get("stakes", "low"), f"risk.domains.{name}.stakes")
        kws = d.get("keywords", [])
        if isinstance(kws, str) or not isinstance(kws, Sequence):
            raise ConfigError(f"risk.domains.{name}.keywords: expected a list of words")
        out[str(name)] = (stakes, tuple(re.compile(rf"\b{re.escape(k)}", re.IGNORECASE) for k in kws))
    return out


def _regulated_rule(name: str, rule: Any) -> tuple[str, tuple[re.Pattern[str], ...]]:
    """One ``[regulated.<name>]`` table: (stakes, patterns)."""
    if not isinstance(rule, Mapping) or "patterns" not in rule:
        raise ConfigError(f"risk.regulated.{name}: expected a table with 'patterns' (and 'stakes')")
    stakes = _stakes_of(rule.get("stakes", "high"), f"risk.regulated.{name}.stakes")
    flags = re.IGNORECASE if name != "personal_data" else 0
    pats = []
    for p in rule["patterns"]:
        try:
            pats.append(re.compile(p, flags))
        except (re.error, TypeError) as exc:
            raise ConfigError(
                f"risk.regulated.{name}.patterns: {p!r} is not a valid regular expression ({exc})"
            ) from None
    return stakes, tuple(pats)


def _int(v: Any, name: str, lo: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise ConfigError(f"{name}: must be an integer >= {lo}, got {v!r}")
    return v


def assess(
    text: str, *, domain: str | None = None, history: Sequence[str] = (), rules: RiskRules | None = None
) -> InputRisk:
    """:meth:`RiskRules.assess` with the default rules (or ``rules``)."""
    return (rules or _DEFAULT).assess(text, domain=domain, history=history)


_DEFAULT = RiskRules()
