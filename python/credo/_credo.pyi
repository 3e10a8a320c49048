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
# (arrays are numpy.ndarray; typed as object to keep this stub import-free)

def token_signals(
    logits: object,
    dtype: str,
    batch: int | None,
    seq: int,
    vocab: int,
    chosen: object | None = None,
    temperature: float = 1.0,
    threads: int | None = None,
    simd: str | None = None,
    invalid: str = "raise",
) -> dict[str, object]: ...
def sequence_signals(
    batch: int,
    seq: int,
    entropy: object,
    margin_prob: object,
    chosen_logprob: object | None = None,
    chosen: object | None = None,
    lengths: object | None = None,
    mask: object | None = None,
    drop_last: bool = False,
    ngram: int = 3,
) -> dict[str, object]: ...
def topk_signals(
    top_logprobs: object,
    chosen_logprob: object | None = None,
    policy: str = "bounds",
    vocab_size: int | None = None,
    k: int | None = None,
    sentinel: float = ...,
) -> dict[str, object]: ...
def simd_level() -> str: ...
def simd_levels() -> list[str]: ...

# --- calibrate.rs ---



# --- conformal.rs ---



# --- agree.rs ---



# --- metrics.rs ---



# --- evidence.rs ---



# --- linear.rs ---
