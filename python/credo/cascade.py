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
from typing import Any, ClassVar

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
        They replace the policy's own budgets (its ``budget_cost`` and ``budget_latency_s``).
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
        _check_callables(sample, confidence=confidence, verify=verify, retrieve=retrieve, escalate=escalate)
        if stopping is not None and not callable(getattr(stopping, "should_stop", None)):
            raise InvalidArgumentError("stopping: expected an object with should_stop(counts)")
        _check_counts(
            initial_samples=initial_samples, batch_size=batch_size, max_samples=max_samples, max_steps=max_steps
        )
        if initial_samples > max_samples:
            raise InvalidArgumentError(f"initial_samples: {initial_samples} exceeds max_samples = {max_samples}")
        _check_amounts(sample_cost=sample_cost, budget_cost=budget_cost, budget_latency_s=budget_latency_s)
        self.policy = policy.with_budget(cost=budget_cost, latency_s=budget_latency_s)
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
        self.max_steps = max_steps

    @property
    def budget_cost(self) -> float | None:
        """The cost budget of one request (the policy's)."""
        return self.policy.budget_cost

    @property
    def budget_latency_s(self) -> float | None:
        """The wall-time budget of one request (the policy's)."""
        return self.policy.budget_latency_s

    # ----------------------------------------------------------------- the shared logic
    # ``_steps`` is a generator: it yields the calls to make (an _Effect) and receives what they
    # returned (a _Done); the drivers (run, arun) make the calls. Each action has its own step.

    def _read_confidence(self, st: CascadeState) -> float:
        """Calls the confidence callable and keeps what it returned on the state."""
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
        st.confidence = conf = float(c)
        return conf

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

    def _decide(self, run: _Run, confidence: float) -> Decision:
        st = run.state
        d = self.policy.decide(
            confidence,
            domain=run.domain,
            risk=run.risk,
            coverage=st.coverage,
            retrieval_available=self.retrieve is not None,
            verifier=st.verifier or None,
            repetition=st.repetition,
            attempt=st.attempt,
            checks_done=st.checks_done,
        )
        run.trace.append(TraceStep("decide", d.explain(), 0.0, 0.0, st.confidence, d.action.value))
        return d

    def _steps(self, run: _Run) -> _Steps:
        """The cascade for one request: initial samples, then decide and act until settled."""
        if run.risk is not None and run.risk.ambiguity:
            # Ambiguous input: ask before spending anything.
            d = self.policy.decide(0.0, domain=run.domain, risk=run.risk)
            run.trace.append(TraceStep("decide", d.explain(), 0.0, 0.0, None, d.action.value))
            return _Settled(d, None, run.state)
        k = self.initial_samples
        if not self.policy.affordable(0.0, 0.0, k * self.sample_cost):
            raise InvalidArgumentError(f"budget_cost: {self.budget_cost} does not cover the {k} initial samples")
        done = yield _Draw(self.sample, k, run.state)
        run.state.samples.extend(done.value)
        run.spend("sample", f"Drew {k} initial sample{'s' if k > 1 else ''}.", k * self.sample_cost, done.seconds)
        for _ in range(self.max_steps):
            d = self._decide(run, self._read_confidence(run.state))
            settled = yield from self._act(d, run)
            if settled is not None:
                return settled
        raise RuntimeError(f"cascade did not settle within max_steps = {self.max_steps}")  # pragma: no cover

    def _act(self, d: Decision, run: _Run) -> _Step:
        """The step ``d.action`` asks for; a settled result ends the request."""
        a = d.action
        if a is Action.ESCALATE:
            return (yield from self._escalate_step(d, run))
        if a is Action.VERIFY:
            return (yield from self._gray_step(d, run))
        if a is Action.RETRIEVE:
            return (yield from self._retrieve_step(d, run))
        if a is Action.RETRY:
            return (yield from self._retry_step(d, run))
        return _Settled(d, run.state.current_answer if a is Action.ANSWER else None, run.state)

    def _over_budget(self, d: Decision, step: str, run: _Run) -> _Settled:
        """The settled result when the budgets do not allow ``step``."""
        return _Settled(self.policy.over_budget(d, step), None, run.state)

    def _escalate_step(self, d: Decision, run: _Run) -> _Step:
        st, cost, escalate = run.state, self.policy.costs[Action.ESCALATE], self.escalate
        if escalate is None:  # no escalation hook: the decision is the caller's to act on
            return _Settled(d, None, st)
        if not self.policy.affordable(st.cost, st.latency_s, cost):
            return self._over_budget(d, "escalate", run)
        done = yield _Escalate(escalate, st)
        run.spend("escalate", "Escalated the request.", cost, done.seconds)
        return _Settled(d, done.value, st)

    def _gray_step(self, d: Decision, run: _Run) -> _Step:
        """The gray zone: more samples while the stopping rule allows, then the verifier."""
        st = run.state
        room = self.max_samples - len(st.samples)
        stop, stop_why = self._should_stop(st) if room > 0 else (False, "")
        if room > 0 and not stop:
            return (yield from self._more_samples(d, run, min(self.batch_size, room)))
        if self.verify is not None and "verify" not in st.checks_done:
            return (yield from self._verify_step(d, run, self.verify))
        why = stop_why if stop else "no more samples allowed"
        run.trace.append(TraceStep("verify", f"Gray zone checks exhausted ({why}).", 0.0, 0.0, st.confidence))
        st.checks_done.add("verify")
        return None

    def _more_samples(self, d: Decision, run: _Run, k: int) -> _Step:
        st = run.state
        if not self.policy.affordable(st.cost, st.latency_s, k * self.sample_cost):
            return self._over_budget(d, "sampling", run)
        done = yield _Draw(self.sample, k, st)
        st.samples.extend(done.value)
        detail = f"Gray zone: drew {k} more sample{'s' if k > 1 else ''} ({len(st.samples)} in all)."
        run.spend("sample", detail, k * self.sample_cost, done.seconds)
        return None

    def _verify_step(self, d: Decision, run: _Run, verify: Callable[..., Any]) -> _Step:
        st, cost = run.state, self.policy.costs[Action.VERIFY]
        if not self.policy.affordable(st.cost, st.latency_s, cost):
            return self._over_budget(d, "verify", run)
        done = yield _Verify(verify, st.current_answer, st)
        st.verifier.append(done.value)
        st.checks_done.add("verify")
        ok = getattr(done.value, "passed", done.value)
        run.spend("verify", f"Ran the verifier: {'passed' if ok else 'failed'}.", cost, done.seconds)
        return None

    def _retrieve_step(self, d: Decision, run: _Run) -> _Step:
        st, cost, retrieve = run.state, self.policy.costs[Action.RETRIEVE], self.retrieve
        if retrieve is None:  # (a `below = "retrieve"` band) no retrieval hook: the caller's to act on
            return _Settled(d, None, st)
        if not self.policy.affordable(st.cost, st.latency_s, cost):
            return self._over_budget(d, "retrieve", run)
        done = yield _Retrieve(retrieve, st)
        st.checks_done.add("retrieve")
        if done.value is not None:
            st.coverage = float(done.value)
        coverage = st.coverage if st.coverage is not None else "unknown"
        run.spend("retrieve", f"Retrieved evidence (coverage now {coverage}).", cost, done.seconds)
        return None

    def _retry_step(self, d: Decision, run: _Run) -> _Step:
        """A fresh attempt: the samples, verdicts and signals of the last one are dropped."""
        st, k = run.state, self.initial_samples
        if not self.policy.affordable(st.cost, st.latency_s, k * self.sample_cost):
            return self._over_budget(d, "retry", run)
        st.attempt += 1
        st.samples.clear()
        st.verifier.clear()
        st.repetition = st.answer = st.votes = None
        st.checks_done.discard("verify")
        done = yield _Draw(self.sample, k, st)
        st.samples.extend(done.value)
        detail = f"Retry {st.attempt}: drew {k} fresh sample{'s' if k > 1 else ''}."
        run.spend("retry", detail, k * self.sample_cost, done.seconds)
        return None

    # ----------------------------------------------------------------- drivers

    def _start(self, request: Any, domain: str | None, risk: InputRisk | None, context: Any) -> _Run:
        if domain is not None:
            self.policy.check_domain(domain)
        return _Run(domain, risk, CascadeState(request=request, context=context), [])

    def run(
        self, request: Any, *, domain: str | None = None, risk: InputRisk | None = None, context: Any = None
    ) -> CascadeResult:
        """Runs the cascade for one request with plain function calls."""
        run = self._start(request, domain, risk, context)
        gen = self._steps(run)
        try:
            effect = next(gen)
        except StopIteration as stop:  # settled before spending anything
            return _settled(stop).result(run.trace)
        while True:
            t0 = time.perf_counter()
            out = effect.call(request)
            _refuse_awaitables(effect, out)
            try:
                effect = gen.send(_Done(out, time.perf_counter() - t0))
            except StopIteration as stop:
                return _settled(stop).result(run.trace)

    async def arun(
        self, request: Any, *, domain: str | None = None, risk: InputRisk | None = None, context: Any = None
    ) -> CascadeResult:
        """Runs the cascade under asyncio; callables may be sync or async, and the samples of one
        round are drawn concurrently."""
        import asyncio  # here, not at the top: it would cost `import credo` ~20 ms

        run = self._start(request, domain, risk, context)
        gen = self._steps(run)
        try:
            effect = next(gen)
        except StopIteration as stop:  # settled before spending anything
            return _settled(stop).result(run.trace)
        while True:
            t0 = time.perf_counter()
            out = effect.call(request)
            if isinstance(effect, _Draw):
                out = list(await asyncio.gather(*(_resolve(o) for o in out)))
            else:
                out = await _resolve(out)
            try:
                effect = gen.send(_Done(out, time.perf_counter() - t0))
            except StopIteration as stop:
                return _settled(stop).result(run.trace)


