import {
  type AsyncBuffer,
  type FileMetaData,
  parquetMetadataAsync,
  parquetReadObjects,
  parquetSchema,
} from "hyparquet";
import { readRangeUri, sizeUri } from "../storage/index.ts";
import { CorpusError } from "./errors.ts";
import { rejectRecord } from "./jsonl-reader.ts";
import { checkRecordFields } from "./record-check.ts";
import type { CorpusCounts, CorpusRecord, RejectSink } from "./types.ts";
import { REJECT_EXCERPT_BYTES } from "./types.ts";

/** Settings of one Parquet read, resolved from `CorpusReadOptions`. */
export interface ParquetReadSettings {
  readonly rejects: RejectSink;
  readonly textField: string;
  readonly idField?: string;
  readonly source: string;
  readonly startRecord: number;
  readonly endRecord: number;
}

/** Reads byte ranges of a file or object on demand, so that only the needed column chunks are fetched. */
async function asyncBufferFromUri(uri: string): Promise<AsyncBuffer> {
  const byteLength = await sizeUri(uri);
  return {
    byteLength,
    async slice(start: number, end?: number) {
      const bytes = await readRangeUri(uri, start, end ?? byteLength);
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    },
  };
}

/** Opens a Parquet file's footer; a file that is not Parquet raises `corrupt_input`. */
export async function openParquet(uri: string): Promise<{ file: AsyncBuffer; metadata: FileMetaData }> {
  const file = await asyncBufferFromUri(uri);
  try {
    return { file, metadata: await parquetMetadataAsync(file) };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new CorpusError("corrupt_input", uri, `failed to read the Parquet footer of ${uri}: ${reason}`, {
      cause: error,
    });
  }
}

function excerptOfRow(row: Record<string, unknown>): string {
  const printable = JSON.stringify(row, (_, value) => {
    if (value instanceof Uint8Array) return new TextDecoder().decode(value.subarray(0, REJECT_EXCERPT_BYTES));
    if (typeof value === "bigint") return String(value);
    return value;
  });
  return printable.slice(0, REJECT_EXCERPT_BYTES);
}

/**
 * Streams the good records of a Parquet file one row group at a time,
 * reading only the text and id columns, and sends every bad row to the
 * reject sink. Text is decoded as strict UTF-8 here rather than by hyparquet,
 * which would substitute replacement characters.
 */
export async function* readParquetRecords(
  uri: string,
  settings: ParquetReadSettings,
  counts: CorpusCounts,
): AsyncGenerator<CorpusRecord> {
  const { file, metadata } = await openParquet(uri);
  const columnNames = parquetSchema(metadata).children.map((child) => child.element.name);
  const columns = [settings.textField, ...(settings.idField === undefined ? [] : [settings.idField])];
  for (const column of columns) {
    if (!columnNames.includes(column)) {
      throw new CorpusError(
        "invalid_option",
        uri,
        `column ${JSON.stringify(column)} is not in ${uri}; its columns are ${columnNames.join(", ")}: set textField/idField`,
      );
    }
  }

  let groupStart = 0;
  for (const rowGroup of metadata.row_groups) {
    const groupEnd = groupStart + Number(rowGroup.num_rows);
    const rowStart = Math.max(groupStart, settings.startRecord);
    const rowEnd = Math.min(groupEnd, settings.endRecord);
    groupStart = groupEnd;
    if (rowStart >= rowEnd) continue;

    let rows: Record<string, unknown>[];
    try {
      rows = await parquetReadObjects({
        file,
        metadata,
        columns,
        rowStart,
        rowEnd,
        // Keep strings as bytes so that invalid UTF-8 is rejected, not replaced.
        parsers: { stringFromBytes: (bytes: Uint8Array) => bytes },
      });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new CorpusError(
        "corrupt_input",
        uri,
        `failed to read rows ${rowStart}-${rowEnd} of ${uri}: ${reason}`,
        {
          cause: error,
        },
      );
    }

    for (let index = 0; index < rows.length; index++) {
      const recordNumber = rowStart + index;
      const row = rows[index];
      const check = checkRecordFields(
        {
          text: row[settings.textField],
          id: settings.idField === undefined ? undefined : row[settings.idField],
        },
        { recordNumber, source: settings.source, textField: settings.textField, idField: settings.idField },
      );
      if (!check.ok) {
        await rejectRecord(counts, settings.rejects, {
          source: settings.source,
          recordNumber,
          reason: check.reason,
          message: `row ${recordNumber}: ${check.message}`,
          excerpt: excerptOfRow(row),
        });
        continue;
      }
      counts.good += 1;
      yield check.record;
    }
  }
}

/** Returns the number of rows of a Parquet file from its footer. */
export async function countParquetRows(uri: string): Promise<number> {
  const { metadata } = await openParquet(uri);
  return Number(metadata.num_rows);
}
