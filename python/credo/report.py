"""A self-contained HTML calibration report: ``credo.report.html(path, y_true, y_prob, ...)``.

One file, no external resources: the plots are PNGs embedded as base64 ``data:`` URIs. It holds
the provenance of the data, a metrics table (with bootstrap intervals) for the raw predictions
and for each calibrated version, reliability and risk–coverage plots overlaying them, and a
per-segment table. matplotlib is imported when a report is written, never on import.
"""

from __future__ import annotations

import base64
import datetime as _dt
import functools
import html as _html
import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from credo import _artifact
from credo import metrics as _m
from credo._validate import check_positive_int
from credo.exceptions import InvalidArgumentError

__all__ = ["html", "metrics_table"]

_COLUMNS = (
    "accuracy",
    "ece",
    "ece_low",
    "ece_high",
    "mce",
    "smooth_ece",
    "brier",
    "nll",
    "auroc",
    "aurc",
    "eaurc",
    "augrc",
)


def _top(y_true: Any, y_prob: Any) -> tuple[np.ndarray, np.ndarray]:
    if np.ndim(y_prob) == 2:
        return _m.top_label(y_true, y_prob)
    p = np.asarray(y_prob, dtype=np.float64)
    return p, np.asarray(y_true, dtype=np.float64)


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
) -> dict[str, float]:
    """The report's metrics for one set of predictions (top-label view for ``[n, K]`` input)."""
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
    if n_resamples:
        ci = _m.bootstrap(
            _m.ece, correct, conf, n_bins=n_bins, n_resamples=n_resamples, seed=seed, sample_weight=w
        )
        row["ece_low"], row["ece_high"] = ci.low, ci.high
    else:
        row["ece_low"] = row["ece_high"] = float("nan")
    return row


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _plots(y_true: Any, versions: Mapping[str, Any], n_bins: int) -> tuple[str, str]:
    from matplotlib.figure import Figure

    from credo.plots import ReliabilityDisplay, RiskCoverageDisplay

    fig_rel = Figure(figsize=(5.5, 5))
    ax = fig_rel.add_subplot()
    fig_rc = Figure(figsize=(5.5, 4))
    ax_rc = fig_rc.add_subplot()
    for i, (name, y_prob) in enumerate(versions.items()):
        conf, correct = _top(y_true, y_prob)
        ReliabilityDisplay.from_predictions(
            correct, conf, n_bins=n_bins, name=name, ax=ax, show_counts=(i == 0), show_gap=(i == 0)
        )
        RiskCoverageDisplay.from_predictions(correct, conf, name=name, ax=ax_rc)
    ax.set_title("Reliability (bars: gap and counts of the first)")
    ax_rc.set_title("Risk–coverage")
    return _png(fig_rel), _png(fig_rc)


def _fmt(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        return "–" if not np.isfinite(v) else f"{v:.4f}"
    return _html.escape(str(v))


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{_html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}
th,td{border:1px solid #ccc;padding:0.25em 0.6em;text-align:right}
th{background:#f3f3f3} td:first-child,th:first-child{text-align:left}
img{max-width:48%;margin-right:1%} .note{color:#666;font-size:0.85em}
"""


def html(
    path: str | os.PathLike[str],
    y_true: Any,
    y_prob: Any,
    *,
    calibrated: Mapping[str, Any] | None = None,
    segments: Any = None,
    provenance: Mapping[str, Any] | None = None,
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
    provenance : where the data came from (model, dataset, commit, date …), shown verbatim.
    n_bins, n_resamples, seed : ECE bins and its bootstrap interval (0 resamples: none).
    """
    n_bins = check_positive_int(n_bins, "n_bins")
    versions: dict[str, Any] = {"raw": y_prob}
    for name, pred in (calibrated or {}).items():
        if str(name) in versions:
            raise InvalidArgumentError(f"calibrated: name {name!r} is used twice")
        if np.shape(pred) != np.shape(y_prob):
            raise InvalidArgumentError(
                f"calibrated: {name!r} has shape {np.shape(pred)}, expected {np.shape(y_prob)}"
            )
        versions[str(name)] = pred
    rows = {
        name: metrics_table(
            y_true, p, n_bins=n_bins, n_resamples=n_resamples, seed=seed, sample_weight=sample_weight
        )
        for name, p in versions.items()
    }
    rel_png, rc_png = _plots(y_true, versions, n_bins)

    from credo import __version__

    prov = dict(provenance or {})
    prov.setdefault("samples", len(np.asarray(y_true)))
    if np.ndim(y_prob) == 2:
        prov.setdefault("classes", np.shape(y_prob)[1])
    prov["data sha256"] = _artifact.data_hash(np.asarray(y_true), np.asarray(y_prob))
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
            f"[{_fmt(r['ece_low'])}, {_fmt(r['ece_high'])}]",
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
        "<h2>Metrics</h2>",
        _table(header, metric_rows),
        "<p class='note'>Top-label view: confidence = max probability, outcome = argmax is correct. "
        "ECE uses credo's bins [i/B, (i+1)/B) with p = 1 in the last bin; its interval is a seeded "
        "percentile bootstrap. AUROC, AURC, E-AURC and AUGRC rank errors by confidence (ties grouped).</p>",
        "<h2>Plots</h2>",
        f"<img alt='reliability diagram' src='data:image/png;base64,{rel_png}'>",
        f"<img alt='risk-coverage curve' src='data:image/png;base64,{rc_png}'>",
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
