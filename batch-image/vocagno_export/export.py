"""Teacher bundle export: Hugging Face model directory in, checked teacher bundle out."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import tokenizers
import torch
from transformers import AutoConfig, AutoModelForCausalLM

from .check import DEFAULT_CHECK_TEXTS, DEFAULT_TOLERANCE, check_export
from .graph import EXTERNAL_DATA_FILE, VOCAB_SLICE, TokenLossModel, export_graph
from .metadata import build_teacher_metadata, detect_bos_token_id, detect_eos_token_id, tokenizer_vocab_size

log = logging.getLogger(__name__)

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
SUPPORTED_MODEL_TYPES = ("llama", "qwen2", "mistral")
# Sentinel for `bos_token_id`: detect it from the tokenizer files.
DETECT = "detect"


@dataclass(frozen=True)
class ExportOptions:
    """Settings of one export; see `python -m vocagno_export --help`."""

    model_dir: Path
    output_dir: Path
    dtype: str = "fp32"
    # Maximum tokens per scoring window; None means the model's max_position_embeddings.
    max_context_tokens: int | None = None
    # Texts for the PyTorch/ONNX Runtime comparison; None means DEFAULT_CHECK_TEXTS.
    check_texts: tuple[str, ...] | None = None
    # Largest allowed |PyTorch - ONNX Runtime| loss in nats; None means DEFAULT_TOLERANCE[dtype].
    tolerance: float | None = None
    # `auto` (only past protobuf's 2 GiB limit), `always` or `never`.
    external_data: str = "auto"
    # An int, None (the teacher has no BOS) or DETECT.
    bos_token_id: int | str | None = DETECT
    # Output-layer rows per slice. One slice's logits are the graph's largest tensor.
    vocab_slice: int = VOCAB_SLICE


def _validate(options: ExportOptions) -> None:
    if options.dtype not in DTYPES:
        raise ValueError(f"invalid dtype {options.dtype!r}; use one of {sorted(DTYPES)}")
    if (
        isinstance(options.vocab_slice, bool)
        or not isinstance(options.vocab_slice, int)
        or options.vocab_slice < 1
    ):
        raise ValueError(
            f"invalid vocab slice {options.vocab_slice!r}; use a whole number of rows, 1 or more"
        )
    if options.external_data not in ("auto", "always", "never"):
        raise ValueError(
            f"invalid external data setting {options.external_data!r}; use auto, always or never"
        )
    for name in ("config.json", "tokenizer.json"):
        if not (options.model_dir / name).is_file():
            raise FileNotFoundError(
                f"{options.model_dir / name} not found; pass a Hugging Face model directory"
            )
    if options.max_context_tokens is not None and options.max_context_tokens < 2:
        raise ValueError(f"invalid max context {options.max_context_tokens}; use at least 2 tokens")


def export_teacher(options: ExportOptions) -> dict:
    """Export and check a teacher bundle, returning its teacher.json content.

    The bundle is built in a temporary sibling directory and renamed into place,
    so `output_dir` either contains a complete, checked bundle or is unchanged.

    >>> export_teacher(ExportOptions(model_dir=Path("qwen2-7b"), output_dir=Path("teacher")))
    """
    _validate(options)
    model_config = AutoConfig.from_pretrained(options.model_dir)
    if model_config.model_type not in SUPPORTED_MODEL_TYPES:
        raise ValueError(
            f"unsupported model type {model_config.model_type!r} in {options.model_dir / 'config.json'}; "
            f"supported: {', '.join(SUPPORTED_MODEL_TYPES)}"
        )
    model_context = int(model_config.max_position_embeddings)
    max_context = options.max_context_tokens or model_context
    if max_context > model_context:
        raise ValueError(
            f"max context {max_context} exceeds the model's max_position_embeddings {model_context}; "
            "pass a smaller --max-context"
        )
    tokenizer = tokenizers.Tokenizer.from_file(str(options.model_dir / "tokenizer.json"))
    tokenizer_size = tokenizer_vocab_size(options.model_dir / "tokenizer.json")
    if tokenizer_size > model_config.vocab_size:
        raise ValueError(
            f"tokenizer has {tokenizer_size} tokens but the model's vocab_size is {model_config.vocab_size}; "
            "the tokenizer.json does not belong to this model"
        )
    if options.bos_token_id == DETECT:
        bos_token_id = detect_bos_token_id(options.model_dir, tokenizer)
    else:
        bos_token_id = options.bos_token_id
    eos_token_id = detect_eos_token_id(model_config, tokenizer, options.model_dir)

    model = AutoModelForCausalLM.from_pretrained(
        options.model_dir, dtype=DTYPES[options.dtype], attn_implementation="eager"
    )
    model.config.use_cache = False
    model.eval()
    wrapper = TokenLossModel(model, vocab_slice=options.vocab_slice).eval()

    options.output_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{options.output_dir.name}.tmp-", dir=options.output_dir.parent))
    staging.chmod(0o755)
    try:
        external = export_graph(wrapper, staging / "model.onnx", options.external_data)
        tolerance = options.tolerance if options.tolerance is not None else DEFAULT_TOLERANCE[options.dtype]
        max_difference = check_export(
            wrapper,
            staging / "model.onnx",
            tokenizer,
            list(options.check_texts or DEFAULT_CHECK_TEXTS),
            bos_token_id,
            max_context,
            tolerance,
        )
        shutil.copyfile(options.model_dir / "tokenizer.json", staging / "tokenizer.json")
        files = ["model.onnx", *([EXTERNAL_DATA_FILE] if external else []), "tokenizer.json", "teacher.json"]
        metadata = build_teacher_metadata(
            model_dir=options.model_dir,
            model_config=model_config,
            tokenizer=tokenizer,
            bos_token_id=bos_token_id,
            eos_token_id=eos_token_id,
            max_context_tokens=max_context,
            dtype=options.dtype,
            files=files,
            tolerance=tolerance,
            max_abs_difference=max_difference,
        )
        (staging / "teacher.json").write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
        _replace_directory(staging, options.output_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("teacher bundle written output=%s dtype=%s", options.output_dir, options.dtype)
    return metadata


def _replace_directory(staging: Path, target: Path) -> None:
    """Move `staging` to `target`, replacing an older bundle there."""
    if target.exists():
        old = target.with_name(f".{target.name}.old-{staging.name[-8:]}")
        target.rename(old)
        staging.rename(target)
        shutil.rmtree(old)
    else:
        staging.rename(target)
