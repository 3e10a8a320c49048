//! Every supported level against the scalar reference, for every lane dtype.

use half::{bf16, f16};

use super::*;

pub(crate) use crate::rng::SplitMix64 as Rng;

pub(crate) fn random_row(rng: &mut Rng, n: usize, scale: f64, masked: f64) -> Vec<f32> {
    (0..n)
        .map(|_| {
            if rng.next_f64() < masked {
                f32::NEG_INFINITY
            } else {
                ((rng.next_f64() - 0.5) * 2.0 * scale) as f32
            }
        })
        .collect()
}

/// A row of each input dtype for [`lanes::assert_unit_sums_are_scaled`]: logits up to 10 above
/// the tests' reference, `-inf`, NaN and entries far below it, past one chunk.
#[cfg_attr(not(any(target_arch = "x86_64", target_arch = "aarch64")), allow(dead_code))]
pub(crate) fn unit_rows() -> (Vec<f32>, Vec<f16>, Vec<bf16>, Vec<f64>) {
    let mut row = random_row(&mut Rng::new(3), 2600, 30.0, 0.05);
    for (i, x) in row.iter_mut().enumerate() {
        match i % 101 {
            17 => *x = f32::NAN,
            59 => *x = -200.0,
            _ => {}
        }
    }
    let h = row.iter().map(|&x| f16::from_f32(x)).collect();
    let b = row.iter().map(|&x| bf16::from_f32(x)).collect();
    let d = row
        .iter()
        .map(|&x| f64::from(x) * (1.0 + 1e-9 * f64::from(x).sin()))
        .collect();
    (row, h, b, d)
}

fn derived(st: &RowStats, inv_t: f64) -> (f64, f64) {
    let lse = st.m + st.s.ln();
    (lse, st.s.ln() - st.w / st.s + 0.0 * inv_t)
}

fn check_level<T: Logit>(level: SimdLevel, row: &[T], inv_t: f64, chosen: Option<usize>) {
    let want = scalar::row_stats(row, inv_t, chosen);
    let got = T::row_stats(level, row, inv_t, chosen);
    let ctx = format!("{} {} n={} chosen={chosen:?}", level.name(), T::NAME, row.len());
    assert_eq!(got.bad, want.bad, "{ctx}");
    if want.bad {
        return;
    }
    assert_eq!(got.max, want.max, "{ctx}");
    assert_eq!(got.second, want.second, "{ctx}");
    assert_eq!(got.argmax, want.argmax, "{ctx}");
    assert_eq!(got.greater, want.greater, "{ctx}");
    if want.m == f64::NEG_INFINITY {
        assert_eq!(got.m, f64::NEG_INFINITY, "{ctx}");
        return;
    }
    let (gl, ge) = derived(&got, inv_t);
    let (wl, we) = derived(&want, inv_t);
    // float32 lanes agree to float32 precision; float64 lanes (float64 input) to float64's.
    let tol = if T::NAME == "float64" { 1e-12 } else { 2e-5 };
    assert!((gl - wl).abs() < tol, "{ctx}: logsumexp {gl} vs {wl}");
    assert!((ge - we).abs() < tol, "{ctx}: entropy {ge} vs {we}");
}

fn all_lengths() -> Vec<usize> {
    vec![
        1,
        2,
        3,
        4,
        5,
        7,
        8,
        9,
        15,
        16,
        17,
        31,
        33,
        100,
        2047,
        2048,
        2049,
        4096 + 5,
        32000,
    ]
}

