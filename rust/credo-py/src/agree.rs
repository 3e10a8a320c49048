//! Bindings for `credo_core::agree`: answer normalisation, agreement of one or many questions
//! (GIL released for the batch), a user equivalence callable, spectral measures, stopping rules.
//!
//! A batch's answers are copied out of the Python strings a chunk of questions at a time, under
//! the GIL, each chunk analysed by a pool worker while the next is copied, then the rest by the
//! calling thread too, the GIL released (the workers need no GIL and no Python object: a caller
//! mutating its lists meanwhile changes nothing). The
//! callable path lends the strings themselves to the user's function, holding a reference to each.

use credo_core::agree::{
    self, cluster_by, spectral, stopping, Columns, Config, FedAnswers, Linkage, Method, MethodName, NormalizeOptions,
    Question, SeqLogProbs,
};
use credo_core::CredoError;
use numpy::{PyArray1, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PySequence, PyString, PyTuple};
use pyo3::Borrowed;
use std::cell::RefCell;

use crate::arrays::{detach_if, maybe_detach, slice1, slice2, Threads};
use crate::errors::{catch_panic, invalid, py_err, py_result, FedError};
use crate::options::Wrap;

/// One answer's work in elements of a simple kernel, for [`crate::arrays::GIL_MIN_ELEMENTS`]: an
/// answer is normalised, hashed and compared in ~85 ns of one thread here (10k x 10 exact:
/// 8.6 ms), a simple kernel's element in ~1 ns. A batch of over ~1,000 answers releases the GIL.
const ANSWER_WORK: usize = 64;

type Flags = (bool, bool, bool, bool, bool, bool);

fn options(f: Flags) -> NormalizeOptions {
    NormalizeOptions {
        unicode: f.0,
        lowercase: f.1,
        punctuation: f.2,
        articles: f.3,
        whitespace: f.4,
        numbers: f.5,
    }
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "object".to_string(), |n| n.to_string())
}

fn not_a_string(obj: &Bound<'_, PyAny>, arg: &str, where_: &str) -> PyErr {
    invalid(arg, format!("{where_} is {}, expected a string", type_name(obj)))
}

/// Strong references to answer strings whose UTF-8 text the call borrows (the callable path, which
/// hands the strings themselves to the user's function: a caller mutating its list meanwhile
/// cannot free them), released when dropped (on the calling thread, which then holds the GIL).
struct Held<'py> {
    py: Python<'py>,
    /// Owned `PyObject` pointers.
    objs: Vec<*mut pyo3::ffi::PyObject>,
}

impl<'py> Held<'py> {
    fn with_capacity(py: Python<'py>, n: usize) -> Self {
        Self {
            py,
            objs: Vec::with_capacity(n),
        }
    }

