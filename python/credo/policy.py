"""The decision policy: turns a calibrated confidence and the request's other signals into an action.

A :class:`Policy` is built from TOML or a dict and validated up front (every mistake raises
:class:`~credo.ConfigError` naming the key). It is tiered:

- **baseline** — every request: a cheap check of the calibrated confidence against the domain's
  threshold;
- **gray zone** — a confidence band just below the threshold where heavier checks (verify,
  retrieve, escalate) are requested one after the other before giving up;
- **strict** — domains whose stakes are high (or requests whose input risk makes them so): the
  threshold may be a guaranteed one (any object with ``accept(confidence)``, such as
  ``credo.conformal.SelectiveThreshold``), and everything that would not answer escalates or
  abstains.

:meth:`Policy.decide` applies the rules in a fixed order — ambiguous input → ask; a sampling
artefact (repetition loop) → retry; a failed verifier → retry or verify; low evidence coverage →
retrieve (or abstain when the stakes are high); then the confidence bands — and returns a
:class:`Decision` whose every reason is a readable sentence. Same input, same decision.

Configuration (TOML; every key optional except where noted)::

    default_domain = "general"           # must be one of [domains]
    threshold = 0.75                     # defaults inherited by every domain …
    gray_zone = [0.45, 0.75]             # [low, high): high must not exceed the threshold
    gray_zone_checks = ["verify"]        # heavier checks, in order: verify / retrieve / escalate
    gray_zone_exhausted = "abstain"      # still gray after every check
    below = "abstain"                    # below the gray zone
    strict_stakes = "high"               # stakes from which the strict path applies
    stakes_thresholds = {high = 0.9, critical = 0.95}  # threshold floors when the input
                                         # (credo.risk) raises a request's stakes above its domain's
    strict_action = "escalate"           # strict path, not accepted: escalate or abstain
    min_coverage = 0.5                   # evidence coverage needed (when coverage is given)
    on_verifier_failure = "retry"        # retry or verify
    max_retries = 1
    repetition_max = 0.5                 # repetition score from which the output is an artefact

    [domains.general]                    # at least one domain
    stakes = "low"

    [domains.medical]                    # … and overridden per domain
    stakes = "high"
    threshold = 0.9
    strict_action = "abstain"

    budget_cost = 20.0                   # a request's cost budget (credo.Cascade stops spending
    budget_latency_s = 5.0               # beyond it), and its wall-time budget; none by default

    [costs]                              # what each action costs (for budgets and reports)
    verify = 1.0
    escalate = 10.0

    [risk]                               # credo.risk.RiskRules configuration
"""

from __future__ import annotations

import copy
import math
import operator
import os
import reprlib
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from credo.exceptions import ConfigError, InvalidArgumentError
from credo.risk import STAKES, InputRisk, RegulatedContent, RiskRules, stakes_rank

if TYPE_CHECKING:
    from credo._credo import Outcome as _Outcome

__all__ = ["Action", "Decision", "Policy"]


class Action(str, Enum):
    """What to do with a request."""

    ANSWER = "answer"
    ABSTAIN = "abstain"
    ASK = "ask"
    RETRIEVE = "retrieve"
    VERIFY = "verify"
    ESCALATE = "escalate"
    RETRY = "retry"

    def __str__(self) -> str:
        return self.value

    # The str hash of the value, in C: equal to the hash of the equal string (an Enum's own hash,
    # of the member name in Python, is neither), and cheap in the per-request cost lookup.
    __hash__ = str.__hash__


_ACTIONS = {a.value: a for a in Action}
_ACTION_NAME = {a: a.value for a in Action}  # .value is a property: slower than a lookup
# Module-level names for the members: a member looked up on the Enum class costs more than a
# global (decide() names several per request).
_ANSWER, _ABSTAIN, _ASK, _RETRIEVE, _VERIFY, _RETRY = (
    Action.ANSWER,
    Action.ABSTAIN,
    Action.ASK,
    Action.RETRIEVE,
    Action.VERIFY,
    Action.RETRY,
)
_new_object = object.__new__
_TIERS = ("baseline", "gray_zone", "strict")


@dataclass(frozen=True)
class Decision:
    """The outcome of :meth:`Policy.decide`.

    ``tier`` is the path that decided (``baseline``, ``gray_zone`` or ``strict``); ``cost`` is the
    configured cost of the action; ``settled`` is True for actions that end the request (answer,
    abstain, ask, escalate) and False for the ones that gather more (retrieve, verify, retry).
    """

    action: Action
    confidence: float
    tier: str
    reasons: tuple[str, ...]
    cost: float
    domain: str = ""
    threshold: float | None = None

    @property
    def settled(self) -> bool:
        return self.action in (Action.ANSWER, Action.ABSTAIN, Action.ASK, Action.ESCALATE)

    def explain(self) -> str:
        """The reasons as one paragraph."""
        return " ".join(self.reasons)


DEFAULT_COSTS = {
    "answer": 0.0,
    "abstain": 0.0,
    "ask": 0.0,
    "retrieve": 1.0,
    "verify": 1.0,
    "retry": 1.0,
    "escalate": 10.0,
}

