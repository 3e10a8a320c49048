"""From an upstream model server's response to a :class:`~credo.policy.Decision`.

A server holds the upstream's response, not arrays. :class:`ResponseDecider` binds a fitted
:class:`~credo.ConfidenceModel` (whose features are :class:`~credo.signals.TopkSummary` fields)
and a :class:`~credo.Policy`, and turns one response — the raw body (``bytes``/``str``), its
parsed dict, or the ``openai`` SDK's completion object — into a decision:

    response → top-k logprobs (:func:`credo.formats.from_openai`)
             → :func:`credo.signals.topk_summary` → ``ConfidenceModel.predict_one``
             → ``Policy.decide``

>>> decider = ResponseDecider(model, policy)              # doctest: +SKIP
>>> decision = decider.decide(body, domain="medical")     # doctest: +SKIP

Keyword arguments of :meth:`ResponseDecider.decide` other than ``choice`` pass through to
:meth:`credo.Policy.decide` (``domain``, ``risk``, ``coverage``, …), so rules that need more
than the logprobs (verifiers, evidence coverage, input risk) stay with the caller.

:func:`compile` (or ``policy.compile(model)``) turns the model and the policy into a
:class:`NativeDecider`: the top-k summary, the model, its calibrator and the policy's threshold,
gray-zone, domain, coverage, repetition and retry rules run in Rust in one call that releases the
GIL, from arrays, from a summary or straight from the response body (read by the native reader;
no Python dicts on the way). A decision by the confidence band alone (most requests) comes back
from that call whole: the policy words each (domain, band, action, confidence to two decimals) once,
with the same code ``Policy.decide`` uses, and the native decider copies that wording with each
call's confidence. Any other rule returns a compact outcome (the rule that fired, the action, the
tier, the threshold) that the policy words. Either way the :class:`~credo.policy.Decision` is the
Python path's, bit for bit. What needs Python objects —
input risk (``risk=``), verifiers (``verifier=``) and guaranteed thresholds on a strict domain —
is decided by ``Policy.decide`` from the natively computed confidence. :class:`ResponseDecider`
uses a native decider whenever the model and policy compile (``native_error`` says why not).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from credo import _credo
from credo.exceptions import CredoError, InvalidArgumentError
from credo.policy import (
    _R_HOOK,
    Decision,
    Policy,
    _bool_arg,
    _checks_arg,
    _count_arg,
    _shown,
    _unit_arg,
)

__all__ = ["NativeDecider", "ResponseDecider", "compile", "decision_dict"]


def decision_dict(decision: Decision) -> dict[str, Any]:
    """A decision as plain JSON-ready data (what a server attaches to its response)."""
    return {
        "action": decision.action.value,
        "confidence": decision.confidence,
        "tier": decision.tier,
        "domain": decision.domain,
        "threshold": decision.threshold,
        "cost": decision.cost,
        "settled": decision.settled,
        "reasons": list(decision.reasons),
    }


def _parsed(response: Any) -> Any:
    """The response as the readers take it: raw bodies are parsed, everything else passes."""
    if isinstance(response, (bytes, bytearray, memoryview)):
        response = bytes(response).decode("utf-8")
    if isinstance(response, str):
        try:
            return json.loads(response)
        except json.JSONDecodeError as exc:
            raise InvalidArgumentError(f"response: not valid JSON ({exc})") from None
    return response


# Bits of the gray-zone checks already run, by name (credo_core::decide: 1 << action code).
_CHECK_BITS = {"retrieve": 1 << 3, "verify": 1 << 4, "escalate": 1 << 5}


def _checks_of(mask: int) -> frozenset[str]:
    """The check names of a mask (what the hooks pass on: an iterable argument is read once)."""
    return frozenset(name for name, bit in _CHECK_BITS.items() if mask & bit)


def _check_mask(checks_done: Any) -> int:
    if checks_done.__class__ is tuple and not checks_done:
        return 0
    mask = 0
    for c in _checks_arg(checks_done):
        mask |= _CHECK_BITS[c]
    return mask


# A request's arguments as the native calls take them after their input: (domain index,
# coverage, repetition, attempt, retrieval_available, checks done as bits).
_NativeArgs = tuple[int, float | None, float | None, int, bool, int]


#: The largest count the native call takes (u64 / usize).
_U64_MAX = (1 << 64) - 1


def compile(model: Any, policy: Policy, *, vocab_size: int | None = None) -> NativeDecider:
    """A fitted :class:`~credo.ConfidenceModel` (on top-k summary fields) and a
    :class:`~credo.Policy` compiled into one native decision call (see :class:`NativeDecider`).

    Raises :class:`~credo.CredoError` naming what has no native form: features that are not
    :class:`~credo.signals.TopkSummary` fields, or a calibrator other than credo's binary ones.
    The policy is read as it is now: a threshold set on it later is not seen, nor a cost changed
    later in the band decisions the native decider words itself.
    """
    return NativeDecider(model, policy, vocab_size=vocab_size)


class NativeDecider(_credo.NativeDecision):
    """A model and a policy compiled into one native call (made by :func:`compile`).

    Every ``decide*`` method takes the policy's request arguments — ``domain``, ``coverage``,
    ``repetition``, ``attempt``, ``retrieval_available``, ``checks_done``, and the Python hooks
    ``risk`` and ``verifier`` — and returns the :class:`~credo.policy.Decision` that
    ``policy.decide(model.predict_one(topk_summary(...)), ...)`` returns, bit for bit.

    :meth:`decide` (arrays) is the native class's own method: a request in its common form is
    decided without a Python frame (a fair share of a decision of a few microseconds); it calls
    ``_decide_checked`` for anything else.
    """

    __slots__ = ("model", "policy", "vocab_size")

    model: Any
    policy: Policy
    vocab_size: int | None

    def __new__(cls, model: Any, policy: Policy, *, vocab_size: int | None = None) -> NativeDecider:
        if not isinstance(policy, Policy):
            raise InvalidArgumentError(f"policy: expected a credo.Policy, got {type(policy).__name__}")
        if getattr(model, "features_", None) is None or not hasattr(model, "_native_parts"):
            raise InvalidArgumentError("model: expected a fitted credo.ConfidenceModel (call fit first)")
        if vocab_size is not None and (
            isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or not 1 <= vocab_size <= _U64_MAX
        ):
            raise InvalidArgumentError(f"vocab_size: must be a positive integer or None, got {_shown(vocab_size)}")
        features, coef, intercept, to_logit, calibrator = model._native_parts()
        names, domains = policy._native_rules()
        words = policy._native_words()
        self = super().__new__(
            cls,
            features,
            coef,
            intercept,
            to_logit,
            calibrator,
            domains,
            words,
            Decision,
            names,
            policy.default_domain,
            vocab_size=vocab_size,
        )
        self.model = model
        self.policy = policy
        self.vocab_size = vocab_size
        return self

    def __repr__(self) -> str:
        return f"NativeDecider(features={list(self.model.features_)}, policy={self.policy!r})"

    def _request(
        self, domain: Any, coverage: Any, repetition: Any, attempt: Any, retrieval_available: Any, checks_done: Any
    ) -> tuple[str, _NativeArgs]:
        """The request's arguments as the native call takes them (checked as Policy.decide
        checks them)."""
        found = self._domain(domain)  # the compiled domains are the native decider's
        if found is None:
            if not isinstance(domain, str):
                raise InvalidArgumentError(f"domain: expected a domain name (str) or None, got {_shown(domain)}")
            domains = ", ".join(self._domains)
            raise InvalidArgumentError(f"domain: {domain!r} is not configured (domains: {domains})")
        domain, index = found
        # Each check inline for the common case (a float in [0, 1], a small int, a bool, no
        # checks done): a request's Python steps are a fair share of a native decision.
        if coverage is not None and not (coverage.__class__ is float and 0.0 <= coverage <= 1.0):
            coverage = _unit_arg(coverage, "coverage")
        if repetition is not None and not (repetition.__class__ is float and 0.0 <= repetition <= 1.0):
            repetition = _unit_arg(repetition, "repetition")
        if attempt.__class__ is not int or attempt < 0:
            attempt = _count_arg(attempt, "attempt")
        if attempt > _U64_MAX:
            attempt = _U64_MAX  # past any retry budget already: the same decision
        if retrieval_available is not True and retrieval_available is not False:
            retrieval_available = _bool_arg(retrieval_available, "retrieval_available")
        checks = 0 if checks_done.__class__ is tuple and not checks_done else _check_mask(checks_done)
        return domain, (index, coverage, repetition, attempt, retrieval_available, checks)

    def _decide_checked(
        self,
        top_logprobs: Any,
        chosen_logprob: Any,
        domain: Any,
        coverage: Any,
        repetition: Any,
        attempt: Any,
        retrieval_available: Any,
        checks_done: Any,
        risk: Any,
        verifier: Any,
        outcome: _credo.Outcome | None,
    ) -> Decision:
        """:meth:`decide` of a request the native method did not decide alone: its arguments as
        given (the left-out ones as their defaults) and its native outcome when it has one (a
        request in its common form, arrays in the kernel's layout, no Python hook)."""
        name, args = self._request(domain, coverage, repetition, attempt, retrieval_available, checks_done)
        if outcome is None:
            from credo.signals import _topk_arrays

            top, chosen = _topk_arrays(top_logprobs, chosen_logprob, "")  # converted, or the documented error
            return self._done(self._decide_arrays(top, chosen, *args), name, args, domain, risk, verifier)
        return self._done(outcome, name, args, domain, risk, verifier)

    def _done(
        self,
        outcome: Decision | _credo.Outcome,
        name: str,
        args: _NativeArgs,
        domain: Any,
        risk: Any,
        verifier: Any,
    ) -> Decision:
        """The decision of a native call: the decision it worded, or its outcome worded by the
        policy, or decided by the policy from the native confidence when a Python hook (input
        risk, verifier, guaranteed threshold) is in play."""
        _, coverage, repetition, attempt, retrieval_available, checks = args
        if risk is None and verifier is None:
            if isinstance(outcome, Decision):
                return outcome
            if outcome.rule != _R_HOOK:
                return self.policy._from_outcome(outcome, name, coverage, repetition, attempt)
        return self.policy.decide(
            outcome.confidence,
            domain=domain,
            coverage=coverage,
            repetition=repetition,
            attempt=attempt,
            retrieval_available=retrieval_available,
            checks_done=_checks_of(checks),
            risk=risk,
            verifier=verifier,
        )

    def decide_body(
        self,
        body: Any,
        *,
        choice: int = 0,
        domain: str | None = None,
        coverage: float | None = None,
        repetition: float | None = None,
        attempt: int = 0,
        retrieval_available: bool = False,
        checks_done: Any = (),
        risk: Any = None,
        verifier: Any = None,
    ) -> Decision:
        """The decision from choice ``choice`` of a response: its raw body (``bytes``, ``str``,
        ``bytearray``, ``memoryview``: read by the native reader inside the call), or its parsed
        dicts / the SDK's object (read natively by :func:`credo.formats.from_openai` first)."""
        outcome = None
        if risk is None and verifier is None:  # as decide's: bytes and an int choice ≥ 0 too
            outcome = self._try_decide_body(
                body, choice, domain, coverage, repetition, attempt, retrieval_available, checks_done
            )
            if outcome.__class__ is Decision:
                return outcome
        name, args = self._request(domain, coverage, repetition, attempt, retrieval_available, checks_done)
        if outcome is None:
            raw = _body_bytes(body)
            if raw is None:
                return self.decide_response(
                    body,
                    choice=choice,
                    domain=domain,
                    coverage=coverage,
                    repetition=repetition,
                    attempt=attempt,
                    retrieval_available=retrieval_available,
                    checks_done=_checks_of(args[5]),
                    risk=risk,
                    verifier=verifier,
                )
            if choice.__class__ is not int or choice < 0:
                choice = _count_arg(choice, "choice")
            outcome = self._decide_body(raw, min(choice, _U64_MAX), *args)  # past the end: refused there
        return self._done(outcome, name, args, domain, risk, verifier)

    def decide_response(self, response: Any, *, choice: int = 0, **policy_args: Any) -> Decision:
        """The decision from a response in any form :func:`credo.formats.from_openai` reads
        (raw bodies go through :meth:`decide_body`)."""
        if _body_bytes(response) is not None:
            return self.decide_body(response, choice=choice, **policy_args)
        from credo.formats import from_openai

        top = from_openai(response, choice=choice)
        return self.decide(top.top_logprobs, top.chosen_logprob, **policy_args)

    def decide_summary(self, summary: Any, **policy_args: Any) -> Decision:
        """The decision from a :class:`~credo.signals.TopkSummary` already computed (e.g. a
        stream reader's running one)."""
        risk = policy_args.pop("risk", None)
        verifier = policy_args.pop("verifier", None)
        checks_done = policy_args.get("checks_done", ())
        domain = policy_args.get("domain")
        name, args = self._request(
            domain,
            policy_args.get("coverage"),
            policy_args.get("repetition"),
            policy_args.get("attempt", 0),
            policy_args.get("retrieval_available", False),
            checks_done,
        )
        unknown = set(policy_args) - _REQUEST_ARGS
        if unknown:
            raise InvalidArgumentError(f"decide_summary: unknown arguments {sorted(unknown)}")
        try:
            values = [float(v) for v in summary]
        except (TypeError, ValueError):
            raise InvalidArgumentError(
                f"summary: expected a credo.signals.TopkSummary (13 numbers), got {_shown(summary)}"
            ) from None
        if len(values) != 13:
            raise InvalidArgumentError(f"summary: expected 13 values (a TopkSummary), got {len(values)}")
        outcome = self._decide_summary(values, *args)
        return self._done(outcome, name, args, domain, risk, verifier)

    def decide_batch(self, responses: Any, *, threads: int | None = None, **policy_args: Any) -> list[Decision]:
        """Decisions for many responses (choice 0 of each, the same request arguments): raw
        bodies in one native call over ``threads`` workers with the GIL released."""
        responses = list(responses)
        bodies = [b for b in map(_body_bytes, responses) if b is not None]
        if len(bodies) < len(responses):
            return [self.decide_response(r, **policy_args) for r in responses]
        risk = policy_args.pop("risk", None)
        verifier = policy_args.pop("verifier", None)
        unknown = set(policy_args) - _REQUEST_ARGS
        if unknown:
            raise InvalidArgumentError(f"decide_batch: unknown arguments {sorted(unknown)}")
        checks_done = policy_args.get("checks_done", ())
        domain = policy_args.get("domain")
        name, args = self._request(
            domain,
            policy_args.get("coverage"),
            policy_args.get("repetition"),
            policy_args.get("attempt", 0),
            policy_args.get("retrieval_available", False),
            checks_done,
        )
        if threads is not None:
            threads = _count_arg(threads, "threads")
        outcomes = self._decide_bodies(bodies, *args, threads=threads)
        return [self._done(o, name, args, domain, risk, verifier) for o in outcomes]


_REQUEST_ARGS = frozenset({"domain", "coverage", "repetition", "attempt", "retrieval_available", "checks_done"})


def _body_bytes(response: Any) -> bytes | None:
    """A raw body as bytes (None for anything that is not a raw body)."""
    cls = response.__class__
    if cls is bytes:
        return response  # type: ignore[no-any-return]
    if cls is str or isinstance(response, str):
        return response.encode("utf-8", "surrogatepass")  # type: ignore[no-any-return]
    if isinstance(response, (bytes, bytearray, memoryview)):
        return bytes(response)
    return None


class ResponseDecider:
    """Decides requests from their upstream responses with a fitted model and a policy.

    Parameters
    ----------
    model : ConfidenceModel
        Fitted on :class:`~credo.signals.TopkSummary` fields (its ``features_`` must all be
        summary fields).
    policy : Policy
        The decision policy.
    vocab_size : int, optional
        The model's vocabulary size, for the upper entropy bound (``mean_entropy_upper``).
    """

    def __init__(self, model: Any, policy: Policy, *, vocab_size: int | None = None):
        from credo.signals import TopkSummary

        if not isinstance(policy, Policy):
            raise InvalidArgumentError(f"policy: expected a credo.Policy, got {type(policy).__name__}")
        features = getattr(model, "features_", None)
        if features is None:
            raise InvalidArgumentError("model: expected a fitted credo.ConfidenceModel (call fit first)")
        unknown = [f for f in features if f not in TopkSummary._fields]
        if unknown:
            raise InvalidArgumentError(
                f"model: features {unknown} are not top-k summary fields "
                f"({', '.join(TopkSummary._fields)}); decide with Policy.decide directly"
            )
        self.model = model
        self.policy = policy
        self.vocab_size = vocab_size
        #: The compiled decision call (None when the model or policy has no native form; then
        #: ``native_error`` says why and the Python path decides).
        self.native: NativeDecider | None = None
        self.native_error: str | None = None
        try:
            self.native = NativeDecider(model, policy, vocab_size=vocab_size)
        except CredoError as exc:
            self.native_error = str(exc)

    def summary(self, response: Any, *, choice: int = 0) -> Any:
        """The :class:`~credo.signals.TopkSummary` of one choice of a response."""
        from credo.formats import from_openai
        from credo.signals import topk_summary

        top = from_openai(_parsed(response), choice=choice)
        return topk_summary(top.top_logprobs, top.chosen_logprob, vocab_size=self.vocab_size)

    def confidence(self, response: Any, *, choice: int = 0) -> float:
        """The calibrated P(correct) of one choice of a response."""
        return float(self.model.predict_one(self.summary(response, choice=choice)))

    def decide(self, response: Any, *, choice: int = 0, **policy_args: Any) -> Decision:
        """The decision for one choice of a response; ``policy_args`` go to ``Policy.decide``."""
        if self.native is not None:
            return self.native.decide_response(response, choice=choice, **policy_args)
        return self.policy.decide(self.confidence(response, choice=choice), **policy_args)

    def decide_batch(self, responses: Any, *, threads: int | None = None, **policy_args: Any) -> list[Decision]:
        """Decisions for many responses (choice 0 of each): their summaries in one native call
        that releases the GIL and spreads the work over ``threads`` workers, then the model on
        all rows at once and the policy per response (raw bodies with a native decider: the
        whole decision of each in that call)."""
        if self.native is not None:
            return self.native.decide_batch(responses, threads=threads, **policy_args)
        import numpy as np

        from credo.formats import from_openai
        from credo.signals import topk_summary_batch

        tops = [from_openai(_parsed(r)) for r in responses]
        if not tops:
            return []
        batch = topk_summary_batch(
            [t.top_logprobs for t in tops],
            [t.chosen_logprob for t in tops],
            vocab_size=self.vocab_size,
            threads=threads,
        )
        X = np.column_stack([batch[f] for f in self.model.features_])
        conf = self.model.predict_proba(X)
        return [self.policy.decide(float(c), **policy_args) for c in conf]

    def decide_summary(self, summary: Mapping[str, float] | Any, **policy_args: Any) -> Decision:
        """The decision from a summary already computed (e.g. a stream reader's running one)."""
        if self.native is not None and summary.__class__ is not dict:
            return self.native.decide_summary(summary, **policy_args)
        return self.policy.decide(float(self.model.predict_one(summary)), **policy_args)
