//! The walks over a response's layout (OpenAI chat and legacy completions, their stream chunks,
//! Gemini), generic over [`Node`], and the rows they build.

use super::json::{Body, Span};
use super::{Kind, Node, ReadError, ReadErrorKind, TakeTop};
use crate::error::{CredoError, Result};
use crate::signals::{TopkLogprobs, TopkResponse};

/// Logprobs at or below this mean "outside the top-k" (OpenAI, vLLM): missing.
pub const SENTINEL: f64 = -9999.0;

/// What to read.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReadOptions {
    /// The choice (OpenAI: its position, or its `index` in stream chunks) or Gemini candidate.
    pub choice: usize,
    /// The declared top-k (default: the widest row).
    pub k: Option<usize>,
    /// Keep the tokens (as [`Node::Text`] handles, decoded only when asked).
    pub tokens: bool,
    /// The chosen logprob of a position without one (NaN; LM-Polygraph uses −100).
    pub missing_chosen: f64,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            choice: 0,
            k: None,
            tokens: false,
            missing_chosen: f64::NAN,
        }
    }
}

/// The layout a response was read in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `choices[i].logprobs.content[*]` (chat completions).
    Chat,
    /// `choices[i].logprobs.{tokens, token_logprobs, top_logprobs}` (legacy completions).
    Legacy,
    /// A list of `stream=True` chunks, concatenated in order.
    Chunks,
    /// Gemini's `candidates[i].logprobsResult`.
    Gemini,
}

impl Layout {
    pub fn name(self) -> &'static str {
        match self {
            Layout::Chat => "chat",
            Layout::Legacy => "legacy",
            Layout::Chunks => "chunks",
            Layout::Gemini => "gemini",
        }
    }
}

/// The top-k logprobs of one generated sequence: what `topk_summary` needs, and the tokens.
#[derive(Clone, Debug)]
pub struct Logprobs<T> {
    /// `[rows, width]` row-major; each row sorted descending (missing entries, NaN, last), padded
    /// with NaN. A response without top logprobs has width 1, all NaN.
    pub top: Vec<f64>,
    pub rows: usize,
    pub width: usize,
    /// `[rows]`, [`ReadOptions::missing_chosen`] where the server gave none.
    pub chosen: Vec<f64>,
    /// The declared top-k (default: the widest row); 0 when the server returned the chosen
    /// tokens' logprobs only (it ignored `top_logprobs`).
    pub k: usize,
    pub layout: Layout,
    /// Per position, the chosen token (when asked; `None` where it was missing).
    pub tokens: Vec<Option<T>>,
    /// `[rows, width]`, the tokens of `top` in the same order (when asked).
    pub top_tokens: Vec<Option<T>>,
    /// Entries per row before padding (when the tokens are asked).
    pub row_len: Vec<usize>,
    /// Gemini's `avgLogprobs` of the candidate, when present.
    pub avg_logprob: Option<f64>,
    /// Choices (candidates) in the response.
    pub n_choices: usize,
}

impl<T> Logprobs<T> {
    /// The arrays as `topk_summary` takes them (with `TopkOptions::k` = [`Self::k`], or `None`
    /// when it is 0).
    pub fn response(&self) -> TopkResponse<'_> {
        TopkResponse {
            top: TopkLogprobs::F64(&self.top),
            rows: self.rows,
            width: self.width,
            chosen: Some(&self.chosen),
        }
    }
}

/// Reads a response body (UTF-8 JSON): an OpenAI chat or legacy completion (also vLLM's and
/// other compatible servers'), its `choices[i].logprobs`, its `content` list, a JSON list of its
/// stream chunks, or a Gemini response. Tokens are kept as spans of `body`
/// ([`Span::decode`]).
pub fn read_openai(body: &[u8], opts: &ReadOptions) -> Result<Logprobs<Span>> {
    let mut b = Body::new(body).map_err(|e| e.into_credo("response"))?;
    let out = read(b.root(), opts)?;
    b.finish().map_err(|e| e.into_credo("response"))?;
    Ok(out)
}

/// Reads the response held by `root` (see [`read_openai`]).
pub fn read<N: Node>(root: &mut N, opts: &ReadOptions) -> Result<Logprobs<N::Text>> {
    if opts.k == Some(0) {
        return Err(CredoError::invalid("k", "must be at least 1"));
    }
    let mut w = Walk::new(opts);
    w.root(root).map_err(|e| w.credo(e))?;
    w.finish()
}

/// One stream chunk's rows, every choice's (sorted as the readers sort them).
#[derive(Clone, Debug, Default)]
pub struct ChunkRows {
    /// The rows' entries back to back; row `r` ends at `ends[r]`.
    pub vals: Vec<f64>,
    pub ends: Vec<usize>,
    /// Per row: the chosen logprob (NaN when missing) and the choice's `index`.
    pub chosen: Vec<f64>,
    pub choice: Vec<usize>,
}

/// Reads one `stream=True` chunk (`{"choices": [{"index", "delta", "logprobs"}, …], …}`; a chunk
/// without choices or logprobs holds no rows).
pub fn read_chunk<N: Node>(root: &mut N) -> std::result::Result<ChunkRows, ReadError> {
    let mut w: Walk<N::Text> = Walk::new(&ReadOptions::default());
    w.collect = true;
    root.fields(|name, _, v| if name == b"choices" { w.choices(v, true) } else { Ok(()) })?;
    let rows = w.rows;
    Ok(ChunkRows {
        vals: rows.vals,
        ends: rows.ends,
        chosen: rows.chosen,
        choice: w.row_choice,
    })
}

/// Where a walk stands.
struct Walk<T> {
    opts: ReadOptions,
    rows: Rows<T>,
    layout: Option<Layout>,
    /// Whether the wanted choice was found.
    found: bool,
    n_choices: usize,
    avg_logprob: Option<f64>,
    /// An error about an argument rather than a value of the response.
    argument: Option<CredoError>,
    /// Keep every choice of stream chunks, each row tagged with its choice's index
    /// ([`read_chunk`]).
    collect: bool,
    row_choice: Vec<usize>,
}

/// A logprob as credo keeps it: NaN when missing (null, at or below the sentinel, −∞).
#[inline(always)]
fn logprob(v: Option<f64>) -> Result<f64, ReadError> {
    match v {
        None => Ok(f64::NAN),
        Some(x) => kept(x).ok_or_else(|| not_a_logprob(x)),
    }
}

/// A written logprob as credo keeps it (NaN at or below the sentinel), or `None` when it is no
/// logprob (NaN, above 0): the check alone, no error built, so that the one-step list reading
/// inlines it.
#[inline(always)]
fn kept(x: f64) -> Option<f64> {
    if x.is_nan() || x > crate::signals::topk::POSITIVE_SLACK {
        None
    } else if x <= SENTINEL {
        Some(f64::NAN)
    } else {
        Some(x)
    }
}

/// The one-step readings' top entries into the current row while their logprobs are valid
/// ([`kept`]): a type of its own, held inline by the readings' loops ([`TakeTop`]).
struct KeptInRow<'r, T>(&'r mut Rows<T>);

