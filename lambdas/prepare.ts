import { z } from "zod";
import { type PrepareOutput, prepareItem } from "../core/steps/prepare.ts";
import { parseStepInput, runLogged } from "../core/steps/step.ts";
import { runIdOfRunUri } from "../core/steps/storage-root.ts";

const prepareInputSchema = z.object({
  runUri: z.string().min(1),
  item: z.string().regex(/^\d{6,}$/, "an item id is six or more digits, as in the manifest"),
});

/**
 * Lambda handler of the prepare step, one invocation per work item of the
 * Distributed Map: tokenizes, aligns and writes runs/<runId>/shards/<item>.arrow.
 *
 * @example
 * await handler({ runUri: "s3://vocagno-data/runs/owm-3f9a0c12d4e5", item: "000042" });
 * // { item: "000042", records: 10000, documents: 9987, studentTokens: 2.1e7, teacherTokens: 1.9e7, rejected: 13, skipped: false }
 */
export async function handler(event: unknown): Promise<PrepareOutput> {
  const input = parseStepInput("prepare", prepareInputSchema, event);
  return runLogged("prepare", { runId: runIdOfRunUri(input.runUri), item: input.item }, () =>
    prepareItem(input),
  );
}
