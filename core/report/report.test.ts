import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { joinUri, readTextUri, writeUri } from "../storage/index.ts";
import { niceTicks } from "./charts.ts";
import { evenSample, quantile } from "./collect.ts";
import { type BuiltReport, buildReport, type RunReport } from "./index.ts";
import { STAGE_TIMINGS, writeFinishedRun } from "./testing/run-fixture.ts";

describe("buildReport on a finished run", () => {
  let run: Awaited<ReturnType<typeof writeFinishedRun>>;
  let built: BuiltReport;
  let report: RunReport;

  beforeAll(async () => {
    run = await writeFinishedRun();
    built = await buildReport(run.runUri, { status: "SUCCEEDED", stageTimings: STAGE_TIMINGS });
    report = built.report;
  });
  afterAll(() => run.remove());

  it("writes report.json equal to the returned report", async () => {
    const written = JSON.parse(await readTextUri(built.jsonUri)) as RunReport;
    expect(written).toEqual(JSON.parse(JSON.stringify(report)));
    expect(built.jsonUri).toBe(joinUri(run.runUri, "report.json"));
  });

  it("sums corpus and alignment statistics", () => {
    // From PREPARE_STATS: 100 + 50 student tokens, 10 + 5 unmapped, (135 + 60) / (150 - 15) teacher tokens per mapped.
    expect(report.corpus.studentTokens).toBe(150);
    expect(report.corpus.teacherTokens).toBe(120);
    expect(report.corpus.unmappedShare).toBeCloseTo(15 / 150, 12);
    expect(report.corpus.teacherTokensPerStudentToken).toBeCloseTo(195 / 135, 12);
    expect(report.corpus.exactMatchShare).toBeCloseTo(60 / 150, 12);
    expect(report.corpus.documents).toBe(5);
    expect(report.corpus.trainItems).toBe(1);
    expect(report.corpus.evalItems).toBe(1);
  });

  it("measures the vocabulary overlap of the manifest's tokenizers", () => {
    const overlap = report.corpus.vocabularyOverlap;
    expect(overlap).not.toBeNull();
    // Llama-2 has 32,000 entries and Qwen about 151k; by text most of Llama-2's occur in Qwen's vocabulary.
    expect(overlap!.raw.studentEntries).toBe(32000);
    expect(overlap!.text.shareOfStudent).toBeGreaterThan(0.5);
    expect(overlap!.raw.shareOfTeacher).toBeLessThan(overlap!.text.shareOfTeacher);
  });

  it("builds the teacher loss histogram", () => {
    const teacher = report.teacherLoss!;
    // TEACHER_LOSSES: NaN is undefined; 0.25 -> bin 0, 1.25 and 1.375 -> bin 2, 3 -> bin 6, 25 -> overflow (past 20).
    expect(teacher.undefinedTeacherTokens).toBe(1);
    expect(teacher.scoredTeacherTokens).toBe(5);
    expect(teacher.histogram.counts[0]).toBe(1);
    expect(teacher.histogram.counts[2]).toBe(2);
    expect(teacher.histogram.counts[6]).toBe(1);
    expect(teacher.histogram.overflow).toBe(1);
    expect(teacher.histogram.counts.reduce((a, b) => a + b, 0)).toBe(4);
    expect(teacher.meanNats).toBeCloseTo((0.25 + 1.25 + 1.375 + 3 + 25) / 5, 3);
    // Sorted 0.25, 1.25, 1.375, 3, 25: the median is the middle value.
    expect(teacher.quantilesNats!.p50).toBeCloseTo(1.375, 3);
    expect(
      teacher.studentHistogram.counts.reduce((a, b) => a + b, 0) + teacher.studentHistogram.overflow,
    ).toBe(4);
    expect(teacher.aggregation).toBe("max");
  });

  it("reads both variants' curves and held-out losses", () => {
    expect(report.variants.map((variant) => variant.variant)).toEqual(["guided", "baseline"]);
    const guided = report.variants[0];
    // metricsLines writes steps 5..30 every 5 steps, with a held-out line at 10, 20 and 30.
    expect(guided.points.map((point) => point.step)).toEqual([5, 10, 15, 20, 25, 30]);
    expect(guided.evalPoints.map((point) => point.step)).toEqual([10, 20, 30]);
    expect(guided.heldOutLoss).toBe(6.75);
    expect(guided.points[0].keptShare).toBe(0.46);
    expect(report.guidedMinusBaselineLoss).toBeCloseTo(6.75 - 7.25, 12);
  });

  it("computes tokens per second per stage", () => {
    const rows = new Map(report.stages.map((stage) => [stage.stage, stage]));
    // Prepare: 150 + 120 tokens in 2 s; scoring: 120 teacher tokens in 4 s.
    expect(rows.get("PrepareShards")!.tokensPerSecond).toBeCloseTo(135, 9);
    expect(rows.get("ScoreTeacherSingle")!.tokensPerSecond).toBeCloseTo(30, 9);
    // Training: 2 variants x 30 steps x 64 tokens x 2 sequences in 30 s.
    expect(rows.get("TrainVariants")!.tokens).toBe(2 * 30 * 64 * 2);
    expect(rows.get("Plan")!.tokensPerSecond).toBeNull();
  });

  it("counts rejects with reasons and samples", () => {
    expect(report.rejects.total).toBe(2);
    expect(report.rejects.byReason).toEqual({ invalid_json: 1, empty_text: 1 });
    expect(report.rejects.share).toBeCloseTo(2 / 7, 12);
    expect(report.rejects.samples.map((sample) => sample.reason)).toEqual(["invalid_json", "empty_text"]);
  });

  it("renders every section into the HTML", async () => {
    const html = await readTextUri(built.htmlUri);
    for (const id of ["summary", "training", "teacher", "corpus", "stages", "rejects", "experiment"]) {
      expect(html).toContain(`<section id="${id}"`);
    }
    expect(html).not.toContain('id="failure"');
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
  });

  it("leaves the baseline's teacher columns empty", async () => {
    const html = await readTextUri(built.htmlUri);
    const training = html.slice(
      html.indexOf('<section id="training"'),
      html.indexOf('<section id="teacher"'),
    );
    // Training table columns: variant, last step, loss, cross-entropy, kept share, mean excess,
    // teacher coverage, tokens/s.
    const cells = (variant: string) => {
      const rows = [...training.matchAll(/<tr>(.*?)<\/tr>/g)].map((match) => match[1]);
      const row = rows.find((cellsHtml) => cellsHtml.startsWith(`<td>${variant}</td>`)) ?? "";
      return [...row.matchAll(/<td>(.*?)<\/td>/g)].map((match) => match[1]);
    };
    expect(cells("baseline")).toHaveLength(8);
    expect(cells("baseline").slice(5, 7)).toEqual(["–", "–"]);
    expect(cells("guided")[6]).toMatch(/^\d+\.\d{2}%$/);
  });
});

