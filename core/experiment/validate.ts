import { joinUri } from "../storage/uri.ts";
import { jsonErrorOffset } from "./json-position.ts";
import { describeValue, type ExperimentProblem, problemsFromIssues } from "./problems.ts";
import { experimentSchema, type ParsedExperiment } from "./schema.ts";

/** Held-out share used when an experiment sets neither heldOutShare nor heldOutItems. */
export const DEFAULT_HELD_OUT_SHARE = 0.01;

/**
 * A validated experiment with every default resolved: tokenizer locations
 * are filled in and exactly one of heldOutShare and heldOutItems is set.
 */
export type Experiment = Omit<ParsedExperiment, "student" | "teacher" | "evaluation"> & {
  student: ParsedExperiment["student"] & { tokenizer: string };
  teacher: ParsedExperiment["teacher"] & { tokenizer: string };
  evaluation: { heldOutShare: number } | { heldOutItems: number };
};

/**
 * An experiment file that failed validation; `problems` lists every problem
 * at once and the message shows them one per line.
 *
 * @example
 * try { parseExperiment(raw, "experiments/a.json") } catch (error) {
 *   if (error instanceof ExperimentError) for (const p of error.problems) console.log(p.path, p.message);
 * }
 */
export class ExperimentError extends Error {
  readonly code = "invalid_experiment";
  readonly source: string;
  readonly problems: readonly ExperimentProblem[];

  constructor(source: string, problems: readonly ExperimentProblem[]) {
    const count = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
    super(`invalid experiment ${source} (${count}):\n${formatProblems(problems)}`);
    this.name = "ExperimentError";
    this.source = source;
    this.problems = problems;
  }
}

/** Formats problems one per line as `  - path: message`. */
export function formatProblems(problems: readonly ExperimentProblem[]): string {
  return problems.map((problem) => `  - ${problem.path}: ${problem.message}`).join("\n");
}

function field(raw: unknown, section: string, name: string): unknown {
  if (raw === null || typeof raw !== "object") return undefined;
  const object = (raw as Record<string, unknown>)[section];
  if (object === null || typeof object !== "object") return undefined;
  return (object as Record<string, unknown>)[name];
}

/** Reads the default of a section's field from the schema, so that each default is defined once. */
function defaultOf(section: "training" | "teacher", name: string): number {
  const sectionSchema = experimentSchema.shape[section];
  const shape = ("unwrap" in sectionSchema ? sectionSchema.unwrap() : sectionSchema).shape as Record<
    string,
    { parse(value: unknown): unknown }
  >;
  return shape[name].parse(undefined) as number;
}

/** Returns an integer field's value as written, its default when absent, or undefined when its own check fails. */
function integerOrDefault(raw: unknown, section: "training" | "teacher", name: string): number | undefined {
  const value = field(raw, section, name);
  if (value === undefined) return defaultOf(section, name);
  return Number.isInteger(value) ? (value as number) : undefined;
}

/**
 * Checks that relate two fields. They read the raw input (with defaults for
 * absent fields) so that they are reported together with every other
 * problem, which zod's object refinements would skip.
 */
