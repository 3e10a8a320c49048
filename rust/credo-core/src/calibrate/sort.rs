//! Sorting (x, y, w) samples by x for the isotonic fit.
//!
//! A comparison sort of 10⁶ records costs more than everything else in the fit together, so the
//! records are scattered into up to 2¹⁶ buckets by their position in [min x, max x] (a monotone
//! map, so bucket order is x order): for spread-out x about one record lands in each, and one
//! insertion pass finishes the job. A bucket that collects a cluster is split again on its own
//! range, recursively, and one that cannot be split falls back to a comparison sort. Records
//! compare on (x, y, w), a total order, so the result does not depend on the input order or the
//! algorithm: sums over ties are reproducible.

use crate::simd::SimdLevel;

/// A sample as the sort moves it. Samples compare on (x, y, w), a total order.
pub(crate) trait Sample: Copy + Send + Sync {
    /// The sample (x, y, w) (`w` is 1 for [`Unit`] and [`Packed`]).
    fn new(x: f64, y: f64, w: f64) -> Self;
    /// The sample at index i of the inputs (`w` is None for unit weights).
    #[inline]
    fn at(x: &[f64], y: &[f64], w: Option<&[f64]>, i: usize) -> Self {
        Self::new(x[i], y[i], w.map_or(1.0, |w| w[i]))
    }
    fn x(&self) -> f64;
    fn xyw(&self) -> (f64, f64, f64);
    /// The (x, y, w) order.
    #[inline]
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let (a, b) = (self.xyw(), other.xyw());
        a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.total_cmp(&b.2))
    }
    /// `cmp(a, b) == Less`, deciding on x with one float comparison in the common case (samples
    /// are finite, so `<` and `total_cmp` agree on distinct x; ±0 fall through to `cmp`).
    #[inline]
    fn less(&self, other: &Self) -> bool {
        if self.x() < other.x() {
            true
        } else if self.x() > other.x() {
            false
        } else {
            self.cmp(other).is_lt()
        }
    }
    /// This type's buffer in the per-thread scratch, and the shared work arrays.
    fn buffers(s: &mut Scratch) -> (&mut Vec<Self>, &mut Work);
    /// Sorts `s`, which holds records grouped by bucket (buckets in order, each holding a few
    /// records): an insertion sort, quadratic in the size of a bucket.
    #[inline]
    fn sort_grouped(s: &mut [Self]) {
        insertion_sort(s);
    }
    /// Copies `src` into `dst` (of the same length) as [`Self::sort_grouped`] would leave it.
    #[inline]
    fn copy_sorted(dst: &mut [Self], src: &[Self]) {
        dst.copy_from_slice(src);
        insertion_sort(dst);
    }
}

/// A sample with its weight.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Rec {
    pub x: f64,
    pub y: f64,
    pub w: f64,
}

/// A sample of unit weight: two thirds of a [`Rec`]'s bytes to move (the unweighted fit).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Unit {
    pub x: f64,
    pub y: f64,
}

impl Sample for Rec {
    #[inline]
    fn new(x: f64, y: f64, w: f64) -> Self {
        Self { x, y, w }
    }
    #[inline]
    fn x(&self) -> f64 {
        self.x
    }
    #[inline]
    fn xyw(&self) -> (f64, f64, f64) {
        (self.x, self.y, self.w)
    }
    fn buffers(s: &mut Scratch) -> (&mut Vec<Self>, &mut Work) {
        (&mut s.weighted, &mut s.work)
    }
}

impl Sample for Unit {
    #[inline]
    fn new(x: f64, y: f64, _: f64) -> Self {
        Self { x, y }
    }
    #[inline]
    fn x(&self) -> f64 {
        self.x
    }
    #[inline]
    fn xyw(&self) -> (f64, f64, f64) {
        (self.x, self.y, 1.0)
    }
    fn buffers(s: &mut Scratch) -> (&mut Vec<Self>, &mut Work) {
        (&mut s.unit, &mut s.work)
    }
}

/// An unweighted sample of x ≥ 0 with a 0/1 target, packed in one word: the bits of x (sign
/// bit clear) shifted left by one, and y in the low bit. For x ≥ 0 the bits of a float are in
/// the order of its value, so the words' integer order is the (x, y) order: half the bytes of a
/// [`Unit`] to move, and one integer comparison. −0 is stored as +0 (the same x).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Packed(u64);

impl Packed {
    /// Whether the fit's samples can be packed: no weights, x ≥ 0 (min of x) and y in {0, 1}.
    pub(crate) fn fits(w: Option<&[f64]>, x_min: f64, y_binary: bool) -> bool {
        w.is_none() && x_min >= 0.0 && y_binary
    }
}

