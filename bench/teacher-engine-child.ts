/**
 * Scores sequences with one teacher graph in a process of its own, so that its
 * peak memory is that graph's alone, and prints one JSON line.
 *
 *   node --import tsx bench/teacher-engine-child.ts MODEL.onnx SEQUENCES.json BATCH_TOKENS REPEATS
 *
 * SEQUENCES.json is a list of token id lists. Output: `{"seconds": [...], "maxRssBytes": N}`.
 */
import { readFileSync } from "node:fs";
import os from "node:os";
import { TeacherEngine } from "../batch-image/teacher-score/engine.ts";

const [modelPath, sequencesPath, batchTokens, repeats] = process.argv.slice(2);
const sequences = (JSON.parse(readFileSync(sequencesPath, "utf8")) as number[][]).map((ids) =>
  Int32Array.from(ids),
);
const engine = await TeacherEngine.create({
  modelPath,
  provider: "cpu",
  threads: os.availableParallelism(),
});
await engine.scoreSequences(sequences.slice(0, 2), Number(batchTokens)); // warm-up
const seconds: number[] = [];
for (let repeat = 0; repeat < Number(repeats); repeat++) {
  const { stats } = await engine.scoreSequences(sequences, Number(batchTokens));
  seconds.push(stats.seconds);
}
await engine.release();
process.stdout.write(`${JSON.stringify({ seconds, maxRssBytes: process.resourceUsage().maxRSS * 1024 })}\n`);