#[test]
fn every_level_matches_scalar_on_every_dtype() {
    let mut rng = Rng::new(7);
    for level in supported_levels() {
        for n in all_lengths() {
            for (scale, masked, inv_t) in [
                (5.0, 0.0, 1.0),
                (30.0, 0.3, 1.0),
                (2.0, 0.9, 1.0 / 0.7),
                (10.0, 0.0, 1.0 / 2.5),
            ] {
                let row = random_row(&mut rng, n, scale, masked);
                let chosen = Some(rng.below(n as u64) as usize);
                check_level(level, &row, inv_t, chosen);
                check_level(level, &row, inv_t, None);
                let h: Vec<f16> = row.iter().map(|&x| f16::from_f32(x)).collect();
                check_level(level, &h, inv_t, chosen);
                let b: Vec<bf16> = row.iter().map(|&x| bf16::from_f32(x)).collect();
                check_level(level, &b, inv_t, chosen);
                // float64 with bits below float32's, so ties and order are float64's own.
                let d: Vec<f64> = row
                    .iter()
                    .map(|&x| f64::from(x) * (1.0 + 1e-9 * rng.next_f64()))
                    .collect();
                check_level(level, &d, inv_t, chosen);
                check_level(level, &d, inv_t, None);
            }
        }
    }
}

#[test]
fn ties_masks_and_invalid_entries_at_every_lane_position() {
    for level in supported_levels() {
        for n in [1usize, 5, 16, 17, 40, 2050] {
            for pos in [0, n / 2, n - 1] {
                // Tie for the maximum: argmax is the first, top-2 equals top-1.
                let mut row = vec![0.0f32; n];
                row[pos] = 3.0;
                row[n - 1 - (n - 1 - pos) / 2] = 3.0;
                check_level(level, &row, 1.0, Some(pos));
                let d: Vec<f64> = row.iter().map(|&x| f64::from(x)).collect();
                check_level(level, &d, 1.0, Some(pos));
                // A single finite entry among -inf.
                let mut one = vec![f32::NEG_INFINITY; n];
                one[pos] = -2.0;
                check_level(level, &one, 1.0, Some(pos));
                let got = f32::row_stats(level, &one, 1.0, None);
                assert_eq!((got.s, got.w), (1.0, 0.0), "{}", level.name());
                let one64: Vec<f64> = one.iter().map(|&x| f64::from(x)).collect();
                check_level(level, &one64, 1.0, Some(pos));
                let got = f64::row_stats(level, &one64, 1.0, None);
                assert_eq!((got.s, got.w), (1.0, 0.0), "{} float64", level.name());
                // In the x86 float64 lanes, finite entries from 1023·ln2 below the maximum down
                // add exactly nothing too (the scalar reference, which runs float64 at the other
                // levels, adds e^t·t of a subnormal e^t), where the maximum comes in the first
                // chunk of 1024 (after it, the running sums of earlier chunks are rescaled by a
                // subnormal factor).
                let far: Vec<f64> = (0..n)
                    .map(|i| match i {
                        _ if i == pos => -2.0,
                        _ => [-711.1, -1e300, f64::MIN, -2.0 - 1023.0 * std::f64::consts::LN_2][i % 4],
                    })
                    .collect();
                let got = f64::row_stats(level, &far, 1.0, None);
                if matches!(level, SimdLevel::Avx2 | SimdLevel::Avx512) && pos < 1024 {
                    assert_eq!((got.s, got.w), (1.0, 0.0), "{} float64 n={n} pos={pos}", level.name());
                }
                check_level(level, &far, 1.0, Some(pos));
                assert_eq!(
                    f64::row_stats(level, &vec![f64::NEG_INFINITY; n], 1.0, None).m,
                    f64::NEG_INFINITY
                );
                // All -inf.
                let none = vec![f32::NEG_INFINITY; n];
                assert_eq!(f32::row_stats(level, &none, 1.0, None).m, f64::NEG_INFINITY);
                for bad in [f32::NAN, f32::INFINITY] {
                    let mut r = vec![1.0f32; n];
                    r[pos] = bad;
                    assert!(
                        f32::row_stats(level, &r, 1.0, Some(0)).bad,
                        "{} n={n} pos={pos}",
                        level.name()
                    );
                    let h: Vec<f16> = r.iter().map(|&x| f16::from_f32(x)).collect();
                    assert!(f16::row_stats(level, &h, 1.0, None).bad);
                    let b: Vec<bf16> = r.iter().map(|&x| bf16::from_f32(x)).collect();
                    assert!(bf16::row_stats(level, &b, 1.0, None).bad);
                    let d: Vec<f64> = r.iter().map(|&x| f64::from(x)).collect();
                    assert!(f64::row_stats(level, &d, 1.0, Some(0)).bad, "{} float64", level.name());
                }
            }
        }
    }
}

