//! Readers of what LLM servers return: an OpenAI-compatible chat or legacy completion, a list of
//! its `stream=True` chunks, a Gemini `generateContent` response, or a stream of server-sent
//! events, read into exactly what the top-k summary needs (one row of top-k logprobs and one
//! chosen logprob per generated token).
//!
//! The layouts are read once, by walks generic over [`Node`]: a value of the response, whichever
//! way it is held. [`json::Body`] reads it straight from the response's bytes (nothing built
//! for the values the reader does not need); the bindings implement [`Node`] for Python's dicts
//! and the SDKs' objects. Entry points: [`read_openai`] (body → [`Logprobs`], whose
//! [`Logprobs::response`] is a [`TopkResponse`](crate::signals::TopkResponse) ready for
//! `topk_summary`), [`read`] (any [`Node`]) and [`stream::OpenAIStream`].
//!
//! Every malformed input is a [`CredoError`] naming the JSON path of the bad
//! value (`response.choices[0].logprobs.content[17].top_logprobs[3].logprob: ...`); every
//! allocation grows with the values actually read, so it is bounded by the input's own size.

pub mod json;
mod logprobs;
mod number;
mod scan;
pub mod stream;

pub use logprobs::{read, read_chunk, read_openai, ChunkRows, Layout, Logprobs, ReadOptions, SENTINEL};

use crate::error::CredoError;

/// What a value is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
    /// Not a JSON value (a byte no value starts with, an object of an unknown type).
    Invalid,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool => "a boolean",
            Kind::Number => "a number",
            Kind::String => "a string",
            Kind::Array => "a list",
            Kind::Object => "an object",
            Kind::Invalid => "an unreadable value",
        }
    }
}

/// Where a one-step reading ([`Node::plain_top_list`], [`Node::plain_content_entry`]) hands
/// each top entry: its token (when wanted) and its logprob as written; `false` refuses it. Any
/// `FnMut` is one. A reader's own type with an `#[inline(always)]` method is held inline by the
/// AVX2 loops, where LLVM leaves a closure called from several of their places out of line (a
/// call, and the token passed through memory, per entry).
pub trait TakeTop<T> {
    fn take(&mut self, token: Option<T>, lp: f64) -> bool;
    /// The entries `tokens[j]` (when `want_token`), `lps[j]` in turn, as [`TakeTop::take`]
    /// takes each: `false` at the first refused (the body's readings hand their entries over a
    /// batch at a time, so that a sink may check and copy a batch without a branch each).
    #[inline(always)]
    fn take_all(&mut self, tokens: &[T], lps: &[f64], want_token: bool) -> bool
    where
        T: Clone,
    {
        tokens
            .iter()
            .zip(lps)
            .all(|(t, &lp)| self.take(want_token.then(|| t.clone()), lp))
    }
}

impl<T, F: FnMut(Option<T>, f64) -> bool> TakeTop<T> for F {
    #[inline(always)]
    fn take(&mut self, token: Option<T>, lp: f64) -> bool {
        self(token, lp)
    }
}

/// A cursor on one value of a response, however it is held. Each method consumes the value under
/// the cursor; `fields` and `items` hand their callback the cursor on each member in turn (a
/// member the callback does not consume is skipped).
pub trait Node {
    /// A string of the response, kept as cheaply as its holder allows (a byte span of a body,
    /// the string object itself of a dict) and decoded only when asked.
    type Text: Clone;

