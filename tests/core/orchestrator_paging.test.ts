// The orchestrator's paged lists: opaque cursors over the stores' keyset pages, the page size
// rules, the every-row-exactly-once promise while rows come and go, on every store this runtime
// has; and, on SQLite, that the statements behind a page read an index instead of the whole table.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  DEFAULT_PAGE_SIZE,
  type ListSessionsOptions,
  MAX_PAGE_SIZE,
  type Repository,
  type Session,
  SessionError,
  SessionOrchestrator,
  type SqliteDatabase,
  SqliteStore,
  type SqliteValue,
} from "../../mod.ts";
import { disposable } from "../fixtures/disposable.ts";
import { isBun, repositoryInput, storeFactories, type StoreFactory } from "../fixtures/helpers.ts";

async function rejectsWithKind(promise: Promise<unknown>, kind: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => error instanceof SessionError && error.kind === kind);
}

// List order, computed here rather than taken from the code under test.
function idsInOrder(records: readonly { createdAt: string; id: string }[]): string[] {
  return [...records]
    .sort((a, b) => a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : 1)
    .map((record) => record.id);
}

// The cursor's own encoding, to forge cursors that look right but carry a bad position.
function forgeCursor(value: unknown): string {
  return btoa(JSON.stringify(value)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

const GARBAGE_CURSORS: readonly unknown[] = [
  "",
  "!!!",
  "abc",
  "not a cursor",
  "a".repeat(401),
  btoa("not json").replace(/=+$/, ""),
  forgeCursor({}),
  forgeCursor([]),
  forgeCursor(["2024-01-01T00:00:00.000Z"]),
  forgeCursor([1, 2]),
  forgeCursor(["yesterday", crypto.randomUUID()]),
  forgeCursor(["2024-01-01T00:00:00.000Z", "not-a-uuid"]),
  forgeCursor(["2024-01-01T00:00:00.000Z", crypto.randomUUID(), "extra"]),
  5,
  null,
];

// Follows `nextCursor` from the first page to the one whose `nextCursor` is null.
async function followCursors<T>(
  list: (cursor: string | undefined) => Promise<{ items: T[]; nextCursor: string | null }>,
): Promise<T[][]> {
  const pages: T[][] = [];
  let cursor: string | undefined;
  for (;;) {
    assert.ok(pages.length < 10_000, "paging does not end");
    const { items, nextCursor } = await list(cursor);
    pages.push(items);
    if (nextCursor === null) return pages;
    assert.equal(typeof nextCursor, "string");
    cursor = nextCursor;
  }
}

async function withOrchestrator(
  open: StoreFactory["open"],
  body: (orchestrator: SessionOrchestrator) => Promise<void>,
): Promise<void> {
  using fixture = disposable(await open(), (fixture) => fixture.close());
  await body(new SessionOrchestrator({ store: fixture.store }));
}

async function createSessions(
  orchestrator: SessionOrchestrator,
  repositoryId: string,
  count: number,
): Promise<Session[]> {
  const sessions: Session[] = [];
  for (let i = 0; i < count; i++) {
    sessions.push(await orchestrator.createSession({ repositoryId, title: `s${i}`, isWorktree: false }));
  }
  return sessions;
}

for (const factory of await storeFactories()) {
  const name = `orchestrator paging on ${factory.name}`;

  test(`${name}: pages of 100 by default, nextCursor leads to the rest and is null on the last page`, async () => {
    await withOrchestrator(factory.open, async (orchestrator) => {
      assert.equal(DEFAULT_PAGE_SIZE, 100);
      assert.deepEqual(await orchestrator.listSessions(), { sessions: [], nextCursor: null });
      assert.deepEqual(await orchestrator.listRepositories(), { repositories: [], nextCursor: null });

      const repositories: Repository[] = [];
      for (let i = 0; i < DEFAULT_PAGE_SIZE + 1; i++) {
        repositories.push(await orchestrator.createRepository(repositoryInput(`r${i}`)));
      }
      const sessions = await createSessions(orchestrator, repositories[0].id, DEFAULT_PAGE_SIZE + 50);

      const first = await orchestrator.listSessions();
      assert.equal(first.sessions.length, DEFAULT_PAGE_SIZE);
      assert.equal(typeof first.nextCursor, "string");
      const second = await orchestrator.listSessions({ cursor: first.nextCursor! });
      assert.equal(second.sessions.length, 50);
      assert.equal(second.nextCursor, null);
      assert.deepEqual([...first.sessions, ...second.sessions].map((s) => s.id), idsInOrder(sessions));

      const firstRepositories = await orchestrator.listRepositories();
      assert.equal(firstRepositories.repositories.length, DEFAULT_PAGE_SIZE);
      const lastRepositories = await orchestrator.listRepositories({ cursor: firstRepositories.nextCursor! });
      assert.equal(lastRepositories.nextCursor, null);
      assert.deepEqual(
        [...firstRepositories.repositories, ...lastRepositories.repositories].map((r) => r.id),
        idsInOrder(repositories),
      );
    });
  });

  test(`${name}: a page that ends the list exactly has a null nextCursor`, async () => {
    await withOrchestrator(factory.open, async (orchestrator) => {
      const repository = await orchestrator.createRepository(repositoryInput());
      const sessions = await createSessions(orchestrator, repository.id, 6);
      const first = await orchestrator.listSessions({ limit: 3 });
      assert.equal(first.sessions.length, 3);
      assert.notEqual(first.nextCursor, null);
      const second = await orchestrator.listSessions({ limit: 3, cursor: first.nextCursor! });
      assert.equal(second.sessions.length, 3);
      assert.equal(second.nextCursor, null);
      assert.deepEqual([...first.sessions, ...second.sessions].map((s) => s.id), idsInOrder(sessions));
      assert.equal((await orchestrator.listSessions({ limit: 6 })).nextCursor, null);
      assert.equal((await orchestrator.listRepositories({ limit: 1 })).nextCursor, null);
    });
  });

  test(`${name}: a limit from 1 to 1000 is taken; 0, negative, fractional, 1001 or not a number is InvalidInput`, async () => {
    await withOrchestrator(factory.open, async (orchestrator) => {
      assert.equal(MAX_PAGE_SIZE, 1000);
      const repository = await orchestrator.createRepository(repositoryInput());
      await createSessions(orchestrator, repository.id, 3);
      for (const limit of [1, 2, MAX_PAGE_SIZE]) {
        assert.equal((await orchestrator.listSessions({ limit })).sessions.length, Math.min(limit, 3));
        assert.equal((await orchestrator.listRepositories({ limit })).repositories.length, 1);
      }
      for (const limit of [0, -1, 1.5, MAX_PAGE_SIZE + 1, Number.NaN, Number.POSITIVE_INFINITY, "10", null]) {
        await rejectsWithKind(orchestrator.listSessions({ limit } as never), "InvalidInput");
        await rejectsWithKind(
          orchestrator.listSessions({ limit, repositoryId: repository.id, status: "active" } as never),
          "InvalidInput",
        );
        await rejectsWithKind(orchestrator.listRepositories({ limit } as never), "InvalidInput");
      }
    });
  });

  test(`${name}: a cursor this server did not make, or a bad filter, is InvalidInput`, async () => {
    await withOrchestrator(factory.open, async (orchestrator) => {
      const repository = await orchestrator.createRepository(repositoryInput());
      await createSessions(orchestrator, repository.id, 3);
      for (const cursor of GARBAGE_CURSORS) {
        await rejectsWithKind(orchestrator.listSessions({ cursor } as never), "InvalidInput");
        await rejectsWithKind(
          orchestrator.listSessions({ cursor, repositoryId: repository.id } as never),
          "InvalidInput",
        );
        await rejectsWithKind(orchestrator.listRepositories({ cursor } as never), "InvalidInput");
      }
      await rejectsWithKind(orchestrator.listSessions({ status: "exploded" } as never), "InvalidInput");
      await rejectsWithKind(orchestrator.listSessions({ repositoryId: "../x" }), "InvalidInput");
      await rejectsWithKind(orchestrator.listSessions({ after: "x" } as never), "InvalidInput");
      await rejectsWithKind(orchestrator.listRepositories({ status: "active" } as never), "InvalidInput");
      await rejectsWithKind(orchestrator.listSessions(null as never), "InvalidInput");
      // Beside all that garbage, a cursor the orchestrator made is taken.
      const { nextCursor } = await orchestrator.listSessions({ limit: 1 });
      assert.equal((await orchestrator.listSessions({ cursor: nextCursor! })).sessions.length, 2);
    });
  });

  test(`${name}: status and repository filters page through cursors`, async () => {
    await withOrchestrator(factory.open, async (orchestrator) => {
      const a = await orchestrator.createRepository(repositoryInput("a"));
      const b = await orchestrator.createRepository(repositoryInput("b"));
      const sessions: Session[] = [];
      for (let i = 0; i < 20; i++) {
        const created = await orchestrator.createSession({
          repositoryId: i % 2 === 0 ? a.id : b.id,
          title: `s${i}`,
          isWorktree: false,
        });
        sessions.push(i % 3 === 0 ? (await orchestrator.updateSession(created.id, { status: "paused" }))! : created);
      }
      const filters: Omit<ListSessionsOptions, "limit" | "cursor">[] = [
        {},
        { status: "paused" },
        { repositoryId: b.id },
        { repositoryId: a.id, status: "paused" },
        { repositoryId: b.id, status: "active" },
      ];
      for (const filter of filters) {
        const expected = idsInOrder(
          sessions.filter((s) =>
            (filter.repositoryId === undefined || s.repositoryId === filter.repositoryId) &&
            (filter.status === undefined || s.status === filter.status)
          ),
        );
        for (const limit of [1, 3, expected.length]) {
          const pages = await followCursors(async (cursor) => {
            const page = await orchestrator.listSessions({ ...filter, limit, ...(cursor ? { cursor } : {}) });
            return { items: page.sessions, nextCursor: page.nextCursor };
          });
          assert.deepEqual(pages.flat().map((s) => s.id), expected, `${JSON.stringify(filter)}, pages of ${limit}`);
          for (const page of pages) assert.ok(page.length > 0 && page.length <= limit);
        }
      }
    });
  });

  test(`${name}: following cursors visits every session that exists throughout exactly once while others come and go`, async () => {
    await withOrchestrator(factory.open, async (orchestrator) => {
      const a = await orchestrator.createRepository(repositoryInput("a"));
      const b = await orchestrator.createRepository(repositoryInput("b"));
      for (let i = 0; i < 30; i++) {
        const created = await orchestrator.createSession({
          repositoryId: i % 2 === 0 ? a.id : b.id,
          title: `s${i}`,
          isWorktree: false,
        });
        if (i % 3 === 0) await orchestrator.updateSession(created.id, { status: "paused" });
      }
      const filters: Omit<ListSessionsOptions, "limit" | "cursor">[] = [{}, { repositoryId: a.id }, {
        status: "active",
      }];
      for (const filter of filters) {
        const initial = (await orchestrator.listSessions({ ...filter, limit: MAX_PAGE_SIZE })).sessions;
        const deleted = new Set<string>();
        const seen: string[] = [];
        let cursorsDeleted = 0;
        let aheadDeleted = 0;
        let cursor: string | undefined;
        for (let step = 0;; step++) {
          assert.ok(step < 1000, "paging does not end");
          const page = await orchestrator.listSessions({ ...filter, limit: 4, ...(cursor ? { cursor } : {}) });
          for (const session of page.sessions) {
            assert.ok(!deleted.has(session.id), "a session deleted before its page was read is not on it");
            assert.ok(!seen.includes(session.id), "no session is on two pages");
            seen.push(session.id);
          }
          if (page.nextCursor === null) break;
          cursor = page.nextCursor;
          // Between pages: delete the session the cursor points at, one not reached yet, one
          // already seen; create new ones in both repositories.
          const last = page.sessions[page.sessions.length - 1];
          const ahead = initial.filter((s) => !seen.includes(s.id) && !deleted.has(s.id));
          const victims = [
            ...(step % 2 === 0 ? [last.id] : []),
            ...(ahead.length > 0 ? [ahead[(step * 7) % ahead.length].id] : []),
            ...(step % 3 === 1 ? [seen[step % seen.length]] : []),
          ];
          for (const id of victims) {
            if ((await orchestrator.deleteSession(id)) === null) continue;
            deleted.add(id);
            if (id === last.id) cursorsDeleted++;
            if (ahead.some((s) => s.id === id)) aheadDeleted++;
          }
          await orchestrator.createSession({ repositoryId: a.id, title: `new ${step}`, isWorktree: false });
          await orchestrator.createSession({ repositoryId: b.id, title: `new ${step}`, isWorktree: false });
        }
        assert.ok(cursorsDeleted > 0 && aheadDeleted > 0, "the walk deleted sessions at the cursor and ahead of it");
        for (const session of initial) {
          if (!deleted.has(session.id)) {
            assert.equal(seen.filter((id) => id === session.id).length, 1, `survivor ${session.id} seen once`);
          }
        }
      }
    });
  });

  test(`${name}: following cursors visits every repository that exists throughout exactly once while others come and go`, async () => {
    await withOrchestrator(factory.open, async (orchestrator) => {
      for (let i = 0; i < 25; i++) await orchestrator.createRepository(repositoryInput(`r${i}`));
      const initial = (await orchestrator.listRepositories({ limit: MAX_PAGE_SIZE })).repositories;
      const deleted = new Set<string>();
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let step = 0;; step++) {
        assert.ok(step < 1000, "paging does not end");
        const page = await orchestrator.listRepositories({ limit: 3, ...(cursor ? { cursor } : {}) });
        for (const repository of page.repositories) {
          assert.ok(!deleted.has(repository.id));
          assert.ok(!seen.includes(repository.id));
          seen.push(repository.id);
        }
        if (page.nextCursor === null) break;
        cursor = page.nextCursor;
        const last = page.repositories[page.repositories.length - 1];
        const ahead = initial.filter((r) => !seen.includes(r.id) && !deleted.has(r.id));
        const victims = [...(step % 2 === 0 ? [last.id] : []), ...(ahead.length > 0 ? [ahead[0].id] : [])];
        for (const id of victims) {
          if ((await orchestrator.deleteRepository(id)) !== null) deleted.add(id);
        }
        await orchestrator.createRepository(repositoryInput(`new-${step}`));
      }
      for (const repository of initial) {
        if (!deleted.has(repository.id)) assert.equal(seen.filter((id) => id === repository.id).length, 1);
      }
    });
  });
}

// --- query plans ---

interface Recorded {
  sql: string;
  params: SqliteValue[];
}

// Wraps a connection so every `all()` (what lists run) is recorded with its parameters: the plan
// checked below is then the plan of the very statement the store ran, not a copy of it.
function recording(database: SqliteDatabase): { database: SqliteDatabase; lists: Recorded[] } {
  const lists: Recorded[] = [];
  return {
    lists,
    database: {
      exec: (sql) => database.exec(sql),
      prepare(sql) {
        const statement = database.prepare(sql);
        return {
          run: (...params) => statement.run(...params),
          get: (...params) => statement.get(...params),
          all: (...params) => {
            lists.push({ sql, params });
            return statement.all(...params);
          },
        };
      },
    },
  };
}

async function sqliteConnections(): Promise<{ name: string; open(): SqliteDatabase & { close(): void } }[]> {
  const connections: { name: string; open(): SqliteDatabase & { close(): void } }[] = [
    { name: "node:sqlite", open: () => new DatabaseSync(":memory:") },
  ];
  if (isBun) {
    const specifier = "bun:sqlite";
    const { Database } = await import(specifier) as {
      Database: new (path: string) => SqliteDatabase & { close(): void };
    };
    connections.push({ name: "bun:sqlite", open: () => new Database(":memory:") });
  }
  return connections;
}

for (const connection of await sqliteConnections()) {
  test(`orchestrator paging on SQLite (${connection.name}): every page reads an index in order, never the whole table`, async () => {
    using raw = disposable(connection.open(), (raw) => raw.close());
    const { database, lists } = recording(raw);
    const orchestrator = new SessionOrchestrator({ store: new SqliteStore(database) });
    const repository = await orchestrator.createRepository(repositoryInput());
    await orchestrator.createRepository(repositoryInput());
    await orchestrator.createRepository(repositoryInput());
    for (const session of await createSessions(orchestrator, repository.id, 6)) {
      await orchestrator.updateSession(session.id, { status: "paused" });
    }
    await createSessions(orchestrator, repository.id, 6);

    // First pages and following pages (with a cursor) of every filter the API offers, each with
    // what its index must answer: the filter's equality, and on a following page also the seek
    // past the cursor. A plan that only walks an index and skips non-matching rows fails here.
    const requests: {
      what: string;
      list: (cursor?: string) => Promise<string | null>;
      seeks: RegExp | null;
    }[] = [
      {
        what: "sessions",
        list: async (cursor) => (await orchestrator.listSessions({ limit: 2, cursor })).nextCursor,
        seeks: null,
      },
      {
        what: "sessions of a repository",
        list: async (cursor) =>
          (await orchestrator.listSessions({ limit: 2, cursor, repositoryId: repository.id })).nextCursor,
        seeks: /repository_id=\?/,
      },
      {
        what: "sessions by status",
        list: async (cursor) => (await orchestrator.listSessions({ limit: 2, cursor, status: "paused" })).nextCursor,
        seeks: /status=\?/,
      },
      {
        what: "sessions of a repository by status",
        list: async (cursor) =>
          (await orchestrator.listSessions({ limit: 2, cursor, repositoryId: repository.id, status: "active" }))
            .nextCursor,
        seeks: /repository_id=\?|status=\?/,
      },
      {
        what: "repositories",
        list: async (cursor) => (await orchestrator.listRepositories({ limit: 2, cursor })).nextCursor,
        seeks: null,
      },
    ];
    for (const { what, list, seeks } of requests) {
      lists.length = 0;
      const next = await list();
      assert.notEqual(next, null, `${what}: there is a second page`);
      await list(next!);
      assert.equal(lists.length, 2, `${what}: one statement per page`);
      for (const [index, { sql, params }] of lists.entries()) {
        const label = `${what}, ${index === 0 ? "first page" : "next page"}`;
        const plan = (raw.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[])
          .map((row) => row.detail);
        const shown = `${label}: ${plan.join("; ")}`;
        assert.ok(plan.length > 0, label);
        for (const detail of plan) {
          assert.doesNotMatch(detail, /^SCAN (TABLE )?(sessions|repositories)$/, shown);
          // A sort would mean every matching row is read before the first is returned.
          assert.doesNotMatch(detail, /TEMP B-TREE/, shown);
        }
        const indexed = plan.find((detail) =>
          /^(SCAN|SEARCH) (TABLE )?(sessions|repositories) USING (COVERING )?INDEX /.test(detail)
        );
        assert.ok(indexed !== undefined, `${label} uses an index: ${shown}`);
        const constraints = /\((.*)\)$/.exec(indexed)?.[1] ?? "";
        if (seeks !== null) assert.match(constraints, seeks, shown);
        if (index === 1) {
          assert.match(constraints, /\(created_at,\s*id\)>\(\?,\s*\?\)/, `${shown}: seeks past the cursor`);
        }
      }
    }
  });
}
