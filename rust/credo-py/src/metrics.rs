//! Bindings for `credo_core::metrics`: array intake, GIL release, option parsing. The Python
//! layer (`credo.metrics`) validates and shapes inputs; everything numeric happens in the core.

use credo_core::metrics::binning::{Convention, Strategy};
use credo_core::metrics::bootstrap::{self, BootMetric, IntervalMethod};
use credo_core::metrics::ece::{self as core_ece, Distance, EceOptions, Norm};
use credo_core::metrics::ranking::{self, AreaConvention};
use credo_core::metrics::{drift, scores, smooth};
use credo_core::parallel::with_threads;
use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2, PyReadwriteArray1};
use pyo3::prelude::*;

use crate::arrays::{maybe_detach, slice1, slice2, Threads};
use crate::errors::{invalid, py_result};
use crate::options::Wrap;

type Arr<'py> = Bound<'py, PyArray1<f64>>;

fn opt_slice<'a>(a: &'a Option<PyReadonlyArray1<'_, f64>>) -> PyResult<Option<&'a [f64]>> {
    a.as_ref().map(|a| slice1(a, "sample_weight")).transpose()
}

fn ece_options(
    n_bins: usize,
    convention: Wrap<Convention>,
    strategy: Wrap<Strategy>,
    norm: Wrap<Norm>,
    bin_weighted: bool,
) -> EceOptions {
    EceOptions {
        n_bins,
        convention: convention.0,
        strategy: strategy.0,
        norm: norm.0,
        bin_weighted,
    }
}

/// Runs a fallible core computation in `threads` workers with the GIL released.
fn run<T: Send>(
    py: Python<'_>,
    work: usize,
    threads: Option<usize>,
    f: impl FnOnce() -> credo_core::Result<T> + Send,
) -> PyResult<T> {
    py_result(maybe_detach(py, work, || with_threads(threads, f).and_then(|r| r))?)
}

/// (max probability, 1.0 where the argmax equals the label) of a [n, K] probability matrix.
#[pyfunction]
fn top_label<'py>(
    py: Python<'py>,
    probs: PyReadonlyArray2<'py, f64>,
    labels: PyReadonlyArray1<'py, i64>,
) -> PyResult<(Arr<'py>, Arr<'py>)> {
    let (p, _, k) = slice2(&probs, "y_prob")?;
    let l = slice1(&labels, "y_true")?;
    let (c, a) = run(py, p.len(), None, || credo_core::metrics::top_label(p, k, l))?;
    Ok((c.into_pyarray(py), a.into_pyarray(py)))
}

/// Binned calibration error of confidences against outcomes in [0, 1].
#[pyfunction]
#[pyo3(signature = (conf, y, weights=None, *, n_bins=15, convention=Wrap(Convention::Credo), strategy=Wrap(Strategy::Uniform), norm=Wrap(Norm::L1), bin_weighted=true, threads=None))]
#[allow(clippy::too_many_arguments)]
fn ece(
    py: Python<'_>,
    conf: PyReadonlyArray1<'_, f64>,
    y: PyReadonlyArray1<'_, f64>,
    weights: Option<PyReadonlyArray1<'_, f64>>,
    n_bins: usize,
    convention: Wrap<Convention>,
    strategy: Wrap<Strategy>,
    norm: Wrap<Norm>,
    bin_weighted: bool,
    threads: Option<Threads>,
) -> PyResult<f64> {
    let opts = ece_options(n_bins, convention, strategy, norm, bin_weighted);
    let (c, yv, w) = (slice1(&conf, "y_prob")?, slice1(&y, "y_true")?, opt_slice(&weights)?);
    run(py, c.len(), Threads::count(threads), || core_ece::ece(c, yv, w, &opts))
}

