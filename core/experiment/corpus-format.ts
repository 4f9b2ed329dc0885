import { CORPUS_FORMATS, type CorpusFormat } from "./schema.ts";

const EXTENSIONS: ReadonlyArray<readonly [string, CorpusFormat]> = [
  [".jsonl.gz", "jsonl.gz"],
  [".json.gz", "jsonl.gz"],
  [".jsonl.zst", "jsonl.zst"],
  [".json.zst", "jsonl.zst"],
  [".jsonl.zstd", "jsonl.zst"],
  [".jsonl", "jsonl"],
  [".json", "jsonl"],
  [".ndjson", "jsonl"],
  [".parquet", "parquet"],
];

/**
 * Infers a corpus file's format from its extension, or returns undefined
 * when the extension is not one of the known ones.
 *
 * @example
 * inferCorpusFormat("s3://bucket/owm/part-0001.jsonl.zst"); // "jsonl.zst"
 */
export function inferCorpusFormat(uri: string): CorpusFormat | undefined {
  const name = uri.toLowerCase();
  return EXTENSIONS.find(([extension]) => name.endsWith(extension))?.[1];
}

/** Tells whether `value` names a corpus format. */
export function isCorpusFormat(value: string): value is CorpusFormat {
  return (CORPUS_FORMATS as readonly string[]).includes(value);
}
