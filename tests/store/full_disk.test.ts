// Issue 12: no result of a write is trusted before its commit has succeeded. The database lives on a
// real full filesystem (a 4 MiB tmpfs filled to the last byte), because `PRAGMA max_page_count` does
// not reproduce it: the WAL file still grows. Every write of the store must reject with `Storage`, and
// the file, read again once there is room, must hold exactly what it held before.
// Needs root (for `mount`). Skips otherwise, unless REQUIRE_FULL_DISK=1 makes that an error (CI).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readdirSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import {
  createSession,
  deleteSession,
  type EventLogPage,
  type NewRepository,
  type NewSession,
  newSessionId,
  type NewSessionSecret,
  type Repository,
  type SealedSecret,
  type Session,
  SessionError,
  type SessionPatch,
  type SqliteDatabase,
  SqliteStore,
  type StoredSessionSecret,
  storeSessionSecret,
} from "../../mod.ts";
import { ClosableSqliteStore, openSqliteStore, sqliteDriverName } from "../../src/platform/mod.ts";
import { deferred, disposable, isBun, openSqliteFile, repositoryInput } from "../fixtures/helpers.ts";
import { sseReader, startTestServer } from "../fixtures/http_fixture.ts";

const required = process.env.REQUIRE_FULL_DISK === "1";

/** A connection of one of the tested drivers, closable. */
type Connection = SqliteDatabase & { close(throwOnError?: boolean): void };

interface Driver {
  name: string;
  open(path: string): Connection;
}

const drivers: Driver[] = [{ name: "node:sqlite", open: (path) => new DatabaseSync(path) }];
if (isBun) {
  const specifier = "bun:sqlite"; // a variable, so Deno's type check does not try to resolve it
  const { Database } = await import(specifier) as { Database: new (path: string) => Connection };
  drivers.push({ name: "bun:sqlite", open: (path) => new Database(path) });
}

const LOGGED = { logEvent: true };

/** The store as the orchestrator writes to it over an event log: every write logs its event. */
class LoggingStore extends ClosableSqliteStore {
  override createRepository(input: NewRepository) {
    return super.createRepository(input, LOGGED);
  }
  override deleteRepository(id: string) {
    return super.deleteRepository(id, LOGGED);
  }
  override createSession(input: NewSession, secret?: SealedSecret) {
    return super.createSession(input, secret, LOGGED);
  }
  override updateSession(id: string, patch: SessionPatch) {
    return super.updateSession(id, patch, LOGGED);
  }
  override deleteSession(id: string) {
    return super.deleteSession(id, LOGGED);
  }
  override setSessionSecret(input: NewSessionSecret) {
    return super.setSessionSecret(input, LOGGED);
  }
}

/** A way to open a store on a file: over each driver's connection, and as the platform opens it. */
interface StoreOpener {
  name: string;
  open(path: string): { store: SqliteStore; close(): void };
}

const openers: StoreOpener[] = [
  ...drivers.map((driver): StoreOpener => ({
    name: driver.name,
    open: (path) => {
      const connection = driver.open(path);
      return { store: new SqliteStore(connection), close: () => connection.close(true) };
    },
  })),
  {
    // What the server runs on: the runtime's default driver, chosen by openSqliteStore.
    name: `openSqliteStore (${sqliteDriverName()})`,
    open: (path) => {
      const store = openSqliteStore(path);
      return { store, close: () => store.close() };
    },
  },
  {
    // As the server opens it: with its event log, every write logging its event (as the orchestrator asks).
    name: `openSqliteStore (${sqliteDriverName()}) with its event log`,
    open: (path) => {
      const driver = drivers.find((candidate) => candidate.name === sqliteDriverName())!;
      const store = new LoggingStore(driver.open(path), { eventLog: { keepEvents: 1, keepSeconds: 0 } });
      return { store, close: () => store.close() };
    },
  },
];

/** A mounted 4 MiB tmpfs, unmounted by `remove`, or at the end of a `using` block. */
interface Mount extends Disposable {
  dir: string;
  remove(): void;
}

function mountTmpfs(): Mount {
  const dir = mkdtempSync(join(tmpdir(), "slo-full-disk-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", dir], { stdio: "pipe" });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const remove = () => unmount(dir);
  return { dir, remove, [Symbol.dispose]: remove };
}

