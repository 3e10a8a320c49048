//! One response's top-k logprobs reduced to sequence-level features in a single pass: the
//! single-request path of the decision layer (signals → confidence → policy in microseconds).
//!
//! Per position the values are those of [`topk_signals`](super::topk::topk_signals) to a few
//! ulp. Three stages per block of rows: e^x of every entry in one vectorised pass
//! ([`super::exp64`]); the row kernel (module `topk_rows`), which reduces each row to a few
//! columns — rows already sorted in descending order (as servers return them) skip the filtering
//! and the sort, the others are rebuilt here entry by entry; then the column-wise aggregation
//! (module `topk_aggregate`). Buffers are kept per thread: nothing is allocated per call. The
//! aggregates skip NaN positions (a row with no valid entry, a missing chosen logprob); an
//! aggregate with no defined position is NaN.

use std::cell::Cell;

use super::exp64::{exp_le0, exp_slice_summary, EXP64_MIN};
use super::simd::{active, SimdLevel};
use super::topk::{chosen_above_zero, entry_above_zero, TopkOptions, POSITIVE_SLACK};
use super::topk_aggregate::{aggregate, Columns, COLUMNS};
use super::topk_rows::{mass_and_entropy, reduce_rows, Block, RowOut};
use crate::error::{CredoError, Result};
use crate::scratch::with_scratch;

/// Sequence-level features of one response's top-k logprobs.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TopkSummary {
    /// Positions (rows).
    pub n_tokens: usize,
    /// Mean and max over positions of the policy's entropy (`bounds`: the lower bound).
    pub mean_entropy: f64,
    pub max_entropy: f64,
    /// Mean over positions of the entropy upper bound (NaN without `vocab_size`).
    pub mean_entropy_upper: f64,
    /// Mean and max of the tail mass 1 − Σp outside the returned entries.
    pub mean_tail_mass: f64,
    pub max_tail_mass: f64,
    /// Mean and min of p₁ − p₂ (renormalised under `renormalized`).
    pub mean_margin: f64,
    pub min_margin: f64,
    /// Mean of the top-1 logprob.
    pub mean_max_logprob: f64,
    /// Sum, mean and min of the chosen token's logprob (NaN without chosen logprobs).
    pub sum_logprob: f64,
    pub mean_logprob: f64,
    pub min_logprob: f64,
    /// Share of positions whose chosen token is not the top-1 entry (rank ≥ 1), over the
    /// positions with a chosen logprob (NaN without chosen logprobs).
    pub not_top1: f64,
}

/// One response's `[rows, width]` top-k logprobs (row-major) for [`topk_summary_batch`].
#[derive(Clone, Copy, Debug)]
pub enum TopkLogprobs<'a> {
    F64(&'a [f64]),
    F32(&'a [f32]),
}

/// One response of a [`topk_summary_batch`].
#[derive(Clone, Copy, Debug)]
pub struct TopkResponse<'a> {
    pub top: TopkLogprobs<'a>,
    pub rows: usize,
    pub width: usize,
    pub chosen: Option<&'a [f64]>,
}

impl TopkResponse<'_> {
    /// [`topk_summary`] (or [`topk_summary_f32`]) of this response alone.
    pub fn summary(&self, opts: &TopkOptions) -> Result<TopkSummary> {
        match self.top {
            TopkLogprobs::F64(t) => topk_summary(t, self.rows, self.width, self.chosen, opts),
            TopkLogprobs::F32(t) => topk_summary_f32(t, self.rows, self.width, self.chosen, opts),
        }
    }
}

