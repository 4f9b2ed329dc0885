import { type ChildProcess, spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  float16BitsToNumber,
  numberToFloat16Bits,
  readTeacherScores,
  type ShardDocument,
  writeShard,
} from "../../core/shards/index.ts";
import { uploadFile, writeUri } from "../../core/storage/index.ts";
import { createBucket, type S3Server, startS3Server, useS3Server } from "../../test/support/s3-server.ts";
import { useTemporaryDirectories } from "../../test/support/temporary.ts";
import { aggregateTeacherLoss } from "./aggregation.ts";
import { openTeacherBundle, TeacherBundleError } from "./bundle.ts";
import { TeacherEngine } from "./engine.ts";
import { scoreDocuments } from "./score-documents.ts";
import {
  buildTinyTeacher,
  makeShardDocuments,
  REPO_ROOT,
  type TinyTeacher,
  TOKENIZERS,
} from "./test-support.ts";
import { runTeacherScoring, sliceItems } from "./worker.ts";

const SHARD_META = { studentIdentity: { name: "words" }, teacherIdentity: { name: "mistral" }, stats: {} };

function documentTexts(item: number, count: number): string[] {
  return Array.from({ length: count }, (_, index) =>
    Array.from(
      { length: 5 + ((index * 7 + item) % 23) },
      (_, k) => `term${(k * 13 + index + item) % 97} = ${k}`,
    ).join(" "),
  );
}

const temporaryDirectory = useTemporaryDirectories();

/** Writes runs/<runId>/manifest.json and one shard per item under a new temp directory. */
async function createRun(items: Record<string, ShardDocument[] | Uint8Array>): Promise<string> {
  const runDir = path.join(temporaryDirectory("vocagno-teacher-run"), "runs", "r1");
  mkdirSync(path.join(runDir, "shards"), { recursive: true });
  const manifest = {
    formatVersion: 1,
    runId: "r1",
    items: Object.keys(items).map((item) => ({ item, split: "train" })),
  };
  writeFileSync(path.join(runDir, "manifest.json"), JSON.stringify(manifest));
  for (const [item, content] of Object.entries(items)) {
    const shardPath = path.join(runDir, "shards", `${item}.arrow`);
    if (content instanceof Uint8Array) writeFileSync(shardPath, content);
    else await writeShard(shardPath, { item, ...SHARD_META }, content);
  }
  return runDir;
}

function float16(values: Float32Array): number[] {
  return Array.from(values, (value) => float16BitsToNumber(numberToFloat16Bits(value)));
}

