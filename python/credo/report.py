"""A self-contained HTML calibration report: ``credo.report.html(path, y_true, y_prob, ...)``.

One file, no external resources: the plots are PNGs embedded as base64 ``data:`` URIs. It holds
the provenance of the data, optional narrative sections (the demo's findings, decisions and
guarantee, as :class:`Section` objects), a metrics table (with bootstrap intervals) for the raw
predictions and for each calibrated version, one reliability diagram per version (a grid of
small multiples on a logit confidence axis, equal-mass bins sized to the sample), a
risk–coverage plot, and a per-segment table. matplotlib is imported when a report is written,
never on import.
"""

from __future__ import annotations

import base64
import datetime as _dt
import functools
import html as _html
import io
import math
import os
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from credo import _artifact
from credo import metrics as _m
from credo._validate import check_positive_int
from credo.exceptions import InvalidArgumentError

__all__ = ["Section", "html", "metrics_table", "plot_bins"]


def _top(y_true: Any, y_prob: Any) -> tuple[np.ndarray, np.ndarray]:
    """(confidence, correctness): the top-label view of [n, K] input, 1-D input as it is."""
    return _m._binary_view(y_true, y_prob, "top_label")


def _safe(fn: Any, *args: Any, **kw: Any) -> float:
    try:
        return float(fn(*args, **kw))
    except ValueError:  # e.g. AUROC with one class in a segment
        return float("nan")


def metrics_table(
    y_true: Any,
    y_prob: Any,
    *,
    n_bins: int = 15,
    n_resamples: int = 200,
    seed: int = 0,
    sample_weight: Any = None,
) -> dict[str, Any]:
    """The report's metrics for one set of predictions (top-label view for ``[n, K]`` input).

    Numbers, plus the ECE interval: ``ece_low`` and ``ece_high`` from a bias-corrected bootstrap
    (``metrics.bootstrap(method="bias_corrected")``: BCa, or the basic interval where BCa
    excludes the estimate), ``ece_ci_method`` naming which ('' without resamples) and
    ``ece_ci_contains_estimate`` whether the interval contains the ECE."""
    n_bins = check_positive_int(n_bins, "n_bins")
    n_resamples = check_positive_int(n_resamples, "n_resamples", minimum=0)  # 0: no interval
    conf, correct = _top(y_true, y_prob)
    w = sample_weight
    row = {
        "n": float(len(conf)),
        "accuracy": float(np.average(correct, weights=w)),
        "ece": _m.ece(correct, conf, n_bins=n_bins, sample_weight=w),
        "mce": _m.mce(correct, conf, n_bins=n_bins, sample_weight=w),
        "smooth_ece": _m.smooth_ece(correct, conf, sample_weight=w),
        "brier": _m.brier_score(y_true, y_prob, sample_weight=w),
        "nll": _m.nll(y_true, y_prob, sample_weight=w),
        "auroc": _safe(_m.auroc, correct, conf, sample_weight=w),
        "aurc": _m.aurc(correct, conf, sample_weight=w),
        "eaurc": _m.eaurc(correct, conf, sample_weight=w),
        "augrc": _m.augrc(correct, conf, sample_weight=w),
    }
    out: dict[str, Any] = dict(row)
    if n_resamples:
        ci = _m.bootstrap(
            _m.ece,
            correct,
            conf,
            n_bins=n_bins,
            n_resamples=n_resamples,
            seed=seed,
            sample_weight=w,
            method="bias_corrected",
        )
        out.update(ece_low=ci.low, ece_high=ci.high, ece_ci_method=ci.method)
        out["ece_ci_contains_estimate"] = ci.contains_estimate
    else:
        out.update(ece_low=float("nan"), ece_high=float("nan"), ece_ci_method="", ece_ci_contains_estimate=False)
    return out


#: How the report names each bootstrap interval method.
_CI_METHOD_NAMES = {"bca": "BCa", "basic": "basic", "percentile": "percentile", "": ""}


def _ci_cell(r: dict[str, Any]) -> str:
    """The ECE interval cell: "[low, high] BCa", with a dagger when it excludes the estimate."""
    if not r["ece_ci_method"]:
        return "–"
    mark = "" if r["ece_ci_contains_estimate"] else " \N{DAGGER}"
    return f"[{_fmt(r['ece_low'])}, {_fmt(r['ece_high'])}] {_CI_METHOD_NAMES[r['ece_ci_method']]}{mark}"


