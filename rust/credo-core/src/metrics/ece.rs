//! Binned calibration error: ECE (L1), RMS calibration error (L2, plain or debiased), MCE (max),
//! and the adaptive/average variant, on top-label, binary, classwise or full-vector (canonical)
//! views of the predictions.

use std::collections::HashMap;

use super::binning::{
    bin_at_or_below, bin_below, uniform_bin_by_edges, uniform_edges, Binning, Convention, Fast, Strategy,
};
use super::{check_outcomes, check_probs, check_weights, wt};
use crate::error::{check_same_len, CredoError, Result};

/// Above this many samples the per-bin sums are computed in parallel, in fixed-size chunks
/// merged in index order (so the result does not depend on the thread count).
const PAR_MIN: usize = 1 << 17;
const CHUNK: usize = 1 << 16;

/// How per-bin gaps are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Norm {
    /// Σ_b w_b |acc_b − conf_b| (ECE).
    L1,
    /// sqrt(Σ_b w_b (acc_b − conf_b)²) (RMS calibration error).
    L2,
    /// Kumar et al. (2019): sqrt(max(0, Σ_b w_b [(acc_b − conf_b)² − acc_b(1 − acc_b)/(n_b − 1)])),
    /// bins with fewer than 2 samples contribute 0.
    L2Debiased,
    /// max_b |acc_b − conf_b| over non-empty bins (MCE).
    Max,
}

crate::choices!(Norm, "norm", {
    "l1" => Norm::L1,
    "l2" => Norm::L2,
    "l2_debiased" => Norm::L2Debiased,
    "max" => Norm::Max,
});

/// Everything that defines one binned calibration error.
#[derive(Clone, Copy, Debug)]
pub struct EceOptions {
    pub n_bins: usize,
    pub convention: Convention,
    pub strategy: Strategy,
    pub norm: Norm,
    /// Weight bins by their mass (ECE) or average the non-empty bins equally (adaptive/ACE).
    pub bin_weighted: bool,
}

impl Default for EceOptions {
    fn default() -> Self {
        Self {
            n_bins: 15,
            convention: Convention::Credo,
            strategy: Strategy::Uniform,
            norm: Norm::L1,
            bin_weighted: true,
        }
    }
}

/// Per-bin sums: weight, sample count, Σ w·conf, Σ w·outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct BinStats {
    pub weight: Vec<f64>,
    pub count: Vec<u64>,
    pub conf_sum: Vec<f64>,
    pub acc_sum: Vec<f64>,
    pub edges: Vec<f64>,
}

impl BinStats {
    fn zeros(n: usize, edges: Vec<f64>) -> Self {
        Self {
            weight: vec![0.0; n],
            count: vec![0; n],
            conf_sum: vec![0.0; n],
            acc_sum: vec![0.0; n],
            edges,
        }
    }

    fn add(&mut self, other: &Self) {
        for b in 0..self.weight.len() {
            self.weight[b] += other.weight[b];
            self.count[b] += other.count[b];
            self.conf_sum[b] += other.conf_sum[b];
            self.acc_sum[b] += other.acc_sum[b];
        }
    }
}

/// Bins pre-assigned to samples, for repeated weighted evaluation (the bootstrap).
pub fn assign_bins(conf: &[f64], binning: &Binning) -> (Vec<u32>, Vec<f64>) {
    let vals: Vec<f64> = conf.iter().map(|&p| binning.value(p)).collect();
    let bins = vals.iter().map(|&p| binning.assign(p) as u32).collect();
    (bins, vals)
}

/// Samples per block: the block is range-checked and then binned while it is still in L1, so
/// the data crosses the memory bus once.
const BLOCK: usize = 2048;

/// Running per-bin sums: (weight, Σ w·conf, Σ w·outcome, count), one record per bin so the four
/// running sums share a cache line.
struct Tally {
    table: Vec<[f64; 4]>,
}

impl Tally {
    fn new(nb: usize) -> Self {
        Self {
            table: vec![[0.0; 4]; nb],
        }
    }

