//! Seeded nonparametric bootstrap for any metric of (confidence, outcome) pairs.
//!
//! A resample is a vector of multiplicities (n draws with replacement); evaluating a metric on
//! it is a weighted evaluation, so the sort or the binning of the data is done once and reused.
//! Resample r draws from its own stream (seed, r): identical results for any thread count.

use super::binning::Binning;
use super::ece::{from_stats, BinStats, EceOptions};
use super::rng::Rng;
use super::sort::Ranked;
use super::{ranking, scores, wt};
use crate::error::{CredoError, Result};

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

/// Bootstrap distribution summary.
#[derive(Clone, Debug)]
pub struct BootResult {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
    /// Resample values in resample order (NaN where the metric was undefined on a resample).
    pub distribution: Vec<f64>,
}

/// Multiplicities of one resample of n samples.
pub fn resample_counts(n: usize, seed: u64, r: u64, counts: &mut [f64]) {
    counts.iter_mut().for_each(|c| *c = 0.0);
    Rng::new(seed, r).for_each_below(n, n, |i| counts[i] += 1.0);
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

/// Runs `f` on the weights of every resample (counts × base weights), in parallel.
fn run_weighted(
    n: usize,
    base: Option<&[f64]>,
    n_resamples: usize,
    seed: u64,
    f: impl Fn(&[f64]) -> f64 + Sync,
) -> Vec<f64> {
    crate::parallel::map_range_init(
        n_resamples,
        1,
        || vec![0.0; n],
        |w, r| {
            resample_counts(n, seed, r as u64, w);
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
    n_resamples: usize,
    seed: u64,
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
        n_resamples,
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
            Rng::new(seed, r as u64).for_each_below(n, n, |i| counts[i] += 1);
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

/// Percentile bootstrap interval at `confidence_level` over `n_resamples` resamples.
pub fn bootstrap(
    metric: BootMetric,
    conf: &[f64],
    y: &[f64],
    w: Option<&[f64]>,
    n_resamples: usize,
    confidence_level: f64,
    seed: u64,
) -> Result<BootResult> {
    crate::error::check_count("n_resamples", n_resamples, crate::error::MAX_RESAMPLES)?;
    crate::error::check_open_unit("confidence_level", confidence_level)?;
    // Validates every input through the metric itself.
    let estimate = point_estimate(metric, conf, y, w)?;
    let n = conf.len();
    let distribution = match metric {
        BootMetric::Ece(o) => ece_resamples(conf, y, w, &o, n_resamples, seed)?,
        BootMetric::Brier => run_weighted(n, w, n_resamples, seed, |rw| {
            scores::brier_binary_unchecked(conf, y, rw)
        }),
        BootMetric::Nll => run_weighted(n, w, n_resamples, seed, |rw| scores::nll_binary_unchecked(conf, y, rw)),
        _ => {
            let r = ranking::prepare(conf);
            let oracle = ranking::prepare_oracle(y);
            run_weighted(n, w, n_resamples, seed, |rw| {
                ranked_metric(metric, &r, &oracle, y, Some(rw))
            })
        }
    };
    let mut valid: Vec<f64> = distribution.iter().copied().filter(|v| v.is_finite()).collect();
    if valid.is_empty() {
        return Err(CredoError::empty("y_true", "the metric is undefined on every resample"));
    }
    valid.sort_unstable_by(f64::total_cmp);
    let a = (1.0 - confidence_level) / 2.0;
    let q = super::binning::np_quantiles(&valid, &[a, 1.0 - a]);
    Ok(BootResult {
        estimate,
        low: q[0],
        high: q[1],
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
            crate::parallel::with_threads(Some(t), || bootstrap(m, &conf, &y, None, 200, 0.9, 3))
                .unwrap()
                .unwrap()
        };
        let (a, b) = (run(1), run(2));
        assert_eq!(a.distribution, b.distribution);
        assert!(a.low <= a.estimate + 0.05 && a.low < a.high);
        let c = bootstrap(BootMetric::Auroc, &conf, &y, None, 50, 0.9, 4).unwrap();
        assert!(c.low <= c.high);
    }
}
