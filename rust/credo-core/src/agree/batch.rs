//! The batch path's output: one flat column per field, every question's entries in order, so the
//! bindings hand over a few arrays instead of one object per question. Every output position is
//! known before the work starts, so parallel tasks write straight into disjoint slices of the final
//! columns (no per-task buffers to concatenate afterwards). The columns are allocated without
//! being zeroed and every slot is written by its task, so the first touch of each page (the page
//! fault and the zeroing) happens in the parallel tasks rather than serially before them.

use std::mem::MaybeUninit;
use std::ops::Range;
use std::sync::Mutex;

use super::{analyse, in_question, Agreement, Config, Question, Stats, Workspace};
use crate::error::{CredoError, Result};
use crate::parallel::{map_vec, pipeline, with_threads};

/// Questions per parallel task: big enough to amortise scheduling, small enough to balance. The
/// threads of a fed batch end within a chunk of each other (the last one claimed), and one spins
/// meanwhile: 256 questions left up to ~0.4 ms of Jaccard on one thread at the end, and a batch
/// of 129 split 128 + 1 ran no faster on two threads than on one. A chunk costs little else
/// (its fed buffer and window; the workspace is kept per thread).
const CHUNK: usize = 64;

/// A count or an index as i64. Both are below `isize::MAX` (they index vectors in memory), so the
/// cast is exact; a checked conversion per value cost the column writes ~100 instructions a
/// question (10 answers) and kept the label copy from vectorising.
#[inline(always)]
fn int(x: usize) -> i64 {
    debug_assert!(isize::try_from(x).is_ok());
    x as i64
}

/// Agreement of many questions as flat columns (integers as i64, NumPy's default).
///
/// Per-answer columns are split by `offsets` (questions + 1 entries): `labels`, and the per-cluster
/// `sizes` and `cluster_probs`, stored in the question's answer slots (question q's k clusters use
/// the first `n_clusters[q]` of its slots; the rest hold 0). The other columns hold one value per
/// question.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Columns {
    pub offsets: Vec<i64>,
    pub labels: Vec<i64>,
    pub sizes: Vec<i64>,
    pub cluster_probs: Vec<f64>,
    pub n_clusters: Vec<i64>,
    pub majority: Vec<i64>,
    pub majority_index: Vec<i64>,
    pub agreement: Vec<f64>,
    pub se_discrete: Vec<f64>,
    pub se_farquhar: Vec<f64>,
    pub se_kuhn: Vec<f64>,
    pub se_lm_polygraph: Vec<f64>,
    pub eigval_laplacian: Vec<f64>,
    pub degree: Vec<f64>,
}

/// One task's disjoint window into every column's (not yet initialised) slots.
struct Window<'a> {
    labels: &'a mut [MaybeUninit<i64>],
    sizes: &'a mut [MaybeUninit<i64>],
    probs: &'a mut [MaybeUninit<f64>],
    per_q: [&'a mut [MaybeUninit<i64>]; 3],
    per_q_f: [&'a mut [MaybeUninit<f64>]; 7],
}

impl Window<'_> {
    /// Writes question `k` of the window, whose `labels.len()` answers start at `at` within the
    /// window: every one of the question's slots in every column (unused cluster slots get 0).
    fn write(&mut self, k: usize, at: usize, labels: &[usize], sizes: &[usize], probs: &[f64], st: &Stats) {
        let n = labels.len();
        for (d, &l) in self.labels[at..at + n].iter_mut().zip(labels) {
            d.write(int(l));
        }
        let (used, unused) = self.sizes[at..at + n].split_at_mut(sizes.len());
        for (d, &s) in used.iter_mut().zip(sizes) {
            d.write(int(s));
        }
        unused.fill(MaybeUninit::new(0));
        let (used, unused) = self.probs[at..at + n].split_at_mut(probs.len());
        for (d, &p) in used.iter_mut().zip(probs) {
            d.write(p);
        }
        unused.fill(MaybeUninit::new(0.0));
        let [n_clusters, majority, majority_index] = &mut self.per_q;
        n_clusters[k].write(int(sizes.len()));
        majority[k].write(int(st.majority));
        majority_index[k].write(int(st.majority_index));
        let f = [
            st.agreement,
            st.se_discrete,
            st.se_farquhar,
            st.se_kuhn,
            st.se_lm_polygraph,
            st.eigval_laplacian,
            st.degree,
        ];
        for (col, v) in self.per_q_f.iter_mut().zip(f) {
            col[k].write(v);
        }
    }
}

