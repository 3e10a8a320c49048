"""Shared fixtures. Real-data tests read ``../shared/data`` beside the project root and skip
cleanly when it is absent (set CREDO_DATA to point elsewhere)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("CREDO_DATA", ROOT.parent / "shared" / "data"))


def pytest_addoption(parser: pytest.Parser) -> None:
    """pyproject's addopts pass ``--benchmark-disable`` (for benches/); without pytest-benchmark
    installed the tests still run, so the option is accepted and means nothing here."""
    try:
        import pytest_benchmark  # noqa: F401
    except ImportError:
        parser.addoption("--benchmark-disable", action="store_true", help="(pytest-benchmark is not installed)")


def subprocess_env() -> dict[str, str]:
    """Environment for child Pythons, so they import this checkout's credo like the tests do."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "python"), env.get("PYTHONPATH")]))
    return env


def data_path(*parts: str) -> Path:
    """Path under the shared data folder; skips the calling test when it is missing."""
    p = DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"real-data file {p} not available")
    return p


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def cifar_models() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The 14 CIFAR-10 CNNs: name -> (probs [10000, 10] float64, labels 0-based int64)."""
    folder = data_path("cifar10-14-cnns")
    labels = np.loadtxt(folder / "labels.csv", dtype=np.int64) - 1
    out = {}
    for f in sorted(folder.glob("*.csv")):
        if f.name != "labels.csv":
            out[f.stem] = (np.loadtxt(f, delimiter=","), labels)
    return out


@pytest.fixture(scope="session")
def mmlu() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """LLaMA-13B on 16 MMLU subjects: subject -> (probs [n, 4] averaged over the 10 prompts, targets)."""
    z = np.load(data_path("mmlu-llama13b", "mmlu_llama13b_option_probs.npz"))
    out = {}
    for key in z.files:
        if key.endswith("_scores"):
            subject = key[: -len("_scores")]
            out[subject] = (z[key].mean(axis=0), z[f"{subject}_targets"])
    return out