_DOMAIN_KEYS = {
    "stakes",
    "threshold",
    "gray_zone",
    "gray_zone_checks",
    "gray_zone_exhausted",
    "below",
    "strict_action",
    "min_coverage",
    "on_verifier_failure",
    "max_retries",
    "repetition_max",
}
_TOP_KEYS = _DOMAIN_KEYS - {"stakes"} | {
    "default_domain",
    "strict_stakes",
    "stakes_thresholds",
    "domains",
    "costs",
    "risk",
    "budget_cost",
    "budget_latency_s",
}
DEFAULT_STAKES_THRESHOLDS = {"high": 0.9, "critical": 0.95}
_DEFAULTS: dict[str, Any] = {
    "stakes": "low",
    "threshold": 0.75,
    "gray_zone": None,  # derived: [threshold - 0.3, threshold)
    "gray_zone_checks": ["verify"],
    "gray_zone_exhausted": "abstain",
    "below": "abstain",
    "strict_action": "escalate",
    "min_coverage": 0.5,
    "on_verifier_failure": "retry",
    "max_retries": 1,
    "repetition_max": 0.5,
}
_ALLOWED = {
    "gray_zone_checks": ("verify", "retrieve", "escalate"),
    "gray_zone_exhausted": ("abstain", "escalate", "ask"),
    "below": ("abstain", "escalate", "ask", "retrieve"),
    "strict_action": ("escalate", "abstain"),
    "on_verifier_failure": ("retry", "verify"),
}


def _unit(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{key}: must be a number in [0, 1], got {value!r}")
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"{key}: must lie in [0, 1], got {value!r}")
    return float(value)


def _action(value: Any, key: str, allowed: tuple[str, ...]) -> Action:
    if value not in _ACTIONS:
        raise ConfigError(f"{key}: unknown action {value!r} (actions: {', '.join(_ACTIONS)})")
    if value not in allowed:
        raise ConfigError(f"{key}: {value!r} is not allowed here (choose from {', '.join(allowed)})")
    return _ACTIONS[value]


class _Domain:
    """One domain's validated settings."""

    __slots__ = (
        "below",
        "gray_checks",
        "gray_exhausted",
        "gray_high",
        "gray_low",
        "max_retries",
        "min_coverage",
        "name",
        "on_verifier_failure",
        "repetition_max",
        "stakes",
        "stakes_rank",
        "strict_action",
        "threshold",
        "threshold_text",
    )

    def __init__(self, name: str, cfg: Mapping[str, Any]):
        p = f"domains.{name}"
        self.name = name
        stakes = cfg["stakes"]
        if stakes not in STAKES:
            raise ConfigError(f"{p}.stakes: must be one of {', '.join(STAKES)}, got {stakes!r}")
        self.stakes = stakes
        self.stakes_rank = stakes_rank(stakes)
        self.threshold = _unit(cfg["threshold"], f"{p}.threshold")
        # The reasons' wording of the threshold, made once, with the value it was made for.
        self.threshold_text = (self.threshold, f"the threshold {self.threshold:.2f}")
        gz = cfg["gray_zone"]
        if gz is None:
            gz = [max(0.0, self.threshold - 0.3), self.threshold]
        if isinstance(gz, Mapping):
            gz = [gz.get("low"), gz.get("high")]
        if isinstance(gz, (str, bytes)) or not isinstance(gz, Iterable) or len(list(gz)) != 2:
            raise ConfigError(f"{p}.gray_zone: expected [low, high], got {gz!r}")
        lo, hi = (_unit(v, f"{p}.gray_zone") for v in gz)
        if lo > hi:
            raise ConfigError(f"{p}.gray_zone: low {lo} is above high {hi}")
        if hi > self.threshold:
            raise ConfigError(
                f"{p}.gray_zone: the band [{lo}, {hi}) overlaps the answer band [{self.threshold}, 1] "
                f"(its high end must not exceed the threshold)"
            )
        self.gray_low, self.gray_high = lo, hi
        checks = cfg["gray_zone_checks"]
        if isinstance(checks, str) or not isinstance(checks, Iterable):
            raise ConfigError(f"{p}.gray_zone_checks: expected a list of actions")
        self.gray_checks = tuple(_action(c, f"{p}.gray_zone_checks", _ALLOWED["gray_zone_checks"]) for c in checks)
        if len(set(self.gray_checks)) != len(self.gray_checks):
            raise ConfigError(f"{p}.gray_zone_checks: lists an action twice")
        self.gray_exhausted = _action(
            cfg["gray_zone_exhausted"], f"{p}.gray_zone_exhausted", _ALLOWED["gray_zone_exhausted"]
        )
        self.below = _action(cfg["below"], f"{p}.below", _ALLOWED["below"])
        self.strict_action = _action(cfg["strict_action"], f"{p}.strict_action", _ALLOWED["strict_action"])
        self.min_coverage = _unit(cfg["min_coverage"], f"{p}.min_coverage")
        self.on_verifier_failure = _action(
            cfg["on_verifier_failure"], f"{p}.on_verifier_failure", _ALLOWED["on_verifier_failure"]
        )
        mr = cfg["max_retries"]
        if isinstance(mr, bool) or not isinstance(mr, int) or mr < 0:
            raise ConfigError(f"{p}.max_retries: must be a non-negative integer, got {mr!r}")
        self.max_retries = mr
        self.repetition_max = _unit(cfg["repetition_max"], f"{p}.repetition_max")

    def native(self, strict: bool, hooked: bool) -> _NativeDomain:
        """These rules in their native form (``strict``: the strict path applies; ``hooked``: a
        guaranteed threshold object decides it, in Python)."""
        code = _ACTION_CODE
        return (
            self.threshold,
            self.gray_low,
            self.gray_high,
            [code[c] for c in self.gray_checks],
            code[self.gray_exhausted],
            code[self.below],
            code[self.strict_action],
            self.min_coverage,
            self.max_retries,
            self.repetition_max,
            strict,
            hooked,
        )


