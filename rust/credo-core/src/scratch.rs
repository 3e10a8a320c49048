//! Per-thread scratch buffers kept between calls: kernels that run in microseconds would
//! otherwise spend a good part of that on fresh allocations, their zeroing and page faults.

use std::cell::Cell;
use std::thread::LocalKey;

/// Runs `f` with this thread's scratch from `slot`, then puts it back if `keep` says it is not
/// too large to hold on to. The scratch is taken out for the call (a `Cell`, not a `RefCell`),
/// so a nested call on the same thread gets a fresh one instead of a borrow panic.
pub(crate) fn with_scratch<S: Default, R>(
    slot: &'static LocalKey<Cell<S>>,
    f: impl FnOnce(&mut S) -> R,
    keep: impl FnOnce(&S) -> bool,
) -> R {
    let mut scratch = slot.take();
    let result = f(&mut scratch);
    if keep(&scratch) {
        slot.set(scratch);
    }
    result
}
