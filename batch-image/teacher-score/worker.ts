import { z } from "zod";
import { logger } from "../../core/log.ts";
import {
  AGGREGATIONS,
  type Aggregation,
  readShard,
  ShardFormatError,
  type TeacherScoresRow,
  validateTeacherScoresFile,
  writeTeacherScores,
} from "../../core/shards/index.ts";
import { isNotFound, joinUri, readTextUri, writeUri } from "../../core/storage/index.ts";
import { aggregateTeacherLoss } from "./aggregation.ts";
import { openTeacherBundle, type TeacherBundle } from "./bundle.ts";
import { type ExecutionProvider, TeacherEngine } from "./engine.ts";
import { scoreDocuments } from "./score-documents.ts";
import { checkWindowOptions, type WindowOptions } from "./windowing.ts";

/** Settings of one teacher-scoring worker. */
export interface TeacherScoreOptions {
  /** The run directory, `.../runs/<runId>` (file:// or s3://). */
  readonly runUri: string;
  /** The teacher bundle directory or S3 prefix. */
  readonly teacherUri: string;
  /** Default: the run's experiment.json, else `max`. */
  readonly aggregation?: Aggregation;
  /** Max tokens per window, BOS included; default: experiment.json, else the bundle's maxContextTokens. */
  readonly contextTokens?: number;
  /** Min preceding tokens of every scored token in later windows; default: experiment.json, else context / 4. */
  readonly minContextTokens?: number;
  /** Max padded tokens per batch; default: experiment.json, else DEFAULT_BATCH_TOKENS of the provider. */
  readonly batchTokens?: number;
  /** Default `cpu`. */
  readonly provider?: ExecutionProvider;
  /** Intra-op threads (CPU); default chosen by ONNX Runtime. */
  readonly threads?: number;
  /** Only these manifest items; default all. */
  readonly items?: readonly string[];
  /** This worker's slice of the items: index in [0, arraySize). Default: one worker, all items. */
  readonly arrayIndex?: number;
  readonly arraySize?: number;
}

/** Item ids that one worker scored, skipped and rejected. */
export interface TeacherScoreSummary {
  readonly scored: string[];
  readonly skipped: string[];
  readonly rejected: string[];
}

/** The teacher settings of the run's frozen experiment.json that the worker uses as defaults. */
const ExperimentTeacherSchema = z.object({
  teacher: z
    .object({
      aggregation: z.enum(AGGREGATIONS).optional(),
      contextTokens: z.number().int().optional(),
      minContextTokens: z.number().int().optional(),
      batchTokens: z.number().int().optional(),
    })
    .optional(),
});

const ManifestSchema = z.object({
  formatVersion: z.literal(1),
  runId: z.string(),
  items: z.array(z.object({ item: z.string().regex(/^[\w.-]+$/) }).passthrough()),
});

/**
 * Default padded tokens per batch. The graph computes the output layer in slices
 * of 16,384 rows. At its peak it keeps about 16 bytes per token and slice entry
 * (fp32 logits and their temporaries): about 0.5 GB for 2,048 tokens and 4.3 GB
 * for 16,384, on top of the weights and the decoder's activations. These are
 * estimates from CPU measurements, see BENCHMARKS.md.
 */
export const DEFAULT_BATCH_TOKENS: Record<ExecutionProvider, number> = { cpu: 2048, cuda: 16_384 };

/** Item ids of worker `arrayIndex` of `arraySize`: contiguous slices that differ in length by at most one. */
export function sliceItems(items: readonly string[], arrayIndex: number, arraySize: number): string[] {
  if (!Number.isInteger(arraySize) || arraySize < 1) {
    throw new RangeError(`invalid array size ${arraySize}; use an integer of at least 1`);
  }
  if (!Number.isInteger(arrayIndex) || arrayIndex < 0 || arrayIndex >= arraySize) {
    throw new RangeError(`invalid array index ${arrayIndex}; use an integer in [0, ${arraySize})`);
  }
  const start = Math.floor((items.length * arrayIndex) / arraySize);
  const end = Math.floor((items.length * (arrayIndex + 1)) / arraySize);
  return items.slice(start, end);
}

