/**
 * Scores sequences with one teacher graph in a process of its own, so that its
 * peak memory is that graph's alone, and prints one JSON line.
 *
 *   node --import tsx bench/teacher-engine-child.ts MODEL.onnx SEQUENCES.json BATCH_TOKENS REPEATS
 *
 * SEQUENCES.json is a list of token id lists. Output: the seconds of each repeat,
 * the process's peak resident memory, and the padded tokens and largest batch
 * tensors of one repeat: `{"seconds", "maxRssBytes", "paddedTokens", "maxBatchTensorBytes"}`.
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
let paddedTokens = 0;
let maxBatchTensorBytes = 0;
for (let repeat = 0; repeat < Number(repeats); repeat++) {
  const { stats } = await engine.scoreSequences(sequences, Number(batchTokens));
  seconds.push(stats.seconds);
  paddedTokens = stats.paddedTokens;
  maxBatchTensorBytes = stats.maxBatchTensorBytes;
}
await engine.release();

const maxRssBytes = process.resourceUsage().maxRSS * 1024;
process.stdout.write(`${JSON.stringify({ seconds, maxRssBytes, paddedTokens, maxBatchTensorBytes })}\n`);
