import { type Data, Field, Float16, List, type Table, Utf8 } from "apache-arrow";
import { logger } from "../log.ts";
import { isNotFound, readUri, writeUri } from "../storage/index.ts";
import { checkColumns, float16ListColumn, isValid, utf8Column } from "./arrow-columns.ts";
import { decodeArrowFile, encodeArrowFile, requiredJsonMetadata, requiredMetadata } from "./arrow-file.ts";
import { ShardFormatError } from "./errors.ts";
import { float16ToFloat32Array, float32ToFloat16Array } from "./float16.ts";
import {
  AGGREGATIONS,
  type Aggregation,
  DOCUMENTS_PER_BATCH,
  FORMAT_NAMES,
  FORMAT_VERSION,
  METADATA_KEYS,
  TEACHER_SCORE_COLUMNS,
} from "./format.ts";
import type { ShardDocument } from "./shard-document.ts";
import type { FileValidation } from "./shard-file.ts";
import { readShard } from "./shard-file.ts";

/** File-wide metadata of a teacher-score file. */
export interface TeacherScoresMeta {
  /** Work item id; equal to the shard's. */
  readonly item: string;
  /** Identity of the teacher bundle (model hash, dtype, BOS id, context). */
  readonly teacherBundle: { readonly [key: string]: unknown };
  /** Aggregation of teacher losses over a student token's teacher range. */
  readonly aggregation: Aggregation;
}

/**
 * Teacher losses of one document, in nats. Stored as float16, so values are
 * rounded to float16 precision on write (and beyond 65504 become infinite);
 * NaN marks an undefined loss and is preserved.
 */
export interface TeacherScoresRow {
  /** Document id, equal to the shard row's. */
  readonly id: string;
  /** `-log p_teacher(t_j | t_<j)` per teacher token, `m` of them. */
  readonly teacherLoss: Float32Array;
  /** Aggregated teacher loss per student token, `n` of them; NaN where unmapped or undefined. */
  readonly studentTeacherLoss: Float32Array;
}

const TEACHER_SCORE_FIELDS = [
  new Field(TEACHER_SCORE_COLUMNS.id, new Utf8(), false),
  new Field(TEACHER_SCORE_COLUMNS.teacherLoss, new List(new Field("item", new Float16(), false)), false),
  new Field(
    TEACHER_SCORE_COLUMNS.studentTeacherLoss,
    new List(new Field("item", new Float16(), false)),
    false,
  ),
];

/** Encodes teacher scores as Arrow IPC file bytes. */
export function encodeTeacherScores(
  uri: string,
  meta: TeacherScoresMeta,
  rows: readonly TeacherScoresRow[],
): Uint8Array {
  if (!AGGREGATIONS.includes(meta.aggregation)) {
    throw new ShardFormatError(
      "invalid_metadata",
      uri,
      `aggregation ${JSON.stringify(meta.aggregation)} is not one of ${AGGREGATIONS.join(", ")}`,
    );
  }
  const metadata = new Map([
    [METADATA_KEYS.format, FORMAT_NAMES.teacherScores],
    [METADATA_KEYS.formatVersion, String(FORMAT_VERSION)],
    [METADATA_KEYS.item, meta.item],
    [METADATA_KEYS.teacherBundle, JSON.stringify(meta.teacherBundle)],
    [METADATA_KEYS.aggregation, meta.aggregation],
  ]);
  return encodeArrowFile(TEACHER_SCORE_FIELDS, metadata, rows.length, DOCUMENTS_PER_BATCH, (start, end) => {
    const batch = rows.slice(start, end);
    return [
      utf8Column(batch.map((row) => row.id)),
      float16ListColumn(batch.map((row) => float32ToFloat16Array(row.teacherLoss))),
      float16ListColumn(batch.map((row) => float32ToFloat16Array(row.studentTeacherLoss))),
    ];
  });
}

/**
 * Writes teacher scores atomically (see `writeUri`), one row per shard document in shard order.
 *
 * @example
 * await writeTeacherScores(joinUri(root, "runs", runId, "teacher", `${item}.arrow`),
 *   { item, teacherBundle, aggregation: "max" }, rows);
 */
export async function writeTeacherScores(
  uri: string,
  meta: TeacherScoresMeta,
  rows: readonly TeacherScoresRow[],
): Promise<void> {
  const bytes = encodeTeacherScores(uri, meta, rows);
  await writeUri(uri, bytes);
  logger.info(
    { uri, item: meta.item, documents: rows.length, bytes: bytes.byteLength },
    "teacher scores written",
  );
}

function float16ListRow(data: Data<List<Float16>>, row: number): Float32Array {
  const child = data.children[0] as Data<Float16>;
  const start = data.valueOffsets[data.offset + row];
  const end = data.valueOffsets[data.offset + row + 1];
  return float16ToFloat32Array(child.values.subarray(child.offset + start, child.offset + end));
}

function checkNoNulls(uri: string, data: Data, name: string, firstRow: number): void {
  if (data.nullCount === 0) return;
  for (let row = 0; row < data.length; row++) {
    if (!isValid(data.nullBitmap, data.offset + row)) {
      throw new ShardFormatError("invalid_document", uri, `column ${name} is null in row ${firstRow + row}`);
    }
  }
}

