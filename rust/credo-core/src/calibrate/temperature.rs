//! Temperature scaling: softmax(β·z) with one inverse temperature β = 1/T fitted by minimising
//! the (weighted) multinomial negative log-likelihood, as scikit-learn's temperature calibration
//! (docs/definitions/calibrators.md#temperature-scaling): log β is confined to [−10, 10]; probabilities are taken as
//! z = ln(p + 1e-12); a binary score f is the two-class logit row (−f, f), so p = σ(2βf).
//!
//! The NLL is convex in t = log β, so its derivative changes sign once. The solver is Halley's
//! method on t with the exact first three derivatives from one fused pass over the data per
//! step, safeguarded by a sign bracket (a step that leaves it bisects, or looks at the bound of
//! log β it points past). A pass reads each row once from memory, as float32 or float64 (no
//! float64 copy of the input): β·(z − max), the vectorised exponential of `signals::exp64`
//! and four moment sums, all in registers (module `kernel`, one build per instruction set).
//! The first pass over every row also finds and checks each row's maximum and keeps it, so
//! later passes skip both. On large inputs the first steps run on one row in 16 (one per
//! group of 16, at a hashed position, so periodic row patterns do not alias), which puts t
//! within about 1e−2 of the optimum for a 16th of the cost; two full-data steps then finish
//! (about 2.2 passes in all on 1e5 × 100 logits). Rows are processed in fixed chunks whose
//! partial sums are added in order, so β does not depend on the thread count. All arithmetic
//! is in f64 whatever the input dtype (netcal returns T = 1 for float32 input); the
//! exponential is within two ulp of `f64::exp`.

use super::{check_weights, sigmoid, CHUNK};
use crate::error::{check_finite, check_same_len, CredoError, Result};
use crate::simd::SimdLevel;

mod kernel;

/// Added to probabilities before the log (scikit-learn's `_convert_to_logits`).
pub const PROB_EPS: f64 = 1e-12;
/// Bounds of log β (scikit-learn's `minimize_scalar(bounds=(-10, 10))`).
pub const LOG_BETA_BOUND: f64 = 10.0;

