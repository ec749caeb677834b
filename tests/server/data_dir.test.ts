// One server per data directory, with real server processes: two started at the same moment never
// both run; a restart after a crash starts even when the stale discovery file's pid is alive again
// and its address is the new server's own; a refused start writes nothing; a clean stop leaves the
// database whole in its main file.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { DISCOVERY_FILE_NAME, type DiscoveryRecord } from "../../src/server/discovery.ts";
import { DATABASE_FILE_NAME, startServer } from "../../src/server/serve.ts";
import { StartError } from "../../src/server/start_error.ts";
import { openSqliteStore } from "../../src/platform/sqlite.ts";
import { tempDir } from "../fixtures/helpers.ts";
import { makeRepository } from "../fixtures/git_fixtures.ts";
import { asyncDisposable, disposable, killServer, servedProcess } from "../fixtures/disposable.ts";
import { serveProcess, serveUntilExit } from "../fixtures/server_process.ts";

function readRecord(dataDir: string): DiscoveryRecord {
  return JSON.parse(readFileSync(join(dataDir, DISCOVERY_FILE_NAME), "utf8"));
}

async function takenPort(): Promise<{ port: number; close(): Promise<void> } & AsyncDisposable> {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
  const close = () => new Promise<void>((resolve) => blocker.close(() => resolve()));
  return { port: (blocker.address() as { port: number }).port, close, [Symbol.asyncDispose]: close };
}

async function freePort(): Promise<number> {
  const probe = await takenPort();
  await probe.close();
  return probe.port;
}

test("data dir: of two servers started at the same moment on one data directory, exactly one runs", async () => {
  for (let round = 0; round < 10; round++) {
    using dir = tempDir("slo-lock-race-");
    await using servers = asyncDisposable(
      [0, 1].map(() => serveProcess(["--port", "0", "--data-dir", dir.path])),
      (all) => Promise.all(all.map(killServer)),
    );
    // The refused one never says where it listens.
    for (const server of servers) server.url.catch(() => {});
    // Each either says where it listens or exits refused; never both listening.
    const outcomes = await Promise.all(
      servers.map((server) =>
        Promise.race([
          server.url.then(() => "running" as const),
          server.closed.then(() => "refused" as const),
        ])
      ),
    );
    assert.deepEqual([...outcomes].sort(), ["refused", "running"], servers.map((s) => s.output()).join("\n---\n"));
    const refused = servers[outcomes.indexOf("refused")];
    const running = servers[outcomes.indexOf("running")];
    assert.deepEqual(await refused.closed, { code: 1, signal: null });
    assert.match(
      refused.output(),
      new RegExp(
        `error: a server is already running on data directory ${dir.path} \\((pid ${running.child.pid}, |it is still starting)`,
      ),
    );
    assert.equal(readRecord(dir.path).pid, running.child.pid);
  }
});

test("data dir: after a SIGKILL the next start on the same port starts, though the stale file's pid is alive and its address is its own", async () => {
  using dir = tempDir("slo-lock-restart-");
  const port = await freePort();
  await using crashed = servedProcess(["--port", String(port), "--data-dir", dir.path]);
  // A live process that is not a server: as after a reboot, the old pid now names someone else.
  using bystander = disposable(spawn("sleep", ["60"], { stdio: "ignore" }), (child) => child.kill("SIGKILL"));
  await crashed.url;
  crashed.signal("SIGKILL");
  await crashed.closed;
  const stale = readRecord(dir.path);
  writeFileSync(join(dir.path, DISCOVERY_FILE_NAME), JSON.stringify({ ...stale, pid: bystander.pid }));
  await using next = servedProcess(["--port", String(port), "--data-dir", dir.path]);
  await next.url;
  assert.equal(readRecord(dir.path).pid, next.child.pid);
  const token = readFileSync(readRecord(dir.path).tokenFile, "utf8").trim();
  const response = await fetch(`http://127.0.0.1:${port}/v1/sessions`, {
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(response.status, 200);
  await response.body?.cancel();
});

test("data dir: a start refused for its port writes nothing: no data directory, or nothing in an empty one", async () => {
  using dir = tempDir("slo-lock-nothing-");
  await using blocker = await takenPort();
  const fresh = join(dir.path, "fresh");
  const run = await serveUntilExit(["--port", String(blocker.port), "--data-dir", fresh]);
  assert.equal(run.code, 1, run.stderr);
  assert.match(run.stderr, /is already in use/);
  assert.equal(existsSync(fresh), false);
  const empty = join(dir.path, "empty");
  mkdirSync(empty);
  const again = await serveUntilExit(["--port", String(blocker.port), "--data-dir", empty]);
  assert.equal(again.code, 1, again.stderr);
  assert.deepEqual(readdirSync(empty), []);
  // Then a start that can listen says the key warning a refused start would have hidden.
  await using ok = servedProcess(["--port", "0", "--data-dir", empty]);
  await ok.url;
  assert.match(ok.output(), /warning: no OS keychain available/);
});

test("data dir: in one process a second server is refused until the first stops; its clean stop leaves a whole main file", async () => {
  using dir = tempDir("slo-lock-inproc-");
  // stop() is idempotent: the end of the block stops it only if the test did not.
  await using first = asyncDisposable(
    await startServer({ dataDir: dir.path, port: 0, keychain: null, env: {}, discovery: false }),
    (server) => server.stop(),
  );
  await assert.rejects(
    startServer({ dataDir: dir.path, port: 0, keychain: null, env: {} }),
    (error) => error instanceof StartError && /a server is already running on data directory/.test(error.message),
  );
  const checkout = join(dir.path, "checkout");
  mkdirSync(checkout);
  makeRepository(checkout);
  const repository = await first.orchestrator.createRepository({ name: "r", path: checkout });
  await first.orchestrator.createSession({ repositoryId: repository.id, title: "kept", isWorktree: false });
  await first.stop();
  // Checkpointed on stop: the main file alone holds everything.
  const wal = join(dir.path, `${DATABASE_FILE_NAME}-wal`);
  assert.ok(!existsSync(wal) || statSync(wal).size === 0, "the write-ahead log is empty after a clean stop");
  {
    using copy = tempDir("slo-lock-copy-");
    copyFileSync(join(dir.path, DATABASE_FILE_NAME), join(copy.path, DATABASE_FILE_NAME));
    using store = disposable(openSqliteStore(join(copy.path, DATABASE_FILE_NAME)), (s) => s.close());
    assert.deepEqual((await store.listSessions()).map((session) => session.title), ["kept"]);
  }
  const second = await startServer({ dataDir: dir.path, port: 0, keychain: null, env: {}, discovery: false });
  await second.stop();
});