impl<T: Clone> TakeTop<T> for KeptInRow<'_, T> {
    #[inline(always)]
    fn take(&mut self, token: Option<T>, lp: f64) -> bool {
        match kept(lp) {
            Some(lp) => {
                self.0.entry(token, lp);
                true
            }
            None => false,
        }
    }

    #[inline(always)]
    fn take_all(&mut self, tokens: &[T], lps: &[f64], _: bool) -> bool {
        // Every logprob valid ([`kept`]: not NaN, not above 0), told by one pass without a branch
        // each; then the batch copied in, the sentinel's as missing.
        if !lps
            .iter()
            .fold(true, |ok, &x| ok & (x <= crate::signals::topk::POSITIVE_SLACK))
        {
            return false;
        }
        let rows = &mut *self.0;
        rows.vals
            .extend(lps.iter().map(|&x| if x <= SENTINEL { f64::NAN } else { x }));
        if rows.want_tokens {
            rows.toks.extend(tokens.iter().map(|t| Some(t.clone())));
        }
        true
    }
}

/// Why `x` is no logprob ([`kept`] refused it).
#[cold]
fn not_a_logprob(x: f64) -> ReadError {
    if x.is_nan() {
        ReadError::invalid("NaN is not a logprob")
    } else {
        ReadError::invalid(format!("logprob {x} is above 0"))
    }
}

fn number<N: Node>(v: &mut N) -> Result<f64, ReadError> {
    logprob(v.number()?)
}

/// A non-negative integer (a choice's `index`).
fn index<N: Node>(v: &mut N) -> Result<usize, ReadError> {
    match v.number()? {
        Some(x) if (0.0..4_294_967_296.0).contains(&x) && x.fract() == 0.0 => Ok(x as usize),
        _ => Err(ReadError::invalid("expected a non-negative integer index")),
    }
}

/// A token: its text, or `None` for null.
fn token<N: Node>(v: &mut N) -> Result<Option<N::Text>, ReadError> {
    if v.kind() == Kind::Null {
        v.number().map(|_| None)
    } else {
        v.text().map(Some)
    }
}

/// State of one `logprobs` object (chat `content`, or the legacy arrays in any order).
struct LogprobsObject<T> {
    mark: Mark,
    chat: bool,
    legacy_tokens: Option<Vec<Option<T>>>,
    legacy_chosen: Option<Vec<f64>>,
    legacy_rows: Option<usize>,
}

impl<T: Clone> Walk<T> {
    fn new(opts: &ReadOptions) -> Self {
        Self {
            opts: *opts,
            rows: Rows::new(opts.tokens),
            layout: None,
            found: false,
            n_choices: 0,
            avg_logprob: None,
            argument: None,
            collect: false,
            row_choice: Vec::new(),
        }
    }

    fn credo(&mut self, e: ReadError) -> CredoError {
        self.argument.take().unwrap_or_else(|| e.into_credo("response"))
    }

    fn set_layout(&mut self, l: Layout) -> Result<(), ReadError> {
        match self.layout {
            Some(old) if old != l && !(old == Layout::Chunks || l == Layout::Chunks) => Err(ReadError::invalid(
                format!("mixes the {} and {} layouts", old.name(), l.name()),
            )),
            Some(Layout::Chunks) => Ok(()),
            _ => {
                self.layout = Some(l);
                Ok(())
            }
        }
    }

    fn root<N: Node<Text = T>>(&mut self, node: &mut N) -> Result<(), ReadError> {
        match node.kind() {
            Kind::Array => self.list(node),
            Kind::Object => {
                // A response (`choices`, `candidates`), or a `logprobs` object itself.
                let mut here = self.begin_logprobs();
                let mut response = false;
                node.fields(|name, _, v| match name {
                    b"choices" | b"candidates" => {
                        if !response {
                            self.rows.reset(&here.mark);
                            response = true;
                        }
                        if name == b"choices" {
                            self.choices(v, false)
                        } else {
                            self.candidates(v)
                        }
                    }
                    _ if response => Ok(()),
                    _ => self.logprobs_field(&mut here, name, v),
                })?;
                if response {
                    return Ok(());
                }
                if here.chat || here.legacy_tokens.is_some() {
                    self.found = true;
                    self.n_choices = 1;
                }
                self.end_logprobs(here)
            }
            // Not a value at all: the holder's own error (a body's syntax error).
            Kind::Invalid => node.fields(|_, _, _| Ok(())),
            k => Err(ReadError::invalid(format!(
                "expected a response (an object, or a list of its stream chunks or content entries), got {}",
                k.name()
            ))),
        }
    }

    /// A root list: stream chunks (objects with `choices`) or chat `content` entries.
    fn list<N: Node<Text = T>>(&mut self, node: &mut N) -> Result<(), ReadError> {
        let mut chunks: Option<bool> = None;
        node.items(|_, el| {
            let mut entry = Entry::default();
            let mut is_chunk = false;
            let start = self.rows.row_start();
            el.fields(|name, _, v| {
                if name == b"choices" {
                    is_chunk = true;
                    self.choices(v, true)
                } else if let Some(field) = ENTRY_FIELDS.iter().find(|f| f.as_bytes() == name) {
                    self.entry_field(&mut entry, start, field, v)
                } else {
                    Ok(())
                }
            })?;
            let chunk = if entry.decisive {
                false
            } else {
                is_chunk || chunks == Some(true)
            };
            if (entry.decisive && is_chunk) || chunks.is_some_and(|c| c != chunk) {
                return Err(ReadError::invalid(
                    "mixes stream chunks and content entries (pass a response, its chunks or its content)",
                ));
            }
            chunks = Some(chunk);
            if chunk {
                self.set_layout(Layout::Chunks)
            } else {
                self.found = true;
                self.n_choices = 1;
                self.set_layout(Layout::Chat)?;
                self.end_entry(entry);
                Ok(())
            }
        })
    }

    /// `choices`: reads the wanted one (by its `index`, else its position) into the rows.
    fn choices<N: Node<Text = T>>(&mut self, node: &mut N, chunk: bool) -> Result<(), ReadError> {
        node.items(|pos, choice| {
            if !chunk {
                self.n_choices = pos + 1;
                if pos != self.opts.choice {
                    // Another choice of a response: skipped (its syntax checked only).
                    return Ok(());
                }
            }
            let mark = self.rows.mark();
            let mut idx = None;
            let mut has_logprobs = false;
            choice.fields(|name, _, v| match name {
                b"index" => {
                    idx = Some(index(v)?);
                    Ok(())
                }
                b"logprobs" => {
                    self.rows.reset(&mark);
                    if v.kind() == Kind::Null {
                        has_logprobs = false;
                        return v.number().map(|_| ());
                    }
                    has_logprobs = true;
                    self.logprobs_object(v)
                }
                _ => Ok(()),
            })?;
            if !chunk {
                if !has_logprobs {
                    return Err(
                        ReadError::invalid("the choice has no logprobs (request them with logprobs=True)")
                            .in_field(b"logprobs"),
                    );
                }
                self.found = true;
                return Ok(());
            }
            // A stream chunk: its choices are named by `index` (one chunk may carry any of them).
            let idx = idx.unwrap_or(pos);
            self.n_choices = self.n_choices.max(idx + 1);
            if self.collect {
                self.row_choice.resize(self.rows.ends.len(), idx);
                return Ok(());
            }
            if idx == self.opts.choice {
                self.found = true;
            } else {
                self.rows.reset(&mark);
            }
            Ok(())
        })
    }