/// Per-bin (weight, count, Σ w·conf, Σ w·outcome, edges) behind `ece`.
#[pyfunction]
#[pyo3(signature = (conf, y, weights=None, *, n_bins=15, convention=Wrap(Convention::Credo), strategy=Wrap(Strategy::Uniform)))]
#[allow(clippy::type_complexity)]
fn reliability<'py>(
    py: Python<'py>,
    conf: PyReadonlyArray1<'py, f64>,
    y: PyReadonlyArray1<'py, f64>,
    weights: Option<PyReadonlyArray1<'py, f64>>,
    n_bins: usize,
    convention: Wrap<Convention>,
    strategy: Wrap<Strategy>,
) -> PyResult<(Arr<'py>, Arr<'py>, Arr<'py>, Arr<'py>, Arr<'py>)> {
    let opts = ece_options(n_bins, convention, strategy, Wrap(Norm::L1), true);
    let (c, yv, w) = (slice1(&conf, "y_prob")?, slice1(&y, "y_true")?, opt_slice(&weights)?);
    let s = run(py, c.len(), None, || core_ece::reliability(c, yv, w, &opts))?;
    let count: Vec<f64> = s.count.iter().map(|&v| v as f64).collect();
    Ok((
        s.weight.into_pyarray(py),
        count.into_pyarray(py),
        s.conf_sum.into_pyarray(py),
        s.acc_sum.into_pyarray(py),
        s.edges.into_pyarray(py),
    ))
}

/// Classwise ECE: the mean over classes of the binary ECE of p_k against 1[y = k].
#[pyfunction]
#[pyo3(signature = (probs, labels, weights=None, *, n_bins=15, convention=Wrap(Convention::Credo), strategy=Wrap(Strategy::Uniform), norm=Wrap(Norm::L1), bin_weighted=true, threads=None))]
#[allow(clippy::too_many_arguments)]
fn ece_classwise(
    py: Python<'_>,
    probs: PyReadonlyArray2<'_, f64>,
    labels: PyReadonlyArray1<'_, i64>,
    weights: Option<PyReadonlyArray1<'_, f64>>,
    n_bins: usize,
    convention: Wrap<Convention>,
    strategy: Wrap<Strategy>,
    norm: Wrap<Norm>,
    bin_weighted: bool,
    threads: Option<Threads>,
) -> PyResult<f64> {
    let opts = ece_options(n_bins, convention, strategy, norm, bin_weighted);
    let (p, _, k) = slice2(&probs, "y_prob")?;
    let (l, w) = (slice1(&labels, "y_true")?, opt_slice(&weights)?);
    run(py, p.len(), Threads::count(threads), || {
        core_ece::ece_classwise(p, k, l, w, &opts)
    })
}

/// Canonical (full-vector) ECE of Widmann et al. with per-coordinate uniform binning.
#[pyfunction]
#[pyo3(signature = (probs, labels, weights=None, *, n_bins=10, distance=Wrap(Distance::TotalVariation)))]
fn ece_canonical(
    py: Python<'_>,
    probs: PyReadonlyArray2<'_, f64>,
    labels: PyReadonlyArray1<'_, i64>,
    weights: Option<PyReadonlyArray1<'_, f64>>,
    n_bins: usize,
    distance: Wrap<Distance>,
) -> PyResult<f64> {
    let d = distance.0;
    let (p, _, k) = slice2(&probs, "y_prob")?;
    let (l, w) = (slice1(&labels, "y_true")?, opt_slice(&weights)?);
    run(py, p.len(), None, || core_ece::ece_canonical(p, k, l, w, n_bins, d))
}

/// Smooth ECE with relplot's automatic bandwidth, or at a fixed `sigma`: (smECE, sigma).
#[pyfunction]
#[pyo3(signature = (conf, y, weights=None, *, sigma=None))]
fn smooth_ece(
    py: Python<'_>,
    conf: PyReadonlyArray1<'_, f64>,
    y: PyReadonlyArray1<'_, f64>,
    weights: Option<PyReadonlyArray1<'_, f64>>,
    sigma: Option<f64>,
) -> PyResult<(f64, f64)> {
    let (c, yv, w) = (slice1(&conf, "y_prob")?, slice1(&y, "y_true")?, opt_slice(&weights)?);
    run(py, c.len().max(4096), None, || match sigma {
        Some(s) => smooth::smooth_ece_sigma(c, yv, w, s).map(|v| (v, s)),
        None => smooth::smooth_ece(c, yv, w),
    })
}

