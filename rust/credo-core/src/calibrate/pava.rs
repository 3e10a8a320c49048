//! Weighted isotonic regression by the pool-adjacent-violators algorithm, O(n): the one PAVA of
//! the crate, behind both the sequence fit here ([`isotonic_regression`], scipy's semantics) and
//! the isotonic calibrator (`isotonic.rs`, which pools tied x first, as scikit-learn does).
//!
//! Blocks keep the exact weighted sum Σ w·y and the weight Σ w of their members, so a pooled
//! value is one division of two sums (no running means that drift with the merge order). Equal
//! neighbouring means are pooled too, as scipy's `isotonic_regression` does; that leaves the
//! fitted values unchanged.

use std::ops::Range;

use crate::error::{check_finite, check_same_len, CredoError, Result};

/// A PAVA block: Σ w·(±y), Σ w, and the x of its first and last point. Means are compared by
/// cross-multiplication (weights are positive), so the hot loop has no division on its
/// dependency chain.
#[derive(Clone, Copy)]
pub(crate) struct Block {
    pub sum: f64,
    pub weight: f64,
    pub first: f64,
    pub last: f64,
}

/// PAVA's pooling step: merges `t` with the blocks on top of `blocks` while they violate the
/// order (their mean at least t's).
#[inline]
fn pool(blocks: &mut Vec<Block>, t: &mut Block) {
    while let Some(p) = blocks.last() {
        if p.sum * t.weight < t.sum * p.weight {
            break;
        }
        t.sum += p.sum;
        t.weight += p.weight;
        t.first = p.first;
        blocks.pop();
    }
}

/// The block stack of a fit in progress. A non-increasing fit is the increasing fit of −y,
/// negated (both exact): `sign` is applied on the way in and on the way out.
pub(crate) struct Pava {
    sign: f64,
    blocks: Vec<Block>,
}

impl Pava {
    pub(crate) fn new(increasing: bool, n: usize) -> Self {
        // Small to start: a large reservation is an mmap (and page faults) on every fit.
        Self {
            sign: if increasing { 1.0 } else { -1.0 },
            blocks: Vec::with_capacity(n.min(256)),
        }
    }

    /// Feeds samples (x, y, w) in x order. With `ties = Some(resolution)`, samples whose x lies
    /// within `resolution` of their group's first x are first pooled into one point (weighted
    /// mean y, rounded once, and summed weight: scikit-learn's `_make_unique`) and zero weights
    /// are skipped; with `None` every sample is a point and weights must be positive.
    #[inline]
    pub(crate) fn run(&mut self, samples: impl Iterator<Item = (f64, f64, f64)>, ties: Option<f64>) {
        let sign = self.sign;
        let blocks = &mut self.blocks;
        // The last block stays in registers: points that violate the order are absorbed into it
        // directly (Busing's forward absorption), without a push and pop each.
        let mut top: Option<Block> = blocks.pop();
        let mut add = |x: f64, y: f64, w: f64| {
            let v = sign * y;
            match &mut top {
                Some(t) if t.sum >= v * t.weight => {
                    t.sum += v * w;
                    t.weight += w;
                    t.last = x;
                    pool(blocks, t);
                }
                t => {
                    if let Some(done) = t.replace(Block {
                        sum: v * w,
                        weight: w,
                        first: x,
                        last: x,
                    }) {
                        blocks.push(done);
                    }
                }
            }
        };
        match ties {
            None => samples.for_each(|(x, y, w)| add(x, y, w)),
            Some(resolution) => {
                let mut cur: Option<(f64, f64, f64)> = None;
                for (x, y, w) in samples {
                    if w <= 0.0 {
                        continue;
                    }
                    match &mut cur {
                        Some((cx, s, ws)) if x - *cx < resolution => {
                            *s += y * w;
                            *ws += w;
                        }
                        _ => {
                            if let Some((cx, s, ws)) = cur.replace((x, y * w, w)) {
                                add(cx, s / ws, ws);
                            }
                        }
                    }
                }
                if let Some((cx, s, ws)) = cur {
                    add(cx, s / ws, ws);
                }
            }
        }
        blocks.extend(top);
    }

    /// Continues PAVA with the blocks of a fit of the points that follow this one's.
    pub(crate) fn append(&mut self, next: Self) {
        for mut t in next.blocks {
            pool(&mut self.blocks, &mut t);
            self.blocks.push(t);
        }
    }

    /// The fitted blocks, in x order.
    pub(crate) fn blocks(&self) -> &[Block] {
        &self.blocks
    }

    /// The fitted value of a block.
    #[inline]
    pub(crate) fn value(&self, b: &Block) -> f64 {
        self.sign * (b.sum / b.weight)
    }
}

/// Below this many points one thread runs PAVA; above, the two halves run in parallel.
const PARALLEL_PAVA_MIN: usize = 50_000;

