"""Scale-out on Ray Data: score logits and generated responses, apply fitted calibrators, evaluate.

The same calls run on a laptop (``ray.init()`` starts a local cluster) and on a real cluster:
every function takes and returns a :class:`ray.data.Dataset` and does its work in
``map_batches`` with credo's native kernels, which release the GIL, so one worker process per
core keeps every core busy. Fitted calibrators travel to the workers as their JSON artefact (not
as pickles) and are rebuilt once per actor.

Scoring vLLM batch outputs
--------------------------
Keep the per-token logprobs vLLM returns (``SamplingParams(logprobs=k)``) next to the prompt
ids, turn each response into one row with :func:`credo.formats.from_vllm` (``top_logprobs``
``[T, k]`` padded with ``-inf`` and the ``chosen_logprob`` ``[T]``) inside your own
``map_batches`` step, then call :func:`score_topk` on that dataset: one row of sequence-level
features per response. Full-vocabulary logits (saved ``[V]`` rows, one per position) go through
:func:`score_logits` instead.

Evaluating
----------
:func:`evaluate` never brings the scores to the driver: every block is reduced on a worker to a
fixed-size vector of sums that merge exactly (see :func:`evaluation_stats`), so evaluating 10⁸
rows or 10¹⁰ needs the same driver memory.

Requires the ``ray`` extra: ``pip install 'credo[ray]'``.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
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
        _numpy_batches(score_logits_batch),
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


def score_topk_batch(
    batch: dict[str, Any],
    *,
    column: str = "top_logprobs",
    chosen_column: str | None = "chosen_logprob",
    policy: str = "bounds",
    vocab_size: int | None = None,
    k: int | None = None,
    sentinel: float = -9999.0,
    prefix: str = "",
    keep_input: bool = False,
    threads: int = 1,
) -> dict[str, np.ndarray]:
    """One batch of :func:`score_topk`: each row's ``[T, k]`` top logprobs (and ``[T]`` chosen
    logprobs) become one row of sequence-level features (:func:`credo.topk_summary_batch`).

    Called on a whole batch in-process, it gives the result the distributed path must reproduce.
    """
    import credo

    for name in (column, chosen_column):
        if name is not None and name not in batch:
            raise InvalidArgumentError(f"column: no column {name!r} in the batch (columns: {', '.join(batch)})")
    tops = [np.asarray(t, dtype=np.float64) for t in batch[column]]
    chosen = None if chosen_column is None else [np.asarray(c, dtype=np.float64) for c in batch[chosen_column]]
    features = credo.topk_summary_batch(
        tops, chosen, policy=policy, vocab_size=vocab_size, k=k, sentinel=sentinel, threads=threads
    )
    drop = set() if keep_input else {column, chosen_column}
    out = {name: value for name, value in batch.items() if name not in drop}
    out.update({prefix + name: value for name, value in features.items()})
    return out


def score_topk(
    ds: ray.data.Dataset,
    *,
    column: str = "top_logprobs",
    chosen_column: str | None = "chosen_logprob",
    policy: str = "bounds",
    vocab_size: int | None = None,
    k: int | None = None,
    sentinel: float = -9999.0,
    prefix: str = "",
    keep_input: bool = False,
    batch_size: int | None = 256,
    threads: int = 1,
    **map_batches_kwargs: Any,
) -> ray.data.Dataset:
    """Adds the sequence-level features of :class:`credo.signals.TopkSummary` (token count,
    entropy bounds, tail mass, margins, sum / mean / min chosen logprob, share of tokens that
    were not the top-1) for every generated response.

    Each row holds one response: ``column`` its top-k logprobs ``[T, k]`` (T may differ from row
    to row; missing entries as NaN, ``-inf`` or the ``sentinel``) and ``chosen_column`` the
    chosen tokens' logprobs ``[T]`` (or None). The options are those of
    :func:`credo.topk_summary`. ``threads`` native threads per worker (1: Ray's one CPU per task).
    """
    _require_ray()
    return ds.map_batches(
        _numpy_batches(score_topk_batch),
        batch_format="numpy",
        batch_size=batch_size,
        fn_kwargs={
            "column": column,
            "chosen_column": chosen_column,
            "policy": policy,
            "vocab_size": vocab_size,
            "k": k,
            "sentinel": sentinel,
            "prefix": prefix,
            "keep_input": keep_input,
            "threads": threads,
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


# --- evaluation with mergeable statistics ---------------------------------------------------------
#
# Each block of the dataset is reduced on a worker to one fixed-size float64 vector of sums; the
# vectors add up (Ray Data's hash aggregation merges them on the workers), and only the merged
# vector, a few hundred kilobytes whatever the row count, reaches the driver. Its layout:
#
#   [n, Brier sum, NLL sum | ECE bins: weight, confidence sum, outcome sum (n_bins each) |
#    score grid: outcome sum, (1 - outcome) sum (GRID_CELLS each)]
#
# The ECE is exact (the per-bin sums of credo's reliability kernel add up across blocks). AUROC,
# AURC and the risk-coverage curve come from the grid: confidences are binned by their logit in
# cells 1/GRID_RESOLUTION wide over [-GRID_LOGIT, GRID_LOGIT] (so 0.9, 0.99, 0.999 … get the same
# number of cells, and a cell spans a change of 0.4 % in p or in 1 - p); answers in one cell count
# as tied. Each result states its largest possible error against the exact rank computation,
# from the same grid (``auroc_max_error``, ``aurc_max_error``); both are 0 when no cell holds a
# right and a wrong answer (AUROC) or more than one answer (AURC).

GRID_LOGIT = 40.0
GRID_RESOLUTION = 256
GRID_CELLS = int(2 * GRID_LOGIT * GRID_RESOLUTION) + 1
_HEAD = 3  # n, Brier sum, NLL sum


def _numpy_batches(fn: Callable[..., dict[str, np.ndarray]]) -> Callable[[Any], Any]:
    """``fn`` as Ray's ``map_batches`` is typed to take it: over every batch format, while with
    ``batch_format="numpy"`` it only ever receives a dict of arrays."""
    return fn


def _grid_cells(conf: np.ndarray) -> np.ndarray:
    """The grid cell of each confidence: monotone in the confidence (ties stay ties)."""
    with np.errstate(divide="ignore"):
        z = np.log(conf) - np.log1p(-conf)
    z = np.clip(np.nan_to_num(z, nan=0.0, posinf=GRID_LOGIT, neginf=-GRID_LOGIT), -GRID_LOGIT, GRID_LOGIT)
    cells: np.ndarray = np.minimum(((z + GRID_LOGIT) * GRID_RESOLUTION).astype(np.int64), GRID_CELLS - 1)
    return cells


def evaluation_stats(conf: Any, correct: Any, n_bins: int = 15) -> np.ndarray:
    """The mergeable statistics of one block (see the layout above): vectors of two blocks add up
    to the vector of their union. This is what each worker computes."""
    from credo import _credo, metrics

    p = np.ascontiguousarray(conf, dtype=np.float64)
    y = np.ascontiguousarray(correct, dtype=np.float64)
    out = np.zeros(_HEAD + 3 * n_bins + 2 * GRID_CELLS)
    if len(p) == 0:
        return out
    out[0] = len(p)
    out[1] = metrics.brier_score(y, p) * len(p)
    out[2] = metrics.nll(y, p) * len(p)
    r = _credo.reliability(p, y, None, n_bins=n_bins, convention="credo")
    weight, conf_sum, acc_sum = r.weight, r.conf_sum, r.acc_sum
    out[_HEAD : _HEAD + 3 * n_bins] = np.concatenate([weight, conf_sum, acc_sum])
    cells = _grid_cells(p)
    grid = out[_HEAD + 3 * n_bins :]
    grid[:GRID_CELLS] = np.bincount(cells, weights=y, minlength=GRID_CELLS)
    grid[GRID_CELLS:] = np.bincount(cells, weights=1.0 - y, minlength=GRID_CELLS)
    return out


def metrics_from_stats(stats: np.ndarray, n_bins: int = 15) -> dict[str, Any]:
    """The metrics of a merged statistics vector: n, ECE (exact), Brier and NLL (exact), AUROC and
    AURC from the grid with their largest possible error, and the risk-coverage curve at the
    grid's non-empty cells (highest confidence first)."""
    n = stats[0]
    if n <= 0:
        raise InvalidArgumentError("ds: has no rows to evaluate")
    weight, conf_sum, acc_sum = stats[_HEAD : _HEAD + 3 * n_bins].reshape(3, n_bins)
    grid = stats[_HEAD + 3 * n_bins :]
    pos, neg = grid[:GRID_CELLS][::-1], grid[GRID_CELLS:][::-1]  # highest confidence first
    keep = (pos + neg) > 0
    pos, neg = pos[keep], neg[keep]
    tp_before = np.cumsum(pos) - pos
    total_pos, total_neg = pos.sum(), neg.sum()
    both = total_pos > 0 and total_neg > 0
    auroc = float(np.sum(neg * (tp_before + 0.5 * pos)) / (total_pos * total_neg)) if both else float("nan")
    auroc_err = float(0.5 * np.sum(pos * neg) / (total_pos * total_neg)) if both else float("nan")
    count = pos + neg
    acc = np.cumsum(count)
    err = np.cumsum(neg)
    risk = err / acc
    coverage = acc / n
    aurc = float(np.sum(np.diff(coverage, prepend=0.0) * risk))
    # Inside a cell the exact curve steps through every answer; its risk stays between the
    # cell's lowest and highest possible running error rates.
    before, err_before = acc - count, err - neg
    lo = err_before / acc
    hi = np.where(neg > 0, (err_before + neg) / (before + np.maximum(neg, 1)), err_before / (before + 1))
    aurc_err = float(np.sum(count / n * np.maximum(hi - risk, risk - lo)))
    cells = np.flatnonzero(keep[::-1])[::-1]  # the grid index of each kept cell, highest first
    upper_logit = (cells + 1) / GRID_RESOLUTION - GRID_LOGIT
    return {
        "n": round(n),
        "ece": float(np.sum(np.abs(acc_sum - conf_sum)) / weight.sum()),
        "brier": float(stats[1] / n),
        "nll": float(stats[2] / n),
        "auroc": auroc,
        "auroc_max_error": auroc_err,
        "aurc": aurc,
        "aurc_max_error": aurc_err,
        "risk_coverage": {
            "confidence_below": (1 / (1 + np.exp(-upper_logit))).tolist(),
            "coverage": coverage.tolist(),
            "risk": risk.tolist(),
        },
    }


def block_stats(
    batch: dict[str, np.ndarray],
    *,
    confidence_column: str,
    correct_column: str,
    segment_column: str | None,
    n_bins: int,
) -> dict[str, np.ndarray]:
    """The first stage of :func:`evaluate`, run on the workers: one batch (a whole block) becomes
    one row per segment present in it, ``segment`` and its ``stats`` vector."""
    for name in (confidence_column, correct_column, segment_column):
        if name is not None and name not in batch:
            raise InvalidArgumentError(f"column: no column {name!r} in the batch (columns: {', '.join(batch)})")
    conf, correct = np.asarray(batch[confidence_column]), np.asarray(batch[correct_column])
    if segment_column is None:
        return {"segment": np.array([""]), "stats": evaluation_stats(conf, correct, n_bins)[None, :]}
    keys, codes = np.unique(np.asarray(batch[segment_column]).astype(str), return_inverse=True)
    stats = [evaluation_stats(conf[codes == j], correct[codes == j], n_bins) for j in range(len(keys))]
    return {"segment": keys, "stats": np.stack(stats)}


def _sum_stats(size: int) -> Any:
    """Ray Data aggregation that adds the ``stats`` vectors up on the workers."""
    from ray.data.aggregate import AggregateFnV2
    from ray.data.block import BlockAccessor

    class _SumStats(AggregateFnV2[np.ndarray, bytes]):
        def __init__(self) -> None:
            super().__init__("credo_stats", zero_factory=lambda: np.zeros(size), on="stats", ignore_nulls=False)

        def aggregate_block(self, block: Any) -> np.ndarray:
            stats = BlockAccessor.for_block(block).to_numpy("stats")
            total: np.ndarray = np.asarray(stats, dtype=np.float64).reshape(-1, size).sum(axis=0)
            return total

        def combine(self, current: Any, new: Any) -> np.ndarray:
            return np.asarray(current, dtype=np.float64) + np.asarray(new, dtype=np.float64)

        # Ray types the deprecated AggregateFn.finalize as an attribute, which no method matches.
        def finalize(self, acc: Any) -> bytes:  # type: ignore[override]
            return np.asarray(acc, dtype=np.float64).tobytes()

    return _SumStats()


def evaluate(
    ds: ray.data.Dataset,
    *,
    confidence_column: str = "confidence",
    correct_column: str = "correct",
    segment_column: str | None = None,
    n_bins: int = 15,
) -> dict[str, Any]:
    """Calibration and ranking metrics of a scored dataset, aggregated on the workers.

    Each block is reduced where it lives to a fixed-size vector of sums (:func:`evaluation_stats`),
    the vectors are added up by Ray Data's aggregation on the workers, and only the merged vector
    (one per segment) reaches the driver: the driver's memory does not grow with the row count.
    Returns ``n``, ``ece`` (``n_bins`` equal-width bins, exact), ``brier`` and ``nll`` (exact),
    ``auroc`` and ``aurc`` from a fine logit grid with ``auroc_max_error`` / ``aurc_max_error``
    (their largest possible distance from the exact values; see the module's notes), the
    ``risk_coverage`` curve on that grid, and with ``segment_column`` the same per segment.
    """
    _require_ray()
    from credo._validate import check_positive_int

    n_bins = check_positive_int(n_bins, "n_bins")
    partial = ds.map_batches(
        _numpy_batches(block_stats),
        batch_format="numpy",
        batch_size=None,  # one reduction per block
        fn_kwargs={
            "confidence_column": confidence_column,
            "correct_column": correct_column,
            "segment_column": segment_column,
            "n_bins": n_bins,
        },
    )
    agg = _sum_stats(_HEAD + 3 * n_bins + 2 * GRID_CELLS)
    if segment_column is None:
        row = partial.aggregate(agg)
        return metrics_from_stats(np.frombuffer(row["credo_stats"], dtype=np.float64), n_bins)
    rows = partial.groupby("segment").aggregate(agg).take_all()
    per_segment = {str(r["segment"]): np.frombuffer(r["credo_stats"], dtype=np.float64) for r in rows}
    out = metrics_from_stats(functools.reduce(operator.add, per_segment.values()), n_bins)
    out["segments"] = {}
    for seg in sorted(per_segment):
        m = metrics_from_stats(per_segment[seg], n_bins)
        m.pop("risk_coverage")
        out["segments"][seg] = m
    return out
