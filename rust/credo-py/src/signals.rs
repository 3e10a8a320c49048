//! Bindings for `credo_core::signals`: dtype dispatch over borrowed (zero-copy) C-contiguous
//! logits, GIL released for the pass, results as classes of flat NumPy arrays. The Python layer
//! (`credo/signals.py`) validates, reshapes and adds the provenance (its result types also hold
//! the device path's arrays).

use credo_core::decide::summary_field;
use credo_core::signals::{
    self, sequence::SequenceInput, InvalidRows, Logit, LogitsShape, SequenceOptions, SimdLevel, TokenOptions,
    TopkOptions, TopkPolicy, Valid,
};
use half::{bf16, f16};
use numpy::{Element, PyArray1, PyArray2, PyArrayDyn, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::{PyFloat, PyTuple};
use std::cell::{Cell, OnceCell};

use crate::arrays::{detach_if, flat_slice, maybe_detach, slice1, slice2, Float2, Threads};
use crate::errors::{catch_panic, invalid, py_err, py_result, FedError};
use crate::options::Wrap;

fn parse_simd(simd: Option<&str>) -> PyResult<Option<SimdLevel>> {
    match simd {
        None | Some("auto") => Ok(None),
        Some(s) => SimdLevel::parse(s).map(Some).ok_or_else(|| {
            invalid(
                "simd",
                format!("must be one of 'auto', 'scalar', 'neon', 'avx2', 'avx512', got '{s}'"),
            )
        }),
    }
}

impl crate::results::IntoField<&'static str> for Option<SimdLevel> {
    fn into_field(self, _: Python<'_>) -> PyResult<&'static str> {
        Ok(self.map_or("scalar", SimdLevel::name))
    }
}

result_class! {
    /// Per-position signals of full-vocabulary logits, flat over the positions.
    TokenSignals from signals::TokenSignals {
        logsumexp: Py<PyArray1<f64>>,
        /// Entropy in nats.
        entropy: Py<PyArray1<f64>>,
        max_logprob: Py<PyArray1<f64>>,
        argmax: Py<PyArray1<i64>>,
        /// Top-1 − top-2 logit.
        margin_logit: Py<PyArray1<f64>>,
        /// p₁ − p₂.
        margin_prob: Py<PyArray1<f64>>,
        /// The chosen tokens' logprobs (None without chosen ids).
        chosen_logprob: Option<Py<PyArray1<f64>>>,
        /// Tokens with a strictly larger logit than the chosen one (None without chosen ids).
        chosen_rank: Option<Py<PyArray1<i64>>>,
        /// The instruction-set level that computed them.
        simd: &'static str,
    }
}

result_class! {
    /// Per-sequence aggregates of token signals over each sequence's valid positions.
    SequenceSignals from signals::SequenceSignals {
        n_tokens: Py<PyArray1<i64>>,
        mean_entropy: Py<PyArray1<f64>>,
        max_entropy: Py<PyArray1<f64>>,
        /// Σ log p(chosen) (NaN without chosen logprobs).
        sum_logprob: Py<PyArray1<f64>>,
        mean_logprob: Py<PyArray1<f64>>,
        min_logprob: Py<PyArray1<f64>>,
        /// exp(−mean_logprob).
        perplexity: Py<PyArray1<f64>>,
        /// Mean of p₁ − p₂.
        mean_margin: Py<PyArray1<f64>>,
        /// Minimum of p₁ − p₂.
        min_margin: Py<PyArray1<f64>>,
        /// 1 − distinct n-grams / n-grams over the chosen ids.
        repeated_ngram_fraction: Py<PyArray1<f64>>,
        /// Longest run of one token id repeated back to back.
        longest_repeat_run: Py<PyArray1<i64>>,
    }
}

result_class! {
    /// Per-position signals of top-k logprobs under a renormalisation policy.
    TopkSignals from signals::TopkSignals {
        /// Entries present in each row.
        n_valid: Py<PyArray1<i64>>,
        /// 1 − Σ p over the row's entries.
        tail_mass: Py<PyArray1<f64>>,
        entropy: Py<PyArray1<f64>>,
        entropy_lower: Py<PyArray1<f64>>,
        entropy_upper: Py<PyArray1<f64>>,
        /// UQLM's 1 − H_renormalised / log k.
        negentropy: Py<PyArray1<f64>>,
        max_logprob: Py<PyArray1<f64>>,
        margin_prob: Py<PyArray1<f64>>,
        chosen_logprob: Option<Py<PyArray1<f64>>>,
        /// Entries strictly above the chosen logprob.
        chosen_rank: Option<Py<PyArray1<i64>>>,
    }
}

fn run<'py, T: Logit + Element>(
    py: Python<'py>,
    logits: &Bound<'py, PyAny>,
    shape: LogitsShape,
    chosen: Option<&[i64]>,
    opts: &TokenOptions,
) -> PyResult<signals::TokenSignals> {
    let arr = logits.cast::<PyArrayDyn<T>>()?.readonly();
    let xs = flat_slice(&arr, "logits")?;
    py_result(maybe_detach(py, xs.len(), || {
        signals::token_signals(xs, shape, chosen, opts)
    })?)
}

