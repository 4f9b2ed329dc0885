/**
 * Trainer benchmark: median step time of the teacher guided loss against the
 * plain baseline on the same tiny Llama and the same batches, alternating the
 * two variants (batch-image/vocagno_trainer/benchmark.py does the timing).
 *
 *   npx tsx bench/trainer.ts [--repeats 15]
 */
import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** One case of benchmark.py: median seconds per optimizer step of each variant and their ratio. */
export interface TrainerStepTime {
  readonly label: string;
  readonly guided_median_seconds: number;
  readonly baseline_median_seconds: number;
  readonly guided_over_baseline: number;
  readonly repeats: number;
  readonly micro_batch_size: number;
  readonly gradient_accumulation_steps: number;
  readonly sequence_length: number;
  readonly device: string;
}

export interface TrainerBenchResult {
  readonly name: "trainer-step-time";
  readonly machine: string;
  readonly results: readonly TrainerStepTime[];
}

function pythonPath(): string {
  if (process.env.VOCAGNO_PYTHON) return process.env.VOCAGNO_PYTHON;
  const venv = execFileSync("bash", [path.join(REPO_ROOT, "scripts/python-env.sh"), "--print"], {
    encoding: "utf8",
  }).trim();
  return path.join(venv, "bin/python");
}

/**
 * Runs the step-time comparison and returns its medians.
 *
 * @example
 * const { results } = await runTrainerBench({ repeats: 15 });
 * console.log(results[0].guided_over_baseline); // 1.0 means no extra cost
 */
export async function runTrainerBench(options: { repeats?: number } = {}): Promise<TrainerBenchResult> {
  const output = execFileSync(
    pythonPath(),
    ["-m", "vocagno_trainer.benchmark", "--json", "--repeats", String(options.repeats ?? 15)],
    { cwd: path.join(REPO_ROOT, "batch-image"), encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
  );
  const parsed = JSON.parse(output) as { machine: string; results: TrainerStepTime[] };
  return { name: "trainer-step-time", machine: parsed.machine, results: parsed.results };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const repeatsIndex = process.argv.indexOf("--repeats");
  const repeats = repeatsIndex === -1 ? undefined : Number(process.argv[repeatsIndex + 1]);
  if (repeats !== undefined && !(Number.isInteger(repeats) && repeats > 0)) {
    throw new Error(`--repeats must be a positive integer, got ${process.argv[repeatsIndex + 1]}`);
  }
  process.stdout.write(`${JSON.stringify(await runTrainerBench({ repeats }))}\n`);
}
