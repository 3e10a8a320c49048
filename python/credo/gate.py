"""Calibration gate for CI: does a candidate model's scored output regress against a baseline?

:func:`compare` measures ECE, Brier score, AUROC and the selective risk at a stated coverage on
the baseline and the candidate, overall and per segment, and tests each difference with a
**paired bootstrap**: resample r draws one index set (credo's Rust bootstrap, seeded per resample)
and evaluates both models on it, so the noise shared by the two (which examples were drawn) cancels
in the difference. For each comparison the one-sided null hypothesis is "the candidate is worse
by at most ``tolerance``"; its p-value is (1 + #{resamples with Δ* ≤ tolerance}) / (1 + R), where
Δ* is the candidate's metric minus the baseline's, signed so that positive means worse. The
p-values of all comparisons (metrics × segments) are adjusted by Holm's step-down method, which
controls the family-wise error rate at ``alpha``: the gate fails only when some adjusted p-value
is ≤ ``alpha``.

Rows are paired by position, or by an id column in the CLI. The two files may hold different
labels per row (e.g. two disjoint samples): each model's metrics use its own labels. The smallest
p-value R resamples can give is 1/(R + 1), so R is raised to at least 4 × comparisons / alpha.

:func:`to_junit` and :func:`to_markdown` render the result for CI systems (JUnit XML test
reports; a Markdown table for a job summary such as ``$GITHUB_STEP_SUMMARY``).
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from credo.exceptions import InvalidArgumentError

# name -> (description, +1 when larger is worse / -1 when larger is better)
METRICS: dict[str, tuple[str, int]] = {
    "ece": ("expected calibration error (top-label, equal-width bins)", +1),
    "brier": ("Brier score of the top-label confidence", +1),
    "auroc": ("AUROC of confidence for correctness", -1),
    "selective_risk": ("error rate among the most confident answers at the stated coverage", +1),
}


@dataclass(frozen=True)
class Comparison:
    """One metric on one segment."""

    metric: str
    segment: str
    n: int
    baseline: float
    candidate: float
    worse_by: float  # candidate - baseline, signed so that positive = worse
    ci_low: float  # two-sided (1 - alpha) percentile interval of worse_by
    ci_high: float
    p_value: float
    p_adjusted: float = math.nan
    regression: bool = False


@dataclass(frozen=True)
class GateResult:
    comparisons: list[Comparison]
    alpha: float
    n_resamples: int
    seed: int
    coverage: float
    n_bins: int
    tolerance: dict[str, float]
    test: str = field(default="")

    @property
    def failed(self) -> bool:
        return any(c.regression for c in self.comparisons)

    @property
    def regressions(self) -> list[Comparison]:
        return [c for c in self.comparisons if c.regression]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["failed"] = self.failed
        return out


def describe_test(alpha: float, n_resamples: int, seed: int, n_comparisons: int) -> str:
    return (
        f"paired bootstrap over the same examples ({n_resamples} resamples, seed {seed}); one-sided test per "
        f"comparison of H0: candidate worse than baseline by at most the tolerance; Holm step-down adjustment "
        f"over {n_comparisons} comparisons (metrics x segments), family-wise error rate alpha = {alpha:g}"
    )


def _metric_fns(n_bins: int, coverage: float) -> dict[str, tuple[Callable[..., float], dict[str, Any]]]:
    from credo import metrics

    def selective_risk(y: Any, s: Any) -> float:
        return float(metrics.selective_risk(y, s, coverage=coverage).risk)

    return {
        "ece": (metrics.ece, {"n_bins": n_bins}),
        "brier": (metrics.brier_score, {}),
        "auroc": (metrics.auroc, {}),
        "selective_risk": (selective_risk, {}),
    }


def _paired(
    fn: Callable[..., float],
    kw: dict[str, Any],
    base: tuple[np.ndarray, np.ndarray],
    cand: tuple[np.ndarray, np.ndarray],
    n_resamples: int,
    seed: int,
) -> tuple[float, float, np.ndarray]:
    """(baseline estimate, candidate estimate, candidate − baseline per resample), both models
    evaluated on the same index set in each resample (credo's bootstrap draws resample r from its
    own stream of ``seed``, whichever path evaluates the metric)."""
    from credo import metrics

    b = metrics.bootstrap(fn, base[0], base[1], n_resamples=n_resamples, seed=seed, **kw)
    c = metrics.bootstrap(fn, cand[0], cand[1], n_resamples=n_resamples, seed=seed, **kw)
    return b.estimate, c.estimate, np.asarray(c.distribution) - np.asarray(b.distribution)


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error control, any dependence)."""
    p = np.asarray(p_values, dtype=np.float64)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted


