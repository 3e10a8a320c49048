//! A small exact solver for weighted logistic regression with soft targets and at most three
//! coefficients (Platt scaling, beta calibration): damped Newton with a backtracking line search
//! on the convex negative log-likelihood, run until the Newton step is at rounding level.
//! Generic optimisers stop at a gradient tolerance; this one reaches the optimum itself, so the
//! result is reproducible and agrees with any correct solver to the optimiser's own accuracy.

use super::{sigmoid, softplus};

/// Minimises Σᵢ wᵢ·[softplus(zᵢ) − tᵢ·zᵢ] + (λ/2)·Σ_{j<d−1} θⱼ², with zᵢ = Σⱼ θⱼ·features[j][i]
/// (the last feature is the intercept column and is not penalised). Returns θ.
#[allow(clippy::needless_range_loop)] // index loops read clearest for the small dense algebra
pub(crate) fn fit<const D: usize>(
    features: &[&[f64]; D],
    t: &[f64],
    w: Option<&[f64]>,
    l2: f64,
    init: [f64; D],
) -> [f64; D] {
    let n = t.len();
    let z_of = |theta: &[f64; D], i: usize| (0..D).map(|j| theta[j] * features[j][i]).sum::<f64>();
    let objective = |theta: &[f64; D]| {
        let mut f = 0.0;
        for i in 0..n {
            let z = z_of(theta, i);
            f += w.map_or(1.0, |w| w[i]) * (softplus(z) - t[i] * z);
        }
        f + 0.5 * l2 * theta[..D - 1].iter().map(|v| v * v).sum::<f64>()
    };
    let mut theta = init;
    let mut f = objective(&theta);
    for _ in 0..200 {
        let mut g = [0.0; D];
        let mut h = [[0.0; D]; D];
        for i in 0..n {
            let wi = w.map_or(1.0, |w| w[i]);
            let p = sigmoid(z_of(&theta, i));
            let r = wi * (p - t[i]);
            let c = wi * p * (1.0 - p);
            for a in 0..D {
                let fa = features[a][i];
                g[a] += r * fa;
                for b in 0..=a {
                    h[a][b] += c * fa * features[b][i];
                }
            }
        }
        for a in 0..D {
            for b in 0..a {
                h[b][a] = h[a][b];
            }
        }
        for a in 0..D - 1 {
            g[a] += l2 * theta[a];
            h[a][a] += l2;
        }
        let Some(step) = solve_damped(h, g) else { break };
        // Backtracking: accept the first fraction of the Newton step that does not increase f.
        let mut scale = 1.0;
        let mut accepted = false;
        for _ in 0..60 {
            let mut cand = theta;
            for a in 0..D {
                cand[a] -= scale * step[a];
            }
            let fc = objective(&cand);
            if fc <= f {
                let moved = (0..D)
                    .map(|a| (cand[a] - theta[a]).abs() / (1.0 + theta[a].abs()))
                    .fold(0.0, f64::max);
                theta = cand;
                f = fc;
                accepted = moved > 1e-15;
                break;
            }
            scale *= 0.5;
        }
        let size = (0..D)
            .map(|a| (scale * step[a]).abs() / (1.0 + theta[a].abs()))
            .fold(0.0, f64::max);
        if !accepted || size < 1e-13 {
            break;
        }
    }
    theta
}

/// Solves H·s = g for symmetric positive semi-definite H by Cholesky, adding a little ridge when H
/// is singular (a constant feature, separable data). None when nothing works (non-finite input).
fn solve_damped<const D: usize>(h: [[f64; D]; D], g: [f64; D]) -> Option<[f64; D]> {
    let scale = (0..D).map(|a| h[a][a].abs()).fold(0.0, f64::max).max(f64::MIN_POSITIVE);
    for ridge in [0.0, 1e-12, 1e-9, 1e-6, 1e-3] {
        let mut m = h;
        for (a, row) in m.iter_mut().enumerate() {
            row[a] += ridge * scale;
        }
        if let Some(s) = cholesky_solve(m, g) {
            if s.iter().all(|v| v.is_finite()) {
                return Some(s);
            }
        }
    }
    None
}

fn cholesky_solve<const D: usize>(m: [[f64; D]; D], g: [f64; D]) -> Option<[f64; D]> {
    let mut l = [[0.0; D]; D];
    for i in 0..D {
        for j in 0..=i {
            let s: f64 = m[i][j] - (0..j).map(|k| l[i][k] * l[j][k]).sum::<f64>();
            if i == j {
                if s <= 0.0 || !s.is_finite() {
                    return None;
                }
                l[i][i] = s.sqrt();
            } else {
                l[i][j] = s / l[j][j];
            }
        }
    }
    let mut z = [0.0; D];
    for i in 0..D {
        z[i] = (g[i] - (0..i).map(|k| l[i][k] * z[k]).sum::<f64>()) / l[i][i];
    }
    let mut x = [0.0; D];
    for i in (0..D).rev() {
        x[i] = (z[i] - (i + 1..D).map(|k| l[k][i] * x[k]).sum::<f64>()) / l[i][i];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_the_generating_coefficients() {
        // Soft targets from a known model: the optimum is exactly the generating θ.
        let f: Vec<f64> = (0..200).map(|i| f64::from(i) / 20.0 - 5.0).collect();
        let ones = vec![1.0; f.len()];
        let t: Vec<f64> = f.iter().map(|&v| sigmoid(1.7 * v - 0.4)).collect();
        let th = fit(&[&f, &ones], &t, None, 0.0, [0.0, 0.0]);
        assert!((th[0] - 1.7).abs() < 1e-10 && (th[1] + 0.4).abs() < 1e-10, "{th:?}");
    }

    #[test]
    fn survives_a_constant_feature() {
        let f = vec![2.0; 10];
        let ones = vec![1.0; 10];
        let t: Vec<f64> = (0..10).map(|i| f64::from(u8::from(i < 3))).collect();
        let th = fit(&[&f, &ones], &t, None, 0.0, [0.0, 0.0]);
        let p = sigmoid(th[0] * 2.0 + th[1]);
        assert!((p - 0.3).abs() < 1e-8, "{th:?}");
    }
}