impl Sample for Packed {
    #[inline]
    fn new(x: f64, y: f64, _: f64) -> Self {
        // + 0.0 turns −0 into +0, whose sign bit is clear like every other x ≥ 0.
        Self(((x + 0.0).to_bits() << 1) | u64::from(y == 1.0))
    }
    #[inline]
    fn x(&self) -> f64 {
        f64::from_bits(self.0 >> 1)
    }
    #[inline]
    fn xyw(&self) -> (f64, f64, f64) {
        (self.x(), f64::from(u8::from(self.0 & 1 == 1)), 1.0)
    }
    #[inline]
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.cmp(&other.0)
    }
    #[inline]
    fn less(&self, other: &Self) -> bool {
        self.0 < other.0
    }
    fn buffers(s: &mut Scratch) -> (&mut Vec<Self>, &mut Work) {
        (&mut s.packed, &mut s.work)
    }
    #[inline]
    fn sort_grouped(s: &mut [Self]) {
        bubble_insert(s, None);
    }
    #[inline]
    fn copy_sorted(dst: &mut [Self], src: &[Self]) {
        bubble_insert(dst, Some(src));
    }
}

/// Sorts `src` (of the length of `dst`; None: `dst` itself) into `dst`: one bubble pass, each
/// record going out as the smaller of itself and the largest before it (the larger carried on)
/// with integer min/max and no branches, and each record that goes out inserted into the sorted
/// output in the same loop. Over records grouped by bucket the bubble step sorts every bucket of
/// two (most of those holding more than one), so the insertion step rarely moves a record and
/// rarely mispredicts (measured at 10⁵ packed records, the second-level finish took 0.56 ms
/// with the bubble pass, 0.69 ms without); in one loop the output is read and written once. A
/// record never leaves its bucket: the largest so far is from its own bucket or an earlier one,
/// of smaller records. The insertion step sorts whatever the bubble step leaves.
#[inline]
fn bubble_insert(dst: &mut [Packed], src: Option<&[Packed]>) {
    let n = dst.len();
    let Some(first) = src.map_or(dst.first(), <[Packed]>::first) else {
        return;
    };
    let src = src.map(|s| &s[..n]);
    let mut carry = first.0;
    // the largest record placed so far: dst[i − 1] when record i − 1 was placed
    let mut last = 0u64;
    for i in 1..n {
        // record i is read before slot i − 1 and those below it are written
        let r = src.map_or(dst[i].0, |s| s[i].0);
        insert_last(&mut dst[..i], carry.min(r), &mut last);
        carry = carry.max(r);
    }
    insert_last(dst, carry, &mut last);
}

/// Puts `v` into the last slot of `s`, whose other slots are sorted with `last` their largest
/// (0 when there are none), shifting the larger ones up.
#[inline(always)]
fn insert_last(s: &mut [Packed], v: u64, last: &mut u64) {
    let i = s.len() - 1;
    if v >= *last {
        s[i] = Packed(v);
        *last = v;
        return;
    }
    // rare: the largest stays the largest, one slot up
    let mut j = i;
    while j > 0 && v < s[j - 1].0 {
        s[j] = s[j - 1];
        j -= 1;
    }
    s[j] = Packed(v);
}

/// Calls `f` with the samples of positive weight sorted by (x, y, w), as [`Rec`] or (without
/// weights) [`Unit`]. `lo`/`hi` are min/max of x.
///
/// The buffers come from a per-thread scratch kept between calls (up to [`KEEP_BYTES`]):
/// repeated fits, as in cross-validation or one fit per segment, then reuse warm
/// memory instead of paying a fresh allocation and its page faults every time.
pub(crate) fn with_sorted_records<S: Sample, R>(
    x: &[f64],
    y: &[f64],
    w: Option<&[f64]>,
    (lo, hi): (f64, f64),
    f: impl FnOnce(&[S]) -> R,
) -> R {
    crate::scratch::with_scratch(
        &SCRATCH,
        |scratch| {
            let (out, work) = S::buffers(scratch);
            sort_into(x, y, w, (lo, hi), out, work, crate::simd::active());
            f(out)
        },
        |scratch| {
            let w = &scratch.work;
            let bytes = [
                scratch.weighted.capacity() * size_of::<Rec>(),
                scratch.unit.capacity() * size_of::<Unit>(),
                scratch.packed.capacity() * size_of::<Packed>(),
                w.keys.capacity() * size_of::<u16>(),
                w.counts.capacity() * size_of::<u32>(),
                w.starts.capacity() * size_of::<usize>(),
            ];
            bytes.iter().sum::<usize>() <= KEEP_BYTES
        },
    )
}

