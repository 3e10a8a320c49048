//! PyO3 bindings: the native module `credo._credo`.
//!
//! Only array intake and dtype dispatch (`arrays`), option parsing (`options`), result classes
//! (`results`), GIL release and error mapping (`errors`) live here; every computation is in
//! `credo-core`. Each other file mirrors a core module and exposes a `register` function.
//!
//! Inputs are borrowed read-only from NumPy while the GIL is released: callers must not mutate an
//! array while a credo call on it is running (the same contract as CPython's hashlib).

#[macro_use]
mod results;

mod agree;
mod arrays;
mod calibrate;
mod conformal;
mod decide;
mod errors;
mod evidence;
mod formats;
mod linear;
mod metrics;
mod options;
mod signals;

use pyo3::prelude::*;

#[pymodule]
mod _credo {
    use super::*;

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        errors::register(m)?;
        signals::register(m)?;
        calibrate::register(m)?;
        conformal::register(m)?;
        agree::register(m)?;
        metrics::register(m)?;
        evidence::register(m)?;
        formats::register(m)?;
        linear::register(m)?;
        decide::register(m)?;
        Ok(())
    }
}
