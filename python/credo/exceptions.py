"""credo's exception hierarchy.

Every error credo raises is a :class:`CredoError`, which is a :class:`ValueError`, so code that
already catches ``ValueError`` around NumPy or scikit-learn keeps working. The message always
names the argument at fault.
"""

from __future__ import annotations

from credo._credo import (
    ArtifactError,
    CredoError,
    EmptyInputError,
    InvalidArgumentError,
    NonFiniteError,
    ShapeError,
)


class NotFittedError(CredoError, AttributeError):
    """An estimator was used before ``fit`` (also an ``AttributeError``, as in scikit-learn)."""


class ConfigError(CredoError):
    """A policy or rule configuration that does not validate."""


__all__ = [
    "ArtifactError",
    "ConfigError",
    "CredoError",
    "EmptyInputError",
    "InvalidArgumentError",
    "NonFiniteError",
    "NotFittedError",
    "ShapeError",
]
