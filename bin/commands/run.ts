import { readFile } from "node:fs/promises";
import path from "node:path";
import { CloudFormationClient } from "@aws-sdk/client-cloudformation";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import type { Command } from "commander";
import { parseExperimentText } from "../../core/experiment/index.ts";
import { type LocalRunResult, progressForCli, runLocal } from "../../core/local-runner/index.ts";
import { deriveRunId } from "../../core/steps/run-id.ts";
import { EXPERIMENTS_PREFIX } from "../../infra/experiment-trigger.ts";
import { DEFAULT_STACK_NAME } from "../../infra/vocagno-app.ts";
import { readStackOutputs } from "./stack-outputs.ts";

/** AWS clients of `vocagno run --stack`; tests point them at a server on loopback. */
export interface AwsClients {
  readonly cloudFormation: CloudFormationClient;
  readonly s3: S3Client;
  readonly sfn: SFNClient;
}

export function defaultAwsClients(): AwsClients {
  return { cloudFormation: new CloudFormationClient({}), s3: new S3Client({}), sfn: new SFNClient({}) };
}

/** Result of `vocagno run --stack`. */
export interface RemoteRunStart {
  readonly runId: string;
  readonly experimentUri: string;
  /** Set when this call started the execution (`--start`); otherwise the bucket's trigger starts it. */
  readonly executionArn?: string;
  readonly alreadyStarted?: boolean;
}

/**
 * Uploads an experiment to a deployed stack's bucket under experiments/, where
 * the trigger starts its run. With `start` it also starts the execution, under
 * the name that the trigger derives from the object key and version id, so
 * only one of the two starts it.
 *
 * @example
 * const started = await startRemoteRun(defaultAwsClients(), { experimentPath: "owm.json", stackName: "Vocagno", start: true });
 */
export async function startRemoteRun(
  clients: AwsClients,
  options: { experimentPath: string; stackName: string; start: boolean },
): Promise<RemoteRunStart> {
  const outputs = await readStackOutputs(clients.cloudFormation, options.stackName);
  const body = await readFile(options.experimentPath);
  const key = `${EXPERIMENTS_PREFIX}${path.basename(options.experimentPath)}`;
  const put = await clients.s3.send(
    new PutObjectCommand({
      Bucket: outputs.bucketName,
      Key: key,
      Body: body,
      ContentType: "application/json",
    }),
  );
  const fingerprint = put.VersionId ?? put.ETag;
  if (fingerprint === undefined) {
    throw new Error(`S3 returned neither a version id nor an ETag for s3://${outputs.bucketName}/${key}`);
  }
  const runId = deriveRunId(key, fingerprint);
  const experimentUri = `s3://${outputs.bucketName}/${key}`;
  if (!options.start) return { runId, experimentUri };
  try {
    const started = await clients.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: outputs.stateMachineArn,
        name: runId,
        input: JSON.stringify({ experimentUri, runId }),
      }),
    );
    return { runId, experimentUri, executionArn: started.executionArn };
  } catch (error) {
    // The trigger was faster: the execution of this object version exists.
    if (error instanceof ExecutionAlreadyExists) return { runId, experimentUri, alreadyStarted: true };
    throw error;
  }
}

/** Formats the summary line of each stage of a local run. */
export function formatStages(result: LocalRunResult): string {
  return result.stages
    .map(
      (stage) =>
        `  ${stage.stage.padEnd(22)} ${stage.status.padEnd(9)} ${(stage.durationMs / 1000).toFixed(1)} s`,
    )
    .join("\n");
}

interface RunFlags {
  readonly local?: boolean;
  readonly root: string;
  readonly python?: string;
  readonly stack?: string;
  readonly start?: boolean;
}

/** Adds `vocagno run EXPERIMENT (--local [--root DIR] | --stack NAME [--start])`. */
export function registerRunCommand(program: Command): void {
  program
    .command("run")
    .description("Run an experiment: on this machine (--local) or on a deployed stack (--stack)")
    .argument("<experiment>", "experiment file (JSON)")
    .option("--local", "run the whole pipeline on this machine")
    .option("--root <dir>", "local storage root, laid out like the bucket", "./vocagno-runs")
    .option(
      "--python <path>",
      "Python interpreter of the trainer (default: $VOCAGNO_PYTHON or the cached environment)",
    )
    .option(
      "--stack <name>",
      `deployed stack to run on (default ${DEFAULT_STACK_NAME} when --local is not given)`,
    )
    .option("--start", "with --stack: start the execution now instead of waiting for the bucket's trigger")
    .action(async (experiment: string, flags: RunFlags) => {
      if (flags.local && flags.stack) throw new Error("pass either --local or --stack, not both");
      await checkExperimentFile(experiment);
      if (flags.local) {
        const { progress, logFile } = progressForCli(flags.root);
        const result = await runLocal({
          experimentPath: experiment,
          root: flags.root,
          python: flags.python,
          progress,
        });
        if (logFile) process.stderr.write(`logs: ${logFile}\n`);
        process.stderr.write(`run ${result.runId}: ${result.status}\n${formatStages(result)}\n`);
        if (result.status === "FAILED") {
          process.stderr.write(`error: ${result.error}\ncause: ${result.cause}\n`);
          process.exitCode = 1;
        }
        process.stdout.write(
          `${JSON.stringify({ runId: result.runId, status: result.status, root: path.resolve(flags.root), stages: result.stages })}\n`,
        );
        return;
      }
      const started = await startRemoteRun(defaultAwsClients(), {
        experimentPath: experiment,
        stackName: flags.stack ?? DEFAULT_STACK_NAME,
        start: flags.start ?? false,
      });
      process.stdout.write(`${JSON.stringify(started)}\n`);
    });
}

/**
 * Reads and validates the experiment before anything is synthesized or
 * uploaded, so a wrong path or a bad file fails at once with every problem.
 */
async function checkExperimentFile(experimentPath: string): Promise<void> {
  let text: string;
  try {
    text = await readFile(experimentPath, "utf8");
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === "ENOENT" ? "not found" : (error as Error).message;
    throw new Error(
      `cannot read experiment file ${experimentPath}: ${reason}; pass the path of an experiment JSON file`,
    );
  }
  parseExperimentText(text, experimentPath);
}
