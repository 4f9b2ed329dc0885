import type { z } from "zod";

/**
 * One problem of an experiment file. `path` is the JSON path of the value
 * (`training.learningRate`, `variants[2]`, `(root)` for the whole file) and
 * `message` states what is wrong with the value and what is allowed.
 */
export interface ExperimentProblem {
  readonly code: string;
  readonly path: string;
  readonly message: string;
}

type PathSegment = PropertyKey;

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** Formats path segments as a JSON path: `corpus.uri`, `variants[1]`, `(root)` when empty. */
export function formatJsonPath(path: readonly PathSegment[]): string {
  let text = "";
  for (const segment of path) {
    if (typeof segment === "number") {
      text += `[${segment}]`;
    } else {
      const key = String(segment);
      if (!IDENTIFIER.test(key)) text += `[${JSON.stringify(key)}]`;
      else if (text.length === 0) text += key;
      else text += `.${key}`;
    }
  }
  return text.length === 0 ? "(root)" : text;
}

/** Renders a value for a message: JSON, shortened past 80 characters. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function valueAt(root: unknown, path: readonly PathSegment[]): unknown {
  let current = root;
  for (const segment of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<PropertyKey, unknown>)[segment];
  }
  return current;
}

interface SchemaNode {
  readonly description?: string;
  readonly _zod: { readonly def: Record<string, unknown> };
}

/** Steps through optional/default/nullable wrappers, keeping the first description found. */
function unwrap(schema: SchemaNode): { inner: SchemaNode; description?: string } {
  let current = schema;
  let description = schema.description;
  for (;;) {
    const inner = current._zod.def.innerType as SchemaNode | undefined;
    if (inner === undefined) return { inner: current, description };
    current = inner;
    description ??= current.description;
  }
}

/** Finds the schema of the value at `path`, or undefined when the path leaves the schema. */
function schemaAt(
  root: SchemaNode,
  path: readonly PathSegment[],
): { inner: SchemaNode; description?: string } | undefined {
  let node = unwrap(root);
  for (const segment of path) {
    const def = node.inner._zod.def;
    if (def.type === "object" && typeof segment === "string") {
      const shape = def.shape as Record<string, SchemaNode>;
      if (!Object.hasOwn(shape, segment)) return undefined;
      node = unwrap(shape[segment]);
    } else if (def.type === "array" && typeof segment === "number") {
      node = unwrap(def.element as SchemaNode);
    } else {
      return undefined;
    }
  }
  return node;
}

function knownKeysAt(root: SchemaNode, path: readonly PathSegment[]): string[] {
  const node = schemaAt(root, path);
  if (node === undefined || node.inner._zod.def.type !== "object") return [];
  return Object.keys(node.inner._zod.def.shape as Record<string, unknown>);
}

/** Levenshtein distance between two short strings. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j] + 1, current[j - 1] + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length];
}

/**
 * Returns the candidate closest to `word` when it is close enough to be a
 * likely typo: equal ignoring case and separators, or within a third of the
 * word's length in edit distance.
 */
export function closestMatch(word: string, candidates: readonly string[]): string | undefined {
  const fold = (text: string) => text.toLowerCase().replace(/[-_\s]/g, "");
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance =
      fold(word) === fold(candidate) ? 0 : editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const limit = Math.max(2, Math.floor(word.length / 3));
  return bestDistance <= limit ? best : undefined;
}

function firstSentence(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const end = text.search(/\.\s/);
  return end === -1 ? text : text.slice(0, end + 1);
}

function rangeText(
  issue: { inclusive?: boolean; exact?: boolean },
  bound: number | bigint,
  side: "min" | "max",
): string {
  if (issue.exact) return `exactly ${bound}`;
  if (side === "min") return issue.inclusive === false ? `greater than ${bound}` : `at least ${bound}`;
  return issue.inclusive === false ? `less than ${bound}` : `at most ${bound}`;
}

function unitOf(origin: string): string {
  if (origin === "string") return " characters long";
  if (origin === "array" || origin === "set") return " entries";
  return "";
}

/**
 * Turns zod issues into one problem per bad value, each quoting the value and
 * what is allowed. `input` is the parsed JSON, used to quote values;
 * `schema` finds descriptions and known keys for suggestions.
 */
