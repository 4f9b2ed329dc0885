import type { z } from "zod";
import { formatJsonPath } from "../experiment/problems.ts";
import { logger } from "../log.ts";

/** A step's input that does not match its schema; the message lists every bad field. */
export class StepInputError extends Error {
  readonly code = "invalid_step_input";
  readonly step: string;

  constructor(step: string, lines: readonly string[]) {
    super(`invalid input of step ${step}:\n${lines.map((line) => `  - ${line}`).join("\n")}`);
    this.name = "StepInputError";
    this.step = step;
  }
}

/** Validates a step's input against its schema, raising StepInputError with every problem. */
export function parseStepInput<Schema extends z.ZodType>(
  step: string,
  schema: Schema,
  input: unknown,
): z.output<Schema> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new StepInputError(
    step,
    result.error.issues.map((issue) => `${formatJsonPath(issue.path)}: ${issue.message}`),
  );
}

/** Ids that every log line of a step carries. */
export interface StepIds {
  readonly runId?: string;
  readonly item?: string;
}

/**
 * Runs one step with start, stop and failure log lines that carry the run id
 * and item. Errors are logged and raised again, so the execution records the failure.
 *
 * @example
 * return runLogged("prepare", { runId, item }, () => prepareItem(input));
 */
export async function runLogged<Result>(
  step: string,
  ids: StepIds,
  work: () => Promise<Result>,
): Promise<Result> {
  const log = logger.child({ step, ...ids });
  const started = performance.now();
  log.info("step started");
  try {
    const result = await work();
    log.info({ durationMs: Math.round(performance.now() - started) }, "step finished");
    return result;
  } catch (error) {
    log.error({ err: error, durationMs: Math.round(performance.now() - started) }, "step failed");
    throw error;
  }
}
