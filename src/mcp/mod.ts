/**
 * The MCP server (Model Context Protocol, over the official `@modelcontextprotocol/sdk`): tools for
 * an AI agent's MCP client to list repositories and sessions, create, read, archive, restore and
 * delete sessions, read a worktree session's git state, check what needs repair (a dry run) and wait
 * for the next change, each one a call of the running
 * local HTTP server, found through its discovery file `<data dir>/server.json` as `slo` finds it.
 * No tool runs a command.
 *
 * Run it with `slo mcp` (`deno task cli mcp`, `bun src/cli/main.ts mcp`) or this module itself
 * (`deno run -A <this module> [--url URL] [--token-file PATH] [--data-dir PATH]`): it speaks MCP on
 * stdin and stdout until the client closes stdin. An MCP client's configuration starts it with
 * `{ "command": "deno", "args": ["task", "--cwd", "/path/to/checkout", "cli", "mcp"] }`.
 *
 * @example Serve the tools over another transport, here a linked in-memory pair
 * ```ts ignore
 * import { Client } from "@modelcontextprotocol/sdk/client/index.js";
 * import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
 * import { createMcpServer } from "./mod.ts";
 *
 * const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
 * await createMcpServer({ dataDir: "/var/lib/slo" }).connect(serverSide);
 * const client = new Client({ name: "my-agent", version: "1.0.0" });
 * await client.connect(clientSide);
 * const page = await client.callTool({ name: "list_sessions", arguments: { limit: 20 } });
 * console.log(page.structuredContent); // { sessions: [...], nextCursor }
 * ```
 *
 * @example Serve them over stdio from a program, as `slo mcp` does
 * ```ts ignore
 * import { serveMcpOverStdio } from "./mod.ts";
 *
 * await serveMcpOverStdio({ url: "http://127.0.0.1:7717", tokenFile: "/var/lib/slo/token" });
 * ```
 *
 * @module
 */

import process from "node:process";
import { main } from "../cli/run.ts";

export { createMcpServer, MCP_SERVER_NAME, type McpServerOptions, serveMcpOverStdio } from "./server.ts";
export { DEFAULT_WAIT_SECONDS, MAX_WAIT_SECONDS } from "./tools.ts";
export type { SdkMcpServer } from "./server.ts";
export type { FindServerOptions } from "../cli/client.ts";

// Run as a program (`deno run -A …/mcp`), it is `slo mcp`, with the same options.
if (import.meta.main) process.exitCode = await main(["mcp", ...process.argv.slice(2)]);
