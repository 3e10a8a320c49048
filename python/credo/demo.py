"""The end-to-end demo behind ``credo demo``, on real data with real labels, told for a newcomer.

Data: scikit-learn's bundled handwritten-digits set (1,797 8×8 images, 10 classes, shipped
inside scikit-learn, so nothing is downloaded). Model: a weakly regularised logistic regression
(C = 1000), trained in a fraction of a second; its probabilities are over-confident (≈ 99 %
stated, ≈ 94 % right), which is exactly what calibration is for. Nothing here is generated or
fabricated: every number comes from this model on held-out digits.

The data is split four ways (stratified, seeded): *train* the model, *fit* the calibrators,
*select* (choose the calibrator, then fit the guaranteed threshold and the conformal sets on data
the calibrator never saw, as their guarantees require), and *test* (every number reported).

Pipeline: signals from the log-probabilities → five calibrators compared → the calibrator with
the lowest NLL on *select* → a guaranteed selective threshold (P(error | answered) ≤ 2 % with
probability ≥ 90 %) → conformal prediction sets (LAC, 90 % coverage) → policy decisions per request
(answer / verify / abstain) → the story (:func:`story`: plain-words sections, each term explained
where it is printed), which ``credo demo`` prints and the HTML report repeats, with its plots.
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
GRAY_LOW = 0.5

#: Every term the demo prints, in plain words (the documentation's glossary repeats each one).
GLOSSARY: dict[str, str] = {
    "confidence": "the probability the model (or a calibrator) gives to its own answer, the largest of its "
    "ten class probabilities",
    "calibration": "a confidence is calibrated when, among all answers given with confidence 0.8, about 80 % "
    "are right; a calibrator is a small map fitted on labelled data that corrects the stated confidence",
    "accuracy": "share of answers that are right",
    "mean confidence": "average stated confidence; above the accuracy means over-confident",
    "ECE": "expected calibration error: group the answers by confidence (15 equal-width bins), take "
    "|accuracy - mean confidence| in each group and average, weighted by group size; 0 is perfect",
    "NLL": "negative log-likelihood: the average of -log(probability given to the true class); punishes "
    "confident mistakes hard; lower is better",
    "Brier": "Brier score: mean squared difference between the probability vector and the one-hot truth; "
    "lower is better",
    "AUROC": "area under the ROC curve of 'answer is right' against confidence: the chance that a random "
    "right answer gets a higher confidence than a random wrong one (0.5 = no better than a coin; ties count "
    "half)",
    "AURC": "area under the risk-coverage curve: the error rate among the answers kept, averaged over every "
    "cut-off from 'keep only the most confident' to 'keep all'; lower is better",
    "changed": "test answers whose predicted class the calibrator changed (the top class of the calibrated "
    "probabilities differs from the model's)",
    "ties": "largest share of test answers that received exactly the same confidence value",
    "max_logprob": "log-probability of the predicted class",
    "neg_entropy": "minus the entropy of the ten class probabilities (spread-out probabilities = uncertain)",
    "margin_prob": "probability of the top class minus that of the runner-up",
    "temperature": "temperature scaling: divides all ten logits by one fitted number T; never changes the "
    "predicted class",
    "isotonic": "isotonic regression: the best non-decreasing step-wise map from stated confidence to "
    "observed accuracy",
    "platt": "Platt scaling: a fitted logistic curve of the stated probability",
    "beta": "beta calibration: a fitted curve of log p and log(1 - p), more flexible than Platt's",
    "histogram": "histogram binning: the observed accuracy of each confidence bin replaces every confidence "
    "in that bin",
    "top-label": "one map for the confidence of the predicted class; the calibrated confidence goes on that "
    "class and the rest is shared among the others in proportion",
    "one-vs-rest": "one map per class for 'is it this class', then each row rescaled to sum to 1",
    "LTT": "Learn then Test (Angelopoulos et al. 2021): tries thresholds from strict to lenient and keeps "
    "only those whose error rate passes a statistical test at level delta; gives a threshold with a "
    "guarantee",
    "target risk": "the largest acceptable error rate among answered requests (here 0.02)",
    "delta": "the chance that the guarantee fails because the select split happened to be lucky (here 0.1, so "
    "the guarantee holds with probability >= 90 %)",
    "coverage (answers)": "share of requests that are answered rather than declined",
    "selective risk": "error rate among the answered requests, P(error | answered)",
    "LAC": "least ambiguous set-valued classifier (Sadinle et al. 2019): a prediction set holds every class "
    "whose probability is at least 1 - q, with q fitted on the select split",
    "alpha": "allowed miss rate of the prediction sets: they must hold the true class for at least "
    "1 - alpha = 90 % of requests",
    "coverage (sets)": "share of test requests whose prediction set holds the true class",
    "set size": "number of classes in a prediction set; 1 is a confident single answer, 0 an empty set",
    "empty set": "no class reaches the required probability 1 - q: the set says 'none of these is plausible "
    "enough', which is a signal to abstain",
    "APS": "adaptive prediction sets (Romano et al. 2020): classes are added in decreasing probability until "
    "their total passes a fitted bar; the sets grow where the model is unsure",
    "gray zone": f"confidences from {GRAY_LOW} up to the certified threshold: too low to answer directly, too "
    "high to give up at once",
    "answer": "return the model's prediction",
    "verify": "run a check before answering; here the check passes when the conformal set holds exactly the "
    "predicted class",
    "abstain": "decline to answer (say 'I don't know', or hand over to a person)",
}


@dataclass
class DemoResult:
    """What the demo measured (all on the *test* split unless the name says otherwise)."""

    n: dict[str, int]
    accuracy: float
    calibrators: dict[str, dict[str, float]]  # name -> metrics on test (including "uncalibrated")
    chosen: str
    threshold: dict[str, Any]
    conformal: dict[str, Any]
    decisions: dict[str, Any]
    signals: dict[str, float]
    report: Path | None
    seconds: float
    #: per test request: "label", "prediction", "confidence" (calibrated), "set_size", "route"
    requests: dict[str, np.ndarray] = field(default_factory=dict, repr=False)


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


def _metrics(y: np.ndarray, probs: np.ndarray, raw_pred: np.ndarray) -> dict[str, float]:
    from credo import metrics

    conf = probs.max(axis=1)
    pred = probs.argmax(axis=1)
    correct = (pred == y).astype(np.int64)
    _, tie_counts = np.unique(conf, return_counts=True)
    return {
        "accuracy": float(correct.mean()),
        "mean_confidence": float(conf.mean()),
        "ece": metrics.ece(y, probs, n_bins=15),
        "nll": metrics.nll(y, probs),
        "brier": metrics.brier_score(y, probs),
        "auroc": metrics.auroc(correct, conf),
        "aurc": metrics.aurc(correct, conf),
        "changed": int((pred != raw_pred).sum()),
        "changed_right": int(((pred != raw_pred) & (pred == y)).sum()),
        "changed_wrong": int(((pred != raw_pred) & (raw_pred == y)).sum()),
        "ties": float(tie_counts.max() / len(conf)),
    }


#: Routes a test request can take through the policy, in the order the tables list them.
ROUTES = ("answer", "verify → answer", "verify → abstain", "abstain")


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
    raw_pred = raw["test"].argmax(axis=1)

    step("signals")
    sig = credo.token_signals(logits["test"].astype(np.float32))
    correct_test = (raw_pred == labels["test"]).astype(np.int64)
    signal_auroc = {
        "max_logprob": credo.metrics.auroc(correct_test, np.asarray(sig.max_logprob, dtype=np.float64)),
        "neg_entropy": credo.metrics.auroc(correct_test, -np.asarray(sig.entropy, dtype=np.float64)),
        "margin_prob": credo.metrics.auroc(correct_test, np.asarray(sig.margin_prob, dtype=np.float64)),
    }

    step("calibrators")
    candidates: dict[str, calibration.TemperatureScaling | calibration.MulticlassCalibrator] = {
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
    table = {"uncalibrated": _metrics(labels["test"], raw["test"], raw_pred)}
    table.update({name: _metrics(labels["test"], p["test"], raw_pred) for name, p in calibrated.items()})
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
    pred = probs["test"].argmax(axis=1)
    correct = (pred == labels["test"]).astype(np.int64)
    accepted = np.asarray(thr.accept(conf_test), dtype=bool)
    assert not isinstance(thr.threshold_, dict)  # fitted without segments: one threshold
    threshold = {
        "target_risk": TARGET_RISK,
        "delta": DELTA,
        "feasible": bool(thr.feasible_),
        "threshold": float(thr.threshold_),
        "n_select": len(conf_sel),
        "coverage": float(accepted.mean()),
        "answered": int(accepted.sum()),
        "errors": int((1 - correct[accepted]).sum()),
        "risk": float(1.0 - correct[accepted].mean()) if accepted.any() else float("nan"),
    }

    step("conformal sets")
    sets_model = conformal.ConformalSets(alpha=ALPHA, score="lac").fit(probs["select"], labels["select"])
    sets = sets_model.predict_sets(probs["test"])
    sizes = sets.sum(axis=1)
    holds = sets[np.arange(len(sets)), labels["test"]]
    conformal_summary: dict[str, Any] = {
        "alpha": ALPHA,
        "score": "lac",
        "coverage": float(holds.mean()),
        "mean_size": float(sizes.mean()),
        "singletons": float((sizes == 1).mean()),
        "empty": float((sizes == 0).mean()),
        # size (0, 1, 2, "3+") -> [requests, of which the set holds the true class]
        "by_size": {
            str(k): [int(m.sum()), int(holds[m].sum())]
            for k, m in (("0", sizes == 0), ("1", sizes == 1), ("2", sizes == 2), ("3+", sizes >= 3))
            if m.any()
        },
        "model_wrong_in_empty": int((1 - correct[sizes == 0]).sum()),
    }
    # For comparison: APS with MAPIE's include_last_label=True, whose sets are never empty.
    aps = conformal.ConformalSets(alpha=ALPHA, score="aps", include_last_label=True, seed=seed)
    aps_sizes = aps.fit(probs["select"], labels["select"]).predict_sets(probs["test"])
    conformal_summary["aps"] = {
        "coverage": float(aps_sizes[np.arange(len(aps_sizes)), labels["test"]].mean()),
        "mean_size": float(aps_sizes.sum(axis=1).mean()),
        "singletons": float((aps_sizes.sum(axis=1) == 1).mean()),
        "empty": float((aps_sizes.sum(axis=1) == 0).mean()),
    }

    step("policy decisions")
    t_answer = min(max(threshold["threshold"], 0.0), 1.0) if np.isfinite(threshold["threshold"]) else 1.0
    policy = Policy(
        {
            "threshold": t_answer,
            "gray_zone": [GRAY_LOW, max(t_answer, GRAY_LOW)],
            "gray_zone_checks": ["verify"],
            "gray_zone_exhausted": "abstain",
            "max_retries": 0,  # a classifier cannot be re-sampled: a failed check abstains
            "below": "abstain",
            "domains": {"general": {"stakes": "low"}},
        }
    )
    routes = np.empty(len(conf_test), dtype=object)
    for i, c in enumerate(conf_test):
        d = policy.decide(float(c))
        if d.action == Action.VERIFY:
            # The gray-zone check: is the conformal set exactly the predicted class? A pass answers
            # (the set says no other class is plausible at the 90 % level); a failure goes back to
            # the policy, which declines (no retries for a classifier).
            passed = bool(sizes[i] == 1 and sets[i, pred[i]])
            if not passed:
                d = policy.decide(float(c), verifier=False, checks_done=("verify",))
            routes[i] = "verify → answer" if passed else "verify → " + d.action.value
        else:
            routes[i] = d.action.value
    decisions = _decision_summary(routes, correct)

    result = DemoResult(
        n={"train": len(train), "fit": len(fit), "select": len(select), "test": len(test)},
        accuracy=float(correct_test.mean()),
        calibrators=table,
        chosen=chosen,
        threshold=threshold,
        conformal=conformal_summary,
        decisions=decisions,
        signals=signal_auroc,
        report=None,
        seconds=0.0,
        requests={
            "label": labels["test"],
            "prediction": pred,
            "confidence": conf_test,
            "set_size": sizes,
            "route": routes.astype(str),
        },
    )
    if report_path is not None:
        step("HTML report")
        from credo import report as report_mod

        result.report = Path(
            report_mod.html(
                report_path,
                labels["test"],
                raw["test"],
                calibrated={name: p["test"] for name, p in calibrated.items()},
                provenance={
                    "data": "scikit-learn load_digits (1,797 handwritten digits, 10 classes; UCI)",
                    "model": "LogisticRegression(C=1000) trained on a 40 % stratified split",
                    "splits": f"train {len(train)}, calibrator fit {len(fit)}, select {len(select)}, test {len(test)}",
                    "seed": seed,
                },
                sections=story(result),
                title="credo demo: logistic regression on handwritten digits",
            )
        )
    result.seconds = time.perf_counter() - t0
    return result


def _decision_summary(routes: np.ndarray, correct: np.ndarray) -> dict[str, Any]:
    """Requests and errors per route, and the policy's own measured error among its answers."""
    counts = Counter(routes.tolist())
    per_route = {
        r: {"requests": int((routes == r).sum()), "errors": int((1 - correct[routes == r]).sum())}
        for r in ROUTES
        if counts.get(r)
    }
    answered = np.isin(routes, ["answer", "verify → answer"])
    return {
        "actions": {r: v["requests"] for r, v in per_route.items()},
        "routes": per_route,
        "answered": float(answered.mean()),
        "accuracy_answered": float(correct[answered].mean()) if answered.any() else float("nan"),
        "risk_answered": float(1 - correct[answered].mean()) if answered.any() else float("nan"),
    }


