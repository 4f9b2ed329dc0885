import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {
  Field,
  Float32,
  Int32,
  List,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Table,
  tableToIPC,
  Utf8,
} from "apache-arrow";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readUri, writeUri } from "../storage/index.ts";
import { float16BitsToNumber, numberToFloat16Bits } from "./float16.ts";
import {
  encodeShard,
  readShard,
  readTeacherScores,
  type ShardDocument,
  ShardFormatError,
  type ShardMeta,
  validateShardFile,
  validateTeacherScoresFile,
  writeShard,
  writeTeacherScores,
} from "./index.ts";
import { sampleDocument, sampleScores } from "./testing/sample-documents.ts";

const META: ShardMeta = {
  item: "000007",
  studentIdentity: { sha256: "a".repeat(64), modelType: "BPE", vocabSize: 32000, bosId: 1, eosId: 2 },
  teacherIdentity: {
    sha256: "b".repeat(64),
    modelType: "BPE",
    vocabSize: 151_643,
    bosId: null,
    eosId: 151_643,
  },
  stats: { documents: 3, unmappedStudentTokens: 4 },
};

let root: string;
beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "vocagno-shards-"));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

function expectSameDocument(actual: ShardDocument, expected: ShardDocument) {
  expect(actual.id).toBe(expected.id);
  expect(actual.byteLength).toBe(expected.byteLength);
  expect(Array.from(actual.studentIds)).toEqual(Array.from(expected.studentIds));
  expect(Array.from(actual.studentSpans)).toEqual(Array.from(expected.studentSpans));
  expect(Array.from(actual.teacherIds)).toEqual(Array.from(expected.teacherIds));
  expect(Array.from(actual.teacherSpans)).toEqual(Array.from(expected.teacherSpans));
  // Unmapped tokens come back as [0, 0), whatever equal pair was written.
  const unmapped = (doc: ShardDocument, i: number) => doc.teacherStart[i] === doc.teacherEnd[i];
  for (let i = 0; i < expected.studentIds.length; i++) {
    expect(unmapped(actual, i)).toBe(unmapped(expected, i));
    if (!unmapped(expected, i)) {
      expect([actual.teacherStart[i], actual.teacherEnd[i]]).toEqual([
        expected.teacherStart[i],
        expected.teacherEnd[i],
      ]);
    }
  }
}

describe("float16 conversion", () => {
  it("round-trips every binary16 value", () => {
    for (let bits = 0; bits < 65536; bits++) {
      const value = float16BitsToNumber(bits);
      if (Number.isNaN(value)) {
        expect(Number.isNaN(float16BitsToNumber(numberToFloat16Bits(value)))).toBe(true);
      } else if (numberToFloat16Bits(value) !== bits) {
        expect(numberToFloat16Bits(value)).toBe(bits);
      }
    }
  });

  it("rounds to nearest even and saturates", () => {
    // 1 + 2^-11 is halfway between 1 and the next binary16 value 1 + 2^-10: ties go to the even mantissa (1).
    expect(float16BitsToNumber(numberToFloat16Bits(1 + 2 ** -11))).toBe(1);
    // 1 + 3 * 2^-11 is halfway between 1 + 2^-10 (odd mantissa) and 1 + 2^-9 (even): rounds up.
    expect(float16BitsToNumber(numberToFloat16Bits(1 + 3 * 2 ** -11))).toBe(1 + 2 ** -9);
    expect(float16BitsToNumber(numberToFloat16Bits(70000))).toBe(Number.POSITIVE_INFINITY);
    expect(float16BitsToNumber(numberToFloat16Bits(2 ** -26))).toBe(0);
    // The smallest subnormal, 2^-24, is exact.
    expect(float16BitsToNumber(numberToFloat16Bits(2 ** -24))).toBe(2 ** -24);
  });
});

