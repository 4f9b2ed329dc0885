import * as ort from "onnxruntime-node";
import { logger } from "../../core/log.ts";
import { planBatches } from "./batching.ts";

/** Graph names that the exporter writes and teacher.json lists. */
export const GRAPH_INPUTS = ["input_ids", "attention_mask"] as const;
export const GRAPH_OUTPUT = "token_loss";

export type ExecutionProvider = "cpu" | "cuda";

/** Settings of the ONNX Runtime session of one teacher graph. */
export interface TeacherEngineOptions {
  /** Local path of model.onnx; external data must lie beside it. */
  readonly modelPath: string;
  readonly provider: ExecutionProvider;
  /** Intra-op threads of the CPU provider; 0 (default) lets ONNX Runtime pick. */
  readonly threads?: number;
}

/** A teacher that cannot be used: wrong graph, unavailable provider, bad settings. */
export class TeacherEngineError extends Error {
  readonly code: "provider_unavailable" | "invalid_graph";

  constructor(code: TeacherEngineError["code"], message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TeacherEngineError";
    this.code = code;
  }
}

/** Statistics of one `scoreSequences` call. */
export interface ScoringStats {
  readonly sequences: number;
  readonly batches: number;
  /** Real tokens fed to the graph. */
  readonly tokens: number;
  /** Token slots including padding. */
  readonly paddedTokens: number;
  /** Largest input plus output tensor bytes of one batch (the graph's logits come on top). */
  readonly maxBatchTensorBytes: number;
  readonly seconds: number;
}

/**
 * An ONNX Runtime session of a teacher graph that returns per-token losses.
 *
 * @example
 * const engine = await TeacherEngine.create({ modelPath: "/teacher/model.onnx", provider: "cpu" });
 * const { losses } = await engine.scoreSequences([Int32Array.of(1, 415, 2936)], 4096);
 */
export class TeacherEngine {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly provider: ExecutionProvider,
  ) {}

  static async create(options: TeacherEngineOptions): Promise<TeacherEngine> {
    if (options.provider === "cuda") assertCudaBackend();
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      executionProviders: [options.provider],
      graphOptimizationLevel: "all",
      ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
    };
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(options.modelPath, sessionOptions);
    } catch (error) {
      if (options.provider === "cuda") {
        throw new TeacherEngineError(
          "provider_unavailable",
          `the CUDA execution provider failed to start for ${options.modelPath}: ${(error as Error).message}. ` +
            "Install onnxruntime-node with ONNXRUNTIME_NODE_INSTALL=cuda12 on a machine with CUDA 12 and cuDNN 9, or pass --provider cpu",
          { cause: error },
        );
      }
      throw error;
    }
    checkGraph(session, options.modelPath);
    logger.info({ modelPath: options.modelPath, provider: options.provider }, "teacher session created");
    return new TeacherEngine(session, options.provider);
  }

  /**
   * Runs the sequences in right-padded batches of at most `batchTokens` padded
   * tokens and returns each sequence's losses (position 0 is NaN).
   */
  async scoreSequences(
    sequences: readonly Int32Array[],
    batchTokens: number,
  ): Promise<{ losses: Float32Array[]; stats: ScoringStats }> {
    const started = performance.now();
    const lengths = sequences.map((sequence) => sequence.length);
    const batches = planBatches(lengths, batchTokens);
    const losses: Float32Array[] = sequences.map((sequence) =>
      new Float32Array(sequence.length).fill(Number.NaN),
    );
    let tokens = 0;
    let paddedTokens = 0;
    let maxBatchTensorBytes = 0;
    for (const batch of batches) {
      const rows = batch.indexes.length;
      const width = batch.paddedLength;
      const inputIds = new BigInt64Array(rows * width);
      const attentionMask = new BigInt64Array(rows * width);
      batch.indexes.forEach((index, row) => {
        const sequence = sequences[index];
        for (let p = 0; p < sequence.length; p++) {
          inputIds[row * width + p] = BigInt(sequence[p]);
          attentionMask[row * width + p] = 1n;
        }
        tokens += sequence.length;
      });
      paddedTokens += rows * width;
      // int64 ids and mask in, float32 losses out.
      maxBatchTensorBytes = Math.max(maxBatchTensorBytes, rows * width * (8 + 8 + 4));
      const output = await this.session.run({
        input_ids: new ort.Tensor("int64", inputIds, [rows, width]),
        attention_mask: new ort.Tensor("int64", attentionMask, [rows, width]),
      });
      const tokenLoss = output[GRAPH_OUTPUT].data as Float32Array;
      batch.indexes.forEach((index, row) => {
        losses[index].set(tokenLoss.subarray(row * width, row * width + sequences[index].length));
      });
      output[GRAPH_OUTPUT].dispose();
    }
    const seconds = (performance.now() - started) / 1000;
    return {
      losses,
      stats: {
        sequences: sequences.length,
        batches: batches.length,
        tokens,
        paddedTokens,
        maxBatchTensorBytes,
        seconds,
      },
    };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

function assertCudaBackend(): void {
  const cuda = ort.listSupportedBackends().find((backend) => backend.name === "cuda");
  if (cuda === undefined) {
    throw new TeacherEngineError(
      "provider_unavailable",
      "this onnxruntime-node build has no CUDA execution provider; install it with ONNXRUNTIME_NODE_INSTALL=cuda12, or pass --provider cpu",
    );
  }
}

function checkGraph(session: ort.InferenceSession, modelPath: string): void {
  const problems: string[] = [];
  const inputs = [...session.inputNames].sort();
  if (inputs.join(",") !== [...GRAPH_INPUTS].sort().join(",")) {
    problems.push(`inputs are [${session.inputNames.join(", ")}], expected [${GRAPH_INPUTS.join(", ")}]`);
  }
  if (session.outputNames.length !== 1 || session.outputNames[0] !== GRAPH_OUTPUT) {
    problems.push(`outputs are [${session.outputNames.join(", ")}], expected [${GRAPH_OUTPUT}]`);
  }
  for (const metadata of [...session.inputMetadata, ...session.outputMetadata]) {
    const expected = metadata.name === GRAPH_OUTPUT ? "float32" : "int64";
    if (metadata.isTensor && metadata.type !== expected) {
      problems.push(`${metadata.name} has type ${metadata.type}, expected ${expected}`);
    }
  }
  if (problems.length > 0) {
    throw new TeacherEngineError(
      "invalid_graph",
      `${modelPath} is not a vocagno teacher graph: ${problems.join("; ")}. Export the teacher with python -m vocagno_export`,
    );
  }
}
