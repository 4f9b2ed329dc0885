import type { Experiment } from "./validate.ts";

/**
 * The trainer's configuration in its own snake_case field names
 * (`python -m vocagno_trainer --config FILE`). Both variants share it; the
 * trainer's `--variant` flag picks the loss.
 */
export interface TrainerConfig {
  readonly student_model: string;
  readonly loss: {
    readonly keep_ratio: number;
    readonly unmapped: "include" | "exclude";
    readonly scope: "batch" | "sequence";
    readonly accumulation: "recompute" | "retain";
  };
  readonly sequence_length: number;
  readonly micro_batch_size: number;
  readonly gradient_accumulation_steps: number;
  readonly max_steps: number;
  readonly learning_rate: number;
  readonly min_learning_rate_ratio: number;
  readonly warmup_steps: number;
  readonly weight_decay: number;
  readonly adam_beta1: number;
  readonly adam_beta2: number;
  readonly adam_epsilon: number;
  readonly grad_clip_norm: number;
  readonly precision: "auto" | "bf16" | "fp32";
  readonly compile: boolean;
  readonly parallelism: "ddp" | "fsdp";
  readonly shuffle_items: boolean;
  readonly seed: number;
  readonly eval_interval_steps: number;
  readonly eval_max_sequences: number | null;
  readonly checkpoint_interval_steps: number;
  readonly checkpoints_to_keep: number;
  readonly log_interval_steps: number;
}

/**
 * Translates an experiment into the trainer's configuration, field by field.
 *
 * @example
 * await writeUri(joinUri(runUri, "trainer-config.json"), JSON.stringify(toTrainerConfig(experiment)));
 */
export function toTrainerConfig(experiment: Experiment): TrainerConfig {
  const { training, loss } = experiment;
  return {
    student_model: experiment.student.model,
    loss: {
      keep_ratio: loss.keepRatio,
      unmapped: loss.unmapped,
      scope: loss.scope,
      accumulation: loss.accumulation,
    },
    sequence_length: training.sequenceLength,
    micro_batch_size: training.microBatchSize,
    gradient_accumulation_steps: training.gradientAccumulationSteps,
    max_steps: training.maxSteps,
    learning_rate: training.learningRate,
    min_learning_rate_ratio: training.minLearningRateRatio,
    warmup_steps: training.warmupSteps,
    weight_decay: training.weightDecay,
    adam_beta1: training.adamBeta1,
    adam_beta2: training.adamBeta2,
    adam_epsilon: training.adamEpsilon,
    grad_clip_norm: training.gradClipNorm,
    precision: training.precision,
    compile: training.compile,
    parallelism: training.parallelism,
    shuffle_items: training.shuffleItems,
    seed: training.seed,
    eval_interval_steps: training.evalIntervalSteps,
    eval_max_sequences: training.evalMaxSequences,
    checkpoint_interval_steps: training.checkpointIntervalSteps,
    checkpoints_to_keep: training.checkpointsToKeep,
    log_interval_steps: training.logIntervalSteps,
  };
}
