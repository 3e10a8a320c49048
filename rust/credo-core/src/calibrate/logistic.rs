//! The calibrators' logistic fits (Platt scaling, beta calibration: soft targets, at most three
//! coefficients) on the crate's one Newton solver ([`crate::linear`]), run until the Newton step
//! is at rounding level. Generic optimisers stop at a gradient tolerance; this one reaches the
//! optimum itself, so the result is reproducible and agrees with any correct solver to the
//! optimiser's own accuracy.

use crate::linear::Problem;

/// Minimises Σᵢ wᵢ·[softplus(zᵢ) − tᵢ·zᵢ] + (λ/2)·Σ_{j<d−1} θⱼ², with zᵢ = Σⱼ θⱼ·features[j][i]
/// (the last feature is the intercept column of ones and is not penalised). Returns θ.
pub(crate) fn fit<const D: usize>(
    features: &[&[f64]; D],
    t: &[f64],
    w: Option<&[f64]>,
    l2: f64,
    init: [f64; D],
) -> [f64; D] {
    let (n, d) = (t.len(), D - 1);
    debug_assert!(features[d].iter().all(|&v| v == 1.0));
    // The solver reads rows: interleave the (at most two) feature columns.
    let z: Vec<f64> = (0..n).flat_map(|i| features[..d].iter().map(move |f| f[i])).collect();
    let problem = Problem {
        z: &z,
        n,
        d,
        y: t,
        w,
        inv_c: l2,
        fit_intercept: true,
    };
    let theta = problem.minimise(init.to_vec(), MAX_ITER, TOL).theta;
    std::array::from_fn(|j| theta[j])
}

/// Newton steps are quadratic near the optimum: a handful reach rounding level; the cap only
/// guards against a pathological line search.
const MAX_ITER: usize = 200;
/// A step below this, relative to 1 + |θ|, is rounding: the optimum itself, so the result is
/// reproducible and agrees with any correct solver to that solver's own accuracy.
const TOL: f64 = 1e-13;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::special::sigmoid;

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
