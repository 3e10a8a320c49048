//! The per-row reductions of the top-k summary: for each row of logprobs l and their e^l = p,
//! whether the row is clean (every entry valid, in [`EXP64_MIN`], 0], sorted descending — as
//! servers return them), Σp, −Σp·l and how many entries exceed the chosen logprob.
//!
//! The sums are kept in eight interleaved partial sums (entry j into sum j mod 8) reduced as
//! ((s₀+s₄)+(s₂+s₆)) + ((s₁+s₅)+(s₃+s₇)): exactly the lanes of the AVX-512 kernel and its
//! reduction, so the scalar reference and the vector kernel give the same bits (products are
//! rounded before the add on both paths: no fused multiply-add).

use super::exp64::EXP64_MIN;
use super::simd::SimdLevel;

const LANES: usize = 8;

/// One row's reductions.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct RowSums {
    /// Σp.
    pub mass: f64,
    /// −Σp·l (the entropy of the returned entries).
    pub entropy: f64,
    /// Entries strictly above the chosen logprob (0 when there is none or it is NaN).
    pub above: u32,
    /// All entries valid, in [EXP64_MIN, 0] and above the sentinel, sorted descending.
    pub clean: bool,
}

#[inline]
fn reduce(s: &[f64; LANES]) -> f64 {
    ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]))
}

/// (Σp, −Σp·l) of one row in the kernels' order (any length, also the rebuilt rows of the
/// slow path).
#[inline]
pub(super) fn mass_and_entropy(p: &[f64], l: &[f64]) -> (f64, f64) {
    let (mut m, mut h) = ([0.0f64; LANES], [0.0f64; LANES]);
    let (pc, lc) = (p.chunks_exact(LANES), l.chunks_exact(LANES));
    let (pr, lr) = (pc.remainder(), lc.remainder());
    for (pp, ll) in pc.zip(lc) {
        for i in 0..LANES {
            m[i] += pp[i];
            h[i] += pp[i] * ll[i];
        }
    }
    for (i, (&pp, &ll)) in pr.iter().zip(lr).enumerate() {
        m[i] += pp;
        h[i] += pp * ll;
    }
    (reduce(&m), -reduce(&h))
}

/// Whether a row can be summarised as it stands (see [`RowSums::clean`]); NaN fails a comparison.
#[inline]
fn bounds_ok(row: &[f64], sentinel: f64) -> bool {
    let last = row[row.len() - 1];
    row[0] <= 0.0 && last >= EXP64_MIN && last > sentinel
}

fn row_scalar(row: &[f64], probs: &[f64], chosen: f64, sentinel: f64) -> RowSums {
    let (mass, entropy) = mass_and_entropy(probs, row);
    // Branch-free folds (no early exit), so they vectorise; an unclean row is the rare case.
    let sorted = row.windows(2).fold(true, |ok, w| ok & (w[0] >= w[1]));
    let above: u32 = row.iter().map(|&l| u32::from(l > chosen)).sum();
    RowSums {
        mass,
        entropy,
        above,
        clean: sorted && bounds_ok(row, sentinel),
    }
}

