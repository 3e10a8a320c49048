//! AVX2 + FMA + F16C lanes: 8 float32 lanes (half types widened on load) and 4 float64 lanes
//! (float64 input in float64 arithmetic with `exp64`'s table-driven exponential that permutes
//! 2^(j/8) out of registers: the degree-13 polynomial of `exp64::avx2` took 1.9x the AVX-512
//! time, the temperature kernel's 2^(j/256) with four scalar table loads per vector 1.6x). The
//! loop is [`lanes::row`]; flags are all-ones vector lanes instead of mask registers.
//!
//! The sums loops are in assembly ([`sums_f64`], [`sums_f32`]). On Zen 4 they are bound by the chain each vector
//! runs through (load to sum, about 50 cycles for float64), not by the ports: the float64
//! loop's instructions, with the dependencies from one vector to the next removed, run at 6.8
//! cycles a vector (its twelve multiply-adds alone need 6). In [`lanes::sums`]'s order the
//! float64 loop took 10.5 cycles a vector; software-pipelined in four parts with intrinsics
//! (the chain split four ways) 9.2, where the compiler, short of the sixteen registers,
//! reloads seven constants and copies eight values a vector; five vectors in flight
//! ([`lanes::sums_pipelined`]) in intrinsics, no faster (9.5). In assembly, with the registers
//! placed by hand ([`sums_trip`]): the values in flight take ten registers, m, the shifter,
//! the clamp, a coefficient and the two sums six, the other constants are memory operands
//! (nine loads a vector, within the two a cycle), and nothing spills: 8.0 cycles a vector
//! (AVX-512: 5.6 for as many lanes). float32: 6.7 cycles per 8 lanes in [`lanes::sums`]'s
//! order, 6.2 here (AVX-512: 5.3). Process CPU time of the loop alone over an 8 KiB chunk,
//! this Zen 4; the bits are the parts' (tested against them in order).

use std::arch::x86_64::*;

use half::{bf16, f16};

use super::exp;
use super::lanes::{self, intrinsics, F32Lanes, Lanes, Load};
use super::RowStats;
use crate::signals::exp64::avx2_table::{
    arg4_perm, expm1_perm, finish4_perm, reduce4_perm, PERM8, PERM8_K, PERM8_LN2, PERM8_POLY,
};
use crate::signals::exp64::{EXP64_ZERO, SHIFTER};

/// AVX2 float32 lanes; made only inside the `avx2,fma,f16c` entry points below.
#[derive(Clone, Copy)]
pub(super) struct Avx2(());

impl Lanes for Avx2 {
    type F = f32;
    type V = __m256;
    type M = __m256;
    type Count = __m256i;
    const N: usize = 8;

    intrinsics! {
        splat(x: f32) -> __m256 = _mm256_set1_ps(x);
        add(a: __m256, b: __m256) -> __m256 = _mm256_add_ps(a, b);
        sub(a: __m256, b: __m256) -> __m256 = _mm256_sub_ps(a, b);
        mul(a: __m256, b: __m256) -> __m256 = _mm256_mul_ps(a, b);
        mul_add(a: __m256, b: __m256, c: __m256) -> __m256 = _mm256_fmadd_ps(a, b, c);
        mul_sub(a: __m256, b: __m256, c: __m256) -> __m256 = _mm256_fmsub_ps(a, b, c);
        neg_mul_add(a: __m256, b: __m256, c: __m256) -> __m256 = _mm256_fnmadd_ps(a, b, c);
        max(a: __m256, b: __m256) -> __m256 = _mm256_max_ps(a, b);
        min(a: __m256, b: __m256) -> __m256 = _mm256_min_ps(a, b);
        gt(a: __m256, b: __m256) -> __m256 = _mm256_cmp_ps::<_CMP_GT_OQ>(a, b);
        ge(a: __m256, b: __m256) -> __m256 = _mm256_cmp_ps::<_CMP_GE_OQ>(a, b);
        unordered(a: __m256, b: __m256) -> __m256 = _mm256_cmp_ps::<_CMP_UNORD_Q>(a, b);
        or(a: __m256, b: __m256) -> __m256 = _mm256_or_ps(a, b);
        any(m: __m256) -> bool = _mm256_movemask_ps(m) != 0;
        none() -> __m256 = _mm256_setzero_ps();
        count_zero() -> __m256i = _mm256_setzero_si256();
        // A true comparison is all ones (−1): subtracting it counts.
        count(c: __m256i, m: __m256) -> __m256i = _mm256_sub_epi32(c, _mm256_castps_si256(m));
        store(v: __m256, out: &mut [f32; 16]) -> () = _mm256_storeu_ps(out.as_mut_ptr(), v);
    }

