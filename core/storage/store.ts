import type { Readable } from "node:stream";

/**
 * One storage backend. Every method takes full URIs; `storeFor` picks the
 * backend from the URI's scheme.
 */
export interface Store {
  /** Reads a whole object. Raises `not_found` when it is missing. */
  read(uri: string): Promise<Uint8Array>;
  /** Reads bytes `[startByte, endByte)` of an object. */
  readRange(uri: string, startByte: number, endByte: number): Promise<Uint8Array>;
  /** Opens a byte stream over an object, for inputs too large to hold in memory. */
  openRead(uri: string): Promise<Readable>;
  /** Returns the size of an object in bytes. Raises `not_found` when it is missing. */
  sizeBytes(uri: string): Promise<number>;
  /** Writes a whole object atomically: readers see the old object, none, or the new one. */
  write(uri: string, bytes: Uint8Array): Promise<void>;
  /** Tells whether an object (a file, not a directory) exists. */
  exists(uri: string): Promise<boolean>;
  /** Lists every object under a prefix, recursively, as sorted full URIs. */
  list(prefixUri: string): Promise<string[]>;
  /** Deletes an object; deleting a missing object is not an error. */
  delete(uri: string): Promise<void>;
  /** Copies an object to a local file atomically. */
  downloadToFile(uri: string, localPath: string): Promise<void>;
  /** Copies a local file to an object atomically, streaming it. */
  uploadFile(localPath: string, uri: string): Promise<void>;
}
