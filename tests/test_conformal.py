"""credo.conformal: quantile rule, p-values, prediction sets, selective thresholds and claim
filtering against the check values of docs/definitions/conformal.md, MAPIE 1.6, scipy and numpy."""

from __future__ import annotations

import math
import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import credo
from credo.conformal import (
    ClaimFilter,
    ConformalPValues,
    ConformalSets,
    NoThresholdWarning,
    SelectiveThreshold,
    conformal_p_values,
    conformal_quantile,
    conformal_rank,
    coverage,
    min_calibration_size,
    risk_p_value,
    set_sizes,
    sgr_bound,
)
from tests.conftest import data_path

# ---------------------------------------------------------------- quantile (d.1)


def test_float_artefact_n19_alpha095():
    assert conformal_rank(19, 0.95) == 1
    assert conformal_rank(19, 0.95, mode="compat") == 2
    scores = np.arange(19.0)
    assert conformal_quantile(scores, 0.95) == 0.0
    assert conformal_quantile(scores, 0.95, mode="compat") == 1.0


def test_compat_reproduces_float_expression_and_exact_the_rational_rule():
    alphas = [0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.3, 0.5, 0.9, 0.95, 0.99]
    diff = 0
    for a in alphas:
        frac = Fraction(str(a))
        for n in range(1, 5001):
            compat = math.ceil((n + 1) * (1 - a))
            exact = math.ceil((n + 1) * (1 - frac))
            if n % 97 == 0:  # the native rule on a sample of cells
                assert conformal_rank(n, a, mode="compat") == compat
                assert conformal_rank(n, a) == exact
            diff += compat != exact
    # docs/definitions/conformal.md#split-conformal-quantile: 300 cells, all at alpha in {0.95, 0.99}
    assert diff == 300
    for a in (0.95, 0.99):
        native = sum(conformal_rank(n, a) != conformal_rank(n, a, mode="compat") for n in range(1, 5001))
        assert native == {0.95: 250, 0.99: 50}[a]


def test_quantile_matches_mapie_and_order_statistic(rng):
    pytest.importorskip("mapie")
    from mapie.utils import _compute_classification_quantile

    for _ in range(200):
        n = int(rng.integers(1, 400))
        alpha = float(rng.choice([0.01, 0.05, 0.1, 0.2, 0.5, 0.9, 0.95, 0.99]))
        s = rng.normal(size=n)
        k = math.ceil((n + 1) * (1 - Fraction(str(alpha))))
        want = np.inf if k > n else np.sort(s)[k - 1]
        assert conformal_quantile(s, alpha) == want
        if math.ceil((n + 1) * (1 - alpha)) <= n:
            ref = _compute_classification_quantile(s, np.array([alpha]))[0]
            assert conformal_quantile(s, alpha, mode="compat") == ref


def test_quantile_infinite_behaviour():
    s = np.array([0.5, 0.1, 0.9, 0.3])
    assert conformal_quantile(s, 0.1) == np.inf
    with pytest.raises(credo.EmptyInputError, match=r"^scores: 4 calibration scores are too few.*at least 9"):
        conformal_quantile(s, 0.1, if_infinite="raise")
    assert min_calibration_size(0.1) == 9
    assert min_calibration_size(0.05) == 19
    assert conformal_rank(min_calibration_size(0.03), 0.03) <= min_calibration_size(0.03)


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.1, 1.5, float("nan"), "x"])
def test_quantile_bad_alpha(alpha):
    with pytest.raises(credo.InvalidArgumentError, match=r"^alpha:"):
        conformal_quantile([0.1, 0.2], alpha)


def test_quantile_bad_input():
    with pytest.raises(credo.EmptyInputError, match=r"^scores:"):
        conformal_quantile([], 0.1)
    with pytest.raises(credo.NonFiniteError, match=r"^scores:"):
        conformal_quantile([0.1, np.nan], 0.1)
    with pytest.raises(credo.ShapeError, match=r"^scores:"):
        conformal_quantile([[0.1]], 0.1)
    with pytest.raises(credo.InvalidArgumentError, match=r"^mode:"):
        conformal_quantile([0.1], 0.1, mode="linear")
    with pytest.raises(credo.InvalidArgumentError, match=r"^if_infinite:"):
        conformal_quantile([0.1], 0.1, if_infinite="clip")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=60), st.floats(0.001, 0.999))
def test_quantile_property_coverage_rank(scores, alpha):
    q = conformal_quantile(scores, alpha)
    k = conformal_rank(len(scores), alpha)
    # at least k of the n scores are <= q, i.e. the (n+1)-th exchangeable score is covered w.p. >= 1-alpha
    if np.isfinite(q):
        assert (np.asarray(scores) <= q).sum() >= k >= (len(scores) + 1) * (1 - alpha) - 1e-9
    else:
        assert k == len(scores) + 1


# ---------------------------------------------------------------- p-values (d.1, crepes)


def test_crepes_check_vector():
    p = conformal_p_values([0.1, 0.2, 0.2, 0.4, 0.5], [0.2, 0.45, 0.6])
    np.testing.assert_allclose(p, [5 / 6, 2 / 6, 1 / 6], rtol=0, atol=1e-15)
    pv = ConformalPValues().fit([0.1, 0.2, 0.2, 0.4, 0.5])
    assert pv.prediction_set([0.2, 0.45, 0.6], 0.5).tolist() == [True, False, False]
    assert pv.p_value(0.2) == pytest.approx(5 / 6, abs=1e-15)


def test_p_values_match_numpy_and_smoothing(rng):
    cal = np.round(rng.normal(size=500), 1)  # many ties
    test = np.round(rng.normal(size=300), 1)
    pv = ConformalPValues().fit(cal)
    want = ((cal[None, :] >= test[:, None]).sum(1) + 1) / (len(cal) + 1)
    np.testing.assert_array_equal(pv.p_values(test), want)
    assert [pv.p_value(t) for t in test[:20]] == want[:20].tolist()
    sm = ConformalPValues(smoothed=True, seed=3).fit(cal)
    a, b = sm.p_values(test), sm.p_values(test)
    np.testing.assert_array_equal(a, b)  # seeded
    gt = (cal[None, :] > test[:, None]).sum(1)
    eq = (cal[None, :] == test[:, None]).sum(1)
    theta = (a * (len(cal) + 1) - gt) / (eq + 1)
    assert ((theta >= 0) & (theta < 1)).all()
    assert (a <= want + 1e-12).all()
    assert not np.array_equal(a, ConformalPValues(smoothed=True, seed=4).fit(cal).p_values(test))


