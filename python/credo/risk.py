"""Input risk: what is at stake in a request, before any model output is scored.

:class:`RiskRules` (built from a config dict, or the defaults) tags a request with

- its **domain** and the domain's **stakes** (``low`` < ``medium`` < ``high`` < ``critical``),
  from an explicit domain or from keyword rules;
- **regulated content** it touches (``medical``, ``legal``, ``financial``, ``personal_data`` by
  default), each able to raise the stakes;
- **ambiguity**: too short, several questions at once, or a reference (``it``, ``that``, ``they``)
  with nothing to resolve it.

The result, :class:`InputRisk`, is what :meth:`credo.Policy.decide` takes as ``risk=``. A request
is read in time linear in its length (the default patterns cannot backtrack quadratically); one
longer than ``max_chars`` characters (default :data:`MAX_TEXT_CHARS`) raises
:class:`~credo.InvalidArgumentError`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from credo.exceptions import ConfigError, InvalidArgumentError

__all__ = ["MAX_TEXT_CHARS", "STAKES", "InputRisk", "RiskRules", "assess", "stakes_rank"]

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
class InputRisk:
    """The input-risk tags of one request."""

    domain: str
    stakes: str
    regulated: tuple[str, ...] = ()
    ambiguity: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()

    @property
    def ambiguous(self) -> bool:
        return bool(self.ambiguity)

    @property
    def high_stakes(self) -> bool:
        return stakes_rank(self.stakes) >= stakes_rank("high")


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
        domains = cfg.get("domains", {})
        if not isinstance(domains, Mapping):
            raise ConfigError("risk.domains: expected a table of domains")
        self.domains: dict[str, tuple[str, tuple[re.Pattern[str], ...]]] = {}
        for name, d in domains.items():
            if not isinstance(d, Mapping):
                raise ConfigError(f"risk.domains.{name}: expected a table with stakes and keywords")
            stakes = d.get("stakes", "low")
            if stakes not in STAKES:
                raise ConfigError(f"risk.domains.{name}.stakes: must be one of {', '.join(STAKES)}, got {stakes!r}")
            kws = d.get("keywords", [])
            if isinstance(kws, str) or not isinstance(kws, Sequence):
                raise ConfigError(f"risk.domains.{name}.keywords: expected a list of words")
            pats = tuple(re.compile(rf"\b{re.escape(k)}", re.IGNORECASE) for k in kws)
            self.domains[str(name)] = (stakes, pats)
        regulated = dict(DEFAULT_REGULATED) if cfg.get("regulated_defaults", True) else {}
        extra = cfg.get("regulated", {})
        if not isinstance(extra, Mapping):
            raise ConfigError("risk.regulated: expected a table of regulated-content rules")
        regulated.update(extra)
        self.regulated: dict[str, tuple[str, tuple[re.Pattern[str], ...]]] = {}
        for name, r in regulated.items():
            if not isinstance(r, Mapping) or "patterns" not in r:
                raise ConfigError(f"risk.regulated.{name}: expected a table with 'patterns' (and 'stakes')")
            stakes = r.get("stakes", "high")
            if stakes not in STAKES:
                raise ConfigError(f"risk.regulated.{name}.stakes: must be one of {', '.join(STAKES)}, got {stakes!r}")
            pats = []
            for p in r["patterns"]:
                try:
                    pats.append(re.compile(p, re.IGNORECASE if name != "personal_data" else 0))
                except (re.error, TypeError) as exc:
                    raise ConfigError(
                        f"risk.regulated.{name}.patterns: {p!r} is not a valid regular expression ({exc})"
                    ) from None
            self.regulated[str(name)] = (stakes, tuple(pats))

    def domain_stakes(self, domain: str) -> str:
        return self.domains[domain][0] if domain in self.domains else "low"

    def assess(self, text: str, *, domain: str | None = None, history: Sequence[str] = ()) -> InputRisk:
        """Tags ``text``. ``domain`` overrides keyword detection; ``history`` (earlier turns)
        resolves references."""
        if not isinstance(text, str):
            raise InvalidArgumentError(f"text: expected a string, got {type(text).__name__}")
        if len(text) > self.max_chars:
            raise InvalidArgumentError(f"text: {len(text)} characters exceed max_chars = {self.max_chars}")
        reasons: list[str] = []
        if domain is None:
            domain = next(
                (n for n, (_, pats) in self.domains.items() if any(p.search(text) for p in pats)),
                self.default_domain,
            )
            if domain != self.default_domain:
                reasons.append(f"The request mentions {domain} topics.")
        stakes = self.domain_stakes(domain)
        regulated = tuple(n for n, (_, pats) in self.regulated.items() if any(p.search(text) for p in pats))
        for n in regulated:
            s = self.regulated[n][0]
            label = n.replace("_", " ")
            reasons.append(f"The request touches regulated {label} content.")
            if stakes_rank(s) > stakes_rank(stakes):
                stakes = s
        ambiguity = []
        words = _WORD.findall(text)
        if len(words) < self.min_words:
            ambiguity.append("too_short")
            reasons.append(
                f"The request has only {len(words)} word{'s' if len(words) != 1 else ''}, too short to be clear."
            )
        n_q = text.count("?")
        if n_q > self.max_questions:
            ambiguity.append("several_questions")
            reasons.append(f"The request asks {n_q} questions at once.")
        if self.check_references and not history:
            for w in words:
                lw = w.lower()
                if lw in _REFERENCES:
                    ambiguity.append("unresolved_reference")
                    reasons.append(f"The request refers to {w!r} without saying what it is.")
                    break
                if lw not in _FUNCTION:
                    break
        return InputRisk(domain, stakes, regulated, tuple(ambiguity), tuple(reasons))


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
