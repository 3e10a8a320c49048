//! Special functions shared by the statistics (binomial tails for guaranteed thresholds, the
//! Beta stopping rule, normal tails). `lgamma` and `erfc` come from the `libm` crate; the
//! regularised incomplete beta is Lentz's continued fraction (Numerical Recipes §6.4), accurate to
//! ~1e-14 relative, which is what scipy's `betainc` gives on the same arguments.

/// ln Γ(x) for x > 0.
#[must_use]
pub fn ln_gamma(x: f64) -> f64 {
    libm::lgamma_r(x).0
}

/// ln B(a, b).
#[must_use]
pub fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// The regularised incomplete beta function I_x(a, b), for a, b > 0 and x in [0, 1].
/// Returns NaN outside that domain.
#[must_use]
#[allow(clippy::nonminimal_bool)] // `!(a > 0)` (not `a <= 0`) so that NaN arguments are rejected too
pub fn beta_inc(a: f64, b: f64, x: f64) -> f64 {
    if !(a > 0.0 && b > 0.0) || !(0.0..=1.0).contains(&x) {
        return f64::NAN;
    }
    if x == 0.0 || x == 1.0 {
        return x;
    }
    let ln_front = a * x.ln() + b * (1.0 - x).ln() - ln_beta(a, b);
    // The continued fraction converges fast for x < (a+1)/(a+b+2); use the symmetry otherwise.
    if x < (a + 1.0) / (a + b + 2.0) {
        ln_front.exp() * beta_cf(a, b, x) / a
    } else {
        1.0 - ln_front.exp() * beta_cf(b, a, 1.0 - x) / b
    }
}

fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    const EPS: f64 = 1e-16;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=1000 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < EPS {
            break;
        }
    }
    h
}

/// P(X ≤ k) for X ~ Binomial(n, p), with `k` real and floored as scipy's `binom.cdf` does.
#[must_use]
pub fn binom_cdf(k: f64, n: u64, p: f64) -> f64 {
    if k.is_nan() || p.is_nan() {
        return f64::NAN;
    }
    let k = k.floor();
    let nf = n as f64;
    if k < 0.0 {
        return 0.0;
    }
    if k >= nf {
        return 1.0;
    }
    if p <= 0.0 {
        return 1.0;
    }
    if p >= 1.0 {
        return 0.0;
    }
    // P(X ≤ k) = I_{1−p}(n − k, k + 1)
    beta_inc(nf - k, k + 1.0, 1.0 - p)
}

/// The standard normal survival function 1 − Φ(x), accurate in the far tail.
#[must_use]
pub fn norm_sf(x: f64) -> f64 {
    0.5 * libm::erfc(x / std::f64::consts::SQRT_2)
}

/// The standard normal CDF Φ(x).
#[must_use]
pub fn norm_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

/// The standard normal quantile Φ⁻¹(p) for p in (0, 1) (±∞ at 0 and 1, NaN outside):
/// Wichura's AS241 (PPND16), relative error about 1e-16, the coefficients of Python's
/// `statistics.NormalDist.inv_cdf`.
#[must_use]
#[allow(clippy::unreadable_literal)]
pub fn norm_ppf(p: f64) -> f64 {
    if !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 || p == 1.0 {
        return if p == 0.0 { f64::NEG_INFINITY } else { f64::INFINITY };
    }
    let poly = |c: &[f64; 8], r: f64| c.iter().fold(0.0, |acc, &k| acc * r + k);
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180625 - q * q;
        let num = [
            2509.0809287301227,
            33430.57558358813,
            67265.7709270087,
            45921.95393154987,
            13731.69376550946,
            1971.5909503065513,
            133.14166789178438,
            3.3871328727963665,
        ];
        let den = [
            5226.495278852854,
            28729.085735721943,
            39307.89580009271,
            21213.794301586597,
            5394.196021424751,
            687.1870074920579,
            42.31333070160091,
            1.0,
        ];
        return q * poly(&num, r) / poly(&den, r);
    }
    let r = (-(if q <= 0.0 { p } else { 1.0 - p }).ln()).sqrt();
    let x = if r <= 5.0 {
        let r = r - 1.6;
        let num = [
            0.0007745450142783414,
            0.022723844989269184,
            0.2417807251774506,
            1.2704582524523684,
            3.6478483247632045,
            5.769497221460691,
            4.630337846156546,
            1.4234371107496835,
        ];
        let den = [
            1.0507500716444169e-09,
            0.0005475938084995345,
            0.015198666563616457,
            0.14810397642748008,
            0.6897673349851,
            1.6763848301838038,
            2.053191626637759,
            1.0,
        ];
        poly(&num, r) / poly(&den, r)
    } else {
        let r = r - 5.0;
        let num = [
            2.0103343992922881e-07,
            2.7115555687434876e-05,
            0.0012426609473880784,
            0.026532189526576124,
            0.29656057182850487,
            1.7848265399172913,
            5.463784911164114,
            6.657904643501103,
        ];
        let den = [
            2.0442631033899397e-15,
            1.421511758316446e-07,
            1.8463183175100548e-05,
            0.0007868691311456133,
            0.014875361290850615,
            0.1369298809227358,
            0.599832206555888,
            1.0,
        ];
        poly(&num, r) / poly(&den, r)
    };
    if q < 0.0 {
        -x
    } else {
        x
    }
}