def test_smoothed_p_values_are_uniform(rng):
    # exchangeable continuous scores: P(p <= 0.1) = 0.1 exactly; 2000 draws, 4 sigma
    hits = 0
    for i in range(2000):
        x = rng.random(20)
        hits += conformal_p_values(x[:19], x[19:], smoothed=True, seed=i)[0] <= 0.1
    assert abs(hits / 2000 - 0.1) < 4 * math.sqrt(0.09 / 2000)


def test_p_values_bad_input_and_artefact(tmp_path):
    with pytest.raises(credo.NotFittedError):
        ConformalPValues().p_value(0.3)
    with pytest.raises(credo.EmptyInputError, match=r"^scores:"):
        ConformalPValues().fit([])
    with pytest.raises(credo.NonFiniteError, match=r"^scores:"):
        ConformalPValues().fit([0.1, np.inf])
    with pytest.raises(credo.NonFiniteError, match=r"^scores:"):
        ConformalPValues().fit([0.1]).p_values([np.nan])
    with pytest.raises(credo.InvalidArgumentError, match=r"^seed:"):
        ConformalPValues(seed=-1).fit([0.1])
    pv = ConformalPValues(smoothed=True, seed=1).fit([0.3, 0.1, 0.2])
    pv.save(tmp_path / "pv.json")
    back = credo.load(tmp_path / "pv.json")
    np.testing.assert_array_equal(back.p_values([0.15, 0.2]), pv.p_values([0.15, 0.2]))


# ---------------------------------------------------------------- prediction sets


class _Identity:
    """A prefit scikit-learn classifier whose 'features' are the probabilities themselves."""

    @staticmethod
    def make(n_classes):
        pytest.importorskip("sklearn")
        from sklearn.base import BaseEstimator, ClassifierMixin

        class Identity(ClassifierMixin, BaseEstimator):
            def fit(self, X, y=None):
                self.classes_ = np.arange(n_classes)
                return self

            def predict_proba(self, X):
                return np.asarray(X)

            def predict(self, X):
                return np.asarray(X).argmax(1)

        return Identity().fit(None)


def test_lac_sets_match_mapie_on_cifar(cifar_models):
    pytest.importorskip("mapie")
    from mapie.classification import SplitConformalClassifier

    for name in ("densenet121", "resnet18", "vgg11_bn"):
        probs, labels = cifar_models[name]
        for alpha in (0.02, 0.1):
            m = SplitConformalClassifier(
                _Identity.make(10), confidence_level=1 - alpha, conformity_score="lac", prefit=True
            ).conformalize(probs[:4000], labels[:4000])
            _, mapie_sets = m.predict_set(probs[4000:])
            cs = ConformalSets(alpha, mode="compat").fit(probs[:4000], labels[:4000])
            assert cs.quantile_ == pytest.approx(
                float(m._mapie_classifier.conformity_score_function_.quantiles_[0]), abs=0
            )
            mine = cs.predict_sets(probs[4000:])
            # MAPIE includes y when (1 - p) - q <= 1e-8; credo compares exactly (as TorchCP)
            gap = (1 - probs[4000:]) - cs.quantile_
            np.testing.assert_array_equal(mine, gap <= 0)
            np.testing.assert_array_equal(mapie_sets[:, :, 0], gap <= 1e-8)
            assert (mine != mapie_sets[:, :, 0]).sum() <= 2


@pytest.mark.parametrize("score", ["lac", "aps", "raps"])
def test_sets_are_score_sublevel_sets(score, rng):
    probs = rng.dirichlet(np.ones(6) * 0.5, size=400)
    labels = np.array([rng.choice(6, p=p) for p in probs])
    # include_last_label=False: calibration scores are not randomised and a set is the classes
    # whose own score is within the quantile, plus the top class (never empty)
    cs = ConformalSets(0.2, score=score, include_last_label=False, raps_lambda=0.05, raps_k_reg=2).fit(
        probs[:200], labels[:200]
    )

    def numpy_score(p, y):
        order = np.lexsort((np.arange(len(p)), -p))
        rank = int(np.flatnonzero(order == y)[0])
        if score == "lac":
            return 1 - p[y]
        s = p[order[: rank + 1]].sum()
        return s + (0.05 * max(0, rank + 1 - 2) if score == "raps" else 0.0)

    cal = np.array([numpy_score(p, y) for p, y in zip(probs[:200], labels[:200], strict=True)])
    assert cs.quantile_ == pytest.approx(conformal_quantile(cal, 0.2), abs=1e-12)
    sets = cs.predict_sets(probs[200:])
    want = np.array([[numpy_score(p, y) <= cs.quantile_ for y in range(6)] for p in probs[200:]])
    if score != "lac":
        want[np.arange(200), probs[200:].argmax(1)] = True
    # scores are float sums: allow disagreement only within rounding of the threshold
    full = np.array([[numpy_score(p, y) for y in range(6)] for p in probs[200:]])
    mismatch = sets != want
    assert np.all(np.abs(full[mismatch] - cs.quantile_) < 1e-12)
    assert set_sizes(sets).tolist() == sets.sum(1).tolist()
    assert coverage(sets, labels[200:]) == sets[np.arange(200), labels[200:]].mean()


def test_randomized_aps_is_seeded_and_smaller(rng):
    probs = rng.dirichlet(np.ones(5), size=600)
    labels = np.array([rng.choice(5, p=p) for p in probs])
    plain = ConformalSets(0.1, score="aps", seed=5).fit(probs[:300], labels[:300])
    rnd = ConformalSets(0.1, score="aps", include_last_label="randomized", seed=5).fit(probs[:300], labels[:300])
    assert rnd.quantile_ == plain.quantile_  # the same randomised calibration scores
    a = rnd.predict_sets(probs[300:])
    np.testing.assert_array_equal(a, rnd.predict_sets(probs[300:]))
    b = plain.predict_sets(probs[300:])
    assert np.all(b[a]) and set_sizes(a).mean() < set_sizes(b).mean()  # a subset of True's sets
    assert set_sizes(b).min() >= 1


