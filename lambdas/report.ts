import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { z } from "zod";
import { type Notifier, type ReportOutput, reportRun } from "../core/steps/report.ts";
import { RUN_ID_PATTERN } from "../core/steps/run-id.ts";
import { parseStepInput, runLogged } from "../core/steps/step.ts";
import { resolveStorageRoot, runIdOfRunUri, runUriFor } from "../core/steps/storage-root.ts";

const reportInputSchema = z
  .object({
    runUri: z.string().min(1).optional(),
    runId: z.string().regex(RUN_ID_PATTERN).optional(),
    storageRoot: z.string().min(1).optional(),
    status: z.enum(["SUCCEEDED", "FAILED"]),
    error: z.string().optional(),
    cause: z.string().optional(),
    failedStep: z.string().optional(),
  })
  .refine((input) => input.runUri !== undefined || input.runId !== undefined, {
    message:
      "set runUri, or runId with a storage root from VOCAGNO_BUCKET, VOCAGNO_STORAGE_ROOT or storageRoot",
  });

/**
 * Returns a notifier that publishes to an SNS topic, or undefined when no
 * topic is set (notifications are then only logged).
 */
export function snsNotifier(topicArn: string | undefined, client: SNSClient = new SNSClient({})): Notifier {
  if (!topicArn) return undefined;
  return async (message) => {
    await client.send(new PublishCommand({ ...message, TopicArn: topicArn }));
  };
}

let notifier: Notifier | null = null;

/**
 * Lambda handler of the report step, on success and on every failure path:
 * writes runs/<runId>/report.json, fails a run whose rejected records cross
 * the threshold, and notifies the SNS topic `VOCAGNO_TOPIC_ARN` when set.
 * A failure path passes the Catch's `error` and `cause` and may name the
 * failed state in `failedStep`.
 *
 * @example
 * await handler({ runUri: "s3://vocagno-data/runs/owm-3f9a0c12d4e5", status: "FAILED",
 *   error: "ExperimentError", cause: "{\"errorMessage\":\"invalid experiment …\"}", failedStep: "Plan" });
 * // { runId: "owm-3f9a0c12d4e5", status: "FAILED", reportUri: "s3://…/report.json", rejectedShare: null }
 */
export async function handler(event: unknown): Promise<ReportOutput> {
  const input = parseStepInput("report", reportInputSchema, event);
  const runUri = input.runUri ?? runUriFor(resolveStorageRoot(input), input.runId!);
  if (notifier === null) notifier = snsNotifier(process.env.VOCAGNO_TOPIC_ARN);
  return runLogged("report", { runId: runIdOfRunUri(runUri) }, () =>
    reportRun({ ...input, runUri }, notifier ?? undefined),
  );
}
