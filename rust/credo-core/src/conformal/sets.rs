//! Class nonconformity scores and split-conformal prediction sets.
//!
//! - LAC (Sadinle et al. 2019): s(x, y) = 1 − p̂_y(x).
//! - APS (Romano et al. 2020): the probability mass of the classes ranked above y (ties broken by
//!   class index) plus u·p̂_y, with u ~ U(0, 1) when randomised (MAPIE's calibration score, up to
//!   u ↔ 1 − u) and u = 1 otherwise.
//! - RAPS (Angelopoulos et al. 2021): APS + λ·max(0, o(x, y) − k_reg), o the 1-based rank.
//!
//! For APS and RAPS the set of x takes classes in decreasing probability while the cumulative
//! score c_r (mass of ranks 0..=r plus the RAPS penalty of rank r) stays within q̂, with MAPIE's
//! three rules for the class whose cumulative score crosses q̂ ([`LastLabel`]). Thresholds are
//! compared exactly (as TorchCP; MAPIE adds a 1e-8 slack).

use super::rng::uniforms;
use crate::error::{check_same_len, CredoError, Result};

/// Which nonconformity score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Score {
    Lac,
    Aps {
        randomized: bool,
    },
    Raps {
        randomized: bool,
        lambda: f64,
        k_reg: usize,
    },
}

impl Score {
    /// Builds a score from its name and RAPS parameters.
    pub fn parse(name: &str, randomized: bool, lambda: f64, k_reg: usize) -> Result<Self> {
        match name {
            "lac" => Ok(Self::Lac),
            "aps" => Ok(Self::Aps { randomized }),
            "raps" => {
                if !(lambda.is_finite() && lambda >= 0.0) {
                    return Err(CredoError::invalid(
                        "raps_lambda",
                        format!("must be finite and >= 0, got {lambda}"),
                    ));
                }
                Ok(Self::Raps {
                    randomized,
                    lambda,
                    k_reg,
                })
            }
            _ => Err(CredoError::invalid(
                "score",
                format!("must be 'lac', 'aps' or 'raps', got {name:?}"),
            )),
        }
    }

    fn randomized(self) -> bool {
        matches!(
            self,
            Self::Aps { randomized: true } | Self::Raps { randomized: true, .. }
        )
    }
}

/// What an APS / RAPS set does with the class whose cumulative score first exceeds q̂
/// (MAPIE's `include_last_label`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LastLabel {
    /// Include it (MAPIE's `True`): the set is every class up to and including the first whose
    /// cumulative score reaches q̂; never empty.
    Include,
    /// Leave it out (MAPIE's `False`): every class whose cumulative score is within q̂, and the
    /// top class always; never empty.
    Exclude,
    /// Include it with the probability that makes coverage exact (Romano et al.'s randomised
    /// set: class y is in iff mass above y + u·p̂_y + penalty ≤ q̂); may be empty.
    Randomized,
}

impl LastLabel {
    /// From MAPIE's spelling: "true", "false" or "randomized".
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "true" => Ok(Self::Include),
            "false" => Ok(Self::Exclude),
            "randomized" => Ok(Self::Randomized),
            _ => Err(CredoError::invalid(
                "include_last_label",
                format!("must be True, False or 'randomized', got {name:?}"),
            )),
        }
    }
}

/// The RAPS penalty λ·max(0, rank − k_reg) of a 1-based rank (0 for APS and LAC).
fn penalty(score: Score, rank: usize) -> f64 {
    match score {
        Score::Raps { lambda, k_reg, .. } => lambda * rank.saturating_sub(k_reg) as f64,
        _ => 0.0,
    }
}