def test_mondrian_class_and_segment(rng, tmp_path):
    probs = rng.dirichlet(np.ones(4), size=800)
    labels = np.array([rng.choice(4, p=p) for p in probs])
    seg = rng.choice(np.array(["law", "med", "misc"]), size=800)
    by_class = ConformalSets(0.1, mondrian="class").fit(probs[:400], labels[:400])
    for c in range(4):
        s = 1 - probs[:400][labels[:400] == c, c]
        assert by_class.quantile_[c] == conformal_quantile(s, 0.1)
    sets = by_class.predict_sets(probs[400:])
    np.testing.assert_array_equal(sets, (1 - probs[400:]) <= by_class.quantile_[None, :])
    rep = by_class.evaluate(probs[400:], labels[400:])
    assert set(rep["group_coverage"]) == {0, 1, 2, 3}
    assert rep["size_counts"].sum() == 400

    by_seg = ConformalSets(0.1, mondrian="segment").fit(probs[:400], labels[:400], segments=seg[:400])
    assert by_seg.segments_.tolist() == ["law", "med", "misc"]
    for g, name in enumerate(by_seg.segments_):
        m = seg[:400] == name
        assert by_seg.quantile_[g] == conformal_quantile(1 - probs[:400][m, labels[:400][m]], 0.1)
    sets = by_seg.predict_sets(probs[400:], segments=seg[400:])
    q_row = by_seg.quantile_[np.searchsorted(by_seg.segments_, seg[400:])]
    np.testing.assert_array_equal(sets, (1 - probs[400:]) <= q_row[:, None])
    by_seg.save(tmp_path / "sets.json")
    back = credo.load(tmp_path / "sets.json")
    np.testing.assert_array_equal(back.predict_sets(probs[400:], segments=seg[400:]), sets)
    with pytest.raises(credo.InvalidArgumentError, match=r"^segments: 'bio' was not seen"):
        by_seg.predict_sets(probs[:2], segments=["law", "bio"])
    with pytest.raises(credo.InvalidArgumentError, match=r"^segments: required"):
        by_seg.predict_sets(probs[:2])


def test_sets_artefact_roundtrip(tmp_path, rng):
    probs = rng.dirichlet(np.ones(3), size=100)
    labels = rng.integers(0, 3, 100)
    cs = ConformalSets(0.2, score="raps", raps_lambda=0.1).fit(probs, labels)
    cs.save(tmp_path / "a.json")
    back = credo.load(tmp_path / "a.json")
    assert back.quantile_ == cs.quantile_ and repr(back) == repr(cs)
    np.testing.assert_array_equal(back.predict_sets(probs), cs.predict_sets(probs))


@pytest.mark.parametrize("mondrian", [None, "class"])
def test_lac_reads_float32_in_place_with_the_float64_result(rng, mondrian):
    # scores and set comparisons are made in float64 from the stored float32 values
    p32 = rng.dirichlet(np.full(10, 0.3), size=3000).astype(np.float32)
    p64 = p32.astype(np.float64)
    labels = rng.integers(0, 10, 3000)
    a = ConformalSets(0.1, mondrian=mondrian).fit(p32, labels)
    b = ConformalSets(0.1, mondrian=mondrian).fit(p64, labels)
    np.testing.assert_array_equal(a.calibration_scores_, 1.0 - p64[np.arange(3000), labels])
    np.testing.assert_array_equal(a.quantile_, b.quantile_)
    sets = a.predict_sets(p32)
    np.testing.assert_array_equal(sets, b.predict_sets(p64))
    np.testing.assert_array_equal(sets, (1.0 - p64) <= a.quantile_)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64])
def test_labels_of_any_integer_dtype_give_the_int64_result(rng, dtype):
    # integer labels are read in place by the gather (no int64 copy), whatever their width
    probs = rng.dirichlet(np.full(10, 0.3), size=2000)
    labels = rng.integers(0, 10, 2000)
    for score, mondrian in (("lac", None), ("lac", "class"), ("aps", None)):
        want = ConformalSets(0.1, score=score, mondrian=mondrian).fit(probs, labels.astype(np.int64))
        got = ConformalSets(0.1, score=score, mondrian=mondrian).fit(probs, labels.astype(dtype))
        np.testing.assert_array_equal(got.calibration_scores_, want.calibration_scores_)
        np.testing.assert_array_equal(got.quantile_, want.quantile_)
        assert got.classes_.tolist() == list(range(10))
    lac = ConformalSets(0.1).fit(probs, labels.astype(dtype))
    np.testing.assert_array_equal(lac.calibration_scores_, 1.0 - probs[np.arange(2000), labels])
    # labels that are not column indices (here 1..10) still name classes, in any width
    shifted = ConformalSets(0.1).fit(probs, (labels + 1).astype(dtype))
    assert shifted.classes_.tolist() == list(range(1, 11)) and shifted.quantile_ == lac.quantile_
    # strided and byte-swapped labels take the converting path, to the same result
    for other in (np.repeat(labels, 2)[::2].astype(dtype), labels.astype(np.dtype(dtype).newbyteorder())):
        assert ConformalSets(0.1).fit(probs, other).quantile_ == lac.quantile_
    # labels that fit neither reading are refused naming them, and a bad probability stays an
    # error about probs even when the labels are in range
    with pytest.raises(credo.InvalidArgumentError, match=r"^labels: expected labels of 10 classes"):
        ConformalSets(0.1).fit(probs, np.concatenate([[11], labels[1:]]).astype(dtype))
    bad = probs.copy()
    bad[3, labels[3]] = 1.5
    with pytest.raises(credo.InvalidArgumentError, match=r"^probs: probabilities must lie in .* at index \(3, "):
        ConformalSets(0.1).fit(bad, labels.astype(dtype))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_negative_zero_is_a_probability(rng, dtype):
    # -0.0 lies in [0, 1]: the vector range check may flag its bit pattern, the exact recheck
    # accepts it, and its score is 1 as for +0.0
    probs = rng.dirichlet(np.full(7, 0.2), size=3000).astype(dtype)
    probs[probs < 0.05] = -0.0
    labels = rng.integers(0, 7, 3000)
    cs = ConformalSets(0.1).fit(probs, labels)
    p64 = probs.astype(np.float64)
    np.testing.assert_array_equal(cs.calibration_scores_, 1.0 - p64[np.arange(3000), labels])
    np.testing.assert_array_equal(cs.predict_sets(probs), (1.0 - p64) <= cs.quantile_)
    everything = ConformalSets(0.1, if_infinite="inf").fit(probs[:5], labels[:5])
    assert everything.predict_sets(probs).all()