impl Columns {
    /// Number of questions.
    #[must_use]
    pub fn len(&self) -> usize {
        self.agreement.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.agreement.is_empty()
    }

    /// Empty columns with room for `questions` and `answers` (nothing allocated is touched yet).
    fn with_capacity(questions: usize, answers: usize) -> Self {
        let q = || Vec::with_capacity(questions);
        let qf = || Vec::with_capacity(questions);
        Self {
            offsets: Vec::with_capacity(questions + 1),
            labels: Vec::with_capacity(answers),
            sizes: Vec::with_capacity(answers),
            cluster_probs: Vec::with_capacity(answers),
            n_clusters: q(),
            majority: q(),
            majority_index: q(),
            agreement: qf(),
            se_discrete: qf(),
            se_farquhar: qf(),
            se_kuhn: qf(),
            se_lm_polygraph: qf(),
            eigval_laplacian: qf(),
            degree: qf(),
        }
    }

    /// Marks the first `questions` / `answers` slots of every column as initialised.
    ///
    /// # Safety
    /// Every one of those slots must have been written through the [`Columns::windows`] of
    /// these columns (each window's `write` for each of its questions).
    unsafe fn set_filled(&mut self, questions: usize, answers: usize) {
        // SAFETY: the caller guarantees these slots are initialised, and the capacities are at
        // least these lengths (`with_capacity`).
        unsafe {
            self.labels.set_len(answers);
            self.sizes.set_len(answers);
            self.cluster_probs.set_len(answers);
            for c in [&mut self.n_clusters, &mut self.majority, &mut self.majority_index] {
                c.set_len(questions);
            }
            for c in [
                &mut self.agreement,
                &mut self.se_discrete,
                &mut self.se_farquhar,
                &mut self.se_kuhn,
                &mut self.se_lm_polygraph,
                &mut self.eigval_laplacian,
                &mut self.degree,
            ] {
                c.set_len(questions);
            }
        }
    }

    /// The columns of a single question's agreement.
    #[must_use]
    pub fn single(a: &Agreement) -> Self {
        let n = a.labels.len();
        let mut c = Self::with_capacity(1, n);
        c.offsets = vec![0, int(n)];
        let st = Stats {
            majority: a.majority,
            majority_index: a.majority_index,
            agreement: a.agreement,
            se_discrete: a.se_discrete,
            se_farquhar: a.se_farquhar,
            se_kuhn: a.se_kuhn,
            se_lm_polygraph: a.se_lm_polygraph,
            eigval_laplacian: a.eigval_laplacian,
            degree: a.degree,
        };
        c.windows(1, &[n])
            .remove(0)
            .write(0, 0, &a.labels, &a.sizes, &a.cluster_probs, &st);
        // SAFETY: the one window's `write` of the one question filled every slot.
        unsafe { c.set_filled(1, n) };
        c
    }

