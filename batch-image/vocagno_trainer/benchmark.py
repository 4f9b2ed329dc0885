"""Step time of the guided loss against the baseline on the same model and data.

`python -m vocagno_trainer.benchmark [--repeats N] [--json]` alternates one
guided and one baseline optimizer step per repeat, after a warmup, and reports
the median seconds per step of each and their ratio. Alternating makes both
variants share the machine's load, and the median ignores the odd slow step.
Each step is timed twice: wall time, and the CPU time of this process, which a
machine shared with other jobs disturbs less (on CPU runs only).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import math
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from .config import GuidedLossConfig
from .step import MicroBatch, run_step


@dataclass
class StepTimeResult:
    label: str
    guided_median_seconds: float
    baseline_median_seconds: float
    guided_over_baseline: float
    guided_median_cpu_seconds: float
    baseline_median_cpu_seconds: float
    guided_over_baseline_cpu: float
    repeats: int
    micro_batch_size: int
    gradient_accumulation_steps: int
    sequence_length: int
    device: str


def tiny_llama(hidden_size: int, layers: int, seed: int) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=32000,
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
    )
    return LlamaForCausalLM(config)


def random_micro_batches(
    count: int, rows: int, length: int, device: torch.device, seed: int, unmapped_share: float = 0.1
) -> list[MicroBatch]:
    """Uniform token ids and teacher losses in [0, 6) nats, `unmapped_share` of them NaN."""
    generator = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(count):
        ids = torch.randint(3, 32000, (rows, length + 1), generator=generator)
        teacher = torch.rand(rows, length, generator=generator) * 6
        teacher[torch.rand(rows, length, generator=generator) < unmapped_share] = math.nan
        batches.append(MicroBatch(ids[:, :-1].to(device), ids[:, 1:].to(device), teacher.to(device)))
    return batches


def time_steps(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    micro_batches: list[MicroBatch],
    variant: str,
    autocast: Callable[[], contextlib.AbstractContextManager],
    guided: GuidedLossConfig,
) -> tuple[float, float]:
    """Run one full optimizer step and return its wall time and process CPU time in seconds."""
    if micro_batches[0].input_ids.is_cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    cpu_start = time.process_time()
    run_step(model, micro_batches, variant, guided, autocast)
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    if micro_batches[0].input_ids.is_cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - start, time.process_time() - cpu_start


def compare_variants(
    label: str,
    model: torch.nn.Module,
    micro_batches: list[MicroBatch],
    repeats: int,
    warmup: int,
    autocast: Callable[[], contextlib.AbstractContextManager],
    guided: GuidedLossConfig,
) -> StepTimeResult:
    models = {"guided": model, "baseline": copy.deepcopy(model)}
    optimizers = {variant: torch.optim.AdamW(models[variant].parameters(), lr=1e-4) for variant in models}
    times: dict[str, list[float]] = {"guided": [], "baseline": []}
    cpu_times: dict[str, list[float]] = {"guided": [], "baseline": []}
    for repeat in range(warmup + repeats):
        # Alternate which variant goes first, so neither always follows the other.
        order = ("guided", "baseline") if repeat % 2 == 0 else ("baseline", "guided")
        for variant in order:
            seconds, cpu_seconds = time_steps(
                models[variant], optimizers[variant], micro_batches, variant, autocast, guided
            )
            if repeat >= warmup:
                times[variant].append(seconds)
                cpu_times[variant].append(cpu_seconds)
    guided_cpu = statistics.median(cpu_times["guided"])
    baseline_cpu = statistics.median(cpu_times["baseline"])
    guided_median = statistics.median(times["guided"])
    baseline_median = statistics.median(times["baseline"])
    return StepTimeResult(
        label=label,
        guided_median_seconds=guided_median,
        baseline_median_seconds=baseline_median,
        guided_over_baseline=guided_median / baseline_median,
        guided_median_cpu_seconds=guided_cpu,
        baseline_median_cpu_seconds=baseline_cpu,
        guided_over_baseline_cpu=guided_cpu / baseline_cpu,
        repeats=repeats,
        micro_batch_size=micro_batches[0].input_ids.shape[0],
        gradient_accumulation_steps=len(micro_batches),
        sequence_length=micro_batches[0].input_ids.shape[1],
        device=str(micro_batches[0].input_ids.device),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--repeats", type=int, default=15, help="timed steps per variant and case (default 15)"
    )
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per variant first (default 2)")
    parser.add_argument("--sequence-length", type=int, default=256, help="tokens per sequence (default 256)")
    parser.add_argument(
        "--micro-batch-size", type=int, default=4, help="sequences per micro-batch (default 4)"
    )
    parser.add_argument("--hidden-size", type=int, default=64, help="tiny Llama hidden size (default 64)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    arguments = parser.parse_args()

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.set_num_threads(arguments.threads)

    def autocast() -> contextlib.AbstractContextManager:
        if device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    model = tiny_llama(arguments.hidden_size, 2, seed=0).to(device)
    results = []
    cases = (
        ("one micro-batch per step", 1, GuidedLossConfig()),
        ("two micro-batches, recompute", 2, GuidedLossConfig(accumulation="recompute")),
        ("two micro-batches, retain", 2, GuidedLossConfig(accumulation="retain")),
    )
    for label, accumulation, guided in cases:
        batches = random_micro_batches(
            accumulation, arguments.micro_batch_size, arguments.sequence_length, device, seed=1
        )
        results.append(
            compare_variants(label, model, batches, arguments.repeats, arguments.warmup, autocast, guided)
        )
    machine = f"{platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}"
    if arguments.json:
        print(json.dumps({"machine": machine, "results": [asdict(result) for result in results]}))
        return
    print(f"machine: {machine}")
    for result in results:
        print(
            f"{result.label}: wall guided {result.guided_median_seconds * 1000:.1f} ms, baseline "
            f"{result.baseline_median_seconds * 1000:.1f} ms, ratio {result.guided_over_baseline:.3f}; "
            f"CPU guided {result.guided_median_cpu_seconds * 1000:.1f} ms, baseline "
            f"{result.baseline_median_cpu_seconds * 1000:.1f} ms, "
            f"ratio {result.guided_over_baseline_cpu:.3f} (medians of {result.repeats})"
        )


if __name__ == "__main__":
    main()
