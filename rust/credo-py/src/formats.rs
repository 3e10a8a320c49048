//! Bindings of `credo_core::formats`: a response body (bytes, str, or a buffer) read by the core's
//! scanner, and dicts / SDK objects walked by the same core reader through [`PyNode`].

use credo_core::formats::{self, json::Span, Kind, Logprobs, Node, ReadError, ReadOptions, TakeTop};
use credo_core::signals::TopkPolicy;
use numpy::{PyArray1, PyArray2, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyComplex, PyDict, PyFloat, PyInt, PyList, PyMemoryView, PyString, PyTuple, PyType,
};

use crate::errors::{invalid, py_result};
use crate::options::Wrap;

/// Bodies at least this long are read with the GIL released.
const DETACH_BYTES: usize = 16 * 1024;

/// A response held by Python objects: dicts (`json.loads`), lists, and objects whose fields are
/// in `__dict__` (the openai SDK's pydantic models, `SimpleNamespace`), traversed without
/// Python-level loops.
struct PyNode<'py> {
    obj: Bound<'py, PyAny>,
}

impl<'py> PyNode<'py> {
    fn type_name(&self) -> String {
        self.obj
            .get_type()
            .name()
            .map_or_else(|_| "an object".to_owned(), |n| n.to_string())
    }

    fn wrong(&self, want: &str) -> ReadError {
        let got = match self.kind() {
            Kind::Invalid => self.type_name(),
            Kind::Object if !self.obj.is_instance_of::<PyDict>() => self.type_name(),
            k => k.name().to_owned(),
        };
        ReadError::invalid(format!("expected {want}, got {got}"))
    }

    /// The members of an object: a dict itself, an object's `__dict__`, or (an object that keeps
    /// nothing there, such as a wrapper) what its `model_dump()` returns.
    fn members(&self) -> Result<Bound<'py, PyDict>, ReadError> {
        if let Ok(d) = self.obj.cast::<PyDict>() {
            return Ok(d.clone());
        }
        if let Some(d) = direct_dict(&self.obj) {
            return Ok(d);
        }
        let py = self.obj.py();
        let err = |_| ReadError::invalid("could not read the object's fields");
        let dump = pyo3::intern!(py, "model_dump");
        if let Ok(d) = self.obj.getattr(pyo3::intern!(py, "__dict__")) {
            if let Ok(d) = d.cast_into::<PyDict>() {
                if !d.is_empty() || !self.obj.hasattr(dump).map_err(err)? {
                    remember_direct(&self.obj, &d);
                    return Ok(d);
                }
            }
        }
        if self.obj.hasattr(dump).map_err(err)? {
            let dumped = self.obj.call_method0(dump).map_err(err)?;
            if let Ok(d) = dumped.cast_into::<PyDict>() {
                return Ok(d);
            }
        }
        Err(self.wrong("an object"))
    }

    /// The members of a `top_logprobs` entry for [`Node::plain_top_list`]: those of a dict or
    /// an object (as [`PyNode::members`] reads them), `None` for anything else.
    fn plain_members(obj: &Bound<'py, PyAny>) -> Option<Bound<'py, PyDict>> {
        if let Ok(d) = obj.cast::<PyDict>() {
            return Some(d.clone());
        }
        if let Some(d) = direct_dict(obj) {
            return Some(d);
        }
        let node = PyNode { obj: obj.clone() };
        if node.kind() != Kind::Object {
            return None;
        }
        node.members().ok()
    }
}

thread_local! {
    /// The last type whose instances' `__dict__` (read by attribute) was found to be their
    /// instance dict itself, as `PyObject_GenericGetDict` reads it without an attribute lookup
    /// (the openai SDK's pydantic models: a response holds thousands of one type's objects).
    /// Held strongly, so its address cannot be reused by another type.
    static DIRECT_DICT: std::cell::RefCell<Option<Py<PyType>>> = const { std::cell::RefCell::new(None) };
}

