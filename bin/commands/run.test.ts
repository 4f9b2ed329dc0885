import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const CLI = fileURLToPath(new URL("../vocagno.js", import.meta.url));

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { ...process.env, VOCAGNO_LOG_LEVEL: "warn" } },
      (error, stdout, stderr) => {
        let code = 0;
        if (error !== null) {
          code = typeof error.code === "number" ? error.code : 1;
        }
        resolve({ code, stdout, stderr });
      },
    );
  });
}

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
