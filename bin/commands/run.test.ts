import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../test/support/cli.ts";

let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), "vocagno-run-cli-"));
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe("vocagno run", () => {
  it("names a missing experiment file", async () => {
    const missing = path.join(scratch, "missing.json");
    const result = await runCli(["run", missing, "--local", "--root", path.join(scratch, "runs")]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`cannot read experiment file ${missing}: not found`);
  });

  it("lists problems before running", async () => {
    const invalid = path.join(scratch, "invalid.json");
    await writeFile(invalid, JSON.stringify({ name: "x", corpus: { uri: "data/", recordsPerItem: 0 } }));
    const result = await runCli(["run", invalid, "--local", "--root", path.join(scratch, "runs")]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("corpus.recordsPerItem");
    expect(result.stderr).toContain("student: required field is missing");
    // Validation happens before synthesis, so CDK printed nothing.
    expect(result.stderr).not.toContain("CloudFormation");
  });
});