/// Every vector level's float32 exponential gives the bits of `exp_neg`, its scalar mirror: the
/// row [0, t] has Σe = 1 + e^t and Σe·t = e^t·t (one float32 rounding in the lanes, the
/// lane sums added in float64 in lane order), so both come out exactly equal only when the
/// lanes' e^t is exp_neg(t) bit for bit.
#[test]
fn float32_lanes_exponential_is_its_scalar_mirror() {
    use super::exp::{exp_neg, EXP_FLUSH};
    let flush = EXP_FLUSH.to_bits();
    let mut ts: Vec<f32> = (0..=88_500u32).map(|i| -(i as f32) / 1000.0).collect();
    ts.extend((flush - 3..=flush + 3).map(f32::from_bits));
    ts.extend([-87.33, -1e-30, -0.0, f32::MIN, f32::NEG_INFINITY]);
    for level in supported_levels() {
        if level == SimdLevel::Scalar {
            continue;
        }
        for &t in &ts {
            let got = f32::row_stats(level, &[0.0, t], 1.0, None);
            let e = exp_neg(t);
            let lane_w = if t.is_finite() { e * t } else { 0.0 };
            assert_eq!(got.s, 1.0 + f64::from(e), "{} e^{t}", level.name());
            assert_eq!(got.w, f64::from(lane_w), "{} e^{t}·{t}", level.name());
        }
    }
}

#[test]
fn dispatch_levels_and_names() {
    assert!(SimdLevel::Scalar.supported());
    assert_eq!(supported_levels()[0], SimdLevel::Scalar);
    assert!(supported_levels().contains(&active()));
    for l in [SimdLevel::Scalar, SimdLevel::Neon, SimdLevel::Avx2, SimdLevel::Avx512] {
        assert_eq!(SimdLevel::parse(l.name()), Some(l));
        assert_eq!(resolve(Some(l)).is_ok(), l.supported());
    }
    assert_eq!(SimdLevel::parse("sse"), None);
    #[cfg(target_arch = "x86_64")]
    assert!(resolve(Some(SimdLevel::Neon)).is_err());
}

#[test]
fn merge_lanes_counts_ties() {
    assert_eq!(merge_lanes(&[1.0, 3.0, 3.0, 2.0], &[0.0, 1.0, 2.0, 1.5]), (3.0, 3.0));
    assert_eq!(merge_lanes(&[1.0, 3.0], &[2.5, 1.0]), (3.0, 2.5));
    assert_eq!(merge_lanes(&[1.0, 3.0], &[2.5, 3.0]), (3.0, 3.0));
    let inf = f32::NEG_INFINITY;
    assert_eq!(
        merge_lanes(&[inf, inf], &[inf, inf]),
        (f64::NEG_INFINITY, f64::NEG_INFINITY)
    );
}

