import { z } from "zod";
import type { Variant } from "../experiment/index.ts";
import { isNotFound, readTextUri, writeUri } from "../storage/index.ts";
import { runFiles } from "./manifest.ts";
import { runIdOfRunUri } from "./storage-root.ts";

/** Input of the evaluate step. */
export interface EvaluateInput {
  readonly runUri: string;
  readonly variants: readonly Variant[];
}

/** Output of the evaluate step: where the evaluation lies and each variant's held-out loss. */
export interface EvaluateOutput {
  readonly evaluationUri: string;
  /** Held-out cross-entropy in nats per target token, by variant. */
  readonly heldOutLoss: Partial<Record<Variant, number>>;
}

/** The part of the trainer's eval.json that the evaluation reads; other fields are kept as they are. */
const trainerEvalSchema = z.looseObject({
  step: z.int().min(0),
  loss: z.number(),
});

/** runs/<runId>/evaluation.json: held-out results of every trained variant. */
export interface Evaluation {
  readonly formatVersion: 1;
  readonly runId: string;
  readonly variants: Partial<Record<Variant, z.infer<typeof trainerEvalSchema> & { perplexity: number }>>;
  /** Guided loss minus baseline loss in nats per token (negative: guidance helped), when both ran. */
  readonly guidedMinusBaselineLoss: number | null;
}

async function readTrainerEval(uri: string, variant: Variant) {
  let text: string;
  try {
    text = await readTextUri(uri);
  } catch (error) {
    if (isNotFound(error)) {
      throw new Error(
        `no held-out result for variant ${variant}: ${uri} is missing, so its training did not finish`,
      );
    }
    throw error;
  }
  const result = trainerEvalSchema.safeParse(JSON.parse(text));
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new Error(`invalid trainer result ${uri}: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  return result.data;
}

/**
 * Collects the held-out loss of each trained variant into
 * runs/<runId>/evaluation.json.
 *
 * @example
 * const { heldOutLoss } = await evaluateRun({ runUri, variants: ["guided", "baseline"] });
 */
export async function evaluateRun(input: EvaluateInput): Promise<EvaluateOutput> {
  const files = runFiles(input.runUri);
  const variants: Evaluation["variants"] = {};
  const heldOutLoss: EvaluateOutput["heldOutLoss"] = {};
  for (const variant of input.variants) {
    const result = await readTrainerEval(files.evalResult(variant), variant);
    variants[variant] = { ...result, perplexity: Math.exp(result.loss) };
    heldOutLoss[variant] = result.loss;
  }
  const evaluation: Evaluation = {
    formatVersion: 1,
    runId: runIdOfRunUri(input.runUri),
    variants,
    guidedMinusBaselineLoss:
      heldOutLoss.guided !== undefined && heldOutLoss.baseline !== undefined
        ? heldOutLoss.guided - heldOutLoss.baseline
        : null,
  };
  await writeUri(files.evaluation, `${JSON.stringify(evaluation, null, 2)}\n`);
  return { evaluationUri: files.evaluation, heldOutLoss };
}
