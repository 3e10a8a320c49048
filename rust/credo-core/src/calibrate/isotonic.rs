//! Isotonic calibration with scikit-learn's `IsotonicRegression` semantics (docs/definitions/calibrators.md#isotonic-regression):
//! drop non-positive weights, sort by x, pool x values within the dtype's resolution of their
//! group's first value (weighted mean y, summed weight), PAVA, clip to [y_min, y_max], drop
//! interior points equal to both neighbours, and predict by linear interpolation (as `np.interp`).

use std::ops::Range;

use super::pava::{solve, Pava, BINARY_MAX};
use super::sort::{with_sorted_records, Packed, Rec, Sample, Unit};
use super::{check_weights, CHUNK};
use crate::error::{check_finite, check_same_len, CredoError, Result};

/// Direction of the fit; `Auto` takes the sign of Spearman's ρ between x and y (ρ ≥ 0: increasing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Increasing {
    Yes,
    No,
    Auto,
}
crate::choices!(Increasing, "increasing", {
    "increasing" => Increasing::Yes,
    "decreasing" => Increasing::No,
    "auto" => Increasing::Auto,
});

/// What `predict` does with x outside the fitted range [min x, max x].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutOfBounds {
    /// Return NaN (scikit-learn's default).
    Nan,
    /// Clamp x to the fitted range (what `CalibratedClassifierCV` uses).
    Clip,
    /// Refuse with an error naming `X`.
    Raise,
}

crate::choices!(OutOfBounds, "out_of_bounds", {
    "nan" => OutOfBounds::Nan,
    "clip" => OutOfBounds::Clip,
    "raise" => OutOfBounds::Raise,
});

#[derive(Clone, Copy, Debug)]
pub struct IsotonicOptions {
    pub increasing: Increasing,
    pub y_min: Option<f64>,
    pub y_max: Option<f64>,
    pub out_of_bounds: OutOfBounds,
    /// x values closer than this to their group's first value are pooled: scikit-learn uses
    /// `finfo(dtype).resolution`, 1e-15 for float64 and 1e-6 for float32 input.
    pub resolution: f64,
}

impl Default for IsotonicOptions {
    fn default() -> Self {
        Self {
            increasing: Increasing::Yes,
            y_min: None,
            y_max: None,
            out_of_bounds: OutOfBounds::Nan,
            resolution: 1e-15,
        }
    }
}

/// A fitted isotonic map: strictly increasing thresholds `x` with values `y`.
#[derive(Clone, Debug, PartialEq)]
pub struct IsotonicModel {
    x: Vec<f64>,
    y: Vec<f64>,
    increasing: bool,
    out_of_bounds: OutOfBounds,
}

impl IsotonicModel {
    /// Rebuilds a model from its thresholds (e.g. from a saved artefact), checking them.
    pub fn from_parts(x: Vec<f64>, y: Vec<f64>, increasing: bool, out_of_bounds: OutOfBounds) -> Result<Self> {
        if x.is_empty() {
            return Err(CredoError::empty("X_thresholds", "is empty"));
        }
        check_same_len("y_thresholds", y.len(), x.len())?;
        check_finite("X_thresholds", &x)?;
        // y may hold ±inf only if the user asked for it via y_min/y_max; NaN never.
        if let Some(i) = y.iter().position(|v| v.is_nan()) {
            return Err(CredoError::non_finite("y_thresholds", format!("NaN at index {i}")));
        }
        if let Some(i) = x.windows(2).position(|p| p[0] >= p[1]) {
            return Err(CredoError::invalid(
                "X_thresholds",
                format!("must be strictly increasing (index {})", i + 1),
            ));
        }
        Ok(Self {
            x,
            y,
            increasing,
            out_of_bounds,
        })
    }

