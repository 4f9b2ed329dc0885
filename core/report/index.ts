import { logger } from "../log.ts";
import { joinUri, writeUri } from "../storage/index.ts";
import {
  collectCorpus,
  collectRejects,
  collectTeacherLoss,
  collectVariant,
  type ManifestView,
  ReadProblems,
  readJsonFile,
  stageRows,
} from "./collect.ts";
import { renderReportHtml } from "./html.ts";
import {
  REPORT_FORMAT_VERSION,
  type ReportFailure,
  type ReportStatus,
  type RunReport,
  type StageTiming,
  type VariantSection,
} from "./types.ts";

export { escapeHtml, histogramChart, lineChart, niceTicks } from "./charts.ts";
export { renderReportHtml } from "./html.ts";
export * from "./types.ts";

/** Variants looked for when the frozen experiment does not list them. */
const DEFAULT_VARIANTS = ["guided", "baseline"];

/** Outcome of a run, and the stage timings when the caller measured them. */
export interface BuildReportOptions {
  readonly status: ReportStatus;
  /** Why the run failed: the failure object of the report step, or just an error message. */
  readonly error?: ReportFailure | string;
  /** Wall-clock time per stage (the local runner's `stages`); omitted in AWS, where the console shows them. */
  readonly stageTimings?: readonly StageTiming[];
}

/** Locations of the files buildReport wrote, and the report itself. */
export interface BuiltReport {
  readonly report: RunReport;
  readonly jsonUri: string;
  readonly htmlUri: string;
}

function runIdOf(runUri: string): string {
  return runUri.replace(/\/+$/, "").split("/").pop() ?? runUri;
}

function failureOf(error: BuildReportOptions["error"]): ReportFailure | null {
  if (error === undefined) return null;
  if (typeof error === "string") return { step: null, error, cause: null };
  return error;
}

function variantsOf(experiment: unknown): string[] {
  const listed = (experiment as { variants?: unknown } | undefined)?.variants;
  return Array.isArray(listed) && listed.every((variant) => typeof variant === "string")
    ? listed
    : DEFAULT_VARIANTS;
}

function tokensPerStep(trainerConfig: unknown): number | null {
  const config = trainerConfig as
    | { sequence_length?: number; micro_batch_size?: number; gradient_accumulation_steps?: number }
    | undefined;
  if (typeof config?.sequence_length !== "number" || typeof config.micro_batch_size !== "number") return null;
  return config.sequence_length * config.micro_batch_size * (config.gradient_accumulation_steps ?? 1);
}

/**
 * Reads what a run wrote (experiment, manifest, prepare statistics, teacher
 * scores, training metrics, held-out results, rejects) and writes
 * `runs/<runId>/report.json` and the self-contained `report.html` beside it.
 * A file that is missing or unreadable leaves its section empty and is listed
 * in the report, so a failed run still gets a report.
 *
 * @example
 * const { report, htmlUri } = await buildReport("file:///data/runs/demo-3f9a0c12d4e5", {
 *   status: "FAILED",
 *   error: { step: "Train", error: "States.TaskFailed", cause: "trainer exited with code 1" },
 * });
 */
export async function buildReport(runUri: string, options: BuildReportOptions): Promise<BuiltReport> {
  const runId = runIdOf(runUri);
  const problems = new ReadProblems();
  const experiment = await readJsonFile(joinUri(runUri, "experiment.json"), problems);
  const manifest = (await readJsonFile(joinUri(runUri, "manifest.json"), problems)) as
    | ManifestView
    | undefined;
  const trainerConfig = await readJsonFile(joinUri(runUri, "trainer-config.json"), problems);

  const { corpus, stats } = await collectCorpus(runUri, manifest, problems);
  const teacherLoss = await collectTeacherLoss(runUri, problems);
  const variants: VariantSection[] = [];
  for (const variant of variantsOf(experiment)) {
    const section = await collectVariant(runUri, variant, problems);
    if (section !== null) variants.push(section);
  }
  const threshold = (experiment as { corpus?: { rejectThreshold?: unknown } } | undefined)?.corpus
    ?.rejectThreshold;
  const rejects = await collectRejects(
    runUri,
    stats,
    corpus.records,
    typeof threshold === "number" ? threshold : null,
    problems,
  );
  const guided = variants.find((variant) => variant.variant === "guided")?.heldOutLoss ?? null;
  const baseline = variants.find((variant) => variant.variant === "baseline")?.heldOutLoss ?? null;

  const report: RunReport = {
    formatVersion: REPORT_FORMAT_VERSION,
    runId,
    status: options.status,
    failure: failureOf(options.error),
    generatedAt: new Date().toISOString(),
    name: (experiment as { name?: string } | undefined)?.name ?? null,
    experiment: experiment ?? null,
    corpus,
    teacherLoss,
    variants,
    guidedMinusBaselineLoss: guided !== null && baseline !== null ? guided - baseline : null,
    stages: stageRows(options.stageTimings ?? [], corpus, variants, tokensPerStep(trainerConfig)),
    rejects,
    readProblems: problems.messages,
  };

  const jsonUri = joinUri(runUri, "report.json");
  const htmlUri = joinUri(runUri, "report.html");
  await writeUri(jsonUri, `${JSON.stringify(report, null, 2)}\n`);
  await writeUri(htmlUri, renderReportHtml(report));
  logger.info({ runId, status: report.status, htmlUri }, "report written");
  return { report, jsonUri, htmlUri };
}
