import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { chooseHeldOut, splitIntoItems } from "../../core/steps/work-items.ts";

/** Repository root, two levels above this file. */
export const REPOSITORY_ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** The demo corpus: SymPy and mpmath docstrings, one JSON line `{"id", "text"}` each (see data/SOURCE.md). */
export const DEMO_CORPUS_PATH = path.join(REPOSITORY_ROOT, "data", "demo-corpus.jsonl.gz");

/**
 * Sizes of the demo run, chosen so that the whole demo, model building
 * included, fits in 15 minutes on a 2-core CPU machine. The student and the
 * teacher both have a 256-token context.
 */
export const DEMO_SETTINGS = {
  recordsPerItem: 150,
  heldOutItems: 1,
  contextTokens: 256,
  sequenceLength: 256,
  microBatchSize: 4,
  maxSteps: 100,
  warmupSteps: 10,
  learningRate: 3e-3,
  evalIntervalSteps: 50,
  evalMaxSequences: 24,
  logIntervalSteps: 5,
} as const;

/** One corpus record of the demo corpus. */
export interface CorpusRecord {
  readonly id: string;
  readonly text: string;
}

/** Reads the gzip-compressed JSON lines corpus. */
export async function readDemoCorpus(corpusPath = DEMO_CORPUS_PATH): Promise<CorpusRecord[]> {
  const text = gunzipSync(await readFile(corpusPath)).toString("utf8");
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line, index) => {
      const record = JSON.parse(line) as Partial<CorpusRecord>;
      if (typeof record.id !== "string" || typeof record.text !== "string") {
        throw new Error(`${corpusPath} line ${index + 1}: expected {"id": string, "text": string}`);
      }
      return { id: record.id, text: record.text };
    });
}

/**
 * Returns the ids of the documents that the plan step will hold out for
 * evaluation, using the plan step's own item split and choice, so that the
 * teacher is pretrained on training documents only.
 */
export function heldOutDocumentIds(records: readonly CorpusRecord[], corpusUri: string): string[] {
  const items = splitIntoItems(
    [{ uri: corpusUri, format: "jsonl.gz", records: records.length }],
    DEMO_SETTINGS.recordsPerItem,
  );
  const held = chooseHeldOut(items.length, { heldOutItems: DEMO_SETTINGS.heldOutItems }, corpusUri);
  const ids: string[] = [];
  for (const index of held) {
    const { startRecord, endRecord } = items[index].source;
    for (let record = startRecord; record < endRecord; record++) ids.push(records[record].id);
  }
  return ids;
}

/** Locations of the demo's models. */
export interface DemoModelPaths {
  /** Hugging Face directory of the random-init Llama student. */
  readonly student: string;
  /** Teacher bundle written by `python -m vocagno_export`. */
  readonly teacherBundle: string;
}

/**
 * Builds the demo experiment: the shipped corpus, the built models, both
 * variants, and training sized for a CPU (see DEMO_SETTINGS).
 */
export function demoExperiment(
  models: DemoModelPaths,
  corpusPath = DEMO_CORPUS_PATH,
): Record<string, unknown> {
  const settings = DEMO_SETTINGS;
  return {
    name: "vocagno-demo",
    variants: ["guided", "baseline"],
    corpus: { uri: corpusPath, idField: "id", recordsPerItem: settings.recordsPerItem },
    student: { model: models.student, tokenizer: "tinyllama" },
    teacher: {
      bundle: models.teacherBundle,
      tokenizer: "qwen",
      aggregation: "max",
      contextTokens: settings.contextTokens,
      minContextTokens: settings.contextTokens / 4,
      batchTokens: settings.contextTokens * 8,
    },
    loss: { keepRatio: 0.4, unmapped: "include", scope: "batch" },
    training: {
      maxSteps: settings.maxSteps,
      sequenceLength: settings.sequenceLength,
      microBatchSize: settings.microBatchSize,
      learningRate: settings.learningRate,
      warmupSteps: settings.warmupSteps,
      evalIntervalSteps: settings.evalIntervalSteps,
      evalMaxSequences: settings.evalMaxSequences,
      checkpointIntervalSteps: 0,
      logIntervalSteps: settings.logIntervalSteps,
    },
    evaluation: { heldOutItems: settings.heldOutItems },
  };
}
