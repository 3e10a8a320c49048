//! Sorting (x, y, w) samples by x for the isotonic fit.
//!
//! A comparison sort of 10⁶ records costs more than everything else in the fit together, so the
//! records are first scattered into ~n/4 buckets by their position in [min x, max x] (a
//! monotone map, so bucket order is x order) and each bucket is then sorted on its own. Buckets
//! are tiny for any spread-out data; a bucket that collects a cluster is still sorted correctly,
//! just by the comparison sort. Records compare on (x, y, w), a total order, so the result does
//! not depend on the input order or the algorithm: sums over ties are reproducible.

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
pub(crate) fn sort_records(recs: Vec<Rec>) -> Vec<Rec> {
    let n = recs.len();
    if n < 256 {
        let mut recs = recs;
        recs.sort_unstable_by(cmp);
        return recs;
    }
    if recs.windows(2).all(|p| cmp(&p[0], &p[1]).is_le()) {
        return recs;
    }
    let (lo, hi) = recs.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), r| {
        (lo.min(r.x), hi.max(r.x))
    });
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) {
        let mut recs = recs;
        recs.sort_unstable_by(cmp);
        return recs;
    }
    let nb = (n / 4).max(1);
    let scale = nb as f64 / span;
    // Monotone in x: a subtraction, a positive scaling and a floor each preserve order.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let bucket = |x: f64| (((x - lo) * scale) as usize).min(nb - 1);
    let mut starts = vec![0usize; nb + 1];
    let ids: Vec<u32> = recs
        .iter()
        .map(|r| {
            let b = bucket(r.x);
            starts[b + 1] += 1;
            u32::try_from(b).unwrap_or(u32::MAX)
        })
        .collect();
    for b in 0..nb {
        starts[b + 1] += starts[b];
    }
    let mut fill = starts.clone();
    let mut out = vec![Rec { x: 0.0, y: 0.0, w: 0.0 }; n];
    for (r, &b) in recs.iter().zip(&ids) {
        let slot = &mut fill[b as usize];
        out[*slot] = *r;
        *slot += 1;
    }
    for b in 0..nb {
        let s = &mut out[starts[b]..starts[b + 1]];
        match s.len() {
            0 | 1 => {}
            2 => {
                if cmp(&s[0], &s[1]).is_gt() {
                    s.swap(0, 1);
                }
            }
            _ => s.sort_unstable_by(cmp),
        }
    }
    out
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
