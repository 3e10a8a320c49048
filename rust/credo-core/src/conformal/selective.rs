//! Thresholds for selective answering: answer when confidence ≥ λ̂, abstain otherwise.
//!
//! - `Ltt` (Learn-then-Test, Angelopoulos et al. 2021): one null H_λ: P(error | conf ≥ λ) > α per
//!   distinct calibration confidence, a p-value per hypothesis (Hoeffding–Bentkus or exact
//!   binomial, conditional on the number answered), and FWER control by fixed-sequence testing
//!   from the highest threshold down (stop at the first non-rejection) or Bonferroni. Hypotheses
//!   that no data could reject (too few points answered: (1−α)^m > δ) are left out, which is
//!   what lets the sequence start where the data can speak.
//! - `Sgr` (Geifman & El-Yaniv 2017): binary search with the binomial bound at δ/⌈log₂ m⌉.
//! - `Crc` (conformal risk control): the joint risk P(answer ∧ error) ≤ α in expectation,
//!   λ̂ = the smallest λ with (E(λ) + 1)/(n + 1) ≤ α.
//!
//! Every method answers points with confidence ≥ `threshold`; when nothing qualifies the
//! threshold is +∞ and `feasible` is false (abstain on everything).

use super::bounds::{check_levels, crc_r_hat_plus, sgr_bound, PValueKind};
use crate::error::{check_finite, check_open_unit, check_same_len, CredoError, Result};

/// Family-wise error control across thresholds (LTT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fwer {
    FixedSequence,
    Bonferroni,
}

crate::choices!(Fwer, "fwer", {
    "fixed_sequence" => Fwer::FixedSequence,
    "bonferroni" => Fwer::Bonferroni,
});

/// The selective-answering method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `grid`: test thresholds at `grid` label-free answered counts ⌈i·n/grid⌉ (i = 1..grid),
    /// or every distinct confidence when 0. A coarse grid keeps a fixed sequence from stopping
    /// on one unlucky error among the first few answered points.
    Ltt {
        p_value: PValueKind,
        fwer: Fwer,
        grid: usize,
    },
    Sgr,
    Crc,
}

/// A method by name, before LTT's settings are attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MethodName {
    Ltt,
    Sgr,
    Crc,
}
crate::choices!(MethodName, "method", {
    "ltt" => MethodName::Ltt,
    "sgr" => MethodName::Sgr,
    "crc" => MethodName::Crc,
});

impl Method {
    /// The method `name`; LTT's p-value, family-wise rule and grid (unused by SGR and CRC).
    #[must_use]
    pub fn new(name: MethodName, p_value: PValueKind, fwer: Fwer, grid: usize) -> Self {
        match name {
            MethodName::Ltt => Self::Ltt { p_value, fwer, grid },
            MethodName::Sgr => Self::Sgr,
            MethodName::Crc => Self::Crc,
        }
    }
}

/// A fitted threshold and what it buys on the calibration data.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// Answer iff confidence ≥ threshold (+∞ when infeasible).
    pub threshold: f64,
    pub feasible: bool,
    /// Certified bound: LTT the (1−δ) upper bound on the selective risk at the threshold; SGR its
    /// B*; CRC the adjusted joint risk R̂⁺. 1.0 when infeasible.
    pub risk_bound: f64,
    /// Fraction of calibration points answered.
    pub coverage: f64,
    /// Selective error rate among answered calibration points (0 when none).
    pub empirical_risk: f64,
    pub n_answered: usize,
    pub n_errors: usize,
}

/// Distinct confidences in decreasing order with the cumulative answered and error counts.
struct Levels {
    value: Vec<f64>,
    answered: Vec<u64>,
    errors: Vec<u64>,
}

fn levels(confidence: &[f64], correct: &[bool]) -> Levels {
    let mut idx: Vec<usize> = (0..confidence.len()).collect();
    idx.sort_unstable_by(|&a, &b| confidence[b].total_cmp(&confidence[a]));
    let mut out = Levels {
        value: Vec::new(),
        answered: Vec::new(),
        errors: Vec::new(),
    };
    let (mut m, mut e) = (0u64, 0u64);
    for (pos, &i) in idx.iter().enumerate() {
        m += 1;
        e += u64::from(!correct[i]);
        let last_of_value = idx.get(pos + 1).is_none_or(|&j| confidence[j] != confidence[i]);
        if last_of_value {
            out.value.push(confidence[i]);
            out.answered.push(m);
            out.errors.push(e);
        }
    }
    out
}

