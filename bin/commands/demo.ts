import { execFileSync } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { Command } from "commander";
import {
  defaultPython,
  type LocalRunResult,
  progressForCli,
  runLocal,
} from "../../core/local-runner/index.ts";
import { logger } from "../../core/log.ts";
import {
  buildReport,
  type ReportFailure,
  type RunReport,
  type StageTiming,
} from "../../core/report/index.ts";
import {
  DEMO_CORPUS_PATH,
  demoExperiment,
  heldOutDocumentIds,
  REPOSITORY_ROOT,
  readDemoCorpus,
} from "../../scripts/demo/demo-experiment.ts";
import { defaultDemoCacheDir, ensureDemoModels } from "../../scripts/demo/demo-models.ts";

/** Name of the stage that builds the demo's models, shown beside the pipeline's stages. */
const BUILD_MODELS_STAGE = "BuildDemoModels";
const TEACHER_STEP_LINE = /teacher pretraining step=(\d+)\/(\d+)/;

interface DemoFlags {
  readonly root: string;
  readonly cacheDir: string;
  readonly python?: string;
}

/** Formats the held-out loss table that the demo prints at the end. */
export function formatSummary(report: RunReport, reportPath: string): string {
  const lines = [`report: ${reportPath}`, "", "variant     held-out loss (nats/token)  perplexity"];
  for (const variant of report.variants) {
    const loss = variant.heldOutLoss;
    lines.push(
      `${variant.variant.padEnd(11)} ${(loss === null ? "–" : loss.toFixed(4)).padStart(26)}  ${(loss === null ? "–" : Math.exp(loss).toFixed(1)).padStart(10)}`,
    );
  }
  const difference = report.guidedMinusBaselineLoss;
  if (difference !== null) {
    lines.push(
      `difference  ${difference.toFixed(4).padStart(26)}  (guided minus baseline; negative means the teacher's guidance helped)`,
    );
  }
  if (report.failure !== null) {
    lines.push("", `failed in ${report.failure.step ?? "an unknown step"}: ${report.failure.error ?? ""}`);
    if (report.failure.cause) lines.push(report.failure.cause);
  }
  return `${lines.join("\n")}\n`;
}

/**
 * Runs the demo: builds (or reuses) the demo models, writes the demo
 * experiment, runs the whole pipeline locally on the shipped corpus, then
 * writes the report with stage timings and prints where it is.
 */
export async function runDemo(
  flags: DemoFlags,
): Promise<{ report: RunReport; reportPath: string; logFile: string | undefined }> {
  const root = path.resolve(flags.root);
  if (flags.python === undefined && process.env.VOCAGNO_PYTHON === undefined) {
    // Creates the cached Python environment on a fresh machine; a quick hash check when it is up to date.
    execFileSync("bash", [path.join(REPOSITORY_ROOT, "scripts", "python-env.sh")], {
      stdio: ["ignore", "inherit", "inherit"],
    });
  }
  const python = flags.python ?? defaultPython();
  const { progress, logFile } = progressForCli(root);

  // Held-out documents first: the teacher must never see them in pretraining.
  const records = await readDemoCorpus();
  const heldOutIds = heldOutDocumentIds(records, DEMO_CORPUS_PATH);

  progress.stageStarted(BUILD_MODELS_STAGE);
  const buildStarted = performance.now();
  let models: Awaited<ReturnType<typeof ensureDemoModels>>;
  try {
    models = await ensureDemoModels({
      python,
      heldOutIds,
      cacheDir: flags.cacheDir,
      onLine: (line) => {
        const step = TEACHER_STEP_LINE.exec(line);
        if (step) progress.stageProgress(BUILD_MODELS_STAGE, Number(step[1]), Number(step[2]));
      },
    });
  } catch (error) {
    progress.stageEnded(BUILD_MODELS_STAGE, "failed", performance.now() - buildStarted);
    progress.stop();
    throw error;
  }
  const buildTiming: StageTiming = {
    stage: models.cached ? `${BUILD_MODELS_STAGE} (cached)` : BUILD_MODELS_STAGE,
    status: "succeeded",
    durationMs: performance.now() - buildStarted,
  };
  progress.stageEnded(BUILD_MODELS_STAGE, "succeeded", buildTiming.durationMs);
  logger.info(
    {
      models: models.directory,
      cached: models.cached,
      teacherHeldOutLossPerByte: (models.summary.teacher as { heldoutLossPerByte?: number })
        ?.heldoutLossPerByte,
      untrainedStudentHeldOutLossPerByte: (models.summary.student as { heldoutLossPerByteUntrained?: number })
        ?.heldoutLossPerByteUntrained,
    },
    "demo models ready",
  );

  const experimentPath = path.join(root, "demo", "vocagno-demo.json");
  await mkdir(path.dirname(experimentPath), { recursive: true });
  await writeFile(experimentPath, `${JSON.stringify(demoExperiment(models), null, 2)}\n`);

  const result = await runLocal({ experimentPath, root, python, progress });
  progress.stop();

  // The pipeline's report step ran inside the state machine without timings; rewrite it with them,
  // keeping the status and failure that step determined (it also applies the reject threshold).
  const runDirectory = path.join(root, "runs", result.runId);
  const written = await readWrittenReport(path.join(runDirectory, "report.json"));
  const { report } = await buildReport(pathToFileURL(runDirectory).href, {
    status: written?.status ?? result.status,
    error: written?.failure ?? failureOfRun(result),
    stageTimings: [buildTiming, ...result.stages],
  });
  return { report, reportPath: path.join(runDirectory, "report.html"), logFile };
}

async function readWrittenReport(file: string): Promise<Pick<RunReport, "status" | "failure"> | undefined> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as RunReport;
  } catch {
    // No report: the run stopped before its report step.
    return undefined;
  }
}

/** Returns the failure of a run from the runner's result, or undefined when it succeeded. */
function failureOfRun(result: LocalRunResult): ReportFailure | undefined {
  if (result.status === "SUCCEEDED") return undefined;
  const failed = result.stages.find((stage) => stage.status === "failed");
  return { step: failed?.stage ?? null, error: result.error ?? null, cause: result.cause ?? null };
}

/** Adds `vocagno demo [--root DIR] [--cache-dir DIR] [--python PATH]`. */
export function registerDemoCommand(program: Command): void {
  program
    .command("demo")
    .description(
      "Run the whole pipeline on this machine on the shipped math corpus with tiny demo models, " +
        "guided and baseline, and write an HTML report",
    )
    .option("--root <dir>", "local storage root, laid out like the bucket", "./vocagno-runs")
    .option("--cache-dir <dir>", "where the built demo models are cached", defaultDemoCacheDir())
    .option("--python <path>", "Python interpreter (default: $VOCAGNO_PYTHON or the cached environment)")
    .action(async (flags: DemoFlags) => {
      const { report, reportPath, logFile } = await runDemo(flags);
      if (logFile) process.stderr.write(`logs: ${logFile}\n`);
      process.stdout.write(formatSummary(report, reportPath));
      if (report.status === "FAILED") process.exitCode = 1;
    });
}
