import { App, type AppProps, Aspects } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { addNagSuppressions } from "./nag-suppressions.ts";
import { VocagnoStack, type VocagnoStackProps } from "./vocagno-stack.ts";

/** Default name of the stack, also the default of `--stack` in the CLI. */
export const DEFAULT_STACK_NAME = "Vocagno";

export interface VocagnoAppOptions extends AppProps {
  /** Run the cdk-nag AwsSolutions checks at synthesis. @default true */
  readonly nag?: boolean;
  /** Bundle the Lambda code; false skips esbuild, for a synthesis that only reads the template. @default true */
  readonly bundle?: boolean;
}

/**
 * CDK feature flags of the app. They live here rather than in cdk.json so that
 * tests and the local runner, which build the app in-process, synthesize the
 * same template as `cdk synth`.
 */
export const FEATURE_FLAGS: Record<string, unknown> = {
  "@aws-cdk/core:checkSecretUsage": true,
  "@aws-cdk/core:target-partitions": ["aws", "aws-cn"],
  "@aws-cdk/core:enablePartitionLiterals": true,
  "@aws-cdk/aws-iam:minimizePolicies": true,
  "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": true,
  "@aws-cdk/aws-ec2:restrictDefaultSecurityGroup": true,
  "@aws-cdk/aws-lambda:recognizeLayerVersion": true,
  // Renders the Distributed Map's ResultWriter, which keeps 10,000 child results out of the state.
  "@aws-cdk/aws-stepfunctions:useDistributedMapResultWriterV2": true,
};

/** Reads a context value that may arrive as JSON text (`cdk synth -c key=[...]`) or as a JSON value (cdk.json). */
function contextValue(app: App, key: string): unknown {
  const value = app.node.tryGetContext(key);
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

function optionalNumber(app: App, key: string): number | undefined {
  const value = contextValue(app, key);
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new Error(
      `context ${key} is ${JSON.stringify(value)}; set it to a number, for example -c ${key}=2`,
    );
  }
  return value;
}

function optionalStrings(app: App, key: string): string[] | undefined {
  const value = contextValue(app, key);
  if (value === undefined) return undefined;
  if (typeof value === "string")
    return value
      .split(",")
      .map((part) => part.trim())
      .filter(Boolean);
  if (Array.isArray(value) && value.every((part) => typeof part === "string")) return value;
  throw new Error(
    `context ${key} is ${JSON.stringify(value)}; set it to a list, for example -c ${key}=g5.xlarge,g5.2xlarge`,
  );
}

function optionalBoolean(app: App, key: string): boolean | undefined {
  const value = contextValue(app, key);
  if (value === undefined) return undefined;
  if (typeof value !== "boolean") {
    throw new Error(`context ${key} is ${JSON.stringify(value)}; set it to true or false`);
  }
  return value;
}

/** Reads the stack's settings from CDK context keys `vocagno:<prop>`. */
export function stackPropsFromContext(app: App): VocagnoStackProps {
  return {
    instanceTypes: optionalStrings(app, "vocagno:instanceTypes"),
    spot: optionalBoolean(app, "vocagno:spot"),
    maxvCpus: optionalNumber(app, "vocagno:maxvCpus"),
    trainNodes: optionalNumber(app, "vocagno:trainNodes"),
    trainGpusPerNode: optionalNumber(app, "vocagno:trainGpusPerNode"),
    prepareMaxConcurrency: optionalNumber(app, "vocagno:prepareMaxConcurrency"),
    toleratedFailurePercentage: optionalNumber(app, "vocagno:toleratedFailurePercentage"),
    notificationEmails: optionalStrings(app, "vocagno:notificationEmails"),
  };
}

/**
 * Builds the CDK app with the vocagno stack, its settings taken from context
 * and the cdk-nag AwsSolutions checks attached.
 *
 * @example
 * const { app, stack } = createVocagnoApp();
 * app.synth();
 */
export function createVocagnoApp(options: VocagnoAppOptions = {}): { app: App; stack: VocagnoStack } {
  const { nag = true, bundle = true, ...appProps } = options;
  const context = { ...FEATURE_FLAGS, ...appProps.context };
  if (!bundle) {
    // The CDK CLI's own switch: no stack is bundled, assets point at their source.
    context["aws:cdk:bundling-stacks"] = [];
  }
  const app = new App({ ...appProps, context });
  const stackName = (contextValue(app, "vocagno:stackName") as string | undefined) ?? DEFAULT_STACK_NAME;
  const stack = new VocagnoStack(app, stackName, {
    ...stackPropsFromContext(app),
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  });
  addNagSuppressions(stack);
  if (nag) {
    Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
  }
  return { app, stack };
}
