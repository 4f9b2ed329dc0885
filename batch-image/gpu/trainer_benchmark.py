"""Tokens per second and model FLOPs utilisation of the student trainer on one GPU.

Builds a TinyLlama-1.1B-sized Llama with random weights (22 layers, hidden
2048, 32 heads, 4 key-value heads, MLP 5632, vocabulary 32000). Then it times
full optimizer steps of the trainer's own `run_step` with bf16 autocast, fp32
master weights and AdamW, alternating the guided and the baseline loss.

    python batch-image/gpu/trainer_benchmark.py --micro-batch-size 8 --sequence-length 2048
    python batch-image/gpu/trainer_benchmark.py --tiny    # CPU smoke test of the script itself

MFU counts 6 × (parameters without the input embedding) + 12 × layers × hidden
× sequence length FLOPs per token (the PaLM paper's estimate, attention
included, causal masking ignored) against `--peak-tflops` of dense bf16
(default 989: the H100 and H200 SXM datasheet value). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vocagno_trainer.benchmark import random_micro_batches  # noqa: E402
from vocagno_trainer.config import GuidedLossConfig  # noqa: E402
from vocagno_trainer.step import run_step  # noqa: E402

TINYLLAMA = {
    "vocab_size": 32000,
    "hidden_size": 2048,
    "intermediate_size": 5632,
    "num_hidden_layers": 22,
    "num_attention_heads": 32,
    "num_key_value_heads": 4,
    "max_position_embeddings": 2048,
    "rms_norm_eps": 1e-5,
}
TINY = {
    **TINYLLAMA,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
}


def flops_per_token(model: LlamaForCausalLM, config: LlamaConfig, sequence_length: int) -> float:
    matmul_parameters = sum(parameter.numel() for parameter in model.parameters()) - (
        model.get_input_embeddings().weight.numel()
    )
    attention = 12 * config.num_hidden_layers * config.hidden_size * sequence_length
    return 6 * matmul_parameters + attention


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--micro-batch-size", type=int, default=8, help="sequences per step (default 8)")
    parser.add_argument(
        "--sequence-length", type=int, default=2048, help="tokens per sequence (default 2048)"
    )
    parser.add_argument("--steps", type=int, default=10, help="timed steps per variant (default 10)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per variant first (default 3)")
    parser.add_argument(
        "--peak-tflops", type=float, default=989.0, help="dense bf16 peak, TFLOP/s (default 989)"
    )
    parser.add_argument("--compile", action="store_true", help="wrap the model in torch.compile")
    parser.add_argument("--tiny", action="store_true", help="2-layer model, for a CPU check of this script")
    arguments = parser.parse_args()

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    config = LlamaConfig(**(TINY if arguments.tiny else TINYLLAMA), attn_implementation="sdpa")
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).to(device)
    model.train()
    if arguments.compile:
        model.compile()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=device.type == "cuda")
    batches = random_micro_batches(1, arguments.micro_batch_size, arguments.sequence_length, device, seed=1)

    def autocast() -> contextlib.AbstractContextManager:
        if device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def step(variant: str) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        run_step(model, batches, variant, GuidedLossConfig(), autocast)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    times: dict[str, list[float]] = {"guided": [], "baseline": []}
    for repeat in range(arguments.warmup + arguments.steps):
        for variant in ("guided", "baseline") if repeat % 2 == 0 else ("baseline", "guided"):
            seconds = step(variant)
            if repeat >= arguments.warmup:
                times[variant].append(seconds)

    tokens = arguments.micro_batch_size * arguments.sequence_length
    per_token = flops_per_token(model, config, arguments.sequence_length)
    result: dict[str, object] = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "parameters": sum(parameter.numel() for parameter in model.parameters()),
        "micro_batch_size": arguments.micro_batch_size,
        "sequence_length": arguments.sequence_length,
        "compile": arguments.compile,
        "peak_tflops": arguments.peak_tflops,
        "flops_per_token": per_token,
    }
    medians = {variant: statistics.median(samples) for variant, samples in times.items()}
    for variant, median in medians.items():
        tokens_per_second = tokens / median
        result[variant] = {
            "median_step_seconds": median,
            "tokens_per_second": tokens_per_second,
            "mfu": tokens_per_second * per_token / (arguments.peak_tflops * 1e12),
        }
    result["guided_over_baseline"] = (
        result["guided"]["median_step_seconds"] / result["baseline"]["median_step_seconds"]
    )  # type: ignore[index]
    if device.type == "cuda":
        result["max_memory_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    print(json.dumps(result))


if __name__ == "__main__":
    main()
