import { CfnOutput, Duration, Stack, type StackProps, Tags } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as logs from "aws-cdk-lib/aws-logs";
import type { Construct } from "constructs";
import { STACK_COMPUTE_ENV } from "../core/steps/stack-compute.ts";
import { BatchCompute, type WorkerResources } from "./batch-compute.ts";
import { ExperimentTrigger } from "./experiment-trigger.ts";
import { PipelineAlarms } from "./pipeline-alarms.ts";
import { PipelineFunction } from "./pipeline-function.ts";
import { PipelineNotifications } from "./pipeline-notifications.ts";
import { PipelineStateMachine } from "./pipeline-state-machine.ts";
import { StorageBucket } from "./storage-bucket.ts";
import { WorkerImage } from "./worker-image.ts";

/** Names of the stack outputs that the CLI reads (`vocagno run --stack`, `vocagno status`). */
export const STACK_OUTPUT = {
  bucketName: "BucketName",
  stateMachineArn: "StateMachineArn",
  jobQueueArn: "JobQueueArn",
  topicArn: "NotificationTopicArn",
  workerLogGroup: "WorkerLogGroupName",
} as const;

export interface VocagnoStackProps extends StackProps {
  /** EC2 instance types of the GPU compute environments. @default g5.xlarge, g5.2xlarge, g5.12xlarge */
  readonly instanceTypes?: string[];
  /** Whether GPU jobs may run on Spot capacity first. @default true */
  readonly spot?: boolean;
  /** Upper bound of each compute environment's vCPUs. @default 256 */
  readonly maxvCpus?: number;
  /** Nodes of a training job; above 1 makes training a multi-node parallel job. @default 1 */
  readonly trainNodes?: number;
  /** GPUs of each node of a multi-node training job; single-node jobs take theirs from each run. @default 1 */
  readonly trainGpusPerNode?: number;
  /** Teacher scoring container. @default see BatchCompute */
  readonly teacherResources?: WorkerResources;
  /** Training container, per node. @default see BatchCompute */
  readonly trainResources?: WorkerResources;
  /** Prepare Lambdas running at once. @default 100 */
  readonly prepareMaxConcurrency?: number;
  /** Share of work items, in percent, whose preparation may fail before the run fails. @default 0 */
  readonly toleratedFailurePercentage?: number;
  /** Email addresses that receive run notifications. @default none */
  readonly notificationEmails?: string[];
  /** Tags of every resource, added to `project: vocagno`. @default none */
  readonly resourceTags?: Record<string, string>;
}

/**
 * The whole vocagno pipeline on AWS: bucket, trigger, Lambdas, the state
 * machine, Batch GPU compute with the worker image, notifications and alarms.
 *
 * @example
 * const app = new App();
 * new VocagnoStack(app, "Vocagno", { instanceTypes: ["g6e.xlarge"], spot: false });
 */
export class VocagnoStack extends Stack {
  readonly storage: StorageBucket;
  readonly pipeline: PipelineStateMachine;
  readonly compute: BatchCompute;

