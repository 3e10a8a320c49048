"""Options shared by the commands that read a table of scores and labels."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
import numpy as np

from credo.cli._io import check_in_unit_interval, check_labels, numeric_column, read_table


def data_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """DATA argument plus --score-col/--label-col/--segment-col."""
    fn = click.option("--segment-col", default=None, help="Column of segment names (domain, workflow, prompt family).")(
        fn
    )
    fn = click.option(
        "--label-col",
        default="label",
        show_default=True,
        help="Column of outcomes: 1/0 or True/False (correct / wrong), or class ids 0..K-1 with K score columns.",
    )(fn)
    fn = click.option(
        "--score-col",
        default=["score"],
        multiple=True,
        show_default=True,
        help="Score column (confidence, probability or logit); repeat for a [n, K] matrix (one column per class).",
    )(fn)
    # Not click.Path(exists=True): a missing or unreadable file is a data error (exit 1), not a
    # usage error, and the reader says which.
    fn = click.argument("data", type=click.Path())(fn)
    return fn


def load_columns(
    data: str,
    score_col: tuple[str, ...],
    label_col: str,
    segment_col: str | None,
    *,
    probabilities: bool = False,
    n_classes: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(scores [n] or [n, K], labels [n], segments or None) from the file, with errors naming the
    file, column and row. ``probabilities``: scores must lie in [0, 1]. Labels must be 0/1 or
    True/False with one score column, class ids 0..K-1 with K columns, or 0..n_classes-1 when
    ``n_classes`` is given."""
    if len(set(score_col)) != len(score_col):
        raise click.UsageError("--score-col: a column is named twice")
    cols = [*score_col, label_col] + ([segment_col] if segment_col else [])
    t = read_table(data, cols)
    columns = []
    for c in score_col:
        col = numeric_column(t, c, data)
        if probabilities:
            check_in_unit_interval(col, c, data)
        columns.append(col)
    scores = columns[0] if len(columns) == 1 else np.column_stack(columns)
    labels = numeric_column(t, label_col, data)
    labels = check_labels(labels, label_col, data, n_classes=n_classes or max(2, len(score_col)))
    segments = None if segment_col is None else _segments(t[segment_col])
    return scores, labels, segments


def _segments(col: np.ndarray) -> np.ndarray:
    if col.dtype != object:  # numeric segment ids: 3.0 -> "3"
        return np.asarray([f"{v:g}" for v in col], dtype=object)
    return np.asarray(["(none)" if v is None else str(v) for v in col], dtype=object)


def top_label(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(confidence, correct) of [n] confidences with 0/1 outcomes, or of [n, K] class probabilities
    with class ids (top-label: the largest probability, and whether its class is the label)."""
    if scores.ndim == 1:
        return scores, labels
    return scores.max(axis=1), (scores.argmax(axis=1) == labels).astype(np.int64)
