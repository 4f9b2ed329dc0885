"""Typed, validated configuration of one student training run.

A resume takes the configuration stored in the checkpoint. Every field that
changes what the run computes is in `RUN_FIELDS`, and a resume rejects a
different value for one of them. The operational fields only change how often
something is logged or saved, so a differing value is ignored with a warning.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class ConfigError(ValueError):
    """An invalid trainer configuration; `problems` lists every field at once."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid trainer config:\n  " + "\n  ".join(problems))
        self.problems = problems


class GuidedLossConfig(BaseModel):
    """Settings of the teacher guided loss (ignored by the `baseline` variant)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    keep_ratio: float = Field(
        default=0.4,
        gt=0.0,
        le=1.0,
        description="Share of mapped target tokens kept, ranked by excess loss; in (0, 1]. Default 0.4.",
    )
    unmapped: Literal["include", "exclude"] = Field(
        default="include",
        description="Whether target tokens without a teacher loss are always trained on (`include`, "
        "default) or never (`exclude`).",
    )
    scope: Literal["batch", "sequence"] = Field(
        default="batch",
        description="Ranking scope: the whole global batch across accumulation micro-batches and "
        "data-parallel ranks (`batch`, default) or each sequence on its own (`sequence`).",
    )
    accumulation: Literal["recompute", "retain"] = Field(
        default="recompute",
        description="How `batch` scope ranks across several accumulation micro-batches: `recompute` "
        "(default) first runs every micro-batch forward without gradient, about a third more compute "
        "per step; `retain` keeps every micro-batch's autograd graph until the threshold is known, "
        "no extra compute but activation memory times the micro-batch count.",
    )


class TrainConfig(BaseModel):
    """Resolved configuration of a training run; every field has a unit and a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    student_model: str = Field(
        min_length=1,
        description="Hugging Face model directory of the student: a local path, file:// or s3:// URI "
        "holding config.json, the weights and the tokenizer. Required.",
    )
    loss: GuidedLossConfig = Field(default_factory=GuidedLossConfig)
    sequence_length: int = Field(
        default=2048, ge=8, le=1_048_576, description="Tokens per packed training sequence. Default 2048."
    )
    micro_batch_size: int = Field(
        default=8, ge=1, le=4096, description="Sequences per forward pass on one device. Default 8."
    )
    gradient_accumulation_steps: int = Field(
        default=1, ge=1, le=4096, description="Micro-batches per optimizer step on each device. Default 1."
    )
    max_steps: int = Field(
        default=1000, ge=1, le=100_000_000, description="Optimizer steps of the whole run. Default 1000."
    )
    learning_rate: float = Field(
        default=8e-5, gt=0.0, le=1.0, description="Peak learning rate after warmup. Default 8e-5."
    )
    min_learning_rate_ratio: float = Field(
        default=0.1,
        ge=0.0,
        le=1.0,
        description="Final learning rate of the cosine decay as a share of the peak. Default 0.1.",
    )
    warmup_steps: int = Field(
        default=100, ge=0, le=100_000_000, description="Optimizer steps of linear warmup. Default 100."
    )
    weight_decay: float = Field(default=0.1, ge=0.0, le=10.0, description="AdamW weight decay. Default 0.1.")
    adam_beta1: float = Field(default=0.9, ge=0.0, lt=1.0, description="AdamW beta1. Default 0.9.")
    adam_beta2: float = Field(default=0.95, ge=0.0, lt=1.0, description="AdamW beta2. Default 0.95.")
    adam_epsilon: float = Field(default=1e-8, gt=0.0, le=1e-2, description="AdamW epsilon. Default 1e-8.")
    grad_clip_norm: float = Field(
        default=1.0,
        ge=0.0,
        le=1e6,
        description="Maximum global gradient L2 norm; 0 disables clipping. Default 1.0.",
    )
    precision: Literal["auto", "bf16", "fp32"] = Field(
        default="auto",
        description="Compute precision: `auto` is bf16 autocast on CUDA and fp32 on CPU. Default auto.",
    )
    compile: bool = Field(default=False, description="Wrap the student in torch.compile. Default false.")
    parallelism: Literal["ddp", "fsdp"] = Field(
        default="ddp",
        description="Data-parallel wrapper when started by torchrun with more than one process. Default ddp.",
    )
    shuffle_items: bool = Field(
        default=True,
        description="Shuffle the order of train items every epoch (seeded, so reproducible). Default true.",
    )
    seed: int = Field(default=1234, ge=0, le=2**31 - 1, description="Seed of every RNG. Default 1234.")
    eval_interval_steps: int = Field(
        default=500,
        ge=0,
        le=100_000_000,
        description="Optimizer steps between held-out evaluations; 0 evaluates only at the end. Default 500.",
    )
    eval_max_sequences: int | None = Field(
        default=None,
        ge=1,
        description="Packed eval sequences per evaluation; None (default) uses the whole eval split.",
    )
    checkpoint_interval_steps: int = Field(
        default=500,
        ge=0,
        le=100_000_000,
        description="Optimizer steps between checkpoints; 0 saves only on SIGTERM and at the end. "
        "Default 500.",
    )
    checkpoints_to_keep: int = Field(
        default=2,
        ge=0,
        le=1_000_000,
        description="Newest checkpoints kept after each save, older ones are deleted; 0 keeps all. "
        "Default 2.",
    )
    log_interval_steps: int = Field(
        default=10, ge=1, le=100_000_000, description="Optimizer steps between metrics lines. Default 10."
    )

    @model_validator(mode="after")
    def _check_combinations(self) -> TrainConfig:
        if self.warmup_steps > self.max_steps:
            raise ValueError(
                f"warmup_steps ({self.warmup_steps}) must not exceed max_steps ({self.max_steps})"
            )
        if self.parallelism == "fsdp" and self.loss.accumulation == "retain":
            raise ValueError(
                "loss.accumulation 'retain' runs several forward passes before one backward pass, "
                "which is supported with parallelism 'ddp' only; use 'recompute' with 'fsdp'"
            )
        return self


