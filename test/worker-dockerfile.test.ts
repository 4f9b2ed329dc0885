import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { REPOSITORY_ROOT } from "../infra/pipeline-function.ts";
import { TEACHER_SCORE_COMMAND, TRAIN_COMMAND, WORKER_ENVIRONMENT } from "../infra/worker-commands.ts";
import { IMAGE_WORKDIR, readWorkerImageIgnorePatterns, WORKER_DOCKERFILE } from "../infra/worker-image.ts";

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

/** Parses a Dockerfile into instructions, joining continuation lines and dropping comments. */
function parseDockerfile(text: string): Instruction[] {
  const logical = text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.length > 0 && !line.startsWith("#"));
  return logical.map((line) => {
    const [keyword, ...rest] = line.split(/\s+/);
    return { keyword: keyword.toUpperCase(), args: rest.join(" ") };
  });
}

const instructions = parseDockerfile(readFileSync(path.join(REPOSITORY_ROOT, WORKER_DOCKERFILE), "utf8"));
const final = instructions.slice(instructions.findLastIndex((instruction) => instruction.keyword === "FROM"));
const runs = final
  .filter((instruction) => instruction.keyword === "RUN")
  .map((instruction) => instruction.args);

describe("batch-image/Dockerfile", () => {
  it("builds on a CUDA image with cuDNN", () => {
    const base = final[0].args;
    expect(base).toMatch(/^nvidia\/cuda:12\.\d+\.\d+-cudnn-runtime-/);
  });

  it("installs onnxruntime-node with the CUDA 12 binaries", () => {
    const install = runs.find((run) => run.includes("npm ci"));
    expect(install).toContain("ONNXRUNTIME_NODE_INSTALL=cuda12");
  });

  it("installs Node.js of the project's major version", () => {
    const engines = JSON.parse(readFileSync(path.join(REPOSITORY_ROOT, "package.json"), "utf8")).engines
      .node as string;
    const nodeStage = instructions.find(
      (instruction) => instruction.keyword === "FROM" && instruction.args.startsWith("node:"),
    );
    const imageMajor = nodeStage?.args.match(/^node:(\d+)/)?.[1];
    expect(imageMajor).toBe(engines.match(/(\d+)/)?.[1]);
  });

  it("installs the Python requirements file", () => {
    expect(runs.some((run) => /pip install -r batch-image\/requirements\.txt/.test(run))).toBe(true);
    expect(existsSync(path.join(REPOSITORY_ROOT, "batch-image/requirements.txt"))).toBe(true);
  });

  it("copies only paths that exist and the context sends", () => {
    const ignored = readWorkerImageIgnorePatterns();
    const copies = final.filter(
      (instruction) => instruction.keyword === "COPY" && !instruction.args.startsWith("--from"),
    );
    expect(copies.length).toBeGreaterThan(0);
    for (const copy of copies) {
      const sources = copy.args.split(/\s+/).slice(0, -1);
      for (const source of sources) {
        expect(existsSync(path.join(REPOSITORY_ROOT, source)), source).toBe(true);
        // The ignore file starts by excluding everything, so each top-level source needs its own `!` line.
        expect(ignored, source).toContain(`!${source.split("/")[0]}`);
      }
    }
  });

  it("works in the directory that job commands use", () => {
    const workdir = final.filter((instruction) => instruction.keyword === "WORKDIR").at(-1)?.args;
    expect(workdir).toBe(IMAGE_WORKDIR);
  });

  it("puts the trainer on PYTHONPATH as the job definitions do", () => {
    const env = final
      .filter((instruction) => instruction.keyword === "ENV")
      .map((instruction) => instruction.args);
    expect(env.some((line) => line.includes(`PYTHONPATH=${WORKER_ENVIRONMENT.PYTHONPATH}`))).toBe(true);
  });
});

describe("worker commands", () => {
  it("start entry points that exist in the repository", () => {
    // node --import tsx <script> and python -m <package>
    const teacherScript = TEACHER_SCORE_COMMAND[3];
    expect(existsSync(path.join(REPOSITORY_ROOT, teacherScript)), teacherScript).toBe(true);
    const trainerModule = TRAIN_COMMAND[2];
    expect(
      existsSync(path.join(REPOSITORY_ROOT, "batch-image", trainerModule, "__main__.py")),
      trainerModule,
    ).toBe(true);
  });

  it("use tsx from the runtime dependencies", () => {
    const manifest = JSON.parse(readFileSync(path.join(REPOSITORY_ROOT, "package.json"), "utf8"));
    // The image installs with --omit=dev, so the loader must be a runtime dependency.
    expect(manifest.dependencies).toHaveProperty("tsx");
    expect(manifest.dependencies).toHaveProperty("onnxruntime-node");
  });
});
