import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { runCli } from "../../test/support/cli.ts";

const repository = path.resolve(import.meta.dirname, "../..");

describe("vocagno validate", () => {
  let directory: string;

  beforeAll(async () => {
    directory = await fs.mkdtemp(path.join(os.tmpdir(), "vocagno-validate-"));
  });

  afterAll(async () => {
    await fs.rm(directory, { recursive: true, force: true });
  });

  test("valid file prints the resolved experiment", async () => {
    const result = await runCli(["validate", path.join(repository, "examples/experiment.json")]);

    expect(result.code).toBe(0);
    const experiment = JSON.parse(result.stdout);
    expect(experiment.name).toBe("owm-tinyllama-qwen25math");
    // The example leaves the teacher tokenizer and trainer precision at their defaults.
    expect(experiment.teacher.tokenizer).toBe(
      "s3://vocagno-data/teachers/Qwen2.5-Math-7B-Instruct/tokenizer.json",
    );
    expect(experiment.training.precision).toBe("auto");
  });

  test("invalid file lists problems with exit code 1", async () => {
    const file = path.join(directory, "bad.json");
    await fs.writeFile(
      file,
      JSON.stringify({ name: "bad", corpus: { uri: "x", recordsPerItm: 3 }, loss: { keepRatio: 2 } }),
    );

    const result = await runCli(["validate", file]);

    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("4 problems");
    expect(result.stderr).toContain('corpus.recordsPerItm: unknown field (did you mean "recordsPerItem"?)');
    expect(result.stderr).toContain("loss.keepRatio: 2 is too large: must be at most 1");
    expect(result.stderr).toMatch(/student: required field is missing/);
    expect(result.stderr).toMatch(/teacher: required field is missing/);
  });

  test("prints the JSON Schema", async () => {
    const result = await runCli(["validate", "--print-schema"]);

    expect(result.code).toBe(0);
    const schema = JSON.parse(result.stdout);
    expect(schema.required).toEqual(["name", "corpus", "student", "teacher"]);
    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties.loss.properties.keepRatio.default).toBe(0.4);
  });

  test("no file and no flag fails", async () => {
    const result = await runCli(["validate"]);

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/pass FILE or --print-schema/);
  });

  test("missing file fails with exit code 1", async () => {
    const result = await runCli(["validate", path.join(directory, "absent.json")]);

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/cannot read .*absent\.json: object not found/);
  });
});
