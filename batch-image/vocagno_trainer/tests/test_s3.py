"""Checkpoint save and resume against an S3-protocol server (moto) on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import boto3

from vocagno_trainer.train import FINAL_MARKER, train

from .conftest import base_config

BUCKET = "vocagno-test"


def _upload_tree(client, source: Path, prefix: str) -> None:  # noqa: ANN001 - boto3 client
    for path in sorted(source.rglob("*")):
        if path.is_file():
            client.upload_file(str(path), BUCKET, f"{prefix}/{path.relative_to(source).as_posix()}")


def test_s3_checkpoint_resume(
    s3_endpoint: str, text_run: Path, student_directory: Path, tmp_path: Path
) -> None:
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    _upload_tree(client, text_run, "runs/run-s3")
    _upload_tree(client, student_directory, "models/student")
    run_uri = f"s3://{BUCKET}/runs/run-s3"
    config = base_config(
        f"s3://{BUCKET}/models/student", max_steps=4, checkpoint_interval_steps=1, checkpoints_to_keep=1
    )

    first = train(run_uri, "guided", config, tmp_path / "first", stop_at_step=2)
    assert first.status == "stopped"
    checkpoints = "runs/run-s3/train/guided/checkpoints"
    marker = client.get_object(Bucket=BUCKET, Key=f"{checkpoints}/latest")["Body"].read().decode()
    assert marker == "step-00000002"
    stored_keys = {
        item["Key"]
        for item in client.list_objects_v2(Bucket=BUCKET, Prefix=f"{checkpoints}/{marker}/")["Contents"]
    }
    assert stored_keys == {f"{checkpoints}/{marker}/state.pt", f"{checkpoints}/{marker}/config.json"}

    second = train(run_uri, "guided", None, tmp_path / "second")
    assert second.status == "completed"
    assert second.step == 4
    final = client.get_object(Bucket=BUCKET, Key=f"runs/run-s3/train/guided/final/{FINAL_MARKER}")
    assert json.loads(final["Body"].read())["step"] == 4
    metrics = client.get_object(Bucket=BUCKET, Key="runs/run-s3/train/guided/metrics.jsonl")["Body"].read()
    steps = [json.loads(line)["step"] for line in metrics.decode().splitlines()]
    assert steps == [1, 2, 3, 4, 4]
    evaluation = json.loads(
        client.get_object(Bucket=BUCKET, Key="runs/run-s3/train/guided/eval.json")["Body"].read()
    )
    assert evaluation["runId"] == "run-s3"
