import { describe, expect, test } from "vitest";
import { ExperimentError, parseExperiment } from "../experiment/index.ts";
import { checkStackCompute, computeProblems, readStackCompute, STACK_COMPUTE_ENV } from "./stack-compute.ts";
import { DEFAULT_STACK_COMPUTE } from "./testing/run-fixtures.ts";

const STACK = DEFAULT_STACK_COMPUTE;

function compute(overrides: Record<string, unknown> = {}) {
  return parseExperiment({
    name: "compute",
    corpus: { uri: "s3://bucket/corpus/" },
    student: { model: "s3://bucket/student", tokenizer: "tinyllama" },
    teacher: { bundle: "s3://bucket/teacher", tokenizer: "qwen" },
    compute: overrides,
  }).compute;
}

describe("computeProblems", () => {
  test("default compute fits default stack", () => {
    expect(computeProblems(compute(), STACK)).toEqual([]);
  });

  test("accepts any stack instance type", () => {
    // g5.12xlarge has 4 GPUs.
    expect(
      computeProblems(
        compute({ teacherInstanceType: "g5.2xlarge", trainingInstanceType: "g5.12xlarge", gpusPerNode: 4 }),
        STACK,
      ),
    ).toEqual([]);
  });

  test("rejects instance type outside stack", () => {
    for (const field of ["teacherInstanceType", "trainingInstanceType"]) {
      const [problem, ...rest] = computeProblems(compute({ [field]: "p5.48xlarge" }), STACK);
      expect(rest).toEqual([]);
      expect(problem.path).toBe(`compute.${field}`);
      expect(problem.message).toContain("is p5.48xlarge");
      expect(problem.message).toContain("only g5.xlarge,g5.2xlarge,g5.12xlarge");
      expect(problem.message).toContain(
        "-c vocagno:instanceTypes=g5.xlarge,g5.2xlarge,g5.12xlarge,p5.48xlarge",
      );
    }
  });

  test("rejects more GPUs than type has", () => {
    // g5.2xlarge has one GPU.
    const problems = computeProblems(compute({ gpusPerNode: 8 }), STACK);
    expect(problems.map((problem) => problem.path)).toEqual(["compute.gpusPerNode"]);
    expect(problems[0].message).toMatch(/is 8, but g5\.2xlarge has 1 GPU/);
  });

  test("multi-node stack fixes GPUs per node", () => {
    const multiNode = { ...STACK, trainNodes: 2, trainGpusPerRun: false };
    const problems = computeProblems(
      compute({ nodes: 2, trainingInstanceType: "g5.12xlarge", gpusPerNode: 4 }),
      multiNode,
    );
    expect(problems.map((problem) => problem.path)).toEqual(["compute.gpusPerNode"]);
    expect(problems[0].message).toContain("has 1 GPU(s) per node, fixed at deployment");
    expect(problems[0].message).toContain("-c vocagno:trainGpusPerNode=4");
    expect(computeProblems(compute({ nodes: 2 }), multiNode)).toEqual([]);
  });

  test("rejects nodes unlike the stack's", () => {
    const problems = computeProblems(compute({ nodes: 4 }), STACK);
    expect(problems.map((problem) => problem.path)).toEqual(["compute.nodes"]);
    expect(problems[0].message).toContain("is 4, but the stack's training job has 1 node(s)");
    expect(problems[0].message).toContain("-c vocagno:trainNodes=4");
  });

  test("rejects nodes beyond maxvCpus", () => {
    // 2 p5.48xlarge nodes have 2 * 192 = 384 vCPUs, above the bound of 256.
    const problems = computeProblems(
      compute({ trainingInstanceType: "p5.48xlarge", nodes: 2, gpusPerNode: 8 }),
      {
        ...STACK,
        instanceTypes: ["g5.xlarge", "p5.48xlarge"],
        trainNodes: 2,
        trainGpusPerNode: 8,
        trainGpusPerRun: false,
      },
    );
    expect(problems.map((problem) => problem.path)).toEqual(["compute.nodes"]);
    expect(problems[0].message).toContain("have 384 vCPUs");
    expect(problems[0].message).toContain("-c vocagno:maxvCpus=384");
  });

  test("rejects spot unlike the stack's", () => {
    const onDemand = computeProblems(compute({ spot: false }), STACK);
    expect(onDemand.map((problem) => problem.path)).toEqual(["compute.spot"]);
    expect(onDemand[0].message).toContain("Spot capacity first");
    expect(onDemand[0].message).toContain("-c vocagno:spot=false");

    const spot = computeProblems(compute({ spot: true }), { ...STACK, spot: false });
    expect(spot.map((problem) => problem.path)).toEqual(["compute.spot"]);
    expect(spot[0].message).toContain("on-demand capacity only");
    expect(spot[0].message).toContain("-c vocagno:spot=true");
  });

  test("large request lists every field", () => {
    const requested = compute({
      teacherInstanceType: "p5.48xlarge",
      trainingInstanceType: "p5.48xlarge",
      gpusPerNode: 8,
      nodes: 4,
      spot: false,
    });
    expect(() => checkStackCompute(requested, STACK, "experiments/big.json")).toThrow(ExperimentError);
    // gpusPerNode fits p5.48xlarge (8 GPUs). The nodes differ from the stack's 1, and 4 * 192 = 768 vCPUs
    // exceed its 256, so compute.nodes has two problems.
    expect(computeProblems(requested, STACK).map((problem) => problem.path)).toEqual([
      "compute.teacherInstanceType",
      "compute.trainingInstanceType",
      "compute.nodes",
      "compute.nodes",
      "compute.spot",
    ]);
  });
});

describe("readStackCompute", () => {
  test("reads, skips or rejects the variable", () => {
    expect(readStackCompute({})).toBeUndefined();
    expect(readStackCompute({ [STACK_COMPUTE_ENV]: JSON.stringify(STACK) })).toEqual(STACK);
    expect(() => readStackCompute({ [STACK_COMPUTE_ENV]: "{" })).toThrow(/redeploy the stack/);
  });
});
