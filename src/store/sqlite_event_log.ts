/**
 * The SQLite event log: each change's event written in the change's own transaction into
 * `lifecycle_events`, whose `INTEGER PRIMARY KEY AUTOINCREMENT` id is never reused and, SQLite
 * having one writer at a time, follows commit order across every connection to the file.
 *
 * @module
 */

import type {
  EventLog,
  EventLogFollower,
  EventLogPage,
  FollowOptions,
  LifecycleEvent,
  LoggedEventListener,
} from "../events.ts";
import { invalid } from "../_field_checks.ts";
import { nowIso } from "../_clock.ts";
import type { SqliteValue } from "./sqlite_driver.ts";

/** Options of the SQLite store's event log (`SqliteStoreOptions.eventLog`). */
export interface SqliteEventLogOptions {
  /**
   * Events kept whatever their age (default 10 000): pruning only removes events that are both
   * beyond the newest `keepEvents` and older than `keepSeconds`.
   */
  keepEvents?: number;
  /** Seconds an event is kept whatever the count (default 600). */
  keepSeconds?: number;
  /**
   * How often a follower looks for events that other connections to the file committed, in
   * milliseconds (default 1000); this connection's own are delivered as each commits.
   */
  pollIntervalMs?: number;
}

/** The statements of the log. */
export const EVENT_LOG_SQL = {
  // Run for its row id, not with RETURNING: a returned row costs node:sqlite as much again as the insert.
  append: "INSERT INTO lifecycle_events (origin, event, created_at) VALUES (?, ?, ?)",
  // AUTOINCREMENT keeps the largest id ever used here, so it still answers once every event is pruned.
  lastId: "SELECT seq FROM sqlite_sequence WHERE name = 'lifecycle_events'",
  after: "SELECT id, origin, event FROM lifecycle_events WHERE id > ? ORDER BY id LIMIT ?",
  prune: "DELETE FROM lifecycle_events WHERE id <= ? AND created_at <= ?",
  dataVersion: "PRAGMA data_version",
} as const;

/** Runs one statement on the store's connection and returns its rows. */
export type SqliteQuery = (sql: string, params: SqliteValue[]) => Record<string, unknown>[];

/** Runs one INSERT on the store's connection and returns the row id it gave. */
export type SqliteInsert = (sql: string, params: SqliteValue[]) => number;

/** An event written in a transaction not yet committed. */
export interface AppendedEvent {
  /** Its id. */
  id: number;
  /** Its JSON, as stored. */
  json: string;
}

/** How many events one read of a follower takes at most. */
const BATCH = 500;

interface Follower {
  last: number;
  listener: LoggedEventListener;
  onError: (error: unknown) => void;
}

/**
 * The event log of one `SqliteStore` opened with `eventLog`: the store appends each logged
 * change's event inside the change's transaction and tells the log once it committed; followers
 * get this connection's events at once, and other connections' at the next poll.
 */
export class SqliteEventLog implements EventLog {
  readonly #query: SqliteQuery;
  readonly #insert: SqliteInsert;
  readonly #keepEvents: number;
  readonly #keepSeconds: number;
  readonly #pollIntervalMs: number;
  readonly #pruneEvery: number;
  readonly #followers = new Set<Follower>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #dataVersion: unknown = null;
  // Names this log's events in the table, so a follower can tell its own from other processes'.
  readonly #origin = Math.floor(Math.random() * Number.MAX_SAFE_INTEGER);

  /**
   * The log over the store's connection.
   *
   * @param connection runs statements on the store's connection: `query` for rows, `insert` for a row id
   * @param options retention and polling
   */
  constructor(connection: { query: SqliteQuery; insert: SqliteInsert }, options: SqliteEventLogOptions = {}) {
    const whole = (value: number | undefined, fallback: number, field: string, min: number) => {
      const result = value ?? fallback;
      if (!Number.isSafeInteger(result) || result < min) {
        invalid(`eventLog.${field} must be a whole number from ${min}`);
      }
      return result;
    };
    this.#query = connection.query;
    this.#insert = connection.insert;
    this.#keepEvents = whole(options.keepEvents, 10_000, "keepEvents", 0);
    this.#keepSeconds = whole(options.keepSeconds, 600, "keepSeconds", 0);
    this.#pollIntervalMs = whole(options.pollIntervalMs, 1000, "pollIntervalMs", 10);
    // Pruning is one DELETE on the primary key every so many events, in the write that reaches the mark.
    this.#pruneEvery = Math.min(1000, Math.max(1, Math.floor(this.#keepEvents / 10)));
  }

