// The server on Postgres, as real server processes: `deno task serve --database postgres://…` (or
// DATABASE_URL) serves the same API with the data in Postgres, and the database key check lives in
// the database, so a server started with another key, or without the key, refuses with one line.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { encodeBase64, generateDatabaseKeyBytes } from "../../mod.ts";
import { DATABASE_KEY_FILE } from "../../src/platform/mod.ts";
import { DATABASE_FILE_NAME } from "../../src/server/serve.ts";
import { tempDir } from "../fixtures/helpers.ts";
import { skipPostgres, testDatabase } from "../fixtures/postgres_fixture.ts";
import { serveProcess, type ServerProcess, serveUntilExit } from "../fixtures/server_process.ts";

const database = await testDatabase();
const skip = skipPostgres;

// The run printed exactly one line on stderr matching `expected`, no stack, never listened, and
// exited with `code`.
function assertRefused(run: { code: number | null; stdout: string; stderr: string }, code: number, expected: RegExp) {
  const lines = run.stderr.trim().split("\n");
  assert.equal(lines.length, 1, `one line expected:\n${run.stderr}`);
  assert.match(lines[0], expected);
  assert.doesNotMatch(run.stderr + run.stdout, /^\s+at /m);
  assert.doesNotMatch(run.stdout, /listening on/);
  assert.equal(run.code, code, run.stderr);
}

async function stop(server: ServerProcess): Promise<void> {
  // Answered once: the server is past its start (the listening line comes just before the signal
  // handlers are installed, and a signal in between would get the default action).
  assert.equal((await fetch(`${await server.url}/v1/health`)).status, 200);
  server.signal("SIGTERM");
  const exit = await server.closed;
  assert.equal(exit.code, 0, server.output());
}

// A small client of one running server.
async function client(server: ServerProcess, dataDir: string) {
  const url = await server.url;
  const token = readFileSync(join(dataDir, "token"), "utf8").trim();
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  };
  return call;
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

test("server on postgres: --database and DATABASE_URL serve the same data, and the key check lives in the database", {
  skip,
}, async () => {
  const db = database!;
  using first = tempDir("slo-pg-first-");
  using second = tempDir("slo-pg-second-");
  using repositoryPath = tempDir("slo-pg-repo-");
  // 1. `deno task serve --database …`: the data goes to Postgres, not to a SQLite file.
  let server = serveProcess(["--port", "0", "--data-dir", first.path, "--database", db.url], { via: "task" });
  let call = await client(server, first.path);
  assert.match(server.output(), new RegExp(`database: ${escape(db.url.replace(/\/$/, ""))}\\S* \\(key from file\\)`));
  const repository = await call("POST", "/v1/repositories", { path: repositoryPath.path, name: "app" });
  assert.equal(repository.status, 201, JSON.stringify(repository.body));
  const session = await call("POST", "/v1/sessions", {
    repositoryId: repository.body.id,
    title: "On Postgres",
    isWorktree: false,
  });
  assert.equal(session.status, 201, JSON.stringify(session.body));
  const secret = await call("GET", `/v1/sessions/${session.body.id}/secret`);
  assert.equal(secret.status, 200);
  await stop(server);
  assert.ok(!existsSync(join(first.path, DATABASE_FILE_NAME)), "no SQLite file is made");
  const [{ count }] = await db.admin.unsafe("SELECT count(*)::int AS count FROM sessions");
  assert.equal(count, 1);
  const checks = await db.admin.unsafe("SELECT value FROM database_key_check");
  assert.equal(checks.length, 1);
  assert.ok(
    !existsSync(join(first.path, "database.key-check")),
    "the check is in the database, not in the data directory",
  );

  // 2. DATABASE_URL instead of the flag: the same session and secret.
  server = serveProcess(["--port", "0", "--data-dir", first.path], { env: { DATABASE_URL: db.url } });
  call = await client(server, first.path);
  assert.deepEqual((await call("GET", `/v1/sessions/${session.body.id}`)).body, session.body);
  assert.deepEqual((await call("GET", `/v1/sessions/${session.body.id}/secret`)).body, secret.body);
  await stop(server);

  // 3. Another data directory, on another machine say, without the key: refused, nothing made.
  const args = ["--port", "0", "--data-dir", second.path, "--database", db.url];
  assertRefused(
    await serveUntilExit(args),
    1,
    /^error: a database key was made earlier \(the key check in postgres:\/\/\S+ \(table database_key_check\) exists\) but cannot be found now: .*SESSION_LIFECYCLE_DATABASE_KEY/,
  );
  // With another key: refused against the check in the database.
  const otherKey = encodeBase64(generateDatabaseKeyBytes());
  assertRefused(
    await serveUntilExit(args, { SESSION_LIFECYCLE_DATABASE_KEY: otherKey }),
    1,
    /^error: the database key from SESSION_LIFECYCLE_DATABASE_KEY does not match the key check in postgres:\/\/\S+ \(table database_key_check\), so it is not the key the stored secrets were sealed with/,
  );
  // With the first server's key: it starts, and opens the secret the first one sealed.
  const key = readFileSync(join(first.path, DATABASE_KEY_FILE), "utf8").trim();
  server = serveProcess(args, { env: { SESSION_LIFECYCLE_DATABASE_KEY: key } });
  call = await client(server, second.path);
  assert.match(server.output(), /\(key from env\)/);
  assert.deepEqual((await call("GET", `/v1/sessions/${session.body.id}/secret`)).body, secret.body);
  await stop(server);

  // 4. The check row gone: a wrong key is still refused, by the secret sealed in the store, and no
  // check is written for it.
  await db.admin.unsafe("DELETE FROM database_key_check");
  assertRefused(
    await serveUntilExit(args, { SESSION_LIFECYCLE_DATABASE_KEY: otherKey }),
    1,
    new RegExp(
      `^error: the database key from SESSION_LIFECYCLE_DATABASE_KEY cannot open the sealed secret of session ${session.body.id} already in the store`,
    ),
  );
  assert.equal((await db.admin.unsafe("SELECT value FROM database_key_check")).length, 0);
  // The right key writes the check again.
  server = serveProcess(args, { env: { SESSION_LIFECYCLE_DATABASE_KEY: key } });
  await server.url;
  await stop(server);
  assert.equal((await db.admin.unsafe("SELECT value FROM database_key_check")).length, 1);
});

test("server on postgres: an unreachable database or a URL that is not postgres:// is one line", { skip }, async () => {
  using dir = tempDir("slo-pg-refusals-");
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise((resolve) => probe.close(resolve));
  const unreachable = await serveUntilExit([
    "--port",
    "0",
    "--data-dir",
    dir.path,
    "--database",
    `postgres://someone:hunter2@127.0.0.1:${port}/sessions`,
  ]);
  assertRefused(
    unreachable,
    1,
    new RegExp(
      `^error: opening the Postgres database postgres://someone:\\*\\*\\*@127\\.0\\.0\\.1:${port}/sessions failed: `,
    ),
  );
  assert.doesNotMatch(unreachable.stderr + unreachable.stdout, /hunter2/);
  assertRefused(
    await serveUntilExit(["--port", "0", "--data-dir", dir.path, "--database", join(dir.path, "sessions.db")]),
    2,
    /^error: --database must be a postgres:\/\/ URL \(without it the server uses SQLite in the data directory\); see --help$/,
  );
  assertRefused(
    await serveUntilExit(["--port", "0", "--data-dir", dir.path], { DATABASE_URL: "mysql://127.0.0.1/sessions" }),
    2,
    /^error: DATABASE_URL must be a postgres:\/\/ URL/,
  );
});
