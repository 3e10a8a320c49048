"""Scale-out on Ray Data: score logit datasets, apply fitted calibrators, evaluate.

The same calls run on a laptop (``ray.init()`` starts a local cluster) and on a real cluster:
every function takes and returns a :class:`ray.data.Dataset` and does its work in
``map_batches`` with credo's native kernels, which release the GIL, so one worker process per
core keeps every core busy. Fitted calibrators travel to the workers as their JSON artefact (not
as pickles) and are rebuilt once per actor.

Scoring vLLM batch outputs
--------------------------
Keep the per-token logprobs vLLM returns (``SamplingParams(logprobs=k)``) next to the prompt
ids, turn each request into a fixed-width row with :func:`credo.formats.from_vllm` (``top_logprobs``
``[T, k]`` padded with ``-inf`` and the ``chosen_logprob`` ``[T]``) inside your own
``map_batches`` step, then call :func:`score_topk` on that dataset. Full-vocabulary logits
(saved ``[T, V]`` arrays) go through :func:`score_logits` instead.

Requires the ``ray`` extra: ``pip install 'credo[ray]'``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from credo import _artifact
from credo.exceptions import InvalidArgumentError

if TYPE_CHECKING:  # pragma: no cover
    import ray.data

TOKEN_FIELDS = ("entropy", "logsumexp", "max_logprob", "argmax", "margin_logit", "margin_prob")


def _require_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ImportError("credo.integrations.ray needs Ray Data: pip install 'credo[ray]'") from None
    return ray


def _signal_columns(result: Any, prefix: str) -> dict[str, np.ndarray]:
    out = {}
    for name in (*TOKEN_FIELDS, "chosen_logprob", "chosen_rank"):
        value = getattr(result, name, None)
        if value is not None:
            out[prefix + name] = np.asarray(value)
    return out


def score_logits_batch(
    batch: dict[str, np.ndarray],
    *,
    column: str = "logits",
    chosen_column: str | None = None,
    temperature: float = 1.0,
    prefix: str = "",
    keep_input: bool = False,
) -> dict[str, np.ndarray]:
    """One batch of :func:`score_logits`: rows of ``batch[column]`` ([n, V]) become signal columns.

    This is the function Ray runs in each worker; calling it on a whole array gives the
    in-process result the distributed path must reproduce.
    """
    import credo

    if column not in batch:
        raise InvalidArgumentError(f"column: no column {column!r} in the batch (columns: {', '.join(batch)})")
    logits = np.asarray(batch[column])
    chosen = None if chosen_column is None else np.asarray(batch[chosen_column])
    result = credo.token_signals(logits, chosen, temperature=temperature)
    out = {k: v for k, v in batch.items() if keep_input or k != column}
    out.update(_signal_columns(result, prefix))
    return out


def score_logits(
    ds: ray.data.Dataset,
    *,
    column: str = "logits",
    chosen_column: str | None = None,
    temperature: float = 1.0,
    prefix: str = "",
    keep_input: bool = False,
    batch_size: int | None = 256,
    **map_batches_kwargs: Any,
) -> ray.data.Dataset:
    """Adds token signals (entropy, logsumexp, max_logprob, argmax, margins, chosen logprob/rank)
    for every row of the tensor column ``column`` (each row one position's logits ``[V]``)."""
    _require_ray()
    return ds.map_batches(
        score_logits_batch,
        batch_format="numpy",
        batch_size=batch_size,
        fn_kwargs={
            "column": column,
            "chosen_column": chosen_column,
            "temperature": temperature,
            "prefix": prefix,
            "keep_input": keep_input,
        },
        **map_batches_kwargs,
    )


class CalibrateBatch:
    """A Ray actor body holding one fitted calibrator, rebuilt from its JSON artefact."""

    def __init__(self, artifact: dict[str, Any], column: str, output_column: str) -> None:
        self.calibrator = _artifact.from_dict(artifact, source="calibrator artefact")
        self.column = column
        self.output_column = output_column

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self.column not in batch:
            raise InvalidArgumentError(f"column: no column {self.column!r} in the batch")
        out = dict(batch)
        out[self.output_column] = np.asarray(self.calibrator.predict(np.asarray(batch[self.column])))
        return out


def calibrate(
    ds: ray.data.Dataset,
    calibrator: Any,
    *,
    column: str = "confidence",
    output_column: str = "calibrated",
    concurrency: int = 1,
    batch_size: int | None = 4096,
    **map_batches_kwargs: Any,
) -> ray.data.Dataset:
    """Applies a fitted credo calibrator to ``column`` in a pool of ``concurrency`` actors.

    Each actor holds one CPU; leave at least one CPU of the cluster free for the tasks that feed
    the pool (on a 2-CPU machine, ``concurrency=1``).
    """
    ray = _require_ray()
    body = _artifact.to_dict(calibrator)
    return ds.map_batches(
        CalibrateBatch,
        batch_format="numpy",
        batch_size=batch_size,
        fn_constructor_kwargs={"artifact": body, "column": column, "output_column": output_column},
        compute=ray.data.ActorPoolStrategy(size=concurrency),
        **map_batches_kwargs,
    )


def evaluate(
    ds: ray.data.Dataset,
    *,
    confidence_column: str = "confidence",
    correct_column: str = "correct",
    segment_column: str | None = None,
    n_bins: int = 15,
) -> dict[str, Any]:
    """Calibration and ranking metrics of a scored dataset (ECE, Brier, AUROC, AURC, per segment).

    Only the two (or three) scalar columns travel to the driver; the metrics are then computed
    by the same kernels as the in-process :mod:`credo.metrics` calls, so the numbers are identical.
    """
    _require_ray()

    cols = [confidence_column, correct_column] + ([segment_column] if segment_column else [])
    parts: dict[str, list[np.ndarray]] = {c: [] for c in cols}
    for batch in ds.select_columns(cols).iter_batches(batch_format="numpy", batch_size=65536):
        for c in cols:
            parts[c].append(np.asarray(batch[c]))
    data = {c: np.concatenate(v) if v else np.empty(0) for c, v in parts.items()}
    return _summary(
        data[confidence_column], data[correct_column], data[segment_column] if segment_column else None, n_bins
    )


def _summary(conf: np.ndarray, correct: np.ndarray, segments: np.ndarray | None, n_bins: int) -> dict[str, Any]:
    from credo import metrics

    fns = {
        "ece": lambda t, p: metrics.ece(t, p, n_bins=n_bins),
        "brier": metrics.brier_score,
        "nll": metrics.nll,
        "auroc": metrics.auroc,
        "aurc": metrics.aurc,
    }
    y = np.asarray(correct).astype(np.int64)
    p = np.asarray(conf, dtype=np.float64)
    out: dict[str, Any] = {"n": len(p), **{k: float(fn(y, p)) for k, fn in fns.items()}}
    if segments is not None:
        tab = metrics.by_segment(fns, y, p, np.asarray(segments).astype(str), overall=False, as_frame=False)
        out["segments"] = {
            str(seg): {"n": int(tab["count"][i]), **{k: float(tab[k][i]) for k in fns}}
            for i, seg in enumerate(tab["segment"])
        }
    return out