    fn begin_logprobs(&self) -> LogprobsObject<T> {
        LogprobsObject {
            mark: self.rows.mark(),
            chat: false,
            legacy_tokens: None,
            legacy_chosen: None,
            legacy_rows: None,
        }
    }

    /// `choices[i].logprobs`, chat or legacy.
    fn logprobs_object<N: Node<Text = T>>(&mut self, node: &mut N) -> Result<(), ReadError> {
        let mut here = self.begin_logprobs();
        node.fields(|name, _, v| self.logprobs_field(&mut here, name, v))?;
        if !here.chat && here.legacy_tokens.is_none() {
            return Err(ReadError::invalid(
                "no logprobs.content (chat) or logprobs.tokens (legacy completions) found",
            ));
        }
        self.end_logprobs(here)
    }

    fn logprobs_field<N: Node<Text = T>>(
        &mut self,
        here: &mut LogprobsObject<T>,
        name: &[u8],
        v: &mut N,
    ) -> Result<(), ReadError> {
        match name {
            b"content" if v.kind() != Kind::Null => {
                // Chat wins over the legacy arrays (as the Python reader had it).
                self.rows.reset(&here.mark);
                *here = LogprobsObject {
                    chat: true,
                    ..self.begin_logprobs()
                };
                self.set_layout(Layout::Chat)?;
                let at = v.offset();
                v.items(|i, e| {
                    self.content_entry(e)?;
                    if i == 0 {
                        self.rows.reserve_like_first(at, e.offset());
                    }
                    Ok(())
                })
            }
            _ if here.chat => Ok(()),
            b"tokens" if v.kind() != Kind::Null => {
                let mut toks = Vec::new();
                v.items(|_, t| {
                    let t = token(t)?;
                    toks.push(t);
                    Ok(())
                })?;
                here.legacy_tokens = Some(toks);
                Ok(())
            }
            b"token_logprobs" => {
                let mut lps = Vec::new();
                if v.kind() != Kind::Null {
                    v.items(|_, x| {
                        lps.push(number(x)?);
                        Ok(())
                    })?;
                }
                here.legacy_chosen = Some(lps);
                Ok(())
            }
            b"top_logprobs" => {
                self.rows.reset(&here.mark);
                let mut n = 0;
                if v.kind() != Kind::Null {
                    v.items(|_, row| {
                        n += 1;
                        if row.kind() != Kind::Null {
                            self.legacy_row(row)?;
                        }
                        self.rows.end_row();
                        Ok(())
                    })?;
                }
                here.legacy_rows = Some(n);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// One legacy `top_logprobs` element: `{token: logprob}` (a repeated key keeps its first
    /// place and its last value, as `json.loads` builds the dict).
    fn legacy_row<N: Node<Text = T>>(&mut self, row: &mut N) -> Result<(), ReadError> {
        self.rows.names.clear();
        self.rows.name_ends.clear();
        row.fields(|name, text, v| {
            let lp = number(v)?;
            if let Some(j) = self.rows.find_name(name) {
                self.rows.set_entry(j, lp);
            } else {
                self.rows.names.extend_from_slice(name);
                self.rows.name_ends.push(self.rows.names.len());
                self.rows.entry(Some(text.clone()), lp);
            }
            Ok(())
        })
    }

    fn end_logprobs(&mut self, here: LogprobsObject<T>) -> Result<(), ReadError> {
        if here.chat {
            return Ok(());
        }
        let Some(tokens) = here.legacy_tokens else {
            // Legacy arrays without tokens: nothing is read from this object.
            if here.legacy_rows.is_some() {
                self.rows.reset(&here.mark);
            }
            return Ok(());
        };
        self.set_layout(Layout::Legacy)?;
        let n = tokens.len();
        // An empty or missing array stands for "none given" (as the Python reader had it).
        let chosen = here
            .legacy_chosen
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| vec![f64::NAN; n]);
        let rows = match here.legacy_rows {
            Some(r) if r > 0 => r,
            _ => {
                self.rows.reset(&here.mark);
                for _ in 0..n {
                    self.rows.end_row();
                }
                n
            }
        };
        if chosen.len() != n || rows != n {
            return Err(ReadError::new(
                ReadErrorKind::Shape,
                format!(
                    "tokens, token_logprobs and top_logprobs differ in length ({n}, {}, {rows})",
                    chosen.len()
                ),
            ));
        }
        self.rows.chosen.extend_from_slice(&chosen);
        if self.rows.want_tokens {
            self.rows.tokens.extend(tokens);
        }
        Ok(())
    }

    /// One chat `content` entry: `{token, logprob, top_logprobs: [{token, logprob}, …]}`.
    fn content_entry<N: Node<Text = T>>(&mut self, node: &mut N) -> Result<(), ReadError> {
        let start = self.rows.row_start();
        if self.plain_content_entry(node, start) {
            return Ok(());
        }
        let mut entry = Entry::default();
        if node.kind() != Kind::Null {
            node.pick(&ENTRY_FIELDS, |i, v| {
                self.entry_field(&mut entry, start, ENTRY_FIELDS[i], v)
            })?;
        } else {
            node.number()?;
        }
        self.end_entry(entry);
        Ok(())
    }

    /// The entry read in one step ([`Node::plain_content_entry`]) while its logprobs are valid;
    /// else nothing is kept (the general walk then reads it, and reports what is wrong).
    #[inline(always)]
    fn plain_content_entry<N: Node<Text = T>>(&mut self, node: &mut N, start: usize) -> bool {
        let want = self.rows.want_tokens;
        let mut entry = Entry {
            decisive: true,
            ..Entry::default()
        };
        let chosen = |tok, lp| match kept(lp) {
            Some(lp) => {
                entry.token = tok;
                entry.chosen = lp;
                true
            }
            None => false,
        };
        if node.plain_content_entry(want, chosen, KeptInRow(&mut self.rows)) {
            self.end_entry(entry);
            return true;
        }
        self.rows.truncate_row(start);
        false
    }

    fn entry_field<N: Node<Text = T>>(
        &mut self,
        entry: &mut Entry<T>,
        start: usize,
        name: &str,
        v: &mut N,
    ) -> Result<(), ReadError> {
        match name {
            "token" => {
                entry.decisive = true;
                entry.token = if self.rows.want_tokens {
                    token(v)?
                } else {
                    token(v).map(|_| None)?
                };
            }
            "logprob" => {
                entry.decisive = true;
                entry.chosen = number(v)?;
            }
            "top_logprobs" => {
                entry.decisive = true;
                self.rows.truncate_row(start);
                if v.kind() == Kind::Null {
                    return v.number().map(|_| ());
                }
                // The whole list in one pass while its entries are plain and their logprobs
                // valid; else the entries taken are dropped and the walk below reads it.
                let want = self.rows.want_tokens;
                if v.plain_top_list(want, KeptInRow(&mut self.rows)) {
                    return Ok(());
                }
                self.rows.truncate_row(start);
                v.items(|_, e| {
                    if let Some((tok, lp)) = e.plain_top_entry(self.rows.want_tokens) {
                        let lp = logprob(Some(lp)).map_err(|e| e.in_field(b"logprob"))?;
                        self.rows.entry(tok, lp);
                        return Ok(());
                    }
                    if e.kind() == Kind::Null {
                        e.number()?;
                        self.rows.entry(None, f64::NAN);
                        return Ok(());
                    }
                    let (mut tok, mut lp) = (None, f64::NAN);
                    e.pick(&TOP_FIELDS, |i, v| {
                        if i == 1 {
                            lp = number(v)?;
                        } else if self.rows.want_tokens {
                            tok = token(v)?;
                        } else {
                            token(v)?;
                        }
                        Ok(())
                    })?;
                    self.rows.entry(tok, lp);
                    Ok(())
                })?;
            }
            _ => {}
        }
        Ok(())
    }

    fn end_entry(&mut self, entry: Entry<T>) {
        self.rows.end_row();
        self.rows.chosen.push(entry.chosen);
        if self.rows.want_tokens {
            self.rows.tokens.push(entry.token);
        }
    }

    /// Gemini's `candidates`: the wanted one's `logprobsResult` and `avgLogprobs` (camelCase as
    /// the REST API writes them, snake_case as the SDK's objects and `model_dump` do).
    fn candidates<N: Node<Text = T>>(&mut self, node: &mut N) -> Result<(), ReadError> {
        node.items(|pos, cand| {
            self.n_choices = pos + 1;
            if pos != self.opts.choice {
                return Ok(());
            }
            self.found = true;
            self.set_layout(Layout::Gemini)?;
            let mut has_result = false;
            cand.fields(|name, _, v| match name {
                b"avgLogprobs" | b"avg_logprobs" => {
                    self.avg_logprob = v.number()?;
                    Ok(())
                }
                b"logprobsResult" | b"logprobs_result" if v.kind() != Kind::Null => {
                    has_result = true;
                    self.gemini_result(v)
                }
                _ => Ok(()),
            })?;
            if !has_result {
                return Err(ReadError::invalid(
                    "the candidate has no logprobsResult (request it with responseLogprobs=True)",
                ));
            }
            Ok(())
        })
    }

    fn gemini_result<N: Node<Text = T>>(&mut self, node: &mut N) -> Result<(), ReadError> {
        let mark = self.rows.mark();
        let mut top_rows = None;
        let mut chosen = None;
        node.fields(|name, _, v| match name {
            b"topCandidates" | b"top_candidates" if v.kind() != Kind::Null => {
                self.rows.reset(&mark);
                let mut n = 0;
                v.items(|_, row| {
                    n += 1;
                    row.fields(|name, _, v| match name {
                        b"candidates" if v.kind() != Kind::Null => v.items(|_, c| {
                            let (tok, lp) = self.gemini_candidate(c)?;
                            self.rows.entry(tok, lp);
                            Ok(())
                        }),
                        _ => Ok(()),
                    })?;
                    self.rows.end_row();
                    Ok(())
                })?;
                top_rows = Some(n);
                Ok(())
            }
            b"chosenCandidates" | b"chosen_candidates" if v.kind() != Kind::Null => {
                let mut c = Vec::new();
                v.items(|_, x| {
                    c.push(self.gemini_candidate(x)?);
                    Ok(())
                })?;
                chosen = Some(c);
                Ok(())
            }
            _ => Ok(()),
        })?;
        let chosen = chosen.ok_or_else(|| ReadError::invalid("no chosenCandidates"))?;
        let n = chosen.len();
        match top_rows {
            Some(r) if r != n => {
                return Err(ReadError::new(
                    ReadErrorKind::Shape,
                    format!("chosenCandidates and topCandidates differ in length ({n}, {r})"),
                ))
            }
            Some(_) => {}
            None => {
                for _ in 0..n {
                    self.rows.end_row();
                }
            }
        }
        for (tok, lp) in chosen {
            self.rows.chosen.push(lp);
            if self.rows.want_tokens {
                self.rows.tokens.push(tok);
            }
        }
        Ok(())
    }

    /// `{token, logProbability}`; an absent logProbability is 0 (protobuf's JSON leaves out
    /// fields at their default).
    fn gemini_candidate<N: Node<Text = T>>(&mut self, node: &mut N) -> Result<(Option<T>, f64), ReadError> {
        let (mut tok, mut lp) = (None, 0.0);
        let want = self.rows.want_tokens;
        node.fields(|name, _, v| {
            match name {
                b"token" => {
                    let t = token(v)?;
                    if want {
                        tok = t;
                    }
                }
                b"logProbability" | b"log_probability" => lp = number(v)?,
                _ => {}
            }
            Ok(())
        })?;
        Ok((tok, lp))
    }

    fn finish(mut self) -> Result<Logprobs<T>> {
        if let Some(e) = self.argument.take() {
            return Err(e);
        }
        if !self.found {
            return Err(if self.n_choices > 0 {
                CredoError::invalid(
                    "choice",
                    format!(
                        "{} is not among the response's {} choices",
                        self.opts.choice, self.n_choices
                    ),
                )
            } else {
                CredoError::invalid(
                    "response",
                    "no choices[i].logprobs, logprobs.content (chat), logprobs.tokens (legacy completions) \
                     or candidates[i].logprobsResult (Gemini) found",
                )
            });
        }
        let layout = self.layout.unwrap_or(Layout::Chunks);
        let rows = self.rows.ends.len();
        if rows == 0 {
            return Err(CredoError::empty(
                "response",
                if layout == Layout::Chunks {
                    "the chunks hold no logprobs (request them with logprobs=True)"
                } else {
                    "the logprobs hold no tokens"
                },
            ));
        }
        debug_assert_eq!(self.rows.chosen.len(), rows);
        self.rows.pack(layout, &self.opts, self.n_choices, self.avg_logprob)
    }
}

/// A chat content entry being read.
/// The members of a chat `content` entry that are read, and of its `top_logprobs` entries.
const ENTRY_FIELDS: [&str; 3] = ["token", "logprob", "top_logprobs"];
const TOP_FIELDS: [&str; 2] = ["token", "logprob"];

struct Entry<T> {
    token: Option<T>,
    chosen: f64,
    /// A key of a content entry was seen (tells entries from chunks in a root list).
    decisive: bool,
}

impl<T> Default for Entry<T> {
    fn default() -> Self {
        Self {
            token: None,
            chosen: f64::NAN,
            decisive: false,
        }
    }
}

/// A position in [`Rows`] to go back to.
#[derive(Clone, Copy, Debug)]
struct Mark {
    vals: usize,
    ends: usize,
    chosen: usize,
    tokens: usize,
}

/// The rows read so far: every row's entries back to back (`ends` closes each row).
struct Rows<T> {
    vals: Vec<f64>,
    toks: Vec<Option<T>>,
    ends: Vec<usize>,
    chosen: Vec<f64>,
    tokens: Vec<Option<T>>,
    want_tokens: bool,
    /// The names of the current legacy row (to merge repeated keys).
    names: Vec<u8>,
    name_ends: Vec<usize>,
    order: Vec<usize>,
}

/// `v` without its spare room when that is more than half its length.
fn shrink<V>(v: &mut Vec<V>) {
    if v.capacity() - v.len() > v.len() / 2 {
        v.shrink_to_fit();
    }
}

/// The sort key of an entry: NaN (missing) below everything.
#[inline(always)]
fn key(x: f64) -> f64 {
    if x.is_nan() {
        f64::NEG_INFINITY
    } else {
        x
    }
}

impl<T: Clone> Rows<T> {
    fn new(want_tokens: bool) -> Self {
        Self {
            vals: Vec::new(),
            toks: Vec::new(),
            ends: Vec::new(),
            chosen: Vec::new(),
            tokens: Vec::new(),
            want_tokens,
            names: Vec::new(),
            name_ends: Vec::new(),
            order: Vec::new(),
        }
    }

    fn mark(&self) -> Mark {
        Mark {
            vals: self.vals.len(),
            ends: self.ends.len(),
            chosen: self.chosen.len(),
            tokens: self.tokens.len(),
        }
    }

    fn reset(&mut self, m: &Mark) {
        self.vals.truncate(m.vals);
        self.toks.truncate(if self.want_tokens { m.vals } else { 0 });
        self.ends.truncate(m.ends);
        self.chosen.truncate(m.chosen);
        self.tokens.truncate(m.tokens);
    }

    /// Room for as many rows as the first one's size in bytes says the rest of the response
    /// holds (`from`: where the list began, `to`: where its first row ended, as
    /// [`Node::offset`] gives them; a quarter more for rows longer than the first), so that the
    /// rows are not copied as they grow. At most a few times the response's own size: each
    /// entry takes at least a few bytes.
    fn reserve_like_first(&mut self, from: Option<(usize, usize)>, to: Option<(usize, usize)>) {
        let (Some((from, len)), Some((to, _))) = (from, to) else {
            return;
        };
        let rows = len.saturating_sub(from) / to.saturating_sub(from).max(1) + 1;
        let rows = rows + rows / 4;
        let width = self.ends.len().checked_sub(2).map_or(0, |r| self.ends[r]);
        let width = self.row_start() - width;
        self.vals.reserve(rows * width);
        self.ends.reserve(rows);
        self.chosen.reserve(rows);
        if self.want_tokens {
            self.toks.reserve(rows * width);
            self.tokens.reserve(rows);
        }
    }

    fn row_start(&self) -> usize {
        self.ends.last().copied().unwrap_or(0)
    }

    fn truncate_row(&mut self, start: usize) {
        self.vals.truncate(start);
        if self.want_tokens {
            self.toks.truncate(start);
        }
    }

    #[inline(always)]
    fn entry(&mut self, tok: Option<T>, lp: f64) {
        self.vals.push(lp);
        if self.want_tokens {
            self.toks.push(tok);
        }
    }

    fn set_entry(&mut self, j: usize, lp: f64) {
        let at = self.row_start() + j;
        self.vals[at] = lp;
    }

    fn find_name(&self, name: &[u8]) -> Option<usize> {
        let mut from = 0;
        for (j, &end) in self.name_ends.iter().enumerate() {
            if &self.names[from..end] == name {
                return Some(j);
            }
            from = end;
        }
        None
    }

    /// Closes the current row, sorting it descending (stable, missing last) unless it already is.
    fn end_row(&mut self) {
        let start = self.row_start();
        let row = &mut self.vals[start..];
        // Servers write rows sorted: one comparison a pair, without a branch each (two slices
        // zipped, so that the pairs are compared a vector at a time), tells most of them; a NaN
        // (missing, sorted last) fails it and takes the exact check.
        let pairs = row.iter().zip(row.get(1..).unwrap_or(&[]));
        let plainly_sorted = pairs.fold(true, |ok, (a, b)| ok & (a >= b));
        if !plainly_sorted && !row.windows(2).all(|w| key(w[0]) >= key(w[1])) {
            self.order.clear();
            self.order.extend(0..row.len());
            let r = &*row;
            self.order
                .sort_by(|&a, &b| key(r[b]).partial_cmp(&key(r[a])).unwrap_or(std::cmp::Ordering::Equal));
            let sorted: Vec<f64> = self.order.iter().map(|&i| r[i]).collect();
            row.copy_from_slice(&sorted);
            if self.want_tokens {
                let toks = &mut self.toks[start..];
                let sorted: Vec<Option<T>> = self.order.iter().map(|&i| toks[i].clone()).collect();
                toks.clone_from_slice(&sorted);
            }
        }
        self.ends.push(self.vals.len());
    }

    fn pack(mut self, layout: Layout, opts: &ReadOptions, n_choices: usize, avg: Option<f64>) -> Result<Logprobs<T>> {
        // The rows handed over keep no more than half again their size ([`Rows::reserve_like_first`]
        // may have made room for the other choices' rows too).
        shrink(&mut self.vals);
        shrink(&mut self.toks);
        shrink(&mut self.chosen);
        shrink(&mut self.tokens);
        let rows = self.ends.len();
        let mut widest = 0;
        let mut from = 0;
        for &end in &self.ends {
            widest = widest.max(end - from);
            from = end;
        }
        let width = widest.max(1);
        // Rows of very different lengths would need far more memory than the input holds.
        let cells = rows.saturating_mul(width);
        if cells > (64 * (self.vals.len() + rows)).max(1 << 20) {
            return Err(CredoError::shape(
                "response",
                format!("rows of very different lengths ({rows} rows, the widest {widest} entries)"),
            ));
        }
        let (top, top_tokens) = if self.vals.len() == cells {
            (self.vals, self.toks)
        } else {
            let mut top = vec![f64::NAN; cells];
            let mut toks: Vec<Option<T>> = Vec::new();
            if self.want_tokens {
                toks.resize(cells, None);
            }
            let mut from = 0;
            for (r, &end) in self.ends.iter().enumerate() {
                top[r * width..r * width + end - from].copy_from_slice(&self.vals[from..end]);
                if self.want_tokens {
                    toks[r * width..r * width + end - from].clone_from_slice(&self.toks[from..end]);
                }
                from = end;
            }
            (top, toks)
        };
        let mut row_len = Vec::new();
        if self.want_tokens {
            let mut from = 0;
            for &end in &self.ends {
                row_len.push(end - from);
                from = end;
            }
        }
        let mut chosen = self.chosen;
        if !opts.missing_chosen.is_nan() {
            for c in &mut chosen {
                if c.is_nan() {
                    *c = opts.missing_chosen;
                }
            }
        }
        Ok(Logprobs {
            top,
            rows,
            width,
            chosen,
            k: opts.k.unwrap_or(widest),
            layout,
            tokens: self.tokens,
            top_tokens,
            row_len,
            avg_logprob: avg,
            n_choices,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_str(s: &str, opts: &ReadOptions) -> Result<Logprobs<Span>> {
        read_openai(s.as_bytes(), opts)
    }

    const CHAT: &str = r#"{"id":"x","choices":[{"index":0,"logprobs":{"content":[
        {"token":"Hi","logprob":-0.1,"bytes":[72,105],"top_logprobs":[{"token":"Hi","logprob":-0.1,"bytes":[72,105]},{"token":"Hey","logprob":-2.5,"bytes":null}]},
        {"token":"\u00e9","logprob":-9999,"top_logprobs":[{"token":"a","logprob":-3.0},{"token":"\u00e9","logprob":-0.5},{"token":"b","logprob":null}]}
    ],"refusal":null},"finish_reason":"stop"}],"usage":{"total_tokens":3}}"#;

