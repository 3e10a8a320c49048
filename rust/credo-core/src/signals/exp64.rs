//! A float64 exponential for logprobs in [−708, 0] (and −x·ln x on (0, 1]) that vectorises.
//! The portable and AVX2 builds: Cody–Waite range reduction (x = n·ln2 + r, |r| ≤ ln2/2) and the
//! degree-13 Taylor polynomial of e^r (truncation below 1e−17 relative), scaled by 2ⁿ through the
//! exponent bits, with fused multiply-adds on AVX2 and on aarch64 (where every CPU has them) and
//! plain mul/add elsewhere (a software `fma` would be slow). The AVX-512 build looks 2^(j/16) up
//! in a table and needs a degree-7 polynomial (module `avx512`); the top-k summary's AVX2 build
//! looks 2^(j/64) up and needs degree 5 (module `avx2_table`). Each is within two ulp of `f64::exp`;
//! the paths may differ in the last ulp. Used by the single-request top-k summary, where the
//! per-entry `exp` dominates.

/// Smallest argument handled (2ⁿ stays a normal float64); callers use `f64::exp` below it.
pub const EXP64_MIN: f64 = -708.0;

const LOG2E: f64 = std::f64::consts::LOG2_E;
const LN2_HI: f64 = 0.693_147_180_369_123_8;
const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
/// 1.5·2⁵²: adding it rounds to an integer held in the low mantissa bits.
const SHIFTER: f64 = 6_755_399_441_055_744.0;
/// 1/k! for k = 13 … 2.
const INV_FACT: [f64; 12] = [
    1.0 / 6_227_020_800.0,
    1.0 / 479_001_600.0,
    1.0 / 39_916_800.0,
    1.0 / 3_628_800.0,
    1.0 / 362_880.0,
    1.0 / 40_320.0,
    1.0 / 5_040.0,
    1.0 / 720.0,
    1.0 / 120.0,
    1.0 / 24.0,
    1.0 / 6.0,
    0.5,
];

/// Fused multiply-adds in the portable build where every CPU of the target has them in
/// hardware (aarch64); elsewhere `mul_add` without the target feature is a slow library call.
const PORTABLE_FMA: bool = cfg!(target_arch = "aarch64");

/// e^x for x in [`EXP64_MIN`, 0] (other inputs give garbage, NaN gives NaN).
#[inline(always)]
pub fn exp_le0(x: f64) -> f64 {
    exp_poly::<PORTABLE_FMA>(x)
}

#[inline(always)]
fn mad<const FMA: bool>(a: f64, b: f64, c: f64) -> f64 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

#[inline(always)]
fn exp_poly<const FMA: bool>(x: f64) -> f64 {
    let k = x * LOG2E + SHIFTER;
    let n = k - SHIFTER;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    // The polynomial as two Horner chains run side by side, 1 + r + … + r⁶/6! and
    // r⁷·(1/7! + … + r⁶/13!): one chain of thirteen steps is a latency chain too long for the
    // out-of-order window to hide (this halves it: about 1.25× faster on the portable path), and
    // the high part, at most 6e−4 of the result, adds no measurable rounding error.
    let mut high = INV_FACT[0];
    for &c in &INV_FACT[1..7] {
        high = mad::<FMA>(high, r, c);
    }
    let mut low = INV_FACT[7];
    for &c in &INV_FACT[8..] {
        low = mad::<FMA>(low, r, c);
    }
    let low = mad::<FMA>(mad::<FMA>(low, r, 1.0), r, 1.0);
    let r2 = r * r;
    let y = mad::<FMA>((r2 * r) * (r2 * r2), high, low);
    // The integer n sits in k's low mantissa bits: 2ⁿ has exponent field n + 1023.
    let ni = (k.to_bits() as i64).wrapping_sub(SHIFTER.to_bits() as i64);
    y * f64::from_bits((ni.wrapping_add(1023) as u64) << 52)
}

/// max(x, EXP64_MIN) that keeps NaN (`f64::max` would return the bound).
#[inline(always)]
fn clamp_min(x: f64) -> f64 {
    if x < EXP64_MIN {
        EXP64_MIN
    } else {
        x
    }
}

