import { logger } from "../log.ts";
import { readTeacherScores } from "../shards/index.ts";
import type { PrepareStats } from "../steps/prepare.ts";
import { existsUri, joinUri, listUri, readTextUri } from "../storage/index.ts";
import { loadTokenizer } from "../tokenizers/index.ts";
import { vocabularyOverlap } from "../tokenizers/vocabulary-overlap.ts";
import type {
  CorpusSection,
  RejectsSection,
  StageRow,
  StageTiming,
  TeacherLossSection,
  TrainingPoint,
  VariantSection,
} from "./types.ts";

/** Teacher-score files read for the loss distribution; larger runs are sampled evenly. */
export const MAX_TEACHER_ITEMS_READ = 16;
/** Rejected records shown in the report. */
const MAX_REJECT_SAMPLES = 10;
/** Teacher loss histogram range in nats: 40 bins of 0.5 from 0, larger values go to the overflow count. */
const HISTOGRAM_BIN_WIDTH_NATS = 0.5;
const HISTOGRAM_BINS = 40;

/** Run files the collector could not read. The report lists them instead of failing. */
export class ReadProblems {
  readonly messages: string[] = [];

  note(uri: string, error: unknown): void {
    const message = `${uri}: ${error instanceof Error ? error.message : String(error)}`;
    this.messages.push(message);
    logger.warn({ uri, err: error }, "report could not read a run file");
  }
}

/** Reads a JSON file, returning undefined when it is missing and noting any other failure. */
export async function readJsonFile(uri: string, problems: ReadProblems): Promise<unknown> {
  try {
    if (!(await existsUri(uri))) return undefined;
    return JSON.parse(await readTextUri(uri));
  } catch (error) {
    problems.note(uri, error);
    return undefined;
  }
}

async function listFiles(prefix: string, suffix: string): Promise<string[]> {
  return (await listUri(prefix)).filter((uri) => uri.endsWith(suffix));
}

function itemOfUri(uri: string): string {
  return (uri.split("/").pop() ?? uri).replace(/\.[^.]+$/, "");
}

/** Sums the per-item prepare statistics into the corpus and alignment section. */
export async function collectCorpus(
  runUri: string,
  manifest: ManifestView | undefined,
  problems: ReadProblems,
): Promise<{ corpus: CorpusSection; stats: PrepareStats[] }> {
  const stats: PrepareStats[] = [];
  for (const uri of await listFiles(joinUri(runUri, "prepare"), ".json")) {
    const value = (await readJsonFile(uri, problems)) as PrepareStats | undefined;
    if (value !== undefined) stats.push(value);
  }
  let documents = 0;
  let studentTokens = 0;
  let teacherTokens = 0;
  let unmapped = 0;
  let inRanges = 0;
  let exact = 0;
  for (const item of stats) {
    documents += item.documents;
    studentTokens += item.alignment.studentTokens;
    teacherTokens += item.alignment.teacherTokens;
    unmapped += item.alignment.unmappedStudentTokens;
    inRanges += item.alignment.teacherTokensInRanges;
    exact += item.alignment.exactMatches;
  }
  const mapped = studentTokens - unmapped;

  let overlap: CorpusSection["vocabularyOverlap"] = null;
  const studentSource = manifest?.tokenizers?.student?.source ?? null;
  const teacherSource = manifest?.tokenizers?.teacher?.source ?? null;
  if (studentSource !== null && teacherSource !== null) {
    try {
      overlap = vocabularyOverlap(await loadTokenizer(studentSource), await loadTokenizer(teacherSource));
    } catch (error) {
      problems.note(`${studentSource} + ${teacherSource}`, error);
    }
  }

  const items = manifest?.items ?? null;
  return {
    stats,
    corpus: {
      items: items?.length ?? null,
      trainItems: items?.filter((item) => item.split === "train").length ?? null,
      evalItems: items?.filter((item) => item.split === "eval").length ?? null,
      preparedItems: stats.length,
      records: manifest?.corpus?.records ?? null,
      documents,
      studentTokens,
      teacherTokens,
      unmappedStudentTokens: unmapped,
      unmappedShare: studentTokens === 0 ? null : unmapped / studentTokens,
      teacherTokensPerStudentToken: mapped === 0 ? null : inRanges / mapped,
      exactMatchShare: studentTokens === 0 ? null : exact / studentTokens,
      vocabularyOverlap: overlap,
      studentTokenizer: studentSource,
      teacherTokenizer: teacherSource,
    },
  };
}