def _terms(*names: str) -> tuple[tuple[str, str], ...]:
    return tuple((name, GLOSSARY[name]) for name in names)


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %".replace(".0 %", " %")


def story(r: DemoResult) -> list[Any]:
    """The demo's findings as :class:`credo.report.Section` blocks, in plain words: what was
    done, what each printed term means, what is guaranteed and what is not. ``credo demo``
    prints them; the HTML report shows the same blocks."""
    from credo.report import Section

    n = r.n
    raw = r.calibrators["uncalibrated"]
    out = [
        Section(
            "1. The story",
            (
                "A model reads handwritten digits (8x8 pixel images of 0-9) and says which digit it sees. "
                "With each answer it states a confidence: the probability it gives to that answer. The "
                "question credo answers is whether those confidences can be trusted, and what to do with "
                "each request as a result: answer it, check it first, or decline.",
                f"The model is a logistic regression trained on {n['train']} images. On {n['test']} images "
                f"it never saw, it is right {_pct(raw['accuracy'])} of the time but states "
                f"{_pct(raw['mean_confidence'])} on average: it is over-confident. The remaining images are "
                f"split so that every step is fitted on data the next step does not reuse: {n['fit']} to "
                f"fit the calibrators, {n['select']} to choose one and to certify the threshold and the "
                f"prediction sets, and the {n['test']} test images for every number shown below.",
            ),
            terms=_terms("confidence", "calibration"),
        ),
        Section(
            "2. Signals: which numbers tell right answers from wrong ones",
            (
                "Before any fitting, three numbers computed from the model's log-probabilities are compared on "
                "how well they separate right answers from wrong ones.",
            ),
            header=("signal", "AUROC"),
            rows=tuple((k, v) for k, v in r.signals.items()),
            terms=_terms("max_logprob", "neg_entropy", "margin_prob", "AUROC"),
        ),
    ]
    out.append(_calibrator_section(r))
    out.append(_guarantee_section(r))
    out.append(_sets_section(r))
    out.append(_decision_section(r))
    return out


