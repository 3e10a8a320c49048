//! Thread control for batch kernels: the only module that touches rayon.
//!
//! Every parallel region of the engine runs in a pool this module owns, never in rayon's global
//! pool, because the worker threads of a pool do not survive `fork()`: a forked child that hands
//! work to a pool its parent built waits forever (gunicorn `--preload`, multiprocessing's `fork`
//! start method and Celery all fork a warmed-up parent). The registry of pools is emptied in the
//! child by a `pthread_atfork` handler, so the child builds fresh pools on first use; the parent's
//! pools are leaked there, not dropped, since dropping one would signal threads that do not exist.
//!
//! A call's work runs on the calling thread, which takes part in its parallel regions: their
//! pieces are claimed, a group at a time, by the caller and by the helpers of a pool, so no
//! region waits for a worker to wake before it starts. With `threads = None` a region uses
//! `RAYON_NUM_THREADS` threads when set, else one per logical CPU; with `Some(n)`,
//! `min(n, logical CPUs)` threads: more threads than CPUs never speeds up these kernels, and the
//! cap bounds what a careless `threads=` costs. For n threads the pool holds the n - 1 helpers,
//! so a call never runs more than n. One thread (`Some(1)`, or a default of one) touches no pool
//! at all: the regions run in turn on the calling thread. At most [`MAX_POOLS`] pools are kept;
//! the least recently used one is dropped (its threads exit once its last call ends).
//!
//! Kernels split work into fixed-size, index-ordered chunks and never reduce across threads in a
//! schedule-dependent order, so results are bit-identical whatever the thread count. The helpers
//! below run a region with a single chunk inline on the calling thread, without touching any
//! pool: small calls pay nothing for the parallel machinery.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::error::{CredoError, Result};

/// The most thread pools kept alive at once (each keyed by its thread count).
pub const MAX_POOLS: usize = 4;

struct Entry {
    threads: usize,
    pool: Arc<rayon::ThreadPool>,
    last_used: u64,
}

struct Registry {
    pools: Vec<Entry>,
    clock: u64,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    pools: Vec::new(),
    clock: 0,
});

fn lock() -> MutexGuard<'static, Registry> {
    fork::install_handlers();
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Registry {
    /// The cached pool of `threads` workers, if any, marked as just used.
    fn get(&mut self, threads: usize) -> Option<Arc<rayon::ThreadPool>> {
        self.clock += 1;
        let now = self.clock;
        let e = self.pools.iter_mut().find(|e| e.threads == threads)?;
        e.last_used = now;
        Some(Arc::clone(&e.pool))
    }

    /// Caches `pool` (unless another caller cached one of the same size first, which is then
    /// returned instead), evicting the least recently used pool beyond [`MAX_POOLS`].
    fn insert(&mut self, threads: usize, pool: Arc<rayon::ThreadPool>) -> Arc<rayon::ThreadPool> {
        if let Some(p) = self.get(threads) {
            return p;
        }
        if self.pools.len() >= MAX_POOLS {
            if let Some(oldest) = (0..self.pools.len()).min_by_key(|&i| self.pools[i].last_used) {
                self.pools.swap_remove(oldest);
            }
        }
        self.pools.push(Entry {
            threads,
            pool: Arc::clone(&pool),
            last_used: self.clock,
        });
        pool
    }

    /// In a forked child: the pools' threads are gone, so forget them without dropping.
    fn forget_all(&mut self) {
        for e in self.pools.drain(..) {
            std::mem::forget(e.pool);
        }
    }
}

/// [`max_threads`] once computed (0: not yet, or reset in a forked child).
static MAX_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Logical CPUs available to this process (cgroup quotas included): the cap on pool sizes.
/// Computed once per process: `available_parallelism` reads the cgroup files each time (tens of
/// microseconds, paid by every parallel region before any work starts), so a later change of
/// the affinity mask or quota is not seen (the pools keep their size; results never depend on
/// it). A forked child computes it afresh.
pub fn max_threads() -> usize {
    match MAX_THREADS.load(Ordering::Relaxed) {
        0 => {
            fork::install_handlers(); // so that a forked child resets the cache
            let n = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
            MAX_THREADS.store(n, Ordering::Relaxed);
            n
        }
        n => n,
    }
}

/// Workers of the default pool: `RAYON_NUM_THREADS` when set to a positive number (as rayon's
/// own default), else one per logical CPU; capped at [`max_threads`] like every pool.
fn default_threads() -> usize {
    let env = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok());
    let cpus = max_threads();
    env.filter(|&n| n > 0).unwrap_or(cpus).min(cpus)
}

