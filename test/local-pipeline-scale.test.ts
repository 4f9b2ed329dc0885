import { statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { type LocalRunResult, runLocal } from "../core/local-runner/run-local.ts";
import { logger } from "../core/log.ts";
import { STATE } from "../infra/state-names.ts";
import { useTemporaryDirectories } from "./support/temporary.ts";
import { buildTinyModels, writeTinyExperiment } from "./support/tiny-experiment.ts";

/** The Step Functions limit on one state's input or output. */
const STATE_PAYLOAD_LIMIT_BYTES = 256 * 1024;
const ITEM_COUNT = 10_000;

describe("runLocal at 10,000 work items", () => {
  const temporaryDirectory = useTemporaryDirectories();

  it("keeps plan and prepare outputs under 256 KiB", async () => {
    const models = await buildTinyModels();
    const directory = temporaryDirectory("vocagno-local-scale");
    const experimentPath = writeTinyExperiment(path.join(directory, "input"), models, {
      name: "scale",
      recordsPerItem: 1,
      teacherArraySize: 100,
    });
    // One short document per work item: 10,000 items, and 10,000 real prepare invocations.
    const documents = Array.from({ length: ITEM_COUNT }, (_, index) =>
      JSON.stringify({ id: `doc-${index}`, text: `Document ${index}: 2 + ${index} = ${index + 2}.` }),
    );
    writeFileSync(path.join(directory, "input", "corpus.jsonl"), `${documents.join("\n")}\n`);

    const root = path.join(directory, "root");
    // 10,000 items log 40,000 lines at info.
    logger.level = "warn";
    const result: LocalRunResult = await runLocal({
      experimentPath,
      root,
      stopAfterState: STATE.prepareShards,
      prepareConcurrency: 4,
    });
    expect(result.error ?? "", result.cause).toBe("");
    expect(result.status).toBe("SUCCEEDED");

    // The item list itself would not fit into a state, so the test can tell pointers from data.
    const itemsBytes = statSync(path.join(root, "runs", result.runId, "items.json")).size;
    expect(itemsBytes).toBeGreaterThan(STATE_PAYLOAD_LIMIT_BYTES);
    for (const state of [STATE.plan, STATE.prepareShards, `${STATE.prepareShards}/${STATE.prepareItem}`]) {
      expect(result.stateOutputBytes[state], state).toBeGreaterThan(0);
      expect(result.stateOutputBytes[state], state).toBeLessThan(STATE_PAYLOAD_LIMIT_BYTES);
    }
  }, 900_000);
});
