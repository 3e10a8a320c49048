"""``credo report``: the self-contained HTML calibration report of scored data."""

from __future__ import annotations

import click
import numpy as np

from credo.cli._options import data_options, load_columns


@click.command("report")
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
    help="A saved calibrator (from `credo fit`) to show before/after; repeatable.",
)
@click.option("--bins", "n_bins", default=15, show_default=True, type=click.IntRange(1), help="ECE bins.")
@click.option("--title", default="credo calibration report", show_default=True)
def command(
    data: str,
    score_col: tuple[str, ...],
    label_col: str,
    segment_col: str | None,
    output: str,
    calibrators: tuple[str, ...],
    n_bins: int,
    title: str,
) -> None:
    """Write an HTML report (metrics, per-segment table, reliability and risk–coverage plots).

    \b
    Examples:
      credo report scored.csv --score-col confidence --label-col correct -o report.html
      credo report scored.csv --score-col confidence --label-col correct --segment-col domain \\
          --calibrator isotonic=iso.json --calibrator platt=platt.json
    """
    import credo
    from credo import report
    from credo.exceptions import InvalidArgumentError

    scores, labels, segments = load_columns(data, score_col, label_col, segment_col)
    after = {}
    for spec in calibrators:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise InvalidArgumentError(f"--calibrator: expected NAME=PATH, got {spec!r}")
        cal = credo.load(path)
        if getattr(cal, "calibrators_", None) is not None and segments is not None:
            after[name] = np.asarray(cal.predict(scores, segments), dtype=np.float64)
        else:
            after[name] = np.asarray(cal.predict(scores), dtype=np.float64)
    path = report.html(
        output,
        labels.astype(np.int64),
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
    click.echo(f"report written to {path}")
