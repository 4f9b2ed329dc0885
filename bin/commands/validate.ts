import type { Command } from "commander";
import { z } from "zod";
import {
  ExperimentError,
  experimentSchema,
  formatProblems,
  parseExperimentText,
} from "../../core/experiment/index.ts";
import { readTextUri } from "../../core/storage/index.ts";

/**
 * Checks an experiment file without running anything: prints the resolved
 * experiment (every default filled in) as JSON on stdout, or every problem
 * on stderr with exit code 1.
 *
 * @example
 * const check = await validateExperimentFile("examples/experiment.json");
 */
export async function validateExperimentFile(
  file: string,
  output: { stdout: (text: string) => void; stderr: (text: string) => void },
): Promise<number> {
  let text: string;
  try {
    text = await readTextUri(file);
  } catch (error) {
    output.stderr(
      `vocagno validate: cannot read ${file}: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    return 1;
  }
  try {
    const experiment = parseExperimentText(text, file);
    output.stdout(`${JSON.stringify(experiment, null, 2)}\n`);
    return 0;
  } catch (error) {
    if (!(error instanceof ExperimentError)) throw error;
    const count = error.problems.length === 1 ? "1 problem" : `${error.problems.length} problems`;
    output.stderr(`${file}: ${count}\n${formatProblems(error.problems)}\n`);
    return 1;
  }
}

/** Returns the JSON Schema of experiment files, for editors that read a `$schema` reference. */
export function experimentJsonSchema(): string {
  return `${JSON.stringify(z.toJSONSchema(experimentSchema, { io: "input" }), null, 2)}\n`;
}

/** Adds `vocagno validate FILE` and `vocagno validate --print-schema`. */
export function registerValidateCommand(program: Command): void {
  program
    .command("validate")
    .description("Check an experiment file and print it with every default filled in, or list its problems")
    .argument("[file]", "experiment file: a local path, file:// or s3:// URI")
    .option("--print-schema", "print the JSON Schema of experiment files instead of checking a file")
    .action(async (file: string | undefined, options: { printSchema?: boolean }) => {
      if (options.printSchema) {
        process.stdout.write(experimentJsonSchema());
        return;
      }
      if (file === undefined) {
        process.stderr.write("vocagno validate: missing the experiment file; pass FILE or --print-schema\n");
        process.exitCode = 1;
        return;
      }
      process.exitCode = await validateExperimentFile(file, {
        stdout: (text) => process.stdout.write(text),
        stderr: (text) => process.stderr.write(text),
      });
    });
}
