//! The float32 exponential the vector kernels use on t ≤ 0 (Cephes `expf`: Cody–Waite range
//! reduction, degree-6 polynomial, about 1 ulp). Inputs below [`EXP_FLUSH`] give exactly 0, so a
//! masked (`-inf`) logit contributes nothing to Σp nor to Σp·l. The lane kernels inline the same
//! constants; [`exp_neg`] is their scalar mirror, tested here against `f64::exp`.

/// Arguments are clamped up to this (so `-inf` and huge negatives stay finite in `e·t` = 0).
pub(crate) const EXP_CLAMP: f32 = -88.0;
/// Below this the result is flushed to 0 (exp(−87.33) ≈ 1.2e−38, the smallest normal float32).
pub(crate) const EXP_FLUSH: f32 = -87.33;
pub(crate) const LOG2E: f32 = std::f32::consts::LOG2_E;
/// 1.5·2²³ + 127: t·log2e + SHIFTER rounds t·log2e to the nearest integer n (ties to even) and
/// holds n + 127 in the low mantissa bits, for −127 ≤ n ≤ 0.
pub(crate) const SHIFTER: f32 = 12_583_039.0;
pub(crate) const LN2_HI: f32 = 0.693_359_4;
pub(crate) const LN2_LO: f32 = -2.121_944_4e-4;
pub(crate) const P0: f32 = 1.987_569_1e-4;
pub(crate) const P1: f32 = 1.398_199_9e-3;
pub(crate) const P2: f32 = 8.333_452e-3;
pub(crate) const P3: f32 = 4.166_579_6e-2;
pub(crate) const P4: f32 = 1.666_666_5e-1;
pub(crate) const P5: f32 = 0.5;

/// exp(t) for t ≤ 0, computed exactly as the lane kernels do.
#[cfg(test)]
pub(crate) fn exp_neg(t: f32) -> f32 {
    let t = t.max(EXP_CLAMP);
    let k = t.mul_add(LOG2E, SHIFTER);
    let n = k - SHIFTER;
    let r = (-n).mul_add(LN2_HI, t);
    let r = (-n).mul_add(LN2_LO, r);
    let r2 = r * r;
    let a = P0.mul_add(r, P1);
    let b = P2.mul_add(r, P3);
    let c = P4.mul_add(r, P5);
    let y = a.mul_add(r2, b).mul_add(r2, c);
    let q = y.mul_add(r2, r);
    let p = f32::from_bits(k.to_bits() << 23);
    if t < EXP_FLUSH {
        0.0
    } else {
        p.mul_add(q, p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_f64_exp_within_two_ulp() {
        let mut t = -87.3f32;
        while t <= 0.0 {
            let got = exp_neg(t);
            let want = f64::from(t).exp();
            let rel = ((f64::from(got) - want) / want).abs();
            assert!(rel < 2.5e-7, "exp({t}) = {got}, want {want} (rel {rel})");
            t += 0.0137;
        }
        assert_eq!(exp_neg(0.0), 1.0);
        assert_eq!(exp_neg(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_neg(-87.5), 0.0);
    }
}
