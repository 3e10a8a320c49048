//! The per-row reductions of the top-k summary: for each row of logprobs l and their e^l = p,
//! whether the row is clean (every entry valid, in [`EXP64_MIN`], 0], sorted descending — as
//! servers return them), Σp, −Σp·l, how many entries exceed the chosen logprob, and the row's
//! first, second and last entries the summary needs, written straight into its columns (a row
//! that is not clean is rebuilt by the caller, who overwrites its values).
//!
//! The sums are kept in eight interleaved partial sums (entry j into sum j mod 8) reduced as
//! ((s₀+s₄)+(s₂+s₆)) + ((s₁+s₅)+(s₃+s₇)): exactly the lanes of the AVX-512 kernel (one register)
//! and of the AVX2 kernel (two) and their reductions, so the scalar reference and the vector
//! kernels give the same bits (products are rounded before the add on every path: no fused
//! multiply-add).

use super::exp64::EXP64_MIN;
use super::simd::SimdLevel;

pub(super) const LANES: usize = 8;

/// A block of rows to reduce: `top` and their `probs` (e^top) row-major, `rows` rows of `width`
/// (≥ 1) entries, `chosen` one logprob per row (or none), entries at or below `sentinel` missing.
#[derive(Clone, Copy)]
pub(super) struct Block<'a> {
    pub top: &'a [f64],
    pub probs: &'a [f64],
    pub rows: usize,
    pub width: usize,
    pub chosen: Option<&'a [f64]>,
    pub sentinel: f64,
}

impl Block<'_> {
    /// The last chunk of eight entries of a row: where it starts, its entries and its (i, i + 1)
    /// pairs. Every chunk before it is whole, with the entry after it still in the row (for the
    /// order check), so only the last needs masks — the same for every row.
    #[inline]
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // only the x86 kernels mask
    fn tail(&self) -> (usize, usize, usize) {
        let last = (self.width - 1) / LANES * LANES;
        (last, self.width - last, self.width - 1 - last)
    }

    /// Rows `first .. first + rows` of this block as a block of their own.
    #[inline(always)]
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // only the x86 kernels split
    fn sub(&self, first: usize, rows: usize) -> Self {
        let span = first * self.width..(first + rows) * self.width;
        Self {
            top: &self.top[span.clone()],
            probs: &self.probs[span],
            rows,
            chosen: self.chosen.map(|c| &c[first..first + rows]),
            ..*self
        }
    }

    /// Row `r`: its log-probabilities, its probabilities and its chosen log-probability (NaN
    /// when the block has none, so that no entry counts as above it).
    #[inline(always)]
    fn row(&self, r: usize) -> (&[f64], &[f64], f64) {
        let span = r * self.width..(r + 1) * self.width;
        let chosen = self.chosen.map_or(f64::NAN, |c| c[r]);
        (&self.top[span.clone()], &self.probs[span], chosen)
    }
}

/// The columns the reductions fill, one value per row of the block.
pub(super) struct RowOut<'a> {
    /// Σp.
    pub mass: &'a mut [f64],
    /// −Σp·l (the entropy of the returned entries).
    pub entropy: &'a mut [f64],
    /// Entries strictly above the chosen logprob (0 when there is none or it is NaN).
    pub above: &'a mut [f64],
    /// The last entry's p and logprob, and the row width.
    pub pmin: &'a mut [f64],
    pub lmin: &'a mut [f64],
    pub kept_n: &'a mut [f64],
    /// p₁ − p₂ (p₁ for a row of one) and the first logprob.
    pub margin: &'a mut [f64],
    pub top1: &'a mut [f64],
    /// All entries valid, in [EXP64_MIN, 0] and above the sentinel, sorted descending.
    pub clean: &'a mut [bool],
}