def test_sets_bad_input(rng):
    probs = rng.dirichlet(np.ones(3), size=50)
    labels = rng.integers(0, 3, 50)
    with pytest.raises(credo.InvalidArgumentError, match=r"^alpha:"):
        ConformalSets(1.2).fit(probs, labels)
    with pytest.raises(credo.InvalidArgumentError, match=r"^score:"):
        ConformalSets(0.1, score="thr").fit(probs, labels)
    with pytest.raises(credo.InvalidArgumentError, match=r"^mondrian:"):
        ConformalSets(0.1, mondrian="label").fit(probs, labels)
    with pytest.raises(credo.ShapeError, match=r"^labels:"):
        ConformalSets(0.1).fit(probs, labels[:-1])
    # labels other than 0..K-1 name classes through classes_ and must be K distinct values
    assert ConformalSets(0.1).fit(probs, labels + 3).classes_.tolist() == [3, 4, 5]
    with pytest.raises(credo.InvalidArgumentError, match=r"^labels: expected labels of 3 classes"):
        ConformalSets(0.1).fit(probs, (labels == 0) + 5)
    # LAC's fit reads each row's label probability (one gather), and checks those values; the
    # sets pass and APS check every value
    on_label = probs.copy()
    on_label[7, labels[7]] = np.nan
    with pytest.raises(credo.NonFiniteError, match=r"^probs: non-finite value NaN at index \(7, "):
        ConformalSets(0.1).fit(on_label, labels)
    off_label = probs.copy()
    off_label[7, (labels[7] + 1) % 3] = np.nan
    with pytest.raises(credo.NonFiniteError, match=r"^probs:"):
        ConformalSets(0.1, score="aps").fit(off_label, labels)
    with pytest.raises(credo.NonFiniteError, match=r"^probs: non-finite value NaN at index \(7, "):
        ConformalSets(0.1).fit(probs, labels).predict_sets(off_label)
    with pytest.raises(credo.NonFiniteError, match=r"^probs:"):
        ConformalSets(0.1).fit(probs, labels).predict_sets(off_label.astype(np.float32))
    with pytest.raises(credo.InvalidArgumentError, match=r"^probs:"):
        ConformalSets(0.1).fit(probs * 3, labels)
    with pytest.raises(credo.EmptyInputError, match=r"^probs:"):
        ConformalSets(0.1).fit(np.zeros((0, 3)), [])
    with pytest.raises(credo.EmptyInputError, match=r"^labels: the calibration set has 5 calibration points"):
        ConformalSets(0.1).fit(probs[:5], labels[:5])
    tiny = ConformalSets(0.1, if_infinite="inf").fit(probs[:5], labels[:5])
    assert tiny.quantile_ == np.inf and tiny.predict_sets(probs).all()
    fitted = ConformalSets(0.1).fit(probs, labels)
    with pytest.raises(credo.ShapeError, match=r"^probs:"):
        fitted.predict_sets(probs[:, :2])
    with pytest.raises(credo.NotFittedError):
        ConformalSets(0.1).predict_sets(probs)


# ---------------------------------------------------------------- LTT p-values (d.3)


@pytest.mark.parametrize(
    ("r", "n", "alpha", "plain", "binary"),
    [(0.09, 1000, 0.1, 0.43014, 0.15824), (0.08, 500, 0.1, 0.20411, 0.07509), (0.10, 100, 0.1, 1.0, 0.58316)],
)
def test_hoeffding_bentkus_check_values(r, n, alpha, plain, binary):
    assert credo._credo.hb_p_value(r, n, alpha) == pytest.approx(plain, abs=5e-6)
    assert credo._credo.hb_p_value(r, n, alpha, True) == pytest.approx(binary, abs=5e-6)
    k = round(r * n)
    assert risk_p_value(k, n, alpha, kind="hoeffding_bentkus") == pytest.approx(plain, abs=5e-6)


def test_hoeffding_bentkus_matches_mapie_on_a_grid(rng):
    pytest.importorskip("mapie")
    from mapie.risk_control.methods import compute_hoeffding_bentkus_p_value

    for n in (10, 57, 300, 2000):
        r_hat = np.arange(n + 1) / n
        for alpha in (0.02, 0.1, 0.3):
            for binary in (False, True):
                with np.errstate(divide="ignore", invalid="ignore"):
                    ref = compute_hoeffding_bentkus_p_value(r_hat, n, alpha, binary)[:, 0]
                mine = np.array([credo._credo.hb_p_value(r, n, alpha, binary) for r in r_hat])
                ok = np.isfinite(ref)
                np.testing.assert_allclose(mine[ok], ref[ok], rtol=1e-9, atol=1e-13)


def test_binomial_p_value_and_bounds_match_scipy():
    pytest.importorskip("scipy")
    from scipy.optimize import brentq
    from scipy.stats import binom

    for k, n, a in [(0, 30, 0.1), (5, 100, 0.1), (40, 1000, 0.05), (3, 7, 0.6)]:
        assert risk_p_value(k, n, a) == pytest.approx(binom.cdf(k, n, a), rel=1e-10)
    # SGR bound (d.5): delta = 0.001 / ceil(log2 1000) = 1e-4, m = 1000, r = 0.02
    assert sgr_bound(20, 1000, 0.001 / math.ceil(math.log2(1000))) == pytest.approx(0.041963, abs=2e-6)
    for k, m, d in [(3, 50, 0.01), (0, 200, 0.05), (90, 1000, 0.001)]:
        ref = brentq(lambda b, k=k, m=m, d=d: binom.cdf(k, m, b) - d, k / m, 1)
        assert sgr_bound(k, m, d) == pytest.approx(ref, abs=1e-5)
    assert credo._credo.crc_r_hat_plus(0.08, 999) == pytest.approx(0.08092, abs=1e-12)


