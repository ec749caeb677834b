// Issue 18, events that resume: every change has a durable, increasing id; `GET /v1/events` replays
// what a client missed from `Last-Event-ID` (or `?lastEventId=`), then goes on live with no gap and no
// duplicate; an id older than what is kept is told by a `gap` event; a bad or future id is 400. The
// same over a MemoryStore app, the server on SQLite (across a restart too) and the server on Postgres.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  encodeBase64,
  generateDatabaseKey,
  generateDatabaseKeyBytes,
  LifecycleEvents,
  MemoryStore,
  SessionOrchestrator,
  SessionSecretChain,
  type SessionStore,
} from "../../mod.ts";
import { createApp } from "../../src/http/mod.ts";
import { openSqliteStore } from "../../src/platform/mod.ts";
import { deferred, disposable } from "../fixtures/helpers.ts";
import { repositoryInput, tempDir } from "../fixtures/helpers.ts";
import { type SseEvent, sseReader, startTestServer } from "../fixtures/http_fixture.ts";
import { skipPostgres, testDatabase } from "../fixtures/postgres_fixture.ts";

const database = await testDatabase();

/** What a scenario needs of a server: an authenticated call, and a way to stop it. */
interface Api extends AsyncDisposable {
  call(path: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
  close(): Promise<void>;
}

// deno-lint-ignore no-explicit-any
async function json(api: Api, path: string, init?: RequestInit & { json?: unknown }): Promise<any> {
  const response = await api.call(path, init);
  const body = await response.json();
  assert.ok(response.status < 300, `${init?.method ?? "GET"} ${path}: ${response.status} ${JSON.stringify(body)}`);
  return body;
}

// A bound on each wait for an event, so a missing one fails the test instead of hanging it.
async function within<T>(promise: Promise<T>, what: string, ms = 20_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  using _timer = deferred(() => clearTimeout(timer));
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
  });
  return await Promise.race([promise, timeout]);
}

/** An open event stream, past its `ready` event. */
interface Stream {
  ready: SseEvent;
  next(): Promise<SseEvent>;
  close(): Promise<void>;
}

async function open(api: Api, lastEventId?: string, via: "header" | "query" = "header"): Promise<Stream> {
  const headers: Record<string, string> = lastEventId !== undefined && via === "header"
    ? { "last-event-id": lastEventId }
    : {};
  const query = lastEventId !== undefined && via === "query" ? `?lastEventId=${lastEventId}` : "";
  const response = await api.call(`/v1/events${query}`, { headers });
  if (response.status !== 200) assert.fail(`GET /v1/events: ${response.status} ${await response.text()}`);
  const reader = sseReader(response);
  const ready = await within(reader.next(), "ready event");
  assert.equal(ready?.event, "ready");
  return {
    ready: ready!,
    next: async () => {
      const event = await within(reader.next(), "event");
      assert.ok(event !== null, "the stream ended");
      return event;
    },
    close: () => reader.close(),
  };
}

const typesAndIds = (events: SseEvent[]) => events.map((event) => `${event.id} ${event.event}`);

// The scenario of the issue: a client disconnects, changes are made, it reconnects with the id of the
// last event it got, and receives exactly the ones it missed, then the live ones, none twice.
async function disconnectChangeReconnect(api: Api): Promise<void> {
  const first = await open(api);
  const repository = await json(api, "/v1/repositories", { method: "POST", json: repositoryInput("resume") });
  const created = await first.next();
  assert.equal(created.event, "repository.created");
  const seen = BigInt(created.id!);
  assert.ok(seen > BigInt(first.ready.id!), `${created.id} after ready's ${first.ready.id}`);
  await first.close();

  // Missed while disconnected.
  const session = await json(api, "/v1/sessions", {
    method: "POST",
    json: { repositoryId: repository.id, title: "missed", isWorktree: false },
  });
  const updated = await json(api, `/v1/sessions/${session.id}`, { method: "PATCH", json: { status: "paused" } });
  const deleted = await json(api, `/v1/sessions/${session.id}`, { method: "DELETE" });

  for (const via of ["header", "query"] as const) {
    const again = await open(api, created.id!, via);
    // Ready names the position the stream resumes from.
    assert.equal(again.ready.id, created.id, via);
    assert.deepEqual(JSON.parse(again.ready.data), { lastEventId: created.id });
    const missed = [await again.next(), await again.next(), await again.next()];
    assert.deepEqual(typesAndIds(missed), [
      `${seen + 1n} session.created`,
      `${seen + 2n} session.updated`,
      `${seen + 3n} session.deleted`,
    ], via);
    // The very JSON the orchestrator announces.
    assert.equal(missed[0].data, JSON.stringify({ type: "session.created", session }));
    assert.equal(missed[1].data, JSON.stringify({ type: "session.updated", session: updated }));
    const {
      worktreeRemoved: _r,
      branchDeleted: _b,
      branchKeptReason: _k,
      worktreeKeptReason: _w,
      snapshotRef: _s,
      ...row
    } = deleted;
    assert.equal(missed[2].data, JSON.stringify({ type: "session.deleted", session: row }));
    await again.close();
  }

  // After the replay, the stream goes on live: the next event is the next change, nothing repeated.
  const live = await open(api, created.id!);
  for (let i = 1n; i <= 3n; i++) assert.equal((await live.next()).id, String(seen + i));
  await json(api, `/v1/repositories/${repository.id}`, { method: "DELETE" });
  assert.deepEqual(typesAndIds([await live.next()]), [`${seen + 4n} repository.deleted`]);
  await live.close();

  // Nothing missed: resuming from the newest id replays nothing; the next event is live.
  const current = await open(api, String(seen + 4n));
  await json(api, "/v1/repositories", { method: "POST", json: repositoryInput("next") });
  assert.deepEqual(typesAndIds([await current.next()]), [`${seen + 5n} repository.created`]);
  await current.close();
}

