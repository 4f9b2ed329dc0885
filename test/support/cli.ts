import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The `vocagno` entry point, as `npx vocagno` runs it. */
export const CLI = fileURLToPath(new URL("../../bin/vocagno.js", import.meta.url));

/** Exit code and output of one CLI process. */
export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the CLI in a child process, with info logs off so that stderr contains
 * what a person would read, and resolves whatever the exit code.
 *
 * @example
 * const result = await runCli(["validate", "examples/experiment.json"]);
 * expect(result.code).toBe(0);
 */
export function runCli(args: readonly string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { maxBuffer: 64 * 1024 * 1024, env: { ...process.env, VOCAGNO_LOG_LEVEL: "warn" } },
      (error, stdout, stderr) => {
        let code = 0;
        if (error !== null) {
          code = typeof error.code === "number" ? error.code : 1;
        }
        resolve({ code, stdout, stderr });
      },
    );
  });
}
