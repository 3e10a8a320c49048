"""Every path that reads text a user did not write runs in time linear in its size: ten times the
input costs at most fifteen times the time (a quadratic path costs a hundred times).

The inputs are the adversarial ones: those that made a backtracking regex, a rescan per sentence
or a retry per character blow up (issue 18), and runs of one delimiter. Each size is timed as the
fastest of a few runs, interleaved with the other size: a busy machine only ever adds time, so
the fastest run is the one that measures the code (the median still flaked on a loaded CI box).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

import pytest

from credo import agreement, evidence, risk, verify

RATIO = 15.0
ATTEMPTS = 3
REPEATS = 5
FLOOR = 5e-3  # below this the small size's time is timer and scheduler noise

pytest.importorskip("jsonschema")
SCHEMA = verify.SchemaVerifier({"type": "object"})
ARITHMETIC = verify.ArithmeticVerifier()
TOOL = verify.ToolResultVerifier()
EMAIL = verify.FormatVerifier("email")
UNIT = verify.FormatVerifier("number_with_unit")
NUMBER = verify.FormatVerifier("number")


def _passage(n: int) -> list[str]:
    return ["The cat sat on the mat. " * (n // 24 + 1)]


# (name, the call, the input of size about n, n): n is chosen so the small input takes a few
# milliseconds and the large one well under a second.
CASES: list[tuple[str, Callable[[object], object], Callable[[int], object], int]] = [
    ("schema: fence + spaces", SCHEMA.verify, lambda n: "```" + " " * n + "x", 20_000),
    ("schema: fence + newlines", SCHEMA.verify, lambda n: "```" + "\n" * n + "x```", 20_000),
    ("schema: nested arrays", SCHEMA.verify, lambda n: "[" * n, 20_000),
    ("arithmetic: no '='", ARITHMETIC.verify, lambda n: "1+1 " * (n // 4), 20_000),
    ("arithmetic: statements", ARITHMETIC.verify, lambda n: "1 1+1 = 2 " * (n // 10), 4_000),
    ("arithmetic: long run", ARITHMETIC.verify, lambda n: "1 " * (n // 2) + "+ 1 = 2", 10_000),
    ("arithmetic: '=' runs", ARITHMETIC.verify, lambda n: "1+(=" * (n // 4), 40_000),
    ("arithmetic: parentheses", ARITHMETIC.verify, lambda n: "(" * n + "1 = 1", 10_000),
    ("arithmetic: signs", verify.evaluate_expression, lambda n: "-" * n + "1", 20_000),
    ("arithmetic: sums", verify.evaluate_expression, lambda n: "1+" * (n // 2) + "1", 10_000),
    ("format: e-mail", EMAIL.verify, lambda n: "a" * n + "@", 20_000),
    ("format: e-mail labels", EMAIL.verify, lambda n: "a@" + "b." * (n // 2) + "!", 20_000),
    # Under ~100,000 digits the small size runs from cache: the ratio would measure the cache.
    ("format: number + unit", UNIT.verify, lambda n: "1" * n + "x1", 90_000),
    ("format: number", NUMBER.verify, lambda n: "1," * (n // 2) + "x", 20_000),
    (
        "tool result: names",
        lambda t: TOOL.verify(t, {"tool_result": {"city": "Paris"}}),
        lambda n: "See Paris. Then Paris " * (n // 22),
        40_000,
    ),
    (
        "tool result: names x result",
        lambda t: TOOL.verify(t, {"tool_result": {"text": t.lower()}}),
        lambda n: "".join(f"Then Name{i} x Other{i} went. " for i in range(n // 32)),
        50_000,
    ),
    (
        "tool result: numbers",
        lambda t: TOOL.verify(t, {"tool_result": list(range(len(t) // 8))}),
        lambda n: " ".join(str(i) for i in range(n // 6)),
        60_000,
    ),
    ("risk: digits", risk.assess, lambda n: "1" * n + "x", 20_000),
    ("risk: letters", risk.assess, lambda n: "a" * n, 20_000),
    ("risk: at signs", risk.assess, lambda n: "a@" * (n // 2), 20_000),
    ("risk: spaced digits", risk.assess, lambda n: "1 " * (n // 2), 20_000),
    (
        "evidence: repeated sentences",
        lambda a: evidence.coverage(a, _passage(len(a))),
        lambda n: "The cat sat on the mat. " * (n // 24),
        80_000,
    ),
    ("evidence: full stops", lambda a: evidence.coverage(a, ["x"]), lambda n: "." * n + " a", 20_000),
    ("evidence: abbreviations", lambda a: evidence.coverage(a, ["x"]), lambda n: "a." * (n // 2) + " x", 50_000),
    (
        "evidence: clauses",
        lambda a: evidence.coverage(a, ["alpha beta gamma delta"]),
        lambda n: "alpha beta, and gamma delta " * (n // 28) + ".",
        80_000,
    ),
    (
        "evidence: markers",
        lambda a: evidence.coverage(a, ["alpha beta"]),
        lambda n: "alpha beta; gamma delta " * (n // 48) + "[1]" * (n // 6) + ".",
        40_000,
    ),
    ("evidence: brackets", lambda a: evidence.coverage(a, ["x"]), lambda n: "[" * n, 20_000),
    ("agreement: normalise numbers", agreement.normalize_answer, lambda n: "1,000" * (n // 5), 20_000),
    ("agreement: normalise unicode", agreement.normalize_answer, lambda n: "½ Ⅻ “x” " * (n // 9), 20_000),
    ("agreement: normalise signs", agreement.normalize_answer, lambda n: "-" * n + "1", 20_000),
]


def _time(fn: Callable[[object], object], arg: object) -> float:
    """One run's time with the cyclic garbage collector paused, as ``timeit`` does: its passes
    grow with every object alive in the process and would be charged to whatever runs."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        fn(arg)
        return time.perf_counter() - start
    finally:
        gc.enable()


@pytest.mark.parametrize(("fn", "make", "n"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_ten_times_the_input_costs_at_most_fifteen_times_the_time(fn, make, n):
    small, large = make(n), make(10 * n)
    fn(small)  # warm up (imports, caches)
    # Up to three measurements: a busy machine can slow one of them by a few times, but a
    # super-linear path (10x the input costing 100x the time for a quadratic one) fails all.
    ratios = []
    for _ in range(ATTEMPTS):
        t_small, t_large = [], []
        for _ in range(REPEATS):
            t_small.append(_time(fn, small))
            t_large.append(_time(fn, large))
        ratios.append(min(t_large) / max(min(t_small), FLOOR))
        if ratios[-1] <= RATIO:
            return
    assert min(ratios) <= RATIO, f"10x the input took {', '.join(f'{r:.1f}x' for r in ratios)} the time"