/// The instance dict of `obj`, read directly, when its type is the one [`remember_direct`]
/// checked and the dict is not empty (an empty one goes the long way: `model_dump()`).
fn direct_dict<'py>(obj: &Bound<'py, PyAny>) -> Option<Bound<'py, PyDict>> {
    let ty = obj.get_type();
    let known = DIRECT_DICT.with(|c| c.borrow().as_ref().is_some_and(|t| t.is(&ty)));
    if !known {
        return None;
    }
    let d = generic_dict(obj)?;
    (!d.is_empty()).then_some(d)
}

/// Remembers the type of `obj` when its `__dict__` attribute `d` is its instance dict.
fn remember_direct<'py>(obj: &Bound<'py, PyAny>, d: &Bound<'py, PyDict>) {
    if generic_dict(obj).is_some_and(|g| g.is(d)) {
        let ty = obj.get_type().unbind();
        DIRECT_DICT.with(|c| *c.borrow_mut() = Some(ty));
    }
}

/// `PyObject_GenericGetDict(obj)`: the instance dict (None, the error cleared, without one).
fn generic_dict<'py>(obj: &Bound<'py, PyAny>) -> Option<Bound<'py, PyDict>> {
    let py = obj.py();
    // SAFETY: `obj` is a live object and the GIL is held; the result is a new reference or
    // NULL with an exception set, which `PyErr::take` clears.
    let d = unsafe {
        Bound::from_owned_ptr_or_opt(
            py,
            pyo3::ffi::PyObject_GenericGetDict(obj.as_ptr(), std::ptr::null_mut()),
        )
    };
    match d {
        Some(d) => d.cast_into::<PyDict>().ok(),
        None => {
            let _ = PyErr::take(py);
            None
        }
    }
}

impl<'py> Node for PyNode<'py> {
    type Text = Bound<'py, PyAny>;

    fn kind(&self) -> Kind {
        let o = &self.obj;
        if o.is_none() {
            Kind::Null
        } else if o.is_instance_of::<PyDict>() {
            Kind::Object
        } else if o.is_instance_of::<PyList>() || o.is_instance_of::<PyTuple>() {
            Kind::Array
        } else if o.is_instance_of::<PyString>() {
            Kind::String
        } else if o.is_instance_of::<PyBool>() {
            Kind::Bool
        } else if o.is_instance_of::<PyFloat>() || o.is_instance_of::<PyInt>() {
            Kind::Number
        } else if o.is_instance_of::<PyComplex>() || o.is_instance_of::<PyBytes>() {
            Kind::Invalid
        } else {
            // Any other object: its fields are read from `__dict__` (or `model_dump()`);
            // `fields` refuses one that has neither.
            Kind::Object
        }
    }

    fn fields(
        &mut self,
        mut f: impl FnMut(&[u8], &Self::Text, &mut Self) -> Result<(), ReadError>,
    ) -> Result<(), ReadError> {
        if self.kind() != Kind::Object {
            return Err(self.wrong("an object"));
        }
        let members = self.members()?;
        for (k, v) in members.iter() {
            let key = k
                .cast::<PyString>()
                .map_err(|_| ReadError::invalid("object keys must be strings"))?;
            let name = key
                .to_str()
                .map_err(|_| ReadError::invalid("a key is not valid text"))?;
            let mut child = PyNode { obj: v };
            f(name.as_bytes(), &k, &mut child).map_err(|e| e.in_field(name.as_bytes()))?;
        }
        Ok(())
    }

