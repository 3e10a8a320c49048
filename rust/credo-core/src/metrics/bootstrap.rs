//! Seeded nonparametric bootstrap for any metric of (confidence, outcome) pairs.
//!
//! A resample is a vector of multiplicities (n draws with replacement); evaluating a metric on
//! it is a weighted evaluation, so the sort or the binning of the data is done once and reused.
//! Resample r draws from its own stream (seed, r): identical results for any thread count.
//! The interval is read off the resampled values as a percentile, basic or BCa interval; the
//! BCa acceleration comes from a delete-d jackknife, which is one more set of multiplicity
//! vectors (1 everywhere except a left-out group), evaluated the same way.

use super::binning::Binning;
use super::ece::{from_stats, BinStats, EceOptions};
use super::sort::Ranked;
use super::{ranking, scores, wt};
use crate::error::{CredoError, Result};
use crate::rng::Rng;
use crate::special::{norm_cdf, norm_ppf};
use std::ops::Range;

/// Metrics the bootstrap evaluates natively.
#[derive(Clone, Copy, Debug)]
pub enum BootMetric {
    Ece(EceOptions),
    Brier,
    Nll,
    Auroc,
    AveragePrecision,
    Aurc(ranking::AreaConvention),
    Eaurc(ranking::AreaConvention),
    Augrc(ranking::AreaConvention),
    Prr,
}

/// How the interval is read off the resampled values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntervalMethod {
    /// The quantiles of the resampled values.
    Percentile,
    /// The percentile interval reflected about the estimate: 2θ̂ − q.
    Basic,
    /// Bias-corrected and accelerated (Efron 1987): the bias correction from the share of
    /// resamples below the estimate, the acceleration from a jackknife of the same metric.
    Bca,
}

crate::choices!(IntervalMethod, "method", {
    "percentile" => IntervalMethod::Percentile,
    "basic" => IntervalMethod::Basic,
    "bca" => IntervalMethod::Bca,
});

/// How many leave-a-group-out evaluations the BCa acceleration uses at most (delete-d
/// jackknife; with n ≤ this it is the leave-one-out jackknife).
pub const JACKKNIFE_GROUPS: usize = 1000;

/// The contiguous groups the jackknife leaves out in turn: `min(n, JACKKNIFE_GROUPS)` groups,
/// the first `n mod groups` one longer (NumPy's `array_split` of `arange(n)`).
#[must_use]
pub fn jackknife_groups(n: usize) -> Vec<Range<usize>> {
    let k = n.min(JACKKNIFE_GROUPS);
    let (size, extra) = (n.checked_div(k).unwrap_or(0), n.checked_rem(k).unwrap_or(0));
    let mut start = 0;
    (0..k)
        .map(|g| {
            let len = size + usize::from(g < extra);
            start += len;
            start - len..start
        })
        .collect()
}

/// The interval of `method` at `confidence_level` from the resampled values `distribution`
/// (non-finite values ignored) around `estimate`; `jackknife` holds the leave-a-group-out
/// values that BCa needs (ignored otherwise).
pub fn interval(
    method: IntervalMethod,
    estimate: f64,
    distribution: &[f64],
    confidence_level: f64,
    jackknife: &[f64],
) -> Result<(f64, f64)> {
    crate::error::check_open_unit("confidence_level", confidence_level)?;
    let mut valid: Vec<f64> = distribution.iter().copied().filter(|v| v.is_finite()).collect();
    if valid.is_empty() {
        return Err(CredoError::empty("y_true", "the metric is undefined on every resample"));
    }
    if method != IntervalMethod::Percentile && !estimate.is_finite() {
        return Err(CredoError::invalid(
            "metric",
            format!("is {estimate} on the full data; the basic and BCa intervals need a finite estimate"),
        ));
    }
    valid.sort_unstable_by(f64::total_cmp);
    let a = (1.0 - confidence_level) / 2.0;
    Ok(match method {
        IntervalMethod::Percentile => {
            let q = super::binning::np_quantiles(&valid, &[a, 1.0 - a]);
            (q[0], q[1])
        }
        IntervalMethod::Basic => {
            let q = super::binning::np_quantiles(&valid, &[a, 1.0 - a]);
            (2.0 * estimate - q[1], 2.0 * estimate - q[0])
        }
        IntervalMethod::Bca => {
            let levels = bca_levels(estimate, &valid, a, jackknife);
            let q = super::binning::np_quantiles(&valid, &levels);
            (q[0], q[1])
        }
    })
}