    #[inline(always)]
    fn total(self, c: __m256i) -> u64 {
        let mut n = [0u32; 8];
        // SAFETY: `n` holds 8 ints; the token proves AVX2.
        unsafe { _mm256_storeu_si256(n.as_mut_ptr().cast(), c) };
        n.iter().map(|&c| u64::from(c)).sum()
    }
    #[inline(always)]
    fn hmax(self, v: __m256) -> f32 {
        let mut out = [0.0f32; 16];
        self.store(v, &mut out);
        out[..8].iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b))
    }
    #[inline(always)]
    fn hsum(self, v: __m256) -> f64 {
        let mut out = [0.0f32; 16];
        self.store(v, &mut out);
        super::sum_f64(&out[..8])
    }
}

impl F32Lanes for Avx2 {
    #[inline(always)]
    fn scale_pow2(self, q: __m256, k: __m256) -> __m256 {
        // SAFETY: the token proves AVX2 and FMA.
        unsafe { scale_f32(pow2_f32(k), q) }
    }
}

impl Load<Avx2> for f32 {
    #[inline(always)]
    unsafe fn load(_: Avx2, p: *const f32) -> __m256 {
        // SAFETY: the caller guarantees 8 readable floats; the token proves AVX2.
        unsafe { _mm256_loadu_ps(p) }
    }

    #[inline(always)]
    fn sums_loop<const UNIT: bool>(
        l: Avx2,
        x: &[f32],
        inv_t: __m256,
        m: __m256,
        acc: lanes::Acc<Avx2>,
    ) -> lanes::Acc<Avx2> {
        // SAFETY: the token proves AVX2 and FMA.
        unsafe { sums_f32::<UNIT>(l, x, inv_t, m, acc) }
    }
}

/// 2ⁿ from the float32 exponential's k: n + 127 shifted into the exponent field (n + 127 = 0
/// gives 0).
#[inline]
#[target_feature(enable = "avx2")]
fn pow2_f32(k: __m256) -> __m256 {
    _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_castps_si256(k)))
}

/// 2ⁿ·(1 + q) as p + p·q, one rounding.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn scale_f32(p: __m256, q: __m256) -> __m256 {
    _mm256_fmadd_ps(p, q, p)
}

impl Load<Avx2> for f16 {
    #[inline(always)]
    unsafe fn load(_: Avx2, p: *const f16) -> __m256 {
        // SAFETY: 8 readable halves = 16 bytes; unaligned load; the token proves F16C.
        unsafe { _mm256_cvtph_ps(_mm_loadu_si128(p.cast())) }
    }
}

impl Load<Avx2> for bf16 {
    #[inline(always)]
    unsafe fn load(_: Avx2, p: *const bf16) -> __m256 {
        // SAFETY: 8 readable bfloat16 = 16 bytes. bfloat16 is the top half of a float32.
        unsafe {
            _mm256_castsi256_ps(_mm256_slli_epi32::<16>(_mm256_cvtepu16_epi32(_mm_loadu_si128(
                p.cast(),
            ))))
        }
    }
}

/// AVX2 float64 lanes.
#[derive(Clone, Copy)]
struct Avx2F64;

impl Lanes for Avx2F64 {
    type F = f64;
    type V = __m256d;
    type M = __m256d;
    type Count = __m256i;
    const N: usize = 4;

    intrinsics! {
        splat(x: f64) -> __m256d = _mm256_set1_pd(x);
        add(a: __m256d, b: __m256d) -> __m256d = _mm256_add_pd(a, b);
        sub(a: __m256d, b: __m256d) -> __m256d = _mm256_sub_pd(a, b);
        mul(a: __m256d, b: __m256d) -> __m256d = _mm256_mul_pd(a, b);
        mul_add(a: __m256d, b: __m256d, c: __m256d) -> __m256d = _mm256_fmadd_pd(a, b, c);
        mul_sub(a: __m256d, b: __m256d, c: __m256d) -> __m256d = _mm256_fmsub_pd(a, b, c);
        neg_mul_add(a: __m256d, b: __m256d, c: __m256d) -> __m256d = _mm256_fnmadd_pd(a, b, c);
        max(a: __m256d, b: __m256d) -> __m256d = _mm256_max_pd(a, b);
        min(a: __m256d, b: __m256d) -> __m256d = _mm256_min_pd(a, b);
        gt(a: __m256d, b: __m256d) -> __m256d = _mm256_cmp_pd::<_CMP_GT_OQ>(a, b);
        ge(a: __m256d, b: __m256d) -> __m256d = _mm256_cmp_pd::<_CMP_GE_OQ>(a, b);
        unordered(a: __m256d, b: __m256d) -> __m256d = _mm256_cmp_pd::<_CMP_UNORD_Q>(a, b);
        or(a: __m256d, b: __m256d) -> __m256d = _mm256_or_pd(a, b);
        any(m: __m256d) -> bool = _mm256_movemask_pd(m) != 0;
        none() -> __m256d = _mm256_setzero_pd();
        count_zero() -> __m256i = _mm256_setzero_si256();
        count(c: __m256i, m: __m256d) -> __m256i = _mm256_sub_epi64(c, _mm256_castpd_si256(m));
        store(v: __m256d, out: &mut [f64; 16]) -> () = _mm256_storeu_pd(out.as_mut_ptr(), v);
    }