def _domains_from(cfg: Mapping[str, Any]) -> dict[str, _Domain]:
    """The ``[domains]`` tables, each merged over the top-level defaults."""
    domains = cfg.get("domains")
    if not isinstance(domains, Mapping) or not domains:
        raise ConfigError("domains: missing; define at least one domain, e.g. [domains.general]")
    base = {k: cfg.get(k, v) for k, v in _DEFAULTS.items() if k != "stakes"}
    out: dict[str, _Domain] = {}
    for name, dcfg in domains.items():
        if not isinstance(dcfg, Mapping):
            raise ConfigError(f"domains.{name}: expected a table of settings")
        bad = set(dcfg) - _DOMAIN_KEYS
        if bad:
            raise ConfigError(f"domains.{name}: unknown keys {sorted(bad)} (known: {', '.join(sorted(_DOMAIN_KEYS))})")
        out[str(name)] = _Domain(str(name), {"stakes": "low", **base, **dcfg})
    return out


def _default_domain_from(cfg: Mapping[str, Any], domains: Mapping[str, _Domain]) -> str:
    default = cfg.get("default_domain", "general" if "general" in domains else None)
    if default is None:
        raise ConfigError(f"default_domain: missing, and there is no 'general' domain (domains: {', '.join(domains)})")
    if default not in domains:
        raise ConfigError(f"default_domain: {default!r} is not among the domains ({', '.join(domains)})")
    return str(default)


def _stakes_key(value: Any, key: str) -> str:
    if value not in STAKES:
        raise ConfigError(f"{key}: must be one of {', '.join(STAKES)}, got {value!r}")
    return str(value)


def _stakes_thresholds_from(cfg: Mapping[str, Any]) -> dict[str, float]:
    st_thr = cfg.get("stakes_thresholds", DEFAULT_STAKES_THRESHOLDS)
    if not isinstance(st_thr, Mapping):
        raise ConfigError("stakes_thresholds: expected a table of stakes = threshold")
    for k in st_thr:
        if k not in STAKES:
            raise ConfigError(f"stakes_thresholds.{k}: unknown stakes (stakes: {', '.join(STAKES)})")
    return {k: _unit(v, f"stakes_thresholds.{k}") for k, v in st_thr.items()}


def _costs_from(cfg: Mapping[str, Any]) -> dict[Action, float]:
    """The ``[costs]`` table over :data:`DEFAULT_COSTS`."""
    costs = cfg.get("costs", {})
    if not isinstance(costs, Mapping):
        raise ConfigError("costs: expected a table of action = cost")
    out = {_ACTIONS[k]: v for k, v in DEFAULT_COSTS.items()}
    for k, v in costs.items():
        if k not in _ACTIONS:
            raise ConfigError(f"costs.{k}: unknown action {k!r} (actions: {', '.join(_ACTIONS)})")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise ConfigError(f"costs.{k}: must be a non-negative number, got {v!r}")
        out[_ACTIONS[k]] = float(v)
    return out


