"""Read vocagno shards and teacher-score files (Arrow IPC, docs/shard-format.md) with pyarrow.

Example::

    shard = read_shard("s3://bucket/runs/r1/shards/000000.arrow")
    scores = read_teacher_scores("s3://bucket/runs/r1/teacher/000000.arrow")
    for document, losses in zip(shard.documents, scores.documents, strict=True):
        keep = document.mapped & ~np.isnan(losses.student_teacher_loss)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.ipc

from vocagno_data.storage import read_bytes

FORMAT_VERSION = 1
SHARD_FORMAT = "shard"
TEACHER_SCORES_FORMAT = "teacher-scores"
AGGREGATIONS = ("max", "mean", "sum", "min")

_ARROW_MAGIC = b"ARROW1"


class ShardFormatError(ValueError):
    """An invalid shard or teacher-score file; ``code`` matches the TypeScript ``ShardFormatError``."""

    def __init__(self, code: str, uri: str, detail: str) -> None:
        super().__init__(f"invalid {uri}: {detail}")
        self.code = code
        self.uri = uri


@dataclass(frozen=True)
class ShardDocument:
    """One tokenized, aligned document. Spans are UTF-8 byte offsets, ``[start, end)`` rows."""

    id: str
    byte_length: int
    student_ids: np.ndarray  # int32, shape (n,)
    student_spans: np.ndarray  # int32, shape (n, 2)
    teacher_ids: np.ndarray  # int32, shape (m,)
    teacher_spans: np.ndarray  # int32, shape (m, 2)
    teacher_start: np.ndarray  # int32, shape (n,): first teacher token; 0 where unmapped
    teacher_end: np.ndarray  # int32, shape (n,): one past the last teacher token; 0 where unmapped
    mapped: np.ndarray  # bool, shape (n,): False where the student token has no teacher range


@dataclass(frozen=True)
class Shard:
    """A shard's metadata and its documents in file order."""

    item: str
    student_identity: dict[str, Any]
    teacher_identity: dict[str, Any]
    stats: dict[str, Any]
    documents: list[ShardDocument]


@dataclass(frozen=True)
class TeacherScoresDocument:
    """Teacher losses of one document in nats, float32 widened from the stored float16; NaN if undefined."""

    id: str
    teacher_loss: np.ndarray  # float32, shape (m,)
    student_teacher_loss: np.ndarray  # float32, shape (n,)


@dataclass(frozen=True)
class TeacherScores:
    """A teacher-score file's metadata and one row per shard document, in shard order."""

    item: str
    teacher_bundle: dict[str, Any]
    aggregation: str
    documents: list[TeacherScoresDocument]


def _open_table(uri: str, data: bytes, expected_format: str) -> pa.Table:
    """Parse an Arrow IPC file and check its format name and version."""
    if not data.startswith(_ARROW_MAGIC):
        raise ShardFormatError(
            "not_arrow_file", uri, f"not an Arrow IPC file (no ARROW1 magic at the start, {len(data)} bytes)"
        )
    if not data.endswith(_ARROW_MAGIC):
        raise ShardFormatError(
            "truncated",
            uri,
            f"the file is truncated ({len(data)} bytes, no ARROW1 magic at the end): rewrite it",
        )
    try:
        table = pa.ipc.open_file(pa.BufferReader(data)).read_all()
    except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as error:
        raise ShardFormatError("invalid_arrow", uri, f"Arrow could not parse the file: {error}") from error
    metadata = {key.decode(): value.decode() for key, value in (table.schema.metadata or {}).items()}
    found_format = metadata.get("vocagno.format")
    if found_format != expected_format:
        raise ShardFormatError(
            "wrong_format",
            uri,
            f"schema metadata vocagno.format is {json.dumps(found_format)}, "
            f"expected {json.dumps(expected_format)}",
        )
    version = metadata.get("vocagno.formatVersion")
    if version != str(FORMAT_VERSION):
        raise ShardFormatError(
            "unsupported_version",
            uri,
            f"format version {json.dumps(version)} is not supported: "
            f"this reader reads version {FORMAT_VERSION}",
        )
    return table


def _metadata(uri: str, table: pa.Table, key: str) -> str:
    value = (table.schema.metadata or {}).get(key.encode())
    if value is None:
        raise ShardFormatError("invalid_metadata", uri, f"schema metadata {key} is missing")
    return value.decode()