/// The pool of `threads` workers (already capped), built on first use.
fn pool(threads: usize) -> Result<Arc<rayon::ThreadPool>> {
    if let Some(p) = lock().get(threads) {
        return Ok(p);
    }
    // Built outside the lock: spawning threads takes a while, and a fork meanwhile must not
    // find the registry locked.
    let built = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(move |i| format!("credo-{threads}-{i}"))
        .build()
        .map_err(|e| CredoError::invalid("threads", format!("cannot start {threads} threads: {e}")))?;
    Ok(lock().insert(threads, Arc::new(built)))
}

/// Runs `f` on the calling thread with its parallel regions on `threads` threads (capped at
/// [`max_threads`]: the caller and a pool of the other helpers, built, or its error returned,
/// before `f` starts), on the default count for `None`, and in turn on the calling thread for
/// one thread. The caller keeps the work rather than handing it to the pool and blocking until
/// it is done: that cost two thread wake-ups a call (about 125 µs on this project's 2-core VM,
/// against 25 µs for a whole small call), and the regions' claims ([`map_range_shared`]) let
/// the caller work from the start.
pub fn with_threads<R: Send>(threads: Option<usize>, f: impl FnOnce() -> R + Send) -> Result<R> {
    let Some(n) = threads else { return Ok(f()) };
    if n == 0 {
        return Err(CredoError::invalid(
            "threads",
            "must be a positive number of threads, got 0",
        ));
    }
    let n = n.min(max_threads());
    if n > 1 {
        pool(n - 1)?; // the helpers of its regions, started (or the error returned) up front
    }
    Ok(scoped(n, f))
}

thread_local! {
    /// The thread count of the [`with_threads`] call running on this thread (0 outside one).
    static THREADS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Runs `f` with this thread's regions on `n` threads, then restores the previous setting
/// (also when `f` panics).
fn scoped<R>(n: usize, f: impl FnOnce() -> R) -> R {
    struct Restore(usize);
    impl Drop for Restore {
        fn drop(&mut self) {
            THREADS.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(THREADS.with(|c| c.replace(n)));
    f()
}

/// The workers of a region started on this thread (outside any pool): the enclosing
/// [`with_threads`] call's, else the default pool's.
fn region_threads() -> usize {
    match THREADS.with(std::cell::Cell::get) {
        0 => default_threads(),
        n => n,
    }
}

/// Whether a parallel region on this thread must run in turn on it: a region started outside
/// any pool where it would get one worker (one thread asked for, or a default pool of one).
fn serial() -> bool {
    rayon::current_thread_index().is_none() && region_threads() == 1
}

/// `(0..n).map(f).collect()`, in parallel groups of at least `min_len` indices claimed by the
/// calling thread and the pool's workers alike ([`map_range_shared`]): the caller does not
/// hand the region to the pool and sleep until it is done, which cost two wake-ups a region
/// (token signals on [16, 32000], default threads, on this project's 2-core VM: 122-162 µs
/// before, 92-114 µs after).
pub fn map_range<R: Send>(n: usize, min_len: usize, f: impl Fn(usize) -> R + Sync + Send) -> Vec<R> {
    map_range_init(n, min_len, || (), |(), i| f(i))
}

/// `(0..n).map(f).collect()` with the calling thread working from the start: the indices are
/// claimed a group at a time (about eight groups a thread) from a shared counter by the caller and
/// by the pool's other workers, so the call does not wait for a worker to wake before work begins
/// (a hand-off costs a wake-up at each end, which a millisecond-long region cannot hide), and a
/// helper that wakes late finds less to do, or nothing. Nor does the caller wait for it at the end:
/// once every group is claimed, it waits (spinning, then yielding) only for those still being
/// worked on, never for a helper that has not started or for a wake-up of its own. Results come
/// back in index order. A panic in `f` is resumed on the caller once no index is being worked on.
pub fn map_range_shared<R: Send>(n: usize, f: impl Fn(usize) -> R + Sync + Send) -> Vec<R> {
    claimed(n, 1, || (), |(), i| f(i))
}

/// Claims per worker, about: enough that a late helper still finds work and the ends even out,
/// few enough that the claims (one contended atomic each) cost nothing against the work.
const CLAIMS_PER_THREAD: usize = 8;

/// [`map_range_shared`] with the indices claimed in groups of at least `min_group` (more where
/// `n` is large: about [`CLAIMS_PER_THREAD`] groups a worker). Claiming index by index cost a
/// temperature fit about 18% (thousands of claims a pass, each a cache line moved between cores,
/// and each result behind a lock of its own).
/// Each group gets a scratch state from `init`, made afresh after a panic.
fn claimed<S, R: Send>(
    n: usize,
    min_group: usize,
    init: impl Fn() -> S + Sync + Send,
    f: impl Fn(&mut S, usize) -> R + Sync + Send,
) -> Vec<R> {
    if n <= 1 {
        let mut s = init();
        return (0..n).map(|i| f(&mut s, i)).collect();
    }
    let in_pool = rayon::current_thread_index().is_some();
    let (pool, threads) = if in_pool {
        (None, rayon::current_num_threads())
    } else {
        match region_threads() {
            1 => (None, 1),
            // The caller and a pool of just the helpers (as in `pipeline`): in a pool of all
            // the threads, the worker that takes the first helper job wakes the idle one, which
            // yields in a loop on the cores the others need. No thread could be started: the
            // work still gets done, on this thread alone.
            t => {
                let p = pool(t - 1).ok();
                let t = p.as_ref().map_or(1, |p| p.current_num_threads() + 1);
                (p, t)
            }
        }
    };
    let group = min_group.max(n / (threads * CLAIMS_PER_THREAD)).max(1);
    let groups = n.div_ceil(group);
    let shared = Arc::new(Claims {
        next: AtomicUsize::new(0),
        done: AtomicUsize::new(0),
        n: groups,
        panic: Mutex::new(None),
    });
    // each group's results behind its own lock, taken once by the one thread that claims it
    let slots: Vec<Mutex<Vec<R>>> = (0..groups).map(|_| Mutex::new(Vec::new())).collect();
    let run = |g: usize| {
        let indices = g * group..((g + 1) * group).min(n);
        let mut out = Vec::with_capacity(indices.len());
        let mut scratch = init();
        for i in indices {
            // each index caught on its own, so that a panic still lets the others run
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut scratch, i))) {
                Ok(r) => out.push(r),
                Err(payload) => {
                    lock_any(&shared.panic).get_or_insert(payload);
                    scratch = init();
                }
            }
        }
        *lock_any(&slots[g]) = out;
    };
    let helpers = threads.saturating_sub(1).min(groups - 1);
    let run_ref: &(dyn Fn(usize) + Sync) = &run;
    // SAFETY: only the lifetime is erased. A helper calls `run` only for a group it claimed
    // below `groups`, and this function returns (or unwinds) only after `done` reached
    // `groups`, that is after every such call ended; a helper that starts later claims nothing
    // and touches only the reference-counted `Claims`.
    let erased = ErasedRun(unsafe {
        std::mem::transmute::<*const (dyn Fn(usize) + Sync + '_), *const (dyn Fn(usize) + Sync + 'static)>(run_ref)
    });
    let job = || {
        let (claims, run) = (Arc::clone(&shared), erased);
        move || claims.work(|g| run.call(g))
    };
    for _ in 0..helpers {
        match &pool {
            Some(p) => p.spawn(job()),
            None if in_pool => rayon::spawn(job()),
            None => {}
        }
    }
    shared.work(run);
    shared.wait();
    if let Some(payload) = lock_any(&shared.panic).take() {
        std::panic::resume_unwind(payload);
    }
    let mut out = Vec::with_capacity(n);
    for slot in slots {
        out.extend(slot.into_inner().unwrap_or_else(PoisonError::into_inner));
    }
    debug_assert_eq!(out.len(), n, "every group is claimed and filled before the wait ends");
    out
}

