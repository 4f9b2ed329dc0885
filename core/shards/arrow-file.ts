import {
  type Data,
  type Field,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Table,
  tableFromIPC,
  tableToIPC,
} from "apache-arrow";
import { ShardFormatError } from "./errors.ts";
import { FORMAT_VERSION, METADATA_KEYS } from "./format.ts";

/** Arrow IPC files start with this magic and end with it after the footer. */
const ARROW_MAGIC = new TextEncoder().encode("ARROW1");

function hasMagicAt(bytes: Uint8Array, offset: number): boolean {
  if (offset < 0 || offset + ARROW_MAGIC.length > bytes.length) return false;
  return ARROW_MAGIC.every((byte, i) => bytes[offset + i] === byte);
}

/**
 * Encodes columns as an uncompressed Arrow IPC file with the given schema
 * metadata, `rowsPerBatch` rows per record batch.
 */
export function encodeArrowFile(
  fields: Field[],
  metadata: ReadonlyMap<string, string>,
  rowCount: number,
  rowsPerBatch: number,
  buildBatch: (startRow: number, endRow: number) => Data[],
): Uint8Array {
  const schema = new Schema(fields, new Map(metadata));
  // An empty file still gets one empty batch, which every Arrow reader accepts.
  const batchStarts = [0];
  for (let start = rowsPerBatch; start < rowCount; start += rowsPerBatch) batchStarts.push(start);
  const batches = batchStarts.map((start) => {
    const end = Math.min(rowCount, start + rowsPerBatch);
    const children = buildBatch(start, end);
    const data = makeData({ type: new Struct(fields), length: end - start, nullCount: 0, children });
    return new RecordBatch(schema, data);
  });
  return tableToIPC(new Table(schema, batches), "file");
}

/**
 * Decodes an Arrow IPC file and checks its format name and version. A file
 * cut short loses its trailing magic, so truncation is reported as such
 * rather than as whatever the Arrow parser trips on.
 */
export function decodeArrowFile(uri: string, bytes: Uint8Array, expectedFormat: string): Table {
  if (!hasMagicAt(bytes, 0)) {
    throw new ShardFormatError(
      "not_arrow_file",
      uri,
      `not an Arrow IPC file (no ARROW1 magic at the start, ${bytes.length} bytes)`,
    );
  }
  if (!hasMagicAt(bytes, bytes.length - ARROW_MAGIC.length)) {
    throw new ShardFormatError(
      "truncated",
      uri,
      `the file is truncated (${bytes.length} bytes, no ARROW1 magic at the end): rewrite it`,
    );
  }
  let table: Table;
  try {
    table = tableFromIPC(bytes);
    // Touch every batch so that a damaged body fails here, not later in a reader.
    for (const batch of table.batches) void batch.numRows;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ShardFormatError("invalid_arrow", uri, `Arrow could not parse the file: ${reason}`, {
      cause: error,
    });
  }
  const format = table.schema.metadata.get(METADATA_KEYS.format);
  if (format !== expectedFormat) {
    throw new ShardFormatError(
      "wrong_format",
      uri,
      `schema metadata ${METADATA_KEYS.format} is ${JSON.stringify(format ?? null)}, expected ${JSON.stringify(expectedFormat)}`,
    );
  }
  const version = table.schema.metadata.get(METADATA_KEYS.formatVersion);
  if (version !== String(FORMAT_VERSION)) {
    throw new ShardFormatError(
      "unsupported_version",
      uri,
      `format version ${JSON.stringify(version ?? null)} is not supported: this vocagno reads version ${FORMAT_VERSION}`,
    );
  }
  return table;
}

/** Reads a required string entry of the schema metadata. */
export function requiredMetadata(uri: string, table: Table, key: string): string {
  const value = table.schema.metadata.get(key);
  if (value === undefined) {
    throw new ShardFormatError("invalid_metadata", uri, `schema metadata ${key} is missing`);
  }
  return value;
}

/** Reads a required JSON entry of the schema metadata. */
export function requiredJsonMetadata(uri: string, table: Table, key: string): unknown {
  const text = requiredMetadata(uri, table, key);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ShardFormatError(
      "invalid_metadata",
      uri,
      `schema metadata ${key} is not valid JSON: ${text.slice(0, 200)}`,
      {
        cause: error,
      },
    );
  }
}
