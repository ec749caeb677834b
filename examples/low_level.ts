// The low-level layer: the seed's three functions from mod.ts, each one store call with its checks.
// The caller does the rest: it makes and seals the session's key, keeps it hot in a cache, and
// cleans up with the deleted row. Each step asserts what it shows.
//
//   deno run -A examples/low_level.ts      (or: bun examples/low_level.ts)
import assert from "node:assert/strict";
import { createSession, deleteSession, MemoryStore, SessionSecretCache, storeSessionSecret } from "../mod.ts";

const store = new MemoryStore();
const cache = new SessionSecretCache();
const repository = await store.createRepository({ path: "/home/me/projects/app", name: "app" });

const session = await createSession(
  store,
  {
    repositoryId: repository.id,
    title: "Add dark mode",
    isWorktree: true,
    worktreeName: "dark-mode",
    branchName: "session/dark-mode",
  },
  undefined, // a new UUID
  "/home/me/.local/share/slo/worktrees/app/dark-mode",
);
assert.equal(session.worktreePath, "/home/me/.local/share/slo/worktrees/app/dark-mode");

// A missing repository is refused, and nothing is written.
await assert.rejects(
  createSession(store, { repositoryId: crypto.randomUUID(), title: "Orphan", isWorktree: false }),
  { kind: "RepositoryNotFound" },
);
assert.equal((await store.listSessions()).length, 1);

// The session's key: kept hot in the cache, stored sealed (AES-GCM, the session id as additional data).
const sessionKey = crypto.getRandomValues(new Uint8Array(32));
cache.insert(session.id, sessionKey);
const databaseKey = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt"]);
const nonce = crypto.getRandomValues(new Uint8Array(12));
const sealed = new Uint8Array(
  await crypto.subtle.encrypt(
    { name: "AES-GCM", iv: nonce, additionalData: new TextEncoder().encode(session.id) },
    databaseKey,
    sessionKey,
  ),
);
await storeSessionSecret(store, session.id, sealed, nonce);
assert.deepEqual((await store.getSessionSecret(session.id))?.encryptedSecret, sealed);
console.log(`created session ${session.id}; cached keys: ${cache.len()}, secret stored`);

// Delete: the row and its secret go in one step; the returned row is the cleanup data.
const deleted = await deleteSession(store, session.id);
assert.ok(deleted !== null);
assert.equal(deleted.branchName, "session/dark-mode");
cache.remove(deleted.id);
console.log(`deleted session ${deleted.id}: remove worktree ${deleted.worktreePath}, branch ${deleted.branchName}`);
assert.equal(await store.getSessionSecret(deleted.id), null);
assert.equal(cache.len(), 0);
assert.equal(await deleteSession(store, session.id), null); // gone: not an error