fn exp_slice_portable(src: &[f64], dst: &mut [f64]) {
    for (d, &x) in dst.iter_mut().zip(src) {
        *d = exp_le0(clamp_min(x));
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn exp_slice_avx2(src: &[f64], dst: &mut [f64]) {
    use std::arch::x86_64::*;
    let mut s = src.chunks_exact(4);
    let mut d = dst.chunks_exact_mut(4);
    for (d, s) in (&mut d).zip(&mut s) {
        // SAFETY: both chunks hold four doubles.
        unsafe {
            // max(MIN, x) returns x when x is NaN (the second operand wins), as `clamp_min`.
            let x = _mm256_max_pd(_mm256_set1_pd(EXP64_MIN), _mm256_loadu_pd(s.as_ptr()));
            _mm256_storeu_pd(d.as_mut_ptr(), avx2::exp4(x));
        }
    }
    for (d, &x) in d.into_remainder().iter_mut().zip(s.remainder()) {
        *d = exp_poly::<true>(clamp_min(x));
    }
}

/// `dst[i] = e^max(src[i], EXP64_MIN)` for the entries both slices hold, at the process-wide
/// SIMD level: eight lanes at a time with AVX-512 (a table of 2^(j/16)), four
/// with AVX2 (fused multiply-adds); the paths may differ in the last ulp, each is within two
/// ulp of `f64::exp`.
pub fn exp_slice(src: &[f64], dst: &mut [f64]) {
    exp_slice_at(super::simd::active(), src, dst);
}

/// [`exp_slice`] at `level` (a level this CPU supports; others run the portable loop).
pub(crate) fn exp_slice_at(level: super::simd::SimdLevel, src: &[f64], dst: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    {
        use super::simd::SimdLevel;
        if level >= SimdLevel::Avx512 && level.supported() {
            // SAFETY: the CPU supports AVX-512F (checked just above).
            unsafe { avx512::exp_slice::<false>(src, dst) };
            return;
        }
        if level >= SimdLevel::Avx2 && level.supported() {
            // SAFETY: the CPU supports AVX2 and FMA (checked just above).
            unsafe { exp_slice_avx2(src, dst) };
            return;
        }
    }
    let _ = level;
    exp_slice_portable(src, dst);
}

/// [`exp_slice`] for the top-k summary: at the AVX-512 level with a polynomial two multiply-adds
/// shorter (about 4% of a summary; within about one ulp of `f64::exp` as well), at the AVX2 level
/// table-driven ([`avx2_table`]: a third less time than [`exp_slice`]'s, which the float64 token
/// signals keep), the portable level as [`exp_slice`]. Chosen by the process-wide level, so every
/// row kernel of a summary sees the same probabilities; each entry's value depends on that entry
/// alone (not on where it sits in the slice), so a row has the same bits in any block.
pub(crate) fn exp_slice_summary(src: &[f64], dst: &mut [f64]) {
    let level = super::simd::active();
    #[cfg(target_arch = "x86_64")]
    {
        use super::simd::SimdLevel;
        if level >= SimdLevel::Avx512 && level.supported() {
            // SAFETY: the CPU supports AVX-512F (checked just above).
            unsafe { avx512::exp_slice::<true>(src, dst) };
            return;
        }
        if level >= SimdLevel::Avx2 && level.supported() {
            // SAFETY: the CPU supports AVX2 and FMA (checked just above).
            unsafe { avx2_table::exp_slice(src, dst) };
            return;
        }
    }
    exp_slice_at(level, src, dst);
}

/// The AVX2 exponential of the top-k summary, table-driven so that it needs a polynomial of
/// degree 5 instead of 13 (the multiply-add ports bound the degree-13 one; a gather is slower
/// than the four scalar table loads on Zen 3): x = (64e + j)·ln2/64 + r with |r| ≤ ln2/128,
/// e^x = 2^e · 2^(j/64) · e^r, where 2^(j/64) is a (high, low) pair of doubles read by one
/// 16-byte load per lane, and e^r − 1 = r + r²(1/2 + r/6 + r²/24 + r³/120) (truncation below
/// 4e−17 relative). Within one ulp of `f64::exp`, as the AVX-512 build ([`avx512`], the same
/// scheme with 16 entries).
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2_table {
    use std::arch::x86_64::*;

    use super::{EXP64_MIN, LN2_HI, LN2_LO, LOG2E, SHIFTER};

    /// Table entries: 2^6.
    const BITS: i32 = 6;
    const N: usize = 1 << BITS;

    /// (2^(j/64) rounded to the nearest double, the rest rounded to the nearest double), as
    /// bits, j = 0 … 63: Python's `decimal` at 60 digits, `v = Decimal(2) ** (Decimal(j) / 64)`,
    /// `hi = float(v)`, `lo = float(v - Decimal(hi))`; every fourth entry is the AVX-512 table's.
    const TABLE_BITS: [[u64; 2]; N] = [
        [0x3FF0_0000_0000_0000, 0x0000_0000_0000_0000],
        [0x3FF0_2C9A_3E77_8061, 0xBC71_9083_535B_085D],
        [0x3FF0_59B0_D315_8574, 0x3C8D_73E2_A475_B465],
        [0x3FF0_8745_1875_9BC8, 0x3C61_86BE_4BB2_84FF],
        [0x3FF0_B558_6CF9_890F, 0x3C98_A62E_4ADC_610B],
        [0x3FF0_E3EC_32D3_D1A2, 0x3C40_3A17_27C5_7B53],
        [0x3FF1_1301_D012_5B51, 0xBC96_C510_3944_9B3A],
        [0x3FF1_429A_AEA9_2DE0, 0xBC93_2FBF_9AF1_369E],
        [0x3FF1_72B8_3C7D_517B, 0xBC81_9041_B9D7_8A76],
        [0x3FF1_A35B_EB6F_CB75, 0x3C8E_5B4C_7B49_68E4],
        [0x3FF1_D487_3168_B9AA, 0x3C9E_016E_00A2_643C],
        [0x3FF2_063B_8862_8CD6, 0x3C8D_C775_814A_8495],
        [0x3FF2_387A_6E75_6238, 0x3C99_B07E_B6C7_0573],
        [0x3FF2_6B45_65E2_7CDD, 0x3C82_BD33_9940_E9D9],
        [0x3FF2_9E9D_F51F_DEE1, 0x3C86_12E8_AFAD_1255],
        [0x3FF2_D285_A6E4_030B, 0x3C90_0247_54DB_41D5],
        [0x3FF3_06FE_0A31_B715, 0x3C86_F46A_D231_82E4],
        [0x3FF3_3C08_B264_16FF, 0x3C93_2721_8436_59A6],
        [0x3FF3_71A7_373A_A9CB, 0xBC96_3AEA_BF42_EAE2],
        [0x3FF3_A7DB_34E5_9FF7, 0xBC75_E436_D661_F5E3],
        [0x3FF3_DEA6_4C12_3422, 0x3C8A_DA09_11F0_9EBC],
        [0x3FF4_160A_21F7_2E2A, 0xBC5E_F369_1C30_9278],
        [0x3FF4_4E08_6061_892D, 0x3C48_9B7A_04EF_80D0],
        [0x3FF4_86A2_B5C1_3CD0, 0x3C73_C1A3_B690_62F0],
        [0x3FF4_BFDA_D536_2A27, 0x3C7D_4397_AFEC_42E2],
        [0x3FF4_F9B2_769D_2CA7, 0xBC94_B309_D259_57E3],
        [0x3FF5_342B_569D_4F82, 0xBC80_7ABE_1DB1_3CAD],
        [0x3FF5_6F47_36B5_27DA, 0x3C99_BB2C_011D_93AD],
        [0x3FF5_AB07_DD48_5429, 0x3C96_324C_0546_47AD],
        [0x3FF5_E76F_15AD_2148, 0x3C9B_A6F9_3080_E65E],
        [0x3FF6_247E_B03A_5585, 0xBC93_83C1_7E40_B497],
        [0x3FF6_6238_8255_2225, 0xBC9B_B609_8759_1C34],
        [0x3FF6_A09E_667F_3BCD, 0xBC9B_DD34_13B2_6456],
        [0x3FF6_DFB2_3C65_1A2F, 0xBC6B_BE3A_683C_88AB],
        [0x3FF7_1F75_E8EC_5F74, 0xBC81_6E47_8688_7A99],
        [0x3FF7_5FEB_5642_67C9, 0xBC90_2459_5731_6DD3],
        [0x3FF7_A114_73EB_0187, 0xBC84_1577_EE04_992F],
        [0x3FF7_E2F3_36CF_4E62, 0x3C70_5D02_BA15_797E],
        [0x3FF8_2589_994C_CE13, 0xBC9D_4C1D_D415_32D8],
        [0x3FF8_68D9_9B44_92ED, 0xBC9F_C6F8_9BD4_F6BA],
        [0x3FF8_ACE5_422A_A0DB, 0x3C96_E9F1_5686_4B27],
        [0x3FF8_F1AE_9915_7736, 0x3C85_CC13_A2E3_976C],
        [0x3FF9_3737_B0CD_C5E5, 0xBC67_5FC7_81B5_7EBC],
        [0x3FF9_7D82_9FDE_4E50, 0xBC9D_185B_7C1B_85D1],
        [0x3FF9_C491_82A3_F090, 0x3C7C_7C46_B071_F2BE],
        [0x3FFA_0C66_7B5D_E565, 0xBC93_5949_5D1C_D533],
        [0x3FFA_5503_B23E_255D, 0xBC9D_2F6E_DB8D_41E1],
        [0x3FFA_9E6B_5579_FDBF, 0x3C90_FAC9_0EF7_FD31],
        [0x3FFA_E89F_995A_D3AD, 0x3C97_A1CD_345D_CC81],
        [0x3FFB_33A2_B84F_15FB, 0xBC62_805E_3084_D708],
        [0x3FFB_7F76_F2FB_5E47, 0xBC75_584F_7E54_AC3B],
        [0x3FFB_CC1E_904B_C1D2, 0x3C82_3DD0_7A2D_9E84],
        [0x3FFC_199B_DD85_529C, 0x3C81_1065_8950_48DD],
        [0x3FFC_67F1_2E57_D14B, 0x3C92_884D_FF48_3CAD],
        [0x3FFC_B720_DCEF_9069, 0x3C75_03CB_D1E9_49DB],
        [0x3FFD_072D_4A07_897C, 0xBC9C_BC37_4379_7A9C],
        [0x3FFD_5818_DCFB_A487, 0x3C82_ED02_D75B_3707],
        [0x3FFD_A9E6_03DB_3285, 0x3C9C_2300_696D_B532],
        [0x3FFD_FC97_337B_9B5F, 0xBC91_A5CD_4F18_4B5C],
        [0x3FFE_502E_E78B_3FF6, 0x3C83_9E89_80A9_CC8F],
        [0x3FFE_A4AF_A2A4_90DA, 0xBC9E_9C23_179C_2893],
        [0x3FFE_FA1B_EE61_5A27, 0x3C9D_C7F4_86A4_B6B0],
        [0x3FFF_5076_5B6E_4540, 0x3C99_D3E1_2DD8_A18B],
        [0x3FFF_A7C1_819E_90D8, 0x3C87_4853_F3A5_931E],
    ];

    /// The table as doubles, 16-byte aligned (one aligned load per entry).
    #[repr(align(16))]
    struct Table([[f64; 2]; N]);

    static TABLE: Table = Table({
        let mut t = [[0.0; 2]; N];
        let mut j = 0;
        while j < N {
            t[j] = [f64::from_bits(TABLE_BITS[j][0]), f64::from_bits(TABLE_BITS[j][1])];
            j += 1;
        }
        t
    });

    /// The first step of [`exp4`]: max(x, EXP64_MIN) and k = x·64/ln2 + 1.5·2⁵², whose low
    /// bits hold the integer n = round(x·64/ln2) = 64e + j.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn arg4(x: __m256d) -> (__m256d, __m256d) {
        let x = clamp4(x);
        (
            x,
            _mm256_fmadd_pd(x, _mm256_set1_pd(N as f64 * LOG2E), _mm256_set1_pd(SHIFTER)),
        )
    }

    /// max(x, EXP64_MIN), NaN kept (`max_pd` returns its second operand on NaN).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn clamp4(x: __m256d) -> __m256d {
        _mm256_max_pd(_mm256_set1_pd(EXP64_MIN), x)
    }

    /// The table entries (2^(j/64) high, low) of four values of k at `k` in memory: each read
    /// as an integer straight from memory, so the loads wait on no vector operation.
    ///
    /// # Safety
    /// `k` must point to four readable values.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn entries(k: *const f64) -> [__m128d; 4] {
        let base = TABLE.0.as_ptr();
        // SAFETY: the caller's for `k` (volatile: read as integers, not taken from a vector
        // the compiler already holds); j = the low six bits picks an entry of the table.
        std::array::from_fn(|l| unsafe {
            let j = std::ptr::read_volatile(k.add(l).cast::<u64>()) as usize % N;
            _mm_load_pd(base.add(j).cast())
        })
    }

    /// e^x from [`arg4`]'s x and k and [`entries`]: x = (64e + j)·ln2/64 + r,
    /// e^x = 2^e · 2^(j/64) · e^r.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn finish4(x: __m256d, k: __m256d, [t0, t1, t2, t3]: [__m128d; 4]) -> __m256d {
        let n = _mm256_sub_pd(k, _mm256_set1_pd(SHIFTER));
        // r = x − n·ln2/64 in two steps (LN2_HI has trailing zeros: n·LN2_HI/64 is exact).
        let r = _mm256_fnmadd_pd(n, _mm256_set1_pd(LN2_HI / N as f64), x);
        let r = _mm256_fnmadd_pd(n, _mm256_set1_pd(LN2_LO / N as f64), r);
        let t02 = _mm256_insertf128_pd::<1>(_mm256_castpd128_pd256(t0), t2);
        let t13 = _mm256_insertf128_pd::<1>(_mm256_castpd128_pd256(t1), t3);
        let (t_hi, t_lo) = (_mm256_unpacklo_pd(t02, t13), _mm256_unpackhi_pd(t02, t13));
        let mut y = _mm256_set1_pd(1.0 / 120.0);
        for c in [1.0 / 24.0, 1.0 / 6.0, 0.5] {
            y = _mm256_fmadd_pd(y, r, _mm256_set1_pd(c));
        }
        // q = e^r − 1 = r + r²·y; 2^(j/64)·e^r = T_HI + (T_HI·q + T_LO).
        let q = _mm256_fmadd_pd(y, _mm256_mul_pd(r, r), r);
        let p = _mm256_add_pd(t_hi, _mm256_fmadd_pd(t_hi, q, t_lo));
        // 2^e by adding e to the exponent field: (n << 46) keeps n's low 18 bits on top, of
        // which bits 6–17 (e mod 2¹²) land on the exponent field's 12 bits; p and the result
        // are normal doubles for x ≥ EXP64_MIN, so the field arithmetic is exact.
        let e = _mm256_and_si256(
            _mm256_slli_epi64::<{ 52 - BITS }>(_mm256_castpd_si256(k)),
            _mm256_set1_epi64x(0xFFF0_0000_0000_0000u64 as i64),
        );
        _mm256_castsi256_pd(_mm256_add_epi64(_mm256_castpd_si256(p), e))
    }

    /// e^max(x, EXP64_MIN) of four lanes (NaN stays NaN; any lane's j is in 0 … 63, NaN's
    /// too).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub(crate) fn exp4(x: __m256d) -> __m256d {
        let (x, k) = arg4(x);
        let mut at = [0.0; 4];
        // SAFETY: `at` holds four values.
        unsafe { _mm256_storeu_pd(at.as_mut_ptr(), k) };
        // SAFETY: as above.
        finish4(x, k, unsafe { entries(at.as_ptr()) })
    }

    /// `dst[i] = e^max(src[i], EXP64_MIN)` for the entries both slices hold, in two passes:
    /// k ([`arg4`]) of every entry into `dst`, then the rest of [`exp4`] ([`finish4`]) in
    /// place, whose table loads read k from memory. In one pass each table load waits on the
    /// vector operations before it, and those chains, not the ports, bound the loop (about
    /// twice the time); the last few entries go through masked loads and stores (the same
    /// lanes' operations: the same bits).
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn exp_slice(src: &[f64], dst: &mut [f64]) {
        let len = src.len().min(dst.len());
        let whole = len / 4 * 4;
        let (s, d) = (src.as_ptr(), dst.as_mut_ptr());
        for i in (0..whole).step_by(4) {
            // SAFETY: entries i … i + 3 are inside both slices.
            unsafe { _mm256_storeu_pd(d.add(i), arg4(_mm256_loadu_pd(s.add(i))).1) };
        }
        for i in (0..whole).step_by(4) {
            // SAFETY: as above.
            unsafe {
                let (x, k) = (clamp4(_mm256_loadu_pd(s.add(i))), _mm256_loadu_pd(d.add(i)));
                _mm256_storeu_pd(d.add(i), finish4(x, k, entries(d.add(i))));
            }
        }
        if whole < len {
            let on = |l: usize| if whole + l < len { -1i64 } else { 0 };
            let m = _mm256_setr_epi64x(on(0), on(1), on(2), on(3));
            // SAFETY: the masked load and store touch only entries whole … len − 1.
            unsafe { _mm256_maskstore_pd(d.add(whole), m, exp4(_mm256_maskload_pd(s.add(whole), m))) };
        }
    }
}

