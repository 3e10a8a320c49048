# Hand-written stub of the native module credo._credo (checked by `make stubtest`).
# Each section belongs to one Rust binding file in rust/credo-py/src/.
# One style: arrays are npt.NDArray[<dtype>] (NDArray[Any] where several dtypes are taken),
# X | None for optional values, builtin generics (list, dict, tuple), classes @final.

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, TypeAlias, final

import numpy as np
import numpy.typing as npt
from typing_extensions import Self, disjoint_base

from credo.policy import Decision

__version__: str

class CredoError(ValueError): ...
class InvalidArgumentError(CredoError): ...
class NonFiniteError(CredoError): ...
class ShapeError(CredoError): ...
class EmptyInputError(CredoError): ...
class ArtifactError(CredoError): ...

def _panic_for_tests() -> None: ...  # raises CredoError: checks the binding turns panics into errors

# --- signals.rs ---

@final
class TokenSignals:
    @property
    def logsumexp(self) -> npt.NDArray[np.float64]: ...
    @property
    def entropy(self) -> npt.NDArray[np.float64]: ...
    @property
    def max_logprob(self) -> npt.NDArray[np.float64]: ...
    @property
    def argmax(self) -> npt.NDArray[np.int64]: ...
    @property
    def margin_logit(self) -> npt.NDArray[np.float64]: ...
    @property
    def margin_prob(self) -> npt.NDArray[np.float64]: ...
    @property
    def chosen_logprob(self) -> npt.NDArray[np.float64] | None: ...
    @property
    def chosen_rank(self) -> npt.NDArray[np.int64] | None: ...
    @property
    def simd(self) -> str: ...

@final
class SequenceSignals:
    @property
    def n_tokens(self) -> npt.NDArray[np.int64]: ...
    @property
    def mean_entropy(self) -> npt.NDArray[np.float64]: ...
    @property
    def max_entropy(self) -> npt.NDArray[np.float64]: ...
    @property
    def sum_logprob(self) -> npt.NDArray[np.float64]: ...
    @property
    def mean_logprob(self) -> npt.NDArray[np.float64]: ...
    @property
    def min_logprob(self) -> npt.NDArray[np.float64]: ...
    @property
    def perplexity(self) -> npt.NDArray[np.float64]: ...
    @property
    def mean_margin(self) -> npt.NDArray[np.float64]: ...
    @property
    def min_margin(self) -> npt.NDArray[np.float64]: ...
    @property
    def repeated_ngram_fraction(self) -> npt.NDArray[np.float64]: ...
    @property
    def longest_repeat_run(self) -> npt.NDArray[np.int64]: ...

@final
class TopkSignals:
    @property
    def n_valid(self) -> npt.NDArray[np.int64]: ...
    @property
    def tail_mass(self) -> npt.NDArray[np.float64]: ...
    @property
    def entropy(self) -> npt.NDArray[np.float64]: ...
    @property
    def entropy_lower(self) -> npt.NDArray[np.float64]: ...
    @property
    def entropy_upper(self) -> npt.NDArray[np.float64]: ...
    @property
    def negentropy(self) -> npt.NDArray[np.float64]: ...
    @property
    def max_logprob(self) -> npt.NDArray[np.float64]: ...
    @property
    def margin_prob(self) -> npt.NDArray[np.float64]: ...
    @property
    def chosen_logprob(self) -> npt.NDArray[np.float64] | None: ...
    @property
    def chosen_rank(self) -> npt.NDArray[np.int64] | None: ...