    /// Takes a reference to `s` and borrows its text for as long as `self` lives.
    fn text(&mut self, s: Bound<'py, PyString>) -> PyResult<&'py str> {
        // SAFETY: CPython keeps a string's UTF-8 buffer for the string's lifetime, and `objs` keeps
        // a strong reference to it until `self` is dropped, after the last use of the text (texts
        // never leave the call that owns `self`).
        let text = unsafe { std::mem::transmute::<&str, &'py str>(s.to_str()?) };
        self.objs.push(s.into_ptr());
        Ok(text)
    }

    /// Answer `i` as a Python string.
    fn string(&self, i: usize) -> Bound<'py, PyString> {
        // SAFETY: `objs[i]` is a live string object we own a reference to.
        unsafe { Bound::from_borrowed_ptr(self.py, self.objs[i]).cast_into_unchecked() }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        for &p in &self.objs {
            // SAFETY: each entry is an owned reference taken in `text`, released once; the GIL is
            // held (`py` is this thread's token).
            unsafe { pyo3::ffi::Py_DecRef(p) };
        }
    }
}

/// A question's answer container: a list or a tuple.
enum Seq<'py> {
    List(Bound<'py, PyList>),
    Tuple(Bound<'py, PyTuple>),
}

impl<'py> Seq<'py> {
    /// Question `qi` of `questions`, or an error naming `arg`. Another sequence (not a string)
    /// is copied to a list, as the Python layer's `list(q)` would.
    fn of(q: Bound<'py, PyAny>, qi: usize, arg: &str) -> PyResult<Self> {
        match q.cast_into::<PyList>() {
            Ok(l) => Ok(Self::List(l)),
            Err(e) => match e.into_inner().cast_into::<PyTuple>() {
                Ok(t) => Ok(Self::Tuple(t)),
                Err(e) => {
                    let q = e.into_inner();
                    let text = q.is_instance_of::<PyString>() || q.is_instance_of::<PyBytes>();
                    match q.cast::<PySequence>() {
                        Ok(seq) if !text => Ok(Self::List(seq.to_list()?)),
                        _ => Err(invalid(
                            arg,
                            format!("question {qi} is {}, expected a list of strings", type_name(&q)),
                        )),
                    }
                }
            },
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::List(l) => l.len(),
            Self::Tuple(t) => t.len(),
        }
    }

    fn into_any(self) -> Bound<'py, PyAny> {
        match self {
            Self::List(l) => l.into_any(),
            Self::Tuple(t) => t.into_any(),
        }
    }

    /// Appends the texts of the answers (read by index: no Python code runs meanwhile, so the
    /// length read once holds), taking a reference to each in `held`.
    fn read(&self, qi: usize, single: bool, held: &mut Held<'py>, out: &mut Vec<&'py str>) -> PyResult<()> {
        for ai in 0..self.len() {
            let a = match self {
                Self::List(l) => l.get_item(ai)?,
                Self::Tuple(t) => t.get_item(ai)?,
            };
            // An exact `str` is a pointer compare; subclasses take the general check.
            let as_str = match a.cast_into_exact::<PyString>() {
                Ok(s) => Ok(s),
                Err(e) => e.into_inner().cast_into::<PyString>(),
            };
            match as_str {
                Ok(s) => out.push(held.text(s)?),
                Err(e) => return Err(answer_not_a_string(e.into_inner().as_any(), qi, ai, single)),
            }
        }
        Ok(())
    }
}

impl Seq<'_> {
    /// Copies the texts of the answers into `out`. Each answer is borrowed from its container only
    /// until it is copied: the GIL is held and no Python code runs in between (nothing here creates
    /// a garbage-collected object, so not even a collection's finalizers; an error does, but then
    /// the answer is not used again), so the container still holds it. No reference is taken, so
    /// none has to be released after the batch.
    fn copy_into(&self, qi: usize, single: bool, out: &mut FedAnswers) -> PyResult<()> {
        for ai in 0..self.len() {
            let a = match self {
                // SAFETY: `l` is a live list (we hold a reference) and `ai` is below the length
                // read above; nothing can shrink it meanwhile (see above). The item is borrowed
                // (`PyList_GetItem` takes no reference), as said above.
                Self::List(l) => unsafe {
                    let i = pyo3::ffi::Py_ssize_t::try_from(ai).unwrap_or(pyo3::ffi::Py_ssize_t::MAX);
                    Borrowed::from_ptr_or_err(l.py(), pyo3::ffi::PyList_GetItem(l.as_ptr(), i))?
                },
                Self::Tuple(t) => t.get_borrowed_item(ai)?,
            };
            // An exact `str` is a pointer compare; subclasses take the general check.
            match a.cast_exact::<PyString>().or_else(|_| a.cast::<PyString>()) {
                Ok(s) => out.push(s.to_str()?),
                Err(_) => return Err(answer_not_a_string(&a, qi, ai, single)),
            }
        }
        Ok(())
    }
}

/// The error for answer `ai` of question `qi`, which is `obj`, not a string.
fn answer_not_a_string(obj: &Bound<'_, PyAny>, qi: usize, ai: usize, single: bool) -> PyErr {
    let arg = if single { "answers" } else { "questions" };
    let where_ = if single {
        format!("answer {ai}")
    } else {
        format!("answer {ai} of question {qi}")
    };
    not_a_string(obj, arg, &where_)
}

/// Each question's container and where its answers start in the call's flat numbering
/// (`offsets[q]..offsets[q + 1]`), in one pass over `questions` (a few µs of `len()` calls).
fn question_seqs<'py>(questions: &Bound<'py, PyList>, single: bool) -> PyResult<(Vec<Seq<'py>>, Vec<usize>)> {
    // The argument as the caller wrote it: `agree(answers)` or `agree_batch(questions)`.
    let arg = if single { "answers" } else { "questions" };
    let mut seqs = Vec::with_capacity(questions.len());
    let mut offsets = Vec::with_capacity(questions.len() + 1);
    offsets.push(0);
    for (qi, q) in questions.iter().enumerate() {
        let seq = Seq::of(q, qi, arg)?;
        if seq.len() == 0 && !single {
            return Err(py_err(CredoError::empty(
                format!("questions[{qi}]"),
                "no answers to compare",
            )));
        }
        offsets.push(offsets[qi] + seq.len());
        seqs.push(seq);
    }
    Ok((seqs, offsets))
}

