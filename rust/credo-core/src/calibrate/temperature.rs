//! Temperature scaling: softmax(β·z) with one inverse temperature β = 1/T fitted by minimising
//! the (weighted) multinomial negative log-likelihood, as scikit-learn's temperature calibration
//! (docs/definitions/calibrators.md#temperature-scaling): log β is confined to [−10, 10]; probabilities are taken as
//! z = ln(p + 1e-12); a binary score f is the two-class logit row (−f, f), so p = σ(2βf).
//!
//! The NLL is convex in β, so its derivative changes sign once. The solver is Newton's method
//! on t = log β with the exact first and second derivatives from one fused pass over the data
//! (log-sum-exp shifted by each row's maximum, computed once), safeguarded by a sign bracket:
//! a step that leaves the bracket is replaced by bisection. Rows are processed in fixed chunks
//! whose partial sums are added in order, so β does not depend on the thread count. All
//! arithmetic is in f64 whatever the input dtype (netcal returns T = 1 for float32 input).

use super::{check_weights, sigmoid, CHUNK};
use crate::error::{check_finite, check_same_len, CredoError, Result};

/// Added to probabilities before the log (scikit-learn's `_convert_to_logits`).
pub const PROB_EPS: f64 = 1e-12;
/// Bounds of log β (scikit-learn's `minimize_scalar(bounds=(-10, 10))`).
pub const LOG_BETA_BOUND: f64 = 10.0;

