"""Writes recorded upstream responses in the exact layouts OpenAI-compatible servers return.

Each recording is one chat completion with ``logprobs.content`` (token, logprob, bytes,
top_logprobs) and every field the real servers add (``id``, ``created``, ``model``,
``system_fingerprint``, ``usage``, ``finish_reason``, ``refusal``; vLLM's ``prompt_logprobs``
and ``stop_reason``). The logprobs come from softmax distributions of random sharpness, so the
responses range from confident to confused, as real traffic does; the ``answer_correct`` field
of the sidecar ``labels.json`` is drawn likelier right when the model is sure, so a
:class:`credo.ConfidenceModel` can be fitted on them.

    python examples/serving/recordings.py OUT_DIR [--n 16] [--tokens 256] [--top 20]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

WORDS = [
    "Paris",
    " is",
    " the",
    " capital",
    " of",
    " France",
    ".",
    " It",
    " has",
    " about",
    " 2",
    " million",
    " people",
    ",",
    " and",
    " é",
    "\u00fc",
    "\u4e2d",
    '"',
    "\\n",
    " 🙂",
]


def completion(rng: np.random.Generator, *, tokens: int, top: int, flavour: str, idx: int) -> dict:
    """One chat completion of ``tokens`` positions with ``top`` alternatives each."""
    sharp = rng.uniform(0.4, 4.0)
    content = []
    for _ in range(tokens):
        logits = rng.normal(size=64) * sharp
        lp = logits - math.log(float(np.exp(logits).sum()))
        order = np.argsort(-lp)
        pick = int(order[0] if rng.uniform() < 0.85 else order[rng.integers(1, 64)])
        tok = WORDS[pick % len(WORDS)] + (str(pick) if pick >= len(WORDS) else "")
        entries = []
        for j in order[:top]:
            t = WORDS[int(j) % len(WORDS)] + (str(int(j)) if j >= len(WORDS) else "")
            entries.append({"token": t, "logprob": float(lp[j]), "bytes": list(t.encode())})
        if top and rng.uniform() < 0.02:
            entries[-1]["logprob"] = -9999.0  # the sentinel some servers use for "outside the top-k"
        content.append({"token": tok, "logprob": float(lp[pick]), "bytes": list(tok.encode()), "top_logprobs": entries})
    text = "".join(c["token"] for c in content)
    choice = {
        "index": 0,
        "message": {"role": "assistant", "content": text, "refusal": None},
        "logprobs": {"content": content, "refusal": None},
        "finish_reason": "stop",
    }
    body = {
        "id": f"chatcmpl-{idx:06d}",
        "object": "chat.completion",
        "created": 1764806400 + idx,
        "model": "replay-model",
        "choices": [choice],
        "usage": {"prompt_tokens": 12, "completion_tokens": tokens, "total_tokens": 12 + tokens},
    }
    if flavour == "openai":
        body["system_fingerprint"] = "fp_replay"
        body["service_tier"] = "default"
    else:  # vLLM's OpenAI-compatible server
        choice["stop_reason"] = None
        body["prompt_logprobs"] = None
        body["kv_transfer_params"] = None
    return body, float(np.mean([c["logprob"] for c in content]))


def write(out: Path, *, n: int = 16, tokens: int = 256, top: int = 20, seed: int = 0) -> list[Path]:
    """Writes ``n`` recordings (alternating OpenAI and vLLM layouts) and ``labels.json``."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    paths, labels = [], {}
    for i in range(n):
        flavour = "openai" if i % 2 == 0 else "vllm"
        body, mean_lp = completion(rng, tokens=tokens, top=top, flavour=flavour, idx=i)
        p = out / f"{i:03d}-{flavour}.json"
        p.write_text(json.dumps(body, ensure_ascii=i % 4 != 1))  # both escaped and raw unicode
        paths.append(p)
        labels[p.name] = bool(rng.uniform() < 1 / (1 + math.exp(-4 * (mean_lp + 0.6))))
    (out / "labels.json").write_text(json.dumps(labels))
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    print(f"wrote {len(write(a.out, n=a.n, tokens=a.tokens, top=a.top, seed=a.seed))} recordings to {a.out}")


if __name__ == "__main__":
    main()
