//! credo-core: the pure-Rust engine behind the `credo` Python package.
//!
//! Nothing here knows Python. Every fallible entry point returns [`Result`] with a [`CredoError`]
//! that names the offending argument; the bindings crate maps each variant to a Python exception.
//!
//! Data flows one way: inputs → signals → calibrated confidence → decision.

pub mod choice;
pub mod error;
pub mod parallel;
mod scratch;
pub mod special;

pub mod agree;
pub mod calibrate;
pub mod conformal;
pub mod decide;
pub mod evidence;
pub mod formats;
pub mod linear;
pub mod metrics;
pub mod rng;
pub mod signals;
pub mod simd;

pub use error::{CredoError, Result};