def test_bound_functions_bad_input():
    with pytest.raises(credo.InvalidArgumentError, match=r"^kind:"):
        risk_p_value(1, 10, 0.1, kind="wsr")
    with pytest.raises(credo.InvalidArgumentError, match=r"^errors:"):
        risk_p_value(11, 10, 0.1)
    with pytest.raises(credo.InvalidArgumentError, match=r"^delta:"):
        sgr_bound(1, 10, 0.0)


# ---------------------------------------------------------------- selective thresholds


def _levels(conf, correct):
    vals = np.unique(conf)[::-1]
    answered = np.array([(conf >= v).sum() for v in vals])
    errors = np.array([(~correct[conf >= v]).sum() for v in vals])
    return vals, answered, errors


def _numpy_ltt(conf, correct, target, delta, grid, binary):
    pytest.importorskip("mapie")
    from mapie.risk_control.methods import compute_hoeffding_bentkus_p_value

    pytest.importorskip("scipy")
    from scipy.stats import binom

    vals, answered, errors = _levels(conf, correct)
    n = len(conf)
    if grid:
        idx = []
        for i in range(1, grid + 1):
            j = int(np.searchsorted(answered, -(-i * n // grid)))
            if j < len(vals) and (not idx or idx[-1] != j):
                idx.append(j)
    else:
        idx = list(range(len(vals)))
    idx = [j for j in idx if (1 - target) ** answered[j] <= delta]
    last = None
    for j in idx:
        if binary:
            p = binom.cdf(errors[j], answered[j], target)
        else:
            p = compute_hoeffding_bentkus_p_value(np.array([errors[j] / answered[j]]), int(answered[j]), target)[0, 0]
        if p > delta:
            break
        last = j
    return np.inf if last is None else vals[last]


def test_ltt_matches_numpy_reference(mmlu):
    probs = np.concatenate([p for p, _ in mmlu.values()])
    y = np.concatenate([t for _, t in mmlu.values()])
    conf, correct = probs.max(1), probs.argmax(1) == y
    for target in (0.2, 0.3):
        for p_value, binary in (("binomial", True), ("hoeffding_bentkus", False)):
            for grid in (0, 50):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", NoThresholdWarning)
                    st = SelectiveThreshold(target, 0.1, p_value=p_value, grid=grid).fit(conf, correct)
                assert st.threshold_ == _numpy_ltt(conf, correct, target, 0.1, grid, binary)
                if st.feasible_:
                    ans = conf >= st.threshold_
                    assert st.coverage_ == ans.mean()
                    assert st.empirical_risk_ == pytest.approx((~correct[ans]).mean(), abs=1e-15)
                    assert st.empirical_risk_ <= st.risk_bound_ <= target


def test_sgr_matches_reference_algorithm(cifar_models):
    pytest.importorskip("scipy")
    from scipy.stats import binom

    probs, labels = cifar_models["resnet18"]
    conf, correct = probs.max(1), probs.argmax(1) == labels
    for target in (0.02, 0.03, 0.05):
        st = SelectiveThreshold(target, 0.001, method="sgr").fit(conf, correct)
        # the reference script, with the answered set taken as {conf >= theta}
        order = np.sort(conf)
        m = len(conf)
        z = math.ceil(math.log2(m))
        a, b, best = 0, m - 1, None
        for _ in range(z + 1):
            mid = math.ceil((a + b) / 2)
            theta = order[mid]
            ans = conf >= theta
            k, mi = int((~correct[ans]).sum()), int(ans.sum())
            lo, hi = k / mi, 1.0
            while True:
                bm = (lo + hi) / 2
                f = binom.cdf(k, mi, bm) - 0.001 / z
                if abs(f) < 1e-7:
                    break
                lo, hi = (bm, hi) if f > 0 else (lo, bm)
            if bm > target:
                a = mid
            else:
                b = mid
                best = theta if best is None else min(best, theta)
        assert st.threshold_ == best
        assert st.risk_bound_ <= target


def test_crc_matches_formula(rng):
    conf = rng.random(700)
    correct = rng.random(700) < conf
    for target in (0.05, 0.1, 0.2):
        st = SelectiveThreshold(target, method="crc").fit(conf, correct)
        vals, _, errors = _levels(conf, correct)
        r_plus = len(conf) / (len(conf) + 1) * errors / len(conf) + 1 / (len(conf) + 1)
        ok = np.flatnonzero(r_plus <= target)
        assert st.threshold_ == vals[ok.max()]
        assert st.risk_bound_ == pytest.approx(r_plus[ok.max()], abs=1e-15)


def test_infeasible_says_so_and_abstains():
    conf = np.linspace(0, 1, 30)
    correct = np.zeros(30, bool)
    for method in ("ltt", "sgr", "crc"):
        with pytest.warns(NoThresholdWarning, match="abstaining on everything"):
            st = SelectiveThreshold(0.05, 0.05, method=method).fit(conf, correct)
        assert not st.feasible_ and st.threshold_ == np.inf and st.coverage_ == 0.0
        assert st.accept(1.0) is False
        assert not st.accept(np.array([0.5, 1.0, 2.0])).any()


def test_accept_scalar_and_array(rng):
    conf = rng.random(2000)
    correct = rng.random(2000) < conf
    st = SelectiveThreshold(0.1, 0.1).fit(conf, correct)
    t = st.threshold_
    assert st.accept(t) is True and st.accept(np.nextafter(t, 0)) is False
    np.testing.assert_array_equal(st.accept(conf), conf >= t)
    assert isinstance(st.accept(np.float64(t)), bool)


def test_per_segment_targets(rng, tmp_path):
    n = 6000
    conf = rng.random(n)
    correct = rng.random(n) < 0.3 + 0.7 * conf
    seg = rng.choice(np.array(["chat", "medical"]), size=n)
    st = SelectiveThreshold(0.1, 0.1, segment_targets={"medical": 0.03}).fit(conf, correct, segments=seg)
    for name, target in (("chat", 0.1), ("medical", 0.03)):
        m = seg == name
        one = SelectiveThreshold(target, 0.1).fit(conf[m], correct[m])
        assert st.threshold_[name] == one.threshold_
        assert st.risk_bound_[name] <= target
    assert st.threshold_["medical"] > st.threshold_["chat"]
    got = st.accept(conf[:100], segments=seg[:100])
    want = conf[:100] >= np.array([st.threshold_[s] for s in seg[:100]])
    np.testing.assert_array_equal(got, want)
    st.save(tmp_path / "sel.json")
    back = credo.load(tmp_path / "sel.json")
    assert back.threshold_ == st.threshold_ and back.feasible_ == st.feasible_
    np.testing.assert_array_equal(back.accept(conf[:100], segments=seg[:100]), got)
    with pytest.raises(credo.InvalidArgumentError, match=r"^segments: 'legal' was not seen"):
        st.accept([0.5], segments=["legal"])
    with pytest.raises(credo.InvalidArgumentError, match=r"^segments: required"):
        st.accept(0.5)


def test_selective_artefact_roundtrip(tmp_path, rng):
    conf = rng.random(1000)
    correct = rng.random(1000) < conf
    st = SelectiveThreshold(0.15, 0.05, method="sgr").fit(conf, correct)
    st.save(tmp_path / "s.json")
    back = credo.load(tmp_path / "s.json")
    for f in ("threshold_", "feasible_", "risk_bound_", "coverage_", "empirical_risk_", "n_answered_"):
        assert getattr(back, f) == getattr(st, f)


def test_selective_bad_input():
    conf, correct = np.array([0.2, 0.9]), np.array([True, False])
    with pytest.raises(credo.InvalidArgumentError, match=r"^target_risk:"):
        SelectiveThreshold(0.0).fit(conf, correct)
    with pytest.raises(credo.InvalidArgumentError, match=r"^delta:"):
        SelectiveThreshold(0.1, 1.0).fit(conf, correct)
    with pytest.raises(credo.InvalidArgumentError, match=r"^method:"):
        SelectiveThreshold(0.1, method="rcps").fit(conf, correct)
    with pytest.raises(credo.InvalidArgumentError, match=r"^p_value:"):
        SelectiveThreshold(0.1, p_value="wsr").fit(conf, correct)
    with pytest.raises(credo.InvalidArgumentError, match=r"^fwer:"):
        SelectiveThreshold(0.1, fwer="holm").fit(conf, correct)
    with pytest.raises(credo.EmptyInputError, match=r"^confidence:"):
        SelectiveThreshold(0.1).fit([], [])
    with pytest.raises(credo.NonFiniteError, match=r"^confidence:"):
        SelectiveThreshold(0.1).fit([np.nan, 0.5], correct)
    with pytest.raises(credo.ShapeError, match=r"^correct:"):
        SelectiveThreshold(0.1).fit(conf, [True])
    with pytest.raises(credo.InvalidArgumentError, match=r"^correct:"):
        SelectiveThreshold(0.1).fit(conf, [0.5, 1])
    with pytest.raises(credo.InvalidArgumentError, match=r"^segment_targets\['a'\]:"):
        SelectiveThreshold(0.1, segment_targets={"a": 2.0}).fit(conf, correct, segments=["a", "b"])
    with pytest.raises(credo.NotFittedError):
        SelectiveThreshold(0.1).accept(0.5)


# ---------------------------------------------------------------- claim filter


def test_claim_filter_threshold_and_filter(rng, tmp_path):
    scores, labels = [], []
    for _ in range(60):
        k = int(rng.integers(0, 8))
        s = rng.random(k)
        scores.append(s)
        labels.append(rng.random(k) < 0.4 + 0.6 * s)
    cf = ClaimFilter(0.2).fit(scores, labels)
    r = np.array(
        [
            max([s for s, ok in zip(ss, ll, strict=True) if not ok], default=-np.inf)
            for ss, ll in zip(scores, labels, strict=True)
        ]
    )
    assert cf.threshold_ == np.sort(r)[math.ceil(61 * 0.8) - 1]
    claims = ["a", "b", "c"]
    sc = np.array([cf.threshold_ + 0.01, cf.threshold_, cf.threshold_ - 0.01])
    assert cf.filter(claims, sc) == ["a"]
    assert cf.keep(sc).tolist() == [True, False, False]
    cf.save(tmp_path / "c.json")
    assert credo.load(tmp_path / "c.json").threshold_ == cf.threshold_


def test_claim_filter_bad_input():
    with pytest.raises(credo.InvalidArgumentError, match=r"^alpha:"):
        ClaimFilter(0).fit([[0.1]], [[True]])
    with pytest.raises(credo.EmptyInputError, match=r"^scores:"):
        ClaimFilter(0.1).fit([], [])
    with pytest.raises(credo.ShapeError, match=r"^labels\[0\]:"):
        ClaimFilter(0.1).fit([[0.1, 0.2]], [[True]])
    with pytest.raises(credo.ShapeError, match=r"^labels:"):
        ClaimFilter(0.1).fit([[0.1]], [[True], [False]])
    with pytest.raises(credo.NonFiniteError, match=r"^scores\[1\]:"):
        ClaimFilter(0.1).fit([[0.1], [np.nan]], [[True], [False]])
    with pytest.raises(credo.InvalidArgumentError, match=r"^labels\[0\]:"):
        ClaimFilter(0.1).fit([["x"]], [["Y"]]) if False else ClaimFilter(0.1).fit([[0.1]], [["Y"]])
    with pytest.raises(credo.EmptyInputError, match=r"^scores: 3 calibration prompts are too few"):
        ClaimFilter(0.1).fit([[0.1], [0.2], [0.3]], [[True], [False], [True]])
    none_kept = ClaimFilter(0.1, if_infinite="inf").fit([[0.1], [0.2], [0.3]], [[True], [False], [True]])
    assert none_kept.filter(["x"], [1e9]) == []
    with pytest.raises(credo.ShapeError, match=r"^claims:"):
        none_kept.filter(["x", "y"], [0.1])


def test_factuality_data_threshold_matches_numpy():
    import json

    data = json.loads(data_path("factuality-gpt4", "nq_subclaims_with_scores.jsonl").read_text())["data"]
    scores = [[c["frequency+gpt-score"] + c["noise"] for c in d["claims"]] for d in data]
    labels = [[c["annotation"].strip() == "Y" for c in d["claims"]] for d in data]
    cf = ClaimFilter(0.1).fit(scores, labels)
    r = np.sort(
        [
            max([s for s, ok in zip(ss, ll, strict=True) if not ok], default=-np.inf)
            for ss, ll in zip(scores, labels, strict=True)
        ]
    )
    assert cf.threshold_ == r[math.ceil(51 * 0.9) - 1]


# ---------------------------------------------------------------- invariants


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-100, 100), min_size=1, max_size=50),
    st.lists(st.floats(-100, 100), min_size=1, max_size=20),
)
def test_p_value_invariants(cal, test):
    pv = ConformalPValues().fit(cal)
    p = pv.p_values(test)
    n = len(cal)
    assert ((p >= 1 / (n + 1)) & (p <= 1)).all()
    order = np.argsort(test, kind="stable")
    assert (np.diff(p[order]) <= 1e-15).all()  # non-increasing in the score
    sm = ConformalPValues(smoothed=True, seed=0).fit(cal).p_values(test)
    assert ((sm >= 0) & (sm <= p + 1e-15)).all()


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["lac", "aps", "raps"]))
def test_sets_shrink_as_alpha_grows(seed, score):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(5), size=80)
    labels = rng.integers(0, 5, 80)
    sets = [ConformalSets(a, score=score).fit(probs, labels).predict_sets(probs) for a in (0.1, 0.2, 0.4)]
    assert (sets[1] <= sets[0]).all() and (sets[2] <= sets[1]).all()


