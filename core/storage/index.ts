import type { Readable } from "node:stream";
import { StorageError } from "./errors.ts";
import { localStore } from "./local-store.ts";
import { s3Store } from "./s3-store.ts";
import type { Store } from "./store.ts";
import { parseUri } from "./uri.ts";

export { isNotFound, StorageError, type StorageErrorCode } from "./errors.ts";
export { s3Client } from "./s3-store.ts";
export type { Store } from "./store.ts";
export { formatUri, isS3Uri, joinUri, type ParsedUri, parseUri } from "./uri.ts";
export { localStore, s3Store };

/** Picks the store for a URI: S3 for `s3://`, the local file system otherwise. */
export function storeFor(uri: string): Store {
  return parseUri(uri).kind === "s3" ? s3Store : localStore;
}

/**
 * Reads a whole object or file. Raises a `StorageError` with code `not_found` when it is missing.
 *
 * @example
 * const bytes = await readUri("s3://bucket/runs/r1/shards/000000.arrow");
 */
export function readUri(uri: string): Promise<Uint8Array> {
  return storeFor(uri).read(uri);
}

/** Reads a whole object as strict UTF-8 text; invalid UTF-8 raises `io_failed`. */
export async function readTextUri(uri: string): Promise<string> {
  const bytes = await readUri(uri);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (error) {
    throw new StorageError("io_failed", uri, `file is not valid UTF-8 text: ${uri}`, { cause: error });
  }
}

/**
 * Writes an object atomically. A local file goes to a temporary file in the
 * same directory and is then renamed. An S3 object becomes visible only when
 * its upload completes. Strings are written as UTF-8.
 *
 * @example
 * await writeUri(joinUri(root, "runs", runId, "manifest.json"), JSON.stringify(manifest));
 */
export function writeUri(uri: string, content: Uint8Array | string): Promise<void> {
  const bytes = typeof content === "string" ? new TextEncoder().encode(content) : content;
  return storeFor(uri).write(uri, bytes);
}

/** Tells whether an object or file exists (directories and S3 prefixes do not count). */
export function existsUri(uri: string): Promise<boolean> {
  return storeFor(uri).exists(uri);
}

/**
 * Lists every object under a prefix, which is treated as a directory, as
 * sorted full URIs. A missing prefix lists as empty.
 *
 * @example
 * const shards = await listUri(joinUri(root, "runs", runId, "shards"));
 */
export function listUri(prefixUri: string): Promise<string[]> {
  return storeFor(prefixUri).list(prefixUri);
}

/** Deletes an object or file; deleting a missing one is not an error. */
export function deleteUri(uri: string): Promise<void> {
  return storeFor(uri).delete(uri);
}

/** Returns an object's size in bytes. */
export function sizeUri(uri: string): Promise<number> {
  return storeFor(uri).sizeBytes(uri);
}

/** Reads bytes `[startByte, endByte)` of an object; the result is shorter when the object ends first. */
export function readRangeUri(uri: string, startByte: number, endByte: number): Promise<Uint8Array> {
  return storeFor(uri).readRange(uri, startByte, endByte);
}

/** Opens a byte stream over an object, for inputs too large to hold in memory. */
export function openReadUri(uri: string): Promise<Readable> {
  return storeFor(uri).openRead(uri);
}

/** Copies an object to a local file, streaming and atomically (temporary file, then rename). */
export function downloadToFile(uri: string, localPath: string): Promise<void> {
  return storeFor(uri).downloadToFile(uri, localPath);
}

/**
 * Copies a local file to an object, streaming it (a multipart upload on S3 for large files).
 *
 * @example
 * await uploadFile("/tmp/checkpoint.pt", joinUri(root, "runs", runId, "train/ckpt/step-100.pt"));
 */
export function uploadFile(localPath: string, uri: string): Promise<void> {
  return storeFor(uri).uploadFile(localPath, uri);
}