    #[test]
    fn chat_rows_sorted_padded_and_tokens_decoded() {
        let opts = ReadOptions {
            tokens: true,
            ..Default::default()
        };
        let r = read_str(CHAT, &opts).unwrap();
        assert_eq!((r.rows, r.width, r.k, r.layout), (2, 3, 3, Layout::Chat));
        assert_eq!(&r.top[..2], &[-0.1, -2.5]);
        assert!(r.top[2].is_nan());
        assert_eq!(&r.top[3..5], &[-0.5, -3.0]);
        assert!(r.top[5].is_nan());
        assert!(r.chosen[0] == -0.1 && r.chosen[1].is_nan());
        let dec = |t: &Option<Span>| t.map(|s| s.decode(CHAT.as_bytes()).unwrap());
        assert_eq!(dec(&r.tokens[1]).as_deref(), Some("\u{e9}"));
        let row1: Vec<Option<String>> = r.top_tokens[3..6].iter().map(dec).collect();
        assert_eq!(row1, [Some("\u{e9}".into()), Some("a".into()), Some("b".into())]);
    }

    #[test]
    fn errors_name_the_json_path() {
        let bad = CHAT.replace(r#""logprob":-3.0"#, r#""logprob":"x""#);
        let e = read_str(&bad, &ReadOptions::default()).unwrap_err().to_string();
        assert!(
            e.starts_with("response.choices[0].logprobs.content[1].top_logprobs[0].logprob: expected a number"),
            "{e}"
        );
        let e = read_str(&CHAT[..300], &ReadOptions::default()).unwrap_err().to_string();
        assert!(e.contains("truncated"), "{e}");
        let e = read_str(&CHAT.replace("-2.5", "0.5"), &ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("top_logprobs[1].logprob: logprob 0.5 is above 0"), "{e}");
        let e = read_str(
            CHAT,
            &ReadOptions {
                choice: 1,
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(e
            .to_string()
            .starts_with("choice: 1 is not among the response's 1 choices"));
        let e = read_str(
            r#"{"choices":[{"logprobs":{"content":"notalist"}}]}"#,
            &ReadOptions::default(),
        );
        assert!(e
            .unwrap_err()
            .to_string()
            .contains("content: expected a list, got a string"));
    }

    #[test]
    fn legacy_rows_merge_repeated_keys_like_json_loads() {
        let s = r#"{"choices":[{"logprobs":{"tokens":["a","b"],"token_logprobs":[null,-0.5],
            "top_logprobs":[null,{"x":-1.0,"y":-0.2,"x":-0.1}],"text_offset":[0,1]}}]}"#;
        let r = read_str(s, &ReadOptions::default()).unwrap();
        assert_eq!((r.layout, r.rows, r.width), (Layout::Legacy, 2, 2));
        assert_eq!(&r.top[2..], &[-0.1, -0.2]);
        assert!(r.top[0].is_nan() && r.chosen[0].is_nan() && r.chosen[1] == -0.5);
    }
}

