"""An OpenAI-compatible proxy that attaches credo's decision to every chat completion.

It forwards ``POST /v1/chat/completions`` to an upstream OpenAI-compatible server (OpenAI, vLLM,
or ``upstream.py`` beside this file), asking for the top-k logprobs, and decides each response
with a fitted :class:`credo.ConfidenceModel` and a :class:`credo.Policy`, compiled into one native
decision call (:func:`credo.serving.compile`: the upstream's body goes to Rust, the decision
comes back; ``/health`` says whether the native call is in use, and why not when it is not):

* a plain response comes back unchanged but for one added field, ``"credo"`` (the decision:
  action, confidence, tier, reasons, …) and the header ``x-credo-action``;
* ``POST /v1/credo/decide`` takes a JSON list of stored completions and decides them in one
  native batch call (the summaries computed in parallel, without the GIL);
* a streamed response is passed through chunk by chunk while credo's native stream reader
  (:class:`credo.formats.OpenAIStream`) keeps the running signals;
  one more chunk with empty ``choices`` and the ``"credo"`` field comes before ``data: [DONE]``.
  With ``CREDO_STOP_BELOW`` set (or a request's ``x-credo-stop-below`` header), a generation
  whose running confidence falls below it (after ``CREDO_STOP_MIN_TOKENS`` tokens) is stopped
  mid-stream and the decision says so.

Configuration (environment): ``CREDO_UPSTREAM`` (base URL with ``/v1``), ``CREDO_MODEL`` (a saved
ConfidenceModel), ``CREDO_POLICY`` (a policy TOML file), ``CREDO_TOP_LOGPROBS`` (default 20),
``CREDO_OFF=1`` (forward only: the same proxy without credo, the load test's baseline).

    uvicorn --app-dir examples/serving proxy:app --port 8000
    gunicorn --preload -w 2 -k uvicorn.workers.UvicornWorker --chdir examples/serving proxy:app
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

import credo
from credo.serving import ResponseDecider, decision_dict

UPSTREAM = os.environ.get("CREDO_UPSTREAM", "http://127.0.0.1:8001/v1")
TOP = int(os.environ.get("CREDO_TOP_LOGPROBS", "20"))
OFF = os.environ.get("CREDO_OFF") == "1"
STOP_BELOW = float(os.environ["CREDO_STOP_BELOW"]) if os.environ.get("CREDO_STOP_BELOW") else None
STOP_MIN_TOKENS = int(os.environ.get("CREDO_STOP_MIN_TOKENS", "32"))
CHECK_EVERY = 16  # tokens between mid-stream checks


def _keep_freed_memory() -> None:
    """Lets glibc keep freed memory for the next request rather than hand it back to the OS.

    The proxy with credo holds two bodies at once (the upstream's and the one with the decision
    spliced in, ~0.5 MB each). Freed together they exceed glibc's dynamic trim threshold (twice
    the largest block it has mmap'ed, ~1 MB here), so every request gave its memory back and
    its ~235 pages faulted in again on the next: as much CPU as the decision. Both proxies, with
    credo and without, run with these settings (``MALLOC_MMAP_THRESHOLD_`` and
    ``MALLOC_TRIM_THRESHOLD_`` in the environment do the same for any process)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return
    mallopt(-3, 16 << 20)  # M_MMAP_THRESHOLD: blocks up to 16 MB come from the heap and are reused
    mallopt(-1, 64 << 20)  # M_TRIM_THRESHOLD: up to 64 MB of free heap kept


def _decider() -> ResponseDecider | None:
    if OFF:
        return None
    model = credo.load(os.environ["CREDO_MODEL"])
    policy = credo.Policy.from_toml(Path(os.environ["CREDO_POLICY"]))
    decider = ResponseDecider(model, policy)
    if decider.native is None:
        print(f"credo: deciding in Python, the native call does not apply ({decider.native_error})", flush=True)
    warm = os.environ.get("CREDO_WARMUP")
    if warm:  # decide recorded traffic once at start-up (under gunicorn --preload: in the parent)
        decisions = decider.decide_batch([p.read_bytes() for p in sorted(Path(warm).glob("*-*.json"))])
        print(f"credo: warm-up decided {len(decisions)} recorded responses", flush=True)
    return decider


_keep_freed_memory()
DECIDER = _decider()
app = FastAPI(title="credo proxy")
_client: httpx.AsyncClient | None = None


def client() -> httpx.AsyncClient:
    """One connection pool per worker process (created after any fork)."""
    global _client
    if _client is None:
        _client = httpx.AsyncClient(base_url=UPSTREAM, timeout=60.0)
    return _client


def _forward_headers(request: Request) -> dict[str, str]:
    keep = ("authorization", "x-replay", "openai-organization", "openai-project")
    return {k: v for k, v in request.headers.items() if k.lower() in keep}


