export { inferCorpusFormat, isCorpusFormat } from "./corpus-format.ts";
export { closestMatch, describeValue, type ExperimentProblem, formatJsonPath } from "./problems.ts";
export {
  AGGREGATIONS,
  type Aggregation,
  CORPUS_FORMATS,
  type CorpusFormat,
  type ExperimentInput,
  experimentSchema,
  VARIANTS,
  type Variant,
} from "./schema.ts";
export { type TrainerConfig, toTrainerConfig } from "./trainer-config.ts";
export {
  checkExperiment,
  DEFAULT_HELD_OUT_SHARE,
  type Experiment,
  type ExperimentCheck,
  ExperimentError,
  formatProblems,
  parseExperiment,
  parseExperimentText,
} from "./validate.ts";