def token_signals(
    logits: npt.NDArray[Any],
    dtype: str,
    batch: int | None,
    seq: int,
    vocab: int,
    chosen: npt.NDArray[Any] | None = None,
    temperature: float = 1.0,
    threads: int | None = None,
    simd: str | None = None,
    invalid: str = ...,
) -> TokenSignals: ...
def sequence_signals(
    batch: int,
    seq: int,
    entropy: npt.NDArray[Any],
    margin_prob: npt.NDArray[Any],
    chosen_logprob: npt.NDArray[Any] | None = None,
    chosen: npt.NDArray[Any] | None = None,
    lengths: npt.NDArray[Any] | None = None,
    mask: npt.NDArray[Any] | None = None,
    drop_last: bool = False,
    ngram: int = 3,
) -> SequenceSignals: ...
def topk_signals(
    top_logprobs: npt.NDArray[Any],
    chosen_logprob: npt.NDArray[Any] | None = None,
    policy: str = ...,
    vocab_size: int | None = None,
    k: int | None = None,
    sentinel: float = ...,
) -> TopkSignals: ...
def topk_summary(
    top_logprobs: npt.NDArray[Any],
    chosen_logprob: npt.NDArray[Any] | None = None,
    policy: str = ...,
    vocab_size: int | None = None,
    k: int | None = None,
    sentinel: float = ...,
) -> tuple[int, float, float, float, float, float, float, float, float, float, float, float, float]: ...
def topk_summary_batch(
    tops: list[npt.NDArray[Any]],
    chosen: list[npt.NDArray[Any]] | None = None,
    policy: str = ...,
    vocab_size: int | None = None,
    k: int | None = None,
    sentinel: float = ...,
    threads: int | None = None,
) -> npt.NDArray[Any]: ...
def simd_level() -> str: ...
def simd_levels() -> list[str]: ...

# --- calibrate.rs ---
# (imports sit in this section so the sections stay independent)

@final
class IsotonicModel:
    def __new__(
        cls, x_thresholds: list[float], y_thresholds: list[float], increasing: bool, out_of_bounds: str
    ) -> Self: ...
    def predict_one(self, x: float) -> float: ...
    def __call__(self, x: float) -> float: ...
    def predict(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]: ...
    @property
    def x_thresholds(self) -> npt.NDArray[np.float64]: ...
    @property
    def y_thresholds(self) -> npt.NDArray[np.float64]: ...
    @property
    def increasing(self) -> bool: ...
    @property
    def out_of_bounds(self) -> str: ...

@final
class PlattModel:
    def __new__(cls, a: float, b: float, logit_input: bool = False) -> Self: ...
    def predict_one(self, x: float) -> float: ...
    def __call__(self, x: float) -> float: ...
    def predict(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]: ...
    @property
    def a(self) -> float: ...
    @property
    def b(self) -> float: ...
    @property
    def logit_input(self) -> bool: ...

@final
class BetaModel:
    def __new__(cls, a: float, b: float, c: float) -> Self: ...
    def predict_one(self, x: float) -> float: ...
    def __call__(self, x: float) -> float: ...
    def predict(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]: ...
    @property
    def a(self) -> float: ...
    @property
    def b(self) -> float: ...
    @property
    def c(self) -> float: ...
    @property
    def midpoint(self) -> float | None: ...

@final
class HistogramModel:
    def __new__(cls, edges: list[float], values: list[float], counts: list[float]) -> Self: ...
    def predict_one(self, x: float) -> float: ...
    def __call__(self, x: float) -> float: ...
    def predict(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]: ...
    @property
    def edges(self) -> npt.NDArray[np.float64]: ...
    @property
    def values(self) -> npt.NDArray[np.float64]: ...
    @property
    def counts(self) -> npt.NDArray[np.float64]: ...

@final
class TemperatureModel:
    def __new__(cls, beta: float) -> Self: ...
    def predict_one(self, x: float) -> float: ...
    def __call__(self, x: float) -> float: ...
    def predict_binary(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]: ...
    def predict(
        self,
        x: npt.NDArray[np.float64] | npt.NDArray[np.float32],
        *,
        probabilities: bool = False,
        threads: int | None = None,
    ) -> npt.NDArray[np.float64]: ...
    @property
    def beta(self) -> float: ...

@final
class IsotonicFit:
    @property
    def model(self) -> IsotonicModel: ...
    @property
    def data_hash(self) -> str: ...

