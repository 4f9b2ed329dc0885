import { execFileSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { substituteParameters } from "../core/local-runner/batch-job.ts";
import { trainCommand } from "../infra/worker-commands.ts";
import { pythonExecutable } from "./support/python.ts";

const REPOSITORY_ROOT = path.resolve(import.meta.dirname, "..");

describe("single-node training command", () => {
  it("runs one trainer without GPUs", () => {
    const python = pythonExecutable();
    // --help stops the trainer after parsing, so this checks the shell script and the argument hand-over.
    const [program, ...args] = substituteParameters(trainCommand(1, 1), {
      run: "file:///nowhere",
      variant: "guided",
      config: "{}",
    });
    const output = execFileSync(program, [...args, "--help"], {
      cwd: REPOSITORY_ROOT,
      env: {
        ...process.env,
        PATH: `${path.dirname(python)}${path.delimiter}${process.env.PATH}`,
        PYTHONPATH: path.join(REPOSITORY_ROOT, "batch-image"),
        CUDA_VISIBLE_DEVICES: "",
      },
      encoding: "utf8",
    });
    // torchrun would print its own usage; the trainer's starts with its program name.
    expect(output).toContain("usage: python -m vocagno_trainer");
    expect(output).toContain("--run-uri");
  });
});
