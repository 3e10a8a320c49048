"""``credo bench``: credo against numpy / scikit-learn / scipy / MAPIE / rapidfuzz / torch here.

Each workload times credo and every peer that is installed in turn (credo, peer, credo, peer …),
the same number of rounds each, and prints the ratio of the medians. Peers that are not
installed are skipped, never faked. ``--quick`` runs the workloads, inputs, peers and labels of
the source checkout's quick benchmark (``make bench-smoke``), so its rows are rows of the README's
performance table (generated from that benchmark) and its figures compare with them on the same
machine; without ``--quick`` the sizes are the full benchmark's (``make bench``).
"""

from __future__ import annotations

import os
import random
import re
import statistics
import string
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import click
import numpy as np

from credo.cli._common import echo_json, progress, table

# A workload returns one (work, peer, credo seconds, peer seconds) row per peer timed.
Rows = list[tuple[str, str, float, float]]


def median_times_interleaved(fns: list[Callable[[], Any]], repeat: int, min_sample: float = 1e-3) -> list[float]:
    """Median seconds per call of each of ``fns`` over ``repeat`` rounds timed in turn, after a
    warm-up call each (the benchmark harness's method); short calls are looped within a sample."""
    inner = []
    for fn in fns:
        fn()
        t0 = time.perf_counter()
        fn()
        inner.append(max(1, int(min_sample / max(time.perf_counter() - t0, 1e-9))))
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            for _ in range(inner[i]):
                fn()
            samples[i].append((time.perf_counter() - t0) / inner[i])
    return [statistics.median(s) for s in samples]


def _pairs(work: str, credo_fn: Callable[[], Any], peers: dict[str, Callable[[], Any]], repeat: int) -> Rows:
    """credo against each peer, one interleaved pair at a time (as the benchmark does)."""
    rows = []
    for label, fn in peers.items():
        ours, theirs = median_times_interleaved([credo_fn, fn], repeat)
        rows.append((work, label, ours, theirs))
    return rows


def numpy_token_signals(x: np.ndarray, chosen: np.ndarray) -> tuple[np.ndarray, ...]:
    """Every token signal as an expert NumPy user writes it: one ``exp``, entropy as
    lse − Σe·z/s, the second maximum by masking the argmax (the benchmark's peer)."""
    r = np.arange(x.shape[0])
    argmax = x.argmax(axis=1)
    m = x[r, argmax]
    z = x - m[:, None]
    e = np.exp(z)
    s = e.sum(axis=1)
    log_s = np.log(s)
    entropy = log_s - np.einsum("ij,ij->i", e, z) / s
    lse = m + log_s
    c = x[r, chosen]
    rank = np.count_nonzero(x > c[:, None], axis=1)
    z[r, argmax] = -np.inf
    return lse, entropy, c - lse, -z.max(axis=1), argmax, rank


def _signals(quick: bool) -> Rows:
    import credo

    rows_, vocab = (64, 128_256) if quick else (512, 128_256)
    x = (np.random.default_rng(0).standard_normal((rows_, vocab), dtype=np.float32) * 3).astype(np.float32)
    chosen = np.random.default_rng(2).integers(0, vocab, rows_)
    repeat = 7 if quick else 11

    def ours() -> Any:
        return credo.token_signals(x, chosen, threads=1)

    out = _pairs(
        f"all token signals [{rows_}, {vocab}] f32, 1 thread",
        ours,
        {"numpy, expert (1 thread; one exp, masked top-2; median)": lambda: numpy_token_signals(x, chosen)},
        repeat,
    )
    try:
        import torch
    except ImportError:
        return out
    torch.set_num_threads(1)
    tx, tc = torch.from_numpy(x), torch.from_numpy(chosen)

    def torch_pipeline() -> Any:
        lp = torch.log_softmax(tx, dim=1)
        return -(lp.exp() * lp).sum(dim=1), lp.gather(1, tc[:, None]), torch.topk(tx, 2, dim=1)

    return out + _pairs(
        f"all token signals [{rows_}, {vocab}] f32, 1 thread",
        ours,
        {"torch (1 thread; median)": torch_pipeline},
        repeat,
    )