/// Reused buffers of [`sort_into`].
#[derive(Default)]
pub(crate) struct Scratch {
    weighted: Vec<Rec>,
    unit: Vec<Unit>,
    packed: Vec<Packed>,
    work: Work,
}

/// The bucket keys, counts and starts of [`sort_into`].
#[derive(Default)]
pub(crate) struct Work {
    keys: Vec<u16>,
    counts: Vec<u32>,
    starts: Vec<usize>,
}

thread_local! {
    static SCRATCH: std::cell::Cell<Scratch> = std::cell::Cell::new(Scratch::default());
}

/// Sorts the samples of positive weight into `out`.
///
/// One wide level of buckets (about one record each for spread-out x) scattered straight from
/// the input slices into the output; buckets that collected a cluster are sorted on their own
/// range, and one insertion pass over the whole output then finishes every bucket at once (it
/// never moves a record past a bucket boundary, as bucket order is x order). The sorted content
/// of each bucket is unique (a total order), so the result does not depend on the thread count.
/// `level` picks the build of the second-level loops ([`finish_buckets`]).
fn sort_into<S: Sample>(
    x: &[f64],
    y: &[f64],
    w: Option<&[f64]>,
    (lo, hi): (f64, f64),
    out: &mut Vec<S>,
    work: &mut Work,
    level: SimdLevel,
) {
    let n = x.len();
    out.clear();
    let span = hi - lo;
    if n <= SMALL || u32::try_from(n).is_err() || !(span.is_finite() && span > 0.0) {
        out.extend(
            (0..n)
                .filter(|&i| w.is_none_or(|w| w[i] > 0.0))
                .map(|i| S::at(x, y, w, i)),
        );
        out.sort_unstable_by(S::cmp);
        return;
    }
    let key = Key::new(n, lo, span);
    let nb = key.top_buckets();
    // Fixed chunks of the input (not one per thread): keyed and counted, then scattered, in
    // parallel. Chunk c writes bucket b's records to its own slots
    // [off[c][b], off[c][b] + count[c][b]), after those of chunks < c: the layout of a
    // sequential scatter, whatever the threads.
    let chunks = if n >= PARALLEL_MIN { SCATTER_CHUNKS } else { 1 };
    let per = n.div_ceil(chunks);
    let range = |c: usize| c * per..((c + 1) * per).min(n);
    // Grown, never refilled: every key of keys[..n] is written before it is read.
    if work.keys.len() < n {
        work.keys.resize(n, 0);
    }
    let keys = &mut work.keys[..n];
    let counts = &mut work.counts;
    counts.clear();
    counts.resize(chunks * nb, 0);
    let count_chunk = |(c, (keys, cnt)): (usize, (&mut [u16], &mut [u32]))| {
        let r = range(c);
        key.top_keys(&x[r.clone()], keys, level);
        debug_assert!(keys.iter().all(|&k| usize::from(k) < cnt.len()));
        match w {
            None => {
                for &k in keys.iter() {
                    // SAFETY: every key is at most top >> low_bits = nb − 1 (Key::of caps at
                    // top), and cnt holds nb counts.
                    unsafe { *cnt.get_unchecked_mut(usize::from(k)) += 1 };
                }
            }
            Some(w) => {
                for (&k, &w) in keys.iter().zip(&w[r]) {
                    // SAFETY: as above, k < nb = cnt.len().
                    unsafe { *cnt.get_unchecked_mut(usize::from(k)) += u32::from(w > 0.0) };
                }
            }
        }
    };
    if chunks > 1 {
        crate::parallel::for_each_chunk_pair_mut((&mut *keys, per), (counts.as_mut_slice(), nb), |c, k, n| {
            count_chunk((c, (k, n)));
        });
    } else {
        count_chunk((0, (&mut *keys, counts.as_mut_slice())));
    }
    // Per chunk where its next record of each bucket goes (replacing the counts; positions
    // fit in u32 as n does). With two levels, the bucket starts; with one, the few buckets
    // too full for the final insertion pass.
    let two_levels = key.low_bits > 0;
    let starts = &mut work.starts;
    starts.clear();
    let mut full = Vec::new();
    let mut pos = 0u32;
    for b in 0..nb {
        let begin = pos;
        for c in 0..chunks {
            let count = counts[c * nb + b];
            counts[c * nb + b] = pos;
            pos += count;
        }
        if two_levels {
            starts.push(begin as usize);
        } else if pos - begin > SMALL as u32 {
            full.push(begin as usize..pos as usize);
        }
    }
    let m = pos as usize;
    starts.push(m);
    out.reserve(m);
    let base = OutPtr(out.as_mut_ptr());
    let keys = &*keys;
    let scatter_chunk = |(c, fill): (usize, &mut [u32])| {
        // the whole OutPtr captured (it is Sync), its pointer read once per chunk
        let base = &base;
        let base = base.0;
        let mut put = |k: u16, r: S| {
            // SAFETY: k < nb = fill.len(), as in the count. `out` has capacity m. The slots of
            // chunk c for bucket b are [offsets[c][b], offsets[c][b] + counts[c][b]), which lie
            // in 0..m and are disjoint from every other (chunk, bucket) pair; this loop visits
            // exactly counts[c][b] samples of that pair (the same weight test and key as the
            // count), so every slot is written once and no two threads write the same slot.
            unsafe {
                let slot = fill.get_unchecked_mut(usize::from(k));
                base.add(*slot as usize).write(r);
                *slot += 1;
            }
        };
        let r = range(c);
        match w {
            // the chunk's slices zipped: no bounds check per record
            None => x[r.clone()]
                .iter()
                .zip(&y[r.clone()])
                .zip(&keys[r])
                .for_each(|((&x, &y), &k)| put(k, S::new(x, y, 1.0))),
            Some(ws) => r.filter(|&i| ws[i] > 0.0).for_each(|i| put(keys[i], S::at(x, y, w, i))),
        }
    };
    if chunks > 1 {
        crate::parallel::for_each_chunk_mut(counts.as_mut_slice(), nb, |c, fill| scatter_chunk((c, fill)));
    } else {
        scatter_chunk((0, counts.as_mut_slice()));
    }
    // SAFETY: all m slots were initialised above (the per-pair ranges partition 0..m), and
    // samples are plain data.
    unsafe { out.set_len(m) };
    if !two_levels {
        // n < PARALLEL_MIN here: one insertion pass after the full buckets are sorted
        let mut tmp = Vec::new();
        for r in full {
            sort_slice(&mut out[r], &mut tmp);
        }
        S::sort_grouped(out);
        return;
    }
    // Finish contiguous runs of buckets (cut at bucket starts), in parallel for large inputs.
    let parts = if n >= PARALLEL_MIN { FINISH_PARTS } else { 1 };
    let mut runs: Vec<(&mut [S], &[usize])> = Vec::with_capacity(parts);
    let mut rest: &mut [S] = out;
    let mut done = 0;
    for p in 0..parts {
        let (b0, b1) = (p * nb / parts, (p + 1) * nb / parts);
        let (head, tail) = rest.split_at_mut(starts[b1] - done);
        runs.push((head, &starts[b0..=b1]));
        done = starts[b1];
        rest = tail;
    }
    let finish = |(run, bounds): &mut (&mut [S], &[usize])| finish_buckets(run, bounds, &key, level);
    if parts > 1 {
        crate::parallel::for_each_chunk_mut(&mut runs, 1, |_, run| finish(&mut run[0]));
    } else {
        runs.iter_mut().for_each(finish);
    }
}

