"""Atomic, resumable checkpoints under runs/<runId>/train/<variant>/checkpoints/.

Layout: `step-<8 digits>/state.pt` and `step-<8 digits>/config.json`, and a
`latest` object naming the newest complete checkpoint directory. The `latest`
marker is written last (after a local rename, or after every S3 upload of the
directory), so a reader that follows it never reads a partial checkpoint.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from . import storage
from .config import TrainConfig

log = logging.getLogger(__name__)

# Keys of state.pt; changing one breaks resuming older checkpoints.
MODEL_KEY = "model"
OPTIMIZER_KEY = "optimizer"
SCHEDULER_KEY = "scheduler"
STEP_KEY = "step"
DATA_POSITION_KEY = "data_position"
RNG_KEY = "rng"
FORMAT_VERSION_KEY = "format_version"
FORMAT_VERSION = 1

STATE_FILE = "state.pt"
CONFIG_FILE = "config.json"
LATEST_MARKER = "latest"


@dataclass
class Checkpoint:
    step: int
    config: TrainConfig
    state: dict[str, Any]
    name: str


def checkpoint_name(step: int) -> str:
    return f"step-{step:08d}"


def save_checkpoint(train_uri: str, state: dict[str, Any], config: TrainConfig, scratch: Path) -> str:
    """Write one checkpoint and then the `latest` marker; returns the checkpoint's URI."""
    checkpoints_uri = storage.join(train_uri, "checkpoints")
    name = checkpoint_name(state[STEP_KEY])
    state = {**state, FORMAT_VERSION_KEY: FORMAT_VERSION}
    config_json = config.model_dump_json(indent=2).encode()

    if storage.is_s3(train_uri):
        staging = scratch / f"checkpoint-{name}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        torch.save(state, staging / STATE_FILE)
        (staging / CONFIG_FILE).write_bytes(config_json)
        storage.upload_directory(staging, storage.join(checkpoints_uri, name))
        shutil.rmtree(staging)
    else:
        directory = storage.local_path(checkpoints_uri)
        directory.mkdir(parents=True, exist_ok=True)
        staging = directory / f".{name}.tmp-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        torch.save(state, staging / STATE_FILE)
        (staging / CONFIG_FILE).write_bytes(config_json)
        for path in staging.iterdir():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
        target = directory / name
        # A directory of the same step can only be left by an earlier attempt: replace it.
        shutil.rmtree(target, ignore_errors=True)
        os.replace(staging, target)

    storage.write_bytes(storage.join(checkpoints_uri, LATEST_MARKER), name.encode())
    uri = storage.join(checkpoints_uri, name)
    log.info("saved checkpoint %s", uri)
    if config.checkpoints_to_keep:
        _delete_old_checkpoints(checkpoints_uri, keep=config.checkpoints_to_keep)
    return uri


def _delete_old_checkpoints(checkpoints_uri: str, keep: int) -> None:
    """Delete all but the `keep` newest complete checkpoints, only after `latest` names a newer one."""
    if storage.is_s3(checkpoints_uri):
        names = sorted({key.split("/", 1)[0] for key in storage.list_keys(checkpoints_uri) if "/" in key})
    else:
        directory = storage.local_path(checkpoints_uri)
        names = sorted(
            path.name for path in directory.iterdir() if path.is_dir() and path.name.startswith("step-")
        )
    for name in names[:-keep]:
        storage.delete_prefix(storage.join(checkpoints_uri, name))
        log.info("deleted old checkpoint %s", name)


def load_latest_checkpoint(train_uri: str, scratch: Path) -> Checkpoint | None:
    """Load the checkpoint named by the `latest` marker, or return None when there is none."""
    checkpoints_uri = storage.join(train_uri, "checkpoints")
    marker_uri = storage.join(checkpoints_uri, LATEST_MARKER)
    if not storage.exists(marker_uri):
        return None
    name = storage.read_bytes(marker_uri).decode().strip()
    source = storage.join(checkpoints_uri, name)
    directory = storage.download_directory(source, scratch / f"resume-{name}")
    state = torch.load(directory / STATE_FILE, map_location="cpu", weights_only=True)
    if state.get(FORMAT_VERSION_KEY) != FORMAT_VERSION:
        raise ValueError(
            f"{source}/{STATE_FILE}: checkpoint format {state.get(FORMAT_VERSION_KEY)!r} is not "
            f"{FORMAT_VERSION}; start a new variant directory or use the trainer version that wrote it"
        )
    config = TrainConfig.model_validate(json.loads((directory / CONFIG_FILE).read_text()))
    log.info("found checkpoint %s at step %d", source, state[STEP_KEY])
    return Checkpoint(step=state[STEP_KEY], config=config, state=state, name=name)