    /// Splits the spare capacity of every column (empty columns from [`Columns::with_capacity`])
    /// into one window per chunk of `chunk_answers` (answers per chunk; CHUNK of the `questions`
    /// each).
    fn windows(&mut self, questions: usize, chunk_answers: &[usize]) -> Vec<Window<'_>> {
        let mut out = Vec::with_capacity(chunk_answers.len());
        let (mut labels, mut sizes, mut probs) = (
            self.labels.spare_capacity_mut(),
            self.sizes.spare_capacity_mut(),
            self.cluster_probs.spare_capacity_mut(),
        );
        let mut qi: Vec<std::slice::ChunksMut<'_, MaybeUninit<i64>>> = vec![
            self.n_clusters.spare_capacity_mut()[..questions].chunks_mut(CHUNK),
            self.majority.spare_capacity_mut()[..questions].chunks_mut(CHUNK),
            self.majority_index.spare_capacity_mut()[..questions].chunks_mut(CHUNK),
        ];
        let mut qf: Vec<std::slice::ChunksMut<'_, MaybeUninit<f64>>> = vec![
            self.agreement.spare_capacity_mut()[..questions].chunks_mut(CHUNK),
            self.se_discrete.spare_capacity_mut()[..questions].chunks_mut(CHUNK),
            self.se_farquhar.spare_capacity_mut()[..questions].chunks_mut(CHUNK),
            self.se_kuhn.spare_capacity_mut()[..questions].chunks_mut(CHUNK),
            self.se_lm_polygraph.spare_capacity_mut()[..questions].chunks_mut(CHUNK),
            self.eigval_laplacian.spare_capacity_mut()[..questions].chunks_mut(CHUNK),
            self.degree.spare_capacity_mut()[..questions].chunks_mut(CHUNK),
        ];
        for &n in chunk_answers {
            let (l, rest) = std::mem::take(&mut labels).split_at_mut(n);
            labels = rest;
            let (s, rest) = std::mem::take(&mut sizes).split_at_mut(n);
            sizes = rest;
            let (p, rest) = std::mem::take(&mut probs).split_at_mut(n);
            probs = rest;
            let mut next_i = || {
                qi.iter_mut()
                    .map(|it| it.next().unwrap_or_default())
                    .collect::<Vec<_>>()
            };
            let per_q: [&mut [MaybeUninit<i64>]; 3] = next_i().try_into().unwrap_or_else(|_| unreachable!());
            let per_q_f: [&mut [MaybeUninit<f64>]; 7] = qf
                .iter_mut()
                .map(|it| it.next().unwrap_or_default())
                .collect::<Vec<_>>()
                .try_into()
                .unwrap_or_else(|_| unreachable!());
            out.push(Window {
                labels: l,
                sizes: s,
                probs: p,
                per_q,
                per_q_f,
            });
        }
        out
    }
}

/// Agreement of many questions as columns, in parallel on fixed chunks of questions (results do
/// not depend on `threads`). An error names the first failing question.
pub fn agree_batch_columns(questions: &[Question<'_>], cfg: &Config, threads: Option<usize>) -> Result<Columns> {
    let mut offsets = Vec::with_capacity(questions.len() + 1);
    offsets.push(0);
    for q in questions {
        offsets.push(offsets[offsets.len() - 1] + q.answers.len());
    }
    agree_batch_columns_by(&offsets, |i| questions[i], cfg, threads)
}

/// [`agree_batch_columns`] for questions given by index: question `q` has the answers
/// `offsets[q]..offsets[q + 1]` of the batch and `question(q)` builds its inputs, on the worker
/// that analyses it (a caller holding flat inputs, like the Python bindings, then does no
/// per-question work before the parallel part starts). A question whose answer count differs
/// from its offsets is an error.
pub fn agree_batch_columns_by<'a>(
    offsets: &[usize],
    question: impl Fn(usize) -> Question<'a> + Sync,
    cfg: &Config,
    threads: Option<usize>,
) -> Result<Columns> {
    let (mut cols, chunk_answers) = columns_for(offsets)?;
    let n_questions = offsets.len().saturating_sub(1);
    let windows = cols.windows(n_questions, &chunk_answers);
    let results: Vec<Result<()>> = with_threads(threads, || {
        map_vec(windows, |c, win| analyse_chunk(c, win, offsets, &question, cfg))
    })?;
    results.into_iter().collect::<Result<()>>()?;
    // SAFETY: every task succeeded, so every question of every window was written (each with
    // exactly its offsets' number of answers, which is what the windows were cut for).
    unsafe { cols.set_filled(n_questions, offsets_total(offsets)) };
    Ok(cols)
}

/// A chunk's fed answers: their text end to end and where each answer ends. The feeder copies
/// its answers in, so nothing it lends has to outlive the feed: the bindings copy the Python
/// strings under the GIL and keep no reference to them, where holding one per answer cost a
/// serial pass of reference-count releases (one cache miss per string) after the parallel part.
#[derive(Debug, Default)]
pub struct FedAnswers {
    text: String,
    ends: Vec<usize>,
}

impl FedAnswers {
    /// Appends one answer.
    #[inline]
    pub fn push(&mut self, answer: &str) {
        self.text.push_str(answer);
        self.ends.push(self.text.len());
    }

