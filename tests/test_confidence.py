"""ConfidenceModel: the Rust logistic fit against scikit-learn, calibrators, segments, artefacts,
bad input, and the factuality claims (combined score vs each single score)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import credo
from credo import ConfidenceModel, _artifact, _credo
from credo.confidence import _auroc, _ece
from credo.exceptions import ArtifactError, InvalidArgumentError, NotFittedError, ShapeError

from .conftest import data_path

sklearn = pytest.importorskip("sklearn")
from sklearn.isotonic import IsotonicRegression  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402


def make_data(rng, n=600, d=4):
    X = rng.normal(size=(n, d)) * np.array([1.0, 5.0, 0.2, 3.0])[:d] + np.array([0.0, 2.0, 1.0, -4.0])[:d]
    w = np.array([1.0, -0.3, 4.0, 0.5])[:d]
    y = (X @ w + rng.logistic(size=n) > 1.0).astype(np.float64)
    return X, y


# ----------------------------------------------------------------- the exact fit


@pytest.mark.parametrize("C", [0.01, 1.0, 100.0])
def test_logistic_fit_matches_sklearn_raw(rng, C):
    X, y = make_data(rng)
    fit = _credo.logistic_fit(X, y, None, c=C, standardize=False)
    coef, b = fit.coef, fit.intercept
    sk = LogisticRegression(C=C, tol=1e-12, max_iter=100_000).fit(X, y)
    assert fit.converged and fit.n_iter < 30
    np.testing.assert_allclose(coef, sk.coef_[0], rtol=1e-6, atol=1e-8)
    assert b == pytest.approx(sk.intercept_[0], rel=1e-6, abs=1e-8)


def test_logistic_fit_matches_sklearn_standardised_with_weights(rng):
    X, y = make_data(rng)
    w = rng.uniform(0.0, 3.0, size=len(y))
    fit = _credo.logistic_fit(X, y, w, c=0.5, standardize=True)
    coef, b = fit.coef, fit.intercept
    scaler = StandardScaler().fit(X, sample_weight=w)
    Z = scaler.transform(X)
    sk = LogisticRegression(C=0.5, tol=1e-12, max_iter=100_000).fit(Z, y, sample_weight=w)
    assert fit.converged
    np.testing.assert_allclose(fit.mean, scaler.mean_, rtol=1e-10)
    np.testing.assert_allclose(fit.scale, scaler.scale_, rtol=1e-10)
    np.testing.assert_allclose(fit.coef_standardized, sk.coef_[0], rtol=1e-6, atol=1e-8)
    # Original-scale coefficients give the same probabilities as sklearn on standardised input.
    p = _credo.LogisticModel(list(coef), b).predict_proba(X)
    np.testing.assert_allclose(p, sk.predict_proba(Z)[:, 1], rtol=1e-7, atol=1e-10)


def test_logistic_model_scalar_and_batch_agree(rng):
    X, y = make_data(rng)
    fit = _credo.logistic_fit(X, y, None)
    coef, b = fit.coef, fit.intercept
    m = _credo.LogisticModel(list(coef), b)
    batch = m.predict_proba(X, threads=2)
    assert [m.predict_one(list(r)) for r in X[:50]] == pytest.approx(batch[:50], rel=1e-14)
    ref = 1.0 / (1.0 + np.exp(-(X @ coef + b)))
    np.testing.assert_allclose(batch, ref, rtol=1e-12)
    with pytest.raises(ShapeError, match=r"^x"):
        m.predict_one([1.0])
    with pytest.raises(credo.NonFiniteError, match=r"^x"):
        m.predict_one([np.nan] * 4)
    with pytest.raises(ShapeError, match=r"^X"):
        m.predict_proba(np.ones((3, 2)))


def test_logistic_fit_bad_input(rng):
    X, y = make_data(rng, n=20)
    with pytest.raises(InvalidArgumentError, match=r"^C"):
        _credo.logistic_fit(X, y, None, c=0.0)
    with pytest.raises(InvalidArgumentError, match=r"^y"):
        _credo.logistic_fit(X, y * 2, None)
    with pytest.raises(ShapeError, match=r"^y"):
        _credo.logistic_fit(X, y[:-1], None)
    with pytest.raises(InvalidArgumentError, match=r"^sample_weight"):
        _credo.logistic_fit(X, y, -np.ones(20))


# ----------------------------------------------------------------- local metric helpers


def test_metric_helpers_against_references(rng):
    # docs/definitions/metrics.md#binned-calibration-error-ece-and-bin-conventions:
    # sklearn-style (a, b] bins, 10 bins → 0.2267.
    conf = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1, 0.05, 0.95, 0])
    y = np.array([0, 0, 1, 0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 0])
    assert _ece(y, conf) == pytest.approx(0.2267, abs=1e-4)
    s = np.round(rng.uniform(size=500), 1)  # many ties
    t = (rng.uniform(size=500) < s).astype(float)
    assert _auroc(t, s) == pytest.approx(roc_auc_score(t, s), abs=1e-12)


# ----------------------------------------------------------------- the model


def as_signals(X):
    return {f"s{j}": X[:, j] for j in range(X.shape[1])}


def test_confidence_model_inputs_and_fast_path(rng):
    X, y = make_data(rng)
    sig = as_signals(X)
    m = ConfidenceModel(holdout=0.25).fit(sig, y)
    assert m.features_ == ["s0", "s1", "s2", "s3"] and m.converged_
    p = m.predict_proba(sig)
    one = [m.predict_one({k: float(v[i]) for k, v in sig.items()}) for i in range(40)]
    assert one == pytest.approx(p[:40], rel=1e-13)
    assert m.predict_one(list(X[0])) == pytest.approx(p[0], rel=1e-13)
    # Same model from an array with named features, and from a DataFrame.
    pd = pytest.importorskip("pandas")
    m2 = ConfidenceModel(features=["s0", "s1", "s2", "s3"], holdout=0.25).fit(X, y)
    m3 = ConfidenceModel(holdout=0.25).fit(pd.DataFrame(sig), y)
    np.testing.assert_array_equal(m2.predict_proba(X), p)
    np.testing.assert_array_equal(m3.predict_proba(sig), p)
    # The holdout metrics are those of the shipped model on the held-out rows.
    perm = np.random.default_rng(0).permutation(len(y))
    hold = np.sort(perm[: round(0.25 * len(y))])
    assert m.holdout_["n"] == len(hold)
    assert m.holdout_["auroc"] == pytest.approx(roc_auc_score(y[hold], p[hold]), abs=1e-12)
    assert m.holdout_["ece"] == pytest.approx(_ece(y[hold], p[hold]))
    # Feature weights live on the standardised scale: raw coefficient × the signal's spread.
    fit_rows = np.setdiff1d(np.arange(len(y)), hold)
    w = m.feature_weights()
    np.testing.assert_allclose(list(w.values()), m.coef_ * X[fit_rows].std(axis=0), rtol=1e-10)
    assert m.feature_weights(standardized=False)["s2"] == pytest.approx(m.coef_[2])


def test_calibrator_fitted_on_out_of_fold_predictions(rng):
    X, y = make_data(rng, n=800)
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1)
    m = ConfidenceModel(calibrator=iso, holdout=0.2, cv=4).fit(as_signals(X), y)
    assert not hasattr(iso, "X_thresholds_")  # the template is copied, never fitted
    cal = m.pooled_.calibrator
    assert len(cal.X_thresholds_) > 1 and not m.pooled_.scalar_cal
    raw = m.pooled_.raw(X)
    np.testing.assert_allclose(m.predict_proba(as_signals(X)), np.clip(cal.predict(raw), 0, 1))
    assert m.predict_one(list(X[3])) == pytest.approx(float(cal.predict([raw[3]])[0]))
    # Isotonic calibration commutes with a monotone transform of its input: on log-odds it fits
    # the same levels at the transformed thresholds.
    iso_logit = ConfidenceModel(calibrator=iso, calibrator_input="logit", holdout=0.2, cv=4)
    cal_l = iso_logit.fit(as_signals(X), y).pooled_.calibrator
    np.testing.assert_allclose(cal_l.y_thresholds_, cal.y_thresholds_, atol=1e-12)
    np.testing.assert_allclose(cal_l.X_thresholds_, np.log(cal.X_thresholds_ / (1 - cal.X_thresholds_)), rtol=1e-9)
    z = np.log(raw[3] / (1 - raw[3]))
    assert iso_logit.predict_one(list(X[3])) == pytest.approx(float(cal_l.predict([z])[0]), rel=1e-12)
    with pytest.raises(InvalidArgumentError, match=r"^calibrator_input"):
        ConfidenceModel(calibrator=iso, calibrator_input="odds").fit(as_signals(X), y)
    with pytest.raises(ArtifactError, match=r"^calibrator: IsotonicRegression cannot be saved"):
        m.save("/tmp/never-written.json")
    with pytest.raises(InvalidArgumentError, match=r"^calibrator"):
        ConfidenceModel(calibrator=object()).fit(as_signals(X), y)


@_artifact.register
class ShrinkCalibrator:
    """Minimal test double of a credo calibrator (fit/predict, scalar-capable, saveable): pulls
    probabilities toward the base rate by a fitted amount."""

    _ARTIFACT_SCHEMA = _artifact.Schema(
        params={"strength": _artifact.real(lo=0, hi=1)},
        state={"rate": _artifact.real(lo=0, hi=1), "n_fit": _artifact.integer(lo=1)},
    )

    def __init__(self, *, strength=0.5):
        self.strength = strength

    def get_params(self):
        return {"strength": self.strength}

    def fit(self, scores, y):
        self.rate_ = float(np.mean(y))
        self.n_fit_ = len(scores)
        return self

    def predict(self, scores):
        return (1 - self.strength) * scores + self.strength * self.rate_

    def scalar_predictor(self):
        return self.predict

    def _artifact_state(self):
        return {"rate": self.rate_, "n_fit": self.n_fit_}

    @classmethod
    def _from_artifact(cls, params, state):
        obj = cls(**params)
        obj.rate_, obj.n_fit_ = state["rate"], state["n_fit"]
        return obj


@pytest.mark.parametrize(
    ("cal_name", "cal_input"),
    [("IsotonicCalibrator", "probability"), ("PlattScaling", "logit"), ("PlattScaling", "probability")],
)
def test_real_credo_calibrators_fit_predict_and_round_trip(rng, tmp_path, cal_name, cal_input):
    from credo import calibration

    X, y = make_data(rng, n=900)
    sig = as_signals(X)
    template = getattr(calibration, cal_name)()
    m = ConfidenceModel(calibrator=template, calibrator_input=cal_input, holdout=0.2, cv=4).fit(sig, y)
    assert not hasattr(template, "n_samples_")  # the template is copied, never fitted
    sub = m.pooled_
    cal = sub.calibrator
    assert type(cal) is type(template) and cal.n_samples_ == m.n_samples_fit_
    # the single-request path calls the fitted calibrator's Rust model directly
    assert sub.scalar_cal and sub.one_cal == cal._model_.predict_one
    assert all(sub.one_cal(v) == cal(v) for v in (-3.0, 0.0, 0.2, 0.5, 0.93, 4.0))
    # The model as shipped = the fitted calibrator applied to the raw logistic output (or its
    # log-odds), the raw output being scikit-learn's logistic regression on the fit rows.
    raw = sub.raw(X)
    s = np.log(raw / (1 - raw)) if cal_input == "logit" else raw
    p = m.predict_proba(sig)
    np.testing.assert_allclose(p, np.clip(cal.predict(s), 0, 1), rtol=1e-12)
    one = [m.predict_one({k: float(v[i]) for k, v in sig.items()}) for i in range(50)]
    np.testing.assert_allclose(one, p[:50], rtol=1e-12, atol=1e-15)
    if cal_name == "PlattScaling":
        # A fitted Platt map is an increasing logistic curve of its input.
        z = np.linspace(-3, 3, 7)
        q = cal.predict(z if cal_input == "logit" else 1 / (1 + np.exp(-z)))
        assert np.all(np.diff(q) > 0)
    else:
        # Isotonic calibration only outputs its fitted step levels, non-decreasing in the score.
        order = np.argsort(s, kind="stable")
        assert np.all(np.diff(p[order]) >= 0) and len(np.unique(p)) < len(p) / 4
    # Holdout metrics of the shipped model against scikit-learn / a float64 numpy ECE.
    perm = np.random.default_rng(0).permutation(len(y))
    hold = np.sort(perm[: round(0.2 * len(y))])
    assert m.holdout_["auroc"] == pytest.approx(roc_auc_score(y[hold], p[hold]), abs=1e-12)
    edges = np.linspace(0, 1, 11)
    idx = np.clip(np.searchsorted(edges, p[hold], side="left") - 1, 0, 9)
    ref = sum(
        (idx == b).sum() * abs(y[hold][idx == b].mean() - p[hold][idx == b].mean())
        for b in range(10)
        if (idx == b).any()
    ) / len(hold)
    assert m.holdout_["ece"] == pytest.approx(ref, abs=1e-12)
    # save / credo.load: the fitted calibrator travels in the artefact and predicts the same.
    path = m.save(tmp_path / "conf.json")
    body = json.loads(path.read_text())
    assert body["params"]["calibrator"] == cal_name
    assert body["state"]["pooled"]["calibrator"]["kind"] == cal_name
    back = credo.load(path)
    assert type(back.pooled_.calibrator) is type(cal) and back.pooled_.one_cal is not None
    np.testing.assert_array_equal(back.predict_proba(sig), p)
    x0 = {k: float(v[5]) for k, v in sig.items()}
    assert back.predict_one(x0) == m.predict_one(x0)
    assert back.holdout_ == m.holdout_


def test_predict_one_from_a_named_tuple(rng):
    from credo.signals import TopkSummary

    X, y = make_data(rng, n=400, d=3)
    names = ["mean_entropy", "mean_logprob", "min_margin"]
    m = ConfidenceModel(features=names, holdout=0).fit(X, y)
    base = dict.fromkeys(TopkSummary._fields, 0.0) | {"n_tokens": 7}
    for i in range(5):
        t = TopkSummary(**(base | dict(zip(names, map(float, X[i]), strict=True))))
        assert m.predict_one(t) == m.predict_one(dict(zip(names, X[i], strict=True)))
    from collections import namedtuple

    Other = namedtuple("Other", ["mean_entropy", "other"])
    with pytest.raises(InvalidArgumentError, match=r"^signals: Other lacks the signals \['mean_logprob'"):
        m.predict_one(Other(1.0, 2.0))
    # A refit with other features forgets the cached field lookups.
    m.set_params(features=["mean_entropy"]).fit(X[:, :1], y)
    assert m.predict_one(t) == m.predict_one({"mean_entropy": t.mean_entropy})


def test_segments_fallback_and_artifact_roundtrip(rng, tmp_path):
    X, y = make_data(rng, n=900)
    seg = np.where(np.arange(900) % 3 == 0, "math", np.where(np.arange(900) % 3 == 1, "code", "tiny"))
    seg[2::3][40:] = "chat"  # "tiny" keeps only 40 rows: below min_segment_count
    # Segment "code" follows a different rule, so its model must differ.
    y[seg == "code"] = (X[seg == "code", 0] < 0).astype(float)
    m = ConfidenceModel(calibrator=ShrinkCalibrator(strength=0.2), min_segment_count=100, holdout=0.2)
    m.fit(as_signals(X), y, segments=seg)
    assert set(m.segment_models_) == {"math", "code", "chat"}
    assert m.pooled_.scalar_cal and m.pooled_.calibrator.n_fit_ == 720
    code = m.segment_models_["code"]
    assert code.coef_standardized[0] < 0 < m.segment_models_["math"].coef_standardized[0]
    x0 = {k: float(v[1]) for k, v in as_signals(X).items()}
    assert m.predict_one(x0, segment="code") == pytest.approx(code.one(list(X[1])))
    assert m.predict_one(x0, segment="tiny") == m.predict_one(x0) == m.predict_one(x0, segment="unseen")
    p = m.predict_proba(as_signals(X), segments=seg)
    assert p[1] == pytest.approx(m.predict_one(x0, segment="code"))
    path = m.save(tmp_path / "conf.json")
    body = json.loads(path.read_text())
    assert body["kind"] == "ConfidenceModel" and body["params"]["calibrator"] == "ShrinkCalibrator"
    back = credo.load(path)
    np.testing.assert_array_equal(back.predict_proba(as_signals(X), segments=seg), p)
    assert back.predict_one(x0, segment="code") == m.predict_one(x0, segment="code")
    assert back.holdout_ == m.holdout_
    body["state"]["pooled"]["coef"] = [1.0]
    path.write_text(json.dumps(body))
    with pytest.raises(ArtifactError):
        credo.load(path)


def test_bad_input(rng):
    X, y = make_data(rng, n=100)
    sig = as_signals(X)
    with pytest.raises(NotFittedError):
        ConfidenceModel().predict_one(sig)
    with pytest.raises(InvalidArgumentError, match=r"^y: outcomes must be 0"):
        ConfidenceModel().fit(sig, y * 3)
    with pytest.raises(InvalidArgumentError, match=r"^y: needs both"):
        ConfidenceModel().fit(sig, np.ones(100))
    with pytest.raises(ShapeError, match=r"^y"):
        ConfidenceModel().fit(sig, y[:-1])
    with pytest.raises(ShapeError, match=r"^X\['s1'\]"):
        ConfidenceModel().fit({"s0": X[:, 0], "s1": X[:-1, 1]}, y)
    with pytest.raises(credo.NonFiniteError, match=r"^X\['s0'\]"):
        ConfidenceModel().fit({"s0": np.r_[np.nan, X[1:, 0]]}, y)
    with pytest.raises(InvalidArgumentError, match=r"^features"):
        ConfidenceModel().fit(X, y)
    with pytest.raises(ShapeError, match=r"^X"):
        ConfidenceModel(features=["a"]).fit(X, y)
    with pytest.raises(InvalidArgumentError, match=r"^C"):
        ConfidenceModel(C=-1).fit(sig, y)
    with pytest.raises(InvalidArgumentError, match=r"^holdout"):
        ConfidenceModel(holdout=1.0).fit(sig, y)
    with pytest.raises(InvalidArgumentError, match=r"^holdout"):
        ConfidenceModel(holdout=0.05).fit(sig, y)
    m = ConfidenceModel(holdout=0).fit(sig, y)
    assert m.holdout_ is None
    with pytest.raises(InvalidArgumentError, match=r"^signals: missing signal 's3'"):
        m.predict_one({"s0": 1, "s1": 2, "s2": 3})
    with pytest.raises(InvalidArgumentError, match=r"^signals"):
        m.predict_one({"s0": 1, "s1": 2, "s2": 3, "s3": "x"})
    with pytest.raises(InvalidArgumentError, match=r"^X: missing signals"):
        m.predict_proba({"s0": X[:, 0]})


# ----------------------------------------------------------------- real data


def load_claims():
    rows = []
    for ds in ("nq", "factscore", "MATH"):
        body = json.loads(data_path("factuality-gpt4", f"{ds}_subclaims_with_scores.jsonl").read_text())
        for prompt in body["data"]:
            for c in prompt["claims"]:
                label = c["annotation"].strip()
                if label in ("Y", "N", "S", "U"):
                    rows.append((ds, c["frequency-score"], c["gpt-score"], c["frequency+gpt-score"], label == "Y"))
    seg = np.array([r[0] for r in rows])
    sig = {"frequency": np.array([r[1] for r in rows], float), "gpt": np.array([r[2] for r in rows], float)}
    return sig, np.array([r[3] for r in rows], float), np.array([r[4] for r in rows], float), seg


def test_factuality_combined_beats_each_single_score(capsys):
    """A claim is correct when annotated Y (N, S, U count as not supported). Over 20 random 70/30
    splits, the logistic combination of frequency-score (self-consistency) and gpt-score
    (verbalised) must beat each single score's holdout AUROC on average and in most splits."""
    sig, summed, y, seg = load_claims()
    rows = []
    for seed in range(20):
        m = ConfidenceModel(holdout=0.3, random_state=seed).fit(sig, y)
        ms = ConfidenceModel(holdout=0.3, random_state=seed, min_segment_count=100).fit(sig, y, segments=seg)
        perm = np.random.default_rng(seed).permutation(len(y))
        hold = np.sort(perm[: round(0.3 * len(y))])
        rows.append(
            [
                m.holdout_["auroc"],
                ms.holdout_["auroc"],
                m.holdout_["single_auroc"]["frequency"],
                m.holdout_["single_auroc"]["gpt"],
                roc_auc_score(y[hold], summed[hold]),
                m.holdout_["ece"],
            ]
        )
        # The per-score AUROCs are those of the raw scores on the same rows.
        assert m.holdout_["single_auroc"]["gpt"] == pytest.approx(roc_auc_score(y[hold], sig["gpt"][hold]))
    r = np.array(rows)
    mean = r.mean(axis=0)
    with capsys.disabled():
        print(f"\nfactuality-gpt4 ({len(y)} claims, 20 splits 70/30): holdout AUROC mean ± sd")
        for name, j in [
            ("ConfidenceModel(frequency, gpt)", 0),
            ("  … per dataset segment", 1),
            ("frequency-score alone", 2),
            ("gpt-score alone", 3),
            ("frequency+gpt-score (sum)", 4),
        ]:
            print(f"  {name:34s} {mean[j]:.4f} ± {r[:, j].std():.4f}")
        print(f"  ECE of ConfidenceModel (10 bins)   {mean[5]:.4f}")
    assert mean[0] > mean[2] and mean[0] > mean[3]
    assert (r[:, 0] > np.maximum(r[:, 2], r[:, 3])).mean() >= 0.8


def test_decision_signals():
    from credo.confidence import decision_signals
    from credo.risk import InputRisk
    from credo.verify import VerifierResult

    s = decision_signals(
        verifier=[VerifierResult(True, 1.0, ""), VerifierResult(False, 0.5, "")],
        risk=InputRisk("medical", "high", ("medical", "legal"), ("too_short",)),
        coverage=0.75,
    )
    assert s == {
        "verifier_score": 0.75,
        "verifier_passed": 0.0,
        "stakes": pytest.approx(2 / 3),
        "regulated": 2.0,
        "ambiguous": 1.0,
        "coverage": 0.75,
        "citation_precision": 1.0,
    }
    assert decision_signals(verifier=True) == {"verifier_score": 1.0, "verifier_passed": 1.0}
    assert decision_signals() == {}
    with pytest.raises(InvalidArgumentError, match=r"^verifier"):
        decision_signals(verifier=["yes"])
    with pytest.raises(InvalidArgumentError, match=r"^risk"):
        decision_signals(risk="high")
    with pytest.raises(InvalidArgumentError, match=r"^coverage"):
        decision_signals(coverage=1.5)
