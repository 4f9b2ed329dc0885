import { execFileSync } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pythonExecutable } from "../../test/support/python.ts";
import { createBucket, type S3Server, startS3Server, useS3Server } from "../../test/support/s3-server.ts";
import { readTextUri, uploadFile } from "../storage/index.ts";
import {
  CorpusError,
  type CorpusReadOptions,
  type CorpusRecord,
  countCorpusRecords,
  type RejectedRecord,
  RejectWriter,
  readCorpus,
} from "./index.ts";

let root: string;
beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "vocagno-corpus-"));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

const encoder = new TextEncoder();

function concatBytes(parts: (string | Uint8Array)[]): Uint8Array {
  return Buffer.concat(parts.map((part) => (typeof part === "string" ? encoder.encode(part) : part)));
}

/** Reads a whole corpus file and its rejects file. */
async function readAll(
  uri: string,
  options: Omit<CorpusReadOptions, "rejects"> = {},
): Promise<{
  records: CorpusRecord[];
  rejects: RejectedRecord[];
  counts: ReturnType<typeof readCorpus>["counts"];
}> {
  const rejectsUri = path.join(
    root,
    "rejects",
    `${path.basename(uri)}-${Math.random().toString(16).slice(2)}.jsonl`,
  );
  const writer = await RejectWriter.open(rejectsUri);
  const corpus = readCorpus(uri, { ...options, rejects: writer });
  const records: CorpusRecord[] = [];
  for await (const record of corpus) records.push(record);
  await writer.close();
  const text = await readTextUri(rejectsUri);
  const rejects = text
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as RejectedRecord);
  return { records, rejects, counts: corpus.counts };
}

/** Runs Python code with the project's environment; used to write .zst and Parquet files as other tools would. */
function runPython(code: string, ...args: string[]): void {
  execFileSync(pythonExecutable(), ["-c", code, ...args], { stdio: ["ignore", "pipe", "pipe"] });
}

function zstdCompress(source: string, target: string): void {
  // pyarrow's zstd codec writes a standard zstd frame, the same format as the zstd command line tool.
  runPython(
    "import sys, pyarrow as pa\nwith open(sys.argv[1], 'rb') as src, pa.CompressedOutputStream(sys.argv[2], 'zstd') as out: out.write(src.read())",
    source,
    target,
  );
}

/** One line per case. Record numbers are line indexes from 0. */
const MIXED_LINES: [string | Uint8Array, string | null][] = [
  ['{"id": "a", "text": "plain ascii"}\n', "good"],
  ['{"id": "b", "text": "crlf 🙂 line"}\r\n', "good"],
  ["{not json}\n", "invalid_json"],
  ['["an", "array"]\n', "not_an_object"],
  ['{"id": "e", "body": "no text field"}\n', "missing_text"],
  ['{"id": "f", "text": null}\n', "missing_text"],
  ['{"id": "g", "text": 42}\n', "text_not_string"],
  ['{"id": "h", "text": ""}\n', "empty_text"],
  ['{"id": "i", "text": " \\n\\t "}\n', "empty_text"],
  ["\n", "blank_line"],
  [concatBytes(['{"id": "k", "text": "bad byte ', new Uint8Array([0xff, 0xfe]), '"}\n']), "invalid_utf8"],
  ['{"id": "l", "text": "lone \\ud800 surrogate"}\n', "invalid_utf8"],
  ['{"text": "no id"}\n', "missing_id"],
  ['{"id": {"nested": true}, "text": "object id"}\n', "invalid_id"],
  ['{"id": 15, "text": "numeric id keeps its digits"}\n', "good"],
  ['{"id": "p", "text": "literal <s> and <|endoftext|> stay text"}', "good"],
];

async function writeMixed(name: string): Promise<string> {
  const file = path.join(root, name);
  await fs.writeFile(file, concatBytes(MIXED_LINES.map(([line]) => line)));
  return file;
}

