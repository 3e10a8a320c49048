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
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from credo.exceptions import InvalidArgumentError
from credo.policy import Decision, Policy

__all__ = ["ResponseDecider", "decision_dict"]


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
        return self.policy.decide(self.confidence(response, choice=choice), **policy_args)

    def decide_batch(self, responses: Any, *, threads: int | None = None, **policy_args: Any) -> list[Decision]:
        """Decisions for many responses (choice 0 of each): their summaries in one native call
        that releases the GIL and spreads the work over ``threads`` workers, then the model on
        all rows at once and the policy per response."""
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
        return self.policy.decide(float(self.model.predict_one(summary)), **policy_args)
