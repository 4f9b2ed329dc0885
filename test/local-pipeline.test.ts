import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { CloudFormationTemplate } from "../core/local-runner/cloudformation-tokens.ts";
import { synthesizeTemplate } from "../core/local-runner/pipeline-template.ts";
import { LineProgress } from "../core/local-runner/progress.ts";
import { type LocalRunResult, runLocal } from "../core/local-runner/run-local.ts";
import { STATE } from "../infra/state-names.ts";
import { pythonExecutable } from "./support/python.ts";
import { useTemporaryDirectories } from "./support/temporary.ts";
import { buildTinyModels, writeTinyExperiment } from "./support/tiny-experiment.ts";

/** The Step Functions limit on one state's input or output. */
const STATE_PAYLOAD_LIMIT_BYTES = 256 * 1024;

let template: CloudFormationTemplate;
let experimentPath: string;
let root: string;

const temporaryDirectory = useTemporaryDirectories();

beforeAll(async () => {
  // One synthesis and one set of tiny models for the whole file.
  template = await synthesizeTemplate();
  const models = await buildTinyModels();
  const directory = temporaryDirectory("vocagno-local-pipeline");
  // 6 documents at 2 per item: 3 work items, one of them held out; 2 teacher slices.
  experimentPath = writeTinyExperiment(path.join(directory, "input"), models, {
    recordsPerItem: 2,
    teacherArraySize: 2,
  });
  root = path.join(directory, "root");
}, 600_000);

function run(options: Partial<Parameters<typeof runLocal>[0]> = {}): Promise<LocalRunResult> {
  return runLocal({
    experimentPath,
    root,
    template,
    python: pythonExecutable(),
    retryIntervalMs: 10,
    ...options,
  });
}

function readReport(result: LocalRunResult): { status: string; failure?: { step?: string; error?: string } } {
  return JSON.parse(readFileSync(path.join(root, "runs", result.runId, "report.json"), "utf8"));
}

/** Modification times of every file under a run folder, by path relative to it. */
function fileTimes(runId: string, folders: string[]): Record<string, number> {
  const times: Record<string, number> = {};
  for (const folder of folders) {
    const directory = path.join(root, "runs", runId, folder);
    for (const entry of readdirSync(directory, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const file = path.join(entry.parentPath, entry.name);
      times[path.relative(directory, file)] = statSync(file).mtimeMs;
    }
  }
  return times;
}

describe("runLocal", () => {
  let failed: LocalRunResult;

  it("reports an invalid experiment without retrying the plan", async () => {
    const invalidPath = path.join(path.dirname(experimentPath), "invalid.json");
    writeFileSync(
      invalidPath,
      `${JSON.stringify({ name: "invalid", corpus: { uri: "corpus.jsonl", recordsPerItem: 0 } })}\n`,
    );
    const invalid = await run({ experimentPath: invalidPath });
    expect(invalid.status).toBe("FAILED");
    expect(invalid.error).toBe("ExperimentError");
    expect(invalid.retries[STATE.plan]).toBeUndefined();
    expect(invalid.stages.map((stage) => stage.stage)).toContain(STATE.reportPlanFailure);
    const report = readReport(invalid);
    expect(report.status).toBe("FAILED");
    expect(report.failure?.step).toBe(STATE.plan);
  });

  let succeeded: LocalRunResult;

  it("retries a failing prepare, then reports the failure", async () => {
    failed = await run({
      lambdaHandlers: {
        prepare: async () => {
          throw new Error("injected prepare failure");
        },
      },
    });
    expect(failed.status).toBe("FAILED");
    // Each of the 3 items is tried 3 times: the first call and 2 retries of States.TaskFailed.
    expect(failed.retries[`${STATE.prepareShards}/${STATE.prepareItem}`]).toBe(3 * 2);
    expect(failed.stages.find((stage) => stage.stage === STATE.prepareShards)?.status).toBe("failed");
    expect(failed.stages.map((stage) => stage.stage)).toContain(STATE.reportFailure);
    const report = readReport(failed);
    expect(report.status).toBe("FAILED");
    expect(report.failure?.step).toBe(STATE.prepareShards);
  });

  it("runs the tiny experiment end to end", async () => {
    const progressLines: string[] = [];
    succeeded = await run({ progress: new LineProgress((line) => progressLines.push(line), 0) });
    expect(succeeded.error ?? "", succeeded.cause).toBe("");
    expect(succeeded.status).toBe("SUCCEEDED");
    expect(succeeded.runId).toBe(failed.runId);
    const stages = succeeded.stages.map((stage) => stage.stage);
    for (const stage of [
      STATE.plan,
      STATE.prepareShards,
      STATE.scoreTeacherArray,
      STATE.trainVariants,
      STATE.evaluate,
      STATE.report,
    ]) {
      expect(stages, stage).toContain(stage);
    }
    for (const stage of succeeded.stages) expect(stage.status, stage.stage).toBe("succeeded");

    const runFolder = path.join(root, "runs", succeeded.runId);
    expect(
      readdirSync(path.join(runFolder, "shards")).filter((name) => name.endsWith(".arrow")),
    ).toHaveLength(3);
    expect(
      readdirSync(path.join(runFolder, "teacher")).filter((name) => name.endsWith(".arrow")),
    ).toHaveLength(3);
    for (const variant of ["guided", "baseline"]) {
      expect(readdirSync(path.join(runFolder, "train", variant)).length, variant).toBeGreaterThan(0);
    }
    expect(readReport(succeeded).status).toBe("SUCCEEDED");

    // Job bars are named after the job without its run id: 2 teacher slices, one training job per variant.
    expect(progressLines).toContain("teacher: 2/2");
    expect(progressLines).toContain("train-guided: 1/1");
    expect(progressLines).toContain("train-baseline: 1/1");
    expect(progressLines.filter((line) => line.includes(succeeded.runId))).toEqual([]);
  }, 900_000);

  it("keeps every state output under 256 KiB", () => {
    expect(Object.keys(succeeded.stateOutputBytes)).toContain(STATE.trainVariant);
    for (const [state, bytes] of Object.entries(succeeded.stateOutputBytes)) {
      expect(bytes, state).toBeLessThan(STATE_PAYLOAD_LIMIT_BYTES);
    }
  });

  it("skips completed work on a re-run", async () => {
    // Shards, teacher scores and training checkpoints are the costly outputs; the trainer may re-save its final model.
    const folders = ["shards", "teacher", "train/guided/checkpoints", "train/baseline/checkpoints"];
    const before = fileTimes(succeeded.runId, folders);
    expect(Object.keys(before).length).toBeGreaterThan(6);
    const rerun = await run();
    expect(rerun.status).toBe("SUCCEEDED");
    expect(fileTimes(succeeded.runId, folders)).toEqual(before);
  }, 900_000);
});