# Fields that only change how often something is saved or logged: a resume may change them.
OPERATIONAL_FIELDS = frozenset(
    {"eval_interval_steps", "checkpoint_interval_steps", "checkpoints_to_keep", "log_interval_steps"}
)
RUN_FIELDS = frozenset(TrainConfig.model_fields) - OPERATIONAL_FIELDS


def _format_errors(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "(config)"
        value = item.get("input")
        if item["type"] == "extra_forbidden":
            allowed = ", ".join(sorted(TrainConfig.model_fields))
            problems.append(f"{field}: unknown field (value {value!r}); known fields: {allowed}")
        else:
            problems.append(f"{field}: {item['msg']} (got {value!r})")
    return problems


def parse_config(raw: dict[str, Any]) -> TrainConfig:
    """Validate a config mapping, raising ConfigError that lists every invalid field.

    >>> parse_config({"student_model": "s3://bucket/tinyllama", "max_steps": 10}).max_steps
    10
    """
    try:
        return TrainConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(_format_errors(error)) from None


def load_config_argument(argument: str) -> dict[str, Any]:
    """Read `--config`: inline JSON when it starts with `{` or `[`, a `file://` or `s3://` URI
    (the plan step's `trainer-config.json`), otherwise a JSON file path."""
    if argument.lstrip().startswith(("{", "[")):
        text = argument
    elif argument.startswith(("s3://", "file://")):
        from . import storage

        try:
            text = storage.read_bytes(argument).decode("utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError([f"--config: cannot read {argument!r} ({error}); pass a JSON object"]) from None
    else:
        try:
            text = Path(argument).read_text(encoding="utf-8")
        except OSError as error:
            raise ConfigError(
                [f"--config: cannot read {argument!r} ({error.strerror}); pass a JSON file"]
            ) from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError([f"--config: invalid JSON ({error})"]) from None
    if not isinstance(raw, dict):
        raise ConfigError([f"--config: expected a JSON object, got {type(raw).__name__}"])
    return raw


def changed_run_fields(stored: TrainConfig, requested: TrainConfig) -> list[str]:
    """Name the run-changing fields (dotted) whose values differ between two configs."""
    stored_dump = stored.model_dump()
    requested_dump = requested.model_dump()
    changed = []
    for name in sorted(RUN_FIELDS):
        if stored_dump[name] == requested_dump[name]:
            continue
        if isinstance(stored_dump[name], dict):
            changed += [
                f"{name}.{key}"
                for key in sorted(stored_dump[name])
                if stored_dump[name][key] != requested_dump[name][key]
            ]
        else:
            changed.append(name)
    return changed