def _isotonic(quick: bool) -> Rows:
    from credo.calibration import IsotonicCalibrator

    n = 100_000 if quick else 1_000_000
    rng = np.random.default_rng(0)
    x = rng.random(n)
    y = (rng.random(n) < x**1.3).astype(np.float64)
    peers: dict[str, Callable[[], Any]] = {}
    try:
        from scipy.optimize import isotonic_regression  # type: ignore[import-untyped]
        from sklearn.isotonic import IsotonicRegression
    except ImportError:
        return [(f"isotonic fit, unsorted, n={n:.0e}", "", _once(lambda: IsotonicCalibrator().fit(x, y)), 0.0)]
    peers["sklearn IsotonicRegression.fit"] = lambda: IsotonicRegression(out_of_bounds="clip").fit(x, y)
    peers["numpy argsort + scipy isotonic_regression"] = lambda: isotonic_regression(y[np.argsort(x)])
    return _pairs(f"isotonic fit, unsorted, n={n:.0e}", lambda: IsotonicCalibrator().fit(x, y), peers, 7)


def _metrics_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    conf = rng.beta(5, 1.5, n)
    return conf, (rng.uniform(size=n) < conf**1.3).astype(np.float64)


def _ece(quick: bool) -> Rows:
    from credo import metrics

    n = 100_000 if quick else 1_000_000
    conf, correct = _metrics_data(n, 0)

    def numpy_ece() -> float:
        idx = np.minimum((conf * 15).astype(np.intp), 14)
        gap = np.bincount(idx, correct, 15) - np.bincount(idx, conf, 15)
        return float(np.abs(gap).sum() / len(conf))

    return _pairs(f"ECE 15 bins, n={n:.0e}", lambda: metrics.ece(correct, conf), {"numpy bincount": numpy_ece}, 7)


def _auroc(quick: bool) -> Rows:
    from credo import metrics

    n = 100_000 if quick else 1_000_000
    conf, correct = _metrics_data(n, 1)
    peers: dict[str, Callable[[], Any]] = {}
    try:
        from scipy.stats import rankdata  # type: ignore[import-untyped]
        from sklearn.metrics import roc_auc_score
    except ImportError:
        return [(f"AUROC, n={n:.0e}", "", _once(lambda: metrics.auroc(correct, conf)), 0.0)]

    def numpy_rank_auroc() -> float:
        ranks = rankdata(conf)
        pos = correct == 1
        n_pos = np.count_nonzero(pos)
        return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * (n - n_pos)))

    peers["scikit-learn roc_auc_score (median)"] = lambda: roc_auc_score(correct, conf)
    peers["numpy/scipy rank AUROC, Mann-Whitney (median)"] = numpy_rank_auroc
    return _pairs(f"AUROC, n={n:.0e}", lambda: metrics.auroc(correct, conf), peers, 7)


def _lac(quick: bool) -> Rows:
    import math

    from credo.conformal import ConformalSets

    n, k, alpha = (20_000 if quick else 100_000), 100, 0.1
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.full(k, 0.1), size=2 * n)
    cal, test = probs[:n], probs[n:]
    labels = np.array([rng.choice(k, p=p) for p in cal])

    def numpy_lac() -> Any:
        scores = 1.0 - cal[np.arange(n), labels]
        q = np.quantile(scores, math.ceil((n + 1) * (1 - alpha)) / n, method="lower")
        return (1.0 - test) <= q

    def ours() -> Any:
        return ConformalSets(alpha, mode="compat").fit(cal, labels).predict_sets(test)

    return _pairs(f"LAC conformalize + predict {n}x{k}", ours, {"numpy gather + quantile + >= (median)": numpy_lac}, 5)


_SUBJECTS = ["the eiffel tower", "paris", "mount everest", "the pacific ocean", "george washington",
             "photosynthesis", "the mitochondria", "isaac newton", "the amazon river", "jupiter"]  # fmt: skip