describe("writeShard and readShard", () => {
  it("round-trips documents and metadata", async () => {
    const documents = [0, 1, 2].map((index) => sampleDocument(index));
    const uri = path.join(root, "roundtrip.arrow");
    await writeShard(uri, META, documents);
    const { meta, documents: read } = await readShard(uri);
    expect(meta).toEqual(META);
    expect(read.length).toBe(3);
    read.forEach((document, i) => {
      expectSameDocument(document, documents[i]);
    });
  });

  it("spans several record batches", async () => {
    // More than DOCUMENTS_PER_BATCH (1024) documents, so the file contains three batches.
    const documents = Array.from({ length: 2100 }, (_, index) => sampleDocument(index));
    const uri = path.join(root, "batches.arrow");
    await writeShard(uri, META, documents);
    const { documents: read } = await readShard(uri);
    expect(read.length).toBe(2100);
    for (const index of [0, 1023, 1024, 2047, 2048, 2099]) expectSameDocument(read[index], documents[index]);
  });

  it("writes an empty shard", async () => {
    const uri = path.join(root, "empty.arrow");
    await writeShard(uri, META, []);
    expect((await readShard(uri)).documents).toEqual([]);
  });

  it("keeps empty token lists and all-unmapped documents", async () => {
    const empty: ShardDocument = {
      id: "empty",
      byteLength: 0,
      studentIds: new Int32Array(0),
      studentSpans: new Int32Array(0),
      teacherIds: new Int32Array(0),
      teacherSpans: new Int32Array(0),
      teacherStart: new Int32Array(0),
      teacherEnd: new Int32Array(0),
    };
    const unmapped = sampleDocument(5, { unmappedEvery: 1 });
    const uri = path.join(root, "edge.arrow");
    await writeShard(uri, META, [empty, unmapped]);
    const { documents } = await readShard(uri);
    expectSameDocument(documents[0], empty);
    expectSameDocument(documents[1], unmapped);
  });

  it("rejects an inconsistent document on write", async () => {
    const good = sampleDocument(1);
    const cases: [string, ShardDocument, RegExp][] = [
      ["odd spans", { ...good, studentSpans: good.studentSpans.subarray(1) }, /student_spans has/],
      ["teacher spans", { ...good, teacherSpans: new Int32Array(0) }, /teacher_spans has 0 values/],
      ["short alignment", { ...good, teacherEnd: good.teacherEnd.subarray(1) }, /alignment has/],
      ["span past text", { ...good, byteLength: 1 }, /span \[\d+, \d+\) outside \[0, 1\]/],
      [
        "range past teacher",
        {
          ...good,
          teacherStart: Int32Array.from(good.teacherStart, () => 0),
          teacherEnd: Int32Array.from(good.teacherEnd, () => 999),
        },
        /maps to teacher range \[0, 999\)/,
      ],
    ];
    for (const [, document, message] of cases) {
      const error = (() => {
        try {
          encodeShard("mem://x", META, [sampleDocument(0), document]);
        } catch (caught) {
          return caught;
        }
      })();
      expect(error).toBeInstanceOf(ShardFormatError);
      expect((error as ShardFormatError).code).toBe("invalid_document");
      expect((error as ShardFormatError).message).toMatch(/document 1 \(id "doc-1-é🙂"\)/);
      expect((error as ShardFormatError).message).toMatch(message);
    }
  });
});

