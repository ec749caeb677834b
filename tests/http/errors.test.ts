// The HTTP error handler on its own, in a tiny Hono app: 500 answers carry no absolute paths and no
// git output unless details are exposed on purpose, the log always has everything, and client
// errors keep their message but not git's output. The failures are real ones: real git, real
// WebCrypto, a real closed SQLite store.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { Hono } from "hono";
import { decryptSessionSecret, encryptSessionSecret, generateDatabaseKey, SessionError } from "../../mod.ts";
import { openSqliteStore } from "../../src/platform/mod.ts";
import { Git } from "../../src/platform/git.ts";
import { type ErrorHandlerOptions, handleError } from "../../src/http/errors.ts";
import { asyncDisposable, disposable } from "../fixtures/disposable.ts";
import { makeRepository } from "../fixtures/git_fixtures.ts";
import { tempDir } from "../fixtures/helpers.ts";
import { startTestApp } from "../fixtures/http_fixture.ts";

const SESSION_ID = "1b4e28ba-2fa1-41d2-883f-0016d3cca427";

interface Logged {
  message: string;
  cause: unknown;
}

// One route per failure; `dir` holds a real repository and a closed SQLite file.
function errorApp(dir: string, options?: ErrorHandlerOptions): { app: Hono; logged: Logged[]; repository: string } {
  const repository = join(dir, "repo");
  makeRepository(repository);
  writeFileSync(join(dir, "a-file"), "not a folder\n");
  const store = openSqliteStore(join(dir, "sessions.db"));
  store.close();
  const git = new Git();
  const logged: Logged[] = [];
  const app = new Hono();
  app.onError((error, c) => handleError(error, c, (message, cause) => logged.push({ message, cause }), options));
  // git cannot make a folder under a file: a WorktreeCreation failure whose message has an absolute
  // path and git's own words.
  let attempt = 0;
  app.get("/worktree", async () => {
    attempt += 1; // a new branch each time: git may leave the branch of a failed add behind
    await git.addWorktree(repository, join(dir, "a-file", "wt"), `session/x${attempt}`, "main");
    return new Response("unreachable");
  });
  // `main` is the main checkout's branch: git refuses, naming where it is checked out.
  app.get("/conflict", async () => {
    await git.addWorktree(repository, join(dir, "other"), "main", null);
    return new Response("unreachable");
  });
  app.get("/not-a-repository", async () => {
    await git.repositoryInfo(dir);
    return new Response("unreachable");
  });
  app.get("/encryption", async () => {
    const sealed = await encryptSessionSecret(await generateDatabaseKey(), SESSION_ID, new Uint8Array(32));
    await decryptSessionSecret(await generateDatabaseKey(), SESSION_ID, sealed);
    return new Response("unreachable");
  });
  app.get("/storage", async () => {
    await store.listRepositories();
    return new Response("unreachable");
  });
  app.get("/unexpected", () => {
    throw new TypeError(`cannot read ${join(dir, "secret-file")}`);
  });
  app.get("/invalid", () => {
    throw new SessionError("InvalidInput", "title must not be empty");
  });
  // What a store throws when the database is busy past its bounds (the Postgres store's own, against
  // a real locked table, are in postgres_waits.test.ts), as it is and wrapped by another layer.
  const busy = () =>
    new SessionError("Storage", `listing sessions failed: lock timeout on ${join(dir, "db")}`, {
      retryAfterSeconds: 1,
    });
  app.get("/busy", () => {
    throw busy();
  });
  app.get("/busy-wrapped", () => {
    throw new SessionError("Storage", "resolving a secret failed", { cause: busy() });
  });
  return { app, logged, repository };
}

async function answer(app: Hono, path: string): Promise<{ status: number; kind: string; message: string }> {
  const response = await app.request(path);
  const body = await response.json();
  assert.deepEqual(Object.keys(body), ["error"]);
  return { status: response.status, kind: body.error.kind, message: body.error.message };
}