    #[inline(always)]
    fn total(self, c: __m256i) -> u64 {
        let mut n = [0u64; 4];
        // SAFETY: `n` holds 4 64-bit ints; the token proves AVX2.
        unsafe { _mm256_storeu_si256(n.as_mut_ptr().cast(), c) };
        n.iter().sum()
    }
    #[inline(always)]
    fn hmax(self, v: __m256d) -> f64 {
        let mut out = [0.0f64; 16];
        self.store(v, &mut out);
        out[..4].iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b))
    }
    #[inline(always)]
    fn hsum(self, v: __m256d) -> f64 {
        let mut out = [0.0f64; 16];
        self.store(v, &mut out);
        out[..4].iter().sum()
    }
}

impl Load<Avx2F64> for f64 {
    #[inline(always)]
    unsafe fn load(_: Avx2F64, p: *const f64) -> __m256d {
        // SAFETY: the caller guarantees 4 readable doubles; the token proves AVX2.
        unsafe { _mm256_loadu_pd(p) }
    }
}

lanes::chunk_loops!("avx2,fma,f16c", Avx2);

/// The float64 loops apart, as [`lanes::chunk_loops`] makes them, with a sums loop of their own:
/// [`sums_f64`].
impl lanes::ChunkLoops<f64> for Avx2F64 {
    #[inline(never)]
    fn scan<const CHOSEN: bool>(self, st: &mut lanes::Scan<Self>, x: &[f64]) {
        #[target_feature(enable = "avx2,fma")]
        fn scan<const CHOSEN: bool>(l: Avx2F64, st: &mut lanes::Scan<Avx2F64>, x: &[f64]) {
            lanes::scan::<Avx2F64, f64, CHOSEN>(l, st, x);
        }
        // SAFETY: the token is only made where the CPU supports its instructions.
        unsafe { scan::<CHOSEN>(self, st, x) }
    }
    #[inline(never)]
    fn sums<const UNIT: bool>(self, x: &[f64], inv_t: __m256d, m: __m256d, acc: lanes::Acc<Self>) -> lanes::Acc<Self> {
        // SAFETY: as above.
        unsafe { sums_f64::<UNIT>(x, inv_t, m, acc) }
    }
}

/// The four steps of a trip of the AVX2 sums loops in assembly ([`sums_f64`], [`sums_f32`]),
/// one step (`$step`: [`sums_f64_step`], [`sums_f32_step`]) for each vector, at bytes 0, 32,
/// 64 and 96 past `{p}`, in the `$form` of [`scaled_t_asm`], with the registers that hold each
/// role in that step, and a prefetch
/// `{ahead}` bytes (a chunk) ahead for each of the two cache lines. A step's arguments are the
/// registers of the newest vector's t and k (`t1a`, `k1a`), the previous one's (`t1b`, `k1b`),
/// the reduced vector's t, r and scale (`t2`, `r2`, `s2`) and the oldest one's t, scale and
/// e^r − 1 (`t3`, `s3`, `q3`). A step takes the oldest vector's sums and so frees its three
/// registers: the new e^r − 1 goes to `q3`'s (r² and the scratch to `t3`'s and `s3`'s), then
/// the new vector's t and k to `t3`'s and `s3`'s; r replaces r in `r2`, the scale replaces k
/// in `k1b`, and the other roles move one vector on without a copy. So each role changes
/// register from step to step, and after four steps every role is back where the trip started
/// (ymm0 … ymm9, in the order above). Fixed: ymm10 m, ymm11 the shifter, ymm12 the clamp,
/// ymm13 a polynomial coefficient, ymm14 Σe, ymm15 Σe·t; `{mem}` points to the other
/// constants.
#[rustfmt::skip]
macro_rules! sums_trip {
    ($step:ident, $form:ident) => {
        concat!(
            "2:\n",
            $step!($form, "ymm0", "ymm1", "ymm2", "ymm3", "ymm4", "ymm5", "ymm6", "ymm7", "ymm8", "ymm9", "0"),
            "prefetcht0 [{p} + {ahead}]\n",
            $step!($form, "ymm7", "ymm8", "ymm0", "ymm1", "ymm2", "ymm5", "ymm3", "ymm4", "ymm6", "ymm9", "32"),
            $step!($form, "ymm4", "ymm6", "ymm7", "ymm8", "ymm0", "ymm5", "ymm1", "ymm2", "ymm3", "ymm9", "64"),
            "prefetcht0 [{p} + {ahead} + 64]\n",
            $step!($form, "ymm2", "ymm3", "ymm4", "ymm6", "ymm7", "ymm5", "ymm8", "ymm0", "ymm1", "ymm9", "96"),
            "add {p}, 128\n",
            "cmp {p}, {end}\n",
            "jb 2b\n",
        )
    };
}

