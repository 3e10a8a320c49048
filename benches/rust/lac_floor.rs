//! The memory floor of the LAC conformal row (10⁵ × 100, float64 or float32), timed beside
//! credo's LAC fit + sets, interleaved, medians of wall time per call:
//!
//! - `read 1t` / `read 2t`: one read of the test matrix (an OR of its bits: no compute to speak
//!   of), on the calling thread alone / split in two halves over it and one scoped thread;
//! - `read+write 2t`: that read with the one write the sets pass makes, a bool per value
//!   (32-byte streamed stores of a constant, as the AVX2 kernel stores its bools), 2 threads;
//! - `credo fit`, `credo sets`, `credo lac`: the LAC calibration scores and quantile, the sets
//!   into a reused buffer (as NumPy's allocator hands back the freed one), and both in turn;
//!   `credo fit cold`: the fit after a read of the test matrix, which evicts the calibration
//!   rows it gathers from the cache, as the sets pass does in `credo lac` (and in the Python
//!   row, which times fit + sets in turn); `credo fit` finds them cached by its untimed call;
//!   `credo fit 1t`, `credo sets 1t`: the same in a pool of one thread.
//!
//! The matrices are backed by 2 MB pages, as NumPy's are (see [`huge_vec`]).
//!
//! ```text
//! cargo run --release -p credo-benches --example lac_floor -- [f64|f32] [ROUNDS] [SERIES]
//! ```
//! Each call is timed in wall time (median and 10th percentile: on a loaded machine the fastest
//! calls are those no other process interrupted), in process CPU time (both threads: the
//! steadier, though it counts the pool's spinning too) and in the calling thread's CPU time (its
//! share of the work: all of it when the second thread joins too late to help). The `1t`
//! variants run on a pool thread, their calling thread's CPU is the process's.
//! Each series runs every variant once untimed, then ROUNDS rounds of (untimed call, timed call)
//! per variant in turn, and prints the medians; the spread over series shows the load.

use std::hint::black_box;
use std::mem::MaybeUninit;
use std::time::Instant;

use credo_core::conformal::sets::{self, LastLabel, Prob, Score, Thresholds};
use credo_core::conformal::{conformal_quantile, QuantileMode};
use credo_core::rng::SplitMix64;

const N: usize = 100_000;
const K: usize = 100;
const ALPHA: f64 = 0.1;