    /// The number of answers fed.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The answers, in the order fed.
    pub fn answers(&self) -> impl Iterator<Item = &str> + '_ {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        // SAFETY: the ends only grow and the last is the text's length (`push` is the only
        // writer), and every end is a char boundary: each one closes an appended `&str`. The
        // checked slice cost ~27 instructions an answer (two boundary tests and the bounds).
        starts
            .zip(&self.ends)
            .map(|(a, &b)| unsafe { self.text.get_unchecked(a..b) })
    }

    fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
    }

    /// The bytes of capacity the buffer holds (what the pool of spare buffers counts).
    fn capacity_bytes(&self) -> usize {
        self.text.capacity() + self.ends.capacity() * std::mem::size_of::<usize>()
    }
}

/// Emptied [`FedAnswers`] for the next chunks and calls: a fresh buffer costs the feeding thread
/// (the serial part of a fed batch) a page fault per 4 KiB, about 2 µs each on the 2-core VM.
/// At most [`SPARE_FED_BYTES`] of capacity are kept, in buffers of at most [`SPARE_FED_MAX`]
/// each (a 10k-question batch of short answers keeps about 3 MiB). Only `try_lock` is used: a
/// busy (or poisoned) pool means a fresh buffer, never a wait.
static SPARE_FED: Mutex<Spare> = Mutex::new(Spare {
    bufs: Vec::new(),
    bytes: 0,
});
const SPARE_FED_BYTES: usize = 32 << 20;
const SPARE_FED_MAX: usize = 2 << 20;

struct Spare {
    bufs: Vec<FedAnswers>,
    /// The capacity held in `bufs`.
    bytes: usize,
}

fn take_fed() -> FedAnswers {
    let Ok(mut spare) = SPARE_FED.try_lock() else {
        return FedAnswers::default();
    };
    let fed = spare.bufs.pop().unwrap_or_default();
    spare.bytes -= fed.capacity_bytes();
    fed
}

fn recycle_fed(mut fed: FedAnswers) {
    let bytes = fed.capacity_bytes();
    if bytes > SPARE_FED_MAX {
        return;
    }
    if let Ok(mut spare) = SPARE_FED.try_lock() {
        if spare.bytes + bytes <= SPARE_FED_BYTES {
            fed.clear();
            spare.bytes += bytes;
            spare.bufs.push(fed);
        }
    }
}

/// [`agree_batch_columns_by`] with the answers handed over a chunk of questions at a time:
/// `feed(q0..q1, out)` runs on the calling thread, in order, and appends the answers of questions
/// `q0..q1` to `out` (the bindings copy Python strings there, under the GIL); `question(q)` gives
/// question `q`'s other inputs (its `answers` are replaced by those fed). Each chunk can be claimed
/// by a pool worker as soon as it is fed, so feeding overlaps analysing, and the calling thread
/// analyses the chunks still unclaimed once it has fed them all ([`pipeline`], which also says
/// what `single` and `wait` do). A `feed` error stops feeding and is returned as is.
///
/// [`pipeline`]: crate::parallel::pipeline
#[allow(clippy::too_many_arguments)]
pub fn agree_batch_columns_fed<'q, E: From<CredoError>>(
    offsets: &[usize],
    mut feed: impl FnMut(Range<usize>, &mut FedAnswers) -> std::result::Result<(), E>,
    question: impl Fn(usize) -> Question<'q> + Sync,
    cfg: &Config,
    threads: Option<usize>,
    single: bool,
    wait: impl FnOnce(&mut (dyn FnMut() + Send)),
) -> std::result::Result<Columns, E> {
    let (mut cols, chunk_answers) = columns_for(offsets)?;
    let n_questions = offsets.len().saturating_sub(1);
    let windows = cols.windows(n_questions, &chunk_answers);
    let work = |(c, win, fed): (usize, Window<'_>, FedAnswers)| -> Result<()> {
        let done = analyse_fed(c, win, offsets, &fed, chunk_answers[c], &question, cfg);
        recycle_fed(fed);
        done
    };
    let one = single || chunk_answers.len() <= 1;
    let produce = |submit: &mut dyn FnMut(_)| -> std::result::Result<(), E> {
        for (c, win) in windows.into_iter().enumerate() {
            let (q0, q1) = (c * CHUNK, ((c + 1) * CHUNK).min(n_questions));
            let mut fed = take_fed();
            feed(q0..q1, &mut fed)?;
            submit((c, win, fed));
        }
        Ok(())
    };
    let results = pipeline(threads, one, produce, work, wait)??;
    if results.len() != chunk_answers.len() {
        // Unreachable (a job reports unless it panicked, and the pipeline re-raises that), but
        // the columns below are only claimed filled with every chunk's report in hand.
        return Err(CredoError::shape("answers", "a chunk of questions went unanalysed").into());
    }
    results.into_iter().collect::<Result<()>>()?;
    // SAFETY: every chunk was fed and reported success, so every question of every window was
    // written.
    unsafe { cols.set_filled(n_questions, offsets_total(offsets)) };
    Ok(cols)
}