    fn add(&mut self, conf: &[f64], acc: &[f64], w: Option<&[f64]>, binning: &Binning, bin: &impl Fn(f64) -> usize) {
        let t = &mut self.table;
        match w {
            None => {
                for (&c, &a) in conf.iter().zip(acc) {
                    let p = binning.value(c);
                    let r = &mut t[bin(p)];
                    r[0] += 1.0;
                    r[1] += p;
                    r[2] += a;
                    r[3] += 1.0;
                }
            }
            Some(w) => {
                for ((&c, &a), &wi) in conf.iter().zip(acc).zip(w) {
                    let p = binning.value(c);
                    let r = &mut t[bin(p)];
                    r[0] += wi;
                    r[1] += wi * p;
                    r[2] += wi * a;
                    r[3] += 1.0;
                }
            }
        }
    }

    fn add_to(&self, stats: &mut BinStats) {
        for (b, r) in self.table.iter().enumerate() {
            stats.weight[b] += r[0];
            stats.conf_sum[b] += r[1];
            stats.acc_sum[b] += r[2];
            stats.count[b] += r[3] as u64;
        }
    }
}

/// Whether every value lies in [0, 1] (NaN fails); one branch-free pass the compiler vectorises.
fn in_unit(v: &[f64]) -> bool {
    v.iter().fold(true, |ok, x| ok & (0.0..=1.0).contains(x))
}

/// Adds the samples to `stats` block by block; with `check`, each block's confidences and
/// outcomes are first checked to lie in [0, 1], and the first block that fails stops the pass
/// (returns false; `stats` is then incomplete and the caller rejects the input).
fn accumulate_with(
    stats: &mut BinStats,
    conf: &[f64],
    acc: &[f64],
    w: Option<&[f64]>,
    binning: &Binning,
    check: bool,
    bin: impl Fn(f64) -> usize,
) -> bool {
    let mut tally = Tally::new(stats.weight.len());
    for lo in (0..conf.len()).step_by(BLOCK) {
        let hi = (lo + BLOCK).min(conf.len());
        let (c, a) = (&conf[lo..hi], &acc[lo..hi]);
        if check && !(in_unit(c) & in_unit(a)) {
            return false;
        }
        tally.add(c, a, w.map(|w| &w[lo..hi]), binning, &bin);
    }
    tally.add_to(stats);
    true
}

fn accumulate(
    stats: &mut BinStats,
    conf: &[f64],
    acc: &[f64],
    w: Option<&[f64]>,
    binning: &Binning,
    check: bool,
) -> bool {
    // Dispatch on the rule once, outside the loop, so each rule gets its own compiled loop.
    let last = binning.n_bins - 1;
    match binning.fast() {
        Fast::FloorMul(b) => {
            let edges = uniform_edges(b, last);
            let e = &edges[..];
            accumulate_with(stats, conf, acc, w, binning, check, |p| {
                uniform_bin_by_edges(p, b, last, e)
            })
        }
        Fast::FloorDiv(d) => accumulate_with(stats, conf, acc, w, binning, check, |p| ((p / d) as usize).min(last)),
        Fast::Below(e, g) => accumulate_with(stats, conf, acc, w, binning, check, |p| bin_below(e, p, g)),
        Fast::AtOrBelow(e, g) => accumulate_with(stats, conf, acc, w, binning, check, |p| bin_at_or_below(e, p, g)),
    }
}

/// Per-bin sums of (conf, outcome) under `binning`; validated inputs assumed.
pub fn bin_stats(conf: &[f64], acc: &[f64], w: Option<&[f64]>, binning: &Binning) -> BinStats {
    bin_stats_checked(conf, acc, w, binning, false).0
}