/// The BCa quantile levels for tail mass `a` on each side (Efron & Tibshirani 1993, 14.3;
/// scipy.stats.bootstrap's formulas).
fn bca_levels(estimate: f64, sorted: &[f64], a: f64, jackknife: &[f64]) -> [f64; 2] {
    let b = sorted.len() as f64;
    let below = sorted.partition_point(|&v| v < estimate) as f64;
    let at_most = sorted.partition_point(|&v| v <= estimate) as f64;
    // Share of resamples below the estimate (ties count half), kept off 0 and 1 so that z0 is
    // finite when every resample lies on one side (a biased statistic such as ECE).
    let share = ((below + at_most) / (2.0 * b)).clamp(1.0 / (b + 1.0), b / (b + 1.0));
    let z0 = norm_ppf(share);
    let acc = acceleration(jackknife);
    [norm_ppf(a), norm_ppf(1.0 - a)].map(|z| norm_cdf(z0 + (z0 + z) / (1.0 - acc * (z0 + z))))
}

/// The BCa acceleration Σd³ / (6 (Σd²)^{3/2}) with d the deviations of the jackknife values
/// from their mean (non-finite values ignored; 0 when they do not vary).
fn acceleration(jackknife: &[f64]) -> f64 {
    let jk: Vec<f64> = jackknife.iter().copied().filter(|v| v.is_finite()).collect();
    if jk.is_empty() {
        return 0.0;
    }
    let mean = jk.iter().sum::<f64>() / jk.len() as f64;
    let (s2, s3) = jk.iter().fold((0.0, 0.0), |(s2, s3), &v| {
        let d = mean - v;
        (s2 + d * d, s3 + d * d * d)
    });
    let denom = 6.0 * s2.powf(1.5);
    if denom > 0.0 {
        s3 / denom
    } else {
        0.0
    }
}

/// Where the multiplicities of evaluation r come from: bootstrap resamples, or the jackknife.
#[derive(Clone, Copy)]
enum Draws<'a> {
    Resamples { count: usize, seed: u64 },
    LeaveGroupOut(&'a [Range<usize>]),
}

impl Draws<'_> {
    fn count(&self) -> usize {
        match self {
            Self::Resamples { count, .. } => *count,
            Self::LeaveGroupOut(groups) => groups.len(),
        }
    }

    /// Calls `f` once per draw of evaluation r (an index drawn k times is visited k times).
    fn visit(&self, r: usize, n: usize, f: impl FnMut(usize)) {
        match self {
            Self::Resamples { seed, .. } => Rng::new(*seed, r as u64).for_each_below(n, n, f),
            Self::LeaveGroupOut(groups) => (0..groups[r].start).chain(groups[r].end..n).for_each(f),
        }
    }
}

/// Bootstrap distribution summary.
#[derive(Clone, Debug)]
pub struct BootResult {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
    pub method: IntervalMethod,
    /// Resample values in resample order (NaN where the metric was undefined on a resample).
    pub distribution: Vec<f64>,
}

/// Multiplicities of one resample of n samples.
pub fn resample_counts(n: usize, seed: u64, r: u64, counts: &mut [f64]) {
    counts.iter_mut().for_each(|c| *c = 0.0);
    Draws::Resamples { count: 0, seed }.visit(r as usize, n, |i| counts[i] += 1.0);
}

