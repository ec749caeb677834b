// `slo mcp` as an MCP client runs it: a child process of the runtime under test (under Deno through
// `deno task --cwd <checkout> cli mcp`, the form the README gives for a client's configuration),
// driven over stdio by the SDK's own `Client` and `StdioClientTransport`, against a real server
// process in a temp data directory: the tools and their hints, a create → list → get → delete round
// trip, a create → archive → restore → delete one with session_status, delete refused without
// confirm, the server's error kinds as tool errors, paging, list_snapshots and restore_snapshot on a
// forced delete's work, run_setup on a real operator config, a dry-run reconcile, and wait_for_change
// receiving a change made while it waits.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
// Deno reads the SDK's types only through extensionless specifiers: its "./*" export maps `x.js` to a
// missing `x.js.d.ts` (modelcontextprotocol/typescript-sdk#2701), which would make every SDK type `any`.
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/client/stdio"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { z } from "@hono/zod-openapi";
import { CreateSessionSchema } from "../../src/http/_schemas.ts";
import { APP_DIR_NAME } from "../../src/platform/data_dir.ts";
import type { Repository, Session } from "../../src/types.ts";
import { cliEntry, type CliWorld, cliWorld, jsonOf } from "../fixtures/cli_fixture.ts";
import { git, makeRepository } from "../fixtures/git_fixtures.ts";
import { isBun, runtimeArgv } from "../fixtures/helpers.ts";
import { root } from "../fixtures/server_process.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const onLinux = process.platform === "linux";