/// The AVX2 exponential of four float64 lanes: [`exp_poly`] with fused multiply-adds, the same
/// operations lane by lane (so the same bits as [`exp_slice`] at the AVX2 level).
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2 {
    use std::arch::x86_64::*;

    use super::{INV_FACT, LN2_HI, LN2_LO, LOG2E, SHIFTER};

    /// e^x of four lanes for x in [`super::EXP64_MIN`], 0] (other inputs give garbage).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub(crate) fn exp4(x: __m256d) -> __m256d {
        let k = _mm256_add_pd(_mm256_mul_pd(x, _mm256_set1_pd(LOG2E)), _mm256_set1_pd(SHIFTER));
        let n = _mm256_sub_pd(k, _mm256_set1_pd(SHIFTER));
        let r = _mm256_sub_pd(
            _mm256_sub_pd(x, _mm256_mul_pd(n, _mm256_set1_pd(LN2_HI))),
            _mm256_mul_pd(n, _mm256_set1_pd(LN2_LO)),
        );
        let mut high = _mm256_set1_pd(INV_FACT[0]);
        for &f in &INV_FACT[1..7] {
            high = _mm256_fmadd_pd(high, r, _mm256_set1_pd(f));
        }
        let mut low = _mm256_set1_pd(INV_FACT[7]);
        for &f in &INV_FACT[8..] {
            low = _mm256_fmadd_pd(low, r, _mm256_set1_pd(f));
        }
        let low = _mm256_fmadd_pd(_mm256_fmadd_pd(low, r, _mm256_set1_pd(1.0)), r, _mm256_set1_pd(1.0));
        let r2 = _mm256_mul_pd(r, r);
        let y = _mm256_fmadd_pd(_mm256_mul_pd(_mm256_mul_pd(r2, r), _mm256_mul_pd(r2, r2)), high, low);
        // n sits in k's low mantissa bits: 2ⁿ has exponent field n + 1023.
        let ni = _mm256_sub_epi64(_mm256_castpd_si256(k), _mm256_set1_epi64x(SHIFTER.to_bits() as i64));
        let pow = _mm256_slli_epi64::<52>(_mm256_add_epi64(ni, _mm256_set1_epi64x(1023)));
        _mm256_mul_pd(y, _mm256_castsi256_pd(pow))
    }
}

