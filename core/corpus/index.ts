export { compressionOf } from "./decompress.ts";
export { CorpusError, type CorpusErrorCode } from "./errors.ts";
export { corpusFormatOf, countCorpusRecords, readCorpus } from "./read-corpus.ts";
export { RejectWriter } from "./rejects.ts";
export {
  type CorpusCounts,
  type CorpusFormat,
  type CorpusReader,
  type CorpusReadOptions,
  type CorpusRecord,
  DEFAULT_MAX_RECORD_BYTES,
  REJECT_EXCERPT_BYTES,
  type RejectedRecord,
  type RejectReason,
  type RejectSink,
} from "./types.ts";
