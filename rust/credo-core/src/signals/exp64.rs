//! A float64 exponential for logprobs in [−708, 0] (and −x·ln x on (0, 1]) that vectorises.
//! The portable and AVX2 builds: Cody–Waite range reduction (x = n·ln2 + r, |r| ≤ ln2/2) and the
//! degree-13 Taylor polynomial of e^r (truncation below 1e−17 relative), scaled by 2ⁿ through the
//! exponent bits, with fused multiply-adds on AVX2 and on aarch64 (where every CPU has them) and
//! plain mul/add elsewhere (a software `fma` would be slow). The AVX-512 build looks 2^(j/16) up
//! in a table and needs a degree-7 polynomial (module `avx512`); the top-k summary's AVX2 build
//! looks 2^(j/256) up and needs degree 4. Each is within two ulp of `f64::exp`; the paths may
//! differ in the last ulp. Used by the single-request top-k summary, where the per-entry `exp`
//! dominates. The token signals' float64 lanes have exponentials of their own, made for sums
//! whose largest term is 1 (`EXP64_ZERO`): AVX2 2^(j/8) by permutes and degree 7 (module
//! `avx2_table`), AVX-512 2^(j/16) by one permute and degree 6 (`avx512::reduce8_scaled`),
//! both with a one-step reduction that trades accuracy far below 0 (|t|·3.4e−17 relative) for
//! a multiply-add a vector.

/// Smallest argument handled (2ⁿ stays a normal float64); callers use `f64::exp` below it.
pub const EXP64_MIN: f64 = -708.0;

/// −1023·ln2: the token signals' exponentials (`avx2_table::arg4_perm`'s parts and
/// `avx512::reduce8_scaled`'s) clamp t up to it and give exactly 0 there, where n = round(t/ln2
/// per table step) is −1023 table lengths: 2⁻¹⁰²³·2⁰ made by the integer add is +0 (the
/// exponent field wraps to 0, the mantissa is 1.0's). So a masked (`-inf`) logit, or any t at
/// or below it, adds exactly 0 to Σe and to Σe·t without a mask. Between it and EXP64_MIN the
/// result stays at most e^EXP64_MIN but is not e^t where the exponent field reaches 0 (the
/// scale then reads as a subnormal): nothing a sum whose largest term is 1 can hold.
pub(crate) const EXP64_ZERO: f64 = -709.089_565_712_824_1;