/// [`topk_summary`] of many responses, in parallel on `threads` workers (resolved as in
/// [`with_threads`]): each summary is computed exactly as alone, so the result does not depend on
/// the thread count. An error names the first failing response by its index
/// (`top_logprobs[i]: ...`). [`topk_summary_batch_fed`] with every response already at hand.
///
/// [`with_threads`]: crate::parallel::with_threads
pub fn topk_summary_batch(
    responses: &[TopkResponse<'_>],
    opts: &TopkOptions,
    threads: Option<usize>,
) -> Result<Vec<TopkSummary>> {
    topk_summary_batch_fed(responses.len(), |i| Ok(responses[i]), opts, threads, |block| block())
}

/// A chunk of [`topk_summary_batch_fed`] closes once its responses hold this many entries
/// (rows × width): about 30 µs of work, so a chunk's hand-over (a few locks) is noise beside it,
/// and the last chunk, which one thread may finish alone, is short.
const FED_CHUNK_ENTRIES: usize = 1 << 14;

/// [`topk_summary_batch`] with the `n` responses handed over one at a time: `feed(i)` runs on
/// the calling thread, in order (the bindings borrow the Python arrays there, under the GIL), and
/// each chunk of fed responses can be summarised by a pool worker while the next is fed; the
/// calling thread summarises the chunks left unclaimed once it has fed them all ([`pipeline`],
/// which also says what `wait` does). So the feeding overlaps the work, and no thread waits
/// for a worker to wake before work starts. Each summary is computed exactly as alone. A `feed`
/// error stops feeding and is returned as is; else an error names the first failing response by
/// its index, as [`topk_summary_batch`]'s.
///
/// [`pipeline`]: crate::parallel::pipeline
pub fn topk_summary_batch_fed<'a, E: From<CredoError>>(
    n: usize,
    mut feed: impl FnMut(usize) -> std::result::Result<TopkResponse<'a>, E>,
    opts: &TopkOptions,
    threads: Option<usize>,
    wait: impl FnOnce(&mut (dyn FnMut() + Send)),
) -> std::result::Result<Vec<TopkSummary>, E> {
    let produce = |submit: &mut dyn FnMut((usize, Vec<TopkResponse<'a>>))| -> std::result::Result<(), E> {
        let (mut first, mut chunk, mut entries) = (0, Vec::new(), 0usize);
        for i in 0..n {
            let response = feed(i)?;
            entries = entries.saturating_add(response.rows.saturating_mul(response.width));
            chunk.push(response);
            if entries >= FED_CHUNK_ENTRIES || i + 1 == n {
                submit((first, std::mem::take(&mut chunk)));
                (first, entries) = (i + 1, 0);
            }
        }
        Ok(())
    };
    let work = |(first, chunk): (usize, Vec<TopkResponse<'a>>)| -> Result<Vec<TopkSummary>> {
        (chunk.iter().enumerate())
            .map(|(j, r)| r.summary(opts).map_err(|e| e.at(first + j)))
            .collect()
    };
    let mut out = Vec::with_capacity(n);
    for chunk in crate::parallel::pipeline(threads, n <= 1, produce, work, wait)?? {
        out.extend(chunk?);
    }
    Ok(out)
}

/// Sequence-level features from `top` (row-major `[rows, width]`) and the optional chosen
/// logprobs; same validation and per-position semantics as `topk_signals`.
pub fn topk_summary(
    top: &[f64],
    rows: usize,
    width: usize,
    chosen: Option<&[f64]>,
    opts: &TopkOptions,
) -> Result<TopkSummary> {
    summary(top, rows, width, chosen, opts)
}

/// [`topk_summary`] of float32 logprobs (widened exactly to f64 entry by entry).
pub fn topk_summary_f32(
    top: &[f32],
    rows: usize,
    width: usize,
    chosen: Option<&[f64]>,
    opts: &TopkOptions,
) -> Result<TopkSummary> {
    let wide: Vec<f64> = top.iter().map(|&x| f64::from(x)).collect();
    summary(&wide, rows, width, chosen, opts)
}

fn summary(top: &[f64], rows: usize, width: usize, chosen: Option<&[f64]>, opts: &TopkOptions) -> Result<TopkSummary> {
    summary_at(active(), top, rows, width, chosen, opts)
}

/// Buffers of [`summary`] kept per thread between calls (a summary takes microseconds: a fresh
/// allocation and zeroing of its blocks would be a tenth of that).
#[derive(Default)]
struct Scratch {
    probs: Vec<f64>,
    clean: Vec<bool>,
    cols: Vec<f64>,
}

thread_local! {
    static SCRATCH: Cell<Scratch> = Cell::new(Scratch::default());
}

/// Rows of columns a thread keeps between calls (longer responses allocate their own).
const KEEP_ROWS: usize = 1 << 16;

/// `v[..n]`, growing `v` (never shrinking it) so its contents from an earlier call are reused;
/// every caller writes each element before reading it.
fn prefix<T: Copy + Default>(v: &mut Vec<T>, n: usize) -> &mut [T] {
    if v.len() < n {
        v.resize(n, T::default());
    }
    &mut v[..n]
}

/// [`summary`] with the row reductions at `level` (a supported level: the tests force each).
fn summary_at(
    level: SimdLevel,
    top: &[f64],
    rows: usize,
    width: usize,
    chosen: Option<&[f64]>,
    opts: &TopkOptions,
) -> Result<TopkSummary> {
    super::topk::check_shapes(top.len(), rows, width, chosen)?;
    let k = super::topk::check_options(width, opts)?;
    with_scratch(
        &SCRATCH,
        |scratch| summary_in(scratch, level, top, rows, width, chosen, k, opts),
        |_| rows <= KEEP_ROWS,
    )
}

#[allow(clippy::too_many_arguments)]
fn summary_in(
    scratch: &mut Scratch,
    level: SimdLevel,
    xs: &[f64],
    rows: usize,
    width: usize,
    chosen: Option<&[f64]>,
    k: usize,
    opts: &TopkOptions,
) -> Result<TopkSummary> {
    // e^x of every entry, one vectorised pass per block of rows (small enough to still be in
    // L1 when its rows are reduced); see [`reduce_block`].
    const BLOCK: usize = 2048;
    // A multiple of four rows where it can be: the row kernels take four rows at a time.
    let block_rows = match BLOCK / width {
        0 => 1,
        n @ 1..4 => n,
        n => n / 4 * 4,
    };
    let block_probs = prefix(&mut scratch.probs, block_rows * width);
    let block_clean = prefix(&mut scratch.clean, block_rows);
    let mut rebuilt = Rebuilt::default();
    // The row loop only reduces each row to a few numbers (one column each); everything after
    // them is computed for all rows at once ([`aggregate`]).
    let cols = Columns::split(prefix(&mut scratch.cols, COLUMNS * rows), rows);
    // Errors name the first bad position (its top-k entries before its chosen logprob). A
    // branch-free fold first (it vectorises; a search that stops early does not), the position
    // only when there is one.
    let bad_chosen = chosen
        .filter(|c| c.iter().fold(false, |bad, &x| bad | (x > POSITIVE_SLACK)))
        .and_then(|c| c.iter().position(|&x| x > POSITIVE_SLACK));
    for b0 in (0..rows).step_by(block_rows) {
        let end = (b0 + block_rows).min(rows);
        let mut out = RowOut {
            mass: &mut cols.mass[b0..end],
            entropy: &mut cols.raw_h[b0..end],
            above: &mut cols.above[b0..end],
            pmin: &mut cols.pmin[b0..end],
            lmin: &mut cols.lmin[b0..end],
            kept_n: &mut cols.kept_n[b0..end],
            margin: &mut cols.margin[b0..end],
            top1: &mut cols.top1[b0..end],
            clean: &mut block_clean[..end - b0],
        };
        let rows_here = BlockRows {
            top: &xs[b0 * width..end * width],
            first: b0,
            width,
            chosen: chosen.map(|c| &c[b0..end]),
            chosen_all: chosen,
            bad_chosen,
        };
        reduce_block(level, &rows_here, k, opts, block_probs, &mut out, &mut rebuilt)?;
    }
    if let Some(rc) = bad_chosen {
        return Err(chosen_above_zero(rc, chosen.map_or(f64::NAN, |c| c[rc])));
    }
    Ok(aggregate(level, cols, chosen, opts))
}

/// Rows of one block of [`reduce_block`]: `top` holds rows `first..` of the response.
struct BlockRows<'a> {
    top: &'a [f64],
    first: usize,
    width: usize,
    /// This block's chosen logprobs, and the whole response's (for the error of an earlier row).
    chosen: Option<&'a [f64]>,
    chosen_all: Option<&'a [f64]>,
    /// The first position whose chosen logprob is above 0.
    bad_chosen: Option<usize>,
}

