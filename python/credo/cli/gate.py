"""``credo gate``: fail CI only when a candidate's calibration regresses significantly."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from credo.cli._common import echo_json, table
from credo.cli._io import numeric_column, read_table
from credo.cli._options import load_columns, top_label


def _load(path: str, score_col: tuple[str, ...], label_col: str, segment_col: str | None, id_col: str | None):  # type: ignore[no-untyped-def]
    scores, labels, segments = load_columns(path, score_col, label_col, segment_col, probabilities=True)
    conf, correct = top_label(scores, labels)
    ids = None
    if id_col is not None:
        t = read_table(path, [id_col])
        col = t[id_col]
        ids = np.asarray(
            [f"{v:g}" for v in numeric_column(t, id_col, path)] if col.dtype != object else col, dtype=object
        )
        seen: dict[object, int] = {}
        for i, v in enumerate(ids):
            if v in seen:
                raise _data_error(f"{path}: column {id_col!r}, row {i + 1}: id {v!r} repeats row {seen[v] + 1}")
            seen[v] = i
    return conf, correct.astype(np.float64), segments, ids


def _data_error(message: str) -> Exception:
    from credo.exceptions import InvalidArgumentError

    return InvalidArgumentError(message)


@click.command("gate", short_help="Fail CI when calibration regresses significantly against a baseline.")
@click.option("--baseline", required=True, type=click.Path(), help="Scored outputs of the accepted model.")
@click.option("--candidate", required=True, type=click.Path(), help="Scored outputs of the new model, same examples.")
@click.option(
    "--score-col",
    default=["score"],
    multiple=True,
    show_default=True,
    help="Confidence column in [0, 1]; repeat for K class-probability columns (top-label).",
)
@click.option("--label-col", default="label", show_default=True, help="0/1 (True/False) correctness, or class ids.")
@click.option("--segment-col", default=None, help="Also test each segment (from the baseline file).")
@click.option("--id-col", default=None, help="Pair rows by this id column (default: by position).")
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    type=click.Choice(["ece", "brier", "auroc", "selective_risk"]),
    help="Metrics to gate on (default: all four); repeatable.",
)
@click.option(
    "--coverage",
    default=0.8,
    show_default=True,
    type=click.FloatRange(0, 1, min_open=True),
    help="Coverage at which the selective risk is compared.",
)
@click.option(
    "--tolerance",
    multiple=True,
    metavar="METRIC=VALUE",
    help="A regression smaller than this is accepted (default 0); repeatable, e.g. ece=0.005.",
)
@click.option(
    "--alpha",
    default=0.05,
    show_default=True,
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    help="Family-wise error rate (Holm over metrics x segments).",
)
@click.option("--n-resamples", default=2000, show_default=True, type=click.IntRange(100, 100_000))
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0))
@click.option("--bins", "n_bins", default=15, show_default=True, type=click.IntRange(1, 10_000), help="ECE bins.")
@click.option("--min-segment", default=100, show_default=True, type=click.IntRange(1), help="Smallest segment tested.")
@click.option("--junit", type=click.Path(dir_okay=False), help="Write a JUnit XML report here.")
@click.option(
    "--markdown", type=click.Path(dir_okay=False), help="Write a Markdown summary here (e.g. $GITHUB_STEP_SUMMARY)."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def command(
    ctx: click.Context,
    baseline: str,
    candidate: str,
    score_col: tuple[str, ...],
    label_col: str,
    segment_col: str | None,
    id_col: str | None,
    metrics: tuple[str, ...],
    coverage: float,
    tolerance: tuple[str, ...],
    alpha: float,
    n_resamples: int,
    seed: int,
    n_bins: int,
    min_segment: int,
    junit: str | None,
    markdown: str | None,
    as_json: bool,
) -> None:
    """Compare a candidate model's scored outputs with a stored baseline on the same examples.

    ECE, Brier score, AUROC and the selective risk at --coverage are measured on both, overall
    and per segment. Each difference is tested with a paired bootstrap (the same resampled
    examples for both models), one-sided; Holm's method adjusts the p-values over all metrics
    and segments to a family-wise error rate --alpha. Exit status 3 when some regression is
    significant, 0 otherwise (1/2: data/usage errors).

    \b
    Examples:
      credo gate --baseline base.csv --candidate new.csv --score-col confidence --label-col correct
      credo gate --baseline base.csv --candidate new.csv --score-col confidence --label-col correct \\
          --segment-col domain --id-col id --junit gate.xml --markdown "$GITHUB_STEP_SUMMARY"
    """
    from credo import gate

    tol = {}
    for spec in tolerance:
        name, sep, value = spec.partition("=")
        try:
            tol[name] = float(value)
        except ValueError:
            sep = ""
        if not sep or name not in gate.METRICS or not np.isfinite(tol.get(name, np.nan)) or tol[name] < 0:
            raise click.UsageError(
                f"--tolerance: expected METRIC=VALUE with a metric of {list(gate.METRICS)}, got {spec!r}"
            )
    cb, yb, segments, ids_b = _load(baseline, score_col, label_col, segment_col, id_col)
    cc, yc, segments_c, ids_c = _load(candidate, score_col, label_col, segment_col, id_col)
    if ids_b is not None and ids_c is not None:
        pos = {v: i for i, v in enumerate(ids_c)}
        missing = [v for v in ids_b if v not in pos]
        if missing or len(ids_b) != len(ids_c):
            raise _data_error(
                f"{candidate}: column {id_col!r}: {len(missing)} baseline id(s) missing (first {missing[0]!r})"
                if missing
                else f"{candidate}: {len(ids_c)} rows, {baseline} has {len(ids_b)}: the ids must match"
            )
        order = np.array([pos[v] for v in ids_b])
        cc, yc = cc[order], yc[order]
        segments_c = None if segments_c is None else segments_c[order]
    elif len(cb) != len(cc):
        raise _data_error(f"{candidate}: {len(cc)} rows, {baseline} has {len(cb)}: the gate pairs rows by position")
    if segments is not None and segments_c is not None:
        differ = np.flatnonzero(segments != segments_c)
        if len(differ):
            i = int(differ[0])
            raise _data_error(
                f"{candidate}: column {segment_col!r}, row {i + 1}: segment {segments_c[i]!r}, the baseline's paired "
                f"row has {segments[i]!r}: per-segment tests need the same examples (pair them with --id-col)"
            )
    result = gate.compare(
        yb,
        cb,
        yc,
        cc,
        segments=segments,
        metrics=metrics or tuple(gate.METRICS),
        coverage=coverage,
        n_bins=n_bins,
        n_resamples=n_resamples,
        alpha=alpha,
        seed=seed,
        tolerance=tol,
        min_segment=min_segment,
    )
    if junit:
        Path(junit).write_text(gate.to_junit(result))
    if markdown:
        with open(markdown, "a") as f:  # appends: $GITHUB_STEP_SUMMARY collects several steps
            f.write(gate.to_markdown(result))
    if as_json:
        echo_json(result.to_dict())
    else:
        click.echo(
            f"credo gate: {'FAILED' if result.failed else 'passed'} "
            f"({len(result.regressions)} significant regression(s))"
        )
        click.echo(f"test: {result.test}")
        click.echo(
            table(
                ["metric", "segment", "n", "baseline", "candidate", "worse by", "p", "p Holm", "verdict"],
                [
                    [
                        c.metric,
                        c.segment,
                        c.n,
                        c.baseline,
                        c.candidate,
                        c.worse_by,
                        c.p_value,
                        c.p_adjusted,
                        "REGRESSION" if c.regression else "ok",
                    ]
                    for c in result.comparisons
                ],
            )
        )
    if result.failed:
        ctx.exit(3)