/// Input element types accepted for logits and probabilities.
pub trait Real: Copy + Send + Sync {
    fn f64(self) -> f64;
}
impl Real for f32 {
    #[inline]
    fn f64(self) -> f64 {
        f64::from(self)
    }
}
impl Real for f64 {
    #[inline]
    fn f64(self) -> f64 {
        self
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TemperatureModel {
    /// The inverse temperature β = 1/T.
    pub beta: f64,
}

/// Per-row data computed once: the row maximum and the label's logit minus it.
struct Prepared {
    max: Vec<f64>,
    dy: Vec<f64>,
}

fn prepare<T: Real>(z: &[T], n: usize, k: usize, labels: &[i64]) -> Result<Prepared> {
    let mut max = vec![0.0; n];
    let mut dy = vec![0.0; n];
    for i in 0..n {
        let row = &z[i * k..(i + 1) * k];
        let mut m = f64::NEG_INFINITY;
        for (j, v) in row.iter().enumerate() {
            let v = v.f64();
            if v.is_nan() || v == f64::INFINITY {
                return Err(CredoError::non_finite(
                    "X",
                    format!("non-finite logit {v} at row {i}, column {j}"),
                ));
            }
            m = m.max(v);
        }
        if m == f64::NEG_INFINITY {
            return Err(CredoError::non_finite("X", format!("row {i} has no finite logit")));
        }
        let label = usize::try_from(labels[i]).unwrap_or(usize::MAX);
        let zy = row[label].f64();
        if zy == f64::NEG_INFINITY {
            return Err(CredoError::invalid(
                "y",
                format!("the true class of row {i} has logit -inf (infinite loss)"),
            ));
        }
        max[i] = m;
        dy[i] = zy - m;
    }
    Ok(Prepared { max, dy })
}

/// (loss, dL/dβ, d²L/dβ²) of Σ wᵢ·[logsumexp(β·zᵢ) − β·z_{i,yᵢ}].
fn evaluate<T: Real>(z: &[T], k: usize, prep: &Prepared, w: Option<&[f64]>, beta: f64) -> (f64, f64, f64) {
    let rows = (CHUNK / k).max(1);
    let n = prep.max.len();
    let chunks = n.div_ceil(rows);
    let parts: Vec<(f64, f64, f64)> = crate::parallel::map_range(chunks, 1, |c| {
        let (mut l, mut g, mut h) = (0.0, 0.0, 0.0);
        for i in c * rows..((c + 1) * rows).min(n) {
            let m = prep.max[i];
            let (mut s0, mut s1, mut s2) = (0.0, 0.0, 0.0);
            for v in &z[i * k..(i + 1) * k] {
                let d = v.f64() - m;
                if d > f64::NEG_INFINITY {
                    let e = (beta * d).exp();
                    s0 += e;
                    s1 += e * d;
                    s2 += e * d * d;
                }
            }
            let mean = s1 / s0;
            let var = (s2 / s0 - mean * mean).max(0.0);
            let wi = w.map_or(1.0, |w| w[i]);
            l += wi * (s0.ln() - beta * prep.dy[i]);
            g += wi * (mean - prep.dy[i]);
            h += wi * var;
        }
        (l, g, h)
    });
    parts
        .iter()
        .fold((0.0, 0.0, 0.0), |(a, b, c), p| (a + p.0, b + p.1, c + p.2))
}

fn check_common(len: usize, n: usize, k: usize, labels: &[i64], w: Option<&[f64]>) -> Result<()> {
    if n == 0 {
        return Err(CredoError::empty("X", "is empty"));
    }
    if k < 2 {
        return Err(CredoError::shape(
            "X",
            format!("needs at least 2 classes (columns), got {k}"),
        ));
    }
    check_same_len("X", len, n * k)?;
    check_same_len("y", labels.len(), n)?;
    if let Some(i) = labels
        .iter()
        .position(|&v| v < 0 || usize::try_from(v).map_or(true, |v| v >= k))
    {
        return Err(CredoError::invalid(
            "y",
            format!("labels must be in [0, {k}), got {} at index {i}", labels[i]),
        ));
    }
    check_weights(w, n)
}

/// Fits β on logits `z` (row-major `[n, k]`, f32 or f64; −inf entries are masked classes).
pub fn fit_logits<T: Real>(z: &[T], n: usize, k: usize, labels: &[i64], w: Option<&[f64]>) -> Result<TemperatureModel> {
    check_common(z.len(), n, k, labels, w)?;
    let prep = prepare(z, n, k, labels)?;
    let (mut lo, mut hi) = (-LOG_BETA_BOUND, LOG_BETA_BOUND);
    let mut t = 0.0f64;
    for _ in 0..200 {
        let beta = t.exp();
        let (_, g, h) = evaluate(z, k, &prep, w, beta);
        let gt = beta * g;
        let ht = beta * g + beta * beta * h;
        if gt > 0.0 {
            hi = t;
        } else if gt < 0.0 {
            lo = t;
        } else {
            break;
        }
        let newton = t - gt / ht;
        let is_newton = ht > 0.0 && newton > lo && newton < hi;
        let next = if is_newton { newton } else { 0.5 * (lo + hi) };
        // Newton converges quadratically: after a step of size δ the error is O(δ²), so a step
        // below 1e-8 leaves t (and β, relatively) exact to ~1e-16 and needs no further pass.
        let done = (is_newton && (next - t).abs() <= 1e-8 * (1.0 + t.abs())) || hi - lo <= 1e-13;
        t = next;
        if done {
            break;
        }
    }
    Ok(TemperatureModel { beta: t.exp() })
}

/// Fits β on probabilities `[n, k]`, taken as logits ln(p + 1e-12).
pub fn fit_probs<T: Real>(p: &[T], n: usize, k: usize, labels: &[i64], w: Option<&[f64]>) -> Result<TemperatureModel> {
    check_common(p.len(), n, k, labels, w)?;
    let z = probs_to_logits(p)?;
    fit_logits(&z, n, k, labels, w)
}

/// Fits β on binary scores (decision values) f with labels in {0, 1}: logits rows (−f, f).
pub fn fit_binary(f: &[f64], labels: &[i64], w: Option<&[f64]>) -> Result<TemperatureModel> {
    check_finite("X", f)?;
    let z: Vec<f64> = f.iter().flat_map(|&v| [-v, v]).collect();
    fit_logits(&z, f.len(), 2, labels, w)
}

fn probs_to_logits<T: Real>(p: &[T]) -> Result<Vec<f64>> {
    let mut z = vec![0.0; p.len()];
    for (i, (o, v)) in z.iter_mut().zip(p).enumerate() {
        let v = v.f64();
        if !(0.0..=1.0).contains(&v) {
            return Err(CredoError::invalid(
                "X",
                format!("probabilities must lie in [0, 1], got {v} at index {i}"),
            ));
        }
        *o = (v + PROB_EPS).ln();
    }
    Ok(z)
}

/// Makes sure `np.argmax` of a calibrated row is the argmax of its input row: β > 0 keeps the
/// order of the logits, but two close values can round to the same probability, and a tie would
/// move `argmax` to an earlier column. Nudging the top entry up by one ulp settles it.
#[inline]
fn keep_argmax(out: &mut [f64], top: usize) {
    if out[..top].iter().any(|&v| v >= out[top]) {
        let v = out[..top].iter().fold(out[top], |m, &v| m.max(v));
        out[top] = f64::from_bits(v.to_bits() + 1);
    }
}

fn first_argmax(row: impl Iterator<Item = f64>) -> usize {
    let mut best = (0, f64::NEG_INFINITY);
    for (j, v) in row.enumerate() {
        if v > best.1 {
            best = (j, v);
        }
    }
    best.0
}

impl TemperatureModel {
    pub fn new(beta: f64) -> Result<Self> {
        if !(beta.is_finite() && beta > 0.0) {
            return Err(CredoError::invalid(
                "beta",
                format!("the inverse temperature must be positive and finite, got {beta}"),
            ));
        }
        Ok(Self { beta })
    }

    #[must_use]
    pub fn temperature(&self) -> f64 {
        1.0 / self.beta
    }

    fn softmax_rows(
        &self,
        n: usize,
        k: usize,
        row: impl Fn(usize, &mut [f64]) -> Result<usize> + Sync,
    ) -> Result<Vec<f64>> {
        let mut out = vec![0.0; n * k];
        let rows = (CHUNK / k).max(1);
        // Every block's result is kept so the error reported is the first row's, whatever the
        // thread count.
        let blocks = crate::parallel::map_chunks_mut(&mut out, rows * k, |c, block| {
            for (r, o) in block.chunks_mut(k).enumerate() {
                let top = row(c * rows + r, o)?;
                let m = o[top];
                let mut s = 0.0;
                for v in o.iter_mut() {
                    *v = (self.beta * (*v - m)).exp();
                    s += *v;
                }
                o.iter_mut().for_each(|v| *v /= s);
                keep_argmax(o, top);
            }
            Ok(())
        });
        blocks.into_iter().collect::<Result<()>>()?;
        Ok(out)
    }

    /// softmax(β·z) for logits `[n, k]`.
    pub fn predict_logits<T: Real>(&self, z: &[T], n: usize, k: usize) -> Result<Vec<f64>> {
        if k == 0 {
            return Err(CredoError::shape("X", "has no columns"));
        }
        check_same_len("X", z.len(), n * k)?;
        self.softmax_rows(n, k, |i, o| {
            for (j, (o, v)) in o.iter_mut().zip(&z[i * k..(i + 1) * k]).enumerate() {
                *o = v.f64();
                if o.is_nan() || *o == f64::INFINITY {
                    return Err(CredoError::non_finite(
                        "X",
                        format!("non-finite logit {o} at row {i}, column {j}"),
                    ));
                }
            }
            let top = first_argmax(o.iter().copied());
            if o[top] == f64::NEG_INFINITY {
                return Err(CredoError::non_finite("X", format!("row {i} has no finite logit")));
            }
            Ok(top)
        })
    }

    /// softmax(β·ln(p + 1e-12)) for probabilities `[n, k]`.
    pub fn predict_probs<T: Real>(&self, p: &[T], n: usize, k: usize) -> Result<Vec<f64>> {
        if k == 0 {
            return Err(CredoError::shape("X", "has no columns"));
        }
        check_same_len("X", p.len(), n * k)?;
        self.softmax_rows(n, k, |i, o| {
            let row = &p[i * k..(i + 1) * k];
            for (j, (o, v)) in o.iter_mut().zip(row).enumerate() {
                let v = v.f64();
                if !(0.0..=1.0).contains(&v) {
                    return Err(CredoError::invalid(
                        "X",
                        format!("probabilities must lie in [0, 1], got {v} at row {i}, column {j}"),
                    ));
                }
                *o = (v + PROB_EPS).ln();
            }
            Ok(first_argmax(row.iter().map(|v| v.f64())))
        })
    }

    /// P(y = 1) = σ(2β·f) for one binary score.
    pub fn predict_one_binary(&self, f: f64) -> Result<f64> {
        if f.is_nan() {
            return Err(CredoError::non_finite("X", "NaN input"));
        }
        Ok(sigmoid(2.0 * self.beta * f))
    }

    pub fn predict_binary(&self, f: &[f64]) -> Result<Vec<f64>> {
        if let Some(i) = f.iter().position(|v| v.is_nan()) {
            return Err(CredoError::non_finite("X", format!("NaN at index {i}")));
        }
        let mut out = vec![0.0; f.len()];
        crate::parallel::for_each_chunk_mut(&mut out, CHUNK, |c, o| {
            let f = &f[c * CHUNK..c * CHUNK + o.len()];
            for (o, &v) in o.iter_mut().zip(f) {
                *o = sigmoid(2.0 * self.beta * v);
            }
        });
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, k: usize, t_true: f64, seed: u64) -> (Vec<f64>, Vec<i64>) {
        let mut s = seed;
        let mut u = || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        let mut z = Vec::with_capacity(n * k);
        let mut y = Vec::with_capacity(n);
        for _ in 0..n {
            let row: Vec<f64> = (0..k)
                .map(|_| 3.0 * (-2.0 * u().ln()).sqrt() * (std::f64::consts::TAU * u()).cos())
                .collect();
            let m = row.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
            let e: Vec<f64> = row.iter().map(|v| ((v - m) / t_true).exp()).collect();
            let tot: f64 = e.iter().sum();
            let mut r = u() * tot;
            let mut lab = k - 1;
            for (j, v) in e.iter().enumerate() {
                if r < *v {
                    lab = j;
                    break;
                }
                r -= v;
            }
            y.push(lab as i64);
            z.extend(row);
        }
        (z, y)
    }

    #[test]
    fn recovers_the_generating_temperature() {
        // docs/definitions/calibrators.md#temperature-scaling recipe: logits ~ N(0, 9), K = 10, labels sampled at T = 2 → β ≈ 0.5.
        let (z, y) = data(20_000, 10, 2.0, 1);
        let m = fit_logits(&z, 20_000, 10, &y, None).unwrap();
        assert!((m.beta - 0.5).abs() < 0.03, "{m:?}");
        // The derivative vanishes at the optimum.
        let prep = prepare(&z, 20_000, 10, &y).unwrap();
        let (_, g, h) = evaluate(&z, 10, &prep, None, m.beta);
        assert!(g.abs() / h < 1e-10);
        // float32 input gives the optimum of the float32 data (not T = 1).
        let z32: Vec<f32> = z.iter().map(|&v| v as f32).collect();
        let m32 = fit_logits(&z32, 20_000, 10, &y, None).unwrap();
        assert!((m32.beta - m.beta).abs() < 1e-5);
        // Thread count does not change a bit.
        let one = crate::parallel::with_threads(Some(1), || fit_logits(&z, 20_000, 10, &y, None))
            .unwrap()
            .unwrap();
        let two = crate::parallel::with_threads(Some(2), || fit_logits(&z, 20_000, 10, &y, None))
            .unwrap()
            .unwrap();
        assert_eq!(one.beta.to_bits(), two.beta.to_bits());
    }

    #[test]
    fn predictions_are_distributions_with_the_same_argmax() {
        let (z, _) = data(500, 7, 1.0, 2);
        let m = TemperatureModel::new(0.37).unwrap();
        let p = m.predict_logits(&z, 500, 7).unwrap();
        for (zr, pr) in z.chunks(7).zip(p.chunks(7)) {
            assert!((pr.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            assert_eq!(first_argmax(zr.iter().copied()), first_argmax(pr.iter().copied()));
        }
        // Two logits one ulp apart stay ordered even at a tiny β.
        let tiny = TemperatureModel::new((-10f64).exp()).unwrap();
        let row = [1.0, f64::from_bits(1f64.to_bits() + 1)];
        let p = tiny.predict_logits(&row, 1, 2).unwrap();
        assert_eq!(first_argmax(p.iter().copied()), 1);
    }

    #[test]
    fn masked_classes_and_bad_input() {
        let z = [0.0, f64::NEG_INFINITY, 1.0, 2.0, 0.5, f64::NEG_INFINITY];
        let m = fit_logits(&z, 2, 3, &[0, 1], None).unwrap();
        assert!(m.beta > 0.0);
        let p = m.predict_logits(&z, 2, 3).unwrap();
        assert_eq!(p[1], 0.0);
        assert!(fit_logits(&z, 2, 3, &[1, 1], None).is_err(), "true class at -inf");
        assert!(fit_logits(&[0.0, f64::NAN], 1, 2, &[0], None).is_err());
        assert!(fit_logits(&[0.0, 1.0], 1, 2, &[2], None).is_err());
        assert!(fit_logits(&[0.0, 1.0], 1, 1, &[0], None).is_err());
        assert!(fit_probs(&[0.5, 1.5], 1, 2, &[0], None).is_err());
        assert!(TemperatureModel::new(0.0).is_err());
    }

    #[test]
    fn binary_scores_are_two_class_logits() {
        let f = [-2.0, -1.0, -0.5, 0.3, 0.8, 1.5, 2.5, -0.2];
        let y = [0, 0, 1, 0, 1, 1, 1, 0];
        let m = fit_binary(&f, &y, None).unwrap();
        let z: Vec<f64> = f.iter().flat_map(|&v| [-v, v]).collect();
        let m2 = fit_logits(&z, 8, 2, &y, None).unwrap();
        assert_eq!(m.beta, m2.beta);
        let p = m.predict_binary(&f).unwrap();
        let q = m.predict_logits(&z, 8, 2).unwrap();
        for i in 0..8 {
            assert!((p[i] - q[2 * i + 1]).abs() < 1e-14);
        }
    }
}
