// Port leases through the orchestrator: unique among every session of a store under concurrent
// creates (one orchestrator, two over one SQLite file, two over one Postgres database), a port some
// program listens on is skipped, leases go with a delete and with a failed create, stay across
// archive and restore (a port taken meanwhile is replaced), a fork gets its own, reconcile frees
// orphans, and bad counts are refused with nothing written.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import {
  generateDatabaseKey,
  MemoryStore,
  type Session,
  SessionOrchestrator,
  type SessionOrchestratorOptions,
  SessionSecretChain,
  type SessionStore,
  SqliteStore,
} from "../../mod.ts";
import { portIsFree } from "../../src/platform/mod.ts";
import { git, type WorktreeFixture, worktreeFixture } from "../fixtures/git_fixtures.ts";
import {
  asyncDeferred,
  asyncDisposable,
  disposable,
  openSqliteFile,
  repositoryInput,
  tempDir,
} from "../fixtures/helpers.ts";
import { openSchemaStore, skipPostgres, testDatabase } from "../fixtures/postgres_fixture.ts";
import { errorOfKind as kind } from "../fixtures/helpers.ts";

const database = await testDatabase();

function listen(port = 0): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

const portOf = (server: Server) => (server.address() as { port: number }).port;
const closeServer = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

async function orchestratorOn(store: SessionStore, options: Partial<SessionOrchestratorOptions> = {}) {
  const chain = new SessionSecretChain({ store, databaseKey: await generateDatabaseKey() });
  return new SessionOrchestrator({ store, chain, ...options });
}

// Every lease of the store is held by one of its sessions, and each session's list is its leases.
async function assertLeasesMatchSessions(store: SessionStore): Promise<number[]> {
  const leases = await store.listPortLeases();
  const sessions = await store.listSessions();
  const fromSessions = sessions.flatMap((session) => session.ports.map((port) => [port, session.id] as const));
  assert.deepEqual(
    leases.map((lease) => [lease.port, lease.sessionId]),
    fromSessions.sort(([a], [b]) => a - b),
  );
  assert.equal(new Set(leases.map((lease) => lease.port)).size, leases.length);
  return leases.map((lease) => lease.port);
}

for (
  const [name, open] of [
    ["MemoryStore", () => disposable({ store: new MemoryStore() as SessionStore }, () => {})],
    ["SqliteStore", () => {
      const database = new DatabaseSync(":memory:");
      return disposable({ store: new SqliteStore(database) as SessionStore }, () => database.close());
    }],
  ] as const
) {
  test(`${name}: 30 concurrent creates lease distinct ports from the range, then the range is full`, async () => {
    using opened = open();
    const { store } = opened;
    const range = { from: 43100, to: 43159 };
    const orchestrator = await orchestratorOn(store, { portRange: range });
    const repository = await orchestrator.createRepository(repositoryInput());
    const sessions = await Promise.all(
      Array.from(
        { length: 30 },
        (_, i) =>
          orchestrator.createSession({ repositoryId: repository.id, title: `s${i}`, isWorktree: false, ports: 2 }),
      ),
    );
    const ports = sessions.flatMap((session) => session.ports);
    assert.equal(new Set(ports).size, 60);
    assert.ok(ports.every((port) => port >= range.from && port <= range.to));
    assert.deepEqual((await assertLeasesMatchSessions(store)).length, 60);
    await assert.rejects(
      orchestrator.createSession({ repositoryId: repository.id, title: "one more", isWorktree: false, ports: 1 }),
      (error: unknown) => kind("Conflict")(error) && /43100–43159/.test((error as Error).message),
    );
    assert.equal((await store.listSessions()).length, 30);
    // A session without ports still fits, and a delete frees its ports for the next one.
    assert.deepEqual(
      (await orchestrator.createSession({ repositoryId: repository.id, title: "none", isWorktree: false })).ports,
      [],
    );
    const closed = await orchestrator.deleteSession(sessions[0].id);
    assert.deepEqual(closed?.session.ports, sessions[0].ports);
    const next = await orchestrator.createSession({
      repositoryId: repository.id,
      title: "next",
      isWorktree: false,
      ports: 2,
    });
    assert.deepEqual(next.ports, sessions[0].ports);
    await assertLeasesMatchSessions(store);
  });

  test(`${name}: bad ports values are InvalidInput with nothing written`, async () => {
    using opened = open();
    const { store } = opened;
    const orchestrator = await orchestratorOn(store);
    const repository = await orchestrator.createRepository(repositoryInput());
    for (const ports of [-1, 17, 1.5, "2", null, Number.NaN, [41000]]) {
      await assert.rejects(
        orchestrator.createSession({
          repositoryId: repository.id,
          title: "bad",
          isWorktree: false,
          ports: ports as number,
        }),
        kind("InvalidInput"),
        String(ports),
      );
    }
    assert.deepEqual(await store.listSessions(), []);
    assert.deepEqual(await store.listPortLeases(), []);
    for (const portRange of [{ from: 0, to: 10 }, { from: 500, to: 400 }, { from: 1, to: 70000 }, null]) {
      assert.throws(
        () => new SessionOrchestrator({ store, portRange: portRange as { from: number; to: number } }),
        kind("InvalidInput"),
      );
    }
    // A default per repository that is out of bounds is refused the same way.
    const badDefault = await orchestratorOn(store, { defaultPorts: () => 99 });
    await assert.rejects(
      badDefault.createSession({ repositoryId: repository.id, title: "bad", isWorktree: false }),
      kind("InvalidInput"),
    );
    assert.deepEqual(await store.listSessions(), []);
  });
}