function checkMixed(result: Awaited<ReturnType<typeof readAll>>, source: string) {
  const expectedGood = MIXED_LINES.flatMap(([, kind], index) => (kind === "good" ? [index] : []));
  expect(result.records.map((record) => record.recordNumber)).toEqual(expectedGood);
  expect(result.records.map((record) => record.id)).toEqual(["a", "b", "15", "p"]);
  expect(result.records[1].text).toBe("crlf 🙂 line");
  expect(result.records[3].text).toBe("literal <s> and <|endoftext|> stay text");

  const expectedRejects = MIXED_LINES.flatMap(([, kind], index) =>
    kind === "good" ? [] : [{ recordNumber: index, reason: kind }],
  );
  expect(result.rejects.map(({ recordNumber, reason }) => ({ recordNumber, reason }))).toEqual(
    expectedRejects,
  );
  for (const reject of result.rejects) {
    expect(reject.source).toBe(source);
    expect(reject.message.length).toBeGreaterThan(0);
  }
  expect(result.rejects.find((reject) => reject.reason === "invalid_json")?.excerpt).toBe("{not json}");
  expect(result.counts.good).toBe(4);
  expect(result.counts.rejected).toBe(12);
  expect(result.counts.rejectedByReason.empty_text).toBe(2);
  expect(result.counts.rejectedByReason.invalid_utf8).toBe(2);
}

