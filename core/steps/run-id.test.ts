import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { contentFingerprint, deriveRunId, RUN_ID_PATTERN, sanitizeRunName } from "./run-id.ts";

describe("deriveRunId", () => {
  test("any key gives a valid execution name", () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 300 }),
        fc.string({ minLength: 1, maxLength: 64 }),
        (name, fingerprint) => {
          const runId = deriveRunId(`experiments/${name}.json`, fingerprint);
          expect(runId).toMatch(RUN_ID_PATTERN);
          expect(runId.length).toBeLessThanOrEqual(80);
        },
      ),
    );
  });

  test("same key and fingerprint repeat the id", () => {
    expect(deriveRunId("experiments/a.json", "v1")).toBe(deriveRunId("experiments/a.json", "v1"));
  });

  test("quoted and bare ETags agree", () => {
    expect(deriveRunId("experiments/a.json", '"9b2cf535"')).toBe(
      deriveRunId("experiments/a.json", "9b2cf535"),
    );
  });

  test("changed version or key changes the id", () => {
    const base = deriveRunId("experiments/a.json", "v1");
    expect(deriveRunId("experiments/a.json", "v2")).not.toBe(base);
    expect(deriveRunId("experiments/team/a.json", "v1")).not.toBe(base);
  });
});

describe("sanitizeRunName", () => {
  test("keeps safe characters of the file name", () => {
    expect(sanitizeRunName("experiments/team/My Run.v2 (final).json")).toBe("My-Run-v2-final");
  });

  test("falls back for names without safe characters", () => {
    expect(sanitizeRunName("experiments/日本.json")).toBe("experiment");
  });

  test("caps the base at 67 characters", () => {
    // 80 characters minus "-" and the 12-character hash.
    expect(sanitizeRunName(`experiments/${"a".repeat(200)}.json`)).toHaveLength(67);
  });
});

describe("contentFingerprint", () => {
  test("equals the MD5 of the bytes", () => {
    // MD5 of the empty string, a well-known constant.
    expect(contentFingerprint(new Uint8Array())).toBe("d41d8cd98f00b204e9800998ecf8427e");
  });
});