/// The bucket key of a sample: (x − lo)·scale capped at `top` and rounded to an integer, a
/// monotone map (a subtraction, a positive scaling, a cap and rounding each keep order), so
/// key order is x order. There are about as many keys as samples (for spread-out x about one
/// sample each). The sort buckets on the key's high bits first (few enough buckets that the
/// scatter's open write lines stay in L1), then each bucket, now in cache, on its low bits.
#[derive(Clone, Copy)]
struct Key {
    lo: f64,
    scale: f64,
    top: f64,
    /// The low bits, sorted within a first-level bucket.
    low_bits: u32,
}

impl Key {
    fn new(n: usize, lo: f64, span: f64) -> Self {
        // n ≤ u32::MAX here: at most 2³² keys
        let bits = n.next_power_of_two().trailing_zeros().clamp(1, 32);
        // Small inputs: one level of buckets, finished by an insertion pass.
        let (bits, high) = if bits <= ONE_LEVEL_BITS {
            (bits.min(16), bits.min(16))
        } else {
            // 2^HIGH_BITS first-level buckets while the second level fits L1, then more bits for
            // the second level, then for the first, up to MAX_HIGH_BITS
            let low = bits.saturating_sub(HIGH_BITS).clamp(MIN_LOW_BITS, MAX_LOW_BITS);
            (bits, (bits - low).min(MAX_HIGH_BITS))
        };
        let keys = (1u64 << bits) as f64;
        Self {
            lo,
            scale: keys / span,
            top: keys - 1.0,
            low_bits: bits - high,
        }
    }