    #[must_use]
    pub fn x_thresholds(&self) -> &[f64] {
        &self.x
    }
    #[must_use]
    pub fn y_thresholds(&self) -> &[f64] {
        &self.y
    }
    #[must_use]
    pub fn increasing(&self) -> bool {
        self.increasing
    }
    #[must_use]
    pub fn out_of_bounds(&self) -> OutOfBounds {
        self.out_of_bounds
    }

    /// The calibrated value at one point.
    pub fn predict_one(&self, t: f64) -> Result<f64> {
        if t.is_nan() {
            return Err(CredoError::non_finite("X", "NaN input"));
        }
        let (x0, xl) = (self.x[0], self.x[self.x.len() - 1]);
        let t = if t < x0 || t > xl {
            match self.out_of_bounds {
                OutOfBounds::Clip => t.clamp(x0, xl),
                OutOfBounds::Nan if self.x.len() > 1 => return Ok(f64::NAN),
                OutOfBounds::Nan => t,
                OutOfBounds::Raise if self.x.len() > 1 => {
                    return Err(CredoError::invalid(
                        "X",
                        format!("value {t} is outside the fitted range [{x0}, {xl}]"),
                    ))
                }
                OutOfBounds::Raise => t,
            }
        } else {
            t
        };
        Ok(self.interp(t))
    }

    /// `np.interp` on the thresholds for t inside [x₀, x_last] (a single threshold is a constant).
    #[inline]
    fn interp(&self, t: f64) -> f64 {
        let (x, y) = (&self.x, &self.y);
        let last = x.len() - 1;
        if last == 0 || t <= x[0] {
            return y[0];
        }
        if t >= x[last] {
            return y[last];
        }
        // j with x[j] <= t < x[j+1]
        let j = x.partition_point(|&v| v <= t) - 1;
        if t == x[j] {
            return y[j];
        }
        let slope = (y[j + 1] - y[j]) / (x[j + 1] - x[j]);
        let r = slope * (t - x[j]) + y[j];
        if r.is_nan() {
            let r2 = slope * (t - x[j + 1]) + y[j + 1];
            if r2.is_nan() && y[j] == y[j + 1] {
                return y[j];
            }
            return r2;
        }
        r
    }

    /// Calibrated values for every element of `t`, in parallel fixed-size chunks.
    pub fn predict(&self, t: &[f64]) -> Result<Vec<f64>> {
        if let Some(i) = t.iter().position(|v| v.is_nan()) {
            return Err(CredoError::non_finite("X", format!("NaN at index {i}")));
        }
        if self.out_of_bounds == OutOfBounds::Raise && self.x.len() > 1 {
            let (x0, xl) = (self.x[0], self.x[self.x.len() - 1]);
            if let Some(i) = t.iter().position(|&v| v < x0 || v > xl) {
                return Err(CredoError::invalid(
                    "X",
                    format!("value {} at index {i} is outside the fitted range [{x0}, {xl}]", t[i]),
                ));
            }
        }
        let mut out = vec![0.0; t.len()];
        crate::parallel::for_each_chunk_mut(&mut out, CHUNK, |c, o| {
            let t = &t[c * CHUNK..c * CHUNK + o.len()];
            for (o, &v) in o.iter_mut().zip(t) {
                // cannot fail: NaN and out-of-range values were handled above
                *o = self.predict_one(v).unwrap_or(f64::NAN);
            }
        });
        Ok(out)
    }
}

/// Average ranks (ties share the mean of their positions), 1-based as in scipy's `rankdata`.
fn average_ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_unstable_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut ranks = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i + 1;
        while j < idx.len() && v[idx[j]] == v[idx[i]] {
            j += 1;
        }
        let r = (i + j + 1) as f64 / 2.0;
        for &k in &idx[i..j] {
            ranks[k] = r;
        }
        i = j;
    }
    ranks
}

