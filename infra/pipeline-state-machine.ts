import { Duration, RemovalPolicy } from "aws-cdk-lib";
import type * as batch from "aws-cdk-lib/aws-batch";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as s3 from "aws-cdk-lib/aws-s3";
import type * as sns from "aws-cdk-lib/aws-sns";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import * as tasks from "aws-cdk-lib/aws-stepfunctions-tasks";
import { Construct } from "constructs";
import { PLAN_FIELDS, STATE } from "./state-names.ts";
import { TEMPORARY_PREFIX } from "./storage-bucket.ts";
import { TimedBatchSubmitJob, type TimedBatchSubmitJobProps } from "./timed-batch-submit-job.ts";

export interface PipelineStateMachineProps {
  readonly bucket: s3.IBucket;
  readonly planFunction: lambda.IFunction;
  readonly prepareFunction: lambda.IFunction;
  readonly evaluateFunction: lambda.IFunction;
  readonly reportFunction: lambda.IFunction;
  readonly jobQueue: batch.IJobQueue;
  /** Queue of training jobs. @default jobQueue */
  readonly trainJobQueue?: batch.IJobQueue;
  readonly teacherJobDefinition: batch.IJobDefinition;
  readonly trainJobDefinition: batch.IJobDefinition;
  /**
   * Whether each training job gets the GPU count of the run's experiment
   * (`compute.gpusPerNode`); Batch takes no container overrides for a
   * multi-node job. @default true
   */
  readonly trainGpusPerRun?: boolean;
  /** Topic that hears about a failed execution that has no run id (the report Lambda notifies for all others). */
  readonly notificationTopic: sns.ITopic;
  /** Prepare Lambdas running at once. @default 100 */
  readonly prepareMaxConcurrency?: number;
  /** Share of work items, in percent, whose preparation may fail before the run fails. @default 0 */
  readonly toleratedFailurePercentage?: number;
  /** Limit of one Lambda task, retries not included. @default 15 minutes */
  readonly lambdaTaskTimeout?: Duration;
  /** Limit of the teacher scoring task, Batch's own retries included. @default 24 hours */
  readonly teacherTaskTimeout?: Duration;
  /** Limit of one training task, Batch's own retries included. @default 7 days */
  readonly trainTaskTimeout?: Duration;
}

/**
 * Errors of the pipeline's handlers that a retry would only repeat: an invalid
 * experiment or step input, a run id that names another experiment, a missing
 * storage root, an unreadable corpus plan, and a run over its reject threshold.
 */
export const NON_RETRYABLE_ERRORS = [
  "ExperimentError",
  "StepInputError",
  "RunConflictError",
  "StorageRootError",
  "CorpusPlanError",
  "RejectThresholdError",
];

/** Key prefix of the Distributed Map's results; the bucket expires them with the rest of tmp/. */
export const PREPARE_RESULTS_PREFIX = `${TEMPORARY_PREFIX}prepare-results`;

/**
 * The pipeline as a Standard state machine: plan, prepare (Distributed Map
 * over the run's items), teacher scoring (Batch array job), training (one
 * Batch job per variant), evaluate and report. State carries S3 pointers
 * only. Every task retries with backoff, and a failure ends in the report
 * Lambda with status FAILED, then in a Fail state.
 *
 * @example
 * const pipeline = new PipelineStateMachine(this, "Pipeline", { bucket, planFunction, ... });
 * pipeline.stateMachine.grantStartExecution(triggerFunction);
 */
export class PipelineStateMachine extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: PipelineStateMachineProps) {
    super(scope, id);
    const lambdaTimeout = props.lambdaTaskTimeout ?? Duration.minutes(15);