    fn top_buckets(&self) -> usize {
        ((self.top as u64) >> self.low_bits) as usize + 1
    }

    /// The key of x ≥ lo; rounding by adding 2⁵² (the integer lands in the low mantissa bits)
    /// keeps it free of conversions, so loops over it vectorise.
    #[inline]
    fn of(&self, x: f64) -> u64 {
        // 2⁵². x ≥ lo, so the value is in [0, top] with top < 2³²: its low 32 bits are the integer.
        const ROUND: f64 = 4_503_599_627_370_496.0;
        (((x - self.lo) * self.scale).min(self.top) + ROUND).to_bits() & 0xFFFF_FFFF
    }

    /// The first-level bucket of every x (`level` picks the build).
    fn top_keys(&self, x: &[f64], keys: &mut [u16], level: SimdLevel) {
        #[cfg(target_arch = "x86_64")]
        if super::avx2_code(level) {
            // SAFETY: avx2_code checked that this CPU has AVX2, POPCNT and BMI1.
            return unsafe { self.top_keys_avx2(x, keys) };
        }
        let _ = level;
        self.top_keys_portable(x, keys);
    }

    /// [`Self::top_keys_portable`] compiled for AVX2: four keys a step instead of two. The same
    /// source, so the same keys.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,popcnt,bmi1")]
    unsafe fn top_keys_avx2(&self, x: &[f64], keys: &mut [u16]) {
        self.top_keys_portable(x, keys);
    }

    #[inline(always)]
    fn top_keys_portable(&self, x: &[f64], keys: &mut [u16]) {
        for (k, &v) in keys.iter_mut().zip(x) {
            // at most MAX_HIGH_BITS ≤ 16 bits
            *k = (self.of(v) >> self.low_bits) as u16;
        }
    }

    /// The second-level bucket of x within its first-level one.
    #[inline]
    fn low(&self, x: f64) -> usize {
        (self.of(x) & ((1u64 << self.low_bits) - 1)) as usize
    }
}

/// Sorts a run of consecutive first-level buckets (`bounds`: their starts and the run's end, as
/// absolute positions; `run` starts at `bounds[0]`), each on the low bits of its keys.
fn finish_buckets<S: Sample>(run: &mut [S], bounds: &[usize], key: &Key, level: SimdLevel) {
    #[cfg(target_arch = "x86_64")]
    if super::avx2_code(level) {
        // SAFETY: avx2_code checked that this CPU has AVX2, POPCNT and BMI1.
        return unsafe { finish_buckets_avx2(run, bounds, key) };
    }
    let _ = level;
    finish_buckets_portable(run, bounds, key);
}

/// [`finish_buckets_portable`] compiled for AVX2: the second-level keys four a step. The same
/// source, so the same order.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt,bmi1")]
unsafe fn finish_buckets_avx2<S: Sample>(run: &mut [S], bounds: &[usize], key: &Key) {
    finish_buckets_portable(run, bounds, key);
}

#[inline(always)]
fn finish_buckets_portable<S: Sample>(run: &mut [S], bounds: &[usize], key: &Key) {
    let origin = bounds[0];
    let (mut tmp, mut counts, mut lows) = (Vec::new(), Vec::new(), Vec::new());
    for b in bounds.windows(2) {
        split_bucket(
            &mut run[b[0] - origin..b[1] - origin],
            key,
            &mut tmp,
            &mut counts,
            &mut lows,
        );
    }
}