  /**
   * Writes `event` into the open transaction (and, at every pruning mark, removes what the
   * retention lets go, in the same transaction); the store calls {@linkcode committed} once it committed.
   */
  append(event: LifecycleEvent): AppendedEvent {
    const json = JSON.stringify(event);
    const id = this.#insert(EVENT_LOG_SQL.append, [this.#origin, json, nowIso()]);
    if (id % this.#pruneEvery === 0) this.#prune(id);
    return { id, json };
  }

  /** Delivers a committed event to the followers (and whatever other connections committed before it). */
  committed(appended: AppendedEvent): void {
    for (const follower of [...this.#followers]) {
      if (follower.last + 1 === appended.id) this.#deliver(follower, appended.id, appended.json, true);
      else this.#catchUp(follower);
    }
  }

  /**
   * Removes the events beyond the newest `keepEvents` that are older than `keepSeconds`; returns
   * how many it removed. Runs by itself as events are written; call it to prune now.
   */
  prune(): number {
    return this.#prune(this.#lastId());
  }

  #prune(lastId: number): number {
    // Never the newest event: a reader must always learn where the log ends.
    const upTo = Math.min(lastId - this.#keepEvents, lastId - 1);
    if (upTo < 1) return 0;
    const cutoff = new Date(Date.now() - this.#keepSeconds * 1000).toISOString();
    return this.#query(`${EVENT_LOG_SQL.prune} RETURNING id`, [upTo, cutoff]).length;
  }

  #lastId(): number {
    const [row] = this.#query(EVENT_LOG_SQL.lastId, []);
    return row === undefined ? 0 : Number(row.seq);
  }

  /** {@inheritDoc EventReplay.readAfter} */
  readAfter(after: string, limit: number): Promise<EventLogPage> {
    try {
      const lastId = this.#lastId();
      const rows = limit === 0 ? [] : this.#query(EVENT_LOG_SQL.after, [Number(after), limit]);
      const events = rows.map((row) => ({ id: String(row.id), event: JSON.parse(String(row.event)) }));
      return Promise.resolve({ events, lastId: String(lastId) });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** {@inheritDoc EventLog.follow} */
  follow(listener: LoggedEventListener, options: FollowOptions = {}): Promise<EventLogFollower> {
    let follower: Follower;
    try {
      this.#dataVersion ??= this.#readDataVersion();
      follower = { last: this.#lastId(), listener, onError: options.onError ?? (() => {}) };
    } catch (error) {
      return Promise.reject(error);
    }
    this.#followers.add(follower);
    this.#timer ??= setInterval(() => this.#poll(), this.#pollIntervalMs);
    return Promise.resolve({
      close: () => {
        this.#followers.delete(follower);
        if (this.#followers.size === 0) this.close();
        return Promise.resolve();
      },
    });
  }

  /** Stops every follower (the store is closing). */
  close(): void {
    this.#followers.clear();
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#dataVersion = null;
  }

  #readDataVersion(): unknown {
    const [row] = this.#query(EVENT_LOG_SQL.dataVersion, []);
    return row === undefined ? null : Object.values(row)[0];
  }

  // `data_version` changes when another connection commits, so a quiet file costs one pragma a poll.
  #poll(): void {
    try {
      const version = this.#readDataVersion();
      if (version === this.#dataVersion) return;
      this.#dataVersion = version;
    } catch (error) {
      for (const follower of this.#followers) follower.onError(error);
      return;
    }
    for (const follower of [...this.#followers]) this.#catchUp(follower);
  }

  #catchUp(follower: Follower): void {
    try {
      for (;;) {
        const rows = this.#query(EVENT_LOG_SQL.after, [follower.last, BATCH]);
        for (const row of rows) {
          if (!this.#followers.has(follower)) return;
          const id = Number(row.id);
          if (id !== follower.last + 1) {
            follower.onError(new Error(`events ${follower.last + 1} to ${id - 1} were pruned before they were read`));
          }
          this.#deliver(follower, id, String(row.event), Number(row.origin) === this.#origin);
        }
        if (rows.length < BATCH) return;
      }
    } catch (error) {
      follower.onError(error);
    }
  }

  #deliver(follower: Follower, id: number, json: string, own: boolean): void {
    follower.last = id;
    let event: LifecycleEvent;
    try {
      event = JSON.parse(json);
    } catch (error) {
      follower.onError(error);
      return;
    }
    try {
      follower.listener(event, { id: String(id), own });
    } catch {
      // A broken listener must not stop the log.
    }
  }
}
