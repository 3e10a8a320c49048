//! L2-regularised logistic regression, fitted exactly by Newton's method (IRLS).
//!
//! Objective (scikit-learn's `LogisticRegression(C=c)` with an unpenalised intercept):
//!
//! ```text
//! minimise  Σ_i s_i · [log(1 + e^{z_i}) − y_i z_i]  +  ‖β‖² / (2c),    z_i = b + x_i·β
//! ```
//!
//! With `standardize`, columns are centred and scaled by their (weighted) mean and population
//! standard deviation before fitting, so the penalty treats every feature alike; the returned
//! coefficients are mapped back to the original scale. The feature count of the decision layer
//! is small (tens), so a dense Cholesky solve per Newton step is exact and cheap.

use crate::error::{check_finite, check_same_len, check_weights, CredoError, Result};
use crate::special::{sigmoid, softplus};

/// Options of [`fit_logistic`].
#[derive(Debug, Clone, Copy)]
pub struct LogisticOptions {
    /// Inverse regularisation strength (> 0), as scikit-learn's `C`.
    pub c: f64,
    pub fit_intercept: bool,
    pub standardize: bool,
    pub max_iter: usize,
    /// Converged when the largest Newton step (in standardised units) is below `tol`.
    pub tol: f64,
}

impl Default for LogisticOptions {
    fn default() -> Self {
        Self {
            c: 1.0,
            fit_intercept: true,
            standardize: true,
            max_iter: 100,
            tol: 1e-10,
        }
    }
}

/// A fitted model on the original feature scale, plus how the fit went.
#[derive(Debug, Clone, PartialEq)]
pub struct LogisticFit {
    pub coef: Vec<f64>,
    pub intercept: f64,
    /// Coefficients on the standardised scale (equal to `coef` without standardisation): comparable
    /// across features, so they serve as feature weights.
    pub coef_standardized: Vec<f64>,
    pub mean: Vec<f64>,
    pub scale: Vec<f64>,
    pub n_iter: usize,
    pub converged: bool,
    /// Value of the objective at the solution.
    pub objective: f64,
}

fn check_inputs(x: &[f64], n: usize, d: usize, y: &[f64], w: Option<&[f64]>, opts: &LogisticOptions) -> Result<()> {
    if n == 0 {
        return Err(CredoError::empty("X", "needs at least one sample"));
    }
    if d == 0 {
        return Err(CredoError::empty("X", "needs at least one feature"));
    }
    check_same_len("X", x.len(), n * d)?;
    check_same_len("y", y.len(), n)?;
    check_finite("X", x)?;
    check_finite("y", y)?;
    if let Some(i) = y.iter().position(|v| !(0.0..=1.0).contains(v)) {
        return Err(CredoError::invalid(
            "y",
            format!("labels must lie in [0, 1], got {} at index {i}", y[i]),
        ));
    }
    check_weights(w, n)?;
    if !(opts.c.is_finite() && opts.c > 0.0) {
        return Err(CredoError::invalid(
            "C",
            format!("must be a positive finite number, got {}", opts.c),
        ));
    }
    if !(opts.tol.is_finite() && opts.tol > 0.0) {
        return Err(CredoError::invalid(
            "tol",
            format!("must be positive, got {}", opts.tol),
        ));
    }
    if opts.max_iter == 0 {
        return Err(CredoError::invalid("max_iter", "must be at least 1"));
    }
    Ok(())
}

/// Weighted column means and population standard deviations (1 for constant columns).
fn column_moments(x: &[f64], n: usize, d: usize, w: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let sw: f64 = w.iter().sum();
    let mut mean = vec![0.0; d];
    for (row, &wi) in x.chunks_exact(d).zip(w) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += wi * v;
        }
    }
    mean.iter_mut().for_each(|m| *m /= sw);
    let mut var = vec![0.0; d];
    for (row, &wi) in x.chunks_exact(d).zip(w) {
        for ((s, &v), &m) in var.iter_mut().zip(row).zip(&mean) {
            *s += wi * (v - m) * (v - m);
        }
    }
    debug_assert_eq!(x.len(), n * d);
    let scale = var
        .iter()
        .zip(&mean)
        .map(|(&s, &m)| {
            let sd = (s / sw).sqrt();
            // A column that is constant up to rounding carries no information: leave it unscaled.
            if sd <= 1e-12 * m.abs().max(1.0) {
                1.0
            } else {
                sd
            }
        })
        .collect();
    (mean, scale)
}

