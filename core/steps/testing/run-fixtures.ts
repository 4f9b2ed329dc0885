import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { joinUri, writeUri } from "../../storage/index.ts";
import type { StackCompute } from "../stack-compute.ts";

/** A temporary local storage root as a `file://` URI, with a cleanup function. */
export async function temporaryRoot(): Promise<{
  root: string;
  directory: string;
  remove: () => Promise<void>;
}> {
  const directory = await fs.mkdtemp(path.join(os.tmpdir(), "vocagno-steps-"));
  return {
    root: pathToFileURL(directory).href,
    directory,
    remove: () => fs.rm(directory, { recursive: true, force: true }),
  };
}

/** Writes JSONL files under `<root>/corpora/<name>/`, one entry per file name, each line a record or raw text. */
export async function writeCorpus(
  root: string,
  name: string,
  files: Record<string, ReadonlyArray<unknown>>,
): Promise<string> {
  const corpusUri = joinUri(root, "corpora", name);
  for (const [name, records] of Object.entries(files)) {
    const lines = records.map((record) => (typeof record === "string" ? record : JSON.stringify(record)));
    await writeUri(joinUri(corpusUri, name), lines.map((line) => `${line}\n`).join(""));
  }
  return corpusUri;
}

/** Writes an experiment under `<root>/experiments/<name>.json` and returns its URI. */
export async function writeExperiment(root: string, name: string, experiment: unknown): Promise<string> {
  const uri = joinUri(root, "experiments", `${name}.json`);
  await writeUri(uri, JSON.stringify(experiment, null, 2));
  return uri;
}

/** Builds a small valid experiment over `corpusUri` with the bundled TinyLlama and Qwen tokenizers. */
export function smallExperiment(
  corpusUri: string,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    name: "small",
    corpus: { uri: corpusUri, recordsPerItem: 2 },
    student: { model: "s3://unused/tinyllama", tokenizer: "tinyllama" },
    teacher: { bundle: "s3://unused/qwen-bundle", tokenizer: "qwen" },
    training: { maxSteps: 10, warmupSteps: 2 },
    ...overrides,
  };
}

/** The compute of a stack deployed with its defaults: one node, g5 instances, Spot before on-demand. */
export const DEFAULT_STACK_COMPUTE: StackCompute = {
  instanceTypes: ["g5.xlarge", "g5.2xlarge", "g5.12xlarge"],
  spot: true,
  onDemand: true,
  trainNodes: 1,
  trainGpusPerNode: 1,
  trainGpusPerRun: true,
  maxvCpus: 256,
};
