import { mkdirSync } from "node:fs";
import path from "node:path";
import pino from "pino";

/** The stream that receives log lines: stderr until `sendLogsToFile` points it at a file. */
let destination: pino.DestinationStream = pino.destination(2);

/**
 * The process-wide structured logger. Lines are JSON on stderr, or in the
 * file that `sendLogsToFile` names, so that command output on stdout stays
 * machine-readable. `VOCAGNO_LOG_LEVEL` sets the level (default `info`).
 *
 * @example
 * logger.info({ runId, shard }, "shard written");
 */
export const logger = pino(
  { name: "vocagno", level: process.env.VOCAGNO_LOG_LEVEL ?? "info" },
  { write: (line: string) => destination.write(line) },
);

/**
 * Appends this process's log lines to `file` instead of stderr, so that
 * progress bars on a terminal stay readable. Writes are synchronous, so no
 * line is lost when the process exits.
 *
 * @example
 * sendLogsToFile("vocagno-runs/logs/vocagno.log");
 */
export function sendLogsToFile(file: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  destination = pino.destination({ dest: file, append: true, sync: true });
}
