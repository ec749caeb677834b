// The server started the way the README says, as a child process: `deno task serve` under Deno,
// `bun src/server/main.ts` under Bun; then the typed client example against it; then SIGTERM.
import { test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import process from "node:process";
import { startServer } from "../src/server/serve.ts";
import { openSqliteStore } from "../src/platform/mod.ts";
import { isBun, runScript, runtimeArgv, tempDir } from "./helpers.ts";
import { git, makeRepository } from "./git_fixtures.ts";

const root = new URL("..", import.meta.url).pathname;

// `direct`: run the entry itself rather than through `deno task`, whose SIGKILL would not reach the server.
function serve(args: string[], direct = false): { child: ChildProcess; output: () => string; url: Promise<string> } {
  const command = isBun || direct
    ? runtimeArgv(join(root, "src/server/main.ts"), args)
    : [process.execPath, "task", "serve", ...args];
  // No session bus: the server must not touch the machine's real keychain.
  const env = { ...process.env, DBUS_SESSION_BUS_ADDRESS: "", SESSION_LIFECYCLE_DATABASE_KEY: "" };
  const child = spawn(command[0], command.slice(1), { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const url = new Promise<string>((resolve, reject) => {
    const look = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]);
    };
    child.stdout!.on("data", look);
    child.stderr!.on("data", look);
    child.on("exit", (code) => reject(new Error(`server exited with ${code} before listening:\n${output}`)));
  });
  return { child, output: () => output, url };
}

// "close" fires once the process has exited and its output pipes are shut, which, under
// `deno task`, also waits for the server process the task started (it holds the same pipes).
function closed(child: ChildProcess): Promise<{ code: number | null; signal: string | null }> {
  return new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal })));
}

test("server: started as the README says, it answers, runs the client example, and stops cleanly on SIGTERM", async () => {
  const dir = tempDir("slo-serve-");
  const server = serve(["--port", "0", "--data-dir", dir.path]);
  try {
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

    const done = closed(server.child);
    server.child.kill("SIGTERM");
    const { code, signal } = await done;
    // `deno task` forwards the signal to the server and is itself ended by it; the server exits 0.
    if (isBun) assert.equal(code, 0, server.output());
    else assert.ok(code === 0 || signal === "SIGTERM", `${code} ${signal}\n${server.output()}`);
    assert.match(server.output(), /SIGTERM: finishing requests in flight/);
    assert.match(server.output(), /stopped: requests answered, database closed/);

    // The database was closed cleanly and kept the session made over HTTP.
    const store = openSqliteStore(join(dir.path, "sessions.db"));
    try {
      assert.deepEqual((await store.listSessions()).map((s) => s.id), [session.id]);
      assert.notEqual(await store.getSessionSecret(session.id), null);
    } finally {
      store.close();
    }
  } finally {
    if (server.child.exitCode === null) server.child.kill("SIGKILL");
    dir.remove();
  }
});

test("server: worktree sessions live under <data dir>/worktrees, and a restart reconciles what a crash left", async () => {
  const dir = tempDir("slo-serve-wt-");
  const repositoryPath = join(dir.path, "repo");
  makeRepository(repositoryPath);
  const dataDir = join(dir.path, "data");
  let first = serve(["--port", "0", "--data-dir", dataDir], true);
  try {
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
    const gone = closed(first.child);
    first.child.kill("SIGKILL");
    await gone;
    rmSync(session.worktreePath, { recursive: true, force: true });
    first = serve(["--port", "0", "--data-dir", dataDir], true);
    await first.url;
    assert.match(first.output(), /missing-worktree: recreated/);
    assert.ok(existsSync(join(session.worktreePath, "README.md")));
  } finally {
    if (first.child.exitCode === null) first.child.kill("SIGKILL");
    dir.remove();
  }
});

test("server: --help prints the options and a bad option exits 2", async () => {
  const script = join(root, "src/server/main.ts");
  const help = await runScript(script, ["--help"]);
  assert.equal(help.code, 0);
  for (const option of ["--port", "--host", "--data-dir", "--socket", "--help"]) {
    assert.match(help.stdout, new RegExp(option));
  }
  const bad = await runScript(script, ["--port", "nope"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--port must be a number/);
});

test("server: --socket serves over a Unix domain socket, with the same token check", async () => {
  const dir = tempDir("slo-sock-");
  const socket = join(dir.path, "api.sock");
  const server = await startServer({ dataDir: dir.path, socket, keychain: null, env: {} });
  try {
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
  } finally {
    await server.stop();
    dir.remove();
  }
});
