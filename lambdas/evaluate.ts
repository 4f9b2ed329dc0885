import { z } from "zod";
import { VARIANTS } from "../core/experiment/index.ts";
import { type EvaluateOutput, evaluateRun } from "../core/steps/evaluate.ts";
import { parseStepInput, runLogged } from "../core/steps/step.ts";
import { runIdOfRunUri } from "../core/steps/storage-root.ts";

const evaluateInputSchema = z.object({
  runUri: z.string().min(1),
  variants: z.array(z.enum(VARIANTS)).min(1),
});

/**
 * Lambda handler of the evaluate step: collects each trained variant's
 * held-out loss into runs/<runId>/evaluation.json.
 *
 * @example
 * await handler({ runUri: "s3://vocagno-data/runs/owm-3f9a0c12d4e5", variants: ["guided", "baseline"] });
 * // { evaluationUri: "s3://…/evaluation.json", heldOutLoss: { guided: 1.92, baseline: 1.97 } }
 */
export async function handler(event: unknown): Promise<EvaluateOutput> {
  const input = parseStepInput("evaluate", evaluateInputSchema, event);
  return runLogged("evaluate", { runId: runIdOfRunUri(input.runUri) }, () => evaluateRun(input));
}
