//! Ranking and selective-prediction metrics of a confidence score against correctness
//! (docs/definitions/metrics.md#risk-coverage-aurc-e-aurc-and-augrc): AUROC, average precision, the risk–coverage curve, AURC, E-AURC, AUGRC,
//! selective risk at a coverage, coverage at a risk, and PRR.
//!
//! credo's convention groups equal confidences: a threshold accepts every sample at or above it,
//! so the curves step at unique confidences and ties never depend on a sort order. The
//! torch-uncertainty convention (per-sample steps in stable order, trapezoid, normalised by
//! 1 − 1/N) is available for cross-checks.

use super::pairs::twice_outranking;
use super::sort::{desc_key, rank_desc, Ranked};
use super::{check_outcomes, check_weights, wt};
use crate::error::{check_finite, check_same_len, CredoError, Result};

fn check_scores(scores: &[f64]) -> Result<()> {
    if scores.is_empty() {
        return Err(CredoError::empty("y_score", "is empty"));
    }
    check_finite("y_score", scores)
}

fn validate(scores: &[f64], y: &[f64], w: Option<&[f64]>) -> Result<()> {
    check_scores(scores)?;
    check_outcomes("y_true", y, scores.len())?;
    check_weights(w, scores.len())
}

/// Ranks scores once for repeated evaluation (used by the bootstrap).
pub fn prepare(scores: &[f64]) -> Ranked {
    rank_desc(scores)
}

/// Iterates groups of tied scores: (group's first rank, end rank).
fn groups(r: &Ranked) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut start = 0usize;
    r.ends.iter().map(move |&e| {
        let s = start;
        start = e as usize;
        (s, e as usize)
    })
}

/// Tie-aware AUROC (ties count ½), equal to scikit-learn's `roc_auc_score`. Soft labels y ∈ [0, 1]
/// contribute y to the positives and 1 − y to the negatives. NaN when a class has no weight.
pub fn auroc_ranked(r: &Ranked, y: &[f64], w: Option<&[f64]>) -> f64 {
    let (mut tp, mut area, mut neg) = (0.0, 0.0, 0.0);
    for (s, e) in groups(r) {
        let (mut gp, mut gn) = (0.0, 0.0);
        for &i in &r.order[s..e] {
            let i = i as usize;
            let wi = wt(w, i);
            gp += wi * y[i];
            gn += wi * (1.0 - y[i]);
        }
        area += gn * (tp + 0.5 * gp);
        tp += gp;
        neg += gn;
    }
    if tp <= 0.0 || neg <= 0.0 {
        return f64::NAN;
    }
    area / (tp * neg)
}

fn need_both_classes(v: f64) -> Result<f64> {
    if v.is_nan() {
        Err(CredoError::invalid(
            "y_true",
            "needs both correct and incorrect samples (only one class is present)",
        ))
    } else {
        Ok(v)
    }
}

pub fn auroc(scores: &[f64], y: &[f64], w: Option<&[f64]>) -> Result<f64> {
    // The common case first: unweighted 0/1 labels and finite scores, checked inside the pass
    // that splits the keys (the full checks below only run when that pass saw something else,
    // to word the error or to take the general path).
    if w.is_none() && !scores.is_empty() && y.len() == scores.len() {
        if let Some(v) = auroc_hard_labels(scores, y) {
            return need_both_classes(v);
        }
    }
    validate(scores, y, w)?;
    need_both_classes(auroc_ranked(&rank_desc(scores), y, w))
}

/// Unweighted AUROC with 0/1 labels and finite scores (None when some label is neither 0 nor 1
/// or some score is not finite): one read-only pass checks the input and finds the keys'
/// range, then [`twice_outranking`] counts the outranking pairs without sorting either class.
fn auroc_hard_labels(scores: &[f64], y: &[f64]) -> Option<f64> {
    let (chunks, per) = (scores.len().div_ceil(SCAN_CHUNK), SCAN_CHUNK);
    let part = |c: usize| {
        let r = c * per..((c + 1) * per).min(scores.len());
        Scan::of(&scores[r.clone()], &y[r])
    };
    let scan = crate::parallel::map_range(chunks, 1, part)
        .into_iter()
        .fold(Scan::EMPTY, Scan::merge);
    if !scan.checks_out(scores.len()) {
        return None;
    }
    let (np, nn) = (scan.ones, scores.len() - scan.ones);
    if np == 0 || nn == 0 {
        return Some(f64::NAN);
    }
    let (lo, hi) = (desc_key(scan.max), desc_key(scan.min));
    let twice_area = twice_outranking((scores, y), desc_key, lo, hi);
    Some(twice_area as f64 / 2.0 / (np as f64 * nn as f64))
}

