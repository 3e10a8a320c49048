//! Smooth ECE (Błasiok & Nakkiran 2023), following relplot's algorithm step for step
//! (docs/definitions/metrics.md#smooth-ece) so its check value is reproduced:
//!
//! 1. residuals r_i = f_i − y_i and unit masses are split linearly onto a grid of
//!    ⌊max(2000, round(20/σ))/2⌋ + 1 points;
//! 2. both grids are convolved with a Gaussian of width σ reflected at 0 and 1;
//! 3. the smoothed residual r̂ = conv(r)/(conv(1) + 1e-4) and density δ̂ = conv(1) + 1e-4 are
//!    linearly interpolated onto max(200, round(10/σ)) evaluation points;
//! 4. smECE_σ = Σ|r̂|·δ̂ / Σδ̂, and σ* is the fixed point σ = smECE_σ found by 10 bisection steps.
//!
//! The search evaluates smECE at a dozen bandwidths. Three things keep that cheap without
//! changing the result (beyond summation order): the grids depend on σ only through their size,
//! which is 1001 points for every σ ≥ 0.01, so the data is read once per size, not once per
//! bandwidth; the convolution is computed only at the grid points the interpolation reads (about
//! 2 × 200 of 1001); and the residual and mass grids share one pass over the kernel.

use super::binning::np_linspace01;
use super::{check_outcomes, check_probs, check_weights};
use crate::error::{CredoError, Result};

const DENSITY_EPS: f64 = 1e-4;
const MESH_POINTS: f64 = 200.0;

/// Linear split of residuals and masses onto a grid of `g` points over [0, 1] (relplot
/// `smooth_round_to_grid`, both grids in one pass): returns (residual grid, mass grid).
fn round_to_grid(d: &Data<'_>, g: usize) -> (Vec<f64>, Vec<f64>) {
    let mut rg = vec![0.0; g];
    let mut mg = vec![0.0; g];
    let scale = (g - 1) as f64;
    for (i, &fi) in d.f.iter().enumerate() {
        let (r, m) = d.residual_and_mass(i);
        let x = fi * scale;
        let b = (x as usize).min(g - 2);
        let frac = x - b as f64;
        rg[b] += (1.0 - frac) * r;
        rg[b + 1] += frac * r;
        mg[b] += (1.0 - frac) * m;
        mg[b + 1] += frac * m;
    }
    (rg, mg)
}

fn kernel(g: usize, sigma: f64) -> Vec<f64> {
    let var = sigma * sigma;
    let norm = (2.0 * std::f64::consts::PI).sqrt() * sigma;
    np_linspace01(g)
        .iter()
        .map(|&t| (-(t - 0.5) * (t - 0.5) / (2.0 * var)).exp() / norm)
        .collect()
}

/// `values` reflected at both ends: reversed without its last element, itself, reversed without
/// its first (relplot `ReflectedGaussianKernel.convolve`).
fn reflect(values: &[f64]) -> Vec<f64> {
    let g = values.len();
    let mut ext = Vec::with_capacity(3 * g - 2);
    ext.extend(values[1..].iter().rev());
    ext.extend_from_slice(values);
    ext.extend(values[..g - 1].iter().rev());
    ext
}

/// Σ_k a[k]·x[k] and Σ_k a[k]·y[k] together (the kernel is read once for both), with eight
/// independent partial sums each so the loop vectorises.
fn dot2(a: &[f64], x: &[f64], y: &[f64]) -> (f64, f64) {
    const L: usize = 8;
    let (mut sx, mut sy) = ([0.0f64; L], [0.0f64; L]);
    let n = a.len() / L * L;
    for ((ca, cx), cy) in a[..n]
        .chunks_exact(L)
        .zip(x[..n].chunks_exact(L))
        .zip(y[..n].chunks_exact(L))
    {
        for k in 0..L {
            sx[k] += ca[k] * cx[k];
            sy[k] += ca[k] * cy[k];
        }
    }
    let (mut tx, mut ty) = (0.0, 0.0);
    for k in n..a.len() {
        tx += a[k] * x[k];
        ty += a[k] * y[k];
    }
    (tx + sx.iter().sum::<f64>(), ty + sy.iter().sum::<f64>())
}

