// Lists come in pages: the orchestrator's `listSessions` / `listRepositories` and the HTTP routes
// over them, `{ sessions | repositories, nextCursor }`, oldest first, limit 100 by default and at
// most 1000.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  DEFAULT_PAGE_SIZE,
  MAX_PAGE_SIZE,
  MemoryStore,
  type Session,
  SessionError,
  SessionOrchestrator,
  type SessionStore,
} from "../../mod.ts";
import { openSqliteStore } from "../../src/platform/mod.ts";
import { routeApp } from "../fixtures/http_fixture.ts";
import { disposable } from "../fixtures/disposable.ts";
import { repositoryInput } from "../fixtures/helpers.ts";

const stores: { name: string; open(): { store: SessionStore; close(): void } }[] = [
  { name: "MemoryStore", open: () => ({ store: new MemoryStore(), close() {} }) },
  {
    name: "SQLite",
    open: () => {
      const store = openSqliteStore(":memory:");
      return { store, close: () => store.close() };
    },
  },
];

const oldestFirst = (a: Session, b: Session) =>
  a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;

const invalid = (error: unknown) => error instanceof SessionError && error.kind === "InvalidInput";

for (const { name, open } of stores) {
  test(`orchestrator over ${name}: sessions page by page, oldest first, filtered by repository and status`, async () => {
    using opened = disposable(open(), (opened) => opened.close());
    const { store } = opened;
    const orchestrator = new SessionOrchestrator({ store });
    const one = await orchestrator.createRepository(repositoryInput("one"));
    const two = await orchestrator.createRepository(repositoryInput("two"));
    const made: Session[] = [];
    for (let i = 0; i < 7; i++) {
      const repositoryId = i % 2 === 0 ? one.id : two.id;
      made.push(await orchestrator.createSession({ repositoryId, title: `s${i}`, isWorktree: false }));
    }
    await orchestrator.updateSession(made[2].id, { status: "paused" });
    await orchestrator.updateSession(made[4].id, { status: "paused" });

    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await orchestrator.listSessions({ limit: 3, cursor });
      assert.ok(page.sessions.length <= 3);
      seen.push(...page.sessions.map((s) => s.id));
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor !== undefined);
    assert.equal(pages, 3);
    assert.deepEqual(seen, [...made].sort(oldestFirst).map((s) => s.id));

    const ofOne = await orchestrator.listSessions({ repositoryId: one.id });
    assert.deepEqual(ofOne.sessions.map((s) => s.title).sort(), ["s0", "s2", "s4", "s6"]);
    assert.equal(ofOne.nextCursor, null);
    const paused = await orchestrator.listSessions({ repositoryId: one.id, status: "paused", limit: 1 });
    assert.equal(paused.sessions.length, 1);
    const rest = await orchestrator.listSessions({
      repositoryId: one.id,
      status: "paused",
      cursor: paused.nextCursor!,
    });
    assert.deepEqual([...paused.sessions, ...rest.sessions].map((s) => s.title).sort(), ["s2", "s4"]);
    assert.equal(rest.nextCursor, null);

    const repositories = await orchestrator.listRepositories({ limit: 1 });
    assert.equal(repositories.repositories.length, 1);
    const last = await orchestrator.listRepositories({ limit: 1, cursor: repositories.nextCursor! });
    assert.deepEqual([...repositories.repositories, ...last.repositories].map((r) => r.name).sort(), ["one", "two"]);
    assert.equal(last.nextCursor, null);
  });
}

test("orchestrator: a page is 100 sessions by default and at most 1000; other limits and cursors are InvalidInput", async () => {
  assert.equal(DEFAULT_PAGE_SIZE, 100);
  assert.equal(MAX_PAGE_SIZE, 1000);
  const orchestrator = new SessionOrchestrator({ store: new MemoryStore() });
  const repository = await orchestrator.createRepository(repositoryInput());
  for (let i = 0; i < 101; i++) {
    await orchestrator.createSession({ repositoryId: repository.id, title: `s${i}`, isWorktree: false });
  }
  const first = await orchestrator.listSessions();
  assert.equal(first.sessions.length, 100);
  assert.notEqual(first.nextCursor, null);
  assert.equal((await orchestrator.listSessions({ cursor: first.nextCursor! })).sessions.length, 1);
  assert.equal((await orchestrator.listSessions({ limit: 1000 })).sessions.length, 101);
  for (const limit of [0, 1001, 2.5, -1]) await assert.rejects(orchestrator.listSessions({ limit }), invalid);
  await assert.rejects(orchestrator.listSessions({ cursor: "not a cursor!" }), invalid);
  await assert.rejects(orchestrator.listRepositories({ limit: 1001 }), invalid);
});

test("http: GET /v1/sessions and /v1/repositories answer pages with nextCursor; a limit over 1000 is 400", async () => {
  await using t = await routeApp();
  const created = await t.callJson("/v1/repositories", { method: "POST", json: repositoryInput() });
  const repositoryId = created.body.id;
  await t.callJson("/v1/repositories", { method: "POST", json: repositoryInput("other") });
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const session = await t.callJson("/v1/sessions", {
      method: "POST",
      json: { repositoryId, title: `s${i}`, isWorktree: false },
    });
    ids.push(session.body.id);
  }
  await t.callJson(`/v1/sessions/${ids[1]}`, { method: "PATCH", json: { status: "completed" } });

  const seen: string[] = [];
  let next: string | null = null;
  do {
    const query: string = `repositoryId=${repositoryId}&limit=2${next === null ? "" : `&cursor=${next}`}`;
    const page = await t.callJson(`/v1/sessions?${query}`);
    assert.equal(page.status, 200);
    assert.deepEqual(Object.keys(page.body).sort(), ["nextCursor", "sessions"]);
    seen.push(...page.body.sessions.map((s: Session) => s.id));
    next = page.body.nextCursor;
  } while (next !== null);
  assert.deepEqual([...seen].sort(), [...ids].sort());

  const completed = await t.callJson(`/v1/sessions?status=completed`);
  assert.deepEqual(completed.body.sessions.map((s: Session) => s.id), [ids[1]]);
  assert.equal(completed.body.nextCursor, null);

  const repositories = await t.callJson("/v1/repositories?limit=1");
  assert.equal(repositories.body.repositories.length, 1);
  const rest = await t.callJson(`/v1/repositories?limit=1&cursor=${repositories.body.nextCursor}`);
  assert.equal(rest.body.repositories.length, 1);
  assert.equal(rest.body.nextCursor, null);

  for (const path of ["/v1/sessions?limit=1001", "/v1/sessions?limit=0", "/v1/repositories?limit=1001"]) {
    const refused = await t.callJson(path);
    assert.equal(refused.status, 400, path);
    assert.equal(refused.body.error.kind, "InvalidInput");
  }
  assert.equal((await t.callJson("/v1/sessions?status=exploded")).status, 400);
  assert.equal((await t.callJson("/v1/sessions?cursor=%25%25")).status, 400);
});