/// Solves `a · x = b` for a symmetric positive-definite `a` (row-major `k × k`) by Cholesky.
fn cholesky_solve(a: &mut [f64], b: &mut [f64], k: usize) -> bool {
    for j in 0..k {
        let mut diag = a[j * k + j];
        for p in 0..j {
            diag -= a[j * k + p] * a[j * k + p];
        }
        if diag.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            return false;
        }
        let l = diag.sqrt();
        a[j * k + j] = l;
        for i in j + 1..k {
            let mut s = a[i * k + j];
            for p in 0..j {
                s -= a[i * k + p] * a[j * k + p];
            }
            a[i * k + j] = s / l;
        }
    }
    for i in 0..k {
        let mut s = b[i];
        for p in 0..i {
            s -= a[i * k + p] * b[p];
        }
        b[i] = s / a[i * k + i];
    }
    for i in (0..k).rev() {
        let mut s = b[i];
        for p in i + 1..k {
            s -= a[p * k + i] * b[p];
        }
        b[i] = s / a[i * k + i];
    }
    true
}

struct Problem<'a> {
    z: &'a [f64],
    n: usize,
    d: usize,
    y: &'a [f64],
    w: &'a [f64],
    inv_c: f64,
    fit_intercept: bool,
}

impl Problem<'_> {
    /// Parameter layout: `[β_0 … β_{d−1}, b]` (the intercept last, present only when fitted).
    fn margin(&self, theta: &[f64], i: usize) -> f64 {
        let row = &self.z[i * self.d..(i + 1) * self.d];
        let dot: f64 = row.iter().zip(theta).map(|(a, b)| a * b).sum();
        if self.fit_intercept {
            dot + theta[self.d]
        } else {
            dot
        }
    }

    fn objective(&self, theta: &[f64]) -> f64 {
        let loss: f64 = (0..self.n)
            .map(|i| {
                let m = self.margin(theta, i);
                self.w[i] * (softplus(m) - self.y[i] * m)
            })
            .sum();
        let pen: f64 = theta[..self.d].iter().map(|b| b * b).sum();
        loss + 0.5 * self.inv_c * pen
    }

    /// Gradient and Hessian (row-major) of the objective at `theta`.
    fn grad_hess(&self, theta: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let k = theta.len();
        let mut g = vec![0.0; k];
        let mut h = vec![0.0; k * k];
        let mut xi = vec![0.0; k];
        for i in 0..self.n {
            let m = self.margin(theta, i);
            let p = sigmoid(m);
            let r = self.w[i] * (p - self.y[i]);
            let s = self.w[i] * p * (1.0 - p);
            xi[..self.d].copy_from_slice(&self.z[i * self.d..(i + 1) * self.d]);
            if self.fit_intercept {
                xi[self.d] = 1.0;
            }
            for a in 0..k {
                g[a] += r * xi[a];
                let sa = s * xi[a];
                for b in 0..=a {
                    h[a * k + b] += sa * xi[b];
                }
            }
        }
        for a in 0..k {
            for b in 0..a {
                h[b * k + a] = h[a * k + b];
            }
        }
        for j in 0..self.d {
            g[j] += self.inv_c * theta[j];
            h[j * k + j] += self.inv_c;
        }
        (g, h)
    }
}