/// The AVX-512 exponential, table-driven so that it needs a polynomial of degree 7 instead of
/// 13 (the multiply-add ports are its bottleneck): x = (16e + j)·ln2/16 + r with |r| ≤ ln2/32,
/// e^x = 2^e · 2^(j/16) · e^r, where 2^(j/16) is a 16-entry table held in two registers per
/// part (a high and a low double, 2^(j/16) to about 2⁻¹⁰⁶) and looked up by one permute, and
/// e^r − 1 = r(1 + r/2 + … + r⁶/7!) (truncation below 2e−18 relative). Within one ulp of
/// `f64::exp`.
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512 {
    use std::arch::x86_64::*;

    use super::{EXP64_MIN, LN2_HI, LN2_LO, LOG2E, SHIFTER};

    /// 2^(j/16), j = 0 … 15, rounded to the nearest double (computed with 60 decimal digits).
    const T_HI: [u64; 16] = [
        0x3FF0_0000_0000_0000,
        0x3FF0_B558_6CF9_890F,
        0x3FF1_72B8_3C7D_517B,
        0x3FF2_387A_6E75_6238,
        0x3FF3_06FE_0A31_B715,
        0x3FF3_DEA6_4C12_3422,
        0x3FF4_BFDA_D536_2A27,
        0x3FF5_AB07_DD48_5429,
        0x3FF6_A09E_667F_3BCD,
        0x3FF7_A114_73EB_0187,
        0x3FF8_ACE5_422A_A0DB,
        0x3FF9_C491_82A3_F090,
        0x3FFA_E89F_995A_D3AD,
        0x3FFC_199B_DD85_529C,
        0x3FFD_5818_DCFB_A487,
        0x3FFE_A4AF_A2A4_90DA,
    ];
    /// 2^(j/16) − T_HI[j], rounded to the nearest double.
    const T_LO: [u64; 16] = [
        0x0000_0000_0000_0000,
        0x3C98_A62E_4ADC_610B,
        0xBC81_9041_B9D7_8A76,
        0x3C99_B07E_B6C7_0573,
        0x3C86_F46A_D231_82E4,
        0x3C8A_DA09_11F0_9EBC,
        0x3C7D_4397_AFEC_42E2,
        0x3C96_324C_0546_47AD,
        0xBC9B_DD34_13B2_6456,
        0xBC84_1577_EE04_992F,
        0x3C96_E9F1_5686_4B27,
        0x3C7C_7C46_B071_F2BE,
        0x3C97_A1CD_345D_CC81,
        0x3C81_1065_8950_48DD,
        0x3C82_ED02_D75B_3707,
        0xBC9E_9C23_179C_2893,
    ];

    /// The table of 2^(j/16) held in registers, built once per slice or row ([`Consts::new`]).
    pub(crate) struct Consts {
        t_hi: [__m512d; 2],
        t_lo: [__m512d; 2],
    }

    impl Consts {
        #[inline]
        #[target_feature(enable = "avx512f")]
        pub(crate) fn new() -> Self {
            Self {
                t_hi: table(&T_HI),
                t_lo: table(&T_LO),
            }
        }
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn table(bits: &[u64; 16]) -> [__m512d; 2] {
        let half = |h: &[u64]| {
            let v: [f64; 8] = std::array::from_fn(|i| f64::from_bits(h[i]));
            // SAFETY: `v` holds eight doubles.
            unsafe { _mm512_loadu_pd(v.as_ptr()) }
        };
        [half(&bits[..8]), half(&bits[8..])]
    }

    /// The argument reduction both exponentials share: x = n·ln2/16 + r with |r| ≤ ln2/32,
    /// returned as (r, the shifted n whose low bits hold n, T_HI(j), T_LO(j)).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn reduce8(c: &Consts, x: __m512d) -> (__m512d, __m512i, __m512d, __m512d) {
        // max(MIN, x) returns x when x is NaN (the second operand wins on NaN).
        let x = _mm512_max_pd(_mm512_set1_pd(EXP64_MIN), x);
        let k = _mm512_fmadd_pd(x, _mm512_set1_pd(16.0 * LOG2E), _mm512_set1_pd(SHIFTER));
        let n = _mm512_sub_pd(k, _mm512_set1_pd(SHIFTER));
        // r = x − n·ln2/16 in two steps (LN2_HI has trailing zeros: n·LN2_HI/16 is exact).
        let r = _mm512_fnmadd_pd(n, _mm512_set1_pd(LN2_HI / 16.0), x);
        let r = _mm512_fnmadd_pd(n, _mm512_set1_pd(LN2_LO / 16.0), r);
        // The integer n = 16e + j sits in k's low bits: j (its low four bits) picks the table
        // entry (the permute reads bits 0–3 of each index), e (bits 4 and up) the exponent.
        let ki = _mm512_castpd_si512(k);
        let t_hi = _mm512_permutex2var_pd(c.t_hi[0], ki, c.t_hi[1]);
        let t_lo = _mm512_permutex2var_pd(c.t_lo[0], ki, c.t_lo[1]);
        (r, ki, t_hi, t_lo)
    }

    /// 2^(j/16)·e^r·2^e from q = e^r − 1 and [`reduce8`]'s n and table entries.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn scale8(q: __m512d, ki: __m512i, t_hi: __m512d, t_lo: __m512d) -> __m512d {
        // 2^(j/16)·e^r = T_HI + (T_HI·q + T_LO).
        let p = _mm512_add_pd(t_hi, _mm512_fmadd_pd(t_hi, q, t_lo));
        // 2^e by adding e to the exponent field: (n << 48) keeps n's low 16 bits on top, of
        // which bits 4–15 (e mod 2¹²) land on the exponent field's 12 bits; p and the result
        // are normal doubles, so the field arithmetic is exact.
        let e = _mm512_and_si512(
            _mm512_slli_epi64::<48>(ki),
            _mm512_set1_epi64(0xFFF0_0000_0000_0000u64 as i64),
        );
        _mm512_castsi512_pd(_mm512_add_epi64(_mm512_castpd_si512(p), e))
    }

    /// e^max(x, EXP64_MIN) of eight lanes (NaN stays NaN).
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(crate) fn exp8(c: &Consts, x: __m512d) -> __m512d {
        let (r, ki, t_hi, t_lo) = reduce8(c, x);
        let mut y = _mm512_set1_pd(1.0 / 5040.0);
        for coef in [1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5] {
            y = _mm512_fmadd_pd(y, r, _mm512_set1_pd(coef));
        }
        // q = e^r − 1 = r·(1 + r·y).
        let q = _mm512_mul_pd(r, _mm512_fmadd_pd(y, r, _mm512_set1_pd(1.0)));
        scale8(q, ki, t_hi, t_lo)
    }

    /// [`exp8`] with a polynomial of degree 6 instead of 7 (near-minimax on |r| ≤ ln2/32, its
    /// error 0.26 ulp against the truncated series' 0.01) and e^r − 1 as r + r²·y: two fused
    /// multiply-adds fewer on the ports that bound it, still within about one ulp of `f64::exp`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn exp8_deg6(c: &Consts, x: __m512d) -> __m512d {
        let (r, ki, t_hi, t_lo) = reduce8(c, x);
        let mut y = _mm512_set1_pd(DEG6_POLY[0]);
        for &coef in &DEG6_POLY[1..] {
            y = _mm512_fmadd_pd(y, r, _mm512_set1_pd(coef));
        }
        // q = e^r − 1 = r + r²·y.
        let q = _mm512_fmadd_pd(y, _mm512_mul_pd(r, r), r);
        scale8(q, ki, t_hi, t_lo)
    }

    /// (e^r − 1 − r)/r² on |r| ≤ ln2/32 to degree 4, from the highest power: the Chebyshev
    /// interpolant (5 nodes, computed with 60 digits), 0.26 ulp of e^r at most.
    const DEG6_POLY: [f64; 5] = [
        0.001_388_903_437_769_301_2,
        0.008_333_449_724_528_355,
        0.041_666_666_664_959_766,
        0.166_666_666_653_011_44,
        0.5,
    ];

    /// `dst[i] = e^max(src[i], EXP64_MIN)` with [`exp8`], or with [`exp8_deg6`] when `DEG6`.
    ///
    /// # Safety
    /// The CPU must support AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn exp_slice<const DEG6: bool>(src: &[f64], dst: &mut [f64]) {
        let c = Consts::new();
        let exp = |x| if DEG6 { exp8_deg6(&c, x) } else { exp8(&c, x) };
        let len = src.len().min(dst.len());
        let (s, d) = (src.as_ptr(), dst.as_mut_ptr());
        let mut i = 0;
        while i + 8 <= len {
            // SAFETY: entries i … i + 7 are inside both slices.
            unsafe { _mm512_storeu_pd(d.add(i), exp(_mm512_loadu_pd(s.add(i)))) };
            i += 8;
        }
        if i < len {
            let m = ((1u32 << (len - i)) - 1) as __mmask8;
            // SAFETY: the masked load and store touch only entries i … len − 1.
            unsafe { _mm512_mask_storeu_pd(d.add(i), m, exp(_mm512_maskz_loadu_pd(m, s.add(i)))) };
        }
    }
}

