"""Print a shard and its teacher-score file as JSON, for the cross-language test.

Usage: python dump_files.py SHARD_URI TEACHER_URI. NaN losses print as the string "NaN"
because JSON has no NaN.
"""

from __future__ import annotations

import json
import math
import sys

from vocagno_data import read_shard, read_teacher_scores


def losses(values) -> list:
    return ["NaN" if math.isnan(value) else value for value in values.tolist()]


def main(shard_uri: str, teacher_uri: str) -> None:
    shard = read_shard(shard_uri)
    scores = read_teacher_scores(teacher_uri)
    output = {
        "shard": {
            "item": shard.item,
            "studentIdentity": shard.student_identity,
            "teacherIdentity": shard.teacher_identity,
            "stats": shard.stats,
            "documents": [
                {
                    "id": document.id,
                    "byteLength": document.byte_length,
                    "dtypes": [str(document.student_ids.dtype), str(document.student_spans.dtype)],
                    "studentIds": document.student_ids.tolist(),
                    "studentSpans": document.student_spans.tolist(),
                    "teacherIds": document.teacher_ids.tolist(),
                    "teacherSpans": document.teacher_spans.tolist(),
                    "teacherStart": document.teacher_start.tolist(),
                    "teacherEnd": document.teacher_end.tolist(),
                    "mapped": document.mapped.tolist(),
                }
                for document in shard.documents
            ],
        },
        "scores": {
            "item": scores.item,
            "teacherBundle": scores.teacher_bundle,
            "aggregation": scores.aggregation,
            "documents": [
                {
                    "id": document.id,
                    "dtype": str(document.teacher_loss.dtype),
                    "teacherLoss": losses(document.teacher_loss),
                    "studentTeacherLoss": losses(document.student_teacher_loss),
                }
                for document in scores.documents
            ],
        },
    }
    json.dump(output, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
