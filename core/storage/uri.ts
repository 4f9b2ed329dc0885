import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { StorageError } from "./errors.ts";

/**
 * A storage location. `style` remembers how a local location was written so
 * that listings return URIs in the caller's own form.
 */
export type ParsedUri =
  | { kind: "local"; path: string; style: "file-uri" | "path" }
  | { kind: "s3"; bucket: string; key: string };

const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//;

/**
 * Parses `s3://bucket/key`, `file:///abs/path` or a plain local path (made
 * absolute against the working directory).
 *
 * @example
 * parseUri("s3://data/runs/r1/manifest.json"); // { kind: "s3", bucket: "data", key: "runs/r1/manifest.json" }
 */
export function parseUri(uri: string): ParsedUri {
  if (uri.length === 0) {
    throw new StorageError("invalid_uri", uri, "invalid storage URI: the URI is empty");
  }
  const scheme = SCHEME.exec(uri)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    return { kind: "local", path: path.resolve(uri), style: "path" };
  }
  if (scheme === "file") {
    try {
      return { kind: "local", path: fileURLToPath(uri), style: "file-uri" };
    } catch (error) {
      throw new StorageError(
        "invalid_uri",
        uri,
        `invalid file URI ${JSON.stringify(uri)}: use file:///absolute/path`,
        { cause: error },
      );
    }
  }
  if (scheme === "s3") {
    const rest = uri.slice("s3://".length);
    const slash = rest.indexOf("/");
    const bucket = slash === -1 ? rest : rest.slice(0, slash);
    const key = slash === -1 ? "" : rest.slice(slash + 1);
    if (bucket.length === 0) {
      throw new StorageError(
        "invalid_uri",
        uri,
        `invalid S3 URI ${JSON.stringify(uri)}: use s3://bucket/key`,
      );
    }
    return { kind: "s3", bucket, key };
  }
  throw new StorageError(
    "invalid_uri",
    uri,
    `unsupported URI scheme ${JSON.stringify(scheme)} in ${JSON.stringify(uri)}: use s3://bucket/key, file:///absolute/path or a local path`,
  );
}

/** Formats a parsed location back into a URI of the same style. */
export function formatUri(location: ParsedUri): string {
  if (location.kind === "s3") {
    return `s3://${location.bucket}/${location.key}`;
  }
  return location.style === "file-uri" ? pathToFileURL(location.path).href : location.path;
}

/**
 * Joins path segments onto a URI with `/`, keeping its scheme. Segments may
 * contain `/` themselves; empty segments are skipped.
 *
 * @example
 * joinUri("s3://bucket/runs", runId, "shards/000001.arrow"); // "s3://bucket/runs/<runId>/shards/000001.arrow"
 */
export function joinUri(base: string, ...parts: string[]): string {
  const location = parseUri(base);
  const segments = parts.flatMap((part) => part.split("/")).filter((segment) => segment.length > 0);
  if (location.kind === "s3") {
    const key = [location.key.replace(/\/+$/, ""), ...segments]
      .filter((segment) => segment.length > 0)
      .join("/");
    return formatUri({ ...location, key });
  }
  return formatUri({ ...location, path: path.join(location.path, ...segments) });
}

/** Tells whether `uri` names an S3 object rather than a local file. */
export function isS3Uri(uri: string): boolean {
  return parseUri(uri).kind === "s3";
}