@dataclass(frozen=True)
class Section:
    """A titled block of a report: paragraphs of plain text, an optional table, term
    explanations (term, meaning) and notes under the table. The same object renders as HTML
    (in :func:`html`) and as plain text (:meth:`text`, as ``credo demo`` prints it)."""

    title: str
    paragraphs: tuple[str, ...] = ()
    header: tuple[str, ...] = ()
    rows: tuple[tuple[Any, ...], ...] = ()
    terms: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()

    def text(self, width: int = 100) -> str:
        """Plain-text rendering: the title, wrapped paragraphs, the table, the terms, the notes."""
        from credo.cli._common import table  # pure Python; click is not needed here

        fill = functools.partial(
            textwrap.fill, width=width, initial_indent="  ", subsequent_indent="  ", break_on_hyphens=False
        )
        out = [self.title, "-" * len(self.title)]
        out += [fill(p) + "\n" for p in self.paragraphs]
        if self.header:
            out.append(textwrap.indent(table(list(self.header), [list(r) for r in self.rows]), "  ") + "\n")
        for term, meaning in self.terms:
            out.append(
                textwrap.fill(
                    f"{term}: {meaning}",
                    width=width,
                    initial_indent="  - ",
                    subsequent_indent="    ",
                    break_on_hyphens=False,
                )
            )
        if self.terms:
            out.append("")
        out += [fill(n) + "\n" for n in self.notes]
        return "\n".join(out).rstrip() + "\n"

    def html(self) -> str:
        parts = [f"<h2>{_html.escape(self.title)}</h2>"]
        parts += [f"<p>{_html.escape(p)}</p>" for p in self.paragraphs]
        if self.header:
            parts.append(_table(list(self.header), [list(r) for r in self.rows]))
        if self.terms:
            items = "".join(f"<dt>{_html.escape(t)}</dt><dd>{_html.escape(m)}</dd>" for t, m in self.terms)
            parts.append(f"<dl>{items}</dl>")
        parts += [f"<p class='note'>{_html.escape(n)}</p>" for n in self.notes]
        return "\n".join(parts)


