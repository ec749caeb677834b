// A real server process started with connection limits (`--max-connections`, `--header-timeout`):
// a connection past the cap is closed at once; connections that send no headers, or send them too
// slowly, are closed after the header timeout, so the API answers again while their clients still
// hold them; requests, kept-alive connections and the event stream work as on the native servers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { runScript, settle, tempDir } from "../fixtures/helpers.ts";
import { serverEntry } from "../fixtures/server_process.ts";
import { servedProcess } from "../fixtures/disposable.ts";

const CAP = 8;
const HEADER_TIMEOUT_SECONDS = 2;

// GET /v1/health on a connection of its own, closed after the answer (never a pooled one, which
// would hold a place of the cap): the status, or null when the server closed it unanswered.
function health(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    let answer = "";
    const socket = connect(port, "127.0.0.1", () => {
      socket.write(`GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`);
    });
    socket.setEncoding("utf8");
    socket.on("data", (chunk) => (answer += chunk));
    socket.on("error", () => {});
    socket.on("close", () => {
      const status = /^HTTP\/1\.1 (\d{3})/.exec(answer);
      resolve(status === null ? null : Number(status[1]));
    });
  });
}

// A connection that never sends a byte; `closed` turns true once the server has closed it.
async function idleConnection(port: number): Promise<{ socket: Socket; closed: () => boolean }> {
  let closed = false;
  const socket = await new Promise<Socket>((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => resolve(socket));
    socket.once("error", reject);
  });
  socket.on("error", () => {});
  socket.on("close", () => (closed = true));
  socket.resume();
  return { socket, closed: () => closed };
}

// A server on a free port over `dataDir`, started with the limit flags `limits`.
function limitedServer(dataDir: string, limits: string[]) {
  return servedProcess(["--port", "0", "--data-dir", dataDir, ...limits]);
}

test("connection limits: past the cap a connection is closed at once, and silent ones after the header timeout", async () => {
  using dir = tempDir("slo-limits-");
  await using server = limitedServer(dir.path, [
    "--max-connections",
    String(CAP),
    "--header-timeout",
    String(HEADER_TIMEOUT_SECONDS),
  ]);
  // No request first: the cap must meet only the connections below (the server may count a closed
  // one a moment longer).
  const port = Number(new URL(await server.url).port);
  const opened: { socket: Socket; closed: () => boolean }[] = [];
  for (let i = 0; i <= CAP; i++) opened.push(await idleConnection(port));
  // One connection past the cap: exactly one is closed (which one is the runtime's order of
  // accepting them), for the cap and not for its silence, since the others all stay open.
  await settle(() => opened.some((connection) => connection.closed()), (HEADER_TIMEOUT_SECONDS + 10) * 100);
  assert.equal(opened.filter((connection) => connection.closed()).length, 1, "one connection past the cap is closed");
  const held = opened.filter((connection) => !connection.closed());
  assert.equal(await health(port), null, "no room for another client while the cap is held");

  // None of the held connections sent headers: each is closed after the timeout, their clients
  // still holding them, and the server answers again.
  await settle(() => held.every((connection) => connection.closed()), (HEADER_TIMEOUT_SECONDS + 10) * 100);
  assert.deepEqual(held.filter((connection) => !connection.closed()), [], "every silent connection was closed");
  assert.equal(await health(port), 200, server.output());

  // A client sending its headers a byte at a time is closed too, before it finishes them.
  const slow = await idleConnection(port);
  const line = `GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Slow: `;
  slow.socket.write(line);
  for (let i = 0; i < (HEADER_TIMEOUT_SECONDS + 10) * 4 && !slow.closed(); i++) {
    slow.socket.write("a");
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  assert.equal(slow.closed(), true, "a connection sending its headers slowly was closed");

  // A kept-alive connection that made a request and then fell silent goes the same way.
  const kept = await idleConnection(port);
  let answer = "";
  kept.socket.on("data", (chunk: Buffer) => (answer += chunk.toString()));
  kept.socket.write(`GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
  await settle(() => kept.closed() || answer.includes('"ok"'), 1000);
  assert.match(answer, /^HTTP\/1\.1 200/, "the kept-alive connection was answered");
  await settle(() => kept.closed(), (HEADER_TIMEOUT_SECONDS + 10) * 100);
  assert.equal(kept.closed(), true, "the silent kept-alive connection was closed");
  assert.equal(server.child.exitCode, null, server.output());
});

test("connection limits: kept-alive requests, bodies, deletes and the event stream are served as by the native servers", async () => {
  using dir = tempDir("slo-limits-");
  await using server = limitedServer(dir.path, ["--max-connections", "64"]);
  const url = await server.url;
  const token = readFileSync(`${dir.path}/token`, "utf8").trim();
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const stream = await fetch(`${url}/v1/events`, { headers });
  assert.equal(stream.status, 200);
  assert.match(stream.headers.get("content-type") ?? "", /text\/event-stream/);
  const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();

  const created = await fetch(`${url}/v1/repositories`, {
    method: "POST",
    headers,
    body: JSON.stringify({ path: dir.path, name: "limits" }),
  });
  assert.equal(created.status, 201);
  const repository = await created.json();
  for (let i = 0; i < 20; i++) {
    const response = await fetch(`${url}/v1/repositories/${repository.id}`, { headers });
    assert.equal(response.status, 200);
    assert.equal((await response.json()).name, "limits");
  }
  // A request without a body that is not a GET (Hono's body limit wraps such a request in a new one).
  const session = await fetch(`${url}/v1/sessions`, {
    method: "POST",
    headers,
    body: JSON.stringify({ repositoryId: repository.id, title: "limits", isWorktree: false }),
  });
  assert.equal(session.status, 201);
  const { id } = await session.json();
  const deleted = await fetch(`${url}/v1/sessions/${id}`, {
    method: "DELETE",
    headers: { authorization: headers.authorization },
  });
  assert.equal(deleted.status, 200, await deleted.clone().text());
  assert.equal((await deleted.json()).id, id);
  const tooLarge = await fetch(`${url}/v1/repositories`, {
    method: "POST",
    headers,
    body: JSON.stringify({ path: dir.path, name: "x".repeat(2 * 1024 * 1024) }),
  });
  assert.equal(tooLarge.status, 413);
  await tooLarge.body?.cancel();

  let text = "";
  while (!text.includes("repository.created")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  assert.match(text, /event: repository\.created/);

  // A stop with the stream open ends the stream, and the server exits.
  server.signal("SIGTERM");
  for (;;) {
    const { done } = await reader.read();
    if (done) break;
  }
  assert.deepEqual(await server.closed, { code: 0, signal: null }, server.output());
});

test("connection limits: bad values are refused before anything is written", async () => {
  using dir = tempDir("slo-limits-");
  for (const args of [["--max-connections", "0"], ["--header-timeout", "soon"], ["--max-connections", "1.5"]]) {
    const run = await runScript(serverEntry, ["--port", "0", "--data-dir", `${dir.path}/data`, ...args], {
      env: { DBUS_SESSION_BUS_ADDRESS: "", DATABASE_URL: "", XDG_CONFIG_HOME: "/nonexistent/slo-test-config" },
    });
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, new RegExp(`error: ${args[0]} must be a whole number`));
  }
  assert.equal(existsSync(`${dir.path}/data`), false);
});