function unmount(dir: string): void {
  try {
    execFileSync("umount", [dir], { stdio: "pipe" });
  } catch {
    // bun:sqlite closes a connection only once its statements are finalized, which a garbage
    // collection does; a busy mount is then free. Detaching it lazily is the last resort.
    (globalThis as { Bun?: { gc(force: boolean): void } }).Bun?.gc(true);
    try {
      execFileSync("umount", [dir], { stdio: "pipe" });
    } catch {
      execFileSync("umount", ["-l", dir], { stdio: "pipe" });
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

// Whether this machine can run these tests: root, and a tmpfs that mounts.
function probe(): string | null {
  if (process.getuid?.() !== 0) return "not root: mounting a tmpfs needs root";
  try {
    mountTmpfs().remove();
    return null;
  } catch (error) {
    return `mount -t tmpfs failed: ${(error as Error).message.trim()}`;
  }
}

const unavailable = probe();
const skip = unavailable === null || required
  ? false
  : `${unavailable} (set REQUIRE_FULL_DISK=1 to make this an error)`;

function requireFullDisk(): void {
  if (unavailable !== null) throw new Error(`REQUIRE_FULL_DISK=1, but ${unavailable}`);
}

// Writes zeros until the filesystem refuses with ENOSPC, ending with single bytes so that not even
// the filler's last page has room left.
function fillDisk(dir: string): void {
  const fd = openSync(join(dir, "filler"), "w");
  using _file = deferred(() => closeSync(fd));
  const zeros = new Uint8Array(1 << 20);
  for (const size of [1 << 20, 4096, 1]) {
    for (;;) {
      try {
        writeSync(fd, zeros, 0, size);
      } catch (error) {
        assert.equal((error as NodeJS.ErrnoException).code, "ENOSPC");
        break;
      }
    }
  }
}

/** What the seeded file holds. */
interface Seed {
  repository: Repository; // has the sessions
  emptyRepository: Repository; // no sessions, so deleting it would succeed
  session: Session; // has a secret
  other: Session; // has a secret
  bare: Session; // has no secret
}

/** Everything in the file, as the store reads it. */
interface Snapshot {
  repositories: Repository[];
  sessions: Session[];
  secrets: Record<string, StoredSessionSecret | null>;
  /** The event log, read from its start (the events and the newest id), on a store that keeps one. */
  events: EventLogPage | null;
}

async function snapshot(store: SqliteStore): Promise<Snapshot> {
  const sessions = await store.listSessions();
  const secrets: Record<string, StoredSessionSecret | null> = {};
  for (const session of sessions) secrets[session.id] = await store.getSessionSecret(session.id);
  const events = store.eventLog === null ? null : await store.eventLog.readAfter("0", 1000);
  return { repositories: await store.listRepositories(), sessions, secrets, events };
}

function secretInput(sessionId: string, fill: number) {
  return { sessionId, encryptedSecret: new Uint8Array(48).fill(fill), nonce: new Uint8Array(12).fill(fill) };
}

// Seeds a file with the default driver and closes it, so the file is checkpointed and its WAL gone.
async function seed(path: string): Promise<Seed> {
  using store = openSqliteFile(path);
  const repository = await store.createRepository(repositoryInput("full"));
  const emptyRepository = await store.createRepository(repositoryInput("empty"));
  const make = (title: string) =>
    store.createSession({ id: newSessionId(), repositoryId: repository.id, title, isWorktree: false });
  const session = await make("has a secret");
  const other = await make("has a secret too");
  const bare = await make("has no secret");
  await store.setSessionSecret(secretInput(session.id, 1));
  await store.setSessionSecret(secretInput(other.id, 2));
  return { repository, emptyRepository, session, other, bare };
}

async function rejectsWithStorage(promise: Promise<unknown>): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof SessionError, `expected a SessionError, got ${error}`);
    assert.equal(error.kind, "Storage");
    assert.ok(error.cause instanceof Error, "the driver's error is kept as cause");
    assert.match(error.message, /full/);
    return true;
  });
}

/** One write, tried on the full disk and then again once there is room. */
interface WriteCase {
  name: string;
  write(store: SqliteStore, seed: Seed): Promise<unknown>;
}

const writeCases: WriteCase[] = [
  {
    name: "createRepository adds nothing",
    write: (store) => store.createRepository(repositoryInput("new")),
  },
  { name: "deleteRepository removes nothing", write: (store, s) => store.deleteRepository(s.emptyRepository.id) },
  {
    name: "createSession adds nothing",
    write: (store, s) =>
      store.createSession({ id: newSessionId(), repositoryId: s.repository.id, title: "new", isWorktree: false }),
  },
  {
    name: "updateSession changes nothing",
    write: (store, s) => store.updateSession(s.session.id, { title: "changed", status: "archived" }),
  },
  {
    name: "deleteSession removes neither the row nor its secret",
    write: (store, s) => store.deleteSession(s.session.id),
  },
  { name: "setSessionSecret adds no secret", write: (store, s) => store.setSessionSecret(secretInput(s.bare.id, 7)) },
  {
    name: "setSessionSecret replaces no secret",
    write: (store, s) => store.setSessionSecret(secretInput(s.other.id, 8)),
  },
  { name: "deleteSessionSecret removes no secret", write: (store, s) => store.deleteSessionSecret(s.other.id) },
  // The seed's low-level functions (mod.ts) over the same store.
  {
    name: "deleteSession(store, id) removes neither the row nor its secret",
    write: (store, s) => deleteSession(store, s.session.id),
  },
  {
    name: "createSession(store, params) adds nothing",
    write: (store, s) => createSession(store, { repositoryId: s.repository.id, title: "new", isWorktree: false }),
  },
  {
    name: "storeSessionSecret(store, …) replaces no secret",
    write: (store, s) => storeSessionSecret(store, s.other.id, new Uint8Array(48).fill(9), new Uint8Array(12).fill(9)),
  },
];

