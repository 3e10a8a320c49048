//! Counting the outranking pairs between two classes of sort keys without sorting either class:
//! AUROC needs only Σ over (positive, negative) pairs of 1(positive ranks higher) + ½·1(tie), the
//! Mann–Whitney U, not the order of the samples.
//!
//! Both classes are split on the same leading digits of `key − lo` (a most-significant-digit
//! bucketing whose digits adapt to the keys' range). Pairs in different buckets are counted
//! from the two bucket histograms alone; only the pairs that share a bucket are split further,
//! and the few that share a final bucket are compared one by one. Two passes over memory (one
//! histogram, one scatter), then work in cache; every count is an exact integer, so how the
//! buckets are shared out over threads cannot change the result.

/// Digit bits of the first split (2048 buckets: a scatter's write streams stay few enough for
/// the caches and the TLB).
const TOP_BITS: u32 = 11;
/// Digit bits of the later splits, at most (2¹³ counters: 32 KiB, in L1).
const SUB_BITS: u32 = 13;
/// Buckets whose pairs are at most this many are compared pair by pair.
const BRUTE_PAIRS: usize = 24;
/// A bucket is split on both classes (and recursively) once a digit holds more positives than
/// this: comparing each negative with every positive of its digit would grow quadratic.
const CLUSTER: u32 = 16;
/// Keys per parallel task after the first split.
const TASK_KEYS: usize = 1 << 16;

/// The number of significant bits of `x` (0 for 0).
fn bit_len(x: u64) -> u32 {
    u64::BITS - x.leading_zeros()
}

/// The digit of `k` (≥ `base`) on the bits above `shift`, masked to `mask` (which only spares
/// the caller a bounds check: callers choose `shift` so that the digit fits).
#[inline]
fn digit(k: u64, base: u64, shift: u32, mask: usize) -> usize {
    ((k - base) >> shift) as usize & mask
}

/// Twice the number of pairs (p, n) with p < n, plus the pairs with p = n, over the keys
/// `pos` and `neg`, all within `lo..=hi`. With keys that ascend as scores descend
/// ([`super::sort::desc_key`]) this is twice the AUROC numerator, an exact integer. `pos_tmp`
/// and `neg_tmp` (as long as `pos` and `neg`) are scratch.
pub fn twice_outranking(
    (pos, neg): (&[u64], &[u64]),
    (pos_tmp, neg_tmp): (&mut [u64], &mut [u64]),
    lo: u64,
    hi: u64,
) -> u64 {
    debug_assert!(pos.iter().chain(neg).all(|k| (lo..=hi).contains(k)));
    let width = bit_len(hi - lo);
    if let Some(twice) = small(pos, neg, width) {
        return twice;
    }
    let bits = width.min(TOP_BITS);
    let shift = width - bits;
    let (mut ends_p, mut ends_n) = (vec![0u32; 1 << bits], vec![0u32; 1 << bits]);
    // Each class is bucketed on its own, in parallel when large enough to pay for a hand-off.
    let mut split_p = || scatter(pos, pos_tmp, lo, shift, &mut ends_p);
    let mut split_n = || scatter(neg, neg_tmp, lo, shift, &mut ends_n);
    if pos.len() + neg.len() >= 2 * TASK_KEYS {
        crate::parallel::join(split_p, split_n);
    } else {
        split_p();
        split_n();
    }
    let mut twice = across(&ends_p, &ends_n, shift == 0);
    if shift == 0 {
        return twice;
    }
    // Pairs within a bucket: runs of whole buckets of about TASK_KEYS keys, one task each.
    let tasks = task_cuts(&ends_p, &ends_n);
    let (pos_tmp, neg_tmp) = (&*pos_tmp, &*neg_tmp);
    let run = |t: usize| {
        let mut scratch = Scratch::default();
        let mut sum = 0u64;
        for b in tasks[t]..tasks[t + 1] {
            let start = |ends: &[u32]| if b == 0 { 0 } else { ends[b - 1] as usize };
            let p = &pos_tmp[start(&ends_p)..ends_p[b] as usize];
            let n = &neg_tmp[start(&ends_n)..ends_n[b] as usize];
            sum += within(p, n, &mut scratch);
        }
        sum
    };
    twice += crate::parallel::map_range(tasks.len() - 1, 1, run).iter().sum::<u64>();
    twice
}

/// Bucket indices that cut the buckets into runs of about [`TASK_KEYS`] keys (from 0 to the
/// bucket count).
fn task_cuts(ends_p: &[u32], ends_n: &[u32]) -> Vec<usize> {
    let mut cuts = vec![0];
    let mut first = 0usize;
    for b in 0..ends_p.len() {
        let end = ends_p[b] as usize + ends_n[b] as usize;
        if end - first >= TASK_KEYS || b + 1 == ends_p.len() {
            cuts.push(b + 1);
            first = end;
        }
    }
    cuts
}