describe("shard validation on read", () => {
  let goodBytes: Uint8Array;
  beforeAll(async () => {
    const uri = path.join(root, "good.arrow");
    await writeShard(
      uri,
      META,
      [0, 1, 2, 3].map((index) => sampleDocument(index)),
    );
    goodBytes = await readUri(uri);
  });

  async function readBytes(name: string, bytes: Uint8Array): Promise<ShardFormatError> {
    const uri = path.join(root, name);
    await writeUri(uri, bytes);
    const error = await readShard(uri).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ShardFormatError);
    expect((error as ShardFormatError).uri).toBe(uri);
    expect((error as ShardFormatError).message).toContain(uri);
    return error as ShardFormatError;
  }

  it("reports a truncated file", async () => {
    const error = await readBytes("truncated.arrow", goodBytes.subarray(0, goodBytes.length - 100));
    expect(error.code).toBe("truncated");
  });

  it("reports a file that is not Arrow", async () => {
    const error = await readBytes("text.arrow", new TextEncoder().encode('{"not": "arrow"}'));
    expect(error.code).toBe("not_arrow_file");
  });

  it("reports a damaged body", async () => {
    const damaged = goodBytes.slice();
    // Overwrite the footer region just before the trailing magic; the magic bytes survive.
    damaged.fill(0xff, damaged.length - 60, damaged.length - 10);
    const error = await readBytes("damaged.arrow", damaged);
    expect(error.code).toBe("invalid_arrow");
  });

  it("reports a teacher-score file read as a shard", async () => {
    const uri = path.join(root, "scores-as-shard.arrow");
    await writeTeacherScores(uri, { item: "1", teacherBundle: {}, aggregation: "max" }, []);
    const error = await readShard(uri).catch((caught: unknown) => caught);
    expect((error as ShardFormatError).code).toBe("wrong_format");
    expect((error as ShardFormatError).message).toMatch(/"teacher-scores", expected "shard"/);
  });

  function tableBytes(
    fields: Field[],
    children: ReturnType<typeof makeData>[],
    metadata: Record<string, string>,
    rows: number,
  ): Uint8Array {
    const schema = new Schema(fields, new Map(Object.entries(metadata)));
    const data = makeData({ type: new Struct(fields), length: rows, nullCount: 0, children });
    return tableToIPC(new Table(schema, [new RecordBatch(schema, data)]), "file");
  }

  const shardMetadata = {
    "vocagno.format": "shard",
    "vocagno.formatVersion": "1",
    "vocagno.item": "x",
    "vocagno.student": "{}",
    "vocagno.teacher": "{}",
    "vocagno.stats": "{}",
  };

  it("reports an unsupported version", async () => {
    const bytes = tableBytes([], [], { ...shardMetadata, "vocagno.formatVersion": "2" }, 0);
    const error = await readBytes("v2.arrow", bytes);
    expect(error.code).toBe("unsupported_version");
    expect(error.message).toMatch(/format version "2"/);
  });

  it("reports a missing column", async () => {
    const fields = [new Field("id", new Utf8(), false)];
    const ids = makeData({
      type: new Utf8(),
      length: 0,
      valueOffsets: new Int32Array(1),
      data: new Uint8Array(0),
    });
    const error = await readBytes("missing.arrow", tableBytes(fields, [ids], shardMetadata, 0));
    expect(error.code).toBe("missing_column");
    expect(error.message).toMatch(/"byte_length" is missing/);
  });

  it("reports a wrong column type", async () => {
    const fields = [new Field("id", new Utf8(), false), new Field("byte_length", new Float32(), false)];
    const ids = makeData({
      type: new Utf8(),
      length: 0,
      valueOffsets: new Int32Array(1),
      data: new Uint8Array(0),
    });
    const lengths = makeData({ type: new Float32(), length: 0, data: new Float32Array(0) });
    const error = await readBytes("wrong-type.arrow", tableBytes(fields, [ids, lengths], shardMetadata, 0));
    expect(error.code).toBe("wrong_column_type");
    expect(error.message).toMatch(/"byte_length" has type Float32, expected int32/);
  });

  it("reports spans inconsistent with tokens", async () => {
    const int32List = () => new List(new Field("item", new Int32(), true));
    const fields = [
      new Field("id", new Utf8(), false),
      new Field("byte_length", new Int32(), false),
      ...["student_ids", "student_spans", "teacher_ids", "teacher_spans", "alignment"].map(
        (name) => new Field(name, int32List(), false),
      ),
    ];
    const list = (values: number[]) =>
      makeData({
        type: int32List(),
        length: 1,
        valueOffsets: Int32Array.from([0, values.length]),
        child: makeData({ type: new Int32(), length: values.length, data: Int32Array.from(values) }),
      });
    const ids = makeData({
      type: new Utf8(),
      length: 1,
      valueOffsets: Int32Array.from([0, 1]),
      data: new TextEncoder().encode("d"),
    });
    const lengths = makeData({ type: new Int32(), length: 1, data: Int32Array.from([4]) });
    // Two student tokens but three span values: the reader needs 2n = 4.
    const children = [
      ids,
      lengths,
      list([5, 6]),
      list([0, 2, 2]),
      list([7]),
      list([0, 4]),
      list([0, 1, 0, 1]),
    ];
    const error = await readBytes("spans.arrow", tableBytes(fields, children, shardMetadata, 1));
    expect(error.code).toBe("invalid_document");
    expect(error.message).toMatch(/document 0 \(id "d"\): student_spans has 3 values for 2 student tokens/);
  });

  it("validateShardFile tells complete from missing or broken", async () => {
    const good = path.join(root, "good.arrow");
    expect(await validateShardFile(good)).toEqual({ valid: true, documents: 4 });
    expect(await validateShardFile(path.join(root, "absent.arrow"))).toMatchObject({
      valid: false,
      code: "not_found",
    });
    await writeUri(path.join(root, "half.arrow"), goodBytes.subarray(0, goodBytes.length / 2));
    expect(await validateShardFile(path.join(root, "half.arrow"))).toMatchObject({
      valid: false,
      code: "truncated",
    });
  });
});

