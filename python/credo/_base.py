"""The estimator base class: scikit-learn's conventions without depending on scikit-learn.

Subclasses take keyword-only constructor parameters stored verbatim under the same names (no
validation in ``__init__``), validate in ``fit`` and return ``self``, and keep learned state in
attributes ending in ``_``. ``get_params``/``set_params`` make them clone-able by
``sklearn.base.clone``; ``__sklearn_tags__`` and ``__sklearn_is_fitted__`` let
scikit-learn's checks and utilities treat them as its own (scikit-learn is imported only when it
asks); fitted objects pickle and deep-copy through their JSON artefact; ``save`` writes a
versioned artefact that ``credo.load`` reads back.
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
        defaults = {name: p.default for name, p in inspect.signature(type(self).__init__).parameters.items()}
        shown = [f"{k}={v!r}" for k, v in self.get_params().items() if not (k in defaults and _same(defaults[k], v))]
        return f"{type(self).__name__}({', '.join(shown)})"

    # ---------------------------------------------------------------- scikit-learn protocol
    #: How scikit-learn should see the estimator: 'classifier', 'regressor' or None.
    _sklearn_type: str | None = None
    #: Whether ``fit`` needs ``y``; whether a classifier handles more than two classes.
    _sklearn_requires_y: bool = True
    _sklearn_multi_class: bool = True
    #: Whether X is one score per sample, (n,) or (n, 1), rather than a feature matrix.
    _sklearn_one_d: bool = False

    def __sklearn_tags__(self) -> Any:
        """scikit-learn's tags (``sklearn.utils.get_tags``); scikit-learn is imported only here,
        when scikit-learn itself asks."""
        from sklearn.utils import ClassifierTags, InputTags, RegressorTags, Tags, TargetTags

        kind = self._sklearn_type
        return Tags(
            estimator_type=kind,
            target_tags=TargetTags(required=self._sklearn_requires_y),
            classifier_tags=ClassifierTags(multi_class=self._sklearn_multi_class) if kind == "classifier" else None,
            regressor_tags=RegressorTags() if kind == "regressor" else None,
            input_tags=InputTags(one_d_array=self._sklearn_one_d),
        )

    def __sklearn_is_fitted__(self) -> bool:
        """Fitted once ``fit`` has set a public attribute ending in ``_`` (scikit-learn's rule,
        less private helpers such as a lock made on first use)."""
        return any(k.endswith("_") and not k.startswith("_") for k in vars(self))

    # ---------------------------------------------------------------- pickle and deep copy
    def __getstate__(self) -> dict[str, Any]:
        """A fitted object pickles (and deep-copies) as its versioned JSON artefact, the same
        body ``save`` writes, so unpickling runs nothing but credo's own ``_from_artifact``; an
        unfitted one as its constructor parameters."""
        state: dict[str, Any] = {"credo_params": self.get_params()}
        if self.__sklearn_is_fitted__() and hasattr(self, "_artifact_state"):
            state["credo_artifact"] = self._artifact_dict()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "credo_artifact" in state:
            rebuilt = _artifact.from_dict(state["credo_artifact"], source="pickle")
            if type(rebuilt) is not type(self):
                raise _artifact.ArtifactError(f"pickle: holds a {type(rebuilt).__name__}, not a {type(self).__name__}")
            self.__dict__.update(rebuilt.__dict__)
        elif "credo_params" not in state:  # a subclass's own plain state
            self.__dict__.update(state)
        # constructor parameters as given (an artefact may record a template by name only)
        for key, value in state.get("credo_params", {}).items():
            setattr(self, key, value)

    def __copy__(self) -> Estimator:
        """A shallow copy sharing the fitted state (``copy.copy``); ``copy.deepcopy`` and
        pickle go through the artefact."""
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        return new

    def _artifact_dict(self) -> dict[str, Any]:
        """The artefact body ``save`` writes and pickle carries."""
        return _artifact.to_dict(self)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Writes the fitted object to ``path`` as versioned JSON, atomically; read it back with
        ``credo.load(path)``."""
        return _artifact.save(self, path)


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a is b or a == b)
    except Exception:
        return False
