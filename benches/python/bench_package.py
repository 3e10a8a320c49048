"""Smoke benchmark of the binding overhead itself: a no-op-sized call into the native module."""

from __future__ import annotations

import credo


def test_import_and_version(benchmark):
    assert benchmark(lambda: credo.__version__) == credo._credo.__version__