def _calibrator_section(r: DemoResult) -> Any:
    from credo.report import Section

    cols = ("accuracy", "mean_confidence", "ece", "nll", "brier", "auroc", "aurc", "changed", "ties")
    header = ("accuracy", "mean confidence", "ECE", "NLL", "Brier", "AUROC", "AURC", "changed", "ties")
    raw = r.calibrators["uncalibrated"]
    rows = tuple(
        (name + (" *" if name == r.chosen else ""), *(m[c] for c in cols)) for name, m in r.calibrators.items()
    )
    notes = [
        f"* chosen: the lowest NLL on the select split ({r.chosen}). Temperature scaling divides every "
        "logit by one number, so it keeps the model's answers and their order and only softens the "
        "confidences; the others reshape the confidence more freely.",
    ]
    changed = {name: m for name, m in r.calibrators.items() if m["changed"]}
    if changed:
        listed = "; ".join(
            f"{name}: {m['changed']} ({m['changed_right']} now right, {m['changed_wrong']} now wrong)"
            for name, m in changed.items()
        )
        why = []
        if any("top-label" in name for name in changed):
            why.append(
                "A top-label calibrator maps the confidence of the predicted class; where the map brings it "
                "down a lot (its few fitting examples in that confidence range were mostly wrong), the "
                "leftover probability, shared among the other classes, can make the runner-up the new top "
                "class."
            )
        if any("one-vs-rest" in name for name in changed):
            why.append(
                "A one-vs-rest calibrator fits a separate curve for each class and rescales each row to sum "
                "to 1; a class whose curve lifts it more than the top class's curve can overtake it."
            )
        notes.append(
            f"Some calibrators changed the model's answers, which is why their accuracy differs ({listed}). "
            + " ".join(why)
            + " To keep the answers, use temperature scaling, or read only the calibrated confidence of the "
            "model's own answer (MulticlassCalibrator.predict_confidence)."
        )
    if raw["ties"] >= 0.2:
        notes.append(
            f"The uncalibrated model states exactly the same confidence for {_pct(raw['ties'])} of the test "
            f"images: {np.float64(1.0):.1f} after rounding, since float64 cannot hold 1 minus less than "
            "1e-16 (its log-probability is exactly 0 too). The entropy, which adds up the tiny "
            "probabilities of the other nine classes, still tells some of them apart: AUROC "
            f"{r.signals['neg_entropy']:.4f} for neg_entropy against {r.signals['max_logprob']:.4f} for "
            "max_logprob in section 2."
        )
    for name, m in r.calibrators.items():
        if name == "uncalibrated" or m["auroc"] >= raw["auroc"] - 0.1:
            continue
        if m["ties"] >= 0.5:
            notes.append(
                f"{name} gives {_pct(m['ties'])} of the test answers exactly the same confidence (one value per "
                "bin, and most answers fall in the top bin), so it cannot rank them: every right-wrong pair "
                f"among them is a tie and counts half, and its AUROC falls to {m['auroc']:.3f}. Its low ECE "
                "shows that ECE alone does not make a good confidence: putting every answer in one bin is "
                "calibrated and useless for telling right from wrong."
            )
        else:
            notes.append(
                f"{name} ranks much worse than the model (AUROC {m['auroc']:.3f}): it fits a logistic curve to "
                "each class's probability itself, and nearly all of the model's confidences lie above 0.99, "
                "where such a curve is almost flat; they all land close together and their order is "
                "decided by the other classes' curves."
            )
    return Section(
        "3. Calibrators: making the stated confidence match reality",
        (
            "Five calibrators are fitted on the calibration split and measured on the test split, next to the "
            "uncalibrated model.",
        ),
        header=("calibrator", *header),
        rows=rows,
        terms=_terms(
            "accuracy",
            "mean confidence",
            "ECE",
            "NLL",
            "Brier",
            "AUROC",
            "AURC",
            "changed",
            "ties",
            "temperature",
            "isotonic",
            "platt",
            "beta",
            "histogram",
            "top-label",
            "one-vs-rest",
        ),
        notes=tuple(notes),
    )


