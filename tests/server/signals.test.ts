// Stopping the server the way people do: Ctrl-C reaches it twice (from the terminal and from
// `deno task`), or SIGINT and then SIGTERM from a supervisor. Every signal after the first waits for
// the one shutdown: the requests in flight are answered, the database is closed, the exit is 0.
// Real server processes; the order of events is observed in their output, never timed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import process from "node:process";
import { openSqliteStore } from "../../src/platform/mod.ts";
import { tempDir } from "../fixtures/helpers.ts";
import { asyncDisposable, disposable, servedProcess } from "../fixtures/disposable.ts";
import { serveProcess } from "../fixtures/server_process.ts";

// A POST whose body is held back: `Expect: 100-continue` makes the server say when the route starts
// reading it, which proves the request is in flight, inside the server, until `finish` sends it.
function heldRequest(url: string, token: string, path: string) {
  const { hostname, port } = new URL(url);
  const request = httpRequest({
    hostname,
    port,
    path,
    method: "POST",
    headers: {
      host: `${hostname}:${port}`,
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
      "transfer-encoding": "chunked",
      expect: "100-continue",
    },
  });
  const inFlight = new Promise<void>((resolve, reject) => {
    request.on("continue", () => resolve());
    request.on("error", reject);
  });
  const answered = new Promise<{ status: number; body: string }>((resolve, reject) => {
    request.on("response", (response) => {
      let body = "";
      response.on("data", (chunk) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on("error", reject);
  });
  request.flushHeaders();
  return {
    inFlight,
    finish(body: string) {
      request.end(body);
      return answered;
    },
  };
}

async function createRepository(url: string, token: string): Promise<string> {
  const response = await fetch(`${url}/v1/repositories`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ path: `/src/${crypto.randomUUID()}`, name: "signals" }),
  });
  assert.equal(response.status, 201);
  return (await response.json()).id;
}

async function storedSessions(dataDir: string): Promise<{ ids: string[]; secrets: number }> {
  using store = disposable(openSqliteStore(join(dataDir, "sessions.db")), (store) => store.close());
  const sessions = await store.listSessions();
  let secrets = 0;
  for (const session of sessions) if (await store.getSessionSecret(session.id) !== null) secrets++;
  return { ids: sessions.map((session) => session.id), secrets };
}

for (const [first, second] of [["SIGINT", "SIGINT"], ["SIGINT", "SIGTERM"]] as const) {
  test(`server signals: ${first} then ${second} during a request: it is answered, the database closed, exit 0`, async () => {
    using dir = tempDir("slo-signals-");
    await using server = servedProcess(["--port", "0", "--data-dir", dir.path]);
    const url = await server.url;
    const token = readFileSync(join(dir.path, "token"), "utf8").trim();
    const repositoryId = await createRepository(url, token);
    const held = heldRequest(url, token, "/v1/sessions");
    await held.inFlight;

    server.signal(first);
    await server.waitFor(new RegExp(`${first}: finishing requests in flight`));
    // The stop now waits on the held request; the second signal arrives while it does.
    server.signal(second);
    await server.waitFor(new RegExp(`${second}: already stopping`));

    const answer = await held.finish(JSON.stringify({ repositoryId, title: "in flight", isWorktree: false }));
    assert.equal(answer.status, 201, answer.body);
    const session = JSON.parse(answer.body);

    assert.deepEqual(await server.closed, { code: 0, signal: null }, server.output());
    assert.match(server.output(), /stopped: requests answered, database closed/);
    // What the request in flight wrote is in the database, with its secret.
    assert.deepEqual(await storedSessions(dir.path), { ids: [session.id], secrets: 1 });
  });
}

test("server signals: Ctrl-C in a terminal (SIGINT to the whole process group) exits 0 after closing the database", async () => {
  // Under Deno through `deno task serve`, which gets the signal too and forwards it once more.
  using dir = tempDir("slo-ctrl-c-");
  // The end of the block kills the whole group, whatever is left of it.
  await using server = asyncDisposable(
    serveProcess(["--port", "0", "--data-dir", dir.path], { via: "task", detached: true }),
    (server) => {
      try {
        process.kill(-server.child.pid!, "SIGKILL");
      } catch {
        // The group is gone: the normal case.
      }
    },
  );
  const url = await server.url;
  const token = readFileSync(join(dir.path, "token"), "utf8").trim();
  const repositoryId = await createRepository(url, token);
  const created = await fetch(`${url}/v1/sessions`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ repositoryId, title: "kept", isWorktree: false }),
  });
  assert.equal(created.status, 201);
  const session = await created.json();

  process.kill(-server.child.pid!, "SIGINT");
  assert.deepEqual(await server.closed, { code: 0, signal: null }, server.output());
  assert.match(server.output(), /stopped: requests answered, database closed/);
  assert.deepEqual(await storedSessions(dir.path), { ids: [session.id], secrets: 1 });
});
