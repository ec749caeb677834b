// Close when things around it are broken: the repository checkout deleted, the keychain failing after
// the row was deleted. The session must still close, and its deletion be announced.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, rmSync } from "node:fs";
import { generateDatabaseKey, type Keychain, LifecycleEvents, SessionSecretChain } from "../../../mod.ts";
import { orchestratorOver, worktreeFixture } from "../../fixtures/git_fixtures.ts";

test("a session whose repository checkout was deleted can still be closed; its folder is kept", async () => {
  using f = await worktreeFixture();
  const events: string[] = [];
  const bus = new LifecycleEvents();
  bus.subscribe((event) => events.push(`${event.type} ${"session" in event ? event.session.id : ""}`));
  const lifecycle = f.orchestratorWith({ events: bus });
  const session = await lifecycle.createSession({
    repositoryId: f.repository.id,
    title: "t",
    worktreeName: "orphaned",
    isWorktree: true,
  });
  rmSync(f.repositoryPath, { recursive: true, force: true });

  const closed = await lifecycle.deleteSession(session.id, { force: true, deleteBranch: true });
  assert.equal(closed?.session.id, session.id);
  assert.equal(closed?.worktreeRemoved, false);
  assert.equal(closed?.branchDeleted, false);
  assert.match(closed!.worktreeKeptReason!, /checkout .* is gone/);
  assert.match(closed!.branchKeptReason!, /is gone/);
  assert.deepEqual(events.slice(1), [`session.deleted ${session.id}`]);
  assert.equal(await f.store.getSession(session.id), null);
  assert.equal(await f.chain.resolve(session.id), null);
  assert.ok(existsSync(session.worktreePath!), "the worktree folder is never deleted blindly");
  // Nothing holds the repository any more.
  assert.ok(await f.store.deleteRepository(f.repository.id));
});

test("a keychain failing after the row was deleted does not fail the close; the deletion is announced", async () => {
  using f = await worktreeFixture();
  const keychain: Keychain = {
    get: () => Promise.resolve(null),
    set: () => Promise.resolve(),
    delete: () => Promise.reject(new Error("keychain locked")),
  };
  const chain = new SessionSecretChain({ store: f.store, databaseKey: await generateDatabaseKey(), keychain });
  const events: string[] = [];
  const bus = new LifecycleEvents();
  bus.subscribe((event) => events.push(event.type));
  const logged: string[] = [];
  const lifecycle = orchestratorOver({
    store: f.store,
    chain,
    events: bus,
    worktreesRoot: f.worktreesRoot,
    logError: (message) => logged.push(message),
  });
  for (const isWorktree of [true, false]) {
    const session = await lifecycle.createSession({
      repositoryId: f.repository.id,
      title: "t",
      worktreeName: isWorktree ? "kept-secret" : undefined,
      isWorktree,
    });
    const closed = await lifecycle.deleteSession(session.id, { deleteBranch: true });
    assert.equal(closed?.session.id, session.id);
    assert.equal(closed?.worktreeRemoved, isWorktree);
    assert.equal(closed?.branchDeleted, isWorktree);
    assert.equal(await f.store.getSession(session.id), null);
    assert.equal(await f.store.getSessionSecret(session.id), null);
    assert.ok(logged.some((line) => line.includes(session.id) && /keychain locked/.test(line)), logged.join("\n"));
  }
  assert.deepEqual(events, ["session.created", "session.deleted", "session.created", "session.deleted"]);
  assert.deepEqual(await f.orchestrator.reconcile().then((r) => r.findings), []);
});
