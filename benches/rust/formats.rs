//! Criterion: the response readers of the serving path (`cargo bench -p credo-benches --bench
//! formats`): a chat completion body of 256 tokens × top-20 read into arrays, and the stream
//! reader's per-chunk cost split into parsing the chunk and the running update (one token,
//! top-20; target ≤ 2 µs for the update).

use std::hint::black_box;

use credo_core::formats::json::Body;
use credo_core::formats::stream::OpenAIStream;
use credo_core::formats::{read_chunk, read_openai, ReadOptions};
use credo_core::signals::{TopkOptions, TopkRunning};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const ROWS: usize = 256;
const K: usize = 20;

/// A deterministic stream of uniforms.
fn uniforms() -> impl FnMut() -> f64 {
    let mut g = credo_core::rng::SplitMix64::new(0x9E37_79B9_7F4A_7C15);
    move || g.next_f64()
}

/// One content entry of a chat completion as OpenAI writes it (`bytes` arrays included).
fn entry(next: &mut impl FnMut() -> f64) -> String {
    let sharp = 0.5 + 3.5 * next();
    let logits: Vec<f64> = (0..50).map(|_| (next() - 0.5) * 6.0 * sharp).collect();
    let log_z = logits.iter().map(|l| l.exp()).sum::<f64>().ln();
    let mut lp: Vec<f64> = logits.iter().map(|l| l - log_z).collect();
    lp.sort_by(|a, b| b.total_cmp(a));
    let top: Vec<String> = lp[..K]
        .iter()
        .enumerate()
        .map(|(j, v)| {
            format!(
                r#"{{"token": " word{j}", "logprob": {v:?}, "bytes": [32, 119, 111, 114, 100, {}]}}"#,
                48 + j
            )
        })
        .collect();
    format!(
        r#"{{"token": " word0", "logprob": {:?}, "bytes": [32, 119, 111, 114, 100, 48], "top_logprobs": [{}]}}"#,
        lp[0],
        top.join(", ")
    )
}

fn formats(c: &mut Criterion) {
    let mut next = uniforms();
    let entries: Vec<String> = (0..ROWS).map(|_| entry(&mut next)).collect();
    let body = format!(
        r#"{{"id": "chatcmpl-x", "object": "chat.completion", "created": 1733312345, "model": "gpt-4o", "choices": [{{"index": 0, "message": {{"role": "assistant", "content": "...", "refusal": null}}, "logprobs": {{"content": [{}], "refusal": null}}, "finish_reason": "length"}}], "usage": {{"prompt_tokens": 31, "completion_tokens": 256, "total_tokens": 287}}, "system_fingerprint": "fp_9faba9f038"}}"#,
        entries.join(", ")
    );
    let mut g = c.benchmark_group("formats");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function(format!("read_openai {ROWS}x{K} ({} kB)", body.len() / 1000), |b| {
        b.iter(|| read_openai(black_box(body.as_bytes()), &ReadOptions::default()).unwrap())
    });
    g.finish();

    let chunk = format!(
        r#"{{"id":"chatcmpl-x","object":"chat.completion.chunk","created":1733312345,"model":"gpt-4o","system_fingerprint":"fp_9faba9f038","choices":[{{"index":0,"delta":{{"content":" word0"}},"logprobs":{{"content":[{}],"refusal":null}},"finish_reason":null}}]}}"#,
        entries[7]
    );
    let mut g = c.benchmark_group("stream chunk (1 token, top-20)");
    g.bench_function("parse only (read_chunk)", |b| {
        b.iter(|| {
            let mut body = Body::new(black_box(chunk.as_bytes())).unwrap();
            read_chunk(body.root()).unwrap()
        })
    });
    // The running update alone: one row pushed onto a stream that already holds 255.
    let rows = {
        let mut body = Body::new(chunk.as_bytes()).unwrap();
        read_chunk(body.root()).unwrap()
    };
    let mut base = TopkRunning::new(TopkOptions::default()).unwrap();
    for _ in 0..ROWS - 1 {
        base.push(&rows.vals, rows.chosen[0]).unwrap();
    }
    g.bench_function("running update (TopkRunning::push)", |b| {
        b.iter_batched_ref(
            || base.clone(),
            |run| run.push(black_box(&rows.vals), rows.chosen[0]).unwrap(),
            criterion::BatchSize::LargeInput,
        )
    });
    g.bench_function("parse + update (OpenAIStream::json)", |b| {
        b.iter_batched_ref(
            || OpenAIStream::new(TopkOptions::default()).unwrap(),
            |s| s.json(black_box(chunk.as_bytes())).unwrap(),
            criterion::BatchSize::SmallInput,
        )
    });
    g.bench_function("summary after 256 tokens", |b| b.iter(|| base.summary().unwrap()));
    g.finish();
}

criterion_group!(benches, formats);
criterion_main!(benches);
