// Every wait on Postgres is bounded. Another client holding a lock (`LOCK TABLE sessions`, or the
// event log's table, which every logged write inserts into) makes the store's statements fail after its lock timeout, or its
// statement timeout, as a retryable `Storage` error, instead of waiting as long as the lock is held;
// a call that finds every connection busy fails after its acquire timeout; an operation whose
// statements keep timing out holds one connection, so the others still get theirs. Over HTTP, real
// server processes answer every request while the lock is still held: 503 `Storage` with
// `Retry-After` for what needs the locked table or row, 200 for the rest. No time is asserted: each
// test holds the lock until every answer is in (or a generous bound passed, which fails the test),
// and checks that the lock was still held when the answers came.
import { test } from "node:test";
import assert from "node:assert/strict";
import postgres from "postgres";
import { SessionError } from "../../mod.ts";
import type { PostgresStore, PostgresStoreOptions } from "../../src/postgres/mod.ts";
import { asyncDeferred, disposable, tempDir } from "../fixtures/helpers.ts";
import { openTestStore, skipPostgres, type TestDatabase, testDatabase } from "../fixtures/postgres_fixture.ts";
import { newDatabaseKey, startClusterServer } from "../fixtures/server_cluster.ts";

const database = await testDatabase();
const skip = skipPostgres;
// One key for the servers of this file: the database keeps its check from the first start on.
const key = newDatabaseKey();

/** How long a test holds a lock at most: far past every bound the tests configure. */
const HOLD_BOUND_MS = 40_000;

/** A lock held by another client, in a transaction of its own, until `release()` or the end of an `await using` block. */
interface HeldLock extends AsyncDisposable {
  /** Whether the lock is still granted to its transaction (asked on another connection). */
  held(): Promise<boolean>;
  release(): Promise<void>;
}

// Takes a lock with `statement` in a transaction on a connection of its own, and keeps it until
// released; `held` tells whether it still holds it.
async function holdLock(db: TestDatabase, statement: string, held: () => Promise<boolean>): Promise<HeldLock> {
  const holder = postgres(db.url, { max: 1, onnotice: () => {}, fetch_types: false });
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let locked!: () => void;
  const taken = new Promise<void>((resolve) => (locked = resolve));
  const transaction = holder.begin(async (tx) => {
    await tx.unsafe(statement);
    locked();
    await released;
  });
  await Promise.race([taken, transaction]);
  const letGo = async () => {
    release();
    await transaction;
    await holder.end({ timeout: 1 });
  };
  return { held, release: letGo, [Symbol.asyncDispose]: letGo };
}

// Whether another transaction holds `schema.sessions` locked in ACCESS EXCLUSIVE mode.
const sessionsLocked = (schema: string) => async () => {
  const [{ count }] = await database!.admin.unsafe(
    `SELECT count(*)::int AS count FROM pg_locks WHERE locktype = 'relation' AND granted
      AND mode = 'AccessExclusiveLock' AND relation = '${schema}.sessions'::regclass`,
  );
  return count > 0;
};

// Whether another transaction holds `schema.lifecycle_events` locked in SHARE mode (which lets
// reads of the log through and keeps every insert waiting).
const eventsLocked = (schema: string) => async () => {
  const [{ count }] = await database!.admin.unsafe(
    `SELECT count(*)::int AS count FROM pg_locks WHERE locktype = 'relation' AND granted
      AND mode = 'ShareLock' AND relation = '${schema}.lifecycle_events'::regclass`,
  );
  return count > 0;
};

// Every promise settled, or `null` once `boundMs` passed first.
async function settledWithin<T>(promises: Promise<T>[], boundMs: number): Promise<PromiseSettledResult<T>[] | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), boundMs)));
  try {
    return await Promise.race([Promise.allSettled(promises), bound]);
  } finally {
    clearTimeout(timer);
  }
}

