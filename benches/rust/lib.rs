//! Criterion benchmarks for credo-core live in `benches/rust/*.rs` (`[[bench]]` entries in Cargo.toml).
