// The server started the way the README says, as a child process: `deno task serve` under Deno,
// `bun src/server/main.ts` under Bun; then the typed client example against it; then SIGTERM.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { startServer } from "../../src/server/serve.ts";
import { openSqliteStore } from "../../src/platform/mod.ts";
import { runScript, tempDir } from "../fixtures/helpers.ts";
import { asyncDisposable, disposable, servedProcess } from "../fixtures/disposable.ts";
import { git, makeRepository } from "../fixtures/git_fixtures.ts";
import { root, serveProcess, serverEntry } from "../fixtures/server_process.ts";

test("server: started as the README says, it answers, runs the client example, and stops cleanly on SIGTERM", async () => {
  using dir = tempDir("slo-serve-");
  // Not awaited once killed: a SIGKILL of `deno task` would leave its server holding the pipes.
  await using server = asyncDisposable(
    serveProcess(["--port", "0", "--data-dir", dir.path], { via: "task" }),
    (server) => {
      if (server.child.exitCode === null) server.child.kill("SIGKILL");
    },
  );
  const url = await server.url;
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.match(server.output(), new RegExp(`token: ${join(dir.path, "token")}`));
  const token = readFileSync(join(dir.path, "token"), "utf8").trim();

  const health = await fetch(`${url}/v1/health`);
  assert.deepEqual(await health.json(), { status: "ok" });
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const repository = await (await fetch(`${url}/v1/repositories`, {
    method: "POST",
    headers,
    body: JSON.stringify({ path: "/src/served", name: "served" }),
  })).json();
  const created = await fetch(`${url}/v1/sessions`, {
    method: "POST",
    headers,
    body: JSON.stringify({ repositoryId: repository.id, title: "kept", isWorktree: false }),
  });
  assert.equal(created.status, 201);
  const session = await created.json();

  const example = await runScript(join(root, "examples/http_client.ts"), [url, join(dir.path, "token")]);
  assert.equal(example.code, 0, example.stderr);
  assert.match(example.stdout, /health: ok/);
  assert.match(example.stdout, /created session [0-9a-f-]{36} \(active\)/);
  assert.match(example.stdout, /secret bytes: 32/);
  assert.match(example.stdout, /sessions in repository: 1/);
  assert.match(example.stdout, /deleted session [0-9a-f-]{36}/);
  assert.match(example.stdout, /deleting again: SessionNotFound/);
  assert.match(example.stdout, /repository removed: true/);

  // `deno task` forwards the signal to the server, and exits as the server does: 0.
  server.signal("SIGTERM");
  assert.deepEqual(await server.closed, { code: 0, signal: null }, server.output());
  assert.match(server.output(), /SIGTERM: finishing requests in flight/);
  assert.match(server.output(), /stopped: requests answered, database closed/);

  // The database was closed cleanly and kept the session made over HTTP.
  using store = disposable(openSqliteStore(join(dir.path, "sessions.db")), (store) => store.close());
  assert.deepEqual((await store.listSessions()).map((s) => s.id), [session.id]);
  assert.notEqual(await store.getSessionSecret(session.id), null);
});

test("server: worktree sessions live under <data dir>/worktrees, and a restart reconciles what a crash left", async () => {
  using dir = tempDir("slo-serve-wt-");
  const repositoryPath = join(dir.path, "repo");
  makeRepository(repositoryPath);
  const dataDir = join(dir.path, "data");
  // The entry itself rather than `deno task`, whose SIGKILL would not reach the server.
  await using first = servedProcess(["--port", "0", "--data-dir", dataDir]);
  const url = await first.url;
  assert.match(first.output(), /reconcile at start: nothing to repair/);
  const token = readFileSync(join(dataDir, "token"), "utf8").trim();
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const repository = await (await fetch(`${url}/v1/repositories`, {
    method: "POST",
    headers,
    body: JSON.stringify({ path: repositoryPath, name: "repo", isGitRepository: true }),
  })).json();
  const created = await fetch(`${url}/v1/sessions`, {
    method: "POST",
    headers,
    body: JSON.stringify({ repositoryId: repository.id, title: "wt", isWorktree: true, worktreeName: "wt" }),
  });
  assert.equal(created.status, 201);
  const session = await created.json();
  assert.equal(session.worktreePath, join(dataDir, "worktrees", repository.id, "wt"));
  assert.equal(git(session.worktreePath, "rev-parse", "--abbrev-ref", "HEAD"), "session/wt");

  // A crash, and the worktree folder lost meanwhile: the next start repairs it before answering.
  first.signal("SIGKILL");
  await first.closed;
  rmSync(session.worktreePath, { recursive: true, force: true });
  await using next = servedProcess(["--port", "0", "--data-dir", dataDir]);
  await next.url;
  assert.match(next.output(), /missing-worktree: recreated/);
  assert.ok(existsSync(join(session.worktreePath, "README.md")));
});

test("server: --help prints the options and a bad option exits 2", async () => {
  const help = await runScript(serverEntry, ["--help"]);
  assert.equal(help.code, 0);
  for (const option of ["--port", "--host", "--data-dir", "--socket", "--help"]) {
    assert.match(help.stdout, new RegExp(option));
  }
  const bad = await runScript(serverEntry, ["--port", "nope"]);
  assert.equal(bad.code, 2);
  // One line that says what is wrong and where help is, not the whole usage.
  assert.equal(bad.stderr.trim(), "error: --port must be a number from 0 to 65535; see --help");
});

test("server: --socket serves over a Unix domain socket, with the same token check", async () => {
  using dir = tempDir("slo-sock-");
  const socket = join(dir.path, "api.sock");
  await using server = asyncDisposable(
    await startServer({ dataDir: dir.path, socket, keychain: null, env: {} }),
    (server) => server.stop(),
  );
  assert.equal(server.port, null);
  assert.match(server.url, /^http\+unix:\/\//);
  const ask = (path: string, headers: Record<string, string>) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = httpRequest({ socketPath: socket, path, headers: { host: "localhost", ...headers } }, (res) => {
        let body = "";
        res.on("data", (chunk) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      request.on("error", reject);
      request.end();
    });
  assert.equal((await ask("/v1/health", {})).status, 200);
  assert.equal((await ask("/v1/sessions", {})).status, 401);
  const listed = await ask("/v1/sessions", { authorization: `Bearer ${server.token}` });
  assert.equal(listed.status, 200);
  assert.deepEqual(JSON.parse(listed.body), { sessions: [], nextCursor: null });
  assert.equal((await ask("/v1/health", { host: "evil.example" })).status, 403);
});
