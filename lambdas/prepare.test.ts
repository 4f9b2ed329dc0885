import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { readShard, validateShardFile } from "../core/shards/index.ts";
import {
  smallExperiment,
  temporaryRoot,
  writeCorpus,
  writeExperiment,
} from "../core/steps/testing/run-fixtures.ts";
import { readTextUri } from "../core/storage/index.ts";
import { loadTokenizer } from "../core/tokenizers/index.ts";
import { createBucket, type S3Server, startS3Server, useS3Server } from "../test/support/s3-server.ts";
import { handler as plan } from "./plan.ts";
import { handler as prepare } from "./prepare.ts";

// 40 lines of 40 ASCII bytes each: 1600 bytes, over the 1024-byte limit, so it is cut at a line break.
const LONG_TEXT = Array.from(
  { length: 40 },
  (_, index) => `line ${String(index).padStart(2, "0")}: ${"x".repeat(30)}\n`,
).join("");

const CORPUS = [
  { id: "doc-0", text: "Let x = 3.14, so x² ≈ 9.86 😀 and <s> stays text." },
  "{broken json",
  { id: "doc-2" },
  { id: "doc-3", text: LONG_TEXT },
  { id: "doc-4", text: "Second item: ∫ f(x) dx." },
  { id: "doc-5", text: "Third document." },
];

function experimentFor(corpusUri: string) {
  return smallExperiment(corpusUri, {
    corpus: { uri: corpusUri, recordsPerItem: 4, idField: "id", maxDocumentBytes: 1024 },
  });
}

/** Teacher tokens whose non-empty span overlaps `[start, end)`, found by brute force. */
function overlappingTeacherTokens(teacherSpans: Int32Array, start: number, end: number): number[] {
  const tokens: number[] = [];
  for (let j = 0; j < teacherSpans.length / 2; j++) {
    const [teacherStart, teacherEnd] = [teacherSpans[2 * j], teacherSpans[2 * j + 1]];
    if (teacherStart < teacherEnd && teacherStart < end && start < teacherEnd) tokens.push(j);
  }
  return tokens;
}

describe("prepare handler on a local directory", () => {
  let local: Awaited<ReturnType<typeof temporaryRoot>>;
  let runUri: string;

  beforeAll(async () => {
    local = await temporaryRoot();
    const corpusUri = await writeCorpus(local.root, "prepare", { "p.jsonl": CORPUS });
    const experimentUri = await writeExperiment(local.root, "prepare", experimentFor(corpusUri));
    runUri = (await plan({ experimentUri, runId: "prepare-1" })).runUri;
  });

  afterAll(async () => {
    await local?.remove();
  });

  test("writes a valid shard and counts", async () => {
    const output = await prepare({ runUri, item: "000000" });

    expect(output).toMatchObject({ item: "000000", records: 4, rejected: 2, documents: 3, skipped: false });
    expect(await validateShardFile(`${runUri}/shards/000000.arrow`)).toEqual({ valid: true, documents: 3 });
  });

  test("tokenizes with both real tokenizers", async () => {
    const { documents, meta } = await readShard(`${runUri}/shards/000000.arrow`);
    const student = await loadTokenizer("tinyllama");
    const teacher = await loadTokenizer("qwen");
    const text = (CORPUS[0] as { text: string }).text;

    expect(documents.map((document) => document.id)).toEqual(["doc-0", "doc-3#0", "doc-3#1"]);
    expect([...documents[0].studentIds]).toEqual([...(await student.encode(text)).ids]);
    expect([...documents[0].teacherIds]).toEqual([...(await teacher.encode(text)).ids]);
    expect(meta.studentIdentity.sha256).toBe(student.identity.sha256);
    expect(meta.teacherIdentity.sha256).toBe(teacher.identity.sha256);
  });

  test("alignment covers each student span", async () => {
    const { documents } = await readShard(`${runUri}/shards/000000.arrow`);
    for (const document of documents) {
      for (let i = 0; i < document.studentIds.length; i++) {
        const expected = overlappingTeacherTokens(
          document.teacherSpans,
          document.studentSpans[2 * i],
          document.studentSpans[2 * i + 1],
        );
        const stored =
          document.teacherStart[i] === document.teacherEnd[i]
            ? []
            : [document.teacherStart[i], document.teacherEnd[i]];
        const expectedRange = expected.length === 0 ? [] : [expected[0], expected[expected.length - 1] + 1];
        expect(stored, `${document.id} student token ${i}`).toEqual(expectedRange);
      }
    }
  });

  test("long document pieces rebuild the text", async () => {
    const { documents } = await readShard(`${runUri}/shards/000000.arrow`);
    const pieces = documents.filter((document) => document.id.startsWith("doc-3#"));

    // The first piece ends at the last line break within 1024 bytes: 25 lines of 40 bytes.
    expect(pieces.map((piece) => piece.byteLength)).toEqual([25 * 40, 15 * 40]);
    expect(pieces.reduce((sum, piece) => sum + piece.byteLength, 0)).toBe(Buffer.byteLength(LONG_TEXT));
  });

  test("rejects are written with reasons", async () => {
    const lines = (await readTextUri(`${runUri}/rejects/000000.jsonl`))
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));

    expect(lines.map((line) => [line.recordNumber, line.reason])).toEqual([
      [1, "invalid_json"],
      [2, "missing_text"],
    ]);
  });

  test("second call skips a valid shard", async () => {
    const first = await prepare({ runUri, item: "000001" });
    const second = await prepare({ runUri, item: "000001" });

    expect(first.skipped).toBe(false);
    expect(second).toEqual({ ...first, skipped: true });
    expect(second.studentTokens).toBeGreaterThan(0);
  });

  test("unknown item fails naming it", async () => {
    await expect(prepare({ runUri, item: "000099" })).rejects.toThrow(/work item "000099" is not in/);
  });

  test("bad input is rejected", async () => {
    await expect(prepare({ runUri, item: "7" })).rejects.toThrow(/invalid input of step prepare/);
  });
});

describe("prepare handler on S3", () => {
  let server: S3Server;

  beforeAll(async () => {
    server = await startS3Server();
    useS3Server(server.endpoint);
    await createBucket("prepare-bucket");
  });

  afterAll(async () => {
    await server?.stop();
  });

  test("writes a valid shard to the bucket", async () => {
    const root = "s3://prepare-bucket";
    const corpusUri = await writeCorpus(root, "prepare", { "p.jsonl": CORPUS });
    const experimentUri = await writeExperiment(root, "prepare", experimentFor(corpusUri));
    const { runUri } = await plan({ experimentUri, runId: "prepare-s3" });

    const output = await prepare({ runUri, item: "000001" });

    expect(output).toMatchObject({ records: 2, rejected: 0, documents: 2 });
    expect(await validateShardFile("s3://prepare-bucket/runs/prepare-s3/shards/000001.arrow")).toEqual({
      valid: true,
      documents: 2,
    });
    expect(await readTextUri("s3://prepare-bucket/runs/prepare-s3/rejects/000001.jsonl")).toBe("");
  });
});