    fn pick(
        &mut self,
        names: &[&'static str],
        mut f: impl FnMut(usize, &mut Self) -> Result<(), ReadError>,
    ) -> Result<(), ReadError> {
        if self.kind() != Kind::Object {
            return Err(self.wrong("an object"));
        }
        let members = self.members()?;
        let py = self.obj.py();
        let mut found = 0;
        for (i, name) in names.iter().enumerate() {
            let value = members
                .get_item(key(py, name))
                .map_err(|_| ReadError::invalid("could not read the object's fields"))?;
            if let Some(v) = value {
                found += 1;
                f(i, &mut PyNode { obj: v }).map_err(|e| e.in_field(name.as_bytes()))?;
            }
        }
        if found == 0 && !members.is_empty() {
            // None of the names: walk the members, which says what is wrong with them (a key
            // that is not a string) or finds nothing, as `fields` would.
            return formats::pick_by_walking(self, names, f);
        }
        Ok(())
    }

    /// A list of entries (dicts, or the SDK's objects) that hold a `token` string and a float
    /// `logprob`, read with two dict lookups each; any other entry (a missing or null member, an
    /// integer logprob, a tuple) leaves it to the general walk, which reads the same values.
    fn plain_top_list(&mut self, want_token: bool, mut take: impl TakeTop<Self::Text>) -> bool {
        let Ok(list) = self.obj.cast::<PyList>() else {
            return false;
        };
        let py = self.obj.py();
        let (token, logprob) = (pyo3::intern!(py, "token"), pyo3::intern!(py, "logprob"));
        for e in list.iter() {
            let Some(m) = Self::plain_members(&e) else {
                return false;
            };
            let (Ok(Some(t)), Ok(Some(lp))) = (m.get_item(token), m.get_item(logprob)) else {
                return false;
            };
            let Ok(lp) = lp.cast::<PyFloat>() else {
                return false;
            };
            if !t.is_instance_of::<PyString>() || !take.take(want_token.then_some(t), lp.value()) {
                return false;
            }
        }
        true
    }

    fn items(&mut self, mut f: impl FnMut(usize, &mut Self) -> Result<(), ReadError>) -> Result<(), ReadError> {
        if let Ok(l) = self.obj.cast::<PyList>() {
            for (i, v) in l.iter().enumerate() {
                f(i, &mut PyNode { obj: v }).map_err(|e| e.at(i))?;
            }
            Ok(())
        } else if let Ok(t) = self.obj.cast::<PyTuple>() {
            for (i, v) in t.iter().enumerate() {
                f(i, &mut PyNode { obj: v }).map_err(|e| e.at(i))?;
            }
            Ok(())
        } else {
            Err(self.wrong("a list"))
        }
    }

    fn number(&mut self) -> Result<Option<f64>, ReadError> {
        let o = &self.obj;
        if o.is_none() {
            Ok(None)
        } else if let Ok(x) = o.cast::<PyFloat>() {
            Ok(Some(x.value()))
        } else if o.is_instance_of::<PyInt>() && !o.is_instance_of::<PyBool>() {
            o.extract::<f64>()
                .map(Some)
                .map_err(|_| ReadError::invalid("an integer too large for a float"))
        } else {
            Err(self.wrong("a number"))
        }
    }

    fn text(&mut self) -> Result<Self::Text, ReadError> {
        if self.obj.is_instance_of::<PyString>() {
            Ok(self.obj.clone())
        } else {
            Err(self.wrong("a string"))
        }
    }
}

/// A member name as a Python string: the names the readers look up are interned once (their
/// hashes cached, so a lookup is one probe), any other is built.
fn key<'py>(py: Python<'py>, name: &str) -> Bound<'py, PyString> {
    match name {
        "token" => pyo3::intern!(py, "token").clone(),
        "logprob" => pyo3::intern!(py, "logprob").clone(),
        "top_logprobs" => pyo3::intern!(py, "top_logprobs").clone(),
        _ => PyString::new(py, name),
    }
}

/// The tokens of a read response, decoded when asked.
enum Tokens {
    /// Spans of the body (an immutable `bytes` or `str`).
    Body {
        body: Py<PyAny>,
        tokens: Vec<Option<Span>>,
        top: Vec<Option<Span>>,
    },
    /// The string objects themselves.
    Objects {
        tokens: Vec<Option<Py<PyAny>>>,
        top: Vec<Option<Py<PyAny>>>,
    },
    None,
}

/// One response's logprobs as read natively (see `credo.formats.from_openai`).
#[pyclass(frozen, module = "credo._credo", name = "ReadLogprobs")]
pub struct PyReadLogprobs {
    top: Py<PyArray2<f64>>,
    chosen: Py<PyArray1<f64>>,
    k: usize,
    layout: &'static str,
    n_choices: usize,
    avg_logprob: Option<f64>,
    row_len: Vec<u32>,
    width: usize,
    tokens: Tokens,
}