def _guarantee_section(r: DemoResult) -> Any:
    from credo.report import Section

    t = r.threshold
    statement = (
        f"Guarantee: answering only when the calibrated confidence is at least {t['threshold']:.4f} keeps "
        f"P(error | answered) <= {t['target_risk']} with probability >= {_pct(1 - t['delta'])}."
        if t["feasible"]
        else f"No threshold passed the test: {t['n_select']} select images "
        f"are too few to certify an error rate of {t['target_risk']}; the demo declines everything."
    )
    return Section(
        "4. The guarantee: a threshold with a certified error rate",
        (
            statement,
            f"The threshold was chosen by LTT on the {t['n_select']} select images, which neither the model "
            "nor the calibrator saw. 'With probability >= 90 %' is about that choice: if the whole "
            "procedure were repeated on fresh select data, at most 1 time in 10 would it pick a threshold "
            "whose true error rate exceeds the target. It assumes that future requests are drawn like the "
            "select images (same kind of digits, same model); under a shift it no longer holds.",
        ),
        header=(
            "target risk",
            "delta",
            "threshold",
            "answered (test)",
            "coverage (answers)",
            "errors",
            "selective risk",
        ),
        rows=((t["target_risk"], t["delta"], t["threshold"], t["answered"], t["coverage"], t["errors"], t["risk"]),),
        terms=_terms("LTT", "target risk", "delta", "coverage (answers)", "selective risk"),
        notes=(
            f"On the test images the rule answers {_pct(t['coverage'])} of the requests with "
            f"{t['errors']} error{'' if t['errors'] == 1 else 's'} among them (selective risk "
            f"{t['risk']:.4f}), " + ("inside" if t["risk"] <= t["target_risk"] else "above") + " the target.",
        ),
    )