    fn kind(&self) -> Kind;
    /// Calls `f(name, name_text, value)` for each member of an object, in order.
    fn fields(
        &mut self,
        f: impl FnMut(&[u8], &Self::Text, &mut Self) -> Result<(), ReadError>,
    ) -> Result<(), ReadError>;
    /// Calls `f(i, value)` for each member named `names[i]` that an object holds (what `fields`
    /// would hand over for those names; errors name the member). The default walks `fields`;
    /// a holder that can look names up (a dict) reads only those members.
    fn pick(
        &mut self,
        names: &[&'static str],
        f: impl FnMut(usize, &mut Self) -> Result<(), ReadError>,
    ) -> Result<(), ReadError>
    where
        Self: Sized,
    {
        pick_by_walking(self, names, f)
    }
    /// A `top_logprobs` entry of a chat completion written exactly as servers write it —
    /// `{"token": "…", "logprob": -0.25, "bytes": [32, 119] or null}`, `bytes` optional — read
    /// in one step: its token (when `want_token`) and its logprob as written (not yet
    /// checked). `None`, the cursor unmoved, for anything else (the general walk then reads the
    /// entry and reports what is wrong if anything is). The default is always `None`.
    fn plain_top_entry(&mut self, want_token: bool) -> Option<(Option<Self::Text>, f64)> {
        let _ = want_token;
        None
    }
    /// A whole `top_logprobs` list of entries that [`Node::plain_top_entry`] reads, in one
    /// pass: each entry's token (when `want_token`) and logprob go to `take`, which may refuse
    /// one. `true` when the list was read to its end; `false`, the cursor unmoved, at the first
    /// entry not plain or refused (what `take` got before is the caller's to drop). The default
    /// is always `false`.
    fn plain_top_list(&mut self, want_token: bool, take: impl TakeTop<Self::Text>) -> bool
    where
        Self: Sized,
    {
        let _ = (want_token, take);
        false
    }
    /// A chat `content` entry written exactly as servers write it — `{"token": "…", "logprob":
    /// -0.25, "bytes": [32, 119] or null, "top_logprobs": [entries [`Node::plain_top_list`]
    /// reads]}`, `bytes` optional — read in one step: its token (when `want_token`) and logprob
    /// as written go to `chosen`, then each top entry to `top`, as `plain_top_list` hands them
    /// over; either may refuse one. `true` when the entry was read to its end; `false`, the
    /// cursor unmoved, at anything else (what the callbacks got is the caller's to drop). The
    /// default is always `false`.
    fn plain_content_entry(
        &mut self,
        want_token: bool,
        chosen: impl FnOnce(Option<Self::Text>, f64) -> bool,
        top: impl TakeTop<Self::Text>,
    ) -> bool
    where
        Self: Sized,
    {
        let _ = (want_token, chosen, top);
        false
    }
    /// Where the cursor stands and how long the response is, in bytes, where the holder knows
    /// (a body): the walk sizes its rows from the first one read. `None` by default.
    fn offset(&self) -> Option<(usize, usize)> {
        None
    }
    /// Calls `f(index, value)` for each element of a list, in order.
    fn items(&mut self, f: impl FnMut(usize, &mut Self) -> Result<(), ReadError>) -> Result<(), ReadError>;
    /// A number (`None` for null); anything else is an error.
    fn number(&mut self) -> Result<Option<f64>, ReadError>;
    /// A string; anything else is an error.
    fn text(&mut self) -> Result<Self::Text, ReadError>;
}

/// [`Node::pick`] by walking every member with [`Node::fields`] (the default, and what a holder
/// with lookups falls back to).
pub fn pick_by_walking<N: Node>(
    node: &mut N,
    names: &[&'static str],
    mut f: impl FnMut(usize, &mut N) -> Result<(), ReadError>,
) -> Result<(), ReadError> {
    node.fields(|name, _, v| match names.iter().position(|n| n.as_bytes() == name) {
        Some(i) => f(i, v),
        None => Ok(()),
    })
}

/// One step of a JSON path.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    Field(String),
    Index(usize),
}

/// Which [`CredoError`] a read error becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadErrorKind {
    Invalid,
    Shape,
    Empty,
}

/// An error while reading, with the path to the value at fault (collected innermost first as
/// the error travels out of the walk).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadError {
    kind: ReadErrorKind,
    msg: String,
    path: Vec<Step>,
}

impl ReadError {
    pub fn new(kind: ReadErrorKind, msg: impl Into<String>) -> Self {
        Self {
            kind,
            msg: msg.into(),
            path: Vec::new(),
        }
    }

    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::new(ReadErrorKind::Invalid, msg)
    }

    /// The same error one level out: inside member `name` of an object.
    #[must_use]
    pub fn in_field(mut self, name: &[u8]) -> Self {
        self.path.push(Step::Field(String::from_utf8_lossy(name).into_owned()));
        self
    }

    /// The same error one level out: inside element `i` of a list.
    #[must_use]
    pub fn at(mut self, i: usize) -> Self {
        self.path.push(Step::Index(i));
        self
    }

    /// The JSON path below the root, e.g. `.choices[0].logprobs`.
    pub fn path(&self) -> String {
        let mut s = String::new();
        for step in self.path.iter().rev() {
            match step {
                Step::Field(name) => {
                    s.push('.');
                    s.push_str(name);
                }
                Step::Index(i) => {
                    s.push('[');
                    s.push_str(&i.to_string());
                    s.push(']');
                }
            }
        }
        s
    }

    /// The engine's error, naming `root` (the argument) and the path below it.
    pub fn into_credo(self, root: &str) -> CredoError {
        let arg = format!("{root}{}", self.path());
        match self.kind {
            ReadErrorKind::Invalid => CredoError::invalid(arg, self.msg),
            ReadErrorKind::Shape => CredoError::shape(arg, self.msg),
            ReadErrorKind::Empty => CredoError::empty(arg, self.msg),
        }
    }
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "response{}: {}", self.path(), self.msg)
    }
}