/// Brier score or NLL of binary p(y = 1) (`kind` = "brier" | "nll").
#[pyfunction]
#[pyo3(signature = (kind, p, y, weights=None))]
fn binary_score(
    py: Python<'_>,
    kind: &str,
    p: PyReadonlyArray1<'_, f64>,
    y: PyReadonlyArray1<'_, f64>,
    weights: Option<PyReadonlyArray1<'_, f64>>,
) -> PyResult<f64> {
    let (pv, yv, w) = (slice1(&p, "y_prob")?, slice1(&y, "y_true")?, opt_slice(&weights)?);
    let nll = kind == "nll";
    run(py, pv.len(), None, || {
        if nll {
            scores::nll_binary(pv, yv, w)
        } else {
            scores::brier_binary(pv, yv, w)
        }
    })
}

/// Brier score or NLL of a [n, K] probability matrix against labels.
#[pyfunction]
#[pyo3(signature = (kind, probs, labels, weights=None))]
fn multiclass_score(
    py: Python<'_>,
    kind: &str,
    probs: PyReadonlyArray2<'_, f64>,
    labels: PyReadonlyArray1<'_, i64>,
    weights: Option<PyReadonlyArray1<'_, f64>>,
) -> PyResult<f64> {
    let (p, _, k) = slice2(&probs, "y_prob")?;
    let (l, w) = (slice1(&labels, "y_true")?, opt_slice(&weights)?);
    let nll = kind == "nll";
    run(py, p.len(), None, || {
        if nll {
            scores::nll_multiclass(p, k, l, w)
        } else {
            scores::brier_multiclass(p, k, l, w)
        }
    })
}

/// A ranking metric of scores against correctness: "auroc", "average_precision", "aurc",
/// "eaurc", "augrc" or "prr".
#[pyfunction]
#[pyo3(signature = (kind, scores, y, weights=None, *, convention=Wrap(AreaConvention::Credo)))]
fn ranking_metric(
    py: Python<'_>,
    kind: &str,
    scores: PyReadonlyArray1<'_, f64>,
    y: PyReadonlyArray1<'_, f64>,
    weights: Option<PyReadonlyArray1<'_, f64>>,
    convention: Wrap<AreaConvention>,
) -> PyResult<f64> {
    let conv = convention.0;
    let (s, yv, w) = (slice1(&scores, "y_score")?, slice1(&y, "y_true")?, opt_slice(&weights)?);
    let kind = kind.to_owned();
    run(py, s.len(), None, move || match kind.as_str() {
        "auroc" => ranking::auroc(s, yv, w),
        "average_precision" => ranking::average_precision(s, yv, w),
        "aurc" => ranking::aurc(s, yv, w, conv),
        "eaurc" => ranking::eaurc(s, yv, w, conv),
        "augrc" => ranking::augrc(s, yv, w, conv),
        "prr" => ranking::prr(s, yv, w),
        other => Err(credo_core::CredoError::invalid(
            "metric",
            format!("unknown ranking metric {other:?}"),
        )),
    })
}

/// Risk–coverage curve at unique thresholds: (thresholds, coverage, risk, generalized risk).
#[pyfunction]
#[pyo3(signature = (scores, y, weights=None))]
fn risk_coverage<'py>(
    py: Python<'py>,
    scores: PyReadonlyArray1<'py, f64>,
    y: PyReadonlyArray1<'py, f64>,
    weights: Option<PyReadonlyArray1<'py, f64>>,
) -> PyResult<(Arr<'py>, Arr<'py>, Arr<'py>, Arr<'py>)> {
    let (s, yv, w) = (slice1(&scores, "y_score")?, slice1(&y, "y_true")?, opt_slice(&weights)?);
    let rc = run(py, s.len(), None, || ranking::risk_coverage(s, yv, w))?;
    Ok((
        rc.thresholds.into_pyarray(py),
        rc.coverage.into_pyarray(py),
        rc.risk.into_pyarray(py),
        rc.generalized_risk.into_pyarray(py),
    ))
}

/// (risk, coverage, threshold) at the first unique threshold reaching `coverage`.
#[pyfunction]
#[pyo3(signature = (scores, y, coverage, weights=None))]
fn selective_risk_at(
    py: Python<'_>,
    scores: PyReadonlyArray1<'_, f64>,
    y: PyReadonlyArray1<'_, f64>,
    coverage: f64,
    weights: Option<PyReadonlyArray1<'_, f64>>,
) -> PyResult<(f64, f64, f64)> {
    let (s, yv, w) = (slice1(&scores, "y_score")?, slice1(&y, "y_true")?, opt_slice(&weights)?);
    run(py, s.len(), None, || ranking::selective_risk_at(s, yv, w, coverage))
}

