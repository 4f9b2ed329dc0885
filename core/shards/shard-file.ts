import { type Data, Field, Int32, List, type RecordBatch, type Table, Utf8 } from "apache-arrow";
import { logger } from "../log.ts";
import { isNotFound, readUri, writeUri } from "../storage/index.ts";
import { checkColumns, int32Column, int32ListColumn, isValid, utf8Column } from "./arrow-columns.ts";
import { decodeArrowFile, encodeArrowFile, requiredJsonMetadata, requiredMetadata } from "./arrow-file.ts";
import { ShardFormatError } from "./errors.ts";
import { DOCUMENTS_PER_BATCH, FORMAT_NAMES, FORMAT_VERSION, METADATA_KEYS, SHARD_COLUMNS } from "./format.ts";
import {
  findDocumentProblem,
  type JsonObject,
  type ShardDocument,
  type ShardMeta,
} from "./shard-document.ts";

const SHARD_FIELDS = [
  new Field(SHARD_COLUMNS.id, new Utf8(), false),
  new Field(SHARD_COLUMNS.byteLength, new Int32(), false),
  new Field(SHARD_COLUMNS.studentIds, new List(new Field("item", new Int32(), false)), false),
  new Field(SHARD_COLUMNS.studentSpans, new List(new Field("item", new Int32(), false)), false),
  new Field(SHARD_COLUMNS.teacherIds, new List(new Field("item", new Int32(), false)), false),
  new Field(SHARD_COLUMNS.teacherSpans, new List(new Field("item", new Int32(), false)), false),
  new Field(SHARD_COLUMNS.alignment, new List(new Field("item", new Int32(), true)), false),
];

/** Flattens a document's alignment into `2n` values and their validity (unmapped pairs are null). */
function flattenAlignment(document: ShardDocument): { values: Int32Array; valid: Uint8Array } {
  const n = document.teacherStart.length;
  const values = new Int32Array(2 * n);
  const valid = new Uint8Array(2 * n);
  for (let i = 0; i < n; i++) {
    if (document.teacherStart[i] === document.teacherEnd[i]) continue;
    values[2 * i] = document.teacherStart[i];
    values[2 * i + 1] = document.teacherEnd[i];
    valid[2 * i] = 1;
    valid[2 * i + 1] = 1;
  }
  return { values, valid };
}

function shardColumns(documents: readonly ShardDocument[]): Data[] {
  const alignments = documents.map(flattenAlignment);
  return [
    utf8Column(documents.map((document) => document.id)),
    int32Column(Int32Array.from(documents, (document) => document.byteLength)),
    int32ListColumn(documents.map((document) => document.studentIds)),
    int32ListColumn(documents.map((document) => document.studentSpans)),
    int32ListColumn(documents.map((document) => document.teacherIds)),
    int32ListColumn(documents.map((document) => document.teacherSpans)),
    int32ListColumn(
      alignments.map((alignment) => alignment.values),
      alignments.map((alignment) => alignment.valid),
    ),
  ];
}

/**
 * Encodes a shard as Arrow IPC file bytes. Raises `invalid_document` on the
 * first inconsistent document, naming it, so an invalid shard is never written.
 */
export function encodeShard(uri: string, meta: ShardMeta, documents: readonly ShardDocument[]): Uint8Array {
  documents.forEach((document, row) => {
    const problem = findDocumentProblem(document);
    if (problem !== undefined) {
      throw new ShardFormatError(
        "invalid_document",
        uri,
        `document ${row} (id ${JSON.stringify(document.id)}) cannot be written: ${problem}`,
      );
    }
  });
  const metadata = new Map([
    [METADATA_KEYS.format, FORMAT_NAMES.shard],
    [METADATA_KEYS.formatVersion, String(FORMAT_VERSION)],
    [METADATA_KEYS.item, meta.item],
    [METADATA_KEYS.student, JSON.stringify(meta.studentIdentity)],
    [METADATA_KEYS.teacher, JSON.stringify(meta.teacherIdentity)],
    [METADATA_KEYS.stats, JSON.stringify(meta.stats)],
  ]);
  return encodeArrowFile(SHARD_FIELDS, metadata, documents.length, DOCUMENTS_PER_BATCH, (start, end) =>
    shardColumns(documents.slice(start, end)),
  );
}

