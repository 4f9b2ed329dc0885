import {
  type CloudFormationClient,
  DescribeStacksCommand,
  type DescribeStacksCommandOutput,
} from "@aws-sdk/client-cloudformation";
import { STACK_OUTPUT } from "../../infra/vocagno-stack.ts";

/** The outputs of a deployed vocagno stack that the CLI uses. */
export interface StackOutputs {
  readonly bucketName: string;
  readonly stateMachineArn: string;
  readonly jobQueueArn?: string;
  readonly workerLogGroup?: string;
}

/**
 * Reads the outputs of a deployed vocagno stack with CloudFormation
 * DescribeStacks; a missing output names the stack and the output.
 *
 * @example
 * const { bucketName, stateMachineArn } = await readStackOutputs(new CloudFormationClient({}), "Vocagno");
 */
export async function readStackOutputs(
  client: CloudFormationClient,
  stackName: string,
): Promise<StackOutputs> {
  let response: DescribeStacksCommandOutput;
  try {
    response = await client.send(new DescribeStacksCommand({ StackName: stackName }));
  } catch (error) {
    const region = await client.config.region().catch(() => "unset");
    const reason = error instanceof Error ? error.message : String(error);
    // For a missing stack, CloudFormation returns a ValidationError "Stack with id X does not exist".
    const missing = /does not exist/.test(reason);
    throw new Error(
      `${missing ? "stack not found" : "failed to read stack"}: ${stackName} in region ${region} (${reason}). ` +
        "Deploy it with `npx cdk deploy`, pass --stack NAME for another stack, or check the AWS credentials " +
        "and region. For runs on this machine, use --local (run) or --root DIR (status).",
      { cause: error },
    );
  }
  const stack = response.Stacks?.[0];
  if (stack === undefined)
    throw new Error(`stack ${stackName} not found; deploy it with \`npx cdk deploy\` or pass --stack NAME`);
  const outputs = new Map((stack.Outputs ?? []).map((output) => [output.OutputKey, output.OutputValue]));
  const required = (key: string) => {
    const value = outputs.get(key);
    if (value === undefined)
      throw new Error(`stack ${stackName} has no output ${key}; is it a vocagno stack?`);
    return value;
  };
  return {
    bucketName: required(STACK_OUTPUT.bucketName),
    stateMachineArn: required(STACK_OUTPUT.stateMachineArn),
    jobQueueArn: outputs.get(STACK_OUTPUT.jobQueueArn),
    workerLogGroup: outputs.get(STACK_OUTPUT.workerLogGroup),
  };
}

/** Returns the ARN of the execution named `runId` of a state machine (execution names are run ids). */
export function executionArnOf(stateMachineArn: string, runId: string): string {
  return `${stateMachineArn.replace(":stateMachine:", ":execution:")}:${runId}`;
}
