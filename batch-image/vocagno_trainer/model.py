"""Load the student model and tokenizer from a Hugging Face model directory."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from . import storage
from .data import Separators

log = logging.getLogger(__name__)


@dataclass
class Student:
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    separators: Separators
    local_directory: Path


def student_separators(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, source: str) -> Separators:
    """Read EOS from the model config (else the tokenizer), and BOS only if the tokenizer adds one."""
    eos = model.config.eos_token_id
    if isinstance(eos, list):
        eos = eos[0]
    if eos is None:
        eos = tokenizer.eos_token_id
    if eos is None:
        raise ValueError(
            f"student at {source} defines no EOS token in config.json or the tokenizer; set eos_token_id"
        )
    bos = tokenizer.bos_token_id
    # A tokenizer that prepends BOS to plain text (Llama, Mistral) was trained with it between documents.
    encoded = tokenizer("a")["input_ids"]
    uses_bos = bos is not None and len(encoded) > 0 and encoded[0] == bos
    return Separators(bos_token_id=int(bos) if uses_bos else None, eos_token_id=int(eos))


def load_student(uri: str, cache_directory: Path) -> Student:
    """Load the student in fp32 weights (autocast handles bf16) from a local path or an s3:// prefix."""
    directory = storage.download_directory(uri, cache_directory / "student")
    if not (directory / "config.json").exists():
        raise FileNotFoundError(
            f"no config.json in the student model directory {uri}: pass a Hugging Face model directory"
        )
    model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    separators = student_separators(model, tokenizer, uri)
    log.info(
        "loaded student from %s: %.1fM parameters, BOS=%s, EOS=%d",
        uri,
        sum(parameter.numel() for parameter in model.parameters()) / 1e6,
        separators.bos_token_id,
        separators.eos_token_id,
    )
    return Student(model, tokenizer, separators, directory)
