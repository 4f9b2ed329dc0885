import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseExperiment } from "../core/experiment/index.ts";
import { readManifest } from "../core/steps/manifest.ts";
import { planRun } from "../core/steps/plan.ts";
import { temporaryRoot, writeExperiment } from "../core/steps/testing/run-fixtures.ts";
import {
  type CorpusRecord,
  DEMO_CORPUS_PATH,
  demoExperiment,
  heldOutDocumentIds,
  readDemoCorpus,
} from "../scripts/demo/demo-experiment.ts";

const MODELS = { student: "/models/student", teacherBundle: "/models/teacher" };

describe("demo corpus", () => {
  let records: CorpusRecord[];

  beforeAll(async () => {
    records = await readDemoCorpus();
  });

  it("holds the documents data/SOURCE.md describes", () => {
    // data/SOURCE.md: 2,811 documents, 2,481,862 bytes of text.
    expect(records).toHaveLength(2811);
    const bytes = records.reduce((sum, record) => sum + Buffer.byteLength(record.text, "utf8"), 0);
    expect(bytes).toBe(2_481_862);
  });

  it("has unique ids and non-empty texts", () => {
    expect(new Set(records.map((record) => record.id)).size).toBe(records.length);
    expect(records.filter((record) => record.text.trim() === "")).toEqual([]);
  });
});

describe("demoExperiment", () => {
  it("passes experiment validation", () => {
    const experiment = parseExperiment(demoExperiment(MODELS), "demo experiment");
    expect(experiment.variants).toEqual(["guided", "baseline"]);
    expect(experiment.evaluation).toMatchObject({ heldOutItems: 1 });
  });
});

describe("heldOutDocumentIds", () => {
  let root: Awaited<ReturnType<typeof temporaryRoot>>;

  beforeAll(async () => {
    root = await temporaryRoot();
  });
  afterAll(() => root.remove());

  it("matches the plan step's held-out items", async () => {
    const records = await readDemoCorpus();
    const experimentUri = await writeExperiment(root.root, "vocagno-demo", demoExperiment(MODELS));
    const plan = await planRun({ experimentUri, storageRoot: root.root });
    const manifest = await readManifest(plan.manifestUri);
    const planned = manifest.items
      .filter((item) => item.split === "eval")
      .flatMap((item) =>
        records.slice(item.source.startRecord, item.source.endRecord).map((record) => record.id),
      );
    expect(planned.length).toBeGreaterThan(0);
    expect(heldOutDocumentIds(records, DEMO_CORPUS_PATH)).toEqual(planned);
  });
});