/// Every answer of `questions` read at once (the callable path and single questions).
fn collect_answers<'py>(
    questions: &Bound<'py, PyList>,
    single: bool,
) -> PyResult<(Held<'py>, Vec<&'py str>, Vec<usize>)> {
    let (seqs, offsets) = question_seqs(questions, single)?;
    let total = offsets.last().copied().unwrap_or(0);
    let mut held = Held::with_capacity(questions.py(), total);
    let mut texts = Vec::with_capacity(total);
    for (qi, seq) in seqs.iter().enumerate() {
        seq.read(qi, single, &mut held, &mut texts)?;
    }
    Ok((held, texts, offsets))
}

fn usize_offsets(arr: &[i64], arg: &str) -> PyResult<Vec<usize>> {
    arr.iter()
        .map(|&x| usize::try_from(x).map_err(|_| invalid(arg, "negative offset")))
        .collect()
}

result_class! {
    /// Agreement of a batch of questions as flat columns (`credo_core::agree::Columns`):
    /// per-answer `labels` (question `q`'s at `offsets[q]..offsets[q + 1]`), per-cluster `sizes`
    /// and `cluster_probs` in the question's first answer slots, one value per question otherwise.
    AgreementColumns from Columns {
        offsets: Py<PyArray1<i64>>,
        labels: Py<PyArray1<i64>>,
        sizes: Py<PyArray1<i64>>,
        cluster_probs: Py<PyArray1<f64>>,
        n_clusters: Py<PyArray1<i64>>,
        /// The majority cluster's label.
        majority: Py<PyArray1<i64>>,
        /// The majority cluster's first answer.
        majority_index: Py<PyArray1<i64>>,
        agreement: Py<PyArray1<f64>>,
        se_discrete: Py<PyArray1<f64>>,
        se_farquhar: Py<PyArray1<f64>>,
        se_kuhn: Py<PyArray1<f64>>,
        se_lm_polygraph: Py<PyArray1<f64>>,
        eigval_laplacian: Py<PyArray1<f64>>,
        degree: Py<PyArray1<f64>>,
    }
}

/// Normalises one answer (see `credo.agreement.normalize_answer`).
#[pyfunction]
#[pyo3(signature = (text, unicode = true, lowercase = true, punctuation = true, articles = true, whitespace = true, numbers = true))]
#[allow(clippy::fn_params_excessive_bools)]
fn agree_normalize(
    text: &str,
    unicode: bool,
    lowercase: bool,
    punctuation: bool,
    articles: bool,
    whitespace: bool,
    numbers: bool,
) -> String {
    agree::normalize(
        text,
        &options((unicode, lowercase, punctuation, articles, whitespace, numbers)),
    )
}

