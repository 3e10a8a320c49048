//! Histogram binning (Zadrozny and Elkan, 2001): split [0, 1] into bins and map every score in a
//! bin to the (weighted) fraction of positives the bin held at fit time.
//!
//! One interval rule at fit and at predict (netcal fits with [a, b) and predicts with (a, b]):
//! bins are (a, b] and the first bin is closed, [0, b], so a score equal to an edge belongs to the
//! bin below it (scikit-learn's `calibration_curve` convention, docs/definitions/metrics.md#binned-calibration-error-ece-and-bin-conventions). Equal-mass
//! edges are `np.quantile` (linear) of the fit scores with the ends forced to 0 and 1; repeated
//! edges (heavy ties) are merged, so there can be fewer bins than asked for. An empty bin predicts
//! its own midpoint (with no data, the bin's centre is the least-committal value).

use super::{check_binary_labels, check_unit_interval, check_weights, CHUNK};
use crate::error::{check_same_len, CredoError, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binning {
    EqualWidth,
    EqualMass,
}
crate::choices!(Binning, "strategy", {
    "uniform" => Binning::EqualWidth,
    "quantile" => Binning::EqualMass,
});

#[derive(Clone, Debug, PartialEq)]
pub struct HistogramModel {
    edges: Vec<f64>,
    values: Vec<f64>,
    counts: Vec<f64>,
}

/// `np.quantile(sorted, q)` with the default linear method, including numpy's two-sided lerp.
fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor();
    let i = lo as usize;
    let t = pos - lo;
    let a = sorted[i];
    let b = sorted[(i + 1).min(sorted.len() - 1)];
    let d = b - a;
    if t >= 0.5 {
        b - d * (1.0 - t)
    } else {
        a + d * t
    }
}

impl HistogramModel {
    /// Rebuilds a model from edges (strictly increasing, from 0 to 1) and per-bin values.
    pub fn from_parts(edges: Vec<f64>, values: Vec<f64>, counts: Vec<f64>) -> Result<Self> {
        if edges.len() < 2 {
            return Err(CredoError::invalid("edges", "needs at least two edges"));
        }
        check_same_len("values", values.len(), edges.len() - 1)?;
        check_same_len("counts", counts.len(), edges.len() - 1)?;
        check_unit_interval("edges", &edges)?;
        check_unit_interval("values", &values)?;
        if edges[0] != 0.0 || edges[edges.len() - 1] != 1.0 || edges.windows(2).any(|p| p[0] >= p[1]) {
            return Err(CredoError::invalid("edges", "must increase strictly from 0 to 1"));
        }
        Ok(Self { edges, values, counts })
    }

    #[must_use]
    pub fn edges(&self) -> &[f64] {
        &self.edges
    }
    #[must_use]
    pub fn values(&self) -> &[f64] {
        &self.values
    }
    /// Sum of sample weights per bin at fit time (sample counts without weights).
    #[must_use]
    pub fn counts(&self) -> &[f64] {
        &self.counts
    }

    /// The bin of a score in [0, 1]: (a, b], the first bin [0, b].
    #[inline]
    #[must_use]
    pub fn bin_of(&self, p: f64) -> usize {
        let interior = &self.edges[1..self.edges.len() - 1];
        interior.partition_point(|&e| e < p)
    }

    pub fn predict_one(&self, p: f64) -> Result<f64> {
        check_unit_interval("X", &[p])?;
        Ok(self.values[self.bin_of(p)])
    }

    pub fn predict(&self, p: &[f64]) -> Result<Vec<f64>> {
        check_unit_interval("X", p)?;
        let mut out = vec![0.0; p.len()];
        crate::parallel::for_each_chunk_mut(&mut out, CHUNK, |c, o| {
            let p = &p[c * CHUNK..c * CHUNK + o.len()];
            for (o, &v) in o.iter_mut().zip(p) {
                *o = self.values[self.bin_of(v)];
            }
        });
        Ok(out)
    }
}