/// Runs whole trips of a sums loop ([`sums_trip`] of `$step`, in the unit form of
/// [`scaled_t_asm`] where `$unit`, else the scaled one) from `$from` to `$end` (pointers into
/// the slice): the vectors in flight `$v` ([`InFlight`]) and the sums `$sv`, `$wv` bound to the
/// registers of their roles, m, the shifter, the clamp and the coefficient to the fixed ones,
/// `$memory` (a `$ty`) to `{mem}` and each of its fields' offsets to a name of its own.
macro_rules! sums_trips_asm {
    ($step:ident, $unit:expr, $($rest:tt)*) => {
        if $unit {
            sums_trips_asm!(@form $step, unit, $($rest)*)
        } else {
            sums_trips_asm!(@form $step, scaled, $($rest)*)
        }
    };
    (@form $step:ident, $form:ident, $memory:expr, $ty:ident { $($field:ident),* }, $from:expr,
     $end:expr, $v:ident, $sv:ident, $wv:ident, [$m:expr, $shifter:expr, $clamp:expr, $coef:expr]) => {
        std::arch::asm!(
            sums_trip!($step, $form),
            p = inout(reg) $from => _,
            end = in(reg) $end,
            ahead = const lanes::CHUNK_BYTES,
            mem = in(reg) $memory as *const $ty,
            $($field = const std::mem::offset_of!($ty, $field),)*
            inout("ymm0") $v.newest.0,
            inout("ymm1") $v.newest.1,
            inout("ymm2") $v.older.0,
            inout("ymm3") $v.older.1,
            inout("ymm4") $v.reduced.0,
            inout("ymm5") $v.reduced.1,
            inout("ymm6") $v.reduced.2,
            inout("ymm7") $v.oldest.0,
            inout("ymm8") $v.oldest.1,
            inout("ymm9") $v.oldest.2,
            in("ymm10") $m,
            in("ymm11") $shifter,
            in("ymm12") $clamp,
            in("ymm13") $coef,
            inout("ymm14") $sv,
            inout("ymm15") $wv,
            options(nostack, readonly),
        )
    };
}

/// The instruction of a sums step that takes the vector loaded into `$t` to x·inv_t − m
/// (`scaled`: one multiply-add, inv_t at `{inv_t}` past `{mem}`, m in ymm10) or, where inv_t
/// is 1, to x − m (`unit`: a subtraction, the same value, [`lanes::scaled_t`]), in lanes of
/// `$lanes` ("pd" or "ps"). `asm!` refuses an operand its template never names: the unit form
/// names `{inv_t}` in an assembler comment.
#[rustfmt::skip]
macro_rules! scaled_t_asm {
    (scaled, $lanes:literal, $t:literal) => {
        concat!("vfmsub132", $lanes, " ", $t, ", ymm10, [{mem} + {inv_t}]\n")
    };
    (unit, $lanes:literal, $t:literal) => {
        concat!("vsub", $lanes, " ", $t, ", ", $t, ", ymm10 /* {inv_t} */\n")
    };
}