/** The manifest fields the report reads; a partial or older manifest still reports what it has. */
export interface ManifestView {
  readonly corpus?: { readonly records?: number };
  readonly tokenizers?: {
    readonly student?: { readonly source?: string };
    readonly teacher?: { readonly source?: string };
  };
  readonly items?: ReadonlyArray<{ readonly item: string; readonly split: string }>;
}

function emptyHistogram(): { binStart: number; binWidth: number; counts: number[]; overflow: number } {
  return {
    binStart: 0,
    binWidth: HISTOGRAM_BIN_WIDTH_NATS,
    counts: new Array(HISTOGRAM_BINS).fill(0),
    overflow: 0,
  };
}

function addToHistogram(histogram: ReturnType<typeof emptyHistogram>, value: number): void {
  const bin = Math.floor((value - histogram.binStart) / histogram.binWidth);
  if (bin >= histogram.counts.length) histogram.overflow++;
  else histogram.counts[Math.max(bin, 0)]++;
}

/** Returns the q-quantile of sorted values by linear interpolation between closest ranks. */
export function quantile(sorted: Float64Array, q: number): number {
  const position = q * (sorted.length - 1);
  const below = Math.floor(position);
  const above = Math.min(below + 1, sorted.length - 1);
  return sorted[below] + (sorted[above] - sorted[below]) * (position - below);
}

/** Picks `count` of `length` indexes spread evenly, all of them when there are no more than `count`. */
export function evenSample(length: number, count: number): number[] {
  if (length <= count) return Array.from({ length }, (_, index) => index);
  return Array.from({ length: count }, (_, k) => Math.floor(((k + 0.5) * length) / count));
}

/** Builds the teacher loss distribution from the teacher-score files. */
export async function collectTeacherLoss(
  runUri: string,
  problems: ReadProblems,
): Promise<TeacherLossSection | null> {
  const uris = await listFiles(joinUri(runUri, "teacher"), ".arrow");
  if (uris.length === 0) return null;
  const histogram = emptyHistogram();
  const studentHistogram = emptyHistogram();
  const values: number[] = [];
  let undefinedCount = 0;
  let aggregation: string | null = null;
  let itemsRead = 0;
  for (const index of evenSample(uris.length, MAX_TEACHER_ITEMS_READ)) {
    try {
      const { meta, rows } = await readTeacherScores(uris[index]);
      aggregation = meta.aggregation;
      for (const row of rows) {
        for (const loss of row.teacherLoss) {
          if (Number.isNaN(loss)) {
            undefinedCount++;
            continue;
          }
          values.push(loss);
          addToHistogram(histogram, loss);
        }
        for (const loss of row.studentTeacherLoss) {
          if (!Number.isNaN(loss)) addToHistogram(studentHistogram, loss);
        }
      }
      itemsRead++;
    } catch (error) {
      problems.note(uris[index], error);
    }
  }
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (const value of values) sum += value;
  return {
    itemsRead,
    itemsTotal: uris.length,
    scoredTeacherTokens: values.length,
    undefinedTeacherTokens: undefinedCount,
    meanNats: values.length === 0 ? null : sum / values.length,
    quantilesNats:
      sorted.length === 0
        ? null
        : { p10: quantile(sorted, 0.1), p50: quantile(sorted, 0.5), p90: quantile(sorted, 0.9) },
    histogram,
    studentHistogram,
    aggregation,
  };
}