/// The reductions of `out.len()` rows of `width` entries: `top` and `probs` row-major, `chosen`
/// one per row (or none). `level` must be supported by this CPU (see `simd::resolve`).
pub(super) fn reduce_rows(
    level: SimdLevel,
    top: &[f64],
    probs: &[f64],
    width: usize,
    chosen: Option<&[f64]>,
    sentinel: f64,
    out: &mut [RowSums],
) {
    let rows = out.len();
    assert!(top.len() >= rows * width && probs.len() >= rows * width && chosen.is_none_or(|c| c.len() >= rows));
    #[cfg(target_arch = "x86_64")]
    if level >= SimdLevel::Avx512 && width > 0 {
        // SAFETY: the level is only handed out when the CPU supports AVX-512F (which every
        // such CPU pairs with POPCNT); the lengths are checked above.
        unsafe { avx512::reduce_rows(top, probs, width, chosen, sentinel, out) };
        return;
    }
    let _ = level;
    for (r, o) in out.iter_mut().enumerate() {
        let span = r * width..(r + 1) * width;
        let c = chosen.map_or(f64::NAN, |c| c[r]);
        *o = row_scalar(&top[span.clone()], &probs[span], c, sentinel);
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{bounds_ok, RowSums, LANES};

    /// Lane sum in the order of [`super::reduce`]: halves (i, i+4), then (i, i+2), then (0, 1).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn reduce(v: __m512d) -> f64 {
        let a = _mm256_add_pd(_mm512_castpd512_pd256(v), _mm512_extractf64x4_pd::<1>(v));
        let b = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd::<1>(a));
        _mm_cvtsd_f64(b) + _mm_cvtsd_f64(_mm_unpackhi_pd(b, b))
    }

    /// Mask of the first `n` lanes (n ≤ 8).
    #[inline]
    fn first(n: usize) -> __mmask8 {
        ((1u32 << n) - 1) as __mmask8
    }

    /// # Safety
    /// The CPU must support AVX-512F and POPCNT; `top` and `probs` must hold `out.len()` rows of
    /// `width` (≥ 1) entries and `chosen`, when given, one value per row.
    #[target_feature(enable = "avx512f,popcnt")]
    pub(super) unsafe fn reduce_rows(
        top: &[f64],
        probs: &[f64],
        width: usize,
        chosen: Option<&[f64]>,
        sentinel: f64,
        out: &mut [RowSums],
    ) {
        // Chunks of eight entries; all but the last are whole, with the entry after them still
        // in the row (for the order check), so only the last needs masks — the same for every row.
        let last = (width - 1) / LANES * LANES;
        let lanes = first(width - last);
        let pairs = first(width - 1 - last);
        for (r, o) in out.iter_mut().enumerate() {
            let row = &top[r * width..(r + 1) * width];
            let (x, p) = (row.as_ptr(), probs[r * width..(r + 1) * width].as_ptr());
            let c = _mm512_set1_pd(chosen.map_or(f64::NAN, |c| c[r]));
            let (mut m, mut h) = (_mm512_setzero_pd(), _mm512_setzero_pd());
            let (mut sorted, mut above) = (true, 0u32);
            let mut j = 0;
            while j < last {
                // SAFETY: j + 8 < width: entries j … j + 8 are inside the row.
                let (xv, pv, next) = unsafe {
                    (
                        _mm512_loadu_pd(x.add(j)),
                        _mm512_loadu_pd(p.add(j)),
                        _mm512_loadu_pd(x.add(j + 1)),
                    )
                };
                m = _mm512_add_pd(m, pv);
                h = _mm512_add_pd(h, _mm512_mul_pd(pv, xv));
                sorted &= _mm512_cmp_pd_mask::<_CMP_GE_OQ>(xv, next) == 0xFF;
                above += _mm512_cmp_pd_mask::<_CMP_GT_OQ>(xv, c).count_ones();
                j += LANES;
            }
            // SAFETY: masked loads touch only the lanes set, all inside the row (the pointers
            // themselves stay within or one past the slices).
            let (xv, pv, next) = unsafe {
                (
                    _mm512_maskz_loadu_pd(lanes, x.add(last)),
                    _mm512_maskz_loadu_pd(lanes, p.add(last)),
                    _mm512_maskz_loadu_pd(pairs, x.add(last + 1)),
                )
            };
            m = _mm512_add_pd(m, pv);
            h = _mm512_add_pd(h, _mm512_mul_pd(pv, xv));
            sorted &= _mm512_mask_cmp_pd_mask::<_CMP_GE_OQ>(pairs, xv, next) == pairs;
            above += _mm512_mask_cmp_pd_mask::<_CMP_GT_OQ>(lanes, xv, c).count_ones();
            *o = RowSums {
                mass: reduce(m),
                entropy: -reduce(h),
                above,
                clean: sorted && bounds_ok(row, sentinel),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::exp64::exp_slice;
    use crate::signals::simd::supported_levels;

    #[test]
    fn every_level_matches_the_scalar_reference_bit_for_bit() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for width in [1usize, 2, 5, 7, 8, 9, 16, 17, 20, 33] {
            let rows = 97;
            let mut top: Vec<f64> = (0..rows * width).map(|_| -12.0 * next()).collect();
            for row in top.chunks_mut(width) {
                row.sort_by(|a, b| b.total_cmp(a));
            }
            // Unclean rows of every kind: unsorted, NaN, above 0, below the sentinel, -inf.
            let spoil = [f64::NAN, 0.5, -10_000.0, f64::NEG_INFINITY, -800.0];
            for (i, bad) in spoil.into_iter().enumerate() {
                top[(3 * i + 1) * width + (i % width)] = bad;
            }
            if width > 1 {
                top.swap(40 * width, 40 * width + width - 1);
            }
            let mut probs = vec![0.0; top.len()];
            exp_slice(&top, &mut probs);
            let chosen: Vec<f64> = (0..rows)
                .map(|r| if r % 11 == 0 { f64::NAN } else { -12.0 * next() })
                .collect();
            let mut want = vec![RowSums::default(); rows];
            reduce_rows(
                SimdLevel::Scalar,
                &top,
                &probs,
                width,
                Some(&chosen),
                -9999.0,
                &mut want,
            );
            assert!(want.iter().filter(|s| !s.clean).count() >= spoil.len().min(rows));
            assert!(want.iter().any(|s| s.clean));
            for (r, s) in want.iter().enumerate().filter(|(_, s)| s.clean) {
                let span = r * width..(r + 1) * width;
                let mass: f64 = probs[span.clone()].iter().sum();
                let ent: f64 = -top[span.clone()]
                    .iter()
                    .zip(&probs[span.clone()])
                    .map(|(l, p)| l * p)
                    .sum::<f64>();
                let above = top[span].iter().filter(|&&l| l > chosen[r]).count();
                assert!(
                    (s.mass - mass).abs() < 1e-14 && (s.entropy - ent).abs() < 1e-13,
                    "row {r}"
                );
                assert_eq!(s.above as usize, above);
            }
            for level in supported_levels() {
                for c in [Some(chosen.as_slice()), None] {
                    let mut got = vec![RowSums::default(); rows];
                    reduce_rows(level, &top, &probs, width, c, -9999.0, &mut got);
                    for (r, (g, w)) in got.iter().zip(&want).enumerate() {
                        let what = format!("{} width {width} row {r}", level.name());
                        assert_eq!(g.clean, w.clean, "{what}");
                        if g.clean {
                            assert_eq!(g.mass.to_bits(), w.mass.to_bits(), "{what}");
                            assert_eq!(g.entropy.to_bits(), w.entropy.to_bits(), "{what}");
                            assert_eq!(g.above, if c.is_some() { w.above } else { 0 }, "{what}");
                        }
                    }
                }
            }
        }
    }
}
