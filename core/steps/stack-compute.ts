import { type Experiment, ExperimentError, type ExperimentProblem } from "../experiment/index.ts";

/** Environment variable that passes the deployed stack's compute settings to the plan Lambda. */
export const STACK_COMPUTE_ENV = "VOCAGNO_STACK_COMPUTE";

/** Compute settings fixed when the stack is deployed, which the plan step checks experiments against. */
export interface StackCompute {
  /** EC2 instance types of the GPU compute environments. */
  readonly instanceTypes: readonly string[];
  /** Whether the job queue places jobs on Spot capacity first. */
  readonly spot: boolean;
  /** Whether on-demand capacity exists. Always true, because the on-demand environment backs every queue. */
  readonly onDemand: boolean;
  /** Nodes of a training job. */
  readonly trainNodes: number;
  /** GPUs per training node in the job definition. Each run overrides it when `trainGpusPerRun` is true. */
  readonly trainGpusPerNode: number;
  /** Whether the training job takes its GPU count from each run (single-node jobs only). */
  readonly trainGpusPerRun: boolean;
  /** Upper bound of each compute environment's vCPUs. */
  readonly maxvCpus: number;
}

/**
 * GPUs and vCPUs of common GPU instance types, to catch a `gpusPerNode` above
 * what the requested type has, or nodes that the environments' vCPU bound
 * cannot launch. A type missing here skips those checks only.
 */
const INSTANCE_SIZES: Record<string, { readonly gpus: number; readonly vcpus: number }> = {
  ...Object.fromEntries(
    ["g4dn", "g5", "g6", "g6e"].flatMap((family) =>
      (
        [
          ["xlarge", 1, 4],
          ["2xlarge", 1, 8],
          ["4xlarge", 1, 16],
          ["8xlarge", 1, 32],
          ["16xlarge", 1, 64],
          ["12xlarge", 4, 48],
          ["24xlarge", 4, 96],
          ["48xlarge", 8, 192],
        ] as const
      ).map(([size, gpus, vcpus]) => [`${family}.${size}`, { gpus, vcpus }]),
    ),
  ),
  "g4dn.metal": { gpus: 8, vcpus: 96 },
  "p3.2xlarge": { gpus: 1, vcpus: 8 },
  "p3.8xlarge": { gpus: 4, vcpus: 32 },
  "p3.16xlarge": { gpus: 8, vcpus: 64 },
  "p3dn.24xlarge": { gpus: 8, vcpus: 96 },
  "p4d.24xlarge": { gpus: 8, vcpus: 96 },
  "p4de.24xlarge": { gpus: 8, vcpus: 96 },
  "p5.48xlarge": { gpus: 8, vcpus: 192 },
  "p5e.48xlarge": { gpus: 8, vcpus: 192 },
  "p5en.48xlarge": { gpus: 8, vcpus: 192 },
};

/** Reads the stack's compute settings from the environment, or undefined outside a deployed stack. */
export function readStackCompute(env: NodeJS.ProcessEnv = process.env): StackCompute | undefined {
  const text = env[STACK_COMPUTE_ENV];
  if (text === undefined || text === "") return undefined;
  try {
    return JSON.parse(text) as StackCompute;
  } catch (error) {
    throw new Error(
      `${STACK_COMPUTE_ENV} is invalid JSON (${(error as Error).message}); redeploy the stack, which sets it`,
    );
  }
}

const redeploy = (setting: string) => `redeploy the stack with -c ${setting}`;

/**
 * Lists every compute field of the experiment that the stack does not
 * provide, each with the requested value, what the stack provides and the fix.
 * Batch fixes instance types, nodes and Spot when the stack is deployed, so
 * a run cannot change them.
 */
export function computeProblems(compute: Experiment["compute"], stack: StackCompute): ExperimentProblem[] {
  const problems: ExperimentProblem[] = [];
  const types = stack.instanceTypes.join(",");
  for (const field of ["teacherInstanceType", "trainingInstanceType"] as const) {
    const type = compute[field];
    if (!stack.instanceTypes.includes(type)) {
      problems.push({
        code: "stack_compute",
        path: `compute.${field}`,
        message:
          `is ${type}, but the stack's compute environments have only ${types}; ` +
          `${redeploy(`vocagno:instanceTypes=${[...stack.instanceTypes, type].join(",")}`)}, ` +
          `or set compute.${field} to one of ${types}`,
      });
    }
  }
  const trainingSize = INSTANCE_SIZES[compute.trainingInstanceType];
  if (trainingSize !== undefined && compute.gpusPerNode > trainingSize.gpus) {
    problems.push({
      code: "stack_compute",
      path: "compute.gpusPerNode",
      message:
        `is ${compute.gpusPerNode}, but ${compute.trainingInstanceType} has ${trainingSize.gpus} GPU(s); ` +
        `set compute.gpusPerNode to at most ${trainingSize.gpus}, or choose a compute.trainingInstanceType ` +
        "with more GPUs",
    });
  } else if (!stack.trainGpusPerRun && compute.gpusPerNode !== stack.trainGpusPerNode) {
    problems.push({
      code: "stack_compute",
      path: "compute.gpusPerNode",
      message:
        `is ${compute.gpusPerNode}, but the stack's multi-node training job has ${stack.trainGpusPerNode} ` +
        `GPU(s) per node, fixed at deployment; set compute.gpusPerNode to ${stack.trainGpusPerNode}, ` +
        `or ${redeploy(`vocagno:trainGpusPerNode=${compute.gpusPerNode}`)}`,
    });
  }
  if (compute.nodes !== stack.trainNodes) {
    problems.push({
      code: "stack_compute",
      path: "compute.nodes",
      message:
        `is ${compute.nodes}, but the stack's training job has ${stack.trainNodes} node(s); ` +
        `${redeploy(`vocagno:trainNodes=${compute.nodes}`)}, or set compute.nodes to ${stack.trainNodes}`,
    });
  }
  // Batch launches whole instances, so the nodes of one training job need all their instances' vCPUs at once.
  if (trainingSize !== undefined && compute.nodes * trainingSize.vcpus > stack.maxvCpus) {
    const needed = compute.nodes * trainingSize.vcpus;
    problems.push({
      code: "stack_compute",
      path: "compute.nodes",
      message:
        `is ${compute.nodes}, and ${compute.nodes} ${compute.trainingInstanceType} instance(s) have ${needed} ` +
        `vCPUs, but the stack's compute environments launch at most ${stack.maxvCpus}; ` +
        `${redeploy(`vocagno:maxvCpus=${needed}`)}, or lower compute.nodes`,
    });
  }
  if (compute.spot !== stack.spot) {
    const provides = stack.spot
      ? "Spot capacity first (on-demand when Spot has none)"
      : "on-demand capacity only";
    problems.push({
      code: "stack_compute",
      path: "compute.spot",
      message:
        `is ${compute.spot}, but the stack's job queue runs jobs on ${provides}; ` +
        `${redeploy(`vocagno:spot=${compute.spot}`)}, or set compute.spot to ${stack.spot}`,
    });
  }
  return problems;
}

/**
 * Throws ExperimentError when the experiment requests compute that the
 * deployed stack does not provide, so that no run silently gets other
 * hardware than its file requests.
 *
 * @example
 * checkStackCompute(experiment.compute, readStackCompute(), "s3://vocagno-data/experiments/owm.json");
 */
export function checkStackCompute(compute: Experiment["compute"], stack: StackCompute, source: string): void {
  const problems = computeProblems(compute, stack);
  if (problems.length > 0) throw new ExperimentError(source, problems);
}