/// One row of an APS / RAPS set: `order` holds the classes by decreasing probability (ties by
/// index), `q(y)` the threshold of candidate y, `u` the row's uniform (Randomized only).
fn adaptive_row(
    prow: &[f64],
    order: &[usize],
    score: Score,
    last: LastLabel,
    u: f64,
    q: impl Fn(usize) -> f64,
    orow: &mut [bool],
) {
    let mut above = 0.0;
    for (rank, &y) in order.iter().enumerate() {
        let py = prow[y];
        orow[y] = rank == 0 && last != LastLabel::Randomized
            || match last {
                // c_{r-1} = mass above y + penalty of the previous rank
                LastLabel::Include => above + penalty(score, rank) < q(y),
                LastLabel::Exclude => above + py + penalty(score, rank + 1) <= q(y),
                LastLabel::Randomized => above + u * py + penalty(score, rank + 1) <= q(y),
            };
        above += py;
    }
    if last != LastLabel::Randomized {
        // A class tied in probability with an included one is included too (as MAPIE), so the
        // set does not depend on the order ties were broken in.
        let floor = order
            .iter()
            .filter(|&&y| orow[y])
            .map(|&y| prow[y])
            .fold(f64::INFINITY, f64::min);
        for (m, &p) in orow.iter_mut().zip(prow) {
            *m |= p >= floor;
        }
    }
}

