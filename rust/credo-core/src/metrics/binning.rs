//! Bin assignment for binned calibration error, in credo's convention and in the conventions of
//! the libraries people compare against (docs/definitions/metrics.md#binned-calibration-error-ece-and-bin-conventions). Only the assignment of a confidence
//! to a bin differs between them; edges are computed with the same float operations the anchors
//! use, so values that sit exactly on an edge land where the anchor puts them.

use crate::error::{CredoError, Result};

/// Whose bin-edge rule to follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Convention {
    /// credo: bin = min(⌊p·B⌋, B − 1), i.e. [i/B, (i+1)/B) with p = 1 in the last bin.
    Credo,
    /// scikit-learn `calibration_curve`: (a, b], the first bin [0, b].
    Sklearn,
    /// netcal: p clipped to [eps, 1 − eps], then [a, b) with the last bin closed.
    Netcal,
    /// torchmetrics: `bucketize(right=True) − 1`, [a, b) and p = 1 in an extra bin.
    Torchmetrics,
    /// MAPIE: edges `linspace(0, 1, B)` (B − 1 intervals plus a bin for exact 0), (a, b].
    Mapie,
    /// relplot `binnedECE`: bin = ⌊p / (1/B)⌋, so p = 1 gets its own bin.
    Relplot,
}

crate::choices!(Convention, "convention", {
    "credo" => Convention::Credo,
    "sklearn" => Convention::Sklearn,
    "netcal" => Convention::Netcal,
    "torchmetrics" => Convention::Torchmetrics,
    "mapie" => Convention::Mapie,
    "relplot" => Convention::Relplot,
});

/// Equal-width or equal-mass (quantile) bins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    Uniform,
    Quantile,
}

crate::choices!(Strategy, "strategy", {
    "uniform" => Strategy::Uniform,
    "quantile" => Strategy::Quantile,
});

/// netcal clips confidences to [eps, 1 − eps] with the float64 machine epsilon.
pub const NETCAL_EPS: f64 = f64::EPSILON;

#[derive(Clone, Debug)]
enum Rule {
    /// credo's uniform bins (see [`uniform_bin`]).
    FloorMul(f64),
    /// ⌊p / width⌋ (relplot), no clamp: p = 1 lands in bin B.
    FloorDiv(f64),
    /// The number of `edges` strictly below p (searchsorted left / digitize right=True).
    CountBelow(Vec<f64>, Guess),
    /// The number of `edges` at or below p (searchsorted right / bucketize right=True).
    CountAtOrBelow(Vec<f64>, Guess),
}

/// A bin-assignment rule with the number of bins it produces and the edges to report.
#[derive(Clone, Debug)]
pub struct Binning {
    rule: Rule,
    /// Number of bins (some conventions add a bin for p = 1 or p = 0).
    pub n_bins: usize,
    /// Clip confidences to [eps, 1 − eps] before binning and averaging (netcal).
    pub clip: bool,
    /// Reported bin edges (length `n_bins + 1`; extra bins get a zero-width interval).
    pub edges: Vec<f64>,
}

/// credo's uniform bin of `p` ∈ [0, 1] among `last + 1` bins of width 1/`b`: the i with
/// i/B ≤ p < (i+1)/B, each edge i/B being the double nearest to it (what `29 / 100` and the
/// literal `0.29` both give), p = 1 in the last bin. ⌊p·B⌋ in floating point alone misplaces a
/// p sitting on an edge whenever the product rounds below the integer (0.29 · 100 =
/// 28.999999999999996 put 0.29 in bin 28). The product is within an ulp of exact, so ⌊p·B⌋ is
/// off by at most one, and only when p·B lies within rounding of an integer: only those rare
/// samples pay for the exact comparisons against the edges.
#[inline]
pub fn uniform_bin(p: f64, b: f64, last: usize) -> usize {
    let x = p * b;
    let i = (x as usize).min(last);
    let frac = x - i as f64;
    if frac > 1e-6 && frac < 1.0 - 1e-6 {
        return i;
    }
    let edge = |k: usize| k as f64 / b;
    if i < last && p >= edge(i + 1) {
        i + 1
    } else if i > 0 && p < edge(i) {
        i - 1
    } else {
        i
    }
}

