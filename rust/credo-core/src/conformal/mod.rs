//! Conformal prediction and thresholds with finite-sample guarantees.
//!
//! - [`quantile`]: the split-conformal order statistic k = ⌈(n+1)(1−α)⌉, exact or MAPIE-compatible.
//! - [`pvalues`]: conformal p-values against a sorted calibration set (plain and smoothed).
//! - [`sets`]: LAC / APS / RAPS class scores and prediction sets ([`lac`]: the LAC set pass).
//! - [`bounds`]: Hoeffding–Bentkus and binomial p-values, the SGR bound, CRC's adjusted risk.
//! - [`rcps`]: Hoeffding, Bernstein and WSR upper bounds on a mean loss (RCPS).
//! - [`selective`]: thresholds for selective answering (LTT, SGR, CRC).
//! - [`claims`]: conformal factuality (Mohri & Hashimoto 2024) for claim filtering.
//! - [`clm`]: Conformal Language Modeling (Quach et al.): set scores, stopping, selection.

pub mod bounds;
pub mod claims;
pub mod clm;
pub mod lac;
pub mod pvalues;
pub mod quantile;
pub mod rcps;
pub mod selective;
pub mod sets;

pub use quantile::{conformal_quantile, conformal_rank, QuantileMode};
