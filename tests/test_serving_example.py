"""The serving example, run as real processes: a replaying upstream, the credo proxy (uvicorn,
and gunicorn with --preload and 2 workers), real HTTP through the real ``openai`` client.

Every decision that comes back over HTTP must equal, field for field, the decision computed in
this process from the same recorded bytes.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")
openai = pytest.importorskip("openai")

import credo  # noqa: E402
from credo.serving import ResponseDecider, decision_dict  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "serving"
FEATURES = ["mean_entropy", "max_entropy", "mean_logprob", "min_logprob", "mean_margin", "not_top1"]
POLICY = """
threshold = 0.6
gray_zone = [0.35, 0.6]
[domains.general]
[domains.medical]
stakes = "high"
threshold = 0.9
"""


def _recordings_module():
    spec = importlib.util.spec_from_file_location("credo_example_recordings", EXAMPLE / "recordings.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            raise AssertionError(f"server exited with {proc.returncode}:\n{out}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"{url} not ready after {timeout} s")


@contextlib.contextmanager
def _serve(cmd: list[str], port: int, env: dict[str, str] | None = None):
    full_env = {**os.environ, "PYTHONPATH": str(ROOT / "python"), **(env or {})}
    proc = subprocess.Popen(cmd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT)
    failed = False
    try:
        _wait_ready(f"http://127.0.0.1:{port}/health", proc)
        yield proc
    except BaseException:
        failed = True
        raise
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            if failed:  # the server's own account of what went wrong, in the test's output
                print(proc.stdout.read().decode(errors="replace")[-4000:])
            proc.stdout.close()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    rec = _recordings_module()
    tmp = tmp_path_factory.mktemp("serving")
    recordings = tmp / "recordings"
    rec.write(recordings, n=8, tokens=256, top=20, seed=1)
    # A model fitted on summaries of other responses of the same generator, labelled as they are.
    rng = np.random.default_rng(7)
    rows, labels = [], []
    for i in range(300):
        body, mean_lp = rec.completion(rng, tokens=48, top=20, flavour="openai", idx=i)
        top = credo.formats.from_openai(body)
        s = credo.signals.topk_summary(top.top_logprobs, top.chosen_logprob)
        rows.append([getattr(s, f) for f in FEATURES])
        labels.append(rng.uniform() < 1 / (1 + np.exp(-4 * (mean_lp + 0.6))))
    model = credo.ConfidenceModel(features=FEATURES, holdout=0.0).fit(np.array(rows), np.array(labels, float))
    model.save(tmp / "model.json")
    (tmp / "policy.toml").write_text(POLICY)
    decider = ResponseDecider(credo.load(tmp / "model.json"), credo.Policy.from_toml(tmp / "policy.toml"))
    names = sorted(p.name for p in recordings.glob("*-*.json"))
    return {"tmp": tmp, "recordings": recordings, "names": names, "decider": decider}


@pytest.fixture(scope="module")
def upstream(setup):
    port = _free_port()
    cmd = [sys.executable, str(EXAMPLE / "upstream.py"), str(setup["recordings"]), "--port", str(port)]
    with _serve(cmd, port):
        yield f"http://127.0.0.1:{port}/v1"


def _proxy_env(setup, upstream: str, **extra: str) -> dict[str, str]:
    return {
        "CREDO_UPSTREAM": upstream,
        "CREDO_MODEL": str(setup["tmp"] / "model.json"),
        "CREDO_POLICY": str(setup["tmp"] / "policy.toml"),
        **extra,
    }


@pytest.fixture(scope="module")
def proxy(setup, upstream):
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "--app-dir",
        str(EXAMPLE),
        "proxy:app",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    with _serve(cmd, port, _proxy_env(setup, upstream)):
        yield f"http://127.0.0.1:{port}/v1"


def _expected(setup, name: str, **policy_args) -> dict:
    raw = (setup["recordings"] / name).read_bytes()
    return decision_dict(setup["decider"].decide(raw, **policy_args))


def test_plain_completions_carry_the_decision(setup, proxy):
    client = openai.OpenAI(base_url=proxy, api_key="test", max_retries=0)
    actions = set()
    for name in setup["names"]:
        for domain in (None, "medical"):
            headers = {"x-replay": name} | ({"x-credo-domain": domain} if domain else {})
            completion = client.chat.completions.create(
                model="replay-model", messages=[{"role": "user", "content": "hi"}], extra_headers=headers
            )
            got = completion.model_extra["credo"]
            assert got == _expected(setup, name, domain=domain)
            actions.add(got["action"])
            body = json.loads((setup["recordings"] / name).read_bytes())
            assert completion.choices[0].message.content == body["choices"][0]["message"]["content"]
            assert len(completion.choices[0].logprobs.content) == 256
    assert len(actions) >= 2  # the recordings span confident and confused responses


def test_plain_body_is_the_upstreams_with_one_field_added(setup, proxy):
    """Over raw HTTP: every field of the upstream's body comes back as it was sent, ``"credo"``
    is the only one added (spliced into the bytes, not re-serialised), and the header agrees."""
    for name in setup["names"][:4]:
        r = httpx.post(
            f"{proxy}/chat/completions",
            json={"model": "replay-model", "messages": [{"role": "user", "content": "hi"}]},
            headers={"x-replay": name},
            timeout=30,
        )
        assert r.status_code == 200
        raw = (setup["recordings"] / name).read_bytes()
        expected = _expected(setup, name)
        assert r.content.startswith(raw[:-1] + b',"credo":')
        assert json.loads(r.content) == {**json.loads(raw), "credo": expected}
        assert r.headers["x-credo-action"] == expected["action"]
        assert int(r.headers["content-length"]) == len(r.content)


def test_splice_skips_trailing_whitespace(setup, monkeypatch):
    monkeypatch.setenv("CREDO_OFF", "1")  # the module only: no model loaded at import
    spec = importlib.util.spec_from_file_location("credo_example_proxy", EXAMPLE / "proxy.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    raw = (setup["recordings"] / setup["names"][0]).read_bytes()
    decision = setup["decider"].decide(raw)
    for tail in (b"", b"\n", b" \r\n\t "):
        out = mod._spliced(raw + tail, decision)
        assert json.loads(out) == {**json.loads(raw), "credo": decision_dict(decision)}
        assert out.endswith(b"}}")


def test_streamed_completion_ends_with_the_same_decision(setup, proxy):
    client = openai.OpenAI(base_url=proxy, api_key="test", max_retries=0)
    for name in setup["names"][:4]:
        stream = client.chat.completions.create(
            model="replay-model",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            extra_headers={"x-replay": name},
        )
        text, decisions = [], []
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                text.append(chunk.choices[0].delta.content)
            if (chunk.model_extra or {}).get("credo"):
                decisions.append(chunk.model_extra["credo"])
        assert len(decisions) == 1
        got = decisions[0]
        assert got.pop("n_tokens") == 256 and got.pop("stopped_early") is False
        assert got == _expected(setup, name)
        body = json.loads((setup["recordings"] / name).read_bytes())
        assert "".join(text) == body["choices"][0]["message"]["content"]


def test_stream_stops_when_running_confidence_collapses(setup, proxy):
    client = openai.OpenAI(base_url=proxy, api_key="test", max_retries=0)
    stream = client.chat.completions.create(
        model="replay-model",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        extra_headers={"x-replay": setup["names"][0], "x-credo-stop-below": "1.0"},  # nothing clears 1.0
    )
    info = [c.model_extra["credo"] for c in stream if (c.model_extra or {}).get("credo")]
    assert len(info) == 1 and info[0]["stopped_early"] is True
    assert info[0]["n_tokens"] == 32  # CREDO_STOP_MIN_TOKENS: the first check


def test_openai_integration_decides_from_raw_bytes(setup, upstream):
    from credo.integrations.openai import create

    client = openai.OpenAI(base_url=upstream, api_key="test", max_retries=0)
    for name in setup["names"][:3]:
        scored = create(
            client,
            setup["decider"],
            model="replay-model",
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-replay": name},
            domain="medical",
        )
        assert decision_dict(scored.decision) == _expected(setup, name, domain="medical")
        assert scored.completion.choices[0].logprobs is not None


def test_gunicorn_preload_two_workers(setup, upstream):
    """The app module (and credo's native pools, through the warm-up) is loaded in the parent
    before gunicorn forks its workers: every request must be answered by the forked workers."""
    pytest.importorskip("gunicorn")
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "--preload",
        "-w",
        "2",
        "-k",
        "uvicorn.workers.UvicornWorker",
        "--chdir",
        str(EXAMPLE),
        "-b",
        f"127.0.0.1:{port}",
        "--timeout",
        "120",
        # Longer than any request here: the default 2 s closes idle connections that the client
        # may be reusing at that moment when the machine is slow (a race, not credo's failure).
        "--keep-alive",
        "75",
        "proxy:app",
    ]
    env = _proxy_env(setup, upstream, CREDO_WARMUP=str(setup["recordings"]))
    with _serve(cmd, port, env):
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="test", max_retries=0, timeout=20)

        def one(i: int) -> bool:
            name = setup["names"][i % len(setup["names"])]
            c = client.chat.completions.create(
                model="replay-model", messages=[{"role": "user", "content": "hi"}], extra_headers={"x-replay": name}
            )
            return c.model_extra["credo"] == _expected(setup, name)

        with ThreadPoolExecutor(8) as pool:
            assert all(pool.map(one, range(32)))
            # The batch endpoint runs the parallel native kernels inside the forked workers.
            bodies = [json.loads((setup["recordings"] / n).read_bytes()) for n in setup["names"]]
            expected = [decision_dict(d) for d in setup["decider"].decide_batch(bodies)]

            def many(_: int) -> bool:
                r = httpx.post(f"http://127.0.0.1:{port}/v1/credo/decide", json=bodies, timeout=20)
                return r.status_code == 200 and r.json() == expected

            assert all(pool.map(many, range(8)))
