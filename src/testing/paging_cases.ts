/**
 * Conformance cases for lists: `(createdAt, id)` order, filters, pages with `limit` and `after`,
 * their validation, and the keyset property that pages stay exact while rows come and go.
 * Internal to `./testing`.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { SessionStore } from "../store/store.ts";
import type { ListPosition, Repository, Session, SessionFilter, SessionStatus } from "../types.ts";
import {
  byPosition,
  idsInOrder,
  positionOf,
  rejectsWithKind,
  repositoryInput,
  sessionInput,
  type StoreCase,
} from "./support.ts";

/** A page request, as both lists take it. */
type Page = { limit?: number; after?: ListPosition };

// Before every record any store can hold: the epoch, and the smallest UUID.
const BEFORE_ALL: ListPosition = { createdAt: "1970-01-01T00:00:00.000Z", id: "00000000-0000-0000-0000-000000000000" };

// Two repositories and `count` sessions alternating between them, every third one paused, so that
// each filter (repository, status, both) selects a proper, interleaved part of the rows.
async function seedSessions(
  store: SessionStore,
  count: number,
): Promise<{ a: Repository; b: Repository; sessions: Session[] }> {
  const a = await store.createRepository(repositoryInput("a"));
  const b = await store.createRepository(repositoryInput("b"));
  const sessions: Session[] = [];
  for (let i = 0; i < count; i++) {
    const created = await store.createSession(sessionInput(i % 2 === 0 ? a.id : b.id, { title: `s${i}` }));
    sessions.push(i % 3 === 0 ? (await store.updateSession(created.id, { status: "paused" }))! : created);
  }
  return { a, b, sessions };
}

// Follows pages of `limit` from the start (each one after the last record of the one before)
// and returns them; a page shorter than `limit` is the last.
async function followPages<T extends ListPosition>(
  limit: number,
  list: (page: Page) => Promise<T[]>,
): Promise<T[][]> {
  const pages: T[][] = [];
  let after: ListPosition | undefined;
  for (;;) {
    assert.ok(pages.length <= 10_000, "paging does not end");
    const page = await list(after === undefined ? { limit } : { limit, after });
    assert.ok(page.length <= limit, `a page of limit ${limit} has ${page.length} records`);
    pages.push(page);
    if (page.length < limit) return pages;
    after = positionOf(page[page.length - 1]);
  }
}

// Pages of every size from 1 to past the end give the whole list, in order, each page full but the last.
async function assertPagesCover<T extends ListPosition>(
  expected: readonly string[],
  list: (page: Page) => Promise<T[]>,
): Promise<void> {
  for (const limit of new Set([1, 2, 3, 5, expected.length, expected.length + 1])) {
    if (limit < 1) continue;
    const pages = await followPages(limit, list);
    assert.deepEqual(pages.flat().map((record) => record.id), expected, `pages of ${limit}`);
    for (const page of pages.slice(0, -1)) assert.equal(page.length, limit);
  }
}

/** What {@linkcode walkWhileChanging} is told between two pages. */
interface Between<T> {
  /** How many pages were read so far, minus one. */
  step: number;
  /** The last record of the page just read: the position the next page starts after. */
  cursor: T;
  /** Records of the starting list that no page has returned yet and that are not deleted. */
  unseen: T[];
  /** Every record pages have returned so far, in order. */
  seen: T[];
}

/**
 * Follows pages of `limit` while `change` creates and deletes records between them, and checks
 * the keyset promise: pages only go forward (no record twice, none out of order), never return
 * a record deleted before the page was read, and return every record of the starting list that
 * was never deleted exactly once. `change` returns the ids it deleted.
 */