/// The indices drawn for each resample, row-major [n_resamples, n] (for metrics evaluated
/// outside the engine).
pub fn resample_indices(n: usize, n_resamples: usize, seed: u64) -> Result<Vec<u32>> {
    crate::error::check_count("n_resamples", n_resamples, crate::error::MAX_RESAMPLES)?;
    if u32::try_from(n).is_err() {
        return Err(CredoError::invalid(
            "y_true",
            format!("has {n} samples; at most 2^32 - 1 are supported"),
        ));
    }
    let mut out = crate::error::try_filled("n_resamples", n.checked_mul(n_resamples), 0u32)?;
    crate::parallel::for_each_chunk_mut(&mut out, n.max(1), |r, row| {
        let mut it = row.iter_mut();
        Rng::new(seed, r as u64).for_each_below(n, n, |i| {
            if let Some(v) = it.next() {
                *v = i as u32;
            }
        });
    });
    Ok(out)
}

/// Runs `f` on the weights of every draw (counts × base weights), in parallel.
fn run_weighted(n: usize, base: Option<&[f64]>, draws: Draws<'_>, f: impl Fn(&[f64]) -> f64 + Sync) -> Vec<f64> {
    crate::parallel::map_range_init(
        draws.count(),
        1,
        || vec![0.0; n],
        |w, r| {
            w.iter_mut().for_each(|c| *c = 0.0);
            draws.visit(r, n, |i| w[i] += 1.0);
            if let Some(b) = base {
                w.iter_mut().zip(b).for_each(|(c, &bw)| *c *= bw);
            }
            f(w)
        },
    )
}

/// ECE resamples: n indices are drawn into a multiplicity vector (random increments into an
/// array that stays in cache), then per-bin sums are read off with the samples laid out bin by
/// bin, so each bin is a contiguous dot product with no store-to-load dependency between draws.
fn ece_resamples(
    conf: &[f64],
    y: &[f64],
    base: Option<&[f64]>,
    opts: &EceOptions,
    draws: Draws<'_>,
) -> Result<Vec<f64>> {
    let binning = Binning::new(opts.convention, opts.strategy, opts.n_bins, conf)?;
    let n = conf.len();
    let nb = binning.n_bins;
    let bins: Vec<usize> = conf.iter().map(|&p| binning.assign(binning.value(p))).collect();
    // Counting sort of the samples by bin: perm[k] is the sample at sorted position k.
    let mut starts = vec![0usize; nb + 1];
    for &b in &bins {
        starts[b + 1] += 1;
    }
    for b in 0..nb {
        starts[b + 1] += starts[b];
    }
    let mut fill = starts.clone();
    let mut perm = vec![0u32; n];
    for (i, &b) in bins.iter().enumerate() {
        perm[fill[b]] = i as u32;
        fill[b] += 1;
    }
    let ws: Vec<f64> = perm.iter().map(|&i| wt(base, i as usize)).collect();
    let ps: Vec<f64> = perm.iter().map(|&i| binning.value(conf[i as usize])).collect();
    let ys: Vec<f64> = perm.iter().map(|&i| y[i as usize]).collect();
    Ok(crate::parallel::map_range_init(
        draws.count(),
        1,
        || {
            let s = BinStats {
                weight: vec![0.0; nb],
                count: vec![0; nb],
                conf_sum: vec![0.0; nb],
                acc_sum: vec![0.0; nb],
                edges: vec![],
            };
            (vec![0u32; n], s)
        },
        |(counts, s), r| {
            counts.iter_mut().for_each(|c| *c = 0);
            draws.visit(r, n, |i| counts[i] += 1);
            for b in 0..nb {
                // Four independent lanes hide the latency of the running sums.
                let (mut sw, mut sp, mut sy, mut k) = ([0.0f64; 4], [0.0f64; 4], [0.0f64; 4], 0u64);
                let (lo, hi) = (starts[b], starts[b + 1]);
                let main = lo + (hi - lo) / 4 * 4;
                for j in (lo..main).step_by(4) {
                    for l in 0..4 {
                        let c = f64::from(counts[perm[j + l] as usize]) * ws[j + l];
                        sw[l] += c;
                        sp[l] += c * ps[j + l];
                        sy[l] += c * ys[j + l];
                        k += u64::from(c > 0.0);
                    }
                }
                for j in main..hi {
                    let c = f64::from(counts[perm[j] as usize]) * ws[j];
                    sw[0] += c;
                    sp[0] += c * ps[j];
                    sy[0] += c * ys[j];
                    k += u64::from(c > 0.0);
                }
                s.weight[b] = (sw[0] + sw[1]) + (sw[2] + sw[3]);
                s.conf_sum[b] = (sp[0] + sp[1]) + (sp[2] + sp[3]);
                s.acc_sum[b] = (sy[0] + sy[1]) + (sy[2] + sy[3]);
                s.count[b] = k;
            }
            from_stats(s, opts.norm, opts.bin_weighted)
        },
    ))
}

