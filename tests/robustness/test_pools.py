"""Thread pools stay bounded: one pool per thread count, at most a few of them, each capped at
the CPU count, and no thread outside credo's own pools (rayon's global pool does not survive a
fork, so credo must never start it)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import credo
from credo import metrics
from tests.conftest import subprocess_env

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")

MAX_POOLS = 4  # parallel.rs
rng = np.random.default_rng(3)
P = rng.uniform(size=100_000)
Y = (rng.uniform(size=P.size) < P).astype(np.int64)
LOGITS = rng.normal(size=(512, 256))
# fitted on few rows, which runs on the calling thread (the fit takes no thread count)
SETS = credo.ConformalSets().fit(np.c_[1 - P[:200], P[:200]], Y[:200])

THREADED = {
    "token_signals": lambda t: credo.token_signals(LOGITS, threads=t),
    "ece": lambda t: metrics.ece(Y, P, threads=t),
    "temperature": lambda t: credo.TemperatureScaling(threads=t).fit(np.c_[1 - P, P], Y),
    "agree_batch": lambda t: credo.agree_batch([["a", "b", "a"]] * 50, threads=t),
    "coverage_batch": lambda t: credo.evidence.coverage_batch(["Paris is big."], [["Paris is big."]], threads=t),
    "topk_summary_batch": lambda t: credo.topk_summary_batch([np.log(np.full((3, 2), 0.4))] * 20, threads=t),
    "bootstrap": lambda t: metrics.bootstrap(metrics.brier_score, Y[:2000], P[:2000], n_resamples=20, threads=t),
    "predict_sets": lambda t: SETS.predict_sets(np.c_[1 - P, P], threads=t),
}


def _run_in_fresh_process(body: str) -> str:
    """Runs ``body`` in a new interpreter (a clean thread count) and returns its stdout."""
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(body)],
        capture_output=True,
        text=True,
        timeout=300,
        env=subprocess_env(),
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_many_thread_counts_leave_a_bounded_number_of_threads() -> None:
    out = _run_in_fresh_process(
        """
        import os, time
        import numpy as np
        import credo
        from credo import metrics
        P = np.random.default_rng(0).uniform(size=200_000)
        Y = (P > 0.5).astype(np.int64)
        L = np.random.default_rng(0).normal(size=(256, 64))
        before = len(os.listdir("/proc/self/task"))
        for t in [*range(1, 65), 1500, None]:
            credo.token_signals(L, threads=t)
            metrics.ece(Y, P, threads=t)
        # evicted pools' threads exit on their own, shortly after the pool is dropped
        for _ in range(200):
            extra = len(os.listdir("/proc/self/task")) - before
            if extra <= 4 * os.cpu_count():
                break
            time.sleep(0.05)
        print(extra, os.cpu_count())
        """
    )
    extra, cpus = map(int, out.split())
    assert extra <= MAX_POOLS * cpus, f"{extra} threads left for {cpus} CPUs"


def _thread_names() -> dict[str, str]:
    names = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            names[tid] = Path(f"/proc/self/task/{tid}/comm").read_text().strip()
        except OSError:  # the thread exited meanwhile
            pass
    return names


def test_every_thread_credo_starts_belongs_to_a_credo_pool() -> None:
    before = _thread_names()
    for run in THREADED.values():
        run(None)
        run(2)
    new = {tid: name for tid, name in _thread_names().items() if tid not in before}
    strangers = sorted(name for name in new.values() if not name.startswith("credo-"))
    assert not strangers, f"threads outside credo's pools: {strangers}"


def test_one_thread_starts_no_thread() -> None:
    """``threads=1`` runs on the calling thread: no pool (a hand-off to a pool of one and back
    cost two thread wake-ups, about 125 µs a call on a 2-core VM)."""
    out = _run_in_fresh_process(
        """
        import os
        from tests.robustness.test_pools import THREADED
        before = len(os.listdir("/proc/self/task"))
        for run in THREADED.values():
            run(1)
        print(len(os.listdir("/proc/self/task")) - before)
        """
    )
    assert int(out) == 0, f"{out.strip()} threads started for threads=1"


def test_absurd_thread_counts_run_on_at_most_the_cpu_count() -> None:
    out = _run_in_fresh_process(
        """
        import os
        import numpy as np
        import credo
        before = len(os.listdir("/proc/self/task"))
        credo.token_signals(np.random.default_rng(0).normal(size=(512, 64)), threads=1500)
        print(len(os.listdir("/proc/self/task")) - before, os.cpu_count())
        """
    )
    extra, cpus = map(int, out.split())
    assert extra <= cpus


@pytest.mark.parametrize("name", sorted(THREADED))
@pytest.mark.parametrize("threads", [0, -1, 2**64, 1.5, "2", True])
def test_bad_thread_counts_are_credo_errors_naming_threads(name: str, threads: object) -> None:
    with pytest.raises(credo.InvalidArgumentError, match=r"^threads: "):
        THREADED[name](threads)


def test_a_capped_thread_count_gives_the_same_numbers() -> None:
    assert metrics.ece(Y, P, threads=1) == metrics.ece(Y, P, threads=10**6)
    a, b = credo.token_signals(LOGITS, threads=1), credo.token_signals(LOGITS, threads=10**6)
    np.testing.assert_array_equal(a.entropy, b.entropy)
