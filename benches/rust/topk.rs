//! Criterion: one response's top-k summary (256 positions × k = 5 and 20, the single-request
//! path of the decision layer), at the process's SIMD level
//! (`cargo bench -p credo-benches --bench topk`; `CREDO_SIMD=avx2` or `scalar` for the others).

use std::hint::black_box;

use credo_benches::topk_response;
use credo_core::signals::{simd, topk_summary, TopkOptions};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const ROWS: usize = 256;

fn topk(c: &mut Criterion) {
    let mut g = c.benchmark_group(format!("topk_summary/{}", simd::active().name()));
    let opts = TopkOptions::default();
    for k in [5usize, 20] {
        let (top, chosen) = topk_response(ROWS, k);
        g.throughput(Throughput::Elements((ROWS * k) as u64));
        g.bench_function(format!("256x{k}"), |b| {
            b.iter(|| topk_summary(black_box(&top), ROWS, k, Some(&chosen), &opts).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, topk);
criterion_main!(benches);