/// Buffers of the rows rebuilt entry by entry.
#[derive(Default)]
struct Rebuilt {
    kept: Vec<f64>,
    probs: Vec<f64>,
}

/// The first stage of the summary for one block of rows: e^x of every entry (one vectorised
/// pass), the row kernel, which reduces each row to its columns in `out` — rows that are clean
/// (all entries valid, in [EXP64_MIN, 0], sorted descending, none beyond k) take the kernel's
/// values as they stand — and the other rows rebuilt entry by entry. Each row's columns depend
/// on that row alone: the streaming summary ([`TopkRunning`]) reduces rows one at a time with
/// the same bits.
fn reduce_block(
    level: SimdLevel,
    b: &BlockRows<'_>,
    k: usize,
    opts: &TopkOptions,
    probs: &mut [f64],
    out: &mut RowOut<'_>,
    re: &mut Rebuilt,
) -> Result<()> {
    let width = b.width;
    let rows = b.top.len() / width;
    let block_probs = &mut probs[..b.top.len()];
    exp_slice_summary(b.top, block_probs);
    let rows_here = Block {
        top: b.top,
        probs: block_probs,
        rows,
        width,
        chosen: b.chosen,
        sentinel: opts.sentinel,
    };
    reduce_rows(level, rows_here, out);
    // Most often every row is clean (a branch-free fold, which vectorises, says so at once).
    if k >= width && out.clean[..rows].iter().fold(true, |all, &c| all & c) {
        return Ok(());
    }
    // Rows the kernel could not take as they stand (or wider than k): rebuilt entry by entry.
    for i in 0..rows {
        if out.clean[i] && k >= width {
            continue;
        }
        let r = b.first + i;
        re.kept.clear();
        for (j, &x) in b.top[i * width..(i + 1) * width].iter().enumerate() {
            if x == f64::INFINITY || x > POSITIVE_SLACK {
                return Err(match b.bad_chosen.filter(|&rc| rc < r) {
                    Some(rc) => chosen_above_zero(rc, b.chosen_all.map_or(f64::NAN, |c| c[rc])),
                    None => entry_above_zero(r, j, x),
                });
            }
            if !opts.is_missing(x) {
                re.kept.push(x.min(0.0));
            }
        }
        if !re.kept.windows(2).all(|w| w[0] >= w[1]) {
            re.kept.sort_by(|a, b| b.total_cmp(a));
        }
        re.kept.truncate(k);
        re.probs.clear();
        re.probs.extend(
            re.kept
                .iter()
                .map(|&l| if l >= EXP64_MIN { exp_le0(l) } else { l.exp() }),
        );
        let (m, h) = mass_and_entropy(&re.probs, &re.kept);
        let cl = b.chosen.map_or(f64::NAN, |c| c[i].min(0.0));
        let above: u32 = re.kept.iter().map(|&l| u32::from(l > cl)).sum();
        out.put_values(i, &re.kept, &re.probs, (m, h, above));
    }
    Ok(())
}