def fit_isotonic(
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    sample_weight: npt.NDArray[np.float64] | None = None,
    *,
    increasing: str = ...,
    y_min: float | None = None,
    y_max: float | None = None,
    out_of_bounds: str = ...,
    resolution: float = 1e-15,
) -> IsotonicFit: ...
def spearman_rho(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> float: ...
def isotonic_regression(
    y: npt.NDArray[np.float64],
    sample_weight: npt.NDArray[np.float64] | None = None,
    *,
    increasing: bool = True,
) -> npt.NDArray[np.float64]: ...
def fit_platt(
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    sample_weight: npt.NDArray[np.float64] | None = None,
    *,
    logit_input: bool = False,
) -> PlattModel: ...
def fit_beta(
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    sample_weight: npt.NDArray[np.float64] | None = None,
) -> BetaModel: ...
def fit_histogram(
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    sample_weight: npt.NDArray[np.float64] | None = None,
    *,
    n_bins: int = 10,
    strategy: str = ...,
) -> HistogramModel: ...

@final
class TemperatureFit:
    @property
    def model(self) -> TemperatureModel: ...
    @property
    def data_hash(self) -> str: ...

def fit_temperature(
    x: npt.NDArray[np.float64] | npt.NDArray[np.float32],
    y: npt.NDArray[np.int64],
    sample_weight: npt.NDArray[np.float64] | None = None,
    *,
    probabilities: bool = False,
    threads: int | None = None,
) -> TemperatureFit: ...
def fit_temperature_binary(
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.int64],
    sample_weight: npt.NDArray[np.float64] | None = None,
) -> TemperatureModel: ...

@final
class TopProbability:
    @property
    def confidence(self) -> npt.NDArray[np.float64]: ...
    @property
    def index(self) -> npt.NDArray[np.int64]: ...

def top_probability(p: npt.NDArray[np.float64]) -> TopProbability: ...
def rescale_top_label(p: npt.NDArray[np.float64], confidence: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]: ...
def normalize_one_vs_rest(p: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]: ...
def fingerprint(data: npt.NDArray[np.uint8]) -> str: ...
def fingerprint_f32(data: npt.NDArray[np.float32]) -> str: ...

# --- conformal.rs ---

def conformal_rank(n: int, alpha: float, mode: str) -> int: ...
def min_calibration_size(alpha: float, mode: str) -> int: ...
def conformal_quantile(scores: npt.NDArray[np.float64], alpha: float, mode: str, raise_if_infinite: bool) -> float: ...

@final
class PValues:
    def __new__(cls, scores: npt.NDArray[np.float64]) -> Self: ...
    def p_value(self, score: float) -> float: ...
    def p_value_smoothed(self, score: float, theta: float) -> float: ...
    def p_values(self, scores: npt.NDArray[np.float64], seed: int | None = None) -> npt.NDArray[np.float64]: ...
    def sorted(self) -> npt.NDArray[np.float64]: ...
    @property
    def n(self) -> int: ...

def class_scores(
    probs: npt.NDArray[np.float64] | npt.NDArray[np.float32],
    labels: npt.NDArray[np.integer[Any]],
    score: str,
    randomized: bool,
    raps_lambda: float,
    raps_k_reg: int,
    seed: int,
) -> npt.NDArray[np.float64]: ...
def predict_sets(
    probs: npt.NDArray[np.float64] | npt.NDArray[np.float32],
    score: str,
    include_last_label: str,
    raps_lambda: float,
    raps_k_reg: int,
    seed: int,
    q_single: float | None = None,
    q_class: npt.NDArray[np.float64] | None = None,
    q_row: npt.NDArray[np.float64] | None = None,
    threads: int | None = None,
) -> npt.NDArray[np.bool_]: ...
def hb_p_value(r_hat: float, n: int, alpha: float, binary: bool = False) -> float: ...
def risk_p_value(errors: int, n: int, alpha: float, kind: str) -> float: ...
def risk_upper_bound(errors: int, n: int, delta: float, kind: str) -> float: ...
def sgr_bound(errors: int, m: int, delta: float) -> float: ...
def crc_r_hat_plus(r_hat: float, n: int, b: float = 1.0) -> float: ...
def rcps_upper_bound(losses: npt.NDArray[np.float64], delta: float, bound: str) -> float: ...

@final
class Selection:
    @property
    def threshold(self) -> float: ...
    @property
    def feasible(self) -> bool: ...
    @property
    def risk_bound(self) -> float: ...
    @property
    def coverage(self) -> float: ...
    @property
    def empirical_risk(self) -> float: ...
    @property
    def n_answered(self) -> int: ...
    @property
    def n_errors(self) -> int: ...

