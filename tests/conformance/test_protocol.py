"""scikit-learn's estimator protocol on every credo estimator: labels of any kind through
``classes_``, pickle / deep copy / joblib / multiprocessing through the JSON artefact, exceptions
that cross processes, scikit-learn's NotFittedError, inputs users have, credo's warnings."""

from __future__ import annotations

import copy
import multiprocessing
import pickle
import warnings

import numpy as np
import pytest

import credo
from credo import (
    BetaCalibration,
    ConformalSets,
    HistogramBinning,
    IsotonicCalibrator,
    MulticlassCalibrator,
    PlattScaling,
    TemperatureScaling,
)

ONE_SCORE = (PlattScaling, BetaCalibration, IsotonicCalibrator, HistogramBinning)


def _binary(rng, n=400):
    x = rng.random(n)
    return x, (rng.random(n) < x).astype(np.int64)


def _multiclass(rng, n=600, k=3):
    p = rng.dirichlet(np.ones(k), size=n)
    return p, np.array([rng.choice(k, p=q) for q in p])


def _fitted(rng):
    x, y = _binary(rng)
    p, yk = _multiclass(rng)
    out = [cls().fit(x, y) for cls in ONE_SCORE]
    out += [
        TemperatureScaling().fit(np.log(p), yk),
        TemperatureScaling().fit(x - 0.5, y),
        MulticlassCalibrator().fit(p, yk),
        MulticlassCalibrator(strategy="top-label", method="platt").fit(p, yk),
        ConformalSets(0.1, score="aps").fit(p, yk),
        ConformalSets(0.1, mondrian="class").fit(p, yk),
    ]
    return out, x, p


def _outputs(est, x, p):
    if isinstance(est, ConformalSets):
        return est.predict_sets(p)
    if isinstance(est, (MulticlassCalibrator,)) or (isinstance(est, TemperatureScaling) and est.n_classes_ == 3):
        return est.predict_proba(p if isinstance(est, MulticlassCalibrator) else np.log(p))
    return est.predict_proba(x - 0.5 if isinstance(est, TemperatureScaling) else x)


# ----------------------------------------------------------------------------- labels
LABELS = {
    "strings": np.array(["no", "yes"]),
    "booleans": np.array([False, True]),
    "minus-one-one": np.array([-1, 1]),
    "one-based": np.array([1, 2]),
}


@pytest.mark.parametrize("kind", sorted(LABELS))
@pytest.mark.parametrize("cls", ONE_SCORE, ids=lambda c: c.__name__)
def test_binary_labels_of_any_kind_mean_the_same(cls, kind, rng):
    x, y = _binary(rng)
    names = LABELS[kind]
    est = cls().fit(x, names[y])
    ref = cls().fit(x, y)
    assert est.classes_.tolist() == names.tolist()
    np.testing.assert_array_equal(est.predict(x), ref.predict(x))
    np.testing.assert_array_equal(est.predict_proba(x), ref.predict_proba(x))


def test_pandas_categorical_and_series_inputs(rng):
    pd = pytest.importorskip("pandas")
    x, y = _binary(rng)
    cat = pd.Series(pd.Categorical(np.array(["bad", "good"])[y]))
    est = PlattScaling().fit(pd.DataFrame({"score": x}), cat)
    assert est.classes_.tolist() == ["bad", "good"]
    np.testing.assert_array_equal(est.predict(pd.Series(x)), PlattScaling().fit(x, y).predict(x))
    p, yk = _multiclass(rng)
    frame = pd.DataFrame(p, columns=["a", "b", "c"])
    labels = pd.Series(np.array(["a", "b", "c"])[yk])
    m = MulticlassCalibrator().fit(frame, labels)
    assert m.predict(frame).tolist() == np.array(["a", "b", "c"])[m.predict_proba(p).argmax(1)].tolist()
    cs = ConformalSets(0.1).fit(frame, labels)
    assert cs.evaluate(frame, labels)["coverage"] == ConformalSets(0.1).fit(p, yk).evaluate(p, yk)["coverage"]


def test_multiclass_predict_returns_labels_and_binary_temperature_shapes(rng):
    p, yk = _multiclass(rng)
    names = np.array(["cat", "dog", "emu"])
    for est in (MulticlassCalibrator().fit(p, names[yk]), TemperatureScaling().fit(np.log(p), names[yk])):
        arg = p if isinstance(est, MulticlassCalibrator) else np.log(p)
        np.testing.assert_array_equal(est.predict(arg), names[est.predict_proba(arg).argmax(1)])
    x, y = _binary(rng)
    t = TemperatureScaling().fit(x - 0.5, y)
    f = x[:7] - 0.5
    assert t.predict(f).shape == t.predict(f[:, None]).shape == (7,)
    assert t.predict_proba(f).shape == t.predict_proba(f[:, None]).shape == (7, 2)
    np.testing.assert_array_equal(t.predict(f), t.predict_proba(f[:, None])[:, 1])


def test_isotonic_keeps_float32_like_sklearn(rng):
    pytest.importorskip("sklearn")
    from sklearn.isotonic import IsotonicRegression

    x, y = _binary(rng)
    x32 = x.astype(np.float32)
    ours = IsotonicCalibrator().fit(x32, y).predict(x32)
    ref = IsotonicRegression(out_of_bounds="clip").fit(x32, y).predict(x32)
    assert ours.dtype == ref.dtype == np.float32
    np.testing.assert_allclose(ours, ref, rtol=1e-6)
    assert IsotonicCalibrator().fit(x, y).predict(x).dtype == np.float64