    // Failure path: name the failed state, report the failure into the run (the report Lambda notifies), then fail.
    const failed = new sfn.Fail(this, STATE.failed, {
      comment: "The run failed; the run's report.json names the failed state and its error.",
      errorPath: "$.error.Error",
      causePath: "$.error.Cause",
    });
    const failurePayload = {
      status: "FAILED",
      error: sfn.JsonPath.stringAt("$.error.Error"),
      cause: sfn.JsonPath.stringAt("$.error.Cause"),
      failedStep: sfn.JsonPath.stringAt("$.failedStep"),
    };
    const reportFailure = this.lambdaTask(STATE.reportFailure, props.reportFunction, lambdaTimeout, {
      payload: sfn.TaskInput.fromObject({
        runUri: sfn.JsonPath.stringAt("$.plan.runUri"),
        ...failurePayload,
      }),
      resultPath: sfn.JsonPath.DISCARD,
    });
    // A plan that failed has no run folder yet; the report Lambda derives it from the run id of the execution input.
    const reportPlanFailure = this.lambdaTask(STATE.reportPlanFailure, props.reportFunction, lambdaTimeout, {
      payload: sfn.TaskInput.fromObject({ runId: sfn.JsonPath.stringAt("$.runId"), ...failurePayload }),
      resultPath: sfn.JsonPath.DISCARD,
    });
    // Without a run id there is no run to write a report into, so the topic hears directly.
    const notifyPlanFailure = new tasks.SnsPublish(this, STATE.notifyPlanFailure, {
      topic: props.notificationTopic,
      subject: "vocagno run failed before planning",
      message: sfn.TaskInput.fromObject({
        execution: sfn.JsonPath.executionId,
        input: sfn.JsonPath.jsonToString(sfn.JsonPath.objectAt("$$.Execution.Input")),
        ...failurePayload,
      }),
      resultPath: sfn.JsonPath.DISCARD,
      taskTimeout: sfn.Timeout.duration(Duration.minutes(1)),
    });
    notifyPlanFailure.addRetry(this.retry(["States.ALL"], 3));
    for (const task of [reportFailure, reportPlanFailure, notifyPlanFailure]) {
      task.addCatch(failed, { resultPath: "$.failurePathError" });
      task.next(failed);
    }
    const failure = new sfn.Choice(this, STATE.chooseFailureReport)
      .when(sfn.Condition.isPresent("$.plan.runUri"), reportFailure)
      .when(sfn.Condition.isPresent("$.runId"), reportPlanFailure)
      .otherwise(notifyPlanFailure);
    const catchInto = (state: sfn.TaskStateBase | sfn.DistributedMap | sfn.Map) => {
      const nameFailedStep = new sfn.Pass(this, `${state.stateId}Failed`, {
        result: sfn.Result.fromString(state.stateId),
        resultPath: "$.failedStep",
      });
      nameFailedStep.next(failure);
      state.addCatch(nameFailedStep, { errors: ["States.ALL"], resultPath: "$.error" });
    };

    // Plan: freeze the experiment and write the run's items; keep only pointers and sizes.
    const planSelector: Record<string, string> = Object.fromEntries(
      Object.entries(PLAN_FIELDS).map(([field, resultPath]) => [`${field}.$`, resultPath]),
    );
    const plan = this.lambdaTask(STATE.plan, props.planFunction, lambdaTimeout, {
      payload: sfn.TaskInput.fromJsonPathAt("$"),
      resultSelector: {
        ...planSelector,
        itemsKey: sfn.JsonPath.format("runs/{}/items.json", sfn.JsonPath.stringAt("$.Payload.runId")),
      },
      resultPath: "$.plan",
    });
    catchInto(plan);

    // Prepare: one Lambda per work item. The Map reads the items from S3, so no state carries the list.
    const prepareItem = this.lambdaTask(STATE.prepareItem, props.prepareFunction, lambdaTimeout, {
      payload: sfn.TaskInput.fromJsonPathAt("$"),
      resultSelector: { "item.$": "$.Payload.item" },
    });
    const prepareShards = new sfn.DistributedMap(this, STATE.prepareShards, {
      comment: "Tokenizes and aligns each work item of the run into one shard.",
      itemReader: new sfn.S3JsonItemReader({
        bucket: props.bucket,
        key: sfn.JsonPath.stringAt("$.plan.itemsKey"),
      }),
      // Each entry of items.json is the whole input of one prepare invocation: { runUri, item }.
      maxConcurrency: props.prepareMaxConcurrency ?? 100,
      toleratedFailurePercentage: props.toleratedFailurePercentage ?? 0,
      // Child results go to S3: 10,000 of them would not fit in one state's 256 KiB.
      resultWriterV2: new sfn.ResultWriterV2({ bucket: props.bucket, prefix: PREPARE_RESULTS_PREFIX }),
      resultSelector: { "mapRunArn.$": "$.MapRunArn" },
      resultPath: "$.prepare",
      mapExecutionType: sfn.StateMachineType.STANDARD,
      label: "prepare",
    });
    prepareShards.itemProcessor(prepareItem);
    catchInto(prepareShards);