describe("runTeacherScoring", () => {
  let teacher: TinyTeacher;
  let runDir: string;
  let documents: ShardDocument[];

  beforeAll(async () => {
    teacher = buildTinyTeacher({ architecture: "mistral" });
    documents = await makeShardDocuments(TOKENIZERS.mistral, documentTexts(0, 6), "a");
    const outOfRange = (await makeShardDocuments(TOKENIZERS.mistral, documentTexts(1, 2), "b")).map(
      (document) => ({
        ...document,
        teacherIds: document.teacherIds.map((id, j) => (j === 3 ? 32000 : id)),
      }),
    );
    runDir = await createRun({
      "000000": documents,
      "000001": new TextEncoder().encode("ARROW1 but not really an Arrow file"),
      "000002": outOfRange,
    });
  });

  it("writes scores and rejects bad shards", async () => {
    const options = {
      runUri: runDir,
      teacherUri: teacher.bundleDir,
      contextTokens: 24,
      minContextTokens: 6,
      batchTokens: 512,
    };
    const summary = await runTeacherScoring({ ...options, aggregation: "mean" });
    expect(summary).toEqual({ scored: ["000000"], skipped: [], rejected: ["000001", "000002"] });

    const { meta, rows } = await readTeacherScores(path.join(runDir, "teacher", "000000.arrow"));
    expect(meta.aggregation).toBe("mean");
    expect(meta.teacherBundle.contextTokens).toBe(24);
    const engine = await TeacherEngine.create({
      modelPath: path.join(teacher.bundleDir, "model.onnx"),
      provider: "cpu",
    });
    const { losses } = await scoreDocuments(
      engine,
      documents.map((document) => document.teacherIds),
      { contextTokens: 24, minContextTokens: 6, bosTokenId: 1 },
      512,
    );
    await engine.release();
    rows.forEach((row, index) => {
      expect(row.id).toBe(documents[index].id);
      expect(Array.from(row.teacherLoss)).toEqual(float16(losses[index]));
      const aggregated = aggregateTeacherLoss(
        losses[index],
        documents[index].teacherStart,
        documents[index].teacherEnd,
        "mean",
      );
      expect(Array.from(row.studentTeacherLoss)).toEqual(float16(aggregated));
    });
    // Mistral has BOS, so every teacher token of a document has a loss.
    expect(rows.every((row) => row.teacherLoss.every((loss) => Number.isFinite(loss)))).toBe(true);

    const corrupt = JSON.parse(readFileSync(path.join(runDir, "rejects", "teacher-000001.jsonl"), "utf8"));
    expect(corrupt.item).toBe("000001");
    expect(corrupt.reason).toMatch(/000001\.arrow/);
    const outOfRange = JSON.parse(readFileSync(path.join(runDir, "rejects", "teacher-000002.jsonl"), "utf8"));
    expect(outOfRange.code).toBe("token_id_out_of_range");
    expect(outOfRange.reason).toContain("teacher token id 32000 at position 3");
    expect(existsSync(path.join(runDir, "teacher", "000001.arrow"))).toBe(false);
  });

  it("skips items already scored", async () => {
    const outputPath = path.join(runDir, "teacher", "000000.arrow");
    const options = {
      runUri: runDir,
      teacherUri: teacher.bundleDir,
      contextTokens: 24,
      minContextTokens: 6,
      items: ["000000"],
    };
    if (!existsSync(outputPath)) await runTeacherScoring(options);
    const before = statSync(outputPath).mtimeMs;
    const summary = await runTeacherScoring(options);
    expect(summary.skipped).toEqual(["000000"]);
    expect(statSync(outputPath).mtimeMs).toBe(before);
  });

  it("rejects a context above the teacher's", async () => {
    await expect(
      runTeacherScoring({ runUri: runDir, teacherUri: teacher.bundleDir, contextTokens: 4096 }),
    ).rejects.toThrow("exceeds the teacher's max context of 512");
  });
});

describe("runTeacherScoring settings", () => {
  it("reads defaults from experiment.json", async () => {
    const teacher = buildTinyTeacher({ architecture: "mistral" });
    const documents = await makeShardDocuments(TOKENIZERS.mistral, documentTexts(2, 2), "e");
    const runDir = await createRun({ "000000": documents });
    const teacherSettings = { aggregation: "sum", contextTokens: 40, minContextTokens: 10, batchTokens: 128 };
    writeFileSync(
      path.join(runDir, "experiment.json"),
      JSON.stringify({ name: "e", teacher: teacherSettings }),
    );

    await runTeacherScoring({ runUri: runDir, teacherUri: teacher.bundleDir });
    const { meta } = await readTeacherScores(path.join(runDir, "teacher", "000000.arrow"));
    expect(meta.aggregation).toBe("sum");
    expect(meta.teacherBundle.contextTokens).toBe(40);
    expect(meta.teacherBundle.minContextTokens).toBe(10);
  });
});

describe("openTeacherBundle", () => {
  it("rejects a tokenizer larger than the model vocabulary", () => {
    const teacher = buildTinyTeacher({ architecture: "mistral" });
    const copy = path.join(temporaryDirectory("vocagno-bundle"), "teacher");
    cpSync(teacher.bundleDir, copy, { recursive: true });
    const metadataPath = path.join(copy, "teacher.json");
    writeFileSync(
      metadataPath,
      JSON.stringify({ ...JSON.parse(readFileSync(metadataPath, "utf8")), vocabSize: 31000 }),
    );
    return expect(openTeacherBundle(copy)).rejects.toThrow(
      new TeacherBundleError(
        "vocabulary_mismatch",
        copy,
        `teacher ${copy}: tokenizer.json has ids up to 31999 but the model's vocabulary has 31000 rows; the tokenizer does not belong to this model, re-export the bundle`,
      ),
    );
  });
});

describe("sliceItems", () => {
  it("splits items into contiguous slices", () => {
    const items = ["a", "b", "c", "d", "e"];
    const slices = [0, 1, 2].map((index) => sliceItems(items, index, 3));
    expect(slices).toEqual([["a"], ["b", "c"], ["d", "e"]]);
  });

  it("rejects an index outside the array", () => {
    expect(() => sliceItems(["a"], 2, 2)).toThrow("invalid array index 2; use an integer in [0, 2)");
  });
});

