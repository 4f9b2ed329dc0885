"""PyTorch baseline for the teacher benchmark: the same batches through a plain forward pass.

    python -m vocagno_export.torch_benchmark --model DIR --input batches.json --output result.json

`batches.json` contains `batches`, each a list of token id sequences; every batch is
right-padded to its longest sequence, run through the Hugging Face model, and
reduced to per-token losses with cross-entropy, as the teacher graph does.
The result holds the seconds of each repetition (model loading excluded).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM


def run_batch(model: torch.nn.Module, sequences: list[list[int]]) -> torch.Tensor:
    longest = max(len(ids) for ids in sequences)
    input_ids = torch.zeros((len(sequences), longest), dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), longest), dtype=torch.long)
    for row, ids in enumerate(sequences):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        attention_mask[row, : len(ids)] = 1
    logits = model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits
    # logits: [batch, seq, vocab]; loss of token p comes from position p - 1.
    return F.cross_entropy(logits[:, :-1].float().transpose(1, 2), input_ids[:, 1:], reduction="none")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--input", required=True, type=Path)
    parser.add_argument("--output", required=True, type=Path)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    batches = json.loads(args.input.read_text(encoding="utf-8"))["batches"]
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32).eval()
    seconds = []
    with torch.inference_mode():
        run_batch(model, batches[0])  # warm-up
        for _ in range(args.repeats):
            started = time.perf_counter()
            for batch in batches:
                run_batch(model, batch)
            seconds.append(time.perf_counter() - started)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = {"seconds": seconds, "threads": torch.get_num_threads(), "maxRssBytes": peak_kib * 1024}
    args.output.write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main()