@app.get("/health")
async def health() -> dict:
    native = DECIDER is not None and DECIDER.native is not None
    return {"ok": True, "credo": DECIDER is not None, "native": native}


@app.post("/v1/credo/decide")
async def decide_many(request: Request) -> Response:
    """Decisions for a JSON list of stored chat completions, in one native batch call."""
    if DECIDER is None:
        return JSONResponse({"error": {"message": "credo is off in this proxy"}}, status_code=404)
    bodies = await request.json()
    try:
        decisions = DECIDER.decide_batch(bodies, domain=request.headers.get("x-credo-domain"))
    except credo.CredoError as exc:
        return JSONResponse({"error": {"message": f"credo: {exc}", "type": "credo_error"}}, status_code=422)
    return JSONResponse([decision_dict(d) for d in decisions])


@app.post("/v1/chat/completions")
async def chat_completions(request: Request) -> Response:
    params = await request.json()
    domain = request.headers.get("x-credo-domain")
    if DECIDER is not None:
        params["logprobs"] = True
        params.setdefault("top_logprobs", TOP)
    headers = _forward_headers(request)
    if params.get("stream"):
        stop = request.headers.get("x-credo-stop-below")
        stop_below = float(stop) if stop else STOP_BELOW
        return StreamingResponse(_stream(params, headers, domain, stop_below), media_type="text/event-stream")
    async with client().stream("POST", "/chat/completions", json=params, headers=headers) as r:
        # Not r.content: httpx's response object sits in a reference cycle, so the body it keeps
        # (~0.5 MB) would wait for the cyclic GC, which then frees dozens of them at once (a
        # millisecond's pause) while every new body's pages fault in afresh.
        raw = b"".join([chunk async for chunk in r.aiter_bytes()])
        status = r.status_code
    if status != 200 or DECIDER is None:
        return Response(raw, status_code=status, media_type="application/json")
    try:
        decision = DECIDER.decide(raw, domain=domain)
    except credo.CredoError as exc:  # the upstream's body is not what credo can score
        return JSONResponse({"error": {"message": f"credo: {exc}", "type": "credo_error"}}, status_code=502)
    action = decision.action.value
    return Response(_spliced(raw, decision), media_type="application/json", headers={"x-credo-action": action})


def _spliced(raw: bytes, decision: credo.Decision) -> bytes:
    """The upstream's body with the ``"credo"`` field added before its closing brace.

    Spliced in rather than re-serialised, and in one copy: the body is large (~0.5 MB with 20
    top logprobs a token) and each copy of it is a fresh allocation whose pages fault in
    (slicing and three ``+`` cost ~200 page faults a request, as much CPU as the decision)."""
    end = len(raw)
    while end and raw[end - 1] in b" \t\r\n":  # without raw.rstrip(), which may copy
        end -= 1
    extra = json.dumps(decision_dict(decision)).encode()
    return b"".join((memoryview(raw)[: end - 1], b',"credo":', extra, b"}"))


async def _stream(
    params: dict, headers: dict[str, str], domain: str | None, stop_below: float | None
) -> AsyncIterator[bytes]:
    # The native stream reader keeps the running top-k signals of each choice as the events pass
    # through (each position reduced on arrival); the decision reads its summary, never the
    # accumulated content.
    running = credo.formats.OpenAIStream() if DECIDER is not None else None
    n_tokens = checked = 0
    last: bytes = b""
    stopped = False
    async with client().stream("POST", "/chat/completions", json=params, headers=headers) as r:
        buf = b""
        async for piece in r.aiter_bytes():
            buf += piece
            while b"\n\n" in buf:
                event, buf = buf.split(b"\n\n", 1)
                data = event[6:] if event.startswith(b"data: ") else None
                if data == b"[DONE]":
                    continue  # sent after credo's own chunk
                yield event + b"\n\n"
                if running is None or data is None:
                    continue
                last = data
                new = running.feed(event + b"\n\n")  # positions added (the proxy asks for one choice)
                if not new:
                    continue
                n_tokens += new
                first = checked == 0 and n_tokens >= STOP_MIN_TOKENS
                if stop_below is not None and (first or (checked and n_tokens - checked >= CHECK_EVERY)):
                    checked = n_tokens
                    if DECIDER.decide_summary(running.summary(0)).confidence < stop_below:
                        stopped = True
                        break
            if stopped:
                break
    if running is not None and n_tokens:
        summary = running.summary(0)
        decision = DECIDER.decide_summary(summary, domain=domain)
        info = decision_dict(decision)
        info["n_tokens"] = summary.n_tokens
        info["stopped_early"] = stopped
        head = json.loads(last) if last else {}
        tail = {k: head[k] for k in ("id", "created", "model") if k in head}
        tail.update(object="chat.completion.chunk", choices=[], credo=info)
        yield b"data: " + json.dumps(tail).encode() + b"\n\n"
    yield b"data: [DONE]\n\n"
