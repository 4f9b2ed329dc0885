import { z } from "zod";
import { type PlanOutput, planRun } from "../core/steps/plan.ts";
import { RUN_ID_PATTERN } from "../core/steps/run-id.ts";
import { parseStepInput, runLogged } from "../core/steps/step.ts";

const planInputSchema = z.object({
  experimentUri: z.string().min(1),
  runId: z.string().regex(RUN_ID_PATTERN, "a run id is 1-80 letters, digits, - or _").optional(),
  storageRoot: z.string().min(1).optional(),
});

/**
 * Lambda handler of the plan step: validates and freezes the experiment and
 * writes the run's manifest, item list and trainer configuration. An invalid
 * experiment fails with ExperimentError listing every problem.
 *
 * @example
 * await handler({ experimentUri: "s3://vocagno-data/experiments/owm.json", runId: "owm-3f9a0c12d4e5" });
 * // { runId, runUri, manifestUri, itemsUri, trainerConfigUri, itemCount: 1520, teacherArraySize: 100, variants, ... }
 */
export async function handler(event: unknown): Promise<PlanOutput> {
  const input = parseStepInput("plan", planInputSchema, event);
  return runLogged("plan", { runId: input.runId }, () => planRun(input));
}
