"""``credo eval``: calibration and ranking metrics of scored data, per segment, with intervals."""

from __future__ import annotations

from typing import Any

import click
import numpy as np

from credo.cli._common import echo_json, progress, table
from credo.cli._options import data_options, load_columns, top_label

METRICS = ("ece", "brier_score", "nll", "auroc", "aurc")


def evaluate(
    scores: np.ndarray,
    labels: np.ndarray,
    segments: np.ndarray | None,
    *,
    n_bins: int,
    n_resamples: int,
    seed: int,
    show_progress: bool = False,
) -> dict[str, Any]:
    """The metrics table (overall and per segment) plus bias-corrected bootstrap intervals of ECE
    and AUROC (BCa, or the basic interval where BCa excludes the estimate: ``<m>_ci_method``
    says which, ``<m>_ci_contains_estimate`` whether the interval contains the estimate)."""
    from credo import metrics
    from credo._validate import as_labels, as_probabilities

    conf = as_probabilities(scores, "scores", ndim=1)
    y = as_labels(labels, "labels", binary=True)
    segs = np.full(len(conf), "(all)", dtype=object) if segments is None else segments
    fns = {
        "ece": lambda t, p, **kw: metrics.ece(t, p, n_bins=n_bins, **kw),
        "brier_score": metrics.brier_score,
        "nll": metrics.nll,
        "auroc": metrics.auroc,
        "aurc": metrics.aurc,
    }
    tab = metrics.by_segment(fns, y, conf, segs, overall=segments is not None, as_frame=False)
    rows = []
    bar = progress(len(tab["segment"]), "bootstrap", enabled=None if show_progress and n_resamples > 0 else False)
    for i, seg in enumerate(tab["segment"]):
        idx = np.arange(len(conf)) if seg == "(all)" else np.flatnonzero(segs == seg)
        row = {
            "segment": seg,
            "count": int(tab["count"][i]),
            "accuracy": float(y[idx].mean()),
            "mean_confidence": float(conf[idx].mean()),
        }
        row.update({m: float(tab[m][i]) for m in METRICS})
        if n_resamples > 0:
            for m, fn in (("ece", metrics.ece), ("auroc", metrics.auroc)):
                kw: dict[str, Any] = {"n_bins": n_bins} if m == "ece" else {}
                try:
                    b = metrics.bootstrap(
                        fn, y[idx], conf[idx], n_resamples=n_resamples, seed=seed, method="bias_corrected", **kw
                    )
                    row[f"{m}_ci"] = [b.low, b.high]
                    row[f"{m}_ci_method"], row[f"{m}_ci_contains_estimate"] = b.method, b.contains_estimate
                except ValueError:
                    row[f"{m}_ci"] = [float("nan"), float("nan")]
                    row[f"{m}_ci_method"], row[f"{m}_ci_contains_estimate"] = "", False
        bar.update(1)
        rows.append(row)
    bar.close()
    return {"n_bins": n_bins, "n_resamples": n_resamples, "seed": seed, "segments": rows}


@click.command("eval", short_help="Measure calibration and ranking of scored data, per segment.")
@data_options
@click.option("--bins", "n_bins", default=15, show_default=True, type=click.IntRange(1), help="ECE bins (equal width).")
@click.option(
    "--n-resamples",
    default=1000,
    show_default=True,
    type=click.IntRange(0),
    help="Bootstrap resamples for the 95 % intervals of ECE and AUROC (0: none).",
)
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0), help="Bootstrap seed.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def command(
    data: str,
    score_col: tuple[str, ...],
    label_col: str,
    segment_col: str | None,
    n_bins: int,
    n_resamples: int,
    seed: int,
    as_json: bool,
) -> None:
    """Measure calibration (ECE, Brier, NLL) and ranking (AUROC, AURC) of confidences in DATA.

    DATA is a CSV, TSV, JSON Lines or Parquet file with one row per answer: a confidence in
    [0, 1] and whether the answer was correct (1/0 or True/False). With K score columns (one
    probability per class) and class ids 0..K-1 as labels, the metrics are top-label: the
    largest probability, and whether its class is the label.

    \b
    Examples:
      credo eval scored.csv --score-col confidence --label-col correct
      credo eval scored.jsonl --score-col confidence --label-col correct --segment-col domain --json
      credo eval probs.csv --score-col p0 --score-col p1 --score-col p2 --label-col label
    """
    scores, labels, segments = load_columns(data, score_col, label_col, segment_col, probabilities=True)
    conf, correct = top_label(scores, labels)
    result = evaluate(conf, correct, segments, n_bins=n_bins, n_resamples=n_resamples, seed=seed, show_progress=True)
    result["confidence"] = "top-label" if scores.ndim == 2 else "as given"
    if scores.ndim == 2:
        result["classes"] = scores.shape[1]
    if as_json:
        echo_json(result)
        return
    header = ["segment", "count", "accuracy", "confidence", "ECE", "Brier", "NLL", "AUROC", "AURC"]
    rows = [
        [r["segment"], r["count"], r["accuracy"], r["mean_confidence"], *(r[m] for m in METRICS)]
        for r in result["segments"]
    ]
    if scores.ndim == 2:
        click.echo(f"top-label confidence of {scores.shape[1]} classes")
    click.echo(table(header, rows))
    if n_resamples:
        click.echo(f"\n95 % bias-corrected bootstrap intervals ({n_resamples} resamples, seed {seed}):")
        click.echo(
            table(
                ["segment", "ECE low", "ECE high", "method", "AUROC low", "AUROC high", "method"],
                [
                    [r["segment"], *r["ece_ci"], _method(r, "ece"), *r["auroc_ci"], _method(r, "auroc")]
                    for r in result["segments"]
                ],
            )
        )
        if any(not r[f"{m}_ci_contains_estimate"] for r in result["segments"] for m in ("ece", "auroc")):
            click.echo(
                "* the interval excludes its estimate: nearly every resample lies on one side of it "
                "(a statistic biased near its bound, such as ECE near 0)"
            )


def _method(row: dict[str, Any], metric: str) -> str:
    """The interval method as the table prints it: BCa or basic, starred if it excludes the estimate."""
    name = {"bca": "BCa", "basic": "basic"}.get(row[f"{metric}_ci_method"], "-")
    return name if row[f"{metric}_ci_contains_estimate"] else name + "*"
