// The orchestrator as a script that imports only mod.ts (and ./platform for SQLite) uses it:
// sessions with secrets and events, on MemoryStore and on SQLite.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  encryptSessionSecret,
  eventLogOf,
  generateDatabaseKey,
  generateSessionSecret,
  type Keychain,
  type LifecycleEvent,
  MemoryStore,
  SessionOrchestrator,
  SessionSecretChain,
  type SessionStore,
} from "../../mod.ts";
import { openSqliteStore } from "../../src/platform/mod.ts";
import { disposable } from "../fixtures/disposable.ts";
import { tempDir } from "../fixtures/helpers.ts";
import { errorOfKind as kind } from "../fixtures/helpers.ts";

/** A store and how to release it, also at the end of a `using` block. */
const backends: { name: string; open(): { store: SessionStore; close(): void } & Disposable }[] = [
  { name: "MemoryStore", open: () => ({ store: new MemoryStore(), close: () => {}, [Symbol.dispose]: () => {} }) },
  {
    name: "SQLite file",
    open: () => {
      const dir = tempDir("slo-orchestrator-");
      const store = openSqliteStore(join(dir.path, "sessions.db"));
      const close = () => {
        store.close();
        dir.remove();
      };
      return { store, close, [Symbol.dispose]: close };
    },
  },
];

async function orchestratorOn(store: SessionStore) {
  const databaseKey = await generateDatabaseKey();
  const chain = new SessionSecretChain({ store, databaseKey });
  const orchestrator = new SessionOrchestrator({ store, chain });
  const events: LifecycleEvent[] = [];
  orchestrator.events.subscribe((event) => events.push(event));
  return { orchestrator, chain, databaseKey, events };
}

for (const backend of backends) {
  test(`orchestrator (${backend.name}): create, resolve, list, update and delete, each change announced once`, async () => {
    using opened = backend.open();
    const { store } = opened;
    const { orchestrator, events } = await orchestratorOn(store);
    const repository = await orchestrator.createRepository({ path: "/src/app", name: "app" });
    const session = await orchestrator.createSession({
      repositoryId: repository.id,
      title: "Fix the login bug",
      isWorktree: false,
    });
    // The sealed secret was written with the row.
    assert.ok(await store.getSessionSecret(session.id));
    const secret = await orchestrator.resolveSessionSecret(session.id);
    assert.equal(secret?.length, 32);
    assert.deepEqual((await orchestrator.listSessions()).sessions.map((s) => s.id), [session.id]);
    const paused = await orchestrator.updateSession(session.id, { status: "paused" });
    assert.equal(paused?.status, "paused");
    assert.deepEqual((await orchestrator.listSessions({ status: "active" })).sessions, []);

    const closed = await orchestrator.deleteSession(session.id);
    assert.equal(closed?.session.id, session.id);
    assert.equal(closed?.worktreeRemoved, false);
    assert.equal(await orchestrator.deleteSession(session.id), null);
    assert.equal(await orchestrator.resolveSessionSecret(session.id), null);
    assert.equal(await store.getSessionSecret(session.id), null);
    assert.equal((await orchestrator.deleteRepository(repository.id))?.id, repository.id);
    assert.deepEqual(events.map((event) => event.type), [
      "repository.created",
      "session.created",
      "session.updated",
      "session.deleted",
      "repository.deleted",
    ]);
  });

  test(`orchestrator (${backend.name}): refused creates write nothing and announce nothing`, async () => {
    using opened = backend.open();
    const { store } = opened;
    const { orchestrator, events } = await orchestratorOn(store);
    const repository = await orchestrator.createRepository({ path: "/src/app", name: "app" });
    events.length = 0;
    await assert.rejects(
      orchestrator.createSession({ repositoryId: crypto.randomUUID(), title: "t", isWorktree: false }),
      kind("RepositoryNotFound"),
    );
    await assert.rejects(
      orchestrator.createSession({ repositoryId: repository.id, title: " ", isWorktree: false }),
      kind("InvalidInput"),
    );
    await assert.rejects(
      orchestrator.createSession({ repositoryId: repository.id, title: "t", isWorktree: true }),
      kind("InvalidInput"),
    );
    await assert.rejects(
      orchestrator.createSession({ repositoryId: repository.id, title: "t", isWorktree: false, baseRef: "main" }),
      kind("InvalidInput"),
    );
    const taken = await orchestrator.createSession({ repositoryId: repository.id, title: "t", isWorktree: false });
    const secretBefore = await store.getSessionSecret(taken.id);
    await assert.rejects(
      orchestrator.createSession({ repositoryId: repository.id, title: "t", isWorktree: false, sessionId: taken.id }),
      kind("Conflict"),
    );
    // The failed create did not replace the first session's secret.
    assert.deepEqual(await store.getSessionSecret(taken.id), secretBefore);
    assert.equal((await store.listSessions()).length, 1);
    assert.deepEqual(events.map((event) => event.type), ["session.created"]);
  });

  test(`orchestrator (${backend.name}): a worktree the caller manages is recorded and handed back on delete`, async () => {
    using opened = backend.open();
    const { store } = opened;
    const { orchestrator } = await orchestratorOn(store);
    const repository = await orchestrator.createRepository({ path: "/src/app", name: "app" });
    const session = await orchestrator.createSession({
      repositoryId: repository.id,
      title: "Dark mode",
      isWorktree: true,
      worktreeName: "dark-mode",
      branchName: "session/dark-mode",
      worktreePath: "/data/worktrees/app/dark-mode",
    });
    const closed = await orchestrator.deleteSession(session.id, { deleteBranch: true });
    assert.equal(closed?.session.worktreePath, "/data/worktrees/app/dark-mode");
    assert.equal(closed?.session.branchName, "session/dark-mode");
    assert.equal(closed?.worktreeRemoved, false);
    assert.equal(closed?.branchDeleted, false);
    assert.match(closed?.branchKeptReason ?? "", /lifecycle/);
  });

  test(`orchestrator (${backend.name}): a stored secret must open under the database key, and then every layer has it`, async () => {
    using opened = backend.open();
    const { store } = opened;
    const { orchestrator, chain, databaseKey, events } = await orchestratorOn(store);
    const repository = await orchestrator.createRepository({ path: "/src/app", name: "app" });
    const session = await orchestrator.createSession({ repositoryId: repository.id, title: "t", isWorktree: false });
    const original = await orchestrator.resolveSessionSecret(session.id);
    events.length = 0;

    const noise = new Uint8Array(48).fill(1);
    await assert.rejects(
      orchestrator.storeSessionSecret(session.id, noise, new Uint8Array(12)),
      kind("InvalidInput"),
    );
    const otherKey = await encryptSessionSecret(await generateDatabaseKey(), session.id, generateSessionSecret());
    await assert.rejects(
      orchestrator.storeSessionSecret(session.id, otherKey.encryptedSecret, otherKey.nonce),
      kind("InvalidInput"),
    );
    assert.deepEqual(await orchestrator.resolveSessionSecret(session.id), original);
    assert.equal(events.length, 0);

    const replacement = generateSessionSecret();
    const sealed = await encryptSessionSecret(databaseKey, session.id, replacement);
    await orchestrator.storeSessionSecret(session.id, sealed.encryptedSecret, sealed.nonce);
    assert.deepEqual(await orchestrator.resolveSessionSecret(session.id), replacement);
    // The memory layer agrees with the store: a fresh chain over the same store reads the same.
    chain.cache.clear();
    assert.deepEqual(await orchestrator.resolveSessionSecret(session.id), replacement);
    assert.deepEqual(events.map((event) => event.type), ["session.secret.stored"]);
    await assert.rejects(
      orchestrator.storeSessionSecret(crypto.randomUUID(), sealed.encryptedSecret, sealed.nonce),
      kind("SessionNotFound"),
    );
  });
}

