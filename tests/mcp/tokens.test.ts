// `slo mcp --token-file` with a token scoped to a session, driven by the SDK's own client over stdio
// against a real server process: the agent's MCP server reaches exactly its session's subtree.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/client/stdio"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { Repository, Session } from "../../src/types.ts";
import { cliEntry, type CliWorld, cliWorld, jsonOf } from "../fixtures/cli_fixture.ts";
import { asyncDisposable } from "../fixtures/disposable.ts";
import { makeRepository } from "../fixtures/git_fixtures.ts";
import { isBun, runtimeArgv } from "../fixtures/helpers.ts";
import { root } from "../fixtures/server_process.ts";

const onLinux = process.platform === "linux";

async function startMcp(world: CliWorld, args: string[]): Promise<Client> {
  const extra = onLinux ? [] : ["--data-dir", world.dataDir];
  const argv = isBun
    ? runtimeArgv(cliEntry, ["mcp", ...args, ...extra])
    : [process.execPath, "task", "--cwd", root, "cli", "mcp", ...args, ...extra];
  const transport = new StdioClientTransport({
    command: argv[0],
    args: argv.slice(1),
    env: { ...process.env as Record<string, string>, ...world.env },
    cwd: world.base,
    stderr: "pipe",
  });
  const client = new Client({ name: "slo-test", version: "1.0.0" });
  await client.connect(transport);
  return client;
}

async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> {
  return await client.callTool({ name, arguments: args }) as CallToolResult;
}

const textOf = (result: CallToolResult): string =>
  result.content.map((part) => (part.type === "text" ? part.text : "")).join("\n");

function ok<T>(result: CallToolResult): T {
  assert.notEqual(result.isError, true, textOf(result));
  return result.structuredContent as T;
}

function failed(result: CallToolResult, message: RegExp): void {
  assert.equal(result.isError, true, `not an error: ${textOf(result)}`);
  assert.match(textOf(result), message);
}

test("mcp tokens: slo mcp --token-file with a scoped token reaches its session's subtree only", async () => {
  await using world = cliWorld("slo-mcp-token-");
  await world.serve();
  const path = join(world.base, "app");
  makeRepository(path);
  const repository = jsonOf<Repository>(await world.cli(["repo", "add", path, "--json"]));
  const agent = jsonOf<Session>(await world.cli(["new", path, "agent", "--no-worktree", "--json"]));
  const other = jsonOf<Session>(await world.cli(["new", path, "someone else", "--no-worktree", "--json"]));

  // slo token prints the token alone on stdout: a token file for the agent's MCP server.
  const minted = await world.cli(["token", agent.id]);
  assert.equal(minted.code, 0, minted.stderr);
  const token = minted.stdout.trim();
  assert.match(token, /^[A-Za-z0-9_-]{43}$/);
  const tokenFile = join(world.base, "agent.token");
  writeFileSync(tokenFile, `${token}\n`);
  chmodSync(tokenFile, 0o600);
  await using mcp = asyncDisposable(await startMcp(world, ["--token-file", tokenFile]), (client) => client.close());

  const listed = ok<{ sessions: Session[] }>(await call(mcp, "list_sessions"));
  assert.deepEqual(listed.sessions.map((s) => s.id), [agent.id]);
  failed(await call(mcp, "get_session", { id: other.id }), /^SessionNotFound: /);
  failed(await call(mcp, "delete_session", { id: other.id, confirm: true }), /^SessionNotFound: /);
  failed(await call(mcp, "list_repositories"), /^Forbidden: /);
  failed(await call(mcp, "reconcile"), /^Forbidden: /);
  failed(await call(mcp, "delete_session", { id: agent.id, confirm: true }), /^Forbidden: /);

  // A worktree sub-task of its own: made under the agent's session, archived, restored, deleted.
  const child = ok<Session>(
    await call(mcp, "create_session", { repositoryId: repository.id, title: "sub-task", isWorktree: true }),
  );
  assert.equal(child.parentSessionId, agent.id);
  assert.ok(child.worktreePath !== null && existsSync(child.worktreePath));
  assert.deepEqual(
    ok<{ sessions: Session[] }>(await call(mcp, "list_sessions")).sessions.map((s) => s.id),
    [agent.id, child.id],
  );
  ok(await call(mcp, "archive_session", { id: child.id }));
  ok(await call(mcp, "restore_session", { id: child.id }));
  ok(await call(mcp, "delete_session", { id: child.id, confirm: true }));
  assert.equal(existsSync(child.worktreePath!), false);

  // The other session is untouched; the server's own token still sees everything.
  assert.deepEqual(jsonOf<Session[]>(await world.cli(["list", "--json"])).map((s) => s.id), [agent.id, other.id]);

  // Revoked with slo token --revoke: the MCP server's calls are refused from then on.
  const record = jsonOf<{ id: string; token: string; sessionId: string }>(
    await world.cli(["token", agent.id, "--json"]),
  );
  assert.equal(record.sessionId, agent.id);
  const revoked = await world.cli(["token", agent.id, "--revoke", record.id]);
  assert.equal(revoked.code, 0, revoked.stderr);
  const second = join(world.base, "second.token");
  writeFileSync(second, record.token);
  chmodSync(second, 0o600);
  await using refused = asyncDisposable(await startMcp(world, ["--token-file", second]), (client) => client.close());
  failed(await call(refused, "list_sessions"), /Unauthorized|token/);
  // The first token still works.
  assert.equal(ok<{ sessions: Session[] }>(await call(mcp, "list_sessions")).sessions.length, 1);
});
