"""Agreement on 10,000 questions × 10 sampled answers: credo's batch path against pure Python
(SQuAD normalisation + dict counting; greedy token-Jaccard) and rapidfuzz (an extra peer).

Targets (with their noise margins in benches/targets.toml): exact ≥ 20× pure Python (DESIGN.md).
Jaccard: DESIGN.md asks ≥ 20× (issue 14: ≥ 28× on one thread); the gate holds it at ≥ 8× (set when
it measured 8.8-11.4×). Measured 5 Dec 2026 at load 7-9 on the 2-core VM, full
size, CPU time on one thread (less load-sensitive than wall time): exact 14.2-14.7 ms against
245 ms (17×), Jaccard 18.4-18.8 ms against 340 ms (18×); wall-clock medians of this bench
gave 17.0× and 17.8×.
Credo and every peer are timed in interleaved rounds, the same number each, medians compared.
"""

from __future__ import annotations

from collections import Counter

import pytest
from _harness import QUICK, median_times_interleaved, record, record_threads, settle_threads

from credo.agreement import agree_batch
from credo.cli.bench import sample_questions, squad_normalize

N_QUESTIONS = 2_000 if QUICK else 10_000
N_ANSWERS = 10
THRESHOLD = 0.5


def make_questions(seed: int = 0) -> list[list[str]]:
    return sample_questions(N_QUESTIONS, seed)


def python_exact(questions: list[list[str]]) -> list[tuple[str, float]]:
    out = []
    for answers in questions:
        counts = Counter(squad_normalize(a) for a in answers)
        top, c = counts.most_common(1)[0]
        out.append((top, c / len(answers)))
    return out


def python_jaccard(questions: list[list[str]]) -> list[list[int]]:
    out = []
    for answers in questions:
        sets = [set(squad_normalize(a).split()) for a in answers]
        firsts: list[int] = []
        labels = []
        for j, s in enumerate(sets):
            for c, f in enumerate(firsts):
                t = sets[f]
                union = len(s | t)
                if (len(s & t) / union if union else 1.0) >= THRESHOLD:
                    labels.append(c)
                    break
            else:
                firsts.append(j)
                labels.append(len(firsts) - 1)
        out.append(labels)
    return out


@pytest.fixture(scope="module")
def questions() -> list[list[str]]:
    return make_questions()


# Rounds of credo and each peer timed in turn (the same number for all; medians compared).
PEER_REPEAT = 5 if QUICK else 9


def _rapidfuzz_exact(questions: list[list[str]]):  # type: ignore[no-untyped-def]
    """rapidfuzz's ``default_process`` (lower-case, non-alphanumerics to spaces, trimmed) and a
    Counter: close to, not the same as, SQuAD normalisation (articles stay), so no target."""
    try:
        from rapidfuzz.utils import default_process
    except ImportError:  # pragma: no cover - optional peer
        return None
    return lambda: [Counter(default_process(a) for a in q).most_common(1)[0] for q in questions]


def _rapidfuzz_greedy(questions: list[list[str]]):  # type: ignore[no-untyped-def]
    """rapidfuzz's ``token_set_ratio`` matrix and the same greedy grouping: a different
    similarity from token Jaccard (it scores a subset as 100), so recorded without a target."""
    try:
        from rapidfuzz import fuzz, process
        from rapidfuzz.utils import default_process
    except ImportError:  # pragma: no cover - optional peer
        return None

    def rf_greedy():  # type: ignore[no-untyped-def]
        out = []
        for q in questions:
            sim = process.cdist(q, q, scorer=fuzz.token_set_ratio, processor=default_process)
            firsts: list[int] = []
            labels = []
            for j in range(len(q)):
                for c, f in enumerate(firsts):
                    if sim[f, j] >= 100 * THRESHOLD:
                        labels.append(c)
                        break
                else:
                    firsts.append(j)
                    labels.append(len(firsts) - 1)
            out.append(labels)
        return out

    return rf_greedy


def test_exact_agreement(benchmark, questions):
    benchmark(lambda: agree_batch(questions, method="exact"))
    # Same majorities (credo also canonicalises numbers, which these answers do not exercise).
    got = agree_batch(questions, method="exact")
    ref = python_exact(questions)
    assert [a for _, a in ref] == pytest.approx(list(got.agreement))
    rf = _rapidfuzz_exact(questions)
    fns = [lambda: agree_batch(questions, method="exact"), lambda: python_exact(questions)]
    times = median_times_interleaved(fns + ([rf] if rf else []), repeat=PEER_REPEAT)
    work = f"agreement exact, {len(questions)} x {N_ANSWERS}"
    record(work, times[0], "pure Python (SQuAD normalise + Counter; median)", times[1], "agreement.exact.python")
    if rf:
        record(work, times[0], "rapidfuzz default_process + Counter (median)", times[2], None)


def test_jaccard_agreement(benchmark, questions):
    benchmark(lambda: agree_batch(questions, method="jaccard", threshold=THRESHOLD))
    got = agree_batch(questions, method="jaccard", threshold=THRESHOLD)
    ref = python_jaccard(questions)
    same = sum(list(got.labels_of(i)) == ref[i] for i in range(len(questions)))
    assert same == len(questions)
    rf = _rapidfuzz_greedy(questions)
    fns = [
        lambda: agree_batch(questions, method="jaccard", threshold=THRESHOLD),
        lambda: python_jaccard(questions),
    ]
    times = median_times_interleaved(fns + ([rf] if rf else []), repeat=PEER_REPEAT)
    work = f"agreement Jaccard, {len(questions)} x {N_ANSWERS}"
    record(work, times[0], "pure Python (greedy token-Jaccard; median)", times[1], "agreement.jaccard.python")
    if rf:
        record(work, times[0], "rapidfuzz cdist(token_set_ratio) + greedy (median)", times[2], None)


@pytest.mark.parametrize("method", ["exact", "jaccard"])
def test_agreement_threads(questions, method):
    """Two threads against one on the same batch, timed in turn after the pool has settled.
    Recorded without a gate. Reading the Python strings needs the GIL, on the calling thread:
    with two threads, one pool worker analyses the chunks already read while the calling thread
    reads, and the calling thread then analyses what is left alongside it; with one thread
    (``threads=1``) everything runs in turn on the calling thread."""
    th = THRESHOLD if method == "jaccard" else None
    one = lambda: agree_batch(questions, method=method, threshold=th, threads=1)  # noqa: E731
    two = lambda: agree_batch(questions, method=method, threshold=th, threads=2)  # noqa: E731
    settle_threads(two)
    t_two, t_one = median_times_interleaved([two, one], repeat=PEER_REPEAT)
    record_threads(f"agreement {method}, {len(questions)} x {N_ANSWERS}", t_two, t_one)
