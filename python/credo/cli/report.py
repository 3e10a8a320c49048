"""``credo report``: the self-contained HTML calibration report of scored data."""

from __future__ import annotations

from typing import Any

import click
import numpy as np

from credo.cli._common import echo_json
from credo.cli._options import data_options, load_columns


def _after(name: str, path: str, scores: np.ndarray, segments: np.ndarray | None) -> np.ndarray:
    """Calibrated predictions of ``scores`` by the artefact in ``path`` (a calibrator or a
    confidence model from `credo fit`), or an error naming the file when it holds something else."""
    import credo
    from credo.cli._io import check_file
    from credo.confidence import ConfidenceModel
    from credo.exceptions import ArtifactError

    model = credo.load(check_file(path))  # checked first: a FIFO would block the reader
    segmented = getattr(model, "calibrators_", None) is not None
    if isinstance(model, ConfidenceModel):
        k = 1 if scores.ndim == 1 else scores.shape[1]
        if k != 1 or len(model.features_) != 1:
            raise ArtifactError(
                f"--calibrator {name}={path}: a confidence model over {len(model.features_)} feature(s); the "
                f"report compares calibrated with raw confidences of one --score-col (got {k}), so it shows "
                "confidence models of one feature"
            )
        pred: Any = model.predict_proba(scores[:, None], segments=segments)
    elif callable(getattr(model, "predict", None)):
        if segmented and segments is None:
            raise ArtifactError(f"--calibrator {name}={path}: fitted per segment; pass --segment-col")
        pred = model.predict(scores, segments) if segmented else model.predict(scores)
    else:
        raise ArtifactError(
            f"--calibrator {name}={path}: holds a {type(model).__name__}, not a calibrator or a confidence model "
            "(a threshold decides, it does not calibrate; `credo fit --kind isotonic|platt|beta|histogram|"
            "temperature|confidence-model` writes one the report can show)"
        )
    return np.asarray(pred, dtype=np.float64)


@click.command("report", short_help="Write an HTML calibration report of scored data.")
@data_options
@click.option(
    "-o",
    "--output",
    default="credo-report.html",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Where to write the HTML file.",
)
@click.option(
    "--calibrator",
    "calibrators",
    multiple=True,
    metavar="NAME=PATH",
    help="A calibrator or confidence model saved by `credo fit` to show before/after; repeatable.",
)
@click.option("--bins", "n_bins", default=15, show_default=True, type=click.IntRange(1, 10_000), help="ECE bins.")
@click.option("--title", default="credo calibration report", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary (the report's path and inputs).")
def command(
    data: str,
    score_col: tuple[str, ...],
    label_col: str,
    segment_col: str | None,
    output: str,
    calibrators: tuple[str, ...],
    n_bins: int,
    title: str,
    as_json: bool,
) -> None:
    """Write an HTML report (metrics, per-segment table, reliability and risk–coverage plots).

    DATA holds confidences in [0, 1] with 0/1 (True/False) outcomes, or K class-probability
    columns with class ids 0..K-1.

    \b
    Examples:
      credo report scored.csv --score-col confidence --label-col correct -o report.html
      credo report scored.csv --score-col confidence --label-col correct --segment-col domain \\
          --calibrator isotonic=iso.json --calibrator platt=platt.json
    """
    import credo
    from credo import report

    specs = []
    for spec in calibrators:
        name, sep, file = spec.partition("=")
        if not sep or not name or not file:
            raise click.UsageError(f"--calibrator: expected NAME=PATH, got {spec!r}")
        specs.append((name, file))
    scores, labels, segments = load_columns(data, score_col, label_col, segment_col, probabilities=True)
    after = {name: _after(name, file, scores, segments) for name, file in specs}
    path = report.html(
        output,
        labels,
        scores,
        calibrated=after or None,
        segments=segments,
        provenance={
            "data": data,
            "score column(s)": ", ".join(score_col),
            "label column": label_col,
            "credo": credo.__version__,
        },
        title=title,
        n_bins=n_bins,
    )
    if as_json:
        echo_json(
            {
                "report": str(path),
                "n": len(labels),
                "score_columns": list(score_col),
                "label_column": label_col,
                "segments": None if segments is None else sorted(set(segments.tolist())),
                "calibrators": {name: p for name, p in specs},
            }
        )
        return
    click.echo(f"report written to {path}")
