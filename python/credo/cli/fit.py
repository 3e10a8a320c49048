"""``credo fit``: fit a calibrator, a guaranteed threshold or a confidence model from a file."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import click
import numpy as np

from credo.cli._common import echo_json, fmt
from credo.cli._options import data_options, load_columns
from credo.exceptions import CredoError

CALIBRATORS = ("isotonic", "platt", "beta", "histogram", "temperature")
KINDS = (*CALIBRATORS, "threshold", "confidence-model")
# Calibrators that take confidences in [0, 1] (the others take any real score or logits).
UNIT_SCORES = ("beta", "histogram", "threshold")


class InfeasibleTarget(CredoError):
    """No threshold certifies the requested target risk on this data (exit status 1)."""


def fit_artifact(
    kind: str,
    scores: np.ndarray,
    labels: np.ndarray,
    segments: np.ndarray | None,
    *,
    min_samples: int = 100,
    target_risk: float = 0.05,
    delta: float = 0.1,
    method: str = "ltt",
    features: tuple[str, ...] = (),
    source: str = "the data",
) -> tuple[Any, dict[str, Any]]:
    """The fitted object and a summary of what was fitted."""
    from credo import calibration
    from credo.exceptions import InvalidArgumentError

    if kind in CALIBRATORS:
        if scores.ndim == 2 and kind != "temperature":
            raise InvalidArgumentError(f"--score-col: {kind} calibrates one score column, got {scores.shape[1]}")
        if segments is not None:
            segmented = calibration.SegmentedCalibrator(method=kind, min_samples=min_samples)
            segmented.fit(scores, labels, segments)
            own = sorted(map(str, segmented.calibrators_))
            return segmented, {"segments_with_own_fit": own, "segment_counts": segmented.segment_counts_}
        constructors: dict[str, Callable[[], Any]] = {
            "isotonic": lambda: calibration.IsotonicCalibrator(out_of_bounds="clip"),
            "platt": calibration.PlattScaling,
            "beta": calibration.BetaCalibration,
            "histogram": calibration.HistogramBinning,
            "temperature": calibration.TemperatureScaling,
        }
        calibrator = constructors[kind]().fit(scores, labels)
        summary: dict[str, Any] = {"n": len(labels)}
        if kind == "temperature":
            summary["temperature"] = float(calibrator.temperature_)
        return calibrator, summary
    if kind == "threshold":
        threshold = _fit_threshold(
            scores, labels, segments, target_risk=target_risk, delta=delta, method=method, source=source
        )
        return threshold, {
            "threshold": threshold.threshold_,
            "target_risk": target_risk,
            "delta": delta,
            "method": method,
        }
    from credo.confidence import ConfidenceModel

    names = list(features) or [f"score_{j}" for j in range(1 if scores.ndim == 1 else scores.shape[1])]
    X = scores.reshape(len(labels), -1)
    model = ConfidenceModel(features=names).fit(X, labels, segments=segments)
    return model, {"features": names, "weights": model.feature_weights(), "holdout": getattr(model, "holdout_", None)}


def _fit_threshold(
    scores: np.ndarray,
    labels: np.ndarray,
    segments: np.ndarray | None,
    *,
    target_risk: float,
    delta: float,
    method: str,
    source: str,
) -> Any:
    """A SelectiveThreshold that certifies ``target_risk`` (everywhere, with segments), or an
    InfeasibleTarget error saying which target this data can certify."""
    from credo import conformal

    def fit(target: float, conf: np.ndarray, y: np.ndarray, seg: np.ndarray | None) -> Any:
        with warnings.catch_warnings():  # infeasibility is reported below, as an error
            warnings.simplefilter("ignore", conformal.NoThresholdWarning)
            return conformal.SelectiveThreshold(target_risk=target, delta=delta, method=method).fit(
                conf, y, segments=seg
            )

    model = fit(target_risk, scores, labels, segments)
    feasible = model.feasible_ if isinstance(model.feasible_, dict) else {None: model.feasible_}
    failed = [k for k, ok in feasible.items() if not ok]
    if not failed:
        return model
    parts = []
    for k in failed:
        mask = slice(None) if k is None else segments == k
        best = _smallest_feasible_target(lambda t, m=mask: bool(fit(t, scores[m], labels[m], None).feasible_))
        where = "" if k is None else f"segment {k!r}: "
        can = f"the smallest certifiable target is about {best:.3g}" if best is not None else "no target below 1 is"
        parts.append(f"{where}{can}")
    n = len(labels)
    raise InfeasibleTarget(
        f"--target-risk {target_risk:g} is infeasible on {source} ({n} rows, {method}, delta {delta:g}): "
        f"no threshold certifies it; {'; '.join(parts)}"
    )


def _smallest_feasible_target(feasible: Any) -> float | None:
    """The smallest target risk in (0, 1) that ``feasible(target)`` accepts, to 3 significant
    digits and rounded up (feasibility grows with the target), or None when even 0.999 fails."""
    hi = 0.999
    if not feasible(hi):
        return None
    lo = 1e-9
    for _ in range(40):  # bisection on a log scale: 40 halvings of [1e-9, 1) reach 3 digits
        mid = (lo * hi) ** 0.5
        if feasible(mid):
            hi = mid
        else:
            lo = mid
        if hi / lo < 1.001:
            break
    return float(f"{hi:.3g}") if feasible(float(f"{hi:.3g}")) else hi


@click.command("fit", short_help="Fit a calibrator, a guaranteed threshold or a confidence model.")
@data_options
@click.option("--kind", type=click.Choice(KINDS), default="isotonic", show_default=True, help="What to fit.")
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False), help="Where to save the artefact (JSON)."
)
@click.option(
    "--min-samples",
    default=100,
    show_default=True,
    type=click.IntRange(1),
    help="With --segment-col: the smallest segment that gets its own calibrator.",
)
@click.option(
    "--target-risk",
    default=0.05,
    show_default=True,
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    help="threshold: the selective risk to guarantee; infeasible on the data: exit 1 with the achievable target.",
)
@click.option(
    "--delta",
    default=0.1,
    show_default=True,
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    help="threshold: allowed failure probability.",
)
@click.option(
    "--method",
    type=click.Choice(["ltt", "sgr", "crc"]),
    default="ltt",
    show_default=True,
    help="threshold: how the guarantee is certified.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
def command(
    data: str,
    score_col: tuple[str, ...],
    label_col: str,
    segment_col: str | None,
    kind: str,
    output: str,
    min_samples: int,
    target_risk: float,
    delta: float,
    method: str,
    as_json: bool,
) -> None:
    """Fit a calibrator, a guaranteed selective threshold or a confidence model on DATA and save it.

    DATA is a CSV, TSV, JSON Lines or Parquet file with score column(s) and a label column
    (1 = correct/positive). Load the artefact in Python with `credo.load(path)`.

    \b
    Examples:
      credo fit holdout.csv --score-col confidence --label-col correct --kind isotonic -o iso.json
      credo fit holdout.csv --score-col confidence --label-col correct --segment-col domain -o seg.json
      credo fit holdout.csv --score-col confidence --label-col correct --kind threshold \\
          --target-risk 0.05 --delta 0.1 -o threshold.json
      credo fit claims.jsonl --score-col gpt --score-col freq --label-col correct --kind confidence-model -o cm.json
    """
    if len(score_col) > 1 and kind not in ("temperature", "confidence-model"):
        raise click.UsageError(f"--score-col: --kind {kind} takes one score column, got {len(score_col)}")
    scores, labels, segments = load_columns(
        data,
        score_col,
        label_col,
        segment_col,
        probabilities=kind in UNIT_SCORES,
        n_classes=2 if kind in ("confidence-model", "threshold") else None,
    )
    model, summary = fit_artifact(
        kind,
        scores,
        labels,
        segments,
        min_samples=min_samples,
        target_risk=target_risk,
        delta=delta,
        method=method,
        features=score_col if kind == "confidence-model" else (),
        source=data,
    )
    path = model.save(output)
    summary = {"kind": kind, "artifact": str(path), "n": len(labels), **summary}
    if as_json:
        echo_json(summary)
        return
    click.echo(f"fitted {type(model).__name__} on {len(labels)} rows of {data}")
    for k, v in summary.items():
        if k not in ("kind", "artifact", "n"):
            click.echo(f"  {k}: {fmt(v) if isinstance(v, float) else v}")
    click.echo(f"saved to {path}")