function schemaName(): string {
  return `waits_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
}

function openStore(schema: string, options: PostgresStoreOptions): Promise<PostgresStore & AsyncDisposable> {
  return openTestStore(database!.url, { schema, ...options });
}

// A rejection with the store's retryable Storage error.
function assertRetryable(result: PromiseSettledResult<unknown>, code?: string): void {
  assert.equal(result.status, "rejected", JSON.stringify(result));
  const error = (result as PromiseRejectedResult).reason;
  assert.ok(error instanceof SessionError, String(error));
  assert.equal(error.kind, "Storage", error.message);
  assert.equal(error.retryAfterSeconds, 1, error.message);
  if (code !== undefined) assert.equal((error.cause as { code?: string })?.code, code, error.message);
}

test(
  "waits: a statement kept waiting by a locked table fails after the lock timeout, or the statement timeout, as retryable",
  {
    skip,
  },
  async () => {
    const schema = schemaName();
    const byLock = await openStore(schema, { lockTimeoutMs: 200, statementTimeoutMs: 30_000 });
    const byStatement = await openStore(schema, { lockTimeoutMs: 30_000, statementTimeoutMs: 200 });
    await using _stores = asyncDeferred(() => Promise.all([byLock.close(), byStatement.close()]));
    const repository = await byLock.createRepository({ path: "/src/waits-lock", name: "app" });
    const session = await byLock.createSession({
      id: crypto.randomUUID(),
      repositoryId: repository.id,
      title: "kept",
      isWorktree: false,
    });
    {
      await using lock = await holdLock(
        database!,
        `LOCK TABLE ${schema}.sessions IN ACCESS EXCLUSIVE MODE`,
        sessionsLocked(schema),
      );
      const results = await settledWithin<unknown>([
        byLock.getSession(session.id),
        byLock.deleteSession(session.id),
        byStatement.listSessions(),
        byLock.getRepository(repository.id),
      ], HOLD_BOUND_MS);
      assert.ok(results !== null, "every call settled while the table was locked");
      assert.ok(await lock.held(), "the lock was held all along");
      assertRetryable(results[0], "55P03");
      assertRetryable(results[1], "55P03");
      assertRetryable(results[2], "57014");
      // The repositories table is not locked.
      assert.equal(results[3].status, "fulfilled", JSON.stringify(results[3]));
      assert.equal((results[3] as PromiseFulfilledResult<{ id: string } | null>).value?.id, repository.id);
    }
    // Nothing was deleted, and the same calls work once the lock is gone.
    assert.equal((await byLock.getSession(session.id))?.id, session.id);
    assert.equal((await byStatement.listSessions()).length, 1);
  },
);

test("waits: a call that finds every connection busy fails after the acquire timeout, as retryable", {
  skip,
}, async () => {
  const schema = schemaName();
  await using store = await openStore(schema, {
    maxConnections: 1,
    lockTimeoutMs: 30_000,
    statementTimeoutMs: 35_000,
    acquireTimeoutMs: 200,
  });
  const repository = await store.createRepository({ path: "/src/waits-pool", name: "app" });
  let blocked: Promise<unknown> | null = null;
  {
    await using lock = await holdLock(
      database!,
      `LOCK TABLE ${schema}.sessions IN ACCESS EXCLUSIVE MODE`,
      sessionsLocked(schema),
    );
    // The one connection waits for the lock; a read of another table finds none free.
    blocked = store.listSessions().catch((error) => error);
    const results = await settledWithin([store.getRepository(repository.id)], HOLD_BOUND_MS);
    assert.ok(results !== null, "the read settled while the only connection waited for the lock");
    assert.ok(await lock.held(), "the lock was held all along");
    assertRetryable(results[0]);
    assert.match((results[0] as PromiseRejectedResult).reason.message, /no database connection was free for 200 ms/);
  }
  // The waiting list gets its answer once the lock is gone, and the pool is whole again.
  assert.deepEqual(await blocked, []);
  assert.equal((await store.getRepository(repository.id))?.id, repository.id);
});

test("waits: an operation timing out on a locked table keeps to one connection, so other tables' reads get theirs", {
  skip,
}, async () => {
  const schema = schemaName();
  // Without the limit, the 60 lists would take the 4 connections in turns of 300 ms, and the reads
  // queued behind them would give up after 3 s, long before their turn.
  await using store = await openStore(schema, { maxConnections: 4, lockTimeoutMs: 300, acquireTimeoutMs: 3000 });
  const repository = await store.createRepository({ path: "/src/waits-share", name: "app" });
  {
    await using lock = await holdLock(
      database!,
      `LOCK TABLE ${schema}.sessions IN ACCESS EXCLUSIVE MODE`,
      sessionsLocked(schema),
    );
    const lists = Array.from({ length: 60 }, () => store.listSessions());
    const reads = Array.from({ length: 8 }, () => store.getRepository(repository.id));
    const results = await settledWithin<unknown>([...lists, ...reads], HOLD_BOUND_MS);
    assert.ok(results !== null, "every call settled while the table was locked");
    assert.ok(await lock.held(), "the lock was held all along");
    for (const result of results.slice(0, 60)) assertRetryable(result);
    for (const result of results.slice(60)) {
      assert.equal(result.status, "fulfilled", JSON.stringify(result));
      assert.equal((result as PromiseFulfilledResult<{ id: string } | null>).value?.id, repository.id);
    }
  }
  // The lists work again once one of them succeeds.
  assert.deepEqual(await store.listSessions(), []);
  assert.equal((await Promise.all(Array.from({ length: 8 }, () => store.listSessions()))).length, 8);
});

interface HttpAnswer {
  what: string;
  status: number;
  retryAfter: string | null;
  // deno-lint-ignore no-explicit-any
  body: any;
}

// A real server process on the test database with short bounds, and a client that keeps headers.
async function startServer() {
  const server = await startClusterServer(database!.url, { SESSION_LIFECYCLE_DATABASE_KEY: key }, [
    "--lock-timeout",
    "500",
    "--statement-timeout",
    "3000",
    "--acquire-timeout",
    "8000",
  ]);
  const call = async (what: string, method: string, path: string, body?: unknown): Promise<HttpAnswer> => {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${server.token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return {
      what,
      status: response.status,
      retryAfter: response.headers.get("retry-after"),
      body: text === "" ? null : JSON.parse(text),
    };
  };
  return { server, call, [Symbol.asyncDispose]: server.stop };
}

// Adds the repository at `path` through the server, then `count` sessions of it; their ids.
async function repositoryWithSessions(
  call: (what: string, method: string, path: string, body?: unknown) => Promise<HttpAnswer>,
  path: string,
  count: number,
): Promise<{ repositoryId: string; sessions: string[] }> {
  const repository = await call("repository", "POST", "/v1/repositories", { path, name: "app" });
  assert.equal(repository.status, 201, JSON.stringify(repository.body));
  const repositoryId = repository.body.id;
  const sessions: string[] = [];
  for (let i = 0; i < count; i++) {
    const made = await call("session", "POST", "/v1/sessions", { repositoryId, title: `s${i}`, isWorktree: false });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    sessions.push(made.body.id);
  }
  return { repositoryId, sessions };
}

function assertUnavailable(answer: HttpAnswer): void {
  assert.equal(answer.status, 503, JSON.stringify(answer));
  assert.equal(answer.retryAfter, "1", answer.what);
  assert.equal(answer.body.error.kind, "Storage", answer.what);
}

test("waits: while another client holds LOCK TABLE sessions, a server answers every request before it lets go", {
  skip,
  timeout: 120_000,
}, async () => {
  const db = database!;
  using folders = disposable(
    [tempDir("slo-waits-a-"), tempDir("slo-waits-b-"), tempDir("slo-waits-c-")],
    (folders) => folders.forEach((folder) => folder.remove()),
  );
  await using started = await startServer();
  const { call } = started;
  const { repositoryId, sessions } = await repositoryWithSessions(call, folders[0].path, 5);

  let answers: PromiseSettledResult<HttpAnswer>[] | null;
  {
    await using lock = await holdLock(
      db,
      "LOCK TABLE public.sessions IN ACCESS EXCLUSIVE MODE",
      sessionsLocked("public"),
    );
    const blocked = [
      ...Array.from(
        { length: 12 },
        (_, i) =>
          call(`create ${i}`, "POST", "/v1/sessions", { repositoryId, title: `blocked ${i}`, isWorktree: false }),
      ),
      ...sessions.map((id) => call(`delete ${id}`, "DELETE", `/v1/sessions/${id}`)),
      ...sessions.map((id) => call(`get ${id}`, "GET", `/v1/sessions/${id}`)),
      ...Array.from({ length: 5 }, (_, i) => call(`list ${i}`, "GET", `/v1/sessions?repositoryId=${repositoryId}`)),
    ];
    const free = [
      ...Array.from({ length: 10 }, (_, i) => call(`read ${i}`, "GET", `/v1/repositories/${repositoryId}`)),
      ...Array.from({ length: 5 }, (_, i) => call(`repositories ${i}`, "GET", "/v1/repositories")),
      ...folders.slice(1).map((folder) =>
        call(`add ${folder.path}`, "POST", "/v1/repositories", { path: folder.path, name: "other" })
      ),
    ];
    answers = await settledWithin([...blocked, ...free], HOLD_BOUND_MS);
    assert.ok(answers !== null, "every request was answered while the table was locked");
    assert.ok(await lock.held(), "the lock was held all along");
    const all = answers.map((result) => {
      assert.equal(result.status, "fulfilled", JSON.stringify(result));
      return (result as PromiseFulfilledResult<HttpAnswer>).value;
    });
    for (const answer of all.slice(0, blocked.length)) assertUnavailable(answer);
    for (const answer of all.slice(blocked.length)) {
      assert.equal(answer.status, answer.what.startsWith("add") ? 201 : 200, JSON.stringify(answer));
    }
  }

  // Nothing the refused requests would have changed was changed, and the same server works again.
  const listed = await call("list", "GET", `/v1/sessions?repositoryId=${repositoryId}`);
  assert.equal(listed.status, 200, JSON.stringify(listed.body));
  assert.deepEqual(listed.body.sessions.map((s: { id: string }) => s.id).sort(), [...sessions].sort());
  const made = await call("after", "POST", "/v1/sessions", { repositoryId, title: "after", isWorktree: false });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  assert.equal((await call("delete", "DELETE", `/v1/sessions/${sessions[0]}`)).status, 200);
});

// Logged writes no longer wait on the counter row (only the numbering of committed events takes it),
// so the lock every one of them still needs is the event table's, which an insert takes.
test(
  "waits: while another client keeps inserts into the event log waiting, writes are answered 503 and reads 200 before it lets go",
  {
    skip,
    timeout: 120_000,
  },
  async () => {
    const db = database!;
    using folders = disposable(
      [tempDir("slo-waits-a-"), tempDir("slo-waits-b-")],
      (folders) => folders.forEach((folder) => folder.remove()),
    );
    await using started = await startServer();
    const { call } = started;
    const { repositoryId, sessions } = await repositoryWithSessions(call, folders[0].path, 4);
    // Numbered now, so that the log's end moves only with a new event (the server numbers in the background).
    const [{ last_id: lastId }] = await db.admin.unsafe(
      "SELECT through_id::text AS last_id FROM public.number_lifecycle_events('slo_events_public')",
    );
    const [{ count: eventCount }] = await db.admin.unsafe(
      "SELECT count(*)::int AS count FROM public.lifecycle_events",
    );

    {
      await using lock = await holdLock(db, "LOCK TABLE public.lifecycle_events IN SHARE MODE", eventsLocked("public"));
      const writes = [
        ...Array.from(
          { length: 8 },
          (_, i) =>
            call(`create ${i}`, "POST", "/v1/sessions", { repositoryId, title: `blocked ${i}`, isWorktree: false }),
        ),
        ...sessions.slice(0, 2).map((id) => call(`delete ${id}`, "DELETE", `/v1/sessions/${id}`)),
        ...sessions.slice(2).map((id) => call(`patch ${id}`, "PATCH", `/v1/sessions/${id}`, { title: "renamed" })),
        call("add", "POST", "/v1/repositories", { path: folders[1].path, name: "other" }),
      ];
      const reads = [
        ...sessions.map((id) => call(`get ${id}`, "GET", `/v1/sessions/${id}`)),
        ...Array.from({ length: 5 }, (_, i) => call(`list ${i}`, "GET", `/v1/sessions?repositoryId=${repositoryId}`)),
        ...Array.from({ length: 5 }, (_, i) => call(`read ${i}`, "GET", `/v1/repositories/${repositoryId}`)),
        call("repositories", "GET", "/v1/repositories"),
      ];
      const answers = await settledWithin([...writes, ...reads], HOLD_BOUND_MS);
      assert.ok(answers !== null, "every request was answered while the event table was locked");
      assert.ok(await lock.held(), "the lock was held all along");
      const all = answers.map((result) => {
        assert.equal(result.status, "fulfilled", JSON.stringify(result));
        return (result as PromiseFulfilledResult<HttpAnswer>).value;
      });
      for (const answer of all.slice(0, writes.length)) assertUnavailable(answer);
      for (const answer of all.slice(writes.length)) assert.equal(answer.status, 200, JSON.stringify(answer));
    }

    // No write went through: the log has no new event and the sessions are as they were.
    const [{ last_id: after }] = await db.admin.unsafe("SELECT last_id::text FROM public.lifecycle_event_counter");
    assert.equal(after, lastId);
    const [{ count: eventsAfter }] = await db.admin.unsafe(
      "SELECT count(*)::int AS count FROM public.lifecycle_events",
    );
    assert.equal(eventsAfter, eventCount);
    const listed = await call("list", "GET", `/v1/sessions?repositoryId=${repositoryId}`);
    assert.deepEqual(listed.body.sessions.map((s: { id: string }) => s.id).sort(), [...sessions].sort());
    assert.ok(listed.body.sessions.every((s: { title: string }) => s.title !== "renamed"));
    const made = await call("after", "POST", "/v1/sessions", { repositoryId, title: "after", isWorktree: false });
    assert.equal(made.status, 201, JSON.stringify(made.body));
  },
);