/// Agreement of every question in `questions` (a list of lists of strings). Per-sample inputs are
/// flat over all samples: token log-probs `lp_values` with `lp_offsets` (samples + 1), embeddings
/// rows, and the questions' n×n matrices concatenated. `single` words errors for one question.
#[pyfunction]
#[pyo3(signature = (questions, method, threshold, clustering, flags, lp_values=None, lp_offsets=None, embeddings=None, matrices=None, spectral=false, threads=None, single=false))]
#[allow(clippy::too_many_arguments, clippy::needless_pass_by_value)]
fn agree_batch<'py>(
    py: Python<'py>,
    questions: &Bound<'py, PyList>,
    method: Wrap<MethodName>,
    threshold: f64,
    clustering: Wrap<Linkage>,
    flags: Flags,
    lp_values: Option<PyReadonlyArray1<'py, f64>>,
    lp_offsets: Option<PyReadonlyArray1<'py, i64>>,
    embeddings: Option<PyReadonlyArray2<'py, f64>>,
    matrices: Option<PyReadonlyArray1<'py, f64>>,
    spectral: bool,
    threads: Option<Threads>,
    single: bool,
) -> PyResult<AgreementColumns> {
    let cfg = Config {
        method: py_result(Method::new(method.0, threshold))?,
        linkage: clustering.0,
        normalize: options(flags),
        spectral,
    };
    let (seqs, offsets) = question_seqs(questions, single)?;
    let n_total = offsets.last().copied().unwrap_or(0);
    let work = n_total.saturating_mul(ANSWER_WORK);
    let lp_vals = lp_values.as_ref().map(|a| slice1(a, "logprobs")).transpose()?;
    let lp_offs = lp_offsets
        .as_ref()
        .map(|a| slice1(a, "logprobs").and_then(|s| usize_offsets(s, "logprobs")))
        .transpose()?;
    if let Some(o) = &lp_offs {
        py_result(credo_core::error::check_same_len(
            "logprobs",
            o.len().saturating_sub(1),
            n_total,
        ))?;
    }
    let emb = embeddings.as_ref().map(|a| slice2(a, "embeddings")).transpose()?;
    if let Some((_, rows, _)) = emb {
        py_result(credo_core::error::check_same_len("embeddings", rows, n_total))?;
    }
    let mats = matrices.as_ref().map(|a| slice1(a, "matrices")).transpose()?;
    // Where each question's n×n block starts in the concatenated matrices (only when given).
    let m_offs: Vec<usize> = match mats {
        Some(m) => {
            let mut acc = 0usize;
            let mut v = Vec::with_capacity(offsets.len());
            v.push(0);
            for w in offsets.windows(2) {
                acc += (w[1] - w[0]) * (w[1] - w[0]);
                v.push(acc);
            }
            if m.len() != acc {
                return Err(py_err(CredoError::shape(
                    "entailment",
                    format!("matrices hold {} values, the questions need {acc}", m.len()),
                )));
            }
            v
        }
        None => Vec::new(),
    };
    // Question q's inputs but its answers, built on the worker that analyses it.
    let question = |q: usize| {
        let (s0, s1) = (offsets[q], offsets[q + 1]);
        Question {
            answers: &[],
            logprobs: lp_vals.zip(lp_offs.as_deref()).map(|(v, o)| (v, &o[s0..=s1])),
            embeddings: emb.map(|(v, _, d)| (&v[s0 * d..s1 * d], d)),
            matrix: mats.map(|m| &m[m_offs[q]..m_offs[q + 1]]),
        }
    };
    if single && seqs.len() == 1 {
        let mut fed = FedAnswers::default();
        seqs[0].copy_into(0, true, &mut fed)?;
        let texts: Vec<&str> = fed.answers().collect();
        let q = Question {
            answers: &texts,
            ..question(0)
        };
        let result = maybe_detach(py, work, || agree::agree(&q, &cfg).map(|r| Columns::single(&r)))?;
        return AgreementColumns::from_core(py, py_result(result)?);
    }
    // The answers are copied a chunk of questions at a time under the GIL, the chunks analysed by
    // a worker meanwhile (the GIL is released once all are copied: the calling thread then
    // analyses the chunks left).
    let seqs = RefCell::new(seqs);
    let feed = |range: std::ops::Range<usize>, out: &mut FedAnswers| {
        let seqs = seqs.borrow();
        range
            .into_iter()
            .try_for_each(|qi| seqs[qi].copy_into(qi, single, out))
            .map_err(FedError::Py)
    };
    let wait = |block: &mut (dyn FnMut() + Send)| {
        // Every answer is copied: the containers are released now, while the workers run, not
        // after them.
        drop(seqs.take());
        detach_if(py, work, block);
    };
    let threads = Threads::count(threads);
    let result = catch_panic(|| agree::agree_batch_columns_fed(&offsets, feed, question, &cfg, threads, false, wait))?;
    match result {
        Ok(cols) => AgreementColumns::from_core(py, cols),
        Err(FedError::Py(e)) => Err(e),
        Err(FedError::Core(e)) => Err(py_err(e)),
    }
}

/// `questions` with each question checked as `agree_batch` checks it (a sequence of answers, not a
/// string, not empty), lists and tuples kept as they are and other sequences copied to lists: for
/// callers that read the questions in Python first (per-question inputs, callables).
#[pyfunction]
fn agree_questions<'py>(questions: &Bound<'py, PyList>) -> PyResult<Bound<'py, PyList>> {
    let (seqs, _) = question_seqs(questions, false)?;
    PyList::new(questions.py(), seqs.into_iter().map(Seq::into_any))
}

