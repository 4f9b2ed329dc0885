export { type ShardErrorCode, ShardFormatError } from "./errors.ts";
export { float16BitsToNumber, numberToFloat16Bits } from "./float16.ts";
export {
  AGGREGATIONS,
  type Aggregation,
  FORMAT_NAMES,
  FORMAT_VERSION,
  METADATA_KEYS,
  SHARD_COLUMNS,
  TEACHER_SCORE_COLUMNS,
} from "./format.ts";
export {
  findDocumentProblem,
  type JsonObject,
  type ShardDocument,
  type ShardMeta,
} from "./shard-document.ts";
export {
  decodeShard,
  encodeShard,
  type FileValidation,
  readShard,
  validateShardFile,
  writeShard,
} from "./shard-file.ts";
export {
  decodeTeacherScores,
  encodeTeacherScores,
  findScoresMismatch,
  readTeacherScores,
  type TeacherScoresMeta,
  type TeacherScoresRow,
  validateTeacherScoresFile,
  writeTeacherScores,
} from "./teacher-scores.ts";