/// Per-bin sums of (conf, outcome) under `binning`; with `check`, also whether every confidence
/// and outcome lay in [0, 1], checked block by block in the same pass over the data.
fn bin_stats_checked(conf: &[f64], acc: &[f64], w: Option<&[f64]>, binning: &Binning, check: bool) -> (BinStats, bool) {
    let nb = binning.n_bins;
    if conf.len() < PAR_MIN {
        let mut s = BinStats::zeros(nb, binning.edges.clone());
        let ok = accumulate(&mut s, conf, acc, w, binning, check);
        return (s, ok);
    }
    let parts: Vec<(BinStats, bool)> = crate::parallel::map_range(conf.len().div_ceil(CHUNK), 1, |c| {
        let lo = c * CHUNK;
        let hi = (lo + CHUNK).min(conf.len());
        let mut s = BinStats::zeros(nb, Vec::new());
        let ok = accumulate(
            &mut s,
            &conf[lo..hi],
            &acc[lo..hi],
            w.map(|w| &w[lo..hi]),
            binning,
            check,
        );
        (s, ok)
    });
    let mut total = BinStats::zeros(nb, binning.edges.clone());
    let mut ok = true;
    for (p, good) in &parts {
        total.add(p);
        ok &= good;
    }
    (total, ok)
}

/// Combines per-bin sums into one number under `norm`.
pub fn from_stats(s: &BinStats, norm: Norm, bin_weighted: bool) -> f64 {
    let total: f64 = s.weight.iter().sum();
    let mut acc_sum = 0.0;
    let mut max_gap: f64 = 0.0;
    let mut non_empty = 0usize;
    for b in 0..s.weight.len() {
        let wb = s.weight[b];
        if s.count[b] == 0 || wb <= 0.0 {
            continue;
        }
        non_empty += 1;
        let acc = s.acc_sum[b] / wb;
        let gap = acc - s.conf_sum[b] / wb;
        let share = if bin_weighted { wb / total } else { 1.0 };
        match norm {
            Norm::L1 => acc_sum += share * gap.abs(),
            Norm::L2 => acc_sum += share * gap * gap,
            Norm::L2Debiased => {
                if wb >= 2.0 {
                    acc_sum += share * (gap * gap - acc * (1.0 - acc) / (wb - 1.0));
                }
            }
            Norm::Max => max_gap = max_gap.max(gap.abs()),
        }
    }
    let denom = if bin_weighted { 1.0 } else { non_empty.max(1) as f64 };
    match norm {
        Norm::L1 => acc_sum / denom,
        Norm::L2 => (acc_sum / denom).sqrt(),
        Norm::L2Debiased => (acc_sum / denom).max(0.0).sqrt(),
        Norm::Max => max_gap,
    }
}

fn validate(conf: &[f64], acc: &[f64], w: Option<&[f64]>) -> Result<()> {
    check_probs("y_prob", conf)?;
    check_outcomes("y_true", acc, conf.len())?;
    check_weights(w, conf.len())
}

/// Calibration error of confidences `conf` against outcomes `acc` (0/1 correctness for the
/// top-label view, labels for the binary view).
///
/// With uniform bins the data is read once: the [0, 1] checks of `conf` and `acc` run block by
/// block inside the binning pass (the full checks only word the error once a block failed).
pub fn ece(conf: &[f64], acc: &[f64], w: Option<&[f64]>, opts: &EceOptions) -> Result<f64> {
    if opts.strategy != Strategy::Uniform || conf.is_empty() {
        validate(conf, acc, w)?; // quantile edges are computed from the (checked) data first
    } else {
        check_same_len("y_true", acc.len(), conf.len())?;
        check_weights(w, conf.len())?;
    }
    let binning = Binning::new(opts.convention, opts.strategy, opts.n_bins, conf)?;
    let (stats, ok) = bin_stats_checked(conf, acc, w, &binning, true);
    if !ok {
        validate(conf, acc, w)?;
    }
    Ok(from_stats(&stats, opts.norm, opts.bin_weighted))
}

/// The reliability table behind [`ece`] (per-bin sums and edges).
pub fn reliability(conf: &[f64], acc: &[f64], w: Option<&[f64]>, opts: &EceOptions) -> Result<BinStats> {
    validate(conf, acc, w)?;
    let binning = Binning::new(opts.convention, opts.strategy, opts.n_bins, conf)?;
    Ok(bin_stats(conf, acc, w, &binning))
}

