import { countCorpusRecords } from "../corpus/index.ts";
import { type Experiment, parseExperimentText, toTrainerConfig, type Variant } from "../experiment/index.ts";
import { logger } from "../log.ts";
import { existsUri, parseUri, readTextUri, readUri, writeUri } from "../storage/index.ts";
import { MANIFEST_FORMAT_VERSION, type Manifest, readManifest, runFiles } from "./manifest.ts";
import { contentFingerprint, deriveRunId } from "./run-id.ts";
import { checkStackCompute, readStackCompute } from "./stack-compute.ts";
import { resolveStorageRoot, runUriFor } from "./storage-root.ts";
import { cachedTokenizer } from "./tokenizer-cache.ts";
import { chooseHeldOut, listCorpusFiles, readerFormat, splitIntoItems } from "./work-items.ts";

/** Input of the plan step. */
export interface PlanInput {
  /** The experiment file to run. */
  readonly experimentUri: string;
  /** Run id; derived from the file's key and content when absent. */
  readonly runId?: string;
  /** Storage root; default from the environment or the experiment's location. */
  readonly storageRoot?: string;
}

/** Output of the plan step: pointers and small values only, whatever the corpus size. */
export interface PlanOutput {
  readonly runId: string;
  readonly runUri: string;
  readonly experimentUri: string;
  readonly manifestUri: string;
  readonly itemsUri: string;
  readonly trainerConfigUri: string;
  readonly itemCount: number;
  readonly trainItemCount: number;
  readonly evalItemCount: number;
  readonly teacherArraySize: number;
  readonly variants: readonly Variant[];
  /** Settings of the teacher scoring jobs, which take them as command-line flags. */
  readonly teacher: Pick<
    Experiment["teacher"],
    "bundle" | "aggregation" | "contextTokens" | "minContextTokens" | "batchTokens"
  >;
  /** The experiment's compute; the state machine applies `gpusPerNode` to each training job. */
  readonly compute: Experiment["compute"];
}

/** A run id whose frozen experiment differs from the file being planned. */
export class RunConflictError extends Error {
  readonly code = "run_conflict";
  readonly runId: string;

  constructor(runId: string, message: string) {
    super(message);
    this.name = "RunConflictError";
    this.runId = runId;
  }
}

/** Default cap on parallel teacher jobs when the experiment does not set one. */
const DEFAULT_MAX_TEACHER_ARRAY_SIZE = 100;

/** Lists the JSON paths where two JSON values differ, at most `limit` of them. */
function differingPaths(a: unknown, b: unknown, path = "", limit = 10, out: string[] = []): string[] {
  if (out.length >= limit) return out;
  const isObject = (value: unknown) => value !== null && typeof value === "object";
  if (isObject(a) && isObject(b) && Array.isArray(a) === Array.isArray(b)) {
    const keys = new Set([...Object.keys(a as object), ...Object.keys(b as object)]);
    for (const key of [...keys].sort()) {
      let child = `${path}.${key}`;
      if (Array.isArray(a)) child = `${path}[${key}]`;
      else if (path === "") child = key;
      differingPaths(
        (a as Record<string, unknown>)[key],
        (b as Record<string, unknown>)[key],
        child,
        limit,
        out,
      );
    }
  } else if (JSON.stringify(a) !== JSON.stringify(b)) {
    out.push(path === "" ? "(root)" : path);
  }
  return out;
}

/** Returns the key of the experiment file relative to the storage root, which run ids hash. */
function experimentKey(experimentUri: string, storageRoot: string): string {
  const location = parseUri(experimentUri);
  if (location.kind === "s3") return location.key;
  const root = parseUri(storageRoot);
  const prefix = root.kind === "local" ? `${root.path.replace(/\/+$/, "")}/` : "";
  return prefix !== "" && location.path.startsWith(prefix)
    ? location.path.slice(prefix.length)
    : location.path;
}

/** Freezes the experiment to the run folder, or checks that the frozen copy is equal. */
async function freezeExperiment(frozenUri: string, experiment: Experiment, runId: string, source: string) {
  if (await existsUri(frozenUri)) {
    const frozen: unknown = JSON.parse(await readTextUri(frozenUri));
    const differences = differingPaths(frozen, JSON.parse(JSON.stringify(experiment)));
    if (differences.length > 0) {
      throw new RunConflictError(
        runId,
        `run ${runId} already exists with a different experiment (${frozenUri}); ${source} differs at ` +
          `${differences.join(", ")}. Start a new run: drop the edited file under experiments/ or pass another runId`,
      );
    }
    logger.info({ runId, frozenUri }, "frozen experiment exists and is equal; reusing the run");
    return;
  }
  await writeUri(frozenUri, `${JSON.stringify(experiment, null, 2)}\n`);
}

