import { Duration } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as actions from "aws-cdk-lib/aws-cloudwatch-actions";
import type * as sns from "aws-cdk-lib/aws-sns";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import type * as sfn from "aws-cdk-lib/aws-stepfunctions";
import { Construct } from "constructs";

export interface PipelineAlarmsProps {
  readonly stateMachine: sfn.IStateMachine;
  readonly topic: sns.ITopic;
  /** Queue of trigger events that could not start a run. */
  readonly triggerDeadLetterQueue: sqs.IQueue;
}

/**
 * CloudWatch alarms on the pipeline: failed, timed-out and aborted
 * executions, and experiment files whose trigger failed. Each alarm notifies
 * the topic.
 *
 * @example
 * new PipelineAlarms(this, "Alarms", { stateMachine, topic, triggerDeadLetterQueue });
 */
export class PipelineAlarms extends Construct {
  readonly alarms: cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: PipelineAlarmsProps) {
    super(scope, id);
    const period = Duration.minutes(5);
    const atLeastOne = (name: string, metric: cloudwatch.IMetric, description: string) =>
      new cloudwatch.Alarm(this, name, {
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
    this.alarms = [
      atLeastOne(
        "ExecutionsFailed",
        props.stateMachine.metricFailed({ period, statistic: "Sum" }),
        "A vocagno run failed; its report.json names the failed state.",
      ),
      atLeastOne(
        "ExecutionsTimedOut",
        props.stateMachine.metricTimedOut({ period, statistic: "Sum" }),
        "A vocagno run timed out.",
      ),
      atLeastOne(
        "ExecutionsAborted",
        props.stateMachine.metricAborted({ period, statistic: "Sum" }),
        "A vocagno run was aborted.",
      ),
      atLeastOne(
        "TriggerDeadLetters",
        props.triggerDeadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period,
          statistic: "Maximum",
        }),
        "An experiment file did not start a run; see the trigger's dead-letter queue.",
      ),
    ];
    const notify = new actions.SnsAction(props.topic);
    for (const alarm of this.alarms) {
      alarm.addAlarmAction(notify);
    }
  }
}
