import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { temporaryRoot } from "../core/steps/testing/run-fixtures.ts";
import { joinUri, readTextUri, writeUri } from "../core/storage/index.ts";
import { handler } from "./evaluate.ts";

describe("evaluate handler", () => {
  let local: Awaited<ReturnType<typeof temporaryRoot>>;

  beforeAll(async () => {
    local = await temporaryRoot();
  });

  afterAll(async () => {
    await local?.remove();
  });

  test("collects held-out losses", async () => {
    const runUri = joinUri(local.root, "runs", "eval-1");
    // The trainer's eval.json: held-out cross-entropy in nats per target token.
    await writeUri(
      joinUri(runUri, "train/guided/eval.json"),
      JSON.stringify({ runId: "eval-1", variant: "guided", step: 10, loss: 2.5 }),
    );
    await writeUri(
      joinUri(runUri, "train/baseline/eval.json"),
      JSON.stringify({ runId: "eval-1", variant: "baseline", step: 10, loss: 2.75 }),
    );

    const output = await handler({ runUri, variants: ["guided", "baseline"] });
    const evaluation = JSON.parse(await readTextUri(output.evaluationUri));

    expect(output.heldOutLoss).toEqual({ guided: 2.5, baseline: 2.75 });
    expect(evaluation.guidedMinusBaselineLoss).toBe(-0.25);
    expect(evaluation.variants.guided.perplexity).toBeCloseTo(Math.exp(2.5), 12);
    expect(evaluation.runId).toBe("eval-1");
  });

  test("missing variant result fails naming it", async () => {
    const runUri = joinUri(local.root, "runs", "eval-2");
    await writeUri(joinUri(runUri, "train/guided/eval.json"), JSON.stringify({ step: 10, loss: 2.5 }));

    await expect(handler({ runUri, variants: ["guided", "baseline"] })).rejects.toThrow(
      /no held-out result for variant baseline/,
    );
  });

  test("unknown variant is invalid input", async () => {
    await expect(handler({ runUri: local.root, variants: ["teacher"] })).rejects.toThrow(
      /invalid input of step evaluate/,
    );
  });
});