/**
 * Writes a shard atomically (see `writeUri`) after checking every document.
 *
 * @example
 * await writeShard(joinUri(root, "runs", runId, "shards", `${item}.arrow`),
 *   { item, studentIdentity, teacherIdentity, stats }, documents);
 */
export async function writeShard(
  uri: string,
  meta: ShardMeta,
  documents: readonly ShardDocument[],
): Promise<void> {
  const bytes = encodeShard(uri, meta, documents);
  await writeUri(uri, bytes);
  logger.info(
    { uri, item: meta.item, documents: documents.length, bytes: bytes.byteLength },
    "shard written",
  );
}

function jsonObjectMetadata(uri: string, table: Table, key: string): JsonObject {
  const value = requiredJsonMetadata(uri, table, key);
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new ShardFormatError("invalid_metadata", uri, `schema metadata ${key} is not a JSON object`);
  }
  return value as JsonObject;
}

/** Returns the only data chunk of a batch column, refusing null rows. */
function batchColumn<T extends Data>(uri: string, batch: RecordBatch, name: string, firstRow: number): T {
  const data = batch.getChild(name)!.data[0] as T;
  if (data.nullCount > 0) {
    for (let row = 0; row < data.length; row++) {
      if (!isValid(data.nullBitmap, data.offset + row)) {
        throw new ShardFormatError(
          "invalid_document",
          uri,
          `column ${name} is null in row ${firstRow + row}`,
        );
      }
    }
  }
  return data;
}

/** Returns row `row` of a `List<Int32>` column as a view into the file's buffer. */
function int32ListRow(data: Data<List<Int32>>, row: number): Int32Array {
  const child = data.children[0] as Data<Int32>;
  const start = data.valueOffsets[data.offset + row];
  const end = data.valueOffsets[data.offset + row + 1];
  return child.values.subarray(child.offset + start, child.offset + end);
}

/** Unflattens the alignment of one row, checking that each pair is both null or a non-empty range. */
function alignmentRow(
  uri: string,
  data: Data<List<Int32>>,
  row: number,
  describe: () => string,
): { teacherStart: Int32Array; teacherEnd: Int32Array } {
  const child = data.children[0] as Data<Int32>;
  const start = data.valueOffsets[data.offset + row];
  const end = data.valueOffsets[data.offset + row + 1];
  if ((end - start) % 2 !== 0) {
    throw new ShardFormatError(
      "invalid_document",
      uri,
      `${describe()}: alignment has an odd length ${end - start}`,
    );
  }
  const n = (end - start) / 2;
  const teacherStart = new Int32Array(n);
  const teacherEnd = new Int32Array(n);
  const bitmap = child.nullCount > 0 ? child.nullBitmap : undefined;
  for (let i = 0; i < n; i++) {
    const index = child.offset + start + 2 * i;
    const startValid = isValid(bitmap, index);
    const endValid = isValid(bitmap, index + 1);
    if (startValid !== endValid) {
      throw new ShardFormatError(
        "invalid_document",
        uri,
        `${describe()}: alignment pair ${i} has one null and one value; an unmapped token needs two nulls`,
      );
    }
    if (!startValid) continue;
    teacherStart[i] = child.values[index];
    teacherEnd[i] = child.values[index + 1];
    if (teacherEnd[i] <= teacherStart[i]) {
      throw new ShardFormatError(
        "invalid_document",
        uri,
        `${describe()}: alignment pair ${i} is the empty or reversed range [${teacherStart[i]}, ${teacherEnd[i]}); an unmapped token is stored as two nulls`,
      );
    }
  }
  return { teacherStart, teacherEnd };
}

