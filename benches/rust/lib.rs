//! Criterion benchmarks for credo-core live in `benches/rust/*.rs` (`[[bench]]` entries in Cargo.toml).
//! This library holds the inputs several of them share.

/// One response of `rows` positions × `k` logprobs sorted descending, as servers return them,
/// and the chosen token's logprob (the top entry in most rows); a deterministic fill.
pub fn topk_response(rows: usize, k: usize) -> (Vec<f64>, Vec<f64>) {
    let mut g = credo_core::rng::SplitMix64::new(0x9E37_79B9_7F4A_7C15);
    let mut next = move || g.next_f64();
    let mut top = Vec::with_capacity(rows * k);
    let mut chosen = Vec::with_capacity(rows);
    for _ in 0..rows {
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