# ----------------------------------------------------------------- the steps' records


@dataclass
class _Run:
    """One request's run: its arguments, its state and its trace."""

    domain: str | None
    risk: InputRisk | None
    state: CascadeState
    trace: list[TraceStep]

    def spend(self, step: str, detail: str, cost: float, secs: float) -> None:
        self.state.cost += cost
        self.state.latency_s += secs
        self.trace.append(TraceStep(step, detail, cost, secs, self.state.confidence))


@dataclass(frozen=True)
class _Draw:
    """Draw ``k`` samples with ``sample`` (the call returns a list of ``k`` answers)."""

    name: ClassVar[str] = "sample"
    sample: Callable[..., Any]
    k: int
    state: CascadeState

    def call(self, request: Any) -> list[Any]:
        return [self.sample(request, self.state) for _ in range(self.k)]


@dataclass(frozen=True)
class _Verify:
    """Run the verifier on ``answer``."""

    name: ClassVar[str] = "verify"
    verify: Callable[..., Any]
    answer: Any
    state: CascadeState

    def call(self, request: Any) -> Any:
        return self.verify(request, self.answer, self.state)


@dataclass(frozen=True)
class _Retrieve:
    """Retrieve evidence (the call returns the new coverage, or None)."""

    name: ClassVar[str] = "retrieve"
    retrieve: Callable[..., Any]
    state: CascadeState

    def call(self, request: Any) -> Any:
        return self.retrieve(request, self.state)


