import {
  type AlignmentStats,
  alignTokens,
  computeAlignmentStats,
  EMPTY_ALIGNMENT_STATS,
  mergeAlignmentStats,
  summarizeAlignmentStats,
} from "../alignment/index.ts";
import { RejectWriter, readCorpus } from "../corpus/index.ts";
import type { RejectReason } from "../corpus/types.ts";
import { type Experiment, parseExperiment } from "../experiment/index.ts";
import { logger } from "../log.ts";
import { type ShardDocument, validateShardFile, writeShard } from "../shards/index.ts";
import { existsUri, parseUri, readTextUri, writeUri } from "../storage/index.ts";
import type { LoadedTokenizer } from "../tokenizers/index.ts";
import { splitLongText } from "./long-documents.ts";
import { type Manifest, readManifest, runFiles } from "./manifest.ts";
import { cachedTokenizer } from "./tokenizer-cache.ts";
import { readerFormat } from "./work-items.ts";

/** Input of the prepare step: one work item of a planned run. */
export interface PrepareInput {
  readonly runUri: string;
  readonly item: string;
}

/** Output of the prepare step: counts of one work item. */
export interface PrepareOutput {
  readonly item: string;
  /** Corpus records read. */
  readonly records: number;
  /** Documents in the shard (a long record may give several). */
  readonly documents: number;
  readonly studentTokens: number;
  readonly teacherTokens: number;
  /** Records rejected, each written with its reason to rejects/<item>.jsonl. */
  readonly rejected: number;
  /** True when a valid shard already existed and nothing was recomputed. */
  readonly skipped: boolean;
}

/** Statistics of one prepared item, stored in runs/<runId>/prepare/<item>.json for the report. */
export interface PrepareStats extends Omit<PrepareOutput, "skipped"> {
  readonly rejectReasons: Partial<Record<RejectReason, number>>;
  readonly alignment: AlignmentStats;
}

/** Documents tokenized per batch call; the tokenizers library spreads a batch over threads. */
const ENCODE_BATCH_DOCUMENTS = 64;

// Survives across warm Lambda invocations and across the items of a local run.
const manifests = new Map<string, Promise<Manifest>>();

function cachedManifest(uri: string): Promise<Manifest> {
  let manifest = manifests.get(uri);
  if (manifest === undefined) {
    manifest = readManifest(uri);
    manifests.set(uri, manifest);
    manifest.catch(() => manifests.delete(uri));
  }
  return manifest;
}

/** Names a corpus file in fallback document ids: its path below the corpus URI, or its file name. */
function sourceName(corpusUri: string, fileUri: string): string {
  const prefix = corpusUri.endsWith("/") ? corpusUri : `${corpusUri}/`;
  if (fileUri.startsWith(prefix)) return fileUri.slice(prefix.length);
  const location = parseUri(fileUri);
  return (location.kind === "s3" ? location.key : location.path).split("/").pop() ?? fileUri;
}

async function loadTokenizers(experiment: Experiment, manifest: Manifest) {
  const [student, teacher] = await Promise.all([
    cachedTokenizer(experiment.student.tokenizer),
    cachedTokenizer(experiment.teacher.tokenizer),
  ]);
  for (const [role, tokenizer] of [
    ["student", student],
    ["teacher", teacher],
  ] as const) {
    const planned = manifest.tokenizers[role].identity.sha256;
    if (tokenizer.identity.sha256 !== planned) {
      throw new Error(
        `${role} tokenizer ${tokenizer.source} changed since the run was planned (sha256 ${tokenizer.identity.sha256}, ` +
          `planned ${planned}): restore it or start a new run`,
      );
    }
  }
  return { student, teacher };
}

interface PendingDocument {
  readonly id: string;
  readonly text: string;
}

/**
 * Tokenizes a batch with both tokenizers and aligns each document. Shards
 * hold content tokens only: no BOS or EOS is added here.
 */
async function encodeAndAlign(
  batch: readonly PendingDocument[],
  student: LoadedTokenizer,
  teacher: LoadedTokenizer,
): Promise<{ documents: ShardDocument[]; stats: AlignmentStats }> {
  const texts = batch.map((document) => document.text);
  const [studentEncodings, teacherEncodings] = await Promise.all([
    student.encodeBatch(texts),
    teacher.encodeBatch(texts),
  ]);
  let stats = EMPTY_ALIGNMENT_STATS;
  const documents = batch.map((document, index) => {
    const studentEncoding = studentEncodings[index];
    const teacherEncoding = teacherEncodings[index];
    const alignment = alignTokens(studentEncoding.spans, teacherEncoding.spans);
    stats = mergeAlignmentStats(
      stats,
      computeAlignmentStats(studentEncoding.spans, teacherEncoding.spans, alignment),
    );
    return {
      id: document.id,
      byteLength: studentEncoding.byteLength,
      studentIds: studentEncoding.ids,
      studentSpans: studentEncoding.spans,
      teacherIds: teacherEncoding.ids,
      teacherSpans: teacherEncoding.spans,
      teacherStart: alignment.teacherStart,
      teacherEnd: alignment.teacherEnd,
    };
  });
  return { documents, stats };
}

