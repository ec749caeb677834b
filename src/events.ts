/**
 * Lifecycle events: what changed, emitted after it is committed.
 *
 * @module
 */

import type { Repository, Session } from "./types.ts";

/** A change in the lifecycle, emitted after it is committed. */
export type LifecycleEvent =
  | { type: "repository.created"; repository: Repository }
  | { type: "repository.deleted"; repository: Repository }
  | { type: "session.created"; session: Session }
  | { type: "session.updated"; session: Session }
  | { type: "session.deleted"; session: Session }
  | { type: "session.secret.stored"; sessionId: string };

/** Receives events. */
export type LifecycleListener = (event: LifecycleEvent) => void;

/**
 * A synchronous fan-out of lifecycle events. A listener that throws never stops the others
 * nor the operation that emitted.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LifecycleEvents } from "./events.ts";
 *
 * const events = new LifecycleEvents();
 * const seen: string[] = [];
 * const stop = events.subscribe((event) => seen.push(event.type));
 * events.subscribe(() => {
 *   throw new Error("a broken listener");
 * });
 * events.emit({ type: "session.secret.stored", sessionId: "x" });
 * stop();
 * events.emit({ type: "session.secret.stored", sessionId: "y" });
 * assert.deepEqual(seen, ["session.secret.stored"]);
 * ```
 */
export class LifecycleEvents {
  readonly #listeners = new Set<LifecycleListener>();

  /** Adds a listener; returns the function that removes it. */
  subscribe(listener: LifecycleListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Delivers `event` to every listener, in subscription order. */
  emit(event: LifecycleEvent): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(event);
      } catch {
        // A broken subscriber must not undo or fail a committed change.
      }
    }
  }

  /** How many listeners are subscribed. */
  get size(): number {
    return this.#listeners.size;
  }
}

/** What an event log tells about an event besides the event itself. */
export interface LoggedEventInfo {
  /** Its place in commit order: a whole number (as text) one above the event committed before it. */
  id: string;
  /** Whether this process's store wrote it (the change was made here). */
  own: boolean;
}

/** Receives the events of an event log, in commit order. */
export type LoggedEventListener = (event: LifecycleEvent, info: LoggedEventInfo) => void;

/** Options of {@linkcode EventLog.follow}. */
export interface FollowOptions {
  /**
   * Told when reading the log fails (the database is down, say: reading is retried until it
   * answers, and nothing is skipped) or when events were pruned before they could be read.
   */
  onError?: (error: unknown) => void;
}

/** A running follow of an {@linkcode EventLog}. */
export interface EventLogFollower {
  /** Stops following: no event is delivered once this has resolved. Closing twice is harmless. */
  close(): Promise<void>;
}

/**
 * A log of lifecycle events kept by a store that several processes share (the Postgres store
 * opened with `eventLog`). The store writes each change's event in the change's own transaction,
 * so the log holds exactly the committed changes, each once, in commit order, whichever process
 * made them. An orchestrator over such a store announces nothing itself: whoever follows the log
 * emits its events (`deno task serve` follows it into the orchestrator's events, so each server's
 * `GET /v1/events` shows every server's changes, in one order).
 */
export interface EventLog {
  /**
   * Delivers every event committed after the returned promise resolves, by any process, in commit
   * order, each once; a listener that throws stops neither the others nor the log. Stop with the
   * follower's `close()`.
   */
  follow(listener: LoggedEventListener, options?: FollowOptions): Promise<EventLogFollower>;
}

/** A store's {@linkcode EventLog} (its `eventLog`), or `null` for a store that keeps none, as the in-process stores. */
export function eventLogOf(store: unknown): EventLog | null {
  let log: unknown;
  try {
    log = (store as { eventLog?: unknown } | null | undefined)?.eventLog;
  } catch {
    return null; // A wrapper that answers only the store methods.
  }
  return typeof log === "object" && log !== null && typeof (log as EventLog).follow === "function"
    ? log as EventLog
    : null;
}
