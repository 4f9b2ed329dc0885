import { z } from "zod";

/**
 * The experiment file: one JSON object that describes a whole run, from the
 * corpus to the compute it runs on. Every field documents its default and
 * unit; docs/experiment.md is the reference for people.
 *
 * Objects are strict so that a misspelled key is an error, not a silently
 * ignored setting. Nested sections use `prefault({})` so that an omitted
 * section still gets every default of its fields.
 */

/** Corpus container formats that core/corpus reads. */
export const CORPUS_FORMATS = ["jsonl", "jsonl.gz", "jsonl.zst", "parquet"] as const;
export type CorpusFormat = (typeof CORPUS_FORMATS)[number];

/** Ways to reduce the teacher losses of the teacher tokens under one student token. */
export const AGGREGATIONS = ["max", "mean", "sum", "min"] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

/** The students an experiment can train: with teacher guidance, and plain continual pretraining. */
export const VARIANTS = ["guided", "baseline"] as const;
export type Variant = (typeof VARIANTS)[number];

/** Characters allowed in an experiment name; names become storage keys and execution names. */
export const EXPERIMENT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

const uri = z.string().min(1);

const corpusSchema = z
  .strictObject({
    uri: uri.describe(
      "Location of the corpus: one file, or a prefix (folder) whose files are all read. " +
        "s3://bucket/key, file:///absolute/path or a local path. Required.",
    ),
    format: z
      .enum(CORPUS_FORMATS)
      .optional()
      .describe(
        "Container format of every corpus file: jsonl, jsonl.gz, jsonl.zst or parquet. " +
          "Default: inferred from each file's extension (.jsonl/.json, .jsonl.gz/.json.gz, .jsonl.zst/.json.zst, .parquet).",
      ),
    textField: z
      .string()
      .min(1)
      .default("text")
      .describe("Field of each record that holds the document text. Default `text`."),
    idField: z
      .string()
      .min(1)
      .nullable()
      .default(null)
      .describe(
        "Field of each record that holds the document id. Default null: the id is `<file>:<record number>`, " +
          "with the file's path below corpus.uri and records counted from 0.",
      ),
    recordsPerItem: z
      .int()
      .min(1)
      .max(100_000_000)
      .default(10_000)
      .describe(
        "Records (documents) per work item; one work item becomes one shard and one prepare invocation. " +
          "Larger files are split into record ranges of this size. Default 10000 records.",
      ),
    maxDocumentBytes: z
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(1_048_576)
      .describe(
        "Longest document text in UTF-8 bytes that is tokenized as one piece. A longer document is split " +
          "at line breaks into pieces of at most this size, with ids `<id>#<piece>`. Default 1048576 bytes (1 MiB).",
      ),
    rejectThreshold: z
      .number()
      .min(0)
      .max(1)
      .default(0.01)
      .describe(
        "Share of corpus records that may be rejected (invalid JSON, missing or empty text) before the run " +
          "fails; in [0, 1]. Default 0.01 (1%).",
      ),
  })
  .describe("The training corpus and how it is cut into work items.");

const studentSchema = z
  .strictObject({
    model: uri.describe(
      "Hugging Face model directory of the student (config.json, weights, tokenizer.json): " +
        "s3://, file:// or a local path. Required.",
    ),
    tokenizer: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Student tokenizer: a tokenizer.json URI or a known name (for example `tinyllama`). " +
          "Default: `<model>/tokenizer.json`.",
      ),
  })
  .describe("The student model that is trained.");

const teacherSchema = z
  .strictObject({
    bundle: uri.describe(
      "Teacher bundle directory written by the teacher export (model.onnx, tokenizer.json, teacher.json): " +
        "s3://, file:// or a local path. Required.",
    ),
    tokenizer: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Teacher tokenizer: a tokenizer.json URI or a known name (for example `qwen`). " +
          "Default: `<bundle>/tokenizer.json`.",
      ),
    aggregation: z
      .enum(AGGREGATIONS)
      .default("max")
      .describe(
        "How the teacher losses of the teacher tokens under one student token are reduced: max, mean, sum " +
          "or min (NaN ignored). Default max.",
      ),
    contextTokens: z
      .int()
      .min(16)
      .max(1_048_576)
      .default(2048)
      .describe("Teacher tokens per scoring window. Default 2048 tokens."),
    minContextTokens: z
      .int()
      .min(0)
      .max(1_048_576)
      .default(512)
      .describe(
        "Preceding teacher tokens every scored token sees at least, when the document has them; windows " +
          "overlap by this much. Must be less than contextTokens. Default 512 tokens.",
      ),
    batchTokens: z
      .int()
      .min(16)
      .max(16_777_216)
      .default(16_384)
      .describe(
        "Teacher tokens per inference batch (windows are packed up to this total). At least contextTokens. " +
          "Default 16384 tokens.",
      ),
  })
  .describe("The teacher whose per-token losses guide the student.");