test("defaultPorts answers for a repository when the create does not say; an explicit count wins", async () => {
  const store = new MemoryStore();
  const asked: string[] = [];
  const orchestrator = await orchestratorOn(store, {
    defaultPorts: (repository) => (asked.push(repository.name), 3),
  });
  const repository = await orchestrator.createRepository(repositoryInput());
  const withDefault = await orchestrator.createSession({ repositoryId: repository.id, title: "a", isWorktree: false });
  assert.equal(withDefault.ports.length, 3);
  assert.deepEqual(asked, ["app"]);
  const none = await orchestrator.createSession({
    repositoryId: repository.id,
    title: "b",
    isWorktree: false,
    ports: 0,
  });
  assert.deepEqual(none.ports, []);
});

test("two orchestrators over one SQLite file never lease one port twice", async () => {
  using dir = tempDir("slo-ports-");
  const path = join(dir.path, "sessions.db");
  using a = openSqliteFile(path);
  using b = openSqliteFile(path);
  const range = { from: 43200, to: 43239 };
  const first = await orchestratorOn(a, { portRange: range });
  const second = await orchestratorOn(b, { portRange: range });
  const repository = await first.createRepository(repositoryInput());
  const made = await Promise.all(
    Array.from({ length: 40 }, (_, i) =>
      (i % 2 === 0 ? first : second).createSession({
        repositoryId: repository.id,
        title: `s${i}`,
        isWorktree: false,
        ports: 1,
      })),
  );
  assert.equal(new Set(made.flatMap((session) => session.ports)).size, 40);
  assert.equal((await assertLeasesMatchSessions(a)).length, 40);
});

test("a port some program listens on is skipped, with the real loopback probe", async () => {
  const store = new MemoryStore();
  const busy = await listen();
  await using _busy = asyncDeferred(async () => {
    if (busy.listening) await closeServer(busy);
  });
  const port = portOf(busy);
  assert.equal(await portIsFree(port), false);
  const orchestrator = await orchestratorOn(store, { portRange: { from: port, to: port }, portProbe: portIsFree });
  const repository = await orchestrator.createRepository(repositoryInput());
  await assert.rejects(
    orchestrator.createSession({ repositoryId: repository.id, title: "busy", isWorktree: false, ports: 1 }),
    (error: unknown) => kind("Conflict")(error) && /in use on this machine/.test((error as Error).message),
  );
  assert.deepEqual(await store.listSessions(), []);
  await closeServer(busy);
  const session = await orchestrator.createSession({
    repositoryId: repository.id,
    title: "free",
    isWorktree: false,
    ports: 1,
  });
  assert.deepEqual(session.ports, [port]);
  // Let go after the check: the session's own process can bind it.
  const own = await listen(port);
  await closeServer(own);
});

