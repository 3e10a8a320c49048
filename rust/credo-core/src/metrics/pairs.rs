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

/// Digit bits of the first split (2048 buckets per class: a scatter's write streams stay few
/// enough for the caches and the TLB).
const TOP_BITS: u32 = 11;
/// Digit bits of the later splits, at most (2¹³ counters: 32 KiB, in L1).
const SUB_BITS: u32 = 13;
/// Buckets whose pairs are at most this many are compared pair by pair.
const BRUTE_PAIRS: usize = 24;
/// A bucket is split on both classes (and recursively) once a digit holds more keys of the
/// sorted class than this: comparing each query with every key of its digit would grow
/// quadratic.
const CLUSTER: u32 = 16;
/// Keys per parallel task after the first split.
const TASK_KEYS: usize = 1 << 16;
/// Samples per input chunk of the first split (counted, then scattered, in parallel), and the
/// most chunks: each has its own 2 × 2048 counters and write positions, and its keys of a
/// (bucket, class) fill a run of their own; with 8 chunks of 10⁶ samples such a run spans a few
/// cache lines, so few lines are written by two chunks, and 8 chunks share out evenly over 2
/// or 4 threads.
const CHUNK_KEYS: usize = 1 << 16;
const MAX_CHUNKS: usize = 8;
/// The largest key buffer kept per thread between calls: 2²⁰ keys (8 MiB). Repeated calls on
/// up to a million samples then reuse warm memory instead of page-faulting a fresh buffer.
const KEEP_KEYS: usize = 1 << 20;

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

/// Buffers of [`twice_outranking`] kept between calls (see [`KEEP_KEYS`]).
#[derive(Default)]
struct Split {
    /// The samples' keys, bucket after bucket, the positives of a bucket before its negatives.
    keys: Vec<u64>,
    /// Per input chunk, the counts of its positives in each bucket, then of its negatives;
    /// then where the chunk's next key of each (bucket, class) goes.
    counts: Vec<u32>,
    /// Where each bucket's positives start, then its negatives (the next bucket's start ends
    /// them); the last entry is the number of samples.
    bounds: Vec<u32>,
}

thread_local! {
    static SPLIT: std::cell::Cell<Split> = std::cell::Cell::new(Split::default());
}

/// The key buffer shared by the chunks of the scatter (see the SAFETY note there).
struct KeysPtr(*mut u64);
// SAFETY: only used for writes to disjoint slots of a live buffer no one else accesses meanwhile.
unsafe impl Sync for KeysPtr {}

/// Twice the number of pairs (positive p, negative n) with key(p) < key(n), plus the pairs
/// with key(p) = key(n), over the samples `items`, whose label is positive where `labels` is
/// 1.0 (any other label counts as negative), and whose keys all lie in `lo..=hi`. With keys
/// that ascend as scores descend ([`super::sort::desc_key`]) this is twice the AUROC
/// numerator, an exact integer, whatever the thread count.
///
/// The samples are read twice, never copied by class: each input chunk counts its samples per
/// (first-level bucket, class), and then writes each key straight to its place, the positives
/// of a bucket before its negatives (chunks in parallel, each into slots of its own).
pub fn twice_outranking<T: Copy + Sync>(
    (items, labels): (&[T], &[f64]),
    key: impl Fn(T) -> u64 + Sync,
    lo: u64,
    hi: u64,
) -> u64 {
    assert_eq!(items.len(), labels.len(), "a label per sample");
    assert!(u32::try_from(items.len()).is_ok(), "bucket offsets are u32");
    let width = bit_len(hi.wrapping_sub(lo));
    let bits = width.min(TOP_BITS);
    let shift = width - bits;
    let digits = (lo, shift, 1usize << bits);
    crate::scratch::with_scratch(
        &SPLIT,
        |split| {
            count_first_split(split, (items, labels), &key, digits);
            let mut twice = across_bounds(&split.bounds, shift == 0);
            if shift > 0 {
                scatter_first_split(split, (items, labels), &key, digits);
                twice += within_buckets(&split.keys[..items.len()], &split.bounds, lo, shift);
            }
            twice
        },
        |split| split.keys.capacity() <= KEEP_KEYS,
    )
}

/// The input chunks of the first split: how many, and the samples of chunk `c`.
fn chunking(n: usize) -> (usize, impl Fn(usize) -> std::ops::Range<usize>) {
    let chunks = (n / CHUNK_KEYS).clamp(1, MAX_CHUNKS);
    let per = n.div_ceil(chunks);
    (chunks, move |c: usize| c * per..((c + 1) * per).min(n))
}

/// How a key maps to its first-level bucket: `(lo, shift, buckets)`, the bucket being the
/// digit of `key - lo` above `shift`, out of `buckets` (a power of two).
type Digits = (u64, u32, usize);

/// The (bucket, class) slot of a sample: its bucket, plus `buckets` for a negative.
#[inline]
fn slot(k: u64, label: f64, (lo, shift, buckets): Digits) -> usize {
    digit(k, lo, shift, buckets - 1) + buckets * usize::from(label != 1.0)
}

