//! Token signals from full-vocabulary logits: per row of `[rows, V]` logits (optionally divided
//! by a temperature T), in one pass over memory:
//!
//! * `logsumexp` = log Σᵥ exp(xᵥ/T)
//! * `entropy` = −Σᵥ pᵥ log pᵥ of softmax(x/T), in nats (masked `-inf` entries contribute 0)
//! * `max_logprob` = log p of the argmax; `argmax` = first index of the maximum
//! * `margin_logit` = (top-1 − top-2)/T (`+inf` when only one entry is finite; 0 on a tie)
//! * `margin_prob` = p₁ − p₂
//! * with chosen ids: `chosen_logprob` = log p(chosen), `chosen_rank` = #{v: xᵥ > x_chosen}
//!   (0 = the argmax, ties share the better rank).
//!
//! Rows are independent and each is computed by one thread in a fixed order, so results are
//! bit-identical for any thread count.

use super::simd::{self, Logit, SimdLevel};
use crate::error::{CredoError, Result};
use crate::parallel::{map_range, with_threads};

/// What to do with a row that has NaN, `+inf`, or no finite entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InvalidRows {
    /// Fail, naming the first such row (default).
    #[default]
    Raise,
    /// Return NaN signals (and argmax/rank −1) for such rows.
    Nan,
}
crate::choices!(InvalidRows, "invalid", {
    "raise" => InvalidRows::Raise,
    "nan" => InvalidRows::Nan,
});

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenOptions {
    pub temperature: f64,
    pub threads: Option<usize>,
    /// Force an instruction-set level (tests); `None` uses the process-wide level.
    pub simd: Option<SimdLevel>,
    pub invalid: InvalidRows,
}

impl Default for TokenOptions {
    fn default() -> Self {
        Self {
            temperature: 1.0,
            threads: None,
            simd: None,
            invalid: InvalidRows::Raise,
        }
    }
}

/// The layout of a logits buffer: `batch` sequences (`None` for a 2-D `[T, V]` input) of `seq`
/// positions over a vocabulary of `vocab`; only used for shapes and error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogitsShape {
    pub batch: Option<usize>,
    pub seq: usize,
    pub vocab: usize,
}

impl LogitsShape {
    pub fn rows(&self) -> usize {
        self.batch.unwrap_or(1) * self.seq
    }

    /// "row 7" or "batch 1, position 3" for flat row `r`.
    pub fn describe(&self, r: usize) -> String {
        match self.batch {
            None => format!("row {r}"),
            Some(_) => format!("batch {}, position {}", r / self.seq.max(1), r % self.seq.max(1)),
        }
    }
}

/// Per-row signals, each of length `rows` (row-major over `[B, T]`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TokenSignals {
    pub logsumexp: Vec<f64>,
    pub entropy: Vec<f64>,
    pub max_logprob: Vec<f64>,
    pub argmax: Vec<i64>,
    pub margin_logit: Vec<f64>,
    pub margin_prob: Vec<f64>,
    pub chosen_logprob: Option<Vec<f64>>,
    pub chosen_rank: Option<Vec<i64>>,
    /// The instruction-set level that computed them.
    pub simd: Option<SimdLevel>,
}

#[derive(Clone, Copy)]
struct RowOut {
    lse: f64,
    entropy: f64,
    max_logprob: f64,
    argmax: i64,
    margin_logit: f64,
    margin_prob: f64,
    chosen_logprob: f64,
    chosen_rank: i64,
    ok: bool,
}

const NAN_ROW: RowOut = RowOut {
    lse: f64::NAN,
    entropy: f64::NAN,
    max_logprob: f64::NAN,
    argmax: -1,
    margin_logit: f64::NAN,
    margin_prob: f64::NAN,
    chosen_logprob: f64::NAN,
    chosen_rank: -1,
    ok: false,
};

/// Rows per parallel task: enough to amortise scheduling on tiny vocabularies.
fn min_rows_per_task(vocab: usize) -> usize {
    (16_384 / vocab.max(1)).max(1)
}

