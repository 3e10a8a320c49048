//! The one error type of the engine. Each variant becomes its own Python exception class
//! (all subclasses of `credo.CredoError`, itself a `ValueError`).

/// Why a call was refused. `arg` always names the user-facing argument at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredoError {
    /// A value outside its domain (alpha outside (0, 1), an unknown option, a negative weight, …).
    #[error("{arg}: {msg}")]
    InvalidArgument { arg: String, msg: String },
    /// NaN or ±inf where a finite number is required (or a row of logits with no finite entry).
    #[error("{arg}: {msg}")]
    NonFinite { arg: String, msg: String },
    /// Shapes or lengths that do not fit together.
    #[error("{arg}: {msg}")]
    Shape { arg: String, msg: String },
    /// Empty input, or too little data for the requested statistic.
    #[error("{arg}: {msg}")]
    Empty { arg: String, msg: String },
    /// A saved artefact that is corrupt, truncated, tampered with or from a future version.
    #[error("{0}")]
    Artifact(String),
}

impl CredoError {
    pub fn invalid(arg: impl Into<String>, msg: impl Into<String>) -> Self {
        Self::InvalidArgument {
            arg: arg.into(),
            msg: msg.into(),
        }
    }
    pub fn non_finite(arg: impl Into<String>, msg: impl Into<String>) -> Self {
        Self::NonFinite {
            arg: arg.into(),
            msg: msg.into(),
        }
    }
    pub fn shape(arg: impl Into<String>, msg: impl Into<String>) -> Self {
        Self::Shape {
            arg: arg.into(),
            msg: msg.into(),
        }
    }
    pub fn empty(arg: impl Into<String>, msg: impl Into<String>) -> Self {
        Self::Empty {
            arg: arg.into(),
            msg: msg.into(),
        }
    }

    /// The same error about item `i` of a batch: its argument becomes `arg[i]`.
    #[must_use]
    pub fn at(self, i: usize) -> Self {
        match self {
            Self::InvalidArgument { arg, msg } => Self::invalid(format!("{arg}[{i}]"), msg),
            Self::NonFinite { arg, msg } => Self::non_finite(format!("{arg}[{i}]"), msg),
            Self::Shape { arg, msg } => Self::shape(format!("{arg}[{i}]"), msg),
            Self::Empty { arg, msg } => Self::empty(format!("{arg}[{i}]"), msg),
            Self::Artifact(msg) => Self::Artifact(msg),
        }
    }
}

pub type Result<T, E = CredoError> = std::result::Result<T, E>;

/// Fails with `NonFinite` naming `arg` and the first bad index when `xs` holds NaN or ±inf.
pub fn check_finite(arg: &str, xs: &[f64]) -> Result<()> {
    match xs.iter().position(|x| !x.is_finite()) {
        None => Ok(()),
        Some(i) => Err(CredoError::non_finite(
            arg,
            format!("non-finite value {} at index {i}", xs[i]),
        )),
    }
}

/// Fails with `NonFinite` naming `arg` and the first bad index when `xs` holds NaN (±inf are
/// ordered values, which statistics over ranks accept).
pub fn check_not_nan(arg: &str, xs: &[f64]) -> Result<()> {
    match xs.iter().position(|x| x.is_nan()) {
        None => Ok(()),
        Some(i) => Err(CredoError::non_finite(arg, format!("NaN at index {i}"))),
    }
}

/// Fails with `Shape` when two per-sample arrays differ in length.
pub fn check_same_len(arg: &str, got: usize, expected: usize) -> Result<()> {
    if got == expected {
        Ok(())
    } else {
        Err(CredoError::shape(
            arg,
            format!("length {got} does not match the {expected} samples"),
        ))
    }
}

/// Fails with `InvalidArgument` unless 0 < `value` < 1.
pub fn check_open_unit(arg: &str, value: f64) -> Result<()> {
    if value > 0.0 && value < 1.0 {
        Ok(())
    } else {
        Err(CredoError::invalid(
            arg,
            format!("must lie strictly between 0 and 1, got {value}"),
        ))
    }
}

/// Validates optional per-sample weights: the right length, finite, non-negative, positive sum.
pub fn check_weights(w: Option<&[f64]>, n: usize) -> Result<()> {
    let Some(w) = w else { return Ok(()) };
    check_same_len("sample_weight", w.len(), n)?;
    check_finite("sample_weight", w)?;
    if let Some(i) = w.iter().position(|&v| v < 0.0) {
        return Err(CredoError::invalid(
            "sample_weight",
            format!("weights must be non-negative, got {} at index {i}", w[i]),
        ));
    }
    let total = w.iter().sum::<f64>();
    if total <= 0.0 {
        return Err(CredoError::invalid("sample_weight", "weights must not all be zero"));
    }
    // Weighted sums of the kernels would overflow to inf and then NaN predictions.
    if !total.is_finite() {
        return Err(weights_overflow());
    }
    Ok(())
}

/// The error for weights whose sum overflows a float.
pub fn weights_overflow() -> CredoError {
    CredoError::invalid(
        "sample_weight",
        "weights sum to more than the largest float; rescale them (only their ratios matter)",
    )
}

/// The most bins a binned statistic, calibrator or histogram accepts (2²⁰ = 1,048,576): far more
/// than any sample can fill, and small enough that the per-bin arrays (tens of bytes a bin) stay
/// within tens of megabytes whatever a caller passes.
pub const MAX_BINS: usize = 1 << 20;

/// The most resamples one bootstrap call draws (each is a full pass over the sample).
pub const MAX_RESAMPLES: usize = 1_000_000;

/// Fails with `InvalidArgument` naming `arg` unless `1 <= value <= max`.
pub fn check_count(arg: &str, value: usize, max: usize) -> Result<()> {
    if value == 0 {
        return Err(CredoError::invalid(arg, "must be at least 1"));
    }
    if value > max {
        return Err(CredoError::invalid(arg, format!("must be at most {max}, got {value}")));
    }
    Ok(())
}

/// `len` copies of `value` (`len` None when computing it overflowed), or `InvalidArgument`
/// naming `arg` when that much memory cannot be had, instead of aborting the process.
pub fn try_filled<T: Clone>(arg: &str, len: Option<usize>, value: T) -> Result<Vec<T>> {
    let too_big = || CredoError::invalid(arg, "asks for more memory than is available");
    let len = len.ok_or_else(too_big)?;
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| too_big())?;
    v.resize(len, value);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_bounded_and_huge_allocations_are_errors() {
        assert!(check_count("n_bins", 0, MAX_BINS).is_err());
        assert!(check_count("n_bins", MAX_BINS, MAX_BINS).is_ok());
        let e = check_count("n_bins", MAX_BINS + 1, MAX_BINS).unwrap_err();
        assert!(e.to_string().starts_with("n_bins: must be at most 1048576"));
        assert!(try_filled("n", 4usize.checked_mul(usize::MAX), 0u8).is_err());
        assert!(try_filled("n", Some(usize::MAX / 2), 0u64).is_err());
        assert_eq!(try_filled("n", Some(3), 1.5).unwrap(), vec![1.5; 3]);
        assert!(check_weights(Some(&[1e308, 1e308]), 2).is_err());
        assert!(check_weights(Some(&[1e307, 1e307]), 2).is_ok());
    }
}
