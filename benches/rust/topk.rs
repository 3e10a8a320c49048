//! Criterion: one response's top-k summary (256 positions × k = 5 and 20, the single-request
//! path of the decision layer), at the process's SIMD level
//! (`cargo bench -p credo-benches --bench topk`; `CREDO_SIMD=avx2` or `scalar` for the others).

use std::hint::black_box;

use credo_core::signals::{simd, topk_summary, TopkOptions};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const ROWS: usize = 256;

/// Rows of k logprobs sorted descending, as servers return them, and the chosen token's
/// logprob (the top entry in most rows); a deterministic fill.
fn response(k: usize) -> (Vec<f64>, Vec<f64>) {
    let mut g = credo_core::rng::SplitMix64::new(0x9E37_79B9_7F4A_7C15);
    let mut next = move || g.next_f64();
    let mut top = Vec::with_capacity(ROWS * k);
    let mut chosen = Vec::with_capacity(ROWS);
    for _ in 0..ROWS {
        let sharp = 0.5 + 3.5 * next();
        let logits: Vec<f64> = (0..50).map(|_| (next() - 0.5) * 6.0 * sharp).collect();
        let log_z = logits.iter().map(|l| l.exp()).sum::<f64>().ln();
        let mut lp: Vec<f64> = logits.iter().map(|l| l - log_z).collect();
        lp.sort_by(|a, b| b.total_cmp(a));
        chosen.push(if next() < 0.85 {
            lp[0]
        } else {
            lp[1 + (next() * 40.0) as usize]
        });
        top.extend_from_slice(&lp[..k]);
    }
    (top, chosen)
}

fn topk(c: &mut Criterion) {
    let mut g = c.benchmark_group(format!("topk_summary/{}", simd::active().name()));
    let opts = TopkOptions::default();
    for k in [5usize, 20] {
        let (top, chosen) = response(k);
        g.throughput(Throughput::Elements((ROWS * k) as u64));
        g.bench_function(format!("256x{k}"), |b| {
            b.iter(|| topk_summary(black_box(&top), ROWS, k, Some(&chosen), &opts).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, topk);
criterion_main!(benches);
