import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildReport, type RunReport } from "../../core/report/index.ts";
import { STAGE_TIMINGS, writeFinishedRun } from "../../core/report/testing/run-fixture.ts";
import { formatSummary } from "./demo.ts";

describe("formatSummary", () => {
  let run: Awaited<ReturnType<typeof writeFinishedRun>>;
  let report: RunReport;

  beforeAll(async () => {
    run = await writeFinishedRun();
    ({ report } = await buildReport(run.runUri, { status: "SUCCEEDED", stageTimings: STAGE_TIMINGS }));
  });
  afterAll(() => run.remove());

  it("prints the report path and both losses", () => {
    const lines = formatSummary(report, "/runs/demo/report.html").split("\n");
    expect(lines[0]).toBe("report: /runs/demo/report.html");
    // The fixture's eval.json files hold 6.75 (guided) and 7.25 (baseline); exp(6.75) = 854.06.
    expect(lines.find((line) => line.startsWith("guided"))).toMatch(/6\.7500\s+854\.1$/);
    expect(lines.find((line) => line.startsWith("baseline"))).toMatch(/7\.2500\s+1408\.1$/);
    expect(lines.find((line) => line.startsWith("difference"))).toMatch(/-0\.5000/);
  });

  it("prints the failure of a failed run", () => {
    const failed: RunReport = {
      ...report,
      status: "FAILED",
      failure: { step: "TrainVariants", error: "States.TaskFailed", cause: "trainer exited with code 1" },
    };
    const text = formatSummary(failed, "/runs/demo/report.html");
    expect(text).toContain("failed in TrainVariants: States.TaskFailed");
    expect(text).toContain("trainer exited with code 1");
  });
});
