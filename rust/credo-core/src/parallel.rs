//! Thread control for batch kernels.
//!
//! `threads = None` uses rayon's global pool; `Some(n)` runs the work in a pool of exactly `n`
//! threads (built once per `n` and cached). Kernels split work into fixed-size, index-ordered
//! chunks and never reduce across threads in a schedule-dependent order, so results are
//! bit-identical whatever the thread count.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use crate::error::{CredoError, Result};

fn pools() -> &'static Mutex<HashMap<usize, Arc<rayon::ThreadPool>>> {
    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<rayon::ThreadPool>>>> = OnceLock::new();
    POOLS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Runs `f` inside a rayon pool of `threads` workers (or the global pool for `None`).
pub fn with_threads<R: Send>(threads: Option<usize>, f: impl FnOnce() -> R + Send) -> Result<R> {
    let Some(n) = threads else { return Ok(f()) };
    if n == 0 {
        return Err(CredoError::invalid("threads", "must be a positive number of threads, got 0"));
    }
    let pool = {
        let mut map = pools().lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match map.get(&n) {
            Some(p) => Arc::clone(p),
            None => {
                let p = rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .thread_name(|i| format!("credo-{i}"))
                    .build()
                    .map_err(|e| CredoError::invalid("threads", format!("cannot start {n} threads: {e}")))?;
                let p = Arc::new(p);
                map.insert(n, Arc::clone(&p));
                p
            }
        }
    };
    Ok(pool.install(f))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    #[test]
    fn pool_has_requested_size() {
        assert_eq!(with_threads(Some(3), rayon::current_num_threads).unwrap(), 3);
        assert!(with_threads(Some(0), || ()).is_err());
    }

    #[test]
    fn ordered_chunks_are_thread_independent() {
        let xs: Vec<f64> = (0..10_000).map(|i| (f64::from(i) * 0.37).sin()).collect();
        let sum = |t| with_threads(t, || xs.par_chunks(256).map(|c| c.iter().sum::<f64>()).collect::<Vec<_>>());
        assert_eq!(sum(Some(1)).unwrap(), sum(Some(2)).unwrap());
    }
}