def compare(
    y_baseline: Any,
    conf_baseline: Any,
    y_candidate: Any,
    conf_candidate: Any,
    *,
    segments: Any = None,
    metrics: Sequence[str] = tuple(METRICS),
    coverage: float = 0.8,
    n_bins: int = 15,
    n_resamples: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
    tolerance: dict[str, float] | None = None,
    min_segment: int = 100,
) -> GateResult:
    """Compares candidate with baseline confidences (1-D, in [0, 1]) against 0/1 correctness,
    overall and per segment (segments with at least ``min_segment`` rows). See the module
    docstring for the test."""
    yb, cb = np.asarray(y_baseline, dtype=np.float64), np.asarray(conf_baseline, dtype=np.float64)
    yc, cc = np.asarray(y_candidate, dtype=np.float64), np.asarray(conf_candidate, dtype=np.float64)
    n = len(cb)
    if not (len(yb) == len(yc) == len(cc) == n) or n == 0:
        raise InvalidArgumentError(
            f"candidate: {len(cc)} rows, baseline {n}: the gate pairs rows, both need the same number"
        )
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise InvalidArgumentError(f"metrics: unknown {unknown}; choose from {list(METRICS)}")
    if not 0 < alpha < 1:
        raise InvalidArgumentError(f"alpha: must lie in (0, 1), got {alpha}")
    if not 0 < coverage <= 1:
        raise InvalidArgumentError(f"coverage: must lie in (0, 1], got {coverage}")
    tol = {m: float((tolerance or {}).get(m, 0.0)) for m in metrics}
    groups: list[tuple[str, np.ndarray]] = [("(all)", np.arange(n))]
    if segments is not None:
        seg = np.asarray(segments, dtype=object)
        for s in sorted(set(seg.tolist()), key=str):
            idx = np.flatnonzero(seg == s)
            if len(idx) >= min_segment:
                groups.append((str(s), idx))
    # The smallest bootstrap p-value is 1/(R+1); Holm multiplies it by the number of comparisons,
    # so R must exceed that number / alpha for any regression to be detectable: raised if needed.
    n_resamples = max(int(n_resamples), math.ceil(4 * len(metrics) * len(groups) / alpha))
    fns = _metric_fns(n_bins, coverage)
    rows: list[Comparison] = []
    for name in metrics:
        fn, kw = fns[name]
        sign = METRICS[name][1]
        for g, (seg_name, idx) in enumerate(groups):
            try:
                b, c, delta = _paired(fn, kw, (yb[idx], cb[idx]), (yc[idx], cc[idx]), n_resamples, seed + g)
            except ValueError:  # undefined here (e.g. AUROC of a segment with one outcome)
                continue
            worse = sign * delta
            worse = worse[np.isfinite(worse)]
            if worse.size == 0:
                continue
            lo, hi = np.quantile(worse, [alpha / 2, 1 - alpha / 2])
            p = (1 + int(np.sum(worse <= tol[name]))) / (1 + worse.size)
            rows.append(Comparison(name, seg_name, len(idx), b, c, sign * (c - b), float(lo), float(hi), p))
    adjusted = holm([r.p_value for r in rows]) if rows else np.array([])
    rows = [
        Comparison(**{**asdict(r), "p_adjusted": float(a), "regression": bool(a <= alpha)})
        for r, a in zip(rows, adjusted, strict=True)
    ]
    return GateResult(
        rows, alpha, n_resamples, seed, coverage, n_bins, tol, describe_test(alpha, n_resamples, seed, len(rows))
    )


def _fmt(x: float) -> str:
    return "nan" if not math.isfinite(x) else f"{x:.4f}"


def _verdict(c: Comparison) -> str:
    return "REGRESSION" if c.regression else "ok"


def to_markdown(result: GateResult, *, title: str = "credo calibration gate") -> str:
    status = "❌ failed" if result.failed else "✅ passed"
    lines = [
        f"## {title}: {status}",
        "",
        f"**Test:** {result.test}. Selective risk at coverage {result.coverage:g}; ECE with {result.n_bins} bins.",
        "",
        "| metric | segment | n | baseline | candidate | worse by | "
        f"{100 * (1 - result.alpha):g} % CI | p | p (Holm) | verdict |",
        "|---|---|---:|---:|---:|---:|---|---:|---:|---|",
    ]
    for c in result.comparisons:
        lines.append(
            f"| {c.metric} | {_md(c.segment)} | {c.n} | {_fmt(c.baseline)} | {_fmt(c.candidate)} | "
            f"{c.worse_by:+.4f} | [{c.ci_low:+.4f}, {c.ci_high:+.4f}] | {c.p_value:.4f} | {c.p_adjusted:.4f} | "
            f"{'**REGRESSION**' if c.regression else 'ok'} |"
        )
    lines += [
        "",
        "'worse by' is candidate − baseline, signed so that positive means worse (AUROC: baseline − candidate).",
    ]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_junit(result: GateResult, *, suite: str = "credo gate") -> str:
    """JUnit XML: one test case per comparison, a <failure> for each significant regression."""
    q = html.escape
    cases = []
    for c in result.comparisons:
        summary = (
            f"{c.metric} on {c.segment}: baseline {_fmt(c.baseline)}, candidate {_fmt(c.candidate)}, "
            f"worse by {c.worse_by:+.4f} (CI [{c.ci_low:+.4f}, {c.ci_high:+.4f}]), p {c.p_value:.4g}, "
            f"Holm-adjusted p {c.p_adjusted:.4g}, alpha {result.alpha:g}"
        )
        body = f'<failure message="{q(summary)}" type="regression">{q(result.test)}</failure>' if c.regression else ""
        cases.append(
            f'  <testcase classname="{q("credo.gate." + c.segment)}" name="{q(c.metric)}" time="0">'
            f"{body}<system-out>{q(summary)}</system-out></testcase>"
        )
    failures = len(result.regressions)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<testsuites name="{q(suite)}" tests="{len(cases)}" failures="{failures}">\n'
        f'<testsuite name="{q(suite)}" tests="{len(cases)}" failures="{failures}" errors="0" skipped="0">\n'
        f'  <properties><property name="test" value="{q(result.test)}"/></properties>\n'
        + "\n".join(cases)
        + "\n</testsuite>\n</testsuites>\n"
    )