/// Token signals of C-contiguous logits. `dtype` names the element type (`bfloat16` arrives as
/// a `uint16` view); `batch` is `None` for `[T, V]` input.
#[pyfunction]
#[pyo3(signature = (logits, dtype, batch, seq, vocab, chosen=None, temperature=1.0, threads=None, simd=None, invalid=Wrap(InvalidRows::Raise)))]
#[allow(clippy::too_many_arguments)]
fn token_signals<'py>(
    py: Python<'py>,
    logits: &Bound<'py, PyAny>,
    dtype: &str,
    batch: Option<usize>,
    seq: usize,
    vocab: usize,
    chosen: Option<PyReadonlyArray1<'py, i64>>,
    temperature: f64,
    threads: Option<Threads>,
    simd: Option<&str>,
    invalid: Wrap<InvalidRows>,
) -> PyResult<TokenSignals> {
    let opts = TokenOptions {
        temperature,
        threads: Threads::count(threads),
        simd: parse_simd(simd)?,
        invalid: invalid.0,
    };
    let shape = LogitsShape { batch, seq, vocab };
    let chosen = chosen.as_ref().map(|c| slice1(c, "chosen")).transpose()?;
    let s = match dtype {
        "float32" => run::<f32>(py, logits, shape, chosen, &opts)?,
        "float64" => run::<f64>(py, logits, shape, chosen, &opts)?,
        "float16" => run::<f16>(py, logits, shape, chosen, &opts)?,
        "bfloat16" => {
            let arr = logits.cast::<PyArrayDyn<u16>>()?.readonly();
            let bits = flat_slice(&arr, "logits")?;
            // SAFETY: bf16 is a `repr(transparent)` u16, so the slices share layout and length.
            let xs: &[bf16] = unsafe { std::slice::from_raw_parts(bits.as_ptr().cast(), bits.len()) };
            py_result(maybe_detach(py, xs.len(), || {
                signals::token_signals(xs, shape, chosen, &opts)
            })?)?
        }
        other => return Err(crate::errors::invalid("logits", format!("unsupported dtype {other}"))),
    };
    TokenSignals::from_core(py, s)
}

/// Per-sequence aggregates of `[batch, seq]` token signals (flattened row-major).
#[pyfunction]
#[pyo3(signature = (batch, seq, entropy, margin_prob, chosen_logprob=None, chosen=None, lengths=None, mask=None, drop_last=false, ngram=3))]
#[allow(clippy::too_many_arguments)]
fn sequence_signals<'py>(
    py: Python<'py>,
    batch: usize,
    seq: usize,
    entropy: PyReadonlyArray1<'py, f64>,
    margin_prob: PyReadonlyArray1<'py, f64>,
    chosen_logprob: Option<PyReadonlyArray1<'py, f64>>,
    chosen: Option<PyReadonlyArray1<'py, i64>>,
    lengths: Option<PyReadonlyArray1<'py, i64>>,
    mask: Option<PyReadonlyArray1<'py, u8>>,
    drop_last: bool,
    ngram: usize,
) -> PyResult<SequenceSignals> {
    let inp = SequenceInput {
        batch,
        seq,
        entropy: slice1(&entropy, "entropy")?,
        margin_prob: slice1(&margin_prob, "margin_prob")?,
        chosen_logprob: chosen_logprob
            .as_ref()
            .map(|c| slice1(c, "chosen_logprob"))
            .transpose()?,
        chosen: chosen.as_ref().map(|c| slice1(c, "chosen")).transpose()?,
    };
    let valid = match (&lengths, &mask) {
        (Some(l), _) => Valid::Lengths(slice1(l, "lengths")?),
        (None, Some(m)) => Valid::Mask(slice1(m, "mask")?),
        (None, None) => Valid::All,
    };
    let opts = SequenceOptions { drop_last, ngram };
    let s = py_result(maybe_detach(py, batch * seq, || {
        signals::sequence_signals(&inp, valid, &opts)
    })?)?;
    SequenceSignals::from_core(py, s)
}

