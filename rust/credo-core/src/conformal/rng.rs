//! A tiny seeded generator (SplitMix64) for the randomised parts of conformal prediction
//! (smoothed p-values, randomised APS). Same seed, same numbers, on every platform.

/// SplitMix64 (Steele, Lea & Flood 2014): fast, statistically sound for tie-breaking draws.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform on [0, 1) with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let x = (self.next_u64() >> 11) as f64;
        x * (1.0 / (1u64 << 53) as f64)
    }
}

/// `n` uniforms on [0, 1) from `seed`.
#[must_use]
pub fn uniforms(n: usize, seed: u64) -> Vec<f64> {
    let mut g = SplitMix64::new(seed);
    (0..n).map(|_| g.next_f64()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_mean_and_determinism() {
        let u = uniforms(100_000, 7);
        assert_eq!(u, uniforms(100_000, 7));
        let mean = u.iter().sum::<f64>() / 1e5;
        assert!((mean - 0.5).abs() < 0.005);
        assert!(u.iter().all(|&x| (0.0..1.0).contains(&x)));
    }
}
