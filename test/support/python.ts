import { execFileSync } from "node:child_process";
import path from "node:path";

let cached: string | undefined;

/**
 * Returns the Python interpreter of the project's environment: `VOCAGNO_PYTHON`
 * when set (scripts/test.sh sets it), else `bin/python` of the environment that
 * `scripts/python-env.sh --print` names.
 *
 * @example
 * execFileSync(pythonExecutable(), ["-c", "import pyarrow"]);
 */
export function pythonExecutable(): string {
  if (process.env.VOCAGNO_PYTHON) return process.env.VOCAGNO_PYTHON;
  if (cached === undefined) {
    const script = path.resolve(import.meta.dirname, "../../scripts/python-env.sh");
    const environment = execFileSync("bash", [script, "--print"], { encoding: "utf8" }).trim();
    cached = path.join(environment, "bin", "python");
  }
  return cached;
}
