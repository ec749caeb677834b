// The discovery file `<data dir>/server.json` as clients meet it, with real server processes: there
// (mode 0600, naming the url, pid, version and token file) while the server runs, gone after a
// clean stop, left stale by a SIGKILL, recognised as stale, and replaced by the next start.
import { test } from "node:test";
import process from "node:process";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  checkServer,
  DISCOVERY_FILE_NAME,
  type DiscoveryRecord,
  liveServer,
  readDiscoveryFile,
} from "../../src/server/discovery.ts";
import { VERSION } from "../../src/server/version.ts";
import { APP_DIR_NAME } from "../../src/platform/data_dir.ts";
import { runScript, tempDir } from "../fixtures/helpers.ts";
import { servedProcess } from "../fixtures/disposable.ts";
import { root, serveUntilExit } from "../fixtures/server_process.ts";

function readRecord(dataDir: string): DiscoveryRecord {
  return JSON.parse(readFileSync(join(dataDir, DISCOVERY_FILE_NAME), "utf8"));
}

test("discovery: server.json (0600) names the running server, and a clean stop removes it", async () => {
  using dir = tempDir("slo-disc-");
  await using server = servedProcess(["--port", "0", "--data-dir", dir.path]);
  const url = await server.url;
  const path = join(dir.path, DISCOVERY_FILE_NAME);
  assert.match(server.output(), new RegExp(`discovery: ${path}`));
  assert.equal(statSync(path).mode & 0o777, 0o600);
  const record = readRecord(dir.path);
  assert.equal(record.url, url);
  assert.equal(record.socket, null);
  assert.equal(record.pid, server.child.pid);
  assert.equal(record.version, VERSION);
  assert.equal(record.tokenFile, join(dir.path, "token"));
  assert.equal(record.dataDir, dir.path);
  assert.ok(!Number.isNaN(Date.parse(record.startedAt)));
  assert.deepEqual(await checkServer(record), { live: true });
  // Written through a temp file and a rename: no temp file stays beside it.
  assert.deepEqual(readdirSync(dir.path).filter((name) => name.includes(".tmp")), []);

  server.signal("SIGTERM");
  assert.deepEqual(await server.closed, { code: 0, signal: null }, server.output());
  assert.equal(existsSync(path), false, "a clean stop removes the discovery file");
  assert.equal(readDiscoveryFile(dir.path).state, "missing");
});

test("discovery: a file left by a SIGKILL is stale, and the next start replaces it", async () => {
  using dir = tempDir("slo-disc-stale-");
  await using crashed = servedProcess(["--port", "0", "--data-dir", dir.path]);
  await crashed.url;
  const left = readRecord(dir.path);
  crashed.signal("SIGKILL");
  await crashed.closed;
  assert.equal(readRecord(dir.path).pid, left.pid, "a killed server cannot remove its file");
  assert.deepEqual(await checkServer(left), { live: false, reason: "process-gone" });
  assert.equal(await liveServer(dir.path), null);
  // A pid that exists (here, this test's own) but nothing answering at the address: stale too.
  assert.deepEqual(await checkServer({ ...left, pid: process.pid }), { live: false, reason: "not-answering" });

  await using next = servedProcess(["--port", "0", "--data-dir", dir.path]);
  const url = await next.url;
  const replaced = readRecord(dir.path);
  assert.equal(replaced.pid, next.child.pid);
  assert.equal(replaced.url, url);
  assert.equal(statSync(join(dir.path, DISCOVERY_FILE_NAME)).mode & 0o777, 0o600);
  assert.deepEqual(await checkServer(replaced), { live: true });
});

test("discovery: a second server on a data directory a live server holds is refused, and the first keeps its file", async () => {
  using dir = tempDir("slo-disc-live-");
  await using first = servedProcess(["--port", "0", "--data-dir", dir.path]);
  const url = await first.url;
  const second = await serveUntilExit(["--port", "0", "--data-dir", dir.path]);
  assert.equal(second.code, 1, second.stderr);
  assert.equal(
    second.stderr.trim(),
    `error: a server is already running on data directory ${dir.path} (pid ${first.child.pid}, ${url}); ` +
      `stop it or pass another --data-dir`,
  );
  assert.equal(readRecord(dir.path).pid, first.child.pid);
});

test("discovery: a broken file is replaced; on a socket the file names the socket", async () => {
  using dir = tempDir("slo-disc-sock-");
  const socket = join(dir.path, "api.sock");
  const dataDir = join(dir.path, "data");
  mkdirSync(dataDir, { mode: 0o700 });
  writeFileSync(join(dataDir, DISCOVERY_FILE_NAME), '{"url": "http://127.0.0.1:1", "pi');
  assert.equal(readDiscoveryFile(dataDir).state, "invalid");
  await using server = servedProcess(["--socket", socket, "--data-dir", dataDir]);
  const url = await server.url;
  const record = readRecord(dataDir);
  assert.equal(record.url, url);
  assert.equal(record.socket, socket);
  assert.deepEqual(await checkServer(record), { live: true });
  server.signal("SIGTERM");
  assert.deepEqual(await server.closed, { code: 0, signal: null }, server.output());
  assert.equal(existsSync(join(dataDir, DISCOVERY_FILE_NAME)), false);
});

test("discovery: the client example finds the server with no arguments, through server.json", async () => {
  using dir = tempDir("slo-disc-example-");
  // The default data directory, as the example computes it, is under XDG_DATA_HOME (on Linux).
  const env = { XDG_DATA_HOME: dir.path };
  const dataDir = join(dir.path, APP_DIR_NAME);
  await using server = servedProcess(
    ["--port", "0", ...(process.platform === "linux" ? [] : ["--data-dir", dataDir])],
    {
      env,
    },
  );
  const url = await server.url;
  assert.equal(readRecord(dataDir).url, url);
  const example = await runScript(join(root, "examples/http_client.ts"), [], { env });
  assert.equal(example.code, 0, example.stderr);
  assert.match(example.stdout, new RegExp(`^server: ${url}$`, "m"));
  assert.match(example.stdout, /created session [0-9a-f-]{36} \(active\)/);
  assert.match(example.stdout, /repository removed: true/);
});

test("discovery: the version the server reports is deno.json's", () => {
  assert.equal(VERSION, JSON.parse(readFileSync(join(root, "deno.json"), "utf8")).version);
});