test("orchestrator: without a chain, sessions are plain rows and the secret methods say why they cannot work", async () => {
  const store = new MemoryStore();
  const orchestrator = new SessionOrchestrator({ store });
  const repository = await orchestrator.createRepository({ path: "/src/app", name: "app" });
  const session = await orchestrator.createSession({ repositoryId: repository.id, title: "t", isWorktree: false });
  assert.equal(await store.getSessionSecret(session.id), null);
  await assert.rejects(orchestrator.resolveSessionSecret(session.id), kind("InvalidInput"));
  assert.deepEqual(await orchestrator.reconcile(), { dryRun: false, findings: [] });
});

test("orchestrator: a listener that throws neither fails nor undoes the change", async () => {
  const store = new MemoryStore();
  const orchestrator = new SessionOrchestrator({
    store,
    chain: new SessionSecretChain({ store, databaseKey: await generateDatabaseKey() }),
  });
  orchestrator.events.subscribe(() => {
    throw new Error("broken listener");
  });
  const repository = await orchestrator.createRepository({ path: "/src/app", name: "app" });
  const session = await orchestrator.createSession({ repositoryId: repository.id, title: "t", isWorktree: false });
  assert.ok(await orchestrator.getSession(session.id));
});

test("orchestrator: a create whose keychain write fails after the commit is taken back, and the event log says so", async () => {
  // Over a logged store the log is what every follower (and every replay) sees: a create taken
  // back must be followed by its delete there, or followers keep a session that does not exist.
  using store = disposable(openSqliteStore(":memory:", { eventLog: true }), (store) => store.close());
  const keychain: Keychain = {
    get: () => Promise.resolve(null),
    set: () => Promise.reject(new Error("keychain locked")),
    delete: () => Promise.resolve(false),
  };
  const chain = new SessionSecretChain({ store, databaseKey: await generateDatabaseKey(), keychain });
  const orchestrator = new SessionOrchestrator({ store, chain });
  const repository = await orchestrator.createRepository({ path: "/src/taken-back", name: "app" });
  await assert.rejects(
    orchestrator.createSession({ repositoryId: repository.id, title: "Refused", isWorktree: false }),
    /keychain locked/,
  );
  assert.deepEqual((await orchestrator.listSessions()).sessions, []);
  const { events } = await eventLogOf(store)!.readAfter("0", 100);
  assert.deepEqual(events.map((logged) => logged.event.type), [
    "repository.created",
    "session.created",
    "session.deleted",
  ]);
});