/// Per-row columns the row stage fills ([`RowOut`] without its `clean` flags), in the order of
/// [`RunningColumns::all_mut`].
const ROW_COLUMNS: usize = 8;

/// The streaming form of [`topk_summary`]: rows (with their chosen logprobs) pushed one at a
/// time as a server streams them, each reduced to its columns on arrival by the same row stage
/// (`reduce_block`); [`TopkRunning::summary`] aggregates the columns so far with the same
/// `aggregate`, so at every point it equals `topk_summary` of the rows so far, bit for bit.
/// Rows narrower than the widest pushed are padded with NaN (missing) as a reader pads them; a
/// wider row re-reduces the earlier rows at the new width (rare: servers return k entries).
#[derive(Clone, Debug)]
pub struct TopkRunning {
    opts: TopkOptions,
    width: usize,
    /// Every row at `width` (kept for a re-reduction and for the arrays), and its chosen logprob.
    top: Vec<f64>,
    chosen: Vec<f64>,
    cols: [Vec<f64>; ROW_COLUMNS],
    probs: Vec<f64>,
}

/// Columns of a [`TopkRunning`] by name.
struct RunningColumns;

impl RunningColumns {
    const MASS: usize = 0;
    const RAW_H: usize = 1;
    const ABOVE: usize = 2;
    const PMIN: usize = 3;
    const LMIN: usize = 4;
    const KEPT_N: usize = 5;
    const MARGIN: usize = 6;
    const TOP1: usize = 7;
}

impl TopkRunning {
    /// An empty stream summarised with `opts` (the same options as `topk_summary`'s).
    pub fn new(opts: TopkOptions) -> Result<Self> {
        super::topk::check_options(1, &opts)?;
        Ok(Self {
            opts,
            width: 0,
            top: Vec::new(),
            chosen: Vec::new(),
            cols: Default::default(),
            probs: Vec::new(),
        })
    }

    /// Positions pushed so far.
    pub fn rows(&self) -> usize {
        self.chosen.len()
    }

    /// The rows so far: `[rows, width]` row-major (NaN-padded), their width, and the chosen
    /// logprobs.
    pub fn arrays(&self) -> (&[f64], usize, &[f64]) {
        (&self.top, self.width.max(1), &self.chosen)
    }

