import "./promise-with-resolvers.ts";
import { execFileSync } from "node:child_process";
import { appendFile, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { StateMachine } from "aws-local-stepfunctions";
import { REPOSITORY_ROOT } from "../../infra/pipeline-function.ts";
import { STATE } from "../../infra/state-names.ts";
import { logger } from "../log.ts";
import { contentFingerprint, deriveRunId } from "../steps/run-id.ts";
import { runLocalBatchJob, type SubmitJobRequest } from "./batch-job.ts";
import {
  type CloudFormationTemplate,
  LOCAL_ACCOUNT,
  LOCAL_BUCKET,
  LOCAL_REGION,
} from "./cloudformation-tokens.ts";
import {
  evaluatePayloadTemplate,
  exceedsToleratedFailures,
  type LocalDistributedMap,
  localizeDistributedMaps,
  type MapItemOutcome,
  mapWithConcurrency,
  ToleratedFailureThresholdError,
} from "./distributed-map.ts";
import { type LambdaHandler, lambdaInvokeTask } from "./lambda-task.ts";
import {
  type AslState,
  type PipelineTemplate,
  readPipelineTemplate,
  type StateMachineDefinition,
  synthesizeTemplate,
} from "./pipeline-template.ts";
import { type ProgressReporter, silentProgress } from "./progress.ts";

/** The Lambda handlers of the pipeline, by the file under lambdas/ that exports them. */
export type PipelineLambda = "plan" | "prepare" | "evaluate" | "report";

/** Handler of each Lambda task state, by state name. */
const LAMBDA_OF_STATE: Record<string, PipelineLambda> = {
  [STATE.plan]: "plan",
  [STATE.prepareItem]: "prepare",
  [STATE.evaluate]: "evaluate",
  [STATE.report]: "report",
  [STATE.reportFailure]: "report",
  [STATE.reportPlanFailure]: "report",
};

export interface LocalRunOptions {
  /** Experiment file to run. */
  readonly experimentPath: string;
  /** Local storage root with the bucket's layout. */
  readonly root: string;
  /** Python interpreter for the trainer. @default $VOCAGNO_PYTHON, else the project's cached environment */
  readonly python?: string;
  /** Job parameters that replace the submitted ones. @default { provider: "cpu" } */
  readonly jobParameterOverrides?: Record<string, string>;
  /** Pause before every retry, in milliseconds, in place of the definition's intervals. @default the definition's */
  readonly retryIntervalMs?: number;
  /** Work items prepared at once (in this process). @default 2 */
  readonly prepareConcurrency?: number;
  /** Template to run instead of synthesizing the stack (tests synthesize once). */
  readonly template?: CloudFormationTemplate;
  /** Handlers that replace the real ones, for fault injection in tests. @default lambdas/<name>.ts */
  readonly lambdaHandlers?: Partial<Record<PipelineLambda, LambdaHandler>>;
  readonly progress?: ProgressReporter;
  /** Ends the run successfully after this top-level state, for running part of the pipeline. @default the whole pipeline */
  readonly stopAfterState?: string;
}

/** One entry of the execution's event log (see aws-local-stepfunctions' docs/execution-event-logs.md). */
export interface EventLog {
  readonly type: string;
  readonly timestamp: number;
  readonly state?: {
    readonly name: string;
    readonly type: string;
    readonly input?: unknown;
    readonly output?: unknown;
  };
  /** Iteration of the enclosing Map, on events of states inside one. */
  readonly index?: number;
  readonly Error?: string;
  readonly Cause?: string;
}

/** Time spent in one top-level state. */
export interface StageTiming {
  readonly stage: string;
  readonly status: "succeeded" | "failed";
  readonly durationMs: number;
}

export interface LocalRunResult {
  readonly runId: string;
  readonly executionInput: { experimentUri: string; runId: string };
  readonly status: "SUCCEEDED" | "FAILED";
  readonly output?: unknown;
  readonly error?: string;
  readonly cause?: string;
  readonly stages: StageTiming[];
  /** Largest output in UTF-8 bytes of each state, nested states as `Map/State`. */
  readonly stateOutputBytes: Record<string, number>;
  /** Retries per state. */
  readonly retries: Record<string, number>;
  /** Every event of the top-level execution, in order. */
  readonly events: EventLog[];
}

/** File under `<root>/logs/<runId>/` where a local run keeps its status for `vocagno status --root`. */
export const LOCAL_STATUS_FILE = "execution.json";

/** Returns the Python interpreter that tests and the local runner use for the trainer. */
export function defaultPython(): string {
  if (process.env.VOCAGNO_PYTHON) return process.env.VOCAGNO_PYTHON;
  const venv = execFileSync("bash", [path.join(REPOSITORY_ROOT, "scripts/python-env.sh"), "--print"], {
    encoding: "utf8",
  }).trim();
  return path.join(venv, "bin", "python");
}

async function loadLambdaHandler(name: PipelineLambda): Promise<LambdaHandler> {
  const module = (await import(pathToFileURL(path.join(REPOSITORY_ROOT, "lambdas", `${name}.ts`)).href)) as {
    handler?: LambdaHandler;
  };
  if (typeof module.handler !== "function") {
    throw new Error(
      `lambdas/${name}.ts exports no handler function; the local runner calls its \`handler(event)\``,
    );
  }
  return module.handler;
}

function stateNames(definition: StateMachineDefinition): string[] {
  return Object.entries(definition.States).flatMap(([name, state]) => {
    const processor = (state.ItemProcessor ?? state.Iterator) as StateMachineDefinition | undefined;
    const branches = (state.Branches as StateMachineDefinition[] | undefined) ?? [];
    return [name, ...(processor ? stateNames(processor) : []), ...branches.flatMap(stateNames)];
  });
}

/** Returns the definition with `stopAfterState` made an end state, or the definition itself. */
export function truncateDefinition(
  definition: StateMachineDefinition,
  stopAfterState: string | undefined,
): StateMachineDefinition {
  if (stopAfterState === undefined) return definition;
  const state = definition.States[stopAfterState];
  if (state === undefined || state.Type === "Choice" || state.Type === "Fail" || state.Type === "Succeed") {
    throw new Error(
      `cannot stop after ${JSON.stringify(stopAfterState)}: name a top-level Task or Map state of the pipeline`,
    );
  }
  const { Next: _next, ...ending } = state;
  const states: Record<string, AslState> = {
    ...definition.States,
    [stopAfterState]: { ...ending, End: true },
  };
  // States that only the removed transition reached would fail validation as unreachable.
  const reachable = new Set<string>();
  const visit = (name: string) => {
    if (reachable.has(name)) return;
    reachable.add(name);
    const current = states[name];
    const targets = [
      current.Next,
      current.Default,
      ...((current.Choices as { Next: string }[] | undefined) ?? []).map((choice) => choice.Next),
      ...((current.Catch as { Next: string }[] | undefined) ?? []).map((catcher) => catcher.Next),
    ];
    for (const target of targets) if (typeof target === "string") visit(target);
  };
  visit(definition.StartAt);
  return {
    ...definition,
    States: Object.fromEntries(Object.entries(states).filter(([name]) => reachable.has(name))),
  };
}

/**
 * Checks that every Task state, nested ones included, has a local handler.
 * aws-local-stepfunctions would invoke a Task without one in AWS, which a
 * local run must never do.
 */
export function assertEveryTaskIsLocal(
  definition: StateMachineDefinition,
  handlerNames: ReadonlySet<string>,
): void {
  const missing: string[] = [];
  const visit = (machine: StateMachineDefinition) => {
    for (const [name, state] of Object.entries(machine.States)) {
      if (state.Type === "Task" && !handlerNames.has(name)) missing.push(name);
      const processor = (state.ItemProcessor ?? state.Iterator) as StateMachineDefinition | undefined;
      if (processor) visit(processor);
      for (const branch of (state.Branches as StateMachineDefinition[] | undefined) ?? []) visit(branch);
    }
  };
  visit(definition);
  if (missing.length > 0) {
    throw new Error(
      `the local runner has no handler for the Task states ${missing.join(", ")}; add them to core/local-runner/run-local.ts`,
    );
  }
}

function outputBytes(output: unknown): number {
  return Buffer.byteLength(JSON.stringify(output ?? null), "utf8");
}

/** Writes a file under a temporary name and renames it, so a reader never sees a partial copy. */
async function writeFileAtomic(file: string, bytes: Uint8Array | string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, bytes);
  await rename(temporary, file);
}