    // Teacher scoring: Batch array jobs need a size of at least 2, so one slice runs as a plain job.
    const teacherPayload = sfn.TaskInput.fromObject({
      run: sfn.JsonPath.stringAt("$.plan.runUri"),
      teacher: sfn.JsonPath.stringAt("$.plan.teacherBundleUri"),
      aggregation: sfn.JsonPath.stringAt("$.plan.aggregation"),
    });
    const teacherJobName = sfn.JsonPath.format("teacher-{}", sfn.JsonPath.stringAt("$.plan.runId"));
    const teacherTimeout = props.teacherTaskTimeout ?? Duration.hours(24);
    const scoreTeacherArray = this.batchTask(STATE.scoreTeacherArray, teacherTimeout, {
      jobName: teacherJobName,
      jobQueueArn: props.jobQueue.jobQueueArn,
      jobDefinitionArn: props.teacherJobDefinition.jobDefinitionArn,
      arraySize: sfn.JsonPath.numberAt("$.plan.teacherArraySize"),
      // Batch gives each child only its index, so the size travels as an environment override.
      containerOverrides: {
        environment: {
          VOCAGNO_ARRAY_SIZE: sfn.JsonPath.format("{}", sfn.JsonPath.stringAt("$.plan.teacherArraySize")),
        },
      },
      payload: teacherPayload,
      resultPath: "$.teacher",
    });
    const scoreTeacherSingle = this.batchTask(STATE.scoreTeacherSingle, teacherTimeout, {
      jobName: teacherJobName,
      jobQueueArn: props.jobQueue.jobQueueArn,
      jobDefinitionArn: props.teacherJobDefinition.jobDefinitionArn,
      payload: teacherPayload,
      resultPath: "$.teacher",
    });
    catchInto(scoreTeacherArray);
    catchInto(scoreTeacherSingle);
    const chooseTeacherJob = new sfn.Choice(this, STATE.chooseTeacherJob)
      .when(sfn.Condition.numberGreaterThan("$.plan.teacherArraySize", 1), scoreTeacherArray)
      .otherwise(scoreTeacherSingle);

    // Training: one Batch job per variant (guided, baseline), all at once.
    const trainVariant = this.batchTask(STATE.trainVariant, props.trainTaskTimeout ?? Duration.days(7), {
      jobName: sfn.JsonPath.format(
        "train-{}-{}",
        sfn.JsonPath.stringAt("$.runId"),
        sfn.JsonPath.stringAt("$.variant"),
      ),
      jobQueueArn: (props.trainJobQueue ?? props.jobQueue).jobQueueArn,
      jobDefinitionArn: props.trainJobDefinition.jobDefinitionArn,
      // The experiment's GPUs per node, as the Batch API's text value; the trainer starts one process per GPU.
      containerOverrides:
        (props.trainGpusPerRun ?? true) ? { gpuCount: sfn.JsonPath.numberAt("$.gpus") } : undefined,
      payload: sfn.TaskInput.fromObject({
        run: sfn.JsonPath.stringAt("$.runUri"),
        variant: sfn.JsonPath.stringAt("$.variant"),
        config: sfn.JsonPath.stringAt("$.config"),
      }),
    });
    const trainVariants = new sfn.Map(this, STATE.trainVariants, {
      comment: "Trains each student variant of the run as its own Batch job.",
      itemsPath: "$.plan.variants",
      itemSelector: {
        runId: sfn.JsonPath.stringAt("$.plan.runId"),
        runUri: sfn.JsonPath.stringAt("$.plan.runUri"),
        config: sfn.JsonPath.stringAt("$.plan.trainerConfigUri"),
        variant: sfn.JsonPath.stringAt("$$.Map.Item.Value"),
        gpus: sfn.JsonPath.format("{}", sfn.JsonPath.stringAt("$.plan.gpusPerNode")),
      },
      maxConcurrency: 0,
      resultPath: "$.train",
    });
    trainVariants.itemProcessor(trainVariant);
    catchInto(trainVariants);