/// Counts each chunk's samples per (bucket, class) into `split.counts`, then turns the counts
/// into each chunk's write positions and `split.bounds`.
fn count_first_split<T: Copy + Sync>(
    split: &mut Split,
    (items, labels): (&[T], &[f64]),
    key: &(impl Fn(T) -> u64 + Sync),
    digits: Digits,
) {
    let buckets = digits.2;
    let (chunks, range) = chunking(items.len());
    let counts = &mut split.counts;
    counts.clear();
    counts.resize(chunks * 2 * buckets, 0);
    crate::parallel::for_each_chunk_mut(counts, 2 * buckets, |c, cnt| {
        let r = range(c);
        for (&x, &y) in items[r.clone()].iter().zip(&labels[r]) {
            cnt[slot(key(x), y, digits)] += 1;
        }
    });
    let bounds = &mut split.bounds;
    bounds.clear();
    let mut at = 0u32;
    for s in 0..2 * buckets {
        // slot s = (bucket b, class): positives of b at 2b, negatives at 2b + 1 in `bounds`
        let class_slot = if s % 2 == 0 { s / 2 } else { buckets + s / 2 };
        bounds.push(at);
        for c in 0..chunks {
            let cnt = &mut counts[c * 2 * buckets + class_slot];
            (*cnt, at) = (at, at + *cnt);
        }
    }
    bounds.push(at);
}

/// Writes each sample's key to the position `count_first_split` left for it in
/// `split.counts`, into `split.keys`.
fn scatter_first_split<T: Copy + Sync>(
    split: &mut Split,
    (items, labels): (&[T], &[f64]),
    key: &(impl Fn(T) -> u64 + Sync),
    digits: Digits,
) {
    let buckets = digits.2;
    let n = items.len();
    let (_, range) = chunking(n);
    if split.keys.len() < n {
        split.keys.resize(n, 0);
    }
    let out = KeysPtr(split.keys.as_mut_ptr());
    crate::parallel::for_each_chunk_mut(&mut split.counts, 2 * buckets, |c, next| {
        let out = &out;
        let r = range(c);
        for (&x, &y) in items[r.clone()].iter().zip(&labels[r]) {
            let k = key(x);
            let at = &mut next[slot(k, y, digits)];
            debug_assert!((*at as usize) < n);
            // SAFETY: `keys` holds at least n keys. Chunk c's slots for a (bucket, class) are
            // the `count` positions from where `count_first_split` put its `next`, `count`
            // being how many of the chunk's samples that same `slot` sent there; these ranges
            // partition 0..n, so each position is written once, by one chunk.
            unsafe { out.0.add(*at as usize).write(k) };
            *at += 1;
        }
    });
}

/// The pairs in different buckets, from the class bounds of every bucket (buckets ascend with
/// the keys, so every positive in an earlier bucket is below every negative in a later one);
/// with `ties`, each bucket holds a single key value and its own pairs, all ties, are added
/// too.
fn across_bounds(bounds: &[u32], ties: bool) -> u64 {
    let (mut twice, mut below) = (0u64, 0u64);
    for b in bounds.windows(3).step_by(2) {
        let (cp, cn) = (u64::from(b[1] - b[0]), u64::from(b[2] - b[1]));
        twice += 2 * below * cn + if ties { cp * cn } else { 0 };
        below += cp;
    }
    twice
}

