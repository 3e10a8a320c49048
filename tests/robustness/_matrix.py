"""The bad-input matrix: every public entry point × each of its arguments × bad values.

A *case* is (entry point, argument, bad value): the entry is called with valid values for every
argument except one, which gets the bad value. The expectation is always one of

- a :class:`credo.CredoError` whose message names the argument (a ``name:`` or ``name[...]``
  token; for a length mismatch, any of the entry's array arguments), or
- a documented result: the bad value is an *equivalent* form of a valid one (a strided, Fortran,
  big-endian, misaligned or read-only array, another dtype holding the same numbers, a list, a
  NumPy scalar), and the call must return what it returns for the canonical form; or the value is
  a huge count or hostile text that may be honoured, and the call must finish (no crash, no
  hang, no non-credo exception).

Anything else — another exception, a credo error that does not name the argument, a result for a
value that should be refused, a crash, a hang — is "other". Each case runs in a child process
with a memory cap; cases are grouped (one child runs many) and a group whose child crashes or
hangs goes on in a fresh child after the case that broke it, so each crash is charged to the
case that caused it alone.

``python -m tests.robustness._matrix`` runs the whole matrix and prints the totals (tried / clean
/ other) and the "other" cases; ``tests/robustness/test_matrix.py`` turns each case into a test.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
# Generous against a loaded machine (a legitimate case takes well under a second); only real
# hangs reach it, and they are few.
CASE_TIMEOUT_S = float(os.environ.get("CREDO_MATRIX_CASE_TIMEOUT", "15"))
MEMORY_CAP = 4 << 30  # bytes of address space per child: huge allocations fail instead of swapping
GROUP_SIZE = 60

# ----------------------------------------------------------------------------------- data


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


N = 40


@functools.cache
def scores() -> np.ndarray:
    return _rng(1).uniform(0.05, 0.95, N)


@functools.cache
def labels() -> np.ndarray:
    y = (_rng(2).uniform(size=N) < scores()).astype(np.int64)
    y[:2] = (0, 1)
    return y


@functools.cache
def probs() -> np.ndarray:
    z = _rng(3).normal(size=(N, 4)) * 2
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


@functools.cache
def classes() -> np.ndarray:
    c = np.array([np.argmax(r) if i % 3 else (i % 4) for i, r in enumerate(probs())], dtype=np.int64)
    c[:4] = (0, 1, 2, 3)
    return c


@functools.cache
def logits() -> np.ndarray:
    return _rng(4).normal(size=(6, 8)) * 3


@functools.cache
def logits3() -> np.ndarray:
    return _rng(5).normal(size=(2, 6, 8)) * 3


@functools.cache
def chosen() -> np.ndarray:
    return np.array([1, 0, 3, 7, 2, 5], dtype=np.int64)


@functools.cache
def chosen3() -> np.ndarray:
    return np.array([[1, 0, 3, 7, 2, 5], [0, 0, 1, 1, 2, 2]], dtype=np.int64)


@functools.cache
def topk() -> np.ndarray:
    z = -np.sort(_rng(6).exponential(size=(6, 4)) * 2, axis=1)
    z[:, 0] = -0.05
    return np.sort(z, axis=1)[:, ::-1].copy()


@functools.cache
def chosen_lp() -> np.ndarray:
    return topk()[:, 0].copy()


@functools.cache
def segments() -> np.ndarray:
    return np.array(["a", "b"] * (N // 2))


@functools.cache
def gen_scores() -> np.ndarray:
    return _rng(7).uniform(size=(N, 5))


@functools.cache
def losses() -> np.ndarray:
    return _rng(8).uniform(size=N)


def answers() -> list[str]:
    return ["Paris", "paris", "Lyon", "Paris."]


def openai_response() -> dict[str, Any]:
    content = [
        {
            "token": t,
            "logprob": -0.1 * (i + 1),
            "top_logprobs": [{"token": t, "logprob": -0.1 * (i + 1)}, {"token": "x", "logprob": -3.0}],
        }
        for i, t in enumerate(["The", " answer", " is", " 4"])
    ]
    return {"choices": [{"logprobs": {"content": content}}]}


def gemini_response() -> dict[str, Any]:
    tokens = ["The", " answer", " is", " 4"]
    chosen = [{"token": t, "logProbability": -0.1 * (i + 1)} for i, t in enumerate(tokens)]
    top = [{"candidates": [c, {"token": "x", "logProbability": -3.0}]} for c in chosen]
    return {"candidates": [{"logprobsResult": {"chosenCandidates": chosen, "topCandidates": top}}]}


def sse_bytes() -> bytes:
    """A streamed OpenAI response (server-sent events) with two positions and the end marker."""
    import json

    lines = [
        "data: " + json.dumps({"choices": [{"index": 0, "logprobs": {"content": [entry]}}]}) + "\n\n"
        for entry in openai_response()["choices"][0]["logprobs"]["content"][:2]
    ]
    return ("".join(lines) + "data: [DONE]\n\n").encode()


def sse_line() -> str:
    return sse_bytes().decode().split("\n\n")[0]


def vllm_outputs() -> list[dict[int, float]]:
    return [{5: -0.1, 7: -2.5}, {3: -0.3, 1: -1.9}, {2: -0.05, 9: -3.5}]


# ----------------------------------------------------------------------------------- fitted objects


@functools.cache
def fitted(kind: str) -> Any:
    import credo

    x, y = scores(), labels()
    makers: dict[str, Callable[[], Any]] = {
        "PlattScaling": lambda: credo.PlattScaling().fit(x, y),
        "BetaCalibration": lambda: credo.BetaCalibration().fit(x, y),
        "IsotonicCalibrator": lambda: credo.IsotonicCalibrator().fit(x, y),
        "HistogramBinning": lambda: credo.HistogramBinning().fit(x, y),
        "TemperatureScaling": lambda: credo.TemperatureScaling().fit(probs(), classes()),
        "MulticlassCalibrator": lambda: credo.MulticlassCalibrator().fit(probs(), classes()),
        "SegmentedCalibrator": lambda: credo.SegmentedCalibrator(method="platt", min_samples=5).fit(x, y, segments()),
        "ConformalSets": lambda: credo.ConformalSets(alpha=0.2).fit(probs(), classes()),
        "ConformalPValues": lambda: credo.ConformalPValues().fit(x),
        "SelectiveThreshold": lambda: credo.SelectiveThreshold(target_risk=0.5, delta=0.5).fit(x, y),
        "ClaimFilter": lambda: credo.ClaimFilter(alpha=0.3, if_infinite="inf").fit(
            [x[:5], x[5:10], x[10:15], x[15:20]], [y[:5] == 1, y[5:10] == 1, y[10:15] == 1, y[15:20] == 1]
        ),
        "ConfidenceModel": lambda: credo.ConfidenceModel(holdout=0).fit({"a": x, "b": x[::-1].copy()}, y),
        "DriftMonitor": lambda: credo.monitor.DriftMonitor().fit(x),
        "Policy": lambda: credo.Policy({"domains": {"general": {}, "medical": {"stakes": "high"}}}),
        "RiskRules": lambda: credo.risk.RiskRules(),
        "AdaptiveStopping": lambda: credo.AdaptiveStopping(),
        "NativeDecider": lambda: __import__("credo.serving").serving.compile(_topk_model(), fitted("Policy")),
        "OpenAIStream": lambda: _stream(),
    }
    return makers[kind]()


def _topk_model() -> Any:
    """A ConfidenceModel on top-k summary fields (what credo.serving.compile takes)."""
    import credo

    x = np.column_stack([-scores(), -2 * scores()])
    return credo.ConfidenceModel(features=["mean_logprob", "min_logprob"], holdout=0).fit(x, labels())


def _stream(**params: Any) -> Any:
    """A stream reader with these parameters, fed a valid response."""
    import credo

    s = credo.formats.OpenAIStream(**params)
    s.feed(sse_bytes())
    return s


def _on_stream(method: str) -> Callable[..., Any]:
    """A method of a fresh stream reader (feeding changes it)."""

    def call(*a: Any, **k: Any) -> Any:
        import credo

        return getattr(credo.formats.OpenAIStream(), method)(*a, **k)

    return call


def _cascade_outcome(cascade: Any) -> tuple[str, int, float]:
    """What a cascade run decided and spent (its trace holds wall times, which differ per run)."""
    r = cascade.run("q")
    return r.action.value, r.n_samples, r.cost


def artefact_path() -> str:
    """A valid saved artefact (a fitted Platt scaling) in a per-process temporary folder."""
    p = Path(_tmpdir()) / "platt.json"
    if not p.exists():
        fitted("PlattScaling").save(p)
    return str(p)


@functools.cache
def _tmpdir() -> str:
    return tempfile.mkdtemp(prefix="credo-matrix-")


# ----------------------------------------------------------------------------------- entries


@dataclass(frozen=True)
class A:
    """One argument: how to make a valid value, which family of bad values applies, whether None
    is a valid value, and other words the error may name it by."""

    kind: str
    valid: Callable[[], Any]
    optional: bool = False
    aliases: tuple[str, ...] = ()


@dataclass
class Entry:
    name: str
    call: Callable[..., Any]
    args: dict[str, A]
    positional: tuple[str, ...] = ()
    independent: bool = False  # the array arguments may differ in length (two samples)

    def run(self, **kwargs: Any) -> Any:
        pos = [kwargs.pop(k) for k in self.positional]
        return self.call(*pos, **kwargs)


ENTRIES: dict[str, Entry] = {}


def entry(
    name: str, call: Callable[..., Any], *, positional: tuple[str, ...] = (), independent: bool = False, **args: A
) -> None:
    assert name not in ENTRIES, name
    ENTRIES[name] = Entry(name, call, args, positional, independent)


def _c(name: str) -> Callable[..., Any]:
    """A public credo callable by dotted name (resolved when the case runs)."""

    def call(*a: Any, **k: Any) -> Any:
        import importlib

        mod, _, attr = name.rpartition(".")
        obj: Any = importlib.import_module(mod)
        return getattr(obj, attr)(*a, **k)

    return call


def _fit_then(cls: str, data: Callable[[], dict[str, Any]], then: str | None = None) -> Callable[..., Any]:
    """Constructor keywords → fit on valid data (→ an optional method on a probe)."""

    def call(**params: Any) -> Any:
        import credo

        obj = getattr(credo, cls) if hasattr(credo, cls) else getattr(credo.monitor, cls)
        est = obj(**params).fit(**data())
        return getattr(est, then)(scores()) if then else est

    return call


def _method(kind: str, method: str) -> Callable[..., Any]:
    def call(*a: Any, **k: Any) -> Any:
        return getattr(fitted(kind), method)(*a, **k)

    return call


def _fresh_method(kind: str, method: str) -> Callable[..., Any]:
    """A method that changes its object: called on a fresh copy."""

    def call(*a: Any, **k: Any) -> Any:
        import copy

        return getattr(copy.deepcopy(fitted(kind)), method)(*a, **k)

    return call


def _fresh(cls: str) -> Callable[..., Any]:
    def call(*a: Any, **k: Any) -> Any:
        import credo

        return getattr(credo, cls)()

    return call


F = "farray"  # real-valued array
L = "iarray"  # integer labels / ids
P = "farray"  # probabilities (the same family; the range is the function's to check)


def _register() -> None:
    xy = {"X": A(F, scores), "y": A(L, labels), "sample_weight": A(F, lambda: np.ones(N), optional=True)}
    pc = {"X": A(P, probs), "y": A(L, classes), "sample_weight": A(F, lambda: np.ones(N), optional=True)}
    # --- calibration: fit / predict / constructor parameters
    for cls in ("PlattScaling", "BetaCalibration", "IsotonicCalibrator", "HistogramBinning"):
        entry(f"{cls}.fit", lambda _c=cls, **k: _fresh(_c)().fit(**k), **xy)
        entry(f"{cls}.predict", _method(cls, "predict"), X=A(F, scores))
        entry(f"{cls}.predict_proba", _method(cls, "predict_proba"), X=A(F, scores))
    data_xy = lambda: {"X": scores(), "y": labels()}  # noqa: E731
    data_pc = lambda: {"X": probs(), "y": classes()}  # noqa: E731
    entry("PlattScaling()", _fit_then("PlattScaling", data_xy, "predict"), inputs=A("choice", lambda: "scores"))
    entry(
        "IsotonicCalibrator()",
        _fit_then("IsotonicCalibrator", data_xy, "predict"),
        increasing=A("choice", lambda: "auto"),
        y_min=A("float", lambda: 0.0, optional=True),
        y_max=A("float", lambda: 1.0, optional=True),
        out_of_bounds=A("choice", lambda: "clip"),
    )
    entry(
        "HistogramBinning()",
        _fit_then("HistogramBinning", data_xy, "predict"),
        n_bins=A("count", lambda: 10),
        strategy=A("choice", lambda: "uniform"),
    )
    entry("TemperatureScaling.fit", lambda **k: _fresh("TemperatureScaling")().fit(**k), **pc)
    entry("TemperatureScaling.predict_proba", _method("TemperatureScaling", "predict_proba"), X=A(P, probs))
    entry(
        "TemperatureScaling()",
        _fit_then("TemperatureScaling", data_pc),
        inputs=A("choice", lambda: "probabilities"),
        threads=A("count", lambda: 1, optional=True),
    )
    entry("MulticlassCalibrator.fit", lambda **k: _fresh("MulticlassCalibrator")().fit(**k), **pc)
    entry("MulticlassCalibrator.predict_proba", _method("MulticlassCalibrator", "predict_proba"), X=A(P, probs))
    entry(
        "MulticlassCalibrator.predict_confidence",
        _method("MulticlassCalibrator", "predict_confidence"),
        X=A(P, probs),
    )
    entry(
        "MulticlassCalibrator()",
        _fit_then("MulticlassCalibrator", data_pc),
        method=A("choice", lambda: "platt"),
        strategy=A("choice", lambda: "top-label"),
        params=A("mapping", lambda: {}, optional=True),
    )
    entry(
        "SegmentedCalibrator.fit",
        lambda **k: __import__("credo").SegmentedCalibrator(method="platt", min_samples=5).fit(**k),
        X=A(F, scores),
        y=A(L, labels),
        segments=A("labels", segments),
        sample_weight=A(F, lambda: np.ones(N), optional=True),
    )
    entry(
        "SegmentedCalibrator.predict",
        _method("SegmentedCalibrator", "predict"),
        X=A(F, scores),
        segments=A("labels", segments),
    )
    entry(
        "SegmentedCalibrator()",
        lambda **k: __import__("credo").SegmentedCalibrator(**k).fit(scores(), labels(), segments()),
        method=A("choice", lambda: "platt"),
        params=A("mapping", lambda: {}, optional=True),
        min_samples=A("count", lambda: 5),
    )
    # --- signals
    entry(
        "token_signals",
        _c("credo.token_signals"),
        logits=A(F, logits),
        chosen=A(L, chosen, optional=True),
        temperature=A("pos", lambda: 0.7),
        threads=A("count", lambda: 1, optional=True),
        invalid=A("choice", lambda: "raise"),
        processed=A("bool", lambda: False, optional=True),
    )
    entry(
        "sequence_signals",
        _c("credo.sequence_signals"),
        signals=A(F, logits3),
        chosen=A(L, chosen3, optional=True),
        lengths=A(L, lambda: np.array([6, 4]), optional=True),
        include_eos=A("bool", lambda: True),
        ngram=A("count", lambda: 2),
        temperature=A("pos", lambda: 1.0),
        threads=A("count", lambda: 1, optional=True),
        invalid=A("choice", lambda: "raise"),
    )
    topk_args = {
        "top_logprobs": A(F, topk),
        "chosen_logprob": A(F, chosen_lp, optional=True),
        "policy": A("choice", lambda: "bounds"),
        "vocab_size": A("count", lambda: 1000, optional=True),
        "k": A("count", lambda: 4, optional=True),
        "sentinel": A("float", lambda: -9999.0),
    }
    entry("topk_signals", _c("credo.topk_signals"), **topk_args, source=A("choice", lambda: "top_logprobs"))
    entry("topk_summary", _c("credo.topk_summary"), **topk_args)
    entry(
        "topk_summary_batch",
        _c("credo.topk_summary_batch"),
        top_logprobs=A("arrays", lambda: [topk(), topk()[:3]]),
        chosen_logprob=A("arrays", lambda: [chosen_lp(), chosen_lp()[:3]], optional=True),
        threads=A("count", lambda: 1, optional=True),
    )
    # --- readers
    entry(
        "formats.from_openai",
        _c("credo.formats.from_openai"),
        response=A("mapping", openai_response),
        choice=A("count0", lambda: 0),
        k=A("count", lambda: 2, optional=True),
    )
    entry(
        "formats.from_vllm",
        _c("credo.formats.from_vllm"),
        outputs=A("seq", vllm_outputs),
        token_ids=A("seq", lambda: [5, 1, 2], optional=True),
        k=A("count", lambda: 2, optional=True),
    )
    entry(
        "formats.from_hf_scores",
        _c("credo.formats.from_hf_scores"),
        scores=A("arrays", lambda: [logits()[:2], logits()[2:4]]),
        sequences=A(L, lambda: np.array([[0, 1, 2], [0, 3, 4]])),
    )
    entry(
        "formats.from_gemini",
        _c("credo.formats.from_gemini"),
        response=A("mapping", gemini_response),
        candidate=A("count0", lambda: 0),
        k=A("count", lambda: 2, optional=True),
    )
    entry(
        "formats.OpenAIStream()",
        lambda **k: _stream(**k).summary(),
        policy=A("choice", lambda: "bounds"),
        vocab_size=A("count", lambda: 50, optional=True),
        k=A("count", lambda: 2, optional=True),
    )
    # The reader's errors name the JSON path of the chunk at fault (chunks[i]...).
    entry("formats.OpenAIStream.feed", _on_stream("feed"), data=A("stream", sse_bytes, aliases=("chunks",)))
    entry("formats.OpenAIStream.feed_line", _on_stream("feed_line"), line=A("stream", sse_line, aliases=("chunks",)))
    entry("formats.OpenAIStream.summary", _method("OpenAIStream", "summary"), choice=A("count0", lambda: 0))
    # --- the compiled decision (credo.serving.compile)
    entry(
        "serving.compile",
        lambda **k: __import__("credo.serving").serving.compile(_topk_model(), fitted("Policy"), **k),
        vocab_size=A("count", lambda: 50, optional=True),
    )
    entry(
        "NativeDecider.decide",
        _method("NativeDecider", "decide"),
        top_logprobs=A(F, topk),
        chosen_logprob=A(F, chosen_lp, optional=True),
        domain=A("choice", lambda: "medical", optional=True),
        coverage=A("unit", lambda: 0.7, optional=True),
        repetition=A("unit", lambda: 0.1, optional=True),
        attempt=A("count0", lambda: 0),
        retrieval_available=A("bool", lambda: True),
        checks_done=A("texts", lambda: ["verify"]),
    )
    entry(
        "NativeDecider.decide_body",
        _method("NativeDecider", "decide_body"),
        # the reader's errors name the JSON path (response...)
        body=A("stream", lambda: __import__("json").dumps(openai_response()).encode(), aliases=("response",)),
        choice=A("count0", lambda: 0),
    )
    # --- metrics
    bin_args = {"y_true": A(L, labels), "y_prob": A(P, scores)}
    entry(
        "metrics.ece",
        _c("credo.metrics.ece"),
        **bin_args,
        kind=A("choice", lambda: "binary"),
        n_bins=A("count", lambda: 10, optional=True),
        strategy=A("choice", lambda: "uniform"),
        norm=A("choice", lambda: "l1"),
        convention=A("choice", lambda: "credo"),
        adaptive=A("bool", lambda: False),
        sample_weight=A(F, lambda: np.ones(N), optional=True),
        threads=A("count", lambda: 1, optional=True),
    )
    entry("metrics.ece[multiclass]", _c("credo.metrics.ece"), y_true=A(L, classes), y_prob=A(P, probs))
    entry("metrics.mce", _c("credo.metrics.mce"), **bin_args)
    entry(  # n_bins=None: the convention's default, as ece's
        "metrics.adaptive_ece",
        _c("credo.metrics.adaptive_ece"),
        **bin_args,
        n_bins=A("count", lambda: 5, optional=True),
    )
    entry(
        "metrics.reliability_table",
        _c("credo.metrics.reliability_table"),
        **bin_args,
        n_bins=A("count", lambda: 10, optional=True),
    )
    entry(
        "metrics.calibration_curve",
        _c("credo.metrics.calibration_curve"),
        **bin_args,
        n_bins=A("count", lambda: 5),
        strategy=A("choice", lambda: "quantile"),
    )
    entry(
        "metrics.smooth_ece",
        _c("credo.metrics.smooth_ece"),
        **bin_args,
        sigma=A("pos", lambda: 0.1, optional=True),
        return_sigma=A("bool", lambda: False),
    )
    entry("metrics.top_label", _c("credo.metrics.top_label"), y_true=A(L, classes), y_prob=A(P, probs))
    entry(
        "metrics.brier_score",
        _c("credo.metrics.brier_score"),
        **bin_args,
        sample_weight=A(F, lambda: np.ones(N), optional=True),
    )
    entry("metrics.nll", _c("credo.metrics.nll"), **bin_args, sample_weight=A(F, lambda: np.ones(N), optional=True))
    score_args = {
        "y_true": A(L, labels),
        "y_score": A(F, scores),
        "sample_weight": A(F, lambda: np.ones(N), optional=True),
    }
    for fn in ("auroc", "auprc", "prr", "risk_coverage_curve"):
        entry(f"metrics.{fn}", _c(f"credo.metrics.{fn}"), **score_args)
    for fn in ("aurc", "eaurc", "augrc"):
        entry(f"metrics.{fn}", _c(f"credo.metrics.{fn}"), **score_args, convention=A("choice", lambda: "credo"))
    entry("metrics.selective_risk", _c("credo.metrics.selective_risk"), **score_args, coverage=A("unit", lambda: 0.5))
    entry("metrics.coverage_at_risk", _c("credo.metrics.coverage_at_risk"), **score_args, risk=A("unit", lambda: 0.3))
    entry(
        "metrics.bootstrap",
        lambda **k: _c("credo.metrics.bootstrap")(_c("credo.metrics.brier_score"), **k),
        **bin_args,
        n_resamples=A("count", lambda: 20),
        confidence_level=A("openunit", lambda: 0.9),
        seed=A("seed", lambda: 0),
        sample_weight=A(F, lambda: np.ones(N), optional=True),
        threads=A("count", lambda: 1, optional=True),
    )
    entry(
        "metrics.by_segment",
        lambda **k: _c("credo.metrics.by_segment")(["brier_score"], **k, as_frame=False),
        **bin_args,
        segments=A("labels", segments),
        min_count=A("count", lambda: 1),
        overall=A("bool", lambda: True),
    )
    # --- conformal
    entry(
        "conformal_quantile",
        _c("credo.conformal_quantile"),
        scores=A(F, scores),
        alpha=A("openunit", lambda: 0.1),
        mode=A("choice", lambda: "exact"),
        if_infinite=A("choice", lambda: "inf"),
    )
    entry(
        "conformal.conformal_rank",
        _c("credo.conformal.conformal_rank"),
        n=A("count", lambda: 40),
        alpha=A("openunit", lambda: 0.1),
    )
    entry(
        "conformal.min_calibration_size", _c("credo.conformal.min_calibration_size"), alpha=A("openunit", lambda: 0.1)
    )
    entry(
        "conformal.conformal_p_values",
        _c("credo.conformal.conformal_p_values"),
        independent=True,
        calibration_scores=A(F, scores),
        test_scores=A(F, lambda: scores()[:5].copy()),
        smoothed=A("bool", lambda: True),
        seed=A("seed", lambda: 0, optional=True),
    )
    entry(
        "conformal.risk_p_value",
        _c("credo.conformal.risk_p_value"),
        errors=A("count0", lambda: 3),
        n=A("count", lambda: 40),
        alpha=A("openunit", lambda: 0.1),
        kind=A("choice", lambda: "binomial"),
    )
    entry(
        "conformal.sgr_bound",
        _c("credo.conformal.sgr_bound"),
        errors=A("count0", lambda: 3),
        m=A("count", lambda: 40),
        delta=A("openunit", lambda: 0.1),
    )
    entry(
        "conformal.rcps_upper_bound",
        _c("credo.conformal.rcps_upper_bound"),
        losses=A(F, losses),
        delta=A("openunit", lambda: 0.1),
        bound=A("choice", lambda: "wsr"),
    )
    entry(
        "conformal.clm_set_scores",
        _c("credo.conformal.clm_set_scores"),
        scores=A(F, gen_scores),
        kind=A("choice", lambda: "max"),
    )
    entry(
        "conformal.clm_stop_index",
        _c("credo.conformal.clm_stop_index"),
        set_scores=A(F, gen_scores),
        lam=A("float", lambda: 0.5),
    )
    entry(
        "conformal.clm_p_values",
        _c("credo.conformal.clm_p_values"),
        loss=A(F, losses),
        n=A("count", lambda: 40),
        epsilon=A("openunit", lambda: 0.3),
    )
    entry(
        "conformal.clm_select",
        _c("credo.conformal.clm_select"),
        loss=A(F, losses),
        n=A("count", lambda: 40),
        epsilon=A("openunit", lambda: 0.6),
        delta=A("openunit", lambda: 0.1),
        cost=A(F, lambda: np.arange(N, dtype=float), optional=True),
    )
    entry(
        "conformal.coverage",
        _c("credo.conformal.coverage"),
        sets=A("barray", lambda: probs() > 0.1),
        labels=A(L, classes),
    )
    entry("conformal.set_sizes", _c("credo.conformal.set_sizes"), sets=A("barray", lambda: probs() > 0.1))
    entry(
        "ConformalSets.fit",
        lambda **k: __import__("credo").ConformalSets(alpha=0.2).fit(**k),
        probs=A(P, probs),
        labels=A(L, classes),
    )
    entry(
        "ConformalSets.predict_sets",
        _method("ConformalSets", "predict_sets"),
        probs=A(P, probs),
        threads=A("count", lambda: 1, optional=True),
    )
    entry("ConformalSets.evaluate", _method("ConformalSets", "evaluate"), probs=A(P, probs), labels=A(L, classes))
    entry(
        "ConformalSets()",
        lambda **k: __import__("credo").ConformalSets(**k).fit(probs(), classes()).predict_sets(probs()),
        alpha=A("openunit", lambda: 0.2),
        score=A("choice", lambda: "aps"),
        mode=A("choice", lambda: "exact"),
        include_last_label=A("bool", lambda: False),
        raps_lambda=A("nonneg", lambda: 0.01),
        raps_k_reg=A("count0", lambda: 1),
        if_infinite=A("choice", lambda: "raise"),
        seed=A("seed", lambda: 0),
    )
    entry("ConformalPValues.fit", lambda **k: __import__("credo").ConformalPValues().fit(**k), scores=A(F, scores))
    entry("ConformalPValues.p_value", _method("ConformalPValues", "p_value"), score=A("float", lambda: 0.5))
    entry("ConformalPValues.p_values", _method("ConformalPValues", "p_values"), scores=A(F, scores))
    entry(
        "ConformalPValues.prediction_set",
        _method("ConformalPValues", "prediction_set"),
        scores=A(F, scores),
        confidence=A("openunit", lambda: 0.9),
    )
    entry(
        "SelectiveThreshold.fit",
        lambda **k: __import__("credo").SelectiveThreshold(target_risk=0.5, delta=0.5).fit(**k),
        confidence=A(P, scores),
        correct=A(L, labels),
        segments=A("labels", segments, optional=True),
    )
    entry("SelectiveThreshold.accept", _method("SelectiveThreshold", "accept"), confidence=A(P, scores))
    entry(
        "SelectiveThreshold()",
        lambda **k: __import__("credo").SelectiveThreshold(**k).fit(scores(), labels()).accept(scores()),
        target_risk=A("openunit", lambda: 0.5),
        delta=A("openunit", lambda: 0.5),
        method=A("choice", lambda: "ltt"),
        p_value=A("choice", lambda: "binomial"),
        fwer=A("choice", lambda: "fixed_sequence"),
        grid=A("count0", lambda: 20),  # 0 tests every distinct confidence (documented)
    )
    claims = lambda: [scores()[:5], scores()[5:10], scores()[10:15], scores()[15:20]]  # noqa: E731
    entry(
        "ClaimFilter.fit",
        lambda **k: __import__("credo").ClaimFilter(alpha=0.3, if_infinite="inf").fit(**k),
        scores=A("arrays", claims),
        labels=A(
            "arrays", lambda: [labels()[:5] == 1, labels()[5:10] == 1, labels()[10:15] == 1, labels()[15:20] == 1]
        ),
    )
    entry("ClaimFilter.keep", _method("ClaimFilter", "keep"), scores=A(F, scores))
    entry(
        "ClaimFilter()",
        lambda **k: __import__("credo").ClaimFilter(**k).fit(claims(), [c > 0.5 for c in claims()]).keep(scores()),
        alpha=A("openunit", lambda: 0.3),
        mode=A("choice", lambda: "exact"),
        if_infinite=A("choice", lambda: "inf"),
    )
    # --- agreement
    entry(
        "agree",
        _c("credo.agree"),
        answers=A("texts", answers),
        method=A("choice", lambda: "exact", optional=True),
        clustering=A("choice", lambda: "greedy"),
        normalize=A("bool", lambda: True),
        logprobs=A(F, lambda: np.array([-1.0, -1.2, -2.0, -0.5]), optional=True),
        spectral=A("bool", lambda: False),
    )
    entry(
        "agree[numeric]",
        lambda **k: _c("credo.agree")(["4", "4.0", "5", "four"], method="numeric", **k),
        tolerance=A("nonneg", lambda: 1e-6),
    )
    entry(
        "agree[similarity]",
        lambda **k: _c("credo.agree")(answers(), **k),
        similarity=A(P, lambda: np.eye(4) * 0.5 + 0.5),
        threshold=A("unit", lambda: 0.7, optional=True),
    )
    entry(
        "agree_batch",
        _c("credo.agree_batch"),
        questions=A("nested_texts", lambda: [answers(), ["1", "2", "2"]]),
        method=A("choice", lambda: "exact", optional=True),
        threads=A("count", lambda: 1, optional=True),
    )
    entry(
        "normalize_answer",
        _c("credo.normalize_answer"),
        text=A("text", lambda: "The  Answer: 42!"),
        articles=A("bool", lambda: True),
    )
    entry(
        "agreement.spectral_measures",
        _c("credo.agreement.spectral_measures"),
        similarity=A(P, lambda: np.eye(4) * 0.5 + 0.5),
    )
    entry(
        "AdaptiveStopping()",
        lambda **k: __import__("credo").AdaptiveStopping(**k).decide(["a", "a", "b", "a"]),
        rule=A("choice", lambda: "beta"),
        confidence=A("openunit", lambda: 0.95),
        threshold=A("unit", lambda: 0.5, optional=True),
        min_samples=A("count", lambda: 1),
        max_samples=A("count", lambda: 40),
    )
    entry(
        "AdaptiveStopping.decide",
        _method("AdaptiveStopping", "decide"),
        answers_or_counts=A("texts", lambda: ["a", "a", "b"]),
    )
    # --- monitor
    entry("monitor.ks_2samp", _c("credo.monitor.ks_2samp"), independent=True, a=A(F, scores), b=A(F, losses))
    entry(
        "DriftMonitor.fit",
        _fresh_method("DriftMonitor", "fit"),
        positional=("reference",),
        reference=A(F, scores),
        decisions=A("labels", segments, optional=True),
    )
    entry(
        "DriftMonitor.update",
        _fresh_method("DriftMonitor", "update"),
        positional=("confidences",),
        confidences=A(F, scores),
        decisions=A("labels", segments, optional=True),
    )
    entry(
        "DriftMonitor()",
        lambda **k: __import__("credo").monitor.DriftMonitor(**k).fit(scores()).update(losses()).check(),
        n_bins=A("count", lambda: 100),
        value_range=A("pair", lambda: (0.0, 1.0)),
        psi_bins=A("count", lambda: 10),
        thresholds=A("mapping", lambda: {"psi": 0.3}, optional=True),
        decay=A("openunit", lambda: 0.9, optional=True),
    )
    # --- decision layer
    entry(
        "Policy.decide",
        _method("Policy", "decide"),
        confidence=A("unit", lambda: 0.8),
        domain=A("choice", lambda: "medical", optional=True),
        coverage=A("unit", lambda: 0.7, optional=True),
        retrieval_available=A("bool", lambda: True),
        repetition=A("unit", lambda: 0.1, optional=True),
        attempt=A("count0", lambda: 0),
        checks_done=A("texts", lambda: ["verify"]),
    )
    entry(
        "Policy()",
        lambda **k: __import__("credo").Policy(**k),
        config=A("mapping", lambda: {"domains": {"general": {}}}, optional=True, aliases=("*",)),
    )
    entry("Policy.assess", _method("Policy", "assess"), text=A("text", lambda: "What dose of ibuprofen is safe?"))
    entry(
        "risk.assess",
        _c("credo.risk.assess"),
        text=A("text", lambda: "Is it legal to break my lease?"),
        domain=A("choice", lambda: "general", optional=True),
        history=A("texts", lambda: ["hello"]),
    )
    entry("risk.stakes_rank", _c("credo.risk.stakes_rank"), stakes=A("choice", lambda: "high"))
    entry(
        "risk.RiskRules()",
        lambda **k: __import__("credo").risk.RiskRules(**k),
        config=A("mapping", lambda: {}, optional=True, aliases=("*",)),
    )
    entry(
        "evidence.coverage",
        _c("credo.evidence.coverage"),
        answer=A("text", lambda: "Paris is the capital of France [1]."),
        passages=A("texts", lambda: ["Paris is the capital and largest city of France."]),
        citations=A("bool", lambda: True),
        min_support=A("unit", lambda: 0.6),
        max_chars=A("count", lambda: 10_000),
    )
    entry(
        "evidence.coverage_batch",
        _c("credo.evidence.coverage_batch"),
        answers=A("texts", lambda: ["Paris is in France.", "Rome is in Italy."]),
        passages=A("nested_texts", lambda: [["Paris is in France."], ["Rome is the capital of Italy."]]),
        min_support=A("unit", lambda: 0.6),
        threads=A("count", lambda: 1, optional=True),
    )
    entry(
        "confidence.decision_signals",
        _c("credo.confidence.decision_signals"),
        coverage=A("unit", lambda: 0.5, optional=True),
        citation_precision=A("unit", lambda: 0.5, optional=True),
    )
    xs = lambda: {"a": scores(), "b": scores()[::-1].copy()}  # noqa: E731
    entry(
        "ConfidenceModel.fit",
        lambda **k: __import__("credo").ConfidenceModel(holdout=0).fit(**k),
        X=A("signals", xs),
        y=A(L, labels),
        segments=A("labels", segments, optional=True),
        sample_weight=A(F, lambda: np.ones(N), optional=True),
    )
    entry("ConfidenceModel.predict_proba", _method("ConfidenceModel", "predict_proba"), X=A("signals", xs))
    entry(
        "ConfidenceModel.predict_one",
        _method("ConfidenceModel", "predict_one"),
        signals=A("signal_row", lambda: {"a": 0.3, "b": 0.6}),
    )
    entry(
        "ConfidenceModel()",
        lambda **k: __import__("credo").ConfidenceModel(**k).fit(xs(), labels()).predict_proba(xs()),
        C=A("pos", lambda: 1.0),
        calibrator_input=A("choice", lambda: "probability"),
        holdout=A("unit", lambda: 0.0),
        cv=A("count", lambda: 3),
        max_iter=A("count", lambda: 50),
        random_state=A("seed", lambda: 0, optional=True),
    )
    entry(
        "Cascade()",
        lambda **k: _cascade_outcome(__import__("credo").Cascade(fitted("Policy"), sample=lambda r, s: "a", **k)),
        initial_samples=A("count", lambda: 1),
        batch_size=A("count", lambda: 1),
        max_samples=A("count", lambda: 5),
        sample_cost=A("nonneg", lambda: 1.0),
        budget_cost=A("nonneg", lambda: 10.0, optional=True),
        budget_latency_s=A("nonneg", lambda: 10.0, optional=True),
        max_steps=A("count", lambda: 100),
    )
    # --- verifiers
    entry("verify.evaluate_expression", _c("credo.verify.evaluate_expression"), expr=A("text", lambda: "2 * (3 + 4)"))
    entry(
        "ArithmeticVerifier.verify",
        lambda **k: __import__("credo").verify.ArithmeticVerifier().verify(**k),
        answer=A("text", lambda: "2 + 2 = 4"),
    )
    entry(
        "ArithmeticVerifier()",
        lambda **k: __import__("credo").verify.ArithmeticVerifier(**k).verify("2 + 2 = 4"),
        rel_tol=A("nonneg", lambda: 0.0),
        require=A("bool", lambda: False),
    )
    entry(
        "SchemaVerifier.verify",
        lambda **k: __import__("credo").verify.SchemaVerifier({"type": "object"}).verify(**k),
        answer=A("text", lambda: '{"a": 1}'),
    )
    entry(
        "SchemaVerifier()",
        lambda **k: __import__("credo").verify.SchemaVerifier(**k).verify('{"a": 1}'),
        schema=A("mapping", lambda: {"type": "object"}),
        max_errors=A("count", lambda: 5),
    )
    entry(
        "FormatVerifier()",
        lambda **k: __import__("credo").verify.FormatVerifier(**k).verify("2024-01-02"),
        kind=A("choice", lambda: "date"),
        formats=A("texts", lambda: ["%Y-%m-%d"]),
    )
    entry(
        "FormatVerifier.verify",
        lambda **k: __import__("credo").verify.FormatVerifier("regex", pattern=r"\d+").verify(**k),
        answer=A("text", lambda: "1234"),
    )
    entry(
        "ToolResultVerifier.verify",
        lambda **k: __import__("credo").verify.ToolResultVerifier().verify(**k),
        answer=A("text", lambda: "The total is 42."),
        context=A("mapping", lambda: {"tool_result": {"total": 42}}),
    )
    entry(
        "ProcessVerifier.verify",
        lambda **k: __import__("credo").verify.ProcessVerifier(required=["search"]).verify(**k),
        answer=A("text", lambda: "First check the input, then answer."),
        context=A("mapping", lambda: {"tool_calls": ["search", {"name": "sum"}]}),
    )
    # --- artefacts and report
    entry("load", _c("credo.load"), path=A("path", artefact_path))
    entry("report.plot_bins", _c("credo.report.plot_bins"), n=A("count", lambda: 100))
    entry(
        "plots.wilson_interval",
        _c("credo.plots.wilson_interval"),
        p=A(P, lambda: scores()[:10].copy()),
        n=A(L, lambda: np.arange(1, 11)),
        z=A("pos", lambda: 1.96),
    )
    entry(
        "report.metrics_table",
        _c("credo.report.metrics_table"),
        y_true=A(L, labels),
        y_prob=A(P, scores),
        n_bins=A("count", lambda: 5),
        n_resamples=A("count", lambda: 10),
    )


# ----------------------------------------------------------------------------------- bad values


@dataclass(frozen=True)
class Bad:
    """A bad value: ``make(valid)`` builds it; ``ref(valid)`` builds the canonical value it is
    equivalent to (the documented result is the call's result on that), or None when the value
    must be refused; ``lenient``: the value may also be honoured (any result, no crash)."""

    name: str
    make: Callable[[Any], Any]
    ref: Callable[[Any], Any] | None = None
    lenient: bool = False
    applies: Callable[[Any], bool] = lambda v: True


def _with(v: np.ndarray, value: float) -> np.ndarray:
    out = np.array(v, dtype=np.float64)
    out.flat[out.size // 2] = value
    return out


def _misaligned(v: np.ndarray) -> np.ndarray:
    buf = np.zeros(v.nbytes + 1, dtype=np.uint8)
    out = buf[1:].view(v.dtype).reshape(v.shape)
    out[...] = v
    return out


def _readonly(v: np.ndarray) -> np.ndarray:
    out = v.copy()
    out.setflags(write=False)
    return out


def _wrong_rank(v: np.ndarray) -> np.ndarray:
    if v.ndim == 1:
        return v[: v.size - v.size % 2].reshape(-1, 2)
    if v.ndim == 2:
        return v[None, :, :]
    return v.reshape(v.shape[0], -1)


def _deep_list(depth: int = 20_000) -> list[Any]:
    out: list[Any] = [0.5]
    for _ in range(depth):
        out = [out]
    return out


def _deep_dict(depth: int = 20_000) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for _ in range(depth):
        out = {"a": out}
    return out


def _is_nd(v: Any) -> bool:
    return isinstance(v, np.ndarray)


ARRAY_BADS = [
    Bad("nan", lambda v: _with(v, math.nan)),
    Bad("+inf", lambda v: _with(v, math.inf)),
    Bad("-inf", lambda v: _with(v, -math.inf)),
    Bad("empty", lambda v: v[:0]),
    Bad("0-d", lambda v: np.asarray(v.flat[0])),
    Bad("wrong_rank", _wrong_rank),
    Bad("strided", lambda v: np.repeat(v, 2, axis=0)[::2], ref=lambda v: v),
    Bad("fortran", np.asfortranarray, ref=lambda v: v, applies=lambda v: v.ndim >= 2),
    Bad(
        "big_endian",
        lambda v: v.astype(v.dtype.newbyteorder(">")),
        ref=lambda v: v,
        applies=lambda v: v.dtype.itemsize > 1,
    ),
    Bad("misaligned", _misaligned, ref=lambda v: v, applies=lambda v: v.dtype.itemsize > 1),
    Bad("read_only", _readonly, ref=lambda v: v),
    Bad("list", lambda v: v.tolist(), ref=lambda v: v),
    Bad("float32", lambda v: v.astype(np.float32), ref=lambda v: v.astype(np.float32).astype(np.float64)),
    Bad("float16", lambda v: v.astype(np.float16), ref=lambda v: v.astype(np.float16).astype(np.float64)),
    Bad("int32", lambda v: v.astype(np.int32), ref=lambda v: v.astype(np.int32).astype(np.int64)),
    Bad("bool", lambda v: v.astype(bool), ref=lambda v: v.astype(bool).astype(np.int64)),
    Bad("object", lambda v: v.astype(object), ref=lambda v: v),
    Bad("complex", lambda v: v.astype(np.complex128) + 1j),
    Bad("str", lambda v: v.astype(str)),
    Bad("uint64_2**63", lambda v: np.full(v.shape, 2**63, dtype=np.uint64), ref=lambda v: np.full(v.shape, 2.0**63)),
    Bad("python_int_2**64", lambda v: np.full(v.shape, 2**64, dtype=object).tolist()),
    Bad("ragged", lambda v: [[0.5, 0.5], [0.5]]),
    Bad("deep_nesting", lambda v: _deep_list()),
    Bad("huge_view", lambda v: np.broadcast_to(v.flat[0], (10**10, *v.shape[1:]))),
    Bad("none", lambda v: None),
    Bad("scalar_text", lambda v: "0.5"),
]

LABEL_BADS = [  # arrays of category names (segments, decisions)
    Bad("empty", lambda v: v[:0]),
    Bad("wrong_rank", _wrong_rank),
    Bad("list", lambda v: v.tolist(), ref=lambda v: v),
    Bad("object", lambda v: v.astype(object), ref=lambda v: v),
    Bad("surrogate", lambda v: np.array(["\udc80"] * len(v), dtype=object), lenient=True),
    Bad("nested", lambda v: [[s] for s in v.tolist()]),
    Bad("none", lambda v: None),
    Bad("deep_nesting", lambda v: _deep_list()),
]


def _scalar_bads(kind: str) -> list[Bad]:
    common = [
        Bad("nan", lambda v: math.nan),
        Bad("+inf", lambda v: math.inf),
        Bad("-inf", lambda v: -math.inf),
        Bad("text", lambda v: "0.5"),
        Bad("complex", lambda v: 0.5 + 1j),
        Bad("list", lambda v: [v]),
        Bad("bool", lambda v: True),
        Bad("none", lambda v: None),
        Bad("numpy_scalar", lambda v: np.float64(v), ref=lambda v: v),
        Bad("0-d_array", lambda v: np.asarray(v), ref=lambda v: v),
    ]
    ranges = {
        "unit": [Bad("below_0", lambda v: -0.1), Bad("above_1", lambda v: 1.1)],
        "openunit": [
            Bad("0", lambda v: 0.0),
            Bad("1", lambda v: 1.0),
            Bad("below_0", lambda v: -0.5),
            Bad("above_1", lambda v: 2.0),
        ],
        "pos": [Bad("0", lambda v: 0.0), Bad("negative", lambda v: -1.0)],
        "nonneg": [Bad("negative", lambda v: -1.0)],
        "float": [Bad("huge", lambda v: 1e308, lenient=True)],
    }
    return common + ranges[kind]


def _int_bads(kind: str) -> list[Bad]:
    out = [
        Bad("negative", lambda v: -1),
        Bad("float", lambda v: 1.5),
        Bad("integral_float", lambda v: float(v), ref=lambda v: v, lenient=False),
        Bad("nan", lambda v: math.nan),
        Bad("text", lambda v: "3"),
        Bad("bool", lambda v: True),
        Bad("none", lambda v: None),
        Bad("numpy_int", lambda v: np.int64(v), ref=lambda v: v),
        Bad("2**64", lambda v: 2**64, lenient=True),
        Bad("-2**63", lambda v: -(2**63)),
    ]
    if kind == "count":
        out += [
            Bad("0", lambda v: 0),
            Bad("10**9", lambda v: 10**9, lenient=True),
            Bad("2**63", lambda v: 2**63, lenient=True),
        ]
    if kind == "count0":
        out += [Bad("10**9", lambda v: 10**9, lenient=True)]
    return out


TEXT_BADS = [
    Bad("none", lambda v: None),
    Bad("int", lambda v: 3),
    Bad("bytes", lambda v: b"bytes"),
    Bad("list", lambda v: [v]),
    Bad("lone_surrogate", lambda v: v + "\udc80", lenient=True),
    Bad("nul", lambda v: v + "\x00", lenient=True),
    Bad("empty", lambda v: "", lenient=True),
    Bad("long_200k", lambda v: (v + " 1+1 ") * (200_000 // (len(v) + 5)), lenient=True),
    Bad("digits_32k", lambda v: "1" * 32_000 + "x", lenient=True),
    Bad("deep_parens", lambda v: "(" * 50_000 + "1" + ")" * 50_000, lenient=True),
    Bad("fence_spaces", lambda v: "```" + " " * 2000 + "x", lenient=True),
]

CHOICE_BADS = [
    Bad("none", lambda v: None),
    Bad("empty", lambda v: ""),
    Bad("unknown", lambda v: "no-such-option"),
    Bad("lone_surrogate", lambda v: "\udc80"),
    Bad("int", lambda v: 3),
    Bad("bytes", lambda v: b"x"),
    Bad("list", lambda v: [v]),
    Bad("nul", lambda v: str(v) + "\x00"),
]

TEXTS_BADS = [
    Bad("none", lambda v: None),
    Bad("bare_string", lambda v: "abc"),
    Bad("int_items", lambda v: [3, 4]),
    Bad("none_item", lambda v: [*v[:-1], None] if v else [None]),
    Bad("surrogate_items", lambda v: [s + "\udc80" for s in v], lenient=True),
    Bad("deep_nesting", lambda v: _deep_list()),
    Bad("int", lambda v: 3),
]

NESTED_TEXTS_BADS = [
    *TEXTS_BADS,
    Bad("ragged_inner_none", lambda v: [v[0], None]),
    Bad("empty_inner", lambda v: [v[0], []], lenient=True),
]

STREAM_BADS = [  # what arrives on a stream or in a body: bytes, str or parsed chunks
    Bad("none", lambda v: None),
    Bad("int", lambda v: 3),
    Bad("float", lambda v: 1.5),
    Bad("deep_nesting", lambda v: _deep_list()),
    Bad("deep_json", lambda v: b"data: " + b"[" * 100_000 + b"]" * 100_000 + b"\n\n", lenient=True),
    Bad("garbage", lambda v: b"\xff\xfe{not json", lenient=True),
    Bad("lone_surrogate", lambda v: 'data: {"choices": [\udc80]}\n\n', lenient=True),
    Bad("nul", lambda v: (v if isinstance(v, bytes) else v.encode()) + b"\x00", lenient=True),
    Bad("empty", lambda v: v[:0], lenient=True),
    Bad("long_line", lambda v: b"data: " + b"x" * 3_000_000 + b"\n\n", lenient=True),
    Bad("content_not_a_list", lambda v: b'data: {"choices":[{"index":0,"logprobs":{"content":"notalist"}}]}\n\n'),
]

MAPPING_BADS = [
    Bad("list", lambda v: [1, 2]),
    Bad("text", lambda v: "{}"),
    Bad("int", lambda v: 3),
    Bad("deep_nesting", lambda v: _deep_dict()),
    Bad("unknown_key", lambda v: {**v, "no_such_key": 1}, lenient=True),
    Bad("none", lambda v: None),
]

BOOL_BADS = [
    Bad("text", lambda v: "yes"),
    Bad("int_2", lambda v: 2),
    Bad("nan", lambda v: math.nan),
    Bad("none", lambda v: None),
    Bad("numpy_bool", lambda v: np.bool_(v), ref=lambda v: v),
]

PAIR_BADS = [
    Bad("nan", lambda v: (math.nan, 1.0)),
    Bad("inf", lambda v: (0.0, math.inf)),
    Bad("reversed", lambda v: (1.0, 0.0)),
    Bad("one", lambda v: (0.5,)),
    Bad("text", lambda v: "0,1"),
    Bad("none", lambda v: None),
]

ARRAYS_BADS = [  # a sequence of arrays
    Bad("none", lambda v: None),
    Bad("empty", lambda v: []),
    Bad("nan_inside", lambda v: [_with(np.asarray(v[0], dtype=float), math.nan), *v[1:]]),
    Bad("none_item", lambda v: [v[0], None]),
    Bad("text_item", lambda v: [v[0], "x"]),
    Bad("complex_item", lambda v: [np.asarray(v[0]).astype(complex) + 1j, *v[1:]]),
    Bad(
        "big_endian_item",
        lambda v: [np.asarray(v[0]).astype(np.asarray(v[0]).dtype.newbyteorder(">")), *v[1:]],
        ref=lambda v: v,
    ),
    Bad("deep_nesting", lambda v: _deep_list()),
]

SIGNALS_BADS = [  # a mapping name -> column
    Bad("empty", lambda v: {}),
    Bad("nan_column", lambda v: {**v, "a": _with(v["a"], math.nan)}),
    Bad("short_column", lambda v: {**v, "a": v["a"][:-1]}),
    Bad("text_column", lambda v: {**v, "a": ["x"] * len(v["a"])}),
    Bad("none", lambda v: None),
    Bad("big_endian", lambda v: {k: c.astype(">f8") for k, c in v.items()}, ref=lambda v: v),
    Bad("deep_nesting", lambda v: _deep_dict()),
]

ROW_BADS = [
    Bad("missing", lambda v: {"a": 0.3}),
    Bad("nan", lambda v: {**v, "a": math.nan}),
    Bad("text", lambda v: {**v, "a": "x"}),
    Bad("none", lambda v: None),
    Bad("inf", lambda v: {**v, "a": math.inf}),
]

BARRAY_BADS = [
    Bad("empty", lambda v: v[:0]),
    Bad("wrong_rank", lambda v: v[0]),
    Bad("float", lambda v: v.astype(float) * 0.5),
    Bad("fortran", np.asfortranarray, ref=lambda v: v),
    Bad("strided", lambda v: np.repeat(v, 2, axis=0)[::2], ref=lambda v: v),
    Bad("none", lambda v: None),
]


def _fifo(_: Any) -> str:
    p = Path(_tmpdir()) / "fifo"
    if not p.exists():
        os.mkfifo(p)
    return str(p)


def _big_file(_: Any) -> str:
    p = Path(_tmpdir()) / "big.json"
    if not p.exists():
        with open(p, "wb") as fh:
            fh.write(b"[" + b"0," * (40 << 20) + b"0]")  # 80 MiB of valid JSON
    return str(p)


def _nested_file(_: Any) -> str:
    p = Path(_tmpdir()) / "nested.json"
    p.write_text("[" * 100_000 + "]" * 100_000)
    return str(p)


PATH_BADS = [
    Bad("missing", lambda v: str(Path(_tmpdir()) / "missing.json")),
    Bad("directory", lambda v: _tmpdir()),
    Bad("fifo", _fifo),
    Bad("dev_zero", lambda v: "/dev/zero"),
    Bad("big_file", _big_file),
    Bad("deep_nesting_file", _nested_file),
    Bad("nul", lambda v: v + "\x00x"),
    Bad("lone_surrogate", lambda v: v + "\udc80"),
    Bad("empty", lambda v: ""),
    Bad("int", lambda v: 3),
    Bad("none", lambda v: None),
]

FAMILIES: dict[str, list[Bad]] = {
    "farray": ARRAY_BADS,
    "iarray": ARRAY_BADS,
    "labels": LABEL_BADS,
    "barray": BARRAY_BADS,
    "text": TEXT_BADS,
    "choice": CHOICE_BADS,
    "texts": TEXTS_BADS,
    "nested_texts": NESTED_TEXTS_BADS,
    "mapping": MAPPING_BADS,
    "stream": STREAM_BADS,
    "seq": [Bad("none", lambda v: None), Bad("int", lambda v: 3), Bad("deep_nesting", lambda v: _deep_list())],
    "bool": BOOL_BADS,
    "pair": PAIR_BADS,
    "arrays": ARRAYS_BADS,
    "signals": SIGNALS_BADS,
    "signal_row": ROW_BADS,
    "path": PATH_BADS,
    **{k: _scalar_bads(k) for k in ("unit", "openunit", "pos", "nonneg", "float")},
    **{k: _int_bads(k) for k in ("count", "count0", "seed")},
}


# ----------------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    id: str
    entry: str
    arg: str
    bad: str


@functools.cache
def cases() -> dict[str, Case]:
    if not ENTRIES:
        _register()
    out: dict[str, Case] = {}
    for e in ENTRIES.values():
        n_arrays = sum(a.kind in ("farray", "iarray", "labels") for a in e.args.values())
        for arg, spec in e.args.items():
            bads = list(FAMILIES[spec.kind])
            if spec.kind in ("farray", "iarray", "labels") and n_arrays > 1 and not e.independent:
                bads.append(Bad("mismatched_length", lambda v: v[:-1]))
            for bad in bads:
                if bad.name == "none" and spec.optional:
                    continue
                cid = f"{e.name}:{arg}={bad.name}"
                out[cid] = Case(cid, e.name, arg, bad.name)
    return out


def _bad(case: Case) -> Bad:
    spec = ENTRIES[case.entry].args[case.arg]
    for b in FAMILIES[spec.kind]:
        if b.name == case.bad:
            return b
    assert case.bad == "mismatched_length"
    return Bad("mismatched_length", lambda v: v[:-1])


# ----------------------------------------------------------------------------------- documented results

# Values outside the "refuse" rule that an entry point documents as meaningful, with what it must
# return for them: case-id patterns (fnmatch) -> (the documented rule, check(result, rerun)),
# where rerun(value) calls the entry with another value of the same argument.


def _same_fit_as_canonical(result: Any, rerun: Callable[[Any], Any], valid: Any) -> bool:
    """The fit equals the one on the canonical labels, ``classes_`` aside (it keeps the labels'
    own type: strings, booleans, objects)."""

    def without_classes(d: Any) -> Any:
        if isinstance(d, dict):
            return {k: without_classes(v) for k, v in d.items() if k != "classes_"}
        if isinstance(d, list):
            return [without_classes(v) for v in d]
        return d

    return _same(without_classes(_digest(result)), without_classes(_digest(rerun(valid))))


def _probabilities(result: Any, _: Any, __: Any = None) -> bool:
    r = np.asarray(result, dtype=np.float64)
    return bool(np.all((r >= 0) & (r <= 1)))


def _empty_out(result: Any, _: Any, __: Any = None) -> bool:
    return np.asarray(result).size == 0


def _as_none(result: Any, rerun: Callable[[Any], Any], _: Any = None) -> bool:
    return _same(_digest(result), _digest(rerun(None)))


def _anything(result: Any, _: Any, __: Any = None) -> bool:
    return True


def _shape_kept(result: Any, rerun: Callable[[Any], Any], valid: Any) -> bool:
    """Element-wise results keep the shape of a 2-D input: the (r, 2) result holds, in order,
    the results of the first 2r values given flat."""
    r = np.asarray(result)
    flat = np.asarray(rerun(valid)).reshape(-1)
    return r.ndim == 2 and np.array_equal(r, flat[: r.size].reshape(r.shape))


def _per_column(result: Any, rerun: Callable[[Any], Any], valid: Any) -> bool:
    """A 2-D input gives one result per column: the result of that column given alone."""
    cols = _wrong_rank(valid)
    r = np.asarray(result)
    each = [float(rerun(cols[:, j].copy())) for j in range(cols.shape[1])]
    return r.shape == (cols.shape[1],) and _same([float(v) for v in r], each)


DOCUMENTED: dict[str, tuple[str, Callable[..., bool]]] = {
    # The estimators encode labels of any kind through classes_ (strings, booleans, objects).
    "*.fit:y=str": ("labels of any kind are classes", _anything),
    "ConformalSets.fit:labels=str": ("labels of any kind are classes", _anything),
    "*.fit:y=object": ("labels of any kind are classes", _same_fit_as_canonical),
    "*.fit:y=bool": ("labels of any kind are classes", _same_fit_as_canonical),
    "ConformalSets.fit:labels=object": ("labels of any kind are classes", _same_fit_as_canonical),
    # calibration/_common.py: scores are any real numbers; ±inf are the limits of the map.
    "*Scaling.predict*:X=?inf": ("±inf scores map to a probability in [0, 1]", _probabilities),
    "IsotonicCalibrator.predict*:X=?inf": ("±inf scores are clipped to the fitted range", _probabilities),
    "SegmentedCalibrator.predict:X=?inf": ("±inf scores map to a probability in [0, 1]", _probabilities),
    "IsotonicCalibrator():y_min=-inf": ("an infinite bound is no bound (as None)", _as_none),
    "IsotonicCalibrator():y_max=+inf": ("an infinite bound is no bound (as None)", _as_none),
    # signals.py: "-inf logits are masked tokens and contribute nothing".
    "token_signals:logits=-inf": ("-inf logits are masked tokens", _anything),
    "sequence_signals:signals=-inf": ("-inf logits are masked tokens", _anything),
    # signals.py topk_signals: "Entries that are NaN, -inf or at most sentinel are missing".
    "topk_s*:top_logprobs=nan": ("NaN entries are missing entries", _anything),
    "topk_s*:top_logprobs=-inf": ("-inf entries are missing entries", _anything),
    "topk_s*:chosen_logprob=nan": ("a NaN chosen logprob is missing", _anything),
    "topk_s*:chosen_logprob=-inf": ("a -inf chosen logprob is missing", _anything),
    "topk_summary_batch:*=nan_inside": ("NaN entries are missing entries", _anything),
    # serving.NativeDecider.decide reads its arrays as topk_summary does.
    "NativeDecider.decide:top_logprobs=nan": ("NaN entries are missing entries", _anything),
    "NativeDecider.decide:top_logprobs=-inf": ("-inf entries are missing entries", _anything),
    "NativeDecider.decide:chosen_logprob=nan": ("a NaN chosen logprob is missing", _anything),
    "NativeDecider.decide:chosen_logprob=-inf": ("a -inf chosen logprob is missing", _anything),
    # conformal: ±inf are ordered nonconformity scores (the issue's rule; only NaN is invalid).
    "ConformalPValues.p_value:score=?inf": ("±inf scores are ordered values", _probabilities),
    "conformal.clm_stop_index:set_scores=?inf": ("±inf set scores are ordered values", _anything),
    "conformal_quantile:scores=?inf": ("±inf calibration scores are ordered values", _anything),
    "conformal.clm_stop_index:lam=?inf": ("±inf thresholds are ordered values", _anything),
    # conformal p-values are element-wise: any 1-D or 2-D shape of test scores is kept
    # (prediction_set takes (n, n_candidates) by its docstring).
    "ConformalPValues.p_values:scores=wrong_rank": ("p-values keep the shape of the scores", _shape_kept),
    "ConformalPValues.prediction_set:scores=wrong_rank": ("(n, n_candidates) scores: a set per row", _shape_kept),
    "conformal.conformal_p_values:test_scores=wrong_rank": ("p-values keep the shape of the scores", _shape_kept),
    "conformal.conformal_p_values:test_scores=empty": ("an empty batch gives an empty result", _empty_out),
    # rcps_upper_bound: "losses of shape (n, m) gives one bound per column".
    "conformal.rcps_upper_bound:losses=wrong_rank": ("(n, m) losses give one bound per column", _per_column),
    # An empty batch of requests gives an empty batch of answers.
    "ConformalPValues.p_values:scores=empty": ("an empty batch gives an empty result", _empty_out),
    "ConformalPValues.prediction_set:scores=empty": ("an empty batch gives an empty result", _empty_out),
    "SelectiveThreshold.accept:confidence=empty": ("an empty batch gives an empty result", _empty_out),
    "ClaimFilter.keep:scores=empty": ("an empty batch gives an empty result", _empty_out),
    "conformal.set_sizes:sets=empty": ("an empty batch gives an empty result", _empty_out),
    # report.metrics_table: "0 resamples: none" (no interval, and says so).
    "report.metrics_table:n_resamples=0": ("0 resamples: no interval", lambda r, *_: r["ece_ci_method"] == ""),
    # SelectiveThreshold.accept: "a bool for a scalar".
    "SelectiveThreshold.accept:confidence=0-d": ("a scalar confidence gives one decision", _anything),
    # AdaptiveStopping.decide takes "a list of answers, a mapping answer -> count, or a sequence
    # of counts": [3, 4] are counts; and with ignore_empty (the default) a None answer is a
    # failed sample, not counted.
    "AdaptiveStopping.decide:answers_or_counts=int_items": (
        "a sequence of counts",
        lambda r, rerun, _: _same(_digest(r), _digest(rerun({"x": 3, "y": 4}))),
    ),
    "AdaptiveStopping.decide:answers_or_counts=none_item": (
        "a None answer is a failed sample, not counted",
        lambda r, rerun, valid: _same(_digest(r), _digest(rerun(valid[:-1]))),
    ),
    # formats.from_hf_scores passes the scores on as they are; DenseLogits.signals(invalid=...)
    # refuses or marks a NaN row.
    "formats.from_hf_scores:scores=nan_inside": (
        "NaN scores are passed on to DenseLogits.signals",
        lambda r, *_: bool(np.isnan(r.logits).any()),
    ),
}


def documented(cid: str) -> tuple[str, Callable[..., bool]] | None:
    import fnmatch

    for pattern, doc in DOCUMENTED.items():
        if fnmatch.fnmatchcase(cid, pattern):
            return doc
    return None


# ----------------------------------------------------------------------------------- one case


def _digest(x: Any, depth: int = 0) -> Any:
    """A comparable, JSON-able form of a result."""
    if depth > 50:
        return "<deep>"
    if x is None or isinstance(x, (bool, str)):
        return x
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x)
    if isinstance(x, np.ndarray):
        if x.dtype.kind in "fciub":
            return (
                [
                    "nd",
                    list(x.shape),
                    [_digest(v) for v in x.astype(np.float64 if x.dtype.kind != "c" else complex).reshape(-1).tolist()],
                ]
                if x.dtype.kind != "c"
                else ["nd", str(x)]
            )
        return ["nd", list(x.shape), [str(v) for v in x.reshape(-1).tolist()]]
    if isinstance(x, dict):
        return {str(k): _digest(v, depth + 1) for k, v in sorted(x.items(), key=lambda kv: str(kv[0]))}
    if isinstance(x, (list, tuple)):
        return [_digest(v, depth + 1) for v in x]
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return {f.name: _digest(getattr(x, f.name), depth + 1) for f in dataclasses.fields(x)}
    if hasattr(x, "__dict__"):
        return {
            k: _digest(v, depth + 1)
            for k, v in sorted(vars(x).items())
            if k.endswith("_") and not k.startswith("_") and not callable(v)
        }
    return type(x).__name__


def _same(a: Any, b: Any, rtol: float = 1e-9) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=rtol, abs_tol=rtol * 1e-3)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=rtol, abs_tol=rtol * 1e-3)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(u, v, rtol) for u, v in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k], rtol) for k in a)
    return a == b


SHAPE_CHANGING = {"mismatched_length", "empty", "wrong_rank", "0-d", "huge_view"}
LOW_PRECISION = {"float32", "float16"}


def _names(message: str, names: tuple[str, ...]) -> bool:
    return (
        any(re.search(rf"(?<![A-Za-z0-9_]){re.escape(n)}(?![A-Za-z0-9_])", message) for n in names if n != "*")
        or "*" in names
    )


def _valid_kwargs(e: Entry) -> dict[str, Any]:
    return {k: a.valid() for k, a in e.args.items()}


def run_case(cid: str) -> dict[str, Any]:
    """Runs one case in this process: {"id", "outcome": "clean"|"other", "detail"}."""
    import credo

    case = cases()[cid]
    e = ENTRIES[case.entry]
    spec = e.args[case.arg]
    bad = _bad(case)
    kwargs = _valid_kwargs(e)
    valid = kwargs[case.arg]
    if isinstance(valid, np.ndarray) and not bad.applies(valid):
        return {"id": cid, "outcome": "clean", "detail": "not applicable to this array"}
    try:
        value = bad.make(valid)
    except Exception as exc:  # a bad value that cannot be built for this argument
        return {"id": cid, "outcome": "clean", "detail": f"not applicable ({type(exc).__name__})"}
    names = (case.arg, *spec.aliases)
    if case.bad in SHAPE_CHANGING and not e.independent:
        # A length mismatch may be reported from either side ("y: has 40 entries but there are
        # 20 samples" for a reshaped X).
        names += tuple(k for k, a in e.args.items() if a.kind in ("farray", "iarray", "labels"))
    try:
        result = e.run(**{**kwargs, case.arg: value})
    except credo.CredoError as exc:
        msg = str(exc)
        if _names(msg, names) or (spec.kind == "path" and isinstance(value, str) and value and value in msg):
            return {"id": cid, "outcome": "clean", "detail": f"{type(exc).__name__}: {msg[:200]}"}
        return {"id": cid, "outcome": "other", "detail": f"{type(exc).__name__} not naming {case.arg!r}: {msg[:200]}"}
    except RecursionError:
        return {"id": cid, "outcome": "other", "detail": "RecursionError"}
    except BaseException as exc:
        return {
            "id": cid,
            "outcome": "other",
            "detail": f"{type(exc).__module__}.{type(exc).__name__}: {str(exc)[:200]}",
        }
    if bad.lenient:
        return {"id": cid, "outcome": "clean", "detail": "honoured (documented: may be honoured)"}
    doc = documented(cid)
    if doc is not None:
        reason, check = doc
        if check(result, lambda value: e.run(**{**kwargs, case.arg: value}), valid):
            return {"id": cid, "outcome": "clean", "detail": f"documented: {reason}"}
        return {"id": cid, "outcome": "other", "detail": f"returned, but not as documented ({reason})"}
    if bad.ref is None:
        return {"id": cid, "outcome": "other", "detail": f"accepted, returned {type(result).__name__}"}
    try:
        expected = e.run(**{**kwargs, case.arg: bad.ref(valid)})
    except credo.CredoError as exc:
        return {"id": cid, "outcome": "other", "detail": f"accepted, but the canonical value raises {exc}"[:300]}
    # float32/float16 inputs may be computed at their own precision (documented per function).
    if _same(_digest(result), _digest(expected), 1e-3 if case.bad in LOW_PRECISION else 1e-9):
        return {"id": cid, "outcome": "clean", "detail": "same result as the canonical value"}
    return {"id": cid, "outcome": "other", "detail": "returned a different result than the canonical value"}


# ----------------------------------------------------------------------------------- children


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "python"), str(ROOT), env.get("PYTHONPATH")]))
    env.setdefault("RAYON_NUM_THREADS", "2")
    return env


def _worker() -> None:
    """Child process: reads case ids (JSON list) on stdin, writes one JSON line per case."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))
    sys.setrecursionlimit(3000)
    ids = json.loads(sys.stdin.read())
    import credo  # noqa: F401 - imported before the first case, so its time is not a case's

    if any(c.endswith("=big_file") for c in ids):
        _big_file(None)  # writing 80 MiB is set-up, not the case's time

    out = sys.stdout
    for cid in ids:
        out.write(json.dumps({"start": cid}) + "\n")
        out.flush()
        try:
            res = run_case(cid)
        except BaseException as exc:
            res = {"id": cid, "outcome": "other", "detail": f"harness: {exc!r}"[:300]}
        out.write(json.dumps(res) + "\n")
        out.flush()
    os._exit(0)  # threads a case left behind must not keep the child alive


def _run_group(ids: list[str]) -> Iterator[dict[str, Any]]:
    """Runs ids in one child; after a crash or hang, goes on in a fresh child from the next case."""
    pending = list(ids)
    while pending:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.robustness._matrix", "--worker"],
            cwd=ROOT,
            env=_child_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
        )
        assert proc.stdin and proc.stdout and proc.stderr
        proc.stdin.write(json.dumps(pending))
        proc.stdin.close()
        lines: queue.Queue[str | None] = queue.Queue()
        err: list[str] = []

        def pump(stream: Any, sink: Callable[[str | None], None]) -> None:
            for line in stream:
                sink(line)
            sink(None)

        pumps = [
            threading.Thread(target=pump, args=(proc.stdout, lines.put), daemon=True),
            threading.Thread(target=pump, args=(proc.stderr, lambda s, _err=err: _err.append(s or "")), daemon=True),
        ]
        for t in pumps:
            t.start()
        current: str | None = None
        deadline = time.monotonic() + 60  # the child's start-up
        done: set[str] = set()
        broke = None
        while True:
            try:
                line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                broke = f"timeout after {CASE_TIMEOUT_S:.0f} s (hang or super-linear time)"
                proc.kill()
                break
            if line is None:
                proc.wait()
                if current is not None and current not in done:
                    tail = "".join(err)[-300:].strip().replace("\n", " | ")
                    broke = f"child died (exit {proc.returncode}): {tail}"
                break
            msg = json.loads(line)
            if "start" in msg:
                current = msg["start"]
                deadline = time.monotonic() + CASE_TIMEOUT_S
                continue
            done.add(msg["id"])
            yield msg
        proc.wait()
        for t in pumps:  # the pipes reach end-of-file once the child is gone
            t.join(5)
        proc.stdout.close()
        proc.stderr.close()
        if broke is not None and current is not None:
            yield {"id": current, "outcome": "other", "detail": broke}
            done.add(current)
        pending = [c for c in pending if c not in done]
        if broke is None and pending:  # the child ended early without a case running
            for c in pending:
                yield {"id": c, "outcome": "other", "detail": "child ended before the case ran"}
            return