#[pymethods]
impl PyReadLogprobs {
    /// `[T, width]` float64: each row sorted descending, NaN for missing entries and padding.
    #[getter]
    fn top_logprobs(&self, py: Python<'_>) -> Py<PyArray2<f64>> {
        self.top.clone_ref(py)
    }
    /// `[T]` float64, the chosen tokens' logprobs (the fill value where missing).
    #[getter]
    fn chosen_logprob(&self, py: Python<'_>) -> Py<PyArray1<f64>> {
        self.chosen.clone_ref(py)
    }
    /// The declared top-k (default: the widest row); 0 when the server gave chosen logprobs only.
    #[getter]
    fn k(&self) -> usize {
        self.k
    }
    /// `"chat"`, `"legacy"`, `"chunks"` or `"gemini"`.
    #[getter]
    fn layout(&self) -> &'static str {
        self.layout
    }
    /// Choices (candidates) the response holds.
    #[getter]
    fn n_choices(&self) -> usize {
        self.n_choices
    }
    /// Gemini's `avgLogprobs` of the candidate (None when absent).
    #[getter]
    fn avg_logprob(&self) -> Option<f64> {
        self.avg_logprob
    }

    /// The chosen token per position and, per position, the tokens of its top-k row in the
    /// row's order (None where the response gave no token).
    fn tokens<'py>(&self, py: Python<'py>) -> PyResult<ResponseTokens> {
        match &self.tokens {
            Tokens::None => Err(invalid("tokens", "the response was read without its tokens")),
            Tokens::Body { body, tokens, top } => {
                let body = body.bind(py);
                let bytes: &[u8] = if let Ok(b) = body.cast::<PyBytes>() {
                    b.as_bytes()
                } else {
                    body.cast::<PyString>()?.to_str()?.as_bytes()
                };
                let decode = |s: &Option<Span>| -> PyResult<Bound<'py, PyAny>> {
                    match s {
                        None => Ok(py.None().into_bound(py)),
                        Some(s) => {
                            let text = py_result(s.decode(bytes).map_err(|e| e.into_credo("response")))?;
                            Ok(PyString::new(py, &text).into_any())
                        }
                    }
                };
                self.build(py, tokens, top, decode)
            }
            Tokens::Objects { tokens, top } => {
                let get = |s: &Option<Py<PyAny>>| -> PyResult<Bound<'py, PyAny>> {
                    Ok(s.as_ref()
                        .map_or_else(|| py.None().into_bound(py), |o| o.bind(py).clone()))
                };
                self.build(py, tokens, top, get)
            }
        }
    }
}

impl PyReadLogprobs {
    fn build<'py, T>(
        &self,
        py: Python<'py>,
        tokens: &[T],
        top: &[T],
        mut get: impl FnMut(&T) -> PyResult<Bound<'py, PyAny>>,
    ) -> PyResult<ResponseTokens> {
        let toks = PyList::empty(py);
        for t in tokens {
            toks.append(get(t)?)?;
        }
        let rows = PyList::empty(py);
        for (r, &n) in self.row_len.iter().enumerate() {
            let row = PyList::empty(py);
            for t in &top[r * self.width..r * self.width + n as usize] {
                row.append(get(t)?)?;
            }
            rows.append(row)?;
        }
        Ok(ResponseTokens {
            tokens: toks.unbind(),
            top_tokens: rows.unbind(),
        })
    }

    fn new<T>(
        py: Python<'_>,
        r: Logprobs<T>,
        tokens: impl FnOnce(Vec<Option<T>>, Vec<Option<T>>) -> Tokens,
    ) -> PyResult<Self> {
        let top = PyArray1::from_vec(py, r.top).reshape([r.rows, r.width])?.unbind();
        let chosen = PyArray1::from_vec(py, r.chosen).unbind();
        // a row's width is below the body's 4 GiB
        let row_len = r.row_len.iter().map(|&n| n as u32).collect();
        Ok(Self {
            top,
            chosen,
            k: r.k,
            layout: r.layout.name(),
            n_choices: r.n_choices,
            avg_logprob: r.avg_logprob,
            row_len,
            width: r.width,
            tokens: tokens(r.tokens, r.top_tokens),
        })
    }
}

