// The standalone operations of `src/operations.ts` (createSession, deleteSession, storeSessionSecret):
// each change whole or not at all, over SQLite and the memory store.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  createSession,
  type CreateSessionParams,
  deleteSession,
  MemoryStore,
  newSessionId,
  SessionError,
  SqliteStore,
  storeSessionSecret,
} from "../../mod.ts";
import { repositoryInput } from "../fixtures/helpers.ts";

async function rejectsWithKind(promise: Promise<unknown>, kind: string): Promise<SessionError> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    return error instanceof SessionError && error.kind === kind;
  });
  return caught as SessionError;
}

async function setup() {
  const store = new SqliteStore(new DatabaseSync(":memory:"));
  const repository = await store.createRepository(repositoryInput());
  const params: CreateSessionParams = { repositoryId: repository.id, title: "Work", isWorktree: false };
  return { store, repository, params };
}

test("createSession makes a session with a new id and the given fields", async () => {
  const { store, repository } = await setup();
  const session = await createSession(
    store,
    {
      repositoryId: repository.id,
      title: "Fix login",
      agentName: "claude",
      issueId: "7",
      issueTitle: "Login",
      issueUrl: "https://tracker.example/7",
      isWorktree: true,
      worktreeName: "fix login ü",
      branchName: "session/fix-login",
    },
    undefined,
    "/data/worktrees/fix login ü",
  );
  assert.equal(session.repositoryId, repository.id);
  assert.equal(session.worktreePath, "/data/worktrees/fix login ü");
  assert.equal(session.worktreeName, "fix login ü");
  assert.equal(session.status, "active");
  assert.deepEqual(await store.getSession(session.id), session);
});

test("createSession uses a given session id", async () => {
  const { store, params } = await setup();
  const id = newSessionId();
  assert.equal((await createSession(store, params, id)).id, id);
});

test("createSession rejects a missing repository with RepositoryNotFound and writes nothing", async () => {
  const { store, params } = await setup();
  await rejectsWithKind(createSession(store, { ...params, repositoryId: crypto.randomUUID() }), "RepositoryNotFound");
  assert.deepEqual(await store.listSessions(), []);
});

test("createSession rejects bad input with InvalidInput and writes nothing", async () => {
  const { store, params } = await setup();
  const cases: [Partial<CreateSessionParams>, string | undefined, string | undefined][] = [
    [{ title: "" }, undefined, undefined],
    [{ title: "x".repeat(10_000) }, undefined, undefined],
    [{ title: "line\u0000break" }, undefined, undefined],
    [{ isWorktree: true }, undefined, undefined],
    [{ isWorktree: true, worktreeName: "../../x" }, undefined, "/w/a"],
    [{ isWorktree: true, worktreeName: "a/b" }, undefined, "/w/b"],
    [{ isWorktree: true, worktreeName: ".." }, undefined, "/w/c"],
    [{ isWorktree: true, worktreeName: "-rf" }, undefined, "/w/d"],
    [{ isWorktree: true, branchName: "-b" }, undefined, "/w/e"],
    [{ isWorktree: true, branchName: "--upload-pack=evil" }, undefined, "/w/f"],
    [{ isWorktree: true, branchName: "bad..name" }, undefined, "/w/g"],
    [{ isWorktree: true }, undefined, "../../etc"],
    [{ repositoryId: "../../etc/passwd" }, undefined, undefined],
    [{}, "not-a-uuid", undefined],
    [{ unexpected: true } as Partial<CreateSessionParams>, undefined, undefined],
  ];
  for (const [overrides, id, worktreePath] of cases) {
    const error = await rejectsWithKind(
      createSession(store, { ...params, ...overrides }, id, worktreePath),
      "InvalidInput",
    );
    assert.ok(error.message.length > 0);
  }
  assert.deepEqual(await store.listSessions(), []);
});

test("createSession reports a duplicate id or worktree path as Conflict", async () => {
  const { store, params } = await setup();
  const first = await createSession(store, { ...params, isWorktree: true }, undefined, "/w/one");
  await rejectsWithKind(createSession(store, params, first.id), "Conflict");
  await rejectsWithKind(createSession(store, { ...params, isWorktree: true }, undefined, "/w/one"), "Conflict");
  assert.equal((await store.listSessions()).length, 1);
});

test("a storage failure is a Storage error that keeps the cause", async () => {
  const database = new DatabaseSync(":memory:");
  const store = new SqliteStore(database);
  const repository = await store.createRepository(repositoryInput());
  database.close();
  const error = await rejectsWithKind(
    createSession(store, { repositoryId: repository.id, title: "t", isWorktree: false }),
    "Storage",
  );
  assert.ok(error.cause instanceof Error);
  await rejectsWithKind(deleteSession(store, newSessionId()), "Storage");
});

test("deleteSession returns the deleted session, then null", async () => {
  const { store, params } = await setup();
  const session = await createSession(store, { ...params, isWorktree: true, branchName: "b" }, undefined, "/w/x");
  const deleted = await deleteSession(store, session.id);
  assert.deepEqual(deleted, session);
  assert.equal(deleted?.worktreePath, "/w/x");
  assert.equal(await deleteSession(store, session.id), null);
  await rejectsWithKind(deleteSession(store, "nope"), "InvalidInput");
});

test("deleteSession takes the stored secret with it", async () => {
  const { store, params } = await setup();
  const session = await createSession(store, params);
  await storeSessionSecret(store, session.id, new Uint8Array(48).fill(1), new Uint8Array(12).fill(2));
  assert.notEqual(await store.getSessionSecret(session.id), null);
  await deleteSession(store, session.id);
  assert.equal(await store.getSessionSecret(session.id), null);
});

test("storeSessionSecret stores a copy and refuses unknown sessions and bad nonces", async () => {
  const { store, params } = await setup();
  const session = await createSession(store, params);
  const secret = new Uint8Array(48).fill(3);
  await storeSessionSecret(store, session.id, secret, new Uint8Array(12));
  secret.fill(0);
  assert.deepEqual((await store.getSessionSecret(session.id))?.encryptedSecret, new Uint8Array(48).fill(3));
  await rejectsWithKind(storeSessionSecret(store, newSessionId(), secret, new Uint8Array(12)), "SessionNotFound");
  await rejectsWithKind(storeSessionSecret(store, session.id, secret, new Uint8Array(16)), "InvalidInput");
  await rejectsWithKind(storeSessionSecret(store, session.id, "x" as never, new Uint8Array(12)), "InvalidInput");
  await rejectsWithKind(
    storeSessionSecret(store, session.id, new Uint8Array(4096), new Uint8Array(12)),
    "InvalidInput",
  );
});

test("the orchestration works the same over MemoryStore", async () => {
  const store = new MemoryStore();
  const repository = await store.createRepository(repositoryInput());
  await rejectsWithKind(
    createSession(store, { repositoryId: crypto.randomUUID(), title: "t", isWorktree: false }),
    "RepositoryNotFound",
  );
  const session = await createSession(store, { repositoryId: repository.id, title: "t", isWorktree: false });
  const results = await Promise.all([deleteSession(store, session.id), deleteSession(store, session.id)]);
  assert.equal(results.filter(Boolean).length, 1);
});
