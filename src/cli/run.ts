/**
 * `slo`'s main: parse the line, run the command, report a failure as one line (and a hint) on
 * stderr, and return the exit code.
 * Internal: the published surface is `./mod.ts` (the "./cli" export).
 *
 * @module
 */

import process from "node:process";
import { VERSION } from "../server/version.ts";
import { parseCommandLine } from "./args.ts";
import { runCommand } from "./commands.ts";
import { CliError, EXIT_CODES } from "./errors.ts";

/**
 * Runs the command line `args` (without the program's name) and resolves with its exit code (see
 * {@linkcode EXIT_CODES}). Output goes to `process.stdout`, errors and progress to
 * `process.stderr`. `serve` starts the server in this process and resolves once it listens; the
 * server then exits the process when it is stopped.
 *
 * @example
 * ```ts ignore
 * import process from "node:process";
 * import { main } from "./run.ts";
 *
 * process.exitCode = await main(["list", "--json"]);
 * ```
 */
export async function main(args: readonly string[]): Promise<number> {
  try {
    const invocation = parseCommandLine(args);
    switch (invocation.kind) {
      case "help":
        (invocation.exitCode === 0 ? process.stdout : process.stderr).write(invocation.text);
        return invocation.exitCode;
      case "version":
        process.stdout.write(`slo ${VERSION}\n`);
        return EXIT_CODES.ok;
      case "serve": {
        // Loaded only here: the other commands never open a database or the keychain.
        const server = await import("../server/main.ts");
        await server.main(invocation.args);
        return EXIT_CODES.ok;
      }
      case "command":
        await runCommand(invocation.command, invocation.positionals, invocation.values);
        return EXIT_CODES.ok;
    }
  } catch (error) {
    if (error instanceof CliError) {
      process.stderr.write(`error: ${error.message}\n`);
      if (error.hint !== null) process.stderr.write(`hint: ${error.hint}\n`);
      return error.exitCode;
    }
    process.stderr.write(`error: ${(error as Error)?.message ?? String(error)}\n`);
    return EXIT_CODES.failure;
  }
}