def _budget(value: Any, key: str) -> float | None:
    """A budget: a finite non-negative number, or None (no budget)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
        raise ConfigError(f"{key}: must be a finite non-negative number, got {value!r}")
    return float(value)


def _risk_rules_from(cfg: Mapping[str, Any], domains: Mapping[str, _Domain]) -> RiskRules | None:
    """The ``[risk]`` table's rules, whose domains must be the policy's."""
    risk_cfg = cfg.get("risk")
    if risk_cfg is None:
        return None
    rules = RiskRules(risk_cfg)
    missing = [d for d in rules.domains if d not in domains]
    if missing:
        raise ConfigError(f"risk.domains: {missing} are not among the policy's domains ({', '.join(domains)})")
    if rules.default_domain not in domains:
        raise ConfigError(f"risk.default_domain: {rules.default_domain!r} is not among the policy's domains")
    return rules


# One domain's rules as credo._credo.NativeDecision takes them: (threshold, gray_low, gray_high,
# gray_checks, gray_exhausted, below, strict_action, min_coverage, max_retries, repetition_max,
# strict, hooked), actions as their codes (credo_core::decide::Action, the order of Action).
_NativeDomain = tuple[float, float, float, list[int], int, int, int, float, int, float, bool, bool]
_ACTION_CODE = {a: i for i, a in enumerate(Action)}


def _read_toml(source: str | os.PathLike[str]) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib
        except ImportError:
            raise ConfigError(
                "policy: reading TOML needs Python 3.11+ (tomllib) or the tomli package; "
                "or build the policy from a dict with Policy.from_dict"
            ) from None
    text: str
    if isinstance(source, os.PathLike) or (isinstance(source, str) and "\n" not in source and source.endswith(".toml")):
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"path: cannot read policy file {str(path)!r} ({exc.strerror or exc})") from None
    else:
        text = str(source)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"policy: not valid TOML ({exc})") from None


class Policy:
    """A validated, deterministic decision policy (see the module docstring for the keys).

    Parameters
    ----------
    config : mapping
        The policy configuration (as read from TOML).
    thresholds : mapping of domain → threshold object, optional
        Guaranteed thresholds for the strict path: objects with ``accept(confidence) -> bool``
        (and, for the reasons, a ``threshold_`` attribute), e.g. a fitted
        ``credo.conformal.SelectiveThreshold``.
    """

    def __init__(self, config: Mapping[str, Any] | None = None, *, thresholds: Mapping[str, Any] | None = None):
        if config is not None and not isinstance(config, Mapping):
            raise ConfigError(f"config: expected a mapping of settings, got {type(config).__name__}")
        cfg = dict(config or {"domains": {"general": {}}})
        if isinstance(cfg.get("policy"), Mapping) and set(cfg) <= {"policy", "domains", "costs", "risk"}:
            # Accept a [policy] table holding the top-level keys.
            cfg = {**cfg.pop("policy"), **cfg}
        unknown = set(cfg) - _TOP_KEYS
        if unknown:
            raise ConfigError(f"policy: unknown keys {sorted(unknown)} (known: {', '.join(sorted(_TOP_KEYS))})")
        self.domains: dict[str, _Domain] = _domains_from(cfg)
        self.default_domain: str = _default_domain_from(cfg, self.domains)
        self.strict_stakes: str = _stakes_key(cfg.get("strict_stakes", "high"), "strict_stakes")
        self._strict_rank = stakes_rank(self.strict_stakes)
        self.stakes_thresholds: dict[str, float] = _stakes_thresholds_from(cfg)
        self.costs: dict[Action, float] = _costs_from(cfg)
        self.budget_cost: float | None = _budget(cfg.get("budget_cost"), "budget_cost")
        self.budget_latency_s: float | None = _budget(cfg.get("budget_latency_s"), "budget_latency_s")
        self.risk_rules: RiskRules | None = _risk_rules_from(cfg, self.domains)
        self.thresholds: dict[str, Any] = {}
        for name, obj in (thresholds or {}).items():
            self.set_threshold(name, obj)
        self.config = cfg

    # ----------------------------------------------------------------- construction

    @classmethod
    def from_dict(cls, config: Mapping[str, Any], *, thresholds: Mapping[str, Any] | None = None) -> Policy:
        """A policy from a configuration dict."""
        if not isinstance(config, Mapping):
            raise ConfigError(f"config: expected a mapping, got {type(config).__name__}")
        return cls(config, thresholds=thresholds)

    @classmethod
    def from_toml(cls, source: str | os.PathLike[str], *, thresholds: Mapping[str, Any] | None = None) -> Policy:
        """A policy from a TOML file path or a TOML string."""
        return cls(_read_toml(source), thresholds=thresholds)

    def set_threshold(self, domain: str, threshold: Any) -> Policy:
        """Uses ``threshold`` (an object with ``accept(confidence)``) for ``domain``'s strict path."""
        if domain not in self.domains:
            raise ConfigError(f"thresholds: domain {domain!r} is not configured (domains: {', '.join(self.domains)})")
        if not callable(getattr(threshold, "accept", None)):
            raise ConfigError(
                f"thresholds.{domain}: expected an object with accept(confidence), got {type(threshold).__name__}"
            )
        if not hasattr(threshold, "threshold_") and hasattr(threshold, "target_risk"):
            raise ConfigError(f"thresholds.{domain}: {type(threshold).__name__} is not fitted; call fit() first")
        if isinstance(getattr(threshold, "threshold_", None), Mapping):
            raise ConfigError(
                f"thresholds.{domain}: {type(threshold).__name__} was fitted per segment; fit one "
                "threshold on this domain's calibration data (without segments)"
            )
        self.thresholds[domain] = threshold
        return self

    def __repr__(self) -> str:
        return f"Policy(domains={list(self.domains)}, default_domain={self.default_domain!r})"

    def check_domain(self, domain: Any) -> str:
        """``domain`` if it is configured (None: the default domain); else
        :class:`~credo.InvalidArgumentError` naming the configured ones."""
        if domain is None:
            return self.default_domain
        return self._domain(domain).name

    def _domain(self, domain: Any) -> _Domain:
        if domain.__class__ is not str and not isinstance(domain, str):
            raise InvalidArgumentError(f"domain: expected a domain name (str) or None, got {_shown(domain)}")
        d = self.domains.get(domain)
        if d is None:
            raise InvalidArgumentError(f"domain: {domain!r} is not configured (domains: {', '.join(self.domains)})")
        return d

    # ----------------------------------------------------------------- budgets

    def with_budget(self, *, cost: float | None = None, latency_s: float | None = None) -> Policy:
        """This policy with the given budgets in place of its own (None keeps its own)."""
        other = copy.copy(self)
        if cost is not None:
            other.budget_cost = _budget(cost, "budget_cost")
        if latency_s is not None:
            other.budget_latency_s = _budget(latency_s, "budget_latency_s")
        return other

    def affordable(self, spent_cost: float, spent_latency_s: float, cost: float) -> bool:
        """Whether a step costing ``cost`` fits the budgets after ``spent_cost`` and
        ``spent_latency_s`` (the latency budget allows steps until it is exceeded)."""
        if self.budget_cost is not None and spent_cost + cost > self.budget_cost + 1e-12:
            return False
        return self.budget_latency_s is None or spent_latency_s <= self.budget_latency_s

    def over_budget(self, decision: Decision, step: str) -> Decision:
        """The decision when the budgets do not allow ``step``, the next step ``decision`` asked
        for: the request is declined, or escalated on the strict path."""
        final = self.domains[decision.domain].strict_action if decision.tier == "strict" else _ABSTAIN
        reasons = [
            *decision.reasons,
            f"The budget does not allow the {step} step, so the request is "
            f"{'escalated' if final is Action.ESCALATE else 'declined'}.",
        ]
        return self._make(final, decision.confidence, decision.tier, reasons, decision.domain, decision.threshold)

    def compile(self, model: Any, *, vocab_size: int | None = None) -> Any:
        """This policy and a fitted :class:`~credo.ConfidenceModel` compiled into one native
        decision call: :func:`credo.serving.compile`."""
        from credo.serving import compile as compile_

        return compile_(model, self, vocab_size=vocab_size)

    def _native_rules(self) -> tuple[list[str], list[_NativeDomain]]:
        """The domains' names and rules as ``credo._credo.NativeDecision`` takes them."""
        rules = [
            d.native(d.stakes_rank >= self._strict_rank, name in self.thresholds) for name, d in self.domains.items()
        ]
        return list(self.domains), rules

    # ----------------------------------------------------------------- decisions

    def assess(self, text: str, *, domain: str | None = None, history: Iterable[str] = ()) -> InputRisk:
        """Input risk of a request under this policy's risk rules (the defaults when none)."""
        if domain is not None:
            self.check_domain(domain)  # the policy's domains, which its risk rules need not all list
        rules = self.risk_rules or RiskRules({"default_domain": self.default_domain})
        return rules._assess(text, domain, history)

    def decide(
        self,
        confidence: float,
        *,
        domain: str | None = None,
        risk: InputRisk | None = None,
        coverage: float | None = None,
        retrieval_available: bool = False,
        verifier: Any = None,
        repetition: float | None = None,
        attempt: int = 0,
        checks_done: Iterable[str] = (),
    ) -> Decision:
        """Decides what to do with one request.

        Parameters
        ----------
        confidence : float in [0, 1]
            The calibrated probability that the answer is correct.
        domain : str, optional
            The request's domain (default: the risk's domain, else ``default_domain``).
        risk : InputRisk, optional
            Input-risk tags (from :mod:`credo.risk`): ambiguity asks, raised stakes go strict.
        coverage : float in [0, 1], optional
            Evidence coverage of the answer (:func:`credo.evidence.coverage`).
        retrieval_available : bool
            Whether a retrieval step can still run.
        verifier : VerifierResult, bool or a sequence of them, optional
            Verifier outcomes; any failure triggers the verifier rule.
        repetition : float in [0, 1], optional
            A repetition score of the output (share of repeated n-grams); high means a loop.
        attempt : int
            Retries already made for this request.
        checks_done : iterable of str
            Gray-zone checks already run (``"verify"``, ``"retrieve"``, ``"escalate"``).
        """
        conf = confidence
        if conf.__class__ is not float or not 0.0 <= conf <= 1.0:
            conf = _confidence_arg(confidence)
        if risk is not None and not isinstance(risk, InputRisk):
            raise InvalidArgumentError(f"risk: expected a credo.risk.InputRisk or None, got {type(risk).__name__}")
        if coverage is not None:
            coverage = _unit_arg(coverage, "coverage")
        if repetition is not None:
            repetition = _unit_arg(repetition, "repetition")
        if attempt.__class__ is not int or attempt < 0:
            attempt = _count_arg(attempt, "attempt")
        if retrieval_available is not True and retrieval_available is not False:
            retrieval_available = _bool_arg(retrieval_available, "retrieval_available")
        if domain is None:
            domain = risk.domain if risk is not None and risk.domain in self.domains else self.default_domain
        d = self._domain(domain)
        case = _Case(conf, d.name, d, risk, coverage, repetition, attempt, retrieval_available, verifier)
        self._raise_stakes(case)
        case.strict = strict = case.rank >= self._strict_rank
        case.tier = "strict" if strict else "baseline"
        case.fail_action = d.strict_action if strict else _ABSTAIN
        case.done = _checks_arg(checks_done)
        return (
            self._ask_if_ambiguous(case)
            or self._retry_on_repetition(case)
            or self._on_verifier_failure(case)
            or self._on_low_coverage(case)
            or self._by_confidence(case)
        )

    # ----------------------------------------------------------------- the rules, in order
    # Each rule returns a decision or None (the next rule's turn); the reasons' words are the
    # module's ``_*_reasons`` functions, shared with the native decision (credo.serving).

    def _raise_stakes(self, case: _Case) -> None:
        """Input risk above the domain's stakes raises the rank (maybe to strict) and the
        threshold to the stakes' floor."""
        risk = case.risk
        if risk is None:
            return
        r = stakes_rank(risk.stakes)
        if r <= case.rank:
            return
        case.rank = r
        case.reasons.extend(t.reason for t in risk.tags if isinstance(t, RegulatedContent))
        floor = self.stakes_thresholds.get(risk.stakes)
        if floor is not None and floor > case.base_thr:
            case.base_thr = floor
            case.reasons.append(f"The input raises the stakes to {risk.stakes}, and the threshold to {floor:.2f}.")
        else:
            case.reasons.append(f"The input raises the stakes to {risk.stakes}.")

    def _ask_if_ambiguous(self, case: _Case) -> Decision | None:
        """1. Ambiguous input: ask before spending anything."""
        risk = case.risk
        if risk is None or not risk.ambiguity:
            return None
        case.reasons.extend(t.reason for t in risk.tags if t.ambiguity is not None)
        case.reasons.append("The request is ambiguous, so the user is asked to clarify.")
        return self._make(_ASK, case.conf, case.tier, case.reasons, case.domain, case.d.threshold)

    def _retry_on_repetition(self, case: _Case) -> Decision | None:
        """2. A sampling artefact (a repetition loop): retry while retries are left."""
        d = case.d
        if case.repetition is None or case.repetition < d.repetition_max:
            return None
        action = _RETRY if case.attempt < d.max_retries else case.fail_action
        case.reasons.extend(_repetition_reasons(d, case.repetition, case.attempt, action))
        return self._make(action, case.conf, case.tier, case.reasons, case.domain, d.threshold)

    def _on_verifier_failure(self, case: _Case) -> Decision | None:
        """3. A failed verifier: retry or verify, else the failure action."""
        failed = _failed_verifiers(case.verifier)
        if not failed:
            return None
        d, reasons = case.d, case.reasons
        reasons.append(f"A verifier failed: {failed[0]}")
        if d.on_verifier_failure is _RETRY and case.attempt < d.max_retries:
            reasons.append(f"Retrying (attempt {case.attempt + 1} of {d.max_retries}).")
            action = _RETRY
        elif d.on_verifier_failure is _VERIFY and "verify" not in case.done:
            reasons.append("Running a heavier verification.")
            action = _VERIFY
        else:
            action = case.fail_action
            reasons.append(f"Nothing left to try, so the request is {_done(action)}.")
        return self._make(action, case.conf, case.tier, reasons, case.domain, d.threshold)

    def _on_low_coverage(self, case: _Case) -> Decision | None:
        """4. Evidence coverage below the minimum: retrieve, or (strict) abstain; else noted."""
        d = case.d
        if case.coverage is None or case.coverage >= d.min_coverage:
            return None
        action: Action | None = None
        if case.retrieval_available and "retrieve" not in case.done:
            action = _RETRIEVE
        elif case.strict:
            action = _ABSTAIN
        case.reasons.extend(_coverage_reasons(d, case.coverage, action))
        if action is None:
            return None
        return self._make(action, case.conf, case.tier, case.reasons, case.domain, d.threshold)

    def _by_confidence(self, case: _Case) -> Decision:
        """5. The confidence bands: answer, a gray-zone check, or the band's final action."""
        conf, d, strict, domain = case.conf, case.d, case.strict, case.domain
        thr_obj = self.thresholds.get(domain) if strict else None
        if thr_obj is not None:
            accepted = bool(thr_obj.accept(conf))
            thr, what = _guaranteed(thr_obj)
        else:
            thr = case.base_thr
            accepted = conf >= thr
            known, text = d.threshold_text
            what = text if thr == known else f"the threshold {thr:.2f}"
        # A gray zone reaching up to the threshold follows it when the input raised it.
        gray_high = case.base_thr if d.gray_high == d.threshold else d.gray_high
        if accepted:
            band, action, tier = _CLEARS, _ANSWER, case.tier
        elif d.gray_low <= conf < gray_high or (thr_obj is not None and conf >= d.gray_low):
            tier = "strict" if strict else "gray_zone"
            done, retrieval = case.done, case.retrieval_available
            check = next(
                (c for c in d.gray_checks if _ACTION_NAME[c] not in done and (c is not _RETRIEVE or retrieval)),
                None,
            )
            if check is not None:
                band, action = _GRAY_CHECK, check
            else:
                band, action = _GRAY_EXHAUSTED, d.strict_action if strict else d.gray_exhausted
        else:
            band, action, tier = _BELOW, d.strict_action if strict else d.below, case.tier
        case.reasons.append(_band_reason(band, conf, what, domain, d, gray_high, action, strict, case.rank))
        return self._make(action, conf, tier, case.reasons, domain, thr)

    def _from_outcome(
        self, outcome: _Outcome, domain: str, coverage: float | None, repetition: float | None, attempt: int
    ) -> Decision:
        """The decision of a native outcome (credo.serving's compiled decider) that it did not word
        itself (see _native_words), worded by the rules' own reasons."""
        conf, rule, thr = outcome.confidence, outcome.rule, outcome.threshold
        d = self.domains[domain]
        action = _ACTION_LIST[outcome.action]
        if rule == _R_REPETITION and repetition is not None:
            reasons = _repetition_reasons(d, repetition, attempt, action)
        elif rule == _R_COVERAGE and coverage is not None:
            reasons = _coverage_reasons(d, coverage, action)
        else:
            reasons = _coverage_reasons(d, coverage, None) if outcome.coverage_noted and coverage is not None else []
            strict = d.stakes_rank >= self._strict_rank
            reasons.append(
                _band_reason(rule, conf, d.threshold_text[1], domain, d, d.gray_high, action, strict, d.stakes_rank)
            )
        return self._make(action, conf, _TIERS[outcome.tier], reasons, domain, thr)

    def _native_words(self) -> Callable[[int, int, float, int, int, float], dict[str, Any]]:
        """How ``credo._credo.NativeDecision`` words a band outcome: the fields of the decision of
        (domain index, band, confidence, action code, tier code, threshold), whose one reason
        depends on the confidence only through its two decimals, so the native decider words each
        (domain, band, action, two decimals) once and copies it with each call's confidence. The
        domains and costs are the policy's as now (as the thresholds it compiles)."""
        domains = list(self.domains.values())
        costs = dict(self.costs)

        def words(i: int, band: int, conf: float, act: int, tier: int, thr: float) -> dict[str, Any]:
            fields = self._band_fields(domains[i], band, conf, _ACTION_LIST[act], tier, thr)
            fields["cost"] = costs[fields["action"]]
            return fields

        return words

    def _band_fields(self, d: _Domain, band: int, conf: float, action: Action, tier: int, thr: float) -> dict[str, Any]:
        """The fields of a native outcome's decision by a confidence band alone (see
        _native_words)."""
        strict = d.stakes_rank >= self._strict_rank
        reason = _band_reason(band, conf, d.threshold_text[1], d.name, d, d.gray_high, action, strict, d.stakes_rank)
        return dict(self._make(action, conf, _TIERS[tier], [reason], d.name, thr).__dict__)

    def _make(
        self, action: Action, conf: float, tier: str, reasons: list[str], domain: str, thr: float | None
    ) -> Decision:
        # The frozen dataclass's __init__ sets each field through object.__setattr__ (about half
        # of a decision's cost); the values here are already checked, so fill __dict__ at once.
        d = _new_object(Decision)
        d.__dict__.update(
            action=action,
            confidence=conf,
            tier=tier,
            reasons=tuple(reasons),
            cost=self.costs[action],
            domain=domain,
            threshold=thr,
        )
        return d


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 60