/// The edges [`uniform_bin_by_edges`] compares against: −∞, 1/B, …, last/B, +∞ (the outer
/// two are open so 0 and 1 stay in the first and last bin).
pub fn uniform_edges(b: f64, last: usize) -> Vec<f64> {
    let mut e: Vec<f64> = (0..=last + 1).map(|k| k as f64 / b).collect();
    e[0] = f64::NEG_INFINITY;
    e[last + 1] = f64::INFINITY;
    e
}

/// [`uniform_bin`] without its branch or a saturating float-to-integer conversion, for hot
/// loops: p·B rounded to the nearest integer (by adding 1.5·2⁵², whose low mantissa bits then
/// hold it) is within one of the bin, and is corrected against the exact edges `e`
/// ([`uniform_edges`]) both ways. Any input, NaN and infinities included, gives an index in
/// [0, last] (a value outside [0, 1] a meaningless one: callers reject such input).
#[inline]
pub fn uniform_bin_by_edges(p: f64, b: f64, last: usize, e: &[f64]) -> usize {
    const ROUND: f64 = 6_755_399_441_055_744.0; // 1.5 · 2⁵²
    let i = ((p * b + ROUND).to_bits() as u32 as usize).min(last);
    (i + usize::from(p >= e[i + 1]) - usize::from(p < e[i])).min(last)
}

/// `numpy.linspace(0, 1, num)` bit for bit: i·(1/(num−1)), the last value set to exactly 1.
pub fn np_linspace01(num: usize) -> Vec<f64> {
    if num == 1 {
        return vec![0.0];
    }
    let step = 1.0 / (num - 1) as f64;
    let mut v: Vec<f64> = (0..num).map(|i| i as f64 * step).collect();
    v[num - 1] = 1.0;
    v
}

/// `torch.linspace(0, 1, num, dtype=float64)`: the first half counts up from 0, the second half
/// down from 1, so the grid is symmetric.
pub fn torch_linspace01(num: usize) -> Vec<f64> {
    if num == 1 {
        return vec![0.0];
    }
    let step = 1.0 / (num - 1) as f64;
    let half = num / 2;
    (0..num)
        .map(|i| {
            if i < half {
                i as f64 * step
            } else {
                1.0 - (num - i - 1) as f64 * step
            }
        })
        .collect()
}

/// `numpy.quantile(sorted, qs)` with the default "linear" method, bit for bit.
pub fn np_quantiles(sorted: &[f64], qs: &[f64]) -> Vec<f64> {
    let n = sorted.len();
    qs.iter()
        .map(|&q| {
            let vi = (n as f64 - 1.0) * q;
            if vi >= (n - 1) as f64 {
                return sorted[n - 1];
            }
            if vi < 0.0 {
                return sorted[0];
            }
            let prev = vi.floor();
            let gamma = vi - prev;
            let (a, b) = (sorted[prev as usize], sorted[prev as usize + 1]);
            let diff = b - a;
            if gamma >= 0.5 {
                b - diff * (1.0 - gamma)
            } else {
                a + diff * gamma
            }
        })
        .collect()
}