/// The groups of indices of a `claimed` call: the next to claim, how many are finished, and the
/// first panic.
struct Claims {
    next: AtomicUsize,
    done: AtomicUsize,
    n: usize,
    panic: Mutex<Option<Box<dyn std::any::Any + Send>>>,
}

impl Claims {
    /// Claims and runs groups until none is left; a panic is kept, not propagated, so that
    /// `done` still counts the group.
    fn work(&self, run: impl Fn(usize)) {
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            if i >= self.n {
                break;
            }
            if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(i))) {
                self.panic
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get_or_insert(payload);
            }
            self.done.fetch_add(1, Ordering::Release);
        }
    }

    /// Returns once every group is finished: they are all claimed, so at most one per helper
    /// is still being worked on.
    fn wait(&self) {
        let mut spins = 0u32;
        while self.done.load(Ordering::Acquire) < self.n {
            if spins < 1 << 10 {
                spins += 1;
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }
}

/// The lifetime-erased work of a [`map_range_shared`] or [`pipeline`] call, for its helpers.
#[derive(Clone, Copy)]
struct ErasedRun(*const (dyn Fn(usize) + Sync + 'static));

// SAFETY: the closure behind it is `Sync`; see `map_range_shared` for its lifetime.
unsafe impl Send for ErasedRun {}

impl ErasedRun {
    /// Runs index `i`, which the caller has claimed: the closure is then still alive (see
    /// `map_range_shared` and `pipeline`).
    fn call(self, i: usize) {
        // SAFETY: as said above.
        unsafe { (*self.0)(i) }
    }
}

/// [`map_range`] with a scratch state from `init` for each claimed group of indices (reused
/// across the group's indices).
pub fn map_range_init<S, R: Send>(
    n: usize,
    min_len: usize,
    init: impl Fn() -> S + Sync + Send,
    f: impl Fn(&mut S, usize) -> R + Sync + Send,
) -> Vec<R> {
    if n <= min_len.max(1) || serial() {
        let mut s = init();
        return (0..n).map(|i| f(&mut s, i)).collect();
    }
    claimed(n, min_len, init, f)
}

/// `items.into_iter().enumerate().map(f).collect()`, the items claimed one at a time by the
/// calling thread and the pool's workers alike ([`map_range_shared`]).
pub fn map_vec<T: Send, R: Send>(items: Vec<T>, f: impl Fn(usize, T) -> R + Sync + Send) -> Vec<R> {
    if items.len() <= 1 || serial() {
        return items.into_iter().enumerate().map(|(i, t)| f(i, t)).collect();
    }
    // each item behind its own lock, taken once by the one thread that claims it
    let slots: Vec<Mutex<Option<T>>> = items.into_iter().map(|t| Mutex::new(Some(t))).collect();
    map_range_shared(slots.len(), |i| {
        let item = lock_any(&slots[i]).take();
        f(i, item.expect("an index is claimed once"))
    })
}

/// `f(c, chunk)` for each `chunk`-sized piece `c` of `data`, collecting the results in order; the
/// pieces are claimed by the calling thread and the pool's workers alike ([`map_vec`]): the caller
/// works from the start instead of handing the region to the pool and sleeping until it is done (a
/// wake-up at each end, which a region of a millisecond or two cannot hide; on a loaded machine
/// each can cost milliseconds).
pub fn map_chunks_mut<T: Send, R: Send>(
    data: &mut [T],
    chunk: usize,
    f: impl Fn(usize, &mut [T]) -> R + Sync + Send,
) -> Vec<R> {
    map_vec(data.chunks_mut(chunk.max(1)).collect(), f)
}

/// `f(c, chunk)` for each `chunk`-sized piece `c` of `data` ([`map_chunks_mut`]).
pub fn for_each_chunk_mut<T: Send>(data: &mut [T], chunk: usize, f: impl Fn(usize, &mut [T]) + Sync + Send) {
    map_chunks_mut(data, chunk, f);
}

/// `f(c, a_c, b_c)` for the `c`-th pieces of `a` (of `a_chunk` items) and `b` (of `b_chunk`),
/// walked in step; the pair count is the shorter of the two chunk counts. Claimed as in
/// [`map_chunks_mut`].
pub fn for_each_chunk_pair_mut<A: Send, B: Send>(
    (a, a_chunk): (&mut [A], usize),
    (b, b_chunk): (&mut [B], usize),
    f: impl Fn(usize, &mut [A], &mut [B]) + Sync + Send,
) {
    let pairs = a.chunks_mut(a_chunk.max(1)).zip(b.chunks_mut(b_chunk.max(1)));
    map_vec(pairs.collect(), |c, (x, y)| f(c, x, y));
}

/// `work(item)` for each item that `produce` submits, results in submission order, each item's work
/// started as soon as it is submitted: the calling thread's production (the bindings read Python
/// strings there, under the GIL) overlaps the work instead of preceding it. `wait` runs on the
/// calling thread with the blocking part, so the caller can release a lock around it.
///
/// With `threads` workers (resolved as in [`with_threads`]), the `threads - 1` workers of a pool of
/// that size claim the submitted items one at a time from a shared counter while the caller
/// produces; once it has produced everything, the caller claims what is left itself (inside
/// `wait`), so the call uses `threads` threads, never one more, and nobody hands results back one
/// at a time. The caller then waits (spinning, then yielding) only for items still being worked on,
/// never for a helper that has not started. A helper that runs out of submitted items spins
/// briefly, then sleeps until the next submission. With one worker or `single`, nothing overlaps:
/// every item is produced first, then worked inside `wait` on the calling thread. A `produce` error
/// is returned after the items already submitted are done; a panic in `work` is resumed on the
/// caller once no item is being worked on.
pub fn pipeline<T: Send, R: Send, E>(
    threads: Option<usize>,
    single: bool,
    produce: impl FnOnce(&mut dyn FnMut(T)) -> std::result::Result<(), E>,
    work: impl Fn(T) -> R + Sync,
    wait: impl FnOnce(&mut (dyn FnMut() + Send)),
) -> Result<std::result::Result<Vec<R>, E>> {
    let n = match threads {
        Some(0) => {
            return Err(CredoError::invalid(
                "threads",
                "must be a positive number of threads, got 0",
            ))
        }
        Some(n) => n.min(max_threads()),
        None => region_threads(),
    };
    if n <= 1 || single {
        let mut items = Vec::new();
        if let Err(e) = produce(&mut |item| items.push(item)) {
            return Ok(Err(e));
        }
        let mut out = Vec::with_capacity(items.len());
        wait(&mut || out.extend(items.drain(..).map(&work)));
        return Ok(Ok(out));
    }
    // A pool of exactly the helpers: in a pool of `n`, the worker that takes the first helper
    // job wakes the idle one (rayon wakes a sleeper whenever an idle worker finds work), which
    // finds nothing and yields in a loop before sleeping again, taking turns on the cores the
    // caller and the helpers need (about 56 involuntary context switches a call, 2 threads).
    let pool = pool(n - 1)?;
    let items: Mutex<Vec<Option<T>>> = Mutex::new(Vec::new());
    let results: Mutex<Vec<(usize, R)>> = Mutex::new(Vec::new());
    let run = |i: usize| {
        let item = lock_any(&items)[i].take();
        let r = work(item.expect("an item is claimed once, after it is submitted"));
        lock_any(&results).push((i, r));
    };
    let feed = Arc::new(Feed::default());
    let run_ref: &(dyn Fn(usize) + Sync) = &run;
    // SAFETY: only the lifetime is erased. A helper calls `run` only for an index it claimed,
    // and this function returns (or unwinds, through `Closing`) only after every claimed index
    // is done, the claims closed first; a helper that starts later claims nothing and touches
    // only the reference-counted `Feed`.
    let erased = ErasedRun(unsafe {
        std::mem::transmute::<*const (dyn Fn(usize) + Sync + '_), *const (dyn Fn(usize) + Sync + 'static)>(run_ref)
    });
    let closing = Closing(&feed);
    for _ in 1..n {
        let feed = Arc::clone(&feed);
        pool.spawn(move || feed.help(|i| erased.call(i)));
    }
    let produced = produce(&mut |item| {
        let mut items = lock_any(&items);
        items.push(Some(item));
        let fed = items.len();
        drop(items);
        feed.submit(fed);
    });
    feed.finish();
    wait(&mut || {
        feed.work_left(run_ref);
        feed.wait_for(feed.next.load(Ordering::Acquire).min(CLOSED));
    });
    drop(closing);
    if let Some(payload) = lock_any(&feed.panic).take() {
        std::panic::resume_unwind(payload);
    }
    if let Err(e) = produced {
        return Ok(Err(e));
    }
    let mut results = results.into_inner().unwrap_or_else(PoisonError::into_inner);
    results.sort_unstable_by_key(|&(i, _)| i);
    Ok(Ok(results.into_iter().map(|(_, r)| r).collect()))
}

fn lock_any<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// [`Feed::next`] once closed: no index is claimable any more.
const CLOSED: usize = usize::MAX / 2;

/// The items of a [`pipeline`] call: how many are submitted, the next to claim, how many are
/// finished, whether production ended, the helpers asleep waiting for a submission, and the
/// first panic.
#[derive(Default)]
struct Feed {
    fed: AtomicUsize,
    next: AtomicUsize,
    done: AtomicUsize,
    finished: std::sync::atomic::AtomicBool,
    sleepers: AtomicUsize,
    sleep: Mutex<()>,
    wake: std::sync::Condvar,
    panic: Mutex<Option<Box<dyn std::any::Any + Send>>>,
}

/// What a claim found.
enum Claim {
    Index(usize),
    /// Every submitted item is claimed but more may come.
    Empty,
    /// Nothing is left to claim, nor will be.
    Over,
}

impl Feed {
    /// Publishes that `fed` items are submitted, waking a sleeping helper.
    fn submit(&self, fed: usize) {
        self.fed.store(fed, Ordering::SeqCst);
        self.notify();
    }

    /// Production has ended: helpers stop once nothing is left to claim.
    fn finish(&self) {
        self.finished.store(true, Ordering::SeqCst);
        self.notify();
    }

    fn notify(&self) {
        // Paired with the SeqCst increment and re-check in `help`: either the helper sees the
        // new state, or this sees it asleep (and the mutex orders the wake-up after its wait).
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            let _held = lock_any(&self.sleep);
            self.wake.notify_all();
        }
    }

    fn claim(&self) -> Claim {
        loop {
            let i = self.next.load(Ordering::Acquire);
            if i >= CLOSED {
                return Claim::Over;
            }
            // Read before `fed`: once production has ended, `fed` is final.
            let finished = self.finished.load(Ordering::SeqCst);
            if i >= self.fed.load(Ordering::SeqCst) {
                return if finished { Claim::Over } else { Claim::Empty };
            }
            if self
                .next
                .compare_exchange_weak(i, i + 1, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                return Claim::Index(i);
            }
        }
    }

    /// Runs claimed index `i`; a panic is kept, not propagated, so that `done` still counts it.
    fn run_one(&self, i: usize, run: &dyn Fn(usize)) {
        if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(i))) {
            lock_any(&self.panic).get_or_insert(payload);
        }
        self.done.fetch_add(1, Ordering::Release);
    }

    /// A helper's loop: claims and runs submitted items until production has ended and nothing
    /// is left, sleeping when it has caught up with production.
    fn help(&self, run: impl Fn(usize)) {
        let mut spins = 0u32;
        loop {
            match self.claim() {
                Claim::Index(i) => {
                    spins = 0;
                    self.run_one(i, &run);
                }
                Claim::Over => return,
                Claim::Empty if spins < 1 << 10 => {
                    spins += 1;
                    std::hint::spin_loop();
                }
                Claim::Empty => {
                    let mut held = lock_any(&self.sleep);
                    self.sleepers.fetch_add(1, Ordering::SeqCst);
                    while matches!(self.claimable(), Claim::Empty) {
                        held = self.wake.wait(held).unwrap_or_else(PoisonError::into_inner);
                    }
                    self.sleepers.fetch_sub(1, Ordering::SeqCst);
                    spins = 0;
                }
            }
        }
    }

    /// [`Feed::claim`]'s verdict without claiming.
    fn claimable(&self) -> Claim {
        let i = self.next.load(Ordering::SeqCst);
        let finished = self.finished.load(Ordering::SeqCst);
        if i >= CLOSED || (finished && i >= self.fed.load(Ordering::SeqCst)) {
            Claim::Over
        } else if i >= self.fed.load(Ordering::SeqCst) {
            Claim::Empty
        } else {
            Claim::Index(i)
        }
    }

    /// The caller's part once production has ended: every item not yet claimed.
    fn work_left(&self, run: &dyn Fn(usize)) {
        while let Claim::Index(i) = self.claim() {
            self.run_one(i, run);
        }
    }

    /// Returns once the first `claimed` items are finished: they are all claimed, so at most one
    /// per helper is still being worked on.
    fn wait_for(&self, claimed: usize) {
        let mut spins = 0u32;
        while self.done.load(Ordering::Acquire) < claimed {
            if spins < 1 << 10 {
                spins += 1;
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }
}

/// Closes a [`pipeline`]'s claims when its call ends, normally or by a panic in `produce` or
/// `wait`: no index is claimed afterwards, sleeping helpers are woken to leave, and the drop
/// returns only once every index claimed before is finished (helpers may use the call's
/// borrowed state until then).
struct Closing<'a>(&'a Feed);

impl Drop for Closing<'_> {
    fn drop(&mut self) {
        let claimed = self.0.next.swap(CLOSED, Ordering::AcqRel).min(CLOSED);
        self.0.finish();
        self.0.wait_for(claimed);
    }
}

