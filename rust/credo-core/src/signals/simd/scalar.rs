//! The scalar reference kernel: float64 arithmetic and `f64::exp`, two plain passes per row.
//! Every vector kernel is tested against it; float64 input always runs here.

use super::{Logit, RowStats};

/// Statistics of one row (see [`RowStats`]) in float64.
pub fn row_stats<T: Logit>(row: &[T], inv_t: f64, chosen: Option<usize>) -> RowStats {
    let mut max = f64::NEG_INFINITY;
    let mut second = f64::NEG_INFINITY;
    let mut argmax = 0usize;
    let mut bad = false;
    for (i, &x) in row.iter().enumerate() {
        let x = x.to_f64();
        if x.is_nan() || x == f64::INFINITY {
            bad = true;
            continue;
        }
        if x > max {
            second = max;
            max = x;
            argmax = i;
        } else if x > second {
            second = x;
        }
    }
    let greater = match chosen {
        Some(c) => {
            let cv = row[c].to_f64();
            row.iter().filter(|&&x| x.to_f64() > cv).count() as u64
        }
        None => 0,
    };
    let m = max * inv_t;
    let (mut s, mut w) = (0.0f64, 0.0f64);
    if !bad && m.is_finite() {
        for &x in row {
            let t = x.to_f64() * inv_t - m;
            if t > f64::NEG_INFINITY {
                let e = t.exp();
                s += e;
                w += e * t;
            }
        }
    }
    RowStats {
        max,
        second,
        argmax,
        m,
        inv_t,
        s,
        w,
        greater,
        bad,
    }
}
