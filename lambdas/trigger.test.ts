import { describe, expect, test } from "vitest";
import { deriveRunId } from "../core/steps/run-id.ts";
import { createdObjects, ignoreReason, runIdOfObject } from "./trigger.ts";

function eventBridgeEvent(key: string, object: Record<string, unknown> = {}) {
  return {
    version: "0",
    "detail-type": "Object Created",
    source: "aws.s3",
    detail: { version: "0", bucket: { name: "vocagno-data" }, object: { key, size: 10, ...object } },
  };
}

describe("createdObjects", () => {
  test("reads the EventBridge shape", () => {
    const objects = createdObjects(
      eventBridgeEvent("experiments/a.json", { etag: "abc", "version-id": "v1" }),
    );
    expect(objects).toEqual([
      { bucket: "vocagno-data", key: "experiments/a.json", etag: "abc", versionId: "v1" },
    ]);
  });

  test("reads and decodes the classic notification shape", () => {
    const event = {
      Records: [
        {
          eventName: "ObjectCreated:Put",
          s3: { bucket: { name: "b" }, object: { key: "experiments/my+run%282%29.json", eTag: "e1" } },
        },
        {
          eventName: "ObjectRemoved:Delete",
          s3: { bucket: { name: "b" }, object: { key: "experiments/x.json" } },
        },
      ],
    };
    expect(createdObjects(event)).toEqual([
      { bucket: "b", key: "experiments/my run(2).json", etag: "e1", versionId: undefined },
    ]);
  });

  test("rejects an unknown event shape", () => {
    expect(() => createdObjects({ hello: "world" })).toThrow(/invalid input of step trigger/);
  });
});

describe("ignoreReason", () => {
  test("accepts JSON under experiments/", () => {
    expect(ignoreReason("experiments/team/a.json")).toBeUndefined();
  });

  test("ignores other prefixes and extensions", () => {
    expect(ignoreReason("runs/r1/experiment.json")).toMatch(/not under experiments/);
    expect(ignoreReason("experiments/notes.txt")).toMatch(/\.json/);
  });
});

// NOTE: StartExecution is not exercised here. moto 5.1.18 sends Step Functions
// dates as ISO strings where the service sends epoch seconds, so the AWS SDK v3
// rejects its responses. startRunForObject takes any SFNClient for that reason.
describe("trigger run ids", () => {
  test("same object version gets the same run id", () => {
    const event = eventBridgeEvent("experiments/owm qwen.json", { etag: "e-1" });
    const [first] = createdObjects(event);
    const [second] = createdObjects(structuredClone(event));

    expect(deriveRunId(first.key, first.etag!)).toBe(deriveRunId(second.key, second.etag!));
    expect(deriveRunId(first.key, first.etag!)).toMatch(/^owm-qwen-[0-9a-f]{12}$/);
  });

  test("version id wins over the ETag", () => {
    const [object] = createdObjects(
      eventBridgeEvent("experiments/a.json", { etag: "e-1", "version-id": "v-9" }),
    );

    expect(runIdOfObject(object)).toBe(deriveRunId("experiments/a.json", "v-9"));
  });
});
