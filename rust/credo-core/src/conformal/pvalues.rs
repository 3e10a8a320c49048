//! Conformal p-values against a fitted (sorted) calibration set, as in crepes:
//! plain p = (#{cal ≥ s} + 1)/(n + 1); smoothed p = (#{cal > s} + θ·(#{cal = s} + 1))/(n + 1)
//! with θ ~ U(0, 1). Scores are nonconformity scores (higher = stranger). Each lookup is two
//! binary searches, O(log n).

use crate::error::{check_finite, CredoError, Result};
use crate::rng::SplitMix64;

/// A calibration set of nonconformity scores, sorted once for O(log n) p-values.
#[derive(Debug, Clone)]
pub struct PValues {
    sorted: Vec<f64>,
}

/// A test score must be ordered against the calibration scores: NaN is not.
fn check_score(s: f64) -> Result<()> {
    if s.is_nan() {
        return Err(CredoError::non_finite("score", "NaN is not a nonconformity score"));
    }
    Ok(())
}

impl PValues {
    /// Sorts the calibration scores (finite, at least one).
    pub fn fit(scores: &[f64]) -> Result<Self> {
        if scores.is_empty() {
            return Err(CredoError::empty("scores", "needs at least one calibration score"));
        }
        check_finite("scores", scores)?;
        let mut sorted = scores.to_vec();
        sorted.sort_unstable_by(f64::total_cmp);
        Ok(Self { sorted })
    }

    #[must_use]
    pub fn n(&self) -> usize {
        self.sorted.len()
    }

    #[must_use]
    pub fn sorted(&self) -> &[f64] {
        &self.sorted
    }

    /// (#{cal < s}, #{cal ≤ s}).
    fn counts(&self, s: f64) -> (usize, usize) {
        let lt = self.sorted.partition_point(|&c| c < s);
        let le = lt + self.sorted[lt..].partition_point(|&c| c <= s);
        (lt, le)
    }

    /// The plain conformal p-value of one test score (±inf are ordered scores; NaN is refused,
    /// as [`Self::p_values`] refuses it).
    pub fn p_value(&self, s: f64) -> Result<f64> {
        check_score(s)?;
        Ok(self.plain(s))
    }

    /// The smoothed p-value of one test score with tie-breaking uniform `theta`.
    pub fn p_value_smoothed(&self, s: f64, theta: f64) -> Result<f64> {
        check_score(s)?;
        Ok(self.smoothed(s, theta))
    }

    fn plain(&self, s: f64) -> f64 {
        let n = self.sorted.len();
        let ge = n - self.sorted.partition_point(|&c| c < s);
        (ge as f64 + 1.0) / (n as f64 + 1.0)
    }

    fn smoothed(&self, s: f64, theta: f64) -> f64 {
        let n = self.sorted.len();
        let (lt, le) = self.counts(s);
        ((n - le) as f64 + theta * ((le - lt) as f64 + 1.0)) / (n as f64 + 1.0)
    }

    /// p-values of many test scores; smoothed ones draw θ_i in order from `seed`.
    pub fn p_values(&self, scores: &[f64], smoothed: Option<u64>) -> Result<Vec<f64>> {
        check_finite("scores", scores)?;
        Ok(match smoothed {
            None => scores.iter().map(|&s| self.plain(s)).collect(),
            Some(seed) => {
                let mut g = SplitMix64::new(seed);
                scores.iter().map(|&s| self.smoothed(s, g.next_f64())).collect()
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crepes_check_vector() {
        // docs/definitions/conformal.md#conformal-p-values
        let pv = PValues::fit(&[0.1, 0.2, 0.2, 0.4, 0.5]).unwrap();
        let p = pv.p_values(&[0.2, 0.45, 0.6], None).unwrap();
        let want = [5.0 / 6.0, 2.0 / 6.0, 1.0 / 6.0];
        for (a, b) in p.iter().zip(want) {
            assert!((a - b).abs() < 1e-15);
        }
    }

    #[test]
    fn smoothed_brackets_plain() {
        let pv = PValues::fit(&[0.1, 0.2, 0.2, 0.4, 0.5]).unwrap();
        // s = 0.2: #> = 2, #= = 2 -> (2 + θ·3)/6, θ = 1 gives the plain value
        assert!((pv.p_value_smoothed(0.2, 1.0).unwrap() - pv.p_value(0.2).unwrap()).abs() < 1e-15);
        assert!((pv.p_value_smoothed(0.2, 0.0).unwrap() - 2.0 / 6.0).abs() < 1e-15);
        assert!(pv.p_value(f64::NAN).is_err() && pv.p_value_smoothed(f64::NAN, 0.5).is_err());
        assert_eq!(pv.p_value(f64::INFINITY).unwrap(), 1.0 / 6.0);
        assert!(PValues::fit(&[]).is_err());
        assert!(PValues::fit(&[f64::NAN]).is_err());
    }

    #[test]
    fn smoothed_p_values_are_uniform_under_exchangeability() {
        // with a continuous score the smoothed p-value is exactly uniform on {1..n+1}/(n+1)
        let mut g = SplitMix64::new(3);
        let mut below = 0;
        let trials = 4000;
        for t in 0..trials {
            let cal: Vec<f64> = (0..19).map(|_| g.next_f64()).collect();
            let pv = PValues::fit(&cal).unwrap();
            let test = pv.p_values(&[g.next_f64()], Some(t)).unwrap()[0];
            if test <= 0.1 {
                below += 1;
            }
        }
        let frac = f64::from(below) / f64::from(trials as u32);
        assert!((frac - 0.1).abs() < 0.02, "{frac}");
    }
}