  constructor(scope: Construct, id: string, props: VocagnoStackProps = {}) {
    super(scope, id, props);
    Tags.of(this).add("project", "vocagno");
    for (const [key, value] of Object.entries(props.resourceTags ?? {})) {
      Tags.of(this).add(key, value);
    }

    this.storage = new StorageBucket(this, "Storage");
    const bucket = this.storage.bucket;
    const notifications = new PipelineNotifications(this, "Notifications", {
      emails: props.notificationEmails,
    });

    const vpc = new ec2.Vpc(this, "Vpc", {
      maxAzs: 2,
      natGateways: 1,
      subnetConfiguration: [
        { name: "public", subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: "workers", subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
      ],
      // Shards, teacher scores and checkpoints go to S3 without passing the NAT gateway.
      gatewayEndpoints: { s3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
    });
    vpc.addFlowLog("FlowLogs", {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(
        new logs.LogGroup(this, "FlowLogGroup", { retention: logs.RetentionDays.ONE_MONTH }),
      ),
      trafficType: ec2.FlowLogTrafficType.REJECT,
    });

    const image = new WorkerImage(this, "WorkerImage");
    this.compute = new BatchCompute(this, "Compute", {
      vpc,
      bucket,
      image: image.containerImage,
      instanceTypes: props.instanceTypes,
      spot: props.spot,
      maxvCpus: props.maxvCpus,
      trainNodes: props.trainNodes,
      trainGpusPerNode: props.trainGpusPerNode,
      teacherResources: props.teacherResources,
      trainResources: props.trainResources,
    });

    const stepEnvironment = { VOCAGNO_BUCKET: bucket.bucketName };
    const plan = new PipelineFunction(this, "PlanFunction", {
      entryFile: "plan.ts",
      description: "Validates and freezes an experiment, lists the corpus and writes the run's work items",
      // Plan fails a run whose experiment requests compute that this stack does not provide.
      environment: { ...stepEnvironment, [STACK_COMPUTE_ENV]: JSON.stringify(this.compute.settings) },
      knownTokenizers: true,
    });
    const prepare = new PipelineFunction(this, "PrepareFunction", {
      entryFile: "prepare.ts",
      description: "Tokenizes and aligns one work item into a shard",
      memorySize: 3008,
      timeout: Duration.minutes(15),
      environment: stepEnvironment,
      knownTokenizers: true,
    });
    const evaluate = new PipelineFunction(this, "EvaluateFunction", {
      entryFile: "evaluate.ts",
      description: "Collects the held-out loss of each trained student variant",
      environment: stepEnvironment,
    });
    const report = new PipelineFunction(this, "ReportFunction", {
      entryFile: "report.ts",
      description: "Writes the run report and notifies about the run's end",
      environment: { ...stepEnvironment, VOCAGNO_TOPIC_ARN: notifications.topic.topicArn },
    });
    // Inputs (experiments, corpora, models, teacher bundles) may lie anywhere in the bucket; outputs go under runs/.
    for (const fn of [plan, prepare, evaluate, report]) {
      bucket.grantRead(fn);
    }
    for (const fn of [plan, prepare, evaluate, report]) {
      bucket.grantPut(fn, "runs/*");
    }
    bucket.grantDelete(prepare, "runs/*");
    notifications.topic.grantPublish(report);

    this.pipeline = new PipelineStateMachine(this, "Pipeline", {
      bucket,
      planFunction: plan,
      prepareFunction: prepare,
      evaluateFunction: evaluate,
      reportFunction: report,
      jobQueue: this.compute.jobQueue,
      trainJobQueue: this.compute.trainJobQueue,
      teacherJobDefinition: this.compute.teacherJobDefinition,
      trainJobDefinition: this.compute.trainJobDefinition,
      trainGpusPerRun: this.compute.settings.trainGpusPerRun,
      notificationTopic: notifications.topic,
      prepareMaxConcurrency: props.prepareMaxConcurrency,
      toleratedFailurePercentage: props.toleratedFailurePercentage,
    });

    const trigger = new ExperimentTrigger(this, "Trigger", {
      bucket,
      stateMachine: this.pipeline.stateMachine,
      encryptionKey: notifications.key,
    });
    new PipelineAlarms(this, "Alarms", {
      stateMachine: this.pipeline.stateMachine,
      topic: notifications.topic,
      triggerDeadLetterQueue: trigger.deadLetterQueue,
    });

    new CfnOutput(this, STACK_OUTPUT.bucketName, { value: bucket.bucketName });
    new CfnOutput(this, STACK_OUTPUT.stateMachineArn, { value: this.pipeline.stateMachine.stateMachineArn });
    new CfnOutput(this, STACK_OUTPUT.jobQueueArn, { value: this.compute.jobQueue.jobQueueArn });
    new CfnOutput(this, STACK_OUTPUT.topicArn, { value: notifications.topic.topicArn });
    new CfnOutput(this, STACK_OUTPUT.workerLogGroup, { value: this.compute.logGroup.logGroupName });
  }
}