const lossSchema = z
  .strictObject({
    keepRatio: z
      .number()
      .gt(0)
      .max(1)
      .default(0.4)
      .describe(
        "Share of mapped target tokens kept in the guided loss, ranked by excess loss (student loss minus " +
          "teacher loss); in (0, 1]. Default 0.4.",
      ),
    unmapped: z
      .enum(["include", "exclude"])
      .default("include")
      .describe(
        "Whether target tokens without a teacher loss are always trained on (include) or never (exclude). " +
          "Default include.",
      ),
    scope: z
      .enum(["batch", "sequence"])
      .default("batch")
      .describe(
        "Where excess losses are ranked: across the whole global batch (batch) or within each sequence " +
          "(sequence). Default batch.",
      ),
    accumulation: z
      .enum(["recompute", "retain"])
      .default("recompute")
      .describe(
        "How batch scope ranks across several accumulation micro-batches: recompute first runs every " +
          "micro-batch forward without gradient (about a third more compute per step); retain keeps every " +
          "micro-batch's autograd graph until the threshold is known (activation memory times the micro-batch " +
          "count). Default recompute.",
      ),
  })
  .describe("The teacher guided loss; the baseline variant ignores it.");

const trainingSchema = z
  .strictObject({
    maxSteps: z
      .int()
      .min(1)
      .max(100_000_000)
      .default(1000)
      .describe("Optimizer steps of the whole run. Default 1000 steps."),
    sequenceLength: z
      .int()
      .min(8)
      .max(1_048_576)
      .default(2048)
      .describe("Student tokens per packed training sequence. Default 2048 tokens."),
    microBatchSize: z
      .int()
      .min(1)
      .max(4096)
      .default(8)
      .describe("Sequences per forward pass on one GPU. Default 8 sequences."),
    gradientAccumulationSteps: z
      .int()
      .min(1)
      .max(4096)
      .default(1)
      .describe("Micro-batches per optimizer step on each GPU. Default 1."),
    learningRate: z
      .number()
      .gt(0)
      .max(1)
      .default(8e-5)
      .describe("Peak learning rate after warmup. Default 8e-5."),
    minLearningRateRatio: z
      .number()
      .min(0)
      .max(1)
      .default(0.1)
      .describe("Final learning rate of the cosine decay as a share of the peak; in [0, 1]. Default 0.1."),
    warmupSteps: z
      .int()
      .min(0)
      .max(100_000_000)
      .default(100)
      .describe("Optimizer steps of linear warmup; at most maxSteps. Default 100 steps."),
    weightDecay: z.number().min(0).max(10).default(0.1).describe("AdamW weight decay. Default 0.1."),
    adamBeta1: z.number().min(0).lt(1).default(0.9).describe("AdamW beta1; in [0, 1). Default 0.9."),
    adamBeta2: z.number().min(0).lt(1).default(0.95).describe("AdamW beta2; in [0, 1). Default 0.95."),
    adamEpsilon: z.number().gt(0).max(1e-2).default(1e-8).describe("AdamW epsilon. Default 1e-8."),
    gradClipNorm: z
      .number()
      .min(0)
      .max(1e6)
      .default(1)
      .describe("Maximum global gradient L2 norm; 0 disables clipping. Default 1.0."),
    precision: z
      .enum(["auto", "bf16", "fp32"])
      .default("auto")
      .describe("Compute precision: auto is bf16 autocast on CUDA and fp32 on CPU. Default auto."),
    compile: z.boolean().default(false).describe("Wrap the student in torch.compile. Default false."),
    parallelism: z
      .enum(["ddp", "fsdp"])
      .default("ddp")
      .describe("Data-parallel wrapper when the job has more than one GPU. Default ddp."),
    shuffleItems: z
      .boolean()
      .default(true)
      .describe("Shuffle the order of training items every epoch (seeded, so reproducible). Default true."),
    seed: z
      .int()
      .min(0)
      .max(2 ** 31 - 1)
      .default(1234)
      .describe("Seed of every random number generator. Default 1234."),
    evalIntervalSteps: z
      .int()
      .min(0)
      .max(100_000_000)
      .default(500)
      .describe(
        "Optimizer steps between held-out evaluations; 0 evaluates only at the end. Default 500 steps.",
      ),
    evalMaxSequences: z
      .int()
      .min(1)
      .nullable()
      .default(null)
      .describe("Packed held-out sequences per evaluation. Default null: the whole held-out split."),
    checkpointIntervalSteps: z
      .int()
      .min(0)
      .max(100_000_000)
      .default(500)
      .describe(
        "Optimizer steps between checkpoints; 0 saves only when the job is stopped and at the end. " +
          "Default 500 steps.",
      ),
    checkpointsToKeep: z
      .int()
      .min(0)
      .max(1_000_000)
      .default(2)
      .describe(
        "Newest checkpoints kept after each save; older ones are deleted, and 0 keeps all. Default 2.",
      ),
    logIntervalSteps: z
      .int()
      .min(1)
      .max(100_000_000)
      .default(10)
      .describe("Optimizer steps between lines of metrics.jsonl. Default 10 steps."),
  })
  .describe("Student training; field names mirror the trainer's configuration in camelCase.");