/// Samples per task of the checking pass.
const SCAN_CHUNK: usize = 1 << 17;

/// What the checking pass of [`auroc_hard_labels`] finds in scores and labels.
#[derive(Clone, Copy)]
struct Scan {
    /// The least and greatest scores that are not NaN (infinite when some score is).
    min: f64,
    max: f64,
    nans: usize,
    /// Labels equal to 1, and equal to 0.
    ones: usize,
    zeros: usize,
}

impl Scan {
    const EMPTY: Scan = Scan {
        min: f64::INFINITY,
        max: f64::NEG_INFINITY,
        nans: 0,
        ones: 0,
        zeros: 0,
    };

    /// The scan of one chunk, in lanes of [`LANES`] so that the compiler vectorises it.
    fn of(s: &[f64], y: &[f64]) -> Scan {
        const LANES: usize = 4;
        let (mut lo, mut hi) = ([f64::INFINITY; LANES], [f64::NEG_INFINITY; LANES]);
        let (mut nans, mut ones, mut zeros) = ([0u64; LANES], [0u64; LANES], [0u64; LANES]);
        let (sc, yc) = (s.chunks_exact(LANES), y.chunks_exact(LANES));
        let (s_rest, y_rest) = (sc.remainder(), yc.remainder());
        for (s, y) in sc.zip(yc) {
            for j in 0..LANES {
                // comparisons, not f64::min: a NaN is counted, not propagated
                lo[j] = if s[j] < lo[j] { s[j] } else { lo[j] };
                hi[j] = if s[j] > hi[j] { s[j] } else { hi[j] };
                nans[j] += u64::from(s[j].is_nan());
                ones[j] += u64::from(y[j] == 1.0);
                zeros[j] += u64::from(y[j] == 0.0);
            }
        }
        let mut scan = Scan::EMPTY;
        for j in 0..LANES {
            scan = scan.merge(Scan {
                min: lo[j],
                max: hi[j],
                nans: nans[j] as usize,
                ones: ones[j] as usize,
                zeros: zeros[j] as usize,
            });
        }
        for (&s, &y) in s_rest.iter().zip(y_rest) {
            scan = scan.merge(Scan {
                min: if s.is_nan() { f64::INFINITY } else { s },
                max: if s.is_nan() { f64::NEG_INFINITY } else { s },
                nans: usize::from(s.is_nan()),
                ones: usize::from(y == 1.0),
                zeros: usize::from(y == 0.0),
            });
        }
        scan
    }

    fn merge(self, o: Scan) -> Scan {
        Scan {
            min: if o.min < self.min { o.min } else { self.min },
            max: if o.max > self.max { o.max } else { self.max },
            nans: self.nans + o.nans,
            ones: self.ones + o.ones,
            zeros: self.zeros + o.zeros,
        }
    }

    /// Whether all `n` (> 0) scores were finite and all labels 0 or 1.
    fn checks_out(&self, n: usize) -> bool {
        self.nans == 0 && self.min.is_finite() && self.max.is_finite() && self.ones + self.zeros == n
    }
}

/// Average precision (area under the precision–recall curve as scikit-learn's
/// `average_precision_score`: Σ (R_n − R_{n−1}) P_n over unique thresholds).
pub fn average_precision_ranked(r: &Ranked, y: &[f64], w: Option<&[f64]>) -> f64 {
    let total_pos: f64 = r.order.iter().map(|&i| wt(w, i as usize) * y[i as usize]).sum();
    if total_pos <= 0.0 {
        return f64::NAN;
    }
    let (mut tp, mut all, mut ap) = (0.0, 0.0, 0.0);
    for (s, e) in groups(r) {
        let mut gp = 0.0;
        for &i in &r.order[s..e] {
            let i = i as usize;
            let wi = wt(w, i);
            gp += wi * y[i];
            all += wi;
        }
        tp += gp;
        if gp > 0.0 {
            ap += (gp / total_pos) * (tp / all);
        }
    }
    ap
}