/// Classwise ECE (Kull et al. 2019): the mean over classes k of the binary ECE of p_k against
/// 1[y = k].
pub fn ece_classwise(probs: &[f64], k: usize, labels: &[i64], w: Option<&[f64]>, opts: &EceOptions) -> Result<f64> {
    if k == 0 {
        return Err(CredoError::shape("y_prob", "has no classes"));
    }
    let n = probs.len() / k;
    check_probs("y_prob", probs)?;
    check_same_len("y_true", labels.len(), n)?;
    super::check_labels(labels, k)?;
    check_weights(w, n)?;
    let per_class: Vec<Result<f64>> = crate::parallel::map_range(k, 1, |c| {
        let col: Vec<f64> = (0..n).map(|i| probs[i * k + c]).collect();
        let hit: Vec<f64> = labels
            .iter()
            .map(|&l| if l as usize == c { 1.0 } else { 0.0 })
            .collect();
        let binning = Binning::new(opts.convention, opts.strategy, opts.n_bins, &col)?;
        Ok(from_stats(
            &bin_stats(&col, &hit, w, &binning),
            opts.norm,
            opts.bin_weighted,
        ))
    });
    let mut total = 0.0;
    for r in per_class {
        total += r?;
    }
    Ok(total / k as f64)
}

/// Distance between mean outcome and mean prediction vectors in one cell of the canonical ECE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Distance {
    /// ½ Σ_k |a_k − b_k| (CalibrationErrors.jl's default).
    TotalVariation,
    /// sqrt(Σ_k (a_k − b_k)²).
    Euclidean,
}

crate::choices!(Distance, "distance", {
    "tv" => Distance::TotalVariation,
    "euclidean" => Distance::Euclidean,
});

