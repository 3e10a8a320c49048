//! Thread control for batch kernels: the only module that touches rayon.
//!
//! Every parallel region of the engine runs in a pool this module owns, never in rayon's global
//! pool, because the worker threads of a pool do not survive `fork()`: a forked child that hands
//! work to a pool its parent built waits forever (gunicorn `--preload`, multiprocessing's `fork`
//! start method and Celery all fork a warmed-up parent). The registry of pools is emptied in the
//! child by a `pthread_atfork` handler, so the child builds fresh pools on first use; the parent's
//! pools are leaked there, not dropped, since dropping one would signal threads that do not exist.
//!
//! `threads = None` runs on the calling thread and sends parallel regions to the default pool
//! (`RAYON_NUM_THREADS` workers when set, else one per logical CPU); `Some(n)` runs the work in a
//! pool of `min(n, logical CPUs)` workers: more threads than CPUs never speeds up these kernels,
//! and the cap bounds what a careless `threads=` costs. At most [`MAX_POOLS`] pools are kept; the
//! least recently used one is dropped (its threads exit once its last call ends).
//!
//! Kernels split work into fixed-size, index-ordered chunks and never reduce across threads in a
//! schedule-dependent order, so results are bit-identical whatever the thread count. The helpers
//! below run a region with a single chunk inline on the calling thread, without touching any
//! pool: small calls pay nothing for the parallel machinery.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rayon::prelude::*;

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

/// Runs `f` inside a pool of `threads` workers (capped at [`max_threads`]), or on the calling
/// thread for `None` (its parallel regions then use the default pool).
pub fn with_threads<R: Send>(threads: Option<usize>, f: impl FnOnce() -> R + Send) -> Result<R> {
    let Some(n) = threads else { return Ok(f()) };
    if n == 0 {
        return Err(CredoError::invalid(
            "threads",
            "must be a positive number of threads, got 0",
        ));
    }
    Ok(pool(n.min(max_threads()))?.install(f))
}

/// Runs the parallel region `f` where its rayon calls are safe: directly when this thread is
/// already a pool worker (inside [`with_threads`]), else in the default pool.
fn region<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_some() {
        return f();
    }
    match pool(default_threads()) {
        Ok(p) => p.install(f),
        // No thread could be started: the work still gets done, on this thread alone.
        Err(_) => f(),
    }
}

/// `(0..n).map(f).collect()`, in parallel tasks of at least `min_len` indices.
pub fn map_range<R: Send>(n: usize, min_len: usize, f: impl Fn(usize) -> R + Sync + Send) -> Vec<R> {
    if n <= min_len.max(1) {
        return (0..n).map(f).collect();
    }
    region(|| (0..n).into_par_iter().with_min_len(min_len.max(1)).map(f).collect())
}