/// The argmax is found again only where the row's maximum grows, and the entries above the
/// chosen logit are counted from where the maximum first passes it (`lanes::row`): maxima in
/// early, late and tail chunks, ties within a vector, across vectors and across chunks, rising
/// and falling rows, at lengths that leave an odd vector or a tail in the last chunk.
#[test]
fn argmax_where_the_maximum_grows_in_any_chunk() {
    let mut rng = Rng::new(11);
    for level in supported_levels() {
        // float32 chunks hold 2048 entries, float64 chunks 1024.
        for n in [2048 * 3, 2048 * 3 + 8, 2048 * 3 + 13, 1024 * 5 + 3, 7000] {
            let base = random_row(&mut rng, n, 4.0, 0.1);
            let mut cases: Vec<Vec<f32>> = Vec::new();
            for pos in [0, 1, 9, 1023, 1024, 2047, 2048, 2049, n / 2, n - 9, n - 1] {
                // One maximum.
                let mut r = base.clone();
                r[pos] = 9.0;
                cases.push(r.clone());
                // Tied with a later entry in the same vector, a later vector, a later chunk.
                for later in [pos + 1, pos + 17, pos + 2048, pos + 5000] {
                    if later < n {
                        let mut t = r.clone();
                        t[later] = 9.0;
                        cases.push(t);
                    }
                }
                // A larger entry after a first maximum in an earlier chunk, and after it the
                // first one's value again.
                if pos + 3000 < n {
                    let mut t = r.clone();
                    t[pos + 3000] = 10.0;
                    t[n - 1] = 10.0;
                    cases.push(t);
                }
            }
            cases.push((0..n).map(|i| i as f32).collect());
            cases.push((0..n).map(|i| -(i as f32)).collect());
            // Rising by chunks, with the last chunk's top equal to an earlier one's.
            let mut steps: Vec<f32> = (0..n).map(|i| (i / 1000) as f32).collect();
            steps[n - 1] = 1.0;
            cases.push(steps);
            for r in &cases {
                let chosen = Some(rng.below(n as u64) as usize);
                check_level(level, r, 1.0, chosen);
                check_level(level, r, 1.0, None);
                // The chosen token the argmax, or the last entry (in the tail, or passed by the
                // row's maximum only in a late chunk).
                check_level(level, r, 1.0, Some(scalar::row_stats(r, 1.0, None).argmax));
                check_level(level, r, 1.0, Some(n - 1));
                let h: Vec<f16> = r.iter().map(|&x| f16::from_f32(x)).collect();
                check_level(level, &h, 1.0, chosen);
                let d: Vec<f64> = r.iter().map(|&x| f64::from(x)).collect();
                check_level(level, &d, 1.0, chosen);
                check_level(level, &d, 1.0, None);
            }
        }
    }
}

/// NaN and `+inf` are flagged in either vector of a scanned pair, in an odd last vector and in
/// the tail, whatever lies around them (a `-inf` beside `+inf`, a NaN after `+inf`).
#[test]
fn invalid_entries_in_every_position_of_a_pair() {
    for level in supported_levels() {
        for n in [8usize, 24, 40, 2048 + 24, 2048 + 29, 4099] {
            for pos in (0..n).filter(|&i| i < 48 || i + 48 > n || i % 997 == 0) {
                for (bad, other) in [
                    (f32::NAN, None),
                    (-f32::NAN, None),
                    (f32::INFINITY, None),
                    (f32::INFINITY, Some(f32::NEG_INFINITY)),
                    (f32::INFINITY, Some(f32::NAN)),
                ] {
                    let mut r = vec![-1.0f32; n];
                    r[pos] = bad;
                    if let Some(o) = other {
                        r[(pos + 9) % n] = o;
                    }
                    let ctx = format!("{} n={n} pos={pos} {bad} {other:?}", level.name());
                    assert!(f32::row_stats(level, &r, 1.0, None).bad, "{ctx}");
                    assert!(f32::row_stats(level, &r, 1.0, Some(0)).bad, "{ctx}");
                    let b: Vec<bf16> = r.iter().map(|&x| bf16::from_f32(x)).collect();
                    assert!(bf16::row_stats(level, &b, 1.0, None).bad, "{ctx}");
                    let d: Vec<f64> = r.iter().map(|&x| f64::from(x)).collect();
                    assert!(f64::row_stats(level, &d, 1.0, Some(0)).bad, "{ctx} float64");
                }
                // -inf alone is a masked entry, not an invalid one.
                let mut r = vec![-1.0f32; n];
                r[pos] = f32::NEG_INFINITY;
                check_level(level, &r, 1.0, Some(pos));
                check_level(level, &r, 1.0, None);
            }
        }
    }
}