def plot_bins(n: int) -> int:
    """Equal-mass bins for a reliability diagram of ``n`` answers: about 40 answers a bin (so
    a bin's accuracy is known to about ±0.1 at worst), at least 3 and at most 15 bins."""
    n = check_positive_int(n, "n")
    return max(3, min(15, n // 40))


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _logit_limits(confs: list[np.ndarray]) -> tuple[float, float]:
    """x-limits of the shared logit axis: from a round value below the 1st percentile of all
    confidences to a round value above the largest (capped where the plot clips)."""
    from credo.plots import LOGIT_EPS

    allc = np.clip(np.concatenate(confs), LOGIT_EPS, 1 - LOGIT_EPS)
    q01, top = float(np.quantile(allc, 0.01)), float(allc.max())
    lo = max((v for v in (0.5, 0.2, 0.1, 0.05, 0.01, 1e-3, 1e-4, LOGIT_EPS) if v <= q01), default=LOGIT_EPS)
    nines = next((k for k in range(1, 7) if 1 - 10.0**-k >= top), 6)
    return lo, 1 - 10.0**-nines


def _logit_edges(lo: float, hi: float, n: int) -> np.ndarray:
    z = np.linspace(math.log(lo / (1 - lo)), math.log(hi / (1 - hi)), n + 1)
    return 1 / (1 + np.exp(-z))


def _confidence_ticks(ax: Any, lo: float, hi: float) -> None:
    """Ticks at 0.5, 0.9, 0.99, … written as plain decimals (not matplotlib's 1 − 10⁻ᵏ)."""
    ticks = [t for t in (0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, 0.99999, 0.999999) if lo <= t <= hi]
    ax.set_xticks(ticks, [f"{t:g}" if t < 0.9999 else f"1-1e-{round(-math.log10(1 - t))}" for t in ticks])
    ax.xaxis.set_minor_locator(__import__("matplotlib.ticker", fromlist=["NullLocator"]).NullLocator())
    ax.set_xlim(lo, hi)


def _reliability_grid(y_true: Any, versions: Mapping[str, Any], eces: Mapping[str, float]) -> str:
    """One reliability diagram per version (small multiples, shared axes), each with a strip of
    per-bin counts below and 95 % intervals on the bin accuracies."""
    from matplotlib.figure import Figure

    from credo.plots import ReliabilityDisplay, wilson_interval

    tops = {name: _top(y_true, p) for name, p in versions.items()}
    n = len(next(iter(tops.values()))[0])
    bins = plot_bins(n)
    ncols = min(3, len(tops))
    nrows = math.ceil(len(tops) / ncols)
    fig = Figure(figsize=(4.3 * ncols, 4.6 * nrows), layout="constrained")
    grid = fig.add_gridspec(2 * nrows, ncols, height_ratios=[4, 1] * nrows)
    lo, hi = _logit_limits([c for c, _ in tops.values()])
    edges = _logit_edges(lo, hi, 30)
    first = None
    floor = 1.0
    for i, (name, (conf, correct)) in enumerate(tops.items()):
        r, c = divmod(i, ncols)
        ax = fig.add_subplot(grid[2 * r, c], sharex=first, sharey=first)
        cax = fig.add_subplot(grid[2 * r + 1, c], sharex=ax, sharey=None if first is None else fig.axes[1])
        first = first or ax
        d = ReliabilityDisplay.from_predictions(
            correct,
            conf,
            n_bins=bins,
            strategy="quantile",
            name=name,
            ax=ax,
            show_counts=False,
            scale="logit",
            intervals=True,
            legend=False,
            color=f"C{i}",
        )
        floor = min(floor, float(np.min(wilson_interval(d.prob_true, d.counts)[0])))
        # Where the answers sit: a histogram of the confidences on the same axis (log counts).
        cax.hist(np.clip(conf, edges[0], edges[-1]), bins=edges.tolist(), color=f"C{i}", alpha=0.6)
        cax.set_yscale("log")
        cax.set_ylabel("answers", fontsize="small")
        ax.set_title(f"{name}\nECE {eces[name]:.4f}", fontsize="medium")
        ax.tick_params(labelbottom=False)
        ax.set_xlabel("")
        cax.set_xlabel("stated confidence (logit scale)", fontsize="small")
        _confidence_ticks(cax, lo, hi)
        cax.tick_params(labelsize="small")
        if c:
            ax.set_ylabel("")
            cax.set_ylabel("")
    if first is not None:
        first.set_ylim(max(0.0, math.floor(10 * min(floor, lo)) / 10), 1.02)
    fig.suptitle(
        f"Reliability: observed accuracy against stated confidence ({n} answers; {bins} equal-mass bins of "
        f"about {n // bins}, bars: 95 % interval; dotted: perfectly calibrated; ECE as in the table)",
        fontsize="medium",
    )
    return _png(fig)


def _risk_coverage(y_true: Any, versions: Mapping[str, Any]) -> str:
    from matplotlib.figure import Figure

    from credo.plots import RiskCoverageDisplay

    fig = Figure(figsize=(8.5, 4.2), layout="constrained")
    ax = fig.add_subplot()
    for i, (name, y_prob) in enumerate(versions.items()):
        conf, correct = _top(y_true, y_prob)
        RiskCoverageDisplay.from_predictions(correct, conf, name=name, ax=ax, legend=False, color=f"C{i}")
    ax.set_title("Risk–coverage: answer the most confident first; error rate among the answered")
    ax.set_xlabel("coverage (fraction of requests answered)")
    ax.set_ylabel("selective risk (error rate among answered)")
    ax.grid(alpha=0.3)
    fig.legend(loc="outside right center", fontsize="small", title="lower AURC is better")
    return _png(fig)


def _fmt(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        return "–" if not np.isfinite(v) else f"{v:.4f}"
    return _html.escape(str(v))


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{_html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1250px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}
th,td{border:1px solid #ccc;padding:0.25em 0.6em;text-align:right}
th{background:#f3f3f3} td:first-child,th:first-child{text-align:left}
img{max-width:100%;display:block;margin:1em 0} .note{color:#555;font-size:0.9em}
p{line-height:1.45;max-width:60em} dt{font-weight:600;margin-top:0.4em} dd{margin-left:1.5em}
"""


def html(
    path: str | os.PathLike[str],
    y_true: Any,
    y_prob: Any,
    *,
    calibrated: Mapping[str, Any] | None = None,
    segments: Any = None,
    provenance: Mapping[str, Any] | None = None,
    sections: Sequence[Section] = (),
    title: str = "credo calibration report",
    n_bins: int = 15,
    n_resamples: int = 200,
    seed: int = 0,
    sample_weight: Any = None,
) -> Path:
    """Writes the report to ``path`` atomically and returns the path.

    Parameters
    ----------
    y_true, y_prob : labels and ``[n, K]`` probabilities, or correctness and ``[n]`` confidences.
    calibrated : name → calibrated predictions of the same shape, shown next to the raw ones.
    segments : optional per-sample segment labels (domain, workflow, model, subject …).
    provenance : where the data came from (model, dataset, commit, date …), shown verbatim;
        the report adds the sample count, a hash of the data, credo's version and the time.
    sections : narrative :class:`Section` blocks shown after the provenance (findings,
        decisions, guarantees: what ``credo demo`` prints).
    n_bins, n_resamples, seed : ECE bins and its bootstrap interval (0 resamples: none).
    """
    n_bins = check_positive_int(n_bins, "n_bins")
    versions: dict[str, Any] = {"raw": y_prob}
    for name, pred in (calibrated or {}).items():
        if str(name) in versions:
            raise InvalidArgumentError(f"calibrated: name {name!r} is used twice")
        if np.shape(pred) != np.shape(y_prob):
            raise InvalidArgumentError(f"calibrated: {name!r} has shape {np.shape(pred)}, expected {np.shape(y_prob)}")
        versions[str(name)] = pred
    rows = {
        name: metrics_table(y_true, p, n_bins=n_bins, n_resamples=n_resamples, seed=seed, sample_weight=sample_weight)
        for name, p in versions.items()
    }
    rel_png = _reliability_grid(y_true, versions, {k: r["ece"] for k, r in rows.items()})
    rc_png = _risk_coverage(y_true, versions)

    from credo import __version__

    prov = dict(provenance or {})
    prov.setdefault("samples", len(np.asarray(y_true)))
    if np.ndim(y_prob) == 2:
        prov.setdefault("classes", np.shape(y_prob)[1])
    prov["data hash"] = _artifact.data_hash(np.asarray(y_true), np.asarray(y_prob))
    prov["credo version"] = __version__
    prov["generated (UTC)"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")

    header = [
        "predictions",
        "n",
        "accuracy",
        f"ECE ({n_bins} bins)",
        "ECE 95% CI",
        "MCE",
        "smECE",
        "Brier",
        "NLL",
        "AUROC",
        "AURC",
        "E-AURC",
        "AUGRC",
    ]
    metric_rows = [
        [
            name,
            int(r["n"]),
            r["accuracy"],
            r["ece"],
            _ci_cell(r),
            r["mce"],
            r["smooth_ece"],
            r["brier"],
            r["nll"],
            r["auroc"],
            r["aurc"],
            r["eaurc"],
            r["augrc"],
        ]
        for name, r in rows.items()
    ]
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{_html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_html.escape(title)}</h1>",
        "<h2>Provenance</h2>",
        _table(["field", "value"], [[k, v] for k, v in prov.items()]),
        *(sec.html() for sec in sections),
        "<h2>Metrics</h2>",
        _table(header, metric_rows),
        "<p class='note'>Top-label view: confidence = max probability, outcome = argmax is correct. "
        "ECE uses credo's bins [i/B, (i+1)/B) with p = 1 in the last bin; its interval is a seeded "
        "bias-corrected bootstrap, named in its cell: BCa (bias-corrected and accelerated) or, where BCa "
        "excludes the ECE, the basic interval (the percentile interval reflected about the ECE). "
        "\N{DAGGER} marks an interval that excludes the ECE: nearly every resample's ECE lies above it "
        "(ECE near 0 is biased upwards), so the interval for the true ECE lies below it. "
        "AUROC, AURC, E-AURC and AUGRC rank errors by confidence (ties grouped).</p>",
        "<h2>Plots</h2>",
        "<p>Each panel bins the answers by stated confidence (equal numbers of answers per bin) and "
        "plots the share that was right against the mean confidence: a calibrated model sits on the "
        "dotted diagonal. The confidence axis is on a logit scale, so 0.9, 0.99 and 0.999 are evenly "
        "spaced: that is where over-confident models put most of their answers; confidences closer to 1 "
        "than 1e-6 are drawn at the right edge. Bars are 95 % intervals for each bin's accuracy. The strip "
        "below each panel shows where the answers sit: a histogram of their confidences (log counts).</p>",
        f"<img alt='reliability diagrams, one per version' src='data:image/png;base64,{rel_png}'>",
        f"<img alt='risk-coverage curves' src='data:image/png;base64,{rc_png}'>",
    ]
    if segments is not None:
        parts.append("<h2>Per segment</h2>")
        seg_header = ["segment", "count"]
        columns: list[np.ndarray] = []
        table = None
        for name, p in versions.items():
            conf, correct = _top(y_true, p)
            t = _m.by_segment(
                {"accuracy": _accuracy, "ece": functools.partial(_m.ece, n_bins=n_bins), "auroc": _m.auroc},
                correct,
                conf,
                segments,
                sample_weight=sample_weight,
                as_frame=False,
            )
            table = t
            if name == "raw":
                columns.append(t["accuracy"])
                seg_header.append("accuracy")
            columns += [t["ece"], t["auroc"]]
            seg_header += [f"ECE {name}", f"AUROC {name}"]
        assert table is not None
        seg_rows = [
            [table["segment"][i], int(table["count"][i])] + [c[i] for c in columns]
            for i in range(len(table["segment"]))
        ]
        parts.append(_table(seg_header, seg_rows))
    parts.append("</body></html>\n")
    return _artifact.write_text_atomic(path, "\n".join(parts))


def _accuracy(y_true: Any, y_prob: Any, sample_weight: Any = None) -> float:
    return float(np.average(np.asarray(y_true, dtype=float), weights=sample_weight))
