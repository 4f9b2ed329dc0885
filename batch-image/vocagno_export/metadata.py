"""teacher.json: what the scoring worker needs to know about a teacher bundle."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import onnx
import onnxruntime
import tokenizers
import torch
import transformers

TEACHER_FORMAT = "vocagno-teacher"
TEACHER_FORMAT_VERSION = 1


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_sha256(model_dir: Path) -> str:
    """Hash the source weights: sha256 over `name sha256` lines of each safetensors file, by name."""
    files = sorted(model_dir.glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(
            f"no *.safetensors weights in {model_dir}; save the model with safe_serialization"
        )
    lines = "".join(f"{path.name} {sha256_file(path)}\n" for path in files)
    return hashlib.sha256(lines.encode()).hexdigest()


def tokenizer_vocab_size(tokenizer_path: Path) -> int:
    """Return one past the largest token id in a tokenizer.json, added tokens included."""
    data = json.loads(tokenizer_path.read_text(encoding="utf-8"))
    vocab = data["model"]["vocab"]
    ids = list(vocab.values()) if isinstance(vocab, dict) else list(range(len(vocab)))
    ids += [token["id"] for token in data.get("added_tokens", [])]
    return max(ids) + 1


def _token_id(tokenizer: tokenizers.Tokenizer, token: Any) -> int | None:
    if token is None:
        return None
    content = token["content"] if isinstance(token, dict) else token
    return tokenizer.token_to_id(content)


def detect_bos_token_id(model_dir: Path, tokenizer: tokenizers.Tokenizer) -> int | None:
    """Find the token the teacher expects before a document, or None when it has none.

    The tokenizer.json post-processor is the first source (Llama-2 and Mistral add
    `<s>` there). Otherwise tokenizer_config.json's `bos_token` counts unless
    `add_bos_token` is false: Llama-3 declares its BOS only there, while Qwen2
    declares none.
    """
    with_special = tokenizer.encode("a", add_special_tokens=True).ids
    without = tokenizer.encode("a", add_special_tokens=False).ids
    if len(with_special) > len(without) and with_special[-len(without) :] == without:
        return with_special[0]
    config_path = model_dir / "tokenizer_config.json"
    if not config_path.exists():
        return None
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if config.get("add_bos_token") is False:
        return None
    return _token_id(tokenizer, config.get("bos_token"))


def detect_eos_token_id(model_config: Any, tokenizer: tokenizers.Tokenizer, model_dir: Path) -> int | None:
    eos = getattr(model_config, "eos_token_id", None)
    if isinstance(eos, list):
        eos = eos[0] if eos else None
    if eos is not None:
        return int(eos)
    config_path = model_dir / "tokenizer_config.json"
    if config_path.exists():
        return _token_id(tokenizer, json.loads(config_path.read_text(encoding="utf-8")).get("eos_token"))
    return None


def build_teacher_metadata(
    *,
    model_dir: Path,
    model_config: Any,
    tokenizer: tokenizers.Tokenizer,
    bos_token_id: int | None,
    eos_token_id: int | None,
    max_context_tokens: int,
    dtype: str,
    files: list[str],
    tolerance: float,
    max_abs_difference: float,
) -> dict[str, Any]:
    """Assemble teacher.json. Keys are camelCase because the TypeScript worker reads them."""
    return {
        "format": TEACHER_FORMAT,
        "formatVersion": TEACHER_FORMAT_VERSION,
        "architecture": (model_config.architectures or [model_config.model_type])[0],
        "modelType": model_config.model_type,
        "bosTokenId": bos_token_id,
        "eosTokenId": eos_token_id,
        "vocabSize": int(model_config.vocab_size),
        "tokenizerVocabSize": tokenizer_vocab_size(model_dir / "tokenizer.json"),
        "maxContextTokens": max_context_tokens,
        "dtype": dtype,
        "weightsSha256": weights_sha256(model_dir),
        "tokenizerSha256": sha256_file(model_dir / "tokenizer.json"),
        "graph": {
            "inputs": ["input_ids", "attention_mask"],
            "inputType": "int64",
            "outputs": ["token_loss"],
            "outputType": "float32",
            "padding": "right",
            # Position 0 of every row has no prediction; the graph returns NaN there.
            "firstPosition": "nan",
        },
        "files": files,
        "check": {"tolerance": tolerance, "maxAbsDifference": max_abs_difference},
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__,
            "tokenizers": tokenizers.__version__,
        },
    }
