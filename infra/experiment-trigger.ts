import { Duration } from "aws-cdk-lib";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import type * as kms from "aws-cdk-lib/aws-kms";
import type * as s3 from "aws-cdk-lib/aws-s3";
import * as sqs from "aws-cdk-lib/aws-sqs";
import type * as sfn from "aws-cdk-lib/aws-stepfunctions";
import { Construct } from "constructs";
import { PipelineFunction } from "./pipeline-function.ts";

/** Prefix under which a new experiment file starts a run. */
export const EXPERIMENTS_PREFIX = "experiments/";

export interface ExperimentTriggerProps {
  readonly bucket: s3.IBucket;
  readonly stateMachine: sfn.IStateMachine;
  /** Key that encrypts the queue of events the trigger could not take. */
  readonly encryptionKey: kms.IKey;
}

/**
 * Starts a run when an experiment file (`experiments/<name>.json`) is created
 * in the bucket: an EventBridge rule invokes the trigger Lambda, which starts
 * one execution per object version (the execution name deduplicates).
 *
 * @example
 * new ExperimentTrigger(this, "Trigger", { bucket, stateMachine, encryptionKey });
 */
export class ExperimentTrigger extends Construct {
  readonly function: PipelineFunction;
  readonly rule: events.Rule;
  /** Events that still failed after EventBridge's retries. */
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: ExperimentTriggerProps) {
    super(scope, id);
    this.function = new PipelineFunction(this, "Function", {
      entryFile: "trigger.ts",
      description: "Starts a vocagno run for an experiment file created under experiments/",
      timeout: Duration.minutes(1),
      memorySize: 512,
      environment: {
        VOCAGNO_BUCKET: props.bucket.bucketName,
        VOCAGNO_STATE_MACHINE_ARN: props.stateMachine.stateMachineArn,
      },
    });
    props.stateMachine.grantStartExecution(this.function);
    props.bucket.grantRead(this.function, `${EXPERIMENTS_PREFIX}*`);

    this.deadLetterQueue = new sqs.Queue(this, "DeadLetterQueue", {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: props.encryptionKey,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.rule = new events.Rule(this, "ExperimentCreated", {
      description: "An experiment file was created under experiments/ in the vocagno bucket",
      eventPattern: {
        source: ["aws.s3"],
        detailType: ["Object Created"],
        detail: {
          bucket: { name: [props.bucket.bucketName] },
          object: { key: events.Match.wildcard(`${EXPERIMENTS_PREFIX}*.json`) },
        },
      },
    });
    this.rule.addTarget(
      new targets.LambdaFunction(this.function, {
        deadLetterQueue: this.deadLetterQueue,
        retryAttempts: 4,
        maxEventAge: Duration.hours(2),
      }),
    );
  }
}
