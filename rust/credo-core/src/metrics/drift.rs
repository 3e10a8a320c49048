//! Label-free drift statistics between a reference and a current sample of confidences, from
//! fixed-size histograms (streaming, constant memory) or from raw samples.
//!
//! Histogram statistics are exact up to the bin width: the KS statistic is the largest CDF gap
//! at bin edges (it can miss at most one bin's mass), Wasserstein-1 integrates the CDF gap with
//! the CDFs linear inside bins, PSI uses reference-quantile groups of bins.

use crate::error::{check_finite, CredoError, Result};

/// Adds `values` to `counts` (bins of equal width over [lo, hi]; values outside fall into the
/// end bins). Returns (Σ values, number added).
pub fn hist_update(values: &[f64], lo: f64, hi: f64, counts: &mut [f64]) -> Result<(f64, f64)> {
    check_finite("confidences", values)?;
    if !(lo.is_finite() && hi.is_finite() && hi > lo) {
        return Err(CredoError::invalid(
            "range",
            format!("must be finite with lo < hi, got ({lo}, {hi})"),
        ));
    }
    if counts.is_empty() {
        return Err(CredoError::invalid("n_bins", "must be at least 1"));
    }
    let nb = counts.len();
    let scale = nb as f64 / (hi - lo);
    let mut sum = 0.0;
    for &v in values {
        let x = ((v - lo) * scale).max(0.0);
        counts[(x as usize).min(nb - 1)] += 1.0;
        sum += v;
    }
    Ok((sum, values.len() as f64))
}

/// Drift statistics of `cur` against `reference` (two histograms on the same bins).
#[derive(Clone, Debug, PartialEq)]
pub struct DriftStats {
    pub psi: f64,
    pub ks_statistic: f64,
    pub ks_pvalue: f64,
    pub wasserstein: f64,
}

/// Kolmogorov's limiting survival function Q(x) = 2 Σ_{k≥1} (−1)^{k−1} e^{−2k²x²}.
pub fn kolmogorov_sf(x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    if x < 0.2 {
        // The alternating series converges slowly here and the value is 1 to double precision.
        return 1.0;
    }
    let mut s = 0.0;
    for k in 1..=100 {
        let kf = f64::from(k);
        let term = (-2.0 * kf * kf * x * x).exp();
        s += if k % 2 == 1 { term } else { -term };
        if term < 1e-17 {
            break;
        }
    }
    (2.0 * s).clamp(0.0, 1.0)
}

/// Two-sided asymptotic p-value of a two-sample KS statistic `d` with sample sizes n1, n2,
/// with Stephens' small-sample correction of the argument.
pub fn ks_pvalue(d: f64, n1: f64, n2: f64) -> f64 {
    let en = (n1 * n2 / (n1 + n2)).sqrt();
    kolmogorov_sf((en + 0.12 + 0.11 / en) * d)
}

/// Exact two-sample KS statistic of raw samples (as `scipy.stats.ks_2samp`) and its p-value.
pub fn ks_2samp(a: &[f64], b: &[f64]) -> Result<(f64, f64)> {
    if a.is_empty() || b.is_empty() {
        return Err(CredoError::empty(if a.is_empty() { "a" } else { "b" }, "is empty"));
    }
    check_finite("a", a)?;
    check_finite("b", b)?;
    let mut x = a.to_vec();
    let mut y = b.to_vec();
    x.sort_unstable_by(f64::total_cmp);
    y.sort_unstable_by(f64::total_cmp);
    let (n1, n2) = (x.len() as f64, y.len() as f64);
    let (mut i, mut j, mut d) = (0usize, 0usize, 0.0f64);
    while i < x.len() && j < y.len() {
        let v = x[i].min(y[j]);
        while i < x.len() && x[i] <= v {
            i += 1;
        }
        while j < y.len() && y[j] <= v {
            j += 1;
        }
        d = d.max((i as f64 / n1 - j as f64 / n2).abs());
    }
    Ok((d, ks_pvalue(d, n1, n2)))
}

