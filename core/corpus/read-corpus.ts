import path from "node:path";
import { logger } from "../log.ts";
import { parseUri } from "../storage/index.ts";
import { openDecompressed } from "./decompress.ts";
import { CorpusError } from "./errors.ts";
import { readJsonlRecords } from "./jsonl-reader.ts";
import { splitLines } from "./lines.ts";
import { countParquetRows, readParquetRecords } from "./parquet-reader.ts";
import {
  type CorpusCounts,
  type CorpusFormat,
  type CorpusReader,
  type CorpusReadOptions,
  DEFAULT_MAX_RECORD_BYTES,
} from "./types.ts";

const JSONL_EXTENSION = /\.(jsonl|ndjson|json)(\.gz|\.zst|\.zstd)?$/i;
const PARQUET_EXTENSION = /\.parquet$/i;

/** Tells a corpus file's format from its extension; raises `unknown_format` naming the accepted ones. */
export function corpusFormatOf(uri: string): CorpusFormat {
  if (JSONL_EXTENSION.test(uri)) return "jsonl";
  if (PARQUET_EXTENSION.test(uri)) return "parquet";
  throw new CorpusError(
    "unknown_format",
    uri,
    `cannot tell the format of ${uri}: name it .jsonl, .ndjson or .json (optionally .gz or .zst), or .parquet, or set format`,
  );
}

function sourceNameOf(uri: string): string {
  const location = parseUri(uri);
  return location.kind === "s3" ? path.posix.basename(location.key) : path.basename(location.path);
}

function checkRange(uri: string, startRecord: number, endRecord: number): void {
  if (!Number.isSafeInteger(startRecord) || startRecord < 0) {
    throw new CorpusError("invalid_option", uri, `startRecord ${startRecord} must be an integer >= 0`);
  }
  if (
    endRecord !== Number.POSITIVE_INFINITY &&
    (!Number.isSafeInteger(endRecord) || endRecord < startRecord)
  ) {
    throw new CorpusError(
      "invalid_option",
      uri,
      `endRecord ${endRecord} must be an integer >= startRecord (${startRecord})`,
    );
  }
}

/**
 * Streams the good records of one corpus file (JSONL, plain or `.gz` or
 * `.zst`, or Parquet) and sends every bad record to `options.rejects` with
 * its reason. Nothing stops the read except a file that cannot be read at
 * all (`CorpusError`). Record numbers count every line or row from 0, good
 * or bad, so `[startRecord, endRecord)` ranges split a file into work items.
 * The reader can be iterated once; `counts` is final when iteration ends.
 *
 * @example
 * const rejects = await RejectWriter.open(joinUri(root, "runs", runId, "rejects", `${item}.jsonl`));
 * const corpus = readCorpus("s3://bucket/owm/part-0001.jsonl.zst", { rejects, startRecord: 0, endRecord: 10_000 });
 * for await (const { id, text } of corpus) { ... }
 * await rejects.close();
 * logger.info({ ...corpus.counts }, "corpus read");
 */
export function readCorpus(uri: string, options: CorpusReadOptions): CorpusReader {
  const format = options.format ?? corpusFormatOf(uri);
  const startRecord = options.startRecord ?? 0;
  const endRecord = options.endRecord ?? Number.POSITIVE_INFINITY;
  checkRange(uri, startRecord, endRecord);
  const counts: CorpusCounts = { good: 0, rejected: 0, rejectedByReason: {} };
  const settings = {
    rejects: options.rejects,
    textField: options.textField ?? "text",
    idField: options.idField,
    source: options.sourceName ?? sourceNameOf(uri),
    startRecord,
    endRecord,
    maxRecordBytes: options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES,
  };

  async function* records() {
    logger.debug({ uri, format, startRecord, endRecord }, "corpus read started");
    if (format === "parquet") yield* readParquetRecords(uri, settings, counts);
    else yield* readJsonlRecords(uri, settings, counts);
    logger.info({ uri, good: counts.good, rejected: counts.rejected }, "corpus read finished");
  }

  let started = false;
  return {
    counts,
    [Symbol.asyncIterator]: () => {
      // A second pass would add to the same counts and rejects, so it is refused.
      if (started)
        throw new CorpusError("invalid_option", uri, `the reader of ${uri} can be iterated only once`);
      started = true;
      return records();
    },
  };
}

/**
 * Counts the records of a corpus file, good or bad: the rows of a Parquet
 * file (from its footer), or the lines of a JSONL file (a full scan that
 * decompresses but does not parse). A plan step uses it to cut work items.
 */
export async function countCorpusRecords(
  uri: string,
  options: { format?: CorpusFormat } = {},
): Promise<number> {
  const format = options.format ?? corpusFormatOf(uri);
  if (format === "parquet") return countParquetRows(uri);
  const { chunks, close } = await openDecompressed(uri);
  let count = 0;
  try {
    // Skipping every line counts lines without copying any of them.
    for await (const _ of splitLines(chunks, {
      maxLineBytes: DEFAULT_MAX_RECORD_BYTES,
      headBytes: 0,
      skipLines: Number.POSITIVE_INFINITY,
    })) {
      count += 1;
    }
  } finally {
    close();
  }
  return count;
}