/// A value type of the test matrix: its bits as lanes the floor ORs together.
trait Lanes: Prob + Copy {
    fn from_f64(x: f64) -> Self;
    fn bits(self) -> u64;
}
impl Lanes for f64 {
    fn from_f64(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn bits(self) -> u64 {
        self.to_bits()
    }
}
impl Lanes for f32 {
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn bits(self) -> u64 {
        u64::from(self.to_bits())
    }
}

/// An empty vector of capacity `len` whose memory the kernel backs with 2 MB pages where it
/// can, as NumPy asks for arrays of 4 MB or more (`madvise(MADV_HUGEPAGE)`): with 4 kB pages the
/// gather's rows would each miss the TLB too.
fn huge_vec<T>(len: usize) -> Vec<T> {
    let v: Vec<T> = Vec::with_capacity(len);
    #[cfg(target_os = "linux")]
    {
        // madvise takes a page-aligned start (the allocation's is not: it fails with EINVAL and
        // the pages stay 4 kB); NumPy rounds it up the same way.
        let (start, bytes) = (v.as_ptr() as usize, len * std::mem::size_of::<T>());
        let offset = start.next_multiple_of(4096) - start;
        // SAFETY: advice on memory this vector owns; it changes no contents.
        let rc = unsafe {
            libc::madvise(
                (start + offset) as *mut libc::c_void,
                bytes.saturating_sub(offset),
                libc::MADV_HUGEPAGE,
            )
        };
        assert_eq!(rc, 0, "madvise(MADV_HUGEPAGE) failed");
    }
    v
}

/// Rows of `k` probabilities (uniforms over their sum).
fn matrix<T: Lanes>(rows: usize, k: usize, g: &mut SplitMix64) -> Vec<T> {
    let mut out = huge_vec(rows * k);
    let mut row = vec![0.0; k];
    for _ in 0..rows {
        row.iter_mut().for_each(|x| *x = g.next_f64());
        let sum: f64 = row.iter().sum();
        out.extend(row.iter().map(|&x| T::from_f64(x / sum)));
    }
    out
}

/// [`or_bits`] compiled for AVX2 where the CPU has it (as the kernels it is the floor of).
fn read<T: Lanes>(p: &[T]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { read_avx2(p) };
    }
    or_bits(p)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn read_avx2<T: Lanes>(p: &[T]) -> u64 {
    or_bits(p)
}

/// The OR of the bits of `p`, in 8 independent lanes (vectorised: one read, nothing more).
#[inline(always)]
fn or_bits<T: Lanes>(p: &[T]) -> u64 {
    let mut acc = [0u64; 8];
    let blocks = p.chunks_exact(8);
    let tail = blocks.remainder().iter().fold(0, |a, x| a | x.bits());
    for b in blocks {
        for (a, x) in acc.iter_mut().zip(b) {
            *a |= x.bits();
        }
    }
    acc.iter().fold(tail, |a, &x| a | x)
}

/// `or_bits` over `p` with, per 32 values, 32 bytes streamed into `o` (a bool per value).
fn or_bits_write<T: Lanes>(p: &[T], o: &mut [MaybeUninit<bool>]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { or_bits_write_avx2(p, o) };
    }
    o.fill(MaybeUninit::new(true));
    read(p)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn or_bits_write_avx2<T: Lanes>(p: &[T], o: &mut [MaybeUninit<bool>]) -> u64 {
    use std::arch::x86_64::{_mm256_set1_epi8, _mm256_stream_si256, _mm_sfence};
    let head = o.as_ptr().align_offset(32).min(o.len());
    let (oh, o) = o.split_at_mut(head);
    oh.fill(MaybeUninit::new(true));
    let mut acc = or_bits(&p[..head]);
    let ones = _mm256_set1_epi8(1);
    let (pb, ob) = (p[head..].chunks_exact(32), o.chunks_exact_mut(32));
    for (b, ob) in pb.zip(ob) {
        acc |= or_bits(b);
        // SAFETY: 32 bytes of `o`, 32-byte aligned (the head was split off).
        unsafe { _mm256_stream_si256(ob.as_mut_ptr().cast(), ones) };
    }
    let done = head + (p.len() - head) / 32 * 32;
    o[done - head..].fill(MaybeUninit::new(true));
    _mm_sfence();
    acc | or_bits(&p[done..])
}

/// `f` on the two halves of `p` (and of `o`, when given), the second half on a scoped thread.
fn halves<T: Lanes>(p: &[T], o: Option<&mut [MaybeUninit<bool>]>) -> u64 {
    let mid = p.len() / 2 / 32 * 32;
    let (a, b) = p.split_at(mid);
    std::thread::scope(|s| match o {
        None => {
            let h = s.spawn(|| read(b));
            read(a) | h.join().expect("no panic")
        }
        Some(o) => {
            let (oa, ob) = o.split_at_mut(mid);
            let h = s.spawn(|| or_bits_write(b, ob));
            or_bits_write(a, oa) | h.join().expect("no panic")
        }
    })
}

/// The LAC threshold of the calibration rows (scores gathered, then the conformal quantile).
fn fit<T: Lanes>(cal: &[T], labels: &[u8]) -> f64 {
    let s = sets::calibration_scores(cal, N, K, labels, Score::Lac, 0).expect("valid calibration");
    conformal_quantile(&s, ALPHA, QuantileMode::Compat, false).expect("finite quantile")
}

fn predict<T: Lanes>(test: &[T], q: f64, out: &mut [MaybeUninit<bool>]) {
    let (score, last) = (Score::Lac, LastLabel::Include);
    sets::predict_sets_into(test, N, K, score, last, Thresholds::Single(q), 0, out).expect("valid test rows");
}

/// A timed call.
type Variant<'a> = Box<dyn Fn() + 'a>;

/// `f` on one thread of credo's pool (its parallel regions run there alone).
fn one_thread<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    credo_core::parallel::with_threads(Some(1), f).expect("a pool of one thread")
}

/// The `q`-quantile (0 ≤ q ≤ 1) of `v`, lower.
fn quantile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q) as usize]
}

const CPU_PROCESS: libc::clockid_t = libc::CLOCK_PROCESS_CPUTIME_ID;
const CPU_THREAD: libc::clockid_t = libc::CLOCK_THREAD_CPUTIME_ID;

/// CPU time of the process (every thread) or of this thread, in milliseconds.
fn cpu_ms(clock: libc::clockid_t) -> f64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `t` is a valid timespec to write.
    unsafe { libc::clock_gettime(clock, &mut t) };
    t.tv_sec as f64 * 1e3 + t.tv_nsec as f64 * 1e-6
}

