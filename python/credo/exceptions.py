"""credo's exception and warning hierarchy.

Every error credo raises is a :class:`CredoError`, which is a :class:`ValueError`, so code that
already catches ``ValueError`` around NumPy or scikit-learn keeps working. The message always
names the argument at fault. Every warning credo issues is a :class:`CredoWarning` (a
``UserWarning``), so ``warnings.filterwarnings("ignore", category=credo.CredoWarning)`` silences
them all. Exceptions pickle by class name (``credo.CredoError`` and its subclasses), so they
cross process boundaries (multiprocessing, joblib, Ray).
"""

from __future__ import annotations

import sys
from typing import Any

from credo._credo import (
    ArtifactError,
    CredoError,
    EmptyInputError,
    InvalidArgumentError,
    NonFiniteError,
    ShapeError,
)

# The native base class is created as ``credo.CredoError_`` (its Rust name); pickle finds an
# exception class by ``__module__`` + ``__qualname__``, so give it the name it is exported under.
CredoError.__name__ = CredoError.__qualname__ = "CredoError"


class NotFittedError(CredoError, AttributeError):
    """An estimator was used before ``fit``: also an ``AttributeError`` and, when scikit-learn
    is imported, an instance of ``sklearn.exceptions.NotFittedError`` (so code catching
    scikit-learn's error catches credo's), without credo importing scikit-learn itself."""

    def __new__(cls, *args: Any, **kwargs: Any) -> NotFittedError:
        if cls is NotFittedError:
            cls = _with_sklearn_not_fitted() or cls
        return super().__new__(cls, *args, **kwargs)

    def __reduce__(self) -> tuple[Any, ...]:
        return (NotFittedError, self.args)


def _with_sklearn_not_fitted() -> type | None:
    """``NotFittedError`` combined with scikit-learn's, once scikit-learn has been imported."""
    global _SklearnNotFittedError
    if _SklearnNotFittedError is None:
        sk = sys.modules.get("sklearn.exceptions")
        if sk is None:
            return None
        _SklearnNotFittedError = type(
            "NotFittedError",
            (NotFittedError, sk.NotFittedError),
            {"__module__": __name__, "__qualname__": "NotFittedError", "__doc__": NotFittedError.__doc__},
        )
    return _SklearnNotFittedError


_SklearnNotFittedError: type | None = None


class ConfigError(CredoError):
    """A policy or rule configuration that does not validate."""


class CredoWarning(UserWarning):
    """Base class of every warning credo issues."""


class DataWarning(CredoWarning):
    """Input that is accepted but suspect: probability rows that do not sum to 1, a direction
    ``increasing='auto'`` cannot determine with confidence."""


class UndefinedMetricWarning(CredoWarning):
    """A metric is undefined on this input and a conventional value is returned (as
    scikit-learn's ``UndefinedMetricWarning``)."""


__all__ = [
    "ArtifactError",
    "ConfigError",
    "CredoError",
    "CredoWarning",
    "DataWarning",
    "EmptyInputError",
    "InvalidArgumentError",
    "NonFiniteError",
    "NotFittedError",
    "ShapeError",
    "UndefinedMetricWarning",
]