describe("buildReport on a failed run", () => {
  let directory: string;

  beforeAll(async () => {
    directory = await fs.mkdtemp(path.join(os.tmpdir(), "vocagno-report-failed-"));
  });
  afterAll(() => fs.rm(directory, { recursive: true, force: true }));

  it("reports the failure with what exists", async () => {
    const runUri = joinUri(pathToFileURL(directory).href, "runs", "broken-0123456789ab");
    await writeUri(
      joinUri(runUri, "experiment.json"),
      JSON.stringify({ name: "broken", variants: ["guided"] }),
    );
    await writeUri(joinUri(runUri, "train", "guided", "metrics.jsonl"), '{"step": 5, "loss": 9}\nnot json\n');
    const cause = "trainer exited with code 1: <script>alert(1)</script>";
    const { report, htmlUri } = await buildReport(runUri, {
      status: "FAILED",
      error: { step: "TrainVariants", error: "States.TaskFailed", cause },
    });
    expect(report.status).toBe("FAILED");
    expect(report.failure).toEqual({ step: "TrainVariants", error: "States.TaskFailed", cause });
    expect(report.teacherLoss).toBeNull();
    expect(report.variants[0].points).toHaveLength(1);
    expect(report.variants[0].heldOutLoss).toBeNull();
    expect(report.readProblems).toHaveLength(1);
    expect(report.readProblems[0]).toContain("metrics.jsonl line 2");

    const html = await fs.readFile(fileURLToPath(htmlUri), "utf8");
    expect(html).toContain('<section id="failure"');
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).not.toContain("<script>");
  });

  it("takes an error message as the failure", async () => {
    const runUri = joinUri(pathToFileURL(directory).href, "runs", "empty-0123456789ab");
    const { report } = await buildReport(runUri, { status: "FAILED", error: "ExperimentError" });
    expect(report.failure).toEqual({ step: null, error: "ExperimentError", cause: null });
    expect(report.variants).toEqual([]);
    expect(report.corpus.preparedItems).toBe(0);
  });
});

describe("report helpers", () => {
  it("niceTicks covers the range with round steps", () => {
    expect(niceTicks(0, 10, 5)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(niceTicks(6.2, 9.7, 5)).toEqual([7, 8, 9]);
  });

  it("quantile interpolates between ranks", () => {
    // Position 0.5 * 3 = 1.5, halfway between 2 and 4.
    expect(quantile(Float64Array.from([1, 2, 4, 8]), 0.5)).toBe(3);
  });

  it("evenSample spreads picks over the range", () => {
    expect(evenSample(3, 16)).toEqual([0, 1, 2]);
    // floor((k + 0.5) * 10 / 4) for k = 0..3.
    expect(evenSample(10, 4)).toEqual([1, 3, 6, 8]);
  });
});