/// Analyses chunk `c` from its fed answers, which must number `expected`.
fn analyse_fed<'q>(
    c: usize,
    win: Window<'_>,
    offsets: &[usize],
    fed: &FedAnswers,
    expected: usize,
    question: &impl Fn(usize) -> Question<'q>,
    cfg: &Config,
) -> Result<()> {
    if fed.len() != expected {
        return Err(CredoError::shape(
            "answers",
            format!(
                "questions {}..: {} answers fed, the offsets say {expected}",
                c * CHUNK,
                fed.len()
            ),
        ));
    }
    let answers: Vec<&str> = fed.answers().collect();
    let base = offsets[c * CHUNK];
    let fed_question = |qi: usize| Question {
        answers: answers.get(offsets[qi] - base..offsets[qi + 1] - base).unwrap_or(&[]),
        ..question(qi)
    };
    analyse_chunk(c, win, offsets, &fed_question, cfg)
}

fn offsets_total(offsets: &[usize]) -> usize {
    offsets.last().copied().unwrap_or(0) - offsets.first().copied().unwrap_or(0)
}

/// Empty columns sized for `offsets` (with their offsets filled in) and each chunk's answer count.
fn columns_for(offsets: &[usize]) -> Result<(Columns, Vec<usize>)> {
    let n_questions = offsets.len().saturating_sub(1);
    if offsets.windows(2).any(|w| w[1] < w[0]) {
        return Err(CredoError::invalid("offsets", "must not decrease"));
    }
    let first = offsets.first().copied().unwrap_or(0);
    let mut cols = Columns::with_capacity(n_questions, offsets_total(offsets));
    cols.offsets.extend(offsets.iter().map(|&o| int(o - first)));
    let chunk_answers = (0..n_questions)
        .step_by(CHUNK)
        .map(|q0| offsets[(q0 + CHUNK).min(n_questions)] - offsets[q0])
        .collect();
    Ok((cols, chunk_answers))
}

std::thread_local! {
    /// The thread's workspace between chunks: a fresh one grows its buffers again in every chunk
    /// (about 12,000 instructions a chunk of 10-answer questions, 1-2% of exact agreement).
    static SPARE_WS: std::cell::Cell<Option<Workspace>> = const { std::cell::Cell::new(None) };
}

/// Analyses chunk `c`'s questions into its window.
fn analyse_chunk<'a>(
    c: usize,
    win: Window<'_>,
    offsets: &[usize],
    question: &impl Fn(usize) -> Question<'a>,
    cfg: &Config,
) -> Result<()> {
    let mut ws = SPARE_WS.take().unwrap_or_default();
    let done = analyse_chunk_in(c, win, offsets, question, cfg, &mut ws);
    if ws.worth_keeping() {
        SPARE_WS.set(Some(ws));
    }
    done
}

