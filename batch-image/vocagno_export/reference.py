"""PyTorch reference of the teacher losses, for tests and benchmarks of the scoring worker.

    python -m vocagno_export.reference --model DIR --input request.json --output losses.json

The request contains `documents` (lists of teacher token ids), `bosTokenId` (int or
null) and `windows`, a list of `{contextTokens, minContextTokens}` settings; the
output has one list of per-document losses per setting. Windows are planned here
independently of the TypeScript worker: the first window takes the first
`contextTokens` tokens (BOS included); every later window starts `minContextTokens`
tokens before the first token it scores. Undefined losses are written as null.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM


def sequence_losses(model: torch.nn.Module, ids: list[int]) -> list[float]:
    """Losses of one unpadded sequence; position 0 is NaN."""
    if len(ids) < 2:
        return [math.nan] * len(ids)
    logits = model(torch.tensor([ids], dtype=torch.long)).logits[0]
    loss = F.cross_entropy(logits[:-1].float(), torch.tensor(ids[1:], dtype=torch.long), reduction="none")
    return [math.nan, *loss.tolist()]


def windowed_losses(
    model: torch.nn.Module, ids: list[int], bos: int | None, context: int, min_context: int
) -> list[float]:
    prefix = [] if bos is None else [bos]
    capacity = context - len(prefix)
    if bos is None:
        min_context = max(1, min_context)
    losses = [math.nan] * len(ids)
    scored_end = 0
    start = 0
    while scored_end < len(ids):
        end = min(start + capacity, len(ids))
        window = sequence_losses(model, prefix + ids[start:end])
        for token in range(scored_end, end):
            losses[token] = window[token - start + len(prefix)]
        scored_end = end
        start = scored_end - min_context
    return losses


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, type=Path, help="Hugging Face model directory")
    parser.add_argument("--input", required=True, type=Path, help="request JSON")
    parser.add_argument("--output", required=True, type=Path, help="losses JSON to write")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    request = json.loads(args.input.read_text(encoding="utf-8"))
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    results = []
    with torch.inference_mode():
        for setting in request["windows"]:
            losses = [
                windowed_losses(
                    model, ids, request["bosTokenId"], setting["contextTokens"], setting["minContextTokens"]
                )
                for ids in request["documents"]
            ]
            results.append([[None if math.isnan(value) else value for value in row] for row in losses])
    result = {"losses": results}
    args.output.write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main()
