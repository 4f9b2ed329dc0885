import type { Command } from "commander";

/**
 * Adds every subcommand to the program. Each subcommand lives in its own
 * file beside this one and exports a `register…Command(program)` function.
 */
export function registerCommands(_program: Command): void {}
