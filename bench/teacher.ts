/**
 * Teacher-scoring benchmark: tokens per second of the worker's ONNX Runtime
 * engine against a plain PyTorch forward pass of the same tiny model on the same
 * batches, the graph's sliced output layer against the whole layer at once, and
 * (unless skipped) a teacher bundle over 2 GB with external data loaded and
 * scored by the worker.
 *
 *   npx tsx bench/teacher.ts [--skip-large | --large-only]
 *   npx tsx bench/teacher.ts --cuda-bundle DIR [--context-tokens 2048] [--batch-tokens 16384]
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { planBatches } from "../batch-image/teacher-score/batching.ts";
import { openTeacherBundle } from "../batch-image/teacher-score/bundle.ts";
import { TeacherEngine } from "../batch-image/teacher-score/engine.ts";
import {
  buildTinyTeacher,
  makeShardDocuments,
  pythonPath,
  TOKENIZERS,
} from "../batch-image/teacher-score/test-support.ts";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const REPEATS = 3;
const BATCH_TOKENS = 4096;

export interface TeacherBenchResult {
  readonly name: string;
  readonly [key: string]: unknown;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function runPython(args: string[]): void {
  execFileSync(pythonPath(), args, {
    cwd: path.join(REPO_ROOT, "batch-image"),
    stdio: ["ignore", "inherit", "inherit"],
  });
}

/** Builds documents of a few hundred teacher tokens each from varied ASCII text. */
async function benchmarkSequences(bosTokenId: number | null): Promise<Int32Array[]> {
  const texts = Array.from({ length: 16 }, (_, index) =>
    Array.from(
      { length: 20 + ((index * 37) % 90) },
      (_, k) => `Lemma ${k}: if a_${k} = ${k * index + 3} then a_${k}^2 mod ${7 + (k % 11)} is fixed.`,
    ).join(" "),
  );
  const documents = await makeShardDocuments(TOKENIZERS.qwen2, texts, "bench");
  // One window per document: truncate to the tiny teacher's 512-token context.
  return documents.map((document) => {
    const ids = document.teacherIds.subarray(0, bosTokenId === null ? 512 : 511);
    return bosTokenId === null ? ids : Int32Array.from([bosTokenId, ...ids]);
  });
}

/** ONNX Runtime engine against PyTorch on the same batches of a tiny Qwen2 (151,669-row vocabulary). */
export async function benchTinyTeacher(): Promise<TeacherBenchResult> {
  const teacher = buildTinyTeacher({ architecture: "qwen2" });
  const { metadata } = await openTeacherBundle(teacher.bundleDir);
  const sequences = await benchmarkSequences(metadata.bosTokenId);
  const lengths = sequences.map((sequence) => sequence.length);
  const tokens = lengths.reduce((total, length) => total + length, 0);
  const batches = planBatches(lengths, BATCH_TOKENS);
  const threads = os.availableParallelism();

  const directory = mkdtempSync(path.join(os.tmpdir(), "vocagno-bench-"));
  const onnx = scoreInChild(path.join(teacher.bundleDir, "model.onnx"), sequences, directory);

  const input = path.join(directory, "batches.json");
  const output = path.join(directory, "torch.json");
  const torchBatches = batches.map((batch) => batch.indexes.map((index) => [...sequences[index]]));
  writeFileSync(input, JSON.stringify({ batches: torchBatches }));
  runPython([
    "-m",
    "vocagno_export.torch_benchmark",
    "--model",
    teacher.modelDir,
    "--input",
    input,
    "--output",
    output,
    "--repeats",
    String(REPEATS),
    "--threads",
    String(threads),
  ]);
  const torch = JSON.parse(readFileSync(output, "utf8")) as { seconds: number[]; maxRssBytes: number };
  rmSync(directory, { recursive: true, force: true });

  const onnxTokensPerSecond = tokens / median(onnx.seconds);
  const torchTokensPerSecond = tokens / median(torch.seconds);
  // The fp32 logits of the longest batch over the whole vocabulary (rows x length x vocabulary). The graph
  // computes them one slice at a time, so this is the size that slicing avoids.
  const maxBatchLogitsBytes =
    Math.max(...batches.map((b) => b.indexes.length * b.paddedLength)) * metadata.vocabSize * 4;
  return {
    name: "teacher tiny qwen2 cpu",
    documents: sequences.length,
    tokens,
    batches: batches.length,
    paddingShare: 1 - tokens / onnx.paddedTokens,
    threads,
    repeats: REPEATS,
    onnxTokensPerSecondMedian: Math.round(onnxTokensPerSecond),
    torchTokensPerSecondMedian: Math.round(torchTokensPerSecond),
    ratio: Number((onnxTokensPerSecond / torchTokensPerSecond).toFixed(3)),
    maxBatchTensorBytes: onnx.maxBatchTensorBytes,
    maxBatchLogitsBytes,
    onnxProcessMaxRssBytes: onnx.maxRssBytes,
    torchProcessMaxRssBytes: torch.maxRssBytes,
  };
}

