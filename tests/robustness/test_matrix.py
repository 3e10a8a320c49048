"""The bad-input matrix as tests: one test per (entry point, argument, bad value) case.

The cases and the rule they are held to are in ``_matrix.py`` (a CredoError naming the argument,
or a documented result). The whole selection runs once per session, grouped in child processes
with a timeout per case. Cases that still fail are listed in ``known_gaps.py`` — the one place —
as ``KNOWN_GAPS``, marked ``xfail(strict=True)``: a fix makes its case XPASS, which fails the run
until the entry is removed (``FLAKY_GAPS``: the few whose outcome depends on the machine's load,
not strict). Script mode (totals and the "other" cases)::

    .venv/bin/python -m tests.robustness._matrix [entry-prefix ...]
"""

from __future__ import annotations

import importlib.util
import inspect
from typing import Any

import pytest

from tests.robustness import _matrix
from tests.robustness.known_gaps import FLAKY_GAPS, KNOWN_GAPS

# Public objects the matrix does not call, and why. Everything else public must have an entry.
NOT_IN_MATRIX: dict[str, str] = {
    # Result containers: built by credo, not from user input.
    **dict.fromkeys(
        [
            "Action",
            "Decision",
            "signals.Provenance",
            "signals.TokenSignals",
            "signals.SequenceSignals",
            "signals.TopkSignals",
            "signals.TopkSummary",
            "agreement.AgreementResult",
            "agreement.AgreementBatch",
            "agreement.StoppingResult",
            "metrics.BootstrapResult",
            "metrics.CoverageAtRisk",
            "metrics.RiskCoverage",
            "metrics.SelectiveRisk",
            "monitor.DriftReport",
            "evidence.ClaimSupport",
            "evidence.CoverageResult",
            "risk.InputRisk",
            "risk.RiskTag",
            "risk.DomainMatch",
            "risk.RegulatedContent",
            "risk.TooShort",
            "risk.SeveralQuestions",
            "risk.UnresolvedReference",
            "verify.VerifierResult",
            "cascade.CascadeResult",
            "cascade.CascadeState",
            "cascade.TraceStep",
            "formats.DenseLogits",
            "formats.TopkLogprobs",
        ],
        "a result container",
    ),
    "verify.Verifier": "a typing Protocol",
    "calibration.ScalarCalibrator": "a typing Protocol",
    "report.Section": "a result container",
    "signals.simd_level": "takes no argument",
    "signals.simd_levels": "takes no argument",
    "cascade.smoothed_majority": "takes a CascadeState the cascade builds",
    "report.html": "writes a report; its inputs are metrics_table's (covered)",
    "plots.ReliabilityDisplay": "needs matplotlib; its inputs are the metrics' (covered)",
    "plots.RiskCoverageDisplay": "needs matplotlib; its inputs are the metrics' (covered)",
    "BetaCalibration()": "takes no parameter",
}


def _public() -> list[tuple[str, Any]]:
    """(key, object) for every public callable: ``credo.__all__`` as ``name``, the public
    submodules' ``__all__`` (not re-exported at the top) as ``module.name``."""
    import importlib

    import credo

    out = []
    for name in credo.__all__:
        obj = getattr(credo, name)
        if inspect.ismodule(obj):
            for sub in getattr(obj, "__all__", []):
                if sub not in credo.__all__:
                    out.append((f"{name}.{sub}", getattr(obj, sub)))
        elif callable(obj) and not (inspect.isclass(obj) and issubclass(obj, BaseException)):
            out.append((name, obj))
    for mod in ("cascade", "confidence", "policy"):
        m = importlib.import_module(f"credo.{mod}")
        for sub in m.__all__:
            if sub not in credo.__all__:
                out.append((f"{mod}.{sub}", getattr(m, sub)))
    return [(k, o) for k, o in out if callable(o) and not (inspect.isclass(o) and issubclass(o, BaseException))]


def test_every_public_entry_point_is_in_the_matrix() -> None:
    _matrix.cases()
    names = list(_matrix.ENTRIES)
    missing = []
    for key, obj in _public():
        if key in NOT_IN_MATRIX:
            continue
        short = key.rpartition(".")[2]
        stems = {key, short} if inspect.isclass(obj) else {key}
        if not any(n == s or n.startswith((f"{s}.", f"{s}(", f"{s}[")) for n in names for s in stems):
            missing.append(key)
    assert not missing, f"public entry points with no matrix entry (add one, or say why in NOT_IN_MATRIX): {missing}"


def test_known_gaps_name_existing_cases() -> None:
    stale = sorted((set(KNOWN_GAPS) | set(FLAKY_GAPS)) - set(_matrix.cases()))
    assert not stale, f"KNOWN_GAPS / FLAKY_GAPS entries that are not matrix cases: {stale}"
    assert not set(KNOWN_GAPS) & set(FLAKY_GAPS)


def _selected(request: pytest.FixtureRequest) -> list[str]:
    ids = []
    for item in request.session.items:
        cs = getattr(item, "callspec", None)
        if cs is not None and "cid" in cs.params:
            ids.append(cs.params["cid"])
    return ids


@pytest.fixture(scope="session")
def matrix_results(request: pytest.FixtureRequest) -> dict[str, dict[str, Any]]:
    return _matrix.run_matrix(_selected(request))


# Cases of entry points that need an optional package skip when it is not installed.
NEEDS = {"SchemaVerifier": "jsonschema"}


def _marks(cid: str) -> list[Any]:
    for prefix, module in NEEDS.items():
        if cid.startswith(prefix) and importlib.util.find_spec(module) is None:
            return [pytest.mark.skip(reason=f"{module} is not installed")]
    if cid in KNOWN_GAPS:
        return [pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[cid])]
    if cid in FLAKY_GAPS:
        return [pytest.mark.xfail(strict=False, reason=FLAKY_GAPS[cid])]
    return []


def _params() -> list[Any]:
    return [pytest.param(cid, marks=_marks(cid), id=cid) for cid in _matrix.cases()]


@pytest.mark.parametrize("cid", _params())
def test_case(cid: str, matrix_results: dict[str, dict[str, Any]]) -> None:
    r = matrix_results[cid]
    assert r["outcome"] == "clean", r["detail"]