pub fn average_precision(scores: &[f64], y: &[f64], w: Option<&[f64]>) -> Result<f64> {
    validate(scores, y, w)?;
    let v = average_precision_ranked(&rank_desc(scores), y, w);
    if v.is_nan() {
        return Err(CredoError::invalid("y_true", "has no positive (correct) sample"));
    }
    Ok(v)
}

/// The risk–coverage curve at each unique threshold, from the highest confidence down.
#[derive(Clone, Debug, PartialEq)]
pub struct RiskCoverage {
    pub thresholds: Vec<f64>,
    pub coverage: Vec<f64>,
    pub risk: Vec<f64>,
    /// Errors among the accepted divided by all samples (Traub et al.'s generalised risk).
    pub generalized_risk: Vec<f64>,
}

/// Risk–coverage with losses 1 − y (y = correctness in [0, 1]); tie-grouped.
pub fn risk_coverage_ranked(r: &Ranked, y: &[f64], w: Option<&[f64]>) -> RiskCoverage {
    let total: f64 = r.order.iter().map(|&i| wt(w, i as usize)).sum();
    let (mut acc, mut err) = (0.0, 0.0);
    let mut out = RiskCoverage {
        thresholds: vec![],
        coverage: vec![],
        risk: vec![],
        generalized_risk: vec![],
    };
    for (s, e) in groups(r) {
        for &i in &r.order[s..e] {
            let i = i as usize;
            let wi = wt(w, i);
            acc += wi;
            err += wi * (1.0 - y[i]);
        }
        out.thresholds.push(r.sorted[s]);
        out.coverage.push(acc / total);
        out.risk.push(if acc > 0.0 { err / acc } else { 0.0 });
        out.generalized_risk.push(err / total);
    }
    out
}

pub fn risk_coverage(scores: &[f64], y: &[f64], w: Option<&[f64]>) -> Result<RiskCoverage> {
    validate(scores, y, w)?;
    Ok(risk_coverage_ranked(&rank_desc(scores), y, w))
}

/// Which AURC/AUGRC definition to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AreaConvention {
    /// Σ over unique thresholds of Δcoverage × risk (the step function of grouped ties).
    Credo,
    /// torch-uncertainty: per-sample steps (stable order), trapezoid, divided by 1 − 1/N.
    TorchUncertainty,
}

crate::choices!(AreaConvention, "convention", {
    "credo" => AreaConvention::Credo,
    "torch_uncertainty" => AreaConvention::TorchUncertainty,
});

/// Area under the (generalised) risk–coverage curve over a ranking.
fn area(r: &Ranked, y: &[f64], w: Option<&[f64]>, conv: AreaConvention, generalized: bool) -> f64 {
    let total: f64 = r.order.iter().map(|&i| wt(w, i as usize)).sum();
    match conv {
        AreaConvention::Credo => {
            let (mut acc, mut err, mut prev_cov, mut a) = (0.0, 0.0, 0.0, 0.0);
            for (s, e) in groups(r) {
                for &i in &r.order[s..e] {
                    let i = i as usize;
                    let wi = wt(w, i);
                    acc += wi;
                    err += wi * (1.0 - y[i]);
                }
                let cov = acc / total;
                let risk = if generalized {
                    err / total
                } else if acc > 0.0 {
                    err / acc
                } else {
                    0.0
                };
                a += (cov - prev_cov) * risk;
                prev_cov = cov;
            }
            a
        }
        AreaConvention::TorchUncertainty => {
            let (mut acc, mut err, mut a) = (0.0, 0.0, 0.0);
            let (mut first_cov, mut prev): (f64, Option<(f64, f64)>) = (0.0, None);
            for &i in &r.order {
                let i = i as usize;
                let wi = wt(w, i);
                acc += wi;
                err += wi * (1.0 - y[i]);
                if acc <= 0.0 {
                    continue;
                }
                let cov = acc / total;
                let risk = if generalized { err / total } else { err / acc };
                match prev {
                    None => first_cov = cov,
                    Some((pc, pr)) => a += (cov - pc) * (risk + pr) / 2.0,
                }
                prev = Some((cov, risk));
            }
            if first_cov >= 1.0 {
                prev.map_or(0.0, |p| p.1)
            } else {
                a / (1.0 - first_cov)
            }
        }
    }
}

