/**
 * Alignment benchmark on real human-written text: the cost of alignment and
 * shard writing on top of tokenization, and the speed of alignment alone.
 *
 * In one process and in alternating rounds it times two passes:
 *   (a) encoding every document with the student (TinyLlama) and the teacher (Qwen);
 *   (b) the same encoding plus alignment, statistics and writing the shard (core/shards).
 * It reports the median of each and the median of the per-round ratio b / a,
 * in wall-clock seconds and in process CPU seconds (all threads), because
 * shared machines stretch wall-clock time unevenly. It then times
 * `alignTokens` alone over the encoded corpus on one thread.
 *
 * Text: the docstrings of SymPy (BSD-3-Clause), installed in the project's
 * Python environment; mathematical prose with formulas, close to OpenWebMath.
 *
 *   npx tsx bench/alignment.ts [--rounds 5] [--megabytes 2.5]
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  alignTokens,
  computeAlignmentStats,
  EMPTY_ALIGNMENT_STATS,
  mergeAlignmentStats,
} from "../core/alignment/index.ts";
import { type ShardDocument, writeShard } from "../core/shards/index.ts";
import { type EncodedDocument, type LoadedTokenizer, loadTokenizer } from "../core/tokenizers/index.ts";
import { pythonExecutable } from "../test/support/python.ts";

const DOCUMENTS_PER_BATCH = 256;

interface Corpus {
  readonly texts: string[];
  readonly bytes: number;
  readonly source: string;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Collects SymPy docstrings, in sorted file order, until `minimumBytes` of UTF-8 text. */