impl RowOut<'_> {
    /// The first `rows` values of every column: with every length known to equal `rows`, the
    /// row loops need no bounds check per store.
    #[inline(always)]
    fn cut(&mut self, rows: usize) -> RowOut<'_> {
        RowOut {
            mass: &mut self.mass[..rows],
            entropy: &mut self.entropy[..rows],
            above: &mut self.above[..rows],
            pmin: &mut self.pmin[..rows],
            lmin: &mut self.lmin[..rows],
            kept_n: &mut self.kept_n[..rows],
            margin: &mut self.margin[..rows],
            top1: &mut self.top1[..rows],
            clean: &mut self.clean[..rows],
        }
    }

    /// Rows `first .. first + rows` of every column.
    #[inline(always)]
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // only the x86 kernels split
    fn sub(&mut self, first: usize, rows: usize) -> RowOut<'_> {
        let span = first..first + rows;
        RowOut {
            mass: &mut self.mass[span.clone()],
            entropy: &mut self.entropy[span.clone()],
            above: &mut self.above[span.clone()],
            pmin: &mut self.pmin[span.clone()],
            lmin: &mut self.lmin[span.clone()],
            kept_n: &mut self.kept_n[span.clone()],
            margin: &mut self.margin[span.clone()],
            top1: &mut self.top1[span.clone()],
            clean: &mut self.clean[span],
        }
    }

    /// Writes row `r`'s values; `sums` are (Σp, −Σp·l, above).
    #[inline(always)]
    fn put(&mut self, r: usize, row: &[f64], probs: &[f64], sums: (f64, f64, u32), sorted: bool, sentinel: f64) {
        self.put_values(r, row, probs, sums);
        self.clean[r] = sorted && bounds_ok(row, sentinel);
    }

    /// Writes row `r`'s values but its `clean` flag, for the `row` of kept logprobs (descending,
    /// possibly empty) and their `probs`; `sums` are (Σp, −Σp·l, above). The caller's slow path
    /// writes the rows it rebuilt through this too.
    #[inline(always)]
    pub(super) fn put_values(&mut self, r: usize, row: &[f64], probs: &[f64], sums: (f64, f64, u32)) {
        let w = row.len();
        self.mass[r] = sums.0;
        self.entropy[r] = sums.1;
        self.above[r] = f64::from(sums.2);
        self.kept_n[r] = w as f64;
        if w == 0 {
            (self.pmin[r], self.lmin[r], self.margin[r], self.top1[r]) = (0.0, 0.0, f64::NAN, f64::NAN);
            return;
        }
        self.pmin[r] = probs[w - 1];
        self.lmin[r] = row[w - 1];
        self.margin[r] = probs[0] - if w > 1 { probs[1] } else { 0.0 };
        self.top1[r] = row[0];
    }
}

/// The eight partial sums in the reference's order: the one lane order of the top-k summary's
/// sums (the row kernels' and the aggregate's, on every SIMD level).
#[inline]
pub(super) fn reduce(s: &[f64; LANES]) -> f64 {
    ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]))
}

/// (Σp, −Σp·l) of one row in the kernels' order (any length, also the rebuilt rows of the
/// slow path).
#[inline(always)]
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

/// Whether a row can be summarised as it stands (see [`RowOut::clean`]); NaN fails a comparison.
#[inline]
fn bounds_ok(row: &[f64], sentinel: f64) -> bool {
    let last = row[row.len() - 1];
    row[0] <= 0.0 && last >= EXP64_MIN && last > sentinel
}

