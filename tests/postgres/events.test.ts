// The Postgres event log, in process: each change an orchestrator makes is logged with its event in
// the change's transaction, and numbered once committed, with ids that follow commit order (a slow
// transaction's event after a faster one's), gapless however many stores number at once; a follower
// on any store of the database delivers every store's changes, each once, in that order; a refused
// change logs nothing; old events are pruned; the migration from the counter-row log keeps the old
// ids; and an orchestrator over a logged store leaves the emitting to the log.
// What every store's log must do (refused changes, archive steps, readAfter) is in
// tests/postgres/event_log_conformance.test.ts (`testEventLog`).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  eventLogOf,
  generateDatabaseKey,
  type LifecycleEvent,
  LifecycleEvents,
  type LoggedEventInfo,
  MemoryStore,
  SessionOrchestrator,
  SessionSecretChain,
} from "../../mod.ts";
import postgres from "postgres";
import {
  databaseUnavailable,
  openPostgresStore,
  POSTGRES_SCHEMA_VERSION,
  type PostgresStore,
} from "../../src/postgres/mod.ts";
import { MIGRATIONS } from "../../src/postgres/schema.ts";
import { SessionError } from "../../src/errors.ts";
import { skipPostgres, testDatabase } from "../fixtures/postgres_fixture.ts";
import { asyncDisposable, repositoryInput } from "../fixtures/helpers.ts";

const database = await testDatabase();
const skip = skipPostgres;

