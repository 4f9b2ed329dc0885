import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { logger } from "../../core/log.ts";
import { ensureTinyLlamaTokenizer, resolveTokenizerSource } from "../../core/tokenizers/index.ts";
import { DEMO_CORPUS_PATH, DEMO_SETTINGS, type DemoModelPaths, REPOSITORY_ROOT } from "./demo-experiment.ts";

const BUILD_SCRIPT = path.join(REPOSITORY_ROOT, "scripts", "demo", "build_models.py");
/** The modules that `python -m vocagno_export` runs; its other modules (tests, benchmarks) do not change a bundle. */
const EXPORT_MODULES = ["__main__.py", "export.py", "check.py", "graph.py", "metadata.py"].map((name) =>
  path.join(REPOSITORY_ROOT, "batch-image", "vocagno_export", name),
);

/** Arguments of build_models.py beyond the paths; part of the cache key. */
const BUILD_ARGUMENTS = ["--context", String(DEMO_SETTINGS.contextTokens), "--teacher-steps", "400"];

/** The demo's models and how they were obtained. */
export interface DemoModels extends DemoModelPaths {
  /** Folder holding both models and models.json. */
  readonly directory: string;
  /** True when the models came from the cache. */
  readonly cached: boolean;
  /** Seconds spent building, 0 when cached. */
  readonly buildSeconds: number;
  /** Contents of models.json: sizes, the teacher's pretraining curve, held-out loss per byte of both. */
  readonly summary: Record<string, unknown>;
}

/** Default cache folder of the demo: `$VOCAGNO_CACHE_DIR/demo`, else `~/.cache/vocagno/demo`. */
export function defaultDemoCacheDir(): string {
  return path.join(process.env.VOCAGNO_CACHE_DIR ?? path.join(os.homedir(), ".cache", "vocagno"), "demo");
}

async function localPathOf(source: string): Promise<string> {
  const location = await resolveTokenizerSource(source);
  const file = location.startsWith("file://") ? fileURLToPath(location) : location;
  return file.endsWith(".json") ? file : path.join(file, "tokenizer.json");
}

/**
 * Hashes everything the models depend on: the build script, the export tool,
 * the corpus, both tokenizers, the held-out ids and the build arguments.
 */
async function cacheKey(inputs: readonly string[], heldOutIds: readonly string[]): Promise<string> {
  const hash = createHash("sha256");
  for (const file of [...inputs, ...EXPORT_MODULES]) {
    hash.update(path.basename(file));
    hash.update(await readFile(file));
  }
  hash.update(JSON.stringify(heldOutIds));
  hash.update(JSON.stringify(BUILD_ARGUMENTS));
  return hash.digest("hex").slice(0, 16);
}

function runPython(python: string, args: string[], onLine: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, args, {
      cwd: REPOSITORY_ROOT,
      env: { ...process.env, PYTHONPATH: path.join(REPOSITORY_ROOT, "batch-image") },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const tail: string[] = [];
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on("line", (line) => {
        tail.push(line);
        if (tail.length > 20) tail.shift();
        onLine(line);
      });
    }
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve();
      else
        reject(
          new Error(
            `${path.basename(args[0])} exited with code ${code}; its last lines:\n${tail.join("\n")}`,
          ),
        );
    });
  });
}

/**
 * Returns the demo's student and teacher, building them with
 * scripts/demo/build_models.py on the first call and reusing them from the
 * cache afterwards. The cache entry is keyed by a hash of every input and
 * appears only when complete (built in a temporary folder, then renamed).
 *
 * @example
 * const models = await ensureDemoModels({ python, heldOutIds, onLine: (line) => console.error(line) });
 * models.teacherBundle; // ~/.cache/vocagno/demo/models-<key>/teacher
 */
export async function ensureDemoModels(options: {
  readonly python: string;
  readonly heldOutIds: readonly string[];
  readonly cacheDir?: string;
  readonly onLine?: (line: string) => void;
}): Promise<DemoModels> {
  const cacheDir = options.cacheDir ?? defaultDemoCacheDir();
  const studentTokenizer = await ensureTinyLlamaTokenizer();
  const teacherTokenizer = await localPathOf("qwen");
  const key = await cacheKey(
    [BUILD_SCRIPT, DEMO_CORPUS_PATH, studentTokenizer, teacherTokenizer],
    options.heldOutIds,
  );
  const directory = path.join(cacheDir, `models-${key}`);
  const paths = { student: path.join(directory, "student"), teacherBundle: path.join(directory, "teacher") };
  const summaryPath = path.join(directory, "models.json");

  if (existsSync(summaryPath)) {
    logger.info({ directory }, "demo models found in the cache");
    const summary = JSON.parse(await readFile(summaryPath, "utf8")) as Record<string, unknown>;
    return { ...paths, directory, cached: true, buildSeconds: 0, summary };
  }

  const temporary = `${directory}.tmp-${process.pid}`;
  await rm(temporary, { recursive: true, force: true });
  await mkdir(temporary, { recursive: true });
  const heldOutPath = path.join(temporary, "heldout-ids.json");
  await writeFile(heldOutPath, JSON.stringify(options.heldOutIds));
  const started = performance.now();
  logger.info({ directory }, "building the demo models (first run only)");
  await runPython(
    options.python,
    [
      BUILD_SCRIPT,
      ...["--corpus", DEMO_CORPUS_PATH, "--heldout-ids", heldOutPath],
      ...["--student-tokenizer", studentTokenizer, "--teacher-tokenizer", teacherTokenizer],
      ...["--output", temporary, ...BUILD_ARGUMENTS],
    ],
    options.onLine ?? (() => {}),
  );
  await rm(directory, { recursive: true, force: true });
  await rename(temporary, directory);
  const summary = JSON.parse(await readFile(summaryPath, "utf8")) as Record<string, unknown>;
  return { ...paths, directory, cached: false, buildSeconds: (performance.now() - started) / 1000, summary };
}
