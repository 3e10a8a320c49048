"""Cascade: run a :class:`~credo.Policy` over your own callables, spending more only when needed.

A :class:`Cascade` starts cheap (a few samples), asks the policy what to do, and escalates tier by
tier — more samples and a verifier in the gray zone, retrieval when evidence is thin, a retry on a
sampling artefact, the escalation hook last — stopping as soon as the decision is settled or the
cost/latency budget is spent. It returns the final :class:`~credo.Decision` with a trace of what
was spent and why. The same logic runs synchronously (:meth:`Cascade.run`) and under asyncio
(:meth:`Cascade.arun`, where each callable may be a coroutine function and extra samples are
drawn concurrently).

Callables (all but ``sample`` optional)::

    sample(request, state) -> answer            # one sampled answer (hashable; None = failed draw)
    confidence(state) -> float | mapping        # P(correct) of the current majority answer; a
                                                # mapping may add "coverage", "repetition", and
                                                # "answer" / "counts" when it clusters the
                                                # samples itself (e.g. with credo.agree)
    verify(request, answer, state) -> VerifierResult | bool
    retrieve(request, state) -> float | None    # evidence coverage after retrieval
    escalate(request, state) -> answer          # the answer of the bigger model / the human

``stopping`` is any object with ``should_stop(counts)`` (vote counts of the distinct answers,
largest first), e.g. ``credo.AdaptiveStopping``; when it also has ``decide(counts) -> (stop,
statistic)`` (AdaptiveStopping does) the statistic is written into the trace. The counts are
those the confidence callable returned as ``"counts"`` (its clusters), else the exact-match
counts of the samples. Once it says stop, the gray zone draws no more samples: the verifier runs
if there is one, and a confidence still below the threshold ends the request. Without a
stopping rule the gray zone samples up to ``max_samples``.

With ``credo.agree`` and ``credo.AdaptiveStopping``::

    def confidence(state):
        votes = [a for a in state.samples if a]
        if not votes:
            return 0.0
        r = credo.agree(votes, method="numeric")
        return {"confidence": r.sizes.max() / (len(state.samples) + 1),
                "answer": r.majority_answer, "counts": sorted(r.sizes.tolist(), reverse=True)}

    cascade = credo.Cascade(policy, sample=draw, confidence=confidence,
                            stopping=credo.AdaptiveStopping("beta", confidence=0.95, max_samples=30))
"""

from __future__ import annotations

import inspect
import math
import time
from collections import Counter
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

from credo.exceptions import InvalidArgumentError
from credo.policy import Action, Decision, Policy
from credo.risk import InputRisk

__all__ = ["Cascade", "CascadeResult", "CascadeState", "TraceStep", "smoothed_majority"]


@dataclass(frozen=True)
class TraceStep:
    """One step of a cascade run: what ran, what it cost, and why."""

    step: str
    detail: str
    cost: float = 0.0
    latency_s: float = 0.0
    confidence: float | None = None
    action: str | None = None


@dataclass
class CascadeState:
    """What a cascade knows about one request so far (passed to your callables)."""

    request: Any
    context: Any = None
    samples: list[Any] = field(default_factory=list)
    confidence: float | None = None
    coverage: float | None = None
    repetition: float | None = None
    verifier: list[Any] = field(default_factory=list)
    checks_done: set[str] = field(default_factory=set)
    attempt: int = 0
    cost: float = 0.0
    latency_s: float = 0.0
    answer: Any = None
    votes: list[int] | None = None

    @property
    def counts(self) -> list[int]:
        """Counts of the distinct sampled answers, largest first (``None`` samples — failed
        draws — cost a sample but cast no vote)."""
        return sorted(Counter(a for a in self.samples if a is not None).values(), reverse=True)

    @property
    def current_answer(self) -> Any:
        """The answer the confidence refers to: the one the confidence callable named, else the
        majority."""
        return self.answer if self.answer is not None else self.majority

    @property
    def majority(self) -> Any:
        """The most frequent sampled answer (the earliest drawn among ties), or None."""
        c = Counter(a for a in self.samples if a is not None)
        if not c:
            return None
        top = max(c.values())
        return next(a for a in self.samples if a is not None and c[a] == top)


@dataclass(frozen=True)
class CascadeResult:
    """The final decision of a cascade run, the answer it settled on, and the trace."""

    decision: Decision
    answer: Any
    n_samples: int
    cost: float
    latency_s: float
    trace: tuple[TraceStep, ...]

    @property
    def action(self) -> Action:
        return self.decision.action