@dataclass(frozen=True)
class _Escalate:
    """Hand the request to the escalation hook (the call returns its answer)."""

    name: ClassVar[str] = "escalate"
    escalate: Callable[..., Any]
    state: CascadeState

    def call(self, request: Any) -> Any:
        return self.escalate(request, self.state)


_Effect = _Draw | _Verify | _Retrieve | _Escalate


@dataclass(frozen=True)
class _Done:
    """What an effect's call returned, and how long it took."""

    value: Any
    seconds: float


@dataclass(frozen=True)
class _Settled:
    """The end of a run: the final decision, the answer it settled on, the state."""

    decision: Decision
    answer: Any
    state: CascadeState

    def result(self, trace: list[TraceStep]) -> CascadeResult:
        st = self.state
        return CascadeResult(self.decision, self.answer, len(st.samples), st.cost, st.latency_s, tuple(trace))


# A step yields effects, receives their outcomes, and returns a settled result or None (decide again).
_Step = Generator[_Effect, _Done, "_Settled | None"]
_Steps = Generator[_Effect, _Done, _Settled]


def _settled(stop: StopIteration) -> _Settled:
    """The value a finished run returned."""
    value: _Settled = stop.value
    return value


async def _resolve(x: Any) -> Any:
    return await x if inspect.isawaitable(x) else x


def _refuse_awaitables(effect: _Effect, out: Any) -> None:
    """A synchronous run refuses what an async callable returned (closing it unstarted)."""
    pending = [o for o in (out if isinstance(effect, _Draw) else [out]) if inspect.isawaitable(o)]
    if not pending:
        return
    for o in pending:
        if inspect.iscoroutine(o):
            o.close()  # never started: close it so Python does not warn about it
    raise InvalidArgumentError(
        f"{effect.name}: returned a coroutine; use `await cascade.arun(...)` for async callables"
    )


def _check_callables(sample: Any, **hooks: Any) -> None:
    if not callable(sample):
        raise InvalidArgumentError("sample: must be callable (request, state) -> answer")
    for name, fn in hooks.items():
        if fn is not None and not callable(fn):
            raise InvalidArgumentError(f"{name}: must be callable")


def _check_counts(**counts: Any) -> None:
    for name, v in counts.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InvalidArgumentError(f"{name}: must be an integer >= 1, got {v!r}")


def _check_amounts(**amounts: Any) -> None:
    """Costs and budgets: finite and non-negative (a budget may be None)."""
    for name, v in amounts.items():
        if (v is not None or name == "sample_cost") and (
            isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < math.inf
        ):  # NaN fails the comparison, so it is refused with the rest
            raise InvalidArgumentError(f"{name}: must be a finite non-negative number, got {v!r}")