/// The pairs within each bucket of `keys` (laid out as `bounds` says; bucket b spans the keys
/// `lo + b·2^shift..lo + (b + 1)·2^shift`), in parallel tasks of whole buckets of about
/// [`TASK_KEYS`] keys.
fn within_buckets(keys: &[u64], bounds: &[u32], lo: u64, shift: u32) -> u64 {
    let buckets = bounds.len() / 2;
    let mut cuts = vec![0];
    for b in 0..buckets {
        if (bounds[2 * b + 2] - bounds[2 * cuts[cuts.len() - 1]]) as usize >= TASK_KEYS || b + 1 == buckets {
            cuts.push(b + 1);
        }
    }
    let run = |t: usize| {
        let mut scratch = Scratch::default();
        let mut sum = 0u64;
        for b in cuts[t]..cuts[t + 1] {
            let w = &bounds[2 * b..2 * b + 3];
            let (s, m, e) = (w[0] as usize, w[1] as usize, w[2] as usize);
            if (s < m) & (m < e) {
                let base = lo + ((b as u64) << shift);
                sum += within(&keys[s..m], &keys[m..e], base, shift, &mut scratch);
            }
        }
        sum
    };
    crate::parallel::map_range(cuts.len() - 1, 1, run).iter().sum()
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

/// [`twice_outranking`] of the keys of one bucket, all within `base..base + 2^width`: the
/// smaller class is sorted on digits of that range, and the other class's keys look their
/// place up in it ([`below`]). Every pair counts 2 between its two orders (a tie 1 each), so
/// the count with the classes swapped gives this one.
fn within(p: &[u64], n: &[u64], base: u64, width: u32, scratch: &mut Scratch) -> u64 {
    if let Some(twice) = small(p, n, width) {
        return twice;
    }
    if p.len() <= n.len() {
        below(p, n, base, width, scratch)
    } else {
        2 * (p.len() * n.len()) as u64 - below(n, p, base, width, scratch)
    }
}

/// Σ over pairs (s of `sorted`, q of `queries`) of 2·1(s < q) + 1(s = q), all keys within
/// `base..base + 2^width`. The keys of `sorted` are counting-sorted (into `scratch`) on
/// digits of that range, two to four digits per key; each query then counts the keys of lower
/// digits at once (the start of its digit) and compares itself with those of its own digit,
/// the first two without a branch (a digit rarely holds more: a branch on their number would
/// be mispredicted about once a query). A digit crowded with keys of `sorted` sends the
/// bucket to [`split_both`] instead.
fn below(sorted: &[u64], queries: &[u64], base: u64, width: u32, scratch: &mut Scratch) -> u64 {
    let bits = (bit_len(sorted.len() as u64) + 1).min(SUB_BITS).min(width);
    let (shift, mask) = (width - bits, (1usize << bits) - 1);
    // starts[d + 1]: first the count of digit d, then its start, then (after the scatter) its
    // end; starts[0] stays 0, so digit d spans starts[d]..starts[d + 1] in the end.
    let starts = &mut scratch.starts;
    starts.clear();
    starts.resize(mask + 2, 0);
    for &k in sorted {
        starts[digit(k, base, shift, mask) + 1] += 1;
    }
    let (mut run, mut most) = (0u32, 0u32);
    for c in starts[1..].iter_mut() {
        most = most.max(*c);
        (*c, run) = (run, run + *c);
    }
    if most > CLUSTER {
        return split_both(sorted, queries);
    }
    // two padding keys past the end: a query reads the first two keys of its digit whatever
    // the digit holds, and masks out those that are not its own
    let keys = &mut scratch.keys;
    keys.resize(sorted.len() + 2, 0);
    for &k in sorted {
        let d = digit(k, base, shift, mask) + 1;
        keys[starts[d] as usize] = k;
        starts[d] += 1;
    }
    let mut twice = 0u64;
    for &k in queries {
        let d = digit(k, base, shift, mask);
        let (s, e) = (starts[d] as usize, starts[d + 1] as usize);
        let pair = |a: u64, own: bool| u64::from(own) * (u64::from(a < k) + u64::from(a <= k));
        twice += 2 * s as u64 + pair(keys[s], e > s) + pair(keys[s + 1], e > s + 1);
        if e > s + 2 {
            twice += brute(&keys[s + 2..e], &[k]);
        }
    }
    twice
}

/// [`within`] for keys that crowd into few digits (clustered or tied scores): both classes
/// are split on the same digits of their actual range, the pairs across digits counted from
/// the two histograms, and each digit holding both classes counted on its own (by [`within`]
/// again, on a narrower range, so the recursion ends).
fn split_both(p: &[u64], n: &[u64]) -> u64 {
    let (lo, hi) = p
        .iter()
        .chain(n)
        .fold((u64::MAX, 0), |(lo, hi), &k| (lo.min(k), hi.max(k)));
    let width = bit_len(hi - lo);
    if let Some(twice) = small(p, n, width) {
        return twice;
    }
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
    for (d, (&ep, &en)) in ends_p.iter().zip(&ends_n).enumerate() {
        let (ep, en) = (ep as usize, en as usize);
        if (ep > sp) & (en > sn) {
            let base = lo + ((d as u64) << shift);
            twice += within(&kp[sp..ep], &kn[sn..en], base, shift, &mut scratch);
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

    /// The count through the public entry, range and all, on the two classes interleaved
    /// (positives labelled 1, negatives 0).
    fn count(pos: &[u64], neg: &[u64]) -> u64 {
        let all = pos.iter().chain(neg);
        let (lo, hi) = (all.clone().copied().min().unwrap_or(0), all.copied().max().unwrap_or(0));
        let (mut keys, mut labels) = (Vec::new(), Vec::new());
        for i in 0..pos.len().max(neg.len()) {
            for (class, label) in [(pos, 1.0), (neg, 0.0)] {
                if let Some(&k) = class.get(i) {
                    keys.push(k);
                    labels.push(label);
                }
            }
        }
        twice_outranking((&keys, &labels), |k| k, lo, hi)
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
    fn digits_holding_a_few_keys_of_the_sorted_class() {
        // runs of 3 to 5 close keys share a digit of the in-bucket sort (past the two read
        // without a branch, short of a crowded digit), interleaved with the other class
        for run in [3u64, 4, 5] {
            let few: Vec<u64> = (0..30_000u64).map(|i| (i / run) * 1000 + i % run * 2).collect();
            let many: Vec<u64> = (0..90_000u64).map(|i| i * 333 % 10_000_019 + 1).collect();
            assert_eq!(count(&few, &many), reference(&few, &many), "runs of {run}");
            assert_eq!(count(&many, &few), reference(&many, &few), "runs of {run}, swapped");
        }
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
