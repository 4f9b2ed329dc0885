import { compressionOf } from "../corpus/index.ts";
import type { CorpusFormat as ReaderFormat } from "../corpus/types.ts";
import { inferCorpusFormat } from "../experiment/corpus-format.ts";
import type { CorpusFormat } from "../experiment/schema.ts";
import { existsUri, listUri } from "../storage/index.ts";
import { itemId, type ManifestItem } from "./manifest.ts";

/** A corpus that cannot be planned: missing, empty, or with files of unknown format. */
export class CorpusPlanError extends Error {
  readonly code: "corpus_empty" | "unknown_format" | "format_mismatch" | "too_few_items";
  readonly uri: string;

  constructor(code: CorpusPlanError["code"], uri: string, message: string) {
    super(message);
    this.name = "CorpusPlanError";
    this.code = code;
    this.uri = uri;
  }
}

/** One corpus file and its format. */
export interface CorpusFile {
  readonly uri: string;
  readonly format: CorpusFormat;
}

/** Maps an experiment's corpus format to the reader's, which takes compression from the file name. */
export function readerFormat(format: CorpusFormat): ReaderFormat {
  return format === "parquet" ? "parquet" : "jsonl";
}

const COMPRESSION_OF_FORMAT = {
  jsonl: "none",
  "jsonl.gz": "gzip",
  "jsonl.zst": "zstd",
  parquet: "none",
} as const;

function shortList(values: readonly string[]): string {
  return values.slice(0, 5).join(", ") + (values.length > 5 ? `, and ${values.length - 5} more` : "");
}

/** Tells whether a listed file is bookkeeping (`_SUCCESS`, `.keep`) rather than data. */
function isBookkeeping(uri: string): boolean {
  const name = uri.split("/").pop() ?? "";
  return name.startsWith(".") || name.startsWith("_");
}

/**
 * Lists the files of a corpus: the file itself when `uri` names one, else
 * every file under the prefix in sorted order, without bookkeeping files.
 * Each file's format is `format` when given, else inferred from its name.
 */
export async function listCorpusFiles(uri: string, format: CorpusFormat | undefined): Promise<CorpusFile[]> {
  const uris = (await existsUri(uri)) ? [uri] : (await listUri(uri)).filter((file) => !isBookkeeping(file));
  if (uris.length === 0) {
    throw new CorpusPlanError("corpus_empty", uri, `corpus ${uri} has no files: check corpus.uri`);
  }
  const unknown: string[] = [];
  const files: CorpusFile[] = [];
  for (const file of uris) {
    const fileFormat = format ?? inferCorpusFormat(file);
    if (fileFormat === undefined) unknown.push(file);
    else files.push({ uri: file, format: fileFormat });
  }
  if (unknown.length > 0) {
    throw new CorpusPlanError(
      "unknown_format",
      uri,
      `cannot infer the format of corpus files ${shortList(unknown)}: set corpus.format (jsonl, jsonl.gz, jsonl.zst or parquet) or rename them`,
    );
  }
  // The reader decompresses by file name, so an explicit format must agree with the names.
  const mismatched = files.filter((file) => compressionOf(file.uri) !== COMPRESSION_OF_FORMAT[file.format]);
  if (mismatched.length > 0) {
    throw new CorpusPlanError(
      "format_mismatch",
      uri,
      `corpus.format ${format} does not match the names of ${shortList(mismatched.map((file) => file.uri))}: ` +
        "compressed files must end in .gz or .zst and uncompressed ones must not; fix corpus.format or rename the files",
    );
  }
  return files;
}

/**
 * Cuts counted files into work items of at most `recordsPerItem` records,
 * numbered in corpus order. A file with no records gives no item.
 */
export function splitIntoItems(
  files: ReadonlyArray<CorpusFile & { readonly records: number }>,
  recordsPerItem: number,
): Array<Omit<ManifestItem, "split">> {
  const items: Array<Omit<ManifestItem, "split">> = [];
  for (const file of files) {
    for (let start = 0; start < file.records; start += recordsPerItem) {
      items.push({
        item: itemId(items.length),
        source: {
          uri: file.uri,
          format: file.format,
          startRecord: start,
          endRecord: Math.min(start + recordsPerItem, file.records),
        },
      });
    }
  }
  return items;
}

/**
 * Chooses the held-out items: `heldOutItems`, or `heldOutShare` of the items
 * rounded up, at least one and leaving at least one for training. They are
 * spread evenly, item `floor((k + 0.5) * n / h)` for `k < h`, so every part
 * of the corpus is represented.
 */
export function chooseHeldOut(
  itemCount: number,
  evaluation: { heldOutShare: number } | { heldOutItems: number },
  corpusUri: string,
): Set<number> {
  if (itemCount < 2) {
    throw new CorpusPlanError(
      "too_few_items",
      corpusUri,
      `corpus ${corpusUri} gives ${itemCount} work item(s), but training and held-out evaluation need at least 2: lower corpus.recordsPerItem`,
    );
  }
  // The tolerance keeps float error such as 0.07 * 100 = 7.000000000000001 from adding an item.
  let requested = Math.ceil(("heldOutShare" in evaluation ? evaluation.heldOutShare : 0) * itemCount - 1e-9);
  if ("heldOutItems" in evaluation) requested = evaluation.heldOutItems;
  const count = Math.min(Math.max(requested, 1), itemCount - 1);
  const heldOut = new Set<number>();
  for (let k = 0; k < count; k++) heldOut.add(Math.floor(((k + 0.5) * itemCount) / count));
  return heldOut;
}