def smoothed_majority(state: CascadeState) -> float:
    """Default confidence: the majority share with one phantom dissenting vote,
    ``top / (n + 1)``, so a single sample never settles a request on its own."""
    counts = state.counts
    return counts[0] / (len(state.samples) + 1) if counts else 0.0


class Cascade:
    """Tiered decision loop over user-supplied callables (see the module docstring).

    Parameters
    ----------
    policy : Policy
    sample : callable
        Draws one answer.
    confidence : callable, optional
        State → P(correct) (default :func:`smoothed_majority`).
    verify, retrieve, escalate : callables, optional
    stopping : object with ``should_stop(counts)``, optional
    initial_samples, batch_size, max_samples : int
        Samples drawn up front, per gray-zone round, and at most per attempt.
    sample_cost : float
        Cost of one sample (verify / retrieve / escalate cost what ``policy.costs`` says).
    budget_cost, budget_latency_s : float, optional
        Stop spending when the next step would exceed the cost budget, or once the wall time
        exceeds the latency budget; the request is then declined (escalated on the strict path).
    """

    def __init__(
        self,
        policy: Policy,
        *,
        sample: Callable[..., Any],
        confidence: Callable[[CascadeState], Any] | None = None,
        verify: Callable[..., Any] | None = None,
        retrieve: Callable[..., Any] | None = None,
        escalate: Callable[..., Any] | None = None,
        stopping: Any = None,
        initial_samples: int = 1,
        batch_size: int = 1,
        max_samples: int = 30,
        sample_cost: float = 1.0,
        budget_cost: float | None = None,
        budget_latency_s: float | None = None,
        max_steps: int = 1000,
    ):
        if not isinstance(policy, Policy):
            raise InvalidArgumentError(f"policy: expected a credo.Policy, got {type(policy).__name__}")
        if not callable(sample):
            raise InvalidArgumentError("sample: must be callable (request, state) -> answer")
        for name, fn in (
            ("confidence", confidence),
            ("verify", verify),
            ("retrieve", retrieve),
            ("escalate", escalate),
        ):
            if fn is not None and not callable(fn):
                raise InvalidArgumentError(f"{name}: must be callable")
        if stopping is not None and not callable(getattr(stopping, "should_stop", None)):
            raise InvalidArgumentError("stopping: expected an object with should_stop(counts)")
        for name, v, lo in (
            ("initial_samples", initial_samples, 1),
            ("batch_size", batch_size, 1),
            ("max_samples", max_samples, 1),
            ("max_steps", max_steps, 1),
        ):
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise InvalidArgumentError(f"{name}: must be an integer >= {lo}, got {v!r}")
        if initial_samples > max_samples:
            raise InvalidArgumentError(f"initial_samples: {initial_samples} exceeds max_samples = {max_samples}")
        for name, v in (
            ("sample_cost", sample_cost),
            ("budget_cost", budget_cost),
            ("budget_latency_s", budget_latency_s),
        ):
            if (v is not None or name == "sample_cost") and (
                isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < math.inf
            ):  # NaN fails the comparison, so it is refused with the rest
                raise InvalidArgumentError(f"{name}: must be a finite non-negative number, got {v!r}")
        self.policy = policy
        self.sample = sample
        self.confidence = confidence or smoothed_majority
        self.verify = verify
        self.retrieve = retrieve
        self.escalate = escalate
        self.stopping = stopping
        self.initial_samples = initial_samples
        self.batch_size = batch_size
        self.max_samples = max_samples
        self.sample_cost = float(sample_cost)
        self.budget_cost = budget_cost
        self.budget_latency_s = budget_latency_s
        self.max_steps = max_steps

    # ----------------------------------------------------------------- the shared logic

    def _affordable(self, st: CascadeState, cost: float) -> bool:
        if self.budget_cost is not None and st.cost + cost > self.budget_cost + 1e-12:
            return False
        return self.budget_latency_s is None or st.latency_s <= self.budget_latency_s

    def _read_confidence(self, st: CascadeState) -> None:
        c = self.confidence(st)
        if isinstance(c, Mapping):
            if "confidence" not in c:
                raise InvalidArgumentError("confidence: a returned mapping must hold 'confidence'")
            st.coverage = c.get("coverage", st.coverage)
            st.repetition = c.get("repetition", st.repetition)
            st.answer = c.get("answer")
            votes = c.get("counts")
            st.votes = None if votes is None else sorted((int(v) for v in votes), reverse=True)
            c = c["confidence"]
        st.confidence = float(c)

    def _should_stop(self, st: CascadeState) -> tuple[bool, str]:
        """Asks the stopping rule about the vote counts; returns (stop, why) for the trace."""
        if self.stopping is None:
            return False, ""
        votes = st.votes if st.votes is not None else st.counts
        decide = getattr(self.stopping, "decide", None)
        if callable(decide):
            stop, stat = decide(votes)
            rule = getattr(self.stopping, "rule", "stopping")
            return bool(stop), f"sampling stopped by the {rule} rule, statistic {float(stat):.3f}"
        return bool(self.stopping.should_stop(votes)), "sampling stopped by the stopping rule"

    def _steps(
        self, request: Any, domain: str | None, risk: InputRisk | None, context: Any, trace: list[TraceStep]
    ) -> Generator[tuple[Any, ...], tuple[Any, float], tuple[Decision, Any, CascadeState]]:
        """The cascade as a generator: yields calls to make, receives (result, seconds)."""
        st = CascadeState(request=request, context=context)
        pol = self.policy

        def spend(step: str, detail: str, cost: float, secs: float) -> None:
            st.cost += cost
            st.latency_s += secs
            trace.append(TraceStep(step, detail, cost, secs, st.confidence))

        def over_budget(d: Decision, what: str) -> Decision:
            dom = pol.domains[d.domain]
            final = dom.strict_action if d.tier == "strict" else Action.ABSTAIN
            reasons = (
                *d.reasons,
                f"The budget does not allow the {what} step, so the request is "
                f"{'escalated' if final is Action.ESCALATE else 'declined'}.",
            )
            return Decision(final, d.confidence, d.tier, reasons, pol.costs[final], d.domain, d.threshold)

        if risk is not None and risk.ambiguity:
            # Ambiguous input: ask before spending anything.
            d = pol.decide(0.0, domain=domain, risk=risk)
            trace.append(TraceStep("decide", d.explain(), 0.0, 0.0, None, d.action.value))
            return d, None, st
        k = self.initial_samples
        if not self._affordable(st, k * self.sample_cost):
            raise InvalidArgumentError(f"budget_cost: {self.budget_cost} does not cover the {k} initial samples")
        answers, secs = yield ("sample", k, st)
        st.samples.extend(answers)
        spend("sample", f"Drew {k} initial sample{'s' if k > 1 else ''}.", k * self.sample_cost, secs)
        for _ in range(self.max_steps):
            self._read_confidence(st)
            d = pol.decide(
                st.confidence,
                domain=domain,
                risk=risk,
                coverage=st.coverage,
                retrieval_available=self.retrieve is not None,
                verifier=st.verifier or None,
                repetition=st.repetition,
                attempt=st.attempt,
                checks_done=st.checks_done,
            )
            trace.append(TraceStep("decide", d.explain(), 0.0, 0.0, st.confidence, d.action.value))
            a = d.action
            if a in (Action.ANSWER, Action.ABSTAIN, Action.ASK):
                return d, (st.current_answer if a is Action.ANSWER else None), st
            if a is Action.ESCALATE:
                if self.escalate is None:
                    return d, None, st
                if not self._affordable(st, pol.costs[a]):
                    d = over_budget(d, "escalate")
                    return d, None, st
                ans, secs = yield ("escalate", st)
                spend("escalate", "Escalated the request.", pol.costs[a], secs)
                return d, ans, st
            if a is Action.VERIFY:
                room = self.max_samples - len(st.samples)
                stop, stop_why = self._should_stop(st) if room > 0 else (False, "")
                if room > 0 and not stop:
                    k = min(self.batch_size, room)
                    if not self._affordable(st, k * self.sample_cost):
                        return over_budget(d, "sampling"), None, st
                    answers, secs = yield ("sample", k, st)
                    st.samples.extend(answers)
                    spend(
                        "sample",
                        f"Gray zone: drew {k} more sample{'s' if k > 1 else ''} ({len(st.samples)} in all).",
                        k * self.sample_cost,
                        secs,
                    )
                    continue
                if self.verify is not None and "verify" not in st.checks_done:
                    if not self._affordable(st, pol.costs[a]):
                        return over_budget(d, "verify"), None, st
                    res, secs = yield ("verify", st.current_answer, st)
                    st.verifier.append(res)
                    st.checks_done.add("verify")
                    ok = getattr(res, "passed", res)
                    spend("verify", f"Ran the verifier: {'passed' if ok else 'failed'}.", pol.costs[a], secs)
                    continue
                why = stop_why if stop else "no more samples allowed"
                trace.append(TraceStep("verify", f"Gray zone checks exhausted ({why}).", 0.0, 0.0, st.confidence))
                st.checks_done.add("verify")
                continue
            if a is Action.RETRIEVE:
                if not self._affordable(st, pol.costs[a]):
                    return over_budget(d, "retrieve"), None, st
                cov, secs = yield ("retrieve", st)
                st.checks_done.add("retrieve")
                if cov is not None:
                    st.coverage = float(cov)
                spend(
                    "retrieve",
                    f"Retrieved evidence (coverage now {st.coverage if st.coverage is not None else 'unknown'}).",
                    pol.costs[a],
                    secs,
                )
                continue
            if a is Action.RETRY:
                k = self.initial_samples
                if not self._affordable(st, k * self.sample_cost):
                    return over_budget(d, "retry"), None, st
                st.attempt += 1
                st.samples.clear()
                st.verifier.clear()
                st.repetition = None
                st.answer = None
                st.votes = None
                st.checks_done.discard("verify")
                answers, secs = yield ("sample", k, st)
                st.samples.extend(answers)
                spend(
                    "retry",
                    f"Retry {st.attempt}: drew {k} fresh sample{'s' if k > 1 else ''}.",
                    k * self.sample_cost,
                    secs,
                )
                continue
        raise RuntimeError(f"cascade did not settle within max_steps = {self.max_steps}")  # pragma: no cover

    # ----------------------------------------------------------------- drivers

    def _check_request(self, domain: str | None) -> None:
        if domain is not None and domain not in self.policy.domains:
            raise InvalidArgumentError(
                f"domain: {domain!r} is not configured (domains: {', '.join(self.policy.domains)})"
            )

    def run(
        self, request: Any, *, domain: str | None = None, risk: InputRisk | None = None, context: Any = None
    ) -> CascadeResult:
        """Runs the cascade for one request with plain function calls."""
        self._check_request(domain)
        trace: list[TraceStep] = []
        gen = self._steps(request, domain, risk, context, trace)
        try:
            call = next(gen)
        except StopIteration as stop:  # settled before spending anything
            return self._result(stop.value, trace)
        while True:
            t0 = time.perf_counter()
            kind, *args = call
            if kind == "sample":
                k, st = args
                out: Any = [self.sample(request, st) for _ in range(k)]
            elif kind == "verify":
                out = self.verify(request, args[0], args[1])  # type: ignore[misc]
            elif kind == "retrieve":
                out = self.retrieve(request, args[0])  # type: ignore[misc]
            else:
                out = self.escalate(request, args[0])  # type: ignore[misc]
            pending = [o for o in (out if isinstance(out, list) else [out]) if inspect.isawaitable(o)]
            if pending:
                for o in pending:
                    if inspect.iscoroutine(o):
                        o.close()  # never started: close it so Python does not warn about it
                raise InvalidArgumentError(
                    f"{kind}: returned a coroutine; use `await cascade.arun(...)` for async callables"
                )
            try:
                call = gen.send((out, time.perf_counter() - t0))
            except StopIteration as stop:
                return self._result(stop.value, trace)

    async def arun(
        self, request: Any, *, domain: str | None = None, risk: InputRisk | None = None, context: Any = None
    ) -> CascadeResult:
        """Runs the cascade under asyncio; callables may be sync or async, and the samples of one
        round are drawn concurrently."""
        import asyncio  # here, not at the top: it would cost `import credo` ~20 ms

        self._check_request(domain)
        trace: list[TraceStep] = []
        gen = self._steps(request, domain, risk, context, trace)
        try:
            call = next(gen)
        except StopIteration as stop:  # settled before spending anything
            return self._result(stop.value, trace)

        async def resolve(x: Any) -> Any:
            return await x if inspect.isawaitable(x) else x

        while True:
            t0 = time.perf_counter()
            kind, *args = call
            if kind == "sample":
                k, st = args
                out: Any = list(await asyncio.gather(*(resolve(self.sample(request, st)) for _ in range(k))))
            elif kind == "verify":
                out = await resolve(self.verify(request, args[0], args[1]))  # type: ignore[misc]
            elif kind == "retrieve":
                out = await resolve(self.retrieve(request, args[0]))  # type: ignore[misc]
            else:
                out = await resolve(self.escalate(request, args[0]))  # type: ignore[misc]
            try:
                call = gen.send((out, time.perf_counter() - t0))
            except StopIteration as stop:
                return self._result(stop.value, trace)

    @staticmethod
    def _result(value: tuple[Decision, Any, CascadeState], trace: list[TraceStep]) -> CascadeResult:
        d, answer, st = value
        return CascadeResult(d, answer, len(st.samples), st.cost, st.latency_s, tuple(trace))