def _sets_section(r: DemoResult) -> Any:
    from credo.report import Section

    c = r.conformal
    rows = tuple((size, counts[0], counts[1], counts[1] / counts[0]) for size, counts in c["by_size"].items())
    notes = []
    if c["empty"] > 0:
        notes.append(
            f"{_pct(c['empty'])} of the sets are empty, so the mean set size ({c['mean_size']:.2f}) is below "
            "1. LAC keeps a class only when its probability reaches a fixed bar; for the least certain "
            "images no class reaches it. The 90 % promise still holds on average because the other sets "
            "almost always hold the truth. An empty set is useful information: the model was wrong on "
            f"{c['model_wrong_in_empty']} of these {c['by_size']['0'][0]} images, and the policy below "
            "declines them."
        )
    a = c["aps"]
    notes.append(
        f"For comparison, APS sets (adaptive prediction sets, with MAPIE's include_last_label=True: the "
        f"class that crosses the bar is kept) are never empty: coverage {a['coverage']:.3f}, mean size "
        f"{a['mean_size']:.2f}, single-class sets {_pct(a['singletons'])}. The policy below uses the LAC "
        "sets, because an empty LAC set is a useful reason to decline."
    )
    return Section(
        "5. Prediction sets: a list of plausible answers with a coverage guarantee",
        (
            f"Instead of one answer, conformal prediction (LAC, alpha {c['alpha']}) returns the set of classes "
            f"that are plausible enough, calibrated on the select images so that the set holds the true "
            f"digit for at least {_pct(1 - c['alpha'])} of requests (in expectation over the select draw). "
            f"On test: coverage {c['coverage']:.3f}, mean size {c['mean_size']:.2f}, single-class sets "
            f"{_pct(c['singletons'])}.",
        ),
        header=("set size", "requests", "sets holding the truth", "coverage (sets)"),
        rows=rows,
        terms=_terms("LAC", "alpha", "coverage (sets)", "set size", "empty set", "APS"),
        notes=tuple(notes),
    )