/**
 * Scores the shards of a run with a teacher: for each item of this worker's
 * slice it reads `shards/<item>.arrow` and writes `teacher/<item>.arrow`.
 * Items whose output exists and matches the shard are skipped, so a killed
 * worker resumes where it stopped. A shard that cannot be scored is written to
 * `rejects/teacher-<item>.jsonl` with its reason and the other items continue.
 *
 * @example
 * await runTeacherScoring({ runUri: "s3://bucket/runs/r1", teacherUri: "s3://bucket/teachers/qwen2", provider: "cuda" });
 */
export async function runTeacherScoring(options: TeacherScoreOptions): Promise<TeacherScoreSummary> {
  const manifestUri = joinUri(options.runUri, "manifest.json");
  const manifest = ManifestSchema.parse(JSON.parse(await readTextUri(manifestUri)));
  let items = manifest.items.map((entry) => entry.item);
  if (options.items !== undefined) {
    const unknown = options.items.filter((item) => !items.includes(item));
    if (unknown.length > 0) {
      throw new RangeError(`items ${unknown.join(", ")} are not in ${manifestUri}`);
    }
    items = items.filter((item) => options.items!.includes(item));
  }
  items = sliceItems(items, options.arrayIndex ?? 0, options.arraySize ?? 1);
  const log = logger.child({ runId: manifest.runId, step: "teacher-score" });

  const experiment = await readExperimentTeacher(options.runUri);
  const bundle = await openTeacherBundle(options.teacherUri);
  const contextTokens = options.contextTokens ?? experiment.contextTokens ?? bundle.metadata.maxContextTokens;
  if (contextTokens > bundle.metadata.maxContextTokens) {
    throw new RangeError(
      `context of ${contextTokens} tokens exceeds the teacher's max context of ${bundle.metadata.maxContextTokens}; lower --context-tokens`,
    );
  }
  const windowOptions: WindowOptions = {
    contextTokens,
    minContextTokens:
      options.minContextTokens ?? experiment.minContextTokens ?? Math.floor(contextTokens / 4),
    bosTokenId: bundle.metadata.bosTokenId,
  };
  checkWindowOptions(windowOptions);
  const aggregation = options.aggregation ?? experiment.aggregation ?? "max";
  const provider = options.provider ?? "cpu";
  const batchTokens = options.batchTokens ?? experiment.batchTokens ?? DEFAULT_BATCH_TOKENS[provider];
  const engine = await TeacherEngine.create({
    modelPath: bundle.modelPath,
    provider,
    threads: options.threads,
  });
  const teacherBundle = {
    uri: bundle.uri,
    architecture: bundle.metadata.architecture,
    weightsSha256: bundle.metadata.weightsSha256,
    tokenizerSha256: bundle.metadata.tokenizerSha256,
    dtype: bundle.metadata.dtype,
    bosTokenId: bundle.metadata.bosTokenId,
    contextTokens,
    minContextTokens: windowOptions.minContextTokens,
  };
  log.info({ items: items.length, teacherBundle, aggregation, batchTokens }, "teacher scoring started");

  const summary: TeacherScoreSummary = { scored: [], skipped: [], rejected: [] };
  try {
    for (const item of items) {
      const shardUri = joinUri(options.runUri, "shards", `${item}.arrow`);
      const outputUri = joinUri(options.runUri, "teacher", `${item}.arrow`);
      if ((await validateTeacherScoresFile(outputUri, { shardUri })).valid) {
        log.info({ item, outputUri }, "teacher scores exist, item skipped");
        summary.skipped.push(item);
        continue;
      }
      const problem = await scoreItem({
        item,
        shardUri,
        outputUri,
        bundle,
        engine,
        windowOptions,
        batchTokens,
        aggregation,
        teacherBundle,
      });
      if (problem === undefined) {
        summary.scored.push(item);
      } else {
        await writeReject(options.runUri, item, shardUri, problem);
        log.error({ item, shardUri, code: problem.code, reason: problem.reason }, "shard rejected");
        summary.rejected.push(item);
      }
    }
  } finally {
    await engine.release();
  }
  log.info(
    { scored: summary.scored.length, skipped: summary.skipped.length, rejected: summary.rejected.length },
    "teacher scoring finished",
  );
  return summary;
}