describe("readCorpus on JSONL", () => {
  it("rejects each bad line with its reason", async () => {
    const file = await writeMixed("mixed.jsonl");
    checkMixed(await readAll(file, { idField: "id" }), "mixed.jsonl");
  });

  it("reads gzip, including multi-member files", async () => {
    const plain = await fs.readFile(await writeMixed("mixed-for-gz.jsonl"));
    const middle = Math.floor(plain.length / 2);
    const file = path.join(root, "mixed.jsonl.gz");
    // Two gzip members, split mid-line: concatenated .gz files form one valid stream.
    await fs.writeFile(
      file,
      Buffer.concat([gzipSync(plain.subarray(0, middle)), gzipSync(plain.subarray(middle))]),
    );
    checkMixed(await readAll(file, { idField: "id" }), "mixed.jsonl.gz");
  });

  it("reads zstd", async () => {
    const plainFile = await writeMixed("mixed-for-zst.jsonl");
    const file = path.join(root, "mixed.jsonl.zst");
    zstdCompress(plainFile, file);
    checkMixed(await readAll(file, { idField: "id" }), "mixed.jsonl.zst");
  });

  it("uses source and record number as default id", async () => {
    const file = path.join(root, "noids.jsonl");
    await fs.writeFile(file, '{"text": "one"}\n{"text": ""}\n{"text": "three"}\n');
    const { records } = await readAll(file, { sourceName: "owm-part-7" });
    expect(records.map((record) => record.id)).toEqual(["owm-part-7:0", "owm-part-7:2"]);
  });

  it("reads a configured text field", async () => {
    const file = path.join(root, "content.jsonl");
    await fs.writeFile(file, '{"content": "x", "text": "not this"}\n');
    const { records } = await readAll(file, { textField: "content" });
    expect(records.map((record) => record.text)).toEqual(["x"]);
  });

  it("reads a huge line", async () => {
    // 5 MiB of text in one line, far beyond any stream chunk (64 KiB for files).
    const text = "αβγ 🙂 ".repeat((5 * 1024 * 1024) / 12);
    const file = path.join(root, "huge.jsonl");
    await fs.writeFile(file, `{"text": "short"}\n${JSON.stringify({ text: text })}\n{"text": "after"}`);
    const { records, rejects } = await readAll(file);
    expect(rejects).toEqual([]);
    expect(records.map((record) => record.recordNumber)).toEqual([0, 1, 2]);
    expect(records[1].text === text).toBe(true);
    expect(records[2].text).toBe("after");
  });

  it("rejects a line over maxRecordBytes", async () => {
    const file = path.join(root, "too-large.jsonl");
    const big = JSON.stringify({ text: "x".repeat(200_000) });
    await fs.writeFile(file, `${big}\n{"text": "kept"}\n`);
    const { records, rejects } = await readAll(file, { maxRecordBytes: 100_000 });
    expect(records.map((record) => record.text)).toEqual(["kept"]);
    expect(rejects.length).toBe(1);
    expect(rejects[0].reason).toBe("record_too_large");
    expect(rejects[0].message).toContain(`${big.length} bytes`);
    // The excerpt is bounded (REJECT_EXCERPT_BYTES = 256).
    expect(rejects[0].excerpt).toBe(big.slice(0, 256));
  });

  it("bounds the excerpt of a rejected line", async () => {
    const file = path.join(root, "long-bad.jsonl");
    await fs.writeFile(file, `{"text": ${"9".repeat(10_000)}}\n`);
    const { rejects } = await readAll(file);
    expect(rejects[0].reason).toBe("text_not_string");
    expect(rejects[0].excerpt.length).toBe(256);
  });

  it("reads a record range", async () => {
    const file = path.join(root, "range.jsonl");
    const lines = Array.from({ length: 10 }, (_, i) =>
      i === 4 ? "{bad}" : JSON.stringify({ text: `t${i}` }),
    );
    await fs.writeFile(file, `${lines.join("\n")}\n`);
    const middle = await readAll(file, { startRecord: 3, endRecord: 7 });
    expect(middle.records.map((record) => record.recordNumber)).toEqual([3, 5, 6]);
    expect(middle.rejects.map((reject) => reject.recordNumber)).toEqual([4]);
    const tail = await readAll(file, { startRecord: 8, endRecord: 100 });
    expect(tail.records.map((record) => record.text)).toEqual(["t8", "t9"]);
    const empty = await readAll(file, { startRecord: 5, endRecord: 5 });
    expect(empty.records).toEqual([]);
  });

  it("rejects an invalid range", () => {
    const rejects = { add: async () => {} };
    expect(() => readCorpus("/x.jsonl", { rejects, startRecord: -1 })).toThrow(/startRecord -1/);
    expect(() => readCorpus("/x.jsonl", { rejects, startRecord: 5, endRecord: 2 })).toThrow(/endRecord 2/);
  });

  it("raises corrupt_input for truncated compressed files", async () => {
    const plainFile = await writeMixed("cut.jsonl");
    const plain = await fs.readFile(plainFile);
    const gz = gzipSync(plain);
    await fs.writeFile(path.join(root, "cut.jsonl.gz"), gz.subarray(0, gz.length - 20));
    zstdCompress(plainFile, path.join(root, "full.jsonl.zst"));
    const zst = await fs.readFile(path.join(root, "full.jsonl.zst"));
    await fs.writeFile(path.join(root, "cut.jsonl.zst"), zst.subarray(0, zst.length - 20));
    for (const name of ["cut.jsonl.gz", "cut.jsonl.zst"]) {
      const error = await readAll(path.join(root, name)).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(CorpusError);
      expect((error as CorpusError).code).toBe("corrupt_input");
      expect((error as CorpusError).message).toContain(name);
    }
  });

  it("rejects an unknown extension", () => {
    expect(() => readCorpus("/data/corpus.csv", { rejects: { add: async () => {} } })).toThrow(
      /cannot tell the format of \/data\/corpus.csv/,
    );
  });

  it("counts records", async () => {
    const file = await writeMixed("count.jsonl");
    expect(await countCorpusRecords(file)).toBe(MIXED_LINES.length);
  });
});

/**
 * Writes a Parquet file with pyarrow: text as a STRING column built from raw
 * buffers (so one value can hold invalid UTF-8), an int64 id column, and
 * row groups of 3 rows.
 */
function writeParquet(file: string): void {
  runPython(
    `
import sys
import pyarrow as pa, pyarrow.parquet as pq
values = [b"zero", b"one \\xf0\\x9f\\x99\\x82", None, b"", b"bad \\xff", b"five", b"six", b"seven"]
offsets, data, valid = [0], b"", []
for value in values:
    data += value or b""
    offsets.append(len(data))
    valid.append(value is not None)
validity = pa.array(valid).buffers()[1]
text = pa.Array.from_buffers(pa.string(), len(values), [validity, pa.py_buffer(pa.array(offsets, pa.int32()).buffers()[1]), pa.py_buffer(data)], null_count=valid.count(False))
ids = pa.array([100 + i for i in range(len(values))], pa.int64())
other = pa.array(["unused"] * len(values))
pq.write_table(pa.table({"other": other, "text": text, "doc_id": ids}), sys.argv[1], row_group_size=3)
`,
    file,
  );
}