test("of a range with listening ports in it, only the free ones are leased", async () => {
  const store = new MemoryStore();
  // Three ports in a row, the middle one busy: found by asking the system for a free port first.
  const probe = async (from: number) => (await portIsFree(from)) && (await portIsFree(from + 2));
  let from = 0;
  let busy: Server | null = null;
  for (let tries = 0; tries < 50 && busy === null; tries++) {
    const candidate = 44000 + Math.floor(Math.random() * 20000);
    if (!(await probe(candidate))) continue;
    busy = await listen(candidate + 1).catch(() => null);
    from = candidate;
  }
  assert.ok(busy !== null, "no three ports in a row were free");
  await using _busy = asyncDeferred(() => closeServer(busy!));
  const orchestrator = await orchestratorOn(store, { portRange: { from, to: from + 2 }, portProbe: portIsFree });
  const repository = await orchestrator.createRepository(repositoryInput());
  const session = await orchestrator.createSession({
    repositoryId: repository.id,
    title: "two",
    isWorktree: false,
    ports: 2,
  });
  assert.deepEqual(session.ports, [from, from + 2]);
});

test("a failed create leaves no lease: a taken id, and a worktree whose branch is taken", async () => {
  using f = await worktreeFixture();
  const orchestrator = f.orchestratorWith({});
  const first = await orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "first",
    isWorktree: true,
    worktreeName: "first",
    ports: 2,
  });
  assert.equal(first.ports.length, 2);
  await assert.rejects(
    orchestrator.createSession({
      repositoryId: f.repository.id,
      title: "same id",
      isWorktree: false,
      sessionId: first.id,
      ports: 2,
    }),
    kind("Conflict"),
  );
  await assert.rejects(
    orchestrator.createSession({
      repositoryId: f.repository.id,
      title: "same branch",
      isWorktree: true,
      worktreeName: "second",
      branchName: first.branchName!,
      ports: 3,
    }),
    kind("Conflict"),
  );
  assert.deepEqual((await f.store.listPortLeases()).map((lease) => lease.port), first.ports);
  await orchestrator.deleteSession(first.id);
  assert.deepEqual(await f.store.listPortLeases(), []);
});

async function worktreeSession(f: WorktreeFixture, orchestrator: SessionOrchestrator, name: string, ports: number) {
  return await orchestrator.createSession({
    repositoryId: f.repository.id,
    title: name,
    worktreeName: name,
    isWorktree: true,
    ports,
  });
}

test("archive and restore keep the ports; a port taken while archived is replaced; a fork gets its own", async () => {
  using f = await worktreeFixture();
  await using servers = asyncDisposable([] as Server[], async (servers) => {
    for (const server of servers) await closeServer(server);
  });
  // A range of free ports around one the system gave, so the probe has room.
  const seed = await listen();
  const base = portOf(seed);
  await closeServer(seed);
  const range = { from: Math.max(1024, base - 20), to: Math.min(65535, base + 20) };
  const orchestrator = new SessionOrchestrator({
    store: f.store,
    chain: f.chain,
    worktrees: f.lifecycleWith({}),
    portRange: range,
    portProbe: portIsFree,
  });
  const s = await worktreeSession(f, orchestrator, "keep", 2);
  assert.equal(s.ports.length, 2);
  const archived = await orchestrator.archiveSession(s.id);
  assert.deepEqual(archived.session.ports, s.ports);
  assert.deepEqual((await f.store.listPortLeases()).map((lease) => lease.port), s.ports);
  const restored = await orchestrator.restoreSession(s.id);
  assert.deepEqual(restored.ports, s.ports);
  assert.equal(git(s.worktreePath!, "rev-parse", "--abbrev-ref", "HEAD"), s.branchName);

  // Archived again, and a program takes its first port meanwhile: the restore replaces that one only.
  await orchestrator.archiveSession(s.id);
  servers.push(await listen(s.ports[0]));
  const again = await orchestrator.restoreSession(s.id);
  assert.equal(again.ports.length, 2);
  assert.ok(again.ports.includes(s.ports[1]));
  assert.ok(!again.ports.includes(s.ports[0]));
  assert.deepEqual((await f.store.getSession(s.id))?.ports, again.ports);
  assert.deepEqual((await assertLeasesMatchSessions(f.store)).length, 2);

  const fork: Session = await orchestrator.forkSession(s.id, { title: "fork" });
  assert.equal(fork.ports.length, 2);
  assert.equal(fork.ports.filter((port) => again.ports.includes(port)).length, 0);
  const forkNone = await orchestrator.forkSession(s.id, { title: "fork without", ports: 0 });
  assert.deepEqual(forkNone.ports, []);
  await assertLeasesMatchSessions(f.store);

  for (const session of [fork, forkNone, again]) await orchestrator.deleteSession(session.id, { force: true });
  assert.deepEqual(await f.store.listPortLeases(), []);
});

