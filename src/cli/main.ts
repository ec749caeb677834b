/**
 * The `slo` entry: `deno task cli <command>` (or `bun src/cli/main.ts <command>`). See
 * `deno task cli --help`.
 *
 * @module
 */

import process from "node:process";
import { main } from "./run.ts";

// The exit code is set, not forced, so output still on its way to a pipe is written in full; a
// running `serve` keeps the process alive until it is stopped.
if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
