"""Options shared by the commands that read a table of scores and labels."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
import numpy as np

from credo.cli._io import numeric_column, read_table


def data_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """DATA argument plus --score-col/--label-col/--segment-col."""
    fn = click.option("--segment-col", default=None, help="Column of segment names (domain, workflow, prompt family).")(
        fn
    )
    fn = click.option(
        "--label-col",
        default="label",
        show_default=True,
        help="Column of outcomes: 1 = correct / positive, 0 = wrong / negative (or class ids).",
    )(fn)
    fn = click.option(
        "--score-col",
        default=["score"],
        multiple=True,
        show_default=True,
        help="Score column (confidence, probability or logit); repeat for a [n, K] matrix.",
    )(fn)
    fn = click.argument("data", type=click.Path(dir_okay=False))(fn)
    return fn


def load_columns(
    data: str, score_col: tuple[str, ...], label_col: str, segment_col: str | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(scores [n] or [n, K], labels [n], segments or None) from the file, with clear errors."""
    cols = [*score_col, label_col] + ([segment_col] if segment_col else [])
    t = read_table(data, cols)
    scores = np.column_stack([numeric_column(t, c, data) for c in score_col])
    if scores.shape[1] == 1:
        scores = scores[:, 0]
    labels = numeric_column(t, label_col, data)
    segments = None if segment_col is None else np.asarray([str(s) for s in t[segment_col]], dtype=object)
    return scores, labels, segments
