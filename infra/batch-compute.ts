import { Duration, Size, Stack } from "aws-cdk-lib";
import * as batch from "aws-cdk-lib/aws-batch";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as iam from "aws-cdk-lib/aws-iam";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as s3 from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import type { StackCompute } from "../core/steps/stack-compute.ts";
import {
  TEACHER_SCORE_COMMAND,
  TEACHER_SCORE_DEFAULT_PARAMETERS,
  trainCommand,
  WORKER_ENVIRONMENT,
} from "./worker-commands.ts";

/** Resources of one worker container. */
export interface WorkerResources {
  /** vCPUs per container. */
  readonly vcpus: number;
  /** Memory per container in MiB. */
  readonly memoryMiB: number;
  /** GPUs per container. */
  readonly gpus: number;
  /** Limit of one attempt, after which Batch stops the job. */
  readonly attemptTimeout: Duration;
}

export interface BatchComputeProps {
  readonly vpc: ec2.IVpc;
  readonly bucket: s3.IBucket;
  readonly image: ecs.ContainerImage;
  /** EC2 instance types of the compute environments. @default g5.xlarge, g5.2xlarge, g5.12xlarge */
  readonly instanceTypes?: string[];
  /** Upper bound of each compute environment's vCPUs. @default 256 */
  readonly maxvCpus?: number;
  /** Whether a Spot compute environment is placed before the on-demand one in the queue. @default true */
  readonly spot?: boolean;
  /** Teacher scoring container. @default 4 vCPUs, 15 GiB, 1 GPU, 4 hours */
  readonly teacherResources?: WorkerResources;
  /** Training container, per node. @default 8 vCPUs, 30 GiB, 1 GPU, 48 hours */
  readonly trainResources?: WorkerResources;
  /** Nodes of a training job; above 1 training is a multi-node parallel job on on-demand capacity. @default 1 */
  readonly trainNodes?: number;
  /** GPUs per training node, replacing those of `trainResources`. @default those of trainResources */
  readonly trainGpusPerNode?: number;
  /** Attempts of a job, counting the first; only Spot reclaims are retried. @default 3 */
  readonly retryAttempts?: number;
}

/** Default instance types; they include the experiment's default teacher (g5.xlarge) and training (g5.2xlarge) types. */
export const DEFAULT_INSTANCE_TYPES = ["g5.xlarge", "g5.2xlarge", "g5.12xlarge"];

const DEFAULT_TEACHER_RESOURCES: WorkerResources = {
  vcpus: 4,
  memoryMiB: 15 * 1024,
  gpus: 1,
  attemptTimeout: Duration.hours(4),
};

const DEFAULT_TRAIN_RESOURCES: WorkerResources = {
  vcpus: 8,
  memoryMiB: 30 * 1024,
  gpus: 1,
  attemptTimeout: Duration.hours(48),
};

/**
 * Retry rules of every worker job: Batch retries a job whose host was
 * reclaimed (status reason `Host EC2 (instance i-…) terminated.`) and stops on
 * anything else, because a worker error repeats on a new host. Rules apply in
 * order, so the last one catches every other reason.
 */
export const WORKER_RETRY_STRATEGIES = [
  batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.SPOT_INSTANCE_RECLAIMED),
  batch.RetryStrategy.of(batch.Action.EXIT, batch.Reason.custom({ onReason: "*" })),
];

/**
 * GPU capacity of the pipeline: on-demand and (optionally) Spot EC2 compute
 * environments on the GPU-optimised ECS AMI that scale to zero, a job queue,
 * and the job definitions of teacher scoring and training.
 *
 * @example
 * const compute = new BatchCompute(this, "Compute", { vpc, bucket, image: image.containerImage });
 * compute.teacherJobDefinition.jobDefinitionArn;
 */
export class BatchCompute extends Construct {
  readonly jobQueue: batch.JobQueue;
  /** Queue of multi-node training jobs; on-demand only because Batch runs multi-node jobs without Spot. */
  readonly trainJobQueue: batch.JobQueue;
  readonly teacherJobDefinition: batch.EcsJobDefinition;
  readonly trainJobDefinition: batch.EcsJobDefinition | batch.MultiNodeJobDefinition;
  readonly jobRole: iam.Role;
  readonly logGroup: logs.LogGroup;
  /** Settings fixed at deployment, which the plan step checks each experiment against. */
  readonly settings: StackCompute;

