import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { logger } from "../log.ts";
import { notFound, StorageError } from "./errors.ts";
import type { Store } from "./store.ts";
import { formatUri, parseUri } from "./uri.ts";

/** Temporary files of in-flight writes: `.<name>.tmp-<random>` beside the target. */
const TEMPORARY_NAME = /^\..+\.tmp-[0-9a-f]{16}$/;

function localPath(uri: string): string {
  const location = parseUri(uri);
  if (location.kind !== "local") {
    throw new StorageError("invalid_uri", uri, `not a local URI: ${uri}`);
  }
  return location.path;
}

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

function ioFailed(uri: string, action: string, error: unknown): StorageError {
  const reason = error instanceof Error ? error.message : String(error);
  return new StorageError("io_failed", uri, `failed to ${action} ${uri}: ${reason}`, { cause: error });
}

function temporaryPathBeside(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${randomBytes(8).toString("hex")}`);
}

/**
 * Runs `produce` against a temporary file beside `target`, then renames it
 * into place. A rename within one directory is atomic on POSIX file systems,
 * so a crash never leaves a partial file under the final name.
 */
async function writeAtomically(
  target: string,
  uri: string,
  produce: (temporary: string) => Promise<void>,
): Promise<void> {
  const temporary = temporaryPathBeside(target);
  try {
    await fs.mkdir(path.dirname(target), { recursive: true });
    await produce(temporary);
    await fs.rename(temporary, target);
  } catch (error) {
    // Cleanup is best effort: the write error is the one worth reporting.
    await fs.rm(temporary, { force: true }).catch(() => undefined);
    if (error instanceof StorageError) throw error;
    throw ioFailed(uri, "write", error);
  }
}

async function listFiles(directory: string): Promise<string[]> {
  let entries: import("node:fs").Dirent[];
  try {
    entries = await fs.readdir(directory, { withFileTypes: true });
  } catch (error) {
    if (isErrno(error, "ENOENT") || isErrno(error, "ENOTDIR")) return [];
    throw error;
  }
  const files: string[] = [];
  for (const entry of entries) {
    const full = path.join(directory, entry.name);
    if (entry.isDirectory()) {
      files.push(...(await listFiles(full)));
    } else if (entry.isFile() && !TEMPORARY_NAME.test(entry.name)) {
      files.push(full);
    }
  }
  return files;
}

/** The store for `file://` URIs and plain paths. */
export const localStore: Store = {
  async read(uri) {
    try {
      return new Uint8Array(await fs.readFile(localPath(uri)));
    } catch (error) {
      if (isErrno(error, "ENOENT")) throw notFound(uri, error);
      if (error instanceof StorageError) throw error;
      throw ioFailed(uri, "read", error);
    }
  },

  async readRange(uri, startByte, endByte) {
    let handle: fs.FileHandle | undefined;
    try {
      handle = await fs.open(localPath(uri), "r");
      const length = Math.max(0, endByte - startByte);
      const buffer = new Uint8Array(length);
      let filled = 0;
      while (filled < length) {
        const { bytesRead } = await handle.read(buffer, filled, length - filled, startByte + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return buffer.subarray(0, filled);
    } catch (error) {
      if (isErrno(error, "ENOENT")) throw notFound(uri, error);
      if (error instanceof StorageError) throw error;
      throw ioFailed(uri, "read", error);
    } finally {
      await handle?.close();
    }
  },

  async openRead(uri) {
    const file = localPath(uri);
    // Opening first turns a missing file into `not_found` here rather than a stream error later.
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(file, "r");
    } catch (error) {
      if (isErrno(error, "ENOENT")) throw notFound(uri, error);
      throw ioFailed(uri, "open", error);
    }
    return handle.createReadStream({ autoClose: true }) as Readable;
  },

  async sizeBytes(uri) {
    try {
      return (await fs.stat(localPath(uri))).size;
    } catch (error) {
      if (isErrno(error, "ENOENT")) throw notFound(uri, error);
      if (error instanceof StorageError) throw error;
      throw ioFailed(uri, "stat", error);
    }
  },

  async write(uri, bytes) {
    const target = localPath(uri);
    await writeAtomically(target, uri, (temporary) => fs.writeFile(temporary, bytes));
    logger.debug({ uri, bytes: bytes.byteLength }, "file written");
  },

  async exists(uri) {
    try {
      return (await fs.stat(localPath(uri))).isFile();
    } catch (error) {
      if (isErrno(error, "ENOENT") || isErrno(error, "ENOTDIR")) return false;
      if (error instanceof StorageError) throw error;
      throw ioFailed(uri, "stat", error);
    }
  },

  async list(prefixUri) {
    const location = parseUri(prefixUri);
    if (location.kind !== "local") {
      throw new StorageError("invalid_uri", prefixUri, `not a local URI: ${prefixUri}`);
    }
    let files: string[];
    try {
      files = await listFiles(location.path);
    } catch (error) {
      throw ioFailed(prefixUri, "list", error);
    }
    return files.map((file) => formatUri({ ...location, path: file })).sort();
  },

  async delete(uri) {
    try {
      await fs.rm(localPath(uri), { force: true });
    } catch (error) {
      if (error instanceof StorageError) throw error;
      throw ioFailed(uri, "delete", error);
    }
  },

  async downloadToFile(uri, target) {
    const source = localPath(uri);
    if (!(await localStore.exists(uri))) throw notFound(uri);
    await writeAtomically(path.resolve(target), uri, (temporary) => fs.copyFile(source, temporary));
  },

  async uploadFile(source, uri) {
    const target = localPath(uri);
    try {
      await fs.access(source);
    } catch (error) {
      throw notFound(source, error);
    }
    await writeAtomically(target, uri, (temporary) => fs.copyFile(source, temporary));
  },
};