/// One step of [`sums_f64`]'s loop ([`sums_trip`] says what the registers hold): the oldest
/// vector's sums ([`finish4_perm`], Σe and Σe·t), the next one's e^r − 1 ([`expm1_perm`]), the
/// one two before the newest reduced ([`reduce4_perm`]), and the vector at byte `$at` past
/// `{p}` loaded and taken to t and k ([`t_and_k`]): the parts' operations, in their order.
/// ymm13 holds the polynomial's c0, `{mem}` a [`SumsF64Memory`].
#[rustfmt::skip]
macro_rules! sums_f64_step {
    ($form:ident, $t1a:literal, $k1a:literal, $t1b:literal, $k1b:literal, $t2:literal, $r2:literal, $s2:literal,
     $t3:literal, $s3:literal, $q3:literal, $at:literal) => {
        concat!(
            // e = scale + scale·q; Σe += e; Σe·t += e·t.
            "vfmadd213pd ", $q3, ", ", $s3, ", ", $s3, "\n",
            "vaddpd ymm14, ymm14, ", $q3, "\n",
            "vfmadd231pd ymm15, ", $q3, ", ", $t3, "\n",
            // q = r + r²·y, y = ((c1 + c0·r) + r²·(c3 + c2·r))·r² + (c5 + c4·r).
            "vmulpd ", $t3, ", ", $r2, ", ", $r2, "\n",
            "vmovapd ", $q3, ", [{mem} + {poly}]\n",
            "vfmadd231pd ", $q3, ", ", $r2, ", ymm13\n",
            "vmovapd ", $s3, ", [{mem} + {poly} + 64]\n",
            "vfmadd231pd ", $s3, ", ", $r2, ", [{mem} + {poly} + 32]\n",
            "vfmadd213pd ", $q3, ", ", $t3, ", ", $s3, "\n",
            "vmovapd ", $s3, ", [{mem} + {poly} + 128]\n",
            "vfmadd231pd ", $s3, ", ", $r2, ", [{mem} + {poly} + 96]\n",
            "vfmadd213pd ", $q3, ", ", $t3, ", ", $s3, "\n",
            "vfmadd213pd ", $q3, ", ", $t3, ", ", $r2, "\n",
            // r = t − (k − shifter)·ln2/8; scale = table[j] + (k << 49), j in both halves.
            "vsubpd ", $r2, ", ", $k1b, ", ymm11\n",
            "vfnmadd132pd ", $r2, ", ", $t1b, ", [{mem} + {ln2}]\n",
            "vpshufd ", $t3, ", ", $k1b, ", 0xA0\n",
            "vpermd ", $s3, ", ", $t3, ", [{mem} + {table}]\n",
            "vpermd ", $t3, ", ", $t3, ", [{mem} + {table} + 32]\n",
            "vpblendd ", $s3, ", ", $s3, ", ", $t3, ", 0xAA\n",
            "vpsllq ", $k1b, ", ", $k1b, ", 49\n",
            "vpaddq ", $k1b, ", ", $k1b, ", ", $s3, "\n",
            // t = max(x·inv_t − m, EXP64_ZERO); k = t·8/ln2 + shifter.
            "vmovupd ", $t3, ", [{p} + ", $at, "]\n",
            scaled_t_asm!($form, "pd", $t3),
            "vmaxpd ", $t3, ", ", $t3, ", ymm12\n",
            "vmovapd ", $s3, ", ymm11\n",
            "vfmadd231pd ", $s3, ", ", $t3, ", [{mem} + {k}]\n",
        )
    };
}

/// One step of [`sums_f32`]'s loop ([`sums_trip`] says what the registers hold): as
/// [`sums_f64_step`], in float32 lanes with the float32 exponential's parts
/// ([`lanes::exp_f32`]: k, r, q; 2ⁿ by a shift in the reduction, [`pow2_f32`]). ymm13 holds
/// P1, `{mem}` a [`SumsF32Memory`].
#[rustfmt::skip]
macro_rules! sums_f32_step {
    ($form:ident, $t1a:literal, $k1a:literal, $t1b:literal, $k1b:literal, $t2:literal, $r2:literal, $s2:literal,
     $t3:literal, $s3:literal, $q3:literal, $at:literal) => {
        concat!(
            // e = 2ⁿ + 2ⁿ·q; Σe += e; Σe·t += e·t.
            "vfmadd213ps ", $q3, ", ", $s3, ", ", $s3, "\n",
            "vaddps ymm14, ymm14, ", $q3, "\n",
            "vfmadd231ps ymm15, ", $q3, ", ", $t3, "\n",
            // q = ((P0·r² + (P1·r + P2))·r² + (P3·r + P4))·r² + r.
            "vmulps ", $t3, ", ", $r2, ", ", $r2, "\n",
            "vmovaps ", $s3, ", [{mem} + {p4}]\n",
            "vfmadd231ps ", $s3, ", ", $r2, ", [{mem} + {p3}]\n",
            "vmovaps ", $q3, ", [{mem} + {p2}]\n",
            "vfmadd231ps ", $q3, ", ", $r2, ", ymm13\n",
            "vfmadd231ps ", $q3, ", ", $t3, ", [{mem} + {p0}]\n",
            "vfmadd213ps ", $q3, ", ", $t3, ", ", $s3, "\n",
            "vfmadd213ps ", $q3, ", ", $t3, ", ", $r2, "\n",
            // r = t − (k − shifter)·ln2; 2ⁿ = k << 23.
            "vsubps ", $r2, ", ", $k1b, ", ymm11\n",
            "vfnmadd132ps ", $r2, ", ", $t1b, ", [{mem} + {ln2}]\n",
            "vpslld ", $k1b, ", ", $k1b, ", 23\n",
            // t = max(x·inv_t − m, EXP_CLAMP); k = t·log2e + shifter.
            "vmovups ", $t3, ", [{p} + ", $at, "]\n",
            scaled_t_asm!($form, "ps", $t3),
            "vmaxps ", $t3, ", ", $t3, ", ymm12\n",
            "vmovaps ", $s3, ", ymm11\n",
            "vfmadd231ps ", $s3, ", ", $t3, ", [{mem} + {log2e}]\n",
        )
    };
}

/// The vectors in flight in the assembly loops: t and k of the two newest, t, r and the scale
/// of the reduced one, t, the scale and e^r − 1 of the oldest.
type InFlight<V> = lanes::InFlight<(V, V), (V, V, V), (V, V, V)>;