fn run<T: Lanes>(rounds: usize, series: usize) {
    let mut g = SplitMix64::new(7);
    let cal: Vec<T> = matrix(N, K, &mut g);
    let test: Vec<T> = matrix(N, K, &mut g);
    let labels: Vec<u8> = (0..N).map(|_| g.below(K as u64) as u8).collect();
    let mut out: Vec<MaybeUninit<bool>> = huge_vec(N * K);
    out.resize(N * K, MaybeUninit::new(false)); // backed by memory before the first timing
    let q = fit(&cal, &labels);
    let out = std::cell::RefCell::new(out);
    let variants: Vec<(&str, Variant)> = vec![
        (
            "read 1t",
            Box::new(|| {
                black_box(read(black_box(&test)));
            }),
        ),
        (
            "read 2t",
            Box::new(|| {
                black_box(halves(black_box(&test), None));
            }),
        ),
        (
            "read+write 2t",
            Box::new(|| {
                black_box(halves(&test, Some(&mut out.borrow_mut())));
            }),
        ),
        (
            "credo fit",
            Box::new(|| {
                black_box(fit(&cal, &labels));
            }),
        ),
        (
            "credo fit cold",
            Box::new(|| {
                black_box(fit(&cal, &labels));
            }),
        ),
        ("credo sets", Box::new(|| predict(&test, q, &mut out.borrow_mut()))),
        (
            "credo fit 1t",
            Box::new(|| {
                black_box(one_thread(|| fit(&cal, &labels)));
            }),
        ),
        (
            "credo sets 1t",
            Box::new(|| {
                let o: &mut [MaybeUninit<bool>] = &mut out.borrow_mut();
                one_thread(|| predict(&test, q, o));
            }),
        ),
        (
            "credo lac",
            Box::new(|| predict(&test, fit(&cal, &labels), &mut out.borrow_mut())),
        ),
    ];
    println!(
        "{N} x {K} {}, test matrix {} MB; ms over {rounds} rounds: wall median, 10th percentile (CPU of the process, of the calling thread: medians)",
        std::any::type_name::<T>(),
        std::mem::size_of_val(&test[..]) / 1_000_000
    );
    for s in 0..series {
        variants.iter().for_each(|(_, f)| f());
        // per variant: wall, process CPU and this thread's CPU (ms) of each timed call
        let mut times = vec![[const { Vec::new() }; 3]; variants.len()];
        for _ in 0..rounds {
            for ((name, f), t) in variants.iter().zip(&mut times) {
                f();
                if name.ends_with("cold") {
                    // the test matrix's read evicts the calibration rows, as the sets pass does
                    black_box(read(black_box(&test)));
                }
                let (t0, c0, m0) = (Instant::now(), cpu_ms(CPU_PROCESS), cpu_ms(CPU_THREAD));
                f();
                t[0].push(t0.elapsed().as_secs_f64() * 1e3);
                t[1].push(cpu_ms(CPU_PROCESS) - c0);
                t[2].push(cpu_ms(CPU_THREAD) - m0);
            }
        }
        let line: Vec<String> = (variants.iter().zip(times))
            .map(|((name, _), [mut w, mut c, mut m])| {
                let (w50, w10) = (quantile(&mut w, 0.5), quantile(&mut w, 0.1));
                let (c50, m50) = (quantile(&mut c, 0.5), quantile(&mut m, 0.5));
                format!("{name} {w50:.2} {w10:.2} ({c50:.2}, {m50:.2})")
            })
            .collect();
        println!("series {s}: {}", line.join(" | "));
    }
}

fn main() {
    // The fit's vectors (the scores, the quantile's keys: 800 kB each) are freed at the top of
    // this process's otherwise empty heap, which glibc then gives back to the kernel, so each
    // call faulted them in afresh (~0.3 ms of the fit on the calling thread, none on a pool
    // thread's heap); in the Python row NumPy's and Python's own blocks keep the heap in use
    // (no page faults across calls, getrusage). Memory is kept, as there.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: tunes glibc's allocator before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
    let mut args = std::env::args().skip(1);
    let dtype = args.next().unwrap_or_else(|| "f64".into());
    let rounds: usize = args.next().map_or(41, |n| n.parse().expect("ROUNDS is a count"));
    let series: usize = args.next().map_or(3, |n| n.parse().expect("SERIES is a count"));
    match dtype.as_str() {
        "f64" => run::<f64>(rounds, series),
        "f32" => run::<f32>(rounds, series),
        other => panic!("dtype {other}: f64 or f32"),
    }
}
