import type { VocabularyOverlap } from "../tokenizers/vocabulary-overlap.ts";

/** Version of the report.json layout. */
export const REPORT_FORMAT_VERSION = 1;

/** Final state of a run as the report shows it. */
export type ReportStatus = "SUCCEEDED" | "FAILED";

/** Why a run failed: the state that failed, the error name and its cause, each null when unknown. */
export interface ReportFailure {
  readonly step: string | null;
  readonly error: string | null;
  readonly cause: string | null;
}

/** Wall-clock time of one stage, as the local runner measures top-level states. */
export interface StageTiming {
  readonly stage: string;
  readonly status: "succeeded" | "failed";
  readonly durationMs: number;
}

/** One stage in the report, with the tokens it processed where that is known. */
export interface StageRow {
  readonly stage: string;
  readonly status: "succeeded" | "failed";
  readonly seconds: number;
  /** Tokens the stage processed, for example teacher tokens for teacher scoring; null when not counted. */
  readonly tokens: number | null;
  /** Kind of token that `tokens` counts (`student`, `teacher`, `student + teacher`). */
  readonly tokenKind: string | null;
  readonly tokensPerSecond: number | null;
}

/** Corpus and alignment statistics summed over the prepared work items. */
export interface CorpusSection {
  readonly items: number | null;
  readonly trainItems: number | null;
  readonly evalItems: number | null;
  readonly preparedItems: number;
  readonly records: number | null;
  readonly documents: number;
  readonly studentTokens: number;
  readonly teacherTokens: number;
  readonly unmappedStudentTokens: number;
  /** Unmapped student tokens / student tokens; null without tokens. */
  readonly unmappedShare: number | null;
  /** Mean teacher range length over mapped student tokens. */
  readonly teacherTokensPerStudentToken: number | null;
  /** Student tokens whose span equals exactly one teacher token's, as a share of student tokens. */
  readonly exactMatchShare: number | null;
  /** Shared vocabulary entries, as written and by the text they stand for. */
  readonly vocabularyOverlap: VocabularyOverlap | null;
  readonly studentTokenizer: string | null;
  readonly teacherTokenizer: string | null;
}

/** A histogram with equal-width bins; `overflow` counts values at or past the last edge. */
export interface Histogram {
  readonly binStart: number;
  readonly binWidth: number;
  readonly counts: number[];
  readonly overflow: number;
}

/** Distribution of teacher losses in nats, over the items read (all, or an even sample of large runs). */
export interface TeacherLossSection {
  readonly itemsRead: number;
  readonly itemsTotal: number;
  /** Teacher tokens with a defined loss. */
  readonly scoredTeacherTokens: number;
  /** Teacher tokens whose loss is undefined (NaN), such as the first token of a teacher without BOS. */
  readonly undefinedTeacherTokens: number;
  readonly meanNats: number | null;
  readonly quantilesNats: { readonly p10: number; readonly p50: number; readonly p90: number } | null;
  /** Per teacher token. */
  readonly histogram: Histogram;
  /** Aggregated per student token (the values the guided loss compares against). */
  readonly studentHistogram: Histogram;
  readonly aggregation: string | null;
}

/** One line of the trainer's metrics.jsonl for a training step. */
export interface TrainingPoint {
  readonly step: number;
  readonly loss: number;
  readonly crossEntropy: number | null;
  readonly learningRate: number | null;
  readonly tokensPerSecond: number | null;
  readonly keptShare: number | null;
  readonly meanExcess: number | null;
  readonly teacherCoverage: number | null;
}

/** Training and held-out results of one variant. */
export interface VariantSection {
  readonly variant: string;
  readonly points: TrainingPoint[];
  /** Held-out evaluations during and at the end of training. */
  readonly evalPoints: Array<{ readonly step: number; readonly loss: number }>;
  /** Final held-out cross-entropy in nats per student target token, from eval.json. */
  readonly heldOutLoss: number | null;
  readonly finalStep: number | null;
  readonly meanTokensPerSecond: number | null;
}

/** Rejected records of the run. */
export interface RejectsSection {
  readonly total: number;
  readonly byReason: Record<string, number>;
  /** Share of corpus records rejected; null when the record count is unknown. */
  readonly share: number | null;
  readonly threshold: number | null;
  /** The first rejected records, with reasons, from the rejects files. */
  readonly samples: Array<{ readonly item: string; readonly reason: string; readonly message: string }>;
}

/** Contents of runs/<runId>/report.json. */
export interface RunReport {
  readonly formatVersion: typeof REPORT_FORMAT_VERSION;
  readonly runId: string;
  readonly status: ReportStatus;
  readonly failure: ReportFailure | null;
  readonly generatedAt: string;
  readonly name: string | null;
  /** The frozen experiment as the plan step wrote it, or null when the run failed before. */
  readonly experiment: unknown;
  readonly corpus: CorpusSection;
  readonly teacherLoss: TeacherLossSection | null;
  readonly variants: VariantSection[];
  /** Guided held-out loss minus baseline held-out loss, in nats per token; negative when guidance helped. */
  readonly guidedMinusBaselineLoss: number | null;
  readonly stages: StageRow[];
  readonly rejects: RejectsSection;
  /** Problems met while reading the run's files; the report shows what it could read. */
  readonly readProblems: string[];
}
