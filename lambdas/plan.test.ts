import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ExperimentError } from "../core/experiment/index.ts";
import { readManifest } from "../core/steps/manifest.ts";
import { RunConflictError } from "../core/steps/plan.ts";
import { contentFingerprint, deriveRunId } from "../core/steps/run-id.ts";
import { STACK_COMPUTE_ENV } from "../core/steps/stack-compute.ts";
import {
  DEFAULT_STACK_COMPUTE,
  smallExperiment,
  temporaryRoot,
  writeCorpus,
  writeExperiment,
} from "../core/steps/testing/run-fixtures.ts";
import { existsUri, joinUri, readTextUri, readUri, writeUri } from "../core/storage/index.ts";
import { createBucket, type S3Server, startS3Server, useS3Server } from "../test/support/s3-server.ts";
import { handler } from "./plan.ts";

function records(count: number, prefix: string) {
  return Array.from({ length: count }, (_, index) => ({ text: `${prefix} document ${index}: 2 + 2 = 4.` }));
}

describe("plan handler on a local directory", () => {
  let local: Awaited<ReturnType<typeof temporaryRoot>>;

  beforeAll(async () => {
    local = await temporaryRoot();
  });

  afterAll(async () => {
    await local?.remove();
  });

  test("cuts files into record ranges", async () => {
    const corpusUri = await writeCorpus(local.root, "a", {
      "a.jsonl": records(5, "a"),
      "b.jsonl": records(3, "b"),
    });
    await writeUri(joinUri(corpusUri, "_SUCCESS"), "");
    const experimentUri = await writeExperiment(local.root, "ranges", smallExperiment(corpusUri));

    const output = await handler({ experimentUri, runId: "ranges-1" });
    const manifest = await readManifest(output.manifestUri);

    // 5 records in ranges of 2 give 3 items, 3 records give 2: 5 items in all.
    expect(output.itemCount).toBe(5);
    expect(
      manifest.items.map((item) => [
        item.source.uri.split("/").pop(),
        item.source.startRecord,
        item.source.endRecord,
      ]),
    ).toEqual([
      ["a.jsonl", 0, 2],
      ["a.jsonl", 2, 4],
      ["a.jsonl", 4, 5],
      ["b.jsonl", 0, 2],
      ["b.jsonl", 2, 3],
    ]);
    // The default share 0.01 of 5 items rounds up to 1 held-out item, at floor(0.5 * 5 / 1) = 2.
    expect(manifest.items.map((item) => item.split)).toEqual(["train", "train", "eval", "train", "train"]);
    expect(output.evalItemCount).toBe(1);
    expect(manifest.corpus.records).toBe(8);
    expect(manifest.tokenizers.student.identity.vocabSize).toBe(32000);
    expect(manifest.tokenizers.teacher.identity.modelType).toBe("BPE");
  });

  test("writes items, trainer config and frozen experiment", async () => {
    const corpusUri = await writeCorpus(local.root, "c", { "c.jsonl": records(4, "c") });
    const experimentUri = await writeExperiment(local.root, "files", smallExperiment(corpusUri));

    const output = await handler({ experimentUri, runId: "files-1" });
    const items = JSON.parse(await readTextUri(output.itemsUri));
    const trainerConfig = JSON.parse(await readTextUri(output.trainerConfigUri));
    const frozen = JSON.parse(await readTextUri(output.experimentUri));

    expect(items).toEqual([
      { runUri: output.runUri, item: "000000" },
      { runUri: output.runUri, item: "000001" },
    ]);
    expect(trainerConfig.max_steps).toBe(10);
    expect(trainerConfig.loss.keep_ratio).toBe(0.4);
    expect(frozen.loss.keepRatio).toBe(0.4);
    expect(output.runUri).toBe(joinUri(local.root, "runs", "files-1"));
    expect(output.teacher).toEqual({
      bundle: "s3://unused/qwen-bundle",
      aggregation: "max",
      contextTokens: 2048,
      minContextTokens: 512,
      batchTokens: 16_384,
    });
  });

  test("re-plan reuses the run", async () => {
    const corpusUri = await writeCorpus(local.root, "d", { "d.jsonl": records(4, "d") });
    const experimentUri = await writeExperiment(local.root, "again", smallExperiment(corpusUri));

    const first = await handler({ experimentUri, runId: "again-1" });
    const manifestBefore = await readUri(first.manifestUri);
    const second = await handler({ experimentUri, runId: "again-1" });

    expect(second).toEqual(first);
    expect(await readUri(second.manifestUri)).toEqual(manifestBefore);
  });

  test("changed experiment under the same run id fails", async () => {
    const corpusUri = await writeCorpus(local.root, "e", { "e.jsonl": records(4, "e") });
    const experimentUri = await writeExperiment(local.root, "conflict", smallExperiment(corpusUri));
    await handler({ experimentUri, runId: "conflict-1" });
    await writeExperiment(local.root, "conflict", smallExperiment(corpusUri, { loss: { keepRatio: 0.5 } }));

    const replan = handler({ experimentUri, runId: "conflict-1" });

    await expect(replan).rejects.toThrow(RunConflictError);
    await expect(handler({ experimentUri, runId: "conflict-1" })).rejects.toThrow(
      /differs at loss\.keepRatio/,
    );
  });

  test("derives the run id from key and content", async () => {
    const corpusUri = await writeCorpus(local.root, "f", { "f.jsonl": records(4, "f") });
    const experimentUri = await writeExperiment(local.root, "derived name", smallExperiment(corpusUri));
    const bytes = await readUri(experimentUri);

    const output = await handler({ experimentUri });

    expect(output.runId).toBe(deriveRunId("experiments/derived name.json", contentFingerprint(bytes)));
    expect(output.runId).toMatch(/^derived-name-[0-9a-f]{12}$/);
  });

  test("invalid experiment lists every problem", async () => {
    const experimentUri = await writeExperiment(local.root, "invalid", {
      name: "invalid",
      corpus: { uri: "file:///nowhere", recordsPerItem: 0 },
      student: { model: "m", tokenizer: "tinyllama" },
      teacher: { bundle: "b", aggregaton: "max" },
    });

    const error = await handler({ experimentUri, runId: "invalid-1" }).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(ExperimentError);
    const paths = (error as ExperimentError).problems.map((problem) => problem.path);
    expect(paths).toEqual(["corpus.recordsPerItem", "teacher.aggregaton"]);
    expect((error as Error).message).toMatch(/did you mean "aggregation"/);
    expect(await existsUri(joinUri(local.root, "runs", "invalid-1", "experiment.json"))).toBe(false);
  });

  test("rejects compute the stack lacks", async () => {
    const corpusUri = await writeCorpus(local.root, "k", { "k.jsonl": records(4, "k") });
    const experimentUri = await writeExperiment(
      local.root,
      "big",
      smallExperiment(corpusUri, {
        compute: { trainingInstanceType: "p5.48xlarge", gpusPerNode: 8, nodes: 4 },
      }),
    );
    process.env[STACK_COMPUTE_ENV] = JSON.stringify(DEFAULT_STACK_COMPUTE);
    try {
      const error = await handler({ experimentUri, runId: "big-1" }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ExperimentError);
      expect((error as ExperimentError).problems.map((problem) => problem.path)).toEqual([
        "compute.trainingInstanceType",
        // Once for the stack's 1 node, once for 4 * 192 vCPUs of p5.48xlarge above the stack's 256.
        "compute.nodes",
        "compute.nodes",
      ]);
      expect((error as Error).message).toContain("-c vocagno:trainNodes=4");
      expect(await existsUri(joinUri(local.root, "runs", "big-1", "experiment.json"))).toBe(false);

      // The same stack plans an experiment with the default compute.
      const fits = await writeExperiment(local.root, "fits", smallExperiment(corpusUri));
      const output = await handler({ experimentUri: fits, runId: "fits-1" });
      expect(output.compute.gpusPerNode).toBe(1);
    } finally {
      delete process.env[STACK_COMPUTE_ENV];
    }
  });

  test("single-item corpus fails with advice", async () => {
    const corpusUri = await writeCorpus(local.root, "g", { "g.jsonl": records(2, "g") });
    const experimentUri = await writeExperiment(local.root, "tiny", smallExperiment(corpusUri));

    await expect(handler({ experimentUri, runId: "tiny-1" })).rejects.toThrow(/lower corpus\.recordsPerItem/);
  });

  test("unknown file extension fails naming the file", async () => {
    const corpusUri = await writeCorpus(local.root, "h", {
      "part-1.jsonl": records(4, "h"),
      "notes.txt": ["x"],
    });
    const experimentUri = await writeExperiment(local.root, "extensions", smallExperiment(corpusUri));

    await expect(handler({ experimentUri, runId: "ext-1" })).rejects.toThrow(
      /notes\.txt: set corpus\.format/,
    );
  });

  test("output stays small for 10,000 work items", async () => {
    const corpusUri = await writeCorpus(local.root, "big", { "big.jsonl": records(10_000, "big") });
    const experimentUri = await writeExperiment(
      local.root,
      "big",
      smallExperiment(corpusUri, { corpus: { uri: corpusUri, recordsPerItem: 1 } }),
    );

    const output = await handler({ experimentUri, runId: "big-1" });
    const outputBytes = Buffer.byteLength(JSON.stringify(output));
    const items = JSON.parse(await readTextUri(output.itemsUri));

    expect(output.itemCount).toBe(10_000);
    expect(items).toHaveLength(10_000);
    // Step Functions passes at most 256 KiB between states; the plan output carries pointers only.
    expect(outputBytes).toBeLessThan(2048);
    // Share 0.01 of 10,000 items is 100 held-out items, and the array size caps at 100 jobs.
    expect(output.evalItemCount).toBe(100);
    expect(output.teacherArraySize).toBe(100);
  });
});

describe("plan handler on S3", () => {
  let server: S3Server;

  beforeAll(async () => {
    server = await startS3Server();
    useS3Server(server.endpoint);
    await createBucket("plan-bucket");
  });

  afterAll(async () => {
    await server?.stop();
  });

  test("plans a corpus prefix in a bucket", async () => {
    const root = "s3://plan-bucket";
    const corpusUri = await writeCorpus(root, "x", {
      "x.jsonl": records(3, "x"),
      "y.jsonl": records(2, "y"),
    });
    const experimentUri = await writeExperiment(root, "on-s3", smallExperiment(corpusUri));

    const output = await handler({ experimentUri, runId: "s3-run-1" });
    const manifest = await readManifest(output.manifestUri);

    expect(output.runUri).toBe("s3://plan-bucket/runs/s3-run-1");
    expect(output.itemCount).toBe(3);
    expect(manifest.items.map((item) => item.source.uri)).toEqual([
      "s3://plan-bucket/corpora/x/x.jsonl",
      "s3://plan-bucket/corpora/x/x.jsonl",
      "s3://plan-bucket/corpora/x/y.jsonl",
    ]);
    expect(await existsUri(output.itemsUri)).toBe(true);
  });
});
