"""Runs the fuzz targets of ``targets.py`` with atheris (libFuzzer for Python), each in its own
process for a fixed time, and prints the executions run per target.

    python fuzz/run.py                      # every target, 60 s each
    python fuzz/run.py --seconds 5          # the brief CI run
    python fuzz/run.py arithmetic evidence  # some targets

The seed corpus (``fuzz/corpus/<target>/``, plus artefacts saved by credo itself for ``load``) is
copied to a scratch folder, so the run never writes into the repository. A crash, or any
exception other than a CredoError, stops that target; its input is written to ``--artifacts``
(default ``fuzz-artifacts/``) and the exit status is 1.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _one(target: str) -> None:
    """The child: fuzz ``target`` (libFuzzer's own arguments follow in sys.argv)."""
    import atheris

    with atheris.instrument_imports(include=["credo"]):
        import targets

    def test_one_input(data: bytes) -> None:
        targets.call(target, data)

    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


def _artefact_seeds(into: Path) -> None:
    """Artefacts saved by credo itself, the load target's best seeds."""
    import numpy as np

    import credo

    rng = np.random.default_rng(0)
    p = rng.uniform(size=200)
    y = (rng.uniform(size=200) < p).astype(int)
    fitted = [credo.IsotonicCalibrator().fit(p, y), credo.HistogramBinning(n_bins=5).fit(p, y)]
    for i, obj in enumerate(fitted):
        obj.save(into / f"saved-{i}.json")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("targets", nargs="*", help="targets to run (default: all)")
    ap.add_argument("--seconds", type=float, default=60.0, help="fuzzing time per target")
    ap.add_argument("--artifacts", default="fuzz-artifacts", help="where crashing inputs go")
    ap.add_argument("--max-len", type=int, default=4096, help="longest input tried")
    ap.add_argument(
        "--known-failing",
        default="",
        help="comma-separated targets whose failure is already reported: printed, not fatal",
    )
    args = ap.parse_args()
    import targets

    names = args.targets or list(targets.TARGETS)
    unknown = set(names) - set(targets.TARGETS)
    if unknown:
        ap.error(f"unknown targets {sorted(unknown)} (known: {', '.join(targets.TARGETS)})")
    artifacts = Path(args.artifacts).resolve()
    artifacts.mkdir(parents=True, exist_ok=True)
    failed = []
    total_runs = 0
    for name in names:
        with tempfile.TemporaryDirectory(prefix=f"credo-fuzz-{name}-") as scratch:
            corpus = Path(scratch) / "corpus"
            seeds = HERE / "corpus" / name
            shutil.copytree(seeds, corpus) if seeds.is_dir() else corpus.mkdir()
            if name == "load":
                _artefact_seeds(corpus)
            cmd = [
                sys.executable,
                str(Path(__file__).resolve()),
                "--child",
                name,
                f"-max_total_time={max(1, round(args.seconds))}",
                f"-max_len={args.max_len}",
                "-timeout=10",
                "-rss_limit_mb=4096",
                f"-artifact_prefix={artifacts}/{name}-",
                "-print_final_stats=1",
                str(corpus),
            ]
            start = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=scratch, env=os.environ.copy())
            took = time.perf_counter() - start
        log = proc.stdout + proc.stderr
        runs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", log) or re.findall(r"Done (\d+) runs", log)
        n = int(runs[-1]) if runs else 0
        total_runs += n
        status = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
        print(f"fuzz {name:<12} {n:>9} executions in {took:5.1f} s  {status}", flush=True)
        if proc.returncode != 0:
            failed.append(name)
            print("\n".join(log.splitlines()[-40:]), file=sys.stderr)
    known = set(filter(None, args.known_failing.split(",")))
    print(f"fuzz: {total_runs} executions over {len(names)} targets; failed: {', '.join(failed) or 'none'}")
    if known & set(failed):
        print(f"fuzz: known and reported failures, not fatal here: {', '.join(sorted(known & set(failed)))}")
    return 1 if set(failed) - known else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:  # python run.py --child TARGET <libFuzzer arguments>
        target = sys.argv[2]
        sys.argv = [sys.argv[0], *sys.argv[3:]]
        _one(target)
    sys.exit(main())
