//! The stream reader: what an OpenAI-compatible server streams (`stream=True`), fed as it
//! arrives — raw server-sent-event bytes split anywhere, single SSE lines, or parsed chunks —
//! with each choice's running top-k summary ([`TopkRunning`]) at any point. The final summary
//! equals the one of the non-streamed response, bit for bit.

use super::json::Body;
use super::{read_chunk, ChunkRows, Node, ReadError};
use crate::error::{CredoError, Result};
use crate::signals::{TopkOptions, TopkRunning, TopkSummary};

/// Longest SSE line kept while waiting for its end (a chunk of one token is about 1 kB).
pub const MAX_LINE: usize = 16 << 20;

/// The running state of one stream.
#[derive(Clone, Debug)]
pub struct OpenAIStream {
    opts: TopkOptions,
    /// The bytes of a line whose end has not arrived yet.
    partial: Vec<u8>,
    /// Each choice seen, by its `index`.
    choices: Vec<(usize, TopkRunning)>,
    done: bool,
    chunks: usize,
}

impl OpenAIStream {
    /// An empty stream whose summaries use `opts` (as `topk_summary`'s).
    pub fn new(opts: TopkOptions) -> Result<Self> {
        TopkRunning::new(opts)?;
        Ok(Self {
            opts,
            partial: Vec::new(),
            choices: Vec::new(),
            done: false,
            chunks: 0,
        })
    }

    /// Feeds raw SSE bytes, split anywhere (a line may continue in the next call). Returns the
    /// positions added.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<usize> {
        let mut added = 0;
        let mut rest = bytes;
        while let Some(nl) = rest.iter().position(|&c| c == b'\n') {
            let (line, after) = rest.split_at(nl);
            rest = &after[1..];
            if self.partial.is_empty() {
                added += self.line(line)?;
            } else {
                let mut whole = std::mem::take(&mut self.partial);
                whole.extend_from_slice(line);
                let r = self.line(&whole);
                whole.clear();
                self.partial = whole;
                added += r?;
            }
        }
        if self.partial.len() + rest.len() > MAX_LINE {
            return Err(CredoError::invalid(
                "data",
                format!("an SSE line longer than {MAX_LINE} bytes"),
            ));
        }
        self.partial.extend_from_slice(rest);
        Ok(added)
    }

    /// Feeds one complete SSE line (`data: {...}`, `data: [DONE]`, a comment, another field or a
    /// blank line; a trailing `\r` is dropped). Each `data` line is one chunk (OpenAI-compatible
    /// servers send one line per event).
    pub fn line(&mut self, line: &[u8]) -> Result<usize> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(value) = line.strip_prefix(b"data:") else {
            // Blank lines end events; `:` comments, `event:`, `id:` and `retry:` carry no data.
            return Ok(0);
        };
        let value = value.strip_prefix(b" ").unwrap_or(value);
        if value.trim_ascii() == b"[DONE]" {
            self.done = true;
            return Ok(0);
        }
        self.json(value)
    }

    /// Feeds one chunk's JSON.
    pub fn json(&mut self, json: &[u8]) -> Result<usize> {
        let mut body = Body::new(json).map_err(|e| self.error(e))?;
        let rows = read_chunk(body.root()).and_then(|r| body.finish().map(|()| r));
        let rows = rows.map_err(|e| self.error(e))?;
        self.add(&rows)
    }

    /// Feeds one parsed chunk (dicts, an SDK object).
    pub fn chunk<N: Node>(&mut self, chunk: &mut N) -> Result<usize> {
        let rows = read_chunk(chunk).map_err(|e| self.error(e))?;
        self.add(&rows)
    }

    fn error(&self, e: ReadError) -> CredoError {
        e.at(self.chunks).into_credo("chunks")
    }

    fn add(&mut self, rows: &ChunkRows) -> Result<usize> {
        let mut from = 0;
        for (r, &end) in rows.ends.iter().enumerate() {
            let idx = rows.choice[r];
            let at = match self.choices.iter().position(|(i, _)| *i == idx) {
                Some(at) => at,
                None => {
                    self.choices.push((idx, TopkRunning::new(self.opts)?));
                    self.choices.len() - 1
                }
            };
            let chunk = self.chunks;
            self.choices[at]
                .1
                .push(&rows.vals[from..end], rows.chosen[r])
                .map_err(|e| CredoError::invalid(format!("chunks[{chunk}]"), e.to_string()))?;
            from = end;
        }
        self.chunks += 1;
        Ok(rows.ends.len())
    }

    /// Whether `data: [DONE]` has arrived.
    pub fn done(&self) -> bool {
        self.done
    }

    /// Chunks read so far.
    pub fn chunks(&self) -> usize {
        self.chunks
    }

    /// The choices seen so far, by `index`, in order.
    pub fn indices(&self) -> Vec<usize> {
        let mut v: Vec<usize> = self.choices.iter().map(|(i, _)| *i).collect();
        v.sort_unstable();
        v
    }

    /// The running state of choice `index` (None before its first position).
    pub fn choice(&self, index: usize) -> Option<&TopkRunning> {
        self.choices.iter().find(|(i, _)| *i == index).map(|(_, r)| r)
    }

    /// The summary of choice `index` so far.
    pub fn summary(&self, index: usize) -> Result<TopkSummary> {
        match self.choice(index) {
            Some(r) => r.summary(),
            None => Err(CredoError::empty(
                "choice",
                format!("no position of choice {index} has arrived (with logprobs)"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::{read_openai, ReadOptions};
    use crate::signals::topk_summary;

    const CHUNKS: [&str; 4] = [
        r#"{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}"#,
        r#"{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi"},"logprobs":{"content":[{"token":"Hi","logprob":-0.2,"bytes":[72,105],"top_logprobs":[{"token":"Hi","logprob":-0.2},{"token":"Yo","logprob":-1.9}]}]},"finish_reason":null}]}"#,
        r#"{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"!"},"logprobs":{"content":[{"token":"!","logprob":-2.2,"top_logprobs":[{"token":".","logprob":-0.4},{"token":"!","logprob":-2.2}]}]},"finish_reason":null}]}"#,
        r#"{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}"#,
    ];

    #[test]
    fn sse_split_anywhere_gives_the_batch_summary() {
        let sse: String = CHUNKS.iter().map(|c| format!("data: {c}\r\n\r\n")).collect::<String>() + "data: [DONE]\n\n";
        let list = format!("[{}]", CHUNKS.join(","));
        let batch = read_openai(list.as_bytes(), &ReadOptions::default()).unwrap();
        let r = batch.response();
        let want = topk_summary(&batch.top, r.rows, r.width, r.chosen, &TopkOptions::default()).unwrap();
        for step in [1, 2, 7, 64, sse.len()] {
            let mut s = OpenAIStream::new(TopkOptions::default()).unwrap();
            let mut n = 0;
            for part in sse.as_bytes().chunks(step) {
                n += s.feed(part).unwrap();
            }
            assert_eq!(n, 2);
            assert!(s.done());
            assert_eq!(format!("{:?}", s.summary(0).unwrap()), format!("{want:?}"));
        }
        let mut s = OpenAIStream::new(TopkOptions::default()).unwrap();
        assert!(s.summary(0).is_err());
        let e = s
            .line(b"data: {\"choices\":[{\"logprobs\":{\"content\":[{\"logprob\":\"x\"}]}}]}")
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("chunks[0].choices[0].logprobs.content[0].logprob:"),
            "{e}"
        );
        assert!(s.feed(&vec![b'x'; MAX_LINE + 1]).is_err());
    }
}