# ---------------------------------------------------------------- RCPS bounds (d.4)


def test_rcps_bounds_match_mapie(rng):
    pytest.importorskip("mapie")
    from mapie.risk_control.methods import get_r_hat_plus

    from credo.conformal import rcps_upper_bound

    lambdas = np.linspace(0, 1, 201)  # MAPIE's WSR allocates n/2 x L x L floats: keep L small
    for n, p in ((50, 0.3), (300, 0.1), (400, 0.02)):
        risks = (rng.random((n, 3)) < p).astype(float)
        risks[:, 2] = rng.random(n) * 0.5  # a non-binary loss column
        for bound in ("hoeffding", "bernstein"):
            _, ref = get_r_hat_plus(risks, lambdas[:3], "rcps", bound, 0.1, 0.25)
            np.testing.assert_allclose(rcps_upper_bound(risks, 0.1, bound=bound), ref, rtol=1e-12)
        for j in range(3):
            x = risks[:, j]
            ours = rcps_upper_bound(x, 0.1, bound="wsr")
            # MAPIE evaluates WSR on its lambda grid and, to save memory, sums the maximal log
            # wealth of the two halves of the sample (a different, smaller bound). On the grid,
            # with the wealth of the whole sequence (the RCPS reference), the first rejected value
            # is the smallest grid point at or above credo's bound.
            mu = (np.cumsum(x) + 0.5) / (np.arange(1, n + 1) + 1)
            s2 = np.r_[0.25, ((0.25 + np.cumsum((x - mu) ** 2)) / (np.arange(1, n + 1) + 1))[:-1]]
            nu = np.minimum(1, np.sqrt(2 * np.log(10) / (n * s2)))
            wealth = [np.max(np.cumsum(np.log(1 - nu * (x - m) + np.finfo(float).eps))) for m in lambdas]
            first = lambdas[np.argmax(np.array(wealth) > np.log(10))]
            assert first == lambdas[np.searchsorted(lambdas, ours - 1e-9)], (ours, first)


