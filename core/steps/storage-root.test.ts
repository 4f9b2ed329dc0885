import { afterEach, describe, expect, test } from "vitest";
import { resolveStorageRoot, runIdOfRunUri, storageRootOfExperiment } from "./storage-root.ts";

describe("storageRootOfExperiment", () => {
  test("finds the bucket root", () => {
    expect(storageRootOfExperiment("s3://data/experiments/a.json")).toBe("s3://data");
    expect(storageRootOfExperiment("s3://data/team/experiments/sub/a.json")).toBe("s3://data/team");
  });

  test("keeps the local URI style", () => {
    expect(storageRootOfExperiment("file:///srv/vocagno/experiments/a.json")).toBe("file:///srv/vocagno");
    expect(storageRootOfExperiment("/srv/vocagno/experiments/a.json")).toBe("/srv/vocagno");
  });

  test("returns undefined outside experiments/", () => {
    expect(storageRootOfExperiment("s3://data/configs/a.json")).toBeUndefined();
  });
});

describe("resolveStorageRoot", () => {
  const saved = { bucket: process.env.VOCAGNO_BUCKET, root: process.env.VOCAGNO_STORAGE_ROOT };

  afterEach(() => {
    process.env.VOCAGNO_BUCKET = saved.bucket;
    process.env.VOCAGNO_STORAGE_ROOT = saved.root;
    if (saved.bucket === undefined) delete process.env.VOCAGNO_BUCKET;
    if (saved.root === undefined) delete process.env.VOCAGNO_STORAGE_ROOT;
  });

  test("prefers input, then bucket, then the experiment's tree", () => {
    process.env.VOCAGNO_BUCKET = "env-bucket";
    expect(resolveStorageRoot({ storageRoot: "file:///x", experimentUri: "s3://b/experiments/a.json" })).toBe(
      "file:///x",
    );
    expect(resolveStorageRoot({ experimentUri: "s3://b/experiments/a.json" })).toBe("s3://env-bucket");
    delete process.env.VOCAGNO_BUCKET;
    delete process.env.VOCAGNO_STORAGE_ROOT;
    expect(resolveStorageRoot({ experimentUri: "s3://b/experiments/a.json" })).toBe("s3://b");
  });

  test("fails without any root", () => {
    delete process.env.VOCAGNO_BUCKET;
    delete process.env.VOCAGNO_STORAGE_ROOT;
    expect(() => resolveStorageRoot({ experimentUri: "s3://b/elsewhere/a.json" })).toThrow(
      /set VOCAGNO_BUCKET/,
    );
  });
});

describe("runIdOfRunUri", () => {
  test("takes the last segment", () => {
    expect(runIdOfRunUri("s3://b/runs/owm-1a2b/")).toBe("owm-1a2b");
  });

  test("rejects characters outside run ids", () => {
    expect(() => runIdOfRunUri("s3://b/runs/bad id")).toThrow(/invalid run URI/);
  });
});
