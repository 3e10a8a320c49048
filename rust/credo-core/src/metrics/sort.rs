//! A stable LSD radix argsort of f64 scores in descending order, with groups of tied scores.
//!
//! Ranking metrics are dominated by the sort; a radix sort on the order-preserving integer image
//! of the floats is several times faster than a comparison sort on 10⁶ scores, and being stable
//! it gives the "stable" tie order anchors such as MAPIE use, for free.

/// Scores sorted by decreasing value: `order[r]` is the sample at rank r; `ends` holds the
/// exclusive end rank of each group of equal scores.
#[derive(Clone, Debug)]
pub struct Ranked {
    pub order: Vec<u32>,
    pub ends: Vec<u32>,
    pub sorted: Vec<f64>,
}

/// Order-preserving map of a (non-NaN) f64 onto u64; −0.0 and 0.0 map to the same key.
#[inline]
fn ascending_key(x: f64) -> u64 {
    let bits = (x + 0.0).to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

const SMALL: usize = 512;

/// Stable argsort by decreasing score (ties keep their input order).
pub fn argsort_desc(scores: &[f64]) -> Vec<u32> {
    let n = scores.len();
    let mut keys: Vec<u64> = scores.iter().map(|&x| !ascending_key(x)).collect();
    let mut idx: Vec<u32> = (0..n as u32).collect();
    if n <= SMALL {
        idx.sort_by_key(|&i| keys[i as usize]);
        return idx;
    }
    // Six 11-bit digits (2048 buckets: the counters stay in L1); all histograms in one pass,
    // digits shared by every key are skipped.
    const BITS: usize = 11;
    const BUCKETS: usize = 1 << BITS;
    const MASK: u64 = (BUCKETS - 1) as u64;
    let mut hist = vec![[0u32; BUCKETS]; 6];
    for &k in &keys {
        for (d, h) in hist.iter_mut().enumerate() {
            h[((k >> (BITS * d)) & MASK) as usize] += 1;
        }
    }
    let mut keys2 = vec![0u64; n];
    let mut idx2 = vec![0u32; n];
    for (d, h) in hist.iter().enumerate() {
        if h.iter().any(|&c| c as usize == n) {
            continue;
        }
        let mut offs = [0u32; BUCKETS];
        let mut run = 0u32;
        for (o, &c) in offs.iter_mut().zip(h.iter()) {
            *o = run;
            run += c;
        }
        let shift = BITS * d;
        for (&k, &i) in keys.iter().zip(idx.iter()) {
            let b = ((k >> shift) & MASK) as usize;
            let dst = offs[b] as usize;
            keys2[dst] = k;
            idx2[dst] = i;
            offs[b] += 1;
        }
        std::mem::swap(&mut keys, &mut keys2);
        std::mem::swap(&mut idx, &mut idx2);
    }
    idx
}

/// The descending-order keys of `scores`, sorted (keys only: no index payload, half the memory
/// traffic of [`argsort_desc`]). Equal keys mean equal scores.
pub fn sorted_keys_desc(scores: &[f64]) -> Vec<u64> {
    sort_keys(scores.iter().map(|&x| desc_key(x)).collect())
}

/// The key [`sorted_keys_desc`] sorts `x` by: keys ascend as scores descend.
#[inline]
pub fn desc_key(x: f64) -> u64 {
    !ascending_key(x)
}

/// Sorts keys made by [`desc_key`] (an LSD radix sort of the keys alone).
pub fn sort_keys(mut keys: Vec<u64>) -> Vec<u64> {
    let mut tmp = vec![0u64; keys.len()];
    if sort_keys_in(&mut keys, &mut tmp) {
        tmp
    } else {
        keys
    }
}

/// Sorts `keys` ascending with `tmp` (as long) as the other buffer of the LSD radix sort;
/// returns whether the sorted keys ended up in `tmp` (else in `keys`). No allocation.
pub fn sort_keys_in(keys: &mut [u64], tmp: &mut [u64]) -> bool {
    assert_eq!(keys.len(), tmp.len(), "the radix sort's two buffers differ in length");
    if keys.len() <= SMALL {
        keys.sort_unstable();
        return false;
    }
    // Six 11-bit digits (2048 buckets: the counters stay in L1); all histograms in one pass,
    // digits shared by every key are skipped.
    const BITS: usize = 11;
    const BUCKETS: usize = 1 << BITS;
    const MASK: u64 = (BUCKETS - 1) as u64;
    let n = keys.len();
    let mut hist = vec![[0u32; BUCKETS]; 6];
    for &k in keys.iter() {
        for (d, h) in hist.iter_mut().enumerate() {
            h[((k >> (BITS * d)) & MASK) as usize] += 1;
        }
    }
    let (mut src, mut dst) = (keys, tmp);
    let mut in_tmp = false;
    for (d, h) in hist.iter().enumerate() {
        if h.iter().any(|&c| c as usize == n) {
            continue;
        }
        let mut offs = [0u32; BUCKETS];
        let mut run = 0u32;
        for (o, &c) in offs.iter_mut().zip(h.iter()) {
            *o = run;
            run += c;
        }
        let shift = BITS * d;
        for &k in src.iter() {
            let b = ((k >> shift) & MASK) as usize;
            dst[offs[b] as usize] = k;
            offs[b] += 1;
        }
        std::mem::swap(&mut src, &mut dst);
        in_tmp = !in_tmp;
    }
    in_tmp
}

/// Sorts `scores` decreasingly and groups equal values.
pub fn rank_desc(scores: &[f64]) -> Ranked {
    let order = argsort_desc(scores);
    let sorted: Vec<f64> = order.iter().map(|&i| scores[i as usize] + 0.0).collect();
    let mut ends = Vec::new();
    for r in 1..sorted.len() {
        if sorted[r] != sorted[r - 1] {
            ends.push(r as u32);
        }
    }
    if !sorted.is_empty() {
        ends.push(sorted.len() as u32);
    }
    Ranked { order, ends, sorted }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radix_matches_stable_comparison_sort() {
        let n = 5000;
        let xs: Vec<f64> = (0..n)
            .map(|i| (((i * 7919) % 1013) as f64 / 97.0 - 5.0).round() / 3.0)
            .collect();
        let mut expect: Vec<u32> = (0..n as u32).collect();
        expect.sort_by(|&a, &b| xs[b as usize].partial_cmp(&xs[a as usize]).unwrap());
        assert_eq!(argsort_desc(&xs), expect);
        let r = rank_desc(&[0.5, -0.0, 0.5, 0.0, 1.0]);
        assert_eq!(r.order, vec![4, 0, 2, 1, 3]);
        assert_eq!(r.ends, vec![1, 3, 5]);
    }

    #[test]
    fn radix_sort_in_place_sorts_and_reports_its_buffer() {
        for n in [0usize, 1, 511, 512, 513, 5000, 70_000] {
            let keys: Vec<u64> = (0..n as u64)
                .map(|i| desc_key(((i.wrapping_mul(2_654_435_761)) % 100_003) as f64 / 7.0 - 3000.0))
                .collect();
            let mut want = keys.clone();
            want.sort_unstable();
            let (mut a, mut b) = (keys.clone(), vec![0u64; n]);
            let in_tmp = sort_keys_in(&mut a, &mut b);
            assert_eq!(if in_tmp { &b } else { &a }, &want, "n = {n}");
        }
    }
}