def run_matrix(
    ids: list[str] | None = None, *, jobs: int = 2, group_size: int = GROUP_SIZE
) -> dict[str, dict[str, Any]]:
    """Runs the cases (all by default) in child processes, ``jobs`` at a time."""
    from concurrent.futures import ThreadPoolExecutor

    ids = list(cases()) if ids is None else ids
    groups = [ids[i : i + group_size] for i in range(0, len(ids), group_size)]
    results: dict[str, dict[str, Any]] = {}
    with ThreadPoolExecutor(jobs) as pool:
        for out in pool.map(lambda g: list(_run_group(g)), groups):
            for r in out:
                results[r["id"]] = r
    return results


def main(argv: list[str]) -> int:
    if argv[:1] == ["--worker"]:
        _worker()
        return 0
    t0 = time.monotonic()
    only = [a for a in argv if not a.startswith("-")]
    ids = [c for c in cases() if not only or any(c.startswith(o) for o in only)]
    res = run_matrix(ids)
    other = sorted(r["id"] for r in res.values() if r["outcome"] != "clean")
    print(f"entry points: {len(ENTRIES)}  tried: {len(res)}  clean: {len(res) - len(other)}  other: {len(other)}")
    print(f"wall time: {time.monotonic() - t0:.0f} s")
    if "--json" in argv:
        print(json.dumps(res, indent=0, sort_keys=True))
    else:
        for cid in other:
            print(f"  {cid}  ->  {res[cid]['detail']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
