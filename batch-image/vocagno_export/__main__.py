"""Command line: python -m vocagno_export --model DIR --output DIR [options]."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .check import DEFAULT_TOLERANCE, ExportCheckError
from .export import DETECT, DTYPES, ExportOptions, export_teacher
from .graph import VOCAB_SLICE


def parse_bos(value: str) -> int | str | None:
    if value == "none":
        return None
    if value == DETECT:
        return DETECT
    return int(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vocagno_export",
        description="Export a Hugging Face causal LM to a vocagno teacher bundle (model.onnx that returns "
        "per-token losses, tokenizer.json, teacher.json) and check it against PyTorch.",
    )
    parser.add_argument("--model", required=True, type=Path, help="Hugging Face model directory")
    parser.add_argument("--output", required=True, type=Path, help="teacher bundle directory to write")
    parser.add_argument("--dtype", default="fp32", choices=sorted(DTYPES), help="weight dtype (default fp32)")
    parser.add_argument(
        "--max-context",
        type=int,
        default=None,
        help="max tokens per window (default: max_position_embeddings)",
    )
    parser.add_argument("--check-texts", type=Path, default=None, help="UTF-8 file, one check text per line")
    parser.add_argument(
        "--tolerance",
        type=float,
        default=None,
        help=f"max |PyTorch - ONNX Runtime| loss in nats (default {DEFAULT_TOLERANCE})",
    )
    parser.add_argument(
        "--external-data",
        default="auto",
        choices=["auto", "always", "never"],
        help="weights in model.onnx.data: auto (only past 2 GiB), always or never",
    )
    parser.add_argument(
        "--vocab-slice",
        type=int,
        default=VOCAB_SLICE,
        help="output-layer rows computed at a time; one slice's logits are the graph's largest tensor, "
        f"so memory grows with it (default {VOCAB_SLICE})",
    )
    parser.add_argument(
        "--bos-token-id", type=parse_bos, default=DETECT, help="BOS id, 'none', or 'detect' (default)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    check_texts = None
    if args.check_texts is not None:
        lines = args.check_texts.read_text(encoding="utf-8").splitlines()
        check_texts = tuple(line for line in lines if line.strip())
        if not check_texts:
            parser.error(f"--check-texts {args.check_texts} has no non-empty line")
    options = ExportOptions(
        model_dir=args.model,
        output_dir=args.output,
        dtype=args.dtype,
        max_context_tokens=args.max_context,
        check_texts=check_texts,
        tolerance=args.tolerance,
        external_data=args.external_data,
        bos_token_id=args.bos_token_id,
        vocab_slice=args.vocab_slice,
    )
    try:
        export_teacher(options)
    except (ExportCheckError, ValueError, FileNotFoundError) as error:
        logging.getLogger("vocagno_export").error("export failed: %s", error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
