/**
 * The store conformance suite: the cases every {@linkcode SessionStore} must pass, for anyone who
 * writes one. `MemoryStore` and `SqliteStore` run it in this package's own tests, and a store in
 * another package (Postgres, a key-value service, …) runs the very same cases, the way unstorage
 * shares `testDriver` with driver authors.
 *
 * It registers `node:test` cases and asserts with `node:assert/strict`, which Deno, Bun and Node
 * all provide, so a test file that calls {@linkcode testSessionStore} runs under `deno test`,
 * `bun test` and `node --test` alike. Besides those two it uses web standards only, and it assumes
 * nothing about how a store keeps its data.
 *
 * @example A test file for your own store (`ignore`: it registers tests, so it runs as a test file,
 * as tests/store/store_conformance.test.ts does, not inside a doc test)
 * ```ts ignore
 * import { MemoryStore } from "../../mod.ts";
 * import { testSessionStore } from "./mod.ts";
 *
 * testSessionStore("MemoryStore", () => ({ store: new MemoryStore(), close() {} }));
 * ```
 *
 * @module
 */

import { test } from "node:test";
import type { SessionStore } from "../store/store.ts";
import { EVENT_LOG_CASES } from "./event_log_cases.ts";
import { PAGING_CASES } from "./paging_cases.ts";
import { PORT_CASES } from "./port_cases.ts";
import { RECORD_CASES } from "./record_cases.ts";
import type { StoreCase } from "./support.ts";

// The store interface and every record type it speaks, so that a store author finds all the
// types they implement against in this one entry (and its docs are complete on their own).
export type { SessionReader, SessionStore, SessionWriter, WriteOptions } from "../store/store.ts";
export type { RepositoryId, SessionId } from "../ids.ts";
export type { SealedSecret } from "../crypto.ts";
export type {
  EventLog,
  EventLogFollower,
  EventLogPage,
  EventReplay,
  FollowOptions,
  LifecycleEvent,
  LoggedEvent,
  LoggedEventInfo,
  LoggedEventListener,
} from "../events.ts";
export type { SessionSetup, SetupStateName } from "../setup.ts";
export type { IncludedFiles } from "../included_files.ts";
export type {
  ListPosition,
  NewRepository,
  NewSession,
  NewSessionSecret,
  NewSessionToken,
  PortLease,
  Repository,
  RepositoryFilter,
  Session,
  SessionFilter,
  SessionPatch,
  SessionStatus,
  SessionToken,
  StoredSessionSecret,
  StoredSessionToken,
} from "../types.ts";

/** A store under test, and how to release it once its case is done. */
export interface StoreFixture {
  /** A fresh, empty store: every case gets its own, so no case sees another's rows. */
  store: SessionStore;
  /** Releases the store (closes connections, drops the database, removes files); awaited after every case, pass or fail. */
  close(): void | Promise<void>;
}

/**
 * Registers every conformance case as its own `node:test` test named `<name>: <case>`. `open` is
 * called once per case and must give a fresh, empty store; the suite calls the fixture's `close`
 * after the case, whether it passed or failed.
 *
 * The cases pin the contract documented on {@linkcode SessionStore}: records come back as fresh
 * objects with `null` for absent values; bad input is `InvalidInput` and writes nothing; taken ids
 * and paths are `Conflict`; `createSession` with a sealed secret writes both or neither; deletes are
 * atomic and take the secret and port leases along; a port is leased to one session at most; lists
 * are ordered by `(createdAt, id)` and paged with `limit` and `after`, visiting every row that exists
 * throughout exactly once while others come and go; concurrent writes lose and duplicate nothing.
 *
 * @example SQLite through node:sqlite, a fresh in-memory database per case (a test file; see above)
 * ```ts ignore
 * import { DatabaseSync } from "node:sqlite";
 * import { SqliteStore } from "../../mod.ts";
 * import { testSessionStore } from "./mod.ts";
 *
 * testSessionStore("SqliteStore", () => {
 *   const database = new DatabaseSync(":memory:");
 *   return { store: new SqliteStore(database), close: () => database.close() };
 * });
 * ```
 *
 * @param name prefixes every test's name, to tell several stores apart in one run
 * @param open makes the fresh store of one case
 */
export function testSessionStore(name: string, open: () => StoreFixture | Promise<StoreFixture>): void {
  registerCases(name, [...RECORD_CASES, ...PAGING_CASES, ...PORT_CASES], open);
}

// Flat tests, not one `describe`, so that Deno and Bun both count each case as one test.
function registerCases(
  name: string,
  cases: readonly StoreCase[],
  open: () => StoreFixture | Promise<StoreFixture>,
): void {
  for (const storeCase of cases) {
    test(`${name}: ${storeCase.name}`, async () => {
      const fixture = await open();
      try {
        await storeCase.run(fixture.store);
      } finally {
        await fixture.close();
      }
    });
  }
}

/**
 * Registers the conformance cases of a store's event log, each its own `node:test` test named
 * `<name>: <case>`: archive and restore steps logged as their own events with the changed row;
 * `readAfter` giving the events after an id, each one above the other, and where the log ends;
 * refused and empty changes logging nothing and leaving no gap; a closed follower getting nothing
 * more. `open` gives a fresh store opened with its event log (its `eventLog` an `EventLog`); the
 * cases only read ids relative to where the log starts, so a log that starts past "0" passes too.
 *
 * @example SQLite with its event log (a test file; see the module's example)
 * ```ts ignore
 * import { DatabaseSync } from "node:sqlite";
 * import { SqliteStore } from "../../mod.ts";
 * import { testEventLog } from "./mod.ts";
 *
 * testEventLog("SqliteStore", () => {
 *   const database = new DatabaseSync(":memory:");
 *   return { store: new SqliteStore(database, { eventLog: true }), close: () => database.close() };
 * });
 * ```
 *
 * @param name prefixes every test's name
 * @param open makes the fresh store, with its event log, of one case
 */
export function testEventLog(name: string, open: () => StoreFixture | Promise<StoreFixture>): void {
  registerCases(name, EVENT_LOG_CASES, open);
}
