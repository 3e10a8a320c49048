//! Conformal Language Modeling (Quach et al. 2024; docs/definitions/conformal.md#conformal-language-modeling): the pieces that calibrate a
//! sampling configuration λ = (similarity, quality, stopping thresholds) for a set of sampled
//! generations.
//!
//! - Set scores after each of G generations: `geometric` −Σ ln(max(1 − p, 1e-8)) (cumulative),
//!   `first_k` the count, `max` the cumulative max, `sum` the cumulative sum.
//! - Stop index: the number of generations whose cumulative-max set score is < λ₃, clipped to
//!   [0, G − 1].
//! - Selection: p-value BinomCDF(n·L̂; n, ε) per configuration (k floored as scipy), configurations
//!   on the (loss, cost) Pareto front scanned by increasing loss, keeping the last one with
//!   p ≤ δ before the first failure (fixed-sequence testing).

use crate::error::{check_finite, check_open_unit, check_same_len, CredoError, Result};
use crate::special::binom_cdf;

/// How the per-generation scores accumulate into a set score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetScore {
    Geometric,
    FirstK,
    Max,
    Sum,
}

crate::choices!(SetScore, "kind", {
    "geometric" => SetScore::Geometric,
    "first_k" => SetScore::FirstK,
    "max" => SetScore::Max,
    "sum" => SetScore::Sum,
});

/// n·g without overflow: an [n, g] shape whose cell count does not fit is refused.
fn cells(arg: &str, n: usize, g: usize) -> Result<usize> {
    n.checked_mul(g)
        .ok_or_else(|| CredoError::invalid(arg, format!("shape [{n}, {g}] has more cells than memory can hold")))
}

/// Cumulative set scores [n, g] from per-generation scores `p` [n, g] (row-major).
pub fn set_scores(p: &[f64], n: usize, g: usize, kind: SetScore) -> Result<Vec<f64>> {
    if n == 0 || g == 0 {
        return Err(CredoError::empty("scores", "needs at least one row and one generation"));
    }
    // n·g is the length of the input itself (checked, not assumed): the output is no larger.
    check_same_len("scores", p.len(), cells("scores", n, g)?)?;
    check_finite("scores", p)?;
    let mut out = Vec::with_capacity(p.len());
    for row in p.chunks_exact(g) {
        let mut acc: f64 = match kind {
            SetScore::Max => f64::NEG_INFINITY,
            _ => 0.0,
        };
        for (j, &x) in row.iter().enumerate() {
            acc = match kind {
                SetScore::Geometric => acc - (1.0 - x).max(1e-8).ln(),
                SetScore::FirstK => (j + 1) as f64,
                SetScore::Max => acc.max(x),
                SetScore::Sum => acc + x,
            };
            out.push(acc);
        }
    }
    Ok(out)
}

/// Stop index per row of set scores [n, g]: #{j : cummax_j < λ}, clipped to [0, g − 1].
pub fn stop_index(set_scores: &[f64], n: usize, g: usize, lambda: f64) -> Result<Vec<usize>> {
    if n == 0 || g == 0 {
        return Err(CredoError::empty(
            "set_scores",
            "needs at least one row and one generation",
        ));
    }
    check_same_len("set_scores", set_scores.len(), cells("set_scores", n, g)?)?;
    if lambda.is_nan() {
        return Err(CredoError::non_finite("lam", "must not be NaN"));
    }
    // ±inf are ordered scores; NaN is not (it would drop out of the running max unnoticed).
    if let Some(i) = set_scores.iter().position(|x| x.is_nan()) {
        return Err(CredoError::non_finite(
            "set_scores",
            format!("NaN at row {}, generation {}", i / g, i % g),
        ));
    }
    Ok(set_scores
        .chunks_exact(g)
        .map(|row| {
            let mut m = f64::NEG_INFINITY;
            let count = row
                .iter()
                .filter(|&&x| {
                    m = m.max(x);
                    m < lambda
                })
                .count();
            count.min(g - 1)
        })
        .collect())
}

