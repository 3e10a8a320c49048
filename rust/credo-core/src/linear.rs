//! L2-regularised logistic regression, fitted exactly by Newton's method (IRLS): the one Newton
//! solver of the crate, also behind the calibrators' small fits (Platt scaling, beta calibration;
//! `calibrate/logistic.rs` lays their columns out for it).
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
    /// Converged when the largest Newton step (in standardised units, relative to 1 + |θ|) is
    /// below `tol`.
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

/// Solves H·s = g for a symmetric positive semi-definite `h` (row-major `k × k`) by Cholesky,
/// adding a little ridge when H is singular (only an unpenalised coefficient can make it so: a
/// constant feature, separable data). None when nothing works (non-finite input).
fn solve_damped(h: &[f64], g: &[f64], k: usize) -> Option<Vec<f64>> {
    let scale = (0..k)
        .map(|a| h[a * k + a].abs())
        .fold(0.0, f64::max)
        .max(f64::MIN_POSITIVE);
    for ridge in [0.0, 1e-12, 1e-9, 1e-6, 1e-3] {
        let mut m = h.to_vec();
        (0..k).for_each(|a| m[a * k + a] += ridge * scale);
        let mut s = g.to_vec();
        if cholesky_solve(&mut m, &mut s, k) && s.iter().all(|v| v.is_finite()) {
            return Some(s);
        }
    }
    None
}

/// Minimises Σᵢ wᵢ·[softplus(zᵢ) − yᵢ·zᵢ] + (λ/2)·‖β‖², zᵢ = b + xᵢ·β (soft labels allowed; the
/// intercept, last in θ, is not penalised).
pub(crate) struct Problem<'a> {
    /// Row-major `n × d` features.
    pub z: &'a [f64],
    pub n: usize,
    pub d: usize,
    pub y: &'a [f64],
    /// Sample weights (None: all 1).
    pub w: Option<&'a [f64]>,
    /// λ, the penalty on β.
    pub inv_c: f64,
    pub fit_intercept: bool,
}

/// Where Newton's method stopped.
pub(crate) struct Solution {
    pub theta: Vec<f64>,
    pub objective: f64,
    pub n_iter: usize,
    pub converged: bool,
}

impl Problem<'_> {
    #[inline]
    fn weight(&self, i: usize) -> f64 {
        self.w.map_or(1.0, |w| w[i])
    }

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
                self.weight(i) * (softplus(m) - self.y[i] * m)
            })
            .sum();
        let pen: f64 = theta[..self.d].iter().map(|b| b * b).sum();
        loss + 0.5 * self.inv_c * pen
    }

    /// Damped Newton from `theta` with a backtracking line search on the convex objective, until
    /// the largest step relative to 1 + |θ| is below `tol` (or no step makes progress).
    pub(crate) fn minimise(&self, mut theta: Vec<f64>, max_iter: usize, tol: f64) -> Solution {
        let k = theta.len();
        let mut obj = self.objective(&theta);
        let mut converged = false;
        let mut n_iter = 0;
        let mut cand = theta.clone();
        while n_iter < max_iter {
            n_iter += 1;
            let (g, h) = self.grad_hess(&theta);
            let Some(step) = solve_damped(&h, &g, k) else { break };
            // Backtracking keeps every iterate a descent (Newton alone can overshoot far from
            // the optimum); the slack admits the rounding-level steps at the optimum.
            let mut t = 1.0;
            let mut accepted = false;
            for _ in 0..60 {
                cand.iter_mut()
                    .zip(&theta)
                    .zip(&step)
                    .for_each(|((c, th), s)| *c = th - t * s);
                let o = self.objective(&cand);
                if o <= obj + 1e-12 * obj.abs().max(1.0) {
                    obj = o;
                    accepted = true;
                    break;
                }
                t *= 0.5;
            }
            let max_step = step
                .iter()
                .zip(&theta)
                .fold(0.0f64, |a, (s, th)| a.max((t * s).abs() / (1.0 + th.abs())));
            if accepted {
                std::mem::swap(&mut theta, &mut cand);
            }
            if max_step < tol || !accepted {
                converged = accepted || max_step < tol;
                break;
            }
        }
        Solution {
            theta,
            objective: obj,
            n_iter,
            converged,
        }
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
            let wi = self.weight(i);
            let r = wi * (p - self.y[i]);
            let s = wi * p * (1.0 - p);
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
        w: sample_weight,
        inv_c: 1.0 / opts.c,
        fit_intercept: opts.fit_intercept,
    };
    let mut theta = vec![0.0; d + usize::from(opts.fit_intercept)];
    if opts.fit_intercept {
        // Start from the weighted base rate: one Newton step fewer and a safe first line search.
        let sw: f64 = w.iter().sum();
        let rate = (w.iter().zip(y).map(|(a, b)| a * b).sum::<f64>() / sw).clamp(1e-6, 1.0 - 1e-6);
        theta[d] = (rate / (1.0 - rate)).ln();
    }
    let Solution {
        theta,
        objective: obj,
        n_iter,
        converged,
    } = prob.minimise(theta, opts.max_iter, opts.tol);
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

