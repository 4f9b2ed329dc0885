/**
 * Resolves the CloudFormation intrinsics that a synthesized state machine
 * definition contains (`Fn::Join`, `Ref`, `Fn::GetAtt`) into fixed local
 * ARNs, so that the definition runs outside AWS.
 */

export const LOCAL_REGION = "us-east-1";
export const LOCAL_ACCOUNT = "123456789012";
/** Bucket name that stands for the local storage root in resolved definitions. */
export const LOCAL_BUCKET = "vocagno-local";

/** One resource of a CloudFormation template, as far as the local runner reads it. */
export interface TemplateResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}

export interface CloudFormationTemplate {
  readonly Resources: Record<string, TemplateResource>;
}

/** Thrown when a template contains an intrinsic that has no local value. */
export class TemplateTokenError extends Error {
  readonly code = "unresolvable_template_token";

  constructor(message: string) {
    super(message);
    this.name = "TemplateTokenError";
  }
}

const PSEUDO_PARAMETERS: Record<string, string> = {
  "AWS::Partition": "aws",
  "AWS::Region": LOCAL_REGION,
  "AWS::AccountId": LOCAL_ACCOUNT,
  "AWS::URLSuffix": "amazonaws.com",
};

/** Returns the local ARN (or name) that `Ref` of a resource yields, by the resource's type. */
export function localRef(logicalId: string, resource: TemplateResource): string {
  switch (resource.Type) {
    case "AWS::Lambda::Function":
      return logicalId;
    case "AWS::S3::Bucket":
      return LOCAL_BUCKET;
    case "AWS::Batch::JobDefinition":
      return localJobDefinitionArn(logicalId);
    case "AWS::Batch::JobQueue":
      return `arn:aws:batch:${LOCAL_REGION}:${LOCAL_ACCOUNT}:job-queue/${logicalId}`;
    case "AWS::SNS::Topic":
      return `arn:aws:sns:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${logicalId}`;
    default:
      return logicalId;
  }
}

/** Returns the local ARN of a job definition resource. */
export function localJobDefinitionArn(logicalId: string): string {
  return `arn:aws:batch:${LOCAL_REGION}:${LOCAL_ACCOUNT}:job-definition/${logicalId}:1`;
}

function localGetAtt(logicalId: string, attribute: string, resource: TemplateResource): string {
  if (resource.Type === "AWS::Lambda::Function" && attribute === "Arn") {
    return `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${logicalId}`;
  }
  if (resource.Type === "AWS::Batch::JobQueue" && attribute === "JobQueueArn") {
    return localRef(logicalId, resource);
  }
  if (resource.Type === "AWS::S3::Bucket" && attribute === "Arn") return `arn:aws:s3:::${LOCAL_BUCKET}`;
  if (resource.Type === "AWS::SNS::Topic" && (attribute === "TopicArn" || attribute === "Arn")) {
    return localRef(logicalId, resource);
  }
  throw new TemplateTokenError(`Fn::GetAtt ${logicalId}.${attribute} (${resource.Type}) has no local value`);
}

/**
 * Resolves one template value to a string.
 *
 * @example
 * resolveTemplateString({ "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, ":states:::lambda:invoke"]] }, template);
 * // "arn:aws:states:::lambda:invoke"
 */
export function resolveTemplateString(value: unknown, template: CloudFormationTemplate): string {
  if (typeof value === "string") return value;
  if (value === null || typeof value !== "object") {
    throw new TemplateTokenError(
      `template value ${JSON.stringify(value)} is not a string or an intrinsic function`,
    );
  }
  const record = value as Record<string, unknown>;
  if ("Fn::Join" in record) {
    const [separator, parts] = record["Fn::Join"] as [string, unknown[]];
    return parts.map((part) => resolveTemplateString(part, template)).join(separator);
  }
  if ("Ref" in record) {
    const name = record.Ref as string;
    if (name in PSEUDO_PARAMETERS) return PSEUDO_PARAMETERS[name];
    const resource = template.Resources[name];
    if (resource === undefined) throw new TemplateTokenError(`Ref ${name} names no resource of the template`);
    return localRef(name, resource);
  }
  if ("Fn::GetAtt" in record) {
    const [logicalId, attribute] = record["Fn::GetAtt"] as [string, string];
    const resource = template.Resources[logicalId];
    if (resource === undefined)
      throw new TemplateTokenError(`Fn::GetAtt ${logicalId} names no resource of the template`);
    return localGetAtt(logicalId, attribute, resource);
  }
  throw new TemplateTokenError(`intrinsic ${Object.keys(record).join(", ")} has no local value`);
}
