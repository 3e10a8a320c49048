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

/// Samples per word of [`Pava::run_binary`]: the bits of a u64.
const WORD: usize = 64;

/// The block stack of [`Pava::run_binary`]: Σ ±y and the count of each block's points, in
/// integers, the last block kept out of the vector (in registers).
struct CountStack {
    low_is_one: bool,
    blocks: Vec<CountBlock>,
    top: Option<CountBlock>,
}

#[derive(Clone, Copy)]
struct CountBlock {
    sum: i64,
    weight: i64,
    first: f64,
    last: f64,
}

impl CountStack {
    fn new(low_is_one: bool) -> Self {
        Self {
            low_is_one,
            blocks: Vec::with_capacity(256),
            top: None,
        }
    }

    /// Adds a point of `count` samples with `ones` ones spanning x in [first, last].
    #[inline(always)]
    fn add(&mut self, first: f64, last: f64, ones: i64, count: i64) {
        let v = if self.low_is_one { -ones } else { ones };
        let point = CountBlock {
            sum: v,
            weight: count,
            first,
            last,
        };
        let Some(t) = &mut self.top else {
            self.top = Some(point);
            return;
        };
        // Means compared by cross-multiplication: sums and counts stay below 2³¹ (the
        // callers' sample counts), so the products fit in an i64.
        if t.sum * count >= v * t.weight {
            t.sum += v;
            t.weight += count;
            t.last = last;
            while let Some(p) = self.blocks.last() {
                if p.sum * t.weight < t.sum * p.weight {
                    break;
                }
                t.sum += p.sum;
                t.weight += p.weight;
                t.first = p.first;
                self.blocks.pop();
            }
        } else {
            self.blocks.push(std::mem::replace(t, point));
        }
    }

    fn into_blocks(mut self) -> Vec<Block> {
        self.blocks.extend(self.top);
        self.blocks
            .iter()
            .map(|b| Block {
                sum: b.sum as f64,
                weight: b.weight as f64,
                first: b.first,
                last: b.last,
            })
            .collect()
    }
}