fn read_options(choice: i64, k: Option<i64>, tokens: bool, missing_chosen: f64) -> PyResult<ReadOptions> {
    let bad = invalid;
    let choice = usize::try_from(choice).map_err(|_| bad("choice", format!("must be at least 0, got {choice}")))?;
    let k = match k {
        None => None,
        Some(k) if k >= 1 => Some(usize::try_from(k).map_err(|_| bad("k", format!("{k} is too large")))?),
        Some(k) => return Err(bad("k", format!("must be at least 1, got {k}"))),
    };
    Ok(ReadOptions {
        choice,
        k,
        tokens,
        missing_chosen,
    })
}

/// Reads a response's top-k logprobs natively: `response` is its body (`bytes`, `str`,
/// `bytearray`, `memoryview`: UTF-8 JSON) or the parsed response (dicts and lists, or the
/// SDK's objects). See `credo.formats.from_openai`.
#[pyfunction]
#[pyo3(signature = (response, choice=0, k=None, tokens=true, missing_chosen=f64::NAN))]
fn read_logprobs(
    py: Python<'_>,
    response: &Bound<'_, PyAny>,
    choice: i64,
    k: Option<i64>,
    tokens: bool,
    missing_chosen: f64,
) -> PyResult<PyReadLogprobs> {
    let opts = read_options(choice, k, tokens, missing_chosen)?;
    let body: Option<Bound<'_, PyAny>> =
        if response.is_instance_of::<PyBytes>() || response.is_instance_of::<PyString>() {
            Some(response.clone())
        } else if response.is_instance_of::<PyByteArray>() || response.is_instance_of::<PyMemoryView>() {
            // A mutable or borrowed buffer: read from a private copy.
            Some(py.import("builtins")?.getattr("bytes")?.call1((response,))?)
        } else {
            None
        };
    if let Some(body) = body {
        let bytes: &[u8] = if let Ok(b) = body.cast::<PyBytes>() {
            b.as_bytes()
        } else {
            body.cast::<PyString>()?.to_str()?.as_bytes()
        };
        let read = |b: &[u8]| formats::read_openai(b, &opts);
        let r = py_result(if bytes.len() >= DETACH_BYTES {
            py.detach(|| read(bytes))
        } else {
            read(bytes)
        })?;
        let keep = body.unbind();
        return PyReadLogprobs::new(py, r, |t, top| {
            if tokens {
                Tokens::Body {
                    body: keep,
                    tokens: t,
                    top,
                }
            } else {
                Tokens::None
            }
        });
    }
    let mut root = PyNode { obj: response.clone() };
    let r = py_result(formats::read(&mut root, &opts))?;
    PyReadLogprobs::new(py, r, |t, top| {
        if tokens {
            let unbind = |v: Vec<Option<Bound<'_, PyAny>>>| v.into_iter().map(|o| o.map(Bound::unbind)).collect();
            Tokens::Objects {
                tokens: unbind(t),
                top: unbind(top),
            }
        } else {
            Tokens::None
        }
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyReadLogprobs>()?;
    m.add_class::<PyOpenAIStream>()?;
    m.add_class::<ResponseTokens>()?;
    m.add_class::<TopkArrays>()?;
    m.add_function(wrap_pyfunction!(read_logprobs, m)?)?;
    Ok(())
}

result_class! {
    /// The tokens of a response read with them.
    ResponseTokens {
        /// The chosen token per position (None where the response gave none).
        tokens: Py<PyList>,
        /// Per position, the tokens of its top-k row in the row's order.
        top_tokens: Py<PyList>,
    }
}

result_class! {
    /// The positions of one choice of a stream so far.
    TopkArrays {
        /// `[T, width]` float64, each row sorted descending, NaN for missing entries.
        top_logprobs: Py<PyArray2<f64>>,
        /// `[T]` float64, the chosen tokens' logprobs.
        chosen_logprob: Py<PyArray1<f64>>,
    }
}

/// The stream reader (see `credo.formats.OpenAIStream`): one lock per stream, so threads may
/// share it.
#[pyclass(frozen, module = "credo._credo", name = "OpenAIStream")]
pub struct PyOpenAIStream(std::sync::Mutex<formats::stream::OpenAIStream>);

impl PyOpenAIStream {
    fn with<T>(&self, f: impl FnOnce(&mut formats::stream::OpenAIStream) -> credo_core::Result<T>) -> PyResult<T> {
        let mut s = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        py_result(f(&mut s))
    }
}

#[pymethods]
impl PyOpenAIStream {
    #[new]
    #[pyo3(signature = (policy=Wrap(TopkPolicy::Bounds), vocab_size=None, k=None))]
    fn new(policy: Wrap<TopkPolicy>, vocab_size: Option<usize>, k: Option<usize>) -> PyResult<Self> {
        let opts = crate::signals::topk_options(policy, vocab_size, k, formats::SENTINEL);
        Ok(Self(std::sync::Mutex::new(py_result(
            formats::stream::OpenAIStream::new(opts),
        )?)))
    }

    /// Feeds what arrived: SSE bytes (`bytes`, `str`, `bytearray`, `memoryview`; split
    /// anywhere), one parsed chunk (a dict or the SDK's chunk object) or a list of them. Returns
    /// the positions added.
    fn feed(&self, data: &Bound<'_, PyAny>) -> PyResult<usize> {
        if let Ok(b) = data.cast::<PyBytes>() {
            return self.with(|s| s.feed(b.as_bytes()));
        }
        if let Ok(t) = data.cast::<PyString>() {
            let t = t.to_str()?;
            return self.with(|s| s.feed(t.as_bytes()));
        }
        if data.is_instance_of::<PyByteArray>() || data.is_instance_of::<PyMemoryView>() {
            let b = data.py().import("builtins")?.getattr("bytes")?.call1((data,))?;
            let b = b.cast::<PyBytes>()?;
            return self.with(|s| s.feed(b.as_bytes()));
        }
        if data.is_instance_of::<PyList>() || data.is_instance_of::<PyTuple>() {
            let mut n = 0;
            for c in data.try_iter()? {
                let mut node = PyNode { obj: c? };
                n += self.with(|s| s.chunk(&mut node))?;
            }
            return Ok(n);
        }
        let mut node = PyNode { obj: data.clone() };
        self.with(|s| s.chunk(&mut node))
    }

    /// Feeds one complete SSE line (as `httpx`'s `iter_lines()` yields them).
    fn feed_line(&self, line: &Bound<'_, PyAny>) -> PyResult<usize> {
        if let Ok(b) = line.cast::<PyBytes>() {
            return self.with(|s| s.line(b.as_bytes()));
        }
        let t = line.cast::<PyString>()?.to_str()?;
        self.with(|s| s.line(t.as_bytes()))
    }

    /// The running summary of choice `choice`: `(n_tokens, mean_entropy, ..., not_top1)` in the
    /// order of `credo.signals.TopkSummary`.
    #[pyo3(signature = (choice=0))]
    fn summary<'py>(&self, py: Python<'py>, choice: usize) -> PyResult<Bound<'py, PyTuple>> {
        let s = self.with(|s| s.summary(choice))?;
        crate::signals::summary_tuple(py, &s)
    }

    /// The positions of choice `choice` so far.
    #[pyo3(signature = (choice=0))]
    fn arrays(&self, py: Python<'_>, choice: usize) -> PyResult<TopkArrays> {
        let (top, width, chosen) = self.with(|s| match s.choice(choice) {
            Some(r) => {
                let (t, w, c) = r.arrays();
                Ok((t.to_vec(), w, c.to_vec()))
            }
            None => Err(credo_core::CredoError::empty(
                "choice",
                format!("no position of choice {choice} has arrived (with logprobs)"),
            )),
        })?;
        let rows = chosen.len();
        Ok(TopkArrays {
            top_logprobs: PyArray1::from_vec(py, top).reshape([rows, width])?.unbind(),
            chosen_logprob: PyArray1::from_vec(py, chosen).unbind(),
        })
    }

    /// Whether `data: [DONE]` has arrived.
    #[getter]
    fn done(&self) -> PyResult<bool> {
        self.with(|s| Ok(s.done()))
    }

    /// Chunks read so far.
    #[getter]
    fn chunks(&self) -> PyResult<usize> {
        self.with(|s| Ok(s.chunks()))
    }

    /// The `index` of every choice seen so far, in order.
    #[getter]
    fn choices(&self) -> PyResult<Vec<usize>> {
        self.with(|s| Ok(s.indices()))
    }
}