function numberOrNull(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/** Reads one variant's metrics.jsonl and eval.json; returns null when the variant never started. */
export async function collectVariant(
  runUri: string,
  variant: string,
  problems: ReadProblems,
): Promise<VariantSection | null> {
  const trainUri = joinUri(runUri, "train", variant);
  const metricsUri = joinUri(trainUri, "metrics.jsonl");
  const evalUri = joinUri(trainUri, "eval.json");
  const points: TrainingPoint[] = [];
  const evalPoints: Array<{ step: number; loss: number }> = [];
  let found = false;
  try {
    if (await existsUri(metricsUri)) {
      found = true;
      const lines = (await readTextUri(metricsUri)).split("\n");
      lines.forEach((line, index) => {
        if (line.trim() === "") return;
        let record: Record<string, unknown>;
        try {
          record = JSON.parse(line) as Record<string, unknown>;
        } catch (error) {
          problems.note(`${metricsUri} line ${index + 1}`, error);
          return;
        }
        const step = numberOrNull(record.step);
        if (step === null) return;
        const evalLoss = numberOrNull(record.eval_loss);
        if (evalLoss !== null) {
          evalPoints.push({ step, loss: evalLoss });
          return;
        }
        const loss = numberOrNull(record.loss);
        if (loss === null) return;
        points.push({
          step,
          loss,
          crossEntropy: numberOrNull(record.cross_entropy),
          learningRate: numberOrNull(record.learning_rate),
          tokensPerSecond: numberOrNull(record.tokens_per_second),
          keptShare: numberOrNull(record.kept_share),
          meanExcess: numberOrNull(record.mean_excess),
          teacherCoverage: numberOrNull(record.teacher_coverage),
        });
      });
    }
  } catch (error) {
    problems.note(metricsUri, error);
  }
  const result = (await readJsonFile(evalUri, problems)) as { step?: unknown; loss?: unknown } | undefined;
  if (!found && result === undefined) return null;
  const speeds = points
    .map((point) => point.tokensPerSecond)
    .filter((speed): speed is number => speed !== null);
  return {
    variant,
    points,
    evalPoints,
    heldOutLoss: numberOrNull(result?.loss),
    finalStep: numberOrNull(result?.step) ?? points.at(-1)?.step ?? null,
    meanTokensPerSecond: speeds.length === 0 ? null : speeds.reduce((a, b) => a + b, 0) / speeds.length,
  };
}

/** Counts rejected records by reason and reads the first few with their messages. */
export async function collectRejects(
  runUri: string,
  stats: readonly PrepareStats[],
  records: number | null,
  threshold: number | null,
  problems: ReadProblems,
): Promise<RejectsSection> {
  const byReason: Record<string, number> = {};
  let total = 0;
  for (const item of stats) {
    total += item.rejected;
    for (const [reason, count] of Object.entries(item.rejectReasons)) {
      byReason[reason] = (byReason[reason] ?? 0) + (count ?? 0);
    }
  }
  const samples: RejectsSection["samples"] = [];
  for (const uri of await listFiles(joinUri(runUri, "rejects"), ".jsonl")) {
    if (samples.length >= MAX_REJECT_SAMPLES) break;
    try {
      for (const line of (await readTextUri(uri)).split("\n")) {
        if (line.trim() === "" || samples.length >= MAX_REJECT_SAMPLES) continue;
        const reject = JSON.parse(line) as { reason?: unknown; message?: unknown };
        samples.push({
          item: itemOfUri(uri),
          reason: String(reject.reason),
          message: String(reject.message),
        });
      }
    } catch (error) {
      problems.note(uri, error);
    }
  }
  return { total, byReason, share: records ? total / records : null, threshold, samples };
}

/** Tokens each kind of stage processes, by the state names of the pipeline. */
function stageTokens(
  stage: string,
  corpus: CorpusSection,
  variants: readonly VariantSection[],
  tokensPerStep: number | null,
): { tokens: number | null; tokenKind: string | null } {
  if (/^Prepare/.test(stage)) {
    return { tokens: corpus.studentTokens + corpus.teacherTokens, tokenKind: "student + teacher" };
  }
  if (/^ScoreTeacher/.test(stage)) return { tokens: corpus.teacherTokens, tokenKind: "teacher" };
  if (/^Train/.test(stage) && tokensPerStep !== null) {
    const steps = variants.reduce((sum, variant) => sum + (variant.finalStep ?? 0), 0);
    return { tokens: steps * tokensPerStep, tokenKind: "student (trained)" };
  }
  return { tokens: null, tokenKind: null };
}

/** Turns stage timings into report rows with token throughput. */
export function stageRows(
  timings: readonly StageTiming[],
  corpus: CorpusSection,
  variants: readonly VariantSection[],
  tokensPerStep: number | null,
): StageRow[] {
  return timings.map((timing) => {
    const seconds = timing.durationMs / 1000;
    const { tokens, tokenKind } = stageTokens(timing.stage, corpus, variants, tokensPerStep);
    return {
      stage: timing.stage,
      status: timing.status,
      seconds,
      tokens,
      tokenKind,
      tokensPerSecond: tokens !== null && seconds > 0 ? tokens / seconds : null,
    };
  });
}
