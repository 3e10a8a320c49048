"""A process forked after the parent used credo's kernels must be able to use them too.

rayon's worker threads do not survive ``fork()``: a child that hands work to a pool built by its
parent waits forever. gunicorn ``--preload``, multiprocessing's ``fork`` start method and Celery
all fork a warmed-up parent, so every kernel that runs in a pool is tried in a forked child (and
in a child of a child), each with a timeout.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Callable

import pytest

from tests.robustness._entry_points import CASES

TIMEOUT_S = 30.0

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork"),
    # Python 3.12+ warns on fork() in a process with threads; forking is what is under test.
    pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning"),
]


@pytest.fixture(scope="module", autouse=True)
def warm_parent() -> None:
    """Runs every entry point once in this process, so its thread pools exist before forking."""
    for run in CASES.values():
        run()


def _wait(pid: int, timeout_s: float = TIMEOUT_S) -> int | None:
    """The exit status of child ``pid``, or None (after killing it) if it outlives ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


def _in_child(body: Callable[[], object]) -> int | None:
    """Runs ``body`` in a forked child; its exit code (0 on success), or None on a hang."""
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            body()
            code = 0
        finally:
            os._exit(code)
    return _wait(pid)


@pytest.mark.parametrize("name", sorted(CASES))
def test_entry_point_runs_in_forked_child(name: str) -> None:
    code = _in_child(CASES[name])
    assert code is not None, f"{name} hung in a forked child"
    assert code == 0, f"{name} failed in a forked child (exit code {code})"


def test_grandchild_after_child_used_every_entry_point() -> None:
    def child() -> None:
        for run in CASES.values():
            run()
        code = _in_child(lambda: [run() for run in CASES.values()])
        if code != 0:
            raise SystemExit(f"grandchild exit code {code}")

    code = _in_child(child)
    assert code == 0, "a child of a forked child hung or failed" if code is None else f"exit code {code}"


def _run_case(name: str) -> str:
    CASES[name]()
    return name


def test_multiprocessing_fork_pool() -> None:
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as pool:
        result = pool.map_async(_run_case, sorted(CASES))
        assert sorted(result.get(timeout=TIMEOUT_S * 2)) == sorted(CASES)