/// The oracle ranking: samples ordered by correctness, most correct first (stable), no ties.
fn oracle_ranking(y: &[f64]) -> Ranked {
    let mut r = rank_desc(y);
    r.ends = (1..=y.len() as u32).collect();
    r
}

pub fn aurc_ranked(r: &Ranked, y: &[f64], w: Option<&[f64]>, conv: AreaConvention) -> f64 {
    area(r, y, w, conv, false)
}

pub fn augrc_ranked(r: &Ranked, y: &[f64], w: Option<&[f64]>, conv: AreaConvention) -> f64 {
    area(r, y, w, conv, true)
}

/// AURC minus the AURC of the oracle ranking (Geifman et al.'s excess AURC), same convention.
pub fn eaurc_ranked(r: &Ranked, oracle: &Ranked, y: &[f64], w: Option<&[f64]>, conv: AreaConvention) -> f64 {
    area(r, y, w, conv, false) - area(oracle, y, w, conv, false)
}

pub fn aurc(scores: &[f64], y: &[f64], w: Option<&[f64]>, conv: AreaConvention) -> Result<f64> {
    validate(scores, y, w)?;
    Ok(aurc_ranked(&rank_desc(scores), y, w, conv))
}

pub fn augrc(scores: &[f64], y: &[f64], w: Option<&[f64]>, conv: AreaConvention) -> Result<f64> {
    validate(scores, y, w)?;
    Ok(augrc_ranked(&rank_desc(scores), y, w, conv))
}

pub fn eaurc(scores: &[f64], y: &[f64], w: Option<&[f64]>, conv: AreaConvention) -> Result<f64> {
    validate(scores, y, w)?;
    Ok(eaurc_ranked(&rank_desc(scores), &oracle_ranking(y), y, w, conv))
}

pub fn prepare_oracle(y: &[f64]) -> Ranked {
    oracle_ranking(y)
}

/// Selective risk at the smallest unique threshold whose coverage reaches `coverage`:
/// (risk, achieved coverage, threshold).
pub fn selective_risk_at(scores: &[f64], y: &[f64], w: Option<&[f64]>, coverage: f64) -> Result<(f64, f64, f64)> {
    validate(scores, y, w)?;
    if !(coverage > 0.0 && coverage <= 1.0) {
        return Err(CredoError::invalid(
            "coverage",
            format!("must lie in (0, 1], got {coverage}"),
        ));
    }
    let rc = risk_coverage_ranked(&rank_desc(scores), y, w);
    // A relative slack absorbs the rounding of cumulative weights (coverage = 1 must be reachable).
    let j = rc
        .coverage
        .iter()
        .position(|&c| c >= coverage * (1.0 - 1e-12))
        .unwrap_or(rc.coverage.len() - 1);
    Ok((rc.risk[j], rc.coverage[j], rc.thresholds[j]))
}

/// The largest coverage whose selective risk is at most `risk`: (coverage, threshold, achieved
/// risk). Coverage 0 with threshold +inf when no threshold qualifies.
pub fn coverage_at_risk(scores: &[f64], y: &[f64], w: Option<&[f64]>, risk: f64) -> Result<(f64, f64, f64)> {
    validate(scores, y, w)?;
    if !(0.0..=1.0).contains(&risk) {
        return Err(CredoError::invalid("risk", format!("must lie in [0, 1], got {risk}")));
    }
    let rc = risk_coverage_ranked(&rank_desc(scores), y, w);
    let mut best = (0.0, f64::INFINITY, 0.0);
    for j in 0..rc.coverage.len() {
        if rc.risk[j] <= risk {
            best = (rc.coverage[j], rc.thresholds[j], rc.risk[j]);
        }
    }
    Ok(best)
}

