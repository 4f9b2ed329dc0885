import pino from "pino";

/**
 * The process-wide structured logger. Lines are JSON on stderr so that
 * command output on stdout stays machine-readable; `VOCAGNO_LOG_LEVEL`
 * sets the level (default `info`).
 *
 * @example
 * logger.info({ runId, shard }, "shard written");
 */
export const logger = pino(
  { name: "vocagno", level: process.env.VOCAGNO_LOG_LEVEL ?? "info" },
  pino.destination(2),
);
