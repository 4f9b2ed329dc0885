import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { writeTeacherScores } from "../../shards/index.ts";
import { joinUri, writeUri } from "../../storage/index.ts";
import type { StageTiming } from "../types.ts";

/** Per-item statistics as the prepare step writes them to prepare/<item>.json. */
export const PREPARE_STATS = [
  {
    item: "000000",
    records: 3,
    documents: 3,
    studentTokens: 100,
    teacherTokens: 80,
    rejected: 2,
    rejectReasons: { invalid_json: 1, empty_text: 1 },
    alignment: {
      documents: 3,
      studentTokens: 100,
      teacherTokens: 80,
      unmappedStudentTokens: 10,
      teacherTokensInRanges: 135,
      exactMatches: 40,
    },
  },
  {
    item: "000001",
    records: 2,
    documents: 2,
    studentTokens: 50,
    teacherTokens: 40,
    rejected: 0,
    rejectReasons: {},
    alignment: {
      documents: 2,
      studentTokens: 50,
      teacherTokens: 40,
      unmappedStudentTokens: 5,
      teacherTokensInRanges: 60,
      exactMatches: 20,
    },
  },
];

/** Teacher losses of item 000000 in nats: one NaN (first token, no BOS) and one value past the histogram's range. */
export const TEACHER_LOSSES = [Number.NaN, 0.25, 1.25, 1.375, 3, 25];
/** Aggregated teacher losses per student token of the same document; NaN where unmapped. */
export const STUDENT_TEACHER_LOSSES = [0.25, Number.NaN, 1.375, 3, 25];

function metricsLines(variant: string, lossOffset: number): string {
  const lines: string[] = [];
  for (let step = 5; step <= 30; step += 5) {
    lines.push(
      JSON.stringify({
        step,
        loss: 10 - step / 5 + lossOffset,
        cross_entropy: 10.5 - step / 5 + lossOffset,
        learning_rate: 0.001,
        grad_norm: 1.2,
        tokens_per_second: 1000 + step,
        kept_share: variant === "guided" ? 0.46 : 1,
        mean_excess: variant === "guided" ? 2.5 : 0,
        teacher_coverage: 0.9,
      }),
    );
    if (step % 10 === 0)
      lines.push(JSON.stringify({ step, eval_loss: 9.8 - step / 10 + lossOffset, eval_targets: 512 }));
  }
  return `${lines.join("\n")}\n`;
}

/** Stage timings of a whole run, as the local runner reports them. */
export const STAGE_TIMINGS: StageTiming[] = [
  { stage: "Plan", status: "succeeded", durationMs: 500 },
  { stage: "PrepareShards", status: "succeeded", durationMs: 2000 },
  { stage: "ScoreTeacherSingle", status: "succeeded", durationMs: 4000 },
  { stage: "TrainVariants", status: "succeeded", durationMs: 30000 },
  { stage: "Evaluate", status: "succeeded", durationMs: 100 },
];

/**
 * Writes a finished run of two items with both variants trained, as the
 * pipeline's steps write it, into a fresh temporary root.
 */
export async function writeFinishedRun(): Promise<{
  runUri: string;
  directory: string;
  remove: () => Promise<void>;
}> {
  const directory = await fs.mkdtemp(path.join(os.tmpdir(), "vocagno-report-"));
  const runUri = joinUri(pathToFileURL(directory).href, "runs", "demo-0123456789ab");
  const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

  await writeUri(
    joinUri(runUri, "experiment.json"),
    json({ name: "report-test", variants: ["guided", "baseline"], corpus: { rejectThreshold: 0.5 } }),
  );
  await writeUri(
    joinUri(runUri, "manifest.json"),
    json({
      formatVersion: 1,
      runId: "demo-0123456789ab",
      corpus: { uri: "file:///corpus.jsonl", files: 1, records: 7 },
      tokenizers: { student: { source: "tinyllama" }, teacher: { source: "qwen" } },
      items: [
        { item: "000000", split: "train" },
        { item: "000001", split: "eval" },
      ],
    }),
  );
  await writeUri(
    joinUri(runUri, "trainer-config.json"),
    json({ student_model: "/models/student", sequence_length: 64, micro_batch_size: 2 }),
  );
  for (const stats of PREPARE_STATS)
    await writeUri(joinUri(runUri, "prepare", `${stats.item}.json`), json(stats));
  await writeUri(
    joinUri(runUri, "rejects", "000000.jsonl"),
    [
      {
        source: "corpus.jsonl",
        recordNumber: 1,
        reason: "invalid_json",
        message: "record 1 is not valid JSON",
        excerpt: "{",
      },
      {
        source: "corpus.jsonl",
        recordNumber: 4,
        reason: "empty_text",
        message: "record 4 has an empty text",
        excerpt: "",
      },
    ]
      .map((reject) => `${JSON.stringify(reject)}\n`)
      .join(""),
  );
  await writeTeacherScores(
    joinUri(runUri, "teacher", "000000.arrow"),
    { item: "000000", teacherBundle: { sha256: "test" }, aggregation: "max" },
    [
      {
        id: "doc-0",
        teacherLoss: Float32Array.from(TEACHER_LOSSES),
        studentTeacherLoss: Float32Array.from(STUDENT_TEACHER_LOSSES),
      },
    ],
  );
  for (const [variant, offset, heldOut] of [
    ["guided", -0.5, 6.75],
    ["baseline", 0, 7.25],
  ] as const) {
    await writeUri(joinUri(runUri, "train", variant, "metrics.jsonl"), metricsLines(variant, offset));
    await writeUri(
      joinUri(runUri, "train", variant, "eval.json"),
      json({ runId: "demo-0123456789ab", variant, step: 30, loss: heldOut }),
    );
  }
  return { runUri, directory, remove: () => fs.rm(directory, { recursive: true, force: true }) };
}