def test_rcps_wsr_matches_reference_code(rng):
    pytest.importorskip("scipy")
    from scipy.optimize import brentq

    from credo.conformal import rcps_upper_bound

    x = (rng.random(300) < 0.15).astype(float)
    delta, n = 0.05, len(x)
    muhat = (np.cumsum(x) + 0.5) / (1 + np.arange(1, n + 1))
    sigma2 = (np.cumsum((x - muhat) ** 2) + 0.25) / (1 + np.arange(1, n + 1))
    sigma2[1:] = sigma2[:-1]
    sigma2[0] = 0.25
    nu = np.minimum(np.sqrt(2 * np.log(1 / delta) / n / sigma2), 1)
    ref = brentq(lambda mu: np.max(np.cumsum(np.log(1 - nu * (x - mu)))) + np.log(delta), 1e-10, 1 - 1e-10)
    assert rcps_upper_bound(x, delta, bound="wsr") == pytest.approx(ref, abs=2e-10)


def test_rcps_bad_input():
    from credo.conformal import rcps_upper_bound

    with pytest.raises(credo.InvalidArgumentError, match=r"^losses: must lie in \[0, 1\]"):
        rcps_upper_bound([0.2, 1.5], 0.1)
    with pytest.raises(credo.NonFiniteError, match=r"^losses:"):
        rcps_upper_bound([0.2, np.nan], 0.1)
    with pytest.raises(credo.EmptyInputError, match=r"^losses:"):
        rcps_upper_bound([0.2], 0.1, bound="bernstein")
    with pytest.raises(credo.InvalidArgumentError, match=r"^bound:"):
        rcps_upper_bound([0.2], 0.1, bound="clt")
    with pytest.raises(credo.InvalidArgumentError, match=r"^delta:"):
        rcps_upper_bound([0.2], 1.0)