/// `(a(), b())`, potentially in parallel (callers decide whether the halves are worth it).
pub fn join<A: Send, B: Send>(a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B + Send) -> (A, B) {
    if serial() {
        return (a(), b());
    }
    // the halves claimed as two indices (the caller takes the first at once), each run once
    let (a, b) = (Mutex::new(Some(a)), Mutex::new(Some(b)));
    let (ra, rb) = (Mutex::new(None), Mutex::new(None));
    map_range_shared(2, |i| {
        if i == 0 {
            let a = lock_any(&a).take().expect("claimed once");
            *lock_any(&ra) = Some(a());
        } else {
            let b = lock_any(&b).take().expect("claimed once");
            *lock_any(&rb) = Some(b());
        }
    });
    let done = "map_range_shared runs every index";
    let (ra, rb) = (ra.into_inner(), rb.into_inner());
    let ra = ra.unwrap_or_else(PoisonError::into_inner).expect(done);
    (ra, rb.unwrap_or_else(PoisonError::into_inner).expect(done))
}

/// Fork handling: the registry is locked across `fork()` (so the child never inherits it locked
/// by a thread that does not exist there) and emptied in the child.
#[cfg(unix)]
mod fork {
    use std::cell::RefCell;
    use std::sync::{MutexGuard, Once, PoisonError};

