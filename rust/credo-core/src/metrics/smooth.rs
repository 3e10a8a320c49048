//! Smooth ECE (Błasiok & Nakkiran 2023), following relplot's algorithm step for step
//! (docs/definitions/metrics.md#smooth-ece) so its check value is reproduced:
//!
//! 1. residuals r_i = f_i − y_i and unit masses are split linearly onto a grid of
//!    ⌊max(2000, round(20/σ))/2⌋ + 1 points;
//! 2. both grids are convolved with a Gaussian of width σ reflected at 0 and 1;
//! 3. the smoothed residual r̂ = conv(r)/(conv(1) + 1e-4) and density δ̂ = conv(1) + 1e-4 are
//!    linearly interpolated onto max(200, round(10/σ)) evaluation points;
//! 4. smECE_σ = Σ|r̂|·δ̂ / Σδ̂, and σ* is the fixed point σ = smECE_σ found by 10 bisection steps.

use super::binning::np_linspace01;
use super::{check_outcomes, check_probs, check_weights, wt};
use crate::error::{CredoError, Result};

const DENSITY_EPS: f64 = 1e-4;
const MESH_POINTS: f64 = 200.0;

/// Linear split of values onto a grid of `g` points over [0, 1] (relplot `smooth_round_to_grid`).
fn round_to_grid(f: &[f64], v: &[f64], g: usize) -> Vec<f64> {
    let mut out = vec![0.0; g];
    let scale = (g - 1) as f64;
    for (&fi, &vi) in f.iter().zip(v) {
        let x = fi * scale;
        let b = (x as usize).min(g - 2);
        let frac = x - b as f64;
        out[b] += (1.0 - frac) * vi;
        out[b + 1] += frac * vi;
    }
    out
}

fn kernel(g: usize, sigma: f64) -> Vec<f64> {
    let var = sigma * sigma;
    let norm = (2.0 * std::f64::consts::PI).sqrt() * sigma;
    np_linspace01(g)
        .iter()
        .map(|&t| (-(t - 0.5) * (t - 0.5) / (2.0 * var)).exp() / norm)
        .collect()
}

/// Convolution with the Gaussian reflected at both ends (relplot `ReflectedGaussianKernel`).
fn reflected_convolve(values: &[f64], ker: &[f64]) -> Vec<f64> {
    let g = values.len();
    // ext = values reversed without its last element, values, values reversed without its first.
    let mut ext = Vec::with_capacity(3 * g - 2);
    ext.extend(values[1..].iter().rev());
    ext.extend_from_slice(values);
    ext.extend(values[..g - 1].iter().rev());
    // Kernel entries that underflowed to zero contribute nothing: skip them.
    let lo = ker.iter().position(|&k| k != 0.0).unwrap_or(0);
    let hi = ker.iter().rposition(|&k| k != 0.0).map_or(0, |p| p + 1);
    let start = g / 2;
    (start..start + g)
        .map(|j| {
            let base = j + g - 1;
            (lo..hi).map(|m| ker[m] * ext[base - m]).sum()
        })
        .collect()
}

/// Linear interpolation of the grid function i/(len − 1) ↦ y[i] at points t (relplot `interpolate`).
fn interpolate(t: &[f64], y: &[f64]) -> Vec<f64> {
    let b = y.len();
    let bucket = 1.0 / (b - 1) as f64;
    t.iter()
        .map(|&x| {
            let i = ((x * (b - 1) as f64) as usize).min(b - 2);
            let res = (x - i as f64 * bucket) / bucket;
            y[i] * (1.0 - res) + y[i + 1] * res
        })
        .collect()
}

struct Data {
    f: Vec<f64>,
    r: Vec<f64>,
    m: Vec<f64>,
}

fn py_round(x: f64) -> f64 {
    x.round_ties_even()
}