#[cfg(test)]
mod shortcut_tests {
    //! The one-step readings (plain entries, plain numbers, predicted keys, the vector kernels)
    //! against the general walk at the scalar level, on random bodies in the layouts servers
    //! write and on broken ones: the same arrays to the bit, or the same error.
    use super::*;
    use crate::rng::SplitMix64;
    use crate::simd::SimdLevel;

    /// How a body is read: the general walk (the reference), or the one-step readings with the
    /// crate's active kernels, the portable, SSE2 or AVX2 ones.
    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Path {
        General,
        Active,
        Portable,
        Sse2,
        Avx2,
    }

    fn read_path(body: &[u8], opts: &ReadOptions, path: Path) -> Result<Logprobs<Span>> {
        let b = match path {
            Path::General => Body::at_level(body, SimdLevel::Scalar).map(Body::general),
            Path::Active => Body::new(body),
            Path::Portable => Body::at_level(body, SimdLevel::Scalar),
            Path::Sse2 => Body::new(body).map(|b| b.kernels(true, false)),
            Path::Avx2 => Body::new(body).map(|b| b.kernels(true, true)),
        };
        let mut b = b.map_err(|e| e.into_credo("response"))?;
        let out = read(b.root(), opts)?;
        b.finish().map_err(|e| e.into_credo("response"))?;
        Ok(out)
    }

