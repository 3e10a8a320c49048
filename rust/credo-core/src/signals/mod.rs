//! Confidence signals from what a model emits: full-vocabulary logits ([`token`], one fused SIMD
//! pass per row), per-sequence aggregates ([`sequence`]) and truncated top-k logprobs ([`topk`]).

pub mod exp64;
pub mod sequence;
pub mod simd;
pub mod token;
pub mod topk;
mod topk_aggregate;
mod topk_rows;
pub mod topk_summary;

pub use sequence::{sequence_signals, SequenceOptions, SequenceSignals, Valid};
pub use simd::{Logit, SimdLevel};
pub use token::{token_signals, InvalidRows, LogitsShape, TokenOptions, TokenSignals};
pub use topk::{topk_signals, TopkOptions, TopkPolicy, TopkSignals};
pub use topk_summary::{
    topk_summary, topk_summary_batch, topk_summary_batch_fed, topk_summary_f32, TopkLogprobs, TopkResponse,
    TopkRunning, TopkSummary,
};
