// Issue 18, backups. A copy of sessions.db alone, taken while the server runs, holds nothing committed
// since the last checkpoint: SQLite keeps it in sessions.db-wal until then (the first test shows it).
// `slo backup <file>` (POST /v1/backup, SessionOrchestrator.backup) has the server copy its database
// with SQLite itself (VACUUM INTO a temp file, checked with PRAGMA integrity_check, then renamed into
// place), so the copy has every committed session and a new server started on it serves them.
// Real server processes, the real CLI, real SQLite files; the same in Deno and in Bun.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { MemoryStore, type Session, SessionError, SessionOrchestrator } from "../../mod.ts";
import { DATABASE_KEY_FILE } from "../../src/platform/mod.ts";
import { DATABASE_FILE_NAME } from "../../src/server/serve.ts";
import { assertFails, type CliWorld, cliWorld, jsonOf } from "../fixtures/cli_fixture.ts";
import { disposable, openSqliteFile, tempDir } from "../fixtures/helpers.ts";
import { startTestApp } from "../fixtures/http_fixture.ts";
import { skipPostgres, testDatabase } from "../fixtures/postgres_fixture.ts";
import { serveUntilExit } from "../fixtures/server_process.ts";

const database = await testDatabase();

/** The server's URL and token, read as a client on the machine reads them. */
async function endpoint(world: CliWorld, url: Promise<string>): Promise<{ url: string; token: string }> {
  return { url: await url, token: readFileSync(join(world.dataDir, "token"), "utf8").trim() };
}

