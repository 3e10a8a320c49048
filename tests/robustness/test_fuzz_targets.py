"""The fuzz targets (fuzz/targets.py) run on their seed corpus and on a few hostile inputs found
while fuzzing: each lets only a CredoError through. The fuzzing itself is `make fuzz`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

FUZZ = Path(__file__).resolve().parents[2] / "fuzz"
sys.path.insert(0, str(FUZZ))
targets = pytest.importorskip("targets")

pytest.importorskip("jsonschema")

SEEDS = sorted((name, path) for name in targets.TARGETS for path in sorted((FUZZ / "corpus" / name).glob("*")))
HOSTILE = [b"", b"\xff", b"\xff\xff\xff", b"\xed\xa0\x80", b"[" * 5000, b"(" * 5000 + b"=1", b"\x00" * 64]


@pytest.mark.parametrize(("name", "path"), SEEDS, ids=[f"{n}/{p.name}" for n, p in SEEDS])
def test_seed_corpus(name, path):
    targets.call(name, path.read_bytes())


# Found by the fuzzer in another part's code, reported, fixed there: (target, input index).
KNOWN: dict[tuple[str, int], str] = {}


@pytest.mark.parametrize("name", sorted(targets.TARGETS))
@pytest.mark.parametrize("data", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_inputs(name, data, request):
    known = KNOWN.get((name, HOSTILE.index(data)))
    if known:
        request.applymarker(pytest.mark.xfail(reason=known, strict=False))
    targets.call(name, data)
