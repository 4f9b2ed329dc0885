import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll } from "vitest";

/**
 * Returns a function that creates temporary directories under the system's
 * temp folder, all removed after the tests of the calling file or describe
 * block. Call it at collection time (top level or inside `describe`).
 *
 * @example
 * const temporaryDirectory = useTemporaryDirectories();
 * const directory = temporaryDirectory("vocagno-graph");
 */
export function useTemporaryDirectories(): (prefix: string) => string {
  const created: string[] = [];
  afterAll(() => {
    for (const directory of created) rmSync(directory, { recursive: true, force: true });
  });
  return (prefix) => {
    const directory = mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
    created.push(directory);
    return directory;
  };
}