fn smooth_ece_at(d: &Data, sigma: f64) -> f64 {
    let ev = py_round(10.0 / sigma).max(MESH_POINTS) as usize;
    let t = np_linspace01(ev);
    let g = (py_round(20.0 / sigma).max(2000.0) as usize) / 2 + 1;
    let ker = kernel(g, sigma);
    let rs = interpolate(&t, &reflected_convolve(&round_to_grid(&d.f, &d.r, g), &ker));
    let dens = interpolate(&t, &reflected_convolve(&round_to_grid(&d.f, &d.m, g), &ker));
    let (mut num, mut den) = (0.0, 0.0);
    for (&r, &de) in rs.iter().zip(&dens) {
        let de = de + DENSITY_EPS;
        num += (r / de).abs() * de;
        den += de;
    }
    num / den
}

fn prepare(f: &[f64], y: &[f64], w: Option<&[f64]>) -> Result<Data> {
    check_probs("y_prob", f)?;
    check_outcomes("y_true", y, f.len())?;
    check_weights(w, f.len())?;
    // Weights are rescaled to mean 1 so the density floor keeps relplot's meaning.
    let scale = w.map_or(1.0, |w| f.len() as f64 / w.iter().sum::<f64>());
    let m: Vec<f64> = (0..f.len()).map(|i| wt(w, i) * scale).collect();
    let r = (0..f.len()).map(|i| m[i] * (f[i] - y[i])).collect();
    Ok(Data { f: f.to_vec(), r, m })
}

/// The smallest fixed bandwidth accepted (grids of about 10⁵ points; the automatic bandwidth
/// never goes below 2⁻¹⁰).
pub const MIN_SIGMA: f64 = 1e-4;

/// smECE at a fixed bandwidth σ.
pub fn smooth_ece_sigma(f: &[f64], y: &[f64], w: Option<&[f64]>, sigma: f64) -> Result<f64> {
    // The grid has about 10/σ points: below MIN_SIGMA it would take gigabytes.
    if !(sigma >= MIN_SIGMA && sigma.is_finite()) {
        return Err(CredoError::invalid(
            "sigma",
            format!("must be a number of at least {MIN_SIGMA:e}, got {sigma:e}"),
        ));
    }
    Ok(smooth_ece_at(&prepare(f, y, w)?, sigma))
}

/// smECE with relplot's automatic bandwidth: returns (smECE_σ*, σ*).
pub fn smooth_ece(f: &[f64], y: &[f64], w: Option<&[f64]>) -> Result<(f64, f64)> {
    let d = prepare(f, y, w)?;
    let eps = 0.001;
    let check = |a: f64| a < eps || a < smooth_ece_at(&d, a);
    // relplot `search_param(start=1, refine=10)`: keeps the upper end of the bracket where the
    // predicate fails.
    let sigma = if check(1.0) {
        1.0
    } else {
        let (mut start, mut end) = (1.0f64, 0.0f64);
        for _ in 0..10 {
            let mid = (start + end) / 2.0;
            if check(mid) {
                end = mid;
            } else {
                start = mid;
            }
        }
        start
    };
    Ok((smooth_ece_at(&d, sigma), sigma))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibrated_grid_is_small_and_miscalibrated_is_large() {
        let n = 2000;
        let f: Vec<f64> = (0..n).map(|i| (i as f64 + 0.5) / n as f64).collect();
        // Deterministic "labels" with frequency f: y_i = 1 when a low-discrepancy sequence < f_i.
        let y: Vec<f64> = (0..n)
            .map(|i| f64::from(u8::from(((i as f64) * 0.618_033_988_75).fract() < f[i])))
            .collect();
        let (good, _) = smooth_ece(&f, &y, None).unwrap();
        let y_bad: Vec<f64> = f.iter().map(|&v| f64::from(u8::from(v > 0.8))).collect();
        let (bad, sigma) = smooth_ece(&f, &y_bad, None).unwrap();
        assert!(good < 0.03, "{good}");
        assert!(bad > 0.1 && sigma > 0.0, "{bad}");
    }
}
