/**
 * The MCP server: the tools of `./tools.ts` on an `McpServer` of the official SDK, each call a
 * request to the running local server, and `slo mcp`, which serves them over stdio.
 * Internal: the published surface is `./mod.ts` (the "./mcp" export).
 *
 * @module
 */

import process from "node:process";
// Deno reads the SDK's types only through extensionless specifiers: its "./*" export maps `x.js` to a
// missing `x.js.d.ts` (modelcontextprotocol/typescript-sdk#2701), which would make every SDK type `any`.
// @ts-types="@modelcontextprotocol/sdk/server/mcp"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
// @ts-types="@modelcontextprotocol/sdk/server/stdio"
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
// @ts-types="@modelcontextprotocol/sdk/shared/protocol"
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import type { CallToolResult, ServerNotification, ServerRequest } from "@modelcontextprotocol/sdk/types.js";
import { findServer, type FindServerOptions } from "../cli/client.ts";
import { CliError } from "../cli/errors.ts";
import { VERSION } from "../server/version.ts";
import { MCP_TOOLS, type McpTool, type ToolContext } from "./tools.ts";

/**
 * The SDK's `McpServer` (from `@modelcontextprotocol/sdk/server/mcp.js`), with every tool
 * registered: `connect(transport)` it to a transport, `close()` it.
 */
export type SdkMcpServer = SdkServer;

/**
 * @ignore The SDK's own class. Kept out of this package's documentation, which `deno doc --lint`
 * checks: it counts a type of another package (an npm package) as a private type of this one
 * (denoland/deno#27364).
 */
type SdkServer = McpServer;

/** Where the MCP server finds the HTTP server: the options of `findServer` in the "./cli" export. */
export type McpServerOptions = FindServerOptions;

/** The MCP server's name in its `initialize` answer. */
export const MCP_SERVER_NAME = "session-lifecycle-orchestrator";

// A failure as the model reads it: the server's error kind (or why there was no answer), its message, a way out.
function toolError(error: unknown): CallToolResult {
  let text: string;
  if (error instanceof CliError) {
    const hint = error.forceable
      ? "retry with force: true to discard the changes (the work is saved first)"
      : error.hint;
    text = `${error.kind ?? error.reason}: ${error.message}${hint === null ? "" : `\nhint: ${hint}`}`;
  } else {
    text = `failure: ${(error as Error)?.message ?? String(error)}`;
  }
  return { content: [{ type: "text", text }], isError: true };
}

/**
 * An MCP server (`McpServer` from `@modelcontextprotocol/sdk`) with every tool, not yet connected:
 * connect it to any transport. Each call finds the running HTTP server again (through
 * `<data dir>/server.json`, or `url` and `tokenFile`), so a server started or restarted after
 * this one is found; with none running a call is a tool error that says how to start one.
 */
export function createMcpServer(options: McpServerOptions = {}): SdkMcpServer {
  const mcp = new McpServer(
    { name: MCP_SERVER_NAME, version: VERSION },
    {
      capabilities: { tools: {} },
      instructions: "Manage AI coding-agent sessions on the local session-lifecycle-orchestrator server: list " +
        "repositories and sessions, create a session (with its own git worktree and branch), read one, delete " +
        "one (confirm: true), check what needs repair (a dry run), and wait for the next change.",
    },
  );
  for (const tool of MCP_TOOLS) register(mcp, tool, options);
  return mcp;
}

function register(mcp: McpServer, tool: McpTool, options: McpServerOptions): void {
  mcp.registerTool(
    tool.name,
    {
      title: tool.title,
      description: tool.description,
      inputSchema: tool.inputSchema,
      outputSchema: tool.outputSchema as McpTool["inputSchema"],
      annotations: tool.annotations,
    },
    async (
      args: Record<string, unknown>,
      extra: RequestHandlerExtra<ServerRequest, ServerNotification>,
    ): Promise<CallToolResult> => {
      const progressToken = extra._meta?.progressToken;
      const context: ToolContext = {
        server: () => findServer(options),
        signal: extra.signal,
        progress: async (message) => {
          if (progressToken === undefined) return;
          await extra.sendNotification({
            method: "notifications/progress",
            params: { progressToken, progress: 0, message },
          });
        },
      };
      try {
        const structured = await tool.run(args, context);
        return {
          content: [{ type: "text", text: JSON.stringify(structured, null, 2) }],
          structuredContent: structured,
        };
      } catch (error) {
        return toolError(error);
      }
    },
  );
}

/**
 * Serves the MCP tools over this process's stdin and stdout (`slo mcp`) and resolves once the
 * client closes stdin. stdout carries only the protocol; nothing else is written to it.
 */
export async function serveMcpOverStdio(options: McpServerOptions = {}): Promise<void> {
  const mcp = createMcpServer(options);
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    // The SDK's transport does not notice the end of stdin; the client closing it is the end of the session.
    process.stdin.once("end", resolve);
    process.stdin.once("close", resolve);
    mcp.server.onclose = () => resolve();
  });
  await mcp.connect(transport);
  await closed;
  await mcp.close();
}