/// The reflected convolutions of the residual and mass grids with `ker` at the grid points
/// `need` (the others are left 0). Output j is Σ_m ker[m]·ext[j + g/2 + g − 1 − m], i.e. a dot
/// product of the reversed kernel with a window of `ext`.
fn reflected_convolve_at(rg: &[f64], mg: &[f64], ker: &[f64], need: &[bool]) -> (Vec<f64>, Vec<f64>) {
    let g = rg.len();
    let (er, em) = (reflect(rg), reflect(mg));
    // Kernel entries that underflowed to zero contribute nothing: skip them.
    let lo = ker.iter().position(|&k| k != 0.0).unwrap_or(0);
    let hi = ker.iter().rposition(|&k| k != 0.0).map_or(0, |p| p + 1);
    let rev: Vec<f64> = ker[lo..hi].iter().rev().copied().collect();
    let (mut out_r, mut out_m) = (vec![0.0; g], vec![0.0; g]);
    for (j, _) in need.iter().enumerate().filter(|(_, &n)| n) {
        // ext index of kernel entry m is j + g/2 + g − 1 − m; m = hi − 1 is the window's start.
        let s = j + g / 2 + g - hi;
        let (a, b) = dot2(&rev, &er[s..s + rev.len()], &em[s..s + rev.len()]);
        out_r[j] = a;
        out_m[j] = b;
    }
    (out_r, out_m)
}

/// The grid index left of each evaluation point t (relplot `interpolate`'s `inds`) and its
/// weight on the right neighbour.
fn interpolation(t: &[f64], g: usize) -> Vec<(usize, f64)> {
    let bucket = 1.0 / (g - 1) as f64;
    t.iter()
        .map(|&x| {
            let i = ((x * (g - 1) as f64) as usize).min(g - 2);
            (i, (x - i as f64 * bucket) / bucket)
        })
        .collect()
}

/// The validated inputs; weights rescaled to mean 1 so the density floor keeps relplot's meaning.
struct Data<'a> {
    f: &'a [f64],
    y: &'a [f64],
    w: Option<&'a [f64]>,
    scale: f64,
}

impl Data<'_> {
    /// (r_i, m_i) = (m_i·(f_i − y_i), w_i·scale).
    #[inline]
    fn residual_and_mass(&self, i: usize) -> (f64, f64) {
        let m = self.w.map_or(1.0, |w| w[i] * self.scale);
        (m * (self.f[i] - self.y[i]), m)
    }
}

fn py_round(x: f64) -> f64 {
    x.round_ties_even()
}

/// smECE at any number of bandwidths over one data set; the grids of each size are built once.
struct Smoother<'a> {
    d: Data<'a>,
    grids: Vec<(usize, Vec<f64>, Vec<f64>)>,
}

impl<'a> Smoother<'a> {
    fn new(d: Data<'a>) -> Self {
        Self { d, grids: Vec::new() }
    }

    fn grids(&mut self, g: usize) -> usize {
        if let Some(k) = self.grids.iter().position(|e| e.0 == g) {
            return k;
        }
        let (rg, mg) = round_to_grid(&self.d, g);
        self.grids.push((g, rg, mg));
        self.grids.len() - 1
    }

    fn at(&mut self, sigma: f64) -> f64 {
        let ev = py_round(10.0 / sigma).max(MESH_POINTS) as usize;
        let t = np_linspace01(ev);
        let g = (py_round(20.0 / sigma).max(2000.0) as usize) / 2 + 1;
        let k = self.grids(g);
        let (_, rg, mg) = &self.grids[k];
        let ker = kernel(g, sigma);
        let at = interpolation(&t, g);
        let mut need = vec![false; g];
        for &(i, _) in &at {
            need[i] = true;
            need[i + 1] = true;
        }
        let (sr, sm) = reflected_convolve_at(rg, mg, &ker, &need);
        let (mut num, mut den) = (0.0, 0.0);
        for &(i, res) in &at {
            let r = sr[i] * (1.0 - res) + sr[i + 1] * res;
            let de = sm[i] * (1.0 - res) + sm[i + 1] * res + DENSITY_EPS;
            num += (r / de).abs() * de;
            den += de;
        }
        num / den
    }
}

