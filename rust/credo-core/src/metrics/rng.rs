//! A small seeded generator for resampling (xoshiro256++ seeded by SplitMix64). Each bootstrap
//! resample gets its own stream derived from (seed, resample index), so results do not depend
//! on how resamples are spread over threads.

#[inline]
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256++ (Blackman & Vigna).
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// The generator for stream `stream` of `seed`.
    pub fn new(seed: u64, stream: u64) -> Self {
        let mut st = seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03);
        let mut s = [0u64; 4];
        for v in &mut s {
            *v = splitmix64(&mut st);
        }
        Self { s }
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let out = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        out
    }

    /// Uniform integer in [0, n) without bias (Lemire's multiply-and-reject).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        let mut m = u128::from(self.next_u64()) * u128::from(n);
        if (m as u64) < n {
            let t = n.wrapping_neg() % n;
            while (m as u64) < t {
                m = u128::from(self.next_u64()) * u128::from(n);
            }
        }
        (m >> 64) as u64
    }

    /// Calls `f` with `count` uniform indices in [0, n). Below 2³² each 64-bit output yields two
    /// 32-bit draws (Lemire's method with rejection, so still exactly uniform); every resampling
    /// path draws through here, so their index streams agree.
    #[inline]
    pub fn for_each_below(&mut self, n: usize, count: usize, mut f: impl FnMut(usize)) {
        if n as u64 > u64::from(u32::MAX) {
            for _ in 0..count {
                f(self.below(n as u64) as usize);
            }
            return;
        }
        let n32 = n as u64;
        let t = (1u64 << 32) % n32; // draws whose low product is below t would bias the result
        let mut left = count;
        while left > 0 {
            let x = self.next_u64();
            for half in [x & 0xFFFF_FFFF, x >> 32] {
                let m = half * n32;
                if (m & 0xFFFF_FFFF) >= t && left > 0 {
                    f((m >> 32) as usize);
                    left -= 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_is_in_range_and_roughly_uniform() {
        let mut r = Rng::new(7, 0);
        let mut counts = [0u32; 10];
        for _ in 0..100_000 {
            counts[r.below(10) as usize] += 1;
        }
        assert!(counts.iter().all(|&c| (9_000..11_000).contains(&c)), "{counts:?}");
        assert_ne!(Rng::new(7, 0).next_u64(), Rng::new(7, 1).next_u64());
        let mut c2 = [0u32; 7];
        Rng::new(9, 0).for_each_below(7, 70_000, |i| c2[i] += 1);
        assert!(c2.iter().all(|&c| (9_000..11_000).contains(&c)), "{c2:?}");
    }
}