/// The conformal threshold(s) a set is built with.
#[derive(Debug, Clone, Copy)]
pub enum Thresholds<'a> {
    /// One q̂ for everything.
    Single(f64),
    /// q̂ per candidate class (class-conditional Mondrian), length K.
    PerClass(&'a [f64]),
    /// q̂ per test row (segment Mondrian: the row's segment quantile), length n.
    PerRow(&'a [f64]),
}

fn check_shape(probs: &[f64], n: usize, k: usize) -> Result<()> {
    if n == 0 || k == 0 {
        return Err(CredoError::empty("probs", "needs at least one row and one class"));
    }
    if probs.len() != n * k {
        return Err(CredoError::shape(
            "probs",
            format!("{} values do not form {n} rows of {k}", probs.len()),
        ));
    }
    Ok(())
}

/// The error for the first value outside [0, 1] (NaN and ±inf included) at flat index `i`.
fn bad_prob(probs: &[f64], i: usize, k: usize) -> CredoError {
    let (v, r, c) = (probs[i], i / k, i % k);
    if v.is_finite() {
        CredoError::invalid(
            "probs",
            format!("probabilities must lie in [0, 1], got {v} at index ({r}, {c})"),
        )
    } else {
        CredoError::non_finite("probs", format!("non-finite value {v} at index ({r}, {c})"))
    }
}

/// Whether any value of `p` lies outside [0, 1] (a branch-free scan that vectorises).
fn any_outside_unit(p: &[f64]) -> bool {
    p.iter().fold(false, |acc, x| acc | !(0.0..=1.0).contains(x))
}

fn first_bad(p: &[f64]) -> Option<usize> {
    p.iter().position(|x| !(0.0..=1.0).contains(x))
}

/// Checks the shape and that every value lies in [0, 1], in one parallel pass.
fn check_probs(probs: &[f64], n: usize, k: usize) -> Result<()> {
    check_shape(probs, n, k)?;
    const CHUNK: usize = 1 << 16;
    let bad = crate::parallel::map_range(probs.len().div_ceil(CHUNK), 1, |c| {
        let p = &probs[c * CHUNK..((c + 1) * CHUNK).min(probs.len())];
        // branch-free scan first; locate the index only on failure
        if any_outside_unit(p) {
            first_bad(p).map(|i| c * CHUNK + i)
        } else {
            None
        }
    })
    .into_iter()
    .flatten()
    .min();
    match bad {
        Some(i) => Err(bad_prob(probs, i, k)),
        None => Ok(()),
    }
}

/// Score of class `y` in one row given the row's uniform `u` (1.0 when not randomised).
fn row_score(row: &[f64], y: usize, score: Score, u: f64) -> f64 {
    let py = row[y];
    match score {
        Score::Lac => 1.0 - py,
        Score::Aps { .. } | Score::Raps { .. } => {
            let mut above = 0.0;
            let mut rank = 0usize;
            for (j, &p) in row.iter().enumerate() {
                if p > py || (p == py && j < y) {
                    above += p;
                    rank += 1;
                }
            }
            above + u * py + penalty(score, rank + 1)
        }
    }
}

/// Calibration scores s(x_i, y_i); `seed` drives the uniforms of randomised scores.
pub fn calibration_scores(
    probs: &[f64],
    n: usize,
    k: usize,
    labels: &[i64],
    score: Score,
    seed: u64,
) -> Result<Vec<f64>> {
    check_probs(probs, n, k)?;
    check_same_len("labels", labels.len(), n)?;
    if let Some(i) = labels.iter().position(|&y| y < 0 || y as u64 >= k as u64) {
        return Err(CredoError::invalid(
            "labels",
            format!("label {} at index {i} is outside [0, {k})", labels[i]),
        ));
    }
    let u = if score.randomized() {
        uniforms(n, seed)
    } else {
        Vec::new()
    };
    Ok(probs
        .chunks_exact(k)
        .zip(labels)
        .enumerate()
        .map(|(i, (row, &y))| row_score(row, y as usize, score, if u.is_empty() { 1.0 } else { u[i] }))
        .collect())
}

/// Prediction sets as a row-major boolean mask [n, k] (q̂ per class or per row for Mondrian
/// sets): for LAC, class y is in row i's set iff s(x_i, y) ≤ q̂; for APS and RAPS, as `last`
/// says (see [`LastLabel`]).
pub fn predict_sets(
    probs: &[f64],
    n: usize,
    k: usize,
    score: Score,
    last: LastLabel,
    q: Thresholds<'_>,
    seed: u64,
) -> Result<Vec<bool>> {
    check_shape(probs, n, k)?;
    match q {
        Thresholds::PerClass(v) => check_same_len("thresholds", v.len(), k)?,
        Thresholds::PerRow(v) => check_same_len("thresholds", v.len(), n)?,
        Thresholds::Single(_) => {}
    }
    let u = if last == LastLabel::Randomized && score != Score::Lac {
        uniforms(n, seed)
    } else {
        Vec::new()
    };
    let mut out = vec![false; n * k];
    const ROWS: usize = 1024;
    // The [0, 1] check is fused into the same pass over the rows (one read of probs).
    let bad = crate::parallel::map_chunks_mut(&mut out, ROWS * k, |c, o| {
        let p = &probs[c * ROWS * k..c * ROWS * k + o.len()];
        if any_outside_unit(p) {
            return first_bad(p).map(|i| c * ROWS * k + i);
        }
        let mut order: Vec<usize> = Vec::with_capacity(k);
        for (r, (orow, prow)) in o.chunks_exact_mut(k).zip(p.chunks_exact(k)).enumerate() {
            let i = c * ROWS + r;
            let qrow = |y: usize| match q {
                Thresholds::Single(t) => t,
                Thresholds::PerClass(v) => v[y],
                Thresholds::PerRow(v) => v[i],
            };
            match score {
                Score::Lac => match q {
                    Thresholds::Single(t) => orow.iter_mut().zip(prow).for_each(|(m, &pj)| *m = 1.0 - pj <= t),
                    _ => orow
                        .iter_mut()
                        .zip(prow)
                        .enumerate()
                        .for_each(|(y, (m, &pj))| *m = 1.0 - pj <= qrow(y)),
                },
                Score::Aps { .. } | Score::Raps { .. } => {
                    let ui = if u.is_empty() { 1.0 } else { u[i] };
                    order.clear();
                    order.extend(0..k);
                    // descending probability, ties by class index (the order row_score uses)
                    order.sort_by(|&a, &b| prow[b].total_cmp(&prow[a]).then(a.cmp(&b)));
                    adaptive_row(prow, &order, score, last, ui, qrow, orow);
                }
            }
        }
        None
    })
    .into_iter()
    .flatten()
    .min();
    match bad {
        Some(i) => Err(bad_prob(probs, i, k)),
        None => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: [f64; 8] = [0.5, 0.3, 0.15, 0.05, 0.1, 0.2, 0.3, 0.4];

    #[test]
    fn lac_scores_and_sets() {
        let s = calibration_scores(&P, 2, 4, &[1, 3], Score::Lac, 0).unwrap();
        assert!((s[0] - 0.7).abs() < 1e-15 && (s[1] - 0.6).abs() < 1e-15);
        let m = predict_sets(&P, 2, 4, Score::Lac, LastLabel::Include, Thresholds::Single(0.7), 0).unwrap();
        assert_eq!(m, vec![true, true, false, false, false, false, true, true]);
    }

    #[test]
    fn excluding_the_last_label_matches_the_calibration_score() {
        // Without the crossing label, y is in the set exactly when its own (non-randomised)
        // calibration score is within q, except the top class, which is always in.
        let aps = Score::Aps { randomized: false };
        let raps = Score::Raps {
            randomized: false,
            lambda: 0.1,
            k_reg: 1,
        };
        for score in [aps, raps] {
            for y in 0..4 {
                let s = calibration_scores(&P[..4], 1, 4, &[y], score, 0).unwrap()[0];
                let sets =
                    |q| predict_sets(&P[..4], 1, 4, score, LastLabel::Exclude, Thresholds::Single(q), 0).unwrap();
                assert!(sets(s)[y as usize]);
                assert_eq!(sets(s - 1e-12)[y as usize], y == 0);
            }
        }
        // APS of class 2 in row 0: 0.5 + 0.3 + 0.15
        let s = calibration_scores(&P[..4], 1, 4, &[2], aps, 0).unwrap()[0];
        assert!((s - 0.95).abs() < 1e-12);
    }

    #[test]
    fn including_the_last_label_adds_the_crossing_class_and_is_never_empty() {
        let aps = Score::Aps { randomized: false };
        let sets = |last, q| predict_sets(&P[..4], 1, 4, aps, last, Thresholds::Single(q), 0).unwrap();
        // cumulative masses 0.5, 0.8, 0.95, 1.0
        assert_eq!(sets(LastLabel::Include, 0.85), vec![true, true, true, false]);
        assert_eq!(sets(LastLabel::Exclude, 0.85), vec![true, true, false, false]);
        assert_eq!(sets(LastLabel::Include, 0.8), vec![true, true, false, false]);
        for last in [LastLabel::Include, LastLabel::Exclude] {
            assert_eq!(sets(last, 0.0), vec![true, false, false, false]);
        }
        assert_eq!(sets(LastLabel::Randomized, 0.0), vec![false; 4]);
        // q past the RAPS penalties: every class
        let raps = Score::Raps {
            randomized: false,
            lambda: 0.5,
            k_reg: 0,
        };
        let all = predict_sets(
            &P[..4],
            1,
            4,
            raps,
            LastLabel::Include,
            Thresholds::Single(f64::INFINITY),
            0,
        )
        .unwrap();
        assert_eq!(all, vec![true; 4]);
    }

    #[test]
    fn tied_classes_enter_together() {
        // class 1 crosses 0.65 and class 2 ties with it; without the crossing class, only 0 is in
        let p = [0.4, 0.3, 0.3];
        let aps = Score::Aps { randomized: false };
        let sets = |last| predict_sets(&p, 1, 3, aps, last, Thresholds::Single(0.65), 0).unwrap();
        assert_eq!(sets(LastLabel::Include), vec![true, true, true]);
        assert_eq!(sets(LastLabel::Exclude), vec![true, false, false]);
    }

    #[test]
    fn randomized_sets_use_the_same_uniforms() {
        let sc = Score::Aps { randomized: true };
        let s = calibration_scores(&P, 2, 4, &[2, 0], sc, 9).unwrap();
        let m = predict_sets(&P, 2, 4, sc, LastLabel::Randomized, Thresholds::PerRow(&s), 9).unwrap();
        assert!(m[2] && m[4]);
    }

    #[test]
    fn bad_input() {
        assert!(calibration_scores(&P, 2, 4, &[1, 4], Score::Lac, 0).is_err());
        assert!(calibration_scores(&P, 2, 4, &[1], Score::Lac, 0).is_err());
        assert!(calibration_scores(&P, 3, 4, &[1, 1, 1], Score::Lac, 0).is_err());
        assert!(predict_sets(
            &P,
            2,
            4,
            Score::Lac,
            LastLabel::Include,
            Thresholds::PerClass(&[0.1]),
            0
        )
        .is_err());
        assert!(LastLabel::parse("maybe").is_err());
        assert!(Score::parse("foo", false, 0.0, 0).is_err());
        let mut bad = P;
        bad[5] = 1.5;
        assert!(matches!(
            calibration_scores(&bad, 2, 4, &[0, 0], Score::Lac, 0),
            Err(CredoError::InvalidArgument { .. })
        ));
        bad[5] = f64::NAN;
        let e = predict_sets(&bad, 2, 4, Score::Lac, LastLabel::Include, Thresholds::Single(0.5), 0).unwrap_err();
        assert!(
            matches!(e, CredoError::NonFinite { .. }) && e.to_string().contains("(1, 1)"),
            "{e}"
        );
    }
}