/// Computes the token signals of `logits` (row-major `[rows, V]`, see [`LogitsShape`]).
/// `chosen`, when given, holds one token id per row.
pub fn token_signals<T: Logit>(
    logits: &[T],
    shape: LogitsShape,
    chosen: Option<&[i64]>,
    opts: &TokenOptions,
) -> Result<TokenSignals> {
    let rows = shape.rows();
    let v = shape.vocab;
    if rows == 0 || v == 0 {
        return Err(CredoError::empty(
            "logits",
            "is empty (no positions or an empty vocabulary)",
        ));
    }
    if logits.len() != rows * v {
        return Err(CredoError::shape(
            "logits",
            format!("buffer of {} does not hold {rows} x {v}", logits.len()),
        ));
    }
    if v > (i32::MAX as usize) - 64 {
        return Err(CredoError::invalid(
            "logits",
            format!("vocabulary of {v} exceeds 2^31 entries"),
        ));
    }
    let t = opts.temperature;
    if !(t.is_finite() && t > 0.0) {
        return Err(CredoError::invalid(
            "temperature",
            format!("must be a finite positive number, got {t}"),
        ));
    }
    if let Some(c) = chosen {
        if c.len() != rows {
            return Err(CredoError::shape(
                "chosen",
                format!("has {} token ids but logits have {rows} positions", c.len()),
            ));
        }
        if let Some(r) = c.iter().position(|&id| id < 0 || id as u64 >= v as u64) {
            return Err(CredoError::invalid(
                "chosen",
                format!(
                    "token id {} at {} is outside the vocabulary [0, {v})",
                    c[r],
                    shape.describe(r)
                ),
            ));
        }
    }
    let level = simd::resolve(opts.simd)?;
    let inv_t = 1.0 / t;
    let one = |r: usize| -> RowOut {
        let row = &logits[r * v..(r + 1) * v];
        let c = chosen.map(|c| c[r] as usize);
        let st = T::row_stats(level, row, inv_t, c);
        if st.bad || st.m == f64::NEG_INFINITY || st.s.is_nan() || st.s <= 0.0 {
            return NAN_ROW;
        }
        let ls = st.s.ln();
        let lse = st.m + ls;
        // The logits scaled exactly as the kernel scaled them (see `RowStats::inv_t`); a
        // log-probability rounds at most a few ulps above 0 in the float32 lanes' exp: clamped.
        let top1 = st.max * st.inv_t;
        let top2 = st.second * st.inv_t;
        let (clp, rank) = match c {
            Some(c) => ((row[c].to_f64() * st.inv_t - lse).min(0.0), st.greater as i64),
            None => (f64::NAN, -1),
        };
        RowOut {
            lse,
            // ln s − E[t]; can round a hair below 0 for one-hot rows.
            entropy: (ls - st.w / st.s).max(0.0),
            max_logprob: (top1 - lse).min(0.0),
            argmax: st.argmax as i64,
            margin_logit: top1 - top2,
            margin_prob: (top1 - lse).exp() - (top2 - lse).exp(),
            chosen_logprob: clp,
            chosen_rank: rank,
            ok: true,
        }
    };
    let out: Vec<RowOut> = with_threads(opts.threads, || map_range(rows, min_rows_per_task(v), one))?;
    if opts.invalid == InvalidRows::Raise {
        if let Some(r) = out.iter().position(|o| !o.ok) {
            return Err(describe_invalid(&logits[r * v..(r + 1) * v], &shape, r, t));
        }
    }
    let mut s = TokenSignals {
        logsumexp: Vec::with_capacity(rows),
        entropy: Vec::with_capacity(rows),
        max_logprob: Vec::with_capacity(rows),
        argmax: Vec::with_capacity(rows),
        margin_logit: Vec::with_capacity(rows),
        margin_prob: Vec::with_capacity(rows),
        chosen_logprob: chosen.map(|_| Vec::with_capacity(rows)),
        chosen_rank: chosen.map(|_| Vec::with_capacity(rows)),
        simd: Some(level),
    };
    for o in &out {
        s.logsumexp.push(o.lse);
        s.entropy.push(o.entropy);
        s.max_logprob.push(o.max_logprob);
        s.argmax.push(o.argmax);
        s.margin_logit.push(o.margin_logit);
        s.margin_prob.push(o.margin_prob);
        if let Some(c) = s.chosen_logprob.as_mut() {
            c.push(o.chosen_logprob);
        }
        if let Some(c) = s.chosen_rank.as_mut() {
            c.push(o.chosen_rank);
        }
    }
    Ok(s)
}

/// The error for an invalid row: which row, and what is wrong with it.
fn describe_invalid<T: Logit>(row: &[T], shape: &LogitsShape, r: usize, temperature: f64) -> CredoError {
    let at = shape.describe(r);
    if let Some(i) = row.iter().position(|x| x.to_f64().is_nan()) {
        return CredoError::non_finite("logits", format!("{at} contains NaN at vocabulary index {i}"));
    }
    if let Some(i) = row.iter().position(|x| x.to_f64() == f64::INFINITY) {
        return CredoError::non_finite("logits", format!("{at} contains +inf at vocabulary index {i}"));
    }
    if row.iter().any(|x| x.to_f64().is_finite()) {
        // Finite logits whose scaled values overflow the float32 lanes (a tiny temperature).
        return CredoError::invalid(
            "temperature",
            format!("{temperature} makes the logits of {at} overflow float32 (logits / temperature is not finite)"),
        );
    }
    CredoError::non_finite(
        "logits",
        format!("{at} has no finite entry (every logit is -inf), so its softmax is undefined"),
    )
}

#[cfg(test)]
mod tests;