/// Indices of the configurations on the Pareto front of (loss, cost), both minimised, sorted by
/// increasing loss (ties by cost, then index). A configuration is dropped when another is no
/// worse in both and strictly better in one.
pub fn pareto_front(loss: &[f64], cost: &[f64]) -> Result<Vec<usize>> {
    check_same_len("cost", cost.len(), loss.len())?;
    check_finite("loss", loss)?;
    check_finite("cost", cost)?;
    let mut idx: Vec<usize> = (0..loss.len()).collect();
    idx.sort_by(|&a, &b| {
        loss[a]
            .total_cmp(&loss[b])
            .then(cost[a].total_cmp(&cost[b]))
            .then(a.cmp(&b))
    });
    let mut front = Vec::new();
    let mut best_cost = f64::INFINITY;
    let mut last: Option<usize> = None;
    for &i in &idx {
        // strictly lower cost than every config with lower-or-equal loss seen so far, or an exact
        // duplicate of the previous front point
        let duplicate = last.is_some_and(|j| loss[j] == loss[i] && cost[j] == cost[i]);
        if cost[i] < best_cost || duplicate {
            front.push(i);
            best_cost = best_cost.min(cost[i]);
            last = Some(i);
        }
    }
    Ok(front)
}

/// CLM's p-value of H₀: risk > ε for a configuration with mean loss `loss` over `n` points.
#[must_use]
pub fn p_value(loss: f64, n: u64, epsilon: f64) -> f64 {
    binom_cdf(n as f64 * loss, n, epsilon)
}

/// Fixed-sequence selection over `order`: the last configuration with p ≤ δ before the first
/// failure, or None.
pub fn select(loss: &[f64], order: &[usize], n: u64, epsilon: f64, delta: f64) -> Result<Option<usize>> {
    check_open_unit("epsilon", epsilon)?;
    check_open_unit("delta", delta)?;
    check_finite("loss", loss)?;
    if n == 0 {
        return Err(CredoError::empty("n", "needs at least one calibration example"));
    }
    if let Some(&bad) = order.iter().find(|&&i| i >= loss.len()) {
        return Err(CredoError::invalid("order", format!("index {bad} out of range")));
    }
    Ok(order
        .iter()
        .take_while(|&&i| p_value(loss[i], n, epsilon) <= delta)
        .last()
        .copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_scores_and_stop() {
        let p = [0.5, 0.9, 0.2];
        let geo = set_scores(&p, 1, 3, SetScore::Geometric).unwrap();
        assert!((geo[2] - (-(0.5f64.ln()) - 0.1f64.ln() - 0.8f64.ln())).abs() < 1e-12);
        assert_eq!(set_scores(&p, 1, 3, SetScore::FirstK).unwrap(), vec![1.0, 2.0, 3.0]);
        assert_eq!(set_scores(&p, 1, 3, SetScore::Max).unwrap(), vec![0.5, 0.9, 0.9]);
        assert_eq!(
            set_scores(&[1.0], 1, 1, SetScore::Geometric).unwrap(),
            vec![-(1e-8f64.ln())]
        );
        assert_eq!(stop_index(&[0.5, 0.9, 0.9], 1, 3, 0.7).unwrap(), vec![1]);
        assert_eq!(stop_index(&[0.5, 0.9, 0.9], 1, 3, 2.0).unwrap(), vec![2]);
        assert_eq!(stop_index(&[0.5, 0.9, 0.9], 1, 3, 0.1).unwrap(), vec![0]);
        // ±inf are ordered set scores; NaN is refused, naming its cell.
        assert_eq!(stop_index(&[0.5, f64::INFINITY], 1, 2, 0.7).unwrap(), vec![1]);
        let nan = stop_index(&[0.5, 0.9, 0.1, f64::NAN], 2, 2, 0.7)
            .unwrap_err()
            .to_string();
        assert_eq!(nan, "set_scores: NaN at row 1, generation 1");
        // A shape whose cell count overflows is an error, not a wrapped length.
        assert!(set_scores(&[0.5], usize::MAX, 2, SetScore::Max).is_err());
        assert!(stop_index(&[0.5], 2, usize::MAX, 0.1).is_err());
    }

    #[test]
    fn pareto_and_selection() {
        let loss = [0.3, 0.1, 0.2, 0.1, 0.25];
        let cost = [1.0, 5.0, 2.0, 6.0, 2.5];
        assert_eq!(pareto_front(&loss, &cost).unwrap(), vec![1, 2, 0]);
        // n = 100, epsilon = 0.2: p(0.1) = BinomCDF(10; 100, 0.2) ≈ 0.0057, p(0.2) ≈ 0.56
        let chosen = select(&loss, &[1, 2, 0], 100, 0.2, 0.05).unwrap();
        assert_eq!(chosen, Some(1));
        assert_eq!(select(&loss, &[0, 1], 100, 0.2, 0.05).unwrap(), None);
        assert!(select(&loss, &[7], 100, 0.2, 0.05).is_err());
    }
}