fn prepare<'a>(f: &'a [f64], y: &'a [f64], w: Option<&'a [f64]>) -> Result<Data<'a>> {
    check_probs("y_prob", f)?;
    check_outcomes("y_true", y, f.len())?;
    check_weights(w, f.len())?;
    let scale = w.map_or(1.0, |w| f.len() as f64 / w.iter().sum::<f64>());
    Ok(Data { f, y, w, scale })
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
    Ok(Smoother::new(prepare(f, y, w)?).at(sigma))
}

/// smECE with relplot's automatic bandwidth: returns (smECE_σ*, σ*).
pub fn smooth_ece(f: &[f64], y: &[f64], w: Option<&[f64]>) -> Result<(f64, f64)> {
    let mut s = Smoother::new(prepare(f, y, w)?);
    let eps = 0.001;
    // σ* is a bandwidth the search evaluated (1 or a midpoint): its value is kept, not recomputed.
    let mut seen: Vec<(f64, f64)> = Vec::new();
    let mut check = |a: f64| {
        if a < eps {
            return true;
        }
        let v = s.at(a);
        seen.push((a, v));
        a < v
    };
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
    let value = match seen.iter().find(|e| e.0 == sigma) {
        Some(&(_, v)) => v,
        None => s.at(sigma),
    };
    Ok((value, sigma))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// relplot's algorithm as written (two gridding passes, the full convolution, interpolation
    /// of every grid point): the reference of the fast path.
    fn smooth_ece_plain(f: &[f64], y: &[f64], sigma: f64) -> f64 {
        let split = |v: &[f64], g: usize| {
            let mut out = vec![0.0; g];
            let scale = (g - 1) as f64;
            for (&fi, &vi) in f.iter().zip(v) {
                let x = fi * scale;
                let b = (x as usize).min(g - 2);
                out[b] += (1.0 - x + b as f64) * vi;
                out[b + 1] += (x - b as f64) * vi;
            }
            out
        };
        let conv = |values: &[f64], ker: &[f64]| -> Vec<f64> {
            let g = values.len();
            let ext = reflect(values);
            (g / 2..g / 2 + g)
                .map(|j| (0..g).map(|m| ker[m] * ext[j + g - 1 - m]).sum())
                .collect()
        };
        let interp = |t: &[f64], v: &[f64]| -> Vec<f64> {
            interpolation(t, v.len())
                .iter()
                .map(|&(i, res)| v[i] * (1.0 - res) + v[i + 1] * res)
                .collect()
        };
        let ev = py_round(10.0 / sigma).max(MESH_POINTS) as usize;
        let t = np_linspace01(ev);
        let g = (py_round(20.0 / sigma).max(2000.0) as usize) / 2 + 1;
        let ker = kernel(g, sigma);
        let r: Vec<f64> = f.iter().zip(y).map(|(a, b)| a - b).collect();
        let rs = interp(&t, &conv(&split(&r, g), &ker));
        let dens = interp(&t, &conv(&split(&vec![1.0; f.len()], g), &ker));
        let (mut num, mut den) = (0.0, 0.0);
        for (&r, &de) in rs.iter().zip(&dens) {
            let de = de + DENSITY_EPS;
            num += (r / de).abs() * de;
            den += de;
        }
        num / den
    }

    #[test]
    fn fast_path_equals_the_plain_algorithm() {
        let n = 3000;
        let f: Vec<f64> = (0..n).map(|i| ((i as f64) * 0.754_877_666).fract().powi(2)).collect();
        let y: Vec<f64> = (0..n)
            .map(|i| f64::from(u8::from(((i as f64) * 0.618_033_988_75).fract() < f[i].sqrt())))
            .collect();
        for sigma in [1.0, 0.3, 0.05, 0.012, 0.004, 0.0011] {
            let fast = smooth_ece_sigma(&f, &y, None, sigma).unwrap();
            let plain = smooth_ece_plain(&f, &y, sigma);
            assert!(
                (fast - plain).abs() <= 1e-12 * plain.abs().max(1e-3),
                "σ={sigma}: {fast} vs {plain}"
            );
        }
    }

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