interface Mcp {
  client: Client;
  /** What the MCP server wrote on stderr so far. */
  stderr(): string;
  close(): Promise<void>;
  /** `close`, at the end of an `await using` block. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts `slo mcp` (or `entry` with `args`) for `world`'s data directory, from a folder that is not
 * the checkout, and connects the SDK's client to it.
 */
async function startMcp(world: CliWorld, options: { entry?: string; args?: string[] } = {}): Promise<Mcp> {
  const extra = onLinux ? [] : ["--data-dir", world.dataDir];
  const argv = options.entry !== undefined
    ? runtimeArgv(options.entry, [...(options.args ?? []), ...extra])
    : isBun
    ? runtimeArgv(cliEntry, ["mcp", ...(options.args ?? []), ...extra])
    : [process.execPath, "task", "--cwd", root, "cli", "mcp", ...(options.args ?? []), ...extra];
  const transport = new StdioClientTransport({
    command: argv[0],
    args: argv.slice(1),
    env: { ...process.env as Record<string, string>, ...world.env },
    cwd: world.base,
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr!.on("data", (chunk) => (stderr += chunk));
  const client = new Client({ name: "slo-test", version: "1.0.0" });
  try {
    await client.connect(transport);
  } catch (error) {
    throw new Error(`${(error as Error).message}\nstderr: ${stderr}`);
  }
  const close = () => client.close();
  return { client, stderr: () => stderr, close, [Symbol.asyncDispose]: close };
}

async function call(mcp: Mcp, name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> {
  return await mcp.client.callTool({ name, arguments: args }) as CallToolResult;
}

const textOf = (result: CallToolResult): string =>
  result.content.map((part) => (part.type === "text" ? part.text : "")).join("\n");

/** The call succeeded; its structured content, which its text carries as JSON too. */
function ok<T>(result: CallToolResult): T {
  assert.notEqual(result.isError, true, textOf(result));
  assert.ok(result.structuredContent, "structured content");
  assert.deepEqual(JSON.parse(textOf(result)), result.structuredContent);
  return result.structuredContent as T;
}

/** The call was a tool error whose text matches `message`. */
function failed(result: CallToolResult, message: RegExp): void {
  assert.equal(result.isError, true, `not an error: ${textOf(result)}`);
  assert.match(textOf(result), message);
}

async function addRepository(world: CliWorld, name = "app"): Promise<Repository> {
  const path = join(world.base, name);
  makeRepository(path);
  return jsonOf<Repository>(await world.cli(["repo", "add", path, "--json"]));
}

/**
 * Calls wait_for_change with `args` and runs `during` once the wait has begun (the tool's progress
 * notification says it is subscribed); resolves with the wait's result and what `during` gave.
 */
async function waitWhile<T>(
  mcp: Mcp,
  args: Record<string, unknown>,
  during: () => Promise<T>,
): Promise<[CallToolResult, T]> {
  let begun: (() => void) | null = null;
  const subscribed = new Promise<void>((resolve) => (begun = resolve));
  const waiting = mcp.client.callTool({ name: "wait_for_change", arguments: args }, undefined, {
    onprogress: () => begun?.(),
  });
  const done = subscribed.then(during);
  // Whichever fails first fails the test; both are awaited either way.
  const [result, value] = await Promise.all([waiting, done]);
  return [result as CallToolResult, value];
}

const TOOLS = [
  "list_repositories",
  "list_sessions",
  "get_session",
  "session_status",
  "create_session",
  "archive_session",
  "restore_session",
  "fork_session",
  "delete_session",
  "list_snapshots",
  "restore_snapshot",
  "run_setup",
  "reconcile",
  "wait_for_change",
];

test("mcp: the tools, their hints, and input schemas from the HTTP routes' own; with no server a call says so", async () => {
  await using world = cliWorld("slo-mcp-tools-");
  await using mcp = await startMcp(world);
  const { tools } = await mcp.client.listTools();
  // Exactly these: none runs a command.
  assert.deepEqual(tools.map((tool) => tool.name), TOOLS);
  const byName = new Map(tools.map((tool) => [tool.name, tool]));
  const reads = [
    "list_repositories",
    "list_sessions",
    "get_session",
    "session_status",
    "list_snapshots",
    "reconcile",
    "wait_for_change",
  ];
  for (const name of reads) {
    assert.equal(byName.get(name)!.annotations?.readOnlyHint, true, name);
    assert.notEqual(byName.get(name)!.annotations?.destructiveHint, true, name);
  }
  const remove = byName.get("delete_session")!;
  assert.equal(remove.annotations?.destructiveHint, true);
  assert.equal(remove.annotations?.readOnlyHint, false);
  const create = byName.get("create_session")!;
  assert.equal(create.annotations?.readOnlyHint, false);
  assert.equal(create.annotations?.destructiveHint, false);
  // Archive, restore and a setup's rerun change things but lose nothing: not read-only, not destructive; each
  // takes the path's id only.
  for (const name of ["archive_session", "restore_session", "run_setup"]) {
    const tool = byName.get(name)!;
    assert.equal(tool.annotations?.readOnlyHint, false, name);
    assert.equal(tool.annotations?.destructiveHint, false, name);
    assert.deepEqual(Object.keys(tool.inputSchema.properties!), ["id"], name);
    assert.deepEqual(tool.inputSchema.required, ["id"], name);
  }
  assert.deepEqual(Object.keys(byName.get("session_status")!.inputSchema.properties!), ["id"]);
  // The snapshot tools: the repository's id and the route's query or body, the restore's ref required.
  assert.deepEqual(Object.keys(byName.get("list_snapshots")!.inputSchema.properties!).sort(), ["id", "sessionId"]);
  assert.deepEqual(byName.get("list_snapshots")!.inputSchema.required, ["id"]);
  const restoreSnapshot = byName.get("restore_snapshot")!;
  assert.equal(restoreSnapshot.annotations?.readOnlyHint, false);
  assert.equal(restoreSnapshot.annotations?.destructiveHint, false);
  assert.deepEqual(Object.keys(restoreSnapshot.inputSchema.properties!).sort(), [
    "branchName",
    "id",
    "ref",
    "title",
    "worktreeName",
  ]);
  assert.deepEqual([...restoreSnapshot.inputSchema.required!].sort(), ["id", "ref"]);
  const snapshotEntry = (byName.get("list_snapshots")!.outputSchema!.properties!.snapshots as {
    items: { properties: Record<string, unknown> };
  }).items.properties;
  assert.ok(snapshotEntry.bytes && snapshotEntry.changedPaths && snapshotEntry.sessionExists);
  assert.match(byName.get("run_setup")!.description!, /nothing in this call can name or change a command/);
  // Their results are the routes' answers: the archive's snapshot ref, the status's git fields.
  assert.ok(byName.get("archive_session")!.outputSchema?.properties?.snapshotRef);
  assert.deepEqual(Object.keys(byName.get("session_status")!.outputSchema!.properties!).sort(), [
    "ahead",
    "behind",
    "dirty",
    "diskBytes",
    "landed",
    "lastChangedAt",
  ]);
  for (const tool of tools) {
    assert.ok(tool.description && tool.title, tool.name);
    assert.equal(tool.outputSchema?.type, "object", tool.name);
  }

  // create_session takes the body of POST /v1/sessions, as its zod schema says, unknown fields refused.
  const body = z.toJSONSchema(CreateSessionSchema) as { properties: object; required: string[] };
  assert.deepEqual(create.inputSchema.properties, body.properties);
  assert.deepEqual([...create.inputSchema.required!].sort(), [...body.required].sort());
  assert.equal((create.inputSchema as { additionalProperties?: unknown }).additionalProperties, false);
  // delete_session: the path's id, the query's flags as booleans, and its own confirm; force stays its own.
  assert.deepEqual(Object.keys(remove.inputSchema.properties!).sort(), ["confirm", "deleteBranch", "force", "id"]);
  assert.deepEqual(remove.inputSchema.required, ["id"]);
  assert.equal((remove.inputSchema.properties!.force as { type: string }).type, "boolean");
  // reconcile has no way to ask for a real run.
  assert.deepEqual(Object.keys(byName.get("reconcile")!.inputSchema.properties ?? {}), []);
  assert.deepEqual(Object.keys(byName.get("list_sessions")!.inputSchema.properties!).sort(), [
    "cursor",
    "limit",
    "parentSessionId",
    "repositoryId",
    "status",
  ]);
  assert.equal(
    (byName.get("wait_for_change")!.inputSchema.properties!.timeoutSeconds as { maximum: number }).maximum,
    50,
  );

  // No server is running for this data directory: a tool error that says so and how to start one.
  const result = await call(mcp, "list_sessions");
  failed(result, /^unreachable: no server is running for .+ \(it has no server\.json\)\nhint: start one with/);
  // Nothing but the protocol reached stdout (the client would have failed on anything else); the
  // process is still serving.
  assert.deepEqual((await mcp.client.listTools()).tools.length, TOOLS.length);
  // Each call finds the server again: one started now is found by the same MCP server.
  await world.serve();
  assert.deepEqual(ok(await call(mcp, "list_sessions")), { sessions: [], nextCursor: null });
});

test("mcp: create → list → get → delete; delete refused without confirm; the server's errors as tool errors", async () => {
  await using world = cliWorld("slo-mcp-flow-");
  await world.serve();
  await using mcp = await startMcp(world);
  const repository = await addRepository(world);
  const repositories = ok<{ repositories: Repository[]; nextCursor: string | null }>(
    await call(mcp, "list_repositories"),
  );
  assert.deepEqual(repositories, { repositories: [repository], nextCursor: null });

  const session = ok<Session>(
    await call(mcp, "create_session", { repositoryId: repository.id, title: "Add dark mode", isWorktree: true }),
  );
  assert.match(session.id, UUID);
  assert.equal(session.title, "Add dark mode");
  assert.ok(session.worktreePath !== null && existsSync(join(session.worktreePath, "README.md")));
  assert.match(git(repository.path, "branch", "--list"), new RegExp(session.branchName!));

  const listed = ok<{ sessions: Session[]; nextCursor: string | null }>(
    await call(mcp, "list_sessions", { repositoryId: repository.id }),
  );
  assert.deepEqual(listed, { sessions: [session], nextCursor: null });
  assert.deepEqual(ok<Session>(await call(mcp, "get_session", { id: session.id })), session);

  // Without confirm: true nothing is deleted, whatever else is asked.
  for (const args of [{ id: session.id }, { id: session.id, confirm: false, force: true }]) {
    failed(await call(mcp, "delete_session", args), /^InvalidInput: .*confirm: true/);
  }
  assert.deepEqual(ok<Session>(await call(mcp, "get_session", { id: session.id })), session);
  assert.ok(existsSync(session.worktreePath!));

  const deleted = ok<Session & { worktreeRemoved: boolean; branchDeleted: boolean }>(
    await call(mcp, "delete_session", { id: session.id, confirm: true, deleteBranch: true }),
  );
  assert.equal(deleted.id, session.id);
  assert.equal(deleted.worktreeRemoved, true);
  assert.equal(deleted.branchDeleted, true);
  assert.equal(existsSync(session.worktreePath!), false);
  assert.doesNotMatch(git(repository.path, "branch", "--list"), /session\//);
  failed(await call(mcp, "get_session", { id: session.id }), /^SessionNotFound: /);
  failed(await call(mcp, "delete_session", { id: session.id, confirm: true }), /^SessionNotFound: /);
  assert.deepEqual(jsonOf(await world.cli(["list", "--json"])), []);

  // Bad input is the server's own refusal, with its kind, and writes nothing.
  failed(
    await call(mcp, "create_session", { repositoryId: repository.id, title: "", isWorktree: false }),
    /^InvalidInput: .*title/,
  );
  failed(
    await call(mcp, "create_session", { repositoryId: repository.id, title: "a\u200bb", isWorktree: false }),
    /^InvalidInput: .*title/,
  );
  failed(
    await call(mcp, "create_session", {
      repositoryId: "0190c0de-0000-7000-8000-000000000000",
      title: "Lost",
      isWorktree: false,
    }),
    /^RepositoryNotFound: /,
  );
  failed(await call(mcp, "get_session", { id: "not-an-id" }), /^InvalidInput: /);
  failed(await call(mcp, "list_sessions", { cursor: "garbage" }), /^InvalidInput: /);
  // What the schema refuses never reaches the server: an unknown field, a wrong type.
  failed(
    await call(mcp, "create_session", { repositoryId: repository.id, title: "x", isWorktree: false, shell: "ls" }),
    /shell/,
  );
  failed(await call(mcp, "list_sessions", { limit: "many" }), /limit/);
  assert.deepEqual(jsonOf(await world.cli(["list", "--json"])), []);

  // Paging: limit and the nextCursor handed back.
  const made: Session[] = [];
  for (const title of ["one", "two", "three"]) {
    made.push(
      ok<Session>(await call(mcp, "create_session", { repositoryId: repository.id, title, isWorktree: false })),
    );
  }
  const first = ok<{ sessions: Session[]; nextCursor: string | null }>(
    await call(mcp, "list_sessions", { limit: 2 }),
  );
  assert.deepEqual(first.sessions.map((s) => s.title), ["one", "two"]);
  assert.ok(first.nextCursor);
  const second = ok<{ sessions: Session[]; nextCursor: string | null }>(
    await call(mcp, "list_sessions", { limit: 2, cursor: first.nextCursor }),
  );
  assert.deepEqual(second, { sessions: [made[2]], nextCursor: null });

  // A dirty worktree: confirm alone is refused (Conflict, nothing lost, a hint); force saves the work, then deletes.
  const dirty = ok<Session>(
    await call(mcp, "create_session", { repositoryId: repository.id, title: "Dirty", isWorktree: true }),
  );
  writeFileSync(join(dirty.worktreePath!, "notes.txt"), "unsaved\n");
  failed(
    await call(mcp, "delete_session", { id: dirty.id, confirm: true }),
    /^Conflict: .*\nhint: retry with force: true/s,
  );
  assert.ok(existsSync(join(dirty.worktreePath!, "notes.txt")));
  const forced = ok<Session & { snapshotRef: string | null }>(
    await call(mcp, "delete_session", { id: dirty.id, confirm: true, force: true }),
  );
  assert.equal(forced.snapshotRef, `refs/session-snapshots/${dirty.id}`);
  assert.equal(existsSync(dirty.worktreePath!), false);
  assert.match(git(repository.path, "show", `${forced.snapshotRef}:notes.txt`), /unsaved/);
});

test("mcp: session_status, then create → archive → restore → delete on a worktree session; refusals as tool errors", async () => {
  await using world = cliWorld("slo-mcp-archive-");
  await world.serve();
  await using mcp = await startMcp(world);
  const repository = await addRepository(world);
  const session = ok<Session>(
    await call(mcp, "create_session", { repositoryId: repository.id, title: "Park me", isWorktree: true }),
  );
  const worktree = session.worktreePath!;
  writeFileSync(join(worktree, "notes.txt"), "work in progress\n");

  // Its git state, read-only: the untracked file makes it dirty; nothing of its own on the branch yet.
  const status = ok<{ dirty: boolean; ahead: number; behind: number; landed: string | null; diskBytes: number }>(
    await call(mcp, "session_status", { id: session.id }),
  );
  assert.equal(status.dirty, true);
  assert.equal(status.ahead, 0);
  assert.equal(status.behind, 0);
  assert.equal(status.landed, null);
  assert.ok(status.diskBytes > 0);
  assert.ok(existsSync(join(worktree, "notes.txt")), "reading the status changed nothing");

  // Archive: the work saved under its snapshot ref, the folder gone, the branch and row kept.
  const archived = ok<Session & { snapshotRef: string | null; head: string; worktreeRemoved: boolean }>(
    await call(mcp, "archive_session", { id: session.id }),
  );
  assert.equal(archived.id, session.id);
  assert.equal(archived.status, "archived");
  assert.equal(archived.worktreeRemoved, true);
  assert.match(archived.snapshotRef!, new RegExp(`^refs/session-snapshots/${session.id}`));
  assert.equal(existsSync(worktree), false);
  assert.match(git(repository.path, "show", `${archived.snapshotRef}:notes.txt`), /work in progress/);
  assert.match(git(repository.path, "branch", "--list"), new RegExp(session.branchName!));
  assert.equal(ok<Session>(await call(mcp, "get_session", { id: session.id })).status, "archived");
  const listed = ok<{ sessions: Session[] }>(await call(mcp, "list_sessions", { status: "archived" }));
  assert.deepEqual(listed.sessions.map((s) => s.id), [session.id]);
  // An archived session's status: what its archive saved, no folder on disk.
  const parked = ok<{ dirty: boolean; diskBytes: number }>(await call(mcp, "session_status", { id: session.id }));
  assert.equal(parked.dirty, true);
  assert.equal(parked.diskBytes, 0);
  // Archived already: the server's Conflict, nothing changed.
  failed(await call(mcp, "archive_session", { id: session.id }), /^Conflict: .*archived/);

  // Restore: the folder back on its branch, the work uncommitted again.
  const restored = ok<Session>(await call(mcp, "restore_session", { id: session.id }));
  assert.equal(restored.id, session.id);
  assert.equal(restored.status, "active");
  assert.equal(restored.worktreePath, worktree);
  assert.equal(readFileSync(join(worktree, "notes.txt"), "utf8"), "work in progress\n");
  assert.equal(git(worktree, "rev-parse", "--abbrev-ref", "HEAD"), session.branchName);
  assert.match(git(worktree, "status", "--porcelain"), /^\?\? notes\.txt$/m);
  failed(await call(mcp, "restore_session", { id: session.id }), /^Conflict: .*not archived/);

  // Fork: a new session from its commit with its work; the source as it was.
  const fork = ok<Session>(await call(mcp, "fork_session", { id: session.id, title: "Second try" }));
  assert.notEqual(fork.id, session.id);
  assert.equal(fork.title, "Second try");
  assert.equal(readFileSync(join(fork.worktreePath!, "notes.txt"), "utf8"), "work in progress\n");
  assert.match(git(worktree, "status", "--porcelain"), /^\?\? notes\.txt$/m);
  failed(await call(mcp, "fork_session", { id: session.id, branchName: fork.branchName }), /^Conflict: /);
  ok(await call(mcp, "delete_session", { id: fork.id, confirm: true, force: true, deleteBranch: true }));

  // The other refusals, with the server's kinds: a session without a worktree, an unknown or malformed id.
  const plain = ok<Session>(
    await call(mcp, "create_session", { repositoryId: repository.id, title: "No worktree", isWorktree: false }),
  );
  failed(await call(mcp, "archive_session", { id: plain.id }), /^InvalidInput: /);
  failed(await call(mcp, "restore_session", { id: plain.id }), /^InvalidInput: /);
  failed(await call(mcp, "session_status", { id: plain.id }), /^InvalidInput: /);
  const unknown = "0190c0de-0000-4000-8000-000000000000";
  for (const name of ["archive_session", "restore_session", "session_status"]) {
    failed(await call(mcp, name, { id: unknown }), /^SessionNotFound: /);
    failed(await call(mcp, name, { id: "not-an-id" }), /^InvalidInput: /);
    failed(await call(mcp, name, { id: session.id, force: true }), /force/);
  }

  // And gone: the restored session deletes as any other (its work forced away, saved first).
  const deleted = ok<Session & { worktreeRemoved: boolean }>(
    await call(mcp, "delete_session", { id: session.id, confirm: true, force: true }),
  );
  assert.equal(deleted.worktreeRemoved, true);
  assert.equal(existsSync(worktree), false);
  failed(await call(mcp, "get_session", { id: session.id }), /^SessionNotFound: /);
  ok(await call(mcp, "delete_session", { id: plain.id, confirm: true }));
  assert.deepEqual(jsonOf(await world.cli(["list", "--json"])), []);
});

test("mcp: list_snapshots shows a forced delete's work with its size, restore_snapshot brings it back; refusals", async () => {
  await using world = cliWorld("slo-mcp-snapshots-");
  await world.serve();
  await using mcp = await startMcp(world);
  const repository = await addRepository(world);
  assert.deepEqual(ok(await call(mcp, "list_snapshots", { id: repository.id })), { snapshots: [] });
  const lost = ok<Session>(
    await call(mcp, "create_session", { repositoryId: repository.id, title: "Lost work", isWorktree: true }),
  );
  writeFileSync(join(lost.worktreePath!, "notes.txt"), "half done\n");
  writeFileSync(join(lost.worktreePath!, "README.md"), "changed\n");
  const forced = ok<{ snapshotRef: string }>(
    await call(mcp, "delete_session", { id: lost.id, confirm: true, force: true }),
  );
  const ref = `refs/session-snapshots/${lost.id}`;
  assert.equal(forced.snapshotRef, ref);

  type Listed = {
    ref: string;
    sessionId: string;
    commit: string;
    reason: string;
    changedPaths: number;
    bytes: number;
    sessionExists: boolean;
  };
  const { snapshots } = ok<{ snapshots: Listed[] }>(
    await call(mcp, "list_snapshots", { id: repository.id, sessionId: lost.id }),
  );
  assert.equal(snapshots.length, 1);
  const [snapshot] = snapshots;
  assert.equal(snapshot.ref, ref);
  assert.equal(snapshot.sessionId, lost.id);
  assert.equal(snapshot.commit, git(repository.path, "rev-parse", ref));
  assert.equal(snapshot.reason, "a forced close");
  assert.equal(snapshot.changedPaths, 2);
  assert.equal(snapshot.bytes, "half done\n".length + "changed\n".length);
  assert.equal(snapshot.sessionExists, false);
  // The same answer as the HTTP API's, through the CLI's JSON.
  assert.deepEqual(jsonOf(await world.cli(["snapshots", "app", "--json"])), { snapshots });

  const found = ok<Session>(await call(mcp, "restore_snapshot", { id: repository.id, ref, title: "Found" }));
  assert.equal(found.title, "Found");
  assert.equal(found.status, "active");
  assert.equal(readFileSync(join(found.worktreePath!, "notes.txt"), "utf8"), "half done\n");
  assert.equal(git(found.worktreePath!, "status", "--porcelain"), "M README.md\n?? notes.txt");
  // Without a title: the ref's name; the snapshot stays for another restore.
  const again = ok<Session>(await call(mcp, "restore_snapshot", { id: repository.id, ref }));
  assert.equal(again.title, `Restored ${lost.id}`);
  assert.equal(git(repository.path, "rev-parse", ref), snapshot.commit);

  // Refusals, with the server's kinds, and nothing made.
  const before = jsonOf<Session[]>(await world.cli(["list", "--json"])).length;
  failed(await call(mcp, "restore_snapshot", { id: repository.id, ref: "refs/heads/main" }), /^InvalidInput: /);
  failed(await call(mcp, "restore_snapshot", { id: repository.id, ref: "--output=/tmp/x" }), /^InvalidInput: /);
  failed(
    await call(mcp, "restore_snapshot", { id: repository.id, ref: `refs/session-snapshots/${crypto.randomUUID()}` }),
    /^SnapshotNotFound: /,
  );
  failed(
    await call(mcp, "restore_snapshot", { id: repository.id, ref, branchName: found.branchName }),
    /^Conflict: /,
  );
  failed(await call(mcp, "restore_snapshot", { id: crypto.randomUUID(), ref }), /^RepositoryNotFound: /);
  failed(await call(mcp, "list_snapshots", { id: crypto.randomUUID() }), /^RepositoryNotFound: /);
  failed(await call(mcp, "list_snapshots", { id: repository.id, sessionId: "nope" }), /^InvalidInput: /);
  // What the schema refuses never reaches the server.
  failed(await call(mcp, "restore_snapshot", { id: repository.id }), /ref/);
  failed(await call(mcp, "restore_snapshot", { id: repository.id, ref, base: "main" }), /base/);
  assert.equal(jsonOf<Session[]>(await world.cli(["list", "--json"])).length, before);
});

test("mcp: run_setup runs the operator's setup again in the worktree; refused while it runs and without one", async () => {
  await using world = cliWorld("slo-mcp-setup-");
  // The operator's config gives `app` one setup command, which records its run and then waits for the
  // test to let it end (a `release` file in the worktree), so that "running" is a state the test holds.
  const configHome = join(world.base, "config");
  const appPath = join(world.base, "app");
  mkdirSync(join(configHome, APP_DIR_NAME), { recursive: true });
  const gate = 'echo "run $SLO_SESSION_ID" >> runs.txt; until [ -e release ]; do sleep 0.05; done; rm release';
  writeFileSync(
    join(configHome, APP_DIR_NAME, "config.json"),
    JSON.stringify({ repositories: { [appPath]: { setup: [["sh", "-c", gate]] } } }),
  );
  await world.serve({ env: { XDG_CONFIG_HOME: configHome } });
  await using mcp = await startMcp(world);
  const repository = await addRepository(world);
  const plainRepository = await addRepository(world, "plain");

  const session = ok<Session>(
    await call(mcp, "create_session", { repositoryId: repository.id, title: "With setup", isWorktree: true }),
  );
  assert.equal(session.setup?.state, "running");
  const worktree = session.worktreePath!;
  // Still running (it waits for release): a second run is the server's Conflict.
  failed(await call(mcp, "run_setup", { id: session.id }), /^Conflict: .*already running/);
  const settled = async () => {
    writeFileSync(join(worktree, "release"), "");
    for (let attempt = 0; attempt < 400; attempt++) {
      const current = ok<Session>(await call(mcp, "get_session", { id: session.id }));
      if (current.setup?.state !== "running") return current;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error("the setup never ended");
  };
  assert.equal((await settled()).setup?.state, "succeeded");

  // Run again: the answer at once, its setup running; it runs the same command in the same worktree.
  const rerun = ok<Session>(await call(mcp, "run_setup", { id: session.id }));
  assert.equal(rerun.id, session.id);
  assert.equal(rerun.setup?.state, "running");
  const done = await settled();
  assert.equal(done.setup?.state, "succeeded");
  assert.equal(readFileSync(join(worktree, "runs.txt"), "utf8"), `run ${session.id}\nrun ${session.id}\n`);

  // Refusals with the server's kinds: no setup in the config, no worktree, archived, unknown, bad arguments.
  const plain = ok<Session>(
    await call(mcp, "create_session", { repositoryId: plainRepository.id, title: "Plain", isWorktree: true }),
  );
  failed(await call(mcp, "run_setup", { id: plain.id }), /^InvalidInput: .*no setup commands/);
  const bare = ok<Session>(
    await call(mcp, "create_session", { repositoryId: repository.id, title: "Bare", isWorktree: false }),
  );
  failed(await call(mcp, "run_setup", { id: bare.id }), /^InvalidInput: .*no worktree/);
  ok(await call(mcp, "archive_session", { id: session.id }));
  failed(await call(mcp, "run_setup", { id: session.id }), /^Conflict: .*archived/);
  failed(await call(mcp, "run_setup", { id: crypto.randomUUID() }), /^SessionNotFound: /);
  failed(await call(mcp, "run_setup", { id: "not-an-id" }), /^InvalidInput: /);
  failed(await call(mcp, "run_setup", { id: plain.id, command: ["ls"] }), /command/);
});

test("mcp: reconcile is a dry run; wait_for_change returns the change made while it waits, or no change", async () => {
  await using world = cliWorld("slo-mcp-wait-");
  const server = await world.serve();
  // The ./mcp export run as a program is the same server.
  await using mcp = await startMcp(world, { entry: join(root, "src/mcp/mod.ts") });
  const repository = await addRepository(world);
  const session = ok<Session>(
    await call(mcp, "create_session", { repositoryId: repository.id, title: "Keep me", isWorktree: true }),
  );

  // A worktree gone behind the server's back: reconcile reports it and changes nothing; a real run would.
  rmSync(session.worktreePath!, { recursive: true, force: true });
  const report = ok<{ dryRun: boolean; findings: { kind: string; sessionId: string | null }[] }>(
    await call(mcp, "reconcile"),
  );
  assert.equal(report.dryRun, true);
  assert.ok(
    report.findings.some((f) => f.kind === "missing-worktree" && f.sessionId === session.id),
    textOf(
      await call(mcp, "reconcile"),
    ),
  );
  assert.equal(existsSync(session.worktreePath!), false);
  failed(await call(mcp, "reconcile", { dryRun: false }), /dryRun/);
  assert.equal(existsSync(session.worktreePath!), false);
  assert.equal((await world.cli(["reconcile"])).code, 0);
  assert.ok(existsSync(session.worktreePath!), "the real run recreates it");

  // Waiting for any change: the session created once the wait has begun (its progress notification).
  // A worktree create streams its progress first, which is no change: the created session is the answer.
  const [anyChange, created] = await waitWhile(mcp, { timeoutSeconds: 50 }, async () =>
    ok<Session>(
      await call(mcp, "create_session", { repositoryId: repository.id, title: "New one", isWorktree: true }),
    ));
  const change = ok<{ changed: boolean; event: { type: string; session: Session } }>(anyChange);
  assert.equal(change.changed, true);
  assert.equal(change.event.type, "session.created");
  assert.deepEqual(change.event.session, created);

  // Waiting for one session: a change to another is passed over, the delete of this one returned.
  const [aboutOne] = await waitWhile(mcp, { sessionId: session.id }, async () => {
    ok(await call(mcp, "delete_session", { id: created.id, confirm: true }));
    ok(await call(mcp, "delete_session", { id: session.id, confirm: true }));
  });
  const deleted = ok<{ changed: boolean; event: { type: string; session: Session } }>(aboutOne);
  assert.equal(deleted.event.type, "session.deleted");
  assert.equal(deleted.event.session.id, session.id);

  // Nothing changes: after its timeout, no change.
  assert.deepEqual(ok(await call(mcp, "wait_for_change", { timeoutSeconds: 1 })), { changed: false, event: null });
  failed(await call(mcp, "wait_for_change", { timeoutSeconds: 51 }), /timeoutSeconds/);

  // --url and --token-file reach a server with no discovery file to read (here: a data directory without one).
  await using direct = await startMcp(world, {
    args: ["--url", await server.url, "--token-file", join(world.dataDir, "token"), "--data-dir", world.base],
  });
  assert.deepEqual(ok(await call(direct, "list_repositories")), { repositories: [repository], nextCursor: null });
});

test("mcp: slo mcp ends with exit code 0 when its client closes stdin, having written nothing to stdout", async () => {
  await using world = cliWorld("slo-mcp-end-");
  const argv = runtimeArgv(cliEntry, ["mcp", ...(onLinux ? [] : ["--data-dir", world.dataDir])]);
  const child = spawn(argv[0], argv.slice(1), {
    cwd: world.base,
    env: { ...process.env, ...world.env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const exit = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  child.stdin.end();
  assert.equal(await exit, 0, stderr);
  assert.equal(stdout, "");
});