/// Signals from `[T, width]` top-k logprobs (float64, C-contiguous).
#[pyfunction]
#[pyo3(signature = (top_logprobs, chosen_logprob=None, policy=Wrap(TopkPolicy::Bounds), vocab_size=None, k=None, sentinel=-9999.0))]
fn topk_signals<'py>(
    py: Python<'py>,
    top_logprobs: PyReadonlyArray2<'py, f64>,
    chosen_logprob: Option<PyReadonlyArray1<'py, f64>>,
    policy: Wrap<TopkPolicy>,
    vocab_size: Option<usize>,
    k: Option<usize>,
    sentinel: f64,
) -> PyResult<TopkSignals> {
    let (top, rows, width) = slice2(&top_logprobs, "top_logprobs")?;
    let chosen = chosen_logprob
        .as_ref()
        .map(|c| slice1(c, "chosen_logprob"))
        .transpose()?;
    let opts = TopkOptions {
        policy: policy.0,
        vocab_size,
        k,
        sentinel,
    };
    let s = py_result(maybe_detach(py, top.len(), || {
        signals::topk_signals(top, rows, width, chosen, &opts)
    })?)?;
    TopkSignals::from_core(py, s)
}

/// One response's top-k array (a [`Float2`]) as the kernel takes it: the array C-contiguous and
/// aligned, else an error naming `arg`.
pub(crate) fn topk_response<'a>(
    top: &'a Float2<'_>,
    chosen: Option<&'a [f64]>,
    arg: &str,
) -> PyResult<signals::TopkResponse<'a>> {
    let (top, rows, width) = match top {
        Float2::F64(a) => {
            let (x, r, w) = slice2(a, arg)?;
            (signals::TopkLogprobs::F64(x), r, w)
        }
        Float2::F32(a) => {
            let (x, r, w) = slice2(a, arg)?;
            (signals::TopkLogprobs::F32(x), r, w)
        }
    };
    Ok(signals::TopkResponse {
        top,
        rows,
        width,
        chosen,
    })
}

/// The work of one response's top-k summary for [`maybe_detach`]: one exp (and a few flops) per
/// entry, weighed ×4 against a simple kernel's element.
pub(crate) fn summary_work(response: &signals::TopkResponse<'_>) -> usize {
    response.rows.saturating_mul(response.width).saturating_mul(4)
}

pub(crate) fn topk_options(
    policy: Wrap<TopkPolicy>,
    vocab_size: Option<usize>,
    k: Option<usize>,
    sentinel: f64,
) -> TopkOptions {
    TopkOptions {
        policy: policy.0,
        vocab_size,
        k,
        sentinel,
    }
}

/// Sequence-level features of one response's `[T, width]` top-k logprobs (float64 or float32,
/// C-contiguous) in one pass: the 12 features in the order of `credo.signals.TopkSummary`
/// after `n_tokens`, as a tuple `(n_tokens, mean_entropy, ..., not_top1)`.
#[pyfunction]
#[pyo3(signature = (top_logprobs, chosen_logprob=None, policy=Wrap(TopkPolicy::Bounds), vocab_size=None, k=None, sentinel=-9999.0))]
fn topk_summary<'py>(
    py: Python<'py>,
    top_logprobs: &Bound<'py, PyAny>,
    chosen_logprob: Option<PyReadonlyArray1<'py, f64>>,
    policy: Wrap<TopkPolicy>,
    vocab_size: Option<usize>,
    k: Option<usize>,
    sentinel: f64,
) -> PyResult<Bound<'py, PyTuple>> {
    let chosen = chosen_logprob
        .as_ref()
        .map(|c| slice1(c, "chosen_logprob"))
        .transpose()?;
    let opts = topk_options(policy, vocab_size, k, sentinel);
    let top = Float2::borrow(top_logprobs, "top_logprobs")?;
    let response = topk_response(&top, chosen, "top_logprobs")?;
    let s = py_result(maybe_detach(py, summary_work(&response), || response.summary(&opts))?)?;
    summary_tuple(py, &s)
}

