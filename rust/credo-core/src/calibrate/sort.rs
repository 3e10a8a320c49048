//! Sorting (x, y, w) samples by x for the isotonic fit.
//!
//! A comparison sort of 10⁶ records costs more than everything else in the fit together, so the
//! records are scattered into up to 1024 buckets by their position in [min x, max x] (a
//! monotone map, so bucket order is x order), recursively, until buckets are small enough for an
//! insertion sort. Buckets stay cache-sized after one level; a bucket that collects a cluster is
//! split again on its own range, and one that cannot be split falls back to a comparison sort.
//! Records compare on (x, y, w), a total order, so the result does not depend on the input order
//! or the algorithm: sums over ties are reproducible.

use rayon::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Rec {
    pub x: f64,
    pub y: f64,
    pub w: f64,
}

fn cmp(a: &Rec, b: &Rec) -> std::cmp::Ordering {
    a.x.total_cmp(&b.x).then(a.y.total_cmp(&b.y)).then(a.w.total_cmp(&b.w))
}

/// `cmp(a, b) == Less`, deciding on x with one float comparison in the common case (records are
/// finite, so `<` and `total_cmp` agree on distinct x; ±0 fall through to `cmp`).
#[inline]
fn less(a: &Rec, b: &Rec) -> bool {
    if a.x < b.x {
        true
    } else if a.x > b.x {
        false
    } else {
        cmp(a, b).is_lt()
    }
}

/// The samples with positive weight as records sorted by (x, y, w). `lo`/`hi` are min/max of x.
///
/// The first level scatters straight from the input slices into the output (no intermediate
/// copy); its buckets (each ~n/1024 records, cache-sized) are then finished in place, in parallel
/// for large inputs. Each bucket's sorted content is unique (a total order), so the result does
/// not depend on the thread count.
pub(crate) fn sorted_records(x: &[f64], y: &[f64], w: Option<&[f64]>, lo: f64, hi: f64) -> Vec<Rec> {
    let n = x.len();
    let keep = |i: usize| w.is_none_or(|w| w[i] > 0.0);
    let rec = |i: usize| Rec {
        x: x[i],
        y: y[i],
        w: w.map_or(1.0, |w| w[i]),
    };
    let span = hi - lo;
    if n <= SMALL || !(span.is_finite() && span > 0.0) {
        let mut recs: Vec<Rec> = (0..n).filter(|&i| keep(i)).map(rec).collect();
        recs.sort_unstable_by(cmp);
        return recs;
    }
    let nb = (n / 8).clamp(2, 1024);
    let scale = nb as f64 / span;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let bucket = |x: f64| (((x - lo) * scale) as usize).min(nb - 1);
    // Fixed chunks of the input (not one per thread): counted, then scattered, in parallel.
    // Chunk c writes bucket b's records to its own slots [off[c][b], off[c][b] + count[c][b]),
    // after those of chunks < c: the same layout as a sequential scatter, whatever the threads.
    let chunks = if n >= PARALLEL_MIN { SCATTER_CHUNKS } else { 1 };
    let per = n.div_ceil(chunks);
    let count_chunk = |c: usize| {
        let mut cnt = vec![0usize; nb];
        for i in c * per..((c + 1) * per).min(n) {
            if keep(i) {
                cnt[bucket(x[i])] += 1;
            }
        }
        cnt
    };
    let counts: Vec<Vec<usize>> = if chunks > 1 {
        (0..chunks).into_par_iter().map(count_chunk).collect()
    } else {
        vec![count_chunk(0)]
    };
    let mut starts = vec![0usize; nb + 1];
    let mut offsets = vec![vec![0usize; nb]; chunks];
    let mut pos = 0;
    for b in 0..nb {
        starts[b] = pos;
        for c in 0..chunks {
            offsets[c][b] = pos;
            pos += counts[c][b];
        }
    }
    starts[nb] = pos;
    let m = pos;
    let mut out: Vec<Rec> = Vec::with_capacity(m);
    let base = OutPtr(out.as_mut_ptr());
    let scatter_chunk = |(c, fill): (usize, &mut Vec<usize>)| {
        let base = &base;
        for i in c * per..((c + 1) * per).min(n) {
            if keep(i) {
                let slot = &mut fill[bucket(x[i])];
                // SAFETY: `out` has capacity m. The slots of chunk c for bucket b are
                // [offsets[c][b], offsets[c][b] + counts[c][b]), which lie in 0..m and are
                // disjoint from every other (chunk, bucket) pair; this loop visits exactly
                // counts[c][b] samples of that pair (the same `keep` and `bucket` as the count),
                // so every slot is written once and no two threads write the same slot.
                unsafe { base.0.add(*slot).write(rec(i)) };
                *slot += 1;
            }
        }
    };
    if chunks > 1 {
        offsets.par_iter_mut().enumerate().for_each(scatter_chunk);
    } else {
        offsets.iter_mut().enumerate().for_each(scatter_chunk);
    }
    // SAFETY: all m slots were initialised above (the per-pair ranges partition 0..m), and
    // `Rec` is plain data.
    unsafe { out.set_len(m) };
    let mut parts: Vec<&mut [Rec]> = Vec::with_capacity(nb);
    let mut rest: &mut [Rec] = &mut out;
    for b in starts.windows(2) {
        let (head, tail) = rest.split_at_mut(b[1] - b[0]);
        parts.push(head);
        rest = tail;
    }
    if n >= PARALLEL_MIN {
        parts
            .par_iter_mut()
            .for_each_init(Vec::new, |tmp, part| sort_slice(part, tmp));
    } else {
        let mut tmp = Vec::new();
        parts.iter_mut().for_each(|part| sort_slice(part, &mut tmp));
    }
    out
}

