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

/// Sorts finite records by (x, y, w).
pub(crate) fn sort_records(mut recs: Vec<Rec>) -> Vec<Rec> {
    if recs.windows(2).all(|p| cmp(&p[0], &p[1]).is_le()) {
        return recs;
    }
    let n = recs.len();
    if n <= SMALL {
        insertion_sort(&mut recs);
        return recs;
    }
    // First level on this thread; the buckets (each ~n/1024 records, cache-sized) are then
    // finished in parallel. Each bucket's sorted content is unique (a total order), so the
    // result does not depend on the thread count.
    let mut tmp = vec![Rec { x: 0.0, y: 0.0, w: 0.0 }; n];
    let Some(starts) = scatter(&mut recs, &mut tmp) else {
        recs.sort_unstable_by(cmp);
        return recs;
    };
    let mut parts: Vec<&mut [Rec]> = Vec::with_capacity(starts.len());
    let mut rest: &mut [Rec] = &mut recs;
    for w in starts.windows(2) {
        let (head, tail) = rest.split_at_mut(w[1] - w[0]);
        parts.push(head);
        rest = tail;
    }
    parts
        .par_iter_mut()
        .for_each_init(Vec::new, |tmp, part| sort_slice(part, tmp));
    recs
}

const SMALL: usize = 24;

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
    let nb = (s.len() / 8).clamp(2, 1024);
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
        while j > 0 && cmp(&s[j - 1], &r).is_gt() {
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
        for &n in &[10usize, 300, 5000] {
            for clustered in [false, true] {
                let recs: Vec<Rec> = (0..n)
                    .map(|_| {
                        let u = next();
                        let x = if clustered {
                            1.0 - (u * 1e-3).powi(3)
                        } else {
                            (u * 50.0).floor() / 50.0
                        };
                        Rec {
                            x,
                            y: (next() * 2.0).floor(),
                            w: 1.0,
                        }
                    })
                    .collect();
                let mut want = recs.clone();
                want.sort_by(cmp);
                assert_eq!(sort_records(recs), want);
            }
        }
    }
}