    /// The crate's one-step readings (`fast`) or the general walk.
    fn read_with(body: &[u8], opts: &ReadOptions, fast: bool) -> Result<Logprobs<Span>> {
        read_path(body, opts, if fast { Path::Active } else { Path::General })
    }

    fn pick<'a>(g: &mut SplitMix64, xs: &[&'a str]) -> &'a str {
        xs[(g.next_f64() * xs.len() as f64) as usize % xs.len()]
    }

    /// A logprob's text; `bad` draws malformed ones too.
    fn logprob_text(g: &mut SplitMix64, bad: bool) -> String {
        let x = -(g.next_f64() * 10f64.powi((g.next_f64() * 6.0) as i32 - 3));
        match (g.next_f64() * if bad { 14.0 } else { 12.0 }) as u32 {
            0..=5 => format!("{x:?}"),
            6 => format!("{x:.*}", (g.next_f64() * 22.0) as usize),
            7 => format!("{x:e}"),
            8 => format!("{}", -((g.next_f64() * 40.0) as i32)),
            9 => "-9999".into(),
            10 => "null".into(),
            11 => pick(g, &["-0", "0", "-0.0", "-0.123456789012345678901234", "-1E-3"]).into(),
            12 => pick(g, &["NaN", "0.5", "\"-0.5\"", "-01.5", "-.5", "-1.", "true"]).into(),
            _ => format!("{:.*}", (g.next_f64() * 3.0) as usize, x * 1e3),
        }
    }

    fn bytes_text(g: &mut SplitMix64, sep: &str, bad: bool) -> String {
        match (g.next_f64() * 10.0) as u32 {
            0 => "null".into(),
            1 => "[]".into(),
            2 if bad => pick(g, &["[01]", "[1,]", "[1 2]", "[-1, 2]", "[1.5]", "[ 1, 2 ]", "[1,\n2]"]).into(),
            n => {
                let len = if n == 3 { 30 } else { 1 + (g.next_f64() * 8.0) as usize };
                let v: Vec<String> = (0..len).map(|_| ((g.next_f64() * 256.0) as u32).to_string()).collect();
                format!("[{}]", v.join(sep))
            }
        }
    }

    fn token_text(g: &mut SplitMix64, bad: bool) -> String {
        if bad && g.next_f64() < 0.1 {
            return "\"bad\\x\"".into();
        }
        pick(
            g,
            &[
                "\" word\"",
                "\"a\"",
                "\"\"",
                "\"\\u00e9\"",
                "\"a\\\"b\"",
                "\"\\ud83d\\ude00\"",
                "\"\u{e9}t\u{e9}\"",
                "\"a long token of more than thirty-two bytes\"",
                "\"\\n\"",
                "null",
            ],
        )
        .into()
    }

    /// A chat completion of random rows, spacing and value forms.
    fn body(g: &mut SplitMix64) -> String {
        let bad = g.next_f64() < 0.2;
        let (sep, colon) = match (g.next_f64() * 4.0) as u32 {
            0 => (",", ":"),
            1 => (", ", ": "),
            2 => (",\n  ", " : "),
            _ => (", ", ":"),
        };
        let kv = |k: &str, v: String| format!("\"{k}\"{colon}{v}");
        let rows = 1 + (g.next_f64() * 6.0) as usize;
        let mut entries = Vec::new();
        for _ in 0..rows {
            let k = (g.next_f64() * 7.0) as usize;
            let mut tops = Vec::new();
            for _ in 0..k {
                let mut fields = vec![
                    kv("token", token_text(g, bad)),
                    kv("logprob", logprob_text(g, bad)),
                    kv("bytes", bytes_text(g, sep, bad)),
                ];
                match (g.next_f64() * 12.0) as u32 {
                    0 => fields.swap(0, 1),
                    1 => {
                        fields.pop();
                    }
                    2 => fields.push(kv("extra", "{\"a\": [1, {\"b\": null}]}".into())),
                    3 => fields.push(kv("logprob", logprob_text(g, bad))),
                    _ => {}
                }
                tops.push(format!("{{{}}}", fields.join(sep)));
            }
            if g.next_f64() < 0.05 {
                tops.push("null".into());
            }
            entries.push(format!(
                "{{{}}}",
                [
                    kv("token", token_text(g, bad)),
                    kv("logprob", logprob_text(g, bad)),
                    kv("bytes", bytes_text(g, sep, bad)),
                    kv("top_logprobs", format!("[{}]", tops.join(sep))),
                ]
                .join(sep)
            ));
        }
        format!(
            "{{{}}}",
            [
                kv("id", "\"chatcmpl-x\"".into()),
                kv(
                    "choices",
                    format!(
                        "[{{{}}}]",
                        [
                            kv("index", "0".into()),
                            kv(
                                "logprobs",
                                format!("{{{}}}", kv("content", format!("[{}]", entries.join(sep))))
                            ),
                        ]
                        .join(sep)
                    )
                ),
            ]
            .join(sep)
        )
    }

    fn same(a: &Result<Logprobs<Span>>, b: &Result<Logprobs<Span>>, what: &str) {
        match (a, b) {
            (Ok(a), Ok(b)) => {
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&a.top), bits(&b.top), "{what}");
                assert_eq!(bits(&a.chosen), bits(&b.chosen), "{what}");
                assert_eq!((a.rows, a.width, a.k), (b.rows, b.width, b.k), "{what}");
                assert_eq!(
                    (&a.tokens, &a.top_tokens, &a.row_len),
                    (&b.tokens, &b.top_tokens, &b.row_len),
                    "{what}"
                );
            }
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{what}"),
            (a, b) => panic!("{what}: {:?} vs {:?}", a.as_ref().err(), b.as_ref().err()),
        }
    }

    /// The chosen token and logprob's bits, the top ones and the index after the entry.
    type KernelRead = (Option<Span>, u64, Vec<(Option<Span>, u64)>, usize);

    /// What [`Node::plain_content_entry`] reads from the entry at the start of `body` with the
    /// kernels of `path`: the chosen token and logprob, the top ones and where it stopped
    /// (`None` when it declined; the cursor must then be unmoved).
    fn content_kernel(body: &[u8], path: Path) -> Option<KernelRead> {
        let mut b = match path {
            Path::Portable => Body::at_level(body, SimdLevel::Scalar),
            Path::Sse2 => Body::new(body).map(|b| b.kernels(true, false)),
            _ => Body::new(body).map(|b| b.kernels(true, true)),
        }
        .unwrap();
        let (mut chosen, mut top) = (None, Vec::new());
        let read = b.root().plain_content_entry(
            true,
            |t, lp| {
                chosen = Some((t, lp.to_bits()));
                true
            },
            |t, lp: f64| {
                top.push((t, lp.to_bits()));
                true
            },
        );
        let (at, _) = b.offset().unwrap();
        if !read {
            assert_eq!(at, 0, "moved on declining: {}", String::from_utf8_lossy(body));
            return None;
        }
        let (tok, lp) = chosen.unwrap();
        Some((tok, lp, top, at))
    }

    #[test]
    fn content_entry_kernel_reads_plain_entries_and_gives_way_to_the_rest() {
        let vector = cfg!(target_arch = "x86_64");
        let avx2 = vector && SimdLevel::Avx2.supported();
        for spaced in [true, false] {
            let (sep, colon) = if spaced { (", ", ": ") } else { (",", ":") };
            let member = |k: &str, v: &str| format!("\"{k}\"{colon}{v}");
            let entry = |tok: &str, lp: &str, bytes: Option<&str>, rest: &[&str]| {
                let mut m = vec![member("token", tok), member("logprob", lp)];
                m.extend(bytes.map(|b| member("bytes", b)));
                m.extend(rest.iter().map(|r| r.to_string()));
                format!("{{{}}}", m.join(sep))
            };
            let tops = [
                entry("\" a\"", "-0.25", Some(&format!("[32{sep}97]")), &[]),
                entry("\"\\u00e9\"", "-1.8448494364328587", None, &[]),
                entry("\"b\"", "-9999", Some("null"), &[]),
            ]
            .join(sep);
            let list = member("top_logprobs", &format!("[{tops}]"));
            let plain = entry(
                "\" a\"",
                "-0.31326168775558472",
                Some(&format!("[32{sep}97]")),
                &[&list],
            );
            let pad = |s: &str| format!("{s}{}", " ".repeat(200));
            // Each level reads the plain entry whole, to its `}`: the chosen member, then the
            // three top entries, as the general walk reads them. (The portable level has no
            // kernel for the chosen member's `bytes` list: it declines those.)
            for (what, body, n, listed) in [
                ("plain", plain.clone(), 3, true),
                ("empty list", plain.replace(&format!("[{tops}]"), "[]"), 0, true),
                ("no bytes", entry("\"x\"", "-2.5", None, &[&list]), 3, false),
                ("null bytes", entry("\"x\"", "-2.5", Some("null"), &[&list]), 3, false),
            ] {
                let body = pad(&body);
                for (path, runs) in [(Path::Portable, true), (Path::Sse2, vector), (Path::Avx2, avx2)] {
                    if !runs {
                        continue;
                    }
                    let got = content_kernel(body.as_bytes(), path);
                    let Some((_, lp, top, at)) = got else {
                        assert!(path == Path::Portable && listed, "{path:?} {what}: declined {body}");
                        continue;
                    };
                    assert_eq!(at, body.trim_end().len(), "{path:?} {what}");
                    assert_eq!(top.len(), n, "{path:?} {what}");
                    // The values and tokens the general walk reads from the same entry.
                    let whole = format!("[{}]", body.trim_end());
                    let opts = ReadOptions {
                        tokens: true,
                        ..Default::default()
                    };
                    let want = read_path(whole.as_bytes(), &opts, Path::General).unwrap();
                    let shift = |t: Option<Span>| {
                        t.map(|s| Span {
                            start: s.start + 1,
                            end: s.end + 1,
                        })
                    };
                    let got_top: Vec<(Option<Span>, u64)> = top.iter().map(|&(t, v)| (shift(t), v)).collect();
                    let mut want_top: Vec<(Option<Span>, u64)> = want.top_tokens[..n]
                        .iter()
                        .zip(&want.top[..n])
                        .map(|(t, v)| (*t, v.to_bits()))
                        .collect();
                    // (The general walk sorts the row: -9999 is missing, sorted last as read.)
                    want_top.sort_by_key(|(t, _)| t.map(|s| s.start));
                    let mut got_sorted = got_top.clone();
                    got_sorted.sort_by_key(|(t, _)| t.map(|s| s.start));
                    let keep = |v: u64| kept(f64::from_bits(v)).map(f64::to_bits);
                    let got_kept: Vec<_> = got_sorted.iter().map(|&(t, v)| (t, keep(v))).collect();
                    let want_kept: Vec<_> = want_top.iter().map(|&(t, v)| (t, Some(v))).collect();
                    assert_eq!(got_kept, want_kept, "{path:?} {what}");
                    let chosen = kept(f64::from_bits(lp)).map(f64::to_bits);
                    assert_eq!(chosen, Some(want.chosen[0].to_bits()), "{path:?} {what}");
                }
            }
            // Each departure from the form: every level declines, the cursor unmoved.
            let key = member("top_logprobs", "");
            for (what, body) in [
                ("key", plain.replacen(&key, &key.replace("top_", "top-"), 1)),
                (
                    "null list",
                    entry("\"x\"", "-2.5", None, &[&member("top_logprobs", "null")]),
                ),
                (
                    "member after",
                    entry("\"x\"", "-2.5", None, &[&list, &member("a", "1")]),
                ),
                (
                    "member before",
                    entry("\"x\"", "-2.5", None, &[&member("a", "1"), &list]),
                ),
                ("list unread", plain.replacen(&format!("[{tops}]"), "[1]", 1)),
                ("no brace", format!("{} ", &plain[..plain.len() - 1])),
                ("chosen", plain.replacen("-0.31326168775558472", "-0.3e", 1)),
                ("token", plain.replacen("\" a\"", "null", 1)),
            ] {
                assert_ne!(body, plain, "{what}");
                let body = pad(&body);
                for (path, runs) in [(Path::Portable, true), (Path::Sse2, vector), (Path::Avx2, avx2)] {
                    if runs {
                        assert!(
                            content_kernel(body.as_bytes(), path).is_none(),
                            "{path:?} {what}: {body}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn rows_longer_than_a_batch_read_as_the_general_walk() {
        // Rows of 31 to 70 entries (the one-step readings hand them over 32 at a time), valid,
        // or with a logprob refused in the first batch, at its edge or in a later one.
        let cases = [
            (31, None),
            (32, None),
            (33, None),
            (70, None),
            (40, Some(3)),
            (40, Some(31)),
            (40, Some(32)),
            (70, Some(65)),
        ];
        for (width, bad) in cases {
            let tops: Vec<String> = (0..width)
                .map(|j| {
                    let lp = if Some(j) == bad {
                        "0.5".to_string()
                    } else {
                        format!("-{}.{:04}", j % 10, j)
                    };
                    format!("{{\"token\": \"t{j}\", \"logprob\": {lp}, \"bytes\": [116, 49]}}")
                })
                .collect();
            let entry = format!(
                "{{\"token\": \"a\", \"logprob\": -0.5, \"bytes\": [97], \"top_logprobs\": [{}]}}",
                tops.join(", ")
            );
            let body =
                format!("{{\"choices\": [{{\"index\": 0, \"logprobs\": {{\"content\": [{entry}, {entry}]}}}}]}}");
            for tokens in [false, true] {
                let opts = ReadOptions {
                    tokens,
                    ..Default::default()
                };
                let general = read_with(body.as_bytes(), &opts, false);
                assert_eq!(general.is_ok(), bad.is_none(), "{width} {bad:?}");
                let vector = cfg!(target_arch = "x86_64");
                let avx2 = vector && SimdLevel::Avx2.supported();
                for (path, runs) in [
                    (Path::Active, true),
                    (Path::Portable, true),
                    (Path::Sse2, vector),
                    (Path::Avx2, avx2),
                ] {
                    if runs {
                        let got = read_path(body.as_bytes(), &opts, path);
                        same(&got, &general, &format!("{path:?} {width} {bad:?}"));
                    }
                }
            }
        }
    }

    #[test]
    fn one_step_readings_match_the_general_walk() {
        let mut g = SplitMix64::new(2026);
        let (mut ok, mut err) = (0, 0);
        for case in 0..4000 {
            let mut s = body(&mut g).into_bytes();
            // Pad past the 64-byte windows of the vector kernels, or not.
            if case % 2 == 0 {
                s.extend_from_slice(&[b' '; 70]);
            }
            match case % 8 {
                0 => s.truncate((g.next_f64() * s.len() as f64) as usize),
                1 => {
                    let at = (g.next_f64() * s.len() as f64) as usize % s.len();
                    s[at] = b"{}[],: 0-e\"\\.n"[(g.next_f64() * 14.0) as usize % 14];
                }
                _ => {}
            }
            let opts = ReadOptions {
                tokens: case % 3 == 0,
                ..Default::default()
            };
            let (fast, general) = (read_with(&s, &opts, true), read_with(&s, &opts, false));
            same(&fast, &general, &String::from_utf8_lossy(&s));
            // Every kernel set this CPU runs reads it the same way.
            let vector = cfg!(target_arch = "x86_64");
            let avx2 = vector && SimdLevel::Avx2.supported();
            for (path, runs) in [(Path::Portable, true), (Path::Sse2, vector), (Path::Avx2, avx2)] {
                if runs {
                    let got = read_path(&s, &opts, path);
                    same(&got, &general, &format!("{path:?}: {}", String::from_utf8_lossy(&s)));
                }
            }
            if fast.is_ok() {
                ok += 1;
            } else {
                err += 1;
            }
        }
        // Both outcomes drawn often.
        assert!(ok > 500 && err > 500, "{ok} read, {err} refused");
    }
}