def _shown(value: Any) -> str:
    """A bounded repr for error messages: a hostile argument (deeply nested, huge) stays short."""
    return _REPR.repr(value)


def _is_numpy_bool(value: Any) -> bool:
    """NumPy's bool scalar (policy.py does not import NumPy)."""
    dtype = getattr(value, "dtype", None)
    return getattr(dtype, "kind", None) == "b" and getattr(value, "ndim", None) == 0


def _confidence_arg(value: Any) -> float:
    """The confidence in [0, 1] (ints and NumPy scalars converted; NaN, bools and text refused)."""
    conf = value
    if conf.__class__ is not float:
        if isinstance(conf, (bool, str, bytes)):
            raise InvalidArgumentError(f"confidence: must be a number in [0, 1], got {_shown(value)}")
        try:
            conf = float(conf)  # ints and NumPy scalars
        except (TypeError, ValueError):
            raise InvalidArgumentError(f"confidence: must be a number in [0, 1], got {_shown(value)}") from None
    if not 0.0 <= conf <= 1.0:  # also refuses NaN
        raise InvalidArgumentError(f"confidence: must lie in [0, 1], got {_shown(value)}")
    return float(conf)


def _unit_arg(value: Any, name: str) -> float:
    """A request's score in [0, 1] (coverage, repetition); NaN, ±inf, bools and text refused."""
    if value.__class__ is not float:
        if isinstance(value, (bool, str, bytes)) or _is_numpy_bool(value):
            raise InvalidArgumentError(f"{name}: must be a number in [0, 1] or None, got {_shown(value)}")
        try:
            value = float(value)  # ints and NumPy scalars
        except (TypeError, ValueError, OverflowError):
            raise InvalidArgumentError(f"{name}: must be a number in [0, 1] or None, got {_shown(value)}") from None
    if not 0.0 <= value <= 1.0:  # also refuses NaN
        raise InvalidArgumentError(f"{name}: must lie in [0, 1], got {_shown(value)}")
    unit: float = value
    return unit


