/** Schema metadata keys and column names of docs/shard-format.md, version 1. */
export const FORMAT_VERSION = 1;

export const METADATA_KEYS = {
  format: "vocagno.format",
  formatVersion: "vocagno.formatVersion",
  item: "vocagno.item",
  student: "vocagno.student",
  teacher: "vocagno.teacher",
  stats: "vocagno.stats",
  teacherBundle: "vocagno.teacherBundle",
  aggregation: "vocagno.aggregation",
} as const;

/** The `vocagno.format` value of each file kind. */
export const FORMAT_NAMES = { shard: "shard", teacherScores: "teacher-scores" } as const;

export const SHARD_COLUMNS = {
  id: "id",
  byteLength: "byte_length",
  studentIds: "student_ids",
  studentSpans: "student_spans",
  teacherIds: "teacher_ids",
  teacherSpans: "teacher_spans",
  alignment: "alignment",
} as const;

export const TEACHER_SCORE_COLUMNS = {
  id: "id",
  teacherLoss: "teacher_loss",
  studentTeacherLoss: "student_teacher_loss",
} as const;

/** The aggregations of teacher losses over a student token's teacher range. */
export const AGGREGATIONS = ["max", "mean", "sum", "min"] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

/**
 * Documents per record batch. Several batches let a Python reader go through
 * a shard batch by batch; the number has no effect on the file's meaning.
 */
export const DOCUMENTS_PER_BATCH = 1024;