const evaluationSchema = z
  .strictObject({
    heldOutShare: z
      .number()
      .gt(0)
      .lt(1)
      .optional()
      .describe(
        "Share of work items held out for evaluation, rounded up to whole items; in (0, 1). " +
          "Default 0.01 when heldOutItems is not set. Set at most one of heldOutShare and heldOutItems.",
      ),
    heldOutItems: z
      .int()
      .min(1)
      .optional()
      .describe(
        "Number of work items held out for evaluation. Default: not set (heldOutShare applies). " +
          "Set at most one of heldOutShare and heldOutItems.",
      ),
  })
  .describe(
    "Held-out evaluation. At least one work item is held out; held-out items are spread evenly over the corpus.",
  );

const computeSchema = z
  .strictObject({
    teacherInstanceType: z
      .string()
      .min(1)
      .default("g5.xlarge")
      .describe(
        "EC2 instance type of the teacher scoring jobs; the stack's compute environments must include it " +
          "(checked when the run is planned). Default g5.xlarge (one A10G GPU).",
      ),
    trainingInstanceType: z
      .string()
      .min(1)
      .default("g5.2xlarge")
      .describe(
        "EC2 instance type of the training job; the stack's compute environments must include it " +
          "(checked when the run is planned). Default g5.2xlarge (one A10G GPU).",
      ),
    gpusPerNode: z
      .int()
      .min(1)
      .max(64)
      .default(1)
      .describe(
        "GPUs the trainer uses on each training node, at most those of trainingInstanceType; applied to " +
          "each single-node training job, checked against a multi-node stack. Default 1.",
      ),
    nodes: z
      .int()
      .min(1)
      .max(1024)
      .default(1)
      .describe(
        "Training nodes (multi-node when above 1); must equal the stack's vocagno:trainNodes " +
          "(checked when the run is planned). Default 1.",
      ),
    spot: z
      .boolean()
      .default(true)
      .describe(
        "Run GPU jobs on Spot capacity first; jobs resume from checkpoints when interrupted. Must equal the " +
          "stack's vocagno:spot (checked when the run is planned). Default true.",
      ),
    teacherArraySize: z
      .int()
      .min(1)
      .max(10_000)
      .optional()
      .describe(
        "Parallel teacher scoring jobs (AWS Batch array size), applied to each run. Default: the number of " +
          "work items, capped at 100.",
      ),
  })
  .describe("Compute of the GPU steps.");

/** Schema of the experiment file, with every default; parse with `parseExperiment` for readable errors. */
export const experimentSchema = z
  .strictObject({
    $schema: z
      .string()
      .optional()
      .describe("Optional JSON Schema reference for editors; ignored by vocagno."),
    name: z
      .string()
      .min(1)
      .max(64)
      .regex(EXPERIMENT_NAME_PATTERN)
      .describe(
        "Experiment name: 1-64 characters, letters, digits, `.`, `_` and `-`, starting with a letter or " +
          "digit. Required.",
      ),
    corpus: corpusSchema,
    student: studentSchema,
    teacher: teacherSchema,
    loss: lossSchema.prefault({}),
    variants: z
      .array(z.enum(VARIANTS))
      .min(1)
      .max(VARIANTS.length)
      .default(["guided", "baseline"])
      .describe(
        "Students to train: guided (teacher guided loss) and baseline (plain cross-entropy). " +
          "Default both, [`guided`, `baseline`].",
      ),
    training: trainingSchema.prefault({}),
    evaluation: evaluationSchema.prefault({}),
    compute: computeSchema.prefault({}),
  })
  .describe("A vocagno experiment: one training run of a student guided by a teacher.");

/** An experiment as written in a file (defaults may be missing). */
export type ExperimentInput = z.input<typeof experimentSchema>;
/** An experiment after parsing, with every default filled in. */
export type ParsedExperiment = z.output<typeof experimentSchema>;
