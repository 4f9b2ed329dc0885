"""Extract the demo corpus: the docstrings of SymPy and mpmath, one document per docstring.

    python scripts/demo/extract_corpus.py --wheel sympy-1.14.0-py3-none-any.whl \
        --wheel mpmath-1.4.1-py3-none-any.whl --output data/demo-corpus.jsonl.gz

Get the wheels with `pip download --no-deps sympy==1.14.0 mpmath==1.4.1`. The
sources are parsed with `ast`, never imported, so nothing from the wheels runs.
Each record is `{"id": qualified name, "text": docstring}`; docstrings are
human-written, math-heavy text (LaTeX, formulas, doctest examples). Exact
duplicate texts keep only the first id in sorted order, and the output is
deterministic: the same wheels give byte-identical gzip output.
"""

from __future__ import annotations

import argparse
import ast
import gzip
import hashlib
import json
import logging
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

log = logging.getLogger("extract_corpus")

# Tests hold few docstrings and much generated text; sympy/parsing/latex is under
# the MIT license rather than BSD-3-Clause, so it stays out to keep one license per package.
EXCLUDED_PARTS = ("tests", "benchmarks", "testing")
EXCLUDED_PREFIXES = ("sympy/parsing/latex/",)
MIN_CHARACTERS = 200


def module_name(path: PurePosixPath) -> str:
    """Return the dotted module name of a package file (`sympy/core/add.py` -> `sympy.core.add`)."""
    parts = list(path.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def iter_docstrings(tree: ast.Module, prefix: str) -> Iterator[tuple[str, str]]:
    """Yield `(qualified name, cleaned docstring)` for the module and every class and function in it."""
    module_doc = ast.get_docstring(tree, clean=True)
    if module_doc:
        yield prefix, module_doc

    def walk(node: ast.AST, qualifier: str) -> Iterator[tuple[str, str]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{qualifier}.{child.name}"
                doc = ast.get_docstring(child, clean=True)
                if doc:
                    yield name, doc
                yield from walk(child, name)

    yield from walk(tree, prefix)


def iter_wheel_documents(wheel: Path) -> Iterator[tuple[str, str]]:
    """Yield the docstrings of every Python source file in `wheel` that is not excluded."""
    with zipfile.ZipFile(wheel) as archive:
        for name in sorted(archive.namelist()):
            path = PurePosixPath(name)
            if path.suffix != ".py" or ".dist-info" in name or name.startswith(EXCLUDED_PREFIXES):
                continue
            if any(part in EXCLUDED_PARTS for part in path.parts):
                continue
            source = archive.read(name).decode("utf-8")
            try:
                tree = ast.parse(source, filename=name)
            except SyntaxError as error:
                log.warning("skipping %s: not parseable by this Python (%s)", name, error)
                continue
            yield from iter_docstrings(tree, module_name(path))


def extract(wheels: list[Path], max_bytes: int | None) -> list[dict[str, str]]:
    """Collect deduplicated docstring records of at least MIN_CHARACTERS, sorted by id.

    With `max_bytes`, keeps every k-th record so that the UTF-8 text stays under
    that size while still covering all modules.
    """
    by_id: dict[str, str] = {}
    for wheel in wheels:
        for qualified_name, text in iter_wheel_documents(wheel):
            if len(text) >= MIN_CHARACTERS:
                by_id.setdefault(qualified_name, text)

    records: list[dict[str, str]] = []
    seen_text: set[str] = set()
    for qualified_name in sorted(by_id):
        text = by_id[qualified_name]
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        if digest in seen_text:
            continue
        seen_text.add(digest)
        records.append({"id": qualified_name, "text": text})

    total_bytes = sum(len(record["text"].encode("utf-8")) for record in records)
    if max_bytes is not None and total_bytes > max_bytes:
        stride = -(-total_bytes // max_bytes)  # ceiling division
        records = records[::stride]
    return records


def write_jsonl_gzip(records: list[dict[str, str]], output: Path) -> None:
    """Write `records` as gzip-compressed JSON lines, atomically and reproducibly (mtime 0)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    temporary = output.with_name(output.name + ".tmp")
    with open(temporary, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as stream:
        for record in records:
            stream.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
    temporary.replace(output)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--wheel", action="append", required=True, type=Path, help="a wheel file; repeatable")
    parser.add_argument("--output", required=True, type=Path, help="the .jsonl.gz file to write")
    parser.add_argument("--max-bytes", type=int, default=None, help="cap on the total UTF-8 text size")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")

    records = extract(args.wheel, args.max_bytes)
    write_jsonl_gzip(records, args.output)
    text_bytes = sum(len(record["text"].encode("utf-8")) for record in records)
    log.info(
        "corpus written output=%s documents=%d text_bytes=%d compressed_bytes=%d",
        args.output,
        len(records),
        text_bytes,
        args.output.stat().st_size,
    )


if __name__ == "__main__":
    main()
