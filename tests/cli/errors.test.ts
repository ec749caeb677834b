// The command line's failures as scripts and people meet them, against real server processes: the
// exit codes that tell an unreachable server (no server, a stale server.json, nothing answering),
// not found, conflict, invalid input and other failures apart, each said in a line with a hint;
// and `rm` of a dirty worktree, refused without a terminal, asked about on one (a real pty).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import process from "node:process";
import type { Session } from "../../src/types.ts";
import { DISCOVERY_FILE_NAME } from "../../src/server/discovery.ts";
import { makeRepository } from "../fixtures/git_fixtures.ts";
import { runScript, runtimeArgv } from "../fixtures/helpers.ts";
import { assertFails, cliEntry, cliWorld, jsonOf } from "../fixtures/cli_fixture.ts";
import { root, serveProcess } from "../fixtures/server_process.ts";

// A TCP port nothing listens on: bound, then closed.
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test("cli: an unreachable server is exit 5 with one line and how to start one: none, stale after SIGKILL, silent", async () => {
  await using world = cliWorld("slo-cli-unreach-");
  const none = await world.cli(["list"]);
  assertFails(
    none,
    5,
    new RegExp(`^error: no server is running for ${world.dataDir} \\(it has no server\\.json\\)$`, "m"),
  );
  assert.match(none.stderr, /^hint: start one with "deno task serve/m);

  // The example says the same in one line, not a stack trace.
  const example = await runScript(join(root, "examples/http_client.ts"), [], { env: world.env });
  assert.equal(example.code, 1, example.stderr);
  assert.equal(example.stderr.trim().split("\n").length, 1, example.stderr);
  assert.match(
    example.stderr.trim(),
    /^no server is running for .*; start a server with "deno task serve", then run this again$/,
  );

  // A SIGKILLed server leaves its file: the CLI recognises it as stale.
  const server = serveProcess(
    ["--port", "0", ...(process.platform === "linux" ? [] : ["--data-dir", world.dataDir])],
    {
      env: world.env,
    },
  );
  await server.url;
  assert.equal(jsonOf<unknown[]>(await world.cli(["list", "--json"])).length, 0);
  server.signal("SIGKILL");
  await server.closed;
  assert.ok(existsSync(join(world.dataDir, DISCOVERY_FILE_NAME)));
  const stale = await world.cli(["list"]);
  assertFails(
    stale,
    5,
    new RegExp(`^error: stale ${world.dataDir}/server\\.json: its process ${server.child.pid} is gone`),
  );
  assert.match(stale.stderr, /^hint: start one with "deno task serve/m);

  // A process that exists but nothing answering at the address: stale too.
  const port = await closedPort();
  writeFileSync(
    join(world.dataDir, DISCOVERY_FILE_NAME),
    JSON.stringify({
      url: `http://127.0.0.1:${port}`,
      socket: null,
      pid: process.pid,
      version: "0.1.0",
      tokenFile: join(world.dataDir, "token"),
      dataDir: world.dataDir,
      startedAt: new Date().toISOString(),
    }),
  );
  assertFails(await world.cli(["list"]), 5, new RegExp(`nothing answers at http://127\\.0\\.0\\.1:${port}`));
  writeFileSync(join(world.dataDir, DISCOVERY_FILE_NAME), "{ not json");
  assertFails(await world.cli(["list"]), 5, /server\.json is not a discovery file \(it is not JSON\)/);

  // --url at a port nothing listens on.
  const refused = await world.cli(["list", "--url", `http://127.0.0.1:${port}`]);
  assertFails(
    refused,
    5,
    new RegExp(`^error: cannot reach the server at http://127\\.0\\.0\\.1:${port}: connection refused$`, "m"),
  );
});

test("cli: not found is exit 3, conflict 4, invalid input 2, a refused token 1", async () => {
  await using world = cliWorld("slo-cli-codes-");
  await world.serve();
  const folder = join(world.base, "app");
  makeRepository(folder);
  jsonOf(await world.cli(["repo", "add", folder, "--json"]));
  const session = jsonOf<Session>(await world.cli(["new", "app", "Kept", "--no-worktree", "--json"]));
  const unknown = crypto.randomUUID();

  // Not found: by prefix (the CLI's own search) and by full id (the server's 404).
  const missing = ["ffff", "eeee"].find((short) => !session.id.endsWith(short) && !session.id.startsWith(short))!;
  assertFails(await world.cli(["show", missing]), 3, new RegExp(`no session id starts or ends with ${missing}`));
  assertFails(await world.cli(["show", unknown]), 3, new RegExp(`no session with id ${unknown}`));
  assertFails(await world.cli(["rm", unknown]), 3, new RegExp(`no session with id ${unknown}`));
  assertFails(await world.cli(["repo", "rm", "nope"]), 3, /no repository matches "nope"/);
  assertFails(await world.cli(["new", "nope", "title"]), 3, /no repository matches "nope"/);
  assertFails(await world.cli(["list", "--repo", "./nope"]), 3, /no repository matches "\.\/nope"/);

  // Conflict.
  assertFails(await world.cli(["repo", "add", folder]), 4, /already has the path/);
  const busy = await world.cli(["repo", "rm", "app"]);
  assertFails(busy, 4, /still has sessions/);
  assert.match(
    busy.stderr,
    /^hint: list them with "slo list --repo [0-9a-f]{8}" and delete each with "slo rm <id>"$/m,
  );

  // Invalid input: the command line's own checks, and the server's 400.
  assertFails(await world.cli(["list", "--bogus"]), 2, /^error: list: Unknown option '--bogus'$/m);
  assertFails(await world.cli(["new", "app"]), 2, /^error: new takes <repo> <title>; got app$/m);
  assertFails(await world.cli(["show"]), 2, /^error: show takes <id>; got none$/m);
  assertFails(await world.cli(["frobnicate"]), 2, /^error: no command "frobnicate"$/m);
  assertFails(await world.cli(["list", "--status", "weird"]), 2, /status: .*one of "active"\|"paused"/);
  assertFails(await world.cli(["new", "app", "t", "--no-worktree", "--branch", "b"]), 2, /--no-worktree cannot be/);
  assertFails(await world.cli(["new", "app", "t", "--worktree", "../escape"]), 2, /worktree/i);
  assertFails(await world.cli(["new", "app", "x".repeat(501), "--no-worktree"]), 2, /title/i);
  assertFails(await world.cli(["repo", "add", join(world.base, "missing")]), 2, /^error: no folder at /m);
  assertFails(await world.cli(["list", "--url", "ftp://example"]), 2, /--url must be an http/);

  // A token file that is not the server's.
  const wrong = join(world.base, "wrong-token");
  writeFileSync(wrong, "not-the-token-of-this-server-at-all-000000\n");
  const refused = await world.cli(["list", "--token-file", wrong]);
  assertFails(refused, 1, /^error: /);
  assert.match(refused.stderr, /^hint: the token file is not this server's/m);
  // The right one, by flag, works.
  assert.equal(
    jsonOf<Session[]>(await world.cli(["list", "--json", "--token-file", join(world.dataDir, "token")])).length,
    1,
  );
});

const hasScript = spawnSync("script", ["--version"], { stdio: "ignore" }).status === 0;

// `args` run in a pseudo-terminal (util-linux `script`); `answer` is typed once the question shows.
function inTerminal(
  args: string[],
  env: Record<string, string>,
  answer: string,
): Promise<{ code: number | null; output: string }> {
  const quote = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`;
  const command = runtimeArgv(cliEntry, args).map(quote).join(" ");
  const child = spawn("script", ["-qec", command, "/dev/null"], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let output = "";
  let asked = false;
  const look = (chunk: Buffer) => {
    output += chunk.toString();
    if (!asked && /\[y\/N\]/.test(output)) {
      asked = true;
      child.stdin.write(`${answer}\n`);
    }
  };
  child.stdout.on("data", look);
  child.stderr.on("data", look);
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, output })));
}

test("cli rm: a dirty worktree is exit 4 with a hint without a terminal, a question on one; --force or --yes deletes it", async () => {
  await using world = cliWorld("slo-cli-dirty-");
  await world.serve();
  const folder = join(world.base, "repo");
  makeRepository(folder);
  jsonOf(await world.cli(["repo", "add", folder, "--json"]));
  const dirty = async (title: string) => {
    const session = jsonOf<Session>(await world.cli(["new", "repo", title, "--json"]));
    writeFileSync(join(session.worktreePath!, "work.txt"), "unsaved work\n");
    return session;
  };
  const listed = async () => jsonOf<Session[]>(await world.cli(["list", "--json"])).map((s) => s.id);

  const first = await dirty("First");
  const refused = await world.cli(["rm", first.id.slice(-8)]);
  assertFails(refused, 4, /modified or untracked files/);
  assert.match(
    refused.stderr,
    new RegExp(
      "^hint: use --force \\(or --yes\\) to delete it anyway; a snapshot of 1 changed path will be kept " +
        "\\(slo snapshots lists it\\)$",
      "m",
    ),
  );
  assert.deepEqual(await listed(), [first.id]);
  assert.ok(existsSync(join(first.worktreePath!, "work.txt")));

  if (hasScript) {
    const declined = await inTerminal(["rm", first.id.slice(-8)], world.env, "n");
    assert.equal(declined.code, 4, declined.output);
    assert.match(
      declined.output,
      /Delete the session anyway, discarding those changes\? \[y\/N\]/,
    );
    assert.match(declined.output, /error: kept session \S+; nothing was deleted/);
    assert.deepEqual(await listed(), [first.id]);

    const accepted = await inTerminal(["rm", first.id.slice(-8)], world.env, "y");
    assert.equal(accepted.code, 0, accepted.output);
    assert.match(accepted.output, new RegExp(`deleted session ${first.id}`));
    assert.equal(existsSync(first.worktreePath!), false);
    assert.deepEqual(await listed(), []);
  } else {
    jsonOf(await world.cli(["rm", first.id, "--force", "--json"]));
  }

  for (const flag of ["--force", "--yes"]) {
    const session = await dirty(`Forced ${flag}`);
    const forced = await world.cli(["rm", session.id, flag]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stdout, new RegExp(`^removed worktree ${session.worktreePath}$`, "m"));
    assert.equal(existsSync(session.worktreePath!), false);
  }
  assert.deepEqual(await listed(), []);
});
