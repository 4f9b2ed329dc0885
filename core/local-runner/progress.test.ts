import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { useTemporaryDirectories } from "../../test/support/temporary.ts";
import { logger } from "../log.ts";
import { LineProgress, progressForCli, TerminalProgress } from "./progress.ts";

/** Returns a stand-in for process.stderr that records what is written to it. */
function recordingStream(isTTY: boolean): NodeJS.WriteStream & { written: string[] } {
  const written: string[] = [];
  return {
    isTTY,
    written,
    write(chunk: string) {
      written.push(chunk);
      return true;
    },
  } as unknown as NodeJS.WriteStream & { written: string[] };
}

describe("progressForCli", () => {
  const temporaryDirectory = useTemporaryDirectories();

  it("keeps logs on stderr in a pipe", () => {
    const stream = recordingStream(false);
    const { progress, logFile } = progressForCli("/nonexistent-root", stream);
    expect(progress).toBeInstanceOf(LineProgress);
    expect(logFile).toBeUndefined();
    expect(stream.written).toEqual([]);
  });

  it("sends logs to a file on a terminal", async () => {
    const root = temporaryDirectory("vocagno-progress");
    const stream = recordingStream(true);
    const { progress, logFile } = progressForCli(root, stream);
    expect(progress).toBeInstanceOf(TerminalProgress);
    expect(logFile).toBe(path.join(root, "logs", "vocagno.log"));
    expect(stream.written[0]).toBe(`Logs: ${logFile}\n`);
    // Below Node.js 22 the AWS SDK's multi-line warning gives way to one line printed before the bars.
    if (Number(process.versions.node.split(".")[0]) < 22) {
      expect(stream.written.slice(1)).toEqual([
        expect.stringMatching(/^Note: Node\.js .* require Node\.js 22/),
      ]);
      expect(process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED).toBe("true");
    } else {
      expect(stream.written).toHaveLength(1);
    }

    // Warnings and errors pass the test suite's log level (warn) as well as the default (info).
    logger.warn({ marker: 41 }, "first line after the switch");
    logger.error({ marker: 42 }, "second line after the switch");
    const lines = (await readFile(logFile!, "utf8"))
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(lines.map((line) => [line.msg, line.marker])).toEqual([
      ["first line after the switch", 41],
      ["second line after the switch", 42],
    ]);
  });
});
