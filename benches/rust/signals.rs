//! Criterion: the fused token-signal pass on [64, 128256] logits, per dtype (float32, float16,
//! bfloat16, float64) and SIMD level, one thread (`cargo bench -p credo-benches --bench signals`).
//!
//! `CREDO_BENCH_CLOCK=cpu` times the process's CPU clock instead of the wall clock: on a machine
//! shared with other work, time spent waiting for a core then counts for neither side of a
//! comparison (the kernel is single-threaded, so its CPU time is its running time).

use std::hint::black_box;
use std::time::Duration;

use credo_core::signals::{simd, token_signals, Logit, LogitsShape, TokenOptions};
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, Throughput};
use half::{bf16, f16};

const ROWS: usize = 64;
const VOCAB: usize = 128_256;

fn logits() -> Vec<f32> {
    let mut g = credo_core::rng::SplitMix64::new(0x2545_F491_4F6C_DD1D);
    (0..ROWS * VOCAB)
        .map(|_| ((g.next_f64() - 0.5) * 12.0) as f32)
        .collect()
}

fn bench_dtype<T: Logit, M: Measurement>(c: &mut Criterion<M>, name: &str, xs: &[T]) {
    let mut g = c.benchmark_group(format!("token_signals/{name}"));
    g.throughput(Throughput::Elements((ROWS * VOCAB) as u64));
    g.sample_size(20);
    let shape = LogitsShape {
        batch: None,
        seq: ROWS,
        vocab: VOCAB,
    };
    let chosen: Vec<i64> = (0..ROWS as i64).map(|i| i * 997 % VOCAB as i64).collect();
    for level in simd::supported_levels() {
        let opts = TokenOptions {
            threads: Some(1),
            simd: Some(level),
            ..Default::default()
        };
        g.bench_function(level.name(), |b| {
            b.iter(|| token_signals(black_box(xs), shape, Some(&chosen), &opts).unwrap())
        });
    }
    g.finish();
}

fn signals<M: Measurement>(c: &mut Criterion<M>) {
    let x = logits();
    bench_dtype(c, "f32", &x);
    let h: Vec<f16> = x.iter().map(|&v| f16::from_f32(v)).collect();
    bench_dtype(c, "f16", &h);
    let b: Vec<bf16> = x.iter().map(|&v| bf16::from_f32(v)).collect();
    bench_dtype(c, "bf16", &b);
    let d: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    bench_dtype(c, "f64", &d);
}

/// The CPU time of the whole process (every thread), in nanoseconds.
struct CpuTime;

fn process_cpu_time() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid timespec to write; the clock id is a constant of this platform.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

impl Measurement for CpuTime {
    type Intermediate = Duration;
    type Value = Duration;
    fn start(&self) -> Duration {
        process_cpu_time()
    }
    fn end(&self, start: Duration) -> Duration {
        process_cpu_time() - start
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, v: &Duration) -> f64 {
        v.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        static WALL: WallTime = WallTime;
        WALL.formatter()
    }
}

fn main() {
    if std::env::var("CREDO_BENCH_CLOCK").is_ok_and(|v| v == "cpu") {
        let mut c = Criterion::default().with_measurement(CpuTime).configure_from_args();
        signals(&mut c);
    } else {
        let mut c = Criterion::default().configure_from_args();
        signals(&mut c);
    }
    Criterion::default().configure_from_args().final_summary();
}
