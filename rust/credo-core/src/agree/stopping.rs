//! Stopping rules for adaptive self-consistency (Aggarwal et al. 2023, docs/definitions/agreement.md#adaptive-stopping): after each
//! sample, decide from the answer counts alone whether more samples could still change the majority.
//! Every rule is closed-form or a fixed quadrature: deterministic, no sampling.

use crate::error::{CredoError, Result};
use crate::special::{beta_inc, ln_gamma};

/// A stopping rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// P(p₁ > p₂) under a uniform Beta posterior on the top two counts: 1 − I₀.₅(a+1, b+1).
    Beta,
    /// P(p₁ > every other pⱼ) under the Dirichlet(counts + 1) posterior over all answers.
    Dirichlet,
    /// Share of the top answer (needs more than one sample).
    Majority,
    /// H₂(counts) / log₂(#distinct), a lone answer getting a phantom count of 1; stop when low.
    Entropy,
}

impl Rule {
    /// The threshold the rule uses when the caller gives none.
    #[must_use]
    pub fn default_threshold(self) -> f64 {
        match self {
            Self::Beta | Self::Dirichlet => 0.95,
            Self::Majority => 0.8,
            Self::Entropy => 0.75,
        }
    }

    /// Whether the statistic must be at least (true) or at most (false) the threshold to stop.
    #[must_use]
    pub fn stops_high(self) -> bool {
        !matches!(self, Self::Entropy)
    }
}
crate::choices!(Rule, "rule", {
    "beta" => Rule::Beta,
    "dirichlet" => Rule::Dirichlet,
    "majority" => Rule::Majority,
    "entropy" => Rule::Entropy,
});

/// Counts sorted in decreasing order, zeros dropped.
fn sorted(counts: &[u64]) -> Vec<u64> {
    let mut c: Vec<u64> = counts.iter().copied().filter(|&x| x > 0).collect();
    c.sort_unstable_by(|a, b| b.cmp(a));
    c
}

fn f(x: u64) -> f64 {
    x as f64
}

/// Beta rule: P(p₁ > p₂) = 1 − I₀.₅(a + 1, b + 1) for top count `a` and runner-up `b`.
#[must_use]
pub fn beta_probability(a: u64, b: u64) -> f64 {
    (1.0 - beta_inc(f(a) + 1.0, f(b) + 1.0, 0.5)).clamp(0.0, 1.0)
}

/// Dirichlet rule: P(p_top > pⱼ for all j) under Dirichlet(counts + 1); with one distinct answer
/// the alternative is a phantom answer with count 0, so two answers give exactly the Beta rule.
/// Computed as ∫ Gamma-pdf(x; a₁+1) Πⱼ P(aⱼ+1, x) dx by composite Simpson on a fixed grid.
#[must_use]
pub fn dirichlet_probability(counts: &[u64]) -> f64 {
    let mut c = sorted(counts);
    if c.is_empty() {
        return 0.0;
    }
    if c.len() == 1 {
        c.push(0);
    }
    let a0 = f(c[0]) + 1.0;
    let hi = a0 + 12.0 * a0.sqrt() + 40.0;
    let lg = ln_gamma(a0);
    let integrand = |x: f64| {
        let pdf = ((a0 - 1.0) * x.ln() - x - lg).exp();
        c[1..].iter().fold(pdf, |acc, &cj| acc * gamma_p(f(cj) + 1.0, x))
    };
    // Composite 8-point Gauss–Legendre on equal panels: exact to ~1e-14 for these smooth integrands.
    const NODES: [f64; 4] = [
        0.183_434_642_495_649_8,
        0.525_532_409_916_329,
        0.796_666_477_413_626_7,
        0.960_289_856_497_536_3,
    ];
    const WEIGHTS: [f64; 4] = [
        0.362_683_783_378_362,
        0.313_706_645_877_887_3,
        0.222_381_034_453_374_5,
        0.101_228_536_290_376_3,
    ];
    let panels = 400u32;
    let h = hi / f64::from(panels);
    let mut s = 0.0;
    for k in 0..panels {
        let mid = (f64::from(k) + 0.5) * h;
        for (x, w) in NODES.iter().zip(WEIGHTS) {
            s += w * (integrand(mid - 0.5 * h * x) + integrand(mid + 0.5 * h * x));
        }
    }
    (s * 0.5 * h).clamp(0.0, 1.0)
}