def _json_object_metadata(uri: str, table: pa.Table, key: str) -> dict[str, Any]:
    text = _metadata(uri, table, key)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ShardFormatError("invalid_metadata", uri, f"schema metadata {key} is not valid JSON") from error
    if not isinstance(value, dict):
        raise ShardFormatError("invalid_metadata", uri, f"schema metadata {key} is not a JSON object")
    return value


def _check_columns(uri: str, table: pa.Table, expected: dict[str, str]) -> None:
    checks = {
        "utf8": pa.types.is_string,
        "int32": pa.types.is_int32,
        "list<int32>": lambda t: pa.types.is_list(t) and pa.types.is_int32(t.value_type),
        "list<float16>": lambda t: pa.types.is_list(t) and pa.types.is_float16(t.value_type),
    }
    for name, kind in expected.items():
        if name not in table.schema.names:
            raise ShardFormatError("missing_column", uri, f"column {json.dumps(name)} is missing")
        found = table.schema.field(name).type
        if not checks[kind](found):
            raise ShardFormatError(
                "wrong_column_type", uri, f"column {json.dumps(name)} has type {found}, expected {kind}"
            )


def _column(uri: str, table: pa.Table, name: str) -> pa.Array:
    array = table.column(name).combine_chunks()
    if array.null_count > 0:
        row = int(np.flatnonzero(~array.is_valid().to_numpy(zero_copy_only=False))[0])
        raise ShardFormatError("invalid_document", uri, f"column {name} is null in row {row}")
    return array


def _check_spans(spans: np.ndarray, byte_length: int) -> str | None:
    bad = (spans[:, 0] < 0) | (spans[:, 1] < spans[:, 0]) | (spans[:, 1] > byte_length)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        return f"token {k} has span [{spans[k, 0]}, {spans[k, 1]}) outside [0, {byte_length}] or reversed"
    return None


def _check_document(document: ShardDocument) -> str | None:
    m = len(document.teacher_ids)
    problem = _check_spans(document.student_spans, document.byte_length)
    if problem is not None:
        return f"student {problem}"
    problem = _check_spans(document.teacher_spans, document.byte_length)
    if problem is not None:
        return f"teacher {problem}"
    start, end = document.teacher_start[document.mapped], document.teacher_end[document.mapped]
    bad = (start < 0) | (end <= start) | (end > m)
    if bad.any():
        i = int(np.flatnonzero(document.mapped)[np.flatnonzero(bad)[0]])
        return (
            f"student token {i} maps to teacher range "
            f"[{document.teacher_start[i]}, {document.teacher_end[i]}) outside [0, {m}], empty or reversed"
        )
    return None


class _ListColumn:
    """A ``List<Int32>`` column as offsets into one flat int32 array, with item validity."""

    def __init__(self, uri: str, table: pa.Table, name: str) -> None:
        array = _column(uri, table, name)
        self.name = name
        # Offsets index ``array.values`` directly, whatever the array's own slice offset.
        self.offsets = array.offsets.to_numpy()
        self.values = array.values.fill_null(0).to_numpy().astype(np.int32, copy=False)
        self.valid = array.values.is_valid().to_numpy(zero_copy_only=False)

    def row(self, row: int) -> np.ndarray:
        return self.values[self.offsets[row] : self.offsets[row + 1]]

    def row_valid(self, row: int) -> np.ndarray:
        return self.valid[self.offsets[row] : self.offsets[row + 1]]


def _pairs(uri: str, where: str, column: _ListColumn, row: int, count: int, tokens: str) -> np.ndarray:
    """Return row ``row`` of a flattened pair column as shape (count, 2), checking its length."""
    values = column.row(row)
    if len(values) != 2 * count:
        raise ShardFormatError(
            "invalid_document",
            uri,
            f"{where}: {column.name} has {len(values)} values for {count} {tokens} tokens, "
            f"expected {2 * count}",
        )
    return values.reshape(-1, 2)


def _mapped_mask(uri: str, where: str, alignment: _ListColumn, row: int) -> np.ndarray:
    """Return which alignment pairs are non-null, checking that no pair is half null."""
    valid = alignment.row_valid(row).reshape(-1, 2)
    half_null = valid[:, 0] != valid[:, 1]
    if half_null.any():
        i = int(np.flatnonzero(half_null)[0])
        raise ShardFormatError(
            "invalid_document",
            uri,
            f"{where}: alignment pair {i} has one null and one value; an unmapped token needs two nulls",
        )
    return valid[:, 0].copy()


