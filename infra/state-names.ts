/**
 * Names of the pipeline's states. The local runner attaches its handlers by
 * these names, so a rename here renames it there too.
 */
export const STATE = {
  plan: "Plan",
  prepareShards: "PrepareShards",
  prepareItem: "PrepareItem",
  chooseTeacherJob: "ChooseTeacherJob",
  scoreTeacherArray: "ScoreTeacherArray",
  scoreTeacherSingle: "ScoreTeacherSingle",
  trainVariants: "TrainVariants",
  trainVariant: "TrainVariant",
  evaluate: "Evaluate",
  report: "Report",
  succeeded: "Succeeded",
  chooseFailureReport: "ChooseFailureReport",
  reportFailure: "ReportFailure",
  reportPlanFailure: "ReportPlanFailure",
  notifyPlanFailure: "NotifyPlanFailure",
  failed: "Failed",
} as const;

/**
 * Fields of the plan Lambda's result that the state machine keeps under
 * `$.plan`, with their JSONPath in that result. The rest of the plan (the
 * manifest, the frozen experiment) stays in storage.
 */
export const PLAN_FIELDS = {
  runId: "$.Payload.runId",
  runUri: "$.Payload.runUri",
  manifestUri: "$.Payload.manifestUri",
  itemsUri: "$.Payload.itemsUri",
  trainerConfigUri: "$.Payload.trainerConfigUri",
  itemCount: "$.Payload.itemCount",
  teacherArraySize: "$.Payload.teacherArraySize",
  variants: "$.Payload.variants",
  teacherBundleUri: "$.Payload.teacher.bundle",
  aggregation: "$.Payload.teacher.aggregation",
  gpusPerNode: "$.Payload.compute.gpusPerNode",
} as const;