/// (coverage, threshold, achieved risk) of the largest coverage with selective risk ≤ `risk`.
#[pyfunction]
#[pyo3(signature = (scores, y, risk, weights=None))]
fn coverage_at_risk(
    py: Python<'_>,
    scores: PyReadonlyArray1<'_, f64>,
    y: PyReadonlyArray1<'_, f64>,
    risk: f64,
    weights: Option<PyReadonlyArray1<'_, f64>>,
) -> PyResult<(f64, f64, f64)> {
    let (s, yv, w) = (slice1(&scores, "y_score")?, slice1(&y, "y_true")?, opt_slice(&weights)?);
    run(py, s.len(), None, || ranking::coverage_at_risk(s, yv, w, risk))
}

/// Bootstrap interval of a native metric: (estimate, low, high, distribution).
#[pyfunction]
#[pyo3(signature = (metric, conf, y, weights=None, *, n_resamples=1000, confidence_level=0.95, seed=0, n_bins=15, convention=Wrap(Convention::Credo), strategy=Wrap(Strategy::Uniform), norm=Wrap(Norm::L1), bin_weighted=true, area_convention=Wrap(AreaConvention::Credo), threads=None, method=Wrap(IntervalMethod::Percentile)))]
#[allow(clippy::too_many_arguments)]
fn bootstrap_metric<'py>(
    py: Python<'py>,
    metric: &str,
    conf: PyReadonlyArray1<'py, f64>,
    y: PyReadonlyArray1<'py, f64>,
    weights: Option<PyReadonlyArray1<'py, f64>>,
    n_resamples: usize,
    confidence_level: f64,
    seed: u64,
    n_bins: usize,
    convention: Wrap<Convention>,
    strategy: Wrap<Strategy>,
    norm: Wrap<Norm>,
    bin_weighted: bool,
    area_convention: Wrap<AreaConvention>,
    threads: Option<Threads>,
    method: Wrap<IntervalMethod>,
) -> PyResult<(f64, f64, f64, Arr<'py>)> {
    let area = area_convention.0;
    let method = method.0;
    let m = match metric {
        "ece" => BootMetric::Ece(ece_options(n_bins, convention, strategy, norm, bin_weighted)),
        "brier" => BootMetric::Brier,
        "nll" => BootMetric::Nll,
        "auroc" => BootMetric::Auroc,
        "average_precision" => BootMetric::AveragePrecision,
        "aurc" => BootMetric::Aurc(area),
        "eaurc" => BootMetric::Eaurc(area),
        "augrc" => BootMetric::Augrc(area),
        "prr" => BootMetric::Prr,
        other => {
            return Err(invalid("metric", format!("no native bootstrap for {other:?}")));
        }
    };
    let (c, yv, w) = (slice1(&conf, "y_prob")?, slice1(&y, "y_true")?, opt_slice(&weights)?);
    let r = run(py, c.len() * n_resamples, Threads::count(threads), || {
        bootstrap::bootstrap(m, c, yv, w, n_resamples, confidence_level, seed, method)
    })?;
    Ok((r.estimate, r.low, r.high, r.distribution.into_pyarray(py)))
}

/// The (low, high) interval of `method` from resampled values evaluated outside the engine;
/// `jackknife` holds the leave-a-group-out values BCa needs (groups as `jackknife_groups`).
#[pyfunction]
#[pyo3(signature = (method, estimate, distribution, jackknife=None, *, confidence_level=0.95))]
fn bootstrap_interval(
    method: Wrap<IntervalMethod>,
    estimate: f64,
    distribution: PyReadonlyArray1<'_, f64>,
    jackknife: Option<PyReadonlyArray1<'_, f64>>,
    confidence_level: f64,
) -> PyResult<(f64, f64)> {
    let jk = jackknife
        .as_ref()
        .map(|j| slice1(j, "jackknife"))
        .transpose()?
        .unwrap_or(&[]);
    py_result(bootstrap::interval(
        method.0,
        estimate,
        slice1(&distribution, "distribution")?,
        confidence_level,
        jk,
    ))
}

