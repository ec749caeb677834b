// SQLite specifics: schema versioning, pragmas, several connections and processes on one file, crashes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdirSync, readlinkSync, statSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import {
  createSession,
  deleteSession,
  newSessionId,
  retryAfterOf,
  SCHEMA_VERSION,
  SessionError,
  SqliteStore,
} from "../../mod.ts";
import { openSqliteStore, sqliteDriverName, sqliteSecretProbe } from "../../src/platform/mod.ts";
import { MIGRATIONS } from "../../src/store/sqlite_schema.ts";
import { disposable, isBun, repositoryInput, runScript, runtimeArgv, tempDir } from "../fixtures/helpers.ts";

const worker = new URL("../fixtures/sqlite_worker.ts", import.meta.url).pathname;

function pragma(database: DatabaseSync, name: string): unknown {
  return Object.values(database.prepare(`PRAGMA ${name}`).get() as Record<string, unknown>)[0];
}

test("a new file gets the current schema, WAL, foreign keys and a busy timeout", () => {
  using dir = tempDir();
  const database = new DatabaseSync(join(dir.path, "s.db"));
  new SqliteStore(database);
  assert.equal(pragma(database, "user_version"), SCHEMA_VERSION);
  assert.equal(pragma(database, "journal_mode"), "wal");
  assert.equal(pragma(database, "foreign_keys"), 1);
  assert.ok(Number(pragma(database, "busy_timeout")) >= 1000);
  const indexes = database.prepare("SELECT name FROM sqlite_master WHERE type = 'index'").all()
    .map((row) => (row as { name: string }).name);
  for (const index of ["sessions_by_created", "sessions_by_repository_created", "sessions_by_status_created"]) {
    assert.ok(indexes.includes(index), index);
  }
  database.close();
});

test("migrations run once: reopening keeps the data and does not run them again", async () => {
  using dir = tempDir();
  const file = join(dir.path, "s.db");
  const first = openSqliteStore(file);
  const repository = await first.createRepository(repositoryInput());
  first.close();
  // Re-running migration 0 would fail on "table repositories already exists".
  const second = openSqliteStore(file);
  assert.deepEqual(await second.getRepository(repository.id), repository);
  second.close();
  assert.equal(MIGRATIONS.length, SCHEMA_VERSION);
});

test("a failed migration leaves the database untouched", () => {
  const database = new DatabaseSync(":memory:");
  database.exec("CREATE TABLE repositories (x)"); // collides with migration 0
  assert.throws(() => new SqliteStore(database), (error) => error instanceof SessionError && error.kind === "Storage");
  assert.equal(pragma(database, "user_version"), 0);
  assert.equal(database.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'sessions'").get()?.n, 0);
});

test("a database from a newer version is refused rather than misread", () => {
  const database = new DatabaseSync(":memory:");
  database.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
  assert.throws(() => new SqliteStore(database), /newer/);
});

test("two connections on one file see each other's writes", async () => {
  using dir = tempDir();
  const file = join(dir.path, "s.db");
  const a = openSqliteStore(file);
  const b = openSqliteStore(file);
  const repository = await a.createRepository(repositoryInput());
  const session = await createSession(b, { repositoryId: repository.id, title: "from b", isWorktree: false });
  assert.equal((await a.getSession(session.id))?.title, "from b");
  const results = await Promise.all([deleteSession(a, session.id), deleteSession(b, session.id)]);
  assert.equal(results.filter(Boolean).length, 1);
  assert.equal(await b.getSession(session.id), null);
  a.close();
  b.close();
});

test("another process reads what this one wrote", async () => {
  using dir = tempDir();
  const file = join(dir.path, "s.db");
  const store = openSqliteStore(file);
  const repository = await store.createRepository(repositoryInput());
  const session = await createSession(store, { repositoryId: repository.id, title: "shared ü", isWorktree: false });
  const result = await runScript(worker, ["read", file, session.id]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout.trim(), "shared ü");
  store.close();
});

test("four processes writing one file at once all succeed, with no row lost", async () => {
  using dir = tempDir();
  const file = join(dir.path, "s.db");
  const store = openSqliteStore(file);
  const repository = await store.createRepository(repositoryInput());
  const results = await Promise.all(
    Array.from({ length: 4 }, () => runScript(worker, ["create-many", file, repository.id, "50"])),
  );
  for (const result of results) {
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), "50");
  }
  const sessions = await store.listSessions({ repositoryId: repository.id });
  assert.equal(sessions.length, 200);
  assert.equal(new Set(sessions.map((s) => s.id)).size, 200);
  store.close();
});

test("a session survives its process being killed right after the create returned", async () => {
  using dir = tempDir();
  const file = join(dir.path, "s.db");
  const [command, ...args] = runtimeArgv(worker, ["create-and-hang", file]);
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const sessionId = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
      if (out.includes("\n")) resolve(out.trim());
    });
    child.on("close", (code) => reject(new Error(`worker exited early (${code}): ${stderr}`)));
  });
  const exited = new Promise((resolve) => child.on("close", resolve));
  child.kill("SIGKILL");
  await exited;
  const store = openSqliteStore(file);
  assert.equal((await store.getSession(sessionId))?.title, "survives");
  store.close();
});

test("STRICT tables refuse a value of the wrong type written behind the store's back", () => {
  const database = new DatabaseSync(":memory:");
  new SqliteStore(database);
  assert.throws(() =>
    database.prepare(
      "INSERT INTO repositories (id, path, name, is_git_repository, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
    ).run("x", "/p", "n", "not a number", "t", "t")
  );
});