const SQRT_HALF_BITS: u64 = 0x3FE6_A09E_667F_3BCD;

/// −x·ln x for x in (0, 1] (0 for x below the smallest normal float64, where the exact value
/// is under 2e−305): exponent split so the mantissa m lies in [√½, √2), then
/// ln m = 2·atanh(s), s = (m − 1)/(m + 1), |s| < 0.172, by its odd series to s²¹ (truncation
/// below 1e−17). Branch-free, so the loop over rows vectorises.
#[inline(always)]
pub fn xlogx_neg_pos(x: f64) -> f64 {
    let bits = x.to_bits();
    let t = bits.wrapping_sub(SQRT_HALF_BITS);
    // The 12-bit exponent difference, sign-extended without a 64-bit arithmetic shift.
    let e = (((t >> 52) as i64) ^ 0x800) - 0x800;
    let m = f64::from_bits(bits.wrapping_sub((e as u64) << 52));
    let ef = f64::from_bits((e.wrapping_add(0x4338_0000_0000_0000)) as u64) - SHIFTER;
    let s = (m - 1.0) / (m + 1.0);
    let z = s * s;
    let mut y = 1.0 / 21.0;
    for d in [19.0, 17.0, 15.0, 13.0, 11.0, 9.0, 7.0, 5.0, 3.0] {
        y = y * z + 1.0 / d;
    }
    let ln_m = 2.0 * s * (y * z + 1.0);
    let ln = ef * LN2_HI + (ln_m + ef * LN2_LO);
    if x >= f64::MIN_POSITIVE {
        -x * ln
    } else {
        0.0
    }
}