/// [`Pava::run_binary`] takes fewer samples than this, so sums and counts stay below 2³¹.
pub(crate) const BINARY_MAX: usize = 1 << 31;

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

    /// [`Self::run`] on a fresh stack for the unit-weight samples `range` whose y is 0 or 1 (the
    /// labels of a calibration set): `x(i)` reads the x of sample i, and `one(&labels[i])` whether
    /// its y is 1, in x order. (The labels as a slice: the 64 of a word are read in one loop
    /// without bounds checks, which vectorises.)
    ///
    /// In the fitted blocks, neighbouring points with the same label always share a block (a
    /// block's last point is at most its value, the next block's first at least its own, and
    /// the values increase), and so does a run of high labels with the run of low ones that
    /// follows it. So each such pair of runs goes in as one point, found 64 labels at a time
    /// with bit operations: the general loop's branch on every label, which no predictor can
    /// guess, becomes one step per pair of runs. Blocks count ones and points in integers
    /// (exact; their sums are those of `run`, exact in f64 below 2⁵³). A word of 64 samples
    /// where some x lies within `resolution` of the one before goes sample by sample through
    /// the tie pooling of `run`, whose groups here keep their exact counts.
    pub(crate) fn run_binary<L>(
        &mut self,
        range: Range<usize>,
        x: impl Fn(usize) -> f64,
        (labels, one): (&[L], impl Fn(&L) -> bool),
        resolution: f64,
    ) {
        self.run_binary_at(crate::simd::active(), range, x, (labels, one), resolution);
    }

    /// [`Self::run_binary`] at a given level: the AVX2 build where `avx2_code` allows it.
    pub(crate) fn run_binary_at<L>(
        &mut self,
        level: crate::simd::SimdLevel,
        range: Range<usize>,
        x: impl Fn(usize) -> f64,
        (labels, one): (&[L], impl Fn(&L) -> bool),
        resolution: f64,
    ) {
        #[cfg(target_arch = "x86_64")]
        if super::avx2_code(level) {
            // SAFETY: avx2_code checked that this CPU has AVX2, POPCNT and BMI1.
            return unsafe { self.run_binary_avx2(range, x, (labels, one), resolution) };
        }
        let _ = level;
        self.run_binary_portable(range, x, (labels, one), resolution);
    }

    /// [`Self::run_binary_portable`] compiled for AVX2 with POPCNT and BMI1: the bit counts of
    /// the label words in one instruction each (baseline x86-64 counts bits in a dozen), and the
    /// spacing checks four samples a step. The same source, so the same blocks.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,popcnt,bmi1")]
    unsafe fn run_binary_avx2<L>(
        &mut self,
        range: Range<usize>,
        x: impl Fn(usize) -> f64,
        (labels, one): (&[L], impl Fn(&L) -> bool),
        resolution: f64,
    ) {
        self.run_binary_portable(range, x, (labels, one), resolution);
    }

    #[inline(always)]
    fn run_binary_portable<L>(
        &mut self,
        range: Range<usize>,
        x: impl Fn(usize) -> f64,
        (labels, is_one): (&[L], impl Fn(&L) -> bool),
        resolution: f64,
    ) {
        debug_assert!(self.blocks.is_empty(), "run_binary starts a fit");
        let one = |i: usize| is_one(&labels[i]);
        let low_is_one = self.sign < 0.0; // decreasing: the high values are the zeros
        let mut stack = CountStack::new(low_is_one);
        let (start, end) = (range.start, range.end);
        // A point in progress: samples [begin, i) with `ones` ones, either a pair of runs
        // (fast words) or a tie group (slow words; its x is that of its first sample).
        let mut begin = start;
        let mut ones = 0i64;
        let mut pair = false; // the point in progress is a pair of runs, not a tie group
        let mut i = start;
        while i < end {
            let stop = (i + WORD).min(end);
            // A fast word: every sample, and the one after the word, opens a new tie group
            // (the range's first sample opens one by the caller's cut).
            let mut fast = stop - i == WORD;
            for j in i.max(start + 1)..(stop + 1).min(end) {
                fast &= x(j) - x(j - 1) >= resolution;
            }
            if fast {
                // A tie group in progress ends here (this word's first sample opens a group).
                if !pair && begin < i {
                    let gx = x(begin);
                    stack.add(gx, gx, ones, (i - begin) as i64);
                    begin = i;
                    ones = 0;
                }
                // The bits of the labels; a pair starts at a high label after a low one.
                let mut ys = 0u64;
                for (j, l) in labels[i..i + WORD].iter().enumerate() {
                    ys |= u64::from(is_one(l)) << j;
                }
                let high = if low_is_one { !ys } else { ys };
                let before = u64::from(begin < i && one(i - 1) != low_is_one);
                let mut starts = high & !((high << 1) | before);
                let mut counted = 0u32; // the ones of this word already in a closed point
                while starts != 0 {
                    let o = starts.trailing_zeros();
                    starts &= starts - 1;
                    let k = i + o as usize;
                    let below = (ys & ((1u64 << o) - 1)).count_ones();
                    ones += i64::from(below - counted);
                    counted = below;
                    if k > begin {
                        stack.add(x(begin), x(k - 1), ones, (k - begin) as i64);
                    }
                    begin = k;
                    ones = 0;
                }
                ones += i64::from(ys.count_ones() - counted);
                pair = true;
            } else {
                // Sample by sample through the tie groups; a pair in progress ends here (this
                // word's first sample opens a group: the word before checked it).
                if pair && begin < i {
                    stack.add(x(begin), x(i - 1), ones, (i - begin) as i64);
                    begin = i;
                    ones = 0;
                }
                pair = false;
                for j in i..stop {
                    if j > begin && x(j) - x(begin) >= resolution {
                        let gx = x(begin);
                        stack.add(gx, gx, ones, (j - begin) as i64);
                        begin = j;
                        ones = 0;
                    }
                    ones += i64::from(one(j));
                }
            }
            i = stop;
        }
        if begin < end {
            let last = if pair { x(end - 1) } else { x(begin) };
            stack.add(x(begin), last, ones, (end - begin) as i64);
        }
        self.blocks = stack.into_blocks();
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

/// Below this many points one thread runs PAVA; above, the two halves run in parallel (as
/// the sort's `PARALLEL_MIN`: below, the hand-off to a worker costs more than half the pass).
const PARALLEL_PAVA_MIN: usize = 1 << 18;

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

    /// The blocks of `run` and `run_binary` over samples `r` of sorted (x, y ∈ {0, 1}).
    fn both(x: &[f64], y: &[f64], r: Range<usize>, increasing: bool, res: f64) -> (Vec<Block>, Vec<Block>) {
        let mut general = Pava::new(increasing, x.len());
        general.run(r.clone().map(|i| (x[i], y[i], 1.0)), Some(res));
        let mut binary = Pava::new(increasing, x.len());
        binary.run_binary(r.clone(), |i| x[i], (y, |v: &f64| *v == 1.0), res);
        // every level's build of run_binary (the portable one and, where the CPU has it, AVX2)
        // gives the same blocks, exactly
        let key = |b: &Block| (b.first, b.last, b.sum, b.weight);
        for level in crate::simd::supported_levels() {
            let mut at = Pava::new(increasing, x.len());
            at.run_binary_at(level, r.clone(), |i| x[i], (y, |v: &f64| *v == 1.0), res);
            assert!(at.blocks.iter().map(key).eq(binary.blocks.iter().map(key)), "{level:?}");
        }
        (general.blocks, binary.blocks)
    }

    #[test]
    fn binary_runs_give_the_general_blocks() {
        let mut g = crate::rng::SplitMix64::new(5);
        let mut next = || g.next_f64();
        for case in 0..400 {
            let n = [1usize, 2, 63, 64, 65, 129, 200, 1000, 5000][case % 9];
            // spread-out x, x on a coarse grid (ties), or long stretches of one x among spread ones
            let grid = [0.0, 0.05, 0.001][case % 3];
            let mut x: Vec<f64> = (0..n)
                .map(|_| {
                    let u = next();
                    if grid > 0.0 && next() < 0.7 {
                        (u / grid).floor() * grid
                    } else {
                        u
                    }
                })
                .collect();
            x.sort_by(f64::total_cmp);
            let y: Vec<f64> = x
                .iter()
                .map(|&v| f64::from(u8::from(next() < v.powf(0.7 + case as f64 % 5.0))))
                .collect();
            let res = [1e-15, 1e-6, 0.01][case % 3 / 2 + case % 2];
            let lo = if case % 4 == 0 { n / 3 } else { 0 };
            for increasing in [true, false] {
                let (general, binary) = both(&x, &y, lo..n, increasing, res);
                if grid == 0.0 {
                    // no ties: every sum is an exact integer on both paths, so the blocks agree
                    let key = |b: &Block| (b.first, b.last, b.sum, b.weight);
                    assert!(general.iter().map(key).eq(binary.iter().map(key)), "case {case}");
                }
                // With ties the general loop pools a group as its rounded mean times its weight,
                // so equal means can compare unequal there and stay two blocks: compare the
                // fitted step functions (runs of values equal to 1e-12).
                let (a, b) = (steps(&general, increasing), steps(&binary, increasing));
                assert_eq!(a.len(), b.len(), "case {case}");
                for (a, b) in a.iter().zip(&b) {
                    assert_eq!((a.0, a.1), (b.0, b.1), "case {case}");
                    assert!((a.2 - b.2).abs() <= 1e-12, "case {case}");
                }
            }
        }
    }

    /// (first x, last x, value) of each run of blocks with values within 1e-12.
    fn steps(blocks: &[Block], increasing: bool) -> Vec<(f64, f64, f64)> {
        let sign = if increasing { 1.0 } else { -1.0 };
        let mut out: Vec<(f64, f64, f64)> = Vec::new();
        for b in blocks {
            let v = sign * b.sum / b.weight;
            match out.last_mut() {
                Some(s) if (s.2 - v).abs() <= 1e-12 => s.1 = b.last,
                _ => out.push((b.first, b.last, v)),
            }
        }
        out
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
