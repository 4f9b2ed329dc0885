"""The training loop: data, optimizer, schedule, evaluation, checkpoints and the final model."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import random
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_state_dict,
    set_state_dict,
)
from torch.nn.parallel import DistributedDataParallel

from . import checkpoint, storage
from .config import OPERATIONAL_FIELDS, ConfigError, TrainConfig, changed_run_fields, parse_config
from .data import IGNORE_INDEX, DataPosition, PackedBatch, SequencePacker, packed_eval_batches, read_manifest
from .logs import configure_logging, set_step
from .model import load_student
from .step import MicroBatch, run_step

log = logging.getLogger(__name__)

VARIANTS = ("guided", "baseline")
FINAL_MARKER = "vocagno-final.json"


@dataclass
class TrainResult:
    status: str  # "completed", "interrupted" (SIGTERM) or "stopped" (stop_at_step)
    step: int
    eval_loss: float | None


@dataclass
class _Environment:
    rank: int
    world_size: int
    device: torch.device


def _setup_distributed() -> _Environment:
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
    rank = dist.get_rank() if dist.is_initialized() else 0
    if torch.cuda.is_available():
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    return _Environment(rank=rank, world_size=world_size, device=device)


def learning_rate_factor(step: int, config: TrainConfig) -> float:
    """Multiplier of the peak learning rate at optimizer step `step` (0-based): linear warmup, then cosine."""
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.max_steps - config.warmup_steps)
    cosine = 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return config.min_learning_rate_ratio + (1.0 - config.min_learning_rate_ratio) * cosine


def _make_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    # Norm weights and biases are not decayed, the usual practice for transformers.
    decayed = [
        parameter for parameter in model.parameters() if parameter.requires_grad and parameter.dim() >= 2
    ]
    plain = [parameter for parameter in model.parameters() if parameter.requires_grad and parameter.dim() < 2]
    return torch.optim.AdamW(
        [{"params": decayed, "weight_decay": config.weight_decay}, {"params": plain, "weight_decay": 0.0}],
        lr=config.learning_rate,
        betas=(config.adam_beta1, config.adam_beta2),
        eps=config.adam_epsilon,
        foreach=True,
    )


def _resolve_config(
    requested: dict[str, Any] | None, stored: checkpoint.Checkpoint | None, train_uri: str
) -> TrainConfig:
    if stored is None:
        if requested is None:
            raise ConfigError(
                [f"no checkpoint under {train_uri} and no --config: pass --config to start a run"]
            )
        return parse_config(requested)
    if requested is not None:
        changed = changed_run_fields(stored.config, parse_config(requested))
        if changed:
            raise ConfigError(
                [
                    f"{name}: differs from the checkpoint {stored.name} under {train_uri}; a resume "
                    "keeps the stored config, so drop --config or start a new run"
                    for name in changed
                ]
            )
        requested_config = parse_config(requested)
        ignored = [
            name
            for name in sorted(OPERATIONAL_FIELDS)
            if getattr(requested_config, name) != getattr(stored.config, name)
        ]
        if ignored:
            log.warning(
                "resuming with the checkpoint's config; ignoring --config values of %s", ", ".join(ignored)
            )
    return stored.config


def _to_micro_batches(
    batch: PackedBatch, rows: slice, micro_batch_size: int, device: torch.device
) -> list[MicroBatch]:
    micro_batches = []
    for start in range(rows.start, rows.stop, micro_batch_size):
        part = slice(start, start + micro_batch_size)
        micro_batches.append(
            MicroBatch(
                input_ids=torch.from_numpy(batch.input_ids[part]).to(device, non_blocking=True),
                labels=torch.from_numpy(batch.labels[part]).to(device, non_blocking=True),
                teacher_loss=torch.from_numpy(batch.teacher_loss[part]).to(device, non_blocking=True),
            )
        )
    return micro_batches


class _MetricsLog:
    """metrics.jsonl: appended in place on a local store; on S3, kept locally and uploaded whole."""

    def __init__(self, train_uri: str, scratch: Path, resume_step: int | None) -> None:
        self.uri = storage.join(train_uri, "metrics.jsonl")
        self.local = not storage.is_s3(train_uri)
        lines: list[str] = []
        if resume_step is not None and storage.exists(self.uri):
            # Steps after the checkpoint are trained again, so their old lines go.
            for line in storage.read_bytes(self.uri).decode().splitlines():
                if line.strip() and json.loads(line)["step"] <= resume_step:
                    lines.append(line)
        self.path = storage.local_path(self.uri) if self.local else scratch / "metrics.jsonl"
        storage.write_bytes(self.uri, "".join(f"{line}\n" for line in lines).encode())
        if not self.local:
            self.path.write_text("".join(f"{line}\n" for line in lines))

    def append(self, record: dict[str, Any]) -> None:
        with self.path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")

    def flush(self) -> None:
        if not self.local:
            storage.write_bytes(self.uri, self.path.read_bytes())


class _StopSignal:
    """Records SIGTERM so the loop can finish its step and checkpoint (spot interruptions give 120 s)."""

    def __init__(self) -> None:
        self.received = False
        self.previous = signal.signal(signal.SIGTERM, self._handle)

    def restore(self) -> None:
        signal.signal(signal.SIGTERM, self.previous)

    def _handle(self, signum: int, frame: object) -> None:
        log.warning("received SIGTERM; saving a checkpoint after this step")
        self.received = True


def _any_rank(flag: bool, device: torch.device) -> bool:
    if not dist.is_initialized():
        return flag
    tensor = torch.tensor([int(flag)], device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.item())


def evaluate(
    model: torch.nn.Module,
    batches: list[PackedBatch],
    env: _Environment,
    autocast: Any,
) -> tuple[float, int]:
    """Return the mean held-out cross-entropy (nats per target) and the number of targets, over all ranks.

    Pass the unwrapped model: every rank has the same weights under DDP, and a DDP forward would
    start collectives. Every rank runs the same number of forward passes (the last ones with zero
    weight), because an FSDP forward gathers parameters from all ranks.
    """
    model.eval()
    totals = torch.zeros(2, dtype=torch.float64, device=env.device)
    passes = math.ceil(len(batches) / env.world_size)
    with torch.no_grad():
        for number in range(passes):
            index = number * env.world_size + env.rank
            batch = batches[index] if index < len(batches) else batches[0]
            weight = 1.0 if index < len(batches) else 0.0
            input_ids = torch.from_numpy(batch.input_ids).to(env.device)
            labels = torch.from_numpy(batch.labels).to(env.device)
            with autocast():
                logits = model(input_ids=input_ids).logits
            losses = torch.nn.functional.cross_entropy(
                logits.float().flatten(0, 1), labels.flatten(), ignore_index=IGNORE_INDEX, reduction="sum"
            )
            totals += weight * torch.stack([losses.double(), (labels != IGNORE_INDEX).sum().double()])
    if dist.is_initialized():
        dist.all_reduce(totals)
    model.train()
    return totals[0].item() / totals[1].item(), int(totals[1].item())


def _rng_state(device: torch.device) -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": list(random.getstate()[1])}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _restore_rng(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate((3, tuple(state["python"]), None))
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def _save_final(
    model: torch.nn.Module,
    student: Any,
    train_uri: str,
    step: int,
    config: TrainConfig,
    scratch: Path,
    rank: int,
) -> None:
    # Every rank takes part in gathering a sharded model; only rank 0 writes.
    full_state = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if rank != 0:
        return
    final_uri = storage.join(train_uri, "final")
    staging = scratch / "final"
    shutil.rmtree(staging, ignore_errors=True)
    student.model.save_pretrained(staging, state_dict=full_state, safe_serialization=True)
    student.tokenizer.save_pretrained(staging)
    marker = json.dumps({"step": step, "config": config.model_dump()}, indent=2).encode()
    if storage.is_s3(final_uri):
        storage.upload_directory(staging, final_uri)
        storage.write_bytes(storage.join(final_uri, FINAL_MARKER), marker)
    else:
        (staging / FINAL_MARKER).write_bytes(marker)
        target = storage.local_path(final_uri)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(staging, target)
    log.info("saved the final model to %s", final_uri)


def train(
    run_uri: str,
    variant: str,
    requested_config: dict[str, Any] | None,
    scratch: Path,
    stop_at_step: int | None = None,
) -> TrainResult:
    """Train (or resume) one variant of a run and return how it ended.

    >>> train("s3://bucket/runs/r1", "guided", {"student_model": "s3://bucket/models/tiny"}, Path("/tmp/w"))
    """
    stop_signal = _StopSignal()
    try:
        return _train(run_uri, variant, requested_config, scratch, stop_at_step, stop_signal)
    finally:
        stop_signal.restore()


def _train(
    run_uri: str,
    variant: str,
    requested_config: dict[str, Any] | None,
    scratch: Path,
    stop_at_step: int | None,
    stop_signal: _StopSignal,
) -> TrainResult:
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; expected one of {', '.join(VARIANTS)}")
    env = _setup_distributed()
    run_id = run_uri.rstrip("/").rsplit("/", 1)[-1]
    configure_logging(run_id, variant, env.rank)
    scratch = scratch / f"rank-{env.rank}"
    scratch.mkdir(parents=True, exist_ok=True)
    train_uri = storage.join(run_uri, "train", variant)

    # Config: the checkpoint's when resuming, so a resume never depends on the command line.
    stored = checkpoint.load_latest_checkpoint(train_uri, scratch)
    config = _resolve_config(requested_config, stored, train_uri)
    log.info("starting %s with config %s", "resume" if stored else "run", config.model_dump_json())
    torch.manual_seed(config.seed + env.rank)
    random.seed(config.seed + env.rank)

    # Model, wrapper and optimizer.
    student = load_student(config.student_model, scratch)
    model = student.model.to(env.device)
    model.train()
    if config.compile:
        model.compile()
    use_bf16 = config.precision == "bf16" or (config.precision == "auto" and env.device.type == "cuda")

    def autocast() -> contextlib.AbstractContextManager:
        if use_bf16:
            return torch.autocast(device_type=env.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    wrapped: torch.nn.Module = model
    no_sync: Any = contextlib.nullcontext
    if env.world_size > 1 and config.parallelism == "ddp":
        wrapped = DistributedDataParallel(
            model, device_ids=[env.device.index] if env.device.type == "cuda" else None
        )
        no_sync = wrapped.no_sync
    elif env.world_size > 1:
        from torch.distributed.fsdp import fully_shard

        # NOTE: FSDP is tested on 2 CPU ranks (gloo) only; it has not run on GPUs with NCCL yet.
        layers = getattr(getattr(model, "model", None), "layers", None)
        if layers is None:
            raise ConfigError(
                [f"parallelism: 'fsdp' needs decoder layers at model.model.layers in {config.student_model}"]
            )
        for layer in layers:
            fully_shard(layer)
        fully_shard(model)
        wrapped = model

        @contextlib.contextmanager
        def no_sync():  # type: ignore[no-redef]
            model.set_requires_gradient_sync(False)
            try:
                yield
            finally:
                model.set_requires_gradient_sync(True)

    optimizer = _make_optimizer(wrapped, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: learning_rate_factor(step, config))

    # Data, positioned where the checkpoint left off.
    splits = read_manifest(run_uri)
    packer = SequencePacker(
        run_uri=run_uri,
        items=splits["train"],
        separators=student.separators,
        sequence_length=config.sequence_length,
        with_teacher=variant == "guided",
        seed=config.seed,
        shuffle_items=config.shuffle_items,
        position=DataPosition(**stored.state[checkpoint.DATA_POSITION_KEY]) if stored else DataPosition(),
    )
    eval_batches = packed_eval_batches(
        run_uri, splits["eval"], student.separators, config.sequence_length, config.eval_max_sequences
    )

    step = 0
    saved_step: int | None = None
    if stored is not None:
        set_state_dict(
            wrapped,
            optimizer,
            model_state_dict=stored.state[checkpoint.MODEL_KEY],
            optim_state_dict=stored.state[checkpoint.OPTIMIZER_KEY],
            options=StateDictOptions(full_state_dict=True),
        )
        scheduler.load_state_dict(stored.state[checkpoint.SCHEDULER_KEY])
        _restore_rng(
            stored.state[checkpoint.RNG_KEY][min(env.rank, len(stored.state[checkpoint.RNG_KEY]) - 1)],
            env.device,
        )
        step = stored.step
        saved_step = step
    set_step(step)

    metrics: _MetricsLog | None = None
    if env.rank == 0:
        metrics = _MetricsLog(train_uri, scratch, stored.step if stored else None)

    def save() -> None:
        nonlocal saved_step
        model_state, optimizer_state = get_state_dict(
            wrapped, optimizer, options=StateDictOptions(full_state_dict=True, cpu_offload=True)
        )
        rng = [_rng_state(env.device)]
        if dist.is_initialized():
            gathered: list[Any] = [None] * env.world_size
            dist.all_gather_object(gathered, rng[0])
            rng = gathered
        if env.rank == 0:
            state = {
                checkpoint.MODEL_KEY: model_state,
                checkpoint.OPTIMIZER_KEY: optimizer_state,
                checkpoint.SCHEDULER_KEY: scheduler.state_dict(),
                checkpoint.STEP_KEY: step,
                checkpoint.DATA_POSITION_KEY: packer.state_dict(),
                checkpoint.RNG_KEY: rng,
            }
            checkpoint.save_checkpoint(train_uri, state, config, scratch)
            assert metrics is not None
            metrics.flush()
        if dist.is_initialized():
            dist.barrier()
        saved_step = step

    def run_eval() -> float:
        loss, targets = evaluate(model, eval_batches, env, autocast)
        log.info("held-out loss %.4f over %d targets", loss, targets)
        if metrics is not None:
            metrics.append({"step": step, "eval_loss": loss, "eval_targets": targets})
        return loss

    sequences_per_rank = config.micro_batch_size * config.gradient_accumulation_steps
    tokens_per_step = sequences_per_rank * env.world_size * config.sequence_length
    rows = slice(env.rank * sequences_per_rank, (env.rank + 1) * sequences_per_rank)
    interval_start = time.perf_counter()
    interval_steps = 0

    while step < config.max_steps:
        # Data: every rank packs the same global batch and takes its own rows.
        batch = packer.next_batch(sequences_per_rank * env.world_size)
        micro_batches = _to_micro_batches(batch, rows, config.micro_batch_size, env.device)

        # Forward and backward over the micro-batches, then clip and step.
        stats = run_step(wrapped, micro_batches, variant, config.loss, autocast, no_sync)
        if config.grad_clip_norm > 0:
            grad_norm = float(torch.nn.utils.clip_grad_norm_(wrapped.parameters(), config.grad_clip_norm))
        else:
            grad_norm = float("nan")
        learning_rate = scheduler.get_last_lr()[0]
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        interval_steps += 1
        set_step(step)

        # Metrics, evaluation and checkpoints at their intervals.
        if metrics is not None and (step % config.log_interval_steps == 0 or step == config.max_steps):
            elapsed = time.perf_counter() - interval_start
            record = {
                "step": step,
                "loss": stats.loss,
                "cross_entropy": stats.cross_entropy,
                "learning_rate": learning_rate,
                "grad_norm": grad_norm,
                "tokens_per_second": tokens_per_step * interval_steps / elapsed,
                "kept_share": stats.kept_share,
                "mean_excess": stats.mean_excess,
                "teacher_coverage": stats.teacher_coverage,
            }
            metrics.append(record)
            log.info(
                "loss %.4f cross-entropy %.4f lr %.3g kept %.3f coverage %.3f tokens/s %.0f",
                stats.loss,
                stats.cross_entropy,
                learning_rate,
                stats.kept_share,
                stats.teacher_coverage,
                record["tokens_per_second"],
            )
            interval_start = time.perf_counter()
            interval_steps = 0
        if config.eval_interval_steps and step % config.eval_interval_steps == 0 and step < config.max_steps:
            run_eval()
        if config.checkpoint_interval_steps and step % config.checkpoint_interval_steps == 0:
            save()
        if _any_rank(stop_signal.received, env.device):
            if saved_step != step:
                save()
            log.warning("stopped by SIGTERM at step %d after a checkpoint; restart to resume", step)
            return TrainResult("interrupted", step, None)
        if stop_at_step is not None and step >= stop_at_step and step < config.max_steps:
            if saved_step != step:
                save()
            log.info("stopped at step %d as requested; restart to resume", step)
            return TrainResult("stopped", step, None)

    # End of the run: checkpoint, final evaluation, final model.
    if saved_step != step:
        save()
    eval_loss = run_eval()
    _save_final(wrapped, student, train_uri, step, config, scratch, env.rank)
    if env.rank == 0:
        assert metrics is not None
        metrics.flush()
        result = {"runId": run_id, "variant": variant, "step": step, "loss": eval_loss}
        storage.write_bytes(storage.join(train_uri, "eval.json"), json.dumps(result, indent=2).encode())
    if dist.is_initialized():
        dist.barrier()
    log.info("run complete at step %d; held-out loss %.4f", step, eval_loss)
    return TrainResult("completed", step, eval_loss)