/// `dst[i] = −src[i]·ln src[i]` for src in [0, 1] (see [`xlogx_neg_pos`]), vectorised where the
/// CPU allows.
pub fn xlogx_slice(src: &[f64], dst: &mut [f64]) {
    xlogx_slice_at(super::simd::active(), src, dst);
}

/// [`xlogx_slice`] at `level` (a level this CPU supports; others run the portable loop). Every
/// build runs the same operations: the same bits.
pub(crate) fn xlogx_slice_at(level: super::simd::SimdLevel, src: &[f64], dst: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    {
        use super::simd::SimdLevel;
        if level >= SimdLevel::Avx512 && level.supported() {
            // SAFETY: the CPU supports AVX-512F (checked just above).
            unsafe { xlogx_slice_avx512(src, dst) };
            return;
        }
        if level >= SimdLevel::Avx2 && level.supported() {
            // SAFETY: the CPU supports AVX2 (checked just above).
            unsafe { xlogx_slice_avx2(src, dst) };
            return;
        }
    }
    let _ = level;
    for (d, &x) in dst.iter_mut().zip(src) {
        *d = xlogx_neg_pos(x);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn xlogx_slice_avx2(src: &[f64], dst: &mut [f64]) {
    for (d, &x) in dst.iter_mut().zip(src) {
        *d = xlogx_neg_pos(x);
    }
}

/// The same loop as the AVX2 one, eight lanes wide (no fused operations: the same bits).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn xlogx_slice_avx512(src: &[f64], dst: &mut [f64]) {
    for (d, &x) in dst.iter_mut().zip(src) {
        *d = xlogx_neg_pos(x);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_to_std_exp_and_paths_agree() {
        // A dense grid over [−708, 0], the edges, and points either side of the tables' and the
        // reductions' rounding boundaries (multiples of ln2/128 and so of ln2/32).
        let step = std::f64::consts::LN_2 / 128.0;
        let xs: Vec<f64> = (0..200_000)
            .map(|i| -(i as f64) * 0.00354)
            .chain((0..16_000).flat_map(|i| {
                let b = -(i as f64) * step;
                [b, b - 1e-12, b + 1e-12, b * (1.0 - f64::EPSILON)]
            }))
            .map(|x: f64| x.min(0.0))
            .chain([
                0.0,
                -0.0,
                -1e-300,
                -5e-324,
                EXP64_MIN,
                EXP64_MIN + 1e-9,
                -707.999_999,
                -1000.0,
            ])
            .collect();
        let mut b = vec![0.0; xs.len()];
        exp_slice_portable(&xs, &mut b);
        for level in crate::signals::simd::supported_levels() {
            // Every length's tail (the masked last vector) as well as the bulk.
            for len in [xs.len(), 1, 3, 8, 13] {
                let mut a = vec![f64::NAN; len];
                exp_slice_at(level, &xs[..len], &mut a);
                for ((&x, &got), &port) in xs.iter().zip(&a).zip(&b) {
                    let want = x.max(EXP64_MIN).exp();
                    assert!(
                        ((got - want) / want).abs() < 4e-16,
                        "{}: exp({x}) = {got}, want {want}",
                        level.name()
                    );
                    assert!(
                        ((port - want) / want).abs() < 4e-16,
                        "portable exp({x}) = {port}, want {want}"
                    );
                }
            }
            let mut nan = [0.0; 9];
            exp_slice_at(level, &[f64::NAN; 9], &mut nan);
            assert!(nan.iter().all(|v| v.is_nan()), "{}", level.name());
        }
        // The top-k summary's slice (the shorter polynomial at AVX-512): as close.
        for len in [xs.len(), 1, 3, 8, 13] {
            let mut a = vec![f64::NAN; len];
            exp_slice_summary(&xs[..len], &mut a);
            for (&x, &got) in xs.iter().zip(&a) {
                let want = x.max(EXP64_MIN).exp();
                assert!(
                    ((got - want) / want).abs() < 4e-16,
                    "summary exp({x}) = {got}, want {want}"
                );
            }
        }
        let mut nan = [0.0; 9];
        exp_slice_summary(&[f64::NAN; 9], &mut nan);
        assert!(nan.iter().all(|v| v.is_nan()));
        assert_eq!(exp_le0(0.0), 1.0);
        // −x ln x over (0, 1], normal and near the subnormal edge, against f64::ln.
        let xs: Vec<f64> = (1..200_000)
            .map(|i| (i as f64 / 200_000.0).powi(1 + (i % 7) * 40))
            .chain([1.0, 0.5, f64::MIN_POSITIVE, 1e-300, 0.0, 1e-310])
            .collect();
        for level in crate::signals::simd::supported_levels() {
            let mut out = vec![0.0; xs.len()];
            xlogx_slice_at(level, &xs, &mut out);
            for (&x, &got) in xs.iter().zip(&out) {
                let want = if x > 0.0 { -x * x.ln() } else { 0.0 };
                let scalar = xlogx_neg_pos(x);
                if x < f64::MIN_POSITIVE {
                    assert_eq!(got, 0.0);
                    continue;
                }
                assert_eq!(got.to_bits(), scalar.to_bits());
                let tol = 4e-16 * want.abs() + 1e-300;
                assert!(
                    (got - want).abs() <= tol.max(4e-16 * x),
                    "xlogx({x}) = {got}, want {want}"
                );
            }
        }
        assert!(exp_le0(f64::NAN).is_nan());
    }
}
