"""Whole runs on a tiny real Llama: learning, resume, SIGTERM, the final model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from vocagno_trainer.checkpoint import LATEST_MARKER, STATE_FILE, load_latest_checkpoint
from vocagno_trainer.config import ConfigError
from vocagno_trainer.train import train

from .conftest import REPO_ROOT, base_config


def _metrics(run: Path, variant: str) -> list[dict]:
    lines = (run / "train" / variant / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_guided_training_reduces_loss(text_run: Path, student_directory: Path, tmp_path: Path) -> None:
    config = base_config(student_directory, max_steps=16, gradient_accumulation_steps=1)
    result = train(str(text_run), "guided", config, tmp_path / "scratch")
    assert result.status == "completed"
    losses = [record["cross_entropy"] for record in _metrics(text_run, "guided") if "cross_entropy" in record]
    assert len(losses) == 16
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3 - 0.5


def test_resume_equals_uninterrupted(text_run: Path, student_directory: Path, tmp_path: Path) -> None:
    config = base_config(student_directory, max_steps=4)
    train(str(text_run), "baseline", config, tmp_path / "continuous")
    continuous = load_file(text_run / "train" / "baseline" / "final" / "model.safetensors")
    continuous_metrics = _metrics(text_run, "baseline")

    staged_run = text_run.parent / "run-staged"
    staged_run.mkdir()
    for name in ("manifest.json", "shards", "teacher"):
        os.symlink(text_run / name, staged_run / name)
    first = train(str(staged_run), "guided", config, tmp_path / "first", stop_at_step=2)
    assert first.status == "stopped"
    assert not (staged_run / "train" / "guided" / "final").exists()
    second = train(str(staged_run), "guided", None, tmp_path / "second")
    assert second.step == 4

    train(str(text_run), "guided", config, tmp_path / "guided-continuous")
    expected = load_file(text_run / "train" / "guided" / "final" / "model.safetensors")
    resumed = load_file(staged_run / "train" / "guided" / "final" / "model.safetensors")
    for name, tensor in expected.items():
        torch.testing.assert_close(resumed[name], tensor, rtol=1e-6, atol=1e-7, msg=name)
    assert [record["step"] for record in _metrics(staged_run, "guided")] == [1, 2, 3, 4, 4]
    staged_losses = [record.get("loss", record.get("eval_loss")) for record in _metrics(staged_run, "guided")]
    continuous_losses = [
        record.get("loss", record.get("eval_loss")) for record in _metrics(text_run, "guided")
    ]
    assert staged_losses == pytest.approx(continuous_losses, rel=1e-6)
    # Guided and baseline runs of the same data end in different models.
    assert not torch.equal(continuous["lm_head.weight"], expected["lm_head.weight"])
    assert continuous_metrics[0]["kept_share"] == 1.0


def test_resume_rejects_changed_config(text_run: Path, student_directory: Path, tmp_path: Path) -> None:
    config = base_config(student_directory, max_steps=4)
    train(str(text_run), "guided", config, tmp_path / "first", stop_at_step=1)
    changed = {**config, "learning_rate": 1e-3, "loss": {"keep_ratio": 0.5}, "log_interval_steps": 2}
    with pytest.raises(ConfigError) as raised:
        train(str(text_run), "guided", changed, tmp_path / "second")
    message = str(raised.value)
    assert "learning_rate: differs from the checkpoint step-00000001" in message
    assert "loss.keep_ratio" in message
    assert "log_interval_steps" not in message


def test_final_model_loads_and_generates(text_run: Path, student_directory: Path, tmp_path: Path) -> None:
    config = base_config(student_directory, max_steps=3, checkpoint_interval_steps=1, checkpoints_to_keep=2)
    train(str(text_run), "guided", config, tmp_path / "scratch")
    checkpoints = text_run / "train" / "guided" / "checkpoints"
    assert sorted(path.name for path in checkpoints.iterdir()) == ["latest", "step-00000002", "step-00000003"]
    final = text_run / "train" / "guided" / "final"
    model = AutoModelForCausalLM.from_pretrained(final)
    tokenizer = AutoTokenizer.from_pretrained(final)
    prompt = tokenizer("The derivative of", return_tensors="pt")
    generated = model.generate(**prompt, max_new_tokens=5, do_sample=False)
    assert generated.shape == (1, prompt["input_ids"].shape[1] + 5)
    evaluation = json.loads((text_run / "train" / "guided" / "eval.json").read_text())
    assert evaluation["step"] == 3
    assert evaluation["loss"] > 0


def test_sigterm_leaves_complete_checkpoint(text_run: Path, student_directory: Path, tmp_path: Path) -> None:
    config = base_config(student_directory, max_steps=100_000, gradient_accumulation_steps=1)
    metrics = text_run / "train" / "guided" / "metrics.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "vocagno_trainer", "--run", str(text_run), "--variant", "guided"]
        + ["--config", json.dumps(config), "--scratch", str(tmp_path / "scratch")],
        cwd=REPO_ROOT / "batch-image",
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not (metrics.exists() and metrics.read_text().strip()):
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert time.monotonic() < deadline, "training did not log a step within 120 s"
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)

    assert process.returncode == 143, stderr
    assert "Traceback" not in stderr
    checkpoints = text_run / "train" / "guided" / "checkpoints"
    assert (checkpoints / LATEST_MARKER).exists()
    stored = load_latest_checkpoint(str(text_run / "train" / "guided"), tmp_path / "load")
    assert stored is not None
    assert stored.step >= 1
    assert (checkpoints / stored.name / STATE_FILE).exists()
    assert not list(checkpoints.glob(".*tmp*"))


def test_default_scratch_is_removed_on_exit(text_run: Path, student_directory: Path, tmp_path: Path) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    config = base_config(student_directory, max_steps=2, gradient_accumulation_steps=1)
    completed = subprocess.run(
        [sys.executable, "-m", "vocagno_trainer", "--run", str(text_run), "--variant", "baseline"]
        + ["--config", json.dumps(config)],
        cwd=REPO_ROOT / "batch-image",
        env={**os.environ, "TMPDIR": str(temporary)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    assert (text_run / "train" / "baseline" / "final").is_dir()
    # The trainer staged the student and the shards in a directory under TMPDIR, then removed it.
    assert list(temporary.iterdir()) == []
