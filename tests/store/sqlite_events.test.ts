// The SQLite event log: each logged change's event is written in the change's transaction under an
// AUTOINCREMENT id, which survives reopening and is never reused; a follower gets this connection's
// events as each commits and another connection's at its poll; retention keeps the newest
// `keepEvents` and any younger than `keepSeconds`; and an orchestrator over it emits nothing itself.
// What every store's log must do is in tests/store/event_log_conformance.test.ts (`testEventLog`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { type LifecycleEvent, SessionOrchestrator, SqliteStore } from "../../mod.ts";
import { openSqliteStore } from "../../src/platform/mod.ts";
import { openSqliteFile, repositoryInput, tempDir } from "../fixtures/helpers.ts";

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test("sqlite events: ids survive reopening and are never reused, even once every event was removed", async () => {
  using dir = tempDir("slo-sqlite-events-");
  const path = join(dir.path, "sessions.db");
  const first = openSqliteStore(path, { eventLog: true });
  const orchestrator = new SessionOrchestrator({ store: first });
  const direct: string[] = [];
  orchestrator.events.subscribe((event) => direct.push(event.type));
  const repository = await orchestrator.createRepository(repositoryInput());
  await orchestrator.createSession({ repositoryId: repository.id, title: "t", isWorktree: false });
  // Over a logged store the orchestrator leaves the emitting to whoever follows the log.
  assert.deepEqual(direct, []);
  // A refused change logs nothing.
  await assert.rejects(orchestrator.createRepository({ path: repository.path, name: "again" }));
  assert.deepEqual((await first.eventLog!.readAfter("0", 10)).events.map((e) => `${e.id} ${e.event.type}`), [
    "1 repository.created",
    "2 session.created",
  ]);
  first.close();

  // Every row removed behind the store's back: the next id is still 3.
  const raw = new DatabaseSync(path);
  raw.exec("DELETE FROM lifecycle_events");
  raw.close();
  using second = openSqliteFile(path, { eventLog: true });
  const page = await second.eventLog!.readAfter("0", 10);
  assert.deepEqual(page, { events: [], lastId: "2" });
  await new SessionOrchestrator({ store: second }).createRepository(repositoryInput("later"));
  assert.deepEqual((await second.eventLog!.readAfter("0", 10)).events.map((e) => e.id), ["3"]);
});

test("sqlite events: a follower gets its own store's events at commit, and another connection's at its poll", async () => {
  using dir = tempDir("slo-sqlite-events-");
  const path = join(dir.path, "sessions.db");
  using a = openSqliteFile(path, { eventLog: { pollIntervalMs: 20 } });
  using b = openSqliteFile(path, { eventLog: true });
  const seen: { id: string; own: boolean; event: LifecycleEvent }[] = [];
  const follower = await a.eventLog!.follow((event, { id, own }) => seen.push({ id, own, event }));
  const mine = await new SessionOrchestrator({ store: a }).createRepository(repositoryInput("a"));
  // Delivered before the write's promise resolved.
  assert.deepEqual(seen.map(({ id, own }) => `${id} ${own}`), ["1 true"]);
  assert.equal(JSON.stringify(seen[0].event), JSON.stringify({ type: "repository.created", repository: mine }));
  const theirs = await new SessionOrchestrator({ store: b }).createRepository(repositoryInput("b"));
  await until(() => seen.length === 2, "the other connection's event");
  assert.deepEqual(seen.map(({ id, own }) => `${id} ${own}`), ["1 true", "2 false"]);
  assert.equal(JSON.stringify(seen[1].event), JSON.stringify({ type: "repository.created", repository: theirs }));
  // Interleaved: b's event 3 is read before a's own 4 is delivered.
  await new SessionOrchestrator({ store: b }).createRepository(repositoryInput("b2"));
  await new SessionOrchestrator({ store: a }).createRepository(repositoryInput("a2"));
  assert.deepEqual(seen.map(({ id }) => id), ["1", "2", "3", "4"]);
  await follower.close();
  await new SessionOrchestrator({ store: a }).createRepository(repositoryInput("a3"));
  assert.equal(seen.length, 4);
});

test("sqlite events: old events are pruned as they are written, beyond the newest kept and older than the age kept", async () => {
  const store = new SqliteStore(new DatabaseSync(":memory:"), { eventLog: { keepEvents: 5, keepSeconds: 0 } });
  const orchestrator = new SessionOrchestrator({ store });
  for (let i = 0; i < 30; i++) await orchestrator.createRepository(repositoryInput());
  const page = await store.eventLog!.readAfter("0", 100);
  assert.deepEqual(page.events.map((e) => e.id), ["26", "27", "28", "29", "30"]);
  assert.equal(page.lastId, "30");

  const young = new SqliteStore(new DatabaseSync(":memory:"), { eventLog: { keepEvents: 0, keepSeconds: 3600 } });
  for (let i = 0; i < 3; i++) await new SessionOrchestrator({ store: young }).createRepository(repositoryInput());
  assert.equal(await young.pruneEvents(), 0);
  assert.equal((await young.eventLog!.readAfter("0", 100)).events.length, 3);

  // Without eventLog: nothing is logged, and the orchestrator emits as before.
  const plain = new SqliteStore(new DatabaseSync(":memory:"));
  assert.equal(plain.eventLog, null);
  const seen: string[] = [];
  const plainOrchestrator = new SessionOrchestrator({ store: plain });
  plainOrchestrator.events.subscribe((event, { id }) => seen.push(`${id} ${event.type}`));
  await plainOrchestrator.createRepository(repositoryInput());
  assert.deepEqual(seen, ["1 repository.created"]);
  assert.throws(() => new SqliteStore(new DatabaseSync(":memory:"), { eventLog: { keepEvents: -1 } }), {
    kind: "InvalidInput",
  });
});
