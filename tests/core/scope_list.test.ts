// A session's scope lists its own tree (its session and the sessions made under it, level by level
// through parentSessionId), in pages, with the orchestrator's filters, and reads only that tree: not
// every session of the store, however many there are.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryStore, type Session, type SessionFilter, SessionOrchestrator } from "../../mod.ts";
import { repositoryInput } from "../fixtures/helpers.ts";

// A memory store that counts the session rows its lists hand out.
class CountingStore extends MemoryStore {
  listed = 0;
  override async listSessions(filter?: SessionFilter): Promise<Session[]> {
    const sessions = await super.listSessions(filter);
    this.listed += sessions.length;
    return sessions;
  }
}

test("scope: a session's scope lists its tree in pages, reading only that tree", async () => {
  const store = new CountingStore();
  const orchestrator = new SessionOrchestrator({ store });
  const repository = await orchestrator.createRepository(repositoryInput());
  const session = (title: string, parentSessionId?: string) =>
    orchestrator.createSession({
      repositoryId: repository.id,
      title,
      isWorktree: false,
      ...(parentSessionId === undefined ? {} : { parentSessionId }),
    });
  const root = await session("root");
  const others: Session[] = [];
  for (let i = 0; i < 1500; i++) others.push(await session(`other ${i}`));
  const child = await session("child", root.id);
  const grandchild = await session("grandchild", child.id);
  const sibling = await session("sibling", root.id);
  await session("under another", others[0].id);
  await orchestrator.updateSession(sibling.id, { status: "completed" });

  const scope = orchestrator.asScope({ kind: "session", sessionId: root.id, tokenId: crypto.randomUUID() });
  store.listed = 0;
  const all = await scope.listSessions();
  assert.deepEqual(all.sessions.map((s) => s.title), ["root", "child", "grandchild", "sibling"]);
  assert.equal(all.nextCursor, null);
  assert.ok(store.listed < 20, `the scoped list read ${store.listed} session rows`);

  const first = await scope.listSessions({ limit: 2 });
  assert.deepEqual(first.sessions.map((s) => s.title), ["root", "child"]);
  const rest = await scope.listSessions({ limit: 2, cursor: first.nextCursor! });
  assert.deepEqual(rest.sessions.map((s) => s.title), ["grandchild", "sibling"]);
  assert.equal(rest.nextCursor, null);

  assert.deepEqual((await scope.listSessions({ status: "completed" })).sessions.map((s) => s.title), ["sibling"]);
  assert.deepEqual(
    (await scope.listSessions({ parentSessionId: root.id })).sessions.map((s) => s.title),
    ["child", "sibling"],
  );
  // The orchestrator's own list of a parent's sessions, unscoped.
  assert.deepEqual(
    (await orchestrator.listSessions({ parentSessionId: others[0].id })).sessions.map((s) => s.title),
    ["under another"],
  );
  const childScope = orchestrator.asScope({ kind: "session", sessionId: child.id, tokenId: crypto.randomUUID() });
  assert.deepEqual((await childScope.listSessions()).sessions.map((s) => s.id), [child.id, grandchild.id]);
  await assert.rejects(scope.listSessions({ parentSessionId: "not-an-id" }), { kind: "InvalidInput" });
});