/// A copy of `xs` in which every position [`np_quantiles`] reads for `qs` holds the order
/// statistic a full sort would put there (successive selections instead of a sort).
fn select_for_quantiles(xs: &[f64], qs: &[f64]) -> Vec<f64> {
    let mut v = xs.to_vec();
    let n = v.len();
    if n == 0 {
        return v;
    }
    let mut need: Vec<usize> = Vec::new();
    for &q in qs
        .iter()
        .chain(qs.iter().map(|q| q * 100.0 / 100.0).collect::<Vec<_>>().iter())
    {
        let vi = (n as f64 - 1.0) * q;
        let prev = if vi >= (n - 1) as f64 {
            n - 1
        } else {
            vi.max(0.0).floor() as usize
        };
        need.push(prev);
        need.push((prev + 1).min(n - 1));
    }
    need.sort_unstable();
    need.dedup();
    let mut lo = 0usize;
    for &k in &need {
        if k >= lo {
            v[lo..].select_nth_unstable_by(k - lo, f64::total_cmp);
            lo = k + 1;
        }
    }
    v
}

/// How to find the count of edges below a value: a linear guess ⌊p·scale⌋ + offset that is
/// exact away from edges (equal-width bins), or a binary search (quantile edges).
#[derive(Clone, Copy, Debug)]
pub enum Guess {
    Linear(f64, usize),
    Search,
}

/// Edges padded with −inf in front and +inf behind, so the walks below need no bounds tests
/// (a data-dependent bounds test mispredicts on every sample in the top bin).
fn padded(edges: &[f64]) -> Vec<f64> {
    let mut v = Vec::with_capacity(edges.len() + 2);
    v.push(f64::NEG_INFINITY);
    v.extend_from_slice(edges);
    v.push(f64::INFINITY);
    v
}

/// ⌊x⌋ + `off`, at most `len` (NaN and negative x give `off`): a conversion through `i32`
/// saturates in a few instructions, where one to `usize` takes a dozen.
#[inline]
fn linear_guess(x: f64, off: usize, len: usize) -> usize {
    ((x as i32).max(0) as usize + off).min(len)
}

/// The number of edges strictly below p, for padded edges `ext`.
#[inline]
pub fn bin_below(ext: &[f64], p: f64, g: Guess) -> usize {
    let len = ext.len() - 2;
    match g {
        Guess::Linear(scale, off) => {
            let mut k = linear_guess(p * scale, off, len);
            while ext[k + 1] < p {
                k += 1;
            }
            while ext[k] >= p {
                k -= 1;
            }
            k
        }
        Guess::Search => ext[1..=len].partition_point(|&e| e < p),
    }
}

/// The number of edges at or below p, for padded edges `ext`.
#[inline]
pub fn bin_at_or_below(ext: &[f64], p: f64, g: Guess) -> usize {
    let len = ext.len() - 2;
    match g {
        Guess::Linear(scale, off) => {
            let mut k = linear_guess(p * scale, off, len);
            while ext[k + 1] <= p {
                k += 1;
            }
            while ext[k] > p {
                k -= 1;
            }
            k
        }
        Guess::Search => ext[1..=len].partition_point(|&e| e <= p),
    }
}

