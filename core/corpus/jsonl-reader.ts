import { openDecompressed } from "./decompress.ts";
import { splitLines } from "./lines.ts";
import { parseJsonLine } from "./record-check.ts";
import { excerptOf } from "./rejects.ts";
import type { CorpusCounts, CorpusRecord, RejectedRecord, RejectSink } from "./types.ts";
import { REJECT_EXCERPT_BYTES } from "./types.ts";

/** Settings of one JSONL read, resolved from `CorpusReadOptions`. */
export interface JsonlReadSettings {
  readonly rejects: RejectSink;
  readonly textField: string;
  readonly idField?: string;
  readonly source: string;
  readonly startRecord: number;
  readonly endRecord: number;
  readonly maxRecordBytes: number;
}

/** Records a reject in the counts and the sink. */
export async function rejectRecord(
  counts: CorpusCounts,
  rejects: RejectSink,
  reject: RejectedRecord,
): Promise<void> {
  counts.rejected += 1;
  counts.rejectedByReason[reject.reason] = (counts.rejectedByReason[reject.reason] ?? 0) + 1;
  await rejects.add(reject);
}

/**
 * Streams the good records of a JSONL file (plain, `.gz` or `.zst`), one per
 * line, and sends every bad line to the reject sink. Lines before
 * `startRecord` are counted but not decoded; reading stops at `endRecord`.
 */
export async function* readJsonlRecords(
  uri: string,
  settings: JsonlReadSettings,
  counts: CorpusCounts,
): AsyncGenerator<CorpusRecord> {
  const { chunks, close } = await openDecompressed(uri);
  const context = { source: settings.source, textField: settings.textField, idField: settings.idField };
  let recordNumber = -1;
  try {
    const lines = splitLines(chunks, {
      maxLineBytes: settings.maxRecordBytes,
      headBytes: REJECT_EXCERPT_BYTES,
      skipLines: settings.startRecord,
    });
    for await (const line of lines) {
      recordNumber += 1;
      if (recordNumber >= settings.endRecord) break;
      if (line.kind === "skipped") continue;
      if (line.kind === "too_large") {
        await rejectRecord(counts, settings.rejects, {
          source: settings.source,
          recordNumber,
          reason: "record_too_large",
          message: `line ${recordNumber + 1} has ${line.byteLength} bytes, more than the limit of ${settings.maxRecordBytes} (maxRecordBytes)`,
          excerpt: excerptOf(line.head),
        });
        continue;
      }
      const check = parseJsonLine(line.bytes, { ...context, recordNumber });
      if (!check.ok) {
        await rejectRecord(counts, settings.rejects, {
          source: settings.source,
          recordNumber,
          reason: check.reason,
          message: check.message,
          excerpt: excerptOf(line.bytes),
        });
        continue;
      }
      counts.good += 1;
      yield check.record;
    }
  } finally {
    close();
  }
}