    const evaluate = this.lambdaTask(STATE.evaluate, props.evaluateFunction, lambdaTimeout, {
      payload: sfn.TaskInput.fromObject({
        runUri: sfn.JsonPath.stringAt("$.plan.runUri"),
        variants: sfn.JsonPath.listAt("$.plan.variants"),
      }),
      resultPath: sfn.JsonPath.DISCARD,
    });
    catchInto(evaluate);

    const report = this.lambdaTask(STATE.report, props.reportFunction, lambdaTimeout, {
      payload: sfn.TaskInput.fromObject({
        runUri: sfn.JsonPath.stringAt("$.plan.runUri"),
        status: "SUCCEEDED",
      }),
      resultSelector: { "status.$": "$.Payload.status" },
      resultPath: "$.report",
    });
    // Over the reject threshold, the report Lambda has already written the FAILED report and notified.
    report.addCatch(failed, { errors: ["RejectThresholdError"], resultPath: "$.error" });
    catchInto(report);

    const definition = plan.next(prepareShards).next(chooseTeacherJob);
    chooseTeacherJob
      .afterwards()
      .next(trainVariants)
      .next(evaluate)
      .next(report)
      .next(new sfn.Succeed(this, STATE.succeeded));

    this.logGroup = new logs.LogGroup(this, "Logs", {
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new sfn.StateMachine(this, "StateMachine", {
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
      comment: "vocagno pipeline: plan, prepare, teacher scoring, training, evaluation, report",
    });
    // The Distributed Map reads items.json and writes its results with the state machine's role.
    props.bucket.grantRead(this.stateMachine, "runs/*/items.json");
    props.bucket.grantPut(this.stateMachine, `${PREPARE_RESULTS_PREFIX}/*`);
  }

  private retry(errors: string[], maxAttempts: number, interval = Duration.seconds(5)): sfn.RetryProps {
    return {
      errors,
      maxAttempts,
      interval,
      backoffRate: 2,
      maxDelay: Duration.minutes(5),
      jitterStrategy: sfn.JitterType.FULL,
    };
  }

  private lambdaTask(
    name: string,
    fn: lambda.IFunction,
    timeout: Duration,
    props: Omit<tasks.LambdaInvokeProps, "lambdaFunction">,
  ): tasks.LambdaInvoke {
    const task = new tasks.LambdaInvoke(this, name, {
      lambdaFunction: fn,
      taskTimeout: sfn.Timeout.duration(timeout),
      // The Lambda service errors get their own retrier below, with more attempts.
      retryOnServiceExceptions: false,
      ...props,
    });
    task.addRetry({ errors: NON_RETRYABLE_ERRORS, maxAttempts: 0 });
    task.addRetry(
      this.retry(
        [
          "Lambda.ServiceException",
          "Lambda.AWSLambdaException",
          "Lambda.SdkClientException",
          "Lambda.TooManyRequestsException",
        ],
        6,
        Duration.seconds(2),
      ),
    );
    task.addRetry(this.retry(["States.TaskFailed", "States.Timeout"], 2));
    return task;
  }

  private batchTask(
    name: string,
    timeout: Duration,
    props: Omit<TimedBatchSubmitJobProps, "integrationPattern" | "stateTimeout">,
  ): TimedBatchSubmitJob {
    const task = new TimedBatchSubmitJob(this, name, {
      integrationPattern: sfn.IntegrationPattern.RUN_JOB,
      stateTimeout: timeout,
      // The DescribeJobs result lists every attempt and can grow large, so only the ids are kept.
      resultSelector: {
        "jobId.$": "$.JobId",
        "jobName.$": "$.JobName",
        "status.$": "$.Status",
      },
      ...props,
    });
    // Submit throttling, and one more run of a failed job: workers skip what is already done.
    task.addRetry(this.retry(["Batch.AWSBatchException"], 5, Duration.seconds(10)));
    task.addRetry(this.retry(["States.TaskFailed"], 1, Duration.seconds(60)));
    return task;
  }
}
