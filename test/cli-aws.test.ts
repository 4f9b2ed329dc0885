import { writeFileSync } from "node:fs";
import path from "node:path";
import type { BatchClient } from "@aws-sdk/client-batch";
import { CloudFormationClient, CreateStackCommand } from "@aws-sdk/client-cloudformation";
import {
  CreateBucketCommand,
  GetObjectCommand,
  PutBucketVersioningCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  type SFNClient,
  StartExecutionCommand,
} from "@aws-sdk/client-sfn";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRemoteRun } from "../bin/commands/run.ts";
import { executionArnOf, readStackOutputs } from "../bin/commands/stack-outputs.ts";
import { lastEnteredState, readRemoteRunStatus } from "../bin/commands/status.ts";
import { STACK_OUTPUT } from "../infra/vocagno-stack.ts";
import { type S3Server, startS3Server } from "./support/s3-server.ts";
import { useTemporaryDirectories } from "./support/temporary.ts";

// moto's server on loopback serves CloudFormation and S3. Step Functions and Batch are
// fakes that record requests: moto 5.1.18 returns Step Functions dates as ISO strings, which
// the AWS SDK v3 rejects ("Expected real number"), so no Step Functions call can reach it.
let server: S3Server;
let clients: { cloudFormation: CloudFormationClient; s3: S3Client };
const stateMachineArn = "arn:aws:states:us-east-1:123456789012:stateMachine:vocagno-cli-test";
const jobQueueArn = "arn:aws:batch:us-east-1:123456789012:job-queue/vocagno-cli-test";
const bucket = "vocagno-cli-test";
const stackName = "VocagnoCliTest";

beforeAll(async () => {
  server = await startS3Server();
  const config = {
    endpoint: server.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  };
  clients = { cloudFormation: new CloudFormationClient(config), s3: new S3Client(config) };
  await clients.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await clients.s3.send(
    new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: "Enabled" } }),
  );
  // A stack with the outputs of a deployed vocagno stack; the wait handle is only there because a stack needs a resource.
  await clients.cloudFormation.send(
    new CreateStackCommand({
      StackName: stackName,
      TemplateBody: JSON.stringify({
        Resources: { Placeholder: { Type: "AWS::CloudFormation::WaitConditionHandle" } },
        Outputs: {
          [STACK_OUTPUT.bucketName]: { Value: bucket },
          [STACK_OUTPUT.stateMachineArn]: { Value: stateMachineArn },
          [STACK_OUTPUT.jobQueueArn]: { Value: jobQueueArn },
          [STACK_OUTPUT.workerLogGroup]: { Value: "/vocagno/workers" },
        },
      }),
    }),
  );
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

/** Returns a fake client that records each command and returns what `respond` returns. */
function recordingClient<Client>(
  respond: (command: { constructor: { name: string }; input: unknown }) => unknown,
) {
  const sent: { name: string; input: unknown }[] = [];
  const client = {
    send: async (command: { constructor: { name: string }; input: unknown }) => {
      sent.push({ name: command.constructor.name, input: command.input });
      return respond(command);
    },
  } as unknown as Client;
  return { client, sent };
}

const temporaryDirectory = useTemporaryDirectories();

function writeExperiment(): string {
  const directory = temporaryDirectory("vocagno-cli");
  const file = path.join(directory, "owm-qwen.json");
  writeFileSync(file, `${JSON.stringify({ name: "owm-qwen" })}\n`);
  return file;
}

describe("readStackOutputs", () => {
  it("reads the bucket and state machine", async () => {
    const outputs = await readStackOutputs(clients.cloudFormation, stackName);
    expect(outputs.bucketName).toBe(bucket);
    expect(outputs.stateMachineArn).toBe(stateMachineArn);
  });

  it("names a missing stack", async () => {
    const error = await readStackOutputs(clients.cloudFormation, "NoSuchStack").catch((caught) => caught);
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toMatch(/^stack not found: NoSuchStack in region us-east-1 /);
    expect(error.message).toContain("--root DIR (status)");
  });
});

