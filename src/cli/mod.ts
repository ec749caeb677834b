/**
 * The command line, `slo`, and the client parts it is made of: finding the running server through
 * its discovery file (`<data dir>/server.json`) and a typed client for it.
 *
 * Run it with `deno task cli <command>` (or `bun src/cli/main.ts <command>`, or this module itself:
 * `deno run -A jsr:@rengoku/session-lifecycle-orchestrator/cli <command>`): `serve`,
 * `repo add|list|rm`, `new`, `list`, `show`, `rm`, `reconcile`, `events`; `--help` on each. It
 * prints tables for people and JSON with `--json`, and its exit codes ({@linkcode EXIT_CODES})
 * tell not found, conflict, invalid input and an unreachable server apart.
 *
 * @example Find the server `deno task serve` started, and call it with the typed client
 * ```ts ignore
 * import { hc } from "hono/client";
 * import type { AppType } from "../http/mod.ts"; // the "./hono" export
 * import { CliError, findServer } from "./mod.ts";
 *
 * try {
 *   const server = await findServer(); // through <default data dir>/server.json
 *   const client = hc<AppType>(server.baseUrl, { headers: server.headers, fetch: server.fetch });
 *   const response = await client.v1.sessions.$get({ query: {} });
 *   if (response.status === 200) console.log((await response.json()).sessions.length);
 * } catch (error) {
 *   if (error instanceof CliError && error.reason === "unreachable") console.error(error.message);
 *   else throw error;
 * }
 * ```
 *
 * @example Run the command line from a program
 * ```ts ignore
 * import { main } from "./mod.ts";
 *
 * const code = await main(["list", "--json"]); // prints the sessions as JSON, resolves with the exit code
 * ```
 *
 * @module
 */

import process from "node:process";
import { main } from "./run.ts";

export { main };
export { CliError, type CliErrorOptions, EXIT_CODES, type ExitReason } from "./errors.ts";
export {
  answerError,
  type AnswerLike,
  findServer,
  type FindServerOptions,
  type ServerEndpoint,
  type ServerFetch,
} from "./client.ts";
export type { DiscoveryRecord } from "../server/discovery.ts";
// The core type a CliError carries, re-exported (type only) so that this entry is documented on its own.
export type { ForceableRefusal } from "../errors.ts";

// Run as a program (`deno run -A …/cli list`, `deno install -g -A -n slo …/cli`), it is `slo`.
if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