/// Prediction–rejection ratio (LM-Polygraph): (A − A_random)/(A_oracle − A_random) where A is the
/// mean over coverages of the mean quality of the accepted samples. Quality may be any finite
/// number (PRR is invariant to affine rescaling, so LM-Polygraph's min-max normalisation is
/// implied); A_random is its expectation, the mean quality. NaN when all qualities are equal.
pub fn prr_ranked(r: &Ranked, oracle: &Ranked, q: &[f64], w: Option<&[f64]>) -> f64 {
    let (lo, hi) = q
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    if hi <= lo {
        return f64::NAN;
    }
    // Normalise to [0, 1] so that the loss 1 − q fits the AURC machinery.
    let qn: Vec<f64> = q.iter().map(|&v| (v - lo) / (hi - lo)).collect();
    let total: f64 = (0..q.len()).map(|i| wt(w, i)).sum();
    let mean_loss: f64 = (0..q.len()).map(|i| wt(w, i) * (1.0 - qn[i])).sum::<f64>() / total;
    let a = area(r, &qn, w, AreaConvention::Credo, false);
    let a_orc = area(oracle, &qn, w, AreaConvention::Credo, false);
    (mean_loss - a) / (mean_loss - a_orc)
}

pub fn prr(scores: &[f64], quality: &[f64], w: Option<&[f64]>) -> Result<f64> {
    check_scores(scores)?;
    check_same_len("y_true", quality.len(), scores.len())?;
    check_finite("y_true", quality)?;
    check_weights(w, scores.len())?;
    let v = prr_ranked(&rank_desc(scores), &oracle_ranking(quality), quality, w);
    if v.is_nan() {
        return Err(CredoError::invalid("y_true", "quality is constant, PRR is undefined"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auroc_with_ties_counts_half() {
        let s = [0.9, 0.5, 0.5, 0.1];
        let y = [1.0, 1.0, 0.0, 0.0];
        // pairs (pos, neg): (0.9,0.5)=1, (0.9,0.1)=1, (0.5,0.5)=0.5, (0.5,0.1)=1 → 3.5/4
        assert!((auroc(&s, &y, None).unwrap() - 0.875).abs() < 1e-15);
        assert!(auroc(&s, &[1.0; 4], None).is_err());
    }

    #[test]
    fn hard_label_fast_path_equals_grouped_path() {
        let n = 3000;
        let s: Vec<f64> = (0..n).map(|i| (((i * 7919) % 997) as f64 / 50.0).floor()).collect();
        let y: Vec<f64> = (0..n).map(|i| f64::from(u8::from((i * 31) % 5 < 2))).collect();
        let fast = auroc_hard_labels(&s, &y).unwrap();
        let grouped = auroc_ranked(&rank_desc(&s), &y, None);
        assert!((fast - grouped).abs() < 1e-12, "{fast} vs {grouped}");
        // above the parallel-sort size, and with a soft label the fast path declines
        let big: Vec<f64> = (0..100_000).map(|i| ((i * 7919) % 99_991) as f64 / 99_991.0).collect();
        let yb: Vec<f64> = (0..100_000).map(|i| f64::from(u8::from((i * 31) % 7 < 3))).collect();
        let fast = auroc_hard_labels(&big, &yb).unwrap();
        assert!((fast - auroc_ranked(&rank_desc(&big), &yb, None)).abs() < 1e-12);
        let mut soft = yb.clone();
        soft[77] = 0.5;
        assert!(auroc_hard_labels(&big, &soft).is_none());
        assert!(auroc_hard_labels(&[0.1, 0.2], &[1.0, 1.0]).unwrap().is_nan());
    }

    #[test]
    fn fast_path_checks_word_the_same_errors() {
        let n = 50_000;
        let s: Vec<f64> = (0..n).map(|i| ((i * 7919) % 4001) as f64 / 400.0 - 5.0).collect();
        let y: Vec<f64> = (0..n).map(|i| f64::from(u8::from((i * 13) % 3 == 0))).collect();
        // signed scores, −0 and +0 tied, long runs of ties: the same value as the grouped path
        let mut z = s.clone();
        z[10] = -0.0;
        z[11] = 0.0;
        let want = auroc_ranked(&rank_desc(&z), &y, None);
        assert!((auroc(&z, &y, None).unwrap() - want).abs() < 1e-12);
        for (at, v, in_scores) in [
            (n - 1, f64::NAN, true),
            (3, f64::INFINITY, true),
            (n / 2, 2.0, false),
            (0, f64::NAN, false),
            (9, -0.5, false),
        ] {
            let (mut s2, mut y2) = (s.clone(), y.clone());
            if in_scores {
                s2[at] = v;
            } else {
                y2[at] = v;
            }
            let e = auroc(&s2, &y2, None).unwrap_err().to_string();
            assert_eq!(e, validate(&s2, &y2, None).unwrap_err().to_string());
        }
        // a soft label still takes the general path, and gives its value
        let mut soft = y.clone();
        soft[5] = 0.25;
        let want = auroc_ranked(&rank_desc(&s), &soft, None);
        assert!((auroc(&s, &soft, None).unwrap() - want).abs() < 1e-12);
        assert!(auroc(&[], &[], None).is_err());
        assert!(auroc(&s, &y[1..], None).is_err());
    }

    #[test]
    fn checking_pass_finds_a_bad_value_anywhere() {
        // lengths around the lane width and past one chunk: main loop and remainders alike
        for n in [1usize, 3, 4, 5, 9, SCAN_CHUNK + 3] {
            let s: Vec<f64> = (0..n).map(|i| i as f64 / n as f64).collect();
            let y: Vec<f64> = (0..n).map(|i| f64::from(u8::from(i % 3 == 0))).collect();
            assert!(auroc_hard_labels(&s, &y).is_some());
            for at in [0, n / 2, n - 1] {
                for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                    let mut s2 = s.clone();
                    s2[at] = bad;
                    assert!(auroc_hard_labels(&s2, &y).is_none(), "score {bad} at {at} of {n}");
                }
                for bad in [f64::NAN, 0.5, -1.0, 2.0] {
                    let mut y2 = y.clone();
                    y2[at] = bad;
                    assert!(auroc_hard_labels(&s, &y2).is_none(), "label {bad} at {at} of {n}");
                }
            }
        }
    }

    #[test]
    fn pair_counts_give_the_grouped_value_at_any_thread_count() {
        // positives 3x, 1/3x and 40x the negatives, with ties (many tasks after the first
        // split)
        for (n, every) in [(200_000usize, 4usize), (120_000, 3), (1_000_000, 41)] {
            for pos_is_rare in [false, true] {
                let s: Vec<f64> = (0..n).map(|i| ((i * 7919) % 65_521) as f64 / 977.0).collect();
                let y: Vec<f64> = (0..n)
                    .map(|i| f64::from(u8::from((i * 17 % every == 0) == pos_is_rare)))
                    .collect();
                let want = auroc_ranked(&rank_desc(&s), &y, None);
                let one = crate::parallel::with_threads(Some(1), || auroc(&s, &y, None).unwrap()).unwrap();
                let two = crate::parallel::with_threads(Some(2), || auroc(&s, &y, None).unwrap()).unwrap();
                assert!((one - want).abs() < 1e-12, "{n} {every} {pos_is_rare}: {one} vs {want}");
                assert_eq!(one.to_bits(), two.to_bits());
            }
        }
    }

    #[test]
    fn aurc_distinct_scores_is_mean_of_prefix_risks() {
        let s = [0.9, 0.8, 0.7, 0.6];
        let y = [1.0, 0.0, 1.0, 0.0];
        let expect = (0.0 + 0.5 + 1.0 / 3.0 + 0.5) / 4.0;
        assert!((aurc(&s, &y, None, AreaConvention::Credo).unwrap() - expect).abs() < 1e-15);
        let e = eaurc(&s, &y, None, AreaConvention::Credo).unwrap();
        let oracle = (0.0 + 0.0 + 1.0 / 3.0 + 0.5) / 4.0;
        assert!((e - (expect - oracle)).abs() < 1e-15);
        // A perfect ranking has PRR 1, a reversed one −1.
        assert!((prr(&[4.0, 3.0, 2.0, 1.0], &[1.0, 1.0, 0.0, 0.0], None).unwrap() - 1.0).abs() < 1e-12);
        assert!((prr(&[1.0, 2.0, 3.0, 4.0], &[1.0, 1.0, 0.0, 0.0], None).unwrap() + 1.0).abs() < 1e-12);
    }
}