    use super::{Registry, REGISTRY};

    thread_local! {
        /// The registry lock, held by the forking thread from `prepare` to `parent` / `child`.
        static HELD: RefCell<Option<MutexGuard<'static, Registry>>> = const { RefCell::new(None) };
    }

    extern "C" fn prepare() {
        let guard = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
        HELD.with(|h| *h.borrow_mut() = Some(guard));
    }

    extern "C" fn parent() {
        HELD.with(|h| drop(h.borrow_mut().take()));
    }

    extern "C" fn child() {
        // The child may run under another affinity mask or quota.
        super::MAX_THREADS.store(0, std::sync::atomic::Ordering::Relaxed);
        HELD.with(|h| {
            if let Some(mut registry) = h.borrow_mut().take() {
                registry.forget_all();
            }
        });
    }

    pub(super) fn install_handlers() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            // SAFETY: the three handlers are `extern "C"` functions without arguments that
            // live as long as the process (this crate is never unloaded while it can fork).
            let rc = unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) };
            // Only ENOMEM is possible; without handlers a forked child would hang, so say so.
            assert_eq!(rc, 0, "credo: pthread_atfork failed ({rc})");
        });
    }
}

#[cfg(not(unix))]
mod fork {
    pub(super) fn install_handlers() {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_thread_runs_on_the_caller_with_its_regions_in_turn() {
        let caller = std::thread::current().id();
        let ids = with_threads(Some(1), || {
            let mut ids = map_range(64, 1, |_| std::thread::current().id());
            ids.extend(map_range_init(64, 1, || (), |(), _| std::thread::current().id()));
            ids.extend(map_vec(vec![(); 64], |_, ()| std::thread::current().id()));
            ids.extend(map_range_shared(64, |_| std::thread::current().id()));
            let mut data = vec![0u8; 64];
            ids.extend(map_chunks_mut(&mut data, 1, |_, _| std::thread::current().id()));
            let (a, b) = join(|| std::thread::current().id(), || std::thread::current().id());
            ids.extend([a, b]);
            // a nested call of two threads still has its pool
            let nested = with_threads(Some(2), region_threads).unwrap();
            (ids, nested)
        })
        .unwrap();
        assert!(ids.0.iter().all(|&id| id == caller));
        assert_eq!(ids.1, 2.min(max_threads()));
        // and the setting ends with the call, also after a panic
        let _ = std::panic::catch_unwind(|| with_threads(Some(1), || panic!("inside")));
        assert_eq!(THREADS.with(std::cell::Cell::get), 0);
    }

    #[test]
    fn the_work_starts_on_the_caller_which_takes_part_in_its_regions() {
        let caller = std::thread::current().id();
        let (on_caller, ids) = with_threads(Some(2), || {
            let ids = map_range(2_000, 1, |_| {
                std::thread::sleep(std::time::Duration::from_micros(20));
                std::thread::current().id()
            });
            (std::thread::current().id() == caller, ids)
        })
        .unwrap();
        assert!(on_caller);
        // the caller claims indices from the start: no hand-off and wait
        assert!(ids.iter().filter(|&&id| id == caller).count() > 100);
    }

    #[test]
    fn pool_has_requested_size_up_to_the_cpu_count() {
        let want = 3.min(max_threads());
        assert_eq!(with_threads(Some(3), region_threads).unwrap(), want);
        assert_eq!(with_threads(Some(1_000_000), region_threads).unwrap(), max_threads());
        assert!(with_threads(Some(0), || ()).is_err());
    }

    #[test]
    fn registry_keeps_at_most_max_pools_and_evicts_the_least_recently_used() {
        let mut r = Registry {
            pools: Vec::new(),
            clock: 0,
        };
        let mk = || Arc::new(rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap());
        for t in 1..=MAX_POOLS {
            r.insert(t, mk());
        }
        assert!(r.get(1).is_some()); // 1 is now the most recently used; 2 the least
        r.insert(99, mk());
        assert_eq!(r.pools.len(), MAX_POOLS);
        assert!(r.get(2).is_none());
        assert!(r.get(1).is_some() && r.get(99).is_some());
    }

    #[test]
    fn pipeline_keeps_submission_order_and_reports_production_errors() {
        let want: Vec<u64> = (0..500u64).map(|i| i * i).collect();
        for (threads, single) in [(Some(1), false), (Some(2), false), (Some(4), true), (None, false)] {
            let mut waited = false;
            let got = pipeline::<u64, u64, ()>(
                threads,
                single,
                |submit| {
                    (0..500).for_each(&mut *submit);
                    Ok(())
                },
                |i| i * i,
                |block| {
                    waited = true;
                    block();
                },
            );
            assert_eq!(got.unwrap().unwrap(), want);
            assert!(waited);
            let failed = pipeline(
                threads,
                single,
                |submit| {
                    (0..10).for_each(&mut *submit);
                    Err("stop")
                },
                |i: u64| i,
                |block| block(),
            );
            assert_eq!(failed.unwrap(), Err("stop"));
        }
        assert!(pipeline::<u8, u8, ()>(Some(0), false, |_| Ok(()), |i| i, |b| b()).is_err());
    }

    #[test]
    fn pipeline_resumes_a_work_panic_after_every_claimed_item_ends() {
        // (One thread works the items in turn: its panic ends the call at once.)
        for threads in [Some(2), Some(3)] {
            let ran = AtomicUsize::new(0);
            let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                pipeline::<usize, (), ()>(
                    threads,
                    false,
                    |submit| {
                        (0..64).for_each(&mut *submit);
                        Ok(())
                    },
                    |i| {
                        std::thread::sleep(std::time::Duration::from_micros(50));
                        ran.fetch_add(1, Ordering::Relaxed);
                        assert!(i != 17, "item 17");
                    },
                    |block| block(),
                )
            }));
            let payload = caught.expect_err("the panic reaches the caller");
            assert_eq!(payload.downcast_ref::<&str>().copied(), Some("item 17"));
            assert_eq!(ran.load(Ordering::Relaxed), 64, "{threads:?}");
        }
    }

    #[test]
    fn pipeline_works_items_submitted_slower_than_they_are_worked() {
        // The helpers run out of items and sleep between submissions; each is still worked once.
        for threads in [Some(2), Some(3)] {
            let got = pipeline::<usize, usize, ()>(
                threads,
                false,
                |submit| {
                    for i in 0..20 {
                        std::thread::sleep(std::time::Duration::from_micros(300));
                        submit(i);
                    }
                    Ok(())
                },
                |i| i * 3,
                |block| block(),
            );
            assert_eq!(got.unwrap().unwrap(), (0..20).map(|i| i * 3).collect::<Vec<_>>());
        }
    }

    #[test]
    fn helpers_match_their_sequential_meaning() {
        let f = |i: usize| (i as f64 * 0.37).sin();
        let want: Vec<f64> = (0..10_000).map(f).collect();
        assert_eq!(map_range(10_000, 64, f), want);
        assert_eq!(map_range(10, 64, f), want[..10]);
        assert_eq!(map_range_init(10_000, 64, || 0u8, |_, i| f(i)), want);
        assert_eq!(
            map_vec((0..10_000).collect(), |i, j: usize| f(i) + f(j)),
            want.iter().map(|x| 2.0 * x).collect::<Vec<_>>()
        );
        let mut v = vec![0.0; 10_000];
        for_each_chunk_mut(&mut v, 256, |c, d| {
            d.iter_mut().enumerate().for_each(|(j, x)| *x = f(c * 256 + j))
        });
        assert_eq!(v, want);
        let sums = map_chunks_mut(&mut v, 1000, |_, d| d.iter().sum::<f64>());
        assert_eq!(sums.len(), 10);
        let (mut a, mut b) = (vec![0usize; 100], vec![0usize; 50]);
        for_each_chunk_pair_mut((&mut a, 10), (&mut b, 5), |c, x, y| {
            x.fill(c);
            y.fill(c);
        });
        assert_eq!((a[99], b[49]), (9, 9));
        assert_eq!(join(|| 1, || 2), (1, 2));
        assert_eq!(map_range_shared(10_000, f), want);
        assert_eq!(map_range_shared(1, f), want[..1]);
        assert!(map_range_shared(0, f).is_empty());
        for t in [1, 2, 3] {
            let got = with_threads(Some(t), || map_range_shared(77, |i| (i, rayon::current_thread_index())));
            assert_eq!(
                got.unwrap().iter().map(|r| r.0).collect::<Vec<_>>(),
                (0..77).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn shared_ranges_resume_a_panic_after_every_claimed_index_ends() {
        for threads in [None, Some(1), Some(2)] {
            let ran = AtomicUsize::new(0);
            let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                with_threads(threads, || {
                    map_range_shared(64, |i| {
                        std::thread::sleep(std::time::Duration::from_micros(50));
                        ran.fetch_add(1, Ordering::Relaxed);
                        assert!(i != 17, "index 17");
                    })
                })
            }));
            let payload = caught.expect_err("the panic reaches the caller");
            let message = payload.downcast_ref::<&str>().copied();
            assert_eq!(message, Some("index 17"));
            // every index ran: the others were not abandoned mid-way
            assert_eq!(ran.load(Ordering::Relaxed), 64, "{threads:?}");
        }
    }

    #[test]
    fn ordered_chunks_are_thread_independent() {
        let xs: Vec<f64> = (0..10_000).map(|i| (f64::from(i) * 0.37).sin()).collect();
        let sum = |t| {
            with_threads(t, || {
                map_range(40, 1, |c| xs[c * 250..(c + 1) * 250].iter().sum::<f64>())
            })
        };
        assert_eq!(sum(Some(1)).unwrap(), sum(Some(2)).unwrap());
        assert_eq!(sum(None).unwrap(), sum(Some(2)).unwrap());
    }

    /// rayon is reached through this module only: any other use would run in rayon's global
    /// pool, which a forked child cannot use.
    #[test]
    fn no_other_module_uses_rayon() {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p, out);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    out.push(p);
                }
            }
        }
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        walk(&src, &mut files);
        let offenders: Vec<_> = files
            .iter()
            .filter(|p| !p.ends_with("parallel.rs"))
            .filter(|p| std::fs::read_to_string(p).unwrap().contains("rayon"))
            .collect();
        assert!(
            offenders.is_empty(),
            "use crate::parallel instead of rayon in {offenders:?}"
        );
    }
}
