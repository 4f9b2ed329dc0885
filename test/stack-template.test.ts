import { Match, Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { parseExperiment } from "../core/experiment/index.ts";
import {
  type AslState,
  readPipelineTemplate,
  type StateMachineDefinition,
} from "../core/local-runner/pipeline-template.ts";
import { computeProblems, STACK_COMPUTE_ENV, type StackCompute } from "../core/steps/stack-compute.ts";
import { DEFAULT_STACK_COMPUTE } from "../core/steps/testing/run-fixtures.ts";
import { NON_RETRYABLE_ERRORS } from "../infra/pipeline-state-machine.ts";
import { STATE } from "../infra/state-names.ts";
import { createVocagnoApp } from "../infra/vocagno-app.ts";
import { TEACHER_SCORE_COMMAND, trainCommand } from "../infra/worker-commands.ts";

// One synthesis for the file, without Lambda bundling (stack-nag.test.ts covers a bundled synthesis).
let template: Template;
let definition: StateMachineDefinition;

beforeAll(() => {
  const { stack } = createVocagnoApp({ nag: false, bundle: false });
  template = Template.fromStack(stack);
  definition = readPipelineTemplate(template.toJSON() as never).definition;
});

/** Lists every state of the definition by name, nested ones included. */
function allStates(machine: StateMachineDefinition): [string, AslState][] {
  return Object.entries(machine.States).flatMap(([name, state]) => {
    const processor = state.ItemProcessor as StateMachineDefinition | undefined;
    return [[name, state] as [string, AslState], ...(processor ? allStates(processor) : [])];
  });
}

describe("StorageBucket", () => {
  it("encrypts, blocks public access and keeps versions", () => {
    template.hasResourceProperties("AWS::S3::Bucket", {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      VersioningConfiguration: { Status: "Enabled" },
    });
  });

  it("sends object events to EventBridge", () => {
    template.hasResourceProperties("Custom::S3BucketNotifications", {
      BucketName: { Ref: Match.stringLikeRegexp("^StorageBucket") },
      NotificationConfiguration: { EventBridgeConfiguration: {} },
    });
  });

  it("expires temporary objects and incomplete uploads", () => {
    template.hasResourceProperties("AWS::S3::Bucket", {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ Prefix: "tmp/", ExpirationInDays: 7, Status: "Enabled" }),
          Match.objectLike({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: "Enabled" }),
        ]),
      },
    });
  });

  it("denies requests without TLS", () => {
    template.hasResourceProperties("AWS::S3::BucketPolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
        ]),
      },
    });
  });
});

describe("ExperimentTrigger", () => {
  it("matches created experiment files", () => {
    template.hasResourceProperties("AWS::Events::Rule", {
      EventPattern: {
        source: ["aws.s3"],
        "detail-type": ["Object Created"],
        detail: { object: { key: [{ wildcard: "experiments/*.json" }] } },
      },
      Targets: [
        Match.objectLike({ DeadLetterConfig: Match.anyValue(), RetryPolicy: { MaximumRetryAttempts: 4 } }),
      ],
    });
  });

  it("gives the trigger the state machine", () => {
    template.hasResourceProperties("AWS::Lambda::Function", {
      Environment: {
        Variables: Match.objectLike({
          VOCAGNO_STATE_MACHINE_ARN: { Ref: Match.stringLikeRegexp("^PipelineStateMachine") },
        }),
      },
    });
  });
});

describe("PipelineFunction", () => {
  it("runs every handler on Node.js 20 with tracing", () => {
    const functions = template.findResources("AWS::Lambda::Function", {
      Properties: { Handler: "index.handler", Runtime: "nodejs26.x", TracingConfig: { Mode: "Active" } },
    });
    // plan, prepare, evaluate, report and trigger
    expect(Object.keys(functions)).toHaveLength(5);
  });
});