const LOG2E: f64 = std::f64::consts::LOG2_E;
const LN2_HI: f64 = 0.693_147_180_369_123_8;
const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
/// 1.5·2⁵²: adding it rounds to an integer held in the low mantissa bits.
pub(crate) const SHIFTER: f64 = 6_755_399_441_055_744.0;
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
/// table-driven ([`avx2_table`]: a third less time than [`exp_slice`]'s), the portable level as
/// [`exp_slice`]. The float64 token signals have exponentials of their own (see the module
/// docs).
/// Chosen by the process-wide level, so every row kernel of a summary sees the same
/// probabilities; each entry's value depends on that entry alone (not on where it sits in the
/// slice), so a row has the same bits in any block.
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
/// degree 4 or 5 instead of 13 (the multiply-add ports bound the degree-13 one; a gather is
/// slower than the four scalar table loads on Zen 3): x = (256e + j)·ln2/256 + r with
/// |r| ≤ ln2/512, e^x = 2^e · 2^(j/256) · e^r. [`exp4`] (the temperature kernel's) reads
/// 2^(j/256) as a (high, low) pair of doubles, one 16-byte load per lane, and needs
/// e^r − 1 = r + r²(1/2 + r/6 + r²/24) (truncation below 4e−17 relative): within one ulp of
/// `f64::exp` (0.5 ulp and the truncation), as the AVX-512 build ([`avx512`], the same scheme
/// with 16 entries). The summary's slice ([`exp_slice`]) reads the high double alone (one
/// 8-byte load per lane, index j·8 straight from k's low byte: five instructions fewer per
/// four lanes than the pair, whose index j·16 takes a shift per lane and whose halves an
/// unpack, about 7% of a summary) with one more term, r³/120 (truncation below 1e−19): within
/// about one ulp (the high double's rounding, 0.5 ulp, and the result's).
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2_table {
    use std::arch::x86_64::*;

    use super::{EXP64_MIN, LN2_HI, LN2_LO, LOG2E, SHIFTER};

    /// Table entries: 2^8.
    const BITS: i32 = 8;
    const N: usize = 1 << BITS;

    /// (2^(j/256) rounded to the nearest double, the rest rounded to the nearest double), as
    /// bits, j = 0 … 255: Python's `decimal` at 60 digits, `v = Decimal(2) ** (Decimal(j) / 256)`,
    /// `hi = float(v)`, `lo = float(v - Decimal(hi))`; every sixteenth entry is the AVX-512
    /// table's.
    const TABLE_BITS: [[u64; 2]; N] = [
        [0x3FF0_0000_0000_0000, 0x0000_0000_0000_0000],
        [0x3FF0_0B1A_FA5A_BCBF, 0xBC84_F6B2_A760_9F71],
        [0x3FF0_163D_A9FB_3335, 0x3C9B_6129_9AB8_CDB7],
        [0x3FF0_2168_143B_0281, 0xBC82_BF31_0FC5_4EB6],
        [0x3FF0_2C9A_3E77_8061, 0xBC71_9083_535B_085D],
        [0x3FF0_37D4_2E11_BBCC, 0x3C65_6811_EEAD_E11A],
        [0x3FF0_4315_E86E_7F85, 0xBC90_A31C_1977_C96E],
        [0x3FF0_4E5F_72F6_54B1, 0x3C84_C379_3AA0_D08D],
        [0x3FF0_59B0_D315_8574, 0x3C8D_73E2_A475_B465],
        [0x3FF0_650A_0E3C_1F89, 0xBC95_CB7B_5799_C397],
        [0x3FF0_706B_29DD_F6DE, 0xBC8C_91DF_E2B1_3C27],
        [0x3FF0_7BD4_2B72_A836, 0x3C83_2334_5445_8700],
        [0x3FF0_8745_1875_9BC8, 0x3C61_86BE_4BB2_84FF],
        [0x3FF0_92BD_F666_07E0, 0xBC96_8063_800A_3FD1],
        [0x3FF0_9E3E_CAC6_F383, 0x3C91_4878_1831_6136],
        [0x3FF0_A9C7_9B1F_3919, 0x3C85_D16C_873D_1D38],
        [0x3FF0_B558_6CF9_890F, 0x3C98_A62E_4ADC_610B],
        [0x3FF0_C0F1_45E4_6C85, 0x3C94_F989_06D2_1CEF],
        [0x3FF0_CC92_2B72_47F7, 0x3C90_1EDC_16E2_4F71],
        [0x3FF0_D83B_2339_5DEC, 0xBC9B_C14D_E43F_316A],
        [0x3FF0_E3EC_32D3_D1A2, 0x3C40_3A17_27C5_7B53],
        [0x3FF0_EFA5_5FDF_A9C5, 0xBC94_9DB9_BC54_021B],
        [0x3FF0_FB66_AFFE_D31B, 0xBC6B_9BED_C44E_BD7B],
        [0x3FF1_0730_28D7_233E, 0x3C8D_46EB_1692_FDD5],
        [0x3FF1_1301_D012_5B51, 0xBC96_C510_3944_9B3A],
        [0x3FF1_1EDB_AB5E_2AB6, 0xBC9C_A454_F703_FB72],
        [0x3FF1_2ABD_C06C_31CC, 0xBC51_B514_B36C_A5C7],
        [0x3FF1_36A8_14F2_04AB, 0xBC67_108F_BA48_DCF0],
        [0x3FF1_429A_AEA9_2DE0, 0xBC93_2FBF_9AF1_369E],
        [0x3FF1_4E95_934F_312E, 0xBC8B_91E8_39BF_44AB],
        [0x3FF1_5A98_C8A5_8E51, 0x3C82_406A_B9EE_AB0A],
        [0x3FF1_66A4_5471_C3C2, 0x3C58_F23B_82EA_1A32],
        [0x3FF1_72B8_3C7D_517B, 0xBC81_9041_B9D7_8A76],
        [0x3FF1_7ED4_8695_BBC0, 0x3C70_9E3F_E2AC_5A64],
        [0x3FF1_8AF9_388C_8DEA, 0xBC91_1023_D197_0F6C],
        [0x3FF1_9726_5837_5D2F, 0x3C94_AADD_85F1_7E08],
        [0x3FF1_A35B_EB6F_CB75, 0x3C8E_5B4C_7B49_68E4],
        [0x3FF1_AF99_F813_8A1C, 0x3C97_BF85_A4B6_9280],
        [0x3FF1_BBE0_8404_5CD4, 0xBC99_5386_352E_F607],
        [0x3FF1_C82F_9528_1C6B, 0x3C90_0977_8010_F8C9],
        [0x3FF1_D487_3168_B9AA, 0x3C9E_016E_00A2_643C],
        [0x3FF1_E0E7_5EB4_4027, 0xBC96_FDD8_088C_B6DE],
        [0x3FF1_ED50_22FC_D91D, 0xBC91_DF98_027B_B78C],
        [0x3FF1_F9C1_8438_CE4D, 0xBC9B_F524_A097_AF5C],
        [0x3FF2_063B_8862_8CD6, 0x3C8D_C775_814A_8495],
        [0x3FF2_12BE_3578_A819, 0x3C93_592D_2CFC_AAC9],
        [0x3FF2_1F49_917D_DC96, 0x3C82_A97E_9494_A5EE],
        [0x3FF2_2BDD_A279_12D1, 0x3C8D_34FB_5577_D69F],
        [0x3FF2_387A_6E75_6238, 0x3C99_B07E_B6C7_0573],
        [0x3FF2_451F_FB82_140A, 0x3C8A_CFCC_911C_A996],
        [0x3FF2_51CE_4FB2_A63F, 0x3C8A_C155_BEF4_F4A4],
        [0x3FF2_5E85_711E_CE75, 0x3C93_E1A2_4AC3_1B2C],
        [0x3FF2_6B45_65E2_7CDD, 0x3C82_BD33_9940_E9D9],
        [0x3FF2_780E_341D_DF29, 0x3C9E_067C_05F9_E76C],
        [0x3FF2_84DF_E1F5_6381, 0xBC9A_4C3A_8C3F_0D7E],
        [0x3FF2_91BA_7591_BB70, 0xBC82_CC72_2840_1CBD],
        [0x3FF2_9E9D_F51F_DEE1, 0x3C86_12E8_AFAD_1255],
        [0x3FF2_AB8A_66D1_0F13, 0xBC99_5743_1916_90A7],
        [0x3FF2_B87F_D0DA_D990, 0xBC41_0ADC_D638_1AA4],
        [0x3FF2_C57E_3977_1B2F, 0xBC95_0145_A6EB_5124],
        [0x3FF2_D285_A6E4_030B, 0x3C90_0247_54DB_41D5],
        [0x3FF2_DF96_1F64_1589, 0x3C9D_16CF_FBBC_E198],
        [0x3FF2_ECAF_A93E_2F56, 0x3C71_CA0F_45D5_2383],
        [0x3FF2_F9D2_4ABD_886B, 0xBC65_3C55_532B_DA93],
        [0x3FF3_06FE_0A31_B715, 0x3C86_F46A_D231_82E4],
        [0x3FF3_1432_EDEE_B2FD, 0x3C89_59A3_F3F3_FCD1],
        [0x3FF3_2170_FC4C_D831, 0x3C8A_9CE7_8E18_047C],
        [0x3FF3_2EB8_3BA8_EA32, 0xBC9C_45E8_3CB4_F318],
        [0x3FF3_3C08_B264_16FF, 0x3C93_2721_8436_59A6],
        [0x3FF3_4962_66E3_FA2D, 0xBC83_5A75_9308_81A4],
        [0x3FF3_56C5_5F92_9FF1, 0xBC8B_5CEE_5C4E_4628],
        [0x3FF3_6431_A2DE_883B, 0xBC8C_3144_A06C_B85E],
        [0x3FF3_71A7_373A_A9CB, 0xBC96_3AEA_BF42_EAE2],
        [0x3FF3_7F26_231E_754A, 0xBC99_F5CA_9ECE_B23C],
        [0x3FF3_8CAE_6D05_D866, 0xBC9E_958D_3C99_04BD],
        [0x3FF3_9A40_1B71_40EF, 0xBC99_A9A5_FC8E_2934],
        [0x3FF3_A7DB_34E5_9FF7, 0xBC75_E436_D661_F5E3],
        [0x3FF3_B57F_BFEC_6CF4, 0x3C95_4C66_E26F_FF18],
        [0x3FF3_C32D_C313_A8E5, 0xBC9E_FFF8_375D_29C3],
        [0x3FF3_D0E5_44ED_E173, 0x3C7F_E8D0_8C28_4C71],
        [0x3FF3_DEA6_4C12_3422, 0x3C8A_DA09_11F0_9EBC],
        [0x3FF3_EC70_DF1C_5175, 0xBC8A_F663_7B8C_9BCA],
        [0x3FF3_FA45_04AC_801C, 0xBC97_D023_F956_F9F3],
        [0x3FF4_0822_C367_A024, 0x3C8B_DDF8_B6F4_D048],
        [0x3FF4_160A_21F7_2E2A, 0xBC5E_F369_1C30_9278],
        [0x3FF4_23FB_2709_468A, 0xBC98_462D_C0B3_14DD],
        [0x3FF4_31F5_D950_A897, 0xBC81_C7DD_E35F_7999],
        [0x3FF4_3FFA_3F84_B9D4, 0x3C88_80BE_9704_C003],
        [0x3FF4_4E08_6061_892D, 0x3C48_9B7A_04EF_80D0],
        [0x3FF4_5C20_42A7_D232, 0xBC68_6419_82FB_1F8E],
        [0x3FF4_6A41_ED1D_0057, 0x3C9C_944B_D164_8A76],
        [0x3FF4_786D_668B_3237, 0xBC9C_20F0_ED44_5733],
        [0x3FF4_86A2_B5C1_3CD0, 0x3C73_C1A3_B690_62F0],
        [0x3FF4_94E1_E192_AED2, 0xBC83_B289_5E49_9EA0],
        [0x3FF4_A32A_F0D7_D3DE, 0x3C99_CB62_F3D1_BE56],
        [0x3FF4_B17D_EA6D_B7D7, 0xBC81_25B8_7F28_97F0],
        [0x3FF4_BFDA_D536_2A27, 0x3C7D_4397_AFEC_42E2],
        [0x3FF4_CE41_B817_C114, 0x3C90_5E29_690A_BD5D],
        [0x3FF4_DCB2_99FD_DD0D, 0x3C98_ECDB_BC6A_7833],
        [0x3FF4_EB2D_81D8_ABFF, 0xBC95_257D_2E5D_7A52],
        [0x3FF4_F9B2_769D_2CA7, 0xBC94_B309_D259_57E3],
        [0x3FF5_0841_7F45_31EE, 0x3C7A_249B_49B7_465F],
        [0x3FF5_16DA_A2CF_6642, 0xBC8F_7685_69BD_93EF],
        [0x3FF5_257D_E83F_4EEF, 0xBC7C_998D_43EF_EF71],
        [0x3FF5_342B_569D_4F82, 0xBC80_7ABE_1DB1_3CAD],
        [0x3FF5_42E2_F4F6_AD27, 0x3C87_926D_192D_5F7E],
        [0x3FF5_51A4_CA5D_920F, 0xBC8D_689C_EFED_E59B],
        [0x3FF5_6070_DDE9_10D2, 0xBC90_FB6E_168E_EBF0],
        [0x3FF5_6F47_36B5_27DA, 0x3C99_BB2C_011D_93AD],
        [0x3FF5_7E27_DBE2_C4CF, 0xBC90_B98C_8A57_B9C4],
        [0x3FF5_8D12_D497_C7FD, 0x3C82_95E1_5B9A_1DE8],
        [0x3FF5_9C08_27FF_07CC, 0xBC97_E2CE_E467_E60F],
        [0x3FF5_AB07_DD48_5429, 0x3C96_324C_0546_47AD],
        [0x3FF5_BA11_FBA8_7A03, 0xBC9B_77A1_4C23_3E1A],
        [0x3FF5_C926_8A59_46B7, 0x3C3C_4B1B_8169_86A2],
        [0x3FF5_D845_9099_8B93, 0xBC9C_D6A7_A8B4_5643],
        [0x3FF5_E76F_15AD_2148, 0x3C9B_A6F9_3080_E65E],
        [0x3FF5_F6A3_20DC_EB71, 0xBC89_EADD_E3CD_CF92],
        [0x3FF6_05E1_B976_DC09, 0xBC93_E242_9B56_DE47],
        [0x3FF6_152A_E6CD_F6F4, 0x3C9E_4B3E_4AB8_4C27],
        [0x3FF6_247E_B03A_5585, 0xBC93_83C1_7E40_B497],
        [0x3FF6_33DD_1D19_29FD, 0x3C98_4710_BEB9_64E5],
        [0x3FF6_4346_34CC_C320, 0xBC8C_483C_759D_8933],
        [0x3FF6_52B9_FEBC_8FB7, 0xBC9A_E3D5_C9A7_3E09],
        [0x3FF6_6238_8255_2225, 0xBC9B_B609_8759_1C34],
        [0x3FF6_71C1_C708_33F6, 0xBC8E_8732_586C_6134],
        [0x3FF6_8155_D44C_A973, 0x3C60_38AE_44F7_3E65],
        [0x3FF6_90F4_B19E_9538, 0x3C88_04BD_9AEB_445D],
        [0x3FF6_A09E_667F_3BCD, 0xBC9B_DD34_13B2_6456],
        [0x3FF6_B052_FA75_173E, 0x3C7A_38F5_2C9A_9D0E],
        [0x3FF6_C012_750B_DABF, 0xBC72_8956_67FF_0B0D],
        [0x3FF6_CFDC_DDD4_7645, 0x3C9C_7AA9_B6F1_7309],
        [0x3FF6_DFB2_3C65_1A2F, 0xBC6B_BE3A_683C_88AB],
        [0x3FF6_EF92_9859_3AE5, 0xBC90_B974_9E1A_C8B2],
        [0x3FF6_FF7D_F951_9484, 0xBC88_3C0F_2586_0EF6],
        [0x3FF7_0F74_66F4_2E87, 0x3C59_D644_D45A_A65F],
        [0x3FF7_1F75_E8EC_5F74, 0xBC81_6E47_8688_7A99],
        [0x3FF7_2F82_86EA_D08A, 0xBC92_0AA0_2CD6_2C72],
        [0x3FF7_3F9A_48A5_8174, 0xBC90_A8D9_6C65_D53C],
        [0x3FF7_4FBD_35D7_CBFD, 0x3C90_47FD_618A_6E1C],
        [0x3FF7_5FEB_5642_67C9, 0xBC90_2459_5731_6DD3],
        [0x3FF7_7024_B1AB_6E09, 0x3C9B_7877_1691_47F8],
        [0x3FF7_8069_4FDE_5D3F, 0x3C98_66B8_0A02_162D],
        [0x3FF7_90B9_38AC_1CF6, 0x3C93_49A8_62AA_DD3E],
        [0x3FF7_A114_73EB_0187, 0xBC84_1577_EE04_992F],
        [0x3FF7_B17B_0976_CFDB, 0xBC9B_EBB5_8468_DC88],
        [0x3FF7_C1ED_0130_C132, 0x3C9F_124C_D116_4DD6],
        [0x3FF7_D26A_62FF_86F0, 0x3C91_BDDB_FB72_B8B4],
        [0x3FF7_E2F3_36CF_4E62, 0x3C70_5D02_BA15_797E],
        [0x3FF7_F387_8491_C491, 0xBC80_7F11_CF93_11AE],
        [0x3FF8_0427_543E_1A12, 0xBC92_7C86_626D_972B],
        [0x3FF8_14D2_ADD1_06D9, 0x3C94_6437_0D15_1D4D],
        [0x3FF8_2589_994C_CE13, 0xBC9D_4C1D_D415_32D8],
        [0x3FF8_364C_1EB9_41F7, 0x3C99_9B9A_31DF_2BD5],
        [0x3FF8_471A_4623_C7AD, 0xBC88_D684_A341_CDFB],
        [0x3FF8_57F4_179F_5B21, 0xBC5B_A748_F8B2_16D0],
        [0x3FF8_68D9_9B44_92ED, 0xBC9F_C6F8_9BD4_F6BA],
        [0x3FF8_79CA_D931_A436, 0x3C85_D2D7_D2DB_47BD],
        [0x3FF8_8AC7_D98A_6699, 0x3C99_94C2_F37C_B53A],
        [0x3FF8_9BD0_A478_580F, 0x3C9D_5395_4475_202B],
        [0x3FF8_ACE5_422A_A0DB, 0x3C96_E9F1_5686_4B27],
        [0x3FF8_BE05_BAD6_1778, 0x3C9E_CB5E_FC43_446E],
        [0x3FF8_CF32_16B5_448C, 0xBC70_D55E_32E9_E3AA],
        [0x3FF8_E06A_5E08_66D9, 0xBC97_114A_6FC9_B2E6],
        [0x3FF8_F1AE_9915_7736, 0x3C85_CC13_A2E3_976C],
        [0x3FF9_02FE_D028_2C8A, 0x3C95_92CA_85FE_3FD2],
        [0x3FF9_145B_0B91_FFC6, 0xBC9D_D679_2E58_2524],
        [0x3FF9_25C3_53AA_2FE2, 0xBC83_455F_A639_DB7F],
        [0x3FF9_3737_B0CD_C5E5, 0xBC67_5FC7_81B5_7EBC],
        [0x3FF9_48B8_2B5F_98E5, 0xBC8D_C3D6_797D_2D99],
        [0x3FF9_5A44_CBC8_520F, 0xBC76_4B7C_96A5_F039],
        [0x3FF9_6BDD_9A76_70B3, 0xBC5B_A596_7F19_C896],
        [0x3FF9_7D82_9FDE_4E50, 0xBC9D_185B_7C1B_85D1],
        [0x3FF9_8F33_E47A_22A2, 0x3C7C_ABDA_A24C_78ED],
        [0x3FF9_A0F1_70CA_07BA, 0xBC91_73BD_91CE_E632],
        [0x3FF9_B2BB_4D53_FE0D, 0xBC9D_D84E_4DF6_D518],
        [0x3FF9_C491_82A3_F090, 0x3C7C_7C46_B071_F2BE],
        [0x3FF9_D674_194B_B8D5, 0xBC95_16BE_A3DD_8233],
        [0x3FF9_E863_19E3_2323, 0x3C78_24CA_78E6_4C6E],
        [0x3FF9_FA5E_8D07_F29E, 0xBC84_A9CE_AAF1_FACE],
        [0x3FFA_0C66_7B5D_E565, 0xBC93_5949_5D1C_D533],
        [0x3FFA_1E7A_ED8E_B8BB, 0x3C9C_6618_EE8B_E70E],
        [0x3FFA_309B_EC4A_2D33, 0x3C96_305C_7DDC_36AB],
        [0x3FFA_42C9_8046_0AD8, 0xBC9A_A780_589F_B120],
        [0x3FFA_5503_B23E_255D, 0xBC9D_2F6E_DB8D_41E1],
        [0x3FFA_674A_8AF4_6052, 0x3C65_0F56_3067_0366],
        [0x3FFA_799E_1330_B358, 0x3C9B_CB7E_CAC5_63C7],
        [0x3FFA_8BFE_53C1_2E59, 0xBC94_F867_B2BA_15A9],
        [0x3FFA_9E6B_5579_FDBF, 0x3C90_FAC9_0EF7_FD31],
        [0x3FFA_B0E5_2135_6EBA, 0x3C88_9C31_DAE9_4545],
        [0x3FFA_C36B_BFD3_F37A, 0xBC8F_9234_CAE7_6CD0],
        [0x3FFA_D5FF_3A3C_2774, 0x3C97_EF3B_B6B1_B8E5],
        [0x3FFA_E89F_995A_D3AD, 0x3C97_A1CD_345D_CC81],
        [0x3FFA_FB4C_E622_F2FF, 0xBC94_B2FC_0F31_5ECD],
        [0x3FFB_0E07_298D_B666, 0xBC9B_DEF5_4C80_E425],
        [0x3FFB_20CE_6C9A_8952, 0x3C94_DD02_4A07_56CC],
        [0x3FFB_33A2_B84F_15FB, 0xBC62_805E_3084_D708],
        [0x3FFB_4684_15B7_49B1, 0xBC7F_763D_E9DF_7C90],
        [0x3FFB_5972_8DE5_593A, 0xBC9C_71DF_BBBA_6DE3],
        [0x3FFB_6C6E_29F1_C52A, 0x3C92_A8F3_5288_3F6E],
        [0x3FFB_7F76_F2FB_5E47, 0xBC75_584F_7E54_AC3B],
        [0x3FFB_928C_F227_49E4, 0xBC9B_7216_54CB_65C6],
        [0x3FFB_A5B0_30A1_064A, 0xBC9E_FCD3_0E54_292E],
        [0x3FFB_B8E0_B79A_6F1F, 0xBC3F_52D1_C969_6205],
        [0x3FFB_CC1E_904B_C1D2, 0x3C82_3DD0_7A2D_9E84],
        [0x3FFB_DF69_C3F3_A207, 0xBC3C_2623_60EA_5B52],
        [0x3FFB_F2C2_5BD7_1E09, 0xBC9E_FDCA_3F6B_9C73],
        [0x3FFC_0628_6141_B33D, 0xBC8D_8A5A_A1FB_CA34],
        [0x3FFC_199B_DD85_529C, 0x3C81_1065_8950_48DD],
        [0x3FFC_2D1C_D9FA_652C, 0xBC96_E516_17C8_A5D7],
        [0x3FFC_40AB_5FFF_D07A, 0x3C9B_4537_E083_C60A],
        [0x3FFC_5447_78FA_FB22, 0x3C91_2F07_2493_B5AF],
        [0x3FFC_67F1_2E57_D14B, 0x3C92_884D_FF48_3CAD],
        [0x3FFC_7BA8_8988_C933, 0xBC8E_76BB_BE25_5559],
        [0x3FFC_8F6D_9406_E7B5, 0x3C71_ACBC_4880_5C44],
        [0x3FFC_A340_5751_C4DB, 0xBC87_F2BE_D10D_08F5],
        [0x3FFC_B720_DCEF_9069, 0x3C75_03CB_D1E9_49DB],
        [0x3FFC_CB0F_2E6D_1675, 0xBC7D_220F_8600_9093],
        [0x3FFC_DF0B_555D_C3FA, 0xBC8D_D83B_5382_9D72],
        [0x3FFC_F315_5B5B_AB74, 0xBC9A_08E9_B86D_FF57],
        [0x3FFD_072D_4A07_897C, 0xBC9C_BC37_4379_7A9C],
        [0x3FFD_1B53_2B08_C968, 0x3C95_5636_219A_36EE],
        [0x3FFD_2F87_080D_89F2, 0xBC9D_487B_719D_8578],
        [0x3FFD_43C8_EACA_A1D6, 0x3C93_DB53_BF5A_1614],
        [0x3FFD_5818_DCFB_A487, 0x3C82_ED02_D75B_3707],
        [0x3FFD_6C76_E862_E6D3, 0x3C5F_E87A_4A81_65A0],
        [0x3FFD_80E3_16C9_8398, 0xBC91_1EC1_8BED_DFE8],
        [0x3FFD_955D_71FF_6075, 0x3C9A_052D_BB9A_F6BE],
        [0x3FFD_A9E6_03DB_3285, 0x3C9C_2300_696D_B532],
        [0x3FFD_BE7C_D63A_8315, 0xBC9B_76F1_926B_8BE4],
        [0x3FFD_D321_F301_B460, 0x3C92_DA57_78F0_18C3],
        [0x3FFD_E7D5_641C_0658, 0xBC9C_A552_8E79_BA8F],
        [0x3FFD_FC97_337B_9B5F, 0xBC91_A5CD_4F18_4B5C],
        [0x3FFE_1167_6B19_7D17, 0xBC72_B529_BD5C_7F44],
        [0x3FFE_2646_14F5_A129, 0xBC97_B627_817A_1496],
        [0x3FFE_3B33_3B16_EE12, 0xBC99_F4A4_31FD_C68B],
        [0x3FFE_502E_E78B_3FF6, 0x3C83_9E89_80A9_CC8F],
        [0x3FFE_6539_2467_6D76, 0xBC86_3FF8_7522_B735],
        [0x3FFE_7A51_FBC7_4C83, 0x3C92_D522_CA0C_8DE2],
        [0x3FFE_8F79_77CD_B740, 0xBC91_0894_80B0_54B1],
        [0x3FFE_A4AF_A2A4_90DA, 0xBC9E_9C23_179C_2893],
        [0x3FFE_B9F4_867C_CA6E, 0x3C94_832F_2293_E4F2],
        [0x3FFE_CF48_2D8E_67F1, 0xBC9C_93F3_B411_AD8C],
        [0x3FFE_E4AA_A218_8510, 0x3C91_C68D_A487_568D],
        [0x3FFE_FA1B_EE61_5A27, 0x3C9D_C7F4_86A4_B6B0],
        [0x3FFF_0F9C_1CB6_412A, 0xBC93_2200_6518_1D45],
        [0x3FFF_252B_376B_BA97, 0x3C93_A1A5_BF0D_8E43],
        [0x3FFF_3AC9_48DD_7274, 0xBC79_5A5A_3ED8_37DE],
        [0x3FFF_5076_5B6E_4540, 0x3C99_D3E1_2DD8_A18B],
        [0x3FFF_6632_7988_44F8, 0x3C9F_A37B_3539_343E],
        [0x3FFF_7BFD_AD9C_BE14, 0xBC9D_BB12_D006_350A],
        [0x3FFF_91D8_0224_3C89, 0xBC61_2EA8_A779_F689],
        [0x3FFF_A7C1_819E_90D8, 0x3C87_4853_F3A5_931E],
        [0x3FFF_BDBA_3692_D514, 0xBC79_6773_1509_8EB6],
        [0x3FFF_D3C2_2B8F_71F1, 0x3C62_EB74_9665_79E7],
        [0x3FFF_E9D9_6B2A_23D9, 0x3C74_A603_7442_FDE3],
    ];

    /// The table [`finish4`] reads, 16-byte aligned (one aligned load per entry): entry j is
    /// (the bits of T_HI = 2^(j/256) less j·2⁴⁴, T_LO/T_HI). Adding k's bits shifted up by 44
    /// (n = 256e + j in its low bits, see [`arg4`]) to the first gives the bits of 2^e·T_HI in
    /// one integer add: the j·2⁴⁴ it carries cancels, e lands on the exponent field. The second,
    /// the low part relative to T_HI (below 2⁻⁵³), joins e^r − 1 as one more term.
    #[repr(align(16))]
    struct Table([[f64; 2]; N]);

    static TABLE: Table = Table({
        let mut t = [[0.0; 2]; N];
        let mut j = 0;
        while j < N {
            let [hi, lo] = TABLE_BITS[j];
            t[j] = [
                f64::from_bits(hi.wrapping_sub((j as u64) << (52 - BITS))),
                f64::from_bits(lo) / f64::from_bits(hi),
            ];
            j += 1;
        }
        t
    });

    /// 2^(j/256) rounded to the nearest double, as the bits [`finish_hi4`] reads: those of the
    /// pair's high double less j·2⁴⁴, as [`TABLE`]'s, 8 bytes an entry.
    static HI: [f64; N] = {
        let mut t = [0.0; N];
        let mut j = 0;
        while j < N {
            t[j] = f64::from_bits(TABLE_BITS[j][0].wrapping_sub((j as u64) << (52 - BITS)));
            j += 1;
        }
        t
    };

    /// The first step of [`exp4`]: max(x, EXP64_MIN) and k = x·256/ln2 + 1.5·2⁵², whose low
    /// bits hold the integer n = round(x·256/ln2) = 256e + j.
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

    /// The table entries (2^(j/256) high, low) of four values of k at `k` in memory: each read
    /// as an integer straight from memory, so the loads wait on no vector operation.
    ///
    /// # Safety
    /// `k` must point to four readable values.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn entries(k: *const f64) -> [__m128d; 4] {
        let base = TABLE.0.as_ptr();
        // SAFETY: the caller's for `k` (volatile: read from memory, not taken from a vector
        // the compiler already holds); j = k's low byte (x86 is little-endian: its first) picks
        // an entry of the table.
        std::array::from_fn(|l| unsafe {
            let j = usize::from(std::ptr::read_volatile(k.add(l).cast::<u8>()));
            _mm_load_pd(base.add(j).cast())
        })
    }

    /// The high doubles ([`HI`]) of four values of k at `k` in memory, as [`entries`]: the
    /// index, k's low byte, read straight from memory, scaled by the load's addressing.
    ///
    /// # Safety
    /// `k` must point to four readable values.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn entries_hi(k: *const f64) -> __m256d {
        let base = HI.as_ptr();
        // SAFETY: as in `entries`; j < 256 = HI.len().
        let [t0, t1, t2, t3] =
            std::array::from_fn(|l| unsafe { base.add(usize::from(std::ptr::read_volatile(k.add(l).cast::<u8>()))) });
        // SAFETY: the four pointers are inside `HI`.
        unsafe {
            let lo = _mm_loadh_pd(_mm_load_sd(t0), t1);
            let hi = _mm_loadh_pd(_mm_load_sd(t2), t3);
            _mm256_insertf128_pd::<1>(_mm256_castpd128_pd256(lo), hi)
        }
    }

    /// r = x − n·ln2/256 from [`arg4`]'s x and k, in two steps (LN2_HI has 21 trailing zeros:
    /// n·LN2_HI/256 is exact).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn rem4(x: __m256d, k: __m256d) -> __m256d {
        let n = _mm256_sub_pd(k, _mm256_set1_pd(SHIFTER));
        let r = _mm256_fnmadd_pd(n, _mm256_set1_pd(LN2_HI / N as f64), x);
        _mm256_fnmadd_pd(n, _mm256_set1_pd(LN2_LO / N as f64), r)
    }

    /// 2^e·T_HI from k and the table's bits for it (see [`TABLE`]) by one integer add: exact,
    /// and a normal double for x ≥ EXP64_MIN (e ≥ −1022).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn scale4(k: __m256d, t_bits: __m256d) -> __m256d {
        _mm256_castsi256_pd(_mm256_add_epi64(
            _mm256_castpd_si256(t_bits),
            _mm256_slli_epi64::<{ 52 - BITS }>(_mm256_castpd_si256(k)),
        ))
    }

    /// e^x from [`arg4`]'s x and k and [`entries_hi`]: 2^e·T_HI·(1 + q), q = e^r − 1 to
    /// degree 5.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn finish_hi4(x: __m256d, k: __m256d, t_bits: __m256d) -> __m256d {
        let r = rem4(x, k);
        let mut y = _mm256_set1_pd(1.0 / 120.0);
        for c in [1.0 / 24.0, 1.0 / 6.0, 0.5] {
            y = _mm256_fmadd_pd(y, r, _mm256_set1_pd(c));
        }
        let q = _mm256_fmadd_pd(y, _mm256_mul_pd(r, r), r);
        let scale = scale4(k, t_bits);
        // scale + scale·q, one rounding.
        _mm256_fmadd_pd(scale, q, scale)
    }

    /// e^x from [`arg4`]'s x and k and [`entries`]: x = (256e + j)·ln2/256 + r,
    /// e^x = 2^e · 2^(j/256) · e^r.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn finish4(x: __m256d, k: __m256d, [t0, t1, t2, t3]: [__m128d; 4]) -> __m256d {
        let r = rem4(x, k);
        let t02 = _mm256_insertf128_pd::<1>(_mm256_castpd128_pd256(t0), t2);
        let t13 = _mm256_insertf128_pd::<1>(_mm256_castpd128_pd256(t1), t3);
        let (t_bits, t_rel) = (_mm256_unpacklo_pd(t02, t13), _mm256_unpackhi_pd(t02, t13));
        let mut y = _mm256_set1_pd(1.0 / 24.0);
        for c in [1.0 / 6.0, 0.5] {
            y = _mm256_fmadd_pd(y, r, _mm256_set1_pd(c));
        }
        // q = e^r − 1 + T_LO/T_HI = (r + T_LO/T_HI) + r²·y (the product of the two dropped,
        // below 2⁻⁶²).
        let q = _mm256_fmadd_pd(y, _mm256_mul_pd(r, r), _mm256_add_pd(r, t_rel));
        let scale = scale4(k, t_bits);
        // 2^e·2^(j/256)·e^r = scale + scale·q, one rounding.
        _mm256_fmadd_pd(scale, q, scale)
    }

    /// e^max(x, EXP64_MIN) of four lanes (NaN stays NaN; any lane's j is in 0 … 255, NaN's
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

    /// e^max(x, EXP64_MIN) of four lanes as [`exp_slice`] computes them ([`finish_hi4`]).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn exp_hi4(x: __m256d) -> __m256d {
        let (x, k) = arg4(x);
        let mut at = [0.0; 4];
        // SAFETY: `at` holds four values.
        unsafe { _mm256_storeu_pd(at.as_mut_ptr(), k) };
        // SAFETY: as above.
        finish_hi4(x, k, unsafe { entries_hi(at.as_ptr()) })
    }

    /// 2^(j/8), j = 0 … 7, rounded to the nearest double (every 32nd high double of
    /// [`TABLE_BITS`]), as bits less j·2⁴⁹ (as [`HI`]'s, for [`reduce4_perm`]'s 2^e by one integer
    /// add), split into their low and high 32-bit halves: a `vpermd` of each, on an index that
    /// holds j in every 32-bit lane, reads the halves of four entries from registers.
    pub(crate) const PERM8: [[i32; 8]; 2] = {
        let mut t = [[0; 8]; 2];
        let mut j = 0;
        while j < 8 {
            let bits = TABLE_BITS[j * (N / 8)][0].wrapping_sub((j as u64) << 49);
            t[0][j] = bits as u32 as i32;
            t[1][j] = (bits >> 32) as u32 as i32;
            j += 1;
        }
        t
    };

    /// (e^r − 1 − r)/r² on |r| ≤ ln2/16 to degree 5, from the highest power: the Chebyshev
    /// interpolant (6 nodes on 1.0001·ln2/16, computed with 70 digits), 0.05 ulp of e^r at most.
    pub(crate) const PERM8_POLY: [f64; 6] = [
        0.000_198_420_457_924_091_9,
        0.001_388_958_724_789_367_2,
        0.008_333_333_327_871_156,
        0.041_666_666_617_506_8,
        0.166_666_666_666_667_24,
        0.500_000_000_000_005_1,
    ];

    /// The first part of the token signals' float64 exponential at AVX2, e^t of four lanes for t
    /// in [EXP64_MIN, 0] (and the few ulp above 0 that a row's reference leaves), exactly 0 for
    /// t at [`EXP64_ZERO`](super::EXP64_ZERO), to which the sums loop clamps t: k = t·8/ln2 +
    /// 1.5·2⁵², whose low bits hold n = round(t·8/ln2) = 8e + j. No memory is read: the table,
    /// 2^(j/8) ([`PERM8`]), is looked up by `vpermd` (the table itself a register or a folded
    /// load), where [`exp4`] waits on a store of k, four scalar loads of its low bytes and four
    /// table loads, and it needs no clamp, the index being any lane's low 3 bits. Eight entries
    /// instead of 256 need e^r − 1 to degree 7 instead of 4 (r + r²·y, y in Estrin's form: two
    /// multiply-adds deep after r²); the table's high double alone, as [`exp_slice`]'s (the
    /// low double, two permutes, a blend and an add more, took 8% more of the float64 row at
    /// AVX2, for rows whose sums agree with the scalar reference's within 1e−12 either way),
    /// and r in one multiply-add, as AVX-512's (`avx512::reduce8_scaled` says what ln2's
    /// rounding costs there): within 1.19 ulp of `f64::exp` plus that share on the test's grid.
    /// In four parts, this, [`reduce4_perm`], [`expm1_perm`] and [`finish4_perm`], so that a
    /// loop can run them on different vectors.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub(crate) fn arg4_perm(t: __m256d) -> __m256d {
        _mm256_fmadd_pd(t, _mm256_set1_pd(PERM8_K), _mm256_set1_pd(SHIFTER))
    }

    /// 8/ln2, [`arg4_perm`]'s multiplier.
    pub(crate) const PERM8_K: f64 = 8.0 * LOG2E;
    /// ln2/8 rounded to a double, [`reduce4_perm`]'s step.
    pub(crate) const PERM8_LN2: f64 = std::f64::consts::LN_2 / 8.0;

    /// The second part of [`arg4_perm`]'s exponential: (r, 2^e·2^(j/8)) for t = (8e + j)·ln2/8 + r from t
    /// and [`arg4_perm`]'s k.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub(crate) fn reduce4_perm(t: __m256d, k: __m256d) -> (__m256d, __m256d) {
        let n = _mm256_sub_pd(k, _mm256_set1_pd(SHIFTER));
        // r = t − n·ln2/8 in one step, |r| ≤ ln2/16 (ln2 rounded to a double: see the AVX-512
        // form, `avx512::reduce8_scaled`).
        let r = _mm256_fnmadd_pd(n, _mm256_set1_pd(PERM8_LN2), t);
        // j in both 32-bit halves of each lane: vpermd reads an index's low 3 bits.
        let ki = _mm256_castpd_si256(k);
        let j = _mm256_shuffle_epi32::<0b10_10_00_00>(ki);
        // SAFETY: each row of PERM8 holds eight 32-bit ints.
        let (lo, hi) = unsafe {
            (
                _mm256_loadu_si256(PERM8[0].as_ptr().cast()),
                _mm256_loadu_si256(PERM8[1].as_ptr().cast()),
            )
        };
        let t_bits =
            _mm256_blend_epi32::<0b1010_1010>(_mm256_permutevar8x32_epi32(lo, j), _mm256_permutevar8x32_epi32(hi, j));
        // 2^e·2^(j/8) as in `scale4`: n's low 15 bits shifted onto bits 49–63 carry e onto the
        // exponent field and cancel the j·2⁴⁹ taken off the entry.
        (
            r,
            _mm256_castsi256_pd(_mm256_add_epi64(t_bits, _mm256_slli_epi64::<49>(ki))),
        )
    }

    /// The last part of [`arg4_perm`]'s exponential: 2^e·2^(j/8)·e^r from [`reduce4_perm`]'s scale and
    /// [`expm1_perm`]'s q, unmasked: exactly 0 for t at [`EXP64_ZERO`](super::EXP64_ZERO).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub(crate) fn finish4_perm(scale: __m256d, q: __m256d) -> __m256d {
        _mm256_fmadd_pd(scale, q, scale)
    }

    /// The third part of [`arg4_perm`]'s exponential: e^r − 1 on |r| ≤ ln2/16 ([`PERM8_POLY`]).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub(crate) fn expm1_perm(r: __m256d) -> __m256d {
        let [c0, c1, c2, c3, c4, c5] = PERM8_POLY.map(|v| _mm256_set1_pd(v));
        let r2 = _mm256_mul_pd(r, r);
        // y = (c5 + c4·r) + r²·((c3 + c2·r) + r²·(c1 + c0·r)).
        let a = _mm256_fmadd_pd(c0, r, c1);
        let b = _mm256_fmadd_pd(c2, r, c3);
        let c = _mm256_fmadd_pd(c4, r, c5);
        let y = _mm256_fmadd_pd(_mm256_fmadd_pd(a, r2, b), r2, c);
        _mm256_fmadd_pd(y, r2, r)
    }

    /// `dst[i] = e^max(src[i], EXP64_MIN)` for the entries both slices hold, in two passes:
    /// k ([`arg4`]) of every entry into `dst`, then the rest of [`exp_hi4`] ([`finish_hi4`]) in
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
        let finish = |i: usize| {
            // SAFETY: each use's entries i … i + 3 are inside both slices.
            unsafe {
                let (x, k) = (clamp4(_mm256_loadu_pd(s.add(i))), _mm256_loadu_pd(d.add(i)));
                _mm256_storeu_pd(d.add(i), finish_hi4(x, k, entries_hi(d.add(i))));
            }
        };
        // Two vectors a step (the compiler does not unroll this loop: its reads of k are
        // volatile): a loop's own three instructions are a tenth of one vector's.
        let pairs = whole / 8 * 8;
        for i in (0..pairs).step_by(8) {
            finish(i);
            finish(i + 4);
        }
        if pairs < whole {
            finish(pairs);
        }
        if whole < len {
            let on = |l: usize| if whole + l < len { -1i64 } else { 0 };
            let m = _mm256_setr_epi64x(on(0), on(1), on(2), on(3));
            // SAFETY: the masked load and store touch only entries whole … len − 1.
            unsafe { _mm256_maskstore_pd(d.add(whole), m, exp_hi4(_mm256_maskload_pd(s.add(whole), m))) };
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

    /// The first part of both exponentials' argument reduction ([`reduce8`], [`reduce8_scaled`]):
    /// k = x·16/ln2 + 1.5·2⁵², whose low bits hold n = round(x·16/ln2) = 16e + j.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(crate) fn arg8(x: __m512d) -> __m512d {
        _mm512_fmadd_pd(x, _mm512_set1_pd(16.0 * LOG2E), _mm512_set1_pd(SHIFTER))
    }

    /// The argument reduction of [`exp8`] and [`exp8_deg6`]: x = n·ln2/16 + r with
    /// |r| ≤ ln2/32, returned as (r, the shifted n whose low bits hold n, T_HI(j), T_LO(j)).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn reduce8(c: &Consts, x: __m512d) -> (__m512d, __m512i, __m512d, __m512d) {
        // max(MIN, x) returns x when x is NaN (the second operand wins on NaN).
        let x = _mm512_max_pd(_mm512_set1_pd(EXP64_MIN), x);
        let k = arg8(x);
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
        let e = _mm512_and_epi64(
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
    pub(crate) fn exp8_deg6(c: &Consts, x: __m512d) -> __m512d {
        let (r, ki, t_hi, t_lo) = reduce8(c, x);
        scale8(expm1_deg6(r), ki, t_hi, t_lo)
    }

    /// e^r − 1 on |r| ≤ ln2/32 to degree 6 ([`DEG6_POLY`]).
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(crate) fn expm1_deg6(r: __m512d) -> __m512d {
        let [c0, c1, c2, c3, c4] = DEG6_POLY.map(|v| _mm512_set1_pd(v));
        // Estrin's scheme: two multiply-adds deep after r² instead of Horner's four, the same
        // count; the float64 row is bound by the latency from load to sum as well as the ports.
        let r2 = _mm512_mul_pd(r, r);
        // y = (c4 + c3·r) + r²·((c2 + c1·r) + r²·c0).
        let a = _mm512_fmadd_pd(c1, r, c2);
        let b = _mm512_fmadd_pd(c3, r, c4);
        let y = _mm512_fmadd_pd(_mm512_fmadd_pd(c0, r2, a), r2, b);
        // e^r − 1 = r + r²·y.
        _mm512_fmadd_pd(y, r2, r)
    }

    /// 2^(j/16), j = 0 … 15 ([`T_HI`]), as bits less j·2⁴⁸: adding n·2⁴⁸ (n = 16e + j, any e
    /// the range gives) carries e onto the exponent field and cancels j·2⁴⁸, so 2^e·2^(j/16) is
    /// one integer add ([`reduce8_scaled`]).
    const T_SCALED: [u64; 16] = {
        let mut t = [0; 16];
        let mut j = 0;
        while j < 16 {
            t[j] = T_HI[j].wrapping_sub((j as u64) << 48);
            j += 1;
        }
        t
    };

    /// [`T_SCALED`] held in two registers, built once per row ([`ScaledTable::new`]).
    pub(crate) struct ScaledTable([__m512i; 2]);

    impl ScaledTable {
        #[inline]
        #[target_feature(enable = "avx512f")]
        pub(crate) fn new() -> Self {
            // SAFETY: each half of T_SCALED holds eight 64-bit ints.
            let half = |j: usize| unsafe { _mm512_loadu_si512(T_SCALED[j..j + 8].as_ptr().cast()) };
            Self([half(0), half(8)])
        }
    }

    /// The second part of the token signals' exponential: (r, 2^e·2^(j/16)) for
    /// t = (16e + j)·ln2/16 + r, from t and [`arg8`]'s k, for t in [EXP64_MIN, 0] (and the few
    /// ulp above 0 a row's reference leaves); t clamped to [`EXP64_ZERO`](super::EXP64_ZERO)
    /// gives a scale of exactly 0.
    ///
    /// The AVX-512 form of AVX2's (`avx2_table::arg4_perm`): against [`exp8_deg6`], r is one multiply-add
    /// with ln2 rounded to a double, and the table keeps its high double alone, added to
    /// 2^e as an integer: a multiply-add, a permute, an add and an and fewer a vector. With
    /// [`finish8_scaled`], within 1.19 ulp of `f64::exp` plus what ln2's rounding (2.3e−17) adds,
    /// |t|·3.4e−17 relative (0.15 ulp at −1, 1.5 at −10, about 100 at EXP64_MIN), on the test's
    /// grid over [EXP64_MIN, 0] (as AVX2's). In the sums of a row, whose terms are e^t ≤ 1 and
    /// whose Σe is at least 1, that share is at most 3.4e−17·max(e^t·|t|) = 1.2e−17 a term,
    /// and 3.4e−17 times the entropy (below ln of the vocabulary) relative to Σe: under the
    /// rounding of the sums themselves.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(crate) fn reduce8_scaled(tab: &ScaledTable, t: __m512d, k: __m512d) -> (__m512d, __m512d) {
        let n = _mm512_sub_pd(k, _mm512_set1_pd(SHIFTER));
        let r = _mm512_fnmadd_pd(n, _mm512_set1_pd(std::f64::consts::LN_2 / 16.0), t);
        // k's low 16 bits hold n: its low four bits pick the entry (the permute reads bits 0–3
        // of each index), and shifted to the top they add e to the entry's exponent.
        let ki = _mm512_castpd_si512(k);
        let bits = _mm512_permutex2var_epi64(tab.0[0], ki, tab.0[1]);
        (
            r,
            _mm512_castsi512_pd(_mm512_add_epi64(bits, _mm512_slli_epi64::<48>(ki))),
        )
    }

    /// The last part of the token signals' exponential: scale·e^r from [`reduce8_scaled`]'s
    /// scale and q = e^r − 1 ([`expm1_deg6`] of its r), one rounding; exactly 0 for t at
    /// [`EXP64_ZERO`](super::EXP64_ZERO).
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(crate) fn finish8_scaled(scale: __m512d, q: __m512d) -> __m512d {
        _mm512_fmadd_pd(scale, q, scale)
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
        // reductions' rounding boundaries (multiples of ln2/512, and so of ln2/128 and ln2/32).
        let step = std::f64::consts::LN_2 / 512.0;
        let xs: Vec<f64> = (0..200_000)
            .map(|i| -(i as f64) * 0.00354)
            .chain((0..64_000).flat_map(|i| {
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
        // The top-k summary's slice (the shorter polynomial at AVX-512, the high doubles alone
        // at AVX2): as close, and at most one ulp from `f64::exp` (the same or adjacent
        // doubles).
        let mut worst = 0u64;
        for len in [xs.len(), 1, 3, 8, 13] {
            let mut a = vec![f64::NAN; len];
            exp_slice_summary(&xs[..len], &mut a);
            for (&x, &got) in xs.iter().zip(&a) {
                let want = x.max(EXP64_MIN).exp();
                assert!(
                    ((got - want) / want).abs() < 4e-16,
                    "summary exp({x}) = {got}, want {want}"
                );
                worst = worst.max(got.to_bits().abs_diff(want.to_bits()));
            }
        }
        // (Measured on the AVX2 and portable builds; the AVX-512 one runs elsewhere.)
        let level = crate::signals::simd::active();
        if level < crate::signals::simd::SimdLevel::Avx512 || !level.supported() {
            assert!(worst <= 1, "summary exp: {worst} ulp from f64::exp");
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

    /// The token signals' exponentials (AVX2's `arg4_perm` … `finish4_perm`, AVX-512's `arg8` …
    /// `finish8_scaled`, each in the order the sums loops run their parts) on t clamped to
    /// [`EXP64_ZERO`] as the loops clamp it, against `f64::exp`: over the range the rows use (a
    /// dense grid, both sides of every multiple of ln2/16, the ends, the few ulp above 0),
    /// within 1.5 ulp plus ln2's rounding in the one-step reduction (|t|·3.4e−17 relative);
    /// exactly 0 from EXP64_ZERO down (−inf, NaN and −1e300 among them) and at most
    /// e^EXP64_MIN between it and EXP64_MIN.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn token_signal_exponentials_close_to_std_exp_and_zero_from_the_clamp() {
        use crate::signals::simd::SimdLevel;
        let step = std::f64::consts::LN_2 / 16.0;
        let xs: Vec<f64> = (0..400_000)
            .map(|i| -(i as f64) * 0.001_77)
            .chain((0..16_400).flat_map(|i| {
                let b = -(i as f64) * step;
                [
                    b,
                    b - 1e-12,
                    b + 1e-12,
                    b * (1.0 - f64::EPSILON),
                    b * (1.0 + f64::EPSILON),
                ]
            }))
            .filter(|&x| x >= EXP64_MIN)
            .chain([0.0, -0.0, 1e-16, 4e-16, -1e-300, -5e-324, EXP64_MIN, EXP64_MIN + 1e-9])
            .collect();
        let below = [
            EXP64_MIN - 1e-9,
            -708.5,
            -709.0,
            EXP64_ZERO + 1e-12,
            EXP64_ZERO,
            EXP64_ZERO - 1e-12,
            -709.2,
            -745.2,
            -1e300,
            f64::MIN,
            f64::NEG_INFINITY,
            f64::NAN,
            -f64::NAN,
        ];
        // |ln2 − LN_2| / ln2: what the one-step reduction adds per unit of |t|.
        let ln2_rel = 3.35e-17;
        let avx2 = |x: &[f64]| {
            let mut out = [f64::NAN; 4];
            let x: [f64; 4] = std::array::from_fn(|l| x[l % x.len()]);
            // SAFETY: AVX2 and FMA are supported (checked by the caller); four lanes each.
            unsafe { token_exp4(&x, &mut out) };
            out.to_vec()
        };
        let avx512 = |x: &[f64]| {
            let mut out = [f64::NAN; 8];
            let x: [f64; 8] = std::array::from_fn(|l| x[l % x.len()]);
            // SAFETY: AVX-512F is supported (checked by the caller); eight lanes each.
            unsafe { token_exp8(&x, &mut out) };
            out.to_vec()
        };
        type Exp = Box<dyn Fn(&[f64]) -> Vec<f64>>;
        let mut levels: Vec<(&str, usize, Exp)> = Vec::new();
        if SimdLevel::Avx2.supported() {
            levels.push(("avx2", 4, Box::new(avx2)));
        }
        if SimdLevel::Avx512.supported() {
            levels.push(("avx512", 8, Box::new(avx512)));
        }
        for (name, width, exp) in &levels {
            let mut worst = 0.0f64;
            for c in xs.chunks(*width) {
                for (&x, got) in c.iter().zip(exp(c)) {
                    let want = x.exp();
                    let ulp = f64::from_bits(want.to_bits() + 1) - want;
                    let err = (got - want).abs() / (ulp + want * x.abs() * ln2_rel);
                    assert!(err <= 1.5, "{name}: exp({x}) = {got}, want {want}");
                    worst = worst.max(err);
                }
            }
            assert!(worst > 0.5, "{name}: the bound is not tight ({worst})");
            for c in below.chunks(*width) {
                for (&x, got) in c.iter().zip(exp(c)) {
                    if x.is_nan() || x <= EXP64_ZERO {
                        assert_eq!(got.to_bits(), 0, "{name}: exp({x}) = {got}");
                    } else {
                        assert!((0.0..=EXP64_MIN.exp()).contains(&got), "{name}: exp({x}) = {got}");
                    }
                }
            }
        }
    }

    /// The AVX2 token signals' exponential of four lanes, clamped and in the sums loop's parts.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn token_exp4(x: &[f64; 4], out: &mut [f64; 4]) {
        use std::arch::x86_64::*;
        // SAFETY: both arrays hold four doubles.
        let t = _mm256_max_pd(unsafe { _mm256_loadu_pd(x.as_ptr()) }, _mm256_set1_pd(EXP64_ZERO));
        let (r, scale) = avx2_table::reduce4_perm(t, avx2_table::arg4_perm(t));
        let e = avx2_table::finish4_perm(scale, avx2_table::expm1_perm(r));
        // SAFETY: as above.
        unsafe { _mm256_storeu_pd(out.as_mut_ptr(), e) };
    }

    /// The AVX-512 token signals' exponential of eight lanes, clamped and in the sums loop's parts.
    ///
    /// # Safety
    /// The CPU must support AVX-512F.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn token_exp8(x: &[f64; 8], out: &mut [f64; 8]) {
        use std::arch::x86_64::*;
        let tab = avx512::ScaledTable::new();
        // SAFETY: both arrays hold eight doubles.
        let t = _mm512_max_pd(unsafe { _mm512_loadu_pd(x.as_ptr()) }, _mm512_set1_pd(EXP64_ZERO));
        let (r, scale) = avx512::reduce8_scaled(&tab, t, avx512::arg8(t));
        let e = avx512::finish8_scaled(scale, avx512::expm1_deg6(r));
        // SAFETY: as above.
        unsafe { _mm512_storeu_pd(out.as_mut_ptr(), e) };
    }
}