// A client that reconnects before it got any event resumes from `ready`'s id, and misses nothing.
async function resumeFromReady(api: Api): Promise<void> {
  const first = await open(api);
  await first.close();
  await json(api, "/v1/repositories", { method: "POST", json: repositoryInput("after-ready") });
  const again = await open(api, first.ready.id!);
  const event = await again.next();
  assert.equal(event.event, "repository.created");
  assert.equal(event.id, String(BigInt(first.ready.id!) + 1n));
  await again.close();
}

// Bad ids are refused before the stream starts.
async function refusals(api: Api): Promise<void> {
  const probe = await open(api);
  const newest = probe.ready.id!;
  await probe.close();
  const future = String(BigInt(newest) + 1n);
  for (
    const [init, query] of [
      [{ headers: { "last-event-id": "abc" } }, ""],
      [{ headers: { "last-event-id": "-1" } }, ""],
      [{ headers: { "last-event-id": "1.5" } }, ""],
      [{ headers: { "last-event-id": "99999999999999999999" } }, ""],
      [{ headers: { "last-event-id": future } }, ""],
      [{}, "?lastEventId=x"],
      [{}, `?lastEventId=${future}`],
    ] as const
  ) {
    const response = await api.call(`/v1/events${query}`, init);
    const body = await response.json();
    assert.equal(response.status, 400, `${JSON.stringify(init)} ${query}`);
    assert.equal(body.error.kind, "InvalidInput");
    assert.match(body.error.message, /last event id/);
  }
  // The header an EventSource sends wins over the query.
  const response = await api.call("/v1/events?lastEventId=x", { headers: { "last-event-id": newest } });
  assert.equal(response.status, 200);
  await response.body?.cancel();
}

