#!/usr/bin/env node
// Entry point of the `vocagno` command: registers the tsx loader so the
// TypeScript sources run directly, then starts the CLI.
import { register } from "tsx/esm/api";

register();
await import("./vocagno.ts");