async function api(
  server: { url: string; token: string },
  method: string,
  path: string,
  body?: unknown,
  // deno-lint-ignore no-explicit-any
): Promise<{ status: number; body: any }> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${server.token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

/** The ids of the sessions in a SQLite file opened alone (none when it has no sessions table). */
function sessionIdsIn(path: string): string[] {
  using file = disposable(new DatabaseSync(path, { readOnly: true }), (file) => file.close());
  const table = file.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sessions'").get();
  if (table === undefined) return [];
  return (file.prepare("SELECT id FROM sessions ORDER BY id").all() as { id: string }[]).map((row) => row.id);
}

function integrityOf(path: string): string[] {
  using file = disposable(new DatabaseSync(path, { readOnly: true }), (file) => file.close());
  return (file.prepare("PRAGMA integrity_check").all() as { integrity_check: string }[]).map((row) =>
    row.integrity_check
  );
}

test(
  "backup: with sessions committed but still only in the WAL, a copy of sessions.db lacks them; `slo backup` has all, checked, and a server started on it serves them with their secrets",
  { timeout: 120_000 },
  async () => {
    await using world = cliWorld("slo-backup-");
    await using restored = cliWorld("slo-restored-");
    const server = await endpoint(world, world.serve().then((s) => s.url));
    const folder = join(world.base, "app");
    mkdirSync(folder);
    jsonOf(await world.cli(["repo", "add", folder, "--json"]));
    const sessions: Session[] = [];
    for (const title of ["First", "Second", "Third"]) {
      sessions.push(jsonOf<Session>(await world.cli(["new", "app", title, "--no-worktree", "--json"])));
    }
    const ids = sessions.map((session) => session.id).sort();
    const secrets = new Map<string, string>();
    for (const id of ids) {
      const answer = await api(server, "GET", `/v1/sessions/${id}/secret`);
      assert.equal(answer.status, 200);
      secrets.set(id, answer.body.secret);
    }

    // The problem: the commits are in the write-ahead log, which a copy of the main file leaves behind.
    const live = join(world.dataDir, DATABASE_FILE_NAME);
    assert.ok(statSync(`${live}-wal`).size > 0, "the sessions are in the -wal file, not yet checkpointed");
    const plain = join(world.base, "plain-copy.db");
    copyFileSync(live, plain);
    assert.deepEqual(sessionIdsIn(plain), [], "a copy of sessions.db alone has none of the committed sessions");

    // The backup, with a path relative to the caller's folder, in a folder that exists.
    mkdirSync(join(world.base, "backups"));
    const written = await world.cli(["backup", "backups/sessions.db"], { cwd: world.base });
    assert.equal(written.code, 0, written.stderr);
    const copy = join(world.base, "backups", "sessions.db");
    assert.match(written.stdout, new RegExp(`^wrote backup ${copy}$`, "m"));
    assert.match(written.stdout, /^\d+ bytes, 3 sessions, 1 repositories; integrity check: ok$/m);
    assert.deepEqual(integrityOf(copy), ["ok"]);
    assert.deepEqual(sessionIdsIn(copy), ids);
    assert.equal(statSync(copy).mode & 0o777, 0o600, "the copy holds sealed secrets: owner-only, as the live file");
    // Only the file itself: no temp file, no -wal or -journal beside it.
    assert.deepEqual(readdirSync(join(world.base, "backups")), ["sessions.db"]);

    // --json, for scripts: what the server read back from the copy.
    const second = join(world.base, "backups", "second.db");
    const report = jsonOf<Record<string, unknown>>(await world.cli(["backup", second, "--json"]));
    assert.deepEqual(report, {
      path: second,
      bytes: statSync(second).size,
      sessions: 3,
      repositories: 1,
      integrity: "ok",
    });

    // Restoring: the copy as sessions.db of a new data directory, with the database key it was sealed under.
    mkdirSync(restored.dataDir, { recursive: true, mode: 0o700 });
    copyFileSync(copy, join(restored.dataDir, DATABASE_FILE_NAME));
    copyFileSync(join(world.dataDir, DATABASE_KEY_FILE), join(restored.dataDir, DATABASE_KEY_FILE));
    const restoredServer = await endpoint(restored, restored.serve().then((s) => s.url));
    const listed = jsonOf<Session[]>(await restored.cli(["list", "--json"]));
    assert.deepEqual(listed, sessions);
    for (const id of ids) {
      const answer = await api(restoredServer, "GET", `/v1/sessions/${id}/secret`);
      assert.equal(answer.status, 200);
      assert.equal(answer.body.secret, secrets.get(id));
    }
    // The first server goes on unchanged.
    assert.equal(jsonOf<Session[]>(await world.cli(["list", "--json"])).length, 3);
  },
);

test("backup: restored in place after a crash (SIGKILL), the server serves exactly what the backup had", {
  timeout: 120_000,
}, async () => {
  await using world = cliWorld("slo-backup-inplace-");
  const first = await world.serve();
  const folder = join(world.base, "app");
  mkdirSync(folder);
  jsonOf(await world.cli(["repo", "add", folder, "--json"]));
  const kept = jsonOf<Session>(await world.cli(["new", "app", "In the backup", "--no-worktree", "--json"]));
  const copy = join(world.base, "copy.db");
  jsonOf(await world.cli(["backup", copy, "--json"]));
  jsonOf<Session>(await world.cli(["new", "app", "After the backup", "--no-worktree", "--json"]));
  first.signal("SIGKILL");
  await first.closed;

  // The restore: the copy in place, and the dead server's log, which belongs to the old file, removed.
  const live = join(world.dataDir, DATABASE_FILE_NAME);
  assert.ok(existsSync(`${live}-wal`), "the killed server left its write-ahead log");
  rmSync(`${live}-wal`);
  rmSync(`${live}-shm`, { force: true });
  copyFileSync(copy, live);
  await world.serve();
  assert.deepEqual(jsonOf<Session[]>(await world.cli(["list", "--json"])), [kept]);
});

test("backup: without the database key its secrets were sealed under, a server on the copy refuses to start", {
  timeout: 60_000,
}, async () => {
  await using world = cliWorld("slo-backup-key-");
  using other = tempDir("slo-backup-nokey-");
  await world.serve();
  const folder = join(world.base, "app");
  mkdirSync(folder);
  jsonOf(await world.cli(["repo", "add", folder, "--json"]));
  jsonOf(await world.cli(["new", "app", "Sealed", "--no-worktree", "--json"]));
  const copy = join(world.base, "copy.db");
  jsonOf(await world.cli(["backup", copy, "--json"]));
  copyFileSync(copy, join(other.path, DATABASE_FILE_NAME));
  const refused = await serveUntilExit(["--data-dir", other.path, "--port", "0"]);
  assert.notEqual(refused.code, 0, refused.stdout);
  // The copy's sealed secrets are the evidence that a key existed: no new one is made over them.
  assert.match(refused.stderr, /^error: a database key was made earlier .* cannot be found now/m);
  assert.match(refused.stderr, /SESSION_LIFECYCLE_DATABASE_KEY/);
  assert.equal(existsSync(join(other.path, DATABASE_KEY_FILE)), false);
});

test("backup: refusals each have their kind and exit code, and write nothing", { timeout: 120_000 }, async () => {
  await using world = cliWorld("slo-backup-refused-");
  const server = await endpoint(world, world.serve().then((s) => s.url));
  const folder = join(world.base, "app");
  mkdirSync(folder);
  jsonOf(await world.cli(["repo", "add", folder, "--json"]));
  jsonOf(await world.cli(["new", "app", "Kept", "--no-worktree", "--json"]));
  const backups = join(world.base, "backups");
  mkdirSync(backups);
  const entries = () => readdirSync(backups).sort();

  // Over HTTP, where no CLI makes the path absolute first: relative, `..`, not a string, unknown fields.
  for (
    const [body, message] of [
      [{ path: "sessions.db" }, /absolute/],
      [{ path: `${backups}/../backups/x.db` }, /\.\./],
      [{ path: 7 }, /path/],
      [{ path: join(backups, "x.db"), replace: true }, /replace/],
    ] as const
  ) {
    const answer = await api(server, "POST", "/v1/backup", body);
    assert.equal(answer.status, 400, JSON.stringify(answer.body));
    assert.equal(answer.body.error.kind, "InvalidInput");
    assert.match(answer.body.error.message, message);
  }
  assert.deepEqual(entries(), []);

  // An existing file is a conflict, kept as it was; --force replaces it with a checked copy.
  const existing = join(backups, "existing.db");
  writeFileSync(existing, "keep me");
  const conflict = await world.cli(["backup", existing]);
  assertFails(conflict, 4, new RegExp(`a file exists at ${existing}`));
  assert.match(conflict.stderr, /^hint: pass --force to replace it$/m);
  const overHttp = await api(server, "POST", "/v1/backup", { path: existing });
  assert.equal(overHttp.status, 409);
  assert.equal(overHttp.body.error.kind, "Conflict");
  assert.equal(readFileSync(existing, "utf8"), "keep me");
  assert.deepEqual(entries(), ["existing.db"]);
  const forced = await world.cli(["backup", existing, "--force"]);
  assert.equal(forced.code, 0, forced.stderr);
  assert.deepEqual(integrityOf(existing), ["ok"]);
  assert.equal(sessionIdsIn(existing).length, 1);
  assert.deepEqual(entries(), ["existing.db"]);

  // A folder that does not exist is not made; a folder is not a file name.
  const missing = join(world.base, "missing");
  assertFails(
    await world.cli(["backup", join(missing, "x.db")]),
    2,
    new RegExp(`the folder ${missing} does not exist`),
  );
  assert.equal(existsSync(missing), false);
  assertFails(await world.cli(["backup", backups, "--force"]), 2, /is a folder/);

  // The live database and the files beside it, even with --force: the server's data stays whole.
  const live = join(world.dataDir, DATABASE_FILE_NAME);
  for (const target of [live, `${live}-wal`, `${live}-shm`]) {
    assertFails(await world.cli(["backup", target, "--force"]), 2, /the live database's own file/);
  }
  assert.deepEqual(
    readdirSync(world.dataDir).filter((name) => name.startsWith(DATABASE_FILE_NAME)).sort(),
    [DATABASE_FILE_NAME, `${DATABASE_FILE_NAME}-shm`, `${DATABASE_FILE_NAME}-wal`],
  );
  assert.equal(jsonOf<Session[]>(await world.cli(["list", "--json"])).length, 1);
  assert.deepEqual(entries(), ["existing.db"]);
});

test("backup: a MemoryStore cannot make one: InvalidInput, nothing written", async () => {
  using dir = tempDir("slo-backup-memory-");
  await assert.rejects(
    new SessionOrchestrator({ store: new MemoryStore() }).backup(join(dir.path, "copy.db")),
    (error) =>
      error instanceof SessionError && error.kind === "InvalidInput" && /cannot write a backup/.test(error.message),
  );
  assert.deepEqual(readdirSync(dir.path), []);
});

test("backup: a server on Postgres answers 400 InvalidInput naming pg_dump, and writes nothing", {
  skip: skipPostgres,
}, async () => {
  using dir = tempDir("slo-backup-postgres-");
  await using t = await startTestApp({ database: database!.url });
  const answer = await t.callJson("/v1/backup", { method: "POST", json: { path: join(dir.path, "copy.db") } });
  assert.equal(answer.status, 400);
  assert.equal(answer.body.error.kind, "InvalidInput");
  assert.match(answer.body.error.message, /pg_dump/);
  assert.deepEqual(readdirSync(dir.path), []);
});

test("backup: in process, options are checked and a copy taken between writes has exactly the writes before it", async () => {
  using dir = tempDir("slo-backup-inproc-");
  using store = openSqliteFile(join(dir.path, DATABASE_FILE_NAME));
  const orchestrator = new SessionOrchestrator({ store });
  const repository = await orchestrator.createRepository({ path: "/src/app", name: "app" });
  const before = await orchestrator.createSession({
    repositoryId: repository.id,
    title: "Before",
    isWorktree: false,
  });
  const copy = join(dir.path, "copy.db");
  await assert.rejects(
    orchestrator.backup(copy, { overwrite: "yes" as unknown as boolean }),
    (error) => error instanceof SessionError && error.kind === "InvalidInput" && /overwrite/.test(error.message),
  );
  await assert.rejects(
    orchestrator.backup(copy, { force: true } as never),
    (error) => error instanceof SessionError && error.kind === "InvalidInput" && /force/.test(error.message),
  );
  assert.equal(existsSync(copy), false);
  const written = await orchestrator.backup(copy);
  await orchestrator.createSession({ repositoryId: repository.id, title: "After", isWorktree: false });
  assert.equal(written.sessions, 1);
  assert.deepEqual(sessionIdsIn(copy), [before.id]);
  // The store's own method applies the same path rule to callers that skip the orchestrator.
  await assert.rejects(
    store.backup("copy.db"),
    (error) => error instanceof SessionError && error.kind === "InvalidInput",
  );
});
