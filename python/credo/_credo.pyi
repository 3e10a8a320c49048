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



# --- linear.rs ---