def _count_arg(value: Any, name: str) -> int:
    """A non-negative integer (Python or NumPy); bools and floats refused."""
    if isinstance(value, bool) or _is_numpy_bool(value):
        raise InvalidArgumentError(f"{name}: must be a non-negative integer, got {_shown(value)}")
    try:
        n = operator.index(value)
    except TypeError:
        raise InvalidArgumentError(f"{name}: must be a non-negative integer, got {_shown(value)}") from None
    if n < 0:
        raise InvalidArgumentError(f"{name}: must be a non-negative integer, got {_shown(value)}")
    return n


def _bool_arg(value: Any, name: str) -> bool:
    if _is_numpy_bool(value):
        return bool(value)
    raise InvalidArgumentError(f"{name}: must be True or False, got {_shown(value)}")


_CHECKS = frozenset(_ALLOWED["gray_zone_checks"])
_CHECKS_NONE: frozenset[str] = frozenset()


def _checks_arg(checks_done: Any) -> frozenset[str] | set[str]:
    """The gray-zone checks already run: an iterable of check names (a lone string is refused,
    since iterating it would give its letters)."""
    cls = checks_done.__class__
    if (cls is set or cls is frozenset) and checks_done <= _CHECKS:
        known: frozenset[str] | set[str] = checks_done
        return known
    if cls is tuple and not checks_done:
        return _CHECKS_NONE
    if isinstance(checks_done, (str, bytes)) or not isinstance(checks_done, Iterable):
        raise InvalidArgumentError(
            f"checks_done: expected an iterable of check names ({', '.join(sorted(_CHECKS))}), "
            f"got {_shown(checks_done)}"
        )
    done = set()
    for c in checks_done:
        if c.__class__ is not str or c not in _CHECKS:
            raise InvalidArgumentError(f"checks_done: unknown check {_shown(c)} (checks: {', '.join(sorted(_CHECKS))})")
        done.add(c)
    return done