def selective_fit(
    confidence: npt.NDArray[np.float64],
    correct: npt.NDArray[np.bool_],
    target_risk: float,
    delta: float,
    method: str,
    p_value: str = ...,
    fwer: str = ...,
    grid: int = 50,
) -> Selection: ...
def clm_set_scores(scores: npt.NDArray[np.float64], kind: str) -> npt.NDArray[np.float64]: ...
def clm_stop_index(set_scores: npt.NDArray[np.float64], lam: float) -> npt.NDArray[np.uint64]: ...
def clm_pareto_front(loss: npt.NDArray[np.float64], cost: npt.NDArray[np.float64]) -> npt.NDArray[np.uint64]: ...
def clm_p_value(loss: float, n: int, epsilon: float) -> float: ...
def clm_select(
    loss: npt.NDArray[np.float64], order: npt.NDArray[np.uint64], n: int, epsilon: float, delta: float
) -> int | None: ...

@final
class ClaimThreshold:
    @property
    def threshold(self) -> float: ...
    @property
    def scores(self) -> npt.NDArray[np.float64]: ...

def claim_threshold(
    scores: npt.NDArray[np.float64],
    correct: npt.NDArray[np.bool_],
    offsets: npt.NDArray[np.uint64],
    alpha: float,
    mode: str,
) -> ClaimThreshold: ...

# --- agree.rs ---

def agree_normalize(
    text: str,
    unicode: bool = True,
    lowercase: bool = True,
    punctuation: bool = True,
    articles: bool = True,
    whitespace: bool = True,
    numbers: bool = True,
) -> str: ...

@final
class AgreementColumns:
    _fields: ClassVar[list[str]]
    @property
    def offsets(self) -> npt.NDArray[np.int64]: ...
    @property
    def labels(self) -> npt.NDArray[np.int64]: ...
    @property
    def sizes(self) -> npt.NDArray[np.int64]: ...
    @property
    def cluster_probs(self) -> npt.NDArray[np.float64]: ...
    @property
    def n_clusters(self) -> npt.NDArray[np.int64]: ...
    @property
    def majority(self) -> npt.NDArray[np.int64]: ...
    @property
    def majority_index(self) -> npt.NDArray[np.int64]: ...
    @property
    def agreement(self) -> npt.NDArray[np.float64]: ...
    @property
    def se_discrete(self) -> npt.NDArray[np.float64]: ...
    @property
    def se_farquhar(self) -> npt.NDArray[np.float64]: ...
    @property
    def se_kuhn(self) -> npt.NDArray[np.float64]: ...
    @property
    def se_lm_polygraph(self) -> npt.NDArray[np.float64]: ...
    @property
    def eigval_laplacian(self) -> npt.NDArray[np.float64]: ...
    @property
    def degree(self) -> npt.NDArray[np.float64]: ...

def agree_batch(
    questions: list[Any],
    method: str,
    threshold: float,
    clustering: str,
    flags: tuple[bool, bool, bool, bool, bool, bool],
    lp_values: npt.NDArray[Any] | None = None,
    lp_offsets: npt.NDArray[Any] | None = None,
    embeddings: npt.NDArray[Any] | None = None,
    matrices: npt.NDArray[Any] | None = None,
    spectral: bool = False,
    threads: int | None = None,
    single: bool = False,
) -> AgreementColumns: ...
def agree_questions(questions: list[Any]) -> list[Any]: ...
def agree_callable(
    answers: list[Any],
    equivalent: Callable[[str, str], object],
    clustering: str,
    lp_values: npt.NDArray[Any] | None = None,
    lp_offsets: npt.NDArray[Any] | None = None,
) -> AgreementColumns: ...

@final
class Spectral:
    @property
    def eigval_laplacian(self) -> float: ...
    @property
    def degree(self) -> float: ...

def agree_spectral(similarity: npt.NDArray[Any]) -> Spectral: ...

@final
class StopDecision:
    @property
    def stop(self) -> bool: ...
    @property
    def statistic(self) -> float: ...

def agree_stopping_decide(
    rule: str, threshold: float, counts: npt.NDArray[Any], min_samples: int, max_samples: int
) -> StopDecision: ...
def agree_stopping_default_threshold(rule: str) -> float: ...

# --- metrics.rs ---