/**
 * Runs an experiment on this machine through the state machine synthesized
 * from the CDK stack: Lambda tasks call the handlers in-process, Batch tasks
 * run the job definitions' commands as child processes, storage is `root`
 * with the bucket's layout.
 *
 * @example
 * const result = await runLocal({ experimentPath: "examples/tiny.json", root: "./vocagno-runs" });
 * result.status; // "SUCCEEDED"
 */
export async function runLocal(options: LocalRunOptions): Promise<LocalRunResult> {
  const root = path.resolve(options.root);
  const progress = options.progress ?? silentProgress;
  const template: PipelineTemplate = readPipelineTemplate(options.template ?? (await synthesizeTemplate()));
  const { definition, maps } = localizeDistributedMaps(
    truncateDefinition(template.definition, options.stopAfterState),
  );

  // The experiment goes where the trigger would see it, and gets the run id the trigger would give it.
  const experimentBytes = await readFile(options.experimentPath);
  const experimentKey = `experiments/${path.basename(options.experimentPath)}`;
  const experimentFile = path.join(root, experimentKey);
  await writeFileAtomic(experimentFile, experimentBytes);
  const runId = deriveRunId(experimentKey, contentFingerprint(experimentBytes));
  const executionInput = { experimentUri: pathToFileURL(experimentFile).href, runId };
  const log = logger.child({ runId });

  const handlers: Partial<Record<PipelineLambda, LambdaHandler>> = { ...options.lambdaHandlers };
  for (const name of new Set(Object.values(LAMBDA_OF_STATE))) {
    handlers[name] ??= await loadLambdaHandler(name);
  }
  const python = options.python ?? defaultPython();
  const stateOutputBytes: Record<string, number> = {};
  const recordOutput = (state: string, output: unknown) => {
    stateOutputBytes[state] = Math.max(stateOutputBytes[state] ?? 0, outputBytes(output));
  };
  const retries: Record<string, number> = {};

  const localHandlers: Record<string, (input: never) => Promise<unknown>> = {};
  const lambdaTasks: Record<string, (input: never) => Promise<unknown>> = {};
  for (const [state, name] of Object.entries(LAMBDA_OF_STATE)) {
    lambdaTasks[state] = lambdaInvokeTask(handlers[name]!);
  }
  Object.assign(localHandlers, lambdaTasks);

  const batchTask = async (request: SubmitJobRequest) => {
    const jobDefinition = template.jobDefinitions.get(request.JobDefinition);
    if (jobDefinition === undefined) {
      throw new Error(`job definition ${request.JobDefinition} is not in the synthesized template`);
    }
    return runLocalBatchJob(request, jobDefinition, {
      repositoryRoot: REPOSITORY_ROOT,
      python,
      logDirectory: path.join(root, "logs", runId),
      parameterOverrides: options.jobParameterOverrides ?? { provider: "cpu" },
      environment: { VOCAGNO_STORAGE_ROOT: pathToFileURL(root).href },
      // Job names carry the run id ("train-<runId>-guided"); the bar shows "train-guided".
      onIndexDone: (jobName, index, size) =>
        progress.stageProgress(jobName.replace(`-${runId}`, ""), (index ?? 0) + 1, size),
    });
  };
  for (const state of [STATE.scoreTeacherArray, STATE.scoreTeacherSingle, STATE.trainVariant]) {
    localHandlers[state] = batchTask as (input: never) => Promise<unknown>;
  }
  localHandlers[STATE.notifyPlanFailure] = (async (request: { Message?: unknown }) => {
    log.warn(
      { message: request.Message },
      "run failed before planning (local stand-in for the SNS notification)",
    );
    await appendFile(
      path.join(root, "notifications.jsonl"),
      `${JSON.stringify({ runId, message: request.Message })}\n`,
    ).catch(() => undefined);
    return { MessageId: `local-${Date.now()}` };
  }) as (input: never) => Promise<unknown>;

  const retryIntervalOverrides =
    options.retryIntervalMs === undefined
      ? undefined
      : Object.fromEntries(stateNames(template.definition).map((name) => [name, options.retryIntervalMs!]));

  for (const map of maps) {
    localHandlers[map.name] = (async (mapInput: unknown) =>
      runLocalDistributedMap(map, mapInput, {
        root,
        runId,
        concurrency: options.prepareConcurrency ?? 2,
        taskHandlers: lambdaTasks,
        retryIntervalOverrides,
        progress,
        recordOutput,
        retries,
      })) as (input: never) => Promise<unknown>;
  }

  const handlerNames = new Set(Object.keys(localHandlers));
  assertEveryTaskIsLocal(definition, handlerNames);
  for (const map of maps) assertEveryTaskIsLocal(map.itemProcessor, handlerNames);

  // Handlers read and write the local root; VOCAGNO_BUCKET would point them at S3.
  const savedEnvironment = {
    VOCAGNO_BUCKET: process.env.VOCAGNO_BUCKET,
    VOCAGNO_STORAGE_ROOT: process.env.VOCAGNO_STORAGE_ROOT,
  };
  delete process.env.VOCAGNO_BUCKET;
  process.env.VOCAGNO_STORAGE_ROOT = pathToFileURL(root).href;

  const machine = new StateMachine(definition as never, { validationOptions: { checkArn: false } });
  const startTime = new Date().toISOString();
  const execution = machine.run(executionInput as never, {
    overrides: { taskResourceLocalHandlers: localHandlers as never, retryIntervalOverrides },
    context: {
      Execution: {
        Id: `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:execution:vocagno-local:${runId}`,
        Name: runId,
        Input: executionInput,
        StartTime: startTime,
      },
      StateMachine: {
        Id: `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:vocagno-local`,
        Name: "vocagno-local",
      },
    },
  });
  log.info({ experimentUri: executionInput.experimentUri, root }, "local run started");

  const events: EventLog[] = [];
  const stages: StageTiming[] = [];
  const entered = new Map<string, number>();
  const logDirectory = path.join(root, "logs", runId);
  let statusWrite = Promise.resolve();
  const writeStatus = (status: string, currentStage: string | undefined) => {
    const snapshot = JSON.stringify(
      { runId, status, currentStage, stages: [...stages], logDirectory, root },
      null,
      2,
    );
    // Writes queue up so that an older status never replaces a newer one.
    statusWrite = statusWrite.then(() =>
      writeFileAtomic(path.join(logDirectory, LOCAL_STATUS_FILE), `${snapshot}\n`),
    );
  };
  writeStatus("RUNNING", undefined);
  const caught = new Set<string>();
  let openStage: string | undefined;
  const endStage = (name: string, status: StageTiming["status"], timestamp: number) => {
    const durationMs = timestamp - (entered.get(name) ?? timestamp);
    stages.push({ stage: name, status, durationMs });
    progress.stageEnded(name, status, durationMs);
    if (openStage === name) openStage = undefined;
  };
  const collect = (async () => {
    for await (const logged of execution.eventLogs) {
      const event = logged as EventLog;
      events.push(event);
      if (event.type === "ExecutionFailed" && openStage !== undefined) {
        // The state that failed the execution never exits.
        endStage(openStage, "failed", event.timestamp);
      }
      if (event.state === undefined) continue;
      const name = event.state.name;
      if (event.index !== undefined) {
        // A state inside an inline Map iteration: no stage of its own.
        if (event.type === "StateExited") recordOutput(name, event.state.output);
        if (event.type === "StateRetried") retries[name] = (retries[name] ?? 0) + 1;
        continue;
      }
      if (event.type === "StateEntered") {
        entered.set(name, event.timestamp);
        openStage = name;
        progress.stageStarted(name);
        writeStatus("RUNNING", name);
      } else if (event.type === "StateRetried") {
        retries[name] = (retries[name] ?? 0) + 1;
      } else if (event.type === "StateCaught") {
        caught.add(name);
      } else if (event.type === "StateExited") {
        recordOutput(name, event.state.output);
        endStage(name, caught.delete(name) ? "failed" : "succeeded", event.timestamp);
      }
    }
  })();

  let result: LocalRunResult;
  try {
    const output = await execution.result;
    await collect;
    result = {
      runId,
      executionInput,
      status: "SUCCEEDED",
      output,
      stages,
      stateOutputBytes,
      retries,
      events,
    };
  } catch (error) {
    await collect.catch(() => undefined);
    const failure = events.findLast((event) => event.type === "ExecutionFailed");
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : undefined;
    result = {
      runId,
      executionInput,
      status: "FAILED",
      error: failure?.Error ?? cause?.name ?? (error instanceof Error ? error.name : "Error"),
      cause: failure?.Cause ?? cause?.message ?? String(error),
      stages,
      stateOutputBytes,
      retries,
      events,
    };
  } finally {
    progress.stop();
    for (const [name, value] of Object.entries(savedEnvironment)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
  writeStatus(result.status, stages.at(-1)?.stage);
  await statusWrite;
  log.info({ status: result.status, error: result.error, stages: result.stages }, "local run ended");
  return result;
}

interface LocalMapContext {
  readonly root: string;
  readonly runId: string;
  readonly concurrency: number;
  readonly taskHandlers: Record<string, (input: never) => Promise<unknown>>;
  readonly retryIntervalOverrides?: Record<string, number>;
  readonly progress: ProgressReporter;
  readonly recordOutput: (state: string, output: unknown) => void;
  readonly retries: Record<string, number>;
}

/**
 * Runs a Distributed Map locally. It reads the items from the ItemReader's key
 * in the local root and runs the item processor once per item as its own
 * execution. Then it applies the failure tolerance, writes the results under
 * tmp/ and returns the Map state's result (MapRunArn, ResultWriterDetails).
 */
async function runLocalDistributedMap(
  map: LocalDistributedMap,
  mapInput: unknown,
  context: LocalMapContext,
): Promise<unknown> {
  const reader = await evaluatePayloadTemplate(map.itemReader.Parameters, mapInput);
  const key = reader.Key as string;
  const itemsFile = path.join(context.root, key);
  const items = JSON.parse(await readFile(itemsFile, "utf8")) as unknown[];
  if (!Array.isArray(items)) {
    throw new Error(
      `${itemsFile} does not contain a JSON array; the ItemReader of ${map.name} expects a list of work items`,
    );
  }
  const processor = new StateMachine(map.itemProcessor as never, { validationOptions: { checkArn: false } });
  const mapRunId = `${context.runId}-${Date.now()}`;
  let done = 0;
  context.progress.stageProgress(map.name, 0, items.length);

  const concurrency =
    map.maxConcurrency > 0 ? Math.min(map.maxConcurrency, context.concurrency) : context.concurrency;
  const outcomes = await mapWithConcurrency(
    items,
    concurrency,
    async (item, index): Promise<MapItemOutcome> => {
      const input =
        map.itemSelector === undefined
          ? item
          : await evaluatePayloadTemplate(map.itemSelector, mapInput, {
              Map: { Item: { Index: index, Value: item } },
            });
      const execution = processor.run(input as never, {
        overrides: {
          taskResourceLocalHandlers: context.taskHandlers as never,
          retryIntervalOverrides: context.retryIntervalOverrides,
        },
      });
      const collect = (async () => {
        for await (const logged of execution.eventLogs) {
          const event = logged as EventLog;
          if (event.state === undefined) continue;
          if (event.type === "StateExited")
            context.recordOutput(`${map.name}/${event.state.name}`, event.state.output);
          if (event.type === "StateRetried") {
            const name = `${map.name}/${event.state.name}`;
            context.retries[name] = (context.retries[name] ?? 0) + 1;
          }
        }
      })();
      let outcome: MapItemOutcome;
      try {
        outcome = { index, input, output: await execution.result };
      } catch (error) {
        const cause = error instanceof Error && error.cause instanceof Error ? error.cause : undefined;
        outcome = {
          index,
          input,
          error: cause?.name ?? "States.TaskFailed",
          cause: cause?.message ?? String(error),
        };
      }
      await collect.catch(() => undefined);
      done += 1;
      context.progress.stageProgress(map.name, done, items.length);
      return outcome;
    },
  );

  const failed = outcomes.filter((outcome) => outcome.error !== undefined);
  const prefix = `tmp/${map.name}-results/${mapRunId}`;
  await writeFileAtomic(
    path.join(context.root, prefix, "SUCCEEDED_0.json"),
    JSON.stringify(outcomes.filter((o) => !o.error)),
  );
  await writeFileAtomic(path.join(context.root, prefix, "FAILED_0.json"), JSON.stringify(failed));
  if (exceedsToleratedFailures(map, failed.length, items.length)) {
    throw new ToleratedFailureThresholdError(
      `${failed.length} of ${items.length} items of ${map.name} failed, more than the tolerated ` +
        `${map.toleratedFailurePercentage}%; first: ${failed[0].error}: ${failed[0].cause}`,
    );
  }
  return {
    MapRunArn: `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:mapRun:vocagno-local/${map.name}:${mapRunId}`,
    ResultWriterDetails: { Bucket: LOCAL_BUCKET, Key: `${prefix}/manifest.json` },
  };
}
