/**
 * Teacher-scoring worker: an AWS Batch array child (or a local process) that
 * writes `runs/<runId>/teacher/<item>.arrow` for its slice of the run's items.
 *
 *   node --import tsx batch-image/teacher-score/main.ts --run s3://bucket/runs/r1 \
 *     --teacher s3://bucket/teachers/qwen2 --provider cuda --array-size 8
 *
 * Every flag can also come from an environment variable (shown in --help).
 */
import { Command, InvalidArgumentError, Option } from "commander";
import { logger } from "../../core/log.ts";
import { AGGREGATIONS } from "../../core/shards/index.ts";
import { runTeacherScoring } from "./worker.ts";

function positiveInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1)
    throw new InvalidArgumentError(`${value} is not a positive integer`);
  return parsed;
}

function nonNegativeInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0)
    throw new InvalidArgumentError(`${value} is not an integer >= 0`);
  return parsed;
}

const program = new Command()
  .name("teacher-score")
  .description(
    "Score the shards of a run with a teacher bundle (per-token losses, aggregated to student tokens).",
  )
  .addOption(
    new Option("--run <uri>", "run directory, .../runs/<runId>").env("VOCAGNO_RUN_URI").makeOptionMandatory(),
  )
  .addOption(
    new Option("--teacher <uri>", "teacher bundle directory or S3 prefix")
      .env("VOCAGNO_TEACHER_URI")
      .makeOptionMandatory(),
  )
  .addOption(
    new Option(
      "--aggregation <name>",
      "aggregation of teacher losses per student token (default: the run's experiment.json, else max)",
    )
      .choices(AGGREGATIONS)
      .env("VOCAGNO_AGGREGATION"),
  )
  .addOption(
    new Option(
      "--context-tokens <n>",
      "max tokens per window, BOS included (default: the run's experiment.json, else the teacher's max context)",
    )
      .argParser(positiveInteger)
      .env("VOCAGNO_CONTEXT_TOKENS"),
  )
  .addOption(
    new Option(
      "--min-context-tokens <n>",
      "min preceding tokens of every token scored in a later window (default: experiment.json, else context / 4)",
    )
      .argParser(nonNegativeInteger)
      .env("VOCAGNO_MIN_CONTEXT_TOKENS"),
  )
  .addOption(
    new Option(
      "--batch-tokens <n>",
      "max padded tokens per batch (default: experiment.json, else 2048 on cpu, 16384 on cuda)",
    )
      .argParser(positiveInteger)
      .env("VOCAGNO_BATCH_TOKENS"),
  )
  .addOption(
    new Option("--provider <name>", "ONNX Runtime execution provider")
      .choices(["cpu", "cuda"])
      .default("cpu")
      .env("VOCAGNO_PROVIDER"),
  )
  .addOption(
    new Option("--threads <n>", "CPU intra-op threads (default: ONNX Runtime's choice)")
      .argParser(positiveInteger)
      .env("VOCAGNO_THREADS"),
  )
  .addOption(
    new Option("--items <ids>", "comma-separated item ids (default: all manifest items)").env(
      "VOCAGNO_ITEMS",
    ),
  )
  .addOption(
    new Option("--array-index <n>", "this worker's index in the array job")
      .argParser(nonNegativeInteger)
      .env("AWS_BATCH_JOB_ARRAY_INDEX"),
  )
  .addOption(
    // AWS Batch sets only the index; names starting with AWS_BATCH are reserved, so the state machine
    // passes the size as VOCAGNO_ARRAY_SIZE in the container overrides.
    new Option("--array-size <n>", "number of workers in the array job")
      .argParser(positiveInteger)
      .env("VOCAGNO_ARRAY_SIZE"),
  );

program.parse();
const flags = program.opts();
if (flags.arrayIndex !== undefined && flags.arraySize === undefined) {
  program.error(
    `array index ${flags.arrayIndex} is set but the array size is not: pass --array-size or set VOCAGNO_ARRAY_SIZE`,
  );
}

try {
  const summary = await runTeacherScoring({
    runUri: flags.run,
    teacherUri: flags.teacher,
    aggregation: flags.aggregation,
    contextTokens: flags.contextTokens,
    minContextTokens: flags.minContextTokens,
    batchTokens: flags.batchTokens,
    provider: flags.provider,
    threads: flags.threads,
    items: flags.items?.split(",").filter((item: string) => item.length > 0),
    arrayIndex: flags.arrayIndex,
    arraySize: flags.arraySize,
  });
  process.stdout.write(`${JSON.stringify(summary)}\n`);
} catch (error) {
  logger.error({ err: error }, "teacher scoring failed");
  process.exitCode = 1;
}