/// Input element types accepted for logits and probabilities (float32 and float64).
pub trait Real: Copy + Send + Sync + kernel::Lanes {
    fn f64(self) -> f64;
}
impl Real for f32 {
    #[inline(always)]
    fn f64(self) -> f64 {
        f64::from(self)
    }
}
impl Real for f64 {
    #[inline(always)]
    fn f64(self) -> f64 {
        self
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TemperatureModel {
    /// The inverse temperature β = 1/T.
    pub beta: f64,
}

/// What a row can be refused for (reported for the first such row, see [`first_bad_row`]).
#[derive(Debug, Clone, Copy, PartialEq)]
enum RowFault {
    /// A NaN or +inf logit at this column.
    NonFinite(usize),
    /// Every logit is −inf.
    NoFinite,
    /// The true class's logit is −inf.
    LabelMasked,
}

fn fault_error(i: usize, fault: RowFault, v: f64) -> CredoError {
    match fault {
        RowFault::NonFinite(j) => CredoError::non_finite("X", format!("non-finite logit {v} at row {i}, column {j}")),
        RowFault::NoFinite => CredoError::non_finite("X", format!("row {i} has no finite logit")),
        // The logit is X's, the class y's: named by X, the argument holding the bad value.
        RowFault::LabelMasked => CredoError::invalid(
            "X",
            format!("row {i} gives its true class (y[{i}]) a logit of -inf (infinite loss)"),
        ),
    }
}

/// The first row of `z` that cannot be fitted, as an error (the slow path, run only once a pass
/// has found some bad row, so that the row named does not depend on chunking or subsampling).
fn first_bad_row<T: Real>(z: &[T], k: usize, labels: &[i64]) -> Option<CredoError> {
    z.chunks_exact(k).zip(labels).enumerate().find_map(|(i, (row, &y))| {
        let (max, bad) = row_max(row);
        let fault = row_fault(row, y, max, bad)?;
        let v = match fault {
            RowFault::NonFinite(j) => row[j].f64(),
            _ => f64::NEG_INFINITY,
        };
        Some(fault_error(i, fault, v))
    })
}

/// The row's maximum and whether a NaN or +inf is among its values (eight running maxima, so
/// the loop vectorises; NaN never wins a comparison and is caught by the flag).
#[inline(always)]
fn row_max<T: Real>(row: &[T]) -> (f64, bool) {
    let mut m = [f64::NEG_INFINITY; 8];
    let mut bad = [false; 8];
    let chunks = row.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for l in 0..8 {
            let v = c[l].f64();
            bad[l] |= v.is_nan() | (v == f64::INFINITY);
            m[l] = if v > m[l] { v } else { m[l] };
        }
    }
    for (l, v) in rest.iter().enumerate() {
        let v = v.f64();
        bad[l] |= v.is_nan() | (v == f64::INFINITY);
        m[l] = if v > m[l] { v } else { m[l] };
    }
    let max = m.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
    (max, bad.iter().any(|&b| b))
}

#[inline(always)]
fn row_fault<T: Real>(row: &[T], label: i64, max: f64, bad: bool) -> Option<RowFault> {
    if bad {
        let j = row.iter().position(|v| v.f64().is_nan() || v.f64() == f64::INFINITY)?;
        return Some(RowFault::NonFinite(j));
    }
    if max == f64::NEG_INFINITY {
        return Some(RowFault::NoFinite);
    }
    let label = usize::try_from(label).unwrap_or(usize::MAX);
    (row[label].f64() == f64::NEG_INFINITY).then_some(RowFault::LabelMasked)
}

/// Where a chunk of rows gets each row's maximum: found (and the row checked) on the way, found
/// and kept for later passes (the first full pass), or read from that pass (its rows are known
/// to be fine).
enum Maxima<'a> {
    Find,
    Keep(&'a mut [f64]),
    Known(&'a [f64]),
}

/// One row's terms of (loss, L′, L″, L‴) at t = log β from the row's sums (see
/// [`kernel::RowSums`]) and xy = β·(z_y − max). With κ₁, κ₂, κ₃ the mean, variance and third
/// central moment of x under softmax(x): loss = ln Σe^x − x_y, L′ = κ₁ − x_y, L″ = L′ + κ₂,
/// L‴ = L′ + 3κ₂ + κ₃ (dx/dt = x and dp/dt = p·(x − κ₁) give each from the one before).
#[inline(always)]
fn row_terms([s0, s1, s2, s3]: [f64; 4], xy: f64) -> [f64; 4] {
    let (m1, m2, m3) = (s1 / s0, s2 / s0, s3 / s0);
    let k2 = (m2 - m1 * m1).max(0.0);
    let k3 = m3 - 3.0 * m1 * m2 + 2.0 * m1 * m1 * m1;
    let g = m1 - xy;
    [s0.ln() - xy, g, g + k2, g + 3.0 * k2 + k3]
}

/// The weighted sums of [`row_terms`] over the rows `js` of the subsample ([`picked_row`]), each
/// row read once from memory (its maximum, where found here, from the copy then in L1).
#[inline(always)]
fn chunk_terms<T: Real, K: kernel::RowSums>(
    kern: &K,
    data: &Data<'_, T>,
    beta: f64,
    stride: usize,
    js: std::ops::Range<usize>,
    mut maxima: Maxima<'_>,
) -> std::result::Result<[f64; 4], ()> {
    let k = data.k;
    let mut acc = [0.0; 4];
    for (r, j) in js.enumerate() {
        let i = picked_row(j, stride, data.labels.len());
        let row = &data.z[i * k..(i + 1) * k];
        let max = match &mut maxima {
            Maxima::Known(m) => m[r],
            found => {
                let (max, bad) = row_max(row);
                if bad || max == f64::NEG_INFINITY {
                    return Err(());
                }
                if let Maxima::Keep(m) = found {
                    m[r] = max;
                }
                max
            }
        };
        #[allow(clippy::cast_sign_loss, clippy::cast_possible_truncation)]
        let xy = beta * (row[data.labels[i] as usize].f64() - max);
        if xy == f64::NEG_INFINITY {
            return Err(());
        }
        let terms = row_terms(kern.sums(row, max, beta), xy);
        let wi = data.w.map_or(1.0, |w| w[i]);
        for (a, t) in acc.iter_mut().zip(terms) {
            *a += wi * t;
        }
    }
    Ok(acc)
}

/// [`chunk_terms`] at `level` (a level this CPU supports; others run the portable kernel), each
/// instruction set's build of the whole row loop chosen once per chunk.
fn chunk_terms_at<T: Real>(
    level: SimdLevel,
    data: &Data<'_, T>,
    beta: f64,
    stride: usize,
    js: std::ops::Range<usize>,
    maxima: Maxima<'_>,
) -> std::result::Result<[f64; 4], ()> {
    #[cfg(target_arch = "x86_64")]
    {
        if level >= SimdLevel::Avx512 && level.supported() {
            // SAFETY: the CPU supports AVX-512F (checked just above).
            return unsafe { chunk_avx512(data, beta, stride, js, maxima) };
        }
        if level >= SimdLevel::Avx2 && level.supported() {
            // SAFETY: the CPU supports AVX2 and FMA (checked just above).
            return unsafe { chunk_avx2(data, beta, stride, js, maxima) };
        }
    }
    let _ = level;
    chunk_terms(&kernel::Portable, data, beta, stride, js, maxima)
}

/// [`chunk_terms`] compiled for AVX-512F with its kernel.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn chunk_avx512<T: Real>(
    data: &Data<'_, T>,
    beta: f64,
    stride: usize,
    js: std::ops::Range<usize>,
    maxima: Maxima<'_>,
) -> std::result::Result<[f64; 4], ()> {
    // SAFETY: the caller checked AVX-512F.
    let kern = unsafe { kernel::Avx512::new() };
    chunk_terms(&kern, data, beta, stride, js, maxima)
}

/// [`chunk_terms`] compiled for AVX2 and FMA with its kernel.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn chunk_avx2<T: Real>(
    data: &Data<'_, T>,
    beta: f64,
    stride: usize,
    js: std::ops::Range<usize>,
    maxima: Maxima<'_>,
) -> std::result::Result<[f64; 4], ()> {
    // SAFETY: the caller checked AVX2 and FMA.
    let kern = unsafe { kernel::Avx2::new() };
    chunk_terms(&kern, data, beta, stride, js, maxima)
}