/// `(0..n).map(f).collect()` with the calling thread working from the start: the indices are
/// claimed one at a time from a shared counter by the caller and by the pool's other workers,
/// so the call does not wait for a worker to wake before work begins (a hand-off costs a
/// wake-up at each end, which a millisecond-long region cannot hide), and a helper that wakes
/// late finds less to do, or nothing. Nor does the caller wait for it at the end: once every
/// index is claimed, it waits (spinning, then yielding) only for those still being worked on,
/// never for a helper that has not started or for a wake-up of its own. Results come back in
/// index order. A panic in `f` is resumed on the caller once no index is being worked on.
pub fn map_range_shared<R: Send>(n: usize, f: impl Fn(usize) -> R + Sync + Send) -> Vec<R> {
    if n <= 1 {
        return (0..n).map(f).collect();
    }
    let slots: Vec<Mutex<Option<R>>> = (0..n).map(|_| Mutex::new(None)).collect();
    let run = |i: usize| {
        let r = f(i);
        *slots[i].lock().unwrap_or_else(PoisonError::into_inner) = Some(r);
    };
    let shared = Arc::new(Claims {
        next: AtomicUsize::new(0),
        done: AtomicUsize::new(0),
        n,
        panic: Mutex::new(None),
    });
    let helpers = |threads: usize| threads.saturating_sub(1).min(n - 1);
    let run_ref: &(dyn Fn(usize) + Sync) = &run;
    // SAFETY: only the lifetime is erased. A helper calls `run` only for an index it claimed
    // below n, and this function returns (or unwinds) only after `done` reached n, that is
    // after every such call ended; a helper that starts later claims nothing and touches only
    // the reference-counted `Claims`.
    let erased = ErasedRun(unsafe {
        std::mem::transmute::<*const (dyn Fn(usize) + Sync + '_), *const (dyn Fn(usize) + Sync + 'static)>(run_ref)
    });
    let spawn = |spawner: &dyn Fn(Box<dyn FnOnce() + Send>), count: usize| {
        for _ in 0..count {
            let (claims, run) = (Arc::clone(&shared), erased);
            spawner(Box::new(move || {
                claims.work(|i| run.call(i));
            }));
        }
    };
    if rayon::current_thread_index().is_some() {
        spawn(&|job| rayon::spawn(job), helpers(rayon::current_num_threads()));
    } else if let Ok(p) = pool(default_threads()) {
        spawn(&|job| p.spawn(job), helpers(p.current_num_threads()));
    } // else no thread could be started: the work still gets done, on this thread alone.
    shared.work(run);
    shared.wait();
    if let Some(payload) = shared.panic.lock().unwrap_or_else(PoisonError::into_inner).take() {
        std::panic::resume_unwind(payload);
    }
    slots
        .into_iter()
        .map(|m| {
            let r = m.into_inner().unwrap_or_else(PoisonError::into_inner);
            r.expect("every index is claimed and filled before the wait ends")
        })
        .collect()
}

/// The indices of a [`map_range_shared`] call: the next to claim, how many are finished, and
/// the first panic.
struct Claims {
    next: AtomicUsize,
    done: AtomicUsize,
    n: usize,
    panic: Mutex<Option<Box<dyn std::any::Any + Send>>>,
}

impl Claims {
    /// Claims and runs indices until none is left; a panic is kept, not propagated, so that
    /// `done` still counts the index.
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

