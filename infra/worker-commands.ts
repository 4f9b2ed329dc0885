/**
 * Container command lines of the GPU workers. AWS Batch substitutes each
 * `Ref::name` with the job's parameter `name`. The local runner reads the same
 * commands from the synthesized job definitions and substitutes them itself.
 */

/** Scores one slice of the run's shards with the teacher; AWS_BATCH_JOB_ARRAY_INDEX picks the slice. */
export const TEACHER_SCORE_COMMAND = [
  "node",
  "--import",
  "tsx",
  "batch-image/teacher-score/main.ts",
  "--run",
  "Ref::run",
  "--teacher",
  "Ref::teacher",
  "--aggregation",
  "Ref::aggregation",
  "--provider",
  "Ref::provider",
];

/** Defaults of the teacher job's parameters; the local runner sets `provider` to `cpu`. */
export const TEACHER_SCORE_DEFAULT_PARAMETERS = { provider: "cuda" };

/** Trains one student variant (`guided` or `baseline`) of the run in one process, resuming from its last checkpoint. */
export const TRAIN_COMMAND = [
  "python",
  "-m",
  "vocagno_trainer",
  "--run",
  "Ref::run",
  "--variant",
  "Ref::variant",
  "--config",
  "Ref::config",
];

/**
 * Shell script of single-node training: one process on one GPU, else
 * torchrun with one process per GPU of the container. Each run sets the job's
 * GPU count (a SubmitJob resource override), so the script queries PyTorch for
 * the count when the job starts.
 */
const SINGLE_NODE_TRAIN_SCRIPT = [
  'gpus="$(python -c "import torch; print(torch.cuda.device_count())")"',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion, evaluated by bash in the container.
  'if [ "${gpus:-0}" -gt 1 ]; then exec torchrun --standalone --nproc-per-node="$gpus" -m vocagno_trainer "$@"; fi',
  'exec python -m vocagno_trainer "$@"',
].join("; ");

/**
 * Returns the training command for a job with `gpusPerNode` GPUs on each of
 * `nodes` nodes. On one node the process count follows the GPUs the
 * container got (`gpusPerNode` is only the job definition's default). On
 * several nodes it is torchrun with `gpusPerNode` processes per node: Batch
 * sets AWS_BATCH_JOB_NODE_INDEX on every node and the main node's address on
 * the others; the main node rendezvous on itself. Parameters stay whole
 * arguments (passed to the script as "$@") because Batch substitutes
 * `Ref::name` only as a whole argument.
 */
export function trainCommand(gpusPerNode: number, nodes: number): string[] {
  // torchrun's parser would read `--run` as its own `--run-path`, so the trainer gets `--run-uri`.
  const trainerArguments = [
    "vocagno_trainer",
    "--run-uri",
    "Ref::run",
    "--variant",
    "Ref::variant",
    "--config",
    "Ref::config",
  ];
  if (nodes === 1) return ["bash", "-c", SINGLE_NODE_TRAIN_SCRIPT, ...trainerArguments];
  const torchrun = [
    "exec torchrun",
    `--nnodes=${nodes}`,
    `--nproc-per-node=${gpusPerNode}`,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion, evaluated by bash in the container.
    '--node-rank="${AWS_BATCH_JOB_NODE_INDEX:-0}"',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion, evaluated by bash in the container.
    '--master-addr="${AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS:-127.0.0.1}"',
    "--master-port=29500",
    '-m vocagno_trainer "$@"',
  ].join(" ");
  return ["bash", "-c", torchrun, ...trainerArguments];
}

/** Environment of every worker container. Paths are inside the image (`/app` is the repository root). */
export const WORKER_ENVIRONMENT = {
  PYTHONPATH: "/app/batch-image",
  VOCAGNO_LOG_LEVEL: "info",
};