const schemaName = () => `ev_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;

type Seen = { event: LifecycleEvent; info: LoggedEventInfo };

// A change's identity, for comparing streams: its type and the record it is about.
function key({ event }: Seen): string {
  const subject = "session" in event ? event.session.id : "repository" in event ? event.repository.id : event.sessionId;
  return `${event.type} ${subject}`;
}

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function stores(count: number, options: Parameters<typeof openPostgresStore>[1] = {}) {
  const schema = schemaName();
  const opened: PostgresStore[] = [];
  for (let i = 0; i < count; i++) {
    opened.push(await openPostgresStore(database!.url, { schema, eventLog: true, ...options }));
  }
  const close = () => Promise.all(opened.map((store) => store.close()));
  return { schema, stores: opened, close, [Symbol.asyncDispose]: async () => void await close() };
}

// A follower on each of two stores, each recording what it delivers and both their errors; both
// closed at the end of the `await using` block.
async function followBoth(a: PostgresStore, b: PostgresStore) {
  const seenA: Seen[] = [];
  const seenB: Seen[] = [];
  const errors: unknown[] = [];
  const onError = (error: unknown) => errors.push(error);
  const followA = await eventLogOf(a)!.follow((event, info) => seenA.push({ event, info }), { onError });
  const followB = await eventLogOf(b)!.follow((event, info) => seenB.push({ event, info }), { onError });
  return asyncDisposable({ seenA, seenB, errors }, () => Promise.all([followB.close(), followA.close()]));
}

test("events: every store's changes reach every follower once, in commit order, with consecutive ids", {
  skip,
}, async () => {
  await using opened = await stores(2);
  const { schema, stores: [a, b] } = opened;
  const key32 = await generateDatabaseKey();
  const orchestrators = [a, b].map((store) =>
    new SessionOrchestrator({ store, chain: new SessionSecretChain({ store, databaseKey: key32 }) })
  );
  // An orchestrator over a logged store emits nothing itself: the log's followers do.
  const direct: string[] = [];
  orchestrators[0].events.subscribe((event) => direct.push(event.type));
  // A follower reads after the last id it delivered: were ids not in commit order, a later id
  // committed first would make it skip the earlier one, which it reports as a gap.
  await using followed = await followBoth(a, b);
  const { seenA, seenB, errors } = followed;
  const repository = await orchestrators[0].createRepository(repositoryInput());
  // 120 sessions made at once through both stores, then each deleted through the other one,
  // with updates and secret replacements in between.
  const sessions = await Promise.all(
    Array.from(
      { length: 120 },
      (_, i) => orchestrators[i % 2].createSession({ repositoryId: repository.id, title: `s${i}`, isWorktree: false }),
    ),
  );
  const sealed = (await a.getSessionSecret(sessions[0].id))!;
  const [updated] = await Promise.all([
    orchestrators[1].updateSession(sessions[0].id, { title: "renamed" }),
    orchestrators[1].storeSessionSecret(sessions[0].id, sealed.encryptedSecret, sealed.nonce),
  ]);
  const closed = await Promise.all(
    sessions.map((session, i) => orchestrators[(i + 1) % 2].deleteSession(session.id)),
  );
  const deletedRepository = await orchestrators[1].deleteRepository(repository.id);
  const total = 1 + 120 + 2 + 120 + 1;
  await until(() => seenA.length >= total && seenB.length >= total, `${total} events on both followers`);
  await new Promise((resolve) => setTimeout(resolve, 100));
  const counts: Record<string, number> = {};
  for (const { event } of seenA) counts[event.type] = (counts[event.type] ?? 0) + 1;
  assert.equal(seenA.length, total, JSON.stringify(counts));
  assert.equal(seenB.length, total);
  assert.deepEqual(direct, []);
  assert.deepEqual(errors, []);

  // One order on both followers: the log's, whose ids are consecutive.
  assert.deepEqual(seenA.map(key), seenB.map(key));
  const ids = seenA.map(({ info }) => BigInt(info.id));
  ids.forEach((id, i) => assert.equal(id, ids[0] + BigInt(i)));
  const logged = await database!.admin.unsafe(
    `SELECT e.id::text AS id, e.event::text AS event FROM ${schema}.lifecycle_events e ORDER BY e.id`,
  );
  assert.deepEqual(logged.map((row) => row.id), seenA.map(({ info }) => info.id));
  assert.deepEqual(logged.map((row) => JSON.parse(row.event)), seenA.map(({ event }) => event));
  // Each change once; a session's creation before its deletion; `own` names the writing store.
  assert.equal(new Set(seenA.map(key)).size, total);
  const position = new Map(seenA.map((seen, i) => [key(seen), i]));
  for (const session of sessions) {
    assert.ok(position.get(`session.created ${session.id}`)! < position.get(`session.deleted ${session.id}`)!);
  }
  for (const [i, session] of sessions.entries()) {
    const created = seenA.find((seen) => key(seen) === `session.created ${session.id}`)!;
    assert.equal(created.info.own, i % 2 === 0);
    assert.deepEqual((created.event as { session: unknown }).session, session);
  }
  // Each event, built by Postgres from the changed row, is the one the orchestrator would emit: the
  // record the call returned, to the order of its keys.
  const json = (type: string, id: string) => JSON.stringify(seenA.find((seen) => key(seen) === `${type} ${id}`)!.event);
  assert.equal(
    json("repository.created", repository.id),
    JSON.stringify({ type: "repository.created", repository }),
  );
  assert.equal(
    json("session.created", sessions[1].id),
    JSON.stringify({ type: "session.created", session: sessions[1] }),
  );
  assert.equal(json("session.updated", updated!.id), JSON.stringify({ type: "session.updated", session: updated }));
  assert.equal(
    json("session.deleted", sessions[2].id),
    JSON.stringify({ type: "session.deleted", session: closed[2]!.session }),
  );
  assert.equal(
    json("session.secret.stored", sessions[0].id),
    JSON.stringify({ type: "session.secret.stored", sessionId: sessions[0].id }),
  );
  assert.equal(
    json("repository.deleted", repository.id),
    JSON.stringify({ type: "repository.deleted", repository: deletedRepository }),
  );
  assert.equal(seenA[0].event.type, "repository.created");
  assert.equal(seenA.at(-1)!.event.type, "repository.deleted");
});

test("events: old events are pruned, beyond the newest kept and older than the age kept", { skip }, async () => {
  {
    await using opened = await stores(1, { eventLog: { keepEvents: 5, keepSeconds: 0 } });
    const { schema, stores: [store] } = opened;
    const count = async () =>
      (await database!.admin.unsafe(`SELECT count(*)::int AS count FROM ${schema}.lifecycle_events`))[0].count;
    const orchestrator = new SessionOrchestrator({ store });
    for (let i = 0; i < 30; i++) await orchestrator.createRepository(repositoryInput());
    // Pruned as they are written (every event, at this size), in the background.
    const deadline = Date.now() + 40_000; // a bound of the wait, not a time it must take
    while ((await count()) > 6 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok((await count()) <= 6, `${await count()} events left`);
    await store.pruneEvents();
    assert.equal(await count(), 5);
    const ids = await database!.admin.unsafe(`SELECT id::int AS id FROM ${schema}.lifecycle_events ORDER BY id`);
    assert.deepEqual(ids.map((row) => row.id), [26, 27, 28, 29, 30]);
    // Read back: only what is kept, and where the log ends.
    const page = await eventLogOf(store)!.readAfter("3", 100);
    assert.deepEqual(page.events.map(({ id }) => id), ["26", "27", "28", "29", "30"]);
    assert.equal(page.lastId, "30");
  }
  // Kept while younger than keepSeconds, whatever the count.
  await using young = await stores(1, { eventLog: { keepEvents: 0, keepSeconds: 3600 } });
  for (let i = 0; i < 3; i++) {
    await new SessionOrchestrator({ store: young.stores[0] }).createRepository(repositoryInput());
  }
  assert.equal(await young.stores[0].pruneEvents(), 0);
});

test(
  "events: without eventLog a Postgres store logs nothing and an orchestrator emits as usual",
  { skip },
  async () => {
    const schema = schemaName();
    await using store = asyncDisposable(await openPostgresStore(database!.url, { schema }), (store) => store.close());
    assert.equal(store.eventLog, null);
    assert.equal(eventLogOf(store), null);
    assert.equal(eventLogOf(new MemoryStore()), null);
    const events = new LifecycleEvents();
    const seen: string[] = [];
    events.subscribe((event) => seen.push(event.type));
    await new SessionOrchestrator({ store, events }).createRepository(repositoryInput());
    assert.deepEqual(seen, ["repository.created"]);
    const [{ count }] = await database!.admin.unsafe(`SELECT count(*)::int AS count FROM ${schema}.lifecycle_events`);
    assert.equal(count, 0);
    assert.equal(await store.pruneEvents(), 0);
  },
);

test("events: an unreachable database is told apart from a refused operation", () => {
  const cause = (code: string, name = "Error") => Object.assign(new Error(code), { code, name });
  for (const code of ["CONNECTION_CLOSED", "ECONNREFUSED", "CONNECT_TIMEOUT", "ECONNRESET"]) {
    assert.equal(databaseUnavailable(new SessionError("Storage", "x", { cause: cause(code) })), true, code);
  }
  // Gone or going away; or busy past the store's bounds: a lock or statement timeout, a deadlock or
  // serialization failure (each undid its statement: trying again is safe).
  for (const code of ["57P01", "57P03", "08006", "53300", "55P03", "57014", "40001", "40P01"]) {
    assert.equal(databaseUnavailable(cause(code, "PostgresError")), true, code);
  }
  for (const code of ["23505", "23503", "42P01", "22007"]) {
    assert.equal(databaseUnavailable(cause(code, "PostgresError")), false, code);
  }
  assert.equal(databaseUnavailable(new SessionError("Storage", "disk full")), false);
  // The store's own mark (the connection gate's, when no connection was free in time).
  assert.equal(databaseUnavailable(new SessionError("Storage", "busy", { retryAfterSeconds: 1 })), true);
  assert.equal(databaseUnavailable(null), false);
});

// A transaction on a connection of its own that runs `statements` and stays open until `commit()`,
// or the end of an `await using` block.
async function openTransaction(statements: string[]): Promise<{ commit(): Promise<void> } & AsyncDisposable> {
  const client = postgres(database!.url, { max: 1, onnotice: () => {}, fetch_types: false });
  let commit!: () => void;
  const committing = new Promise<void>((resolve) => (commit = resolve));
  let ran!: () => void;
  const done = new Promise<void>((resolve) => (ran = resolve));
  const transaction = client.begin(async (tx) => {
    for (const statement of statements) await tx.unsafe(statement);
    ran();
    await committing;
  });
  await Promise.race([done, transaction]);
  const end = async () => {
    commit();
    await transaction;
    await client.end({ timeout: 1 });
  };
  return { commit: end, [Symbol.asyncDispose]: end };
}

test("events: a slow transaction's event, committed after a faster one's, reaches two followers in one order, no gap", {
  skip,
}, async () => {
  await using opened = await stores(2, { eventLog: { pollIntervalMs: 50 } });
  const { schema, stores: [a, b] } = opened;
  await using followed = await followBoth(a, b);
  const { seenA, seenB, errors } = followed;
  const first = await new SessionOrchestrator({ store: a }).createRepository(repositoryInput());
  await until(() => seenA.length === 1 && seenB.length === 1, "the first event on both followers");
  // The slow writer logs its event as a store's statement does, then stays uncommitted while a
  // faster write after it commits, is numbered and delivered.
  const slowEvent = { type: "session.secret.stored", sessionId: crypto.randomUUID() };
  let fast: Awaited<ReturnType<SessionOrchestrator["createRepository"]>>;
  {
    await using _slow = await openTransaction([
      `INSERT INTO ${schema}.lifecycle_events (origin, event) VALUES ('slow', '${JSON.stringify(slowEvent)}')`,
    ]);
    fast = await new SessionOrchestrator({ store: b }).createRepository(repositoryInput());
    await until(() => seenA.length === 2 && seenB.length === 2, "the fast event on both followers");
    // Reads (which number first) end at the fast event: the slow one has no id yet, and none is
    // kept for it.
    for (const store of [a, b]) {
      const page = await eventLogOf(store)!.readAfter("0", 10);
      assert.equal(page.lastId, "2");
      assert.deepEqual(page.events.map(({ id }) => id), ["1", "2"]);
    }
  }
  await until(() => seenA.length === 3 && seenB.length === 3, "the slow event on both followers");
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(errors, []);
  assert.deepEqual(seenA.map(({ event }) => event), [
    { type: "repository.created", repository: first },
    { type: "repository.created", repository: fast! },
    slowEvent,
  ]);
  assert.deepEqual(seenB.map(({ event }) => event), seenA.map(({ event }) => event));
  assert.deepEqual(seenA.map(({ info }) => info.id), ["1", "2", "3"]);
  assert.deepEqual(seenB.map(({ info }) => info.id), ["1", "2", "3"]);
  // The slow event was written before the fast one (a lower seq) and numbered after it.
  const rows = await database!.admin.unsafe(
    `SELECT id::int AS id, origin FROM ${schema}.lifecycle_events ORDER BY seq`,
  );
  assert.deepEqual(rows.map((row) => [row.id, row.origin === "slow"]), [[1, false], [3, true], [2, false]]);
});

test("events: stores numbering at once give every committed event one id, with no gap and no repeat", {
  skip,
}, async () => {
  await using opened = await stores(2);
  const { schema, stores: [a, b] } = opened;
  const orchestrators = [a, b].map((store) => new SessionOrchestrator({ store }));
  // Writes through both stores, each numbering in the background, with reads of both numbering too.
  const writes = Array.from({ length: 120 }, (_, i) => orchestrators[i % 2].createRepository(repositoryInput()));
  const reads = Array.from({ length: 20 }, (_, i) => eventLogOf([a, b][i % 2])!.readAfter("0", 1));
  await Promise.all([...writes, ...reads]);
  // And a backlog committed without ids (a writer that went away before numbering), numbered by
  // many reads of both stores at once.
  await database!.admin.unsafe(
    `INSERT INTO ${schema}.lifecycle_events (origin, event)
      SELECT 'gone', json_build_object('type', 'session.secret.stored', 'sessionId', gen_random_uuid())
      FROM generate_series(1, 200)`,
  );
  const ends = await Promise.all(
    Array.from({ length: 16 }, (_, i) => eventLogOf([a, b][i % 2])!.readAfter("0", 0)),
  );
  for (const end of ends) assert.equal(end.lastId, "320");
  const [summary] = await database!.admin.unsafe(
    `SELECT count(*)::int AS count, count(id)::int AS numbered, count(DISTINCT id)::int AS distinct_ids,
      min(id)::int AS first, max(id)::int AS last FROM ${schema}.lifecycle_events`,
  );
  assert.deepEqual({ ...summary }, { count: 320, numbered: 320, distinct_ids: 320, first: 1, last: 320 });
  const [{ last_id }] = await database!.admin.unsafe(
    `SELECT last_id::int AS last_id FROM ${schema}.lifecycle_event_counter`,
  );
  assert.equal(last_id, 320);
  // The backlog was numbered in the order it was written.
  const gone = await database!.admin.unsafe(
    `SELECT id::int AS id FROM ${schema}.lifecycle_events WHERE origin = 'gone' ORDER BY seq`,
  );
  gone.forEach((row, i) => assert.equal(row.id, 121 + i));
  assert.equal((await eventLogOf(b)!.readAfter("0", 500)).events.length, 320);
});

test("events: the migration from the counter-row log keeps the old events' ids, and new events follow them", {
  skip,
}, async () => {
  const schema = schemaName();
  // The version before the migration that numbers events after commit (later ones come after it).
  const previous = MIGRATIONS.findIndex((migration) => migration.includes("FUNCTION number_lifecycle_events"));
  assert.ok(previous > 0);
  // A schema as the previous version left it, with events 5 to 7 kept (1 to 4 pruned).
  await database!.admin.begin(async (tx) => {
    await tx.unsafe(`CREATE SCHEMA ${schema}`);
    await tx.unsafe(`SET LOCAL search_path = ${schema}`);
    for (const migration of MIGRATIONS.slice(0, previous)) await tx.unsafe(migration);
    await tx.unsafe(`CREATE TABLE schema_migrations (version integer NOT NULL PRIMARY KEY,
      applied_at timestamptz NOT NULL DEFAULT now())`);
    await tx.unsafe(`INSERT INTO schema_migrations (version) SELECT generate_series(1, ${previous})`);
    await tx.unsafe(`INSERT INTO lifecycle_events (id, origin, event)
      SELECT n, 'old', json_build_object('type', 'session.secret.stored', 'sessionId', 'old ' || n)
      FROM generate_series(5, 7) AS n`);
    await tx.unsafe("UPDATE lifecycle_event_counter SET last_id = 7");
  });
  await using store = asyncDisposable(
    await openPostgresStore(database!.url, { schema, eventLog: true }),
    (store) => store.close(),
  );
  const [{ version }] = await database!.admin.unsafe(
    `SELECT max(version)::int AS version FROM ${schema}.schema_migrations`,
  );
  assert.equal(version, POSTGRES_SCHEMA_VERSION);
  const log = eventLogOf(store)!;
  const old = await log.readAfter("0", 10);
  assert.equal(old.lastId, "7");
  assert.deepEqual(
    old.events.map(({ id, event }) => [id, event]),
    [5, 6, 7].map((n) => [String(n), { type: "session.secret.stored", sessionId: `old ${n}` }]),
  );
  // A replay from an old id, and a follower from the end, go on with the next ids.
  const seen: Seen[] = [];
  await using _follower = asyncDisposable(
    await log.follow((event, info) => seen.push({ event, info })),
    (follower) => follower.close(),
  );
  const repository = await new SessionOrchestrator({ store }).createRepository(repositoryInput());
  await until(() => seen.length === 1, "the new event");
  assert.deepEqual(seen.map(({ event, info }) => [info.id, event]), [
    ["8", { type: "repository.created", repository }],
  ]);
  assert.deepEqual((await log.readAfter("6", 10)).events.map(({ id }) => id), ["7", "8"]);
});

test(
  "events: while another client holds the counter row, logged writes still commit; their events are numbered after",
  {
    skip,
  },
  async () => {
    await using opened = await stores(1, { lockTimeoutMs: 200 });
    const { schema, stores: [store] } = opened;
    const orchestrator = new SessionOrchestrator({ store });
    const log = eventLogOf(store)!;
    await orchestrator.createRepository(repositoryInput());
    assert.equal((await log.readAfter("0", 0)).lastId, "1");
    let made: Awaited<ReturnType<SessionOrchestrator["createRepository"]>>[];
    {
      await using _counter = await openTransaction([
        `SELECT last_id FROM ${schema}.lifecycle_event_counter WHERE id FOR UPDATE`,
      ]);
      // Writes take no lock of the log's but their own rows': none waits for the counter row.
      made = await Promise.all(Array.from({ length: 10 }, () => orchestrator.createRepository(repositoryInput())));
      // Numbering does wait for it, and gives up after the lock timeout (the read fails, retryable).
      await assert.rejects(log.readAfter("0", 10), (error: unknown) => databaseUnavailable(error));
    }
    const page = await log.readAfter("1", 20);
    assert.equal(page.lastId, "11");
    assert.deepEqual(page.events.map(({ id }) => id), ["2", "3", "4", "5", "6", "7", "8", "9", "10", "11"]);
    assert.deepEqual(
      page.events.map(({ event }) => (event as { repository: { id: string } }).repository.id).sort(),
      made!.map((repository) => repository.id).sort(),
    );
  },
);
