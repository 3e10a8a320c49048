"""A tiny OpenAI-compatible upstream that replays recorded chat completions on loopback.

``POST /v1/chat/completions`` answers with the recording named by the ``x-replay`` request
header (a file name in the recordings folder), or the next one in turn. With ``"stream": true``
it sends the same completion as server-sent events, one token a chunk, in the layout OpenAI
streams (``chat.completion.chunk`` objects, ``logprobs.content`` per chunk, ``data: [DONE]``).

    python examples/serving/upstream.py RECORDINGS_DIR --port 8001
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections.abc import Iterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


def chunks(body: dict) -> Iterator[bytes]:
    """The completion as the SSE byte lines a streaming server sends."""
    base = {k: body[k] for k in ("id", "created", "model") if k in body}
    base["object"] = "chat.completion.chunk"
    choice = body["choices"][0]

    def event(delta: dict, logprobs: dict | None, finish: str | None) -> bytes:
        c = {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
        return b"data: " + json.dumps({**base, "choices": [c]}).encode() + b"\n\n"

    yield event({"role": "assistant", "content": ""}, None, None)
    for entry in choice["logprobs"]["content"]:
        yield event({"content": entry["token"]}, {"content": [entry], "refusal": None}, None)
    yield event({}, None, choice.get("finish_reason", "stop"))
    yield b"data: [DONE]\n\n"


def make_app(recordings: Path) -> Starlette:
    bodies = {p.name: p.read_bytes() for p in sorted(recordings.glob("*.json")) if p.name != "labels.json"}
    if not bodies:
        raise SystemExit(f"no recordings (*.json) in {recordings}")
    turn = itertools.cycle(sorted(bodies))

    async def completions(request: Request) -> Response:
        req = await request.json()
        name = request.headers.get("x-replay") or next(turn)
        raw = bodies.get(name)
        if raw is None:
            return JSONResponse({"error": {"message": f"no recording {name!r}"}}, status_code=404)
        if req.get("stream"):
            return StreamingResponse(chunks(json.loads(raw)), media_type="text/event-stream")
        return Response(raw, media_type="application/json")

    async def health(_: Request) -> Response:
        return JSONResponse({"ok": True, "recordings": len(bodies)})

    return Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"]), Route("/health", health)])


def main() -> None:
    import uvicorn

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("recordings", type=Path)
    ap.add_argument("--port", type=int, default=8001)
    a = ap.parse_args()
    uvicorn.run(make_app(a.recordings), host="127.0.0.1", port=a.port, log_level="warning")


if __name__ == "__main__":
    main()