async function readSympyDocstrings(minimumBytes: number): Promise<Corpus> {
  const output = execFileSync(
    pythonExecutable(),
    ["-c", "import os, sympy; print(os.path.dirname(sympy.__file__)); print(sympy.__version__)"],
    { encoding: "utf8" },
  );
  const [sympyDirectory, version] = output.trim().split("\n");
  const files = (await readdir(sympyDirectory, { recursive: true }))
    .filter((file) => file.endsWith(".py") && !file.split(path.sep).includes("tests"))
    .sort();
  const texts: string[] = [];
  let bytes = 0;
  const docstring = /("""|''')([\s\S]*?)\1/g;
  for (const file of files) {
    const code = await readFile(path.join(sympyDirectory, file), "utf8");
    for (const match of code.matchAll(docstring)) {
      const text = match[2];
      // Short strings are mostly code constants, not prose.
      if (text.length < 200) continue;
      texts.push(text);
      bytes += Buffer.byteLength(text);
    }
    if (bytes >= minimumBytes) break;
  }
  if (bytes < minimumBytes) {
    throw new Error(`SymPy docstrings hold only ${bytes} bytes, fewer than the ${minimumBytes} requested`);
  }
  return {
    texts,
    bytes,
    source: `SymPy ${version} docstrings (BSD-3-Clause), ${texts.length} documents from ${sympyDirectory}`,
  };
}

async function encodeBoth(
  texts: string[],
  student: LoadedTokenizer,
  teacher: LoadedTokenizer,
): Promise<Array<[EncodedDocument, EncodedDocument]>> {
  const pairs: Array<[EncodedDocument, EncodedDocument]> = [];
  for (let start = 0; start < texts.length; start += DOCUMENTS_PER_BATCH) {
    const batch = texts.slice(start, start + DOCUMENTS_PER_BATCH);
    const [studentDocs, teacherDocs] = await Promise.all([
      student.encodeBatch(batch),
      teacher.encodeBatch(batch),
    ]);
    for (let index = 0; index < batch.length; index++) {
      pairs.push([studentDocs[index], teacherDocs[index]]);
    }
  }
  return pairs;
}

/** Process CPU seconds (user + system, all threads) since `since`. */
function cpuSecondsSince(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
}

/**
 * Encoding, alignment, statistics and one shard file, as the prepare step
 * does for a work item. Returns the wall-clock seconds spent aligning (with
 * statistics) and writing the shard.
 */
async function encodeAlignWrite(
  texts: string[],
  student: LoadedTokenizer,
  teacher: LoadedTokenizer,
  shardPath: string,
): Promise<{ alignSeconds: number; writeSeconds: number }> {
  let alignMilliseconds = 0;
  const documents: ShardDocument[] = [];
  let stats = EMPTY_ALIGNMENT_STATS;
  for (let start = 0; start < texts.length; start += DOCUMENTS_PER_BATCH) {
    const batch = texts.slice(start, start + DOCUMENTS_PER_BATCH);
    const [studentDocs, teacherDocs] = await Promise.all([
      student.encodeBatch(batch),
      teacher.encodeBatch(batch),
    ]);
    const alignStarted = performance.now();
    for (let index = 0; index < batch.length; index++) {
      const studentDoc = studentDocs[index];
      const teacherDoc = teacherDocs[index];
      const alignment = alignTokens(studentDoc.spans, teacherDoc.spans);
      stats = mergeAlignmentStats(
        stats,
        computeAlignmentStats(studentDoc.spans, teacherDoc.spans, alignment),
      );
      documents.push({
        id: `bench:${start + index}`,
        byteLength: studentDoc.byteLength,
        studentIds: studentDoc.ids,
        studentSpans: studentDoc.spans,
        teacherIds: teacherDoc.ids,
        teacherSpans: teacherDoc.spans,
        teacherStart: alignment.teacherStart,
        teacherEnd: alignment.teacherEnd,
      });
    }
    alignMilliseconds += performance.now() - alignStarted;
  }
  const writeStarted = performance.now();
  await writeShard(
    shardPath,
    {
      item: "bench",
      studentIdentity: { ...student.identity },
      teacherIdentity: { ...teacher.identity },
      stats: { ...stats },
    },
    documents,
  );
  return { alignSeconds: alignMilliseconds / 1000, writeSeconds: (performance.now() - writeStarted) / 1000 };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { rounds: { type: "string", default: "9" }, megabytes: { type: "string", default: "2.5" } },
  });
  const rounds = Number(values.rounds);
  const megabytes = Number(values.megabytes);
  if (!Number.isInteger(rounds) || rounds < 1)
    throw new Error(`--rounds must be a positive integer, got ${values.rounds}`);
  if (!(megabytes > 0)) throw new Error(`--megabytes must be a positive number, got ${values.megabytes}`);

  const corpus = await readSympyDocstrings(megabytes * 1_000_000);
  const student = await loadTokenizer("tinyllama");
  const teacher = await loadTokenizer("qwen");
  const scratch = await mkdtemp(path.join(os.tmpdir(), "vocagno-bench-alignment-"));

  try {
    // Warm-up: JIT, the library's BPE caches and the file system.
    await encodeAlignWrite(corpus.texts.slice(0, 512), student, teacher, path.join(scratch, "warmup.arrow"));

    const encodeSeconds: number[] = [];
    const pipelineSeconds: number[] = [];
    const ratios: number[] = [];
    const encodeCpuSeconds: number[] = [];
    const pipelineCpuSeconds: number[] = [];
    const cpuRatios: number[] = [];
    const alignInPipelineSeconds: number[] = [];
    const writeInPipelineSeconds: number[] = [];
    let encoded: Array<[EncodedDocument, EncodedDocument]> = [];
    for (let round = 0; round < rounds; round++) {
      // Alternate which side runs first, and drop the previous round's tokens before timing,
      // so neither side pays for the other's garbage collection more often.
      encoded = [];
      const measureEncode = async (): Promise<{ wall: number; cpu: number }> => {
        const started = performance.now();
        const cpuStarted = process.cpuUsage();
        encoded = await encodeBoth(corpus.texts, student, teacher);
        return { wall: (performance.now() - started) / 1000, cpu: cpuSecondsSince(cpuStarted) };
      };
      const measurePipeline = async () => {
        const started = performance.now();
        const cpuStarted = process.cpuUsage();
        const result = await encodeAlignWrite(
          corpus.texts,
          student,
          teacher,
          path.join(scratch, `round-${round}.arrow`),
        );
        return { wall: (performance.now() - started) / 1000, cpu: cpuSecondsSince(cpuStarted), result };
      };
      let encodeTiming: { wall: number; cpu: number };
      let pipelineTiming: Awaited<ReturnType<typeof measurePipeline>>;
      if (round % 2 === 0) {
        encodeTiming = await measureEncode();
        encoded = [];
        pipelineTiming = await measurePipeline();
      } else {
        pipelineTiming = await measurePipeline();
        encodeTiming = await measureEncode();
      }
      const a = encodeTiming.wall;
      const aCpu = encodeTiming.cpu;
      const b = pipelineTiming.wall;
      const bCpu = pipelineTiming.cpu;
      const parts = pipelineTiming.result;
      encodeSeconds.push(a);
      pipelineSeconds.push(b);
      ratios.push(b / a);
      encodeCpuSeconds.push(aCpu);
      pipelineCpuSeconds.push(bCpu);
      cpuRatios.push(bCpu / aCpu);
      alignInPipelineSeconds.push(parts.alignSeconds);
      writeInPipelineSeconds.push(parts.writeSeconds);
      process.stderr.write(
        `round ${round + 1}/${rounds}: (a) ${a.toFixed(2)} s wall ${aCpu.toFixed(2)} s CPU, ` +
          `(b) ${b.toFixed(2)} s wall ${bCpu.toFixed(2)} s CPU (align ${parts.alignSeconds.toFixed(2)} s, ` +
          `shard ${parts.writeSeconds.toFixed(2)} s), b/a ${(b / a).toFixed(3)} wall ${(bCpu / aCpu).toFixed(3)} CPU\n`,
      );
    }

    encoded = await encodeBoth(corpus.texts, student, teacher);
    let studentTokens = 0;
    let teacherTokens = 0;
    for (const [studentDoc, teacherDoc] of encoded) {
      studentTokens += studentDoc.ids.length;
      teacherTokens += teacherDoc.ids.length;
    }

    // Alignment alone, one thread: every document's sweep, repeated.
    const alignSeconds: number[] = [];
    const alignCpuSeconds: number[] = [];
    for (let repeat = 0; repeat < 11; repeat++) {
      const started = performance.now();
      const cpuStarted = process.cpuUsage();
      for (const [studentDoc, teacherDoc] of encoded) {
        alignTokens(studentDoc.spans, teacherDoc.spans);
      }
      alignSeconds.push((performance.now() - started) / 1000);
      alignCpuSeconds.push(cpuSecondsSince(cpuStarted));
    }

    const result = {
      name: "alignment",
      text: corpus.source,
      textBytes: corpus.bytes,
      documents: corpus.texts.length,
      studentTokens,
      teacherTokens,
      rounds,
      encodeSecondsMedian: Number(median(encodeSeconds).toFixed(3)),
      pipelineSecondsMedian: Number(median(pipelineSeconds).toFixed(3)),
      pipelineOverEncodeMedianRatio: Number(median(ratios).toFixed(3)),
      pipelineOverEncodeRatios: ratios.map((ratio) => Number(ratio.toFixed(3))),
      encodeCpuSecondsMedian: Number(median(encodeCpuSeconds).toFixed(3)),
      pipelineCpuSecondsMedian: Number(median(pipelineCpuSeconds).toFixed(3)),
      pipelineOverEncodeMedianCpuRatio: Number(median(cpuRatios).toFixed(3)),
      pipelineOverEncodeCpuRatios: cpuRatios.map((ratio) => Number(ratio.toFixed(3))),
      alignAndStatsInPipelineSecondsMedian: Number(median(alignInPipelineSeconds).toFixed(3)),
      shardWriteInPipelineSecondsMedian: Number(median(writeInPipelineSeconds).toFixed(3)),
      encodeStudentTokensPerSecond: Math.round(studentTokens / median(encodeSeconds)),
      alignSecondsMedian: Number(median(alignSeconds).toFixed(4)),
      alignStudentTokensPerSecond: Math.round(studentTokens / median(alignSeconds)),
      alignStudentTokensPerCpuSecond: Math.round(studentTokens / median(alignCpuSeconds)),
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? "unknown",
      node: process.version,
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
}
