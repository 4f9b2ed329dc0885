from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import tokenizers
import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM

from vocagno_export.__main__ import main
from vocagno_export.check import ExportCheckError, pad_right
from vocagno_export.export import ExportOptions, export_teacher
from vocagno_export.graph import TokenLossModel
from vocagno_export.tiny import build_tiny_model

TEXTS = ["A prime p divides ab, so p divides a or b.", "naïve café 🙂 x² ≤ 3", "ok"]


def reference_losses(model_dir: Path, sequences: list[list[int]]) -> list[np.ndarray]:
    """Per-token losses from the plain Hugging Face model, one unpadded sequence at a time."""
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    results = []
    with torch.inference_mode():
        for ids in sequences:
            logits = model(torch.tensor([ids])).logits[0]
            loss = F.cross_entropy(
                logits[:-1].double(), torch.tensor(ids[1:], dtype=torch.long), reduction="none"
            )
            results.append(loss.numpy())
    return results


def encode(bundle: Path, texts: list[str], bos: int | None) -> list[list[int]]:
    tokenizer = tokenizers.Tokenizer.from_file(str(bundle / "tokenizer.json"))
    prefix = [] if bos is None else [bos]
    return [prefix + tokenizer.encode(text, add_special_tokens=False).ids for text in texts]


@pytest.mark.parametrize("architecture", ["qwen2", "mistral", "llama"])
def test_export_matches_pytorch(architecture: str, tiny_models: dict[str, Path], tmp_path: Path) -> None:
    bundle = tmp_path / "teacher"
    metadata = export_teacher(ExportOptions(model_dir=tiny_models[architecture], output_dir=bundle))
    sequences = encode(bundle, TEXTS, metadata["bosTokenId"])
    input_ids, attention_mask = pad_right(sequences, pad_id=0)
    session = onnxruntime.InferenceSession(str(bundle / "model.onnx"), providers=["CPUExecutionProvider"])
    (token_loss,) = session.run(["token_loss"], {"input_ids": input_ids, "attention_mask": attention_mask})

    assert token_loss.dtype == np.float32
    assert token_loss.shape == input_ids.shape
    assert np.isnan(token_loss[:, 0]).all()
    for row, expected in enumerate(reference_losses(tiny_models[architecture], sequences)):
        actual = token_loss[row, 1 : len(sequences[row])]
        np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-4, err_msg=f"{architecture} row {row}")