/// Counting-sorts `keys` into `out` by their digit above `shift` (< `ends.len()`, a power of
/// two); `ends` then holds each digit's end in `out`.
fn scatter(keys: &[u64], out: &mut [u64], base: u64, shift: u32, ends: &mut [u32]) {
    let mask = ends.len() - 1;
    ends.fill(0);
    for &k in keys {
        ends[digit(k, base, shift, mask)] += 1;
    }
    let mut run = 0u32;
    for c in ends.iter_mut() {
        (*c, run) = (run, run + *c);
    }
    for &k in keys {
        let d = digit(k, base, shift, mask);
        out[ends[d] as usize] = k;
        ends[d] += 1;
    }
}

/// The pairs in different buckets, from the buckets' end offsets (buckets ascend with the
/// keys, so every positive in an earlier bucket is below every negative in a later one); with
/// `ties`, each bucket holds a single key value and its own pairs, all ties, are added too.
fn across(ends_p: &[u32], ends_n: &[u32], ties: bool) -> u64 {
    let (mut twice, mut prev_p, mut prev_n) = (0u64, 0u32, 0u32);
    for (&ep, &en) in ends_p.iter().zip(ends_n) {
        let (cp, cn) = (u64::from(ep - prev_p), u64::from(en - prev_n));
        twice += 2 * u64::from(prev_p) * cn + if ties { cp * cn } else { 0 };
        (prev_p, prev_n) = (ep, en);
    }
    twice
}

/// Buffers reused from one bucket to the next (they stay in cache).
#[derive(Default)]
struct Scratch {
    keys: Vec<u64>,
    starts: Vec<u32>,
}

/// [`twice_outranking`] of the keys of one bucket. The positives are counting-sorted (into
/// `scratch`) on about two digits each of their actual range; each negative then counts the
/// positives of lower digits at once (the start of its digit) and compares itself with those
/// of its own digit, a handful. A digit crowded with positives sends the bucket to
/// [`split_both`] instead.
fn within(p: &[u64], n: &[u64], scratch: &mut Scratch) -> u64 {
    let (lo, hi) = p
        .iter()
        .chain(n)
        .fold((u64::MAX, 0), |(lo, hi), &k| (lo.min(k), hi.max(k)));
    let width = bit_len(hi.wrapping_sub(lo));
    if let Some(twice) = small(p, n, width) {
        return twice;
    }
    let bits = (bit_len(p.len() as u64) + 1).min(SUB_BITS).min(width);
    let (shift, mask) = (width - bits, (1usize << bits) - 1);
    // starts[d + 1]: first the count of digit d, then its start, then (after the scatter) its
    // end; starts[0] stays 0, so digit d spans starts[d]..starts[d + 1] in the end.
    let starts = &mut scratch.starts;
    starts.clear();
    starts.resize(mask + 2, 0);
    for &k in p {
        starts[digit(k, lo, shift, mask) + 1] += 1;
    }
    let (mut run, mut most) = (0u32, 0u32);
    for c in starts[1..].iter_mut() {
        most = most.max(*c);
        (*c, run) = (run, run + *c);
    }
    if most > CLUSTER {
        return split_both(p, n, lo, width);
    }
    let sorted = &mut scratch.keys;
    sorted.resize(p.len(), 0);
    for &k in p {
        let d = digit(k, lo, shift, mask) + 1;
        sorted[starts[d] as usize] = k;
        starts[d] += 1;
    }
    let mut twice = 0u64;
    for &k in n {
        let d = digit(k, lo, shift, mask);
        let (s, e) = (starts[d] as usize, starts[d + 1] as usize);
        twice += 2 * s as u64 + brute(&sorted[s..e], &[k]);
    }
    twice
}

/// [`within`] for a bucket whose positives crowd into few digits (clustered or tied scores):
/// both classes are split on the same digits of `lo..lo + 2^width`, the pairs across
/// digits counted from the two histograms, and each digit holding both classes counted on its
/// own (by [`within`] again, on a narrower range, so the recursion ends).
fn split_both(p: &[u64], n: &[u64], lo: u64, width: u32) -> u64 {
    let bits = (bit_len((p.len() + n.len()) as u64) + 1).min(SUB_BITS).min(width);
    let shift = width - bits;
    let (mut kp, mut kn) = (vec![0u64; p.len()], vec![0u64; n.len()]);
    let (mut ends_p, mut ends_n) = (vec![0u32; 1 << bits], vec![0u32; 1 << bits]);
    scatter(p, &mut kp, lo, shift, &mut ends_p);
    scatter(n, &mut kn, lo, shift, &mut ends_n);
    let mut twice = across(&ends_p, &ends_n, shift == 0);
    if shift == 0 {
        return twice;
    }
    let mut scratch = Scratch::default();
    let (mut sp, mut sn) = (0usize, 0usize);
    for (&ep, &en) in ends_p.iter().zip(&ends_n) {
        let (ep, en) = (ep as usize, en as usize);
        if (ep > sp) & (en > sn) {
            twice += within(&kp[sp..ep], &kn[sn..en], &mut scratch);
        }
        (sp, sn) = (ep, en);
    }
    twice
}

