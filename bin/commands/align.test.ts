import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../test/support/cli.ts";

let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), "vocagno-align-cli-"));
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe("vocagno align", () => {
  it("writes one JSON line for --text", async () => {
    const text = "Hi 😀 <s>";
    const result = await runCli(["align", "--student", "tinyllama", "--teacher", "mistral", "--text", text]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]);
    expect(line.id).toBe("text");
    expect(line.text).toBe(text);
    expect(line.student.tokens).toContain("<0xF0>");
    expect(line.student.special).not.toContain(true);
    expect(line.alignment).toHaveLength(line.student.ids.length);
  });

  it("writes spans that tile the text", async () => {
    const text = "a\tb 中 😀";
    const result = await runCli(["align", "--student", "tinyllama", "--teacher", "mistral", "--text", text]);
    const line = JSON.parse(result.stdout);
    const bytes = Buffer.from(text);
    const pieces = line.teacher.spans.map(([start, end]: [number, number]) => bytes.subarray(start, end));
    expect(Buffer.concat(pieces).toString()).toBe(text);
  });

  it("adds BOS and EOS only with --special-tokens", async () => {
    const result = await runCli([
      "align",
      "--student",
      "tinyllama",
      "--teacher",
      "mistral",
      "--text",
      "hello",
      "--special-tokens",
    ]);
    const line = JSON.parse(result.stdout);
    const last = line.student.ids.length - 1;
    expect(line.student.ids[0]).toBe(1);
    expect(line.student.ids[last]).toBe(2);
    expect(line.student.spans[0]).toEqual([0, 0]);
    expect(line.student.spans[last]).toEqual([5, 5]);
    expect(line.student.special[0]).toBe(true);
    expect(line.alignment[0]).toBeNull();
    expect(line.alignment[last]).toBeNull();
  });

  it("reads JSONL input and reports a bad line", async () => {
    const input = path.join(scratch, "docs.jsonl");
    await writeFile(
      input,
      [
        JSON.stringify({ id: "a", body: "first" }),
        "not json",
        JSON.stringify({ id: "b", body: "second 😀" }),
      ].join("\n"),
    );
    const output = path.join(scratch, "out.jsonl");
    const result = await runCli([
      "align",
      "--student",
      "tinyllama",
      "--teacher",
      "mistral",
      "--input",
      input,
      "--text-field",
      "body",
      "--id-field",
      "id",
      "--output",
      output,
    ]);
    expect(result.code).toBe(0);
    const lines = (await readFile(output, "utf8"))
      .trim()
      .split("\n")
      .map((text) => JSON.parse(text));
    expect(lines.map((line) => line.id)).toEqual(["a", "b"]);
    expect(result.stderr).toContain("invalid_json");
    expect((await readdir(scratch)).filter((name) => name.endsWith(".tmp"))).toEqual([]);
  });

  it("fails when every record is rejected", async () => {
    const input = path.join(scratch, "wrong-field.jsonl");
    await writeFile(input, '{"text": "a"}\n{"text": "b"}\n');
    const result = await runCli([
      "align",
      "--student",
      "tinyllama",
      "--teacher",
      "qwen",
      "--input",
      input,
      "--text-field",
      "body",
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("all 2 records were rejected");
    expect(result.stdout).toBe("");
  });

  it("prints a readable view", async () => {
    const result = await runCli([
      "align",
      "--student",
      "tinyllama",
      "--teacher",
      "mistral",
      "--text",
      "the 😀",
      "--view",
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("student token");
    expect(result.stdout).toContain('"<0xF0>"');
    expect(result.stdout).toContain('"\\xF0"');
  });

  it("names a missing tokenizer file", async () => {
    const missing = path.join(scratch, "missing", "tokenizer.json");
    const result = await runCli(["align", "--student", missing, "--teacher", "mistral", "--text", "x"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(missing);
    expect(result.stderr).toContain("tokenizer.json");
  });

  it("names an invalid tokenizer file", async () => {
    const bad = path.join(scratch, "bad-tokenizer.json");
    await writeFile(bad, "{}");
    const result = await runCli(["align", "--student", bad, "--teacher", "mistral", "--text", "x"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(bad);
  });

  it("names an unreadable input", async () => {
    const missing = path.join(scratch, "nowhere.jsonl");
    const result = await runCli([
      "align",
      "--student",
      "tinyllama",
      "--teacher",
      "mistral",
      "--input",
      missing,
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(missing);
  });

  it("requires exactly one of --text and --input", async () => {
    const result = await runCli(["align", "--student", "tinyllama", "--teacher", "mistral"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("--text");
  });

  it("rejects an unknown option", async () => {
    const result = await runCli(["align", "--student", "tinyllama", "--teacher", "mistral", "--txt", "x"]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("--txt");
  });
});