/// Fits the model on `x` (row-major `n × d`), labels `y` in [0, 1] (soft labels allowed) and
/// optional non-negative `sample_weight`.
pub fn fit_logistic(
    x: &[f64],
    n: usize,
    d: usize,
    y: &[f64],
    sample_weight: Option<&[f64]>,
    opts: &LogisticOptions,
) -> Result<LogisticFit> {
    check_inputs(x, n, d, y, sample_weight, opts)?;
    let ones;
    let w = match sample_weight {
        Some(w) => w,
        None => {
            ones = vec![1.0; n];
            &ones
        }
    };
    let (mean, scale) = if opts.standardize {
        column_moments(x, n, d, w)
    } else {
        (vec![0.0; d], vec![1.0; d])
    };
    let z: Vec<f64> = if opts.standardize {
        x.chunks_exact(d)
            .flat_map(|row| row.iter().zip(&mean).zip(&scale).map(|((v, m), s)| (v - m) / s))
            .collect()
    } else {
        x.to_vec()
    };
    let prob = Problem {
        z: &z,
        n,
        d,
        y,
        w,
        inv_c: 1.0 / opts.c,
        fit_intercept: opts.fit_intercept,
    };
    let k = d + usize::from(opts.fit_intercept);
    let mut theta = vec![0.0; k];
    if opts.fit_intercept {
        // Start from the weighted base rate: one Newton step fewer and a safe first line search.
        let sw: f64 = w.iter().sum();
        let rate = (w.iter().zip(y).map(|(a, b)| a * b).sum::<f64>() / sw).clamp(1e-6, 1.0 - 1e-6);
        theta[d] = (rate / (1.0 - rate)).ln();
    }
    let mut obj = prob.objective(&theta);
    let mut converged = false;
    let mut n_iter = 0;
    while n_iter < opts.max_iter {
        n_iter += 1;
        let (g, mut h) = prob.grad_hess(&theta);
        let mut step = g.clone();
        if !cholesky_solve(&mut h, &mut step, k) {
            // Only the unpenalised intercept can make the Hessian singular (all p ∈ {0, 1}); a
            // tiny ridge keeps the step defined and is irrelevant at convergence.
            let (_, mut h2) = prob.grad_hess(&theta);
            (0..k).for_each(|j| h2[j * k + j] += 1e-10 * (1.0 + h2[j * k + j]));
            step = g.clone();
            if !cholesky_solve(&mut h2, &mut step, k) {
                break;
            }
        }
        // Backtracking keeps every iterate a descent (Newton alone can overshoot far from the optimum).
        let mut t = 1.0;
        let mut accepted = false;
        let mut cand = theta.clone();
        for _ in 0..60 {
            cand.iter_mut()
                .zip(&theta)
                .zip(&step)
                .for_each(|((c, th), s)| *c = th - t * s);
            let o = prob.objective(&cand);
            if o <= obj + 1e-12 * obj.abs().max(1.0) {
                obj = o;
                accepted = true;
                break;
            }
            t *= 0.5;
        }
        let max_step = step.iter().fold(0.0f64, |a, s| a.max((t * s).abs()));
        if accepted {
            std::mem::swap(&mut theta, &mut cand);
        }
        if max_step < opts.tol || !accepted {
            converged = accepted || max_step < opts.tol;
            break;
        }
    }
    if theta.iter().any(|v| !v.is_finite()) {
        return Err(CredoError::non_finite(
            "X",
            "the fit diverged (features with extreme values?)",
        ));
    }
    let coef_standardized = theta[..d].to_vec();
    let coef: Vec<f64> = coef_standardized.iter().zip(&scale).map(|(b, s)| b / s).collect();
    let b0 = if opts.fit_intercept { theta[d] } else { 0.0 };
    let intercept = b0 - coef.iter().zip(&mean).map(|(b, m)| b * m).sum::<f64>();
    Ok(LogisticFit {
        coef,
        intercept,
        coef_standardized,
        mean,
        scale,
        n_iter,
        converged,
        objective: obj,
    })
}

/// P(y = 1) for one feature vector.
pub fn predict_one(coef: &[f64], intercept: f64, x: &[f64]) -> f64 {
    sigmoid(intercept + coef.iter().zip(x).map(|(a, b)| a * b).sum::<f64>())
}