/// The count without splitting when it is immediate: a class is empty, every key is equal
/// (`width` 0: all pairs tie), or few enough pairs to compare one by one.
fn small(p: &[u64], n: &[u64], width: u32) -> Option<u64> {
    if p.is_empty() || n.is_empty() || width == 0 {
        Some((p.len() * n.len()) as u64)
    } else if p.len() * n.len() <= BRUTE_PAIRS {
        Some(brute(p, n))
    } else {
        None
    }
}

/// Twice the outranking pairs by comparing every pair.
fn brute(p: &[u64], n: &[u64]) -> u64 {
    p.iter()
        .map(|&a| n.iter().map(|&b| u64::from(a < b) + u64::from(a <= b)).sum::<u64>())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::sort::desc_key;

    /// xorshift64: a fixed stream of test keys.
    struct Gen(u64);
    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// The count through the public entry: range, scratch and all.
    fn count(pos: &[u64], neg: &[u64]) -> u64 {
        let all = pos.iter().chain(neg);
        let (lo, hi) = (all.clone().copied().min().unwrap_or(0), all.copied().max().unwrap_or(0));
        let (mut tp, mut tn) = (vec![0; pos.len()], vec![0; neg.len()]);
        twice_outranking((pos, neg), (&mut tp, &mut tn), lo, hi)
    }

    /// The reference: both classes sorted, each negative's lower and equal positives found by
    /// binary search.
    fn reference(pos: &[u64], neg: &[u64]) -> u64 {
        let mut p = pos.to_vec();
        p.sort_unstable();
        neg.iter()
            .map(|k| (p.partition_point(|q| q < k) + p.partition_point(|q| q <= k)) as u64)
            .sum()
    }

    /// Scores of many shapes: smooth, skewed toward 1, heavily tied, clustered within a few
    /// ulps, signed with ±0, spread over the whole exponent range, and mixtures with outliers.
    fn scores(shape: usize, n: usize, g: &mut Gen) -> Vec<f64> {
        (0..n)
            .map(|i| match shape {
                0 => g.unit(),
                1 => g.unit().powf(0.2),
                2 => (g.unit() * 20.0).floor() / 20.0,
                3 => 0.5 + (g.next() % 40) as f64 * f64::EPSILON,
                4 => [-0.0, 0.0, -1.5, 2.0][i % 4] * (g.unit() < 0.5) as u8 as f64,
                5 => f64::from_bits(g.next() >> 2) * if g.next() & 1 == 0 { 1.0 } else { -1.0 },
                6 => (g.unit() - 0.5) * 1e-300,
                _ => {
                    if i % 1000 == 0 {
                        [f64::MAX, -f64::MAX, 1e-310, 1e300][i / 1000 % 4]
                    } else {
                        0.25 + g.unit() * 1e-9
                    }
                }
            })
            .collect()
    }

    #[test]
    fn counts_equal_the_sorted_reference_on_every_shape() {
        let mut g = Gen(0x853C_49E6_748F_EA9B);
        for shape in 0..8 {
            for n in [1usize, 2, 7, 30, 1000, 20_000, 300_000] {
                for share in [1u64, 3, 20] {
                    let s = scores(shape, n, &mut g);
                    let (mut pos, mut neg) = (Vec::new(), Vec::new());
                    for &x in &s {
                        if g.next().is_multiple_of(share) {
                            &mut pos
                        } else {
                            &mut neg
                        }
                        .push(desc_key(x));
                    }
                    let want = reference(&pos, &neg);
                    assert_eq!(count(&pos, &neg), want, "shape {shape}, n {n}, 1/{share} positive");
                    assert_eq!(count(&neg, &pos), 2 * (pos.len() * neg.len()) as u64 - want);
                }
            }
        }
    }

    #[test]
    fn counts_do_not_depend_on_the_thread_count() {
        let mut g = Gen(7);
        let s = scores(1, 600_000, &mut g);
        let (pos, neg): (Vec<u64>, Vec<u64>) = (
            s[..400_000].iter().map(|&x| desc_key(x)).collect(),
            s[400_000..].iter().map(|&x| desc_key(x)).collect(),
        );
        let one = crate::parallel::with_threads(Some(1), || count(&pos, &neg)).unwrap();
        let two = crate::parallel::with_threads(Some(2), || count(&pos, &neg)).unwrap();
        assert_eq!((one, two), (reference(&pos, &neg), one));
    }

    #[test]
    fn keys_at_the_ends_of_the_key_space() {
        let (pos, neg) = (vec![0, u64::MAX, 5, 5], vec![u64::MAX, 0, 5, 1 << 63]);
        assert_eq!(count(&pos, &neg), reference(&pos, &neg));
        let many: Vec<u64> = (0..5000u64).map(|i| if i % 2 == 0 { 0 } else { u64::MAX }).collect();
        assert_eq!(
            count(&many[..3000], &many[3000..]),
            reference(&many[..3000], &many[3000..])
        );
    }
}
