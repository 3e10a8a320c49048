"""The end-to-end demo behind ``credo demo``, on real data with real labels.

Data: scikit-learn's bundled handwritten-digits set (1,797 8×8 images, 10 classes, shipped
inside scikit-learn, so nothing is downloaded). Model: a weakly regularised logistic regression
(C = 1000), trained in a fraction of a second; its probabilities are over-confident (≈ 99 %
stated, ≈ 94 % right), which is exactly what calibration is for. Nothing here is generated or fabricated: every number
comes from this model on held-out digits.

The data is split four ways (stratified, seeded): *train* the model, *fit* the calibrators,
*select* (choose the calibrator, then fit the guaranteed threshold and the conformal sets on data
the calibrator never saw, as their guarantees require), and *test* (every number reported).

Pipeline: signals from the log-probabilities → five calibrators compared → the calibrator with
the lowest NLL on *select* → a guaranteed selective threshold (P(error | answered) ≤ 2 % with
probability ≥ 90 %) → conformal prediction sets (LAC, 90 % coverage) → policy decisions per request
(answer / verify / abstain) → summary table and an HTML report with plots.
"""

from __future__ import annotations

import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

TARGET_RISK = 0.02
DELTA = 0.1
ALPHA = 0.1


@dataclass
class DemoResult:
    """What the demo measured (all on the *test* split unless the name says otherwise)."""

    n: dict[str, int]
    accuracy: float
    calibrators: dict[str, dict[str, float]]  # name -> metrics on test (including "uncalibrated")
    chosen: str
    threshold: dict[str, Any]
    conformal: dict[str, float]
    decisions: dict[str, Any]
    signals: dict[str, float]
    report: Path | None
    seconds: float
    table: list[list[str]] = field(default_factory=list)


def _split(y: np.ndarray, fractions: tuple[float, ...], seed: int) -> list[np.ndarray]:
    """Stratified split of indices into len(fractions) parts."""
    rng = np.random.default_rng(seed)
    parts: list[list[int]] = [[] for _ in fractions]
    edges = np.cumsum(fractions)
    for cls in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == cls))
        cuts = np.round(edges * len(idx)).astype(int)
        start = 0
        for j, stop in enumerate(cuts):
            parts[j].extend(idx[start:stop].tolist())
            start = stop
    return [np.sort(np.array(p)) for p in parts]


def _metrics(y: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    from credo import metrics

    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y).astype(np.int64)
    return {
        "accuracy": float(correct.mean()),
        "mean_confidence": float(conf.mean()),
        "ece": metrics.ece(y, probs, n_bins=15),
        "nll": metrics.nll(y, probs),
        "brier": metrics.brier_score(y, probs),
        "auroc": metrics.auroc(correct, conf),
        "aurc": metrics.aurc(correct, conf),
    }


