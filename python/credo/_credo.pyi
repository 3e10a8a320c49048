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
import numpy as _np
from collections.abc import Callable as _Callable
from typing import Any as _Any

def agree_normalize(
    text: str,
    unicode: bool = True,
    lowercase: bool = True,
    punctuation: bool = True,
    articles: bool = True,
    whitespace: bool = True,
    numbers: bool = True,
) -> str: ...
def agree_batch(
    questions: list[_Any],
    method: str,
    threshold: float,
    clustering: str,
    flags: tuple[bool, bool, bool, bool, bool, bool],
    lp_values: _np.ndarray | None = None,
    lp_offsets: _np.ndarray | None = None,
    embeddings: _np.ndarray | None = None,
    matrices: _np.ndarray | None = None,
    spectral: bool = False,
    threads: int | None = None,
    single: bool = False,
) -> dict[str, _np.ndarray]: ...
def agree_callable(
    answers: list[_Any],
    equivalent: _Callable[[str, str], object],
    clustering: str,
    lp_values: _np.ndarray | None = None,
    lp_offsets: _np.ndarray | None = None,
) -> dict[str, _np.ndarray]: ...
def agree_spectral(similarity: _np.ndarray) -> tuple[float, float]: ...
def agree_stopping_decide(
    rule: str, threshold: float, counts: _np.ndarray, min_samples: int, max_samples: int
) -> tuple[bool, float]: ...
def agree_stopping_default_threshold(rule: str) -> float: ...



# --- metrics.rs ---



# --- evidence.rs ---



# --- linear.rs ---
