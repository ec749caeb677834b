// Issue 22: the operator's config file (`--config`) on a real server process. Its `include` gives
// new worktrees the checkout's ignored files; nothing in a repository (the setup files other tools
// read) and nothing in a request (a `setup` field) can make the server run a command; a bad config
// is one line and exit 2, before anything is written.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { git, makeRepository } from "../fixtures/git_fixtures.ts";
import { tempDir } from "../fixtures/helpers.ts";
import { servedProcess } from "../fixtures/disposable.ts";
import { apiCaller, serveUntilExit } from "../fixtures/server_process.ts";

// A shell line that would leave `marker` behind if anything ran it.
const touch = (marker: string) => `touch ${marker}`;

// Every setup file of another tool we know of, each asking to run a command.
function plantForeignSetup(repo: string, marker: string): void {
  const line = touch(marker);
  writeFileSync(join(repo, "conductor.json"), JSON.stringify({ scripts: { setup: line, run: line } }));
  writeFileSync(join(repo, "paseo.json"), JSON.stringify({ setup: [line], worktree: { setup: line } }));
  writeFileSync(join(repo, ".worktreesetup"), `${line}\n`);
  writeFileSync(join(repo, "slo.json"), JSON.stringify({ setup: [["sh", "-c", line]] }));
  writeFileSync(join(repo, ".slo.json"), JSON.stringify({ setup: [["sh", "-c", line]], include: ["*"] }));
  writeFileSync(join(repo, ".gitignore"), ".env\n");
  // A `.worktreeinclude` is patterns, never commands, whatever it holds.
  writeFileSync(join(repo, ".worktreeinclude"), `.env\n$(${line})\n\`${line}\`\n`);
  git(repo, "add", ".");
  git(repo, "commit", "-q", "-m", "other tools' setup files");
  writeFileSync(join(repo, ".env"), "KEY=value\n");
}

test("a configured repository's worktrees get its included files, and nothing of the repository runs", async () => {
  using dir = tempDir("slo-config-");
  const repo = join(dir.path, "app");
  makeRepository(repo);
  const marker = join(dir.path, "ran");
  plantForeignSetup(repo, marker);
  const config = join(dir.path, "config.json");
  writeFileSync(config, JSON.stringify({ repositories: { [repo]: { include: ["notes.local"] } } }));
  writeFileSync(join(repo, "notes.local"), "mine\n");
  writeFileSync(join(repo, ".gitignore"), ".env\nnotes.local\n");
  git(repo, "commit", "-q", "-am", "ignore notes");
  await using server = servedProcess(
    ["--port", "0", "--data-dir", join(dir.path, "data"), "--config", config],
    {},
    "terminate",
  );
  const url = await server.url;
  assert.match(server.output(), /config: .*config\.json \(1 repository setting\(s\)\)/);
  const call = apiCaller(url, join(dir.path, "data"));
  // A request cannot name a command, on a repository or on a session.
  const refusedRepository = await call("POST", "/v1/repositories", {
    path: repo,
    name: "app",
    setup: [["sh", "-c", touch(marker)]],
  });
  assert.equal(refusedRepository.status, 400);
  assert.equal((await call("GET", "/v1/repositories")).body.repositories.length, 0, "nothing written");
  const repository = (await call("POST", "/v1/repositories", { path: repo, name: "app" })).body;
  const refusedSession = await call("POST", "/v1/sessions", {
    repositoryId: repository.id,
    title: "x",
    isWorktree: true,
    setup: [["sh", "-c", touch(marker)]],
  });
  assert.equal(refusedSession.status, 400);
  assert.equal((await call("GET", "/v1/sessions")).body.sessions.length, 0, "nothing written");

  const created = await call("POST", "/v1/sessions", {
    repositoryId: repository.id,
    title: "ready",
    isWorktree: true,
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const worktree = created.body.worktreePath;
  // The config's pattern and the repository's `.worktreeinclude` (patterns only) both count.
  assert.equal(readFileSync(join(worktree, "notes.local"), "utf8"), "mine\n");
  assert.equal(readFileSync(join(worktree, ".env"), "utf8"), "KEY=value\n");
  await server.waitFor(/included 2 path\(s\)/);
  const deleted = await call("DELETE", `/v1/sessions/${created.body.id}`);
  assert.equal(deleted.status, 200);
  assert.deepEqual(deleted.body.included.entries, [".env", "notes.local"]);
  assert.equal(existsSync(marker), false, "no command of the repository's ran");
  assert.deepEqual(readdirSync(dir.path).filter((name) => name === "ran"), []);
});

test("a bad config file is one line and exit 2, and nothing is written", async () => {
  using dir = tempDir("slo-badconfig-");
  const cases: Array<[unknown, RegExp]> = [
    [{ repos: {} }, /unknown key "repos"/],
    [{ repositories: { "relative/app": {} } }, /must be absolute/],
    [{ repositories: { "/src/app": { setup: "npm ci" } } }, /argument array/],
    [{ repositories: { "/src/app": { setup: [[]] } } }, /non-empty argument array/],
    [{ repositories: { "/src/app": { ports: 99 } } }, /ports must be a whole number from 0 to 16/],
    [{ repositories: { "/src/app": { pool: 17 } } }, /pool must be a whole number from 0 to 16/],
    [{ repositories: { "/src/app": { sparse: ["../up"] } } }, /sparse\[0\] must not hold a \.\. segment/],
    [{ repositories: { "/src/app": { include: ["ok", "two\nlines"] } } }, /line break/],
    [{ repositories: { "/src/app": { run: ["x"] } } }, /unknown key "run"/],
  ];
  for (const [content, expected] of cases) {
    const config = join(dir.path, "config.json");
    writeFileSync(config, JSON.stringify(content));
    const data = join(dir.path, "data");
    const run = await serveUntilExit(["--port", "0", "--data-dir", data, "--config", config]);
    assert.equal(run.code, 2, run.stderr);
    const lines = run.stderr.trim().split("\n");
    assert.equal(lines.length, 1, run.stderr);
    assert.match(lines[0], /^error: the config file .*config\.json: /);
    assert.match(lines[0], expected);
    assert.equal(existsSync(data), false, "the data directory was not made");
  }
  const missing = await serveUntilExit(["--port", "0", "--data-dir", join(dir.path, "d"), "--config", "/nope.json"]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^error: the config file \/nope\.json: cannot be read/);
  writeFileSync(join(dir.path, "broken.json"), "{ not json");
  const broken = await serveUntilExit([
    "--port",
    "0",
    "--data-dir",
    join(dir.path, "d"),
    "--config",
    join(dir.path, "broken.json"),
  ]);
  assert.equal(broken.code, 2);
  assert.match(broken.stderr, /is not valid JSON/);
});
