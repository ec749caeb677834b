// `--socket PATH` as people meet it: a crash (SIGKILL) leaves the socket file behind, and the next
// start must replace it; a socket another server is listening on must be refused and left alone,
// as must a file that is not a socket. Real server processes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, lstatSync, readFileSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { tempDir } from "../fixtures/helpers.ts";
import { servedProcess } from "../fixtures/disposable.ts";
import { serveUntilExit } from "../fixtures/server_process.ts";

// GET /v1/health over the socket.
function health(socketPath: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({ socketPath, path: "/v1/health", headers: { host: "localhost" } }, (response) => {
      response.resume();
      response.on("end", () => resolve(response.statusCode ?? 0));
    });
    request.on("error", reject);
    request.end();
  });
}

test("server socket: a socket file left by a killed server is replaced at the next start", async () => {
  using dir = tempDir("slo-stale-sock-");
  const socket = join(dir.path, "api.sock");
  const dataDir = join(dir.path, "data");
  await using crashed = servedProcess(["--socket", socket, "--data-dir", dataDir]);
  await crashed.url;
  assert.equal(await health(socket), 200);
  crashed.signal("SIGKILL");
  await crashed.closed;
  assert.ok(lstatSync(socket).isSocket(), "the killed server left its socket file");

  await using next = servedProcess(["--socket", socket, "--data-dir", dataDir]);
  assert.match(await next.url, /^http\+unix:\/\//);
  assert.equal(await health(socket), 200);
  next.signal("SIGTERM");
  assert.deepEqual(await next.closed, { code: 0, signal: null }, next.output());
  assert.equal(existsSync(socket), false, "a clean stop removes its socket file");
});

test("server socket: a socket another server listens on is refused in one line, and that server keeps it", async () => {
  using dir = tempDir("slo-live-sock-");
  const socket = join(dir.path, "api.sock");
  await using live = servedProcess(["--socket", socket, "--data-dir", join(dir.path, "first")]);
  await live.url;
  const second = await serveUntilExit(["--socket", socket, "--data-dir", join(dir.path, "second")]);
  assert.equal(second.code, 1, second.stderr);
  assert.equal(
    second.stderr.trim(),
    `error: another server is listening on socket ${socket}; stop it or pass another --socket`,
  );
  assert.equal(await health(socket), 200, "the first server still answers on its socket");

  live.signal("SIGTERM");
  assert.deepEqual(await live.closed, { code: 0, signal: null }, live.output());
});

test("server socket: a path that holds a file which is not a socket is refused and the file kept", async () => {
  using dir = tempDir("slo-file-sock-");
  const path = join(dir.path, "notes.txt");
  writeFileSync(path, "mine");
  const run = await serveUntilExit(["--socket", path, "--data-dir", join(dir.path, "data")]);
  assert.equal(run.code, 1, run.stderr);
  assert.equal(run.stderr.trim(), `error: ${path} exists and is not a socket; remove it or pass another --socket`);
  assert.equal(readFileSync(path, "utf8"), "mine");
});