def test_ltt_matches_mapie_ltt_procedure(mmlu, cifar_models):
    pytest.importorskip("mapie")
    from mapie.risk_control._base_controller import ltt_procedure

    probs = np.concatenate([p for p, _ in mmlu.values()])
    y = np.concatenate([t for _, t in mmlu.values()])
    cases = [(probs, y, 0.25), (*cifar_models["vgg11_bn"], 0.03)]
    for p, labels, target in cases:
        conf, correct = p.max(1), p.argmax(1) == labels
        vals, answered, errors = _levels(conf, correct)
        n = len(conf)
        hyps = []
        for i in range(1, 51):
            j = int(np.searchsorted(answered, -(-i * n // 50)))
            if j < len(vals) and (not hyps or hyps[-1] != j):
                hyps.append(j)
        hyps = np.array([j for j in hyps if (1 - target) ** answered[j] <= 0.1])
        for p_value, binary in (("binomial", True), ("hoeffding_bentkus", False)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # MAPIE: "risk not monotonic"
                valid, _ = ltt_procedure(
                    (errors[hyps] / answered[hyps])[None, :],
                    np.array([[target]]),
                    0.1,
                    answered[hyps][None, :],
                    binary=binary,
                    fwer_method="fixed_sequence",
                )
            want = vals[hyps[max(valid[0])]] if valid[0] else np.inf
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NoThresholdWarning)
                st = SelectiveThreshold(target, 0.1, p_value=p_value).fit(conf, correct)
            assert st.threshold_ == want, (p_value, target)


def test_sets_identical_for_any_thread_count(rng):
    probs = rng.dirichlet(np.ones(20), size=5000)
    labels = rng.integers(0, 20, 5000)
    for score in ("lac", "aps"):
        cs = ConformalSets(0.1, score=score, include_last_label="randomized").fit(probs, labels)
        for p in (probs, probs.astype(np.float32)):
            one = cs.predict_sets(p, threads=1)
            np.testing.assert_array_equal(one, cs.predict_sets(p, threads=2))
            np.testing.assert_array_equal(one, cs.predict_sets(p))
    # above 16 MiB the LAC pass is split across threads and its bools are streamed past the
    # cache; below it runs on the calling thread. Odd sizes: chunks of rows end off any vector
    # boundary, and the fit's gather (in chunks of rows too) ends in a short chunk.
    big = rng.random((20_011, 107))
    labels = rng.integers(0, 107, 20_011)
    cs = ConformalSets(0.1, mode="compat").fit(big, labels)
    scores = 1.0 - big[np.arange(20_011), labels]
    np.testing.assert_array_equal(cs.calibration_scores_, scores)
    # above 8192 scores the selection brackets the quantile's rank with a sample first
    assert cs.quantile_ == np.sort(scores)[math.ceil(20_012 * 0.9) - 1]
    one = cs.predict_sets(big, threads=1)
    np.testing.assert_array_equal(one, cs.predict_sets(big, threads=2))
    np.testing.assert_array_equal(one, (1.0 - big) <= cs.quantile_)
    with pytest.raises(credo.InvalidArgumentError, match=r"^threads:"):
        cs.predict_sets(probs, threads=0)


def test_estimators_clone_with_sklearn():
    pytest.importorskip("sklearn")
    from sklearn.base import clone

    for est in (
        ConformalSets(0.05, score="aps", mondrian="class"),
        SelectiveThreshold(0.05, 0.01, method="sgr", segment_targets={"a": 0.01}),
        ClaimFilter(0.2),
        ConformalPValues(smoothed=True, seed=3),
    ):
        assert clone(est).get_params() == est.get_params()


# ---------------------------------------------------------------- conformal language modeling (d.6)


def test_clm_set_scores_and_stop_index(rng):
    from credo.conformal import clm_set_scores, clm_stop_index

    p = rng.random((40, 7))
    p[0, 2] = 1.0  # 1 - p = 0 is floored at 1e-8
    want = {
        "geometric": np.cumsum(-np.log(np.maximum(1 - p, 1e-8)), axis=1),
        "first_k": np.tile(np.arange(1, 8, dtype=float), (40, 1)),
        "max": np.maximum.accumulate(p, axis=1),
        "sum": np.cumsum(p, axis=1),
    }
    for kind, ref in want.items():
        np.testing.assert_allclose(clm_set_scores(p, kind=kind), ref, rtol=1e-12)
    s = clm_set_scores(p, kind="sum")
    for lam in (0.0, 0.5, 2.0, 100.0):
        ref = np.clip((np.maximum.accumulate(s, axis=1) < lam).sum(1), 0, 6)
        np.testing.assert_array_equal(clm_stop_index(s, lam), ref)
    with pytest.raises(credo.InvalidArgumentError, match=r"^kind:"):
        clm_set_scores(p, kind="mean")
    with pytest.raises(credo.NonFiniteError, match=r"^scores:"):
        clm_set_scores(np.full((2, 2), np.nan))
    with pytest.raises(credo.NonFiniteError, match=r"^lam:"):
        clm_stop_index(s, np.nan)


def test_clm_selection_matches_spec(rng):
    pytest.importorskip("scipy")
    from scipy.stats import binom

    from credo.conformal import clm_p_values, clm_select

    n, eps, delta = 500, 0.2, 0.05
    for _ in range(30):
        m = 60
        loss = rng.random(m) * 0.4
        cost = rng.random(m) * 10
        np.testing.assert_allclose(clm_p_values(loss, n, eps), binom.cdf(n * loss, n, eps), rtol=1e-9, atol=1e-300)
        # Pareto front by brute force, sorted by increasing loss
        dominated = [
            any(
                (loss[j] <= loss[i] and cost[j] <= cost[i]) and (loss[j] < loss[i] or cost[j] < cost[i])
                for j in range(m)
            )
            for i in range(m)
        ]
        front = sorted((i for i in range(m) if not dominated[i]), key=lambda i: loss[i])
        chosen = None
        for i in front:
            if binom.cdf(n * loss[i], n, eps) > delta:
                break
            chosen = i
        assert clm_select(loss, n, eps, delta, cost=cost) == chosen
    assert clm_select([0.5, 0.01], n, eps, delta) is None  # the first configuration already fails
    assert clm_select([0.01, 0.5], n, eps, delta) == 0
    with pytest.raises(credo.InvalidArgumentError, match=r"^epsilon:"):
        clm_select([0.1], n, 0.0, delta)


def test_infeasible_threshold_roundtrips_and_tampering_is_refused(tmp_path):
    import json

    with pytest.warns(NoThresholdWarning):
        st = SelectiveThreshold(0.01, 0.01).fit(np.linspace(0, 1, 20), np.zeros(20, bool))
    path = st.save(tmp_path / "s.json")
    back = credo.load(path)
    assert back.threshold_ == np.inf and back.feasible_ is False and back.accept(1e9) is False
    body = json.loads(path.read_text())
    body["state"]["threshold"] = 0.0  # would answer everything
    path.write_text(json.dumps(body))
    with pytest.raises(credo.ArtifactError, match="checksum"):
        credo.load(path)