const SMALL: usize = 24;
/// Input chunks of the parallel first-level scatter (fixed, so the layout never depends on the
/// thread count).
const SCATTER_CHUNKS: usize = 4;

/// The output buffer of the scatter, shared by the chunk workers (see the SAFETY notes there).
struct OutPtr(*mut Rec);
// SAFETY: the pointer is only used for writes to disjoint slots while `out` is alive and not
// otherwise accessed; `Rec` is plain `f64` data.
unsafe impl Sync for OutPtr {}
/// Below this many records waking worker threads costs more than the second level saves.
const PARALLEL_MIN: usize = 50_000;

/// Buckets `s` by x (via `tmp`), in place; returns the bucket boundaries, or None when all x
/// are equal (nothing to split on).
fn scatter(s: &mut [Rec], tmp: &mut [Rec]) -> Option<Vec<usize>> {
    let (lo, hi) = s.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), r| {
        (lo.min(r.x), hi.max(r.x))
    });
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) {
        return None;
    }
    let nb = (s.len() / 4).clamp(2, 1024);
    let scale = nb as f64 / span;
    // Monotone in x: a subtraction, a positive scaling and a float-to-int cast each keep order.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let bucket = |x: f64| (((x - lo) * scale) as usize).min(nb - 1);
    let mut starts = vec![0usize; nb + 1];
    for r in s.iter() {
        starts[bucket(r.x) + 1] += 1;
    }
    for b in 0..nb {
        starts[b + 1] += starts[b];
    }
    let mut fill = starts.clone();
    for r in s.iter() {
        let slot = &mut fill[bucket(r.x)];
        tmp[*slot] = *r;
        *slot += 1;
    }
    s.copy_from_slice(&tmp[..s.len()]);
    Some(starts)
}

fn sort_slice(s: &mut [Rec], tmp: &mut Vec<Rec>) {
    if s.len() <= SMALL {
        insertion_sort(s);
        return;
    }
    if tmp.len() < s.len() {
        tmp.resize(s.len(), Rec { x: 0.0, y: 0.0, w: 0.0 });
    }
    let Some(starts) = scatter(s, tmp) else {
        s.sort_unstable_by(cmp);
        return;
    };
    let n = s.len();
    for w in starts.windows(2) {
        let part = &mut s[w[0]..w[1]];
        if part.len() == n {
            // every record fell in one bucket (a cluster narrower than the rounding): give up
            part.sort_unstable_by(cmp);
        } else if part.len() <= SMALL {
            insertion_sort(part);
        } else {
            sort_slice(part, tmp);
        }
    }
}

/// Sorts a handful of records in place (most buckets hold zero to a few).
#[inline]
fn insertion_sort(s: &mut [Rec]) {
    for i in 1..s.len() {
        let r = s[i];
        let mut j = i;
        while j > 0 && less(&r, &s[j - 1]) {
            s[j] = s[j - 1];
            j -= 1;
        }
        s[j] = r;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_a_comparison_sort() {
        let mut state = 3u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for &n in &[10usize, 300, 5000, 300_000] {
            for clustered in [false, true] {
                let x: Vec<f64> = (0..n)
                    .map(|_| {
                        let u = next();
                        if clustered {
                            1.0 - (u * 1e-3).powi(3)
                        } else {
                            (u * 50.0).floor() / 50.0
                        }
                    })
                    .collect();
                let y: Vec<f64> = (0..n).map(|_| (next() * 2.0).floor()).collect();
                let w: Vec<f64> = (0..n).map(|_| (next() * 3.0).floor()).collect();
                let (lo, hi) = x
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
                for weights in [None, Some(&w[..])] {
                    let mut want: Vec<Rec> = (0..n)
                        .filter(|&i| weights.is_none_or(|w| w[i] > 0.0))
                        .map(|i| Rec {
                            x: x[i],
                            y: y[i],
                            w: weights.map_or(1.0, |w| w[i]),
                        })
                        .collect();
                    want.sort_by(cmp);
                    assert_eq!(sorted_records(&x, &y, weights, lo, hi), want);
                }
            }
        }
    }
}
