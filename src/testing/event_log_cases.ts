/**
 * The conformance cases of a store's {@linkcode EventLog}: what every store opened with an event
 * log (SQLite's and Postgres's here, anyone's elsewhere) must do, whatever keeps the events.
 * Internal to `./testing`; a store author calls {@linkcode testEventLog} from `./mod.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { eventLogOf, type LifecycleEvent, type LoggedEventInfo } from "../events.ts";
import type { EventLog, EventLogFollower } from "../events.ts";
import { SessionOrchestrator } from "../orchestrator.ts";
import type { SessionStore } from "../store/store.ts";
import { repositoryInput, sessionInput, type StoreCase } from "./support.ts";

// The store's log; a store handed to these cases without one fails them at once.
function logOf(store: SessionStore): EventLog {
  const log = eventLogOf(store);
  assert.ok(log, "the store under test has no event log (its `eventLog` is not an EventLog)");
  return log;
}

// Resolves once `done()` holds, polling briefly; fails after `ms` (generous: a cross-process log polls).
async function until(done: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) assert.fail(`waited ${ms} ms for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const next = (id: string) => String(BigInt(id) + 1n);

/** Every case of an event log, run by {@linkcode testEventLog}. */
export const EVENT_LOG_CASES: StoreCase[] = [
  {
    name: "an archive's and a restore's row step is logged as its own event, with the changed row",
    async run(store) {
      const log = logOf(store);
      const repository = await store.createRepository(repositoryInput());
      const session = await store.createSession(sessionInput(repository.id, { title: "t" }));
      const start = (await log.readAfter("0", 0)).lastId;
      const archived = await store.updateSession(session.id, { status: "archived" }, {
        logEvent: true,
        logAs: "session.archived",
      });
      const restored = await store.updateSession(session.id, { status: "active" }, {
        logEvent: true,
        logAs: "session.restored",
      });
      const updated = await store.updateSession(session.id, { title: "u" }, { logEvent: true });
      const logged = (await log.readAfter(start, 10)).events.map(({ event }) => event);
      assert.deepEqual(logged, [
        { type: "session.archived", session: archived },
        { type: "session.restored", session: restored },
        { type: "session.updated", session: updated },
      ]);
    },
  },
  {
    name: "the log reads back the events after an id, one above the other, and where it ends",
    async run(store) {
      const log = logOf(store);
      const orchestrator = new SessionOrchestrator({ store });
      const start = (await log.readAfter("0", 0)).lastId;
      assert.deepEqual(await log.readAfter(start, 10), { events: [], lastId: start });
      const repositories = [];
      for (let i = 0; i < 3; i++) repositories.push(await orchestrator.createRepository(repositoryInput()));
      const first = next(start);
      const all = await log.readAfter(start, 10);
      assert.deepEqual(all.events.map(({ id }) => id), [first, next(first), next(next(first))]);
      assert.equal(all.lastId, next(next(first)));
      const page = await log.readAfter(first, 10);
      assert.deepEqual(page.events.map(({ id }) => id), [next(first), next(next(first))]);
      // As JSON, which is what a log keeps: the same fields and values, in any order.
      assert.deepEqual(
        JSON.parse(JSON.stringify(page.events[1].event)),
        JSON.parse(JSON.stringify({ type: "repository.created", repository: repositories[2] })),
      );
      assert.deepEqual((await log.readAfter(first, 1)).events.map(({ id }) => id), [next(first)]);
      assert.deepEqual(await log.readAfter(all.lastId, 0), { events: [], lastId: all.lastId });
    },
  },
  {
    name: "a refused or empty change logs nothing and leaves no gap; a closed follower gets nothing more",
    async run(store) {
      const log = logOf(store);
      const orchestrator = new SessionOrchestrator({ store });
      const start = (await log.readAfter("0", 0)).lastId;
      const seen: { event: LifecycleEvent; info: LoggedEventInfo }[] = [];
      // Closed however the case ends, before the suite closes the store (closing twice is harmless).
      const followers: EventLogFollower[] = [];
      try {
        const follower = await log.follow((event, info) => seen.push({ event, info }));
        followers.push(follower);
        const repository = await orchestrator.createRepository(repositoryInput());
        const session = await orchestrator.createSession({
          repositoryId: repository.id,
          title: "t",
          isWorktree: false,
        });
        // Refused: a taken id, a taken path, a repository that has sessions. Empty: unknown ids.
        await assert.rejects(
          orchestrator.createSession({
            repositoryId: repository.id,
            title: "t",
            isWorktree: false,
            sessionId: session.id,
          }),
        );
        await assert.rejects(orchestrator.createRepository({ path: repository.path, name: "again" }));
        await assert.rejects(orchestrator.deleteRepository(repository.id));
        assert.equal(await orchestrator.deleteSession(crypto.randomUUID()), null);
        assert.equal(await orchestrator.updateSession(crypto.randomUUID(), { title: "x" }), null);
        await orchestrator.deleteSession(session.id);
        await until(() => seen.length >= 3, "3 events");
        await follower.close();
        // A follower still open sees the next change; the closed one must not have by then.
        const later: string[] = [];
        const witness = await log.follow((event) => later.push(event.type));
        followers.push(witness);
        await orchestrator.deleteRepository(repository.id);
        await until(() => later.length >= 1, "the witness's event");
        await witness.close();
        assert.deepEqual(seen.map(({ event }) => event.type), [
          "repository.created",
          "session.created",
          "session.deleted",
        ]);
        const ids = [next(start), next(next(start)), next(next(next(start)))];
        assert.deepEqual(seen.map(({ info }) => info.id), ids);
        assert.ok(seen.every(({ info }) => info.own), "a store's own events are marked own");
        const logged = (await log.readAfter(start, 10)).events;
        assert.deepEqual(logged.map(({ event }) => event.type), [
          "repository.created",
          "session.created",
          "session.deleted",
          "repository.deleted",
        ]);
        assert.deepEqual(logged.map(({ id }) => id), [...ids, next(ids[2])]);
      } finally {
        await Promise.all(followers.map((open) => open.close()));
      }
    },
  },
];