/** Exports a random-init Qwen2 whose fp32 weights pass 2 GiB, then loads and scores it in the worker's engine. */
export async function benchLargeTeacher(): Promise<TeacherBenchResult> {
  const root = mkdtempSync(path.join(os.tmpdir(), "vocagno-large-teacher-"));
  const modelDir = path.join(root, "model");
  const bundleDir = path.join(root, "teacher");
  try {
    const exportStarted = performance.now();
    // 151,936 x 1,536 embeddings twice (untied) plus 4 layers: about 563M parameters, 2.25 GB in fp32.
    runPython([
      "-m",
      "vocagno_export.tiny",
      "--architecture",
      "qwen2",
      "--tokenizer",
      TOKENIZERS.qwen2,
      "--output",
      modelDir,
      "--vocab-size",
      "151936",
      "--hidden-size",
      "1536",
      "--layers",
      "4",
      "--heads",
      "12",
      "--kv-heads",
      "4",
      "--intermediate-size",
      "4096",
      "--max-context",
      "1024",
    ]);
    runPython(["-m", "vocagno_export", "--model", modelDir, "--output", bundleDir]);
    const exportSeconds = (performance.now() - exportStarted) / 1000;
    const bundle = await openTeacherBundle(bundleDir);
    const dataBytes = statSync(path.join(bundleDir, "model.onnx.data")).size;

    const loadStarted = performance.now();
    const engine = await TeacherEngine.create({ modelPath: bundle.modelPath, provider: "cpu" });
    const loadSeconds = (performance.now() - loadStarted) / 1000;
    const sequences = (await benchmarkSequences(bundle.metadata.bosTokenId)).slice(0, 4);
    const { losses, stats } = await engine.scoreSequences(sequences, BATCH_TOKENS);
    await engine.release();
    const finite = losses.every((row) => row.subarray(1).every((loss) => Number.isFinite(loss)));
    return {
      name: "teacher over 2 GB external data cpu",
      files: bundle.metadata.files,
      externalDataBytes: dataBytes,
      graphBytes: statSync(bundle.modelPath).size,
      exportSeconds: Number(exportSeconds.toFixed(1)),
      sessionLoadSeconds: Number(loadSeconds.toFixed(1)),
      tokens: stats.tokens,
      tokensPerSecond: Math.round(stats.tokens / stats.seconds),
      allLossesFinite: finite,
      checkMaxAbsDifference: JSON.parse(readFileSync(path.join(bundleDir, "teacher.json"), "utf8")).check
        .maxAbsDifference,
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/**
 * Scores random token sequences of `contextTokens` with a bundle on the CUDA
 * execution provider (the GPU benchmark, batch-image/gpu/teacher_benchmark.py).
 */
export async function benchCudaTeacher(
  bundleDir: string,
  contextTokens: number,
  batchTokens: number,
): Promise<TeacherBenchResult> {
  const bundle = await openTeacherBundle(bundleDir);
  const engine = await TeacherEngine.create({ modelPath: bundle.modelPath, provider: "cuda" });
  // A fixed linear congruential generator keeps the token ids the same on every run.
  let state = 12345;
  const nextId = () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state % bundle.metadata.tokenizerVocabSize;
  };
  const sequenceCount = Math.max(8, Math.ceil((4 * batchTokens) / contextTokens));
  const sequences = Array.from({ length: sequenceCount }, () =>
    Int32Array.from({ length: contextTokens }, nextId),
  );
  await engine.scoreSequences(
    sequences.slice(0, Math.max(1, Math.floor(batchTokens / contextTokens))),
    batchTokens,
  );
  const seconds: number[] = [];
  for (let repeat = 0; repeat < REPEATS; repeat++) {
    seconds.push((await engine.scoreSequences(sequences, batchTokens)).stats.seconds);
  }
  await engine.release();
  const tokens = sequenceCount * contextTokens;
  return {
    name: "teacher cuda",
    tokens,
    repeats: REPEATS,
    secondsMedian: median(seconds),
    tokensPerSecondMedian: Math.round(tokens / median(seconds)),
  };
}

/** Result of bench/teacher-engine-child.ts. */
interface ChildScoring {
  /** Seconds of each repeat over all sequences. */
  readonly seconds: number[];
  /** Peak resident memory of the child process. */
  readonly maxRssBytes: number;
  readonly paddedTokens: number;
  readonly maxBatchTensorBytes: number;
}

/** Scores `sequences` with the graph at `modelPath` in a child process, so its peak memory is that graph's alone. */
function scoreInChild(modelPath: string, sequences: readonly Int32Array[], directory: string): ChildScoring {
  const input = path.join(directory, "sequences.json");
  writeFileSync(input, JSON.stringify(sequences.map((ids) => [...ids])));
  const output = execFileSync(
    process.execPath,
    [
      "--import",
      "tsx",
      path.join(REPO_ROOT, "bench", "teacher-engine-child.ts"),
      modelPath,
      input,
      String(BATCH_TOKENS),
      String(REPEATS),
    ],
    { cwd: REPO_ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
  );
  return JSON.parse(output.trim().split("\n").at(-1)!) as ChildScoring;
}

/**
 * Compares the exported graph's output layer in 16,384-row slices (the default) with
 * the whole 151,669-row layer at once, on the same tiny Qwen2 and batches: peak
 * memory and tokens per second, each graph scored in a process of its own.
 */
export async function benchVocabSlices(): Promise<TeacherBenchResult> {
  const teacher = buildTinyTeacher({ architecture: "qwen2" });
  const { metadata } = await openTeacherBundle(teacher.bundleDir);
  const sequences = await benchmarkSequences(metadata.bosTokenId);
  const tokens = sequences.reduce((total, sequence) => total + sequence.length, 0);
  const directory = mkdtempSync(path.join(os.tmpdir(), "vocagno-bench-slices-"));
  try {
    const wholeBundle = path.join(directory, "whole");
    runPython([
      "-m",
      "vocagno_export",
      "--model",
      teacher.modelDir,
      "--output",
      wholeBundle,
      "--vocab-slice",
      String(metadata.vocabSize),
    ]);
    const sliced = scoreInChild(path.join(teacher.bundleDir, "model.onnx"), sequences, directory);
    const whole = scoreInChild(path.join(wholeBundle, "model.onnx"), sequences, directory);
    const slicedTokensPerSecond = tokens / median(sliced.seconds);
    const wholeTokensPerSecond = tokens / median(whole.seconds);
    return {
      name: "teacher tiny qwen2 cpu, vocabulary slices against the whole output layer",
      tokens,
      batchTokens: BATCH_TOKENS,
      vocabSize: metadata.vocabSize,
      repeats: REPEATS,
      slicedTokensPerSecondMedian: Math.round(slicedTokensPerSecond),
      wholeTokensPerSecondMedian: Math.round(wholeTokensPerSecond),
      speedRatio: Number((slicedTokensPerSecond / wholeTokensPerSecond).toFixed(3)),
      slicedProcessMaxRssBytes: sliced.maxRssBytes,
      wholeProcessMaxRssBytes: whole.maxRssBytes,
      memoryRatio: Number((sliced.maxRssBytes / whole.maxRssBytes).toFixed(3)),
    };
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

/** Runs the teacher benchmarks; `skipLarge` leaves out the 2 GB export (minutes and about 10 GB of memory). */
export async function runTeacherBench(
  options: { skipLarge?: boolean; largeOnly?: boolean } = {},
): Promise<TeacherBenchResult[]> {
  const results = options.largeOnly ? [] : [await benchTinyTeacher(), await benchVocabSlices()];
  if (!options.skipLarge) results.push(await benchLargeTeacher());
  return results;
}

function flagValue(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index === -1 ? undefined : process.argv[index + 1];
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const cudaBundle = flagValue("--cuda-bundle");
  const results = cudaBundle
    ? [
        await benchCudaTeacher(
          cudaBundle,
          Number(flagValue("--context-tokens") ?? 2048),
          Number(flagValue("--batch-tokens") ?? 16384),
        ),
      ]
    : await runTeacherBench({
        skipLarge: process.argv.includes("--skip-large"),
        largeOnly: process.argv.includes("--large-only"),
      });
  for (const result of results) process.stdout.write(`${JSON.stringify(result)}\n`);
}