    /// Adds one position: its top-k logprobs (any order, NaN or at most the sentinel for
    /// missing) and its chosen logprob (NaN when missing). A bad value is refused and leaves the
    /// state as it was.
    pub fn push(&mut self, row: &[f64], chosen: f64) -> Result<()> {
        let r = self.rows();
        if chosen > POSITIVE_SLACK {
            return Err(chosen_above_zero(r, chosen));
        }
        if row.len() > self.width.max(1) && r > 0 {
            self.widen(row.len())?;
        }
        let width = self.width.max(row.len()).max(1);
        if self.width == 0 {
            self.width = width;
        }
        let at = self.top.len();
        self.top.extend_from_slice(row);
        self.top.resize(at + width, f64::NAN);
        self.chosen.push(chosen);
        let res = self.reduce_last();
        if res.is_err() {
            self.top.truncate(at);
            self.chosen.pop();
        }
        res
    }

    /// Reduces the last row into the columns.
    fn reduce_last(&mut self) -> Result<()> {
        let width = self.width;
        let k = super::topk::check_options(width, &self.opts)?;
        let r = self.rows() - 1;
        let top = &self.top[r * width..];
        let chosen = &self.chosen[r..];
        if self.probs.len() < width {
            self.probs.resize(width, 0.0);
        }
        let mut one = [0.0f64; ROW_COLUMNS];
        let mut clean = [false];
        {
            let [mass, raw_h, above, pmin, lmin, kept_n, margin, top1] = &mut one;
            let mut out = RowOut {
                mass: std::slice::from_mut(mass),
                entropy: std::slice::from_mut(raw_h),
                above: std::slice::from_mut(above),
                pmin: std::slice::from_mut(pmin),
                lmin: std::slice::from_mut(lmin),
                kept_n: std::slice::from_mut(kept_n),
                margin: std::slice::from_mut(margin),
                top1: std::slice::from_mut(top1),
                clean: &mut clean,
            };
            let b = BlockRows {
                top,
                first: r,
                width,
                chosen: Some(chosen),
                chosen_all: Some(&self.chosen),
                bad_chosen: None,
            };
            let mut re = Rebuilt::default();
            reduce_block(active(), &b, k, &self.opts, &mut self.probs, &mut out, &mut re)?;
        }
        for (col, v) in self.cols.iter_mut().zip(one) {
            col.push(v);
        }
        Ok(())
    }

    /// Re-pads every row to `width` and reduces them again.
    fn widen(&mut self, width: usize) -> Result<()> {
        let old = self.width.max(1);
        let rows = self.rows();
        let mut top = vec![f64::NAN; rows * width];
        for r in 0..rows {
            top[r * width..r * width + old].copy_from_slice(&self.top[r * old..(r + 1) * old]);
        }
        let mut again = Self::new(self.opts)?;
        again.width = width;
        for r in 0..rows {
            again.top.extend_from_slice(&top[r * width..(r + 1) * width]);
            again.chosen.push(self.chosen[r]);
            again.reduce_last()?;
        }
        *self = again;
        Ok(())
    }