  constructor(scope: Construct, id: string, props: BatchComputeProps) {
    super(scope, id);
    const instanceTypeNames = props.instanceTypes ?? DEFAULT_INSTANCE_TYPES;
    const instanceTypes = instanceTypeNames.map((name) => new ec2.InstanceType(name));
    const trainNodes = props.trainNodes ?? 1;
    if (!Number.isInteger(trainNodes) || trainNodes < 1) {
      throw new Error(`trainNodes is ${trainNodes}; set it to a whole number of nodes, 1 or more.`);
    }
    const securityGroup = new ec2.SecurityGroup(this, "WorkerSecurityGroup", {
      vpc: props.vpc,
      description: "vocagno GPU workers: outbound only, plus traffic between nodes of one multi-node job",
      allowAllOutbound: true,
    });
    // NCCL and torch.distributed between the nodes of a multi-node training job.
    securityGroup.addIngressRule(
      securityGroup,
      ec2.Port.allTraffic(),
      "nodes of one multi-node training job",
    );

    const computeEnvironment = (name: string, spot: boolean) =>
      new batch.ManagedEc2EcsComputeEnvironment(this, name, {
        vpc: props.vpc,
        vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
        securityGroups: [securityGroup],
        instanceTypes,
        useOptimalInstanceClasses: false,
        images: [{ imageType: batch.EcsMachineImageType.ECS_AL2023_NVIDIA }],
        minvCpus: 0,
        maxvCpus: props.maxvCpus ?? 256,
        spot,
        allocationStrategy: spot
          ? batch.AllocationStrategy.SPOT_PRICE_CAPACITY_OPTIMIZED
          : batch.AllocationStrategy.BEST_FIT_PROGRESSIVE,
        updateToLatestImageVersion: true,
      });
    const onDemand = computeEnvironment("OnDemand", false);
    const useSpot = props.spot ?? true;
    this.jobQueue = new batch.JobQueue(this, "JobQueue", {
      computeEnvironments: useSpot
        ? [
            { computeEnvironment: computeEnvironment("Spot", true), order: 1 },
            { computeEnvironment: onDemand, order: 2 },
          ]
        : [{ computeEnvironment: onDemand, order: 1 }],
    });
    this.trainJobQueue =
      trainNodes > 1
        ? new batch.JobQueue(this, "MultiNodeJobQueue", {
            computeEnvironments: [{ computeEnvironment: onDemand, order: 1 }],
          })
        : this.jobQueue;

    this.jobRole = new iam.Role(this, "JobRole", {
      assumedBy: new iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
      description: "vocagno GPU workers: read run inputs, write teacher scores and checkpoints",
    });
    // Student models and teacher bundles may lie anywhere in the bucket; workers write only under runs/.
    props.bucket.grantRead(this.jobRole);
    props.bucket.grantReadWrite(this.jobRole, "runs/*");

    this.logGroup = new logs.LogGroup(this, "JobLogs", { retention: logs.RetentionDays.THREE_MONTHS });
    const logging = ecs.LogDrivers.awsLogs({ streamPrefix: "vocagno", logGroup: this.logGroup });

    const container = (name: string, command: string[], resources: WorkerResources) =>
      new batch.EcsEc2ContainerDefinition(this, name, {
        image: props.image,
        command,
        cpu: resources.vcpus,
        memory: Size.mebibytes(resources.memoryMiB),
        gpu: resources.gpus,
        // The AWS SDKs in the container read the region from the environment.
        environment: { ...WORKER_ENVIRONMENT, AWS_REGION: Stack.of(this).region },
        jobRole: this.jobRole,
        logging,
        // PyTorch data loaders share tensors through /dev/shm, which Docker sizes at 64 MiB by default.
        linuxParameters: new batch.LinuxParameters(this, `${name}LinuxParameters`, {
          sharedMemorySize: Size.gibibytes(8),
        }),
      });

    const teacher = props.teacherResources ?? DEFAULT_TEACHER_RESOURCES;
    const retryAttempts = props.retryAttempts ?? 3;
    this.teacherJobDefinition = new batch.EcsJobDefinition(this, "TeacherScoreJob", {
      container: container("TeacherScoreContainer", TEACHER_SCORE_COMMAND, teacher),
      parameters: { ...TEACHER_SCORE_DEFAULT_PARAMETERS },
      timeout: teacher.attemptTimeout,
      retryAttempts,
      retryStrategies: WORKER_RETRY_STRATEGIES,
      propagateTags: true,
    });

    const trainResources = props.trainResources ?? DEFAULT_TRAIN_RESOURCES;
    const train = { ...trainResources, gpus: props.trainGpusPerNode ?? trainResources.gpus };
    this.settings = {
      instanceTypes: instanceTypeNames,
      spot: useSpot,
      onDemand: true,
      trainNodes,
      trainGpusPerNode: train.gpus,
      // Batch takes no container overrides for a multi-node job, so its GPUs stay those of the definition.
      trainGpusPerRun: trainNodes === 1,
      maxvCpus: props.maxvCpus ?? 256,
    };
    const trainContainer = container("TrainContainer", trainCommand(train.gpus, trainNodes), train);
    this.trainJobDefinition =
      trainNodes > 1
        ? new batch.MultiNodeJobDefinition(this, "TrainJob", {
            containers: [{ startNode: 0, endNode: trainNodes - 1, container: trainContainer }],
            mainNode: 0,
            timeout: train.attemptTimeout,
            retryAttempts,
            retryStrategies: WORKER_RETRY_STRATEGIES,
            propagateTags: true,
          })
        : new batch.EcsJobDefinition(this, "TrainJob", {
            container: trainContainer,
            timeout: train.attemptTimeout,
            retryAttempts,
            retryStrategies: WORKER_RETRY_STRATEGIES,
            propagateTags: true,
          });
  }
}
