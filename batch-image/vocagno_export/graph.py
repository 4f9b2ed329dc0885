"""The teacher graph: a causal language model wrapped to return per-token losses."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import onnx
import torch
import torch.nn.functional as F
from torch import nn

log = logging.getLogger(__name__)

INPUT_NAMES = ("input_ids", "attention_mask")
OUTPUT_NAME = "token_loss"
OPSET_VERSION = 17
EXTERNAL_DATA_FILE = "model.onnx.data"
# Protobuf cannot serialize a message over 2 GiB, so larger graphs must keep weights outside.
PROTOBUF_LIMIT_BYTES = 2**31
# Vocabulary entries per slice of the output layer, so a 152k vocabulary takes 10 slices.
VOCAB_SLICE = 16_384


def additive_causal_mask(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Turn a right-padding mask [batch, seq] into the additive causal mask [batch, 1, seq, seq].

    transformers builds this mask with torch.vmap, which the TorchScript exporter
    cannot trace; a 4D mask passed in is used as is.
    """
    length = attention_mask.shape[1]
    positions = torch.arange(length, device=attention_mask.device)
    causal = positions[None, :] <= positions[:, None]  # [query, key]
    allowed = causal[None, None, :, :] & attention_mask[:, None, None, :].bool()
    # 0 where attention is allowed, the dtype's lowest finite value where it is not.
    return (1.0 - allowed.to(dtype)) * torch.finfo(dtype).min


class TokenLossModel(nn.Module):
    """Wraps a causal LM so that forward returns `token_loss[b, p] = -log p(ids[b, p] | ids[b, <p])`.

    Position 0 has no prediction and is NaN, so the output has the input's shape.
    The log-sum-exp runs in fp32 whatever the weight dtype, and only one float per
    token leaves the graph instead of a vocabulary-sized logit row.

    The output layer runs in slices of `vocab_slice` entries. Each slice is reduced
    to its maximum, its sum of exponentials and the target's logit before the next
    one, so the graph contains no whole [batch, sequence, vocabulary] tensor. At
    16,384 tokens of a 152k vocabulary that tensor alone would be 10 GB in fp32.
    """

    def __init__(self, causal_lm: nn.Module, vocab_slice: int = VOCAB_SLICE) -> None:
        super().__init__()
        self.decoder = causal_lm.get_decoder()
        self.lm_head = causal_lm.get_output_embeddings()
        # Slice bounds come from the weight's shape here, outside tracing, so they stay Python ints.
        vocab = self.lm_head.weight.shape[0]
        starts = range(0, vocab, vocab_slice)
        self.vocab_slices = [(start, min(start + vocab_slice, vocab)) for start in starts]

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        mask = additive_causal_mask(attention_mask, self.lm_head.weight.dtype)
        hidden = self.decoder(input_ids=input_ids, attention_mask=mask, use_cache=False).last_hidden_state
        # hidden: [batch, seq, hidden]; the last position predicts nothing inside the sequence.
        hidden = hidden[:, :-1, :]
        targets = input_ids[:, 1:]  # [batch, seq - 1]
        weight, bias = self.lm_head.weight, self.lm_head.bias
        row_max = row_sum = target_logits = None
        # The vocabulary size is fixed, so this loop unrolls into one matmul per slice in the graph.
        for start, end in self.vocab_slices:
            if target_logits is not None:
                # A no-op reshape to the shape of the running results makes this slice's matmul wait
                # for the previous slice's reductions, so ONNX Runtime frees those logits first.
                # NOTE: that ordering was measured with the CPU provider only, never with CUDA.
                hidden = hidden.reshape(*(row_sum + target_logits).shape, hidden.shape[-1])
            logits = F.linear(hidden, weight[start:end], None if bias is None else bias[start:end]).float()
            # Written out instead of torch.logsumexp: ONNX Runtime's ReduceLogSumExp sums a
            # long row sequentially and drifts by about 3e-4 nats, ReduceSum does not.
            slice_max = logits.amax(dim=-1)
            slice_sum = torch.exp(logits - slice_max.unsqueeze(-1)).sum(dim=-1)
            inside = (targets >= start) & (targets < end)
            index = (targets - start).clamp(0, end - start - 1).unsqueeze(-1)
            picked = torch.gather(logits, 2, index).squeeze(-1)
            picked = torch.where(inside, picked, torch.zeros_like(picked))
            if target_logits is None:
                row_max, row_sum, target_logits = slice_max, slice_sum, picked
                continue
            # Online log-sum-exp: rescale both sums to the larger of the two maxima.
            new_max = torch.maximum(row_max, slice_max)
            row_sum = row_sum * torch.exp(row_max - new_max) + slice_sum * torch.exp(slice_max - new_max)
            row_max = new_max
            target_logits = target_logits + picked
        loss = torch.log(row_sum) + row_max - target_logits  # [batch, seq - 1]
        first = torch.full_like(loss[:, :1], float("nan"))
        return torch.cat([first, loss], dim=1)


def export_graph(model: TokenLossModel, path: Path, external_data: str) -> bool:
    """Export `model` to the ONNX file `path`, returning whether weights went to external data.

    `external_data` is `auto` (only when the graph would pass protobuf's 2 GiB limit),
    `always` or `never`.
    """
    sample_ids = torch.tensor([[1, 2, 3, 4], [5, 6, 7, 0]], dtype=torch.long)
    sample_mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]], dtype=torch.long)
    raw_dir = path.parent / "raw"
    raw_dir.mkdir()
    raw_path = raw_dir / "model.onnx"
    with torch.inference_mode():
        torch.onnx.export(
            model,
            (sample_ids, sample_mask),
            str(raw_path),
            input_names=list(INPUT_NAMES),
            output_names=[OUTPUT_NAME],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "sequence"},
                "attention_mask": {0: "batch", 1: "sequence"},
                OUTPUT_NAME: {0: "batch", 1: "sequence"},
            },
            opset_version=OPSET_VERSION,
            do_constant_folding=True,
            dynamo=False,
        )
    # The TorchScript exporter writes one file per tensor for large graphs, so the
    # graph is reloaded and saved again with every weight in a single data file.
    graph = onnx.load(str(raw_path), load_external_data=True)
    weight_bytes = sum(len(t.raw_data) for t in graph.graph.initializer)
    use_external = external_data == "always" or (
        external_data == "auto" and weight_bytes >= PROTOBUF_LIMIT_BYTES - 64 * 2**20
    )
    if use_external:
        onnx.save_model(
            graph,
            str(path),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=EXTERNAL_DATA_FILE,
            size_threshold=0,
        )
    else:
        onnx.save_model(graph, str(path))
    for leftover in raw_dir.iterdir():
        os.remove(leftover)
    raw_dir.rmdir()
    log.info("graph exported path=%s weight_bytes=%d external_data=%s", path, weight_bytes, use_external)
    return use_external