fn ranked_metric(metric: BootMetric, r: &Ranked, oracle: &Ranked, y: &[f64], w: Option<&[f64]>) -> f64 {
    match metric {
        BootMetric::Auroc => ranking::auroc_ranked(r, y, w),
        BootMetric::AveragePrecision => ranking::average_precision_ranked(r, y, w),
        BootMetric::Aurc(c) => ranking::aurc_ranked(r, y, w, c),
        BootMetric::Eaurc(c) => ranking::eaurc_ranked(r, oracle, y, w, c),
        BootMetric::Augrc(c) => ranking::augrc_ranked(r, y, w, c),
        BootMetric::Prr => ranking::prr_ranked(r, oracle, y, w),
        _ => unreachable!("not a ranking metric"),
    }
}

fn point_estimate(metric: BootMetric, conf: &[f64], y: &[f64], w: Option<&[f64]>) -> Result<f64> {
    Ok(match metric {
        BootMetric::Ece(o) => super::ece::ece(conf, y, w, &o)?,
        BootMetric::Brier => scores::brier_binary(conf, y, w)?,
        BootMetric::Nll => scores::nll_binary(conf, y, w)?,
        BootMetric::Auroc => ranking::auroc(conf, y, w)?,
        BootMetric::AveragePrecision => ranking::average_precision(conf, y, w)?,
        BootMetric::Aurc(c) => ranking::aurc(conf, y, w, c)?,
        BootMetric::Eaurc(c) => ranking::eaurc(conf, y, w, c)?,
        BootMetric::Augrc(c) => ranking::augrc(conf, y, w, c)?,
        BootMetric::Prr => ranking::prr(conf, y, w)?,
    })
}

/// The metric evaluated on every draw (NaN where it is undefined on one).
fn evaluate(metric: BootMetric, conf: &[f64], y: &[f64], w: Option<&[f64]>, draws: Draws<'_>) -> Result<Vec<f64>> {
    let n = conf.len();
    Ok(match metric {
        BootMetric::Ece(o) => ece_resamples(conf, y, w, &o, draws)?,
        BootMetric::Brier => run_weighted(n, w, draws, |rw| scores::brier_binary_unchecked(conf, y, rw)),
        BootMetric::Nll => run_weighted(n, w, draws, |rw| scores::nll_binary_unchecked(conf, y, rw)),
        _ => {
            let r = ranking::prepare(conf);
            let oracle = ranking::prepare_oracle(y);
            run_weighted(n, w, draws, |rw| ranked_metric(metric, &r, &oracle, y, Some(rw)))
        }
    })
}