async function walkWhileChanging<T extends ListPosition>(
  limit: number,
  list: (page: Page) => Promise<T[]>,
  matches: (record: T) => boolean,
  change: (between: Between<T>) => Promise<string[]>,
): Promise<{ deletedUnseen: number; deletedCursors: number }> {
  const initial = await list({});
  assert.ok(initial.length > 3 * limit, "the walk starts with several pages of records");
  const deleted = new Set<string>();
  const seen: T[] = [];
  let deletedUnseen = 0;
  let deletedCursors = 0;
  let after: ListPosition | undefined;
  for (let step = 0;; step++) {
    assert.ok(step < 10_000, "paging does not end");
    const page = await list(after === undefined ? { limit } : { limit, after });
    assert.ok(page.length <= limit);
    for (const record of page) {
      assert.ok(matches(record), `record ${record.id} does not match the filter`);
      assert.ok(!deleted.has(record.id), `record ${record.id} was deleted before its page was read`);
      const previous = seen[seen.length - 1];
      if (previous !== undefined) {
        assert.ok(byPosition(previous, record) < 0, `record ${record.id} repeats or goes back`);
      }
      seen.push(record);
    }
    if (page.length < limit) break;
    const cursor = page[page.length - 1];
    after = positionOf(cursor);
    const seenIds = new Set(seen.map((record) => record.id));
    const unseen = initial.filter((record) => !seenIds.has(record.id) && !deleted.has(record.id));
    for (const id of await change({ step, cursor, unseen, seen: [...seen] })) {
      deleted.add(id);
      if (id === cursor.id) deletedCursors++;
      if (unseen.some((record) => record.id === id)) deletedUnseen++;
    }
  }
  const times = new Map<string, number>();
  for (const record of seen) times.set(record.id, (times.get(record.id) ?? 0) + 1);
  for (const record of initial) {
    if (!deleted.has(record.id)) assert.equal(times.get(record.id), 1, `survivor ${record.id} seen once`);
  }
  return { deletedUnseen, deletedCursors };
}

function sessionMatches(filter: SessionFilter): (session: Session) => boolean {
  return (session) =>
    (filter.repositoryId === undefined || session.repositoryId === filter.repositoryId) &&
    (filter.status === undefined || session.status === filter.status);
}

// Not whole numbers from 1: each is refused, whatever the rest of the request.
const BAD_LIMITS: readonly unknown[] = [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, "2", null];

// Not positions: wrong shapes, an id that is no UUID, a creation time that is no timestamp.
const BAD_POSITIONS: readonly unknown[] = [
  { createdAt: "+200000-01-01T00:00:00.000Z", id: crypto.randomUUID() },
  null,
  "cursor",
  5,
  {},
  { createdAt: "2024-01-01T00:00:00.000Z" },
  { id: crypto.randomUUID() },
  { createdAt: 1, id: crypto.randomUUID() },
  { createdAt: "2024-01-01T00:00:00.000Z", id: "not-a-uuid" },
  { createdAt: "2024-01-01T00:00:00.000Z", id: 7 },
  { createdAt: "not a time", id: crypto.randomUUID() },
  { createdAt: "", id: crypto.randomUUID() },
];