/// A bin rule borrowed for a hot loop (see [`Binning::fast`]).
pub enum Fast<'a> {
    FloorMul(f64),
    FloorDiv(f64),
    Below(&'a [f64], Guess),
    AtOrBelow(&'a [f64], Guess),
}

impl Binning {
    /// Builds the rule. `conf` is only read for the quantile strategy.
    pub fn new(convention: Convention, strategy: Strategy, n_bins: usize, conf: &[f64]) -> Result<Self> {
        crate::error::check_count("n_bins", n_bins, crate::error::MAX_BINS)?;
        if convention == Convention::Mapie && n_bins < 2 {
            return Err(CredoError::invalid("n_bins", "MAPIE's num_bins must be at least 2"));
        }
        let b = n_bins as f64;
        match strategy {
            Strategy::Uniform => Ok(match convention {
                Convention::Credo => Self::plain(Rule::FloorMul(b), n_bins, false, np_linspace01(n_bins + 1)),
                Convention::Sklearn => {
                    let e = np_linspace01(n_bins + 1);
                    Self::plain(
                        Rule::CountBelow(padded(&e[1..n_bins]), Guess::Linear(b, 0)),
                        n_bins,
                        false,
                        e,
                    )
                }
                Convention::Netcal => {
                    let e = np_linspace01(n_bins + 1);
                    Self::plain(
                        Rule::CountAtOrBelow(padded(&e[1..n_bins]), Guess::Linear(b, 0)),
                        n_bins,
                        true,
                        e,
                    )
                }
                Convention::Torchmetrics => {
                    let e = torch_linspace01(n_bins + 1);
                    let mut rep = e.clone();
                    rep.push(1.0);
                    // bucketize(right=True) − 1 counts every boundary at or below p, minus one:
                    // the interior boundaries plus the last one (so p = 1 → bin B).
                    Self::plain(
                        Rule::CountAtOrBelow(padded(&e[1..]), Guess::Linear(b, 0)),
                        n_bins + 1,
                        false,
                        rep,
                    )
                }
                Convention::Mapie => {
                    let e = np_linspace01(n_bins);
                    let mut rep = vec![0.0];
                    rep.extend_from_slice(&e);
                    // digitize(right=True) counts the edges strictly below p: 0 only for p = 0.
                    Self::plain(
                        Rule::CountBelow(padded(&e), Guess::Linear(b - 1.0, 1)),
                        n_bins,
                        false,
                        rep,
                    )
                }
                Convention::Relplot => {
                    let width = 1.0 / b;
                    let cnt = (1.0 / width) as usize + 1;
                    let mut rep: Vec<f64> = (0..cnt).map(|i| i as f64 * width).collect();
                    rep.push(1.0);
                    Self::plain(Rule::FloorDiv(width), cnt, false, rep)
                }
            }),
            Strategy::Quantile => {
                let sorted = select_for_quantiles(conf, &np_linspace01(n_bins + 1));
                match convention {
                    Convention::Credo | Convention::Netcal => {
                        let qs = np_linspace01(n_bins + 1);
                        let mut e = np_quantiles(&sorted, &qs);
                        e[0] = 0.0;
                        e[n_bins] = 1.0;
                        let clip = convention == Convention::Netcal;
                        Ok(Self::plain(
                            Rule::CountAtOrBelow(padded(&e[1..n_bins]), Guess::Search),
                            n_bins,
                            clip,
                            e,
                        ))
                    }
                    Convention::Sklearn => {
                        // np.percentile(p, linspace(0, 1, B + 1) * 100) divides by 100 again.
                        let qs: Vec<f64> = np_linspace01(n_bins + 1).iter().map(|q| q * 100.0 / 100.0).collect();
                        let e = np_quantiles(&sorted, &qs);
                        Ok(Self::plain(
                            Rule::CountBelow(padded(&e[1..n_bins]), Guess::Search),
                            n_bins,
                            false,
                            e,
                        ))
                    }
                    _ => Err(CredoError::invalid(
                        "strategy",
                        "'quantile' bins are available for the 'credo', 'sklearn' and 'netcal' conventions",
                    )),
                }
            }
        }
    }

    fn plain(rule: Rule, n_bins: usize, clip: bool, edges: Vec<f64>) -> Self {
        Self {
            rule,
            n_bins,
            clip,
            edges,
        }
    }

    /// The rule in a form kernels can match on once, outside their loops.
    pub fn fast(&self) -> Fast<'_> {
        match &self.rule {
            Rule::FloorMul(b) => Fast::FloorMul(*b),
            Rule::FloorDiv(w) => Fast::FloorDiv(*w),
            Rule::CountBelow(e, g) => Fast::Below(e, *g),
            Rule::CountAtOrBelow(e, g) => Fast::AtOrBelow(e, *g),
        }
    }

    /// The multiplier B when the rule is credo's ⌊p·B⌋ (lets kernels specialise their loop).
    pub fn floor_mul(&self) -> Option<f64> {
        match self.rule {
            Rule::FloorMul(b) => Some(b),
            _ => None,
        }
    }

    /// The confidence used for averaging (clipped for netcal).
    #[inline]
    pub fn value(&self, p: f64) -> f64 {
        if self.clip {
            p.clamp(NETCAL_EPS, 1.0 - NETCAL_EPS)
        } else {
            p
        }
    }

    /// The bin of confidence `p` (already passed through [`Binning::value`]).
    #[inline]
    pub fn assign(&self, p: f64) -> usize {
        match &self.rule {
            Rule::FloorMul(b) => uniform_bin(p, *b, self.n_bins - 1),
            Rule::FloorDiv(w) => ((p / w) as usize).min(self.n_bins - 1),
            Rule::CountBelow(e, g) => bin_below(e, p, *g),
            Rule::CountAtOrBelow(e, g) => bin_at_or_below(e, p, *g),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_bins_put_every_edge_in_its_own_bin() {
        for nb in [1usize, 2, 3, 7, 10, 15, 100, 1000, 12345] {
            let b = nb as f64;
            for i in 0..nb {
                let e = i as f64 / b; // the double nearest i/B
                assert_eq!(uniform_bin(e, b, nb - 1), i, "edge {i}/{nb}");
                if i > 0 {
                    assert_eq!(uniform_bin(e.next_down(), b, nb - 1), i - 1, "below edge {i}/{nb}");
                }
            }
            assert_eq!(uniform_bin(1.0, b, nb - 1), nb - 1);
        }
        assert_eq!(uniform_bin(0.29, 100.0, 99), 29);
    }

    #[test]
    fn branch_free_uniform_bins_equal_uniform_bin() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for nb in [1usize, 2, 3, 7, 10, 15, 49, 100, 1000, 12345] {
            let (b, last) = (nb as f64, nb - 1);
            let e = uniform_edges(b, last);
            let check = |p: f64| {
                assert_eq!(
                    uniform_bin_by_edges(p, b, last, &e),
                    uniform_bin(p, b, last),
                    "{p} of {nb}"
                )
            };
            for k in 0..=nb {
                let edge = k as f64 / b;
                for p in [
                    edge,
                    edge.next_down(),
                    edge.next_up(),
                    (k as f64 + 1e-7) / b,
                    (k as f64 - 1e-7) / b,
                ] {
                    if (0.0..=1.0).contains(&p) {
                        check(p);
                    }
                }
            }
            for _ in 0..20_000 {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                check((state >> 11) as f64 / (1u64 << 53) as f64);
            }
            check(0.0);
            check(-0.0);
            check(1.0);
            for bad in [f64::NAN, -0.5, 1.5, f64::INFINITY, f64::NEG_INFINITY, -1e300, 1e300] {
                assert!(uniform_bin_by_edges(bad, b, last, &e) <= last);
            }
        }
    }

    #[test]
    fn edge_rules_on_exact_edges() {
        let p = [0.0, 0.1, 0.3, 0.5, 1.0];
        let bins = |c| {
            let b = Binning::new(c, Strategy::Uniform, 10, &p).unwrap();
            p.iter().map(|&v| b.assign(b.value(v))).collect::<Vec<_>>()
        };
        assert_eq!(bins(Convention::Sklearn), vec![0, 0, 2, 4, 9]);
        assert_eq!(bins(Convention::Netcal), vec![0, 1, 2, 5, 9]);
        assert_eq!(bins(Convention::Torchmetrics)[4], 10);
        assert_eq!(bins(Convention::Relplot)[4], 10);
        assert_eq!(bins(Convention::Mapie)[..2], [0, 1]);
        assert_eq!(bins(Convention::Credo), vec![0, 1, 3, 5, 9]);
    }

    #[test]
    fn quantiles_match_numpy_linear() {
        let s = [0.0, 1.0, 2.0, 10.0];
        assert_eq!(np_quantiles(&s, &[0.0, 0.5, 1.0, 0.25]), vec![0.0, 1.5, 10.0, 0.75]);
    }
}
