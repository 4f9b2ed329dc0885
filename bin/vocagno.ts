import { Command, CommanderError } from "commander";
import { registerCommands } from "./commands/index.ts";

/** Builds the `vocagno` command-line program with every subcommand. */
export function buildProgram(): Command {
  const program = new Command("vocagno")
    .description("Vocabulary-agnostic teacher guided training of a student language model")
    .showHelpAfterError()
    .exitOverride();
  registerCommands(program);
  return program;
}

async function main(): Promise<void> {
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode;
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`vocagno: ${message}\n`);
    process.exitCode = 1;
  }
}

await main();