/// The checked input of a fit and, once a full pass has found them, every row's maximum.
struct Data<'a, T> {
    z: &'a [T],
    k: usize,
    labels: &'a [i64],
    w: Option<&'a [f64]>,
    /// Each row's maximum, filled by the first pass over every row (empty until then).
    maxima: Vec<f64>,
    /// Passes over the subsample and over every row so far.
    passes: [usize; 2],
}

impl<'a, T: Real> Data<'a, T> {
    fn new(z: &'a [T], k: usize, labels: &'a [i64], w: Option<&'a [f64]>) -> Self {
        Self {
            z,
            k,
            labels,
            w,
            maxima: Vec::new(),
            passes: [0; 2],
        }
    }

    /// The sums of [`row_terms`] (weighted) over the subsample of one row in `stride`
    /// ([`picked_row`]; every row for `stride` = 1), in fixed chunks
    /// added in order (so the result does not depend on the thread count), at `level` (a level
    /// this CPU supports); a row that cannot be fitted makes it an `Err`.
    fn terms_at(&mut self, level: SimdLevel, beta: f64, stride: usize) -> Result<[f64; 4]> {
        let n = self.labels.len();
        let picked = n.div_ceil(stride);
        self.passes[usize::from(stride == 1)] += 1;
        let rows = (CHUNK / self.k).max(1);
        let parts = if stride > 1 {
            crate::parallel::map_range(picked.div_ceil(rows), 1, |c| {
                let js = c * rows..((c + 1) * rows).min(picked);
                chunk_terms_at(level, self, beta, stride, js, Maxima::Find)
            })
        } else if self.maxima.len() == n {
            crate::parallel::map_range(n.div_ceil(rows), 1, |c| {
                let js = c * rows..((c + 1) * rows).min(n);
                let known = Maxima::Known(&self.maxima[js.clone()]);
                chunk_terms_at(level, self, beta, 1, js, known)
            })
        } else {
            let mut maxima = vec![0.0; n];
            let this = &*self;
            let parts = crate::parallel::map_chunks_mut(&mut maxima, rows, |c, keep| {
                let js = c * rows..c * rows + keep.len();
                chunk_terms_at(level, this, beta, 1, js, Maxima::Keep(keep))
            });
            if parts.iter().all(std::result::Result::is_ok) {
                self.maxima = maxima;
            }
            parts
        };
        let mut total = [0.0; 4];
        for p in parts {
            let Ok(p) = p else {
                return Err(first_bad_row(self.z, self.k, self.labels)
                    .unwrap_or_else(|| CredoError::invalid("X", "cannot be fitted")));
            };
            for (t, v) in total.iter_mut().zip(p) {
                *t += v;
            }
        }
        Ok(total)
    }
}

/// Halley's method on t = log β from `t`, within the sign bracket [lo, hi], until a step is
/// below `tol` (relative) or the bracket is narrower than 1e−13; `derivs` gives (L′, L″, L‴).
/// Halley converges cubically: after a step of size δ the error is O(δ³), so `tol` = 1e−5 leaves
/// t (and β, relatively) exact to ~1e−14 without a further pass. Where the Halley denominator is
/// not safely positive the Newton step is taken. A step past a bound of log β not yet looked at
/// goes to that bound (where the loss still falls at the bound, as on separable data, the
/// bound is the answer: one pass instead of forty bisections); any other step that leaves the
/// bracket bisects.
fn halley(mut t: f64, tol: f64, mut derivs: impl FnMut(f64) -> Result<[f64; 3]>) -> Result<f64> {
    let (mut lo, mut hi) = (-LOG_BETA_BOUND, LOG_BETA_BOUND);
    // whether the bracket's end is still the bound itself, not yet evaluated
    let (mut lo_open, mut hi_open) = (true, true);
    for _ in 0..200 {
        let [g, h, h3] = derivs(t)?;
        if g > 0.0 {
            (hi, hi_open) = (t, false);
        } else if g < 0.0 {
            (lo, lo_open) = (t, false);
        } else {
            break;
        }
        let denom = 2.0 * h * h - g * h3;
        let step = if h > 0.0 && denom > h * h {
            t - 2.0 * g * h / denom
        } else {
            t - g / h
        };
        if h > 0.0 && (step - t).abs() <= tol * (1.0 + t.abs()) {
            // converged: taken even where rounding puts the step a hair outside the bracket (at
            // the optimum the step can round to t itself, which is an end of the bracket)
            t = step.clamp(lo, hi);
            break;
        }
        let inside = h > 0.0 && step > lo && step < hi;
        let next = if inside {
            step
        } else if h > 0.0 && step >= hi && hi_open {
            hi
        } else if h > 0.0 && step <= lo && lo_open {
            lo
        } else {
            0.5 * (lo + hi)
        };
        let done = hi - lo <= 1e-13;
        t = next;
        if done {
            break;
        }
    }
    Ok(t)
}

