"""Score a transformers model's ``generate`` output where it lives: on the GPU, without a copy.

The model is a small Llama (4 layers, a Llama-3-sized vocabulary of 128,256 tokens) with
RANDOMLY INITIALISED weights: nothing is downloaded, so its text is noise, but the logits have
the shapes, dtype and device of a real model's, and every call below is what you would write for
a real one (``AutoModelForCausalLM.from_pretrained(...)`` instead of ``LlamaForCausalLM(config)``).

``generate(output_logits=True, output_scores=True)`` hands back, per step, the raw logits and
the scores after the logits processors (temperature, top-k, ...), each ``[B, V]`` on the device.
credo computes the token signals on that device (the fused Triton kernel for CUDA tensors when
triton is installed, otherwise its array-API implementation) and returns torch tensors there;
the script checks them against credo's CPU kernel on a copy.

    python examples/gpu_generate.py [--device cuda] [--batch 8] [--new-tokens 48]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from transformers import LlamaConfig, LlamaForCausalLM

import credo


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--new-tokens", type=int, default=48)
    args = ap.parse_args()
    torch.manual_seed(0)
    dtype = torch.bfloat16 if args.device == "cuda" else torch.float32
    config = LlamaConfig(
        vocab_size=128_256,
        hidden_size=256,
        intermediate_size=512,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
    )
    model = LlamaForCausalLM(config).to(device=args.device, dtype=dtype).eval()
    print(
        f"randomly initialised Llama: {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters, "
        f"{dtype}, on {args.device}"
    )
    prompt = torch.randint(3, config.vocab_size, (args.batch, 12), device=args.device)
    with torch.no_grad():
        out = model.generate(
            prompt,
            attention_mask=torch.ones_like(prompt),
            max_new_tokens=args.new_tokens,
            min_new_tokens=args.new_tokens,
            do_sample=True,
            temperature=0.8,
            top_k=50,
            output_logits=True,
            output_scores=True,
            return_dict_in_generate=True,
        )
    chosen = out.sequences[:, prompt.shape[1] :]  # [B, T] sampled ids
    logits = torch.stack(out.logits, dim=1)  # [B, T, V] raw logits, on the device
    scores = torch.stack(out.scores, dim=1)  # after temperature and top-k: -inf outside the top 50
    print(f"logits {tuple(logits.shape)} {logits.dtype} on {logits.device}")

    raw = credo.token_signals(logits, chosen, temperature=0.8)  # the sampler's distribution before top-k
    processed = credo.token_signals(scores, chosen, processed=True)  # what was actually sampled from
    print(f"computed by: {raw.simd}; results are {type(raw.entropy).__name__} on {raw.entropy.device}")
    assert raw.entropy.device == logits.device

    # The same numbers as the CPU kernel on a copy (the only copy in this script, for the check).
    cpu = credo.token_signals(logits.cpu(), chosen.cpu(), temperature=0.8)
    for name, want in cpu.to_dict().items():
        got = getattr(raw, name).cpu().numpy()
        if want.dtype.kind in "iu":
            assert np.array_equal(got, want), name
        else:
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=name)
    print("device results equal the CPU kernel's (relative 1e-5)")

    # Per-sequence summaries with torch, still on the device.
    print("\nsequence  mean entropy (T=0.8)  mean entropy (top-50)  mean logprob  sampled = argmax")
    for b in range(args.batch):
        sampled_argmax = (processed.chosen_rank[b] == 0).float().mean().item()
        print(
            f"{b:8d}  {raw.entropy[b].mean().item():20.3f}  {processed.entropy[b].mean().item():21.3f}"
            f"  {processed.chosen_logprob[b].mean().item():12.3f}  {sampled_argmax:16.2f}"
        )
    # Metrics take device arrays too: how well the top-1 probability ranks "sampled the argmax".
    top1 = processed.max_logprob.exp().flatten()
    is_top1 = (processed.chosen_rank == 0).flatten().to(top1.dtype)
    if 0 < is_top1.sum() < is_top1.numel():
        auc = credo.metrics.auroc(is_top1, top1)
        ece = credo.metrics.ece(is_top1, top1)
        print(f"\nAUROC {float(auc):.3f}, ECE {float(ece):.3f} (tensors on {auc.device}; noise for random weights)")


if __name__ == "__main__":
    main()