describe("startRemoteRun", () => {
  it("uploads without starting the execution", async () => {
    const sfn = recordingClient<SFNClient>(() => ({}));
    const started = await startRemoteRun(
      { ...clients, sfn: sfn.client },
      { experimentPath: writeExperiment(), stackName, start: false },
    );
    expect(started.experimentUri).toBe(`s3://${bucket}/experiments/owm-qwen.json`);
    expect(started.executionArn).toBeUndefined();
    expect(started.runId).toMatch(/^owm-qwen-[0-9a-f]{12}$/);
    expect(sfn.sent).toEqual([]);
    const object = await clients.s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: "experiments/owm-qwen.json" }),
    );
    expect(JSON.parse(await object.Body!.transformToString())).toEqual({ name: "owm-qwen" });
  });

  it("starts the execution under the trigger's name", async () => {
    const sfn = recordingClient<SFNClient>((command) => ({
      executionArn: executionArnOf(stateMachineArn, (command.input as { name: string }).name),
    }));
    const first = await startRemoteRun(
      { ...clients, sfn: sfn.client },
      { experimentPath: writeExperiment(), stackName, start: true },
    );
    const second = await startRemoteRun(
      { ...clients, sfn: sfn.client },
      { experimentPath: writeExperiment(), stackName, start: true },
    );
    // Each upload is a new object version, so it is a new run.
    expect(second.runId).not.toBe(first.runId);
    expect(sfn.sent[0]).toEqual({
      name: StartExecutionCommand.name,
      input: {
        stateMachineArn,
        name: first.runId,
        input: JSON.stringify({ experimentUri: first.experimentUri, runId: first.runId }),
      },
    });
    expect(first.executionArn).toBe(executionArnOf(stateMachineArn, first.runId));
  });
});

describe("readRemoteRunStatus", () => {
  it("shows the stage, the jobs and their log streams", async () => {
    const runId = "owm-qwen-0123456789ab";
    const sfn = recordingClient<SFNClient>((command) => {
      if (command.constructor.name === DescribeExecutionCommand.name) return { status: "RUNNING" };
      if (command.constructor.name === GetExecutionHistoryCommand.name) {
        return {
          events: [{ type: "TaskStateEntered", stateEnteredEventDetails: { name: "ScoreTeacherArray" } }],
        };
      }
      throw new Error(`unexpected request ${command.constructor.name}`);
    });
    const batch = recordingClient<BatchClient>((command) => {
      if (command.constructor.name === "ListJobsCommand") {
        const pattern = (command.input as { filters: { values: string[] }[] }).filters[0].values[0];
        return { jobSummaryList: pattern.startsWith("teacher-") ? [{ jobId: "job-1" }] : [] };
      }
      return {
        jobs: [
          {
            jobId: "job-1",
            jobName: `teacher-${runId}`,
            status: "RUNNING",
            arrayProperties: { statusSummary: { SUCCEEDED: 3, RUNNING: 1, FAILED: 0 } },
            attempts: [{ container: { logStreamName: "vocagno/default/abc" } }],
          },
        ],
      };
    });
    const status = await readRemoteRunStatus(
      { cloudFormation: clients.cloudFormation, sfn: sfn.client, batch: batch.client },
      { runId, stackName },
    );
    expect(status).toEqual({
      runId,
      executionArn: executionArnOf(stateMachineArn, runId),
      status: "RUNNING",
      currentStage: "ScoreTeacherArray",
      jobs: [
        {
          jobName: `teacher-${runId}`,
          jobId: "job-1",
          status: "RUNNING",
          statusReason: undefined,
          arrayStatus: { SUCCEEDED: 3, RUNNING: 1 },
          logStreamName: "vocagno/default/abc",
        },
      ],
      logGroupName: "/vocagno/workers",
    });
    expect(
      batch.sent.filter((request) => request.name === "ListJobsCommand").map((request) => request.input),
    ).toEqual([
      { jobQueue: jobQueueArn, filters: [{ name: "JOB_NAME", values: [`teacher-${runId}`] }] },
      { jobQueue: jobQueueArn, filters: [{ name: "JOB_NAME", values: [`train-${runId}*`] }] },
    ]);
  });
});

describe("lastEnteredState", () => {
  it("takes the newest entered state", () => {
    // Newest first, as GetExecutionHistory returns it with reverseOrder.
    const events = [
      { type: "TaskStateExited", stateExitedEventDetails: { name: "Plan" } },
      { type: "MapStateEntered", stateEnteredEventDetails: { name: "PrepareShards" } },
      { type: "TaskStateEntered", stateEnteredEventDetails: { name: "Plan" } },
    ];
    expect(lastEnteredState(events as never)).toBe("PrepareShards");
  });
});
