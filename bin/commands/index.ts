import type { Command } from "commander";
import { registerAlignCommand } from "./align.ts";
import { registerDemoCommand } from "./demo.ts";
import { registerOverlapCommand } from "./overlap.ts";
import { registerRunCommand } from "./run.ts";
import { registerStatusCommand } from "./status.ts";
import { registerValidateCommand } from "./validate.ts";

/**
 * Adds every subcommand to the program. Each subcommand lives in its own
 * file beside this one and exports a `register…Command(program)` function.
 */
export function registerCommands(program: Command): void {
  registerAlignCommand(program);
  registerDemoCommand(program);
  registerOverlapCommand(program);
  registerRunCommand(program);
  registerStatusCommand(program);
  registerValidateCommand(program);
}
