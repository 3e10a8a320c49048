"""``credo bench``: credo against numpy / scikit-learn / MAPIE / torch on this machine.

Each workload times credo and every peer that is installed, in the same process, best of a few
runs, and prints the speed-up. Peers that are not installed are skipped, never faked. The
numbers are for this machine; ``make bench`` in a source checkout runs the full suite with the
targets checked.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import click
import numpy as np

from credo.cli._common import echo_json, progress, table


def best_time(fn: Callable[[], Any], repeat: int = 3) -> float:
    fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def per_call(fn: Callable[[], Any], calls: int = 20000) -> float:
    fn()
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - t0) / calls)
    return best


def _numpy_token_signals(logits: np.ndarray, chosen: np.ndarray) -> Any:
    m = logits.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(logits - m).sum(axis=1))
    logp = logits - lse[:, None]
    p = np.exp(logp)
    entropy = -(p * logp).sum(axis=1)
    top2 = np.partition(logits, -2, axis=1)[:, -2:]
    chosen_lp = np.take_along_axis(logp, chosen[:, None], axis=1)
    return entropy, top2, chosen_lp


def workloads(quick: bool) -> list[tuple[str, Callable[[], dict[str, float]]]]:
    rng = np.random.default_rng(0)
    out: list[tuple[str, Callable[[], dict[str, float]]]] = []

    def signals() -> dict[str, float]:
        import credo

        rows, vocab = (128, 32000) if quick else (512, 128256)
        logits = rng.normal(size=(rows, vocab)).astype(np.float32)
        chosen = rng.integers(0, vocab, size=rows)
        res = {
            "credo": best_time(lambda: credo.token_signals(logits, chosen, threads=1)),
            "numpy": best_time(lambda: _numpy_token_signals(logits, chosen)),
        }
        try:
            import torch
        except ImportError:
            return res
        t = torch.from_numpy(logits)
        c = torch.from_numpy(chosen)

        def torch_pipeline() -> None:
            lp = torch.log_softmax(t, dim=1)
            _ = -(lp.exp() * lp).sum(dim=1), torch.topk(t, 2, dim=1), lp.gather(1, c[:, None])

        torch.set_num_threads(1)
        res["torch"] = best_time(torch_pipeline)
        return res

    out.append((f"token signals {'[128, 32000]' if quick else '[512, 128256]'} f32, 1 thread", signals))

    def isotonic() -> dict[str, float]:
        from credo.calibration import IsotonicCalibrator

        n = 100_000 if quick else 1_000_000
        x = rng.random(n)
        y = (rng.random(n) < x).astype(np.float64)
        res = {"credo": best_time(lambda: IsotonicCalibrator().fit(x, y))}
        try:
            from sklearn.isotonic import IsotonicRegression
        except ImportError:
            return res
        res["scikit-learn"] = best_time(lambda: IsotonicRegression().fit(x, y))
        return res

    out.append((f"isotonic fit, n = {'1e5' if quick else '1e6'}", isotonic))

    def one_value() -> dict[str, float]:
        from credo.calibration import IsotonicCalibrator

        x = rng.random(10_000)
        y = (rng.random(10_000) < x).astype(np.float64)
        cal = IsotonicCalibrator(out_of_bounds="clip").fit(x, y)
        res = {"credo": per_call(lambda: cal(0.73))}
        try:
            from sklearn.isotonic import IsotonicRegression
        except ImportError:
            return res
        sk = IsotonicRegression(out_of_bounds="clip").fit(x, y)
        q = np.array([0.73])
        res["scikit-learn"] = per_call(lambda: sk.predict(q), calls=2000)
        return res

    out.append(("one calibrated value from Python", one_value))

    def ece() -> dict[str, float]:
        from credo import metrics

        n = 100_000 if quick else 1_000_000
        conf = rng.random(n)
        correct = (rng.random(n) < conf).astype(np.int64)

        def numpy_ece() -> float:
            b = np.minimum((conf * 15).astype(np.int64), 14)
            cnt = np.bincount(b, minlength=15)
            gap = np.bincount(b, weights=conf, minlength=15) - np.bincount(b, weights=correct, minlength=15)
            return float(np.abs(gap).sum() / cnt.sum())

        return {
            "credo": best_time(lambda: metrics.ece(correct, conf, n_bins=15)),
            "numpy bincount": best_time(numpy_ece),
        }

    out.append((f"ECE, n = {'1e5' if quick else '1e6'}", ece))

    def auroc() -> dict[str, float]:
        from credo import metrics

        n = 100_000 if quick else 1_000_000
        conf = rng.random(n)
        correct = (rng.random(n) < conf).astype(np.int64)
        res = {"credo": best_time(lambda: metrics.auroc(correct, conf))}
        try:
            from sklearn.metrics import roc_auc_score
        except ImportError:
            return res
        res["scikit-learn"] = best_time(lambda: roc_auc_score(correct, conf))
        return res

    out.append((f"AUROC, n = {'1e5' if quick else '1e6'}", auroc))

    def lac() -> dict[str, float]:
        from credo.conformal import ConformalSets

        n, k = (20_000, 100) if quick else (100_000, 100)
        logits = rng.normal(size=(n, k)) * 2
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        u = rng.random(n)[:, None]
        labels = np.minimum((probs.cumsum(axis=1) < u).sum(axis=1), k - 1)  # y ~ probs, row by row

        def ours() -> Any:
            return ConformalSets(alpha=0.1, score="lac").fit(probs, labels).predict_sets(probs)

        def numpy_lac() -> Any:
            s = 1.0 - probs[np.arange(n), labels]
            q = np.quantile(s, np.ceil((n + 1) * 0.9) / n, method="lower")
            return (1.0 - probs) <= q

        return {"credo": best_time(ours), "numpy": best_time(numpy_lac)}

    out.append(("LAC conformal fit + sets, 1e5 x 100" if not quick else "LAC conformal fit + sets, 2e4 x 100", lac))

    def agreement() -> dict[str, float]:
        import credo

        words = ["42", "forty two", "41", "43.0", "The answer is 42", "42.00", "1,000", "1000"]
        questions = [[words[(q * 7 + i * (q % 3 + 1)) % len(words)] for i in range(10)] for q in range(10_000)]

        def pure_python() -> list[str]:
            out = []
            for answers in questions:
                counts: dict[str, int] = {}
                for a in answers:
                    key = " ".join(a.lower().split())
                    counts[key] = counts.get(key, 0) + 1
                out.append(max(counts, key=counts.__getitem__))
            return out

        return {
            "credo": best_time(lambda: credo.agree_batch(questions, method="exact")),
            "pure Python": best_time(pure_python),
        }

    out.append(("agreement (exact), 10,000 questions x 10 answers", agreement))
    return out


@click.command("bench", short_help="Time credo against numpy, scikit-learn, MAPIE, torch here.")
@click.option("--quick", is_flag=True, help="Smaller inputs (a few seconds).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def command(quick: bool, as_json: bool) -> None:
    """Time credo against the peers installed here (numpy, scikit-learn, torch) and print ratios.

    \b
    Examples:
      credo bench --quick
      credo bench --json > bench.json
    """
    rows, results = [], []
    work = workloads(quick)
    bar = progress(len(work), "bench", enabled=False if as_json else None)
    for name, fn in work:
        bar.set_description(name[:30])
        times = fn()
        bar.update(1)
        ours = times.pop("credo")
        for peer, t in times.items():
            results.append({"work": name, "credo_s": ours, "peer": peer, "peer_s": t, "speedup": t / ours})
            rows.append([name, peer, f"{ours * 1e3:.3f}", f"{t * 1e3:.3f}", f"{t / ours:.1f}x"])
        if not times:
            results.append({"work": name, "credo_s": ours, "peer": None, "peer_s": None, "speedup": None})
            rows.append([name, "(no peer installed)", f"{ours * 1e3:.3f}", "", ""])
    bar.close()
    if as_json:
        echo_json({"quick": quick, "results": results})
        return
    click.echo(table(["work", "peer", "credo ms", "peer ms", "speed-up"], rows))