/// Agreement of one question under a user equivalence callable `equivalent(a, b) -> bool`
/// (called with the earlier answer first, each unordered pair at most once).
#[pyfunction]
#[pyo3(signature = (answers, equivalent, clustering, lp_values=None, lp_offsets=None))]
#[allow(clippy::needless_pass_by_value)]
fn agree_callable<'py>(
    py: Python<'py>,
    answers: &Bound<'py, PyList>,
    equivalent: &Bound<'py, PyAny>,
    clustering: Wrap<Linkage>,
    lp_values: Option<PyReadonlyArray1<'py, f64>>,
    lp_offsets: Option<PyReadonlyArray1<'py, i64>>,
) -> PyResult<AgreementColumns> {
    let linkage = clustering.0;
    let wrapped = PyList::new(py, [answers])?;
    let (held, _, _) = collect_answers(&wrapped, true)?;
    let n_held = held.objs.len();
    if n_held == 0 {
        return Err(py_err(CredoError::empty("answers", "no answers to compare")));
    }
    let lp = match (lp_values.as_ref(), lp_offsets.as_ref()) {
        (Some(v), Some(o)) => {
            let offs = usize_offsets(slice1(o, "logprobs")?, "logprobs")?;
            py_result(credo_core::error::check_same_len(
                "logprobs",
                offs.len().saturating_sub(1),
                n_held,
            ))?;
            Some(py_result(SeqLogProbs::from_tokens(slice1(v, "logprobs")?, &offs))?)
        }
        _ => None,
    };
    // Validate everything before the first (possibly expensive) call of the user's function.
    let labels = cluster_by::<PyErr>(n_held, linkage, |i, j| {
        equivalent.call1((held.string(i), held.string(j)))?.is_truthy()
    })?;
    AgreementColumns::from_core(py, Columns::single(&agree::summarize(labels, lp.as_ref())))
}

result_class! {
    /// Spectral uncertainty of a similarity matrix (`credo_core::agree::Spectral`).
    Spectral {
        /// EigValLaplacian: Σ max(0, 1 − λ) over the eigenvalues of the normalised Laplacian
        /// (about the number of semantic sets).
        eigval_laplacian: f64,
        /// Degree: 1 − Σ degrees / m², in [0, 1].
        degree: f64,
    }
}

/// Spectral measures of a symmetric similarity matrix with entries in [0, 1].
#[pyfunction]
#[allow(clippy::needless_pass_by_value)]
fn agree_spectral(similarity: PyReadonlyArray2<'_, f64>) -> PyResult<Spectral> {
    let (w, rows, cols) = slice2(&similarity, "similarity")?;
    if rows != cols {
        return Err(py_err(CredoError::shape(
            "similarity",
            format!("expected a square matrix, got {rows} x {cols}"),
        )));
    }
    py_result(spectral::check_similarity("similarity", w, rows))?;
    let s = spectral::spectral(w, rows);
    Ok(Spectral {
        eigval_laplacian: s.eigval_laplacian,
        degree: s.degree,
    })
}

result_class! {
    /// A stopping rule's verdict on the answer counts so far.
    StopDecision {
        /// Whether to stop sampling.
        stop: bool,
        /// The rule's statistic (compared with its threshold).
        statistic: f64,
    }
}

/// A stopping rule's verdict on answer counts.
#[pyfunction]
#[allow(clippy::needless_pass_by_value)]
fn agree_stopping_decide(
    rule: Wrap<stopping::Rule>,
    threshold: f64,
    counts: PyReadonlyArray1<'_, i64>,
    min_samples: u64,
    max_samples: u64,
) -> PyResult<StopDecision> {
    let c: Vec<u64> = slice1(&counts, "counts")?
        .iter()
        .map(|&x| u64::try_from(x))
        .collect::<Result<_, _>>()
        .map_err(|_| invalid("counts", "must be non-negative whole numbers"))?;
    let (stop, statistic) = py_result(stopping::decide(rule.0, threshold, &c, min_samples, max_samples))?;
    Ok(StopDecision { stop, statistic })
}

/// The threshold a stopping rule uses by default.
#[pyfunction]
fn agree_stopping_default_threshold(rule: Wrap<stopping::Rule>) -> f64 {
    rule.0.default_threshold()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<AgreementColumns>()?;
    m.add_class::<Spectral>()?;
    m.add_class::<StopDecision>()?;
    m.add_function(wrap_pyfunction!(agree_normalize, m)?)?;
    m.add_function(wrap_pyfunction!(agree_batch, m)?)?;
    m.add_function(wrap_pyfunction!(agree_questions, m)?)?;
    m.add_function(wrap_pyfunction!(agree_callable, m)?)?;
    m.add_function(wrap_pyfunction!(agree_spectral, m)?)?;
    m.add_function(wrap_pyfunction!(agree_stopping_decide, m)?)?;
    m.add_function(wrap_pyfunction!(agree_stopping_default_threshold, m)?)?;
    Ok(())
}