/// P(y = 1) for each row of `x` (row-major `n × coef.len()`), in ordered chunks over `threads`.
pub fn predict_proba(coef: &[f64], intercept: f64, x: &[f64], threads: Option<usize>) -> Result<Vec<f64>> {
    let d = coef.len();
    if d == 0 {
        return Err(CredoError::empty("coef", "the model has no features"));
    }
    if !x.len().is_multiple_of(d) {
        return Err(CredoError::shape(
            "X",
            format!("{} values do not form rows of {d} features", x.len()),
        ));
    }
    check_finite("X", x)?;
    let n = x.len() / d;
    let mut out = vec![0.0; n];
    crate::parallel::with_threads(threads, || {
        crate::parallel::for_each_chunk_mut(&mut out, 4096, |c, chunk| {
            for (j, o) in chunk.iter_mut().enumerate() {
                let i = c * 4096 + j;
                *o = predict_one(coef, intercept, &x[i * d..(i + 1) * d]);
            }
        });
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy(n: usize) -> (Vec<f64>, Vec<f64>) {
        // Deterministic, overlapping classes in two features.
        let mut x = Vec::with_capacity(2 * n);
        let mut y = Vec::with_capacity(n);
        for i in 0..n {
            let a = ((i as f64) * 0.731).sin() * 3.0;
            let b = ((i as f64) * 1.377).cos() * 10.0 + 5.0;
            x.push(a);
            x.push(b);
            y.push(if a + 0.1 * b + ((i as f64) * 2.1).sin() > 0.5 {
                1.0
            } else {
                0.0
            });
        }
        (x, y)
    }

    #[test]
    fn gradient_vanishes_at_solution() {
        let (x, y) = toy(500);
        for standardize in [false, true] {
            let opts = LogisticOptions {
                c: 0.7,
                standardize,
                ..Default::default()
            };
            let f = fit_logistic(&x, 500, 2, &y, None, &opts).unwrap();
            assert!(f.converged);
            // Gradient of the objective in the standardised parametrisation.
            let mut g = [0.0; 3];
            for i in 0..500 {
                let xi = &x[2 * i..2 * i + 2];
                let r = predict_one(&f.coef, f.intercept, xi) - y[i];
                for j in 0..2 {
                    g[j] += r * (xi[j] - f.mean[j]) / f.scale[j];
                }
                g[2] += r;
            }
            for (gj, cj) in g.iter_mut().zip(&f.coef_standardized) {
                *gj += cj / 0.7;
            }
            assert!(g.iter().all(|v| v.abs() < 1e-8), "{g:?}");
        }
    }

    #[test]
    fn weights_equal_duplication() {
        let (x, y) = toy(60);
        let w: Vec<f64> = (0..60).map(|i| f64::from(i % 3)).collect();
        let mut xd = Vec::new();
        let mut yd = Vec::new();
        for i in 0..60 {
            for _ in 0..(i % 3) {
                xd.extend_from_slice(&x[2 * i..2 * i + 2]);
                yd.push(y[i]);
            }
        }
        let opts = LogisticOptions {
            standardize: false,
            ..Default::default()
        };
        let a = fit_logistic(&x, 60, 2, &y, Some(&w), &opts).unwrap();
        let b = fit_logistic(&xd, yd.len(), 2, &yd, None, &opts).unwrap();
        for (p, q) in a.coef.iter().zip(&b.coef) {
            assert!((p - q).abs() < 1e-9);
        }
        assert!((a.intercept - b.intercept).abs() < 1e-9);
    }

    #[test]
    fn separable_data_stays_finite() {
        let x = [0.0, 1.0, 2.0, 3.0];
        let y = [0.0, 0.0, 1.0, 1.0];
        let f = fit_logistic(
            &x,
            4,
            1,
            &y,
            None,
            &LogisticOptions {
                c: 1e6,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(f.coef[0].is_finite() && f.coef[0] > 0.0);
        let p = predict_proba(&f.coef, f.intercept, &x, Some(2)).unwrap();
        assert!(p[0] < 0.05 && p[3] > 0.95);
    }

    #[test]
    fn bad_input_is_refused() {
        let opts = LogisticOptions::default();
        assert!(fit_logistic(&[], 0, 1, &[], None, &opts).is_err());
        assert!(fit_logistic(&[1.0, f64::NAN], 2, 1, &[0.0, 1.0], None, &opts).is_err());
        assert!(fit_logistic(&[1.0, 2.0], 2, 1, &[0.0, 2.0], None, &opts).is_err());
        assert!(fit_logistic(&[1.0, 2.0], 2, 1, &[0.0, 1.0], Some(&[-1.0, 1.0]), &opts).is_err());
        let bad_c = LogisticOptions { c: 0.0, ..opts };
        assert!(fit_logistic(&[1.0, 2.0], 2, 1, &[0.0, 1.0], None, &bad_c).is_err());
        assert!(predict_proba(&[1.0, 2.0], 0.0, &[1.0, 2.0, 3.0], None).is_err());
    }

    #[test]
    fn prediction_is_thread_independent() {
        let (x, y) = toy(10_000);
        let f = fit_logistic(&x, 10_000, 2, &y, None, &LogisticOptions::default()).unwrap();
        let a = predict_proba(&f.coef, f.intercept, &x, Some(1)).unwrap();
        let b = predict_proba(&f.coef, f.intercept, &x, Some(2)).unwrap();
        assert_eq!(a, b);
    }
}