def _guaranteed(obj: Any) -> tuple[float | None, str]:
    """The threshold value and its description for the reasons, from an object with ``accept``
    (``threshold_``, and ``target_risk``/``feasible_`` as ``credo.conformal.SelectiveThreshold``
    has them)."""
    thr = getattr(obj, "threshold_", None)
    thr = float(thr) if isinstance(thr, (int, float)) and not isinstance(thr, bool) else None
    if getattr(obj, "feasible_", True) is False or (thr is not None and math.isinf(thr)):
        return thr, "a guaranteed threshold (none could be certified on the calibration data)"
    what = f"the guaranteed threshold {thr:.3f}" if thr is not None else "the guaranteed threshold"
    target = getattr(obj, "target_risk", None)
    if isinstance(target, (int, float)) and not isinstance(target, bool):
        delta = getattr(obj, "delta", None)
        if getattr(obj, "method", None) == "crc":
            what += f" (answered-and-wrong rate at most {target:.1%} in expectation)"
        elif isinstance(delta, (int, float)) and not isinstance(delta, bool):
            what += f" (error rate at most {target:.1%} among answered requests, with probability {1 - delta:.0%})"
        else:
            what += f" (error rate at most {target:.1%} among answered requests)"
    return thr, what


def _stakes(rank: int) -> str:
    return STAKES[rank]


