/** The ways a storage operation fails; `code` is stable for callers to branch on. */
export type StorageErrorCode = "not_found" | "invalid_uri" | "io_failed";

/**
 * A failed storage operation, naming the URI involved.
 *
 * @example
 * try { await readUri(uri) } catch (error) {
 *   if (error instanceof StorageError && error.code === "not_found") return undefined;
 *   throw error;
 * }
 */
export class StorageError extends Error {
  readonly code: StorageErrorCode;
  readonly uri: string;

  constructor(code: StorageErrorCode, uri: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StorageError";
    this.code = code;
    this.uri = uri;
  }
}

/** Builds the `not_found` error that every store raises for a missing object. */
export function notFound(uri: string, cause?: unknown): StorageError {
  return new StorageError("not_found", uri, `object not found: ${uri}`, { cause });
}

/** Tells whether `error` is a storage error with code `not_found`. */
export function isNotFound(error: unknown): boolean {
  return error instanceof StorageError && error.code === "not_found";
}