def test_export_writes_metadata(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    bundle = tmp_path / "teacher"
    export_teacher(ExportOptions(model_dir=tiny_models["mistral"], output_dir=bundle, max_context_tokens=256))
    metadata = json.loads((bundle / "teacher.json").read_text())

    assert sorted(path.name for path in bundle.iterdir()) == ["model.onnx", "teacher.json", "tokenizer.json"]
    assert metadata["files"] == ["model.onnx", "tokenizer.json", "teacher.json"]
    assert metadata["bosTokenId"] == 1  # "<s>" in Mistral's tokenizer
    assert metadata["eosTokenId"] == 2
    assert metadata["vocabSize"] == 32000
    assert metadata["tokenizerVocabSize"] == 32000
    assert metadata["maxContextTokens"] == 256
    assert metadata["dtype"] == "fp32"
    assert metadata["graph"]["inputs"] == ["input_ids", "attention_mask"]
    assert metadata["graph"]["outputs"] == ["token_loss"]
    assert len(metadata["weightsSha256"]) == 64
    assert set(metadata["versions"]) >= {"torch", "transformers", "onnx"}
    assert (bundle / "tokenizer.json").read_bytes() == (
        tiny_models["mistral"] / "tokenizer.json"
    ).read_bytes()


@pytest.mark.parametrize(
    ("architecture", "expected_bos"), [("qwen2", None), ("llama", 128000), ("mistral", 1)]
)
def test_bos_detection(architecture: str, expected_bos: int | None, tiny_models: dict[str, Path]) -> None:
    from vocagno_export.metadata import detect_bos_token_id

    tokenizer = tokenizers.Tokenizer.from_file(str(tiny_models[architecture] / "tokenizer.json"))
    assert detect_bos_token_id(tiny_models[architecture], tokenizer) == expected_bos


def test_forced_external_data_loads(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    bundle = tmp_path / "teacher"
    metadata = export_teacher(
        ExportOptions(model_dir=tiny_models["qwen2"], output_dir=bundle, external_data="always")
    )
    assert metadata["files"] == ["model.onnx", "model.onnx.data", "tokenizer.json", "teacher.json"]
    # The graph file alone contains no weights: the 78 MB of fp32 weights sit in model.onnx.data.
    assert (bundle / "model.onnx").stat().st_size < 1_000_000
    assert (bundle / "model.onnx.data").stat().st_size > 70_000_000
    session = onnxruntime.InferenceSession(str(bundle / "model.onnx"), providers=["CPUExecutionProvider"])
    input_ids, attention_mask = pad_right(encode(bundle, TEXTS[:1], None), pad_id=0)
    (token_loss,) = session.run(None, {"input_ids": input_ids, "attention_mask": attention_mask})
    assert np.isfinite(token_loss[0, 1:]).all()


def test_fp16_export_passes_check(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    metadata = export_teacher(
        ExportOptions(model_dir=tiny_models["qwen2"], output_dir=tmp_path / "teacher", dtype="fp16")
    )
    assert metadata["dtype"] == "fp16"
    assert metadata["check"]["maxAbsDifference"] <= metadata["check"]["tolerance"]


@pytest.mark.skipif(
    "CUDAExecutionProvider" in onnxruntime.get_available_providers(), reason="CUDA can check bf16 graphs"
)
def test_bf16_export_without_cuda_fails_clearly(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    options = ExportOptions(model_dir=tiny_models["qwen2"], output_dir=tmp_path / "teacher", dtype="bf16")
    with pytest.raises(ValueError, match="cannot run this graph on CPU"):
        export_teacher(options)
    assert not (tmp_path / "teacher").exists()


def test_failed_check_keeps_old_bundle(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    bundle = tmp_path / "teacher"
    options = ExportOptions(model_dir=tiny_models["qwen2"], output_dir=bundle)
    export_teacher(options)
    before = {path.name: path.read_bytes() for path in bundle.iterdir()}

    # fp32 ONNX Runtime and PyTorch differ by about 1e-5 nats, never by exactly 0.
    with pytest.raises(ExportCheckError, match="max |difference|"):
        export_teacher(replace(options, tolerance=0.0))
    assert {path.name: path.read_bytes() for path in bundle.iterdir()} == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["teacher"]


def test_export_is_idempotent(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    bundle = tmp_path / "teacher"
    options = ExportOptions(model_dir=tiny_models["mistral"], output_dir=bundle)
    first = export_teacher(options)
    first_graph = (bundle / "model.onnx").read_bytes()
    second = export_teacher(options)
    assert second == first
    assert (bundle / "model.onnx").read_bytes() == first_graph


def test_vocab_smaller_than_tokenizer_rejected(tmp_path: Path) -> None:
    from vocagno_export.tests.conftest import TOKENIZERS

    model_dir = build_tiny_model("mistral", TOKENIZERS["mistral"], tmp_path / "model", vocab_size=1000)
    with pytest.raises(ValueError, match="tokenizer has 32000 tokens but the model's vocab_size is 1000"):
        export_teacher(ExportOptions(model_dir=model_dir, output_dir=tmp_path / "teacher"))


def test_cli_reports_missing_model(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert main(["--model", str(tmp_path / "absent"), "--output", str(tmp_path / "teacher")]) == 1
    assert "config.json not found" in caplog.text


def test_vocab_slices_match_whole_output_layer(tiny_models: dict[str, Path]) -> None:
    model = AutoModelForCausalLM.from_pretrained(tiny_models["llama"], dtype=torch.float32).eval()
    vocab = model.get_output_embeddings().weight.shape[0]
    # Targets drawn from the whole vocabulary land in every slice, the last and shorter one included.
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(0, vocab, (3, 40), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    with torch.inference_mode():
        logits = model(input_ids=input_ids).logits[:, :-1].double()
        expected = F.cross_entropy(logits.transpose(1, 2), input_ids[:, 1:], reduction="none")
        for vocab_slice in (vocab, 7_000, 4_096):
            actual = TokenLossModel(model, vocab_slice=vocab_slice)(input_ids, attention_mask)
            assert torch.isnan(actual[:, 0]).all()
            torch.testing.assert_close(actual[:, 1:].double(), expected, rtol=0, atol=1e-5)


def test_sliced_export_matches_pytorch(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    bundle = tmp_path / "teacher"
    # 4,096-row slices of the 32,000-entry vocabulary: 8 slices, the last one 3,328 rows.
    metadata = export_teacher(
        ExportOptions(model_dir=tiny_models["mistral"], output_dir=bundle, vocab_slice=4_096)
    )
    assert metadata["vocabSize"] == 32_000
    generator = np.random.default_rng(0)
    sequences = [
        [metadata["bosTokenId"], *generator.integers(3, 32_000, size=length).tolist()] for length in (30, 12)
    ]
    input_ids, attention_mask = pad_right(sequences, pad_id=0)
    session = onnxruntime.InferenceSession(str(bundle / "model.onnx"), providers=["CPUExecutionProvider"])
    (token_loss,) = session.run(["token_loss"], {"input_ids": input_ids, "attention_mask": attention_mask})
    for row, expected in enumerate(reference_losses(tiny_models["mistral"], sequences)):
        actual = token_loss[row, 1 : len(sequences[row])]
        np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-4, err_msg=f"row {row}")


def test_invalid_vocab_slice_rejected(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    options = ExportOptions(model_dir=tiny_models["llama"], output_dir=tmp_path / "teacher", vocab_slice=0)
    with pytest.raises(ValueError, match="invalid vocab slice 0"):
        export_teacher(options)
    assert not (tmp_path / "teacher").exists()


def test_cli_rejects_invalid_vocab_slice(
    tiny_models: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    arguments = [
        "--model",
        str(tiny_models["llama"]),
        "--output",
        str(tmp_path / "teacher"),
        "--vocab-slice",
        "0",
    ]
    assert main(arguments) == 1
    assert "invalid vocab slice 0" in caplog.text
    assert not (tmp_path / "teacher").exists()