describe("teacher-score main", () => {
  const main = path.join(REPO_ROOT, "batch-image/teacher-score/main.ts");

  function startWorker(runDir: string, bundleDir: string): ChildProcess {
    const args = ["--import", "tsx", main, "--run", pathToFileURL(runDir).href, "--teacher", bundleDir];
    return spawn(
      process.execPath,
      [...args, "--context-tokens", "32", "--min-context-tokens", "8", "--threads", "1"],
      {
        cwd: REPO_ROOT,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
  }

  function finished(child: ChildProcess): Promise<number | null> {
    return new Promise((resolve) => child.on("exit", (code) => resolve(code)));
  }

  function arrowFiles(runDir: string): string[] {
    const directory = path.join(runDir, "teacher");
    return existsSync(directory)
      ? readdirSync(directory)
          .filter((name) => name.endsWith(".arrow"))
          .sort()
      : [];
  }

  it("resumes after SIGKILL with identical files", async () => {
    const teacher = buildTinyTeacher({ architecture: "mistral" });
    const items: Record<string, ShardDocument[]> = {};
    for (let item = 0; item < 8; item++) {
      items[String(item).padStart(6, "0")] = await makeShardDocuments(
        TOKENIZERS.mistral,
        documentTexts(item, 40),
        `i${item}`,
      );
    }
    const killedRun = await createRun(items);
    const cleanRun = await createRun(items);

    const victim = startWorker(killedRun, teacher.bundleDir);
    const victimExit = finished(victim);
    while (arrowFiles(killedRun).length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    victim.kill("SIGKILL");
    await victimExit;
    const afterKill = arrowFiles(killedRun).length;
    expect(afterKill).toBeGreaterThan(0);
    expect(afterKill).toBeLessThan(8);

    expect(await finished(startWorker(killedRun, teacher.bundleDir))).toBe(0);
    expect(await finished(startWorker(cleanRun, teacher.bundleDir))).toBe(0);
    expect(arrowFiles(killedRun)).toEqual(arrowFiles(cleanRun));
    expect(arrowFiles(cleanRun)).toHaveLength(8);
    for (const name of arrowFiles(cleanRun)) {
      const resumed = readFileSync(path.join(killedRun, "teacher", name));
      const clean = readFileSync(path.join(cleanRun, "teacher", name));
      expect(resumed.equals(clean), name).toBe(true);
    }
  });
});

describe("runTeacherScoring over S3", () => {
  let server: S3Server;
  beforeAll(async () => {
    server = await startS3Server();
    useS3Server(server.endpoint);
    await createBucket("vocagno-teacher-test");
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("downloads the bundle and writes scores", async () => {
    const teacher = buildTinyTeacher({ architecture: "mistral" });
    const bundleUri = "s3://vocagno-teacher-test/teachers/mistral";
    for (const file of readdirSync(teacher.bundleDir)) {
      await uploadFile(path.join(teacher.bundleDir, file), `${bundleUri}/${file}`);
    }
    const cacheDirectory = temporaryDirectory("vocagno-teacher-cache");
    const bundle = await openTeacherBundle(bundleUri, cacheDirectory);
    expect(
      readFileSync(bundle.modelPath).equals(readFileSync(path.join(teacher.bundleDir, "model.onnx"))),
    ).toBe(true);

    const runUri = "s3://vocagno-teacher-test/runs/r2";
    const documents = await makeShardDocuments(TOKENIZERS.mistral, documentTexts(3, 3), "s");
    await writeUri(
      `${runUri}/manifest.json`,
      JSON.stringify({ formatVersion: 1, runId: "r2", items: [{ item: "000000" }] }),
    );
    await writeShard(`${runUri}/shards/000000.arrow`, { item: "000000", ...SHARD_META }, documents);
    const summary = await runTeacherScoring({
      runUri,
      teacherUri: bundleUri,
      contextTokens: 64,
      minContextTokens: 16,
    });
    expect(summary.scored).toEqual(["000000"]);
    const { rows } = await readTeacherScores(`${runUri}/teacher/000000.arrow`);
    expect(rows.map((row) => row.id)).toEqual(documents.map((document) => document.id));
  });
});
