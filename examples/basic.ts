// The seed's usage: create a repository, a worktree session, delete it and use the returned data
// for cleanup, and keep the session's key in the secret cache.
//
//   deno run -A examples/basic.ts [database-file]     (default: an in-memory database)
//   bun examples/basic.ts [database-file]
import { createSession, deleteSession, SessionSecretCache, storeSessionSecret } from "../mod.ts";
import { openSqliteStore } from "../src/platform/mod.ts";

const store = openSqliteStore(process.argv[2] ?? ":memory:");
const cache = new SessionSecretCache();

const repository = await store.createRepository({
  path: "/home/me/projects/app",
  name: "app",
  isGitRepository: true,
  defaultBranch: "main",
});

const session = await createSession(
  store,
  {
    repositoryId: repository.id,
    title: "Add dark mode",
    agentName: "claude",
    issueId: "123",
    issueTitle: "Dark mode",
    issueUrl: "https://tracker.example/issues/123",
    isWorktree: true,
    worktreeName: "dark-mode",
    branchName: "session/dark-mode",
  },
  undefined,
  "/home/me/.local/share/slo/worktrees/app/dark-mode",
);
console.log(`created session ${session.id} on branch ${session.branchName}`);

// The session's key: kept hot in the cache, stored encrypted (here sealed with a throwaway key).
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
console.log(`cached keys: ${cache.len()}, stored secret: ${(await store.getSessionSecret(session.id)) !== null}`);

// Two-stage deletion: the row (and its secret) goes in one step, and the caller gets what to clean up.
const deleted = await deleteSession(store, session.id);
if (deleted === null) throw new Error("the session vanished before we deleted it");
console.log(`deleted session ${deleted.id}: remove worktree ${deleted.worktreePath}, branch ${deleted.branchName}`);
cache.remove(deleted.id);
console.log(
  `secret left in store: ${(await store.getSessionSecret(deleted.id)) !== null}, cached keys: ${cache.len()}`,
);
console.log(`deleting again: ${await deleteSession(store, session.id)}`);

cache.clear();
store.close();