function readShardDocuments(uri: string, table: Table): ShardDocument[] {
  const documents: ShardDocument[] = [];
  for (const batch of table.batches) {
    const firstRow = documents.length;
    const ids = batchColumn<Data<Utf8>>(uri, batch, SHARD_COLUMNS.id, firstRow);
    const idVector = batch.getChild(SHARD_COLUMNS.id)!;
    const byteLengths = batchColumn<Data<Int32>>(uri, batch, SHARD_COLUMNS.byteLength, firstRow);
    const studentIds = batchColumn<Data<List<Int32>>>(uri, batch, SHARD_COLUMNS.studentIds, firstRow);
    const studentSpans = batchColumn<Data<List<Int32>>>(uri, batch, SHARD_COLUMNS.studentSpans, firstRow);
    const teacherIds = batchColumn<Data<List<Int32>>>(uri, batch, SHARD_COLUMNS.teacherIds, firstRow);
    const teacherSpans = batchColumn<Data<List<Int32>>>(uri, batch, SHARD_COLUMNS.teacherSpans, firstRow);
    const alignment = batchColumn<Data<List<Int32>>>(uri, batch, SHARD_COLUMNS.alignment, firstRow);

    for (let row = 0; row < ids.length; row++) {
      const id = idVector.get(row) as string;
      const describe = () => `document ${firstRow + row} (id ${JSON.stringify(id)})`;
      const document: ShardDocument = {
        id,
        byteLength: byteLengths.values[byteLengths.offset + row],
        studentIds: int32ListRow(studentIds, row),
        studentSpans: int32ListRow(studentSpans, row),
        teacherIds: int32ListRow(teacherIds, row),
        teacherSpans: int32ListRow(teacherSpans, row),
        ...alignmentRow(uri, alignment, row, describe),
      };
      const problem = findDocumentProblem(document);
      if (problem !== undefined) {
        throw new ShardFormatError("invalid_document", uri, `${describe()}: ${problem}`);
      }
      documents.push(document);
    }
  }
  return documents;
}

/**
 * Decodes and validates shard file bytes: format name and version, metadata,
 * column types, and every document's consistency.
 */
export function decodeShard(uri: string, bytes: Uint8Array): { meta: ShardMeta; documents: ShardDocument[] } {
  const table = decodeArrowFile(uri, bytes, FORMAT_NAMES.shard);
  checkColumns(uri, table.schema, {
    [SHARD_COLUMNS.id]: "utf8",
    [SHARD_COLUMNS.byteLength]: "int32",
    [SHARD_COLUMNS.studentIds]: "list<int32>",
    [SHARD_COLUMNS.studentSpans]: "list<int32>",
    [SHARD_COLUMNS.teacherIds]: "list<int32>",
    [SHARD_COLUMNS.teacherSpans]: "list<int32>",
    [SHARD_COLUMNS.alignment]: "list<int32>",
  });
  const meta: ShardMeta = {
    item: requiredMetadata(uri, table, METADATA_KEYS.item),
    studentIdentity: jsonObjectMetadata(uri, table, METADATA_KEYS.student),
    teacherIdentity: jsonObjectMetadata(uri, table, METADATA_KEYS.teacher),
    stats: jsonObjectMetadata(uri, table, METADATA_KEYS.stats),
  };
  return { meta, documents: readShardDocuments(uri, table) };
}

/**
 * Reads and validates a shard. Raises `ShardFormatError` for an invalid file
 * and a `not_found` `StorageError` for a missing one.
 *
 * @example
 * const { meta, documents } = await readShard(shardUri);
 */
export async function readShard(uri: string): Promise<{ meta: ShardMeta; documents: ShardDocument[] }> {
  return decodeShard(uri, await readUri(uri));
}

/** The outcome of validating an output file: valid with its row count, or the reason it is not. */
export type FileValidation =
  | { readonly valid: true; readonly documents: number }
  | { readonly valid: false; readonly code: string; readonly reason: string };

/**
 * Tells whether a shard exists and validates, so that a step can skip work
 * whose output is already complete. Never raises for a missing or invalid
 * file; storage failures other than `not_found` still raise.
 *
 * @example
 * if ((await validateShardFile(shardUri)).valid) return; // already done
 */
export async function validateShardFile(uri: string): Promise<FileValidation> {
  try {
    const { documents } = await readShard(uri);
    return { valid: true, documents: documents.length };
  } catch (error) {
    if (isNotFound(error)) return { valid: false, code: "not_found", reason: `${uri} does not exist` };
    if (error instanceof ShardFormatError) return { valid: false, code: error.code, reason: error.message };
    throw error;
  }
}