fn analyse_chunk_in<'a>(
    c: usize,
    mut win: Window<'_>,
    offsets: &[usize],
    question: &impl Fn(usize) -> Question<'a>,
    cfg: &Config,
    ws: &mut Workspace,
) -> Result<()> {
    let n_questions = offsets.len() - 1;
    let mut at = 0;
    for qi in c * CHUNK..((c + 1) * CHUNK).min(n_questions) {
        let q = question(qi);
        let n = offsets[qi + 1] - offsets[qi];
        if q.answers.len() != n {
            return Err(CredoError::shape(
                "answers",
                format!("question {qi} has {} answers, its offsets say {n}", q.answers.len()),
            ));
        }
        let st = analyse(&q, cfg, ws).map_err(|e| in_question(e, qi))?;
        win.write(qi - c * CHUNK, at, &ws.labels, &ws.sizes, &ws.probs, &st);
        at += n;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{agree_batch, Linkage, Method, NormalizeOptions};
    use super::*;

    #[test]
    fn columns_match_per_question_results() {
        let qs: Vec<Vec<String>> = (0..700)
            .map(|i| (0..(i % 9 + 1)).map(|j| format!("a{}", (i + j) % 3)).collect())
            .collect();
        let refs: Vec<Vec<&str>> = qs.iter().map(|q| q.iter().map(String::as_str).collect()).collect();
        let questions: Vec<Question<'_>> = refs
            .iter()
            .map(|a| Question {
                answers: a,
                ..Default::default()
            })
            .collect();
        let cfg = Config {
            method: Method::Jaccard { threshold: 0.5 },
            linkage: Linkage::Greedy,
            normalize: NormalizeOptions::default(),
            spectral: true,
        };
        let cols = agree_batch_columns(&questions, &cfg, Some(2)).unwrap();
        assert_eq!(cols.len(), 700);
        for (i, a) in agree_batch(&questions, &cfg, Some(1)).unwrap().iter().enumerate() {
            let one = Columns::single(a);
            let (lo, hi) = (
                usize::try_from(cols.offsets[i]).unwrap(),
                usize::try_from(cols.offsets[i + 1]).unwrap(),
            );
            assert_eq!(cols.labels[lo..hi], one.labels[..]);
            assert_eq!(cols.sizes[lo..hi], one.sizes[..]);
            assert_eq!(cols.cluster_probs[lo..hi], one.cluster_probs[..]);
            assert_eq!(cols.n_clusters[i], one.n_clusters[0]);
            assert_eq!(cols.majority_index[i], one.majority_index[0]);
            assert_eq!(cols.agreement[i], one.agreement[0]);
            assert_eq!(cols.eigval_laplacian[i], one.eigval_laplacian[0]);
        }
        let errs = [
            Question {
                answers: &["x"],
                ..Default::default()
            },
            Question::default(),
        ];
        assert!(agree_batch_columns(&errs, &cfg, None)
            .unwrap_err()
            .to_string()
            .contains("question 1"));
        assert!(agree_batch_columns(&[], &cfg, None).unwrap().is_empty());
        fed_matches_by_index(&refs, &cfg);
    }

    /// Sizes around the chunk boundaries, every thread count: the fed batch equals one thread's
    /// indexed batch, column for column (chunks are claimed in whatever order the threads get
    /// to them; each question's result is still written to its own slots).
    #[test]
    fn fed_batches_match_for_every_thread_count_around_the_chunk_size() {
        let cfg = Config {
            method: Method::Jaccard { threshold: 0.5 },
            linkage: Linkage::Greedy,
            normalize: NormalizeOptions::default(),
            spectral: true,
        };
        for n in [
            1,
            2,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            2 * CHUNK,
            2 * CHUNK + 1,
            7 * CHUNK + 5,
        ] {
            let qs: Vec<Vec<String>> = (0..n)
                .map(|i| {
                    (0..(i % 7 + 1))
                        .map(|j| format!("the b{} c{}", (i * j) % 5, j % 2))
                        .collect()
                })
                .collect();
            let flat: Vec<&str> = qs.iter().flatten().map(String::as_str).collect();
            let mut offsets = vec![0];
            for q in &qs {
                offsets.push(offsets[offsets.len() - 1] + q.len());
            }
            let by_index = |i: usize| Question {
                answers: &flat[offsets[i]..offsets[i + 1]],
                ..Default::default()
            };
            let want = format!(
                "{:?}",
                agree_batch_columns_by(&offsets, by_index, &cfg, Some(1)).unwrap()
            );
            for threads in [Some(1), Some(2), Some(3), None] {
                let feed = |r: Range<usize>, out: &mut FedAnswers| -> Result<()> {
                    flat[offsets[r.start]..offsets[r.end]].iter().for_each(|a| out.push(a));
                    Ok(())
                };
                let got =
                    agree_batch_columns_fed(&offsets, feed, |_| Question::default(), &cfg, threads, false, |b| b());
                assert_eq!(
                    format!("{:?}", got.unwrap()),
                    want,
                    "{n} questions, {threads:?} threads"
                );
                let got = agree_batch_columns_by(&offsets, by_index, &cfg, threads).unwrap();
                assert_eq!(
                    format!("{got:?}"),
                    want,
                    "{n} questions, {threads:?} threads (by index)"
                );
            }
        }
    }

    #[test]
    fn fed_answers_give_back_what_was_pushed_and_come_back_empty() {
        let texts = ["", "Zürich", "東京 タワー", "", "a b c", &"x ".repeat(3000)];
        for _ in 0..3 {
            let mut fed = take_fed();
            assert!(fed.is_empty() && fed.answers().next().is_none());
            texts.iter().for_each(|t| fed.push(t));
            assert_eq!(fed.len(), texts.len());
            assert_eq!(fed.answers().collect::<Vec<_>>(), texts);
            recycle_fed(fed);
        }
        // A buffer past the size kept is dropped, not pooled; the pool's byte count is exact.
        let mut big = FedAnswers::default();
        big.push(&"y".repeat(SPARE_FED_MAX + 1));
        recycle_fed(big);
        let spare = SPARE_FED.lock().unwrap();
        let held: usize = spare.bufs.iter().map(FedAnswers::capacity_bytes).sum();
        assert_eq!(spare.bytes, held);
        assert!(held <= SPARE_FED_BYTES);
        assert!(spare
            .bufs
            .iter()
            .all(|f| f.is_empty() && f.capacity_bytes() <= SPARE_FED_MAX));
        drop(spare);
    }

    /// The fed batch equals the indexed one for any thread count, and stops on a feed error or
    /// on a chunk fed the wrong number of answers.
    fn fed_matches_by_index<'s>(refs: &[Vec<&'s str>], cfg: &Config) {
        let mut offsets = vec![0];
        for q in refs {
            offsets.push(offsets[offsets.len() - 1] + q.len());
        }
        let flat: Vec<&'s str> = refs.iter().flatten().copied().collect();
        let want = agree_batch_columns_by(
            &offsets,
            |i| Question {
                answers: &flat[offsets[i]..offsets[i + 1]],
                ..Default::default()
            },
            cfg,
            Some(1),
        )
        .unwrap();
        for (threads, single) in [(Some(1), false), (Some(2), false), (None, true)] {
            let feed = |r: Range<usize>, out: &mut FedAnswers| -> Result<()> {
                flat[offsets[r.start]..offsets[r.end]].iter().for_each(|a| out.push(a));
                Ok(())
            };
            let got = agree_batch_columns_fed(&offsets, feed, |_| Question::default(), cfg, threads, single, |b| b());
            // Compared as text: the columns hold NaN where a measure was not asked for.
            assert_eq!(format!("{:?}", got.unwrap()), format!("{want:?}"));
            let failing = |r: Range<usize>, out: &mut FedAnswers| {
                flat[offsets[r.start]..offsets[r.end]].iter().for_each(|a| out.push(a));
                if r.end > 600 {
                    Err(CredoError::invalid("feed", "stop"))
                } else {
                    Ok(())
                }
            };
            let err = agree_batch_columns_fed(
                &offsets,
                failing,
                |_| Question::default(),
                cfg,
                threads,
                single,
                |b| b(),
            );
            assert!(err.unwrap_err().to_string().contains("stop"));
            let short = |r: Range<usize>, out: &mut FedAnswers| -> Result<()> {
                let end = offsets[r.end] - usize::from(r.start == CHUNK);
                flat[offsets[r.start]..end].iter().for_each(|a| out.push(a));
                Ok(())
            };
            let err = agree_batch_columns_fed(&offsets, short, |_| Question::default(), cfg, threads, single, |b| b());
            assert!(err.unwrap_err().to_string().contains(&format!("questions {CHUNK}..")));
        }
    }
}