test("openSqliteStore makes the database and its WAL files readable by their owner only", {
  skip: process.platform === "win32",
}, async () => {
  using dir = tempDir();
  const file = join(dir.path, "private", "s.db");
  const store = openSqliteStore(file);
  await store.createRepository(repositoryInput());
  for (const name of ["s.db", "s.db-wal", "s.db-shm"]) {
    assert.equal(statSync(join(dir.path, "private", name)).mode & 0o077, 0, name);
  }
  store.close();
});

test("openSqliteStore uses the runtime's fastest built-in driver: bun:sqlite under Bun, node:sqlite under Deno", async () => {
  using dir = tempDir();
  const file = join(dir.path, "s.db");
  assert.equal(sqliteDriverName(), isBun ? "bun:sqlite" : "node:sqlite");
  const store = openSqliteStore(file);
  if (isBun) {
    const specifier = "bun:sqlite"; // a variable, so Deno's type check does not try to resolve it
    const { Database } = await import(specifier) as { Database: new (path: string) => unknown };
    assert.ok(store.database instanceof Database, "a bun:sqlite Database");
  } else {
    assert.ok(store.database instanceof DatabaseSync, "a node:sqlite DatabaseSync");
  }
  const repository = await store.createRepository(repositoryInput());
  // The probe reads the file with the same driver; closing twice is harmless.
  assert.equal(await sqliteSecretProbe(file)(), null);
  store.close();
  store.close();
  const again = openSqliteStore(file);
  assert.deepEqual(await again.getRepository(repository.id), repository);
  again.close();
});

test("closing an openSqliteStore store releases the file at once (no statement keeps it open)", {
  skip: process.platform !== "linux" ? "reads /proc/self/fd" : false,
}, async () => {
  using dir = tempDir();
  const file = join(dir.path, "s.db");
  const store = openSqliteStore(file);
  const repository = await store.createRepository(repositoryInput());
  await store.getRepository(repository.id); // prepared statements the store keeps
  const open = () =>
    readdirSync("/proc/self/fd").filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`).startsWith(file);
      } catch {
        return false;
      }
    });
  assert.ok(open().length > 0);
  store.close();
  assert.deepEqual(open(), []);
});

test("a write that finds the file locked by another connection is a retryable Storage error and changes nothing", async () => {
  using dir = tempDir();
  const file = join(dir.path, "s.db");
  // A short busy timeout, so each refused write gives up at once instead of after 5 s.
  const store = openSqliteStore(file, { busyTimeoutMs: 50 });
  const repository = await store.createRepository(repositoryInput());
  const session = await createSession(store, { repositoryId: repository.id, title: "kept", isWorktree: false });
  const sealed = { encryptedSecret: new Uint8Array(48).fill(7), nonce: new Uint8Array(12).fill(1) };
  await store.setSessionSecret({ sessionId: session.id, ...sealed });
  const before = {
    repositories: await store.listRepositories(),
    sessions: await store.listSessions(),
    secret: await store.getSessionSecret(session.id),
  };

  // Another program's connection holds the write lock, as `sqlite3 s.db 'BEGIN EXCLUSIVE'` would.
  {
    using holder = disposable(new DatabaseSync(file), (holder) => {
      holder.exec("ROLLBACK");
      holder.close();
    });
    holder.exec("BEGIN EXCLUSIVE");
    const newSession = { id: newSessionId(), repositoryId: repository.id, title: "refused", isWorktree: false };
    // Autocommit writes and the ones in an explicit BEGIN IMMEDIATE transaction alike.
    const writes: [string, () => Promise<unknown>][] = [
      ["createRepository", () => store.createRepository(repositoryInput("refused"))],
      ["createSession", () => store.createSession(newSession)],
      ["createSession with a secret", () => store.createSession({ ...newSession, id: newSessionId() }, sealed)],
      ["updateSession", () => store.updateSession(session.id, { title: "changed" })],
      [
        "setSessionSecret",
        () => store.setSessionSecret({ sessionId: session.id, ...sealed, nonce: new Uint8Array(12) }),
      ],
      ["deleteSessionSecret", () => store.deleteSessionSecret(session.id)],
      ["deleteSession", () => store.deleteSession(session.id)],
    ];
    for (const [name, write] of writes) {
      await assert.rejects(write, (error: unknown) => {
        assert.ok(error instanceof SessionError, `${name}: ${error}`);
        assert.equal(error.kind, "Storage", name);
        assert.match(error.message, /database is locked/, name);
        assert.equal(error.retryAfterSeconds, 1, name);
        assert.equal(retryAfterOf(error), 1, name);
        return true;
      }, name);
    }
    // Reads go on while the lock is held (WAL), and see nothing of the refused writes.
    assert.deepEqual(await store.listSessions(), before.sessions);
  }
  assert.deepEqual(await store.listRepositories(), before.repositories);
  assert.deepEqual(await store.listSessions(), before.sessions);
  assert.deepEqual(await store.getSessionSecret(session.id), before.secret);
  // Once the lock is let go, the same write goes through: trying again was right.
  assert.equal((await store.updateSession(session.id, { title: "changed" }))?.title, "changed");
  // Other failures stay unmarked: a conflict is the caller's, and no wait fixes it.
  await assert.rejects(store.createRepository({ path: repository.path, name: "again" }), (error: unknown) => {
    assert.ok(error instanceof SessionError && error.kind === "Conflict" && error.retryAfterSeconds === null);
    return true;
  });
  store.close();
});