/// The logistic function, evaluated without overflow for either sign of `z`.
#[inline]
#[must_use]
pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// log(1 + e^z) without overflow.
#[inline]
#[must_use]
pub fn softplus(z: f64) -> f64 {
    if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-300)
    }

    #[test]
    fn norm_ppf_matches_scipy_ndtri() {
        // scipy.special.ndtri at these points
        let cases = [
            (0.975, 1.959963984540054),
            (0.025, -1.9599639845400545),
            (0.5, 0.0),
            (0.8, 0.8416212335729143),
            (1e-10, -6.361340902404056),
            (1e-300, -37.0470962993612),
            (0.999999, 4.753424308817087),
        ];
        for (p, want) in cases {
            assert!(
                close(norm_ppf(p), want, 1e-14) || (want == 0.0 && norm_ppf(p) == 0.0),
                "{p}"
            );
            assert!(close(norm_cdf(norm_ppf(p)), p, 1e-12), "{p}");
        }
        assert!(norm_ppf(-0.1).is_nan() && norm_ppf(f64::NAN).is_nan());
        assert_eq!((norm_ppf(0.0), norm_ppf(1.0)), (f64::NEG_INFINITY, f64::INFINITY));
    }

    #[test]
    fn beta_inc_matches_scipy() {
        // scipy.special.betainc values
        assert!(close(beta_inc(2.0, 3.0, 0.4), 0.5248, 1e-12));
        assert!(close(beta_inc(0.5, 0.5, 0.3), 0.369_010_119_565_545_2, 1e-12));
        assert!(close(beta_inc(5.0, 2.0, 0.5), 0.109_375, 1e-12));
        assert!(close(beta_inc(200.0, 300.0, 0.35), 0.010_341_770_254_687_632, 1e-9));
        assert!(beta_inc(-1.0, 1.0, 0.5).is_nan());
    }

    #[test]
    fn beta_stopping_rule_check_values() {
        // docs/definitions/agreement.md#adaptive-stopping: 1 − I_0.5(a+1, b+1)
        assert!(close(1.0 - beta_inc(5.0, 1.0, 0.5), 0.968_75, 1e-13));
        assert!(close(1.0 - beta_inc(6.0, 2.0, 0.5), 0.9375, 1e-13));
        assert!(close(1.0 - beta_inc(4.0, 3.0, 0.5), 0.656_25, 1e-13));
    }

    #[test]
    fn binom_cdf_matches_direct_sum() {
        for &(n, p) in &[(10u64, 0.3f64), (50, 0.02), (1000, 0.041_963), (7, 0.9)] {
            let mut acc = 0.0;
            for k in 0..=n {
                #[allow(
                    clippy::cast_precision_loss,
                    clippy::cast_possible_truncation,
                    clippy::cast_possible_wrap
                )]
                let term = (ln_gamma(n as f64 + 1.0) - ln_gamma(k as f64 + 1.0) - ln_gamma((n - k) as f64 + 1.0)
                    + k as f64 * p.ln()
                    + (n - k) as f64 * (1.0 - p).ln())
                .exp();
                acc += term;
                let got = binom_cdf(k as f64, n, p);
                assert!(close(got, acc.min(1.0), 1e-9), "n={n} p={p} k={k}: {got} vs {acc}");
            }
        }
        assert_eq!(binom_cdf(-1.0, 10, 0.5), 0.0);
        assert_eq!(binom_cdf(10.0, 10, 0.5), 1.0);
        assert_eq!(binom_cdf(2.7, 10, 0.5), binom_cdf(2.0, 10, 0.5));
    }

    #[test]
    fn normal_tails() {
        assert!(close(norm_cdf(1.96), 0.975_002_104_851_780, 1e-12));
        assert!(close(norm_sf(10.0), 7.619_853_024_160_527e-24, 1e-10));
    }
}
