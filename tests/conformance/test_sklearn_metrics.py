"""Ported from scikit-learn 1.9.1 ``sklearn/metrics/tests/test_ranking.py`` and
``sklearn/metrics/tests/test_classification.py``: the cases of the metrics credo has —
``roc_auc_score`` (:func:`credo.metrics.auroc`), ``average_precision_score``
(:func:`credo.metrics.auprc`), ``brier_score_loss`` (:func:`credo.metrics.brier_score`) and
``log_loss`` (:func:`credo.metrics.nll`) — with their inputs, expected values and tolerances
(``assert_almost_equal``: 7 decimals; ``assert_allclose``: rtol 1e-7). The toy classifier of
``make_prediction`` and the alternative implementations ``_auc``, ``_average_precision`` and
``_average_precision_slow`` are scikit-learn's (BSD-3-Clause), copied unchanged.

Not ported: curves (``roc_curve``, ``precision_recall_curve``, ``det_curve``), multi-class and
multi-label averaging, ``pos_label``, ``labels`` and ``normalize`` arguments, which credo's
metrics do not have. Deliberate differences are xfail with the reason: credo's ranking metrics
take outcomes in [0, 1] (correctness, possibly fractional) and refuse other encodings with a
:class:`credo.CredoError` instead of guessing the positive class; AUROC with one class raises
where scikit-learn returns NaN with a warning (a NaN would propagate silently through a report);
class labels of ``nll`` / ``brier_score`` are integers 0..K−1 (the estimators map other labels
through ``classes_``)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_almost_equal, assert_array_almost_equal

import credo
from credo import metrics as M

pytest.importorskip("sklearn")
from scipy import linalg
from scipy.stats import bernoulli

LABELS_01 = "credo's binary metrics take outcomes in [0, 1]; other label encodings are refused, not guessed"
ONE_CLASS = "credo raises a CredoError for AUROC with one class; scikit-learn returns NaN with a warning"
INT_LABELS = "credo's nll / brier_score take class indices 0..K-1; estimators map other labels via classes_"


# --- scikit-learn's helpers (sklearn/metrics/tests/test_ranking.py) -------------------------------


def make_prediction(dataset=None, binary=False):
    from sklearn import datasets
    from sklearn.linear_model import LogisticRegression
    from sklearn.utils.validation import check_random_state

    if dataset is None:
        dataset = datasets.load_iris()
    X = dataset.data
    y = dataset.target
    if binary:
        X, y = X[y < 2], y[y < 2]
    n_samples, n_features = X.shape
    p = np.arange(n_samples)
    rng = check_random_state(37)
    rng.shuffle(p)
    X, y = X[p], y[p]
    half = int(n_samples / 2)
    rng = np.random.RandomState(0)
    X = np.c_[X, rng.randn(n_samples, 200 * n_features)]
    clf = LogisticRegression(random_state=0)
    y_score = clf.fit(X[:half], y[:half]).predict_proba(X[half:])
    if binary:
        y_score = y_score[:, 1]
    y_pred = clf.predict(X[half:])
    y_true = y[half:]
    return y_true, y_pred, y_score


def _auc(y_true, y_score):
    pos_label = np.unique(y_true)[1]
    pos = y_score[y_true == pos_label]
    neg = y_score[y_true != pos_label]
    diff_matrix = pos.reshape(1, -1) - neg.reshape(-1, 1)
    n_correct = np.sum(diff_matrix > 0)
    return n_correct / float(len(pos) * len(neg))


def _average_precision(y_true, y_score):
    pos_label = np.unique(y_true)[1]
    n_pos = np.sum(y_true == pos_label)
    order = np.argsort(y_score)[::-1]
    y_score = y_score[order]
    y_true = y_true[order]
    score = 0
    for i in range(len(y_score)):
        if y_true[i] == pos_label:
            prec = 0
            for j in range(0, i + 1):
                if y_true[j] == pos_label:
                    prec += 1.0
            prec /= i + 1.0
            score += prec
    return score / n_pos


def _average_precision_slow(y_true, y_score):
    from sklearn.metrics import precision_recall_curve

    precision, recall, _threshold = precision_recall_curve(y_true, y_score)
    precision = list(reversed(precision))
    recall = list(reversed(recall))
    average_precision = 0
    for i in range(1, len(precision)):
        average_precision += precision[i] * (recall[i] - recall[i - 1])
    return average_precision


@pytest.fixture(scope="module")
def binary_prediction():
    return make_prediction(binary=True)


# --- test_ranking.py: roc_auc_score -----------------------------------------------------------


def test_roc_curve(binary_prediction):
    # test_roc_curve: the area against the alternative implementation and roc_auc_score
    from sklearn.metrics import roc_auc_score

    y_true, _, y_score = binary_prediction
    expected_auc = _auc(y_true, y_score)
    roc_auc = M.auroc(y_true, y_score)
    assert_array_almost_equal(roc_auc, expected_auc, decimal=2)
    assert_almost_equal(roc_auc, roc_auc_score(y_true, y_score))


def test_roc_curve_confidence(binary_prediction):
    y_true, _, y_score = binary_prediction
    assert_array_almost_equal(M.auroc(y_true, y_score - 0.5), 0.90, decimal=2)


def test_roc_curve_hard(binary_prediction):
    y_true, pred, _ = binary_prediction
    assert_array_almost_equal(M.auroc(y_true, np.ones(y_true.shape)), 0.50, decimal=2)
    assert_array_almost_equal(M.auroc(y_true, np.zeros(y_true.shape)), 0.50, decimal=2)
    assert_array_almost_equal(M.auroc(y_true, pred), 0.78, decimal=2)


@pytest.mark.parametrize(
    ("y_true", "y_score", "expected"),
    [
        ([0, 1], [0, 1], 1.0),
        ([0, 1], [1, 0], 0.0),
        ([1, 0], [1, 1], 0.5),
        ([1, 0], [1, 0], 1.0),
        ([1, 0], [0.5, 0.5], 0.5),
    ],
)
def test_roc_curve_toydata(y_true, y_score, expected):
    assert_almost_equal(M.auroc(y_true, y_score), expected)


@pytest.mark.xfail(reason=ONE_CLASS, strict=True, raises=credo.CredoError)
@pytest.mark.parametrize("y_true", [[0, 0], [1, 1]])
def test_roc_curve_toydata_one_class(y_true):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        auc = M.auroc(y_true, [0.25, 0.75])
    assert any("Only one class is present in y_true" in str(w.message) for w in caught)
    assert math.isnan(auc)


def test_roc_curve_toydata_one_class_is_a_clear_error():
    # what credo does instead: a CredoError (a ValueError) naming y_true
    for y_true in ([0, 0], [1, 1]):
        with pytest.raises(credo.CredoError, match="y_true: needs both"):
            M.auroc(y_true, [0.25, 0.75])


@pytest.mark.xfail(reason=ONE_CLASS, strict=True, raises=credo.CredoError)
@pytest.mark.parametrize("label", [0, 1])
def test_auc_score_non_binary_class(label):
    from sklearn.utils.validation import check_random_state

    y_pred = check_random_state(404).rand(10)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        M.auroc(np.full(10, label, dtype="int"), y_pred)
    assert any("Only one class is present in y_true" in str(w.message) for w in caught)


@pytest.mark.xfail(reason=LABELS_01, strict=True, raises=credo.CredoError)
def test_auc_score_non_binary_class_minus_one():
    from sklearn.utils.validation import check_random_state

    y_pred = check_random_state(404).rand(10)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        M.auroc(np.full(10, -1, dtype="int"), y_pred)
    assert any("Only one class is present in y_true" in str(w.message) for w in caught)


def test_score_scale_invariance_roc_auc(binary_prediction):
    y_true, _, y_score = binary_prediction
    roc_auc = M.auroc(y_true, y_score)
    assert roc_auc == M.auroc(y_true, 100 * y_score)
    assert roc_auc == M.auroc(y_true, 1e-6 * y_score)
    assert roc_auc == M.auroc(y_true, y_score - 10)


# --- test_ranking.py: average_precision_score ------------------------------------------------


def test_precision_recall_curve(binary_prediction):
    # _test_precision_recall_curve: the area against the two alternative implementations
    y_true, _, y_score = binary_prediction
    precision_recall_auc = _average_precision_slow(y_true, y_score)
    assert_array_almost_equal(precision_recall_auc, 0.869, 3)
    assert_array_almost_equal(precision_recall_auc, M.auprc(y_true, y_score))
    assert_almost_equal(_average_precision(y_true, y_score), precision_recall_auc, decimal=2)


@pytest.mark.xfail(reason=LABELS_01, strict=True, raises=credo.CredoError)
def test_precision_recall_curve_minus_one_labels(binary_prediction):
    # the same with {-1, 1} labels
    y_true, _, y_score = binary_prediction
    y_true = y_true.copy()
    y_true[np.where(y_true == 0)] = -1
    assert_array_almost_equal(_average_precision_slow(y_true, y_score), M.auprc(y_true, y_score))


@pytest.mark.parametrize(
    ("y_true", "y_score", "expected"),
    [
        ([0, 1], [0, 1], 1.0),
        ([0, 1], [1, 0], 0.5),
        ([1, 0], [1, 1], 0.5),
        ([1, 0], [1, 0], 1.0),
        ([1, 0], [0.5, 0.5], 0.5),
        ([1, 1], [0.25, 0.75], 1.0),
    ],
)
def test_precision_recall_curve_toydata(y_true, y_score, expected):
    with np.errstate(all="raise"):
        assert_almost_equal(M.auprc(y_true, y_score), expected)


def test_precision_recall_curve_toydata_no_positive():
    with np.errstate(all="raise"):
        with pytest.warns(UserWarning, match="no positive sample"):  # scikit-learn: "No positive class found"
            auc_prc = M.auprc([0, 0], [0.25, 0.75])
    assert_allclose(auc_prc, 0)


def test_average_precision_constant_values():
    y_true = np.zeros(100, dtype=int)
    y_true[::4] = 1
    y_score = np.ones(100)
    assert M.auprc(y_true, y_score) == 0.25


def test_score_scale_invariance_average_precision(binary_prediction):
    y_true, _, y_score = binary_prediction
    pr_auc = M.auprc(y_true, y_score)
    assert pr_auc == M.auprc(y_true, 100 * y_score)
    assert pr_auc == M.auprc(y_true, 1e-6 * y_score)
    assert pr_auc == M.auprc(y_true, y_score - 10)


# --- test_classification.py: log_loss ----------------------------------------------------------


@pytest.mark.xfail(reason=INT_LABELS, strict=True, raises=credo.CredoError)
def test_log_loss_symbolic_labels():
    y_true = ["no", "no", "no", "yes", "yes", "yes"]
    y_proba = np.array([[0.5, 0.5], [0.1, 0.9], [0.01, 0.99], [0.9, 0.1], [0.75, 0.25], [0.001, 0.999]])
    loss_true = -np.mean(bernoulli.logpmf(np.array(y_true) == "yes", y_proba[:, 1]))
    assert_allclose(M.nll(y_true, y_proba), loss_true)


def test_log_loss_symbolic_labels_as_indices():
    # the same case with the labels as class indices ("no" = 0 < "yes" = 1)
    y_true = np.array([0, 0, 0, 1, 1, 1])
    y_proba = np.array([[0.5, 0.5], [0.1, 0.9], [0.01, 0.99], [0.9, 0.1], [0.75, 0.25], [0.001, 0.999]])
    loss_true = -np.mean(bernoulli.logpmf(y_true == 1, y_proba[:, 1]))
    assert_allclose(M.nll(y_true, y_proba), loss_true)


def test_log_loss_multiclass():
    y_true = [1, 0, 2]
    y_proba = [[0.2, 0.7, 0.1], [0.6, 0.2, 0.2], [0.6, 0.1, 0.3]]
    assert_allclose(M.nll(y_true, y_proba), 0.6904911)
    # shapes and axes: doubling y_true and y_proba (normalize=False is n x the mean)
    assert_allclose(6 * M.nll(y_true * 2, y_proba * 2), 0.6904911 * 6)


def test_log_loss_number_of_classes_differ():
    with pytest.raises(ValueError):
        M.nll([1, 0, 2], [[0.3, 0.7], [0.6, 0.4], [0.4, 0.6]])


def test_log_loss_string_array_as_indices():
    # y_true = ["ham", "spam", "spam", "ham"] as class indices
    y_proba = [[0.3, 0.7], [0.6, 0.4], [0.4, 0.6], [0.7, 0.3]]
    assert_allclose(M.nll([0, 1, 1, 0], y_proba), 0.7469410)


@pytest.mark.xfail(reason=INT_LABELS, strict=True, raises=credo.CredoError)
def test_log_loss_string_array():
    y_proba = [[0.3, 0.7], [0.6, 0.4], [0.4, 0.6], [0.7, 0.3]]
    assert_allclose(M.nll(["ham", "spam", "spam", "ham"], y_proba), 0.7469410)


def test_log_loss_inconsistent_lengths():
    with pytest.raises(ValueError, match="y_true"):
        M.nll([1, 1], [[0.2, 0.8], [0.6, 0.4], [0.7, 0.3]])


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_log_loss_eps(dtype):
    y_true = np.array([0, 1], dtype=dtype)
    y_proba = np.array([1, 0], dtype=dtype)
    assert np.isfinite(M.nll(y_true, y_proba))


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_log_loss_not_probabilities_warning(dtype):
    y_true = np.array([0, 1, 1, 0])
    y_proba = np.array([[0.2, 0.7], [0.6, 0.3], [0.4, 0.7], [0.8, 0.3]], dtype=dtype)
    with pytest.warns(UserWarning, match="do not sum to 1"):  # a credo.DataWarning
        M.nll(y_true, y_proba)


@pytest.mark.parametrize(
    ("y_true", "y_proba"),
    [([0, 1, 0], [0, 1, 0]), ([0, 1, 0], [[1, 0], [0, 1], [1, 0]]), ([0, 1, 2], [[1, 0, 0], [0, 1, 0], [0, 0, 1]])],
)
def test_log_loss_perfect_predictions(y_true, y_proba):
    assert M.nll(y_true, y_proba) == pytest.approx(0)


def test_log_loss_pandas_input():
    pd = pytest.importorskip("pandas")
    y_pr = np.array([[0.3, 0.7], [0.6, 0.4], [0.4, 0.6], [0.7, 0.3]])
    # y_true = ["ham", "spam", "spam", "ham"] as class indices
    assert_allclose(M.nll(pd.Series([0, 1, 1, 0]), pd.DataFrame(y_pr)), 0.7469410)


# --- test_classification.py: brier_score_loss ---------------------------------------------------

Y_BIN = np.array([0, 1, 1, 0, 1, 1])
P_BIN = np.array([0.1, 0.8, 0.9, 0.3, 1.0, 0.95])
TRUE_SCORE = linalg.norm(Y_BIN - P_BIN) ** 2 / len(Y_BIN)


def test_brier_score_loss_binary():
    assert_almost_equal(M.brier_score(Y_BIN, Y_BIN), 0.0)
    assert_almost_equal(M.brier_score(Y_BIN, P_BIN), TRUE_SCORE)
    # (n_samples, 2) y_prob gives the same score
    assert_almost_equal(M.brier_score(Y_BIN, np.column_stack((1 - P_BIN, P_BIN))), TRUE_SCORE)
    # scale_by_half
    assert_almost_equal(M.brier_score(Y_BIN, P_BIN, scale_by_half="auto"), TRUE_SCORE)
    assert_almost_equal(M.brier_score(Y_BIN, P_BIN, scale_by_half=True), TRUE_SCORE)
    assert_almost_equal(M.brier_score(Y_BIN, P_BIN, scale_by_half=False), 2 * TRUE_SCORE)
    # only one class in y_true
    assert_almost_equal(M.brier_score([0], [0.4]), 0.4**2)
    assert_almost_equal(M.brier_score([1], [0.4]), (1 - 0.4) ** 2)


@pytest.mark.xfail(reason=LABELS_01, strict=True, raises=credo.CredoError)
@pytest.mark.parametrize("encode", [lambda y: 1.0 + y, lambda y: 2 * y - 1], ids=["one_two", "minus_one_one"])
def test_brier_score_loss_binary_other_labels(encode):
    assert_almost_equal(M.brier_score(encode(Y_BIN), P_BIN), TRUE_SCORE)


@pytest.mark.xfail(reason=LABELS_01, strict=True, raises=credo.CredoError)
def test_brier_score_loss_binary_minus_one_alone():
    assert_almost_equal(M.brier_score([-1], [0.4]), 0.4**2)


@pytest.mark.xfail(reason="credo's y_true is a 1-D label array, not one-hot", strict=True, raises=credo.CredoError)
def test_brier_score_loss_binary_one_hot_y_true():
    y_prob_reshaped = np.column_stack((1 - P_BIN, P_BIN))
    y_true_reshaped = np.column_stack((1 - Y_BIN, Y_BIN))
    assert_almost_equal(M.brier_score(y_true_reshaped, y_prob_reshaped), TRUE_SCORE)


@pytest.mark.parametrize(
    ("y_true", "y_prob", "expected"),
    [
        # ["eggs", "spam", "ham"] with labels ["eggs", "ham", "spam", "yams"] as class indices
        ([0, 2, 1], [[1, 0, 0, 0], [0, 1, 0, 0], [0, 1, 0, 0]], 2 / 3),
        ([1, 0, 2], [[0.2, 0.7, 0.1], [0.6, 0.2, 0.2], [0.6, 0.1, 0.3]], 0.41333333),
        ([0, 1, 2], [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], 0),
        ([0, 1, 2], [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]], 2),
    ],
)
def test_brier_score_loss_multiclass(y_true, y_prob, expected):
    assert_almost_equal(M.brier_score(y_true, y_prob), expected)


def test_brier_score_loss_invalid_inputs():
    y_true, y_prob = Y_BIN, P_BIN
    for bad in (y_prob[1:], y_prob + 1.0, y_prob - 1.0):
        with pytest.raises(ValueError):
            M.brier_score(y_true, bad)
    y_true = np.array([1, 0, 2])
    y_prob = np.array([[0.2, 0.7, 0.1], [0.6, 0.2, 0.2], [0.6, 0.1, 0.3]])
    for bad in (y_prob[1:], y_prob + 1.0, y_prob - 1.0):
        with pytest.raises(ValueError):
            M.brier_score(y_true, bad)
    # multiclass y_true and binary y_prob
    with pytest.raises(ValueError):
        M.brier_score(np.array([0, 1, 2, 0]), np.array([0.8, 0.6, 0.4, 0.2]))
    # wrong number of classes
    with pytest.raises(ValueError):
        M.brier_score([0, 1, 2], [[1, 0], [0, 1], [0, 1]])


def test_brier_score_loss_one_label_with_two_columns():
    # y_true = ["eggs"], labels=["eggs", "ham"]: class index 0 of two
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_almost_equal(M.brier_score([0], [[0.9, 0.1]]), 0.01)