/// The constants [`sums_f64`]'s loop reads from memory, each an operand of the instruction
/// that uses it.
#[repr(C, align(32))]
struct SumsF64Memory {
    inv_t: __m256d,
    /// [`PERM8_POLY`]'s c1 … c5 (c0 is in a register).
    poly: [__m256d; 5],
    /// [`PERM8`]'s low and high halves.
    table: [__m256i; 2],
    k: __m256d,
    ln2: __m256d,
}

/// The constants [`sums_f32`]'s loop reads from memory.
#[repr(C, align(32))]
struct SumsF32Memory {
    inv_t: __m256,
    log2e: __m256,
    ln2: __m256,
    p0: __m256,
    p2: __m256,
    p3: __m256,
    p4: __m256,
}

/// [`lanes::sums`] for float64: the exponential's four parts ([`t_and_k`]; [`reduce4_perm`];
/// [`expm1_perm`]; [`finish4_perm`] and the sums) over five vectors in flight
/// ([`lanes::sums_pipelined`]), whole trips of four steps in assembly ([`sums_trip`] of
/// [`sums_f64_step`]; the module says why); `UNIT` where inv_t is 1 ([`lanes::scaled_t`]).
#[target_feature(enable = "avx2,fma")]
fn sums_f64<const UNIT: bool>(x: &[f64], inv_t: __m256d, m: __m256d, acc: lanes::Acc<Avx2F64>) -> lanes::Acc<Avx2F64> {
    let p = x.as_ptr();
    let arg = |i: usize| {
        // SAFETY: `sums_pipelined` asks for whole vectors of `x` only.
        t_and_k::<UNIT>(unsafe { _mm256_loadu_pd(p.add(i)) }, inv_t, m)
    };
    let reduce = |(t, k)| {
        let (r, scale) = reduce4_perm(t, k);
        (t, r, scale)
    };
    let poly = |(t, r, scale)| (t, scale, expm1_perm(r));
    let finish = |acc, (t, scale, q)| add_to_sums(acc, t, finish4_perm(scale, q));
    let trips = |v: &mut InFlight<_>, (mut sv, mut wv), start: usize| {
        let Some(end) = trips_end(x.len(), start, 4) else {
            return ((sv, wv), start);
        };
        let [c0, c1, c2, c3, c4, c5] = PERM8_POLY.map(|c| _mm256_set1_pd(c));
        let memory = SumsF64Memory {
            inv_t,
            poly: [c1, c2, c3, c4, c5],
            // SAFETY: each row of PERM8 holds eight 32-bit ints.
            table: PERM8.map(|half| unsafe { _mm256_loadu_si256(half.as_ptr().cast()) }),
            k: _mm256_set1_pd(PERM8_K),
            ln2: _mm256_set1_pd(PERM8_LN2),
        };
        // SAFETY: the loop reads x[start .. end] (end <= len) and prefetches, which never
        // faults; `memory` holds the constants at the offsets named; the registers are bound
        // to their roles at the start of a trip, where a trip leaves them.
        unsafe {
            sums_trips_asm!(
                sums_f64_step,
                UNIT,
                &memory,
                SumsF64Memory {
                    inv_t,
                    poly,
                    table,
                    k,
                    ln2
                },
                p.add(start),
                p.add(end),
                v,
                sv,
                wv,
                [m, _mm256_set1_pd(SHIFTER), _mm256_set1_pd(EXP64_ZERO), c0]
            );
        }
        ((sv, wv), end)
    };
    lanes::sums_pipelined(x, 4, arg, reduce, poly, finish, acc, trips)
}