export function problemsFromIssues(
  issues: readonly z.core.$ZodIssue[],
  input: unknown,
  rootSchema: z.ZodType,
): ExperimentProblem[] {
  const schema = rootSchema as unknown as SchemaNode;
  const problems: ExperimentProblem[] = [];
  for (const issue of issues) {
    const path = issue.path;
    const value = valueAt(input, path);
    const where = formatJsonPath(path);
    const described = schemaAt(schema, path)?.description;

    switch (issue.code) {
      case "unrecognized_keys": {
        const known = knownKeysAt(schema, path);
        for (const key of issue.keys) {
          const suggestion = closestMatch(key, known);
          const hint = suggestion === undefined ? "" : ` (did you mean ${JSON.stringify(suggestion)}?)`;
          problems.push({
            code: "unknown_field",
            path: formatJsonPath([...path, key]),
            message: `unknown field${hint}; fields allowed here: ${known.join(", ")}`,
          });
        }
        break;
      }
      case "invalid_type": {
        const expected = issue.expected === "int" ? "an integer" : issue.expected;
        if (value === undefined) {
          const about = firstSentence(described);
          problems.push({
            code: "missing_field",
            path: where,
            message: `required field is missing (expected ${expected})${about === undefined ? "" : `: ${about}`}`,
          });
        } else {
          problems.push({
            code: "invalid_type",
            path: where,
            message: `expected ${expected}, got ${describeValue(value)}${quotedValueHint(issue.expected, value)}`,
          });
        }
        break;
      }
      case "too_small":
        if (issue.origin === "string" && issue.minimum === 1) {
          problems.push({ code: "too_small", path: where, message: "must not be empty" });
          break;
        }
        problems.push({
          code: "too_small",
          path: where,
          message: `${describeValue(value)} is too small: must be ${rangeText(issue, issue.minimum, "min")}${unitOf(issue.origin)}`,
        });
        break;
      case "too_big":
        problems.push({
          code: "too_big",
          path: where,
          message: `${describeValue(value)} is too large: must be ${rangeText(issue, issue.maximum, "max")}${unitOf(issue.origin)}`,
        });
        break;
      case "invalid_value": {
        const allowed = issue.values.map((allowedValue) => JSON.stringify(allowedValue));
        const suggestion =
          typeof value === "string"
            ? closestMatch(
                value,
                issue.values.map((allowedValue) => String(allowedValue)),
              )
            : undefined;
        const hint = suggestion === undefined ? "" : ` (did you mean ${JSON.stringify(suggestion)}?)`;
        problems.push({
          code: "invalid_value",
          path: where,
          message: `${describeValue(value)} is not allowed${hint}; use one of ${allowed.join(", ")}`,
        });
        break;
      }
      case "invalid_format": {
        const about = firstSentence(described);
        problems.push({
          code: "invalid_format",
          path: where,
          message: `${describeValue(value)} has an invalid format${patternHint(issue, value)}${about === undefined ? "" : `: ${about}`}`,
        });
        break;
      }
      default:
        problems.push({
          code: issue.code,
          path: where,
          message: `${describeValue(value)}: ${issue.message}`,
        });
    }
  }
  return problems;
}

/** Returns a hint for a number or boolean written as a JSON string, such as `"100"`, or "". */
function quotedValueHint(expected: string, value: unknown): string {
  if (typeof value !== "string") return "";
  const text = value.trim();
  if ((expected === "number" || expected === "int") && text !== "" && Number.isFinite(Number(text))) {
    return ` (write ${text} without quotes)`;
  }
  if (expected === "boolean" && (text === "true" || text === "false"))
    return ` (write ${text} without quotes)`;
  return "";
}

/**
 * Returns a suggestion for a string that fails a name pattern. Runs of
 * characters outside those of experiment names become `-`, and leading and
 * trailing punctuation is removed. The result is offered only when it matches
 * the pattern.
 */
function patternHint(issue: { format: string; pattern?: string }, value: unknown): string {
  if (issue.format !== "regex" || issue.pattern === undefined || typeof value !== "string") return "";
  const candidate = value
    .replace(/[^A-Za-z0-9._-]+/g, "-")
    .replace(/^[^A-Za-z0-9]+/, "")
    .replace(/[-_.]+$/, "")
    .slice(0, 64);
  // zod reports the pattern as the regular expression's literal, "/source/flags".
  const literal = /^\/(.*)\/([a-z]*)$/s.exec(issue.pattern);
  if (literal === null || candidate === "") return "";
  return new RegExp(literal[1], literal[2]).test(candidate)
    ? ` (did you mean ${JSON.stringify(candidate)}?)`
    : "";
}
