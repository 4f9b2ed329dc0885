export { LocalBatchJobError, localCommand, runLocalBatchJob, substituteParameters } from "./batch-job.ts";
export { LOCAL_BUCKET, resolveTemplateString } from "./cloudformation-tokens.ts";
export { localizeDistributedMaps } from "./distributed-map.ts";
export { LambdaFunctionError, lambdaInvokeTask } from "./lambda-task.ts";
export { readPipelineTemplate, synthesizeTemplate } from "./pipeline-template.ts";
export {
  type CliProgress,
  LineProgress,
  progressForCli,
  silentProgress,
  TerminalProgress,
} from "./progress.ts";
export {
  defaultPython,
  LOCAL_STATUS_FILE,
  type LocalRunOptions,
  type LocalRunResult,
  runLocal,
} from "./run-local.ts";