/// [`lanes::sums`] for float32 input at AVX2, as [`sums_f64`]: the float32 exponential's parts
/// over five vectors in flight, whole trips in assembly ([`sums_f32_step`]); the same bits as
/// [`lanes::sums`].
#[target_feature(enable = "avx2,fma")]
fn sums_f32<const UNIT: bool>(l: Avx2, x: &[f32], inv_t: __m256, m: __m256, acc: lanes::Acc<Avx2>) -> lanes::Acc<Avx2> {
    let p = x.as_ptr();
    let arg = |i: usize| {
        // SAFETY: `sums_pipelined` asks for whole vectors of `x` only.
        let t = lanes::clamped_t::<_, UNIT>(l, unsafe { _mm256_loadu_ps(p.add(i)) }, inv_t, m);
        (t, lanes::exp_f32_k(l, t))
    };
    let reduce = |(t, k)| (t, lanes::exp_f32_r(l, t, k), pow2_f32(k));
    let poly = |(t, r, p2)| (t, p2, lanes::exp_f32_q(l, r));
    let finish = |(sv, wv), (t, p2, q)| {
        let e = scale_f32(p2, q);
        (_mm256_add_ps(sv, e), _mm256_fmadd_ps(e, t, wv))
    };
    let trips = |v: &mut InFlight<_>, (mut sv, mut wv), start: usize| {
        let Some(end) = trips_end(x.len(), start, 8) else {
            return ((sv, wv), start);
        };
        let memory = SumsF32Memory {
            inv_t,
            log2e: _mm256_set1_ps(exp::LOG2E),
            ln2: _mm256_set1_ps(exp::LN2),
            p0: _mm256_set1_ps(exp::P0),
            p2: _mm256_set1_ps(exp::P2),
            p3: _mm256_set1_ps(exp::P3),
            p4: _mm256_set1_ps(exp::P4),
        };
        // SAFETY: as in `sums_f64`.
        unsafe {
            sums_trips_asm!(
                sums_f32_step,
                UNIT,
                &memory,
                SumsF32Memory {
                    inv_t,
                    log2e,
                    ln2,
                    p0,
                    p2,
                    p3,
                    p4
                },
                p.add(start),
                p.add(end),
                v,
                sv,
                wv,
                [
                    m,
                    _mm256_set1_ps(exp::SHIFTER),
                    _mm256_set1_ps(exp::EXP_CLAMP),
                    _mm256_set1_ps(exp::P1)
                ]
            );
        }
        ((sv, wv), end)
    };
    lanes::sums_pipelined(x, 8, arg, reduce, poly, finish, acc, trips)
}

/// Where whole trips of the assembly loops (four vectors of `lanes` elements) from `start`
/// end in a slice of `len`, or None where there is none.
fn trips_end(len: usize, start: usize, lanes: usize) -> Option<usize> {
    let trip = 4 * lanes;
    let trips = len.saturating_sub(start) / trip;
    (trips > 0).then_some(start + trips * trip)
}

/// t = max(x·inv_t − m, EXP64_ZERO) (e^t is exactly 0 from `EXP64_ZERO` down, NaN included:
/// max gives its second operand; x − m with `UNIT`, [`lanes::scaled_t`]) and its k
/// ([`arg4_perm`]).
#[inline]
#[target_feature(enable = "avx2,fma")]
fn t_and_k<const UNIT: bool>(x: __m256d, inv_t: __m256d, m: __m256d) -> (__m256d, __m256d) {
    let t = _mm256_max_pd(
        lanes::scaled_t::<_, UNIT>(Avx2F64, x, inv_t, m),
        _mm256_set1_pd(EXP64_ZERO),
    );
    (t, arg4_perm(t))
}

/// (Σe + e, Σe·t + e·t).
#[inline]
#[target_feature(enable = "avx2,fma")]
fn add_to_sums((sv, wv): lanes::Acc<Avx2F64>, t: __m256d, e: __m256d) -> lanes::Acc<Avx2F64> {
    (_mm256_add_pd(sv, e), _mm256_fmadd_pd(e, t, wv))
}

/// The statistics of one row of float32, float16 or bfloat16 in float32 lanes.
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn row<T: Load<Avx2>>(r: &[T], inv_t: f32, chosen: Option<usize>) -> RowStats {
    lanes::row(Avx2(()), r, inv_t, chosen)
}

