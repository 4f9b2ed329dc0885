"""Self-check of an exported teacher: PyTorch and ONNX Runtime (CPU) must agree on sample texts."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnxruntime
import tokenizers
import torch

from .graph import OUTPUT_NAME, TokenLossModel

log = logging.getLogger(__name__)

# Mixed scripts, digits, code and emoji so that byte-level and byte-fallback tokens appear.
DEFAULT_CHECK_TEXTS = (
    "The derivative of x^2 + 3x is 2x + 3, so the slope at x = 1 is 5.",
    "def add(a, b):\n    return a + b  # plain Python",
    "Zürich, 東京 and 🙂 emoji: ∑_{i=1}^{n} i = n(n+1)/2.",
    "Short.",
)
DEFAULT_TOLERANCE = {"fp32": 1e-4, "fp16": 5e-2, "bf16": 2.5e-1}
MAX_CHECK_TOKENS = 96


class ExportCheckError(RuntimeError):
    """PyTorch and ONNX Runtime disagree beyond the tolerance on the check texts."""

    def __init__(self, max_abs_difference: float, tolerance: float, text_index: int, position: int) -> None:
        super().__init__(
            f"exported teacher disagrees with PyTorch: max |difference| = {max_abs_difference:.3g} "
            f"at check text {text_index}, token {position}, above the tolerance {tolerance:.3g}; "
            "inspect the graph, or raise --tolerance if the dtype explains it"
        )
        self.max_abs_difference = max_abs_difference
        self.tolerance = tolerance


def encode_check_texts(
    tokenizer: tokenizers.Tokenizer, texts: list[str], bos_token_id: int | None, max_tokens: int
) -> list[list[int]]:
    sequences = []
    for text in texts:
        ids = tokenizer.encode(text, add_special_tokens=False).ids
        if bos_token_id is not None:
            ids = [bos_token_id, *ids]
        sequences.append(ids[:max_tokens])
    return sequences


def pad_right(sequences: list[list[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Return `input_ids` and `attention_mask`, both int64 [batch, longest]."""
    longest = max(len(ids) for ids in sequences)
    input_ids = np.full((len(sequences), longest), pad_id, dtype=np.int64)
    attention_mask = np.zeros((len(sequences), longest), dtype=np.int64)
    for row, ids in enumerate(sequences):
        input_ids[row, : len(ids)] = ids
        attention_mask[row, : len(ids)] = 1
    return input_ids, attention_mask


def open_check_session(onnx_path: Path) -> onnxruntime.InferenceSession:
    """Open the graph on CPU, or on CUDA when the CPU provider lacks a kernel (bf16 graphs)."""
    try:
        return onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    except onnxruntime.capi.onnxruntime_pybind11_state.NotImplemented as error:
        if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
            return onnxruntime.InferenceSession(str(onnx_path), providers=["CUDAExecutionProvider"])
        raise ValueError(
            f"ONNX Runtime {onnxruntime.__version__} cannot run this graph on CPU ({error}), so the export "
            "cannot be checked here; bf16 graphs have almost no CPU kernels. Export with --dtype fp16 or "
            "fp32, or run the export where the CUDA execution provider is installed"
        ) from error


def check_export(
    wrapper: TokenLossModel,
    onnx_path: Path,
    tokenizer: tokenizers.Tokenizer,
    texts: list[str],
    bos_token_id: int | None,
    max_context_tokens: int,
    tolerance: float,
) -> float:
    """Score `texts` as one right-padded batch in both runtimes and return the max |difference|.

    Raises ExportCheckError when the difference passes `tolerance` or when NaN
    appears anywhere but position 0.
    """
    sequences = encode_check_texts(tokenizer, texts, bos_token_id, min(max_context_tokens, MAX_CHECK_TOKENS))
    input_ids, attention_mask = pad_right(sequences, pad_id=0)
    with torch.inference_mode():
        expected = wrapper(torch.from_numpy(input_ids), torch.from_numpy(attention_mask)).float().numpy()
    session = open_check_session(onnx_path)
    (actual,) = session.run([OUTPUT_NAME], {"input_ids": input_ids, "attention_mask": attention_mask})

    worst = (0.0, 0, 0)
    for row, ids in enumerate(sequences):
        for position in range(len(ids)):
            want, got = float(expected[row, position]), float(actual[row, position])
            if position == 0:
                difference = 0.0 if np.isnan(want) and np.isnan(got) else float("inf")
            elif np.isnan(want) or np.isnan(got):
                difference = float("inf")
            else:
                difference = abs(want - got)
            if difference > worst[0]:
                worst = (difference, row, position)
    log.info("export check max_abs_difference=%.3g tolerance=%.3g texts=%d", worst[0], tolerance, len(texts))
    if worst[0] > tolerance:
        raise ExportCheckError(worst[0], tolerance, worst[1], worst[2])
    return worst[0]
