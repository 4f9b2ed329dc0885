import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { IMAGE_WORKDIR } from "../../infra/worker-image.ts";
import { logger } from "../log.ts";
import { LOCAL_ACCOUNT, LOCAL_REGION } from "./cloudformation-tokens.ts";
import type { LocalJobDefinition } from "./pipeline-template.ts";

/** The SubmitJob request that a Batch task state sends, as the local handler receives it. */
export interface SubmitJobRequest {
  readonly JobName: string;
  readonly JobQueue: string;
  readonly JobDefinition: string;
  readonly Parameters?: Record<string, string>;
  readonly ArrayProperties?: { readonly Size: number };
  readonly ContainerOverrides?: {
    readonly Environment?: ReadonlyArray<{ readonly Name: string; readonly Value: string }>;
    /**
     * GPUs, vCPUs and memory of the job. Ignored here: every local job runs
     * on this machine with what it has, and the training command counts the
     * GPUs it can see rather than reading this.
     */
    readonly ResourceRequirements?: ReadonlyArray<{ readonly Type: string; readonly Value: string }>;
  };
}

/** Mapping of the container onto this machine. */
export interface LocalJobEnvironment {
  /** Repository root: the image's working directory maps here and commands run here. */
  readonly repositoryRoot: string;
  /** Python interpreter that stands for the image's `python`. */
  readonly python: string;
  /** Folder of the jobs' log files, one per job (and array index), like CloudWatch log streams. */
  readonly logDirectory: string;
  /** Parameters that replace the submitted ones, for example `{ provider: "cpu" }`. */
  readonly parameterOverrides?: Record<string, string>;
  /** Extra environment of every job (the local storage root, for example). */
  readonly environment?: Record<string, string>;
  /** Called when one array index or a plain job ends. */
  readonly onIndexDone?: (jobName: string, index: number | null, size: number) => void;
}

/** A job that ended without success; the message carries the DescribeJobs object as the real integration's cause. */
export class LocalBatchJobError extends Error {
  constructor(readonly job: Record<string, unknown>) {
    super(JSON.stringify(job));
    // The name Step Functions gives a failed Batch job of a .sync task.
    this.name = "States.TaskFailed";
  }
}

/** Substitutes `Ref::name` arguments as Batch does: a whole argument that names a missing parameter stays as it is. */
export function substituteParameters(
  command: readonly string[],
  parameters: Record<string, string>,
): string[] {
  return command.map((argument) => {
    if (!argument.startsWith("Ref::")) return argument;
    const value = parameters[argument.slice("Ref::".length)];
    return value ?? argument;
  });
}

function mapImagePath(value: string, repositoryRoot: string): string {
  return value.replaceAll(IMAGE_WORKDIR, repositoryRoot);
}

/** Maps a container command onto this machine: the image's `python` and `node`, and its paths. */
export function localCommand(command: readonly string[], environment: LocalJobEnvironment): string[] {
  const [program, ...args] = command.map((argument) => mapImagePath(argument, environment.repositoryRoot));
  const localProgram =
    program === "python" || program === "python3"
      ? environment.python
      : program === "node"
        ? process.execPath
        : program;
  return [localProgram, ...args];
}

function runProcess(
  command: string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
  logFile: string,
): Promise<{ exitCode: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const log = createWriteStream(logFile, { flags: "a" });
    const child = spawn(command[0], command.slice(1), { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    child.on("error", (error) => {
      log.end();
      reject(error);
    });
    child.on("close", (exitCode, signal) => {
      log.end(() => resolve({ exitCode, signal }));
    });
  });
}

/**
 * Runs a Batch job locally with the job definition's own command and
 * environment, each array index as its own child process (one after another,
 * AWS_BATCH_JOB_ARRAY_INDEX set), and returns the job as DescribeJobs shows
 * it, the output of a `batch:submitJob.sync` task.
 *
 * @example
 * const job = await runLocalBatchJob(request, jobDefinition, { repositoryRoot, python, logDirectory });
 * job.Status; // "SUCCEEDED"
 */