_FRAMES = ["{}", "The answer is {}.", "It is {}", "{}!", "I think it's {}", "Answer: {}", "{}, of course",
           "Probably {} but not sure", "\"{}\"", "Definitely {}."]  # fmt: skip
_PUNCT = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def sample_questions(n: int, seed: int = 0) -> list[list[str]]:
    """Sampled answers to n questions, 10 each (the generator of this command and of
    ``benches/python/bench_agreement.py``)."""
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        right = rnd.choice([*_SUBJECTS, str(rnd.randint(0, 500))])
        wrong = [rnd.choice([*_SUBJECTS, str(rnd.randint(0, 500))]) for _ in range(3)]
        p = rnd.uniform(0.3, 1.0)
        answers = []
        for _ in range(10):
            text = rnd.choice(_FRAMES).format(right if rnd.random() < p else rnd.choice(wrong))
            answers.append(text.upper() if rnd.random() < 0.1 else text)
        out.append(answers)
    return out


def squad_normalize(s: str) -> str:
    """SQuAD's answer normalisation in plain Python (the pure-Python peer's)."""
    s = "".join(ch for ch in s.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", s).split())


def _agreement(quick: bool) -> Rows:
    from credo.agreement import agree_batch

    questions = sample_questions(2_000 if quick else 10_000)

    def pure_python() -> list[tuple[str, int]]:
        return [Counter(squad_normalize(a) for a in q).most_common(1)[0] for q in questions]

    peers: dict[str, Callable[[], Any]] = {"pure Python (SQuAD normalise + Counter; median)": pure_python}
    try:
        from rapidfuzz.utils import default_process
    except ImportError:
        pass
    else:
        peers["rapidfuzz default_process + Counter (median)"] = lambda: [
            Counter(default_process(a) for a in q).most_common(1)[0] for q in questions
        ]
    work = f"agreement exact, {len(questions)} x 10"
    return _pairs(work, lambda: agree_batch(questions, method="exact"), peers, 5)


def _once(fn: Callable[[], Any]) -> float:
    return median_times_interleaved([fn], 3)[0]


WORKLOADS: list[tuple[str, Callable[[bool], Rows]]] = [
    ("token signals", _signals),
    ("isotonic fit", _isotonic),
    ("ECE", _ece),
    ("AUROC", _auroc),
    ("LAC conformal", _lac),
    ("agreement", _agreement),
]


@click.command("bench", short_help="Time credo against numpy, scikit-learn, MAPIE, torch here.")
@click.option("--quick", is_flag=True, help="The quick benchmark's sizes (the README table's rows; about a minute).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def command(quick: bool, as_json: bool) -> None:
    """Time credo against the peers installed here and print the ratios of medians.

    \b
    Examples:
      credo bench --quick
      credo bench --json > bench.json
    """
    from credo.signals import simd_level

    rows, results = [], []
    bar = progress(len(WORKLOADS), "bench", enabled=False if as_json else None)
    for name, fn in WORKLOADS:
        bar.set_description(name[:30])
        for work, peer, ours, theirs in fn(quick):
            speedup = theirs / ours if peer else None
            results.append(
                {"work": work, "peer": peer or None, "credo_s": ours, "peer_s": theirs or None, "speedup": speedup}
            )
            if peer:
                rows.append([work, peer, f"{ours * 1e3:.3f}", f"{theirs * 1e3:.3f}", f"{speedup:.1f}x"])
            else:
                rows.append([work, "(no peer installed)", f"{ours * 1e3:.3f}", "", ""])
        bar.update(1)
    bar.close()
    if as_json:
        method = "medians of interleaved rounds"
        echo_json({"quick": quick, "method": method, "simd": simd_level(), "results": results})
        return
    # the kernels' SIMD level is the machine's (the README table states the one it was measured at)
    click.echo(f"SIMD level {simd_level()}, {os.cpu_count()} CPUs; medians of interleaved rounds")
    click.echo(table(["work", "peer", "credo ms", "peer ms", "speed-up"], rows))
