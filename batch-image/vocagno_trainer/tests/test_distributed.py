"""Data parallel training on two CPU processes (gloo) against one process with the same global batch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from vocagno_trainer.train import train

from .conftest import REPO_ROOT, base_config, free_port


def _torchrun(run: Path, config: dict, scratch: Path, *extra: str) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1"]
        + ["--master-port", str(free_port()), "-m", "vocagno_trainer", "--run-uri", str(run)]
        + ["--variant", "guided", "--config", json.dumps(config), "--scratch", str(scratch), *extra],
        cwd=REPO_ROOT / "batch-image",
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]


def _linked_run(source: Path, name: str) -> Path:
    run = source.parent / name
    run.mkdir()
    for part in ("manifest.json", "shards", "teacher"):
        (run / part).symlink_to(source / part)
    return run


def test_ddp_and_fsdp_match_single_process(text_run: Path, student_directory: Path, tmp_path: Path) -> None:
    # Two ranks of one sequence and two accumulation steps see the same 4 sequences per step as one
    # process with 4 micro-batches, and the batch-scope threshold spans all of them either way.
    distributed = base_config(
        student_directory, micro_batch_size=1, gradient_accumulation_steps=2, max_steps=3
    )
    single_run = _linked_run(text_run, "run-single")
    train(str(single_run), "guided", {**distributed, "gradient_accumulation_steps": 4}, tmp_path / "single")
    expected = load_file(single_run / "train" / "guided" / "final" / "model.safetensors")

    for accumulation in ("recompute", "retain"):
        ddp_run = _linked_run(text_run, f"run-ddp-{accumulation}")
        _torchrun(ddp_run, {**distributed, "loss": {"accumulation": accumulation}}, tmp_path / accumulation)
        ddp_model = load_file(ddp_run / "train" / "guided" / "final" / "model.safetensors")
        for name, tensor in expected.items():
            torch.testing.assert_close(
                ddp_model[name], tensor, rtol=1e-4, atol=1e-6, msg=f"{accumulation} {name}"
            )

    # FSDP, stopped after step 2 and resumed, also covers loading a checkpoint into sharded parameters.
    fsdp_run = _linked_run(text_run, "run-fsdp")
    fsdp = {**distributed, "parallelism": "fsdp"}
    _torchrun(fsdp_run, fsdp, tmp_path / "fsdp-first", "--stop-at-step", "2")
    _torchrun(fsdp_run, fsdp, tmp_path / "fsdp-second")
    fsdp_model = load_file(fsdp_run / "train" / "guided" / "final" / "model.safetensors")
    for name, tensor in expected.items():
        torch.testing.assert_close(fsdp_model[name], tensor, rtol=1e-4, atol=1e-6, msg=f"fsdp {name}")
