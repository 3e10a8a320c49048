"""The ``openai`` client with a decision attached (extra ``openai``).

Asks for the top-k logprobs, reads the completion's raw body (so credo parses the bytes the
server sent rather than the SDK's objects), and returns the completion with credo's
:class:`~credo.policy.Decision`:

>>> from openai import OpenAI                                              # doctest: +SKIP
>>> from credo.integrations.openai import create
>>> from credo.serving import ResponseDecider
>>> decider = ResponseDecider(credo.load("model.json"), credo.Policy.from_toml("policy.toml"))
>>> scored = create(OpenAI(), decider, model="gpt-4o-mini", messages=[...], domain="medical")
>>> scored.completion.choices[0].message.content, scored.decision.action

:func:`acreate` does the same with ``openai.AsyncOpenAI``. Arguments other than ``decider``,
``top_logprobs``, ``choice`` and the :meth:`credo.Policy.decide` keywords (``domain``, ``risk``,
``coverage``, ``retrieval_available``, ``verifier``, ``repetition``, ``attempt``,
``checks_done``) go to ``client.chat.completions.create``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from credo.exceptions import InvalidArgumentError
from credo.policy import Decision

__all__ = ["Scored", "acreate", "create", "logprob_params"]

_POLICY_ARGS = (
    "domain",
    "risk",
    "coverage",
    "retrieval_available",
    "verifier",
    "repetition",
    "attempt",
    "checks_done",
)


class Scored(NamedTuple):
    """A completion (the SDK's object) and credo's decision about its choice ``choice``."""

    completion: Any
    decision: Decision


def logprob_params(params: dict[str, Any], *, top_logprobs: int = 20) -> dict[str, Any]:
    """``params`` for ``chat.completions.create`` with the logprobs credo reads switched on."""
    if isinstance(top_logprobs, bool) or not isinstance(top_logprobs, int) or not 0 <= top_logprobs <= 20:
        raise InvalidArgumentError(
            f"top_logprobs: must be an integer in [0, 20] (the API's range), got {top_logprobs!r}"
        )
    if params.get("stream"):
        raise InvalidArgumentError("stream: create() decides whole completions; read streams with credo.formats")
    out = dict(params)
    out["logprobs"] = True
    out.setdefault("top_logprobs", top_logprobs)
    return out


def _split(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    policy_args = {k: kwargs.pop(k) for k in _POLICY_ARGS if k in kwargs}
    return kwargs, policy_args


def create(client: Any, decider: Any, *, top_logprobs: int = 20, choice: int = 0, **kwargs: Any) -> Scored:
    """One chat completion from ``client`` (an ``openai.OpenAI``) and its decision."""
    params, policy_args = _split(kwargs)
    raw = client.chat.completions.with_raw_response.create(**logprob_params(params, top_logprobs=top_logprobs))
    completion = raw.parse()
    return Scored(completion, decider.decide(raw.content, choice=choice, **policy_args))


async def acreate(client: Any, decider: Any, *, top_logprobs: int = 20, choice: int = 0, **kwargs: Any) -> Scored:
    """:func:`create` for an ``openai.AsyncOpenAI`` client."""
    params, policy_args = _split(kwargs)
    raw = await client.chat.completions.with_raw_response.create(**logprob_params(params, top_logprobs=top_logprobs))
    completion = raw.parse()
    return Scored(completion, decider.decide(raw.content, choice=choice, **policy_args))