/// Sorts one first-level bucket: a counting scatter on the low key bits through `tmp` (both in
/// cache at these sizes), then the copy back sorted with insertion ([`Sample::copy_sorted`]),
/// which only ever moves records within second-level buckets; those too large for it are
/// sorted on their own first.
#[inline(always)]
fn split_bucket<S: Sample>(s: &mut [S], key: &Key, tmp: &mut Vec<S>, counts: &mut Vec<u32>, lows: &mut Vec<u32>) {
    let len = s.len();
    if len <= SMALL {
        insertion_sort(s);
        return;
    }
    let nb = 1usize << key.low_bits;
    // The keys first, in a loop of their own that vectorises; the counting and scattering
    // loops then only do integer work.
    lows.clear();
    lows.extend(s.iter().map(|r| key.low(r.x()) as u32));
    counts.clear();
    counts.resize(nb + 1, 0);
    {
        let counts = &mut counts[..=nb];
        for &k in lows.iter() {
            debug_assert!((k as usize) < nb);
            // SAFETY: k < nb (Key::low keeps low_bits bits), so k + 1 is in counts[..=nb].
            unsafe { *counts.get_unchecked_mut(k as usize + 1) += 1 };
        }
    }
    // The fullest bucket, in a loop that vectorises: when it is small, as usual, no pass over
    // the bucket ends below looks for full ones.
    let most = counts.iter().fold(0, |a, &c| a.max(c)) as usize;
    for b in 0..nb {
        counts[b + 1] += counts[b];
    }
    // Grown, never refilled: every slot of tmp[..len] is written by the scatter.
    if tmp.len() < len {
        tmp.resize(len, s[0]);
    }
    {
        let fill = &mut counts[..nb];
        let out = tmp[..len].as_mut_ptr();
        for (r, &k) in s.iter().zip(lows.iter()) {
            // SAFETY: k < nb as above. fill[k] runs from the start of bucket k to its end (the
            // counts' prefix sums), the buckets' ranges partition 0..len, and this loop visits
            // each bucket's records once: every write lands in tmp[..len].
            unsafe {
                let slot = fill.get_unchecked_mut(k as usize);
                out.add(*slot as usize).write(*r);
                *slot += 1;
            }
        }
    }
    let tmp_s = &tmp[..len];
    if most <= SMALL {
        S::copy_sorted(s, tmp_s);
        return;
    }
    s.copy_from_slice(tmp_s);
    // counts[b] is now the end of bucket b (the start of b + 1)
    let mut start = 0;
    for &end in &counts[..nb] {
        let end = end as usize;
        if end - start > SMALL {
            sort_slice(&mut s[start..end], tmp);
        }
        start = end;
    }
    S::sort_grouped(s);
}

const SMALL: usize = 24;
/// The most scratch memory kept per thread between fits, 24 MiB: the buffers of an unweighted
/// fit of 10⁶ samples (packed 0/1 labels: 10 MB; any targets: 18 MB), which otherwise
/// page-fault on every fit (measured at 10⁶: the scatter pass took 3.6 ms warm, 9-12 ms fresh).
const KEEP_BYTES: usize = 24 << 20;
/// The first level's buckets, 2^HIGH_BITS, for inputs whose second-level buckets then get
/// between MIN_LOW_BITS and MAX_LOW_BITS key bits (about as many records): from 2⁹ records of a
/// bucket (4 kB, its 2⁹ counts and the scatter's copy in L1; measured at 10⁵ against 2¹¹:
/// whole fit 1.29 ms against 1.37 ms) to 2¹⁰ (8 kB of records, 4 kB of counts and keys, 8 kB
/// copy: in L1). At 10⁶, 2¹⁰ × 2¹⁰ buckets instead of 2⁸ × 2¹² (whose second level, 94 kB,
/// spilled to L2): 13.4 ms against 14.4 ms CPU per fit (medians, 1 thread).
const HIGH_BITS: u32 = 8;
const MIN_LOW_BITS: u32 = 9;
const MAX_LOW_BITS: u32 = 10;
/// Inputs of up to 2^ONE_LEVEL_BITS samples are sorted with one level of buckets (measured:
/// at 3·10⁴ one level is faster, at 6·10⁴ and 10⁵ two levels are).
const ONE_LEVEL_BITS: u32 = 15;
/// The most first-level buckets, 2¹⁰: the scatter keeps one write line open per bucket (64 kB,
/// in L2); beyond, the second level takes more bits. (2¹¹ at 2·10⁶: 29-33 ms against 27-28 ms
/// with 2⁹ per fit; 2¹⁰ there: 26-27 ms. At 10⁷, 2¹⁰ against 2¹¹: 220-233 ms against 231-244.)
const MAX_HIGH_BITS: u32 = 10;
/// Contiguous bucket ranges finished in parallel for large inputs.
const FINISH_PARTS: usize = 8;
/// Input chunks of the parallel first-level scatter (fixed, so the layout never depends on the
/// thread count).
const SCATTER_CHUNKS: usize = 2;

/// The output buffer of the scatter, shared by the chunk workers (see the SAFETY notes there).
struct OutPtr<S>(*mut S);
// SAFETY: the pointer is only used for writes to disjoint slots while `out` is alive and not
// otherwise accessed; samples are plain `f64` data.
unsafe impl<S: Sample> Sync for OutPtr<S> {}
/// Below this many records the sort runs on the calling thread: the serial sort of 10⁵ takes
/// under a millisecond, while each hand-off to a worker waits for it to be scheduled (on a busy
/// 2-core machine, 1e5 took 2-10x longer split than serial).
pub(crate) const PARALLEL_MIN: usize = 1 << 18;