/// PSI, KS and Wasserstein-1 between two histograms over [lo, hi].
pub fn hist_drift(reference: &[f64], cur: &[f64], lo: f64, hi: f64, psi_bins: usize) -> Result<DriftStats> {
    if reference.len() != cur.len() || reference.is_empty() {
        return Err(CredoError::shape(
            "counts",
            "reference and current histograms must have the same bins",
        ));
    }
    if psi_bins == 0 {
        return Err(CredoError::invalid("psi_bins", "must be at least 1"));
    }
    let (n_ref, n_cur): (f64, f64) = (reference.iter().sum(), cur.iter().sum());
    if n_ref <= 0.0 {
        return Err(CredoError::empty("reference", "holds no samples"));
    }
    if n_cur <= 0.0 {
        return Err(CredoError::empty("confidences", "no samples in the current window"));
    }
    let width = (hi - lo) / reference.len() as f64;
    let (mut fr, mut fc, mut ks, mut w1) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    let mut prev_gap = 0.0f64;
    for (r, c) in reference.iter().zip(cur) {
        fr += r / n_ref;
        fc += c / n_cur;
        let gap = fr - fc;
        ks = ks.max(gap.abs());
        // ∫|gap| over the bin with the gap linear between its edges.
        w1 += width
            * if prev_gap * gap >= 0.0 {
                0.5 * (prev_gap.abs() + gap.abs())
            } else {
                0.5 * (prev_gap * prev_gap + gap * gap) / (prev_gap.abs() + gap.abs())
            };
        prev_gap = gap;
    }
    Ok(DriftStats {
        psi: psi(reference, cur, psi_bins),
        ks_statistic: ks,
        ks_pvalue: ks_pvalue(ks, n_ref, n_cur),
        wasserstein: w1,
    })
}

/// Population stability index over groups of fine bins holding ≈ equal reference mass:
/// Σ (c − r)·ln(c / r), proportions floored at 1e-4 so empty groups stay finite.
fn psi(reference: &[f64], cur: &[f64], groups: usize) -> f64 {
    let n_ref: f64 = reference.iter().sum();
    let n_cur: f64 = cur.iter().sum();
    let (mut r_acc, mut c_acc, mut cum, mut next, mut total) = (0.0, 0.0, 0.0, 1usize, 0.0);
    let floor = 1e-4;
    let close = |r: f64, c: f64| {
        let (r, c) = ((r / n_ref).max(floor), (c / n_cur).max(floor));
        (c - r) * (c / r).ln()
    };
    for (i, (r, c)) in reference.iter().zip(cur).enumerate() {
        r_acc += r;
        c_acc += c;
        cum += r;
        let last = i + 1 == reference.len();
        if last || (next < groups && cum >= next as f64 * n_ref / groups as f64) {
            total += close(r_acc, c_acc);
            r_acc = 0.0;
            c_acc = 0.0;
            while next < groups && cum >= next as f64 * n_ref / groups as f64 {
                next += 1;
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_histograms_have_no_drift() {
        let mut h = vec![0.0; 100];
        let xs: Vec<f64> = (0..1000).map(|i| ((i as f64) * 0.618).fract()).collect();
        hist_update(&xs, 0.0, 1.0, &mut h).unwrap();
        let s = hist_drift(&h, &h, 0.0, 1.0, 10).unwrap();
        assert_eq!((s.psi, s.ks_statistic, s.wasserstein), (0.0, 0.0, 0.0));
        assert!((s.ks_pvalue - 1.0).abs() < 1e-12);
    }

    #[test]
    fn shifted_sample_is_detected() {
        let a: Vec<f64> = (0..2000).map(|i| ((i as f64) * 0.618).fract() * 0.5).collect();
        let b: Vec<f64> = a.iter().map(|v| v + 0.3).collect();
        let (d, p) = ks_2samp(&a, &b).unwrap();
        assert!(d > 0.5 && p < 1e-10);
        assert!((kolmogorov_sf(1.0) - 0.269_999_671_677_355_3).abs() < 1e-9);
    }
}