/// Bootstrap interval of kind `method` at `confidence_level` over `n_resamples` resamples.
#[allow(clippy::too_many_arguments)]
pub fn bootstrap(
    metric: BootMetric,
    conf: &[f64],
    y: &[f64],
    w: Option<&[f64]>,
    n_resamples: usize,
    confidence_level: f64,
    seed: u64,
    method: IntervalMethod,
) -> Result<BootResult> {
    crate::error::check_count("n_resamples", n_resamples, crate::error::MAX_RESAMPLES)?;
    crate::error::check_open_unit("confidence_level", confidence_level)?;
    // Validates every input through the metric itself.
    let estimate = point_estimate(metric, conf, y, w)?;
    let resamples = Draws::Resamples {
        count: n_resamples,
        seed,
    };
    let distribution = evaluate(metric, conf, y, w, resamples)?;
    let jackknife = if method == IntervalMethod::Bca {
        evaluate(metric, conf, y, w, Draws::LeaveGroupOut(&jackknife_groups(conf.len())))?
    } else {
        Vec::new()
    };
    let (low, high) = interval(method, estimate, &distribution, confidence_level, &jackknife)?;
    Ok(BootResult {
        estimate,
        low,
        high,
        method,
        distribution,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::ece::EceOptions;

    #[test]
    fn ece_bootstrap_is_seeded_and_thread_independent() {
        let n = 3000;
        let conf: Vec<f64> = (0..n).map(|i| ((i as f64) * 0.754_877_666).fract()).collect();
        let y: Vec<f64> = (0..n).map(|i| f64::from(u8::from((i * 31) % 7 < 4))).collect();
        let m = BootMetric::Ece(EceOptions::default());
        let run = |t| {
            crate::parallel::with_threads(Some(t), || {
                bootstrap(m, &conf, &y, None, 200, 0.9, 3, IntervalMethod::Percentile)
            })
            .unwrap()
            .unwrap()
        };
        let (a, b) = (run(1), run(2));
        assert_eq!(a.distribution, b.distribution);
        assert!(a.low <= a.estimate + 0.05 && a.low < a.high);
        let c = bootstrap(BootMetric::Auroc, &conf, &y, None, 50, 0.9, 4, IntervalMethod::Bca).unwrap();
        assert!(c.low <= c.high);
    }

    #[test]
    fn jackknife_groups_split_like_numpy() {
        // Up to JACKKNIFE_GROUPS samples: leave-one-out.
        assert_eq!(jackknife_groups(3), vec![0..1, 1..2, 2..3]);
        // np.array_split(np.arange(2500), 1000): 500 groups of 3, then 500 of 2.
        let g = jackknife_groups(2500);
        assert_eq!((g.len(), g[0].len(), g[499].len(), g[500].len()), (1000, 3, 3, 2));
        assert_eq!(g.last().unwrap().end, 2500);
        assert!(jackknife_groups(0).is_empty());
    }

    #[test]
    fn intervals_from_a_known_distribution() {
        let dist: Vec<f64> = (0..101).map(f64::from).collect(); // quantiles 2.5 and 97.5
        let near = |a: (f64, f64), b: (f64, f64)| (a.0 - b.0).abs() < 1e-12 && (a.1 - b.1).abs() < 1e-12;
        let p = interval(IntervalMethod::Percentile, 40.0, &dist, 0.95, &[]).unwrap();
        assert!(near(p, (2.5, 97.5)), "{p:?}");
        let b = interval(IntervalMethod::Basic, 40.0, &dist, 0.95, &[]).unwrap();
        assert!(near(b, (80.0 - 97.5, 80.0 - 2.5)), "{b:?}");
        // Symmetric distribution around the estimate, no acceleration: BCa is the percentile one.
        let c = interval(IntervalMethod::Bca, 50.0, &dist, 0.95, &[1.0, 1.0]).unwrap();
        assert!(near(c, (2.5, 97.5)), "{c:?}");
        // All resamples above the estimate: BCa shifts down and stays finite.
        let d = interval(IntervalMethod::Bca, -1.0, &dist, 0.95, &[]).unwrap();
        assert!(d.0.is_finite() && d.1 < 97.5 && d.0 <= d.1, "{d:?}");
        assert!(interval(IntervalMethod::Basic, f64::NAN, &dist, 0.95, &[]).is_err());
        assert!(interval(IntervalMethod::Percentile, 0.0, &[f64::NAN], 0.95, &[]).is_err());
        assert!("bca".parse::<IntervalMethod>().is_ok() && "BCa".parse::<IntervalMethod>().is_err());
    }
}
