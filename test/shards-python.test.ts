import { execFileSync } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  readShard,
  readTeacherScores,
  type ShardMeta,
  writeShard,
  writeTeacherScores,
} from "../core/shards/index.ts";
import { sampleDocument, sampleScores } from "../core/shards/testing/sample-documents.ts";
import { joinUri } from "../core/storage/index.ts";
import { pythonExecutable } from "./support/python.ts";
import { createBucket, type S3Server, startS3Server, useS3Server } from "./support/s3-server.ts";

const batchImage = path.resolve(import.meta.dirname, "../batch-image");
const dumpScript = path.join(batchImage, "vocagno_data/tests/dump_files.py");

interface PythonDocument {
  id: string;
  byteLength: number;
  dtypes: string[];
  studentIds: number[];
  studentSpans: [number, number][];
  teacherIds: number[];
  teacherSpans: [number, number][];
  teacherStart: number[];
  teacherEnd: number[];
  mapped: boolean[];
}

interface PythonScores {
  id: string;
  dtype: string;
  teacherLoss: (number | "NaN")[];
  studentTeacherLoss: (number | "NaN")[];
}

interface PythonDump {
  shard: Omit<ShardMeta, "studentIdentity"> & { studentIdentity: unknown; documents: PythonDocument[] };
  scores: { item: string; teacherBundle: unknown; aggregation: string; documents: PythonScores[] };
}

function runPythonReader(shardUri: string, teacherUri: string): PythonDump {
  const output = execFileSync(pythonExecutable(), [dumpScript, shardUri, teacherUri], {
    encoding: "utf8",
    env: { ...process.env, PYTHONPATH: batchImage },
    stdio: ["ignore", "pipe", "pipe"],
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(output) as PythonDump;
}

function pairs(flat: Int32Array): [number, number][] {
  return Array.from({ length: flat.length / 2 }, (_, i) => [flat[2 * i], flat[2 * i + 1]]);
}

function nanAsString(values: Float32Array): (number | "NaN")[] {
  return Array.from(values, (value) => (Number.isNaN(value) ? "NaN" : value));
}

const META: ShardMeta = {
  item: "000042",
  studentIdentity: { sha256: "d".repeat(64), modelType: "BPE", vocabSize: 32000, bosId: 1, eosId: 2 },
  teacherIdentity: {
    sha256: "e".repeat(64),
    modelType: "BPE",
    vocabSize: 151_643,
    bosId: null,
    eosId: 151_643,
  },
  stats: { documents: 40, mappedFraction: 0.75 },
};
const SCORES_META = {
  item: "000042",
  teacherBundle: { modelSha256: "f".repeat(64), dtype: "fp32" },
  aggregation: "max" as const,
};

/** Writes files with TypeScript, reads them with the Python reader, and compares every value. */
async function checkRoundTrip(root: string) {
  // 40 documents with every 3rd student token unmapped, so null pairs and NaN losses occur throughout.
  const documents = Array.from({ length: 40 }, (_, index) => sampleDocument(index, { unmappedEvery: 3 }));
  const shardUri = joinUri(root, "shards/000042.arrow");
  const teacherUri = joinUri(root, "teacher/000042.arrow");
  await writeShard(shardUri, META, documents);
  await writeTeacherScores(teacherUri, SCORES_META, documents.map(sampleScores));

  const python = runPythonReader(shardUri, teacherUri);
  // The TypeScript reader is the reference for float16 rounding; it is checked exhaustively elsewhere.
  const typescriptScores = (await readTeacherScores(teacherUri)).rows;
  const typescriptShard = (await readShard(shardUri)).documents;

  expect(python.shard.item).toBe(META.item);
  expect(python.shard.studentIdentity).toEqual(META.studentIdentity);
  expect(python.shard.teacherIdentity).toEqual(META.teacherIdentity);
  expect(python.shard.stats).toEqual(META.stats);
  expect(python.shard.documents.length).toBe(documents.length);
  let unmappedSeen = 0;
  documents.forEach((document, row) => {
    const read = python.shard.documents[row];
    expect(read.id).toBe(document.id);
    expect(read.byteLength).toBe(document.byteLength);
    expect(read.dtypes).toEqual(["int32", "int32"]);
    expect(read.studentIds).toEqual(Array.from(document.studentIds));
    expect(read.studentSpans).toEqual(pairs(document.studentSpans));
    expect(read.teacherIds).toEqual(Array.from(document.teacherIds));
    expect(read.teacherSpans).toEqual(pairs(document.teacherSpans));
    const mapped = Array.from(document.teacherStart, (start, i) => start !== document.teacherEnd[i]);
    expect(read.mapped).toEqual(mapped);
    expect(read.teacherStart).toEqual(Array.from(typescriptShard[row].teacherStart));
    expect(read.teacherEnd).toEqual(Array.from(typescriptShard[row].teacherEnd));
    expect(read.teacherStart.filter((_, i) => mapped[i])).toEqual(
      Array.from(document.teacherStart).filter((_, i) => mapped[i]),
    );
    expect(read.teacherEnd.filter((_, i) => mapped[i])).toEqual(
      Array.from(document.teacherEnd).filter((_, i) => mapped[i]),
    );
    unmappedSeen += mapped.filter((value) => !value).length;
  });
  expect(unmappedSeen).toBeGreaterThan(0);

  expect(python.scores.item).toBe(SCORES_META.item);
  expect(python.scores.teacherBundle).toEqual(SCORES_META.teacherBundle);
  expect(python.scores.aggregation).toBe("max");
  let nanSeen = 0;
  typescriptScores.forEach((row, index) => {
    const read = python.scores.documents[index];
    expect(read.id).toBe(row.id);
    expect(read.dtype).toBe("float32");
    expect(read.teacherLoss).toEqual(nanAsString(row.teacherLoss));
    expect(read.studentTeacherLoss).toEqual(nanAsString(row.studentTeacherLoss));
    nanSeen += read.studentTeacherLoss.filter((value) => value === "NaN").length;
  });
  expect(nanSeen).toBeGreaterThan(0);
}

describe("Python shard reader", () => {
  let root: string;
  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), "vocagno-cross-"));
  });
  afterAll(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it("reads TypeScript files from a local directory", async () => {
    await checkRoundTrip(root);
  });

  it("reports a truncated shard by name", async () => {
    const shardUri = path.join(root, "cut.arrow");
    await writeShard(shardUri, META, [sampleDocument(1)]);
    const bytes = await fs.readFile(shardUri);
    await fs.writeFile(shardUri, bytes.subarray(0, bytes.length - 20));
    const run = () => runPythonReader(shardUri, shardUri);
    expect(run).toThrow(/ShardFormatError: invalid .*cut\.arrow: the file is truncated/);
  });

  describe("over S3", () => {
    let server: S3Server;
    beforeAll(async () => {
      server = await startS3Server();
      useS3Server(server.endpoint);
      await createBucket("vocagno-cross");
    });
    afterAll(async () => {
      await server?.stop();
    });

    it("reads TypeScript files from S3", async () => {
      await checkRoundTrip("s3://vocagno-cross/runs/r1");
    });
  });
});
