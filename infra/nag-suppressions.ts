import type { Stack } from "aws-cdk-lib";
import { NagSuppressions } from "cdk-nag";

/**
 * Records each cdk-nag AwsSolutions finding that the stack accepts, with the
 * reason. Wildcard suppressions list the exact policy entries they cover, so a
 * new wildcard elsewhere still fails the checks.
 */
export function addNagSuppressions(stack: Stack): void {
  NagSuppressions.addStackSuppressions(stack, [
    {
      id: "AwsSolutions-IAM4",
      reason:
        "AWSLambdaBasicExecutionRole only lets a function write its own CloudWatch Logs; it is the documented minimum for Lambda.",
      appliesTo: ["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
    },
    {
      id: "AwsSolutions-IAM4",
      reason:
        "AmazonEC2ContainerServiceforEC2Role is the instance role that AWS Batch documents for the ECS agent on its EC2 hosts.",
      appliesTo: [
        "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role",
      ],
    },
    {
      id: "AwsSolutions-SQS3",
      reason: "The queue is itself the dead-letter queue of the trigger rule's Lambda target.",
    },
    {
      id: "AwsSolutions-IAM5",
      reason:
        "Action wildcards come from the S3 and KMS grant methods (grantRead, grantPut, grantReadWrite), which scope them to " +
        "one bucket or key; each expands to the read, write or multipart-upload actions of that grant.",
      appliesTo: [
        "Action::s3:GetObject*",
        "Action::s3:GetBucket*",
        "Action::s3:List*",
        "Action::s3:DeleteObject*",
        "Action::s3:Abort*",
        "Action::kms:GenerateDataKey*",
        "Action::kms:ReEncrypt*",
      ],
    },
    {
      id: "AwsSolutions-IAM5",
      reason:
        "Object wildcards are scoped to the pipeline bucket and its layout: inputs anywhere in the bucket are read, " +
        "outputs are written under runs/, experiments/ and the Distributed Map's results under tmp/.",
      appliesTo: [
        { regex: "/^Resource::<StorageBucket[0-9A-F]+\\.Arn>\\/.*$/" },
        { regex: "/^Resource::arn:(aws[a-z-]*|<AWS::Partition>):s3:::<StorageBucket[0-9A-F]+>\\/\\*$/" },
      ],
    },
    {
      id: "AwsSolutions-IAM5",
      reason:
        "Step Functions invokes a Lambda by ARN with any version or alias suffix (<function ARN>:*), as the LambdaInvoke task grants.",
      appliesTo: [{ regex: "/^Resource::<[A-Za-z0-9]+Function[0-9A-F]+\\.Arn>:\\*$/" }],
    },
    {
      id: "AwsSolutions-IAM5",
      reason:
        "Batch SubmitJob with a job definition ARN also needs the unversioned definition name, which the BatchSubmitJob task " +
        "grants as job-definition/*; the Distributed Map needs its own child executions and map runs (execution:<name>:*).",
      appliesTo: [
        // The region and account are tokens or literals, depending on the stack's env.
        { regex: "/^Resource::arn:.+:batch:.+:job-definition\\/\\*$/" },
        { regex: "/^Resource::arn:.+:states:.+:execution:.*$/" },
      ],
    },
    {
      id: "AwsSolutions-IAM5",
      reason:
        "Resource * is required by actions that have no resource scope: X-Ray PutTraceSegments/PutTelemetryRecords, " +
        "CloudWatch Logs delivery of the state machine's log group, ECR GetAuthorizationToken of the Batch execution role, " +
        "and Batch DescribeJobs/TerminateJob of the .sync integration.",
      appliesTo: ["Resource::*"],
    },
  ]);
}