async function buildManifest(experiment: Experiment, runId: string, frozenUri: string): Promise<Manifest> {
  // Loading both tokenizers here fails a run with a bad tokenizer before any work item starts.
  const [student, teacher] = await Promise.all([
    cachedTokenizer(experiment.student.tokenizer),
    cachedTokenizer(experiment.teacher.tokenizer),
  ]);
  const files = await listCorpusFiles(experiment.corpus.uri, experiment.corpus.format);
  const counted = [];
  for (const file of files) {
    const records = await countCorpusRecords(file.uri, { format: readerFormat(file.format) });
    logger.info({ runId, file: file.uri, records }, "corpus file counted");
    counted.push({ ...file, records });
  }
  const items = splitIntoItems(counted, experiment.corpus.recordsPerItem);
  const heldOut = chooseHeldOut(items.length, experiment.evaluation, experiment.corpus.uri);
  return {
    formatVersion: MANIFEST_FORMAT_VERSION,
    runId,
    experimentUri: frozenUri,
    corpus: {
      uri: experiment.corpus.uri,
      files: files.length,
      records: counted.reduce((sum, file) => sum + file.records, 0),
    },
    tokenizers: {
      student: { source: experiment.student.tokenizer, identity: { ...student.identity } },
      teacher: { source: experiment.teacher.tokenizer, identity: { ...teacher.identity } },
    },
    items: items.map((item, index) => ({ ...item, split: heldOut.has(index) ? "eval" : "train" })),
  };
}

/**
 * Plans a run: validates the experiment (an invalid file raises
 * ExperimentError listing every problem), freezes it, cuts the corpus into
 * work items and writes the manifest, the Distributed Map item list and the
 * trainer configuration. Re-planning the same run reuses what exists.
 *
 * @example
 * const plan = await planRun({ experimentUri: "s3://vocagno-data/experiments/owm.json" });
 * plan.itemsUri; // "s3://vocagno-data/runs/owm-3f9a0c12d4e5/items.json"
 */
export async function planRun(input: PlanInput): Promise<PlanOutput> {
  const storageRoot = resolveStorageRoot(input);
  const bytes = await readUri(input.experimentUri);
  const experiment = parseExperimentText(new TextDecoder().decode(bytes), input.experimentUri);
  const stack = readStackCompute();
  if (stack === undefined) {
    // The local runner runs every job on this machine, whatever instance types or Spot the file requests.
    logger.info({ compute: experiment.compute }, "compute settings are not applied locally");
  } else {
    checkStackCompute(experiment.compute, stack, input.experimentUri);
  }
  const runId =
    input.runId ?? deriveRunId(experimentKey(input.experimentUri, storageRoot), contentFingerprint(bytes));
  const runUri = runUriFor(storageRoot, runId);
  const files = runFiles(runUri);

  await freezeExperiment(files.experiment, experiment, runId, input.experimentUri);

  let manifest: Manifest;
  if (await existsUri(files.manifest)) {
    manifest = await readManifest(files.manifest);
    logger.info({ runId, items: manifest.items.length }, "manifest exists; reusing it");
  } else {
    manifest = await buildManifest(experiment, runId, files.experiment);
    await writeUri(files.manifest, JSON.stringify(manifest));
  }

  // A Distributed Map ItemReader takes a plain JSON array; each entry is one prepare input.
  if (!(await existsUri(files.items))) {
    await writeUri(files.items, JSON.stringify(manifest.items.map(({ item }) => ({ runUri, item }))));
  }
  if (!(await existsUri(files.trainerConfig))) {
    await writeUri(files.trainerConfig, `${JSON.stringify(toTrainerConfig(experiment), null, 2)}\n`);
  }

  const itemCount = manifest.items.length;
  const evalItemCount = manifest.items.filter((item) => item.split === "eval").length;
  logger.info({ runId, runUri, itemCount, evalItemCount }, "run planned");
  return {
    runId,
    runUri,
    experimentUri: files.experiment,
    manifestUri: files.manifest,
    itemsUri: files.items,
    trainerConfigUri: files.trainerConfig,
    itemCount,
    trainItemCount: itemCount - evalItemCount,
    evalItemCount,
    teacherArraySize: Math.min(
      experiment.compute.teacherArraySize ?? DEFAULT_MAX_TEACHER_ARRAY_SIZE,
      itemCount,
    ),
    variants: experiment.variants,
    teacher: {
      bundle: experiment.teacher.bundle,
      aggregation: experiment.teacher.aggregation,
      contextTokens: experiment.teacher.contextTokens,
      minContextTokens: experiment.teacher.minContextTokens,
      batchTokens: experiment.teacher.batchTokens,
    },
    compute: experiment.compute,
  };
}