/// PAVA over n x-sorted points: `feed(pava, range)` runs `pava` over the points in `range`, and
/// `x(i)` is the x of point i; a cut must open a new group of x closer than `resolution`.
///
/// Large inputs are cut near the middle and the halves are solved in parallel: a block of either
/// half's solution is never split in the whole's (its prefixes have means at least, its suffixes
/// at most, its value), so feeding the second half's blocks into the first half's stack finishes
/// the fit. The cut depends on n and the data only, never on the thread count.
pub(crate) fn solve<X, F>((n, x): (usize, X), feed: F, increasing: bool, resolution: f64) -> Pava
where
    X: Fn(usize) -> f64,
    F: Fn(&mut Pava, Range<usize>) + Sync,
{
    let run = |r: Range<usize>| {
        let mut pava = Pava::new(increasing, r.len());
        feed(&mut pava, r);
        pava
    };
    let cut = if n >= PARALLEL_PAVA_MIN {
        // x[c] − x[c−1] ≥ resolution: c opens a tie group whatever the group before began with.
        let opens = |&c: &usize| x(c) - x(c - 1) >= resolution;
        (n / 2..n * 3 / 4).chain((n / 4..n / 2).rev()).find(opens)
    } else {
        None
    };
    match cut {
        Some(c) => {
            let (mut head, tail) = crate::parallel::join(|| run(0..c), || run(c..n));
            head.append(tail);
            head
        }
        None => run(0..n),
    }
}

/// Checked entry point: the isotonic fit of `y` (given in order) with optional positive weights;
/// with `increasing = false` the non-increasing fit.
pub fn isotonic_regression(y: &[f64], w: Option<&[f64]>, increasing: bool) -> Result<Vec<f64>> {
    if y.is_empty() {
        return Err(CredoError::empty("y", "is empty"));
    }
    check_finite("y", y)?;
    if let Some(w) = w {
        check_same_len("sample_weight", w.len(), y.len())?;
        check_finite("sample_weight", w)?;
        if let Some(i) = w.iter().position(|&v| v <= 0.0) {
            return Err(CredoError::invalid(
                "sample_weight",
                format!("weights must be positive, got {} at index {i}", w[i]),
            ));
        }
    }
    // The point's x is its index (exact in f64 below 2⁵³); every index opens a new group.
    let feed = |p: &mut Pava, r: Range<usize>| match w {
        None => p.run(r.map(|i| (i as f64, y[i], 1.0)), None),
        Some(w) => p.run(r.map(|i| (i as f64, y[i], w[i])), None),
    };
    let pava = solve((y.len(), |i| i as f64), feed, increasing, 0.0);
    let mut out = vec![0.0; y.len()];
    for b in pava.blocks() {
        out[b.first as usize..=b.last as usize].fill(pava.value(b));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference: the O(n²) definition (min over upper sets of max over lower sets of the mean),
    /// i.e. x_i = max_{a ≤ i} min_{b ≥ i} mean(y[a..=b]).
    fn brute(y: &[f64], w: &[f64]) -> Vec<f64> {
        let n = y.len();
        (0..n)
            .map(|i| {
                (0..=i)
                    .map(|a| {
                        (i..n)
                            .map(|b| {
                                let (s, ww) = (a..=b).fold((0.0, 0.0), |(s, ww), j| (s + w[j] * y[j], ww + w[j]));
                                s / ww
                            })
                            .fold(f64::INFINITY, f64::min)
                    })
                    .fold(f64::NEG_INFINITY, f64::max)
            })
            .collect()
    }

    #[test]
    fn matches_the_minimax_formula() {
        let mut g = crate::rng::SplitMix64::new(7);
        let mut next = || g.next_f64();
        for n in 1..30 {
            let y: Vec<f64> = (0..n).map(|_| (next() * 5.0).floor()).collect();
            let w: Vec<f64> = (0..n).map(|_| 0.1 + next()).collect();
            let fit = isotonic_regression(&y, Some(&w), true).unwrap();
            let want = brute(&y, &w);
            for (a, b) in fit.iter().zip(&want) {
                assert!((a - b).abs() < 1e-12, "{fit:?} vs {want:?}");
            }
            assert!(fit.windows(2).all(|p| p[0] <= p[1]));
            let dec = isotonic_regression(&y, Some(&w), false).unwrap();
            assert!(dec.windows(2).all(|p| p[0] >= p[1]));
        }
    }

    #[test]
    fn scipy_doc_example() {
        let y = [5.0, 3.0, 1.0, 2.0, 8.0, 10.0, 7.0, 9.0, 6.0, 4.0];
        let fit = isotonic_regression(&y, None, true).unwrap();
        assert_eq!(&fit[..4], &[2.75; 4]);
        assert!((fit[9] - 44.0 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(isotonic_regression(&[], None, true).is_err());
        assert!(isotonic_regression(&[1.0, f64::NAN], None, true).is_err());
        assert!(isotonic_regression(&[1.0, 2.0], Some(&[1.0, 0.0]), true).is_err());
        assert!(isotonic_regression(&[1.0, 2.0], Some(&[1.0]), true).is_err());
    }
}