    /// Returns once every index is finished: they are all claimed, so at most one per helper
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

/// The lifetime-erased work of a [`map_range_shared`] call, for its helpers.
#[derive(Clone, Copy)]
struct ErasedRun(*const (dyn Fn(usize) + Sync + 'static));

// SAFETY: the closure behind it is `Sync`; see `map_range_shared` for its lifetime.
unsafe impl Send for ErasedRun {}

impl ErasedRun {
    /// Runs index `i`, which the caller has claimed below n: the closure is then still alive
    /// (see `map_range_shared`).
    fn call(self, i: usize) {
        // SAFETY: as said above.
        unsafe { (*self.0)(i) }
    }
}

/// [`map_range`] with a per-task scratch state from `init` (reused across the task's indices).
pub fn map_range_init<S, R: Send>(
    n: usize,
    min_len: usize,
    init: impl Fn() -> S + Sync + Send,
    f: impl Fn(&mut S, usize) -> R + Sync + Send,
) -> Vec<R> {
    if n <= min_len.max(1) {
        let mut s = init();
        return (0..n).map(|i| f(&mut s, i)).collect();
    }
    region(|| {
        (0..n)
            .into_par_iter()
            .with_min_len(min_len.max(1))
            .map_init(&init, |s, i| f(s, i))
            .collect()
    })
}

/// `items.into_iter().enumerate().map(f).collect()`, one task per item.
pub fn map_vec<T: Send, R: Send>(items: Vec<T>, f: impl Fn(usize, T) -> R + Sync + Send) -> Vec<R> {
    if items.len() <= 1 {
        return items.into_iter().enumerate().map(|(i, t)| f(i, t)).collect();
    }
    region(|| items.into_par_iter().enumerate().map(|(i, t)| f(i, t)).collect())
}

/// `f(c, chunk)` for each `chunk`-sized piece `c` of `data`, collecting the results in order.
pub fn map_chunks_mut<T: Send, R: Send>(
    data: &mut [T],
    chunk: usize,
    f: impl Fn(usize, &mut [T]) -> R + Sync + Send,
) -> Vec<R> {
    let chunk = chunk.max(1);
    if data.len() <= chunk {
        return if data.is_empty() { Vec::new() } else { vec![f(0, data)] };
    }
    region(|| data.par_chunks_mut(chunk).enumerate().map(|(c, d)| f(c, d)).collect())
}

/// `f(c, chunk)` for each `chunk`-sized piece `c` of `data`.
pub fn for_each_chunk_mut<T: Send>(data: &mut [T], chunk: usize, f: impl Fn(usize, &mut [T]) + Sync + Send) {
    let chunk = chunk.max(1);
    if data.len() <= chunk {
        if !data.is_empty() {
            f(0, data);
        }
        return;
    }
    region(|| data.par_chunks_mut(chunk).enumerate().for_each(|(c, d)| f(c, d)));
}

/// `f(c, a_c, b_c)` for the `c`-th pieces of `a` (of `a_chunk` items) and `b` (of `b_chunk`),
/// walked in step; the pair count is the shorter of the two chunk counts.
pub fn for_each_chunk_pair_mut<A: Send, B: Send>(
    (a, a_chunk): (&mut [A], usize),
    (b, b_chunk): (&mut [B], usize),
    f: impl Fn(usize, &mut [A], &mut [B]) + Sync + Send,
) {
    let (a_chunk, b_chunk) = (a_chunk.max(1), b_chunk.max(1));
    if a.len() <= a_chunk || b.len() <= b_chunk {
        a.chunks_mut(a_chunk)
            .zip(b.chunks_mut(b_chunk))
            .enumerate()
            .for_each(|(c, (x, y))| f(c, x, y));
        return;
    }
    region(|| {
        a.par_chunks_mut(a_chunk)
            .zip(b.par_chunks_mut(b_chunk))
            .enumerate()
            .for_each(|(c, (x, y))| f(c, x, y));
    });
}

/// `work(item)` for each item that `produce` submits, results in submission order, each item's work
/// started on a pool worker as soon as it is submitted: the calling thread's production (the
/// bindings read Python strings there, under the GIL) overlaps the work instead of preceding it.
/// `wait` runs on the calling thread with the blocking part (every item's work still to finish),
/// so the caller can release a lock around it. With one worker (`threads` resolved as in
/// [`with_threads`]) or `single`, nothing overlaps: every item is produced first, then worked
/// inside `wait` on the calling thread, so a one-thread call uses one thread. A `produce` error is
/// returned after the items already submitted are done.
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
        None => default_threads(),
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
    let pool = pool(n)?;
    let work = &work;
    let (tx, rx) = std::sync::mpsc::channel::<(usize, R)>();
    let mut slots: Vec<Option<R>> = Vec::new();
    let produced = pool.in_place_scope_fifo(|s| {
        let mut submitted = 0;
        let produced = produce(&mut |item| {
            let (tx, i) = (tx.clone(), submitted);
            submitted += 1;
            s.spawn_fifo(move |_| {
                // The receiver outlives every job (the scope ends after it is drained).
                let _ = tx.send((i, work(item)));
            });
        });
        // The last sender: once it and every job's clone are gone, the receiver's loop ends.
        drop(tx);
        slots.resize_with(submitted, || None);
        // Moved into the blocking part, which may run on another thread (a receiver is not Sync).
        let mut rx = Some(rx);
        wait(&mut || {
            for (i, r) in rx.take().into_iter().flatten() {
                slots[i] = Some(r);
            }
        });
        produced
    });
    // A job that panicked sent nothing, but then the scope re-raised its panic above.
    Ok(produced.map(|()| slots.into_iter().flatten().collect()))
}

/// `(a(), b())`, potentially in parallel (callers decide whether the halves are worth it).
pub fn join<A: Send, B: Send>(a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B + Send) -> (A, B) {
    region(|| rayon::join(a, b))
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
    fn pool_has_requested_size_up_to_the_cpu_count() {
        let want = 3.min(max_threads());
        assert_eq!(with_threads(Some(3), rayon::current_num_threads).unwrap(), want);
        assert_eq!(
            with_threads(Some(1_000_000), rayon::current_num_threads).unwrap(),
            max_threads()
        );
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
