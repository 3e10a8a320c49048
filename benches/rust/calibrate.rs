//! Criterion: the isotonic fit on 10⁶ unsorted and presorted samples with binary targets, the
//! case of `benches/python/bench_calibration.py` without the Python layer
//! (`cargo bench -p credo-benches --bench calibrate`).

use std::hint::black_box;

use credo_core::calibrate::isotonic::{fit, IsotonicOptions};
use credo_core::rng::SplitMix64;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// x uniform on [0, 1), y ~ Bernoulli(x^1.3): a calibration holdout.
fn holdout(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut g = SplitMix64::new(7);
    let x: Vec<f64> = (0..n).map(|_| g.next_f64()).collect();
    let y = x
        .iter()
        .map(|&v| f64::from(u8::from(g.next_f64() < v.powf(1.3))))
        .collect();
    (x, y)
}

fn isotonic(c: &mut Criterion) {
    let n = 1_000_000;
    let (x, y) = holdout(n);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let xs: Vec<f64> = order.iter().map(|&i| x[i]).collect();
    let ys: Vec<f64> = order.iter().map(|&i| y[i]).collect();
    let opts = IsotonicOptions::default();
    let mut g = c.benchmark_group("isotonic fit 1e6");
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(20);
    g.bench_function("unsorted", |b| {
        b.iter(|| fit(black_box(&x), black_box(&y), None, &opts).unwrap())
    });
    g.bench_function("presorted", |b| {
        b.iter(|| fit(black_box(&xs), black_box(&ys), None, &opts).unwrap())
    });
    g.finish();
}

criterion_group!(benches, isotonic);
criterion_main!(benches);
