"""The estimator base class: scikit-learn's conventions without depending on scikit-learn.

Subclasses take keyword-only constructor parameters stored verbatim under the same names (no
validation in ``__init__``), validate in ``fit`` and return ``self``, and keep learned state in
attributes ending in ``_``. ``get_params``/``set_params`` make them clone-able by
``sklearn.base.clone``; ``save`` writes a versioned artefact that ``credo.load`` reads back.
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any

from credo import _artifact
from credo.exceptions import InvalidArgumentError


class Estimator:
    """Base of every fitted credo object."""

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return sorted(
            name
            for name, p in sig.parameters.items()
            if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        )

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor parameters, as scikit-learn's ``get_params``."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Estimator:
        """Sets constructor parameters (refit afterwards), as scikit-learn's ``set_params``."""
        valid = set(self._param_names())
        for key, value in params.items():
            if key not in valid:
                raise InvalidArgumentError(
                    f"{key}: not a parameter of {type(self).__name__} (valid: {', '.join(sorted(valid))})"
                )
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        defaults = {
            name: p.default for name, p in inspect.signature(type(self).__init__).parameters.items()
        }
        shown = [
            f"{k}={v!r}"
            for k, v in self.get_params().items()
            if not (k in defaults and _same(defaults[k], v))
        ]
        return f"{type(self).__name__}({', '.join(shown)})"

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Writes the fitted object to ``path`` as versioned JSON, atomically; read it back with
        ``credo.load(path)``."""
        return _artifact.save(self, path)


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a is b or a == b)
    except Exception:
        return False