_F: TypeAlias = npt.NDArray[np.float64]
_I: TypeAlias = npt.NDArray[np.int64]

@final
class TopLabel:
    @property
    def confidence(self) -> _F: ...
    @property
    def accuracy(self) -> _F: ...

def top_label(probs: _F, labels: _I) -> TopLabel: ...
def ece(
    conf: _F,
    y: _F,
    weights: _F | None = None,
    *,
    n_bins: int = 15,
    convention: str = ...,
    strategy: str = ...,
    norm: str = ...,
    bin_weighted: bool = True,
    threads: int | None = None,
) -> float: ...

@final
class Reliability:
    @property
    def weight(self) -> _F: ...
    @property
    def count(self) -> _F: ...
    @property
    def conf_sum(self) -> _F: ...
    @property
    def acc_sum(self) -> _F: ...
    @property
    def edges(self) -> _F: ...

def reliability(
    conf: _F,
    y: _F,
    weights: _F | None = None,
    *,
    n_bins: int = 15,
    convention: str = ...,
    strategy: str = ...,
) -> Reliability: ...
def ece_classwise(
    probs: _F,
    labels: _I,
    weights: _F | None = None,
    *,
    n_bins: int = 15,
    convention: str = ...,
    strategy: str = ...,
    norm: str = ...,
    bin_weighted: bool = True,
    threads: int | None = None,
) -> float: ...
def ece_canonical(
    probs: _F,
    labels: _I,
    weights: _F | None = None,
    *,
    n_bins: int = 10,
    distance: str = ...,
) -> float: ...

@final
class SmoothEce:
    @property
    def value(self) -> float: ...
    @property
    def sigma(self) -> float: ...

def smooth_ece(conf: _F, y: _F, weights: _F | None = None, *, sigma: float | None = None) -> SmoothEce: ...
def binary_score(kind: str, p: _F, y: _F, weights: _F | None = None) -> float: ...
def multiclass_score(kind: str, probs: _F, labels: _I, weights: _F | None = None) -> float: ...
def ranking_metric(kind: str, scores: _F, y: _F, weights: _F | None = None, *, convention: str = ...) -> float: ...

@final
class RiskCoverageCurve:
    @property
    def thresholds(self) -> _F: ...
    @property
    def coverage(self) -> _F: ...
    @property
    def risk(self) -> _F: ...
    @property
    def generalized_risk(self) -> _F: ...

@final
class OperatingPoint:
    @property
    def risk(self) -> float: ...
    @property
    def coverage(self) -> float: ...
    @property
    def threshold(self) -> float: ...

def risk_coverage(scores: _F, y: _F, weights: _F | None = None) -> RiskCoverageCurve: ...
def selective_risk_at(scores: _F, y: _F, coverage: float, weights: _F | None = None) -> OperatingPoint: ...
def coverage_at_risk(scores: _F, y: _F, risk: float, weights: _F | None = None) -> OperatingPoint: ...

@final
class BootstrapInterval:
    @property
    def estimate(self) -> float: ...
    @property
    def low(self) -> float: ...
    @property
    def high(self) -> float: ...
    @property
    def distribution(self) -> _F: ...

def bootstrap_metric(
    metric: str,
    conf: _F,
    y: _F,
    weights: _F | None = None,
    *,
    n_resamples: int = 1000,
    confidence_level: float = 0.95,
    seed: int = 0,
    n_bins: int = 15,
    convention: str = ...,
    strategy: str = ...,
    norm: str = ...,
    bin_weighted: bool = True,
    area_convention: str = ...,
    threads: int | None = None,
    method: str = ...,
) -> BootstrapInterval: ...
def bootstrap_indices(n: int, n_resamples: int, seed: int) -> npt.NDArray[np.uint32]: ...

@final
class Interval:
    @property
    def low(self) -> float: ...
    @property
    def high(self) -> float: ...

def bootstrap_interval(
    method: str, estimate: float, distribution: _F, jackknife: _F | None = None, *, confidence_level: float = 0.95
) -> Interval: ...
def bootstrap_jackknife_groups(n: int) -> list[slice]: ...

@final
class HistogramUpdate:
    @property
    def total(self) -> float: ...
    @property
    def count(self) -> float: ...

