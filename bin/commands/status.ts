import { readFile } from "node:fs/promises";
import path from "node:path";
import { BatchClient, DescribeJobsCommand, ListJobsCommand } from "@aws-sdk/client-batch";
import { CloudFormationClient } from "@aws-sdk/client-cloudformation";
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  SFNClient,
} from "@aws-sdk/client-sfn";
import type { Command } from "commander";
import { LOCAL_STATUS_FILE } from "../../core/local-runner/index.ts";
import { DEFAULT_STACK_NAME } from "../../infra/vocagno-app.ts";
import { executionArnOf, readStackOutputs } from "./stack-outputs.ts";

/** One Batch job of a run, as `vocagno status` shows it. */
export interface RunJobStatus {
  readonly jobName: string;
  readonly jobId: string;
  readonly status: string;
  readonly statusReason?: string;
  /** Children of an array job by status, such as `{ SUCCEEDED: 3, RUNNING: 1 }`. */
  readonly arrayStatus?: Record<string, number>;
  /** CloudWatch Logs stream of the job's (last) attempt, in the stack's worker log group. */
  readonly logStreamName?: string;
}

/** State of a run on AWS. */
export interface RemoteRunStatus {
  readonly runId: string;
  readonly executionArn: string;
  readonly status: string;
  /** The state the execution entered last. */
  readonly currentStage?: string;
  readonly jobs: RunJobStatus[];
  readonly logGroupName?: string;
}

export interface StatusClients {
  readonly cloudFormation: CloudFormationClient;
  readonly sfn: SFNClient;
  readonly batch: BatchClient;
}

/** Returns the name of the state entered last, reading the history newest first. */
export function lastEnteredState(events: readonly HistoryEvent[]): string | undefined {
  const entered = events.find(
    (event) => event.type?.endsWith("StateEntered") && event.stateEnteredEventDetails?.name,
  );
  return entered?.stateEnteredEventDetails?.name;
}

/**
 * Reads the state of a run on a deployed stack: the execution, the state it
 * entered last and its Batch jobs (teacher scoring and training) with their
 * log streams.
 *
 * @example
 * const status = await readRemoteRunStatus(clients, { runId: "owm-3f9a0c12d4e5", stackName: "Vocagno" });
 */
export async function readRemoteRunStatus(
  clients: StatusClients,
  options: { runId: string; stackName: string },
): Promise<RemoteRunStatus> {
  const outputs = await readStackOutputs(clients.cloudFormation, options.stackName);
  const executionArn = executionArnOf(outputs.stateMachineArn, options.runId);
  const execution = await clients.sfn.send(new DescribeExecutionCommand({ executionArn }));
  const history = await clients.sfn.send(
    new GetExecutionHistoryCommand({
      executionArn,
      reverseOrder: true,
      maxResults: 100,
      includeExecutionData: false,
    }),
  );

  const jobs: RunJobStatus[] = [];
  if (outputs.jobQueueArn !== undefined) {
    const jobIds: string[] = [];
    // Job names are teacher-<runId> and train-<runId>-<variant>; Batch matches a trailing `*`.
    for (const pattern of [`teacher-${options.runId}`, `train-${options.runId}*`]) {
      const listed = await clients.batch.send(
        new ListJobsCommand({
          jobQueue: outputs.jobQueueArn,
          filters: [{ name: "JOB_NAME", values: [pattern] }],
        }),
      );
      jobIds.push(...(listed.jobSummaryList ?? []).map((job) => job.jobId!).filter(Boolean));
    }
    if (jobIds.length > 0) {
      const described = await clients.batch.send(new DescribeJobsCommand({ jobs: jobIds }));
      for (const job of described.jobs ?? []) {
        const summary = job.arrayProperties?.statusSummary;
        jobs.push({
          jobName: job.jobName ?? "",
          jobId: job.jobId ?? "",
          status: job.status ?? "UNKNOWN",
          statusReason: job.statusReason,
          arrayStatus:
            summary === undefined
              ? undefined
              : Object.fromEntries(Object.entries(summary).filter(([, count]) => count > 0)),
          logStreamName: job.container?.logStreamName ?? job.attempts?.at(-1)?.container?.logStreamName,
        });
      }
    }
  }
  return {
    runId: options.runId,
    executionArn,
    status: execution.status ?? "UNKNOWN",
    currentStage: lastEnteredState(history.events ?? []),
    jobs,
    logGroupName: outputs.workerLogGroup,
  };
}

/** Formats a run's status for people. */
export function formatRemoteRunStatus(status: RemoteRunStatus): string {
  const lines = [
    `run ${status.runId}: ${status.status}`,
    `  stage: ${status.currentStage ?? "-"}`,
    `  execution: ${status.executionArn}`,
  ];
  for (const job of status.jobs) {
    const array = job.arrayStatus === undefined ? "" : ` ${JSON.stringify(job.arrayStatus)}`;
    lines.push(
      `  job ${job.jobName} (${job.jobId}): ${job.status}${array}${job.statusReason ? ` - ${job.statusReason}` : ""}`,
    );
    if (job.logStreamName)
      lines.push(`    logs: ${status.logGroupName ?? "(worker log group)"} ${job.logStreamName}`);
  }
  return `${lines.join("\n")}\n`;
}

/** Adds `vocagno status RUN [--stack NAME | --root DIR]`. */
export function registerStatusCommand(program: Command): void {
  program
    .command("status")
    .description("Show where a run stands: its stage, its Batch jobs and where their logs are")
    .argument("<run>", "run id (the execution name)")
    .option("--stack <name>", "deployed stack of the run", DEFAULT_STACK_NAME)
    .option("--root <dir>", "read a local run from this storage root instead of AWS")
    .option("--json", "print JSON")
    .action(async (runId: string, flags: { stack: string; root?: string; json?: boolean }) => {
      if (flags.root !== undefined) {
        const file = path.join(flags.root, "logs", runId, LOCAL_STATUS_FILE);
        const text = await readFile(file, "utf8").catch(() => {
          throw new Error(`no local run ${runId} under ${flags.root}: ${file} not found`);
        });
        process.stdout.write(flags.json ? text : formatLocalStatus(JSON.parse(text)));
        return;
      }
      const status = await readRemoteRunStatus(
        { cloudFormation: new CloudFormationClient({}), sfn: new SFNClient({}), batch: new BatchClient({}) },
        { runId, stackName: flags.stack },
      );
      process.stdout.write(flags.json ? `${JSON.stringify(status)}\n` : formatRemoteRunStatus(status));
    });
}

function formatLocalStatus(status: {
  runId: string;
  status: string;
  currentStage?: string;
  stages: { stage: string; status: string; durationMs: number }[];
  logDirectory: string;
}): string {
  const lines = [`run ${status.runId}: ${status.status}`, `  stage: ${status.currentStage ?? "-"}`];
  for (const stage of status.stages)
    lines.push(
      `  ${stage.stage.padEnd(22)} ${stage.status.padEnd(9)} ${(stage.durationMs / 1000).toFixed(1)} s`,
    );
  lines.push(`  logs: ${status.logDirectory}`);
  return `${lines.join("\n")}\n`;
}