test("http errors: 500 answers are generic, with a reference to the log line that has the full detail", async () => {
  using dir = tempDir("slo-http-errors-");
  const { app, logged } = errorApp(dir.path);
  for (
    const [path, kind] of [
      ["/worktree", "WorktreeCreation"],
      ["/encryption", "Encryption"],
      ["/storage", "Storage"],
      ["/unexpected", "Storage"],
    ] as const
  ) {
    logged.length = 0;
    const { status, kind: answered, message } = await answer(app, path);
    assert.equal(status, 500, path);
    assert.equal(answered, kind, path);
    assert.doesNotMatch(message, /\//, `${path}: no path in ${message}`);
    assert.doesNotMatch(message, /fatal|could not|sqlite|database|closed|authentication|secret-file/i, message);
    const reference = /\(ref ([0-9a-f]{8})\)$/.exec(message)?.[1];
    assert.ok(reference, message);
    assert.equal(logged.length, 1, path);
    assert.ok(logged[0].message.includes(`[ref ${reference}]`), logged[0].message);
    assert.ok(logged[0].message.startsWith(`GET ${path}: `), logged[0].message);
  }
  // The log keeps what the answer left out.
  logged.length = 0;
  await answer(app, "/worktree");
  assert.ok(logged[0].message.includes(join(dir.path, "a-file")), logged[0].message);
  assert.match(String(logged[0].cause), /fatal|could not|not a directory/i);
});

test("http errors: exposeErrorDetails sends the full message of a 500, for local debugging", async () => {
  using dir = tempDir("slo-http-errors-");
  const { app, logged } = errorApp(dir.path, { exposeErrorDetails: true });
  const worktree = await answer(app, "/worktree");
  assert.equal(worktree.status, 500);
  assert.equal(worktree.kind, "WorktreeCreation");
  assert.ok(worktree.message.includes(join(dir.path, "a-file")), worktree.message);
  const unexpected = await answer(app, "/unexpected");
  assert.match(unexpected.message, /secret-file/);
  assert.equal(logged.length, 2, "logged all the same");
});

test("http errors: a failure the store marked temporary is a 503 with Retry-After, generic unless details are exposed", async () => {
  using first = tempDir("slo-http-errors-");
  using second = tempDir("slo-http-errors-");
  const dirs = [first, second];
  for (const [index, exposeErrorDetails] of [false, true].entries()) {
    const { app, logged } = errorApp(dirs[index].path, { exposeErrorDetails });
    for (const path of ["/busy", "/busy-wrapped"]) {
      logged.length = 0;
      const response = await app.request(path);
      assert.equal(response.status, 503, path);
      assert.equal(response.headers.get("retry-after"), "1", path);
      const body = await response.json();
      assert.equal(body.error.kind, "Storage", path);
      if (exposeErrorDetails) assert.match(body.error.message, /failed/);
      else {
        assert.match(
          body.error.message,
          /^the session store cannot answer right now; try again in 1 s; the server log has the details \(ref [0-9a-f]{8}\)$/,
        );
      }
      assert.equal(logged.length, 1, path);
    }
  }
});

test("http errors: a write the SQLite file's lock refuses (another connection holds it) is a 503 with Retry-After", {
  timeout: 60_000, // a bound: the server's store waits its 5 s busy timeout first
}, async () => {
  await using t = await startTestApp();
  const repositoryId = (await t.callJson("/v1/repositories", {
    method: "POST",
    json: { path: "/src/locked", name: "locked" },
  })).body.id;
  // Another program's connection on the server's own file holds the write lock.
  {
    using holder = disposable(new DatabaseSync(join(t.dataDir, "sessions.db")), (holder) => {
      holder.exec("ROLLBACK");
      holder.close();
    });
    holder.exec("BEGIN EXCLUSIVE");
    // The server's store waits its busy timeout (5 s) for the lock, then gives up.
    const refused = await t.call("/v1/sessions", {
      method: "POST",
      json: { repositoryId, title: "refused", isWorktree: false },
    });
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get("retry-after"), "1");
    const body = await refused.json();
    assert.equal(body.error.kind, "Storage");
    assert.match(body.error.message, /^the session store cannot answer right now; try again in 1 s/);
    assert.ok(t.logged.some((entry) => /creating a session failed: database is locked/.test(entry.message)));
    // Reads are answered while the lock is held.
    assert.equal((await t.call(`/v1/repositories/${repositoryId}`)).status, 200);
  }
  assert.deepEqual((await t.callJson("/v1/sessions")).body.sessions, []);
  const created = await t.call("/v1/sessions", {
    method: "POST",
    json: { repositoryId, title: "after the lock", isWorktree: false },
  });
  assert.equal(created.status, 201);
});

test("http errors: client errors keep their message, which never carries git's output", async () => {
  using dir = tempDir("slo-http-errors-");
  const { app, logged, repository } = errorApp(dir.path);
  const conflict = await answer(app, "/conflict");
  assert.equal(conflict.status, 409);
  assert.equal(conflict.kind, "Conflict");
  assert.match(conflict.message, /the branch main is checked out in another worktree/);
  assert.ok(!conflict.message.includes(`'${repository}'`), conflict.message); // git names the checkout
  assert.doesNotMatch(conflict.message, /fatal|already used by worktree|already checked out at/);

  const notRepository = await answer(app, "/not-a-repository");
  assert.equal(notRepository.status, 400);
  assert.equal(notRepository.message, `${dir.path} is not a git repository`);

  assert.deepEqual(await answer(app, "/invalid"), {
    status: 400,
    kind: "InvalidInput",
    message: "title must not be empty",
  });
  assert.deepEqual(logged, [], "a client error is the caller's, not the server's: nothing logged");
});

test("http errors: the server's exposeErrorDetails (--debug) reaches the app; off, a 500 is generic", async () => {
  for (const exposeErrorDetails of [false, true]) {
    // Its close may fail on the database the test closed.
    await using t = asyncDisposable(await startTestApp({ exposeErrorDetails }), (t) => t.close().catch(() => {}));
    // A closed database makes every store call fail with the driver's own message.
    t.server.parts.store.close();
    const answer = await t.callJson("/v1/sessions");
    assert.equal(answer.status, 500);
    assert.equal(answer.body.error.kind, "Storage");
    if (exposeErrorDetails) assert.match(answer.body.error.message, /listing sessions failed: .+/);
    else {assert.match(
        answer.body.error.message,
        /^the session store failed; the server log has the details \(ref [0-9a-f]+\)$/,
      );}
    assert.ok(t.logged.some((entry) => /listing sessions failed/.test(entry.message)));
  }
});
