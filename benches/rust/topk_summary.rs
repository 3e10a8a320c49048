//! A driver for instruction counts of the top-k summary (`valgrind --tool=callgrind`): one
//! response of 256 positions × k logprobs (k the first argument, default 20; rows sorted
//! descending, as servers return them) summarised as many times as the second argument says
//! (default 1), at the process's SIMD level (`CREDO_SIMD`).
//!
//! ```text
//! cargo build --profile bench -p credo-benches --example topk_summary
//! valgrind --tool=callgrind target/release/examples/topk_summary 20 1000
//! ```
//! Instructions per summary: (Ir of a run of N − Ir of a run of 1) ÷ (N − 1). Without
//! valgrind it also prints the median thread CPU time per summary over batches of 1000.

use std::hint::black_box;

use credo_benches::topk_response;
use credo_core::signals::{topk_summary, TopkOptions};

fn main() {
    let mut args = std::env::args().skip(1);
    let k: usize = args.next().map_or(20, |n| n.parse().expect("K is a count"));
    let times: usize = args.next().map_or(1, |n| n.parse().expect("TIMES is a count"));
    let (top, chosen) = topk_response(256, k);
    let opts = TopkOptions::default();
    let mut mean = 0.0;
    let mut batches = Vec::with_capacity(times / 1000);
    let mut t0 = 0;
    for i in 0..times {
        if i % 1000 == 0 {
            t0 = cpu_ns();
        }
        let s = topk_summary(black_box(&top), 256, k, Some(&chosen), &opts).expect("valid rows");
        mean = black_box(s.mean_entropy);
        if i % 1000 == 999 {
            batches.push(cpu_ns() - t0);
        }
    }
    batches.sort_unstable();
    let median = batches
        .get(batches.len() / 2)
        .map_or(f64::NAN, |&ns| ns as f64 / 1000.0);
    println!("256x{k}, mean entropy {mean}, {times} times, median CPU {median:.0} ns per summary");
}

/// This thread's CPU time in nanoseconds.
fn cpu_ns() -> u64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `t` is a valid timespec to write.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}