export async function runLocalBatchJob(
  request: SubmitJobRequest,
  jobDefinition: LocalJobDefinition,
  environment: LocalJobEnvironment,
): Promise<Record<string, unknown>> {
  const jobId = randomUUID();
  const parameters = {
    ...jobDefinition.parameters,
    ...request.Parameters,
    ...environment.parameterOverrides,
  };
  const command = localCommand(substituteParameters(jobDefinition.command, parameters), environment);
  const containerEnvironment = Object.fromEntries(
    Object.entries(jobDefinition.environment).map(([name, value]) => [
      name,
      mapImagePath(value, environment.repositoryRoot),
    ]),
  );
  for (const { Name, Value } of request.ContainerOverrides?.Environment ?? []) {
    containerEnvironment[Name] = Value;
  }
  const arraySize = request.ArrayProperties?.Size;
  const indexes: (number | null)[] =
    arraySize === undefined ? [null] : Array.from({ length: arraySize }, (_, index) => index);
  await mkdir(environment.logDirectory, { recursive: true });
  const createdAt = Date.now();
  const log = logger.child({ jobName: request.JobName, jobId });
  log.info({ command, arraySize }, "local batch job started");

  const logStreams: string[] = [];
  let failure: { index: number | null; exitCode: number | null; signal: NodeJS.Signals | null } | undefined;
  for (const index of indexes) {
    const logFile = path.join(
      environment.logDirectory,
      index === null ? `${request.JobName}.log` : `${request.JobName}-${index}.log`,
    );
    logStreams.push(logFile);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      // Shell commands (the training script) call `python` and `torchrun` by name, as in the image.
      PATH: [path.isAbsolute(environment.python) ? path.dirname(environment.python) : "", process.env.PATH]
        .filter(Boolean)
        .join(path.delimiter),
      ...environment.environment,
      ...containerEnvironment,
      AWS_BATCH_JOB_ID: index === null ? jobId : `${jobId}:${index}`,
      AWS_BATCH_JQ_NAME: request.JobQueue,
      AWS_BATCH_JOB_ATTEMPT: "1",
    };
    if (index !== null) {
      env.AWS_BATCH_JOB_ARRAY_INDEX = String(index);
    }
    const { exitCode, signal } = await runProcess(command, env, environment.repositoryRoot, logFile);
    environment.onIndexDone?.(request.JobName, index, indexes.length);
    if (exitCode !== 0) {
      failure = { index, exitCode, signal };
      log.error({ index, exitCode, signal, logFile }, "local batch job failed");
      break;
    }
  }

  const stoppedAt = Date.now();
  const status = failure === undefined ? "SUCCEEDED" : "FAILED";
  const job: Record<string, unknown> = {
    JobArn: `arn:aws:batch:${LOCAL_REGION}:${LOCAL_ACCOUNT}:job/${jobId}`,
    JobId: jobId,
    JobName: request.JobName,
    JobQueue: request.JobQueue,
    JobDefinition: request.JobDefinition,
    Status: status,
    StatusReason:
      failure === undefined
        ? "Essential container in task exited"
        : `Index ${failure.index ?? "-"} exited with code ${failure.exitCode ?? "none"} (signal ${failure.signal ?? "none"}); log ${logStreams.at(-1)}`,
    CreatedAt: createdAt,
    StartedAt: createdAt,
    StoppedAt: stoppedAt,
    Parameters: parameters,
    Attempts: [
      {
        StartedAt: createdAt,
        StoppedAt: stoppedAt,
        Container: { ExitCode: failure?.exitCode ?? 0, LogStreamName: logStreams.at(-1) },
      },
    ],
    Container: { Command: command, ExitCode: failure?.exitCode ?? 0, LogStreamName: logStreams.at(-1) },
    ...(arraySize === undefined
      ? {}
      : {
          ArrayProperties: {
            Size: arraySize,
            StatusSummary: {
              SUCCEEDED: failure === undefined ? arraySize : (failure.index ?? 0),
              FAILED: failure === undefined ? 0 : 1,
            },
          },
        }),
    Tags: {},
  };
  log.info({ status, durationMs: stoppedAt - createdAt }, "local batch job ended");
  if (failure !== undefined) throw new LocalBatchJobError(job);
  return job;
}