/// The canonical (full-vector) ECE of Widmann et al. (2019) as CalibrationErrors.jl's
/// `ECE(UniformBinning(n_bins))`: every coordinate p_k goes to bin ⌈B·p_k⌉ (p_k = 0 to the first),
/// i.e. (a, b] bins, the cells are the tuples of coordinate bins, and the estimate is
/// Σ_cells (w_c/W)·d(mean one-hot label, mean probability vector).
pub fn ece_canonical(
    probs: &[f64],
    k: usize,
    labels: &[i64],
    w: Option<&[f64]>,
    n_bins: usize,
    distance: Distance,
) -> Result<f64> {
    if k == 0 {
        return Err(CredoError::shape("y_prob", "has no classes"));
    }
    if n_bins == 0 || n_bins > u16::MAX as usize {
        return Err(CredoError::invalid(
            "n_bins",
            format!("must be in [1, 65535], got {n_bins}"),
        ));
    }
    let n = probs.len() / k;
    check_probs("y_prob", probs)?;
    check_same_len("y_true", labels.len(), n)?;
    super::check_labels(labels, k)?;
    check_weights(w, n)?;
    let b = n_bins as f64;
    // cell key -> (weight, Σ w·p, Σ w·onehot); stored flat as [weight, p_0.., y_0..].
    let mut cells: HashMap<Vec<u16>, Vec<f64>> = HashMap::new();
    let mut order: Vec<Vec<u16>> = Vec::new();
    for (i, row) in probs.chunks_exact(k).enumerate() {
        let key: Vec<u16> = row.iter().map(|&p| ((p * b).ceil() as u16).max(1) - 1).collect();
        let wi = wt(w, i);
        let entry = cells.entry(key).or_insert_with_key(|key| {
            order.push(key.clone());
            vec![0.0; 1 + 2 * k]
        });
        entry[0] += wi;
        for c in 0..k {
            entry[1 + c] += wi * row[c];
        }
        entry[1 + k + labels[i] as usize] += wi;
    }
    let total: f64 = w.map_or(n as f64, |w| w.iter().sum());
    // Cells are summed in first-seen order so the result is deterministic.
    let mut ece = 0.0;
    for key in &order {
        let e = &cells[key];
        if e[0] <= 0.0 {
            continue;
        }
        let d = match distance {
            Distance::TotalVariation => 0.5 * (0..k).map(|c| ((e[1 + k + c] - e[1 + c]) / e[0]).abs()).sum::<f64>(),
            Distance::Euclidean => (0..k)
                .map(|c| ((e[1 + k + c] - e[1 + c]) / e[0]).powi(2))
                .sum::<f64>()
                .sqrt(),
        };
        ece += e[0] / total * d;
    }
    Ok(ece)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: [f64; 15] = [
        0.1, 0.2, 0.3, 0.4, 0.5, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.0, 0.05, 0.95, 0.0,
    ];
    const Y: [f64; 15] = [0., 0., 1., 0., 1., 0., 1., 1., 1., 1., 1., 0., 0., 1., 0.];

    fn check(convention: Convention, expected: f64) {
        let opts = EceOptions {
            n_bins: 10,
            convention,
            ..EceOptions::default()
        };
        let got = ece(&CONF, &Y, None, &opts).unwrap();
        assert!((got - expected).abs() < 5e-5, "{convention:?}: {got} vs {expected}");
    }

    #[test]
    fn reference_check_vector() {
        check(Convention::Sklearn, 0.2267);
        check(Convention::Netcal, 0.1867);
        check(Convention::Torchmetrics, 0.2067);
        check(Convention::Relplot, 0.2067);
        check(Convention::Mapie, 0.2133);
    }

    #[test]
    fn parallel_equals_serial_chunks() {
        let n = PAR_MIN + 12_345;
        let conf: Vec<f64> = (0..n).map(|i| ((i as f64) * 0.618_033_988_7).fract()).collect();
        let acc: Vec<f64> = (0..n).map(|i| f64::from(u8::from(i % 3 == 0))).collect();
        let opts = EceOptions::default();
        let a = crate::parallel::with_threads(Some(1), || ece(&conf, &acc, None, &opts))
            .unwrap()
            .unwrap();
        let b = crate::parallel::with_threads(Some(2), || ece(&conf, &acc, None, &opts))
            .unwrap()
            .unwrap();
        assert_eq!(a.to_bits(), b.to_bits());
    }

    #[test]
    fn range_checks_in_the_binning_pass_word_the_first_bad_value() {
        for n in [1000, PAR_MIN + 5000] {
            let conf: Vec<f64> = (0..n).map(|i| (i % 997) as f64 / 997.0).collect();
            let acc: Vec<f64> = (0..n).map(|i| f64::from(u8::from(i % 3 == 0))).collect();
            let opts = EceOptions::default();
            let fused = ece(&conf, &acc, None, &opts).unwrap();
            let binning = Binning::new(opts.convention, opts.strategy, 15, &conf).unwrap();
            let mut two_pass = BinStats::zeros(15, Vec::new());
            for (&c, &a) in conf.iter().zip(&acc) {
                let b = binning.assign(c);
                two_pass.weight[b] += 1.0;
                two_pass.count[b] += 1;
                two_pass.conf_sum[b] += c;
                two_pass.acc_sum[b] += a;
            }
            assert!((fused - from_stats(&two_pass, Norm::L1, true)).abs() < 1e-12);
            for (at, v, in_conf) in [
                (n - 1, f64::NAN, true),
                (n / 2, 1.5, false),
                (3, -1e-300, true),
                (n - 2, f64::NEG_INFINITY, true),
            ] {
                let (mut c, mut a) = (conf.clone(), acc.clone());
                if in_conf {
                    c[at] = v;
                    a[0] = 2.0; // an earlier bad outcome: y_prob's error still comes first
                } else {
                    a[at] = v;
                }
                let e = ece(&c, &a, None, &opts).unwrap_err().to_string();
                assert_eq!(e, validate(&c, &a, None).unwrap_err().to_string());
                assert!(e.starts_with(if in_conf { "y_prob" } else { "y_true" }), "{e}");
            }
        }
    }

    #[test]
    fn perfectly_calibrated_bins_give_zero() {
        let conf = [0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 0.75];
        let acc = [1., 0., 0., 0., 1., 1., 1., 0.];
        assert!(ece(&conf, &acc, None, &EceOptions::default()).unwrap().abs() < 1e-15);
    }
}