function readRows(uri: string, table: Table): TeacherScoresRow[] {
  const rows: TeacherScoresRow[] = [];
  for (const batch of table.batches) {
    const firstRow = rows.length;
    const idVector = batch.getChild(TEACHER_SCORE_COLUMNS.id)!;
    const teacherLoss = batch.getChild(TEACHER_SCORE_COLUMNS.teacherLoss)!.data[0] as Data<List<Float16>>;
    const studentLoss = batch.getChild(TEACHER_SCORE_COLUMNS.studentTeacherLoss)!.data[0] as Data<
      List<Float16>
    >;
    checkNoNulls(uri, idVector.data[0], TEACHER_SCORE_COLUMNS.id, firstRow);
    checkNoNulls(uri, teacherLoss, TEACHER_SCORE_COLUMNS.teacherLoss, firstRow);
    checkNoNulls(uri, studentLoss, TEACHER_SCORE_COLUMNS.studentTeacherLoss, firstRow);
    for (const data of [teacherLoss, studentLoss]) {
      if (data.children[0].nullCount > 0) {
        throw new ShardFormatError(
          "invalid_document",
          uri,
          "a loss list contains a null item, but an undefined loss must be stored as NaN",
        );
      }
    }
    for (let row = 0; row < batch.numRows; row++) {
      rows.push({
        id: idVector.get(row) as string,
        teacherLoss: float16ListRow(teacherLoss, row),
        studentTeacherLoss: float16ListRow(studentLoss, row),
      });
    }
  }
  return rows;
}

/** Decodes and validates teacher-score file bytes. */
export function decodeTeacherScores(
  uri: string,
  bytes: Uint8Array,
): { meta: TeacherScoresMeta; rows: TeacherScoresRow[] } {
  const table = decodeArrowFile(uri, bytes, FORMAT_NAMES.teacherScores);
  checkColumns(uri, table.schema, {
    [TEACHER_SCORE_COLUMNS.id]: "utf8",
    [TEACHER_SCORE_COLUMNS.teacherLoss]: "list<float16>",
    [TEACHER_SCORE_COLUMNS.studentTeacherLoss]: "list<float16>",
  });
  const aggregation = requiredMetadata(uri, table, METADATA_KEYS.aggregation);
  if (!(AGGREGATIONS as readonly string[]).includes(aggregation)) {
    throw new ShardFormatError(
      "invalid_metadata",
      uri,
      `schema metadata ${METADATA_KEYS.aggregation} is ${JSON.stringify(aggregation)}, expected one of ${AGGREGATIONS.join(", ")}`,
    );
  }
  const teacherBundle = requiredJsonMetadata(uri, table, METADATA_KEYS.teacherBundle);
  if (teacherBundle === null || typeof teacherBundle !== "object" || Array.isArray(teacherBundle)) {
    throw new ShardFormatError(
      "invalid_metadata",
      uri,
      `schema metadata ${METADATA_KEYS.teacherBundle} is not a JSON object`,
    );
  }
  const meta: TeacherScoresMeta = {
    item: requiredMetadata(uri, table, METADATA_KEYS.item),
    teacherBundle: teacherBundle as TeacherScoresMeta["teacherBundle"],
    aggregation: aggregation as Aggregation,
  };
  return { meta, rows: readRows(uri, table) };
}

/**
 * Reads and validates a teacher-score file.
 *
 * @example
 * const { meta, rows } = await readTeacherScores(teacherUri);
 */
export async function readTeacherScores(
  uri: string,
): Promise<{ meta: TeacherScoresMeta; rows: TeacherScoresRow[] }> {
  return decodeTeacherScores(uri, await readUri(uri));
}

/**
 * Checks that teacher scores fit a shard row by row: same document count,
 * same ids, `m` teacher losses and `n` student losses. Returns the first
 * problem, or undefined.
 */
export function findScoresMismatch(
  documents: readonly ShardDocument[],
  rows: readonly TeacherScoresRow[],
): string | undefined {
  if (documents.length !== rows.length) {
    return `${rows.length} score rows for ${documents.length} shard documents`;
  }
  for (let row = 0; row < rows.length; row++) {
    const document = documents[row];
    const scores = rows[row];
    if (scores.id !== document.id) {
      return `row ${row} has id ${JSON.stringify(scores.id)}, the shard has ${JSON.stringify(document.id)}`;
    }
    if (scores.teacherLoss.length !== document.teacherIds.length) {
      return `row ${row} (id ${JSON.stringify(document.id)}) has ${scores.teacherLoss.length} teacher losses for ${document.teacherIds.length} teacher tokens`;
    }
    if (scores.studentTeacherLoss.length !== document.studentIds.length) {
      return `row ${row} (id ${JSON.stringify(document.id)}) has ${scores.studentTeacherLoss.length} student losses for ${document.studentIds.length} student tokens`;
    }
  }
  return undefined;
}

/**
 * Tells whether a teacher-score file exists and validates, and, given its
 * shard, whether it matches the shard row by row.
 *
 * @example
 * if ((await validateTeacherScoresFile(teacherUri, { shardUri })).valid) return; // already scored
 */
export async function validateTeacherScoresFile(
  uri: string,
  options: { shardUri?: string } = {},
): Promise<FileValidation> {
  try {
    const { rows } = await readTeacherScores(uri);
    if (options.shardUri !== undefined) {
      const { documents } = await readShard(options.shardUri);
      const mismatch = findScoresMismatch(documents, rows);
      if (mismatch !== undefined) {
        return {
          valid: false,
          code: "shard_mismatch",
          reason: `${uri} does not match ${options.shardUri}: ${mismatch}`,
        };
      }
    }
    return { valid: true, documents: rows.length };
  } catch (error) {
    if (isNotFound(error)) return { valid: false, code: "not_found", reason: `${(error as Error).message}` };
    if (error instanceof ShardFormatError) return { valid: false, code: error.code, reason: error.message };
    throw error;
  }
}