/// Buckets `s` by x (via `tmp`), in place; returns the bucket boundaries, or None when all x
/// are equal (nothing to split on).
fn scatter<S: Sample>(s: &mut [S], tmp: &mut [S]) -> Option<Vec<usize>> {
    let (lo, hi) = s.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), r| {
        (lo.min(r.x()), hi.max(r.x()))
    });
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) {
        return None;
    }
    let nb = (s.len() / 4).clamp(2, 1024);
    let scale = nb as f64 / span;
    // Monotone in x: a subtraction, a positive scaling and a float-to-int cast each keep order.
    let bucket = |x: f64| (((x - lo) * scale) as usize).min(nb - 1);
    let mut starts = vec![0usize; nb + 1];
    for r in s.iter() {
        starts[bucket(r.x()) + 1] += 1;
    }
    for b in 0..nb {
        starts[b + 1] += starts[b];
    }
    let mut fill = starts.clone();
    for r in s.iter() {
        let slot = &mut fill[bucket(r.x())];
        tmp[*slot] = *r;
        *slot += 1;
    }
    s.copy_from_slice(&tmp[..s.len()]);
    Some(starts)
}

fn sort_slice<S: Sample>(s: &mut [S], tmp: &mut Vec<S>) {
    if s.len() <= SMALL {
        insertion_sort(s);
        return;
    }
    if tmp.len() < s.len() {
        tmp.resize(s.len(), s[0]);
    }
    let Some(starts) = scatter(s, tmp) else {
        s.sort_unstable_by(S::cmp);
        return;
    };
    let n = s.len();
    for w in starts.windows(2) {
        let part = &mut s[w[0]..w[1]];
        if part.len() == n {
            // every record fell in one bucket (a cluster narrower than the rounding): give up
            part.sort_unstable_by(S::cmp);
        } else if part.len() <= SMALL {
            insertion_sort(part);
        } else {
            sort_slice(part, tmp);
        }
    }
}

