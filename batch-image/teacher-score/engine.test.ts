import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTemporaryDirectories } from "../../test/support/temporary.ts";
import { TeacherEngine, TeacherEngineError } from "./engine.ts";
import { scoreDocuments } from "./score-documents.ts";
import {
  buildTinyTeacher,
  makeShardDocuments,
  pythonPath,
  pytorchLosses,
  type TinyTeacher,
  TOKENIZERS,
} from "./test-support.ts";

const TEXTS = [
  "The sum of the first n odd numbers is n^2, which follows by induction on n.",
  "Let f(x) = 3x + 2. Then f(4) = 14 and the inverse is g(y) = (y - 2) / 3.",
  "short",
  // About 130 teacher tokens: several windows at a context of 32.
  Array.from({ length: 40 }, (_, i) => `step ${i}: x_${i} = x_${i - 1} + ${i * 3};`).join(" "),
];

function expectClose(actual: Float32Array, expected: Float32Array, tolerance: number, label: string): void {
  expect(actual.length, label).toBe(expected.length);
  for (let j = 0; j < actual.length; j++) {
    if (Number.isNaN(expected[j])) {
      expect(actual[j], `${label} token ${j}`).toBeNaN();
    } else {
      expect(
        Math.abs(actual[j] - expected[j]),
        `${label} token ${j}: ${actual[j]} vs ${expected[j]}`,
      ).toBeLessThanOrEqual(tolerance);
    }
  }
}

describe.each([
  { architecture: "mistral" as const, bosTokenId: 1 },
  { architecture: "qwen2" as const, bosTokenId: null },
])("scoreDocuments with $architecture", ({ architecture, bosTokenId }) => {
  let teacher: TinyTeacher;
  let engine: TeacherEngine;
  let documents: Int32Array[];
  let onePass: Float32Array[];
  let windowed: Float32Array[];
  const onePassOptions = { contextTokens: 512, minContextTokens: 128, bosTokenId };
  const windowedOptions = { contextTokens: 32, minContextTokens: 8, bosTokenId };

  beforeAll(async () => {
    teacher = buildTinyTeacher({ architecture });
    engine = await TeacherEngine.create({
      modelPath: path.join(teacher.bundleDir, "model.onnx"),
      provider: "cpu",
    });
    documents = (await makeShardDocuments(TOKENIZERS[architecture], TEXTS)).map(
      (document) => document.teacherIds,
    );
    // One Python process computes both references: loading torch dominates its run time.
    [onePass, windowed] = pytorchLosses(teacher.modelDir, {
      documents: documents.map((ids) => [...ids]),
      bosTokenId,
      windows: [onePassOptions, windowedOptions],
    });
  });
  afterAll(async () => {
    await engine?.release();
  });

  it("matches PyTorch in one pass", async () => {
    const { losses } = await scoreDocuments(engine, documents, onePassOptions, 4096);
    for (const [index, row] of losses.entries()) {
      expectClose(row, onePass[index], 1e-4, `document ${index}`);
    }
    expect(Number.isNaN(losses[0][0])).toBe(bosTokenId === null);
  });

  it("matches windowed PyTorch", async () => {
    expect(documents[3].length).toBeGreaterThan(3 * 32);
    const { losses, stats } = await scoreDocuments(engine, documents, windowedOptions, 256);
    for (const [index, row] of losses.entries()) {
      expectClose(row, windowed[index], 1e-4, `document ${index}`);
    }
    expect(stats.sequences).toBeGreaterThan(documents.length);
    // The long document's windowed losses differ from its full-context ones: the windows really cut context.
    expect([...windowed[3]]).not.toEqual([...onePass[3]]);
  });

  it("scores a short document as one pass", async () => {
    const short = documents[1];
    const { losses } = await scoreDocuments(
      engine,
      [short],
      { contextTokens: 64, minContextTokens: 16, bosTokenId },
      4096,
    );
    const single = bosTokenId === null ? short : Int32Array.from([bosTokenId, ...short]);
    const { losses: pass } = await engine.scoreSequences([single], 4096);
    const offset = bosTokenId === null ? 0 : 1;
    expect([...losses[0]]).toEqual([...pass[0].subarray(offset)]);
  });
});

describe("TeacherEngine.create", () => {
  const temporaryDirectory = useTemporaryDirectories();

  it("rejects a graph without token_loss", async () => {
    const directory = temporaryDirectory("vocagno-graph");
    const modelPath = path.join(directory, "identity.onnx");
    const script = [
      "import onnx, sys",
      "from onnx import helper, TensorProto",
      "x = helper.make_tensor_value_info('input_ids', TensorProto.INT64, ['b', 's'])",
      "y = helper.make_tensor_value_info('logits', TensorProto.INT64, ['b', 's'])",
      "graph = helper.make_graph([helper.make_node('Identity', ['input_ids'], ['logits'])], 'g', [x], [y])",
      "onnx.save(helper.make_model(graph, ir_version=10, opset_imports=[helper.make_opsetid('', 17)]), sys.argv[1])",
    ].join("\n");
    execFileSync(pythonPath(), ["-c", script, modelPath]);
    const created = TeacherEngine.create({ modelPath, provider: "cpu" });
    await expect(created).rejects.toThrow(TeacherEngineError);
    await expect(TeacherEngine.create({ modelPath, provider: "cpu" })).rejects.toThrow(
      "inputs are [input_ids], expected [input_ids, attention_mask]; outputs are [logits], expected [token_loss]",
    );
  });

  it("fails clearly when CUDA is missing", async () => {
    const teacher = buildTinyTeacher({ architecture: "mistral" });
    const created = TeacherEngine.create({
      modelPath: path.join(teacher.bundleDir, "model.onnx"),
      provider: "cuda",
    });
    await expect(created).rejects.toThrow(/CUDA execution provider|no CUDA execution provider/);
  });
});

describe("TeacherEngine with external data", () => {
  it("scores like the embedded graph", async () => {
    const embedded = buildTinyTeacher({ architecture: "mistral" });
    const external = buildTinyTeacher({ architecture: "mistral", externalData: "always" });
    const metadata = JSON.parse(readFileSync(path.join(external.bundleDir, "teacher.json"), "utf8"));
    expect(metadata.files).toContain("model.onnx.data");

    const sequences = (await makeShardDocuments(TOKENIZERS.mistral, TEXTS.slice(0, 2))).map((document) =>
      Int32Array.from([1, ...document.teacherIds]),
    );
    const scores: Float32Array[][] = [];
    for (const teacher of [embedded, external]) {
      const engine = await TeacherEngine.create({
        modelPath: path.join(teacher.bundleDir, "model.onnx"),
        provider: "cpu",
      });
      scores.push((await engine.scoreSequences(sequences, 4096)).losses);
      await engine.release();
    }
    // Same seed and config give the same weights, so only the file layout differs.
    expect(scores[1].map((row) => [...row])).toEqual(scores[0].map((row) => [...row]));
  });
});