/** The list cases, in the order they run. */
export const PAGING_CASES: readonly StoreCase[] = [
  {
    name: "finds the session of a worktree folder, and the sessions of a repository's branch",
    run: async (store) => {
      const a = await store.createRepository(repositoryInput("a"));
      const b = await store.createRepository(repositoryInput("b"));
      const held = await store.createSession(
        sessionInput(a.id, { isWorktree: true, worktreePath: "/wt/a/one", branchName: "session/one" }),
      );
      await store.createSession(
        sessionInput(b.id, { isWorktree: true, worktreePath: "/wt/b/one", branchName: "session/one" }),
      );
      const ids = (sessions: Session[]) => sessions.map((session) => session.id);
      assert.deepEqual(ids(await store.listSessions({ worktreePath: "/wt/a/one" })), [held.id]);
      // The folder is compared in the form the store keeps it.
      assert.deepEqual(ids(await store.listSessions({ worktreePath: "/wt//a/./one/" })), [held.id]);
      assert.deepEqual(await store.listSessions({ worktreePath: "/wt/a/two" }), []);
      assert.deepEqual(ids(await store.listSessions({ repositoryId: a.id, branchName: "session/one" })), [held.id]);
      assert.equal((await store.listSessions({ branchName: "session/one" })).length, 2);
      assert.deepEqual(await store.listSessions({ repositoryId: a.id, branchName: "session/two" }), []);
      await rejectsWithKind(store.listSessions({ worktreePath: "relative/path" }), "InvalidInput");
      await rejectsWithKind(store.listSessions({ branchName: "" }), "InvalidInput");
    },
  },
  {
    name: "pages sessions with limit and after, in (createdAt, id) order",
    run: async (store) => {
      const { sessions } = await seedSessions(store, 13);
      const expected = idsInOrder(sessions);
      assert.deepEqual((await store.listSessions()).map((s) => s.id), expected);
      assert.deepEqual((await store.listSessions({ limit: 3 })).map((s) => s.id), expected.slice(0, 3));
      await assertPagesCover(expected, (page) => store.listSessions(page));
      // After the last record nothing is left; after a position before all of them, everything is.
      const last = sessions.find((s) => s.id === expected[expected.length - 1])!;
      assert.deepEqual(await store.listSessions({ after: positionOf(last) }), []);
      assert.deepEqual((await store.listSessions({ after: BEFORE_ALL })).map((s) => s.id), expected);
      // A page holds whole records, the same as a single read returns.
      const [first] = await store.listSessions({ limit: 1 });
      assert.deepEqual(first, await store.getSession(first.id));
    },
  },

  {
    name: "filters sessions by status, and by repository and status together, page by page",
    run: async (store) => {
      const { a, b, sessions } = await seedSessions(store, 14);
      const filters: SessionFilter[] = [
        { status: "paused" },
        { status: "active" },
        { repositoryId: a.id },
        { repositoryId: a.id, status: "paused" },
        { repositoryId: b.id, status: "active" },
        { repositoryId: b.id, status: "paused" },
      ];
      for (const filter of filters) {
        const expected = idsInOrder(sessions.filter(sessionMatches(filter)));
        assert.ok(expected.length > 0 && expected.length < sessions.length, `${JSON.stringify(filter)} selects a part`);
        assert.deepEqual((await store.listSessions(filter)).map((s) => s.id), expected, JSON.stringify(filter));
        await assertPagesCover(expected, (page) => store.listSessions({ ...filter, ...page }));
      }
      for (const status of ["completed", "archived"] satisfies SessionStatus[]) {
        assert.deepEqual(await store.listSessions({ status }), []);
        assert.deepEqual(await store.listSessions({ repositoryId: a.id, status, limit: 5 }), []);
      }
      assert.deepEqual(await store.listSessions({ repositoryId: crypto.randomUUID(), status: "paused" }), []);
      await rejectsWithKind(store.listSessions({ status: "exploded" as never }), "InvalidInput");
      await rejectsWithKind(store.listSessions({ repositoryId: "../a" }), "InvalidInput");
    },
  },

  {
    name: "lists records one process made one after the other in creation order, even within one millisecond",
    run: async (store) => {
      // Made back to back, most of these share a millisecond, so `createdAt` alone cannot order
      // them: the ids the library makes (time-ordered, monotonic) keep the order.
      const repositories: Repository[] = [];
      for (let i = 0; i < 20; i++) repositories.push(await store.createRepository(repositoryInput(`o${i}`)));
      const made = repositories.map((repository) => repository.id);
      assert.deepEqual((await store.listRepositories()).map((r) => r.id), made);
      const sessions: string[] = [];
      for (let i = 0; i < 50; i++) sessions.push((await store.createSession(sessionInput(made[0]))).id);
      assert.deepEqual((await store.listSessions()).map((s) => s.id), sessions);
      const firstPage = await store.listSessions({ limit: 1 });
      assert.deepEqual(firstPage.map((s) => s.id), [sessions[0]]);
      const second = await store.listSessions({ limit: 1, after: positionOf(firstPage[0]) });
      assert.deepEqual(second.map((s) => s.id), [sessions[1]]);
    },
  },

  {
    name: "pages repositories with limit and after, in (createdAt, id) order",
    run: async (store) => {
      const repositories: Repository[] = [];
      for (let i = 0; i < 9; i++) repositories.push(await store.createRepository(repositoryInput(`r${i}`)));
      const expected = idsInOrder(repositories);
      assert.deepEqual((await store.listRepositories()).map((r) => r.id), expected);
      await assertPagesCover(expected, (page) => store.listRepositories(page));
      const last = repositories.find((r) => r.id === expected[expected.length - 1])!;
      assert.deepEqual(await store.listRepositories({ after: positionOf(last) }), []);
      assert.deepEqual((await store.listRepositories({ after: BEFORE_ALL })).map((r) => r.id), expected);
      const [first] = await store.listRepositories({ limit: 1 });
      assert.deepEqual(first, await store.getRepository(first.id));
    },
  },

  {
    name: "refuses a limit that is not a whole number from 1 with InvalidInput",
    run: async (store) => {
      const { a } = await seedSessions(store, 3);
      for (const limit of BAD_LIMITS) {
        const page = { limit } as unknown as Page;
        await rejectsWithKind(store.listSessions(page), "InvalidInput");
        await rejectsWithKind(store.listSessions({ ...page, repositoryId: a.id }), "InvalidInput");
        await rejectsWithKind(store.listSessions({ ...page, status: "active" }), "InvalidInput");
        await rejectsWithKind(store.listRepositories(page), "InvalidInput");
      }
    },
  },

  {
    name: "refuses a bad after position or an unknown filter field with InvalidInput",
    run: async (store) => {
      const { a } = await seedSessions(store, 3);
      for (const after of BAD_POSITIONS) {
        const page = { limit: 2, after } as unknown as Page;
        await rejectsWithKind(store.listSessions(page), "InvalidInput");
        await rejectsWithKind(store.listSessions({ ...page, repositoryId: a.id, status: "active" }), "InvalidInput");
        await rejectsWithKind(store.listRepositories(page), "InvalidInput");
      }
      await rejectsWithKind(store.listSessions({ repository: a.id } as never), "InvalidInput");
      await rejectsWithKind(store.listRepositories({ status: "active" } as never), "InvalidInput");
      await rejectsWithKind(store.listSessions(null as never), "InvalidInput");
      await rejectsWithKind(store.listRepositories(null as never), "InvalidInput");
    },
  },

  {
    name: "following session pages visits every session that exists throughout exactly once while others come and go",
    run: async (store) => {
      const filtersOf = (a: Repository): SessionFilter[] => [{}, { repositoryId: a.id }, { status: "active" }, {
        repositoryId: a.id,
        status: "active",
      }];
      for (let index = 0; index < 4; index++) {
        // Fresh rows for each walk: an earlier walk's deletions (which depend on the order of ids
        // made in one millisecond) must not leave a later filter with too few rows to walk.
        const { a, b } = await seedSessions(store, 36);
        const filter = filtersOf(a)[index];
        const counted = await walkWhileChanging(
          3,
          (page) => store.listSessions({ ...filter, ...page }),
          sessionMatches(filter),
          async ({ step, cursor, unseen, seen }) => {
            const gone: string[] = [];
            const remove = async (id: string) => {
              if ((await store.deleteSession(id)) !== null) gone.push(id);
            };
            // The very row the next page starts after: a keyset page needs no row to exist.
            if (step % 2 === 0) await remove(cursor.id);
            // One the walk has yet to reach, so a later page must not return it.
            if (unseen.length > 0) await remove(unseen[(step * 7) % unseen.length].id);
            // One already returned.
            if (step % 3 === 1) await remove(seen[step % seen.length].id);
            // New ones, in both repositories; they come after every existing row.
            await store.createSession(sessionInput(a.id, { title: `new ${step}` }));
            const paused = await store.createSession(sessionInput(b.id, { title: `new ${step}` }));
            await store.updateSession(paused.id, { status: "paused" });
            return gone;
          },
        );
        assert.ok(
          counted.deletedCursors > 0 && counted.deletedUnseen > 0,
          "the walk deleted rows ahead and at the cursor",
        );
      }
    },
  },

  {
    name:
      "following repository pages visits every repository that exists throughout exactly once while others come and go",
    run: async (store) => {
      for (let i = 0; i < 20; i++) await store.createRepository(repositoryInput(`r${i}`));
      const counted = await walkWhileChanging(
        3,
        (page) => store.listRepositories(page),
        () => true,
        async ({ step, cursor, unseen, seen }) => {
          const gone: string[] = [];
          const remove = async (id: string) => {
            if ((await store.deleteRepository(id)) !== null) gone.push(id);
          };
          if (step % 2 === 0) await remove(cursor.id);
          if (unseen.length > 0) await remove(unseen[(step * 5) % unseen.length].id);
          if (step % 3 === 1) await remove(seen[step % seen.length].id);
          await store.createRepository(repositoryInput(`new-${step}`));
          return gone;
        },
      );
      assert.ok(
        counted.deletedCursors > 0 && counted.deletedUnseen > 0,
        "the walk deleted rows ahead and at the cursor",
      );
    },
  },
];
