//! The float32 exponential the vector kernels use on t ≤ 0: Cody–Waite range reduction to
//! |r| ≤ ln2/2 with one ln2 constant, e^r − 1 = r + r²·Q(r) with Q of degree 4 (a minimax fit
//! for the relative error on |r| ≤ ln2/2). Measured over every float32 t in [−16, 0]: within
//! 1.33 ulp of `f64::exp` (0.86 ulp on [−1, 0]). Below −16 the single ln2 constant adds
//! |n|·1.9e-9 relative, up to 4.5 ulp (3e-7) towards [`EXP_FLUSH`]: a tenth of what t itself
//! carries as a float32 (half an ulp of t, at least |t|·2⁻²⁵, is that much relative in e^t).
//! Inputs below [`EXP_FLUSH`] give exactly 0, so a masked (`-inf`) logit contributes nothing to
//! Σp nor to Σp·l. The lane kernels inline the same constants; [`exp_neg`] is their scalar
//! mirror, tested here against `f64::exp` and in `tests.rs` against every level's lanes, bit
//! for bit.

/// Arguments are clamped up to this (so `-inf` and huge negatives stay finite in `e·t` = 0).
pub(crate) const EXP_CLAMP: f32 = -88.0;
/// The exponential is exactly 0 below this: t·log2e rounds to n = −127 there, whose 2ⁿ the
/// shifter makes as 0, so no mask is needed. From here up to −87.33 (2⁻¹²⁶) e^t is subnormal.
/// (A fact of the constants above it, which the tests check.)
#[cfg(test)]
pub(crate) const EXP_FLUSH: f32 = -87.683_11;
pub(crate) const LOG2E: f32 = std::f32::consts::LOG2_E;
/// 1.5·2²³ + 127: t·log2e + SHIFTER rounds t·log2e to the nearest integer n (ties to even) and
/// holds n + 127 in the low mantissa bits, for −127 ≤ n ≤ 0.
pub(crate) const SHIFTER: f32 = 12_583_039.0;
/// ln2 rounded to float32 (1.9e-9 above ln2): r = t − n·LN2 is one multiply-add.
pub(crate) const LN2: f32 = std::f32::consts::LN_2;
/// Q(r) = P4 + P3·r + P2·r² + P1·r³ + P0·r⁴.
pub(crate) const P0: f32 = 1.381_455_8e-3;
pub(crate) const P1: f32 = 8.368_73e-3;
pub(crate) const P2: f32 = 4.166_839e-2;
pub(crate) const P3: f32 = 1.666_652_1e-1;
pub(crate) const P4: f32 = 0.499_999_94;

/// exp(t) for t ≤ 0, computed exactly as the lane kernels do.
#[cfg(test)]
pub(crate) fn exp_neg(t: f32) -> f32 {
    let t = t.max(EXP_CLAMP);
    let k = t.mul_add(LOG2E, SHIFTER);
    let n = k - SHIFTER;
    let r = (-n).mul_add(LN2, t);
    let r2 = r * r;
    let u = P3.mul_add(r, P4);
    let v = P0.mul_add(r2, P1.mul_add(r, P2));
    let q = v.mul_add(r2, u).mul_add(r2, r);
    let p = f32::from_bits(k.to_bits() << 23);
    p.mul_add(q, p)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spacing of float32 at `x` (normal or subnormal).
    fn ulp(x: f64) -> f64 {
        let e = ((x as f32).abs().to_bits() >> 23).max(1);
        2f64.powi(e as i32 - 150)
    }

    /// Every 31st float32 in [EXP_FLUSH, 0] (every one, measured outside the tests: at most 0.86
    /// ulp on [−1, 0], 1.33 on [−16, 0], 4.49 below, at −86.64).
    #[test]
    fn matches_f64_exp() {
        let (mut near, mut far) = (0.0f64, 0.0f64);
        let mut b = (-0.0f32).to_bits();
        while b <= EXP_FLUSH.to_bits() {
            let t = f32::from_bits(b);
            let want = f64::from(t).exp();
            let err = (f64::from(exp_neg(t)) - want).abs();
            if t >= -16.0 {
                near = near.max(err / ulp(want));
            } else {
                // The reduction's share: |n|·|LN2 − ln2| relative, n ≈ t·log2e.
                let ln2_err = (f64::from(LN2) - std::f64::consts::LN_2).abs();
                let bound = 1.5 * ulp(want) + want * f64::from(-t) * std::f64::consts::LOG2_E * ln2_err;
                far = far.max(err / bound);
            }
            b += 31;
        }
        assert!(near <= 1.34, "{near} ulp on [-16, 0]");
        assert!(far <= 1.0, "{far} of the bound below -16");
        assert_eq!(exp_neg(0.0), 1.0);
        assert_eq!(exp_neg(-0.0), 1.0);
    }

    #[test]
    fn zero_exactly_below_the_flush() {
        assert!(exp_neg(EXP_FLUSH) > 0.0);
        let mut b = EXP_FLUSH.to_bits() + 1;
        while b <= EXP_CLAMP.to_bits() {
            assert_eq!(exp_neg(f32::from_bits(b)).to_bits(), 0, "{}", f32::from_bits(b));
            b += 1;
        }
        for t in [f32::NEG_INFINITY, f32::MIN, -1e30, -88.5] {
            assert_eq!(exp_neg(t).to_bits(), 0, "{t}");
        }
    }
}
