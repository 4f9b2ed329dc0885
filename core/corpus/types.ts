/** One good corpus record. */
export interface CorpusRecord {
  /** Zero-based position of the record in its file: the line index for JSONL, the row index for Parquet. */
  readonly recordNumber: number;
  /** The record's id field as a string, or `<source>:<recordNumber>` when no id field is configured. */
  readonly id: string;
  /** The document text, exactly as stored (never normalized). */
  readonly text: string;
}

/** Reason code of a rejected record, stable for reports and reject thresholds. */
export type RejectReason =
  | "blank_line"
  | "invalid_utf8"
  | "invalid_json"
  | "not_an_object"
  | "missing_text"
  | "text_not_string"
  | "empty_text"
  | "missing_id"
  | "invalid_id"
  | "record_too_large";

/** One rejected record, as written to the rejects file (one JSON object per line). */
export interface RejectedRecord {
  /** The corpus file's name (see `CorpusReadOptions.sourceName`). */
  readonly source: string;
  readonly recordNumber: number;
  readonly reason: RejectReason;
  /** Description of the problem, for a person. */
  readonly message: string;
  /** The start of the raw record, at most `REJECT_EXCERPT_BYTES` bytes, decoded with replacement characters. */
  readonly excerpt: string;
}

/** Counts of one read; `rejected` sums `rejectedByReason`. */
export interface CorpusCounts {
  good: number;
  rejected: number;
  rejectedByReason: Partial<Record<RejectReason, number>>;
}

/** Destination of rejected records. `RejectWriter` is the implementation that writes a rejects file. */
export interface RejectSink {
  add(reject: RejectedRecord): Promise<void>;
}

export type CorpusFormat = "jsonl" | "parquet";

/** Options of `readCorpus`. */
export interface CorpusReadOptions {
  /** Receives every rejected record. Required so that no record is dropped silently. */
  readonly rejects: RejectSink;
  /** Field holding the document text. Default `text`. */
  readonly textField?: string;
  /** Field holding the document id; when unset, ids are `<source>:<recordNumber>`. */
  readonly idField?: string;
  /** Name used in ids and reject lines. Default: the file name of the URI. */
  readonly sourceName?: string;
  /** First record number to read (inclusive). Default 0. */
  readonly startRecord?: number;
  /** Record number to stop before (exclusive). Default: the end of the file. */
  readonly endRecord?: number;
  /** File format. Default: from the extension (`.jsonl`, `.json`, `.ndjson`, optionally `.gz` or `.zst`; `.parquet`). */
  readonly format?: CorpusFormat;
  /** Largest accepted JSONL record in bytes; a longer line is rejected without being held in memory. Default 64 MiB. */
  readonly maxRecordBytes?: number;
}

/** A streaming read of one corpus file. `counts` is final once iteration ends. */
export interface CorpusReader extends AsyncIterable<CorpusRecord> {
  readonly counts: CorpusCounts;
}

export const REJECT_EXCERPT_BYTES = 256;
export const DEFAULT_MAX_RECORD_BYTES = 64 * 1024 * 1024;
