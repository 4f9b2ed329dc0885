import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { useTemporaryDirectories } from "../../test/support/temporary.ts";
import { LocalBatchJobError, localCommand, runLocalBatchJob, substituteParameters } from "./batch-job.ts";
import { resolveTemplateString, TemplateTokenError } from "./cloudformation-tokens.ts";
import {
  exceedsToleratedFailures,
  type LocalDistributedMap,
  localizeDistributedMaps,
  mapWithConcurrency,
} from "./distributed-map.ts";
import { type LambdaFunctionError, lambdaInvokeTask } from "./lambda-task.ts";
import type { LocalJobDefinition, StateMachineDefinition } from "./pipeline-template.ts";
import { assertEveryTaskIsLocal, truncateDefinition } from "./run-local.ts";

const template = {
  Resources: {
    PlanFunction1: { Type: "AWS::Lambda::Function" },
    Queue1: { Type: "AWS::Batch::JobQueue" },
    TeacherJob1: { Type: "AWS::Batch::JobDefinition" },
  },
};

describe("resolveTemplateString", () => {
  it("joins pseudo parameters and resource references", () => {
    const value = {
      "Fn::Join": [
        "",
        [
          '{"A":"arn:',
          { Ref: "AWS::Partition" },
          '","F":"',
          { "Fn::GetAtt": ["PlanFunction1", "Arn"] },
          '","D":"',
          { Ref: "TeacherJob1" },
          '"}',
        ],
      ],
    };
    expect(JSON.parse(resolveTemplateString(value, template))).toEqual({
      A: "arn:aws",
      F: "arn:aws:lambda:us-east-1:123456789012:function:PlanFunction1",
      D: "arn:aws:batch:us-east-1:123456789012:job-definition/TeacherJob1:1",
    });
  });

  it("rejects an unknown resource", () => {
    expect(() => resolveTemplateString({ Ref: "Missing" }, template)).toThrow(TemplateTokenError);
  });
});

describe("substituteParameters", () => {
  it("replaces whole Ref arguments only", () => {
    expect(
      substituteParameters(["--run", "Ref::run", "x-Ref::run", "Ref::missing"], { run: "file:///r" }),
    ).toEqual(["--run", "file:///r", "x-Ref::run", "Ref::missing"]);
  });
});

describe("localCommand", () => {
  it("maps python, node and image paths", () => {
    const environment = { repositoryRoot: "/repo", python: "/venv/bin/python", logDirectory: "/logs" };
    expect(localCommand(["python", "-m", "x", "/app/batch-image"], environment)).toEqual([
      "/venv/bin/python",
      "-m",
      "x",
      "/repo/batch-image",
    ]);
    expect(localCommand(["node", "main.ts"], environment)[0]).toBe(process.execPath);
  });
});

describe("runLocalBatchJob", () => {
  const directory = useTemporaryDirectories()("vocagno-batch-job");
  // Each index appends its index, a parameter and an environment variable of the job definition to one file.
  const jobDefinition: LocalJobDefinition = {
    logicalId: "Job",
    arn: "arn:aws:batch:us-east-1:123456789012:job-definition/Job:1",
    command: [
      "node",
      "-e",
      "require('fs').appendFileSync(process.argv[1], [process.env.AWS_BATCH_JOB_ARRAY_INDEX, process.argv[2], process.env.GREETING].join(':') + '\\n'); process.exit(Number(process.argv[3]))",
      "Ref::out",
      "Ref::word",
      "Ref::exitCode",
    ],
    environment: { GREETING: "hello" },
    parameters: { word: "default", exitCode: "0" },
  };
  const environment = {
    repositoryRoot: directory,
    python: "python3",
    logDirectory: path.join(directory, "logs"),
  };

  it("runs every array index with the job's parameters", async () => {
    const out = path.join(directory, "array.txt");
    const job = await runLocalBatchJob(
      {
        JobName: "array",
        JobQueue: "q",
        JobDefinition: jobDefinition.arn,
        Parameters: { out, word: "given" },
        ArrayProperties: { Size: 3 },
      },
      jobDefinition,
      environment,
    );
    expect(readFileSync(out, "utf8")).toBe("0:given:hello\n1:given:hello\n2:given:hello\n");
    expect(job).toMatchObject({ JobName: "array", Status: "SUCCEEDED", ArrayProperties: { Size: 3 } });
    expect(job.JobId).toEqual(expect.any(String));
  });

  it("fails the task on a non-zero exit", async () => {
    const out = path.join(directory, "failing.txt");
    const attempt = runLocalBatchJob(
      {
        JobName: "failing",
        JobQueue: "q",
        JobDefinition: jobDefinition.arn,
        Parameters: { out, exitCode: "3" },
      },
      jobDefinition,
      environment,
    );
    await expect(attempt).rejects.toBeInstanceOf(LocalBatchJobError);
    const error = (await attempt.catch((caught: unknown) => caught)) as LocalBatchJobError;
    expect(error.name).toBe("States.TaskFailed");
    expect(JSON.parse(error.message)).toMatchObject({ Status: "FAILED", Container: { ExitCode: 3 } });
    // A plain job has no array index, so the first field is empty.
    expect(readFileSync(out, "utf8")).toBe(":default:hello\n");
  });
});

