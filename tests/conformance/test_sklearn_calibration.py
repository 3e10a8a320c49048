"""Ported from scikit-learn 1.9.1 ``sklearn/tests/test_calibration.py``: the cases that test the
calibrators themselves (``_SigmoidCalibration``, ``_TemperatureScaling``) and
``calibration_curve``, with their inputs, expected values and tolerances, on credo's
:class:`PlattScaling`, :class:`TemperatureScaling` and :func:`credo.metrics.calibration_curve`.
The ``CalibratedClassifierCV`` wrapper (cross-validation, ensembles, pipelines, displays) has
no credo counterpart and is not ported."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_almost_equal, assert_array_almost_equal

from credo import PlattScaling, TemperatureScaling
from credo.metrics import calibration_curve

pytest.importorskip("sklearn")


def test_sigmoid_calibration():
    exF = np.array([5, -4, 1.0])
    exY = np.array([1, -1, -1])  # {-1, 1} labels: classes_ maps 1 to the positive class
    AB_lin_libsvm = np.array([-0.20261354391187855, 0.65236314980010512])
    cal = PlattScaling().fit(exF, exY)
    assert_array_almost_equal(AB_lin_libsvm, [cal.a_, cal.b_], 3)
    lin_prob = 1.0 / (1.0 + np.exp(AB_lin_libsvm[0] * exF + AB_lin_libsvm[1]))
    assert_array_almost_equal(lin_prob, cal.predict(exF), 6)
    with pytest.raises(ValueError):
        PlattScaling().fit(np.vstack((exF, exF)), exY)


@pytest.mark.parametrize("n_classes", [2, 3, 5])
def test_temperature_scaling(n_classes):
    # the ensemble=False branch: scikit-learn fits its _TemperatureScaling on the frozen
    # classifier's probabilities of the calibration set, which is what TemperatureScaling does
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
    from sklearn.model_selection import train_test_split

    X, y = make_classification(
        n_samples=1000,
        n_features=10,
        n_informative=10,
        n_redundant=0,
        n_classes=n_classes,
        n_clusters_per_class=1,
        class_sep=2.0,
        random_state=42,
    )
    X_train, X_cal, y_train, y_cal = train_test_split(X, y, random_state=42)
    clf = LogisticRegression(C=np.inf, tol=1e-8, max_iter=200, random_state=0).fit(X_train, y_train)
    y_scores = clf.predict_proba(X_cal)
    cal = TemperatureScaling(inputs="probabilities").fit(y_scores, y_cal)
    assert cal.beta_ > 0
    y_scores_cal = cal.predict_proba(y_scores)
    assert accuracy_score(y_cal, cal.predict(y_scores)) == accuracy_score(y_cal, clf.predict(X_cal))
    assert log_loss(y_cal, y_scores_cal) <= log_loss(y_cal, y_scores)
    if n_classes == 2:
        y_scores, y_scores_cal = y_scores[:, 1], y_scores_cal[:, 1]
    assert_allclose(
        roc_auc_score(y_cal, y_scores, multi_class="ovr"), roc_auc_score(y_cal, y_scores_cal, multi_class="ovr")
    )
    ts = TemperatureScaling(inputs="probabilities").fit(clf.predict_proba(X_train), y_train)
    assert_allclose(ts.beta_, 1.0, atol=1e-6, rtol=0)


@pytest.mark.parametrize("global_dtype", [np.float32, np.float64])
def test_temperature_scaling_input_validation(global_dtype):
    X = np.arange(10).astype(global_dtype)
    X_2d = X.reshape(-1, 1)
    y = np.random.randint(0, 2, size=X.shape[0])
    y[:2] = [0, 1]  # both classes (scikit-learn's draw may have one; credo refuses one class)
    ts = TemperatureScaling().fit(X, y)
    ts_2d = TemperatureScaling().fit(X_2d, y)
    assert ts.__sklearn_tags__() == ts_2d.__sklearn_tags__()
    assert_allclose(ts.predict(X), ts_2d.predict(X_2d))


def test_calibration_curve():
    y_true = np.array([0, 0, 0, 1, 1, 1])
    y_pred = np.array([0.0, 0.1, 0.2, 0.8, 0.9, 1.0])
    prob_true, prob_pred = calibration_curve(y_true, y_pred, n_bins=2)
    assert len(prob_true) == len(prob_pred)
    assert len(prob_true) == 2
    assert_almost_equal(prob_true, [0, 1])
    assert_almost_equal(prob_pred, [0.1, 0.9])
    with pytest.raises(ValueError):
        calibration_curve([1], [-0.1])
    y_true2 = np.array([0, 0, 0, 0, 1, 1])
    y_pred2 = np.array([0.0, 0.1, 0.2, 0.5, 0.9, 1.0])
    prob_true_quantile, prob_pred_quantile = calibration_curve(y_true2, y_pred2, n_bins=2, strategy="quantile")
    assert len(prob_true_quantile) == len(prob_pred_quantile)
    assert len(prob_true_quantile) == 2
    assert_almost_equal(prob_true_quantile, [0, 2 / 3])
    assert_almost_equal(prob_pred_quantile, [0.1, 0.8])
    with pytest.raises(ValueError):
        calibration_curve(y_true2, y_pred2, strategy="percentile")


@pytest.mark.xfail(reason="credo.metrics.calibration_curve has no pos_label: y_true is 0/1", strict=True)
def test_calibration_curve_pos_label():
    y_true = np.array([0, 0, 0, 1, 1, 1, 1, 1, 1])
    y_true_str = np.array(["spam", "egg"])[y_true]
    y_pred = np.array([0.1, 0.2, 0.3, 0.4, 0.65, 0.7, 0.8, 0.9, 1.0])
    prob_true, _ = calibration_curve(y_true, y_pred, n_bins=4)
    assert_allclose(prob_true, [0, 0.5, 1, 1])
    prob_true, _ = calibration_curve(y_true_str, y_pred, n_bins=4, pos_label="egg")
    assert_allclose(prob_true, [0, 0.5, 1, 1])
