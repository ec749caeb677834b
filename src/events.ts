/**
 * Lifecycle events: what changed, emitted after it is committed.
 *
 * @module
 */

import type { TransientEvent } from "./progress.ts";
import type { Repository, Session } from "./types.ts";

/** A change in the lifecycle, emitted after it is committed. */
export type LifecycleEvent =
  | { type: "repository.created"; repository: Repository }
  | { type: "repository.deleted"; repository: Repository }
  | { type: "session.created"; session: Session }
  | { type: "session.updated"; session: Session }
  | { type: "session.deleted"; session: Session }
  | { type: "session.archived"; session: Session }
  | { type: "session.restored"; session: Session }
  | { type: "session.secret.stored"; sessionId: string };

/** What a listener is told about an event besides the event itself. */
export interface EmittedEventInfo {
  /**
   * The event's id: a whole number (as text) above the id of every event emitted before it. From
   * a store's event log, the log's durable id; otherwise the emitter's own count, from 1.
   */
  id: string;
}

/** Receives events. */
export type LifecycleListener = (event: LifecycleEvent, info: EmittedEventInfo) => void;

/**
 * Receives the committed events (each with its id) and the transient ones, such as a create's
 * `session.progress` (with `id: null`: they are never logged, kept or replayed), in the order emitted.
 */
export type AnyEventListener = (
  event: LifecycleEvent | TransientEvent,
  info: { id: string | null },
) => void;

/** An event with its id, as an event log (or an emitter's recent history) gives it back. */
export interface LoggedEvent {
  /** Its id (see {@linkcode EmittedEventInfo.id}). */
  id: string;
  /** The event. */
  event: LifecycleEvent;
}

/** A read of an event log: the events after a position, and where the log ends. */
export interface EventLogPage {
  /** The events after the asked-for id that the log still keeps, in id order. */
  events: LoggedEvent[];
  /**
   * The id of the newest event ever logged ("0" when none), read before `events`: an event up to
   * it that `events` does not hold was removed by the log's retention.
   */
  lastId: string;
}

/** What replays events from a position: a store's {@linkcode EventLog}, or {@linkcode LifecycleEvents}' recent history. */
export interface EventReplay {
  /**
   * The events after the event `after` (a whole number as text; "0" for the first), at most
   * `limit` (0 reads only `lastId`).
   */
  readAfter(after: string, limit: number): Promise<EventLogPage>;
}

/** Options of {@linkcode LifecycleEvents}. */
export interface LifecycleEventsOptions {
  /**
   * How many of the latest events it keeps for {@linkcode LifecycleEvents.readAfter} (default
   * 1000): the replay of `GET /v1/events` over a store that keeps no event log.
   */
  keep?: number;
}

/**
 * A synchronous fan-out of lifecycle events. A listener that throws never stops the others
 * nor the operation that emitted. Each event has an id (see {@linkcode EmittedEventInfo}), and
 * the latest ones are kept, so a reader that lost its connection can be given what it missed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LifecycleEvents } from "./events.ts";
 *
 * const events = new LifecycleEvents();
 * const seen: string[] = [];
 * const stop = events.subscribe((event, { id }) => seen.push(`${id} ${event.type}`));
 * events.subscribe(() => {
 *   throw new Error("a broken listener");
 * });
 * events.emit({ type: "session.secret.stored", sessionId: "x" });
 * stop();
 * events.emit({ type: "session.secret.stored", sessionId: "y" });
 * assert.deepEqual(seen, ["1 session.secret.stored"]);
 * assert.deepEqual((await events.readAfter("1", 10)).events.map((e) => e.id), ["2"]);
 * ```
 */
export class LifecycleEvents implements EventReplay {
  readonly #listeners = new Set<LifecycleListener>();
  readonly #all = new Set<AnyEventListener>();
  readonly #keep: number;
  readonly #recent: LoggedEvent[] = [];
  #last = 0n;

  /**
   * An emitter with no listener yet.
   *
   * @param options how many of the latest events it keeps
   */
  constructor(options: LifecycleEventsOptions = {}) {
    const keep = options.keep ?? 1000;
    if (!Number.isSafeInteger(keep) || keep < 0) throw new RangeError("keep must be a whole number from 0");
    this.#keep = keep;
  }

  /** Adds a listener of the committed events; returns the function that removes it. */
  subscribe(listener: LifecycleListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Adds a listener of every event, the transient ones too (see {@linkcode emitTransient}), in the
   * order emitted; returns the function that removes it. `GET /v1/events` streams what it gets.
   */
  subscribeAll(listener: AnyEventListener): () => void {
    this.#all.add(listener);
    return () => this.#all.delete(listener);
  }

  /**
   * Delivers a transient event (a create's `session.progress`) to the listeners of
   * {@linkcode subscribeAll} only, with `id: null`: it is not counted, kept or replayed, and
   * never reaches an event log. A listener that throws stops neither the others nor the caller.
   */
  emitTransient(event: TransientEvent): void {
    for (const listener of [...this.#all]) {
      try {
        listener(event, { id: null });
      } catch {
        // Progress is news for readers: a broken one must not fail the work it reports on.
      }
    }
  }

  /**
   * Delivers `event` to every listener, in subscription order, and returns its id: `id` when given
   * (an event log's, when following one; it must be above the last one), else the next of its own.
   */
  emit(event: LifecycleEvent, id?: string): string {
    const given = id === undefined ? null : BigInt(id);
    this.#last = given !== null && given > this.#last ? given : this.#last + (given === null ? 1n : 0n);
    const info = { id: given === null ? String(this.#last) : id! };
    if (this.#keep > 0) {
      this.#recent.push({ id: info.id, event });
      if (this.#recent.length > this.#keep) this.#recent.shift();
    }
    for (const listener of [...this.#listeners]) {
      try {
        listener(event, info);
      } catch {
        // A broken subscriber must not undo or fail a committed change.
      }
    }
    for (const listener of [...this.#all]) {
      try {
        listener(event, info);
      } catch {
        // As above.
      }
    }
    return info.id;
  }

  /** The id of the last event emitted ("0" before the first). */
  get lastId(): string {
    return String(this.#last);
  }

  /** {@inheritDoc EventReplay.readAfter} */
  readAfter(after: string, limit: number): Promise<EventLogPage> {
    const position = BigInt(after);
    const events = this.#recent.filter((logged) => BigInt(logged.id) > position).slice(0, limit);
    return Promise.resolve({ events, lastId: String(this.#last) });
  }

  /**
   * How many listeners get the transient events ({@linkcode subscribeAll}): with none, work that
   * would only be done to report progress (reading git's checkout counts) can be skipped.
   */
  get transientListeners(): number {
    return this.#all.size;
  }

  /** How many listeners are subscribed (of both kinds). */
  get size(): number {
    return this.#listeners.size + this.#all.size;
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
export interface EventLog extends EventReplay {
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