def hist_update(values: _F, lo: float, hi: float, counts: _F) -> HistogramUpdate: ...

@final
class Drift:
    @property
    def psi(self) -> float: ...
    @property
    def ks_statistic(self) -> float: ...
    @property
    def ks_pvalue(self) -> float: ...
    @property
    def wasserstein(self) -> float: ...

def hist_drift(reference: _F, current: _F, lo: float, hi: float, psi_bins: int) -> Drift: ...

@final
class KsTest:
    @property
    def statistic(self) -> float: ...
    @property
    def pvalue(self) -> float: ...

def ks_2samp(a: _F, b: _F) -> KsTest: ...

# --- evidence.rs ---

@final
class ClaimSupport:
    _fields: ClassVar[list[str]]
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def weight(self) -> int: ...
    @property
    def passage(self) -> int: ...
    @property
    def score(self) -> float: ...
    @property
    def recall(self) -> float: ...
    @property
    def supported(self) -> bool: ...
    @property
    def span(self) -> tuple[int, int] | None: ...
    @property
    def missing_numbers(self) -> list[str]: ...
    @property
    def missing_entities(self) -> list[str]: ...
    @property
    def citations(self) -> list[int]: ...
    @property
    def citation_ok(self) -> list[bool]: ...

@final
class CoverageReport:
    @property
    def claims(self) -> list[ClaimSupport]: ...
    @property
    def coverage(self) -> float | None: ...
    @property
    def citation_precision(self) -> float | None: ...
    @property
    def missing_citations(self) -> list[int]: ...

def evidence_coverage(
    answer: str,
    passages: list[str],
    *,
    min_support: float = 0.6,
    citations: bool = True,
    max_chars: int = 2000000,
    max_passages: int = 1000,
) -> CoverageReport: ...
def evidence_coverage_batch(
    answers: list[str],
    passages: list[list[str]],
    *,
    min_support: float = 0.6,
    citations: bool = True,
    max_chars: int = 2000000,
    max_passages: int = 1000,
    threads: int | None = None,
) -> list[CoverageReport]: ...
def text_occurring(haystack: bytes, needles: list[bytes]) -> list[bool]: ...

# --- linear.rs ---

@final
class LogisticFit:
    @property
    def coef(self) -> npt.NDArray[np.float64]: ...
    @property
    def intercept(self) -> float: ...
    @property
    def coef_standardized(self) -> npt.NDArray[np.float64]: ...
    @property
    def mean(self) -> npt.NDArray[np.float64]: ...
    @property
    def scale(self) -> npt.NDArray[np.float64]: ...
    @property
    def n_iter(self) -> int: ...
    @property
    def converged(self) -> bool: ...
    @property
    def objective(self) -> float: ...

def logistic_fit(
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    sample_weight: npt.NDArray[np.float64] | None = None,
    *,
    c: float = 1.0,
    fit_intercept: bool = True,
    standardize: bool = True,
    max_iter: int = 100,
    tol: float = 1e-10,
) -> LogisticFit: ...

@final
class LogisticModel:
    def __new__(cls, coef: Sequence[float], intercept: float) -> Self: ...
    def predict_one(self, x: Sequence[float]) -> float: ...
    def predict_proba(self, x: npt.NDArray[np.float64], *, threads: int | None = None) -> npt.NDArray[np.float64]: ...
    @property
    def coef(self) -> list[float]: ...
    @property
    def intercept(self) -> float: ...

# --- formats (credo_core::formats: response readers and the stream reader) ---

@final
class ResponseTokens:
    @property
    def tokens(self) -> list[Any]: ...
    @property
    def top_tokens(self) -> list[list[Any]]: ...

@final
class TopkArrays:
    @property
    def top_logprobs(self) -> npt.NDArray[np.float64]: ...
    @property
    def chosen_logprob(self) -> npt.NDArray[np.float64]: ...

@final
class ReadLogprobs:
    @property
    def top_logprobs(self) -> npt.NDArray[np.float64]: ...
    @property
    def chosen_logprob(self) -> npt.NDArray[np.float64]: ...
    @property
    def k(self) -> int: ...
    @property
    def layout(self) -> str: ...
    @property
    def n_choices(self) -> int: ...
    @property
    def avg_logprob(self) -> float | None: ...
    def tokens(self) -> ResponseTokens: ...