describe("readCorpus on Parquet", () => {
  let file: string;
  beforeAll(() => {
    file = path.join(root, "corpus.parquet");
    writeParquet(file);
  });

  it("reads good rows and rejects bad ones", async () => {
    const { records, rejects, counts } = await readAll(file, { idField: "doc_id" });
    expect(records.map((record) => record.recordNumber)).toEqual([0, 1, 5, 6, 7]);
    expect(records.map((record) => record.id)).toEqual(["100", "101", "105", "106", "107"]);
    expect(records[1].text).toBe("one 🙂");
    expect(rejects.map(({ recordNumber, reason }) => ({ recordNumber, reason }))).toEqual([
      { recordNumber: 2, reason: "missing_text" },
      { recordNumber: 3, reason: "empty_text" },
      { recordNumber: 4, reason: "invalid_utf8" },
    ]);
    expect(rejects[2].excerpt).toContain("bad");
    expect(counts).toEqual({
      good: 5,
      rejected: 3,
      rejectedByReason: { missing_text: 1, empty_text: 1, invalid_utf8: 1 },
    });
  });

  it("reads a range across row groups", async () => {
    // Rows 2..6 span the row groups [0,3), [3,6) and [6,8).
    const { records, rejects } = await readAll(file, { startRecord: 2, endRecord: 7 });
    expect(records.map((record) => record.recordNumber)).toEqual([5, 6]);
    expect(rejects.map((reject) => reject.recordNumber)).toEqual([2, 3, 4]);
  });

  it("rejects a missing column by name", async () => {
    const error = await readAll(file, { textField: "content" }).catch((caught: unknown) => caught);
    expect((error as CorpusError).code).toBe("invalid_option");
    expect((error as CorpusError).message).toMatch(
      /column "content" is not in .*its columns are other, text, doc_id/,
    );
  });

  it("counts rows from the footer", async () => {
    expect(await countCorpusRecords(file)).toBe(8);
  });

  it("raises corrupt_input for a file that is not Parquet", async () => {
    const bogus = path.join(root, "bogus.parquet");
    await fs.writeFile(bogus, "not parquet at all");
    await expect(readAll(bogus)).rejects.toMatchObject({ code: "corrupt_input" });
  });
});

describe("readCorpus over S3", () => {
  let server: S3Server;
  beforeAll(async () => {
    server = await startS3Server();
    useS3Server(server.endpoint);
    await createBucket("vocagno-corpus");
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("reads zstd JSONL and Parquet objects", async () => {
    const plainFile = await writeMixed("s3-mixed.jsonl");
    const zst = path.join(root, "s3-mixed.jsonl.zst");
    zstdCompress(plainFile, zst);
    await uploadFile(zst, "s3://vocagno-corpus/corpus/mixed.jsonl.zst");
    checkMixed(
      await readAll("s3://vocagno-corpus/corpus/mixed.jsonl.zst", { idField: "id" }),
      "mixed.jsonl.zst",
    );

    const parquet = path.join(root, "s3.parquet");
    writeParquet(parquet);
    await uploadFile(parquet, "s3://vocagno-corpus/corpus/part.parquet");
    const { records } = await readAll("s3://vocagno-corpus/corpus/part.parquet", { startRecord: 5 });
    expect(records.map((record) => record.id)).toEqual([
      "part.parquet:5",
      "part.parquet:6",
      "part.parquet:7",
    ]);
  });

  it("writes rejects to S3", async () => {
    const writer = await RejectWriter.open("s3://vocagno-corpus/runs/r1/rejects/000000.jsonl");
    const corpus = readCorpus(await writeMixed("s3-rejects.jsonl"), { rejects: writer, idField: "id" });
    for await (const _ of corpus) {
      // Only the rejects matter here.
    }
    await writer.close();
    const lines = (await readTextUri("s3://vocagno-corpus/runs/r1/rejects/000000.jsonl")).trim().split("\n");
    expect(lines.length).toBe(12);
    expect(writer.count).toBe(12);
  });
});