    /// The summary of the rows so far (an error before the first row, as `topk_summary`).
    pub fn summary(&self) -> Result<TopkSummary> {
        let rows = self.rows();
        if rows == 0 {
            return Err(crate::error::CredoError::empty("top_logprobs", "no positions yet"));
        }
        let mut buf = vec![0.0f64; COLUMNS * rows];
        let cols = Columns::split(&mut buf, rows);
        let c = &self.cols;
        cols.mass.copy_from_slice(&c[RunningColumns::MASS]);
        cols.raw_h.copy_from_slice(&c[RunningColumns::RAW_H]);
        cols.above.copy_from_slice(&c[RunningColumns::ABOVE]);
        cols.pmin.copy_from_slice(&c[RunningColumns::PMIN]);
        cols.lmin.copy_from_slice(&c[RunningColumns::LMIN]);
        cols.kept_n.copy_from_slice(&c[RunningColumns::KEPT_N]);
        cols.margin.copy_from_slice(&c[RunningColumns::MARGIN]);
        cols.top1.copy_from_slice(&c[RunningColumns::TOP1]);
        Ok(aggregate(active(), cols, Some(&self.chosen), &self.opts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::topk::{topk_signals, TopkPolicy};

    use crate::rng::SplitMix64 as Rng;

    fn nan_mean(v: &[f64]) -> f64 {
        let d: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
        if d.is_empty() {
            f64::NAN
        } else {
            d.iter().sum::<f64>() / d.len() as f64
        }
    }

    fn nan_fold(v: &[f64], f: fn(f64, f64) -> f64) -> f64 {
        v.iter().copied().filter(|x| !x.is_nan()).reduce(f).unwrap_or(f64::NAN)
    }

    fn same(a: f64, b: f64) -> bool {
        (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-12 * a.abs().max(1.0)
    }

    /// Random rows: sorted or shuffled, with sentinels, NaN, an occasional empty row, and chosen
    /// logprobs inside, outside or missing.
    fn data(rng: &mut Rng, rows: usize, width: usize) -> (Vec<f64>, Vec<f64>) {
        let mut top = Vec::with_capacity(rows * width);
        let mut chosen = Vec::with_capacity(rows);
        for _ in 0..rows {
            let mut row: Vec<f64> = (0..width).map(|_| -rng.next_f64() * 6.0 - 0.01).collect();
            if rng.next_f64() < 0.7 {
                row.sort_by(|a, b| b.total_cmp(a));
            }
            for x in row.iter_mut() {
                let u = rng.next_f64();
                if u < 0.05 {
                    *x = -9999.0;
                } else if u < 0.07 {
                    *x = f64::NAN;
                }
            }
            if rng.next_f64() < 0.03 {
                row.iter_mut().for_each(|x| *x = -9999.0);
            }
            let u = rng.next_f64();
            chosen.push(if u < 0.1 {
                f64::NAN
            } else if u < 0.2 {
                -8.0
            } else {
                row[(rng.next_f64() * width as f64) as usize].max(-7.0)
            });
            top.extend(row);
        }
        (top, chosen)
    }

    #[test]
    fn matches_per_position_signals_aggregated() {
        let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15);
        for case in 0..64 {
            // Some responses span several blocks of rows (BLOCK / width rows each), and the last
            // cases have rows wider than a block (one row per block, on the heap).
            let rows = 1 + (rng.next_f64() * if case % 5 == 0 { 400.0 } else { 40.0 }) as usize;
            let width = if case >= 60 {
                2047 + (rng.next_f64() * 1500.0) as usize
            } else {
                1 + (rng.next_f64() * 24.0) as usize
            };
            let (top, chosen) = data(&mut rng, rows, width);
            let policy = [TopkPolicy::Raw, TopkPolicy::Renormalized, TopkPolicy::Bounds][case % 3];
            let opts = TopkOptions {
                policy,
                vocab_size: if case % 2 == 0 { Some(100_000) } else { None },
                k: if case % 4 == 1 { Some(width.div_ceil(2)) } else { None },
                ..Default::default()
            };
            let s = topk_signals(&top, rows, width, Some(&chosen), &opts).unwrap();
            let f = topk_summary(&top, rows, width, Some(&chosen), &opts).unwrap();
            let lp = s.chosen_logprob.as_ref().unwrap();
            let rank = s.chosen_rank.as_ref().unwrap();
            assert_eq!(f.n_tokens, rows);
            assert!(same(f.mean_entropy, nan_mean(&s.entropy)), "case {case}");
            assert!(same(f.max_entropy, nan_fold(&s.entropy, f64::max)));
            assert!(same(f.mean_entropy_upper, nan_mean(&s.entropy_upper)));
            assert!(same(f.mean_tail_mass, nan_mean(&s.tail_mass)));
            assert!(same(f.max_tail_mass, nan_fold(&s.tail_mass, f64::max)));
            assert!(same(f.mean_margin, nan_mean(&s.margin_prob)));
            assert!(same(f.min_margin, nan_fold(&s.margin_prob, f64::min)));
            assert!(same(f.mean_max_logprob, nan_mean(&s.max_logprob)));
            assert!(same(f.mean_logprob, nan_mean(lp)), "case {case}");
            assert!(same(f.min_logprob, nan_fold(lp, f64::min)));
            let with: Vec<i64> = rank.iter().copied().filter(|&r| r >= 0).collect();
            let want = with.iter().filter(|&&r| r >= 1).count() as f64 / with.len() as f64;
            assert!(same(f.not_top1, want));
            // f32 input gives the f64 result of the widened values.
            let t32: Vec<f32> = top.iter().map(|&x| x as f32).collect();
            let t64: Vec<f64> = t32.iter().map(|&x| f64::from(x)).collect();
            let a = topk_summary_f32(&t32, rows, width, Some(&chosen), &opts).unwrap();
            let b = topk_summary(&t64, rows, width, Some(&chosen), &opts).unwrap();
            assert_eq!(format!("{a:?}"), format!("{b:?}"));
            // Every SIMD level of the row reductions gives the scalar reference's bits.
            let reference = summary_at(SimdLevel::Scalar, &top, rows, width, Some(&chosen), &opts).unwrap();
            for level in crate::signals::simd::supported_levels() {
                for c in [Some(&chosen[..]), None] {
                    let got = summary_at(level, &top, rows, width, c, &opts).unwrap();
                    let want = summary_at(SimdLevel::Scalar, &top, rows, width, c, &opts).unwrap();
                    assert_eq!(format!("{got:?}"), format!("{want:?}"), "{} case {case}", level.name());
                }
            }
            assert_eq!(format!("{reference:?}"), format!("{f:?}"));
        }
    }

    #[test]
    fn running_summary_equals_the_batch_one_at_every_point() {
        let mut rng = Rng::new(0x5EED);
        for case in 0..24 {
            let rows = 1 + (rng.next_f64() * 60.0) as usize;
            let width = 1 + (rng.next_f64() * 22.0) as usize;
            let (mut top, chosen) = data(&mut rng, rows, width);
            // Some rows shorter than the widest (a reader pads them with NaN).
            let lens: Vec<usize> = (0..rows)
                .map(|_| {
                    if case % 3 == 0 {
                        1 + (rng.next_f64() * width as f64) as usize
                    } else {
                        width
                    }
                })
                .collect();
            for (r, &n) in lens.iter().enumerate() {
                top[r * width + n..(r + 1) * width]
                    .iter_mut()
                    .for_each(|x| *x = f64::NAN);
            }
            let policy = [TopkPolicy::Raw, TopkPolicy::Renormalized, TopkPolicy::Bounds][case % 3];
            let opts = TopkOptions {
                policy,
                vocab_size: (case % 2 == 0).then_some(50_000),
                ..Default::default()
            };
            let mut run = TopkRunning::new(opts).unwrap();
            for r in 0..rows {
                run.push(&top[r * width..r * width + lens[r]], chosen[r]).unwrap();
                if r % 7 == 0 || r + 1 == rows {
                    let widest = lens[..=r].iter().copied().max().unwrap();
                    let mut prefix = vec![f64::NAN; (r + 1) * widest];
                    for q in 0..=r {
                        prefix[q * widest..q * widest + lens[q]].copy_from_slice(&top[q * width..q * width + lens[q]]);
                    }
                    let want = topk_summary(&prefix, r + 1, widest, Some(&chosen[..=r]), &opts).unwrap();
                    assert_eq!(
                        format!("{:?}", run.summary().unwrap()),
                        format!("{want:?}"),
                        "case {case} row {r}"
                    );
                    let (t, w, c) = run.arrays();
                    assert_eq!((w, c.len()), (widest, r + 1));
                    assert_eq!(format!("{t:?}"), format!("{prefix:?}"));
                }
            }
        }
        let mut run = TopkRunning::new(TopkOptions::default()).unwrap();
        assert!(run.summary().is_err());
        assert!(run.push(&[-0.1, 0.5], -0.1).is_err());
        assert!(run.push(&[-0.1], 0.5).is_err());
        assert_eq!(run.rows(), 0);
    }

    #[test]
    fn batch_is_each_response_alone_and_names_the_bad_one() {
        let mut rng = Rng::new(42);
        let opts = TopkOptions::default();
        let data: Vec<(Vec<f64>, Vec<f64>, usize, usize)> = (0..40)
            .map(|i| {
                let (rows, width) = (1 + i % 7 * 5, 1 + i % 5 * 3);
                let (top, chosen) = data(&mut rng, rows, width);
                (top, chosen, rows, width)
            })
            .collect();
        let t32: Vec<Vec<f32>> = data.iter().map(|d| d.0.iter().map(|&x| x as f32).collect()).collect();
        let reqs: Vec<TopkResponse> = data
            .iter()
            .zip(&t32)
            .enumerate()
            .map(|(i, ((top, chosen, rows, width), t32))| TopkResponse {
                top: if i % 3 == 0 {
                    TopkLogprobs::F32(t32)
                } else {
                    TopkLogprobs::F64(top)
                },
                rows: *rows,
                width: *width,
                chosen: (i % 4 != 1).then_some(&chosen[..]),
            })
            .collect();
        for threads in [1, 3] {
            let got = topk_summary_batch(&reqs, &opts, Some(threads)).unwrap();
            for (r, g) in reqs.iter().zip(&got) {
                // each response alone, through the kernel of its dtype
                let alone = match r.top {
                    TopkLogprobs::F64(t) => topk_summary(t, r.rows, r.width, r.chosen, &opts),
                    TopkLogprobs::F32(t) => topk_summary_f32(t, r.rows, r.width, r.chosen, &opts),
                };
                assert_eq!(format!("{:?}", alone.unwrap()), format!("{g:?}"));
            }
        }
        let bad = [-0.1, 0.5];
        let mut with_bad = reqs[..3].to_vec();
        with_bad[2] = TopkResponse {
            top: TopkLogprobs::F64(&bad),
            rows: 1,
            width: 2,
            chosen: None,
        };
        let err = topk_summary_batch(&with_bad, &opts, None).unwrap_err().to_string();
        assert!(err.starts_with("top_logprobs[2]: "), "{err}");

        // Fed one at a time (the repeats make about 16 chunks), on 1 to 3 threads: the same rows.
        let many: Vec<TopkResponse> = reqs.iter().cycle().take(reqs.len() * 60).copied().collect();
        let want = format!("{:?}", topk_summary_batch(&many, &opts, Some(1)).unwrap());
        let fed = |many: &[TopkResponse<'_>], threads| {
            let mut waited = false;
            let got = topk_summary_batch_fed(
                many.len(),
                |i| Ok::<_, CredoError>(many[i]),
                &opts,
                threads,
                |block| {
                    waited = true;
                    block();
                },
            );
            assert!(waited);
            got
        };
        for threads in [Some(1), Some(2), Some(3), None] {
            assert_eq!(format!("{:?}", fed(&many, threads).unwrap()), want, "{threads:?}");
        }
        // the first bad response is named, whichever thread met it
        let mut bad_many = many.clone();
        (bad_many[1500], bad_many[1000]) = (with_bad[2], with_bad[2]);
        let err = fed(&bad_many, Some(2)).unwrap_err().to_string();
        assert!(err.starts_with("top_logprobs[1000]: "), "{err}");
        // a feed error stops the feeding and is returned as is
        let mut calls = 0;
        let stop = |i: usize| {
            calls += 1;
            if i == 700 {
                return Err(CredoError::invalid("x", "stop"));
            }
            Ok(many[i])
        };
        let err = topk_summary_batch_fed(many.len(), stop, &opts, Some(2), |block| block());
        assert_eq!(err.unwrap_err().to_string(), "x: stop");
        assert_eq!(calls, 701);
    }

    #[test]
    fn without_chosen_and_bad_input() {
        let top = [-0.1, -2.5, -0.3, -1.5];
        let f = topk_summary(&top, 2, 2, None, &TopkOptions::default()).unwrap();
        assert!(f.mean_logprob.is_nan() && f.sum_logprob.is_nan() && f.not_top1.is_nan());
        assert!(f.mean_entropy > 0.0);
        let o = TopkOptions::default();
        assert!(topk_summary(&[], 0, 2, None, &o).is_err());
        assert!(topk_summary(&[0.5, -1.0], 1, 2, None, &o).is_err());
        assert!(topk_summary(&top, 2, 2, Some(&[-0.1]), &o).is_err());
        assert!(topk_summary(&top, 2, 2, Some(&[-0.1, 0.2]), &o).is_err());
        let k0 = TopkOptions { k: Some(0), ..o };
        assert!(topk_summary(&top, 2, 2, None, &k0).is_err());
        // The first bad position is named, its top-k entries before its chosen logprob, in
        // whichever order the passes meet them.
        let bad_top = [-0.1, -2.5, -0.3, -1.5, 0.5, -1.0];
        let msg = |c: &[f64]| topk_summary(&bad_top, 3, 2, Some(c), &o).unwrap_err().to_string();
        assert!(msg(&[-0.1, 0.2, -0.1]).contains("chosen_logprob: logprob 0.2 at position 1"));
        assert!(msg(&[-0.1, -0.2, 0.3]).contains("top_logprobs: logprob 0.5 at position 2"));
        assert!(msg(&[-0.1, -0.2, -0.3]).contains("top_logprobs: logprob 0.5 at position 2"));
    }
}