/// The statistics of one float64 row in float64 lanes.
#[target_feature(enable = "avx2,fma")]
pub(super) fn row_f64(r: &[f64], inv_t: f64, chosen: Option<usize>) -> RowStats {
    lanes::row(Avx2F64, r, inv_t, chosen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::simd::tests::Rng;

    /// The float64 sums in [`lanes::sums`]'s order, one vector at a time through the four parts:
    /// [`sums_f64`]'s reference.
    #[target_feature(enable = "avx2,fma")]
    fn sums_f64_in_order(x: &[f64], inv_t: __m256d, m: __m256d, mut acc: lanes::Acc<Avx2F64>) -> lanes::Acc<Avx2F64> {
        for v in x.chunks_exact(4) {
            // SAFETY: `v` holds four doubles.
            let (t, k) = t_and_k::<false>(unsafe { _mm256_loadu_pd(v.as_ptr()) }, inv_t, m);
            let (r, scale) = reduce4_perm(t, k);
            acc = add_to_sums(acc, t, finish4_perm(scale, expm1_perm(r)));
        }
        acc
    }

    fn lanes(v: __m256d) -> [u64; 4] {
        let mut out = [0.0f64; 4];
        // SAFETY: `out` holds four doubles.
        unsafe { _mm256_storeu_pd(out.as_mut_ptr(), v) };
        out.map(f64::to_bits)
    }

    /// The assembly loop against the same parts one vector at a time, bit for bit: every
    /// length up to past a chunk (the pipeline's fill, whole trips, the steps after them and
    /// the drain), logits far below the reference, `-inf`, NaN and a temperature; at inv_t = 1
    /// the unit form (x − m) too, against the parts' x·1 − m.
    #[test]
    fn float64_sums_loop_has_the_bits_of_the_parts_in_order() {
        if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
            return;
        }
        let mut rng = Rng::new(7);
        let x: Vec<f64> = (0..1200)
            .map(|i| match i % 97 {
                13 => f64::NEG_INFINITY,
                29 => f64::NAN,
                41 => -800.0,
                53 => -709.0,
                _ => (rng.next_f64() - 0.5) * 60.0,
            })
            .collect();
        for (inv_t, m) in [(1.0, 30.0), (0.7, 21.0), (1.3, 39.5)] {
            for len in (0..=x.len()).step_by(4) {
                // SAFETY: the test checked AVX2 and FMA.
                let (scaled, unit, want) = unsafe {
                    let (vinv, vm) = (_mm256_set1_pd(inv_t), _mm256_set1_pd(m));
                    let acc = (_mm256_set1_pd(0.25), _mm256_set1_pd(-0.5));
                    (
                        sums_f64::<false>(&x[..len], vinv, vm, acc),
                        (inv_t == 1.0).then(|| sums_f64::<true>(&x[..len], vinv, vm, acc)),
                        sums_f64_in_order(&x[..len], vinv, vm, acc),
                    )
                };
                for (form, got) in [("scaled", Some(scaled)), ("unit", unit)] {
                    let Some(got) = got else { continue };
                    assert_eq!(lanes(got.0), lanes(want.0), "Σe, {form}, len {len}, inv_t {inv_t}");
                    assert_eq!(lanes(got.1), lanes(want.1), "Σe·t, {form}, len {len}, inv_t {inv_t}");
                }
            }
        }
    }

    /// The float32 assembly loop against [`lanes::sums`] (one vector at a time through
    /// [`lanes::exp_f32`], scaled), bit for bit, as the float64 one.
    #[test]
    fn float32_sums_loop_has_the_bits_of_the_generic_loop() {
        if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
            return;
        }
        let mut rng = Rng::new(11);
        let x: Vec<f32> = (0..2400)
            .map(|i| match i % 89 {
                13 => f32::NEG_INFINITY,
                29 => f32::NAN,
                41 => -200.0,
                53 => -87.5,
                _ => ((rng.next_f64() - 0.5) * 60.0) as f32,
            })
            .collect();
        let bits = |v: __m256| {
            let mut out = [0.0f32; 8];
            // SAFETY: `out` holds eight floats.
            unsafe { _mm256_storeu_ps(out.as_mut_ptr(), v) };
            out.map(f32::to_bits)
        };
        for (inv_t, m) in [(1.0, 30.0), (0.7, 21.0), (1.3, 39.5)] {
            for len in (0..=x.len()).step_by(8) {
                let l = Avx2(());
                // SAFETY: the test checked AVX2 and FMA.
                let (scaled, unit, want) = unsafe {
                    let (vinv, vm) = (_mm256_set1_ps(inv_t), _mm256_set1_ps(m));
                    let acc = (_mm256_set1_ps(0.25), _mm256_set1_ps(-0.5));
                    (
                        sums_f32::<false>(l, &x[..len], vinv, vm, acc),
                        (inv_t == 1.0).then(|| sums_f32::<true>(l, &x[..len], vinv, vm, acc)),
                        generic_sums(l, &x[..len], vinv, vm, acc),
                    )
                };
                for (form, got) in [("scaled", Some(scaled)), ("unit", unit)] {
                    let Some(got) = got else { continue };
                    assert_eq!(bits(got.0), bits(want.0), "Σe, {form}, len {len}, inv_t {inv_t}");
                    assert_eq!(bits(got.1), bits(want.1), "Σe·t, {form}, len {len}, inv_t {inv_t}");
                }
            }
        }
    }

    /// At T = 1 the sums' unit form has the scaled form's bits, in every lane dtype (the
    /// assembly loops' unit forms are also checked against their parts above).
    #[test]
    fn unit_sums_have_the_bits_of_the_scaled_sums() {
        if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") && is_x86_feature_detected!("f16c")) {
            return;
        }
        let (f, h, b, d) = crate::signals::simd::tests::unit_rows();
        lanes::assert_unit_sums_are_scaled(Avx2(()), &f);
        lanes::assert_unit_sums_are_scaled(Avx2(()), &h);
        lanes::assert_unit_sums_are_scaled(Avx2(()), &b);
        lanes::assert_unit_sums_are_scaled(Avx2F64, &d);
    }

    #[target_feature(enable = "avx2,fma")]
    fn generic_sums(l: Avx2, x: &[f32], inv_t: __m256, m: __m256, acc: lanes::Acc<Avx2>) -> lanes::Acc<Avx2> {
        lanes::sums::<_, _, false>(l, x, inv_t, m, acc)
    }
}
