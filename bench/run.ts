/**
 * The `npm run bench` entry: runs benchmark parts one after another, each in
 * its own process so that one part's memory and JIT state never bend another
 * part's figures. A part is any `bench/<name>.ts` beside this file (tests and
 * files starting with `_` excepted) that runs when executed directly and
 * prints its results.
 *
 *   npm run bench                              every part, in name order
 *   npm run bench -- alignment teacher         only these parts
 *   npm run bench -- teacher --skip-large      options starting with - go to every selected part
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const BENCH_DIRECTORY = path.dirname(fileURLToPath(import.meta.url));
const THIS_FILE = path.basename(fileURLToPath(import.meta.url));

/** Lists the part names found beside this file. */
export async function findBenchParts(): Promise<string[]> {
  const files = await readdir(BENCH_DIRECTORY);
  return files
    .filter(
      (file) =>
        file.endsWith(".ts") && !file.endsWith(".test.ts") && !file.startsWith("_") && file !== THIS_FILE,
    )
    .map((file) => file.slice(0, -".ts".length))
    .sort();
}

/** Runs one part to completion with inherited output and returns its exit code. */
async function runPart(part: string, partArguments: readonly string[]): Promise<number> {
  const file = path.join(BENCH_DIRECTORY, `${part}.ts`);
  const child = spawn(process.execPath, ["--import", "tsx", file, ...partArguments], { stdio: "inherit" });
  const [code, signal] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null];
  return code ?? (signal === null ? 1 : 128);
}

async function main(): Promise<void> {
  const argumentsGiven = process.argv.slice(2);
  const requested = argumentsGiven
    .filter((argument) => !argument.startsWith("-"))
    .map((name) => name.replace(/\.ts$/, ""));
  const partArguments = argumentsGiven.filter((argument) => argument.startsWith("-"));
  const available = await findBenchParts();
  const unknown = requested.filter((name) => !available.includes(name));
  if (unknown.length > 0) {
    process.stderr.write(
      `bench: unknown part ${unknown.join(", ")}; available parts: ${available.join(", ")}\n`,
    );
    process.exitCode = 2;
    return;
  }
  const parts = requested.length > 0 ? requested : available;
  const failed: string[] = [];
  for (const part of parts) {
    process.stdout.write(`\n== bench/${part}.ts\n`);
    const code = await runPart(part, partArguments);
    if (code !== 0) {
      failed.push(`${part} (exit code ${code})`);
    }
  }
  if (failed.length > 0) {
    process.stderr.write(`bench: failed parts: ${failed.join(", ")}\n`);
    process.exitCode = 1;
  }
}

await main();