/// Sorts a handful of records in place (most buckets hold zero to a few).
#[inline]
fn insertion_sort<S: Sample>(s: &mut [S]) {
    for i in 1..s.len() {
        let r = s[i];
        let mut j = i;
        while j > 0 && r.less(&s[j - 1]) {
            s[j] = s[j - 1];
            j -= 1;
        }
        s[j] = r;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `with_sorted_records` as every record type that fits, against a comparison sort.
    fn check_all_types(x: &[f64], y: &[f64], w: Option<&[f64]>, what: &str) {
        let (lo, hi) = x
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
        let mut want: Vec<Rec> = (0..x.len())
            .filter(|&i| w.is_none_or(|w| w[i] > 0.0))
            .map(|i| Rec::at(x, y, w, i))
            .collect();
        want.sort_by(<Rec as Sample>::cmp);
        let got = with_sorted_records(x, y, w, (lo, hi), <[Rec]>::to_vec);
        assert!(got == want, "{what}: Rec");
        if w.is_some() {
            return;
        }
        let unit = with_sorted_records(x, y, None, (lo, hi), |s: &[Unit]| {
            s.iter().map(|u| (u.x, u.y)).collect::<Vec<_>>()
        });
        let pairs: Vec<(f64, f64)> = want.iter().map(|r| (r.x, r.y)).collect();
        assert!(unit == pairs, "{what}: Unit");
        if Packed::fits(None, lo, y.iter().all(|&v| v == 0.0 || v == 1.0)) {
            let packed = with_sorted_records(x, y, None, (lo, hi), |s: &[Packed]| {
                s.iter().map(|p| (p.x(), p.xyw().1)).collect::<Vec<_>>()
            });
            // the packed x of −0 is +0 (the same x), which then sorts on y with the +0s
            let mut plus: Vec<(f64, f64)> = pairs.iter().map(|&(x, y)| (x + 0.0, y)).collect();
            plus.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
            assert!(packed == plus, "{what}: Packed");
        }
    }

    #[test]
    fn agrees_on_hard_shapes() {
        let mut g = crate::rng::SplitMix64::new(13);
        // around the one-level limit (2^15) and the parallel one (2^18)
        for &n in &[
            1usize, 2, 24, 25, 26, 1000, 32_767, 32_768, 32_769, 70_000, 262_143, 262_144,
        ] {
            for shape in 0..9 {
                let x: Vec<f64> = (0..n)
                    .map(|i| {
                        let u = g.next_f64();
                        match shape {
                            0 => (u * 3.0).floor() / 2.0,           // three values, many ties
                            1 => i as f64 / n as f64,               // sorted
                            2 => (n - i) as f64,                    // reverse sorted
                            3 => 0.25,                              // constant
                            4 => f64::from_bits((u * 40.0) as u64), // subnormal, and 0
                            5 if i == n / 2 => 1e300,               // one far outlier
                            6 => {
                                if u < 0.5 {
                                    -0.0
                                } else {
                                    0.0
                                }
                            } // both zeros
                            7 => (u - 0.5) * 1e-300,                // tiny, both signs
                            _ => u,
                        }
                    })
                    .collect();
                let y: Vec<f64> = (0..n).map(|_| (g.next_f64() * 2.0).floor()).collect();
                let w: Vec<f64> = (0..n).map(|_| (g.next_f64() * 3.0).floor() / 2.0).collect();
                let what = format!("n {n} shape {shape}");
                check_all_types(&x, &y, None, &what);
                let yr: Vec<f64> = y.iter().map(|&v| v * 0.3 + g.next_f64()).collect();
                check_all_types(&x, &yr, None, &what);
                if n <= 70_000 {
                    check_all_types(&x, &y, Some(&w), &what);
                }
            }
        }
    }

    /// Every level's build of the second-level loops sorts alike (packed and weighted records),
    /// at sizes with one and two levels of buckets, serial and parallel.
    #[test]
    fn every_level_sorts_alike() {
        let mut g = crate::rng::SplitMix64::new(17);
        for &n in &[5_000usize, 70_000, 300_000] {
            let x: Vec<f64> = (0..n).map(|_| g.next_f64().powi(2)).collect();
            let y: Vec<f64> = (0..n).map(|_| (g.next_f64() * 2.0).floor()).collect();
            let w: Vec<f64> = (0..n).map(|_| (g.next_f64() * 3.0).floor()).collect();
            let range = x
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
            let mut want: Vec<Packed> = (0..n).map(|i| Packed::at(&x, &y, None, i)).collect();
            want.sort_by(<Packed as Sample>::cmp);
            let mut want_w: Vec<Rec> = (0..n)
                .filter(|&i| w[i] > 0.0)
                .map(|i| Rec::at(&x, &y, Some(&w), i))
                .collect();
            want_w.sort_by(<Rec as Sample>::cmp);
            for level in crate::simd::supported_levels() {
                let (mut out, mut work) = (Vec::<Packed>::new(), Work::default());
                sort_into(&x, &y, None, range, &mut out, &mut work, level);
                assert!(out == want, "n {n} {level:?}: Packed");
                let mut out_w = Vec::<Rec>::new();
                sort_into(&x, &y, Some(&w), range, &mut out_w, &mut work, level);
                assert!(out_w == want_w, "n {n} {level:?}: Rec");
            }
        }
    }

    #[test]
    fn agrees_with_a_comparison_sort() {
        let mut g = crate::rng::SplitMix64::new(3);
        let mut next = || g.next_f64();
        for &n in &[10usize, 300, 5000, 300_000] {
            for clustered in [false, true] {
                let x: Vec<f64> = (0..n)
                    .map(|_| {
                        let u = next();
                        if clustered {
                            1.0 - (u * 1e-3).powi(3)
                        } else {
                            (u * 50.0).floor() / 50.0
                        }
                    })
                    .collect();
                let y: Vec<f64> = (0..n).map(|_| (next() * 2.0).floor()).collect();
                let w: Vec<f64> = (0..n).map(|_| (next() * 3.0).floor()).collect();
                let (lo, hi) = x
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
                for weights in [None, Some(&w[..])] {
                    let mut want: Vec<Rec> = (0..n)
                        .filter(|&i| weights.is_none_or(|w| w[i] > 0.0))
                        .map(|i| Rec {
                            x: x[i],
                            y: y[i],
                            w: weights.map_or(1.0, |w| w[i]),
                        })
                        .collect();
                    want.sort_by(<Rec as Sample>::cmp);
                    let got = with_sorted_records(&x, &y, weights, (lo, hi), <[Rec]>::to_vec);
                    assert_eq!(got, want);
                    if weights.is_none() {
                        let unit = with_sorted_records(&x, &y, None, (lo, hi), <[Unit]>::to_vec);
                        let want: Vec<Unit> = want.iter().map(|r| Unit { x: r.x, y: r.y }).collect();
                        assert_eq!(unit, want);
                        // x ≥ 0 and y in {0, 1} here: the packed words sort the same way
                        let packed = with_sorted_records(&x, &y, None, (lo, hi), |s: &[Packed]| {
                            s.iter().map(|p| (p.x(), p.xyw().1)).collect::<Vec<_>>()
                        });
                        let want: Vec<(f64, f64)> = want.iter().map(|u| (u.x, u.y)).collect();
                        assert_eq!(packed, want);
                    }
                }
            }
        }
    }
}