describe("PipelineStateMachine", () => {
  it("is a Standard machine with logs and tracing", () => {
    template.hasResourceProperties("AWS::StepFunctions::StateMachine", {
      StateMachineType: "STANDARD",
      LoggingConfiguration: Match.objectLike({ Level: "ALL", IncludeExecutionData: true }),
      TracingConfiguration: { Enabled: true },
    });
  });

  it("runs the stages in order", () => {
    const next = (name: string) => definition.States[name].Next;
    expect(definition.StartAt).toBe(STATE.plan);
    expect(next(STATE.plan)).toBe(STATE.prepareShards);
    expect(next(STATE.prepareShards)).toBe(STATE.chooseTeacherJob);
    expect(next(STATE.scoreTeacherArray)).toBe(STATE.trainVariants);
    expect(next(STATE.scoreTeacherSingle)).toBe(STATE.trainVariants);
    expect(next(STATE.trainVariants)).toBe(STATE.evaluate);
    expect(next(STATE.evaluate)).toBe(STATE.report);
    expect(next(STATE.report)).toBe(STATE.succeeded);
  });

  it("gives every task a timeout and retries with backoff", () => {
    const taskStates = allStates(definition).filter(([, state]) => state.Type === "Task");
    expect(taskStates.length).toBeGreaterThanOrEqual(9);
    for (const [name, state] of taskStates) {
      expect(state.TimeoutSeconds, name).toBeGreaterThan(0);
      const retriers = state.Retry as { BackoffRate?: number; MaxAttempts?: number }[] | undefined;
      expect(retriers?.length, name).toBeGreaterThan(0);
      for (const retrier of retriers ?? []) {
        // A retrier with no attempts only stops later retriers from matching.
        if (retrier.MaxAttempts !== 0) expect(retrier.BackoffRate, name).toBeGreaterThan(1);
      }
    }
  });

  it("catches every top-level task into the failure report", () => {
    const failurePath = new Set<string>([
      STATE.reportFailure,
      STATE.reportPlanFailure,
      STATE.notifyPlanFailure,
    ]);
    for (const [name, state] of Object.entries(definition.States)) {
      if (state.Type !== "Task" && state.Type !== "Map") continue;
      const catchers = state.Catch as { ErrorEquals: string[]; Next: string }[] | undefined;
      const catchAll = catchers?.find((catcher) => catcher.ErrorEquals.includes("States.ALL"));
      expect(catchAll, name).toBeDefined();
      if (failurePath.has(name)) {
        expect(catchAll?.Next, name).toBe(STATE.failed);
        continue;
      }
      const namer = definition.States[catchAll!.Next];
      expect(namer.Result, name).toBe(name);
      expect(namer.Next, name).toBe(STATE.chooseFailureReport);
    }
  });

  it("does not retry deterministic handler errors", () => {
    for (const name of [STATE.plan, STATE.evaluate, STATE.report, STATE.reportFailure]) {
      const retriers = definition.States[name].Retry as { ErrorEquals: string[]; MaxAttempts?: number }[];
      expect(retriers[0], name).toEqual({ ErrorEquals: NON_RETRYABLE_ERRORS, MaxAttempts: 0 });
    }
  });

  it("fails at once over the reject threshold", () => {
    // The report Lambda writes the FAILED report itself before it raises the error.
    const catchers = definition.States[STATE.report].Catch as { ErrorEquals: string[]; Next: string }[];
    expect(catchers[0]).toMatchObject({ ErrorEquals: ["RejectThresholdError"], Next: STATE.failed });
  });

  it("reports a failure as FAILED and then fails", () => {
    const report = definition.States[STATE.reportFailure];
    expect(report.Parameters).toMatchObject({
      Payload: { status: "FAILED", "runUri.$": "$.plan.runUri", "failedStep.$": "$.failedStep" },
    });
    expect(report.Next).toBe(STATE.failed);
    expect(definition.States[STATE.failed].Type).toBe("Fail");
  });

  it("reads the items from S3 in a Distributed Map", () => {
    const map = definition.States[STATE.prepareShards];
    expect(map).toMatchObject({
      Type: "Map",
      ItemProcessor: { ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" } },
      ItemReader: {
        Resource: "arn:aws:states:::s3:getObject",
        ReaderConfig: { InputType: "JSON" },
        Parameters: { "Key.$": "$.plan.itemsKey" },
      },
      MaxConcurrency: 100,
      ResultWriter: {
        Resource: "arn:aws:states:::s3:putObject",
        Parameters: { Prefix: "tmp/prepare-results" },
      },
      ResultSelector: { "mapRunArn.$": "$.MapRunArn" },
    });
    // CDK leaves out a tolerance of 0, which is also the Step Functions default.
    expect(map.ToleratedFailurePercentage ?? 0).toBe(0);
    expect(definition.States[STATE.plan].ResultSelector).toMatchObject({
      "itemsKey.$": "States.Format('runs/{}/items.json', $.Payload.runId)",
    });
  });

  it("uses an array job only for more than one slice", () => {
    expect(definition.States[STATE.chooseTeacherJob]).toMatchObject({
      Choices: [
        { Variable: "$.plan.teacherArraySize", NumericGreaterThan: 1, Next: STATE.scoreTeacherArray },
      ],
      Default: STATE.scoreTeacherSingle,
    });
    expect(definition.States[STATE.scoreTeacherArray].Parameters).toMatchObject({
      ArrayProperties: { "Size.$": "$.plan.teacherArraySize" },
    });
    expect(definition.States[STATE.scoreTeacherSingle].Parameters).not.toHaveProperty("ArrayProperties");
  });

  it("passes the array size to teacher workers", () => {
    // Batch sets only AWS_BATCH_JOB_ARRAY_INDEX in each child, and AWS_BATCH names are reserved.
    expect(definition.States[STATE.scoreTeacherArray].Parameters).toMatchObject({
      ContainerOverrides: {
        Environment: [
          { Name: "VOCAGNO_ARRAY_SIZE", "Value.$": "States.Format('{}', $.plan.teacherArraySize)" },
        ],
      },
    });
  });

  it("gives each training job the GPUs of the run's experiment", () => {
    // Batch's ResourceRequirements take text, so the plan's number is formatted in the Map's item.
    expect(definition.States[STATE.trainVariants].ItemSelector).toMatchObject({
      "gpus.$": "States.Format('{}', $.plan.gpusPerNode)",
    });
    const trainVariant = allStates(definition).find(([name]) => name === STATE.trainVariant)?.[1];
    expect(trainVariant?.Parameters).toMatchObject({
      ContainerOverrides: { ResourceRequirements: [{ Type: "GPU", "Value.$": "$.gpus" }] },
    });
    expect(definition.States[STATE.plan].ResultSelector).toMatchObject({
      "gpusPerNode.$": "$.Payload.compute.gpusPerNode",
    });
  });

  it("keeps only ids of Batch results", () => {
    const batchStates = allStates(definition).filter(
      ([, state]) => state.Resource === "arn:aws:states:::batch:submitJob.sync",
    );
    expect(batchStates.map(([name]) => name).sort()).toEqual(
      [STATE.scoreTeacherArray, STATE.scoreTeacherSingle, STATE.trainVariant].sort(),
    );
    for (const [name, state] of batchStates) {
      expect(state.ResultSelector, name).toEqual({
        "jobId.$": "$.JobId",
        "jobName.$": "$.JobName",
        "status.$": "$.Status",
      });
      // The job definition's attempt timeout applies, not one from the task.
      expect((state.Parameters as Record<string, unknown>).Timeout, name).toBeUndefined();
    }
  });

  it("trains each variant in a Map", () => {
    expect(definition.States[STATE.trainVariants]).toMatchObject({
      Type: "Map",
      ItemsPath: "$.plan.variants",
      ItemProcessor: { StartAt: STATE.trainVariant },
    });
  });
});

describe("BatchCompute", () => {
  it("scales GPU environments to zero on the AL2023 NVIDIA AMI", () => {
    for (const type of ["EC2", "SPOT"]) {
      template.hasResourceProperties("AWS::Batch::ComputeEnvironment", {
        Type: "managed",
        ComputeResources: Match.objectLike({
          Type: type,
          MinvCpus: 0,
          InstanceTypes: ["g5.xlarge", "g5.2xlarge", "g5.12xlarge"],
          Ec2Configuration: [{ ImageType: "ECS_AL2023_NVIDIA" }],
        }),
      });
    }
  });

  it("orders Spot before on-demand in the queue", () => {
    template.hasResourceProperties("AWS::Batch::JobQueue", {
      ComputeEnvironmentOrder: [Match.objectLike({ Order: 1 }), Match.objectLike({ Order: 2 })],
    });
  });

  it("defines the teacher job with its command, a GPU and retries", () => {
    template.hasResourceProperties("AWS::Batch::JobDefinition", {
      Type: "container",
      ContainerProperties: Match.objectLike({
        Command: TEACHER_SCORE_COMMAND,
        ResourceRequirements: Match.arrayWith([{ Type: "GPU", Value: "1" }]),
      }),
      Parameters: { provider: "cuda" },
      Timeout: { AttemptDurationSeconds: 4 * 3600 },
      RetryStrategy: {
        Attempts: 3,
        EvaluateOnExit: [
          { Action: "RETRY", OnStatusReason: "Host EC2*" },
          { Action: "EXIT", OnReason: "*" },
        ],
      },
    });
  });

  it("defines the training job with its command", () => {
    template.hasResourceProperties("AWS::Batch::JobDefinition", {
      Type: "container",
      ContainerProperties: Match.objectLike({ Command: trainCommand(1, 1) }),
      Timeout: { AttemptDurationSeconds: 48 * 3600 },
    });
  });

  it("scopes the job role to the bucket's prefixes", () => {
    const policies = template.findResources("AWS::IAM::Policy", {
      Properties: { Roles: [{ Ref: Match.stringLikeRegexp("^ComputeJobRole") }] },
    });
    const resources = JSON.stringify(
      Object.values(policies).map((policy) => policy.Properties.PolicyDocument),
    );
    expect(resources).toContain("/runs/*");
    expect(resources).not.toContain('"Resource":"*"');
  });

  it("makes training multi-node above one node", () => {
    const { stack } = createVocagnoApp({ nag: false, bundle: false, context: { "vocagno:trainNodes": 2 } });
    const multiNode = Template.fromStack(stack);
    multiNode.hasResourceProperties("AWS::Batch::JobDefinition", {
      Type: "multinode",
      NodeProperties: Match.objectLike({
        NumNodes: 2,
        MainNode: 0,
        NodeRangeProperties: [
          Match.objectLike({
            TargetNodes: "0:1",
            Container: Match.objectLike({ Command: trainCommand(1, 2) }),
          }),
        ],
      }),
    });
    // Multi-node jobs cannot run on Spot, so they get an on-demand queue.
    multiNode.resourceCountIs("AWS::Batch::JobQueue", 2);
  });
});

/** Reads the compute settings that a synthesized stack hands to its plan Lambda. */
function stackCompute(stackTemplate: Template): StackCompute {
  const functions = Object.values(stackTemplate.findResources("AWS::Lambda::Function")).flatMap(
    (resource) => resource.Properties.Environment?.Variables?.[STACK_COMPUTE_ENV] ?? [],
  );
  expect(functions).toHaveLength(1);
  return JSON.parse(functions[0]);
}

describe("stack compute settings", () => {
  it("hands the plan Lambda the deployed compute, which fits a default experiment", () => {
    const settings = stackCompute(template);
    // The fixture that the plan tests check experiments against is this stack's own setting.
    expect(settings).toEqual(DEFAULT_STACK_COMPUTE);
    const defaults = parseExperiment({
      name: "defaults",
      corpus: { uri: "s3://bucket/corpus/" },
      student: { model: "s3://bucket/student", tokenizer: "tinyllama" },
      teacher: { bundle: "s3://bucket/teacher", tokenizer: "qwen" },
    });
    expect(computeProblems(defaults.compute, settings)).toEqual([]);
  });

  it("follows the context of the deployment", () => {
    const { stack } = createVocagnoApp({
      nag: false,
      bundle: false,
      context: {
        "vocagno:instanceTypes": "g6e.xlarge,p5.48xlarge",
        "vocagno:spot": false,
        "vocagno:trainNodes": 2,
        "vocagno:trainGpusPerNode": 8,
        "vocagno:maxvCpus": 512,
      },
    });
    const deployed = Template.fromStack(stack);
    expect(stackCompute(deployed)).toMatchObject({
      instanceTypes: ["g6e.xlarge", "p5.48xlarge"],
      spot: false,
      trainNodes: 2,
      trainGpusPerNode: 8,
      trainGpusPerRun: false,
      maxvCpus: 512,
    });
    // Batch takes no container overrides for a multi-node job, so the plan checks its GPUs instead.
    const trainVariant = allStates(readPipelineTemplate(deployed.toJSON() as never).definition).find(
      ([name]) => name === STATE.trainVariant,
    )?.[1];
    expect(trainVariant?.Parameters).not.toHaveProperty("ContainerOverrides");
    deployed.hasResourceProperties("AWS::Batch::JobDefinition", {
      Type: "multinode",
      NodeProperties: Match.objectLike({
        NodeRangeProperties: [
          Match.objectLike({
            Container: Match.objectLike({
              Command: trainCommand(8, 2),
              ResourceRequirements: Match.arrayWith([{ Type: "GPU", Value: "8" }]),
            }),
          }),
        ],
      }),
    });
  });
});

describe("WorkerImage", () => {
  it("publishes the image from batch-image/Dockerfile", () => {
    template.hasResourceProperties("AWS::Batch::JobDefinition", {
      ContainerProperties: Match.objectLike({
        Image: { "Fn::Sub": Match.stringLikeRegexp("cdk-hnb659fds-container-assets") },
      }),
    });
  });
});

describe("PipelineAlarms", () => {
  it("alarms on failed executions into the encrypted topic", () => {
    template.hasResourceProperties("AWS::SNS::Topic", { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "ExecutionsFailed",
      Namespace: "AWS/States",
      Threshold: 1,
      AlarmActions: [{ Ref: Match.stringLikeRegexp("^NotificationsTopic") }],
    });
  });
});

describe("VocagnoStack", () => {
  it("tags every resource with the project", () => {
    for (const type of [
      "AWS::S3::Bucket",
      "AWS::StepFunctions::StateMachine",
      "AWS::Lambda::Function",
      "AWS::SNS::Topic",
    ]) {
      template.hasResourceProperties(type, { Tags: Match.arrayWith([{ Key: "project", Value: "vocagno" }]) });
    }
    template.hasResourceProperties("AWS::Batch::JobDefinition", { Tags: { project: "vocagno" } });
  });
});
