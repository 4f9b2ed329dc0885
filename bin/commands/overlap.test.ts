import { describe, expect, it } from "vitest";
import { runCli } from "../../test/support/cli.ts";

describe("vocagno overlap", () => {
  it("reports both definitions as JSON", async () => {
    const result = await runCli(["overlap", "--student", "tinyllama", "--teacher", "qwen", "--json"]);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.definitions.raw).toContain("as written");
    expect(report.raw.teacherEntries).toBe(151_669);
    expect(report.raw.studentEntries).toBe(32_000);
    // Mapping ▁ and Ġ to a space makes "▁the" and "Ġthe" one entry, so text overlap is larger.
    expect(report.text.sharedEntries).toBeGreaterThan(report.raw.sharedEntries);
    expect(report.raw.shareOfTeacher).toBeCloseTo(report.raw.sharedEntries / 151_669, 12);
  });

  it("finds a tokenizer fully shared with itself", async () => {
    const result = await runCli(["overlap", "--student", "mistral", "--teacher", "mistral", "--json"]);
    const report = JSON.parse(result.stdout);
    expect(report.raw.shareOfUnion).toBe(1);
    expect(report.text.shareOfUnion).toBe(1);
  });

  it("prints a text report", async () => {
    const result = await runCli(["overlap", "--student", "tinyllama", "--teacher", "mistral"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("of the teacher's");
    expect(result.stdout).toContain("raw:");
    expect(result.stdout).toContain("text:");
  });

  it("requires --teacher", async () => {
    const result = await runCli(["overlap", "--student", "tinyllama"]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("--teacher");
  });
});
