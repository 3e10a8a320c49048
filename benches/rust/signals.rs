//! Criterion: the fused token-signal pass on [64, 128256] logits, per dtype and SIMD level,
//! one thread (`cargo bench -p credo-benches --bench signals`).

use std::hint::black_box;

use credo_core::signals::{simd, token_signals, Logit, LogitsShape, TokenOptions};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use half::{bf16, f16};

const ROWS: usize = 64;
const VOCAB: usize = 128_256;

fn logits() -> Vec<f32> {
    let mut g = credo_core::rng::SplitMix64::new(0x2545_F491_4F6C_DD1D);
    (0..ROWS * VOCAB)
        .map(|_| ((g.next_f64() - 0.5) * 12.0) as f32)
        .collect()
}

fn bench_dtype<T: Logit>(c: &mut Criterion, name: &str, xs: &[T]) {
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

fn signals(c: &mut Criterion) {
    let x = logits();
    bench_dtype(c, "f32", &x);
    let h: Vec<f16> = x.iter().map(|&v| f16::from_f32(v)).collect();
    bench_dtype(c, "f16", &h);
    let b: Vec<bf16> = x.iter().map(|&v| bf16::from_f32(v)).collect();
    bench_dtype(c, "bf16", &b);
}

criterion_group!(benches, signals);
criterion_main!(benches);
