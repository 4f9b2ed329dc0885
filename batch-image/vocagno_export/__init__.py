"""Export of a Hugging Face causal language model to a vocagno teacher bundle.

A teacher bundle is a directory with `model.onnx` (per-token losses computed in
the graph), the model's `tokenizer.json` and `teacher.json` metadata. Run
`python -m vocagno_export --help` for the command line.
"""