function crossFieldProblems(raw: unknown): ExperimentProblem[] {
  const problems: ExperimentProblem[] = [];

  const warmupSteps = integerOrDefault(raw, "training", "warmupSteps");
  const maxSteps = integerOrDefault(raw, "training", "maxSteps");
  if (warmupSteps !== undefined && maxSteps !== undefined && warmupSteps > maxSteps) {
    problems.push({
      code: "invalid_combination",
      path: "training.warmupSteps",
      message: `${warmupSteps} exceeds training.maxSteps (${maxSteps}): set warmupSteps to at most ${maxSteps}`,
    });
  }

  const contextTokens = integerOrDefault(raw, "teacher", "contextTokens");
  const minContextTokens = integerOrDefault(raw, "teacher", "minContextTokens");
  if (contextTokens !== undefined && minContextTokens !== undefined && minContextTokens >= contextTokens) {
    problems.push({
      code: "invalid_combination",
      path: "teacher.minContextTokens",
      message: `${minContextTokens} must be less than teacher.contextTokens (${contextTokens}), or no window could advance`,
    });
  }
  const batchTokens = integerOrDefault(raw, "teacher", "batchTokens");
  if (contextTokens !== undefined && batchTokens !== undefined && batchTokens < contextTokens) {
    problems.push({
      code: "invalid_combination",
      path: "teacher.batchTokens",
      message: `${batchTokens} is less than teacher.contextTokens (${contextTokens}): one window must fit in a batch`,
    });
  }

  if (
    field(raw, "evaluation", "heldOutShare") !== undefined &&
    field(raw, "evaluation", "heldOutItems") !== undefined
  ) {
    problems.push({
      code: "invalid_combination",
      path: "evaluation",
      message: "heldOutShare and heldOutItems are both set: keep only one",
    });
  }

  const variants =
    raw !== null && typeof raw === "object" ? (raw as Record<string, unknown>).variants : undefined;
  if (Array.isArray(variants)) {
    variants.forEach((variant, index) => {
      if (variants.indexOf(variant) !== index) {
        problems.push({
          code: "duplicate_value",
          path: `variants[${index}]`,
          message: `${describeValue(variant)} is listed twice: list each variant once`,
        });
      }
    });
  }
  return problems;
}

function resolve(parsed: ParsedExperiment): Experiment {
  const { heldOutShare, heldOutItems } = parsed.evaluation;
  const evaluation =
    heldOutItems !== undefined ? { heldOutItems } : { heldOutShare: heldOutShare ?? DEFAULT_HELD_OUT_SHARE };
  return {
    ...parsed,
    student: {
      ...parsed.student,
      tokenizer: parsed.student.tokenizer ?? joinUri(parsed.student.model, "tokenizer.json"),
    },
    teacher: {
      ...parsed.teacher,
      tokenizer: parsed.teacher.tokenizer ?? joinUri(parsed.teacher.bundle, "tokenizer.json"),
    },
    evaluation,
  };
}

/** The result of checking an experiment: the resolved experiment, or every problem. */
export type ExperimentCheck =
  | { readonly ok: true; readonly experiment: Experiment }
  | { readonly ok: false; readonly problems: readonly ExperimentProblem[] };

/**
 * Validates a parsed JSON value as an experiment and resolves its defaults.
 *
 * @example
 * const check = checkExperiment(JSON.parse(text));
 * if (!check.ok) console.error(formatProblems(check.problems));
 */
export function checkExperiment(raw: unknown): ExperimentCheck {
  const result = experimentSchema.safeParse(raw);
  const problems = [
    ...(result.success ? [] : problemsFromIssues(result.error.issues, raw, experimentSchema)),
    ...(raw !== null && typeof raw === "object" && !Array.isArray(raw) ? crossFieldProblems(raw) : []),
  ];
  if (!result.success || problems.length > 0) return { ok: false, problems };
  return { ok: true, experiment: resolve(result.data) };
}

/**
 * Validates an experiment and resolves its defaults, raising ExperimentError
 * that lists every problem. `source` names the file in the message.
 *
 * @example
 * const experiment = parseExperiment(JSON.parse(text), "s3://bucket/experiments/owm.json");
 */
export function parseExperiment(raw: unknown, source = "experiment"): Experiment {
  const check = checkExperiment(raw);
  if (!check.ok) throw new ExperimentError(source, check.problems);
  return check.experiment;
}

/** Converts a character offset in `text` into a 1-based line and column. */
function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  return { line, column: offset - before.lastIndexOf("\n") };
}

/**
 * Parses the text of an experiment file and validates it. Invalid JSON is an
 * ExperimentError with one problem that names the line and column.
 *
 * @example
 * const experiment = parseExperimentText(await readFile("examples/experiment.json", "utf8"), "examples/experiment.json");
 */
export function parseExperimentText(text: string, source = "experiment"): Experiment {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const offset = jsonErrorOffset(text);
    const location = offset === undefined ? undefined : lineAndColumn(text, offset);
    const place = location === undefined ? "" : ` at line ${location.line}, column ${location.column}`;
    throw new ExperimentError(source, [
      { code: "invalid_json", path: "(root)", message: `the file is not valid JSON${place}: ${reason}` },
    ]);
  }
  return parseExperiment(raw, source);
}