def _decision_section(r: DemoResult) -> Any:
    from credo.report import Section

    d, t = r.decisions, r.threshold
    rows = tuple((route, v["requests"], v["errors"], v["errors"] / v["requests"]) for route, v in d["routes"].items())
    gray = d["routes"].get("verify → answer", {"requests": 0, "errors": 0})
    outside = (
        f"What lies outside the guarantee: the {gray['requests']} gray-zone answers that passed the "
        f"verify step (confidence between {GRAY_LOW} and {t['threshold']:.4f}, conformal set = the "
        f"predicted digit) are not covered by it. Neither the threshold's guarantee (which is about "
        f"answers above the threshold) nor the sets' (which is about holding the truth on average, not "
        f"about single-class sets) bounds their error: here {gray['errors']} of them were wrong. The "
        f"policy as a whole answered {_pct(d['answered'])} of the requests with a measured error rate of "
        f"{d['risk_answered']:.4f} (accuracy {d['accuracy_answered']:.4f}), "
        + ("above" if d["risk_answered"] > t["target_risk"] else "within")
        + f" the {t['target_risk']} target, and that figure is a measurement on {r.n['test']} images, not a "
        "guarantee. For a guarantee on everything answered, answer only above the threshold."
    )
    return Section(
        "6. Decisions: what happens to each request",
        (
            f"A policy turns each calibrated confidence into an action: at or above the certified threshold "
            f"({t['threshold']:.4f}) it answers; in the gray zone ({GRAY_LOW} up to the threshold) it runs a "
            "check first, which passes when the prediction set holds exactly the predicted digit (then it "
            f"answers) and otherwise declines; below {GRAY_LOW} it declines.",
        ),
        header=("route", "requests", "errors", "error rate"),
        rows=rows,
        terms=_terms("gray zone", "answer", "verify", "abstain"),
        notes=(outside,),
    )