# ----------------------------------------------------------------------------- pickle
def test_fitted_estimators_pickle_and_deepcopy_through_the_artefact(rng):
    fitted, x, p = _fitted(rng)
    for est in fitted:
        data = pickle.dumps(est)
        assert b"credo-artifact" in data and b"numpy" not in data  # JSON, no arrays pickled
        for back in (pickle.loads(data), copy.deepcopy(est)):
            assert type(back) is type(est) and repr(back) == repr(est)
            np.testing.assert_array_equal(_outputs(back, x, p), _outputs(est, x, p))
        shallow = copy.copy(est)
        assert shallow is not est and all(shallow.__dict__[k] is v for k, v in est.__dict__.items())
    unfitted = PlattScaling(inputs="probabilities")
    assert pickle.loads(pickle.dumps(unfitted)).get_params() == unfitted.get_params()


def test_joblib_and_spawned_processes_get_working_models(rng):
    joblib = pytest.importorskip("joblib")
    fitted, x, _p = _fitted(rng)
    est = fitted[2]  # isotonic
    out = joblib.Parallel(n_jobs=2, backend="loky")(joblib.delayed(est.predict)(c) for c in np.array_split(x, 2))
    np.testing.assert_array_equal(np.concatenate(out), est.predict(x))
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        np.testing.assert_array_equal(pool.apply(est.predict, (x,)), est.predict(x))
        err = pool.apply(_raise_in_child)
    assert isinstance(err, credo.NonFiniteError) and str(err).startswith("X:")


def _raise_in_child():
    try:
        IsotonicCalibrator().fit([0.1, np.nan], [0, 1])
    except credo.CredoError as exc:
        return exc


@pytest.mark.parametrize(
    "cls",
    [
        credo.CredoError,
        credo.InvalidArgumentError,
        credo.NonFiniteError,
        credo.ShapeError,
        credo.EmptyInputError,
        credo.ArtifactError,
        credo.ConfigError,
        credo.NotFittedError,
    ],
    ids=lambda c: c.__name__,
)
def test_every_exception_pickles(cls):
    exc = cls("x: something is wrong")
    for back in (pickle.loads(pickle.dumps(exc)), copy.deepcopy(exc)):
        assert type(back).__name__ == cls.__name__ and isinstance(back, cls) and back.args == exc.args


def test_not_fitted_is_sklearns_not_fitted():
    pytest.importorskip("sklearn")
    from sklearn.exceptions import NotFittedError as SkNotFitted
    from sklearn.utils.validation import check_is_fitted

    for est in (PlattScaling(), TemperatureScaling(), ConformalSets(), MulticlassCalibrator()):
        with pytest.raises(SkNotFitted):
            check_is_fitted(est)
        with pytest.raises(SkNotFitted) as info:
            getattr(est, "predict_sets" if isinstance(est, ConformalSets) else "predict_proba")(np.ones((2, 3)))
        assert isinstance(info.value, credo.NotFittedError) and isinstance(info.value, AttributeError)


# ----------------------------------------------------------------------------- inputs
class _Device:
    """An array that says (through DLPack) it lives on a GPU."""

    def __init__(self, kind):
        self.kind = kind

    def __dlpack_device__(self):
        return (self.kind, 0)

    def __array__(self, dtype=None, copy=None):  # pragma: no cover - must never be called
        raise AssertionError("a device array was copied")


class _DLPackOnly:
    def __init__(self, arr):
        self.arr = arr

    def __dlpack__(self, **kwargs):
        return self.arr.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self.arr.__dlpack_device__()


def test_gpu_arrays_get_a_clear_error_and_cpu_dlpack_works(rng):
    x, y = _binary(rng)
    with pytest.raises(credo.InvalidArgumentError, match=r"^X: is an array on cuda:0; .*x\.cpu\(\)"):
        PlattScaling().fit(_Device(2), y)
    _p, yk = _multiclass(rng)
    with pytest.raises(credo.InvalidArgumentError, match=r"^probs: is an array on rocm:0"):
        ConformalSets().fit(_Device(10), yk)
    est = PlattScaling().fit(_DLPackOnly(x), y)
    np.testing.assert_array_equal(est.predict(_DLPackOnly(x)), PlattScaling().fit(x, y).predict(x))
    torch = pytest.importorskip("torch")
    t = torch.tensor(x, requires_grad=True)
    np.testing.assert_array_equal(PlattScaling().fit(t, torch.tensor(y)).predict(t), est.predict(x))


def test_polars_inputs(rng):
    pl = pytest.importorskip("polars")
    x, y = _binary(rng)
    est = IsotonicCalibrator().fit(pl.Series(x), pl.Series(np.array(["n", "y"])[y]))
    np.testing.assert_array_equal(est.predict(pl.DataFrame({"s": x})), IsotonicCalibrator().fit(x, y).predict(x))


# ----------------------------------------------------------------------------- warnings
def test_isotonic_auto_warns_like_sklearn(rng):
    pytest.importorskip("sklearn")
    from sklearn.isotonic import check_increasing

    for seed in range(20):
        r = np.random.default_rng(seed)
        x, y = r.random(25), r.random(25)
        with warnings.catch_warnings(record=True) as ours:
            warnings.simplefilter("always")
            IsotonicCalibrator(increasing="auto").fit(x, y)
        with warnings.catch_warnings(record=True) as theirs:
            warnings.simplefilter("always")
            check_increasing(x, y)
        assert len(ours) == len(theirs)
        assert all(issubclass(w.category, credo.DataWarning) for w in ours)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        IsotonicCalibrator(increasing="auto").fit(np.arange(50.0), np.arange(50.0))  # clear: no warning