def read_shard(path_or_uri: str | os.PathLike[str]) -> Shard:
    """Read and validate a shard from a local path, ``file://`` URI or ``s3://`` URI.

    Raises ``ShardFormatError`` naming the file and the problem, and
    ``ObjectNotFoundError`` when the file is missing.
    """
    uri = os.fspath(path_or_uri)
    table = _open_table(uri, read_bytes(uri), SHARD_FORMAT)
    list_names = ["student_ids", "student_spans", "teacher_ids", "teacher_spans", "alignment"]
    _check_columns(
        uri, table, {"id": "utf8", "byte_length": "int32", **dict.fromkeys(list_names, "list<int32>")}
    )

    ids = _column(uri, table, "id").to_pylist()
    byte_lengths = _column(uri, table, "byte_length").to_numpy()
    columns = {name: _ListColumn(uri, table, name) for name in list_names}

    documents = []
    for row, document_id in enumerate(ids):
        where = f"document {row} (id {json.dumps(document_id, ensure_ascii=False)})"
        student_ids = columns["student_ids"].row(row)
        teacher_ids = columns["teacher_ids"].row(row)
        n, m = len(student_ids), len(teacher_ids)
        alignment = _pairs(uri, where, columns["alignment"], row, n, "student")
        mapped = _mapped_mask(uri, where, columns["alignment"], row)
        document = ShardDocument(
            id=document_id,
            byte_length=int(byte_lengths[row]),
            student_ids=student_ids,
            student_spans=_pairs(uri, where, columns["student_spans"], row, n, "student"),
            teacher_ids=teacher_ids,
            teacher_spans=_pairs(uri, where, columns["teacher_spans"], row, m, "teacher"),
            teacher_start=np.where(mapped, alignment[:, 0], 0).astype(np.int32),
            teacher_end=np.where(mapped, alignment[:, 1], 0).astype(np.int32),
            mapped=mapped,
        )
        problem = _check_document(document)
        if problem is not None:
            raise ShardFormatError("invalid_document", uri, f"{where}: {problem}")
        documents.append(document)

    return Shard(
        item=_metadata(uri, table, "vocagno.item"),
        student_identity=_json_object_metadata(uri, table, "vocagno.student"),
        teacher_identity=_json_object_metadata(uri, table, "vocagno.teacher"),
        stats=_json_object_metadata(uri, table, "vocagno.stats"),
        documents=documents,
    )


def read_teacher_scores(path_or_uri: str | os.PathLike[str]) -> TeacherScores:
    """Read and validate a teacher-score file; losses come back as float32 with NaN kept.

    Raises ``ShardFormatError`` naming the file and the problem.
    """
    uri = os.fspath(path_or_uri)
    table = _open_table(uri, read_bytes(uri), TEACHER_SCORES_FORMAT)
    _check_columns(
        uri, table, {"id": "utf8", "teacher_loss": "list<float16>", "student_teacher_loss": "list<float16>"}
    )
    aggregation = _metadata(uri, table, "vocagno.aggregation")
    if aggregation not in AGGREGATIONS:
        raise ShardFormatError(
            "invalid_metadata",
            uri,
            f"schema metadata vocagno.aggregation is {json.dumps(aggregation)}, "
            f"expected one of {', '.join(AGGREGATIONS)}",
        )

    ids = _column(uri, table, "id").to_pylist()
    losses = {}
    for name in ("teacher_loss", "student_teacher_loss"):
        array = _column(uri, table, name)
        offsets, values = array.offsets.to_numpy(), array.values
        if values.null_count > 0:
            raise ShardFormatError(
                "invalid_document",
                uri,
                f"{name} contains a null item, but an undefined loss must be stored as NaN",
            )
        losses[name] = (offsets, values.to_numpy().astype(np.float32))

    def row_values(name: str, row: int) -> np.ndarray:
        offsets, values = losses[name]
        return values[offsets[row] : offsets[row + 1]]

    documents = [
        TeacherScoresDocument(
            id=document_id,
            teacher_loss=row_values("teacher_loss", row),
            student_teacher_loss=row_values("student_teacher_loss", row),
        )
        for row, document_id in enumerate(ids)
    ]
    return TeacherScores(
        item=_metadata(uri, table, "vocagno.item"),
        teacher_bundle=_json_object_metadata(uri, table, "vocagno.teacherBundle"),
        aggregation=aggregation,
        documents=documents,
    )
