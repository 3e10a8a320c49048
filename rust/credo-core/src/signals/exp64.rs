//! A float64 exponential for logprobs in [−708, 0] (and −x·ln x on (0, 1]) that the compiler
//! can vectorise. The exponential: Cody–Waite range reduction (x = n·ln2 + r, |r| ≤ ln2/2) and
//! the degree-13 Taylor polynomial of e^r (truncation below 1e−17 relative), scaled by 2ⁿ through
//! the exponent bits; accurate to a few ulp of `f64::exp`. The AVX2 and AVX-512 builds of
//! [`exp_slice`] evaluate the polynomial with fused multiply-adds (4 or 8 lanes), the portable
//! build with plain mul/add (a software `fma` would be slow), so they may differ in the last
//! ulp. Used by the single-request top-k summary, where the per-entry `exp` dominates.

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

/// e^x for x in [`EXP64_MIN`, 0] (other inputs give garbage, NaN gives NaN).
#[inline(always)]
pub fn exp_le0(x: f64) -> f64 {
    exp_poly::<false>(x)
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
    let mut y = INV_FACT[0];
    for &c in &INV_FACT[1..] {
        y = mad::<FMA>(y, r, c);
    }
    let y = mad::<FMA>(mad::<FMA>(y, r, 1.0), r, 1.0);
    // The integer n sits in k's low mantissa bits: 2ⁿ has exponent field n + 1023.
    let ni = (k.to_bits() as i64).wrapping_sub(SHIFTER.to_bits() as i64);
    y * f64::from_bits((ni.wrapping_add(1023) as u64) << 52)
}

fn exp_slice_portable(src: &[f64], dst: &mut [f64]) {
    for (d, &x) in dst.iter_mut().zip(src) {
        *d = exp_le0(x.max(EXP64_MIN));
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn exp_slice_avx2(src: &[f64], dst: &mut [f64]) {
    for (d, &x) in dst.iter_mut().zip(src) {
        *d = exp_poly::<true>(x.max(EXP64_MIN));
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
fn exp_slice_avx512(src: &[f64], dst: &mut [f64]) {
    for (d, &x) in dst.iter_mut().zip(src) {
        *d = exp_poly::<true>(x.max(EXP64_MIN));
    }
}

/// `dst[i] = e^max(src[i], EXP64_MIN)` (NaN stays NaN), eight lanes at a time with AVX-512,
/// four with AVX2 (fused multiply-adds there; the last ulp may differ from the portable loop).
pub fn exp_slice(src: &[f64], dst: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    {
        use super::simd::{active, SimdLevel};
        let level = active();
        if level >= SimdLevel::Avx512 {
            // SAFETY: `active()` only reports AVX-512 when the CPU supports AVX-512F (every such
            // CPU also has FMA).
            unsafe { exp_slice_avx512(src, dst) };
            return;
        }
        if level >= SimdLevel::Avx2 {
            // SAFETY: `active()` only reports AVX2 when the CPU supports AVX2 and FMA.
            unsafe { exp_slice_avx2(src, dst) };
            return;
        }
    }
    exp_slice_portable(src, dst);
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
    #[cfg(target_arch = "x86_64")]
    {
        use super::simd::{active, SimdLevel};
        if active() >= SimdLevel::Avx2 {
            // SAFETY: `active()` only reports AVX2 (or AVX-512, which implies it) when the CPU
            // supports it.
            unsafe { xlogx_slice_avx2(src, dst) };
            return;
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_to_std_exp_and_paths_agree() {
        let xs: Vec<f64> = (0..200_000).map(|i| -(i as f64) * 0.00354).collect();
        let mut a = vec![0.0; xs.len()];
        let mut b = vec![0.0; xs.len()];
        exp_slice(&xs, &mut a);
        exp_slice_portable(&xs, &mut b);
        for ((&x, &got), &port) in xs.iter().zip(&a).zip(&b) {
            let want = x.max(EXP64_MIN).exp();
            assert!(((got - want) / want).abs() < 4e-16, "exp({x}) = {got}, want {want}");
            assert!(
                ((port - want) / want).abs() < 4e-16,
                "portable exp({x}) = {port}, want {want}"
            );
        }
        assert_eq!(exp_le0(0.0), 1.0);
        // −x ln x over (0, 1], normal and near the subnormal edge, against f64::ln.
        let xs: Vec<f64> = (1..200_000)
            .map(|i| (i as f64 / 200_000.0).powi(1 + (i % 7) * 40))
            .chain([1.0, 0.5, f64::MIN_POSITIVE, 1e-300, 0.0, 1e-310])
            .collect();
        let mut out = vec![0.0; xs.len()];
        xlogx_slice(&xs, &mut out);
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
        assert!(exp_le0(f64::NAN).is_nan());
    }
}