/// The [start, end) bounds of the groups the BCa jackknife leaves out in turn, for n samples.
#[pyfunction]
fn bootstrap_jackknife_groups(n: usize) -> Vec<(usize, usize)> {
    bootstrap::jackknife_groups(n)
        .into_iter()
        .map(|g| (g.start, g.end))
        .collect()
}

/// Resampled indices [n_resamples, n] for metrics evaluated in Python.
#[pyfunction]
fn bootstrap_indices(py: Python<'_>, n: usize, n_resamples: usize, seed: u64) -> PyResult<Bound<'_, PyArray2<u32>>> {
    let idx = py_result(maybe_detach(py, n.saturating_mul(n_resamples), || {
        bootstrap::resample_indices(n, n_resamples, seed)
    })?)?;
    let arr = Array2::from_shape_vec((n_resamples, n), idx).map_err(|e| invalid("n_resamples", e.to_string()))?;
    Ok(arr.into_pyarray(py))
}

/// Adds values to a fixed histogram in place; returns (Σ values, number added).
#[pyfunction]
fn hist_update(
    py: Python<'_>,
    values: PyReadonlyArray1<'_, f64>,
    lo: f64,
    hi: f64,
    mut counts: PyReadwriteArray1<'_, f64>,
) -> PyResult<(f64, f64)> {
    let v = slice1(&values, "confidences")?;
    let c = counts
        .as_slice_mut()
        .map_err(|_| invalid("counts", "array must be C-contiguous"))?;
    py_result(maybe_detach(py, v.len(), || drift::hist_update(v, lo, hi, c))?)
}

/// (PSI, KS statistic, KS p-value, Wasserstein-1) between two histograms on the same bins.
#[pyfunction]
fn hist_drift(
    reference: PyReadonlyArray1<'_, f64>,
    current: PyReadonlyArray1<'_, f64>,
    lo: f64,
    hi: f64,
    psi_bins: usize,
) -> PyResult<(f64, f64, f64, f64)> {
    let s = py_result(drift::hist_drift(
        slice1(&reference, "reference")?,
        slice1(&current, "current")?,
        lo,
        hi,
        psi_bins,
    ))?;
    Ok((s.psi, s.ks_statistic, s.ks_pvalue, s.wasserstein))
}

/// Exact two-sample KS statistic and asymptotic two-sided p-value.
#[pyfunction]
fn ks_2samp(py: Python<'_>, a: PyReadonlyArray1<'_, f64>, b: PyReadonlyArray1<'_, f64>) -> PyResult<(f64, f64)> {
    let (x, y) = (slice1(&a, "a")?, slice1(&b, "b")?);
    py_result(maybe_detach(py, x.len() + y.len(), || drift::ks_2samp(x, y))?)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(top_label, m)?)?;
    m.add_function(wrap_pyfunction!(ece, m)?)?;
    m.add_function(wrap_pyfunction!(reliability, m)?)?;
    m.add_function(wrap_pyfunction!(ece_classwise, m)?)?;
    m.add_function(wrap_pyfunction!(ece_canonical, m)?)?;
    m.add_function(wrap_pyfunction!(smooth_ece, m)?)?;
    m.add_function(wrap_pyfunction!(binary_score, m)?)?;
    m.add_function(wrap_pyfunction!(multiclass_score, m)?)?;
    m.add_function(wrap_pyfunction!(ranking_metric, m)?)?;
    m.add_function(wrap_pyfunction!(risk_coverage, m)?)?;
    m.add_function(wrap_pyfunction!(selective_risk_at, m)?)?;
    m.add_function(wrap_pyfunction!(coverage_at_risk, m)?)?;
    m.add_function(wrap_pyfunction!(bootstrap_metric, m)?)?;
    m.add_function(wrap_pyfunction!(bootstrap_indices, m)?)?;
    m.add_function(wrap_pyfunction!(bootstrap_interval, m)?)?;
    m.add_function(wrap_pyfunction!(bootstrap_jackknife_groups, m)?)?;
    m.add_function(wrap_pyfunction!(hist_update, m)?)?;
    m.add_function(wrap_pyfunction!(hist_drift, m)?)?;
    m.add_function(wrap_pyfunction!(ks_2samp, m)?)?;
    Ok(())
}
