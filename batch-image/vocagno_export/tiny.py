"""Build tiny random-init causal language models of real architectures for tests and benchmarks.

    python -m vocagno_export.tiny --architecture qwen2 --tokenizer tokenizer.json --output DIR

The model directory looks like a Hugging Face checkpoint (config.json, safetensors
weights, tokenizer.json), so the exporter treats it like a downloaded model.
"""

from __future__ import annotations

import argparse
import logging
import shutil
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM

from .metadata import tokenizer_vocab_size

log = logging.getLogger(__name__)

ARCHITECTURES = {"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM", "mistral": "MistralForCausalLM"}


def build_tiny_model(
    architecture: str,
    tokenizer_path: Path,
    output: Path,
    *,
    hidden_size: int = 64,
    layers: int = 2,
    heads: int = 4,
    kv_heads: int = 2,
    intermediate_size: int = 128,
    vocab_size: int | None = None,
    max_context: int = 512,
    seed: int = 0,
) -> Path:
    """Write a random-init model of `architecture` with the real tokenizer at `tokenizer_path`.

    `vocab_size` defaults to the tokenizer's size, so every token id has an embedding row.
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; use one of {sorted(ARCHITECTURES)}")
    config = AutoConfig.for_model(
        architecture,
        vocab_size=vocab_size or tokenizer_vocab_size(tokenizer_path),
        hidden_size=hidden_size,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        intermediate_size=intermediate_size,
        max_position_embeddings=max_context,
        tie_word_embeddings=False,
        architectures=[ARCHITECTURES[architecture]],
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    # Random init with std 0.02 gives nearly uniform predictions. Output weights scaled to
    # logits of std about 3 make losses vary per token (about 5 to 25 nats) at any width.
    with torch.no_grad():
        model.get_output_embeddings().weight.mul_(3.0 / (config.initializer_range * hidden_size**0.5))
    output.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output, safe_serialization=True)
    shutil.copyfile(tokenizer_path, output / "tokenizer.json")
    config_path = tokenizer_path.parent / "tokenizer_config.json"
    if config_path.exists():
        shutil.copyfile(config_path, output / "tokenizer_config.json")
    log.info("tiny model written architecture=%s output=%s", architecture, output)
    return output


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--architecture", required=True, choices=sorted(ARCHITECTURES))
    parser.add_argument("--tokenizer", required=True, type=Path, help="path of a tokenizer.json")
    parser.add_argument("--output", required=True, type=Path, help="model directory to write")
    parser.add_argument("--hidden-size", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--kv-heads", type=int, default=2)
    parser.add_argument("--intermediate-size", type=int, default=128)
    parser.add_argument("--vocab-size", type=int, default=None, help="default: the tokenizer's size")
    parser.add_argument("--max-context", type=int, default=512, help="max_position_embeddings in tokens")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    build_tiny_model(
        args.architecture,
        args.tokenizer,
        args.output,
        hidden_size=args.hidden_size,
        layers=args.layers,
        heads=args.heads,
        kv_heads=args.kv_heads,
        intermediate_size=args.intermediate_size,
        vocab_size=args.vocab_size,
        max_context=args.max_context,
        seed=args.seed,
    )


if __name__ == "__main__":
    main()
