"""Readers for vocagno's shard and teacher-score files (docs/shard-format.md)."""

from vocagno_data.shards import (
    FORMAT_VERSION,
    Shard,
    ShardDocument,
    ShardFormatError,
    TeacherScores,
    TeacherScoresDocument,
    read_shard,
    read_teacher_scores,
)

__all__ = [
    "FORMAT_VERSION",
    "Shard",
    "ShardDocument",
    "ShardFormatError",
    "TeacherScores",
    "TeacherScoresDocument",
    "read_shard",
    "read_teacher_scores",
]
