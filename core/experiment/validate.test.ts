import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { pythonExecutable } from "../../test/support/python.ts";
import { jsonErrorOffset } from "./json-position.ts";
import { closestMatch } from "./problems.ts";
import { experimentSchema } from "./schema.ts";
import { toTrainerConfig } from "./trainer-config.ts";
import { checkExperiment, ExperimentError, parseExperiment, parseExperimentText } from "./validate.ts";

const repository = path.resolve(import.meta.dirname, "../..");

function minimal(): Record<string, unknown> {
  return {
    name: "tiny",
    corpus: { uri: "file:///data/corpus/" },
    student: { model: "s3://models/tinyllama" },
    teacher: { bundle: "s3://teachers/qwen" },
  };
}

function problemLines(raw: unknown): string[] {
  const check = checkExperiment(raw);
  if (check.ok) throw new Error("expected problems, got a valid experiment");
  return check.problems.map((problem) => `${problem.path}: ${problem.message}`);
}

describe("parseExperiment", () => {
  test("fills every default", () => {
    const experiment = parseExperiment(minimal());

    expect(experiment.loss).toEqual({
      keepRatio: 0.4,
      unmapped: "include",
      scope: "batch",
      accumulation: "recompute",
    });
    expect(experiment.teacher.aggregation).toBe("max");
    expect(experiment.variants).toEqual(["guided", "baseline"]);
    expect(experiment.evaluation).toEqual({ heldOutShare: 0.01 });
    expect(experiment.corpus.recordsPerItem).toBe(10_000);
    expect(experiment.training.maxSteps).toBe(1000);
    // The compute defaults match the stack's defaults (Spot first, g5 instances, one training node).
    expect(experiment.compute).toEqual({
      teacherInstanceType: "g5.xlarge",
      trainingInstanceType: "g5.2xlarge",
      gpusPerNode: 1,
      nodes: 1,
      spot: true,
    });
  });

  test("defaults tokenizers to the model directories", () => {
    const experiment = parseExperiment(minimal());

    expect(experiment.student.tokenizer).toBe("s3://models/tinyllama/tokenizer.json");
    expect(experiment.teacher.tokenizer).toBe("s3://teachers/qwen/tokenizer.json");
  });

  test("keeps heldOutItems without a share", () => {
    const experiment = parseExperiment({ ...minimal(), evaluation: { heldOutItems: 3 } });
    expect(experiment.evaluation).toEqual({ heldOutItems: 3 });
  });

  test("raises ExperimentError naming the source", () => {
    expect(() => parseExperiment({}, "experiments/x.json")).toThrow(ExperimentError);
    expect(() => parseExperiment({}, "experiments/x.json")).toThrow(
      /invalid experiment experiments\/x\.json/,
    );
  });

  test("example file is valid", () => {
    const text = readFileSync(path.join(repository, "examples/experiment.json"), "utf8");
    expect(() => parseExperimentText(text, "examples/experiment.json")).not.toThrow();
  });
});

describe("checkExperiment problems", () => {
  test("suggests a fix for quoted numbers and bad names", () => {
    const lines = problemLines({
      ...minimal(),
      name: "typo test!",
      training: { maxSteps: "100", learningRate: "fast", compile: "true" },
    });

    expect(lines).toContainEqual(
      expect.stringMatching(/^name: "typo test!" has an invalid format \(did you mean "typo-test"\?\): /),
    );
    expect(lines).toContain('training.maxSteps: expected number, got "100" (write 100 without quotes)');
    expect(lines).toContain('training.compile: expected boolean, got "true" (write true without quotes)');
    // A string that is not a number gets no hint.
    expect(lines).toContain('training.learningRate: expected number, got "fast"');
  });

  test("lists every problem with its path", () => {
    const lines = problemLines({
      name: "bad name!",
      corpus: { uri: "", recordPerItem: 5, format: "jsonl.gzz", rejectThreshold: 2 },
      student: {},
      teacher: { bundle: "s3://t", aggregation: "maxx", contextTokens: 2.5 },
      loss: { keepRatio: 0 },
      training: { learningRate: "fast" },
      variants: ["guided", "teacher"],
      extra: true,
    });

    expect(lines).toHaveLength(12);
    expect(lines).toContainEqual(expect.stringMatching(/^name: "bad name!" has an invalid format/));
    expect(lines).toContain("corpus.uri: must not be empty");
    expect(lines).toContainEqual(
      expect.stringMatching(/^corpus\.recordPerItem: unknown field \(did you mean "recordsPerItem"\?\)/),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(/^corpus\.format: "jsonl\.gzz" is not allowed \(did you mean "jsonl\.gz"\?\)/),
    );
    expect(lines).toContain("corpus.rejectThreshold: 2 is too large: must be at most 1");
    expect(lines).toContainEqual(
      expect.stringMatching(/^student\.model: required field is missing \(expected string\)/),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^teacher\.aggregation: "maxx" is not allowed \(did you mean "max"\?\); use one of "max", "mean", "sum", "min"/,
      ),
    );
    expect(lines).toContain("teacher.contextTokens: expected an integer, got 2.5");
    expect(lines).toContain("loss.keepRatio: 0 is too small: must be greater than 0");
    expect(lines).toContain('training.learningRate: expected number, got "fast"');
    expect(lines).toContainEqual(
      expect.stringMatching(/^variants\[1\]: "teacher" is not allowed; use one of "guided", "baseline"/),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(/^extra: unknown field; fields allowed here: \$schema, name, corpus/),
    );
  });

  test("reports cross-field problems beside field problems", () => {
    const lines = problemLines({
      ...minimal(),
      name: 7,
      training: { maxSteps: 50 },
      teacher: { bundle: "s3://t", contextTokens: 512, minContextTokens: 512, batchTokens: 256 },
      evaluation: { heldOutShare: 0.1, heldOutItems: 2 },
      variants: ["baseline", "baseline"],
    });

    expect(lines).toContain("name: expected string, got 7");
    // warmupSteps defaults to 100, which exceeds the 50 steps asked for.
    expect(lines).toContain(
      "training.warmupSteps: 100 exceeds training.maxSteps (50): set warmupSteps to at most 50",
    );
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^teacher\.minContextTokens: 512 must be less than teacher\.contextTokens \(512\)/,
      ),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(/^teacher\.batchTokens: 256 is less than teacher\.contextTokens \(512\)/),
    );
    expect(lines).toContain("evaluation: heldOutShare and heldOutItems are both set: keep only one");
    expect(lines).toContain('variants[1]: "baseline" is listed twice: list each variant once');
  });

  test("rejects a non-object file", () => {
    expect(problemLines([1, 2])).toEqual(["(root): expected object, got [1,2]"]);
  });

  test("reports invalid JSON with line and column", () => {
    const text = '{\n  "name": "x",\n  "corpus": }\n';
    expect(() => parseExperimentText(text, "e.json")).toThrow(/not valid JSON at line 3, column 13/);
  });
});