async function readStats(uri: string): Promise<PrepareStats | undefined> {
  if (!(await existsUri(uri))) return undefined;
  return JSON.parse(await readTextUri(uri)) as PrepareStats;
}

/**
 * Prepares one work item: reads its record range, tokenizes every document
 * with the student and the teacher tokenizer, aligns them and writes the
 * shard, the rejected records and the item's statistics. An item whose shard
 * exists and validates is skipped.
 *
 * @example
 * const counts = await prepareItem({ runUri: "s3://vocagno-data/runs/owm-3f9a0c12d4e5", item: "000042" });
 */
export async function prepareItem(input: PrepareInput): Promise<PrepareOutput> {
  const files = runFiles(input.runUri);
  const shardUri = files.shard(input.item);
  const statsUri = files.prepareStats(input.item);

  if ((await validateShardFile(shardUri)).valid) {
    const stats = await readStats(statsUri);
    if (stats !== undefined) {
      logger.info({ item: input.item, shardUri }, "shard exists and validates; skipping");
      const { rejectReasons: _reasons, alignment: _alignment, ...counts } = stats;
      return { ...counts, skipped: true };
    }
  }

  const manifest = await cachedManifest(files.manifest);
  const entry = manifest.items.find((candidate) => candidate.item === input.item);
  if (entry === undefined) {
    throw new Error(`work item ${JSON.stringify(input.item)} is not in ${files.manifest}: check the item id`);
  }
  const experiment = parseExperiment(JSON.parse(await readTextUri(files.experiment)), files.experiment);
  const { student, teacher } = await loadTokenizers(experiment, manifest);
  const { corpus } = experiment;

  // NOTE: the whole shard is held in memory until it is written, about 36 bytes per student token
  // (ids, spans and alignment of both tokenizers), so corpus.recordsPerItem bounds a prepare invocation's memory.
  const documents: ShardDocument[] = [];
  let alignment = EMPTY_ALIGNMENT_STATS;
  let pending: PendingDocument[] = [];
  const flush = async () => {
    const encoded = await encodeAndAlign(pending, student, teacher);
    documents.push(...encoded.documents);
    alignment = mergeAlignmentStats(alignment, encoded.stats);
    pending = [];
  };

  // The reader writes every rejected record with its reason; the file is written even when empty.
  const rejects = await RejectWriter.open(files.rejects(input.item));
  const reader = readCorpus(entry.source.uri, {
    rejects,
    format: readerFormat(entry.source.format),
    textField: corpus.textField,
    idField: corpus.idField ?? undefined,
    sourceName: sourceName(corpus.uri, entry.source.uri),
    startRecord: entry.source.startRecord,
    endRecord: entry.source.endRecord,
  });
  for await (const record of reader) {
    const pieces = splitLongText(record.text, corpus.maxDocumentBytes);
    pieces.forEach((text, piece) => {
      pending.push({ id: pieces.length === 1 ? record.id : `${record.id}#${piece}`, text });
    });
    if (pending.length >= ENCODE_BATCH_DOCUMENTS) await flush();
  }
  if (pending.length > 0) await flush();
  await rejects.close();

  const records = reader.counts.good + reader.counts.rejected;
  const rejected = reader.counts.rejected;
  const rejectReasons = reader.counts.rejectedByReason;
  const stats: PrepareStats = {
    item: input.item,
    records,
    documents: documents.length,
    studentTokens: alignment.studentTokens,
    teacherTokens: alignment.teacherTokens,
    rejected,
    rejectReasons,
    alignment,
  };

  // The shard is written last: its presence marks the item complete.
  await writeUri(statsUri, `${JSON.stringify(stats)}\n`);
  await writeShard(
    shardUri,
    {
      item: input.item,
      studentIdentity: { ...student.identity },
      teacherIdentity: { ...teacher.identity },
      stats: { ...alignment, ...summarizeAlignmentStats(alignment), records, rejected },
    },
    documents,
  );
  const { rejectReasons: _reasons, alignment: _alignment, ...counts } = stats;
  return { ...counts, skipped: false };
}