/// [`topk_summary`] of many responses in parallel with the GIL released: `tops` is a list of
/// C-contiguous `[T_i, width_i]` float64/float32 arrays, `chosen` None or a list of float64
/// `[T_i]` arrays. Returns a float64 `[n, 13]` array, one row per response in the order of the
/// tuple `topk_summary` returns (`n_tokens` first). The arrays are borrowed one at a time under
/// the GIL while a worker already summarises those borrowed before
/// (`signals::topk_summary_batch_fed`): borrowing 1,024 pairs costs about a tenth of their work
/// at k = 5, which would otherwise come first, on one thread.
#[pyfunction]
#[pyo3(signature = (tops, chosen=None, policy=Wrap(TopkPolicy::Bounds), vocab_size=None, k=None, sentinel=-9999.0, threads=None))]
#[allow(clippy::too_many_arguments)]
fn topk_summary_batch<'py>(
    py: Python<'py>,
    tops: Vec<Bound<'py, PyAny>>,
    chosen: Option<Vec<Bound<'py, PyAny>>>,
    policy: Wrap<TopkPolicy>,
    vocab_size: Option<usize>,
    k: Option<usize>,
    sentinel: f64,
    threads: Option<Threads>,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let opts = topk_options(policy, vocab_size, k, sentinel);
    if let Some(c) = &chosen {
        if c.len() != tops.len() {
            return Err(py_err(credo_core::CredoError::shape(
                "chosen_logprob",
                format!("has {} responses but top_logprobs has {}", c.len(), tops.len()),
            )));
        }
    }
    // The borrows outlive the batch that reads them: each cell is filled once, as its response
    // is fed.
    let top_borrows: Vec<OnceCell<Float2<'py>>> = tops.iter().map(|_| OnceCell::new()).collect();
    let chosen_borrows: Vec<OnceCell<PyReadonlyArray1<'py, f64>>> = tops.iter().map(|_| OnceCell::new()).collect();
    let work = Cell::new(0usize);
    let feed = |i: usize| -> Result<signals::TopkResponse<'_>, FedError> {
        let top = at_index("top_logprobs", i, |arg| Float2::borrow(&tops[i], arg))?;
        let top = top_borrows[i].get_or_init(|| top);
        let mut response = at_index("top_logprobs", i, |arg| topk_response(top, None, arg))?;
        if let Some(c) = &chosen {
            let borrowed = at_index("chosen_logprob", i, |arg| {
                (c[i].cast::<PyArray1<f64>>())
                    .map(|a| a.readonly())
                    .map_err(|_| invalid(arg, "expected a 1-D float64 array"))
            })?;
            let borrowed = chosen_borrows[i].get_or_init(|| borrowed);
            response.chosen = Some(at_index("chosen_logprob", i, |arg| slice1(borrowed, arg))?);
        }
        work.set(work.get().saturating_add(summary_work(&response)));
        Ok(response)
    };
    let wait = |block: &mut (dyn FnMut() + Send)| detach_if(py, work.get(), block);
    let summaries =
        catch_panic(|| signals::topk_summary_batch_fed(tops.len(), feed, &opts, Threads::count(threads), wait))?
            .map_err(FedError::into_py)?;
    let mut flat = Vec::with_capacity(summaries.len() * SUMMARY_FIELDS);
    for s in &summaries {
        flat.extend((0..SUMMARY_FIELDS).map(|i| summary_field(s, i)));
    }
    let out = PyArray1::from_vec(py, flat);
    out.reshape([summaries.len(), SUMMARY_FIELDS])
}

/// `read(arg)` of item `i` of argument `name`, an error naming `name[i]`: the name is formatted
/// only when `read` fails, which is then run again with it (formatting it for every array was a
/// fifth of a batch's reading).
fn at_index<T>(name: &str, i: usize, read: impl Fn(&str) -> PyResult<T>) -> PyResult<T> {
    read(name).or_else(|_| read(&format!("{name}[{i}]")))
}

/// Columns of a summary row (`credo_core::decide::SUMMARY_FIELDS`, the order of
/// `credo.signals.TopkSummary`).
pub(crate) const SUMMARY_FIELDS: usize = credo_core::decide::SUMMARY_FIELDS.len();

/// A summary as `credo.signals.TopkSummary` takes it (a named tuple, whose device form holds
/// device scalars): `n_tokens` an int, then the features.
pub(crate) fn summary_tuple<'py>(py: Python<'py>, s: &signals::TopkSummary) -> PyResult<Bound<'py, PyTuple>> {
    let mut items: Vec<Bound<'py, PyAny>> = Vec::with_capacity(SUMMARY_FIELDS);
    items.push(s.n_tokens.into_pyobject(py)?.into_any());
    for i in 1..SUMMARY_FIELDS {
        items.push(PyFloat::new(py, summary_field(s, i)).into_any());
    }
    PyTuple::new(py, items)
}

/// The instruction-set level used when none is forced.
#[pyfunction]
fn simd_level() -> &'static str {
    signals::simd::active().name()
}

/// Every level this CPU supports, lowest first.
#[pyfunction]
fn simd_levels() -> Vec<&'static str> {
    signals::simd::supported_levels()
        .into_iter()
        .map(SimdLevel::name)
        .collect()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(token_signals, m)?)?;
    m.add_function(wrap_pyfunction!(sequence_signals, m)?)?;
    m.add_function(wrap_pyfunction!(topk_signals, m)?)?;
    m.add_function(wrap_pyfunction!(topk_summary, m)?)?;
    m.add_function(wrap_pyfunction!(topk_summary_batch, m)?)?;
    m.add_function(wrap_pyfunction!(simd_level, m)?)?;
    m.add_function(wrap_pyfunction!(simd_levels, m)?)?;
    m.add_class::<TokenSignals>()?;
    m.add_class::<SequenceSignals>()?;
    m.add_class::<TopkSignals>()?;
    Ok(())
}