for (const opener of openers) {
  for (const writeCase of writeCases) {
    test(`full disk, ${opener.name}: ${writeCase.name}, and rejects with Storage`, { skip }, async () => {
      requireFullDisk();
      using mount = mountTmpfs();
      using connections = disposable([] as { close(): void }[], (connections) => {
        for (const connection of connections) {
          try {
            connection.close();
          } catch { /* closed already, or its failure to open is what the test reports */ }
        }
      });
      const open = () => {
        const opened = opener.open(join(mount.dir, "sessions.db"));
        connections.push(opened);
        return opened.store;
      };
      const seeded = await seed(join(mount.dir, "sessions.db"));
      // Opened before the disk fills, as a running server's connection is.
      const store = open();
      const before = await snapshot(store);
      // With an event log, a follower is told nothing of a write that failed.
      const followed: string[] = [];
      const follower = await store.eventLog?.follow((event, { id }) => followed.push(`${id} ${event.type}`));
      fillDisk(mount.dir);

      await rejectsWithStorage(writeCase.write(store, seeded));
      // The connection that failed does not see the write either.
      assert.deepEqual(await snapshot(store), before);
      assert.deepEqual(followed, []);
      await follower?.close();

      rmSync(join(mount.dir, "filler"));
      // A new connection reads the file: the write is not in it.
      assert.deepEqual(await snapshot(open()), before);
      // The failed write left no transaction open: with room again, the same write succeeds.
      await writeCase.write(store, seeded);
      assert.notDeepEqual(await snapshot(open()), before);
    });
  }
}

for (const driver of drivers) {
  test(`full disk, ${driver.name}: opening a database whose shared-memory file cannot be made is a Storage error`, {
    skip,
  }, async () => {
    requireFullDisk();
    using mount = mountTmpfs();
    const path = join(mount.dir, "sessions.db");
    let connection: Connection | undefined;
    using _connection = deferred(() => {
      try {
        connection?.close(true);
      } catch { /* already closed */ }
    });
    const seeded = await seed(path); // closed: no -wal or -shm file left
    fillDisk(mount.dir);
    connection = driver.open(path);
    assert.throws(() => new SqliteStore(connection!), (error: unknown) => {
      assert.ok(error instanceof SessionError);
      assert.equal(error.kind, "Storage");
      assert.ok(error.cause instanceof Error);
      // node:sqlite and bun:sqlite both say only "disk I/O error" (SQLITE_IOERR_SHMSIZE) here.
      assert.match(error.message, /^opening the SQLite database failed: disk I\/O error .*is the disk full\?/);
      return true;
    });
    if (driver.name === sqliteDriverName()) {
      // openSqliteStore, on the same driver, reports it the same way and closes what it opened.
      assert.throws(
        () => openSqliteStore(path),
        (error: unknown) => error instanceof SessionError && error.kind === "Storage",
      );
    }
    connection.close(true);
    connection = undefined;
    rmSync(join(mount.dir, "filler"));
    connection = driver.open(path);
    assert.deepEqual((await new SqliteStore(connection).getSession(seeded.session.id))?.title, seeded.session.title);
  });

  test(
    `full disk, ${driver.name}: a migration whose COMMIT fails reports the full disk and leaves the file unmigrated`,
    {
      skip,
    },
    () => {
      requireFullDisk();
      using mount = mountTmpfs();
      const path = join(mount.dir, "sessions.db");
      using connections = disposable([] as Connection[], (connections) => {
        for (const connection of connections) {
          try {
            connection.close(true);
          } catch { /* already closed */ }
        }
      });
      // A WAL database with no schema yet, held open by another connection so that its -wal and
      // -shm files exist: the migration's BEGIN succeeds and its COMMIT meets the full disk.
      const holder = driver.open(path);
      connections.push(holder);
      holder.exec("PRAGMA journal_mode = WAL");
      holder.prepare("SELECT count(*) FROM sqlite_master").all(); // a read makes the -wal and -shm files
      fillDisk(mount.dir);
      const connection = driver.open(path);
      connections.push(connection);
      assert.throws(() => new SqliteStore(connection), (error: unknown) => {
        assert.ok(error instanceof SessionError);
        assert.equal(error.kind, "Storage");
        // SQLite rolled back by itself; the failed ROLLBACK after it must not hide why.
        assert.match(error.message, /^opening the SQLite database failed: database or disk is full/);
        return true;
      });
      if (driver.name === sqliteDriverName()) {
        assert.throws(() => openSqliteStore(path), (error: unknown) => {
          assert.ok(error instanceof SessionError);
          assert.equal(error.kind, "Storage");
          assert.match(error.message, /^opening the SQLite database failed: database or disk is full/);
          return true;
        });
      }
      rmSync(join(mount.dir, "filler"));
      const reader = driver.open(path);
      connections.push(reader);
      const version = Object.values(reader.prepare("PRAGMA user_version").get() as Record<string, unknown>)[0];
      assert.equal(Number(version), 0);
      assert.equal(reader.prepare("SELECT name FROM sqlite_master").all().length, 0);
    },
  );
}

