import type { Duration } from "aws-cdk-lib";
import type * as sfn from "aws-cdk-lib/aws-stepfunctions";
import * as tasks from "aws-cdk-lib/aws-stepfunctions-tasks";
import type { Construct } from "constructs";

export interface TimedBatchSubmitJobProps extends Omit<tasks.BatchSubmitJobProps, "taskTimeout" | "timeout"> {
  /** Limit of the whole task (all Batch attempts together), rendered as the state's `TimeoutSeconds`. */
  readonly stateTimeout: Duration;
}

/**
 * A Batch SubmitJob task with a state-level `TimeoutSeconds`. The stock task
 * turns its `taskTimeout` into the job's attempt timeout instead, which would
 * replace the job definition's own; here the job definition keeps it.
 *
 * @example
 * new TimedBatchSubmitJob(this, "Train", { stateTimeout: Duration.days(7), jobName: "train", jobQueueArn, jobDefinitionArn });
 */
export class TimedBatchSubmitJob extends tasks.BatchSubmitJob {
  private readonly stateTimeoutSeconds: number;

  constructor(scope: Construct, id: string, props: TimedBatchSubmitJobProps) {
    const { stateTimeout, ...submitProps } = props;
    super(scope, id, submitProps);
    this.stateTimeoutSeconds = stateTimeout.toSeconds();
  }

  override toStateJson(topLevelQueryLanguage?: sfn.QueryLanguage): object {
    return { ...super.toStateJson(topLevelQueryLanguage), TimeoutSeconds: this.stateTimeoutSeconds };
  }
}
