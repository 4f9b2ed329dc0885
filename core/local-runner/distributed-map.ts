import { StateMachine } from "aws-local-stepfunctions";
import { LOCAL_ACCOUNT, LOCAL_REGION } from "./cloudformation-tokens.ts";
import type { AslState, StateMachineDefinition } from "./pipeline-template.ts";

/** A Distributed Map of the definition, kept for its local handler. */
export interface LocalDistributedMap {
  readonly name: string;
  readonly itemReader: { Parameters: Record<string, unknown> };
  readonly itemSelector?: Record<string, unknown>;
  readonly itemProcessor: StateMachineDefinition;
  readonly maxConcurrency: number;
  readonly toleratedFailurePercentage: number;
  readonly toleratedFailureCount?: number;
}

/** Resource that a localized Distributed Map state gets; its local handler replaces it. */
const LOCAL_MAP_RESOURCE = `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:LocalDistributedMap`;

/**
 * Timeout of a localized Map: 20 days. A Map state has no timeout of its own,
 * but Node.js fires a setTimeout of more than 2^31 - 1 ms (24.8 days) at once.
 */
const MAP_TIMEOUT_SECONDS = 20 * 24 * 3600;

/** Fields that a Map state and a Task state both have, so the replacing Task keeps them. */
const SHARED_FIELDS = [
  "Comment",
  "InputPath",
  "OutputPath",
  "ResultPath",
  "ResultSelector",
  "Retry",
  "Catch",
  "Next",
  "End",
];

/**
 * Replaces each top-level Distributed Map, which aws-local-stepfunctions does
 * not run, with a Task state of the same name that keeps its paths, Retry and
 * Catch. The returned maps describe what the local handlers run.
 */
export function localizeDistributedMaps(definition: StateMachineDefinition): {
  definition: StateMachineDefinition;
  maps: LocalDistributedMap[];
} {
  const maps: LocalDistributedMap[] = [];
  const states: Record<string, AslState> = {};
  for (const [name, state] of Object.entries(definition.States)) {
    const processor = state.ItemProcessor as
      | ({ ProcessorConfig?: { Mode?: string } } & StateMachineDefinition)
      | undefined;
    if (state.Type !== "Map" || processor?.ProcessorConfig?.Mode !== "DISTRIBUTED") {
      states[name] = state;
      continue;
    }
    const { ProcessorConfig: _config, ...itemProcessor } = processor;
    maps.push({
      name,
      itemReader: state.ItemReader as LocalDistributedMap["itemReader"],
      itemSelector: state.ItemSelector as Record<string, unknown> | undefined,
      itemProcessor: itemProcessor as StateMachineDefinition,
      maxConcurrency: (state.MaxConcurrency as number | undefined) ?? 0,
      toleratedFailurePercentage: (state.ToleratedFailurePercentage as number | undefined) ?? 0,
      toleratedFailureCount: state.ToleratedFailureCount as number | undefined,
    });
    // A Task without TimeoutSeconds times out after 60 seconds.
    const task: AslState = {
      Type: "Task",
      Resource: LOCAL_MAP_RESOURCE,
      TimeoutSeconds: MAP_TIMEOUT_SECONDS,
    };
    for (const field of SHARED_FIELDS) {
      if (field in state) task[field] = state[field];
    }
    states[name] = task;
  }
  return { definition: { ...definition, States: states }, maps };
}

/**
 * Evaluates a payload template (`"key.$": "$.path"`, intrinsic functions,
 * `$$` context paths) the way Step Functions does, by running it as the
 * Parameters of a one-state machine.
 */
export async function evaluatePayloadTemplate(
  template: Record<string, unknown>,
  input: unknown,
  context: Record<string, unknown> = {},
): Promise<Record<string, unknown>> {
  const definition = {
    StartAt: "Evaluate",
    States: { Evaluate: { Type: "Pass", Parameters: template, End: true } },
  };
  const machine = new StateMachine(definition as never, { validationOptions: { checkArn: false } });
  return (await machine.run(input as never, { context: context as never }).result) as Record<string, unknown>;
}

/** The outcome of one item of a local map run. */
export interface MapItemOutcome {
  readonly index: number;
  readonly input: unknown;
  readonly output?: unknown;
  readonly error?: string;
  readonly cause?: string;
}

/** A map run that failed more items than the Map tolerates. */
export class ToleratedFailureThresholdError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "States.ExceedToleratedFailureThreshold";
  }
}

/** Returns whether a map run with these counts fails, by the Map's ToleratedFailurePercentage and Count. */
export function exceedsToleratedFailures(map: LocalDistributedMap, failed: number, total: number): boolean {
  if (failed === 0) return false;
  if (map.toleratedFailureCount !== undefined && failed > map.toleratedFailureCount) return true;
  return total > 0 && (failed / total) * 100 > map.toleratedFailurePercentage;
}

/**
 * Runs `work` over `items` with at most `concurrency` at once, in item order
 * of starting, and returns the results in item order.
 */
export async function mapWithConcurrency<Item, Result>(
  items: readonly Item[],
  concurrency: number,
  work: (item: Item, index: number) => Promise<Result>,
): Promise<Result[]> {
  const results = new Array<Result>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, async () => {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await work(items[index], index);
    }
  });
  await Promise.all(lanes);
  return results;
}
