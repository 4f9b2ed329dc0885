"""Packing, the label shift and resumable data positions."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from vocagno_trainer.data import (
    IGNORE_INDEX,
    DataPosition,
    Separators,
    SequencePacker,
    ShardError,
    packed_eval_batches,
    read_item,
    read_manifest,
)

from .conftest import write_item, write_run

NAN = math.nan
SEPARATORS = Separators(bos_token_id=1, eos_token_id=2)


def _packer(run: Path, **overrides: object) -> SequencePacker:
    options = {
        "run_uri": str(run),
        "items": read_manifest(str(run))["train"],
        "separators": SEPARATORS,
        "sequence_length": 4,
        "with_teacher": True,
        "seed": 0,
        "shuffle_items": False,
    }
    options.update(overrides)
    return SequencePacker(**options)


@pytest.fixture
def small_run(tmp_path: Path) -> Path:
    return write_run(
        tmp_path / "run",
        {
            "a": [([10, 11, 12], [0.5, NAN, 1.5]), ([20, 21], [2.0, 2.5])],
            "b": [([30, 31, 32, 33], [3.0, 3.1, 3.2, 3.3])],
        },
        {"e": [([40, 41], [4.0, 4.1])]},
    )


def test_packer_windows_and_shift(small_run: Path) -> None:
    # Stream: BOS 10 11 12 EOS BOS 20 21 EOS BOS 30 31 32 33 EOS; windows of 5 tokens overlapping by one.
    batch = _packer(small_run).next_batch(2)
    assert batch.input_ids.tolist() == [[1, 10, 11, 12], [2, 1, 20, 21]]
    assert batch.labels.tolist() == [[10, 11, 12, 2], [1, 20, 21, 2]]
    # Position p carries the teacher loss of labels[p], the token it predicts; BOS and EOS are NaN.
    np.testing.assert_array_equal(batch.teacher_loss[0], np.array([0.5, NAN, 1.5, NAN], np.float32))
    np.testing.assert_array_equal(batch.teacher_loss[1], np.array([NAN, 2.0, 2.5, NAN], np.float32))


def test_packer_without_bos(small_run: Path) -> None:
    batch = _packer(small_run, separators=Separators(bos_token_id=None, eos_token_id=2)).next_batch(1)
    assert batch.input_ids.tolist() == [[10, 11, 12, 2]]
    assert batch.labels.tolist() == [[11, 12, 2, 20]]


def test_packer_resume_matches_continuous(small_run: Path) -> None:
    continuous = _packer(small_run)
    expected = [continuous.next_batch(1) for _ in range(6)]  # runs past the end into epoch 1
    first = _packer(small_run)
    first.next_batch(1)
    first.next_batch(1)
    resumed = _packer(small_run, position=DataPosition(**first.state_dict()))
    for index in range(2, 6):
        batch = resumed.next_batch(1)
        assert batch.input_ids.tolist() == expected[index].input_ids.tolist(), index
        np.testing.assert_array_equal(batch.teacher_loss, expected[index].teacher_loss)


def test_packer_shuffle_is_seeded(small_run: Path) -> None:
    packer = _packer(small_run, shuffle_items=True)
    assert packer.item_order(3) == _packer(small_run, shuffle_items=True).item_order(3)
    assert sorted(packer.item_order(3)) == ["a", "b"]


def test_eval_batches_pad_last_window(small_run: Path) -> None:
    # Eval stream: BOS 40 41 EOS, one window of 4 targets of which 3 are real.
    batches = packed_eval_batches(str(small_run), ["e"], SEPARATORS, 4, None)
    assert len(batches) == 1
    assert batches[0].labels.tolist() == [[40, 41, 2, IGNORE_INDEX]]


def test_read_item_without_teacher_is_unmapped(small_run: Path) -> None:
    documents = read_item(str(small_run), "a", with_teacher=False)
    assert documents[0].student_ids.tolist() == [10, 11, 12]
    assert np.isnan(documents[0].teacher_loss).all()


def test_read_item_rejects_length_mismatch(tmp_path: Path) -> None:
    run = tmp_path / "run"
    write_item(run, "x", [([1, 2, 3], [0.1, 0.2, 0.3])])
    shard_only = tmp_path / "other"
    write_item(shard_only, "x", [([1, 2], [0.1, 0.2])])
    (run / "teacher" / "x.arrow").write_bytes((shard_only / "teacher" / "x.arrow").read_bytes())
    with pytest.raises(ShardError, match="row 0 has 2 student teacher losses for 3"):
        read_item(str(run), "x", with_teacher=True)


def test_read_item_rejects_wrong_format(tmp_path: Path) -> None:
    run = tmp_path / "run"
    write_item(run, "x", [([1, 2], [0.1, 0.2])])
    (run / "shards" / "x.arrow").write_bytes((run / "teacher" / "x.arrow").read_bytes())
    with pytest.raises(ShardError, match='vocagno.format is "teacher-scores"'):
        read_item(str(run), "x", with_teacher=False)


def test_manifest_rejects_unknown_split(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text('{"formatVersion": 1, "items": [{"item": "a", "split": "dev"}]}')
    with pytest.raises(ShardError, match=r"items\[0\].split is 'dev'"):
        read_manifest(str(tmp_path))