/// Spearman's ρ (NaN when either variable is constant, as scipy returns).
#[must_use]
pub fn spearman_rho(x: &[f64], y: &[f64]) -> f64 {
    let (rx, ry) = (average_ranks(x), average_ranks(y));
    let n = rx.len() as f64;
    let (mx, my) = (rx.iter().sum::<f64>() / n, ry.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in rx.iter().zip(&ry) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    sxy / (sxx * syy).sqrt()
}

/// Fits the isotonic map of `y` on `x` with optional non-negative weights.
pub fn fit(x: &[f64], y: &[f64], w: Option<&[f64]>, opts: &IsotonicOptions) -> Result<IsotonicModel> {
    fit_with_fingerprint(x, y, w, opts).map(|(m, _)| m)
}

/// [`fit`], also returning the data fingerprint (see [`super::combine_fingerprints`]), computed in
/// the same pass as the input checks.
pub fn fit_with_fingerprint(
    x: &[f64],
    y: &[f64],
    w: Option<&[f64]>,
    opts: &IsotonicOptions,
) -> Result<(IsotonicModel, String)> {
    let n = x.len();
    if n == 0 {
        return Err(CredoError::empty("X", "is empty"));
    }
    check_same_len("y", y.len(), n)?;
    // One pass over x: finiteness, range, order and the fingerprint.
    let (sx, sy) = if n >= super::sort::PARALLEL_MIN {
        crate::parallel::join(|| super::scan(x), || super::scan(y))
    } else {
        (super::scan(x), super::scan(y))
    };
    if !sx.finite {
        check_finite("X", x)?;
    }
    if !sy.finite {
        check_finite("y", y)?;
    }
    check_weights(w, n)?;
    // NaN bounds would reach f64::clamp, which panics on them.
    for (arg, bound) in [("y_min", opts.y_min), ("y_max", opts.y_max)] {
        if bound.is_some_and(f64::is_nan) {
            return Err(CredoError::invalid(arg, "must be a number or None, got nan"));
        }
    }
    if let (Some(lo), Some(hi)) = (opts.y_min, opts.y_max) {
        if lo > hi {
            return Err(CredoError::invalid(
                "y_min",
                format!("y_min ({lo}) must not exceed y_max ({hi})"),
            ));
        }
    }
    if !(opts.resolution >= 0.0 && opts.resolution.is_finite()) {
        return Err(CredoError::invalid(
            "resolution",
            "must be a finite non-negative number",
        ));
    }
    let increasing = match opts.increasing {
        Increasing::Yes => true,
        Increasing::No => false,
        // scikit-learn: rho >= 0 (False when rho is NaN), on all samples, ignoring weights.
        Increasing::Auto => spearman_rho(x, y) >= 0.0,
    };
    let (lo, hi) = (
        opts.y_min.unwrap_or(f64::NEG_INFINITY),
        opts.y_max.unwrap_or(f64::INFINITY),
    );
    let res = opts.resolution;
    // Unweighted 0/1 targets (labels): PAVA over pairs of label runs, in integers.
    let binary = w.is_none() && sy.binary && n < BINARY_MAX;
    let pava = if sx.sorted && binary {
        let feed = |p: &mut Pava, r: Range<usize>| p.run_binary(r, |i| x[i], (y, |v: &f64| *v == 1.0), res);
        solve((n, |i| x[i]), feed, increasing, res)
    } else if sx.sorted {
        // Already in x order (the common case for presorted data): no copy, no sort. Within a
        // tie group the sum runs in input order instead of scikit-learn's y order; the pooled
        // mean is the same up to rounding.
        let feed = |p: &mut Pava, r: Range<usize>| match w {
            None => p.run(x[r.clone()].iter().zip(&y[r]).map(|(&x, &y)| (x, y, 1.0)), Some(res)),
            Some(w) => p.run(
                x[r.clone()]
                    .iter()
                    .zip(&y[r.clone()])
                    .zip(&w[r])
                    .map(|((&x, &y), &w)| (x, y, w)),
                Some(res),
            ),
        };
        solve((n, |i| x[i]), feed, increasing, res)
    } else {
        let range = (sx.min, sx.max);
        // The record the sort moves: one word for unweighted 0/1 targets at x ≥ 0 (scores and
        // labels, the calibration case), else (x, y) or (x, y, w).
        if binary && Packed::fits(w, sx.min, sy.binary) {
            with_sorted_records(x, y, w, range, |s: &[Packed]| pava_samples(s, increasing, res, true))
        } else if w.is_none() {
            with_sorted_records(x, y, w, range, |s: &[Unit]| pava_samples(s, increasing, res, binary))
        } else {
            with_sorted_records(x, y, w, range, |s: &[Rec]| pava_samples(s, increasing, res, false))
        }
    };
    let (tx, ty) = thresholds(&pava, lo, hi);
    let model = IsotonicModel {
        x: tx,
        y: ty,
        increasing,
        out_of_bounds: opts.out_of_bounds,
    };
    let hw = w.map(|w| super::scan(w).hash);
    Ok((model, super::combine_fingerprints(&[Some(sx.hash), Some(sy.hash), hw])))
}

/// [`solve`] over samples sorted by x; `binary`: unit weights and y in {0, 1}.
fn pava_samples<S: Sample>(samples: &[S], increasing: bool, resolution: f64, binary: bool) -> Pava {
    let x = |i: usize| samples[i].x();
    let feed = |p: &mut Pava, r: Range<usize>| {
        if binary {
            p.run_binary(r, x, (samples, |s: &S| s.xyw().1 == 1.0), resolution);
        } else {
            p.run(samples[r].iter().map(S::xyw), Some(resolution));
        }
    };
    solve((samples.len(), x), feed, increasing, resolution)
}

/// The thresholds scikit-learn keeps, after clipping every block's value to [lo, hi].
///
/// A fitted block covers a run of points with one value, so after clipping the thresholds
/// scikit-learn keeps (points that differ from a neighbour) are exactly the first and last
/// point of each run of equal values.
fn thresholds(pava: &Pava, lo: f64, hi: f64) -> (Vec<f64>, Vec<f64>) {
    let blocks = pava.blocks();
    let values: Vec<f64> = blocks.iter().map(|b| pava.value(b).clamp(lo, hi)).collect();
    let (mut tx, mut ty) = (Vec::new(), Vec::new());
    let mut b = 0;
    while b < values.len() {
        let mut e = b;
        while e + 1 < values.len() && values[e + 1] == values[b] {
            e += 1;
        }
        let (first, last) = (blocks[b].first, blocks[e].last);
        tx.push(first);
        ty.push(values[b]);
        if last != first {
            tx.push(last);
            ty.push(values[b]);
        }
        b = e + 1;
    }
    (tx, ty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_check_values() {
        // docs/definitions/calibrators.md#isotonic-regression
        let x = [0.1, 0.2, 0.2, 0.3, 0.4];
        let y = [0.0, 1.0, 0.0, 0.0, 1.0];
        let m = fit(&x, &y, None, &IsotonicOptions::default()).unwrap();
        assert_eq!(m.x_thresholds(), &[0.1, 0.2, 0.3, 0.4]);
        let third = 1.0 / 3.0;
        for (a, b) in m.y_thresholds().iter().zip(&[0.0, third, third, 1.0]) {
            assert!((a - b).abs() < 1e-15);
        }
        assert!((m.predict_one(0.15).unwrap() - 1.0 / 6.0).abs() < 1e-12);
        assert!(m.predict_one(0.0).unwrap().is_nan());
        let clip = IsotonicModel {
            out_of_bounds: OutOfBounds::Clip,
            ..m.clone()
        };
        assert_eq!(clip.predict_one(0.0).unwrap(), 0.0);
        let raise = IsotonicModel {
            out_of_bounds: OutOfBounds::Raise,
            ..m
        };
        assert!(raise.predict_one(0.0).is_err());
        assert!(raise.predict(&[0.2, 0.5]).is_err());
    }

    #[test]
    fn float32_resolution_pools_close_values() {
        let opts = IsotonicOptions {
            resolution: 1e-6,
            ..IsotonicOptions::default()
        };
        let m = fit(&[0.5, 0.5 + 5e-7, 0.7], &[0.0, 1.0, 1.0], None, &opts).unwrap();
        assert_eq!(m.x_thresholds(), &[0.5, 0.7]);
        assert_eq!(m.y_thresholds(), &[0.5, 1.0]);
    }

    #[test]
    fn decreasing_auto_bounds_and_weights() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [5.0, 4.0, 4.5, 2.0, 1.0];
        let opts = IsotonicOptions {
            increasing: Increasing::Auto,
            y_min: Some(1.5),
            y_max: Some(4.5),
            ..Default::default()
        };
        let m = fit(&x, &y, Some(&[1.0, 1.0, 1.0, 0.0, 1.0]), &opts).unwrap();
        assert!(!m.increasing());
        // weight 0 drops x = 4; (4, 4.5) pool to 4.25; 5 clips to 4.5; 1 clips to 1.5
        assert_eq!(m.x_thresholds(), &[1.0, 2.0, 3.0, 5.0]);
        assert_eq!(m.y_thresholds(), &[4.5, 4.25, 4.25, 1.5]);
    }

    #[test]
    fn single_unique_x_is_constant() {
        let m = fit(&[0.3, 0.3], &[0.0, 1.0], None, &IsotonicOptions::default()).unwrap();
        assert_eq!(m.predict(&[-5.0, 0.3, 9.0]).unwrap(), vec![0.5, 0.5, 0.5]);
    }

    #[test]
    fn bad_input_is_refused() {
        let o = IsotonicOptions::default();
        assert!(fit(&[], &[], None, &o).is_err());
        assert!(fit(&[0.1, f64::NAN], &[0.0, 1.0], None, &o).is_err());
        assert!(fit(&[0.1, 0.2], &[0.0], None, &o).is_err());
        assert!(fit(&[0.1, 0.2], &[0.0, 1.0], Some(&[1.0, -1.0]), &o).is_err());
        let bad = IsotonicOptions {
            y_min: Some(1.0),
            y_max: Some(0.0),
            ..o
        };
        assert!(fit(&[0.1, 0.2], &[0.0, 1.0], None, &bad).is_err());
        for (y_min, y_max) in [(Some(f64::NAN), None), (None, Some(f64::NAN))] {
            let nan = IsotonicOptions { y_min, y_max, ..o };
            let e = fit(&[0.1, 0.2], &[0.0, 1.0], None, &nan).unwrap_err();
            assert!(e.to_string().starts_with("y_m"), "{e}");
        }
        assert!(IsotonicModel::from_parts(vec![0.2, 0.1], vec![0.0, 1.0], true, OutOfBounds::Nan).is_err());
    }

    #[test]
    fn output_is_monotone_on_random_data() {
        let mut g = crate::rng::SplitMix64::new(11);
        let mut next = || g.next_f64();
        let x: Vec<f64> = (0..5000).map(|_| (next() * 100.0).floor() / 100.0).collect();
        let y: Vec<f64> = x.iter().map(|&v| f64::from(u8::from(next() < v))).collect();
        let m = fit(&x, &y, None, &IsotonicOptions::default()).unwrap();
        let grid: Vec<f64> = (0..=1000).map(|i| f64::from(i) / 1000.0 * 0.99).collect();
        let p = m.predict(&grid).unwrap();
        let p: Vec<f64> = p.into_iter().filter(|v| !v.is_nan()).collect();
        assert!(p.windows(2).all(|w| w[0] <= w[1]));
        assert!(p.iter().all(|&v| (0.0..=1.0).contains(&v)));
    }
}