/// The reductions of the block's rows into `out` at `level` (a level this CPU does not support
/// runs the portable loop); every level writes the same bits.
pub(super) fn reduce_rows(level: SimdLevel, b: Block<'_>, out: &mut RowOut<'_>) {
    let Block {
        top,
        probs,
        rows,
        width,
        chosen,
        ..
    } = b;
    let n = rows * width;
    assert!(width > 0 && top.len() >= n && probs.len() >= n && chosen.is_none_or(|c| c.len() >= rows));
    assert!(
        out.clean.len() >= rows
            && [&out.mass, &out.entropy, &out.above, &out.pmin]
                .iter()
                .all(|c| c.len() >= rows)
    );
    assert!([&out.lmin, &out.kept_n, &out.margin, &out.top1]
        .iter()
        .all(|c| c.len() >= rows));
    #[cfg(target_arch = "x86_64")]
    if level >= SimdLevel::Avx512 && level.supported() {
        // SAFETY: the CPU supports AVX-512F and POPCNT (checked just above); the lengths are
        // checked above.
        unsafe { avx512::reduce_rows(b, out) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if level >= SimdLevel::Avx2 && level.supported() {
        // SAFETY: the CPU supports AVX2 and POPCNT (checked just above); the lengths are
        // checked above.
        unsafe { avx2::reduce_rows(b, out) };
        return;
    }
    let _ = level;
    reduce_rows_portable(b, out);
}

#[inline(always)]
fn reduce_rows_portable(b: Block<'_>, out: &mut RowOut<'_>) {
    let out = &mut out.cut(b.rows);
    for r in 0..b.rows {
        let (row, p, c) = b.row(r);
        let (mass, entropy) = mass_and_entropy(p, row);
        // Branch-free folds (no early exit), so they vectorise; an unclean row is the rare case.
        let sorted = row.windows(2).fold(true, |ok, w| ok & (w[0] >= w[1]));
        let above: u32 = row.iter().map(|&l| u32::from(l > c)).sum();
        out.put(r, row, p, (mass, entropy, above), sorted, b.sentinel);
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{Block, RowOut, LANES};

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
    /// The CPU must support AVX-512F and POPCNT; the block's `top` and `probs` must hold `rows`
    /// rows of `width` (≥ 1) entries, `chosen` (when given) and every column of `out` `rows` values.
    #[target_feature(enable = "avx512f,popcnt")]
    pub(super) unsafe fn reduce_rows(b: Block<'_>, out: &mut RowOut<'_>) {
        let (last, n_last, n_pairs) = b.tail();
        let (lanes, pairs) = (first(n_last), first(n_pairs));
        let out = &mut out.cut(b.rows);
        for r in 0..b.rows {
            let (row, prow, chosen) = b.row(r);
            let (x, p) = (row.as_ptr(), prow.as_ptr());
            let c = _mm512_set1_pd(chosen);
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
            out.put(r, row, prow, (reduce(m), -reduce(h), above), sorted, b.sentinel);
        }
    }
}

/// The AVX2 kernel: the eight partial sums of the reference in two 4-lane registers.
#[cfg(target_arch = "x86_64")]
pub(super) mod avx2 {
    use std::arch::x86_64::*;

    use super::{Block, RowOut, LANES};

    /// The sum of the eight lanes `lo` (0–3) and `hi` (4–7) in the order of [`super::reduce`].
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(in crate::signals) fn reduce(lo: __m256d, hi: __m256d) -> f64 {
        let a = _mm256_add_pd(lo, hi);
        let b = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd::<1>(a));
        _mm_cvtsd_f64(b) + _mm_cvtsd_f64(_mm_unpackhi_pd(b, b))
    }

    /// The `maskload` mask of a 4-lane half whose lanes `i < n` are wanted (any n).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn lanes_below(n: usize) -> __m256i {
        let on = |i: usize| if i < n { -1i64 } else { 0 };
        _mm256_setr_epi64x(on(0), on(1), on(2), on(3))
    }

    /// The sum of the four 64-bit lanes of `v` (each a count: no overflow).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn lane_sum(v: __m256i) -> u64 {
        let a = _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
        (_mm_cvtsi128_si64(a) as u64).wrapping_add(_mm_extract_epi64::<1>(a) as u64)
    }

    /// # Safety
    /// The CPU must support AVX2 and POPCNT; the block's `top` and `probs` must hold `rows` rows
    /// of `width` (≥ 1) entries, `chosen` (when given) and every column of `out` `rows` values.
    #[target_feature(enable = "avx2,popcnt")]
    pub(super) unsafe fn reduce_rows(b: Block<'_>, out: &mut RowOut<'_>) {
        // SAFETY: as the caller's (the width matches each kernel's).
        unsafe {
            match b.width {
                8 => reduce_rows_fixed::<2>(b, out),
                12 => reduce_rows_fixed::<3>(b, out),
                16 => reduce_rows_fixed::<4>(b, out),
                20 => reduce_rows_fixed::<5>(b, out),
                _ => reduce_rows_any(b, out),
            }
        }
    }

    /// One row's reductions, each still in four lanes: lane i holds the reference's partial
    /// sums i and i + 4 added (the first step of [`reduce`]).
    struct RowSums {
        /// Σp and Σp·l (the latter up to the sign of a zero: see [`reduce_rows_fixed`]).
        mass: __m256d,
        ent: __m256d,
        /// Minus the entries above the chosen logprob (a true comparison is −1).
        above: __m256i,
        /// Every lane set when the row is clean.
        clean: __m256d,
    }

    /// [`RowSums`] of the row of `4·V` entries (V ≥ 2) at `x` with probabilities at `p`:
    /// vector i (entries 4i … 4i + 3) goes to the low lanes of the reference for even i, to the
    /// high ones for odd i, so the sums are the reference's without its leading zeros. The
    /// row is clean when sorted, its first four entries ≤ 0 and its last four ≥ `lo` (with the
    /// row sorted: its first ≤ 0 and its last ≥ `lo`).
    ///
    /// # Safety
    /// `x` and `p` must point to `4·V` readable values.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn row_sums<const V: usize>(x: *const f64, p: *const f64, c: __m256d, lo: __m256d) -> RowSums {
        let zero = _mm256_setzero_pd();
        let (mut m, mut h) = ([zero; 2], [zero; 2]);
        let mut above = _mm256_setzero_si256();
        // SAFETY: entries 0 … 3 are inside the row.
        let mut clean = _mm256_cmp_pd::<_CMP_LE_OQ>(unsafe { _mm256_loadu_pd(x) }, zero);
        for i in 0..V {
            // SAFETY: entries 4i … 4i + 3 are inside the row.
            let (xv, pv) = unsafe { (_mm256_loadu_pd(x.add(4 * i)), _mm256_loadu_pd(p.add(4 * i))) };
            // Each entry against the next; the last vector's against itself shifted down one
            // lane (its last lane compared with itself: true unless NaN, which fails below).
            let next = if i + 1 < V {
                // SAFETY: entries 4i + 1 … 4i + 4 are inside the row (i + 1 < V).
                unsafe { _mm256_loadu_pd(x.add(4 * i + 1)) }
            } else {
                _mm256_permute4x64_pd::<0b11_11_10_01>(xv)
            };
            let (half, t) = (i % 2, _mm256_mul_pd(pv, xv));
            (m[half], h[half]) = if i < 2 {
                (pv, t)
            } else {
                (_mm256_add_pd(m[half], pv), _mm256_add_pd(h[half], t))
            };
            clean = _mm256_and_pd(clean, _mm256_cmp_pd::<_CMP_GE_OQ>(xv, next));
            let gt = _mm256_castpd_si256(_mm256_cmp_pd::<_CMP_GT_OQ>(xv, c));
            above = if i == 0 { gt } else { _mm256_add_epi64(above, gt) };
            if i + 1 == V {
                clean = _mm256_and_pd(clean, _mm256_cmp_pd::<_CMP_GE_OQ>(xv, lo));
            }
        }
        RowSums {
            mass: _mm256_add_pd(m[0], m[1]),
            ent: _mm256_add_pd(h[0], h[1]),
            above,
            clean,
        }
    }

    /// Lanes (a₀ + a₂, a₁ + a₃, c₀ + c₂, c₁ + c₃): the second step of [`reduce`] for rows a
    /// and c at once.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn halves(a: __m256d, c: __m256d) -> __m256d {
        _mm256_add_pd(_mm256_blend_pd::<0b1100>(a, c), _mm256_permute2f128_pd::<0x21>(a, c))
    }

    /// [`halves`] of 64-bit integer lanes.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn halves_epi64(a: __m256i, c: __m256i) -> __m256i {
        _mm256_add_epi64(
            _mm256_blend_epi32::<0xF0>(a, c),
            _mm256_permute2x128_si256::<0x21>(a, c),
        )
    }

    /// Entries `at` and `at + 1` of four rows `w` apart from `base`, as (entry `at` of rows
    /// 0 … 3, entry `at + 1` of rows 0 … 3).
    ///
    /// # Safety
    /// The four pairs must be readable.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn column_pair(base: *const f64, w: usize, at: usize) -> (__m256d, __m256d) {
        // SAFETY: the caller's.
        let (ac, bd) = unsafe {
            let at = base.add(at);
            (
                _mm256_insertf128_pd::<1>(_mm256_castpd128_pd256(_mm_loadu_pd(at)), _mm_loadu_pd(at.add(2 * w))),
                _mm256_insertf128_pd::<1>(
                    _mm256_castpd128_pd256(_mm_loadu_pd(at.add(w))),
                    _mm_loadu_pd(at.add(3 * w)),
                ),
            )
        };
        (_mm256_unpacklo_pd(ac, bd), _mm256_unpackhi_pd(ac, bd))
    }

    /// The kernel for rows of `4·V` entries (V ≥ 2; the widths servers most often return),
    /// four rows at a time: each row's sums stay in four lanes ([`row_sums`]) and the last
    /// steps of [`reduce`] run for four rows at once, whose columns are then written one vector
    /// each. The same operations lane by lane as [`reduce_rows_any`], so the same bits, but
    /// for the leading zeros of the sums: a sum of ±0 terms may come out −0 where the
    /// reference's is +0, which adding +0 to the total undoes (Σp > 0 needs none). A group
    /// with a row that is not clean is done again by [`reduce_rows_any`], as are the last rows.
    ///
    /// # Safety
    /// As [`reduce_rows`], with `width` = 4·V.
    #[target_feature(enable = "avx2,popcnt")]
    unsafe fn reduce_rows_fixed<const V: usize>(b: Block<'_>, out: &mut RowOut<'_>) {
        let w = 4 * V;
        debug_assert_eq!(b.width, w);
        // Last ≥ EXP64_MIN and > sentinel in one comparison: ≥ the next double up from the
        // sentinel, or EXP64_MIN when below it (a NaN sentinel stays NaN: nothing is clean).
        let up = b.sentinel.next_up();
        let lo = _mm256_set1_pd(if up < super::EXP64_MIN { super::EXP64_MIN } else { up });
        let groups = b.rows / 4;
        let (x, p) = (b.top.as_ptr(), b.probs.as_ptr());
        let neg = _mm256_set1_pd(-0.0);
        // 2⁵² + n has the integer n in its low mantissa bits.
        let two52 = 4_503_599_627_370_496.0f64;
        let magic = _mm256_set1_epi64x(two52.to_bits() as i64);
        for g in 0..groups {
            let r = 4 * g;
            let c: [f64; 4] = b
                .chosen
                .map_or([f64::NAN; 4], |c| c[r..r + 4].try_into().expect("four rows"));
            // SAFETY: rows r … r + 3 are inside the block.
            let row =
                |i: usize| unsafe { row_sums::<V>(x.add((r + i) * w), p.add((r + i) * w), _mm256_set1_pd(c[i]), lo) };
            // Rows 0 and 2, then 1 and 3: `hadd` of their halves puts the four in order.
            let (r0, r2) = (row(0), row(2));
            let (m02, h02, a02) = (
                halves(r0.mass, r2.mass),
                halves(r0.ent, r2.ent),
                halves_epi64(r0.above, r2.above),
            );
            let clean = _mm256_and_pd(r0.clean, r2.clean);
            let (r1, r3) = (row(1), row(3));
            let (m13, h13, a13) = (
                halves(r1.mass, r3.mass),
                halves(r1.ent, r3.ent),
                halves_epi64(r1.above, r3.above),
            );
            let clean = _mm256_and_pd(clean, _mm256_and_pd(r1.clean, r3.clean));
            let mass = _mm256_hadd_pd(m02, m13);
            let ent = _mm256_xor_pd(_mm256_add_pd(_mm256_hadd_pd(h02, h13), _mm256_setzero_pd()), neg);
            let minus = _mm256_add_epi64(_mm256_unpacklo_epi64(a02, a13), _mm256_unpackhi_epi64(a02, a13));
            let above = _mm256_sub_pd(
                _mm256_castsi256_pd(_mm256_sub_epi64(magic, minus)),
                _mm256_set1_pd(two52),
            );
            // SAFETY: rows r … r + 3 hold w ≥ 8 entries each.
            let ((top1, _), (p0, p1), (_, lmin), (_, pmin)) = unsafe {
                (
                    column_pair(x.add(r * w), w, 0),
                    column_pair(p.add(r * w), w, 0),
                    column_pair(x.add(r * w), w, w - 2),
                    column_pair(p.add(r * w), w, w - 2),
                )
            };
            let o = &mut out.sub(r, 4);
            // SAFETY: every column of `o` holds four values.
            unsafe {
                _mm256_storeu_pd(o.mass.as_mut_ptr(), mass);
                _mm256_storeu_pd(o.entropy.as_mut_ptr(), ent);
                _mm256_storeu_pd(o.above.as_mut_ptr(), above);
                _mm256_storeu_pd(o.pmin.as_mut_ptr(), pmin);
                _mm256_storeu_pd(o.lmin.as_mut_ptr(), lmin);
                _mm256_storeu_pd(o.kept_n.as_mut_ptr(), _mm256_set1_pd(w as f64));
                _mm256_storeu_pd(o.margin.as_mut_ptr(), _mm256_sub_pd(p0, p1));
                _mm256_storeu_pd(o.top1.as_mut_ptr(), top1);
            }
            o.clean.fill(true);
            // Tested last, so that the rows' sums need not wait for it (rarely taken).
            if _mm256_movemask_pd(clean) != 0xF {
                // SAFETY: as the caller's, for these four rows.
                unsafe { reduce_rows_any(b.sub(r, 4), &mut out.sub(r, 4)) };
            }
        }
        let done = 4 * groups;
        if done < b.rows {
            // SAFETY: as the caller's, for the last rows.
            unsafe { reduce_rows_any(b.sub(done, b.rows - done), &mut out.sub(done, b.rows - done)) };
        }
    }

    /// The kernel for any width: the last chunk of each row through masked loads.
    ///
    /// # Safety
    /// As [`reduce_rows`].
    #[target_feature(enable = "avx2,popcnt")]
    unsafe fn reduce_rows_any(b: Block<'_>, out: &mut RowOut<'_>) {
        let (last, n_last, n_pairs) = b.tail();
        let (lm0, lm1) = (lanes_below(n_last), lanes_below(n_last.saturating_sub(4)));
        let (pm0, pm1) = (lanes_below(n_pairs), lanes_below(n_pairs.saturating_sub(4)));
        // The comparisons are kept in vectors through the row and reduced once at its end:
        // the order checks and'ed (lanes past the last pair set by these, as passed), the
        // entries above the chosen logprob counted per lane (a true comparison is −1: subtracted).
        let ones = _mm256_set1_epi64x(-1);
        let (past0, past1) = (
            _mm256_castsi256_pd(_mm256_xor_si256(pm0, ones)),
            _mm256_castsi256_pd(_mm256_xor_si256(pm1, ones)),
        );
        let (lmd0, lmd1) = (_mm256_castsi256_pd(lm0), _mm256_castsi256_pd(lm1));
        let zero = _mm256_setzero_pd();
        let out = &mut out.cut(b.rows);
        for r in 0..b.rows {
            let (row, prow, chosen) = b.row(r);
            let (x, p) = (row.as_ptr(), prow.as_ptr());
            let c = _mm256_set1_pd(chosen);
            let (mut m0, mut m1, mut h0, mut h1) = (zero, zero, zero, zero);
            let (mut sorted, mut above) = (_mm256_castsi256_pd(ones), _mm256_setzero_si256());
            let mut j = 0;
            while j < last {
                // SAFETY: j + 8 < width: entries j … j + 8 are inside the row.
                let (x0, x1, p0, p1, n0, n1) = unsafe {
                    (
                        _mm256_loadu_pd(x.add(j)),
                        _mm256_loadu_pd(x.add(j + 4)),
                        _mm256_loadu_pd(p.add(j)),
                        _mm256_loadu_pd(p.add(j + 4)),
                        _mm256_loadu_pd(x.add(j + 1)),
                        _mm256_loadu_pd(x.add(j + 5)),
                    )
                };
                (m0, m1) = (_mm256_add_pd(m0, p0), _mm256_add_pd(m1, p1));
                h0 = _mm256_add_pd(h0, _mm256_mul_pd(p0, x0));
                h1 = _mm256_add_pd(h1, _mm256_mul_pd(p1, x1));
                let ge = _mm256_and_pd(_mm256_cmp_pd::<_CMP_GE_OQ>(x0, n0), _mm256_cmp_pd::<_CMP_GE_OQ>(x1, n1));
                sorted = _mm256_and_pd(sorted, ge);
                let (gt0, gt1) = (_mm256_cmp_pd::<_CMP_GT_OQ>(x0, c), _mm256_cmp_pd::<_CMP_GT_OQ>(x1, c));
                above = _mm256_sub_epi64(above, _mm256_castpd_si256(gt0));
                above = _mm256_sub_epi64(above, _mm256_castpd_si256(gt1));
                j += LANES;
            }
            // SAFETY: masked loads read only the lanes set, all inside the row; the upper halves
            // are loaded only when they hold a wanted lane, so every pointer formed stays
            // within the row or one past it.
            let (x0, p0, n0) = unsafe {
                (
                    _mm256_maskload_pd(x.add(last), lm0),
                    _mm256_maskload_pd(p.add(last), lm0),
                    _mm256_maskload_pd(x.add(last + 1), pm0),
                )
            };
            let (x1, p1) = if n_last > 4 {
                // SAFETY: as above (last + 4 < width).
                unsafe {
                    (
                        _mm256_maskload_pd(x.add(last + 4), lm1),
                        _mm256_maskload_pd(p.add(last + 4), lm1),
                    )
                }
            } else {
                (zero, zero)
            };
            let n1 = if n_pairs > 4 {
                // SAFETY: as above (last + 5 < width).
                unsafe { _mm256_maskload_pd(x.add(last + 5), pm1) }
            } else {
                zero
            };
            // Lanes masked off hold +0, which leaves a partial sum as it is (never −0).
            (m0, m1) = (_mm256_add_pd(m0, p0), _mm256_add_pd(m1, p1));
            h0 = _mm256_add_pd(h0, _mm256_mul_pd(p0, x0));
            h1 = _mm256_add_pd(h1, _mm256_mul_pd(p1, x1));
            let ge0 = _mm256_or_pd(_mm256_cmp_pd::<_CMP_GE_OQ>(x0, n0), past0);
            let ge1 = _mm256_or_pd(_mm256_cmp_pd::<_CMP_GE_OQ>(x1, n1), past1);
            let sorted = _mm256_movemask_pd(_mm256_and_pd(sorted, _mm256_and_pd(ge0, ge1))) == 0xF;
            let gt0 = _mm256_and_pd(_mm256_cmp_pd::<_CMP_GT_OQ>(x0, c), lmd0);
            let gt1 = _mm256_and_pd(_mm256_cmp_pd::<_CMP_GT_OQ>(x1, c), lmd1);
            above = _mm256_sub_epi64(above, _mm256_castpd_si256(gt0));
            above = _mm256_sub_epi64(above, _mm256_castpd_si256(gt1));
            // At most `width` entries, each counted once: fits a u32 for any row that fits memory
            // as the previous count did.
            let above = lane_sum(above) as u32;
            out.put(
                r,
                row,
                prow,
                (reduce(m0, m1), -reduce(h0, h1), above),
                sorted,
                b.sentinel,
            );
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
        let mut g = crate::rng::SplitMix64::new(0x9E37_79B9_7F4A_7C15);
        let mut next = move || g.next_f64();
        for width in [1usize, 2, 4, 5, 7, 8, 9, 12, 16, 17, 20, 33] {
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
            // A clean row of zeros of either sign: its −Σp·l is −0 on every path.
            for (j, l) in top[50 * width..51 * width].iter_mut().enumerate() {
                *l = if j % 3 == 0 { 0.0 } else { -0.0 };
            }
            top[52 * width..53 * width].fill(-0.0);
            let mut probs = vec![0.0; top.len()];
            exp_slice(&top, &mut probs);
            let chosen: Vec<f64> = (0..rows)
                .map(|r| if r % 11 == 0 { f64::NAN } else { -12.0 * next() })
                .collect();
            let want = run(SimdLevel::Scalar, &top, &probs, rows, width, Some(&chosen));
            assert!(want.clean.iter().filter(|&&c| !c).count() >= spoil.len().min(rows));
            assert!(want.clean.iter().any(|&c| c));
            assert!(want.clean[52] && want.cols[1][52].to_bits() == (-0.0f64).to_bits());
            for r in (0..rows).filter(|&r| want.clean[r]) {
                let span = r * width..(r + 1) * width;
                let (row, p) = (&top[span.clone()], &probs[span]);
                let mass: f64 = p.iter().sum();
                let ent: f64 = -row.iter().zip(p).map(|(l, p)| l * p).sum::<f64>();
                let above = row.iter().filter(|&&l| l > chosen[r]).count();
                let c = &want.cols;
                assert!(
                    (c[0][r] - mass).abs() < 1e-14 && (c[1][r] - ent).abs() < 1e-13,
                    "row {r}"
                );
                assert_eq!(c[2][r] as usize, above);
                assert_eq!(
                    [c[3][r], c[4][r], c[5][r]],
                    [p[width - 1], row[width - 1], width as f64]
                );
                let second = if width > 1 { p[1] } else { 0.0 };
                assert_eq!([c[6][r], c[7][r]], [p[0] - second, row[0]]);
            }
            for level in supported_levels() {
                for c in [Some(chosen.as_slice()), None] {
                    let got = run(level, &top, &probs, rows, width, c);
                    assert_eq!(got.clean, want.clean, "{} width {width}", level.name());
                    for r in (0..rows).filter(|&r| want.clean[r]) {
                        for (col, (g, w)) in got.cols.iter().zip(&want.cols).enumerate() {
                            let w = if col == 2 && c.is_none() { 0.0 } else { w[r] };
                            assert_eq!(
                                g[r].to_bits(),
                                w.to_bits(),
                                "{} width {width} row {r} column {col}",
                                level.name()
                            );
                        }
                    }
                }
            }
        }
    }

    struct Filled {
        cols: Vec<Vec<f64>>,
        clean: Vec<bool>,
    }

    fn run(level: SimdLevel, top: &[f64], probs: &[f64], rows: usize, width: usize, chosen: Option<&[f64]>) -> Filled {
        let mut cols = vec![vec![f64::NAN; rows]; 8];
        let mut clean = vec![false; rows];
        let [mass, entropy, above, pmin, lmin, kept_n, margin, top1] = &mut cols[..] else {
            unreachable!()
        };
        let mut out = RowOut {
            mass,
            entropy,
            above,
            pmin,
            lmin,
            kept_n,
            margin,
            top1,
            clean: &mut clean,
        };
        let block = Block {
            top,
            probs,
            rows,
            width,
            chosen,
            sentinel: -9999.0,
        };
        reduce_rows(level, block, &mut out);
        Filled { cols, clean }
    }
}