test("reconcile reports leases whose session is gone, and frees them (SQLite, leases written by other means)", async () => {
  using dir = tempDir("slo-ports-");
  const path = join(dir.path, "sessions.db");
  using store = openSqliteFile(path);
  using raw = disposable(new DatabaseSync(path), (raw) => raw.close());
  const orchestrator = await orchestratorOn(store);
  const repository = await orchestrator.createRepository(repositoryInput());
  const live = await orchestrator.createSession({
    repositoryId: repository.id,
    title: "live",
    isWorktree: false,
    ports: 1,
  });
  const gone = crypto.randomUUID();
  raw.prepare("INSERT INTO port_leases (port, session_id, leased_at) VALUES (?, ?, ?), (?, ?, ?)").run(
    43301,
    gone,
    new Date().toISOString(),
    43302,
    gone,
    new Date().toISOString(),
  );
  const dry = await orchestrator.reconcile({ dryRun: true });
  assert.deepEqual(dry.findings.map(({ kind, sessionId, action }) => ({ kind, sessionId, action })), [
    { kind: "orphan-port-lease", sessionId: gone, action: "none" },
  ]);
  assert.match(dry.findings[0].detail, /43301, 43302/);
  assert.equal((await store.listPortLeases()).length, 3);
  const report = await orchestrator.reconcile();
  assert.deepEqual(report.findings.map(({ kind, sessionId, action }) => ({ kind, sessionId, action })), [
    { kind: "orphan-port-lease", sessionId: gone, action: "lease-released" },
  ]);
  assert.deepEqual((await store.listPortLeases()).map((lease) => [lease.port, lease.sessionId]), [
    [live.ports[0], live.id],
  ]);
  assert.deepEqual((await orchestrator.reconcile()).findings, []);
});

if (database === null) {
  test("Postgres: port leases across servers", { skip: skipPostgres }, () => {});
} else {
  test("Postgres: two orchestrators on one database never lease one port twice; reconcile frees orphans", async () => {
    const schema = `ports_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
    await using a = await openSchemaStore(database, { schema });
    await using b = await openSchemaStore(database, { schema });
    const range = { from: 43400, to: 43429 };
    const first = await orchestratorOn(a, { portRange: range });
    const second = await orchestratorOn(b, { portRange: range });
    const repository = await first.createRepository(repositoryInput());
    const made = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        (i % 2 === 0 ? first : second).createSession({
          repositoryId: repository.id,
          title: `s${i}`,
          isWorktree: false,
          ports: 1,
        })),
    );
    assert.equal(new Set(made.flatMap((session) => session.ports)).size, 30);
    assert.equal((await assertLeasesMatchSessions(b)).length, 30);
    await assert.rejects(
      second.createSession({ repositoryId: repository.id, title: "full", isWorktree: false, ports: 1 }),
      kind("Conflict"),
    );
    // A delete through one frees the port for the other.
    await first.deleteSession(made[1].id);
    const next = await second.createSession({ repositoryId: repository.id, title: "n", isWorktree: false, ports: 1 });
    assert.deepEqual(next.ports, made[1].ports);

    const gone = crypto.randomUUID();
    await database.admin.unsafe(
      `INSERT INTO ${schema}.port_leases (port, session_id, leased_at) VALUES (43500, $1, now())`,
      [gone],
    );
    const dry = await second.reconcile({ dryRun: true });
    assert.deepEqual(dry.findings.map((finding) => [finding.kind, finding.sessionId, finding.action]), [
      ["orphan-port-lease", gone, "none"],
    ]);
    const report = await first.reconcile();
    assert.deepEqual(report.findings.map((finding) => [finding.kind, finding.sessionId, finding.action]), [
      ["orphan-port-lease", gone, "lease-released"],
    ]);
    assert.equal((await assertLeasesMatchSessions(a)).length, 30);
  });
}