/// A fitted logistic model: P(y = 1 | x) = σ(intercept + coef · x), checked once when built so
/// that every prediction can trust its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct LogisticModel {
    coef: Vec<f64>,
    intercept: f64,
}

impl LogisticModel {
    /// A model from its parameters (e.g. a saved artefact): finite, at least one feature.
    ///
    /// # Errors
    /// [`CredoError`] naming `coef` or `intercept` when a parameter is not finite or `coef` is empty.
    pub fn new(coef: Vec<f64>, intercept: f64) -> Result<Self> {
        check_finite("coef", &coef)?;
        check_finite("intercept", &[intercept])?;
        if coef.is_empty() {
            return Err(CredoError::empty("coef", "the model has no features"));
        }
        Ok(Self { coef, intercept })
    }

    #[must_use]
    pub fn coef(&self) -> &[f64] {
        &self.coef
    }

    #[must_use]
    pub fn intercept(&self) -> f64 {
        self.intercept
    }

    /// P(y = 1) for one feature vector `x` (named `arg` in errors).
    ///
    /// # Errors
    /// [`CredoError`] when `x` has the wrong number of features or a non-finite value.
    pub fn predict_one(&self, arg: &str, x: &[f64]) -> Result<f64> {
        self.check_width(arg, x.len())?;
        check_finite(arg, x)?;
        Ok(predict_one(&self.coef, self.intercept, x))
    }

    /// P(y = 1) for each row of `x` (row-major, `d` features a row), in ordered chunks over
    /// `threads`.
    ///
    /// # Errors
    /// [`CredoError`] naming `X` when `d` is not the model's width or a value is not finite.
    pub fn predict_proba(&self, x: &[f64], d: usize, threads: Option<usize>) -> Result<Vec<f64>> {
        self.check_width("X", d)?;
        predict_proba(&self.coef, self.intercept, x, threads)
    }

    fn check_width(&self, arg: &str, got: usize) -> Result<()> {
        let want = self.coef.len();
        if got == want {
            Ok(())
        } else {
            Err(CredoError::shape(
                arg,
                format!("has {got} features but the model has {want}"),
            ))
        }
    }
}

impl LogisticFit {
    /// The fitted model on the original feature scale.
    ///
    /// # Errors
    /// As [`LogisticModel::new`] (a fit always has finite parameters and a feature).
    pub fn model(&self) -> Result<LogisticModel> {
        LogisticModel::new(self.coef.clone(), self.intercept)
    }
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
    fn the_model_checks_its_parameters_and_inputs() {
        assert!(LogisticModel::new(vec![], 0.0).is_err());
        assert!(LogisticModel::new(vec![f64::NAN], 0.0).is_err());
        assert!(LogisticModel::new(vec![1.0], f64::INFINITY).is_err());
        let m = LogisticModel::new(vec![1.0, -2.0], 0.5).unwrap();
        assert_eq!(m.predict_one("x", &[1.0, 0.25]).unwrap(), sigmoid(1.0));
        let e = m.predict_one("x", &[1.0]).unwrap_err();
        assert_eq!(e.to_string(), "x: has 1 features but the model has 2");
        assert!(m.predict_one("x", &[1.0, f64::NAN]).is_err());
        assert!(m.predict_proba(&[1.0, 2.0, 3.0], 3, None).is_err());
        assert_eq!(m.predict_proba(&[1.0, 0.25], 2, None).unwrap(), vec![sigmoid(1.0)]);
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