// An app over `store` wired as the server wires it: over an event log, the log followed into the events.
async function appOver(store: SessionStore & { eventLog?: unknown }, events: LifecycleEvents): Promise<Api> {
  const chain = new SessionSecretChain({ store, databaseKey: await generateDatabaseKey() });
  const orchestrator = new SessionOrchestrator({ store, chain, events });
  const log = (store as { eventLog?: import("../../mod.ts").EventLog | null }).eventLog ?? null;
  const follower = log === null ? null : await log.follow((event, { id }) => events.emit(event, id));
  const app = createApp({ orchestrator, token: "a-long-random-token-here" });
  const close = async () => {
    await follower?.close();
  };
  return {
    call(path, init = {}) {
      const { json, ...rest } = init;
      const headers = new Headers(rest.headers);
      headers.set("authorization", "Bearer a-long-random-token-here");
      headers.set("host", "127.0.0.1:7717");
      if (json !== undefined) headers.set("content-type", "application/json");
      return Promise.resolve(
        app.request(path, { ...rest, headers, body: json === undefined ? rest.body : JSON.stringify(json) }),
      );
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

for (
  const [name, make] of [
    ["MemoryStore, in-process app", () => appOver(new MemoryStore(), new LifecycleEvents())],
    ["the server on SQLite", () => startTestServer()],
  ] as const
) {
  test(`events resume, ${name}: a client that reconnects with Last-Event-ID gets exactly what it missed`, async () => {
    await using api = await make();
    await disconnectChangeReconnect(api);
    await resumeFromReady(api);
    await refusals(api);
  });
}

test("events resume, the server on SQLite: ids survive a restart, and a client resumes across it", async () => {
  using dir = tempDir("slo-events-restart-");
  let seen: string;
  {
    await using first = await startTestServer({ dataDir: dir.path });
    const stream = await open(first);
    await json(first, "/v1/repositories", { method: "POST", json: repositoryInput("before") });
    seen = (await stream.next()).id!;
    await stream.close();
    await json(first, "/v1/repositories", { method: "POST", json: repositoryInput("missed") });
  }
  await using second = await startTestServer({ dataDir: dir.path });
  await json(second, "/v1/repositories", { method: "POST", json: repositoryInput("after") });
  const resumed = await open(second, seen);
  const replayed = [await resumed.next(), await resumed.next()];
  // The ids go on from where the first server left them, and the one it made is replayed.
  assert.deepEqual(typesAndIds(replayed), [
    `${BigInt(seen) + 1n} repository.created`,
    `${BigInt(seen) + 2n} repository.created`,
  ]);
  assert.deepEqual(replayed.map((event) => JSON.parse(event.data).repository.name), ["missed", "after"]);
  await resumed.close();
});

test("events resume, the server on SQLite: replay and live meet with no gap and no duplicate under concurrent writes", async () => {
  await using t = await startTestServer();
  const repository = await json(t, "/v1/repositories", { method: "POST", json: repositoryInput("busy") });
  const position = await open(t);
  const from = position.ready.id!;
  await position.close();
  const create = (i: number) =>
    json(t, "/v1/sessions", {
      method: "POST",
      json: { repositoryId: repository.id, title: `s${i}`, isWorktree: false },
    });
  // Half committed before the stream opens, half while it opens and replays.
  await Promise.all(Array.from({ length: 20 }, (_, i) => create(i)));
  const writes = Promise.all(Array.from({ length: 20 }, (_, i) => create(20 + i)));
  const stream = await open(t, from);
  await writes;
  const ids: string[] = [];
  for (let i = 0; i < 40; i++) ids.push((await stream.next()).id!);
  assert.deepEqual(ids, Array.from({ length: 40 }, (_, i) => String(BigInt(from) + 1n + BigInt(i))));
  // And nothing after them: the next event is the next change.
  await json(t, `/v1/repositories`, { method: "POST", json: repositoryInput("last") });
  assert.equal((await stream.next()).id, String(BigInt(from) + 41n));
  await stream.close();
});

// Events beyond what is kept: a `gap` event says which ids were missed, then the stream goes on.
async function gapScenario(api: Api): Promise<void> {
  const position = await open(api);
  const base = BigInt(position.ready.id!);
  await position.close();
  for (let i = 0; i < 5; i++) await json(api, "/v1/repositories", { method: "POST", json: repositoryInput(`g${i}`) });
  // Two kept: base + 4 and base + 5.
  for (const after of [base + 1n, base]) {
    const stream = await open(api, String(after));
    const gap = await stream.next();
    assert.equal(gap.event, "gap");
    assert.equal(gap.id, String(base + 3n));
    const data = JSON.parse(gap.data);
    assert.equal(data.after, String(after));
    assert.equal(data.through, String(base + 3n));
    assert.match(data.message, /no longer kept/);
    assert.deepEqual(typesAndIds([await stream.next(), await stream.next()]), [
      `${base + 4n} repository.created`,
      `${base + 5n} repository.created`,
    ]);
    await stream.close();
  }
  // Resuming from the gap's id misses nothing more.
  const resumed = await open(api, String(base + 3n));
  assert.equal((await resumed.next()).id, String(base + 4n));
  await resumed.close();
}

test("events resume, MemoryStore: an id older than the kept history is answered with a gap event", async () => {
  await using api = await appOver(new MemoryStore(), new LifecycleEvents({ keep: 2 }));
  await gapScenario(api);
});

test("events resume, SQLite event log: an id older than the retained log is answered with a gap event", async () => {
  using dir = tempDir("slo-events-gap-");
  using store = disposable(
    openSqliteStore(join(dir.path, "sessions.db"), { eventLog: { keepEvents: 2, keepSeconds: 0 } }),
    (store) => store.close(),
  );
  await using api = await appOver(store, new LifecycleEvents({ keep: 0 }));
  await gapScenario(api);
});

test("events resume, the server on Postgres: two servers on one database give the same ids; either resumes", {
  skip: skipPostgres,
}, async () => {
  const env = { SESSION_LIFECYCLE_DATABASE_KEY: encodeBase64(generateDatabaseKeyBytes()) };
  await using a = await startTestServer({ database: database!.url, env });
  await using b = await startTestServer({ database: database!.url, env });
  await disconnectChangeReconnect(a);
  await refusals(a);
  // A client of one server resumes on the other: the ids are the database's.
  const stream = await open(a);
  await json(a, "/v1/repositories", { method: "POST", json: repositoryInput("on-a") });
  const seen = (await stream.next()).id!;
  await stream.close();
  await json(a, "/v1/repositories", { method: "POST", json: repositoryInput("missed-on-a") });
  const elsewhere = await open(b, seen);
  const missed = await elsewhere.next();
  assert.equal(missed.id, String(BigInt(seen) + 1n));
  assert.equal(JSON.parse(missed.data).repository.name, "missed-on-a");
  await elsewhere.close();
});
