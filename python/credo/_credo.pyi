# Hand-written stub of the native module credo._credo (checked by `make stubtest`).
# Each section belongs to one Rust binding file in rust/credo-py/src/.

__version__: str

class CredoError(ValueError): ...
class InvalidArgumentError(CredoError): ...
class NonFiniteError(CredoError): ...
class ShapeError(CredoError): ...
class EmptyInputError(CredoError): ...
class ArtifactError(CredoError): ...

# --- signals.rs ---



# --- calibrate.rs ---



# --- conformal.rs ---



# --- agree.rs ---



# --- metrics.rs ---

from typing import TypeAlias  # noqa: E402  (each section of this stub is owned by one binding file)

import numpy as _np  # noqa: E402
import numpy.typing as _npt  # noqa: E402

_F: TypeAlias = _npt.NDArray[_np.float64]
_I: TypeAlias = _npt.NDArray[_np.int64]

def top_label(probs: _F, labels: _I) -> tuple[_F, _F]: ...
def ece(
    conf: _F, y: _F, weights: _F | None = None, *, n_bins: int = 15, convention: str = "credo",
    strategy: str = "uniform", norm: str = "l1", bin_weighted: bool = True, threads: int | None = None,
) -> float: ...
def reliability(
    conf: _F, y: _F, weights: _F | None = None, *, n_bins: int = 15, convention: str = "credo",
    strategy: str = "uniform",
) -> tuple[_F, _F, _F, _F, _F]: ...
def ece_classwise(
    probs: _F, labels: _I, weights: _F | None = None, *, n_bins: int = 15,
    convention: str = "credo", strategy: str = "uniform", norm: str = "l1", bin_weighted: bool = True,
    threads: int | None = None,
) -> float: ...
def ece_canonical(
    probs: _F, labels: _I, weights: _F | None = None, *, n_bins: int = 10,
    distance: str = "tv",
) -> float: ...
def smooth_ece(
    conf: _F, y: _F, weights: _F | None = None, *, sigma: float | None = None
) -> tuple[float, float]: ...
def binary_score(kind: str, p: _F, y: _F, weights: _F | None = None) -> float: ...
def multiclass_score(kind: str, probs: _F, labels: _I, weights: _F | None = None) -> float: ...
def ranking_metric(
    kind: str, scores: _F, y: _F, weights: _F | None = None, *, convention: str = "credo"
) -> float: ...
def risk_coverage(scores: _F, y: _F, weights: _F | None = None) -> tuple[_F, _F, _F, _F]: ...
def selective_risk_at(
    scores: _F, y: _F, coverage: float, weights: _F | None = None
) -> tuple[float, float, float]: ...
def coverage_at_risk(
    scores: _F, y: _F, risk: float, weights: _F | None = None
) -> tuple[float, float, float]: ...
def bootstrap_metric(
    metric: str, conf: _F, y: _F, weights: _F | None = None, *, n_resamples: int = 1000,
    confidence_level: float = 0.95, seed: int = 0, n_bins: int = 15, convention: str = "credo",
    strategy: str = "uniform", norm: str = "l1", bin_weighted: bool = True, area_convention: str = "credo",
    threads: int | None = None,
) -> tuple[float, float, float, _F]: ...
def bootstrap_indices(n: int, n_resamples: int, seed: int) -> _npt.NDArray[_np.uint32]: ...
def hist_update(values: _F, lo: float, hi: float, counts: _F) -> tuple[float, float]: ...
def hist_drift(
    reference: _F, current: _F, lo: float, hi: float, psi_bins: int
) -> tuple[float, float, float, float]: ...
def ks_2samp(a: _F, b: _F) -> tuple[float, float]: ...



# --- evidence.rs ---



# --- linear.rs ---