describe("writeTeacherScores and readTeacherScores", () => {
  it("round-trips losses through float16 with NaN", async () => {
    const documents = [0, 1, 2].map((index) => sampleDocument(index));
    const rows = documents.map(sampleScores);
    const uri = path.join(root, "teacher.arrow");
    const meta = {
      item: "000007",
      teacherBundle: { modelSha256: "c".repeat(64), dtype: "fp16" },
      aggregation: "max" as const,
    };
    await writeTeacherScores(uri, meta, rows);
    const read = await readTeacherScores(uri);
    expect(read.meta).toEqual(meta);
    read.rows.forEach((row, r) => {
      expect(row.id).toBe(rows[r].id);
      for (const [actual, expected] of [
        [row.teacherLoss, rows[r].teacherLoss],
        [row.studentTeacherLoss, rows[r].studentTeacherLoss],
      ]) {
        expect(actual.length).toBe(expected.length);
        for (let k = 0; k < expected.length; k++) {
          // Exact up to float16 rounding: the conversion is checked on its own above.
          const stored = float16BitsToNumber(numberToFloat16Bits(expected[k]));
          if (Number.isNaN(expected[k])) expect(Number.isNaN(actual[k])).toBe(true);
          else expect(actual[k]).toBe(stored);
        }
      }
    });
  });

  it("rejects an unknown aggregation", async () => {
    const uri = path.join(root, "bad-aggregation.arrow");
    await expect(
      writeTeacherScores(uri, { item: "1", teacherBundle: {}, aggregation: "median" as "max" }, []),
    ).rejects.toThrow(/aggregation "median" is not one of max, mean, sum, min/);
  });

  it("validates against its shard", async () => {
    const documents = [0, 1].map((index) => sampleDocument(index));
    const shardUri = path.join(root, "pair-shard.arrow");
    const scoresUri = path.join(root, "pair-teacher.arrow");
    await writeShard(shardUri, META, documents);
    await writeTeacherScores(
      scoresUri,
      { item: "1", teacherBundle: {}, aggregation: "max" },
      documents.map(sampleScores),
    );
    expect(await validateTeacherScoresFile(scoresUri, { shardUri })).toEqual({ valid: true, documents: 2 });

    const shortRow = { ...sampleScores(documents[1]), teacherLoss: new Float32Array(0) };
    await writeTeacherScores(scoresUri, { item: "1", teacherBundle: {}, aggregation: "max" }, [
      sampleScores(documents[0]),
      shortRow,
    ]);
    const result = await validateTeacherScoresFile(scoresUri, { shardUri });
    expect(result).toMatchObject({ valid: false, code: "shard_mismatch" });
    expect(result.valid ? "" : result.reason).toMatch(/row 1 .* has 0 teacher losses/);
  });
});