/// Rows from which the first Halley steps run on a subsample (one row in [`SUBSAMPLE`]).
const SUBSAMPLE_FROM: usize = 1 << 15;
const SUBSAMPLE: usize = 16;

/// The `j`-th row of the subsample of one row in `stride` (of `n`): one row from each group of
/// `stride` consecutive rows, at a position that varies from group to group (Fibonacci hashing
/// of `j`), so that no periodic pattern in the rows (say, correct and wrong answers
/// alternating) lines up with the subsample. The identity for `stride` = 1.
#[inline(always)]
fn picked_row(j: usize, stride: usize, n: usize) -> usize {
    if stride == 1 {
        return j;
    }
    let hash = (j as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32; // its top 32 bits
    #[allow(clippy::cast_possible_truncation)]
    let offset = ((hash * stride as u64) >> 32) as usize; // in [0, stride)
    (j * stride + offset).min(n - 1)
}

fn check_common(len: usize, n: usize, k: usize, labels: &[i64], w: Option<&[f64]>) -> Result<()> {
    if n == 0 {
        return Err(CredoError::empty("X", "is empty"));
    }
    if k < 2 {
        return Err(CredoError::shape(
            "X",
            format!("needs at least 2 classes (columns), got {k}"),
        ));
    }
    check_same_len("X", len, n * k)?;
    check_same_len("y", labels.len(), n)?;
    if let Some(i) = labels
        .iter()
        .position(|&v| v < 0 || usize::try_from(v).map_or(true, |v| v >= k))
    {
        return Err(CredoError::invalid(
            "y",
            format!("labels must be in [0, {k}), got {} at index {i}", labels[i]),
        ));
    }
    check_weights(w, n)
}

/// Fits β on logits `z` (row-major `[n, k]`, f32 or f64; −inf entries are masked classes).
pub fn fit_logits<T: Real>(z: &[T], n: usize, k: usize, labels: &[i64], w: Option<&[f64]>) -> Result<TemperatureModel> {
    fit_logits_at(crate::simd::active(), z, n, k, labels, w)
}

/// [`fit_logits`] at `level` (a level this CPU supports).
fn fit_logits_at<T: Real>(
    level: SimdLevel,
    z: &[T],
    n: usize,
    k: usize,
    labels: &[i64],
    w: Option<&[f64]>,
) -> Result<TemperatureModel> {
    check_common(z.len(), n, k, labels, w)?;
    let beta = solve(level, &mut Data::new(z, k, labels, w))?;
    Ok(TemperatureModel { beta })
}

/// The optimal β of checked `data`: on large inputs a start near the optimum from one row in
/// 16, then the full-data steps from it. The subsample's optimum is ~1e-2 from the full
/// data's; a Halley step under 1e-2 leaves the iterate within ~1e-6 of the subsample's
/// optimum, so the looser tolerance there costs nothing (and saves a pass). From that start
/// the first full-data step lands within ~1e-6 of the optimum and the second, under the
/// tolerance 1e-5, finishes: two passes over every row (a start ~3e-2 away still needs
/// only two, which a tolerance of 1e-6 would not always allow).
fn solve<T: Real>(level: SimdLevel, data: &mut Data<'_, T>) -> Result<f64> {
    let large = data.labels.len() >= SUBSAMPLE_FROM;
    let mut derivs = |stride: usize, t: f64| data.terms_at(level, t.exp(), stride).map(|[_, g, h, h3]| [g, h, h3]);
    let start = if large {
        halley(0.0, 1e-2, |t| derivs(SUBSAMPLE, t))?
    } else {
        0.0
    };
    Ok(halley(start, 1e-5, |t| derivs(1, t))?.exp())
}

/// Fits β on probabilities `[n, k]`, taken as logits ln(p + 1e-12).
pub fn fit_probs<T: Real>(p: &[T], n: usize, k: usize, labels: &[i64], w: Option<&[f64]>) -> Result<TemperatureModel> {
    check_common(p.len(), n, k, labels, w)?;
    let z = probs_to_logits(p)?;
    fit_logits(&z, n, k, labels, w)
}

/// [`fit_logits`] (or, with `probabilities`, [`fit_probs`]), also returning the fingerprint of
/// (X, labels, w) (see [`super::combine_fingerprints`]; X as the float64 values it holds, as the
/// Python layer's `data_hash` takes it). X's fingerprint is a serial read of the whole matrix (a
/// fifth of the fit's time on 1e5 × 100 logits when it followed the fit): here it runs as a
/// second task beside the fit, whose parallel passes the other threads go on with meanwhile.
pub fn fit_with_fingerprint<T: Real>(
    x: &[T],
    n: usize,
    k: usize,
    labels: &[i64],
    w: Option<&[f64]>,
    probabilities: bool,
) -> Result<(TemperatureModel, String)> {
    let fit = || {
        if probabilities {
            fit_probs(x, n, k, labels, w)
        } else {
            fit_logits(x, n, k, labels, w)
        }
    };
    let (model, hx) = crate::parallel::join(fit, || super::fingerprint_words(x, |v| v.f64().to_bits()));
    #[allow(clippy::cast_sign_loss)] // the bits of each label, as its bytes
    let hy = super::fingerprint_words(labels, |v| v as u64);
    let hw = w.map(|w| super::fingerprint_words(w, f64::to_bits));
    Ok((model?, super::combine_fingerprints(&[Some(hx), Some(hy), hw])))
}

/// Fits β on binary scores (decision values) f with labels in {0, 1}: logits rows (−f, f).
pub fn fit_binary(f: &[f64], labels: &[i64], w: Option<&[f64]>) -> Result<TemperatureModel> {
    check_finite("X", f)?;
    let z: Vec<f64> = f.iter().flat_map(|&v| [-v, v]).collect();
    fit_logits(&z, f.len(), 2, labels, w)
}

fn probs_to_logits<T: Real>(p: &[T]) -> Result<Vec<f64>> {
    let mut z = vec![0.0; p.len()];
    for (i, (o, v)) in z.iter_mut().zip(p).enumerate() {
        let v = v.f64();
        if !(0.0..=1.0).contains(&v) {
            return Err(CredoError::invalid(
                "X",
                format!("probabilities must lie in [0, 1], got {v} at index {i}"),
            ));
        }
        *o = (v + PROB_EPS).ln();
    }
    Ok(z)
}

/// Makes sure `np.argmax` of a calibrated row is the argmax of its input row: β > 0 keeps the
/// order of the logits, but two close values can round to the same probability, and a tie would
/// move `argmax` to an earlier column. Nudging the top entry up by one ulp settles it.
#[inline]
fn keep_argmax(out: &mut [f64], top: usize) {
    if out[..top].iter().any(|&v| v >= out[top]) {
        let v = out[..top].iter().fold(out[top], |m, &v| m.max(v));
        out[top] = f64::from_bits(v.to_bits() + 1);
    }
}

fn first_argmax(row: impl Iterator<Item = f64>) -> usize {
    let mut best = (0, f64::NEG_INFINITY);
    for (j, v) in row.enumerate() {
        if v > best.1 {
            best = (j, v);
        }
    }
    best.0
}

impl TemperatureModel {
    pub fn new(beta: f64) -> Result<Self> {
        if !(beta.is_finite() && beta > 0.0) {
            return Err(CredoError::invalid(
                "beta",
                format!("the inverse temperature must be positive and finite, got {beta}"),
            ));
        }
        Ok(Self { beta })
    }

    #[must_use]
    pub fn temperature(&self) -> f64 {
        1.0 / self.beta
    }

    fn softmax_rows(
        &self,
        n: usize,
        k: usize,
        row: impl Fn(usize, &mut [f64]) -> Result<usize> + Sync,
    ) -> Result<Vec<f64>> {
        let mut out = vec![0.0; n * k];
        let rows = (CHUNK / k).max(1);
        // Every block's result is kept so the error reported is the first row's, whatever the
        // thread count.
        let blocks = crate::parallel::map_chunks_mut(&mut out, rows * k, |c, block| {
            for (r, o) in block.chunks_mut(k).enumerate() {
                let top = row(c * rows + r, o)?;
                let m = o[top];
                let mut s = 0.0;
                for v in o.iter_mut() {
                    *v = (self.beta * (*v - m)).exp();
                    s += *v;
                }
                o.iter_mut().for_each(|v| *v /= s);
                keep_argmax(o, top);
            }
            Ok(())
        });
        blocks.into_iter().collect::<Result<()>>()?;
        Ok(out)
    }

    /// softmax(β·z) for logits `[n, k]`.
    pub fn predict_logits<T: Real>(&self, z: &[T], n: usize, k: usize) -> Result<Vec<f64>> {
        if k == 0 {
            return Err(CredoError::shape("X", "has no columns"));
        }
        check_same_len("X", z.len(), n * k)?;
        self.softmax_rows(n, k, |i, o| {
            for (j, (o, v)) in o.iter_mut().zip(&z[i * k..(i + 1) * k]).enumerate() {
                *o = v.f64();
                if o.is_nan() || *o == f64::INFINITY {
                    return Err(CredoError::non_finite(
                        "X",
                        format!("non-finite logit {o} at row {i}, column {j}"),
                    ));
                }
            }
            let top = first_argmax(o.iter().copied());
            if o[top] == f64::NEG_INFINITY {
                return Err(CredoError::non_finite("X", format!("row {i} has no finite logit")));
            }
            Ok(top)
        })
    }

    /// softmax(β·ln(p + 1e-12)) for probabilities `[n, k]`.
    pub fn predict_probs<T: Real>(&self, p: &[T], n: usize, k: usize) -> Result<Vec<f64>> {
        if k == 0 {
            return Err(CredoError::shape("X", "has no columns"));
        }
        check_same_len("X", p.len(), n * k)?;
        self.softmax_rows(n, k, |i, o| {
            let row = &p[i * k..(i + 1) * k];
            for (j, (o, v)) in o.iter_mut().zip(row).enumerate() {
                let v = v.f64();
                if !(0.0..=1.0).contains(&v) {
                    return Err(CredoError::invalid(
                        "X",
                        format!("probabilities must lie in [0, 1], got {v} at row {i}, column {j}"),
                    ));
                }
                *o = (v + PROB_EPS).ln();
            }
            Ok(first_argmax(row.iter().map(|v| v.f64())))
        })
    }

    /// P(y = 1) = σ(2β·f) for one binary score.
    pub fn predict_one_binary(&self, f: f64) -> Result<f64> {
        if f.is_nan() {
            return Err(CredoError::non_finite("X", "NaN input"));
        }
        Ok(sigmoid(2.0 * self.beta * f))
    }

    pub fn predict_binary(&self, f: &[f64]) -> Result<Vec<f64>> {
        if let Some(i) = f.iter().position(|v| v.is_nan()) {
            return Err(CredoError::non_finite("X", format!("NaN at index {i}")));
        }
        let mut out = vec![0.0; f.len()];
        crate::parallel::for_each_chunk_mut(&mut out, CHUNK, |c, o| {
            let f = &f[c * CHUNK..c * CHUNK + o.len()];
            for (o, &v) in o.iter_mut().zip(f) {
                *o = sigmoid(2.0 * self.beta * v);
            }
        });
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, k: usize, t_true: f64, seed: u64) -> (Vec<f64>, Vec<i64>) {
        let mut s = seed;
        let mut u = || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        let mut z = Vec::with_capacity(n * k);
        let mut y = Vec::with_capacity(n);
        for _ in 0..n {
            let row: Vec<f64> = (0..k)
                .map(|_| 3.0 * (-2.0 * u().ln()).sqrt() * (std::f64::consts::TAU * u()).cos())
                .collect();
            let m = row.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
            let e: Vec<f64> = row.iter().map(|v| ((v - m) / t_true).exp()).collect();
            let tot: f64 = e.iter().sum();
            let mut r = u() * tot;
            let mut lab = k - 1;
            for (j, v) in e.iter().enumerate() {
                if r < *v {
                    lab = j;
                    break;
                }
                r -= v;
            }
            y.push(lab as i64);
            z.extend(row);
        }
        (z, y)
    }

    #[test]
    fn recovers_the_generating_temperature() {
        // docs/definitions/calibrators.md#temperature-scaling recipe: logits ~ N(0, 9), K = 10, labels sampled at T = 2 → β ≈ 0.5.
        let (z, y) = data(20_000, 10, 2.0, 1);
        let m = fit_logits(&z, 20_000, 10, &y, None).unwrap();
        assert!((m.beta - 0.5).abs() < 0.03, "{m:?}");
        // The derivative vanishes at the optimum.
        let [_, g, h, _] = Data::new(&z, 10, &y, None)
            .terms_at(crate::simd::active(), m.beta, 1)
            .unwrap();
        assert!(g.abs() / h < 1e-10);
        // float32 input gives the optimum of the float32 data (not T = 1).
        let z32: Vec<f32> = z.iter().map(|&v| v as f32).collect();
        let m32 = fit_logits(&z32, 20_000, 10, &y, None).unwrap();
        assert!((m32.beta - m.beta).abs() < 1e-5);
        // Thread count does not change a bit.
        let one = crate::parallel::with_threads(Some(1), || fit_logits(&z, 20_000, 10, &y, None))
            .unwrap()
            .unwrap();
        let two = crate::parallel::with_threads(Some(2), || fit_logits(&z, 20_000, 10, &y, None))
            .unwrap()
            .unwrap();
        assert_eq!(one.beta.to_bits(), two.beta.to_bits());
    }

    #[test]
    fn the_fit_fingerprint_is_that_of_the_bytes() {
        use crate::calibrate::{combine_fingerprints, fingerprint};
        fn bytes(words: impl Iterator<Item = [u8; 8]>) -> Vec<u8> {
            words.flatten().collect()
        }
        // 1001 rows of 3: a length with a byte tail in the hash
        let (z, y) = data(1001, 3, 2.0, 7);
        let w: Vec<f64> = (0..1001).map(|i| 0.5 + f64::from(i % 7)).collect();
        let (hz, hy) = (
            fingerprint(&bytes(z.iter().map(|v| v.to_le_bytes()))),
            fingerprint(&bytes(y.iter().map(|v| v.to_le_bytes()))),
        );
        let hw = fingerprint(&bytes(w.iter().map(|v| v.to_le_bytes())));
        for (weights, want) in [
            (None, combine_fingerprints(&[Some(hz), Some(hy)])),
            (Some(&w[..]), combine_fingerprints(&[Some(hz), Some(hy), Some(hw)])),
        ] {
            let (m, hash) = fit_with_fingerprint(&z, 1001, 3, &y, weights, false).unwrap();
            assert_eq!(hash, want);
            assert_eq!(m, fit_logits(&z, 1001, 3, &y, weights).unwrap());
            // float32 input: the fingerprint of the float64 values it holds
            let z32: Vec<f32> = z.iter().map(|&v| v as f32).collect();
            let wide: Vec<f64> = z32.iter().map(|&v| f64::from(v)).collect();
            let (_, h32) = fit_with_fingerprint(&z32, 1001, 3, &y, weights, false).unwrap();
            assert_eq!(h32, fit_with_fingerprint(&wide, 1001, 3, &y, weights, false).unwrap().1);
        }
        // a bad row is still refused, whatever the fingerprint did
        let mut bad = z.clone();
        bad[5] = f64::NAN;
        assert!(fit_with_fingerprint(&bad, 1001, 3, &y, None, false).is_err());
    }

    /// The loss and derivatives in t = log β, each term with `f64::exp` (the reference).
    fn reference_terms(z: &[f64], k: usize, y: &[i64], beta: f64) -> [f64; 4] {
        let mut acc = [0.0; 4];
        for (row, &label) in z.chunks(k).zip(y) {
            let m = row.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
            let x: Vec<f64> = row.iter().map(|v| beta * (v - m)).collect();
            let e: Vec<f64> = x.iter().map(|v| v.exp()).collect();
            let s0: f64 = e.iter().sum();
            let moment = |c: f64, p: i32| {
                e.iter()
                    .zip(&x)
                    .filter(|(_, x)| x.is_finite())
                    .map(|(e, x)| e * (x - c).powi(p))
                    .sum::<f64>()
                    / s0
            };
            let mean = moment(0.0, 1);
            let (k2, k3) = (moment(mean, 2), moment(mean, 3));
            let g = mean - x[label as usize];
            acc[0] += s0.ln() - x[label as usize];
            acc[1] += g;
            acc[2] += g + k2;
            acc[3] += g + 3.0 * k2 + k3;
        }
        acc
    }

    #[test]
    fn the_fused_pass_matches_the_reference_sums_at_every_level() {
        let (mut z, y) = data(3000, 13, 1.5, 4);
        z[5 * 13 + 2] = f64::NEG_INFINITY; // a masked class
        for beta in [(-10f64).exp(), 0.3, 1.0, 7.0, 10f64.exp()] {
            let want = reference_terms(&z, 13, &y, beta);
            for level in crate::simd::supported_levels() {
                // the first full pass finds and keeps each row's maximum, the second reads them
                let mut data = Data::new(&z, 13, &y, None);
                let first = data.terms_at(level, beta, 1).unwrap();
                assert_eq!(data.maxima.len(), 3000);
                let second = data.terms_at(level, beta, 1).unwrap();
                assert_eq!(first, second, "{level:?}");
                for (g, w) in first.iter().zip(want) {
                    assert!(
                        (g - w).abs() <= 1e-12 * (1.0 + w.abs()),
                        "{level:?} beta {beta}: {first:?} vs {want:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_subsampled_start_reaches_the_cold_start_optimum() {
        let n = SUBSAMPLE_FROM + 1000;
        let level = crate::simd::active();
        let (z, mut y) = data(n, 6, 0.7, 5);
        for aliased in [false, true] {
            if aliased {
                // every other row answered right: a subsample of every 16th row would see only
                // right answers (optimum at the bound); the hashed pick sees both
                for (i, row) in z.chunks(6).enumerate().step_by(2) {
                    y[i] = first_argmax(row.iter().copied()) as i64;
                }
            }
            let mut fit = Data::new(&z, 6, &y, None);
            let fitted = solve(level, &mut fit).unwrap().ln();
            let mut cold = Data::new(&z, 6, &y, None);
            let want = halley(0.0, 1e-5, |t| {
                cold.terms_at(level, t.exp(), 1).map(|[_, g, h, h3]| [g, h, h3])
            })
            .unwrap();
            assert!((fitted - want).abs() < 1e-12, "{fitted} vs {want}");
            // a few passes over the subsample, then two or three over every row (no more than
            // the cold start's)
            assert!(fit.passes[0] <= 5 && fit.passes[1] <= 3, "{:?}", fit.passes);
            assert!(fit.passes[1] <= cold.passes[1], "{:?} vs {:?}", fit.passes, cold.passes);
        }
        // a bad row outside the subsample is still found, and named as the first bad row
        let mut bad = z.clone();
        let outside = (0..n).find(|&i| i != picked_row(i / SUBSAMPLE, SUBSAMPLE, n)).unwrap();
        let inside = picked_row(3, SUBSAMPLE, n);
        assert!(inside > outside);
        bad[outside * 6 + 3] = f64::NAN;
        bad[inside * 6] = f64::NAN;
        let e = fit_logits(&bad, n, 6, &y, None).unwrap_err().to_string();
        assert!(e.contains(&format!("row {outside}, column 3")), "{e}");
    }

    #[test]
    fn subsample_rows_are_one_per_group() {
        for n in [SUBSAMPLE_FROM, SUBSAMPLE_FROM + 5] {
            let rows: Vec<usize> = (0..n.div_ceil(SUBSAMPLE))
                .map(|j| picked_row(j, SUBSAMPLE, n))
                .collect();
            assert!(rows.iter().enumerate().all(|(j, &i)| i / SUBSAMPLE == j && i < n));
            // every offset within a group occurs, about equally often
            let mut seen = [0usize; SUBSAMPLE];
            rows.iter().for_each(|&i| seen[i % SUBSAMPLE] += 1);
            assert!(seen.iter().all(|&c| c > rows.len() / SUBSAMPLE / 2), "{seen:?}");
        }
    }

    #[test]
    fn separable_data_stops_at_the_bound() {
        // every label the row's argmax: the loss falls all the way to the bound of log beta
        let (z, _) = data(5000, 4, 1.0, 8);
        let y: Vec<i64> = z.chunks(4).map(|r| first_argmax(r.iter().copied()) as i64).collect();
        let mut d = Data::new(&z, 4, &y, None);
        let beta = solve(crate::simd::active(), &mut d).unwrap();
        assert_eq!(beta, LOG_BETA_BOUND.exp());
        assert!(d.passes[1] <= 10, "{:?}", d.passes);
    }

    #[test]
    fn float32_input_is_widened_exactly() {
        // float32 rows give the fit of the same values as float64, bit for bit, on both paths
        // (small: every row every pass; large: the subsampled start, then the kept maxima)
        for n in [3000, SUBSAMPLE_FROM + 77] {
            let (z, y) = data(n, 11, 1.3, 6);
            let z32: Vec<f32> = z.iter().map(|&v| v as f32).collect();
            let back: Vec<f64> = z32.iter().map(|&v| f64::from(v)).collect();
            let a = fit_logits(&z32, n, 11, &y, None).unwrap();
            let b = fit_logits(&back, n, 11, &y, None).unwrap();
            assert_eq!(a.beta.to_bits(), b.beta.to_bits(), "n {n}");
        }
    }

    #[test]
    fn large_fits_agree_across_threads_and_instruction_sets() {
        let n = SUBSAMPLE_FROM + 3001;
        let (z, y) = data(n, 37, 0.8, 7);
        let w: Vec<f64> = (0..n).map(|i| 0.5 + (i % 7) as f64 / 7.0).collect();
        let fit = |threads| {
            crate::parallel::with_threads(Some(threads), || fit_logits(&z, n, 37, &y, Some(&w)))
                .unwrap()
                .unwrap()
        };
        let one = fit(1);
        assert_eq!(one.beta.to_bits(), fit(2).beta.to_bits());
        assert_eq!(one.beta.to_bits(), fit(3).beta.to_bits());
        // each SIMD level (and the portable kernel) reaches the same optimum to rounding
        let scalar = fit_logits_at(SimdLevel::Scalar, &z, n, 37, &y, Some(&w)).unwrap();
        for level in crate::simd::supported_levels() {
            let got = fit_logits_at(level, &z, n, 37, &y, Some(&w)).unwrap();
            assert!(
                (got.beta / scalar.beta - 1.0).abs() < 1e-12,
                "{level:?}: {got:?} vs {scalar:?}"
            );
        }
    }

    #[test]
    fn predictions_are_distributions_with_the_same_argmax() {
        let (z, _) = data(500, 7, 1.0, 2);
        let m = TemperatureModel::new(0.37).unwrap();
        let p = m.predict_logits(&z, 500, 7).unwrap();
        for (zr, pr) in z.chunks(7).zip(p.chunks(7)) {
            assert!((pr.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            assert_eq!(first_argmax(zr.iter().copied()), first_argmax(pr.iter().copied()));
        }
        // Two logits one ulp apart stay ordered even at a tiny β.
        let tiny = TemperatureModel::new((-10f64).exp()).unwrap();
        let row = [1.0, f64::from_bits(1f64.to_bits() + 1)];
        let p = tiny.predict_logits(&row, 1, 2).unwrap();
        assert_eq!(first_argmax(p.iter().copied()), 1);
    }

    #[test]
    fn masked_classes_and_bad_input() {
        let z = [0.0, f64::NEG_INFINITY, 1.0, 2.0, 0.5, f64::NEG_INFINITY];
        let m = fit_logits(&z, 2, 3, &[0, 1], None).unwrap();
        assert!(m.beta > 0.0);
        let p = m.predict_logits(&z, 2, 3).unwrap();
        assert_eq!(p[1], 0.0);
        // The -inf is X's value: the error names X (and says which label made it fatal).
        let masked = fit_logits(&z, 2, 3, &[1, 1], None).unwrap_err().to_string();
        assert!(masked.starts_with("X: row 0 "), "{masked}");
        assert!(fit_logits(&[0.0, f64::NAN], 1, 2, &[0], None).is_err());
        assert!(fit_logits(&[0.0, 1.0], 1, 2, &[2], None).is_err());
        assert!(fit_logits(&[0.0, 1.0], 1, 1, &[0], None).is_err());
        assert!(fit_probs(&[0.5, 1.5], 1, 2, &[0], None).is_err());
        assert!(TemperatureModel::new(0.0).is_err());
    }

    #[test]
    fn binary_scores_are_two_class_logits() {
        let f = [-2.0, -1.0, -0.5, 0.3, 0.8, 1.5, 2.5, -0.2];
        let y = [0, 0, 1, 0, 1, 1, 1, 0];
        let m = fit_binary(&f, &y, None).unwrap();
        let z: Vec<f64> = f.iter().flat_map(|&v| [-v, v]).collect();
        let m2 = fit_logits(&z, 8, 2, &y, None).unwrap();
        assert_eq!(m.beta, m2.beta);
        let p = m.predict_binary(&f).unwrap();
        let q = m.predict_logits(&z, 8, 2).unwrap();
        for i in 0..8 {
            assert!((p[i] - q[2 * i + 1]).abs() < 1e-14);
        }
    }
}