describe("closestMatch", () => {
  test("suggests near misses only", () => {
    expect(closestMatch("keep_ratio", ["keepRatio", "scope"])).toBe("keepRatio");
    expect(closestMatch("lerningRate", ["learningRate", "seed"])).toBe("learningRate");
    expect(closestMatch("banana", ["learningRate", "seed"])).toBeUndefined();
  });
});

describe("toTrainerConfig", () => {
  test("maps every training field to the trainer's name", () => {
    const experiment = parseExperiment(minimal());
    const config = toTrainerConfig(experiment) as unknown as Record<string, unknown>;
    const snake = (name: string) => name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);

    for (const [name, value] of Object.entries(experiment.training)) {
      expect(config[snake(name)], name).toEqual(value);
    }
    expect(config.student_model).toBe("s3://models/tinyllama");
    expect(config.loss).toEqual({
      keep_ratio: 0.4,
      unmapped: "include",
      scope: "batch",
      accumulation: "recompute",
    });
  });

  test("passes the trainer's own validation", () => {
    const config = toTrainerConfig(parseExperiment(minimal()));
    const script =
      "import json, sys\nfrom vocagno_trainer.config import parse_config\n" +
      "print(json.dumps(parse_config(json.load(sys.stdin)).model_dump()))";
    const output = execFileSync(pythonExecutable(), ["-c", script], {
      cwd: path.join(repository, "batch-image"),
      input: JSON.stringify(config),
      encoding: "utf8",
    });

    expect(JSON.parse(output)).toEqual(config);
  });

  test("matches the trainer's field lists", () => {
    // The trainer's pydantic models declare each field as `name: type = Field(`.
    const source = readFileSync(path.join(repository, "batch-image/vocagno_trainer/config.py"), "utf8");
    const fieldsOf = (className: string) => {
      const start = source.indexOf(`class ${className}`);
      const body = source.slice(start, source.indexOf("\nclass ", start + 1));
      return [...body.matchAll(/^ {4}([a-z_0-9]+): [^=]+= Field\(/gm)].map((match) => match[1]).sort();
    };
    const config = toTrainerConfig(parseExperiment(minimal()));

    expect(fieldsOf("TrainConfig").length).toBeGreaterThan(10);
    expect(Object.keys(config).sort()).toEqual(fieldsOf("TrainConfig"));
    expect(Object.keys(config.loss).sort()).toEqual(fieldsOf("GuidedLossConfig"));
  });
});

interface SchemaNode {
  description?: string;
  _zod: { def: Record<string, unknown> };
}

/** Lists every leaf field of the schema as a dotted path, with its description. */
function leafFields(node: SchemaNode, prefix: string): Array<{ path: string; description?: string }> {
  let current = node;
  let description = node.description;
  while (current._zod.def.innerType !== undefined) {
    current = current._zod.def.innerType as SchemaNode;
    description ??= current.description;
  }
  if (current._zod.def.type !== "object") return [{ path: prefix, description }];
  return Object.entries(current._zod.def.shape as Record<string, SchemaNode>).flatMap(([key, child]) =>
    leafFields(child, prefix.length === 0 ? key : `${prefix}.${key}`),
  );
}

describe("experiment reference", () => {
  const fields = leafFields(experimentSchema as unknown as SchemaNode, "");

  test("every field has a description with its default", () => {
    for (const field of fields) {
      expect(field.description, field.path).toBeTruthy();
      expect(field.description, field.path).toMatch(/Default|Required|Optional/);
    }
  });

  test("docs/experiment.md documents every field", () => {
    const reference = readFileSync(path.join(repository, "docs/experiment.md"), "utf8");
    for (const field of fields) {
      expect(reference, field.path).toContain(`\`${field.path}\``);
      expect(reference, `${field.path} description`).toContain(field.description);
    }
  });
});

describe("jsonErrorOffset", () => {
  test("agrees with JSON.parse on valid and broken text", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.nat(), (value, cut) => {
        const text = JSON.stringify(value, null, 1);
        expect(jsonErrorOffset(text)).toBeUndefined();
        const truncated = text.slice(0, cut % (text.length + 1));
        let parses = true;
        try {
          JSON.parse(truncated);
        } catch {
          parses = false;
        }
        expect(jsonErrorOffset(truncated) === undefined).toBe(parses);
      }),
    );
  });
});
