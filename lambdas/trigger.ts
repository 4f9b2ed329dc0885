import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { z } from "zod";
import { logger } from "../core/log.ts";
import { deriveRunId } from "../core/steps/run-id.ts";
import { parseStepInput, runLogged } from "../core/steps/step.ts";

/** One created object named by an S3 event. */
export interface CreatedObject {
  readonly bucket: string;
  readonly key: string;
  readonly versionId?: string;
  readonly etag?: string;
}

/** Outcome of the trigger for one object: started, already started, or ignored with a reason. */
export type TriggerOutcome =
  | {
      readonly status: "started" | "already_started";
      readonly key: string;
      readonly runId: string;
      readonly executionArn?: string;
    }
  | { readonly status: "ignored"; readonly key: string; readonly reason: string };

const eventBridgeSchema = z.looseObject({
  "detail-type": z.string(),
  source: z.literal("aws.s3"),
  detail: z.looseObject({
    bucket: z.looseObject({ name: z.string().min(1) }),
    object: z.looseObject({
      key: z.string().min(1),
      etag: z.string().optional(),
      "version-id": z.string().optional(),
    }),
  }),
});

const notificationSchema = z.looseObject({
  Records: z.array(
    z.looseObject({
      eventName: z.string().optional(),
      s3: z.looseObject({
        bucket: z.looseObject({ name: z.string().min(1) }),
        object: z.looseObject({
          key: z.string().min(1),
          eTag: z.string().optional(),
          versionId: z.string().optional(),
        }),
      }),
    }),
  ),
});

/** Decodes a key from a classic S3 notification, which form-encodes it (a space arrives as `+`). */
function decodeNotificationKey(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, " "));
}

/**
 * Lists the created objects of an S3 event, in either shape: the EventBridge
 * "Object Created" event or the classic S3 notification with `Records`.
 */
export function createdObjects(event: unknown): CreatedObject[] {
  const eventBridge = eventBridgeSchema.safeParse(event);
  if (eventBridge.success) {
    if (eventBridge.data["detail-type"] !== "Object Created") return [];
    const { bucket, object } = eventBridge.data.detail;
    // NOTE: EventBridge keys are taken as sent, without URL decoding.
    return [{ bucket: bucket.name, key: object.key, versionId: object["version-id"], etag: object.etag }];
  }
  const parsed = parseStepInput("trigger", notificationSchema, event);
  return parsed.Records.filter(
    (record) => record.eventName === undefined || record.eventName.startsWith("ObjectCreated:"),
  ).map((record) => ({
    bucket: record.s3.bucket.name,
    key: decodeNotificationKey(record.s3.object.key),
    versionId: record.s3.object.versionId,
    etag: record.s3.object.eTag,
  }));
}

/** Returns why an object does not start a run, or undefined when it does. */
export function ignoreReason(key: string): string | undefined {
  if (!key.startsWith("experiments/")) return "the key is not under experiments/";
  if (!key.toLowerCase().endsWith(".json")) return "the key does not end in .json";
  return undefined;
}

/**
 * Derives the run id of an object version from its key and its version id,
 * or its ETag when the bucket is unversioned.
 */
export function runIdOfObject(object: CreatedObject): string {
  const fingerprint = object.versionId ?? object.etag;
  if (fingerprint === undefined) {
    throw new Error(
      `S3 event for s3://${object.bucket}/${object.key} has neither a version id nor an ETag, so no stable run id can be derived`,
    );
  }
  return deriveRunId(object.key, fingerprint);
}

/**
 * Starts the execution of one experiment object, named after its run id.
 * A second delivery of the same object version derives the same name, so
 * Step Functions starts nothing new: it returns the running execution, or
 * raises ExecutionAlreadyExists once that one has ended.
 *
 * @example
 * await startRunForObject(new SFNClient({}), process.env.VOCAGNO_STATE_MACHINE_ARN!, {
 *   bucket: "vocagno-data", key: "experiments/owm.json", etag: "9b2cf535f27731c974343645a3985328",
 * });
 */
export async function startRunForObject(
  client: SFNClient,
  stateMachineArn: string,
  object: CreatedObject,
): Promise<TriggerOutcome> {
  const reason = ignoreReason(object.key);
  if (reason !== undefined) {
    logger.info({ bucket: object.bucket, key: object.key, reason }, "object ignored");
    return { status: "ignored", key: object.key, reason };
  }
  const runId = runIdOfObject(object);
  const experimentUri = `s3://${object.bucket}/${object.key}`;
  try {
    const response = await client.send(
      new StartExecutionCommand({
        stateMachineArn,
        name: runId,
        input: JSON.stringify({ experimentUri, runId }),
      }),
    );
    logger.info({ runId, experimentUri, executionArn: response.executionArn }, "execution started");
    return { status: "started", key: object.key, runId, executionArn: response.executionArn };
  } catch (error) {
    if (error instanceof ExecutionAlreadyExists) {
      logger.info(
        { runId, experimentUri },
        "execution already exists for this object version; nothing started",
      );
      return { status: "already_started", key: object.key, runId };
    }
    throw error;
  }
}

let sfnClient: SFNClient | undefined;

/**
 * Lambda handler for S3 "Object Created" events on the data bucket: starts
 * one state machine execution (`VOCAGNO_STATE_MACHINE_ARN`) per new version
 * of a file under experiments/.
 *
 * @example
 * await handler({
 *   source: "aws.s3", "detail-type": "Object Created",
 *   detail: { bucket: { name: "vocagno-data" }, object: { key: "experiments/owm.json", etag: "9b2c…" } },
 * });
 * // [{ status: "started", key: "experiments/owm.json", runId: "owm-1f0c…", executionArn: "arn:aws:states:…" }]
 */
export async function handler(event: unknown): Promise<TriggerOutcome[]> {
  const stateMachineArn = process.env.VOCAGNO_STATE_MACHINE_ARN;
  if (!stateMachineArn) {
    throw new Error("VOCAGNO_STATE_MACHINE_ARN is not set: set it to the pipeline's state machine ARN");
  }
  sfnClient ??= new SFNClient({});
  const client = sfnClient;
  return runLogged("trigger", {}, async () => {
    const outcomes: TriggerOutcome[] = [];
    for (const object of createdObjects(event)) {
      outcomes.push(await startRunForObject(client, stateMachineArn, object));
    }
    return outcomes;
  });
}
