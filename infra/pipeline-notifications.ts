import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import * as sns from "aws-cdk-lib/aws-sns";
import * as subscriptions from "aws-cdk-lib/aws-sns-subscriptions";
import { Construct } from "constructs";

export interface PipelineNotificationsProps {
  /** Addresses that receive run reports and alarms by email. @default none */
  readonly emails?: string[];
}

/**
 * The encrypted SNS topic that hears about finished and failed runs, and the
 * key that encrypts it (and the other queues and topics of the stack).
 *
 * @example
 * const notifications = new PipelineNotifications(this, "Notifications", { emails: ["ml@example.com"] });
 * notifications.topic.grantPublish(reportFunction);
 */
export class PipelineNotifications extends Construct {
  readonly topic: sns.Topic;
  readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: PipelineNotificationsProps = {}) {
    super(scope, id);
    this.key = new kms.Key(this, "Key", {
      enableKeyRotation: true,
      description: "vocagno notifications and dead-letter queues",
    });
    // CloudWatch alarms and EventBridge publish into the encrypted topic and queue.
    for (const service of ["cloudwatch.amazonaws.com", "events.amazonaws.com"]) {
      this.key.grant(new iam.ServicePrincipal(service), "kms:Decrypt", "kms:GenerateDataKey*");
    }
    this.topic = new sns.Topic(this, "Topic", {
      displayName: "vocagno runs",
      masterKey: this.key,
      enforceSSL: true,
    });
    for (const email of props.emails ?? []) {
      this.topic.addSubscription(new subscriptions.EmailSubscription(email));
    }
  }
}
