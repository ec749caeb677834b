// The orchestrator over SQLite: a repository, a session with its secret and its events, the secret
// resolved, the sessions listed page by page, and the session deleted with its cleanup data. Each
// step asserts what it shows, so the script fails loudly if the library stops doing it.
//
//   deno run -A examples/basic.ts [database-file]     (default: an in-memory database)
//   bun examples/basic.ts [database-file]
import assert from "node:assert/strict";
import process from "node:process";
import { generateDatabaseKey, type LifecycleEvent, SessionOrchestrator, SessionSecretChain } from "../mod.ts";
import { openSqliteStore } from "../src/platform/mod.ts";

const store = openSqliteStore(process.argv[2] ?? ":memory:"); // or: new MemoryStore() from mod.ts
// The key each session's secret is sealed under in the store. A program that restarts keeps its key:
// `resolveDatabaseKey` in ./platform finds it in the environment, a key file or the OS keychain.
const chain = new SessionSecretChain({ store, databaseKey: await generateDatabaseKey() });
const orchestrator = new SessionOrchestrator({ store, chain });

const events: LifecycleEvent["type"][] = [];
orchestrator.events.subscribe((event) => events.push(event.type));

const repository = await orchestrator.createRepository({
  path: "/home/me/projects/app",
  name: "app",
  isGitRepository: true,
  defaultBranch: "main",
});

// Without a worktree lifecycle the orchestrator records the worktree the caller manages.
const session = await orchestrator.createSession({
  repositoryId: repository.id,
  title: "Add dark mode",
  agentName: "claude",
  issueId: "123",
  issueTitle: "Dark mode",
  issueUrl: "https://tracker.example/issues/123",
  isWorktree: true,
  worktreeName: "dark-mode",
  branchName: "session/dark-mode",
  worktreePath: "/home/me/.local/share/slo/worktrees/app/dark-mode",
});
assert.equal(session.status, "active");
assert.equal(session.branchName, "session/dark-mode");
console.log(`created session ${session.id} on branch ${session.branchName}`);

// Its secret was made with it and sealed into the store in the same transaction as its row.
const secret = await orchestrator.resolveSessionSecret(session.id);
assert.ok(secret !== null);
assert.equal(secret.length, 32);
assert.notEqual(await store.getSessionSecret(session.id), null);
secret.fill(0); // a copy: wiping it leaves the session's secret as it was
assert.notDeepEqual(await orchestrator.resolveSessionSecret(session.id), secret);
console.log("secret: 32 bytes, sealed in the store");

// Lists come in pages, oldest first; `nextCursor` is null on the last page.
await orchestrator.createSession({ repositoryId: repository.id, title: "Fix the login bug", isWorktree: false });
await orchestrator.createSession({ repositoryId: repository.id, title: "Write the docs", isWorktree: false });
const first = await orchestrator.listSessions({ repositoryId: repository.id, limit: 2 });
assert.equal(first.sessions.length, 2);
assert.notEqual(first.nextCursor, null);
const second = await orchestrator.listSessions({ repositoryId: repository.id, limit: 2, cursor: first.nextCursor! });
assert.equal(second.sessions.length, 1);
assert.equal(second.nextCursor, null);
assert.deepEqual(
  [...first.sessions, ...second.sessions].map((s) => s.title).sort(),
  ["Add dark mode", "Fix the login bug", "Write the docs"],
);
console.log(`pages: ${first.sessions.length} + ${second.sessions.length} sessions`);

// Delete: the row and its secret go in one atomic step, and the answer is what to clean up.
const closed = await orchestrator.deleteSession(session.id);
assert.ok(closed !== null);
assert.equal(closed.session.id, session.id);
assert.equal(closed.session.worktreePath, "/home/me/.local/share/slo/worktrees/app/dark-mode");
assert.equal(closed.worktreeRemoved, false); // the caller's worktree: the caller removes it
console.log(`deleted session ${closed.session.id}: remove worktree ${closed.session.worktreePath}`);
assert.equal(await orchestrator.resolveSessionSecret(session.id), null);
assert.equal(await store.getSessionSecret(session.id), null);
assert.equal(await orchestrator.deleteSession(session.id), null); // gone: not an error

// A repository with sessions left is not deleted.
await assert.rejects(orchestrator.deleteRepository(repository.id), { kind: "Conflict" });

// Every change was announced once, after it was committed.
assert.deepEqual(events, [
  "repository.created",
  "session.created",
  "session.created",
  "session.created",
  "session.deleted",
]);
console.log(`events: ${events.join(", ")}`);

store.close();
