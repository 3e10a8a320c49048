"""Before/after ECE and NLL of every calibrator on real models (fit on one half, evaluate on the
other). ECE: 15 equal-width bins, (a, b] with the first bin closed, top-label, float64 numpy.

Run: CREDO_DATA=/work/shared/data python benches/python/calibration_report.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))
DATA = Path(os.environ.get("CREDO_DATA", ROOT.parent / "shared" / "data"))

from credo.calibration import MulticlassCalibrator, TemperatureScaling  # noqa: E402


def ece15(p: np.ndarray, y: np.ndarray) -> float:
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(np.float64)
    edges = np.linspace(0.0, 1.0, 16)
    b = np.clip(np.searchsorted(edges[1:-1], conf, side="left"), 0, 14)
    s_conf = np.bincount(b, weights=conf, minlength=15)
    s_acc = np.bincount(b, weights=correct, minlength=15)
    return float(np.abs(s_acc - s_conf).sum() / len(y))


def nll(p: np.ndarray, y: np.ndarray, eps: float = 1e-12) -> float:
    return float(-np.log(np.clip(p[np.arange(len(y)), y], eps, 1.0)).mean())


def calibrators():
    yield "temperature", lambda: TemperatureScaling()
    yield (
        "platt(log-odds)/top",
        lambda: MulticlassCalibrator(method="platt", strategy="top-label", params={"inputs": "probabilities"}),
    )
    for m in ("platt", "beta", "isotonic", "histogram"):
        params = {"n_bins": 15} if m == "histogram" else None
        yield (
            f"{m}/top",
            (lambda m=m, params=params: MulticlassCalibrator(method=m, strategy="top-label", params=params)),
        )
        yield (
            f"{m}/ovr",
            (lambda m=m, params=params: MulticlassCalibrator(method=m, strategy="one-vs-rest", params=params)),
        )


def split(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    perm = np.random.default_rng(seed).permutation(n)
    return perm[: n // 2], perm[n // 2 :]


def evaluate(probs: np.ndarray, y: np.ndarray) -> dict[str, tuple[float, float]]:
    fit, ev = split(len(y))
    out = {"before": (ece15(probs[ev], y[ev]), nll(probs[ev], y[ev]))}
    for name, make in calibrators():
        p = make().fit(probs[fit], y[fit]).predict_proba(probs[ev])
        out[name] = (ece15(p, y[ev]), nll(p, y[ev]))
    return out


def datasets():
    folder = DATA / "cifar10-14-cnns"
    labels = np.loadtxt(folder / "labels.csv", dtype=np.int64) - 1
    for f in sorted(folder.glob("*.csv")):
        if f.name != "labels.csv":
            yield f"cifar10/{f.stem}", np.loadtxt(f, delimiter=","), labels
    for f in sorted((DATA / "netcal-cifar").glob("*.npz")):
        z = np.load(f)
        yield f"netcal/{f.stem}", z["predictions"].astype(np.float64), z["ground_truth"].astype(np.int64)
    z = np.load(DATA / "vgg16-cifar10" / "cifar10_vgg16_probs.npz")
    yield "vgg16-cifar10", z["probs"].astype(np.float64), z["labels"].astype(np.int64)
    z = np.load(DATA / "mmlu-llama13b" / "mmlu_llama13b_option_probs.npz")
    ps, ys = [], []
    for key in sorted(z.files):
        if key.endswith("_scores"):
            ps.append(z[key].mean(axis=0))
            ys.append(z[key[: -len("_scores")] + "_targets"])
    yield "mmlu-llama13b (pooled)", np.concatenate(ps), np.concatenate(ys).astype(np.int64)


def main() -> None:
    names = ["before"] + [n for n, _ in calibrators()]
    print("| model | acc | conf | " + " | ".join(names) + " |")
    print("|---|---:|---:|" + "---:|" * len(names))
    for name, probs, y in datasets():
        probs = probs / probs.sum(axis=1, keepdims=True)
        res = evaluate(probs, y)
        acc = (probs.argmax(1) == y).mean()
        conf = probs.max(1).mean()
        cells = [f"{100 * res[k][0]:.2f} / {res[k][1]:.3f}" for k in names]
        print(f"| {name} | {acc:.3f} | {conf:.3f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
