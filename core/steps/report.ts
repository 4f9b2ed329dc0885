import type { PublishCommandInput } from "@aws-sdk/client-sns";
import { logger } from "../log.ts";
import { buildReport, type ReportFailure, type RunReport } from "../report/index.ts";
import { runIdOfRunUri } from "./storage-root.ts";

/** Final state of an execution as the state machine reports it. */
export type RunStatus = "SUCCEEDED" | "FAILED";

/** Input of the report step. */
export interface ReportInput {
  readonly runUri: string;
  readonly status: RunStatus;
  /** Error name from a Step Functions Catch (`States.TaskFailed`, `ExperimentError`, ...). */
  readonly error?: string;
  /** Error cause from a Step Functions Catch: a Lambda error JSON, a Batch job description, or text. */
  readonly cause?: string;
  /** The state that failed, when the state machine passes it. */
  readonly failedStep?: string;
}

/** Output of the report step. */
export interface ReportOutput {
  readonly runId: string;
  readonly status: RunStatus;
  readonly reportUri: string;
  readonly reportHtmlUri: string;
  /** Share of corpus records rejected, or null when the record count is unknown. */
  readonly rejectedShare: number | null;
}

/** The run crossed its reject threshold; raised after the report is written and sent. */
export class RejectThresholdError extends Error {
  readonly code = "reject_threshold_exceeded";

  constructor(message: string) {
    super(message);
    this.name = "RejectThresholdError";
  }
}

/** Sends one notification; `undefined` turns notifications off, so the summary is only logged. */
export type Notifier =
  | ((message: Pick<PublishCommandInput, "Subject" | "Message">) => Promise<void>)
  | undefined;

/** Characters of a cause kept in the report and the notification. */
const MAX_CAUSE_CHARACTERS = 4000;

/** Turns a Step Functions cause into a readable message: Lambda errorMessage, Batch StatusReason, or the text. */
export function describeCause(cause: string | undefined): string | undefined {
  if (cause === undefined) return undefined;
  try {
    const parsed = JSON.parse(cause) as Record<string, unknown>;
    if (typeof parsed.errorMessage === "string") return parsed.errorMessage;
    if (typeof parsed.StatusReason === "string") return parsed.StatusReason;
  } catch {
    // Not JSON: the cause is plain text.
  }
  return cause.length > MAX_CAUSE_CHARACTERS ? `${cause.slice(0, MAX_CAUSE_CHARACTERS)}...` : cause;
}

/** Returns the threshold failure of a report, or undefined when the rejects stay within the threshold. */
function thresholdFailure(report: RunReport): ReportFailure | undefined {
  const { share, threshold, total } = report.rejects;
  if (share === null || threshold === null || share <= threshold) return undefined;
  const records = report.corpus.records ?? 0;
  return {
    step: "report",
    error: "RejectThresholdError",
    cause: `${total} of ${records} records rejected (${(100 * share).toFixed(2)}%), above corpus.rejectThreshold ${threshold}`,
  };
}

function summaryOf(report: RunReport, reportUri: string): string {
  if (report.status === "SUCCEEDED") {
    return `vocagno run ${report.runId} succeeded: ${report.corpus.documents} documents, ${report.rejects.total} rejected records.\nReport: ${reportUri}`;
  }
  const failure = report.failure;
  const where = failure?.step ? ` in ${failure.step}` : "";
  return `vocagno run ${report.runId} failed${where}: ${failure?.error ?? "unknown error"}: ${failure?.cause ?? ""}\nReport: ${reportUri}`;
}

/**
 * Writes runs/<runId>/report.json and report.html, checks the reject
 * threshold and sends a notification. A successful execution whose rejected
 * records exceed `corpus.rejectThreshold` is reported as failed, and the step
 * then raises RejectThresholdError so that the execution fails too.
 *
 * @example
 * await reportRun({ runUri, status: "FAILED", error: "ExperimentError", cause, failedStep: "Plan" }, notifier);
 */
export async function reportRun(input: ReportInput, notify: Notifier): Promise<ReportOutput> {
  const runId = runIdOfRunUri(input.runUri);
  const failure: ReportFailure | undefined =
    input.status === "FAILED"
      ? {
          step: input.failedStep ?? null,
          error: input.error ?? null,
          cause: describeCause(input.cause) ?? null,
        }
      : undefined;

  let built = await buildReport(input.runUri, { status: input.status, error: failure });
  const crossed = input.status === "SUCCEEDED" ? thresholdFailure(built.report) : undefined;
  if (crossed !== undefined) {
    built = await buildReport(input.runUri, { status: "FAILED", error: crossed });
  }

  const { report } = built;
  const summary = summaryOf(report, built.htmlUri);
  if (notify === undefined) {
    logger.info(
      { runId, status: report.status, summary },
      "no notification topic configured; run summary logged only",
    );
  } else {
    // SNS subjects are limited to 100 characters.
    await notify({ Subject: `vocagno run ${runId} ${report.status}`.slice(0, 100), Message: summary });
    logger.info({ runId, status: report.status }, "notification sent");
  }

  if (crossed !== undefined) throw new RejectThresholdError(crossed.cause ?? "reject threshold exceeded");
  return {
    runId,
    status: report.status,
    reportUri: built.jsonUri,
    reportHtmlUri: built.htmlUri,
    rejectedShare: report.rejects.share,
  };
}
