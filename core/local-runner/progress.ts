import path from "node:path";
import cliProgress from "cli-progress";
import { sendLogsToFile } from "../log.ts";

/** Receives the progress of a local run, stage by stage. */
export interface ProgressReporter {
  stageStarted(stage: string): void;
  /** Work units of a stage done so far (items, array indexes, variants). */
  stageProgress(stage: string, done: number, total: number): void;
  stageEnded(stage: string, status: "succeeded" | "failed", durationMs: number): void;
  stop(): void;
}

/** A reporter that shows nothing (tests, library use). */
export const silentProgress: ProgressReporter = {
  stageStarted() {},
  stageProgress() {},
  stageEnded() {},
  stop() {},
};

/** One bar per stage on a terminal. */
export class TerminalProgress implements ProgressReporter {
  private readonly bars = new cliProgress.MultiBar(
    {
      format: " {stage} [{bar}] {value}/{total} {status}",
      hideCursor: true,
      barsize: 30,
      clearOnComplete: false,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  private readonly stages = new Map<string, cliProgress.SingleBar>();

  stageStarted(stage: string): void {
    if (!this.stages.has(stage)) {
      this.stages.set(stage, this.bars.create(1, 0, { stage: stage.padEnd(20), status: "running" }));
    }
  }

  stageProgress(stage: string, done: number, total: number): void {
    this.stageStarted(stage);
    const bar = this.stages.get(stage)!;
    bar.setTotal(total);
    // Job bars never get stageEnded, so their last index marks them done.
    bar.update(done, done >= total ? { status: "done" } : {});
  }

  stageEnded(stage: string, status: "succeeded" | "failed", durationMs: number): void {
    this.stageStarted(stage);
    const bar = this.stages.get(stage)!;
    bar.update(status === "succeeded" ? bar.getTotal() : bar.getProgress() * bar.getTotal(), {
      status: `${status} in ${(durationMs / 1000).toFixed(1)} s`,
    });
  }

  stop(): void {
    this.bars.stop();
  }
}

/** Plain lines for logs and pipes: stage starts and ends, and progress at most every `intervalMs`. */
export class LineProgress implements ProgressReporter {
  private readonly lastLine = new Map<string, number>();

  constructor(
    private readonly write: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
    private readonly intervalMs = 10_000,
  ) {}

  stageStarted(stage: string): void {
    this.write(`${stage}: started`);
    this.lastLine.set(stage, Date.now());
  }

  stageProgress(stage: string, done: number, total: number): void {
    const now = Date.now();
    if (done < total && now - (this.lastLine.get(stage) ?? 0) < this.intervalMs) return;
    this.lastLine.set(stage, now);
    this.write(`${stage}: ${done}/${total}`);
  }

  stageEnded(stage: string, status: "succeeded" | "failed", durationMs: number): void {
    this.write(`${stage}: ${status} in ${(durationMs / 1000).toFixed(1)} s`);
  }

  stop(): void {}
}

/** Progress of a local run on the CLI, and where its log lines go. */
export interface CliProgress {
  readonly progress: ProgressReporter;
  /** The file that receives the log lines, or undefined when they stay on stderr. */
  readonly logFile: string | undefined;
}

/**
 * Picks the progress display for a local run under `root`. On a terminal the
 * bars own stderr, so log lines go to `<root>/logs/vocagno.log`; in a pipe
 * both stay on stderr, as plain lines and JSON.
 */
export function progressForCli(root: string, stream: NodeJS.WriteStream = process.stderr): CliProgress {
  if (!stream.isTTY) return { progress: new LineProgress(), logFile: undefined };
  const logFile = path.join(path.resolve(root), "logs", "vocagno.log");
  sendLogsToFile(logFile);
  stream.write(`Logs: ${logFile}\n`);
  noteNodeSupport(stream);
  return { progress: new TerminalProgress(), logFile };
}

/** The Node.js major version from which the AWS SDK stops warning. */
const SDK_SUPPORTED_NODE_MAJOR = 22;

/**
 * Prints the AWS SDK's Node.js support notice as one line before the bars
 * start, and turns off the SDK's own warning, which would print its eight
 * lines between the bars in the middle of a run.
 */
function noteNodeSupport(stream: NodeJS.WriteStream): void {
  const major = Number(process.versions.node.split(".")[0]);
  if (major >= SDK_SUPPORTED_NODE_MAJOR) return;
  if (process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED === "true") return;
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
  stream.write(
    `Note: Node.js ${process.versions.node} runs vocagno, but AWS SDK releases after the first week of ` +
      `January 2027 require Node.js ${SDK_SUPPORTED_NODE_MAJOR} or later. Upgrade Node.js to keep receiving them.\n`,
  );
}