fn selection(lv: &Levels, j: Option<usize>, n: usize, bound: impl Fn(usize) -> f64) -> Selection {
    match j {
        None => Selection {
            threshold: f64::INFINITY,
            feasible: false,
            risk_bound: 1.0,
            coverage: 0.0,
            empirical_risk: 0.0,
            n_answered: 0,
            n_errors: 0,
        },
        Some(j) => Selection {
            threshold: lv.value[j],
            feasible: true,
            risk_bound: bound(j),
            coverage: lv.answered[j] as f64 / n as f64,
            empirical_risk: lv.errors[j] as f64 / lv.answered[j] as f64,
            n_answered: lv.answered[j] as usize,
            n_errors: lv.errors[j] as usize,
        },
    }
}

/// Fits the threshold for `target` risk at failure probability `delta` (unused by CRC).
pub fn fit(confidence: &[f64], correct: &[bool], target: f64, delta: f64, method: Method) -> Result<Selection> {
    if confidence.is_empty() {
        return Err(CredoError::empty("confidence", "needs at least one calibration point"));
    }
    check_same_len("correct", correct.len(), confidence.len())?;
    check_finite("confidence", confidence)?;
    if method == Method::Crc {
        check_open_unit("target_risk", target)?;
    } else {
        check_levels(target, delta)?;
    }
    let n = confidence.len();
    let lv = levels(confidence, correct);
    Ok(match method {
        Method::Ltt { p_value, fwer, grid } => {
            // A hypothesis answered by m points can be rejected only if (1−α)^m ≤ δ: the others
            // are left out (no data could reject them), in decreasing-threshold order.
            let testable = |j: &usize| p_value.p_value(0, lv.answered[*j], target) <= delta;
            let hyps: Vec<usize> = candidate_levels(&lv, n, grid).into_iter().filter(testable).collect();
            let p = |j: usize| p_value.p_value(lv.errors[j], lv.answered[j], target);
            let chosen = match fwer {
                Fwer::FixedSequence => hyps.iter().take_while(|&&j| p(j) <= delta).last().copied(),
                Fwer::Bonferroni => {
                    let level = delta / hyps.len().max(1) as f64;
                    hyps.iter().rev().find(|&&j| p(j) <= level).copied()
                }
            };
            selection(&lv, chosen, n, |j| {
                p_value.upper_bound(lv.errors[j], lv.answered[j], delta)
            })
        }
        Method::Sgr => sgr(&lv, n, target, delta),
        Method::Crc => {
            let nn = n as u64;
            let r_plus = |j: usize| crc_r_hat_plus(lv.errors[j] as f64 / n as f64, nn, 1.0);
            // R̂⁺ is non-decreasing as the threshold goes down: the passing levels are a prefix.
            let chosen = lv
                .value
                .iter()
                .enumerate()
                .take_while(|&(j, _)| r_plus(j) <= target)
                .last()
                .map(|(j, _)| j);
            selection(&lv, chosen, n, r_plus)
        }
    })
}

/// Level indices (decreasing threshold) tested by LTT: every level, or for a grid the first
/// level answering at least ⌈i·n/grid⌉ points, deduplicated.
fn candidate_levels(lv: &Levels, n: usize, grid: usize) -> Vec<usize> {
    // A grid at least as fine as the sample reaches every answered count 1..=n, so every level:
    // the same as no grid, and the work (and allocation) stays bounded by n, not by `grid`.
    if grid == 0 || grid >= n {
        return (0..lv.value.len()).collect();
    }
    let mut out: Vec<usize> = Vec::with_capacity(grid);
    for i in 1..=grid {
        // ≤ n
        let m = (i as u128 * n as u128).div_ceil(grid as u128) as u64;
        let j = lv.answered.partition_point(|&a| a < m);
        if j < lv.value.len() && out.last() != Some(&j) {
            out.push(j);
        }
    }
    out
}

