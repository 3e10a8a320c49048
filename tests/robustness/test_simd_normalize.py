"""Answer normalisation and the text methods built on it give the same results at every SIMD level
(the AVX2 ASCII shortcut against the scalar one) on random ASCII and Unicode text. Each level runs
in its own process (CREDO_SIMD is read once); the texts are drawn here and sent to both."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from credo.signals import simd_levels
from tests.conftest import subprocess_env

CODE = textwrap.dedent(
    """
    import json, sys
    from credo.agreement import agree_batch, normalize_answer
    texts = json.load(sys.stdin)
    keys = ("unicode", "lowercase", "punctuation", "articles", "whitespace", "numbers")
    out = {"normalized": [], "labels": {}}
    for bits in range(64):
        opts = {k: not (bits >> i) & 1 for i, k in enumerate(keys)}
        out["normalized"].append([normalize_answer(t, **opts) for t in texts])
    questions = [texts[i : i + 6] for i in range(0, len(texts) - 5, 6)]
    for method, th in (("exact", None), ("jaccard", 0.5), ("rouge_l", 0.5)):
        r = agree_batch(questions, method=method, threshold=th, threads=2)
        out["labels"][method] = [int(x) for x in r.labels]
    print(json.dumps(out))
    """
)

PIECES = [
    "The", "a", "an", "the", "THE", "A", "42", "-80", "+7", "3.50", "1,000", "1/4", ".5", "x2", "Paris!",
    "don't", "--", "(", ")", '"q"', "it's", "@", "`", "[x]", "~", "e.g.", "...", "x,y", "3.5%", "é", "Zürich",
    "東京", "½", "ＰＡＲＩＳ", "“Paris”…", "Ab-Cd", "Eiffel", "TOWER",
]  # fmt: skip
SPACES = [" ", " ", "  ", "\t", "\n", "\x0b", "\x0c", "\r", " \r\n ", ""]


def random_text(rnd: random.Random) -> str:
    """Words, numbers, punctuation, every ASCII control and whitespace byte, long runs of letters
    (words past 32 and 64 bytes) and sometimes non-ASCII, at lengths around the 32- and 64-byte
    blocks of the vector path."""
    target = rnd.choice([rnd.randrange(0, 40), rnd.randrange(0, 140), rnd.randrange(60, 70)])
    parts: list[str] = []
    while sum(map(len, parts)) < target:
        r = rnd.random()
        if r < 0.08:
            parts.append("".join(rnd.choice("kQz") for _ in range(rnd.randrange(1, 90))))
        elif r < 0.15:
            parts.append(chr(rnd.randrange(128)))
        elif r < 0.17:
            parts.append(chr(rnd.randrange(0x80, 0x3000)))
        else:
            parts.append(rnd.choice(PIECES))
        parts.append(rnd.choice(SPACES))
    return "".join(parts)


def _run(level: str, texts: list[str]) -> dict:
    env = subprocess_env() | {"CREDO_SIMD": level}
    out = subprocess.run(
        [sys.executable, "-c", CODE], input=json.dumps(texts), capture_output=True, text=True, timeout=300,
        env=env, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.parametrize("level", [lvl for lvl in simd_levels() if lvl != "scalar"])
def test_normalisation_matches_the_scalar_path_on_random_text(level: str) -> None:
    rnd = random.Random(20261205)
    texts = [random_text(rnd) for _ in range(1200)]
    ref, got = _run("scalar", texts), _run(level, texts)
    for bits, (want, have) in enumerate(zip(ref["normalized"], got["normalized"], strict=True)):
        bad = [(t, w, h) for t, w, h in zip(texts, want, have, strict=True) if w != h]
        assert not bad, f"options {bits:06b}: {bad[:3]}"
    assert got["labels"] == ref["labels"]
