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



# --- evidence.rs ---

from typing import Any

def evidence_coverage(
    answer: str, passages: list[str], *, min_support: float = 0.6, citations: bool = True, max_chars: int = 2000000
) -> dict[str, Any]: ...
def evidence_coverage_batch(
    answers: list[str],
    passages: list[list[str]],
    *,
    min_support: float = 0.6,
    citations: bool = True,
    max_chars: int = 2000000,
    threads: int | None = None,
) -> list[dict[str, Any]]: ...



# --- linear.rs ---

from collections.abc import Sequence
from typing import final

import numpy as np
import numpy.typing as npt

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
) -> tuple[
    npt.NDArray[np.float64], float, npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64], int, bool, float
]: ...

@final
class LogisticModel:
    def __new__(cls, coef: Sequence[float], intercept: float) -> LogisticModel: ...
    def predict_one(self, x: Sequence[float]) -> float: ...
    def predict_proba(self, x: npt.NDArray[np.float64], *, threads: int | None = None) -> npt.NDArray[np.float64]: ...
    @property
    def coef(self) -> list[float]: ...
    @property
    def intercept(self) -> float: ...
