"""A bounded load test on loopback: the latency credo adds to a proxied chat completion.

Starts the replaying upstream and two copies of the proxy — one deciding with credo, one
forwarding only (``CREDO_OFF=1``) — then sends the same requests to both in turn, one round of
``--concurrency`` concurrent requests at a time, the order swapped every other round (A B B A:
a slow stretch of the machine hits both alike), and prints p50 / p99 latency and requests/s of
each, and what credo adds. On Linux it also reads each proxy process's CPU time and minor page
faults per request from ``/proc`` (the server's own work: steadier than latency on a busy
machine, as it does not count the time spent waiting for a core).

    python examples/serving/loadtest.py [--requests 2000] [--concurrency 4] [--tokens 256]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FEATURES = ["mean_entropy", "max_entropy", "mean_logprob", "min_logprob", "mean_margin", "not_top1"]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _server(cmd: list[str], port: int, env: dict[str, str]):
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"server {cmd} did not start")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def prepare(tmp: Path, tokens: int) -> None:
    """Recordings, a fitted model and a policy in ``tmp``."""
    sys.path.insert(0, str(HERE))
    import recordings

    import credo

    recordings.write(tmp / "rec", n=16, tokens=tokens, top=20, seed=3)
    rng = np.random.default_rng(5)
    rows, labels = [], []
    for i in range(200):
        body, mean_lp = recordings.completion(rng, tokens=48, top=20, flavour="openai", idx=i)
        top = credo.formats.from_openai(body)
        s = credo.signals.topk_summary(top.top_logprobs, top.chosen_logprob)
        rows.append([getattr(s, f) for f in FEATURES])
        labels.append(rng.uniform() < 1 / (1 + np.exp(-4 * (mean_lp + 0.6))))
    credo.ConfidenceModel(features=FEATURES, holdout=0.0).fit(np.array(rows), np.array(labels, float)).save(
        tmp / "model.json"
    )
    (tmp / "policy.toml").write_text("threshold = 0.6\ngray_zone = [0.35, 0.6]\n[domains.general]\n")


async def _round(client: httpx.AsyncClient, url: str, n: int, out: list[float]) -> None:
    """``n`` concurrent requests; their latencies appended to ``out``."""
    payload = {"model": "replay-model", "messages": [{"role": "user", "content": "hi"}]}

    async def one() -> None:
        t0 = time.perf_counter()
        # Read to the end but keep nothing: a kept body (r.content) would sit in httpx's reference
        # cycle until a GC pass, and the client's pauses would land on either proxy's latency.
        async with client.stream("POST", url, json=payload) as r:
            async for _ in r.aiter_raw():
                pass
        out.append(time.perf_counter() - t0)
        r.raise_for_status()

    await asyncio.gather(*(one() for _ in range(n)))


def _usage(pid: int | None) -> tuple[float, int] | None:
    """CPU seconds and minor page faults of process ``pid`` so far (all its threads; Linux)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        cpu = 0
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                cpu += int(f.read().split()[0])  # nanoseconds on a CPU, finer than stat's ticks
    except (OSError, TypeError, IndexError, ValueError):
        return None
    return cpu / 1e9, int(fields[7])


async def measure(
    on: str,
    off: str,
    *,
    requests: int,
    concurrency: int,
    warmup: int = 20,
    pids: dict[str, int] | None = None,
) -> dict[str, dict]:
    """Latency percentiles (and, given the proxies' ``pids``, CPU time and page faults per
    request) of ``requests`` requests to each proxy, sent in alternating rounds."""
    urls = {"credo": f"{on}/v1/chat/completions", "forward only": f"{off}/v1/chat/completions"}
    lat: dict[str, list[float]] = {name: [] for name in urls}
    wall = dict.fromkeys(urls, 0.0)
    pids = pids or {}
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=concurrency * 2)) as client:
        for url in urls.values():  # connections open, caches and the allocator warm
            for _ in range(max(1, warmup // concurrency)):
                await _round(client, url, concurrency, [])
        before = {name: _usage(pids.get(name)) for name in urls}
        order = list(urls)
        gc.disable()  # the client's own collections out of the timings (it keeps little)
        try:
            for i in range(-(-requests // concurrency)):
                for name in order if i % 2 == 0 else order[::-1]:
                    t0 = time.perf_counter()
                    await _round(client, urls[name], concurrency, lat[name])
                    wall[name] += time.perf_counter() - t0
        finally:
            gc.enable()
        after = {name: _usage(pids.get(name)) for name in urls}
    out: dict[str, dict] = {}
    for name, xs in lat.items():
        a = np.array(xs) * 1e3
        out[name] = {
            "p50_ms": float(np.percentile(a, 50)),
            "p99_ms": float(np.percentile(a, 99)),
            "requests_per_s": len(xs) / wall[name],
            "n": len(xs),
        }
        b, e = before[name], after[name]
        if b is not None and e is not None:
            out[name]["cpu_ms_per_request"] = (e[0] - b[0]) * 1e3 / len(xs)
            out[name]["page_faults_per_request"] = (e[1] - b[1]) / len(xs)
    out["added"] = {
        "p50_ms": out["credo"]["p50_ms"] - out["forward only"]["p50_ms"],
        "p99_ms": out["credo"]["p99_ms"] - out["forward only"]["p99_ms"],
    }
    if "cpu_ms_per_request" in out["credo"] and "cpu_ms_per_request" in out["forward only"]:
        for key in ("cpu_ms_per_request", "page_faults_per_request"):
            out["added"][key] = out["credo"][key] - out["forward only"][key]
    return out


def run(*, requests: int, concurrency: int, tokens: int) -> dict[str, dict]:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        prepare(tmp, tokens)
        py = sys.executable
        env = {"PYTHONPATH": str(ROOT / "python")}
        up = _port()
        with _server([py, str(HERE / "upstream.py"), str(tmp / "rec"), "--port", str(up)], up, env):
            proxy_env = {
                **env,
                "CREDO_UPSTREAM": f"http://127.0.0.1:{up}/v1",
                "CREDO_MODEL": str(tmp / "model.json"),
                "CREDO_POLICY": str(tmp / "policy.toml"),
            }
            p_on, p_off = _port(), _port()
            cmd = [py, "-m", "uvicorn", "--app-dir", str(HERE), "proxy:app", "--log-level", "warning", "--port"]
            with (
                _server([*cmd, str(p_on)], p_on, proxy_env) as (on, pid_on),
                _server([*cmd, str(p_off)], p_off, {**proxy_env, "CREDO_OFF": "1"}) as (off, pid_off),
            ):
                pids = {"credo": pid_on, "forward only": pid_off}
                return asyncio.run(measure(on, off, requests=requests, concurrency=concurrency, pids=pids))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--tokens", type=int, default=256)
    a = ap.parse_args()
    res = run(requests=a.requests, concurrency=a.concurrency, tokens=a.tokens)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