/// Regularised lower incomplete gamma P(a, x) (series below a + 1, continued fraction above).
fn gamma_p(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    let ln_front = a * x.ln() - x - ln_gamma(a);
    if x < a + 1.0 {
        let (mut ap, mut del) = (a, 1.0 / a);
        let mut sum = del;
        for _ in 0..10_000 {
            ap += 1.0;
            del *= x / ap;
            sum += del;
            if del.abs() < sum.abs() * 1e-16 {
                break;
            }
        }
        (sum * ln_front.exp()).min(1.0)
    } else {
        const TINY: f64 = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / TINY;
        let mut d = 1.0 / b;
        let mut hh = d;
        for i in 1..10_000 {
            let an = -f(i) * (f(i) - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < TINY {
                d = TINY;
            }
            c = b + an / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            let del = d * c;
            hh *= del;
            if (del - 1.0).abs() < 1e-16 {
                break;
            }
        }
        (1.0 - ln_front.exp() * hh).max(0.0)
    }
}

/// Share of the top answer among all counted samples.
#[must_use]
pub fn majority_share(counts: &[u64]) -> f64 {
    let c = sorted(counts);
    let total: u64 = c.iter().sum();
    if total == 0 {
        0.0
    } else {
        f(c[0]) / f(total)
    }
}

/// H₂(counts) / log₂(#distinct), a lone answer getting a phantom count of 1 (so one sample alone
/// never looks certain). 1 for no samples.
#[must_use]
pub fn entropy_ratio(counts: &[u64]) -> f64 {
    let mut c = sorted(counts);
    if c.is_empty() {
        return 1.0;
    }
    if c.len() == 1 {
        c.push(1);
    }
    let total = f(c.iter().sum());
    let h: f64 = c.iter().map(|&x| f(x) / total).map(|p| -p * p.log2()).sum();
    let k = c.len() as f64;
    (h / k.log2()).clamp(0.0, 1.0)
}

/// The rule's statistic for these counts.
#[must_use]
pub fn statistic(rule: Rule, counts: &[u64]) -> f64 {
    match rule {
        Rule::Beta => {
            let c = sorted(counts);
            if c.is_empty() {
                0.0
            } else {
                beta_probability(c[0], c.get(1).copied().unwrap_or(0))
            }
        }
        Rule::Dirichlet => dirichlet_probability(counts),
        Rule::Majority => majority_share(counts),
        Rule::Entropy => entropy_ratio(counts),
    }
}

/// Stop or go on: `(stop, statistic)`. Never stops below `min_samples` counted samples; always
/// stops at `max_samples`. The majority rule needs more than one sample.
pub fn decide(rule: Rule, threshold: f64, counts: &[u64], min_samples: u64, max_samples: u64) -> Result<(bool, f64)> {
    if !threshold.is_finite() || !(0.0..=1.0).contains(&threshold) {
        return Err(CredoError::invalid(
            "threshold",
            format!("must lie in [0, 1], got {threshold}"),
        ));
    }
    if max_samples == 0 || min_samples > max_samples {
        return Err(CredoError::invalid(
            "max_samples",
            format!("must be >= 1 and >= min_samples ({min_samples}), got {max_samples}"),
        ));
    }
    let total: u64 = counts.iter().sum();
    let stat = statistic(rule, counts);
    if total >= max_samples {
        return Ok((true, stat));
    }
    if total < min_samples.max(1) || (rule == Rule::Majority && total < 2) {
        return Ok((false, stat));
    }
    let stop = if rule.stops_high() {
        stat >= threshold
    } else {
        stat <= threshold
    };
    Ok((stop, stat))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beta_reference_values() {
        assert!((beta_probability(4, 0) - 0.968_75).abs() < 1e-12);
        assert!((beta_probability(5, 1) - 0.9375).abs() < 1e-12);
        assert!((beta_probability(3, 2) - 0.656_25).abs() < 1e-12);
        assert!(decide(Rule::Beta, 0.95, &[4], 1, 40).unwrap().0);
        assert!(!decide(Rule::Beta, 0.95, &[5, 1], 1, 40).unwrap().0);
    }

    #[test]
    fn dirichlet_with_two_answers_is_the_beta_rule() {
        for (a, b) in [(4, 0), (5, 1), (3, 2), (10, 3), (1, 0), (20, 19)] {
            let d = dirichlet_probability(&[a, b]);
            assert!((d - beta_probability(a, b)).abs() < 1e-9, "{a} {b}: {d}");
        }
    }

    #[test]
    fn dirichlet_third_answer_lowers_confidence() {
        assert!(dirichlet_probability(&[5, 1, 1]) < dirichlet_probability(&[5, 1]));
        // Symmetric three-way tie: P(first is largest) ≈ 1/3 for the tied top count.
        let p = dirichlet_probability(&[3, 3, 3]);
        assert!((p - 1.0 / 3.0).abs() < 1e-6, "{p}");
    }

    #[test]
    fn majority_and_entropy_rules() {
        assert!(!decide(Rule::Majority, 0.8, &[1], 1, 40).unwrap().0);
        assert!(decide(Rule::Majority, 0.8, &[4, 1], 1, 40).unwrap().0);
        assert!(!decide(Rule::Majority, 0.8, &[3, 1], 1, 40).unwrap().0);
        // Lone answer: phantom count → (1, 1) has ratio 1; (5, 1) has H = 0.650 < 0.75.
        assert!((entropy_ratio(&[1]) - 1.0).abs() < 1e-12);
        assert!(decide(Rule::Entropy, 0.75, &[5], 1, 40).unwrap().0);
        assert!(!decide(Rule::Entropy, 0.75, &[2, 2], 1, 40).unwrap().0);
    }

    #[test]
    fn limits() {
        assert!(decide(Rule::Beta, 0.95, &[2, 2], 1, 4).unwrap().0);
        assert!(!decide(Rule::Beta, 0.95, &[4], 5, 40).unwrap().0);
        assert!(decide(Rule::Beta, 1.5, &[4], 1, 40).is_err());
        assert!(decide(Rule::Beta, 0.9, &[4], 1, 0).is_err());
    }
}