/** Reads the teacher section of `<run>/experiment.json`; a run without one has no defaults. */
async function readExperimentTeacher(
  runUri: string,
): Promise<z.infer<typeof ExperimentTeacherSchema>["teacher"] & {}> {
  const experimentUri = joinUri(runUri, "experiment.json");
  let text: string;
  try {
    text = await readTextUri(experimentUri);
  } catch (error) {
    if (isNotFound(error)) return {};
    throw error;
  }
  const result = ExperimentTeacherSchema.safeParse(JSON.parse(text));
  if (!result.success) {
    throw new RangeError(`invalid teacher settings in ${experimentUri}: ${result.error.message}`);
  }
  return result.data.teacher ?? {};
}

interface ItemContext {
  readonly item: string;
  readonly shardUri: string;
  readonly outputUri: string;
  readonly bundle: TeacherBundle;
  readonly engine: TeacherEngine;
  readonly windowOptions: WindowOptions;
  readonly batchTokens: number;
  readonly aggregation: Aggregation;
  readonly teacherBundle: Record<string, unknown>;
}

interface ItemProblem {
  readonly code: string;
  readonly reason: string;
}

async function scoreItem(context: ItemContext): Promise<ItemProblem | undefined> {
  let shard: Awaited<ReturnType<typeof readShard>>;
  try {
    shard = await readShard(context.shardUri);
  } catch (error) {
    if (error instanceof ShardFormatError) return { code: error.code, reason: error.message };
    throw error;
  }
  const shardTokenizerSha256 = shard.meta.teacherIdentity.sha256;
  if (
    typeof shardTokenizerSha256 === "string" &&
    shardTokenizerSha256 !== context.bundle.metadata.tokenizerSha256
  ) {
    // An equivalent tokenizer.json from another source (a known name in the experiment) has other bytes, so
    // only the vocabulary range below rejects a shard.
    logger.warn(
      {
        item: context.item,
        shardTokenizerSha256,
        bundleTokenizerSha256: context.bundle.metadata.tokenizerSha256,
      },
      "shard was tokenized with another teacher tokenizer.json than the bundle's",
    );
  }
  const vocabSize = context.bundle.metadata.vocabSize;
  for (const [row, document] of shard.documents.entries()) {
    const bad = document.teacherIds.findIndex((id) => id < 0 || id >= vocabSize);
    if (bad !== -1) {
      return {
        code: "token_id_out_of_range",
        reason: `document ${JSON.stringify(document.id)} (row ${row}) has teacher token id ${document.teacherIds[bad]} at position ${bad}, outside the teacher's vocabulary [0, ${vocabSize}); the shard was tokenized for another teacher`,
      };
    }
  }

  const { losses, stats } = await scoreDocuments(
    context.engine,
    shard.documents.map((document) => document.teacherIds),
    context.windowOptions,
    context.batchTokens,
  );
  const rows: TeacherScoresRow[] = shard.documents.map((document, index) => ({
    id: document.id,
    teacherLoss: losses[index],
    studentTeacherLoss: aggregateTeacherLoss(
      losses[index],
      document.teacherStart,
      document.teacherEnd,
      context.aggregation,
    ),
  }));
  await writeTeacherScores(
    context.outputUri,
    { item: context.item, teacherBundle: context.teacherBundle, aggregation: context.aggregation },
    rows,
  );
  const documentTokens = shard.documents.reduce((total, document) => total + document.teacherIds.length, 0);
  logger.info(
    {
      item: context.item,
      documents: rows.length,
      teacherTokens: documentTokens,
      windows: stats.sequences,
      batches: stats.batches,
      paddingShare: stats.paddedTokens === 0 ? 0 : 1 - stats.tokens / stats.paddedTokens,
      tokensPerSecond: stats.seconds === 0 ? 0 : documentTokens / stats.seconds,
      maxBatchTensorBytes: stats.maxBatchTensorBytes,
    },
    "item scored",
  );
  return undefined;
}

async function writeReject(
  runUri: string,
  item: string,
  shardUri: string,
  problem: ItemProblem,
): Promise<void> {
  const line = JSON.stringify({
    step: "teacher-score",
    item,
    shard: shardUri,
    code: problem.code,
    reason: problem.reason,
  });
  await writeUri(joinUri(runUri, "rejects", `teacher-${item}.jsonl`), `${line}\n`);
}