def read_logprobs(
    response: object,
    choice: int = 0,
    k: int | None = None,
    tokens: bool = True,
    missing_chosen: float = ...,
) -> ReadLogprobs: ...

@final
class OpenAIStream:
    def __new__(cls, policy: str = ..., vocab_size: int | None = None, k: int | None = None) -> Self: ...
    def feed(self, data: object) -> int: ...
    def feed_line(self, line: str | bytes) -> int: ...
    def summary(
        self, choice: int = 0
    ) -> tuple[int, float, float, float, float, float, float, float, float, float, float, float, float]: ...
    def arrays(self, choice: int = 0) -> TopkArrays: ...
    @property
    def done(self) -> bool: ...
    @property
    def chunks(self) -> int: ...
    @property
    def choices(self) -> list[int]: ...

# --- decide.rs (credo_core::decide: one native decision call) ---

@final
class Outcome:
    @property
    def confidence(self) -> float: ...
    @property
    def rule(self) -> int: ...
    @property
    def action(self) -> int: ...
    @property
    def tier(self) -> int: ...
    @property
    def threshold(self) -> float: ...
    @property
    def coverage_noted(self) -> bool: ...
    @property
    def hundredths(self) -> int: ...

# (threshold, gray_low, gray_high, gray_checks, gray_exhausted, below, strict_action,
#  min_coverage, max_retries, repetition_max, strict, hooked), actions as codes.
_DomainRules: TypeAlias = tuple[float, float, float, Sequence[int], int, int, int, float, int, float, bool, bool]
_CalibratorModel: TypeAlias = IsotonicModel | PlattModel | BetaModel | HistogramModel | TemperatureModel

@disjoint_base  # subclassed by credo.serving.NativeDecider
class NativeDecision:
    def __new__(
        cls,
        features: Sequence[int],
        coef: Sequence[float],
        intercept: float,
        to_logit: bool,
        calibrator: _CalibratorModel | None,
        domains: Sequence[_DomainRules],
        words: Callable[[int, int, float, int, int, float], dict[str, Any]],
        decision: type[Decision],
        names: Sequence[str],
        default_domain: str,
        vocab_size: int | None = None,
    ) -> Self: ...
    def _domain(self, domain: object) -> tuple[str, int] | None: ...
    @property
    def _domains(self) -> list[str]: ...
    def decide(
        self,
        top_logprobs: Any,
        chosen_logprob: Any = None,
        *,
        domain: str | None = None,
        coverage: float | None = None,
        repetition: float | None = None,
        attempt: int = 0,
        retrieval_available: bool = False,
        checks_done: Any = (),
        risk: Any = None,
        verifier: Any = None,
    ) -> Decision: ...
    def _try_decide_body(
        self,
        body: object,
        choice: object,
        domain: object,
        coverage: object,
        repetition: object,
        attempt: object,
        retrieval_available: object,
        checks_done: object,
    ) -> Decision | Outcome | None: ...
    def _decide_arrays(
        self,
        top_logprobs: npt.NDArray[np.float64] | npt.NDArray[np.float32],
        chosen_logprob: npt.NDArray[np.float64] | None,
        domain: int,
        coverage: float | None,
        repetition: float | None,
        attempt: int,
        retrieval_available: bool,
        checks_done: int,
    ) -> Decision | Outcome: ...
    def _decide_body(
        self,
        body: bytes,
        choice: int,
        domain: int,
        coverage: float | None,
        repetition: float | None,
        attempt: int,
        retrieval_available: bool,
        checks_done: int,
    ) -> Decision | Outcome: ...
    def _decide_summary(
        self,
        summary: Sequence[float],
        domain: int,
        coverage: float | None,
        repetition: float | None,
        attempt: int,
        retrieval_available: bool,
        checks_done: int,
    ) -> Decision | Outcome: ...
    def _decide_bodies(
        self,
        bodies: Sequence[bytes],
        domain: int,
        coverage: float | None,
        repetition: float | None,
        attempt: int,
        retrieval_available: bool,
        checks_done: int,
        threads: int | None = None,
    ) -> list[Decision | Outcome]: ...