def run(report_path: str | Path | None = "credo-report.html", *, seed: int = 0, progress: Any = None) -> DemoResult:
    """Runs the whole demo; ``progress(step_name)`` is called before each step."""
    try:
        from sklearn.datasets import load_digits
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        raise ImportError("credo demo needs scikit-learn: pip install 'credo[demo]'") from None

    import credo
    from credo import calibration, conformal
    from credo.policy import Action, Policy

    step = progress or (lambda name: None)
    t0 = time.perf_counter()

    step("data and model")
    X, y = load_digits(return_X_y=True)
    train, fit, select, test = _split(y, (0.4, 0.2, 0.2, 0.2), seed)
    model = LogisticRegression(C=1000.0, max_iter=10000).fit(X[train], y[train])
    logits = {k: model.predict_log_proba(X[idx]) for k, idx in (("fit", fit), ("select", select), ("test", test))}
    raw = {k: np.exp(v - v.max(axis=1, keepdims=True)) for k, v in logits.items()}
    raw = {k: v / v.sum(axis=1, keepdims=True) for k, v in raw.items()}
    labels = {"fit": y[fit], "select": y[select], "test": y[test]}

    step("signals")
    sig = credo.token_signals(logits["test"].astype(np.float32))
    correct_test = (raw["test"].argmax(axis=1) == labels["test"]).astype(np.int64)
    signal_auroc = {
        "max_logprob": credo.metrics.auroc(correct_test, np.asarray(sig.max_logprob, dtype=np.float64)),
        "neg_entropy": credo.metrics.auroc(correct_test, -np.asarray(sig.entropy, dtype=np.float64)),
        "margin_prob": credo.metrics.auroc(correct_test, np.asarray(sig.margin_prob, dtype=np.float64)),
    }

    step("calibrators")
    candidates = {
        "temperature": calibration.TemperatureScaling(inputs="logits"),
        "isotonic (top-label)": calibration.MulticlassCalibrator(method="isotonic", strategy="top-label"),
        "platt (one-vs-rest)": calibration.MulticlassCalibrator(method="platt", strategy="one-vs-rest"),
        "beta (top-label)": calibration.MulticlassCalibrator(method="beta", strategy="top-label"),
        "histogram (top-label)": calibration.MulticlassCalibrator(method="histogram", strategy="top-label"),
    }
    calibrated: dict[str, dict[str, np.ndarray]] = {}
    for name, cal in candidates.items():
        src = logits if name == "temperature" else raw
        cal.fit(src["fit"], labels["fit"])
        calibrated[name] = {k: cal.predict_proba(src[k]) for k in ("select", "test")}
    table = {"uncalibrated": _metrics(labels["test"], raw["test"])}
    table.update({name: _metrics(labels["test"], p["test"]) for name, p in calibrated.items()})
    chosen = min(calibrated, key=lambda name: credo.metrics.nll(labels["select"], calibrated[name]["select"]))
    probs = calibrated[chosen]

    step("guaranteed selective threshold")
    conf_sel = probs["select"].max(axis=1)
    correct_sel = (probs["select"].argmax(axis=1) == labels["select"]).astype(np.int64)
    with warnings.catch_warnings():
        # an infeasible target is reported in the summary (feasible = False), not raised
        warnings.simplefilter("ignore", conformal.NoThresholdWarning)
        thr = conformal.SelectiveThreshold(target_risk=TARGET_RISK, delta=DELTA, method="ltt").fit(
            conf_sel, correct_sel
        )
    conf_test = probs["test"].max(axis=1)
    correct = (probs["test"].argmax(axis=1) == labels["test"]).astype(np.int64)
    accepted = np.asarray(thr.accept(conf_test), dtype=bool)
    threshold = {
        "target_risk": TARGET_RISK,
        "delta": DELTA,
        "feasible": bool(thr.feasible_),
        "threshold": float(thr.threshold_),
        "coverage": float(accepted.mean()),
        "risk": float(1.0 - correct[accepted].mean()) if accepted.any() else float("nan"),
    }

    step("conformal sets")
    sets_model = conformal.ConformalSets(alpha=ALPHA, score="lac").fit(probs["select"], labels["select"])
    sets = sets_model.predict_sets(probs["test"])
    sizes = sets.sum(axis=1)
    conformal_summary = {
        "alpha": ALPHA,
        "coverage": float(sets[np.arange(len(sets)), labels["test"]].mean()),
        "mean_size": float(sizes.mean()),
        "singletons": float((sizes == 1).mean()),
    }

    step("policy decisions")
    policy = Policy(
        {
            "threshold": min(max(threshold["threshold"], 0.0), 1.0) if np.isfinite(threshold["threshold"]) else 1.0,
            "gray_zone": [
                0.5,
                min(max(threshold["threshold"], 0.5), 1.0) if np.isfinite(threshold["threshold"]) else 1.0,
            ],
            "gray_zone_checks": ["verify"],
            "gray_zone_exhausted": "abstain",
            "max_retries": 0,  # a classifier cannot be re-sampled: a failed check abstains
            "below": "abstain",
            "domains": {"general": {"stakes": "low"}},
        }
    )
    actions: Counter[str] = Counter()
    answered_correct: list[int] = []
    pred = probs["test"].argmax(axis=1)
    for i, c in enumerate(conf_test):
        d = policy.decide(float(c))
        if d.action == Action.VERIFY:
            # The gray-zone check: is the conformal set exactly the predicted class? A pass answers
            # (the set says no other class is plausible at the 90 % level); a failure goes back to
            # the policy, which declines (no retries for a classifier).
            passed = bool(sizes[i] == 1 and sets[i, pred[i]])
            if not passed:
                d = policy.decide(float(c), verifier=False, checks_done=("verify",))
            label = "verify → answer" if passed else "verify → " + d.action.value
            actions[label] += 1
            if passed:
                answered_correct.append(int(correct[i]))
            continue
        actions[d.action.value] += 1
        if d.action == Action.ANSWER:
            answered_correct.append(int(correct[i]))
    decisions = {
        "actions": dict(sorted(actions.items())),
        "answered": len(answered_correct) / len(conf_test),
        "accuracy_answered": float(np.mean(answered_correct)) if answered_correct else float("nan"),
    }

    report = None
    if report_path is not None:
        step("HTML report")
        from credo import report as report_mod

        report = report_mod.html(
            report_path,
            labels["test"],
            raw["test"],
            calibrated={name: p["test"] for name, p in calibrated.items()},
            provenance={
                "data": "scikit-learn load_digits (1,797 handwritten digits, 10 classes; UCI)",
                "model": "LogisticRegression(C=1000) trained on a 40 % stratified split",
                "splits": f"train {len(train)}, calibrator fit {len(fit)}, select {len(select)}, test {len(test)}",
                "seed": seed,
                "chosen calibrator": f"{chosen} (lowest NLL on the select split)",
                "selective threshold": f"LTT, target risk {TARGET_RISK}, delta {DELTA}: {threshold['threshold']:.4f}",
                "credo": credo.__version__,
            },
            title="credo demo: logistic regression on handwritten digits",
        )

    return DemoResult(
        n={"train": len(train), "fit": len(fit), "select": len(select), "test": len(test)},
        accuracy=float(correct_test.mean()),
        calibrators=table,
        chosen=chosen,
        threshold=threshold,
        conformal=conformal_summary,
        decisions=decisions,
        signals=signal_auroc,
        report=None if report is None else Path(report),
        seconds=time.perf_counter() - t0,
    )