describe("lambdaInvokeTask", () => {
  it("wraps the result as the Lambda integration does", async () => {
    const task = lambdaInvokeTask(async (event) => ({ echo: event }));
    expect(await task({ FunctionName: "f", Payload: { a: 1 } })).toMatchObject({
      StatusCode: 200,
      Payload: { echo: { a: 1 } },
    });
  });

  it("reports a handler error by its type", async () => {
    class ExperimentError extends Error {
      override name = "ExperimentError";
    }
    const task = lambdaInvokeTask(async () => {
      throw new ExperimentError("invalid experiment");
    });
    const error = (await task({ FunctionName: "f", Payload: {} }).catch(
      (caught: unknown) => caught,
    )) as LambdaFunctionError;
    expect(error.name).toBe("ExperimentError");
    expect(JSON.parse(error.message)).toMatchObject({
      errorType: "ExperimentError",
      errorMessage: "invalid experiment",
    });
  });
});

describe("localizeDistributedMaps", () => {
  it("turns a Distributed Map into a Task with its Catch", () => {
    const definition: StateMachineDefinition = {
      StartAt: "Map",
      States: {
        Map: {
          Type: "Map",
          ItemProcessor: {
            ProcessorConfig: { Mode: "DISTRIBUTED" },
            StartAt: "Item",
            States: { Item: { Type: "Pass", End: true } },
          },
          ItemReader: {
            Resource: "arn:aws:states:::s3:getObject",
            Parameters: { Bucket: "b", "Key.$": "$.key" },
          },
          MaxConcurrency: 7,
          ToleratedFailurePercentage: 5,
          ResultPath: "$.prepare",
          Catch: [{ ErrorEquals: ["States.ALL"], Next: "Done" }],
          Next: "Done",
        },
        Done: { Type: "Succeed" },
      },
    };
    const { definition: local, maps } = localizeDistributedMaps(definition);
    expect(local.States.Map).toMatchObject({
      Type: "Task",
      ResultPath: "$.prepare",
      Next: "Done",
      Catch: [{ Next: "Done" }],
    });
    expect(local.States.Map).not.toHaveProperty("ItemReader");
    expect(maps).toHaveLength(1);
    expect(maps[0]).toMatchObject({ name: "Map", maxConcurrency: 7, toleratedFailurePercentage: 5 });
    expect(maps[0].itemProcessor).toEqual({ StartAt: "Item", States: { Item: { Type: "Pass", End: true } } });
  });
});

describe("exceedsToleratedFailures", () => {
  const map = { toleratedFailurePercentage: 10 } as LocalDistributedMap;

  it.each([
    [0, 10, false],
    [1, 10, false],
    [2, 10, true],
  ])("%i of %i failed: %s", (failed, total, expected) => {
    expect(exceedsToleratedFailures(map, failed, total)).toBe(expected);
  });
});

describe("mapWithConcurrency", () => {
  it("keeps the order and the limit", async () => {
    let running = 0;
    let maxRunning = 0;
    const results = await mapWithConcurrency([5, 1, 3, 2], 2, async (value) => {
      running += 1;
      maxRunning = Math.max(maxRunning, running);
      await new Promise((resolve) => setTimeout(resolve, value));
      running -= 1;
      return value * 10;
    });
    expect(results).toEqual([50, 10, 30, 20]);
    expect(maxRunning).toBe(2);
  });
});

describe("truncateDefinition", () => {
  it("ends after the state and drops unreachable ones", () => {
    const definition: StateMachineDefinition = {
      StartAt: "A",
      States: {
        A: { Type: "Task", Next: "B", Catch: [{ ErrorEquals: ["States.ALL"], Next: "Failed" }] },
        B: { Type: "Task", Next: "C" },
        C: { Type: "Succeed" },
        Failed: { Type: "Fail" },
      },
    };
    const truncated = truncateDefinition(definition, "A");
    expect(truncated.States.A).toMatchObject({ End: true });
    expect(truncated.States.A).not.toHaveProperty("Next");
    expect(Object.keys(truncated.States).sort()).toEqual(["A", "Failed"]);
  });

  it("rejects a Choice state", () => {
    const definition: StateMachineDefinition = {
      StartAt: "A",
      States: { A: { Type: "Choice", Default: "B" }, B: { Type: "Succeed" } },
    };
    expect(() => truncateDefinition(definition, "A")).toThrow(/Task or Map/);
  });
});

describe("assertEveryTaskIsLocal", () => {
  const definition: StateMachineDefinition = {
    StartAt: "Map",
    States: {
      Map: {
        Type: "Map",
        ItemProcessor: {
          StartAt: "Inner",
          States: { Inner: { Type: "Task", Resource: "arn:aws:states:::lambda:invoke", End: true } },
        },
        Next: "Outer",
      },
      Outer: { Type: "Task", Resource: "arn:aws:states:::lambda:invoke", End: true },
    },
  };

  it("names every Task without a handler", () => {
    expect(() => assertEveryTaskIsLocal(definition, new Set(["Outer"]))).toThrow(/Inner/);
  });

  it("accepts handlers for all tasks", () => {
    expect(() => assertEveryTaskIsLocal(definition, new Set(["Outer", "Inner"]))).not.toThrow();
  });
});