/// SGR (d.5) over calibration points sorted by increasing confidence; keeps the lowest
/// threshold visited whose bound is ≤ target. Each visited threshold answers every point with
/// confidence ≥ it (ties included, so the bound matches what `accept` does).
fn sgr(lv: &Levels, n: usize, target: f64, delta: f64) -> Selection {
    // The ascending order statistics map onto the descending levels: the i-th smallest
    // confidence (0-based) belongs to the level with answered ≥ n − i.
    let level_of = |i: usize| lv.answered.partition_point(|&m| (m as usize) < n - i);
    let z = (n as f64).log2().ceil().max(1.0);
    let delta_hat = delta / z;
    let (mut a, mut b) = (0usize, n - 1);
    let mut best: Option<(usize, f64)> = None;
    for _ in 0..=(z as usize) {
        let mid = (a + b).div_ceil(2);
        let j = level_of(mid);
        let bound = sgr_bound(lv.errors[j], lv.answered[j], delta_hat);
        if bound > target {
            a = mid;
        } else {
            b = mid;
            if best.is_none_or(|(bj, _)| j > bj) {
                best = Some((j, bound));
            }
        }
    }
    match best {
        None => selection(lv, None, n, |_| 1.0),
        Some((j, bound)) => selection(lv, Some(j), n, |_| bound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    fn synthetic(n: usize, seed: u64) -> (Vec<f64>, Vec<bool>) {
        let mut g = SplitMix64::new(seed);
        let conf: Vec<f64> = (0..n).map(|_| g.next_f64()).collect();
        // P(correct | c) = c: risk of answering conf ≥ λ is (1 − λ)/2
        let correct = conf.iter().map(|&c| g.next_f64() < c).collect();
        (conf, correct)
    }

    #[test]
    fn levels_count_ties() {
        let lv = levels(&[0.9, 0.5, 0.9, 0.1], &[true, false, false, true]);
        assert_eq!(lv.value, vec![0.9, 0.5, 0.1]);
        assert_eq!(lv.answered, vec![2, 3, 4]);
        assert_eq!(lv.errors, vec![1, 2, 2]);
        assert_eq!(candidate_levels(&lv, 4, 2), vec![0, 2]);
        assert_eq!(candidate_levels(&lv, 4, 4), vec![0, 1, 2]);
        // A grid finer than the sample tests every level, in O(n): no allocation of `grid`.
        assert_eq!(candidate_levels(&lv, 4, 3), vec![0, 1, 2]);
        assert_eq!(candidate_levels(&lv, 4, usize::MAX), candidate_levels(&lv, 4, 0));
    }

    #[test]
    fn a_huge_grid_is_every_level() {
        let (conf, correct) = synthetic(2000, 3);
        let ltt = |grid| Method::Ltt {
            p_value: PValueKind::Binomial,
            fwer: Fwer::FixedSequence,
            grid,
        };
        let every = fit(&conf, &correct, 0.1, 0.1, ltt(0)).unwrap();
        for grid in [2000, 2001, 1 << 40, usize::MAX] {
            assert_eq!(fit(&conf, &correct, 0.1, 0.1, ltt(grid)).unwrap(), every, "grid {grid}");
        }
    }

    #[test]
    fn methods_find_sensible_thresholds() {
        let (conf, correct) = synthetic(5000, 1);
        let ltt = Method::Ltt {
            p_value: PValueKind::Binomial,
            fwer: Fwer::FixedSequence,
            grid: 50,
        };
        for method in [ltt, Method::Sgr, Method::Crc] {
            let s = fit(&conf, &correct, 0.1, 0.1, method).unwrap();
            assert!(s.feasible, "{method:?} {s:?}");
            // true selective risk (1 − λ)/2 ≤ 0.1 needs λ ≥ 0.8; CRC's joint risk (1−λ)²/2 ≤ 0.1
            if method == Method::Crc {
                assert!(s.threshold > 0.5 && s.threshold < 0.62, "{s:?}");
            } else {
                assert!(s.threshold > 0.8 && s.threshold < 0.9, "{method:?} {s:?}");
                assert!(s.risk_bound <= 0.1 + 1e-9);
            }
        }
    }

    #[test]
    fn infeasible_abstains() {
        let conf = vec![0.9; 50];
        let correct = vec![false; 50];
        for method in [
            Method::Ltt {
                p_value: PValueKind::HoeffdingBentkus,
                fwer: Fwer::Bonferroni,
                grid: 0,
            },
            Method::Sgr,
            Method::Crc,
        ] {
            let s = fit(&conf, &correct, 0.1, 0.1, method).unwrap();
            assert!(!s.feasible && s.threshold.is_infinite() && s.coverage == 0.0);
        }
    }

    #[test]
    fn bad_input() {
        let m = Method::Sgr;
        assert!(fit(&[], &[], 0.1, 0.1, m).is_err());
        assert!(fit(&[0.5], &[true, false], 0.1, 0.1, m).is_err());
        assert!(fit(&[f64::NAN], &[true], 0.1, 0.1, m).is_err());
        assert!(fit(&[0.5], &[true], 0.0, 0.1, m).is_err());
        assert!(fit(&[0.5], &[true], 0.1, 1.0, m).is_err());
    }
}
