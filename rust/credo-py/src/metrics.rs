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
use pyo3::types::PySlice;

use crate::arrays::{flat_slice_mut, maybe_detach, slice1, slice2, to_numpy, Threads};
use crate::errors::{invalid, py_result};
use crate::options::Wrap;

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

result_class! {
    /// The top-label view of a probability matrix.
    TopLabel {
        /// `[n]` the largest probability of each row.
        confidence: Py<PyArray1<f64>>,
        /// `[n]` 1.0 where the row's argmax is its label, else 0.0.
        accuracy: Py<PyArray1<f64>>,
    }
}

/// The top-label view of a [n, K] probability matrix against labels.
#[pyfunction]
fn top_label(
    py: Python<'_>,
    probs: PyReadonlyArray2<'_, f64>,
    labels: PyReadonlyArray1<'_, i64>,
) -> PyResult<TopLabel> {
    let (p, _, k) = slice2(&probs, "y_prob")?;
    let l = slice1(&labels, "y_true")?;
    let (c, a) = run(py, p.len(), None, || credo_core::metrics::top_label(p, k, l))?;
    Ok(TopLabel {
        confidence: to_numpy(py, c),
        accuracy: to_numpy(py, a),
    })
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

result_class! {
    /// Per-bin sums behind a binned calibration error.
    Reliability {
        /// `[B]` total sample weight of each bin.
        weight: Py<PyArray1<f64>>,
        /// `[B]` samples in each bin.
        count: Py<PyArray1<f64>>,
        /// `[B]` Σ w·confidence of each bin.
        conf_sum: Py<PyArray1<f64>>,
        /// `[B]` Σ w·outcome of each bin.
        acc_sum: Py<PyArray1<f64>>,
        /// `[B + 1]` bin edges.
        edges: Py<PyArray1<f64>>,
    }
}

/// The per-bin sums behind `ece`.
#[pyfunction]
#[pyo3(signature = (conf, y, weights=None, *, n_bins=15, convention=Wrap(Convention::Credo), strategy=Wrap(Strategy::Uniform)))]
fn reliability(
    py: Python<'_>,
    conf: PyReadonlyArray1<'_, f64>,
    y: PyReadonlyArray1<'_, f64>,
    weights: Option<PyReadonlyArray1<'_, f64>>,
    n_bins: usize,
    convention: Wrap<Convention>,
    strategy: Wrap<Strategy>,
) -> PyResult<Reliability> {
    let opts = ece_options(n_bins, convention, strategy, Wrap(Norm::L1), true);
    let (c, yv, w) = (slice1(&conf, "y_prob")?, slice1(&y, "y_true")?, opt_slice(&weights)?);
    let s = run(py, c.len(), None, || core_ece::reliability(c, yv, w, &opts))?;
    let count: Vec<f64> = s.count.iter().map(|&v| v as f64).collect();
    Ok(Reliability {
        weight: to_numpy(py, s.weight),
        count: to_numpy(py, count),
        conf_sum: to_numpy(py, s.conf_sum),
        acc_sum: to_numpy(py, s.acc_sum),
        edges: to_numpy(py, s.edges),
    })
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

result_class! {
    /// A smooth ECE and the kernel width it used.
    SmoothEce {
        /// smECE.
        value: f64,
        /// The kernel width σ (relplot's fixed point, or the one given).
        sigma: f64,
    }
}

/// Smooth ECE with relplot's automatic bandwidth, or at a fixed `sigma`.
#[pyfunction]
#[pyo3(signature = (conf, y, weights=None, *, sigma=None))]
fn smooth_ece(
    py: Python<'_>,
    conf: PyReadonlyArray1<'_, f64>,
    y: PyReadonlyArray1<'_, f64>,
    weights: Option<PyReadonlyArray1<'_, f64>>,
    sigma: Option<f64>,
) -> PyResult<SmoothEce> {
    let (c, yv, w) = (slice1(&conf, "y_prob")?, slice1(&y, "y_true")?, opt_slice(&weights)?);
    let (value, sigma) = run(py, c.len().max(4096), None, || match sigma {
        Some(s) => smooth::smooth_ece_sigma(c, yv, w, s).map(|v| (v, s)),
        None => smooth::smooth_ece(c, yv, w),
    })?;
    Ok(SmoothEce { value, sigma })
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

result_class! {
    /// The risk–coverage curve at every unique threshold, highest first.
    RiskCoverageCurve {
        /// `[m]` the unique thresholds.
        thresholds: Py<PyArray1<f64>>,
        /// `[m]` fraction accepted at each threshold.
        coverage: Py<PyArray1<f64>>,
        /// `[m]` error rate among the accepted.
        risk: Py<PyArray1<f64>>,
        /// `[m]` accepted errors over all samples.
        generalized_risk: Py<PyArray1<f64>>,
    }
}

/// The risk–coverage curve at unique thresholds.
#[pyfunction]
#[pyo3(signature = (scores, y, weights=None))]
fn risk_coverage(
    py: Python<'_>,
    scores: PyReadonlyArray1<'_, f64>,
    y: PyReadonlyArray1<'_, f64>,
    weights: Option<PyReadonlyArray1<'_, f64>>,
) -> PyResult<RiskCoverageCurve> {
    let (s, yv, w) = (slice1(&scores, "y_score")?, slice1(&y, "y_true")?, opt_slice(&weights)?);
    let rc = run(py, s.len(), None, || ranking::risk_coverage(s, yv, w))?;
    Ok(RiskCoverageCurve {
        thresholds: to_numpy(py, rc.thresholds),
        coverage: to_numpy(py, rc.coverage),
        risk: to_numpy(py, rc.risk),
        generalized_risk: to_numpy(py, rc.generalized_risk),
    })
}

result_class! {
    /// One point of the risk–coverage curve.
    OperatingPoint {
        /// Error rate among the accepted.
        risk: f64,
        /// Fraction accepted.
        coverage: f64,
        /// Accept when the score is at least this.
        threshold: f64,
    }
}

/// The operating point at the first unique threshold reaching `coverage`.
#[pyfunction]
#[pyo3(signature = (scores, y, coverage, weights=None))]
fn selective_risk_at(
    py: Python<'_>,
    scores: PyReadonlyArray1<'_, f64>,
    y: PyReadonlyArray1<'_, f64>,
    coverage: f64,
    weights: Option<PyReadonlyArray1<'_, f64>>,
) -> PyResult<OperatingPoint> {
    let (s, yv, w) = (slice1(&scores, "y_score")?, slice1(&y, "y_true")?, opt_slice(&weights)?);
    let (risk, coverage, threshold) = run(py, s.len(), None, || ranking::selective_risk_at(s, yv, w, coverage))?;
    Ok(OperatingPoint {
        risk,
        coverage,
        threshold,
    })
}

/// The operating point of the largest coverage with selective risk ≤ `risk`.
#[pyfunction]
#[pyo3(signature = (scores, y, risk, weights=None))]
fn coverage_at_risk(
    py: Python<'_>,
    scores: PyReadonlyArray1<'_, f64>,
    y: PyReadonlyArray1<'_, f64>,
    risk: f64,
    weights: Option<PyReadonlyArray1<'_, f64>>,
) -> PyResult<OperatingPoint> {
    let (s, yv, w) = (slice1(&scores, "y_score")?, slice1(&y, "y_true")?, opt_slice(&weights)?);
    let (coverage, threshold, risk) = run(py, s.len(), None, || ranking::coverage_at_risk(s, yv, w, risk))?;
    Ok(OperatingPoint {
        risk,
        coverage,
        threshold,
    })
}

result_class! {
    /// A bootstrap interval of a metric.
    BootstrapInterval {
        /// The metric on the whole sample.
        estimate: f64,
        /// Lower end of the interval.
        low: f64,
        /// Upper end of the interval.
        high: f64,
        /// `[n_resamples]` the metric on each resample.
        distribution: Py<PyArray1<f64>>,
    }
}

/// Bootstrap interval of a native metric.
#[pyfunction]
#[pyo3(signature = (metric, conf, y, weights=None, *, n_resamples=1000, confidence_level=0.95, seed=0, n_bins=15, convention=Wrap(Convention::Credo), strategy=Wrap(Strategy::Uniform), norm=Wrap(Norm::L1), bin_weighted=true, area_convention=Wrap(AreaConvention::Credo), threads=None, method=Wrap(IntervalMethod::Percentile)))]
#[allow(clippy::too_many_arguments)]
fn bootstrap_metric(
    py: Python<'_>,
    metric: &str,
    conf: PyReadonlyArray1<'_, f64>,
    y: PyReadonlyArray1<'_, f64>,
    weights: Option<PyReadonlyArray1<'_, f64>>,
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
) -> PyResult<BootstrapInterval> {
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
    Ok(BootstrapInterval {
        estimate: r.estimate,
        low: r.low,
        high: r.high,
        distribution: to_numpy(py, r.distribution),
    })
}

result_class! {
    /// The two ends of an interval.
    Interval {
        /// Lower end.
        low: f64,
        /// Upper end.
        high: f64,
    }
}

/// The interval of `method` from resampled values evaluated outside the engine;
/// `jackknife` holds the leave-a-group-out values BCa needs (groups as `jackknife_groups`).
#[pyfunction]
#[pyo3(signature = (method, estimate, distribution, jackknife=None, *, confidence_level=0.95))]
fn bootstrap_interval(
    method: Wrap<IntervalMethod>,
    estimate: f64,
    distribution: PyReadonlyArray1<'_, f64>,
    jackknife: Option<PyReadonlyArray1<'_, f64>>,
    confidence_level: f64,
) -> PyResult<Interval> {
    let jk = jackknife
        .as_ref()
        .map(|j| slice1(j, "jackknife"))
        .transpose()?
        .unwrap_or(&[]);
    let (low, high) = py_result(bootstrap::interval(
        method.0,
        estimate,
        slice1(&distribution, "distribution")?,
        confidence_level,
        jk,
    ))?;
    Ok(Interval { low, high })
}

/// The groups the BCa jackknife leaves out in turn, for n samples, as slices.
#[pyfunction]
fn bootstrap_jackknife_groups(py: Python<'_>, n: usize) -> PyResult<Vec<Bound<'_, PySlice>>> {
    let index = |i: usize| isize::try_from(i).map_err(|_| invalid("n", "too large"));
    bootstrap::jackknife_groups(n)
        .into_iter()
        .map(|g| Ok(PySlice::new(py, index(g.start)?, index(g.end)?, 1)))
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

result_class! {
    /// What one update added to a histogram.
    HistogramUpdate {
        /// Σ of the values added.
        total: f64,
        /// How many values were added.
        count: f64,
    }
}

/// Adds values to a fixed histogram in place.
#[pyfunction]
fn hist_update(
    py: Python<'_>,
    values: PyReadonlyArray1<'_, f64>,
    lo: f64,
    hi: f64,
    mut counts: PyReadwriteArray1<'_, f64>,
) -> PyResult<HistogramUpdate> {
    let v = slice1(&values, "confidences")?;
    let c = flat_slice_mut(&mut counts, "counts")?;
    let (total, count) = py_result(maybe_detach(py, v.len(), || drift::hist_update(v, lo, hi, c))?)?;
    Ok(HistogramUpdate { total, count })
}

result_class! {
    /// Drift statistics between two histograms on the same bins.
    Drift {
        /// Population stability index.
        psi: f64,
        /// Kolmogorov–Smirnov statistic.
        ks_statistic: f64,
        /// Its asymptotic two-sided p-value.
        ks_pvalue: f64,
        /// Wasserstein-1 distance.
        wasserstein: f64,
    }
}

/// Drift statistics between two histograms on the same bins.
#[pyfunction]
fn hist_drift(
    reference: PyReadonlyArray1<'_, f64>,
    current: PyReadonlyArray1<'_, f64>,
    lo: f64,
    hi: f64,
    psi_bins: usize,
) -> PyResult<Drift> {
    let s = py_result(drift::hist_drift(
        slice1(&reference, "reference")?,
        slice1(&current, "current")?,
        lo,
        hi,
        psi_bins,
    ))?;
    Ok(Drift {
        psi: s.psi,
        ks_statistic: s.ks_statistic,
        ks_pvalue: s.ks_pvalue,
        wasserstein: s.wasserstein,
    })
}

result_class! {
    /// A two-sample Kolmogorov–Smirnov test.
    KsTest {
        /// The exact statistic sup |F_a − F_b|.
        statistic: f64,
        /// Its asymptotic two-sided p-value.
        pvalue: f64,
    }
}

/// Exact two-sample KS statistic and asymptotic two-sided p-value.
#[pyfunction]
fn ks_2samp(py: Python<'_>, a: PyReadonlyArray1<'_, f64>, b: PyReadonlyArray1<'_, f64>) -> PyResult<KsTest> {
    let (x, y) = (slice1(&a, "a")?, slice1(&b, "b")?);
    let (statistic, pvalue) = py_result(maybe_detach(py, x.len() + y.len(), || drift::ks_2samp(x, y))?)?;
    Ok(KsTest { statistic, pvalue })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<TopLabel>()?;
    m.add_class::<Reliability>()?;
    m.add_class::<SmoothEce>()?;
    m.add_class::<RiskCoverageCurve>()?;
    m.add_class::<OperatingPoint>()?;
    m.add_class::<BootstrapInterval>()?;
    m.add_class::<Interval>()?;
    m.add_class::<HistogramUpdate>()?;
    m.add_class::<Drift>()?;
    m.add_class::<KsTest>()?;
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