_DONE = {
    Action.ABSTAIN: "declined",
    Action.ESCALATE: "escalated",
    Action.ASK: "sent back with a clarifying question",
    Action.RETRIEVE: "sent to retrieval",
    Action.ANSWER: "answered",
    Action.VERIFY: "sent to verification",
    Action.RETRY: "retried",
}


def _done(a: Action) -> str:
    return _DONE[a]


def _failed_verifiers(verifier: Any) -> list[str]:
    """Details of the failed verifier results in ``verifier`` (one result, a bool, or a list)."""
    if verifier is None:
        return []
    items = verifier if isinstance(verifier, (list, tuple)) else [verifier]
    out = []
    for i, v in enumerate(items):
        if isinstance(v, bool):
            if not v:
                out.append("a check reported failure.")
            continue
        passed = getattr(v, "passed", None)
        if not isinstance(passed, bool):
            raise InvalidArgumentError(
                f"verifier: expected VerifierResult or bool entries, got {type(v).__name__} at {i}"
            )
        if not passed:
            name = getattr(v, "name", "") or "verifier"
            out.append(f"{name}: {getattr(v, 'detail', '')}".strip())
    return out


class _Case:
    """One request on its way through the rules: its arguments, checked, and what the rules
    before have found (the stakes' rank, the threshold, the reasons so far)."""

    __slots__ = (
        "attempt",
        "base_thr",
        "conf",
        "coverage",
        "d",
        "domain",
        "done",
        "fail_action",
        "rank",
        "reasons",
        "repetition",
        "retrieval_available",
        "risk",
        "strict",
        "tier",
        "verifier",
    )
    # Set by Policy.decide once the input risk has raised the stakes:
    strict: bool  # the strict path applies
    tier: str  # the tier of a decision by the rules before the confidence bands
    fail_action: Action  # what ends a request when nothing is left to try
    done: frozenset[str] | set[str]  # the gray-zone checks already run

    def __init__(
        self,
        conf: float,
        domain: str,
        d: _Domain,
        risk: InputRisk | None,
        coverage: float | None,
        repetition: float | None,
        attempt: int,
        retrieval_available: bool,
        verifier: Any,
    ):
        self.conf, self.domain, self.d, self.risk = conf, domain, d, risk
        self.coverage, self.repetition, self.attempt = coverage, repetition, attempt
        self.retrieval_available, self.verifier = retrieval_available, verifier
        self.rank, self.base_thr = d.stakes_rank, d.threshold
        self.reasons: list[str] = []


# The rules' codes in a native outcome (credo_core::decide::Rule); the bands' codes also name
# the band in _band_reason.
_R_REPETITION, _R_COVERAGE, _CLEARS, _GRAY_CHECK, _GRAY_EXHAUSTED, _BELOW, _R_HOOK = range(7)
# Actions by their native code (credo_core::decide::Action: the order of Action).
_ACTION_LIST = tuple(Action)


def _repetition_reasons(d: _Domain, repetition: float, attempt: int, action: Action) -> list[str]:
    """Why a repetition loop retries (``action`` RETRY) or ends the request."""
    first = f"The output repeats itself (repetition {repetition:.2f} ≥ {d.repetition_max:.2f}), a sampling artefact."
    if action is _RETRY:
        return [first, f"Retrying (attempt {attempt + 1} of {d.max_retries})."]
    return [first, f"No retries left ({d.max_retries} allowed), so the request is {_done(action)}."]


def _coverage_reasons(d: _Domain, coverage: float, action: Action | None) -> list[str]:
    """Why low coverage retrieves, abstains (strict), or (``action`` None) leaves it to the
    confidence."""
    msg = f"Evidence covers {coverage:.0%} of the answer, below the required {d.min_coverage:.0%}."
    if action is _RETRIEVE:
        return [msg, "Retrieving more evidence."]
    if action is _ABSTAIN:
        return [msg, "Unsupported claims are not acceptable at these stakes, so the request is declined."]
    return [msg, "No retrieval is available; the confidence decides."]


def _band_reason(
    band: int,
    conf: float,
    what: str,
    domain: str,
    d: _Domain,
    gray_high: float,
    action: Action,
    strict: bool,
    rank: int,
) -> str:
    """Why the confidence band decided ``action`` (``what``: the threshold in words)."""
    if band == _CLEARS:
        return f"Confidence {conf:.2f} clears {what} of domain {domain!r}."
    if band == _GRAY_CHECK:
        return (
            f"Confidence {conf:.2f} is in the gray zone [{d.gray_low:.2f}, {gray_high:.2f}) "
            f"below {what}; running the {_ACTION_NAME[action]} check."
        )
    if band == _GRAY_EXHAUSTED:
        return (
            f"Confidence {conf:.2f} is still below {what} after the gray-zone checks, so the request is "
            f"{_done(action)}."
        )
    if strict:
        return (
            f"Confidence {conf:.2f} is below {what} in a {_stakes(rank)}-stakes domain, so the request "
            f"is {_done(action)}."
        )
    return f"Confidence {conf:.2f} is below {what} and the gray zone, so the request is {_done(action)}."