test(
  "full disk, over HTTP: every write is 500 Storage, announces nothing, and the rows are still there",
  { skip },
  async () => {
    requireFullDisk();
    using mount = mountTmpfs();
    await using t = await startTestServer({ dataDir: mount.dir });
    const { body: repository } = await t.callJson("/v1/repositories", {
      method: "POST",
      json: { path: "/src/full", name: "full" },
    });
    const { body: empty } = await t.callJson("/v1/repositories", {
      method: "POST",
      json: { path: "/src/empty", name: "empty" },
    });
    const { body: session } = await t.callJson("/v1/sessions", {
      method: "POST",
      json: { repositoryId: repository.id, title: "kept", isWorktree: false },
    });
    const secretBefore = (await t.callJson(`/v1/sessions/${session.id}/secret`)).body.secret;
    const events = sseReader(await t.call("/v1/events"));
    assert.equal((await events.next())?.event, "ready");

    fillDisk(mount.dir);
    const writes: [string, RequestInit & { json?: unknown }][] = [
      [`/v1/sessions/${session.id}`, { method: "DELETE" }],
      [`/v1/repositories/${empty.id}`, { method: "DELETE" }],
      [`/v1/sessions/${session.id}`, { method: "PATCH", json: { title: "changed" } }],
      ["/v1/sessions", { method: "POST", json: { repositoryId: repository.id, title: "new", isWorktree: false } }],
      ["/v1/repositories", { method: "POST", json: { path: "/src/new", name: "new" } }],
    ];
    for (const [path, init] of writes) {
      const answer = await t.callJson(path, init);
      assert.equal(answer.status, 500, `${init.method} ${path}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.error.kind, "Storage");
    }

    rmSync(join(mount.dir, "filler"));
    // The first event after the failures is the next committed change: nothing was announced for them.
    const touched = await t.callJson(`/v1/sessions/${session.id}`, { method: "PATCH", json: { status: "paused" } });
    assert.equal(touched.status, 200);
    const next = await events.next();
    assert.equal(next?.event, "session.updated");
    assert.equal(JSON.parse(next!.data).session.title, "kept");
    await events.close();
    assert.equal((await t.callJson(`/v1/repositories/${empty.id}`)).status, 200);
    assert.equal((await t.callJson(`/v1/sessions/${session.id}/secret`)).body.secret, secretBefore);
    const listed = await t.callJson("/v1/sessions");
    assert.deepEqual(listed.body.sessions.map((s: Session) => s.id), [session.id]);
  },
);

test(
  "full disk, backup: a copy that cannot be written whole is 500 Storage and leaves nothing in the folder",
  { skip },
  async () => {
    requireFullDisk();
    using mount = mountTmpfs();
    // The live database has room; only the backup's folder is full.
    await using t = await startTestServer();
    const { body: repository } = await t.callJson("/v1/repositories", {
      method: "POST",
      json: { path: "/src/full", name: "full" },
    });
    const created = await t.callJson("/v1/sessions", {
      method: "POST",
      json: { repositoryId: repository.id, title: "kept", isWorktree: false },
    });
    assert.equal(created.status, 201);
    const destination = join(mount.dir, "copy.db");

    fillDisk(mount.dir);
    const failed = await t.callJson("/v1/backup", { method: "POST", json: { path: destination } });
    assert.equal(failed.status, 500, JSON.stringify(failed.body));
    assert.equal(failed.body.error.kind, "Storage");
    assert.match(String(t.logged.at(-1)?.message), /writing a backup/);
    assert.deepEqual(readdirSync(mount.dir), ["filler"], "no temp file and no partial copy is left");

    rmSync(join(mount.dir, "filler"));
    const written = await t.callJson("/v1/backup", { method: "POST", json: { path: destination } });
    assert.equal(written.status, 200, JSON.stringify(written.body));
    assert.equal(written.body.sessions, 1);
    assert.deepEqual(readdirSync(mount.dir), ["copy.db"]);
  },
);
