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
import numpy as np

def token_signals(
    logits: np.ndarray,
    dtype: str,
    batch: int | None,
    seq: int,
    vocab: int,
    chosen: np.ndarray | None = None,
    temperature: float = 1.0,
    threads: int | None = None,
    simd: str | None = None,
    invalid: str = "raise",
) -> dict[str, object]: ...
def sequence_signals(
    batch: int,
    seq: int,
    entropy: np.ndarray,
    margin_prob: np.ndarray,
    chosen_logprob: np.ndarray | None = None,
    chosen: np.ndarray | None = None,
    lengths: np.ndarray | None = None,
    mask: np.ndarray | None = None,
    drop_last: bool = False,
    ngram: int = 3,
) -> dict[str, np.ndarray]: ...
def topk_signals(
    top_logprobs: np.ndarray,
    chosen_logprob: np.ndarray | None = None,
    policy: str = "bounds",
    vocab_size: int | None = None,
    k: int | None = None,
    sentinel: float = -9999.0,
) -> dict[str, np.ndarray]: ...
def simd_level() -> str: ...
def simd_levels() -> list[str]: ...

# --- calibrate.rs ---



# --- conformal.rs ---



# --- agree.rs ---



# --- metrics.rs ---



# --- evidence.rs ---



# --- linear.rs ---
