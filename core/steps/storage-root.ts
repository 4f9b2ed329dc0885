import { formatUri, joinUri, parseUri } from "../storage/index.ts";
import { RUN_ID_PATTERN } from "./run-id.ts";

/** Thrown when no storage root can be found for a step. */
export class StorageRootError extends Error {
  readonly code = "storage_root_missing";

  constructor(message: string) {
    super(message);
    this.name = "StorageRootError";
  }
}

/**
 * Returns the storage root from the environment: `s3://$VOCAGNO_BUCKET` in
 * AWS, else `VOCAGNO_STORAGE_ROOT` (a `file:///dir` URI or path, used by the
 * local runner), else undefined.
 */
export function storageRootFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.VOCAGNO_BUCKET) return `s3://${env.VOCAGNO_BUCKET}`;
  if (env.VOCAGNO_STORAGE_ROOT) return env.VOCAGNO_STORAGE_ROOT;
  return undefined;
}

/**
 * Returns the root of the tree that contains `uri` when the URI lies under an
 * `experiments/` folder: `s3://bucket/experiments/a.json` gives `s3://bucket`.
 */
export function storageRootOfExperiment(uri: string): string | undefined {
  const location = parseUri(uri);
  const path = location.kind === "s3" ? `/${location.key}` : location.path;
  const index = path.lastIndexOf("/experiments/");
  if (index === -1) return undefined;
  if (location.kind === "s3") return `s3://${location.bucket}${path.slice(0, index)}`;
  return formatUri({ ...location, path: path.slice(0, index) || "/" });
}

/**
 * Picks the storage root of a step: the one given in the input, the one set
 * in the environment, or the tree that contains the experiment file.
 */
export function resolveStorageRoot(options: { storageRoot?: string; experimentUri?: string }): string {
  const root =
    options.storageRoot ??
    storageRootFromEnv() ??
    (options.experimentUri === undefined ? undefined : storageRootOfExperiment(options.experimentUri));
  if (root === undefined) {
    throw new StorageRootError(
      "no storage root: set VOCAGNO_BUCKET (AWS) or VOCAGNO_STORAGE_ROOT (local), pass storageRoot, " +
        "or keep the experiment file under an experiments/ folder",
    );
  }
  return root;
}

/** Returns the URI of a run's folder: `<root>/runs/<runId>`. */
export function runUriFor(storageRoot: string, runId: string): string {
  return joinUri(storageRoot, "runs", runId);
}

/** Returns the run id of a run folder URI (its last segment), checking its characters. */
export function runIdOfRunUri(runUri: string): string {
  const runId = runUri.replace(/\/+$/, "").split("/").pop() ?? "";
  if (!RUN_ID_PATTERN.test(runId)) {
    throw new StorageRootError(
      `invalid run URI ${JSON.stringify(runUri)}: its last segment must be a run id of 1-80 letters, digits, - or _`,
    );
  }
  return runId;
}