/// Fits `n_bins` bins on scores `p` ∈ [0, 1] and labels `y` ∈ {0, 1}.
pub fn fit(p: &[f64], y: &[f64], w: Option<&[f64]>, n_bins: usize, binning: Binning) -> Result<HistogramModel> {
    let n = p.len();
    if n == 0 {
        return Err(CredoError::empty("X", "is empty"));
    }
    crate::error::check_count("n_bins", n_bins, crate::error::MAX_BINS)?;
    check_same_len("y", y.len(), n)?;
    check_unit_interval("X", p)?;
    check_weights(w, n)?;
    check_binary_labels(y, w)?;
    let step = 1.0 / n_bins as f64;
    let mut edges: Vec<f64> = match binning {
        // Grid points as `np.linspace(0, 1, n_bins + 1)` computes them: i·(1/n), the last exactly 1.
        Binning::EqualWidth => (0..=n_bins)
            .map(|i| if i == n_bins { 1.0 } else { i as f64 * step })
            .collect(),
        Binning::EqualMass => {
            let mut sorted = p.to_vec();
            sorted.sort_unstable_by(f64::total_cmp);
            let mut e: Vec<f64> = (0..=n_bins)
                .map(|i| quantile_sorted(&sorted, if i == n_bins { 1.0 } else { i as f64 * step }))
                .collect();
            e[0] = 0.0;
            e[n_bins] = 1.0;
            e
        }
    };
    edges.dedup();
    if edges.len() < 2 {
        edges = vec![0.0, 1.0];
    }
    let nb = edges.len() - 1;
    let mut model = HistogramModel {
        edges,
        values: vec![0.0; nb],
        counts: vec![0.0; nb],
    };
    let mut pos = vec![0.0; nb];
    for i in 0..n {
        let b = model.bin_of(p[i]);
        let wi = w.map_or(1.0, |w| w[i]);
        model.counts[b] += wi;
        pos[b] += wi * y[i];
    }
    for (b, (v, (&c, &s))) in model.values.iter_mut().zip(model.counts.iter().zip(&pos)).enumerate() {
        *v = if c > 0.0 {
            s / c
        } else {
            0.5 * (model.edges[b] + model.edges[b + 1])
        };
    }
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_belong_to_the_bin_below() {
        let p = [0.0, 0.1, 0.2, 0.25, 0.5, 0.5, 0.9, 1.0];
        let y = [0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0];
        let m = fit(&p, &y, None, 4, Binning::EqualWidth).unwrap();
        assert_eq!(m.edges(), &[0.0, 0.25, 0.5, 0.75, 1.0]);
        // bins: [0, .25] = {0, .1, .2, .25}; (.25, .5] = {.5, .5}; (.5, .75] = {}; (.75, 1] = {.9, 1}
        assert_eq!(m.counts(), &[4.0, 2.0, 0.0, 2.0]);
        assert_eq!(m.values(), &[0.25, 0.5, 0.625, 1.0]);
        assert_eq!(
            m.predict(&[0.25, 0.2500001, 0.0, 1.0]).unwrap(),
            vec![0.25, 0.5, 0.25, 1.0]
        );
        // the fit is the same rule: every fit score is predicted by the bin it was counted in
        for &v in &p {
            assert_eq!(m.predict_one(v).unwrap(), m.values()[m.bin_of(v)]);
        }
    }

    #[test]
    fn equal_mass_uses_numpy_quantiles_and_merges_ties() {
        let p: Vec<f64> = (0..10).map(|i| f64::from(i) / 10.0).collect();
        assert!((quantile_sorted(&p, 0.25) - 0.225).abs() < 1e-15);
        let y: Vec<f64> = (0..10).map(|i| f64::from(u8::from(i >= 5))).collect();
        let m = fit(&p, &y, None, 2, Binning::EqualMass).unwrap();
        assert_eq!(m.edges(), &[0.0, 0.45, 1.0]);
        assert_eq!(m.values(), &[0.0, 1.0]);
        let tied = [1.0; 8];
        let m = fit(
            &tied,
            &[0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0],
            None,
            5,
            Binning::EqualMass,
        )
        .unwrap();
        assert_eq!(m.edges(), &[0.0, 1.0]);
        assert_eq!(m.values(), &[0.75]);
    }

    #[test]
    fn refuses_bad_input() {
        assert!(fit(&[0.1, 1.1], &[0.0, 1.0], None, 5, Binning::EqualWidth).is_err());
        assert!(fit(&[0.1, 0.2], &[0.0, 1.0], None, 0, Binning::EqualWidth).is_err());
        assert!(HistogramModel::from_parts(vec![0.0, 0.6, 0.5, 1.0], vec![0.1; 3], vec![1.0; 3]).is_err());
    }
}
