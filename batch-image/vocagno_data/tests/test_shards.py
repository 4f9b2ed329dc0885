"""Tests of the shard reader on Arrow files built here with pyarrow."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pyarrow.ipc
import pytest

from vocagno_data import ShardFormatError, read_shard, read_teacher_scores
from vocagno_data.storage import ObjectNotFoundError

SHARD_METADATA = {
    "vocagno.format": "shard",
    "vocagno.formatVersion": "1",
    "vocagno.item": "000003",
    "vocagno.student": json.dumps({"sha256": "a" * 64, "vocabSize": 32000}),
    "vocagno.teacher": json.dumps({"sha256": "b" * 64, "vocabSize": 151643}),
    "vocagno.stats": json.dumps({"documents": 2}),
}

INT32_LIST = pa.list_(pa.int32())

# Document "a": text "héllo" is 6 UTF-8 bytes (é takes two). Student tokens [0,3) [3,6); teacher
# tokens [0,1) [1,6). Student token 0 overlaps teacher tokens 0..1, token 1 overlaps teacher token 1.
# Document "b": one student token, unmapped (a null pair), and no teacher tokens.
GOOD_ROWS = {
    "id": ["a", "b"],
    "byte_length": [6, 2],
    "student_ids": [[10, 11], [12]],
    "student_spans": [[0, 3, 3, 6], [0, 2]],
    "teacher_ids": [[100, 101], []],
    "teacher_spans": [[0, 1, 1, 6], []],
    "alignment": [[0, 2, 1, 2], [None, None]],
}


def shard_schema(metadata: dict[str, str] | None = None, overrides: dict[str, pa.DataType] | None = None):
    types = {"id": pa.string(), "byte_length": pa.int32(), **dict.fromkeys(list(GOOD_ROWS)[2:], INT32_LIST)}
    types.update(overrides or {})
    return pa.schema(
        [pa.field(name, kind) for name, kind in types.items()], metadata=metadata or SHARD_METADATA
    )


def write_table(path, schema: pa.Schema, batches: list[dict]) -> str:
    with pa.ipc.new_file(str(path), schema) as writer:
        for rows in batches:
            writer.write_batch(pa.record_batch(rows, schema=schema))
    return str(path)


def write_shard(path, rows=None, metadata=None, overrides=None) -> str:
    rows = GOOD_ROWS if rows is None else rows
    return write_table(path, shard_schema(metadata, overrides), [rows])


def expect_error(code: str, function, path) -> ShardFormatError:
    with pytest.raises(ShardFormatError) as caught:
        function(path)
    assert caught.value.code == code
    assert str(path) in str(caught.value)
    return caught.value


def test_read_shard_returns_arrays(tmp_path):
    shard = read_shard(write_shard(tmp_path / "s.arrow"))
    assert shard.item == "000003"
    assert shard.student_identity == {"sha256": "a" * 64, "vocabSize": 32000}
    assert shard.stats == {"documents": 2}
    a, b = shard.documents
    assert a.id == "a"
    assert a.byte_length == 6
    assert a.student_ids.dtype == np.int32
    assert a.student_ids.tolist() == [10, 11]
    assert a.student_spans.shape == (2, 2)
    assert a.student_spans.tolist() == [[0, 3], [3, 6]]
    assert a.teacher_spans.tolist() == [[0, 1], [1, 6]]
    assert a.teacher_start.tolist() == [0, 1]
    assert a.teacher_end.tolist() == [2, 2]
    assert a.mapped.tolist() == [True, True]


def test_read_shard_null_pair_is_unmapped(tmp_path):
    document = read_shard(write_shard(tmp_path / "s.arrow")).documents[1]
    assert document.mapped.dtype == np.bool_
    assert document.mapped.tolist() == [False]
    assert document.teacher_start.tolist() == [0]
    assert document.teacher_end.tolist() == [0]
    assert document.teacher_ids.shape == (0,)
    assert document.teacher_spans.shape == (0, 2)


def test_read_shard_keeps_batch_order(tmp_path):
    first = {name: values[:1] for name, values in GOOD_ROWS.items()}
    second = {name: values[1:] for name, values in GOOD_ROWS.items()}
    path = write_table(tmp_path / "s.arrow", shard_schema(), [first, second, first])
    assert [document.id for document in read_shard(path).documents] == ["a", "b", "a"]


def test_read_shard_file_uri(tmp_path):
    path = write_shard(tmp_path / "s.arrow")
    assert len(read_shard(f"file://{path}").documents) == 2


def test_read_shard_missing_file(tmp_path):
    with pytest.raises(ObjectNotFoundError, match="absent.arrow"):
        read_shard(tmp_path / "absent.arrow")


def test_read_shard_wrong_format(tmp_path):
    path = write_shard(tmp_path / "s.arrow", metadata={**SHARD_METADATA, "vocagno.format": "teacher-scores"})
    error = expect_error("wrong_format", read_shard, path)
    assert '"teacher-scores", expected "shard"' in str(error)


def test_read_shard_unsupported_version(tmp_path):
    path = write_shard(tmp_path / "s.arrow", metadata={**SHARD_METADATA, "vocagno.formatVersion": "2"})
    expect_error("unsupported_version", read_shard, path)


def test_read_shard_missing_metadata(tmp_path):
    metadata = {key: value for key, value in SHARD_METADATA.items() if key != "vocagno.stats"}
    error = expect_error("invalid_metadata", read_shard, write_shard(tmp_path / "s.arrow", metadata=metadata))
    assert "vocagno.stats is missing" in str(error)


def test_read_shard_truncated(tmp_path):
    with open(write_shard(tmp_path / "full.arrow"), "rb") as full:
        data = full.read()
    path = tmp_path / "s.arrow"
    path.write_bytes(data[: len(data) - 50])
    expect_error("truncated", read_shard, path)


def test_read_shard_not_arrow(tmp_path):
    path = tmp_path / "s.arrow"
    path.write_bytes(b'{"id": "a"}\n')
    expect_error("not_arrow_file", read_shard, path)


def test_read_shard_missing_column(tmp_path):
    rows = {name: values for name, values in GOOD_ROWS.items() if name != "alignment"}
    schema = pa.schema(
        [field for field in shard_schema() if field.name != "alignment"], metadata=SHARD_METADATA
    )
    error = expect_error("missing_column", read_shard, write_table(tmp_path / "s.arrow", schema, [rows]))
    assert '"alignment" is missing' in str(error)


def test_read_shard_wrong_column_type(tmp_path):
    path = write_shard(tmp_path / "s.arrow", overrides={"student_ids": pa.list_(pa.int64())})
    error = expect_error("wrong_column_type", read_shard, path)
    assert '"student_ids" has type list<item: int64>' in str(error)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("student_spans", [0, 3, 3], "student_spans has 3 values for 2 student tokens, expected 4"),
        ("teacher_spans", [0, 1], "teacher_spans has 2 values for 2 teacher tokens, expected 4"),
        ("alignment", [0, 2], "alignment has 2 values for 2 student tokens, expected 4"),
        ("alignment", [0, None, 1, 2], "alignment pair 0 has one null and one value"),
        ("alignment", [1, 1, 1, 2], "student token 0 maps to teacher range [1, 1)"),
        ("alignment", [0, 3, 1, 2], "student token 0 maps to teacher range [0, 3) outside [0, 2]"),
        ("student_spans", [0, 3, 3, 7], "student token 1 has span [3, 7) outside [0, 6]"),
    ],
)
def test_read_shard_inconsistent_document(tmp_path, column, value, message):
    rows = {**GOOD_ROWS, column: [value, GOOD_ROWS[column][1]]}
    error = expect_error("invalid_document", read_shard, write_shard(tmp_path / "s.arrow", rows=rows))
    assert 'document 0 (id "a")' in str(error)
    assert message in str(error)


TEACHER_METADATA = {
    "vocagno.format": "teacher-scores",
    "vocagno.formatVersion": "1",
    "vocagno.item": "000003",
    "vocagno.teacherBundle": json.dumps({"modelSha256": "c" * 64}),
    "vocagno.aggregation": "max",
}


def write_scores(path, teacher_loss, student_loss, metadata=None) -> str:
    schema = pa.schema(
        [
            pa.field("id", pa.string()),
            pa.field("teacher_loss", pa.list_(pa.float16())),
            pa.field("student_teacher_loss", pa.list_(pa.float16())),
        ],
        metadata=metadata or TEACHER_METADATA,
    )
    rows = {
        "id": ["a", "b"],
        "teacher_loss": [
            np.array(row, dtype=np.float16) if row is not None else None for row in teacher_loss
        ],
        "student_teacher_loss": [np.array(row, dtype=np.float16) for row in student_loss],
    }
    return write_table(path, schema, [rows])


def test_read_teacher_scores_keeps_nan(tmp_path):
    path = write_scores(tmp_path / "t.arrow", [[math.nan, 1.5], []], [[1.5, 1.5], [math.nan]])
    scores = read_teacher_scores(path)
    assert scores.item == "000003"
    assert scores.aggregation == "max"
    assert scores.teacher_bundle == {"modelSha256": "c" * 64}
    a, b = scores.documents
    assert a.teacher_loss.dtype == np.float32
    assert np.isnan(a.teacher_loss[0])
    assert a.teacher_loss[1] == 1.5
    assert a.student_teacher_loss.tolist() == [1.5, 1.5]
    assert b.teacher_loss.shape == (0,)
    assert np.isnan(b.student_teacher_loss).tolist() == [True]


def test_read_teacher_scores_rounds_like_float16(tmp_path):
    # 0.1 is not representable: the stored value is float16(0.1) = 0.0999755859375.
    path = write_scores(tmp_path / "t.arrow", [[0.1], []], [[0.1], []])
    assert read_teacher_scores(path).documents[0].teacher_loss[0] == np.float32(np.float16(0.1))


def test_read_teacher_scores_null_row(tmp_path):
    path = write_scores(tmp_path / "t.arrow", [[1.0], None], [[1.0], []])
    error = expect_error("invalid_document", read_teacher_scores, path)
    assert "column teacher_loss is null in row 1" in str(error)


def test_read_teacher_scores_bad_aggregation(tmp_path):
    path = write_scores(
        tmp_path / "t.arrow", [[1.0], []], [[1.0], []], {**TEACHER_METADATA, "vocagno.aggregation": "p90"}
    )
    error = expect_error("invalid_metadata", read_teacher_scores, path)
    assert '"p90"' in str(error)


def test_read_teacher_scores_rejects_shard(tmp_path):
    expect_error("wrong_format", read_teacher_scores, write_shard(tmp_path / "s.arrow"))


def test_read_teacher_scores_float32_column(tmp_path):
    schema = pa.schema(
        [
            pa.field("id", pa.string()),
            pa.field("teacher_loss", pa.list_(pa.float32())),
            pa.field("student_teacher_loss", pa.list_(pa.float16())),
        ],
        metadata=TEACHER_METADATA,
    )
    rows = {"id": ["a"], "teacher_loss": [[1.0]], "student_teacher_loss": [np.array([1.0], dtype=np.float16)]}
    path = write_table(tmp_path / "t.arrow", schema, [rows])
    expect_error("wrong_column_type", read_teacher_scores, path)
